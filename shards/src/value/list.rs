//! Lists, as Redis 7.0's quicklist: a deque of compact nodes.
//!
//! Each node is one buffer of length-prefixed elements (see `node`), at
//! most `list-max-listpack-size` big (negative: -1 = 4 KB ... -5 = 64 KB;
//! positive: that many elements, within 8 KB), so a list of small elements
//! costs little more than its bytes, and push and pop at either end touch
//! one node. A list that fits one node (most lists) is that node's buffer
//! alone, held at its exact size as Redis reallocates a listpack (so the
//! value is 16 bytes and `Object` stays small); a longer one keeps its
//! nodes in a `VecDeque` with its length, the nodes with some spare room
//! (an eighth, within the node limit) so appends seldom reallocate.
//! Removals in the middle (LREM, LTRIM, LSET) merge neighbours that fit
//! one node again.
//!
//! Positions are found by skipping whole nodes by their counts from the
//! nearer end of the list, then walking the node from its nearer end
//! (elements carry their length on both sides). Like Redis, a node takes
//! one element of any size, so a huge element gets a node of its own.
//!
//! Redis 7.0 reports `quicklist` for every list, whatever its length.

mod node;

use node::HEADER;
use std::collections::VecDeque;

/// The end of a list (LEFT / RIGHT in LMOVE, L* / R* commands).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The head (index 0).
    Left,
    /// The tail (index -1).
    Right,
}

/// Redis's default `list-max-listpack-size` (8 KB nodes).
pub const DEFAULT_FILL: i64 = -2;

/// `list-max-listpack-size`: what a new list's nodes follow (negative: a
/// node size, -1 = 4 KB ... -5 = 64 KB; positive: elements per node).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListLimits {
    pub max_listpack_size: i64,
}

impl Default for ListLimits {
    fn default() -> Self {
        ListLimits {
            max_listpack_size: DEFAULT_FILL,
        }
    }
}

/// A list value.
pub struct ListValue {
    r: Repr,
}

enum Repr {
    /// One node (its buffer carries the count and the fill), exactly sized.
    One(Box<[u8]>),
    Many(Box<Many>),
}

struct Many {
    nodes: VecDeque<Vec<u8>>,
    len: usize,
    /// What the node buffers hold from the allocator.
    node_bytes: usize,
    fill: i16,
}

impl Default for ListValue {
    fn default() -> Self {
        ListValue::new(DEFAULT_FILL)
    }
}

/// The inclusive index range `start..=stop` of LRANGE, LTRIM, ZRANGE ...
/// normalized as Redis does (negative counts from the end, clamped), as a
/// half-open range; None when it selects nothing.
pub fn rank_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let n = len as i64;
    let mut s = if start < 0 {
        start.saturating_add(n)
    } else {
        start
    };
    let mut e = if stop < 0 {
        stop.saturating_add(n)
    } else {
        stop
    };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= n {
        return None;
    }
    if e >= n {
        e = n - 1;
    }
    Some((s as usize, e as usize + 1))
}

impl ListValue {
    /// An empty list whose nodes follow `fill` (`list-max-listpack-size`).
    pub fn new(fill: i64) -> Self {
        ListValue {
            r: Repr::One(node::empty(node::clamp_fill(fill)).into_boxed_slice()),
        }
    }

    /// A list of `items`, in order.
    pub fn from_items<I, T>(fill: i64, items: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut l = ListValue::new(fill);
        for it in items {
            l.push(Side::Right, it.as_ref());
        }
        l.shrink_to_fit();
        l
    }

    /// The elements, in order.
    pub fn to_items(&self) -> Vec<Vec<u8>> {
        self.iter().map(<[u8]>::to_vec).collect()
    }

