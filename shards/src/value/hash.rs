//! A hash's value: `listpack` while small, `hashtable` beyond, as Redis 7.0.
//!
//! - **listpack**: one allocation holding an entry count and the entries
//!   (field, value, each with a length prefix) in insertion order, which is
//!   the order HGETALL, HKEYS and HSCAN show. A new field goes at the end,
//!   a changed value stays in place, and every change resizes the
//!   allocation to fit, as Redis's listpack does. Look-ups walk the entries.
//! - **hashtable**: a `Table` (records in a buffer or arena pages, an
//!   index of their positions), in hash order.
//!
//! A hash converts once, never back, when it would hold more than
//! `hash-max-listpack-entries` fields (default 512) or a field or value
//! longer than `hash-max-listpack-value` bytes (default 64): `set` checks
//! both, as Redis 7.0's `hashTypeSet`; `try_conversion` is HSET's check of
//! all its arguments up front (`hashTypeTryConversion`).

use super::record::{below, push_record, read_record, record_len, write_record, Either};
use super::table::Table;
use crate::alloc_size;
use std::collections::{HashMap, HashSet};

/// The thresholds of the listpack encoding (Redis's configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashLimits {
    /// `hash-max-listpack-entries`.
    pub max_listpack_entries: usize,
    /// `hash-max-listpack-value`.
    pub max_listpack_value: usize,
}

impl Default for HashLimits {
    /// Redis 7.0's defaults: 512 entries, 64 bytes.
    fn default() -> Self {
        HashLimits {
            max_listpack_entries: 512,
            max_listpack_value: 64,
        }
    }
}

/// Redis's cap on a listpack's size (`lpSafeToAdd`): beyond it a hash is a
/// hashtable whatever the configuration.
const LISTPACK_MAX_SAFETY_SIZE: usize = 1 << 30;

/// Entries picked per pass when sampling a listpack with repetition (as
/// Redis's `HRANDFIELD_RANDOM_SAMPLE_LIMIT`).
const SAMPLE_BATCH: usize = 1000;

/// How many times the requested count the hash must exceed for random
/// distinct entries to be drawn one by one rather than by removing draws
/// from a copy (Redis's `HRANDFIELD_SUB_STRATEGY_MUL`).
const SUB_STRATEGY_MUL: usize = 3;

/// A hash.
#[derive(Clone)]
pub struct HashValue(Repr);

#[derive(Clone)]
enum Repr {
    Listpack(Packed),
    Table(Box<Table<true>>),
}

/// Bytes before the entries: the entry count.
const HEADER: usize = 4;

/// The listpack encoding: `[count: u32 LE][entry]...`, nothing allocated
/// while empty.
#[derive(Clone, Default)]
struct Packed {
    buf: Box<[u8]>,
}

/// A listpack entry: where it starts, its size, its field and value.
struct At<'a> {
    off: usize,
    len: usize,
    field: &'a [u8],
    value: &'a [u8],
}

impl Packed {
    fn len(&self) -> usize {
        match self.buf.get(..HEADER) {
            Some(h) => u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize,
            None => 0,
        }
    }

    fn set_count(buf: &mut [u8], n: usize) {
        buf[..HEADER].copy_from_slice(&(n as u32).to_le_bytes());
    }

    fn entries(&self) -> impl Iterator<Item = At<'_>> + '_ {
        let b = &self.buf[..];
        let mut off = HEADER.min(b.len());
        std::iter::from_fn(move || {
            if off >= b.len() {
                return None;
            }
            let (field, value, len) = read_record(&b[off..], true);
            let at = At {
                off,
                len,
                field,
                value,
            };
            off += len;
            Some(at)
        })
    }

