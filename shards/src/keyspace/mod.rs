//! One shard's keyspace.
//!
//! Every key is a record in the shard's arena (`arena`): its key bytes, its
//! value when that is a small string, the links of an exact LRU list, its
//! TTL and a few bits of metadata, packed into one chunk (`record`). One
//! index per database (`index`) maps a key's hash to its record's position
//! and stores no key. Values that do not fit a record, and every collection,
//! live in the object table (`value::Object`). So a small key costs its own
//! bytes, a 12-byte header, a byte or two of lengths, and about 6 to 9
//! bytes of index, where a key with a separately allocated value cost the
//! slot, the allocator's header and rounding, and a pointer.
//!
//! The rest is split by concern: `lru` (the exact LRU list), `lfu` (the
//! access counter of the LFU policies), `expire` (TTLs,
//! lazy and active expiry), `evict` (limits and policies), `watch` (WATCH),
//! `walk` (SCAN, KEYS, RANDOMKEY, snapshots for the AOF rewrite).

pub mod blocked;
mod defrag;
mod evict;
mod expire;
mod lfu;
mod lru;
pub mod record;
mod undo;
mod walk;
mod watch;

use crate::arena::{Arena, MAX_CHUNK, NIL};
use crate::index::Index;
use crate::slab::Slab;
use crate::value::{Kind, Object};
use ahash::RandomState;
use record::{KeyPart, Layout, ValPart, KEY_EXT, KEY_INLINE_MAX, LIVE, LRU_MASK, TTL, VAL_OBJ};

pub use evict::{EvictionPolicy, Limits, OutOfMemory, DEFAULT_EVICTION_SAMPLES};
pub use lfu::LfuParams;
pub use undo::Undo;
use watch::Watches;

/// Databases per server, as Redis's default `databases 16`.
pub const NUM_DBS: usize = 16;

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

/// What Redis's `OBJECT ENCODING` of a string depends on beyond its bytes:
/// how the value was last written. Two bits of the record's metadata.
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

impl StrEncoding {
    fn bits(self) -> u8 {
        self as u8
    }
    fn from_bits(b: u8) -> Self {
        match b {
            1 => StrEncoding::Str,
            2 => StrEncoding::Raw,
            _ => StrEncoding::Auto,
        }
    }
}

/// How a look-up treats the key it finds, as Redis's `lookupKey` flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// Refresh the key's LRU position and access time.
    pub touch: bool,
    /// Count a keyspace hit or miss.
    pub count: bool,
}

impl Lookup {
    /// A read command's look-up (`lookupKeyRead`): touches and counts.
    pub const READ: Lookup = Lookup {
        touch: true,
        count: true,
    };
    /// A write command's look-up (`lookupKeyWrite`): touches, counts nothing.
    pub const WRITE: Lookup = Lookup {
        touch: true,
        count: false,
    };
    /// Counts but leaves the LRU alone (`LOOKUP_NOTOUCH`: TTL, TYPE, EXISTS, OBJECT).
    pub const NOTOUCH: Lookup = Lookup {
        touch: false,
        count: true,
    };
    /// Neither (internal reads: the AOF, cross-shard moves, MEMORY USAGE).
    pub const PEEK: Lookup = Lookup {
        touch: false,
        count: false,
    };
}

/// A value as the store hands it out.
#[derive(Clone, Copy, Debug)]
pub enum ValueRef<'a> {
    /// A string.
    Str(&'a [u8]),
    /// Anything kept in the object table (a long string, a collection).
    Obj(&'a Object),
}

impl<'a> ValueRef<'a> {
    /// The value's type.
    pub fn kind(self) -> Kind {
        match self {
            ValueRef::Str(_) => Kind::String,
            ValueRef::Obj(o) => o.kind(),
        }
    }

    /// The bytes of a string value, None for other types.
    pub fn as_str(self) -> Option<&'a [u8]> {
        match self {
            ValueRef::Str(s) => Some(s),
            ValueRef::Obj(Object::Str(s)) => Some(s),
            #[allow(unreachable_patterns)]
            ValueRef::Obj(_) => None,
        }
    }
}

/// The key is there but holds another type (the caller answers WRONGTYPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

/// A value to store.
pub enum NewValue<'a> {
    /// A string.
    Bytes(&'a [u8]),
    /// An object (a collection).
    Obj(Object),
}

/// A value taken out of the store with its record (RENAME moves it under
/// another key without copying an object).
pub(crate) enum Owned {
    /// A string that lived in its record.
    Bytes(Vec<u8>),
    /// An object of the object table.
    Obj(Object),
}

/// What a rewrite of a record does with its TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TtlChange {
    Keep,
    Clear,
    At(u64),
}

/// What a rewrite of a record does with its value.
enum Repl<'a> {
    Keep,
    Bytes(&'a [u8]),
}

/// An evicted key kept for the AOF: (db, key).
type Evicted = (u8, Vec<u8>);

