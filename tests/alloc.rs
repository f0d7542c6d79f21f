//! Steady-state spawning does not touch the global allocator: Gs, stacks, join slots and
//! goroutine ids all come from per-P caches.

mod common;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn steady_state_spawn_and_join_do_not_allocate() {
    let per_spawn = common::within(120, || {
        gort::run(|| {
            let mut handles = Vec::with_capacity(256);
            let round = |handles: &mut Vec<gort::JoinHandle<u64>>| {
                for i in 0..256u64 {
                    handles.push(gort::go(move || i));
                }
                let mut sum = 0;
                for h in handles.drain(..) {
                    sum += h.join().unwrap();
                }
                assert_eq!(sum, 255 * 256 / 2);
            };
            for _ in 0..200 {
                round(&mut handles); // warm the caches
            }
            let before = ALLOCS.load(Relaxed);
            let rounds = 400;
            for _ in 0..rounds {
                round(&mut handles);
            }
            (ALLOCS.load(Relaxed) - before) as f64 / (rounds * 256) as f64
        })
    });
    assert!(
        per_spawn < 0.01,
        "{per_spawn} allocations per spawn+join in steady state"
    );
}

#[test]
fn steady_state_channel_messages_do_not_allocate() {
    let per_msg = common::within(120, || {
        gort::run(|| {
            let (tx, rx) = gort::chan::bounded::<u64>(128);
            let (tx0, rx0) = gort::chan::bounded::<u64>(0);
            let (txz, rxz) = gort::chan::bounded::<()>(16);
            let h = gort::go(move || {
                for v in &rx0 {
                    tx.send(v).unwrap();
                    txz.send(()).unwrap();
                }
            });
            let round = |n: u64| {
                for i in 0..n {
                    tx0.send(i).unwrap();
                    assert_eq!(rx.recv().unwrap(), i);
                    rxz.recv().unwrap();
                }
            };
            round(10_000); // warm up
            let before = ALLOCS.load(Relaxed);
            round(50_000);
            let per = (ALLOCS.load(Relaxed) - before) as f64 / 50_000.0;
            drop(tx0);
            h.join().unwrap();
            per
        })
    });
    assert!(
        per_msg < 0.01,
        "{per_msg} allocations per message in steady state"
    );
}
