//! Consumer groups (Redis 7.0's `t_stream.c`): XGROUP, XREADGROUP's reads,
//! XACK, XPENDING, XCLAIM, XAUTOCLAIM and XINFO.
//!
//! Arguments Redis reads after its look-up (IDs, XCLAIM's options) are read
//! here, so errors come in Redis's order. Every change is logged as the
//! command Redis propagates for it (`aof::streams::GroupCmd`): a delivery
//! as an XCLAIM stating the pending entry whole, a move of the group's last
//! ID as `XGROUP SETID ... ENTRIESREAD n`. While journaling, each change
//! reports what it replaces first (a pending entry, a consumer's seen
//! time, the group's position; `value::stream::GroupUndo`), so a rollback
//! costs what the write changed, not the size of the group.
//!
//! Group writes do not touch WATCH or client-side caching: Redis 7.0's
//! group commands do not call `signalModifiedKey` (XGROUP CREATE's
//! MKSTREAM, which creates the key, does).

use super::{find, log_change, stream_at};
use crate::aof::{GroupCmd, Items, StreamRecord};
use crate::batch::{Arg, ArgList, Reply};
use crate::error::{Error, NoGroup, NoGroupText, StreamError};
use crate::keyspace::{Lookup, Store};
use crate::notify::STREAM;
use crate::ops::Cx;
use crate::tape::TapeWriter;
use crate::value::stream::{Group, GroupUndo, StreamId, StreamValue, ENTRIES_READ_UNKNOWN};
use crate::value::Object;

/// A consumer group op.
#[derive(Clone, Debug)]
pub enum GroupOp {
    /// XGROUP CREATE key group id [MKSTREAM] [ENTRIESREAD n] (the options
    /// checked by the server) → OK.
    Create {
        /// The key.
        key: Arg,
        /// The group.
        group: Arg,
        /// The ID argument (`$` or an ID).
        id: Arg,
        /// MKSTREAM.
        mkstream: bool,
        /// ENTRIESREAD (default: unknown).
        entries_read: i64,
    },
    /// XGROUP SETID key group id [ENTRIESREAD n] → OK.
    SetId {
        /// The key.
        key: Arg,
        /// The group.
        group: Arg,
        /// The ID argument (`$` or an ID).
        id: Arg,
        /// ENTRIESREAD's argument (the keyword checked by the server).
        entries_read: Option<Arg>,
    },
    /// XGROUP DESTROY key group → 1 or 0.
    Destroy {
        /// The key.
        key: Arg,
        /// The group.
        group: Arg,
    },
    /// XGROUP CREATECONSUMER / DELCONSUMER key group consumer.
    Consumer {
        /// The key.
        key: Arg,
        /// The group.
        group: Arg,
        /// The consumer.
        consumer: Arg,
        /// DELCONSUMER (else CREATECONSUMER).
        delete: bool,
    },
    /// XREADGROUP's look-up of one key → OK, WRONGTYPE or NOGROUP.
    Check {
        /// The key.
        key: Arg,
        /// The group.
        group: Arg,
    },
    /// XREADGROUP on one key → `[key, entries]`, or nil when `>` finds
    /// nothing new.
    Read {
        /// The key.
        key: Arg,
        /// The group.
        group: Arg,
        /// The consumer.
        consumer: Arg,
        /// The ID the consumer's pending entries must follow (None: `>`,
        /// new entries).
        after: Option<StreamId>,
        /// COUNT (0: all).
        count: u64,
        /// NOACK.
        noack: bool,
    },
    /// XACK key group id ... → how many were pending.
    Ack {
        /// The key.
        key: Arg,
        /// The group.
        group: Arg,
        /// The IDs, unparsed.
        ids: ArgList,
    },
    /// XPENDING key group [[IDLE ms] start end count [consumer]].
    Pending {
        /// The key.
        key: Arg,
        /// The group.
        group: Arg,
        /// The extended form's filters.
        range: Option<PendingRange>,
    },
    /// XCLAIM key group consumer min-idle id ... [options]: every argument
    /// from the consumer on.
    Claim {
        /// The key.
        key: Arg,
        /// The group.
        group: Arg,
        /// Consumer, min-idle-time, IDs and options.
        rest: ArgList,
    },
    /// XAUTOCLAIM key group consumer min-idle start [COUNT n] [JUSTID].
    AutoClaim {
        /// The key.
        key: Arg,
        /// The group.
        group: Arg,
        /// The consumer.
        consumer: Arg,
        /// Minimum idle time (ms).
        min_idle: u64,
        /// First pending ID looked at.
        start: StreamId,
        /// COUNT.
        count: u64,
        /// JUSTID.
        justid: bool,
    },
    /// XINFO STREAM key [FULL [COUNT n]] (None: not FULL; Some(0): all).
    InfoStream {
        /// The key.
        key: Arg,
        /// The subcommand as typed (for a syntax error).
        sub: Arg,
        /// The options after the key, read after the look-up as Redis
        /// does.
        opts: ArgList,
    },
    /// XINFO GROUPS key.
    InfoGroups {
        /// The key.
        key: Arg,
    },
    /// XINFO CONSUMERS key group.
    InfoConsumers {
        /// The key.
        key: Arg,
        /// The group.
        group: Arg,
    },
}

/// XPENDING's extended form.
#[derive(Clone, Copy, Debug)]
pub struct PendingRange {
    /// IDLE (0: none).
    pub min_idle: u64,
    /// Lowest ID.
    pub start: StreamId,
    /// Highest ID.
    pub end: StreamId,
    /// COUNT (negative made 0).
    pub count: u64,
    /// Only this consumer's entries.
    pub consumer: Option<Arg>,
}

type R = Result<Reply, Error>;

impl GroupOp {
    pub(in crate::ops) fn is_write(&self) -> bool {
        !matches!(
            self,
            GroupOp::Check { .. }
                | GroupOp::Pending { .. }
                | GroupOp::InfoStream { .. }
                | GroupOp::InfoGroups { .. }
                | GroupOp::InfoConsumers { .. }
        )
    }

