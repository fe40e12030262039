//! A stream (Redis 7.0's `t_stream.c`): entries ordered by ID, each a list
//! of field/value pairs, with the stream's last generated ID, the count of
//! entries ever added and the greatest ID ever deleted.
//!
//! The entries live in a `BTreeMap` keyed by ID: ranges, appends at the
//! tail and deletions anywhere are O(log n), and the map keeps its keys
//! ordered as Redis's radix tree does, without a radix tree's code. Each
//! entry's pairs are one allocation (lengths and bytes packed), not a `Vec`
//! of `Vec`s: a stream of millions of small events pays one block per entry.
//!
//! Redis groups entries into listpack nodes (at most `stream-node-max-entries`
//! entries, `stream-node-max-bytes` bytes), and approximate trimming (`~`)
//! only ever removes whole nodes, so what `XTRIM ... ~` removes depends on
//! where the node boundaries fall. To answer the same counts, the stream
//! keeps a ledger of its nodes as Redis would have cut them: each node's
//! first ID, last ID, live and deleted entry counts and its listpack size,
//! computed with the listpack's encoding rules.

use std::collections::BTreeMap;

/// An entry ID: milliseconds and a sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// The time part.
    pub ms: u64,
    /// The sequence part.
    pub seq: u64,
}

impl StreamId {
    /// The smallest ID.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The greatest ID.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// `ms-seq`.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The ID right after this one (None for the greatest).
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The ID right before this one (None for the smallest).
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// Writes `ms-seq` into `buf` and returns its text.
    pub fn format(self, buf: &mut [u8; 41]) -> &[u8] {
        let mut a = itoa::Buffer::new();
        let ms = a.format(self.ms).as_bytes();
        buf[..ms.len()].copy_from_slice(ms);
        buf[ms.len()] = b'-';
        let mut b = itoa::Buffer::new();
        let seq = b.format(self.seq).as_bytes();
        let end = ms.len() + 1 + seq.len();
        buf[ms.len() + 1..end].copy_from_slice(seq);
        &buf[..end]
    }

    /// Parses `ms-seq` or `ms` (seq then `missing_seq`), as Redis's strict
    /// `streamParseID`: no `-` or `+`; each part as `string2ull` reads it.
    pub fn parse(s: &[u8], missing_seq: u64) -> Option<StreamId> {
        if s.len() > 127 {
            return None;
        }
        // Redis reads the argument as a C string.
        let s = s.split(|&c| c == 0).next().unwrap_or_default();
        match s.iter().position(|&c| c == b'-') {
            None => Some(StreamId::new(string2ull(s)?, missing_seq)),
            Some(i) => Some(StreamId::new(
                string2ull(&s[..i])?,
                string2ull(&s[i + 1..])?,
            )),
        }
    }

    /// `parse`, also reading `-` as the smallest ID and `+` as the
    /// greatest (a range's ends).
    pub fn parse_bound(s: &[u8], missing_seq: u64) -> Option<StreamId> {
        if s.len() <= 127 {
            match s.split(|&c| c == 0).next().unwrap_or_default() {
                b"-" => return Some(StreamId::MIN),
                b"+" => return Some(StreamId::MAX),
                _ => {}
            }
        }
        StreamId::parse(s, missing_seq)
    }
}

/// Redis's `string2ull`: `string2ll` when that reads a non-negative number,
/// else C's `strtoull` over the whole text (leading blanks, a sign and
/// leading zeros pass; a `-` wraps around, as `strtoull` does).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::ops::parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = &s[i..];
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Redis's node limits (`stream-node-max-bytes`, `stream-node-max-entries`
/// at their defaults).
pub const NODE_MAX_BYTES: usize = 4096;
/// See `NODE_MAX_BYTES`.
pub const NODE_MAX_ENTRIES: u64 = 100;

/// One listpack node as Redis would hold it.
#[derive(Clone, Debug, PartialEq)]
struct Node {
    /// The ID of the entry that opened it (the radix tree key).
    master: StreamId,
    /// The last ID appended to it (deleted or not).
    last: StreamId,
    /// Live entries.
    live: u64,
    /// Entries marked deleted.
    deleted: u64,
    /// The master entry's field names, packed like an entry's pairs.
    fields: Box<[u8]>,
    /// Bytes of the listpack other than the live and deleted counters.
    bytes: usize,
}

