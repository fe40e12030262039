//! Ops on keys of any type (Redis's `db.c` and `expire.c`): DEL, EXISTS,
//! TOUCH, TYPE, the TTL and EXPIRE families, PERSIST, RENAME, COPY, MOVE,
//! OBJECT, MEMORY USAGE, WATCH, and the reads and probes the server's
//! cross-shard sections build on.
//!
//! RENAME, COPY, MOVE and RESTORE log the result as absolute records (`DEL
//! src`, then the records that create the destination: `SET dst value [PXAT
//! ms]` for a string, `HSET`/`SADD` runs and `PEXPIREAT` for a collection,
//! after `DEL dst` when one was replaced), which a replay and a Redis
//! importing the segment apply alike.
//!
//! DUMP answers Redis 7.0's payload for any type (`value::dump`); the
//! cross-shard RENAME/COPY/MOVE carry a value the same way: `Read` on the
//! source's shard answers `[payload, expire_at]`, `Write` on the
//! destination's shard stores it.

use super::{bulk, parse_i64, Cx};
use crate::aof::Record;
use crate::batch::{Arg, ArgList, Reply};
use crate::error::Error;
use crate::keyspace::{Expiry, Lookup, StrEncoding, ValueRef};
use crate::notify::GENERIC;
use crate::tape::TapeWriter;
use crate::value::dump::{self, RestoreError, Restored};
use crate::value::Object;
use crate::NUM_DBS;

/// What a TTL op answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtlUnit {
    /// Seconds remaining (TTL).
    Secs,
    /// Milliseconds remaining (PTTL).
    Ms,
    /// Absolute deadline in seconds (EXPIRETIME).
    AtSecs,
    /// Absolute deadline in ms (PEXPIRETIME).
    AtMs,
}

/// EXPIRE's NX / XX / GT / LT (the server refused the incompatible
/// combinations; XX may come with GT or LT).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpireCond {
    /// Only when the key has no TTL.
    pub nx: bool,
    /// Only when it has one.
    pub xx: bool,
    /// Only when the new deadline is later (no TTL counts as infinite).
    pub gt: bool,
    /// Only when the new deadline is earlier (no TTL counts as infinite).
    pub lt: bool,
}

/// What OBJECT reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectField {
    /// OBJECT ENCODING.
    Encoding,
    /// OBJECT REFCOUNT.
    Refcount,
    /// OBJECT IDLETIME.
    Idletime,
    /// OBJECT FREQ.
    Freq,
}

