//! List ops (Redis 7.0's `t_list.c`).
//!
//! Single-key commands are one op each. LMOVE/RPOPLPUSH and LMPOP are one
//! op when their keys share a shard (`Move`, `MPop`); otherwise the server
//! assembles them from pieces in a section holding the shards: `Peek` (the
//! element LMOVE would take) and `Check` (the destination's type), then the
//! ordinary `Pop` and `Push`; `Lens` (which key LMPOP pops from), then
//! `MPop` of that key. `StoreItems` writes SORT's STORE result.
//!
//! Records are Redis's list commands, relative to the list they find
//! (`aof::lists` explains why and how the rewrite copes): `LPUSH`/`RPUSH`
//! of what was pushed (1024 elements a record), `LPOP`/`RPOP key count`,
//! `LSET`, `LINSERT`, `LREM`, `LTRIM`; `DEL key` when a write emptied the
//! list; a STORE logs `DEL dst` and `RPUSH`es.
//!
//! A list of several nodes is edited in place, each change reported to the
//! undo journal by position; a one-node list is copied whole first.
//!
//! The push and pop logic (`push_elements`, `pop_elements`, `pop_reply`)
//! is what a blocked client's BLPOP/BLMOVE/BLMPOP is served with once a
//! push made its key non-empty.

use super::{bulk, Cx};
use crate::aof::{Items, ListRecord, Record};
use crate::batch::{Arg, ArgList, Reply};
use crate::error::Error;
use crate::keyspace::{Lookup, Store, ValueRef};
use crate::notify::{GENERIC, LIST};
use crate::tape::TapeWriter;
use crate::value::list::{rank_range, Side, DEFAULT_FILL};
use crate::value::{Kind, ListValue, Object};

/// Elements per `LPUSH`/`RPUSH` record.
const PUSH_BATCH: usize = 1024;

/// How a pop's reply is shaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopShape {
    /// The element (LPOP key): nil when absent.
    One,
    /// An array (LPOP key count): a null array when absent.
    Many,
    /// `[key, element]` (BLPOP, BRPOP): a null array when absent.
    KeyOne,
    /// `[key, [element, ...]]` (LMPOP, BLMPOP): a null array when absent.
    KeyMany,
}

/// A list op.
#[derive(Clone, Debug)]
pub enum ListOp {
    /// LPUSH / RPUSH / LPUSHX / RPUSHX → the new length (0 for an absent
    /// key with `existing_only`).
    Push {
        /// The key.
        key: Arg,
        /// Which end.
        side: Side,
        /// The elements, in push order.
        elems: ArgList,
        /// LPUSHX / RPUSHX: only when the list exists.
        existing_only: bool,
    },
    /// LPOP / RPOP key [count]: the element, or with a count an array.
    Pop {
        /// The key.
        key: Arg,
        /// Which end.
        side: Side,
        /// The count, when given.
        count: Option<u64>,
    },
    /// LLEN.
    Len {
        /// The key.
        key: Arg,
    },
    /// LRANGE.
    Range {
        /// The key.
        key: Arg,
        /// First index.
        start: i64,
        /// Last index.
        stop: i64,
    },
    /// LINDEX → the element, or nil.
    Index {
        /// The key.
        key: Arg,
        /// The index (negative from the tail).
        index: Arg,
    },
    /// LSET → OK, `ERR no such key`, `ERR index out of range`.
    Set {
        /// The key.
        key: Arg,
        /// The index, parsed after the key's checks as Redis does.
        index: Arg,
        /// The element.
        elem: Arg,
    },
    /// LINSERT → the new length, -1 without the pivot, 0 for an absent key.
    Insert {
        /// The key.
        key: Arg,
        /// BEFORE (or AFTER).
        before: bool,
        /// The pivot.
        pivot: Arg,
        /// The element.
        elem: Arg,
    },
    /// LREM → the number removed.
    Rem {
        /// The key.
        key: Arg,
        /// How many, from which end (0: all).
        count: i64,
        /// The element.
        elem: Arg,
    },
    /// LTRIM → OK.
    Trim {
        /// The key.
        key: Arg,
        /// First index kept.
        start: i64,
        /// Last index kept.
        stop: i64,
    },
    /// LPOS → a position or nil; with COUNT an array.
    Pos {
        /// The key.
        key: Arg,
        /// The element.
        elem: Arg,
        /// RANK (never 0; negative: from the tail).
        rank: i64,
        /// COUNT (0: all), when given.
        count: Option<u64>,
        /// MAXLEN (0: all).
        maxlen: u64,
    },
    /// LMOVE / RPOPLPUSH with both keys here → the element moved, or nil.
    Move {
        /// The source.
        src: Arg,
        /// The destination.
        dst: Arg,
        /// The end popped.
        from: Side,
        /// The end pushed.
        to: Side,
    },
    /// LMPOP with every key here → `[key, [element, ...]]` of the first
    /// non-empty list, or a null array.
    MPop {
        /// The keys, in command order.
        keys: ArgList,
        /// Which end.
        side: Side,
        /// COUNT.
        count: u64,
    },
    /// Cross-shard piece of LMOVE: the element at `side` of the source
    /// (a write look-up) → a bulk, nil when absent, or WRONGTYPE.
    Peek {
        /// The key.
        key: Arg,
        /// Which end.
        side: Side,
    },
    /// Cross-shard piece of LMOVE: 1 when `key` holds a list, 0 when
    /// absent, or WRONGTYPE (a write look-up).
    Check {
        /// The key.
        key: Arg,
    },
    /// Cross-shard piece of LMPOP: write look-ups of the keys in order up
    /// to the first that exists → a tape array: 0 per absent key, then the
    /// list's length, or -1 for another type.
    Lens {
        /// The keys.
        keys: ArgList,
    },
    /// SORT ... STORE: stores `items` as the list under `dst` (replacing
    /// it and its TTL; none deletes it) → its length.
    StoreItems {
        /// The destination.
        dst: Arg,
        /// The elements.
        items: ArgList,
    },
}

