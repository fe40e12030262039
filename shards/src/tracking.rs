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

/// A shard's tracked keys and broadcast prefixes; created at the first use.
#[derive(Debug, Default)]
pub struct Tracking {
    keys: HashMap<Box<[u8]>, Vec<Tracker>, RandomState>,
    bcast: Vec<(Box<[u8]>, Tracker)>,
}

impl Tracking {
    /// Remembers that `t`'s client read `key`.
    pub fn remember(&mut self, key: &[u8], t: Tracker) {
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

    /// True when nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.bcast.is_empty()
    }
}
