//! A goroutine's panic message names the goroutine (`goroutine 17 "name" panicked at
//! file:line:col: msg`), not the OS thread it ran on; plain threads keep std's message; a
//! hook the program sets later replaces the runtime's; the panic still comes back through
//! `join`. Each case runs in a child process to read its stderr.

mod common;
use common::{child, is_child};

fn stderr_of(name: &str) -> String {
    let out = child(name, &[("RUST_BACKTRACE", "0")]);
    assert!(out.status.success(), "child failed: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn named_and_unnamed_goroutines() {
    if is_child("named_and_unnamed_goroutines") {
        gort::run(|| {
            let h = gort::Builder::new()
                .name("worker")
                .spawn(|| panic!("boom"))
                .unwrap();
            let id = h.id();
            let p = h.join().unwrap_err();
            assert_eq!(*p.downcast_ref::<&str>().unwrap(), "boom");
            eprintln!("NAMED-ID {id}");
            let h = gort::go(|| panic!("plain {}", 7));
            let id = h.id();
            assert!(h.join().is_err());
            eprintln!("UNNAMED-ID {id}");
        });
        return;
    }
    let err = stderr_of("named_and_unnamed_goroutines");
    let id = |tag: &str| {
        err.lines()
            .find_map(|l| l.strip_prefix(tag))
            .unwrap_or_else(|| panic!("no {tag} in {err}"))
            .trim()
            .to_string()
    };
    let (named, unnamed) = (id("NAMED-ID "), id("UNNAMED-ID "));
    let file = file!();
    assert!(
        err.contains(&format!("goroutine {named} \"worker\" panicked at {file}:")),
        "{err}"
    );
    assert!(err.contains(": boom\n"), "{err}");
    assert!(
        err.contains(&format!("goroutine {unnamed} panicked at {file}:")),
        "{err}"
    );
    assert!(err.contains(": plain 7\n"), "{err}");
    assert!(!err.contains("thread 'gort-m"), "names an M thread: {err}");
}

#[test]
fn threads_keep_std_message_and_a_later_hook_replaces_ours() {
    if is_child("threads_keep_std_message_and_a_later_hook_replaces_ours") {
        gort::run(|| ()); // the runtime (and its hook) is up
        let r = std::thread::Builder::new()
            .name("plain".into())
            .spawn(|| panic!("on a thread"))
            .unwrap()
            .join();
        assert!(r.is_err());
        std::panic::set_hook(Box::new(|info| {
            eprintln!("USER HOOK: {}", info.payload_as_str().unwrap_or("?"));
        }));
        let r = gort::go(|| panic!("after set_hook")).join();
        assert!(r.is_err());
        return;
    }
    let err = stderr_of("threads_keep_std_message_and_a_later_hook_replaces_ours");
    // std's message (newer versions add the thread id after the name).
    assert!(
        err.lines()
            .any(|l| l.starts_with("thread 'plain'") && l.contains("panicked at")),
        "{err}"
    );
    assert!(err.contains("USER HOOK: after set_hook"), "{err}");
    assert!(!err.contains("goroutine"), "{err}");
}
