//! Client-side caching's tracking table, one per shard (Redis's
//! `tracking.c`, split by key the way the data is).
//!
//! Default mode: a read of a tracking client remembers the keys it looked
//! up (the op carries a `Tracker`, see `Store::set_tracker`); the next
//! change of such a key (a write, an expiry, an eviction) reports one
//! invalidation per client that read it and forgets them, as Redis's
//! `trackingInvalidateKey` does. BCAST mode: every shard keeps the client's
//! prefixes, and every change of a key under one of them is reported,
//! whoever read it. The table lives beside the keys, so remembering and
//! invalidating take no lock; the invalidations travel with the shard's
//! keyspace events (`notify::Events`) to the server, which delivers them.
//!
//! Keys are remembered without their database, as Redis does (a change in
//! any database invalidates the name).

use crate::notify::Events;
use ahash::RandomState;
use std::collections::HashMap;

/// Who an invalidation goes to, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracker {
    /// The tracking client's id (NOLOOP compares writers with it).
    pub client: u64,
    /// Where invalidations go: the client itself, or its REDIRECT target
    /// (worker, connection token, client id).
    pub worker: u32,
    /// See `worker`.
    pub token: u32,
    /// See `worker`.
    pub to: u64,
    /// The invalidations go to another client (REDIRECT): a RESP2 one
    /// gets them as messages on `__redis__:invalidate`.
    pub redirect: bool,
    /// NOLOOP: not for the client's own writes.
    pub noloop: bool,
    /// The op's reads are remembered (a read-only command in default mode,
    /// with OPTIN/OPTOUT's CLIENT CACHING rule applied by the server).
    pub remember: bool,
}

/// Redis's `tracking-table-max-keys` default: keys the tracking table
/// remembers at most (split over the shards, see `Limits`). Past its
/// limit a shard invalidates and forgets the remembered keys it meets first
/// until a new one fits, as Redis evicts from its table, so the table never
/// grows without bound; a lowered limit takes effect at the next key
/// remembered.
pub const MAX_KEYS: usize = 1_000_000;

/// A shard's tracked keys and broadcast prefixes; created at the first use.
#[derive(Debug, Default)]
pub struct Tracking {
    keys: HashMap<Box<[u8]>, Vec<Tracker>, RandomState>,
    bcast: Vec<(Box<[u8]>, Tracker)>,
}

impl Tracking {
    /// Remembers that `t`'s client read `key`; a full table first drops
    /// a key (its clients' invalidations go into `out`).
    pub fn remember(&mut self, key: &[u8], t: Tracker, out: &mut Events, max: usize) {
        while max > 0 && self.keys.len() >= max && !self.keys.contains_key(key) {
            let Some(v) = self.keys.keys().next().cloned() else {
                break;
            };
            for o in self.keys.remove(&v).unwrap_or_default() {
                out.invalidate(o, false, &v);
            }
        }
        match self.keys.get_mut(key) {
            Some(v) => {
                if let Some(old) = v.iter_mut().find(|o| o.client == t.client) {
                    *old = t;
                } else {
                    v.push(t);
                }
            }
            None => {
                self.keys.insert(key.into(), vec![t]);
            }
        }
    }

    /// BCAST: `t`'s client wants every change of keys under `prefixes`
    /// (its earlier ones are replaced).
    pub fn broadcast(&mut self, t: Tracker, prefixes: &[Vec<u8>]) {
        self.forget(t.client);
        if prefixes.is_empty() {
            self.bcast.push((Box::default(), t));
        }
        for p in prefixes {
            self.bcast.push((p.as_slice().into(), t));
        }
    }

    /// Tracking off for `client`: its prefixes go (its remembered keys
    /// are dropped when they next change).
    pub fn forget(&mut self, client: u64) {
        self.bcast.retain(|(_, t)| t.client != client);
    }

