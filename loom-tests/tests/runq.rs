//! The P's run queue (`runtime/src/sched/runq.rs`): the ring's owner push/pop, a thief's
//! steal-half, the overflow of a full ring's older half to the global queue, and the
//! `runnext` slot. The models drive the runtime's own `RunQueue` and `RunNext` (public in
//! loom builds only, generic over the element so a model queues its own items; under loom
//! the ring has 4 slots, so the full ring, the overflow and the reuse of slots are reached
//! in a few steps).
//!
//! Properties: every pushed item is taken exactly once (by the owner's pop, a thief's
//! steal, or the overflow batch): none lost, none duplicated, no empty slot read; each taker
//! sees its items in push order (the ring is FIFO, a steal takes the oldest half in order,
//! the overflow batch is the oldest half in order, then the pushed item); `runnext` is
//! taken once.
//!
//! The `broken_*` models run the same checks against a ring whose protocol is broken on
//! purpose (`runq::Fault`: the owner's pop without its CAS, the tail published `Relaxed`,
//! `runnext` taken with a load and a store instead of a swap) and expect the check to fail:
//! they show that these models can fail.
#![cfg(loom)]

use gort_loom_tests::model;
use gort_runtime::runq::{Fault, Overflow, RunNext, RunQueue, RUNQ_SIZE};
use loom::sync::{Arc, Mutex};
use loom::thread;

/// The items a model queues: `&ITEMS[i]` is item `i`.
static ITEMS: [u8; 16] = [0; 16];

fn item(i: usize) -> &'static u8 {
    &ITEMS[i]
}

fn id(x: &'static u8) -> usize {
    x as *const u8 as usize - ITEMS.as_ptr() as usize
}

/// The global queue, as far as the ring is concerned: where overflow batches go.
#[derive(Default)]
struct Global(Mutex<Vec<usize>>);

impl Overflow<u8> for Global {
    fn push_batch(&self, items: impl Iterator<Item = &'static u8>) {
        self.0.lock().unwrap().extend(items.map(id));
    }
}

/// Pops everything left in `q`.
fn drain(q: &RunQueue<u8>) -> Vec<usize> {
    std::iter::from_fn(|| q.pop()).map(id).collect()
}

/// A thief with its own (empty) ring steals from `victim` once, then runs what it took:
/// the items it took, oldest first.
fn steal_all(victim: &RunQueue<u8>) -> Vec<usize> {
    let mine = RunQueue::new();
    let Some(newest) = mine.steal_from(victim) else {
        return Vec::new();
    };
    let mut got = drain(&mine);
    got.push(id(newest));
    got
}

/// Every item `0..n` is in exactly one of `takers`, and each taker got its items in push
/// order.
fn check_exactly_once_in_order(n: usize, takers: &[(&str, &[usize])]) {
    let mut count = vec![0; n];
    for (who, got) in takers {
        for &i in got.iter() {
            assert!(i < n, "{who} took item {i}, never pushed");
            count[i] += 1;
        }
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "{who} took items out of push order: {got:?}"
        );
    }
    for (i, c) in count.iter().enumerate() {
        assert_eq!(
            *c, 1,
            "item {i} taken {c} times, not exactly once: {takers:?}"
        );
    }
}

/// The owner pushes and pops (so slots are reused) while a thief steals half: each item
/// once, in order. Covers the thief whose copied slots the owner refills before its CAS.
fn pop_and_steal(fault: Fault) {
    model(Some(4), move || {
        let q = Arc::new(RunQueue::with_fault(fault));
        let global = Global::default();
        q.push(item(0), &global);
        q.push(item(1), &global);
        let victim = q.clone();
        let thief = thread::spawn(move || steal_all(&victim));
        let mut owner: Vec<usize> = q.pop().map(id).into_iter().collect();
        for i in 2..5 {
            q.push(item(i), &global);
        }
        owner.extend(drain(&q));
        let stolen = thief.join().unwrap();
        let overflow = global.0.lock().unwrap().clone();
        check_exactly_once_in_order(
            5,
            &[
                ("owner", &owner),
                ("thief", &stolen),
                ("overflow", &overflow),
            ],
        );
    });
}

#[test]
fn pop_and_steal_take_each_item_once() {
    pop_and_steal(Fault::None);
}

/// Checked to fail: without the CAS, the owner's pop and a thief's steal both take an item.
#[test]
#[should_panic(expected = "not exactly once")]
fn broken_pop_without_cas_is_caught() {
    pop_and_steal(Fault::PopWithoutCas);
}

