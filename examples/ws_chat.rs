//! A WebSocket chat server on goroutines, with tungstenite over `gort::net::TcpStream`:
//! every message a client sends is broadcast to every client.
//!
//! The shape of Go's classic chat server (gorilla/websocket's example): per connection a
//! reader goroutine, which runs tungstenite's blocking `read` on the socket, and a writer
//! goroutine, which drains the connection's channel of outgoing messages; a hub goroutine
//! fans messages out over channels. tungstenite's `WebSocket` is not split into halves, so
//! each goroutine has its own over a clone of the socket; their writes (the writer's
//! messages, the reader's automatic pong and close replies) go through [`Locked`], which
//! writes each buffer of whole frames at once under a mutex, so frames never interleave.
//!
//! ```text
//! cargo run --release --example ws_chat                              # 100 clients x 10 messages
//! cargo run --release --example ws_chat -- --clients 10 --lines 3    # CI
//! cargo run --release --example ws_chat -- --server 127.0.0.1:7480   # serve (ws://127.0.0.1:7480/)
//! ```

use gort::chan::{unbounded, Receiver, Sender};
use gort::context::{background, Context};
use gort::net::{accept_ctx, TcpListener, TcpStream};
use gort::sync::Mutex;
use std::io::{self, Read, Write};
use std::sync::Arc;
use tungstenite::protocol::Role;
use tungstenite::{Message, WebSocket};

/// A connection's socket for one of its `WebSocket`s: reads pass through; each write
/// writes the whole buffer (tungstenite hands over whole frames) under the connection's
/// write lock, so that the reader's and the writer's frames never interleave.
pub struct Locked {
    tcp: TcpStream,
    write_lock: Arc<Mutex<()>>,
}

impl Read for Locked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.read(buf)
    }
}

impl Write for Locked {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _g = self.write_lock.lock();
        self.tcp.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// What the hub hears about.
enum Event {
    Join(u64, Sender<String>),
    Leave(u64),
    Say(String),
}

/// Fans every message out to every client's writer.
fn hub(events: Receiver<Event>) {
    let mut clients: Vec<(u64, Sender<String>)> = Vec::new();
    for ev in events.iter() {
        match ev {
            Event::Join(id, tx) => {
                let _ = tx.send(format!("welcome {id}"));
                clients.push((id, tx));
            }
            Event::Leave(id) => clients.retain(|(c, _)| *c != id),
            Event::Say(text) => {
                for (_, tx) in &clients {
                    let _ = tx.send(text.clone()); // a client that left goes at its Leave
                }
            }
        }
    }
}

/// One connection: the WebSocket handshake, then a writer goroutine and this reader.
fn serve_conn(
    id: u64,
    tcp: TcpStream,
    events: Sender<Event>,
) -> Result<(), Box<dyn std::error::Error>> {
    let write_lock = Arc::new(Mutex::new(()));
    let out = Locked {
        tcp: tcp.try_clone()?,
        write_lock: write_lock.clone(),
    };
    let mut ws = tungstenite::accept(Locked { tcp, write_lock })?;
    let (tx, rx) = unbounded::<String>();
    let writer = gort::go(move || {
        let mut ws = WebSocket::from_raw_socket(out, Role::Server, None);
        for text in rx.iter() {
            if ws.send(Message::text(text)).is_err() {
                break;
            }
        }
    });
    events.send(Event::Join(id, tx))?;
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => events.send(Event::Say(t.to_string()))?,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {} // pings are answered by tungstenite; binary is ignored
        }
    }
    events.send(Event::Leave(id))?; // the hub drops our sender: the writer ends
    let _ = writer.join();
    Ok(())
}

/// Accepts connections until `ctx` is done.
pub fn serve(ctx: &Context, listener: TcpListener) {
    let (events, rx) = unbounded();
    let hub = gort::go(move || hub(rx));
    let mut id = 0;
    while let Ok((tcp, _)) = accept_ctx(ctx, &listener) {
        id += 1;
        let events = events.clone();
        gort::go(move || {
            if let Err(e) = serve_conn(id, tcp, events) {
                eprintln!("ws_chat: connection {id}: {e}");
            }
        });
    }
    drop(events);
    let _ = hub.join();
}

/// A client: joins, says `lines` things once everyone has joined (`start`), and reads until
/// it has heard all `total` messages of everyone; returns how many it heard.
fn client(
    addr: std::net::SocketAddr,
    id: usize,
    lines: usize,
    total: usize,
    joined: Sender<()>,
    start: Receiver<()>,
) -> usize {
    let tcp = TcpStream::connect(addr).expect("connect");
    let (mut ws, _) = tungstenite::client(format!("ws://{addr}/"), tcp).expect("handshake");
    let welcome = ws.read().expect("welcome");
    assert!(welcome.to_text().unwrap().starts_with("welcome"));
    joined.send(()).unwrap();
    let _ = start.recv(); // closed when everyone has joined
    for i in 0..lines {
        ws.send(Message::text(format!("{id}: line {i}")))
            .expect("send");
    }
    let mut heard = 0;
    while heard < total {
        if let Message::Text(_) = ws.read().expect("read") {
            heard += 1;
        }
    }
    ws.close(None).expect("close");
    // Read until the server's close reply: a clean close.
    while ws.read().is_ok() {}
    heard
}

/// Serves on loopback and runs `clients` clients who each say `lines` things; returns the
/// number of messages delivered (every client hears every message).
pub fn demo(clients: usize, lines: usize) -> usize {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let (ctx, stop) = background().with_cancel();
    let server = gort::go(move || serve(&ctx, listener));
    let (joined_tx, joined_rx) = unbounded();
    let (start_tx, start_rx) = unbounded::<()>();
    let total = clients * lines;
    let handles: Vec<_> = (0..clients)
        .map(|id| {
            let (j, s) = (joined_tx.clone(), start_rx.clone());
            gort::go(move || client(addr, id, lines, total, j, s))
        })
        .collect();
    for _ in 0..clients {
        joined_rx.recv().expect("a client joined");
    }
    drop(start_tx); // everyone is in: go
    let heard: usize = handles.into_iter().map(|h| h.join().expect("client")).sum();
    stop.cancel();
    server.join().expect("server");
    heard
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

#[allow(dead_code)] // also compiled as a module of tests/ecosystem.rs
fn main() {
    let clients = arg("--clients").map_or(100, |v| v.parse().expect("a number"));
    let lines = arg("--lines").map_or(10, |v| v.parse().expect("a number"));
    if let Some(addr) = arg("--server") {
        gort::run(move || {
            let listener = TcpListener::bind(&addr).expect("bind");
            println!("ws_chat: serving ws://{addr}/");
            serve(&background(), listener);
        });
        return;
    }
    let start = std::time::Instant::now();
    let heard = gort::run(move || demo(clients, lines));
    println!(
        "ws_chat: {clients} WebSocket clients, {heard} messages delivered in {:.2?} on {} procs",
        start.elapsed(),
        gort::procs()
    );
}
