//! The servers of gort's network benches that are not examples, run by `benches/compare.sh`
//! (not a criterion bench):
//!
//! - `tokio-echo ADDR`: a tokio echo server (multi-threaded runtime, task per connection);
//! - `may-echo ADDR`: a may echo server (coroutine per connection, as many workers as CPUs);
//! - `may-http ADDR`: may_minihttp's hello-world server;
//! - `gort-deadline-echo ADDR`, `tokio-deadline-echo ADDR`, `may-deadline-echo ADDR`: the
//!   timers workload, an echo server that puts a fresh 5 s read deadline on every read, as a
//!   Go server calling `SetReadDeadline` before each `Read` does (its Go twin is
//!   `benches/go/echo ADDR deadline`). gort: `set_read_deadline(now + 5 s)` before each read;
//!   tokio: each read inside `tokio::time::timeout(5 s, ...)`; may: `set_read_timeout(5 s)`
//!   once per connection, which arms a 5 s timer on each read (setting it again per read
//!   would only add a `setsockopt` call).
//!
//! Run through `cargo bench --bench net_peers -- tokio-echo 127.0.0.1:7300`. Without a
//! command (plain `cargo bench`) it prints how to use it and exits.

use std::io;
use std::time::{Duration, Instant};

/// The read deadline of the timers workload: far enough never to fire under load.
const READ_DEADLINE: Duration = Duration::from_secs(5);

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
        _ => {
            println!("net_peers: servers for benches/compare.sh (tokio-echo | may-echo | may-http | gort-deadline-echo | tokio-deadline-echo | may-deadline-echo, then ADDR); nothing to do");
            Ok(())
        }
    }
}
