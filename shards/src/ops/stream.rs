//! Stream ops (Redis 7.0's `t_stream.c`): XADD, XLEN, XRANGE/XREVRANGE,
//! XDEL, XTRIM, XSETID.
//!
//! The server parses every argument Redis parses before its look-up (IDs,
//! trimming options); XDEL's IDs are read here because Redis looks the key
//! up first. Records are Redis's stream commands with the ID each entry got
//! and trims stated exactly (see `aof::streams`); like a list's, they are
//! anchored while a rewrite runs. Notifications are Redis's: `xadd`, then
//! `xtrim` when XADD trimmed; `xtrim`, `xdel`, `xsetid`.

pub mod group;

use super::Cx;
use crate::aof::{Items, Record, StreamRecord};
use crate::batch::{Arg, ArgList, Reply};
use crate::error::{Error, StreamError};
use crate::keyspace::{Lookup, Store, ValueRef};
use crate::notify::STREAM;
use crate::tape::TapeWriter;
use crate::value::stream::{self, StreamId, StreamValue, Trim};
use crate::value::{Kind, Object};

/// How XADD picks the new entry's ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewId {
    /// `*`: from the clock.
    Auto,
    /// `ms-*`: this time, the next sequence.
    Seq(u64),
    /// An explicit ID (the server refused 0-0).
    Exact(StreamId),
}

/// Trimming options of XADD and XTRIM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrimSpec {
    /// MAXLEN or MINID.
    pub how: Trim,
    /// `~`: whole nodes only.
    pub approx: bool,
    /// LIMIT (0: none; the server applied Redis's default for `~`).
    pub limit: u64,
}

/// A stream op.
#[derive(Clone, Debug)]
pub enum StreamOp {
    /// XADD key [NOMKSTREAM] [trim] id field value ... → the new ID, or nil
    /// (NOMKSTREAM of a missing key).
    Add {
        /// The key.
        key: Arg,
        /// NOMKSTREAM.
        no_mkstream: bool,
        /// The ID.
        id: NewId,
        /// Trimming after the append.
        trim: Option<TrimSpec>,
        /// Fields and values, alternating.
        pairs: ArgList,
    },
    /// XLEN key.
    Len {
        /// The key.
        key: Arg,
    },
    /// XRANGE / XREVRANGE → `[[id, [field, value, ...]], ...]`.
    Range {
        /// The key.
        key: Arg,
        /// Lowest ID included.
        from: StreamId,
        /// Highest ID included (below `from`: nothing).
        to: StreamId,
        /// COUNT (None: all; the server turned a negative one into 0).
        count: Option<u64>,
        /// Descending.
        rev: bool,
    },
    /// XDEL key id ... → how many were deleted.
    Del {
        /// The key.
        key: Arg,
        /// The IDs, unparsed (Redis reads them after the look-up).
        ids: ArgList,
    },
    /// XTRIM key trim → how many were removed.
    Trim {
        /// The key.
        key: Arg,
        /// The bound.
        trim: TrimSpec,
    },
    /// One key of XREAD → `[key, [entry, ...]]` when the stream has
    /// entries after `after`, else the ID they must follow as a bulk
    /// (`after`, or for `$` the stream's last ID; 0-0 for a missing key).
    Read {
        /// The key.
        key: Arg,
        /// The ID the entries must follow (None: `$`).
        after: Option<StreamId>,
        /// COUNT (0: all).
        count: u64,
    },
    /// XSETID key id [ENTRIESADDED n] [MAXDELETEDID id] → OK.
    SetId {
        /// The key.
        key: Arg,
        /// The new last ID.
        last: StreamId,
        /// ENTRIESADDED.
        added: Option<u64>,
        /// MAXDELETEDID.
        max_deleted: Option<StreamId>,
    },
    /// A consumer group op.
    Group(group::GroupOp),
}

impl StreamOp {
    pub(super) fn is_write(&self) -> bool {
        match self {
            StreamOp::Group(g) => g.is_write(),
            _ => !matches!(
                self,
                StreamOp::Len { .. } | StreamOp::Range { .. } | StreamOp::Read { .. }
            ),
        }
    }

