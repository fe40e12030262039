//! A hash index from keys to `u32` positions that stores no key.
//!
//! Open addressing in the SwissTable manner: a control byte per bucket (a
//! 7-bit tag of the hash, or empty / deleted) beside a `u32` per bucket,
//! probed eight control bytes at a time with word-sized bit tricks, so a
//! look-up touches the record only for buckets whose tag matched. The
//! caller keeps the keys and answers two questions through closures: does
//! the entry at this position hold this key, and what is the hash of the
//! key at this position (when the table is rebuilt).
//!
//! Unlike a power-of-two table, the bucket count is any multiple of eight
//! (a bucket is chosen by multiplying the hash, not masking it) and grows by
//! half, so the table's load stays between about 0.58 and 0.875: 5.7 to 8.6
//! bytes per key, where doubling tables swing between 5.7 and 11.4.

/// Control bytes compared at once.
const GROUP: usize = 8;
const EMPTY: u8 = 0x80;
const DELETED: u8 = 0xfe;
const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

#[inline]
fn tag(hash: u64) -> u8 {
    (hash & 0x7f) as u8
}

/// Bits of `group` set where a byte equals `t` (false positives possible
/// above a true match; the caller checks the key anyway).
#[inline]
fn match_tag(group: u64, t: u8) -> u64 {
    let x = group ^ (LO * t as u64);
    x.wrapping_sub(LO) & !x & HI
}

#[inline]
fn match_empty(group: u64) -> u64 {
    // EMPTY is 1000_0000, DELETED 1111_1110, tags 0xxx_xxxx.
    group & !(group << 1) & HI
}

#[inline]
fn match_free(group: u64) -> u64 {
    group & HI
}

/// The index.
pub struct Index {
    /// `cap` control bytes, then the first `GROUP` repeated so a group
    /// read may run past the end.
    ctrl: Vec<u8>,
    vals: Vec<u32>,
    cap: usize,
    items: usize,
    /// Buckets that may still be filled before a rebuild (deleted ones
    /// count as filled).
    growth_left: usize,
    /// Mixed into every hash before it picks a bucket, different for every
    /// index. Entries read out of one index come in its bucket order, which
    /// is hash order; inserted in that order into another index placing
    /// them by the same hash, they would pile into one run of buckets while
    /// it grows, and every insert would probe the whole run (quadratic:
    /// SUNIONSTORE of a big set, a client copying SMEMBERS into SADD, an
    /// AOF reloaded after a rewrite).
    salt: u64,
}

impl Default for Index {
    fn default() -> Self {
        Index::new()
    }
}

