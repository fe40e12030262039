//! One shard's keyspace: an arena slab of entries, an exact LRU list threaded
//! through the slab by `u32` links, one hash index per database, and a
//! side-vector of the keys that carry a TTL.
//!
//! Memory is accounted as the allocator sees it (entry blocks rounded the way
//! glibc's malloc rounds chunks, plus the capacity of every table), so that
//! `maxmemory` and `INFO memory` track the process's real footprint rather
//! than the sum of key and value lengths.

use crate::clock;
use ahash::RandomState;
use undo::Undo;

mod undo;
use hashbrown::HashTable;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The "no entry" value of a `u32` slab link.
pub const NIL: u32 = u32::MAX;
/// Databases per server, as Redis's default `databases 16`.
pub const NUM_DBS: usize = 16;

/// What to do when a write would pass `maxmemory` or `max-keys`; Redis's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvictionPolicy {
    /// Refuse writes with `-OOM`.
    NoEviction,
    /// Evict the least recently used key of all keys.
    AllKeysLru,
    /// Evict the least recently used key among those with a TTL.
    VolatileLru,
    /// Evict a random key.
    AllKeysRandom,
    /// Evict a random key among those with a TTL.
    VolatileRandom,
    /// Evict the key with the nearest expiry.
    VolatileTtl,
}

impl EvictionPolicy {
    /// Every policy, in Redis's documentation order.
    pub const ALL: [EvictionPolicy; 6] = [
        EvictionPolicy::VolatileLru,
        EvictionPolicy::AllKeysLru,
        EvictionPolicy::VolatileRandom,
        EvictionPolicy::AllKeysRandom,
        EvictionPolicy::VolatileTtl,
        EvictionPolicy::NoEviction,
    ];

    /// The policy's name as `CONFIG GET maxmemory-policy` prints it.
    pub fn name(self) -> &'static str {
        match self {
            EvictionPolicy::NoEviction => "noeviction",
            EvictionPolicy::AllKeysLru => "allkeys-lru",
            EvictionPolicy::VolatileLru => "volatile-lru",
            EvictionPolicy::AllKeysRandom => "allkeys-random",
            EvictionPolicy::VolatileRandom => "volatile-random",
            EvictionPolicy::VolatileTtl => "volatile-ttl",
        }
    }

    /// Parses a policy name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }

    fn volatile_only(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
        )
    }
}

/// Capacity limits of one shard.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes this shard may use; 0 means no limit.
    pub maxmemory: usize,
    /// Keys this shard may hold; 0 means no limit.
    pub max_keys: usize,
    /// What to do when a limit is reached.
    pub policy: EvictionPolicy,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            maxmemory: 0,
            max_keys: 0,
            policy: EvictionPolicy::AllKeysLru,
        }
    }
}

/// Counters a shard keeps for `INFO stats`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Successful read lookups.
    pub hits: u64,
    /// Read lookups of absent keys.
    pub misses: u64,
    /// Keys removed because their TTL passed.
    pub expired: u64,
    /// Keys removed to respect a limit.
    pub evicted: u64,
}

/// The store could not make room for a write under the configured policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

/// How a SET treats the key's current TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Remove any TTL (plain SET).
    Clear,
    /// Keep the current TTL (`KEEPTTL`).
    Keep,
    /// Expire at this absolute unix time in milliseconds.
    At(u64),
}

/// An evicted entry kept for the AOF: (db, key length, key+value block).
type Evicted = (u8, u32, Box<[u8]>);

/// What Redis's `OBJECT ENCODING` of a value depends on beyond its bytes: how
/// the value was last written. One byte in the entry's padding, so free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrEncoding {
    /// Written whole and passed through Redis's `tryObjectEncoding` (SET,
    /// INCR, APPEND to a new key, AOF replay): `int`, `embstr` or `raw` by content.
    Auto,
    /// Built as a fresh string object that Redis never tries as an integer
    /// (INCRBYFLOAT): `embstr` or `raw` by length.
    Str,
    /// Modified in place (APPEND to an existing key, SETRANGE, SETBIT): Redis
    /// unshares the value into a `raw` string whatever it holds.
    Raw,
}

struct Entry {
    /// Key bytes followed by value bytes: one allocation per entry.
    data: Box<[u8]>,
    /// Absolute unix-ms deadline; 0 means no TTL.
    expire_at: u64,
    klen: u32,
    /// LRU neighbours (towards the head is `prev`); `next` doubles as the
    /// free-list link of a vacant slot.
    prev: u32,
    next: u32,
    /// Position in `Store::volatile`, or NIL.
    vpos: u32,
    /// Last access, in seconds since the store was created.
    atime: u32,
    db: u8,
    live: bool,
    /// How the value was last written (OBJECT ENCODING).
    enc: StrEncoding,
}

impl Entry {
    fn key(&self) -> &[u8] {
        &self.data[..self.klen as usize]
    }
    fn value(&self) -> &[u8] {
        &self.data[self.klen as usize..]
    }
}

/// What glibc malloc hands out for a request of `n` bytes: 8 bytes of header,
/// 16-byte granularity, 32-byte minimum chunk.
pub fn alloc_size(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}

/// Redis's active-expire constants: keys sampled per round, and the share of
/// expired keys in a sample above which another round runs.
const EXPIRE_SAMPLE: usize = 20;
const EXPIRE_REPEAT_ABOVE: usize = EXPIRE_SAMPLE / 4;
/// How far from the LRU tail volatile-lru looks for a key with a TTL before
/// it falls back to sampling.
const VOLATILE_LRU_SCAN: usize = 128;
const EVICTION_SAMPLES: usize = 16;
/// Slab slots RANDOMKEY samples before it walks the database's index instead.
const RANDOM_KEY_TRIES: usize = 64;

/// One shard's data. Single-threaded by construction: the shard thread owns it.
pub struct Store {
    entries: Vec<Entry>,
    free: u32,
    live: usize,
    head: u32,
    tail: u32,
    dbs: Vec<HashTable<u32>>,
    hasher: RandomState,
    volatile: Vec<u32>,
    db_keys: [usize; NUM_DBS],
    db_volatile: [usize; NUM_DBS],
    data_bytes: usize,
    limits: Limits,
    stats: Stats,
    rng: u64,
    epoch: Instant,
    avg_ttl: [u64; NUM_DBS],
    /// Keys evicted since the last drain, kept only when persistence needs
    /// to log their removal: (db, key length, the entry's key+value block).
    evicted: Option<Vec<Evicted>>,
    /// WATCHed keys of this shard; None while nobody watches, so a write
    /// pays one branch for the feature.
    watches: Option<Box<Watches>>,
    /// What the changes since the last `forget` replaced, while journaling
    /// is on (see `undo`); None when off.
    journal: Option<Vec<Undo>>,
}

/// Redis's `watched_keys`: who watches which key, and who saw a change.
#[derive(Default)]
struct Watches {
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
    fn touch(&mut self, db: u8, key: &[u8]) {
        self.scratch.clear();
        self.scratch.push(db);
        self.scratch.extend_from_slice(key);
        if let Some(ids) = self.keys.get(self.scratch.as_slice()) {
            self.dirty.extend(ids.iter().copied());
        }
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new(Limits::default())
    }
}

