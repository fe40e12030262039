//! HyperLogLog ops (Redis's `hyperloglog.c`): PFADD, PFCOUNT, PFMERGE,
//! PFDEBUG, and the pieces of PFCOUNT / PFMERGE across shards.
//!
//! The value is a plain string in Redis's exact layout, so GET, SET, DUMP
//! and RESTORE move it between shardcache and Redis unchanged:
//!
//! ```text
//! +------+---+-----+----------+--------------------------------+
//! | HYLL | E | N/U | Cardin.  | registers ...                  |
//! +------+---+-----+----------+--------------------------------+
//!   4 B   1 B  3 B   8 B LE     dense: 16384 6-bit registers, LSB first
//!                               sparse: ZERO / XZERO / VAL opcodes
//! ```
//!
//! The cardinality cache is little-endian; the top bit of its last byte
//! says it is stale. A dense register `i` starts at bit `6 * i` and is
//! read low bits first, spilling into the next byte. The sparse opcodes
//! are run lengths: `00xxxxxx` (1..64 zeros), `01xxxxxx yyyyyyyy`
//! (1..16384 zeros), `1vvvvvxx` (1..4 registers of value 1..32). A sparse
//! value that would pass `hll-sparse-max-bytes`, or a register above 32,
//! turns it dense for good. Each element hashes with MurmurHash64A (seed
//! `0xadc83b19`): the low 14 bits pick the register, the run of zeros
//! above them (plus one) is the value it offers.
//!
//! Every change is logged as the whole new value (`SET key value PXAT`),
//! so a replay gives the same bytes whatever the settings are then.

use super::Cx;
use crate::aof::Record;
use crate::batch::{Arg, ArgList, Reply};
use crate::error::Error;
use crate::keyspace::{Expiry, Lookup, StrEncoding};
use crate::notify::STRING;
use crate::tape::TapeWriter;
use std::sync::Arc;

/// Header bytes: magic, encoding, three unused, the cached cardinality.
pub const HDR: usize = 16;
/// Register count (2^14).
pub const REGISTERS: usize = 1 << 14;
/// Bits of the hash that pick the register.
const P: u32 = 14;
/// Bits left for the run of zeros.
const Q: u32 = 64 - P;
/// A dense value's exact size.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * 6).div_ceil(8);
/// `hll-sparse-max-bytes`' default.
pub const SPARSE_MAX_BYTES: usize = 3000;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const REG_MAX: u8 = 63;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
/// 1 / (2 ln 2), the estimator's alpha for an infinite register count.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// Why an HLL op failed; the server words each as Redis does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HllError {
    /// A string that is not an HLL (`WRONGTYPE Key is not a valid
    /// HyperLogLog string value.`).
    NotHll,
    /// An HLL whose sparse opcodes do not cover the registers
    /// (`INVALIDOBJ Corrupted HLL object detected`).
    Corrupt,
    /// PFDEBUG of a missing key.
    NoKey,
    /// PFDEBUG DECODE of a dense value.
    NotSparse,
    /// PFDEBUG with an unknown subcommand (its name, up to a NUL).
    UnknownDebug(Arc<str>),
}

impl From<HllError> for Error {
    fn from(e: HllError) -> Error {
        Error::Hll(e)
    }
}

// ------------------------------------------------------------- encoding

/// MurmurHash64A as Redis ships it: 8-byte blocks read little-endian.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for b in &mut blocks {
        let mut k = u64::from_le_bytes(b.try_into().unwrap_or_default());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and the value it offers there
/// (Redis's `hllPatLen`): 1 + the zeros above the index bits, at most 51.
#[inline]
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash & ((1 << P) - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Dense register `i` of `regs` (bytes past the end read as zero, as the
/// last register reads Redis's string terminator).
#[inline]
fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = u32::from(regs[byte]);
    let b1 = u32::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & u32::from(REG_MAX)) as u8
}

/// The two bytes register `i` spans after it is set to `val`: (first
/// byte's offset, new first byte, new second byte or None past the end).
#[inline]
fn dense_bytes(regs: &[u8], i: usize, val: u8) -> (usize, u8, Option<u8>) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = u32::from(val);
    let m = u32::from(REG_MAX);
    let b0 = ((u32::from(regs[byte]) & !(m << fb)) | (v << fb)) as u8;
    let b1 = regs
        .get(byte + 1)
        .map(|&b| ((u32::from(b) & !(m >> (8 - fb))) | (v >> (8 - fb))) as u8);
    (byte, b0, b1)
}

#[inline]
fn dense_set(regs: &mut [u8], i: usize, val: u8) {
    let (at, b0, b1) = dense_bytes(regs, i, val);
    regs[at] = b0;
    if let Some(b1) = b1 {
        regs[at + 1] = b1;
    }
}

