//! What a key holds.
//!
//! A string small enough lives inside its key's record in the arena; every
//! other value is an `Object` in the store's object table, and the record
//! holds its handle. The store keeps records, LRU order, TTLs and eviction;
//! it asks an object only its `kind` and its `heap_bytes`, so a new type is
//! a new variant here and a module beside this one, and nothing in the
//! store changes.

pub mod dump;
pub mod hash;
mod intset;
pub mod list;
mod record;
pub mod set;
pub mod stream;
mod table;
pub mod zset;

pub use hash::{HashLimits, HashValue};
pub use list::{ListLimits, ListValue};
pub use set::{Member, SetLimits, SetValue};
pub use stream::{StreamId, StreamValue};
pub use zset::{ZSetLimits, ZSetValue};

/// The encoding thresholds of the collection types (Redis's `*-max-*`
/// configuration) and DUMP's compression: what a store applies when a
/// command, a replay or a RESTORE builds a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueLimits {
    /// `hash-max-listpack-entries`, `hash-max-listpack-value`.
    pub hash: HashLimits,
    /// `set-max-intset-entries`.
    pub set: SetLimits,
    /// `list-max-listpack-size`.
    pub list: ListLimits,
    /// `zset-max-listpack-entries`, `zset-max-listpack-value`.
    pub zset: ZSetLimits,
    /// `rdbcompression`: DUMP compresses strings with LZF where it pays.
    pub dump_compression: bool,
    /// `hll-sparse-max-bytes`: a sparse HyperLogLog that would grow past
    /// this turns dense.
    pub hll_sparse_max_bytes: usize,
}

impl Default for ValueLimits {
    /// Redis 7.0.15's defaults: 512 entries and 64 bytes for hashes, 512
    /// integers for sets, 8 KB list nodes, 128 entries and 64 bytes for
    /// sorted sets, compression on.
    fn default() -> Self {
        ValueLimits {
            hash: HashLimits::default(),
            set: SetLimits::default(),
            list: ListLimits::default(),
            zset: ZSetLimits::default(),
            dump_compression: true,
            hll_sparse_max_bytes: crate::ops::hll::SPARSE_MAX_BYTES,
        }
    }
}

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
    /// A stream.
    Stream,
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
            Kind::Stream => "stream",
        }
    }

    /// The type a name denotes (SCAN ... TYPE), case-insensitively.
    pub fn parse(name: &[u8]) -> Option<Kind> {
        [
            Kind::String,
            Kind::Hash,
            Kind::Set,
            Kind::List,
            Kind::ZSet,
            Kind::Stream,
        ]
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
    /// A stream (boxed: it is bigger than the other variants, and every
    /// object pays for the biggest).
    Stream(Box<stream::StreamValue>),
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
            Object::Stream(_) => Kind::Stream,
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
            Object::Stream(x) => x.encoding_name(),
            #[cfg(test)]
            Object::Test(_) => "listpack",
        }
    }

    /// The hash, when the value is one.
    pub fn as_hash(&self) -> Option<&HashValue> {
        match self {
            Object::Hash(h) => Some(h),
            _ => None,
        }
    }

    /// The set, when the value is one.
    pub fn as_set(&self) -> Option<&SetValue> {
        match self {
            Object::Set(s) => Some(s),
            _ => None,
        }
    }

    /// The list, when the value is one.
    pub fn as_list(&self) -> Option<&ListValue> {
        match self {
            Object::List(l) => Some(l),
            _ => None,
        }
    }

    /// The sorted set, when the value is one.
    pub fn as_zset(&self) -> Option<&ZSetValue> {
        match self {
            Object::ZSet(z) => Some(z),
            _ => None,
        }
    }

    /// The stream, when the value is one.
    pub fn as_stream(&self) -> Option<&StreamValue> {
        match self {
            Object::Stream(x) => Some(x),
            _ => None,
        }
    }

    /// Allocations a drop of the value frees (Redis's `lazyfreeGetFreeEffort`):
    /// above `lazyfree::THRESHOLD` it is freed off the shard thread.
    pub fn free_effort(&self) -> usize {
        match self {
            Object::Str(_) => 1,
            Object::Hash(h) => h.free_effort(),
            Object::Set(s) => s.free_effort(),
            Object::List(l) => l.free_effort(),
            Object::ZSet(z) => z.free_effort(),
            Object::Stream(x) => x.free_effort(),
            #[cfg(test)]
            Object::Test(_) => 1,
        }
    }

    /// True when a copy is cheap (a compact encoding: at most a few KB in
    /// one allocation), so the undo journal keeps a whole copy rather than
    /// one entry per changed element.
    pub fn cheap_to_copy(&self) -> bool {
        match self {
            Object::Str(_) => false,
            Object::Hash(h) => h.is_listpack(),
            Object::Set(s) => s.is_intset(),
            Object::List(l) => l.node_count() == 1,
            Object::ZSet(z) => z.encoding() == zset::ZSetEncoding::Listpack,
            // Edits journal entries one by one (see `keyspace::undo`).
            Object::Stream(_) => false,
            #[cfg(test)]
            Object::Test(_) => true,
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
            Object::Stream(x) => {
                crate::alloc_size(std::mem::size_of::<stream::StreamValue>()) + x.heap_bytes()
            }
            #[cfg(test)]
            Object::Test(v) => crate::alloc_size(v.capacity()),
        }
    }
}

#[cfg(test)]
impl Object {
    /// The value as text for tests: its encoding and content (a listpack in
    /// its order, anything else sorted), or with `content_only` the
    /// content alone, sorted.
    pub(crate) fn describe(&self, content_only: bool) -> String {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let (enc, mut items, ordered): (&str, Vec<String>, bool) = match self {
            Object::Str(v) => ("raw", vec![text(v)], true),
            Object::Hash(h) => (
                h.encoding_name(),
                h.iter()
                    .map(|(f, v)| format!("{}={}", text(f), text(v)))
                    .collect(),
                h.is_listpack(),
            ),
            Object::Set(s) => (
                s.encoding_name(),
                s.iter().map(|m| m.with_bytes(text)).collect(),
                s.is_intset(),
            ),
            Object::List(l) => (l.encoding_name(), l.iter().map(text).collect(), true),
            Object::ZSet(z) => (
                z.encoding_name(),
                z.iter()
                    .map(|(m, sc)| format!("{}={sc}", text(m)))
                    .collect(),
                true,
            ),
            Object::Stream(x) => (
                x.encoding_name(),
                x.iter()
                    .map(|(id, p)| {
                        let f: Vec<String> = stream::unpack(p).map(text).collect();
                        format!("{}-{}={}", id.ms, id.seq, f.join(" "))
                    })
                    .collect(),
                true,
            ),
            Object::Test(v) => ("test", vec![text(v)], true),
        };
        if content_only || !ordered {
            items.sort();
        }
        let kind = self.kind().name();
        if content_only {
            format!("{kind}:{}", items.join(","))
        } else {
            format!("{kind}:{enc}:{}", items.join(","))
        }
    }
}

#[cfg(test)]
mod tests;
