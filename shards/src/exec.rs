//! Shard-side execution of ops: each `OpCode` against a `Store`.
//!
//! Command parsing and reply merging stay in the server; here each op is one
//! key (or the whole shard) and one reply.

use crate::aof::{Aof, Fsync, Log};
use crate::batch::{errors, set_flags, Batch, Op, OpCode, Reply, ShardInfo};
use crate::store::{EvictionPolicy, Expiry, Limits, Store};
use crate::NUM_DBS;

mod bits;
mod expire;
mod keys;
mod keyspace;
mod object;
pub mod string;

/// A shard's persistence: the records of what it executed, and its segment.
#[derive(Default)]
pub struct Persist {
    /// Records waiting to be written.
    pub log: Log,
    /// The open segment, when the AOF is on.
    pub aof: Option<Aof>,
}

impl Persist {
    /// No persistence: nothing is recorded.
    pub fn off() -> Self {
        Persist::default()
    }

    /// Persistence to `aof`.
    pub fn on(aof: Aof) -> Self {
        Persist {
            log: Log::new(true),
            aof: Some(aof),
        }
    }
}

/// Executes every op of `batch` against `store`, filling `batch.replies` and
/// recording every change in `persist.log` (written later, once per group).
///
/// Only ops without a reply yet run: a worker may send the same batch again
/// within one round with more ops appended (an atomic section that needs a
/// reply before it can build its next step), and earlier replies stay.
pub fn execute(store: &mut Store, batch: &mut Batch, now_ms: u64, persist: &mut Persist) {
    batch.ran_from = batch.replies.len();
    batch.dirty_from = usize::MAX;
    for i in batch.ran_from..batch.ops.len() {
        let op = batch.ops[i];
        if batch.dirty_from == usize::MAX && persist.log.has_pending() {
            batch.dirty_from = i;
        }
        let reply = match &persist.log.refuse_writes {
            Some(why) if op.code.is_write() => {
                Reply::ErrText(format!("{}{why}", errors::MISCONF_AOF).into())
            }
            _ => execute_op(store, batch, &op, now_ms, persist),
        };
        store.drain_evicted(|db, key| persist.log.del(db, key));
        batch.replies.push(reply);
    }
}

fn bulk(out: &mut Vec<u8>, v: &[u8]) -> Reply {
    let start = out.len();
    out.extend_from_slice(v);
    Reply::Bulk {
        start,
        len: v.len(),
    }
}