    pub(in crate::ops) fn exec(&self, cx: &mut Cx) -> Reply {
        let r = match *self {
            GroupOp::Create {
                key,
                group,
                id,
                mkstream,
                entries_read,
            } => create(cx, key, group, id, mkstream, entries_read),
            GroupOp::SetId {
                key,
                group,
                id,
                entries_read,
            } => set_id(cx, key, group, id, entries_read),
            GroupOp::Destroy { key, group } => destroy(cx, key, group),
            GroupOp::Consumer {
                key,
                group,
                consumer,
                delete,
            } => consumer_op(cx, key, group, consumer, delete),
            GroupOp::Check { key, group } => {
                with_group(cx, key, group, Lookup::READ, NoGroupText::ReadGroup).map(|_| Reply::Ok)
            }
            GroupOp::Read {
                key,
                group,
                consumer,
                after,
                count,
                noack,
            } => read(cx, key, group, consumer, after, count, noack),
            GroupOp::Ack { key, group, ids } => ack(cx, key, group, ids),
            GroupOp::Pending { key, group, range } => pending(cx, key, group, range),
            GroupOp::Claim { key, group, rest } => claim(cx, key, group, rest),
            GroupOp::AutoClaim {
                key,
                group,
                consumer,
                min_idle,
                start,
                count,
                justid,
            } => auto_claim(cx, key, group, consumer, min_idle, start, count, justid),
            GroupOp::InfoStream { key, sub, opts } => info_stream(cx, key, sub, opts),
            GroupOp::InfoGroups { key } => info_groups(cx, key),
            GroupOp::InfoConsumers { key, group } => info_consumers(cx, key, group),
        };
        r.unwrap_or_else(Reply::Err)
    }
}

fn no_group(cx: &Cx, key: Arg, group: Arg, how: NoGroupText) -> Error {
    Error::NoGroup(Box::new(NoGroup {
        how,
        key: cx.args.get(key).into(),
        group: cx.args.get(group).into(),
    }))
}

/// The stream holding `group`: its position, or NOGROUP (WRONGTYPE for
/// another type).
fn with_group(
    cx: &mut Cx,
    key: Arg,
    group: Arg,
    how: Lookup,
    text: NoGroupText,
) -> Result<u32, Error> {
    let pos = find(cx, key, how)?;
    let name = cx.args.get(group);
    match pos {
        Some(p) if stream_at(cx.store, p)?.groups().contains_key(name) => Ok(p),
        _ => Err(no_group(cx, key, group, text)),
    }
}

/// What an edit of a group replaced, reported by the edit before each
/// change it makes (nothing is kept while journaling is off).
struct Track {
    on: bool,
    list: Vec<GroupUndo>,
}

impl Track {
    fn push(&mut self, u: impl FnOnce() -> GroupUndo) {
        if self.on {
            self.list.push(u());
        }
    }

    /// The group's last ID and entries read are about to change.
    fn meta(&mut self, g: &Group) {
        self.push(|| GroupUndo::Meta {
            last_id: g.last_id,
            entries_read: g.entries_read,
        });
    }

    /// Pending entry `id` is about to change.
    fn nack(&mut self, g: &Group, id: StreamId) {
        self.push(|| GroupUndo::Nack {
            id,
            old: g.pel.get(&id).cloned(),
        });
    }

    /// Consumer `c` is about to be seen (or created).
    fn seen(&mut self, g: &Group, c: &[u8]) {
        self.push(|| GroupUndo::Seen {
            consumer: c.into(),
            old: g.consumers.get(c).map(|x| x.seen_time),
        });
    }

    /// Consumer `c` and its pending entries are about to go.
    fn consumer_gone(&mut self, g: &Group, c: &[u8]) {
        let Some(x) = g.consumers.get(c) else {
            return;
        };
        for id in &x.pel {
            self.nack(g, *id);
        }
        self.push(|| GroupUndo::Consumer {
            consumer: c.into(),
            old: x.clone(),
        });
    }
}

/// Edits group `name` of the stream at `pos`: `f` reports each change to
/// the `Track` before it makes it, for the undo journal.
fn edit_group<T>(
    store: &mut Store,
    pos: u32,
    name: &[u8],
    f: impl FnOnce(&mut StreamValue, &[u8], &mut Track) -> T,
) -> Option<T> {
    store
        .edit_object(pos, |o, undo| {
            let Object::Stream(s) = o else {
                return None;
            };
            let mut t = Track {
                on: undo.is_on(),
                list: Vec::new(),
            };
            let r = f(s, name, &mut t);
            for u in t.list {
                undo.stream_group(name, u);
            }
            Some(r)
        })
        .flatten()
}

/// Owned record arguments, logged as one record each.
pub(crate) struct Recs {
    on: bool,
    list: Vec<(GroupCmd, Vec<Vec<u8>>)>,
}

impl Recs {
    /// Records kept only when `on` (the log is on): building them
    /// allocates.
    fn new(on: bool) -> Recs {
        Recs {
            on,
            list: Vec::new(),
        }
    }

    fn push(&mut self, cmd: GroupCmd, rest: impl FnOnce() -> Vec<Vec<u8>>) {
        if self.on {
            self.list.push((cmd, rest()));
        }
    }

    /// Logs them for `key`; stops when a rewrite stated the key whole.
    fn log(self, cx: &mut Cx, key: &[u8]) {
        for (cmd, rest) in self.list {
            let refs: Vec<&[u8]> = rest.iter().map(|v| &v[..]).collect();
            let rec = StreamRecord::Group {
                cmd,
                key,
                rest: Items::List(&refs),
            };
            if log_change(cx, rec) {
                return;
            }
        }
    }
}

fn id_text(id: StreamId) -> Vec<u8> {
    let mut t = [0u8; 41];
    id.format(&mut t).to_vec()
}

fn int_text(n: i64) -> Vec<u8> {
    itoa::Buffer::new().format(n).as_bytes().to_vec()
}

/// `XGROUP SETID key group last ENTRIESREAD n` stating the group's
/// position.
fn setid_rec(name: &[u8], g: &Group) -> Vec<Vec<u8>> {
    vec![
        name.to_vec(),
        id_text(g.last_id),
        b"ENTRIESREAD".to_vec(),
        int_text(g.entries_read),
    ]
}

/// The XCLAIM that states pending entry `id` of `g` whole.
fn claim_rec(name: &[u8], g: &Group, id: StreamId) -> Vec<Vec<u8>> {
    let Some(n) = g.pel.get(&id) else {
        return Vec::new();
    };
    vec![
        name.to_vec(),
        n.consumer.to_vec(),
        b"0".to_vec(),
        id_text(id),
        b"TIME".to_vec(),
        int_text(n.delivery_time as i64),
        b"RETRYCOUNT".to_vec(),
        int_text(n.delivery_count as i64),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        id_text(g.last_id),
    ]
}