impl ListOp {
    pub(super) fn is_write(&self) -> bool {
        matches!(
            self,
            ListOp::Push { .. }
                | ListOp::Pop { .. }
                | ListOp::Set { .. }
                | ListOp::Insert { .. }
                | ListOp::Rem { .. }
                | ListOp::Trim { .. }
                | ListOp::Move { .. }
                | ListOp::MPop { .. }
                | ListOp::StoreItems { .. }
        )
    }

    pub(super) fn exec(&self, cx: &mut Cx) -> Reply {
        let r = match *self {
            ListOp::Push {
                key,
                side,
                elems,
                existing_only,
            } => lpush(cx, key, side, elems, existing_only),
            ListOp::Pop { key, side, count } => {
                let shape = if count.is_some() {
                    PopShape::Many
                } else {
                    PopShape::One
                };
                let k = cx.args.get(key);
                pop_reply(cx, k, side, count, shape)
            }
            ListOp::Len { key } => {
                read(cx, key, Lookup::READ).map(|l| Reply::Int(l.map_or(0, |l| l.len()) as i64))
            }
            ListOp::Range { key, start, stop } => lrange(cx, key, start, stop),
            ListOp::Index { key, index } => lindex(cx, key, index),
            ListOp::Set { key, index, elem } => lset(cx, key, index, elem),
            ListOp::Insert {
                key,
                before,
                pivot,
                elem,
            } => linsert(cx, key, before, pivot, elem),
            ListOp::Rem { key, count, elem } => lrem(cx, key, count, elem),
            ListOp::Trim { key, start, stop } => ltrim(cx, key, start, stop),
            ListOp::Pos {
                key,
                elem,
                rank,
                count,
                maxlen,
            } => lpos(cx, key, elem, rank, count, maxlen),
            ListOp::Move { src, dst, from, to } => lmove(cx, src, dst, from, to),
            ListOp::MPop { keys, side, count } => lmpop(cx, keys, side, count),
            ListOp::Peek { key, side } => peek(cx, key, side),
            ListOp::Check { key } => {
                find(cx, key, Lookup::WRITE).map(|p| Reply::Int(p.is_some() as i64))
            }
            ListOp::Lens { keys } => lens(cx, keys),
            ListOp::StoreItems { dst, items } => store_items(cx, dst, items),
        };
        r.unwrap_or_else(Reply::Err)
    }
}

type R = Result<Reply, Error>;

/// The list at `pos` (the caller checked the type).
fn list_at(store: &Store, pos: u32) -> Result<&ListValue, Error> {
    match store.value_at(pos) {
        ValueRef::Obj(Object::List(l)) => Ok(l),
        _ => Err(Error::WrongType),
    }
}

