//! The park seam: block the current goroutine or thread until a [`Token`] wakes it.
//!
//! Everything in gort that blocks (join, channels, sync, timers, context, net) uses exactly
//! this protocol, so it is the one place that knows whether the caller is a goroutine (its M
//! switches to other goroutines) or a plain OS thread (the thread sleeps on a futex):
//!
//! ```text
//! let token = park::prepare();   // arm: I am about to wait; here is what wakes me
//! publish(token.clone());        // e.g. enqueue it on a channel, under the channel's lock
//! if condition_already_met { park::cancel(); } else { park::park(); }
//! ```
//!
//! A wake-up may come at any moment after `prepare`, even before `park` (the waker then
//! only records it and `park` returns at once), so no wake-up is ever lost and nobody has to
//! hold a lock across the switch. Each `prepare` starts a new *episode*: tokens carry the
//! episode's sequence number, so a token wakes its episode at most once, and a stale token
//! (from an episode that timed out or was cancelled) can never wake a later one. A `Token`
//! may be cloned and handed to several wakers (a `select` over many channels): only the
//! first `wake` succeeds and returns `true`.
//!
//! State word of a slot: `seq << 3 | phase`, phase one of IDLE, WAITING (armed, not yet
//! asleep), PARKED (asleep: the waker must reschedule it), NOTIFIED (woken) and TIMED_OUT
//! (ended by its deadline: `park_until` returns `false`).
//!
//! Uses: `debug`, `fork`, `g`, `sched`, `shim`, `sysmon`, `timer`.

use crate::g::{Switch, G};
use crate::shim::{AtomicU64, Futex};
// Not shimmed: only the deadlock check reads these, never a modelled protocol.
use std::cell::Cell;
use std::num::NonZeroUsize;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicI32};
use std::time::Instant;

const IDLE: u64 = 0;
const WAITING: u64 = 1;
const PARKED: u64 = 2;
const NOTIFIED: u64 = 3;
const TIMED_OUT: u64 = 4;
const PHASE: u64 = 7;
const SHIFT: u32 = 3;
/// Rounds a plain thread spins and yields before it sleeps on its futex.
#[cfg(not(loom))]
const SPIN_ROUNDS: u32 = 20;

/// The park state word of one goroutine or thread.
#[derive(Debug)]
pub(crate) struct ParkSlot {
    state: AtomicU64,
}

impl ParkSlot {
    pub(crate) fn new_goroutine() -> Self {
        ParkSlot {
            state: AtomicU64::new(IDLE),
        }
    }

    /// Starts a new episode; returns its sequence number. `order` is the store's ordering:
    /// `SeqCst` for a thread, whose futex protocol orders it against wakers; `Release`
    /// for a goroutine (see [`prepare`]).
    fn arm(&self, order: std::sync::atomic::Ordering) -> u64 {
        let cur = self.state.load(Relaxed);
        assert!(
            cur & PHASE == IDLE,
            "gort: park::prepare called twice without park or cancel in between"
        );
        let seq = (cur >> SHIFT).wrapping_add(1) & (u64::MAX >> SHIFT);
        self.state.store(seq << SHIFT | WAITING, order);
        seq
    }

    /// Waker side: moves episode `seq` to `to` (NOTIFIED or TIMED_OUT). Returns the phase it
    /// was in when that took effect (WAITING or PARKED), or `None` if the token is stale or
    /// its episode already ended.
    fn notify(&self, seq: u64, to: u64) -> Option<u64> {
        let mut cur = self.state.load(Acquire);
        loop {
            let phase = cur & PHASE;
            if cur >> SHIFT != seq || !(phase == WAITING || phase == PARKED) {
                return None;
            }
            let new = seq << SHIFT | to;
            match self.state.compare_exchange_weak(cur, new, SeqCst, Acquire) {
                Ok(_) => return Some(phase),
                Err(c) => cur = c,
            }
        }
    }

    /// Owner side: WAITING -> PARKED. Fails if the episode already ended.
    pub(crate) fn commit(&self) -> bool {
        let cur = self.state.load(Acquire);
        if cur & PHASE != WAITING {
            return false;
        }
        let parked = (cur & !PHASE) | PARKED;
        self.state
            .compare_exchange(cur, parked, SeqCst, Acquire)
            .is_ok()
    }