/// Parses an ENTRIESREAD argument: an integer, at least -1.
fn entries_read_arg(b: &[u8]) -> Result<i64, Error> {
    let n = crate::ops::parse_i64(b).ok_or(Error::NotInteger)?;
    if n < 0 && n != ENTRIES_READ_UNKNOWN {
        return Err(Error::Stream(StreamError::EntriesRead));
    }
    Ok(n)
}

fn create(cx: &mut Cx, key: Arg, group: Arg, id: Arg, mkstream: bool, entries_read: i64) -> R {
    let on = cx.persist.log.enabled;
    let pos = find(cx, key, Lookup::WRITE)?;
    if pos.is_none() && !mkstream {
        return Err(Error::Stream(StreamError::GroupNeedsKey));
    }
    let arg = cx.args.get(id);
    let last = if arg == b"$" {
        match pos {
            Some(p) => stream_at(cx.store, p)?.last_id(),
            None => StreamId::MIN,
        }
    } else {
        StreamId::parse(arg, 0).ok_or(Error::Stream(StreamError::InvalidId))?
    };
    let (db, k) = (cx.db, cx.args.get(key));
    let name = cx.args.get(group);
    if let Some(p) = pos {
        if stream_at(cx.store, p)?.groups().contains_key(name) {
            return Err(Error::Stream(StreamError::BusyGroup));
        }
    }
    let mut made = false;
    let pos = match pos {
        Some(p) => p,
        None => {
            cx.make_room()?;
            cx.store
                .insert_object(db, k, Object::Stream(Box::default()), 0)
                .map_err(|_| Error::Oom)?;
            let p = cx
                .store
                .lookup(db, k, cx.now_ms, Lookup::PEEK)
                .ok_or(Error::Oom)?;
            made = true;
            p
        }
    };
    edit_group(cx.store, pos, name, |s, name, t| {
        t.push(|| GroupUndo::Whole(None));
        s.groups_mut()
            .insert(name.into(), Group::new(last, entries_read));
    });
    if made {
        cx.store.signal_modified(db, k);
    }
    if made {
        // A new key is logged whole (the empty stream and its group), and
        // counts as anchored for a running rewrite (see `Cx::log_anchored`).
        if cx.persist.log.enabled {
            let log = &mut cx.persist.log;
            log.anchor(db as u8, k);
            log.put(db as u8, &crate::aof::Record::Del { key: k });
            crate::aof::Record::for_value(k, cx.store.value_at(pos), 0, |r| log.put(db as u8, &r));
        }
        cx.notify(STREAM, "xgroup-create", k);
        return Ok(Reply::Ok);
    }
    let mut recs = Recs::new(on);
    recs.push(GroupCmd::Create, || {
        vec![
            name.to_vec(),
            id_text(last),
            b"ENTRIESREAD".to_vec(),
            int_text(entries_read),
        ]
    });
    recs.log(cx, k);
    cx.notify(STREAM, "xgroup-create", k);
    Ok(Reply::Ok)
}

/// The position of a stream XGROUP works on: the key must exist and,
/// for `need_group`, hold the group.
fn xgroup_target(cx: &mut Cx, key: Arg, group: Arg, need_group: bool) -> Result<u32, Error> {
    let Some(pos) = find(cx, key, Lookup::WRITE)? else {
        return Err(Error::Stream(StreamError::GroupNeedsKey));
    };
    if need_group
        && !stream_at(cx.store, pos)?
            .groups()
            .contains_key(cx.args.get(group))
    {
        return Err(no_group(cx, key, group, NoGroupText::ForKey));
    }
    Ok(pos)
}

fn set_id(cx: &mut Cx, key: Arg, group: Arg, id: Arg, entries_read: Option<Arg>) -> R {
    let on = cx.persist.log.enabled;
    let pos = xgroup_target(cx, key, group, true)?;
    let arg = cx.args.get(id);
    let last = if arg == b"$" {
        stream_at(cx.store, pos)?.last_id()
    } else {
        StreamId::parse_bound(arg, 0).ok_or(Error::Stream(StreamError::InvalidId))?
    };
    let read = match entries_read {
        Some(a) => entries_read_arg(cx.args.get(a))?,
        None => ENTRIES_READ_UNKNOWN,
    };
    let name = cx.args.get(group);
    let rec = edit_group(cx.store, pos, name, |s, name, t| {
        let g = s.groups_mut().get_mut(name)?;
        t.meta(g);
        g.last_id = last;
        g.entries_read = read;
        Some(setid_rec(name, g))
    })
    .flatten();
    let k = cx.args.get(key);
    if let Some(rest) = rec {
        let mut recs = Recs::new(on);
        recs.push(GroupCmd::SetId, || rest);
        recs.log(cx, k);
    }
    cx.notify(STREAM, "xgroup-setid", k);
    Ok(Reply::Ok)
}

fn destroy(cx: &mut Cx, key: Arg, group: Arg) -> R {
    let on = cx.persist.log.enabled;
    let pos = xgroup_target(cx, key, group, false)?;
    let name = cx.args.get(group);
    if !stream_at(cx.store, pos)?.groups().contains_key(name) {
        return Ok(Reply::Int(0));
    }
    edit_group(cx.store, pos, name, |s, name, t| {
        let old = s.groups_mut().remove(name);
        t.push(|| GroupUndo::Whole(old));
    });
    let k = cx.args.get(key);
    // Wakes the XREADGROUPs blocked on the group, to answer NOGROUP;
    // like every group write, no change for WATCH, as in Redis 7.0.
    cx.store.signal_ready(cx.db, k);
    let mut recs = Recs::new(on);
    recs.push(GroupCmd::Destroy, || vec![name.to_vec()]);
    recs.log(cx, k);
    cx.notify(STREAM, "xgroup-destroy", k);
    Ok(Reply::Int(1))
}

