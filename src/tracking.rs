//! Client-side caching (CLIENT TRACKING): a connection's tracking state,
//! the server-wide list of tracking clients (for FLUSHDB/FLUSHALL's null
//! invalidation), and the frames invalidations reach clients as.
//!
//! The tracked keys and BCAST prefixes live in the shards, beside the keys
//! (`shards::tracking`): a read of a tracking client carries a `Tracker`
//! with its ops, the shard remembers the keys the read looked up, and a
//! later change of one of them reports an invalidation with the shard's
//! keyspace events. `keyevents::Publisher` posts it to the inbox of the
//! worker of the client that should get it (the tracking client, or its
//! REDIRECT target), which writes it as Redis does: a RESP3 push
//! `>2 invalidate [keys]`, or for a RESP2 redirect target subscribed to
//! anything, a message on `__redis__:invalidate`.

use crate::clients::Registry;
use crate::pubsub::{PubSub, Subscriber};
use shards::tracking::Tracker;
use std::sync::Mutex;

/// The channel RESP2 redirect targets get invalidations on.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// A connection's CLIENT TRACKING state (Redis's `CLIENT_TRACKING_*` flags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// REDIRECT's client id (0: none).
    pub redirect: u64,
    /// Where invalidations go: the connection itself, or its redirect target.
    pub target: Option<Subscriber>,
    /// BCAST.
    pub bcast: bool,
    /// OPTIN.
    pub optin: bool,
    /// OPTOUT.
    pub optout: bool,
    /// NOLOOP.
    pub noloop: bool,
    /// BCAST's prefixes, sorted (as Redis's radix tree lists them).
    pub prefixes: Vec<Vec<u8>>,
    /// CLIENT CACHING YES (under OPTIN) or NO (under OPTOUT) was given for
    /// the next command.
    pub caching: bool,
    /// The REDIRECT target closed (Redis's `CLIENT_TRACKING_BROKEN_REDIR`:
    /// flag `R`, TRACKINGINFO's `broken_redirect`).
    pub broken: bool,
}

impl State {
    /// The tracker of a command of connection `me` (None when the shards
    /// need not know: neither remembered keys nor NOLOOP).
    pub fn tracker(&self, me: Subscriber, readonly: bool) -> Option<Tracker> {
        let remember = readonly
            && !self.bcast
            && if self.optin {
                self.caching
            } else if self.optout {
                !self.caching
            } else {
                true
            };
        if !remember && !self.noloop {
            return None;
        }
        let to = self.target.unwrap_or(me);
        Some(Tracker {
            client: me.id,
            worker: to.worker,
            token: to.token,
            to: to.id,
            redirect: self.redirect != 0,
            noloop: self.noloop,
            remember,
        })
    }
}

/// Every tracking client (with the connection it is), for the null
/// invalidation of a flush and for a REDIRECT target that closes.
#[derive(Debug, Default)]
pub struct Clients {
    list: Mutex<Vec<(Tracker, Subscriber)>>,
    /// Entries in `list`: every connection's close looks here first, so
    /// closing takes no lock while nobody tracks.
    len: std::sync::atomic::AtomicUsize,
}

impl Clients {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Tracker, Subscriber)>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Connection `me` tracks (again), its invalidations going where `t`
    /// says.
    pub fn on(&self, t: Tracker, me: Subscriber) {
        let mut l = self.lock();
        l.retain(|(o, _)| o.client != t.client);
        l.push((t, me));
        self.len
            .store(l.len(), std::sync::atomic::Ordering::Relaxed);
    }

    /// How many clients track (INFO's `tracking_clients`).
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// `client` no longer tracks.
    pub fn off(&self, client: u64) {
        let mut l = self.lock();
        if !l.is_empty() {
            l.retain(|(o, _)| o.client != client);
            self.len
                .store(l.len(), std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Redis's `trackingInvalidateKeysOnFlush`: every tracking client gets
    /// a null invalidation.
    pub fn flushed(&self, pubsub: &PubSub, registry: &Registry, workers: usize) {
        let list = self.lock().clone();
        if list.is_empty() {
            return;
        }
        let mut out = crate::pubsub::Outbox::new(workers);
        for (t, _) in &list {
            out.invalidation(target(t), t.redirect, b"");
        }
        post(pubsub, registry, &mut out, workers);
    }

    /// Client `id` closed: every client whose invalidations it received
    /// learns that its redirect is broken (`BROKEN` deliveries, see
    /// `write_broken`). Redis finds out at the next invalidation it cannot
    /// send, and pushes the notice then, once per invalidation; here the
    /// notice comes once, when the target goes.
    pub fn closed(&self, id: u64, pubsub: &PubSub, registry: &Registry, workers: usize) {
        if self.len.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return;
        }
        let gone: Vec<Subscriber> = {
            let l = self.lock();
            if l.is_empty() {
                return;
            }
            l.iter()
                .filter(|(t, me)| t.redirect && t.to == id && me.id != id)
                .map(|&(_, me)| me)
                .collect()
        };
        if gone.is_empty() {
            return;
        }
        let mut out = crate::pubsub::Outbox::new(workers);
        let mut frame = Vec::new();
        frame.push(b':');
        frame.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
        frame.extend_from_slice(b"\r\n");
        for me in gone {
            out.tracking_notice(me, BROKEN, &frame);
        }
        post(pubsub, registry, &mut out, workers);
    }
}

/// The key of a delivery that tells a tracking client its REDIRECT target
/// closed (its frame: the target's id as a RESP integer).
pub const BROKEN: &[u8] = b"b";

/// Writes the notice of a broken redirect: a RESP3 push
/// `tracking-redir-broken <id>`; RESP2 clients get nothing (Redis sends
/// the push to RESP3 clients only).
pub fn write_broken(out: &mut Vec<u8>, resp3: bool, id_frame: &[u8]) {
    if resp3 {
        out.extend_from_slice(b">2\r\n$21\r\ntracking-redir-broken\r\n");
        out.extend_from_slice(id_frame);
    }
}

/// Where a tracker's invalidations go.
pub fn target(t: &Tracker) -> Subscriber {
    Subscriber {
        worker: t.worker,
        token: t.token,
        id: t.to,
    }
}

/// Hands what `out` gathered to the workers' inboxes.
pub fn post(pubsub: &PubSub, registry: &Registry, out: &mut crate::pubsub::Outbox, workers: usize) {
    for w in 0..workers {
        let buf = out.take(w);
        if !buf.is_empty() && pubsub.post(w, &buf) {
            registry.wake(w);
        }
        out.give_back(w, buf);
    }
}

/// Writes an invalidation as its receiver gets it: `payload` is the keys'
/// array, or empty for a flush's null. `resp3`: the receiver speaks RESP3
/// (a push); otherwise a RESP2 redirect target gets a `message` on
/// `__redis__:invalidate`. False when the receiver cannot get it (RESP2
/// without a redirect, or a redirect target that subscribes to nothing).
pub fn write_frame(
    out: &mut Vec<u8>,
    resp3: bool,
    redirect: bool,
    subscribed: bool,
    payload: &[u8],
) -> bool {
    if resp3 {
        out.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
    } else if redirect && subscribed {
        out.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
    } else {
        return false;
    }
    if payload.is_empty() {
        out.extend_from_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" });
    } else {
        out.extend_from_slice(payload);
    }
    true
}
