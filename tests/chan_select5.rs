// Copyright 2011 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's test/chan/select5.go (https://github.com/golang/go); Go's LICENSE file is
// tests/LICENSE-GO. gort's changes are described below.

//! Port, in spirit, of Go's `test/chan/select5.go`, a generator of single-goroutine tests of
//! channel operations phrased in many ways. Its templates are:
//!
//! - `recv`: send n into a buffered (cap 1) channel, receive it back either plainly or
//!   through a select that also holds non-ready cases (an unbuffered dummy send and receive,
//!   nil-channel send and receive) and optionally `default`; the value must be n.
//! - `send`: the same the other way round.
//! - `recvOrder` / `sendOrder`: channel operands are evaluated once, in source order.
//! - `nonblock`: a select of only non-ready cases plus `default` takes `default` and leaves
//!   the receive destination untouched.
//!
//! Instead of generating source, the dynamic `Select` builder enumerates every subset of the
//! extra cases, every position of the real case among them, and each way to wait (`select`,
//! `try_select`, `select_timeout`); the `select!` macro forms (receive into a variable,
//! through a pointer, into a `dyn Any`, into a map; `default` before or after the cases) are
//! written out. Every test runs on a plain thread and again as a goroutine.

mod common_chan;
use common_chan::within;
use gort::chan::{self, Receiver, Select, SelectedOperation, Sender};
use gort::select;
use std::any::Any;
use std::cell::Cell;
use std::collections::HashMap;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Extra {
    DummySend,
    DummyRecv,
    NilRecv,
    NilRecvOtherType,
}
const EXTRAS: [Extra; 4] = [
    Extra::DummySend,
    Extra::DummyRecv,
    Extra::NilRecv,
    Extra::NilRecvOtherType,
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Block,
    Try,
    Timeout,
}
const MODES: [Mode; 3] = [Mode::Block, Mode::Try, Mode::Timeout];

struct Env {
    c_tx: Sender<i32>,
    c_rx: Receiver<i32>,
    dummy_tx: Sender<i32>,
    dummy_rx: Receiver<i32>,
    nilch: Receiver<i32>,
    nilstr: Receiver<String>,
    n: i32,
}

impl Env {
    fn new() -> Env {
        let (c_tx, c_rx) = chan::bounded(1);
        let (dummy_tx, dummy_rx) = chan::bounded(0);
        Env {
            c_tx,
            c_rx,
            dummy_tx,
            dummy_rx,
            nilch: chan::never(),
            nilstr: chan::never(),
            n: 1,
        }
    }
}

fn subsets() -> Vec<Vec<Extra>> {
    (0..1u32 << EXTRAS.len())
        .map(|m| {
            EXTRAS
                .iter()
                .enumerate()
                .filter(|(i, _)| m & (1 << i) != 0)
                .map(|(_, e)| *e)
                .collect()
        })
        .collect()
}

fn add_extra<'a>(sel: &mut Select<'a>, env: &'a Env, e: Extra) -> usize {
    match e {
        Extra::DummySend => sel.send(&env.dummy_tx, -1),
        Extra::DummyRecv => sel.recv(&env.dummy_rx),
        Extra::NilRecv => sel.recv(&env.nilch),
        Extra::NilRecvOtherType => sel.recv(&env.nilstr),
    }
}

fn wait<'s, 'a>(sel: &'s mut Select<'a>, mode: Mode, what: &str) -> SelectedOperation<'s, 'a> {
    match mode {
        Mode::Block => sel.select(),
        Mode::Try => sel
            .try_select()
            .unwrap_or_else(|_| panic!("{what}: nonblock")),
        Mode::Timeout => sel
            .select_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{what}: timed out")),
    }
}

/// Checks the chosen operation is `want`.
fn expect_index<'s, 'a>(
    op: SelectedOperation<'s, 'a>,
    want: usize,
    what: &str,
) -> SelectedOperation<'s, 'a> {
    assert_eq!(op.index(), want, "{what}: chose the wrong case");
    op
}

