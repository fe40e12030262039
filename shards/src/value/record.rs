//! The byte layout shared by the collection encodings, the hash function of
//! their tables, and small helpers for random choices.
//!
//! A length is a prefix of 1 byte below 128, 2 bytes below 16384, else a
//! marker byte and 4 or 8 bytes:
//!
//! ```text
//!   0xxxxxxx                  0 ..= 127
//!   10xxxxxx xxxxxxxx         128 ..= 16383 (big-endian 14 bits)
//!   0xC0 <u32 LE>             up to 4 GiB
//!   0xC1 <u64 LE>             beyond
//! ```
//!
//! No prefix starts with `0xFF`, which a table record uses to say that its
//! bytes live elsewhere (see `table`). A record is `len key` for a set
//! member and `len field len value` for a hash entry.

use std::sync::OnceLock;

/// First byte of a table record whose bytes live outside the arena.
pub(crate) const REF_MARK: u8 = 0xFF;

/// Bytes of the prefix for a length of `n`.
#[inline]
pub(crate) fn len_size(n: usize) -> usize {
    if n < 0x80 {
        1
    } else if n < 0x4000 {
        2
    } else if n as u64 <= u32::MAX as u64 {
        5
    } else {
        9
    }
}

/// Writes the prefix for `n` at the start of `out`; returns its size.
#[inline]
pub(crate) fn write_len(out: &mut [u8], n: usize) -> usize {
    if n < 0x80 {
        out[0] = n as u8;
        1
    } else if n < 0x4000 {
        out[0] = 0x80 | (n >> 8) as u8;
        out[1] = n as u8;
        2
    } else if n as u64 <= u32::MAX as u64 {
        out[0] = 0xC0;
        out[1..5].copy_from_slice(&(n as u32).to_le_bytes());
        5
    } else {
        out[0] = 0xC1;
        out[1..9].copy_from_slice(&(n as u64).to_le_bytes());
        9
    }
}

/// The length at the start of `b` and the size of its prefix.
#[inline]
pub(crate) fn read_len(b: &[u8]) -> (usize, usize) {
    let b0 = b[0];
    if b0 < 0x80 {
        (b0 as usize, 1)
    } else if b0 < 0xC0 {
        ((((b0 & 0x3f) as usize) << 8) | b[1] as usize, 2)
    } else if b0 == 0xC0 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&b[1..5]);
        (u32::from_le_bytes(w) as usize, 5)
    } else {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[1..9]);
        (u64::from_le_bytes(w) as usize, 9)
    }
}

/// Bytes of a record of a key (and value, for pairs).
#[inline]
pub(crate) fn record_len(key: &[u8], val: Option<&[u8]>) -> usize {
    let k = len_size(key.len()) + key.len();
    match val {
        Some(v) => k + len_size(v.len()) + v.len(),
        None => k,
    }
}

/// Writes a record at the start of `out` (which holds at least
/// `record_len` bytes); returns its size.
#[inline]
pub(crate) fn write_record(out: &mut [u8], key: &[u8], val: Option<&[u8]>) -> usize {
    let mut at = write_len(out, key.len());
    out[at..at + key.len()].copy_from_slice(key);
    at += key.len();
    if let Some(v) = val {
        at += write_len(&mut out[at..], v.len());
        out[at..at + v.len()].copy_from_slice(v);
        at += v.len();
    }
    at
}

/// Appends a record to `out`.
#[inline]
pub(crate) fn push_record(out: &mut Vec<u8>, key: &[u8], val: Option<&[u8]>) {
    let at = out.len();
    out.resize(at + record_len(key, val), 0);
    write_record(&mut out[at..], key, val);
}

/// The key, the value (empty without one) and the size of the record at
/// the start of `b`.
#[inline]
pub(crate) fn read_record(b: &[u8], pairs: bool) -> (&[u8], &[u8], usize) {
    let (klen, n) = read_len(b);
    let key = &b[n..n + klen];
    let at = n + klen;
    if pairs {
        let (vlen, m) = read_len(&b[at..]);
        (key, &b[at + m..at + m + vlen], at + m + vlen)
    } else {
        (key, &[], at)
    }
}

/// The key of the record at the start of `b`.
#[inline]
pub(crate) fn record_key(b: &[u8]) -> &[u8] {
    let (klen, n) = read_len(b);
    &b[n..n + klen]
}

/// The hash of a field or member in the table encodings. Seeded once per
/// process at random, as Redis seeds its dict hash, so that colliding
/// members cannot be precomputed.
#[inline]
pub(crate) fn hash(key: &[u8]) -> u64 {
    static STATE: OnceLock<ahash::RandomState> = OnceLock::new();
    STATE.get_or_init(ahash::RandomState::new).hash_one(key)
}

/// A source of random numbers: `rand(n)` returns a number below `n`,
/// uniformly (it is never called with 0).
pub(crate) fn below(rand: &mut impl FnMut(u64) -> u64, n: usize) -> usize {
    debug_assert!(n > 0);
    // Clamped so that a faulty source cannot index out of range.
    (rand(n as u64) as usize).min(n - 1)
}

/// One iterator type for either of two encodings.
pub(crate) enum Either<A, B> {
    A(A),
    B(B),
}

impl<T, A: Iterator<Item = T>, B: Iterator<Item = T>> Iterator for Either<A, B> {
    type Item = T;
    #[inline]
    fn next(&mut self) -> Option<T> {
        match self {
            Either::A(a) => a.next(),
            Either::B(b) => b.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_at_every_boundary() {
        for n in [
            0usize,
            1,
            127,
            128,
            255,
            16383,
            16384,
            65535,
            1 << 20,
            u32::MAX as usize,
            u32::MAX as usize + 1,
        ] {
            let mut b = [0u8; 9];
            let k = write_len(&mut b, n);
            assert_eq!(k, len_size(n));
            assert_ne!(b[0], REF_MARK);
            assert_eq!(read_len(&b), (n, k));
        }
    }

    #[test]
    fn records_round_trip() {
        let long = vec![7u8; 20_000];
        for (k, v) in [
            (&b""[..], &b""[..]),
            (b"f", b"value"),
            (&long[..300], &long[..]),
        ] {
            let mut out = Vec::new();
            push_record(&mut out, k, Some(v));
            assert_eq!(out.len(), record_len(k, Some(v)));
            assert_eq!(read_record(&out, true), (k, v, out.len()));
            assert_eq!(record_key(&out), k);
            let mut out = Vec::new();
            push_record(&mut out, k, None);
            assert_eq!(read_record(&out, false), (k, &b""[..], out.len()));
        }
    }
}
