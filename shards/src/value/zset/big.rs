//! The large encoding of sorted sets (Redis's `skiplist`): an
//! order-statistics B+ tree of (score, member position) for ranks and
//! ranges in O(log n), the members with their scores as records (see
//! `members`), and an index from member to position for O(1) scores.
//!
//! The index grows and shrinks by rebuilding itself, as the keyspace's
//! does: one insert or removal in a set of millions may take tens of
//! milliseconds (Redis rehashes its dict incrementally).

use super::members::Members;
use super::tree::{Cursor, Tree};
use crate::index::Index;

#[inline]
fn hash(m: &[u8]) -> u64 {
    crate::value::record::hash(m)
}

pub(super) struct Big {
    tree: Tree,
    members: Members,
    index: Index,
}

impl Big {
    /// A set of `entries`, in order and with distinct members; `bytes` is
    /// a hint of their total length.
    pub(super) fn from_sorted<'a>(
        n: usize,
        bytes: usize,
        entries: impl Iterator<Item = (&'a [u8], f64)>,
    ) -> Big {
        // Records take a member's bytes and 9 to 12 more.
        let mut members = Members::with_capacity(bytes + n * 12);
        let mut ents = Vec::with_capacity(n);
        for (m, s) in entries {
            ents.push((s, members.alloc(m, s)));
        }
        Big::assemble(members, ents)
    }

