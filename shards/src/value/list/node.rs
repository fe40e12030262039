//! One quicklist node: a contiguous buffer of length-prefixed elements.
//!
//! ```text
//!   count: u16 LE | fill: i16 LE | entry | entry | ...
//!   entry = len (varint) | bytes | len (varint, reversed)
//! ```
//!
//! The length follows the element too (Redis's listpack "backlen"), so the
//! node is walked from either end: an element under 128 bytes costs its
//! bytes and two. Every node carries the list's fill (its
//! `list-max-listpack-size` at creation), so a one-node list needs nothing
//! beside its buffer.

/// Bytes before the first entry.
pub(crate) const HEADER: usize = 4;

/// Node size limits for negative fills (-1 .. -5), as Redis's
/// `optimization_level`.
const LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// The size limit of nodes under a positive fill (Redis's `SIZE_SAFETY_LIMIT`).
const SAFETY_LIMIT: usize = 8192;

/// Redis's clamp of `list-max-listpack-size` (`quicklistSetFill`): -5 at
/// least; positive counts above what fits the safety limit act the same.
pub(crate) fn clamp_fill(fill: i64) -> i16 {
    fill.clamp(-5, i16::MAX as i64) as i16
}

/// A node holding no element.
pub(crate) fn empty(fill: i16) -> Vec<u8> {
    let mut b = Vec::with_capacity(alloc_fit(HEADER));
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&fill.to_le_bytes());
    b
}

#[inline]
pub(crate) fn count(b: &[u8]) -> usize {
    u16::from_le_bytes([b[0], b[1]]) as usize
}

#[inline]
pub(crate) fn set_count(b: &mut [u8], n: usize) {
    debug_assert!(n <= u16::MAX as usize);
    b[..2].copy_from_slice(&(n as u16).to_le_bytes());
}

#[inline]
pub(crate) fn fill(b: &[u8]) -> i16 {
    i16::from_le_bytes([b[2], b[3]])
}

/// Bytes of the varint for `n`.
#[inline]
fn varint_len(mut n: usize) -> usize {
    let mut k = 1;
    while n >= 0x80 {
        n >>= 7;
        k += 1;
    }
    k
}

/// Bytes an element of `len` bytes takes in a node.
#[inline]
pub(crate) fn entry_size(len: usize) -> usize {
    len + 2 * varint_len(len)
}

/// Writes the entry for `elem` at the start of `out` (exactly
/// `entry_size(elem.len())` bytes).
fn encode(out: &mut [u8], elem: &[u8]) {
    let k = varint_len(elem.len());
    let mut n = elem.len();
    for i in 0..k {
        let more = if i + 1 < k { 0x80 } else { 0 };
        let byte = (n & 0x7f) as u8 | more;
        out[i] = byte;
        // The trailing copy reads backwards: its last byte is the first.
        out[k + elem.len() + (k - 1 - i)] = byte;
        n >>= 7;
    }
    out[k..k + elem.len()].copy_from_slice(elem);
}

/// The element at `off`: (start of its bytes, its length, offset of the next entry).
#[inline]
pub(crate) fn entry_at(b: &[u8], off: usize) -> (usize, usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut at = off;
    loop {
        let byte = b[at];
        at += 1;
        n |= ((byte & 0x7f) as usize) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            break;
        }
    }
    let k = at - off;
    (at, n, at + n + k)
}

/// The element that ends at `end`: (its entry's offset, start of its bytes, its length).
#[inline]
pub(crate) fn entry_before(b: &[u8], end: usize) -> (usize, usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut at = end;
    loop {
        at -= 1;
        let byte = b[at];
        n |= ((byte & 0x7f) as usize) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            break;
        }
    }
    let k = end - at;
    let start = at - n;
    (start - k, start, n)
}

/// The bytes of the element at `off`.
#[inline]
pub(crate) fn elem_at(b: &[u8], off: usize) -> &[u8] {
    let (s, n, _) = entry_at(b, off);
    &b[s..s + n]
}