    /// `key` changed (by `writer`, 0 when no client did): reports the
    /// invalidations it owes into `out`.
    pub fn invalidate(&mut self, key: &[u8], writer: u64, out: &mut Events) {
        if let Some(v) = self.keys.remove(key) {
            for t in v {
                if !(t.noloop && t.client == writer) {
                    out.invalidate(t, false, key);
                }
            }
        }
        for (p, t) in &self.bcast {
            if key.starts_with(p) && !(t.noloop && t.client == writer) {
                out.invalidate(*t, true, key);
            }
        }
    }

    /// Forgets every remembered key (a flush invalidated them all).
    pub fn forget_keys(&mut self) {
        self.keys.clear();
    }

    /// Keys remembered, (key, client) pairs, and distinct BCAST prefixes
    /// (INFO's `tracking_total_keys`, `_items`, `_prefixes`).
    pub fn totals(&self) -> [u64; 3] {
        let items = self.keys.values().map(Vec::len).sum::<usize>();
        let mut prefixes: Vec<&[u8]> = self.bcast.iter().map(|(p, _)| &p[..]).collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        [self.keys.len() as u64, items as u64, prefixes.len() as u64]
    }

    /// True when nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.bcast.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(client: u64, noloop: bool) -> Tracker {
        Tracker {
            client,
            worker: 0,
            token: client as u32,
            to: client,
            redirect: false,
            noloop,
            remember: true,
        }
    }

    fn keys(e: &Events) -> Vec<(u64, bool, Vec<u8>)> {
        e.invalidations()
            .map(|(i, k)| (i.to.client, i.bcast, k.to_vec()))
            .collect()
    }

    #[test]
    fn a_change_invalidates_each_reader_once() {
        let mut t = Tracking::default();
        let mut e = Events::default();
        t.remember(b"k", tracker(1, false), &mut e, MAX_KEYS);
        t.remember(b"k", tracker(2, true), &mut e, MAX_KEYS);
        t.remember(b"k", tracker(1, false), &mut e, MAX_KEYS);
        // NOLOOP: client 2's own write tells it nothing, but forgets it.
        t.invalidate(b"k", 2, &mut e);
        assert_eq!(keys(&e), [(1, false, b"k".to_vec())]);
        t.invalidate(b"k", 0, &mut e);
        assert_eq!(keys(&e).len(), 1, "forgotten after the first change");
    }

    #[test]
    fn a_full_table_invalidates_to_make_room_and_a_lower_limit_applies_next() {
        let mut t = Tracking::default();
        let mut e = Events::default();
        t.remember(b"k1", tracker(1, false), &mut e, 2);
        t.remember(b"k2", tracker(1, false), &mut e, 2);
        assert!(keys(&e).is_empty());
        t.remember(b"k3", tracker(1, false), &mut e, 2);
        assert_eq!(keys(&e).len(), 1, "one key made room");
        assert_eq!(t.totals()[0], 2);
        // Lowered to 1: the next key remembered leaves it alone in the table.
        t.remember(b"k4", tracker(1, false), &mut e, 1);
        assert_eq!(keys(&e).len(), 3);
        assert_eq!(t.totals()[0], 1);
        // 0: no limit.
        for k in [&b"a"[..], b"b", b"c"] {
            t.remember(k, tracker(1, false), &mut e, 0);
        }
        assert_eq!(t.totals()[0], 4);
    }

    #[test]
    fn bcast_prefixes_match_whoever_read() {
        let mut t = Tracking::default();
        let mut e = Events::default();
        t.broadcast(tracker(7, false), &[b"user:".to_vec(), b"cfg".to_vec()]);
        t.invalidate(b"user:1", 0, &mut e);
        t.invalidate(b"other", 0, &mut e);
        t.invalidate(b"cfg", 0, &mut e);
        assert_eq!(
            keys(&e),
            [(7, true, b"user:1".to_vec()), (7, true, b"cfg".to_vec())]
        );
        t.forget(7);
        assert!(t.is_empty());
    }
}
