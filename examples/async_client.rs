//! Async libraries from goroutines: `gort::block_on` calls futures that run on a tokio
//! runtime kept on background threads, from many goroutines at once.
//!
//! Much of Rust's client ecosystem is async-only (HTTP clients, database drivers, cloud
//! SDKs). Here a tokio runtime with two worker threads hosts a small line-based server
//! (it answers each line in upper case after 5 ms, like a remote API) and the async client
//! code that talks to it. Goroutines call that client with `gort::block_on(handle.spawn(..))`:
//! each caller parks (its M runs other goroutines) until tokio's worker wakes it, so
//! hundreds of calls are in flight at once on two Ps. A runtime-agnostic future (a tokio
//! `oneshot` receiver) is awaited directly, without spawning.
//!
//! ```text
//! cargo run --release --example async_client                        # 500 goroutines
//! cargo run --release --example async_client -- --goroutines 50 --calls 2   # CI
//! ```

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The "remote API": answers every line with the line in upper case, after a delay.
async fn serve(listener: TcpListener) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let (rd, mut wr) = sock.into_split();
            let mut lines = BufReader::new(rd).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tokio::time::sleep(Duration::from_millis(5)).await;
                if wr
                    .write_all(format!("{}\n", line.to_uppercase()).as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }
}

/// The async client a library would offer: one connection, `calls` requests on it.
async fn client(addr: std::net::SocketAddr, who: usize, calls: usize) -> std::io::Result<usize> {
    let sock = TcpStream::connect(addr).await?;
    let (rd, mut wr) = sock.into_split();
    let mut lines = BufReader::new(rd).lines();
    for i in 0..calls {
        let req = format!("hello {who} {i}");
        wr.write_all(format!("{req}\n").as_bytes()).await?;
        let reply = lines.next_line().await?.unwrap_or_default();
        assert_eq!(reply, req.to_uppercase());
    }
    Ok(calls)
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

fn main() {
    let goroutines = arg("--goroutines", 500);
    let calls = arg("--calls", 4);

    // tokio on two background worker threads, for the whole program.
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let handle = tokio_rt.handle().clone();
    let listener = handle
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    handle.spawn(serve(listener));

    gort::run(move || {
        println!(
            "{goroutines} goroutines x {calls} calls through tokio, on {} gort procs",
            gort::procs()
        );
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let workers: Vec<_> = (0..goroutines)
            .map(|who| {
                let (handle, in_flight, peak) = (handle.clone(), in_flight.clone(), peak.clone());
                gort::go(move || {
                    let now = in_flight.fetch_add(1, SeqCst) + 1;
                    peak.fetch_max(now, SeqCst);
                    // The future needs tokio's reactor: spawn it there, wait for its handle.
                    let done = gort::block_on(handle.spawn(client(addr, who, calls)))
                        .expect("the task ran")
                        .expect("the calls succeeded");
                    in_flight.fetch_sub(1, SeqCst);
                    done
                })
            })
            .collect();
        let total: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
        let took = start.elapsed();
        assert_eq!(total, goroutines * calls);
        println!(
            "{total} calls in {took:.2?}; up to {} goroutines waiting in block_on at once \
             (a call takes >= 5 ms: one at a time they would take >= {:.2?})",
            peak.load(SeqCst),
            Duration::from_millis(5) * total as u32
        );

        // A runtime-agnostic future needs no spawning: await it directly.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sender = gort::go(move || {
            gort::time::sleep(Duration::from_millis(10));
            tx.send("from a goroutine").unwrap();
        });
        println!("oneshot: {}", gort::block_on(rx).unwrap());
        sender.join().unwrap();
    });
    drop(tokio_rt);
}