/// Looks a list key up: its position, None when absent, WRONGTYPE for
/// another type.
fn find_key(cx: &mut Cx, k: &[u8], how: Lookup) -> Result<Option<u32>, Error> {
    let pos = cx
        .store
        .lookup_kind(cx.db, k, cx.now_ms, how, Kind::List)
        .map_err(|_| Error::WrongType)?;
    if let Some(p) = pos {
        list_at(cx.store, p)?;
    }
    Ok(pos)
}

fn find(cx: &mut Cx, key: Arg, how: Lookup) -> Result<Option<u32>, Error> {
    let k = cx.args.get(key);
    find_key(cx, k, how)
}

fn read<'s>(cx: &'s mut Cx, key: Arg, how: Lookup) -> Result<Option<&'s ListValue>, Error> {
    match find(cx, key, how)? {
        Some(pos) => list_at(cx.store, pos).map(Some),
        None => Ok(None),
    }
}

/// Logs a change to a list that still exists (see `Cx::log_anchored`).
fn log_change(cx: &mut Cx, rec: ListRecord) -> bool {
    cx.log_anchored(rec.key(), Record::List(rec))
}

/// Logs a change that may have emptied the list of `key` at `pos`: the
/// key goes (logged `DEL`) when it did, else the change is logged.
/// Reports `event` (None: the caller does), then `del` when emptied.
fn after_change(
    cx: &mut Cx,
    pos: u32,
    emptied: bool,
    rec: ListRecord,
    event: Option<&'static str>,
) {
    let key = rec.key();
    if let Some(event) = event {
        cx.notify(LIST, event, key);
    }
    if emptied {
        cx.store.remove_at(pos);
        cx.log(Record::Del { key });
        if event.is_some() {
            cx.notify(GENERIC, "del", key);
        }
    } else {
        cx.store.signal_modified(cx.db, key);
        log_change(cx, rec);
    }
}

// ----------------------------------------------------------------- pushes

/// Pushes `elems` at `side` of the list under `key`, creating it when
/// absent unless `existing_only`; logs the push and tells WATCH. Returns
/// the new length, or None when absent with `existing_only`. What LPUSH,
/// RPUSH, the X forms and LMOVE's destination do.
pub fn push_elements(
    cx: &mut Cx,
    key: &[u8],
    side: Side,
    elems: Items,
    existing_only: bool,
    how: Lookup,
) -> Result<Option<usize>, Error> {
    let pos = find_key(cx, key, how)?;
    let len = match pos {
        None if existing_only => return Ok(None),
        None => {
            let mut l = ListValue::new(cx.store.value_limits().list.max_listpack_size);
            elems.iter().for_each(|e| l.push(side, e));
            let n = l.len();
            cx.store
                .insert_object(cx.db, key, Object::List(l), 0)
                .map_err(|_| Error::Oom)?;
            n
        }
        Some(pos) => {
            let n = cx
                .store
                .edit_object(pos, |o, undo| {
                    let Object::List(l) = o else {
                        return 0;
                    };
                    for e in elems.iter() {
                        l.push(side, e);
                        undo.list_inserted(match side {
                            Side::Left => 0,
                            Side::Right => l.len() - 1,
                        });
                    }
                    l.len()
                })
                .unwrap_or(0);
            cx.store.signal_modified(cx.db, key);
            n
        }
    };
    cx.notify(LIST, push_event(side), key);
    let left = side == Side::Left;
    for from in (0..elems.len()).step_by(PUSH_BATCH) {
        let n = PUSH_BATCH.min(elems.len() - from);
        let rec = ListRecord::Push {
            left,
            key,
            items: elems.slice(from, n),
        };
        if log_change(cx, rec) {
            break;
        }
    }
    Ok(Some(len))
}

fn lpush(cx: &mut Cx, key: Arg, side: Side, elems: ArgList, existing_only: bool) -> R {
    cx.make_room()?;
    let args = cx.args;
    let k = args.get(key);
    let n = push_elements(
        cx,
        k,
        side,
        Items::Args(args, elems),
        existing_only,
        Lookup::WRITE,
    )?;
    Ok(Reply::Int(n.unwrap_or(0) as i64))
}

// ------------------------------------------------------------------ pops

