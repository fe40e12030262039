//! The message a worker sends to a shard, and gets back with the replies.
//!
//! A `Batch` carries every op one worker has for one shard in one poll round.
//! It is recycled: the worker fills it, the shard executes it and writes the
//! replies into it, the worker encodes them and clears it for the next round.
//! Argument bytes and reply payloads live in two flat buffers inside the
//! batch, so a steady stream of requests allocates nothing; an op names its
//! arguments by `Arg` (a span of the argument buffer) or `ArgList`. A big
//! argument (`BIG_ARG` bytes or more) is not copied in: the batch shares the
//! buffer the connection read it into (`Args::offer`). Buffers that grew
//! past `KEEP_CAPACITY` are given back when the batch is cleared.

use crate::error::Error;
use crate::ops::Op;

/// A span of bytes in one of a batch's buffers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// Offset.
    pub start: u32,
    /// Length.
    pub len: u32,
}

impl Span {
    /// The span `start..end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start: start as u32,
            len: (end - start) as u32,
        }
    }

    /// The bytes of this span in `buf`.
    #[inline]
    pub fn of(self, buf: &[u8]) -> &[u8] {
        &buf[self.start as usize..(self.start + self.len) as usize]
    }
}

/// An argument: a span of the batch's argument bytes.
pub type Arg = Span;

/// Several arguments: `len` entries of `Args::lists` from `first`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArgList {
    /// Index of the first entry.
    pub first: u32,
    /// Number of entries.
    pub len: u32,
}

/// An argument of `BIG_ARG` bytes or more, in a buffer of its own that the
/// connection read it into; shared, never copied, on its way to a shard.
pub type BigArg = std::sync::Arc<Vec<u8>>;

/// Arguments this long or longer travel as a `BigArg` (Redis's
/// `PROTO_MBULK_BIG_ARG`, the size from which it reads a bulk straight into
/// its own buffer).
pub const BIG_ARG: usize = 32 * 1024;

/// A buffer above this capacity is given back when its batch is cleared:
/// one huge request must not pin its size for the life of the batch.
pub const KEEP_CAPACITY: usize = 1 << 20;

/// Marks an `Arg` whose start indexes `Args::bigs` instead of the bytes.
const SHARED: u32 = 1 << 31;

/// The argument bytes of a batch.
#[derive(Debug, Default)]
pub struct Args {
    data: Vec<u8>,
    lists: Vec<Arg>,
    bigs: Vec<BigArg>,
    /// Big arguments of the command being routed: `push` shares these
    /// instead of copying them.
    offered: Vec<BigArg>,
}

impl Args {
    /// Copies `bytes` in (or shares it, when it is one of the `offer`ed big
    /// arguments); returns its span.
    #[inline]
    pub fn push(&mut self, bytes: &[u8]) -> Arg {
        if bytes.len() >= BIG_ARG && !self.offered.is_empty() {
            let found = self
                .offered
                .iter()
                .find(|b| b.as_ptr() == bytes.as_ptr() && b.len() == bytes.len())
                .cloned();
            if let Some(big) = found {
                return self.push_shared(big);
            }
        }
        let start = self.data.len();
        self.data.extend_from_slice(bytes);
        Span::new(start, self.data.len())
    }

    /// Appends a big argument without copying it.
    pub fn push_shared(&mut self, big: BigArg) -> Arg {
        let len = big.len() as u32;
        self.bigs.push(big);
        Span {
            start: SHARED | (self.bigs.len() - 1) as u32,
            len,
        }
    }

    /// Sets the big arguments of the command about to be routed: a `push`
    /// of one of them (the very bytes, not a copy) shares it.
    pub fn offer(&mut self, bigs: &[BigArg]) {
        if !self.offered.is_empty() || !bigs.is_empty() {
            self.offered.clear();
            self.offered.extend_from_slice(bigs);
        }
    }

