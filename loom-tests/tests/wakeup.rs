//! The idle/spinning M wake-up protocol of `runtime/src/sched` (`Sched::wakep`,
//! `m::find_runnable`), as a model: the scheduler itself is a process-wide singleton that
//! loom cannot re-create for each execution, so this mirrors its steps one for one, with
//! the same orderings:
//!
//! - a waker pushes a goroutine onto the global queue (a `SeqCst` read-modify-write on the
//!   queue's length), then `wakep`: a `SeqCst` fence, then `npidle`, then the CAS on
//!   `nmspinning`, then hands an idle P to an idle M (an early exit on `npidle` before the
//!   fence makes this model find a lost wake-up);
//! - a spinning M that found nothing puts its P on the idle list, stops spinning
//!   (`nmspinning -= 1`), fences, and checks the queue once more before it sleeps.
//!
//! The property: a runnable goroutine is never left with every M asleep (loom reports a
//! deadlock if the goroutine is never taken).
#![cfg(loom)]

use loom::sync::atomic::{fence, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

struct Sched {
    /// Runnable goroutines in the global queue.
    queue: AtomicUsize,
    /// Idle Ps.
    npidle: AtomicUsize,
    /// Spinning Ms.
    nmspinning: AtomicUsize,
    /// The idle M's note: set when a P is handed to it.
    note: Mutex<bool>,
    cond: Condvar,
}

impl Sched {
    fn wakep(&self) {
        fence(SeqCst);
        if self.npidle.load(SeqCst) == 0 {
            return;
        }
        if self.nmspinning.load(SeqCst) != 0
            || self
                .nmspinning
                .compare_exchange(0, 1, SeqCst, Relaxed)
                .is_err()
        {
            return;
        }
        // startm: take the idle P and wake the idle M with it, spinning.
        self.npidle.fetch_sub(1, SeqCst);
        *self.note.lock().unwrap() = true;
        self.cond.notify_one();
    }

    fn take(&self) -> bool {
        let mut n = self.queue.load(SeqCst);
        while n > 0 {
            match self.queue.compare_exchange(n, n - 1, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(m) => n = m,
            }
        }
        false
    }
}

/// One M that starts spinning with a P and finds nothing at first; one waker.
#[test]
fn a_readied_goroutine_is_never_left_with_every_m_asleep() {
    loom::model(|| {
        let s = Arc::new(Sched {
            queue: AtomicUsize::new(0),
            npidle: AtomicUsize::new(0),
            nmspinning: AtomicUsize::new(1),
            note: Mutex::new(false),
            cond: Condvar::new(),
        });
        let waker = {
            let s = s.clone();
            thread::spawn(move || {
                s.queue.fetch_add(1, SeqCst); // push onto the global queue
                s.wakep();
            })
        };
        // The M: look, give up the P, stop spinning, fence, look again, sleep.
        let mut got = s.take();
        if !got {
            s.npidle.fetch_add(1, SeqCst);
            s.nmspinning.fetch_sub(1, SeqCst);
            fence(SeqCst);
            if s.queue.load(SeqCst) > 0 {
                // Re-acquire an idle P, if nobody took it for us meanwhile.
                let mut n = s.npidle.load(SeqCst);
                while n > 0 {
                    match s.npidle.compare_exchange(n, n - 1, SeqCst, SeqCst) {
                        Ok(_) => break,
                        Err(m) => n = m,
                    }
                }
                got = s.take();
            }
            if !got {
                // stopm: sleep until handed a P (a waker's wakep), then run the goroutine.
                let mut handed = s.note.lock().unwrap();
                while !*handed {
                    handed = s.cond.wait(handed).unwrap();
                }
                got = s.take();
            }
        }
        waker.join().unwrap();
        assert!(got, "the readied goroutine was not run");
    });
}

/// `ready_batch` (Go's `injectglist`): a waker publishes a whole batch of goroutines with
/// one queue operation and calls `wakep` once. The spinning M that finds the first one
/// stops spinning (`resetspinning`: `nmspinning -= 1`, then `wakep`), runs it and looks
/// again: the batch is run whole, and no goroutine of it is left with every M asleep.
#[test]
fn a_readied_batch_is_run_whole() {
    loom::model(|| {
        let s = Arc::new(Sched {
            queue: AtomicUsize::new(0),
            npidle: AtomicUsize::new(0),
            nmspinning: AtomicUsize::new(1),
            note: Mutex::new(false),
            cond: Condvar::new(),
        });
        let waker = {
            let s = s.clone();
            thread::spawn(move || {
                s.queue.fetch_add(2, SeqCst); // one push_batch of two goroutines
                s.wakep();
            })
        };
        let mut ran = 0;
        let mut spinning = true;
        while ran < 2 {
            if s.take() {
                if spinning {
                    spinning = false;
                    s.nmspinning.fetch_sub(1, SeqCst);
                    s.wakep();
                }
                ran += 1;
                continue;
            }
            assert!(spinning, "a goroutine of the batch went missing");
            // Give up the P, stop spinning, fence, look again, else sleep until handed one.
            s.npidle.fetch_add(1, SeqCst);
            s.nmspinning.fetch_sub(1, SeqCst);
            spinning = false;
            fence(SeqCst);
            let mut n = s.npidle.load(SeqCst);
            let mut have_p = false;
            if s.queue.load(SeqCst) > 0 {
                while n > 0 {
                    match s.npidle.compare_exchange(n, n - 1, SeqCst, SeqCst) {
                        Ok(_) => {
                            have_p = true;
                            break;
                        }
                        Err(m) => n = m,
                    }
                }
            }
            if !have_p {
                let mut handed = s.note.lock().unwrap();
                while !*handed {
                    handed = s.cond.wait(handed).unwrap();
                }
                // Handed a P by `wakep`, counted as spinning.
                spinning = true;
            }
        }
        waker.join().unwrap();
    });
}
