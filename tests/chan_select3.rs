// Copyright 2010 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's test/chan/select3.go (https://github.com/golang/go); Go's LICENSE file is
// tests/LICENSE-GO. gort's changes are described below.

//! Port of Go's `test/chan/select3.go`: the semantics of select (and of plain operations) for
//! basic empty / non-empty / closed / nil cases. Go's nil channel is `chan::never()` (there is
//! no nil sender, so the nil-send cases have no port); Go's panic on a send to a closed
//! channel is an `Err(SendError(v))` that gives the value back. "Always blocks" is checked by
//! starting the operation in a party and seeing that it has not finished after a while (a
//! correct implementation never finishes, so this cannot fail spuriously), then, where the
//! operation can be released, releasing it and checking it completes the right way.
//! "Never blocks" means it completes (under the hang guard).

mod common_chan;
use common_chan::*;
use gort::chan::{self, Receiver, RecvError, SendError, Sender};
use gort::select;
use std::time::Duration;

/// Runs `f` in a party and checks it is still blocked after a while. Then runs `release`
/// (if given) and checks `f` completes; without `release` the party is left blocked.
fn assert_blocks(
    kind: Kind,
    what: &str,
    f: impl FnOnce() + Send + 'static,
    release: Option<Box<dyn FnOnce()>>,
) {
    let (done_tx, done_rx) = chan::bounded::<()>(1);
    let j = spawn(kind, move || {
        f();
        let _ = done_tx.send(());
    });
    for _ in 0..10 {
        pause();
        assert!(
            done_rx.try_recv().is_err(),
            "{kind:?}: {what}: did not block"
        );
    }
    if let Some(release) = release {
        release();
        assert_eq!(done_rx.recv(), Ok(()), "{kind:?}: {what}: not released");
        j();
    }
}

/// Runs `f` in a party and waits for it to complete.
fn assert_completes(kind: Kind, f: impl FnOnce() + Send + 'static) {
    spawn(kind, f)();
}

fn closed_chan() -> (Sender<i32>, Receiver<i32>) {
    let (tx, rx) = chan::bounded::<i32>(0);
    tx.close().unwrap();
    (tx, rx)
}

#[test]
fn nil_channel_receive_blocks() {
    for kind in KINDS {
        scenario(60, kind, move || {
            assert_blocks(
                kind,
                "<-nilch",
                || {
                    let _ = chan::never::<i32>().recv();
                },
                None,
            );
            // The same, observed through a timeout.
            assert!(chan::never::<i32>()
                .recv_timeout(Duration::from_millis(20))
                .is_err());
        });
    }
}

#[test]
fn nil_channel_in_select_is_never_selected() {
    for _ in 0..1000 {
        let nilch = chan::never::<i32>();
        select! {
            recv(nilch) -> _ => unreachable!("nil channel selected"),
            default => {}
        }
    }
}

#[test]
fn send_with_free_buffer_never_blocks() {
    for kind in KINDS {
        scenario(60, kind, move || {
            assert_completes(kind, || {
                let (tx, _rx) = chan::bounded::<i32>(1);
                tx.send(7).unwrap();
            });
        });
    }
}

#[test]
fn receive_from_closed_never_blocks() {
    for kind in KINDS {
        scenario(60, kind, move || {
            let (_tx, closedch) = closed_chan();
            assert_completes(kind, move || {
                for _ in 0..10 {
                    assert_eq!(
                        closedch.recv(),
                        Err(RecvError),
                        "value from a closed channel"
                    );
                    select! {
                        recv(closedch) -> v => assert_eq!(v, Err(RecvError)),
                    }
                }
            });
        });
    }
}

#[test]
fn send_to_closed_fails_with_the_value() {
    let (tx, _rx) = closed_chan();
    assert_eq!(tx.send(7), Err(SendError(7)));
    select! {
        send(tx, 7) -> r => assert_eq!(r, Err(SendError(7))),
    }
    // With a default case too, the closed send is "ready" (Go would panic there).
    select! {
        send(tx, 8) -> r => assert_eq!(r, Err(SendError(8))),
        default => panic!("a send on a closed channel must not block"),
    }
}

#[test]
fn receive_from_non_ready_channel_blocks() {
    for kind in KINDS {
        scenario(60, kind, move || {
            let (tx, rx) = chan::bounded::<i32>(0);
            assert_blocks(
                kind,
                "<-ch",
                move || assert_eq!(rx.recv(), Ok(5)),
                Some(Box::new(move || tx.send(5).unwrap())),
            );
        });
    }
}