    /// Redis 7.0's `OBJECT ENCODING` of a list.
    pub fn encoding_name(&self) -> &'static str {
        "quicklist"
    }

    /// Elements held.
    #[inline]
    pub fn len(&self) -> usize {
        match &self.r {
            Repr::One(b) => node::count(b),
            Repr::Many(m) => m.len,
        }
    }

    /// True when the list holds nothing (the caller then deletes the key).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held from the allocator (O(1)).
    pub fn heap_bytes(&self) -> usize {
        match &self.r {
            Repr::One(b) => crate::alloc_size(b.len()),
            Repr::Many(m) => {
                crate::alloc_size(std::mem::size_of::<Many>())
                    + crate::alloc_size(m.nodes.capacity() * std::mem::size_of::<Vec<u8>>())
                    + m.node_bytes
            }
        }
    }

    /// The fill the list's nodes follow.
    pub fn fill(&self) -> i64 {
        match &self.r {
            Repr::One(b) => node::fill(b) as i64,
            Repr::Many(m) => m.fill as i64,
        }
    }

    /// Allocations a drop of the list frees (Redis's free effort counts a
    /// quicklist's nodes): 1 for a one-node list, its nodes and two more
    /// otherwise.
    pub fn free_effort(&self) -> usize {
        match &self.r {
            Repr::One(_) => 1,
            Repr::Many(m) => m.nodes.len() + 2,
        }
    }

    /// Number of nodes (for tests and memory reports).
    pub fn node_count(&self) -> usize {
        match &self.r {
            Repr::One(_) => 1,
            Repr::Many(m) => m.nodes.len(),
        }
    }

    // ---- nodes -------------------------------------------------------

    #[inline]
    fn nodes(&self) -> usize {
        self.node_count()
    }

    #[inline]
    fn node(&self, i: usize) -> &[u8] {
        match &self.r {
            Repr::One(b) => b,
            Repr::Many(m) => &m.nodes[i],
        }
    }

    #[inline]
    fn fill_i16(&self) -> i16 {
        match &self.r {
            Repr::One(b) => node::fill(b),
            Repr::Many(m) => m.fill,
        }
    }

    /// Runs `f` on node `i`, keeping the length and byte counts right;
    /// `extra` is what `f` may add (a one-node list grows by exactly that,
    /// and goes back to its exact size after).
    fn with_node<R>(&mut self, i: usize, extra: usize, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        match &mut self.r {
            Repr::One(b) => {
                let mut v = Vec::from(std::mem::take(b));
                v.reserve_exact(extra);
                let r = f(&mut v);
                *b = v.into_boxed_slice();
                r
            }
            Repr::Many(m) => {
                let b = &mut m.nodes[i];
                let (c0, a0) = (node::count(b), crate::alloc_size(b.capacity()));
                let r = f(b);
                let (c1, a1) = (node::count(b), crate::alloc_size(b.capacity()));
                m.len = m.len + c1 - c0;
                m.node_bytes = m.node_bytes + a1 - a0;
                r
            }
        }
    }

    /// Inserts node `b` at position `i` (0..=nodes).
    fn insert_node(&mut self, i: usize, b: Vec<u8>) {
        if let Repr::One(only) = &mut self.r {
            let only = Vec::from(std::mem::take(only));
            let fill = node::fill(&only);
            let mut nodes = VecDeque::with_capacity(2);
            let (len, bytes) = (node::count(&only), crate::alloc_size(only.capacity()));
            nodes.push_back(only);
            self.r = Repr::Many(Box::new(Many {
                nodes,
                len,
                node_bytes: bytes,
                fill,
            }));
        }
        if let Repr::Many(m) = &mut self.r {
            m.len += node::count(&b);
            m.node_bytes += crate::alloc_size(b.capacity());
            m.nodes.insert(i, b);
        }
    }

    /// Removes node `i`; the list keeps at least one (empty) node, and a
    /// list left with one node becomes that node alone.
    fn remove_node(&mut self, i: usize) {
        match &mut self.r {
            Repr::One(b) => {
                let fill = node::fill(b);
                *b = node::empty(fill).into_boxed_slice();
            }
            Repr::Many(m) => {
                if let Some(b) = m.nodes.remove(i) {
                    m.len -= node::count(&b);
                    m.node_bytes -= crate::alloc_size(b.capacity());
                }
                if m.nodes.len() * 4 < m.nodes.capacity() && m.nodes.capacity() > 8 {
                    m.nodes.shrink_to(m.nodes.len() * 2);
                }
                self.demote_if_single();
            }
        }
    }

    /// A list left with one node becomes that node alone.
    fn demote_if_single(&mut self) {
        if let Repr::Many(m) = &mut self.r {
            if m.nodes.len() == 1 {
                let only = m.nodes.pop_front().unwrap_or_default();
                self.r = Repr::One(only.into_boxed_slice());
            }
        }
    }

    /// Merges node `i` with its successor when both fit one node.
    fn try_merge(&mut self, i: usize) -> bool {
        if i + 1 >= self.nodes() {
            return false;
        }
        let fill = self.fill_i16();
        let (a, b) = (self.node(i), self.node(i + 1));
        if !node::fits(
            fill,
            a.len() + b.len() - HEADER,
            node::count(a) + node::count(b),
        ) {
            return false;
        }
        let Repr::Many(m) = &mut self.r else {
            return false;
        };
        let next = m.nodes.remove(i + 1).unwrap_or_default();
        m.len -= node::count(&next);
        m.node_bytes -= crate::alloc_size(next.capacity());
        self.with_node(i, next.len(), |b| node::append_node(b, &next));
        self.demote_if_single();
        true
    }

    /// Merges around node `i` (after removals left it small).
    fn merge_around(&mut self, i: usize) {
        if i > 0 && i < self.nodes() && self.try_merge(i - 1) {
            self.try_merge(i - 1);
        } else {
            self.try_merge(i);
        }
    }

    /// The node holding element `index` and its index there (`index <
    /// len`), or the last node and its count for `index == len`; skips
    /// whole nodes from the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        match &self.r {
            Repr::One(_) => (0, index),
            Repr::Many(m) => {
                if index <= m.len / 2 {
                    let mut left = index;
                    for (i, b) in m.nodes.iter().enumerate() {
                        let c = node::count(b);
                        if left < c {
                            return (i, left);
                        }
                        left -= c;
                    }
                    let last = m.nodes.len() - 1;
                    (last, node::count(&m.nodes[last]))
                } else {
                    // Elements after `index`.
                    let mut after = m.len - index;
                    let last = m.nodes.len() - 1;
                    for (i, b) in m.nodes.iter().enumerate().rev() {
                        let c = node::count(b);
                        if after <= c {
                            if after == 0 {
                                return (last, node::count(&m.nodes[last]));
                            }
                            return (i, c - after);
                        }
                        after -= c;
                    }
                    (0, 0)
                }
            }
        }
    }

    /// Normalizes a Redis index (negative from the tail).
    fn index(&self, index: i64) -> Option<usize> {
        let n = self.len() as i64;
        let i = if index < 0 {
            index.checked_add(n)?
        } else {
            index
        };
        (0..n).contains(&i).then_some(i as usize)
    }

    // ---- reads ---------------------------------------------------------

    /// LINDEX: the element at `index` (negative from the tail).
    pub fn get(&self, index: i64) -> Option<&[u8]> {
        let i = self.index(index)?;
        let (n, j) = self.locate(i);
        let b = self.node(n);
        Some(node::elem_at(b, node::offset_of(b, j)))
    }

    /// The first element.
    pub fn front(&self) -> Option<&[u8]> {
        self.get(0)
    }

    /// The last element.
    pub fn back(&self) -> Option<&[u8]> {
        self.get(-1)
    }

    /// Every element, head to tail (double-ended).
    pub fn iter(&self) -> Iter<'_> {
        self.iter_between(0, self.len())
    }

    /// LRANGE: the elements `start..=stop` (Redis indexes: negative from
    /// the tail, clamped), head to tail; `.rev()` walks them tail first.
    pub fn range(&self, start: i64, stop: i64) -> Iter<'_> {
        match rank_range(start, stop, self.len()) {
            Some((a, b)) => self.iter_between(a, b),
            None => self.iter_between(0, 0),
        }
    }

    /// The elements at positions `from..to` (clamped to the list).
    pub fn iter_between(&self, from: usize, to: usize) -> Iter<'_> {
        let to = to.min(self.len());
        let from = from.min(to);
        if from == to {
            return Iter {
                list: self,
                fi: 0,
                foff: HEADER,
                bi: 0,
                boff: HEADER,
                left: 0,
            };
        }
        let (fi, fj) = self.locate(from);
        let foff = node::offset_of(self.node(fi), fj);
        let (bi, bj) = self.locate(to - 1);
        let boff = node::offset_of(self.node(bi), bj + 1);
        Iter {
            list: self,
            fi,
            foff,
            bi,
            boff,
            left: to - from,
        }
    }

    /// LPOS: the positions (from the head) of the elements equal to `elem`,
    /// as Redis 7.0: `rank` picks the first match to report (negative:
    /// counting from the tail, and walking towards the head; 0 acts as 1),
    /// `count` how many to report (0: all), `maxlen` how many elements to
    /// compare at most (0: all).
    pub fn positions(&self, elem: &[u8], rank: i64, count: usize, maxlen: usize) -> Vec<usize> {
        let len = self.len();
        let skip = rank.unsigned_abs().max(1) - 1;
        let limit = if maxlen == 0 { len } else { maxlen.min(len) };
        let want = if count == 0 { usize::MAX } else { count };
        let mut out = Vec::new();
        let mut matches = 0u64;
        let mut visit = |k: usize, e: &[u8], out: &mut Vec<usize>| {
            if e == elem {
                matches += 1;
                if matches > skip {
                    out.push(k);
                }
            }
            out.len() < want
        };
        if rank < 0 {
            for (k, e) in self.iter().rev().take(limit).enumerate() {
                if !visit(len - 1 - k, e, &mut out) {
                    break;
                }
            }
        } else {
            for (k, e) in self.iter().take(limit).enumerate() {
                if !visit(k, e, &mut out) {
                    break;
                }
            }
        }
        out
    }

    // ---- writes --------------------------------------------------------

    /// LPUSH / RPUSH of one element.
    pub fn push(&mut self, side: Side, elem: &[u8]) {
        let fill = self.fill_i16();
        let add = node::entry_size(elem.len());
        match side {
            Side::Left => {
                if node::allows(self.node(0), fill, add) {
                    self.with_node(0, add, |b| node::insert(b, HEADER, elem));
                } else {
                    self.insert_node(0, node::single(fill, elem));
                }
            }
            Side::Right => {
                let last = self.nodes() - 1;
                if node::allows(self.node(last), fill, add) {
                    self.with_node(last, add, |b| {
                        let end = b.len();
                        node::insert(b, end, elem)
                    });
                } else {
                    self.insert_node(last + 1, node::single(fill, elem));
                }
            }
        }
    }

    /// LPOP / RPOP of one element.
    pub fn pop(&mut self, side: Side) -> Option<Vec<u8>> {
        let e = match side {
            Side::Left => self.front()?.to_vec(),
            Side::Right => self.back()?.to_vec(),
        };
        match side {
            Side::Left => self.remove_range(0, 1),
            Side::Right => self.remove_range(self.len() - 1, 1),
        }
        Some(e)
    }

    /// LPOP / RPOP with a count: up to `count` elements, in the order they
    /// leave (from the tail for `Right`).
    pub fn pop_many(&mut self, side: Side, count: usize) -> Vec<Vec<u8>> {
        let n = count.min(self.len());
        let out: Vec<Vec<u8>> = match side {
            Side::Left => self.iter().take(n).map(<[u8]>::to_vec).collect(),
            Side::Right => self.iter().rev().take(n).map(<[u8]>::to_vec).collect(),
        };
        match side {
            Side::Left => self.remove_range(0, n),
            Side::Right => self.remove_range(self.len() - n, n),
        }
        out
    }

    /// LSET: replaces the element at `index`; false when out of range.
    pub fn set(&mut self, index: i64, elem: &[u8]) -> bool {
        let Some(i) = self.index(index) else {
            return false;
        };
        let fill = self.fill_i16();
        let (n, j) = self.locate(i);
        let b = self.node(n);
        let off = node::offset_of(b, j);
        let old = node::entry_at(b, off).2 - off;
        let new = node::entry_size(elem.len());
        if new <= old
            || node::count(b) == 1
            || node::fits(fill, b.len() + new - old, node::count(b))
        {
            self.with_node(n, new.saturating_sub(old), |b| node::replace(b, off, elem));
        } else {
            self.remove_range(i, 1);
            self.insert_at(i, elem);
        }
        true
    }

    /// Inserts `elem` so that it gets position `index` (`0..=len`).
    pub fn insert_at(&mut self, index: usize, elem: &[u8]) {
        let len = self.len();
        if index == 0 {
            return self.push(Side::Left, elem);
        }
        if index >= len {
            return self.push(Side::Right, elem);
        }
        let fill = self.fill_i16();
        let add = node::entry_size(elem.len());
        let (i, j) = self.locate(index);
        if node::allows(self.node(i), fill, add) {
            self.with_node(i, add, |b| {
                let off = node::offset_of(b, j);
                node::insert(b, off, elem)
            });
        } else if j == 0 && i > 0 && node::allows(self.node(i - 1), fill, add) {
            self.with_node(i - 1, add, |b| {
                let end = b.len();
                node::insert(b, end, elem)
            });
        } else if j == 0 {
            self.insert_node(i, node::single(fill, elem));
        } else {
            // Split the full node at the insertion point.
            let right = self.with_node(i, 0, |b| node::split_off(b, j));
            self.insert_node(i + 1, right);
            if node::allows(self.node(i), fill, add) {
                self.with_node(i, add, |b| {
                    let end = b.len();
                    node::insert(b, end, elem)
                });
            } else if node::allows(self.node(i + 1), fill, add) {
                self.with_node(i + 1, add, |b| node::insert(b, HEADER, elem));
            } else {
                self.insert_node(i + 1, node::single(fill, elem));
            }
        }
    }

    /// LINSERT: inserts `elem` before or after the first element equal to
    /// `pivot`; returns the new length, or None when there is no pivot.
    pub fn insert_pivot(&mut self, pivot: &[u8], elem: &[u8], before: bool) -> Option<usize> {
        let at = self.iter().position(|e| e == pivot)?;
        self.insert_at(if before { at } else { at + 1 }, elem);
        Some(self.len())
    }

    /// Removes the `n` elements from position `start` on.
    pub fn remove_range(&mut self, start: usize, n: usize) {
        let n = n.min(self.len().saturating_sub(start));
        if n == 0 {
            return;
        }
        let (mut i, mut j) = self.locate(start);
        let mut left = n;
        let mut touched = i;
        while left > 0 {
            let c = node::count(self.node(i));
            let take = (c - j).min(left);
            if j == 0 && take == c {
                self.remove_node(i);
            } else {
                self.with_node(i, 0, |b| {
                    let from = node::offset_of(b, j);
                    let to = if j + take == c {
                        b.len()
                    } else {
                        node::offset_of(b, j + take)
                    };
                    node::remove(b, from, to, take);
                });
                touched = i;
                i += 1;
            }
            left -= take;
            j = 0;
        }
        self.merge_around(touched.min(self.nodes().saturating_sub(1)));
    }

    /// LREM: removes up to `|count|` elements equal to `elem`, from the
    /// head (`count > 0`) or the tail (`count < 0`), or all (`0`); returns
    /// how many went.
    pub fn remove(&mut self, count: i64, elem: &[u8]) -> usize {
        let max = if count == 0 {
            usize::MAX
        } else {
            usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
        };
        let from_tail = count < 0;
        let mut removed = 0;
        let mut i = if from_tail { self.nodes() } else { 0 };
        let mut lowest = usize::MAX;
        let mut highest = 0;
        loop {
            if removed >= max {
                break;
            }
            let cur = if from_tail {
                if i == 0 {
                    break;
                }
                i - 1
            } else {
                if i >= self.nodes() {
                    break;
                }
                i
            };
            let b = self.node(cur);
            let mut matches = 0;
            let mut off = HEADER;
            for _ in 0..node::count(b) {
                let (s, l, next) = node::entry_at(b, off);
                if &b[s..s + l] == elem {
                    matches += 1;
                }
                off = next;
            }
            let take = matches.min(max - removed);
            if take == 0 {
                if from_tail {
                    i -= 1;
                } else {
                    i += 1;
                }
                continue;
            }
            // From the tail, the last `take` matches of the node go.
            let keep_first = if from_tail { matches - take } else { 0 };
            let mut seen = 0;
            let gone = self.with_node(cur, 0, |b| {
                node::retain(b, |_, e| {
                    if e != elem {
                        return false;
                    }
                    seen += 1;
                    seen > keep_first && seen <= keep_first + take
                })
            });
            removed += gone;
            lowest = lowest.min(cur);
            highest = highest.max(cur);
            if node::count(self.node(cur)) == 0 && self.nodes() > 1 {
                self.remove_node(cur);
                highest = highest.saturating_sub(1);
                if !from_tail {
                    continue;
                }
            }
            if from_tail {
                i -= 1;
            } else {
                i += 1;
            }
        }
        if removed > 0 {
            self.compact_nodes(lowest, highest);
        }
        removed
    }

    /// Merges small neighbours among nodes `from..=to` (after removals).
    fn compact_nodes(&mut self, from: usize, to: usize) {
        let mut i = from.saturating_sub(1);
        let mut end = to + 1;
        while i < end && i + 1 < self.nodes() {
            if self.try_merge(i) {
                end = end.saturating_sub(1);
            } else {
                i += 1;
            }
        }
    }

    /// LTRIM: keeps the elements `start..=stop` (Redis indexes); an empty
    /// range empties the list.
    pub fn trim(&mut self, start: i64, stop: i64) {
        let len = self.len();
        match rank_range(start, stop, len) {
            None => self.remove_range(0, len),
            Some((a, b)) => {
                self.remove_range(b, len - b);
                self.remove_range(0, a);
            }
        }
    }

    /// Drops spare room from every node.
    pub fn shrink_to_fit(&mut self) {
        for i in 0..self.nodes() {
            self.with_node(i, 0, |b| b.shrink_to_fit());
        }
        if let Repr::Many(m) = &mut self.r {
            m.nodes.shrink_to_fit();
        }
    }
}

