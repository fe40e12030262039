//! The undo journal: how a shard takes back the writes of a group whose AOF
//! records could not be written.
//!
//! A shard executes a drained group of batches, then writes their records
//! with one `write` (and, under `appendfsync always`, one fsync) before any
//! reply leaves. If that fails, the group's writes are answered with MISCONF,
//! and a MISCONF write must not stay applied: a client that retries a refused
//! INCR would count twice. So while journaling is on, every change to the
//! store pushes the state it replaces: the old block of a value (moved, not
//! copied), the old TTL, the entry an insert created or a removal took out,
//! the whole store a FLUSHALL set aside. `rollback` undoes them newest first;
//! `forget` drops them once the group's records are safe.
//!
//! Slab slots come back exactly: a removal pushes its slot on the free list
//! and an insert pops the head, so undoing in reverse order finds each freed
//! slot at the head again (every removal is journaled, lazy expiry's too).
//! What is not undone is what no reply or record depends on: LRU order,
//! access times, statistics, and WATCH flags (a watcher may see a rolled-back
//! write as a change, so its EXEC aborts; that is safe).

use super::{alloc_size, Entry, Store, StrEncoding, NIL};
use std::mem;

/// One change, with what it replaced.
pub(super) enum Undo {
    /// An entry was created in slot `idx`; `pushed`: the slab grew for it.
    Inserted { idx: u32, pushed: bool },
    /// The entry in slot `idx` was removed (deleted, expired, evicted).
    Removed {
        idx: u32,
        db: u8,
        klen: u32,
        data: Box<[u8]>,
        expire_at: u64,
        atime: u32,
        enc: StrEncoding,
    },
    /// The key+value block of slot `idx` was replaced (`data`, when it
    /// changed) or only its encoding.
    Data {
        idx: u32,
        data: Option<Box<[u8]>>,
        enc: StrEncoding,
    },
    /// The TTL of slot `idx` changed.
    Expire { idx: u32, at: u64 },
    /// One byte of slot `idx`'s block changed in place (SETBIT), and the
    /// block may have grown from `len` bytes.
    Byte {
        idx: u32,
        len: usize,
        pos: usize,
        old: u8,
        enc: StrEncoding,
    },
    /// Slot `idx` moved from database `from` to `to` (MOVE).
    Moved { idx: u32, from: u8, to: u8 },
    /// SWAPDB of two databases (its own inverse).
    SwapDb(u8, u8),
    /// FLUSHALL: the whole store as it was.
    FlushAll(Box<Store>),
}

/// A journal above this many entries is given back after use, not kept.
const KEEP_CAPACITY: usize = 4096;

impl Store {
    /// Turns the undo journal on (the AOF is on: a group's records may fail)
    /// or off (nothing to roll back to; changes cost nothing extra).
    pub fn set_journaling(&mut self, on: bool) {
        self.journal = on.then(Vec::new);
    }

    /// True while changes are journaled.
    #[inline]
    pub(super) fn journaling(&self) -> bool {
        self.journal.is_some()
    }

    /// True when a change was journaled since the last `forget`.
    pub fn has_changes(&self) -> bool {
        self.journal.as_ref().is_some_and(|j| !j.is_empty())
    }

    #[inline]
    pub(super) fn note(&mut self, u: Undo) {
        if let Some(j) = self.journal.as_mut() {
            j.push(u);
        }
    }

    /// The changes since the last call are final: drops what they replaced.
    pub fn forget(&mut self) {
        if let Some(j) = self.journal.as_mut() {
            j.clear();
            if j.capacity() > KEEP_CAPACITY {
                *j = Vec::new();
            }
        }
    }

    /// Undoes every change since the last `forget`, newest first.
    pub fn rollback(&mut self) {
        let Some(mut journal) = self.journal.take() else {
            return;
        };
        // With the journal taken, the primitives below record nothing.
        while let Some(u) = journal.pop() {
            self.undo(u);
        }
        if journal.capacity() > KEEP_CAPACITY {
            journal = Vec::new();
        }
        self.journal = Some(journal);
    }

