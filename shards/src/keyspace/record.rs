//! The layout of a key's record in the arena.
//!
//! ```text
//!  0..4   prev     u32  LRU neighbour towards the most recently used end
//!  4..8   next     u32  LRU neighbour towards the least recently used end
//!  8..12  meta     u32  access clock, or LFU counter (22 bits, see `lfu`)
//!                       | db (4) | string encoding (2)
//!                       | KEY_EXT | VAL_OBJ | TTL | LIVE
//! [12..20 expire   u64  absolute unix ms       ] only with TTL
//! [20..24 vpos     u32  place in the TTL table ] only with TTL
//!         klen     varint
//!         key      klen bytes, or a u32 handle to the key (KEY_EXT)
//!         value    varint length and bytes, or a u32 handle to an object (VAL_OBJ)
//! ```
//!
//! A 10-byte key with a 100-byte value takes 12 + 1 + 10 + 1 + 100 = 124
//! bytes, its chunk exactly. Values that would make the record outgrow the
//! largest chunk, and every collection, live in the store's object table;
//! keys too long for a chunk live in its key table.

use crate::arena::MAX_CHUNK;

/// Bytes before the optional TTL fields.
pub const HDR: usize = 12;
/// Bytes the TTL fields add.
pub const TTL_BYTES: usize = 12;

pub const LRU_BITS: u32 = 22;
pub const LRU_MASK: u32 = (1 << LRU_BITS) - 1;
const DB_SHIFT: u32 = 22;
const ENC_SHIFT: u32 = 26;
pub const KEY_EXT: u32 = 1 << 28;
pub const VAL_OBJ: u32 = 1 << 29;
pub const TTL: u32 = 1 << 30;
pub const LIVE: u32 = 1 << 31;

/// Keys longer than this live in the key table, not in their record.
pub const KEY_INLINE_MAX: usize = 1024;

#[inline]
pub fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline]
pub fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[inline]
fn get_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Bytes of `v` as a LEB128 varint.
#[inline]
pub fn varint_len(v: usize) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

#[inline]
fn put_varint(b: &mut [u8], mut at: usize, mut v: usize) -> usize {
    while v >= 0x80 {
        b[at] = (v as u8) | 0x80;
        v >>= 7;
        at += 1;
    }
    b[at] = v as u8;
    at + 1
}

#[inline]
fn get_varint(b: &[u8], mut at: usize) -> (usize, usize) {
    let mut v = 0usize;
    let mut shift = 0;
    loop {
        let byte = b[at];
        v |= ((byte & 0x7f) as usize) << shift;
        at += 1;
        if byte < 0x80 {
            return (v, at);
        }
        shift += 7;
    }
}

/// The parts of a record, as offsets into its chunk.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub meta: u32,
    /// Where the key bytes (or the key handle) start.
    pub key_at: usize,
    pub klen: usize,
    /// Where the value bytes (or the object handle) start.
    pub val_at: usize,
    /// Length of an inline value (0 for an object).
    pub vlen: usize,
}

impl Layout {
    /// Parses the record in `chunk`.
    #[inline]
    pub fn of(chunk: &[u8]) -> Layout {
        let meta = get_u32(chunk, 8);
        let mut at = HDR;
        if meta & TTL != 0 {
            at += TTL_BYTES;
        }
        let (klen, key_at) = get_varint(chunk, at);
        let after_key = key_at + if meta & KEY_EXT != 0 { 4 } else { klen };
        let (vlen, val_at) = if meta & VAL_OBJ != 0 {
            (0, after_key)
        } else {
            get_varint(chunk, after_key)
        };
        Layout {
            meta,
            key_at,
            klen,
            val_at,
            vlen,
        }
    }
}

#[inline]
pub fn meta(chunk: &[u8]) -> u32 {
    get_u32(chunk, 8)
}

#[inline]
pub fn set_meta(chunk: &mut [u8], m: u32) {
    put_u32(chunk, 8, m);
}

#[inline]
pub fn prev(chunk: &[u8]) -> u32 {
    get_u32(chunk, 0)
}

#[inline]
pub fn next(chunk: &[u8]) -> u32 {
    get_u32(chunk, 4)
}

#[inline]
pub fn set_prev(chunk: &mut [u8], v: u32) {
    put_u32(chunk, 0, v);
}

#[inline]
pub fn set_next(chunk: &mut [u8], v: u32) {
    put_u32(chunk, 4, v);
}

/// The absolute expiry of a record with TTL.
#[inline]
pub fn expire_at(chunk: &[u8]) -> u64 {
    get_u64(chunk, HDR)
}

#[inline]
pub fn set_expire_at(chunk: &mut [u8], at: u64) {
    chunk[HDR..HDR + 8].copy_from_slice(&at.to_le_bytes());
}

#[inline]
pub fn vpos(chunk: &[u8]) -> u32 {
    get_u32(chunk, HDR + 8)
}

#[inline]
pub fn set_vpos(chunk: &mut [u8], v: u32) {
    put_u32(chunk, HDR + 8, v);
}

#[inline]
pub fn db_of(meta: u32) -> usize {
    ((meta >> DB_SHIFT) & 0xf) as usize
}