/// One shard's data. Single-threaded by construction: the shard thread owns it.
pub struct Store {
    arena: Arena,
    dbs: Vec<Index>,
    objects: Slab<Object>,
    /// Bytes the objects own beyond their table slots.
    object_bytes: usize,
    /// Keys too long for a record.
    long_keys: Slab<Box<[u8]>>,
    long_key_bytes: usize,
    /// LRU list ends: most and least recently used.
    head: u32,
    tail: u32,
    /// Positions of the records with a TTL (each knows its slot).
    volatile: Vec<u32>,
    live: usize,
    db_keys: [usize; NUM_DBS],
    db_volatile: [usize; NUM_DBS],
    avg_ttl: [u64; NUM_DBS],
    limits: Limits,
    stats: Stats,
    /// The op being executed comes from a CLIENT NO-TOUCH connection:
    /// look-ups leave the LRU alone (Redis 7.2's `CLIENT_NO_TOUCH`).
    no_touch: bool,
    /// The op being executed may grow memory past `maxmemory` without
    /// making room (a script's write under `allow-oom`; see `make_room`).
    allow_oom: bool,
    /// Keys sampled per eviction where a policy samples (maxmemory-samples).
    samples: usize,
    /// DEBUG SET-ACTIVE-EXPIRE 0 turns the background expiry off.
    no_active_expire: bool,
    rng: u64,
    /// The access clock (see `clock`), set once per batch by `tick`.
    lru_now: u32,
    /// An LFU policy is in force: the records' access fields are counters
    /// (see `lfu`). Kept apart from `limits` for the touch path's one branch.
    lfu_on: bool,
    /// The LFU minutes clock, set with `lru_now`.
    lfu_now: u32,
    /// The record whose counter the running op has already bumped: a write
    /// that looked its key up first (INCR, SET NX) counts one access, as
    /// Redis's `dbOverwrite` keeps the counter `lookupKeyWrite` bumped.
    lfu_bumped: u32,
    /// The LFU policies' eviction pool.
    pool: evict::Pool,
    hasher: RandomState,
    /// Keys evicted since the last drain, kept only when persistence needs
    /// to log their removal.
    evicted: Option<Vec<Evicted>>,
    /// WATCHed keys of this shard; None while nobody watches, so a write
    /// pays one branch for the feature.
    watches: Option<Box<Watches>>,
    /// Clients blocked on this shard's keys; None while nobody waits.
    blocked: Option<Box<blocked::Blocked>>,
    /// A record's bytes while it is rewritten.
    scratch: Vec<u8>,
    /// The page id from which the next defragmentation step looks for sparse pages.
    defrag_from: usize,
    /// What the changes since the last `forget` replaced, while journaling
    /// is on (see `undo`); None when off.
    journal: Option<Box<undo::Journal>>,
    /// Where big removed values are freed (see `lazyfree`); None: inline.
    lazy: Option<crate::lazyfree::LazyFree>,
    /// Which keyspace events are wanted, and where they go (see `notify`).
    hub: std::sync::Arc<crate::notify::Hub>,
    /// This shard's index, for the hub's sink.
    shard: usize,
    /// The events made since they were last handed out.
    events: crate::notify::Events,
    /// Client-side caching's tracked keys and prefixes; None until a
    /// client tracks, so a write pays one branch for the feature.
    tracking: Option<Box<crate::tracking::Tracking>>,
    /// The tracking client whose op runs, if any (see `set_tracker`).
    tracker: Option<crate::tracking::Tracker>,
}

impl Default for Store {
    fn default() -> Self {
        Store::new(Limits::default())
    }
}

/// The key bytes of the record at `pos`.
#[inline]
fn key_bytes<'a>(arena: &'a Arena, long_keys: &'a Slab<Box<[u8]>>, pos: u32) -> &'a [u8] {
    let c = arena.chunk(pos);
    let l = Layout::of(c);
    if l.meta & KEY_EXT != 0 {
        long_keys.get(record::get_u32(c, l.key_at))
    } else {
        &c[l.key_at..l.key_at + l.klen]
    }
}

#[inline]
fn key_is(arena: &Arena, long_keys: &Slab<Box<[u8]>>, pos: u32, key: &[u8]) -> bool {
    let c = arena.chunk(pos);
    let l = Layout::of(c);
    if l.klen != key.len() {
        return false;
    }
    if l.meta & KEY_EXT != 0 {
        &long_keys.get(record::get_u32(c, l.key_at))[..] == key
    } else {
        &c[l.key_at..l.key_at + l.klen] == key
    }
}

impl Store {
    /// An empty store with these limits.
    pub fn new(limits: Limits) -> Self {
        Store {
            arena: Arena::new(),
            dbs: (0..NUM_DBS).map(|_| Index::new()).collect(),
            objects: Slab::default(),
            object_bytes: 0,
            long_keys: Slab::default(),
            long_key_bytes: 0,
            head: NIL,
            tail: NIL,
            volatile: Vec::new(),
            live: 0,
            db_keys: [0; NUM_DBS],
            db_volatile: [0; NUM_DBS],
            avg_ttl: [0; NUM_DBS],
            limits,
            stats: Stats::default(),
            no_touch: false,
            allow_oom: false,
            samples: DEFAULT_EVICTION_SAMPLES,
            no_active_expire: false,
            rng: 0x9e37_79b9_7f4a_7c15,
            lru_now: lru_clock_at(crate::clock::unix_ms()),
            lfu_on: limits.policy.is_lfu(),
            lfu_now: lfu::minutes_at(crate::clock::unix_ms()),
            lfu_bumped: NIL,
            pool: evict::Pool::default(),
            hasher: index_hasher(),
            evicted: None,
            watches: None,
            blocked: None,
            scratch: Vec::new(),
            defrag_from: 0,
            journal: None,
            lazy: None,
            hub: std::sync::Arc::default(),
            shard: 0,
            events: crate::notify::Events::default(),
            tracking: None,
            tracker: None,
        }
    }

    /// The op about to run comes from a tracking client (`t`), or not:
    /// a remembering tracker's read look-ups are remembered, and its writes
    /// are known as its own (NOLOOP).
    #[inline]
    pub fn set_tracker(&mut self, t: Option<crate::tracking::Tracker>) {
        self.tracker = t;
    }

    /// See `set_tracker`.
    #[inline]
    pub fn tracker(&self) -> Option<crate::tracking::Tracker> {
        self.tracker
    }

    /// The tracking table's totals (see `Tracking::totals`).
    pub fn tracking_totals(&self) -> [u64; 3] {
        self.tracking.as_ref().map_or([0; 3], |t| t.totals())
    }

    /// The tracking table, created at its first use.
    pub fn tracking(&mut self) -> &mut crate::tracking::Tracking {
        self.tracking.get_or_insert_with(Default::default)
    }

    /// Redis's `trackingInvalidateKey`: `key` changed.
    #[inline]
    pub(crate) fn invalidate(&mut self, key: &[u8]) {
        if let Some(t) = self.tracking.as_mut() {
            let writer = self.tracker.map_or(0, |w| w.client);
            t.invalidate(key, writer, &mut self.events);
        }
    }

    /// Reports this shard's (number `shard`) keyspace events to `hub`.
    pub fn set_notify(&mut self, hub: std::sync::Arc<crate::notify::Hub>, shard: usize) {
        self.hub = hub;
        self.shard = shard;
    }

    /// Redis's `notifyKeyspaceEvent`: records that `key` of `db` had
    /// `name`, when the hub wants events of `class` (one relaxed load when
    /// it does not).
    #[inline]
    pub fn notify(&mut self, db: usize, class: u32, name: &'static str, key: &[u8]) {
        if self.hub.flags() & class != 0 {
            self.events.push(db, class, name, key);
        }
    }

    /// `notify` for the record at `pos` (before it goes).
    #[inline]
    fn notify_at(&mut self, pos: u32, class: u32, name: &'static str) {
        if self.hub.flags() & class != 0 {
            let db = self.db_at(pos);
            let key = key_bytes(&self.arena, &self.long_keys, pos);
            self.events.push(db, class, name, key);
        }
    }