/// Redis's event for a push at `side`.
fn push_event(side: Side) -> &'static str {
    match side {
        Side::Left => "lpush",
        Side::Right => "rpush",
    }
}

/// Redis's event for a pop from `side`.
fn pop_event(side: Side) -> &'static str {
    match side {
        Side::Left => "lpop",
        Side::Right => "rpop",
    }
}

/// Pops up to `count` elements from `side` of the list of `key` at `pos`,
/// in the order they leave: the undo journal hears of each, the key goes
/// when emptied (`DEL`), else the pop is logged (`LPOP`/`RPOP key n`).
/// Reported as `lpop`/`rpop`, then `del` when emptied.
pub fn pop_elements(cx: &mut Cx, key: &[u8], pos: u32, side: Side, count: usize) -> Vec<Vec<u8>> {
    pop_elements_as(cx, key, pos, side, count, true).0
}

/// The one element LMOVE takes from `s`, and whether that emptied it: its
/// events are reported by `move_reported` after the push's, as Redis's
/// `lmoveGenericCommand` orders them.
pub fn pop_for_move(cx: &mut Cx, s: &[u8], pos: u32, from: Side) -> (Option<Vec<u8>>, bool) {
    let (popped, emptied) = pop_elements_as(cx, s, pos, from, 1, false);
    (popped.into_iter().next(), emptied)
}

/// The source's events of a move `pop_for_move` started.
pub fn move_reported(cx: &mut Cx, s: &[u8], from: Side, emptied: bool) {
    cx.notify(LIST, pop_event(from), s);
    if emptied {
        cx.notify(GENERIC, "del", s);
    }
}

fn pop_elements_as(
    cx: &mut Cx,
    key: &[u8],
    pos: u32,
    side: Side,
    count: usize,
    report: bool,
) -> (Vec<Vec<u8>>, bool) {
    let (popped, emptied) = cx
        .store
        .edit_object(pos, |o, undo| {
            let Object::List(l) = o else {
                return (Vec::new(), false);
            };
            let len = l.len();
            let popped = l.pop_many(side, count);
            if undo.is_on() {
                for (i, e) in popped.iter().enumerate() {
                    let at = match side {
                        Side::Left => 0,
                        Side::Right => len - 1 - i,
                    };
                    undo.list_removed(at, e);
                }
            }
            (popped, l.is_empty())
        })
        .unwrap_or_default();
    if !popped.is_empty() {
        let rec = ListRecord::Pop {
            left: side == Side::Left,
            key,
            count: popped.len() as u64,
        };
        after_change(cx, pos, emptied, rec, report.then(|| pop_event(side)));
    }
    (popped, emptied)
}

/// A pop of `key` answered in `shape` (Redis's `popGenericCommand` and
/// `listPopRangeAndReplyWithKey`): a write look-up; WRONGTYPE; absent: nil
/// (`One`) or a null array; a count of 0 an empty array. `count` None pops
/// one.
pub fn pop_reply(cx: &mut Cx, key: &[u8], side: Side, count: Option<u64>, shape: PopShape) -> R {
    let Some(pos) = find_key(cx, key, Lookup::WRITE)? else {
        if shape == PopShape::One {
            return Ok(Reply::Nil);
        }
        let mut w = TapeWriter::new(cx.out);
        w.nil_array();
        return Ok(w.finish());
    };
    if count == Some(0) {
        let mut w = TapeWriter::new(cx.out);
        w.array(0);
        return Ok(w.finish());
    }
    let n = count.map_or(1, |c| usize::try_from(c).unwrap_or(usize::MAX));
    let popped = pop_elements(cx, key, pos, side, n);
    if shape == PopShape::One {
        return Ok(match popped.first() {
            Some(e) => bulk(cx.out, e),
            None => Reply::Nil,
        });
    }
    let mut w = TapeWriter::new(cx.out);
    match shape {
        PopShape::KeyOne => {
            w.array(2);
            w.bulk(key);
        }
        PopShape::KeyMany => {
            w.array(2);
            w.bulk(key);
            w.array(popped.len());
        }
        _ => {
            w.array(popped.len());
        }
    }
    for e in &popped {
        w.bulk(e);
    }
    Ok(w.finish())
}