    pub(super) fn exec(&self, cx: &mut Cx) -> Reply {
        let r = match *self {
            StreamOp::Add {
                key,
                no_mkstream,
                id,
                trim,
                pairs,
            } => xadd(cx, key, no_mkstream, id, trim, pairs),
            StreamOp::Len { key } => {
                read(cx, key, Lookup::READ).map(|s| Reply::Int(s.map_or(0, |s| s.len()) as i64))
            }
            StreamOp::Range {
                key,
                from,
                to,
                count,
                rev,
            } => xrange(cx, key, from, to, count, rev),
            StreamOp::Del { key, ids } => xdel(cx, key, ids),
            StreamOp::Read { key, after, count } => xread_one(cx, key, after, count),
            StreamOp::Trim { key, trim } => xtrim(cx, key, trim),
            StreamOp::SetId {
                key,
                last,
                added,
                max_deleted,
            } => xsetid(cx, key, last, added, max_deleted),
            StreamOp::Group(ref g) => return g.exec(cx),
        };
        r.unwrap_or_else(Reply::Err)
    }
}

type R = Result<Reply, Error>;

pub(super) fn stream_at(store: &Store, pos: u32) -> Result<&StreamValue, Error> {
    match store.value_at(pos) {
        ValueRef::Obj(Object::Stream(s)) => Ok(s),
        _ => Err(Error::WrongType),
    }
}

/// Looks a stream key up: its position, None when absent, WRONGTYPE for
/// another type.
pub(super) fn find(cx: &mut Cx, key: Arg, how: Lookup) -> Result<Option<u32>, Error> {
    let k = cx.args.get(key);
    let pos = cx
        .store
        .lookup_kind(cx.db, k, cx.now_ms, how, Kind::Stream)
        .map_err(|_| Error::WrongType)?;
    if let Some(p) = pos {
        stream_at(cx.store, p)?;
    }
    Ok(pos)
}

fn read<'s>(cx: &'s mut Cx, key: Arg, how: Lookup) -> Result<Option<&'s StreamValue>, Error> {
    match find(cx, key, how)? {
        Some(pos) => stream_at(cx.store, pos).map(Some),
        None => Ok(None),
    }
}

/// Edits the stream at `pos`, journaling what changes (see
/// `keyspace::undo`): the counters before, each entry added or removed.
fn edit<T: Default>(
    cx: &mut Cx,
    pos: u32,
    f: impl FnOnce(&mut StreamValue, &mut Journal) -> T,
) -> T {
    let out = cx.store.edit_object(pos, |o, undo| {
        let Object::Stream(s) = o else {
            return None;
        };
        if undo.is_on() {
            undo.stream_meta(s.last_id(), s.entries_added(), s.max_deleted());
        }
        let mut j = Journal {
            on: undo.is_on(),
            added: None,
            removed: Vec::new(),
        };
        let r = f(s, &mut j);
        if let Some(id) = j.added {
            undo.stream_added(id);
        }
        for (id, packed) in j.removed {
            undo.stream_removed(id, &packed);
        }
        Some(r)
    });
    // None only for another type, which the caller ruled out.
    out.flatten().unwrap_or_default()
}

/// What an edit changed, for the undo journal.
#[derive(Default)]
struct Journal {
    on: bool,
    added: Option<StreamId>,
    removed: Vec<(StreamId, Box<[u8]>)>,
}

impl Journal {
    /// Trims `s`, keeping what goes for the journal when it is on.
    fn trim(&mut self, s: &mut StreamValue, t: TrimSpec) -> (Option<StreamId>, u64) {
        let (on, removed) = (self.on, &mut self.removed);
        s.trim_with(t.how, t.approx, t.limit, &mut |id, v| {
            if on {
                removed.push((id, v));
            }
        })
    }
}

/// Logs a change to a stream that still exists (see `Cx::log_anchored`).
pub(super) fn log_change(cx: &mut Cx, rec: StreamRecord) -> bool {
    cx.log_anchored(rec.key(), Record::Stream(rec))
}

/// The trim record for a trim whose greatest removed ID was `top`.
fn trim_record(key: &[u8], top: StreamId) -> StreamRecord<'_> {
    StreamRecord::Trim {
        key,
        below: top.next(),
    }
}

