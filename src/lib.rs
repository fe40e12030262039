//! shardcache: a Redis-compatible, sharded, multi-threaded in-memory cache.
//!
//! ```text
//!                 ┌──────────┐ TcpStream + Waker (round-robin)
//!  clients ─TCP──▶│ acceptor │──────────────────────────┐
//!                 └──────────┘                          ▼
//!   ┌──────────────────────────────────────────────────────────────┐
//!   │ worker 0..W  (pinned, one mio Poll each)                      │
//!   │  read → resp::Decoder → cmd::dispatch → router (hash % N)     │
//!   │  → ONE Batch per shard per round ─┐     ┌─ replies in order   │
//!   └───────────────────────────────────┼─────▲─────────────────────┘
//!                        crossbeam      ▼     │ crossbeam
//!   ┌──────────────────────────────────────────────────────────────┐
//!   │ shard 0..N  (shards::shard::run; owns one shards::Store)     │
//!   └──────────────────────────────────────────────────────────────┘
//! ```
//!
//! A request flows one way: socket → `resp` (decode) → `cmd` (parse the
//! command named in the `command` table into ops) → `router` (batch per
//! shard, exchange, merge) → `resp::encode` → socket.
//!
//! Multi-shard commands stay atomic: a round whose commands span shards is
//! sent under `Shared::order`, so every shard sees such rounds in one order;
//! a command that needs several dependent exchanges (EXEC after WATCH,
//! cross-shard RENAME/COPY/MSETNX) defers itself to the end of the round and
//! runs in a section that holds its shards (`Router::defer`, `Router::hold`).
//!
//! While a shard cannot write its AOF segment (`shards::aof::AofHealth`),
//! `cmd::dispatch` refuses write commands with MISCONF before they run; the
//! shard itself rolls back a group whose records failed (`shards::store`'s
//! undo journal), so a refused write is never applied. A big argument is
//! read into a buffer of its own and shared with the batch, not copied
//! (`shards::batch::BigArg`).
//!
//! - `config`: command-line flags and defaults.
//! - `server`: binds the listener and starts the acceptor, workers and shards.
//! - `worker`: the per-thread event loop and connection buffers.
//! - `resp`: RESP2 decoder (multibulk and inline) and RESP2/RESP3 reply encoder.
//! - `clients`: the registry of open connections (CLIENT LIST / KILL).
//! - `command`: the command table (name, arity, flags, key positions).
//! - `cmd`: one handler per command, one file per family.
//! - `router`: split commands into shard ops, merge replies in order; the
//!   order lock and held sections for cross-shard atomicity.
//! - `info`: the INFO text.
//! - `alloc`: the calls into glibc's allocator (unsafe code, as is `script::env`).
//! - `script`: the Lua scripting engine (EVAL, SCRIPT, FUNCTION, FCALL),
//!   reaching the dataset through its `Host` trait.

#![deny(unsafe_code)]

pub mod alloc;
pub mod clients;
pub mod cmd;
pub mod command;
pub mod config;
pub mod errors;
pub mod info;
pub mod resp;
pub mod router;
pub mod script;
pub mod server;
pub mod worker;