fn lmpop(cx: &mut Cx, keys: ArgList, side: Side, count: u64) -> R {
    let args = cx.args;
    for k in args.items(keys) {
        if find_key(cx, k, Lookup::WRITE)?.is_some() {
            return pop_reply(cx, k, side, Some(count), PopShape::KeyMany);
        }
    }
    let mut w = TapeWriter::new(cx.out);
    w.nil_array();
    Ok(w.finish())
}

// ----------------------------------------------------------------- reads

fn lrange(cx: &mut Cx, key: Arg, start: i64, stop: i64) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let mut w = TapeWriter::new(cx.out);
    let Some(pos) = pos else {
        w.array(0);
        return Ok(w.finish());
    };
    let it = list_at(cx.store, pos)?.range(start, stop);
    w.array(it.len());
    for e in it {
        w.bulk(e);
    }
    Ok(w.finish())
}

fn lindex(cx: &mut Cx, key: Arg, index: Arg) -> R {
    let Some(pos) = find(cx, key, Lookup::READ)? else {
        return Ok(Reply::Nil);
    };
    let index = super::parse_i64(cx.args.get(index)).ok_or(Error::NotInteger)?;
    Ok(match list_at(cx.store, pos)?.get(index) {
        Some(e) => bulk(cx.out, e),
        None => Reply::Nil,
    })
}

fn lpos(cx: &mut Cx, key: Arg, elem: Arg, rank: i64, count: Option<u64>, maxlen: u64) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let e = cx.args.get(elem);
    let Some(pos) = pos else {
        if count.is_some() {
            let mut w = TapeWriter::new(cx.out);
            w.array(0);
            return Ok(w.finish());
        }
        return Ok(Reply::Nil);
    };
    let l = list_at(cx.store, pos)?;
    let want = count.map_or(1, |c| usize::try_from(c).unwrap_or(usize::MAX));
    let maxlen = usize::try_from(maxlen).unwrap_or(usize::MAX);
    let found = l.positions(e, rank, want, maxlen);
    if count.is_none() {
        return Ok(match found.first() {
            Some(&i) => Reply::Int(i as i64),
            None => Reply::Nil,
        });
    }
    let mut w = TapeWriter::new(cx.out);
    w.array(found.len());
    for i in found {
        w.int(i as i64);
    }
    Ok(w.finish())
}

// ---------------------------------------------------------------- writes

fn lset(cx: &mut Cx, key: Arg, index: Arg, elem: Arg) -> R {
    cx.make_room()?;
    let Some(pos) = find(cx, key, Lookup::WRITE)? else {
        return Err(Error::NoSuchKey);
    };
    let args = cx.args;
    let index = super::parse_i64(args.get(index)).ok_or(Error::NotInteger)?;
    let e = args.get(elem);
    let done = cx
        .store
        .edit_object(pos, |o, undo| {
            let Object::List(l) = o else {
                return false;
            };
            let len = l.len() as i64;
            let i = if index < 0 { index + len } else { index };
            if undo.is_on() {
                if let Some(old) = l.get(index) {
                    undo.list_replaced(i as usize, old);
                }
            }
            l.set(index, e)
        })
        .unwrap_or(false);
    if !done {
        return Err(Error::IndexOutOfRange);
    }
    let k = args.get(key);
    cx.store.signal_modified(cx.db, k);
    cx.notify(LIST, "lset", k);
    log_change(
        cx,
        ListRecord::Set {
            key: k,
            index,
            elem: e,
        },
    );
    Ok(Reply::Ok)
}

fn linsert(cx: &mut Cx, key: Arg, before: bool, pivot: Arg, elem: Arg) -> R {
    cx.make_room()?;
    let Some(pos) = find(cx, key, Lookup::WRITE)? else {
        return Ok(Reply::Int(0));
    };
    let args = cx.args;
    let (p, e) = (args.get(pivot), args.get(elem));
    let len = cx
        .store
        .edit_object(pos, |o, undo| {
            let Object::List(l) = o else {
                return None;
            };
            let at = l.iter().position(|x| x == p)?;
            let i = if before { at } else { at + 1 };
            l.insert_at(i, e);
            undo.list_inserted(i);
            Some(l.len())
        })
        .flatten();
    let Some(len) = len else {
        return Ok(Reply::Int(-1));
    };
    let k = args.get(key);
    cx.store.signal_modified(cx.db, k);
    cx.notify(LIST, "linsert", k);
    log_change(
        cx,
        ListRecord::Insert {
            key: k,
            before,
            pivot: p,
            elem: e,
        },
    );
    Ok(Reply::Int(len as i64))
}