/// The offset of element `idx` (`idx <= count`; `count` gives the end),
/// walking from the nearer end.
pub(crate) fn offset_of(b: &[u8], idx: usize) -> usize {
    let c = count(b);
    if idx <= c / 2 {
        let mut off = HEADER;
        for _ in 0..idx {
            off = entry_at(b, off).2;
        }
        off
    } else {
        let mut off = b.len();
        for _ in idx..c {
            off = entry_before(b, off).0;
        }
        off
    }
}

/// Whether a node may take `add` more bytes in one more element under
/// `fill` (Redis's `_quicklistNodeAllowInsert`; a node with no element
/// takes anything).
pub(crate) fn allows(b: &[u8], fill: i16, add: usize) -> bool {
    let c = count(b);
    if c == 0 {
        return true;
    }
    fits(fill, b.len() + add, c + 1)
}

/// Whether a node of `size` bytes holding `n` elements respects `fill`.
pub(crate) fn fits(fill: i16, size: usize, n: usize) -> bool {
    if n > u16::MAX as usize {
        return false;
    }
    size <= size_limit(fill) && (fill < 0 || n <= fill as usize)
}

/// The capacity that uses all of what glibc hands out for at least `n` bytes.
pub(crate) fn alloc_fit(n: usize) -> usize {
    crate::alloc_size(n).saturating_sub(8).max(n)
}

/// The byte size a node under `fill` may reach.
fn size_limit(fill: i16) -> usize {
    if fill < 0 {
        LEVELS[((-(fill as i32)) as usize - 1).min(LEVELS.len() - 1)]
    } else {
        SAFETY_LIMIT
    }
}

/// Makes room for `extra` more bytes, growing by an eighth at least (so
/// appends stay amortized O(1)) but not past the node's size limit (so a
/// full node holds little spare room).
pub(crate) fn reserve(b: &mut Vec<u8>, extra: usize) {
    let need = b.len() + extra;
    if need > b.capacity() {
        let grown = b.capacity() + (b.capacity() / 8).max(16);
        let want = alloc_fit(need.max(grown.min(size_limit(fill(b)))));
        b.reserve_exact(want - b.len());
    }
}

/// Gives back spare room once less than half the buffer is used.
pub(crate) fn maybe_shrink(b: &mut Vec<u8>) {
    if b.capacity() > 64 && b.len() < b.capacity() / 2 {
        b.shrink_to(alloc_fit(b.len() + b.len() / 4));
    }
}

/// Inserts `elem` at offset `off` (an entry boundary).
pub(crate) fn insert(b: &mut Vec<u8>, off: usize, elem: &[u8]) {
    let n = entry_size(elem.len());
    reserve(b, n);
    let old = b.len();
    b.resize(old + n, 0);
    b.copy_within(off..old, off + n);
    encode(&mut b[off..off + n], elem);
    let c = count(b);
    set_count(b, c + 1);
}

/// Removes the `n` entries between offsets `from` and `to`.
pub(crate) fn remove(b: &mut Vec<u8>, from: usize, to: usize, n: usize) {
    b.copy_within(to.., from);
    b.truncate(b.len() - (to - from));
    let c = count(b);
    set_count(b, c - n);
    maybe_shrink(b);
}

/// Replaces the entry at `off` by `elem`.
pub(crate) fn replace(b: &mut Vec<u8>, off: usize, elem: &[u8]) {
    let (_, _, end) = entry_at(b, off);
    let n = entry_size(elem.len());
    let old = end - off;
    if n > old {
        reserve(b, n - old);
        let len = b.len();
        b.resize(len + n - old, 0);
        b.copy_within(end..len, off + n);
    } else if n < old {
        b.copy_within(end.., off + n);
        b.truncate(b.len() - (old - n));
    }
    encode(&mut b[off..off + n], elem);
    if n < old {
        maybe_shrink(b);
    }
}