fn consumer_op(cx: &mut Cx, key: Arg, group: Arg, consumer: Arg, delete: bool) -> R {
    let on = cx.persist.log.enabled;
    let pos = xgroup_target(cx, key, group, true)?;
    let (name, c, now) = (cx.args.get(group), cx.args.get(consumer), cx.now_ms);
    let g = stream_at(cx.store, pos)?.groups().get(name);
    let exists = g.is_some_and(|g| g.consumers.contains_key(c));
    if exists != delete {
        return Ok(Reply::Int(0));
    }
    let n = edit_group(cx.store, pos, name, |s, name, t| {
        let g = s.groups_mut().get_mut(name)?;
        if delete {
            t.consumer_gone(g, c);
            g.delete_consumer(c)
        } else {
            t.seen(g, c);
            g.consumer(c, now);
            Some(1)
        }
    })
    .flatten()
    .unwrap_or(0);
    let k = cx.args.get(key);
    let mut recs = Recs::new(on);
    let cmd = if delete {
        GroupCmd::DelConsumer
    } else {
        GroupCmd::CreateConsumer
    };
    recs.push(cmd, || vec![name.to_vec(), c.to_vec()]);
    recs.log(cx, k);
    let event = if delete {
        "xgroup-delconsumer"
    } else {
        "xgroup-createconsumer"
    };
    cx.notify(STREAM, event, k);
    Ok(Reply::Int(n as i64))
}

/// What one XREADGROUP read produced: the entries to answer with (None:
/// a deleted pending entry) and the records.
pub(crate) struct Delivery {
    /// The entries, in order (None: deleted since delivered).
    pub entries: Vec<(StreamId, Option<Box<[u8]>>)>,
    /// The records of the delivery.
    pub recs: Recs,
    /// The consumer was created.
    pub created: bool,
}

/// Delivers to consumer `c` of group `name` of the stream at `pos`: new
/// entries (`after` None), or its pending entries after `after` again.
/// Shared by XREADGROUP and the serving of a blocked one.
#[allow(clippy::too_many_arguments)]
pub(crate) fn deliver(
    store: &mut Store,
    pos: u32,
    name: &[u8],
    c: &[u8],
    after: Option<StreamId>,
    count: u64,
    noack: bool,
    now: u64,
    on: bool,
) -> Option<Delivery> {
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.min(usize::MAX as u64) as usize
    };
    edit_group(store, pos, name, |s, name, t| {
        let mut d = Delivery {
            entries: Vec::new(),
            recs: Recs::new(on),
            created: false,
        };
        let mut g = s.groups_mut().remove(name)?;
        t.seen(&g, c);
        let (cons, created) = g.consumer(c, now);
        cons.seen_time = now;
        d.created = created;
        if created {
            d.recs
                .push(GroupCmd::CreateConsumer, || vec![name.to_vec(), c.to_vec()]);
        }
        match after {
            Some(after) => {
                let ids: Vec<StreamId> = match after.next() {
                    Some(from) => cons.pel.range(from..).take(limit).copied().collect(),
                    None => Vec::new(),
                };
                for id in ids {
                    let entry = s.get(id).map(Box::from);
                    if entry.is_some() {
                        t.nack(&g, id);
                        if let Some(n) = g.pel.get_mut(&id) {
                            n.delivery_time = now;
                            n.delivery_count = n.delivery_count.wrapping_add(1);
                        }
                        d.recs.push(GroupCmd::Claim, || claim_rec(name, &g, id));
                    }
                    d.entries.push((id, entry));
                }
            }
            None => {
                let from = g.last_id.next();
                let new: Vec<(StreamId, Box<[u8]>)> = match from {
                    Some(from) => s
                        .range(from, StreamId::MAX, false)
                        .take(limit)
                        .map(|(id, p)| (id, p.into()))
                        .collect(),
                    None => Vec::new(),
                };
                let moved = !new.is_empty();
                if moved {
                    t.meta(&g);
                }
                for (id, packed) in new {
                    if id > g.last_id {
                        if g.entries_read != ENTRIES_READ_UNKNOWN && !s.tombstones_from(id) {
                            g.entries_read = g.entries_read.wrapping_add(1);
                        } else if s.entries_added() > 0 {
                            g.entries_read = s
                                .entries_up_to(id)
                                .map_or(ENTRIES_READ_UNKNOWN, |n| n as i64);
                        }
                        g.last_id = id;
                    }
                    if !noack {
                        t.nack(&g, id);
                        let n = g.assign(id, c);
                        n.delivery_time = now;
                        n.delivery_count = 1;
                        d.recs.push(GroupCmd::Claim, || claim_rec(name, &g, id));
                    }
                    d.entries.push((id, Some(packed)));
                }
                if moved {
                    d.recs.push(GroupCmd::SetId, || setid_rec(name, &g));
                }
            }
        }
        s.groups_mut().insert(name.into(), g);
        Some(d)
    })
    .flatten()
}

/// Logs a delivery's records for `key` and reports a created consumer.
pub(crate) fn log_delivery(cx: &mut Cx, key: &[u8], recs: Recs, created: bool) {
    recs.log(cx, key);
    if created {
        cx.notify(STREAM, "xgroup-createconsumer", key);
    }
}

fn read(
    cx: &mut Cx,
    key: Arg,
    group: Arg,
    consumer: Arg,
    after: Option<StreamId>,
    count: u64,
    noack: bool,
) -> R {
    // Redis looks each key up twice (checking it, then serving it): the
    // `Check` step was the first look-up.
    let pos = with_group(cx, key, group, Lookup::READ, NoGroupText::ReadGroup)?;
    if after.is_none() {
        let s = stream_at(cx.store, pos)?;
        let last = s.groups().get(cx.args.get(group)).map(|g| g.last_id);
        let fresh = matches!((s.top_id(), last), (Some(t), Some(l)) if t > l);
        if !fresh {
            return Ok(Reply::Nil);
        }
    }
    let (name, c, now) = (cx.args.get(group), cx.args.get(consumer), cx.now_ms);
    let on = cx.persist.log.enabled;
    let Some(d) = deliver(cx.store, pos, name, c, after, count, noack, now, on) else {
        return Err(no_group(cx, key, group, NoGroupText::ReadGroup));
    };
    let k = cx.args.get(key);
    let entries = d.entries;
    log_delivery(cx, k, d.recs, d.created);
    let mut w = TapeWriter::new(cx.out);
    w.array(2);
    w.bulk(k);
    w.array(entries.len());
    for (id, packed) in &entries {
        match packed {
            Some(p) => super::entry(&mut w, *id, p),
            None => {
                let mut t = [0u8; 41];
                w.array(2);
                w.bulk(id.format(&mut t));
                w.nil_array();
            }
        }
    }
    Ok(w.finish())
}

