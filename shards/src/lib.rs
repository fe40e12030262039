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

pub mod aof;
pub mod batch;
pub mod clock;
pub mod exec;
pub mod glob;
pub mod ld;
pub mod route;
pub mod shard;
pub mod store;

pub use batch::{Batch, Op, OpCode, Reply, ShardInfo};
pub use store::{EvictionPolicy, Expiry, Limits, OutOfMemory, Store, StrEncoding, NUM_DBS};
