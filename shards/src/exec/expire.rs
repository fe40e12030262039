//! Key-level ops: the TTL and EXPIRE families, PERSIST, TYPE and TOUCH.
//!
//! EXPIRE logs `PEXPIREAT key <abs ms>`, a deadline already past logs `DEL`,
//! PERSIST logs `SET key value` without PXAT: every record stays absolute.

use crate::aof::Log;
use crate::batch::{expire_flags, ttl_mode, Batch, Op, Reply};
use crate::keyspace::Store;

/// TTL / PTTL / EXPIRETIME / PEXPIRETIME (hit/miss counted, LRU untouched).
pub fn ttl(store: &mut Store, batch: &Batch, op: &Op, now_ms: u64) -> Reply {
    let Some(at) = store.expire_at_counted(op.db as usize, batch.arg(op, 0), now_ms) else {
        return Reply::Int(-2);
    };
    if at == 0 {
        return Reply::Int(-1);
    }
    let at = at as i64;
    let v = match op.flags {
        ttl_mode::TTL => ((at - now_ms as i64).max(0) + 500) / 1000,
        ttl_mode::PTTL => (at - now_ms as i64).max(0),
        ttl_mode::EXPIRETIME => (at + 500) / 1000,
        _ => at,
    };
    Reply::Int(v)
}

/// EXPIRE family: `op.num` is the absolute deadline (i64 bits), `op.flags` the options.
pub fn expire(store: &mut Store, batch: &Batch, op: &Op, now_ms: u64, log: &mut Log) -> Reply {
    let (db, key) = (op.db as usize, batch.arg(op, 0));
    let when = op.num as i64;
    // lookupKeyWrite: no hit/miss, LRU refreshed.
    let Some((_, current)) = store.read_entry(db, key, now_ms, false) else {
        return Reply::Int(0);
    };
    let current = if current == 0 { -1 } else { current as i64 };
    let f = op.flags;
    if (f & expire_flags::NX != 0 && current != -1)
        || (f & expire_flags::XX != 0 && current == -1)
        || (f & expire_flags::GT != 0 && (when <= current || current == -1))
        || (f & expire_flags::LT != 0 && current != -1 && when >= current)
    {
        return Reply::Int(0);
    }
    if when <= now_ms as i64 {
        store.del(db, key, now_ms);
        log.del(op.db, key);
    } else {
        store.expire(db, key, when as u64, now_ms);
        log.pexpireat(op.db, key, when as u64);
    }
    Reply::Int(1)
}

/// PERSIST key.
pub fn persist(store: &mut Store, batch: &Batch, op: &Op, now_ms: u64, log: &mut Log) -> Reply {
    let (db, key) = (op.db as usize, batch.arg(op, 0));
    match store.read_entry(db, key, now_ms, false) {
        Some((value, at)) if at != 0 => {
            log.set(op.db, key, value, 0);
            store.expire(db, key, 0, now_ms);
            Reply::Int(1)
        }
        _ => Reply::Int(0),
    }
}

/// TYPE key (hit/miss counted, LRU untouched).
pub fn key_type(store: &mut Store, batch: &Batch, op: &Op, now_ms: u64) -> Reply {
    match store.expire_at_counted(op.db as usize, batch.arg(op, 0), now_ms) {
        Some(_) => Reply::Status("string"),
        None => Reply::Status("none"),
    }
}

/// TOUCH key: a read lookup (hit/miss, LRU).
pub fn touch(store: &mut Store, batch: &Batch, op: &Op, now_ms: u64) -> Reply {
    Reply::Int(
        store
            .get(op.db as usize, batch.arg(op, 0), now_ms)
            .is_some() as i64,
    )
}
