//! [`RdbValue`] → payload.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::wire::{canonical_int, fmt_g17, score_text, write_len, write_string};
use super::{
    intset, listpack, seal, ziplist, zipmap, EncodeError, EncodeOpts, Limits, RdbType, RdbValue,
};

/// Quicklist node containers (QUICKLIST_2).
const NODE_PLAIN: u64 = 1;
const NODE_PACKED: u64 = 2;

/// Node size limits for `list-max-listpack-size` -1 to -5.
const NODE_SIZE_LIMITS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Cap on a node's size when the fill is a count.
const NODE_SAFETY_LIMIT: usize = 8192;
/// What Redis adds to an element's length to estimate its listpack growth
/// when deciding whether it still fits in the current node.
const NODE_ENTRY_OVERHEAD: usize = 8;
const FILL_MAX: i64 = (1 << 15) - 1;

/// Encodes `value` with the type Redis 7.0 would use under `opts`: STRING;
/// QUICKLIST_2; INTSET or SET; ZSET_LISTPACK or ZSET_2; HASH_LISTPACK or
/// HASH.
///
/// Duplicates are dropped first, as adding the elements to a new key
/// would: a set member or hash field keeps its first position (a field
/// its last value); a zset member its last score. Zset members are
/// ordered by score, then member. Empty collections and NaN scores are
/// written as given, and RESTORE refuses them, as Redis does.
pub fn dump(value: &RdbValue, opts: &EncodeOpts) -> Vec<u8> {
    seal(dump_object(value, opts))
}

/// [`dump`] without the trailer: the type byte and the object, as an RDB
/// file holds them after the key.
pub fn dump_object(value: &RdbValue, opts: &EncodeOpts) -> Vec<u8> {
    let ty = match value {
        RdbValue::String(_) => RdbType::String,
        RdbValue::List(_) => RdbType::ListQuicklist2,
        RdbValue::Set(m) => {
            if opts.set_intset && m.iter().all(|s| canonical_int(s).is_some()) {
                RdbType::SetIntset
            } else {
                RdbType::Set
            }
        }
        RdbValue::ZSet(_) if opts.zset_listpack => RdbType::ZSetListpack,
        RdbValue::ZSet(_) => RdbType::ZSet2,
        RdbValue::Hash(_) if opts.hash_listpack => RdbType::HashListpack,
        RdbValue::Hash(_) => RdbType::Hash,
    };
    object_as(value, ty, opts).expect("the chosen type holds the value")
}

/// [`dump`] with the options Redis 7.0's default configuration gives this
/// value ([`EncodeOpts::for_value`] with [`Limits::default`]).
pub fn dump_like_redis(value: &RdbValue) -> Vec<u8> {
    dump(value, &EncodeOpts::for_value(value, &Limits::default()))
}

/// Encodes `value` as type `ty`, any type Redis 7.0 loads (older ones
/// included). `opts` supplies compression and list node sizing; its
/// encoding choices are ignored.
pub fn dump_as(value: &RdbValue, ty: RdbType, opts: &EncodeOpts) -> Result<Vec<u8>, EncodeError> {
    object_as(value, ty, opts).map(seal)
}

/// The type byte and object of `value` as type `ty` (see [`dump_as`]).
fn object_as(value: &RdbValue, ty: RdbType, opts: &EncodeOpts) -> Result<Vec<u8>, EncodeError> {
    use RdbType as T;
    let c = opts.compress;
    let mut out = vec![ty as u8];
    match (ty, value) {
        (T::String, RdbValue::String(s)) => write_string(&mut out, s, c),
        (T::List, RdbValue::List(items)) => {
            write_len(&mut out, items.len() as u64);
            for s in items {
                write_string(&mut out, s, c);
            }
        }
        (T::ListZiplist, RdbValue::List(items)) => {
            write_string(&mut out, &ziplist::encode(items), c);
        }
        (T::ListQuicklist, RdbValue::List(items)) => {
            let nodes = quicklist_nodes(items, opts.list_listpack_fill, usize::MAX);
            write_len(&mut out, nodes.len() as u64);
            for node in nodes {
                write_string(&mut out, &ziplist::encode(&node.items), c);
            }
        }
        (T::ListQuicklist2, RdbValue::List(items)) => {
            let nodes = quicklist_nodes(items, opts.list_listpack_fill, opts.list_plain_threshold);
            write_len(&mut out, nodes.len() as u64);
            for node in nodes {
                if node.plain {
                    write_len(&mut out, NODE_PLAIN);
                    write_string(&mut out, node.items[0], c);
                } else {
                    write_len(&mut out, NODE_PACKED);
                    write_string(&mut out, &node.lp.finish(), c);
                }
            }
        }
        (T::Set, RdbValue::Set(m)) => {
            let m = unique_members(m);
            write_len(&mut out, m.len() as u64);
            for s in m {
                write_string(&mut out, s, c);
            }
        }
        (T::SetIntset, RdbValue::Set(m)) => {
            let ints = m
                .iter()
                .map(|s| canonical_int(s))
                .collect::<Option<Vec<i64>>>()
                .ok_or(EncodeError::NotIntegers)?;
            write_string(&mut out, &intset::encode(&ints), c);
        }
        (T::ZSet | T::ZSet2, RdbValue::ZSet(m)) => {
            let m = zset_members(m);
            write_len(&mut out, m.len() as u64);
            // Highest score first, as Redis walks its skiplist.
            for (s, score) in m.into_iter().rev() {
                write_string(&mut out, s, c);
                if ty == T::ZSet2 {
                    out.extend_from_slice(&score.to_le_bytes());
                } else if score.is_nan() {
                    out.push(253);
                } else if score == f64::INFINITY {
                    out.push(254);
                } else if score == f64::NEG_INFINITY {
                    out.push(255);
                } else {
                    let t = fmt_g17(score);
                    out.push(t.len() as u8);
                    out.extend_from_slice(t.as_bytes());
                }
            }
        }
        (T::ZSetZiplist, RdbValue::ZSet(m)) => {
            let m = zset_members(m);
            let items = m
                .iter()
                .flat_map(|&(s, score)| [s.to_vec(), score_text(score)]);
            write_string(&mut out, &ziplist::encode(items), c);
        }
        (T::ZSetListpack, RdbValue::ZSet(m)) => {
            let mut w = listpack::Writer::new();
            for (s, score) in zset_members(m) {
                w.push(s);
                w.push(&score_text(score));
            }
            write_string(&mut out, &w.finish(), c);
        }
        (T::Hash, RdbValue::Hash(p)) => {
            let p = unique_fields(p);
            write_len(&mut out, p.len() as u64);
            for (f, v) in p {
                write_string(&mut out, f, c);
                write_string(&mut out, v, c);
            }
        }
        (T::HashZipmap, RdbValue::Hash(p)) => {
            write_string(&mut out, &zipmap::encode(unique_fields(p)), c);
        }
        (T::HashZiplist, RdbValue::Hash(p)) => {
            let p = unique_fields(p);
            write_string(
                &mut out,
                &ziplist::encode(p.iter().flat_map(|&(f, v)| [f, v])),
                c,
            );
        }
        (T::HashListpack, RdbValue::Hash(p)) => {
            let p = unique_fields(p);
            write_string(
                &mut out,
                &listpack::encode(p.iter().flat_map(|&(f, v)| [f, v])),
                c,
            );
        }
        _ => return Err(EncodeError::WrongKind),
    }
    Ok(out)
}

