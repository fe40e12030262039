//! DEBUG DIGEST, DIGEST-VALUE and OBJECT, the shard's side (Redis 7.0's
//! `debug.c`).
//!
//! The digests are Redis's, bit for bit: a key's digest mixes (SHA1 of the
//! running digest xored with SHA1 of the input) its name, its type code and
//! its elements, in order for strings and lists and xored in for the
//! unordered types, and xors in `!!expire!!` when it has a TTL. A database's
//! keys are xored together, so each shard's share of a database combines
//! with the others' in any order; the worker then mixes the database
//! numbers in as Redis does (see `commands::debug`).

use super::Cx;
use crate::batch::Reply;
use crate::keyspace::{Lookup, ValueRef};
use crate::value::Object;
use crate::NUM_DBS;

/// A 20-byte SHA1 digest.
pub type Digest = [u8; 20];

fn sha1(data: &[u8]) -> Digest {
    sha1_smol::Sha1::from(data).digest().bytes()
}

/// Redis's `xorDigest`: xors SHA1 of `data` into `d`.
pub fn xor_digest(d: &mut Digest, data: &[u8]) {
    for (a, b) in d.iter_mut().zip(sha1(data)) {
        *a ^= b;
    }
}

/// Redis's `mixDigest`: `d` becomes SHA1 of (`d` xor SHA1 of `data`).
pub fn mix_digest(d: &mut Digest, data: &[u8]) {
    xor_digest(d, data);
    *d = sha1(d);
}

/// Redis's `xorObjectDigest` of one value, from digest `d`.
fn value_digest(d: &mut Digest, value: ValueRef<'_>, has_ttl: bool) {
    let (code, obj): (u32, Option<&Object>) = match value {
        ValueRef::Str(_) => (0, None),
        ValueRef::Obj(o) => (
            match o {
                Object::List(_) => 1,
                Object::Set(_) => 2,
                Object::ZSet(_) => 3,
                Object::Hash(_) => 4,
                Object::Stream(_) => 6,
                _ => 0,
            },
            Some(o),
        ),
    };
    mix_digest(d, &code.to_be_bytes());
    match obj {
        None => mix_digest(d, value.as_str().unwrap_or_default()),
        Some(Object::Str(s)) => mix_digest(d, s),
        Some(Object::List(l)) => {
            for e in l.iter() {
                mix_digest(d, e);
            }
        }
        Some(Object::Set(s)) => {
            for m in s.to_members() {
                xor_digest(d, &m);
            }
        }
        Some(Object::ZSet(z)) => {
            for (m, score) in z.to_entries() {
                let mut e = Digest::default();
                mix_digest(&mut e, &m);
                mix_digest(&mut e, crate::rdb::fmt_g17(score).as_bytes());
                xor_digest(d, &e);
            }
        }
        Some(Object::Hash(h)) => {
            for (f, v) in h.to_entries() {
                let mut e = Digest::default();
                mix_digest(&mut e, &f);
                mix_digest(&mut e, &v);
                xor_digest(d, &e);
            }
        }
        Some(Object::Stream(x)) => {
            // Each entry's `ms.seq`, then its fields and values, in order.
            for (id, packed) in x.iter() {
                mix_digest(d, format!("{}.{}", id.ms, id.seq).as_bytes());
                for it in crate::value::stream::unpack(packed) {
                    mix_digest(d, it);
                }
            }
        }
        #[cfg(test)]
        Some(Object::Test(v)) => mix_digest(d, v),
    }
    if has_ttl {
        xor_digest(d, b"!!expire!!");
    }
}

/// DEBUG DIGEST's share of this shard: for each database, a byte (1 when
/// it holds keys here) and the xor of its keys' digests, 21 bytes a
/// database, as a bulk.
pub(super) fn dataset(cx: &mut Cx) -> Reply {
    let mut out = [0u8; NUM_DBS * 21];
    for db in 0..NUM_DBS {
        let slot = &mut out[db * 21..db * 21 + 21];
        let store = &*cx.store;
        store.for_each_pos(db, cx.now_ms, |pos| {
            slot[0] = 1;
            let mut d = Digest::default();
            mix_digest(&mut d, store.key_at(pos));
            value_digest(&mut d, store.value_at(pos), store.expire_of(pos) != 0);
            xor_digest((&mut slot[1..]).try_into().expect("20 bytes"), &d);
        });
    }
    super::bulk(cx.out, &out)
}

/// DEBUG DIGEST-VALUE's digest of one key (20 zero bytes for none), as a
/// bulk. Like Redis, a key past its TTL still counts.
pub(super) fn key(cx: &mut Cx, key: &[u8]) -> Reply {
    let mut d = Digest::default();
    if let Some(pos) = cx.store.lookup(cx.db, key, 0, Lookup::PEEK) {
        value_digest(&mut d, cx.store.value_at(pos), cx.store.expire_of(pos) != 0);
    }
    super::bulk(cx.out, &d)
}

/// Redis's DEBUG OBJECT line for a key, or Nil. `serializedlength` is the
/// length of the value's DUMP body (the RDB encoding Redis measures);
/// a list's `ql_uncompressed_size` counts its elements' listpack bytes.
pub(super) fn object(cx: &mut Cx, key: &[u8], shared_ints: bool) -> Reply {
    use std::fmt::Write;
    let Some(pos) = cx.store.lookup(cx.db, key, cx.now_ms, Lookup::PEEK) else {
        return Reply::Nil;
    };
    let value = cx.store.value_at(pos);
    let enc = super::keys::encoding_name(cx.store.encoding_at(pos), value);
    let shared = shared_ints
        && enc == "int"
        && value
            .as_str()
            .and_then(crate::rdb::canonical_int)
            .is_some_and(|n| (0..10_000).contains(&n));
    // The payload's type byte and its 10-byte footer are not the value's.
    let len = crate::value::dump::dump(value, &cx.store.value_limits())
        .len()
        .saturating_sub(11);
    // Redis prints its `lru` field and reads it as an LRU clock for the
    // idle time, whatever the policy: under LFU that figure means nothing.
    let lru = cx.store.redis_lru_field(pos, cx.now_ms);
    let clock = ((cx.now_ms / 1000) as u32) & 0xFF_FFFF;
    let idle = if clock >= lru {
        clock - lru
    } else {
        clock + (0xFF_FFFF - lru)
    };
    let mut line = String::with_capacity(160);
    let _ = write!(
        line,
        "Value at:0x{:012x} refcount:{} encoding:{enc} serializedlength:{len} lru:{lru} lru_seconds_idle:{idle}",
        0x7f00_0000_0000u64 + pos as u64 * 16,
        if shared { i32::MAX as i64 } else { 1 },
    );
    if let ValueRef::Obj(Object::List(l)) = value {
        let nodes = l.node_count().max(1);
        let bytes = crate::rdb::listpack::encode(l.iter()).len();
        let _ = write!(
            line,
            " ql_nodes:{nodes} ql_avg_node:{:.2} ql_listpack_max:{} ql_compressed:0 ql_uncompressed_size:{}",
            l.len() as f64 / nodes as f64,
            l.fill(),
            bytes + 7 * (nodes - 1),
        );
    }
    super::bulk(cx.out, line.as_bytes())
}
