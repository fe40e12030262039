//! Ops on a whole shard: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, the keyspace
//! walks (KEYS, a SCAN step, RANDOMKEY), INFO's snapshot, limits, WATCH
//! bookkeeping, and the persistence controls (BGREWRITEAOF, the fsync
//! policy, shutdown's flush).
//!
//! Walks answer tapes the worker merges over the shards: KEYS an array of
//! keys; a SCAN step `[next, keys]` with `next` the shard-local cursor, or
//! -1 when this shard is done; RANDOMKEY `[dbsize, key or nil]` so the
//! worker can pick a shard with odds proportional to its keys.

use super::Cx;
use crate::aof::{Fsync, Record};
use crate::batch::{Arg, Reply, ShardInfo};
use crate::error::Error;
use crate::glob;
use crate::keyspace::Limits;
use crate::tape::TapeWriter;
use crate::value::Kind;
use crate::NUM_DBS;

/// An op on the whole shard.
#[derive(Clone, Debug)]
pub enum SrvOp {
    /// DBSIZE of the op's database → integer.
    DbSize,
    /// FLUSHDB → OK.
    FlushDb,
    /// FLUSHALL → OK.
    FlushAll,
    /// SWAPDB a b → OK.
    SwapDb {
        /// One database.
        a: u8,
        /// The other.
        b: u8,
    },
    /// KEYS pattern → a tape of the matching live keys.
    Keys {
        /// The glob pattern.
        pattern: Arg,
    },
    /// One SCAN step → a tape `[next or -1, keys]`.
    Scan {
        /// Where this shard's walk resumes (0 starts).
        cursor: u32,
        /// COUNT.
        count: usize,
        /// MATCH.
        pattern: Option<Arg>,
        /// TYPE.
        kind: Option<Kind>,
    },
    /// RANDOMKEY → a tape `[dbsize, key or nil]`.
    RandomKey,
    /// A snapshot of the shard's counters for INFO.
    Info,
    /// New limits.
    SetLimits(Limits),
    /// Clear the statistics counters (CONFIG RESETSTAT).
    ResetStats,
    /// Start an AOF rewrite (BGREWRITEAOF).
    RewriteAof,
    /// Change the fsync policy.
    SetFsync(Fsync),
    /// Flush and fsync the segment, and from then on sync every write.
    Shutdown,
    /// Forget every key a client watches here → OK.
    Unwatch {
        /// The client's id.
        client: u64,
    },
    /// Whether a key a client watches here changed (or expired) since its
    /// WATCH → 1 or 0; its watches here are then forgotten.
    WatchCheck {
        /// The client's id.
        client: u64,
    },
    /// Keys sampled per eviction by the sampling policies (maxmemory-samples) → OK.
    SetSamples(u32),
    /// Turn the AOF on (CONFIG SET appendonly yes): open this shard's
    /// segment of the new generation and rewrite the data into it → OK,
    /// or why not (as `Misconf`). Nothing when it is on already.
    AofOn {
        /// The generation being written.
        enabling: std::sync::Arc<crate::aof::switch::Enabling>,
        /// This shard's index.
        shard: u32,
    },
    /// Turn the AOF off (CONFIG SET appendonly no): write and sync what was
    /// recorded, close the segment, record nothing more → OK.
    AofOff,
    /// CLIENT TRACKING ON BCAST: the client's prefixes (none: every key) → OK.
    TrackPrefixes {
        /// The client and where its invalidations go.
        tracker: crate::tracking::Tracker,
        /// The prefixes.
        prefixes: std::sync::Arc<Vec<Vec<u8>>>,
    },
    /// CLIENT TRACKING OFF (or its connection closed): its prefixes go → OK.
    Untrack {
        /// The client's id.
        client: u64,
    },
    /// Nothing → OK. Sent to every shard when a worker refuses a write
    /// because an AOF segment fails: a shard whose segment fails tries it
    /// again before running any batch, so this makes the next write find
    /// the disk as it is (Redis retries after every command, in `beforeSleep`).
    RetryAof,
    /// Evict by policy until within `maxmemory` → OK, or `Oom` when the
    /// policy cannot: asked before a script that may write runs without
    /// `allow-oom`, as Redis refuses a deny-oom command up front.
    MakeRoom,
    /// DEBUG SET-ACTIVE-EXPIRE → OK.
    SetActiveExpire(bool),
    /// DEBUG DIGEST's share of this shard → a bulk (see `digest::dataset`).
    Digest,
    /// DEBUG DIGEST-VALUE key → a 20-byte bulk.
    DigestValue {
        /// The key.
        key: Arg,
    },
    /// DEBUG OBJECT key → the line as a bulk, or nil.
    DebugObject {
        /// The key.
        key: Arg,
        /// Whether small integers are shared (as OBJECT REFCOUNT).
        shared_ints: bool,
    },
}