#[inline]
fn is_zero(b: u8) -> bool {
    b & 0xc0 == 0
}
#[inline]
fn is_xzero(b: u8) -> bool {
    b & 0xc0 == 0x40
}
#[inline]
fn is_val(b: u8) -> bool {
    b & 0x80 != 0
}
#[inline]
fn zero_len(b: u8) -> usize {
    usize::from(b & 0x3f) + 1
}
#[inline]
fn xzero_len(b: u8, next: u8) -> usize {
    ((usize::from(b & 0x3f) << 8) | usize::from(next)) + 1
}
#[inline]
fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}
#[inline]
fn val_len(b: u8) -> usize {
    usize::from(b & 3) + 1
}
/// The sparse opcode at `v[p]`: (registers it spans, their value, its
/// length in bytes). ZERO and XZERO runs hold 0; an XZERO cut short reads
/// its missing byte as 0.
#[inline]
fn sparse_op(v: &[u8], p: usize) -> (usize, u8, usize) {
    let b = v[p];
    if is_zero(b) {
        (zero_len(b), 0, 1)
    } else if is_xzero(b) {
        (xzero_len(b, v.get(p + 1).copied().unwrap_or(0)), 0, 2)
    } else {
        (val_len(b), val_value(b), 1)
    }
}

#[inline]
fn val_op(val: u8, len: usize) -> u8 {
    0x80 | ((val - 1) << 2) | (len as u8 - 1)
}

/// Writes a run of `len` zeros as one ZERO or XZERO opcode at `n`.
fn zeros_op(seq: &mut [u8; 5], n: &mut usize, len: usize) {
    if len > ZERO_MAX_LEN {
        let l = len - 1;
        seq[*n] = (l >> 8) as u8 | 0x40;
        seq[*n + 1] = (l & 0xff) as u8;
        *n += 2;
    } else {
        seq[*n] = (len - 1) as u8;
        *n += 1;
    }
}

/// True when `v` is an HLL Redis would accept (`isHLLObjectOrReply`):
/// the magic, a known encoding, and a dense one of the exact size.
pub fn is_hll(v: &[u8]) -> bool {
    v.len() >= HDR
        && &v[..4] == b"HYLL"
        && v[4] <= SPARSE
        && (v[4] != DENSE || v.len() == DENSE_SIZE)
}

/// Appends an empty sparse HLL (one XZERO over every register, cached
/// cardinality 0 and valid), as Redis's `createHLLObject`.
pub fn push_empty(out: &mut Vec<u8>) {
    out.extend_from_slice(b"HYLL");
    out.extend_from_slice(&[SPARSE, 0, 0, 0]);
    out.extend_from_slice(&[0; 8]);
    let l = REGISTERS - 1;
    out.extend_from_slice(&[(l >> 8) as u8 | 0x40, (l & 0xff) as u8]);
}

/// Marks the cached cardinality stale.
#[inline]
fn invalidate(v: &mut [u8]) {
    v[15] |= 0x80;
}

/// The cached cardinality, if it is valid.
fn cached(v: &[u8]) -> Option<u64> {
    (v[15] & 0x80 == 0).then(|| u64::from_le_bytes(v[8..16].try_into().unwrap_or_default()))
}

/// Turns the sparse HLL `buf[base..]` dense in place (Redis's
/// `hllSparseToDense`: the header kept, the registers written from the
/// opcodes). Err when the opcodes do not cover exactly every register;
/// the value is then left as it was.
pub fn to_dense(buf: &mut Vec<u8>, base: usize) -> Result<(), HllError> {
    if buf[base + 4] == DENSE {
        return Ok(());
    }
    let end = buf.len();
    buf.resize(end + DENSE_SIZE, 0);
    let (src, dst) = buf.split_at_mut(end);
    dst[..HDR].copy_from_slice(&src[base..base + HDR]);
    dst[4] = DENSE;
    let regs = &mut dst[HDR..];
    let mut idx = 0usize;
    let mut p = base + HDR;
    while p < end {
        let (run, v, oplen) = sparse_op(src, p);
        if is_val(src[p]) {
            if run + idx > REGISTERS {
                // Redis 7.0 fails here at once (a run past the end), even
                // where the registers counted so far make 16384.
                idx = 0;
                break;
            }
            for i in idx..idx + run {
                dense_set(regs, i, v);
            }
        }
        idx += run;
        p += oplen;
    }
    if idx != REGISTERS {
        buf.truncate(end);
        return Err(HllError::Corrupt);
    }
    buf.copy_within(end.., base);
    buf.truncate(base + DENSE_SIZE);
    Ok(())
}