#[test]
fn select_with_only_nil_channels_blocks() {
    for kind in KINDS {
        scenario(60, kind, move || {
            assert_blocks(
                kind,
                "select { <-nilch }",
                || {
                    let nilch = chan::never::<i32>();
                    select! {
                        recv(nilch) -> _ => unreachable!(),
                    }
                },
                None,
            );
            assert_blocks(
                kind,
                "select { <-nilch, <-nilch2 }",
                || {
                    let (n1, n2) = (chan::never::<i32>(), chan::never::<String>());
                    select! {
                        recv(n1) -> _ => unreachable!(),
                        recv(n2) -> _ => unreachable!(),
                    }
                },
                None,
            );
            // Observed through a select timeout.
            let nilch = chan::never::<i32>();
            let timed_out = select! {
                recv(nilch) -> _ => unreachable!(),
                default(Duration::from_millis(20)) => true,
            };
            assert!(timed_out);
        });
    }
}

#[test]
fn select_with_non_ready_channel_blocks() {
    for kind in KINDS {
        scenario(60, kind, move || {
            let (tx, rx) = chan::bounded::<i32>(0);
            assert_blocks(
                kind,
                "select { <-ch }",
                move || {
                    select! {
                        recv(rx) -> v => assert_eq!(v, Ok(9)),
                    }
                },
                Some(Box::new(move || tx.send(9).unwrap())),
            );
            // A send case with no receiver blocks too.
            let (tx, rx) = chan::bounded::<i32>(0);
            assert_blocks(
                kind,
                "select { ch <- 1 }",
                move || {
                    select! {
                        send(tx, 1) -> r => r.unwrap(),
                    }
                },
                Some(Box::new(move || assert_eq!(rx.recv(), Ok(1)))),
            );
        });
    }
}

#[test]
fn selects_with_default_do_not_block() {
    for kind in KINDS {
        scenario(60, kind, move || {
            assert_completes(kind, || {
                let ran = select! {
                    default => true,
                };
                assert!(ran);
                let nilch = chan::never::<i32>();
                let ran = select! {
                    recv(nilch) -> _ => unreachable!(),
                    default => true,
                };
                assert!(ran);
                // A non-ready real channel too.
                let (_tx, rx) = chan::bounded::<i32>(0);
                let ran = select! {
                    recv(rx) -> _ => unreachable!(),
                    default => true,
                };
                assert!(ran);
            });
        });
    }
}

#[test]
fn selects_with_ready_channels_do_not_block() {
    for kind in KINDS {
        scenario(60, kind, move || {
            assert_completes(kind, || {
                let (tx, rx) = chan::bounded::<i32>(1);
                select! {
                    send(tx, 7) -> r => r.unwrap(),
                    default => unreachable!("buffer space is ready"),
                }
                select! {
                    recv(rx) -> v => assert_eq!(v, Ok(7)),
                    default => unreachable!("a buffered value is ready"),
                }
            });
        });
    }
}

#[test]
fn selects_with_closed_channels_behave_like_plain_operations() {
    for kind in KINDS {
        scenario(60, kind, move || {
            let (tx, rx) = closed_chan();
            assert_completes(kind, move || {
                select! {
                    recv(rx) -> v => assert!(v.is_err()),
                }
                let nilch = chan::never::<i32>();
                select! {
                    recv(nilch) -> _ => unreachable!(),
                    recv(rx) -> v => assert_eq!(v, Err(RecvError)),
                }
                select! {
                    send(tx, 7) -> r => assert_eq!(r, Err(SendError(7))),
                }
            });
        });
    }
}

/// "select should not get confused if it sees itself": a select sending and receiving on
/// the same unbuffered channel, with nobody else there, blocks (it cannot pair with itself),
/// and a third party's send then completes its receive case.
#[test]
fn select_that_sees_itself_blocks() {
    for kind in KINDS {
        scenario(60, kind, move || {
            for _ in 0..5 {
                let (tx, rx) = chan::bounded::<i32>(0);
                let (tx2, rx2) = (tx.clone(), rx.clone());
                assert_blocks(
                    kind,
                    "select { c <- 1, <-c }",
                    move || {
                        select! {
                            send(tx2, 1) -> _ => panic!("send paired with no receiver"),
                            recv(rx2) -> v => assert_eq!(v, Ok(5), "received its own value?"),
                        }
                    },
                    Some(Box::new(move || tx.send(5).unwrap())),
                );
                drop(rx);
            }
            // And with a timeout: nothing is ready.
            let (tx, rx) = chan::bounded::<i32>(0);
            let timed_out = select! {
                send(tx, 1) -> _ => false,
                recv(rx) -> _ => false,
                default(Duration::from_millis(20)) => true,
            };
            assert!(timed_out, "a select paired with itself");
        });
    }
}
