//! Redis's `intset`: distinct integers in ascending order, each stored in
//! the narrowest width (2, 4 or 8 bytes) that holds the widest of them.
//!
//! One allocation holds a width byte and the elements, little-endian; an
//! empty set allocates nothing. Look-ups are binary searches; an insert or
//! removal moves the elements after it and resizes the allocation by one
//! element, as Redis's `intsetAdd`/`intsetRemove` do.

use crate::alloc_size;

/// The sorted integers.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct IntSet {
    /// `[width, elements...]`; empty when the set is.
    buf: Box<[u8]>,
}

/// The narrowest width that holds `v`.
fn width_of(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

#[inline]
fn read(b: &[u8], w: usize) -> i64 {
    match w {
        2 => i16::from_le_bytes([b[0], b[1]]) as i64,
        4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
        _ => {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[..8]);
            i64::from_le_bytes(x)
        }
    }
}

#[inline]
fn write(b: &mut [u8], w: usize, v: i64) {
    b[..w].copy_from_slice(&v.to_le_bytes()[..w]);
}

impl IntSet {
    /// The set of `values`, which must be ascending and distinct.
    pub(crate) fn from_sorted(values: &[i64]) -> Self {
        if values.is_empty() {
            return IntSet::default();
        }
        let w = values.iter().map(|&v| width_of(v)).max().unwrap_or(2);
        let mut buf = vec![0u8; 1 + values.len() * w];
        buf[0] = w as u8;
        for (i, &v) in values.iter().enumerate() {
            write(&mut buf[1 + i * w..], w, v);
        }
        IntSet {
            buf: buf.into_boxed_slice(),
        }
    }

    #[inline]
    fn width(&self) -> usize {
        match self.buf.first() {
            Some(&w) => w as usize,
            None => 2,
        }
    }

    /// Elements held.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self.buf.len() {
            0 => 0,
            n => (n - 1) / self.width(),
        }
    }

    /// The element at rank `i` (`i < len`).
    #[inline]
    pub(crate) fn get(&self, i: usize) -> i64 {
        let w = self.width();
        read(&self.buf[1 + i * w..], w)
    }

    /// The rank of `v`, or where it would go.
    pub(crate) fn search(&self, v: i64) -> Result<usize, usize> {
        let n = self.len();
        if n == 0 {
            return Err(0);
        }
        // A value wider than the elements lies beyond all of them.
        if width_of(v) > self.width() {
            return Err(if v < 0 { 0 } else { n });
        }
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Whether `v` is an element.
    #[inline]
    pub(crate) fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    /// Adds `v`; false when it was there.
    pub(crate) fn insert(&mut self, v: i64) -> bool {
        let at = match self.search(v) {
            Ok(_) => return false,
            Err(at) => at,
        };
        let w = self.width();
        let n = self.len();
        if width_of(v) > w || self.buf.is_empty() {
            // Re-encode at the new width (Redis's upgrade).
            let mut all: Vec<i64> = self.iter().collect();
            all.insert(at, v);
            *self = IntSet::from_sorted(&all);
            return true;
        }
        let mut buf = std::mem::take(&mut self.buf).into_vec();
        buf.reserve_exact(w);
        buf.resize(1 + (n + 1) * w, 0);
        let off = 1 + at * w;
        buf.copy_within(off..1 + n * w, off + w);
        write(&mut buf[off..], w, v);
        self.buf = buf.into_boxed_slice();
        true
    }

    /// Removes the element at rank `i` (`i < len`).
    pub(crate) fn remove_at(&mut self, i: usize) {
        let w = self.width();
        let n = self.len();
        if n <= 1 {
            self.buf = Box::default();
            return;
        }
        let mut buf = std::mem::take(&mut self.buf).into_vec();
        let off = 1 + i * w;
        buf.copy_within(off + w.., off);
        buf.truncate(1 + (n - 1) * w);
        self.buf = buf.into_boxed_slice();
    }

    /// Removes `v`; false when it was not there.
    pub(crate) fn remove(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(i) => {
                self.remove_at(i);
                true
            }
            Err(_) => false,
        }
    }

    /// The elements in ascending order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = i64> + ExactSizeIterator + '_ {
        let w = self.width();
        let body = self.buf.get(1..).unwrap_or(&[]);
        body.chunks_exact(w).map(move |c| read(c, w))
    }

    /// What the allocator holds for the set.
    pub(crate) fn heap_bytes(&self) -> usize {
        alloc_size(self.buf.len())
    }

    /// The element width in bytes (for tests and introspection).
    #[cfg(test)]
    pub(crate) fn element_width(&self) -> usize {
        self.width()
    }
}

impl std::fmt::Debug for IntSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn matches_a_model_and_widens() {
        let mut s = IntSet::default();
        let mut model = BTreeSet::new();
        let mut x = 0x1234_5678_9abc_def0u64;
        for step in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mostly narrow values, some wide, at the width edges too.
            let v = match x % 10 {
                0 => (x >> 8) as i64,
                1 => ((x >> 8) as i32) as i64,
                2 => [
                    i16::MIN as i64,
                    i16::MAX as i64,
                    i32::MIN as i64,
                    i32::MAX as i64,
                    i64::MIN,
                    i64::MAX,
                ][(x >> 40) as usize % 6],
                _ => ((x >> 8) % 600) as i64 - 300,
            };
            if step % 3 == 2 {
                assert_eq!(s.remove(v), model.remove(&v));
            } else {
                assert_eq!(s.insert(v), model.insert(v));
            }
            assert_eq!(s.len(), model.len());
            if step % 1000 == 0 {
                assert!(s.iter().eq(model.iter().copied()));
                for &m in &model {
                    assert!(s.contains(m));
                }
                assert!(!s.contains(1_000_000_007) || model.contains(&1_000_000_007));
            }
        }
        assert!(s.iter().eq(model.iter().copied()));
        assert_eq!(s.element_width(), 8);
        assert_eq!(s.heap_bytes(), alloc_size(1 + 8 * model.len()));
    }

    #[test]
    fn width_grows_as_needed() {
        let mut s = IntSet::default();
        s.insert(5);
        s.insert(-3);
        assert_eq!(s.element_width(), 2);
        s.insert(70_000);
        assert_eq!(s.element_width(), 4);
        assert!(s.iter().eq([-3, 5, 70_000]));
        s.insert(-(1 << 40));
        assert_eq!(s.element_width(), 8);
        assert!(s.iter().eq([-(1 << 40), -3, 5, 70_000]));
        assert!(s.contains(70_000) && !s.contains(70_001));
        // A value wider than the elements is never found.
        let small = IntSet::from_sorted(&[1, 2, 3]);
        assert_eq!(small.search(1 << 20), Err(3));
        assert_eq!(small.search(-(1 << 20)), Err(0));
    }
}
