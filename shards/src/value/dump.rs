//! DUMP and RESTORE of the store's values: a value as the codec's
//! `RdbValue` with the payload type Redis 7.0 writes for it, and a payload
//! back as a value in the encoding Redis 7.0 gives it when it loads one.
//!
//! Redis picks a payload's type from the value's current encoding, not
//! from its contents: a hash that became a hashtable stays a `HASH` payload
//! after it shrank, a listpack a `HASH_LISTPACK`; a set is `SET_INTSET`
//! while an intset, else `SET`. Loading, it applies the thresholds again
//! (`rdbLoadObject`): a `HASH` payload becomes a listpack when it has at
//! most `hash-max-listpack-entries` fields and no field or value over
//! `hash-max-listpack-value` bytes; a listpack or ziplist payload stays a
//! listpack unless it has too many fields (its lengths are not checked); a
//! set is an intset when every member is an integer and there are at most
//! `set-max-intset-entries`.
//!
//! A list is always a quicklist payload (`QUICKLIST_2`), its nodes cut as
//! Redis fills them under the list's own `list-max-listpack-size`; it loads
//! as a list under the current one. A sorted set is `ZSET_LISTPACK` while
//! compact, else `ZSET_2`; loading, a `ZSET_2` payload becomes compact when
//! it has at most `zset-max-listpack-entries` members none over
//! `zset-max-listpack-value` bytes, and a listpack or ziplist payload stays
//! compact unless it has too many members (its lengths are not checked), as
//! `rdbLoadObject` does.

use super::stream::{self, StreamId, StreamValue};
use super::zset::ZSetEncoding;
use super::{HashLimits, HashValue, ListValue, Object, SetValue, ValueLimits, ZSetValue};
use crate::keyspace::ValueRef;
use crate::rdb::{self, EncodeOpts, RdbError, RdbType, RdbValue, LIST_PLAIN_THRESHOLD};

/// The value as DUMP carries it.
pub fn to_rdb(value: ValueRef<'_>) -> RdbValue {
    match value {
        ValueRef::Str(s) => RdbValue::String(s.to_vec()),
        ValueRef::Obj(o) => match o {
            Object::Str(s) => RdbValue::String(s.clone()),
            Object::Hash(h) => RdbValue::Hash(h.to_entries()),
            Object::Set(s) => RdbValue::Set(s.to_members()),
            Object::List(l) => RdbValue::List(l.to_items()),
            Object::ZSet(z) => RdbValue::ZSet(z.to_entries()),
            // `dump` writes streams itself (see `rdb::stream`).
            Object::Stream(_) => RdbValue::String(Vec::new()),
            #[cfg(test)]
            Object::Test(v) => RdbValue::String(v.clone()),
        },
    }
}

/// The encoding options under which `rdb::dump` writes the payload type
/// Redis 7.0 writes for this value (see the module's notes).
pub fn encode_opts(value: ValueRef<'_>, limits: &ValueLimits) -> EncodeOpts {
    let (hash_listpack, set_intset) = match value {
        ValueRef::Obj(Object::Hash(h)) => (h.is_listpack(), false),
        ValueRef::Obj(Object::Set(s)) => (false, s.is_intset()),
        _ => (false, false),
    };
    let zset_listpack =
        matches!(value, ValueRef::Obj(Object::ZSet(z)) if z.encoding() == ZSetEncoding::Listpack);
    let list_listpack_fill = match value {
        ValueRef::Obj(Object::List(l)) => l.fill(),
        _ => crate::value::list::DEFAULT_FILL,
    };
    EncodeOpts {
        hash_listpack,
        zset_listpack,
        set_intset,
        list_listpack_fill,
        list_plain_threshold: LIST_PLAIN_THRESHOLD,
        compress: limits.dump_compression,
    }
}

/// DUMP's payload for the value (a stream's: `rdb::stream`).
pub fn dump(value: ValueRef<'_>, limits: &ValueLimits) -> Vec<u8> {
    if let ValueRef::Obj(Object::Stream(s)) = value {
        return rdb::stream::dump(&stream_to_rdb(s), limits.dump_compression);
    }
    rdb::dump(&to_rdb(value), &encode_opts(value, limits))
}

/// [`dump`] without the trailer: the type byte and the object, as an RDB
/// file holds them.
pub fn dump_object(value: ValueRef<'_>, limits: &ValueLimits) -> Vec<u8> {
    if let ValueRef::Obj(Object::Stream(s)) = value {
        return rdb::stream::dump_object(&stream_to_rdb(s), limits.dump_compression);
    }
    rdb::dump_object(&to_rdb(value), &encode_opts(value, limits))
}

