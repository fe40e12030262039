//! The members of a large sorted set with their scores, as records named
//! by `u32` positions, which the tree and the member index store instead
//! of pointers.
//!
//! A record is `score (f64 LE) | tagged length (varint) | member`, where
//! the tag (the low bit) says the member lives in an allocation of its own
//! and the record holds its handle instead. As with the table encoding of
//! hashes and sets (`value::table`), where records live depends on their
//! total size, so that a set of a few hundred members does not pay for
//! pages it cannot fill, and one of millions never stalls on a compaction:
//!
//! - **log**: up to `LOG_MAX` bytes of records back to back in one buffer,
//!   padded to 4 bytes and named by offset / 4. A freed record goes on a
//!   free list of its size (up to 256 bytes) for the next record of that
//!   size; the owner rebuilds the set (copying the live records into a
//!   fresh buffer) once freed bytes outweigh live ones, or when the buffer
//!   is full.
//! - **pages**: beyond that, one chunk of a private `Arena` per record
//!   (16 KiB pages of 4-byte size classes), so inserts and removals never
//!   move other records; a member too long for the largest chunk gets an
//!   allocation of its own. Below an eighth of `LOG_MAX` of live records
//!   the owner moves them back into a buffer, which also gives back the
//!   pages churn left sparse.
//!
//! Either way a member costs its bytes, 9 or 10 more rounded to 4, and no
//! allocator header.

use crate::alloc_size;
use crate::arena::{Arena, CLASSES as ARENA_CLASSES, MAX_CHUNK};
use crate::slab::Slab;
use std::mem::size_of;

/// Bytes of records kept in one buffer before they move to pages.
pub(super) const LOG_MAX: usize = 128 * 1024;
/// Live bytes below which paged records move back to a buffer.
pub(super) const LOG_BACK: usize = LOG_MAX / 8;

/// Bytes per position step in a buffer.
const UNIT: usize = 4;
/// Buffer records of up to this many units are reused by size.
const CLASSES: usize = 64;
const NONE: u32 = u32::MAX;

pub(super) enum Members {
    Log(Log),
    Pages(Box<Pages>),
}

pub(super) struct Log {
    buf: Vec<u8>,
    /// Head of the free list of each record size (in units).
    free: Vec<u32>,
    live: usize,
    dead: usize,
}

pub(super) struct Pages {
    arena: Arena,
    /// Members too long for a chunk.
    big: Slab<Box<[u8]>>,
    big_bytes: usize,
    live: usize,
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

#[inline]
fn put_varint(out: &mut [u8], mut n: usize) -> usize {
    let mut i = 0;
    loop {
        let more = n >= 0x80;
        out[i] = (n & 0x7f) as u8 | if more { 0x80 } else { 0 };
        i += 1;
        n >>= 7;
        if !more {
            return i;
        }
    }
}

#[inline]
fn get_varint(b: &[u8]) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut i = 0;
    loop {
        let byte = b[i];
        i += 1;
        n |= ((byte & 0x7f) as usize) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return (n, i);
        }
    }
}

/// Bytes of the record of a member of `len` bytes held inline.
#[inline]
fn inline_size(len: usize) -> usize {
    8 + varint_len(len << 1) + len
}

/// Bytes of a buffer record (padded to the unit).
#[inline]
fn log_size(len: usize) -> usize {
    inline_size(len).div_ceil(UNIT) * UNIT
}

/// Writes an inline record at the start of `out`.
#[inline]
fn write_inline(out: &mut [u8], member: &[u8], score: f64) {
    out[..8].copy_from_slice(&score.to_le_bytes());
    let k = put_varint(&mut out[8..], member.len() << 1);
    out[8 + k..8 + k + member.len()].copy_from_slice(member);
}

#[inline]
fn read_score(rec: &[u8]) -> f64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&rec[..8]);
    f64::from_le_bytes(x)
}

impl Members {
    /// Storage for about `bytes` of records: a buffer up to `LOG_MAX`, else pages.
    pub(super) fn with_capacity(bytes: usize) -> Self {
        if bytes > LOG_MAX {
            Members::Pages(Box::new(Pages {
                arena: Arena::new(),
                big: Slab::default(),
                big_bytes: 0,
                live: 0,
            }))
        } else {
            Members::Log(Log {
                buf: Vec::with_capacity(super::alloc_fit(bytes)),
                free: Vec::new(),
                live: 0,
                dead: 0,
            })
        }
    }

    /// Bytes a buffer record of a member of `len` bytes takes (the sizes
    /// that decide between buffer and pages).
    pub(super) fn record_size(len: usize) -> usize {
        log_size(len)
    }

