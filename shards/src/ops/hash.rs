//! Hash ops (Redis 7.0's `t_hash.c`).
//!
//! Reads look the key up as Redis's `lookupKeyRead` does (hit or miss
//! counted, LRU refreshed); writes as `lookupKeyWrite`. A write that grows
//! memory makes room first (Redis's `denyoom` commands: HSET, HMSET,
//! HSETNX, HINCRBY, HINCRBYFLOAT). Every change is logged as an absolute
//! record: `HSET key field value ...` for what was set (HINCRBY and
//! HINCRBYFLOAT log the resulting value), `HDEL key field ...` for what was
//! deleted, and `DEL key` when the hash became empty and its key went.
//!
//! A key whose hash is a hashtable is edited in place, each change reported
//! to the undo journal as the field's old state; a listpack is small enough
//! to be journaled whole (see `keyspace::undo`).

use super::{bulk, parse_i64, Cx};
use crate::aof::{Items, Record};
use crate::batch::{Arg, ArgList, Reply};
use crate::error::Error;
use crate::keyspace::{Lookup, Store};
use crate::ld;
use crate::notify::{GENERIC, HASH};
use crate::tape::TapeWriter;
use crate::value::{HashValue, Kind, Object};

/// A hash op.
#[derive(Clone, Debug)]
pub enum HashOp {
    /// HSET / HMSET key field value [field value ...] → the number of new
    /// fields (HSET) or OK (HMSET).
    Set {
        /// The key.
        key: Arg,
        /// Fields and values, alternating (the server checked the count).
        pairs: ArgList,
        /// Answer OK (HMSET) instead of the count.
        ok: bool,
    },
    /// HSETNX key field value → 1 when set, 0 when the field existed.
    SetNx {
        /// The key.
        key: Arg,
        /// The field.
        field: Arg,
        /// The value.
        value: Arg,
    },
    /// HGET key field → bulk, or nil.
    Get {
        /// The key.
        key: Arg,
        /// The field.
        field: Arg,
    },
    /// HMGET key field [field ...] → an array of bulks and nils.
    MGet {
        /// The key.
        key: Arg,
        /// The fields.
        fields: ArgList,
    },
    /// HGETALL key → a map of fields to values (a flat array in RESP2).
    GetAll {
        /// The key.
        key: Arg,
    },
    /// HKEYS key → an array of fields.
    Keys {
        /// The key.
        key: Arg,
    },
    /// HVALS key → an array of values.
    Vals {
        /// The key.
        key: Arg,
    },
    /// HLEN key → the number of fields.
    Len {
        /// The key.
        key: Arg,
    },
    /// HSTRLEN key field → the value's length, 0 when absent.
    StrLen {
        /// The key.
        key: Arg,
        /// The field.
        field: Arg,
    },
    /// HEXISTS key field → 1 or 0.
    Exists {
        /// The key.
        key: Arg,
        /// The field.
        field: Arg,
    },
    /// HDEL key field [field ...] → the number of fields deleted.
    Del {
        /// The key.
        key: Arg,
        /// The fields.
        fields: ArgList,
    },
    /// HINCRBY key field increment → the new value.
    IncrBy {
        /// The key.
        key: Arg,
        /// The field.
        field: Arg,
        /// The increment (parsed by the server: a bad one is refused
        /// before the key is looked up, as in Redis).
        by: i64,
    },
    /// HINCRBYFLOAT key field increment → the new value as Redis prints
    /// it. The increment is parsed here, before the look-up, as Redis
    /// does (`ERR value is not a valid float`, then `ERR value is NaN or
    /// Infinity` for an infinite one).
    IncrByFloat {
        /// The key.
        key: Arg,
        /// The field.
        field: Arg,
        /// The increment as given.
        by: Arg,
    },
    /// HRANDFIELD key → a random field, or nil.
    RandField {
        /// The key.
        key: Arg,
    },
    /// HRANDFIELD key count \[WITHVALUES\] → an array: `count` distinct
    /// fields (all of them when fewer), or `-count` drawn independently
    /// when negative. WITHVALUES pairs each with its value: `[f, v]`
    /// arrays in RESP3, a flat array in RESP2. The server bounds `count`
    /// (`ERR value is out of range` beyond ±2^62 with WITHVALUES).
    RandFields {
        /// The key.
        key: Arg,
        /// The count.
        count: i64,
        /// WITHVALUES.
        with_values: bool,
        /// The reply is encoded in RESP3.
        resp3: bool,
    },
    /// One HSCAN step → `[next cursor as a bulk, [field, value, ...]]`.
    Scan {
        /// The cursor (0 starts).
        cursor: u64,
        /// The key.
        key: Arg,
        /// COUNT (10 by default).
        count: usize,
        /// MATCH, on fields.
        pattern: Option<Arg>,
    },
}

