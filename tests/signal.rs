//! `gort::signal` (Go's `os/signal`) and `context::notify_context`: delivery on goroutines
//! and plain threads, inside `run` after the runtime's threads exist, ignore/reset, the
//! default action coming back when nobody listens, and the runtime's registrable default
//! action giving way to `notify`. Whatever could end the process runs in a child process;
//! in-process tests use distinct signals so they can run in parallel. How signals meet the
//! deadlock report is tested in `deadlock.rs` (which runs without libtest's threads).

mod common;
use common::{child, is_child, within};
use gort::context;
use gort::signal::{self, Signal};
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(30);

/// Sends `sig` to this process.
fn kill_self(sig: Signal) {
    // SAFETY: plain system calls.
    let r = unsafe { libc::kill(libc::getpid(), sig.as_raw()) };
    assert_eq!(r, 0);
}

/// Runs `f` on a plain thread, then as the main goroutine.
fn on_thread_and_goroutine(f: fn()) {
    within(120, move || {
        std::thread::spawn(f).join().unwrap();
        gort::run(f);
    });
}

#[test]
fn signal_type() {
    assert_eq!(Signal::SIGINT.as_raw(), libc::SIGINT);
    assert_eq!(Signal::SIGTERM.to_string(), "SIGTERM");
    assert_eq!(format!("{:?}", Signal::SIGHUP), "SIGHUP");
    assert_eq!(Signal::from_raw(libc::SIGUSR1), Signal::SIGUSR1);
    assert_eq!(Signal::from_raw(200).to_string(), "signal 200");
}

#[test]
fn notify_delivers_on_goroutines_and_threads() {
    on_thread_and_goroutine(|| {
        let rx = signal::notify(&[Signal::SIGUSR1]);
        for _ in 0..50 {
            kill_self(Signal::SIGUSR1);
            assert_eq!(rx.recv_timeout(LONG).unwrap(), Signal::SIGUSR1);
        }
        // A second subscriber gets it too; `select!` works on the channel.
        let rx2 = signal::notify(&[Signal::SIGUSR1, Signal::SIGWINCH]);
        kill_self(Signal::SIGUSR1);
        gort::select! {
            recv(rx2) -> s => assert_eq!(s.unwrap(), Signal::SIGUSR1),
            recv(gort::time::after(LONG)) -> _ => panic!("not delivered"),
        }
        assert_eq!(rx.recv_timeout(LONG).unwrap(), Signal::SIGUSR1);
        kill_self(Signal::SIGWINCH);
        assert_eq!(rx2.recv_timeout(LONG).unwrap(), Signal::SIGWINCH);
        // After `stop`, a channel receives nothing more; the others still do.
        signal::stop(&rx2);
        kill_self(Signal::SIGUSR1);
        assert_eq!(rx.recv_timeout(LONG).unwrap(), Signal::SIGUSR1);
        assert!(rx2.try_recv().is_err());
    });
}

#[test]
fn notify_context_cancels_on_a_signal() {
    on_thread_and_goroutine(|| {
        // Keeps SIGUSR2 caught for the whole test, so a late one cannot end the process.
        let _keep = signal::notify(&[Signal::SIGUSR2]);
        for _ in 0..20 {
            let (ctx, stop) = context::notify_context(&context::background(), &[Signal::SIGUSR2]);
            assert!(ctx.err().is_none());
            kill_self(Signal::SIGUSR2);
            assert!(ctx.done().recv_timeout(LONG).is_err(), "done is closed");
            assert_eq!(ctx.err(), Some(context::Error::Canceled));
            stop.cancel();
        }
        // The parent's cancellation reaches it too.
        let (parent, cancel) = context::background().with_cancel();
        let (ctx, stop) = context::notify_context(&parent, &[Signal::SIGUSR2]);
        cancel.cancel();
        assert!(ctx.done().recv_timeout(LONG).is_err());
        stop.cancel();
    });
}

#[test]
fn notify_context_keeps_the_signal_caught_until_stop() {
    if is_child("notify_context_keeps_the_signal_caught_until_stop") {
        gort::run(|| {
            let marker = signal::notify(&[Signal::SIGWINCH]);
            let (ctx, stop) = context::notify_context(&context::background(), &[Signal::SIGUSR2]);
            kill_self(Signal::SIGUSR2);
            assert!(ctx.done().recv_timeout(LONG).is_err());
            // A second one before `stop` is still caught (Go: the relay lasts until stop).
            // SIGWINCH (a higher number, handled after it) tells when it has been handled.
            kill_self(Signal::SIGUSR2);
            kill_self(Signal::SIGWINCH);
            marker.recv_timeout(LONG).unwrap();
            eprintln!("CAUGHT TWICE");
            stop.cancel();
            kill_self(Signal::SIGUSR2); // now its usual effect: ends the process
            gort::time::sleep(LONG);
        });
        eprintln!("UNEXPECTED: survived");
        return;
    }
    let (status, err) = run_child("notify_context_keeps_the_signal_caught_until_stop");
    assert!(err.contains("CAUGHT TWICE"), "{err}");
    assert_eq!(status.signal(), Some(libc::SIGUSR2), "{status:?}: {err}");
}

#[test]
fn unhandleable_signals_panic_with_a_clear_message() {
    for (sig, why) in [
        (Signal::SIGKILL, "cannot be caught"),
        (Signal::SIGSEGV, "runtime itself handles"),
    ] {
        let p = std::panic::catch_unwind(|| signal::notify(&[sig])).unwrap_err();
        let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains(why), "{msg}");
    }
    assert!(std::panic::catch_unwind(|| signal::notify(&[])).is_err());
}

