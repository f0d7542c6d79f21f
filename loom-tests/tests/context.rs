//! The context tree (`chan/src/context/tree.rs`): a parent's cancellation racing with a
//! child's registration, and with a child's own cancellation. Whatever the interleaving,
//! every child ends cancelled with `done()` closed, and the parent keeps no child.
#![cfg(loom)]

use gort_chan::context::{self, Error};
use gort_chan::TryRecvError;
use loom::thread;

/// A child is born while its parent is being cancelled: it is either born cancelled or
/// cancelled by the parent, never left live.
#[test]
fn cancel_races_with_child_registration() {
    loom::model(|| {
        let (parent, cancel) = context::background().with_cancel();
        let p = parent.clone();
        let t = thread::spawn(move || p.with_cancel());
        cancel.cancel();
        let (child, _cancel_child) = t.join().unwrap();
        assert_eq!(child.err(), Some(Error::Canceled));
        assert_eq!(child.done().try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(
            parent.__children(),
            0,
            "a cancelled parent keeps no children"
        );
    });
}

/// A child cancels itself (and leaves its parent) while the parent is cancelled.
#[test]
fn child_and_parent_cancel_at_once() {
    loom::model(|| {
        let (parent, cancel) = context::background().with_cancel();
        let (child, cancel_child) = parent.with_cancel();
        let c = child.clone();
        let t = thread::spawn(move || {
            cancel_child.cancel();
            c.err()
        });
        cancel.cancel();
        assert_eq!(t.join().unwrap(), Some(Error::Canceled));
        assert_eq!(child.err(), Some(Error::Canceled));
        assert_eq!(child.done().try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(parent.__children(), 0);
    });
}

/// Cancelling a tree wakes the receivers parked on its `done()` channels in one batch
/// (`park::wake_all` after every channel of the tree is closed): each of them, whatever
/// point of its receive the cancellation hits, is woken and finds the error.
#[test]
fn cancel_wakes_every_waiter_of_the_tree() {
    loom::model(|| {
        let (parent, cancel) = context::background().with_cancel();
        let (child, _cancel_child) = parent.with_cancel();
        let waiters: Vec<_> = [parent, child]
            .into_iter()
            .map(|c| {
                thread::spawn(move || {
                    let done = c.done();
                    let _ = done.recv();
                    c.err()
                })
            })
            .collect();
        cancel.cancel();
        for w in waiters {
            assert_eq!(w.join().unwrap(), Some(Error::Canceled));
        }
    });
}