impl SrvOp {
    pub(super) fn is_write(&self) -> bool {
        matches!(
            self,
            SrvOp::FlushDb | SrvOp::FlushAll | SrvOp::SwapDb { .. }
        )
    }

    /// See `Op::reads_data`.
    pub(super) fn reads_data(&self) -> bool {
        !matches!(
            self,
            SrvOp::Info
                | SrvOp::SetLimits(_)
                | SrvOp::ResetStats
                | SrvOp::RewriteAof
                | SrvOp::SetFsync(_)
                | SrvOp::Shutdown
                | SrvOp::Unwatch { .. }
                | SrvOp::WatchCheck { .. }
                | SrvOp::RetryAof
                | SrvOp::MakeRoom
                | SrvOp::SetSamples(_)
                | SrvOp::SetActiveExpire(_)
                | SrvOp::TrackPrefixes { .. }
                | SrvOp::Untrack { .. }
                | SrvOp::AofOn { .. }
                | SrvOp::AofOff
        )
    }

    /// True for the op that asks a failing shard to try its disk again.
    pub fn is_retry(&self) -> bool {
        matches!(self, SrvOp::RetryAof)
    }

    pub(super) fn exec(&self, cx: &mut Cx) -> Reply {
        match *self {
            SrvOp::DbSize => Reply::Int(cx.store.db_len(cx.db) as i64),
            SrvOp::FlushDb => {
                cx.store.flush_db(cx.db);
                cx.log(Record::FlushDb);
                Reply::Ok
            }
            SrvOp::FlushAll => {
                cx.store.flush_all();
                cx.log(Record::FlushAll);
                Reply::Ok
            }
            SrvOp::SwapDb { a, b } => {
                cx.store.swap_db(a as usize, b as usize);
                cx.log(Record::SwapDb { a, b });
                // A rewrite walking the data now would have seen entries
                // on both sides of the swap.
                if let Some(aof) = cx.persist.aof.as_mut() {
                    aof.restart_rewrite();
                }
                Reply::Ok
            }
            SrvOp::Keys { pattern } => keys(cx, pattern),
            SrvOp::Scan {
                cursor,
                count,
                pattern,
                kind,
            } => scan(cx, cursor, count, pattern, kind),
            SrvOp::RandomKey => {
                // The draw first: it removes the expired keys it meets, so
                // the count sent with it never weighs dead keys (a shard
                // holding only expired keys must not be picked).
                let key = cx.store.random_key(cx.db, cx.now_ms).map(<[u8]>::to_vec);
                let n = cx.store.db_len(cx.db);
                let mut w = TapeWriter::new(cx.out);
                w.array(2);
                w.int(n as i64);
                match &key {
                    Some(k) => w.bulk(k),
                    None => w.nil(),
                }
                w.finish()
            }
            SrvOp::RetryAof => Reply::Ok,
            SrvOp::TrackPrefixes {
                tracker,
                ref prefixes,
            } => {
                cx.store.tracking().broadcast(tracker, prefixes);
                Reply::Ok
            }
            SrvOp::Untrack { client } => {
                cx.store.tracking().forget(client);
                Reply::Ok
            }
            SrvOp::MakeRoom => match cx.make_room() {
                Ok(()) => Reply::Ok,
                Err(e) => Reply::Err(e),
            },
            SrvOp::Info => {
                let mut i = info(cx.store);
                i.aof = cx.persist.aof.as_ref().map(|a| a.status());
                i.aof_buffer = cx.persist.log.capacity() as u64;
                Reply::Info(Box::new(i))
            }
            SrvOp::SetLimits(l) => {
                cx.store.set_limits(l);
                Reply::Ok
            }
            SrvOp::SetSamples(n) => {
                cx.store.set_eviction_samples(n as usize);
                Reply::Ok
            }
            SrvOp::SetActiveExpire(on) => {
                cx.store.set_active_expire(on);
                Reply::Ok
            }
            SrvOp::Digest => super::digest::dataset(cx),
            SrvOp::DigestValue { key } => {
                let k = cx.args.get(key).to_vec();
                super::digest::key(cx, &k)
            }
            SrvOp::DebugObject { key, shared_ints } => {
                let k = cx.args.get(key).to_vec();
                super::digest::object(cx, &k, shared_ints)
            }
            SrvOp::AofOn {
                ref enabling,
                shard,
            } => {
                if cx.persist.aof.is_some() {
                    return Reply::Ok;
                }
                match enabling.open(shard as usize) {
                    Ok(aof) => {
                        cx.persist.aof = Some(aof);
                        cx.persist.log = crate::aof::Log::new(true);
                        cx.store.track_evictions(true);
                        cx.store.set_journaling(true);
                        Reply::Ok
                    }
                    Err(why) => Reply::Err(Error::Misconf(why.into())),
                }
            }
            SrvOp::AofOff => {
                let aof = cx.persist.aof.take();
                if let Err(why) = crate::aof::switch::close(aof, &mut cx.persist.log) {
                    eprintln!("shardcache aof: turning the AOF off: {why}");
                }
                cx.store.track_evictions(false);
                cx.store.set_journaling(false);
                Reply::Ok
            }
            SrvOp::ResetStats => {
                cx.store.reset_stats();
                Reply::Ok
            }
            SrvOp::RewriteAof => match cx.persist.aof.as_mut().map(|a| a.request_rewrite()) {
                None => Reply::Err(Error::AofOff),
                Some(true) => Reply::Ok,
                Some(false) => Reply::Err(Error::RewriteRunning),
            },
            SrvOp::SetFsync(f) => {
                if let Some(aof) = cx.persist.aof.as_mut() {
                    aof.set_fsync(f);
                }
                Reply::Ok
            }
            SrvOp::Shutdown => {
                let persist = &mut *cx.persist;
                match persist.aof.as_mut() {
                    None => Reply::Ok,
                    Some(aof) => {
                        // Anything that arrives after this point is synced
                        // before its reply, so a reply never outruns the disk
                        // while the process is on its way out; this group's
                        // records (and this reply) follow with its commit,
                        // synced too.
                        aof.set_fsync(Fsync::Always);
                        match aof.sync_all() {
                            Ok(()) => Reply::Ok,
                            Err(e) => Reply::Err(Error::ShutdownFlush(e.into())),
                        }
                    }
                }
            }
            SrvOp::Unwatch { client } => {
                cx.store.unwatch(client);
                Reply::Ok
            }
            SrvOp::WatchCheck { client } => {
                Reply::Int(cx.store.watch_check(client, cx.now_ms) as i64)
            }
        }
    }
}

