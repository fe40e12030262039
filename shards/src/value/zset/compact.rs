//! The compact encoding of small sorted sets (Redis's listpack zsets): one
//! buffer of entries ordered by (score, member).
//!
//! ```text
//!   count: u32 LE | entry | entry | ...
//!   entry = member length (varint) | member | score
//!   score = tag byte: 0..=0xEF   the integer itself
//!                     0xF0 + i16 | 0xF1 + i32 | 0xF2 + 48-bit integer
//!                     0xF3 + f64 (LE bits)
//! ```
//!
//! Integral scores (ranks, counters, millisecond timestamps) take one to
//! seven bytes. As in Redis's listpack, which stores `-0` as the integer 0,
//! a negative zero comes back as 0. An empty set is an empty buffer (no
//! header, nothing allocated). The buffer is held at its exact size and
//! grows by what each insert needs, as Redis reallocates a listpack.

use super::cmp_entry;
use std::cmp::Ordering;

pub(super) const HEADER: usize = 4;

#[inline]
pub(super) fn count(b: &[u8]) -> usize {
    match b.get(..HEADER) {
        Some(h) => u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize,
        None => 0,
    }
}

#[inline]
fn set_count(b: &mut [u8], n: usize) {
    b[..4].copy_from_slice(&(n as u32).to_le_bytes());
}

#[inline]
fn varint_len(mut n: usize) -> usize {
    let mut k = 1;
    while n >= 0x80 {
        n >>= 7;
        k += 1;
    }
    k
}

/// Encodes a score; returns its length in `out`.
fn put_score(s: f64, out: &mut [u8; 9]) -> usize {
    const I48: f64 = (1u64 << 47) as f64;
    if s == s.trunc() && s.abs() < I48 {
        let i = s as i64;
        if (0..=0xEF).contains(&i) {
            out[0] = i as u8;
            1
        } else if let Ok(v) = i16::try_from(i) {
            out[0] = 0xF0;
            out[1..3].copy_from_slice(&v.to_le_bytes());
            3
        } else if let Ok(v) = i32::try_from(i) {
            out[0] = 0xF1;
            out[1..5].copy_from_slice(&v.to_le_bytes());
            5
        } else {
            out[0] = 0xF2;
            out[1..7].copy_from_slice(&i.to_le_bytes()[..6]);
            7
        }
    } else {
        out[0] = 0xF3;
        out[1..9].copy_from_slice(&s.to_le_bytes());
        9
    }
}

/// The score at `at`: (score, offset after it).
#[inline]
fn get_score(b: &[u8], at: usize) -> (f64, usize) {
    let t = b[at];
    match t {
        0..=0xEF => (t as f64, at + 1),
        0xF0 => (i16::from_le_bytes([b[at + 1], b[at + 2]]) as f64, at + 3),
        0xF1 => {
            let mut x = [0u8; 4];
            x.copy_from_slice(&b[at + 1..at + 5]);
            (i32::from_le_bytes(x) as f64, at + 5)
        }
        0xF2 => {
            let mut x = [0u8; 8];
            x[..6].copy_from_slice(&b[at + 1..at + 7]);
            ((i64::from_le_bytes(x) << 16 >> 16) as f64, at + 7)
        }
        _ => {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at + 1..at + 9]);
            (f64::from_le_bytes(x), at + 9)
        }
    }
}

/// The entry at `off`: (member, score, offset of the next entry).
#[inline]
pub(super) fn entry_at(b: &[u8], off: usize) -> (&[u8], f64, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut at = off;
    loop {
        let byte = b[at];
        at += 1;
        n |= ((byte & 0x7f) as usize) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            break;
        }
    }
    let m = &b[at..at + n];
    let (s, next) = get_score(b, at + n);
    (m, s, next)
}

/// Entries from offset `off` on: (offset, member, score).
pub(super) fn entries(b: &[u8], off: usize) -> Entries<'_> {
    Entries { b, off }
}

pub(super) struct Entries<'a> {
    b: &'a [u8],
    off: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = (usize, &'a [u8], f64);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.off >= self.b.len() {
            return None;
        }
        let at = self.off;
        let (m, s, next) = entry_at(self.b, at);
        self.off = next;
        Some((at, m, s))
    }
}