fn ack(cx: &mut Cx, key: Arg, group: Arg, ids: ArgList) -> R {
    let on = cx.persist.log.enabled;
    // A read look-up (it counts a hit or miss), as Redis's.
    let pos = find(cx, key, Lookup::READ)?;
    let mut parsed = Vec::with_capacity(ids.len as usize);
    for i in cx.args.items(ids) {
        parsed.push(StreamId::parse(i, 0).ok_or(Error::Stream(StreamError::InvalidId))?);
    }
    let name = cx.args.get(group);
    let Some(pos) = pos else {
        return Ok(Reply::Int(0));
    };
    let g = stream_at(cx.store, pos)?.groups().get(name);
    let Some(g) = g else {
        return Ok(Reply::Int(0));
    };
    if !parsed.iter().any(|id| g.pel.contains_key(id)) {
        return Ok(Reply::Int(0));
    }
    let (n, rest) = edit_group(cx.store, pos, name, |s, name, t| {
        let mut rest = vec![name.to_vec()];
        let mut n = 0;
        if let Some(g) = s.groups_mut().get_mut(name) {
            for id in &parsed {
                if g.pel.contains_key(id) {
                    t.nack(g, *id);
                }
                if g.ack(*id) {
                    n += 1;
                    rest.push(id_text(*id));
                }
            }
        }
        (n, rest)
    })
    .unwrap_or_default();
    let k = cx.args.get(key);
    let mut recs = Recs::new(on);
    recs.push(GroupCmd::Ack, || rest);
    recs.log(cx, k);
    Ok(Reply::Int(n))
}

fn pending(cx: &mut Cx, key: Arg, group: Arg, range: Option<PendingRange>) -> R {
    let pos = with_group(cx, key, group, Lookup::READ, NoGroupText::KeyOrGroup)?;
    let now = cx.now_ms;
    let name = cx.args.get(group);
    let filter = range.and_then(|r| r.consumer).map(|a| cx.args.get(a));
    let s = stream_at(cx.store, pos)?;
    let Some(g) = s.groups().get(name) else {
        return Ok(Reply::Nil);
    };
    let mut t = [0u8; 41];
    let mut w = TapeWriter::new(cx.out);
    let Some(r) = range else {
        w.array(4);
        w.int(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(a), Some(b)) => {
                w.bulk(a.format(&mut t));
                w.bulk(b.format(&mut t));
                let at = w.array(0);
                let mut n = 0;
                for (cname, c) in &g.consumers {
                    if c.pel.is_empty() {
                        continue;
                    }
                    w.array(2);
                    w.bulk(cname);
                    w.bulk(itoa::Buffer::new().format(c.pel.len()).as_bytes());
                    n += 1;
                }
                w.set_len(at, n);
            }
            _ => {
                w.nil();
                w.nil();
                w.nil_array();
            }
        }
        return Ok(w.finish());
    };
    let at = w.array(0);
    let mut n = 0usize;
    let limit = r.count.min(usize::MAX as u64) as usize;
    let mut emit = |w: &mut TapeWriter, id: StreamId, nack: &crate::value::stream::Nack| -> bool {
        if n >= limit {
            return false;
        }
        let idle = now.saturating_sub(nack.delivery_time);
        if r.min_idle > 0 && idle < r.min_idle {
            return true;
        }
        w.array(4);
        w.bulk(id.format(&mut t));
        w.bulk(&nack.consumer);
        w.int(idle as i64);
        w.int(nack.delivery_count as i64);
        n += 1;
        true
    };
    if r.start <= r.end {
        match filter {
            Some(c) => {
                if let Some(c) = g.consumers.get(c) {
                    for id in c.pel.range(r.start..=r.end) {
                        if let Some(nack) = g.pel.get(id) {
                            if !emit(&mut w, *id, nack) {
                                break;
                            }
                        }
                    }
                }
            }
            None => {
                for (id, nack) in g.pel.range(r.start..=r.end) {
                    if !emit(&mut w, *id, nack) {
                        break;
                    }
                }
            }
        }
    }
    w.set_len(at, n);
    Ok(w.finish())
}

/// An argument as C's `strcasecmp` sees it: up to its first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end]
}

/// XCLAIM's options.
struct ClaimOpts {
    ids: Vec<StreamId>,
    time: u64,
    retry: Option<u64>,
    force: bool,
    justid: bool,
    last: StreamId,
}

/// Reads XCLAIM's min-idle-time, IDs and options (`rest` from the
/// min-idle-time on), as Redis does after its look-up.
fn claim_opts(args: &[&[u8]], now: u64) -> Result<(u64, ClaimOpts), Error> {
    let int = crate::ops::parse_i64;
    let min_idle = int(args[0]).ok_or(Error::Stream(StreamError::MinIdle("XCLAIM")))?;
    let mut o = ClaimOpts {
        ids: Vec::new(),
        time: now,
        retry: None,
        force: false,
        justid: false,
        last: StreamId::MIN,
    };
    let mut j = 1;
    while j < args.len() {
        match StreamId::parse(args[j], 0) {
            Some(id) => o.ids.push(id),
            None => break,
        }
        j += 1;
    }
    let mut time: Option<i64> = None;
    while j < args.len() {
        let more = j + 1 < args.len();
        let opt = c_str(args[j]);
        if opt.eq_ignore_ascii_case(b"FORCE") {
            o.force = true;
        } else if opt.eq_ignore_ascii_case(b"JUSTID") {
            o.justid = true;
        } else if opt.eq_ignore_ascii_case(b"IDLE") && more {
            j += 1;
            let v = int(args[j]).ok_or(Error::Stream(StreamError::ClaimArg("IDLE")))?;
            time = Some((now as i64).wrapping_sub(v));
        } else if opt.eq_ignore_ascii_case(b"TIME") && more {
            j += 1;
            time = Some(int(args[j]).ok_or(Error::Stream(StreamError::ClaimArg("TIME")))?);
        } else if opt.eq_ignore_ascii_case(b"RETRYCOUNT") && more {
            j += 1;
            let v = int(args[j]).ok_or(Error::Stream(StreamError::ClaimArg("RETRYCOUNT")))?;
            o.retry = (v >= 0).then_some(v as u64);
        } else if opt.eq_ignore_ascii_case(b"LASTID") && more {
            j += 1;
            o.last = StreamId::parse(args[j], 0).ok_or(Error::Stream(StreamError::InvalidId))?;
        } else {
            return Err(Error::ClaimOption(opt.into()));
        }
        j += 1;
    }
    // A time in the future or before the epoch is taken as now, as Redis
    // does (a client's clock may run ahead).
    o.time = match time {
        Some(t) if t >= 0 && (t as u64) <= now && t != -1 => t as u64,
        _ => now,
    };
    Ok((min_idle.max(0) as u64, o))
}