    fn find(&self, field: &[u8]) -> Option<At<'_>> {
        self.entries().find(|e| e.field == field)
    }

    /// Sets `field`; true when it is new (appended), else its value is
    /// replaced where it stands.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let new_len = record_len(field, Some(value));
        let found = self.find(field).map(|e| (e.off, e.len));
        match found {
            Some((off, len)) if len == new_len => {
                write_record(&mut self.buf[off..off + len], field, Some(value));
                false
            }
            Some((off, len)) => {
                let mut v = std::mem::take(&mut self.buf).into_vec();
                if new_len > len {
                    v.reserve_exact(new_len - len);
                }
                let mut rec = vec![0u8; new_len];
                write_record(&mut rec, field, Some(value));
                v.splice(off..off + len, rec);
                self.buf = v.into_boxed_slice();
                false
            }
            None => {
                let n = self.len();
                let mut v = std::mem::take(&mut self.buf).into_vec();
                if v.is_empty() {
                    v.reserve_exact(HEADER + new_len);
                    v.resize(HEADER, 0);
                } else {
                    v.reserve_exact(new_len);
                }
                push_record(&mut v, field, Some(value));
                Packed::set_count(&mut v, n + 1);
                self.buf = v.into_boxed_slice();
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let Some((off, len)) = self.find(field).map(|e| (e.off, e.len)) else {
            return false;
        };
        let n = self.len();
        if n <= 1 {
            self.buf = Box::default();
            return true;
        }
        let mut v = std::mem::take(&mut self.buf).into_vec();
        v.drain(off..off + len);
        Packed::set_count(&mut v, n - 1);
        self.buf = v.into_boxed_slice();
        true
    }

    fn to_table(&self) -> Table<true> {
        let mut t = Table::with_bytes(self.buf.len().saturating_sub(HEADER));
        for e in self.entries() {
            t.insert_new(e.field, e.value);
        }
        t
    }

    /// `count` entries drawn independently and uniformly, in the order
    /// drawn (Redis's `lpRandomPairs`: one walk for the sorted draws).
    fn random_pairs(
        &self,
        count: usize,
        rand: &mut impl FnMut(u64) -> u64,
        f: &mut impl FnMut(&[u8], &[u8]),
    ) {
        let n = self.len();
        if n == 0 {
            return;
        }
        let mut picks: Vec<(usize, usize)> = (0..count).map(|i| (below(rand, n), i)).collect();
        picks.sort_unstable();
        let mut out: Vec<(&[u8], &[u8])> = vec![(&[], &[]); count];
        let mut entries = self.entries().enumerate();
        let mut cur = entries.next();
        for (index, order) in picks {
            while let Some((i, _)) = cur {
                if i >= index {
                    break;
                }
                cur = entries.next();
            }
            if let Some((_, e)) = &cur {
                out[order] = (e.field, e.value);
            }
        }
        for (k, v) in out {
            f(k, v);
        }
    }
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::new()
    }
}

impl HashValue {
    /// An empty hash in the listpack encoding (Redis creates every hash so).
    pub fn new() -> Self {
        HashValue(Repr::Listpack(Packed::default()))
    }

