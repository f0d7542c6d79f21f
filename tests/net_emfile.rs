//! An accept loop survives running out of file descriptors (EMFILE): it logs, backs off,
//! and serves the waiting connections once descriptors are free again. Runs in a child
//! process with a lowered RLIMIT_NOFILE.

mod common;
use gort::net::{TcpListener, TcpStream};
use std::io::{Read, Write};

/// The RLIMIT_NOFILE value that leaves exactly `free` descriptor numbers available (the
/// kernel hands out the lowest free number and fails with EMFILE at the limit).
fn limit_leaving(free: usize) -> u64 {
    let open: std::collections::HashSet<u64> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let (mut n, mut left) = (0u64, free);
    loop {
        if !open.contains(&n) {
            left -= 1;
            if left == 0 {
                return n + 1;
            }
        }
        n += 1;
    }
}

fn set_nofile(n: u64) {
    // SAFETY: getrlimit/setrlimit read/write the struct we pass.
    unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        rl.rlim_cur = n;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &rl), 0);
    }
}

fn echo_once(c: &mut TcpStream, byte: u8) {
    c.write_all(&[byte]).unwrap();
    let mut b = [0u8; 1];
    c.read_exact(&mut b).unwrap();
    assert_eq!(b[0], byte);
}

#[test]
fn accept_loop_survives_emfile() {
    if common::is_child("accept_loop_survives_emfile") {
        common::within(120, || {
            gort::run(|| {
                let l = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = l.local_addr().unwrap();
                // Room for 10 more descriptors: 7 client ends, connected before the server
                // accepts (they wait in the backlog), leave 3 for accepted ones.
                set_nofile(limit_leaving(10));
                let mut clients: Vec<TcpStream> =
                    (0..7).map(|_| TcpStream::connect(addr).unwrap()).collect();
                gort::go(move || loop {
                    let (mut c, _) = l.accept().expect("accept must ride out EMFILE");
                    gort::go(move || {
                        let mut b = [0u8; 64];
                        while let Ok(n @ 1..) = c.read(&mut b) {
                            if c.write_all(&b[..n]).is_err() {
                                break;
                            }
                        }
                    });
                });
                for (i, c) in clients.iter_mut().take(3).enumerate() {
                    echo_once(c, i as u8);
                }
                // The 4th connection waits in the backlog while accept hits EMFILE; free
                // descriptors by closing the first three, then all the others get served.
                gort::time::sleep(std::time::Duration::from_millis(50));
                clients.drain(..3);
                for (i, c) in clients.iter_mut().enumerate() {
                    echo_once(c, 10 + i as u8);
                }
                println!("served after EMFILE");
            })
        });
        return;
    }
    let out = common::child("accept_loop_survives_emfile", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("served after EMFILE"), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("retrying in"),
        "no back-off log line:\n{stderr}"
    );
}