    /// Owner side: ends the episode (after a wake-up, a timeout, or withdrawing it).
    /// Returns whether a wake-up (not a timeout) had arrived.
    fn disarm(&self) -> bool {
        let cur = self.state.load(Acquire);
        let ended = |s: u64| {
            self.state.store(s & !PHASE, Release);
            s & PHASE == NOTIFIED
        };
        match cur & PHASE {
            NOTIFIED | TIMED_OUT => ended(cur),
            IDLE => false,
            _ => match self
                .state
                .compare_exchange(cur, cur & !PHASE, SeqCst, Acquire)
            {
                Ok(_) => false,
                Err(now) => ended(now),
            },
        }
    }

    /// Whether the episode is armed or asleep, not yet woken (racy; for `crate::debug`).
    pub(crate) fn is_parked(&self) -> bool {
        matches!(self.state.load(Relaxed) & PHASE, WAITING | PARKED)
    }

    fn is(&self, seq_phase: u64) -> bool {
        self.state.load(SeqCst) == seq_phase
    }

    fn phase(&self) -> u64 {
        self.state.load(Acquire) & PHASE
    }

    fn seq(&self) -> u64 {
        self.state.load(Acquire) >> SHIFT
    }
}

/// Bytes of a goroutine's or thread's [`scratch`] space (aligned to 8): with the park state
/// word, one cache line of the goroutine's control block. A record kept there must fit
/// (check it with a `const` assertion next to the record's type).
pub const SCRATCH_BYTES: usize = 56;

/// Room for the record of the one blocking operation a goroutine or thread has in
/// progress (Go's `sudog`), kept next to its park state: whoever completes the operation
/// touches the parker's control block to wake it anyway, and not its stack, which for
/// thousands of parked goroutines is thousands of cold pages.
#[repr(C, align(8))]
pub(crate) struct Scratch(std::cell::UnsafeCell<std::mem::MaybeUninit<[u8; SCRATCH_BYTES]>>);

impl Scratch {
    pub(crate) const fn new() -> Self {
        Scratch(std::cell::UnsafeCell::new(std::mem::MaybeUninit::uninit()))
    }
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scratch")
    }
}

// SAFETY: the space is raw bytes; who may touch them, and when, is the contract of
// `scratch`'s caller (one blocking operation at a time, its own synchronisation).
unsafe impl Sync for Scratch {}

/// A plain thread's park slot: the state word, the futex the thread sleeps on, and its
/// scratch space; and for sysmon's deadlock check, which thread holds the slot and whether
/// its current park has a deadline.
#[derive(Debug)]
pub(crate) struct ThreadSlot {
    park: ParkSlot,
    futex: Futex,
    scratch: Scratch,
    /// Kernel thread id of the thread holding this slot (0 while the slot is free).
    #[cfg_attr(loom, allow(dead_code))]
    tid: AtomicI32,
    /// Whether the current episode sleeps with a deadline (written by the owner before it
    /// commits to PARKED; read by the deadlock check after it sees PARKED).
    timed: AtomicBool,
}

impl ThreadSlot {
    fn new() -> ThreadSlot {
        ThreadSlot {
            park: ParkSlot {
                state: AtomicU64::new(IDLE),
            },
            futex: Futex::new(0),
            scratch: Scratch::new(),
            tid: AtomicI32::new(0),
            timed: AtomicBool::new(false),
        }
    }
}

/// What the deadlock check sees of one plain thread that holds a park slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ThreadPark {
    /// Its kernel thread id.
    pub(crate) tid: i32,
    /// Its park state word: sequence number and phase. Sequence numbers only grow, so the
    /// same word read twice means the thread stayed in that one episode in between.
    pub(crate) state: u64,
    /// Asleep in gort with no deadline: it cannot act until somebody wakes it.
    pub(crate) stuck: bool,
}

/// Under loom no scheduler runs, so no deadlock check either.
#[cfg(loom)]
pub(crate) fn thread_parks(out: &mut Vec<ThreadPark>) {
    out.clear();
}

