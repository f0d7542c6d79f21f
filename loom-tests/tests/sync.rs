//! The sync primitives (`runtime/src/sync/`): mutual exclusion and the mutex's normal-mode
//! wake-up and starvation-mode hand-off, WaitGroup, Once/OnceLock, Cond, the weighted
//! semaphore's FIFO, and the reader-writer lock's writer preference.
//!
//! Data that a primitive protects lives in the primitive's own loom `UnsafeCell`, so loom
//! reports any access that is not ordered after the previous holder's (a broken lock or a
//! missing happens-before edge), and loom reports a deadlock if a wake-up is lost.
#![cfg(loom)]

use gort_chan::sync::Semaphore;
use gort_loom_tests::model;
use gort_runtime::sync::{Barrier, Cond, Mutex, Once, OnceLock, RwLock, WaitGroup};
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use std::sync::atomic::AtomicBool as StdAtomicBool;

/// Spins (yielding to loom's scheduler) until `f` holds.
fn spin_until(mut f: impl FnMut() -> bool) {
    while !f() {
        thread::yield_now();
    }
}

/// Two threads, two increments each, in normal mode only (waiters never starve): the
/// counter is exact, the lock is exclusive, and every wake-up (spinner's WOKEN, unlock's
/// semaphore release) arrives.
#[test]
fn mutex_normal_mode_two_threads() {
    model(Some(3), || {
        let m = Arc::new(Mutex::new(0usize).loom_starve_after(u32::MAX));
        let m2 = m.clone();
        let t = thread::spawn(move || {
            for _ in 0..2 {
                *m2.lock() += 1;
            }
        });
        for _ in 0..2 {
            *m.lock() += 1;
        }
        t.join().unwrap();
        assert_eq!(*m.lock(), 4);
        assert_eq!(m.loom_starvations(), 0);
    });
}

/// Three threads, one lock each, normal mode only: barging, WOKEN hand-over between a
/// spinner and the unlocker, and re-queueing at the front after losing a race.
#[test]
fn mutex_normal_mode_three_threads() {
    model(Some(3), || {
        let m = Arc::new(Mutex::new(0usize).loom_starve_after(u32::MAX));
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || *m.lock() += 1)
            })
            .collect();
        *m.lock() += 1;
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(*m.try_lock().expect("mutex left locked"), 3);
    });
}

/// Two threads, two locks each, waiters starving after one sleep: starvation mode is
/// entered and left again (the owner is the last waiter), and normal mode resumes.
#[test]
fn mutex_starvation_enter_and_leave() {
    static STARVED_SOMEWHERE: StdAtomicBool = StdAtomicBool::new(false);
    model(Some(3), || {
        let m = Arc::new(Mutex::new(0usize).loom_starve_after(1));
        let m2 = m.clone();
        let t = thread::spawn(move || {
            for _ in 0..2 {
                *m2.lock() += 1;
            }
        });
        for _ in 0..2 {
            *m.lock() += 1;
        }
        t.join().unwrap();
        assert_eq!(*m.try_lock().expect("mutex left locked or starving"), 4);
        if m.loom_starvations() > 0 {
            STARVED_SOMEWHERE.store(true, SeqCst);
        }
    });
    assert!(
        STARVED_SOMEWHERE.load(SeqCst),
        "starvation mode never reached"
    );
}

/// Three threads, one lock each, and a waiter starves after one sleep: besides the normal
/// mode, the model reaches the starvation switch, the direct hand-off to the first waiter
/// (newcomers must queue), and the switch back. Afterwards the mutex is unlocked and in
/// normal mode (a fresh `try_lock` succeeds).
#[test]
fn mutex_starvation_handoff_three_threads() {
    static STARVED_SOMEWHERE: StdAtomicBool = StdAtomicBool::new(false);
    model(Some(3), || {
        let m = Arc::new(Mutex::new(0usize).loom_starve_after(1));
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || *m.lock() += 1)
            })
            .collect();
        *m.lock() += 1;
        for t in ts {
            t.join().unwrap();
        }
        let g = m.try_lock().expect("mutex left locked or starving");
        assert_eq!(*g, 3);
        drop(g);
        if m.loom_starvations() > 0 {
            STARVED_SOMEWHERE.store(true, SeqCst);
        }
    });
    assert!(
        STARVED_SOMEWHERE.load(SeqCst),
        "no execution reached starvation mode: the model does not cover the hand-off"
    );
}

