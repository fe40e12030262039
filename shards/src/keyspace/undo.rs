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
//! the buffers have grown.
//!
//! A write to a collection (`Store::edit_object`) journals what it changes
//! element by element when the collection is a hashtable: this field was
//! absent, or held this value; this member was there, or was not. Copying
//! the whole value would make every write to a big hash or set O(size).
//! A list of several nodes journals positions (this element was removed
//! from index i, one was inserted at i, the one at i was this), a large
//! sorted set each member's old score, a stream the entries it gained or
//! lost and what a consumer group change replaced (a pending entry, a
//! consumer, the group's position); a rollback replays them backwards.
//! A compact encoding (listpack, intset: one allocation of a few KB at
//! most) is copied whole instead, which also undoes a conversion the write
//! made. Conversions only ever go from compact to hashtable, so undoing
//! element entries on a hashtable never meets another encoding. What is not undone is what no reply or record
//! depends on: LRU order, access times, statistics, arena positions, and
//! WATCH flags (a watcher may see a rolled-back write as a change, so its
//! EXEC aborts; that is safe).

use super::{key_bytes, record, Layout, Lookup, NewValue, Store, StrEncoding, VAL_OBJ};
use crate::value::{Member, Object, StreamId};

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
    /// `db key field had [value]`: a hash field was absent (had 0) or held
    /// this value (had 1).
    HashField,
    /// `db key member was`: a set member was absent (0) or present (1).
    SetMember,
    /// `db key`, and the next object of the side table: the key's value
    /// was this object (replaced whole; TTL and record unchanged).
    ObjWas,
    /// `from_db from_key to_db to_key`: RENAME (or a same-shard move under
    /// a new name): the value now at `to` was at `from`.
    Renamed,
    /// `db key`: the set was a hashtable (SPOP replaced it by a new set
    /// that may be an intset; undone after its members are back).
    SetTable,
    /// `db key what index [element]`: in a list, an element was inserted
    /// at `index` (what 0), the element there was removed (1) or replaced
    /// (2), and was `element`.
    ListAt,
    /// `db key member had [score]`: a sorted-set member was absent (had 0)
    /// or had this score (1).
    ZSetMember,
    /// `db key last added max_deleted`: a stream's counters before an edit.
    StreamMeta,
    /// `db key id`: this entry was appended to a stream.
    StreamAdded,
    /// `db key id packed`: this entry was removed from a stream.
    StreamRemoved,
    /// `db key name`, and the next change of the side table: what a
    /// change to a stream's consumer group `name` replaced.
    StreamGroup,
}

/// The journal of the changes since the last `forget`.
#[derive(Default)]
pub(super) struct Journal {
    bytes: Vec<u8>,
    marks: Vec<(Tag, u32)>,
    objects: Vec<Object>,
    stores: Vec<Store>,
    groups: Vec<crate::value::stream::GroupUndo>,
}

/// A journal above this many bytes is given back after use, not kept.
const KEEP_BYTES: usize = 1 << 20;

/// What an edit of a collection changes, for the undo journal; handed to
/// the closure of `Store::edit_object`. Off (every call a no-op) when
/// journaling is off or the value was copied whole before the edit.
pub struct Undo<'a> {
    on: Option<(&'a mut Journal, u8, &'a [u8])>,
}

