//! The park seam (`runtime/src/park.rs`): no lost wake-up, one wake per episode, stale
//! tokens never wake a later episode, and `cancel` reports a wake that raced in.
#![cfg(loom)]

use gort_runtime::park;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;

/// A waker on another thread wakes a parker at any point of its prepare/park sequence:
/// `park` always returns (loom reports a deadlock if a wake-up is lost).
#[test]
fn wake_is_never_lost() {
    loom::model(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let token = park::prepare();
        let f = flag.clone();
        let waker = thread::spawn(move || {
            f.store(true, SeqCst);
            assert!(token.wake());
        });
        park::park();
        assert!(flag.load(SeqCst), "park returned before the wake-up");
        waker.join().unwrap();
    });
}

/// Two wakers race on clones of one token: exactly one wins, and the parker wakes once.
#[test]
fn exactly_one_of_two_wakers_wins() {
    loom::model(|| {
        let wins = Arc::new(AtomicUsize::new(0));
        let token = park::prepare();
        let wakers: Vec<_> = (0..2)
            .map(|_| {
                let (t, wins) = (token.clone(), wins.clone());
                thread::spawn(move || {
                    if t.wake() {
                        wins.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        park::park();
        for w in wakers {
            w.join().unwrap();
        }
        assert_eq!(wins.load(SeqCst), 1);
    });
}

/// A waker races with the parker's `cancel`: `cancel` returns true exactly when the wake
/// took effect, and a stale token never wakes the next episode.
#[test]
fn cancel_races_with_wake_and_stale_tokens_are_dead() {
    loom::model(|| {
        let token = park::prepare();
        let t = token.clone();
        let waker = thread::spawn(move || t.wake());
        let woken_first = park::cancel();
        let waker_won = waker.join().unwrap();
        assert_eq!(
            woken_first, waker_won,
            "cancel and wake disagree on who won"
        );

        // Next episode: the old token must not wake it; a fresh one must.
        let fresh = park::prepare();
        assert!(!token.wake(), "stale token woke a later episode");
        let waker = thread::spawn(move || assert!(fresh.wake()));
        park::park();
        waker.join().unwrap();
    });
}

/// Ping-pong between two threads through the seam, two rounds: every wake-up is delivered.
#[test]
fn ping_pong_two_rounds() {
    use loom::sync::Mutex;
    /// Round posted, and the token of whoever waits for it.
    type Mailbox = Mutex<(usize, Option<park::Token>)>;
    loom::model(|| {
        let boxes: Arc<[Mailbox; 2]> = Arc::new([Mutex::new((0, None)), Mutex::new((0, None))]);
        fn post(b: &Mailbox, n: usize) {
            let t = {
                let mut g = b.lock().unwrap();
                g.0 = n;
                g.1.take()
            };
            if let Some(t) = t {
                t.wake();
            }
        }
        fn wait(b: &Mailbox, n: usize) {
            loop {
                let t = park::prepare();
                {
                    let mut g = b.lock().unwrap();
                    if g.0 >= n {
                        drop(g);
                        park::cancel();
                        return;
                    }
                    g.1 = Some(t);
                }
                park::park();
            }
        }
        let b2 = boxes.clone();
        let other = thread::spawn(move || {
            for i in 1..=2 {
                wait(&b2[0], i);
                post(&b2[1], i);
            }
        });
        for i in 1..=2 {
            post(&boxes[0], i);
            wait(&boxes[1], i);
        }
        other.join().unwrap();
    });
}

/// `wake_all` wakes every token it is given, each parker at any point of its prepare/park
/// sequence, and a stale token among them wakes nobody.
#[test]
fn wake_all_wakes_every_token() {
    loom::model(|| {
        let (tx, rx) = loom::sync::mpsc::channel();
        let parkers: Vec<_> = (0..2)
            .map(|_| {
                let tx = tx.clone();
                thread::spawn(move || {
                    let stale = park::prepare();
                    park::cancel();
                    tx.send(stale).unwrap();
                    tx.send(park::prepare()).unwrap();
                    park::park();
                })
            })
            .collect();
        let tokens: Vec<park::Token> = (0..4).map(|_| rx.recv().unwrap()).collect();
        park::wake_all(tokens);
        for p in parkers {
            p.join().unwrap();
        }
    });
}
