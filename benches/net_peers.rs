//! The servers of gort's network benches that are not examples, run by `benches/compare.sh`
//! (not a criterion bench):
//!
//! - `tokio-echo ADDR`: a tokio echo server (multi-threaded runtime, task per connection);
//! - `may-echo ADDR`: a may echo server (coroutine per connection, as many workers as CPUs);
//! - `may-http ADDR`: may_minihttp's hello-world server;
//! - `gort-deadline-echo ADDR`, `tokio-deadline-echo ADDR`, `may-deadline-echo ADDR`: the
//!   timers workload, an echo server that puts a fresh 60 s read deadline on every read, as a
//!   Go server calling `SetReadDeadline` before each `Read` does (its Go twin is
//!   `benches/go/echo ADDR deadline`). gort: `set_read_deadline(now + 60 s)` before each read;
//!   tokio: each read inside `tokio::time::timeout(60 s, ...)`; may: `set_read_timeout(60 s)`
//!   once per connection, which arms a 60 s timer on each read (setting it again per read
//!   would only add a `setsockopt` call).
//! - `deadline-client ADDR CONNS SECS PID`: the timers workload's client (gort, the same
//!   for every server): opens CONNS connections, makes one round trip on each (so every
//!   connection is accepted and served before the window opens), then ping-pongs 64-byte
//!   messages on all of them for SECS seconds, and prints the rate and the server's own CPU
//!   time (process PID, user + system from /proc) per message over that window alone.
//!
//! Run through `cargo bench --bench net_peers -- tokio-echo 127.0.0.1:7300`. Without a
//! command (plain `cargo bench`) it prints how to use it and exits.

use std::io;
use std::time::{Duration, Instant};

/// The read deadline of the timers workload: far enough never to fire, even on a connection
/// that waits while the client opens the other 9,999 (seconds on a loaded machine).
const READ_DEADLINE: Duration = Duration::from_secs(60);

