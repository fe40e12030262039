//! Sorted sets, as Redis 7.0 keeps them.
//!
//! A small set is one compact buffer of entries ordered by (score, member),
//! like Redis's listpack (`compact`): while it has at most
//! `zset-max-listpack-entries` members (128) and each added member is at
//! most `zset-max-listpack-value` bytes (64). Adding a member past either
//! limit converts it, for good, to the large encoding (`big`): an
//! order-statistics B+ tree over (score, member) with subtree counts for
//! ranks and the scores in its nodes (`tree`), the members with their
//! scores as records named by `u32` positions (`members`: one buffer up to
//! 128 KiB, arena pages beyond), and an index from member to position for
//! O(1) scores. This answers to Redis's `skiplist` (skiplist with spans
//! plus dict), at half its memory per element or less.
//!
//! Order is Redis's: by score, then by member bytes (memcmp); -0 and 0
//! are equal scores. NaN is never stored (callers refuse it; an insert of
//! NaN changes nothing). The compact encoding stores -0 as 0, as Redis's
//! listpack does; the large one keeps it, as Redis's skiplist does.
//!
//! Every range query (by rank, score or lex, with LIMIT, either way)
//! comes down to a half-open range of ranks found by two descents (or one
//! walk of the small buffer), so counts are known before any element is
//! produced.

mod big;
mod compact;
mod members;
mod tree;

use super::record::below;
use big::Big;
use std::cmp::Ordering;

/// Redis's order of entries: by score, then member bytes.
#[inline]
pub(crate) fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    if s1 < s2 {
        Ordering::Less
    } else if s1 > s2 {
        Ordering::Greater
    } else {
        m1.cmp(m2)
    }
}

/// The capacity that uses all of what glibc hands out for at least `n` bytes.
fn alloc_fit(n: usize) -> usize {
    crate::alloc_size(n).saturating_sub(8).max(n)
}

/// Runs `f` on a compact buffer as a `Vec`, which goes back to its exact size.
fn edit<R>(b: &mut Box<[u8]>, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut v = Vec::from(std::mem::take(b));
    let r = f(&mut v);
    *b = v.into_boxed_slice();
    r
}

/// The encoding thresholds (`zset-max-listpack-entries`,
/// `zset-max-listpack-value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZSetLimits {
    pub max_listpack_entries: usize,
    pub max_listpack_value: usize,
}

impl Default for ZSetLimits {
    /// Redis 7.0's defaults: 128 entries, 64 bytes.
    fn default() -> Self {
        ZSetLimits {
            max_listpack_entries: 128,
            max_listpack_value: 64,
        }
    }
}

/// How a sorted set is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZSetEncoding {
    /// The compact buffer (Redis's `listpack`).
    Listpack,
    /// The tree, member buffer and index (Redis's `skiplist`).
    Skiplist,
}

/// One end of a score range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreBound {
    pub value: f64,
    /// `(` in Redis's syntax.
    pub exclusive: bool,
}

impl ScoreBound {
    pub fn inclusive(value: f64) -> Self {
        ScoreBound {
            value,
            exclusive: false,
        }
    }
    pub fn exclusive(value: f64) -> Self {
        ScoreBound {
            value,
            exclusive: true,
        }
    }
}

/// A score range (ZRANGEBYSCORE, ZCOUNT, ZREMRANGEBYSCORE); `-inf` and
/// `+inf` are the infinities.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: ScoreBound,
    pub max: ScoreBound,
}

impl ScoreRange {
    /// `-inf +inf`.
    pub fn all() -> Self {
        ScoreRange {
            min: ScoreBound::inclusive(f64::NEG_INFINITY),
            max: ScoreBound::inclusive(f64::INFINITY),
        }
    }

    /// True when no score can be in the range (Redis's `zslIsInRange` test).
    pub fn is_empty(&self) -> bool {
        let (a, b) = (self.min.value, self.max.value);
        match a.partial_cmp(&b) {
            Some(Ordering::Less) => false,
            Some(Ordering::Equal) => self.min.exclusive || self.max.exclusive,
            // Above, or a NaN bound.
            _ => true,
        }
    }

