//! A set's value: `intset` while every member is an integer, `hashtable`
//! beyond, as Redis 7.0 (which has no listpack sets; those came in 7.2).
//!
//! - **intset**: the members as sorted integers (see `intset`), while each
//!   is an integer in Redis's canonical form (`string2ll`: decimal without
//!   sign or leading zeros beyond `-` and a single `0`, within i64) and
//!   there are at most `set-max-intset-entries` of them (default 512).
//!   SMEMBERS and SSCAN show them in ascending order, as Redis does.
//! - **hashtable**: a `Table` of members, in hash order.
//!
//! A set converts once, never back (SPOP with a count may replace the
//! whole set by a new one, which starts as an intset, as in Redis).
//!
//! The set-algebra commands need iteration and `contains`: both encodings
//! answer `contains` without a scan (a binary search, a hash look-up), and
//! `Member` lets an intset's integers be compared without formatting them.

use super::intset::IntSet;
use super::record::{below, Either};
use super::table::Table;
use crate::rdb::canonical_int;
use std::collections::HashSet;

/// The threshold of the intset encoding (Redis's configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetLimits {
    /// `set-max-intset-entries`.
    pub max_intset_entries: usize,
}

impl Default for SetLimits {
    /// Redis 7.0's default: 512.
    fn default() -> Self {
        SetLimits {
            max_intset_entries: 512,
        }
    }
}

impl SetLimits {
    /// The effective limit: Redis caps it at 2^30 members.
    fn max(&self) -> usize {
        self.max_intset_entries.min(1 << 30)
    }
}

/// How many times the requested count the set must exceed for random
/// distinct members to be drawn one by one (Redis's
/// `SRANDMEMBER_SUB_STRATEGY_MUL`).
const SUB_STRATEGY_MUL: usize = 3;
/// How many times the popped count the remainder must exceed for SPOP to
/// pop members one by one rather than keep a new set of the remainder
/// (Redis's `SPOP_MOVE_STRATEGY_MUL`).
const SPOP_MOVE_STRATEGY_MUL: usize = 5;

/// A member as a set hands it out: an intset's integer, or the bytes of a
/// hashtable's member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    /// An integer of an intset; its bytes are its decimal form.
    Int(i64),
    /// A member's bytes.
    Str(&'a [u8]),
}

impl<'a> Member<'a> {
    /// The member of `bytes`: `Int` when they are a canonical integer.
    pub fn parse(bytes: &'a [u8]) -> Member<'a> {
        match canonical_int(bytes) {
            Some(v) => Member::Int(v),
            None => Member::Str(bytes),
        }
    }

    /// Calls `f` with the member's bytes (an integer in decimal).
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(v) => f(itoa::Buffer::new().format(v).as_bytes()),
            Member::Str(s) => f(s),
        }
    }

    /// The member's bytes, owned.
    pub fn to_vec(self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }
}

/// A set.
#[derive(Clone)]
pub struct SetValue(Repr);

#[derive(Clone)]
enum Repr {
    Ints(IntSet),
    Table(Box<Table<false>>),
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::new()
    }
}

impl SetValue {
    /// An empty set in the intset encoding; the first member that is not
    /// an integer converts it (as Redis's `setTypeCreate` then `setTypeAdd`
    /// end up, whatever the first member).
    pub fn new() -> Self {
        SetValue(Repr::Ints(IntSet::default()))
    }

