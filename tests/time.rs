//! `time`: sleep, after, tick and Ticker, on goroutines and threads.

mod common;
use common::within;
use gort::chan::RecvTimeoutError;
use gort::time::{self, Ticker};
use std::time::{Duration, Instant};

#[test]
fn sleep_waits_at_least_its_duration() {
    within(60, || {
        let t = Instant::now();
        time::sleep(Duration::from_millis(15));
        assert!(t.elapsed() >= Duration::from_millis(15));
        let elapsed = gort::go(|| {
            let t = Instant::now();
            time::sleep(Duration::from_millis(15));
            t.elapsed()
        })
        .join()
        .unwrap();
        assert!(elapsed >= Duration::from_millis(15));
        time::sleep(Duration::ZERO);
    });
}

#[test]
fn thousands_of_sleeping_goroutines_all_wake() {
    within(120, || {
        let start = Instant::now();
        let hs: Vec<_> = (0..10_000u64)
            .map(|i| {
                gort::go(move || {
                    let d = Duration::from_micros(i % 3000);
                    time::sleep(d);
                    assert!(start.elapsed() >= d);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
}

#[test]
fn after_delivers_once() {
    within(60, || {
        let t = Instant::now();
        let rx = time::after(Duration::from_millis(10));
        let at = rx.recv().unwrap();
        assert!(at >= t + Duration::from_millis(10));
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(30)),
            Err(RecvTimeoutError::Timeout)
        );
        // Far in the future: nothing, and no overflow.
        let rx = time::after(Duration::MAX);
        assert!(rx.try_recv().is_err());
    });
}

#[test]
fn tick_delivers_repeatedly_in_goroutines() {
    within(60, || {
        let got = gort::go(|| {
            let rx = time::tick(Duration::from_millis(2));
            let mut last = Instant::now();
            for _ in 0..10 {
                let t = rx.recv().unwrap();
                assert!(t >= last);
                last = t;
            }
            10
        })
        .join()
        .unwrap();
        assert_eq!(got, 10);
    });
}

#[test]
fn ticker_stop_and_reset() {
    within(60, || {
        let t = Ticker::new(Duration::from_millis(2));
        t.receiver().recv().unwrap();
        t.stop();
        let _ = t.receiver().try_recv(); // a tick may have landed before stop
        assert_eq!(
            t.receiver().recv_timeout(Duration::from_millis(30)),
            Err(RecvTimeoutError::Timeout),
            "no tick after stop"
        );
        assert!(!t.receiver().is_closed(), "stop does not close the channel");
        t.reset(Duration::from_millis(3));
        t.receiver().recv().unwrap();
        t.receiver().recv().unwrap();
        drop(t);
    });
}

#[test]
#[should_panic(expected = "period must be positive")]
fn zero_period_ticker_panics() {
    let _ = Ticker::new(Duration::ZERO);
}