/// An op on a key of any type.
#[derive(Clone, Debug)]
pub enum KeyOp {
    /// DEL key → 1 or 0.
    Del {
        /// The key.
        key: Arg,
    },
    /// EXISTS key → 1 or 0 (counts a hit or miss, does not touch).
    Exists {
        /// The key.
        key: Arg,
    },
    /// TOUCH key → 1 when it exists (a read look-up).
    Touch {
        /// The key.
        key: Arg,
    },
    /// TYPE key → the type's name or `none`.
    Type {
        /// The key.
        key: Arg,
    },
    /// TTL family → remaining time or deadline, -1 (none), -2 (absent).
    Ttl {
        /// The key.
        key: Arg,
        /// What to answer.
        unit: TtlUnit,
    },
    /// EXPIRE family → 1 or 0. A deadline already past deletes the key.
    Expire {
        /// The key.
        key: Arg,
        /// Absolute deadline in ms (may be in the past or negative).
        at: i64,
        /// NX / XX / GT / LT.
        cond: ExpireCond,
    },
    /// PERSIST key → 1 when a TTL was removed.
    Persist {
        /// The key.
        key: Arg,
    },
    /// RENAME / RENAMENX with both keys on this shard → OK / 1 / 0, or
    /// NoSuchKey.
    Rename {
        /// Source.
        src: Arg,
        /// Destination.
        dst: Arg,
        /// RENAMENX.
        nx: bool,
    },
    /// COPY with both keys on this shard → 1 or 0.
    Copy {
        /// Source.
        src: Arg,
        /// Destination.
        dst: Arg,
        /// Destination database.
        dst_db: u8,
        /// REPLACE.
        replace: bool,
    },
    /// MOVE key db (checked to differ and be in range) → 1 or 0.
    Move {
        /// The key.
        key: Arg,
        /// Destination database.
        dst_db: u8,
    },
    /// A key's value (as a DUMP payload) and TTL for a cross-shard
    /// RENAME/COPY/MOVE → a tape `[payload, expire_at]` (0: no TTL), or nil.
    Read {
        /// The key.
        key: Arg,
        /// COPY's read look-up (a hit or miss counted, `keymiss` reported,
        /// the key touched), else RENAME's, which does none of that.
        copy: bool,
    },
    /// The write step of a cross-shard RENAME/COPY/MOVE: stores a `Read`'s
    /// payload under `key` with its deadline → 1 when written, 0 when the
    /// key exists and `replace` is off (RENAMENX, COPY without REPLACE).
    Write {
        /// The key.
        key: Arg,
        /// The DUMP payload.
        payload: Arg,
        /// Absolute deadline in unix ms, 0 for none.
        expire_at: u64,
        /// Replace an existing key.
        replace: bool,
        /// The keyspace event it reports (`rename_to`, `copy_to`).
        event: &'static str,
    },
    /// The last step of a cross-shard RENAME: removes the source → 1 or 0,
    /// reported as `rename_from` rather than `del`.
    RenameFrom {
        /// The key.
        key: Arg,
    },
    /// DUMP key → the payload, or nil.
    Dump {
        /// The key.
        key: Arg,
    },
    /// `RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]` →
    /// OK. The server checked the options (syntax, IDLETIME and FREQ
    /// ranges); the TTL's own errors come after BUSYKEY, as in Redis.
    Restore {
        /// The key.
        key: Arg,
        /// The payload.
        payload: Arg,
        /// The TTL in ms (relative unless `absttl`; 0: none). A negative
        /// one answers `ERR Invalid TTL value, must be >= 0`.
        ttl: i64,
        /// The TTL argument was not an integer: this error (answered after
        /// the BUSYKEY check).
        bad_ttl: Option<Error>,
        /// ABSTTL: `ttl` is a unix time in ms.
        absttl: bool,
        /// REPLACE.
        replace: bool,
        /// IDLETIME: seconds since the key's last access.
        idletime: Option<u64>,
        /// FREQ: the key's access counter, under an LFU policy.
        freq: Option<u8>,
    },
    /// Whether any of the keys exists (looked up for writing) → 1 or 0.
    AnyExists {
        /// The keys.
        keys: ArgList,
    },
    /// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key.
    Object {
        /// The key.
        key: Arg,
        /// What to report.
        field: ObjectField,
        /// Small integers are shared objects (Redis's `canUseSharedObject`:
        /// no maxmemory, or a policy that is not LRU/LFU).
        shared_ints: bool,
    },
    /// MEMORY USAGE key → bytes, or nil.
    MemoryUsage {
        /// The key.
        key: Arg,
    },
    /// WATCH key for a client → OK.
    Watch {
        /// The key.
        key: Arg,
        /// The client's id.
        client: u64,
    },
}

impl KeyOp {
    pub(super) fn is_write(&self) -> bool {
        matches!(
            self,
            KeyOp::Del { .. }
                | KeyOp::Expire { .. }
                | KeyOp::Persist { .. }
                | KeyOp::Rename { .. }
                | KeyOp::Copy { .. }
                | KeyOp::Move { .. }
                | KeyOp::Write { .. }
                | KeyOp::RenameFrom { .. }
                | KeyOp::Restore { .. }
        )
    }

