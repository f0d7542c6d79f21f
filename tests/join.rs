//! `JoinHandle`: a goroutine's result waits in a join packet apart from its G, so the G is
//! reused as soon as the goroutine ends, while its handle still holds the result, the
//! name and the exit hooks. Spawned and joined from a goroutine and from a plain thread.

mod common;
use common::{child, child_ok, is_child, within};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

const BATCH: usize = 2_000;

/// A result too large to be stored inline in the packet (boxed), to test both forms.
type Big = [u64; 16];

fn big(i: usize) -> Big {
    [i as u64; 16]
}

/// Waits until every handle says its goroutine ended.
fn until_finished<T>(hs: &[gort::JoinHandle<T>]) {
    while !hs.iter().all(|h| h.is_finished()) {
        gort::yield_now();
        std::thread::yield_now();
    }
}

/// Two batches of goroutines that end at once, no handle joined until both have ended:
/// every handle still gets its own result, name and exit hook, and the second batch reuses
/// Gs. When a finished goroutine kept its G until its handle let go, no G could be reused
/// here, and the second batch allocated exactly one G per goroutine; now each one that ends
/// frees its G (how many get reused depends on how fast the Ps run them compared with the
/// spawner, and up to 256 per P wait in the Ps' caches, so the bound asks for any reuse).
fn finished_goroutines_free_their_gs_before_join() {
    let hooks = Arc::new(AtomicUsize::new(0));
    let spawn = |base: usize| -> (Vec<gort::JoinHandle<usize>>, Vec<gort::JoinHandle<Big>>) {
        let small = (0..BATCH)
            .map(|i| {
                gort::Builder::new()
                    .name(format!("g{}", base + i))
                    .spawn(move || base + i)
                    .unwrap()
            })
            .collect();
        let large = (0..BATCH)
            .map(|i| gort::go(move || big(base + i)))
            .collect();
        (small, large)
    };
    let (small1, large1) = spawn(0);
    until_finished(&small1);
    until_finished(&large1);
    let before = gort::stats().gs_allocated;
    let (small2, large2) = spawn(1_000_000);
    until_finished(&small2);
    until_finished(&large2);
    let grew = gort::stats().gs_allocated - before;
    assert!(
        grew < 2 * BATCH,
        "{grew} new Gs for {} goroutines while {} finished ones wait for join: \
         finished goroutines keep their Gs",
        2 * BATCH,
        2 * BATCH
    );
    for h in small1.iter().chain(&small2) {
        let hooks = hooks.clone();
        h.on_finish(Box::new(move || {
            hooks.fetch_add(1, SeqCst);
        }));
    }
    assert_eq!(
        hooks.load(SeqCst),
        2 * BATCH,
        "hooks of ended goroutines run at once"
    );
    for (base, small, large) in [(0, small1, large1), (1_000_000, small2, large2)] {
        for (i, h) in small.into_iter().enumerate() {
            assert_eq!(h.name(), Some(format!("g{}", base + i).as_str()));
            assert_eq!(h.join().unwrap(), base + i);
        }
        for (i, h) in large.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), big(base + i));
        }
    }
}

// In child processes with two Ps: the count of Gs is process-wide (other tests of this
// binary spawn too), and each P's cache of free Gs holds up to 256 (the bound allows two).

#[test]
fn finished_goroutines_free_their_gs_before_join_from_a_thread() {
    const NAME: &str = "finished_goroutines_free_their_gs_before_join_from_a_thread";
    if !is_child(NAME) {
        return child_ok(NAME, &[("GOMAXPROCS", "2")]);
    }
    within(120, finished_goroutines_free_their_gs_before_join);
}

#[test]
fn finished_goroutines_free_their_gs_before_join_from_a_goroutine() {
    const NAME: &str = "finished_goroutines_free_their_gs_before_join_from_a_goroutine";
    if !is_child(NAME) {
        return child_ok(NAME, &[("GOMAXPROCS", "2")]);
    }
    within(120, || {
        gort::run(finished_goroutines_free_their_gs_before_join)
    });
}

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Handles dropped before, while and after their goroutines end (detached), joined, or
/// kept and dropped later, with inline and boxed results (`Big` makes a result too large
/// for the packet): every result is dropped exactly once, by whoever lets go last, and
/// reused Gs and packets carry no stale result into the next goroutine.
fn detached_results_are_dropped_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    for round in 0..20 {
        let hs: Vec<_> = (0..500)
            .map(|i| {
                let drops = drops.clone();
                gort::go(move || {
                    if i % 3 == 0 {
                        gort::yield_now();
                    }
                    (Counted(drops), (i % 2 == 0).then(|| big(i)))
                })
            })
            .collect();
        let mut kept = Vec::new();
        for (i, h) in hs.into_iter().enumerate() {
            match i % 3 {
                0 => drop(h),
                1 => kept.push(h),
                _ => drop(h.join().unwrap()),
            }
        }
        drop(kept);
        // Every result is dropped once its goroutine ended and its handle is gone.
        let want = 500 * (round + 1);
        while drops.load(SeqCst) < want {
            gort::yield_now();
            std::thread::yield_now();
        }
        assert_eq!(drops.load(SeqCst), want, "round {round}");
    }
}

#[test]
fn detached_results_are_dropped_once_from_a_thread() {
    within(120, detached_results_are_dropped_once);
}

#[test]
fn detached_results_are_dropped_once_from_a_goroutine() {
    within(120, || gort::run(detached_results_are_dropped_once));
}