fn lrem(cx: &mut Cx, key: Arg, count: i64, elem: Arg) -> R {
    let Some(pos) = find(cx, key, Lookup::WRITE)? else {
        return Ok(Reply::Int(0));
    };
    let args = cx.args;
    let e = args.get(elem);
    let (removed, emptied) = cx
        .store
        .edit_object(pos, |o, undo| {
            let Object::List(l) = o else {
                return (0, false);
            };
            if undo.is_on() {
                // Positions of the elements that go, each as it is when it
                // goes (the ones before it from the head already gone).
                let max = if count == 0 {
                    usize::MAX
                } else {
                    usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
                };
                let len = l.len();
                if count < 0 {
                    let hits = l
                        .iter()
                        .rev()
                        .enumerate()
                        .filter(|(_, x)| *x == e)
                        .take(max)
                        .map(|(k, _)| len - 1 - k);
                    hits.for_each(|i| undo.list_removed(i, e));
                } else {
                    let hits = l
                        .iter()
                        .enumerate()
                        .filter(|(_, x)| *x == e)
                        .take(max)
                        .enumerate()
                        .map(|(k, (i, _))| i - k);
                    hits.for_each(|i| undo.list_removed(i, e));
                }
            }
            let n = l.remove(count, e);
            (n, l.is_empty())
        })
        .unwrap_or((0, false));
    if removed > 0 {
        let k = args.get(key);
        after_change(
            cx,
            pos,
            emptied,
            ListRecord::Rem {
                key: k,
                count,
                elem: e,
            },
            Some("lrem"),
        );
    }
    Ok(Reply::Int(removed as i64))
}

fn ltrim(cx: &mut Cx, key: Arg, start: i64, stop: i64) -> R {
    let Some(pos) = find(cx, key, Lookup::WRITE)? else {
        return Ok(Reply::Ok);
    };
    let (changed, emptied) = cx
        .store
        .edit_object(pos, |o, undo| {
            let Object::List(l) = o else {
                return (false, false);
            };
            let len = l.len();
            let (a, b) = rank_range(start, stop, len).unwrap_or((len, len));
            if undo.is_on() {
                let (keep_from, keep_to) = if a >= b { (0, 0) } else { (a, b) };
                for e in l.iter_between(keep_to, len) {
                    undo.list_removed(keep_to, e);
                }
                for e in l.iter_between(0, keep_from) {
                    undo.list_removed(0, e);
                }
            }
            l.trim(start, stop);
            (l.len() != len, l.is_empty())
        })
        .unwrap_or((false, false));
    let k = cx.args.get(key);
    // Redis tells WATCH, and reports `ltrim`, even when nothing went.
    cx.notify(LIST, "ltrim", k);
    if emptied {
        cx.store.remove_at(pos);
        cx.log(Record::Del { key: k });
        cx.notify(GENERIC, "del", k);
    } else {
        cx.store.signal_modified(cx.db, k);
        if changed {
            log_change(
                cx,
                ListRecord::Trim {
                    key: k,
                    start,
                    stop,
                },
            );
        }
    }
    Ok(Reply::Ok)
}

/// LMOVE / RPOPLPUSH with both keys here (Redis's `lmoveGenericCommand`):
/// an absent source answers nil before the destination's type is checked;
/// a list moved onto itself rotates.
fn lmove(cx: &mut Cx, src: Arg, dst: Arg, from: Side, to: Side) -> R {
    let args = cx.args;
    move_one(cx, args.get(src), args.get(dst), from, to)
}

