//! The records of a segment: one type that both writes them (as Redis AOF
//! commands) and reads them back for replay.
//!
//! Records are absolute state changes only: `SET k v [PXAT ms]`, `DEL k`,
//! `PEXPIREAT k ms`, `FLUSHDB`, `FLUSHALL`, `SWAPDB a b`, with `SELECT`
//! whenever the database changes. Being absolute, a record may be applied
//! twice without harm, which is what makes the incremental rewrite correct,
//! and every segment is a valid Redis AOF (`redis-check-aof` accepts it,
//! `redis-cli --pipe` imports it).

use crate::keyspace::{Expiry, Store, ValueRef};
use crate::NUM_DBS;

pub(super) fn put_bulk(buf: &mut Vec<u8>, arg: &[u8]) {
    buf.push(b'$');
    buf.extend_from_slice(itoa::Buffer::new().format(arg.len()).as_bytes());
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(arg);
    buf.extend_from_slice(b"\r\n");
}

pub(super) fn put_command(buf: &mut Vec<u8>, args: &[&[u8]]) {
    buf.push(b'*');
    buf.extend_from_slice(itoa::Buffer::new().format(args.len()).as_bytes());
    buf.extend_from_slice(b"\r\n");
    for a in args {
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
        }
    }

    /// Reads the records one command of a segment holds (a `DEL` of several
    /// keys is one record per key), handing each to `f`.
    pub fn parse(
        args: &[&'a [u8]],
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
        // Every value is a string until the collection types land.
        if let Some(v) = value.as_str() {
            Record::Set {
                key,
                value: v,
                pxat: expire_at,
            }
            .encode(buf);
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
        }
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