fn execute_op(
    store: &mut Store,
    batch: &mut Batch,
    op: &Op,
    now_ms: u64,
    persist: &mut Persist,
) -> Reply {
    let db = op.db as usize;
    let log = &mut persist.log;
    match op.code {
        OpCode::Get => {
            let start = op.arg as usize;
            let key = batch.args.get(start);
            match store.get(db, key, now_ms) {
                Some(v) => bulk(&mut batch.out, v),
                None => Reply::Nil,
            }
        }
        OpCode::Set => exec_set(store, batch, op, now_ms, log),
        OpCode::Del => {
            let key = batch.arg(op, 0);
            let existed = store.del(db, key, now_ms);
            if existed {
                log.del(op.db, key);
            }
            Reply::Int(existed as i64)
        }
        OpCode::Exists => {
            let start = op.arg as usize;
            Reply::Int(store.exists(db, batch.args.get(start), now_ms) as i64)
        }
        OpCode::DbSize => Reply::Int(store.db_len(db) as i64),
        OpCode::FlushDb => {
            store.flush_db(db);
            log.flush_db(op.db);
            Reply::Ok
        }
        OpCode::FlushAll => {
            store.flush_all();
            log.flush_all();
            Reply::Ok
        }
        OpCode::Info => {
            let mut i = info(store);
            i.aof = persist.aof.as_ref().map(|a| a.status());
            i.aof_buffer = persist.log.capacity() as u64;
            Reply::Info(Box::new(i))
        }
        OpCode::RewriteAof => match persist.aof.as_mut().map(|a| a.request_rewrite()) {
            None => Reply::Err(errors::AOF_OFF),
            Some(true) => Reply::Ok,
            Some(false) => Reply::Err(errors::REWRITE_RUNNING),
        },
        OpCode::SetFsync => {
            if let (Some(aof), Some(f)) = (persist.aof.as_mut(), Fsync::from_code(op.flags)) {
                aof.set_fsync(f);
            }
            Reply::Ok
        }
        OpCode::Shutdown => match persist.aof.as_mut() {
            None => Reply::Ok,
            Some(aof) => {
                // Anything that arrives after this point is synced before
                // its reply, so a reply never outruns the disk while the
                // process is on its way out; this group's records (and this
                // reply) follow with its commit, synced too.
                aof.set_fsync(Fsync::Always);
                match aof.sync_all() {
                    Ok(()) => Reply::Ok,
                    Err(e) => Reply::ErrText(format!("ERR AOF flush failed: {e}").into()),
                }
            }
        },
        OpCode::SetLimits => {
            let policy = EvictionPolicy::ALL
                .get(op.flags as usize)
                .copied()
                .unwrap_or(store.limits().policy);
            store.set_limits(Limits {
                maxmemory: op.num as usize,
                max_keys: op.aux as usize,
                policy,
            });
            Reply::Ok
        }
        OpCode::ResetStats => {
            store.reset_stats();
            Reply::Ok
        }
        OpCode::IncrBy => string::incr_by(store, batch, op, now_ms, log),
        OpCode::IncrByFloat => string::incr_by_float(store, batch, op, now_ms, log),
        OpCode::Append => string::append(store, batch, op, now_ms, log),
        OpCode::SetRange => string::set_range(store, batch, op, now_ms, log),
        OpCode::Strlen => string::strlen(store, batch, op, now_ms),
        OpCode::GetRange => string::get_range(store, batch, op, now_ms),
        OpCode::GetDel => string::get_del(store, batch, op, now_ms, log),
        OpCode::Ttl => expire::ttl(store, batch, op, now_ms),
        OpCode::Expire => expire::expire(store, batch, op, now_ms, log),
        OpCode::Persist => expire::persist(store, batch, op, now_ms, log),
        OpCode::Type => expire::key_type(store, batch, op, now_ms),
        OpCode::Touch => expire::touch(store, batch, op, now_ms),
        OpCode::Watch => keys::watch(store, batch, op, now_ms),
        OpCode::Unwatch => {
            store.unwatch(op.num);
            Reply::Ok
        }
        OpCode::WatchCheck => Reply::Int(store.watch_check(op.num, now_ms) as i64),
        OpCode::Dump => keys::dump(store, batch, op, now_ms),
        OpCode::Rename => keys::rename(store, batch, op, now_ms, log),
        OpCode::Copy => keys::copy(store, batch, op, now_ms, log),
        OpCode::MSetNx => keys::msetnx(store, batch, op, now_ms, log),
        OpCode::SwapDb => keys::swap_db(store, op, persist),
        OpCode::Keys => keyspace::keys(store, batch, op, now_ms),
        OpCode::Scan => keyspace::scan(store, batch, op, now_ms),
        OpCode::RandomKey => keyspace::random_key(store, batch, op, now_ms),
        OpCode::GetEx => string::get_ex(store, batch, op, now_ms, log),
        OpCode::GetBit => bits::get_bit(store, batch, op, now_ms),
        OpCode::SetBit => bits::set_bit(store, batch, op, now_ms, log),
        OpCode::BitCount => bits::bit_count(store, batch, op, now_ms),
        OpCode::BitPos => bits::bit_pos(store, batch, op, now_ms),
        OpCode::Object => object::object(store, batch, op, now_ms),
        OpCode::MemoryUsage => object::memory_usage(store, batch, op),
        OpCode::Move => object::move_key(store, batch, op, now_ms, log),
        OpCode::RetryAof => Reply::Ok,
    }
}

