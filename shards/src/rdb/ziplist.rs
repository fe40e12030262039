//! Ziplist, the pre-7.0 flat sequence (hashes, zsets, list nodes), which
//! Redis 7.0 still loads.
//!
//! Layout: total bytes (u32 LE), offset of the last entry (u32 LE), entry
//! count (u16 LE, 65535 when it does not fit), the entries, then `0xff`.
//! An entry is `prevlen` (the previous entry's size: one byte when under
//! 254, else `0xfe` + u32 LE; 0 for the first entry), the encoding, the
//! data.
//!
//! Encodings (first byte):
//! - `00pppppp`: string up to 63 bytes; `01pppppp qqqqqqqq`: up to 16383
//!   bytes (length high bits first); `0x80` + u32 big-endian: longer;
//! - `0xc0`, `0xd0`, `0xe0`: 16, 32, 64-bit signed integer (LE);
//! - `0xf0`: 24-bit signed integer; `0xfe`: 8-bit signed integer;
//! - `0xf1..=0xfd`: the integer 0..=12 held in the low 4 bits (minus 1).

use super::wire::{canonical_int, int_text, Result};
use super::RdbError;

const HEADER: usize = 10;
const EOF: u8 = 0xff;
const BIG_PREVLEN: u8 = 0xfe;

/// Encodes `items` into one ziplist, integers as Redis stores them.
pub fn encode<I, S>(items: I) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let mut out = vec![0u8; HEADER];
    let mut prev = 0usize;
    let mut last = HEADER;
    let mut count = 0usize;
    for s in items {
        let s = s.as_ref();
        last = out.len();
        if prev < BIG_PREVLEN as usize {
            out.push(prev as u8);
        } else {
            out.push(BIG_PREVLEN);
            out.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        match canonical_int(s).filter(|_| s.len() < 32) {
            Some(v) => push_int(&mut out, v),
            None => push_str(&mut out, s),
        }
        prev = out.len() - last;
        count += 1;
    }
    out.push(EOF);
    let total = out.len() as u32;
    out[0..4].copy_from_slice(&total.to_le_bytes());
    out[4..8].copy_from_slice(&(last as u32).to_le_bytes());
    let count = u16::try_from(count).unwrap_or(u16::MAX);
    out[8..10].copy_from_slice(&count.to_le_bytes());
    out
}