/// The offset of the entry of rank `rank` (`count` gives the end).
pub(super) fn offset_of(b: &[u8], rank: usize) -> usize {
    entries(b, HEADER)
        .nth(rank)
        .map_or(b.len(), |(off, _, _)| off)
}

/// The member's offset, rank and score.
pub(super) fn find(b: &[u8], member: &[u8]) -> Option<(usize, usize, f64)> {
    entries(b, HEADER)
        .enumerate()
        .find(|(_, (_, m, _))| *m == member)
        .map(|(rank, (off, _, s))| (off, rank, s))
}

/// How many entries satisfy `less` before the first that does not (a
/// linear scan from the head, as Redis walks a listpack).
pub(super) fn partition(b: &[u8], mut less: impl FnMut(&[u8], f64) -> bool) -> usize {
    entries(b, HEADER)
        .position(|(_, m, s)| !less(m, s))
        .unwrap_or(count(b))
}

/// Adds an entry at its place in the order; the member must be absent.
pub(super) fn insert(b: &mut Vec<u8>, member: &[u8], score: f64) {
    let at = entries(b, HEADER)
        .find(|&(_, m, s)| cmp_entry(s, m, score, member) == Ordering::Greater)
        .map_or(b.len(), |(off, _, _)| off);
    let mut sc = [0u8; 9];
    let sl = put_score(score, &mut sc);
    let k = varint_len(member.len());
    let n = k + member.len() + sl;
    if b.is_empty() {
        b.reserve_exact(HEADER + n);
        b.extend_from_slice(&0u32.to_le_bytes());
    } else {
        b.reserve_exact(n);
    }
    let at = at.max(HEADER);
    let old = b.len();
    b.resize(old + n, 0);
    b.copy_within(at..old, at + n);
    let mut len = member.len();
    for i in 0..k {
        b[at + i] = (len & 0x7f) as u8 | if i + 1 < k { 0x80 } else { 0 };
        len >>= 7;
    }
    b[at + k..at + k + member.len()].copy_from_slice(member);
    b[at + k + member.len()..at + n].copy_from_slice(&sc[..sl]);
    let c = count(b);
    set_count(b, c + 1);
}

/// Removes the `n` entries between offsets `from` and `to`.
pub(super) fn remove(b: &mut Vec<u8>, from: usize, to: usize, n: usize) {
    b.copy_within(to.., from);
    b.truncate(b.len() - (to - from));
    let c = count(b);
    if c == n {
        b.clear();
    } else {
        set_count(b, c - n);
    }
}

/// A buffer holding `entries`, which are in order with distinct members.
pub(super) fn from_sorted<'a>(entries: impl Iterator<Item = (&'a [u8], f64)>) -> Box<[u8]> {
    let mut b = 0u32.to_le_bytes().to_vec();
    let mut n = 0;
    for (m, s) in entries {
        let mut sc = [0u8; 9];
        let sl = put_score(s, &mut sc);
        let mut len = m.len();
        loop {
            let more = len >= 0x80;
            b.push((len & 0x7f) as u8 | if more { 0x80 } else { 0 });
            len >>= 7;
            if !more {
                break;
            }
        }
        b.extend_from_slice(m);
        b.extend_from_slice(&sc[..sl]);
        n += 1;
    }
    if n == 0 {
        return Box::default();
    }
    set_count(&mut b, n);
    b.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_round_trip_in_every_width() {
        let scores = [
            0.0,
            -0.0,
            1.0,
            239.0,
            240.0,
            -1.0,
            -32768.0,
            32768.0,
            -2147483648.0,
            2147483648.0,
            1.7e12,
            -1.7e12,
            140737488355327.0,
            140737488355328.0,
            -140737488355328.0,
            0.5,
            -1e-300,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
        ];
        for s in scores {
            let mut out = [0u8; 9];
            let n = put_score(s, &mut out);
            let (back, end) = get_score(&out, 0);
            assert_eq!(end, n);
            // -0 comes back as 0, like Redis's listpack.
            let want = if s == 0.0 { 0.0 } else { s };
            assert_eq!(back.to_bits(), want.to_bits(), "{s}");
        }
        let mut out = [0u8; 9];
        assert_eq!(put_score(5.0, &mut out), 1);
        assert_eq!(put_score(-5.0, &mut out), 3);
        assert_eq!(put_score(1_700_000_000_000.0, &mut out), 7);
        assert_eq!(put_score(2.5, &mut out), 9);
    }
}
