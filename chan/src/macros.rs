//! The `select!` macro.

/// Waits on several channel operations and runs the branch of the one that completes,
/// with crossbeam-channel's syntax and Go's semantics.
///
/// ```
/// use gort_chan::{bounded, select};
/// use std::time::Duration;
///
/// let (tx1, rx1) = bounded::<i32>(1);
/// let (tx2, rx2) = bounded::<&str>(1);
/// tx2.send("hi").unwrap();
/// select! {
///     recv(rx1) -> v => println!("rx1: {v:?}"),
///     recv(rx2) -> v => assert_eq!(v, Ok("hi")),
///     send(tx1, 7) -> res => res.unwrap(),
///     default(Duration::from_secs(1)) => println!("timed out"),
/// }
/// ```
///
/// - `recv(r) -> v => body`: `v` is `Result<T, RecvError>` (an error once `r`'s channel is
///   closed and drained: Go's `v, ok := <-c`).
/// - `send(s, value) -> res => body`: `res` is `Result<(), SendError<T>>` (the value back
///   if the channel is closed or has no receivers left).
/// - `default => body` (or `default() => body`) runs if nothing is ready now;
///   `default(timeout) => body` if nothing became ready within `timeout`. Without a
///   default, `select!` blocks.
///
/// Among ready cases one is chosen uniformly at random ([`select_biased!`](crate::select_biased!) takes the first).
/// Channel operands and send values are evaluated once, in order, before selecting (as in
/// Go); a send value whose case is not chosen is dropped. Temporaries in the operands live
/// until the select is over (`recv(opt.unwrap_or(&never()))`). A `chan::never()` receiver
/// or a `Sender::never()` sender is never ready (Go's nil channel). `select! {}` blocks
/// forever. Trailing commas are accepted everywhere.
///
/// **Closed channels are ready.** A `recv` case on a closed channel (the last `Sender`
/// dropped, e.g. because the goroutine that sent has returned) is chosen at once with
/// `Err(RecvError)`, every time: write `recv(r) -> v => match v { Ok(x) => .., Err(_) =>
/// /* closed */ }` rather than `v.unwrap()`, or switch the case off with `never()` once
/// closed, as Go code sets a channel to nil. Likewise a `send` case whose channel has no
/// receivers left is ready with `Err(SendError(value))`, even beside a `default`.
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select!(@parse select [] [] $($tokens)*)
    };
}