    /// Copies each of `items` in; returns the list.
    pub fn list<'b>(&mut self, items: impl IntoIterator<Item = &'b [u8]>) -> ArgList {
        let first = self.lists.len() as u32;
        for b in items {
            let a = self.push(b);
            self.lists.push(a);
        }
        ArgList {
            first,
            len: self.lists.len() as u32 - first,
        }
    }

    /// The bytes of `a`.
    #[inline]
    pub fn get(&self, a: Arg) -> &[u8] {
        if a.start & SHARED != 0 {
            &self.bigs[(a.start & !SHARED) as usize][..]
        } else {
            a.of(&self.data)
        }
    }

    /// The bytes of item `i` of `l`.
    pub fn item(&self, l: ArgList, i: usize) -> &[u8] {
        self.get(self.lists[l.first as usize + i])
    }

    /// The items of `l`, in order.
    pub fn items(&self, l: ArgList) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.lists[l.first as usize..(l.first + l.len) as usize]
            .iter()
            .map(|&a| self.get(a))
    }

    fn clear(&mut self) {
        self.data.clear();
        self.lists.clear();
        self.bigs.clear();
        self.offered.clear();
        if self.data.capacity() > KEEP_CAPACITY {
            self.data = Vec::new();
        }
        if self.lists.capacity() * std::mem::size_of::<Arg>() > KEEP_CAPACITY {
            self.lists = Vec::new();
        }
    }

    /// Bytes held, shared buffers included.
    pub fn capacity(&self) -> usize {
        self.data.capacity()
            + self.lists.capacity() * std::mem::size_of::<Arg>()
            + self.bigs.iter().map(|b| b.capacity()).sum::<usize>()
    }
}

/// An op with the database it works on.
#[derive(Clone, Debug)]
pub struct Queued {
    /// Database index (SELECT).
    pub db: u8,
    /// What to do.
    pub op: Op,
    /// Sent by a CLIENT NO-TOUCH connection: its look-ups leave the keys'
    /// LRU position and access time alone.
    pub no_touch: bool,
    /// Routed by an EXEC: clients blocked on keys it makes ready are
    /// served after the transaction, not between its commands.
    pub txn: bool,
    /// Sent by a client with CLIENT TRACKING on: 1 + its index in the
    /// batch's `trackers`, 0 for none.
    pub track: u32,
    /// Sent by a script that may grow memory past `maxmemory` (Redis's
    /// `allow-oom`, or a script that has written already): the op writes
    /// without making room first.
    pub allow_oom: bool,
}

/// A shard's snapshot for INFO.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardInfo {
    /// Keys per database.
    pub keys: [u64; crate::NUM_DBS],
    /// Keys with a TTL per database.
    pub expires: [u64; crate::NUM_DBS],
    /// Mean remaining TTL estimate (ms) per database.
    pub avg_ttl: [u64; crate::NUM_DBS],
    /// Bytes the shard's data structures use.
    pub used_memory: u64,
    /// Bytes of arena pages that hold no record (fragmentation).
    pub slack: u64,
    /// Per-shard maxmemory (0 = none).
    pub maxmemory: u64,
    /// Read lookups that found a key.
    pub hits: u64,
    /// Read lookups that did not.
    pub misses: u64,
    /// Keys removed by TTL.
    pub expired: u64,
    /// Keys removed by a limit.
    pub evicted: u64,
    /// Persistence figures, when the AOF is on.
    pub aof: Option<crate::aof::AofStatus>,
    /// Bytes the AOF's record buffer holds.
    pub aof_buffer: u64,
    /// Client-side caching: keys remembered, (key, client) pairs, and
    /// BCAST prefixes (every shard keeps them all).
    pub tracking: [u64; 3],
    /// Changes made since start (see `aof::Log::changes`).
    pub changes: u64,
}

/// A shard's answer to one op. Payloads are spans of `Batch::out`.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+OK`
    Ok,
    /// Null bulk.
    Nil,
    /// Integer reply.
    Int(i64),
    /// Bulk string.
    Bulk(Span),
    /// Simple string reply (`+text`).
    Status(&'static str),
    /// A failure, worded by the server.
    Err(Error),
    /// Structured reply (see `tape`).
    Tape(Span),
    /// INFO snapshot.
    Info(Box<ShardInfo>),
}

/// A reusable bundle of ops for one shard from one worker.
#[derive(Debug, Default)]
pub struct Batch {
    /// Index of the worker that owns this batch; the shard replies to it.
    pub worker: usize,
    /// Index of the shard this batch is for.
    pub shard: usize,
    /// Ops in request order.
    pub ops: Vec<Queued>,
    /// Their arguments.
    pub args: Args,
    /// One reply per op, filled by the shard.
    pub replies: Vec<Reply>,
    /// Reply payloads.
    pub out: Vec<u8>,
    /// After executing this batch, the shard serves only this batch's worker
    /// until a batch of that worker with `release` (a cross-shard atomic section).
    pub hold: bool,
    /// The section a `hold` starts: an id unique across runs
    /// (`aof::new_section_id`), which its records on each shard carry.
    pub section: u64,
    /// After executing this batch, the shard ends its hold.
    pub release: bool,
    /// Index of the first op the shard's last execution ran (the ones before
    /// it had run in an earlier exchange of the same round).
    pub ran_from: usize,
    /// Index of the first op of the last execution that ran after a change
    /// of its group had been recorded (`usize::MAX`: none). If the group's
    /// records cannot be written, those ops' replies are refused too.
    pub dirty_from: usize,
    /// The trackers of the ops sent by tracking clients (see `Queued::track`).
    pub trackers: Vec<crate::tracking::Tracker>,
    /// The time its ops run at (Unix ms) when the sender fixes it: a
    /// script's commands all run at the script's start, as Redis freezes
    /// the clock for a script. 0: the shard reads the clock.
    pub now_ms: u64,
}

