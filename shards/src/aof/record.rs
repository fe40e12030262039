//! The records of a segment: one type that both writes them (as Redis AOF
//! commands) and reads them back for replay.
//!
//! Records are absolute state changes only: `SET k v [PXAT ms]`, `DEL k`,
//! `PEXPIREAT k ms`, `PERSIST k`, `FLUSHDB`, `FLUSHALL`, `SWAPDB a b`, and
//! for collections `HSET k f v ...`, `HDEL k f ...`, `SADD k m ...`, `SREM k
//! m ...`, `ZADD k score m ...`, `ZREM k m ...` (each absolute for the
//! fields or members it names), with `SELECT` whenever the database
//! changes. Lists are the exception: their records (`RPUSH`, `LPUSH`,
//! `LPOP k n`, `RPOP k n`, `LSET`, `LINSERT`, `LREM`, `LTRIM`) are Redis's
//! own commands, relative to the list they find (see `lists` for how the
//! rewrite stays correct with them). Being absolute, a record may be
//! applied twice without harm, which is what makes the incremental rewrite
//! correct, and every segment is a valid Redis AOF (`redis-check-aof`
//! accepts it, `redis-cli --pipe` imports it).
//!
//! The incremental rewrite replays the records of writes made during its
//! walk after a snapshot that may already hold their effects (and later
//! ones). Field-level records survive that because every change to a key
//! as a whole is a record of its own: a write that empties a collection
//! logs `DEL k`, not the `HDEL`/`SREM` that emptied it, and a value that
//! replaces a collection (RENAME, COPY, RESTORE, *STORE) logs `DEL k`
//! first. So each field, each member and the TTL end as the last record
//! that names them (or their key) left them. A record that meets a key of
//! another type during replay is skipped: a later record replaces that key.

use super::lists::{self, ListRecord};
use super::streams::{self, StreamRecord};
use crate::batch::{ArgList, Args};
use crate::keyspace::{Expiry, Lookup, Store, ValueRef};
use crate::value::{HashValue, Object, SetValue};
use crate::NUM_DBS;

/// Items per collection record written by a rewrite or a value's copy
/// (Redis's `AOF_REWRITE_ITEMS_PER_CMD`: 64 members, or 64 field/value pairs).
pub const ITEMS_PER_RECORD: usize = 64;

/// The list of byte strings a collection record carries.
#[derive(Clone, Copy)]
pub enum Items<'a> {
    /// Borrowed byte strings.
    List(&'a [&'a [u8]]),
    /// A run of a batch's argument list (an op's own arguments).
    Args(&'a Args, ArgList),
}

impl<'a> Items<'a> {
    /// Number of byte strings.
    pub fn len(&self) -> usize {
        match self {
            Items::List(l) => l.len(),
            Items::Args(_, l) => l.len as usize,
        }
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Byte string `i`.
    pub fn get(&self, i: usize) -> &'a [u8] {
        match *self {
            Items::List(l) => l[i],
            Items::Args(a, l) => a.item(l, i),
        }
    }

    /// The byte strings in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Items `from..from + n` (within range).
    pub fn slice(&self, from: usize, n: usize) -> Items<'a> {
        match *self {
            Items::List(l) => Items::List(&l[from..from + n]),
            Items::Args(a, l) => Items::Args(
                a,
                ArgList {
                    first: l.first + from as u32,
                    len: n as u32,
                },
            ),
        }
    }
}

impl PartialEq for Items<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Items<'_> {}

impl std::fmt::Debug for Items<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

pub(super) fn put_bulk(buf: &mut Vec<u8>, arg: &[u8]) {
    buf.push(b'$');
    buf.extend_from_slice(itoa::Buffer::new().format(arg.len()).as_bytes());
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(arg);
    buf.extend_from_slice(b"\r\n");
}

fn put_header(buf: &mut Vec<u8>, n: usize) {
    buf.push(b'*');
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    buf.extend_from_slice(b"\r\n");
}

pub(super) fn put_command(buf: &mut Vec<u8>, args: &[&[u8]]) {
    put_header(buf, args.len());
    for a in args {
        put_bulk(buf, a);
    }
}

/// `NAME key items...`.
fn put_list(buf: &mut Vec<u8>, name: &[u8], key: &[u8], items: Items) {
    put_header(buf, 2 + items.len());
    put_bulk(buf, name);
    put_bulk(buf, key);
    for a in items.iter() {
        put_bulk(buf, a);
    }
}