    fn undo(&mut self, u: Undo) {
        match u {
            Undo::Inserted { idx, pushed } => {
                self.remove_by_idx(idx);
                if pushed {
                    // The slot was appended for this entry and every later
                    // slot is undone already: take it off the slab again.
                    debug_assert_eq!(idx as usize + 1, self.entries.len());
                    self.unfree(idx);
                    self.entries.pop();
                }
            }
            Undo::Removed {
                idx,
                db,
                klen,
                data,
                expire_at,
                atime,
                enc,
            } => {
                self.unfree(idx);
                let h = self.hash(&data[..klen as usize]);
                self.place(
                    idx,
                    h,
                    Entry {
                        data,
                        expire_at: 0,
                        klen,
                        prev: NIL,
                        next: NIL,
                        vpos: NIL,
                        atime,
                        db,
                        live: true,
                        enc,
                    },
                );
                if expire_at != 0 {
                    self.set_expire(idx, expire_at);
                }
            }
            Undo::Data { idx, data, enc } => {
                let e = &mut self.entries[idx as usize];
                e.enc = enc;
                if let Some(data) = data {
                    let now = alloc_size(e.data.len());
                    e.data = data;
                    self.data_bytes = self.data_bytes - now + alloc_size(e.data.len());
                }
            }
            Undo::Expire { idx, at } => self.set_expire(idx, at),
            Undo::Byte {
                idx,
                len,
                pos,
                old,
                enc,
            } => {
                let e = &mut self.entries[idx as usize];
                let klen = e.klen as usize;
                let now = alloc_size(e.data.len());
                if pos < len {
                    e.data[klen + pos] = old;
                }
                if e.data.len() != klen + len {
                    let mut v = mem::take(&mut e.data).into_vec();
                    v.truncate(klen + len);
                    e.data = v.into_boxed_slice();
                }
                e.enc = enc;
                self.data_bytes = self.data_bytes - now + alloc_size(e.data.len());
            }
            Undo::Moved { idx, from, to } => self.refile(idx, to as usize, from as usize),
            Undo::SwapDb(a, b) => self.swap_db(a as usize, b as usize),
            Undo::FlushAll(old) => {
                let mut old = *old;
                // What FLUSHALL carried over to the empty store stays current.
                old.stats = self.stats;
                old.watches = self.watches.take();
                old.evicted = self.evicted.take();
                *self = old;
            }
        }
    }

