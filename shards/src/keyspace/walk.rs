//! Walks over the keyspace: SCAN steps, KEYS, RANDOMKEY, and the snapshot
//! steps of the AOF rewrite. Walks over many calls follow the index in hash
//! order (`Index::scan`), so they see every key that lived throughout
//! whatever moves, grows or shrinks in between.

use super::{key_bytes, record, Layout, Store, ValueRef, LIVE, NUM_DBS, TTL, VAL_OBJ};
use crate::value::Kind;

impl Store {
    /// Calls `f(db, key, value, expire_at)` for the live, unexpired keys of
    /// about `max` buckets of the indexes from `cursor` on (databases in
    /// order, each in hash order); returns the cursor to resume from, or
    /// None once every database was walked. Cursor 0 starts.
    pub fn snapshot_range(
        &self,
        cursor: u64,
        max: usize,
        now_ms: u64,
        mut f: impl FnMut(u8, &[u8], ValueRef<'_>, u64),
    ) -> Option<u64> {
        let mut db = (cursor >> 32) as usize;
        let mut at = cursor as u32;
        let (arena, long_keys, hasher) = (&self.arena, &self.long_keys, &self.hasher);
        while db < NUM_DBS {
            let next = self.dbs[db].scan(
                at,
                max,
                |p| hasher.hash_one(key_bytes(arena, long_keys, p)),
                |pos| {
                    let chunk = arena.chunk(pos);
                    let l = Layout::of(chunk);
                    let exp = if l.meta & TTL != 0 {
                        record::expire_at(chunk)
                    } else {
                        0
                    };
                    if exp == 0 || exp > now_ms {
                        let value = if l.meta & VAL_OBJ != 0 {
                            ValueRef::Obj(self.objects.get(record::get_u32(chunk, l.val_at)))
                        } else {
                            ValueRef::Str(&chunk[l.val_at..l.val_at + l.vlen])
                        };
                        f(db as u8, key_bytes(arena, long_keys, pos), value, exp);
                    }
                },
            );
            match next {
                Some(c) => return Some(((db as u64) << 32) | c as u64),
                None => {
                    db += 1;
                    at = 0;
                }
            }
        }
        None
    }

    /// Calls `f(db, key, value, expire_at)` for every live, unexpired key
    /// of every database, in the arena's memory order (a snapshot's copy,
    /// made in one call while every shard is held: reading the records in
    /// the order they lie in memory is faster than in the index's order).
    pub fn for_each_record(&self, now_ms: u64, mut f: impl FnMut(usize, &[u8], ValueRef<'_>, u64)) {
        let (arena, long_keys) = (&self.arena, &self.long_keys);
        for page in 0..arena.page_count() {
            arena.chunks_of(page, |pos, chunk| {
                // A freed record's meta was cleared before its chunk was.
                if record::meta(chunk) & LIVE == 0 {
                    return;
                }
                let l = Layout::of(chunk);
                let exp = if l.meta & TTL != 0 {
                    record::expire_at(chunk)
                } else {
                    0
                };
                if exp != 0 && exp <= now_ms {
                    return;
                }
                let value = if l.meta & VAL_OBJ != 0 {
                    ValueRef::Obj(self.objects.get(record::get_u32(chunk, l.val_at)))
                } else {
                    ValueRef::Str(&chunk[l.val_at..l.val_at + l.vlen])
                };
                f(
                    record::db_of(l.meta),
                    key_bytes(arena, long_keys, pos),
                    value,
                    exp,
                );
            });
        }
    }

    /// Every live key of one database, in no particular order (KEYS).
    pub fn for_each_key(&self, db: usize, now_ms: u64, mut f: impl FnMut(&[u8])) {
        for pos in self.dbs[db].iter() {
            if !self.is_expired(pos, now_ms) {
                f(self.key_at(pos));
            }
        }
    }

    /// The position of every live key of one database, in no particular
    /// order (DEBUG DIGEST).
    pub fn for_each_pos(&self, db: usize, now_ms: u64, mut f: impl FnMut(u32)) {
        for pos in self.dbs[db].iter() {
            if !self.is_expired(pos, now_ms) {
                f(pos);
            }
        }
    }

    /// One step of a SCAN over database `db` from `cursor` (0 starts):
    /// hands every live, unexpired key of about `count` index buckets and
    /// its type to `f`, and returns the cursor to resume from, or None when
    /// the walk is over. A walk over many steps, with any writes in
    /// between, returns every key that existed throughout exactly once.
    pub fn scan(
        &self,
        db: usize,
        cursor: u32,
        count: usize,
        now_ms: u64,
        mut f: impl FnMut(&[u8], Kind),
    ) -> Option<u32> {
        let (arena, long_keys, hasher) = (&self.arena, &self.long_keys, &self.hasher);
        self.dbs[db].scan(
            cursor,
            count,
            |p| hasher.hash_one(key_bytes(arena, long_keys, p)),
            |pos| {
                if self.is_expired(pos, now_ms) {
                    return;
                }
                let kind = self.kind_at(pos);
                f(key_bytes(arena, long_keys, pos), kind);
            },
        )
    }

    /// A uniformly chosen live key of `db` (RANDOMKEY), or None when the
    /// database is empty. Expired keys drawn on the way are removed and the
    /// draw repeats, as Redis's `dbRandomKey` does on a master, so the work
    /// is bounded by the expired keys it clears.
    pub fn random_key(&mut self, db: usize, now_ms: u64) -> Option<&[u8]> {
        loop {
            let rng = &mut self.rng;
            let pos = self.dbs[db].random(|n| super::next_random(rng) % n)?;
            if self.is_expired(pos, now_ms) {
                self.expire_now(pos);
                continue;
            }
            return Some(self.key_at(pos));
        }
    }
}
