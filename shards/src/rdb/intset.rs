//! Intset, the sorted integer array of small all-integer sets.
//!
//! Layout: element width in bytes (u32 LE: 2, 4 or 8, the smallest that
//! holds every member), element count (u32 LE), the elements ascending,
//! each little-endian.

use super::wire::{int_text, Result};
use super::RdbError;

/// Encodes `values` (sorted and deduplicated here) as an intset.
pub fn encode(values: &[i64]) -> Vec<u8> {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.dedup();
    let width: usize = if v.iter().all(|&x| i16::try_from(x).is_ok()) {
        2
    } else if v.iter().all(|&x| i32::try_from(x).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * v.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    for x in v {
        out.extend_from_slice(&x.to_le_bytes()[..width]);
    }
    out
}

/// Decodes an intset into its members' decimal text, checking the width,
/// the size and the strict ascending order.
pub fn decode(b: &[u8]) -> Result<Vec<Vec<u8>>> {
    let bad = |why| Err(RdbError::BadFormat(why));
    if b.len() < 8 {
        return bad("intset too short");
    }
    let width = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let count = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return bad("bad intset encoding");
    }
    if count.checked_mul(width) != Some(b.len() - 8) {
        return bad("intset size mismatch");
    }
    let mut out = Vec::with_capacity(count);
    let mut prev: Option<i64> = None;
    for chunk in b[8..].chunks_exact(width) {
        let mut buf = [0u8; 8];
        buf[..width].copy_from_slice(chunk);
        let shift = 64 - 8 * width as u32;
        let v = (i64::from_le_bytes(buf) << shift) >> shift;
        if prev.is_some_and(|p| p >= v) {
            return bad("intset not sorted");
        }
        prev = Some(v);
        out.push(int_text(v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_bytes() {
        // SADD s 1 2 -3
        assert_eq!(
            encode(&[1, 2, -3]),
            [2, 0, 0, 0, 3, 0, 0, 0, 0xfd, 0xff, 1, 0, 2, 0]
        );
        // SADD s 1 40000
        assert_eq!(
            encode(&[1, 40000]),
            [4, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0x40, 0x9c, 0, 0]
        );
        // SADD s 1 5000000000
        let b = encode(&[1, 5_000_000_000]);
        assert_eq!(&b[..8], &[8, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(
            decode(&b).unwrap(),
            vec![b"1".to_vec(), b"5000000000".to_vec()]
        );
    }

    #[test]
    fn rejects_corruption() {
        let b = encode(&[1, 2, 3]);
        assert!(decode(&b[..b.len() - 1]).is_err());
        let mut bad = b.clone();
        bad[0] = 3;
        assert!(decode(&bad).is_err());
        let mut bad = b.clone();
        bad[8] = 2; // 2, 2, 3
        assert!(decode(&bad).is_err());
        let mut bad = b.clone();
        bad[4] = 0xff;
        assert!(decode(&bad).is_err());
    }
}