    #[inline]
    fn above_min(&self, s: f64) -> bool {
        if self.min.exclusive {
            s > self.min.value
        } else {
            s >= self.min.value
        }
    }

    #[inline]
    fn below_max(&self, s: f64) -> bool {
        if self.max.exclusive {
            s < self.max.value
        } else {
            s <= self.max.value
        }
    }

    /// Whether `s` is in the range.
    pub fn contains(&self, s: f64) -> bool {
        self.above_min(s) && self.below_max(s)
    }
}

/// One end of a lex range: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexBound<'a> {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    Inclusive(&'a [u8]),
    Exclusive(&'a [u8]),
}

impl<'a> LexBound<'a> {
    /// Parses Redis's syntax; None is Redis's "min or max not valid
    /// string range item".
    pub fn parse(arg: &'a [u8]) -> Option<LexBound<'a>> {
        match arg.first()? {
            b'-' if arg.len() == 1 => Some(LexBound::Min),
            b'+' if arg.len() == 1 => Some(LexBound::Max),
            b'[' => Some(LexBound::Inclusive(&arg[1..])),
            b'(' => Some(LexBound::Exclusive(&arg[1..])),
            _ => None,
        }
    }

    fn rank(&self) -> (u8, &'a [u8]) {
        match *self {
            LexBound::Min => (0, b""),
            LexBound::Max => (2, b""),
            LexBound::Inclusive(m) | LexBound::Exclusive(m) => (1, m),
        }
    }

    fn open(&self) -> bool {
        !matches!(self, LexBound::Inclusive(_))
    }
}

/// A lex range (ZRANGEBYLEX, ZLEXCOUNT, ZREMRANGEBYLEX).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LexRange<'a> {
    pub min: LexBound<'a>,
    pub max: LexBound<'a>,
}

impl LexRange<'_> {
    /// True when no member can be in the range (Redis's `zslIsInLexRange`
    /// test: `-` and `+` count as exclusive).
    pub fn is_empty(&self) -> bool {
        match self.min.rank().cmp(&self.max.rank()) {
            Ordering::Greater => true,
            Ordering::Equal => self.min.open() || self.max.open(),
            Ordering::Less => false,
        }
    }

    #[inline]
    fn gte_min(&self, m: &[u8]) -> bool {
        match self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Inclusive(x) => m >= x,
            LexBound::Exclusive(x) => m > x,
        }
    }

    #[inline]
    fn lte_max(&self, m: &[u8]) -> bool {
        match self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(x) => m <= x,
            LexBound::Exclusive(x) => m < x,
        }
    }
}

/// A sorted set value.
pub struct ZSetValue {
    r: Repr,
}

enum Repr {
    /// Exactly sized, like the listpack it stands for; empty: nothing.
    Compact(Box<[u8]>),
    Big(Box<Big>),
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue::new()
    }
}

impl ZSetValue {
    /// An empty set in the compact encoding (nothing allocated).
    pub fn new() -> Self {
        ZSetValue {
            r: Repr::Compact(Box::default()),
        }
    }

    /// The empty set Redis 7.0's ZADD creates for a new key whose first
    /// member is `first_len` bytes: large when `zset-max-listpack-entries`
    /// is 0 or the member is over `zset-max-listpack-value`.
    pub fn for_first_member(first_len: usize, limits: &ZSetLimits) -> Self {
        if limits.max_listpack_entries == 0 || first_len > limits.max_listpack_value {
            ZSetValue {
                r: Repr::Big(Box::new(Big::from_sorted(0, 0, std::iter::empty()))),
            }
        } else {
            ZSetValue::new()
        }
    }

    /// A set of `entries` (any order; a repeated member keeps its last
    /// score; NaN scores are skipped), in the encoding Redis gives a
    /// stored result (`zsetConvertToListpackIfNeeded`): compact when it has
    /// at most `max_listpack_entries` members, none over `max_listpack_value`.
    pub fn from_entries<M: AsRef<[u8]>>(
        entries: impl IntoIterator<Item = (M, f64)>,
        limits: &ZSetLimits,
    ) -> Self {
        let v = sorted_distinct(entries);
        let compact = v.len() <= limits.max_listpack_entries
            && v.iter()
                .all(|(m, _)| m.as_ref().len() <= limits.max_listpack_value);
        Self::from_sorted_vec(
            v,
            if compact {
                ZSetEncoding::Listpack
            } else {
                ZSetEncoding::Skiplist
            },
        )
    }

