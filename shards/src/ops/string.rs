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
use crate::notify::{GENERIC, STRING};
use crate::tape::TapeWriter;
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
    /// One key of MGET → bulk or nil: as GET, but a key of another type
    /// reads as nil (Redis's `mgetCommand` replies null for it).
    MGetOne {
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
    /// BITOP op dest src [src ...] with every key on this shard → the
    /// length of the result (the destination is deleted when it is empty).
    BitOp {
        /// AND, OR, XOR or NOT (NOT with exactly one source).
        op: BitOpKind,
        /// The destination.
        dest: Arg,
        /// The sources, in argument order.
        keys: crate::batch::ArgList,
    },
    /// The last step of a BITOP whose keys span shards: the worker read the
    /// sources and computed `value`; stores it in `dest` (deletes `dest`
    /// when empty) → its length.
    BitOpStore {
        /// The destination.
        dest: Arg,
        /// The result.
        value: Arg,
    },
    /// BITFIELD / BITFIELD_RO key → an array with one entry per GET, SET or
    /// INCRBY (nil for an overflow under FAIL).
    BitField {
        /// The key.
        key: Arg,
        /// The subcommands, checked and packed by `pack_bitfield`.
        ops: Arg,
        /// Some subcommand writes: the key is looked up for writing and
        /// grown; otherwise it is read (an absent key reads as zeros).
        write: bool,
    },
}

/// BITOP's operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitOpKind {
    /// AND: bytes past the end of a shorter source are zeros.
    And,
    /// OR.
    Or,
    /// XOR.
    Xor,
    /// NOT of the one source.
    Not,
}

/// BITFIELD's overflow policy for the SET and INCRBY that follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Wrap around (the default).
    Wrap,
    /// Saturate at the type's minimum or maximum.
    Sat,
    /// Leave the field alone and answer nil.
    Fail,
}

/// What one BITFIELD subcommand does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldAction {
    /// GET → the field.
    Get,
    /// SET value → the old field.
    Set(i64),
    /// INCRBY increment → the new field.
    IncrBy(i64),
}

/// One BITFIELD subcommand, checked by the server: `bits` is 1..=64 signed
/// or 1..=63 unsigned, and the field ends within `MAX_STRING` bytes plus
/// the width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldOp {
    /// GET, SET or INCRBY.
    pub action: FieldAction,
    /// A signed (`i`) or unsigned (`u`) field.
    pub signed: bool,
    /// The field's width in bits.
    pub bits: u8,
    /// The field's first bit.
    pub offset: u64,
    /// The OVERFLOW in force.
    pub overflow: Overflow,
}

/// Bytes of one packed `FieldOp`.
const FIELD_OP_BYTES: usize = 20;

impl FieldOp {
    /// True for SET and INCRBY.
    pub fn writes(&self) -> bool {
        self.action != FieldAction::Get
    }

    fn pack(&self, out: &mut Vec<u8>) {
        let (tag, v) = match self.action {
            FieldAction::Get => (0u8, 0i64),
            FieldAction::Set(v) => (1, v),
            FieldAction::IncrBy(v) => (2, v),
        };
        let ow = match self.overflow {
            Overflow::Wrap => 0u8,
            Overflow::Sat => 1,
            Overflow::Fail => 2,
        };
        out.extend_from_slice(&[tag, self.signed as u8, self.bits, ow]);
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&v.to_le_bytes());
    }

    /// The op packed at the start of `b`; None for bytes `pack` never
    /// writes (a width outside 1..=64, an unknown tag).
    fn unpack(b: &[u8]) -> Option<FieldOp> {
        let b: &[u8; FIELD_OP_BYTES] = b.get(..FIELD_OP_BYTES)?.try_into().ok()?;
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[at..at + 8]);
            w
        };
        let v = i64::from_le_bytes(word(12));
        let action = match b[0] {
            0 => FieldAction::Get,
            1 => FieldAction::Set(v),
            2 => FieldAction::IncrBy(v),
            _ => return None,
        };
        let overflow = match b[3] {
            0 => Overflow::Wrap,
            1 => Overflow::Sat,
            2 => Overflow::Fail,
            _ => return None,
        };
        let bits = b[2];
        if !(1..=64).contains(&bits) {
            return None;
        }
        Some(FieldOp {
            action,
            signed: b[1] != 0,
            bits,
            offset: u64::from_le_bytes(word(4)),
            overflow,
        })
    }
}

