//! `gort::block_on`: futures run to completion from goroutines (which park, leaving their
//! thread to others) and from plain threads, woken from any thread.

mod common_chan;
use common_chan::{scenario, spawn, KINDS};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// A one-shot value set from elsewhere; its future waits for it.
#[derive(Clone, Default)]
struct Slot(Arc<Mutex<(Option<u64>, Option<Waker>)>>);

impl Slot {
    fn set(&self, v: u64) {
        let w = {
            let mut g = self.0.lock().unwrap();
            g.0 = Some(v);
            g.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
}

impl Future for Slot {
    type Output = u64;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        let mut g = self.0.lock().unwrap();
        match g.0 {
            Some(v) => Poll::Ready(v),
            None => {
                g.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Pending `n` times, waking itself each time (`yield_now` in async code).
struct YieldTimes(u32);

impl Future for YieldTimes {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn ready_and_self_waking_futures() {
    for kind in KINDS {
        scenario(30, kind, || {
            assert_eq!(gort::block_on(async { 7 }), 7);
            gort::block_on(YieldTimes(1000));
        });
    }
}

/// Woken from a plain thread and from a goroutine, each waiter on either kind, many times:
/// no wake-up is lost (a lost one hangs until the guard fails).
#[test]
fn woken_from_threads_and_goroutines() {
    for waiter in KINDS {
        for waker in KINDS {
            scenario(60, waiter, move || {
                for i in 0..500u64 {
                    let slot = Slot::default();
                    let s = slot.clone();
                    let j = spawn(waker, move || {
                        if i % 2 == 0 {
                            gort::yield_now();
                        }
                        s.set(i)
                    });
                    let w = spawn(waiter, move || assert_eq!(gort::block_on(slot), i));
                    w();
                    j();
                }
            });
        }
    }
}

/// At one P, a goroutine in `block_on` parks and lets the goroutine that completes its
/// future run on the same thread: blocking the thread instead would hang.
#[test]
fn a_goroutine_parks_not_its_thread() {
    common_chan::within(30, || {
        gort::run(|| {
            let before = gort::set_procs(1);
            let slots: Vec<Slot> = (0..100).map(|_| Slot::default()).collect();
            let waiters: Vec<_> = slots
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, s)| gort::go(move || assert_eq!(gort::block_on(s), i as u64)))
                .collect();
            let setter = gort::go(move || {
                for (i, s) in slots.iter().enumerate() {
                    s.set(i as u64);
                    gort::yield_now();
                }
            });
            setter.join().unwrap();
            for w in waiters {
                w.join().unwrap();
            }
            gort::set_procs(before);
        })
    });
}

/// Gort's own blocking calls inside the future (a channel receive, a sleep) work.
#[test]
fn gort_calls_inside_the_future() {
    for kind in KINDS {
        scenario(30, kind, move || {
            let (tx, rx) = gort::chan::bounded(0);
            let j = spawn(kind, move || tx.send(5u32).unwrap());
            let v = gort::block_on(async move {
                gort::time::sleep(Duration::from_millis(1));
                YieldTimes(3).await;
                rx.recv().unwrap()
            });
            assert_eq!(v, 5);
            j();
        });
    }
}