/// A salt for a new index: a per-process random start, then a counter
/// through a bijective mixer (every index gets its own).
fn next_salt() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static BASE: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = *BASE.get_or_init(|| {
        use std::hash::BuildHasher;
        std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
    });
    let mut z = base.wrapping_add(
        NEXT.fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn max_items(cap: usize) -> usize {
    cap / 8 * 7
}

impl Index {
    /// An empty index; it allocates on the first insert.
    pub fn new() -> Self {
        Index {
            ctrl: Vec::new(),
            vals: Vec::new(),
            cap: 0,
            items: 0,
            growth_left: 0,
            salt: next_salt(),
        }
    }

    /// An empty index with this one's salt and room for `items` entries
    /// before it grows: for moving this index's entries in its own order
    /// while keeping their order (a SCAN cursor of one is one of the other).
    pub fn sized_like(&self, items: usize) -> Self {
        let mut ix = Index {
            salt: self.salt,
            ..Index::new()
        };
        if items > 0 {
            let mut cap = 0;
            while max_items(cap) < items {
                cap = grown(cap);
            }
            ix.rehash_into(cap, &|_| 0);
        }
        ix
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.items
    }

    /// True when the index holds nothing.
    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// Bytes allocated.
    pub fn allocated(&self) -> usize {
        self.ctrl.capacity() + self.vals.capacity() * 4
    }

    /// Number of buckets.
    pub fn buckets(&self) -> usize {
        self.cap
    }

    /// The hash as this index orders buckets: salted, then multiplied so
    /// that its high bits, which pick the bucket, depend on all of it.
    #[inline]
    fn mixed(&self, hash: u64) -> u64 {
        (hash ^ self.salt).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        (((self.mixed(hash) >> 32) * self.cap as u64) >> 32) as usize
    }

    #[inline]
    fn group(&self, at: usize) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.ctrl[at..at + GROUP]);
        u64::from_le_bytes(b)
    }

    #[inline]
    fn set_ctrl(&mut self, i: usize, c: u8) {
        self.ctrl[i] = c;
        if i < GROUP {
            self.ctrl[self.cap + i] = c;
        }
    }

    /// The position stored for the key whose hash is `hash`, where `is(pos)`
    /// tells whether the entry at `pos` holds that key.
    #[inline]
    pub fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        self.find_bucket(hash, &mut is).map(|b| self.vals[b])
    }

    fn find_bucket(&self, hash: u64, is: &mut impl FnMut(u32) -> bool) -> Option<usize> {
        if self.cap == 0 {
            return None;
        }
        let t = tag(hash);
        let mut at = self.home(hash);
        let mut probed = 0;
        loop {
            let g = self.group(at);
            let mut m = match_tag(g, t);
            while m != 0 {
                let i = at + (m.trailing_zeros() / 8) as usize;
                let i = if i >= self.cap { i - self.cap } else { i };
                if self.ctrl[i] == t && is(self.vals[i]) {
                    return Some(i);
                }
                m &= m - 1;
            }
            if match_empty(g) != 0 {
                return None;
            }
            probed += GROUP;
            if probed >= self.cap {
                return None;
            }
            at += GROUP;
            if at >= self.cap {
                at -= self.cap;
            }
        }
    }

    /// Adds `val` under `hash`; the key must not be present. `rehash(pos)`
    /// gives the hash of the key at a stored position, for when the table
    /// is rebuilt.
    pub fn insert(&mut self, hash: u64, val: u32, rehash: impl Fn(u32) -> u64) {
        if self.growth_left == 0 {
            self.rebuild(self.items + 1, &rehash);
        }
        let i = self.free_bucket(hash);
        if self.ctrl[i] == EMPTY {
            self.growth_left -= 1;
        }
        self.set_ctrl(i, tag(hash));
        self.vals[i] = val;
        self.items += 1;
    }

    fn free_bucket(&self, hash: u64) -> usize {
        let mut at = self.home(hash);
        loop {
            let m = match_free(self.group(at));
            if m != 0 {
                let i = at + (m.trailing_zeros() / 8) as usize;
                return if i >= self.cap { i - self.cap } else { i };
            }
            at += GROUP;
            if at >= self.cap {
                at -= self.cap;
            }
        }
    }

    /// Removes the entry for which `is(pos)` holds; returns its position.
    pub fn remove(&mut self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        let i = self.find_bucket(hash, &mut is)?;
        // A probe for another key may have passed this bucket only if the
        // groups around it were full; with an empty byte within a group's
        // reach on both sides, nobody did and the bucket can be empty again.
        let before = self.group((i + self.cap - GROUP) % self.cap);
        let after = self.group(i);
        let empty_before = match_empty(before).leading_zeros() / 8;
        let empty_after = match_empty(after).trailing_zeros() / 8;
        let c = if match_empty(before) != 0
            && match_empty(after) != 0
            && (empty_before + empty_after) < GROUP as u32
        {
            self.growth_left += 1;
            EMPTY
        } else {
            DELETED
        };
        self.set_ctrl(i, c);
        self.items -= 1;
        Some(self.vals[i])
    }

    /// Replaces the position stored for the entry for which `is(pos)`
    /// holds (a record that moved).
    pub fn replace(&mut self, hash: u64, is: impl FnMut(u32) -> bool, new: u32) -> bool {
        let mut is = is;
        match self.find_bucket(hash, &mut is) {
            Some(i) => {
                self.vals[i] = new;
                true
            }
            None => false,
        }
    }

    /// Every stored position, in bucket order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.cap)
            .filter(|&i| self.ctrl[i] & 0x80 == 0)
            .map(|i| self.vals[i])
    }

    /// A stored position chosen uniformly by `r(n)` (a random number below
    /// n), or None when empty. Rejection over buckets: uniform over entries.
    pub fn random(&self, mut r: impl FnMut(u64) -> u64) -> Option<u32> {
        if self.items == 0 {
            return None;
        }
        loop {
            let i = r(self.cap as u64) as usize;
            if self.ctrl[i] & 0x80 == 0 {
                return Some(self.vals[i]);
            }
        }
    }

    /// One step of a walk over the entries in hash order, resuming at hash
    /// prefix `cursor` (the top 32 bits of a hash; 0 starts): calls `f` for
    /// every entry whose hash prefix lies in `cursor..end`, where `end` is
    /// chosen so that about `count` buckets holding entries are examined,
    /// and returns `end`, or None when the walk has reached the end.
    /// `hash_of(pos)` gives the hash of the key at a stored position.
    ///
    /// A bucket is chosen by multiplying the hash prefix, so buckets keep
    /// hash order at any table size, and an entry sits in the run of full
    /// buckets that starts at its home bucket. A step therefore takes every
    /// entry of its prefix range by scanning the buckets the range maps to
    /// and the rest of the run after them. The cursor is a hash value, not a
    /// bucket, so a walk over many steps with the table growing, shrinking
    /// or being rebuilt in between still returns every entry that was
    /// present throughout exactly once (Redis's SCAN guarantee, without
    /// its duplicates).
    pub fn scan(
        &self,
        cursor: u32,
        count: usize,
        hash_of: impl Fn(u32) -> u64,
        mut f: impl FnMut(u32),
    ) -> Option<u32> {
        if self.cap == 0 {
            return None;
        }
        let cap = self.cap as u64;
        let start = ((cursor as u64 * cap) >> 32) as usize;
        // The buckets this step covers: enough to hold `count` entries.
        let mut last = start;
        let mut seen = 0;
        while last < self.cap {
            if self.ctrl[last] & 0x80 == 0 {
                seen += 1;
                if seen >= count.max(1) {
                    break;
                }
            }
            last += 1;
        }
        let last = last.min(self.cap - 1);
        // The smallest prefix whose home lies past `last`.
        let end = ((last as u64 + 1) << 32).div_ceil(cap);
        let take = |b: usize, f: &mut dyn FnMut(u32)| {
            if self.ctrl[b] & 0x80 == 0 {
                let v = self.vals[b];
                let prefix = self.mixed(hash_of(v)) >> 32;
                if prefix >= cursor as u64 && prefix < end {
                    f(v);
                }
            }
        };
        for b in start..=last {
            take(b, &mut f);
        }
        // Entries of the range displaced past `last` (wrapping around). An
        // entry lies in the first group of its probe sequence (eight
        // buckets from its home on, group after group) that has an empty
        // bucket: removals may empty buckets between an entry and its home,
        // but never in a group the entry's probe went through. So none lies
        // more than `GROUP - 1` buckets past the first empty bucket after
        // `last`.
        let mut b = last + 1;
        let mut wrapped = false;
        let mut past_empty: Option<usize> = None;
        for _ in 0..self.cap {
            if b == self.cap {
                b = 0;
                wrapped = true;
            }
            if wrapped && b >= start {
                break;
            }
            match past_empty.as_mut() {
                Some(0) => break,
                Some(left) => *left -= 1,
                None if self.ctrl[b] == EMPTY => past_empty = Some(GROUP - 1),
                None => {}
            }
            take(b, &mut f);
            b += 1;
        }
        (end < 1 << 32).then_some(end as u32)
    }

    /// Drops everything and the memory.
    pub fn clear(&mut self) {
        *self = Index::new();
    }

    /// Rebuilds the table for at least `need` entries: the same size without
    /// its deleted markers when at most three quarters of what it may hold
    /// is live (so churn does not grow it; the rebuild then comes after at
    /// least a quarter of its capacity in inserts), else larger by half.
    fn rebuild(&mut self, need: usize, rehash: &impl Fn(u32) -> u64) {
        let mut cap = self.cap;
        if cap == 0 || self.items * 4 > max_items(cap) * 3 {
            cap = grown(cap);
        }
        while max_items(cap) < need {
            cap = grown(cap);
        }
        self.rehash_into(cap, rehash);
    }

    /// Shrinks the table when it holds far fewer entries than it could
    /// (after a mass delete), to the smallest size that is at most half full.
    pub fn shrink(&mut self, rehash: impl Fn(u32) -> u64) {
        if self.cap > 64 && self.items * 4 < max_items(self.cap) {
            let mut cap = 16;
            while max_items(cap) < self.items * 2 {
                cap = grown(cap);
            }
            if cap < self.cap {
                self.rehash_into(cap, &rehash);
            }
        }
    }

    fn rehash_into(&mut self, cap: usize, rehash: &impl Fn(u32) -> u64) {
        let old_ctrl = std::mem::take(&mut self.ctrl);
        let old_vals = std::mem::take(&mut self.vals);
        let old_cap = self.cap;
        self.cap = cap;
        self.ctrl = vec![EMPTY; cap + GROUP];
        self.vals = vec![0; cap];
        self.growth_left = max_items(cap) - self.items;
        for i in 0..old_cap {
            if old_ctrl[i] & 0x80 == 0 {
                let v = old_vals[i];
                let h = rehash(v);
                let j = self.free_bucket(h);
                self.set_ctrl(j, tag(h));
                self.vals[j] = v;
            }
        }
    }
}

