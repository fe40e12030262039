//! The records of lists and sorted sets.
//!
//! A sorted set's records are absolute like a hash's: `ZADD key score
//! member ...` names each member's score, `ZREM key member ...` its
//! absence, and a write that empties the set logs `DEL key`.
//!
//! A list's records cannot be absolute without copying the list at every
//! write (an element has no name, only a position), so they are Redis's own
//! commands, each relative to the list it finds: `RPUSH`/`LPUSH key e ...`,
//! `LPOP`/`RPOP key count`, `LSET key index e`, `LINSERT key BEFORE|AFTER
//! pivot e`, `LREM key count e`, `LTRIM key start stop`. Replayed in order
//! from the same start they rebuild the same list. The incremental rewrite
//! is the one place where a record may meet a list that already holds its
//! effect (the walk copied the key after the write); so while a rewrite
//! runs, the first list record of each key is replaced by the key's whole
//! state (`DEL key`, `RPUSH`es, `PEXPIREAT`), after which its relative
//! records replay correctly on whatever the snapshot held (`Log::anchor`).
//! A write that empties a list logs `DEL key`, as for every collection.

use super::record::{put_bulk, put_command, Items, Record, ITEMS_PER_RECORD};
use crate::keyspace::{Lookup, Store};
use crate::value::{ListValue, Object, ZSetValue};

/// A list change, as Redis's command that makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListRecord<'a> {
    /// `LPUSH key e ...` (`left`) or `RPUSH key e ...`.
    Push {
        /// The head (LPUSH) or the tail.
        left: bool,
        /// The key.
        key: &'a [u8],
        /// The elements, in push order.
        items: Items<'a>,
    },
    /// `LPOP key count` (`left`) or `RPOP key count`.
    Pop {
        /// From the head or the tail.
        left: bool,
        /// The key.
        key: &'a [u8],
        /// How many.
        count: u64,
    },
    /// `LSET key index element`.
    Set {
        /// The key.
        key: &'a [u8],
        /// The index (negative from the tail).
        index: i64,
        /// The new element.
        elem: &'a [u8],
    },
    /// `LINSERT key BEFORE|AFTER pivot element`.
    Insert {
        /// The key.
        key: &'a [u8],
        /// BEFORE (or AFTER).
        before: bool,
        /// The first element equal to this is the pivot.
        pivot: &'a [u8],
        /// The new element.
        elem: &'a [u8],
    },
    /// `LREM key count element`.
    Rem {
        /// The key.
        key: &'a [u8],
        /// How many, from which end (0: all).
        count: i64,
        /// The element.
        elem: &'a [u8],
    },
    /// `LTRIM key start stop`.
    Trim {
        /// The key.
        key: &'a [u8],
        /// First index kept.
        start: i64,
        /// Last index kept.
        stop: i64,
    },
}

