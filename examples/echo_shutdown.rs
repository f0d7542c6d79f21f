//! Graceful shutdown: Ctrl-C (or `--duration`) cancels a context; the server stops
//! accepting, idle connections are closed at once, busy ones finish their message, and the
//! program exits 0 once every connection has drained.
//!
//! ```sh
//! cargo run --release --example echo_shutdown                          # serve until Ctrl-C
//! cargo run --release --example echo_shutdown -- --duration 1 --load 20   # CI: clients, then stop
//! ```
//!
//! Cancellation reaches blocked socket calls through `ContextIo::with_ctx`, which moves the
//! socket's deadline to the past when the context is cancelled (no goroutine watches it).

use gort::context::{background, Context};
use gort::net::{ContextIo, TcpListener, TcpStream};
use std::io::{Read, Write};
use std::time::Duration;

/// Blocks SIGINT in every thread (call before any thread starts) and cancels `cancel` on
/// the first Ctrl-C, from a thread that waits for it with `sigwait`.
fn on_ctrl_c(cancel: gort::context::CancelFunc) {
    // SAFETY: sigset manipulation on a local set; pthread_sigmask on the calling thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        // A shell starts background jobs with SIGINT ignored, which would discard it even
        // while blocked: restore the default (harmless while blocked).
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
    std::thread::spawn(move || {
        // SAFETY: as above; sigwait writes the signal number into `sig`.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            let mut sig = 0;
            libc::sigwait(&set, &mut sig);
        }
        eprintln!("echo_shutdown: interrupt: shutting down");
        cancel.cancel();
    });
}

/// Echoes until the peer closes or `ctx` is cancelled (then a blocked read fails at once).
fn serve(ctx: Context, mut conn: TcpStream, _alive: gort::chan::Sender<()>) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match conn.with_ctx(&ctx, |mut c| c.read(&mut buf)) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if conn.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// A client: echoes messages until the server closes the connection; returns how many.
fn client(addr: std::net::SocketAddr) -> usize {
    let Ok(mut c) = TcpStream::connect(addr) else {
        return 0;
    };
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut n = 0;
    let mut back = [0u8; 32];
    loop {
        if c.write_all(&[7u8; 32]).is_err() || c.read_exact(&mut back).is_err() {
            return n;
        }
        n += 1;
        gort::time::sleep(Duration::from_millis(1));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let duration =
        flag("--duration").map(|v| Duration::from_secs_f64(v.parse().expect("--duration SECS")));
    let load: usize = flag("--load").map_or(0, |v| v.parse().expect("--load N"));
    let addr = flag("--addr").unwrap_or_else(|| "127.0.0.1:7007".into());
    let (ctx, cancel) = background().with_cancel();
    on_ctrl_c(cancel.clone());
    let code = gort::run(move || {
        let l = match TcpListener::bind(if load > 0 {
            "127.0.0.1:0"
        } else {
            addr.as_str()
        }) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("echo_shutdown: bind {addr}: {e}");
                return 1;
            }
        };
        let local = l.local_addr().unwrap();
        println!("echo_shutdown: serving on {local}; Ctrl-C stops");
        if let Some(d) = duration {
            let cancel = cancel.clone();
            gort::go(move || {
                gort::time::sleep(d);
                cancel.cancel();
            });
        }
        let clients: Vec<_> = (0..load).map(|_| gort::go(move || client(local))).collect();
        // Every connection goroutine holds a clone of `alive`; the channel disconnects
        // when the last one ends.
        let (alive, drained) = gort::chan::bounded::<()>(0);
        let mut served = 0;
        loop {
            match l.with_ctx(&ctx, |l| l.accept()) {
                Ok((c, _)) => {
                    served += 1;
                    let (ctx, alive) = (ctx.clone(), alive.clone());
                    gort::go(move || serve(ctx, c, alive));
                }
                Err(_) if ctx.err().is_some() => break,
                Err(e) => eprintln!("echo_shutdown: accept: {e}"),
            }
        }
        drop(l);
        println!("echo_shutdown: stopped accepting after {served} connections; draining");
        drop(alive);
        let _ = drained.recv(); // Err once every connection goroutine is gone
        let msgs: usize = clients.into_iter().map(|h| h.join().unwrap()).sum();
        println!("echo_shutdown: drained; clients exchanged {msgs} messages; bye");
        0
    });
    std::process::exit(code);
}