/// The owner pushes while a thief steals: the thief that sees the new tail sees the slot
/// written before it (the tail's `Release` store pairs with the thief's `Acquire` load).
fn push_and_steal(fault: Fault) {
    model(None, move || {
        let q = Arc::new(RunQueue::with_fault(fault));
        let global = Global::default();
        let victim = q.clone();
        let thief = thread::spawn(move || steal_all(&victim));
        q.push(item(0), &global);
        q.push(item(1), &global);
        let stolen = thief.join().unwrap();
        let owner = drain(&q);
        check_exactly_once_in_order(2, &[("owner", &owner), ("thief", &stolen)]);
    });
}

#[test]
fn push_publishes_its_slot_to_thieves() {
    push_and_steal(Fault::None);
}

/// Checked to fail: a tail published `Relaxed` lets a thief see the new tail but not the
/// slot written before it.
#[test]
#[should_panic(expected = "read a slot nobody filled")]
fn broken_relaxed_publish_is_caught() {
    push_and_steal(Fault::RelaxedPublish);
}

/// A full ring: the owner's next push moves the older half and the new item to the global
/// queue while a thief steals: each item once (owner, thief or overflow), in order.
#[test]
fn overflow_races_with_steal() {
    model(None, || {
        let q = Arc::new(RunQueue::new());
        let global = Arc::new(Global::default());
        for i in 0..RUNQ_SIZE {
            q.push(item(i), &*global);
        }
        let victim = q.clone();
        let thief = thread::spawn(move || steal_all(&victim));
        q.push(item(RUNQ_SIZE), &*global);
        let owner = drain(&q);
        let stolen = thief.join().unwrap();
        let overflow = global.0.lock().unwrap().clone();
        check_exactly_once_in_order(
            RUNQ_SIZE + 1,
            &[
                ("owner", &owner),
                ("thief", &stolen),
                ("overflow", &overflow),
            ],
        );
    });
}

/// Two thieves and the owner's pop on one ring: each item once, in order.
#[test]
fn two_thieves_and_the_owner() {
    model(None, || {
        let q = Arc::new(RunQueue::new());
        let global = Global::default();
        for i in 0..3 {
            q.push(item(i), &global);
        }
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let victim = q.clone();
                thread::spawn(move || steal_all(&victim))
            })
            .collect();
        let owner: Vec<usize> = q.pop().map(id).into_iter().collect();
        let mut stolen = thieves.into_iter().map(|t| t.join().unwrap());
        let (a, b) = (stolen.next().unwrap(), stolen.next().unwrap());
        let mut owner = owner;
        owner.extend(drain(&q));
        check_exactly_once_in_order(3, &[("owner", &owner), ("thief a", &a), ("thief b", &b)]);
    });
}

/// The P's put/get with `runnext` (`P::runq_put`, `P::runq_get`): a put into `runnext`
/// kicks the previous occupant to the ring's tail; the owner takes `runnext` first, then
/// the ring; a thief steals the ring, or `runnext` when the ring is empty (Go's
/// `runqgrab`). Each item once; `runnext` is taken once.
fn runnext_model(fault: Fault) {
    model(None, move || {
        let ring = Arc::new(RunQueue::new());
        let next = Arc::new(RunNext::with_fault(fault));
        let global = Global::default();
        assert!(next.put(item(0)).is_none());
        let (victim, victim_next) = (ring.clone(), next.clone());
        let thief = thread::spawn(move || {
            let got = steal_all(&victim);
            if !got.is_empty() {
                return got;
            }
            victim_next.steal().map(id).into_iter().collect()
        });
        // runq_put(1, next = true): 0 goes to the ring.
        if let Some(old) = next.put(item(1)) {
            ring.push(old, &global);
        }
        // runq_get until empty: runnext first, then the ring.
        let (mut from_next, mut from_ring) = (Vec::new(), Vec::new());
        loop {
            if let Some(g) = next.take() {
                from_next.push(id(g));
            } else if let Some(g) = ring.pop() {
                from_ring.push(id(g));
            } else {
                break;
            }
        }
        let stolen = thief.join().unwrap();
        check_exactly_once_in_order(
            2,
            &[
                ("owner's runnext", &from_next),
                ("owner's ring", &from_ring),
                ("thief", &stolen),
            ],
        );
        assert!(!next.is_set(std::sync::atomic::Ordering::SeqCst));
    });
}

#[test]
fn runnext_is_taken_once() {
    runnext_model(Fault::None);
}

/// Checked to fail: without the swap, the owner's take and a thief's CAS both take the
/// item in `runnext`.
#[test]
#[should_panic(expected = "not exactly once")]
fn broken_runnext_take_without_swap_is_caught() {
    runnext_model(Fault::TakeRunnextWithoutSwap);
}