/// A stream as Redis 7.0's RDB payload describes it: the nodes of the
/// ledger with their live entries (deleted entries are not kept, so a
/// node holds only live ones, none marked deleted), the counters, the
/// groups.
pub fn stream_to_rdb(s: &StreamValue) -> rdb::stream::Stream {
    use rdb::stream::{Consumer, Entry, Group, Node, Pending};
    let entry = |(id, packed): (StreamId, &[u8])| Entry {
        id,
        deleted: false,
        pairs: stream::unpack(packed).map(<[u8]>::to_vec).collect(),
    };
    let mut nodes: Vec<Node> = s
        .ledger()
        .map(|(master, fields, last)| Node {
            master,
            fields: stream::unpack(fields).map(<[u8]>::to_vec).collect(),
            entries: s.range(master, last, false).map(entry).collect(),
            lp_bytes: 0,
        })
        .filter(|n| !n.entries.is_empty())
        .collect();
    let covered: usize = nodes.iter().map(|n| n.entries.len()).sum();
    if covered != s.len() {
        // The ledger lost track (it never should): cut nodes afresh.
        nodes = s
            .iter()
            .collect::<Vec<_>>()
            .chunks(stream::NODE_MAX_ENTRIES as usize)
            .map(|c| {
                let entries: Vec<Entry> = c.iter().copied().map(entry).collect();
                Node {
                    master: entries[0].id,
                    fields: entries[0].pairs.iter().step_by(2).cloned().collect(),
                    entries,
                    lp_bytes: 0,
                }
            })
            .collect();
    }
    let groups = s
        .groups()
        .iter()
        .map(|(name, g)| Group {
            name: name.to_vec(),
            last_id: g.last_id,
            entries_read: g.entries_read,
            pel: g
                .pel
                .iter()
                .map(|(id, n)| Pending {
                    id: *id,
                    time: n.delivery_time,
                    count: n.delivery_count,
                })
                .collect(),
            consumers: g
                .consumers
                .iter()
                .map(|(name, c)| Consumer {
                    name: name.to_vec(),
                    seen: c.seen_time,
                    pel: c.pel.iter().copied().collect(),
                })
                .collect(),
        })
        .collect();
    rdb::stream::Stream {
        nodes,
        length: s.len() as u64,
        last_id: s.last_id(),
        first_id: s.first_id().unwrap_or(StreamId::MIN),
        max_deleted: s.max_deleted(),
        entries_added: s.entries_added(),
        groups,
    }
}

/// The stream a decoded payload describes; None when its groups do not
/// hold together (a pending entry no consumer holds, or held twice).
pub fn stream_from_rdb(r: rdb::stream::Stream) -> Option<StreamValue> {
    let mut s = StreamValue::new();
    for n in r.nodes {
        let last = n.entries.last().map_or(n.master, |e| e.id);
        let deleted = n.entries.iter().filter(|e| e.deleted).count() as u64;
        let fields = stream::pack(n.fields.iter().map(|f| &f[..]));
        let live: Vec<(StreamId, Box<[u8]>)> = n
            .entries
            .into_iter()
            .filter(|e| !e.deleted)
            .map(|e| (e.id, stream::pack(e.pairs.iter().map(|p| &p[..]))))
            .collect();
        s.load_node(n.master, fields, live, last, deleted, n.lp_bytes);
    }
    s.set_meta(r.last_id, r.entries_added, r.max_deleted);
    for g in r.groups {
        let mut group = stream::Group::new(g.last_id, g.entries_read);
        let mut owner: std::collections::BTreeMap<StreamId, usize> = Default::default();
        for (i, c) in g.consumers.iter().enumerate() {
            for id in &c.pel {
                if owner.insert(*id, i).is_some() {
                    return None;
                }
            }
        }
        for c in &g.consumers {
            group.consumer(&c.name, c.seen);
        }
        for p in g.pel {
            let i = *owner.get(&p.id)?;
            let n = group.assign(p.id, &g.consumers[i].name);
            n.delivery_time = p.time;
            n.delivery_count = p.count;
        }
        s.groups_mut().insert(g.name.into(), group);
    }
    Some(s)
}

/// A value RESTORE built.
#[derive(Debug, PartialEq)]
pub enum Restored {
    /// A string.
    Str(Vec<u8>),
    /// A collection.
    Obj(Object),
}

/// Why a payload does not restore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreError {
    /// The trailer is wrong: RDB version above 10, or a CRC mismatch.
    VersionOrChecksum,
    /// The body does not decode (or holds a type this store does not have).
    BadFormat,
}

