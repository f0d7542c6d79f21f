//! Goroutine creation and teardown (Go's `newproc` and `goexit`), and the G and stack
//! caches that make both allocation-free in steady state.
//!
//! Uses: `debug`, `fork`, `g`, `join`, `local`, `stack`; within `sched`: `sched` itself,
//! `sched::m`, `sched::p`.

use super::m::{self, M};
use super::p::{bump, CACHE_MAX, P};
use super::sched;
use crate::g::{Co, GYielder, Switch, G};
use crate::join::{self, JoinHandle, DONE, RUNNING, WAITING};
use crate::stack::{self, Stack};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::sync::Arc;

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
        let g = get_g(p);
        let id = match p {
            Some(p) => p.next_goid(&s.goid),
            None => s.goid.fetch_add(1, Relaxed),
        };
        g.id.store(id, Relaxed);
        // The G is free (refs == 0) and not yet published: we own all of it.
        g.set_name(name);
        g.spawned_at.store(at as *const _ as *mut _, Relaxed);
        g.wait_reason.store(0, Relaxed);
        g.wait_at.store(std::ptr::null_mut(), Relaxed);
        g.refs.store(2, Relaxed); // the goroutine and its JoinHandle
        g.join_state.store(RUNNING, Release);
        g.has_exit_hooks.store(false, Relaxed);
        g.in_syscall.store(false, Relaxed);
        g.stack_top.store(stack.range().1, Relaxed);
        g.park_sp.store(0, Relaxed);

        let co = Co::with_stack(stack, move |y: &GYielder, ()| {
            g.yielder.set(y);
            let result = catch_unwind(AssertUnwindSafe(f));
            crate::local::drop_all(g);
            if g.refs.load(Acquire) == 1 {
                // Detached (the JoinHandle is gone): drop the result here, in goroutine
                // context.
                let _ = catch_unwind(AssertUnwindSafe(|| drop(result)));
            } else {
                // SAFETY: the join slot is ours until `goexit` publishes DONE.
                unsafe { join::store(g, result) };
            }
        });
        // SAFETY: as above, the G is not yet published.
        unsafe { *g.co.get() = Some(co) };

        let handle = JoinHandle::new(g, id);
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

/// Finishes a goroutine whose coroutine returned (runs on g0). Returns `false` if the M
/// must exit because the goroutine ended while locked to it.
pub(crate) fn goexit(mm: &'static M, g: &'static G) -> bool {
    if crate::debug::tracebacks() {
        crate::debug::forget_backtrace(g.id.load(Relaxed));
    }
    let p = mm.p_on_g0();
    // SAFETY: the coroutine finished on this M; nobody else refers to it.
    let co = unsafe { (*g.co.get()).take() }.expect("gort: finished G without coroutine");
    put_stack(p, co.into_stack());
    match p {
        Some(p) => bump(&p.counters.exited),
        None => {
            sched().exited_off_p.fetch_add(1, Relaxed);
        }
    }
    let was_locked = g.lock_count.get() > 0;
    g.lock_count.set(0);
    g.locked_m.set(None);

    // SeqCst: against `JoinHandle::on_finish`, which sets `has_exit_hooks` and then reads
    // the state; one of the two sees the other.
    if g.join_state.swap(DONE, SeqCst) == WAITING {
        // SAFETY: the joiner stored its token before its CAS to WAITING, which our swap
        // observed; it does not touch the slot again.
        if let Some(token) = unsafe { (*g.joiner.get()).take() } {
            token.wake();
        }
    }
    if g.has_exit_hooks.load(SeqCst) {
        let hooks = std::mem::take(&mut *g.exit_hooks.lock());
        for hook in hooks {
            if catch_unwind(AssertUnwindSafe(hook)).is_err() {
                eprintln!("gort: a goroutine's exit callback panicked (ignored)");
            }
        }
    }
    release(g);
    if was_locked {
        return m::drop_locked(mm);
    }
    true
}

/// Drops one reference to `g`; the last one recycles it.
pub(crate) fn release(g: &'static G) {
    if g.refs.fetch_sub(1, AcqRel) != 1 {
        return;
    }
    if let Some(drop_result) = g.drop_result.take() {
        // SAFETY: `drop_result` is set only while the slot holds an untaken result.
        unsafe { drop_result(g.result.get()) };
    }
    g.set_name(None);
    // SAFETY: no references remain; we own the G.
    unsafe { *g.joiner.get() = None };
    m::with_p(|p| match p {
        Some(p) => p.with_gfree(|free| {
            free.push(g);
            if free.len() > CACHE_MAX {
                let half = free.len() / 2;
                sched().gfree.lock().extend(free.drain(..half));
            }
        }),
        None => sched().gfree.lock().push(g),
    })
}

fn get_g(p: Option<&P>) -> &'static G {
    let Some(p) = p else {
        return sched().gfree.lock().pop().unwrap_or_else(G::alloc);
    };
    p.with_gfree(|free| {
        if free.is_empty() {
            let mut global = sched().gfree.lock();
            let n = global.len().min(CACHE_MAX / 2);
            let at = global.len() - n;
            free.extend(global.drain(at..));
        }
        free.pop()
    })
    .unwrap_or_else(G::alloc)
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
