//! shardcache: a Redis-compatible, sharded, multi-threaded in-memory cache.
//!
//! ```text
//!  clients ─TCP──▶ one listening socket, in every worker's poll
//!                  (exclusive: one idle worker accepts; the least
//!                   loaded keeps the connection)  ──┐
//!                                                   ▼
//!   ┌──────────────────────────────────────────────────────────────┐
//!   │ worker 0..W  (pinned, one mio Poll each)                      │
//!   │  read → resp::Decoder → commands::dispatch → exchange         │
//!   │  → ONE Batch per shard per round ─┐     ┌─ replies in order   │
//!   └───────────────────────────────────┼─────▲─────────────────────┘
//!                        crossbeam      ▼     │ crossbeam
//!   ┌──────────────────────────────────────────────────────────────┐
//!   │ shard 0..N  (shards::shard::run; owns one shards::Store)     │
//!   └──────────────────────────────────────────────────────────────┘
//! ```
//!
//! A request flows one way: socket → `resp` (decode) → `commands` (look
//! the command up in the declared table, check it, parse it into typed
//! shard ops) → `exchange` (a batch per shard, the round trip, replies
//! merged in request order) → `resp::encode` → socket.
//!
//! Multi-shard commands stay atomic: a round whose commands span shards is
//! sent under `Shared::order`, so every shard sees such rounds in one order;
//! a command that needs several dependent exchanges (EXEC after WATCH,
//! cross-shard RENAME/COPY/MSETNX) declares so (`Command::section`), is
//! deferred to the end of the round and runs in a section that holds its
//! shards (`Router::hold`).
//!
//! While a shard cannot write its AOF segment (`shards::aof::AofHealth`),
//! `commands::dispatch` refuses write commands with MISCONF before they run;
//! the shard itself rolls back a group whose records failed (the keyspace's
//! undo journal), so a refused write is never applied. A big argument is
//! read into a buffer of its own and shared with the batch, not copied
//! (`shards::batch::BigArg`).
//!
//! Threads: W workers (pinned), which also accept; N shard threads (the engine,
//! `shards::Engine`), each with its AOF segment and, under `appendfsync
//! everysec`, a syncer thread; the engine's lazy-free thread.
//!
//! Modules, in the order a request meets them (no module imports one
//! listed after it, except `shared`/`session`/`observe`/`clients`/`pubsub`/
//! `blocking`, plain state):
//! - `config`: command-line flags and defaults.
//! - `server`: binds the listener, starts the workers and engine.
//! - `worker`: the per-thread event loop and connection buffers; it accepts
//!   connections (`listen`: the listener's exclusive registration) and
//!   `admit` checks each as Redis does (client limit, protected mode).
//! - `resp`: RESP2 decoder (multibulk and inline) and RESP2/RESP3 encoder.
//! - `session`: per-connection state commands read and change.
//! - `commands`: the declared command table, dispatch, and one file per
//!   family of handlers (Redis's command JSON and Dragonfly's families in
//!   one place).
//! - `exchange`: rounds of per-shard batches, sections, and the merge of
//!   replies in request order (commands supply their own merges).
//! - `shared`: server-wide counters and run-time settings.
//! - `observe`: what operators watch the server through (the slow log,
//!   MONITOR's subscribers, CLIENT PAUSE), fed by the workers.
//! - `acl`: the users, their permissions and the ACL log (checked by
//!   `commands::acl`).
//! - `clients`: the registry of open connections (CLIENT LIST / KILL).
//! - `blocking`: the waits of blocked clients (BLPOP and friends): their
//!   claims and timeouts, and the workers' inboxes the shards answer through.
//! - `pubsub`: who subscribes to what, and the per-worker inboxes that
//!   carry published messages to the subscribers' workers.
//! - `tracking`: client-side caching's per-connection state and the
//!   frames of its invalidations (the tracked keys live in the shards).
//! - `keyevents`: keyspace notifications: the shards' events published
//!   through `pubsub` (the engine's `shards::notify::Sink`).
//! - `rdb`: RDB snapshots' state (LASTSAVE, INFO persistence) and the
//!   writing of a snapshot's copies, in the background for BGSAVE.
//! - `errors`: engine errors as Redis's error text.
//! - `alloc`: the calls into glibc's allocator (unsafe code, as are
//!   `script::env` and `listen`).
//! - `script`: the Lua scripting engine (EVAL, SCRIPT, FUNCTION, FCALL),
//!   reaching the dataset through its `Host` trait, which
//!   `commands::script` implements by dispatching each `redis.call` in a
//!   section; `script::Registry` holds the server's scripts and libraries.

#![deny(unsafe_code)]

pub mod acl;
pub mod admit;
pub mod alloc;
pub mod blocking;
pub mod clients;
pub mod commands;
pub mod config;
pub mod errors;
pub mod exchange;
pub mod keyevents;
pub mod listen;
pub mod observe;
pub mod pubsub;
pub mod rdb;
pub mod resp;
pub mod script;
pub mod server;
pub mod session;
pub mod shared;
pub mod tracking;
pub mod worker;
