//! The park seam: no lost wake-ups, one wake per episode, stale tokens are harmless, and
//! it works for goroutines and plain threads alike.

mod common;
use common::within;
use gort::park;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn wake_before_park_is_not_lost() {
    within(30, || {
        let t = park::prepare();
        assert!(t.wake());
        park::park(); // returns at once
        gort::go(|| {
            let t = park::prepare();
            assert!(t.wake());
            park::park();
        })
        .join()
        .unwrap();
    });
}

#[test]
fn a_token_wakes_its_episode_once() {
    within(30, || {
        let t = park::prepare();
        let t2 = t.clone();
        assert!(t.wake());
        assert!(!t2.wake(), "second wake of one episode must fail");
        park::park();
        // A stale token does not wake the next episode.
        let fresh = park::prepare();
        assert!(!t.wake());
        let other = std::thread::spawn(|| {
            let t = park::prepare();
            park::cancel();
            t
        })
        .join()
        .unwrap();
        assert!(!fresh.same_waiter(&other));
        assert!(fresh.same_waiter(&t));
        assert!(!park::cancel(), "nobody woke the fresh episode");
        assert!(!fresh.wake(), "cancelled episode cannot be woken");
    });
}

#[test]
fn cancel_reports_a_wake_that_raced_in() {
    let t = park::prepare();
    assert!(t.wake());
    assert!(park::cancel());
}

#[test]
fn park_until_times_out_on_a_thread() {
    let t = park::prepare();
    let start = Instant::now();
    assert!(!park::park_until(Some(start + Duration::from_millis(20))));
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert!(!t.wake(), "a timed-out episode cannot be woken");
}

/// Ping-pong through a mailbox of tokens: the waiter publishes its token, then parks; the
/// other side takes it and wakes it. Any lost wake-up hangs the test.
fn ping_pong(rounds: usize, a_goroutine: bool, b_goroutine: bool) {
    #[derive(Default)]
    struct Mailbox {
        slot: Mutex<(usize, Option<park::Token>)>,
    }
    impl Mailbox {
        fn wait_for(&self, want: usize) {
            loop {
                let t = park::prepare();
                {
                    let mut s = self.slot.lock().unwrap();
                    if s.0 >= want {
                        drop(s);
                        park::cancel();
                        return;
                    }
                    s.1 = Some(t);
                }
                park::park();
            }
        }
        fn post(&self, n: usize) {
            let t = {
                let mut s = self.slot.lock().unwrap();
                s.0 = n;
                s.1.take()
            };
            if let Some(t) = t {
                t.wake();
            }
        }
    }
    let (ab, ba) = (Arc::new(Mailbox::default()), Arc::new(Mailbox::default()));
    let run_a = {
        let (ab, ba) = (ab.clone(), ba.clone());
        move || {
            for i in 1..=rounds {
                ab.post(i);
                ba.wait_for(i);
            }
        }
    };
    let run_b = move || {
        for i in 1..=rounds {
            ab.wait_for(i);
            ba.post(i);
        }
    };
    let a: Box<dyn FnOnce() + Send> = if a_goroutine {
        Box::new(move || gort::go(run_a).join().unwrap())
    } else {
        Box::new(move || std::thread::spawn(run_a).join().unwrap())
    };
    let b = if b_goroutine {
        let h = gort::go(run_b);
        Box::new(move || h.join().unwrap()) as Box<dyn FnOnce() + Send>
    } else {
        let h = std::thread::spawn(run_b);
        Box::new(move || h.join().unwrap())
    };
    a();
    b();
}

#[test]
fn ping_pong_goroutine_goroutine() {
    within(120, || ping_pong(20_000, true, true));
}

#[test]
fn ping_pong_goroutine_thread() {
    within(120, || ping_pong(5_000, true, false));
    within(120, || ping_pong(5_000, false, true));
}

#[test]
fn ping_pong_thread_thread() {
    within(120, || ping_pong(5_000, false, false));
}