/// Every plain thread that holds a park slot now, as the deadlock check sees it: a thread
/// is `stuck` only while it sleeps in the park seam (PARKED, not woken yet) with no
/// deadline. A thread with a deadline will act again by itself, like a pending timer.
/// Fills `out` (cleared first, its capacity reused: no allocation once it has grown).
#[cfg(not(loom))]
pub(crate) fn thread_parks(out: &mut Vec<ThreadPark>) {
    out.clear();
    let all = slots::ALL.lock();
    out.extend(all.iter().filter_map(|t| {
        let tid = t.tid.load(SeqCst);
        if tid == 0 {
            return None;
        }
        let state = t.park.state.load(SeqCst);
        // `timed` is written before the SeqCst commit to PARKED that `state` shows, so
        // it is this episode's.
        let stuck = state & PHASE == PARKED && !t.timed.load(Relaxed);
        Some(ThreadPark { tid, state, stuck })
    }));
    out.sort_unstable();
}

/// What a [`Token`] wakes.
#[derive(Clone, Copy, Debug)]
enum Target {
    Goroutine(&'static G),
    Thread(&'static ThreadSlot),
}

/// A [`Target`] packed in one word, as a token holds it: the G's or the thread slot's
/// address, the low bit set for a thread (both are at least 8-byte aligned). A token is
/// then two plain words. As an enum with a one-byte tag it was three, and copies of a token
/// (and of `Option<Token>`, whose niche is the tag) moved the tag's padding and the pointer
/// as one odd 15-byte run of overlapping stores, which the next load of it could not take
/// from the store buffer: 20% of `Receiver::recv`'s samples in an unbuffered ping-pong
/// stalled there.
#[derive(Clone, Copy, PartialEq, Eq)]
struct TargetWord(NonZeroUsize);

const THREAD_BIT: usize = 1;
const _: () = assert!(std::mem::align_of::<G>() > THREAD_BIT);
const _: () = assert!(std::mem::align_of::<ThreadSlot>() > THREAD_BIT);

impl TargetWord {
    fn new(target: Target) -> TargetWord {
        let word = match target {
            Target::Goroutine(g) => g as *const G as usize,
            Target::Thread(t) => t as *const ThreadSlot as usize | THREAD_BIT,
        };
        TargetWord(NonZeroUsize::new(word).expect("references are not null"))
    }

    fn get(self) -> Target {
        let word = self.0.get();
        if word & THREAD_BIT == 0 {
            // SAFETY: made by `new` from a `&'static G` (the bit clear).
            Target::Goroutine(unsafe { &*(word as *const G) })
        } else {
            // SAFETY: made by `new` from a `&'static ThreadSlot` (the bit set).
            Target::Thread(unsafe { &*((word & !THREAD_BIT) as *const ThreadSlot) })
        }
    }
}

impl std::fmt::Debug for TargetWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// Wakes one park episode of one goroutine or thread. Cheap to clone (two words); only
/// the first `wake` of an episode takes effect.
#[derive(Clone, Debug)]
pub struct Token {
    target: TargetWord,
    seq: u64,
}

impl Token {
    /// Wakes the episode this token belongs to. Returns `true` if this call woke it, `false`
    /// if it was already woken, cancelled, timed out, or a later episode has begun.
    pub fn wake(&self) -> bool {
        self.end(NOTIFIED)
    }

    /// Ends the episode as timed out (what deadline timers do): the parker's `park_until`
    /// returns `false`. Returns `false` if the episode had already ended.
    pub fn expire(&self) -> bool {
        self.end(TIMED_OUT)
    }

    fn end(&self, to: u64) -> bool {
        match self.target.get() {
            Target::Goroutine(g) => match g.park.notify(self.seq, to) {
                Some(PARKED) => {
                    crate::sched::ready(g);
                    true
                }
                Some(_) => true,
                None => false,
            },
            Target::Thread(t) => match t.park.notify(self.seq, to) {
                Some(PARKED) => {
                    t.futex.word().store(1, SeqCst);
                    t.futex.wake_all();
                    true
                }
                Some(_) => true,
                None => false,
            },
        }
    }

    /// Ends the episode as woken like [`Token::wake`], but a parked goroutine is not made
    /// runnable here: it is added to `batch`, which readies it together with others.
    fn wake_into(&self, batch: &mut Batch) -> bool {
        match self.target.get() {
            Target::Goroutine(g) => match g.park.notify(self.seq, NOTIFIED) {
                Some(PARKED) => {
                    batch.push(g);
                    true
                }
                Some(_) => true,
                None => false,
            },
            Target::Thread(_) => self.wake(),
        }
    }

    /// Whether this token and `other` wake the same goroutine or thread.
    pub fn same_waiter(&self, other: &Token) -> bool {
        self.target == other.target
    }
}

/// Goroutines readied at once by [`wake_all`].
const BATCH: usize = 64;

/// Parked goroutines woken by [`wake_all`], not yet runnable.
struct Batch {
    gs: [Option<&'static G>; BATCH],
    len: usize,
}

impl Batch {
    fn push(&mut self, g: &'static G) {
        self.gs[self.len] = Some(g);
        self.len += 1;
        if self.len == BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.len > 0 {
            crate::sched::ready_batch(self.gs[..self.len].iter().map(|g| g.expect("filled slot")));
            self.len = 0;
        }
    }
}

/// Wakes every token of `tokens` (as [`Token::wake`] each), making the goroutines among them
/// runnable in batches: one run-queue operation and one wake-up of an idle M per batch
/// instead of one per goroutine (Go's `injectglist`). For whoever wakes many waiters at
/// once: closing a channel, cancelling a context tree.
pub fn wake_all(tokens: impl IntoIterator<Item = Token>) {
    let mut batch = Batch {
        gs: [None; BATCH],
        len: 0,
    };
    for t in tokens {
        t.wake_into(&mut batch);
    }
    batch.flush();
}

/// Why a goroutine waits: what Go's goroutine dumps print between the brackets
/// (`goroutine 17 [chan receive]:`), recorded by every park with the user's call site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[non_exhaustive]
pub enum WaitReason {
    /// A plain [`prepare`] + [`park`] (code built on the park seam directly).
    Park = 0,
    /// A channel receive.
    ChanReceive,
    /// A channel send.
    ChanSend,
    /// A `select!` or `Select`.
    Select,
    /// A select with no case that can ever fire (Go's `select {}`).
    SelectNoCases,
    /// `time::sleep` and friends.
    Sleep,
    /// A socket operation waiting on the netpoller.
    IoWait,
    /// `sync::Mutex::lock`.
    MutexLock,
    /// `sync::RwLock::read`.
    RwLockRead,
    /// `sync::RwLock::write`.
    RwLockWrite,
    /// `sync::WaitGroup::wait`.
    WaitGroupWait,
    /// `sync::Cond::wait`.
    CondWait,
    /// `sync::Semaphore::acquire` and other semaphore waits.
    Semacquire,
    /// `JoinHandle::join`.
    Join,
    /// Waiting for a context to be done (`sleep_ctx`, `Context::wait`).
    ContextDone,
}

impl WaitReason {
    const ALL: [WaitReason; 15] = [
        WaitReason::Park,
        WaitReason::ChanReceive,
        WaitReason::ChanSend,
        WaitReason::Select,
        WaitReason::SelectNoCases,
        WaitReason::Sleep,
        WaitReason::IoWait,
        WaitReason::MutexLock,
        WaitReason::RwLockRead,
        WaitReason::RwLockWrite,
        WaitReason::WaitGroupWait,
        WaitReason::CondWait,
        WaitReason::Semacquire,
        WaitReason::Join,
        WaitReason::ContextDone,
    ];

    /// The reason as Go's dumps spell it (`"chan receive"`, `"sync.Mutex.Lock"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::Park => "park",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::Select => "select",
            WaitReason::SelectNoCases => "select (no cases)",
            WaitReason::Sleep => "sleep",
            WaitReason::IoWait => "IO wait",
            WaitReason::MutexLock => "sync.Mutex.Lock",
            WaitReason::RwLockRead => "sync.RWMutex.RLock",
            WaitReason::RwLockWrite => "sync.RWMutex.Lock",
            WaitReason::WaitGroupWait => "sync.WaitGroup.Wait",
            WaitReason::CondWait => "sync.Cond.Wait",
            WaitReason::Semacquire => "semacquire",
            WaitReason::Join => "join",
            WaitReason::ContextDone => "context done",
        }
    }

    pub(crate) fn from_u8(v: u8) -> WaitReason {
        WaitReason::ALL
            .get(v as usize)
            .copied()
            .unwrap_or(WaitReason::Park)
    }
}

impl std::fmt::Display for WaitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Arms a park episode for the current goroutine (or plain thread) and returns the token
/// that ends it. Must be followed by [`park`], [`park_until`] or [`cancel`]. The wait is
/// recorded as [`WaitReason::Park`] at the caller's location; blocking operations use
/// [`prepare_for`].
#[track_caller]
pub fn prepare() -> Token {
    prepare_for(WaitReason::Park)
}

/// Like [`prepare`], recording why the goroutine waits and where: the location of the
/// first caller up the chain that is not `#[track_caller]` (the public blocking calls are,
/// so it is the user's call site). Costs three stores into the goroutine's control block;
/// nothing on a plain thread.
#[track_caller]
pub fn prepare_for(reason: WaitReason) -> Token {
    prepare_at(reason, std::panic::Location::caller())
}

/// Like [`prepare_for`], with the call site given (for code that captured the caller's
/// location before a closure, which cannot pass it on).
pub fn prepare_at(reason: WaitReason, at: &'static std::panic::Location<'static>) -> Token {
    crate::fork::check();
    match current() {
        // Release, not SeqCst (on x86 a plain store instead of an `xchg`, on every blocking
        // operation). What orders this store before a waker's look is how the token gets
        // there: every hand-over (a channel's, timer heap's, poll descriptor's, context's
        // or sync primitive's lock, a join handle's atomics) happens after this store in
        // this thread and synchronises with the waker, whose load then sees this episode
        // or later. A waker with a stale token may still load an older WAITING or PARKED
        // state, but its compare-exchange fails, since sequence numbers only grow. The
        // owner, and the M that commits the park, run on this goroutine's thread in order.
        Target::Goroutine(g) => {
            g.note_wait(reason as u8, at);
            if crate::debug::tracebacks() {
                crate::debug::record_backtrace(g);
            }
            Token {
                target: TargetWord::new(Target::Goroutine(g)),
                seq: g.park.arm(Release),
            }
        }
        Target::Thread(t) => {
            let _ = (reason, at);
            // The scheduler's own threads look like plain threads here (no goroutine runs
            // on them): a timer callback that blocked would stop every timer with it.
            crate::timer::check_may_block();
            Token {
                target: TargetWord::new(Target::Thread(t)),
                seq: t.park.arm(SeqCst),
            }
        }
    }
}

/// The current goroutine's (or plain thread's) scratch space: [`SCRATCH_BYTES`] bytes,
/// aligned to 8, uninitialised, in its control block next to its park state. Meant for
/// the record of a blocking operation that the waker reads and writes (Go keeps its
/// `sudog`s on the G for the same reason; `gort-chan`'s plain send and receive keep their
/// waiter here), so that waking a parked goroutine touches its control block only, not its
/// stack, which for thousands of parked goroutines is thousands of cold pages. Part of the
/// park seam's API for whoever builds a blocking operation on it.
///
/// # Safety
/// One user at a time: the caller must stop using the space, and make sure nobody else
/// (another thread that was handed a pointer into it) still can, before anything that may
/// call `scratch` again on this goroutine or thread runs. It stays valid for as long as the
/// goroutine or thread lives; a goroutine keeps it across its parks (its G moves between
/// threads with it).
pub unsafe fn scratch() -> *mut u8 {
    match current() {
        Target::Goroutine(g) => g.scratch.0.get().cast(),
        Target::Thread(t) => t.scratch.0.get().cast(),
    }
}

/// Hints the CPU to load the cache line at `addr`; never faults, whatever `addr` is. For a
/// waker about to touch a parked party's memory (its control block, the record in its
/// [`scratch`] space, a waiter on its stack), so that the miss overlaps with work before
/// it: the scheduler for the goroutine it runs next, a context tree's cancellation for the
/// receiver of the next channel it closes. Only a hint (nothing under loom or off x86_64).
#[inline(always)]
pub fn prefetch(addr: usize) {
    #[cfg(all(target_arch = "x86_64", not(loom)))]
    // SAFETY: a prefetch is only a hint: it never faults and does not change the program's
    // state, whatever the address; SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch(addr as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(all(target_arch = "x86_64", not(loom))))]
    let _ = addr;
}

/// Blocks until the token of the current episode is woken or expired (at once if it
/// already was).
/// In a goroutine the goroutine parks and its M runs others; on a plain thread the thread
/// sleeps.
pub fn park() {
    park_until(None);
}

/// Like [`park`], but gives up at `deadline`. Returns `true` if woken, `false` on timeout;
/// after a timeout the episode's tokens are dead (a late `wake` returns `false`).
///
/// A goroutine's deadline is a runtime timer; a thread's is its futex timeout.
pub fn park_until(deadline: Option<Instant>) -> bool {
    match current() {
        Target::Goroutine(g) => park_goroutine(g, deadline),
        Target::Thread(t) => park_thread(t, deadline, true),
    }
}

/// Like [`park_until`], but a plain thread goes to sleep at once instead of spinning first:
/// for callers that already spun on their own condition before arming the episode (a
/// channel operation on a buffered channel), where a second spin only adds wasted
/// `sched_yield`s. A goroutine parks exactly as with [`park_until`].
pub fn park_until_no_spin(deadline: Option<Instant>) -> bool {
    match current() {
        Target::Goroutine(g) => park_goroutine(g, deadline),
        Target::Thread(t) => park_thread(t, deadline, false),
    }
}

/// Withdraws the current episode without sleeping. Returns `true` if a wake-up had already
/// arrived (the caller decides what that means, e.g. a value was handed over).
pub fn cancel() -> bool {
    match current() {
        Target::Goroutine(g) => g.park.disarm(),
        Target::Thread(t) => t.park.disarm(),
    }
}

fn park_goroutine(g: &'static G, deadline: Option<Instant>) -> bool {
    assert!(
        g.park.phase() != IDLE,
        "gort: park called without park::prepare"
    );
    match deadline {
        None => {
            // The M commits WAITING -> PARKED after the switch (see sched::m), so a wake-up
            // can only reschedule us once we are fully off this stack.
            g.note_park_sp();
            g.suspend(Switch::Park);
            g.park.disarm() // `false` if the episode was ended by `Token::expire`
        }
        Some(d) => {
            if Instant::now() >= d {
                return g.park.disarm(); // a wake-up may already have arrived
            }
            let token = Token {
                target: TargetWord::new(Target::Goroutine(g)),
                seq: g.park.seq(),
            };
            let timer = crate::timer::add(d, crate::timer::Action::Expire(token));
            g.note_park_sp();
            g.suspend(Switch::Park);
            let woken = g.park.disarm();
            if woken {
                crate::timer::cancel(timer);
            }
            woken
        }
    }
}

fn park_thread(t: &'static ThreadSlot, deadline: Option<Instant>, spin: bool) -> bool {
    assert!(
        t.park.phase() != IDLE,
        "gort: park called without park::prepare"
    );
    let seq = t.park.seq();
    #[cfg(loom)]
    let _ = spin;
    // The waker is usually another thread that acts within microseconds (a channel partner):
    // spin a little, then yield, before paying for a futex sleep and wake-up (crossbeam's
    // `Backoff` does the same). We spin while the episode is still WAITING, not PARKED: a
    // waker that comes now only flips the state word and skips the futex wake syscall.
    // (Not under loom: the spin adds nothing to the protocol and explodes the model.)
    #[cfg(not(loom))]
    if spin {
        let waiting = seq << SHIFT | WAITING;
        for i in 0..SPIN_ROUNDS {
            if !t.park.is(waiting) {
                return t.park.disarm();
            }
            if i < SPIN_ROUNDS / 2 {
                for _ in 0..(1 << i.min(6)) {
                    std::hint::spin_loop();
                }
            } else {
                std::thread::yield_now();
            }
        }
    }
    t.futex.word().store(0, SeqCst);
    t.timed.store(deadline.is_some(), Relaxed);
    if !t.park.commit() {
        return t.park.disarm(); // woken before we slept
    }
    let parked = seq << SHIFT | PARKED;
    // Sleeping for real: if this park has no deadline, sysmon's deadlock check counts this
    // thread as unable to wake anyone, and if sysmon sleeps because the runtime is idle,
    // this may have been the last thread that could wake a goroutine: let it look again.
    #[cfg(not(loom))]
    if deadline.is_none() {
        crate::sysmon::thread_parked();
    }
    let woken = loop {
        let timeout = match deadline {
            None => None,
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    break t.park.disarm();
                }
                Some(d - now)
            }
        };
        t.futex.wait(0, timeout);
        t.futex.word().store(0, SeqCst);
        if !t.park.is(parked) {
            break t.park.disarm();
        }
    };
    woken
}

