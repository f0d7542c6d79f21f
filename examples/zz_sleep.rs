use std::time::{Duration, Instant};
fn main() {
    let marked = std::env::args().nth(1).as_deref() == Some("marked");
    let t = Instant::now();
    gort::run(move || {
        let hs: Vec<_> = (0..1000)
            .map(|_| {
                gort::go(move || {
                    if marked {
                        gort::syscall(|| std::thread::sleep(Duration::from_millis(500)))
                    } else {
                        std::thread::sleep(Duration::from_millis(500))
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    let s = gort::stats();
    println!(
        "{} {:?} threads={} handoffs={} blocked={} retakes={}",
        if marked { "marked" } else { "unmarked" },
        t.elapsed(),
        s.threads,
        s.handoffs,
        s.blocked_handoffs,
        s.retakes
    );
}
