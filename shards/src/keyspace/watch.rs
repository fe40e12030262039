//! WATCH: who watches which key of this shard, and who saw a change
//! (Redis's `watched_keys` and `signalModifiedKey`).

use super::Store;
use ahash::RandomState;
use std::collections::{HashMap, HashSet};

#[derive(Default)]
pub(super) struct Watches {
    /// `[db, key...]` → the ids of the clients watching it.
    keys: HashMap<Vec<u8>, Vec<u64>, RandomState>,
    /// Client id → its `[db, key...]` entries on this shard.
    clients: HashMap<u64, Vec<Vec<u8>>, RandomState>,
    /// Clients one of whose keys changed since they watched it.
    dirty: HashSet<u64, RandomState>,
    /// Reused `[db, key...]` lookup buffer.
    scratch: Vec<u8>,
}

impl Watches {
    pub(super) fn touch(&mut self, db: u8, key: &[u8]) {
        self.scratch.clear();
        self.scratch.push(db);
        self.scratch.extend_from_slice(key);
        if let Some(ids) = self.keys.get(self.scratch.as_slice()) {
            self.dirty.extend(ids.iter().copied());
        }
    }

    /// A rough count of the bytes held, for INFO.
    pub(super) fn allocated(&self) -> usize {
        self.keys
            .keys()
            .map(|k| crate::alloc_size(k.len()) * 2 + 64)
            .sum::<usize>()
            + self.scratch.capacity()
    }
}

impl Store {
    /// For writes made in place (`value_for_update`): tells WATCH the key changed.
    pub fn signal_modified(&mut self, db: usize, key: &[u8]) {
        self.modified(db, key);
    }

    /// Marks the clients watching `key` dirty (Redis's `signalModifiedKey`).
    #[inline]
    pub(super) fn modified(&mut self, db: usize, key: &[u8]) {
        if let Some(w) = self.watches.as_mut() {
            w.touch(db as u8, key);
        }
        if let Some(b) = self.blocked.as_mut() {
            b.touch(db as u8, key);
        }
        self.invalidate(key);
    }

    /// WATCH: `client` is told (by `watch_check`) if `key` changes from now on.
    pub fn watch(&mut self, db: usize, key: &[u8], client: u64, now_ms: u64) {
        // An already expired key is removed first, so its removal is not
        // taken for a change made after the WATCH.
        let _ = self.lookup(db, key, now_ms, super::Lookup::PEEK);
        let w = self.watches.get_or_insert_with(Default::default);
        let mut k = Vec::with_capacity(key.len() + 1);
        k.push(db as u8);
        k.extend_from_slice(key);
        let ids = w.keys.entry(k.clone()).or_default();
        if ids.contains(&client) {
            return;
        }
        ids.push(client);
        w.clients.entry(client).or_default().push(k);
    }

    /// Forgets every key `client` watches here.
    pub fn unwatch(&mut self, client: u64) {
        let Some(w) = self.watches.as_mut() else {
            return;
        };
        w.dirty.remove(&client);
        if let Some(list) = w.clients.remove(&client) {
            for k in list {
                if let Some(ids) = w.keys.get_mut(&k) {
                    ids.retain(|&c| c != client);
                    if ids.is_empty() {
                        w.keys.remove(&k);
                    }
                }
            }
        }
        if w.clients.is_empty() {
            self.watches = None;
        }
    }

    /// EXEC's check: true when a key `client` watches here changed since its
    /// WATCH, or has expired since (Redis 7.0 aborts on both). The client's
    /// watches here are forgotten either way.
    pub fn watch_check(&mut self, client: u64, now_ms: u64) -> bool {
        let Some(w) = self.watches.as_ref() else {
            return false;
        };
        let mut dirty = w.dirty.contains(&client);
        if !dirty {
            if let Some(list) = w.clients.get(&client) {
                dirty = list.iter().any(|k| {
                    let h = self.hash(&k[1..]);
                    self.find(k[0] as usize, h, &k[1..])
                        .is_some_and(|pos| self.is_expired(pos, now_ms))
                });
            }
        }
        self.unwatch(client);
        dirty
    }

    /// Marks dirty every client watching a key of `dbs` that exists in one of
    /// them (FLUSHDB, FLUSHALL, SWAPDB: Redis's `touchAllWatchedKeysInDb`).
    pub(super) fn touch_watched_in(&mut self, dbs: &[usize]) {
        let Some(w) = self.watches.as_ref() else {
            return;
        };
        let mut hit = Vec::new();
        for (k, ids) in &w.keys {
            if !dbs.contains(&(k[0] as usize)) {
                continue;
            }
            let h = self.hash(&k[1..]);
            if dbs.iter().any(|&db| self.find(db, h, &k[1..]).is_some()) {
                hit.extend(ids.iter().copied());
            }
        }
        if let Some(w) = self.watches.as_mut() {
            w.dirty.extend(hit);
        }
    }
}
