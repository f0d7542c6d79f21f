//! gort's channels and `select!`, after Go's `runtime/chan.go` and `runtime/select.go`,
//! with crossbeam-channel's Rust API; and the Go packages whose dependencies point at
//! channels or contexts: `time` (sleep, after, tick, `Timer`, `after_func`); `context`;
//! `signal` (Go's `os/signal`); `net` (sockets on the runtime's netpoller, and their calls
//! under a context); `sync::Semaphore` and `sync::Group` (x/sync's `semaphore` and
//! `errgroup`, which take a context); and [`JoinHandleExt::done`], a goroutine's end as a
//! channel.
//!
//! Every blocking operation works on a goroutine (which parks, letting its thread run other
//! goroutines) and on a plain thread (which blocks), and any mix of the two can share a
//! channel.
//!
//! # Lifetime: dropping an end does something
//!
//! A Go channel lives until nobody references it, and only `close` changes it. A gort
//! channel's ends are counted, as crossbeam's are, and the counts matter:
//!
//! - **Dropping the last [`Sender`] closes the channel** (Go's `close(ch)`): receivers get
//!   what is still buffered, then `Err(RecvError)`. A goroutine that sends and then
//!   returns has closed its channel: a receiver's `recv().unwrap()`, or a `select!` arm's
//!   `v.unwrap()`, then panics where Go's `<-ch` would block forever or yield a zero value.
//!   Keep a `Sender` alive as long as the channel must stay open, or handle `Err` as "closed".
//! - **Dropping the last [`Receiver`] makes every send fail at once** with the value
//!   handed back (`Err(SendError(v))`), blocked senders included, and drops the values
//!   still buffered (nobody can receive them). In a `select!`, a `send` case on such a
//!   channel is ready and completes with that error, even beside a `default`.
//! - [`Sender::close`] / [`Receiver::close`] close the channel for everyone, whoever still
//!   holds ends (Go's `close`). A second close returns `Err(CloseError)` (Go panics).
//! - [`never()`] and [`Sender::never()`] are Go's nil channel: their operations never
//!   complete, so in a `select!` their case is never chosen.
//! - Buffered values whose `Drop` panics: each is dropped once even so, and the first panic
//!   continues from the drop of the last receiver (or the channel's end).
//!
//! # For crossbeam-channel users: what differs
//!
//! gort follows crossbeam-channel's API, with Go's semantics where the two disagree. Every
//! difference:
//!
//! | | gort | crossbeam-channel |
//! |---|---|---|
//! | `select!` send operands | evaluated, in order, before selecting (Go); an unchosen case's value is dropped | only the chosen case's expression is evaluated |
//! | [`Select::send`] | `sel.send(&s, value)`: the value is given when the case is added | `sel.send(&s)`, then `oper.send(&s, value)` |
//! | [`Select::select`] | completes the operation it selects; [`SelectedOperation::recv`] / [`send`](SelectedOperation::send) hand over the outcome; dropping it unread drops a received value | selects, and the caller must complete the operation (or it panics) |
//! | [`Select`] | not `Clone` (it holds its send values) | `Clone` |
//! | `time::tick` / [`time::Ticker`] with a zero period | panics (Go's `time.NewTicker`) | ticks continuously |
//! | [`time::after`], [`time::at`], [`time::tick`] values | the time the timer fired (Go's `time.Now()` at firing) | the scheduled instant |
//! | timer channels in a `select!` | get their value when their timer fires, in deadline order: a select blocked on two timers wakes with the earlier one | every deadline is compared at wake-up, and one of the expired picked at random |
//! | `after`, `at` channels | never closed (Go) | never closed |
//! | `never()` | each call is a channel of its own (`same_channel` is false between two) | all `never()` receivers are one channel |
//! | buffered values whose `Drop` panics | each is dropped once, then the first panic continues | the first panic continues, the values after it leak |
//! | an unbounded channel's buffer | one ring buffer; after a burst, its memory is given back when the buffer next empties after a fill of under a quarter of it (a backlog that keeps reaching the same size keeps its buffer) | a list of blocks, freed as they are consumed |
//! | `close()` | exists (Go's `close(ch)`), on either end | does not exist: only dropping the senders disconnects |
//! | a goroutine blocked forever on a channel | under `gort::run`, when every goroutine is blocked, the program stops with Go's "all goroutines are asleep - deadlock!" | the thread hangs |
//!
//! crossbeam-channel 0.5.17's own tests run against gort in `tests/crossbeam.rs`, on
//! threads and on goroutines (`cargo test --test crossbeam`). The tests that do not pass,
//! for the reasons in the table, are `#[ignore]`d there with the reason:
//!
//! - they use crossbeam's `Select::send(&s)` / `SelectedOperation::send(&s, v)` or clone a
//!   `Select`, and do not compile against gort: `select.rs`: `default_when_disconnected`,
//!   `unblocks`, `both_ready`, `loop_try`, `duplicate_operations`, `nesting`,
//!   `stress_send`, `stress_mixed`, `stress_timeout_two_threads`,
//!   `send_recv_same_channel`, `channel_through_channel`, `fairness2`, `sync_and_clone`,
//!   `send_and_clone`, `reuse`, `matching`, `matching_with_leftover`; `ready.rs`:
//!   `default_when_disconnected`, `unblocks`, `both_ready`, `duplicate_operations`,
//!   `nesting`, `stress_send`, `stress_mixed`, `stress_timeout_two_threads`,
//!   `send_recv_same_channel`, `channel_through_channel`, `fairness2`; `golang.rs`:
//!   `test_select_stress`;
//! - a zero tick period: `tick.rs`: `capacity`, `fairness`, `fairness_duplicates`,
//!   `stress_default`; `fairness1` of `ready.rs`, `select.rs` and `select_macro.rs`;
//! - send operands evaluated before selecting: `array.rs`: `recv_in_send`;
//! - the firing time: `after.rs`: `fire`, `recv_timeout`; `tick.rs`: `fire`, `intervals`;
//! - timers fire in deadline order: `after.rs`: `fairness`;
//! - drop-all on a panicking `Drop`: `array.rs`: `panic_on_drop`;
//! - distinct `never()` channels: `same_channel.rs`: `never_same_channel`;
//! - and `golang.rs`'s `select2`, which bounds the allocations of the whole process while
//!   the binary's other tests allocate too.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod array;
mod channel;
pub mod context;
mod done;
mod errgroup;
mod error;
mod macros;
pub mod net;
mod select;
pub mod signal;
pub mod time;

/// x/sync's packages, which take a context: [`Semaphore`](sync::Semaphore) (Go's
/// `semaphore.Weighted`) and [`Group`](sync::Group) (Go's `errgroup`). The facade merges
/// this into `gort::sync`.
pub mod sync {
    pub use crate::errgroup::Group;
    pub use crate::weighted::{OwnedPermit, Permit, Semaphore};
}
mod waiter;
mod weighted;

pub use channel::{bounded, never, unbounded, IntoIter, Iter, Receiver, Sender, TryIter};
pub use done::JoinHandleExt;
pub use error::{
    CloseError, ReadyTimeoutError, RecvError, RecvTimeoutError, SelectTimeoutError, SendError,
    SendTimeoutError, TryReadyError, TryRecvError, TrySelectError, TrySendError,
};
pub use select::{Select, SelectedOperation};

/// What `select!` expands to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::select::{select, select_biased, Case, Mode, RecvCase, SendCase};
}