/// The starvation switch between two threads: the holder unlocks and re-locks while a
/// waiter starves. Every execution ends with both increments done and the mutex free; at
/// least one execution hands the lock over in starvation mode.
#[test]
fn mutex_starvation_switch_two_threads() {
    static STARVED_SOMEWHERE: StdAtomicBool = StdAtomicBool::new(false);
    model(Some(3), || {
        let m = Arc::new(Mutex::new(0usize).loom_starve_after(1));
        let g = m.lock();
        let m2 = m.clone();
        let t = thread::spawn(move || *m2.lock() += 10);
        // Barge: unlock and re-lock while the waiter may be asleep, then unlock for good.
        drop(g);
        *m.lock() += 1;
        t.join().unwrap();
        assert_eq!(*m.try_lock().expect("mutex left locked"), 11);
        if m.loom_starvations() > 0 {
            STARVED_SOMEWHERE.store(true, SeqCst);
        }
    });
    assert!(
        STARVED_SOMEWHERE.load(SeqCst),
        "starvation mode never reached"
    );
}

/// `try_lock` never succeeds while another thread holds the lock.
#[test]
fn mutex_try_lock_excludes() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(0usize));
        let m2 = m.clone();
        let t = thread::spawn(move || {
            if let Some(mut g) = m2.try_lock() {
                *g += 1;
            }
        });
        *m.lock() += 1;
        t.join().unwrap();
        let v = *m.lock();
        assert!(v == 1 || v == 2);
    });
}

/// `wait` returns only after every `done`, and sees what the workers wrote before it.
#[test]
fn waitgroup_wait_sees_all_done() {
    loom::model(|| {
        let wg = Arc::new(WaitGroup::new());
        let data = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        wg.add(2);
        let ts: Vec<_> = (0..2)
            .map(|i| {
                let (wg, data) = (wg.clone(), data.clone());
                thread::spawn(move || {
                    data[i].store(1, loom::sync::atomic::Ordering::Relaxed);
                    wg.done();
                })
            })
            .collect();
        wg.wait();
        let r = loom::sync::atomic::Ordering::Relaxed;
        assert_eq!(data[0].load(r) + data[1].load(r), 2, "wait returned early");
        for t in ts {
            t.join().unwrap();
        }
    });
}

/// Two waiters and one worker: both waiters are released by the last `done`, and the group
/// can be waited on again at zero.
#[test]
fn waitgroup_two_waiters() {
    loom::model(|| {
        let wg = Arc::new(WaitGroup::new());
        let flag = Arc::new(AtomicUsize::new(0));
        wg.add(1);
        let (wg2, flag2) = (wg.clone(), flag.clone());
        let waiter = thread::spawn(move || {
            wg2.wait();
            assert_eq!(flag2.load(loom::sync::atomic::Ordering::Relaxed), 1);
        });
        let (wg3, flag3) = (wg.clone(), flag.clone());
        let worker = thread::spawn(move || {
            flag3.store(1, loom::sync::atomic::Ordering::Relaxed);
            wg3.done();
        });
        wg.wait();
        assert_eq!(flag.load(loom::sync::atomic::Ordering::Relaxed), 1);
        waiter.join().unwrap();
        worker.join().unwrap();
        wg.wait();
    });
}

/// Two racing `call_once`s run the closure once, and both return after its effect.
#[test]
fn once_runs_once() {
    loom::model(|| {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let (o, r) = (once.clone(), runs.clone());
        let t = thread::spawn(move || {
            o.call_once(|| {
                r.fetch_add(1, loom::sync::atomic::Ordering::Relaxed);
            });
            assert_eq!(r.load(loom::sync::atomic::Ordering::Relaxed), 1);
        });
        once.call_once(|| {
            runs.fetch_add(1, loom::sync::atomic::Ordering::Relaxed);
        });
        assert_eq!(runs.load(loom::sync::atomic::Ordering::Relaxed), 1);
        assert!(once.is_completed());
        t.join().unwrap();
    });
}

/// Two racing `get_or_init`s: one initialiser runs, both read the one value.
#[test]
fn oncelock_one_value() {
    loom::model(|| {
        let cell = Arc::new(OnceLock::new());
        let c = cell.clone();
        let t = thread::spawn(move || *c.get_or_init(|| 1usize));
        let mine = *cell.get_or_init(|| 2usize);
        let theirs = t.join().unwrap();
        assert_eq!(mine, theirs);
        assert_eq!(cell.get(), Some(&mine));
    });
}

/// A signal sent after the waiter released the mutex is never lost.
#[test]
fn cond_signal_not_lost() {
    loom::model(|| {
        let pair = Arc::new((Mutex::new(false), Cond::new()));
        let p = pair.clone();
        let t = thread::spawn(move || {
            *p.0.lock() = true;
            p.1.signal();
        });
        let (m, c) = &*pair;
        let g = c.wait_while(m.lock(), |ready| !*ready);
        assert!(*g);
        drop(g);
        t.join().unwrap();
    });
}

