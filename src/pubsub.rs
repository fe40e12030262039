//! Pub/sub's server-wide state: who subscribes to what, and the inboxes
//! through which messages reach the workers that own the subscribers.
//!
//! Pub/sub lives on the workers, not the shards. The `Table` maps each
//! channel, pattern and shard channel to its subscribers, each named by
//! (worker, connection token, client id). It is read-mostly: PUBLISH takes
//! it shared, and only (P|S)(UN)SUBSCRIBE, RESET and closing subscribers
//! take it exclusively. A PUBLISH counts its receivers while it holds the
//! table (Redis's count, taken at publish time) and writes one delivery per
//! target worker into its worker's `Outbox`: the message frame once per
//! worker, then the (token, id) of every receiver there. At the end of its
//! poll round the publishing worker delivers its own part and appends each
//! other worker's part to that worker's inbox in one lock, waking it only
//! when the inbox was empty: a round of many messages costs one lock and at
//! most one wake-up per target worker. The target writes the frame into
//! each receiver's output buffer; nothing on the way waits for a socket, so
//! a slow subscriber slows nobody (its output is bounded by
//! `client-output-buffer-limit pubsub`, enforced by its worker).
//!
//! Order: one publisher's messages reach a worker's inbox in the order it
//! published them, and a worker drains its inbox in order, so every
//! subscriber sees one publisher's messages to one channel in publish order.

use ahash::RandomState;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

/// What a subscription is to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A channel (SUBSCRIBE).
    Channel = 0,
    /// A glob pattern (PSUBSCRIBE).
    Pattern = 1,
    /// A shard channel (SSUBSCRIBE).
    Shard = 2,
}

/// The kind byte of a delivery that is a client-side caching
/// invalidation, not a message (see `Outbox::invalidation`).
const TRACKING: u8 = 3;

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        match b {
            0 => Some(Kind::Channel),
            1 => Some(Kind::Pattern),
            2 => Some(Kind::Shard),
            _ => None,
        }
    }
}

/// One subscribed connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscriber {
    /// The worker that owns it.
    pub worker: u32,
    /// Its token in that worker.
    pub token: u32,
    /// Its CLIENT ID: a token reused by a later connection is told apart.
    pub id: u64,
}

type Map = HashMap<Vec<u8>, Vec<Subscriber>, RandomState>;

#[derive(Debug, Default)]
struct Table {
    channels: Map,
    patterns: Map,
    shard: Map,
}

impl Table {
    fn map(&mut self, kind: Kind) -> &mut Map {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    fn get(&self, kind: Kind) -> &Map {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
        }
    }

    fn remove(&mut self, kind: Kind, name: &[u8], sub: Subscriber) {
        let map = self.map(kind);
        if let Some(subs) = map.get_mut(name) {
            if let Some(i) = subs.iter().position(|s| *s == sub) {
                subs.swap_remove(i);
            }
            if subs.is_empty() {
                map.remove(name);
            }
        }
    }
}

/// A connection's own subscriptions (Redis's `c->pubsub_channels`,
/// `c->pubsub_patterns`, `c->pubsub_shard_channels`).
#[derive(Debug, Default)]
pub struct Subscriptions {
    /// Channels.
    pub channels: HashSet<Vec<u8>, RandomState>,
    /// Patterns, in subscription order (a list in Redis 7.0: PUNSUBSCRIBE
    /// without arguments answers in this order).
    pub patterns: Vec<Vec<u8>>,
    /// Shard channels.
    pub shard: HashSet<Vec<u8>, RandomState>,
}

impl Subscriptions {
    /// Channels and patterns (the count SUBSCRIBE and PSUBSCRIBE reply).
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Every subscription, shard channels included (Redis's
    /// `CLIENT_PUBSUB` flag is set while this is not 0).
    pub fn total(&self) -> usize {
        self.count() + self.shard.len()
    }

    /// True when it subscribes to nothing.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty() && self.shard.is_empty()
    }

