//! What the kernel says about another thread of this process: its CPU time and its run
//! state. Sysmon uses both to tell an M blocked in the kernel (in a `read`, a
//! `std::thread::sleep`, a contended `std::sync::Mutex`, a database driver) from one that
//! computes, without the user marking the call with `gort::syscall`.
//!
//! - CPU time: the thread's CPU-time clock. glibc's `pthread_getcpuclockid` builds its id
//!   from the thread's kernel id (`(~tid << 3) | CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED`, the
//!   encoding of Linux's `posix-timers.h`); building it here from the M's kernel thread id
//!   avoids keeping a `pthread_t` that would dangle once its thread exits (an M whose
//!   locked goroutine ended). A stale id reads another thread's clock or fails: harmless
//!   for a heuristic. Reading another thread's clock is a real system call (the vDSO only
//!   serves the caller's own), about a microsecond.
//! - Run state: field 3 of `/proc/self/task/TID/stat`: `S` (interruptible sleep) or `D`
//!   (uninterruptible, disk I/O) means blocked in the kernel; `R` is running or runnable
//!   (a preempted thread also has a still CPU clock, which is why the state is read too).

use std::time::Duration;

/// The CPU time thread `tid` (of this process) has used, or `None` if it cannot be read.
pub(crate) fn cpu_time(tid: i32) -> Option<Duration> {
    // CPUCLOCK_PERTHREAD_MASK (4) | CPUCLOCK_SCHED (2); see the module docs.
    let clock = ((!tid) << 3) | 6;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; an invalid clock id only fails (EINVAL).
    if unsafe { libc::clock_gettime(clock as libc::clockid_t, &mut ts) } != 0 {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Whether thread `tid` (of this process) is asleep in the kernel (state `S` or `D`).
pub(crate) fn asleep_in_kernel(tid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    // "tid (comm) S ...": the command name may contain spaces and parentheses.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    matches!(state, Some("S" | "D"))
}