    /// A set of `entries` in the given encoding (RESTORE keeps a payload's
    /// listpack whatever its member lengths, as Redis 7.0's loader).
    pub fn from_entries_encoded<M: AsRef<[u8]>>(
        entries: impl IntoIterator<Item = (M, f64)>,
        encoding: ZSetEncoding,
    ) -> Self {
        Self::from_sorted_vec(sorted_distinct(entries), encoding)
    }

    fn from_sorted_vec<M: AsRef<[u8]>>(v: Vec<(M, f64)>, encoding: ZSetEncoding) -> Self {
        let it = v.iter().map(|(m, s)| (m.as_ref(), *s));
        match encoding {
            ZSetEncoding::Listpack => ZSetValue {
                r: Repr::Compact(compact::from_sorted(it)),
            },
            ZSetEncoding::Skiplist => {
                let bytes = v.iter().map(|(m, _)| m.as_ref().len()).sum();
                ZSetValue {
                    r: Repr::Big(Box::new(Big::from_sorted(v.len(), bytes, it))),
                }
            }
        }
    }

    /// The entries in order: (member, score).
    pub fn to_entries(&self) -> Vec<(Vec<u8>, f64)> {
        self.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    /// The current encoding.
    pub fn encoding(&self) -> ZSetEncoding {
        match self.r {
            Repr::Compact(_) => ZSetEncoding::Listpack,
            Repr::Big(_) => ZSetEncoding::Skiplist,
        }
    }

    /// Redis 7.0's `OBJECT ENCODING`: `listpack` or `skiplist`.
    pub fn encoding_name(&self) -> &'static str {
        match self.r {
            Repr::Compact(_) => "listpack",
            Repr::Big(_) => "skiplist",
        }
    }

    /// Members held (ZCARD).
    #[inline]
    pub fn len(&self) -> usize {
        match &self.r {
            Repr::Compact(b) => compact::count(b),
            Repr::Big(t) => t.len(),
        }
    }

    /// True when the set is empty (the caller then deletes the key).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held from the allocator (O(1)).
    pub fn heap_bytes(&self) -> usize {
        match &self.r {
            Repr::Compact(b) => crate::alloc_size(b.len()),
            Repr::Big(t) => t.heap_bytes(),
        }
    }

    /// Allocations a drop of the set frees (Redis's free effort, for
    /// deciding whether to drop it off the request path): 1 for a compact
    /// set; for a large one its tree nodes (one per 16 to 64 members), its
    /// pages and a handful more, never one per member (members over 2 KiB
    /// aside).
    pub fn free_effort(&self) -> usize {
        match &self.r {
            Repr::Compact(_) => 1,
            Repr::Big(t) => t.free_effort(),
        }
    }