    /// True when it still subscribes to `name` of `kind` (a message posted
    /// before an UNSUBSCRIBE is not delivered after it).
    pub fn has(&self, kind: Kind, name: &[u8]) -> bool {
        match kind {
            Kind::Channel => self.channels.contains(name),
            Kind::Pattern => self.patterns.iter().any(|p| p == name),
            Kind::Shard => self.shard.contains(name),
        }
    }
}

/// Deliveries a worker's PUBLISHes produced this poll round, per target
/// worker (see the module's description of the format).
#[derive(Debug)]
pub struct Outbox {
    per: Vec<Vec<u8>>,
    /// Per target: the message `seq` its open entry belongs to, and where
    /// that entry's receiver count is.
    open: Vec<(u64, usize)>,
    seq: u64,
    frame: Vec<u8>,
}

impl Outbox {
    /// An empty outbox for `workers` workers.
    pub fn new(workers: usize) -> Outbox {
        Outbox {
            per: vec![Vec::new(); workers],
            open: vec![(0, 0); workers],
            seq: 0,
            frame: Vec::new(),
        }
    }

    /// True when nothing waits to be handed out.
    pub fn is_empty(&self) -> bool {
        self.per.iter().all(Vec::is_empty)
    }

    /// The deliveries for worker `w`, taken (its buffer is given back with
    /// `give_back`, to keep its capacity).
    pub fn take(&mut self, w: usize) -> Vec<u8> {
        std::mem::take(&mut self.per[w])
    }

    /// Returns a buffer `take` lent, emptied.
    pub fn give_back(&mut self, w: usize, mut buf: Vec<u8>) {
        buf.clear();
        if buf.capacity() > shards::batch::KEEP_CAPACITY {
            buf = Vec::new();
        }
        self.per[w] = buf;
    }

    /// Starts a message: its RESP2 frame (`*3 message ch msg`, or `*4
    /// pmessage pat ch msg`) is built once, copied once per target worker.
    fn begin(&mut self, kind: Kind, pattern: &[u8], channel: &[u8], msg: &[u8]) {
        self.seq += 1;
        self.frame.clear();
        message_frame(&mut self.frame, b'*', kind, pattern, channel, msg);
    }

    /// Queues a client-side caching invalidation for `to`: `payload` is
    /// the keys' array (empty: a flush's null), written by the receiver's
    /// worker as that receiver gets it (see `crate::tracking`); the
    /// delivery's key says whether `to` is a REDIRECT target (`r`).
    pub fn invalidation(&mut self, to: Subscriber, redirect: bool, payload: &[u8]) {
        self.seq += 1;
        self.frame.clear();
        self.frame.extend_from_slice(payload);
        let key: &[u8] = if redirect { b"r" } else { b"" };
        self.add_as(TRACKING, key, to);
    }

    /// A tracking notice for `to` (`key` says which, see
    /// `crate::tracking::BROKEN`), delivered as invalidations are.
    pub fn tracking_notice(&mut self, to: Subscriber, key: &[u8], frame: &[u8]) {
        self.seq += 1;
        self.frame.clear();
        self.frame.extend_from_slice(frame);
        self.add_as(TRACKING, key, to);
    }

    /// Adds a receiver of the message begun last (`key`: what it
    /// subscribed to, rechecked on delivery).
    fn add(&mut self, kind: Kind, key: &[u8], s: Subscriber) {
        self.add_as(kind as u8, key, s);
    }