fn claim(cx: &mut Cx, key: Arg, group: Arg, rest: ArgList) -> R {
    let on = cx.persist.log.enabled;
    let pos = with_group(cx, key, group, Lookup::READ, NoGroupText::KeyOrGroup)?;
    let now = cx.now_ms;
    let args: Vec<&[u8]> = cx.args.items(rest).collect();
    let consumer = args[0];
    let (min_idle, o) = claim_opts(&args[1..], now)?;
    let name = cx.args.get(group);
    let done = edit_group(cx.store, pos, name, |s, name, t| {
        let mut g = s.groups_mut().remove(name)?;
        let mut recs = Recs::new(on);
        let mut out: Vec<(StreamId, Option<Box<[u8]>>)> = Vec::new();
        let mut created = false;
        let mut moved_last = false;
        if o.last > g.last_id {
            t.meta(&g);
            g.last_id = o.last;
            moved_last = true;
        }
        let mut have_consumer = false;
        for &id in &o.ids {
            let Some(entry) = s.get(id) else {
                if g.pel.contains_key(&id) {
                    t.nack(&g, id);
                    g.ack(id);
                    recs.push(GroupCmd::Ack, || vec![name.to_vec(), id_text(id)]);
                }
                continue;
            };
            let mut fresh = false;
            if !g.pel.contains_key(&id) {
                if !o.force {
                    continue;
                }
                fresh = true;
            }
            if !fresh && min_idle > 0 {
                let idle = now.saturating_sub(g.pel[&id].delivery_time);
                if idle < min_idle {
                    continue;
                }
            }
            if !have_consumer {
                t.seen(&g, consumer);
                let (cons, c) = g.consumer(consumer, now);
                cons.seen_time = now;
                created = c;
                have_consumer = true;
                if c {
                    recs.push(GroupCmd::CreateConsumer, || {
                        vec![name.to_vec(), consumer.to_vec()]
                    });
                }
            }
            t.nack(&g, id);
            let n = g.assign(id, consumer);
            if fresh {
                n.delivery_count = 1;
            }
            n.delivery_time = o.time;
            match o.retry {
                Some(r) => n.delivery_count = r,
                None if !o.justid => n.delivery_count = n.delivery_count.wrapping_add(1),
                None => {}
            }
            recs.push(GroupCmd::Claim, || claim_rec(name, &g, id));
            moved_last = false;
            out.push((id, (!o.justid).then(|| entry.into())));
        }
        if moved_last {
            recs.push(GroupCmd::SetId, || setid_rec(name, &g));
        }
        s.groups_mut().insert(name.into(), g);
        Some((out, recs, created))
    })
    .flatten();
    let Some((out, recs, created)) = done else {
        return Err(no_group(cx, key, group, NoGroupText::KeyOrGroup));
    };
    let k = cx.args.get(key);
    if !recs.list.is_empty() {
        recs.log(cx, k);
    }
    if created {
        cx.notify(STREAM, "xgroup-createconsumer", k);
    }
    let mut w = TapeWriter::new(cx.out);
    w.array(out.len());
    let mut t = [0u8; 41];
    for (id, p) in &out {
        match p {
            Some(p) => super::entry(&mut w, *id, p),
            None => w.bulk(id.format(&mut t)),
        }
    }
    Ok(w.finish())
}

#[allow(clippy::too_many_arguments)]
fn auto_claim(
    cx: &mut Cx,
    key: Arg,
    group: Arg,
    consumer: Arg,
    min_idle: u64,
    start: StreamId,
    count: u64,
    justid: bool,
) -> R {
    let on = cx.persist.log.enabled;
    let pos = with_group(cx, key, group, Lookup::READ, NoGroupText::KeyOrGroup)?;
    let now = cx.now_ms;
    let (name, c) = (cx.args.get(group), cx.args.get(consumer));
    let done = edit_group(cx.store, pos, name, |s, name, t| {
        let mut g = s.groups_mut().remove(name)?;
        let mut recs = Recs::new(on);
        let mut out: Vec<(StreamId, Option<Box<[u8]>>)> = Vec::new();
        let mut deleted = Vec::new();
        let mut created = false;
        let mut have_consumer = false;
        let mut attempts = count.saturating_mul(10);
        let mut left = count;
        let mut cursor = g.pel.range(start..).next().map(|(id, _)| *id);
        let mut next = None;
        while let Some(id) = cursor {
            if attempts == 0 || left == 0 {
                next = Some(id);
                break;
            }
            attempts -= 1;
            cursor = g
                .pel
                .range((std::ops::Bound::Excluded(id), std::ops::Bound::Unbounded))
                .next()
                .map(|(id, _)| *id);
            let Some(entry) = s.get(id) else {
                t.nack(&g, id);
                g.ack(id);
                recs.push(GroupCmd::Ack, || vec![name.to_vec(), id_text(id)]);
                deleted.push(id);
                left -= 1;
                continue;
            };
            if min_idle > 0 && now.saturating_sub(g.pel[&id].delivery_time) < min_idle {
                continue;
            }
            if !have_consumer {
                t.seen(&g, c);
                let (cons, cr) = g.consumer(c, now);
                cons.seen_time = now;
                created = cr;
                have_consumer = true;
                if cr {
                    recs.push(GroupCmd::CreateConsumer, || vec![name.to_vec(), c.to_vec()]);
                }
            }
            t.nack(&g, id);
            let n = g.assign(id, c);
            n.delivery_time = now;
            if !justid {
                n.delivery_count = n.delivery_count.wrapping_add(1);
            }
            recs.push(GroupCmd::Claim, || claim_rec(name, &g, id));
            out.push((id, (!justid).then(|| entry.into())));
            left -= 1;
        }
        s.groups_mut().insert(name.into(), g);
        Some((out, deleted, next.unwrap_or(StreamId::MIN), recs, created))
    })
    .flatten();
    let Some((out, deleted, next, recs, created)) = done else {
        return Err(no_group(cx, key, group, NoGroupText::KeyOrGroup));
    };
    let k = cx.args.get(key);
    if !recs.list.is_empty() {
        recs.log(cx, k);
    }
    if created {
        cx.notify(STREAM, "xgroup-createconsumer", k);
    }
    let mut t = [0u8; 41];
    let mut w = TapeWriter::new(cx.out);
    w.array(3);
    w.bulk(next.format(&mut t));
    w.array(out.len());
    for (id, p) in &out {
        match p {
            Some(p) => super::entry(&mut w, *id, p),
            None => w.bulk(id.format(&mut t)),
        }
    }
    w.array(deleted.len());
    for id in deleted {
        w.bulk(id.format(&mut t));
    }
    Ok(w.finish())
}