fn current() -> Target {
    match crate::sched::current_g() {
        Some(g) => Target::Goroutine(g),
        None => Target::Thread(thread_slot()),
    }
}

#[cfg(not(loom))]
mod slots {
    use super::*;
    use parking_lot::Mutex;

    /// Slots of exited threads, reused by new ones (slots are never freed, so stale tokens
    /// stay harmless: their sequence numbers never match again).
    static FREE: Mutex<Vec<&'static ThreadSlot>> = Mutex::new(Vec::new());
    /// Every slot ever made, for the deadlock check (`thread_parks`).
    pub(super) static ALL: Mutex<Vec<&'static ThreadSlot>> = Mutex::new(Vec::new());

    thread_local! {
        static SLOT: Cell<*const ThreadSlot> = const { Cell::new(std::ptr::null()) };
        static GUARD: SlotGuard = const { SlotGuard };
    }

    struct SlotGuard;
    impl Drop for SlotGuard {
        fn drop(&mut self) {
            let _ = SLOT.try_with(|c| {
                let p = c.replace(std::ptr::null());
                if !p.is_null() {
                    // SAFETY: non-null SLOT values are leaked `&'static ThreadSlot`s.
                    let slot = unsafe { &*p };
                    let tid = slot.tid.swap(0, SeqCst);
                    FREE.lock().push(slot);
                    // This thread is leaving: if it was the last one that could still wake
                    // a goroutine, sysmon's deadlock check must look again once it is gone.
                    crate::sysmon::thread_exiting(tid);
                }
            });
        }
    }