/// The `recv` template, dynamic: every subset of extras, every position, every mode.
fn recv_template_dynamic_body() {
    let mut env = Env::new();
    let mut cases = 0;
    for extras in subsets() {
        for pos in 0..=extras.len() {
            for mode in MODES {
                let what = format!("recv {extras:?} real at {pos} {mode:?}");
                env.c_tx.send(env.n).unwrap();
                let x = {
                    let mut sel = Select::new();
                    let mut real = usize::MAX;
                    for (k, e) in extras.iter().enumerate() {
                        if k == pos {
                            real = sel.recv(&env.c_rx);
                        }
                        add_extra(&mut sel, &env, *e);
                    }
                    if pos == extras.len() {
                        real = sel.recv(&env.c_rx);
                    }
                    let op = expect_index(wait(&mut sel, mode, &what), real, &what);
                    op.recv(&env.c_rx).unwrap()
                };
                assert_eq!(x, env.n, "{what}: have {x} want {}", env.n);
                env.n += 1;
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 3 * (1 + 4 * 2 + 6 * 3 + 4 * 4 + 5));
}

/// The `send` template, dynamic.
fn send_template_dynamic_body() {
    let mut env = Env::new();
    for extras in subsets() {
        for pos in 0..=extras.len() {
            for mode in MODES {
                let what = format!("send {extras:?} real at {pos} {mode:?}");
                {
                    let mut sel = Select::new();
                    let mut real = usize::MAX;
                    for (k, e) in extras.iter().enumerate() {
                        if k == pos {
                            real = sel.send(&env.c_tx, env.n);
                        }
                        add_extra(&mut sel, &env, *e);
                    }
                    if pos == extras.len() {
                        real = sel.send(&env.c_tx, env.n);
                    }
                    let op = expect_index(wait(&mut sel, mode, &what), real, &what);
                    op.send(&env.c_tx).unwrap();
                }
                let x = env.c_rx.recv().unwrap();
                assert_eq!(x, env.n, "{what}");
                env.n += 1;
            }
        }
    }
}

/// The `nonblock` template, dynamic: only non-ready cases, so `try_select` fails and
/// `select_timeout` times out; nothing is received or sent.
fn nonblock_template_dynamic_body() {
    let env = Env::new();
    for extras in subsets() {
        let mut sel = Select::new();
        for e in &extras {
            add_extra(&mut sel, &env, *e);
        }
        if let Ok(op) = sel.try_select() {
            panic!("nonblock {extras:?}: case {} chosen", op.index());
        }
        if !extras.is_empty() {
            if let Ok(op) = sel.select_timeout(Duration::from_millis(2)) {
                panic!(
                    "nonblock {extras:?}: case {} chosen after a timeout",
                    op.index()
                );
            }
        }
    }
    assert!(env.c_rx.is_empty() && env.dummy_rx.is_empty());
}

fn die(x: i32, n: i32) -> ! {
    panic!("have {x} want {n}")
}

/// The `recv` template's `select!` forms: the value received into a variable, through a
/// pointer, into a new binding, into an interface (`dyn Any`), into a map; with and without
/// `default`, with dummy and nil cases around it.
fn recv_template_macro_body() {
    let env = Env::new();
    let (c, nilch, dummy_tx, dummy_rx) = (&env.c_rx, &env.nilch, &env.dummy_tx, &env.dummy_rx);
    let mut n = 1;
    let mut x: i32;
    let mut m: HashMap<i32, i32> = HashMap::new();
    fn f(p: &mut i32) -> &mut i32 {
        p
    }
    for round in 0..50 {
        // plain
        env.c_tx.send(n).unwrap();
        x = c.recv().unwrap();
        if x != n {
            die(x, n)
        }
        n += 1;
        // into a variable, blocking, with dummies
        env.c_tx.send(n).unwrap();
        select! {
            recv(c) -> v => x = v.unwrap(),
            send(dummy_tx, 1) -> _ => panic!("dummy send"),
            recv(dummy_rx) -> _ => panic!("dummy receive"),
            recv(nilch) -> _ => panic!("nilch recv"),
        }
        if x != n {
            die(x, n)
        }
        n += 1;
        // through a pointer, non-blocking, default first
        env.c_tx.send(n).unwrap();
        select! {
            default => panic!("nonblock"),
            recv(nilch) -> _ => panic!("nilch recv"),
            recv(c) -> v => *f(&mut x) = v.unwrap(),
        }
        if x != n {
            die(x, n)
        }
        n += 1;
        // a new binding
        env.c_tx.send(n).unwrap();
        select! {
            recv(dummy_rx) -> _ => panic!("dummy receive"),
            recv(c) -> y => {
                let y = y.unwrap();
                x = y;
            }
        }
        if x != n {
            die(x, n)
        }
        n += 1;
        // an interface
        env.c_tx.send(n).unwrap();
        let i: Box<dyn Any> = select! {
            recv(c) -> v => Box::new(v.unwrap()),
            send(dummy_tx, 1) -> _ => panic!("dummy send"),
            default => panic!("nonblock"),
        };
        x = *i.downcast_ref::<i32>().expect("an i32");
        if x != n {
            die(x, n)
        }
        n += 1;
        // a map
        env.c_tx.send(n).unwrap();
        select! {
            recv(c) -> v => { m.insert(13, v.unwrap()); },
            recv(nilch) -> _ => panic!("nilch recv"),
        }
        x = m[&13];
        if x != n {
            die(x, n)
        }
        n += 1;
        assert!(round < 50);
    }
}

/// The `send` template's `select!` forms.
fn send_template_macro_body() {
    let env = Env::new();
    let (c, nilch, dummy_tx, dummy_rx) = (&env.c_tx, &env.nilch, &env.dummy_tx, &env.dummy_rx);
    let mut n = 1;
    for _ in 0..50 {
        select! {
            send(c, n) -> r => r.unwrap(),
        }
        assert_eq!(env.c_rx.recv().unwrap(), n);
        n += 1;
        select! {
            send(dummy_tx, 1) -> _ => panic!("dummy send"),
            send(c, n) -> r => r.unwrap(),
            recv(dummy_rx) -> _ => panic!("dummy receive"),
            recv(nilch) -> _ => panic!("nilch recv"),
            default => panic!("nonblock"),
        }
        assert_eq!(env.c_rx.recv().unwrap(), n);
        n += 1;
        select! {
            recv(nilch) -> _ => panic!("nilch recv"),
            send(c, n) -> r => r.unwrap(),
            default(Duration::from_secs(30)) => panic!("timed out"),
        }
        assert_eq!(env.c_rx.recv().unwrap(), n);
        n += 1;
    }
}

/// The `recvOrder` / `sendOrder` templates: channel operands are evaluated exactly once
/// each, in source order, on entry to the select. (Send values are evaluated at most once,
/// exactly once for the chosen case; whether unchosen ones are evaluated is not specified
/// here: Go evaluates them, crossbeam-channel does not.)
fn operands_evaluated_once_in_source_order_body() {
    let env = Env::new();
    let order = Cell::new(0);
    let checkorder = |o: i32| {
        assert!(o > order.get(), "invalid order {o} after {}", order.get());
        order.set(o);
    };
    let fc = |c: &Receiver<i32>, o: i32| -> Receiver<i32> {
        checkorder(o);
        c.clone()
    };
    let fs = |c: &Sender<i32>, o: i32| -> Sender<i32> {
        checkorder(o);
        c.clone()
    };
    let values = Cell::new(0);
    let fnv = |n: i32| -> i32 {
        values.set(values.get() + 1);
        n
    };
    for n in 1..50 {
        // recvOrder
        order.set(0);
        env.c_tx.send(n).unwrap();
        let x = select! {
            recv(fc(&env.c_rx, 1)) -> v => v.unwrap(),
            send(fs(&env.dummy_tx, 2), fnv(1)) -> _ => panic!("dummy send"),
            recv(fc(&env.dummy_rx, 3)) -> _ => panic!("dummy receive"),
            recv(fc(&env.nilch, 4)) -> _ => panic!("nilch recv"),
        };
        assert_eq!(x, n);
        assert_eq!(order.get(), 4, "an operand was not evaluated");
        assert!(values.get() <= 1);
        values.set(0);
        // sendOrder
        order.set(0);
        select! {
            send(fs(&env.c_tx, 1), fnv(n)) -> r => r.unwrap(),
            send(fs(&env.dummy_tx, 2), fnv(1)) -> _ => panic!("dummy send"),
            recv(fc(&env.dummy_rx, 3)) -> _ => panic!("dummy receive"),
            recv(fc(&env.nilch, 4)) -> _ => panic!("nilch recv"),
            default => panic!("nonblock"),
        }
        assert_eq!(order.get(), 4, "an operand was not evaluated");
        assert!(
            (1..=2).contains(&values.get()),
            "{} send values evaluated",
            values.get()
        );
        values.set(0);
        assert_eq!(env.c_rx.recv().unwrap(), n);
    }
}

/// Go's own rule, which `select!` documents too: channel operands *and send values* are
/// evaluated exactly once each, in source order, on entry (Go's `recvOrder` / `sendOrder`
/// numbering, values included), whichever case is then chosen.
fn go_evaluation_order_body() {
    let env = Env::new();
    let order = Cell::new(0);
    let checkorder = |o: i32| {
        assert!(o > order.get(), "invalid order {o} after {}", order.get());
        order.set(o);
    };
    let fc = |c: &Receiver<i32>, o: i32| -> Receiver<i32> {
        checkorder(o);
        c.clone()
    };
    let fs = |c: &Sender<i32>, o: i32| -> Sender<i32> {
        checkorder(o);
        c.clone()
    };
    let fnv = |n: i32, o: i32| -> i32 {
        checkorder(o);
        n
    };
    for n in 1..50 {
        // recvOrder
        order.set(0);
        env.c_tx.send(n).unwrap();
        let x = select! {
            recv(fc(&env.c_rx, 1)) -> v => v.unwrap(),
            send(fs(&env.dummy_tx, 2), fnv(1, 3)) -> _ => panic!("dummy send"),
            recv(fc(&env.dummy_rx, 4)) -> _ => panic!("dummy receive"),
            recv(fc(&env.nilch, 5)) -> _ => panic!("nilch recv"),
        };
        assert_eq!(x, n);
        assert_eq!(order.get(), 5, "an operand was not evaluated");
        // sendOrder
        order.set(0);
        select! {
            send(fs(&env.c_tx, 1), fnv(n, 2)) -> r => r.unwrap(),
            send(fs(&env.dummy_tx, 3), fnv(1, 4)) -> _ => panic!("dummy send"),
            recv(fc(&env.dummy_rx, 5)) -> _ => panic!("dummy receive"),
            recv(fc(&env.nilch, 6)) -> _ => panic!("nilch recv"),
            default => panic!("nonblock"),
        }
        assert_eq!(order.get(), 6, "an operand was not evaluated");
        assert_eq!(env.c_rx.recv().unwrap(), n);
    }
}

/// The `nonblock` template's `select!` forms: the receive destination is untouched.
fn nonblock_template_macro_body() {
    let env = Env::new();
    let (nilch, dummy_tx, dummy_rx) = (&env.nilch, &env.dummy_tx, &env.dummy_rx);
    for n in 0..100 {
        let mut x = n;
        select! {
            send(dummy_tx, 1) -> _ => panic!("dummy <- 1"),
            recv(dummy_rx) -> _ => panic!("<-dummy"),
            recv(dummy_rx) -> v => x = v.unwrap(),
            recv(nilch) -> _ => panic!("<-nilch"),
            recv(nilch) -> v => x = v.unwrap(),
            default => {}
        }
        assert_eq!(x, n);
        select! {
            default => {}
            recv(nilch) -> v => x = v.unwrap(),
        }
        assert_eq!(x, n);
    }
}

#[test]
fn recv_template_dynamic() {
    within(60, || {
        recv_template_dynamic_body(); // on a plain thread
        gort::run(recv_template_dynamic_body); // on a goroutine
    });
}

#[test]
fn send_template_dynamic() {
    within(60, || {
        send_template_dynamic_body(); // on a plain thread
        gort::run(send_template_dynamic_body); // on a goroutine
    });
}

#[test]
fn nonblock_template_dynamic() {
    within(60, || {
        nonblock_template_dynamic_body(); // on a plain thread
        gort::run(nonblock_template_dynamic_body); // on a goroutine
    });
}

#[test]
fn recv_template_macro() {
    within(60, || {
        recv_template_macro_body(); // on a plain thread
        gort::run(recv_template_macro_body); // on a goroutine
    });
}

#[test]
fn send_template_macro() {
    within(60, || {
        send_template_macro_body(); // on a plain thread
        gort::run(send_template_macro_body); // on a goroutine
    });
}

#[test]
fn operands_evaluated_once_in_source_order() {
    within(60, || {
        operands_evaluated_once_in_source_order_body(); // on a plain thread
        gort::run(operands_evaluated_once_in_source_order_body); // on a goroutine
    });
}

#[test]
fn nonblock_template_macro() {
    within(60, || {
        nonblock_template_macro_body(); // on a plain thread
        gort::run(nonblock_template_macro_body); // on a goroutine
    });
}

#[test]
fn go_evaluation_order() {
    within(60, || {
        go_evaluation_order_body(); // on a plain thread
        gort::run(go_evaluation_order_body); // on a goroutine
    });
}
