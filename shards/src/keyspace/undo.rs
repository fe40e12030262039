//! The undo journal: how a shard takes back the writes of a group whose AOF
//! records could not be written.
//!
//! A shard executes a drained group of batches, then writes their records
//! with one `write` (and, under `appendfsync always`, one fsync) before any
//! reply leaves. If that fails, the group's writes are answered with MISCONF,
//! and a MISCONF write must not stay applied: a client that retries a refused
//! INCR would count twice. So while journaling is on (the AOF is on), every
//! change to a key first records what it replaces: the key was absent, or
//! held this value with this TTL and encoding, or had this TTL, or this byte
//! (SETBIT), or lived in that database; a FLUSHALL sets the whole store
//! aside. `rollback` undoes them newest first; `forget` drops them once the
//! group's records are safe.
//!
//! Entries live in one byte buffer (objects a change replaced are moved into
//! a side table, not copied), so journaling allocates nothing per write once
//! the buffers have grown. What is not undone is what no reply or record
//! depends on: LRU order, access times, statistics, arena positions, and
//! WATCH flags (a watcher may see a rolled-back write as a change, so its
//! EXEC aborts; that is safe).

use super::{Lookup, NewValue, Store, StrEncoding};
use crate::value::Object;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    /// `db key`: the key did not exist.
    Created,
    /// `db key expire enc vlen value`: the key held this string.
    WasStr,
    /// `db key expire`, and the next object of the side table.
    WasObj,
    /// `db key at`: the key had this TTL (0 = none).
    Ttl,
    /// `db key len pos old enc`: one byte changed in place, and the value
    /// may have grown from `len` bytes.
    Byte,
    /// `from to key`: MOVE.
    Moved,
    /// `a b`: SWAPDB (its own inverse).
    SwapDb,
    /// The next store of the side table: FLUSHALL.
    FlushAll,
}

/// The journal of the changes since the last `forget`.
#[derive(Default)]
pub(super) struct Journal {
    bytes: Vec<u8>,
    marks: Vec<(Tag, u32)>,
    objects: Vec<Object>,
    stores: Vec<Store>,
}

/// A journal above this many bytes is given back after use, not kept.
const KEEP_BYTES: usize = 1 << 20;

/// Reads a journal entry's fields in order.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn u8(&mut self) -> u8 {
        self.at += 1;
        self.b[self.at - 1]
    }
    fn u64(&mut self) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.b[self.at..self.at + 8]);
        self.at += 8;
        u64::from_le_bytes(w)
    }
    fn bytes(&mut self) -> &'a [u8] {
        let n = self.u64() as usize;
        self.at += n;
        &self.b[self.at - n..self.at]
    }
}

impl Journal {
    fn begin(&mut self, tag: Tag) {
        self.marks.push((tag, self.bytes.len() as u32));
    }
    fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }
    fn u64(&mut self, v: u64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.bytes.extend_from_slice(b);
    }
    fn clear(&mut self) {
        self.bytes.clear();
        self.marks.clear();
        self.objects.clear();
        self.stores.clear();
        if self.bytes.capacity() > KEEP_BYTES {
            self.bytes = Vec::new();
            self.marks = Vec::new();
        }
    }
}

impl Store {
    /// Turns the undo journal on (the AOF is on: a group's records may fail)
    /// or off (nothing to roll back to; changes cost nothing extra).
    pub fn set_journaling(&mut self, on: bool) {
        self.journal = on.then(Box::default);
    }

    /// True when a change was journaled since the last `forget`.
    pub fn has_changes(&self) -> bool {
        self.journal.as_ref().is_some_and(|j| !j.marks.is_empty())
    }

    /// The changes since the last call are final: drops what they replaced.
    pub fn forget(&mut self) {
        if let Some(j) = self.journal.as_mut() {
            j.clear();
        }
    }

    /// Records that `key` of `db` did not exist.
    pub(super) fn note_created(&mut self, db: usize, key: &[u8]) {
        if let Some(j) = self.journal.as_mut() {
            j.begin(Tag::Created);
            j.u8(db as u8);
            j.bytes(key);
        }
    }

    /// Records the whole state of the record at `pos` before it changes or
    /// goes; `obj` is its object when the caller took it out (it is kept).
    /// Returns the object back when journaling is off.
    pub(super) fn note_was(&mut self, pos: u32, obj: Option<Object>) -> Option<Object> {
        let Some(mut j) = self.journal.take() else {
            return obj;
        };
        let db = self.db_at(pos);
        let exp = self.expire_of(pos);
        let enc = self.encoding_at(pos);
        match obj {
            Some(o) => {
                j.begin(Tag::WasObj);
                j.u8(db as u8);
                j.bytes(self.key_at(pos));
                j.u64(exp);
                j.objects.push(o);
            }
            None => {
                j.begin(Tag::WasStr);
                j.u8(db as u8);
                j.bytes(self.key_at(pos));
                j.u64(exp);
                j.u8(enc as u8);
                j.bytes(self.value_at(pos).as_str().unwrap_or_default());
            }
        }
        self.journal = Some(j);
        None
    }

    /// Records the TTL of the record at `pos` before it changes.
    pub(super) fn note_ttl(&mut self, pos: u32) {
        if self.journal.is_none() {
            return;
        }
        let (db, at) = (self.db_at(pos), self.expire_of(pos));
        let mut j = self.journal.take().expect("journaling");
        j.begin(Tag::Ttl);
        j.u8(db as u8);
        j.bytes(self.key_at(pos));
        j.u64(at);
        self.journal = Some(j);
    }

