//! Listpack, the flat sequence Redis 7.0 uses for small hashes, small zsets
//! and quicklist nodes.
//!
//! Layout: total bytes (u32 LE), element count (u16 LE, 65535 when it does
//! not fit), the entries, then `0xff`. An entry is its encoding, its data,
//! then `backlen`: the size of encoding + data in 7-bit groups, written so
//! that it reads backwards from its last byte (each byte but the leftmost
//! carries 0x80).
//!
//! Encodings (first byte):
//! - `0xxxxxxx`: integer 0..127;
//! - `10xxxxxx`: string of up to 63 bytes;
//! - `110xxxxx yyyyyyyy`: 13-bit signed integer;
//! - `1110xxxx yyyyyyyy`: string of up to 4095 bytes;
//! - `0xf0` + u32 LE: longer string;
//! - `0xf1`, `0xf2`, `0xf3`, `0xf4`: 16, 24, 32, 64-bit signed integer, LE.
//!
//! Integers read back as their decimal text.

use super::wire::{canonical_int, int_text, Result};
use super::RdbError;

const HEADER: usize = 6;
const EOF: u8 = 0xff;
/// The count field's "count them" value.
const COUNT_UNKNOWN: u16 = u16::MAX;

/// Builds a listpack entry by entry.
#[derive(Debug, Clone, Default)]
pub struct Writer {
    entries: Vec<u8>,
    count: usize,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `s`, stored as an integer when it is the canonical decimal
    /// text of one (as Redis does).
    pub fn push(&mut self, s: &[u8]) {
        match canonical_int(s) {
            Some(v) => self.push_int(v),
            None => self.push_str(s),
        }
    }

    /// Appends an integer in its smallest encoding.
    pub fn push_int(&mut self, v: i64) {
        let start = self.entries.len();
        let e = &mut self.entries;
        if (0..=127).contains(&v) {
            e.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u16) & 0x1fff;
            e.push(0xc0 | (u >> 8) as u8);
            e.push(u as u8);
        } else if let Ok(v) = i16::try_from(v) {
            e.push(0xf1);
            e.extend_from_slice(&v.to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            e.push(0xf2);
            e.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if let Ok(v) = i32::try_from(v) {
            e.push(0xf3);
            e.extend_from_slice(&v.to_le_bytes());
        } else {
            e.push(0xf4);
            e.extend_from_slice(&v.to_le_bytes());
        }
        self.end_entry(start);
    }

    /// Appends `s` as a string, whatever it holds.
    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.entries.len();
        let e = &mut self.entries;
        let n = s.len();
        if n < 64 {
            e.push(0x80 | n as u8);
        } else if n < 4096 {
            e.push(0xe0 | (n >> 8) as u8);
            e.push(n as u8);
        } else {
            e.push(0xf0);
            e.extend_from_slice(&(n as u32).to_le_bytes());
        }
        e.extend_from_slice(s);
        self.end_entry(start);
    }

    fn end_entry(&mut self, start: usize) {
        let len = self.entries.len() - start;
        write_backlen(&mut self.entries, len);
        self.count += 1;
    }

    /// Entries so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Size of the finished listpack if finished now.
    pub fn bytes(&self) -> usize {
        HEADER + self.entries.len() + 1
    }

    pub fn finish(self) -> Vec<u8> {
        let total = self.bytes();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        let count = u16::try_from(self.count).unwrap_or(COUNT_UNKNOWN);
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&self.entries);
        out.push(EOF);
        out
    }
}

/// Encodes `items` into one listpack.
pub fn encode<I, S>(items: I) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let mut w = Writer::new();
    for s in items {
        w.push(s.as_ref());
    }
    w.finish()
}

fn write_backlen(out: &mut Vec<u8>, len: usize) {
    // Groups of 7 bits, most significant first; all but the first carry 0x80.
    let mut groups = [0u8; 5];
    let mut n = 0;
    let mut v = len;
    loop {
        groups[n] = (v & 0x7f) as u8;
        n += 1;
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        let mark = if i == n - 1 { 0 } else { 0x80 };
        out.push(groups[i] | mark);
    }
}

fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2097151 => 3,
        2097152..=268435455 => 4,
        _ => 5,
    }
}