    pub(super) fn exec(&self, cx: &mut Cx) -> Reply {
        let r = match *self {
            KeyOp::Del { key } => del(cx, key, "del"),
            KeyOp::RenameFrom { key } => del(cx, key, "rename_from"),
            KeyOp::Exists { key } => {
                let k = cx.args.get(key);
                Ok(Reply::Int(cx.store.exists(cx.db, k, cx.now_ms) as i64))
            }
            KeyOp::Touch { key } => {
                let k = cx.args.get(key);
                let found = cx.store.lookup(cx.db, k, cx.now_ms, Lookup::READ);
                Ok(Reply::Int(found.is_some() as i64))
            }
            KeyOp::Type { key } => {
                let k = cx.args.get(key);
                Ok(
                    match cx.store.lookup(cx.db, k, cx.now_ms, Lookup::NOTOUCH) {
                        Some(pos) => Reply::Status(cx.store.kind_at(pos).name()),
                        None => Reply::Status("none"),
                    },
                )
            }
            KeyOp::Ttl { key, unit } => Ok(ttl(cx, key, unit)),
            KeyOp::Expire { key, at, cond } => Ok(expire(cx, key, at, cond)),
            KeyOp::Persist { key } => Ok(persist(cx, key)),
            KeyOp::Rename { src, dst, nx } => rename(cx, src, dst, nx),
            KeyOp::Copy {
                src,
                dst,
                dst_db,
                replace,
            } => copy(cx, src, dst, dst_db as usize, replace),
            KeyOp::Move { key, dst_db } => Ok(move_key(cx, key, dst_db as usize)),
            KeyOp::Read { key, copy } => Ok(read(cx, key, copy)),
            KeyOp::Write {
                key,
                payload,
                expire_at,
                replace,
                event,
            } => write(cx, key, payload, expire_at, replace, event),
            KeyOp::Dump { key } => dump_key(cx, key),
            KeyOp::Restore {
                key,
                payload,
                ttl,
                ref bad_ttl,
                absttl,
                replace,
                idletime,
                freq,
            } => restore(
                cx,
                key,
                payload,
                ttl,
                bad_ttl,
                absttl,
                replace,
                (idletime, freq),
            ),
            KeyOp::AnyExists { keys } => {
                let any = (0..keys.len as usize).any(|i| {
                    let k = cx.args.item(keys, i);
                    cx.store
                        .lookup(cx.db, k, cx.now_ms, Lookup::WRITE)
                        .is_some()
                });
                Ok(Reply::Int(any as i64))
            }
            KeyOp::Object {
                key,
                field,
                shared_ints,
            } => object(cx, key, field, shared_ints),
            KeyOp::MemoryUsage { key } => {
                let k = cx.args.get(key);
                Ok(match cx.store.entry_usage(cx.db, k) {
                    Some(n) => Reply::Int(n as i64),
                    None => Reply::Nil,
                })
            }
            KeyOp::Watch { key, client } => {
                let k = cx.args.get(key);
                cx.store.watch(cx.db, k, client, cx.now_ms);
                Ok(Reply::Ok)
            }
        };
        r.unwrap_or_else(Reply::Err)
    }
}

type R = Result<Reply, Error>;

/// DEL / UNLINK of one key, reported as `event`.
fn del(cx: &mut Cx, key: Arg, event: &'static str) -> R {
    let k = cx.args.get(key);
    let existed = cx.store.del(cx.db, k, cx.now_ms);
    if existed {
        cx.persist.log.put(cx.db as u8, &Record::Del { key: k });
        cx.notify(GENERIC, event, k);
    }
    Ok(Reply::Int(existed as i64))
}

/// TTL / PTTL / EXPIRETIME / PEXPIRETIME (a look-up that counts, no touch).
fn ttl(cx: &mut Cx, key: Arg, unit: TtlUnit) -> Reply {
    let k = cx.args.get(key);
    let Some(pos) = cx.store.lookup(cx.db, k, cx.now_ms, Lookup::NOTOUCH) else {
        return Reply::Int(-2);
    };
    let at = cx.store.expire_of(pos);
    if at == 0 {
        return Reply::Int(-1);
    }
    let (at, now) = (at as i64, cx.now_ms as i64);
    Reply::Int(match unit {
        TtlUnit::Secs => ((at - now).max(0) + 500) / 1000,
        TtlUnit::Ms => (at - now).max(0),
        TtlUnit::AtSecs => (at + 500) / 1000,
        TtlUnit::AtMs => at,
    })
}