    /// The hash of `entries` (a later duplicate field replaces the value of
    /// an earlier one, in its place), in the encoding Redis gives a hash
    /// loaded whole (RESTORE, COPY): listpack when it has at most
    /// `max_listpack_entries` fields and no field or value is longer than
    /// `max_listpack_value`, else hashtable. The listpack keeps the given
    /// order.
    pub fn from_entries<F, V>(
        entries: impl IntoIterator<Item = (F, V)>,
        limits: &HashLimits,
    ) -> HashValue
    where
        F: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let entries: Vec<(F, V)> = entries.into_iter().collect();
        // Distinct fields in first-seen order, each with its last value.
        let mut slot: HashMap<&[u8], usize> = HashMap::with_capacity(entries.len());
        let mut order: Vec<(&[u8], &[u8])> = Vec::with_capacity(entries.len());
        for (f, v) in &entries {
            let (f, v) = (f.as_ref(), v.as_ref());
            match slot.get(f) {
                Some(&i) => order[i].1 = v,
                None => {
                    slot.insert(f, order.len());
                    order.push((f, v));
                }
            }
        }
        let bytes: usize = order.iter().map(|(f, v)| record_len(f, Some(v))).sum();
        let max = limits.max_listpack_value;
        let packed = order.len() <= limits.max_listpack_entries
            && order.iter().all(|(f, v)| f.len() <= max && v.len() <= max)
            && HEADER + bytes <= LISTPACK_MAX_SAFETY_SIZE;
        if order.is_empty() {
            return HashValue::new();
        }
        if packed {
            let mut buf = Vec::with_capacity(HEADER + bytes);
            buf.resize(HEADER, 0);
            for (f, v) in &order {
                push_record(&mut buf, f, Some(v));
            }
            Packed::set_count(&mut buf, order.len());
            HashValue(Repr::Listpack(Packed {
                buf: buf.into_boxed_slice(),
            }))
        } else {
            let mut t = Table::with_bytes(bytes);
            for (f, v) in &order {
                t.insert_new(f, v);
            }
            HashValue(Repr::Table(Box::new(t)))
        }
    }

    /// The entries as owned pairs, in `iter` order (for DUMP, COPY).
    pub fn to_entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()
    }

    /// Fields held (HLEN).
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Listpack(p) => p.len(),
            Repr::Table(t) => t.len(),
        }
    }

    /// True when the hash holds nothing (the store then deletes its key).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.0 {
            Repr::Listpack(p) => p.find(field).map(|e| e.value),
            Repr::Table(t) => t.get(field),
        }
    }

    /// Whether `field` is set (HEXISTS).
    pub fn contains(&self, field: &[u8]) -> bool {
        match &self.0 {
            Repr::Listpack(p) => p.find(field).is_some(),
            Repr::Table(t) => t.find(field).is_some(),
        }
    }

    /// Sets `field` to `value`; true when the field is new. Converts to a
    /// hashtable first when either is longer than `max_listpack_value` (or
    /// the listpack would pass 1 GiB), and after the insert when the hash
    /// holds more than `max_listpack_entries` fields (Redis's `hashTypeSet`).
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &HashLimits) -> bool {
        if let Repr::Listpack(p) = &mut self.0 {
            let max = limits.max_listpack_value;
            let fits = field.len() <= max
                && value.len() <= max
                && p.buf.len() + HEADER + record_len(field, Some(value))
                    <= LISTPACK_MAX_SAFETY_SIZE;
            if fits {
                let new = p.set(field, value);
                if p.len() > limits.max_listpack_entries {
                    self.convert_to_table();
                }
                return new;
            }
        }
        self.table().set(field, value)
    }

    /// HSET's check of its arguments before any insert (Redis's
    /// `hashTypeTryConversion`): converts a listpack when any of `args`
    /// (fields and values) is longer than `max_listpack_value`, or when
    /// their bytes would take the listpack past 1 GiB.
    pub fn try_conversion<'a>(
        &mut self,
        args: impl IntoIterator<Item = &'a [u8]>,
        limits: &HashLimits,
    ) {
        let Repr::Listpack(p) = &self.0 else {
            return;
        };
        let current = p.buf.len();
        let mut sum = 0usize;
        for a in args {
            if a.len() > limits.max_listpack_value {
                self.convert_to_table();
                return;
            }
            sum = sum.saturating_add(a.len());
        }
        if current.saturating_add(sum) > LISTPACK_MAX_SAFETY_SIZE {
            self.convert_to_table();
        }
    }

    /// Converts a listpack to a hashtable (a no-op on a hashtable).
    pub fn convert_to_table(&mut self) {
        self.table();
    }

    fn table(&mut self) -> &mut Table<true> {
        if let Repr::Listpack(p) = &self.0 {
            self.0 = Repr::Table(Box::new(p.to_table()));
        }
        match &mut self.0 {
            Repr::Table(t) => t,
            Repr::Listpack(_) => unreachable!("converted above"),
        }
    }

    /// Removes `field`; true when it was set (HDEL). The encoding stays.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Listpack(p) => p.remove(field),
            Repr::Table(t) => t.remove(field),
        }
    }

    /// Every (field, value): insertion order for a listpack (as Redis
    /// shows it), hash order for a hashtable.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        match &self.0 {
            Repr::Listpack(p) => Either::A(p.entries().map(|e| (e.field, e.value))),
            Repr::Table(t) => Either::B(t.iter()),
        }
    }

    /// A uniformly chosen entry (HRANDFIELD without a count). `rand(n)`
    /// returns a uniform number below `n`.
    pub fn random_entry(&self, rand: &mut impl FnMut(u64) -> u64) -> Option<(&[u8], &[u8])> {
        match &self.0 {
            Repr::Listpack(p) => {
                let n = p.len();
                if n == 0 {
                    return None;
                }
                let i = below(rand, n);
                p.entries().nth(i).map(|e| (e.field, e.value))
            }
            Repr::Table(t) => t.random(rand).map(|pos| t.entry(pos)),
        }
    }

    /// HRANDFIELD with a count, by Redis 7.0's strategies
    /// (`hrandfieldWithCountCommand`), calling `f` per entry:
    ///
    /// - negative count (or 1): `|count|` independent uniform draws, in the
    ///   order drawn (repetitions possible);
    /// - count at least the size: every entry, in `iter` order;
    /// - listpack: `count` distinct entries by selection sampling, in
    ///   listpack order;
    /// - hashtable, count over a third of the size: a copy of the
    ///   positions loses random ones until `count` remain;
    /// - hashtable, smaller counts: draws until `count` distinct ones, each
    ///   given on its first draw.
    ///
    /// The caller bounds `|count|` (Redis refuses beyond `LONG_MAX / 2`).
    pub fn random_entries(
        &self,
        count: i64,
        rand: &mut impl FnMut(u64) -> u64,
        mut f: impl FnMut(&[u8], &[u8]),
    ) {
        let size = self.len();
        if count == 0 || size == 0 {
            return;
        }
        let n = count.unsigned_abs();
        if count < 0 || n == 1 {
            match &self.0 {
                Repr::Listpack(p) => {
                    let mut left = n;
                    while left > 0 {
                        let batch = left.min(SAMPLE_BATCH as u64);
                        left -= batch;
                        p.random_pairs(batch as usize, rand, &mut f);
                    }
                }
                Repr::Table(t) => {
                    for _ in 0..n {
                        if let Some(pos) = t.random(rand) {
                            let (k, v) = t.entry(pos);
                            f(k, v);
                        }
                    }
                }
            }
            return;
        }
        if n >= size as u64 {
            for (k, v) in self.iter() {
                f(k, v);
            }
            return;
        }
        let n = n as usize;
        match &self.0 {
            Repr::Listpack(p) => {
                let mut left = n;
                for (i, e) in p.entries().enumerate() {
                    if left == 0 {
                        break;
                    }
                    if below(rand, size - i) < left {
                        f(e.field, e.value);
                        left -= 1;
                    }
                }
            }
            Repr::Table(t) => {
                if n.saturating_mul(SUB_STRATEGY_MUL) > size {
                    let mut all: Vec<u32> = t.positions().collect();
                    while all.len() > n {
                        let i = below(rand, all.len());
                        all.swap_remove(i);
                    }
                    for pos in all {
                        let (k, v) = t.entry(pos);
                        f(k, v);
                    }
                } else {
                    let mut seen: HashSet<u32> = HashSet::with_capacity(n);
                    while seen.len() < n {
                        let Some(pos) = t.random(rand) else {
                            return;
                        };
                        if seen.insert(pos) {
                            let (k, v) = t.entry(pos);
                            f(k, v);
                        }
                    }
                }
            }
        }
    }

    /// One HSCAN step from `cursor` (0 starts) over about `count` entries;
    /// returns the cursor to go on from, 0 when done. A listpack gives
    /// everything at once and 0, as Redis; a hashtable walks in hash order
    /// and sees every entry present throughout the walk exactly once.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut f: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match &self.0 {
            Repr::Listpack(p) => {
                for e in p.entries() {
                    f(e.field, e.value);
                }
                0
            }
            Repr::Table(t) => t.scan(cursor, count, f),
        }
    }

    /// OBJECT ENCODING's name: `listpack` or `hashtable`.
    pub fn encoding_name(&self) -> &'static str {
        match &self.0 {
            Repr::Listpack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// True in the listpack encoding.
    pub fn is_listpack(&self) -> bool {
        matches!(self.0, Repr::Listpack(_))
    }

    /// Allocations a drop of the hash frees (Redis's free effort, for
    /// deciding whether to drop it off the request path): 1 for a
    /// listpack, a handful plus one per 16 KiB page for a hashtable, never
    /// one per field (fields over 2 KiB aside).
    pub fn free_effort(&self) -> usize {
        match &self.0 {
            Repr::Listpack(_) => 1,
            Repr::Table(t) => t.free_effort(),
        }
    }

    /// What the hash holds from the allocator (O(1)).
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Listpack(p) => alloc_size(p.buf.len()),
            Repr::Table(t) => t.heap_bytes(),
        }
    }
}

/// Equal when both hold the same fields with the same values, whatever
/// their encodings and orders.
impl PartialEq for HashValue {
    fn eq(&self, other: &HashValue) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl std::fmt::Debug for HashValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashValue")
            .field("encoding", &self.encoding_name())
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