/// `broadcast` wakes both waiters, whichever order they queued in.
#[test]
fn cond_broadcast_wakes_all() {
    loom::model(|| {
        let pair = Arc::new((Mutex::new(false), Cond::new()));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let p = pair.clone();
                thread::spawn(move || {
                    let g = p.1.wait_while(p.0.lock(), |go| !*go);
                    assert!(*g);
                })
            })
            .collect();
        *pair.0.lock() = true;
        pair.1.broadcast();
        for w in waiters {
            w.join().unwrap();
        }
    });
}

/// A barrier of two: both pass, exactly one is the leader.
#[test]
fn barrier_one_leader() {
    loom::model(|| {
        let b = Arc::new(Barrier::new(2));
        let b2 = b.clone();
        let t = thread::spawn(move || b2.wait().is_leader());
        let me = b.wait().is_leader();
        let them = t.join().unwrap();
        assert!(me ^ them, "exactly one leader");
    });
}

/// FIFO without starving a large request: with a request for the whole semaphore queued,
/// a free unit is not handed to a newcomer, and the large request is served once enough
/// is released.
#[test]
fn semaphore_fifo_large_request() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(2));
        sem.acquire(2);
        let s = sem.clone();
        let big = thread::spawn(move || {
            s.acquire(2);
            s.release(2);
        });
        // Wait until the large request is queued (try_acquire(0) fails while anyone waits).
        spin_until(|| !sem.try_acquire(0));
        sem.release(1);
        assert!(
            !sem.try_acquire(1),
            "a newcomer overtook the queued request"
        );
        sem.release(1);
        big.join().unwrap();
        assert_eq!(sem.available(), 2);
    });
}

/// Two threads acquiring different weights from a semaphore of 2 never hold more than 2
/// together, and both finish.
#[test]
fn semaphore_weights_bounded() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let held = Arc::new(AtomicUsize::new(0));
        let run = |sem: &Semaphore, held: &AtomicUsize, n: usize| {
            sem.acquire(n);
            assert!(held.fetch_add(n, SeqCst) + n <= 2, "over-acquired");
            held.fetch_sub(n, SeqCst);
            sem.release(n);
        };
        let (s, h) = (sem.clone(), held.clone());
        let t = thread::spawn(move || run(&s, &h, 2));
        run(&sem, &held, 1);
        t.join().unwrap();
        assert_eq!(sem.available(), 2);
    });
}

/// Writer preference: while a reader holds the lock and a writer waits, a reader that
/// arrives later waits for the writer (it reads the written value), and the writer gets
/// in as soon as the first reader leaves.
#[test]
fn rwlock_writer_preference() {
    loom::model(|| {
        let rw = Arc::new(RwLock::new(0usize));
        let first = rw.read();
        let w = rw.clone();
        let writer = thread::spawn(move || *w.write() = 1);
        // The writer has announced itself once new readers are turned away.
        spin_until(|| rw.try_read().is_none());
        let r = rw.clone();
        let late_reader = thread::spawn(move || *r.read());
        assert_eq!(*first, 0);
        drop(first);
        assert_eq!(
            late_reader.join().unwrap(),
            1,
            "a late reader overtook the writer"
        );
        writer.join().unwrap();
    });
}

/// Two readers and a writer: readers share, the writer excludes both, all finish.
#[test]
fn rwlock_two_readers_one_writer() {
    loom::model(|| {
        let rw = Arc::new(RwLock::new((0usize, 0usize)));
        let w = rw.clone();
        let writer = thread::spawn(move || {
            let mut g = w.write();
            g.0 += 1;
            g.1 += 1;
        });
        let r = rw.clone();
        let reader = thread::spawn(move || {
            let g = r.read();
            assert_eq!(g.0, g.1, "read a half-done write");
        });
        let g = rw.read();
        assert_eq!(g.0, g.1, "read a half-done write");
        drop(g);
        writer.join().unwrap();
        reader.join().unwrap();
        assert_eq!(*rw.read(), (1, 1));
    });
}

/// A reader and a writer exclude each other, and both finish.
#[test]
fn rwlock_read_write_exclusion() {
    loom::model(|| {
        let rw = Arc::new(RwLock::new((0usize, 0usize)));
        let w = rw.clone();
        let writer = thread::spawn(move || {
            let mut g = w.write();
            g.0 += 1;
            g.1 += 1;
        });
        let g = rw.read();
        assert_eq!(g.0, g.1, "read a half-done write");
        drop(g);
        writer.join().unwrap();
        assert_eq!(*rw.read(), (1, 1));
    });
}
