//! The members of a large sorted set with their scores, in one buffer.
//!
//! A record is `score (f64 LE) | member length (varint) | member`, padded
//! to 4 bytes and named by a `u32` position (its offset / 4), which the
//! tree and the member index store instead of pointers. So a member costs
//! its bytes, 9 to 12 more, and no allocator header.
//!
//! A freed record goes on a free list of its size (up to 256 bytes) and
//! is reused by the next record of that size, so churn over similar
//! members does not grow the buffer. Whatever else is freed is counted as
//! dead; once dead bytes outweigh live ones the owner rebuilds (which
//! copies the live records into a fresh buffer and renumbers them).
//!
//! The shard's `Arena` would also give `u32` positions, but it takes a
//! 16 KiB page per size class in use, far more than a set of a few
//! hundred members holds.

/// Bytes per position step.
const UNIT: usize = 4;
/// Records of up to this many units are reused by size.
const CLASSES: usize = 64;
const NONE: u32 = u32::MAX;

pub(super) struct Members {
    buf: Vec<u8>,
    /// Head of the free list of each record size (in units).
    free: Vec<u32>,
    live: usize,
    dead: usize,
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

/// Units of the record of a member of `len` bytes.
#[inline]
fn units(len: usize) -> usize {
    (8 + varint_len(len) + len).div_ceil(UNIT)
}

impl Members {
    /// Room for about `bytes` of records.
    pub(super) fn with_capacity(bytes: usize) -> Self {
        Members {
            buf: Vec::with_capacity(super::alloc_fit(bytes)),
            free: Vec::new(),
            live: 0,
            dead: 0,
        }
    }

    /// Bytes of a record for a member of `len` bytes.
    pub(super) fn record_size(len: usize) -> usize {
        units(len) * UNIT
    }

    /// Bytes held from the allocator.
    pub(super) fn heap_bytes(&self) -> usize {
        crate::alloc_size(self.buf.capacity()) + crate::alloc_size(self.free.capacity() * 4)
    }

    /// Bytes of live records.
    pub(super) fn live(&self) -> usize {
        self.live
    }

    /// Bytes of freed records.
    pub(super) fn dead(&self) -> usize {
        self.dead
    }

    /// Stores a record; returns its position.
    pub(super) fn alloc(&mut self, member: &[u8], score: f64) -> u32 {
        let u = units(member.len());
        let pos = match self.free.get(u) {
            Some(&p) if p != NONE => {
                let at = p as usize * UNIT;
                self.free[u] = u32::from_le_bytes([
                    self.buf[at],
                    self.buf[at + 1],
                    self.buf[at + 2],
                    self.buf[at + 3],
                ]);
                self.dead -= u * UNIT;
                p
            }
            _ => {
                let at = self.buf.len();
                let pos = u32::try_from(at / UNIT)
                    .ok()
                    .filter(|&p| p != NONE)
                    .expect("a sorted set's members exceed 16 GiB");
                let need = u * UNIT;
                if at + need > self.buf.capacity() {
                    let grow = need.max(self.buf.capacity() / 4).max(256);
                    self.buf
                        .reserve_exact(super::alloc_fit(at + grow) - self.buf.len());
                }
                self.buf.resize(at + need, 0);
                pos
            }
        };
        let at = pos as usize * UNIT;
        self.buf[at..at + 8].copy_from_slice(&score.to_le_bytes());
        let mut len = member.len();
        let mut i = at + 8;
        loop {
            let more = len >= 0x80;
            self.buf[i] = (len & 0x7f) as u8 | if more { 0x80 } else { 0 };
            i += 1;
            len >>= 7;
            if !more {
                break;
            }
        }
        self.buf[i..i + member.len()].copy_from_slice(member);
        self.live += u * UNIT;
        pos
    }

    /// Frees the record at `pos`.
    pub(super) fn free(&mut self, pos: u32) {
        let u = units(self.member(pos).len());
        self.live -= u * UNIT;
        self.dead += u * UNIT;
        if u < CLASSES {
            if self.free.is_empty() {
                self.free = vec![NONE; CLASSES];
            }
            let at = pos as usize * UNIT;
            let next = self.free[u];
            self.buf[at..at + 4].copy_from_slice(&next.to_le_bytes());
            self.free[u] = pos;
        }
    }

    /// The member at `pos`.
    #[inline]
    pub(super) fn member(&self, pos: u32) -> &[u8] {
        let mut at = pos as usize * UNIT + 8;
        let mut n = 0usize;
        let mut shift = 0;
        loop {
            let byte = self.buf[at];
            at += 1;
            n |= ((byte & 0x7f) as usize) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        &self.buf[at..at + n]
    }

    /// The score at `pos`.
    #[inline]
    pub(super) fn score(&self, pos: u32) -> f64 {
        let at = pos as usize * UNIT;
        let mut x = [0u8; 8];
        x.copy_from_slice(&self.buf[at..at + 8]);
        f64::from_le_bytes(x)
    }

    /// Changes the score at `pos`.
    pub(super) fn set_score(&mut self, pos: u32, score: f64) {
        let at = pos as usize * UNIT;
        self.buf[at..at + 8].copy_from_slice(&score.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_reused_by_size() {
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
        assert_eq!(m.dead(), 16 + Members::record_size(300));
        let d = m.alloc(b"delta", 5.0);
        assert_eq!(d, a, "same size class reused");
        assert_eq!(m.member(c), b"gamma");
        let e = m.alloc(&[1u8; 300], 0.0);
        assert_ne!(e, b, "large records are not reused");
        assert_eq!(m.dead(), Members::record_size(300));
    }
}