/// Like [`select!`], but when several cases are ready it picks the first one in the order
/// written, instead of one at random (crossbeam-channel's `select_biased!`; Go has no
/// equivalent). A case listed first can starve the others.
///
/// ```
/// use gort_chan::{select_biased, unbounded};
///
/// let (tx1, rx1) = unbounded();
/// let (tx2, rx2) = unbounded();
/// tx1.send(1).unwrap();
/// tx2.send(2).unwrap();
/// select_biased! {
///     recv(rx1) -> v => assert_eq!(v, Ok(1)),
///     recv(rx2) -> _ => unreachable!("rx1 is ready and comes first"),
/// }
/// ```
#[macro_export]
macro_rules! select_biased {
    ($($tokens:tt)*) => {
        $crate::__select!(@parse select_biased [] [] $($tokens)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select {
    // ---- parse: collect cases and the default ----
    // `$f` is the function that runs the select (`select` or `select_biased`).
    (@parse $f:ident [$($c:tt)*] [$($d:tt)*] recv($r:expr $(,)?) -> $v:pat => $body:block, $($rest:tt)*) => {
        $crate::__select!(@parse $f [$($c)* (recv ($r) ($v) ($body))] [$($d)*] $($rest)*)
    };
    (@parse $f:ident [$($c:tt)*] [$($d:tt)*] recv($r:expr $(,)?) -> $v:pat => $body:block $($rest:tt)*) => {
        $crate::__select!(@parse $f [$($c)* (recv ($r) ($v) ($body))] [$($d)*] $($rest)*)
    };
    (@parse $f:ident [$($c:tt)*] [$($d:tt)*] recv($r:expr $(,)?) -> $v:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select!(@parse $f [$($c)* (recv ($r) ($v) ({ $body }))] [$($d)*] $($rest)*)
    };
    (@parse $f:ident [$($c:tt)*] [$($d:tt)*] recv($r:expr $(,)?) -> $v:pat => $body:expr) => {
        $crate::__select!(@parse $f [$($c)* (recv ($r) ($v) ({ $body }))] [$($d)*])
    };
    (@parse $f:ident [$($c:tt)*] [$($d:tt)*] send($s:expr, $m:expr $(,)?) -> $v:pat => $body:block, $($rest:tt)*) => {
        $crate::__select!(@parse $f [$($c)* (send ($s, $m) ($v) ($body))] [$($d)*] $($rest)*)
    };
    (@parse $f:ident [$($c:tt)*] [$($d:tt)*] send($s:expr, $m:expr $(,)?) -> $v:pat => $body:block $($rest:tt)*) => {
        $crate::__select!(@parse $f [$($c)* (send ($s, $m) ($v) ($body))] [$($d)*] $($rest)*)
    };
    (@parse $f:ident [$($c:tt)*] [$($d:tt)*] send($s:expr, $m:expr $(,)?) -> $v:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select!(@parse $f [$($c)* (send ($s, $m) ($v) ({ $body }))] [$($d)*] $($rest)*)
    };
    (@parse $f:ident [$($c:tt)*] [$($d:tt)*] send($s:expr, $m:expr $(,)?) -> $v:pat => $body:expr) => {
        $crate::__select!(@parse $f [$($c)* (send ($s, $m) ($v) ({ $body }))] [$($d)*])
    };
    // `default()` is `default`.
    (@parse $f:ident [$($c:tt)*] [] default() => $($rest:tt)*) => {
        $crate::__select!(@parse $f [$($c)*] [] default => $($rest)*)
    };
    (@parse $f:ident [$($c:tt)*] [] default => $body:block, $($rest:tt)*) => {
        $crate::__select!(@parse $f [$($c)*] [(nonblock ($body))] $($rest)*)
    };
    (@parse $f:ident [$($c:tt)*] [] default => $body:block $($rest:tt)*) => {
        $crate::__select!(@parse $f [$($c)*] [(nonblock ($body))] $($rest)*)
    };
    (@parse $f:ident [$($c:tt)*] [] default => $body:expr, $($rest:tt)*) => {
        $crate::__select!(@parse $f [$($c)*] [(nonblock ({ $body }))] $($rest)*)
    };
    (@parse $f:ident [$($c:tt)*] [] default => $body:expr) => {
        $crate::__select!(@parse $f [$($c)*] [(nonblock ({ $body }))])
    };
    (@parse $f:ident [$($c:tt)*] [] default($t:expr $(,)?) => $body:block, $($rest:tt)*) => {
        $crate::__select!(@parse $f [$($c)*] [(timeout ($t) ($body))] $($rest)*)
    };
    (@parse $f:ident [$($c:tt)*] [] default($t:expr $(,)?) => $body:block $($rest:tt)*) => {
        $crate::__select!(@parse $f [$($c)*] [(timeout ($t) ($body))] $($rest)*)
    };
    (@parse $f:ident [$($c:tt)*] [] default($t:expr $(,)?) => $body:expr, $($rest:tt)*) => {
        $crate::__select!(@parse $f [$($c)*] [(timeout ($t) ({ $body }))] $($rest)*)
    };
    (@parse $f:ident [$($c:tt)*] [] default($t:expr $(,)?) => $body:expr) => {
        $crate::__select!(@parse $f [$($c)*] [(timeout ($t) ({ $body }))])
    };
    (@parse $f:ident [$($c:tt)*] [$($d:tt)+] default $($rest:tt)*) => {
        compile_error!("select! has more than one `default` case")
    };
    (@parse $f:ident [$($c:tt)*] [$($d:tt)*]) => {
        $crate::__select!(@bind $f [$($c)*] [] [$($d)*])
    };
    (@parse $f:ident [$($c:tt)*] [$($d:tt)*] $($rest:tt)+) => {
        compile_error!(concat!(
            "select!: expected `recv(r) -> v => body`, `send(s, value) -> res => body`, ",
            "`default => body` or `default(timeout) => body`, found: ",
            stringify!($($rest)+)
        ))
    };

    // ---- bind: evaluate operands in order; one nested binding per case ----
    // Each operand is a `match` scrutinee, so temporaries in it (`recv(after(d))`,
    // `recv(opt.unwrap_or(&never()))`) live until the select is over.
    (@bind $f:ident [(recv ($r:expr) $v:tt $body:tt) $($rest:tt)*] [$($b:tt)*] $d:tt) => {
        match &$r {
            __gort_r => {
                let __gort_r: &$crate::Receiver<_> = __gort_r;
                let mut __gort_case = $crate::__private::RecvCase::new(__gort_r);
                $crate::__select!(@bind $f [$($rest)*] [$($b)* (__gort_case $v $body)] $d)
            }
        }
    };
    (@bind $f:ident [(send ($s:expr, $m:expr) $v:tt $body:tt) $($rest:tt)*] [$($b:tt)*] $d:tt) => {
        match &$s {
            __gort_s => {
                let __gort_s: &$crate::Sender<_> = __gort_s;
                let mut __gort_case = $crate::__private::SendCase::new(__gort_s, $m);
                $crate::__select!(@bind $f [$($rest)*] [$($b)* (__gort_case $v $body)] $d)
            }
        }
    };
    (@bind $f:ident [] [$(($case:ident $v:tt $body:tt))*] [$($d:tt)*]) => {{
        let __gort_index = {
            let __gort_cases: &mut [&mut dyn $crate::__private::Case] = &mut [$(&mut $case),*];
            $crate::__select!(@run $f __gort_cases [$($d)*])
        };
        $crate::__select!(@dispatch __gort_index (0usize) [$(($case $v $body))*] [$($d)*])
    }};

    // ---- run the select ----
    (@run $f:ident $cases:ident []) => {
        $crate::__private::$f($cases, $crate::__private::Mode::Block)
    };
    (@run $f:ident $cases:ident [(nonblock $body:tt)]) => {
        $crate::__private::$f($cases, $crate::__private::Mode::NonBlock)
    };
    (@run $f:ident $cases:ident [(timeout ($t:expr) $body:tt)]) => {
        $crate::__private::$f($cases, $crate::__private::Mode::timeout($t))
    };

    // ---- dispatch to the chosen branch ----
    (@dispatch $idx:ident ($i:expr) [($case:ident ($v:pat) ($body:block)) $($rest:tt)*] $d:tt) => {
        if $idx == ::core::option::Option::Some($i) {
            let $v = $case.take();
            $body
        } else {
            $crate::__select!(@dispatch $idx ($i + 1) [$($rest)*] $d)
        }
    };
    (@dispatch $idx:ident ($i:expr) [] []) => {
        ::core::unreachable!("a blocking select completed no case")
    };
    (@dispatch $idx:ident ($i:expr) [] [(nonblock ($body:block))]) => {
        $body
    };
    (@dispatch $idx:ident ($i:expr) [] [(timeout ($t:expr) ($body:block))]) => {
        $body
    };
}