/// LMOVE of `s` to `d` (both here): the element moved, or nil. What a
/// blocked BLMOVE whose keys share the shard runs too.
pub(super) fn move_one(cx: &mut Cx, s: &[u8], d: &[u8], from: Side, to: Side) -> R {
    cx.make_room()?;
    let Some(src_pos) = find_key(cx, s, Lookup::WRITE)? else {
        return Ok(Reply::Nil);
    };
    find_key(cx, d, Lookup::WRITE)?;
    if s == d {
        let moved = cx
            .store
            .edit_object(src_pos, |o, undo| {
                let Object::List(l) = o else {
                    return None;
                };
                let len = l.len();
                let e = l.pop(from)?;
                undo.list_removed(
                    match from {
                        Side::Left => 0,
                        Side::Right => len - 1,
                    },
                    &e,
                );
                l.push(to, &e);
                undo.list_inserted(match to {
                    Side::Left => 0,
                    Side::Right => len - 1,
                });
                Some(e)
            })
            .flatten();
        let Some(e) = moved else {
            return Ok(Reply::Nil);
        };
        cx.store.signal_modified(cx.db, s);
        cx.notify(LIST, push_event(to), d);
        cx.notify(LIST, pop_event(from), s);
        let pop = ListRecord::Pop {
            left: from == Side::Left,
            key: s,
            count: 1,
        };
        if !log_change(cx, pop) {
            let one = [&e[..]];
            log_change(
                cx,
                ListRecord::Push {
                    left: to == Side::Left,
                    key: d,
                    items: Items::List(&one),
                },
            );
        }
        return Ok(bulk(cx.out, &e));
    }
    let (popped, emptied) = pop_for_move(cx, s, src_pos, from);
    let Some(e) = popped else {
        return Ok(Reply::Nil);
    };
    let one = [&e[..]];
    // The source's removal may have freed a record: look the destination
    // up again.
    push_elements(cx, d, to, Items::List(&one), false, Lookup::PEEK)?;
    move_reported(cx, s, from, emptied);
    Ok(bulk(cx.out, &e))
}

// ------------------------------------------------------ cross-shard pieces

fn peek(cx: &mut Cx, key: Arg, side: Side) -> R {
    let Some(pos) = find(cx, key, Lookup::WRITE)? else {
        return Ok(Reply::Nil);
    };
    let l = list_at(cx.store, pos)?;
    let e = match side {
        Side::Left => l.front(),
        Side::Right => l.back(),
    };
    Ok(match e {
        Some(e) => {
            let e = e.to_vec();
            bulk(cx.out, &e)
        }
        None => Reply::Nil,
    })
}

fn lens(cx: &mut Cx, keys: ArgList) -> R {
    let args = cx.args;
    let mut codes = Vec::new();
    for k in args.items(keys) {
        match cx.store.lookup(cx.db, k, cx.now_ms, Lookup::WRITE) {
            None => codes.push(0),
            Some(p) => {
                codes.push(match cx.store.value_at(p) {
                    ValueRef::Obj(Object::List(l)) => l.len() as i64,
                    _ => -1,
                });
                break;
            }
        }
    }
    let mut w = TapeWriter::new(cx.out);
    w.array(codes.len());
    for c in codes {
        w.int(c);
    }
    Ok(w.finish())
}

fn store_items(cx: &mut Cx, dst: Arg, items: ArgList) -> R {
    let args = cx.args;
    store_list(cx, args.get(dst), args.items(items))
}

/// Puts the list of `items` under `dst` in place of whatever it held (TTL
/// included); none deletes `dst`. Logs `DEL dst` when it existed, then the
/// list's `RPUSH` records. SORT's list has Redis's default node size
/// (`createQuicklistObject`), whatever `list-max-listpack-size` says.
pub(crate) fn store_list<'i>(cx: &mut Cx, dst: &[u8], items: impl Iterator<Item = &'i [u8]>) -> R {
    cx.make_room()?;
    let db = cx.db;
    let existed = match cx.store.lookup(db, dst, cx.now_ms, Lookup::WRITE) {
        Some(pos) => {
            cx.store.remove_at(pos);
            cx.log(Record::Del { key: dst });
            true
        }
        None => false,
    };
    let l = ListValue::from_items(DEFAULT_FILL, items);
    let n = l.len();
    if n == 0 {
        if existed {
            cx.store.signal_modified(db, dst);
            cx.notify(GENERIC, "del", dst);
        }
        return Ok(Reply::Int(0));
    }
    let pos = cx
        .store
        .insert_object(db, dst, Object::List(l), 0)
        .map_err(|_| Error::Oom)?;
    // Redis's SORT overwrites an existing key in place: no `new` then.
    if existed {
        cx.store.unnotify_new(db, dst);
    }
    cx.notify(LIST, "sortstore", dst);
    let value = cx.store.value_at(pos);
    let log = &mut cx.persist.log;
    Record::for_value(dst, value, 0, |r| log.put(db as u8, &r));
    Ok(Reply::Int(n as i64))
}

#[cfg(test)]
mod tests;