struct Node<'a> {
    plain: bool,
    items: Vec<&'a [u8]>,
    lp: listpack::Writer,
}

/// Splits a list into quicklist nodes as Redis 7.0 fills them when the
/// elements are pushed at the tail one by one.
///
/// An element of at least `plain_threshold` bytes gets a PLAIN node of its
/// own. Otherwise it joins the last node when that node is packed and
/// `node bytes + element length + 8` stays within the fill's limit (for a
/// positive fill, also fewer elements than the fill); else it starts a new
/// node.
fn quicklist_nodes(items: &[Vec<u8>], fill: i64, plain_threshold: usize) -> Vec<Node<'_>> {
    let fill = fill.clamp(-(NODE_SIZE_LIMITS.len() as i64), FILL_MAX);
    let fits = |node: &Node<'_>, len: usize| {
        let new_size = node.lp.bytes() + len + NODE_ENTRY_OVERHEAD;
        if fill < 0 {
            new_size <= NODE_SIZE_LIMITS[(-fill - 1) as usize]
        } else {
            new_size <= NODE_SAFETY_LIMIT && (node.lp.count() as i64) < fill
        }
    };
    let mut nodes: Vec<Node<'_>> = Vec::new();
    for s in items {
        if s.len() >= plain_threshold {
            nodes.push(Node {
                plain: true,
                items: vec![s],
                lp: listpack::Writer::new(),
            });
            continue;
        }
        match nodes.last_mut() {
            Some(node) if !node.plain && fits(node, s.len()) => {
                node.lp.push(s);
                node.items.push(s);
            }
            _ => {
                let mut lp = listpack::Writer::new();
                lp.push(s);
                nodes.push(Node {
                    plain: false,
                    items: vec![s],
                    lp,
                });
            }
        }
    }
    nodes
}

/// Orders zset members by score, then member bytes (as Redis does; -0 and
/// 0 tie). NaN, which Redis never holds, sorts last.
pub(crate) fn sort_zset<S: AsRef<[u8]>>(m: &mut [(S, f64)]) {
    m.sort_by(|a, b| {
        let by_score = match (a.1.is_nan(), b.1.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => a.1.partial_cmp(&b.1).expect("not NaN"),
        };
        by_score.then_with(|| a.0.as_ref().cmp(b.0.as_ref()))
    });
}

/// Set members without duplicates, first occurrence kept.
fn unique_members(m: &[Vec<u8>]) -> Vec<&[u8]> {
    let mut seen = HashMap::with_capacity(m.len());
    m.iter()
        .filter(|s| seen.insert(s.as_slice(), ()).is_none())
        .map(|s| s.as_slice())
        .collect()
}

/// Hash fields without duplicates: first position, last value.
fn unique_fields(p: &[(Vec<u8>, Vec<u8>)]) -> Vec<(&[u8], &[u8])> {
    let mut index: HashMap<&[u8], usize> = HashMap::with_capacity(p.len());
    let mut out: Vec<(&[u8], &[u8])> = Vec::with_capacity(p.len());
    for (f, v) in p {
        match index.get(f.as_slice()) {
            Some(&i) => out[i].1 = v,
            None => {
                index.insert(f, out.len());
                out.push((f, v));
            }
        }
    }
    out
}

/// Zset members without duplicates (last score kept), ascending.
fn zset_members(m: &[(Vec<u8>, f64)]) -> Vec<(&[u8], f64)> {
    let mut index: HashMap<&[u8], usize> = HashMap::with_capacity(m.len());
    let mut out: Vec<(&[u8], f64)> = Vec::with_capacity(m.len());
    for (s, score) in m {
        match index.get(s.as_slice()) {
            Some(&i) => out[i].1 = *score,
            None => {
                index.insert(s, out.len());
                out.push((s, *score));
            }
        }
    }
    sort_zset(&mut out);
    out
}
