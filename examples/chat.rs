//! A chat server: every line a client sends is broadcast to every client. One goroutine
//! reads each connection, one writes it, and a hub goroutine fans messages out over
//! channels.
//!
//! ```sh
//! cargo run --release --example chat -- --load 5        # 5 built-in clients chat, then exit
//! cargo run --release --example chat -- --server 127.0.0.1:7400   # serve; try `nc 127.0.0.1 7400`
//! ```

use gort::chan::{unbounded, Sender};
use gort::net::{TcpListener, TcpStream};
use gort::select;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;

/// What the hub hears about.
enum Event {
    Join(u64, Sender<String>),
    Leave(u64),
    Line(u64, String),
}

/// Fans every line out to every client's writer.
fn hub(events: gort::chan::Receiver<Event>) {
    let mut clients: Vec<(u64, Sender<String>)> = Vec::new();
    for ev in events.iter() {
        match ev {
            Event::Join(id, tx) => clients.push((id, tx)),
            Event::Leave(id) => clients.retain(|(c, _)| *c != id),
            Event::Line(from, line) => {
                for (_, tx) in &clients {
                    // A client that went away is dropped at its Leave.
                    let _ = tx.send(format!("{from}: {line}\n"));
                }
            }
        }
    }
}

fn serve(id: u64, conn: TcpStream, events: Sender<Event>, joined: Sender<()>) {
    let (tx, rx) = unbounded::<String>();
    events.send(Event::Join(id, tx)).unwrap();
    // The hub reads events in order: any line sent after this point reaches us.
    let _ = joined.send(());
    let mut out = conn.try_clone().unwrap();
    let writer = gort::go(move || {
        for line in rx.iter() {
            if out.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    for line in BufReader::new(conn).lines() {
        match line {
            Ok(l) => events.send(Event::Line(id, l)).unwrap(),
            Err(_) => break,
        }
    }
    events.send(Event::Leave(id)).unwrap(); // the hub drops our sender: the writer ends
    let _ = writer.join();
}

/// A built-in client: says `msgs` lines, and reads until it has seen every client's lines.
fn client(
    addr: SocketAddr,
    me: usize,
    clients: usize,
    msgs: usize,
    start: gort::chan::Receiver<()>,
) -> usize {
    let conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut w = conn.try_clone().unwrap();
    // Wait until every client has joined (the channel closes), so each sees all lines.
    select! { recv(start) -> _ => {} }
    for i in 0..msgs {
        writeln!(w, "hello {i} from client {me}").unwrap();
    }
    let mut seen = 0;
    let mut lines = BufReader::new(conn).lines();
    while seen < clients * msgs {
        lines.next().expect("server closed").expect("read");
        seen += 1;
    }
    seen
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let load: usize = flag("--load").map_or(0, |v| v.parse().expect("--load N"));
    let server = flag("--server");
    gort::run(move || {
        let l = TcpListener::bind(server.as_deref().unwrap_or("127.0.0.1:0")).unwrap();
        let addr = l.local_addr().unwrap();
        let (events, rx) = unbounded();
        gort::go(move || hub(rx));
        let (joined_tx, joined_rx) = unbounded::<()>();
        gort::go(move || {
            for id in 1.. {
                let (c, _) = match l.accept() {
                    Ok(x) => x,
                    Err(_) => continue,
                };
                let events = events.clone();
                let joined = joined_tx.clone();
                gort::go(move || serve(id, c, events, joined));
            }
        });
        if load == 0 {
            println!("chat: serving on {addr}");
            loop {
                gort::time::sleep(std::time::Duration::from_secs(3600));
            }
        }
        let msgs = 10;
        let (start_tx, start_rx) = unbounded::<()>();
        let hs: Vec<_> = (0..load)
            .map(|me| {
                let start = start_rx.clone();
                gort::go(move || client(addr, me, load, msgs, start))
            })
            .collect();
        for _ in 0..load {
            joined_rx.recv().unwrap();
        }
        start_tx.close().unwrap();
        let total: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
        println!("chat: {load} clients, {msgs} lines each; every client saw all {} lines ({total} deliveries)", load * msgs);
    });
}
