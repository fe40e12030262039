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
            // `dump` writes streams itself (see `STREAM_MAGIC`).
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

/// DUMP's payload for the value; a stream's is this store's own (see
/// `STREAM_MAGIC`).
pub fn dump(value: ValueRef<'_>, limits: &ValueLimits) -> Vec<u8> {
    if let ValueRef::Obj(Object::Stream(s)) = value {
        return stream_payload(s);
    }
    rdb::dump(&to_rdb(value), &encode_opts(value, limits))
}

/// [`dump`] without the trailer (type byte and object, as an RDB file
/// holds them); None for a stream, which has no RDB encoding here yet.
pub fn dump_object(value: ValueRef<'_>, limits: &ValueLimits) -> Option<Vec<u8>> {
    if let ValueRef::Obj(Object::Stream(_)) = value {
        return None;
    }
    Some(rdb::dump_object(
        &to_rdb(value),
        &encode_opts(value, limits),
    ))
}

/// The first bytes of a stream's payload. Redis's stream payload (listpacks
/// in a radix tree) is not written: the DUMP command refuses a stream, and
/// this payload only carries a stream between shards (RENAME, COPY, MOVE).
/// Its first byte is no RDB type, so nothing mistakes it for Redis's.
pub const STREAM_MAGIC: &[u8] = b"\xf0SCX1";

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn stream_payload(s: &StreamValue) -> Vec<u8> {
    let mut out = STREAM_MAGIC.to_vec();
    let (last, del) = (s.last_id(), s.max_deleted());
    for v in [last.ms, last.seq, s.entries_added(), del.ms, del.seq] {
        put_u64(&mut out, v);
    }
    put_u64(&mut out, s.len() as u64);
    for (id, packed) in s.iter() {
        put_u64(&mut out, id.ms);
        put_u64(&mut out, id.seq);
        put_u64(&mut out, packed.len() as u64);
        out.extend_from_slice(packed);
    }
    out
}

/// A stream from `stream_payload`'s bytes, checked throughout.
fn stream_from(mut b: &[u8]) -> Option<StreamValue> {
    let u64_of = |b: &mut &[u8]| -> Option<u64> {
        let (h, t) = (b.get(..8)?, b.get(8..)?);
        *b = t;
        Some(u64::from_le_bytes(h.try_into().ok()?))
    };
    let mut meta = [0u64; 6];
    for m in meta.iter_mut() {
        *m = u64_of(&mut b)?;
    }
    let mut s = StreamValue::new();
    let mut prev = None;
    for _ in 0..meta[5] {
        let id = StreamId::new(u64_of(&mut b)?, u64_of(&mut b)?);
        let n = usize::try_from(u64_of(&mut b)?).ok()?;
        let packed = b.get(..n)?;
        b = &b[n..];
        if prev.is_some_and(|p| p >= id)
            || stream::unpack(packed).map(|x| x.len() + 4).sum::<usize>() != n
            || stream::packed_len(packed) % 2 != 0
        {
            return None;
        }
        prev = Some(id);
        s.append(id, packed.into());
    }
    let last = StreamId::new(meta[0], meta[1]);
    if !b.is_empty() || prev.is_some_and(|p| p > last) {
        return None;
    }
    s.set_meta(last, meta[2], StreamId::new(meta[3], meta[4]));
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
    if let Some(body) = payload.strip_prefix(STREAM_MAGIC) {
        return stream_from(body)
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
        // Cut anywhere, or with an entry's length past its end: refused.
        for cut in 0..p.len() {
            assert!(restore(&p[..cut], &l).is_err(), "{cut}");
        }
        let mut forged = p.clone();
        let at = STREAM_MAGIC.len() + 6 * 8 + 16;
        forged[at + 8] = 0xff;
        assert!(restore(&forged, &l).is_err());
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
