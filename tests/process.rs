//! The process around the runtime: the listen backlog, the open-file limit, and `fork()`.

mod common;
use common::{child_ok, is_child, within};
use std::time::Duration;

/// The kernel's `somaxconn`, which listeners use as their backlog.
fn somaxconn() -> usize {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(128)
}

/// A listener that accepts nothing still completes every connect up to its backlog: the
/// kernel's `somaxconn`, as in Go (std's 128 refused the rest: 129 of 1000 completed).
#[test]
fn a_listener_that_accepts_nothing_queues_somaxconn_connects() {
    let n = somaxconn().min(1000) - 1;
    if n < 200 {
        eprintln!("somaxconn is {}: too small to tell 128 from it", n + 1);
        return;
    }
    within(120, move || {
        let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let completed = gort::run(move || {
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    gort::go(move || {
                        gort::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10))
                    })
                })
                .collect();
            let conns: Vec<_> = hs
                .into_iter()
                .filter_map(|h| h.join().unwrap().ok())
                .collect();
            conns.len()
        });
        drop(l);
        assert_eq!(completed, n, "connects that completed without an accept");
    });
}

#[test]
fn bind_with_backlog_sets_the_backlog() {
    within(60, || {
        let l = gort::net::TcpListener::bind_with_backlog("127.0.0.1:0", 5).unwrap();
        let addr = l.local_addr().unwrap();
        // Connects beyond the backlog wait for a SYN retransmission (a second or more):
        // with a short timeout, fewer than all complete.
        let completed = gort::run(move || {
            let hs: Vec<_> = (0..40)
                .map(|_| {
                    gort::go(move || {
                        gort::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300))
                    })
                })
                .collect();
            hs.into_iter()
                .filter_map(|h| h.join().unwrap().ok())
                .count()
        });
        drop(l);
        assert!(
            completed < 40,
            "all 40 connects completed with a backlog of 5"
        );
        assert!(completed >= 5, "only {completed} connects completed");
    });
}

fn nofile() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into `lim`.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    (lim.rlim_cur, lim.rlim_max)
}

/// Lowers this process's soft open-file limit to 256 (in a child process, before gort
/// starts); `false` if the hard limit leaves nothing to raise.
fn lower_nofile() -> bool {
    let (_, hard) = nofile();
    if hard <= 256 {
        eprintln!("the hard open-file limit is {hard}: nothing to raise");
        return false;
    }
    let lowered = libc::rlimit {
        rlim_cur: 256,
        rlim_max: hard,
    };
    // SAFETY: a valid rlimit; lowering the soft limit needs no privilege.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);
    true
}

/// The runtime raises the soft open-file limit to the hard one when it starts, as Go does,
/// so a server does not fail with EMFILE at 1024 connections.
#[test]
fn the_runtime_raises_the_open_file_limit() {
    const NAME: &str = "the_runtime_raises_the_open_file_limit";
    if !is_child(NAME) {
        return child_ok(NAME, &[]);
    }
    if !lower_nofile() {
        return;
    }
    gort::run(|| ());
    let (soft, hard) = nofile();
    assert_eq!(soft, hard);
}

#[test]
fn gort_rlimit_nofile_keep_leaves_the_limit_alone() {
    const NAME: &str = "gort_rlimit_nofile_keep_leaves_the_limit_alone";
    if !is_child(NAME) {
        return child_ok(NAME, &[("GORT_RLIMIT_NOFILE", "keep")]);
    }
    if !lower_nofile() {
        return;
    }
    gort::run(|| ());
    assert_eq!(nofile().0, 256);
}

/// Forks a child that then calls into gort (`in_child`), and returns its exit status and
/// what it wrote to stderr; `None` if it hung.
fn fork_and_call_gort(in_child: fn()) -> Option<(i32, String)> {
    let mut pipe = [0; 2];
    // SAFETY: pipe() fills the two descriptors.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    // SAFETY: the child only redirects its stderr and calls `in_child`, which must end it.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: dup2 onto stderr in the child.
        unsafe { libc::dup2(pipe[1], 2) };
        in_child();
        // SAFETY: _exit never returns; 0 means the gort call returned.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(pipe[1]) };
    let start = std::time::Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break;
        }
        if start.elapsed() > Duration::from_secs(30) {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut err = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        // SAFETY: reading into a live buffer.
        let n = unsafe { libc::read(pipe[0], buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        err.extend_from_slice(&buf[..n as usize]);
    }
    // SAFETY: closing the read end.
    unsafe { libc::close(pipe[0]) };
    Some((
        libc::WEXITSTATUS(status),
        String::from_utf8_lossy(&err).into_owned(),
    ))
}

fn check_fatal(r: Option<(i32, String)>) {
    let (code, err) = r.expect("the forked child hung");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("fatal error") && err.contains("fork"), "{err}");
}

/// A child of `fork()` (without exec) that calls into gort gets a fatal error, not a hang:
/// from the main thread (it hung every time) and from a goroutine (2 times in 10).
#[test]
fn fork_without_exec_is_a_fatal_error_in_the_child() {
    const NAME: &str = "fork_without_exec_is_a_fatal_error_in_the_child";
    if !is_child(NAME) {
        return child_ok(NAME, &[]);
    }
    for _ in 0..10 {
        // The runtime is running (threads exist) when the process forks.
        gort::run(|| gort::go(|| 1).join().unwrap());
        check_fatal(fork_and_call_gort(|| {
            gort::run(|| 1);
        }));
        check_fatal(fork_and_call_gort(|| {
            let (_tx, rx) = gort::chan::bounded::<u32>(0);
            let _ = rx.recv();
        }));
        let r = gort::run(|| {
            fork_and_call_gort(|| {
                let (tx, rx) = gort::chan::bounded::<u32>(0);
                let _g = gort::go(move || tx.send(1));
                let _ = rx.recv();
            })
        });
        check_fatal(r);
    }
}
