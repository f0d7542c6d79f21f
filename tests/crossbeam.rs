//! crossbeam-channel's own test suite (0.5.17, ported in `tests/crossbeam/`, with
//! crossbeam's notice at the top of each file) against `gort::chan`: every file runs on
//! plain threads (`threads`) and with every thread replaced by a goroutine (`goroutines`).
//! The tests of behaviour gort differs in on purpose (Go's semantics, listed in the
//! `gort_chan` crate docs) are `#[ignore]`d with the reason. The tests that assert
//! crossbeam's timing margins (those that read the clock, and every test of `after`,
//! `tick` and `never`) run alone, while no other test of the binary runs.
// The suite is crossbeam's code: its lints are crossbeam's business.
#![allow(clippy::all, unused, dead_code, unexpected_cfgs)]

#[path = "crossbeam/shim.rs"]
mod shim;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// Bytes allocated now (golang.rs's allocation test reads it).
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

/// golang.rs's counting allocator, once for the binary.
struct Counter;

// SAFETY: forwards to the system allocator, counting bytes.
unsafe impl GlobalAlloc for Counter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let ret = unsafe { System.alloc(layout) };
        if !ret.is_null() {
            ALLOCATED.fetch_add(layout.size(), SeqCst);
        }
        ret
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        ALLOCATED.fetch_sub(layout.size(), SeqCst);
    }
}

#[global_allocator]
static A: Counter = Counter;

mod after {
    mod threads {
        const GOROUTINES: bool = false;
        include!("crossbeam/after.rs");
    }
    mod goroutines {
        const GOROUTINES: bool = true;
        include!("crossbeam/after.rs");
    }
}
mod array {
    mod threads {
        const GOROUTINES: bool = false;
        include!("crossbeam/array.rs");
    }
    mod goroutines {
        const GOROUTINES: bool = true;
        include!("crossbeam/array.rs");
    }
}
mod golang {
    mod threads {
        const GOROUTINES: bool = false;
        include!("crossbeam/golang.rs");
    }
    mod goroutines {
        const GOROUTINES: bool = true;
        include!("crossbeam/golang.rs");
    }
}
mod iter {
    mod threads {
        const GOROUTINES: bool = false;
        include!("crossbeam/iter.rs");
    }
    mod goroutines {
        const GOROUTINES: bool = true;
        include!("crossbeam/iter.rs");
    }
}
mod list {
    mod threads {
        const GOROUTINES: bool = false;
        include!("crossbeam/list.rs");
    }
    mod goroutines {
        const GOROUTINES: bool = true;
        include!("crossbeam/list.rs");
    }
}
mod mpsc {
    mod threads {
        const GOROUTINES: bool = false;
        include!("crossbeam/mpsc.rs");
    }
    mod goroutines {
        const GOROUTINES: bool = true;
        include!("crossbeam/mpsc.rs");
    }
}
mod never {
    mod threads {
        const GOROUTINES: bool = false;
        include!("crossbeam/never.rs");
    }
    mod goroutines {
        const GOROUTINES: bool = true;
        include!("crossbeam/never.rs");
    }
}
mod ready {
    mod threads {
        const GOROUTINES: bool = false;
        include!("crossbeam/ready.rs");
    }
    mod goroutines {
        const GOROUTINES: bool = true;
        include!("crossbeam/ready.rs");
    }
}
mod same_channel {
    mod threads {
        const GOROUTINES: bool = false;
        include!("crossbeam/same_channel.rs");
    }
    mod goroutines {
        const GOROUTINES: bool = true;
        include!("crossbeam/same_channel.rs");
    }
}
mod select {
    mod threads {
        const GOROUTINES: bool = false;
        include!("crossbeam/select.rs");
    }
    mod goroutines {
        const GOROUTINES: bool = true;
        include!("crossbeam/select.rs");
    }
}
mod select_macro {
    mod threads {
        const GOROUTINES: bool = false;
        include!("crossbeam/select_macro.rs");
    }
    mod goroutines {
        const GOROUTINES: bool = true;
        include!("crossbeam/select_macro.rs");
    }
}
mod thread_locals {
    mod threads {
        const GOROUTINES: bool = false;
        include!("crossbeam/thread_locals.rs");
    }
    mod goroutines {
        const GOROUTINES: bool = true;
        include!("crossbeam/thread_locals.rs");
    }
}
mod tick {
    mod threads {
        const GOROUTINES: bool = false;
        include!("crossbeam/tick.rs");
    }
    mod goroutines {
        const GOROUTINES: bool = true;
        include!("crossbeam/tick.rs");
    }
}
mod zero {
    mod threads {
        const GOROUTINES: bool = false;
        include!("crossbeam/zero.rs");
    }
    mod goroutines {
        const GOROUTINES: bool = true;
        include!("crossbeam/zero.rs");
    }
}