    /// Takes back a `new` event just reported for `key` (see
    /// `Events::unpush_new`).
    pub fn unnotify_new(&mut self, db: usize, key: &[u8]) {
        self.events.unpush_new(db, key);
    }

    /// Hands the events made since the last call to the hub's sink, in
    /// order (once per group, after its records are written).
    pub fn publish_events(&mut self) {
        if !self.events.is_empty() {
            self.hub.publish(self.shard, &self.events);
            self.events.clear();
        }
    }

    /// Forgets the events made since the last hand-out (their group was
    /// rolled back).
    pub fn drop_events(&mut self) {
        self.events.clear();
    }

    /// Frees big removed values on the engine's lazy-free thread (None:
    /// free everything inline).
    pub fn set_lazy_free(&mut self, lazy: Option<crate::lazyfree::LazyFree>) {
        self.lazy = lazy;
    }

    /// Frees a value the store no longer holds: a big one on the lazy-free
    /// thread, when there is one.
    pub fn dispose(&mut self, o: Object) {
        match &self.lazy {
            Some(l) => l.free(o),
            None => drop(o),
        }
    }

    /// Frees a whole store (what FLUSHALL replaced) the same way.
    fn dispose_store(&mut self, old: Store) {
        match &self.lazy {
            Some(l) => l.free_store(old),
            None => drop(old),
        }
    }

    /// What dropping the store would free, in allocations (roughly: its
    /// keys and objects; see `lazyfree`).
    pub(crate) fn free_effort(&self) -> usize {
        self.live + self.objects.len()
    }

    /// The encoding thresholds of the collections.
    pub fn value_limits(&self) -> crate::value::ValueLimits {
        self.limits.values
    }

    /// A fresh random number from the store's generator (random draws of
    /// HRANDFIELD, SRANDMEMBER, SPOP).
    pub fn random_u64(&mut self) -> u64 {
        self.random()
    }

