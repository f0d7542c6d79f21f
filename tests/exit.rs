//! Spawning while the process exits is refused with a message that says why.

mod common;
use common::{child, is_child};

extern "C" fn spawn_at_exit() {
    match gort::Builder::new().spawn(|| ()) {
        Ok(_) => eprintln!("UNEXPECTED: spawn succeeded during exit"),
        Err(e) => eprintln!("builder error: {e}"),
    }
    let r = std::panic::catch_unwind(|| drop(gort::go(|| ())));
    if let Err(p) = r {
        let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
        eprintln!("go panicked: {msg}");
    }
}

#[test]
fn spawn_during_process_exit_is_an_error() {
    if is_child("spawn_during_process_exit_is_an_error") {
        // Registered before the runtime starts, so it runs after the runtime's own exit hook.
        // SAFETY: registering a plain extern "C" fn.
        unsafe { libc::atexit(spawn_at_exit) };
        assert_eq!(gort::run(|| 3), 3);
        return;
    }
    let out = child("spawn_during_process_exit_is_an_error", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("UNEXPECTED"), "{stderr}");
    assert!(
        stderr.contains("builder error: gort: cannot spawn a goroutine: the process is exiting"),
        "{stderr}"
    );
    assert!(
        stderr.contains("go panicked: gort: cannot spawn a goroutine"),
        "{stderr}"
    );
}
