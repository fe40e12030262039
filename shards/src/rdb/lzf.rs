//! LZF, the byte-oriented LZ77 variant RDB uses for long strings.
//!
//! The compressed stream is a sequence of chunks, each starting with a
//! control byte `c`:
//! - `c < 32`: a literal run of `c + 1` bytes follows;
//! - otherwise a back reference: `len = c >> 5` (when 7, one more byte is
//!   added to it), then one byte `lo`; the `len + 2` bytes starting
//!   `((c & 0x1f) << 8 | lo) + 1` bytes back in the output are copied (the
//!   source may overlap what is being written, which is how runs repeat).
//!
//! So a reference copies 3 to 264 bytes from at most 8192 bytes back.

/// Largest distance a back reference can reach.
const MAX_OFFSET: usize = 1 << 13;
/// Shortest and longest copies a back reference can encode.
const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 7 + 255 + 2;
/// Longest literal run one control byte covers.
const MAX_LITERAL: usize = 32;
/// Most output bytes one input byte can yield: a 3-byte reference copies
/// 264 bytes. Used to refuse impossible declared lengths before allocating.
pub const MAX_EXPANSION: usize = 88;

/// Hash table size bounds (log2): small inputs get a small table, so that
/// compressing many short strings does not clear a large one each time.
const MIN_HASH_BITS: u32 = 8;
const MAX_HASH_BITS: u32 = 14;
/// Candidate positions kept per hash.
const WAYS: usize = 2;

fn hash3(b: &[u8], bits: u32) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize
}

/// Compresses `input`; `None` when the result would exceed `max_out` bytes
/// (or `input` is empty).
///
/// Greedy matching: the longest match among the last two positions with
/// the same 3-byte hash. The output differs from other LZF encoders byte
/// for byte, but any LZF decoder reads it.
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    if input.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(max_out.min(input.len() + input.len() / 32 + 1));
    let bits = input
        .len()
        .next_power_of_two()
        .trailing_zeros()
        .clamp(MIN_HASH_BITS, MAX_HASH_BITS);
    // The last WAYS positions seen per hash, most recent first.
    let mut table = vec![[usize::MAX; WAYS]; 1 << bits];
    let insert = |table: &mut [[usize; WAYS]], h: usize, pos: usize| {
        let slot = &mut table[h];
        slot.copy_within(0..WAYS - 1, 1);
        slot[0] = pos;
    };
    let mut lit_start = 0;
    let mut i = 0;

    // Writes input[lit_start..end] as literal runs.
    fn flush_literals(out: &mut Vec<u8>, lits: &[u8]) {
        for chunk in lits.chunks(MAX_LITERAL) {
            out.push((chunk.len() - 1) as u8);
            out.extend_from_slice(chunk);
        }
    }

    while i + MIN_MATCH <= input.len() {
        let h = hash3(&input[i..], bits);
        let max_len = (input.len() - i).min(MAX_MATCH);
        // The longest match among the candidates (the nearest on ties).
        let mut best = (0, 0);
        for &cand in &table[h] {
            if cand == usize::MAX || i - cand > MAX_OFFSET {
                continue;
            }
            let mut len = 0;
            while len < max_len && input[cand + len] == input[i + len] {
                len += 1;
            }
            if len > best.0 {
                best = (len, cand);
            }
        }
        insert(&mut table, h, i);
        if best.0 >= MIN_MATCH {
            let (len, cand) = best;
            flush_literals(&mut out, &input[lit_start..i]);
            let off = i - cand - 1;
            let code = len - 2;
            if code < 7 {
                out.push(((code as u8) << 5) | (off >> 8) as u8);
            } else {
                out.push((7 << 5) | (off >> 8) as u8);
                out.push((code - 7) as u8);
            }
            out.push((off & 0xff) as u8);
            if out.len() > max_out {
                return None;
            }
            // Index the positions inside the match so later data can refer
            // to them.
            let end = i + len;
            let mut j = i + 1;
            while j < end && j + MIN_MATCH <= input.len() {
                insert(&mut table, hash3(&input[j..], bits), j);
                j += 1;
            }
            i = end;
            lit_start = i;
        } else {
            i += 1;
        }
    }
    flush_literals(&mut out, &input[lit_start..]);
    (out.len() <= max_out).then_some(out)
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes.
/// `None` on a malformed stream (reference before the start, a chunk cut
/// short, too much or too little output).
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    if out_len > input.len().saturating_mul(MAX_EXPANSION) {
        return None;
    }
    let mut out = Vec::with_capacity(out_len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            let lit = input.get(i..i + n)?;
            if out.len() + n > out_len {
                return None;
            }
            out.extend_from_slice(lit);
            i += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i)? as usize;
                i += 1;
            }
            len += 2;
            let back = ((ctrl & 0x1f) << 8 | *input.get(i)? as usize) + 1;
            i += 1;
            if back > out.len() || out.len() + len > out_len {
                return None;
            }
            let start = out.len() - back;
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) {
        if let Some(c) = compress(data, data.len() * 2 + 16) {
            assert_eq!(decompress(&c, data.len()).as_deref(), Some(data));
        } else {
            assert!(data.is_empty());
        }
    }

    #[test]
    fn decodes_redis_output() {
        // 21 'a' as Redis 7.0 compresses it: a 2-byte literal, then one
        // 19-byte reference one byte back.
        let c = [0x01, b'a', b'a', 0xe0, 0x0a, 0x00];
        assert_eq!(decompress(&c, 21).unwrap(), vec![b'a'; 21]);
        // ("ab" x 40)
        let c = [0x02, b'a', b'b', b'a', 0xe0, 0x42, 0x01, 0x01, b'a', b'b'];
        assert_eq!(decompress(&c, 80).unwrap(), b"ab".repeat(40));
    }

    #[test]
    fn round_trips() {
        round_trip(b"");
        round_trip(b"a");
        round_trip(b"abc");
        round_trip(&[7u8; 10_000]);
        round_trip(&b"hello world, hello world, hello there".repeat(50));
        let mut x: u32 = 12345;
        let noise: Vec<u8> = (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % 7) as u8 + b'a'
            })
            .collect();
        round_trip(&noise);
    }

    #[test]
    fn compresses_runs() {
        let c = compress(&[b'a'; 21], 17).unwrap();
        assert!(c.len() <= 6, "{c:?}");
        assert!(compress(b"abcdefghijklmnopqrstuvwxyz", 22).is_none());
    }

    #[test]
    fn rejects_malformed() {
        assert!(decompress(&[0x20, 0x00], 3).is_none()); // reference into nothing
        assert!(decompress(&[0x03, b'a'], 4).is_none()); // literal cut short
        assert!(decompress(&[0x00, b'a'], 2).is_none()); // too little output
        assert!(decompress(&[0x01, b'a', b'b'], 1).is_none()); // too much output
        assert!(decompress(&[0x00, b'a', 0xe0], 100).is_none()); // reference cut short
        assert!(decompress(&[0x00], 1 << 40).is_none()); // impossible length
    }
}
