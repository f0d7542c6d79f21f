//! The cancellation tree: one [`Core`] per cancellable context (`with_cancel`,
//! `with_deadline`, and each `after_func` registration), linked to the nearest cancellable
//! ancestor.
//!
//! - **Down links are strong, up links weak.** A core owns its registered children (a slab
//!   of `Arc<Core>`, so removing one is O(1) and the slab never outgrows the peak number of
//!   live children); a child knows its slot and holds a `Weak` to its parent. Values and
//!   the rest of the chain are held by the context *handle*, not by the core, so the
//!   structure has no cycle: a subtree that nobody can cancel any more is freed, and its
//!   `done()` channels simply never fire (as in Go, where nobody could close them either).
//! - **Cancelling** locks one core at a time: mark it (the error first, then close `done()`,
//!   then mark `done()` closed: see [`Core::err`]), take its children, timer, link and
//!   after-func out of the lock, then cancel the children from an explicit work list: O(size
//!   of the subtree), no recursion, no lock held across two cores, callable from any
//!   goroutine, thread or timer callback.
//! - **A cancelled or finished child removes itself** from its parent's slab (when its own
//!   cancel or timer ends it; when the parent cancels it, the parent has already emptied its
//!   slab). A deadline child's runtime timer is stopped when it is cancelled.
//! - A child of an already-cancelled parent is born cancelled, with the parent's error and
//!   cause (decided under the parent's lock, so a concurrent cancel cannot slip between).

use super::custom::{self, CustomContext};
use super::error::{Cause, Error};
use crate::channel::{bounded, never, Receiver, Sender};
use gort_runtime::park::{self, Token};
use gort_runtime::shim::{AtomicU8, Mutex};
use gort_runtime::timer::{self, Action, TimerId};
use std::mem;
use std::sync::atomic::{Ordering::Acquire, Ordering::Relaxed, Ordering::Release};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

/// Not cancelled.
const LIVE: u8 = 0;
/// Error kinds (low bits of the state).
const CANCELED: u8 = 1;
const DEADLINE: u8 = 2;
const KIND: u8 = 3;
/// Set once `done()` is closed (after the error is stored).
const CLOSED: u8 = 4;

/// Waiters woken together while a tree is cancelled (see [`Core::cancel`]).
const WAKE_BATCH: usize = 64;

/// What a context's cancellation hangs on.
#[derive(Clone)]
pub(crate) enum Scope {
    /// Never cancelled (`background`, `todo`, `without_cancel`).
    Never,
    /// One of ours.
    Node(Arc<Core>),
    /// A user implementation.
    Custom(Arc<dyn CustomContext>),
}

/// The key under which a context's nearest [`Core`] is found by value lookup (Go's
/// `cancelCtxKey`): how a custom context that wraps one of ours is recognised and hooked
/// directly, without a goroutine.
pub(crate) struct CancelCtxKey;

/// A cancellable node.
pub(crate) struct Core {
    /// `LIVE`, or the error kind, plus `CLOSED` once `done()` is closed.
    state: AtomicU8,
    /// `done()`, created on first use while live; never set after cancellation (then
    /// `done()` hands out the shared closed receiver).
    done: OnceLock<Receiver<()>>,
    /// The effective deadline (the earlier of the parent's and this node's own).
    deadline: Option<Instant>,
    /// 1 once this core *and every core below it* are cancelled: set by the canceller that
    /// cancelled this core, after the last core of its subtree. Another canceller that
    /// meets this core already cancelled waits for it, so that `cancel` returns only when
    /// the whole subtree is done, as Go's does.
    subtree_done: AtomicU8,
    inner: Mutex<Mutable>,
}

/// One step of cancelling a subtree: cancel a core (and queue its children), or mark a
/// core's subtree done once every core queued after it was handled.
enum Step {
    Enter(Arc<Core>),
    Exit(Arc<Core>),
}