impl HashOp {
    pub(super) fn is_write(&self) -> bool {
        matches!(
            self,
            HashOp::Set { .. }
                | HashOp::SetNx { .. }
                | HashOp::Del { .. }
                | HashOp::IncrBy { .. }
                | HashOp::IncrByFloat { .. }
        )
    }

    pub(super) fn exec(&self, cx: &mut Cx) -> Reply {
        let r = match *self {
            HashOp::Set { key, pairs, ok } => hset(cx, key, pairs, ok),
            HashOp::SetNx { key, field, value } => hsetnx(cx, key, field, value),
            HashOp::Get { key, field } => hget(cx, key, field),
            HashOp::MGet { key, fields } => hmget(cx, key, fields),
            HashOp::GetAll { key } => hgetall(cx, key, true, true),
            HashOp::Keys { key } => hgetall(cx, key, true, false),
            HashOp::Vals { key } => hgetall(cx, key, false, true),
            HashOp::Len { key } => {
                read(cx, key).map(|h| Reply::Int(h.map_or(0, |h| h.len()) as i64))
            }
            HashOp::StrLen { key, field } => {
                let f = cx.args.get(field);
                read(cx, key)
                    .map(|h| Reply::Int(h.and_then(|h| h.get(f)).map_or(0, <[u8]>::len) as i64))
            }
            HashOp::Exists { key, field } => {
                let f = cx.args.get(field);
                read(cx, key).map(|h| Reply::Int(h.is_some_and(|h| h.contains(f)) as i64))
            }
            HashOp::Del { key, fields } => hdel(cx, key, fields),
            HashOp::IncrBy { key, field, by } => hincrby(cx, key, field, by),
            HashOp::IncrByFloat { key, field, by } => hincrbyfloat(cx, key, field, by),
            HashOp::RandField { key } => hrandfield(cx, key),
            HashOp::RandFields {
                key,
                count,
                with_values,
                resp3,
            } => hrandfield_count(cx, key, count, with_values, resp3),
            HashOp::Scan {
                key,
                cursor,
                count,
                pattern,
            } => hscan(cx, key, cursor, count, pattern),
        };
        r.unwrap_or_else(Reply::Err)
    }
}

type R = Result<Reply, Error>;

/// The hash at `pos` (the caller checked the type).
fn hash_at(store: &Store, pos: u32) -> Result<&HashValue, Error> {
    match store.value_at(pos) {
        crate::keyspace::ValueRef::Obj(Object::Hash(h)) => Ok(h),
        _ => Err(Error::WrongType),
    }
}

/// Looks a hash key up: its position, None when absent, WRONGTYPE for
/// another type.
fn find(cx: &mut Cx, key: Arg, how: Lookup) -> Result<Option<u32>, Error> {
    let k = cx.args.get(key);
    let pos = cx
        .store
        .lookup_kind(cx.db, k, cx.now_ms, how, Kind::Hash)
        .map_err(|_| Error::WrongType)?;
    if let Some(p) = pos {
        hash_at(cx.store, p)?;
    }
    Ok(pos)
}

/// A read command's look-up of a hash key (`lookupKeyRead`).
fn read<'s>(cx: &'s mut Cx, key: Arg) -> Result<Option<&'s HashValue>, Error> {
    match find(cx, key, Lookup::READ)? {
        Some(pos) => hash_at(cx.store, pos).map(Some),
        None => Ok(None),
    }
}

/// Sets `pairs` (fields and values, alternating) in the hash of `key`,
/// creating it when absent (`hashTypeLookupWriteOrCreate`, then
/// `hashTypeTryConversion` over every argument, then `hashTypeSet` each);
/// returns how many fields were new. Logs nothing.
fn set_pairs(cx: &mut Cx, key: Arg, pos: Option<u32>, pairs: Items) -> Result<usize, Error> {
    let limits = cx.store.value_limits().hash;
    let (db, k) = (cx.db, cx.args.get(key));
    let mut created = 0;
    match pos {
        None => {
            let mut h = HashValue::new();
            h.try_conversion(pairs.iter(), &limits);
            for i in (0..pairs.len()).step_by(2) {
                created += h.set(pairs.get(i), pairs.get(i + 1), &limits) as usize;
            }
            cx.store
                .insert_object(db, k, Object::Hash(h), 0)
                .map_err(|_| Error::Oom)?;
        }
        Some(pos) => {
            cx.store.edit_object(pos, |o, undo| {
                let Object::Hash(h) = o else {
                    return;
                };
                h.try_conversion(pairs.iter(), &limits);
                for i in (0..pairs.len()).step_by(2) {
                    let (f, v) = (pairs.get(i), pairs.get(i + 1));
                    if undo.is_on() {
                        undo.field(f, h.get(f));
                    }
                    created += h.set(f, v, &limits) as usize;
                }
            });
            cx.store.signal_modified(db, k);
        }
    }
    Ok(created)
}

