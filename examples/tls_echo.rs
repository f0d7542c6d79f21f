//! A TLS echo server on goroutines: rustls over `gort::net::TcpStream`, one goroutine per
//! connection, with a certificate made at start by rcgen.
//!
//! rustls is a blocking-friendly library: `rustls::StreamOwned` wraps any `Read + Write`
//! transport. Over gort's `TcpStream`, whose reads and writes park the goroutine on the
//! netpoller, it serves thousands of TLS connections from plain blocking code, without
//! async and without a thread per connection.
//!
//! ```text
//! cargo run --release --example tls_echo                              # 200 clients x 20 lines
//! cargo run --release --example tls_echo -- --clients 20 --lines 5    # CI
//! cargo run --release --example tls_echo -- --server 127.0.0.1:7443   # serve; try
//! #   openssl s_client -connect 127.0.0.1:7443 -servername localhost
//! ```

use gort::context::{background, Context};
use gort::net::{accept_ctx, TcpListener, TcpStream};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use std::io::{self, BufRead, BufReader, Write};
use std::sync::Arc;

/// The server's and a client's TLS configuration, for a self-signed certificate for
/// `localhost` made now (the client trusts exactly that certificate).
pub fn configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .expect("generate a certificate");
    let cert: CertificateDer<'static> = made.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let server = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server certificate");
    let mut roots = RootCertStore::empty();
    roots.add(cert).expect("trust the certificate");
    let client = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

/// Accepts connections until `ctx` is done, each served by its own goroutine.
pub fn serve(ctx: &Context, listener: TcpListener, config: Arc<ServerConfig>) {
    while let Ok((tcp, _)) = accept_ctx(ctx, &listener) {
        let config = config.clone();
        gort::go(move || {
            if let Err(e) = echo(tcp, config) {
                eprintln!("tls_echo: connection: {e}");
            }
        });
    }
}

/// One connection: the TLS handshake, then every line is sent back, until the client
/// closes.
fn echo(tcp: TcpStream, config: Arc<ServerConfig>) -> io::Result<()> {
    let conn = ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    let mut line = String::new();
    loop {
        line.clear();
        if tls.read_line(&mut line)? == 0 {
            return Ok(()); // the client closed (with close_notify)
        }
        tls.get_mut().write_all(line.as_bytes())?;
    }
}

/// A client: connects over TLS, sends `lines` lines and checks each echo.
pub fn client(addr: std::net::SocketAddr, config: Arc<ClientConfig>, id: usize, lines: usize) {
    let tcp = TcpStream::connect(addr).expect("connect");
    let name = ServerName::try_from("localhost").expect("server name");
    let conn = ClientConnection::new(config, name).expect("client connection");
    let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    let mut reply = String::new();
    for i in 0..lines {
        let msg = format!("client {id} line {i}\n");
        tls.get_mut().write_all(msg.as_bytes()).expect("write");
        reply.clear();
        tls.read_line(&mut reply).expect("read");
        assert_eq!(reply, msg);
    }
    tls.get_mut().conn.send_close_notify();
    let _ = tls.get_mut().flush();
}

/// Serves on loopback and runs `clients` clients of `lines` lines each, all at once;
/// returns the number of lines echoed.
pub fn demo(clients: usize, lines: usize) -> usize {
    let (server_config, client_config) = configs();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let (ctx, stop) = background().with_cancel();
    let server = gort::go(move || serve(&ctx, listener, server_config));
    let clients: Vec<_> = (0..clients)
        .map(|id| {
            let config = client_config.clone();
            gort::go(move || client(addr, config, id, lines))
        })
        .collect();
    let n = clients.len();
    for c in clients {
        c.join().expect("client");
    }
    stop.cancel();
    server.join().expect("server");
    n * lines
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

#[allow(dead_code)] // also compiled as a module of tests/ecosystem.rs
fn main() {
    let clients = arg("--clients").map_or(200, |v| v.parse().expect("a number"));
    let lines = arg("--lines").map_or(20, |v| v.parse().expect("a number"));
    if let Some(addr) = arg("--server") {
        gort::run(move || {
            let (config, _) = configs();
            let listener = TcpListener::bind(&addr).expect("bind");
            println!("tls_echo: serving TLS on {addr} (certificate for `localhost`)");
            serve(&background(), listener, config);
        });
        return;
    }
    let start = std::time::Instant::now();
    let echoed = gort::run(move || demo(clients, lines));
    println!(
        "tls_echo: {clients} TLS clients, {echoed} lines echoed in {:.2?}, one goroutine per \
         connection on {} procs",
        start.elapsed(),
        gort::procs()
    );
}
