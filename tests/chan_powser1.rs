// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's test/chan/powser1.go (https://github.com/golang/go); Go's LICENSE file is
// tests/LICENSE-GO. gort's changes are described below.

//! Port of Go's `test/chan/powser1.go` (Doug McIlroy's power series, "Squinting at Power
//! Series"): a power series is a demand channel pair along which rational coefficients flow
//! on request; series operations are networks of parties. The port keeps Go's structure:
//! `split` with its generations of parties, `getn` as a select over send and receive cases
//! disabled one by one (Go's nil channels; here a dynamic `Select` that leaves them out).
//!
//! Checks Go's: Ones, Add, Diff, Integ, Cmul, Sub, Mul, Exp(Ones), ATan; and adds sin and
//! cos (a feedback pair: S = ∫C, C = 1 - ∫S), tan = sin * 1/cos (Recip), exp(x) of a
//! finite series, and Binom. Go leaks the parties of the network; here every blocking
//! operation also waits on a `quit` channel, and at the end closing `quit` must wake every
//! blocked party (all of them return).

mod common_chan;
use common_chan::*;
use gort::chan::{self, Receiver, Select, Sender};
use gort::select;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::Arc;

// ---- rationals (Go's arithmetic, quirks included) -------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rat {
    num: i64,
    den: i64,
}

fn gcd(u: i64, v: i64) -> i64 {
    if u < 0 {
        return gcd(-u, v);
    }
    if u == 0 {
        return v;
    }
    gcd(v % u, u)
}

fn i2tor(u: i64, v: i64) -> Rat {
    let g = gcd(u, v);
    if v > 0 {
        Rat {
            num: u / g,
            den: v / g,
        }
    } else {
        Rat {
            num: -u / g,
            den: -v / g,
        }
    }
}

fn itor(u: i64) -> Rat {
    i2tor(u, 1)
}

const ZERO: Rat = Rat { num: 0, den: 1 };
const ONE: Rat = Rat { num: 1, den: 1 };

fn finis() -> Rat {
    i2tor(1, 0)
}

fn end(u: Rat) -> i64 {
    i64::from(u.den == 0)
}

fn add(u: Rat, v: Rat) -> Rat {
    let g = gcd(u.den, v.den);
    i2tor(
        u.num * (v.den / g) + v.num * (u.den / g),
        u.den * (v.den / g),
    )
}

fn mul(u: Rat, v: Rat) -> Rat {
    let g1 = gcd(u.num, v.den);
    let g2 = gcd(u.den, v.num);
    Rat {
        num: (u.num / g1) * (v.num / g2),
        den: (u.den / g2) * (v.den / g1),
    }
}

fn neg(u: Rat) -> Rat {
    i2tor(-u.num, u.den)
}

fn sub(u: Rat, v: Rat) -> Rat {
    add(u, neg(v))
}

fn inv(u: Rat) -> Rat {
    assert!(u.num != 0, "zero divide in inv");
    i2tor(u.den, u.num)
}

/// Equal as numbers (for the checks this port adds).
fn same(u: Rat, v: Rat) -> bool {
    u.den != 0 && v.den != 0 && u.num as i128 * v.den as i128 == v.num as i128 * u.den as i128
}

// ---- the network ----------------------------------------------------------------------

/// A demand channel: a request on `req`, then a coefficient on `dat`. Unbuffered.
#[derive(Clone)]
struct Dch {
    req_tx: Sender<i64>,
    req_rx: Receiver<i64>,
    dat_tx: Sender<Rat>,
    dat_rx: Receiver<Rat>,
}

type PS = Dch;
type PS2 = [Dch; 2];

fn mkdch() -> Dch {
    let (req_tx, req_rx) = chan::bounded(0);
    let (dat_tx, dat_rx) = chan::bounded(0);
    Dch {
        req_tx,
        req_rx,
        dat_tx,
        dat_rx,
    }
}

fn mkdch2() -> PS2 {
    [mkdch(), mkdch()]
}

/// The unwinding payload of a party told to quit.
struct Quit;

fn quit() -> ! {
    resume_unwind(Box::new(Quit))
}

