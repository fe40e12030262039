//! String ops (Redis's `t_string.c` and `bitops.c`).
//!
//! A read-modify-write builds the new value in the batch's payload buffer
//! (reused, so no allocation per request), stores it with the key's TTL
//! kept, and logs it as an absolute `SET key value [PXAT ms]`. SETBIT
//! flips a bit of the stored value in place.
//!
//! Bits are numbered from the most significant bit of the first byte: bit 0
//! is `0x80` of byte 0, bit 8 is `0x80` of byte 1.

use super::{bulk, parse_i64, Cx};
use crate::aof::Record;
use crate::batch::{Arg, Reply};
use crate::error::Error;
use crate::keyspace::{Expiry, Lookup, StrEncoding};
use crate::ld;
use crate::value::Kind;

/// Redis's string limit (`proto-max-bulk-len`'s default).
pub const MAX_STRING: u64 = 512 * 1024 * 1024;

/// SET's NX / XX.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCond {
    /// Always.
    Always,
    /// Only when the key does not exist.
    Nx,
    /// Only when it does.
    Xx,
}

/// How a SET answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetReply {
    /// `+OK`, or nil when the condition failed.
    Ok,
    /// The old value (GET), or nil.
    Old,
    /// 1 when set, 0 when not (SETNX).
    Int,
}

/// GETEX's change of the TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetExTtl {
    /// None.
    Keep,
    /// PERSIST.
    Persist,
    /// EX/PX/EXAT/PXAT: the absolute deadline in ms, and whether it was
    /// given as an absolute time (a past one then deletes the key).
    At(u64, bool),
}

/// A string op.
#[derive(Clone, Debug)]
pub enum StrOp {
    /// GET key → bulk or nil.
    Get {
        /// The key.
        key: Arg,
    },
    /// SET key value with its options.
    Set {
        /// The key.
        key: Arg,
        /// The value.
        value: Arg,
        /// NX / XX.
        cond: SetCond,
        /// What the TTL becomes.
        expiry: Expiry,
        /// How to answer.
        reply: SetReply,
    },
    /// INCRBY family → the new value.
    IncrBy {
        /// The key.
        key: Arg,
        /// The increment.
        by: i64,
    },
    /// INCRBYFLOAT key increment → the new value as Redis prints it. The
    /// increment is parsed here, after the stored value, as Redis does.
    IncrByFloat {
        /// The key.
        key: Arg,
        /// The increment as given.
        by: Arg,
    },
    /// APPEND key value → the new length.
    Append {
        /// The key.
        key: Arg,
        /// The bytes to append.
        value: Arg,
    },
    /// STRLEN key → the length, 0 when absent.
    Strlen {
        /// The key.
        key: Arg,
    },
    /// GETRANGE key start end → bulk, empty when absent.
    GetRange {
        /// The key.
        key: Arg,
        /// First index (negative counts from the end).
        start: i64,
        /// Last index.
        end: i64,
    },
    /// SETRANGE key offset value (offset and size checked) → the new length.
    SetRange {
        /// The key.
        key: Arg,
        /// Where to write.
        offset: u64,
        /// The bytes.
        value: Arg,
    },
    /// GETDEL key → the value (then deleted), or nil.
    GetDel {
        /// The key.
        key: Arg,
    },
    /// GETEX key [EX|PX|EXAT|PXAT|PERSIST] → the value, nil.
    GetEx {
        /// The key.
        key: Arg,
        /// The TTL change.
        ttl: GetExTtl,
        /// The time argument's error: Redis answers it only once the key
        /// is found (an absent key is nil whatever the time said).
        bad: Option<Error>,
    },
    /// GETBIT key offset → 0 or 1.
    GetBit {
        /// The key.
        key: Arg,
        /// The bit (checked below 2^32).
        offset: u64,
    },
    /// SETBIT key offset bit → the old bit.
    SetBit {
        /// The key.
        key: Arg,
        /// The bit (checked below 2^32).
        offset: u64,
        /// Set (true) or clear.
        on: bool,
    },
    /// BITCOUNT key [start end [BYTE|BIT]] → the count.
    BitCount {
        /// The key.
        key: Arg,
        /// The range, when given.
        range: Option<(i64, i64)>,
        /// The range counts bits, not bytes.
        bits: bool,
        /// A range error Redis answers only once the key is found.
        bad: Option<Error>,
    },
    /// BITPOS key bit [start [end [BYTE|BIT]]] → the position or -1.
    BitPos {
        /// The key.
        key: Arg,
        /// Look for a 1 (else a 0).
        one: bool,
        /// The start, when given.
        start: Option<i64>,
        /// The end, when given.
        end: Option<i64>,
        /// The range counts bits, not bytes.
        bits: bool,
        /// A range error Redis answers only once the key is found.
        bad: Option<Error>,
    },
    /// MSETNX key value [...] for the keys on this shard → 1 when none
    /// existed and all were set, else 0.
    MSetNx {
        /// Keys and values, alternating.
        pairs: crate::batch::ArgList,
    },
}