    /// ZSCORE.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.r {
            Repr::Compact(b) => compact::find(b, member).map(|(_, _, s)| s),
            Repr::Big(t) => t.score(member),
        }
    }

    /// ZRANK / ZREVRANK.
    pub fn rank(&self, member: &[u8], reverse: bool) -> Option<usize> {
        let r = match &self.r {
            Repr::Compact(b) => compact::find(b, member).map(|(_, r, _)| r),
            Repr::Big(t) => t.rank(member),
        }?;
        Some(if reverse { self.len() - 1 - r } else { r })
    }

    /// Adds `member` with `score`, or changes its score; returns the old
    /// score (None when the member is new). As Redis's `zsetAdd`, a score
    /// equal to the current one (-0 and 0 included) changes nothing, and a
    /// new member converts a compact set first when the set would pass
    /// `max_listpack_entries` or the member is over `max_listpack_value`.
    /// A NaN score changes nothing.
    pub fn insert_or_update(
        &mut self,
        member: &[u8],
        score: f64,
        limits: &ZSetLimits,
    ) -> Option<f64> {
        if score.is_nan() {
            return self.score(member);
        }
        if let Repr::Compact(b) = &mut self.r {
            if let Some((off, _, old)) = compact::find(b, member) {
                if old != score {
                    edit(b, |v| {
                        let (_, _, end) = compact::entry_at(v, off);
                        compact::remove(v, off, end, 1);
                        compact::insert(v, member, score);
                    });
                }
                return Some(old);
            }
            if compact::count(b) < limits.max_listpack_entries
                && member.len() <= limits.max_listpack_value
            {
                edit(b, |v| compact::insert(v, member, score));
                return None;
            }
            self.convert();
        }
        match &mut self.r {
            Repr::Big(t) => t.insert_or_update(member, score),
            Repr::Compact(_) => None,
        }
    }

    /// Converts a compact set to the large encoding (Redis never goes back).
    pub fn convert(&mut self) {
        if let Repr::Compact(b) = &self.r {
            let n = compact::count(b);
            let bytes = b.len();
            let big = Big::from_sorted(
                n,
                bytes,
                compact::entries(b, compact::HEADER).map(|(_, m, s)| (m, s)),
            );
            self.r = Repr::Big(Box::new(big));
        }
    }

    /// ZREM of one member; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.r {
            Repr::Compact(b) => {
                let (off, _, s) = compact::find(b, member)?;
                edit(b, |v| {
                    let (_, _, end) = compact::entry_at(v, off);
                    compact::remove(v, off, end, 1);
                });
                Some(s)
            }
            Repr::Big(t) => t.remove(member),
        }
    }

    /// The number of entries for which `less(member, score)` holds, a
    /// prefix of the order.
    fn partition(&self, less: impl FnMut(&[u8], f64) -> bool) -> usize {
        match &self.r {
            Repr::Compact(b) => {
                let mut less = less;
                compact::partition(b, |m, s| less(m, s))
            }
            Repr::Big(t) => t.partition(less),
        }
    }

    /// The ranks `lo..hi` of the entries in a score range.
    pub fn score_ranks(&self, range: &ScoreRange) -> (usize, usize) {
        if range.is_empty() {
            return (0, 0);
        }
        let lo = self.partition(|_, s| !range.above_min(s));
        let hi = self.partition(|_, s| range.below_max(s));
        (lo, hi.max(lo))
    }

    /// The ranks `lo..hi` of the entries in a lex range (meaningful when
    /// all scores are equal, as in Redis). A compact set is walked as Redis
    /// walks a listpack: from the first member at or above the minimum,
    /// while members stay at or below the maximum.
    pub fn lex_ranks(&self, range: &LexRange) -> (usize, usize) {
        if range.is_empty() {
            return (0, 0);
        }
        match &self.r {
            Repr::Compact(b) => {
                let mut it = compact::entries(b, compact::HEADER);
                let Some(lo) = it.position(|(_, m, _)| range.gte_min(m)) else {
                    return (0, 0);
                };
                let inside = compact::entries(b, compact::HEADER)
                    .skip(lo)
                    .take_while(|(_, m, _)| range.lte_max(m))
                    .count();
                (lo, lo + inside)
            }
            Repr::Big(t) => {
                let lo = t.partition(|m, _| !range.gte_min(m));
                let hi = t.partition(|m, _| range.lte_max(m));
                (lo, hi.max(lo))
            }
        }
    }

    /// ZCOUNT.
    pub fn count_in_score(&self, range: &ScoreRange) -> usize {
        let (a, b) = self.score_ranks(range);
        b - a
    }

    /// ZLEXCOUNT.
    pub fn count_in_lex(&self, range: &LexRange) -> usize {
        let (a, b) = self.lex_ranks(range);
        b - a
    }

    /// Every entry in order.
    pub fn iter(&self) -> ZIter<'_> {
        self.iter_ranks(0, self.len(), false)
    }

    /// `n` entries from rank `first`, upwards, or downwards when `rev`.
    pub fn iter_ranks(&self, first: usize, n: usize, rev: bool) -> ZIter<'_> {
        let len = self.len();
        let n = if first >= len {
            0
        } else if rev {
            n.min(first + 1)
        } else {
            n.min(len - first)
        };
        if n == 0 {
            return ZIter {
                r: IterRepr::Fwd { b: &[], off: 0 },
                left: 0,
            };
        }
        let r = match &self.r {
            Repr::Compact(b) if !rev => IterRepr::Fwd {
                b,
                off: compact::offset_of(b, first),
            },
            Repr::Compact(b) => {
                let start = compact::offset_of(b, first + 1 - n);
                let offs = compact::entries(b, start)
                    .take(n)
                    .map(|(off, _, _)| off as u32)
                    .collect();
                IterRepr::Rev { b, offs }
            }
            Repr::Big(t) => {
                let (cur, members) = t.cursor(first);
                IterRepr::Tree { cur, members, rev }
            }
        };
        ZIter { r, left: n }
    }

    /// ZRANGE by rank (`start..=stop`, Redis indexes), ascending, or
    /// descending with ranks counted from the top when `reverse`.
    pub fn range_by_rank(&self, start: i64, stop: i64, reverse: bool) -> ZIter<'_> {
        let len = self.len();
        match super::list::rank_range(start, stop, len) {
            None => self.iter_ranks(0, 0, false),
            Some((a, b)) if reverse => self.iter_ranks(len - 1 - a, b - a, true),
            Some((a, b)) => self.iter_ranks(a, b - a, false),
        }
    }

    /// The iterator over ranks `lo..hi` after LIMIT (`offset`, `count`;
    /// None for all), from the top when `reverse`.
    fn limited(
        &self,
        (lo, hi): (usize, usize),
        reverse: bool,
        offset: usize,
        count: Option<usize>,
    ) -> ZIter<'_> {
        let n = hi - lo;
        if offset >= n {
            return self.iter_ranks(0, 0, false);
        }
        let take = count.unwrap_or(usize::MAX).min(n - offset);
        if reverse {
            self.iter_ranks(hi - 1 - offset, take, true)
        } else {
            self.iter_ranks(lo + offset, take, false)
        }
    }

    /// ZRANGEBYSCORE / ZREVRANGEBYSCORE (ZRANGE ... BYSCORE [REV]) with
    /// LIMIT `offset` `count` (None: all; Redis's negative count). A
    /// negative offset gives nothing in Redis; the caller handles it.
    pub fn range_by_score(
        &self,
        range: &ScoreRange,
        reverse: bool,
        offset: usize,
        count: Option<usize>,
    ) -> ZIter<'_> {
        self.limited(self.score_ranks(range), reverse, offset, count)
    }

    /// ZRANGEBYLEX / ZREVRANGEBYLEX with LIMIT, as `range_by_score`.
    pub fn range_by_lex(
        &self,
        range: &LexRange,
        reverse: bool,
        offset: usize,
        count: Option<usize>,
    ) -> ZIter<'_> {
        self.limited(self.lex_ranks(range), reverse, offset, count)
    }

    /// Removes the entries of ranks `a..b`, handing each to `f` first.
    fn remove_ranks(&mut self, a: usize, b: usize, f: &mut dyn FnMut(&[u8], f64)) -> usize {
        let b = b.min(self.len());
        if a >= b {
            return 0;
        }
        match &mut self.r {
            Repr::Compact(buf) => {
                let from = compact::offset_of(buf, a);
                let mut to = from;
                for (_, m, s) in compact::entries(buf, from).take(b - a) {
                    f(m, s);
                    to = compact::entry_at(buf, to).2;
                }
                edit(buf, |v| compact::remove(v, from, to, b - a));
            }
            Repr::Big(t) => t.remove_ranks(a, b, f),
        }
        b - a
    }

    /// ZREMRANGEBYRANK (`start..=stop`, Redis indexes); returns how many went.
    pub fn remove_range_by_rank(&mut self, start: i64, stop: i64) -> usize {
        match super::list::rank_range(start, stop, self.len()) {
            Some((a, b)) => self.remove_ranks(a, b, &mut |_, _| {}),
            None => 0,
        }
    }

    /// ZREMRANGEBYSCORE; returns how many went.
    pub fn remove_range_by_score(&mut self, range: &ScoreRange) -> usize {
        let (a, b) = self.score_ranks(range);
        self.remove_ranks(a, b, &mut |_, _| {})
    }

    /// ZREMRANGEBYLEX; returns how many went.
    pub fn remove_range_by_lex(&mut self, range: &LexRange) -> usize {
        let (a, b) = self.lex_ranks(range);
        self.remove_ranks(a, b, &mut |_, _| {})
    }

    /// ZPOPMIN / ZPOPMAX (and BZ*, ZMPOP): up to `count` entries from the
    /// bottom, or from the top when `max` (highest first).
    pub fn pop(&mut self, max: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
        let len = self.len();
        let n = count.min(len);
        let mut out = Vec::with_capacity(n);
        let (a, b) = if max { (len - n, len) } else { (0, n) };
        self.remove_ranks(a, b, &mut |m, s| out.push((m.to_vec(), s)));
        if max {
            out.reverse();
        }
        out
    }

    /// ZRANDMEMBER without a count: a member chosen uniformly. `rand(n)`
    /// returns a uniform number below `n`.
    pub fn random_member(&self, rand: &mut impl FnMut(u64) -> u64) -> Option<(&[u8], f64)> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        match &self.r {
            Repr::Compact(b) => compact::entries(b, compact::HEADER)
                .nth(below(rand, n))
                .map(|(_, m, s)| (m, s)),
            Repr::Big(t) => t.random(rand),
        }
    }

    /// ZRANDMEMBER with a count, by Redis 7.0's strategies
    /// (`zrandmemberWithCountCommand`), calling `f` per entry:
    ///
    /// - negative count (or 1): `|count|` independent uniform draws
    ///   (repetitions possible), in draw order;
    /// - count at least the size: every entry, in order;
    /// - count over a third of the size: a copy loses random entries until
    ///   `count` remain;
    /// - smaller counts: a compact set is sampled in one ordered pass
    ///   (Redis's `lpRandomPairsUnique`), a large one drawn until `count`
    ///   distinct members, each given on its first draw.
    ///
    /// The caller bounds `|count|`.
    pub fn random_members(
        &self,
        count: i64,
        rand: &mut impl FnMut(u64) -> u64,
        mut f: impl FnMut(&[u8], f64),
    ) {
        let size = self.len();
        if count == 0 || size == 0 {
            return;
        }
        let n = count.unsigned_abs();
        // Repetitions allowed (or a single member).
        if count < 0 || n == 1 {
            match &self.r {
                Repr::Compact(b) => {
                    let offs: Vec<u32> = compact::entries(b, compact::HEADER)
                        .map(|(o, _, _)| o as u32)
                        .collect();
                    for _ in 0..n {
                        let (m, s, _) = compact::entry_at(b, offs[below(rand, size)] as usize);
                        f(m, s);
                    }
                }
                Repr::Big(t) => {
                    for _ in 0..n {
                        if let Some((m, s)) = t.random(rand) {
                            f(m, s);
                        }
                    }
                }
            }
            return;
        }
        // The whole set.
        if n >= size as u64 {
            for (m, s) in self.iter() {
                f(m, s);
            }
            return;
        }
        let n = n as usize;
        // Most of the set: drop random entries from a copy (of ranks).
        if n.saturating_mul(3) > size {
            let mut ranks: Vec<u32> = (0..size as u32).collect();
            while ranks.len() > n {
                let i = below(rand, ranks.len());
                ranks.swap_remove(i);
            }
            for r in ranks {
                let (m, s) = self.entry_at(r as usize);
                f(m, s);
            }
            return;
        }
        // Few of many.
        match &self.r {
            Repr::Compact(b) => {
                let mut need = n;
                let mut left = size;
                for (_, m, s) in compact::entries(b, compact::HEADER) {
                    if need == 0 {
                        break;
                    }
                    if below(rand, left) < need {
                        f(m, s);
                        need -= 1;
                    }
                    left -= 1;
                }
            }
            Repr::Big(t) => {
                let mut seen = std::collections::HashSet::with_capacity(n);
                while seen.len() < n {
                    if let Some((m, s)) = t.random(rand) {
                        if seen.insert(m) {
                            f(m, s);
                        }
                    }
                }
            }
        }
    }

    /// The entry of rank `rank` (`< len`).
    fn entry_at(&self, rank: usize) -> (&[u8], f64) {
        match &self.r {
            Repr::Compact(b) => {
                let (m, s, _) = compact::entry_at(b, compact::offset_of(b, rank));
                (m, s)
            }
            Repr::Big(t) => t.get(rank),
        }
    }

    /// One ZSCAN step: calls `f` for the members it covers and returns the
    /// next cursor (0: done). A compact set is returned whole at once.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match &self.r {
            Repr::Compact(b) => {
                for (_, m, s) in compact::entries(b, compact::HEADER) {
                    f(m, s);
                }
                0
            }
            Repr::Big(t) => t.scan(cursor, count, f),
        }
    }
}