    /// Replaces the limits; takes effect at the next write.
    pub fn set_limits(&mut self, limits: Limits) {
        if limits.policy != self.limits.policy {
            self.pool.clear();
        }
        self.limits = limits;
        self.lfu_on = limits.policy.is_lfu();
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

    /// Bytes held from the allocator: arena pages, indexes, the TTL table,
    /// the object and key tables and what their entries own.
    pub fn used_memory(&self) -> usize {
        self.arena.allocated()
            + self.dbs.iter().map(Index::allocated).sum::<usize>()
            + self.volatile.capacity() * 4
            + self.objects.allocated()
            + self.object_bytes
            + self.long_keys.allocated()
            + self.long_key_bytes
            + self.scratch.capacity()
            + self.watches.as_ref().map_or(0, |w| w.allocated())
    }

    /// Bytes of arena pages not used by records.
    pub fn fragmentation(&self) -> usize {
        self.arena.slack()
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn find(&self, db: usize, h: u64, key: &[u8]) -> Option<u32> {
        let (arena, long_keys) = (&self.arena, &self.long_keys);
        self.dbs[db].find(h, |p| key_is(arena, long_keys, p, key))
    }

    /// The access clock: Unix seconds modulo 2^22 (48 days), as Redis's
    /// `LRU_CLOCK` keeps 24 bits of seconds, as of the last `tick`.
    #[inline]
    fn clock(&self) -> u32 {
        self.lru_now
    }

    /// Sets the access clock from `now_ms` (Unix milliseconds; 0: read the
    /// clock) for the ops that follow. Read once per batch rather than at
    /// every access (a clock read per touch was a measurable share of a
    /// script's commands); the clock counts seconds.
    #[inline]
    pub fn tick(&mut self, now_ms: u64) {
        let now = if now_ms == 0 {
            crate::clock::unix_ms()
        } else {
            now_ms
        };
        self.lru_now = lru_clock_at(now);
        self.lfu_now = lfu::minutes_at(now);
    }

    /// The key of the record at `pos`.
    #[inline]
    pub fn key_at(&self, pos: u32) -> &[u8] {
        key_bytes(&self.arena, &self.long_keys, pos)
    }

    #[inline]
    fn layout(&self, pos: u32) -> Layout {
        Layout::of(self.arena.chunk(pos))
    }

    /// The database of the record at `pos`.
    #[inline]
    pub fn db_at(&self, pos: u32) -> usize {
        record::db_of(record::meta(self.arena.chunk(pos)))
    }

    /// The value of the record at `pos`.
    #[inline]
    pub fn value_at(&self, pos: u32) -> ValueRef<'_> {
        let c = self.arena.chunk(pos);
        let l = Layout::of(c);
        if l.meta & VAL_OBJ != 0 {
            ValueRef::Obj(self.objects.get(record::get_u32(c, l.val_at)))
        } else {
            ValueRef::Str(&c[l.val_at..l.val_at + l.vlen])
        }
    }

    /// The type of the value at `pos`.
    pub fn kind_at(&self, pos: u32) -> Kind {
        self.value_at(pos).kind()
    }

    /// The object at `pos`, writable, when the value is one; `f` runs on it
    /// and the store's memory accounting follows what it changed.
    pub fn with_object<R>(&mut self, pos: u32, f: impl FnOnce(&mut Object) -> R) -> Option<R> {
        let c = self.arena.chunk(pos);
        let l = Layout::of(c);
        if l.meta & VAL_OBJ == 0 {
            return None;
        }
        let h = record::get_u32(c, l.val_at);
        if self.journaling() {
            // Whole-value journaling: correct for any type; a family whose
            // values grow large records its own element-level inverse instead.
            let copy = self.objects.get(h).clone();
            self.note_was(pos, Some(copy));
        }
        let o = self.objects.get_mut(h);
        let before = o.heap_bytes();
        let r = f(o);
        let after = o.heap_bytes();
        self.object_bytes = self.object_bytes + after - before;
        Some(r)
    }

    /// The absolute expiry of the record at `pos` (0 = none).
    #[inline]
    pub fn expire_of(&self, pos: u32) -> u64 {
        let c = self.arena.chunk(pos);
        if record::meta(c) & TTL != 0 {
            record::expire_at(c)
        } else {
            0
        }
    }

    /// How the string at `pos` was last written.
    pub fn encoding_at(&self, pos: u32) -> StrEncoding {
        StrEncoding::from_bits(record::enc_of(record::meta(self.arena.chunk(pos))))
    }

    /// Seconds since the record at `pos` was last touched.
    pub fn idle_at(&self, pos: u32) -> u32 {
        let m = record::meta(self.arena.chunk(pos));
        self.clock().wrapping_sub(m & LRU_MASK) & LRU_MASK
    }

    /// Whether the ops that follow come from a CLIENT NO-TOUCH connection
    /// (set per op by `ops::execute`).
    #[inline]
    pub fn set_no_touch(&mut self, on: bool) {
        self.no_touch = on;
    }

    /// Whether the ops that follow may write past `maxmemory` without
    /// making room (set per op by `ops::execute`).
    #[inline]
    pub fn set_allow_oom(&mut self, on: bool) {
        self.allow_oom = on;
    }

    /// Keys sampled per eviction by the policies that sample (Redis's
    /// `maxmemory-samples`; at least 1).
    pub fn set_eviction_samples(&mut self, n: usize) {
        self.samples = n.max(1);
    }

    /// Turns active expiry on or off (DEBUG SET-ACTIVE-EXPIRE); keys still
    /// expire when they are looked up.
    pub fn set_active_expire(&mut self, on: bool) {
        self.no_active_expire = !on;
    }

    /// Finds a key, as Redis's `lookupKey`: an expired key is removed and
    /// not found; `how` says whether to count a hit or miss and whether to
    /// refresh the key's LRU position. The position stays valid until the
    /// next call that may add, remove or rewrite a record.
    #[inline]
    pub fn lookup(&mut self, db: usize, key: &[u8], now_ms: u64, how: Lookup) -> Option<u32> {
        let h = self.hash(key);
        let found = match self.find(db, h, key) {
            Some(pos) if self.is_expired(pos, now_ms) => {
                self.expire_now(pos);
                None
            }
            other => other,
        };
        if let Some(t) = self.tracker {
            if t.remember && how.count {
                let table = self.tracking.get_or_insert_with(Default::default);
                table.remember(key, t, &mut self.events, self.limits.tracking_max_keys);
            }
        }
        if how.count {
            if found.is_some() {
                self.stats.hits += 1;
            } else {
                self.stats.misses += 1;
                self.notify(db, crate::notify::KEY_MISS, "keymiss", key);
            }
        }
        if how.touch && !self.no_touch {
            if let Some(pos) = found {
                self.touch(pos);
            }
        }
        found
    }

    /// `lookup` for a command that works on `want`: `Err(WrongType)` when
    /// the key holds another type.
    #[inline]
    pub fn lookup_kind(
        &mut self,
        db: usize,
        key: &[u8],
        now_ms: u64,
        how: Lookup,
        want: Kind,
    ) -> Result<Option<u32>, WrongType> {
        match self.lookup(db, key, now_ms, how) {
            Some(pos) if self.kind_at(pos) != want => Err(WrongType),
            other => Ok(other),
        }
    }

    /// Reads a key for a read command: counts a hit or miss and moves the key
    /// to the LRU head. The value stays valid until the next mutation.
    pub fn get(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<&[u8]> {
        self.read(db, key, now_ms, true)
    }

    /// Looks a string key up and moves it to the LRU head, counting a hit
    /// or miss only when `count` (Redis's `lookupKeyRead` vs `lookupKeyWrite`).
    pub fn read(&mut self, db: usize, key: &[u8], now_ms: u64, count: bool) -> Option<&[u8]> {
        let how = Lookup { touch: true, count };
        let pos = self.lookup(db, key, now_ms, how)?;
        self.value_at(pos).as_str()
    }

    /// Looks a key up like `read` and also returns its absolute expiry (0 = none).
    pub fn read_entry(
        &mut self,
        db: usize,
        key: &[u8],
        now_ms: u64,
        count: bool,
    ) -> Option<(&[u8], u64)> {
        let pos = self.lookup(db, key, now_ms, Lookup { touch: true, count })?;
        let at = self.expire_of(pos);
        self.value_at(pos).as_str().map(|v| (v, at))
    }

    /// The absolute expiry of a key (0 = none), or None when absent; counts a
    /// hit or miss but leaves the LRU order alone (TTL and TYPE).
    pub fn expire_at_counted(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<u64> {
        let pos = self.lookup(db, key, now_ms, Lookup::NOTOUCH)?;
        Some(self.expire_of(pos))
    }

    /// Whether a key exists; counts a hit or miss but leaves the LRU order alone (as EXISTS).
    pub fn exists(&mut self, db: usize, key: &[u8], now_ms: u64) -> bool {
        self.lookup(db, key, now_ms, Lookup::NOTOUCH).is_some()
    }

    /// Reads a string key without touching statistics or LRU order.
    pub fn peek(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<&[u8]> {
        let pos = self.lookup(db, key, now_ms, Lookup::PEEK)?;
        self.value_at(pos).as_str()
    }

    /// The absolute expiry of a key (0 = none), or None when absent.
    pub fn expire_at(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<u64> {
        let pos = self.lookup(db, key, now_ms, Lookup::PEEK)?;
        Some(self.expire_of(pos))
    }

    /// Removes a key; true if it existed (and had not expired).
    pub fn del(&mut self, db: usize, key: &[u8], now_ms: u64) -> bool {
        let h = self.hash(key);
        let Some(pos) = self.find(db, h, key) else {
            return false;
        };
        let expired = self.is_expired(pos, now_ms);
        if expired {
            self.expire_now(pos);
        } else {
            self.remove_at(pos);
        }
        !expired
    }

    /// Removes the record at `pos` (and its object, freed in the
    /// background when big), telling WATCH.
    pub fn remove_at(&mut self, pos: u32) {
        if let Some(o) = self.take_at(pos) {
            self.dispose(o);
        }
    }

    /// Removes the record at `pos` and returns its object, if it had one,
    /// so a big value can be freed elsewhere.
    pub fn take_at(&mut self, pos: u32) -> Option<Object> {
        let c = self.arena.chunk(pos);
        let l = Layout::of(c);
        let db = record::db_of(l.meta);
        if let Some(w) = self.watches.as_mut() {
            w.touch(db as u8, key_bytes(&self.arena, &self.long_keys, pos));
        }
        // An XREADGROUP blocked on the key learns it is gone (Redis 7.0's
        // `signalDeletedKeyAsReady`); other waiters keep waiting.
        if let Some(b) = self.blocked.as_mut() {
            b.touch(db as u8, key_bytes(&self.arena, &self.long_keys, pos));
        }
        if let Some(t) = self.tracking.as_mut() {
            let writer = self.tracker.map_or(0, |w| w.client);
            let key = key_bytes(&self.arena, &self.long_keys, pos);
            t.invalidate(key, writer, &mut self.events);
        }
        let obj = if l.meta & VAL_OBJ != 0 {
            let o = self.objects.remove(record::get_u32(c, l.val_at));
            self.object_bytes -= o.heap_bytes();
            Some(o)
        } else {
            None
        };
        // Journaled, the value is kept until the group's records are safe.
        let obj = self.note_was(pos, obj);
        let h = self.hash(key_bytes(&self.arena, &self.long_keys, pos));
        self.dbs[db].remove(h, |p| p == pos);
        if l.meta & TTL != 0 {
            self.unlink_volatile(pos);
        }
        self.unlink(pos);
        let c = self.arena.chunk(pos);
        if l.meta & KEY_EXT != 0 {
            let k = self.long_keys.remove(record::get_u32(c, l.key_at));
            self.long_key_bytes -= crate::alloc_size(k.len());
        }
        record::set_meta(self.arena.chunk_mut(pos), 0);
        self.arena.free(pos);
        self.live -= 1;
        self.db_keys[db] -= 1;
        obj
    }

    /// Takes the record at `pos` out of the store with its value, expiry
    /// and encoding, journaling nothing (the caller journals the move).
    pub(crate) fn detach(&mut self, pos: u32) -> (Owned, u64, StrEncoding) {
        let exp = self.expire_of(pos);
        let enc = self.encoding_at(pos);
        let inline = match self.value_at(pos) {
            ValueRef::Str(v) => Some(v.to_vec()),
            ValueRef::Obj(_) => None,
        };
        let journal = self.journal.take();
        let obj = self.take_at(pos);
        self.journal = journal;
        let value = match obj {
            Some(o) => Owned::Obj(o),
            None => Owned::Bytes(inline.unwrap_or_default()),
        };
        (value, exp, enc)
    }

    /// Adds a record for an owned value; the key must be absent.
    fn insert_owned(
        &mut self,
        db: usize,
        key: &[u8],
        value: Owned,
        enc: StrEncoding,
        exp: u64,
    ) -> Result<u32, OutOfMemory> {
        let h = self.hash(key);
        match value {
            Owned::Bytes(v) => self.insert(db, h, key, NewValue::Bytes(&v), enc, exp),
            Owned::Obj(o) => self.insert(db, h, key, NewValue::Obj(o), enc, exp),
        }
    }

    /// RENAME's move: the value, TTL and encoding of the record at `pos`
    /// go to `to_key` in `to_db`, which must be absent (the caller removed
    /// it). An object moves without a copy. Returns the new position.
    /// Fails only when the arena has no address left for a record.
    pub fn rename_at(&mut self, pos: u32, to_db: usize, to_key: &[u8]) -> Result<u32, OutOfMemory> {
        let from_db = self.db_at(pos);
        let from_key = self.key_at(pos).to_vec();
        let access = record::meta(self.arena.chunk(pos)) & LRU_MASK;
        let (value, exp, enc) = self.detach(pos);
        self.modified(to_db, to_key);
        let journal = self.journal.take();
        let r = self.insert_owned(to_db, to_key, value, enc, exp);
        self.journal = journal;
        if let Ok(new) = r {
            if self.lfu_on {
                // Redis moves the object, and its counter with it.
                let c = self.arena.chunk_mut(new);
                record::set_meta(c, record::with_clock(record::meta(c), access));
            }
            self.note_renamed(from_db, &from_key, to_db, to_key);
        }
        r
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
            Some(pos) if self.is_expired(pos, now_ms) => {
                self.expire_now(pos);
                None
            }
            other => other,
        };
        let ttl = match expiry {
            Expiry::Keep => TtlChange::Keep,
            Expiry::Clear => TtlChange::Clear,
            Expiry::At(t) => TtlChange::At(t),
        };
        match existing {
            Some(pos) => {
                let counted = self.lfu_on && self.lfu_bumped == pos;
                let pos = self.rewrite(pos, Repl::Bytes(value), ttl, Some(enc))?;
                if !counted {
                    self.touch(pos);
                }
            }
            None => {
                self.admit_new_key()?;
                let at = match expiry {
                    Expiry::At(t) => t,
                    _ => 0,
                };
                self.insert(db, h, key, NewValue::Bytes(value), enc, at)?;
            }
        }
        Ok(())
    }

    /// Stores an object under a key that must be absent (the caller looked
    /// it up); returns its position.
    pub fn insert_object(
        &mut self,
        db: usize,
        key: &[u8],
        obj: Object,
        expire_at: u64,
    ) -> Result<u32, OutOfMemory> {
        self.modified(db, key);
        self.admit_new_key()?;
        let h = self.hash(key);
        self.insert(db, h, key, NewValue::Obj(obj), StrEncoding::Auto, expire_at)
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

    /// The value of `key` for an in-place write (SETBIT, SETRANGE, APPEND),
    /// as Redis's `lookupStringForBitCommand`: looked up for writing (LRU
    /// refreshed, no hit/miss), created empty when absent, and zero-extended
    /// to at least `min_len` bytes. The value becomes `raw` (see
    /// `StrEncoding`). Returns the value, its expiry (0 = none), and whether
    /// the key was created or grew. The caller checked the type.
    pub fn value_for_update(
        &mut self,
        db: usize,
        key: &[u8],
        min_len: usize,
        now_ms: u64,
    ) -> Result<(&mut [u8], u64, bool), OutOfMemory> {
        let (pos, grown) = match self.lookup(db, key, now_ms, Lookup::WRITE) {
            Some(pos) => {
                // The caller changes only the byte at `min_len - 1`.
                self.note_byte(pos, min_len.max(1) - 1);
                let cur = self.value_at(pos).as_str().map_or(0, <[u8]>::len);
                let grown = cur < min_len;
                let pos = if grown {
                    self.grow_value(pos, min_len)?
                } else {
                    pos
                };
                (pos, grown)
            }
            None => {
                self.admit_new_key()?;
                let h = self.hash(key);
                let zeros = vec![0u8; min_len];
                (
                    self.insert(db, h, key, NewValue::Bytes(&zeros), StrEncoding::Raw, 0)?,
                    true,
                )
            }
        };
        self.modified(db, key);
        let c = self.arena.chunk_mut(pos);
        let m = record::meta(c);
        record::set_meta(c, record::with_enc(m, StrEncoding::Raw.bits()));
        let at = self.expire_of(pos);
        let c = self.arena.chunk(pos);
        let l = Layout::of(c);
        let value: &mut [u8] = if l.meta & VAL_OBJ != 0 {
            let h = record::get_u32(c, l.val_at);
            match self.objects.get_mut(h) {
                Object::Str(v) => v,
                #[allow(unreachable_patterns)]
                _ => &mut [],
            }
        } else {
            &mut self.arena.chunk_mut(pos)[l.val_at..l.val_at + l.vlen]
        };
        Ok((value, at, grown))
    }

    /// Zero-extends the string at `pos` to `len` bytes; returns its position.
    fn grow_value(&mut self, pos: u32, len: usize) -> Result<u32, OutOfMemory> {
        let l = self.layout(pos);
        if l.meta & VAL_OBJ != 0 {
            self.with_object(pos, |o| {
                #[allow(irrefutable_let_patterns)]
                if let Object::Str(v) = o {
                    v.resize(len, 0);
                }
            });
            return Ok(pos);
        }
        let mut v = Vec::with_capacity(len);
        v.extend_from_slice(&self.arena.chunk(pos)[l.val_at..l.val_at + l.vlen]);
        v.resize(len, 0);
        self.rewrite(pos, Repl::Bytes(&v), TtlChange::Keep, None)
    }

    /// Sets or clears (`at == 0`) the TTL of a key; false when the key is absent.
    pub fn expire(&mut self, db: usize, key: &[u8], at: u64, now_ms: u64) -> bool {
        match self.lookup(db, key, now_ms, Lookup::PEEK) {
            Some(pos) => {
                self.modified(db, key);
                self.set_expire_at(pos, at);
                true
            }
            None => false,
        }
    }

    /// Sets or clears (`at == 0`) the TTL of the record at `pos`; returns
    /// its position (a record gains or loses the TTL fields, so it may move).
    pub fn set_expire_at(&mut self, pos: u32, at: u64) -> u32 {
        let ttl = if at == 0 {
            TtlChange::Clear
        } else {
            TtlChange::At(at)
        };
        // Keeping the value never needs a new object, so this cannot fail
        // for memory; a record that cannot move keeps its place.
        self.rewrite(pos, Repl::Keep, ttl, None).unwrap_or(pos)
    }

    /// What OBJECT reports of a key: its value, how it was written, and the
    /// seconds since its last access, or under LFU its access frequency
    /// (OBJECT IDLETIME or FREQ). Counts a hit or miss but leaves the LRU
    /// order and access time alone (Redis's `LOOKUP_NOTOUCH`).
    pub fn object_info(
        &mut self,
        db: usize,
        key: &[u8],
        now_ms: u64,
    ) -> Option<(ValueRef<'_>, StrEncoding, u32)> {
        let pos = self.lookup(db, key, now_ms, Lookup::NOTOUCH)?;
        let enc = self.encoding_at(pos);
        let access = if self.lfu_on {
            self.freq_at(pos) as u32
        } else {
            self.idle_at(pos)
        };
        Some((self.value_at(pos), enc, access))
    }

    /// Bytes one key accounts for in `used_memory`: its chunk, its share of
    /// the index and the TTL table, and what its value and key own outside
    /// the record. Like Redis's MEMORY USAGE (a plain `dictFind`), the key
    /// is not expired, counted or touched by the look-up.
    pub fn entry_usage(&self, db: usize, key: &[u8]) -> Option<usize> {
        let pos = self.find(db, self.hash(key), key)?;
        let l = self.layout(pos);
        let c = self.arena.chunk(pos);
        let mut n = self.arena.size_of(pos) + 7;
        if l.meta & TTL != 0 {
            n += 4;
        }
        if l.meta & KEY_EXT != 0 {
            n += crate::alloc_size(l.klen) + 16;
        }
        if l.meta & VAL_OBJ != 0 {
            n += std::mem::size_of::<Option<Object>>()
                + self.objects.get(record::get_u32(c, l.val_at)).heap_bytes();
        }
        Some(n)
    }

    /// MOVE: re-files `key` from database `src` to `dst` with its value, TTL
    /// and encoding, when it exists in `src` and not in `dst` (both looked up
    /// for writing: expired keys go, live ones are refreshed in the LRU).
    /// Returns the moved record's position.
    pub fn move_key(&mut self, src: usize, dst: usize, key: &[u8], now_ms: u64) -> Option<u32> {
        let pos = self.lookup(src, key, now_ms, Lookup::WRITE)?;
        if self.lookup(dst, key, now_ms, Lookup::WRITE).is_some() {
            return None;
        }
        let h = self.hash(key);
        self.dbs[src].remove(h, |p| p == pos);
        let (arena, long_keys, hasher) = (&self.arena, &self.long_keys, &self.hasher);
        self.dbs[dst].insert(h, pos, |p| hasher.hash_one(key_bytes(arena, long_keys, p)));
        self.note_moved(src, dst, key);
        self.modified(src, key);
        self.modified(dst, key);
        // Redis's MOVE adds the key to the destination with `dbAdd`.
        self.notify(dst, crate::notify::NEW, "new", key);
        let c = self.arena.chunk_mut(pos);
        let m = record::meta(c);
        record::set_meta(c, record::with_db(m, dst));
        self.db_keys[src] -= 1;
        self.db_keys[dst] += 1;
        if m & TTL != 0 {
            self.db_volatile[src] -= 1;
            self.db_volatile[dst] += 1;
        }
        Some(pos)
    }

    /// Adds a new record; the key must be absent.
    fn insert(
        &mut self,
        db: usize,
        h: u64,
        key: &[u8],
        value: NewValue,
        enc: StrEncoding,
        expire_at: u64,
    ) -> Result<u32, OutOfMemory> {
        self.note_created(db, key);
        self.notify(db, crate::notify::NEW, "new", key);
        let ttl = expire_at != 0;
        let key_inline = key.len() <= KEY_INLINE_MAX;
        let (val, obj) = match value {
            NewValue::Bytes(v)
                if record::size(ttl, key.len(), key_inline, Some(v.len())) <= MAX_CHUNK =>
            {
                (ValPart::Inline(v), None)
            }
            NewValue::Bytes(v) => (ValPart::Obj(0), Some(Object::Str(v.to_vec()))),
            NewValue::Obj(o) => (ValPart::Obj(0), Some(o)),
        };
        let size = record::size(
            ttl,
            key.len(),
            key_inline,
            match val {
                ValPart::Inline(v) => Some(v.len()),
                ValPart::Obj(_) => None,
            },
        );
        let pos = self.arena.alloc(size).ok_or(OutOfMemory)?;
        let keypart = if key_inline {
            KeyPart::Inline(key)
        } else {
            self.long_key_bytes += crate::alloc_size(key.len());
            KeyPart::Ext(self.long_keys.insert(key.into()), key.len())
        };
        let val = match obj {
            Some(o) => {
                self.object_bytes += o.heap_bytes();
                ValPart::Obj(self.objects.insert(o))
            }
            None => val,
        };
        let vslot = ttl.then_some((expire_at, self.volatile.len() as u32));
        let meta = record::with_enc(
            record::with_db(record::with_clock(LIVE, self.fresh_access()), db),
            enc.bits(),
        );
        record::write(self.arena.chunk_mut(pos), meta, vslot, keypart, val);
        if ttl {
            self.volatile.push(pos);
            self.db_volatile[db] += 1;
        }
        self.link_front(pos);
        let (arena, long_keys, hasher) = (&self.arena, &self.long_keys, &self.hasher);
        self.dbs[db].insert(h, pos, |p| hasher.hash_one(key_bytes(arena, long_keys, p)));
        self.live += 1;
        self.db_keys[db] += 1;
        Ok(pos)
    }

    /// Rewrites the record at `pos` with a new value and/or TTL, moving it
    /// to a chunk of another size class when its size class changes.
    /// Returns its position.
    fn rewrite(
        &mut self,
        pos: u32,
        value: Repl,
        ttl: TtlChange,
        enc: Option<StrEncoding>,
    ) -> Result<u32, OutOfMemory> {
        if self.journaling() {
            match value {
                Repl::Keep => self.note_ttl(pos),
                Repl::Bytes(_) => {
                    let c = self.arena.chunk(pos);
                    let l = Layout::of(c);
                    if l.meta & VAL_OBJ != 0 {
                        // The old object goes to the journal whole; an empty
                        // one holds its place until the rewrite replaces it.
                        let h = record::get_u32(c, l.val_at);
                        let old =
                            std::mem::replace(self.objects.get_mut(h), Object::Str(Vec::new()));
                        self.object_bytes -= old.heap_bytes();
                        self.note_was(pos, Some(old));
                    } else {
                        self.note_was(pos, None);
                    }
                }
            }
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(self.arena.chunk(pos));
        let result = self.rewrite_from(pos, &scratch, value, ttl, enc);
        self.scratch = scratch;
        result
    }

    fn rewrite_from(
        &mut self,
        pos: u32,
        old: &[u8],
        value: Repl,
        ttl: TtlChange,
        enc: Option<StrEncoding>,
    ) -> Result<u32, OutOfMemory> {
        let l = Layout::of(old);
        let db = record::db_of(l.meta);
        let had_ttl = l.meta & TTL != 0;
        let new_exp = match ttl {
            TtlChange::Keep if had_ttl => Some(record::expire_at(old)),
            TtlChange::Keep | TtlChange::Clear => None,
            TtlChange::At(t) => Some(t),
        };
        let key_inline = l.meta & KEY_EXT == 0;
        let keypart = if key_inline {
            KeyPart::Inline(&old[l.key_at..l.key_at + l.klen])
        } else {
            KeyPart::Ext(record::get_u32(old, l.key_at), l.klen)
        };
        let old_obj = (l.meta & VAL_OBJ != 0).then(|| record::get_u32(old, l.val_at));
        let ttl_on = new_exp.is_some();
        // The new value part.
        let val = match value {
            Repl::Keep => match old_obj {
                Some(h) => ValPart::Obj(h),
                None => ValPart::Inline(&old[l.val_at..l.val_at + l.vlen]),
            },
            Repl::Bytes(v) => {
                if record::size(ttl_on, l.klen, key_inline, Some(v.len())) <= MAX_CHUNK {
                    if let Some(h) = old_obj {
                        let o = self.objects.remove(h);
                        self.object_bytes -= o.heap_bytes();
                        self.dispose(o);
                    }
                    ValPart::Inline(v)
                } else {
                    match old_obj {
                        Some(h) => {
                            let o = self.objects.get_mut(h);
                            let before = o.heap_bytes();
                            let old = if let Object::Str(s) = o {
                                s.clear();
                                s.extend_from_slice(v);
                                None
                            } else {
                                Some(std::mem::replace(o, Object::Str(v.to_vec())))
                            };
                            self.object_bytes = self.object_bytes + o.heap_bytes() - before;
                            if let Some(old) = old {
                                self.dispose(old);
                            }
                            ValPart::Obj(h)
                        }
                        None => {
                            let o = Object::Str(v.to_vec());
                            self.object_bytes += o.heap_bytes();
                            ValPart::Obj(self.objects.insert(o))
                        }
                    }
                }
            }
        };
        let size = record::size(
            ttl_on,
            l.klen,
            key_inline,
            match val {
                ValPart::Inline(v) => Some(v.len()),
                ValPart::Obj(_) => None,
            },
        );
        // TTL table slot: kept, freed, or taken.
        let vslot = match (had_ttl, new_exp) {
            (true, Some(e)) => Some((e, record::vpos(old))),
            (true, None) => {
                self.unlink_volatile(pos);
                None
            }
            (false, Some(e)) => {
                let vp = self.volatile.len() as u32;
                self.volatile.push(pos);
                self.db_volatile[db] += 1;
                Some((e, vp))
            }
            (false, None) => None,
        };
        let mut meta = l.meta;
        if let Some(e) = enc {
            meta = record::with_enc(meta, e.bits());
        }
        if !self.lfu_on {
            // Under LFU a new value keeps the key's counter (`dbOverwrite`).
            meta = record::with_clock(meta, self.clock());
        }
        let same_class = crate::arena::class_of(size) == crate::arena::class_of(old.len());
        if same_class {
            let c = self.arena.chunk_mut(pos);
            record::write(c, meta, vslot, keypart, val);
            record::set_prev(c, record::prev(old));
            record::set_next(c, record::next(old));
            return Ok(pos);
        }
        let new = match self.arena.alloc(size) {
            Some(p) => p,
            None => {
                // No page left: keep the record where it is if it still
                // fits its chunk, else give up.
                if size <= old.len() {
                    let c = self.arena.chunk_mut(pos);
                    record::write(c, meta, vslot, keypart, val);
                    record::set_prev(c, record::prev(old));
                    record::set_next(c, record::next(old));
                    return Ok(pos);
                }
                return Err(OutOfMemory);
            }
        };
        {
            let c = self.arena.chunk_mut(new);
            record::write(c, meta, vslot, keypart, val);
            record::set_prev(c, record::prev(old));
            record::set_next(c, record::next(old));
        }
        self.relink(pos, new, record::prev(old), record::next(old));
        if let Some((_, vp)) = vslot {
            self.volatile[vp as usize] = new;
        }
        let key = match keypart {
            KeyPart::Inline(k) => k,
            KeyPart::Ext(h, _) => self.long_keys.get(h),
        };
        let h = self.hasher.hash_one(key);
        self.dbs[db].replace(h, |p| p == pos, new);
        record::set_meta(self.arena.chunk_mut(pos), 0);
        self.arena.free(pos);
        Ok(new)
    }

    /// Moves the record at `pos` to a chunk of another page without changing
    /// it (defragmentation); returns its new position.
    pub(crate) fn relocate(&mut self, pos: u32) -> u32 {
        self.rewrite_relocating(pos).unwrap_or(pos)
    }

    fn rewrite_relocating(&mut self, pos: u32) -> Option<u32> {
        let size = self.arena.size_of(pos);
        let new = self
            .arena
            .alloc_avoiding(size, crate::arena::page_of(pos))?;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(self.arena.chunk(pos));
        self.arena.chunk_mut(new)[..scratch.len()].copy_from_slice(&scratch);
        let l = Layout::of(&scratch);
        self.relink(pos, new, record::prev(&scratch), record::next(&scratch));
        if l.meta & TTL != 0 {
            self.volatile[record::vpos(&scratch) as usize] = new;
        }
        let key: &[u8] = if l.meta & KEY_EXT != 0 {
            self.long_keys.get(record::get_u32(&scratch, l.key_at))
        } else {
            &scratch[l.key_at..l.key_at + l.klen]
        };
        let h = self.hasher.hash_one(key);
        self.dbs[record::db_of(l.meta)].replace(h, |p| p == pos, new);
        self.scratch = scratch;
        record::set_meta(self.arena.chunk_mut(pos), 0);
        self.arena.free(pos);
        Some(new)
    }

    /// Empties one database.
    pub fn flush_db(&mut self, db: usize) {
        self.touch_watched_in(&[db]);
        // Tracking clients get one null invalidation for a flush (sent by
        // the server), not one per key; their remembered keys go, as
        // Redis frees its tracking table.
        let tracking = self.tracking.take().map(|mut t| {
            t.forget_keys();
            t
        });
        let positions: Vec<u32> = self.dbs[db].iter().collect();
        for pos in positions {
            self.remove_at(pos);
        }
        self.tracking = tracking;
        self.dbs[db] = Index::new();
        self.avg_ttl[db] = 0;
    }

    /// Empties every database and gives the memory back (once the group's
    /// records are safe, when journaling).
    pub fn flush_all(&mut self) {
        let all: Vec<usize> = (0..NUM_DBS).collect();
        self.touch_watched_in(&all);
        if let Some(b) = self.blocked.as_mut() {
            b.touch_all();
        }
        let mut fresh = Store::new(self.limits);
        fresh.stats = self.stats;
        fresh.watches = self.watches.take();
        fresh.blocked = self.blocked.take();
        fresh.evicted = self.evicted.take();
        fresh.journal = self.journal.take();
        fresh.lazy = self.lazy.clone();
        fresh.lru_now = self.lru_now;
        fresh.lfu_now = self.lfu_now;
        fresh.samples = self.samples;
        fresh.no_active_expire = self.no_active_expire;
        fresh.hub = self.hub.clone();
        fresh.shard = self.shard;
        fresh.events = std::mem::take(&mut self.events);
        fresh.tracker = self.tracker;
        // Redis empties its tracking table on a flush (every client got a
        // null invalidation); the broadcast prefixes stay.
        fresh.tracking = self.tracking.take().map(|mut t| {
            t.forget_keys();
            t
        });
        let old = std::mem::replace(self, fresh);
        // Journaled, the old store is set aside whole until the group's
        // records are safe; otherwise it is freed now, in the background.
        if let Some(old) = self.keep_flushed(old) {
            self.dispose_store(old);
        }
    }

    /// SWAPDB: the two databases trade their keys. Records carry their db,
    /// so this walks both (Redis swaps two pointers; a shard holds a slice
    /// of the keyspace, and the walk runs between batches).
    pub fn swap_db(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        self.touch_watched_in(&[a, b]);
        self.note_swap(a, b);
        for (from, to) in [(a, b), (b, a)] {
            let positions: Vec<u32> = self.dbs[from].iter().collect();
            for pos in positions {
                let c = self.arena.chunk_mut(pos);
                let m = record::meta(c);
                record::set_meta(c, record::with_db(m, to));
            }
        }
        self.dbs.swap(a, b);
        self.db_keys.swap(a, b);
        self.db_volatile.swap(a, b);
        self.avg_ttl.swap(a, b);
    }

    /// Keeps the keys of evicted entries until `drain_evicted`, so the AOF
    /// can record their removal.
    pub fn track_evictions(&mut self, on: bool) {
        self.evicted = on.then(Vec::new);
    }

    /// Hands every key evicted since the last call to `f(db, key)`.
    pub fn drain_evicted(&mut self, mut f: impl FnMut(u8, &[u8])) {
        if let Some(list) = self.evicted.as_mut() {
            for (db, key) in list.drain(..) {
                f(db, &key);
            }
        }
    }

    fn random(&mut self) -> u64 {
        next_random(&mut self.rng)
    }

    /// Seconds since the key was last read or written (OBJECT IDLETIME).
    pub fn idle_secs(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<u32> {
        let pos = self.lookup(db, key, now_ms, Lookup::PEEK)?;
        Some(self.idle_at(pos))
    }
}

/// xorshift64*: cheap, and sampling needs no more.
pub(crate) fn next_random(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[cfg(test)]
mod tests;

/// The index's hash: seeded anew for every store, unlike the router's.
///
/// Keys routed to one shard share `hash % N`, so reusing the routing hash
/// would cluster them; and a fixed seed would make loading quadratic: an
/// AOF rewrite writes keys in the index's hash order, and inserting keys
/// in the order of the very hash that places them piles them into one run
/// of buckets while the table grows (1,000,000 keys took 139 s to load
/// instead of 1.5 s).
fn index_hasher() -> RandomState {
    use std::hash::BuildHasher;
    let std_random = std::collections::hash_map::RandomState::new();
    let seed = |i: u64| std_random.hash_one(i);
    RandomState::with_seeds(seed(0), seed(1), seed(2), seed(3))
}

/// The access clock at `now_ms` (Unix milliseconds).
fn lru_clock_at(now_ms: u64) -> u32 {
    ((now_ms / 1000) as u32) & LRU_MASK
}