impl StrOp {
    pub(super) fn is_write(&self) -> bool {
        !matches!(
            self,
            StrOp::Get { .. }
                | StrOp::Strlen { .. }
                | StrOp::GetRange { .. }
                | StrOp::GetBit { .. }
                | StrOp::BitCount { .. }
                | StrOp::BitPos { .. }
        )
    }

    pub(super) fn exec(&self, cx: &mut Cx) -> Reply {
        let r = match *self {
            StrOp::Get { key } => get(cx, key),
            StrOp::Set {
                key,
                value,
                cond,
                expiry,
                reply,
            } => set(cx, key, value, cond, expiry, reply),
            StrOp::IncrBy { key, by } => incr_by(cx, key, by),
            StrOp::IncrByFloat { key, by } => incr_by_float(cx, key, by),
            StrOp::Append { key, value } => append(cx, key, value),
            StrOp::Strlen { key } => strlen(cx, key),
            StrOp::GetRange { key, start, end } => get_range(cx, key, start, end),
            StrOp::SetRange { key, offset, value } => set_range(cx, key, offset, value),
            StrOp::GetDel { key } => get_del(cx, key),
            StrOp::GetEx { key, ttl, ref bad } => get_ex(cx, key, ttl, bad),
            StrOp::GetBit { key, offset } => get_bit(cx, key, offset),
            StrOp::SetBit { key, offset, on } => set_bit(cx, key, offset, on),
            StrOp::BitCount {
                key,
                range,
                bits,
                ref bad,
            } => bit_count(cx, key, range, bits, bad),
            StrOp::BitPos {
                key,
                one,
                start,
                end,
                bits,
                ref bad,
            } => bit_pos(cx, key, one, start, end, bits, bad),
            StrOp::MSetNx { pairs } => msetnx(cx, pairs),
        };
        r.unwrap_or_else(Reply::Err)
    }
}

type R = Result<Reply, Error>;

/// Looks a string key up: None when absent, WRONGTYPE for another type.
/// Takes the store alone, so the value can be copied into `cx.out`.
pub(super) fn str_of<'s>(
    store: &'s mut crate::keyspace::Store,
    db: usize,
    key: &[u8],
    now_ms: u64,
    how: Lookup,
) -> Result<Option<(&'s [u8], u64)>, Error> {
    match store
        .lookup_kind(db, key, now_ms, how, Kind::String)
        .map_err(|_| Error::WrongType)?
    {
        None => Ok(None),
        Some(pos) => {
            let at = store.expire_of(pos);
            Ok(store.value_at(pos).as_str().map(|v| (v, at)))
        }
    }
}

/// `str_of` for the op's key.
macro_rules! lookup_str {
    ($cx:expr, $key:expr, $how:expr) => {
        str_of($cx.store, $cx.db, $cx.args.get($key), $cx.now_ms, $how)
    };
}

fn get(cx: &mut Cx, key: Arg) -> R {
    Ok(match lookup_str!(cx, key, Lookup::READ)? {
        Some((v, _)) => bulk(cx.out, v),
        None => Reply::Nil,
    })
}