impl<'a> ListRecord<'a> {
    /// The key the record changes.
    pub fn key(&self) -> &'a [u8] {
        match *self {
            ListRecord::Push { key, .. }
            | ListRecord::Pop { key, .. }
            | ListRecord::Set { key, .. }
            | ListRecord::Insert { key, .. }
            | ListRecord::Rem { key, .. }
            | ListRecord::Trim { key, .. } => key,
        }
    }

    /// True for the (upper-case) command names of list records.
    pub(super) fn names(name: &[u8]) -> bool {
        matches!(
            name,
            b"LPUSH" | b"RPUSH" | b"LPOP" | b"RPOP" | b"LSET" | b"LINSERT" | b"LREM" | b"LTRIM"
        )
    }

    /// Reads a list record (`name` upper case, `args` the whole command).
    pub(super) fn parse(name: &[u8], args: &'a [&'a [u8]]) -> Result<ListRecord<'a>, String> {
        let int = |b: &[u8], what: &str| -> Result<i64, String> {
            crate::ops::parse_i64(b).ok_or_else(|| format!("bad {what}"))
        };
        let bad = || {
            format!(
                "unexpected record '{}' with {} arguments",
                String::from_utf8_lossy(name),
                args.len()
            )
        };
        Ok(match (name, args.len()) {
            (b"LPUSH" | b"RPUSH", n) if n >= 3 => ListRecord::Push {
                left: name == b"LPUSH",
                key: args[1],
                items: Items::List(&args[2..]),
            },
            (b"LPOP" | b"RPOP", 2 | 3) => ListRecord::Pop {
                left: name == b"LPOP",
                key: args[1],
                count: match args.get(2) {
                    Some(c) => u64::try_from(int(c, "count")?).map_err(|_| "bad count")?,
                    None => 1,
                },
            },
            (b"LSET", 4) => ListRecord::Set {
                key: args[1],
                index: int(args[2], "index")?,
                elem: args[3],
            },
            (b"LINSERT", 5) => ListRecord::Insert {
                key: args[1],
                before: if args[2].eq_ignore_ascii_case(b"before") {
                    true
                } else if args[2].eq_ignore_ascii_case(b"after") {
                    false
                } else {
                    return Err(bad());
                },
                pivot: args[3],
                elem: args[4],
            },
            (b"LREM", 4) => ListRecord::Rem {
                key: args[1],
                count: int(args[2], "count")?,
                elem: args[3],
            },
            (b"LTRIM", 4) => ListRecord::Trim {
                key: args[1],
                start: int(args[2], "start")?,
                stop: int(args[3], "stop")?,
            },
            _ => return Err(bad()),
        })
    }

    /// Appends the record as a Redis command in RESP.
    pub(super) fn encode(&self, buf: &mut Vec<u8>) {
        let mut n1 = itoa::Buffer::new();
        let mut n2 = itoa::Buffer::new();
        match *self {
            ListRecord::Push { left, key, items } => {
                buf.push(b'*');
                buf.extend_from_slice(itoa::Buffer::new().format(2 + items.len()).as_bytes());
                buf.extend_from_slice(b"\r\n");
                put_bulk(buf, if left { b"LPUSH" } else { b"RPUSH" });
                put_bulk(buf, key);
                for e in items.iter() {
                    put_bulk(buf, e);
                }
            }
            ListRecord::Pop { left, key, count } => put_command(
                buf,
                &[
                    if left { b"LPOP" } else { b"RPOP" },
                    key,
                    n1.format(count).as_bytes(),
                ],
            ),
            ListRecord::Set { key, index, elem } => {
                put_command(buf, &[b"LSET", key, n1.format(index).as_bytes(), elem])
            }
            ListRecord::Insert {
                key,
                before,
                pivot,
                elem,
            } => put_command(
                buf,
                &[
                    b"LINSERT",
                    key,
                    if before { b"BEFORE" } else { b"AFTER" },
                    pivot,
                    elem,
                ],
            ),
            ListRecord::Rem { key, count, elem } => {
                put_command(buf, &[b"LREM", key, n1.format(count).as_bytes(), elem])
            }
            ListRecord::Trim { key, start, stop } => put_command(
                buf,
                &[
                    b"LTRIM",
                    key,
                    n1.format(start).as_bytes(),
                    n2.format(stop).as_bytes(),
                ],
            ),
        }
    }

    /// Applies the record to the list under its key in `db`. A record that
    /// finds another type changes nothing (a later record replaces that
    /// key); one that empties the list deletes the key.
    pub(super) fn apply(&self, store: &mut Store, db: usize, now: u64) {
        let key = self.key();
        let pos = store.lookup(db, key, now, Lookup::PEEK);
        if let ListRecord::Push { left, items, .. } = *self {
            let side = if left {
                crate::value::list::Side::Left
            } else {
                crate::value::list::Side::Right
            };
            match pos {
                None => {
                    let mut l = ListValue::new(store.value_limits().list.max_listpack_size);
                    items.iter().for_each(|e| l.push(side, e));
                    let _ = store.insert_object(db, key, Object::List(l), 0);
                }
                Some(pos) => {
                    store.with_object(pos, |o| {
                        if let Object::List(l) = o {
                            items.iter().for_each(|e| l.push(side, e));
                        }
                    });
                }
            }
            return;
        }
        let Some(pos) = pos else {
            return;
        };
        let emptied = store.with_object(pos, |o| {
            let Object::List(l) = o else {
                return false;
            };
            match *self {
                ListRecord::Push { .. } => {}
                ListRecord::Pop { left, count, .. } => {
                    let n = usize::try_from(count).unwrap_or(usize::MAX).min(l.len());
                    if left {
                        l.remove_range(0, n);
                    } else {
                        l.remove_range(l.len() - n, n);
                    }
                }
                ListRecord::Set { index, elem, .. } => {
                    l.set(index, elem);
                }
                ListRecord::Insert {
                    before,
                    pivot,
                    elem,
                    ..
                } => {
                    l.insert_pivot(pivot, elem, before);
                }
                ListRecord::Rem { count, elem, .. } => {
                    l.remove(count, elem);
                }
                ListRecord::Trim { start, stop, .. } => l.trim(start, stop),
            }
            l.is_empty()
        });
        if emptied == Some(true) {
            store.remove_at(pos);
        }
    }
}

