//! Plaintext HTTP/1.1 "Hello, World!" with keep-alive and pipelining: one goroutine per
//! connection, requests parsed with `httparse`, all responses to the requests that arrived
//! together written with one `write`.
//!
//! ```sh
//! cargo run --release --example http_hello -- --load 1000          # serve + built-in client, exits
//! cargo run --release --example http_hello -- --server 127.0.0.1:8080   # serve (e.g. for wrk)
//! ```

use gort::net::{TcpListener, TcpStream};
use std::io::{Read, Write};
use std::net::SocketAddr;

const BODY: &str = "Hello, World!";

/// Appends the response to one request.
fn respond(out: &mut Vec<u8>, close: bool) {
    out.extend_from_slice(
        b"HTTP/1.1 200 OK\r\nServer: gort\r\nContent-Type: text/plain\r\nContent-Length: ",
    );
    out.extend_from_slice(BODY.len().to_string().as_bytes());
    if close {
        out.extend_from_slice(b"\r\nConnection: close");
    }
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(BODY.as_bytes());
}

/// Serves one connection until the client closes it (or asks to).
fn serve(mut conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut buf = vec![0u8; 8192];
    let (mut filled, mut out) = (0usize, Vec::with_capacity(8192));
    loop {
        match conn.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
        // Every complete request in the buffer (pipelining), answered in one write.
        let mut used = 0;
        let mut close = false;
        while !close {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf[used..filled]) {
                Ok(httparse::Status::Complete(len)) => {
                    close = req.headers.iter().any(|h| {
                        h.name.eq_ignore_ascii_case("connection")
                            && h.value.eq_ignore_ascii_case(b"close")
                    }) || req.version == Some(0);
                    used += len;
                    respond(&mut out, close);
                }
                Ok(httparse::Status::Partial) => break,
                Err(_) => {
                    let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    return;
                }
            }
        }
        if !out.is_empty() {
            if conn.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if close {
            return;
        }
        buf.copy_within(used..filled, 0);
        filled -= used;
        if filled == buf.len() {
            return; // a request larger than the buffer: not for this example
        }
    }
}

fn accept_loop(l: TcpListener) -> ! {
    loop {
        match l.accept() {
            Ok((c, _)) => {
                gort::go(move || serve(c));
            }
            Err(e) => eprintln!("http_hello: accept: {e}"),
        }
    }
}

/// The built-in client: `total` requests over 4 connections, pipelined 8 deep, checked.
fn load(addr: SocketAddr, total: usize) {
    let per = total.div_ceil(4);
    let hs: Vec<_> = (0..4)
        .map(|_| {
            gort::go(move || {
                let mut c = TcpStream::connect(addr).unwrap();
                c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                    .unwrap();
                let req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
                let (mut done, mut buf) = (0, Vec::new());
                while done < per {
                    let batch = (per - done).min(8);
                    let reqs: Vec<u8> = req
                        .iter()
                        .copied()
                        .cycle()
                        .take(req.len() * batch)
                        .collect();
                    c.write_all(&reqs).unwrap();
                    let mut got = 0;
                    while got < batch {
                        let mut chunk = [0u8; 4096];
                        let n = c.read(&mut chunk).unwrap();
                        assert!(n > 0, "server closed the connection");
                        buf.extend_from_slice(&chunk[..n]);
                        loop {
                            let mut headers = [httparse::EMPTY_HEADER; 16];
                            let mut rsp = httparse::Response::new(&mut headers);
                            match rsp.parse(&buf).unwrap() {
                                httparse::Status::Complete(len)
                                    if buf.len() >= len + BODY.len() =>
                                {
                                    assert_eq!(rsp.code, Some(200));
                                    assert_eq!(&buf[len..len + BODY.len()], BODY.as_bytes());
                                    buf.drain(..len + BODY.len());
                                    got += 1;
                                }
                                _ => break,
                            }
                        }
                    }
                    done += batch;
                }
                done
            })
        })
        .collect();
    let n: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
    println!("http_hello: {n} requests answered (keep-alive, pipelined 8 deep)");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let total: usize = flag("--load").map_or(0, |v| v.parse().expect("--load N"));
    let server = flag("--server");
    gort::run(move || {
        let l = TcpListener::bind(server.as_deref().unwrap_or("127.0.0.1:0")).expect("bind");
        let addr = l.local_addr().unwrap();
        if total == 0 {
            println!("http_hello: serving on http://{addr}/");
            accept_loop(l);
        }
        gort::go(move || accept_loop(l));
        load(addr, total);
    });
}
