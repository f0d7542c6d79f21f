//! Goroutine stacks: overflow diagnostics, deep recursion, `grow`, `remaining`, memory
//! return, and the mprotect fallback with its vm.max_map_count error.

mod common;
use common::{child, child_ok, is_child, within};
use parking_lot::Mutex;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Recurses forever with 1 KiB frames (until the guard page stops it).
#[inline(never)]
#[allow(unconditional_recursion)]
fn unbounded(n: u64) -> u64 {
    let buf = black_box([n as u8; 1024]);
    unbounded(n + 1) + buf[n as usize % 1024] as u64
}

/// Recurses until the stack in use below `top` reaches `bytes`; returns the depth.
#[inline(never)]
fn recurse_until(top: usize, bytes: usize) -> u64 {
    let buf = black_box([7u8; 1024]);
    let here = &buf as *const _ as usize;
    if top - here >= bytes {
        return 1;
    }
    1 + recurse_until(top, bytes) + (buf[3] as u64 - 7)
}

/// `remaining()` called from below a 64 KiB frame.
#[inline(never)]
fn remaining_below_64k() -> usize {
    let buf = black_box([1u8; 64 << 10]);
    let r = gort::stack::remaining();
    black_box(&buf);
    r
}

fn here() -> usize {
    let x = 0u8;
    black_box(&x) as *const u8 as usize
}

/// Recursion using 4 KiB a level with `grow` at every level: `levels` levels deep.
#[inline(never)]
fn grow_deep(levels: u64) -> u64 {
    let buf = black_box([levels as u8; 4096]);
    if levels == 0 {
        return 0;
    }
    gort::stack::grow(64 << 10, || 1 + grow_deep(levels - 1)) + (buf[9] - levels as u8) as u64
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn overflow_in_goroutine_is_reported() {
    const NAME: &str = "overflow_in_goroutine_is_reported";
    if is_child(NAME) {
        gort::run(|| {
            let h = gort::Builder::new()
                .name("deep-one")
                .stack_size(64 << 10)
                .spawn(|| unbounded(0))
                .unwrap();
            let _ = h.join();
        });
        unreachable!("the overflow must abort the process");
    }
    for env in [&[][..], &[("GORT_STACK_GUARD", "mprotect")][..]] {
        let out = child(NAME, env);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "child succeeded: {err}");
        assert!(
            err.contains("fatal error: stack overflow in goroutine ")
                && err.contains("\"deep-one\"")
                && err.contains(&format!(", spawned at {}:", file!()))
                && err.contains("64 KiB")
                && err.contains("gort::Builder::stack_size")
                && err.contains("gort::stack::set_default_stack_size")
                && err.contains("GORT_STACK_SIZE"),
            "env {env:?}: unexpected stderr: {err}"
        );
    }
}

#[test]
fn overflow_of_default_stack_is_reported() {
    const NAME: &str = "overflow_of_default_stack_is_reported";
    if is_child(NAME) {
        gort::run(|| {
            let _ = gort::go(|| unbounded(0)).join();
        });
        unreachable!("the overflow must abort the process");
    }
    let out = child(NAME, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("fatal error: stack overflow in goroutine ")
            && err.contains(&format!("{} KiB", gort::stack::DEFAULT_STACK_SIZE >> 10)),
        "unexpected stderr: {err}"
    );
}

#[test]
fn other_faults_are_not_swallowed() {
    const NAME: &str = "other_faults_are_not_swallowed";
    if is_child(NAME) {
        gort::run(|| {
            gort::go(|| {
                // SAFETY: none: this deliberately faults on an unmapped address.
                unsafe { std::ptr::write_volatile(16 as *mut u64, 1) };
            })
            .join()
            .ok();
        });
        unreachable!("the fault must kill the process");
    }
    let out = child(NAME, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "stderr: {err}");
    assert!(!err.contains("stack overflow"), "stderr: {err}");
}

#[test]
fn main_thread_overflow_still_reported_by_std() {
    const NAME: &str = "main_thread_overflow_still_reported_by_std";
    if is_child(NAME) {
        gort::run(|| gort::go(|| 1).join().unwrap());
        // The test harness runs us on a std thread with std's guard page and handler.
        unbounded(0);
        unreachable!();
    }
    let out = child(NAME, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("has overflowed its stack"), "stderr: {err}");
    assert!(!err.contains("goroutine"), "stderr: {err}");
}