/// Sorts by (score, member) with one entry per member (its last), NaN dropped.
fn sorted_distinct<M: AsRef<[u8]>>(entries: impl IntoIterator<Item = (M, f64)>) -> Vec<(M, f64)> {
    let mut v: Vec<(usize, M, f64)> = entries
        .into_iter()
        .filter(|(_, s)| !s.is_nan())
        .enumerate()
        .map(|(i, (m, s))| (i, m, s))
        .collect();
    // By member, latest first, then keep the first of each member.
    v.sort_unstable_by(|a, b| a.1.as_ref().cmp(b.1.as_ref()).then(b.0.cmp(&a.0)));
    v.dedup_by(|later, first| later.1.as_ref() == first.1.as_ref());
    let mut out: Vec<(M, f64)> = v.into_iter().map(|(_, m, s)| (m, s)).collect();
    out.sort_unstable_by(|a, b| cmp_entry(a.1, a.0.as_ref(), b.1, b.0.as_ref()));
    out
}

impl Clone for ZSetValue {
    fn clone(&self) -> Self {
        match &self.r {
            Repr::Compact(b) => ZSetValue {
                r: Repr::Compact(b.clone()),
            },
            Repr::Big(t) => {
                let mut v = Vec::with_capacity(t.len());
                t.for_each(&mut |m, s| v.push((m, s)));
                let bytes = v.iter().map(|(m, _)| m.len()).sum();
                ZSetValue {
                    r: Repr::Big(Box::new(Big::from_sorted(v.len(), bytes, v.into_iter()))),
                }
            }
        }
    }
}