/// EXPIRE family, with Redis 7.0's NX/XX/GT/LT rules (no TTL counts as an
/// infinite one for GT and LT); a past deadline deletes the key, logged as
/// `DEL`, else the change is logged as `PEXPIREAT`.
fn expire(cx: &mut Cx, key: Arg, when: i64, cond: ExpireCond) -> Reply {
    let (db, k) = (cx.db, cx.args.get(key));
    let Some(pos) = cx.store.lookup(db, k, cx.now_ms, Lookup::WRITE) else {
        return Reply::Int(0);
    };
    let current = match cx.store.expire_of(pos) {
        0 => -1,
        t => t as i64,
    };
    let refused = (cond.nx && current != -1)
        || (cond.xx && current == -1)
        || (cond.gt && (when <= current || current == -1))
        || (cond.lt && current != -1 && when >= current);
    if refused {
        return Reply::Int(0);
    }
    if when <= cx.now_ms as i64 {
        cx.store.del(db, k, cx.now_ms);
        cx.persist.log.put(db as u8, &Record::Del { key: k });
        cx.notify(GENERIC, "del", k);
    } else {
        cx.store.expire(db, k, when as u64, cx.now_ms);
        cx.persist.log.put(
            db as u8,
            &Record::PExpireAt {
                key: k,
                at: when as u64,
            },
        );
        cx.notify(GENERIC, "expire", k);
    }
    Reply::Int(1)
}

/// PERSIST key, logged as `PERSIST key`.
fn persist(cx: &mut Cx, key: Arg) -> Reply {
    let (db, k) = (cx.db, cx.args.get(key));
    let Some(pos) = cx.store.lookup(db, k, cx.now_ms, Lookup::WRITE) else {
        return Reply::Int(0);
    };
    if cx.store.expire_of(pos) == 0 {
        return Reply::Int(0);
    }
    cx.store.expire(db, k, 0, cx.now_ms);
    cx.persist.log.put(db as u8, &Record::Persist { key: k });
    cx.notify(GENERIC, "persist", k);
    Reply::Int(1)
}

fn expiry_of(at: u64) -> Expiry {
    if at == 0 {
        Expiry::Clear
    } else {
        Expiry::At(at)
    }
}

/// Logs the records that create `key` in `db` as the record at `pos`
/// holds it (value and TTL). `replaced`: the key held a value before, so
/// a collection is preceded by `DEL key` (a string's `SET` replaces).
pub(super) fn log_put(cx: &mut Cx, db: usize, key: &[u8], pos: u32, replaced: bool) {
    // Without persistence, walking a big collection for records nobody
    // keeps would make RENAME, MOVE and COPY O(N).
    if !cx.persist.log.enabled {
        return;
    }
    let value = cx.store.value_at(pos);
    let at = cx.store.expire_of(pos);
    let log = &mut cx.persist.log;
    if replaced && value.as_str().is_none() {
        log.put(db as u8, &Record::Del { key });
    }
    Record::for_value(key, value, at, |r| log.put(db as u8, &r));
}

/// RENAME / RENAMENX with both keys here (Redis's `renameGenericCommand`:
/// the source is looked up for writing, RENAME of a key to itself is OK).
/// The value moves under the new name without a copy; logged as `DEL src`
/// and the records of `dst` (after `DEL dst` when it held a collection).
fn rename(cx: &mut Cx, src: Arg, dst: Arg, nx: bool) -> R {
    let db = cx.db;
    let (s, d) = (cx.args.get(src), cx.args.get(dst));
    if cx.store.lookup(db, s, cx.now_ms, Lookup::WRITE).is_none() {
        return Err(Error::NoSuchKey);
    }
    if s == d {
        return Ok(if nx { Reply::Int(0) } else { Reply::Ok });
    }
    let replaced = match cx.store.lookup(db, d, cx.now_ms, Lookup::WRITE) {
        Some(_) if nx => return Ok(Reply::Int(0)),
        Some(pos) => {
            cx.store.remove_at(pos);
            true
        }
        None => false,
    };
    // The destination's removal freed a record; look the source up again.
    let Some(src_pos) = cx.store.lookup(db, s, cx.now_ms, Lookup::PEEK) else {
        return Err(Error::NoSuchKey);
    };
    let pos = cx.store.rename_at(src_pos, db, d).map_err(|_| Error::Oom)?;
    cx.persist.log.put(db as u8, &Record::Del { key: s });
    // A string's SET replaces, and a collection's DEL would go first.
    log_put(cx, db, d, pos, replaced);
    cx.notify(GENERIC, "rename_from", s);
    cx.notify(GENERIC, "rename_to", d);
    Ok(if nx { Reply::Int(1) } else { Reply::Ok })
}

