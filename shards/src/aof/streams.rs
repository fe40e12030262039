//! The records of streams.
//!
//! A stream's records are Redis's own commands with nothing left to chance:
//! `XADD key id field value ...` with the ID the entry got, `XTRIM key MINID
//! = id` for what a trim removed (every entry below `id`: a trim always
//! removes a prefix, so this names exactly what went, whether the command
//! said MAXLEN, MINID or `~`), `XDEL key id ...`, and `XSETID key id
//! ENTRIESADDED n MAXDELETEDID id` stating the stream's counters whole.
//! Replayed in order from the same start they rebuild the same stream, its
//! last ID, entries-added count and greatest deleted ID included, and Redis
//! replays them the same way.
//!
//! XADD and XTRIM are relative to the stream they find, so like a list's
//! they are anchored while a rewrite runs (`Log::anchor`): the first record
//! of a key states the key whole instead. A stream is written whole as one
//! `XADD` per entry (as Redis's `rewriteStreamObject`
//! does: XADD takes one entry), then `XSETID`; an empty stream as Redis writes it,
//! `XADD key MAXLEN 0 0-1 x y` then `XSETID`.

use super::record::{put_bulk, Items, Record};
use crate::keyspace::{Lookup, Store};
use crate::value::stream::{self, StreamId, StreamValue, Trim};
use crate::value::Object;

/// A stream change, as the Redis command that makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamRecord<'a> {
    /// `XADD key [MAXLEN 0] id field value ...`.
    Add {
        /// The key.
        key: &'a [u8],
        /// The entry's ID.
        id: StreamId,
        /// Fields and values, alternating.
        pairs: Items<'a>,
        /// `MAXLEN 0`: the entry goes at once (an empty stream's record).
        drop: bool,
    },
    /// `XTRIM key MINID = id`, or `XTRIM key MAXLEN = 0` when the trim
    /// removed everything up to the greatest ID.
    Trim {
        /// The key.
        key: &'a [u8],
        /// Entries below it went (None: every entry).
        below: Option<StreamId>,
    },
    /// `XDEL key id ...`.
    Del {
        /// The key.
        key: &'a [u8],
        /// The IDs, as text.
        ids: Items<'a>,
    },
    /// `XSETID key id ENTRIESADDED n MAXDELETEDID id`.
    SetId {
        /// The key.
        key: &'a [u8],
        /// The last ID.
        last: StreamId,
        /// Entries ever added.
        added: u64,
        /// The greatest deleted ID.
        max_deleted: StreamId,
    },
    /// A consumer group change, as the command Redis propagates for it:
    /// `XGROUP CREATE|SETID key group id ENTRIESREAD n`, `XGROUP DESTROY
    /// key group`, `XGROUP CREATECONSUMER|DELCONSUMER key group consumer`,
    /// `XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID
    /// LASTID id` (a delivery), `XACK key group id ...`.
    Group {
        /// Which command.
        cmd: GroupCmd,
        /// The key.
        key: &'a [u8],
        /// The arguments after the key.
        rest: Items<'a>,
    },
}

/// The commands of consumer group records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupCmd {
    /// XGROUP CREATE.
    Create,
    /// XGROUP SETID.
    SetId,
    /// XGROUP DESTROY.
    Destroy,
    /// XGROUP CREATECONSUMER.
    CreateConsumer,
    /// XGROUP DELCONSUMER.
    DelConsumer,
    /// XCLAIM.
    Claim,
    /// XACK.
    Ack,
}

impl GroupCmd {
    /// The XGROUP subcommand's name (None for XCLAIM and XACK).
    fn sub(self) -> Option<&'static [u8]> {
        Some(match self {
            GroupCmd::Create => b"CREATE",
            GroupCmd::SetId => b"SETID",
            GroupCmd::Destroy => b"DESTROY",
            GroupCmd::CreateConsumer => b"CREATECONSUMER",
            GroupCmd::DelConsumer => b"DELCONSUMER",
            GroupCmd::Claim | GroupCmd::Ack => return None,
        })
    }
}