fn exec_set(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64, log: &mut Log) -> Reply {
    let db = op.db as usize;
    let ks = op.arg as usize;
    let vs = op.arg as usize + 1;
    let key = batch.args.get(ks);
    let value = batch.args.get(vs);
    if store.make_room().is_err() {
        return Reply::Err(errors::OOM);
    }
    let f = op.flags;
    let old = if f & (set_flags::NX | set_flags::XX | set_flags::GET) != 0 {
        // SET ... GET reads like GET (hits, misses); NX/XX look the key up
        // for writing. Both refresh its LRU position, as in Redis.
        store
            .read(db, key, now_ms, f & set_flags::GET != 0)
            .map(|v| bulk(&mut batch.out, v))
    } else {
        None
    };
    let exists = old.is_some();
    let reply_old = || old.clone().unwrap_or(Reply::Nil);
    if (f & set_flags::NX != 0 && exists) || (f & set_flags::XX != 0 && !exists) {
        return if f & set_flags::INT_REPLY != 0 {
            Reply::Int(0)
        } else if f & set_flags::GET != 0 {
            reply_old()
        } else {
            Reply::Nil
        };
    }
    let expiry = if op.num != 0 {
        Expiry::At(op.num)
    } else if f & set_flags::KEEPTTL != 0 {
        Expiry::Keep
    } else {
        Expiry::Clear
    };
    match store.set(db, key, value, expiry, now_ms) {
        Ok(()) => {
            if log.enabled {
                let at = match expiry {
                    Expiry::At(t) => t,
                    Expiry::Clear => 0,
                    Expiry::Keep => store.expire_at(db, key, now_ms).unwrap_or(0),
                };
                log.set(op.db, key, value, at);
            }
            if f & set_flags::INT_REPLY != 0 {
                Reply::Int(1)
            } else if f & set_flags::GET != 0 {
                reply_old()
            } else {
                Reply::Ok
            }
        }
        Err(_) => Reply::Err(errors::OOM),
    }
}