/// What COPY takes from its source: a string's bytes (in `cx.out` from
/// this offset) or a copy of its object; and its expiry.
enum Copied {
    Bytes(usize),
    Obj(Object),
}

/// COPY with both keys here (Redis's `copyCommand`: the source looked up
/// for reading, the destination for writing; a collection is copied in its
/// encoding).
fn copy(cx: &mut Cx, src: Arg, dst: Arg, dst_db: usize, replace: bool) -> R {
    let db = cx.db;
    let s = cx.args.get(src);
    let Some(pos) = cx.store.lookup(db, s, cx.now_ms, Lookup::READ) else {
        return Ok(Reply::Int(0));
    };
    let at = cx.store.expire_of(pos);
    let copied = match cx.store.value_at(pos) {
        ValueRef::Obj(o) if !matches!(o, Object::Str(_)) => Copied::Obj(o.clone()),
        v => {
            let from = cx.out.len();
            cx.out.extend_from_slice(v.as_str().unwrap_or_default());
            Copied::Bytes(from)
        }
    };
    let bytes_from = match copied {
        Copied::Bytes(from) => Some(from),
        Copied::Obj(_) => None,
    };
    let d = cx.args.get(dst);
    let existed = cx
        .store
        .lookup(dst_db, d, cx.now_ms, Lookup::WRITE)
        .is_some();
    let result = if existed && !replace {
        Ok(None)
    } else if cx.store.make_room().is_err() {
        Err(Error::Oom)
    } else {
        match copied {
            Copied::Bytes(from) => cx
                .store
                .set(dst_db, d, &cx.out[from..], expiry_of(at), cx.now_ms)
                .map_err(|_| Error::Oom)
                .map(|()| cx.store.lookup(dst_db, d, cx.now_ms, Lookup::PEEK)),
            Copied::Obj(o) => {
                if let Some(p) = cx.store.lookup(dst_db, d, cx.now_ms, Lookup::PEEK) {
                    cx.store.remove_at(p);
                }
                cx.store
                    .insert_object(dst_db, d, o, at)
                    .map(Some)
                    .map_err(|_| Error::Oom)
            }
        }
    };
    // The string's bytes were only a copy on their way.
    if let Some(from) = bytes_from {
        cx.out.truncate(from);
    }
    match result? {
        Some(pos) => {
            log_put(cx, dst_db, d, pos, existed);
            if existed && bytes_from.is_some() {
                // Redis deletes the destination and adds the copy: a new key
                // (a string here is written over the old value instead).
                cx.store.notify(dst_db, crate::notify::NEW, "new", d);
            }
            cx.store.notify(dst_db, GENERIC, "copy_to", d);
            Ok(Reply::Int(1))
        }
        None => Ok(Reply::Int(0)),
    }
}

/// MOVE re-files the key under another database of this shard (the
/// routing hash ignores the database) and logs `DEL` in the source and the
/// key's records in the destination.
fn move_key(cx: &mut Cx, key: Arg, dst: usize) -> Reply {
    let k = cx.args.get(key);
    if dst >= NUM_DBS {
        return Reply::Int(0);
    }
    match cx.store.move_key(cx.db, dst, k, cx.now_ms) {
        Some(pos) => {
            cx.persist.log.put(cx.db as u8, &Record::Del { key: k });
            log_put(cx, dst, k, pos, false);
            cx.notify(GENERIC, "move_from", k);
            cx.store.notify(dst, GENERIC, "move_to", k);
            Reply::Int(1)
        }
        None => Reply::Int(0),
    }
}