impl Store {
    /// An empty store with these limits.
    pub fn new(limits: Limits) -> Self {
        Store {
            entries: Vec::new(),
            free: NIL,
            live: 0,
            head: NIL,
            tail: NIL,
            dbs: (0..NUM_DBS).map(|_| HashTable::new()).collect(),
            // Fixed seeds that differ from the router's: keys routed to one
            // shard share `hash % N`, so reusing the routing hash here would
            // cluster them into a fraction of the buckets.
            hasher: RandomState::with_seeds(
                0x243f_6a88_85a3_08d3,
                0x1319_8a2e_0370_7344,
                0xa409_3822_299f_31d0,
                0x082e_fa98_ec4e_6c89,
            ),
            volatile: Vec::new(),
            db_keys: [0; NUM_DBS],
            db_volatile: [0; NUM_DBS],
            data_bytes: 0,
            limits,
            stats: Stats::default(),
            rng: 0x9e37_79b9_7f4a_7c15,
            epoch: Instant::now(),
            avg_ttl: [0; NUM_DBS],
            evicted: None,
            watches: None,
            journal: None,
        }
    }

    /// For writes made in place (`value_for_update`): tells WATCH the key changed.
    pub fn signal_modified(&mut self, db: usize, key: &[u8]) {
        self.modified(db, key);
    }

    /// Marks the clients watching `key` dirty (Redis's `signalModifiedKey`).
    #[inline]
    fn modified(&mut self, db: usize, key: &[u8]) {
        if let Some(w) = self.watches.as_mut() {
            w.touch(db as u8, key);
        }
    }