impl Batch {
    /// An empty batch owned by `worker`, addressed to `shard`.
    pub fn new(worker: usize, shard: usize) -> Self {
        Batch {
            worker,
            shard,
            dirty_from: usize::MAX,
            ..Default::default()
        }
    }

    /// Empties the batch, keeping its buffers' capacity up to a modest size.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.args.clear();
        self.replies.clear();
        self.out.clear();
        if self.out.capacity() > KEEP_CAPACITY {
            self.out = Vec::new();
        }
        self.hold = false;
        self.section = 0;
        self.release = false;
        self.trackers.clear();
        self.ran_from = 0;
        self.dirty_from = usize::MAX;
        self.now_ms = 0;
    }

    /// Gives back every buffer (the batch is empty and idle): the next
    /// round that uses it grows them again.
    pub fn shrink(&mut self) {
        self.clear();
        self.ops = Vec::new();
        self.replies = Vec::new();
        self.out = Vec::new();
        self.args = Args::default();
    }

    /// True when some op has not been executed yet (ops run once: a batch
    /// sent twice in one round only runs the ops added since).
    pub fn has_new_ops(&self) -> bool {
        self.ops.len() > self.replies.len()
    }

    /// True when the batch must travel: new ops, or a hold or release.
    pub fn must_send(&self) -> bool {
        self.has_new_ops() || self.hold || self.release
    }

    /// True when the batch holds no op.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Appends an op (its arguments already pushed into `args`); returns
    /// its index (the index of its reply).
    pub fn push(&mut self, db: u8, op: Op) -> u32 {
        self.ops.push(Queued {
            db,
            op,
            no_touch: false,
            txn: false,
            track: 0,
            allow_oom: false,
        });
        (self.ops.len() - 1) as u32
    }

    /// Marks op `idx` as sent by a tracking client (see `Queued::track`).
    pub fn set_tracker(&mut self, idx: u32, t: crate::tracking::Tracker) {
        if self.trackers.last() != Some(&t) {
            self.trackers.push(t);
        }
        let n = self.trackers.len() as u32;
        if let Some(q) = self.ops.get_mut(idx as usize) {
            q.track = n;
        }
    }

    /// The tracker of op `i`, if its client tracks.
    #[inline]
    pub fn tracker_of(&self, i: usize) -> Option<crate::tracking::Tracker> {
        match self.ops.get(i).map_or(0, |q| q.track) {
            0 => None,
            n => self.trackers.get(n as usize - 1).copied(),
        }
    }

    /// Marks op `idx` as sent by a CLIENT NO-TOUCH connection.
    pub fn set_no_touch(&mut self, idx: u32) {
        if let Some(q) = self.ops.get_mut(idx as usize) {
            q.no_touch = true;
        }
    }

    /// Marks op `idx` as exempt from `maxmemory` (see `Queued::allow_oom`).
    pub fn set_allow_oom(&mut self, idx: u32) {
        if let Some(q) = self.ops.get_mut(idx as usize) {
            q.allow_oom = true;
        }
    }

    /// Marks op `idx` as part of a transaction (see `Queued::txn`).
    pub fn set_txn(&mut self, idx: u32) {
        if let Some(q) = self.ops.get_mut(idx as usize) {
            q.txn = true;
        }
    }

    /// The bytes of a reply payload.
    pub fn payload(&self, s: Span) -> &[u8] {
        s.of(&self.out)
    }

    /// Bytes the batch's buffers hold.
    pub fn capacity(&self) -> usize {
        self.args.capacity()
            + self.out.capacity()
            + self.ops.capacity() * std::mem::size_of::<Queued>()
            + self.replies.capacity() * std::mem::size_of::<Reply>()
    }
}