    #[inline(never)]
    pub(crate) fn thread_slot() -> &'static ThreadSlot {
        SLOT.with(|c| {
            let p = c.get();
            if !p.is_null() {
                // SAFETY: non-null SLOT values are leaked `&'static ThreadSlot`s.
                return unsafe { &*p };
            }
            let slot = FREE.lock().pop().unwrap_or_else(|| {
                let slot: &'static ThreadSlot = Box::leak(Box::new(ThreadSlot::new()));
                ALL.lock().push(slot);
                slot
            });
            // SAFETY: gettid has no preconditions.
            slot.tid.store(unsafe { libc::gettid() }, SeqCst);
            c.set(slot);
            // Register the guard that hands the slot back when the thread exits (during
            // thread teardown this fails and the slot simply stays with the thread).
            let _ = GUARD.try_with(|_| ());
            slot
        })
    }
}

#[cfg(loom)]
mod slots {
    use super::*;
    loom::thread_local! {
        static SLOT: Cell<*const ThreadSlot> = Cell::new(std::ptr::null());
    }
    pub(crate) fn thread_slot() -> &'static ThreadSlot {
        SLOT.with(|c| {
            if c.get().is_null() {
                c.set(Box::leak(Box::new(ThreadSlot::new())));
            }
            // SAFETY: set above to a leaked slot.
            unsafe { &*c.get() }
        })
    }
}

use slots::thread_slot;
