//! Graceful shutdown: Ctrl-C or SIGTERM (or `--duration`) cancels a context; the listener
//! is closed (the accept loop ends with `net::is_closed`), idle connections are closed at
//! once, busy ones finish their message, and the program exits 0 once every connection has
//! drained. A second Ctrl-C during the drain ends the process at once, as in Go after
//! `stop()`.
//!
//! ```sh
//! cargo run --release --example echo_shutdown                          # serve until Ctrl-C
//! cargo run --release --example echo_shutdown -- --duration 1 --load 20   # CI: clients, then stop
//! ```
//!
//! The Go original's shape: `signal.NotifyContext`, a goroutine that calls `ln.Close()`
//! when the context is done, `wg.Add(1)` / `defer wg.Done()` per connection. Cancellation
//! reaches a blocked read through `ContextIo::with_ctx`.

use gort::context::{self, Context};
use gort::net::{self, ContextIo, TcpListener, TcpStream};
use gort::signal::Signal;
use gort::sync::WaitGroup;
use std::io::{Read, Write};
use std::time::Duration;

/// Echoes until the peer closes or `ctx` is cancelled (then a blocked read fails at once).
fn serve(ctx: &Context, mut conn: TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match conn.with_ctx(ctx, |mut c| c.read(&mut buf)) {
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
    let code = gort::run(move || {
        let (ctx, stop) =
            context::notify_context(&context::background(), &[Signal::SIGINT, Signal::SIGTERM]);
        let ctx = match duration {
            Some(d) => ctx.with_timeout(d).0,
            None => ctx,
        };
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
        let clients: Vec<_> = (0..load).map(|_| gort::go(move || client(local))).collect();
        let conns = WaitGroup::new();
        let served = gort::scope(|s| {
            // Go: go func() { <-ctx.Done(); stop(); ln.Close() }()
            s.go(|| {
                let _ = ctx.done().recv();
                stop.cancel(); // a second Ctrl-C now ends the process
                eprintln!("echo_shutdown: shutting down");
                l.close();
            });
            let mut served = 0;
            loop {
                match l.accept() {
                    Ok((c, _)) => {
                        served += 1;
                        let done = conns.add_guard(); // Go: wg.Add(1); defer wg.Done()
                        let ctx = &ctx;
                        s.go(move || {
                            let _done = done;
                            serve(ctx, c);
                        });
                    }
                    Err(e) if net::is_closed(&e) => break,
                    Err(e) => eprintln!("echo_shutdown: accept: {e}"),
                }
            }
            println!("echo_shutdown: stopped accepting after {served} connections; draining");
            conns.wait();
            served
        });
        let msgs: usize = clients.into_iter().map(|h| h.join().unwrap()).sum();
        println!(
            "echo_shutdown: drained {served} connections; clients exchanged {msgs} messages; bye"
        );
        0
    });
    std::process::exit(code);
}
