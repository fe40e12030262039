//! Clients blocked on this shard's keys (Redis's `blocking_keys` and
//! `ready_keys`, `blocked.c`).
//!
//! A blocked client is registered, as one shared `Waiter`, on every key of
//! its command that this shard owns; a client whose keys span shards is
//! registered on each of them with the same claim flag. Whoever ends the
//! wait first (a shard serving it, its worker on timeout or disconnect,
//! CLIENT UNBLOCK) swaps the flag from false to true; everyone else finds it
//! taken and drops the registration. So a client is served exactly once.
//!
//! A write to a key with waiters (the same hook WATCH hears) queues the key
//! as ready, once, in the order keys became ready; the shard serves the
//! ready keys before its next command (`ops::block::serve_ready`), and the
//! replies travel to the clients' workers through their `Notify`.

use super::Store;
use ahash::RandomState;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::value::list::Side;

/// Where a served client's answer goes: its worker's inbox (which wakes it).
pub trait Notify: Send + Sync {
    /// Queues `served` for the worker and wakes it.
    fn post(&self, served: Served);
}

/// What a blocked client waits to do once one of its keys is ready.
#[derive(Clone, Debug, PartialEq)]
pub enum Want {
    /// BLPOP, BRPOP, BLMPOP: pop up to `count` elements from `side`.
    List {
        /// Which end.
        side: Side,
        /// How many (1 for BLPOP/BRPOP).
        count: u64,
    },
    /// BZPOPMIN/MAX, BZMPOP: pop up to `count` members.
    ZSet {
        /// The highest first.
        max: bool,
        /// How many.
        count: u64,
    },
    /// BLMOVE, BRPOPLPUSH: move one element to `dst`.
    Move {
        /// The destination key.
        dst: Vec<u8>,
        /// The end popped.
        from: Side,
        /// The end pushed.
        to: Side,
        /// The destination lives on this shard too: the shard moves the
        /// element itself; otherwise the worker runs the command again
        /// (`Served::Retry`), holding both shards.
        here: bool,
    },
    /// XREAD: entries after each key's ID, at most `count` (0: all).
    Stream {
        /// Each key and the ID its entries must follow (`$` resolved).
        after: Vec<(Vec<u8>, crate::value::StreamId)>,
        /// COUNT.
        count: u64,
    },
    /// XREADGROUP with `>`: new entries for a consumer of a group, on any
    /// of the client's keys.
    Group {
        /// The group.
        group: Vec<u8>,
        /// The consumer.
        consumer: Vec<u8>,
        /// COUNT (0: all).
        count: u64,
        /// NOACK.
        noack: bool,
    },
}

impl Want {
    /// True when a value of `kind` can serve this want.
    pub fn takes(&self, kind: crate::value::Kind) -> bool {
        match self {
            Want::ZSet { .. } => kind == crate::value::Kind::ZSet,
            Want::Stream { .. } | Want::Group { .. } => kind == crate::value::Kind::Stream,
            _ => kind == crate::value::Kind::List,
        }
    }
}

/// One blocked command, shared by every shard it is registered on.
pub struct Waiter {
    /// Set by whoever ends the wait (see the module doc).
    pub claim: Arc<AtomicBool>,
    /// The client's CLIENT ID.
    pub client: u64,
    /// Its connection's token in its worker.
    pub token: usize,
    /// What it waits to do.
    pub want: Want,
    /// Its worker's inbox.
    pub notify: Arc<dyn Notify>,
}

impl Waiter {
    /// Takes the claim; false when someone else already has.
    pub fn claim(&self) -> bool {
        self.claim
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// True once someone took the claim.
    pub fn claimed(&self) -> bool {
        self.claim.load(Ordering::Acquire)
    }
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter")
            .field("client", &self.client)
            .field("token", &self.token)
            .field("want", &self.want)
            .finish()
    }
}

/// What ended a client's wait, sent to its worker.
#[derive(Debug)]
pub struct Served {
    /// The client's CLIENT ID.
    pub client: u64,
    /// Its connection's token.
    pub token: usize,
    /// The outcome.
    pub outcome: Outcome,
}

/// How a wait ended.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Elements popped from the list `key`.
    Items {
        /// The key.
        key: Vec<u8>,
        /// The elements, in pop order.
        items: Vec<Vec<u8>>,
    },
    /// Members popped from the sorted set `key`.
    Scored {
        /// The key.
        key: Vec<u8>,
        /// Members and scores, in pop order.
        entries: Vec<(Vec<u8>, f64)>,
    },
    /// The element a BLMOVE moved.
    Moved(Vec<u8>),
    /// The entries an XREAD read from the stream `key`: IDs and packed
    /// pairs (`value::stream::pack`).
    Stream {
        /// The key.
        key: Vec<u8>,
        /// The entries, in ID order.
        entries: Vec<(crate::value::StreamId, Box<[u8]>)>,
    },
    /// The worker runs the command again: the source of a BLMOVE whose
    /// destination lives elsewhere is ready, or the pop could not be
    /// written to the AOF.
    Retry,
    /// BLMOVE's destination holds another type (Redis answers WRONGTYPE).
    WrongType,
    /// The wait ended in this error (an XREADGROUP whose key or group went
    /// away).
    Failed(&'static str),
    /// CLIENT UNBLOCK: with `error`, answer `-UNBLOCKED`; else as a timeout.
    Unblocked {
        /// ERROR was asked.
        error: bool,
    },
}