/// The parts of a core that change, guarded by its `inner` mutex (not to be confused with
/// the runtime's internal lock type `Locked`).
struct Mutable {
    /// Closes `done` on cancellation.
    done_tx: Option<Sender<()>>,
    children: Children,
    /// The cause given by the canceller; `None` means "the error itself".
    cause: Option<Cause>,
    /// The deadline timer.
    timer: Option<TimerId>,
    /// How to leave the parent.
    link: Link,
    /// An `after_func` registration's function (taken by whichever of run or stop is first).
    after: Option<Box<dyn FnOnce() + Send>>,
}

/// A core's registration with its parent.
pub(crate) enum Link {
    /// Not registered (an uncancellable or foreign parent watched by a goroutine).
    None,
    /// In the slab of one of our cores.
    Parent { parent: Weak<Core>, slot: u32 },
    /// Registered with a custom parent's `after_func` hook; calling this deregisters.
    Stop(custom::StopFn),
}

/// The shared receiver that is never closed (`background().done()`).
#[cfg(not(loom))]
pub(crate) fn never_rx() -> &'static Receiver<()> {
    static NEVER: OnceLock<Receiver<()>> = OnceLock::new();
    NEVER.get_or_init(never)
}

/// The shared receiver that is already closed (`done()` of a context cancelled before
/// anyone asked for its channel).
#[cfg(not(loom))]
pub(crate) fn closed_rx() -> &'static Receiver<()> {
    static CLOSED_RX: OnceLock<Receiver<()>> = OnceLock::new();
    CLOSED_RX.get_or_init(closed_channel)
}

fn closed_channel() -> Receiver<()> {
    let (tx, rx) = bounded(0);
    drop(tx); // the only sender: the channel closes
    rx
}

// Under loom a channel must not outlive the execution that made it: no shared statics.
#[cfg(loom)]
pub(crate) fn never_rx() -> &'static Receiver<()> {
    Box::leak(Box::new(never()))
}

#[cfg(loom)]
pub(crate) fn closed_rx() -> &'static Receiver<()> {
    Box::leak(Box::new(closed_channel()))
}

fn kind(state: u8) -> Error {
    if state & KIND == DEADLINE {
        Error::DeadlineExceeded
    } else {
        Error::Canceled
    }
}

fn code(e: Error) -> u8 {
    match e {
        Error::Canceled => CANCELED,
        Error::DeadlineExceeded => DEADLINE,
    }
}

/// What the canceller of one core does after releasing its lock.
struct Finished {
    children: Children,
    timer: Option<TimerId>,
    link: Link,
    after: Option<Box<dyn FnOnce() + Send>>,
}

