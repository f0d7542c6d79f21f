//! A program that gets stuck on purpose, and how to see where.
//!
//! A producer hands jobs to workers over a channel and forgets to close it; the workers
//! wait for more jobs for ever, the collector waits for them, and a mutex held across a
//! slow call blocks a few more goroutines.
//!
//! ```text
//! cargo run --release --example stuck               # waits 1 s, then prints gort::debug::dump()
//! cargo run --release --example stuck -- --hang     # hangs: press Ctrl-\ (SIGQUIT) for the dump, as in Go
//! cargo run --release --example stuck -- --deadlock # every goroutine stuck: the deadlock report shows the dump
//! ```

use std::sync::Arc;
use std::time::Duration;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    gort::run(move || {
        let (jobs, queue) = gort::chan::bounded::<u32>(0);
        let (results, collected) = gort::chan::unbounded::<u32>();
        let wg = Arc::new(gort::sync::WaitGroup::new());
        for i in 0..100 {
            let queue = queue.clone();
            let results = results.clone();
            let done = wg.add_guard_owned();
            gort::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    let _done = done;
                    for job in &queue {
                        results.send(job * 2).unwrap();
                    }
                })
                .unwrap();
        }
        drop(results);
        // A lock held across a long wait blocks everybody else who wants it.
        let state = Arc::new(gort::sync::Mutex::new(0u64));
        let guard_holder = state.clone();
        let (_never_tx, never) = gort::chan::bounded::<()>(0);
        gort::go(move || {
            let _held = guard_holder.lock();
            let _ = never.recv(); // waits for ever while holding the lock
        });
        for _ in 0..5 {
            let state = state.clone();
            gort::go(move || *state.lock() += 1);
        }
        // The producer sends its jobs and forgets `drop(jobs)`: the workers never see the
        // channel close.
        for job in 0..1000 {
            jobs.send(job).unwrap();
        }
        let collector = gort::go(move || {
            let _jobs = jobs; // kept open: the bug
            wg.wait();
            collected.iter().count()
        });
        match mode.as_str() {
            "--hang" => {
                eprintln!("stuck: press Ctrl-\\ (SIGQUIT) for the goroutine dump");
                let _ = collector.join();
            }
            "--deadlock" => {
                let _ = collector.join();
            }
            _ => match collector.join_timeout(Duration::from_secs(1)) {
                Ok(n) => println!("collected {n:?} results"),
                Err(_) => {
                    println!("stuck after 1 s; where every goroutine waits:\n");
                    print!("{}", gort::debug::dump());
                }
            },
        }
    });
}