    /// WATCH: `client` is told (by `watch_check`) if `key` changes from now on.
    pub fn watch(&mut self, db: usize, key: &[u8], client: u64, now_ms: u64) {
        // An already expired key is removed first, so its removal is not
        // taken for a change made after the WATCH.
        let _ = self.lookup(db, key, now_ms);
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
                        .is_some_and(|idx| self.is_expired(idx, now_ms))
                });
            }
        }
        self.unwatch(client);
        dirty
    }

    /// Marks dirty every client watching a key of `dbs` that exists in one of
    /// them (FLUSHDB, FLUSHALL, SWAPDB: Redis's `touchAllWatchedKeysInDb`).
    fn touch_watched_in(&mut self, dbs: &[usize]) {
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

    /// SWAPDB: the two databases trade their keys. Entries carry their db,
    /// so this walks both (Redis swaps two pointers; a shard holds a slice
    /// of the keyspace, and the walk runs between batches).
    pub fn swap_db(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        self.touch_watched_in(&[a, b]);
        for &idx in self.dbs[a].iter() {
            self.entries[idx as usize].db = b as u8;
        }
        for &idx in self.dbs[b].iter() {
            self.entries[idx as usize].db = a as u8;
        }
        self.dbs.swap(a, b);
        self.db_keys.swap(a, b);
        self.db_volatile.swap(a, b);
        self.avg_ttl.swap(a, b);
        self.note(Undo::SwapDb(a as u8, b as u8));
    }

    /// Keeps the keys of evicted entries until `drain_evicted`, so the AOF
    /// can record their removal.
    pub fn track_evictions(&mut self, on: bool) {
        self.evicted = on.then(Vec::new);
    }

    /// Hands every key evicted since the last call to `f(db, key)`.
    pub fn drain_evicted(&mut self, mut f: impl FnMut(u8, &[u8])) {
        if let Some(list) = self.evicted.as_mut() {
            for (db, klen, data) in list.drain(..) {
                f(db, &data[..klen as usize]);
            }
        }
    }

    /// Calls `f(db, key, value, expire_at)` for every live, unexpired entry in
    /// slab slots `cursor..cursor + max`; returns the next cursor, or None
    /// once the slab is exhausted. Slots are stable, so a walk over several
    /// calls with writes in between sees every entry that lived throughout.
    pub fn snapshot_range(
        &self,
        cursor: usize,
        max: usize,
        now_ms: u64,
        mut f: impl FnMut(u8, &[u8], &[u8], u64),
    ) -> Option<usize> {
        let end = (cursor + max).min(self.entries.len());
        for e in &self.entries[cursor.min(end)..end] {
            if e.live && (e.expire_at == 0 || e.expire_at > now_ms) {
                f(e.db, e.key(), e.value(), e.expire_at);
            }
        }
        (end < self.entries.len()).then_some(end)
    }

    /// Replaces the limits; takes effect at the next write.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The current limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Counters since start or the last reset.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Clears hit/miss/expired/evicted counters (`CONFIG RESETSTAT`).
    pub fn reset_stats(&mut self) {
        self.stats = Stats::default();
    }

    /// Keys in all databases.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no database holds a key.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Keys in one database (expired-but-not-yet-collected keys included, as Redis's DBSIZE).
    pub fn db_len(&self, db: usize) -> usize {
        self.db_keys[db]
    }

    /// Keys with a TTL in one database.
    pub fn db_expires(&self, db: usize) -> usize {
        self.db_volatile[db]
    }

    /// Running estimate of the mean remaining TTL (ms) of one database's volatile keys.
    pub fn db_avg_ttl(&self, db: usize) -> u64 {
        if self.db_volatile[db] == 0 {
            0
        } else {
            self.avg_ttl[db]
        }
    }

    /// Bytes held: entry blocks as allocated plus slab, index and TTL-vector capacity.
    pub fn used_memory(&self) -> usize {
        let slab = self.entries.capacity() * std::mem::size_of::<Entry>();
        // hashbrown keeps one control byte per bucket beside each u32 slot,
        // at a load factor of 7/8.
        let index: usize = self
            .dbs
            .iter()
            .map(|t| t.capacity() * 8 / 7 * (std::mem::size_of::<u32>() + 1))
            .sum();
        self.data_bytes + slab + index + self.volatile.capacity() * 4
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn find(&self, db: usize, h: u64, key: &[u8]) -> Option<u32> {
        let entries = &self.entries;
        self.dbs[db]
            .find(h, |&i| entries[i as usize].key() == key)
            .copied()
    }

    fn now_secs(&self) -> u32 {
        self.epoch.elapsed().as_secs() as u32
    }

    fn is_expired(&self, idx: u32, now_ms: u64) -> bool {
        let e = self.entries[idx as usize].expire_at;
        e != 0 && e <= now_ms
    }

    /// Finds a live key, removing it first if its TTL has passed.
    fn lookup(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<u32> {
        let h = self.hash(key);
        let idx = self.find(db, h, key)?;
        if self.is_expired(idx, now_ms) {
            self.remove_idx(idx, h);
            self.stats.expired += 1;
            return None;
        }
        Some(idx)
    }

    /// Reads a key for a read command: counts a hit or miss and moves the key
    /// to the LRU head. The value stays valid until the next mutation.
    pub fn get(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<&[u8]> {
        self.read(db, key, now_ms, true)
    }

    /// Looks a key up and moves it to the LRU head, counting a hit or miss
    /// only when `count` (Redis's `lookupKeyRead` vs `lookupKeyWrite`).
    pub fn read(&mut self, db: usize, key: &[u8], now_ms: u64, count: bool) -> Option<&[u8]> {
        let found = self.lookup(db, key, now_ms);
        if count {
            if found.is_some() {
                self.stats.hits += 1;
            } else {
                self.stats.misses += 1;
            }
        }
        let idx = found?;
        self.touch(idx);
        Some(self.entries[idx as usize].value())
    }

    /// Looks a key up like `read` and also returns its absolute expiry (0 = none).
    pub fn read_entry(
        &mut self,
        db: usize,
        key: &[u8],
        now_ms: u64,
        count: bool,
    ) -> Option<(&[u8], u64)> {
        let found = self.lookup(db, key, now_ms);
        if count {
            if found.is_some() {
                self.stats.hits += 1;
            } else {
                self.stats.misses += 1;
            }
        }
        let idx = found?;
        self.touch(idx);
        let e = &self.entries[idx as usize];
        Some((e.value(), e.expire_at))
    }

    /// The absolute expiry of a key (0 = none), or None when absent; counts a
    /// hit or miss but leaves the LRU order alone (Redis's `LOOKUP_NOTOUCH`,
    /// as TTL and TYPE).
    pub fn expire_at_counted(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<u64> {
        let found = self.lookup(db, key, now_ms);
        if found.is_some() {
            self.stats.hits += 1;
        } else {
            self.stats.misses += 1;
        }
        Some(self.entries[found? as usize].expire_at)
    }

    /// Whether a key exists; counts a hit or miss but leaves the LRU order alone (as EXISTS).
    pub fn exists(&mut self, db: usize, key: &[u8], now_ms: u64) -> bool {
        let found = self.lookup(db, key, now_ms).is_some();
        if found {
            self.stats.hits += 1;
        } else {
            self.stats.misses += 1;
        }
        found
    }

    /// Reads a key without touching statistics or LRU order (for writes that inspect first).
    pub fn peek(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<&[u8]> {
        let idx = self.lookup(db, key, now_ms)?;
        Some(self.entries[idx as usize].value())
    }

    /// The absolute expiry of a key (0 = none), or None when absent.
    pub fn expire_at(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<u64> {
        let idx = self.lookup(db, key, now_ms)?;
        Some(self.entries[idx as usize].expire_at)
    }

    /// Removes a key; true if it existed (and had not expired).
    pub fn del(&mut self, db: usize, key: &[u8], now_ms: u64) -> bool {
        let h = self.hash(key);
        let Some(idx) = self.find(db, h, key) else {
            return false;
        };
        let expired = self.is_expired(idx, now_ms);
        self.remove_idx(idx, h);
        if expired {
            self.stats.expired += 1;
        }
        !expired
    }

    /// Evicts keys until the store is within `maxmemory`. Called before a
    /// write that may grow memory (Redis's `denyoom` commands), so that the
    /// write itself is what may push the store over the line, as in Redis.
    pub fn make_room(&mut self) -> Result<(), OutOfMemory> {
        if self.limits.maxmemory == 0 {
            return Ok(());
        }
        while self.used_memory() > self.limits.maxmemory {
            if !self.evict_one() {
                return Err(OutOfMemory);
            }
        }
        Ok(())
    }

    /// Stores `value` under `key`, creating or replacing it.
    pub fn set(
        &mut self,
        db: usize,
        key: &[u8],
        value: &[u8],
        expiry: Expiry,
        now_ms: u64,
    ) -> Result<(), OutOfMemory> {
        self.set_encoded(db, key, value, expiry, now_ms, StrEncoding::Auto)
    }

    /// `set`, recording how the value was written (see `StrEncoding`).
    pub fn set_encoded(
        &mut self,
        db: usize,
        key: &[u8],
        value: &[u8],
        expiry: Expiry,
        now_ms: u64,
        enc: StrEncoding,
    ) -> Result<(), OutOfMemory> {
        self.modified(db, key);
        let h = self.hash(key);
        let existing = match self.find(db, h, key) {
            Some(idx) if self.is_expired(idx, now_ms) => {
                self.remove_idx(idx, h);
                self.stats.expired += 1;
                None
            }
            other => other,
        };
        let atime = self.now_secs();
        match existing {
            Some(idx) => {
                let journaling = self.journaling();
                let e = &mut self.entries[idx as usize];
                let old_enc = e.enc;
                let mut replaced = None;
                if e.value() != value {
                    let klen = e.klen as usize;
                    let old = alloc_size(e.data.len());
                    // Journaled, the old block is kept whole for a rollback
                    // (moved, not copied) and a new one takes its place.
                    if e.data.len() == klen + value.len() && !journaling {
                        e.data[klen..].copy_from_slice(value);
                    } else {
                        let mut data = Vec::with_capacity(klen + value.len());
                        data.extend_from_slice(key);
                        data.extend_from_slice(value);
                        replaced = Some(std::mem::replace(&mut e.data, data.into_boxed_slice()));
                    }
                    self.data_bytes = self.data_bytes - old + alloc_size(e.data.len());
                }
                e.atime = atime;
                e.enc = enc;
                if journaling && (replaced.is_some() || old_enc != enc) {
                    self.note(Undo::Data {
                        idx,
                        data: replaced,
                        enc: old_enc,
                    });
                }
                match expiry {
                    Expiry::Keep => {}
                    Expiry::Clear => self.set_expire(idx, 0),
                    Expiry::At(t) => self.set_expire(idx, t),
                }
                self.touch(idx);
            }
            None => {
                self.admit_new_key()?;
                let mut data = Vec::with_capacity(key.len() + value.len());
                data.extend_from_slice(key);
                data.extend_from_slice(value);
                let idx = self.insert_new(db, h, data.into_boxed_slice(), key.len(), atime);
                self.entries[idx as usize].enc = enc;
                if let Expiry::At(t) = expiry {
                    self.set_expire(idx, t);
                }
            }
        }
        Ok(())
    }

    /// Makes room for one more key under `max-keys` (evicting by policy).
    fn admit_new_key(&mut self) -> Result<(), OutOfMemory> {
        if self.limits.max_keys != 0 && self.live >= self.limits.max_keys {
            if self.limits.policy == EvictionPolicy::NoEviction {
                return Err(OutOfMemory);
            }
            while self.live >= self.limits.max_keys {
                if !self.evict_one() {
                    return Err(OutOfMemory);
                }
            }
        }
        Ok(())
    }

    /// The value of `key` for an in-place write (SETBIT), as Redis's
    /// `lookupStringForBitCommand`: looked up for writing (LRU refreshed, no
    /// hit/miss), created empty when absent, and zero-extended to at least
    /// `min_len` bytes. The value becomes `raw` (see `StrEncoding`). Returns
    /// the value, its expiry (0 = none), and whether the key was created or
    /// grew. Nothing is copied: growth reallocates the entry's block in place
    /// when the allocator can. The caller may change only the byte at
    /// `min_len - 1` (SETBIT's byte): that byte and the old length are what
    /// the undo journal keeps.
    pub fn value_for_update(
        &mut self,
        db: usize,
        key: &[u8],
        min_len: usize,
        now_ms: u64,
    ) -> Result<(&mut [u8], u64, bool), OutOfMemory> {
        let (idx, grown) = match self.lookup(db, key, now_ms) {
            Some(idx) => {
                self.touch(idx);
                let e = &mut self.entries[idx as usize];
                let klen = e.klen as usize;
                let len = e.data.len() - klen;
                let pos = min_len.max(1) - 1;
                let undo = Undo::Byte {
                    idx,
                    len,
                    pos,
                    old: e.data.get(klen + pos).copied().unwrap_or(0),
                    enc: e.enc,
                };
                let grown = e.data.len() < klen + min_len;
                if grown {
                    let old = alloc_size(e.data.len());
                    let mut data = std::mem::take(&mut e.data).into_vec();
                    data.reserve_exact(klen + min_len - data.len());
                    data.resize(klen + min_len, 0);
                    e.data = data.into_boxed_slice();
                    self.data_bytes = self.data_bytes - old + alloc_size(e.data.len());
                }
                self.note(undo);
                (idx, grown)
            }
            None => {
                self.admit_new_key()?;
                let mut data = vec![0u8; key.len() + min_len];
                data[..key.len()].copy_from_slice(key);
                let h = self.hash(key);
                let atime = self.now_secs();
                (
                    self.insert_new(db, h, data.into_boxed_slice(), key.len(), atime),
                    true,
                )
            }
        };
        let e = &mut self.entries[idx as usize];
        e.enc = StrEncoding::Raw;
        let at = e.expire_at;
        let klen = e.klen as usize;
        Ok((&mut e.data[klen..], at, grown))
    }

    /// What OBJECT reports of a key: its value, how it was written, and the
    /// seconds since its last access. Counts a hit or miss but leaves the LRU
    /// order and access time alone (Redis's `LOOKUP_NOTOUCH`).
    pub fn object_info(
        &mut self,
        db: usize,
        key: &[u8],
        now_ms: u64,
    ) -> Option<(&[u8], StrEncoding, u32)> {
        let found = self.lookup(db, key, now_ms);
        if found.is_some() {
            self.stats.hits += 1;
        } else {
            self.stats.misses += 1;
        }
        let now = self.now_secs();
        let e = &self.entries[found? as usize];
        Some((e.value(), e.enc, now.saturating_sub(e.atime)))
    }

    /// Bytes one entry accounts for in `used_memory`: its key+value block as
    /// allocated, its slab slot, its share of the index, and its TTL slot.
    /// Like Redis's MEMORY USAGE (a plain `dictFind`), the key is not expired,
    /// counted or touched by the look-up.
    pub fn entry_usage(&self, db: usize, key: &[u8]) -> Option<usize> {
        let idx = self.find(db, self.hash(key), key)?;
        let e = &self.entries[idx as usize];
        // One u32 slot and one control byte per bucket at a 7/8 load factor,
        // as `used_memory` counts the index.
        let index = ((std::mem::size_of::<u32>() + 1) * 8).div_ceil(7);
        let ttl = if e.vpos != NIL { 4 } else { 0 };
        Some(alloc_size(e.data.len()) + std::mem::size_of::<Entry>() + index + ttl)
    }

    /// MOVE: re-files `key` from database `src` to `dst` with its value, TTL
    /// and encoding, when it exists in `src` and not in `dst` (both looked up
    /// for writing: expired keys go, live ones are refreshed in the LRU).
    /// Returns the moved value and its expiry (0 = none).
    pub fn move_key(
        &mut self,
        src: usize,
        dst: usize,
        key: &[u8],
        now_ms: u64,
    ) -> Option<(&[u8], u64)> {
        let idx = self.lookup(src, key, now_ms)?;
        self.touch(idx);
        if let Some(other) = self.lookup(dst, key, now_ms) {
            self.touch(other);
            return None;
        }
        self.refile(idx, src, dst);
        self.note(Undo::Moved {
            idx,
            from: src as u8,
            to: dst as u8,
        });
        self.modified(src, key);
        self.modified(dst, key);
        let e = &self.entries[idx as usize];
        Some((e.value(), e.expire_at))
    }

    /// Moves the entry in slot `idx` from database `from`'s index to `to`'s.
    fn refile(&mut self, idx: u32, from: usize, to: usize) {
        let h = self.hash(self.entries[idx as usize].key());
        if let Ok(slot) = self.dbs[from].find_entry(h, |&i| i == idx) {
            slot.remove();
        }
        let entries = &self.entries;
        let hasher = &self.hasher;
        self.dbs[to].insert_unique(h, idx, |&i| hasher.hash_one(entries[i as usize].key()));
        let e = &mut self.entries[idx as usize];
        e.db = to as u8;
        self.db_keys[from] -= 1;
        self.db_keys[to] += 1;
        if e.vpos != NIL {
            self.db_volatile[from] -= 1;
            self.db_volatile[to] += 1;
        }
    }

    /// Sets or clears (`at == 0`) the TTL of a key; false when the key is absent.
    pub fn expire(&mut self, db: usize, key: &[u8], at: u64, now_ms: u64) -> bool {
        match self.lookup(db, key, now_ms) {
            Some(idx) => {
                self.modified(db, key);
                self.set_expire(idx, at);
                true
            }
            None => false,
        }
    }

    fn insert_new(&mut self, db: usize, h: u64, data: Box<[u8]>, klen: usize, atime: u32) -> u32 {
        let entry = Entry {
            data,
            expire_at: 0,
            klen: klen as u32,
            prev: NIL,
            next: NIL,
            vpos: NIL,
            atime,
            db: db as u8,
            live: true,
            enc: StrEncoding::Auto,
        };
        let (idx, pushed) = if self.free != NIL {
            let idx = self.free;
            self.free = self.entries[idx as usize].next;
            (idx, false)
        } else {
            // u32 links cap a shard at 4 billion slots; NIL is reserved.
            assert!(self.entries.len() < NIL as usize, "shard slab full");
            (self.entries.len() as u32, true)
        };
        self.place(idx, h, entry);
        self.note(Undo::Inserted { idx, pushed });
        idx
    }

    /// Puts `entry` (whose key hashes to `h`) in vacant slot `idx`, or at the
    /// end of the slab when `idx` is its length, and links it everywhere.
    fn place(&mut self, idx: u32, h: u64, entry: Entry) {
        self.data_bytes += alloc_size(entry.data.len());
        let db = entry.db as usize;
        if idx as usize == self.entries.len() {
            self.entries.push(entry);
        } else {
            self.entries[idx as usize] = entry;
        }
        let entries = &self.entries;
        let hasher = &self.hasher;
        self.dbs[db].insert_unique(h, idx, |&i| hasher.hash_one(entries[i as usize].key()));
        self.link_front(idx);
        self.live += 1;
        self.db_keys[db] += 1;
    }

    fn set_expire(&mut self, idx: u32, at: u64) {
        let e = &mut self.entries[idx as usize];
        let old = e.expire_at;
        if old == at {
            return;
        }
        let db = e.db as usize;
        e.expire_at = at;
        if at != 0 && e.vpos == NIL {
            e.vpos = self.volatile.len() as u32;
            self.volatile.push(idx);
            self.db_volatile[db] += 1;
        } else if at == 0 && e.vpos != NIL {
            self.unlink_volatile(idx);
        }
        self.note(Undo::Expire { idx, at: old });
    }

    fn unlink_volatile(&mut self, idx: u32) {
        let pos = self.entries[idx as usize].vpos;
        let db = self.entries[idx as usize].db as usize;
        self.volatile.swap_remove(pos as usize);
        if let Some(&moved) = self.volatile.get(pos as usize) {
            self.entries[moved as usize].vpos = pos;
        }
        self.entries[idx as usize].vpos = NIL;
        self.db_volatile[db] -= 1;
    }

    /// Removes the entry in slot `idx` (its key hashes to `h`) and returns
    /// its key+value block, or None when the undo journal keeps it.
    fn remove_idx(&mut self, idx: u32, h: u64) -> Option<Box<[u8]>> {
        let db = self.entries[idx as usize].db as usize;
        if let Some(w) = self.watches.as_mut() {
            w.touch(db as u8, self.entries[idx as usize].key());
        }
        if let Ok(slot) = self.dbs[db].find_entry(h, |&i| i == idx) {
            slot.remove();
        }
        if self.entries[idx as usize].vpos != NIL {
            self.unlink_volatile(idx);
        }
        self.unlink(idx);
        let e = &mut self.entries[idx as usize];
        self.data_bytes -= alloc_size(e.data.len());
        let data = std::mem::take(&mut e.data);
        let (klen, expire_at, atime, enc) = (e.klen, e.expire_at, e.atime, e.enc);
        e.live = false;
        e.expire_at = 0;
        e.next = self.free;
        self.free = idx;
        self.live -= 1;
        self.db_keys[db] -= 1;
        if self.journaling() {
            self.note(Undo::Removed {
                idx,
                db: db as u8,
                klen,
                data,
                expire_at,
                atime,
                enc,
            });
            return None;
        }
        Some(data)
    }

    fn remove_by_idx(&mut self, idx: u32) -> Option<Box<[u8]>> {
        let h = self.hash(self.entries[idx as usize].key());
        self.remove_idx(idx, h)
    }

    fn link_front(&mut self, idx: u32) {
        let old = self.head;
        {
            let e = &mut self.entries[idx as usize];
            e.prev = NIL;
            e.next = old;
        }
        if old != NIL {
            self.entries[old as usize].prev = idx;
        } else {
            self.tail = idx;
        }
        self.head = idx;
    }

    fn unlink(&mut self, idx: u32) {
        let (prev, next) = {
            let e = &self.entries[idx as usize];
            (e.prev, e.next)
        };
        if prev != NIL {
            self.entries[prev as usize].next = next;
        } else {
            self.head = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        } else {
            self.tail = prev;
        }
    }

    fn touch(&mut self, idx: u32) {
        self.entries[idx as usize].atime = self.now_secs();
        if self.head != idx {
            self.unlink(idx);
            self.link_front(idx);
        }
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: cheap, and eviction sampling needs no more.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn random_volatile(&mut self) -> u32 {
        let n = self.volatile.len() as u64;
        let r = self.random();
        self.volatile[(r % n) as usize]
    }

    /// Samples volatile keys and returns the one with the smallest `rank`.
    fn sample_volatile_min(&mut self, rank: fn(&Entry) -> u64) -> u32 {
        let mut best = self.random_volatile();
        for _ in 1..EVICTION_SAMPLES {
            let i = self.random_volatile();
            if rank(&self.entries[i as usize]) < rank(&self.entries[best as usize]) {
                best = i;
            }
        }
        best
    }

    /// Picks a victim under the current policy and removes it; false when
    /// the policy finds no candidate (no keys, or no volatile keys).
    fn evict_one(&mut self) -> bool {
        let victim = match self.limits.policy {
            EvictionPolicy::NoEviction => None,
            EvictionPolicy::AllKeysLru => (self.tail != NIL).then_some(self.tail),
            EvictionPolicy::AllKeysRandom => {
                if self.live == 0 {
                    None
                } else {
                    // The slab is dense apart from freed slots, so rejection
                    // sampling terminates quickly.
                    loop {
                        let i = (self.random() % self.entries.len() as u64) as usize;
                        if self.entries[i].live {
                            break Some(i as u32);
                        }
                    }
                }
            }
            _ if self.volatile.is_empty() => None,
            EvictionPolicy::VolatileRandom => Some(self.random_volatile()),
            EvictionPolicy::VolatileTtl => Some(self.sample_volatile_min(|e| e.expire_at)),
            EvictionPolicy::VolatileLru => {
                // Exact when a volatile key sits near the LRU tail; otherwise
                // Redis-style sampling by last access time.
                let mut cur = self.tail;
                let mut found = None;
                for _ in 0..VOLATILE_LRU_SCAN {
                    if cur == NIL {
                        break;
                    }
                    if self.entries[cur as usize].vpos != NIL {
                        found = Some(cur);
                        break;
                    }
                    cur = self.entries[cur as usize].prev;
                }
                found.or_else(|| Some(self.sample_volatile_min(|e| e.atime as u64)))
            }
        };
        debug_assert!(
            self.limits.policy.volatile_only()
                || victim.is_some()
                || self.live == 0
                || self.limits.policy == EvictionPolicy::NoEviction
        );
        match victim {
            Some(idx) => {
                let (db, klen) = {
                    let e = &self.entries[idx as usize];
                    (e.db, e.klen)
                };
                // The block goes to the undo journal when it is on; the
                // AOF's DEL then needs a copy of the key.
                let key = (self.journaling() && self.evicted.is_some())
                    .then(|| Box::<[u8]>::from(self.entries[idx as usize].key()));
                let data = self.remove_by_idx(idx);
                if let (Some(list), Some(block)) = (self.evicted.as_mut(), key.or(data)) {
                    list.push((db, klen, block));
                }
                self.stats.evicted += 1;
                true
            }
            None => false,
        }
    }

    /// Redis's `activeExpireCycle`, simplified: sample TTL keys, delete the
    /// expired ones, and go on while more than a quarter of a sample had
    /// expired and the time budget lasts. Returns how many keys it removed.
    pub fn active_expire(&mut self, now_ms: u64, budget: Duration) -> usize {
        let start = Instant::now();
        let mut removed = 0;
        loop {
            if self.volatile.is_empty() {
                return removed;
            }
            let mut expired_here = 0;
            let mut ttl_sum = [0u64; NUM_DBS];
            let mut ttl_n = [0u64; NUM_DBS];
            for _ in 0..EXPIRE_SAMPLE.min(self.volatile.len()) {
                let idx = self.random_volatile();
                let (at, db) = {
                    let e = &self.entries[idx as usize];
                    (e.expire_at, e.db as usize)
                };
                if at <= now_ms {
                    self.remove_by_idx(idx);
                    self.stats.expired += 1;
                    expired_here += 1;
                    if self.volatile.is_empty() {
                        break;
                    }
                } else {
                    ttl_sum[db] += at - now_ms;
                    ttl_n[db] += 1;
                }
            }
            for db in 0..NUM_DBS {
                if let Some(sample) = ttl_sum[db].checked_div(ttl_n[db]) {
                    // Same smoothing as Redis: mostly the old estimate, a
                    // little of this sample's mean.
                    self.avg_ttl[db] = if self.avg_ttl[db] == 0 {
                        sample
                    } else {
                        (self.avg_ttl[db] / 50) * 49 + sample / 50
                    };
                }
            }
            removed += expired_here;
            if expired_here <= EXPIRE_REPEAT_ABOVE || start.elapsed() >= budget {
                return removed;
            }
        }
    }

    /// Empties one database.
    pub fn flush_db(&mut self, db: usize) {
        let idxs: Vec<u32> = self.dbs[db].iter().copied().collect();
        for idx in idxs {
            self.remove_by_idx(idx);
        }
        self.dbs[db] = HashTable::new();
        self.avg_ttl[db] = 0;
    }

    /// Empties every database and gives the memory back.
    pub fn flush_all(&mut self) {
        let all: Vec<usize> = (0..NUM_DBS).collect();
        self.touch_watched_in(&all);
        let mut fresh = Store::new(self.limits);
        fresh.stats = self.stats;
        fresh.watches = self.watches.take();
        fresh.evicted = self.evicted.take();
        fresh.journal = self.journal.take();
        let old = std::mem::replace(self, fresh);
        // Journaled, the old store is set aside whole until the group's
        // records are safe; otherwise it is freed here.
        if self.journaling() {
            self.note(Undo::FlushAll(Box::new(old)));
        }
    }

    /// Every live key of one database, in no particular order (KEYS, SCAN).
    pub fn for_each_key(&self, db: usize, now_ms: u64, mut f: impl FnMut(&[u8])) {
        for &idx in self.dbs[db].iter() {
            if !self.is_expired(idx, now_ms) {
                f(self.entries[idx as usize].key());
            }
        }
    }

    /// One step of a SCAN over database `db`: walks slab slots from `from`
    /// and hands every live, unexpired key of `db` to `f`, stopping once it
    /// has examined `count` entries of `db` (expired ones included, as Redis
    /// counts what it gathers before filtering) or `max_slots` slots of any
    /// kind. Returns the slot to resume from, or None when the slab is done.
    ///
    /// An entry keeps its slot from insertion to removal (updates rewrite it
    /// in place and nothing compacts the slab), so a walk in slot order over
    /// several calls, with any writes in between, returns every key that
    /// existed for the whole walk exactly once; keys added or removed
    /// meanwhile may or may not appear, and a key deleted and re-added may
    /// appear twice. That is Redis's SCAN guarantee, without its duplicates
    /// on rehash.
    pub fn scan(
        &self,
        db: usize,
        from: usize,
        count: usize,
        max_slots: usize,
        now_ms: u64,
        mut f: impl FnMut(&[u8]),
    ) -> Option<usize> {
        let len = self.entries.len();
        let end = from.saturating_add(max_slots.max(1)).min(len);
        let mut seen = 0;
        let mut i = from;
        while i < end {
            let e = &self.entries[i];
            i += 1;
            if e.live && e.db as usize == db {
                if e.expire_at == 0 || e.expire_at > now_ms {
                    f(e.key());
                }
                seen += 1;
                if seen >= count {
                    break;
                }
            }
        }
        (i < len).then_some(i)
    }

    /// A uniformly chosen live key of `db` (RANDOMKEY), or None when the
    /// database is empty. Expired keys drawn on the way are removed and the
    /// draw repeats, as Redis's `dbRandomKey` does on a master, so the work
    /// is bounded by the expired keys it clears.
    pub fn random_key(&mut self, db: usize, now_ms: u64) -> Option<&[u8]> {
        loop {
            let idx = self.random_in_db(db)?;
            if self.is_expired(idx, now_ms) {
                self.remove_by_idx(idx);
                self.stats.expired += 1;
                continue;
            }
            return Some(self.entries[idx as usize].key());
        }
    }

    /// A uniformly chosen entry of `db`, expired or not.
    fn random_in_db(&mut self, db: usize) -> Option<u32> {
        let n = self.db_keys[db];
        if n == 0 {
            return None;
        }
        // Rejection sampling over the slab is uniform over the entries of
        // `db` and O(1) while they fill a fair share of the slots...
        let slots = self.entries.len() as u64;
        for _ in 0..RANDOM_KEY_TRIES {
            let i = (self.random() % slots) as usize;
            let e = &self.entries[i];
            if e.live && e.db as usize == db {
                return Some(i as u32);
            }
        }
        // ...and when they are sparse (another database dominates, or most
        // slots are free), a walk of the database's own index stays uniform.
        let nth = (self.random() % n as u64) as usize;
        self.dbs[db].iter().nth(nth).copied()
    }

    /// Keys from least to most recently used, for tests and diagnostics.
    pub fn lru_order(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(self.live);
        let mut cur = self.tail;
        while cur != NIL {
            out.push(self.entries[cur as usize].key().to_vec());
            cur = self.entries[cur as usize].prev;
        }
        out
    }

    /// Seconds since the key was last read or written (OBJECT IDLETIME).
    pub fn idle_secs(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<u32> {
        let idx = self.lookup(db, key, now_ms)?;
        Some(
            self.now_secs()
                .saturating_sub(self.entries[idx as usize].atime),
        )
    }
}

/// Current unix time in milliseconds, re-exported for callers that pass `now_ms`.
pub fn now_ms() -> u64 {
    clock::unix_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(s: &Store) -> Vec<String> {
        s.lru_order()
            .into_iter()
            .map(|k| String::from_utf8(k).unwrap())
            .collect()
    }

    #[test]
    fn set_get_overwrite_del() {
        let mut s = Store::default();
        s.set(0, b"a", b"1", Expiry::Clear, 0).unwrap();
        assert_eq!(s.get(0, b"a", 0), Some(&b"1"[..]));
        s.set(0, b"a", b"22", Expiry::Clear, 0).unwrap();
        assert_eq!(s.get(0, b"a", 0), Some(&b"22"[..]));
        s.set(0, b"a", b"33", Expiry::Clear, 0).unwrap();
        assert_eq!(s.get(0, b"a", 0), Some(&b"33"[..]));
        assert_eq!(s.len(), 1);
        assert!(s.del(0, b"a", 0));
        assert!(!s.del(0, b"a", 0));
        assert_eq!(s.get(0, b"a", 0), None);
        assert_eq!(s.len(), 0);
        assert_eq!(s.stats().hits, 3);
        assert_eq!(s.stats().misses, 1);
    }

    #[test]
    fn databases_are_separate() {
        let mut s = Store::default();
        s.set(0, b"k", b"zero", Expiry::Clear, 0).unwrap();
        s.set(3, b"k", b"three", Expiry::Clear, 0).unwrap();
        assert_eq!(s.get(0, b"k", 0), Some(&b"zero"[..]));
        assert_eq!(s.get(3, b"k", 0), Some(&b"three"[..]));
        assert_eq!(s.db_len(0), 1);
        assert_eq!(s.db_len(3), 1);
        s.flush_db(3);
        assert_eq!(s.get(3, b"k", 0), None);
        assert_eq!(s.get(0, b"k", 0), Some(&b"zero"[..]));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn slab_reuses_freed_slots() {
        let mut s = Store::default();
        for i in 0..100u32 {
            s.set(0, &i.to_le_bytes(), b"v", Expiry::Clear, 0).unwrap();
        }
        let cap = s.entries.len();
        for i in 0..50u32 {
            assert!(s.del(0, &i.to_le_bytes(), 0));
        }
        for i in 100..150u32 {
            s.set(0, &i.to_le_bytes(), b"v", Expiry::Clear, 0).unwrap();
        }
        assert_eq!(
            s.entries.len(),
            cap,
            "freed slots are reused before the slab grows"
        );
        assert_eq!(s.len(), 100);
        for i in 50..150u32 {
            assert_eq!(s.get(0, &i.to_le_bytes(), 0), Some(&b"v"[..]));
        }
    }

    #[test]
    fn lru_order_follows_reads_and_writes() {
        let mut s = Store::default();
        for k in ["a", "b", "c"] {
            s.set(0, k.as_bytes(), b"v", Expiry::Clear, 0).unwrap();
        }
        assert_eq!(keys(&s), ["a", "b", "c"]);
        s.get(0, b"a", 0);
        assert_eq!(keys(&s), ["b", "c", "a"]);
        s.set(0, b"b", b"w", Expiry::Clear, 0).unwrap();
        assert_eq!(keys(&s), ["c", "a", "b"]);
        // EXISTS does not touch, as in Redis.
        s.exists(0, b"c", 0);
        assert_eq!(keys(&s), ["c", "a", "b"]);
        s.del(0, b"a", 0);
        assert_eq!(keys(&s), ["c", "b"]);
    }

    #[test]
    fn max_keys_evicts_least_recently_used() {
        // The original project's acceptance sequence.
        let mut s = Store::new(Limits {
            max_keys: 5,
            ..Limits::default()
        });
        for k in ["a", "b", "c", "d", "e"] {
            s.set(0, k.as_bytes(), b"1", Expiry::Clear, 0).unwrap();
        }
        assert!(s.get(0, b"a", 0).is_some());
        s.set(0, b"f", b"6", Expiry::Clear, 0).unwrap();
        let mut left = keys(&s);
        left.sort();
        assert_eq!(left, ["a", "c", "d", "e", "f"]);
        assert_eq!(s.stats().evicted, 1);
    }

    #[test]
    fn max_keys_noeviction_refuses_new_keys_only() {
        let mut s = Store::new(Limits {
            max_keys: 2,
            policy: EvictionPolicy::NoEviction,
            ..Limits::default()
        });
        s.set(0, b"a", b"1", Expiry::Clear, 0).unwrap();
        s.set(0, b"b", b"1", Expiry::Clear, 0).unwrap();
        assert_eq!(s.set(0, b"c", b"1", Expiry::Clear, 0), Err(OutOfMemory));
        assert!(s.set(0, b"a", b"2", Expiry::Clear, 0).is_ok());
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn maxmemory_evicts_by_bytes_in_lru_order() {
        let mut s = Store::new(Limits {
            maxmemory: 200_000,
            ..Limits::default()
        });
        let value = vec![b'x'; 1000];
        for i in 0..1000u32 {
            s.make_room().unwrap();
            s.set(0, format!("key:{i}").as_bytes(), &value, Expiry::Clear, 0)
                .unwrap();
        }
        s.make_room().unwrap();
        assert!(s.used_memory() <= 200_000, "used {}", s.used_memory());
        assert!(s.stats().evicted > 0);
        // The newest keys survive, the oldest went first.
        assert!(s.get(0, b"key:999", 0).is_some());
        assert!(s.get(0, b"key:0", 0).is_none());
        let survivors = s.len();
        for i in (1000 - survivors as u32)..1000 {
            assert!(
                s.peek(0, format!("key:{i}").as_bytes(), 0).is_some(),
                "key:{i}"
            );
        }
    }

    #[test]
    fn noeviction_reports_oom_over_maxmemory() {
        let mut s = Store::new(Limits {
            maxmemory: 10_000,
            policy: EvictionPolicy::NoEviction,
            ..Limits::default()
        });
        let value = vec![b'x'; 1000];
        let mut refused = false;
        for i in 0..100u32 {
            if s.make_room().is_err() {
                refused = true;
                break;
            }
            s.set(0, &i.to_le_bytes(), &value, Expiry::Clear, 0)
                .unwrap();
        }
        assert!(refused);
        assert_eq!(s.stats().evicted, 0);
    }

    #[test]
    fn volatile_policies_only_evict_keys_with_ttl() {
        for policy in [
            EvictionPolicy::VolatileLru,
            EvictionPolicy::VolatileRandom,
            EvictionPolicy::VolatileTtl,
        ] {
            let mut s = Store::new(Limits {
                max_keys: 3,
                policy,
                ..Limits::default()
            });
            s.set(0, b"p1", b"v", Expiry::Clear, 0).unwrap();
            s.set(0, b"t1", b"v", Expiry::At(5_000), 0).unwrap();
            s.set(0, b"p2", b"v", Expiry::Clear, 0).unwrap();
            s.set(0, b"new", b"v", Expiry::Clear, 0).unwrap();
            assert!(s.peek(0, b"t1", 0).is_none(), "{policy:?}");
            assert!(s.peek(0, b"p1", 0).is_some(), "{policy:?}");
            // No volatile key left: the next insert is refused.
            assert_eq!(
                s.set(0, b"more", b"v", Expiry::Clear, 0),
                Err(OutOfMemory),
                "{policy:?}"
            );
        }
    }

    #[test]
    fn volatile_ttl_evicts_nearest_expiry() {
        let mut s = Store::new(Limits {
            max_keys: 2,
            policy: EvictionPolicy::VolatileTtl,
            ..Limits::default()
        });
        s.set(0, b"late", b"v", Expiry::At(9_000), 0).unwrap();
        s.set(0, b"soon", b"v", Expiry::At(2_000), 0).unwrap();
        s.set(0, b"x", b"v", Expiry::Clear, 0).unwrap();
        assert!(s.peek(0, b"soon", 0).is_none());
        assert!(s.peek(0, b"late", 0).is_some());
    }

    #[test]
    fn lazy_expiry_on_access() {
        let mut s = Store::default();
        s.set(0, b"k", b"v", Expiry::At(1_000), 500).unwrap();
        assert_eq!(s.db_expires(0), 1);
        assert_eq!(s.get(0, b"k", 999), Some(&b"v"[..]));
        assert_eq!(s.get(0, b"k", 1_000), None);
        assert_eq!(s.len(), 0);
        assert_eq!(s.db_expires(0), 0);
        assert_eq!(s.stats().expired, 1);
    }

    #[test]
    fn set_clears_or_keeps_ttl() {
        let mut s = Store::default();
        s.set(0, b"k", b"v", Expiry::At(1_000), 0).unwrap();
        s.set(0, b"k", b"w", Expiry::Keep, 0).unwrap();
        assert_eq!(s.expire_at(0, b"k", 0), Some(1_000));
        s.set(0, b"k", b"x", Expiry::Clear, 0).unwrap();
        assert_eq!(s.expire_at(0, b"k", 0), Some(0));
        assert_eq!(s.db_expires(0), 0);
        assert_eq!(s.get(0, b"k", 5_000), Some(&b"x"[..]));
    }

    #[test]
    fn active_expiry_collects_without_access() {
        let mut s = Store::default();
        for i in 0..1000u32 {
            s.set(0, &i.to_le_bytes(), b"v", Expiry::At(100), 0)
                .unwrap();
        }
        for i in 1000..1100u32 {
            s.set(0, &i.to_le_bytes(), b"v", Expiry::Clear, 0).unwrap();
        }
        let removed = s.active_expire(200, Duration::from_secs(5));
        // Every sample is fully expired, so the cycle keeps going until the
        // volatile set is empty.
        assert_eq!(removed, 1000);
        assert_eq!(s.len(), 100);
        assert_eq!(s.db_expires(0), 0);
    }

    #[test]
    fn flush_all_keeps_limits_and_frees_memory() {
        let mut s = Store::new(Limits {
            max_keys: 10,
            ..Limits::default()
        });
        for i in 0..10u32 {
            s.set(
                i as usize % NUM_DBS,
                &i.to_le_bytes(),
                b"v",
                Expiry::Clear,
                0,
            )
            .unwrap();
        }
        let before = s.used_memory();
        s.flush_all();
        assert_eq!(s.len(), 0);
        assert!(s.used_memory() < before);
        assert_eq!(s.limits().max_keys, 10);
    }

    #[test]
    fn memory_accounting_returns_to_baseline() {
        let mut s = Store::default();
        for i in 0..1000u32 {
            s.set(0, &i.to_le_bytes(), &[7u8; 300], Expiry::Clear, 0)
                .unwrap();
        }
        let full = s.used_memory();
        assert!(full >= 1000 * 300);
        for i in 0..1000u32 {
            s.del(0, &i.to_le_bytes(), 0);
        }
        assert_eq!(s.data_bytes, 0);
    }

    /// Walks `s` with `Store::scan` steps of `count`, calling `between`
    /// after every step; returns every key seen, duplicates included.
    fn full_scan(
        s: &mut Store,
        db: usize,
        count: usize,
        max_slots: usize,
        now: u64,
        mut between: impl FnMut(&mut Store),
    ) -> Vec<Vec<u8>> {
        let mut seen = Vec::new();
        let mut at = 0;
        loop {
            let next = s.scan(db, at, count, max_slots, now, |k| seen.push(k.to_vec()));
            between(s);
            match next {
                Some(n) => {
                    assert!(n > at, "a step always advances");
                    at = n;
                }
                None => return seen,
            }
        }
    }

    #[test]
    fn scan_returns_each_live_key_of_its_db_once() {
        let mut s = Store::default();
        for i in 0..1000u32 {
            let db = if i % 10 == 0 { 1 } else { 0 };
            let exp = if i % 7 == 0 {
                Expiry::At(500)
            } else {
                Expiry::Clear
            };
            s.set(db, format!("k{i}").as_bytes(), b"v", exp, 0).unwrap();
        }
        let want: Vec<Vec<u8>> = (0..1000u32)
            .filter(|i| i % 10 != 0 && i % 7 != 0)
            .map(|i| format!("k{i}").into_bytes())
            .collect();
        for count in [1, 10, 1000, usize::MAX] {
            // Before the deadline the volatile keys are listed too.
            assert_eq!(full_scan(&mut s, 0, count, 1 << 20, 100, |_| {}).len(), 900);
            let mut got = full_scan(&mut s, 0, count, 1 << 20, 1_000, |_| {});
            got.sort();
            let mut want = want.clone();
            want.sort();
            assert_eq!(got, want, "count {count}");
        }
        // Expired keys are skipped, not removed: a scan only reads.
        assert_eq!(s.db_len(0), 900);
        assert_eq!(
            full_scan(&mut s, 2, 10, 1 << 20, 0, |_| {}),
            Vec::<Vec<u8>>::new()
        );
    }

    #[test]
    fn scan_step_examines_about_count_entries_and_bounded_slots() {
        let mut s = Store::default();
        for i in 0..100u32 {
            s.set(0, &i.to_le_bytes(), b"v", Expiry::Clear, 0).unwrap();
        }
        s.set(1, b"other", b"v", Expiry::Clear, 0).unwrap();
        let mut n = 0;
        assert_eq!(s.scan(0, 0, 10, 1000, 0, |_| n += 1), Some(10));
        assert_eq!(n, 10);
        // Slots of another database count against the slot cap only.
        let mut n = 0;
        assert_eq!(s.scan(1, 0, 10, 30, 0, |_| n += 1), Some(30));
        assert_eq!(n, 0);
        assert_eq!(s.scan(1, 30, 10, 1000, 0, |_| n += 1), None);
        assert_eq!(n, 1);
        // A position past the slab is simply the end.
        assert_eq!(s.scan(0, 5000, 10, 1000, 0, |_| unreachable!()), None);
    }

    #[test]
    fn scan_misses_no_key_that_lives_throughout_despite_churn() {
        let mut s = Store::default();
        let stable: Vec<Vec<u8>> = (0..2000u32)
            .map(|i| format!("stable:{i}").into_bytes())
            .collect();
        // Interleave stable keys with churn keys so freed slots sit between them.
        for (i, k) in stable.iter().enumerate() {
            s.set(0, k, b"v", Expiry::Clear, 0).unwrap();
            s.set(0, format!("churn:{i}").as_bytes(), b"v", Expiry::Clear, 0)
                .unwrap();
        }
        let mut rng = 0x1234_5678_9abc_def1u64;
        let mut next_churn = 2000u32;
        let seen = full_scan(&mut s, 0, 25, 1 << 20, 0, |s| {
            for _ in 0..40 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let victim = format!("churn:{}", rng % next_churn as u64);
                s.del(0, victim.as_bytes(), 0);
                // Overwrites of stable keys keep their slot.
                let k = &stable[(rng >> 32) as usize % stable.len()];
                s.set(0, k, b"longer value", Expiry::Clear, 0).unwrap();
                s.set(
                    0,
                    format!("churn:{next_churn}").as_bytes(),
                    b"v",
                    Expiry::Clear,
                    0,
                )
                .unwrap();
                next_churn += 1;
            }
        });
        let seen: std::collections::HashSet<Vec<u8>> = seen.into_iter().collect();
        for k in &stable {
            assert!(seen.contains(k), "{} missed", String::from_utf8_lossy(k));
        }
    }

    #[test]
    fn random_key_is_uniform_and_skips_expired() {
        let mut s = Store::default();
        assert_eq!(s.random_key(0, 0), None);
        for i in 0..20u32 {
            s.set(0, format!("k{i}").as_bytes(), b"v", Expiry::Clear, 0)
                .unwrap();
        }
        // Many expired keys and another database's keys around them.
        for i in 0..200u32 {
            s.set(0, format!("dead{i}").as_bytes(), b"v", Expiry::At(10), 0)
                .unwrap();
            s.set(3, format!("x{i}").as_bytes(), b"v", Expiry::Clear, 0)
                .unwrap();
        }
        let mut hits = std::collections::HashMap::new();
        for _ in 0..4000 {
            let k = s.random_key(0, 100).expect("live keys exist").to_vec();
            assert!(k.starts_with(b"k"), "{}", String::from_utf8_lossy(&k));
            *hits.entry(k).or_insert(0) += 1;
        }
        assert_eq!(hits.len(), 20);
        // Each key expects 200 draws (sd ~14).
        assert!(hits.values().all(|&n| (120..=300).contains(&n)), "{hits:?}");
        // Every expired key it drew was removed on the way.
        assert!(s.db_len(0) < 220);
        assert!(s.stats().expired > 0);
    }

    #[test]
    fn random_key_in_a_sparse_db_falls_back_to_its_index() {
        let mut s = Store::default();
        for i in 0..5000u32 {
            s.set(0, &i.to_le_bytes(), b"v", Expiry::Clear, 0).unwrap();
        }
        s.set(7, b"a", b"v", Expiry::Clear, 0).unwrap();
        s.set(7, b"b", b"v", Expiry::Clear, 0).unwrap();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100 {
            seen.insert(s.random_key(7, 0).unwrap().to_vec());
        }
        assert_eq!(seen.len(), 2);
        // A database whose every key has expired ends up empty, not stuck.
        s.set(9, b"x", b"v", Expiry::At(5), 0).unwrap();
        s.set(9, b"y", b"v", Expiry::At(5), 0).unwrap();
        assert_eq!(s.random_key(9, 10), None);
        assert_eq!(s.db_len(9), 0);
    }
}
