//! A TCP echo server: one goroutine per connection, blocking-style code, no `async`.
//!
//! ```sh
//! cargo run --release --example echo -- --load 100       # server + built-in load client, ~2 s
//! cargo run --release --example echo -- --server 127.0.0.1:7007            # server only
//! cargo run --release --example echo -- --client 127.0.0.1:7007 --load 100 # client only
//! ```
//!
//! The load client opens `--load` connections, each sending `--size`-byte messages
//! (default 64) and waiting for the echo, for `--duration` seconds (default 2) or
//! `--msgs` messages per connection, and prints messages per second with p50/p99 round
//! trip latency. Only 127.0.0.1 is ever used.

use gort::net::{TcpListener, TcpStream};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

struct Args {
    load: usize,
    server: Option<String>,
    client: Option<String>,
    duration: Duration,
    msgs: u64,
    size: usize,
}

fn parse() -> Args {
    let mut a = Args {
        load: 0,
        server: None,
        client: None,
        duration: Duration::from_secs(2),
        msgs: u64::MAX,
        size: 64,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--load" => a.load = val().parse().unwrap_or_else(|_| usage("bad --load")),
            "--server" => a.server = Some(val()),
            "--client" => a.client = Some(val()),
            "--duration" => {
                a.duration = Duration::from_secs_f64(
                    val().parse().unwrap_or_else(|_| usage("bad --duration")),
                )
            }
            "--msgs" => a.msgs = val().parse().unwrap_or_else(|_| usage("bad --msgs")),
            "--size" => a.size = val().parse().unwrap_or_else(|_| usage("bad --size")),
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    a
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "echo: {msg}\nusage: echo [--load N] [--server ADDR | --client ADDR] [--duration SECS] [--msgs N] [--size BYTES]"
    );
    std::process::exit(2);
}

/// Serves one connection: echo until the peer closes or resets.
fn serve(mut conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// Accepts forever, one goroutine per connection.
fn accept_loop(listener: TcpListener) {
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                gort::go(move || serve(conn));
            }
            Err(e) => eprintln!("echo: accept: {e}"),
        }
    }
}

/// One client connection: ping-pong until the deadline or `msgs`; returns latencies (µs).
fn client_conn(
    addr: SocketAddr,
    size: usize,
    until: Instant,
    msgs: u64,
) -> std::io::Result<Vec<u32>> {
    let mut conn = TcpStream::connect(addr)?;
    conn.set_nodelay(true)?;
    conn.set_deadline(Some(until + Duration::from_secs(10)));
    let msg = vec![0x5au8; size];
    let mut back = vec![0u8; size];
    let mut lat = Vec::with_capacity(1 << 14);
    let mut sent = 0;
    while sent < msgs && Instant::now() < until {
        let t = Instant::now();
        conn.write_all(&msg)?;
        conn.read_exact(&mut back)?;
        lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
        sent += 1;
    }
    Ok(lat)
}

/// Runs the load client; prints and returns messages per second.
fn load(addr: SocketAddr, a: &Args) -> f64 {
    let start = Instant::now();
    let until = start + a.duration;
    let (size, msgs) = (a.size, a.msgs);
    let handles: Vec<_> = (0..a.load)
        .map(|_| gort::go(move || client_conn(addr, size, until, msgs)))
        .collect();
    let mut lat = Vec::new();
    let mut failed = 0;
    for h in handles {
        match h.join().expect("client goroutine panicked") {
            Ok(l) => lat.extend(l),
            Err(e) => {
                failed += 1;
                eprintln!("echo: client connection failed: {e}");
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |q: f64| {
        lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let rate = lat.len() as f64 / secs;
    println!(
        "echo: {} connections, {} messages of {} bytes in {:.2} s: {:.0} msgs/s, p50 {} µs, p99 {} µs{}",
        a.load,
        lat.len(),
        a.size,
        secs,
        rate,
        pct(0.50),
        pct(0.99),
        if failed > 0 { format!(", {failed} connections failed") } else { String::new() }
    );
    rate
}

fn main() {
    let a = parse();
    gort::run(move || {
        if let Some(addr) = &a.client {
            let addr: SocketAddr = addr
                .parse()
                .unwrap_or_else(|_| usage("--client needs IP:PORT"));
            load(addr, &a);
            return;
        }
        let bind = a.server.clone().unwrap_or_else(|| "127.0.0.1:0".into());
        let listener = TcpListener::bind(&bind).expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        if a.load == 0 {
            println!("echo: serving on {addr}");
            accept_loop(listener);
            return;
        }
        gort::go(move || accept_loop(listener));
        load(addr, &a);
    });
}
