//! String ops that read-modify-write a value: INCRBY, INCRBYFLOAT, APPEND, SETRANGE, and
//! the reads STRLEN, GETRANGE, GETDEL, GETEX.
//!
//! A read-modify-write builds the new value in `batch.out` (a buffer the
//! batch reuses, so no allocation per request), stores it with the key's TTL
//! kept, and logs it as an absolute `SET key value [PXAT ms]`.

use super::bulk;
use crate::aof::Log;
use crate::batch::{errors, getex_flags, Batch, Op, Reply};
use crate::ld;
use crate::store::{Expiry, Store, StrEncoding};

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

/// Stores `batch.out[from..]` as the key's new value (TTL kept, written the
/// way `enc` says), logs it, and drops the scratch bytes again.
#[allow(clippy::too_many_arguments)]
fn store_scratch(
    store: &mut Store,
    batch: &mut Batch,
    op: &Op,
    from: usize,
    expire_at: u64,
    now_ms: u64,
    log: &mut Log,
    enc: StrEncoding,
) -> Result<(), Reply> {
    let key = batch.arg(op, 0);
    let value = &batch.out[from..];
    let r = store.set_encoded(op.db as usize, key, value, Expiry::Keep, now_ms, enc);
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
    match store_scratch(
        store,
        batch,
        op,
        from,
        expire_at,
        now_ms,
        log,
        StrEncoding::Auto,
    ) {
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
    let ks = op.arg as usize;
    let (old, expire_at) = match store.read_entry(op.db as usize, batch.args.get(ks), now_ms, false)
    {
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
    // Redis builds the result with `createStringObjectFromLongDouble`: never `int`.
    match store_scratch(
        store,
        batch,
        op,
        from,
        expire_at,
        now_ms,
        log,
        StrEncoding::Str,
    ) {
        Ok(()) => bulk(&mut batch.out, &text[..n]),
        Err(e) => e,
    }
}

/// APPEND key value.
pub fn append(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64, log: &mut Log) -> Reply {
    if store.make_room().is_err() {
        return Reply::Err(errors::OOM);
    }
    let ks = op.arg as usize;
    let vs = op.arg as usize + 1;
    let vl = batch.args.get(vs).len();
    let from = batch.out.len();
    // A new key takes the argument as it is; an existing one is unshared
    // into a raw string and appended to.
    let (expire_at, enc) = match store.read_entry(op.db as usize, batch.args.get(ks), now_ms, false)
    {
        None => (0, StrEncoding::Auto),
        Some((old, at)) => {
            if old.len() as u64 + vl as u64 > MAX_STRING {
                return Reply::Err(errors::TOO_BIG);
            }
            batch.out.extend_from_slice(old);
            (at, StrEncoding::Raw)
        }
    };
    batch.out.extend_from_slice(batch.args.get(vs));
    let len = batch.out.len() - from;
    match store_scratch(store, batch, op, from, expire_at, now_ms, log, enc) {
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
    let ks = op.arg as usize;
    let vs = op.arg as usize + 1;
    let vl = batch.args.get(vs).len();
    let from = batch.out.len();
    let expire_at = match store.read_entry(op.db as usize, batch.args.get(ks), now_ms, false) {
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
    batch.out[from + offset..end].copy_from_slice(batch.args.get(vs));
    let len = batch.out.len() - from;
    match store_scratch(
        store,
        batch,
        op,
        from,
        expire_at,
        now_ms,
        log,
        StrEncoding::Raw,
    ) {
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
    let ks = op.arg as usize;
    let Some(v) = store.get(op.db as usize, batch.args.get(ks), now_ms) else {
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
    let ks = op.arg as usize;
    let key = batch.args.get(ks);
    let reply = match store.get(op.db as usize, key, now_ms) {
        None => return Reply::Nil,
        Some(v) => bulk(&mut batch.out, v),
    };
    store.del(op.db as usize, key, now_ms);
    log.del(op.db, key);
    reply
}

/// GETEX key [EX|PX|EXAT|PXAT|PERSIST], after Redis 7.0's `getexCommand`: a
/// read look-up first (an absent key answers nil whatever the time said),
/// then the time's deferred error, then the value, then the TTL change,
/// logged as `PEXPIREAT`, `DEL` (a past EXAT/PXAT deadline) or, for PERSIST,
/// the resulting `SET key value`.
pub fn get_ex(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64, log: &mut Log) -> Reply {
    let db = op.db as usize;
    let ks = op.arg as usize;
    let key = batch.args.get(ks);
    let f = op.flags;
    let Some((value, at)) = store.read_entry(db, key, now_ms, true) else {
        return Reply::Nil;
    };
    if f & getex_flags::ERR_NOT_INTEGER != 0 {
        return Reply::Err(errors::NOT_INTEGER);
    }
    if f & getex_flags::ERR_INVALID != 0 {
        return Reply::Err(errors::GETEX_INVALID_EXPIRE);
    }
    let reply = bulk(&mut batch.out, value);
    let when = op.num;
    if f & getex_flags::EXPIRE != 0 {
        if f & getex_flags::ABSOLUTE != 0 && when <= now_ms {
            store.del(db, key, now_ms);
            log.del(op.db, key);
        } else {
            store.expire(db, key, when, now_ms);
            log.pexpireat(op.db, key, when);
        }
    } else if f & getex_flags::PERSIST != 0 && at != 0 {
        store.expire(db, key, 0, now_ms);
        if let Reply::Bulk { start, len } = reply {
            log.set(op.db, key, &batch.out[start..start + len], 0);
        }
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::OpCode;
    use crate::exec::{execute, Persist};

    fn op(b: &mut Batch, key: &[u8], flags: u8, num: u64) {
        let arg = b.push_arg(key);
        b.push_op(Op {
            code: OpCode::GetEx,
            db: 0,
            flags,
            arg,
            nargs: 1,
            num,
            aux: 0,
        });
    }

    #[test]
    fn getex_defers_time_errors_and_logs_absolute_records() {
        use getex_flags as f;
        let mut store = Store::default();
        let mut p = Persist {
            log: Log::new(true),
            aof: None,
        };
        store.set(0, b"k", b"v", Expiry::At(50_000), 0).unwrap();
        store.set(0, b"gone", b"v", Expiry::Clear, 0).unwrap();
        let mut b = Batch::new(0, 0);
        op(&mut b, b"none", f::ERR_NOT_INTEGER, 0);
        op(&mut b, b"none", f::EXPIRE, 5_000);
        op(&mut b, b"k", f::EXPIRE | f::ERR_NOT_INTEGER, 0);
        op(&mut b, b"k", f::EXPIRE | f::ERR_INVALID, 0);
        op(&mut b, b"k", 0, 0);
        op(&mut b, b"k", f::EXPIRE, 7_000);
        op(&mut b, b"k", f::PERSIST, 0);
        op(&mut b, b"k", f::PERSIST, 0);
        op(&mut b, b"gone", f::EXPIRE | f::ABSOLUTE, 1_000);
        op(&mut b, b"gone", 0, 0);
        execute(&mut store, &mut b, 1_000, &mut p);
        let r = &b.replies;
        assert_eq!(r[0], Reply::Nil);
        assert_eq!(r[1], Reply::Nil);
        assert_eq!(r[2], Reply::Err(errors::NOT_INTEGER));
        assert_eq!(r[3], Reply::Err(errors::GETEX_INVALID_EXPIRE));
        for (i, reply) in r.iter().enumerate().take(9).skip(4) {
            assert_eq!(
                *reply,
                Reply::Bulk {
                    start: i - 4,
                    len: 1
                },
                "reply {i}"
            );
        }
        assert_eq!(b.out, b"vvvvv");
        assert_eq!(r[9], Reply::Nil);
        assert_eq!(store.expire_at(0, b"k", 1_000), Some(0));
        let text = String::from_utf8_lossy(p.log.pending_bytes()).into_owned();
        assert_eq!(
            text,
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n\
             *3\r\n$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$4\r\n7000\r\n\
             *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
             *2\r\n$3\r\nDEL\r\n$4\r\ngone\r\n"
        );
        assert_eq!((store.stats().hits, store.stats().misses), (7, 3));
        assert!(OpCode::GetEx.is_write());
    }
}