/// What every party carries: its family, the quit channel, Go's global `seqno`.
#[derive(Clone)]
struct Ps {
    fam: Family,
    quit: Receiver<()>,
    seqno: Arc<AtomicI64>,
}

impl Ps {
    /// A channel of the network reports closed: only after `quit`, when parties that quit
    /// have dropped their ends (and then both cases of a select can be ready).
    fn closed(&self) -> ! {
        assert!(self.quit.is_closed(), "a powser channel closed before quit");
        quit()
    }

    fn recv<T>(&self, rx: &Receiver<T>) -> T {
        select! {
            recv(rx) -> v => v.unwrap_or_else(|_| self.closed()),
            recv(self.quit) -> _ => quit(),
        }
    }

    fn send<T>(&self, tx: &Sender<T>, v: T) {
        select! {
            send(tx, v) -> r => r.unwrap_or_else(|_| self.closed()),
            recv(self.quit) -> _ => quit(),
        }
    }

    fn next_seq(&self) -> i64 {
        self.seqno.fetch_add(1, Relaxed) + 1
    }

    /// Go's `go f()`: a party that returns quietly when told to quit.
    fn go(&self, f: impl FnOnce(&Ps) + Send + 'static) {
        let ps = self.clone();
        self.fam
            .go(move |_| match catch_unwind(AssertUnwindSafe(|| f(&ps))) {
                Ok(()) => {}
                Err(p) if p.is::<Quit>() => {}
                Err(p) => resume_unwind(p),
            });
    }
}

/// Services one request on one of `out`, then (a new generation servicing the next
/// requests) the same value on the other when it is asked for.
fn dosplit(ps: &Ps, inp: Dch, mut out: PS2, wait: Receiver<i32>) {
    let mut both = false; // do not service both channels
    let first = select! {
        recv(out[0].req_rx) -> v => { v.unwrap_or_else(|_| ps.closed()); 0 },
        recv(wait) -> v => { v.unwrap_or_else(|_| ps.closed()); 1 },
        recv(ps.quit) -> _ => quit(),
    };
    if first == 1 {
        both = true;
        let which = select! {
            recv(out[0].req_rx) -> v => { v.unwrap_or_else(|_| ps.closed()); 0 },
            recv(out[1].req_rx) -> v => { v.unwrap_or_else(|_| ps.closed()); 1 },
            recv(ps.quit) -> _ => quit(),
        };
        if which == 1 {
            out.swap(0, 1);
        }
    }
    ps.send(&inp.req_tx, ps.next_seq());
    let (release_tx, release) = chan::bounded::<i32>(0);
    {
        let (inp, out) = (inp.clone(), out.clone());
        ps.go(move |ps| dosplit(ps, inp, out, release));
    }
    let dat = ps.recv(&inp.dat_rx);
    ps.send(&out[0].dat_tx, dat);
    if !both {
        ps.recv(&wait);
    }
    ps.recv(&out[1].req_rx);
    ps.send(&out[1].dat_tx, dat);
    ps.send(&release_tx, 0);
}

fn split(ps: &Ps, inp: Dch, out: PS2) {
    let (release_tx, release) = chan::bounded::<i32>(0);
    ps.go(move |ps| dosplit(ps, inp, out, release));
    ps.send(&release_tx, 0);
}

fn put(ps: &Ps, dat: Rat, out: &Dch) {
    ps.recv(&out.req_rx);
    ps.send(&out.dat_tx, dat);
}

fn get(ps: &Ps, inp: &Dch) -> Rat {
    ps.send(&inp.req_tx, ps.next_seq());
    ps.recv(&inp.dat_rx)
}