/// gort: a goroutine per connection, `set_read_deadline` before every read.
fn gort_deadline_echo(addr: &str) -> io::Result<()> {
    use std::io::{Read, Write};
    let l = gort::net::TcpListener::bind(addr)?;
    println!("gort deadline echo: serving on {}", l.local_addr()?);
    gort::run(move || loop {
        let Ok((mut c, _)) = l.accept() else { continue };
        gort::go(move || {
            let _ = c.set_nodelay(true);
            let mut buf = [0u8; 4096];
            loop {
                c.set_read_deadline(Some(Instant::now() + READ_DEADLINE));
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if c.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    })
}

/// tokio: a task per connection, every read under `tokio::time::timeout`.
fn tokio_deadline_echo(addr: &str) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind(addr).await?;
        println!("tokio deadline echo: serving on {}", l.local_addr()?);
        loop {
            let Ok((mut c, _)) = l.accept().await else {
                continue;
            };
            let _ = c.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    match tokio::time::timeout(READ_DEADLINE, c.read(&mut buf)).await {
                        Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
                        Ok(Ok(n)) => {
                            if c.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    })
}

/// may: a coroutine per connection with a read timeout, which may arms on every read.
fn may_deadline_echo(addr: &str) -> io::Result<()> {
    use std::io::{Read, Write};
    may::config().set_workers(std::thread::available_parallelism().map_or(1, |n| n.get()));
    let l = may::net::TcpListener::bind(addr)?;
    println!("may deadline echo: serving on {}", l.local_addr()?);
    for c in l.incoming() {
        let Ok(mut c) = c else { continue };
        let _ = c.set_nodelay(true);
        if c.set_read_timeout(Some(READ_DEADLINE)).is_err() {
            continue;
        }
        // SAFETY (may's contract): the coroutine uses no thread-local storage.
        unsafe {
            may::coroutine::spawn(move || {
                let mut buf = vec![0u8; 4096];
                loop {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if c.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    }
    Ok(())
}

fn tokio_echo(addr: &str) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind(addr).await?;
        println!("tokio echo: serving on {}", l.local_addr()?);
        loop {
            let (mut c, _) = match l.accept().await {
                Ok(x) => x,
                Err(_) => continue,
            };
            let _ = c.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    match c.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if c.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    })
}

fn may_echo(addr: &str) -> io::Result<()> {
    use std::io::{Read, Write};
    may::config().set_workers(std::thread::available_parallelism().map_or(1, |n| n.get()));
    let l = may::net::TcpListener::bind(addr)?;
    println!("may echo: serving on {}", l.local_addr()?);
    for c in l.incoming() {
        let Ok(mut c) = c else { continue };
        let _ = c.set_nodelay(true);
        // SAFETY (may's contract): the coroutine uses no thread-local storage.
        unsafe {
            may::coroutine::spawn(move || {
                let mut buf = vec![0u8; 4096];
                loop {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if c.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    }
    Ok(())
}

#[derive(Clone)]
struct Hello;

impl may_minihttp::HttpService for Hello {
    fn call(
        &mut self,
        _req: may_minihttp::Request,
        rsp: &mut may_minihttp::Response,
    ) -> io::Result<()> {
        rsp.header("Content-Type: text/plain").body("Hello, World!");
        Ok(())
    }
}

fn may_http(addr: &str) -> io::Result<()> {
    let server = may_minihttp::HttpServer(Hello).start(addr)?;
    println!("may_minihttp: serving on {addr}");
    server
        .join()
        .map_err(|_| io::Error::other("may_minihttp server panicked"))?;
    Ok(())
}

/// User + system CPU seconds of process `pid` so far (all its threads, dead ones too).
fn cpu_secs(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let bad = || io::Error::other(format!("unreadable /proc/{pid}/stat"));
    // Fields after the command name (in parentheses, which may hold spaces) start at 3;
    // utime and stime are fields 14 and 15, in clock ticks.
    let (_, rest) = stat.rsplit_once(')').ok_or_else(bad)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i - 3).and_then(|v| v.parse::<f64>().ok());
    let (utime, stime) = (ticks(14).ok_or_else(bad)?, ticks(15).ok_or_else(bad)?);
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Ok((utime + stime) / if hz > 0 { hz as f64 } else { 100.0 })
}

/// The timers workload's client; see the module docs.
fn deadline_client(addr: &str, conns: usize, secs: f64, pid: u32) -> io::Result<()> {
    use gort::net::TcpStream;
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = addr
        .parse()
        .map_err(|_| io::Error::other("deadline-client needs IP:PORT"))?;
    gort::run(move || {
        let ready = std::sync::Arc::new(gort::sync::WaitGroup::new());
        // Closed (dropped) when the window opens, as a Go program closes a start channel.
        let (start_tx, start_rx) = gort::chan::bounded::<Instant>(0);
        let mut handles = Vec::with_capacity(conns);
        for _ in 0..conns {
            let mut c = TcpStream::connect(addr)?;
            c.set_nodelay(true)?;
            ready.add(1);
            let (ready, start_rx) = (ready.clone(), start_rx.clone());
            handles.push(gort::go(move || -> io::Result<u64> {
                let msg = [0x5au8; 64];
                let mut back = [0u8; 64];
                let mut round_trip = |c: &mut TcpStream| -> io::Result<()> {
                    c.write_all(&msg)?;
                    c.read_exact(&mut back)
                };
                let first = round_trip(&mut c);
                ready.done();
                first?;
                let until = match start_rx.recv() {
                    Ok(until) => until,
                    Err(_) => return Ok(0),
                };
                c.set_deadline(Some(until + Duration::from_secs(10)));
                let mut n = 0;
                while Instant::now() < until {
                    round_trip(&mut c)?;
                    n += 1;
                }
                Ok(n)
            }));
        }
        ready.wait();
        let cpu_before = cpu_secs(pid)?;
        let start = Instant::now();
        let until = start + Duration::from_secs_f64(secs);
        for _ in 0..conns {
            let _ = start_tx.send(until);
        }
        let mut msgs = 0u64;
        for h in handles {
            msgs += h.join().expect("client goroutine panicked")?;
        }
        let window = start.elapsed().as_secs_f64();
        let cpu = cpu_secs(pid)? - cpu_before;
        if msgs == 0 {
            return Err(io::Error::other("no message got through"));
        }
        println!(
            "deadline client: {conns} connections, {msgs} messages in {window:.2} s: {:.0} msgs/s, server CPU {:.3} us/message",
            msgs as f64 / window,
            cpu / msgs as f64 * 1e6
        );
        Ok(())
    })
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.as_slice() {
        [cmd, addr] if cmd == "tokio-echo" => tokio_echo(addr),
        [cmd, addr] if cmd == "may-http" => may_http(addr),
        [cmd, addr] if cmd == "may-echo" => may_echo(addr),
        [cmd, addr] if cmd == "gort-deadline-echo" => gort_deadline_echo(addr),
        [cmd, addr] if cmd == "tokio-deadline-echo" => tokio_deadline_echo(addr),
        [cmd, addr] if cmd == "may-deadline-echo" => may_deadline_echo(addr),
        [cmd, addr, conns, secs, pid] if cmd == "deadline-client" => {
            let bad = |what: &str| io::Error::other(format!("deadline-client: bad {what}"));
            deadline_client(
                addr,
                conns.parse().map_err(|_| bad("CONNS"))?,
                secs.parse().map_err(|_| bad("SECS"))?,
                pid.parse().map_err(|_| bad("PID"))?,
            )
        }
        _ => {
            println!("net_peers: servers for benches/compare.sh (tokio-echo | may-echo | may-http | gort-deadline-echo | tokio-deadline-echo | may-deadline-echo, then ADDR; deadline-client ADDR CONNS SECS PID); nothing to do");
            Ok(())
        }
    }
}