/// The stream XINFO reads: `ERR no such key` when missing.
fn info_target(cx: &mut Cx, key: Arg) -> Result<u32, Error> {
    find(cx, key, Lookup::READ)?.ok_or(Error::NoSuchKey)
}

fn lag_item(w: &mut TapeWriter, s: &StreamValue, g: &Group) {
    w.bulk(b"entries-read");
    if g.entries_read != ENTRIES_READ_UNKNOWN {
        w.int(g.entries_read);
    } else {
        w.nil();
    }
    w.bulk(b"lag");
    match s.lag(g) {
        Some(l) => {
            w.int(l);
        }
        None => w.nil(),
    }
}

fn info_groups(cx: &mut Cx, key: Arg) -> R {
    let pos = info_target(cx, key)?;
    let s = stream_at(cx.store, pos)?;
    let mut t = [0u8; 41];
    let mut w = TapeWriter::new(cx.out);
    w.array(s.groups().len());
    for (name, g) in s.groups() {
        w.map(6);
        w.bulk(b"name");
        w.bulk(name);
        w.bulk(b"consumers");
        w.int(g.consumers.len() as i64);
        w.bulk(b"pending");
        w.int(g.pel.len() as i64);
        w.bulk(b"last-delivered-id");
        w.bulk(g.last_id.format(&mut t));
        lag_item(&mut w, s, g);
    }
    Ok(w.finish())
}

fn info_consumers(cx: &mut Cx, key: Arg, group: Arg) -> R {
    let pos = info_target(cx, key)?;
    let now = cx.now_ms;
    let s = stream_at(cx.store, pos)?;
    let Some(g) = s.groups().get(cx.args.get(group)) else {
        return Err(no_group(cx, key, group, NoGroupText::ForKey));
    };
    let mut w = TapeWriter::new(cx.out);
    w.array(g.consumers.len());
    for (name, c) in &g.consumers {
        w.map(3);
        w.bulk(b"name");
        w.bulk(name);
        w.bulk(b"pending");
        w.int(c.pel.len() as i64);
        w.bulk(b"idle");
        w.int(now.saturating_sub(c.seen_time) as i64);
    }
    Ok(w.finish())
}

/// Redis's subcommand syntax error for the subcommand argument `sub`.
fn sub_syntax(cx: &Cx, sub: Arg, top: &'static str) -> Error {
    Error::SubSyntax(Box::new((cx.args.get(sub).into(), top)))
}