/// One coefficient from each of two demand channels: a select over both requests and
/// both replies, each case left out once done or not yet due.
fn get2(ps: &Ps, in0: &Dch, in1: &Dch) -> [Rat; 2] {
    let ins = [in0, in1];
    let mut req_due = [true, true];
    let mut dat_due = [false, false];
    let mut out = [ZERO; 2];
    for _ in 0..4 {
        let seqno = ps.next_seq();
        let mut sel = Select::new();
        let mut cases = Vec::with_capacity(4);
        for i in 0..2 {
            if req_due[i] {
                cases.push((sel.send(&ins[i].req_tx, seqno), true, i));
            }
            if dat_due[i] {
                cases.push((sel.recv(&ins[i].dat_rx), false, i));
            }
        }
        let iq = sel.recv(&ps.quit);
        let op = sel.select();
        if op.index() == iq {
            let _ = op.recv(&ps.quit);
            quit();
        }
        let &(_, is_req, i) = cases
            .iter()
            .find(|c| c.0 == op.index())
            .expect("a case of ours");
        if is_req {
            op.send(&ins[i].req_tx).unwrap_or_else(|_| ps.closed());
            req_due[i] = false;
            dat_due[i] = true;
        } else {
            out[i] = op.recv(&ins[i].dat_rx).unwrap_or_else(|_| ps.closed());
            dat_due[i] = false;
        }
    }
    out
}

fn copy(ps: &Ps, inp: &Dch, out: &Dch) -> ! {
    loop {
        ps.recv(&out.req_rx);
        let v = get(ps, inp);
        ps.send(&out.dat_tx, v);
    }
}

fn repeat(ps: &Ps, dat: Rat, out: &Dch) -> ! {
    loop {
        put(ps, dat, out)
    }
}

/// Starts a party producing series `z` and returns `z`.
fn spawn_ps(ps: &Ps, f: impl FnOnce(&Ps, Dch) + Send + 'static) -> PS {
    let z = mkdch();
    let zz = z.clone();
    ps.go(move |ps| f(ps, zz));
    z
}

#[allow(non_snake_case)]
fn Split(ps: &Ps, u: PS) -> PS2 {
    let uu = mkdch2();
    let out = uu.clone();
    ps.go(move |ps| split(ps, u, out));
    uu
}

#[allow(non_snake_case)]
fn Add(ps: &Ps, u: PS, v: PS) -> PS {
    spawn_ps(ps, move |ps, z| loop {
        ps.recv(&z.req_rx);
        let uv = get2(ps, &u, &v);
        match end(uv[0]) + 2 * end(uv[1]) {
            0 => ps.send(&z.dat_tx, add(uv[0], uv[1])),
            1 => {
                ps.send(&z.dat_tx, uv[1]);
                copy(ps, &v, &z);
            }
            2 => {
                ps.send(&z.dat_tx, uv[0]);
                copy(ps, &u, &z);
            }
            3 => ps.send(&z.dat_tx, finis()),
            _ => unreachable!(),
        }
    })
}

#[allow(non_snake_case)]
fn Cmul(ps: &Ps, c: Rat, u: PS) -> PS {
    spawn_ps(ps, move |ps, z| {
        loop {
            ps.recv(&z.req_rx);
            let v = get(ps, &u);
            if end(v) != 0 {
                break;
            }
            ps.send(&z.dat_tx, mul(c, v));
        }
        ps.send(&z.dat_tx, finis());
    })
}

#[allow(non_snake_case)]
fn Sub(ps: &Ps, u: PS, v: PS) -> PS {
    let mv = Cmul(ps, neg(ONE), v);
    Add(ps, u, mv)
}

#[allow(non_snake_case)]
fn Rep(ps: &Ps, c: Rat) -> PS {
    spawn_ps(ps, move |ps, z| repeat(ps, c, &z))
}

#[allow(non_snake_case)]
fn Mon(ps: &Ps, c: Rat, n: usize) -> PS {
    spawn_ps(ps, move |ps, z| {
        if c.num != 0 {
            for _ in 0..n {
                put(ps, ZERO, &z);
            }
            put(ps, c, &z);
        }
        put(ps, finis(), &z);
    })
}

#[allow(non_snake_case)]
fn Shift(ps: &Ps, c: Rat, u: PS) -> PS {
    spawn_ps(ps, move |ps, z| {
        put(ps, c, &z);
        copy(ps, &u, &z);
    })
}