    /// Takes vacant slot `idx` off the free list (it is the head when undone
    /// in order; any other position is found by a walk).
    fn unfree(&mut self, idx: u32) {
        if self.free == idx {
            self.free = self.entries[idx as usize].next;
            return;
        }
        let mut cur = self.free;
        while cur != NIL {
            let next = self.entries[cur as usize].next;
            if next == idx {
                self.entries[cur as usize].next = self.entries[idx as usize].next;
                return;
            }
            cur = next;
        }
        debug_assert!(false, "slot {idx} is not on the free list");
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{EvictionPolicy, Expiry, Limits, Store, StrEncoding};

    /// Everything observable about a store's keys: (db, key, value, expiry, encoding).
    fn dump(s: &Store) -> Vec<(u8, Vec<u8>, Vec<u8>, u64)> {
        let mut v = Vec::new();
        let mut cursor = 0;
        loop {
            let next = s.snapshot_range(cursor, 1024, 0, |db, k, val, exp| {
                v.push((db, k.to_vec(), val.to_vec(), exp))
            });
            match next {
                Some(c) => cursor = c,
                None => break,
            }
        }
        v.sort();
        v
    }

    fn counts(s: &Store) -> (usize, usize, Vec<usize>, Vec<usize>) {
        (
            s.len(),
            // Bytes of blocks (table capacities may stay grown).
            s.data_bytes,
            (0..4).map(|d| s.db_len(d)).collect(),
            (0..4).map(|d| s.db_expires(d)).collect(),
        )
    }

    fn seeded() -> Store {
        let mut s = Store::new(Limits::default());
        s.set_journaling(true);
        for i in 0..50u32 {
            let exp = if i % 3 == 0 {
                Expiry::At(1_000_000 + i as u64)
            } else {
                Expiry::Clear
            };
            s.set(
                (i % 4) as usize,
                format!("k{i}").as_bytes(),
                &[i as u8; 40],
                exp,
                0,
            )
            .unwrap();
        }
        s.del(0, b"k4", 0);
        s.del(1, b"k9", 0);
        s.forget();
        s
    }

    #[test]
    fn rollback_restores_every_kind_of_change() {
        let mut s = seeded();
        let before = dump(&s);
        let counts_before = counts(&s);
        // One group with every kind of change, some on the same key twice.
        s.set(0, b"k0", b"short", Expiry::Clear, 0).unwrap();
        s.set(0, b"k0", &[9; 40], Expiry::Keep, 0).unwrap();
        s.set(0, b"new", b"v", Expiry::At(5_000_000), 0).unwrap();
        s.del(1, b"k1", 0);
        s.set(1, b"k1", b"again", Expiry::Clear, 0).unwrap();
        s.expire(2, b"k2", 7_000_000, 0);
        s.expire(3, b"k3", 0, 0);
        s.value_for_update(2, b"k6", 100, 0).unwrap().0[99] = 1;
        s.value_for_update(3, b"k7", 1, 0).unwrap().0[0] = 0xff;
        s.value_for_update(0, b"bits", 8, 0).unwrap().0[7] = 1;
        assert!(s.move_key(2, 3, b"k10", 0).is_some());
        s.swap_db(0, 1);
        s.flush_db(2);
        s.set(2, b"after-flushdb", b"x", Expiry::Clear, 0).unwrap();
        s.flush_all();
        s.set(0, b"after-flushall", b"y", Expiry::Clear, 0).unwrap();
        s.del(0, b"after-flushall", 0);
        assert!(s.has_changes());
        s.rollback();
        assert!(!s.has_changes());
        assert_eq!(dump(&s), before);
        assert_eq!(counts(&s), counts_before);
        // The slab and free list are whole: new writes and reads still work.
        for i in 0..100u32 {
            s.set(1, format!("z{i}").as_bytes(), b"v", Expiry::Clear, 0)
                .unwrap();
        }
        assert_eq!(s.len(), counts_before.0 + 100);
        assert_eq!(s.peek(0, b"k0", 0), Some(&[0u8; 40][..]));
        assert_eq!(
            s.object_info(3, b"k7", 0).map(|(v, e, _)| (v.to_vec(), e)),
            Some((vec![7u8; 40], StrEncoding::Auto))
        );
    }

    #[test]
    fn forget_keeps_the_changes_and_lazy_expiry_and_eviction_roll_back_too() {
        let mut s = seeded();
        s.set(0, b"kept", b"1", Expiry::Clear, 0).unwrap();
        s.forget();
        s.rollback();
        assert_eq!(s.peek(0, b"kept", 0), Some(&b"1"[..]));

        let before = dump(&s);
        let n = s.len();
        // A read that expires a key, and a write that evicts one.
        assert_eq!(s.get(0, b"k0", 2_000_000), None);
        s.set_limits(Limits {
            maxmemory: 0,
            max_keys: n - 1,
            policy: EvictionPolicy::AllKeysLru,
        });
        s.track_evictions(true);
        s.set(0, b"one-more", b"v", Expiry::Clear, 0).unwrap();
        let mut evicted = Vec::new();
        s.drain_evicted(|_, k| evicted.push(k.to_vec()));
        assert_eq!(evicted.len(), 1, "the key to log as DEL");
        s.rollback();
        assert_eq!(dump(&s), before);
        assert_eq!(s.len(), n);
    }

    #[test]
    fn random_groups_roll_back_to_exactly_where_they_started() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut s = Store::new(Limits {
            maxmemory: 0,
            max_keys: 300,
            policy: EvictionPolicy::AllKeysRandom,
        });
        s.set_journaling(true);
        s.track_evictions(true);
        let mut now = 1_000u64;
        for round in 0..300 {
            let rollback = round % 3 != 0;
            let before = dump(&s);
            let counts_before = counts(&s);
            for _ in 0..rnd(40) {
                let db = rnd(4) as usize;
                let key = format!("k{}", rnd(400));
                let k = key.as_bytes();
                match rnd(12) {
                    0..=3 => {
                        let exp = match rnd(3) {
                            0 => Expiry::At(now + rnd(50)),
                            1 => Expiry::Keep,
                            _ => Expiry::Clear,
                        };
                        let v = vec![rnd(256) as u8; rnd(60) as usize];
                        let _ = s.set(db, k, &v, exp, now);
                    }
                    4 | 5 => {
                        s.del(db, k, now);
                    }
                    6 => {
                        s.expire(db, k, if rnd(2) == 0 { 0 } else { now + rnd(50) }, now);
                    }
                    7 => {
                        let min_len = 1 + rnd(70) as usize;
                        if let Ok((v, _, _)) = s.value_for_update(db, k, min_len, now) {
                            v[min_len - 1] ^= 0x55;
                        }
                    }
                    8 => {
                        let _ = s.move_key(db, rnd(4) as usize, k, now);
                    }
                    9 => {
                        let _ = s.get(db, k, now);
                    }
                    10 => s.swap_db(db, rnd(4) as usize),
                    _ => match rnd(20) {
                        0 => s.flush_all(),
                        1 => s.flush_db(db),
                        _ => {
                            s.active_expire(now, std::time::Duration::from_millis(1));
                        }
                    },
                }
                now += rnd(3);
            }
            s.drain_evicted(|_, _| {});
            if rollback {
                s.rollback();
                assert!(dump(&s) == before, "round {round}: the keys differ");
                assert_eq!(counts(&s), counts_before, "round {round}");
            } else {
                s.forget();
            }
        }
    }

    #[test]
    fn journaling_off_records_nothing() {
        let mut s = Store::default();
        s.set(0, b"a", b"1", Expiry::Clear, 0).unwrap();
        assert!(!s.has_changes());
        s.rollback();
        assert_eq!(s.peek(0, b"a", 0), Some(&b"1"[..]));
    }
}
