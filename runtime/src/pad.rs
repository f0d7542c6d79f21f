//! `CachePadded`: a value on cache lines of its own, for fields that different cores write
//! often (a channel ring's head and tail, a stack arena's pool count) and for read-mostly
//! fields that must not share a line with them. One type for the workspace: `gort-chan`
//! imports it too.
//!
//! Uses no other module of the crate.

use std::ops::{Deref, DerefMut};

/// `T` on cache lines of its own: 128 bytes, two lines, since the adjacent-line prefetcher
/// pulls lines in pairs (crossbeam-utils' `CachePadded` makes the same choice on x86_64
/// and aarch64).
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct CachePadded<T>(pub T);

impl<T> Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for CachePadded<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}