/// U = u + x*UU, V = v + x*VV: UV = u*v + x*(u*VV + v*UU) + x*x*UU*VV.
#[allow(non_snake_case)]
fn Mul(ps: &Ps, u: PS, v: PS) -> PS {
    spawn_ps(ps, move |ps, z| {
        ps.recv(&z.req_rx);
        let uv = get2(ps, &u, &v);
        if end(uv[0]) != 0 || end(uv[1]) != 0 {
            ps.send(&z.dat_tx, finis());
        } else {
            ps.send(&z.dat_tx, mul(uv[0], uv[1]));
            let uu = Split(ps, u);
            let vv = Split(ps, v);
            let a = Cmul(ps, uv[0], vv[0].clone());
            let b = Cmul(ps, uv[1], uu[0].clone());
            let w = Add(ps, a, b);
            ps.recv(&z.req_rx);
            let first = get(ps, &w);
            ps.send(&z.dat_tx, first);
            let rest = Mul(ps, uu[1].clone(), vv[1].clone());
            let sum = Add(ps, w, rest);
            copy(ps, &sum, &z);
        }
    })
}

#[allow(non_snake_case)]
fn Diff(ps: &Ps, u: PS) -> PS {
    spawn_ps(ps, move |ps, z| {
        ps.recv(&z.req_rx);
        let mut v = get(ps, &u);
        if end(v) == 0 {
            let mut i = 1;
            loop {
                v = get(ps, &u);
                if end(v) != 0 {
                    break;
                }
                ps.send(&z.dat_tx, mul(itor(i), v));
                ps.recv(&z.req_rx);
                i += 1;
            }
        }
        ps.send(&z.dat_tx, finis());
    })
}

/// Integrate, with constant of integration `c`.
#[allow(non_snake_case)]
fn Integ(ps: &Ps, c: Rat, u: PS) -> PS {
    spawn_ps(ps, move |ps, z| {
        put(ps, c, &z);
        let mut i = 1;
        loop {
            ps.recv(&z.req_rx);
            let v = get(ps, &u);
            let done = end(v) != 0;
            ps.send(&z.dat_tx, mul(i2tor(1, i), v));
            if done {
                break;
            }
            i += 1;
        }
        ps.send(&z.dat_tx, finis());
    })
}

/// (1+x)^c. (Go's version stops one term early for a natural `c`, it tests `c` before
/// putting the last term; this one stops when the coefficient becomes zero.)
#[allow(non_snake_case)]
fn Binom(ps: &Ps, c: Rat) -> PS {
    spawn_ps(ps, move |ps, z| {
        let mut c = c;
        let mut n = 1;
        let mut t = itor(1);
        while t.num != 0 {
            put(ps, t, &z);
            t = mul(mul(t, c), i2tor(1, n));
            c = sub(c, ONE);
            n += 1;
        }
        put(ps, finis(), &z);
    })
}

/// U = u + x*UU, Z = z + x*ZZ, UZ = 1: z = 1/u, ZZ = -UU*(z + x*ZZ)/u.
#[allow(non_snake_case)]
fn Recip(ps: &Ps, u: PS) -> PS {
    spawn_ps(ps, move |ps, z| {
        let zz = mkdch2();
        ps.recv(&z.req_rx);
        let z0 = inv(get(ps, &u));
        ps.send(&z.dat_tx, z0);
        let a = Cmul(ps, neg(z0), u);
        let b = Shift(ps, z0, zz[0].clone());
        let m = Mul(ps, a, b);
        split(ps, m, zz.clone());
        copy(ps, &zz[1], &z);
    })
}

/// exp(U) for U with constant term 0: DZ = Z*DU, integrated.
#[allow(non_snake_case)]
fn Exp(ps: &Ps, u: PS) -> PS {
    let zz = mkdch2();
    let du = Diff(ps, u);
    let m = Mul(ps, zz[0].clone(), du);
    let i = Integ(ps, ONE, m);
    split(ps, i, zz.clone());
    zz[1].clone()
}

/// U(c0 x^n): each term multiplied by c0^i and followed by n-1 zeros.
#[allow(non_snake_case)]
fn MonSubst(ps: &Ps, u: PS, c0: Rat, n: usize) -> PS {
    spawn_ps(ps, move |ps, z| {
        let mut c = ONE;
        loop {
            ps.recv(&z.req_rx);
            let v = get(ps, &u);
            ps.send(&z.dat_tx, mul(v, c));
            c = mul(c, c0);
            if end(v) != 0 {
                ps.send(&z.dat_tx, finis());
                break;
            }
            for _ in 1..n {
                ps.recv(&z.req_rx);
                ps.send(&z.dat_tx, ZERO);
            }
        }
    })
}