#[test]
fn many_waiters_one_waker_each_woken_once() {
    within(120, || {
        for _ in 0..20 {
            let woken = Arc::new(AtomicUsize::new(0));
            let tokens = Arc::new(Mutex::new(Vec::new()));
            let n = 200;
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    let (woken, tokens) = (woken.clone(), tokens.clone());
                    gort::go(move || {
                        let t = park::prepare();
                        tokens.lock().unwrap().push(t);
                        park::park();
                        woken.fetch_add(1, SeqCst);
                    })
                })
                .collect();
            // Wake every token twice, from several threads at once.
            let mut got = 0;
            while got < n {
                let batch: Vec<_> = std::mem::take(&mut *tokens.lock().unwrap());
                got += batch.len();
                let batch = Arc::new(batch);
                let wakers: Vec<_> = (0..3)
                    .map(|_| {
                        let b = batch.clone();
                        std::thread::spawn(move || b.iter().filter(|t| t.wake()).count())
                    })
                    .collect();
                let wins: usize = wakers.into_iter().map(|w| w.join().unwrap()).sum();
                assert_eq!(wins, batch.len(), "each episode is woken exactly once");
                std::thread::yield_now();
            }
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!(woken.load(SeqCst), n);
        }
    });
}

#[test]
fn park_until_times_out_in_a_goroutine() {
    within(60, || {
        gort::go(|| {
            let t = park::prepare();
            let start = Instant::now();
            assert!(!park::park_until(Some(start + Duration::from_millis(20))));
            assert!(start.elapsed() >= Duration::from_millis(20));
            assert!(!t.wake(), "a timed-out episode cannot be woken");
            // A deadline already past returns at once, and still reports a wake that came.
            let t = park::prepare();
            assert!(t.wake());
            assert!(park::park_until(Some(
                Instant::now() - Duration::from_millis(1)
            )));
        })
        .join()
        .unwrap();
    });
}

#[test]
fn many_goroutines_sleep_on_timers_and_all_wake_after_their_deadlines() {
    within(120, || {
        for _ in 0..5 {
            let start = Instant::now();
            let hs: Vec<_> = (0..2000u64)
                .map(|i| {
                    gort::go(move || {
                        let d = start + Duration::from_micros((i * 37) % 5000);
                        park::prepare();
                        assert!(!park::park_until(Some(d)));
                        assert!(Instant::now() >= d, "woke before its deadline");
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        }
    });
}

#[test]
fn a_wake_beats_the_deadline_and_cancels_the_timer() {
    within(60, || {
        for _ in 0..500 {
            let (tx, rx) = std::sync::mpsc::channel();
            let h = gort::go(move || {
                let t = park::prepare();
                tx.send(t).unwrap();
                park::park_until(Some(Instant::now() + Duration::from_secs(3600)))
            });
            let t = rx.recv().unwrap();
            assert!(t.wake());
            assert!(h.join().unwrap(), "woken, not timed out");
        }
    });
}

#[test]
fn wake_and_deadline_race_exactly_one_wins() {
    within(60, || {
        for i in 0..2000u64 {
            let (tx, rx) = std::sync::mpsc::channel();
            let h = gort::go(move || {
                let t = park::prepare();
                tx.send(t).unwrap();
                park::park_until(Some(Instant::now() + Duration::from_micros(i % 50)))
            });
            let t = rx.recv().unwrap();
            let woke = t.wake();
            assert_eq!(h.join().unwrap(), woke, "park_until and wake disagree");
        }
    });
}

#[test]
fn expire_ends_an_episode_without_a_deadline_as_not_woken() {
    within(30, || {
        for goroutine in [true, false] {
            let body = || {
                let t = park::prepare();
                assert!(t.expire());
                assert!(
                    !park::park_until(None),
                    "an expired episode is not a wake-up"
                );
                assert!(!t.wake());
            };
            if goroutine {
                gort::go(body).join().unwrap();
            } else {
                body();
            }
        }
    });
}