    /// Bytes of live records.
    pub(super) fn live(&self) -> usize {
        match self {
            Members::Log(l) => l.live,
            Members::Pages(p) => p.live,
        }
    }

    #[cfg(test)]
    pub(super) fn paged(&self) -> bool {
        matches!(self, Members::Pages(_))
    }

    /// Whether the owner should rebuild before storing a member of `len`
    /// bytes: the buffer would pass `LOG_MAX` (the rebuild then compacts
    /// it, or moves to pages when the live records call for it).
    pub(super) fn full_for(&self, len: usize) -> bool {
        match self {
            Members::Log(l) => {
                let u = log_size(len) / UNIT;
                let reuse = l.free.get(u).is_some_and(|&p| p != NONE);
                !reuse && l.buf.len() + log_size(len) > LOG_MAX
            }
            Members::Pages(_) => false,
        }
    }

    /// Whether removals left the storage worth rebuilding: a buffer with
    /// more freed bytes than live ones, or pages holding little.
    pub(super) fn wants_rebuild(&self) -> bool {
        match self {
            Members::Log(l) => l.dead > l.live && l.dead >= 4096,
            Members::Pages(p) => p.live < LOG_BACK,
        }
    }

    /// Bytes held from the allocator.
    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            Members::Log(l) => alloc_size(l.buf.capacity()) + alloc_size(l.free.capacity() * 4),
            Members::Pages(p) => {
                alloc_size(size_of::<Pages>())
                    + p.arena.resident()
                    // The page table, the per-class lists and their entries.
                    + (p.arena.allocated() - p.arena.used())
                    + alloc_size(ARENA_CLASSES * size_of::<Vec<u32>>())
                    + p.arena.pages_in_use() * 4
                    + p.big.allocated()
                    + p.big_bytes
            }
        }
    }

    /// Allocations a drop frees.
    pub(super) fn free_effort(&self) -> usize {
        match self {
            Members::Log(_) => 2,
            Members::Pages(p) => 4 + p.arena.pages_in_use() + p.big.len(),
        }
    }

    /// Stores a record; returns its position.
    pub(super) fn alloc(&mut self, member: &[u8], score: f64) -> u32 {
        match self {
            Members::Log(l) => l.alloc(member, score),
            Members::Pages(p) => p.alloc(member, score),
        }
    }

    /// Frees the record at `pos`.
    pub(super) fn free(&mut self, pos: u32) {
        match self {
            Members::Log(l) => l.free(pos),
            Members::Pages(p) => p.free(pos),
        }
    }

    /// The record at `pos` (its start; it may run on).
    #[inline]
    fn record(&self, pos: u32) -> &[u8] {
        match self {
            Members::Log(l) => &l.buf[pos as usize * UNIT..],
            Members::Pages(p) => p.arena.chunk(pos),
        }
    }

    /// The member at `pos`.
    #[inline]
    pub(super) fn member(&self, pos: u32) -> &[u8] {
        let rec = self.record(pos);
        let (tagged, k) = get_varint(&rec[8..]);
        let at = 8 + k;
        if tagged & 1 == 0 {
            &rec[at..at + (tagged >> 1)]
        } else {
            let mut h = [0u8; 4];
            h.copy_from_slice(&rec[at..at + 4]);
            match self {
                Members::Pages(p) => p.big.get(u32::from_le_bytes(h)),
                Members::Log(_) => &[],
            }
        }
    }

    /// The score at `pos`.
    #[inline]
    pub(super) fn score(&self, pos: u32) -> f64 {
        read_score(self.record(pos))
    }

    /// Changes the score at `pos`.
    pub(super) fn set_score(&mut self, pos: u32, score: f64) {
        let rec = match self {
            Members::Log(l) => &mut l.buf[pos as usize * UNIT..],
            Members::Pages(p) => p.arena.chunk_mut(pos),
        };
        rec[..8].copy_from_slice(&score.to_le_bytes());
    }
}

impl Log {
    fn alloc(&mut self, member: &[u8], score: f64) -> u32 {
        let size = log_size(member.len());
        let u = size / UNIT;
        let pos = match self.free.get(u) {
            Some(&p) if p != NONE => {
                let at = p as usize * UNIT;
                let mut next = [0u8; 4];
                next.copy_from_slice(&self.buf[at..at + 4]);
                self.free[u] = u32::from_le_bytes(next);
                self.dead -= size;
                p
            }
            _ => {
                let at = self.buf.len();
                if at + size > self.buf.capacity() {
                    let grow = size.max(self.buf.capacity() / 4).max(256);
                    self.buf
                        .reserve_exact(super::alloc_fit(at + grow) - self.buf.len());
                }
                self.buf.resize(at + size, 0);
                // Offsets stay far below 16 GiB: the owner moves to pages
                // past `LOG_MAX`.
                (at / UNIT) as u32
            }
        };
        let at = pos as usize * UNIT;
        write_inline(&mut self.buf[at..at + size], member, score);
        self.live += size;
        pos
    }

