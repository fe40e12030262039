//! Keyspace notifications: the shards' events published as pub/sub messages.
//!
//! A shard hands the events of each group it ran (and of each active-expiry
//! cycle) to `Publisher::publish`, on its own thread or on the worker that
//! ran an idle shard's batch (see `shards::notify`). Each event becomes
//! Redis's messages: `__keyspace@<db>__:<key>` with the event's name (K),
//! then `__keyevent@<db>__:<name>` with the key (E). They go through the
//! same table and worker inboxes as PUBLISH's messages: one append, and at
//! most one wake-up, per target worker per group. Events of one shard are
//! published in the order it made them, under that shard's own outbox
//! lock, which only that shard's holder ever takes. The invalidations of
//! client-side caching the shard's changes owe travel the same way (see
//! `tracking`).

use crate::pubsub::{Kind, Outbox, Subscriber};
use crate::shared::Shared;
use shards::notify::{Events, Sink, KEYEVENT, KEYSPACE};
use std::sync::{Mutex, Weak};

/// Nobody: keyspace messages have no publisher to leave out.
const NOBODY: Subscriber = Subscriber {
    worker: u32::MAX,
    token: u32::MAX,
    id: u64::MAX,
};

/// Publishes the shards' keyspace events (the engine's `Sink`).
pub struct Publisher {
    /// Weak: the shared state owns the hub that owns this.
    shared: Weak<Shared>,
    /// Per shard: deliveries being gathered, and the channel name's buffer.
    outs: Vec<Mutex<(Outbox, Vec<u8>)>>,
}

impl Publisher {
    /// A publisher for `shards` shards and `workers` workers.
    pub fn new(shared: Weak<Shared>, shards: usize, workers: usize) -> Publisher {
        Publisher {
            shared,
            outs: (0..shards)
                .map(|_| Mutex::new((Outbox::new(workers), Vec::new())))
                .collect(),
        }
    }
}

/// `__keyspace@<db>__:` or `__keyevent@<db>__:` then `tail`, into `buf`.
fn channel(buf: &mut Vec<u8>, space: bool, db: u8, tail: &[u8]) {
    buf.clear();
    buf.extend_from_slice(if space {
        b"__keyspace@"
    } else {
        b"__keyevent@"
    });
    buf.extend_from_slice(itoa::Buffer::new().format(db).as_bytes());
    buf.extend_from_slice(b"__:");
    buf.extend_from_slice(tail);
}

impl Sink for Publisher {
    fn publish(&self, shard: usize, events: &Events) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let Some(slot) = self.outs.get(shard) else {
            return;
        };
        let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
        let (out, chan) = &mut *guard;
        // Read once: a CONFIG SET meanwhile applies from the next group.
        let flags = shared.notify.flags();
        for (e, key) in events.iter() {
            if flags & e.class == 0 {
                continue;
            }
            if flags & KEYSPACE != 0 {
                channel(chan, true, e.db, key);
                shared
                    .pubsub
                    .publish(Kind::Channel, chan, e.name.as_bytes(), NOBODY, out);
            }
            if flags & KEYEVENT != 0 {
                channel(chan, false, e.db, e.name.as_bytes());
                shared.pubsub.publish(Kind::Channel, chan, key, NOBODY, out);
            }
        }
        invalidations(events, out, chan);
        crate::tracking::post(&shared.pubsub, &shared.registry, out, shared.workers);
    }
}

/// Client-side caching's invalidations: one message per key for the
/// clients that read it; for BCAST, one per client and group with every
/// key (once) under its prefixes, as Redis gathers them per event-loop
/// round. `scratch` holds the keys' array being built.
fn invalidations(events: &Events, out: &mut Outbox, scratch: &mut Vec<u8>) {
    let mut bcast: Vec<(shards::tracking::Tracker, Vec<&[u8]>)> = Vec::new();
    for (inv, key) in events.invalidations() {
        if inv.bcast {
            match bcast.iter_mut().find(|(t, _)| t.client == inv.to.client) {
                Some((_, keys)) => {
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
                None => bcast.push((inv.to, vec![key])),
            }
            continue;
        }
        scratch.clear();
        array_of(scratch, std::iter::once(key), 1);
        out.invalidation(crate::tracking::target(&inv.to), inv.to.redirect, scratch);
    }
    for (t, keys) in bcast {
        scratch.clear();
        array_of(scratch, keys.iter().copied(), keys.len());
        out.invalidation(crate::tracking::target(&t), t.redirect, scratch);
    }
}

/// A RESP array of `n` bulk strings.
fn array_of<'k>(out: &mut Vec<u8>, keys: impl Iterator<Item = &'k [u8]>, n: usize) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
    for k in keys {
        out.push(b'$');
        out.extend_from_slice(itoa::Buffer::new().format(k.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(k);
        out.extend_from_slice(b"\r\n");
    }
}