/// Runs the child part of test `name`, returning its exit status and stderr.
fn run_child(name: &str) -> (std::process::ExitStatus, String) {
    let out = child(name, &[]);
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn sigterm_inside_run_is_delivered_not_fatal() {
    if is_child("sigterm_inside_run_is_delivered_not_fatal") {
        let got = gort::run(|| {
            // The runtime's threads exist before anyone asks for the signal.
            let hs: Vec<_> = (0..64).map(|i| gort::go(move || i)).collect();
            for h in hs {
                h.join().unwrap();
            }
            let rx = signal::notify(&[Signal::SIGTERM, Signal::SIGINT]);
            kill_self(Signal::SIGTERM);
            let t = rx.recv_timeout(LONG).unwrap();
            kill_self(Signal::SIGINT);
            (t, rx.recv_timeout(LONG).unwrap())
        });
        assert_eq!(got, (Signal::SIGTERM, Signal::SIGINT));
        eprintln!("SURVIVED");
        return;
    }
    let (status, err) = run_child("sigterm_inside_run_is_delivered_not_fatal");
    assert!(status.success(), "{status:?}: {err}");
    assert!(err.contains("SURVIVED"), "{err}");
}

#[test]
fn dropping_the_receiver_restores_the_default_action() {
    if is_child("dropping_the_receiver_restores_the_default_action") {
        gort::run(|| {
            let rx = signal::notify(&[Signal::SIGUSR2]);
            kill_self(Signal::SIGUSR2);
            rx.recv_timeout(LONG).unwrap();
            drop(rx);
            eprintln!("DROPPED");
            kill_self(Signal::SIGUSR2); // ends the process
            gort::time::sleep(LONG);
        });
        eprintln!("UNEXPECTED: survived");
        return;
    }
    let (status, err) = run_child("dropping_the_receiver_restores_the_default_action");
    assert!(err.contains("DROPPED"), "{err}");
    assert_eq!(status.signal(), Some(libc::SIGUSR2), "{status:?}: {err}");
}

#[test]
fn ignore_then_reset() {
    if is_child("ignore_then_reset") {
        let rx = signal::notify(&[Signal::SIGUSR1]);
        signal::ignore(&[Signal::SIGUSR1]);
        assert!(signal::ignored(Signal::SIGUSR1));
        kill_self(Signal::SIGUSR1); // ignored: neither delivered nor fatal
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
        // As in Go, a program started now inherits it ignored.
        let out = std::process::Command::new("sh")
            .args(["-c", "kill -USR1 $$; echo alive"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "alive");
        // notify again after ignore relays again.
        let rx2 = signal::notify(&[Signal::SIGUSR1]);
        assert!(!signal::ignored(Signal::SIGUSR1));
        kill_self(Signal::SIGUSR1);
        rx2.recv_timeout(LONG).unwrap();
        signal::reset(&[]);
        assert!(!signal::ignored(Signal::SIGUSR1));
        eprintln!("RESET");
        kill_self(Signal::SIGUSR1); // the default action: ends the process
        std::thread::sleep(LONG);
        eprintln!("UNEXPECTED: survived");
        return;
    }
    let (status, err) = run_child("ignore_then_reset");
    assert!(err.contains("RESET"), "{err}");
    assert_eq!(status.signal(), Some(libc::SIGUSR1), "{status:?}: {err}");
}

#[test]
fn reset_keeps_a_signal_ignored_at_start_ignored() {
    if is_child("reset_keeps_a_signal_ignored_at_start_ignored") {
        // As under `nohup`.
        // SAFETY: setting a disposition with libc's documented constant.
        unsafe { libc::signal(libc::SIGHUP, libc::SIG_IGN) };
        assert!(signal::ignored(Signal::SIGHUP));
        gort::run(|| {
            let rx = signal::notify(&[Signal::SIGHUP]);
            kill_self(Signal::SIGHUP);
            rx.recv_timeout(LONG).unwrap();
            signal::reset(&[Signal::SIGHUP]);
            assert!(signal::ignored(Signal::SIGHUP));
            kill_self(Signal::SIGHUP); // still ignored
            gort::time::sleep(Duration::from_millis(50));
        });
        eprintln!("SURVIVED");
        return;
    }
    let (status, err) = run_child("reset_keeps_a_signal_ignored_at_start_ignored");
    assert!(status.success(), "{status:?}: {err}");
    assert!(err.contains("SURVIVED"), "{err}");
}

#[test]
fn registered_default_action_gives_way_to_notify() {
    if is_child("registered_default_action_gives_way_to_notify") {
        let (tx, defaults) = gort::chan::unbounded();
        gort_runtime::signal::set_default_action(
            Signal::SIGQUIT,
            Some(Arc::new(move |s| tx.send(s).unwrap())),
        )
        .unwrap();
        gort::run(move || {
            kill_self(Signal::SIGQUIT);
            assert_eq!(defaults.recv_timeout(LONG).unwrap(), Signal::SIGQUIT);
            // The program's notify takes precedence over the runtime's default.
            let rx = signal::notify(&[Signal::SIGQUIT]);
            kill_self(Signal::SIGQUIT);
            assert_eq!(rx.recv_timeout(LONG).unwrap(), Signal::SIGQUIT);
            assert!(defaults.recv_timeout(Duration::from_millis(50)).is_err());
            // Nobody listens any more: the runtime's default again.
            drop(rx);
            kill_self(Signal::SIGQUIT);
            assert_eq!(defaults.recv_timeout(LONG).unwrap(), Signal::SIGQUIT);
        });
        eprintln!("SURVIVED");
        return;
    }
    let (status, err) = run_child("registered_default_action_gives_way_to_notify");
    assert!(status.success(), "{status:?}: {err}");
    assert!(err.contains("SURVIVED"), "{err}");
}