// ---- checks -----------------------------------------------------------------------------

const N: usize = 10;

fn check(ps: &Ps, u: &PS, c: Rat, count: usize, what: &str) {
    for i in 0..count {
        let r = get(ps, u);
        assert_eq!(r, c, "{what}: term {i}");
    }
}

fn checka(ps: &Ps, u: &PS, a: &[Rat], what: &str) {
    for (i, &want) in a.iter().enumerate() {
        let r = get(ps, u);
        assert_eq!(r, want, "{what}: term {i}");
    }
}

/// Like `checka`, comparing as numbers.
fn checkv(ps: &Ps, u: &PS, a: &[Rat], what: &str) {
    for (i, &want) in a.iter().enumerate() {
        let r = get(ps, u);
        assert!(same(r, want), "{what}: term {i}: got {r:?}, want {want:?}");
    }
}

/// Runs `body` with a fresh network context, then closes `quit` and checks every party of
/// the network returns. Returns how many parties were started.
fn with_network(kind: Kind, body: impl FnOnce(&Ps) + Send + 'static) -> usize {
    scenario(120, kind, move || {
        let (fam, done) = Family::new(kind);
        let (quit_tx, quit_rx) = chan::bounded::<()>(0);
        let ps = Ps {
            fam: fam.clone(),
            quit: quit_rx,
            seqno: Arc::new(AtomicI64::new(0)),
        };
        body(&ps);
        let started = fam.started();
        quit_tx.close().expect("first close");
        drop(ps);
        fam.wait(done);
        started
    })
}

fn go_checks(ps: &Ps) {
    let ones = Rep(ps, ONE);
    let twos = Rep(ps, itor(2));
    check(ps, &ones, ONE, 5, "Ones");
    check(
        ps,
        &Add(ps, ones.clone(), ones.clone()),
        itor(2),
        5,
        "Add Ones Ones",
    );
    check(
        ps,
        &Add(ps, ones.clone(), twos.clone()),
        itor(3),
        5,
        "Add Ones Twos",
    );
    let mut a = [ZERO; N];
    let d = Diff(ps, ones.clone());
    for (i, a) in a.iter_mut().enumerate() {
        *a = itor(i as i64 + 1);
    }
    checka(ps, &d, &a, "Diff"); // 1 2 3 4 5
    let integ = Integ(ps, ZERO, ones.clone());
    a[0] = ZERO; // integration constant
    for (i, a) in a.iter_mut().enumerate().skip(1) {
        *a = i2tor(1, i as i64);
    }
    checka(ps, &integ, &a, "Integ"); // 0 1 1/2 1/3 1/4 1/5
    check(ps, &Cmul(ps, neg(ONE), twos.clone()), itor(-2), 10, "CMul"); // -2 -2 -2
    check(
        ps,
        &Sub(ps, ones.clone(), twos.clone()),
        itor(-1),
        5,
        "Sub Ones Twos",
    ); // -1 -1
    let m = Mul(ps, ones.clone(), ones.clone());
    for (i, a) in a.iter_mut().enumerate() {
        *a = itor(i as i64 + 1);
    }
    checka(ps, &m, &a, "Mul"); // 1 2 3 4 5
    let e = Exp(ps, ones.clone());
    let a = [
        itor(1),
        itor(1),
        i2tor(3, 2),
        i2tor(13, 6),
        i2tor(73, 24),
        i2tor(167, 40),
        i2tor(4051, 720),
        i2tor(37633, 5040),
        i2tor(43817, 4480),
        i2tor(4596553, 362880),
    ];
    checka(ps, &e, &a, "Exp"); // 1 1 3/2 13/6 73/24
    let ms = MonSubst(ps, ones.clone(), neg(ONE), 2);
    let at = Integ(ps, ZERO, ms);
    let mut a = [ZERO; N];
    let mut c = 1;
    for (i, a) in a.iter_mut().enumerate() {
        if i % 2 == 1 {
            *a = i2tor(c, i as i64);
            c = -c;
        }
    }
    checka(ps, &at, &a, "ATan"); // 0 1 0 -1/3 0 1/5
}

