//! Go's deadlock report: a program whose goroutines can never run again ends with
//! `fatal error: all goroutines are asleep - deadlock!` (exit status 2) instead of hanging.
//!
//! ```text
//! cargo run --example deadlock            # an unbuffered send nobody receives: reported
//! cargo run --example deadlock -- later   # a plain thread sends after 300 ms: no report
//! ```

use std::time::Duration;

fn main() {
    let later = std::env::args().any(|a| a == "later");
    let (tx, rx) = gort::chan::bounded::<u32>(0);
    if later {
        // A thread outside the runtime will wake the goroutine: not a deadlock.
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            tx.send(7).unwrap();
        });
        let v = gort::run(move || rx.recv().unwrap());
        println!("received {v} from a plain thread");
    } else {
        gort::run(move || {
            let _rx = rx;
            tx.send(1).unwrap(); // nobody ever receives
        });
        unreachable!("the send cannot complete");
    }
}
