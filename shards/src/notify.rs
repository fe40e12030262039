//! Keyspace events: what the shards report about the keys they change.
//!
//! An op (or the store itself, for expiry, eviction, key creation and
//! read misses) reports an event with `Store::notify(db, class, event,
//! key)`, at the points Redis 7.0 calls `notifyKeyspaceEvent`. The store
//! keeps the events of the group it is running in its `Events` buffer; the
//! shard hands the buffer to the `Hub`'s sink once per group, after the
//! group's records are written (a rolled-back group reports nothing), and
//! once after each active-expiry cycle. The sink (the server's publisher)
//! turns them into pub/sub messages; the engine knows nothing of channels.
//!
//! Cost when off: the enabled classes live in one atomic word the server
//! sets (CONFIG SET notify-keyspace-events); `notify` loads it and returns
//! when the event's class is not in it, before touching the key. Several
//! servers in one process (the tests) each have their own hub.
//!
//! The record is (db, class, event, key). Beside the events, the same
//! buffer carries client-side caching's invalidations (see
//! `crate::tracking`), reported whatever the configuration.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

/// Redis's `NOTIFY_KEYSPACE` (K): publish on `__keyspace@<db>__:<key>`.
pub const KEYSPACE: u32 = 1 << 0;
/// `NOTIFY_KEYEVENT` (E): publish on `__keyevent@<db>__:<event>`.
pub const KEYEVENT: u32 = 1 << 1;
/// `NOTIFY_GENERIC` (g): DEL, EXPIRE, RENAME, ...
pub const GENERIC: u32 = 1 << 2;
/// `NOTIFY_STRING` ($).
pub const STRING: u32 = 1 << 3;
/// `NOTIFY_LIST` (l).
pub const LIST: u32 = 1 << 4;
/// `NOTIFY_SET` (s).
pub const SET: u32 = 1 << 5;
/// `NOTIFY_HASH` (h).
pub const HASH: u32 = 1 << 6;
/// `NOTIFY_ZSET` (z).
pub const ZSET: u32 = 1 << 7;
/// `NOTIFY_EXPIRED` (x).
pub const EXPIRED: u32 = 1 << 8;
/// `NOTIFY_EVICTED` (e).
pub const EVICTED: u32 = 1 << 9;
/// `NOTIFY_STREAM` (t): accepted; there are no streams.
pub const STREAM: u32 = 1 << 10;
/// `NOTIFY_KEY_MISS` (m): a read found no key.
pub const KEY_MISS: u32 = 1 << 11;
/// `NOTIFY_MODULE` (d): accepted; there are no modules.
pub const MODULE: u32 = 1 << 13;
/// `NOTIFY_NEW` (n): a key was created.
pub const NEW: u32 = 1 << 14;
/// Redis's `NOTIFY_ALL` (A): every class but `m` and `n`.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Redis's `keyspaceEventsStringToFlags`: None for a character it does not know.
pub fn parse_flags(s: &[u8]) -> Option<u32> {
    let mut flags = 0;
    for &c in s {
        flags |= match c {
            b'A' => ALL,
            b'g' => GENERIC,
            b'$' => STRING,
            b'l' => LIST,
            b's' => SET,
            b'h' => HASH,
            b'z' => ZSET,
            b'x' => EXPIRED,
            b'e' => EVICTED,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            b't' => STREAM,
            b'm' => KEY_MISS,
            b'd' => MODULE,
            b'n' => NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// Redis's `keyspaceEventsFlagsToString`: `A` when every class of it is
/// on, else the classes one by one, then `K`, `E`, `m`.
pub fn format_flags(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// One event: `key` (a span of the buffer's bytes) in `db` had `event`
/// (`class` is one of the constants above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The database.
    pub db: u8,
    /// The event's class.
    pub class: u32,
    /// Redis's event name (`set`, `lpush`, `expired`, ...).
    pub name: &'static str,
    key: (usize, usize),
}

/// One invalidation for client-side caching: `key` changed, and
/// `to` tracks it (see `crate::tracking`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalidation {
    /// Who gets it, and how.
    pub to: crate::tracking::Tracker,
    /// Owed to a BCAST prefix (gathered per client and group).
    pub bcast: bool,
    key: (usize, usize),
}

/// The events a shard made since it last handed them out, in order, and
/// the invalidations its changes owe tracking clients.
#[derive(Debug, Default)]
pub struct Events {
    list: Vec<Event>,
    keys: Vec<u8>,
    inval: Vec<Invalidation>,
}

impl Events {
    /// Adds an event.
    pub fn push(&mut self, db: usize, class: u32, name: &'static str, key: &[u8]) {
        let from = self.keys.len();
        self.keys.extend_from_slice(key);
        self.list.push(Event {
            db: db as u8,
            class,
            name,
            key: (from, self.keys.len()),
        });
    }

    /// Adds an invalidation of `key` for `to`.
    pub fn invalidate(&mut self, to: crate::tracking::Tracker, bcast: bool, key: &[u8]) {
        let from = self.keys.len();
        self.keys.extend_from_slice(key);
        self.inval.push(Invalidation {
            to,
            bcast,
            key: (from, self.keys.len()),
        });
    }

    /// Every invalidation with its key, in the order they were made.
    pub fn invalidations(&self) -> impl Iterator<Item = (&Invalidation, &[u8])> {
        self.inval.iter().map(|e| (e, &self.keys[e.key.0..e.key.1]))
    }

    /// Takes back the last event when it is the creation of `key` in
    /// `db`: a value written over a key Redis overwrites in place
    /// (`setKey` on an existing key) is no new key there.
    pub fn unpush_new(&mut self, db: usize, key: &[u8]) {
        if let Some(e) = self.list.last() {
            let k = &self.keys[e.key.0..e.key.1];
            if e.class == NEW && e.db as usize == db && k == key {
                // Its key bytes stay: an invalidation may follow them.
                self.list.pop();
            }
        }
    }

    /// True when there is none.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty() && self.inval.is_empty()
    }

    /// Every event with its key, in the order they were made.
    pub fn iter(&self) -> impl Iterator<Item = (&Event, &[u8])> {
        self.list.iter().map(|e| (e, &self.keys[e.key.0..e.key.1]))
    }

    /// Forgets every event, keeping a modest capacity.
    pub fn clear(&mut self) {
        self.list.clear();
        self.keys.clear();
        self.inval.clear();
        if self.keys.capacity() > crate::batch::KEEP_CAPACITY {
            self.keys = Vec::new();
            self.list = Vec::new();
        }
    }
}

/// Where a shard's events go: called by the shard (or a worker running an
/// idle shard's batch) with the shard's index, never by two threads for
/// one shard at once.
pub trait Sink: Send + Sync {
    /// Takes a group's events.
    fn publish(&self, shard: usize, events: &Events);
}

/// The server's end: which classes are on, and where events go.
#[derive(Default)]
pub struct Hub {
    flags: AtomicU32,
    sink: OnceLock<Box<dyn Sink>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("flags", &self.flags()).finish()
    }
}