    fn free(&mut self, pos: u32) {
        let at = pos as usize * UNIT;
        let (tagged, _) = get_varint(&self.buf[at + 8..]);
        let size = log_size(tagged >> 1);
        self.live -= size;
        self.dead += size;
        let u = size / UNIT;
        if u < CLASSES {
            if self.free.is_empty() {
                self.free = vec![NONE; CLASSES];
            }
            let next = self.free[u];
            self.buf[at..at + 4].copy_from_slice(&next.to_le_bytes());
            self.free[u] = pos;
        }
    }
}

impl Pages {
    fn chunk(&mut self, size: usize) -> u32 {
        // 2^22 pages of 16 KiB: running out means 64 GiB in one value,
        // which no allocator would have granted first.
        self.arena
            .alloc(size)
            .expect("a sorted set holds at most 64 GiB")
    }

    fn alloc(&mut self, member: &[u8], score: f64) -> u32 {
        let size = inline_size(member.len());
        if size <= MAX_CHUNK {
            let pos = self.chunk(size);
            write_inline(self.arena.chunk_mut(pos), member, score);
            self.live += size;
            return pos;
        }
        let h = self.big.insert(member.into());
        self.big_bytes += alloc_size(member.len());
        let size = 8 + varint_len((member.len() << 1) | 1) + 4;
        let pos = self.chunk(size);
        let c = self.arena.chunk_mut(pos);
        c[..8].copy_from_slice(&score.to_le_bytes());
        let k = put_varint(&mut c[8..], (member.len() << 1) | 1);
        c[8 + k..8 + k + 4].copy_from_slice(&h.to_le_bytes());
        self.live += size + member.len();
        pos
    }

    fn free(&mut self, pos: u32) {
        let c = self.arena.chunk(pos);
        let (tagged, k) = get_varint(&c[8..]);
        let len = tagged >> 1;
        if tagged & 1 == 1 {
            let mut h = [0u8; 4];
            h.copy_from_slice(&c[8 + k..8 + k + 4]);
            self.big.remove(u32::from_le_bytes(h));
            self.big_bytes -= alloc_size(len);
            self.live -= 8 + k + 4 + len;
        } else {
            self.live -= inline_size(len);
        }
        self.arena.free(pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_records_are_reused_by_size() {
        let mut m = Members::with_capacity(0);
        let a = m.alloc(b"alpha", 1.5);
        let b = m.alloc(&[7u8; 300], -2.0);
        let c = m.alloc(b"gamma", 3.0);
        assert_eq!(m.member(a), b"alpha");
        assert_eq!(m.member(b), &[7u8; 300][..]);
        assert_eq!(m.score(b), -2.0);
        m.set_score(c, 4.0);
        assert_eq!(m.score(c), 4.0);
        assert_eq!(m.live(), 16 + Members::record_size(300) + 16);
        m.free(a);
        m.free(b);
        let d = m.alloc(b"delta", 5.0);
        assert_eq!(d, a, "same size class reused");
        assert_eq!(m.member(c), b"gamma");
        let e = m.alloc(&[1u8; 300], 0.0);
        assert_ne!(e, b, "large records are not reused");
        assert!(!m.paged());
        assert!(!m.full_for(10));
        assert!(m.full_for(LOG_MAX));
    }

    #[test]
    fn paged_records_and_long_members() {
        let mut m = Members::with_capacity(LOG_MAX + 1);
        assert!(m.paged());
        let long = vec![9u8; 5000];
        let a = m.alloc(b"short", 1.0);
        let b = m.alloc(&long, 2.0);
        let c = m.alloc(b"", -0.0);
        assert_eq!(m.member(a), b"short");
        assert_eq!(m.member(b), &long[..]);
        assert_eq!(m.score(b), 2.0);
        assert_eq!(m.member(c), b"");
        assert_eq!(m.score(c).to_bits(), (-0.0f64).to_bits());
        let live = m.live();
        let heap = m.heap_bytes();
        assert!(heap > 16 * 1024 + 5000);
        m.free(b);
        assert_eq!(m.live(), live - (8 + 2 + 4 + 5000));
        assert!(m.heap_bytes() < heap - 4900);
        m.free(a);
        m.free(c);
        assert_eq!(m.live(), 0);
        assert!(m.wants_rebuild());
    }
}