fn push_int(out: &mut Vec<u8>, v: i64) {
    if (0..=12).contains(&v) {
        out.push(0xf1 + v as u8);
    } else if let Ok(v) = i8::try_from(v) {
        out.push(0xfe);
        out.push(v as u8);
    } else if let Ok(v) = i16::try_from(v) {
        out.push(0xc0);
        out.extend_from_slice(&v.to_le_bytes());
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        out.push(0xf0);
        out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if let Ok(v) = i32::try_from(v) {
        out.push(0xd0);
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        out.push(0xe0);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn push_str(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// Decodes a whole ziplist, checking the header fields, every `prevlen`
/// and the terminator.
pub fn decode(zl: &[u8]) -> Result<Vec<Vec<u8>>> {
    let bad = |why| Err(RdbError::BadFormat(why));
    if zl.len() < HEADER + 1 {
        return bad("ziplist too short");
    }
    let total = u32::from_le_bytes([zl[0], zl[1], zl[2], zl[3]]) as usize;
    let tail = u32::from_le_bytes([zl[4], zl[5], zl[6], zl[7]]) as usize;
    let count = u16::from_le_bytes([zl[8], zl[9]]);
    if total != zl.len() {
        return bad("ziplist size mismatch");
    }
    if zl[zl.len() - 1] != EOF {
        return bad("ziplist not terminated");
    }
    let end = zl.len() - 1;
    // Each entry takes at least 2 bytes.
    let mut items = Vec::with_capacity((end - HEADER) / 2);
    let mut p = HEADER;
    let mut prev_size = 0usize;
    let mut last = HEADER;
    while p < end {
        let (item, size) = entry(&zl[p..end], prev_size)?;
        items.push(item);
        last = p;
        prev_size = size;
        p += size;
    }
    if tail != last {
        return bad("ziplist tail offset mismatch");
    }
    if count != u16::MAX && count as usize != items.len() {
        return bad("ziplist count mismatch");
    }
    Ok(items)
}

/// One entry at the start of `b` whose predecessor took `prev_size` bytes:
/// its value and its whole size.
fn entry(b: &[u8], prev_size: usize) -> Result<(Vec<u8>, usize)> {
    let short = || RdbError::BadFormat("ziplist entry cut short");
    let get = |from: usize, n: usize| {
        from.checked_add(n)
            .and_then(|end| b.get(from..end))
            .ok_or_else(short)
    };
    let (prevlen, mut p) = match b[0] {
        BIG_PREVLEN => {
            let d = get(1, 4)?;
            (u32::from_le_bytes([d[0], d[1], d[2], d[3]]) as usize, 5)
        }
        EOF => return Err(RdbError::BadFormat("bad ziplist prevlen")),
        n => (n as usize, 1),
    };
    if prevlen != prev_size {
        return Err(RdbError::BadFormat("ziplist prevlen mismatch"));
    }
    let enc = get(p, 1)?[0];
    p += 1;
    let int = |p: usize, n: usize| -> Result<(Vec<u8>, usize)> {
        let d = get(p, n)?;
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(d);
        let shift = 64 - 8 * n as u32;
        Ok((int_text((i64::from_le_bytes(buf) << shift) >> shift), p + n))
    };
    let string =
        |p: usize, n: usize| -> Result<(Vec<u8>, usize)> { Ok((get(p, n)?.to_vec(), p + n)) };
    match enc {
        0x00..=0x3f => string(p, enc as usize),
        0x40..=0x7f => {
            let lo = get(p, 1)?[0] as usize;
            string(p + 1, ((enc as usize & 0x3f) << 8) | lo)
        }
        0x80 => {
            let d = get(p, 4)?;
            string(p + 4, u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize)
        }
        0xc0 => int(p, 2),
        0xd0 => int(p, 4),
        0xe0 => int(p, 8),
        0xf0 => int(p, 3),
        0xfe => int(p, 1),
        0xf1..=0xfd => Ok((int_text((enc - 0xf1) as i64), p)),
        _ => Err(RdbError::BadFormat("unknown ziplist encoding")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_round_trips() {
        let items: Vec<Vec<u8>> = [
            "0",
            "12",
            "13",
            "-1",
            "127",
            "-128",
            "128",
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
            "01",
            "a",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([
            vec![b'x'; 63],
            vec![b'x'; 64],
            vec![b'y'; 300],
            vec![b'z'; 16384],
        ])
        .chain([b"1".to_vec()])
        .collect();
        let zl = encode(&items);
        assert_eq!(decode(&zl).unwrap(), items);
    }

    #[test]
    fn layout() {
        // "a", 5, 300: prevlens 0, 3, 2; immediate int; 16-bit int.
        let zl = encode(["a", "5", "300"]);
        assert_eq!(
            zl,
            [20, 0, 0, 0, 15, 0, 0, 0, 3, 0, 0, 1, b'a', 3, 0xf6, 2, 0xc0, 0x2c, 0x01, 0xff]
        );
        let empty = encode(Vec::<&[u8]>::new());
        assert_eq!(empty, [11, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0xff]);
        assert!(decode(&empty).unwrap().is_empty());
    }

    #[test]
    fn accepts_five_byte_prevlen_for_small_entries() {
        // A prevlen kept in its 5-byte form after a shrink is still valid.
        let zl = [
            24u8, 0, 0, 0, 13, 0, 0, 0, 2, 0, 0, 1, b'a', 0xfe, 3, 0, 0, 0, 1, b'b', 0xff,
        ];
        let mut zl = zl.to_vec();
        zl[0] = zl.len() as u8;
        assert_eq!(decode(&zl).unwrap(), vec![b"a".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn rejects_corruption() {
        let zl = encode(["a", "5", "300"]);
        for (i, v) in [
            (0, 21u8),
            (4, 14),
            (8, 4),
            (13, 2),
            (11, 2),
            (14, 0xf0),
            (19, 0),
        ] {
            let mut bad = zl.clone();
            bad[i] = v;
            assert!(decode(&bad).is_err(), "byte {i} = {v}");
        }
        assert!(decode(&zl[..zl.len() - 1]).is_err());
    }
}
