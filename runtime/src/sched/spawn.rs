//! Goroutine creation and teardown (Go's `newproc` and `goexit`), and the G and stack
//! caches that make both allocation-free in steady state.
//!
//! Uses: `coroutine`, `debug`, `fork`, `g`, `join`, `local`, `stack`; within `sched`: `sched` itself,
//! `sched::m`, `sched::p`.

use super::m::{self, M};
use super::p::{bump, CACHE_MAX, P};
use super::sched;
use crate::g::{Switch, G};
use crate::join::{JoinHandle, Packet};
use crate::stack::{self, Stack};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::sync::Arc;

/// Closures larger than this (bytes) are boxed rather than moved onto the stack they run
/// on, which is at least `stack::MIN_STACK_SIZE` (16 KiB).
const BIG_CLOSURE: usize = 1024;

/// Creates a goroutine running `f` and makes it runnable.
pub(crate) fn spawn<F, T>(
    f: F,
    name: Option<Arc<str>>,
    stack_size: Option<usize>,
    at: &'static std::panic::Location<'static>,
) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: `f` and its result are `'static`: they borrow nothing that could end.
    unsafe { spawn_unchecked(f, || {}, name, stack_size, at) }
}

/// Like [`spawn`], for a closure and result that may borrow, with `exit` run as the
/// goroutine's very last code: after its result was stored (or dropped, if the handle was
/// gone) and its handle's packet let go. [`crate::scope`] counts its goroutines there.
///
/// # Safety
/// Whatever `f`, its result and `exit` borrow must stay alive until `exit` has returned and
/// the returned handle is gone (joined, dropped, or leaked, in which case the result is
/// never dropped). `exit` must not unwind.
pub(crate) unsafe fn spawn_unchecked<'a, F, T, E>(
    f: F,
    exit: E,
    name: Option<Arc<str>>,
    stack_size: Option<usize>,
    at: &'static std::panic::Location<'static>,
) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
    E: FnOnce() + Send + 'a,
{
    if std::mem::size_of::<F>() > BIG_CLOSURE {
        // The closure is moved to the top of the new stack; one that would take a good
        // part of it goes there boxed instead.
        let boxed: Box<dyn FnOnce() -> T + Send + 'a> = Box::new(f);
        // SAFETY: the caller's contract, passed on unchanged.
        return unsafe { spawn_unchecked(boxed, exit, name, stack_size, at) };
    }
    crate::fork::check();
    let s = sched();
    if s.exiting.load(Relaxed) {
        return Err(io::Error::other(
            "gort: cannot spawn a goroutine: the process is exiting, so the runtime has stopped",
        ));
    }
    let size = stack_size.map_or_else(stack::default_stack_size, stack::round_size);
    let (handle, requeue) = m::with_p(|p| -> io::Result<_> {
        let stack = get_stack(p, size)?;
        let (g, packet) = get_g(p);
        let id = match p {
            Some(p) => p.next_goid(&s.goid),
            None => s.goid.fetch_add(1, Relaxed),
        };
        g.id.store(id, Relaxed);
        // The G and the packet are free and not yet published: we own all of them.
        // SAFETY: as just said.
        unsafe { packet.arm(name.clone()) };
        g.set_name(name);
        g.spawned_at.store(at as *const _ as *mut _, Relaxed);
        g.wait_reason.store(0, Relaxed);
        g.wait_at.store(std::ptr::null_mut(), Relaxed);
        g.in_syscall.store(false, Relaxed);
        g.stack_top.store(stack.range().1, Relaxed);
        g.park_sp.store(0, Relaxed);
        // Last: `crate::debug` lists the G from here on.
        g.packet
            .store(packet as *const Packet as *mut Packet, Release);

        // The goroutine's first code: the first switch to it passes its M.
        let body = move |msg: usize| {
            g.resumed(msg);
            let result = catch_unwind(AssertUnwindSafe(f));
            crate::local::drop_all(g);
            let detached = packet.detached();
            if detached {
                // The JoinHandle is gone: drop the result here, in goroutine context.
                let _ = catch_unwind(AssertUnwindSafe(|| drop(result)));
            } else {
                // SAFETY: the result slot is ours until `end_packet` publishes DONE.
                unsafe { packet.store(result) };
            }
            end_packet(g, packet, detached);
            exit();
            g.exit()
        };
        // SAFETY: the stack is ours and unused (fresh from the caches), and stays with the
        // G until `goexit`, after the goroutine's last switch; the G is not yet published.
        // What the body borrows outlives its run (this function's contract).
        unsafe {
            g.ctx.init(stack.range().1, body);
            *g.stack.get() = Some(stack);
        }

        let handle = JoinHandle::new(packet, id);
        let requeue = match p {
            Some(p) => {
                bump(&p.counters.spawned);
                p.runq_put(g, true, &s.global);
                // Unlike a wake-up, a new goroutine always calls for another M: `go f()`
                // followed by more work is how Go code asks for parallelism.
                s.wakep();
                p.runq_full()
            }
            None => {
                s.spawned_off_p.fetch_add(1, Relaxed);
                s.global.push(g);
                s.wakep();
                false
            }
        };
        Ok((handle, requeue))
    })?;
    if requeue {
        // Spawn storm back-pressure: rather than let the ring overflow into the global
        // queue (where a million cold goroutines would wait, each stack page evicted long
        // before it runs), the spawner steps aside to the global queue and this P runs the
        // goroutines it just made while they are hot.
        if let Some(me) = m::current_g() {
            me.suspend(Switch::Requeue);
        }
    }
    Ok(handle)
}