/// Raises register `index` of the sparse HLL `buf[base..]` to `count`
/// (Redis's `hllSparseSet`): Ok(true) when it changed, Ok(false) when it
/// already held as much, Err for opcodes that do not reach the register.
/// The opcode holding the register is split in place, neighbouring VAL
/// runs of one value are joined, and the value turns dense when the
/// split would take it past `max_bytes` or `count` does not fit a VAL.
fn sparse_set(
    buf: &mut Vec<u8>,
    base: usize,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, HllError> {
    if count > VAL_MAX_VALUE {
        return promote(buf, base, index, count);
    }
    let sparse = base + HDR;
    let mut end = buf.len();
    let at = |buf: &Vec<u8>, i: usize| buf.get(i).copied().unwrap_or(0);
    let mut p = sparse;
    let mut first = 0usize;
    let mut prev = None;
    let mut span = 0usize;
    while p < end {
        let b = buf[p];
        let mut oplen = 1;
        if is_zero(b) {
            span = zero_len(b);
        } else if is_val(b) {
            span = val_len(b);
        } else {
            span = xzero_len(b, at(buf, p + 1));
            oplen = 2;
        }
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(HllError::Corrupt);
    }
    let b = buf[p];
    let oldlen = if is_xzero(b) { 2 } else { 1 };
    let next = (p + oldlen < end).then_some(p + oldlen);
    let (zero, xzero) = (is_zero(b), is_xzero(b));
    let runlen = if zero {
        zero_len(b)
    } else if xzero {
        xzero_len(b, at(buf, p + 1))
    } else {
        val_len(b)
    };
    let mut simple = false;
    if !zero && !xzero {
        if val_value(b) >= count {
            return Ok(false);
        }
        simple = runlen == 1;
    }
    if zero && runlen == 1 {
        simple = true;
    }
    if simple {
        buf[p] = val_op(count, 1);
    } else {
        // Split the opcode around the register: at worst XZERO-VAL-XZERO.
        let mut seq = [0u8; 5];
        let mut n = 0;
        let last = first + span - 1;
        if zero || xzero {
            if index != first {
                zeros_op(&mut seq, &mut n, index - first);
            }
            seq[n] = val_op(count, 1);
            n += 1;
            if index != last {
                zeros_op(&mut seq, &mut n, last - index);
            }
        } else {
            let cur = val_value(b);
            if index != first {
                seq[n] = val_op(cur, index - first);
                n += 1;
            }
            seq[n] = val_op(count, 1);
            n += 1;
            if index != last {
                seq[n] = val_op(cur, last - index);
                n += 1;
            }
        }
        let seqlen = n;
        let hll_len = end - base;
        if seqlen > oldlen && hll_len + seqlen - oldlen > max_bytes {
            return promote(buf, base, index, count);
        }
        if seqlen != oldlen {
            match next {
                Some(nx) if seqlen > oldlen => {
                    buf.resize(end + seqlen - oldlen, 0);
                    buf.copy_within(nx..end, nx + seqlen - oldlen);
                }
                Some(nx) => {
                    buf.copy_within(nx..end, nx - (oldlen - seqlen));
                    buf.truncate(end - (oldlen - seqlen));
                }
                None => buf.resize(end + seqlen - oldlen, 0),
            }
        }
        end = buf.len();
        // A truncated XZERO ending the value counts two bytes it does not
        // have: Redis then writes the sequence past the string's length,
        // and only what falls within it stays.
        let fits = seqlen.min(end - p);
        buf[p..p + fits].copy_from_slice(&seq[..fits]);
    }
    // Join adjacent VAL runs of one value, scanning up to five opcodes
    // from the one before the change (exactly as Redis, so the bytes
    // match).
    let mut p = prev.unwrap_or(sparse);
    let mut scan = 5;
    while p < end {
        if scan == 0 {
            break;
        }
        scan -= 1;
        let b = buf[p];
        if is_xzero(b) {
            p += 2;
            continue;
        } else if is_zero(b) {
            p += 1;
            continue;
        }
        if p + 1 < end && is_val(buf[p + 1]) {
            let (v1, v2) = (val_value(b), val_value(buf[p + 1]));
            let len = val_len(b) + val_len(buf[p + 1]);
            if v1 == v2 && len <= VAL_MAX_LEN {
                buf[p + 1] = val_op(v1, len);
                buf.remove(p);
                end -= 1;
                continue;
            }
        }
        p += 1;
    }
    invalidate(&mut buf[base..]);
    Ok(true)
}

/// Turns the value dense, then sets the register there (it always
/// changes: a promotion only happens for a register that needs raising).
fn promote(buf: &mut Vec<u8>, base: usize, index: usize, count: u8) -> Result<bool, HllError> {
    to_dense(buf, base)?;
    Ok(dense_raise(&mut buf[base + HDR..], index, count))
}

#[inline]
fn dense_raise(regs: &mut [u8], index: usize, count: u8) -> bool {
    if count > dense_get(regs, index) {
        dense_set(regs, index, count);
        true
    } else {
        false
    }
}

/// Raises `index` to `count` in the HLL `buf[base..]`, whatever its
/// encoding (Redis's `hllAdd` after hashing).
fn set_register(
    buf: &mut Vec<u8>,
    base: usize,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, HllError> {
    if buf[base + 4] == DENSE {
        Ok(dense_raise(&mut buf[base + HDR..], index, count))
    } else {
        sparse_set(buf, base, index, count, max_bytes)
    }
}

/// The value sparse register `index` holds, or None when the opcodes end
/// first (the write path then reports the corruption as Redis does).
fn sparse_get(v: &[u8], index: usize) -> Option<u8> {
    let mut p = HDR;
    let mut first = 0;
    while p < v.len() {
        let (span, value, oplen) = sparse_op(v, p);
        if index < first + span {
            return Some(value);
        }
        p += oplen;
        first += span;
    }
    None
}

/// Whether raising `index` to `count` would change the HLL `v`; None when
/// it cannot tell (corrupt sparse opcodes).
#[inline]
fn would_change(v: &[u8], index: usize, count: u8) -> Option<bool> {
    if v[4] == DENSE {
        Some(count > dense_get(&v[HDR..], index))
    } else if count > VAL_MAX_VALUE {
        Some(true)
    } else {
        sparse_get(v, index).map(|old| count > old)
    }
}

/// Folds the HLL `v` into `max` (one byte per register), as Redis's
/// `hllMerge`. Err when sparse opcodes do not cover every register.
pub fn merge_into(max: &mut [u8], v: &[u8]) -> Result<(), HllError> {
    if v[4] == DENSE {
        let regs = &v[HDR..];
        for (i, m) in max.iter_mut().enumerate().take(REGISTERS) {
            let r = dense_get(regs, i);
            if r > *m {
                *m = r;
            }
        }
        return Ok(());
    }
    let mut i = 0usize;
    let mut p = HDR;
    while p < v.len() {
        let (run, val, oplen) = sparse_op(v, p);
        if is_val(v[p]) {
            if run + i > REGISTERS {
                // As in Redis 7.0: a run past the end fails at once.
                return Err(HllError::Corrupt);
            }
            for m in &mut max[i..i + run] {
                if val > *m {
                    *m = val;
                }
            }
        }
        i += run;
        p += oplen;
    }
    if i != REGISTERS {
        return Err(HllError::Corrupt);
    }
    Ok(())
}

/// Redis's `hllSigma`.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

/// Redis's `hllTau`.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powf(2.0) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate from a register histogram (Ertl's improved
/// estimator, "New cardinality estimation algorithms for HyperLogLog
/// sketches", as Redis computes it, step for step so the result matches).
fn estimate(histo: &[i64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    let e = (ALPHA_INF * m * m / z).round();
    // Every register at 63 makes `z` zero and the estimate infinite; C's
    // `llroundl` then gives LLONG_MIN, which Redis casts to 2^63 and
    // caches (a cache whose "stale" bit is set) and replies as LLONG_MIN.
    if e.is_finite() && e.abs() < 9.2e18 {
        e as i64 as u64
    } else {
        1 << 63
    }
}

/// The cardinality of the HLL `v`; Err for sparse opcodes that do not
/// cover exactly every register.
pub fn count(v: &[u8]) -> Result<u64, HllError> {
    let mut histo = [0i64; 64];
    if v[4] == DENSE {
        let regs = &v[HDR..];
        for i in 0..REGISTERS {
            histo[usize::from(dense_get(regs, i))] += 1;
        }
    } else {
        let mut idx = 0i64;
        let mut p = HDR;
        while p < v.len() {
            let (run, val, oplen) = sparse_op(v, p);
            idx += run as i64;
            histo[usize::from(val)] += run as i64;
            p += oplen;
        }
        if idx != REGISTERS as i64 {
            return Err(HllError::Corrupt);
        }
    }
    Ok(estimate(&histo))
}

/// The cardinality of registers held one per byte (PFCOUNT's union).
pub fn count_raw(max: &[u8]) -> u64 {
    let mut histo = [0i64; 64];
    for &r in max {
        histo[usize::from(r & REG_MAX)] += 1;
    }
    estimate(&histo)
}

/// PFDEBUG DECODE's text: `z:N` / `Z:N` / `v:V,N` per opcode.
fn decode(v: &[u8], out: &mut Vec<u8>) {
    use std::io::Write;
    let mut p = HDR;
    while p < v.len() {
        let b = v[p];
        if !out.is_empty() {
            out.push(b' ');
        }
        let (run, val, oplen) = sparse_op(v, p);
        p += oplen;
        let _ = if is_zero(b) {
            write!(out, "z:{run}")
        } else if is_xzero(b) {
            write!(out, "Z:{run}")
        } else {
            write!(out, "v:{val},{run}")
        };
    }
}

/// PFSELFTEST: dense registers keep what is written without touching their
/// neighbours, and a sparse and a dense HLL fed the same elements agree,
/// stay sparse while small, and stay within six standard errors. Err holds
/// Redis's `TESTFAILED ...` text.
pub fn self_test(max_bytes: usize, elements: u64, seed: u64) -> Result<(), String> {
    let mut state = seed | 1;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut dense = Vec::new();
    push_empty(&mut dense);
    to_dense(&mut dense, 0).map_err(|_| "TESTFAILED conversion".to_string())?;
    let mut bytes = vec![0u8; REGISTERS];
    for _ in 0..100 {
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (rand() & u64::from(REG_MAX)) as u8;
            dense_set(&mut dense[HDR..], i, *b);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let got = dense_get(&dense[HDR..], i);
            if got != b {
                return Err(format!(
                    "TESTFAILED Register {i} should be {b} but is {got}"
                ));
            }
        }
    }
    dense[HDR..].fill(0);
    let mut sparse = Vec::new();
    push_empty(&mut sparse);
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint = 1u64;
    let salt = rand();
    for j in 1..=elements {
        let ele = (j ^ salt).to_le_bytes();
        let (index, c) = pat_len(&ele);
        dense_raise(&mut dense[HDR..], index, c);
        set_register(&mut sparse, 0, index, c, max_bytes)
            .map_err(|_| "TESTFAILED sparse corrupted".to_string())?;
        if j != checkpoint {
            continue;
        }
        if (j as usize) < max_bytes / 2 && sparse[4] != SPARSE {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let card = count(&dense).map_err(|_| "TESTFAILED dense count".to_string())?;
        if count(&sparse).ok() != Some(card) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = (checkpoint as i64 - card as i64).unsigned_abs();
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

// ------------------------------------------------------------------ ops

/// PFDEBUG's subcommands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugSub {
    /// GETREG: every register (a sparse value turns dense first).
    GetReg,
    /// DECODE: the sparse opcodes as text.
    Decode,
    /// ENCODING: `dense` or `sparse`.
    Encoding,
    /// TODENSE: turns a sparse value dense; 1 when it did.
    ToDense,
}

/// An HLL op.
#[derive(Clone, Debug)]
pub enum HllOp {
    /// PFADD key [element ...].
    Add {
        /// The key.
        key: Arg,
        /// The elements.
        elements: ArgList,
    },
    /// PFCOUNT of one key: the cached cardinality, or a fresh one cached.
    Count {
        /// The key.
        key: Arg,
    },
    /// PFCOUNT of several keys on this shard: the union's cardinality,
    /// nothing written.
    CountUnion {
        /// The keys.
        keys: ArgList,
    },
    /// PFMERGE with every key on this shard.
    Merge {
        /// The destination, also read as the first source.
        dest: Arg,
        /// The other sources.
        keys: ArgList,
    },
    /// A key's value for PFCOUNT / PFMERGE across shards: the bytes of a
    /// valid HLL, nil when absent, an error otherwise.
    Read {
        /// The key.
        key: Arg,
    },
    /// PFMERGE's last step across shards: `regs` (one byte per register,
    /// the union of every source) stored into `dest`.
    MergeStore {
        /// The destination.
        dest: Arg,
        /// 16384 register values.
        regs: Arg,
        /// Whether a source was dense (the result then is too).
        dense: bool,
    },
    /// PFDEBUG subcommand key; None for an unknown subcommand.
    Debug {
        /// The subcommand.
        sub: Option<DebugSub>,
        /// Its name as given, for the unknown-subcommand error.
        name: Arg,
        /// The key.
        key: Arg,
    },
}

impl HllOp {
    pub(super) fn is_write(&self) -> bool {
        // PFCOUNT of one key is a read to Redis (allowed while the AOF
        // cannot be written); it then leaves the cache alone.
        !matches!(
            self,
            HllOp::Count { .. } | HllOp::CountUnion { .. } | HllOp::Read { .. }
        )
    }

    pub(super) fn exec(&self, cx: &mut Cx) -> Reply {
        let r = match *self {
            HllOp::Add { key, elements } => add(cx, key, elements),
            HllOp::Count { key } => count_one(cx, key),
            HllOp::CountUnion { keys } => count_union(cx, keys),
            HllOp::Merge { dest, keys } => merge(cx, dest, keys),
            HllOp::Read { key } => read(cx, key),
            HllOp::MergeStore { dest, regs, dense } => {
                let regs = cx.args.get(regs);
                if regs.len() != REGISTERS {
                    Err(HllError::Corrupt.into())
                } else {
                    let regs: &[u8] = regs;
                    // The argument bytes live in the batch, not in the
                    // store: copy them out of `cx` before writing.
                    let mut max = [0u8; REGISTERS];
                    max.copy_from_slice(regs);
                    store_merged(cx, dest, &max, dense)
                }
            }
            HllOp::Debug { sub, name, key } => debug(cx, sub, name, key),
        };
        r.unwrap_or_else(Reply::Err)
    }
}

type R = Result<Reply, Error>;

/// Looks `key` up as a string that must be an HLL: None when absent,
/// WRONGTYPE for another type or a string that is not an HLL. Takes the
/// store alone, so the value can be copied into `cx.out`.
fn hll_in<'s>(
    store: &'s mut crate::keyspace::Store,
    db: usize,
    key: &[u8],
    now_ms: u64,
    how: Lookup,
) -> Result<Option<(&'s [u8], u64)>, Error> {
    match super::string::str_of(store, db, key, now_ms, how)? {
        None => Ok(None),
        Some((v, at)) if is_hll(v) => Ok(Some((v, at))),
        Some(_) => Err(HllError::NotHll.into()),
    }
}

/// `hll_in` for the op's store.
macro_rules! hll_of {
    ($cx:expr, $key:expr, $how:expr) => {
        hll_in($cx.store, $cx.db, $key, $cx.now_ms, $how)
    };
}

/// Stores `cx.out[from..]` as `key`'s value (a `raw` string, TTL kept),
/// logs it whole, and drops the scratch bytes.
fn store(cx: &mut Cx, key: &[u8], from: usize, pxat: u64) -> Result<(), Error> {
    let value = &cx.out[from..];
    let r = cx
        .store
        .set_encoded(cx.db, key, value, Expiry::Keep, cx.now_ms, StrEncoding::Raw);
    if r.is_ok() {
        cx.persist
            .log
            .put(cx.db as u8, &Record::Set { key, value, pxat });
    }
    cx.out.truncate(from);
    r.map_err(|_| Error::Oom)
}

/// PFADD, as Redis's `pfaddCommand`. The elements are first checked
/// against the stored value without copying it: when none raises a
/// register (the common case for a warm HLL) nothing is written. A dense
/// value is then changed in place, a byte at a time; a sparse one (or a
/// new key) is rebuilt in the payload buffer and stored whole. A corrupt
/// value answers INVALIDOBJ, keeping what the elements before changed, as
/// in Redis.
fn add(cx: &mut Cx, key: Arg, elements: ArgList) -> R {
    cx.make_room()?;
    let args = cx.args;
    let k = args.get(key);
    let max_bytes = cx.store.value_limits().hll_sparse_max_bytes;
    let (dense, pxat) = match hll_of!(cx, k, Lookup::WRITE)? {
        None => {
            let from = cx.out.len();
            push_empty(cx.out);
            for e in args.items(elements) {
                let (index, c) = pat_len(e);
                // A fresh value is never corrupt.
                let _ = set_register(cx.out, from, index, c, max_bytes);
            }
            invalidate(&mut cx.out[from..]);
            store(cx, k, from, 0)?;
            cx.notify(STRING, "pfadd", k);
            return Ok(Reply::Int(1));
        }
        Some((v, at)) => {
            let mut change = false;
            for e in args.items(elements) {
                let (index, c) = pat_len(e);
                if would_change(v, index, c) != Some(false) {
                    change = true;
                    break;
                }
            }
            if !change {
                return Ok(Reply::Int(0));
            }
            (v[4] == DENSE, at)
        }
    };
    if dense {
        for e in args.items(elements) {
            let (index, c) = pat_len(e);
            raise_in_place(cx, k, index, c)?;
        }
        let (v, _, _) = cx
            .store
            .value_for_update(cx.db, k, 16, cx.now_ms)
            .map_err(|_| Error::Oom)?;
        invalidate(v);
        cx.persist.log.put(
            cx.db as u8,
            &Record::Set {
                key: k,
                value: v,
                pxat,
            },
        );
        cx.notify(STRING, "pfadd", k);
        return Ok(Reply::Int(1));
    }
    let from = cx.out.len();
    match hll_of!(cx, k, Lookup::PEEK)? {
        Some((v, _)) => cx.out.extend_from_slice(v),
        None => return Ok(Reply::Int(0)),
    }
    let mut updated = false;
    let mut failed = false;
    for e in args.items(elements) {
        let (index, c) = pat_len(e);
        match set_register(cx.out, from, index, c, max_bytes) {
            Ok(ch) => updated |= ch,
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    if updated && !failed {
        invalidate(&mut cx.out[from..]);
    }
    if updated {
        store(cx, k, from, pxat)?;
    } else {
        cx.out.truncate(from);
    }
    if failed {
        return Err(HllError::Corrupt.into());
    }
    if updated {
        cx.notify(STRING, "pfadd", k);
    }
    Ok(Reply::Int(updated as i64))
}

/// Raises one register of the dense value of `k` in place, noting each
/// byte it changes (so a rolled-back group restores them).
fn raise_in_place(cx: &mut Cx, k: &[u8], index: usize, c: u8) -> Result<(), Error> {
    let (v, _, _) = cx
        .store
        .value_for_update(cx.db, k, HDR + 1, cx.now_ms)
        .map_err(|_| Error::Oom)?;
    let regs = &v[HDR..];
    if c <= dense_get(regs, index) {
        return Ok(());
    }
    let (at, b0, b1) = dense_bytes(regs, index, c);
    let (v, _, _) = cx
        .store
        .value_for_update(cx.db, k, HDR + at + 1, cx.now_ms)
        .map_err(|_| Error::Oom)?;
    v[HDR + at] = b0;
    if let Some(b1) = b1 {
        let (v, _, _) = cx
            .store
            .value_for_update(cx.db, k, HDR + at + 2, cx.now_ms)
            .map_err(|_| Error::Oom)?;
        v[HDR + at + 1] = b1;
    }
    Ok(())
}

/// PFCOUNT key: the cached cardinality, or one computed and cached (a
/// write of the value, logged, as Redis propagates it; no event). The
/// cache is written before the counted look-up: Redis remembers a key a
/// tracking client read only after the command ran, so the write tells
/// other readers (and none of this one's own read).
fn count_one(cx: &mut Cx, key: Arg) -> R {
    let k = cx.args.get(key);
    let stale = matches!(hll_of!(cx, k, Lookup::PEEK), Ok(Some((v, _))) if cached(v).is_none());
    if stale && cx.persist.log.refuse_writes.is_none() {
        let from = cx.out.len();
        if let Some((v, at)) = hll_of!(cx, k, Lookup::PEEK)? {
            // A corrupt value is left as it is: the look-up below answers.
            if let Ok(card) = count(v) {
                cx.out.extend_from_slice(v);
                cx.out[from + 8..from + 16].copy_from_slice(&card.to_le_bytes());
                store(cx, k, from, at)?;
            }
        }
    }
    Ok(match hll_of!(cx, k, Lookup::READ)? {
        None => Reply::Int(0),
        Some((v, _)) => match cached(v) {
            Some(card) => Reply::Int(card as i64),
            // Every register at 63 caches 2^63, whose stale bit is set.
            None => Reply::Int(count(v)? as i64),
        },
    })
}

/// PFCOUNT of several keys on this shard (read look-ups, in order; a
/// missing key is an empty HLL).
fn count_union(cx: &mut Cx, keys: ArgList) -> R {
    let args = cx.args;
    let mut max = [0u8; REGISTERS];
    for k in args.items(keys) {
        if let Some((v, _)) = hll_of!(cx, k, Lookup::READ)? {
            merge_into(&mut max, v)?;
        }
    }
    Ok(Reply::Int(count_raw(&max) as i64))
}

/// PFMERGE with every key here: the destination and the sources read in
/// order, then the union stored into the destination.
fn merge(cx: &mut Cx, dest: Arg, keys: ArgList) -> R {
    cx.make_room()?;
    let args = cx.args;
    let mut max = [0u8; REGISTERS];
    let mut dense = false;
    for k in std::iter::once(args.get(dest)).chain(args.items(keys)) {
        if let Some((v, _)) = hll_of!(cx, k, Lookup::READ)? {
            dense |= v[4] == DENSE;
            merge_into(&mut max, v)?;
        }
    }
    store_merged(cx, dest, &max, dense)
}

/// A key's bytes for a merge on the worker.
fn read(cx: &mut Cx, key: Arg) -> R {
    let k = cx.args.get(key);
    match hll_of!(cx, k, Lookup::READ)? {
        None => Ok(Reply::Nil),
        Some((v, _)) => Ok(super::bulk(cx.out, v)),
    }
}

/// Writes the union `max` into `dest` (created sparse when missing, made
/// dense first when a source was), as the end of Redis's `pfmergeCommand`;
/// fires `pfadd`, as Redis does for a merge.
fn store_merged(cx: &mut Cx, dest: Arg, max: &[u8; REGISTERS], dense: bool) -> R {
    cx.make_room()?;
    let k = cx.args.get(dest);
    let max_bytes = cx.store.value_limits().hll_sparse_max_bytes;
    let from = cx.out.len();
    let pxat = match hll_of!(cx, k, Lookup::WRITE)? {
        None => {
            push_empty(cx.out);
            0
        }
        Some((v, at)) => {
            cx.out.extend_from_slice(v);
            at
        }
    };
    if dense {
        if let Err(e) = to_dense(cx.out, from) {
            cx.out.truncate(from);
            return Err(e.into());
        }
    }
    for (i, &m) in max.iter().enumerate() {
        if m != 0 {
            // As in Redis, a corrupt destination is not reported here (its
            // registers were read, and checked, as the first source).
            let _ = set_register(cx.out, from, i, m, max_bytes);
        }
    }
    invalidate(&mut cx.out[from..]);
    store(cx, k, from, pxat)?;
    cx.notify(STRING, "pfadd", k);
    Ok(Reply::Ok)
}

/// PFDEBUG, as Redis's `pfdebugCommand`: the key must hold an HLL before
/// the subcommand is looked at.
fn debug(cx: &mut Cx, sub: Option<DebugSub>, name: Arg, key: Arg) -> R {
    let k = cx.args.get(key);
    let (sparse, pxat) = match hll_of!(cx, k, Lookup::WRITE)? {
        None => return Err(HllError::NoKey.into()),
        Some((v, at)) => (v[4] == SPARSE, at),
    };
    let Some(sub) = sub else {
        let n = cx.args.get(name);
        let n = n.split(|&b| b == 0).next().unwrap_or_default();
        return Err(HllError::UnknownDebug(String::from_utf8_lossy(n).into()).into());
    };
    match sub {
        DebugSub::GetReg | DebugSub::ToDense => {
            let converted = sparse && {
                let from = cx.out.len();
                match hll_of!(cx, k, Lookup::PEEK)? {
                    Some((v, _)) => cx.out.extend_from_slice(v),
                    None => return Err(HllError::NoKey.into()),
                }
                if let Err(e) = to_dense(cx.out, from) {
                    cx.out.truncate(from);
                    return Err(e.into());
                }
                store(cx, k, from, pxat)?;
                true
            };
            if sub == DebugSub::ToDense {
                return Ok(Reply::Int(converted as i64));
            }
            let v = hll_of!(cx, k, Lookup::PEEK)?.map_or(&[][..], |(v, _)| v);
            let mut regs = [0u8; REGISTERS];
            if v.len() == DENSE_SIZE {
                for (i, r) in regs.iter_mut().enumerate() {
                    *r = dense_get(&v[HDR..], i);
                }
            }
            let mut w = TapeWriter::new(cx.out);
            w.array(REGISTERS);
            for r in regs {
                w.int(i64::from(r));
            }
            Ok(w.finish())
        }
        DebugSub::Decode => {
            if !sparse {
                return Err(HllError::NotSparse.into());
            }
            let mut text = Vec::new();
            if let Some((v, _)) = hll_of!(cx, k, Lookup::PEEK)? {
                decode(v, &mut text);
            }
            Ok(cx.bulk(&text))
        }
        DebugSub::Encoding => Ok(Reply::Status(if sparse { "sparse" } else { "dense" })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> Vec<u8> {
        let mut v = Vec::new();
        push_empty(&mut v);
        v
    }

    #[test]
    fn murmur_matches_known_values() {
        // Element "a" lands where Redis 7.0.15 puts it: PFADD k a there
        // leaves `Z:12711 v:2,1 Z:3672`, stale cache.
        assert_eq!(pat_len(b"a"), (12711, 2));
        let mut v = empty();
        set_register(&mut v, 0, 12711, 2, SPARSE_MAX_BYTES).unwrap();
        assert_eq!(&v[HDR..], &[0x71, 0xa6, 0x84, 0x4e, 0x57]);
        assert_eq!(v[15], 0x80);
        assert_eq!(count(&v), Ok(1));
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut s = empty();
        let mut d = empty();
        to_dense(&mut d, 0).unwrap();
        for i in 0..5000u32 {
            let (idx, c) = pat_len(&i.to_le_bytes());
            set_register(&mut s, 0, idx, c, usize::MAX).unwrap();
            set_register(&mut d, 0, idx, c, usize::MAX).unwrap();
            if i % 97 == 0 {
                assert_eq!(count(&s).unwrap(), count(&d).unwrap());
            }
        }
        assert_eq!(s[4], SPARSE);
        let mut m1 = vec![0u8; REGISTERS];
        let mut m2 = vec![0u8; REGISTERS];
        merge_into(&mut m1, &s).unwrap();
        merge_into(&mut m2, &d).unwrap();
        assert_eq!(m1, m2);
        let mut s2 = s.clone();
        to_dense(&mut s2, 0).unwrap();
        assert_eq!(&s2[HDR..], &d[HDR..]);
    }

    #[test]
    fn promotion_at_max_bytes() {
        let mut s = empty();
        let mut i = 0u32;
        while s[4] == SPARSE {
            let (idx, c) = pat_len(&i.to_le_bytes());
            set_register(&mut s, 0, idx, c.min(32), 100).unwrap();
            assert!(s[4] == DENSE || s.len() <= 100);
            i += 1;
        }
        assert_eq!(s.len(), DENSE_SIZE);
    }

    #[test]
    fn corrupt_values_are_errors_not_panics() {
        let mut v = empty();
        v.truncate(HDR + 1);
        assert_eq!(count(&v), Err(HllError::Corrupt));
        let mut max = vec![0u8; REGISTERS];
        assert!(merge_into(&mut max, &v).is_err());
        for b in 0..=255u8 {
            let mut v = empty();
            v.push(b);
            v.push(b);
            let mut buf = v.clone();
            let _ = set_register(&mut buf, 0, 16383, 5, 3000);
            let _ = set_register(&mut buf, 0, 0, 40, 3000);
            let _ = count(&v);
            let mut out = Vec::new();
            decode(&v, &mut out);
        }
    }

    /// Random opcode bytes, with every op on them: replies or errors, no
    /// panic, and a sparse value never longer than the limit allows.
    #[test]
    fn random_sparse_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let mut v = empty();
            v.truncate(HDR);
            for _ in 0..next() % 24 {
                v.push(next() as u8);
            }
            let _ = count(&v);
            let mut max = vec![0u8; REGISTERS];
            let _ = merge_into(&mut max, &v);
            let mut out = Vec::new();
            decode(&v, &mut out);
            let mut d = v.clone();
            let _ = to_dense(&mut d, 0);
            let mut buf = b"prefix".to_vec();
            buf.extend_from_slice(&v);
            for _ in 0..8 {
                let index = (next() % REGISTERS as u64) as usize;
                let c = 1 + (next() % 51) as u8;
                if set_register(&mut buf, 6, index, c, 40).is_err() {
                    break;
                }
                assert!(buf[10] == DENSE || buf.len() - 6 <= 40.max(v.len() + 3));
            }
            assert_eq!(&buf[..6], b"prefix");
        }
    }

    #[test]
    fn self_test_passes() {
        self_test(SPARSE_MAX_BYTES, 100_000, 7).unwrap();
    }
}