/// KEYS pattern: every live key of the database that matches; `*` alone
/// skips the matcher, as Redis's `keysCommand` does (so an empty key is
/// listed by `*` and by nothing else). Expired keys are skipped, not removed.
fn keys(cx: &mut Cx, pattern: Arg) -> Reply {
    let pattern = cx.args.get(pattern);
    let all = pattern == b"*";
    let mut w = TapeWriter::new(cx.out);
    let at = w.array(0);
    let mut n = 0;
    cx.store.for_each_key(cx.db, cx.now_ms, |key| {
        if all || glob::matches(pattern, key, false) {
            w.bulk(key);
            n += 1;
        }
    });
    w.set_len(at, n);
    w.finish()
}

/// One SCAN step over this shard (see `Store::scan`).
fn scan(cx: &mut Cx, cursor: u32, count: usize, pattern: Option<Arg>, kind: Option<Kind>) -> Reply {
    let pattern = pattern.map(|p| cx.args.get(p));
    let mut w = TapeWriter::new(cx.out);
    // The next cursor is known only after the walk: its slot is patched.
    let next_at = w.int(0);
    let keys_at = w.array(0);
    let mut n = 0;
    let next = cx
        .store
        .scan(cx.db, cursor, count.max(1), cx.now_ms, |key, k| {
            if kind.is_some_and(|want| want != k) {
                return;
            }
            if pattern.is_some_and(|p| !glob::matches(p, key, false)) {
                return;
            }
            w.bulk(key);
            n += 1;
        });
    w.set_len(keys_at, n);
    w.set_int(next_at, next.map_or(-1, i64::from));
    w.finish()
}

fn info(store: &crate::keyspace::Store) -> ShardInfo {
    let mut s = ShardInfo::default();
    for db in 0..NUM_DBS {
        s.keys[db] = store.db_len(db) as u64;
        s.expires[db] = store.db_expires(db) as u64;
        s.avg_ttl[db] = store.db_avg_ttl(db);
    }
    let st = store.stats();
    s.used_memory = store.used_memory() as u64;
    s.slack = store.fragmentation() as u64;
    s.maxmemory = store.limits().maxmemory as u64;
    s.hits = st.hits;
    s.misses = st.misses;
    s.expired = st.expired;
    s.evicted = st.evicted;
    s.tracking = store.tracking_totals();
    s
}