fn set(cx: &mut Cx, key: Arg, value: Arg, cond: SetCond, expiry: Expiry, reply: SetReply) -> R {
    cx.make_room()?;
    let db = cx.db;
    let old = if cond != SetCond::Always || reply == SetReply::Old {
        // SET ... GET reads like GET (hits, misses); NX/XX look the key up
        // for writing. Both refresh its LRU position, as in Redis. GET of a
        // key of another type answers WRONGTYPE and sets nothing.
        let how = if reply == SetReply::Old {
            Lookup::READ
        } else {
            Lookup::WRITE
        };
        let k = cx.args.get(key);
        match cx.store.lookup(db, k, cx.now_ms, how) {
            None => None,
            Some(pos) => match cx.store.value_at(pos).as_str() {
                Some(v) => Some(bulk(cx.out, v)),
                None if reply == SetReply::Old => return Err(Error::WrongType),
                // NX/XX only ask whether the key exists, whatever its type.
                None => Some(Reply::Nil),
            },
        }
    } else {
        None
    };
    let exists = old.is_some();
    let answer = |ok: bool, old: Option<Reply>| match reply {
        SetReply::Int => Reply::Int(ok as i64),
        SetReply::Old => old.unwrap_or(Reply::Nil),
        SetReply::Ok if ok => Reply::Ok,
        SetReply::Ok => Reply::Nil,
    };
    if (cond == SetCond::Nx && exists) || (cond == SetCond::Xx && !exists) {
        return Ok(answer(false, old));
    }
    let (k, v) = (cx.args.get(key), cx.args.get(value));
    cx.store
        .set(db, k, v, expiry, cx.now_ms)
        .map_err(|_| Error::Oom)?;
    let at = match expiry {
        Expiry::At(t) => t,
        Expiry::Clear => 0,
        Expiry::Keep => cx.store.expire_at(db, k, cx.now_ms).unwrap_or(0),
    };
    cx.persist.log.put(
        db as u8,
        &Record::Set {
            key: k,
            value: v,
            pxat: at,
        },
    );
    Ok(answer(true, old))
}

/// Stores `cx.out[from..]` as the key's new value (TTL kept, written the
/// way `enc` says), logs it, and drops the scratch bytes again.
fn store_scratch(cx: &mut Cx, key: Arg, from: usize, expire_at: u64, enc: StrEncoding) -> R {
    let k = cx.args.get(key);
    let value = &cx.out[from..];
    let r = cx
        .store
        .set_encoded(cx.db, k, value, Expiry::Keep, cx.now_ms, enc);
    if r.is_ok() {
        cx.persist.log.put(
            cx.db as u8,
            &Record::Set {
                key: k,
                value,
                pxat: expire_at,
            },
        );
    }
    cx.out.truncate(from);
    r.map(|()| Reply::Ok).map_err(|_| Error::Oom)
}

/// INCRBY / DECRBY / INCR / DECR (`lookupKeyWrite`: no hit/miss count).
fn incr_by(cx: &mut Cx, key: Arg, by: i64) -> R {
    cx.make_room()?;
    let (old, expire_at) = match lookup_str!(cx, key, Lookup::WRITE)? {
        None => (0, 0),
        Some((v, at)) => (parse_i64(v).ok_or(Error::NotInteger)?, at),
    };
    let new = old.checked_add(by).ok_or(Error::Overflow)?;
    let from = cx.out.len();
    cx.out
        .extend_from_slice(itoa::Buffer::new().format(new).as_bytes());
    store_scratch(cx, key, from, expire_at, StrEncoding::Auto)?;
    Ok(Reply::Int(new))
}

/// INCRBYFLOAT key increment: Redis's `long double` parse, sum and
/// `%.17Lf` print (see `crate::ld`); the stored value's operand is parsed
/// first, then the increment, as in Redis (both fail with the same error).
fn incr_by_float(cx: &mut Cx, key: Arg, by: Arg) -> R {
    cx.make_room()?;
    let (old, expire_at) = match lookup_str!(cx, key, Lookup::WRITE)? {
        None => (ld::parse(b"0"), 0),
        Some((v, at)) => (ld::parse(v), at),
    };
    let (Some(old), Some(incr)) = (old, ld::parse(cx.args.get(by))) else {
        return Err(Error::NotFloat);
    };
    let sum = ld::add(old, incr);
    if sum.is_special() {
        return Err(Error::NanOrInf);
    }
    let mut text = [0u8; ld::MAX_CHARS];
    let n = ld::format_human(sum, &mut text);
    let from = cx.out.len();
    cx.out.extend_from_slice(&text[..n]);
    // Redis builds the result with `createStringObjectFromLongDouble`: never `int`.
    store_scratch(cx, key, from, expire_at, StrEncoding::Str)?;
    Ok(bulk(cx.out, &text[..n]))
}