    fn add_as(&mut self, head: u8, key: &[u8], s: Subscriber) {
        let w = s.worker as usize;
        let Some(buf) = self.per.get_mut(w) else {
            return;
        };
        if self.open[w].0 != self.seq {
            buf.push(head);
            buf.extend_from_slice(&(key.len() as u32).to_le_bytes());
            buf.extend_from_slice(key);
            buf.extend_from_slice(&(self.frame.len() as u32).to_le_bytes());
            buf.extend_from_slice(&self.frame);
            self.open[w] = (self.seq, buf.len());
            buf.extend_from_slice(&0u32.to_le_bytes());
        }
        let at = self.open[w].1;
        let n = u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) + 1;
        buf[at..at + 4].copy_from_slice(&n.to_le_bytes());
        buf.extend_from_slice(&s.token.to_le_bytes());
        buf.extend_from_slice(&s.id.to_le_bytes());
    }
}

/// Appends a message as its receivers get it: `head` `*` (RESP2) or `>`
/// (a RESP3 push), then `message ch msg`, `pmessage pat ch msg` or
/// `smessage ch msg`.
pub fn message_frame(
    f: &mut Vec<u8>,
    head: u8,
    kind: Kind,
    pattern: &[u8],
    channel: &[u8],
    msg: &[u8],
) {
    f.push(head);
    match kind {
        Kind::Channel => {
            f.extend_from_slice(b"3\r\n");
            bulk(f, b"message");
        }
        Kind::Pattern => {
            f.extend_from_slice(b"4\r\n");
            bulk(f, b"pmessage");
            bulk(f, pattern);
        }
        Kind::Shard => {
            f.extend_from_slice(b"3\r\n");
            bulk(f, b"smessage");
        }
    }
    bulk(f, channel);
    bulk(f, msg);
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(b.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// One message for some of a worker's connections, read from a delivery
/// buffer.
pub struct Delivery<'a> {
    /// What the receivers subscribed to.
    pub kind: Kind,
    /// The channel, pattern or shard channel they subscribed to.
    pub key: &'a [u8],
    /// The RESP2 frame (a RESP3 receiver gets `>` in place of its `*`);
    /// for an invalidation, the keys' array (see `crate::tracking`).
    pub frame: &'a [u8],
    /// A client-side caching invalidation (`key` is `r` for a REDIRECT
    /// target), not a message.
    pub invalidation: bool,
    receivers: &'a [u8],
}

impl Delivery<'_> {
    /// The (token, client id) of each receiver.
    pub fn receivers(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.receivers.chunks_exact(12).map(|c| {
            let token = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize;
            let mut id = [0u8; 8];
            id.copy_from_slice(&c[4..]);
            (token, u64::from_le_bytes(id))
        })
    }
}

/// Reads the deliveries in `buf` (an `Outbox` part or an inbox).
pub fn deliveries(mut buf: &[u8]) -> impl Iterator<Item = Delivery<'_>> {
    fn u32_at(b: &[u8]) -> Option<usize> {
        Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?) as usize)
    }
    std::iter::from_fn(move || {
        let head = *buf.first()?;
        let invalidation = head == TRACKING;
        let kind = if invalidation {
            Kind::Channel
        } else {
            Kind::from_u8(head)?
        };
        let klen = u32_at(&buf[1..])?;
        let key = buf.get(5..5 + klen)?;
        let rest = &buf[5 + klen..];
        let flen = u32_at(rest)?;
        let frame = rest.get(4..4 + flen)?;
        let rest = &rest[4 + flen..];
        let n = u32_at(rest)?;
        let receivers = rest.get(4..4 + n * 12)?;
        buf = &rest[4 + n * 12..];
        Some(Delivery {
            kind,
            key,
            frame,
            invalidation,
            receivers,
        })
    })
}

/// Deliveries posted to one worker.
#[derive(Debug, Default)]
struct Inbox {
    queue: Mutex<Vec<u8>>,
    /// Set while `queue` is not empty: the worker looks at it every poll
    /// round without taking the lock.
    full: AtomicBool,
}

/// The server's pub/sub state: the subscription table and one inbox per worker.
#[derive(Debug)]
pub struct PubSub {
    table: RwLock<Table>,
    inbox: Box<[Inbox]>,
}

