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
///   if the channel is closed).
/// - `default => body` runs if nothing is ready now; `default(timeout) => body` if nothing
///   became ready within `timeout`. Without a default, `select!` blocks.
///
/// Among ready cases one is chosen uniformly at random. Channel operands and send values
/// are evaluated once, in order, before selecting (as in Go); a send value whose case is not
/// chosen is dropped. A `chan::never()` receiver is never ready. `select! {}` blocks forever.
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select!(@parse [] [] $($tokens)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select {
    // ---- parse: collect cases and the default ----
    (@parse [$($c:tt)*] [$($d:tt)*] recv($r:expr) -> $v:pat => $body:block, $($rest:tt)*) => {
        $crate::__select!(@parse [$($c)* (recv ($r) ($v) ($body))] [$($d)*] $($rest)*)
    };
    (@parse [$($c:tt)*] [$($d:tt)*] recv($r:expr) -> $v:pat => $body:block $($rest:tt)*) => {
        $crate::__select!(@parse [$($c)* (recv ($r) ($v) ($body))] [$($d)*] $($rest)*)
    };
    (@parse [$($c:tt)*] [$($d:tt)*] recv($r:expr) -> $v:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select!(@parse [$($c)* (recv ($r) ($v) ({ $body }))] [$($d)*] $($rest)*)
    };
    (@parse [$($c:tt)*] [$($d:tt)*] recv($r:expr) -> $v:pat => $body:expr) => {
        $crate::__select!(@parse [$($c)* (recv ($r) ($v) ({ $body }))] [$($d)*])
    };
    (@parse [$($c:tt)*] [$($d:tt)*] send($s:expr, $m:expr) -> $v:pat => $body:block, $($rest:tt)*) => {
        $crate::__select!(@parse [$($c)* (send ($s, $m) ($v) ($body))] [$($d)*] $($rest)*)
    };
    (@parse [$($c:tt)*] [$($d:tt)*] send($s:expr, $m:expr) -> $v:pat => $body:block $($rest:tt)*) => {
        $crate::__select!(@parse [$($c)* (send ($s, $m) ($v) ($body))] [$($d)*] $($rest)*)
    };
    (@parse [$($c:tt)*] [$($d:tt)*] send($s:expr, $m:expr) -> $v:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select!(@parse [$($c)* (send ($s, $m) ($v) ({ $body }))] [$($d)*] $($rest)*)
    };
    (@parse [$($c:tt)*] [$($d:tt)*] send($s:expr, $m:expr) -> $v:pat => $body:expr) => {
        $crate::__select!(@parse [$($c)* (send ($s, $m) ($v) ({ $body }))] [$($d)*])
    };
    (@parse [$($c:tt)*] [] default => $body:block, $($rest:tt)*) => {
        $crate::__select!(@parse [$($c)*] [(nonblock ($body))] $($rest)*)
    };
    (@parse [$($c:tt)*] [] default => $body:block $($rest:tt)*) => {
        $crate::__select!(@parse [$($c)*] [(nonblock ($body))] $($rest)*)
    };
    (@parse [$($c:tt)*] [] default => $body:expr, $($rest:tt)*) => {
        $crate::__select!(@parse [$($c)*] [(nonblock ({ $body }))] $($rest)*)
    };
    (@parse [$($c:tt)*] [] default => $body:expr) => {
        $crate::__select!(@parse [$($c)*] [(nonblock ({ $body }))])
    };
    (@parse [$($c:tt)*] [] default($t:expr) => $body:block, $($rest:tt)*) => {
        $crate::__select!(@parse [$($c)*] [(timeout ($t) ($body))] $($rest)*)
    };
    (@parse [$($c:tt)*] [] default($t:expr) => $body:block $($rest:tt)*) => {
        $crate::__select!(@parse [$($c)*] [(timeout ($t) ($body))] $($rest)*)
    };
    (@parse [$($c:tt)*] [] default($t:expr) => $body:expr, $($rest:tt)*) => {
        $crate::__select!(@parse [$($c)*] [(timeout ($t) ({ $body }))] $($rest)*)
    };
    (@parse [$($c:tt)*] [] default($t:expr) => $body:expr) => {
        $crate::__select!(@parse [$($c)*] [(timeout ($t) ({ $body }))])
    };
    (@parse [$($c:tt)*] [$($d:tt)+] default $($rest:tt)*) => {
        compile_error!("select! has more than one `default` case")
    };
    (@parse [$($c:tt)*] [$($d:tt)*]) => {
        $crate::__select!(@bind [$($c)*] [] [$($d)*])
    };
    (@parse [$($c:tt)*] [$($d:tt)*] $($rest:tt)+) => {
        compile_error!(concat!(
            "select!: expected `recv(r) -> v => body`, `send(s, value) -> res => body`, ",
            "`default => body` or `default(timeout) => body`, found: ",
            stringify!($($rest)+)
        ))
    };

    // ---- bind: evaluate operands in order; one nested binding per case ----
    (@bind [(recv ($r:expr) $v:tt $body:tt) $($rest:tt)*] [$($b:tt)*] $d:tt) => {{
        let __gort_r: &$crate::Receiver<_> = &$r;
        let mut __gort_case = $crate::__private::RecvCase::new(__gort_r);
        $crate::__select!(@bind [$($rest)*] [$($b)* (__gort_case $v $body)] $d)
    }};
    (@bind [(send ($s:expr, $m:expr) $v:tt $body:tt) $($rest:tt)*] [$($b:tt)*] $d:tt) => {{
        let __gort_s: &$crate::Sender<_> = &$s;
        let mut __gort_case = $crate::__private::SendCase::new(__gort_s, $m);
        $crate::__select!(@bind [$($rest)*] [$($b)* (__gort_case $v $body)] $d)
    }};
    (@bind [] [$(($case:ident $v:tt $body:tt))*] [$($d:tt)*]) => {{
        let __gort_index = {
            let __gort_cases: &mut [&mut dyn $crate::__private::Case] = &mut [$(&mut $case),*];
            $crate::__select!(@run __gort_cases [$($d)*])
        };
        $crate::__select!(@dispatch __gort_index (0usize) [$(($case $v $body))*] [$($d)*])
    }};

    // ---- run the select ----
    (@run $cases:ident []) => {
        $crate::__private::select($cases, $crate::__private::Mode::Block)
    };
    (@run $cases:ident [(nonblock $body:tt)]) => {
        $crate::__private::select($cases, $crate::__private::Mode::NonBlock)
    };
    (@run $cases:ident [(timeout ($t:expr) $body:tt)]) => {
        $crate::__private::select($cases, $crate::__private::Mode::timeout($t))
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