impl Clone for ListValue {
    fn clone(&self) -> Self {
        match &self.r {
            Repr::One(b) => ListValue {
                r: Repr::One(b.clone()),
            },
            Repr::Many(m) => {
                let nodes: VecDeque<Vec<u8>> = m.nodes.iter().cloned().collect();
                let node_bytes = nodes.iter().map(|b| crate::alloc_size(b.capacity())).sum();
                ListValue {
                    r: Repr::Many(Box::new(Many {
                        nodes,
                        len: m.len,
                        node_bytes,
                        fill: m.fill,
                    })),
                }
            }
        }
    }
}

impl PartialEq for ListValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for ListValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

/// The elements of a range of a list, from either end.
#[derive(Clone)]
pub struct Iter<'a> {
    list: &'a ListValue,
    /// Next element from the front: node, offset.
    fi: usize,
    foff: usize,
    /// Next element from the back: node, offset where it ends.
    bi: usize,
    boff: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let mut b = self.list.node(self.fi);
        while self.foff >= b.len() {
            self.fi += 1;
            self.foff = HEADER;
            b = self.list.node(self.fi);
        }
        let (s, n, next) = node::entry_at(b, self.foff);
        self.foff = next;
        self.left -= 1;
        Some(&b[s..s + n])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    #[inline]
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let mut b = self.list.node(self.bi);
        while self.boff <= HEADER {
            self.bi -= 1;
            b = self.list.node(self.bi);
            self.boff = b.len();
        }
        let (off, s, n) = node::entry_before(b, self.boff);
        self.boff = off;
        self.left -= 1;
        Some(&b[s..s + n])
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) mod vs_redis;

#[cfg(test)]
mod memory_tests;
