//! Payload → [`RdbValue`].

use std::collections::HashSet;

use super::wire::{parse_score, Reader, Result};
use super::{intset, listpack, verify, ziplist, zipmap, RdbError, RdbType, RdbValue};

/// Quicklist node containers (QUICKLIST_2).
const NODE_PLAIN: u64 = 1;
const NODE_PACKED: u64 = 2;

/// Decodes a DUMP payload: checks the trailer (version at most 10, CRC-64),
/// then the object.
///
/// Like Redis 7.0, bytes left between the object and the trailer are
/// ignored. Stricter than Redis's default (shallow) checks: every listpack,
/// ziplist and intset is checked entry by entry, duplicate set members,
/// hash fields and zset members are refused (Redis refuses them only in
/// some encodings, or with `sanitize-dump-payload yes`), and an object never
/// reads into the trailer.
pub fn restore(payload: &[u8]) -> Result<RdbValue> {
    let body = verify(payload)?;
    let mut r = Reader::new(body);
    let ty = r.u8()?;
    let ty = RdbType::from_byte(ty).ok_or(RdbError::BadFormat("unsupported object type"))?;
    decode_object(ty, &mut r)
}

/// Decodes one object of type `ty` at the reader (an RDB file's object, or
/// a DUMP payload's), checked as [`restore`] checks it.
pub(crate) fn decode_value(ty: RdbType, r: &mut Reader<'_>) -> Result<RdbValue> {
    decode_object(ty, r)
}

fn decode_object(ty: RdbType, r: &mut Reader<'_>) -> Result<RdbValue> {
    use RdbType as T;
    let value = match ty {
        T::String => return Ok(RdbValue::String(r.string()?)),
        T::List => {
            let n = r.count(1)?;
            RdbValue::List((0..n).map(|_| r.string()).collect::<Result<_>>()?)
        }
        T::ListZiplist => RdbValue::List(ziplist::decode(&r.string()?)?),
        T::ListQuicklist => {
            let n = r.count(1)?;
            let mut items = Vec::new();
            for _ in 0..n {
                items.extend(ziplist::decode(&r.string()?)?);
            }
            RdbValue::List(items)
        }
        T::ListQuicklist2 => {
            let n = r.count(2)?;
            let mut items = Vec::new();
            for _ in 0..n {
                match r.len()? {
                    NODE_PLAIN => items.push(r.string()?),
                    NODE_PACKED => items.extend(listpack::decode(&r.string()?)?),
                    _ => return Err(RdbError::BadFormat("unknown quicklist node container")),
                }
            }
            RdbValue::List(items)
        }
        T::Set => {
            let n = r.count(1)?;
            RdbValue::Set((0..n).map(|_| r.string()).collect::<Result<_>>()?)
        }
        T::SetIntset => RdbValue::Set(intset::decode(&r.string()?)?),
        T::ZSet | T::ZSet2 => {
            let n = r.count(2)?;
            let mut m = Vec::with_capacity(n);
            for _ in 0..n {
                let member = r.string()?;
                let score = if ty == T::ZSet2 {
                    f64::from_le_bytes(r.array()?)
                } else {
                    text_score(r)?
                };
                if score.is_nan() {
                    return Err(RdbError::BadFormat("NaN score"));
                }
                m.push((member, score));
            }
            RdbValue::ZSet(m)
        }
        T::ZSetZiplist => RdbValue::ZSet(scored(ziplist::decode(&r.string()?)?)?),
        T::ZSetListpack => RdbValue::ZSet(scored(listpack::decode(&r.string()?)?)?),
        T::Hash => {
            let n = r.count(2)?;
            let mut p = Vec::with_capacity(n);
            for _ in 0..n {
                p.push((r.string()?, r.string()?));
            }
            RdbValue::Hash(p)
        }
        T::HashZipmap => RdbValue::Hash(zipmap::decode(&r.string()?)?),
        T::HashZiplist => RdbValue::Hash(paired(ziplist::decode(&r.string()?)?)?),
        T::HashListpack => RdbValue::Hash(paired(listpack::decode(&r.string()?)?)?),
    };
    check(value)
}

/// A ZSET (type 3) score: one length byte (253 = NaN, 254 = +inf,
/// 255 = -inf), then that many bytes of text.
fn text_score(r: &mut Reader<'_>) -> Result<f64> {
    match r.u8()? {
        253 => Ok(f64::NAN),
        254 => Ok(f64::INFINITY),
        255 => Ok(f64::NEG_INFINITY),
        n => parse_score(r.take(n as usize)?),
    }
}

fn paired(items: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    if items.len() % 2 != 0 {
        return Err(RdbError::BadFormat("odd number of entries"));
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

fn scored(items: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, f64)>> {
    paired(items)?
        .into_iter()
        .map(|(m, s)| Ok((m, parse_score(&s)?)))
        .collect()
}

fn unique<'a>(items: impl ExactSizeIterator<Item = &'a [u8]>) -> Result<()> {
    let mut seen = HashSet::with_capacity(items.len());
    for s in items {
        if !seen.insert(s) {
            return Err(RdbError::BadFormat("duplicate member"));
        }
    }
    Ok(())
}

/// Refuses empty collections (Redis never holds one) and duplicates;
/// orders zsets.
fn check(value: RdbValue) -> Result<RdbValue> {
    let empty = match &value {
        RdbValue::String(_) => false,
        RdbValue::List(v) => v.is_empty(),
        RdbValue::Set(v) => {
            unique(v.iter().map(|s| s.as_slice()))?;
            v.is_empty()
        }
        RdbValue::ZSet(v) => {
            unique(v.iter().map(|(s, _)| s.as_slice()))?;
            v.is_empty()
        }
        RdbValue::Hash(v) => {
            unique(v.iter().map(|(s, _)| s.as_slice()))?;
            v.is_empty()
        }
    };
    if empty {
        return Err(RdbError::BadFormat("empty collection"));
    }
    Ok(match value {
        RdbValue::ZSet(mut v) => {
            super::encode::sort_zset(&mut v);
            RdbValue::ZSet(v)
        }
        v => v,
    })
}
