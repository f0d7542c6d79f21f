//! An idle runtime sleeps: no M spins or polls once the work is done.

mod common;
use common::{cpu_time, within};
use std::time::Duration;

#[test]
fn idle_runtime_uses_no_cpu() {
    within(60, || {
        // Wake every P and start several Ms.
        gort::run(|| {
            let hs: Vec<_> = (0..10_000)
                .map(|i| {
                    gort::go(move || {
                        for _ in 0..(i % 7) {
                            gort::yield_now();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        });
        let threads = gort::stats().threads;
        assert!(threads >= 1);
        // Let the last spinning Ms settle, then measure a quiet second.
        std::thread::sleep(Duration::from_millis(100));
        let before = cpu_time();
        std::thread::sleep(Duration::from_secs(1));
        let used = cpu_time() - before;
        assert!(
            used < Duration::from_millis(100),
            "idle runtime used {used:?} of CPU in 1 s with {threads} threads"
        );
        let s = gort::stats();
        assert_eq!(s.spinning_threads, 0, "{s:?}");
        assert_eq!(s.idle_procs, s.procs, "{s:?}");

        // With a far timer pending, one M sleeps until its deadline: still no CPU.
        let sleeper = gort::go(|| {
            gort::park::prepare();
            gort::park::park_until(Some(std::time::Instant::now() + Duration::from_secs(2)))
        });
        std::thread::sleep(Duration::from_millis(100));
        let before = cpu_time();
        std::thread::sleep(Duration::from_secs(1));
        let used = cpu_time() - before;
        assert!(
            used < Duration::from_millis(100),
            "{used:?} of CPU with a timer pending"
        );
        assert!(!sleeper.join().unwrap(), "the sleeper's deadline fired");
    });
}