#[test]
fn powser_go_checks_goroutines() {
    let n = with_network(Kind::Goroutine, go_checks);
    assert!(n > 100, "only {n} parties?");
}

#[test]
fn powser_go_checks_threads() {
    with_network(Kind::Thread, go_checks);
}

fn factorial(n: i64) -> i64 {
    (1..=n).product()
}

/// sin and cos as a feedback pair, S = ∫C and C = 1 - ∫S; tan = sin * (1/cos).
fn sin_cos(ps: &Ps) -> (PS, PS) {
    let ss = mkdch2();
    let cc = mkdch2();
    let s = Integ(ps, ZERO, cc[0].clone());
    split(ps, s, ss.clone());
    let ms = Cmul(ps, neg(ONE), ss[0].clone());
    let c = Integ(ps, ONE, ms);
    split(ps, c, cc.clone());
    (ss[1].clone(), cc[1].clone())
}

fn trig_checks(ps: &Ps) {
    let (sin, cos) = sin_cos(ps);
    let sign = |k: usize| if k.is_multiple_of(2) { 1 } else { -1 };
    let want_sin: Vec<Rat> = (0..N as i64)
        .map(|i| {
            if i % 2 == 1 {
                i2tor(sign(i as usize / 2), factorial(i))
            } else {
                ZERO
            }
        })
        .collect();
    let want_cos: Vec<Rat> = (0..N as i64)
        .map(|i| {
            if i % 2 == 0 {
                i2tor(sign(i as usize / 2), factorial(i))
            } else {
                ZERO
            }
        })
        .collect();
    // Interleave the two outputs, as they share the feedback network.
    for i in 0..N {
        checkv(ps, &sin, &want_sin[i..=i], "sin");
        checkv(ps, &cos, &want_cos[i..=i], "cos");
    }
    let (sin, cos) = sin_cos(ps);
    let sec = Recip(ps, cos);
    let tan = Mul(ps, sin, sec);
    let want_tan = [
        ZERO,
        ONE,
        ZERO,
        i2tor(1, 3),
        ZERO,
        i2tor(2, 15),
        ZERO,
        i2tor(17, 315),
        ZERO,
        i2tor(62, 2835),
    ];
    checkv(ps, &tan, &want_tan, "tan");
}

fn exp_binom_checks(ps: &Ps) {
    // exp(x), from the finite series x.
    let x = Mon(ps, ONE, 1);
    let e = Exp(ps, x);
    let want: Vec<Rat> = (0..N as i64).map(|i| i2tor(1, factorial(i))).collect();
    checkv(ps, &e, &want, "exp(x)");
    // (1+x)^3 = 1 3 3 1, then the end mark.
    let b = Binom(ps, itor(3));
    checkv(ps, &b, &[ONE, itor(3), itor(3), ONE], "Binom 3");
    assert_eq!(end(get(ps, &b)), 1, "Binom 3 ends");
    // (1+x)^(1/2) = 1 1/2 -1/8 1/16 -5/128 7/256
    let b = Binom(ps, i2tor(1, 2));
    let want = [
        ONE,
        i2tor(1, 2),
        i2tor(-1, 8),
        i2tor(1, 16),
        i2tor(-5, 128),
        i2tor(7, 256),
    ];
    checkv(ps, &b, &want, "Binom 1/2");
    // A finite sum: (1 + 2x) + x^3.
    let p = Add(ps, Binom(ps, ONE), Mon(ps, ONE, 3));
    let s = Add(ps, p, Mon(ps, ONE, 1));
    checkv(ps, &s, &[ONE, itor(2), ZERO, ONE], "finite sum");
    assert_eq!(end(get(ps, &s)), 1, "finite sum ends");
}

#[test]
fn powser_trig_goroutines() {
    with_network(Kind::Goroutine, trig_checks);
}

#[test]
fn powser_trig_threads() {
    with_network(Kind::Thread, trig_checks);
}

#[test]
fn powser_exp_binom_goroutines() {
    with_network(Kind::Goroutine, exp_binom_checks);
}

#[test]
fn powser_exp_binom_threads() {
    with_network(Kind::Thread, exp_binom_checks);
}
