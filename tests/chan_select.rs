// Copyright 2009, 2010 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's test/chan/select.go (2009) and test/chan/select4.go (2010)
// (https://github.com/golang/go); Go's LICENSE file is tests/LICENSE-GO. gort's changes are
// described below.

//! Ports of Go's `test/chan/select.go` and `test/chan/select4.go`.
//!
//! `select.go`: a loop of non-blocking selects sending on two buffered (cap 1) channels,
//! each case disabled once it has fired (Go sets the channel to nil; here the case is left
//! out of a dynamic `Select`, or the full buffer disables it), ends in `default` after
//! exactly one send per enabled channel, and the values that arrive are the ones sent. Go's
//! counter check (each case operand evaluated once per select) becomes: every channel
//! operand of `select!` is evaluated exactly once per select, and a send value at most once
//! (exactly once when its case is chosen).
//!
//! `select4.go`: in a select with a non-ready receive and a ready one, the ready one is
//! chosen, its value lands where the case puts it, and the other case's body never runs.

mod common_chan;
use common_chan::*;
use gort::chan::{self, Select, Sender};
use gort::select;
use std::cell::Cell;

/// Go's `Send(a, b)`, with the dynamic builder: absent channels are nil channels.
fn send_dynamic(mut a: Option<&Sender<u32>>, mut b: Option<&Sender<u32>>) -> u32 {
    let mut shift = 0;
    let mut i = 0;
    loop {
        let mut sel = Select::new();
        let ia = a.map(|a| sel.send(a, 1 << shift));
        let ib = b.map(|b| sel.send(b, 1 << shift));
        match sel.try_select() {
            Err(_) => break,
            Ok(op) => {
                if Some(op.index()) == ia {
                    op.send(a.unwrap()).unwrap();
                    a = None;
                } else if Some(op.index()) == ib {
                    op.send(b.unwrap()).unwrap();
                    b = None;
                } else {
                    unreachable!("select chose index {} of {ia:?}/{ib:?}", op.index());
                }
                i += 1;
            }
        }
        shift += 1;
        assert!(shift < 10, "select never took the default path");
    }
    i
}

#[test]
fn select_send_loop_dynamic() {
    for kind in KINDS {
        scenario(60, kind, || {
            let (a, ar) = chan::bounded::<u32>(1);
            let (b, br) = chan::bounded::<u32>(1);
            assert_eq!(send_dynamic(Some(&a), Some(&b)), 2, "Send(a, b)");
            let (av, bv) = (ar.recv().unwrap(), br.recv().unwrap());
            assert_eq!(av | bv, 3, "bad values {av} {bv}");
            assert!(ar.is_empty() && br.is_empty());
            assert_eq!(send_dynamic(Some(&a), None), 1, "Send(a, nil)");
            assert_eq!(ar.recv().unwrap(), 1);
            assert_eq!(send_dynamic(None, None), 0, "Send(nil, nil)");
        });
    }
}

/// Go's `Send(a, b)` with the macro; a full buffer plays the part of the nil channel.
#[test]
fn select_send_loop_macro() {
    for kind in KINDS {
        scenario(60, kind, || {
            let (a, ar) = chan::bounded::<u32>(1);
            let (b, br) = chan::bounded::<u32>(1);
            let chan_evals = Cell::new(0u32);
            let value_evals = Cell::new(0u32);
            let operand = |s: &Sender<u32>| -> Sender<u32> {
                chan_evals.set(chan_evals.get() + 1);
                s.clone()
            };
            let value = |shift: u32| -> u32 {
                value_evals.set(value_evals.get() + 1);
                1 << shift
            };
            let mut shift = 0;
            let mut sent = 0;
            let mut selects = 0;
            loop {
                selects += 1;
                let before = value_evals.get();
                let fired = select! {
                    send(operand(&a), value(shift)) -> r => { r.unwrap(); true },
                    send(operand(&b), value(shift)) -> r => { r.unwrap(); true },
                    default => false,
                };
                let evals = value_evals.get() - before;
                if fired {
                    sent += 1;
                    assert!(
                        (1..=2).contains(&evals),
                        "{evals} send values for one select"
                    );
                } else {
                    assert!(evals <= 2, "{evals} send values for one select");
                    break;
                }
                shift += 1;
                assert!(shift < 10, "select never took the default path");
            }
            assert_eq!(sent, 2);
            assert_eq!(
                chan_evals.get(),
                2 * selects,
                "each channel operand once per select"
            );
            let (av, bv) = (ar.recv().unwrap(), br.recv().unwrap());
            assert_eq!(av | bv, 3, "bad values {av} {bv}");
            assert_ne!(av, bv);
        });
    }
}

/// `select4.go`.
#[test]
fn select_assigns_only_the_chosen_case() {
    struct X {
        a: i32,
    }
    for _ in 0..100 {
        let mut x = X { a: 0 };
        let (c, cr) = chan::bounded::<i32>(1);
        let (_c1, c1r) = chan::bounded::<i32>(0);
        c.send(42).unwrap();
        select! {
            recv(c1r) -> _ => panic!("BUG: the non-ready case ran"),
            recv(cr) -> v => x.a = v.unwrap(),
        }
        assert_eq!(x.a, 42);
        // And the dynamic builder.
        c.send(43).unwrap();
        let mut sel = Select::new();
        let i1 = sel.recv(&c1r);
        let i2 = sel.recv(&cr);
        let op = sel.select();
        assert_ne!(op.index(), i1, "BUG: the non-ready case was chosen");
        assert_eq!(op.index(), i2);
        x.a = op.recv(&cr).unwrap();
        assert_eq!(x.a, 43);
    }
}
