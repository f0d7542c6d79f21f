//! `gort::debug`: every goroutine with its state, wait reason, call site and spawn site;
//! the grouped dump; backtraces and the scheduler detail on request.

mod common;
use common::{child, is_child, within};
use gort::debug::{self, GoroutineState};
use gort::park::WaitReason;
use std::sync::Arc;
use std::time::Duration;

/// Waits until goroutine `id` is parked, and returns what `goroutines` says of it.
fn parked(id: u64) -> debug::GoroutineInfo {
    loop {
        let info = debug::goroutines().into_iter().find(|g| g.id == id);
        match info {
            Some(g) if g.state == GoroutineState::Waiting => return g,
            _ => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

#[test]
fn a_parked_goroutine_shows_why_and_where_it_waits() {
    within(60, || {
        let m = Arc::new(gort::sync::Mutex::new(()));
        let held = m.lock();
        let m2 = m.clone();
        let lock_line = line!() + 1;
        let f = move || drop(m2.lock());
        let spawn_line = line!() + 1;
        let h = gort::Builder::new().name("locker").spawn(f).unwrap();
        let g = parked(h.id());
        assert_eq!(g.wait_reason, Some(WaitReason::MutexLock));
        assert_eq!(g.name.as_deref(), Some("locker"));
        let at = g.location.expect("a call site");
        assert_eq!(at.file(), file!());
        assert_eq!(at.line(), lock_line);
        assert_eq!(g.spawned_at.expect("a spawn site").line(), spawn_line);
        assert!(g.waiting.is_some());
        drop(held);
        let id = h.id();
        h.join().unwrap();
        assert!(!debug::goroutines().iter().any(|g| g.id == id));
    });
}

#[test]
fn wait_reasons_of_runtime_calls() {
    within(60, || {
        let wg = Arc::new(gort::sync::WaitGroup::new());
        wg.add(1);
        let w = wg.clone();
        let waiter = gort::go(move || w.wait());
        assert_eq!(
            parked(waiter.id()).wait_reason,
            Some(WaitReason::WaitGroupWait)
        );

        let sem = Arc::new(gort::sync::Semaphore::new(1));
        sem.acquire(1);
        let s = sem.clone();
        let acquirer = gort::go(move || s.acquire(1));
        assert_eq!(
            parked(acquirer.id()).wait_reason,
            Some(WaitReason::Semacquire)
        );

        let joiner = gort::go(move || waiter.join().unwrap());
        assert_eq!(parked(joiner.id()).wait_reason, Some(WaitReason::Join));

        wg.done();
        sem.release(1);
        joiner.join().unwrap();
        acquirer.join().unwrap();
    });
}

#[test]
fn a_waiting_scope_shows_the_callers_line() {
    // `scope` waits for its goroutines as a WaitGroup does, at the line that called it (it
    // showed a line inside the runtime).
    within(60, || {
        let (tx, rx) = gort::chan::bounded::<()>(0);
        let scope_line = line!() + 2;
        let h = gort::go(move || {
            gort::scope(|s| {
                s.go(|| rx.recv().unwrap());
            })
        });
        let g = parked(h.id());
        assert_eq!(g.wait_reason, Some(WaitReason::WaitGroupWait));
        let at = g.location.expect("a call site");
        assert_eq!((at.file(), at.line()), (file!(), scope_line));
        tx.send(()).unwrap();
        h.join().unwrap();
    });
}

#[test]
fn the_running_goroutine_shows_as_running() {
    within(60, || {
        let me = gort::run(|| {
            let id = gort::goroutine_id().unwrap();
            debug::goroutines().into_iter().find(|g| g.id == id)
        });
        let me = me.expect("the running goroutine is listed");
        assert_eq!(me.state, GoroutineState::Running);
        assert_eq!(me.wait_reason, None);
    });
}

#[test]
fn the_dump_groups_goroutines_waiting_at_one_place() {
    within(60, || {
        let wg = Arc::new(gort::sync::WaitGroup::new());
        wg.add(1);
        let hs: Vec<_> = (0..1000)
            .map(|_| {
                let wg = wg.clone();
                gort::go(move || wg.wait())
            })
            .collect();
        for h in &hs {
            parked(h.id());
        }
        let dump = debug::dump();
        let line = dump
            .lines()
            .find(|l| l.contains("goroutines [sync.WaitGroup.Wait"))
            .unwrap_or_else(|| panic!("no grouped entry in:\n{dump}"));
        let n: usize = line.split(' ').next().unwrap().parse().unwrap();
        assert!(n >= 1000, "{line}");
        assert!(dump.contains(&format!("at {}:", file!())), "{dump}");
        wg.done();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
}

#[test]
fn backtraces_with_gort_traceback_all() {
    const NAME: &str = "backtraces_with_gort_traceback_all";
    if is_child(NAME) {
        let wg = Arc::new(gort::sync::WaitGroup::new());
        wg.add(1);
        let w = wg.clone();
        let h = gort::go(move || w.wait());
        parked(h.id());
        print!("{}", debug::dump_with_backtraces());
        wg.done();
        h.join().unwrap();
        return;
    }
    let out = child(NAME, &[("GORT_TRACEBACK", "all")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("[sync.WaitGroup.Wait]"), "{stdout}");
    assert!(
        stdout.contains("debug.rs"),
        "no backtrace frames:\n{stdout}"
    );
}

#[test]
fn scheddetail_lists_ps_ms_and_goroutines() {
    const NAME: &str = "scheddetail_lists_ps_ms_and_goroutines";
    if is_child(NAME) {
        gort::run(|| {
            for _ in 0..20 {
                gort::time::sleep(Duration::from_millis(10));
            }
        });
        return;
    }
    let out = child(
        NAME,
        &[("GORT_SCHEDTRACE", "50"), ("GORT_SCHEDDETAIL", "1")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("SCHED "), "{stderr}");
    assert!(stderr.contains("  P0: status="), "{stderr}");
    assert!(stderr.contains("  M0: p="), "{stderr}");
    assert!(stderr.contains("goroutine"), "{stderr}");
}

/// Parks a goroutine on a WaitGroup, then sends this process `sig`.
fn park_one_and_raise(sig: i32) -> gort::JoinHandle<()> {
    let wg = Arc::new(gort::sync::WaitGroup::new());
    wg.add(1);
    let w = wg.clone();
    let h = gort::go(move || w.wait());
    parked(h.id());
    std::mem::forget(wg);
    // SAFETY: sending a signal to our own process.
    unsafe { libc::kill(libc::getpid(), sig) };
    h
}

/// SIGQUIT prints the dump and exits with status 2, as in Go; with GORT_TRACEBACK=none,
/// without the dump.
#[test]
fn sigquit_prints_the_dump_and_exits_2() {
    const NAME: &str = "sigquit_prints_the_dump_and_exits_2";
    if is_child(NAME) {
        let _h = park_one_and_raise(libc::SIGQUIT);
        std::thread::sleep(Duration::from_secs(30));
        unreachable!("SIGQUIT ends the process");
    }
    within(60, || {
        let out = child(NAME, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("SIGQUIT: quit"), "{stderr}");
        assert!(stderr.contains("[sync.WaitGroup.Wait]"), "{stderr}");
        let out = child(NAME, &[("GORT_TRACEBACK", "none")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(!stderr.contains("WaitGroup"), "{stderr}");
    });
}

/// A program that asked for SIGQUIT gets it, as in Go: no dump, no exit.
#[test]
fn a_notified_sigquit_is_the_programs() {
    const NAME: &str = "a_notified_sigquit_is_the_programs";
    if is_child(NAME) {
        let rx = gort::signal::notify(&[gort::signal::Signal::SIGQUIT]);
        let _h = park_one_and_raise(libc::SIGQUIT);
        assert_eq!(rx.recv().unwrap(), gort::signal::Signal::SIGQUIT);
        println!("got it");
        return;
    }
    within(60, || {
        let out = child(NAME, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(stdout.contains("got it"), "{stdout}");
        assert!(!stderr.contains("SIGQUIT: quit"), "{stderr}");
    });
}

/// `dump_on` prints the dump on a signal and the program goes on.
#[test]
fn dump_on_prints_without_exiting() {
    const NAME: &str = "dump_on_prints_without_exiting";
    if is_child(NAME) {
        debug::dump_on(gort::signal::Signal::SIGUSR1).unwrap();
        let _h = park_one_and_raise(libc::SIGUSR1);
        std::thread::sleep(Duration::from_millis(300));
        println!("still here");
        return;
    }
    within(60, || {
        let out = child(NAME, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(stdout.contains("still here"), "{stdout}");
        assert!(stderr.contains("[sync.WaitGroup.Wait]"), "{stderr}");
    });
}

/// Channel, select, sleep and context waits, each at the user's line.
#[test]
fn wait_reasons_of_channels_select_sleep_and_context() {
    within(60, || {
        let (tx, rx) = gort::chan::bounded::<u32>(0);
        let (tx2, rx2) = gort::chan::bounded::<u32>(0);
        let (ctx, cancel) = gort::context::background().with_cancel();
        let recv_line = line!() + 1;
        let receiver = gort::go(move || rx.recv().unwrap());
        let send_line = line!() + 1;
        let sender = gort::go(move || tx2.send(1).unwrap());
        let select_line = line!() + 2;
        let selector = gort::go(move || {
            gort::select! { recv(gort::chan::never::<u32>()) -> _ => {} }
        });
        let sleeper = gort::go(|| gort::time::sleep(Duration::from_secs(3600)));
        let waiter = gort::go(move || ctx.wait());
        let at = |id| parked(id).location.map(|l| (l.file(), l.line()));
        assert_eq!(
            parked(receiver.id()).wait_reason,
            Some(WaitReason::ChanReceive)
        );
        assert_eq!(at(receiver.id()), Some((file!(), recv_line)));
        assert_eq!(parked(sender.id()).wait_reason, Some(WaitReason::ChanSend));
        assert_eq!(at(sender.id()), Some((file!(), send_line)));
        assert_eq!(parked(selector.id()).wait_reason, Some(WaitReason::Select));
        assert_eq!(at(selector.id()), Some((file!(), select_line)));
        assert_eq!(parked(sleeper.id()).wait_reason, Some(WaitReason::Sleep));
        assert_eq!(
            parked(waiter.id()).wait_reason,
            Some(WaitReason::ContextDone)
        );
        tx.send(1).unwrap();
        assert_eq!(rx2.recv().unwrap(), 1);
        cancel.cancel();
        receiver.join().unwrap();
        sender.join().unwrap();
        waiter.join().unwrap();
        drop(selector);
        drop(sleeper);
    });
}

/// A socket read waits in `IO wait` at the user's line.
#[test]
fn a_socket_read_waits_in_io_wait_at_its_line() {
    within(60, || {
        use std::io::Read;
        let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let client = gort::net::TcpStream::connect(addr).unwrap();
        let (mut server, _) = l.accept().unwrap();
        let read_line = line!() + 1;
        let reader = gort::go(move || server.read(&mut [0u8; 8]).unwrap());
        let g = parked(reader.id());
        assert_eq!(g.wait_reason, Some(WaitReason::IoWait));
        let at = g.location.expect("a call site");
        assert_eq!((at.file(), at.line()), (file!(), read_line));
        drop(client);
        assert_eq!(reader.join().unwrap(), 0);
    });
}