/// A key's DUMP payload and expiry for a cross-shard RENAME/COPY/MOVE,
/// without statistics or LRU effect: a tape `[payload, expire_at]`, or nil.
fn read(cx: &mut Cx, key: Arg, copy: bool) -> Reply {
    let k = cx.args.get(key);
    let how = if copy { Lookup::READ } else { Lookup::PEEK };
    let Some(pos) = cx.store.lookup(cx.db, k, cx.now_ms, how) else {
        return Reply::Nil;
    };
    let at = cx.store.expire_of(pos);
    let payload = dump::dump(cx.store.value_at(pos), &cx.store.value_limits());
    let mut w = TapeWriter::new(cx.out);
    w.array(2);
    w.bulk(&payload);
    w.int(at as i64);
    w.finish()
}

/// DUMP key (a read look-up).
fn dump_key(cx: &mut Cx, key: Arg) -> R {
    let k = cx.args.get(key);
    let Some(pos) = cx.store.lookup(cx.db, k, cx.now_ms, Lookup::READ) else {
        return Ok(Reply::Nil);
    };
    let value = cx.store.value_at(pos);
    let payload = dump::dump(value, &cx.store.value_limits());
    Ok(bulk(cx.out, &payload))
}

/// Decodes a payload for RESTORE and the cross-shard write step.
fn restored(cx: &Cx, payload: Arg) -> Result<Restored, Error> {
    dump::restore(cx.args.get(payload), &cx.store.value_limits()).map_err(|e| match e {
        RestoreError::VersionOrChecksum => Error::BadPayload,
        RestoreError::BadFormat => Error::BadData,
    })
}

/// Puts a restored value under `key` (absent) with its expiry; returns its
/// position.
fn put_restored(cx: &mut Cx, key: &[u8], value: Restored, at: u64) -> Result<u32, Error> {
    let db = cx.db;
    match value {
        Restored::Str(v) => {
            cx.store
                .set(db, key, &v, expiry_of(at), cx.now_ms)
                .map_err(|_| Error::Oom)?;
            cx.store
                .lookup(db, key, cx.now_ms, Lookup::PEEK)
                .ok_or(Error::Oom)
        }
        Restored::Obj(o) => cx
            .store
            .insert_object(db, key, o, at)
            .map_err(|_| Error::Oom),
    }
}

/// RESTORE, after Redis 7.0's `restoreCommand`: BUSYKEY first (without
/// REPLACE), then the TTL's errors, then the payload's; REPLACE deletes
/// the key; a TTL already past creates nothing (a replaced key is then
/// just deleted, logged as `DEL`); IDLETIME sets the key's access time
/// under an LRU policy, FREQ its counter under an LFU one (each is ignored
/// under the other, as in Redis). Logged as the key's records (after `DEL key` when it
/// replaced one), never as RESTORE.
#[allow(clippy::too_many_arguments)]
fn restore(
    cx: &mut Cx,
    key: Arg,
    payload: Arg,
    ttl: i64,
    bad_ttl: &Option<Error>,
    absttl: bool,
    replace: bool,
    (idletime, freq): (Option<u64>, Option<u8>),
) -> R {
    cx.make_room()?;
    let (db, k) = (cx.db, cx.args.get(key));
    let existing = cx.store.lookup(db, k, cx.now_ms, Lookup::WRITE);
    if existing.is_some() && !replace {
        return Err(Error::BusyKey);
    }
    if let Some(e) = bad_ttl {
        return Err(e.clone());
    }
    if ttl < 0 {
        return Err(Error::InvalidTtl);
    }
    let value = restored(cx, payload)?;
    if let Some(pos) = existing {
        cx.store.remove_at(pos);
    }
    let at = match ttl {
        0 => 0,
        t if absttl => t as u64,
        t => cx.now_ms.saturating_add(t as u64),
    };
    if at != 0 && at <= cx.now_ms {
        if existing.is_some() {
            cx.persist.log.put(db as u8, &Record::Del { key: k });
            cx.notify(GENERIC, "del", k);
        }
        return Ok(Reply::Ok);
    }
    let pos = put_restored(cx, k, value, at)?;
    if let Some(idle) = idletime {
        cx.store.set_idle(pos, idle);
    }
    if let Some(f) = freq {
        cx.store.set_freq(pos, f);
    }
    log_put(cx, db, k, pos, existing.is_some());
    cx.notify(GENERIC, "restore", k);
    Ok(Reply::Ok)
}