impl From<RdbError> for RestoreError {
    fn from(e: RdbError) -> Self {
        match e {
            RdbError::VersionOrChecksum => RestoreError::VersionOrChecksum,
            RdbError::BadFormat(_) => RestoreError::BadFormat,
        }
    }
}

/// The value of a DUMP payload, in the encoding Redis 7.0 would give it
/// under `limits`.
pub fn restore(payload: &[u8], limits: &ValueLimits) -> Result<Restored, RestoreError> {
    if payload.first() == Some(&rdb::stream::TYPE) {
        let body = rdb::verify(payload)?;
        let s = rdb::stream::restore(body).map_err(|_| RestoreError::BadFormat)?;
        return stream_from_rdb(s)
            .map(|s| Restored::Obj(Object::Stream(Box::new(s))))
            .ok_or(RestoreError::BadFormat);
    }
    let value = rdb::restore(payload)?;
    // `rdb::restore` checked the trailer, so the type byte is there.
    let ty = payload.first().copied().and_then(RdbType::from_byte);
    Ok(from_rdb(value, ty, limits))
}

/// A decoded value in the encoding Redis 7.0 gives it when it loads an
/// object of type `ty` (from a DUMP payload or an RDB file) under `limits`.
pub fn from_rdb(value: RdbValue, ty: Option<RdbType>, limits: &ValueLimits) -> Restored {
    match value {
        RdbValue::String(s) => Restored::Str(s),
        RdbValue::Hash(entries) => {
            let compact_payload = matches!(ty, Some(RdbType::HashListpack | RdbType::HashZiplist));
            let hl = if compact_payload {
                // Only the field count is checked for these.
                HashLimits {
                    max_listpack_entries: limits.hash.max_listpack_entries,
                    max_listpack_value: usize::MAX,
                }
            } else {
                limits.hash
            };
            Restored::Obj(Object::Hash(HashValue::from_entries(entries, &hl)))
        }
        RdbValue::Set(members) => {
            Restored::Obj(Object::Set(SetValue::from_members(members, &limits.set)))
        }
        RdbValue::List(items) => Restored::Obj(Object::List(ListValue::from_items(
            limits.list.max_listpack_size,
            items,
        ))),
        RdbValue::ZSet(entries) => {
            let compact_payload = matches!(ty, Some(RdbType::ZSetListpack | RdbType::ZSetZiplist));
            let z = if compact_payload {
                let enc = if entries.len() > limits.zset.max_listpack_entries {
                    ZSetEncoding::Skiplist
                } else {
                    ZSetEncoding::Listpack
                };
                ZSetValue::from_entries_encoded(entries, enc)
            } else {
                ZSetValue::from_entries(entries, &limits.zset)
            };
            Restored::Obj(Object::ZSet(z))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::SetLimits;

    fn limits() -> ValueLimits {
        ValueLimits::default()
    }

    #[test]
    fn a_stream_payload_round_trips_and_a_forged_one_is_refused() {
        let l = limits();
        let mut s = StreamValue::new();
        s.append(
            StreamId::new(1, 1),
            stream::pack([&b"f"[..], b"v"].into_iter()),
        );
        s.append(
            StreamId::new(2, 0),
            stream::pack([&b""[..], b"\r\n"].into_iter()),
        );
        s.set_meta(StreamId::new(9, 9), 7, StreamId::new(3, 0));
        let p = dump(ValueRef::Obj(&Object::Stream(Box::new(s.clone()))), &l);
        let Ok(Restored::Obj(Object::Stream(back))) = restore(&p, &l) else {
            panic!("no stream back");
        };
        assert_eq!(
            back.iter().collect::<Vec<_>>(),
            s.iter().collect::<Vec<_>>()
        );
        assert_eq!(
            (back.last_id(), back.entries_added()),
            (s.last_id(), s.entries_added())
        );
        assert_eq!(back.max_deleted(), s.max_deleted());
        // Groups travel with their pending entries and consumers.
        let mut g = stream::Group::new(StreamId::new(2, 0), 2);
        g.consumer(b"alice", 77);
        g.consumer(b"bob", 78);
        let n = g.assign(StreamId::new(1, 1), b"bob");
        n.delivery_time = 5;
        n.delivery_count = 3;
        s.groups_mut().insert(b"jobs"[..].into(), g);
        let p = dump(ValueRef::Obj(&Object::Stream(Box::new(s.clone()))), &l);
        let Ok(Restored::Obj(Object::Stream(back))) = restore(&p, &l) else {
            panic!("no stream back");
        };
        assert_eq!(back.groups(), s.groups());
        // Cut anywhere, or with an entry's length past its end: refused.
        for cut in 0..p.len() {
            assert!(restore(&p[..cut], &l).is_err(), "{cut}");
        }
        // A body that does not hold together, under a good trailer: a
        // pending entry no consumer holds.
        let mut r = stream_to_rdb(&s);
        r.groups[0].consumers[1].pel.clear();
        let forged = rdb::stream::dump(&r, false);
        assert!(restore(&forged, &l).is_err());
        // Entries out of order.
        let mut r = stream_to_rdb(&s);
        r.nodes[0].entries.swap(0, 1);
        assert!(restore(&rdb::stream::dump(&r, false), &l).is_err());
        // Any byte changed under a good trailer: an error or a stream,
        // never a panic.
        let body = &p[..p.len() - 10];
        for at in 1..body.len() {
            for v in [0u8, 1, 0x3f, 0x40, 0x80, 0x81, 0xc3, 0xff] {
                let mut b = body.to_vec();
                b[at] = v;
                let _ = restore(&rdb::seal(b), &l);
            }
        }
    }

    #[test]
    fn payload_types_follow_the_encoding() {
        let l = limits();
        let ty = |v: ValueRef| dump(v, &l)[0];
        assert_eq!(ty(ValueRef::Str(b"abc")), RdbType::String as u8);
        let small = HashValue::from_entries([(b"f", b"v")], &l.hash);
        assert_eq!(ty(ValueRef::Obj(&Object::Hash(small.clone()))), 16);
        let mut table = small;
        table.convert_to_table();
        assert_eq!(ty(ValueRef::Obj(&Object::Hash(table))), 4);
        let ints = SetValue::from_members([b"1", b"2"], &SetLimits::default());
        assert_eq!(ty(ValueRef::Obj(&Object::Set(ints.clone()))), 11);
        let mut strs = ints;
        strs.convert_to_table();
        assert_eq!(ty(ValueRef::Obj(&Object::Set(strs))), 2);
    }

    #[test]
    fn restore_applies_redis_load_thresholds() {
        let l = limits();
        let long = [b'x'; 100];
        // A HASH payload with a long value: a hashtable.
        let mut h = HashValue::from_entries([(&b"f"[..], &long[..])], &l.hash);
        assert!(!h.is_listpack());
        let p = dump(ValueRef::Obj(&Object::Hash(h.clone())), &l);
        let Ok(Restored::Obj(Object::Hash(back))) = restore(&p, &l) else {
            panic!()
        };
        assert!(!back.is_listpack());
        assert_eq!(back, h);
        // The same as a listpack payload stays a listpack, as in Redis.
        let lp = rdb::dump_as(
            &to_rdb(ValueRef::Obj(&Object::Hash(h.clone()))),
            RdbType::HashListpack,
            &encode_opts(ValueRef::Str(b""), &l),
        )
        .unwrap();
        let Ok(Restored::Obj(Object::Hash(back))) = restore(&lp, &l) else {
            panic!()
        };
        assert!(back.is_listpack());
        // A small hashtable comes back a listpack.
        h.remove(b"f");
        h.set(b"a", b"1", &l.hash);
        let p = dump(ValueRef::Obj(&Object::Hash(h)), &l);
        assert_eq!(p[0], 4);
        let Ok(Restored::Obj(Object::Hash(back))) = restore(&p, &l) else {
            panic!()
        };
        assert!(back.is_listpack());
        // Sets: intset when all integers within the limit.
        let many: Vec<Vec<u8>> = (0..600).map(|i| i.to_string().into_bytes()).collect();
        let big = SetValue::from_members(
            &many,
            &SetLimits {
                max_intset_entries: 1000,
            },
        );
        let p = dump(ValueRef::Obj(&Object::Set(big)), &l);
        assert_eq!(p[0], 11);
        let Ok(Restored::Obj(Object::Set(back))) = restore(&p, &l) else {
            panic!()
        };
        assert!(!back.is_intset());
        assert_eq!(back.len(), 600);
        // Errors.
        let mut bad = p.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert_eq!(restore(&bad, &l), Err(RestoreError::VersionOrChecksum));
        let list = rdb::dump_like_redis(&RdbValue::List(vec![]));
        assert_eq!(restore(&list, &l), Err(RestoreError::BadFormat));
        assert_eq!(
            restore(b"\x00\x01", &l),
            Err(RestoreError::VersionOrChecksum)
        );
    }
}