    fn assemble(members: Members, ents: Vec<(f64, u32)>) -> Big {
        let tree = Tree::from_sorted(ents.len(), ents.iter().copied());
        let mut index = Index::new();
        for &(_, p) in &ents {
            index.insert(hash(members.member(p)), p, |q| hash(members.member(q)));
        }
        Big {
            tree,
            members,
            index,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.tree.len()
    }

    pub(super) fn heap_bytes(&self) -> usize {
        crate::alloc_size(std::mem::size_of::<Big>())
            + self.tree.heap_bytes()
            + self.members.heap_bytes()
            + index_bytes(&self.index)
    }

    /// Allocations a drop frees: the box, the tree's nodes, the index's two
    /// arrays and the member storage (never one per member, long ones aside).
    pub(super) fn free_effort(&self) -> usize {
        3 + self.tree.node_allocations() + self.members.free_effort()
    }

    /// Whether the members live in pages (else in one buffer).
    #[cfg(test)]
    pub(super) fn paged(&self) -> bool {
        self.members.paged()
    }

    #[inline]
    fn find(&self, member: &[u8]) -> Option<u32> {
        let members = &self.members;
        self.index
            .find(hash(member), |p| members.member(p) == member)
    }

    pub(super) fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|p| self.members.score(p))
    }

    /// The number of entries that sort before (score, member).
    fn rank_of(&self, score: f64, member: &[u8]) -> usize {
        let members = &self.members;
        self.tree
            .partition(|s, p| s < score || (s == score && members.member(p) < member))
    }

    /// Whether the entry of rank `r`, given (score, member), would still
    /// sort between its neighbours.
    fn stays_at(&self, r: usize, score: f64, member: &[u8]) -> bool {
        use std::cmp::Ordering::Less;
        let m = &self.members;
        let mut cur = self.tree.cursor(r);
        let mut back = self.tree.cursor(r);
        let after_prev = !back.prev() || {
            let (s, p) = back.get();
            super::cmp_entry(s, m.member(p), score, member) == Less
        };
        after_prev
            && (!cur.next() || {
                let (s, p) = cur.get();
                super::cmp_entry(score, member, s, m.member(p)) == Less
            })
    }

    pub(super) fn rank(&self, member: &[u8]) -> Option<usize> {
        let p = self.find(member)?;
        Some(self.rank_of(self.members.score(p), member))
    }

    /// Adds the member or changes its score; returns the old score.
    pub(super) fn insert_or_update(&mut self, member: &[u8], score: f64) -> Option<f64> {
        if let Some(p) = self.find(member) {
            let old = self.members.score(p);
            if old == score {
                return Some(old);
            }
            let r = self.rank_of(old, member);
            self.members.set_score(p, score);
            if self.stays_at(r, score, member) {
                // Still between its neighbours (Redis's zslUpdateScore).
                self.tree.set_score_at(r, score);
            } else {
                let (_, q) = self.tree.remove_at(r);
                debug_assert_eq!(q, p);
                let r = self.rank_of(score, member);
                self.tree.insert_at(r, score, p);
            }
            return Some(old);
        }
        if self.members.full_for(member.len()) {
            let extra = Members::record_size(member.len());
            self.rebuild(extra);
        }
        let p = self.members.alloc(member, score);
        let r = self.rank_of(score, member);
        self.tree.insert_at(r, score, p);
        let members = &self.members;
        self.index
            .insert(hash(member), p, |q| hash(members.member(q)));
        None
    }

    pub(super) fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let members = &self.members;
        let p = self
            .index
            .remove(hash(member), |q| members.member(q) == member)?;
        let s = self.members.score(p);
        let r = self.rank_of(s, member);
        let (_, q) = self.tree.remove_at(r);
        debug_assert_eq!(q, p);
        self.members.free(p);
        self.after_removal();
        Some(s)
    }

    /// The number of entries for which `less(member, score)` holds (a
    /// prefix of the order).
    pub(super) fn partition(&self, mut less: impl FnMut(&[u8], f64) -> bool) -> usize {
        let members = &self.members;
        self.tree.partition(|s, p| less(members.member(p), s))
    }

    /// The entry of rank `rank` (`< len`).
    pub(super) fn get(&self, rank: usize) -> (&[u8], f64) {
        let (s, p) = self.tree.get(rank);
        (self.members.member(p), s)
    }

    pub(super) fn cursor(&self, rank: usize) -> (Cursor<'_>, &Members) {
        (self.tree.cursor(rank), &self.members)
    }

    /// Removes the entries of ranks `a..b`, handing each to `f` first.
    pub(super) fn remove_ranks(&mut self, a: usize, b: usize, f: &mut dyn FnMut(&[u8], f64)) {
        let n = self.len();
        if b <= a {
            return;
        }
        if (b - a) * 2 > n && n > 256 {
            // Most of the set goes: rebuild from what stays.
            let mut keep = Vec::with_capacity(n - (b - a));
            let mut live = 0;
            let mut rank = 0;
            self.tree.for_each(|s, p| {
                let m = self.members.member(p);
                if (a..b).contains(&rank) {
                    f(m, s);
                } else {
                    live += Members::record_size(m.len());
                    keep.push((s, p));
                }
                rank += 1;
            });
            self.rebuild_from(keep, live);
            return;
        }
        for _ in a..b {
            let (s, p) = self.tree.remove_at(a);
            let m = self.members.member(p);
            f(m, s);
            self.index.remove(hash(m), |q| q == p);
            self.members.free(p);
        }
        self.after_removal();
    }

    /// Rebuilds once the member storage asks for it (see `Members`);
    /// else lets the index shrink after mass removals.
    fn after_removal(&mut self) {
        if self.members.wants_rebuild() {
            self.rebuild(0);
        } else {
            let members = &self.members;
            self.index.shrink(|q| hash(members.member(q)));
        }
    }

    /// Rebuilds with room for `extra` more bytes of records.
    fn rebuild(&mut self, extra: usize) {
        let mut keep = Vec::with_capacity(self.len());
        self.tree.for_each(|s, p| keep.push((s, p)));
        let live = self.members.live();
        self.rebuild_from(keep, live + extra);
    }

    /// Copies the records of `keep` (in order) into fresh structures sized
    /// for `bytes` of records (a buffer or pages, see `Members`).
    fn rebuild_from(&mut self, mut keep: Vec<(f64, u32)>, bytes: usize) {
        let mut members = Members::with_capacity(bytes);
        for e in &mut keep {
            e.1 = members.alloc(self.members.member(e.1), e.0);
        }
        *self = Big::assemble(members, keep);
    }

    /// A member chosen uniformly by `r(n)` (a number below n).
    pub(super) fn random(&self, r: &mut impl FnMut(u64) -> u64) -> Option<(&[u8], f64)> {
        let p = self.index.random(r)?;
        Some((self.members.member(p), self.members.score(p)))
    }

    /// One ZSCAN step over the member index (see `Index::scan`).
    pub(super) fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        let Ok(c) = u32::try_from(cursor) else {
            return 0;
        };
        let members = &self.members;
        let next = self.index.scan(
            c,
            count,
            |p| hash(members.member(p)),
            |p| f(members.member(p), members.score(p)),
        );
        next.map_or(0, u64::from)
    }

    /// Every entry, in order.
    pub(super) fn for_each<'a>(&'a self, f: &mut dyn FnMut(&'a [u8], f64)) {
        self.tree.for_each(|s, p| f(self.members.member(p), s));
    }

    #[cfg(test)]
    pub(super) fn check(&self) {
        let members = &self.members;
        self.tree.check(&|a: (f64, u32), b: (f64, u32)| {
            super::cmp_entry(a.0, members.member(a.1), b.0, members.member(b.1))
        });
        assert_eq!(self.index.len(), self.tree.len());
        self.tree.for_each(|s, p| {
            assert_eq!(s.to_bits(), members.score(p).to_bits());
            assert_eq!(self.find(members.member(p)), Some(p));
        });
    }
}

/// What the allocator holds for an index's two arrays.
fn index_bytes(ix: &Index) -> usize {
    let total = ix.allocated();
    if total == 0 {
        return 0;
    }
    let vals = ix.buckets() * 4;
    crate::alloc_size(total - vals) + crate::alloc_size(vals)
}