#[inline]
pub fn with_db(meta: u32, db: usize) -> u32 {
    (meta & !(0xf << DB_SHIFT)) | ((db as u32) << DB_SHIFT)
}

#[inline]
pub fn enc_of(meta: u32) -> u8 {
    ((meta >> ENC_SHIFT) & 0x3) as u8
}

#[inline]
pub fn with_enc(meta: u32, enc: u8) -> u32 {
    (meta & !(0x3 << ENC_SHIFT)) | ((enc as u32 & 0x3) << ENC_SHIFT)
}

#[inline]
pub fn with_clock(meta: u32, clock: u32) -> u32 {
    (meta & !LRU_MASK) | (clock & LRU_MASK)
}

/// The key part of a new record.
#[derive(Clone, Copy)]
pub enum KeyPart<'a> {
    Inline(&'a [u8]),
    /// A handle into the key table, and the key's length.
    Ext(u32, usize),
}

/// The value part of a new record.
#[derive(Clone, Copy)]
pub enum ValPart<'a> {
    Inline(&'a [u8]),
    /// A handle into the object table.
    Obj(u32),
}

/// Bytes a record with these parts takes.
pub fn size(ttl: bool, klen: usize, key_inline: bool, val: Option<usize>) -> usize {
    HDR + if ttl { TTL_BYTES } else { 0 }
        + varint_len(klen)
        + if key_inline { klen } else { 4 }
        + match val {
            Some(vlen) => varint_len(vlen) + vlen,
            None => 4,
        }
}

/// True when a record of a key of `klen` bytes kept inline and an inline
/// value of `vlen` bytes fits in a chunk (with room for TTL fields).
pub fn fits_inline(klen: usize, vlen: usize) -> bool {
    klen <= KEY_INLINE_MAX && size(true, klen, true, Some(vlen)) <= MAX_CHUNK
}

/// Writes a record into `chunk` (links are left to the caller). `ttl` is
/// the expiry and TTL-table slot when the key has one.
pub fn write(chunk: &mut [u8], meta: u32, ttl: Option<(u64, u32)>, key: KeyPart, val: ValPart) {
    let mut m = meta & !(KEY_EXT | VAL_OBJ | TTL);
    m |= LIVE;
    let mut at = HDR;
    if let Some((exp, vp)) = ttl {
        m |= TTL;
        set_expire_at(chunk, exp);
        set_vpos(chunk, vp);
        at += TTL_BYTES;
    }
    match key {
        KeyPart::Inline(k) => {
            at = put_varint(chunk, at, k.len());
            chunk[at..at + k.len()].copy_from_slice(k);
            at += k.len();
        }
        KeyPart::Ext(h, klen) => {
            m |= KEY_EXT;
            at = put_varint(chunk, at, klen);
            put_u32(chunk, at, h);
            at += 4;
        }
    }
    match val {
        ValPart::Inline(v) => {
            at = put_varint(chunk, at, v.len());
            chunk[at..at + v.len()].copy_from_slice(v);
        }
        ValPart::Obj(h) => {
            m |= VAL_OBJ;
            put_u32(chunk, at, h);
        }
    }
    set_meta(chunk, m);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trips() {
        let mut chunk = vec![0u8; 2048];
        for (ttl, key, val) in [
            (None, &b"k"[..], &b""[..]),
            (Some((123_456_789u64, 7u32)), b"key:0001", &[b'v'; 300][..]),
            (None, &[b'x'; 200][..], &[b'y'; 1500][..]),
        ] {
            let m = with_enc(with_db(with_clock(0, 12345), 9), 2);
            write(
                &mut chunk,
                m,
                ttl,
                KeyPart::Inline(key),
                ValPart::Inline(val),
            );
            let l = Layout::of(&chunk);
            assert_eq!(&chunk[l.key_at..l.key_at + l.klen], key);
            assert_eq!(&chunk[l.val_at..l.val_at + l.vlen], val);
            assert_eq!(db_of(l.meta), 9);
            assert_eq!(enc_of(l.meta), 2);
            assert_eq!(l.meta & LRU_MASK, 12345);
            assert_eq!(l.meta & TTL != 0, ttl.is_some());
            if let Some((e, v)) = ttl {
                assert_eq!((expire_at(&chunk), vpos(&chunk)), (e, v));
            }
            assert_eq!(
                l.val_at + l.vlen,
                size(ttl.is_some(), key.len(), true, Some(val.len()))
            );
        }
        write(
            &mut chunk,
            0,
            None,
            KeyPart::Ext(42, 5000),
            ValPart::Obj(77),
        );
        let l = Layout::of(&chunk);
        assert_eq!(l.klen, 5000);
        assert_eq!(get_u32(&chunk, l.key_at), 42);
        assert_eq!(get_u32(&chunk, l.val_at), 77);
        assert_eq!(l.meta & (KEY_EXT | VAL_OBJ), KEY_EXT | VAL_OBJ);
        // The benchmark's shape fills a 124-byte chunk exactly.
        assert_eq!(size(false, 10, true, Some(100)), 124);
    }
}
