//! Shard-side execution of ops: each `OpCode` against a `Store`.
//!
//! Command parsing and reply merging stay in the server; here each op is one
//! key (or the whole shard) and one reply.

use crate::batch::{errors, set_flags, Batch, Op, OpCode, Reply, ShardInfo};
use crate::store::{EvictionPolicy, Expiry, Limits, Store};
use crate::NUM_DBS;

/// Executes every op of `batch` against `store`, filling `batch.replies`.
pub fn execute(store: &mut Store, batch: &mut Batch, now_ms: u64) {
    batch.replies.clear();
    batch.out.clear();
    for i in 0..batch.ops.len() {
        let op = batch.ops[i];
        let reply = execute_op(store, batch, &op, now_ms);
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

fn execute_op(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64) -> Reply {
    let db = op.db as usize;
    match op.code {
        OpCode::Get => {
            let (start, len) = batch.ranges[op.arg as usize];
            let key = &batch.data[start..start + len];
            match store.get(db, key, now_ms) {
                Some(v) => bulk(&mut batch.out, v),
                None => Reply::Nil,
            }
        }
        OpCode::Set => exec_set(store, batch, op, now_ms),
        OpCode::Del => Reply::Int(store.del(db, batch.arg(op, 0), now_ms) as i64),
        OpCode::Exists => {
            let (start, len) = batch.ranges[op.arg as usize];
            Reply::Int(store.exists(db, &batch.data[start..start + len], now_ms) as i64)
        }
        OpCode::DbSize => Reply::Int(store.db_len(db) as i64),
        OpCode::FlushDb => {
            store.flush_db(db);
            Reply::Ok
        }
        OpCode::FlushAll => {
            store.flush_all();
            Reply::Ok
        }
        OpCode::Info => Reply::Info(Box::new(info(store))),
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
    }
}

fn exec_set(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64) -> Reply {
    let db = op.db as usize;
    let (ks, kl) = batch.ranges[op.arg as usize];
    let (vs, vl) = batch.ranges[op.arg as usize + 1];
    let key = &batch.data[ks..ks + kl];
    let value = &batch.data[vs..vs + vl];
    if store.make_room().is_err() {
        return Reply::Err(errors::OOM);
    }
    let f = op.flags;
    let old = if f & (set_flags::NX | set_flags::XX | set_flags::GET) != 0 {
        store.peek(db, key, now_ms).map(|v| bulk(&mut batch.out, v))
    } else {
        None
    };
    let exists = old.is_some();
    let reply_old = || old.clone().unwrap_or(Reply::Nil);
    if (f & set_flags::NX != 0 && exists) || (f & set_flags::XX != 0 && !exists) {
        return if f & set_flags::GET != 0 {
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
        Ok(()) if f & set_flags::GET != 0 => reply_old(),
        Ok(()) => Reply::Ok,
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
        let first = b.ranges.len() as u32;
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
        op(OpCode::Set, &mut b, &[b"k", b"v4"], set_flags::NX | set_flags::GET, 0);
        op(OpCode::Get, &mut b, &[b"k"], 0, 0);
        execute(&mut store, &mut b, 0);
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
            execute(&mut store, &mut b, 0);
            assert_eq!(b.replies.len(), 4);
            assert_eq!(b.replies[0], Reply::Ok);
            assert_eq!(b.replies[1], Reply::Bulk { start: 0, len: 1 });
            assert_eq!(b.out, [round]);
            assert_eq!(b.replies[2], Reply::Int(1));
            assert_eq!(b.replies[3], Reply::Int(0));
        }
    }
}