/// Applies a consumer group record to the stream `s`: the state each
/// command states, set as it says (an XCLAIM replayed creates its pending
/// entry even when the entry was deleted since, so the PEL comes back
/// whole). Malformed records do nothing.
fn apply_group(s: &mut StreamValue, cmd: GroupCmd, rest: &[&[u8]], now: u64) {
    use crate::value::stream::Group;
    let id = |b: &[u8]| StreamId::parse(b, 0);
    let int = |b: &[u8]| crate::ops::parse_i64(b);
    let Some(name) = rest.first() else {
        return;
    };
    match cmd {
        GroupCmd::Create | GroupCmd::SetId => {
            let (Some(last), Some(read)) = (
                rest.get(1).and_then(|b| StreamId::parse_bound(b, 0)),
                rest.get(3).and_then(|b| int(b)),
            ) else {
                return;
            };
            let g = s
                .groups_mut()
                .entry((*name).into())
                .or_insert_with(|| Group::new(last, read));
            if cmd == GroupCmd::SetId {
                g.last_id = last;
                g.entries_read = read;
            }
        }
        GroupCmd::Destroy => {
            s.groups_mut().remove(*name);
        }
        GroupCmd::CreateConsumer | GroupCmd::DelConsumer => {
            let (Some(g), Some(c)) = (s.groups_mut().get_mut(*name), rest.get(1)) else {
                return;
            };
            if cmd == GroupCmd::CreateConsumer {
                g.consumer(c, now);
            } else {
                g.delete_consumer(c);
            }
        }
        GroupCmd::Claim => {
            let (Some(g), Some(c), Some(eid)) = (
                s.groups_mut().get_mut(*name),
                rest.get(1),
                rest.get(3).and_then(|b| id(b)),
            ) else {
                return;
            };
            let mut i = 4;
            let (mut time, mut count, mut last) = (now, 1u64, None);
            while i + 1 < rest.len() {
                let opt = rest[i];
                if opt.eq_ignore_ascii_case(b"TIME") {
                    time = int(rest[i + 1]).map_or(now, |t| t.max(0) as u64);
                } else if opt.eq_ignore_ascii_case(b"RETRYCOUNT") {
                    count = int(rest[i + 1]).map_or(1, |t| t.max(0) as u64);
                } else if opt.eq_ignore_ascii_case(b"LASTID") {
                    last = id(rest[i + 1]);
                } else {
                    i += 1;
                    continue;
                }
                i += 2;
            }
            g.consumer(c, now);
            let n = g.assign(eid, c);
            n.delivery_time = time;
            n.delivery_count = count;
            if let Some(l) = last {
                if l > g.last_id {
                    g.last_id = l;
                }
            }
        }
        GroupCmd::Ack => {
            if let Some(g) = s.groups_mut().get_mut(*name) {
                for b in &rest[1..] {
                    if let Some(i) = id(b) {
                        g.ack(i);
                    }
                }
            }
        }
    }
}

fn put_id(buf: &mut Vec<u8>, id: StreamId) {
    let mut t = [0u8; 41];
    put_bulk(buf, id.format(&mut t));
}

fn header(buf: &mut Vec<u8>, n: usize) {
    buf.push(b'*');
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    buf.extend_from_slice(b"\r\n");
}

