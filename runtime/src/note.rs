//! A one-shot sleep/wake-up event for an OS thread (Go's `note`).
//!
//! An idle M sleeps on its note until the scheduler hands it work. `wakeup` may come before
//! `sleep`: the note remembers it, so no wake-up is ever lost. `clear` re-arms it.
//!
//! Uses: `shim`.

use crate::shim::Futex;
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::time::{Duration, Instant};

const CLEAR: u32 = 0;
const SLEEPING: u32 = 1;
const WOKEN: u32 = 2;

/// One-shot event: one sleeper, any number of wakers.
#[derive(Debug)]
pub(crate) struct Note {
    futex: Futex,
}

impl Note {
    pub(crate) fn new() -> Self {
        Note {
            futex: Futex::new(CLEAR),
        }
    }

    /// Re-arms the note after a wake-up was consumed. A read-modify-write, so that whatever
    /// the waker published before its `wakeup` is visible to the caller afterwards.
    pub(crate) fn clear(&self) {
        self.futex.word().swap(CLEAR, AcqRel);
    }

    /// Signals the note; wakes the sleeper if there is one.
    pub(crate) fn wakeup(&self) {
        if self.futex.word().swap(WOKEN, AcqRel) == SLEEPING {
            self.futex.wake_all();
        }
    }

    /// Sleeps until [`Note::wakeup`] has been called (returns at once if it already was).
    pub(crate) fn sleep(&self) {
        self.sleep_until(None);
    }

    /// Like [`Note::sleep`], but gives up at `deadline`. Returns whether it was woken.
    pub(crate) fn sleep_until(&self, deadline: Option<Instant>) -> bool {
        let word = self.futex.word();
        if word
            .compare_exchange(CLEAR, SLEEPING, AcqRel, Acquire)
            .is_err()
        {
            return true; // already WOKEN
        }
        loop {
            let timeout = match deadline {
                None => None,
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        // Withdraw; if a wake-up raced in, report it.
                        return word
                            .compare_exchange(SLEEPING, CLEAR, AcqRel, Acquire)
                            .is_err();
                    }
                    Some(d - now)
                }
            };
            self.futex
                .wait(SLEEPING, timeout.map(|t| t.min(Duration::from_secs(3600))));
            if word.load(Acquire) == WOKEN {
                return true;
            }
        }
    }
}