fn xadd(
    cx: &mut Cx,
    key: Arg,
    no_mkstream: bool,
    id: NewId,
    trim: Option<TrimSpec>,
    pairs: ArgList,
) -> R {
    cx.make_room()?;
    let pos = find(cx, key, Lookup::WRITE)?;
    if pos.is_none() && no_mkstream {
        return Ok(Reply::Nil);
    }
    let (db, k) = (cx.db, cx.args.get(key));
    let pos = match pos {
        Some(p) => p,
        None => {
            cx.store
                .insert_object(db, k, Object::Stream(Box::default()), 0)
                .map_err(|_| Error::Oom)?;
            match cx.store.lookup(db, k, cx.now_ms, Lookup::PEEK) {
                Some(p) => p,
                None => return Err(Error::Oom),
            }
        }
    };
    let s = stream_at(cx.store, pos)?;
    if s.last_id() == StreamId::MAX {
        return Err(Error::Stream(StreamError::Exhausted));
    }
    let new = match id {
        NewId::Auto => s.next_id(cx.now_ms, None),
        NewId::Seq(ms) => s.next_id(cx.now_ms, Some(ms)),
        NewId::Exact(id) => (id > s.last_id()).then_some(id),
    };
    let Some(new) = new else {
        // A key XADD just created stays, as in Redis (it created it first).
        return Err(Error::Stream(StreamError::IdTooSmall));
    };
    let args = cx.args;
    let trimmed = edit(cx, pos, |s, j| {
        s.append(new, stream::pack(args.items(pairs)));
        j.added = Some(new);
        trim.map(|t| j.trim(s, t))
    });
    cx.store.signal_modified(db, k);
    let pairs_items = Items::Args(cx.args, pairs);
    if !log_change(
        cx,
        StreamRecord::Add {
            key: k,
            id: new,
            pairs: pairs_items,
            drop: false,
        },
    ) {
        if let Some((Some(top), _)) = trimmed {
            log_change(cx, trim_record(k, top));
        }
    }
    cx.notify(STREAM, "xadd", k);
    if let Some((_, n)) = trimmed {
        if n > 0 {
            cx.notify(STREAM, "xtrim", k);
        }
    }
    let mut t = [0u8; 41];
    let text = new.format(&mut t);
    Ok(super::bulk(cx.out, text))
}

fn xrange(cx: &mut Cx, key: Arg, from: StreamId, to: StreamId, count: Option<u64>, rev: bool) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let mut w = TapeWriter::new(cx.out);
    let Some(pos) = pos else {
        w.array(0);
        return Ok(w.finish());
    };
    let s = stream_at(cx.store, pos)?;
    if count == Some(0) {
        // Redis answers a null array here (an empty one for a missing key).
        w.nil_array();
        return Ok(w.finish());
    }
    let at = w.array(0);
    let mut n = 0usize;
    let limit = count.map_or(usize::MAX, |c| c.min(usize::MAX as u64) as usize);
    for (id, packed) in s.range(from, to, rev).take(limit) {
        entry(&mut w, id, packed);
        n += 1;
    }
    w.set_len(at, n);
    Ok(w.finish())
}

/// One entry as Redis replies it: `[id, [field, value, ...]]`.
pub fn entry(w: &mut TapeWriter, id: StreamId, packed: &[u8]) {
    let mut t = [0u8; 41];
    w.array(2);
    w.bulk(id.format(&mut t));
    w.array(stream::packed_len(packed));
    for it in stream::unpack(packed) {
        w.bulk(it);
    }
}

/// Up to `count` (0: all) entries of the stream at `pos` after `after`.
pub fn entries_after(
    store: &Store,
    pos: u32,
    after: StreamId,
    count: u64,
) -> Vec<(StreamId, Box<[u8]>)> {
    let (Ok(s), Some(from)) = (stream_at(store, pos), after.next()) else {
        return Vec::new();
    };
    let n = if count == 0 {
        usize::MAX
    } else {
        count.min(usize::MAX as u64) as usize
    };
    s.range(from, StreamId::MAX, false)
        .take(n)
        .map(|(id, p)| (id, p.into()))
        .collect()
}