#[test]
fn recursion_700k_of_1m_stack() {
    within(60, || {
        let depth = gort::run(|| {
            gort::Builder::new()
                .stack_size(1 << 20)
                .spawn(|| {
                    let before = gort::stack::remaining();
                    assert!(
                        before > 900 << 10 && before <= 1 << 20,
                        "remaining {before}"
                    );
                    recurse_until(here(), 700 << 10)
                })
                .unwrap()
                .join()
                .unwrap()
        });
        assert!(depth > 100, "depth {depth}");
    });
}

#[test]
fn remaining_tracks_depth() {
    within(60, || {
        gort::run(|| {
            // Room for the 64 KiB frame in a debug build, where it is copied.
            let (a, b) = gort::Builder::new()
                .stack_size(1 << 20)
                .spawn(|| {
                    let a = gort::stack::remaining();
                    (a, remaining_below_64k())
                })
                .unwrap()
                .join()
                .unwrap();
            assert!(a >= b + (64 << 10), "{a} {b}");
            let small = gort::Builder::new()
                .stack_size(32 << 10)
                .spawn(gort::stack::remaining)
                .unwrap()
                .join()
                .unwrap();
            assert!(small > 16 << 10 && small <= 32 << 10, "{small}");
        });
        // A plain thread: its own stack.
        let t = gort::stack::remaining();
        assert!(t > 16 << 10, "{t}");
    });
}

#[test]
fn grow_100mib_deep() {
    within(120, || {
        let levels = (100u64 << 20) / 4096;
        let got = gort::run(move || gort::go(move || grow_deep(levels)).join().unwrap());
        assert_eq!(got, levels);
        // On a plain thread too.
        let got = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || grow_deep(levels))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(got, levels);
    });
}

#[test]
fn grow_propagates_panics() {
    within(60, || {
        let r = gort::run(|| {
            gort::go(|| gort::stack::grow(2 << 20, || panic!("inside segment"))).join()
        });
        let e = r.unwrap_err();
        assert_eq!(e.downcast_ref::<&str>(), Some(&"inside segment"));
    });
}