impl Core {
    /// A new live core with effective deadline `deadline`.
    pub(crate) fn new(
        deadline: Option<Instant>,
        after: Option<Box<dyn FnOnce() + Send>>,
    ) -> Arc<Core> {
        Arc::new(Core {
            state: AtomicU8::new(LIVE),
            done: OnceLock::new(),
            deadline,
            subtree_done: AtomicU8::new(0),
            inner: Mutex::new(Mutable {
                done_tx: None,
                children: Children::new(),
                cause: None,
                timer: None,
                link: Link::None,
                after,
            }),
        })
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The channel closed on cancellation.
    pub(crate) fn done(&self) -> Receiver<()> {
        if let Some(d) = self.done.get() {
            return d.clone();
        }
        if self.state.load(Acquire) & CLOSED != 0 {
            return closed_rx().clone();
        }
        let mut g = self.inner.lock();
        if let Some(d) = self.done.get() {
            return d.clone();
        }
        if self.state.load(Relaxed) != LIVE {
            return closed_rx().clone();
        }
        let (tx, rx) = bounded(0);
        g.done_tx = Some(tx);
        let _ = self.done.set(rx.clone());
        rx
    }

    /// Starts loading the goroutine parked on this core's `done()`, if any, while the
    /// canceller closes the channel before it (see `Receiver::prefetch_receiver`).
    fn prefetch_waiter(&self) {
        if let Some(d) = self.done.get() {
            d.prefetch_receiver();
        }
    }

    /// Whether `rx` is this core's `done()` channel (Go's `parentCancelCtx` identity check).
    fn done_is(&self, rx: &Receiver<()>) -> bool {
        self.done.get().is_some_and(|d| d.same_channel(rx))
    }

    /// The error, once cancelled. Once this returns `Some`, `done()` is closed (Go issue
    /// 75533): the canceller stores the error, closes the channel and only then sets
    /// `CLOSED`, all under the lock; a reader that sees the error without `CLOSED` waits for
    /// the lock, i.e. for the close. A receiver woken by the close always finds the error.
    pub(crate) fn err(&self) -> Option<Error> {
        let s = self.state.load(Acquire);
        if s == LIVE {
            return None;
        }
        if s & CLOSED == 0 {
            drop(self.inner.lock());
        }
        Some(kind(s))
    }

    /// The cause, once cancelled.
    pub(crate) fn cause(&self) -> Option<Cause> {
        let s = self.state.load(Acquire);
        if s == LIVE {
            return None;
        }
        let c = self.inner.lock().cause.clone();
        Some(c.unwrap_or_else(|| kind(s).as_cause()))
    }

    /// Registered children (for tests of the bookkeeping).
    pub(crate) fn children(&self) -> usize {
        self.inner.lock().children.len as usize
    }

    /// Whether this registration's function was neither run nor stopped yet; takes it.
    pub(crate) fn take_after(&self) -> Option<Box<dyn FnOnce() + Send>> {
        self.inner.lock().after.take()
    }

    /// Cancels this core and every core below it. `remove`: also leave the parent (the
    /// canceller is this context's own cancel function or timer, not an ancestor).
    /// A second cancel is a no-op.
    ///
    /// The goroutines parked on the `done()` channels are woken in batches of
    /// [`WAKE_BATCH`] (`park::wake_all`: one run-queue operation and one M wake-up per
    /// batch), each batch as soon as it is complete, so idle Ps start running them while
    /// the rest of the tree is still being cancelled.
    ///
    /// As in Go, when `cancel` returns every core below this one is cancelled, even if
    /// another canceller (a deadline's timer, a child's own cancel) got to part of the
    /// subtree first and is still working there: a core met already cancelled is waited
    /// for (`wait_subtree`). That wait is short and cannot deadlock: the other canceller is
    /// running on some thread (nothing in here parks or switches goroutines; `after_func`
    /// goroutines are started at the very end, after every wait), and waits only go down
    /// the tree.
    pub(crate) fn cancel(self: &Arc<Self>, remove: bool, err: Error, cause: Option<Cause>) {
        let mut wakes = Vec::new();
        let Some(f) = self.finish(err, &cause, &mut wakes) else {
            self.wait_subtree();
            return;
        };
        let mut afters = Vec::new();
        let mut children = Vec::new();
        let mut work = Vec::new();
        // Leaving the parent waits until the whole subtree is done: until then, a parent
        // being cancelled still finds this core in its slab and waits for it.
        let link = f.complete(&mut children, &mut afters);
        if children.is_empty() {
            self.subtree_done.store(1, Release); // a leaf: no allocation on this path
        } else {
            work.push(Step::Exit(self.clone()));
            work.extend(children.drain(..).map(Step::Enter));
        }
        while let Some(step) = work.pop() {
            let c = match step {
                Step::Exit(c) => {
                    c.subtree_done.store(1, Release);
                    continue;
                }
                Step::Enter(c) => c,
            };
            if let Some(Step::Enter(next)) = work.last() {
                next.prefetch_waiter();
            }
            match c.finish(err, &cause, &mut wakes) {
                Some(f) => {
                    // An ancestor's canceller emptied the slab this core was in: no unlink.
                    drop(f.complete(&mut children, &mut afters));
                    work.push(Step::Exit(c));
                    work.extend(children.drain(..).map(Step::Enter));
                }
                None => {
                    park::wake_all(wakes.drain(..));
                    c.wait_subtree();
                }
            }
            if wakes.len() >= WAKE_BATCH {
                park::wake_all(wakes.drain(..));
            }
        }
        park::wake_all(wakes);
        if remove {
            link.unlink(self);
        }
        for f in afters {
            // Go runs an AfterFunc in its own goroutine: cancelling never waits for it.
            drop(gort_runtime::go(f));
        }
    }

    /// Waits until the canceller of this (cancelled) core has cancelled its whole subtree.
    /// It spins and yields the *thread*, never the goroutine: a goroutine that switched
    /// away in the middle of a cancel could be waited for by a timer callback on its own
    /// M, which would then never run it again.
    fn wait_subtree(&self) {
        let mut spins = 0u32;
        while self.subtree_done.load(Acquire) == 0 {
            spins = spins.saturating_add(1);
            #[cfg(loom)]
            loom::thread::yield_now();
            #[cfg(not(loom))]
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Cancels this core alone, under its lock; `None` if it already was. The tokens of
    /// the waiters its `done()` channel released go to `wakes`, to be woken by the caller
    /// once no lock is held.
    fn finish(
        &self,
        err: Error,
        cause: &Option<Cause>,
        wakes: &mut Vec<Token>,
    ) -> Option<Finished> {
        let mut g = self.inner.lock();
        if self.state.load(Relaxed) != LIVE {
            return None;
        }
        g.cause = cause.clone();
        self.state.store(code(err), Release);
        // Dropping the only sender closes the channel (one channel lock, not two).
        if let Some(tx) = g.done_tx.take() {
            tx.drop_into(wakes);
        }
        self.state.store(code(err) | CLOSED, Release);
        Some(Finished {
            children: mem::take(&mut g.children),
            timer: g.timer.take(),
            link: mem::replace(&mut g.link, Link::None),
            after: g.after.take(),
        })
    }

    /// Registers `child` below this core, or cancels it at once if this core is cancelled.
    pub(crate) fn adopt(self: &Arc<Self>, child: &Arc<Core>) {
        let mut g = self.inner.lock();
        let s = self.state.load(Relaxed);
        if s != LIVE {
            let cause = g.cause.clone();
            drop(g);
            child.cancel(false, kind(s), cause);
            return;
        }
        let slot = g.children.insert(child.clone());
        // Lock order parent -> child; nobody locks them the other way round (a child
        // leaving its parent has released its own lock first).
        child.inner.lock().link = Link::Parent {
            parent: Arc::downgrade(self),
            slot,
        };
    }

    /// Records a custom parent's deregistration hook (dropped if already cancelled).
    pub(crate) fn set_stop(&self, stop: custom::StopFn) {
        let mut g = self.inner.lock();
        if self.state.load(Relaxed) == LIVE {
            g.link = Link::Stop(stop);
        } else {
            drop(g);
            drop(stop);
        }
    }

    /// Arms the deadline timer, unless already cancelled (by a parent, concurrently).
    pub(crate) fn arm(self: &Arc<Self>, at: Instant, cause: Option<Cause>) {
        let mut g = self.inner.lock();
        if self.state.load(Relaxed) != LIVE {
            return;
        }
        let me = self.clone();
        // The callback runs on the scheduler: cancelling is bounded, non-blocking work.
        let fire = move || me.cancel(true, Error::DeadlineExceeded, cause);
        g.timer = Some(timer::add(at, Action::Call(Box::new(fire))));
    }
}

impl Finished {
    /// The part of cancelling a core done outside its lock.
    /// Returns the core's link to its parent, for the canceller to leave the parent once
    /// the subtree is done (`Link::unlink`).
    fn complete(
        self,
        work: &mut Vec<Arc<Core>>,
        afters: &mut Vec<Box<dyn FnOnce() + Send>>,
    ) -> Link {
        if let Some(t) = self.timer {
            timer::cancel(t);
        }
        afters.extend(self.after);
        self.children.drain_into(work);
        self.link
    }
}

impl Link {
    /// Takes the cancelled core `me` out of its parent's slab (or deregisters it from a
    /// custom parent).
    fn unlink(self, me: &Arc<Core>) {
        match self {
            Link::Parent { parent, slot } => {
                if let Some(p) = parent.upgrade() {
                    let gone = p.inner.lock().children.remove(slot, me);
                    drop(gone);
                }
            }
            Link::Stop(stop) => {
                stop();
            }
            Link::None => {}
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        let g = self.inner.get_mut();
        if let Some(tx) = g.done_tx.take() {
            // Nobody can cancel this core any more: like Go's unreachable channel, `done()`
            // never fires (dropping the sender would close it).
            tx.retire_open();
        }
        // Free an uncancelled subtree iteratively (a long chain would recurse).
        let mut stack = Vec::new();
        mem::take(&mut g.children).drain_into(&mut stack);
        while let Some(c) = stack.pop() {
            if let Some(mut core) = Arc::into_inner(c) {
                mem::take(&mut core.inner.get_mut().children).drain_into(&mut stack);
            }
        }
    }
}

/// Connects a new core to the cancellation of its parent's scope: registered with our
/// core, born cancelled, hooked to a custom parent, or watched by a goroutine.
pub(crate) fn propagate(parent: &Scope, child: &Arc<Core>) {
    match parent {
        Scope::Never => {}
        Scope::Node(p) => p.adopt(child),
        Scope::Custom(c) => custom::propagate(c, child),
    }
}

/// If `c` is (or wraps) one of our contexts whose `done()` is `done`, its core.
pub(crate) fn core_behind(c: &dyn CustomContext, done: &Receiver<()>) -> Option<Arc<Core>> {
    let v = c.value(&CancelCtxKey)?;
    let core = v.downcast_ref::<Arc<Core>>()?;
    core.done_is(done).then(|| core.clone())
}

/// Registered children: a slab with an intrusive free list.
struct Children {
    slots: Vec<Slot>,
    /// First free slot, or `NONE`.
    free: u32,
    len: u32,
}

enum Slot {
    Free(u32),
    Used(Arc<Core>),
}

const NONE: u32 = u32::MAX;

/// Slab capacity kept when the last child leaves; above it the memory is returned.
const KEEP: usize = 1024;

impl Default for Children {
    fn default() -> Self {
        Children::new()
    }
}

impl Children {
    const fn new() -> Self {
        Children {
            slots: Vec::new(),
            free: NONE,
            len: 0,
        }
    }

    fn insert(&mut self, c: Arc<Core>) -> u32 {
        self.len += 1;
        if self.free != NONE {
            let i = self.free;
            match mem::replace(&mut self.slots[i as usize], Slot::Used(c)) {
                Slot::Free(next) => self.free = next,
                Slot::Used(_) => unreachable!("gort: context slab free list is corrupt"),
            }
            i
        } else {
            self.slots.push(Slot::Used(c));
            (self.slots.len() - 1) as u32
        }
    }

    /// Removes `me` from slot `i` if it is still there.
    fn remove(&mut self, i: u32, me: &Arc<Core>) -> Option<Arc<Core>> {
        match self.slots.get(i as usize) {
            Some(Slot::Used(c)) if Arc::ptr_eq(c, me) => {}
            _ => return None,
        }
        let old = mem::replace(&mut self.slots[i as usize], Slot::Free(self.free));
        self.free = i;
        self.len -= 1;
        if self.len == 0 {
            if self.slots.capacity() > KEEP {
                self.slots = Vec::new();
            } else {
                self.slots.clear();
            }
            self.free = NONE;
        }
        match old {
            Slot::Used(c) => Some(c),
            Slot::Free(_) => None,
        }
    }

    fn drain_into(self, out: &mut Vec<Arc<Core>>) {
        if self.len == 0 {
            return;
        }
        out.extend(self.slots.into_iter().filter_map(|s| match s {
            Slot::Used(c) => Some(c),
            Slot::Free(_) => None,
        }));
    }
}
