//! [`Barrier`]: `std::sync::Barrier` for goroutines, built from [`Mutex`] and [`Cond`].

use super::{Cond, Mutex};
use std::fmt;

struct State {
    arrived: usize,
    generation: usize,
}

/// Lets `n` goroutines (or threads) wait until all of them have reached the same point:
/// `std::sync::Barrier`, parking instead of blocking. Reusable: once all `n` have arrived,
/// the next `n` calls form the next round.
///
/// ```
/// use gort_runtime::sync::Barrier;
/// use std::sync::Arc;
///
/// let barrier = Arc::new(Barrier::new(3));
/// let hs: Vec<_> = (0..3)
///     .map(|_| {
///         let b = barrier.clone();
///         gort_runtime::go(move || b.wait().is_leader())
///     })
///     .collect();
/// let leaders = hs.into_iter().map(|h| h.join().unwrap());
/// assert_eq!(leaders.filter(|&l| l).count(), 1);
/// ```
pub struct Barrier {
    state: Mutex<State>,
    cond: Cond,
    n: usize,
}

/// What [`Barrier::wait`] returns: whether this caller was the round's leader.
#[derive(Debug, Clone, Copy)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// `true` for exactly one caller of each round (the last to arrive).
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    loom_const_fn! {
        /// A barrier for rounds of `n` callers (`n` of 0 or 1 never waits).
        pub fn new(n: usize) -> Barrier {
            Barrier {
                state: Mutex::new(State {
                    arrived: 0,
                    generation: 0,
                }),
                cond: Cond::new(),
                n,
            }
        }
    }

    /// Parks until `n` callers (this one included) have called `wait` in this round.
    pub fn wait(&self) -> BarrierWaitResult {
        let mut st = self.state.lock();
        st.arrived += 1;
        if st.arrived < self.n {
            let generation = st.generation;
            let _st = self.cond.wait_while(st, |s| s.generation == generation);
            BarrierWaitResult(false)
        } else {
            st.arrived = 0;
            st.generation = st.generation.wrapping_add(1);
            drop(st);
            self.cond.broadcast();
            BarrierWaitResult(true)
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}