/// One key of XREAD (see `StreamOp::Read`). Redis looks each key up twice
/// (once checking its type and resolving `$`, once serving it).
fn xread_one(cx: &mut Cx, key: Arg, after: Option<StreamId>, count: u64) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let after = match (pos, after) {
        (_, Some(id)) => id,
        (Some(p), None) => stream_at(cx.store, p)?.last_id(),
        (None, None) => StreamId::MIN,
    };
    let mut t = [0u8; 41];
    let Some(pos) = find(cx, key, Lookup::READ)? else {
        return Ok(super::bulk(cx.out, after.format(&mut t)));
    };
    let s = stream_at(cx.store, pos)?;
    let (Some(top), Some(from)) = (s.top_id(), after.next()) else {
        return Ok(super::bulk(cx.out, after.format(&mut t)));
    };
    if top <= after {
        return Ok(super::bulk(cx.out, after.format(&mut t)));
    }
    let n = if count == 0 {
        usize::MAX
    } else {
        count.min(usize::MAX as u64) as usize
    };
    let mut w = TapeWriter::new(cx.out);
    w.array(2);
    w.bulk(cx.args.get(key));
    let at = w.array(0);
    let mut len = 0;
    for (id, packed) in s.range(from, StreamId::MAX, false).take(n) {
        entry(&mut w, id, packed);
        len += 1;
    }
    w.set_len(at, len);
    Ok(w.finish())
}

fn xdel(cx: &mut Cx, key: Arg, ids: ArgList) -> R {
    let Some(pos) = find(cx, key, Lookup::WRITE)? else {
        return Ok(Reply::Int(0));
    };
    let mut parsed = Vec::with_capacity(ids.len as usize);
    for i in cx.args.items(ids) {
        parsed.push(StreamId::parse(i, 0).ok_or(Error::Stream(StreamError::InvalidId))?);
    }
    let deleted = edit(cx, pos, |s, j| {
        let mut n = 0;
        for id in &parsed {
            if j.on {
                if let Some(p) = s.get(*id) {
                    j.removed.push((*id, p.into()));
                }
            }
            n += s.delete(*id) as i64;
        }
        n
    });
    if deleted > 0 {
        let k = cx.args.get(key);
        cx.store.signal_modified(cx.db, k);
        log_change(
            cx,
            StreamRecord::Del {
                key: k,
                ids: Items::Args(cx.args, ids),
            },
        );
        cx.notify(STREAM, "xdel", k);
    }
    Ok(Reply::Int(deleted))
}

fn xtrim(cx: &mut Cx, key: Arg, t: TrimSpec) -> R {
    let Some(pos) = find(cx, key, Lookup::WRITE)? else {
        return Ok(Reply::Int(0));
    };
    let (top, n) = edit(cx, pos, |s, j| j.trim(s, t));
    if let Some(top) = top {
        let k = cx.args.get(key);
        cx.store.signal_modified(cx.db, k);
        log_change(cx, trim_record(k, top));
        cx.notify(STREAM, "xtrim", k);
    }
    Ok(Reply::Int(n as i64))
}