    /// Records one byte of the string at `pos` (at `pos_in_value`, or past
    /// its end) and its length and encoding, before an in-place update.
    pub(super) fn note_byte(&mut self, pos: u32, at: usize) {
        if self.journal.is_none() {
            return;
        }
        let db = self.db_at(pos);
        let enc = self.encoding_at(pos) as u8;
        let v = self.value_at(pos).as_str().unwrap_or_default();
        let (len, old) = (v.len(), v.get(at).copied().unwrap_or(0));
        let mut j = self.journal.take().expect("journaling");
        j.begin(Tag::Byte);
        j.u8(db as u8);
        j.bytes(self.key_at(pos));
        j.u64(len as u64);
        j.u64(at as u64);
        j.u8(old);
        j.u8(enc);
        self.journal = Some(j);
    }

    /// Records a MOVE of `key` from `from` to `to`.
    pub(super) fn note_moved(&mut self, from: usize, to: usize, key: &[u8]) {
        if let Some(j) = self.journal.as_mut() {
            j.begin(Tag::Moved);
            j.u8(from as u8);
            j.u8(to as u8);
            j.bytes(key);
        }
    }

    /// Records a SWAPDB.
    pub(super) fn note_swap(&mut self, a: usize, b: usize) {
        if let Some(j) = self.journal.as_mut() {
            j.begin(Tag::SwapDb);
            j.u8(a as u8);
            j.u8(b as u8);
        }
    }

    /// Keeps the store a FLUSHALL replaced when journaling (else drops it).
    pub(super) fn keep_flushed(&mut self, old: Store) {
        if let Some(j) = self.journal.as_mut() {
            j.begin(Tag::FlushAll);
            j.stores.push(old);
        }
    }

    /// True while changes are journaled.
    pub(super) fn journaling(&self) -> bool {
        self.journal.is_some()
    }

    /// Undoes every change since the last `forget`, newest first.
    pub fn rollback(&mut self) {
        let Some(mut j) = self.journal.take() else {
            return;
        };
        // With the journal taken, the changes below record nothing.
        while let Some((tag, at)) = j.marks.pop() {
            let mut c = Cursor {
                b: &j.bytes,
                at: at as usize,
            };
            match tag {
                Tag::Created => {
                    let db = c.u8() as usize;
                    let key = c.bytes();
                    self.del(db, key, 0);
                }
                Tag::WasStr => {
                    let db = c.u8() as usize;
                    let key = c.bytes();
                    let exp = c.u64();
                    let enc = StrEncoding::from_bits(c.u8());
                    let value = c.bytes();
                    self.restore(db, key, NewValue::Bytes(value), exp, enc);
                }
                Tag::WasObj => {
                    let db = c.u8() as usize;
                    let key = c.bytes();
                    let exp = c.u64();
                    let obj = j.objects.pop().expect("an object per WasObj entry");
                    self.restore(db, key, NewValue::Obj(obj), exp, StrEncoding::Auto);
                }
                Tag::Ttl => {
                    let db = c.u8() as usize;
                    let key = c.bytes();
                    let at = c.u64();
                    if let Some(pos) = self.lookup(db, key, 0, Lookup::PEEK) {
                        self.set_expire_at(pos, at);
                    }
                }
                Tag::Byte => {
                    let db = c.u8() as usize;
                    let key = c.bytes();
                    let len = c.u64() as usize;
                    let at = c.u64() as usize;
                    let old = c.u8();
                    let enc = StrEncoding::from_bits(c.u8());
                    if let Some(pos) = self.lookup(db, key, 0, Lookup::PEEK) {
                        let mut v = self.value_at(pos).as_str().unwrap_or_default().to_vec();
                        if at < v.len() {
                            v[at] = old;
                        }
                        v.truncate(len);
                        let exp = self.expire_of(pos);
                        self.restore(db, key, NewValue::Bytes(&v), exp, enc);
                    }
                }
                Tag::Moved => {
                    let (from, to) = (c.u8() as usize, c.u8() as usize);
                    let key = c.bytes();
                    self.move_key(to, from, key, 0);
                }
                Tag::SwapDb => {
                    let (a, b) = (c.u8() as usize, c.u8() as usize);
                    self.swap_db(a, b);
                }
                Tag::FlushAll => {
                    let mut old = j.stores.pop().expect("a store per FlushAll entry");
                    // What FLUSHALL carried over to the empty store stays current.
                    old.stats = self.stats;
                    old.watches = self.watches.take();
                    old.evicted = self.evicted.take();
                    old.epoch = self.epoch;
                    *self = old;
                }
            }
        }
        j.clear();
        self.journal = Some(j);
    }

    /// Puts `key` back as it was: the given value, expiry and encoding,
    /// whatever it holds now, without limits or eviction (it fitted before).
    fn restore(&mut self, db: usize, key: &[u8], value: NewValue, exp: u64, enc: StrEncoding) {
        let h = self.hash(key);
        if let Some(pos) = self.find(db, h, key) {
            self.remove_at(pos);
        }
        // Only a full arena refuses, and it held this key a moment ago.
        let _ = self.insert(db, h, key, value, enc, exp);
    }
}