impl<'a> StreamRecord<'a> {
    /// The key it changes.
    pub fn key(&self) -> &'a [u8] {
        match *self {
            StreamRecord::Add { key, .. }
            | StreamRecord::Trim { key, .. }
            | StreamRecord::Del { key, .. }
            | StreamRecord::SetId { key, .. }
            | StreamRecord::Group { key, .. } => key,
        }
    }

    /// True for the names it reads.
    pub(super) fn names(name: &[u8]) -> bool {
        matches!(
            name,
            b"XADD" | b"XTRIM" | b"XDEL" | b"XSETID" | b"XGROUP" | b"XCLAIM" | b"XACK"
        )
    }

    /// Reads a record (`name` upper-cased).
    pub(super) fn parse(name: &[u8], args: &'a [&'a [u8]]) -> Result<StreamRecord<'a>, String> {
        let id = |b: &[u8]| StreamId::parse(b, 0).ok_or_else(|| "bad stream ID".to_string());
        let eq = |b: &[u8], w: &[u8]| b.eq_ignore_ascii_case(w);
        Ok(match (name, args.len()) {
            (b"XADD", n) if n >= 7 && n % 2 == 1 && eq(args[2], b"MAXLEN") && args[3] == b"0" => {
                StreamRecord::Add {
                    key: args[1],
                    id: id(args[4])?,
                    pairs: Items::List(&args[5..]),
                    drop: true,
                }
            }
            (b"XADD", n) if n >= 5 && n % 2 == 1 => StreamRecord::Add {
                key: args[1],
                id: id(args[2])?,
                pairs: Items::List(&args[3..]),
                drop: false,
            },
            (b"XTRIM", 5) if eq(args[2], b"MINID") && args[3] == b"=" => StreamRecord::Trim {
                key: args[1],
                below: Some(id(args[4])?),
            },
            (b"XTRIM", 5) if eq(args[2], b"MAXLEN") && args[3] == b"=" && args[4] == b"0" => {
                StreamRecord::Trim {
                    key: args[1],
                    below: None,
                }
            }
            (b"XDEL", n) if n >= 3 => StreamRecord::Del {
                key: args[1],
                ids: Items::List(&args[2..]),
            },
            (b"XSETID", 7) if eq(args[3], b"ENTRIESADDED") && eq(args[5], b"MAXDELETEDID") => {
                StreamRecord::SetId {
                    key: args[1],
                    last: id(args[2])?,
                    added: std::str::from_utf8(args[4])
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or("bad ENTRIESADDED")?,
                    max_deleted: id(args[6])?,
                }
            }
            (b"XGROUP", n) if n >= 4 => {
                let sub = args[1].to_ascii_uppercase();
                let cmd = match &sub[..] {
                    b"CREATE" => GroupCmd::Create,
                    b"SETID" => GroupCmd::SetId,
                    b"DESTROY" => GroupCmd::Destroy,
                    b"CREATECONSUMER" => GroupCmd::CreateConsumer,
                    b"DELCONSUMER" => GroupCmd::DelConsumer,
                    _ => return Err("unexpected XGROUP record".into()),
                };
                StreamRecord::Group {
                    cmd,
                    key: args[2],
                    rest: Items::List(&args[3..]),
                }
            }
            (b"XCLAIM", n) if n >= 6 => StreamRecord::Group {
                cmd: GroupCmd::Claim,
                key: args[1],
                rest: Items::List(&args[2..]),
            },
            (b"XACK", n) if n >= 4 => StreamRecord::Group {
                cmd: GroupCmd::Ack,
                key: args[1],
                rest: Items::List(&args[2..]),
            },
            _ => return Err("unexpected stream record".into()),
        })
    }

    /// Appends the record as a Redis command in RESP.
    pub(super) fn encode(&self, buf: &mut Vec<u8>) {
        match *self {
            StreamRecord::Add {
                key,
                id,
                pairs,
                drop,
            } => {
                header(buf, 3 + pairs.len() + if drop { 2 } else { 0 });
                put_bulk(buf, b"XADD");
                put_bulk(buf, key);
                if drop {
                    put_bulk(buf, b"MAXLEN");
                    put_bulk(buf, b"0");
                }
                put_id(buf, id);
                for p in pairs.iter() {
                    put_bulk(buf, p);
                }
            }
            StreamRecord::Trim { key, below } => {
                header(buf, 5);
                put_bulk(buf, b"XTRIM");
                put_bulk(buf, key);
                match below {
                    Some(id) => {
                        put_bulk(buf, b"MINID");
                        put_bulk(buf, b"=");
                        put_id(buf, id);
                    }
                    None => {
                        put_bulk(buf, b"MAXLEN");
                        put_bulk(buf, b"=");
                        put_bulk(buf, b"0");
                    }
                }
            }
            StreamRecord::Del { key, ids } => {
                header(buf, 2 + ids.len());
                put_bulk(buf, b"XDEL");
                put_bulk(buf, key);
                for i in ids.iter() {
                    put_bulk(buf, i);
                }
            }
            StreamRecord::SetId {
                key,
                last,
                added,
                max_deleted,
            } => {
                header(buf, 7);
                put_bulk(buf, b"XSETID");
                put_bulk(buf, key);
                put_id(buf, last);
                put_bulk(buf, b"ENTRIESADDED");
                put_bulk(buf, itoa::Buffer::new().format(added).as_bytes());
                put_bulk(buf, b"MAXDELETEDID");
                put_id(buf, max_deleted);
            }
            StreamRecord::Group { cmd, key, rest } => {
                let sub = cmd.sub();
                header(buf, 2 + sub.is_some() as usize + rest.len());
                match (cmd, sub) {
                    (_, Some(sub)) => {
                        put_bulk(buf, b"XGROUP");
                        put_bulk(buf, sub);
                    }
                    (GroupCmd::Claim, None) => put_bulk(buf, b"XCLAIM"),
                    _ => put_bulk(buf, b"XACK"),
                }
                put_bulk(buf, key);
                for r in rest.iter() {
                    put_bulk(buf, r);
                }
            }
        }
    }

    /// Applies the record to `db` of `store`. A record that meets a key of
    /// another type, or an XADD whose ID is not above the stream's last,
    /// does nothing.
    pub(super) fn apply(&self, store: &mut Store, db: usize, now: u64) {
        let key = self.key();
        let pos = store.lookup(db, key, now, Lookup::PEEK);
        let pos = match (pos, self) {
            (Some(p), _) => p,
            (None, StreamRecord::Add { .. }) => {
                if store
                    .insert_object(db, key, Object::Stream(Box::default()), 0)
                    .is_err()
                {
                    return;
                }
                match store.lookup(db, key, now, Lookup::PEEK) {
                    Some(p) => p,
                    None => return,
                }
            }
            (None, _) => return,
        };
        store.with_object(pos, |o| {
            let Object::Stream(s) = o else {
                return;
            };
            match *self {
                StreamRecord::Add {
                    id, pairs, drop, ..
                } => {
                    if id > s.last_id() {
                        s.append(id, stream::pack(pairs.iter()));
                        if drop {
                            s.trim(Trim::MaxLen(0), false, 0);
                        }
                    }
                }
                StreamRecord::Trim { below, .. } => {
                    let how = match below {
                        Some(id) => Trim::MinId(id),
                        None => Trim::MaxLen(0),
                    };
                    s.trim(how, false, 0);
                }
                StreamRecord::Del { ids, .. } => {
                    for i in ids.iter() {
                        if let Some(id) = StreamId::parse(i, 0) {
                            s.delete(id);
                        }
                    }
                }
                StreamRecord::SetId {
                    last,
                    added,
                    max_deleted,
                    ..
                } => s.set_meta(last, added, max_deleted),
                StreamRecord::Group { cmd, rest, .. } => {
                    let rest: Vec<&[u8]> = rest.iter().collect();
                    apply_group(s, cmd, &rest, now);
                }
            }
        });
    }
}

