//! What a key holds.
//!
//! A string small enough lives inside its key's record in the arena; every
//! other value is an `Object` in the store's object table, and the record
//! holds its handle. The store keeps records, LRU order, TTLs and eviction;
//! it asks an object only its `kind` and its `heap_bytes`, so a new type is
//! a new variant here and a module beside this one, and nothing in the
//! store changes.

pub mod hash;
mod intset;
pub mod list;
mod record;
pub mod set;
mod table;
pub mod zset;

pub use hash::{HashLimits, HashValue};
pub use set::{Member, SetLimits, SetValue};

/// A value's type, as TYPE names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A byte string.
    String,
    /// A hash.
    Hash,
    /// A set.
    Set,
    /// A list.
    List,
    /// A sorted set.
    ZSet,
}

impl Kind {
    /// Redis's name for the type (TYPE, SCAN TYPE).
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::List => "list",
            Kind::ZSet => "zset",
        }
    }

    /// The type a name denotes (SCAN ... TYPE), case-insensitively.
    pub fn parse(name: &[u8]) -> Option<Kind> {
        [Kind::String, Kind::Hash, Kind::Set, Kind::List, Kind::ZSet]
            .into_iter()
            .find(|k| k.name().as_bytes().eq_ignore_ascii_case(name))
    }
}

/// A value kept outside its record.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    /// A string too long to sit in a record (over about 2 KB). A `Vec`
    /// keeps spare room, so repeated APPENDs grow it in amortized O(1).
    Str(Vec<u8>),
    /// A hash (`listpack` or `hashtable`).
    Hash(hash::HashValue),
    /// A set (`intset` or `hashtable`).
    Set(set::SetValue),
    /// A list (`quicklist`).
    List(list::ListValue),
    /// A sorted set (`listpack` or `skiplist`).
    ZSet(zset::ZSetValue),
    /// A value of a type that only tests use (to exercise WRONGTYPE and
    /// the object table before the collection types exist).
    #[cfg(test)]
    Test(Vec<u8>),
}

impl Object {
    /// The value's type.
    pub fn kind(&self) -> Kind {
        match self {
            Object::Str(_) => Kind::String,
            Object::Hash(_) => Kind::Hash,
            Object::Set(_) => Kind::Set,
            Object::List(_) => Kind::List,
            Object::ZSet(_) => Kind::ZSet,
            #[cfg(test)]
            Object::Test(_) => Kind::Hash,
        }
    }

    /// Redis's name for the value's encoding (OBJECT ENCODING).
    pub fn encoding_name(&self) -> &'static str {
        match self {
            // Only strings over Redis's embstr limit live here.
            Object::Str(_) => "raw",
            Object::Hash(h) => h.encoding_name(),
            Object::Set(s) => s.encoding_name(),
            Object::List(l) => l.encoding_name(),
            Object::ZSet(z) => z.encoding_name(),
            #[cfg(test)]
            Object::Test(_) => "listpack",
        }
    }

    /// Bytes the value holds from the allocator beyond its table slot.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Object::Str(v) => crate::alloc_size(v.capacity()),
            Object::Hash(h) => h.heap_bytes(),
            Object::Set(s) => s.heap_bytes(),
            Object::List(l) => l.heap_bytes(),
            Object::ZSet(z) => z.heap_bytes(),
            #[cfg(test)]
            Object::Test(v) => crate::alloc_size(v.capacity()),
        }
    }
}

#[cfg(test)]
mod tests;