/// HSET / HMSET.
fn hset(cx: &mut Cx, key: Arg, pairs: ArgList, ok: bool) -> R {
    cx.make_room()?;
    let pos = find(cx, key, Lookup::WRITE)?;
    let items = Items::Args(cx.args, pairs);
    let created = set_pairs(cx, key, pos, items)?;
    cx.persist.log.put(
        cx.db as u8,
        &Record::HSet {
            key: cx.args.get(key),
            pairs: items,
        },
    );
    cx.notify_arg(HASH, "hset", key);
    Ok(if ok {
        Reply::Ok
    } else {
        Reply::Int(created as i64)
    })
}

/// Sets one field to `value` (the caller looked the key up) and logs it.
fn set_one(
    cx: &mut Cx,
    key: Arg,
    pos: Option<u32>,
    field: &[u8],
    value: &[u8],
) -> Result<(), Error> {
    let pair = [field, value];
    set_pairs(cx, key, pos, Items::List(&pair))?;
    cx.persist.log.put(
        cx.db as u8,
        &Record::HSet {
            key: cx.args.get(key),
            pairs: Items::List(&pair),
        },
    );
    Ok(())
}

/// HSETNX key field value.
fn hsetnx(cx: &mut Cx, key: Arg, field: Arg, value: Arg) -> R {
    cx.make_room()?;
    let pos = find(cx, key, Lookup::WRITE)?;
    let f = cx.args.get(field);
    if let Some(p) = pos {
        if hash_at(cx.store, p)?.contains(f) {
            return Ok(Reply::Int(0));
        }
    }
    set_one(cx, key, pos, f, cx.args.get(value))?;
    cx.notify_arg(HASH, "hset", key);
    Ok(Reply::Int(1))
}

fn hget(cx: &mut Cx, key: Arg, field: Arg) -> R {
    let f = cx.args.get(field);
    let Some(pos) = find(cx, key, Lookup::READ)? else {
        return Ok(Reply::Nil);
    };
    Ok(match hash_at(cx.store, pos)?.get(f) {
        Some(v) => bulk(cx.out, v),
        None => Reply::Nil,
    })
}

fn hmget(cx: &mut Cx, key: Arg, fields: ArgList) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let h = match pos {
        Some(p) => Some(hash_at(cx.store, p)?),
        None => None,
    };
    let mut w = TapeWriter::new(cx.out);
    w.array(fields.len as usize);
    for f in cx.args.items(fields) {
        match h.and_then(|h| h.get(f)) {
            Some(v) => w.bulk(v),
            None => w.nil(),
        }
    }
    Ok(w.finish())
}

/// HGETALL (fields and values, a map), HKEYS, HVALS.
fn hgetall(cx: &mut Cx, key: Arg, fields: bool, values: bool) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let mut w = TapeWriter::new(cx.out);
    let Some(pos) = pos else {
        if fields && values {
            w.map(0);
        } else {
            w.array(0);
        }
        return Ok(w.finish());
    };
    let h = hash_at(cx.store, pos)?;
    if fields && values {
        w.map(h.len());
    } else {
        w.array(h.len());
    }
    for (f, v) in h.iter() {
        if fields {
            w.bulk(f);
        }
        if values {
            w.bulk(v);
        }
    }
    Ok(w.finish())
}

/// HDEL key field [field ...]: stops at the field that empties the hash,
/// whose key then goes (logged as `DEL key`).
fn hdel(cx: &mut Cx, key: Arg, fields: ArgList) -> R {
    let Some(pos) = find(cx, key, Lookup::WRITE)? else {
        return Ok(Reply::Int(0));
    };
    let args = cx.args;
    let (deleted, emptied) = cx
        .store
        .edit_object(pos, |o, undo| {
            let Object::Hash(h) = o else {
                return (0, false);
            };
            let mut deleted = 0;
            for f in args.items(fields) {
                if undo.is_on() {
                    match h.get(f) {
                        Some(old) => undo.field(f, Some(old)),
                        None => continue,
                    }
                }
                if h.remove(f) {
                    deleted += 1;
                    if h.is_empty() {
                        return (deleted, true);
                    }
                }
            }
            (deleted, false)
        })
        .unwrap_or((0, false));
    let (db, k) = (cx.db, cx.args.get(key));
    if emptied {
        cx.store.remove_at(pos);
        cx.persist.log.put(db as u8, &Record::Del { key: k });
        cx.notify(HASH, "hdel", k);
        cx.notify(GENERIC, "del", k);
    } else if deleted > 0 {
        cx.notify(HASH, "hdel", k);
        cx.store.signal_modified(db, k);
        cx.persist.log.put(
            db as u8,
            &Record::HDel {
                key: k,
                fields: Items::Args(cx.args, fields),
            },
        );
    }
    Ok(Reply::Int(deleted))
}