/// The next bucket count: half as many again, a multiple of the group.
fn grown(cap: usize) -> usize {
    ((cap + cap / 2).max(16)).div_ceil(GROUP) * GROUP
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn h(k: u32) -> u64 {
        // A decent mix so tags and homes vary.
        let mut x = k as u64 ^ 0x9e37_79b9_7f4a_7c15;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    #[test]
    fn insert_find_remove_against_a_model() {
        let mut ix = Index::new();
        let mut model: HashMap<u32, u32> = HashMap::new();
        let mut rng = 0x1234_5678u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        // Keys are u32s; the stored value is key + 1_000_000 so `is` can check it.
        for step in 0..200_000 {
            let k = (next() % 20_000) as u32;
            let v = k + 1_000_000;
            let op = next() % 3;
            if op < 2 {
                if let std::collections::hash_map::Entry::Vacant(e) = model.entry(k) {
                    ix.insert(h(k), v, |p| h(p - 1_000_000));
                    e.insert(v);
                }
            } else if model.remove(&k).is_some() {
                assert_eq!(ix.remove(h(k), |p| p == v), Some(v), "step {step}");
            } else {
                assert_eq!(ix.remove(h(k), |p| p == v), None);
            }
            if step % 997 == 0 {
                for (&k, &v) in &model {
                    assert_eq!(ix.find(h(k), |p| p == v), Some(v));
                }
            }
            assert_eq!(ix.len(), model.len());
        }
        let mut all: Vec<u32> = ix.iter().collect();
        all.sort();
        let mut want: Vec<u32> = model.values().copied().collect();
        want.sort();
        assert_eq!(all, want);
    }

    #[test]
    fn load_stays_between_bounds_while_growing() {
        let mut ix = Index::new();
        for k in 0..1_000_000u32 {
            ix.insert(h(k), k, h);
            if k > 10_000 && k % 1000 == 0 {
                let load = ix.len() as f64 / ix.buckets() as f64;
                assert!((0.55..=0.876).contains(&load), "load {load} at {k}");
            }
        }
        for k in (0..1_000_000u32).step_by(3) {
            assert_eq!(ix.find(h(k), |p| p == k), Some(k));
        }
        // Bytes per key stay under 9 at any size.
        assert!(ix.allocated() as f64 / ix.len() as f64 <= 9.0);
    }

    #[test]
    fn churn_reuses_deleted_buckets_without_growing() {
        let mut ix = Index::new();
        for k in 0..10_000u32 {
            ix.insert(h(k), k, h);
        }
        let buckets = ix.buckets();
        let mut after_first_rounds = 0;
        for round in 0..50u32 {
            if round == 5 {
                after_first_rounds = ix.buckets();
            }
            for k in 0..10_000u32 {
                let old = k + round * 10_000;
                assert_eq!(ix.remove(h(old), |p| p == old), Some(old));
                let new = old + 10_000;
                ix.insert(h(new), new, h);
            }
        }
        assert_eq!(ix.len(), 10_000);
        // At most one growth (a table that was nearly full), then stable.
        assert!(
            ix.buckets() <= grown(buckets),
            "{} vs {buckets}",
            ix.buckets()
        );
        assert_eq!(ix.buckets(), after_first_rounds);
    }

    #[test]
    fn replace_and_random() {
        let mut ix = Index::new();
        for k in 0..100u32 {
            ix.insert(h(k), k, h);
        }
        assert!(ix.replace(h(7), |p| p == 7, 7_000));
        assert_eq!(ix.find(h(7), |p| p == 7_000), Some(7_000));
        let mut seed = 99u64;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..5_000 {
            let v = ix
                .random(|n| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (seed >> 33) % n
                })
                .unwrap();
            seen.insert(v);
        }
        assert_eq!(seen.len(), 100);
    }

    #[test]
    fn scan_returns_every_stable_entry_once_across_resizes() {
        let mut ix = Index::new();
        for k in 0..5_000u32 {
            ix.insert(h(k), k, h);
        }
        let mut seen = std::collections::HashMap::new();
        let mut cursor = 0u32;
        let mut next_new = 1_000_000u32;
        let mut steps = 0;
        loop {
            let next = ix.scan(cursor, 10, h, |p| *seen.entry(p).or_insert(0) += 1);
            // Churn between steps: keys come and go, the table grows.
            for _ in 0..40 {
                ix.insert(h(next_new), next_new, h);
                next_new += 1;
            }
            for k in (next_new - 40..next_new).step_by(3) {
                ix.remove(h(k), |p| p == k);
            }
            steps += 1;
            match next {
                Some(c) => {
                    assert!(c > cursor);
                    cursor = c;
                }
                None => break,
            }
        }
        assert!(steps > 100, "{steps} steps");
        for k in 0..5_000u32 {
            assert_eq!(seen.get(&k), Some(&1), "key {k}");
        }
        assert!(seen.values().all(|&n| n == 1));
    }

    #[test]
    fn scan_of_a_static_table_returns_each_entry_once_for_any_count() {
        for n in [1u32, 10, 100, 1000] {
            for count in [1usize, 2, 10, 100_000] {
                let mut ix = Index::new();
                for k in 0..n {
                    ix.insert(h(k), k, h);
                }
                let mut seen = std::collections::HashMap::new();
                let mut c = 0;
                while let Some(next) = ix.scan(c, count, h, |p| *seen.entry(p).or_insert(0) += 1) {
                    c = next;
                }
                assert_eq!(seen.len(), n as usize, "n {n} count {count}");
                assert!(seen.values().all(|&v| v == 1), "n {n} count {count}");
            }
        }
    }

    #[test]
    fn scan_finds_entries_behind_buckets_emptied_by_removals() {
        // A removal may empty a bucket between an entry and its home (the
        // entry's probe group still holds an empty bucket); a scan must
        // look past it.
        let mut seed = 7u64;
        let mut below = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n.max(1)
        };
        for round in 0..300 {
            let mut ix = Index::new();
            let mut live: Vec<u32> = vec![];
            for next in 0..below(3000) as u32 {
                ix.insert(h(next), next, h);
                live.push(next);
                for _ in 0..below(4).saturating_sub(1) {
                    if live.is_empty() {
                        break;
                    }
                    let v = live.swap_remove(below(live.len() as u64) as usize);
                    assert_eq!(ix.remove(h(v), |p| p == v), Some(v));
                }
            }
            let count = 1 + below(5) as usize;
            let mut seen = HashMap::new();
            let mut c = 0;
            while let Some(next) = ix.scan(c, count, h, |p| *seen.entry(p).or_insert(0) += 1) {
                c = next;
            }
            assert_eq!(seen.len(), live.len(), "round {round}");
            assert!(seen.values().all(|&n| n == 1));
        }
    }

    /// Every index orders the same hashes its own way, so entries copied out
    /// of one in its order never arrive at another in its own bucket order
    /// (which would pile them into one run while it grows).
    #[test]
    fn indexes_order_the_same_hashes_differently() {
        let order = || {
            let mut ix = Index::new();
            for k in 0..5000u32 {
                ix.insert(h(k), k, h);
            }
            let mut out = Vec::new();
            let mut cursor = 0;
            loop {
                match ix.scan(cursor, 500, h, |v| out.push(v)) {
                    Some(c) if c != 0 => cursor = c,
                    _ => break,
                }
            }
            assert_eq!(out.len(), 5000);
            out
        };
        assert_ne!(order(), order());
    }
}
