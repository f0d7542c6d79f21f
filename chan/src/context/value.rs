//! Values carried by contexts: typed keys ([`Key`]) and the chain of value nodes that a
//! lookup walks towards the root.

use super::Context;
use std::any::{Any, TypeId};

/// A context key. The key's type fixes the type of its value, and keys of one type are told
/// apart by `==` (Go compares `any` keys by type and value). Define keys as your own types
/// so packages cannot collide:
///
/// ```
/// use gort_chan::context::{self, Key};
///
/// #[derive(PartialEq)]
/// struct RequestId;
/// impl Key for RequestId {
///     type Value = u64;
/// }
///
/// let ctx = context::background().with_value(RequestId, 42);
/// assert_eq!(ctx.value(&RequestId), Some(&42));
/// assert_eq!(context::background().value(&RequestId), None);
/// ```
pub trait Key: Any + PartialEq + Send + Sync {
    /// The type of the value stored under keys of this type.
    type Value: Any + Send + Sync;
}

/// One link of the value chain (type-erased [`ValueNode`]).
pub(crate) trait ValueEntry: Send + Sync {
    /// The value if `key` (of type `ty`) is this node's key, else the parent to look in.
    fn find<'a>(
        &'a self,
        key: &dyn Any,
        ty: TypeId,
    ) -> Result<&'a (dyn Any + Send + Sync), &'a Context>;
}

/// `with_value`'s node: the parent, the key and the value, in one allocation.
pub(crate) struct ValueNode<K: Key> {
    pub(crate) parent: Context,
    pub(crate) key: K,
    pub(crate) val: K::Value,
}

impl<K: Key> ValueEntry for ValueNode<K> {
    fn find<'a>(
        &'a self,
        key: &dyn Any,
        ty: TypeId,
    ) -> Result<&'a (dyn Any + Send + Sync), &'a Context> {
        if ty == TypeId::of::<K>() && key.downcast_ref::<K>() == Some(&self.key) {
            Ok(&self.val)
        } else {
            Err(&self.parent)
        }
    }
}