impl PubSub {
    /// No subscription, for `workers` workers.
    pub fn new(workers: usize) -> PubSub {
        PubSub {
            table: RwLock::new(Table::default()),
            inbox: (0..workers).map(|_| Inbox::default()).collect(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that `sub` subscribes to `name` (it did not before).
    pub fn subscribe(&self, kind: Kind, name: &[u8], sub: Subscriber) {
        self.write()
            .map(kind)
            .entry(name.to_vec())
            .or_default()
            .push(sub);
    }

    /// Records that `sub` no longer subscribes to `name`.
    pub fn unsubscribe(&self, kind: Kind, name: &[u8], sub: Subscriber) {
        self.write().remove(kind, name, sub);
    }

    /// Forgets every subscription of `sub` (RESET, or it closed), emptying `subs`.
    pub fn remove_all(&self, sub: Subscriber, subs: &mut Subscriptions) {
        if subs.is_empty() {
            return;
        }
        let mut t = self.write();
        for c in subs.channels.drain() {
            t.remove(Kind::Channel, &c, sub);
        }
        for p in subs.patterns.drain(..) {
            t.remove(Kind::Pattern, &p, sub);
        }
        for c in subs.shard.drain() {
            t.remove(Kind::Shard, &c, sub);
        }
    }

    /// PUBLISH (`Kind::Channel`) or SPUBLISH (`Kind::Shard`): queues the
    /// message for every receiver but `me` (the publisher, which writes its
    /// own copies before its reply, as Redis does) in `out` and returns how
    /// many receivers there are, `me` included, as Redis counts them: the
    /// channel's subscribers, plus for PUBLISH one per subscriber of each
    /// pattern that matches the channel.
    pub fn publish(
        &self,
        kind: Kind,
        channel: &[u8],
        msg: &[u8],
        me: Subscriber,
        out: &mut Outbox,
    ) -> usize {
        let t = self.read();
        let mut n = 0;
        if let Some(subs) = t.get(kind).get(channel) {
            out.begin(kind, b"", channel, msg);
            for &s in subs.iter().filter(|&&s| s != me) {
                out.add(kind, channel, s);
            }
            n += subs.len();
        }
        if kind == Kind::Channel {
            for (pat, subs) in &t.patterns {
                if shards::glob::matches(pat, channel, false) {
                    out.begin(Kind::Pattern, pat, channel, msg);
                    for &s in subs.iter().filter(|&&s| s != me) {
                        out.add(Kind::Pattern, pat, s);
                    }
                    n += subs.len();
                }
            }
        }
        n
    }

    /// Active channels (or shard channels), those matching `pattern` when given.
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        self.read()
            .get(kind)
            .keys()
            .filter(|c| pattern.map_or(true, |p| shards::glob::matches(p, c, false)))
            .cloned()
            .collect()
    }

    /// The subscriptions of the connection with CLIENT ID `id`, by kind
    /// (ACL SETUSER's check of a user's subscribers; rare, so a scan).
    pub fn subscriptions_of(&self, id: u64) -> Vec<(Kind, Vec<u8>)> {
        let t = self.read();
        let mut out = Vec::new();
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for (name, subs) in t.get(kind) {
                if subs.iter().any(|s| s.id == id) {
                    out.push((kind, name.clone()));
                }
            }
        }
        out
    }

    /// Subscribers of one channel (or shard channel).
    pub fn numsub(&self, kind: Kind, name: &[u8]) -> usize {
        self.read().get(kind).get(name).map_or(0, Vec::len)
    }

    /// Distinct channels, patterns and shard channels with subscribers
    /// (INFO's `pubsub_channels`, `pubsub_patterns`, `pubsubshard_channels`).
    pub fn counts(&self) -> (usize, usize, usize) {
        let t = self.read();
        (t.channels.len(), t.patterns.len(), t.shard.len())
    }

    /// Appends deliveries for `worker`'s connections to its inbox; true
    /// when it was empty (the worker must be woken).
    pub fn post(&self, worker: usize, deliveries: &[u8]) -> bool {
        let Some(inbox) = self.inbox.get(worker) else {
            return false;
        };
        let mut q = inbox.queue.lock().unwrap_or_else(|p| p.into_inner());
        let was_empty = q.is_empty();
        q.extend_from_slice(deliveries);
        inbox.full.store(true, Ordering::Release);
        was_empty
    }

    /// True when `worker`'s inbox holds deliveries. A worker checks it
    /// before it reads its sockets, so a message whose PUBLISH was answered
    /// before a subscriber's next command reaches that subscriber first,
    /// as in Redis, even when the wake-up is still on its way.
    #[inline]
    pub fn has_mail(&self, worker: usize) -> bool {
        self.inbox
            .get(worker)
            .is_some_and(|i| i.full.load(Ordering::Acquire))
    }

    /// Takes what `worker`'s inbox holds (swapped into `out`, emptied first).
    pub fn take(&self, worker: usize, out: &mut Vec<u8>) {
        out.clear();
        if let Some(inbox) = self.inbox.get(worker) {
            let mut q = inbox.queue.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::swap(&mut *q, out);
            inbox.full.store(false, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(worker: u32, token: u32) -> Subscriber {
        Subscriber {
            worker,
            token,
            id: token as u64 + 100,
        }
    }

    #[test]
    fn publish_counts_and_groups_by_worker() {
        let ps = PubSub::new(2);
        ps.subscribe(Kind::Channel, b"news", sub(0, 1));
        ps.subscribe(Kind::Channel, b"news", sub(1, 2));
        ps.subscribe(Kind::Pattern, b"n*", sub(1, 3));
        ps.subscribe(Kind::Pattern, b"x*", sub(1, 4));
        let mut out = Outbox::new(2);
        assert_eq!(
            ps.publish(Kind::Channel, b"news", b"hi", sub(9, 9), &mut out),
            3
        );
        let w1 = out.take(1);
        let d: Vec<_> = deliveries(&w1).collect();
        assert_eq!(d.len(), 2);
        assert_eq!(
            d[0].frame,
            b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(d[0].receivers().collect::<Vec<_>>(), [(2, 102)]);
        assert_eq!(d[1].kind, Kind::Pattern);
        assert_eq!(d[1].key, b"n*");
        assert_eq!(
            d[1].frame,
            b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        let w0 = out.take(0);
        assert_eq!(deliveries(&w0).count(), 1);
        // Shard channels are a namespace of their own.
        assert_eq!(
            ps.publish(Kind::Shard, b"news", b"hi", sub(9, 9), &mut out),
            0
        );
        let mut s = Subscriptions::default();
        s.channels.insert(b"news".to_vec());
        ps.remove_all(sub(0, 1), &mut s);
        assert_eq!(ps.numsub(Kind::Channel, b"news"), 1);
        ps.unsubscribe(Kind::Channel, b"news", sub(1, 2));
        assert_eq!(ps.counts(), (0, 2, 0));
    }

    #[test]
    fn many_receivers_share_one_frame_per_worker() {
        let ps = PubSub::new(3);
        for t in 0..30 {
            ps.subscribe(Kind::Channel, b"c", sub(t % 3, t));
        }
        let mut out = Outbox::new(3);
        assert_eq!(
            ps.publish(Kind::Channel, b"c", b"m", sub(9, 9), &mut out),
            30
        );
        assert_eq!(
            ps.publish(Kind::Channel, b"c", b"n", sub(9, 9), &mut out),
            30
        );
        for w in 0..3 {
            let buf = out.take(w);
            let d: Vec<_> = deliveries(&buf).collect();
            assert_eq!(d.len(), 2, "one entry per message");
            assert_eq!(d[0].receivers().count(), 10);
            assert!(d[1].frame.ends_with(b"$1\r\nn\r\n"));
        }
    }
}