/// A score as Redis prints it (`%.17g`, `inf`, `-inf`), on the stack.
pub struct ScoreText {
    buf: [u8; 32],
    len: u8,
}

impl ScoreText {
    /// The text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

/// `score` as Redis prints it: what ZSCORE answers and ZADD records carry.
pub fn fmt_score(score: f64) -> ScoreText {
    let s = crate::rdb::fmt_g17(score);
    let mut t = ScoreText {
        buf: [0; 32],
        len: s.len().min(32) as u8,
    };
    t.buf[..t.len as usize].copy_from_slice(&s.as_bytes()[..t.len as usize]);
    t
}

/// Hands `f` the `RPUSH` records that build `l`, 64 elements each.
pub(super) fn for_list(key: &[u8], l: &ListValue, f: &mut dyn FnMut(Record)) {
    let mut refs: Vec<&[u8]> = Vec::with_capacity(ITEMS_PER_RECORD);
    let mut it = l.iter();
    loop {
        refs.clear();
        refs.extend(it.by_ref().take(ITEMS_PER_RECORD));
        if refs.is_empty() {
            return;
        }
        f(Record::List(ListRecord::Push {
            left: false,
            key,
            items: Items::List(&refs),
        }));
    }
}

/// Hands `f` the `ZADD` records that build `z`, 64 members each, lowest
/// first; scores as Redis's rewrite writes them (a compact set's as its
/// listpack holds them: integers as integers).
pub(super) fn for_zset(key: &[u8], z: &ZSetValue, f: &mut dyn FnMut(Record)) {
    let compact = z.encoding() == crate::value::zset::ZSetEncoding::Listpack;
    let mut text: Vec<u8> = Vec::new();
    let mut ends: Vec<usize> = Vec::with_capacity(2 * ITEMS_PER_RECORD);
    let mut it = z.iter();
    loop {
        text.clear();
        ends.clear();
        for (m, s) in it.by_ref().take(ITEMS_PER_RECORD) {
            if compact {
                text.extend_from_slice(&crate::rdb::score_text(s));
            } else {
                text.extend_from_slice(fmt_score(s).as_bytes());
            }
            ends.push(text.len());
            text.extend_from_slice(m);
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
        f(Record::ZAdd {
            key,
            pairs: Items::List(&refs),
        });
    }
}

/// Redis's `string2d` for a score a record carries; None refuses it.
fn score_of(b: &[u8]) -> Option<f64> {
    crate::ops::zset::parse_score(b)
}

/// `ZADD key score member ...`: creates the set as ZADD does (large from
/// the start when its first member is over `zset-max-listpack-value`).
pub(super) fn apply_zadd(store: &mut Store, db: usize, key: &[u8], pairs: Items, now: u64) {
    let limits = store.value_limits().zset;
    let add_all = |z: &mut ZSetValue| {
        for i in (0..pairs.len()).step_by(2) {
            if let Some(s) = score_of(pairs.get(i)) {
                z.insert_or_update(pairs.get(i + 1), s, &limits);
            }
        }
    };
    match store.lookup(db, key, now, Lookup::PEEK) {
        None => {
            let mut z = ZSetValue::for_first_member(pairs.get(1).len(), &limits);
            add_all(&mut z);
            if !z.is_empty() {
                let _ = store.insert_object(db, key, Object::ZSet(z), 0);
            }
        }
        Some(pos) => {
            store.with_object(pos, |o| {
                if let Object::ZSet(z) = o {
                    add_all(z);
                }
            });
        }
    }
}

/// `ZREM key member ...`; the key goes with its last member.
pub(super) fn apply_zrem(store: &mut Store, db: usize, key: &[u8], members: Items, now: u64) {
    let Some(pos) = store.lookup(db, key, now, Lookup::PEEK) else {
        return;
    };
    let emptied = store.with_object(pos, |o| match o {
        Object::ZSet(z) => {
            members.iter().for_each(|m| {
                z.remove(m);
            });
            z.is_empty()
        }
        _ => false,
    });
    if emptied == Some(true) {
        store.remove_at(pos);
    }
}

#[cfg(test)]
mod tests;
