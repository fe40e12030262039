//! Zipmap, the hash encoding of RDB files from before Redis 2.6, which
//! Redis 7.0 still loads.
//!
//! Layout: entry count (one byte; 254 or more means "count them"), then
//! `len key len free value padding` per field, then `0xff`. A length is
//! one byte when under 254, else `0xfe` + u32 LE; `free` is the number of
//! unused bytes after the value.

use super::wire::Result;
use super::RdbError;

const BIG_LEN: u8 = 254;
const EOF: u8 = 0xff;

/// Encodes field/value pairs as a zipmap (no free bytes).
pub fn encode<'a, I>(pairs: I) -> Vec<u8>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    let mut out = vec![0u8];
    let mut count = 0usize;
    for (k, v) in pairs {
        push_len(&mut out, k.len());
        out.extend_from_slice(k);
        push_len(&mut out, v.len());
        out.push(0);
        out.extend_from_slice(v);
        count += 1;
    }
    out.push(EOF);
    out[0] = count.min(BIG_LEN as usize) as u8;
    out
}

fn push_len(out: &mut Vec<u8>, n: usize) {
    if n < BIG_LEN as usize {
        out.push(n as u8);
    } else {
        out.push(BIG_LEN);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
}

/// Decodes a zipmap into its field/value pairs.
pub fn decode(b: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let short = || RdbError::BadFormat("zipmap cut short");
    let zmlen = *b.first().ok_or_else(short)?;
    let mut p = 1usize;
    let read_len = |p: &mut usize| -> Result<usize> {
        let first = *b.get(*p).ok_or_else(short)?;
        *p += 1;
        if first < BIG_LEN {
            return Ok(first as usize);
        }
        if first == EOF {
            return Err(RdbError::BadFormat("bad zipmap length"));
        }
        let d = b.get(*p..*p + 4).ok_or_else(short)?;
        *p += 4;
        Ok(u32::from_le_bytes([d[0], d[1], d[2], d[3]]) as usize)
    };
    let take = |p: &mut usize, n: usize| -> Result<&[u8]> {
        let s = b
            .get(*p..p.checked_add(n).ok_or_else(short)?)
            .ok_or_else(short)?;
        *p += n;
        Ok(s)
    };
    let mut pairs = Vec::new();
    loop {
        match b.get(p) {
            None => return Err(short()),
            Some(&EOF) => {
                p += 1;
                break;
            }
            Some(_) => {}
        }
        let klen = read_len(&mut p)?;
        let key = take(&mut p, klen)?.to_vec();
        let vlen = read_len(&mut p)?;
        let free = *take(&mut p, 1)?.first().ok_or_else(short)? as usize;
        let value = take(&mut p, vlen)?.to_vec();
        take(&mut p, free)?;
        pairs.push((key, value));
    }
    if p != b.len() {
        return Err(RdbError::BadFormat("bytes after the zipmap end"));
    }
    if zmlen < BIG_LEN && zmlen as usize != pairs.len() {
        return Err(RdbError::BadFormat("zipmap count mismatch"));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let long = vec![b'v'; 300];
        let pairs: Vec<(&[u8], &[u8])> = vec![(b"f", b"v"), (b"n", b"12"), (b"big", &long)];
        let zm = encode(pairs.iter().copied());
        assert_eq!(&zm[..8], &[3, 1, b'f', 1, 0, b'v', 1, b'n']);
        let back = decode(&zm).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[2].1, long);
        // Free bytes after a value are skipped.
        let zm = [1u8, 1, b'a', 1, 2, b'b', 0, 0, 0xff];
        assert_eq!(decode(&zm).unwrap(), vec![(b"a".to_vec(), b"b".to_vec())]);
    }

    #[test]
    fn rejects_corruption() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[1, 0xff]).is_err()); // count mismatch
        assert!(decode(&[1, 1, b'a', 1, 0, b'b']).is_err()); // no end
        assert!(decode(&[1, 1, b'a', 5, 0, b'b', 0xff]).is_err());
        assert!(decode(&[1, 1, b'a', 1, 9, b'b', 0xff]).is_err()); // free past the end
        assert!(decode(&[0, 0xff, 0]).is_err()); // trailing bytes
    }
}
