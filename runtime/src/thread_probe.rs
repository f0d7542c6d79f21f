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
//!
//! Uses no other module of the crate.

use std::time::Duration;

/// The CPU time thread `tid` (of this process) has used, or `None` if it cannot be read.
pub(crate) fn cpu_time(tid: i32) -> Option<Duration> {
    // CPUCLOCK_PERTHREAD_MASK (4) | CPUCLOCK_SCHED (2); see the module docs.
    read_clock(((!tid) << 3) | 6)
}

/// CPU time this process has used, less the calling thread's: what every other thread,
/// live or gone, used (sysmon's deadlock check). `None` if a clock cannot be read.
pub(crate) fn others_cpu_time() -> Option<Duration> {
    // The thread's own first: what it uses between the two reads then counts as the
    // others' (a few hundred nanoseconds), never the other way round.
    let mine = read_clock(libc::CLOCK_THREAD_CPUTIME_ID)?;
    let all = read_clock(libc::CLOCK_PROCESS_CPUTIME_ID)?;
    Some(all.saturating_sub(mine))
}

/// Reads `clock`, or `None` if it cannot be read (an invalid id only fails with EINVAL).
fn read_clock(clock: libc::clockid_t) -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    (unsafe { libc::clock_gettime(clock, &mut ts) } == 0)
        .then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Whether thread `tid` (of this process) is asleep in the kernel (state `S` or `D`).
/// Allocates nothing (sysmon calls it while the program runs).
pub(crate) fn asleep_in_kernel(tid: i32) -> bool {
    let mut path = [0u8; 48];
    let mut buf = [0u8; 512];
    let Some(n) = read_small(task_path(tid, b"/stat", &mut path), &mut buf) else {
        return false;
    };
    let stat = &buf[..n];
    // "tid (comm) S ...": the command name may contain spaces and parentheses.
    let Some(close) = stat.iter().rposition(|&b| b == b')') else {
        return false;
    };
    matches!(stat.get(close + 2), Some(b'S' | b'D'))
}

/// Whether thread `tid` still exists in this process. Allocates nothing.
pub(crate) fn exists(tid: i32) -> bool {
    let mut path = [0u8; 48];
    let path = task_path(tid, b"", &mut path);
    // SAFETY: `path` is NUL-terminated; access(2) only reads it.
    unsafe { libc::access(path.as_ptr(), libc::F_OK) == 0 }
}

/// Every thread of this process (kernel thread ids, sorted) into `out`, which is cleared
/// first and keeps its capacity: no allocation by Rust's allocator once it has grown (the
/// directory stream is libc's). `false` if `/proc/self/task` cannot be read.
pub(crate) fn process_tids(out: &mut Vec<i32>) -> bool {
    out.clear();
    // SAFETY: a NUL-terminated path; the stream is closed below.
    let dir = unsafe { libc::opendir(c"/proc/self/task".as_ptr()) };
    if dir.is_null() {
        return false;
    }
    loop {
        // SAFETY: `dir` is an open stream; the entry is valid until the next readdir.
        let entry = unsafe { libc::readdir(dir) };
        if entry.is_null() {
            break;
        }
        // SAFETY: `d_name` is a NUL-terminated name inside the entry.
        let name = unsafe { std::ffi::CStr::from_ptr((*entry).d_name.as_ptr()) };
        let tid = name.to_bytes().iter().try_fold(0i32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + (b - b'0') as i32)
        });
        if let Some(tid) = tid.filter(|&t| t > 0) {
            out.push(tid);
        }
    }
    // SAFETY: closing the stream opened above.
    unsafe { libc::closedir(dir) };
    out.sort_unstable();
    true
}

/// `/proc/self/task/TID` + `suffix`, NUL-terminated, in `buf`.
fn task_path<'a>(tid: i32, suffix: &[u8], buf: &'a mut [u8; 48]) -> &'a std::ffi::CStr {
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        buf[n..n + bytes.len()].copy_from_slice(bytes);
        n += bytes.len();
    };
    put(b"/proc/self/task/");
    let mut digits = [0u8; 10];
    let mut d = digits.len();
    let mut t = tid.unsigned_abs();
    loop {
        d -= 1;
        digits[d] = b'0' + (t % 10) as u8;
        t /= 10;
        if t == 0 {
            break;
        }
    }
    put(&digits[d..]);
    put(suffix);
    put(b"\0");
    std::ffi::CStr::from_bytes_with_nul(&buf[..n]).expect("one NUL, at the end")
}

/// Reads up to `buf.len()` bytes of a small file; the count, or `None` on error.
fn read_small(path: &std::ffi::CStr, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: a NUL-terminated path; the descriptor is closed below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: reading into a live buffer of the given length.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    usize::try_from(n).ok()
}
