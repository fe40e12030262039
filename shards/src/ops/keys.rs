//! Ops on keys of any type (Redis's `db.c` and `expire.c`): DEL, EXISTS,
//! TOUCH, TYPE, the TTL and EXPIRE families, PERSIST, RENAME, COPY, MOVE,
//! OBJECT, MEMORY USAGE, WATCH, and the reads and probes the server's
//! cross-shard sections build on.
//!
//! RENAME, COPY and MOVE log the result as absolute records (`DEL src`,
//! `SET dst value [PXAT ms]`), which a replay and a Redis importing the
//! segment apply alike.

use super::{bulk, parse_i64, Cx};
use crate::aof::Record;
use crate::batch::{Arg, ArgList, Reply};
use crate::error::Error;
use crate::keyspace::{Expiry, Lookup, StrEncoding, ValueRef};
use crate::tape::TapeWriter;
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
    /// A key's value and TTL for a cross-shard move, without counting or
    /// touching it → a tape `[value, expire_at]`, or nil.
    Read {
        /// The key.
        key: Arg,
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
        )
    }

    pub(super) fn exec(&self, cx: &mut Cx) -> Reply {
        let r = match *self {
            KeyOp::Del { key } => del(cx, key),
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
            KeyOp::Read { key } => Ok(read(cx, key)),
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

fn del(cx: &mut Cx, key: Arg) -> R {
    let k = cx.args.get(key);
    let existed = cx.store.del(cx.db, k, cx.now_ms);
    if existed {
        cx.persist.log.put(cx.db as u8, &Record::Del { key: k });
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
    } else {
        cx.store.expire(db, k, when as u64, cx.now_ms);
        cx.persist.log.put(
            db as u8,
            &Record::PExpireAt {
                key: k,
                at: when as u64,
            },
        );
    }
    Reply::Int(1)
}

/// PERSIST key, logged as the `SET` of the value without TTL for strings
/// (a record Redis and a replay agree on).
fn persist(cx: &mut Cx, key: Arg) -> Reply {
    let (db, k) = (cx.db, cx.args.get(key));
    let Some(pos) = cx.store.lookup(db, k, cx.now_ms, Lookup::WRITE) else {
        return Reply::Int(0);
    };
    if cx.store.expire_of(pos) == 0 {
        return Reply::Int(0);
    }
    if let Some(v) = cx.store.value_at(pos).as_str() {
        cx.persist.log.put(
            db as u8,
            &Record::Set {
                key: k,
                value: v,
                pxat: 0,
            },
        );
    }
    cx.store.expire(db, k, 0, cx.now_ms);
    Reply::Int(1)
}

/// Copies the string at `key` (db `db`, looked up for writing) into
/// `cx.out`; returns where it starts and its expiry.
fn take_copy(cx: &mut Cx, db: usize, key: Arg) -> Result<Option<(usize, u64)>, Error> {
    let k = cx.args.get(key);
    let Some(pos) = cx.store.lookup(db, k, cx.now_ms, Lookup::WRITE) else {
        return Ok(None);
    };
    let at = cx.store.expire_of(pos);
    let v = cx.store.value_at(pos).as_str().ok_or(Error::WrongType)?;
    let from = cx.out.len();
    cx.out.extend_from_slice(v);
    Ok(Some((from, at)))
}

fn expiry_of(at: u64) -> Expiry {
    if at == 0 {
        Expiry::Clear
    } else {
        Expiry::At(at)
    }
}

/// RENAME / RENAMENX with both keys here (Redis's `renameGenericCommand`:
/// the source is looked up for writing, RENAME of a key to itself is OK).
fn rename(cx: &mut Cx, src: Arg, dst: Arg, nx: bool) -> R {
    let db = cx.db;
    let Some((from, at)) = take_copy(cx, db, src)? else {
        return Err(Error::NoSuchKey);
    };
    let (s, d) = (cx.args.get(src), cx.args.get(dst));
    let done = |nx: bool| if nx { Reply::Int(1) } else { Reply::Ok };
    let reply = if s == d {
        if nx {
            Reply::Int(0)
        } else {
            Reply::Ok
        }
    } else if nx && cx.store.lookup(db, d, cx.now_ms, Lookup::WRITE).is_some() {
        Reply::Int(0)
    } else {
        cx.store.del(db, s, cx.now_ms);
        let value = &cx.out[from..];
        let _ = cx.store.set(db, d, value, expiry_of(at), cx.now_ms);
        cx.persist.log.put(db as u8, &Record::Del { key: s });
        cx.persist.log.put(
            db as u8,
            &Record::Set {
                key: d,
                value,
                pxat: at,
            },
        );
        done(nx)
    };
    cx.out.truncate(from);
    Ok(reply)
}

/// COPY with both keys here.
fn copy(cx: &mut Cx, src: Arg, dst: Arg, dst_db: usize, replace: bool) -> R {
    let db = cx.db;
    let Some((from, at)) = take_copy(cx, db, src)? else {
        return Ok(Reply::Int(0));
    };
    let d = cx.args.get(dst);
    let reply = if !replace
        && cx
            .store
            .lookup(dst_db, d, cx.now_ms, Lookup::WRITE)
            .is_some()
    {
        Reply::Int(0)
    } else if cx.store.make_room().is_err() {
        Reply::Err(Error::Oom)
    } else {
        let value = &cx.out[from..];
        match cx.store.set(dst_db, d, value, expiry_of(at), cx.now_ms) {
            Ok(()) => {
                cx.persist.log.put(
                    dst_db as u8,
                    &Record::Set {
                        key: d,
                        value,
                        pxat: at,
                    },
                );
                Reply::Int(1)
            }
            Err(_) => Reply::Err(Error::Oom),
        }
    };
    cx.out.truncate(from);
    Ok(reply)
}

/// MOVE re-files the key under another database of this shard (the
/// routing hash ignores the database) and logs `DEL` in the source and the
/// `SET` in the destination.
fn move_key(cx: &mut Cx, key: Arg, dst: usize) -> Reply {
    let k = cx.args.get(key);
    if dst >= NUM_DBS {
        return Reply::Int(0);
    }
    match cx.store.move_key(cx.db, dst, k, cx.now_ms) {
        Some(pos) => {
            cx.persist.log.put(cx.db as u8, &Record::Del { key: k });
            let value = cx.store.value_at(pos).as_str().unwrap_or_default();
            let at = cx.store.expire_of(pos);
            cx.persist.log.put(
                dst as u8,
                &Record::Set {
                    key: k,
                    value,
                    pxat: at,
                },
            );
            Reply::Int(1)
        }
        None => Reply::Int(0),
    }
}

/// A string key's value and expiry for a cross-shard RENAME/COPY, without
/// statistics or LRU effect.
fn read(cx: &mut Cx, key: Arg) -> Reply {
    let k = cx.args.get(key);
    let Some(pos) = cx.store.lookup(cx.db, k, cx.now_ms, Lookup::PEEK) else {
        return Reply::Nil;
    };
    let at = cx.store.expire_of(pos);
    let Some(v) = cx.store.value_at(pos).as_str() else {
        return Reply::Err(Error::WrongType);
    };
    let mut w = TapeWriter::new(cx.out);
    w.array(2);
    w.bulk(v);
    w.int(at as i64);
    w.finish()
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
    let Some((value, enc, idle)) = cx.store.object_info(cx.db, k, cx.now_ms) else {
        return Ok(Reply::Nil);
    };
    let name = match value {
        ValueRef::Str(v) => str_encoding(enc, v),
        ValueRef::Obj(o) => o.encoding_name(),
    };
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
        ObjectField::Idletime => Reply::Int(idle as i64),
        // No LFU policy exists here, so access frequency is never tracked.
        ObjectField::Freq => return Err(Error::NoLfu),
    })
}
