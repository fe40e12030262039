//! String ops that read-modify-write a value: INCRBY, INCRBYFLOAT, APPEND, SETRANGE, and
//! the reads STRLEN, GETRANGE, GETDEL.
//!
//! A read-modify-write builds the new value in `batch.out` (a buffer the
//! batch reuses, so no allocation per request), stores it with the key's TTL
//! kept, and logs it as an absolute `SET key value [PXAT ms]`.

use super::bulk;
use crate::aof::Log;
use crate::batch::{errors, Batch, Op, Reply};
use crate::ld;
use crate::store::{Expiry, Store};

/// Redis's string limit (`proto-max-bulk-len`'s default).
pub const MAX_STRING: u64 = 512 * 1024 * 1024;

/// Redis's `string2ll`: an optional `-`, no leading zeros, no spaces, fits in i64.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        (v <= i64::MAX as u64 + 1).then(|| (v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Stores `batch.out[from..]` as the key's new value (TTL kept), logs it,
/// and drops the scratch bytes again.
fn store_scratch(
    store: &mut Store,
    batch: &mut Batch,
    op: &Op,
    from: usize,
    expire_at: u64,
    now_ms: u64,
    log: &mut Log,
) -> Result<(), Reply> {
    let key = batch.arg(op, 0);
    let value = &batch.out[from..];
    let r = store.set(op.db as usize, key, value, Expiry::Keep, now_ms);
    if r.is_ok() {
        log.set(op.db, key, value, expire_at);
    }
    batch.out.truncate(from);
    r.map_err(|_| Reply::Err(errors::OOM))
}

/// INCRBY / DECRBY / INCR / DECR (`lookupKeyWrite`: no hit/miss count).
pub fn incr_by(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64, log: &mut Log) -> Reply {
    if store.make_room().is_err() {
        return Reply::Err(errors::OOM);
    }
    let incr = op.num as i64;
    let (old, expire_at) = match store.read_entry(op.db as usize, batch.arg(op, 0), now_ms, false) {
        None => (0, 0),
        Some((v, at)) => match parse_i64(v) {
            Some(n) => (n, at),
            None => return Reply::Err(errors::NOT_INTEGER),
        },
    };
    let Some(new) = old.checked_add(incr) else {
        return Reply::Err(errors::OVERFLOW);
    };
    let from = batch.out.len();
    batch
        .out
        .extend_from_slice(itoa::Buffer::new().format(new).as_bytes());
    match store_scratch(store, batch, op, from, expire_at, now_ms, log) {
        Ok(()) => Reply::Int(new),
        Err(e) => e,
    }
}

/// INCRBYFLOAT key increment: Redis's `long double` parse, sum and
/// `%.17Lf` print (see `crate::ld`); the stored value's operand is parsed
/// first, then the increment, as in Redis (both fail with the same error).
pub fn incr_by_float(
    store: &mut Store,
    batch: &mut Batch,
    op: &Op,
    now_ms: u64,
    log: &mut Log,
) -> Reply {
    if store.make_room().is_err() {
        return Reply::Err(errors::OOM);
    }
    let (ks, kl) = batch.ranges[op.arg as usize];
    let (old, expire_at) =
        match store.read_entry(op.db as usize, &batch.data[ks..ks + kl], now_ms, false) {
            None => (ld::parse(b"0"), 0),
            Some((v, at)) => (ld::parse(v), at),
        };
    let (Some(old), Some(incr)) = (old, ld::parse(batch.arg(op, 1))) else {
        return Reply::Err(errors::NOT_FLOAT);
    };
    let sum = ld::add(old, incr);
    if sum.is_special() {
        return Reply::Err(errors::NAN_OR_INF);
    }
    let mut text = [0u8; ld::MAX_CHARS];
    let n = ld::format_human(sum, &mut text);
    let from = batch.out.len();
    batch.out.extend_from_slice(&text[..n]);
    match store_scratch(store, batch, op, from, expire_at, now_ms, log) {
        Ok(()) => bulk(&mut batch.out, &text[..n]),
        Err(e) => e,
    }
}