#[test]
fn rss_falls_back_after_deep_goroutines() {
    const NAME: &str = "rss_falls_back_after_deep_goroutines";
    if !is_child(NAME) {
        // In a child process: RSS must not be disturbed by the other tests. Pooled stacks
        // of 1 MiB (the environment variable sets the default).
        let out = child(NAME, &[("GORT_STACK_SIZE", "1M")]);
        let so = String::from_utf8_lossy(&out.stdout);
        let se = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed:\n{so}\n{se}");
        return;
    }
    within(120, || {
        gort::run(|| {
            // Warm up the runtime and the pools.
            for h in (0..1000).map(|_| gort::go(|| 1)).collect::<Vec<_>>() {
                h.join().unwrap();
            }
            std::thread::sleep(Duration::from_millis(600));
            let base = rss_bytes();
            let mut peak = 0;
            // 10k goroutines in waves of 500 alive at once, each touching 512 KiB of stack.
            for _ in 0..20 {
                let tokens = Arc::new(Mutex::new(Vec::new()));
                let hs: Vec<_> = (0..500)
                    .map(|_| {
                        let tokens = tokens.clone();
                        gort::go(move || {
                            let mut buf = [0u8; 512 << 10];
                            for i in (0..buf.len()).step_by(4096) {
                                buf[i] = 1;
                            }
                            black_box(&mut buf);
                            let t = gort::park::prepare();
                            tokens.lock().push(t);
                            gort::park::park();
                        })
                    })
                    .collect();
                while tokens.lock().len() < 500 {
                    gort::yield_now();
                }
                peak = peak.max(rss_bytes());
                for t in tokens.lock().drain(..) {
                    t.wake();
                }
                for h in hs {
                    h.join().unwrap();
                }
            }
            assert!(peak > base + (200 << 20), "peak {peak} base {base}");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let now = rss_bytes();
                if now < base + (32 << 20) {
                    println!("rss: base {base}, peak {peak}, after {now}");
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "RSS did not fall back: base {base}, peak {peak}, now {now}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        });
    });
}

#[test]
fn mprotect_fallback_reports_max_map_count() {
    const NAME: &str = "mprotect_fallback_reports_max_map_count";
    if !is_child(NAME) {
        let out = child(NAME, &[("GORT_STACK_GUARD", "mprotect")]);
        let so = String::from_utf8_lossy(&out.stdout);
        let se = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed:\n{so}\n{se}");
        assert!(so.contains("max_map_count error after"), "{so}");
        return;
    }
    within(120, || {
        gort::run(|| {
            let tokens = Arc::new(Mutex::new(Vec::new()));
            let mut hs = Vec::new();
            let err = loop {
                let tokens = tokens.clone();
                match gort::Builder::new().spawn(move || {
                    let t = gort::park::prepare();
                    tokens.lock().push(t);
                    gort::park::park();
                }) {
                    Ok(h) => hs.push(h),
                    Err(e) => break e,
                }
                assert!(hs.len() < 100_000, "no error after 100k goroutines");
            };
            let n = hs.len();
            let msg = err.to_string();
            assert!(msg.contains("vm.max_map_count"), "{msg}");
            assert!(msg.contains("sysctl"), "{msg}");
            assert!(msg.contains("GORT_STACK_GUARD=mprotect"), "{msg}");
            assert!(
                (20_000..33_000).contains(&n),
                "error after {n} goroutines: {msg}"
            );
            // `go` panics with the same message.
            let p = std::panic::catch_unwind(|| gort::go(|| ())).unwrap_err();
            let p = p.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(p.contains("vm.max_map_count"), "go panicked with {p:?}");
            println!("max_map_count error after {n} goroutines: {msg}");
            // Everything recovers once they finish.
            while tokens.lock().len() < n {
                gort::yield_now();
            }
            for t in tokens.lock().drain(..) {
                t.wake();
            }
            for h in hs {
                h.join().unwrap();
            }
            let again: Vec<_> = (0..1000).map(|i| gort::go(move || i)).collect();
            for (i, h) in again.into_iter().enumerate() {
                assert_eq!(h.join().unwrap(), i);
            }
        });
    });
}

/// Bytes of page tables of this process (`VmPTE`).
fn page_table_bytes() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmPTE"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<usize>().ok())
        .unwrap()
        * 1024
}

#[test]
fn default_stack_is_small_and_main_goroutine_is_large() {
    within(60, || {
        if std::env::var_os("GORT_STACK_SIZE").is_none() {
            assert_eq!(
                gort::stack::default_stack_size(),
                gort::stack::DEFAULT_STACK_SIZE
            );
        }
        let default = gort::stack::default_stack_size();
        let (main, other) = gort::run(move || {
            let main = gort::stack::remaining();
            let other = gort::go(gort::stack::remaining).join().unwrap();
            (main, other)
        });
        assert!(
            main > 7 << 20 && main <= gort::stack::MAIN_STACK_SIZE,
            "{main}"
        );
        assert!(other > default - (16 << 10) && other <= default, "{other}");
    });
}

#[test]
fn stack_size_env_variable_sets_the_default() {
    const NAME: &str = "stack_size_env_variable_sets_the_default";
    if is_child(NAME) {
        let want = std::env::var("WANT").unwrap().parse::<usize>().unwrap();
        assert_eq!(gort::stack::default_stack_size(), want);
        let r = gort::run(|| gort::go(gort::stack::remaining).join().unwrap());
        assert!(r > want - (16 << 10) && r <= want, "{r}");
        // The function still overrides it, and reports the old value.
        assert_eq!(gort::stack::set_default_stack_size(64 << 10), want);
        let r = gort::run(|| gort::go(gort::stack::remaining).join().unwrap());
        assert!(r > 48 << 10 && r <= 64 << 10, "{r}");
        return;
    }
    let default = gort::stack::DEFAULT_STACK_SIZE.to_string();
    for (value, want, warns) in [
        ("2M", "2097152", false),
        ("300k", "307200", false),
        ("65536", "65536", false),
        ("lots", default.as_str(), true),
    ] {
        let out = child(NAME, &[("GORT_STACK_SIZE", value), ("WANT", want)]);
        let so = String::from_utf8_lossy(&out.stdout);
        let se = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{value}: child failed:\n{so}\n{se}");
        assert_eq!(
            se.contains("gort: ignoring GORT_STACK_SIZE=\"lots\""),
            warns,
            "{value}: {se}"
        );
    }
}

/// Parks `n` goroutines, releases them, and returns the page tables at the peak.
fn park_wave(n: usize) -> usize {
    let tokens = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let tokens = tokens.clone();
            gort::go(move || {
                let t = gort::park::prepare();
                tokens.lock().push(t);
                gort::park::park();
            })
        })
        .collect();
    while tokens.lock().len() < n {
        gort::yield_now();
    }
    let peak = page_table_bytes();
    for t in tokens.lock().drain(..) {
        t.wake();
    }
    for h in hs {
        h.join().unwrap();
    }
    peak
}