/// The registry of one shard.
#[derive(Default)]
pub(super) struct Blocked {
    /// `[db, key...]` → its waiters, first blocked first.
    keys: HashMap<Vec<u8>, VecDeque<Arc<Waiter>>, RandomState>,
    /// Client id → its `[db, key...]` entries here.
    clients: HashMap<u64, Vec<Vec<u8>>, RandomState>,
    /// Keys with waiters written since the last serve, in that order.
    ready: Vec<Vec<u8>>,
    /// Answers waiting for the batch's records to be safe.
    posts: Vec<(Arc<dyn Notify>, Served)>,
    /// Reused `[db, key...]` buffer.
    scratch: Vec<u8>,
}

impl Blocked {
    fn entry(&mut self, db: u8, key: &[u8]) -> &[u8] {
        self.scratch.clear();
        self.scratch.push(db);
        self.scratch.extend_from_slice(key);
        &self.scratch
    }

    /// A write touched `key`: ready if someone waits on it.
    pub(super) fn touch(&mut self, db: u8, key: &[u8]) {
        self.entry(db, key);
        let e = self.scratch.as_slice();
        if self.keys.contains_key(e) && !self.ready.iter().any(|r| r == e) {
            self.ready.push(e.to_vec());
        }
    }

    /// Every key with waiters becomes ready (FLUSHALL: an XREADGROUP
    /// learns its key is gone; other waiters find nothing and wait on).
    pub(super) fn touch_all(&mut self) {
        for k in self.keys.keys() {
            if !self.ready.contains(k) {
                self.ready.push(k.clone());
            }
        }
    }

    fn forget_entry(&mut self, e: &[u8], client: u64) {
        if let Some(q) = self.keys.get_mut(e) {
            q.retain(|w| w.client != client);
            if q.is_empty() {
                self.keys.remove(e);
            }
        }
    }

    /// Drops the registrations of `client`.
    fn forget(&mut self, client: u64) {
        if let Some(entries) = self.clients.remove(&client) {
            for e in entries {
                self.forget_entry(&e, client);
            }
        }
    }
}

impl Store {
    /// Registers `waiter` on `keys` of database `db`.
    pub fn block(&mut self, db: usize, keys: &[&[u8]], waiter: Arc<Waiter>) {
        let b = self.blocked.get_or_insert_with(Default::default);
        // A client blocks on one command at a time: whatever it left here
        // (a registration whose claim another shard took) goes first.
        b.forget(waiter.client);
        let mut mine = Vec::with_capacity(keys.len());
        for k in keys {
            let e = b.entry(db as u8, k).to_vec();
            if mine.contains(&e) {
                continue;
            }
            let q = b.keys.entry(e.clone()).or_default();
            // Waiters whose wait ended elsewhere are dropped on the way.
            q.retain(|w| !w.claimed());
            q.push_back(waiter.clone());
            mine.push(e);
        }
        b.clients.insert(waiter.client, mine);
    }

    /// Queues `key` as ready for the clients blocked on it without telling
    /// WATCH (Redis's `signalKeyAsReady`: XGROUP DESTROY wakes its group's
    /// XREADGROUPs to answer NOGROUP).
    pub fn signal_ready(&mut self, db: usize, key: &[u8]) {
        if let Some(b) = self.blocked.as_mut() {
            b.touch(db as u8, key);
        }
    }

    /// Drops the registrations of `client` (its wait ended elsewhere).
    pub fn unblock(&mut self, client: u64) {
        if let Some(b) = self.blocked.as_mut() {
            b.forget(client);
            if b.clients.is_empty() && b.posts.is_empty() {
                self.blocked = None;
            }
        }
    }

    /// Number of clients registered here.
    pub fn blocked_clients(&self) -> usize {
        self.blocked.as_ref().map_or(0, |b| b.clients.len())
    }

    /// Takes the keys that became ready, in order (empty when none).
    pub fn take_ready(&mut self) -> Vec<Vec<u8>> {
        match self.blocked.as_mut() {
            Some(b) => std::mem::take(&mut b.ready),
            None => Vec::new(),
        }
    }

    /// True when some key became ready since the last `take_ready`.
    pub fn has_ready(&self) -> bool {
        self.blocked.as_ref().is_some_and(|b| !b.ready.is_empty())
    }

    /// The waiters of `[db, key...]` entry `e`, first blocked first.
    pub fn waiters(&self, e: &[u8]) -> Vec<Arc<Waiter>> {
        self.blocked
            .as_ref()
            .and_then(|b| b.keys.get(e))
            .map_or_else(Vec::new, |q| q.iter().cloned().collect())
    }

    /// Ends `waiter`'s registrations here and queues its answer.
    pub fn served(&mut self, waiter: &Waiter, outcome: Outcome) {
        let Some(b) = self.blocked.as_mut() else {
            return;
        };
        b.forget(waiter.client);
        b.posts.push((
            waiter.notify.clone(),
            Served {
                client: waiter.client,
                token: waiter.token,
                outcome,
            },
        ));
    }

    /// Drops `waiter`'s registrations here without an answer (its claim
    /// was taken elsewhere).
    pub fn drop_waiter(&mut self, waiter: &Waiter) {
        if let Some(b) = self.blocked.as_mut() {
            b.forget(waiter.client);
        }
    }

    /// The group's records could not be written and its pops were rolled
    /// back: the served clients run their commands again instead (and
    /// meet the disk error there).
    pub fn retry_served(&mut self) {
        if let Some(b) = self.blocked.as_mut() {
            for (_, s) in b.posts.iter_mut() {
                s.outcome = Outcome::Retry;
            }
        }
    }

    /// Sends the queued answers (after the records they depend on are
    /// written).
    pub fn post_served(&mut self) {
        let Some(b) = self.blocked.as_mut() else {
            return;
        };
        for (n, s) in b.posts.drain(..) {
            n.post(s);
        }
        if b.clients.is_empty() && b.ready.is_empty() {
            self.blocked = None;
        }
    }
}