/// APPEND key value.
pub fn append(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64, log: &mut Log) -> Reply {
    if store.make_room().is_err() {
        return Reply::Err(errors::OOM);
    }
    let (ks, kl) = batch.ranges[op.arg as usize];
    let (vs, vl) = batch.ranges[op.arg as usize + 1];
    let from = batch.out.len();
    let expire_at = match store.read_entry(op.db as usize, &batch.data[ks..ks + kl], now_ms, false)
    {
        None => 0,
        Some((old, at)) => {
            if old.len() as u64 + vl as u64 > MAX_STRING {
                return Reply::Err(errors::TOO_BIG);
            }
            batch.out.extend_from_slice(old);
            at
        }
    };
    batch.out.extend_from_slice(&batch.data[vs..vs + vl]);
    let len = batch.out.len() - from;
    match store_scratch(store, batch, op, from, expire_at, now_ms, log) {
        Ok(()) => Reply::Int(len as i64),
        Err(e) => e,
    }
}

/// SETRANGE key value; the worker checked the offset and the final size.
pub fn set_range(
    store: &mut Store,
    batch: &mut Batch,
    op: &Op,
    now_ms: u64,
    log: &mut Log,
) -> Reply {
    if store.make_room().is_err() {
        return Reply::Err(errors::OOM);
    }
    let offset = op.num as usize;
    let (ks, kl) = batch.ranges[op.arg as usize];
    let (vs, vl) = batch.ranges[op.arg as usize + 1];
    let from = batch.out.len();
    let expire_at = match store.read_entry(op.db as usize, &batch.data[ks..ks + kl], now_ms, false)
    {
        None if vl == 0 => return Reply::Int(0),
        None => 0,
        Some((old, _)) if vl == 0 => return Reply::Int(old.len() as i64),
        Some((old, at)) => {
            batch.out.extend_from_slice(old);
            at
        }
    };
    let end = from + offset + vl;
    if batch.out.len() < end {
        batch.out.resize(end, 0);
    }
    batch.out[from + offset..end].copy_from_slice(&batch.data[vs..vs + vl]);
    let len = batch.out.len() - from;
    match store_scratch(store, batch, op, from, expire_at, now_ms, log) {
        Ok(()) => Reply::Int(len as i64),
        Err(e) => e,
    }
}

/// STRLEN key (a read lookup).
pub fn strlen(store: &mut Store, batch: &Batch, op: &Op, now_ms: u64) -> Reply {
    let len = store
        .get(op.db as usize, batch.arg(op, 0), now_ms)
        .map_or(0, |v| v.len());
    Reply::Int(len as i64)
}

/// GETRANGE key start end, with Redis 7.0's index rules.
pub fn get_range(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64) -> Reply {
    let (ks, kl) = batch.ranges[op.arg as usize];
    let Some(v) = store.get(op.db as usize, &batch.data[ks..ks + kl], now_ms) else {
        return bulk(&mut batch.out, b"");
    };
    let (mut start, mut end) = (op.num as i64, op.aux as i64);
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        return bulk(&mut batch.out, b"");
    }
    if start < 0 {
        start = len.saturating_add(start);
    }
    if end < 0 {
        end = len.saturating_add(end);
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        bulk(&mut batch.out, b"")
    } else {
        bulk(&mut batch.out, &v[start as usize..=end as usize])
    }
}

/// GETDEL key: a read lookup, then a delete logged as `DEL`.
pub fn get_del(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64, log: &mut Log) -> Reply {
    let (ks, kl) = batch.ranges[op.arg as usize];
    let key = &batch.data[ks..ks + kl];
    let reply = match store.get(op.db as usize, key, now_ms) {
        None => return Reply::Nil,
        Some(v) => bulk(&mut batch.out, v),
    };
    store.del(op.db as usize, key, now_ms);
    log.del(op.db, key);
    reply
}
