//! A UDP echo server and a client, both goroutines.
//!
//! ```sh
//! cargo run --release --example udp_echo -- --load 1000   # 1000 datagrams, then exit
//! ```

use gort::net::UdpSocket;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args
        .iter()
        .position(|a| a == "--load")
        .and_then(|i| args.get(i + 1))
        .map_or(100, |v| v.parse().expect("--load N"));
    gort::run(move || {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        gort::go(move || {
            let mut buf = [0u8; 1500];
            while let Ok((len, from)) = server.recv_from(&mut buf) {
                let _ = server.send_to(&buf[..len], from);
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(addr).unwrap();
        // UDP may drop: each datagram gets a timeout and is counted as lost if it expires.
        client
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let (mut ok, mut lost) = (0, 0);
        for i in 0..n as u64 {
            client.send(&i.to_le_bytes()).unwrap();
            let mut buf = [0u8; 8];
            match client.recv(&mut buf) {
                Ok(8) if u64::from_le_bytes(buf) == i => ok += 1,
                _ => lost += 1,
            }
        }
        println!("udp_echo: {ok} of {n} datagrams echoed, {lost} lost");
    });
}