impl Node {
    /// `lpBytes` of the node's listpack.
    fn lp_bytes(&self) -> usize {
        self.bytes + lp_int_size(self.live as i64) + lp_int_size(self.deleted as i64)
    }
}

/// Bytes a listpack element of `len` bytes of encoding and data takes with
/// its back-length.
fn lp_with_backlen(len: usize) -> usize {
    len + match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Bytes a listpack integer element takes.
fn lp_int_size(v: i64) -> usize {
    lp_with_backlen(match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8388608..=8388607 => 4,
        -2147483648..=2147483647 => 5,
        _ => 9,
    })
}

/// Bytes a listpack string element takes (stored as an integer when it
/// reads as one, as `lpAppend` does).
fn lp_str_size(s: &[u8]) -> usize {
    if let Some(v) = crate::ops::parse_i64(s) {
        return lp_int_size(v);
    }
    lp_with_backlen(match s.len() {
        n @ 0..=63 => 1 + n,
        n @ 64..=4095 => 2 + n,
        n => 5 + n,
    })
}

/// Packs field/value pairs (or field names alone) as lengths and bytes.
pub fn pack<'a>(items: impl Iterator<Item = &'a [u8]>) -> Box<[u8]> {
    let mut out = Vec::new();
    for it in items {
        out.extend_from_slice(&(it.len() as u32).to_le_bytes());
        out.extend_from_slice(it);
    }
    out.into_boxed_slice()
}

/// The byte strings of a packed entry, in order.
pub fn unpack(mut b: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        // A length past the end (a forged RESTORE payload) ends the walk.
        let it = b.get(4..4 + n)?;
        b = &b[4 + n..];
        Some(it)
    })
}

/// The number of byte strings packed.
pub fn packed_len(b: &[u8]) -> usize {
    unpack(b).count()
}

/// How trimming is bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    /// MAXLEN: keep at most this many entries.
    MaxLen(u64),
    /// MINID: drop entries below this ID.
    MinId(StreamId),
}

/// A stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamValue {
    entries: BTreeMap<StreamId, Box<[u8]>>,
    nodes: BTreeMap<StreamId, Node>,
    last_id: StreamId,
    entries_added: u64,
    max_deleted: StreamId,
    /// Bytes of the packed entries (for memory accounting).
    entry_bytes: usize,
    /// Consumer groups by name (Redis keeps them in a radix tree: byte
    /// order, as here).
    groups: BTreeMap<Box<[u8]>, Group>,
}

/// Bytes a `BTreeMap` spends per element beyond key and value (node
/// headers and spare slots, averaged).
const BTREE_OVERHEAD: usize = 16;

impl StreamValue {
    /// An empty stream.
    pub fn new() -> Self {
        StreamValue::default()
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True without entries (a stream key may exist empty).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The last ID generated or added.
    pub fn last_id(&self) -> StreamId {
        self.last_id
    }

    /// Entries ever added.
    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }

    /// The greatest ID ever deleted by XDEL.
    pub fn max_deleted(&self) -> StreamId {
        self.max_deleted
    }

    /// The first and last live entries' IDs.
    pub fn first_id(&self) -> Option<StreamId> {
        self.entries.keys().next().copied()
    }

    /// The greatest live ID.
    pub fn top_id(&self) -> Option<StreamId> {
        self.entries.keys().next_back().copied()
    }

    /// The packed pairs of entry `id`.
    pub fn get(&self, id: StreamId) -> Option<&[u8]> {
        self.entries.get(&id).map(|b| &b[..])
    }

    /// Entries with IDs in `from..=to`, ascending or descending.
    pub fn range(
        &self,
        from: StreamId,
        to: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (StreamId, &[u8])> + '_> {
        if from > to {
            return Box::new(std::iter::empty());
        }
        let it = self.entries.range(from..=to).map(|(k, v)| (*k, &v[..]));
        if rev {
            Box::new(it.rev())
        } else {
            Box::new(it)
        }
    }