/// The end of a goroutine as its handle sees it, on the goroutine's own stack, after its
/// result is stored: the G stops naming the packet (`crate::debug` no longer lists it), the
/// result is published (a joiner wakes), the exit hooks run, and the goroutine lets go of
/// the packet (the last owner drops a result nobody took). The user code among these
/// (hooks, that drop) thus runs in goroutine context on the goroutine's own stack, as the
/// goroutine's last work, before `goexit` frees the stack from the next goroutine or g0.
///
/// The goroutine is counted as ended here, before its result is published: a caller whose
/// `join` returned sees it gone from `gort::stats().goroutines`. (It was counted in
/// `goexit`, which may run after the joiner woke: `stats` right after the last `join` could
/// still count it.)
///
/// `detached`: the handle was already gone before the result would have been stored, so
/// nobody can ever join (the packet's count only falls): the packet is freed directly.
fn end_packet(g: &G, packet: &'static Packet, detached: bool) {
    g.packet.store(std::ptr::null_mut(), Relaxed);
    m::with_p(|p| match p {
        Some(p) => bump(&p.counters.exited),
        None => {
            sched().exited_off_p.fetch_add(1, Relaxed);
        }
    });
    if detached {
        packet.finish_detached();
    } else {
        packet.finish();
        packet.release();
    }
}

/// Frees a goroutine that ended (its last switch left its stack): the stack and the G go
/// back to the caches. Runs on g0 or, after a direct switch, on the goroutine that runs
/// next (`sched::m::exit_direct`); no user code runs here. Returns `false` if the M must
/// exit because the goroutine ended while locked to it.
pub(crate) fn goexit(mm: &'static M, g: &'static G) -> bool {
    if crate::debug::tracebacks() {
        crate::debug::forget_backtrace(g.id.load(Relaxed));
    }
    let p = mm.p_on_g0();
    // SAFETY: the coroutine finished on this M; nobody else refers to it.
    let stack = unsafe { (*g.stack.get()).take() }.expect("gort: finished G without a stack");
    put_stack(p, stack);
    let was_locked = g.lock_count.get() > 0;
    g.lock_count.set(0);
    g.locked_m.set(None);

    recycle_g(g);
    if was_locked {
        return m::drop_locked(mm);
    }
    true
}

/// Free Gs and join packets: a P's cache, or the lists shared between Ps.
#[derive(Default)]
pub(crate) struct FreeGs {
    gs: Vec<&'static G>,
    packets: Vec<&'static Packet>,
}

impl FreeGs {
    /// Moves all of `other`'s entries here.
    pub(crate) fn append(&mut self, other: &mut FreeGs) {
        self.gs.append(&mut other.gs);
        self.packets.append(&mut other.packets);
    }
}

/// Puts a free entry in this P's cache (`list` picks which), spilling half of the cache
/// to the global lists when it holds more than [`CACHE_MAX`]; off a P, in the global lists.
fn recycle<T>(x: &'static T, list: fn(&mut FreeGs) -> &mut Vec<&'static T>) {
    m::with_p(|p| match p {
        Some(p) => p.with_gfree(|free| {
            let local = list(free);
            local.push(x);
            if local.len() > CACHE_MAX {
                let half = local.len() / 2;
                list(&mut sched().gfree.lock()).extend(local.drain(..half));
            }
        }),
        None => list(&mut sched().gfree.lock()).push(x),
    })
}