/// Packs BITFIELD's subcommands into the bytes `StrOp::BitField::ops` names
/// (so they travel with the batch's arguments, without an allocation of
/// their own on the shard).
pub fn pack_bitfield(ops: &[FieldOp], out: &mut Vec<u8>) {
    out.reserve(ops.len() * FIELD_OP_BYTES);
    for op in ops {
        op.pack(out);
    }
}

/// The subcommands `pack_bitfield` packed into `b`.
fn unpack_bitfield(b: &[u8]) -> impl Iterator<Item = FieldOp> + '_ {
    b.chunks_exact(FIELD_OP_BYTES).filter_map(FieldOp::unpack)
}

impl StrOp {
    pub(super) fn is_write(&self) -> bool {
        !matches!(
            self,
            StrOp::Get { .. }
                | StrOp::MGetOne { .. }
                | StrOp::Strlen { .. }
                | StrOp::GetRange { .. }
                | StrOp::GetBit { .. }
                | StrOp::BitCount { .. }
                | StrOp::BitPos { .. }
                | StrOp::BitField { write: false, .. }
        )
    }

    pub(super) fn exec(&self, cx: &mut Cx) -> Reply {
        let r = match *self {
            StrOp::Get { key } => get(cx, key),
            StrOp::MGetOne { key } => get(cx, key).or(Ok(Reply::Nil)),
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
            StrOp::BitOp { op, dest, keys } => bit_op(cx, op, dest, keys),
            StrOp::BitOpStore { dest, value } => bit_op_store(cx, dest, value),
            StrOp::BitField { key, ops, write } => bit_field(cx, key, ops, write),
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
        let found = cx.store.lookup(db, k, cx.now_ms, how);
        if reply == SetReply::Old {
            // Redis reads (GET) and then looks up for writing: two accesses.
            cx.store.new_access();
        }
        match found {
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
    cx.notify(STRING, "set", k);
    if let Expiry::At(_) = expiry {
        cx.notify(GENERIC, "expire", k);
    }
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
    cx.notify_arg(STRING, "incrby", key);
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
    cx.notify_arg(STRING, "incrbyfloat", key);
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
    cx.notify_arg(STRING, "append", key);
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
    cx.notify_arg(STRING, "setrange", key);
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
    cx.notify(GENERIC, "del", k);
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
                cx.notify(GENERIC, "del", k);
            } else {
                cx.store.expire(db, k, when, cx.now_ms);
                cx.persist
                    .log
                    .put(db as u8, &Record::PExpireAt { key: k, at: when });
                cx.notify(GENERIC, "expire", k);
            }
        }
        GetExTtl::Persist if at != 0 => {
            cx.store.expire(db, k, 0, cx.now_ms);
            cx.notify(GENERIC, "persist", k);
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
        cx.notify(STRING, "set", k);
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
        cx.notify(STRING, "setbit", k);
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

// ----------------------------------------------------------------- BITOP

/// Folds one BITOP source into the result so far, `acc[from..]` (empty
/// before the first source): the result grows to the longest source, and a
/// shorter or missing source (`src` empty) counts as zeros. NOT takes its
/// one source as the first.
pub fn bit_op_fold(op: BitOpKind, acc: &mut Vec<u8>, from: usize, first: bool, src: &[u8]) {
    if first {
        match op {
            BitOpKind::Not => acc.extend(src.iter().map(|b| !b)),
            _ => acc.extend_from_slice(src),
        }
        return;
    }
    let cur = acc.len() - from;
    if src.len() > cur {
        acc.resize(from + src.len(), 0);
    }
    let res = &mut acc[from..];
    match op {
        BitOpKind::And => {
            let common = cur.min(src.len());
            for (a, b) in res[..common].iter_mut().zip(src) {
                *a &= b;
            }
            // Past the end of the shorter one, one side is zero.
            res[common..].fill(0);
        }
        BitOpKind::Or => {
            for (a, b) in res.iter_mut().zip(src) {
                *a |= b;
            }
        }
        BitOpKind::Xor => {
            for (a, b) in res.iter_mut().zip(src) {
                *a ^= b;
            }
        }
        // The server never sends NOT with a second source.
        BitOpKind::Not => {}
    }
}

/// BITOP with every key on this shard, as Redis's `bitopCommand`: the
/// sources are read in order (`lookupKeyRead`, so hits and misses count,
/// and the first one of another type ends the command with WRONGTYPE), the
/// result is built in the payload buffer, then written over whatever the
/// destination held, TTL cleared.
fn bit_op(cx: &mut Cx, op: BitOpKind, dest: Arg, keys: crate::batch::ArgList) -> R {
    cx.make_room()?;
    let args = cx.args;
    let from = cx.out.len();
    for (i, k) in args.items(keys).enumerate() {
        let found = cx
            .store
            .lookup_kind(cx.db, k, cx.now_ms, Lookup::READ, Kind::String);
        let src = match found {
            Err(_) => {
                cx.out.truncate(from);
                return Err(Error::WrongType);
            }
            Ok(None) => &[][..],
            Ok(Some(pos)) => cx.store.value_at(pos).as_str().unwrap_or_default(),
        };
        bit_op_fold(op, cx.out, from, i == 0, src);
    }
    let r = store_bit_op_result(cx, args.get(dest), from);
    cx.out.truncate(from);
    r
}

/// BITOP's last step when its keys span shards.
fn bit_op_store(cx: &mut Cx, dest: Arg, value: Arg) -> R {
    cx.make_room()?;
    let args = cx.args;
    let from = cx.out.len();
    cx.out.extend_from_slice(args.get(value));
    let r = store_bit_op_result(cx, args.get(dest), from);
    cx.out.truncate(from);
    r
}

/// Stores `cx.out[from..]` as BITOP's result under `dest`, as Redis's
/// `setKey`: any type replaced, TTL cleared, a fresh (`raw`) string; an
/// empty result deletes `dest` instead. → the result's length.
fn store_bit_op_result(cx: &mut Cx, dest: &[u8], from: usize) -> R {
    let value = &cx.out[from..];
    if value.is_empty() {
        if cx.store.del(cx.db, dest, cx.now_ms) {
            cx.persist.log.put(cx.db as u8, &Record::Del { key: dest });
            cx.notify(GENERIC, "del", dest);
        }
        return Ok(Reply::Int(0));
    }
    cx.store
        .set_encoded(
            cx.db,
            dest,
            value,
            Expiry::Clear,
            cx.now_ms,
            StrEncoding::Raw,
        )
        .map_err(|_| Error::Oom)?;
    cx.persist.log.put(
        cx.db as u8,
        &Record::Set {
            key: dest,
            value,
            pxat: 0,
        },
    );
    let len = value.len();
    cx.notify(STRING, "set", dest);
    Ok(Reply::Int(len as i64))
}

// -------------------------------------------------------------- BITFIELD

/// The `bits`-wide unsigned field at bit `offset` of `v`; bits past the end
/// of `v` read as zeros.
pub fn field_get(v: &[u8], offset: u64, bits: u8) -> u64 {
    let bits = u32::from(bits.clamp(1, 64));
    let byte = offset >> 3;
    let shift = (offset & 7) as u32;
    // A field of up to 64 bits starting anywhere in a byte spans at most 9.
    let mut buf = [0u8; 16];
    if byte < v.len() as u64 {
        let tail = &v[byte as usize..];
        let n = tail.len().min(9);
        buf[..n].copy_from_slice(&tail[..n]);
    }
    let w = u128::from_be_bytes(buf);
    ((w << shift) >> (128 - bits)) as u64
}

/// The field read as signed: its top bit extended.
pub fn field_get_signed(v: &[u8], offset: u64, bits: u8) -> i64 {
    let u = field_get(v, offset, bits);
    if bits < 64 && u & (1u64 << (bits - 1)) != 0 {
        (u | (u64::MAX << bits)) as i64
    } else {
        u as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset` of `v`; the caller
/// grew `v` to hold the field (a field past its end is left unwritten).
pub fn field_set(v: &mut [u8], offset: u64, bits: u8, value: u64) {
    let bits = u32::from(bits.clamp(1, 64));
    let byte = offset >> 3;
    let shift = (offset & 7) as u32;
    let n = (shift + bits).div_ceil(8) as usize;
    let Some(dst) = usize::try_from(byte)
        .ok()
        .and_then(|b| v.get_mut(b..b.checked_add(n)?))
    else {
        return;
    };
    let mut buf = [0u8; 16];
    buf[..n].copy_from_slice(dst);
    let low = u128::MAX >> (128 - bits);
    let at = 128 - bits - shift;
    let w = (u128::from_be_bytes(buf) & !(low << at)) | ((u128::from(value) & low) << at);
    dst.copy_from_slice(&w.to_be_bytes()[..n]);
}

/// Redis's `checkUnsignedBitfieldOverflow` for `value + incr` in a `bits`
/// wide unsigned field (`bits` < 64): None when it fits, else the value
/// WRAP or SAT stores (FAIL stores nothing). Redis's arithmetic is kept
/// as it is, wrapping included: a SET's value is `incr` 0 on the value
/// reinterpreted as unsigned, so a negative SET overflows upwards.
fn unsigned_overflow(value: u64, incr: i64, bits: u8, ow: Overflow) -> Option<u64> {
    let max = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = value.wrapping_neg() as i64;
    let wrap = || {
        let mask = u64::MAX.checked_shl(u32::from(bits)).unwrap_or(0);
        value.wrapping_add(incr as u64) & !mask
    };
    if value > max || (incr > 0 && incr > max_incr) {
        Some(if ow == Overflow::Sat { max } else { wrap() })
    } else if incr < 0 && incr < min_incr {
        Some(if ow == Overflow::Sat { 0 } else { wrap() })
    } else {
        None
    }
}

/// Redis's `checkSignedBitfieldOverflow`, with its wrapping arithmetic: a
/// value far below a narrow field's range can pass for an overflow upwards
/// (SAT then stores the maximum, as Redis does).
fn signed_overflow(value: i64, incr: i64, bits: u8, ow: Overflow) -> Option<i64> {
    let max = if bits >= 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wide = bits >= 64;
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if !wide {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (!wide && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr) {
        Some(if ow == Overflow::Sat { max } else { wrap() })
    } else if value < min
        || (!wide && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        Some(if ow == Overflow::Sat { min } else { wrap() })
    } else {
        None
    }
}

/// Applies one SET or INCRBY to the field in `v` (grown to hold it): its
/// reply (None for an overflow under FAIL, which writes nothing) and
/// whether the field changed.
fn field_write(v: &mut [u8], op: &FieldOp) -> (Option<i64>, bool) {
    let (incr, is_set) = match op.action {
        FieldAction::Set(x) => (x, true),
        FieldAction::IncrBy(x) => (x, false),
        FieldAction::Get => return (Some(field_read(v, op)), false),
    };
    let (reply, old, new, failed) = if op.signed {
        let old = field_get_signed(v, op.offset, op.bits);
        let (reply, new, over) = if is_set {
            let over = signed_overflow(incr, 0, op.bits, op.overflow);
            (old, over.unwrap_or(incr), over.is_some())
        } else {
            let over = signed_overflow(old, incr, op.bits, op.overflow);
            let new = over.unwrap_or_else(|| old.wrapping_add(incr));
            (new, new, over.is_some())
        };
        (
            reply,
            old as u64,
            new as u64,
            over && op.overflow == Overflow::Fail,
        )
    } else {
        let old = field_get(v, op.offset, op.bits);
        let (reply, new, over) = if is_set {
            let over = unsigned_overflow(incr as u64, 0, op.bits, op.overflow);
            (old, over.unwrap_or(incr as u64), over.is_some())
        } else {
            let over = unsigned_overflow(old, incr, op.bits, op.overflow);
            let new = over.unwrap_or_else(|| old.wrapping_add(incr as u64));
            (new, new, over.is_some())
        };
        (
            reply as i64,
            old,
            new,
            over && op.overflow == Overflow::Fail,
        )
    };
    if failed {
        return (None, false);
    }
    field_set(v, op.offset, op.bits, new);
    // Redis compares the old field with the value written (an overflowing
    // one wrapped or saturated first).
    (Some(reply), old != new)
}

/// A GET of the field in `v` (zeros past its end).
fn field_read(v: &[u8], op: &FieldOp) -> i64 {
    if op.signed {
        field_get_signed(v, op.offset, op.bits)
    } else {
        field_get(v, op.offset, op.bits) as i64
    }
}

/// BITFIELD / BITFIELD_RO, as Redis's `bitfieldGeneric`. Only GETs: a read
/// look-up, an absent key reading as zeros. Otherwise a write look-up that
/// creates or zero-grows the value to the farthest field written (even if
/// every write then fails), then the subcommands in order on the new value,
/// kept with its TTL as a `raw` string and logged as an absolute SET.
fn bit_field(cx: &mut Cx, key: Arg, ops: Arg, write: bool) -> R {
    let args = cx.args;
    let packed = args.get(ops);
    let n = unpack_bitfield(packed).count();
    if !write {
        let v = lookup_str!(cx, key, Lookup::READ)?.map_or(&[][..], |(v, _)| v);
        let mut w = TapeWriter::new(cx.out);
        w.array(n);
        for op in unpack_bitfield(packed) {
            w.int(field_read(v, &op));
        }
        return Ok(w.finish());
    }
    cx.make_room()?;
    let need = unpack_bitfield(packed)
        .filter(FieldOp::writes)
        .map(|op| ((op.offset + u64::from(op.bits) - 1) >> 3) as usize + 1)
        .max()
        .unwrap_or(0);
    let k = args.get(key);
    let from = cx.out.len();
    let found = cx
        .store
        .lookup_kind(cx.db, k, cx.now_ms, Lookup::WRITE, Kind::String)
        .map_err(|_| Error::WrongType)?;
    let (expire_at, raw) = match found {
        None => (0, false),
        Some(pos) => {
            cx.out
                .extend_from_slice(cx.store.value_at(pos).as_str().unwrap_or_default());
            (
                cx.store.expire_of(pos),
                cx.store.encoding_at(pos) == StrEncoding::Raw,
            )
        }
    };
    let grown = found.is_none() || cx.out.len() - from < need;
    if cx.out.len() - from < need {
        // A raised proto-max-bulk-len lets the farthest field lie far out:
        // a value that cannot be allocated is an OOM error, not an abort.
        if cx.out.try_reserve(from + need - cx.out.len()).is_err() {
            cx.out.truncate(from);
            return Err(Error::Oom);
        }
        cx.out.resize(from + need, 0);
    }
    // The new value is `cx.out[from..end]`; the reply's tape follows it.
    let end = cx.out.len();
    TapeWriter::new(cx.out).array(n);
    let mut changes = 0usize;
    for op in unpack_bitfield(packed) {
        let (reply, changed) = field_write(&mut cx.out[from..end], &op);
        changes += changed as usize;
        let mut w = TapeWriter::new(cx.out);
        match reply {
            Some(v) => {
                w.int(v);
            }
            None => w.nil(),
        }
    }
    // A write that changed nothing in a value already `raw` leaves the key
    // alone, as in Redis (no WATCH signal, nothing to log); otherwise the
    // value is stored whole, `raw` as Redis's unshared string.
    if grown || changes > 0 || !raw {
        let value = &cx.out[from..end];
        let stored =
            cx.store
                .set_encoded(cx.db, k, value, Expiry::Keep, cx.now_ms, StrEncoding::Raw);
        if stored.is_err() {
            cx.out.truncate(from);
            return Err(Error::Oom);
        }
        cx.persist.log.put(
            cx.db as u8,
            &Record::Set {
                key: k,
                value,
                pxat: expire_at,
            },
        );
    }
    if changes > 0 {
        cx.notify(STRING, "setbit", k);
    }
    // The value was scratch: the tape moves down over it.
    let tape = cx.out.len() - end;
    cx.out.copy_within(end.., from);
    cx.out.truncate(from + tape);
    Ok(Reply::Tape(crate::batch::Span::new(from, from + tape)))
}