/// Hands `f` the records that create `key` holding `s` (see the module's
/// notes).
pub(super) fn for_stream(key: &[u8], s: &StreamValue, f: &mut dyn FnMut(Record)) {
    let mut fields: Vec<&[u8]> = Vec::new();
    for (id, packed) in s.iter() {
        fields.clear();
        fields.extend(stream::unpack(packed));
        f(Record::Stream(StreamRecord::Add {
            key,
            id,
            pairs: Items::List(&fields),
            drop: false,
        }));
    }
    if s.is_empty() {
        let xy: [&[u8]; 2] = [b"x", b"y"];
        f(Record::Stream(StreamRecord::Add {
            key,
            id: StreamId::new(0, 1),
            pairs: Items::List(&xy),
            drop: true,
        }));
    }
    f(Record::Stream(StreamRecord::SetId {
        key,
        last: s.last_id(),
        added: s.entries_added(),
        max_deleted: s.max_deleted(),
    }));
    for_groups(key, s, f);
}

/// The records that create `s`'s consumer groups: each group, its
/// consumers, then each pending entry as the XCLAIM that delivered it.
fn for_groups(key: &[u8], s: &StreamValue, f: &mut dyn FnMut(Record)) {
    let mut t = [[0u8; 41]; 2];
    for (name, g) in s.groups() {
        let read = itoa::Buffer::new().format(g.entries_read).to_owned();
        let (last, _) = t.split_at_mut(1);
        let last = g.last_id.format(&mut last[0]).to_vec();
        let rest: [&[u8]; 4] = [name, &last, b"ENTRIESREAD", read.as_bytes()];
        f(Record::Stream(StreamRecord::Group {
            cmd: GroupCmd::Create,
            key,
            rest: Items::List(&rest),
        }));
        for c in g.consumers.keys() {
            let rest: [&[u8]; 2] = [name, c];
            f(Record::Stream(StreamRecord::Group {
                cmd: GroupCmd::CreateConsumer,
                key,
                rest: Items::List(&rest),
            }));
        }
        for (id, n) in &g.pel {
            let mut a = itoa::Buffer::new();
            let mut b = itoa::Buffer::new();
            let text = id.format(&mut t[1]);
            let rest: [&[u8]; 12] = [
                name,
                &n.consumer,
                b"0",
                text,
                b"TIME",
                a.format(n.delivery_time).as_bytes(),
                b"RETRYCOUNT",
                b.format(n.delivery_count).as_bytes(),
                b"FORCE",
                b"JUSTID",
                b"LASTID",
                &last,
            ];
            f(Record::Stream(StreamRecord::Group {
                cmd: GroupCmd::Claim,
                key,
                rest: Items::List(&rest),
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{open, AofConfig, Fsync};
    use crate::batch::Batch;
    use crate::keyspace::{Expiry, Limits, Store, ValueRef};
    use crate::ops::stream::{NewId, StreamOp, TrimSpec};
    use crate::ops::{execute, Op, Persist};
    use crate::route::Router;
    use crate::value::stream::{StreamId, Trim};
    use crate::value::Object;
    use std::path::Path;

    fn cfg(dir: &Path) -> AofConfig {
        AofConfig {
            dir: dir.to_path_buf(),
            fsync: Fsync::No,
            rewrite_percentage: 100,
            rewrite_min_size: 64 << 20,
            load_truncated: true,
            load_corrupt: false,
            load_missing: false,
        }
    }

    /// Every stream with its entries and counters, every other key's name.
    fn content(s: &Store) -> Vec<(u8, Vec<u8>, String)> {
        let mut out = Vec::new();
        let mut cursor = 0;
        loop {
            let next = s.snapshot_range(cursor, 1000, 0, |db, k, v, _| {
                let text = match v {
                    ValueRef::Obj(Object::Stream(x)) => format!(
                        "{:?} {} {:?} {:?} {:?}",
                        x.last_id(),
                        x.entries_added(),
                        x.max_deleted(),
                        x.iter().collect::<Vec<_>>(),
                        // Seen times restart at a replay, as in Redis.
                        x.groups()
                            .iter()
                            .map(|(n, g)| (
                                n,
                                g.last_id,
                                g.entries_read,
                                &g.pel,
                                g.consumers
                                    .iter()
                                    .map(|(c, x)| (c, &x.pel))
                                    .collect::<Vec<_>>()
                            ))
                            .collect::<Vec<_>>()
                    ),
                    _ => String::new(),
                };
                out.push((db, k.to_vec(), text));
            });
            match next {
                Some(c) => cursor = c,
                None => break,
            }
        }
        out.sort();
        out
    }

    /// A rewrite snapshots streams with consumer groups while deliveries,
    /// claims, acks, consumer and group changes go on, to streams already
    /// walked and not yet walked: the segment reloads to what memory holds
    /// (every group record states what it sets, so one replayed over a
    /// snapshot that already has its effect changes nothing).
    #[test]
    fn rewrite_with_group_writes_reloads_what_memory_holds() {
        use crate::ops::stream::group::GroupOp;
        let dir = std::env::temp_dir().join(format!("shardcache-aof-g-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let c = cfg(&dir);
        let router = Router::new(1);
        let limits = vec![Limits::default()];
        let mut opened = open(&c, &router, &limits).unwrap();
        let mut store = opened.stores.pop().unwrap();
        let mut persist = Persist::on(opened.aofs.pop().unwrap());
        store.set_journaling(true);
        for i in 0..60_000 {
            let k = format!("filler:{i}");
            store.set(0, k.as_bytes(), b"x", Expiry::Clear, 0).unwrap();
        }
        let keys: Vec<String> = (0..100).map(|i| format!("x{i}")).collect();
        let run =
            |store: &mut Store, persist: &mut Persist, now: u64, ops: Vec<GroupOp>, b: Batch| {
                let mut b = b;
                for o in ops {
                    b.push(0, Op::Stream(StreamOp::Group(o)));
                }
                execute(store, &mut b, now, persist);
                store.forget();
                if let Some(aof) = persist.aof.as_mut() {
                    aof.commit(&mut persist.log).unwrap();
                }
            };
        let ops_for = |b: &mut Batch, k: &str, step: u64| -> Vec<GroupOp> {
            let a = &mut b.args;
            let c = format!("c{}", step % 3);
            vec![
                GroupOp::Create {
                    key: a.push(k.as_bytes()),
                    group: a.push(b"g"),
                    id: a.push(b"0"),
                    mkstream: true,
                    entries_read: -1,
                },
                GroupOp::Read {
                    key: a.push(k.as_bytes()),
                    group: a.push(b"g"),
                    consumer: a.push(c.as_bytes()),
                    after: None,
                    count: 2,
                    noack: step % 4 == 3,
                },
                GroupOp::Ack {
                    key: a.push(k.as_bytes()),
                    group: a.push(b"g"),
                    ids: a.list([format!("1000-{step}").as_bytes()]),
                },
                GroupOp::Claim {
                    key: a.push(k.as_bytes()),
                    group: a.push(b"g"),
                    rest: a.list([&b"z"[..], b"0", format!("1000-{}", step + 1).as_bytes()]),
                },
                GroupOp::Consumer {
                    key: a.push(k.as_bytes()),
                    group: a.push(b"g"),
                    consumer: a.push(format!("c{}", (step + 1) % 3).as_bytes()),
                    delete: step % 5 == 4,
                },
                GroupOp::Destroy {
                    key: a.push(k.as_bytes()),
                    group: a.push(if step % 7 == 6 { &b"g"[..] } else { b"none" }),
                },
            ]
        };
        let mut now = 1_000;
        for k in &keys {
            let adds: Vec<W> = (0..20).map(|_| W::Add(k, NewId::Auto, None)).collect();
            apply(&mut store, &mut persist, now, &adds);
            let mut b = Batch::new(0, 0);
            let ops = ops_for(&mut b, k, 0);
            run(&mut store, &mut persist, now, ops, b);
        }
        now += 1;
        let aof = persist.aof.as_mut().unwrap();
        assert!(aof.request_rewrite());
        aof.tick(&mut persist.log, &store);
        let mut steps = 0u64;
        while persist.aof.as_ref().unwrap().rewriting() {
            if steps < 10 {
                for i in (steps as usize..100).step_by(10) {
                    let mut b = Batch::new(0, 0);
                    let mut ops = ops_for(&mut b, &keys[i], steps + 1);
                    ops.extend(ops_for(&mut b, &keys[(i + 7) % 100], steps + 2));
                    run(&mut store, &mut persist, now, ops, b);
                }
            } else {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let aof = persist.aof.as_mut().unwrap();
            aof.tick(&mut persist.log, &store);
            steps += 1;
            assert!(steps < 60_000, "the rewrite finishes");
        }
        assert!(steps > 10, "the walk took several steps ({steps})");
        let want = content(&store);
        drop(persist);
        let mut reopened = open(&c, &router, &limits).unwrap();
        let back = reopened.stores.pop().unwrap();
        let got = content(&back);
        assert_eq!(got.len(), want.len());
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(w, g);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// One stream op of the test's writes.
    enum W<'a> {
        Add(&'a str, NewId, Option<TrimSpec>),
        Del(&'a str, &'a [&'a str]),
        Trim(&'a str, TrimSpec),
        SetId(&'a str, StreamId, u64, StreamId),
    }

    fn apply(store: &mut Store, persist: &mut Persist, now: u64, writes: &[W]) {
        let mut b = Batch::new(0, 0);
        for w in writes {
            let op = match *w {
                W::Add(k, id, trim) => StreamOp::Add {
                    key: b.args.push(k.as_bytes()),
                    no_mkstream: false,
                    id,
                    trim,
                    pairs: b.args.list([&b"f"[..], k.as_bytes()]),
                },
                W::Del(k, ids) => StreamOp::Del {
                    key: b.args.push(k.as_bytes()),
                    ids: b.args.list(ids.iter().map(|s| s.as_bytes())),
                },
                W::Trim(k, trim) => StreamOp::Trim {
                    key: b.args.push(k.as_bytes()),
                    trim,
                },
                W::SetId(k, last, added, max_deleted) => StreamOp::SetId {
                    key: b.args.push(k.as_bytes()),
                    last,
                    added: Some(added),
                    max_deleted: Some(max_deleted),
                },
            };
            b.push(0, Op::Stream(op));
        }
        execute(store, &mut b, now, persist);
        store.forget();
        if let Some(aof) = persist.aof.as_mut() {
            aof.commit(&mut persist.log).unwrap();
        }
    }

    fn trim(how: Trim, approx: bool) -> Option<TrimSpec> {
        Some(TrimSpec {
            how,
            approx,
            limit: 0,
        })
    }

    /// A rewrite snapshots streams while XADD (trimming), XDEL, XTRIM and
    /// XSETID go on, to streams already walked and streams not yet walked:
    /// the segment reloads to what memory holds, counters included. An XADD
    /// record replayed on a snapshot that already holds its entry would add
    /// it twice, so this fails unless such a record is skipped (its ID is
    /// not above the last ID) or the first record of each key during the
    /// rewrite states the key whole (`Log::anchor`).
    #[test]
    fn rewrite_with_stream_writes_reloads_what_memory_holds() {
        let dir = std::env::temp_dir().join(format!("shardcache-aof-x-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let c = cfg(&dir);
        let router = Router::new(1);
        let limits = vec![Limits::default()];
        let mut opened = open(&c, &router, &limits).unwrap();
        let mut store = opened.stores.pop().unwrap();
        let mut persist = Persist::on(opened.aofs.pop().unwrap());
        store.set_journaling(true);
        for i in 0..60_000 {
            let k = format!("filler:{i}");
            store.set(0, k.as_bytes(), b"x", Expiry::Clear, 0).unwrap();
        }
        let keys: Vec<String> = (0..200).map(|i| format!("x{i}")).collect();
        let mut now = 1_000;
        for k in &keys {
            let adds: Vec<W> = (0..150).map(|_| W::Add(k, NewId::Auto, None)).collect();
            apply(&mut store, &mut persist, now, &adds);
            now += 1;
        }
        let aof = persist.aof.as_mut().unwrap();
        assert!(aof.request_rewrite());
        aof.tick(&mut persist.log, &store);
        let mut steps = 0;
        while persist.aof.as_ref().unwrap().rewriting() {
            if steps < 10 {
                for i in (steps..200).step_by(10) {
                    let (k, other, third) = (&keys[i], &keys[(i + 7) % 200], &keys[(i + 3) % 200]);
                    let ms = now + 1000 + 10 * steps as u64;
                    let mut writes = vec![
                        W::Add(k, NewId::Auto, trim(Trim::MaxLen(120), true)),
                        W::Add(k, NewId::Seq(ms + 1), trim(Trim::MaxLen(130), false)),
                        W::Del(other, &["1000-3", "1001-4", "1002-5"]),
                        W::Trim(
                            other,
                            TrimSpec {
                                how: Trim::MinId(StreamId::new(1000 + i as u64, 40)),
                                approx: false,
                                limit: 0,
                            },
                        ),
                    ];
                    // XSETID states a stream's counters whole: only some
                    // streams get one, so the others' counters depend on
                    // how their XADDs replay.
                    if i % 4 == 0 {
                        writes.push(W::SetId(
                            third,
                            StreamId::new(ms + 5, 0),
                            9_000 + steps as u64,
                            StreamId::new(3, 3),
                        ));
                    }
                    apply(&mut store, &mut persist, now, &writes);
                }
                now += 1;
            } else {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let aof = persist.aof.as_mut().unwrap();
            aof.tick(&mut persist.log, &store);
            steps += 1;
            assert!(steps < 60_000, "the rewrite finishes");
        }
        assert!(steps > 10, "the walk took several steps ({steps})");
        let want = content(&store);
        drop(persist);
        let mut reopened = open(&c, &router, &limits).unwrap();
        let back = reopened.stores.pop().unwrap();
        let got = content(&back);
        assert_eq!(got.len(), want.len());
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(w, g);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