/// The write step of a cross-shard RENAME/COPY/MOVE: puts the payload's
/// value under `key` with `expire_at` → 1 when written, 0 when the key
/// exists and `replace` is off. A deadline already past writes nothing
/// (and removes a replaced key). Does not evict first: RENAME and MOVE
/// move memory rather than add it (a COPY's server checks memory before).
fn write(
    cx: &mut Cx,
    key: Arg,
    payload: Arg,
    expire_at: u64,
    replace: bool,
    event: &'static str,
) -> R {
    let value = restored(cx, payload)?;
    let (db, k) = (cx.db, cx.args.get(key));
    let existing = cx.store.lookup(db, k, cx.now_ms, Lookup::WRITE);
    if existing.is_some() && !replace {
        return Ok(Reply::Int(0));
    }
    if let Some(pos) = existing {
        cx.store.remove_at(pos);
    }
    if expire_at != 0 && expire_at <= cx.now_ms {
        if existing.is_some() {
            cx.persist.log.put(db as u8, &Record::Del { key: k });
        }
        return Ok(Reply::Int(1));
    }
    let pos = put_restored(cx, k, value, expire_at)?;
    log_put(cx, db, k, pos, existing.is_some());
    cx.notify(GENERIC, event, k);
    Ok(Reply::Int(1))
}

/// Redis's `OBJ_SHARED_REFCOUNT` (`INT_MAX`): what REFCOUNT says of a shared integer.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Redis's `OBJ_SHARED_INTEGERS`: values 0..10000 may be shared objects.
const SHARED_INTEGERS: i64 = 10_000;
/// Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`.
const EMBSTR_MAX: usize = 44;

/// Redis's encoding name for a string `value` written the way `enc` says;
/// integers are tried up to 20 characters, as `tryObjectEncoding` does.
fn str_encoding(enc: StrEncoding, value: &[u8]) -> &'static str {
    match enc {
        StrEncoding::Raw => "raw",
        StrEncoding::Auto if value.len() <= 20 && parse_i64(value).is_some() => "int",
        _ if value.len() <= EMBSTR_MAX => "embstr",
        _ => "raw",
    }
}

/// OBJECT ENCODING's name for a value.
pub(super) fn encoding_name(enc: StrEncoding, value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Str(v) => str_encoding(enc, v),
        ValueRef::Obj(o) => o.encoding_name(),
    }
}

/// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key: a read look-up that counts a
/// hit or miss but neither touches the key nor refreshes its access time.
///
/// ENCODING and REFCOUNT of strings follow from the value and how it was
/// last written (`StrEncoding`). Where Redis's answer depends on more history
/// than that, this one may differ: a small integer written while maxmemory
/// was set under an LRU policy stays unshared (REFCOUNT 1) in Redis after the
/// limit is lifted, whereas here the policy in force at the query decides;
/// and after a restart every value reads as Redis reports it after loading
/// the same AOF (whole `SET` records: `int`/`embstr`/`raw` by content).
fn object(cx: &mut Cx, key: Arg, field: ObjectField, shared_ints: bool) -> R {
    let k = cx.args.get(key);
    let lfu = cx.store.lfu_on();
    let Some((value, enc, access)) = cx.store.object_info(cx.db, k, cx.now_ms) else {
        return Ok(Reply::Nil);
    };
    let name = encoding_name(enc, value);
    Ok(match field {
        ObjectField::Encoding => bulk(cx.out, name.as_bytes()),
        ObjectField::Refcount => {
            let shared = shared_ints
                && name == "int"
                && value
                    .as_str()
                    .and_then(parse_i64)
                    .is_some_and(|n| (0..SHARED_INTEGERS).contains(&n));
            Reply::Int(if shared { SHARED_REFCOUNT } else { 1 })
        }
        // The key is looked up first: a missing key is nil whatever the policy.
        ObjectField::Idletime if lfu => return Err(Error::LfuSelected),
        ObjectField::Freq if !lfu => return Err(Error::NoLfu),
        ObjectField::Idletime | ObjectField::Freq => Reply::Int(access as i64),
    })
}
