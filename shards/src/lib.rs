//! shardcache's storage engine. It knows nothing of sockets or RESP framing.
//!
//! ```text
//!   worker ──Batch──▶ [queue] ──▶ shard thread (owns one Store) ──Batch──▶ worker
//!                                  │ exec: one Op → one Reply
//!                                  │ between drains: active expiry
//!                                  └─ big removed values ──▶ lazy-free thread
//! ```
//!
//! - `keyspace`: the store: arena slab addressed by `u32`, exact intrusive
//!   LRU, one index per database (keys are stored once, in the slab),
//!   TTLs, eviction policies and memory accounting; an undo journal rolls
//!   back a group of writes whose AOF records could not be written (element
//!   by element for big hashes and sets); `keyspace::blocked` keeps the
//!   clients blocked on this shard's keys and the keys writes made ready.
//! - `value`: what a key holds beyond a small string: long strings, hashes
//!   (listpack/hashtable), sets (intset/hashtable), lists (quicklist) and
//!   sorted sets (listpack/skiplist) with Redis 7.0's thresholds
//!   (`ValueLimits`), streams with their consumer groups, and their DUMP
//!   payloads (`value::dump`).
//! - `ops`: one enum per command family (`StrOp`, `KeyOp`, `HashOp`,
//!   `SetOp`, `ListOp`, `ZSetOp`, `SortOp`, `SrvOp`, `BlockOp`, `StreamOp`
//!   with its consumer groups' `GroupOp`, `HllOp`), each variant executed
//!   against a store; replies are scalars or tapes (`tape`), failures typed
//!   `Error`s the server words.
//! - `aof`: per-shard append-only segments, the records (absolute changes:
//!   `SET`, `DEL`, `PEXPIREAT`, `PERSIST`, `HSET`, `HDEL`, `SADD`, `SREM`,
//!   `ZADD`, `ZREM`, ...; lists and streams as Redis's own commands),
//!   manifest, replay,
//!   rewrite, re-routing, recovery of a directory without its manifest,
//!   write-failure handling.
//! - `lazyfree`: the thread that frees big removed values off the shards.
//! - `rdb`: the DUMP/RESTORE payload codec (`rdb::stream`: a stream's).
//! - `batch`: the reusable message between a worker and a shard.
//! - `shard`: the thread loop that drains batches and replies.
//! - `engine`: starts the shard threads (and the lazy-free thread) from
//!   the loaded data and hands each worker its `Port`.
//! - `route`: key → shard hashing and its fingerprint.
//! - `glob`: Redis's glob matcher (KEYS, SCAN MATCH, HSCAN/SSCAN MATCH,
//!   CONFIG GET).
//! - `ld`: C `long double` arithmetic for INCRBYFLOAT and HINCRBYFLOAT.

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
pub mod lazyfree;
pub mod ld;
pub mod notify;
pub mod ops;
pub mod rdb;
pub mod route;
pub mod shard;
pub mod slab;
pub mod snapshot;
pub mod tape;
pub mod tracking;
pub mod value;

pub use batch::{Arg, ArgList, Batch, Reply, ShardInfo, Span};
pub use engine::{Engine, EngineConfig, LoadReport, Port};
pub use error::Error;
pub use keyspace::LfuParams;
pub use keyspace::{
    EvictionPolicy, Expiry, Limits, Lookup, OutOfMemory, Store, StrEncoding, ValueRef, WrongType,
    DEFAULT_EVICTION_SAMPLES, NUM_DBS,
};
pub use ops::Op;
pub use value::{Kind, Object, ValueLimits};

/// What glibc malloc hands out for a request of `n` bytes: 8 bytes of header,
/// 16-byte granularity, 32-byte minimum chunk.
pub fn alloc_size(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}