/// One change, as the AOF holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// `SELECT db`: the records that follow are in this database.
    Select(u8),
    /// `SET key value [PXAT ms]` (0: no expiry).
    Set {
        /// The key.
        key: &'a [u8],
        /// The value.
        value: &'a [u8],
        /// Absolute expiry in unix ms, 0 for none.
        pxat: u64,
    },
    /// `DEL key`.
    Del {
        /// The key.
        key: &'a [u8],
    },
    /// `PEXPIREAT key ms`.
    PExpireAt {
        /// The key.
        key: &'a [u8],
        /// Absolute deadline in unix ms.
        at: u64,
    },
    /// `FLUSHDB` (of the selected database).
    FlushDb,
    /// `FLUSHALL`.
    FlushAll,
    /// `SWAPDB a b`.
    SwapDb {
        /// One database.
        a: u8,
        /// The other.
        b: u8,
    },
    /// `PERSIST key`: the key's TTL is gone.
    Persist {
        /// The key.
        key: &'a [u8],
    },
    /// `HSET key field value [field value ...]`.
    HSet {
        /// The key.
        key: &'a [u8],
        /// Fields and values, alternating (an even, non-zero number).
        pairs: Items<'a>,
    },
    /// `HDEL key field [field ...]`.
    HDel {
        /// The key.
        key: &'a [u8],
        /// The fields.
        fields: Items<'a>,
    },
    /// `SADD key member [member ...]`.
    SAdd {
        /// The key.
        key: &'a [u8],
        /// The members.
        members: Items<'a>,
    },
    /// `SREM key member [member ...]`.
    SRem {
        /// The key.
        key: &'a [u8],
        /// The members.
        members: Items<'a>,
    },
    /// A list change (`RPUSH`, `LPUSH`, `LPOP`, `RPOP`, `LSET`, `LINSERT`,
    /// `LREM`, `LTRIM`).
    List(ListRecord<'a>),
    /// `ZADD key score member [score member ...]`: scores as Redis prints
    /// them (`%.17g`, `inf`, `-inf`).
    ZAdd {
        /// The key.
        key: &'a [u8],
        /// Scores and members, alternating.
        pairs: Items<'a>,
    },
    /// `ZREM key member [member ...]`.
    ZRem {
        /// The key.
        key: &'a [u8],
        /// The members.
        members: Items<'a>,
    },
    /// A stream change (`XADD`, `XTRIM`, `XDEL`, `XSETID`).
    Stream(StreamRecord<'a>),
}

impl<'a> Record<'a> {
    /// True when the record applies to the selected database (so a
    /// `SELECT` must precede it when the database changed).
    pub fn in_db(&self) -> bool {
        !matches!(
            self,
            Record::Select(_) | Record::FlushAll | Record::SwapDb { .. }
        )
    }

    /// Appends the record as a Redis command in RESP.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        let mut n1 = itoa::Buffer::new();
        let mut n2 = itoa::Buffer::new();
        match *self {
            Record::Select(db) => put_command(buf, &[b"SELECT", n1.format(db).as_bytes()]),
            Record::Set {
                key,
                value,
                pxat: 0,
            } => put_command(buf, &[b"SET", key, value]),
            Record::Set { key, value, pxat } => put_command(
                buf,
                &[b"SET", key, value, b"PXAT", n1.format(pxat).as_bytes()],
            ),
            Record::Del { key } => put_command(buf, &[b"DEL", key]),
            Record::PExpireAt { key, at } => {
                put_command(buf, &[b"PEXPIREAT", key, n1.format(at).as_bytes()])
            }
            Record::FlushDb => put_command(buf, &[b"FLUSHDB"]),
            Record::FlushAll => put_command(buf, &[b"FLUSHALL"]),
            Record::SwapDb { a, b } => put_command(
                buf,
                &[b"SWAPDB", n1.format(a).as_bytes(), n2.format(b).as_bytes()],
            ),
            Record::Persist { key } => put_command(buf, &[b"PERSIST", key]),
            Record::HSet { key, pairs } => put_list(buf, b"HSET", key, pairs),
            Record::HDel { key, fields } => put_list(buf, b"HDEL", key, fields),
            Record::SAdd { key, members } => put_list(buf, b"SADD", key, members),
            Record::SRem { key, members } => put_list(buf, b"SREM", key, members),
            Record::List(l) => l.encode(buf),
            Record::ZAdd { key, pairs } => put_list(buf, b"ZADD", key, pairs),
            Record::ZRem { key, members } => put_list(buf, b"ZREM", key, members),
            Record::Stream(x) => x.encode(buf),
        }
    }

    /// Reads the records one command of a segment holds (a `DEL` of several
    /// keys is one record per key), handing each to `f`.
    pub fn parse(
        args: &'a [&'a [u8]],
        mut f: impl FnMut(Record<'a>) -> Result<(), String>,
    ) -> Result<(), String> {
        let Some(cmd) = args.first() else {
            return Err("empty record".into());
        };
        let mut name = [0u8; 16];
        if cmd.len() > name.len() {
            return Err("unexpected record".into());
        }
        name[..cmd.len()].copy_from_slice(cmd);
        name[..cmd.len()].make_ascii_uppercase();
        let name = &name[..cmd.len()];
        let db_arg = |b: &[u8], what: &str| {
            parse_u64(b)
                .filter(|&d| (d as usize) < NUM_DBS)
                .map(|d| d as u8)
                .ok_or_else(|| format!("bad {what}"))
        };
        match (name, args.len()) {
            (b"SELECT", 2) => f(Record::Select(db_arg(args[1], "SELECT")?)),
            (b"SET", 3) => f(Record::Set {
                key: args[1],
                value: args[2],
                pxat: 0,
            }),
            (b"SET", 5) if args[3].eq_ignore_ascii_case(b"PXAT") => f(Record::Set {
                key: args[1],
                value: args[2],
                pxat: parse_u64(args[4]).ok_or("bad PXAT")?.max(1),
            }),
            (b"DEL", n) if n >= 2 => args[1..].iter().try_for_each(|&key| f(Record::Del { key })),
            (b"PEXPIREAT", 3) => f(Record::PExpireAt {
                key: args[1],
                at: parse_u64(args[2]).ok_or("bad PEXPIREAT")?,
            }),
            (b"SWAPDB", 3) => f(Record::SwapDb {
                a: db_arg(args[1], "SWAPDB")?,
                b: db_arg(args[2], "SWAPDB")?,
            }),
            (b"FLUSHDB", 1) => f(Record::FlushDb),
            (b"FLUSHALL", 1) => f(Record::FlushAll),
            (b"PERSIST", 2) => f(Record::Persist { key: args[1] }),
            (b"HSET", n) if n >= 4 && n % 2 == 0 => f(Record::HSet {
                key: args[1],
                pairs: Items::List(&args[2..]),
            }),
            (b"HDEL", n) if n >= 3 => f(Record::HDel {
                key: args[1],
                fields: Items::List(&args[2..]),
            }),
            (b"SADD", n) if n >= 3 => f(Record::SAdd {
                key: args[1],
                members: Items::List(&args[2..]),
            }),
            (b"SREM", n) if n >= 3 => f(Record::SRem {
                key: args[1],
                members: Items::List(&args[2..]),
            }),
            (b"ZADD", n) if n >= 4 && n % 2 == 0 => f(Record::ZAdd {
                key: args[1],
                pairs: Items::List(&args[2..]),
            }),
            (b"ZREM", n) if n >= 3 => f(Record::ZRem {
                key: args[1],
                members: Items::List(&args[2..]),
            }),
            (name, _) if ListRecord::names(name) => f(Record::List(ListRecord::parse(name, args)?)),
            (name, _) if StreamRecord::names(name) => {
                f(Record::Stream(StreamRecord::parse(name, args)?))
            }
            _ => Err(format!(
                "unexpected record '{}' with {} arguments",
                String::from_utf8_lossy(name),
                args.len()
            )),
        }
    }

    /// Appends the records that recreate a key: a `SELECT` when `db`
    /// differs from `*selected` (which follows), then its value with its
    /// expiry (the rewrite and re-routing write keys this way).
    pub fn snapshot(
        buf: &mut Vec<u8>,
        selected: &mut Option<u8>,
        db: u8,
        key: &[u8],
        value: ValueRef,
        expire_at: u64,
    ) {
        if *selected != Some(db) {
            Record::Select(db).encode(buf);
            *selected = Some(db);
        }
        Record::for_value(key, value, expire_at, |r| r.encode(buf));
    }

    /// Hands `f` the records that create `key` with `value` and its expiry
    /// (0: none) on a key that is absent: `SET key value [PXAT ms]` for a
    /// string; for a hash `HSET` of at most 64 pairs per record, for a set
    /// `SADD` of at most 64 members per record, for a list `RPUSH` of at
    /// most 64 elements per record, for a sorted set `ZADD` of at most 64
    /// members per record, then `PEXPIREAT` when it has a TTL. A caller
    /// that replaces a collection logs `DEL key` first.
    pub fn for_value(key: &[u8], value: ValueRef, expire_at: u64, mut f: impl FnMut(Record)) {
        let obj = match value {
            ValueRef::Obj(o) if !matches!(o, Object::Str(_)) => o,
            _ => {
                let v = value.as_str().unwrap_or_default();
                f(Record::Set {
                    key,
                    value: v,
                    pxat: expire_at,
                });
                return;
            }
        };
        match obj {
            Object::Hash(h) => {
                let mut refs: Vec<&[u8]> = Vec::with_capacity(2 * ITEMS_PER_RECORD);
                let mut it = h.iter();
                loop {
                    refs.clear();
                    for (k, v) in it.by_ref().take(ITEMS_PER_RECORD) {
                        refs.push(k);
                        refs.push(v);
                    }
                    if refs.is_empty() {
                        break;
                    }
                    f(Record::HSet {
                        key,
                        pairs: Items::List(&refs),
                    });
                }
            }
            Object::Set(s) => for_members(s, |members| f(Record::SAdd { key, members })),
            Object::List(l) => lists::for_list(key, l, &mut f),
            Object::ZSet(z) => lists::for_zset(key, z, &mut f),
            Object::Stream(x) => streams::for_stream(key, x, &mut f),
            _ => {}
        }
        if expire_at != 0 {
            f(Record::PExpireAt { key, at: expire_at });
        }
    }

    /// Applies the record to `store` (`db`: the selected database, which
    /// `Select` changes). A deadline already past deletes the key: it must
    /// not come back.
    pub fn apply(&self, store: &mut Store, db: &mut u8, now: u64) {
        let d = *db as usize;
        match *self {
            Record::Select(n) => *db = n,
            Record::Set { key, value, pxat } if pxat != 0 && pxat <= now => {
                store.del(d, key, now);
                let _ = value;
            }
            Record::Set { key, value, pxat } => {
                let e = if pxat == 0 {
                    Expiry::Clear
                } else {
                    Expiry::At(pxat)
                };
                let _ = store.set(d, key, value, e, now);
            }
            Record::Del { key } => {
                store.del(d, key, now);
            }
            Record::PExpireAt { key, at } if at <= now => {
                store.del(d, key, now);
            }
            Record::PExpireAt { key, at } => {
                store.expire(d, key, at, now);
            }
            Record::FlushDb => store.flush_db(d),
            Record::FlushAll => store.flush_all(),
            Record::SwapDb { a, b } => store.swap_db(a as usize, b as usize),
            Record::Persist { key } => {
                store.expire(d, key, 0, now);
            }
            Record::HSet { key, pairs } => {
                let limits = store.value_limits().hash;
                let set_all = |h: &mut HashValue| {
                    h.try_conversion(pairs.iter(), &limits);
                    for i in (0..pairs.len()).step_by(2) {
                        h.set(pairs.get(i), pairs.get(i + 1), &limits);
                    }
                };
                match store.lookup(d, key, now, Lookup::PEEK) {
                    None => {
                        let mut h = HashValue::new();
                        set_all(&mut h);
                        let _ = store.insert_object(d, key, Object::Hash(h), 0);
                    }
                    Some(pos) => {
                        store.with_object(pos, |o| {
                            if let Object::Hash(h) = o {
                                set_all(h);
                            }
                        });
                    }
                }
            }
            Record::SAdd { key, members } => {
                let limits = store.value_limits().set;
                let add_all = |s: &mut SetValue| {
                    for m in members.iter() {
                        s.add(m, &limits);
                    }
                };
                match store.lookup(d, key, now, Lookup::PEEK) {
                    None => {
                        let mut s = SetValue::new();
                        add_all(&mut s);
                        let _ = store.insert_object(d, key, Object::Set(s), 0);
                    }
                    Some(pos) => {
                        store.with_object(pos, |o| {
                            if let Object::Set(s) = o {
                                add_all(s);
                            }
                        });
                    }
                }
            }
            Record::List(l) => l.apply(store, d, now),
            Record::ZAdd { key, pairs } => lists::apply_zadd(store, d, key, pairs, now),
            Record::ZRem { key, members } => lists::apply_zrem(store, d, key, members, now),
            Record::Stream(x) => x.apply(store, d, now),
            Record::HDel { key, fields: items }
            | Record::SRem {
                key,
                members: items,
            } => {
                let Some(pos) = store.lookup(d, key, now, Lookup::PEEK) else {
                    return;
                };
                let emptied = store.with_object(pos, |o| match o {
                    Object::Hash(h) => {
                        items.iter().for_each(|f| {
                            h.remove(f);
                        });
                        h.is_empty()
                    }
                    Object::Set(s) => {
                        items.iter().for_each(|m| {
                            s.remove(m);
                        });
                        s.is_empty()
                    }
                    _ => false,
                });
                if emptied == Some(true) {
                    store.remove_at(pos);
                }
            }
        }
    }
}