/// A result whose `Drop` panics, dropped by the goroutine's end on the scheduler's stack
/// (its handle went away after the result was stored: here, from an exit hook): the panic
/// is reported and the runtime goes on. It used to abort the process ("the scheduler loop
/// of M0 panicked").
#[test]
fn a_result_that_panics_on_drop_does_not_stop_the_scheduler() {
    const NAME: &str = "a_result_that_panics_on_drop_does_not_stop_the_scheduler";
    if !is_child(NAME) {
        let out = child(NAME, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains("dropping a goroutine's unjoined result panicked"),
            "{stderr}"
        );
        return;
    }
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("the result's drop panics");
        }
    }
    type Slot = Arc<Mutex<Option<gort::JoinHandle<PanicsOnDrop>>>>;
    within(60, || {
        gort::run(|| {
            for _ in 0..20 {
                let slot: Slot = Arc::default();
                let (tx, rx) = gort::chan::bounded::<()>(0);
                let h = gort::go(move || {
                    let _ = rx.recv();
                    PanicsOnDrop
                });
                let s = slot.clone();
                h.on_finish(Box::new(move || drop(s.lock().unwrap().take())));
                *slot.lock().unwrap() = Some(h);
                drop(tx);
                while slot.lock().unwrap().is_some() {
                    gort::yield_now();
                }
            }
            assert_eq!(gort::go(|| 7).join().unwrap(), 7);
        })
    });
}

/// Exit hooks run at the end of the goroutine, in its own context: `goroutine_id` is the
/// ending goroutine's, and a hook that waits on a channel parks that goroutine rather than
/// the thread under it. Before, hooks ran on the scheduler's own stack (no goroutine
/// current) or, after a direct switch, on the stack of the goroutine that ran next.
fn exit_hooks_run_on_the_ending_goroutine() {
    for _ in 0..20 {
        let (go_tx, go_rx) = gort::chan::bounded::<()>(0);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let hs: Vec<_> = (0..50u64)
            .map(|i| {
                let go_rx = go_rx.clone();
                gort::go(move || {
                    let _ = go_rx.recv();
                    i
                })
            })
            .collect();
        let (hook_tx, hook_rx) = gort::chan::bounded::<u64>(0);
        for h in &hs {
            let (seen, hook_tx, id) = (seen.clone(), hook_tx.clone(), h.id());
            h.on_finish(Box::new(move || {
                seen.lock().unwrap().push((id, gort::goroutine_id()));
                // Parks the ending goroutine until the receiver below takes it.
                hook_tx.send(id).unwrap();
            }));
        }
        drop(hook_tx);
        drop(go_tx);
        let mut got: Vec<u64> = hook_rx.iter().collect();
        got.sort_unstable();
        let mut ids: Vec<u64> = hs.iter().map(|h| h.id()).collect();
        ids.sort_unstable();
        assert_eq!(got, ids, "every hook ran once");
        for (i, h) in hs.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), i as u64);
        }
        for (id, current) in seen.lock().unwrap().iter() {
            assert_eq!(*current, Some(*id), "a hook ran outside its goroutine");
        }
    }
}

#[test]
fn exit_hooks_run_on_the_ending_goroutine_from_a_thread() {
    within(120, exit_hooks_run_on_the_ending_goroutine);
}

#[test]
fn exit_hooks_run_on_the_ending_goroutine_from_a_goroutine() {
    within(120, || gort::run(exit_hooks_run_on_the_ending_goroutine));
}

/// A goroutine whose `join` returned is gone from `gort::num_goroutine()` (and `stats`) at
/// once: it was counted as ended only when its stack was freed, after its last switch,
/// which can come after the joiner woke. Many goroutines, each joined and then counted.
fn joined_goroutines_are_not_counted() {
    let before = gort::num_goroutine();
    for i in 0..20_000 {
        gort::go(|| std::hint::black_box(0u64)).join().unwrap();
        let now = gort::num_goroutine();
        assert_eq!(now, before, "joined goroutine {i} still counted");
    }
}

#[test]
fn joined_goroutines_are_not_counted_from_a_thread() {
    const NAME: &str = "joined_goroutines_are_not_counted_from_a_thread";
    if !is_child(NAME) {
        return child_ok(NAME, &[("GOMAXPROCS", "2")]);
    }
    within(120, joined_goroutines_are_not_counted);
}

#[test]
fn joined_goroutines_are_not_counted_from_a_goroutine() {
    const NAME: &str = "joined_goroutines_are_not_counted_from_a_goroutine";
    if !is_child(NAME) {
        return child_ok(NAME, &[("GOMAXPROCS", "2")]);
    }
    within(120, || gort::run(joined_goroutines_are_not_counted));
}

/// Exit hooks added by a handle that is then dropped before its goroutine ends still run,
/// once each, with the goroutine detached (its end frees the packet alone). Half of the
/// goroutines wait until their handle is gone, half may end first.
fn exit_hooks_of_dropped_handles_run() {
    for _ in 0..20 {
        let ran = Arc::new(AtomicUsize::new(0));
        let (go_tx, go_rx) = gort::chan::bounded::<()>(0);
        for i in 0..200 {
            let go_rx = go_rx.clone();
            let h = gort::go(move || {
                if i % 2 == 0 {
                    let _ = go_rx.recv();
                }
                i
            });
            let ran = ran.clone();
            h.on_finish(Box::new(move || {
                ran.fetch_add(1, SeqCst);
            }));
            drop(h);
        }
        drop(go_tx);
        drop(go_rx);
        while ran.load(SeqCst) < 200 {
            gort::yield_now();
            std::thread::yield_now();
        }
        assert_eq!(ran.load(SeqCst), 200);
    }
}

#[test]
fn exit_hooks_of_dropped_handles_run_from_a_thread() {
    within(120, exit_hooks_of_dropped_handles_run);
}

#[test]
fn exit_hooks_of_dropped_handles_run_from_a_goroutine() {
    within(120, || gort::run(exit_hooks_of_dropped_handles_run));
}