impl PartialEq for ZSetValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((m1, s1), (m2, s2))| m1 == m2 && s1 == s2)
    }
}

impl std::fmt::Debug for ZSetValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(m, s)| (String::from_utf8_lossy(m), s)))
            .finish()
    }
}

/// Entries of a sorted set in rank order, either way: (member, score).
pub struct ZIter<'a> {
    r: IterRepr<'a>,
    left: usize,
}

enum IterRepr<'a> {
    Fwd {
        b: &'a [u8],
        off: usize,
    },
    /// Offsets of the entries still to give, the next one last.
    Rev {
        b: &'a [u8],
        offs: Vec<u32>,
    },
    Tree {
        cur: tree::Cursor<'a>,
        members: &'a members::Members,
        rev: bool,
    },
}

impl<'a> Iterator for ZIter<'a> {
    type Item = (&'a [u8], f64);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        match &mut self.r {
            IterRepr::Fwd { b, off } => {
                let (m, s, next) = compact::entry_at(b, *off);
                *off = next;
                Some((m, s))
            }
            IterRepr::Rev { b, offs } => {
                let off = offs.pop()?;
                let (m, s, _) = compact::entry_at(b, off as usize);
                Some((m, s))
            }
            IterRepr::Tree { cur, members, rev } => {
                let (s, p) = cur.get();
                if self.left > 0 {
                    if *rev {
                        cur.prev();
                    } else {
                        cur.next();
                    }
                }
                Some((members.member(p), s))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for ZIter<'_> {}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod vs_redis;