/// Decodes a whole listpack, checking its header, every entry (including
/// each backlen) and the terminator.
pub fn decode(lp: &[u8]) -> Result<Vec<Vec<u8>>> {
    let bad = |why| Err(RdbError::BadFormat(why));
    if lp.len() < HEADER + 1 {
        return bad("listpack too short");
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    if total != lp.len() {
        return bad("listpack size mismatch");
    }
    let count = u16::from_le_bytes([lp[4], lp[5]]);
    if lp[lp.len() - 1] != EOF {
        return bad("listpack not terminated");
    }
    let body = &lp[HEADER..lp.len() - 1];
    // Each entry takes at least 2 bytes.
    let mut items = Vec::with_capacity(body.len() / 2);
    let mut p = 0;
    while p < body.len() {
        let (item, size) = entry(&body[p..])?;
        let bl = backlen_size(size);
        let back = body
            .get(p + size..p + size + bl)
            .ok_or(RdbError::BadFormat("listpack entry cut short"))?;
        if read_backlen(back) != Some(size) {
            return bad("listpack backlen mismatch");
        }
        items.push(item);
        p += size + bl;
    }
    if count != COUNT_UNKNOWN && count as usize != items.len() {
        return bad("listpack count mismatch");
    }
    Ok(items)
}

/// Reads a backlen occupying exactly `b` (stored most significant group first).
fn read_backlen(b: &[u8]) -> Option<usize> {
    let mut v = 0usize;
    for (i, &byte) in b.iter().enumerate() {
        let cont = byte & 0x80 != 0;
        // The leftmost byte has no continuation mark; the others have it.
        if cont != (i != 0) {
            return None;
        }
        v = (v << 7) | (byte & 0x7f) as usize;
    }
    Some(v)
}

/// One entry at the start of `b`: its value and the size of encoding + data.
fn entry(b: &[u8]) -> Result<(Vec<u8>, usize)> {
    let short = RdbError::BadFormat("listpack entry cut short");
    let get = |n: usize| b.get(..n).ok_or(short.clone());
    let first = b[0];
    let int_le = |n: usize| -> Result<(Vec<u8>, usize)> {
        let d = get(1 + n)?;
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(&d[1..]);
        // Sign-extend from n bytes.
        let shift = 64 - 8 * n as u32;
        let v = (i64::from_le_bytes(buf) << shift) >> shift;
        Ok((int_text(v), 1 + n))
    };
    let string = |hdr: usize, n: usize| -> Result<(Vec<u8>, usize)> {
        let end = hdr.checked_add(n).ok_or(short.clone())?;
        let d = get(end)?;
        Ok((d[hdr..].to_vec(), end))
    };
    match first {
        0x00..=0x7f => Ok((int_text(first as i64), 1)),
        0x80..=0xbf => string(1, (first & 0x3f) as usize),
        0xc0..=0xdf => {
            let d = get(2)?;
            let u = ((d[0] as u16 & 0x1f) << 8) | d[1] as u16;
            let v = ((u << 3) as i16 >> 3) as i64;
            Ok((int_text(v), 2))
        }
        0xe0..=0xef => {
            let d = get(2)?;
            string(2, ((d[0] as usize & 0x0f) << 8) | d[1] as usize)
        }
        0xf0 => {
            let d = get(5)?;
            string(5, u32::from_le_bytes([d[1], d[2], d[3], d[4]]) as usize)
        }
        0xf1 => int_le(2),
        0xf2 => int_le(3),
        0xf3 => int_le(4),
        0xf4 => int_le(8),
        0xff => Err(RdbError::BadFormat(
            "listpack terminator inside the listpack",
        )),
        _ => Err(RdbError::BadFormat("unknown listpack encoding")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_bytes() {
        // RPUSH l a bb 123 -5 1000 70000 -70000 5000000000 (as Redis 7.0
        // lays out the node).
        let lp = encode([
            "a",
            "bb",
            "123",
            "-5",
            "1000",
            "70000",
            "-70000",
            "5000000000",
        ]);
        let expect = [
            0x2a, 0, 0, 0, 8, 0, 0x81, 0x61, 0x02, 0x82, 0x62, 0x62, 0x03, 0x7b, 0x01, 0xdf, 0xfb,
            0x02, 0xc3, 0xe8, 0x02, 0xf2, 0x70, 0x11, 0x01, 0x04, 0xf2, 0x90, 0xee, 0xfe, 0x04,
            0xf4, 0x00, 0xf2, 0x05, 0x2a, 0x01, 0x00, 0x00, 0x00, 0x09,
        ];
        assert_eq!(&lp[..lp.len() - 1], &expect[..]);
    }

    #[test]
    fn every_encoding_round_trips() {
        let long = vec![b'x'; 70_000];
        let mid = vec![b'y'; 300];
        let items: Vec<Vec<u8>> = [
            "0",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "4096",
            "-4097",
            "32767",
            "-32768",
            "32768",
            "8388607",
            "-8388608",
            "8388608",
            "2147483647",
            "-2147483648",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "",
            "-0",
            "007",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([
            long,
            mid,
            vec![b'z'; 63],
            vec![b'z'; 64],
            vec![b'w'; 4095],
            vec![b'w'; 4096],
        ])
        .collect();
        let lp = encode(&items);
        assert_eq!(decode(&lp).unwrap(), items);
    }

    #[test]
    fn backlens() {
        for len in [
            1usize,
            127,
            128,
            16383,
            16384,
            2097151,
            2097152,
            300_000_000,
        ] {
            let mut out = Vec::new();
            write_backlen(&mut out, len);
            assert_eq!(out.len(), backlen_size(len));
            assert_eq!(read_backlen(&out), Some(len));
        }
        let mut out = Vec::new();
        write_backlen(&mut out, 72);
        assert_eq!(out, [72]);
        out.clear();
        write_backlen(&mut out, 200);
        assert_eq!(out, [0x01, 0xc8]);
    }

    #[test]
    fn unknown_count() {
        let items: Vec<String> = (0..70_000).map(|i| i.to_string()).collect();
        let lp = encode(&items);
        assert_eq!(&lp[4..6], &[0xff, 0xff]);
        assert_eq!(decode(&lp).unwrap().len(), 70_000);
    }

    #[test]
    fn rejects_corruption() {
        let lp = encode(["a", "bb", "123"]);
        assert!(decode(&lp[..lp.len() - 1]).is_err());
        let mut bad = lp.clone();
        bad[4] = 2; // count
        assert!(decode(&bad).is_err());
        let mut bad = lp.clone();
        bad[8] = 3; // backlen of "a"
        assert!(decode(&bad).is_err());
        let mut bad = lp.clone();
        bad[6] = 0xf5; // encoding
        assert!(decode(&bad).is_err());
        assert!(decode(&[7, 0, 0, 0, 0, 0, 0]).is_err());
        assert_eq!(
            decode(&[7, 0, 0, 0, 0, 0, 0xff]).unwrap(),
            Vec::<Vec<u8>>::new()
        );
    }
}