/// HINCRBY key field increment.
fn hincrby(cx: &mut Cx, key: Arg, field: Arg, by: i64) -> R {
    cx.make_room()?;
    let pos = find(cx, key, Lookup::WRITE)?;
    let f = cx.args.get(field);
    let old = match pos {
        Some(p) => match hash_at(cx.store, p)?.get(f) {
            Some(v) => parse_i64(v).ok_or(Error::HashNotInteger)?,
            None => 0,
        },
        None => 0,
    };
    let new = old.checked_add(by).ok_or(Error::Overflow)?;
    let mut text = itoa::Buffer::new();
    set_one(cx, key, pos, f, text.format(new).as_bytes())?;
    cx.notify_arg(HASH, "hincrby", key);
    Ok(Reply::Int(new))
}

/// HINCRBYFLOAT key field increment: Redis's `long double` parse, sum and
/// print (see `crate::ld`), the increment checked before the look-up.
fn hincrbyfloat(cx: &mut Cx, key: Arg, field: Arg, by: Arg) -> R {
    cx.make_room()?;
    let incr = ld::parse(cx.args.get(by)).ok_or(Error::NotFloat)?;
    if incr.is_special() {
        return Err(Error::IncrNanOrInf);
    }
    let pos = find(cx, key, Lookup::WRITE)?;
    let f = cx.args.get(field);
    let old = match pos {
        Some(p) => match hash_at(cx.store, p)?.get(f) {
            Some(v) => ld::parse(v).ok_or(Error::HashNotFloat)?,
            None => ld::parse(b"0").ok_or(Error::HashNotFloat)?,
        },
        None => ld::parse(b"0").ok_or(Error::HashNotFloat)?,
    };
    let sum = ld::add(old, incr);
    if sum.is_special() {
        return Err(Error::NanOrInf);
    }
    let mut text = [0u8; ld::MAX_CHARS];
    let n = ld::format_human(sum, &mut text);
    set_one(cx, key, pos, f, &text[..n])?;
    cx.notify_arg(HASH, "hincrbyfloat", key);
    Ok(bulk(cx.out, &text[..n]))
}

/// HRANDFIELD key: one field drawn uniformly.
fn hrandfield(cx: &mut Cx, key: Arg) -> R {
    let Some(pos) = find(cx, key, Lookup::READ)? else {
        return Ok(Reply::Nil);
    };
    let mut rand = super::rng(cx.store);
    let h = hash_at(cx.store, pos)?;
    Ok(match h.random_entry(&mut rand) {
        Some((f, _)) => bulk(cx.out, f),
        None => Reply::Nil,
    })
}

/// HRANDFIELD key count [WITHVALUES].
fn hrandfield_count(cx: &mut Cx, key: Arg, count: i64, with_values: bool, resp3: bool) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let mut rand = super::rng(cx.store);
    let mut w = TapeWriter::new(cx.out);
    let (Some(pos), false) = (pos, count == 0) else {
        w.array(0);
        return Ok(w.finish());
    };
    let h = hash_at(cx.store, pos)?;
    let at = w.array(0);
    let mut n = 0usize;
    h.random_entries(count, &mut rand, |f, v| {
        n += 1;
        if with_values && resp3 {
            w.array(2);
        }
        w.bulk(f);
        if with_values {
            w.bulk(v);
        }
    });
    w.set_len(at, if with_values && !resp3 { 2 * n } else { n });
    Ok(w.finish())
}

/// One HSCAN step.
fn hscan(cx: &mut Cx, key: Arg, cursor: u64, count: usize, pattern: Option<Arg>) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let pat = pattern.map(|p| cx.args.get(p)).filter(|p| *p != b"*");
    let mut w = TapeWriter::new(cx.out);
    w.array(2);
    let Some(pos) = pos else {
        w.bulk(b"0");
        w.array(0);
        return Ok(w.finish());
    };
    let h = hash_at(cx.store, pos)?;
    // The cursor comes first on the tape but is known last.
    let mut found: Vec<(&[u8], &[u8])> = Vec::new();
    let next = h.scan(cursor, count.max(1), |f, v| {
        if pat.map_or(true, |p| crate::glob::matches(p, f, false)) {
            found.push((f, v));
        }
    });
    w.bulk(itoa::Buffer::new().format(next).as_bytes());
    w.array(2 * found.len());
    for (f, v) in found {
        w.bulk(f);
        w.bulk(v);
    }
    Ok(w.finish())
}

#[cfg(test)]
mod tests;