fn info(store: &Store) -> ShardInfo {
    let mut s = ShardInfo::default();
    for db in 0..NUM_DBS {
        s.keys[db] = store.db_len(db) as u64;
        s.expires[db] = store.db_expires(db) as u64;
        s.avg_ttl[db] = store.db_avg_ttl(db);
    }
    let st = store.stats();
    s.used_memory = store.used_memory() as u64;
    s.maxmemory = store.limits().maxmemory as u64;
    s.hits = st.hits;
    s.misses = st.misses;
    s.expired = st.expired;
    s.evicted = st.evicted;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(code: OpCode, b: &mut Batch, args: &[&[u8]], flags: u8, num: u64) {
        let first = b.args.len() as u32;
        for a in args {
            b.push_arg(a);
        }
        b.push_op(Op {
            code,
            db: 0,
            flags,
            arg: first,
            nargs: args.len() as u32,
            num,
            aux: 0,
        });
    }

    #[test]
    fn set_options_follow_redis() {
        let mut store = Store::default();
        let mut b = Batch::new(0, 0);
        op(OpCode::Set, &mut b, &[b"k", b"v1"], set_flags::XX, 0);
        op(OpCode::Set, &mut b, &[b"k", b"v1"], set_flags::NX, 0);
        op(OpCode::Set, &mut b, &[b"k", b"v2"], set_flags::NX, 0);
        op(OpCode::Set, &mut b, &[b"k", b"v3"], set_flags::GET, 0);
        op(
            OpCode::Set,
            &mut b,
            &[b"k", b"v4"],
            set_flags::NX | set_flags::GET,
            0,
        );
        op(OpCode::Get, &mut b, &[b"k"], 0, 0);
        execute(&mut store, &mut b, 0, &mut Persist::off());
        let r = &b.replies;
        assert_eq!(r[0], Reply::Nil);
        assert_eq!(r[1], Reply::Ok);
        assert_eq!(r[2], Reply::Nil);
        match r[3] {
            Reply::Bulk { start, len } => assert_eq!(b.bulk(start, len), b"v1"),
            ref other => panic!("{other:?}"),
        }
        match r[4] {
            Reply::Bulk { start, len } => assert_eq!(b.bulk(start, len), b"v3"),
            ref other => panic!("{other:?}"),
        }
        match r[5] {
            Reply::Bulk { start, len } => assert_eq!(b.bulk(start, len), b"v3"),
            ref other => panic!("{other:?}"),
        }
    }

    #[test]
    fn batch_is_reusable() {
        let mut store = Store::default();
        let mut b = Batch::new(0, 0);
        for round in 0..3u8 {
            b.clear();
            op(OpCode::Set, &mut b, &[b"k", &[round]], 0, 0);
            op(OpCode::Get, &mut b, &[b"k"], 0, 0);
            op(OpCode::Del, &mut b, &[b"k"], 0, 0);
            op(OpCode::Exists, &mut b, &[b"k"], 0, 0);
            execute(&mut store, &mut b, 0, &mut Persist::off());
            assert_eq!(b.replies.len(), 4);
            assert_eq!(b.replies[0], Reply::Ok);
            assert_eq!(b.replies[1], Reply::Bulk { start: 0, len: 1 });
            assert_eq!(b.out, [round]);
            assert_eq!(b.replies[2], Reply::Int(1));
            assert_eq!(b.replies[3], Reply::Int(0));
        }
    }

    fn bulk_of(b: &Batch, r: &Reply) -> Vec<u8> {
        match *r {
            Reply::Bulk { start, len } => b.bulk(start, len).to_vec(),
            ref other => panic!("{other:?}"),
        }
    }

    #[test]
    fn read_modify_write_ops_keep_ttl_and_log_absolute_sets() {
        let mut store = Store::default();
        let mut persist = Persist {
            log: Log::new(true),
            aof: None,
        };
        let mut b = Batch::new(0, 0);
        op(OpCode::Set, &mut b, &[b"n", b"41"], 0, 5_000);
        op(OpCode::IncrBy, &mut b, &[b"n"], 0, 1);
        op(OpCode::IncrBy, &mut b, &[b"n"], 0, i64::MAX as u64);
        op(OpCode::Append, &mut b, &[b"n", b"x"], 0, 0);
        op(OpCode::IncrBy, &mut b, &[b"n"], 0, 1);
        op(OpCode::SetRange, &mut b, &[b"r", b"ab"], 0, 2);
        op(OpCode::Strlen, &mut b, &[b"r"], 0, 0);
        op(OpCode::Get, &mut b, &[b"r"], 0, 0);
        op(OpCode::GetDel, &mut b, &[b"r"], 0, 0);
        op(OpCode::GetDel, &mut b, &[b"r"], 0, 0);
        execute(&mut store, &mut b, 1_000, &mut persist);
        let r = &b.replies;
        assert_eq!(r[1], Reply::Int(42));
        assert_eq!(r[2], Reply::Err(errors::OVERFLOW));
        assert_eq!(r[3], Reply::Int(3));
        assert_eq!(r[4], Reply::Err(errors::NOT_INTEGER));
        assert_eq!(r[5], Reply::Int(4));
        assert_eq!(r[6], Reply::Int(4));
        assert_eq!(bulk_of(&b, &r[7]), b"\0\0ab");
        assert_eq!(bulk_of(&b, &r[8]), b"\0\0ab");
        assert_eq!(r[9], Reply::Nil);
        assert_eq!(store.expire_at(0, b"n", 1_000), Some(5_000));
        assert_eq!(store.peek(0, b"n", 1_000), Some(&b"42x"[..]));
        let text = String::from_utf8(persist.log.pending_bytes().to_vec()).unwrap();
        assert!(text.contains("$3\r\nSET\r\n$1\r\nn\r\n$2\r\n42\r\n$4\r\nPXAT\r\n$4\r\n5000\r\n"));
        assert!(text.contains("$3\r\n42x\r\n$4\r\nPXAT"));
        assert!(text.contains("$3\r\nDEL\r\n$1\r\nr\r\n"));
        assert!(!text.contains("INCR") && !text.contains("APPEND"));
    }

    #[test]
    fn incr_by_float_keeps_ttl_and_logs_the_printed_value() {
        let mut store = Store::default();
        let mut persist = Persist {
            log: Log::new(true),
            aof: None,
        };
        let mut b = Batch::new(0, 0);
        op(OpCode::Set, &mut b, &[b"f", b"10.5"], 0, 5_000);
        op(OpCode::IncrByFloat, &mut b, &[b"f", b"0.1"], 0, 0);
        op(OpCode::IncrByFloat, &mut b, &[b"f", b"x"], 0, 0);
        op(OpCode::IncrByFloat, &mut b, &[b"f", b"inf"], 0, 0);
        execute(&mut store, &mut b, 1_000, &mut persist);
        assert_eq!(bulk_of(&b, &b.replies[1]), b"10.6");
        assert_eq!(b.replies[2], Reply::Err(errors::NOT_FLOAT));
        assert_eq!(b.replies[3], Reply::Err(errors::NAN_OR_INF));
        assert_eq!(store.expire_at(0, b"f", 1_000), Some(5_000));
        let text = String::from_utf8(persist.log.pending_bytes().to_vec()).unwrap();
        assert!(text.contains("$4\r\n10.6\r\n$4\r\nPXAT\r\n$4\r\n5000\r\n"));
    }

    #[test]
    fn expire_ops_follow_redis_and_log_pexpireat() {
        use crate::batch::{expire_flags as f, ttl_mode};
        let mut store = Store::default();
        let mut persist = Persist {
            log: Log::new(true),
            aof: None,
        };
        let mut b = Batch::new(0, 0);
        op(OpCode::Set, &mut b, &[b"k", b"v"], 0, 0);
        op(OpCode::Ttl, &mut b, &[b"k"], ttl_mode::TTL, 0);
        op(OpCode::Expire, &mut b, &[b"k"], f::XX, 10_000);
        op(OpCode::Expire, &mut b, &[b"k"], f::GT, 10_000);
        op(OpCode::Expire, &mut b, &[b"k"], f::NX, 10_000);
        op(OpCode::Expire, &mut b, &[b"k"], f::LT, 20_000);
        op(OpCode::Expire, &mut b, &[b"k"], f::LT, 5_000);
        op(OpCode::Ttl, &mut b, &[b"k"], ttl_mode::PTTL, 0);
        op(OpCode::Ttl, &mut b, &[b"k"], ttl_mode::TTL, 0);
        op(OpCode::Ttl, &mut b, &[b"k"], ttl_mode::PEXPIRETIME, 0);
        op(OpCode::Persist, &mut b, &[b"k"], 0, 0);
        op(OpCode::Persist, &mut b, &[b"k"], 0, 0);
        op(OpCode::Type, &mut b, &[b"k"], 0, 0);
        op(OpCode::Expire, &mut b, &[b"k"], 0, (-1i64) as u64);
        op(OpCode::Type, &mut b, &[b"k"], 0, 0);
        op(OpCode::Ttl, &mut b, &[b"k"], ttl_mode::TTL, 0);
        op(OpCode::Expire, &mut b, &[b"k"], 0, 10_000);
        execute(&mut store, &mut b, 1_000, &mut persist);
        let r: Vec<Reply> = b.replies.clone();
        let ints = |from: usize, to: usize| -> Vec<Reply> { r[from..to].to_vec() };
        assert_eq!(
            ints(1, 12),
            [-1, 0, 0, 1, 0, 1, 4_000, 4, 5_000, 1, 0].map(Reply::Int)
        );
        assert_eq!(r[12], Reply::Status("string"));
        assert_eq!(r[13], Reply::Int(1));
        assert_eq!(r[14], Reply::Status("none"));
        assert_eq!(r[15], Reply::Int(-2));
        assert_eq!(r[16], Reply::Int(0));
        let text = String::from_utf8(persist.log.pending_bytes().to_vec()).unwrap();
        assert!(text.contains("$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$5\r\n10000\r\n"));
        assert!(text.contains("$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$4\r\n5000\r\n"));
        assert!(text.contains("$3\r\nDEL\r\n$1\r\nk\r\n"));
    }

    #[test]
    fn new_write_ops_are_refused_under_misconf() {
        for code in [
            OpCode::IncrBy,
            OpCode::IncrByFloat,
            OpCode::Append,
            OpCode::SetRange,
            OpCode::GetDel,
            OpCode::Expire,
            OpCode::Persist,
        ] {
            assert!(code.is_write(), "{code:?}");
        }
        for code in [
            OpCode::Strlen,
            OpCode::GetRange,
            OpCode::Ttl,
            OpCode::Type,
            OpCode::Touch,
        ] {
            assert!(!code.is_write(), "{code:?}");
        }
    }
}