/// APPEND key value.
fn append(cx: &mut Cx, key: Arg, value: Arg) -> R {
    cx.make_room()?;
    let from = cx.out.len();
    let add = cx.args.get(value);
    // A new key takes the argument as it is; an existing one is unshared
    // into a raw string and appended to.
    let (expire_at, enc) = match lookup_str!(cx, key, Lookup::WRITE)? {
        None => (0, StrEncoding::Auto),
        Some((old, at)) => {
            if old.len() as u64 + add.len() as u64 > MAX_STRING {
                return Err(Error::StringTooBig);
            }
            cx.out.extend_from_slice(old);
            (at, StrEncoding::Raw)
        }
    };
    cx.out.extend_from_slice(add);
    let len = cx.out.len() - from;
    store_scratch(cx, key, from, expire_at, enc)?;
    Ok(Reply::Int(len as i64))
}

/// SETRANGE key offset value; the worker checked the offset and the final size.
fn set_range(cx: &mut Cx, key: Arg, offset: u64, value: Arg) -> R {
    cx.make_room()?;
    let v = cx.args.get(value);
    let from = cx.out.len();
    let expire_at = match lookup_str!(cx, key, Lookup::WRITE)? {
        None if v.is_empty() => return Ok(Reply::Int(0)),
        None => 0,
        Some((old, _)) if v.is_empty() => return Ok(Reply::Int(old.len() as i64)),
        Some((old, at)) => {
            cx.out.extend_from_slice(old);
            at
        }
    };
    let offset = offset as usize;
    let end = from + offset + v.len();
    if cx.out.len() < end {
        cx.out.resize(end, 0);
    }
    cx.out[from + offset..end].copy_from_slice(v);
    let len = cx.out.len() - from;
    store_scratch(cx, key, from, expire_at, StrEncoding::Raw)?;
    Ok(Reply::Int(len as i64))
}

/// STRLEN key (a read look-up).
fn strlen(cx: &mut Cx, key: Arg) -> R {
    Ok(Reply::Int(
        lookup_str!(cx, key, Lookup::READ)?.map_or(0, |(v, _)| v.len()) as i64,
    ))
}

/// GETRANGE key start end, with Redis 7.0's index rules.
fn get_range(cx: &mut Cx, key: Arg, start: i64, end: i64) -> R {
    let Some((v, _)) = lookup_str!(cx, key, Lookup::READ)? else {
        return Ok(bulk(cx.out, b""));
    };
    let (mut start, mut end) = (start, end);
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Ok(bulk(cx.out, b""));
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
    Ok(if start > end || len == 0 {
        bulk(cx.out, b"")
    } else {
        bulk(cx.out, &v[start as usize..=end as usize])
    })
}

/// GETDEL key: a read look-up, then a delete logged as `DEL`.
fn get_del(cx: &mut Cx, key: Arg) -> R {
    let reply = match lookup_str!(cx, key, Lookup::READ)? {
        None => return Ok(Reply::Nil),
        Some((v, _)) => bulk(cx.out, v),
    };
    let k = cx.args.get(key);
    cx.store.del(cx.db, k, cx.now_ms);
    cx.persist.log.put(cx.db as u8, &Record::Del { key: k });
    Ok(reply)
}

/// GETEX key [EX|PX|EXAT|PXAT|PERSIST], after Redis 7.0's `getexCommand`: a
/// read look-up first (an absent key answers nil whatever the time said),
/// then the time's deferred error, then the value, then the TTL change,
/// logged as `PEXPIREAT`, `DEL` (a past EXAT/PXAT deadline) or, for PERSIST,
/// the resulting `SET key value`.
fn get_ex(cx: &mut Cx, key: Arg, ttl: GetExTtl, bad: &Option<Error>) -> R {
    let Some((value, at)) = lookup_str!(cx, key, Lookup::READ)? else {
        return Ok(Reply::Nil);
    };
    if let Some(e) = bad {
        return Err(e.clone());
    }
    let reply = bulk(cx.out, value);
    let (db, k) = (cx.db, cx.args.get(key));
    match ttl {
        GetExTtl::At(when, absolute) => {
            if absolute && when <= cx.now_ms {
                cx.store.del(db, k, cx.now_ms);
                cx.persist.log.put(db as u8, &Record::Del { key: k });
            } else {
                cx.store.expire(db, k, when, cx.now_ms);
                cx.persist
                    .log
                    .put(db as u8, &Record::PExpireAt { key: k, at: when });
            }
        }
        GetExTtl::Persist if at != 0 => {
            cx.store.expire(db, k, 0, cx.now_ms);
            if let Reply::Bulk(s) = reply {
                cx.persist.log.put(
                    db as u8,
                    &Record::Set {
                        key: k,
                        value: s.of(cx.out),
                        pxat: 0,
                    },
                );
            }
        }
        _ => {}
    }
    Ok(reply)
}