/// Appends the entries of `other` (a node) to `b`.
pub(crate) fn append_node(b: &mut Vec<u8>, other: &[u8]) {
    reserve(b, other.len() - HEADER);
    b.extend_from_slice(&other[HEADER..]);
    let c = count(b) + count(other);
    set_count(b, c);
}

/// Splits `b` before element `idx`: `b` keeps the elements before, the
/// returned node holds the rest.
pub(crate) fn split_off(b: &mut Vec<u8>, idx: usize) -> Vec<u8> {
    let off = offset_of(b, idx);
    let c = count(b);
    let mut right = Vec::with_capacity(alloc_fit(HEADER + b.len() - off));
    right.extend_from_slice(&b[..HEADER]);
    right.extend_from_slice(&b[off..]);
    set_count(&mut right, c - idx);
    b.truncate(off);
    set_count(b, idx);
    maybe_shrink(b);
    right
}

/// A node holding `elem` alone.
pub(crate) fn single(fill: i16, elem: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(alloc_fit(HEADER + entry_size(elem.len())));
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&fill.to_le_bytes());
    insert(&mut b, HEADER, elem);
    b
}

/// Drops every entry for which `drop(index, bytes)` holds, in one pass;
/// returns how many went.
pub(crate) fn retain(b: &mut Vec<u8>, mut drop: impl FnMut(usize, &[u8]) -> bool) -> usize {
    let c = count(b);
    let mut read = HEADER;
    let mut write = HEADER;
    let mut gone = 0;
    for i in 0..c {
        let (s, n, next) = entry_at(b, read);
        if drop(i, &b[s..s + n]) {
            gone += 1;
        } else {
            if write != read {
                b.copy_within(read..next, write);
            }
            write += next - read;
        }
        read = next;
    }
    if gone > 0 {
        b.truncate(write);
        set_count(b, c - gone);
        maybe_shrink(b);
    }
    gone
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_walk_both_ways_at_every_length_class() {
        let lens = [0usize, 1, 127, 128, 300, 16383, 16384, 70000];
        let mut b = empty(-2);
        for (i, &n) in lens.iter().enumerate() {
            let e = vec![i as u8; n];
            let end = b.len();
            insert(&mut b, end, &e);
        }
        assert_eq!(count(&b), lens.len());
        let mut off = HEADER;
        for (i, &n) in lens.iter().enumerate() {
            let (s, len, next) = entry_at(&b, off);
            assert_eq!(len, n);
            assert!(b[s..s + len].iter().all(|&x| x == i as u8));
            assert_eq!(offset_of(&b, i), off);
            off = next;
        }
        assert_eq!(off, b.len());
        let mut end = b.len();
        for &n in lens.iter().rev() {
            let (o, _, len) = entry_before(&b, end);
            assert_eq!(len, n);
            end = o;
        }
        assert_eq!(end, HEADER);
    }

    #[test]
    fn replace_split_retain() {
        let mut b = empty(-2);
        for i in 0..10u8 {
            let end = b.len();
            insert(&mut b, end, &[i; 3]);
        }
        let off = offset_of(&b, 4);
        replace(&mut b, off, &[9; 200]);
        let off = offset_of(&b, 5);
        replace(&mut b, off, b"");
        let right = split_off(&mut b, 6);
        assert_eq!(count(&b), 6);
        assert_eq!(count(&right), 4);
        assert_eq!(elem_at(&b, offset_of(&b, 4)), &[9; 200][..]);
        assert_eq!(elem_at(&b, offset_of(&b, 5)), b"");
        assert_eq!(elem_at(&right, HEADER), &[6; 3][..]);
        let mut all = b.clone();
        append_node(&mut all, &right);
        assert_eq!(count(&all), 10);
        assert_eq!(retain(&mut all, |i, _| i % 2 == 0), 5);
        assert_eq!(count(&all), 5);
        assert_eq!(elem_at(&all, offset_of(&all, 4)), &[9; 3][..]);
    }
}
