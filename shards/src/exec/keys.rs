//! Keyspace ops that move, copy or guard whole keys: WATCH bookkeeping,
//! RENAME/COPY within a shard, DUMP for a cross-shard move, MSETNX, SWAPDB.
//!
//! A value that must outlive a store mutation is copied into `batch.out`
//! first (the batch's reusable scratch), so none of them allocates.

use super::{bulk, Persist};
use crate::aof::Log;
use crate::batch::{errors, rename_flags, Batch, Op, Reply};
use crate::store::{Expiry, Store};

fn expiry_of(at: u64) -> Expiry {
    if at == 0 {
        Expiry::Clear
    } else {
        Expiry::At(at)
    }
}

/// WATCH key for client `op.num`.
pub fn watch(store: &mut Store, batch: &Batch, op: &Op, now_ms: u64) -> Reply {
    store.watch(op.db as usize, batch.arg(op, 0), op.num, now_ms);
    Reply::Ok
}

/// DUMP-like read for a cross-shard RENAME/COPY: value and absolute expiry,
/// without statistics or LRU change.
pub fn dump(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64) -> Reply {
    let ks = op.arg as usize;
    let key = batch.args.get(ks);
    let Some(at) = store.expire_at(op.db as usize, key, now_ms) else {
        return Reply::Nil;
    };
    let Some(v) = store.peek(op.db as usize, key, now_ms) else {
        return Reply::Nil;
    };
    match bulk(&mut batch.out, v) {
        Reply::Bulk { start, len } => Reply::Entry {
            start,
            len,
            expire_at: at,
        },
        other => other,
    }
}

/// Copies `key`'s value and expiry into `batch.out[from..]`.
fn take_copy(
    store: &mut Store,
    batch: &mut Batch,
    db: usize,
    key_at: usize,
    now_ms: u64,
) -> Option<(usize, u64)> {
    let ks = key_at;
    let key = batch.args.get(ks);
    let at = store.expire_at(db, key, now_ms)?;
    let v = store.read(db, key, now_ms, false)?;
    let from = batch.out.len();
    batch.out.extend_from_slice(v);
    Some((from, at))
}

/// RENAME / RENAMENX when both keys live on this shard.
pub fn rename(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64, log: &mut Log) -> Reply {
    let db = op.db as usize;
    let nx = op.flags & rename_flags::NX != 0;
    let Some((from, at)) = take_copy(store, batch, db, op.arg as usize, now_ms) else {
        return Reply::Err(errors::NO_SUCH_KEY);
    };
    let src = batch.arg(op, 0);
    let dst = batch.arg(op, 1);
    let reply = if src == dst {
        if nx {
            Reply::Int(0)
        } else {
            Reply::Ok
        }
    } else if nx && store.expire_at(db, dst, now_ms).is_some() {
        Reply::Int(0)
    } else {
        // Delete first: the key count never rises, so a `max-keys` limit
        // cannot refuse the second half of the move.
        store.del(db, src, now_ms);
        let value = &batch.out[from..];
        let _ = store.set(db, dst, value, expiry_of(at), now_ms);
        log.del(op.db, src);
        log.set(op.db, dst, value, at);
        if nx {
            Reply::Int(1)
        } else {
            Reply::Ok
        }
    };
    batch.out.truncate(from);
    reply
}

/// COPY src dst [DB n] [REPLACE] when both keys live on this shard.
pub fn copy(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64, log: &mut Log) -> Reply {
    let db = op.db as usize;
    let dst_db = op.aux as usize;
    let Some((from, at)) = take_copy(store, batch, db, op.arg as usize, now_ms) else {
        return Reply::Int(0);
    };
    let dst = batch.arg(op, 1);
    let reply = if op.flags & rename_flags::REPLACE == 0
        && store.expire_at(dst_db, dst, now_ms).is_some()
    {
        Reply::Int(0)
    } else if store.make_room().is_err() {
        Reply::Err(errors::OOM)
    } else {
        let value = &batch.out[from..];
        match store.set(dst_db, dst, value, expiry_of(at), now_ms) {
            Ok(()) => {
                log.set(dst_db as u8, dst, value, at);
                Reply::Int(1)
            }
            Err(_) => Reply::Err(errors::OOM),
        }
    };
    batch.out.truncate(from);
    reply
}

/// MSETNX over the pairs of this shard (see `OpCode::MSetNx`).
pub fn msetnx(store: &mut Store, batch: &Batch, op: &Op, now_ms: u64, log: &mut Log) -> Reply {
    let db = op.db as usize;
    let pairs = op.nargs / 2;
    let any_exists =
        (0..pairs).any(|i| store.expire_at(db, batch.arg(op, 2 * i), now_ms).is_some());
    if op.flags & rename_flags::CHECK != 0 {
        return Reply::Int(any_exists as i64);
    }
    if any_exists {
        return Reply::Int(0);
    }
    if store.make_room().is_err() {
        return Reply::Err(errors::OOM);
    }
    for i in 0..pairs {
        let (k, v) = (batch.arg(op, 2 * i), batch.arg(op, 2 * i + 1));
        if store.set(db, k, v, Expiry::Clear, now_ms).is_err() {
            return Reply::Err(errors::OOM);
        }
        log.set(op.db, k, v, 0);
    }
    Reply::Int(1)
}

/// SWAPDB `op.num` `op.aux`.
pub fn swap_db(store: &mut Store, op: &Op, persist: &mut Persist) -> Reply {
    let (a, b) = (op.num as usize, op.aux as usize);
    store.swap_db(a, b);
    persist.log.swap_db(a as u8, b as u8);
    if let Some(aof) = persist.aof.as_mut() {
        aof.restart_rewrite();
    }
    Reply::Ok
}