fn xsetid(
    cx: &mut Cx,
    key: Arg,
    last: StreamId,
    added: Option<u64>,
    max_deleted: Option<StreamId>,
) -> R {
    let Some(pos) = find(cx, key, Lookup::WRITE)? else {
        return Err(Error::NoSuchKey);
    };
    let s = stream_at(cx.store, pos)?;
    if let Some(top) = s.top_id() {
        if last < top {
            return Err(Error::Stream(StreamError::SetIdTooSmall));
        }
        if added.is_some_and(|a| a < s.len() as u64) {
            return Err(Error::Stream(StreamError::SetIdEntriesAdded));
        }
    }
    let (last, added, max_deleted) = (
        last,
        added.unwrap_or(s.entries_added()),
        max_deleted.unwrap_or(s.max_deleted()),
    );
    edit(cx, pos, |s, _| s.set_meta(last, added, max_deleted));
    let k = cx.args.get(key);
    cx.store.signal_modified(cx.db, k);
    log_change(
        cx,
        StreamRecord::SetId {
            key: k,
            last,
            added,
            max_deleted,
        },
    );
    cx.notify(STREAM, "xsetid", k);
    Ok(Reply::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{log_text, logging, run};
    use crate::ops::Op;

    fn add(b: &mut crate::batch::Batch, key: &[u8], id: NewId, trim: Option<TrimSpec>) {
        let k = b.args.push(key);
        let pairs = b.args.list([&b"f"[..], b"v"]);
        b.push(
            0,
            Op::Stream(StreamOp::Add {
                key: k,
                no_mkstream: false,
                id,
                trim,
                pairs,
            }),
        );
    }

    #[test]
    fn xadd_logs_the_id_it_got_and_trims_as_minid() {
        let mut store = Store::new(Default::default());
        let mut p = logging();
        let b = run(&mut store, &mut p, 1000, |b| {
            add(b, b"s", NewId::Auto, None);
            add(b, b"s", NewId::Auto, None);
            add(
                b,
                b"s",
                NewId::Seq(5000),
                Some(TrimSpec {
                    how: Trim::MaxLen(1),
                    approx: false,
                    limit: 0,
                }),
            );
        });
        assert_eq!(b.replies.len(), 3);
        let log = log_text(&p);
        assert!(
            log.contains("$4\r\nXADD\r\n$1\r\ns\r\n$6\r\n1000-0\r\n"),
            "{log}"
        );
        assert!(log.contains("$6\r\n1000-1\r\n"), "{log}");
        assert!(
            log.contains("$5\r\nXTRIM\r\n$1\r\ns\r\n$5\r\nMINID\r\n$1\r\n=\r\n$6\r\n1000-2\r\n"),
            "{log}"
        );
    }

    fn snapshot(store: &mut Store) -> (Vec<(StreamId, Vec<u8>)>, StreamId, u64, StreamId) {
        let pos = store.lookup(0, b"s", 0, Lookup::PEEK).unwrap();
        let ValueRef::Obj(Object::Stream(s)) = store.value_at(pos) else {
            panic!("not a stream");
        };
        let entries = s.iter().map(|(id, p)| (id, p.to_vec())).collect();
        (entries, s.last_id(), s.entries_added(), s.max_deleted())
    }

    /// A rolled-back group leaves the stream as it was: entries, last ID,
    /// entries added, greatest deleted ID.
    #[test]
    fn a_rollback_restores_the_stream() {
        let mut store = Store::new(Default::default());
        let mut p = logging();
        run(&mut store, &mut p, 1000, |b| {
            for _ in 0..250 {
                add(b, b"s", NewId::Auto, None);
            }
        });
        store.set_journaling(true);
        store.forget();
        let before = snapshot(&mut store);
        let trim = |how, approx| {
            Some(TrimSpec {
                how,
                approx,
                limit: 0,
            })
        };
        run(&mut store, &mut p, 2000, |b| {
            add(b, b"s", NewId::Auto, trim(Trim::MaxLen(120), true));
            add(b, b"s", NewId::Auto, trim(Trim::MaxLen(50), false));
            let k = b.args.push(b"s");
            let ids = b
                .args
                .list([&b"2000-0"[..], b"1000-249", b"1000-248", b"bad"]);
            b.push(0, Op::Stream(StreamOp::Del { key: k, ids }));
            let k = b.args.push(b"s");
            let ids = b.args.list([&b"2000-1"[..], b"1000-247"]);
            b.push(0, Op::Stream(StreamOp::Del { key: k, ids }));
            let k = b.args.push(b"s");
            b.push(
                0,
                Op::Stream(StreamOp::Trim {
                    key: k,
                    trim: TrimSpec {
                        how: Trim::MinId(StreamId::new(1000, 240)),
                        approx: false,
                        limit: 0,
                    },
                }),
            );
            let k = b.args.push(b"s");
            b.push(
                0,
                Op::Stream(StreamOp::SetId {
                    key: k,
                    last: StreamId::new(9000, 0),
                    added: Some(7000),
                    max_deleted: Some(StreamId::new(8000, 0)),
                }),
            );
            add(b, b"s", NewId::Auto, trim(Trim::MaxLen(0), false));
        });
        assert_ne!(snapshot(&mut store), before);
        store.rollback();
        assert_eq!(snapshot(&mut store), before);
        // The ledger still serves trims and appends without a panic.
        run(&mut store, &mut p, 3000, |b| {
            add(b, b"s", NewId::Auto, trim(Trim::MaxLen(3), true));
            add(b, b"s", NewId::Auto, trim(Trim::MaxLen(1), false));
        });
        assert_eq!(snapshot(&mut store).0.len(), 1);
    }
}