/// Waits (60 s at most: the scavenger's passes come late on a loaded machine) until the
/// page tables fall below `limit`; returns them.
fn page_tables_fall_below(limit: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = page_table_bytes();
        if now < limit || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn page_tables_are_given_back() {
    const NAME: &str = "page_tables_are_given_back";
    if !is_child(NAME) {
        // In a child process: the page tables of other tests would disturb the count. The
        // mprotect fallback too (stacks there are separate mappings after the guard).
        for env in [&[][..], &[("GORT_STACK_GUARD", "mprotect")][..]] {
            let out = child(NAME, env);
            let so = String::from_utf8_lossy(&out.stdout);
            let se = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{env:?}: child failed:\n{so}\n{se}");
        }
        return;
    }
    within(300, || {
        gort::run(|| {
            gort::go(|| ()).join().unwrap();
            std::thread::sleep(Duration::from_millis(600));
            let base = page_table_bytes();
            // 1 MiB stacks: 2 KiB of page tables per parked goroutine.
            gort::stack::set_default_stack_size(1 << 20);
            let peak = park_wave(20_000);
            assert!(peak > base + (20 << 20), "peak {peak} base {base}");
            let limit = base + (peak - base) / 20;
            let now = page_tables_fall_below(limit);
            assert!(now < limit, "page tables {now}: base {base}, peak {peak}");
            // Arenas of the old default size go too, once the default changes.
            let peak = park_wave(20_000);
            gort::stack::set_default_stack_size(64 << 10);
            gort::go(|| ()).join().unwrap();
            let limit = base + (peak - base) / 20;
            let now = page_tables_fall_below(limit);
            assert!(now < limit, "page tables {now}: base {base}, peak {peak}");
            // The pool refills from new arenas.
            let hs: Vec<_> = (0..10_000).map(|i| gort::go(move || i)).collect();
            for (i, h) in hs.into_iter().enumerate() {
                assert_eq!(h.join().unwrap(), i);
            }
            println!("page tables: base {base}, peak {peak}, after {now}");
        });
    });
}

#[test]
fn overflow_is_reported_after_arenas_were_unmapped() {
    const NAME: &str = "overflow_is_reported_after_arenas_were_unmapped";
    if is_child(NAME) {
        gort::run(|| {
            let base = page_table_bytes();
            let peak = park_wave(5_000);
            page_tables_fall_below(base + (peak - base) / 10);
            let _ = gort::Builder::new()
                .name("after")
                .spawn(|| {
                    // A stack from a fresh arena, then one that overflows.
                    gort::go(|| 1).join().unwrap();
                    gort::go(|| unbounded(0)).join()
                })
                .unwrap()
                .join();
        });
        unreachable!("the overflow must abort the process");
    }
    let out = child(NAME, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("fatal error: stack overflow in goroutine "),
        "unexpected stderr: {err}"
    );
}

#[test]
fn stacks_stay_sound_while_arenas_are_unmapped() {
    const NAME: &str = "stacks_stay_sound_while_arenas_are_unmapped";
    if !is_child(NAME) {
        // In a child process: the waves must find the pool to themselves.
        child_ok(NAME, &[]);
        return;
    }
    within(120, || {
        gort::run(|| {
            // Waves of goroutines with pauses of about a scavenger period between them, so
            // that arenas are unmapped and carved again while goroutines, plain threads
            // and `grow` segments take stacks. Every goroutine writes a pattern over its
            // stack and checks it after a park: a stack handed out twice, or one unmapped
            // under its goroutine, breaks the pattern or faults.
            #[inline(never)]
            fn pattern(seed: u64) -> u64 {
                let mut buf = [0u64; 2048]; // 16 KiB of this goroutine's stack
                for (i, v) in buf.iter_mut().enumerate() {
                    *v = seed ^ i as u64;
                }
                black_box(&mut buf);
                gort::yield_now();
                buf.iter()
                    .enumerate()
                    .filter(|&(i, &v)| v != seed ^ i as u64)
                    .count() as u64
            }
            let threads: Vec<_> = (0..2)
                .map(|t| {
                    std::thread::spawn(move || {
                        let mut bad = 0;
                        for i in 0..300u64 {
                            bad += gort::go(move || pattern(t << 32 | i)).join().unwrap();
                            bad += gort::stack::grow(1 << 20, || pattern(i));
                            if i % 50 == 0 {
                                std::thread::sleep(Duration::from_millis(150));
                            }
                        }
                        bad
                    })
                })
                .collect();
            let mut bad = 0;
            for wave in 0..12u64 {
                let hs: Vec<_> = (0..3_000u64)
                    .map(|i| gort::go(move || pattern(wave << 40 | i)))
                    .collect();
                bad += hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>();
                std::thread::sleep(Duration::from_millis(100 + 50 * (wave % 6)));
            }
            bad += threads.into_iter().map(|t| t.join().unwrap()).sum::<u64>();
            assert_eq!(bad, 0, "words of stack changed under their goroutine");
        });
    });
}