/// Hands `f` the members of `s` in runs of at most `ITEMS_PER_RECORD`.
pub(crate) fn for_members(s: &SetValue, mut f: impl FnMut(Items)) {
    let mut text: Vec<u8> = Vec::new();
    let mut ends: Vec<usize> = Vec::with_capacity(ITEMS_PER_RECORD);
    let mut it = s.iter();
    loop {
        text.clear();
        ends.clear();
        for m in it.by_ref().take(ITEMS_PER_RECORD) {
            m.with_bytes(|b| text.extend_from_slice(b));
            ends.push(text.len());
        }
        if ends.is_empty() {
            return;
        }
        let mut from = 0;
        let refs: Vec<&[u8]> = ends
            .iter()
            .map(|&end| {
                let b = &text[from..end];
                from = end;
                b
            })
            .collect();
        f(Items::List(&refs));
    }
}

pub(super) enum Frame {
    Done(usize),
    Incomplete,
    Bad(String),
}

fn parse_len(line: &[u8]) -> Option<usize> {
    std::str::from_utf8(line).ok()?.parse().ok()
}

/// Parses one multibulk frame at the start of `b`, filling `args` with ranges.
pub(super) fn parse_frame(b: &[u8], args: &mut Vec<(usize, usize)>) -> Frame {
    args.clear();
    let line = |from: usize| -> Option<usize> { memchr_crlf(&b[from..]).map(|i| from + i) };
    if b.is_empty() {
        return Frame::Incomplete;
    }
    if b[0] != b'*' {
        return Frame::Bad(format!("expected '*', got byte 0x{:02x}", b[0]));
    }
    let Some(cr) = line(1) else {
        return if b.len() > 32 {
            Frame::Bad("multibulk header too long".into())
        } else {
            Frame::Incomplete
        };
    };
    let Some(n) = parse_len(&b[1..cr]) else {
        return Frame::Bad("invalid multibulk length".into());
    };
    if n == 0 || n > 1 << 20 {
        return Frame::Bad("invalid multibulk length".into());
    }
    let mut pos = cr + 2;
    for _ in 0..n {
        if pos >= b.len() {
            return Frame::Incomplete;
        }
        if b[pos] != b'$' {
            return Frame::Bad(format!("expected '$', got byte 0x{:02x}", b[pos]));
        }
        let Some(cr) = line(pos + 1) else {
            return if b.len() - pos > 32 {
                Frame::Bad("bulk header too long".into())
            } else {
                Frame::Incomplete
            };
        };
        let Some(len) = parse_len(&b[pos + 1..cr]) else {
            return Frame::Bad("invalid bulk length".into());
        };
        let data = cr + 2;
        if b.len() < data + len + 2 {
            return Frame::Incomplete;
        }
        if &b[data + len..data + len + 2] != b"\r\n" {
            return Frame::Bad("bulk not terminated by CRLF".into());
        }
        args.push((data, len));
        pos = data + len + 2;
    }
    Frame::Done(pos)
}

fn memchr_crlf(b: &[u8]) -> Option<usize> {
    let i = b.iter().position(|&c| c == b'\r')?;
    (i + 1 < b.len()).then_some(i)
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}