/// MSETNX's part on one shard (the worker checked the other shards first
/// when the keys span several): sets every pair unless any key exists.
fn msetnx(cx: &mut Cx, pairs: crate::batch::ArgList) -> R {
    let n = pairs.len as usize / 2;
    let any = (0..n).any(|i| {
        let k = cx.args.item(pairs, 2 * i);
        cx.store
            .lookup(cx.db, k, cx.now_ms, Lookup::WRITE)
            .is_some()
    });
    if any {
        return Ok(Reply::Int(0));
    }
    cx.make_room()?;
    for i in 0..n {
        let (k, v) = (cx.args.item(pairs, 2 * i), cx.args.item(pairs, 2 * i + 1));
        cx.store
            .set(cx.db, k, v, Expiry::Clear, cx.now_ms)
            .map_err(|_| Error::Oom)?;
        cx.persist.log.put(
            cx.db as u8,
            &Record::Set {
                key: k,
                value: v,
                pxat: 0,
            },
        );
    }
    Ok(Reply::Int(1))
}

// ------------------------------------------------------------------ bits

/// GETBIT key offset (a read look-up: an absent key reads as zeros).
fn get_bit(cx: &mut Cx, key: Arg, offset: u64) -> R {
    Ok(Reply::Int(match lookup_str!(cx, key, Lookup::READ)? {
        Some((v, _)) => bit_at(v, offset) as i64,
        None => 0,
    }))
}

/// SETBIT key offset bit; the worker checked the offset (< 2^32, so the
/// value stays within 512 MB).
fn set_bit(cx: &mut Cx, key: Arg, offset: u64, on: bool) -> R {
    cx.make_room()?;
    // The type is checked first: an in-place update would otherwise
    // create a string over another type's key.
    lookup_str!(cx, key, Lookup::PEEK)?;
    let k = cx.args.get(key);
    let byte = (offset >> 3) as usize;
    let mask = 0x80u8 >> (offset & 7);
    let (value, expire_at, grown) = cx
        .store
        .value_for_update(cx.db, k, byte + 1, cx.now_ms)
        .map_err(|_| Error::Oom)?;
    let old = value[byte] & mask != 0;
    // As Redis: a new or grown value, or a flipped bit, is a change.
    if grown || old != on {
        if on {
            value[byte] |= mask;
        } else {
            value[byte] &= !mask;
        }
        cx.persist.log.put(
            cx.db as u8,
            &Record::Set {
                key: k,
                value,
                pxat: expire_at,
            },
        );
        cx.store.signal_modified(cx.db, k);
    }
    Ok(Reply::Int(old as i64))
}

/// BITCOUNT key [start end [BYTE|BIT]].
fn bit_count(
    cx: &mut Cx,
    key: Arg,
    range: Option<(i64, i64)>,
    bits: bool,
    bad: &Option<Error>,
) -> R {
    let Some((v, _)) = lookup_str!(cx, key, Lookup::READ)? else {
        return Ok(Reply::Int(0));
    };
    if let Some(e) = bad {
        return Err(e.clone());
    }
    let Some((start, end)) = range else {
        return Ok(Reply::Int(popcount(v) as i64));
    };
    if start < 0 && end < 0 && start > end {
        return Ok(Reply::Int(0));
    }
    let len = v.len() as i64 * if bits { 8 } else { 1 };
    let Some((start, end)) = clamp(start, end, len) else {
        return Ok(Reply::Int(0));
    };
    let count = if bits {
        count_bits(v, start as u64, end as u64)
    } else {
        popcount(&v[start as usize..=end as usize])
    };
    Ok(Reply::Int(count as i64))
}

