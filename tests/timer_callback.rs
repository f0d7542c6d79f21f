//! A timer callback (`gort::timer::Action::Call`) that tries to block panics with a message
//! saying what to do instead, and the runtime's timers go on. Before, the callback blocked
//! the scheduler thread that fired it, and every later timer of the process (the next
//! `sleep`) waited for ever.

mod common;
use common::within;
use gort::timer::{self, Action};
use std::time::{Duration, Instant};

/// Adds a callback that sends on an unbuffered channel nobody reads, and returns whether
/// that send panicked, and with what message.
fn blocking_callback_panics() -> String {
    let (tx, rx) = gort::chan::bounded::<u32>(0);
    let (report, reports) = gort::chan::bounded::<String>(1);
    timer::add(
        Instant::now() + Duration::from_millis(1),
        Action::Call(Box::new(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || tx.send(1)));
            let msg = match r {
                Ok(_) => "the send completed".to_string(),
                Err(p) => match p.downcast::<String>() {
                    Ok(s) => *s,
                    Err(p) => p
                        .downcast_ref::<&str>()
                        .map_or_else(|| "a panic without a message".into(), |s| s.to_string()),
                },
            };
            report.try_send(msg).unwrap();
        })),
    );
    let msg = reports.recv().unwrap();
    drop(rx);
    msg
}

#[test]
fn a_callback_that_blocks_panics_and_timers_go_on() {
    within(60, || {
        for _ in 0..20 {
            let msg = gort::run(blocking_callback_panics);
            assert!(
                msg.contains("timer callback") && msg.contains("gort::go"),
                "{msg}"
            );
            // Timers still fire, in a goroutine and on this thread.
            gort::run(|| gort::time::sleep(Duration::from_millis(2)));
            gort::time::sleep(Duration::from_millis(2));
        }
    });
}

#[test]
fn a_callback_that_blocks_panics_from_a_plain_thread_too() {
    within(60, || {
        for _ in 0..20 {
            let msg = blocking_callback_panics();
            assert!(msg.contains("timer callback"), "{msg}");
            gort::run(|| gort::time::sleep(Duration::from_millis(2)));
        }
    });
}

#[test]
fn non_blocking_callbacks_still_run() {
    within(60, || {
        let (tx, rx) = gort::chan::bounded::<u32>(100);
        for i in 0..100 {
            let tx = tx.clone();
            timer::add(
                Instant::now() + Duration::from_micros(100 * i as u64),
                Action::Call(Box::new(move || tx.try_send(i).unwrap())),
            );
        }
        let mut got: Vec<u32> = (0..100).map(|_| rx.recv().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    });
}
