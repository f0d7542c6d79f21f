//! The blocking Rust ecosystem on goroutines: the `tls_echo` (rustls) and `ws_chat`
//! (tungstenite) examples, run as tests, each under the hang guard and several times, and
//! at one P (where a library call that blocked its thread instead of parking would hang).

mod common_chan;
use common_chan::within;

#[path = "../examples/tls_echo.rs"]
#[allow(dead_code)]
mod tls_echo;

#[path = "../examples/ws_chat.rs"]
#[allow(dead_code)]
mod ws_chat;

#[test]
fn rustls_echo_over_gort_tcp() {
    for procs in [1, 2, 4] {
        let echoed = within(120, move || {
            gort::run(move || {
                let before = gort::set_procs(procs);
                let n = tls_echo::demo(40, 10);
                gort::set_procs(before);
                n
            })
        });
        assert_eq!(echoed, 400);
    }
}

#[test]
fn tungstenite_chat_over_gort_tcp() {
    for procs in [1, 2, 4] {
        let heard = within(120, move || {
            gort::run(move || {
                let before = gort::set_procs(procs);
                let n = ws_chat::demo(20, 5);
                gort::set_procs(before);
                n
            })
        });
        assert_eq!(heard, 20 * 20 * 5);
    }
}