/// A G whose goroutine ended goes back to a free list.
fn recycle_g(g: &'static G) {
    g.set_name(None);
    recycle(g, |f| &mut f.gs);
}

/// A packet whose last owner let go goes back to a free list (`Packet::release`).
pub(crate) fn recycle_packet(packet: &'static Packet) {
    recycle(packet, |f| &mut f.packets);
}

/// How many Gs (and join packets) are allocated at once when every free list is empty: a
/// spawn storm of fresh goroutines otherwise paid a `malloc` per G and per packet, and the
/// allocator grew its heap with one `mprotect` per 4 KiB (a system call every ten
/// goroutines, on the spawner's thread). The rest of a batch goes to the free lists.
const ALLOC_BATCH: usize = 64;

/// Takes a free G and a free packet: from this P's cache, refilled with up to half a cache
/// from the global lists when empty; off a P, from the global lists. Allocates what none of
/// them has, a batch at a time.
fn get_g(p: Option<&P>) -> (&'static G, &'static Packet) {
    let (g, packet) = match p {
        None => {
            let mut global = sched().gfree.lock();
            (global.gs.pop(), global.packets.pop())
        }
        Some(p) => p.with_gfree(|free| {
            if free.gs.is_empty() || free.packets.is_empty() {
                let mut global = sched().gfree.lock();
                refill(&mut free.gs, &mut global.gs);
                refill(&mut free.packets, &mut global.packets);
            }
            (free.gs.pop(), free.packets.pop())
        }),
    };
    (
        g.unwrap_or_else(|| fresh(p, G::alloc_batch, |f| &mut f.gs)),
        packet.unwrap_or_else(|| fresh(p, Packet::alloc_batch, |f| &mut f.packets)),
    )
}

/// Allocates a batch with `alloc`, returns one of it and puts the rest in the free list
/// that `list` picks: this P's cache, or the global lists off a P.
fn fresh<T>(
    p: Option<&P>,
    alloc: fn(usize) -> Vec<&'static T>,
    list: fn(&mut FreeGs) -> &mut Vec<&'static T>,
) -> &'static T {
    let mut batch = alloc(ALLOC_BATCH);
    let one = batch.pop().expect("gort: an empty allocation batch");
    match p {
        Some(p) => p.with_gfree(|free| list(free).append(&mut batch)),
        None => list(&mut sched().gfree.lock()).append(&mut batch),
    }
    one
}

/// An empty cache takes up to half a cache from the global list.
fn refill<T>(local: &mut Vec<T>, global: &mut Vec<T>) {
    if local.is_empty() {
        let n = global.len().min(CACHE_MAX / 2);
        let at = global.len() - n;
        local.extend(global.drain(at..));
    }
}

fn get_stack(p: Option<&P>, size: usize) -> io::Result<Stack> {
    if size != stack::default_stack_size() {
        return stack::alloc_owned(size);
    }
    let st = match p {
        None => {
            let mut one = Vec::with_capacity(1);
            stack::take_batch(size, 1, &mut one)?;
            one.pop().expect("take_batch returned no stack")
        }
        Some(p) => p.with_stacks(|cache| -> io::Result<Stack> {
            while let Some(st) = cache.pop() {
                if st.size() == size {
                    return Ok(st);
                }
                stack::release(st); // left over from an earlier default size
            }
            stack::take_batch(size, stack::BATCH, cache)?;
            Ok(cache.pop().expect("take_batch returned no stack"))
        })?,
    };
    // Tell the scavenger this stack is in use (waits if it is releasing its pages now).
    st.acquire();
    Ok(st)
}

fn put_stack(p: Option<&P>, st: Stack) {
    match p {
        Some(p) if st.pooled() && st.size() == stack::default_stack_size() => {
            // Idle from now on: the scavenger releases its pages if it stays unused for a
            // scavenger period (see `stack::scavenge`); reused sooner, it keeps them.
            st.set_idle();
            p.with_stacks(|cache| {
                cache.push(st);
                if cache.len() > CACHE_MAX {
                    stack::give_batch(cache.drain(..CACHE_MAX / 2));
                }
            })
        }
        _ => stack::release(st),
    }
}

/// Moves a retired P's caches to the global pools.
pub(crate) fn flush_caches(p: &P) {
    p.with_gfree(|free| sched().gfree.lock().append(free));
    p.with_stacks(|cache| stack::give_batch(cache.drain(..)));
}
