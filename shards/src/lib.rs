//! shardcache's storage engine. It knows nothing of sockets or RESP framing.
//!
//! ```text
//!   worker ──Batch──▶ [queue] ──▶ shard thread (owns one Store) ──Batch──▶ worker
//!                                  │ exec: one Op → one Reply
//!                                  │ between drains: active expiry
//! ```
//!
//! - `store`: arena slab addressed by `u32`, exact intrusive LRU, one
//!   hashbrown `HashTable<u32>` per database (keys are stored once, in the
//!   slab), TTLs, eviction policies and memory accounting; an undo journal
//!   rolls back a group of writes whose AOF records could not be written.
//! - `aof`: per-shard append-only segments, manifest, replay, rewrite,
//!   recovery of a directory without its manifest, write-failure handling.
//! - `batch`: the reusable message between a worker and a shard.
//! - `exec`: each op code executed against a store.
//! - `shard`: the thread loop that drains batches and replies.
//! - `route`: key → shard hashing and its fingerprint.
//! - `glob`: Redis's glob matcher (KEYS, SCAN MATCH, CONFIG GET).

#![deny(unsafe_code)]

pub mod aof;
pub mod arena;
pub mod batch;
pub mod clock;
pub mod engine;
pub mod error;
pub mod glob;
pub mod index;
pub mod keyspace;
pub mod ld;
pub mod ops;
pub mod rdb;
pub mod route;
pub mod shard;
pub mod slab;
pub mod tape;
pub mod value;

pub use batch::{Arg, ArgList, Batch, Reply, ShardInfo, Span};
pub use engine::{Engine, EngineConfig, LoadReport, Port};
pub use error::Error;
pub use keyspace::{
    EvictionPolicy, Expiry, Limits, Lookup, OutOfMemory, Store, StrEncoding, ValueRef, WrongType,
    DEFAULT_EVICTION_SAMPLES, NUM_DBS,
};
pub use ops::Op;
pub use value::{Kind, Object};

/// What glibc malloc hands out for a request of `n` bytes: 8 bytes of header,
/// 16-byte granularity, 32-byte minimum chunk.
pub fn alloc_size(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}