impl Hub {
    /// A hub with nothing enabled and no sink.
    pub fn new() -> Arc<Hub> {
        Arc::new(Hub::default())
    }

    /// The enabled classes.
    #[inline]
    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// Enables exactly `flags` (Redis's classes).
    pub fn set_flags(&self, flags: u32) {
        self.flags.store(flags, Ordering::Relaxed);
    }

    /// Sets where events go (once; later calls are ignored).
    pub fn set_sink(&self, sink: Box<dyn Sink>) {
        let _ = self.sink.set(sink);
    }

    /// Hands `events` of shard `shard` to the sink.
    pub fn publish(&self, shard: usize, events: &Events) {
        if let Some(s) = self.sink.get() {
            s.publish(shard, events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_back_as_redis_prints_them() {
        let f = |s: &str| format_flags(parse_flags(s.as_bytes()).unwrap());
        assert_eq!(f("KEA"), "AKE");
        assert_eq!(f(""), "");
        assert_eq!(f("Ex$"), "$xE");
        // `n` is not part of `A`, yet Redis prints only `A` when it is on.
        assert_eq!(f("gl$shzxetdKEmn"), "AKEm");
        assert_eq!(f("nK"), "nK");
        assert!(parse_flags(b"Kw").is_none());
    }

    #[test]
    fn events_keep_order_and_keys() {
        let mut e = Events::default();
        e.push(0, STRING, "set", b"a");
        e.push(3, GENERIC, "del", b"bb");
        let got: Vec<_> = e.iter().map(|(e, k)| (e.db, e.name, k.to_vec())).collect();
        assert_eq!(got, [(0, "set", b"a".to_vec()), (3, "del", b"bb".to_vec())]);
        e.clear();
        assert!(e.is_empty());
    }
}