impl Undo<'_> {
    /// An undo log that records nothing.
    pub fn off() -> Undo<'static> {
        Undo { on: None }
    }

    /// True when element changes must be reported.
    pub fn is_on(&self) -> bool {
        self.on.is_some()
    }

    /// A hash field is about to change: it held `old` (None: absent).
    pub fn field(&mut self, field: &[u8], old: Option<&[u8]>) {
        if let Some((j, db, key)) = self.on.as_mut() {
            j.key_entry(Tag::HashField, *db, key);
            j.bytes(field);
            match old {
                Some(v) => {
                    j.u8(1);
                    j.bytes(v);
                }
                None => j.u8(0),
            }
        }
    }

    /// A set member is about to be added (`was`: false) or removed (true).
    pub fn member(&mut self, member: Member<'_>, was: bool) {
        if let Some((j, db, key)) = self.on.as_mut() {
            j.key_entry(Tag::SetMember, *db, key);
            member.with_bytes(|m| j.bytes(m));
            j.u8(was as u8);
        }
    }

    /// A list element was inserted at `index`.
    pub fn list_inserted(&mut self, index: usize) {
        if let Some((j, db, key)) = self.on.as_mut() {
            j.key_entry(Tag::ListAt, *db, key);
            j.u8(0);
            j.u64(index as u64);
        }
    }

    /// The list element at `index`, `elem`, is about to be removed.
    pub fn list_removed(&mut self, index: usize, elem: &[u8]) {
        if let Some((j, db, key)) = self.on.as_mut() {
            j.key_entry(Tag::ListAt, *db, key);
            j.u8(1);
            j.u64(index as u64);
            j.bytes(elem);
        }
    }

    /// The list element at `index`, `old`, is about to be replaced.
    pub fn list_replaced(&mut self, index: usize, old: &[u8]) {
        if let Some((j, db, key)) = self.on.as_mut() {
            j.key_entry(Tag::ListAt, *db, key);
            j.u8(2);
            j.u64(index as u64);
            j.bytes(old);
        }
    }

    /// A sorted-set member is about to change: it had score `old` (None:
    /// it was absent).
    pub fn zset_member(&mut self, member: &[u8], old: Option<f64>) {
        if let Some((j, db, key)) = self.on.as_mut() {
            j.key_entry(Tag::ZSetMember, *db, key);
            j.bytes(member);
            match old {
                Some(s) => {
                    j.u8(1);
                    j.u64(s.to_bits());
                }
                None => j.u8(0),
            }
        }
    }

    /// A stream's counters before the edit.
    pub fn stream_meta(&mut self, last: StreamId, added: u64, max_deleted: StreamId) {
        if let Some((j, db, key)) = self.on.as_mut() {
            j.key_entry(Tag::StreamMeta, *db, key);
            for v in [last.ms, last.seq, added, max_deleted.ms, max_deleted.seq] {
                j.u64(v);
            }
        }
    }

    /// Entry `id` was appended to the stream.
    pub fn stream_added(&mut self, id: StreamId) {
        if let Some((j, db, key)) = self.on.as_mut() {
            j.key_entry(Tag::StreamAdded, *db, key);
            j.u64(id.ms);
            j.u64(id.seq);
        }
    }

    /// Entry `id` (its packed pairs) was removed from the stream.
    pub fn stream_removed(&mut self, id: StreamId, packed: &[u8]) {
        if let Some((j, db, key)) = self.on.as_mut() {
            j.key_entry(Tag::StreamRemoved, *db, key);
            j.u64(id.ms);
            j.u64(id.seq);
            j.bytes(packed);
        }
    }

    /// A stream's consumer group `name` changed: `change` says what it
    /// replaced.
    pub fn stream_group(&mut self, name: &[u8], change: crate::value::stream::GroupUndo) {
        if let Some((j, db, key)) = self.on.as_mut() {
            j.key_entry(Tag::StreamGroup, *db, key);
            j.bytes(name);
            j.groups.push(change);
        }
    }

    /// The set is a hashtable and is about to be replaced by a new set of
    /// some of its members (SPOP); report the members it loses after this.
    pub fn set_was_table(&mut self) {
        if let Some((j, db, key)) = self.on.as_mut() {
            j.key_entry(Tag::SetTable, *db, key);
        }
    }

    /// The whole value was replaced and `old` is what it was: kept for a
    /// rollback when the log is on, else handed back (to be freed).
    #[must_use]
    pub fn keep(&mut self, old: Object) -> Option<Object> {
        match self.on.as_mut() {
            Some((j, db, key)) => {
                j.key_entry(Tag::ObjWas, *db, key);
                j.objects.push(old);
                None
            }
            None => Some(old),
        }
    }
}

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
    fn key_entry(&mut self, tag: Tag, db: u8, key: &[u8]) {
        self.begin(tag);
        self.u8(db);
        self.bytes(key);
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.marks.clear();
        self.objects.clear();
        self.stores.clear();
        self.groups.clear();
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

    /// The changes since the last call are final: drops what they replaced
    /// (big values on the lazy-free thread).
    pub fn forget(&mut self) {
        if let Some(j) = self.journal.as_mut() {
            if let Some(lazy) = &self.lazy {
                for o in j.objects.drain(..) {
                    lazy.free(o);
                }
                for s in j.stores.drain(..) {
                    lazy.free_store(s);
                }
            }
            j.clear();
        }
    }

    /// The object at `pos`, writable, when the value is one: `f` changes
    /// it and reports each element it changes to the `Undo` it is given
    /// (see the module's notes); the store's memory accounting follows.
    /// Journaled, a compact value is copied whole first and `Undo` is off.
    pub fn edit_object<R>(
        &mut self,
        pos: u32,
        f: impl FnOnce(&mut Object, &mut Undo<'_>) -> R,
    ) -> Option<R> {
        let c = self.arena.chunk(pos);
        let l = Layout::of(c);
        if l.meta & VAL_OBJ == 0 {
            return None;
        }
        let h = record::get_u32(c, l.val_at);
        let db = record::db_of(l.meta) as u8;
        let whole = self.journaling() && self.objects.get(h).cheap_to_copy();
        if whole {
            let copy = self.objects.get(h).clone();
            self.note_was(pos, Some(copy));
        }
        let key = key_bytes(&self.arena, &self.long_keys, pos);
        let journal = if whole {
            None
        } else {
            self.journal.as_deref_mut()
        };
        let mut undo = Undo {
            on: journal.map(|j| (j, db, key)),
        };
        let o = self.objects.get_mut(h);
        let before = o.heap_bytes();
        let r = f(o, &mut undo);
        let after = o.heap_bytes();
        self.object_bytes = self.object_bytes + after - before;
        Some(r)
    }

    /// Records that the value of `from_key` in `from_db` now lives under
    /// `to_key` in `to_db` (RENAME).
    pub(super) fn note_renamed(
        &mut self,
        from_db: usize,
        from_key: &[u8],
        to_db: usize,
        to_key: &[u8],
    ) {
        if let Some(j) = self.journal.as_mut() {
            j.key_entry(Tag::Renamed, from_db as u8, from_key);
            j.u8(to_db as u8);
            j.bytes(to_key);
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

    /// Keeps the store a FLUSHALL replaced when journaling; else hands it
    /// back to be freed.
    pub(super) fn keep_flushed(&mut self, old: Store) -> Option<Store> {
        match self.journal.as_mut() {
            Some(j) => {
                j.begin(Tag::FlushAll);
                j.stores.push(old);
                None
            }
            None => Some(old),
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
                    old.lazy = self.lazy.take();
                    old.lru_now = self.lru_now;
                    *self = old;
                }
                Tag::HashField => {
                    let db = c.u8() as usize;
                    let key = c.bytes();
                    let field = c.bytes();
                    let old = (c.u8() == 1).then(|| c.bytes());
                    let limits = self.limits.values.hash;
                    if let Some(pos) = self.lookup(db, key, 0, Lookup::PEEK) {
                        self.with_object(pos, |o| {
                            if let Object::Hash(h) = o {
                                match old {
                                    Some(v) => {
                                        h.set(field, v, &limits);
                                    }
                                    None => {
                                        h.remove(field);
                                    }
                                }
                            }
                        });
                    }
                }
                Tag::SetMember => {
                    let db = c.u8() as usize;
                    let key = c.bytes();
                    let member = c.bytes();
                    let was = c.u8() == 1;
                    let limits = self.limits.values.set;
                    if let Some(pos) = self.lookup(db, key, 0, Lookup::PEEK) {
                        self.with_object(pos, |o| {
                            if let Object::Set(s) = o {
                                if was {
                                    s.add(member, &limits);
                                } else {
                                    s.remove(member);
                                }
                            }
                        });
                    }
                }
                Tag::ObjWas => {
                    let db = c.u8() as usize;
                    let key = c.bytes();
                    let old = j.objects.pop().expect("an object per ObjWas entry");
                    if let Some(pos) = self.lookup(db, key, 0, Lookup::PEEK) {
                        self.with_object(pos, |o| *o = old);
                    }
                }
                Tag::SetTable => {
                    let db = c.u8() as usize;
                    let key = c.bytes();
                    if let Some(pos) = self.lookup(db, key, 0, Lookup::PEEK) {
                        self.with_object(pos, |o| {
                            if let Object::Set(s) = o {
                                s.convert_to_table();
                            }
                        });
                    }
                }
                Tag::ListAt => {
                    let db = c.u8() as usize;
                    let key = c.bytes();
                    let what = c.u8();
                    let index = c.u64() as usize;
                    let elem = if what == 0 { &[][..] } else { c.bytes() };
                    if let Some(pos) = self.lookup(db, key, 0, Lookup::PEEK) {
                        self.with_object(pos, |o| {
                            if let Object::List(l) = o {
                                match what {
                                    0 => l.remove_range(index, 1),
                                    1 => l.insert_at(index, elem),
                                    _ => {
                                        l.set(index as i64, elem);
                                    }
                                }
                            }
                        });
                    }
                }
                Tag::ZSetMember => {
                    let db = c.u8() as usize;
                    let key = c.bytes();
                    let member = c.bytes();
                    let old = (c.u8() == 1).then(|| f64::from_bits(c.u64()));
                    let limits = self.limits.values.zset;
                    if let Some(pos) = self.lookup(db, key, 0, Lookup::PEEK) {
                        self.with_object(pos, |o| {
                            if let Object::ZSet(z) = o {
                                match old {
                                    Some(s) => {
                                        z.insert_or_update(member, s, &limits);
                                    }
                                    None => {
                                        z.remove(member);
                                    }
                                }
                            }
                        });
                    }
                }
                Tag::StreamMeta | Tag::StreamAdded | Tag::StreamRemoved => {
                    let db = c.u8() as usize;
                    let key = c.bytes();
                    let (a, b) = (c.u64(), c.u64());
                    let (rest, packed) = match tag {
                        Tag::StreamMeta => ([c.u64(), c.u64(), c.u64()], &[][..]),
                        Tag::StreamRemoved => ([0; 3], c.bytes()),
                        _ => ([0; 3], &[][..]),
                    };
                    if let Some(pos) = self.lookup(db, key, 0, Lookup::PEEK) {
                        self.with_object(pos, |o| {
                            if let Object::Stream(s) = o {
                                let id = StreamId::new(a, b);
                                match tag {
                                    Tag::StreamMeta => {
                                        s.set_meta(id, rest[0], StreamId::new(rest[1], rest[2]))
                                    }
                                    Tag::StreamAdded => s.unappend(id),
                                    _ => s.restore(id, packed.into()),
                                }
                            }
                        });
                    }
                }
                Tag::StreamGroup => {
                    let db = c.u8() as usize;
                    let key = c.bytes();
                    let name = c.bytes();
                    let change = j.groups.pop();
                    if let (Some(pos), Some(change)) =
                        (self.lookup(db, key, 0, Lookup::PEEK), change)
                    {
                        self.with_object(pos, |o| {
                            use crate::value::stream::GroupUndo;
                            if let Object::Stream(s) = o {
                                match change {
                                    GroupUndo::Whole(Some(g)) => {
                                        s.groups_mut().insert(name.into(), g);
                                    }
                                    GroupUndo::Whole(None) => {
                                        s.groups_mut().remove(name);
                                    }
                                    change => {
                                        if let Some(g) = s.groups_mut().get_mut(name) {
                                            g.undo(change);
                                        }
                                    }
                                }
                            }
                        });
                    }
                }
                Tag::Renamed => {
                    let from_db = c.u8() as usize;
                    let from_key = c.bytes();
                    let to_db = c.u8() as usize;
                    let to_key = c.bytes();
                    if let Some(pos) = self.lookup(to_db, to_key, 0, Lookup::PEEK) {
                        let (value, exp, enc) = self.detach(pos);
                        let _ = self.insert_owned(from_db, from_key, value, enc, exp);
                    }
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