    /// All entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (StreamId, &[u8])> {
        self.entries.iter().map(|(k, v)| (*k, &v[..]))
    }

    /// The ID an `XADD *` (or `ms-*` when `ms` is given) would get at
    /// `now_ms`, or None when it cannot be greater than the last ID.
    pub fn next_id(&self, now_ms: u64, ms: Option<u64>) -> Option<StreamId> {
        let last = self.last_id;
        match ms {
            Some(ms) if ms > last.ms => Some(StreamId::new(ms, 0)),
            Some(ms) if ms == last.ms => last.seq.checked_add(1).map(|s| StreamId::new(ms, s)),
            Some(_) => None,
            None if now_ms > last.ms => Some(StreamId::new(now_ms, 0)),
            None => last.next(),
        }
    }

    /// Appends an entry with `id`, which the caller checked is above the
    /// last ID; `packed` holds its fields and values, alternating (`pack`).
    pub fn append(&mut self, id: StreamId, packed: Box<[u8]>) {
        let pairs = || unpack(&packed);
        let n = packed_len(&packed) / 2;
        let totelelen: usize = pairs().map(<[u8]>::len).sum();
        let new_node = match self.nodes.values().next_back() {
            None => true,
            Some(t) => {
                t.lp_bytes() + totelelen >= NODE_MAX_BYTES || t.live + t.deleted >= NODE_MAX_ENTRIES
            }
        };
        if new_node {
            let fields = pack(pairs().step_by(2));
            // The header, then the master entry: count and deleted (kept
            // apart), the field count, the fields, the terminating 0.
            let bytes = 7
                + lp_int_size(n as i64)
                + unpack(&fields).map(lp_str_size).sum::<usize>()
                + lp_int_size(0);
            self.nodes.insert(
                id,
                Node {
                    master: id,
                    last: id,
                    live: 0,
                    deleted: 0,
                    fields,
                    bytes,
                },
            );
        }
        let Some(node) = self.nodes.values_mut().next_back() else {
            return;
        };
        let same = unpack(&node.fields).eq(pairs().step_by(2));
        let ms_diff = id.ms.wrapping_sub(node.master.ms) as i64;
        let seq_diff = id.seq.wrapping_sub(node.master.seq) as i64;
        let mut size =
            lp_int_size(if same { 2 } else { 0 }) + lp_int_size(ms_diff) + lp_int_size(seq_diff);
        let mut lp_count = n as i64 + 3;
        if !same {
            size += lp_int_size(n as i64);
            lp_count += n as i64 + 1;
        }
        for (i, it) in pairs().enumerate() {
            if !same || i % 2 == 1 {
                size += lp_str_size(it);
            }
        }
        size += lp_int_size(lp_count);
        node.bytes += size;
        node.live += 1;
        node.last = id;
        self.entry_bytes += crate::alloc_size(packed.len());
        self.entries.insert(id, packed);
        self.last_id = id;
        self.entries_added += 1;
    }

    /// Removes entry `id` (XDEL): true when it was there. Raises the
    /// greatest deleted ID.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some(old) = self.entries.remove(&id) else {
            return false;
        };
        self.entry_bytes -= crate::alloc_size(old.len());
        if id > self.max_deleted {
            self.max_deleted = id;
        }
        if let Some((&master, node)) = self.nodes.range_mut(..=id).next_back() {
            node.live = node.live.saturating_sub(1);
            node.deleted += 1;
            if node.live == 0 {
                self.nodes.remove(&master);
            }
        }
        true
    }

    /// Puts back entry `id` that a rollback restores (`delete` undone):
    /// the ledger counts it live again in the node that holds its ID.
    pub fn restore(&mut self, id: StreamId, packed: Box<[u8]>) {
        self.entry_bytes += crate::alloc_size(packed.len());
        match self.nodes.range_mut(..=id).next_back().map(|(_, n)| n) {
            Some(node) if node.last >= id => {
                node.live += 1;
                node.deleted = node.deleted.saturating_sub(1);
            }
            _ => {
                // Its node went with it (its last live entry): a node of
                // its own, so a trim finds it again.
                let fields = pack(unpack(&packed).step_by(2));
                let bytes = 7 + unpack(&packed).map(lp_str_size).sum::<usize>();
                self.nodes.insert(
                    id,
                    Node {
                        master: id,
                        last: id,
                        live: 1,
                        deleted: 0,
                        fields,
                        bytes,
                    },
                );
            }
        }
        self.entries.insert(id, packed);
    }

    /// Takes back the append of entry `id` (a rollback; the counters are
    /// restored apart). The node ledger keeps the sizes the entry added:
    /// approximate trims after a rollback may cut nodes a little earlier
    /// than Redis would.
    pub fn unappend(&mut self, id: StreamId) {
        if let Some(v) = self.entries.remove(&id) {
            self.entry_bytes -= crate::alloc_size(v.len());
        }
        let mut drop_node = None;
        if let Some((&master, node)) = self.nodes.range_mut(..=id).next_back() {
            node.live = node.live.saturating_sub(1);
            if master == id && node.live + node.deleted == 0 {
                drop_node = Some(master);
            }
        }
        if let Some(m) = drop_node {
            self.nodes.remove(&m);
        }
    }

    /// Sets the last ID, entries added and greatest deleted ID (XSETID, or
    /// a rollback).
    pub fn set_meta(&mut self, last: StreamId, added: u64, max_deleted: StreamId) {
        self.last_id = last;
        self.entries_added = added;
        self.max_deleted = max_deleted;
    }

    /// Trims as Redis's `streamTrim`: whole nodes from the head while the
    /// bound allows, then (exact trimming only) entries one by one in the
    /// first node that cannot go whole. `limit` (0: none) bounds the
    /// entries removed. Returns the removed entries' greatest ID (None:
    /// none removed) and their number.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> (Option<StreamId>, u64) {
        self.trim_with(how, approx, limit, &mut |_, _| {})
    }

    /// `trim`, handing each removed entry to `gone`.
    pub fn trim_with(
        &mut self,
        how: Trim,
        approx: bool,
        limit: u64,
        gone: &mut dyn FnMut(StreamId, Box<[u8]>),
    ) -> (Option<StreamId>, u64) {
        let mut removed = 0u64;
        let mut top = None;
        while let Some((&master, node)) = self.nodes.iter().next() {
            if let Trim::MaxLen(max) = how {
                if self.entries.len() as u64 <= max {
                    break;
                }
            }
            let live = node.live;
            if limit != 0 && removed + live > limit {
                break;
            }
            let whole = match how {
                Trim::MaxLen(max) => (self.entries.len() as u64).saturating_sub(live) >= max,
                Trim::MinId(min) => node.last < min,
            };
            let last = node.last;
            if whole {
                let ids: Vec<StreamId> =
                    self.entries.range(master..=last).map(|(k, _)| *k).collect();
                for id in ids {
                    if let Some(v) = self.entries.remove(&id) {
                        self.entry_bytes -= crate::alloc_size(v.len());
                        gone(id, v);
                    }
                    top = Some(id);
                }
                self.nodes.remove(&master);
                removed += live;
                continue;
            }
            if approx {
                break;
            }
            while let Some((&id, _)) = self.entries.iter().next() {
                if id > last {
                    break;
                }
                let stop = match how {
                    Trim::MaxLen(max) => self.entries.len() as u64 <= max,
                    Trim::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                if let Some(v) = self.entries.remove(&id) {
                    self.entry_bytes -= crate::alloc_size(v.len());
                    gone(id, v);
                }
                if let Some(n) = self.nodes.get_mut(&master) {
                    n.live = n.live.saturating_sub(1);
                    n.deleted += 1;
                }
                top = Some(id);
                removed += 1;
            }
            break;
        }
        (top, removed)
    }

    /// The consumer groups, by name.
    pub fn groups(&self) -> &BTreeMap<Box<[u8]>, Group> {
        &self.groups
    }

    /// The consumer groups, writable.
    pub fn groups_mut(&mut self) -> &mut BTreeMap<Box<[u8]>, Group> {
        &mut self.groups
    }

    /// The listpack nodes Redis would hold: master ID, the master entry's
    /// field names (packed), the last ID appended to it.
    pub fn ledger(&self) -> impl Iterator<Item = (StreamId, &[u8], StreamId)> + '_ {
        self.nodes
            .values()
            .map(|n| (n.master, &n.fields[..], n.last))
    }

    /// Adds a node as a payload carries it (RESTORE): its master ID and
    /// field names, its live entries (above every entry already there),
    /// the last ID it holds (deleted or not), its deleted count and its
    /// listpack's size. The counters are set apart (`set_meta`).
    pub fn load_node(
        &mut self,
        master: StreamId,
        fields: Box<[u8]>,
        entries: Vec<(StreamId, Box<[u8]>)>,
        last: StreamId,
        deleted: u64,
        lp_bytes: usize,
    ) {
        let live = entries.len() as u64;
        for (id, packed) in entries {
            self.entry_bytes += crate::alloc_size(packed.len());
            self.entries.insert(id, packed);
        }
        let bytes = lp_bytes.saturating_sub(lp_int_size(live as i64) + lp_int_size(deleted as i64));
        if live > 0 {
            self.nodes.insert(
                master,
                Node {
                    master,
                    last,
                    live,
                    deleted,
                    fields,
                    bytes,
                },
            );
        }
    }

    /// The IDs of the listpack nodes Redis would hold (its radix tree's keys).
    pub fn node_ids(&self) -> impl Iterator<Item = StreamId> + '_ {
        self.nodes.keys().copied()
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`: the number of
    /// entries added up to `id`, when it can be known (None otherwise).
    pub fn entries_up_to(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.is_empty() && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        let first = self.first_id().unwrap_or(StreamId::MIN);
        if self.max_deleted == StreamId::MIN || self.max_deleted < first {
            let before = self.entries_added.wrapping_sub(self.len() as u64);
            if id < first {
                return Some(before);
            }
            if id == first {
                return Some(before + 1);
            }
        }
        None
    }

    /// Redis's `streamRangeHasTombstones` for `start..=MAX`: an XDEL may
    /// have left a hole at or after `start`.
    pub fn tombstones_from(&self, start: StreamId) -> bool {
        if self.is_empty() || self.max_deleted == StreamId::MIN {
            return false;
        }
        if self.first_id().is_some_and(|f| f > self.max_deleted) {
            return false;
        }
        start <= self.max_deleted
    }

    /// A group's lag as XINFO reports it (Redis's `streamReplyWithCGLag`):
    /// None when it cannot be known.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read >= 0 && !self.tombstones_from(g.last_id) {
            return Some((self.entries_added as i64).wrapping_sub(g.entries_read));
        }
        self.entries_up_to(g.last_id)
            .map(|n| (self.entries_added as i64).wrapping_sub(n as i64))
    }

    /// Redis's name for the encoding.
    pub fn encoding_name(&self) -> &'static str {
        "stream"
    }

    /// Allocations a drop frees.
    pub fn free_effort(&self) -> usize {
        self.entries.len()
            + self.nodes.len()
            + self
                .groups
                .values()
                .map(|g| 2 * g.pel.len() + g.consumers.len())
                .sum::<usize>()
    }

    /// Bytes held from the allocator.
    pub fn heap_bytes(&self) -> usize {
        let per_entry = std::mem::size_of::<(StreamId, Box<[u8]>)>() + BTREE_OVERHEAD;
        let per_node = std::mem::size_of::<(StreamId, Node)>() + BTREE_OVERHEAD;
        self.entries.len() * per_entry
            + self.entry_bytes
            + self
                .nodes
                .values()
                .map(|n| per_node + crate::alloc_size(n.fields.len()))
                .sum::<usize>()
            + self
                .groups
                .iter()
                .map(|(n, g)| n.len() + g.heap_bytes())
                .sum::<usize>()
    }
}

/// `entries_read` of a group whose count of entries read is unknown
/// (Redis's `SCG_INVALID_ENTRIES_READ`).
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

/// A pending entry: delivered to a consumer of the group, not acknowledged
/// (Redis's `streamNACK`).
#[derive(Clone, Debug, PartialEq)]
pub struct Nack {
    /// The consumer that holds it.
    pub consumer: Box<[u8]>,
    /// When it was last delivered (unix ms).
    pub delivery_time: u64,
    /// How many times it was delivered.
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Consumer {
    /// When it last read or claimed (unix ms).
    pub seen_time: u64,
    /// The IDs it holds pending (each also in the group's PEL).
    pub pel: std::collections::BTreeSet<StreamId>,
}

/// A consumer group (Redis's `streamCG`).
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The last ID delivered to the group.
    pub last_id: StreamId,
    /// Entries the group read, or `ENTRIES_READ_UNKNOWN`.
    pub entries_read: i64,
    /// The pending entries list.
    pub pel: BTreeMap<StreamId, Nack>,
    /// The consumers by name.
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

/// Bytes a pending entry takes in the group and its consumer's list.
const NACK_BYTES: usize =
    std::mem::size_of::<(StreamId, Nack)>() + std::mem::size_of::<StreamId>() + 2 * BTREE_OVERHEAD;

impl Group {
    /// A group that last delivered `last_id`.
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Bytes held from the allocator.
    pub fn heap_bytes(&self) -> usize {
        // Each pending entry holds its consumer's name: counted per
        // consumer, so this stays O(consumers) (it runs on every write).
        self.consumers
            .iter()
            .map(|(k, c)| c.pel.len() * crate::alloc_size(k.len()))
            .sum::<usize>()
            + self.pel.len() * NACK_BYTES
            + self
                .consumers
                .keys()
                .map(|k| k.len() + std::mem::size_of::<(Box<[u8]>, Consumer)>() + BTREE_OVERHEAD)
                .sum::<usize>()
    }

    /// The consumer `name`, created (seen at `now`) when missing; true when
    /// it was created.
    pub fn consumer(&mut self, name: &[u8], now: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let c = self
            .consumers
            .entry(name.into())
            .or_insert_with(|| Consumer {
                seen_time: now,
                pel: Default::default(),
            });
        (c, created)
    }

    /// Hands entry `id` to consumer `name` (which exists): a new pending
    /// entry, or the existing one moved to it. Returns the entry.
    pub fn assign(&mut self, id: StreamId, name: &[u8]) -> &mut Nack {
        let prev = self.pel.get(&id).map(|n| n.consumer.clone());
        if let Some(prev) = prev {
            if &*prev != name {
                if let Some(c) = self.consumers.get_mut(&prev) {
                    c.pel.remove(&id);
                }
            }
        }
        if let Some(c) = self.consumers.get_mut(name) {
            c.pel.insert(id);
        }
        let n = self.pel.entry(id).or_insert_with(|| Nack {
            consumer: name.into(),
            delivery_time: 0,
            delivery_count: 0,
        });
        if &*n.consumer != name {
            n.consumer = name.into();
        }
        n
    }

    /// Drops pending entry `id` (XACK); true when it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(n) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&n.consumer) {
            c.pel.remove(&id);
        }
        true
    }

    /// Deletes consumer `name` and its pending entries: how many it had.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }
}

/// What a change to a group replaced, for the undo journal: undone newest
/// first, these give the group back as it was without copying it whole
/// (a group's pending list can be long).
#[derive(Clone, Debug, PartialEq)]
pub enum GroupUndo {
    /// The whole group was this (None: absent): creation, destruction.
    Whole(Option<Group>),
    /// The last ID and entries read were these.
    Meta {
        /// Last delivered ID.
        last_id: StreamId,
        /// Entries read.
        entries_read: i64,
    },
    /// Pending entry `id` was this (None: not pending).
    Nack {
        /// The ID.
        id: StreamId,
        /// What it was.
        old: Option<Nack>,
    },
    /// Consumer `consumer` was seen then (None: it did not exist).
    Seen {
        /// The consumer.
        consumer: Box<[u8]>,
        /// Its seen time.
        old: Option<u64>,
    },
    /// Consumer `consumer`, deleted, was this.
    Consumer {
        /// The consumer.
        consumer: Box<[u8]>,
        /// What it was.
        old: Consumer,
    },
}

impl Group {
    /// Undoes one change (not `Whole`, which the stream undoes).
    pub fn undo(&mut self, u: GroupUndo) {
        match u {
            GroupUndo::Whole(_) => {}
            GroupUndo::Meta {
                last_id,
                entries_read,
            } => {
                self.last_id = last_id;
                self.entries_read = entries_read;
            }
            GroupUndo::Nack { id, old } => {
                if let Some(cur) = self.pel.remove(&id) {
                    if let Some(c) = self.consumers.get_mut(&cur.consumer) {
                        c.pel.remove(&id);
                    }
                }
                if let Some(n) = old {
                    if let Some(c) = self.consumers.get_mut(&n.consumer) {
                        c.pel.insert(id);
                    }
                    self.pel.insert(id, n);
                }
            }
            GroupUndo::Seen { consumer, old } => match old {
                Some(t) => {
                    if let Some(c) = self.consumers.get_mut(&consumer) {
                        c.seen_time = t;
                    }
                }
                None => {
                    self.consumers.remove(&consumer);
                }
            },
            GroupUndo::Consumer { consumer, old } => {
                self.consumers.insert(consumer, old);
            }
        }
    }
}

/// The number of nodes of Redis's radix tree holding `keys` (sorted
/// 16-byte big-endian IDs), as XINFO STREAM's `radix-tree-nodes` counts
/// them: a path of single children is one compressed node, a fork one
/// node, each key ends in an empty node.
pub fn rax_nodes(keys: &[[u8; 16]]) -> u64 {
    fn count(keys: &[[u8; 16]], depth: usize) -> u64 {
        if depth == 16 || keys.is_empty() {
            return 1;
        }
        let first = &keys[0];
        let last = &keys[keys.len() - 1];
        let mut common = 0;
        while depth + common < 16 && first[depth + common] == last[depth + common] {
            common += 1;
        }
        if common > 0 {
            return 1 + count(keys, depth + common);
        }
        let mut n = 1;
        let mut i = 0;
        while i < keys.len() {
            let b = keys[i][depth];
            let mut j = i;
            while j < keys.len() && keys[j][depth] == b {
                j += 1;
            }
            n += count(&keys[i..j], depth + 1);
            i = j;
        }
        n
    }
    count(keys, 0)
}

impl StreamId {
    /// The ID as Redis's radix tree key: 128 bits, big-endian.
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.ms.to_be_bytes());
        k[8..].copy_from_slice(&self.seq.to_be_bytes());
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(s: &mut StreamValue, ms: u64, pairs: &[&[u8]]) {
        s.append(StreamId::new(ms, 0), pack(pairs.iter().copied()));
    }

    #[test]
    fn ids_parse_and_print_like_redis() {
        assert_eq!(StreamId::parse(b"1-2", 0), Some(StreamId::new(1, 2)));
        assert_eq!(StreamId::parse(b"7", 9), Some(StreamId::new(7, 9)));
        for bad in [
            &b"1-"[..],
            b"-1",
            b"",
            b"-",
            b"+",
            b"1-2-3",
            b"x",
            b"18446744073709551616",
        ] {
            assert_eq!(StreamId::parse(bad, 0), None, "{bad:?}");
        }
        // `strtoull` takes blanks, a plus and leading zeros.
        assert_eq!(StreamId::parse(b" 01-+2", 0), Some(StreamId::new(1, 2)));
        assert_eq!(StreamId::parse_bound(b"+", 0), Some(StreamId::MAX));
        let mut buf = [0u8; 41];
        assert_eq!(
            StreamId::MAX.format(&mut buf),
            b"18446744073709551615-18446744073709551615"
        );
    }

    #[test]
    fn nodes_fill_to_one_hundred_entries_and_approx_trim_removes_whole_ones() {
        let mut s = StreamValue::new();
        for ms in 1..=250 {
            add(&mut s, ms, &[b"f", b"v"]);
        }
        assert_eq!(s.nodes.len(), 3);
        // ~ 120 keeps 150: the second node cannot go without passing 120.
        assert_eq!(s.trim(Trim::MaxLen(120), true, 0).1, 100);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(Trim::MaxLen(120), false, 0).1, 30);
        assert_eq!(s.first_id(), Some(StreamId::new(131, 0)));
    }

    #[test]
    fn big_entries_cut_nodes_by_bytes() {
        let mut s = StreamValue::new();
        let v = vec![b'x'; 1000];
        for ms in 1..=10 {
            add(&mut s, ms, &[b"f", &v]);
        }
        assert!(s.nodes.len() >= 3, "{}", s.nodes.len());
    }

    #[test]
    fn unpack_stops_at_a_length_past_the_end() {
        let mut b = pack([&b"ab"[..], b"c"].into_iter()).into_vec();
        assert_eq!(unpack(&b).collect::<Vec<_>>(), [&b"ab"[..], b"c"]);
        b[6] = 200;
        assert_eq!(unpack(&b).collect::<Vec<_>>(), [&b"ab"[..]]);
    }

    #[test]
    fn delete_marks_and_frees_an_emptied_node() {
        let mut s = StreamValue::new();
        add(&mut s, 1, &[b"a", b"1"]);
        add(&mut s, 2, &[b"a", b"2"]);
        assert!(s.delete(StreamId::new(2, 0)));
        assert!(!s.delete(StreamId::new(2, 0)));
        assert_eq!(s.max_deleted(), StreamId::new(2, 0));
        assert!(s.delete(StreamId::new(1, 0)));
        assert!(s.nodes.is_empty());
        assert_eq!(s.last_id(), StreamId::new(2, 0));
        assert_eq!(s.entries_added(), 2);
    }
}
