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
//! lock, which only that shard's holder ever takes.

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
        for w in 0..shared.workers {
            let buf = out.take(w);
            if !buf.is_empty() && shared.pubsub.post(w, &buf) {
                shared.registry.wake(w);
            }
            out.give_back(w, buf);
        }
    }
}