    /// The set of `members` (duplicates count once), in the encoding Redis
    /// gives a set loaded whole (RESTORE, COPY): intset when every member
    /// is an integer and there are at most `max_intset_entries`, else
    /// hashtable.
    pub fn from_members<M: AsRef<[u8]>>(
        members: impl IntoIterator<Item = M>,
        limits: &SetLimits,
    ) -> SetValue {
        let members: Vec<M> = members.into_iter().collect();
        let ints: Option<Vec<i64>> = members.iter().map(|m| canonical_int(m.as_ref())).collect();
        if let Some(mut ints) = ints {
            ints.sort_unstable();
            ints.dedup();
            if ints.len() <= limits.max() {
                return SetValue(Repr::Ints(IntSet::from_sorted(&ints)));
            }
        }
        let bytes = members.iter().map(|m| m.as_ref().len() + 1).sum();
        let mut t = Table::with_bytes(bytes);
        for m in &members {
            t.set(m.as_ref(), b"");
        }
        SetValue(Repr::Table(Box::new(t)))
    }

    /// The members as owned bytes, in `iter` order (for DUMP, COPY).
    pub fn to_members(&self) -> Vec<Vec<u8>> {
        self.iter().map(Member::to_vec).collect()
    }

    /// Members held (SCARD).
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Ints(s) => s.len(),
            Repr::Table(t) => t.len(),
        }
    }

    /// True when the set holds nothing (the store then deletes its key).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `member`; true when it is new. An intset converts when the
    /// member is not an integer, or after the insert when it holds more
    /// than `max_intset_entries` (Redis's `setTypeAdd`).
    pub fn add(&mut self, member: &[u8], limits: &SetLimits) -> bool {
        self.add_member(Member::Str(member), limits)
    }

    /// `add` for a member already parsed (an intset's integer is added
    /// without formatting it); a `Str` member that is a canonical integer
    /// counts as that integer.
    pub fn add_member(&mut self, member: Member<'_>, limits: &SetLimits) -> bool {
        if let Repr::Ints(s) = &mut self.0 {
            let int = match member {
                Member::Int(v) => Some(v),
                Member::Str(b) => canonical_int(b),
            };
            if let Some(v) = int {
                if !s.insert(v) {
                    return false;
                }
                if s.len() > limits.max() {
                    self.convert_to_table();
                }
                return true;
            }
        }
        let t = self.table();
        member.with_bytes(|b| t.set(b, b""))
    }

    /// Converts an intset to a hashtable (a no-op on a hashtable).
    pub fn convert_to_table(&mut self) {
        self.table();
    }

    fn table(&mut self) -> &mut Table<false> {
        if let Repr::Ints(s) = &self.0 {
            let mut t = Table::with_bytes(s.len() * 8);
            let mut buf = itoa::Buffer::new();
            for v in s.iter() {
                t.insert_new(buf.format(v).as_bytes(), b"");
            }
            self.0 = Repr::Table(Box::new(t));
        }
        match &mut self.0 {
            Repr::Table(t) => t,
            Repr::Ints(_) => unreachable!("converted above"),
        }
    }

    /// Removes `member`; true when it was there (SREM). The encoding stays.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        self.remove_member(Member::Str(member))
    }

    /// `remove` for a member already parsed.
    pub fn remove_member(&mut self, member: Member<'_>) -> bool {
        match (&mut self.0, member) {
            (Repr::Ints(s), Member::Int(v)) => s.remove(v),
            (Repr::Ints(s), Member::Str(b)) => canonical_int(b).is_some_and(|v| s.remove(v)),
            (Repr::Table(t), m) => m.with_bytes(|b| t.remove(b)),
        }
    }

    /// Whether `member` is in the set (SISMEMBER): a binary search in an
    /// intset, a hash look-up in a hashtable.
    pub fn contains(&self, member: &[u8]) -> bool {
        self.contains_member(Member::Str(member))
    }

    /// `contains` for a member already parsed (SINTER of intsets compares
    /// integers directly).
    pub fn contains_member(&self, member: Member<'_>) -> bool {
        match (&self.0, member) {
            (Repr::Ints(s), Member::Int(v)) => s.contains(v),
            (Repr::Ints(s), Member::Str(b)) => canonical_int(b).is_some_and(|v| s.contains(v)),
            (Repr::Table(t), m) => m.with_bytes(|b| t.find(b).is_some()),
        }
    }

    /// Every member: ascending integers for an intset (as SMEMBERS shows
    /// them), hash order for a hashtable.
    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> + '_ {
        match &self.0 {
            Repr::Ints(s) => Either::A(s.iter().map(Member::Int)),
            Repr::Table(t) => Either::B(t.iter().map(|(k, _)| Member::Str(k))),
        }
    }

    /// A uniformly chosen member (SRANDMEMBER without a count). `rand(n)`
    /// returns a uniform number below `n`.
    pub fn random_member(&self, rand: &mut impl FnMut(u64) -> u64) -> Option<Member<'_>> {
        match &self.0 {
            Repr::Ints(s) => {
                let n = s.len();
                (n > 0).then(|| Member::Int(s.get(below(rand, n))))
            }
            Repr::Table(t) => t.random(rand).map(|p| Member::Str(t.entry(p).0)),
        }
    }

    /// SRANDMEMBER with a count, by Redis 7.0's strategies
    /// (`srandmemberWithCountCommand`), calling `f` per member:
    ///
    /// - negative count (or 1): `|count|` independent uniform draws
    ///   (repetitions possible);
    /// - count at least the size: every member, in `iter` order;
    /// - count over a third of the size: a copy loses random members until
    ///   `count` remain;
    /// - smaller counts: draws until `count` distinct ones, each given on
    ///   its first draw.
    ///
    /// The caller bounds `|count|`.
    pub fn random_members(
        &self,
        count: i64,
        rand: &mut impl FnMut(u64) -> u64,
        mut f: impl FnMut(Member<'_>),
    ) {
        let size = self.len();
        if count == 0 || size == 0 {
            return;
        }
        let n = count.unsigned_abs();
        if count < 0 || n == 1 {
            for _ in 0..n {
                if let Some(m) = self.random_member(rand) {
                    f(m);
                }
            }
            return;
        }
        if n >= size as u64 {
            self.iter().for_each(f);
            return;
        }
        let n = n as usize;
        // Members are named by rank in an intset, by position in a table.
        let at = |i: u32| -> Member<'_> {
            match &self.0 {
                Repr::Ints(s) => Member::Int(s.get(i as usize)),
                Repr::Table(t) => Member::Str(t.entry(i).0),
            }
        };
        let draw = |rand: &mut _| -> u32 {
            match &self.0 {
                Repr::Ints(s) => below(rand, s.len()) as u32,
                Repr::Table(t) => t.random(rand).unwrap_or(0),
            }
        };
        if n.saturating_mul(SUB_STRATEGY_MUL) > size {
            let mut all: Vec<u32> = match &self.0 {
                Repr::Ints(s) => (0..s.len() as u32).collect(),
                Repr::Table(t) => t.positions().collect(),
            };
            while all.len() > n {
                let i = below(rand, all.len());
                all.swap_remove(i);
            }
            for i in all {
                f(at(i));
            }
        } else {
            let mut seen: HashSet<u32> = HashSet::with_capacity(n);
            while seen.len() < n {
                let i = draw(rand);
                if seen.insert(i) {
                    f(at(i));
                }
            }
        }
    }

    /// Removes and returns a uniformly chosen member (SPOP without a count).
    pub fn pop_random(&mut self, rand: &mut impl FnMut(u64) -> u64) -> Option<Vec<u8>> {
        match &mut self.0 {
            Repr::Ints(s) => {
                let n = s.len();
                if n == 0 {
                    return None;
                }
                let i = below(rand, n);
                let v = s.get(i);
                s.remove_at(i);
                Some(Member::Int(v).to_vec())
            }
            Repr::Table(t) => {
                let pos = t.random(rand)?;
                let m = t.entry(pos).0.to_vec();
                t.remove_at(pos);
                Some(m)
            }
        }
    }

    /// SPOP with a count, by Redis 7.0's strategies
    /// (`spopWithCountCommand`), calling `f` with each member popped:
    ///
    /// - count at least the size: every member, in `iter` order; the set
    ///   is left empty (the caller deletes the key);
    /// - remainder more than a fifth of the count: members popped one by
    ///   one at random;
    /// - else the remainder is drawn at random into a new set (created as
    ///   Redis creates it: an intset while its members allow, under
    ///   `limits`), the rest is given in `iter` order, and the new set
    ///   takes this one's place.
    ///
    /// Returns the set this one replaced, when it was replaced whole (the
    /// first and last cases), so its owner can keep it for an undo or free
    /// it where it likes; None when members were popped one by one.
    pub fn pop_random_count(
        &mut self,
        count: usize,
        rand: &mut impl FnMut(u64) -> u64,
        limits: &SetLimits,
        mut f: impl FnMut(Member<'_>),
    ) -> Option<SetValue> {
        let size = self.len();
        if count == 0 || size == 0 {
            return None;
        }
        if count >= size {
            self.iter().for_each(&mut f);
            return Some(std::mem::take(self));
        }
        let remaining = size - count;
        if remaining.saturating_mul(SPOP_MOVE_STRATEGY_MUL) > count {
            for _ in 0..count {
                match &mut self.0 {
                    Repr::Ints(s) => {
                        let i = below(rand, s.len());
                        f(Member::Int(s.get(i)));
                        s.remove_at(i);
                    }
                    Repr::Table(t) => {
                        let pos = t.random(rand)?;
                        f(Member::Str(t.entry(pos).0));
                        t.remove_at(pos);
                    }
                }
            }
            return None;
        }
        let mut kept = SetValue::new();
        for _ in 0..remaining {
            match &mut self.0 {
                Repr::Ints(s) => {
                    let i = below(rand, s.len());
                    kept.add_member(Member::Int(s.get(i)), limits);
                    s.remove_at(i);
                }
                Repr::Table(t) => {
                    let Some(pos) = t.random(rand) else {
                        break;
                    };
                    kept.add(t.entry(pos).0, limits);
                    t.remove_at(pos);
                }
            }
        }
        self.iter().for_each(&mut f);
        Some(std::mem::replace(self, kept))
    }

    /// One SSCAN step from `cursor` (0 starts) over about `count` members;
    /// returns the cursor to go on from, 0 when done. An intset gives
    /// everything at once and 0, as Redis; a hashtable walks in hash order
    /// and sees every member present throughout the walk exactly once.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(Member<'a>)) -> u64 {
        match &self.0 {
            Repr::Ints(s) => {
                s.iter().for_each(|v| f(Member::Int(v)));
                0
            }
            Repr::Table(t) => t.scan(cursor, count, |k, _| f(Member::Str(k))),
        }
    }

    /// OBJECT ENCODING's name: `intset` or `hashtable`.
    pub fn encoding_name(&self) -> &'static str {
        match &self.0 {
            Repr::Ints(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    /// True in the intset encoding.
    pub fn is_intset(&self) -> bool {
        matches!(self.0, Repr::Ints(_))
    }

    /// Allocations a drop of the set frees (Redis's free effort, for
    /// deciding whether to drop it off the request path): 1 for an intset,
    /// a handful plus one per 16 KiB page for a hashtable, never one per
    /// member (members over 2 KiB aside).
    pub fn free_effort(&self) -> usize {
        match &self.0 {
            Repr::Ints(_) => 1,
            Repr::Table(t) => t.free_effort(),
        }
    }

    /// What the set holds from the allocator (O(1)).
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Ints(s) => s.heap_bytes(),
            Repr::Table(t) => t.heap_bytes(),
        }
    }
}

/// Equal when both hold the same members, whatever their encodings.
impl PartialEq for SetValue {
    fn eq(&self, other: &SetValue) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains_member(m))
    }
}

impl std::fmt::Debug for SetValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetValue")
            .field("encoding", &self.encoding_name())
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