fn info_stream(cx: &mut Cx, key: Arg, sub: Arg, opts: ArgList) -> R {
    let pos = info_target(cx, key)?;
    let o: Vec<&[u8]> = cx.args.items(opts).map(c_str).collect();
    let full = match o.len() {
        0 => None,
        1 | 3 => {
            if !o[0].eq_ignore_ascii_case(b"FULL") {
                return Err(sub_syntax(cx, sub, "XINFO"));
            }
            if o.len() == 3 {
                if !o[1].eq_ignore_ascii_case(b"COUNT") {
                    return Err(sub_syntax(cx, sub, "XINFO"));
                }
                let n = crate::ops::parse_i64(cx.args.items(opts).nth(2).unwrap_or_default())
                    .ok_or(Error::NotInteger)?;
                // A negative COUNT means the default, as in Redis.
                Some(if n < 0 { 10 } else { n as u64 })
            } else {
                Some(10)
            }
        }
        _ => return Err(sub_syntax(cx, sub, "XINFO")),
    };
    let s = stream_at(cx.store, pos)?;
    let mut t = [0u8; 41];
    let mut w = TapeWriter::new(cx.out);
    let keys: Vec<[u8; 16]> = s.node_ids().map(StreamId::to_be_bytes).collect();
    w.map(if full.is_some() { 9 } else { 10 });
    w.bulk(b"length");
    w.int(s.len() as i64);
    w.bulk(b"radix-tree-keys");
    w.int(keys.len() as i64);
    w.bulk(b"radix-tree-nodes");
    w.int(crate::value::stream::rax_nodes(&keys) as i64);
    w.bulk(b"last-generated-id");
    w.bulk(s.last_id().format(&mut t));
    w.bulk(b"max-deleted-entry-id");
    w.bulk(s.max_deleted().format(&mut t));
    w.bulk(b"entries-added");
    w.int(s.entries_added() as i64);
    w.bulk(b"recorded-first-entry-id");
    w.bulk(s.first_id().unwrap_or(StreamId::MIN).format(&mut t));
    let Some(count) = full else {
        w.bulk(b"groups");
        w.int(s.groups().len() as i64);
        for (name, edge) in [
            (&b"first-entry"[..], s.iter().next()),
            (
                b"last-entry",
                s.range(StreamId::MIN, StreamId::MAX, true).next(),
            ),
        ] {
            w.bulk(name);
            match edge {
                Some((id, p)) => super::entry(&mut w, id, p),
                None => w.nil(),
            }
        }
        return Ok(w.finish());
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.min(usize::MAX as u64) as usize
    };
    w.bulk(b"entries");
    let at = w.array(0);
    let mut n = 0;
    for (id, p) in s.iter().take(limit) {
        super::entry(&mut w, id, p);
        n += 1;
    }
    w.set_len(at, n);
    w.bulk(b"groups");
    w.array(s.groups().len());
    for (name, g) in s.groups() {
        w.map(7);
        w.bulk(b"name");
        w.bulk(name);
        w.bulk(b"last-delivered-id");
        w.bulk(g.last_id.format(&mut t));
        lag_item(&mut w, s, g);
        w.bulk(b"pel-count");
        w.int(g.pel.len() as i64);
        w.bulk(b"pending");
        let at = w.array(0);
        let mut n = 0;
        for (id, nack) in g.pel.iter().take(limit) {
            w.array(4);
            w.bulk(id.format(&mut t));
            w.bulk(&nack.consumer);
            w.int(nack.delivery_time as i64);
            w.int(nack.delivery_count as i64);
            n += 1;
        }
        w.set_len(at, n);
        w.bulk(b"consumers");
        w.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            w.map(4);
            w.bulk(b"name");
            w.bulk(cname);
            w.bulk(b"seen-time");
            w.int(c.seen_time as i64);
            w.bulk(b"pel-count");
            w.int(c.pel.len() as i64);
            w.bulk(b"pending");
            let at = w.array(0);
            let mut n = 0;
            for id in c.pel.iter().take(limit) {
                let Some(nack) = g.pel.get(id) else {
                    continue;
                };
                w.array(3);
                w.bulk(id.format(&mut t));
                w.int(nack.delivery_time as i64);
                w.int(nack.delivery_count as i64);
                n += 1;
            }
            w.set_len(at, n);
        }
    }
    Ok(w.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Batch;
    use crate::keyspace::ValueRef;
    use crate::ops::testing::{log_text, logging, run};
    use crate::ops::Op;
    use std::collections::BTreeMap;

    fn op(b: &mut Batch, f: impl FnOnce(&mut crate::batch::Args) -> GroupOp) {
        let g = f(&mut b.args);
        b.push(0, Op::Stream(StreamOp::Group(g)));
    }

    fn read(b: &mut Batch, c: &str, after: Option<StreamId>, noack: bool) {
        op(b, |a| GroupOp::Read {
            key: a.push(b"s"),
            group: a.push(b"g"),
            consumer: a.push(c.as_bytes()),
            after,
            count: 0,
            noack,
        });
    }

    fn groups(store: &mut Store) -> BTreeMap<Box<[u8]>, Group> {
        let pos = store.lookup(0, b"s", 0, Lookup::PEEK).unwrap();
        let ValueRef::Obj(Object::Stream(s)) = store.value_at(pos) else {
            panic!("not a stream");
        };
        s.groups().clone()
    }

    use super::super::StreamOp;

    fn setup(store: &mut Store) -> crate::ops::Persist {
        let mut p = logging();
        run(store, &mut p, 1000, |b| {
            for i in 1..=5u64 {
                let k = b.args.push(b"s");
                let pairs = b.args.list([&b"f"[..], b"v"]);
                b.push(
                    0,
                    Op::Stream(StreamOp::Add {
                        key: k,
                        no_mkstream: false,
                        id: super::super::NewId::Exact(StreamId::new(i, 0)),
                        trim: None,
                        pairs,
                    }),
                );
            }
            op(b, |a| GroupOp::Create {
                key: a.push(b"s"),
                group: a.push(b"g"),
                id: a.push(b"0"),
                mkstream: false,
                entries_read: ENTRIES_READ_UNKNOWN,
            });
            read(b, "alice", None, false);
        });
        p
    }

    /// A delivery is logged as an XCLAIM stating the pending entry whole
    /// (LASTID: the group's last ID once it was delivered, as Redis
    /// propagates it) and an XGROUP SETID stating the group's position.
    #[test]
    fn deliveries_log_xclaim_and_setid() {
        let mut store = Store::new(Default::default());
        let p = setup(&mut store);
        let log = log_text(&p);
        assert!(
            log.contains("$6\r\nXCLAIM\r\n$1\r\ns\r\n$1\r\ng\r\n$5\r\nalice\r\n$1\r\n0\r\n$3\r\n1-0\r\n$4\r\nTIME\r\n$4\r\n1000\r\n$10\r\nRETRYCOUNT\r\n$1\r\n1\r\n$5\r\nFORCE\r\n$6\r\nJUSTID\r\n$6\r\nLASTID\r\n$3\r\n1-0\r\n"),
            "{log}"
        );
        assert!(
            log.contains("$6\r\nXGROUP\r\n$5\r\nSETID\r\n$1\r\ns\r\n$1\r\ng\r\n$3\r\n5-0\r\n$11\r\nENTRIESREAD\r\n$1\r\n5\r\n"),
            "{log}"
        );
        assert!(log.contains("CREATECONSUMER"), "{log}");
    }

    /// A rolled-back group of writes leaves every group as it was: its
    /// PEL, consumers, last ID and entries read.
    #[test]
    fn a_rollback_restores_the_groups() {
        let mut store = Store::new(Default::default());
        let mut p = setup(&mut store);
        store.set_journaling(true);
        store.forget();
        let before = groups(&mut store);
        run(&mut store, &mut p, 2000, |b| {
            let k = b.args.push(b"s");
            let pairs = b.args.list([&b"f"[..], b"v"]);
            b.push(
                0,
                Op::Stream(StreamOp::Add {
                    key: k,
                    no_mkstream: false,
                    id: super::super::NewId::Exact(StreamId::new(9, 0)),
                    trim: None,
                    pairs,
                }),
            );
            // First, so no later change journals these entries again.
            op(b, |a| GroupOp::Ack {
                key: a.push(b"s"),
                group: a.push(b"g"),
                ids: a.list([&b"1-0"[..], b"2-0"]),
            });
            read(b, "zed", None, false);
            read(b, "bob", Some(StreamId::MIN), false);
            read(b, "alice", Some(StreamId::MIN), false);
            op(b, |a| GroupOp::Claim {
                key: a.push(b"s"),
                group: a.push(b"g"),
                rest: a.list([&b"carol"[..], b"0", b"3-0", b"4-0", b"RETRYCOUNT", b"7"]),
            });
            op(b, |a| GroupOp::AutoClaim {
                key: a.push(b"s"),
                group: a.push(b"g"),
                consumer: a.push(b"dave"),
                min_idle: 0,
                start: StreamId::MIN,
                count: 1,
                justid: false,
            });
            op(b, |a| GroupOp::Consumer {
                key: a.push(b"s"),
                group: a.push(b"g"),
                consumer: a.push(b"alice"),
                delete: true,
            });
            op(b, |a| GroupOp::SetId {
                key: a.push(b"s"),
                group: a.push(b"g"),
                id: a.push(b"$"),
                entries_read: None,
            });
            op(b, |a| GroupOp::Create {
                key: a.push(b"s"),
                group: a.push(b"h"),
                id: a.push(b"0"),
                mkstream: false,
                entries_read: 3,
            });
            op(b, |a| GroupOp::Destroy {
                key: a.push(b"s"),
                group: a.push(b"g"),
            });
        });
        assert_ne!(groups(&mut store), before);
        store.rollback();
        assert_eq!(groups(&mut store), before);
    }
}