/// BITPOS key bit [start [end [BYTE|BIT]]].
///
/// Redis treats a string as zero-padded on the right when no end is given,
/// so looking for a 0 in a value of all ones answers the first bit past the
/// end (`strlen * 8`); with an explicit end the same search answers -1.
fn bit_pos(
    cx: &mut Cx,
    key: Arg,
    one: bool,
    start: Option<i64>,
    end: Option<i64>,
    bits: bool,
    bad: &Option<Error>,
) -> R {
    let Some((v, _)) = lookup_str!(cx, key, Lookup::READ)? else {
        // An absent key is an endless run of zeros.
        return Ok(Reply::Int(if one { -1 } else { 0 }));
    };
    if let Some(e) = bad {
        return Err(e.clone());
    }
    let len = v.len() as i64 * if bits { 8 } else { 1 };
    let (s, e) = (start.unwrap_or(0), end.unwrap_or(len - 1));
    let Some((s, e)) = clamp(s, e, len) else {
        return Ok(Reply::Int(-1));
    };
    // The search runs over bits whatever the unit.
    let (first, last) = if bits {
        (s as u64, e as u64)
    } else {
        (s as u64 * 8, e as u64 * 8 + 7)
    };
    Ok(Reply::Int(match find_bit(v, first, last, one) {
        Some(pos) => pos as i64,
        None if one || end.is_some() => -1,
        None => last as i64 + 1,
    }))
}

/// Redis's index rules for a range over `len` units: negative indexes count
/// from the end, both ends are clamped into the value; None when empty.
fn clamp(mut start: i64, mut end: i64, len: i64) -> Option<(i64, i64)> {
    // `len` is at most 2^32, so adding a negative i64 cannot overflow.
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    (start <= end).then_some((start, end))
}

/// The bit at `offset` (0 past the end).
pub fn bit_at(v: &[u8], offset: u64) -> bool {
    let byte = offset >> 3;
    byte < v.len() as u64 && v[byte as usize] & (0x80 >> (offset & 7)) != 0
}

/// Set bits in `v`, eight bytes at a time.
pub fn popcount(v: &[u8]) -> u64 {
    let mut chunks = v.chunks_exact(8);
    let mut n: u64 = chunks
        .by_ref()
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default()).count_ones() as u64)
        .sum();
    n += chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>();
    n
}

/// Set bits among bits `first..=last` of `v` (both within it).
pub fn count_bits(v: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let head = 0xffu8 >> (first & 7);
    let tail = 0xffu8 << (7 - (last & 7));
    if fb == lb {
        return (v[fb] & head & tail).count_ones() as u64;
    }
    (v[fb] & head).count_ones() as u64
        + popcount(&v[fb + 1..lb])
        + (v[lb] & tail).count_ones() as u64
}

/// The first bit equal to `one` among bits `first..=last` of `v` (both
/// within it), skipping eight bytes at a time where none can match.
pub fn find_bit(v: &[u8], first: u64, last: u64, one: bool) -> Option<u64> {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    // Looking for a 0 is looking for a 1 in the complement.
    let flip = if one { 0 } else { 0xff };
    let masked = |i: usize| {
        let mut b = v[i] ^ flip;
        if i == fb {
            b &= 0xff >> (first & 7);
        }
        if i == lb {
            b &= 0xff << (7 - (last & 7));
        }
        b
    };
    let at = |i: usize, b: u8| Some(i as u64 * 8 + b.leading_zeros() as u64);
    let b = masked(fb);
    if b != 0 {
        return at(fb, b);
    }
    if fb == lb {
        return None;
    }
    let mut i = fb + 1;
    let skip = if one { 0 } else { u64::MAX };
    while i + 8 <= lb {
        let w = u64::from_be_bytes(v[i..i + 8].try_into().unwrap_or_default());
        if w != skip {
            return Some(i as u64 * 8 + (w ^ skip).leading_zeros() as u64);
        }
        i += 8;
    }
    while i <= lb {
        let b = masked(i);
        if b != 0 {
            return at(i, b);
        }
        i += 1;
    }
    None
}
