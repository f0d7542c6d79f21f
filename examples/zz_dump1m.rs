use std::time::Instant;
fn main() {
    let n: usize = std::env::args().nth(1).map_or(1_000_000, |a| a.parse().unwrap());
    let (tx, rx) = gort::chan::bounded::<u32>(0);
    gort::run(move || {
        let t = Instant::now();
        let hs: Vec<_> = (0..n).map(|_| { let rx = rx.clone(); gort::go(move || rx.recv()) }).collect();
        while gort::debug::goroutines().len() < n + 1 { gort::time::sleep(std::time::Duration::from_millis(100)); }
        eprintln!("parked {n} in {:?}", t.elapsed());
        for _ in 0..3 {
            let t = Instant::now();
            let d = gort::debug::dump();
            eprintln!("dump of {} goroutines: {:?}, {} lines", n, t.elapsed(), d.lines().count());
        }
        let t = Instant::now();
        let g = gort::debug::goroutines();
        eprintln!("goroutines(): {:?} for {}", t.elapsed(), g.len());
        print!("{}", gort::debug::dump());
        drop(tx);
        for h in hs { let _ = h.join(); }
    });
}
