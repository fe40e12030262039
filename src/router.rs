//! Splits commands into per-shard ops and merges the replies back in request order.
//!
//! During a poll round a worker routes every command it decodes: a key goes to
//! shard `hash(key) % N`, a multi-key command becomes one op per key, and a
//! keyspace-wide command (DBSIZE, FLUSHALL, INFO) one op per shard. All ops of
//! the round for one shard travel in one `Batch`, so a round costs one channel
//! send and one reply per shard it touches, however many requests it carries.
//!
//! Each command leaves a `Pending` entry, in arrival order, naming where its
//! reply comes from: bytes the worker wrote itself, or a list of shard
//! replies and how to merge them. After the exchange the entries are encoded
//! in order into their connections' output buffers.

use crate::info;
use crate::resp::encode;
use crate::server::Shared;
use crossbeam_channel::Receiver;
use shards::batch::Args;
use shards::shard::{Bell, ShardTx};
use shards::tape::{Item, TapeReader};
use shards::{Arg, Batch, Op, Reply, ShardInfo};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The connection token of ops whose replies nobody reads (clean-up such as
/// forgetting a closed connection's WATCHes).
pub const NO_CONN: usize = usize::MAX;

/// Where one op's reply will be: its shard and its index in that batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpRef {
    shard: u32,
    idx: u32,
}

/// How the replies of a command's sub-ops become one reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Bytes the worker wrote into the round's immediate buffer.
    Immediate {
        /// Offset in the immediate buffer.
        start: usize,
        /// Length.
        len: usize,
    },
    /// The one sub-reply, as it is.
    One,
    /// The sum of integer sub-replies (DEL, EXISTS, DBSIZE).
    Sum,
    /// An array of the sub-replies in argument order (MGET).
    Array,
    /// `+OK` unless a sub-reply is an error (MSET, FLUSHALL).
    AllOk,
    /// An INFO reply over the shards' snapshots; the value is the section mask.
    Info(u32),
    /// BGREWRITEAOF: Redis's status line unless a shard refused.
    Rewrite,
    /// SHUTDOWN: every shard flushed its AOF; exit the process (no reply, as Redis).
    Shutdown,
    /// KEYS: one array of every shard's key list.
    Keys,
    /// SCAN: `[cursor, keys]` from the one step on shard `shard`.
    Scan {
        /// The shard the step ran on, to build the next cursor.
        shard: u32,
    },
    /// RANDOMKEY: a key from a shard picked with odds proportional to its
    /// key count, so every key has the same chance; nil when all are empty.
    RandomKey,
    /// LCS over the two GET sub-replies (an absent key is an empty string),
    /// computed here so that neither shard waits on the other.
    Lcs(crate::cmd::LcsOpts),
}

/// The text of an error reply.
fn error_of(r: &Reply) -> Option<std::borrow::Cow<'static, str>> {
    match r {
        Reply::Err(e) => Some(crate::errors::text(e)),
        _ => None,
    }
}

/// How a connection wants its replies, carried by each pending reply so a
/// pipeline that switches protocol mid-round is answered as it asked.
pub mod reply_flags {
    /// Encode in RESP3 (after `HELLO 3`).
    pub const RESP3: u8 = 1;
    /// Encode nothing (CLIENT REPLY OFF / SKIP).
    pub const SILENT: u8 = 2;
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    conn: usize,
    merge: Merge,
    first: u32,
    count: u32,
    /// A command that passed lookup and arity (INFO's total_commands_processed).
    executed: bool,
    /// `reply_flags` of the connection when the command ran.
    flags: u8,
}

/// Where a connection's replies go; implemented by the worker's connection table.
pub trait ReplySink {
    /// The output buffer of connection `token`, if it is still open.
    fn out(&mut self, token: usize) -> Option<&mut Vec<u8>>;
}

/// A worker's per-round routing state. Buffers are reused across rounds.
///
/// Atomicity across shards: a round in which one command's ops span several
/// shards sends its batches while holding the server-wide `order` lock, so
/// every shard receives such rounds in the same order and executes each
/// batch whole: a multi-key command (MGET, MSET, DEL, EXEC) is seen by every
/// other such command either entirely before or entirely after it. Rounds
/// of single-shard commands skip the lock. A command whose later step needs
/// an earlier step's reply (cross-shard RENAME, MSETNX, EXEC after WATCH)
/// runs in a section: `hold` the shards (sent under the lock), exchange as
/// often as needed, `release`.
pub struct Router {
    worker: usize,
    to_shards: Vec<ShardTx>,
    replies: Receiver<Batch>,
    /// Rung by the shards after they queue replies, when set: waits for
    /// replies park on it instead of spinning in the queue's receive.
    bell: Option<Arc<Bell>>,
    order: Arc<Mutex<()>>,
    /// Some command of this exchange has ops on more than one shard.
    ordered: bool,
    /// Shards held by the current section.
    held: Vec<bool>,
    /// The current section's holds went out (it may take no more shards).
    holds_sent: bool,
    /// A handler asked to run its command again once the round is delivered.
    deferred: bool,
    /// Set while a deferred command runs: handlers may hold and exchange.
    section: bool,
    /// Command table row counted last (undone when the command defers).
    last_call: usize,
    /// The next pending entry belongs to an executed command.
    next_executed: bool,
    /// `reply_flags` of the connection whose command is being routed.
    conn_flags: u8,
    route: shards::route::Router,
    /// The round being built.
    round: Round,
    /// Rounds submitted and not yet delivered, oldest first.
    inflight: VecDeque<Round>,
    /// Delivered rounds, kept for their buffers.
    spare: Vec<Round>,
    /// xorshift state for RANDOMKEY's pick of a shard.
    rng: u64,
    /// LCS's dynamic-programming table, reused while small.
    lcs_table: Vec<u32>,
    /// The big arguments of the command being routed: an op argument that
    /// is one of them joins its batch shared, not copied.
    bigs: Vec<shards::batch::BigArg>,
}

/// One round: its batches, and the replies to encode once they come back.
struct Round {
    batches: Vec<Batch>,
    pending: Vec<Pending>,
    subs: Vec<(u32, u32)>,
    imm: Vec<u8>,
    /// Calls of each command table row in this round, for latency tracking.
    calls: Vec<u64>,
    /// Shards this round's batch went to and has not come back from.
    awaiting: Vec<bool>,
    /// Number of `true` in `awaiting`.
    outstanding: usize,
    /// When the worker started the poll round that built it (latency tracking).
    start: Option<Instant>,
    /// The connections with replies in this round (set by the worker).
    conns: Vec<usize>,
}

impl Round {
    fn new(worker: usize, shards: usize) -> Self {
        Round {
            batches: (0..shards).map(|s| Batch::new(worker, s)).collect(),
            pending: Vec::new(),
            subs: Vec::new(),
            imm: Vec::new(),
            calls: vec![0; crate::command::COMMANDS.len()],
            awaiting: vec![false; shards],
            outstanding: 0,
            start: None,
            conns: Vec::new(),
        }
    }

    /// Takes a batch back from its shard.
    fn accept(&mut self, mut batch: Batch) {
        batch.hold = false;
        batch.release = false;
        let shard = batch.shard;
        self.batches[shard] = batch;
        self.awaiting[shard] = false;
        self.outstanding -= 1;
    }

    fn clear(&mut self) {
        self.pending.clear();
        self.subs.clear();
        self.imm.clear();
        if self.imm.capacity() > shards::batch::KEEP_CAPACITY {
            self.imm = Vec::new();
        }
        self.conns.clear();
        self.start = None;
        for b in &mut self.batches {
            b.clear();
        }
    }

    /// Bytes its buffers hold.
    fn capacity(&self) -> usize {
        self.batches.iter().map(Batch::capacity).sum::<usize>()
            + self.imm.capacity()
            + self.pending.capacity() * std::mem::size_of::<Pending>()
            + self.subs.capacity() * std::mem::size_of::<(u32, u32)>()
    }
}

impl Router {
    /// A router for worker `worker`: `to_shards[s]` is shard `s`'s queue,
    /// `replies` this worker's reply queue, `order` the server-wide lock
    /// that orders multi-shard rounds.
    pub fn new(
        worker: usize,
        to_shards: Vec<ShardTx>,
        replies: Receiver<Batch>,
        order: Arc<Mutex<()>>,
    ) -> Self {
        let shards = to_shards.len();
        Router {
            worker,
            to_shards,
            replies,
            bell: None,
            order,
            ordered: false,
            held: vec![false; shards],
            holds_sent: false,
            deferred: false,
            section: false,
            last_call: 0,
            next_executed: false,
            conn_flags: 0,
            route: shards::route::Router::new(shards),
            round: Round::new(worker, shards),
            inflight: VecDeque::new(),
            spare: Vec::new(),
            rng: rng_seed(worker),
            lcs_table: Vec::new(),
            bigs: Vec::new(),
        }
    }

    /// Counts one call of command table row `id` in this round; its reply
    /// (the next pending entry) counts as an executed command.
    pub fn count_call(&mut self, id: usize) {
        self.round.calls[id] += 1;
        self.last_call = id;
        self.next_executed = true;
    }

    /// Asks the worker to run the current command again after this round is
    /// delivered, with `in_section()` true, before the connection's next
    /// command. The connection's later commands wait until then.
    pub fn defer(&mut self) {
        self.deferred = true;
        self.round.calls[self.last_call] -= 1;
        self.next_executed = false;
    }

    /// True (and reset) when the last dispatched command deferred itself.
    pub fn take_deferred(&mut self) -> bool {
        std::mem::take(&mut self.deferred)
    }

    /// True while a deferred command runs (it may `hold`, `exchange`, `release`).
    pub fn in_section(&self) -> bool {
        self.section
    }

    /// Marks the start or end of a deferred command's run.
    pub fn set_section(&mut self, on: bool) {
        self.section = on;
    }

    /// Takes shard `shard` for the current section at the next exchange.
    ///
    /// A section must take all its shards before its first exchange: the
    /// holds then travel in one send under the order lock, so two sections
    /// always queue behind each other in the same order on every shard they
    /// share. Taking one more shard after an exchange could wait on a
    /// section that waits on this one.
    pub fn hold(&mut self, shard: usize) {
        if !self.held[shard] {
            debug_assert!(
                !self.holds_sent,
                "shard {shard} taken after the section's first exchange"
            );
            self.held[shard] = true;
            self.round.batches[shard].hold = true;
        }
    }

    /// Ends the section on every held shard at the next exchange.
    pub fn release(&mut self) {
        self.holds_sent = false;
        for (s, h) in self.held.iter_mut().enumerate() {
            if std::mem::take(h) {
                self.round.batches[s].release = true;
            }
        }
    }

    /// Orders this exchange's sends (a command whose ops were routed one by
    /// one, such as EXEC's queued commands, spans several shards).
    pub fn mark_ordered(&mut self) {
        self.ordered = true;
    }

    /// True while some shard is held.
    pub fn holding(&self) -> bool {
        self.held.iter().any(|&h| h)
    }

    /// Sets the `reply_flags` of the replies recorded from now on (the
    /// connection whose command is being routed).
    pub fn set_conn_flags(&mut self, flags: u8) {
        self.conn_flags = flags;
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.round.batches.len()
    }

    /// The shard that owns `key`.
    pub fn shard_of(&self, key: &[u8]) -> usize {
        self.route.shard_of(key)
    }

    /// True when the round has replies to deliver.
    pub fn has_pending(&self) -> bool {
        !self.round.pending.is_empty()
    }

    /// Records a reply the worker produces itself; `write` encodes it.
    pub fn reply(&mut self, conn: usize, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.round.imm.len();
        write(&mut self.round.imm);
        let len = self.round.imm.len() - start;
        let executed = std::mem::take(&mut self.next_executed);
        self.round.pending.push(Pending {
            conn,
            merge: Merge::Immediate { start, len },
            first: 0,
            count: 0,
            executed,
            flags: self.conn_flags,
        });
    }

    /// Starts a command whose reply merges sub-op replies; add them with
    /// `key_op` / `each_shard_op`.
    pub fn begin(&mut self, conn: usize, merge: Merge) {
        let executed = std::mem::take(&mut self.next_executed);
        self.round.pending.push(Pending {
            conn,
            merge,
            first: self.round.subs.len() as u32,
            count: 0,
            executed,
            flags: self.conn_flags,
        });
    }

    /// Bytes the rounds at this worker hold in their buffers (batches at a
    /// shard are counted once they are back).
    pub fn buffer_bytes(&self) -> usize {
        self.round.capacity()
            + self.inflight.iter().map(Round::capacity).sum::<usize>()
            + self.spare.iter().map(Round::capacity).sum::<usize>()
    }

    /// Sets the big arguments of the command about to be routed (see `bigs`).
    pub fn share_bigs(&mut self, bigs: &[shards::batch::BigArg]) {
        if !self.bigs.is_empty() || !bigs.is_empty() {
            self.bigs.clear();
            self.bigs.extend_from_slice(bigs);
        }
    }

    fn push_raw(&mut self, shard: usize, db: u8, build: impl FnOnce(&mut Args) -> Op) -> OpRef {
        let b = &mut self.round.batches[shard];
        // A big argument of the command (the very bytes, not a copy made by
        // its handler) is shared with the batch, not copied into it.
        b.args.offer(&self.bigs);
        let op = build(&mut b.args);
        b.args.offer(&[]);
        let idx = b.push(db, op);
        OpRef {
            shard: shard as u32,
            idx,
        }
    }

    fn push_op(&mut self, shard: usize, db: u8, build: impl FnOnce(&mut Args) -> Op) {
        let r = self.push_raw(shard, db, build);
        if let Some(p) = self.round.pending.last_mut() {
            if p.count > 0 && self.round.subs[p.first as usize].0 != r.shard {
                self.ordered = true;
            }
            p.count += 1;
        }
        self.round.subs.push((r.shard, r.idx));
    }

    /// Adds an op whose reply the caller reads itself with `reply_of` after
    /// the next `exchange` (a step of a multi-step command); no pending
    /// command owns it.
    pub fn step_op(&mut self, shard: usize, db: u8, build: impl FnOnce(&mut Args) -> Op) -> OpRef {
        self.push_raw(shard, db, build)
    }

    /// The reply to a `step_op`, and the batch its payload lives in.
    pub fn reply_of(&self, r: OpRef) -> (&Batch, &Reply) {
        let b = &self.round.batches[r.shard as usize];
        (b, &b.replies[r.idx as usize])
    }

    /// Adds to the current command an op on `key`, on the key's shard:
    /// `build` gets the batch's arguments and the key, pushed first.
    #[inline]
    pub fn key_op(&mut self, db: u8, key: &[u8], build: impl FnOnce(&mut Args, Arg) -> Op) {
        let shard = self.shard_of(key);
        self.push_op(shard, db, |a| {
            let k = a.push(key);
            build(a, k)
        });
    }

    /// Adds to the current command an op for one shard.
    pub fn shard_op(&mut self, shard: usize, db: u8, build: impl FnOnce(&mut Args) -> Op) {
        self.push_op(shard, db, build);
    }

    /// Adds to the current command the same op for every shard.
    pub fn each_shard_op(&mut self, db: u8, build: impl Fn(&mut Args) -> Op) {
        for shard in 0..self.round.batches.len() {
            self.push_op(shard, db, &build);
        }
    }

    /// A router wired to no shard thread, for harnesses that only dispatch
    /// and `discard` (the fuzz targets): an exchange would find no shard.
    pub fn detached(shards: usize) -> Self {
        let (to_shards, _): (Vec<_>, Vec<_>) = (0..shards.max(1))
            .map(|_| {
                let (tx, rx) = crossbeam_channel::unbounded::<Batch>();
                (ShardTx::new(tx, std::thread::current()), rx)
            })
            .unzip();
        let (_, replies) = crossbeam_channel::unbounded::<Batch>();
        Router::new(0, to_shards, replies, Arc::new(Mutex::new(())))
    }

    /// Forgets the round (its replies, ops and call counts) without sending
    /// anything: for harnesses that dispatch commands with no shard threads,
    /// such as the fuzz targets.
    pub fn discard(&mut self) {
        self.round.pending.clear();
        self.round.subs.clear();
        self.round.imm.clear();
        self.next_executed = false;
        self.deferred = false;
        self.ordered = false;
        self.held.iter_mut().for_each(|h| *h = false);
        self.holds_sent = false;
        self.round.calls.iter_mut().for_each(|n| *n = 0);
        for b in &mut self.round.batches {
            b.clear();
        }
    }

    /// Sends every batch of the round being built that has new ops (or a
    /// hold or release) to its shard, one send each. Multi-shard rounds and
    /// holds are sent under the order lock; the wait for replies never is.
    fn send(&mut self) {
        let takes_hold = self.round.batches.iter().any(|b| b.hold);
        self.holds_sent |= takes_hold;
        let guard = (self.ordered || takes_hold)
            .then(|| self.order.lock().unwrap_or_else(|p| p.into_inner()));
        for (shard, tx) in self.to_shards.iter().enumerate() {
            if self.round.batches[shard].must_send() {
                let batch = std::mem::take(&mut self.round.batches[shard]);
                if tx.send(batch).is_err() {
                    panic!("shard {shard} exited");
                }
                self.round.awaiting[shard] = true;
                self.round.outstanding += 1;
            }
        }
        drop(guard);
        self.ordered = false;
    }

    /// Sends every batch with new ops (or a hold or release) to its shard,
    /// one send each, and waits for all of them. Ops that ran in an earlier
    /// exchange of this round do not run again. Only with no round in
    /// flight (a section, or a harness): their replies share the queue.
    pub fn exchange(&mut self) {
        debug_assert!(self.inflight.is_empty(), "exchange with rounds in flight");
        self.send();
        while self.round.outstanding > 0 {
            let batch = self.next_reply();
            self.round.accept(batch);
        }
    }

    /// Sends the round being built without waiting for its replies and
    /// starts a new one: the worker serves other connections while the
    /// shards execute (and, under `appendfsync always`, fsync) this one.
    /// Shards answer a worker's batches in the order it sent them, so
    /// rounds complete in order. Not inside a section.
    pub fn submit(&mut self, start: Option<Instant>) {
        debug_assert!(!self.section && !self.holding(), "submit inside a section");
        self.send();
        self.round.start = start;
        let next = self
            .spare
            .pop()
            .unwrap_or_else(|| Round::new(self.worker, self.to_shards.len()));
        let sent = std::mem::replace(&mut self.round, next);
        self.inflight.push_back(sent);
    }

    /// Waits for replies by parking on `bell` (see `shards::shard::Bell`).
    pub fn set_bell(&mut self, bell: Arc<Bell>) {
        self.bell = Some(bell);
    }

    /// The next reply, waiting for it.
    fn next_reply(&self) -> Batch {
        let Some(bell) = &self.bell else {
            return self.replies.recv().expect("shard thread exited");
        };
        loop {
            match self.replies.try_recv() {
                Ok(b) => return b,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    panic!("shard threads exited")
                }
                Err(crossbeam_channel::TryRecvError::Empty) => {
                    bell.park_unless(|| !self.replies.is_empty());
                }
            }
        }
    }

    /// True while a submitted round is not delivered.
    pub fn in_flight(&self) -> bool {
        !self.inflight.is_empty()
    }

    /// Takes the replies that have arrived, without waiting; with `block`,
    /// waits until every round in flight is complete.
    pub fn collect(&mut self, block: bool) {
        loop {
            let batch = if block && self.inflight.iter().any(|r| r.outstanding > 0) {
                self.next_reply()
            } else {
                match self.replies.try_recv() {
                    Ok(b) => b,
                    Err(_) => return,
                }
            };
            // A shard's replies to this worker come in the order it sent
            // them: this one belongs to the oldest round still awaiting it.
            let shard = batch.shard;
            match self.inflight.iter_mut().find(|r| r.awaiting[shard]) {
                Some(r) => r.accept(batch),
                None => debug_assert!(false, "a reply from shard {shard} for no round"),
            }
        }
    }

    /// Records which connection has replies in the round being built.
    pub fn note_conn(&mut self, token: usize) {
        self.round.conns.push(token);
    }

    /// Number of replies recorded in the round being built.
    pub fn pending_len(&self) -> usize {
        self.round.pending.len()
    }

    /// Delivers the oldest round in flight if all its replies came back,
    /// appending its connections (`note_conn`) to `conns`; false if none is
    /// complete. Records its latency in `latencies` when given.
    pub fn deliver_next(
        &mut self,
        sink: &mut impl ReplySink,
        shared: &Shared,
        latencies: Option<&Mutex<crate::server::Latencies>>,
        conns: &mut Vec<usize>,
    ) -> bool {
        if !self.inflight.front().is_some_and(|r| r.outstanding == 0) {
            return false;
        }
        let Some(mut round) = self.inflight.pop_front() else {
            return false;
        };
        encode_round(
            &round,
            &mut self.rng,
            &mut self.lcs_table,
            self.worker,
            sink,
            shared,
        );
        if let (Some(t0), Some(lat)) = (round.start, latencies) {
            // Every command of the round waited from the poll round's start
            // until its reply was encoded: one record per command kind per
            // round keeps the cost off the per-request path.
            let micros = t0.elapsed().as_micros() as u64;
            let mut lat = lat.lock().unwrap_or_else(|p| p.into_inner());
            record_calls(&mut round.calls, &mut lat, micros);
        }
        conns.append(&mut round.conns);
        round.clear();
        self.spare.push(round);
        true
    }

    /// Encodes every pending reply of the round being built, in order,
    /// into its connection's output, then clears it (after `exchange`).
    pub fn deliver(&mut self, sink: &mut impl ReplySink, shared: &Shared) {
        encode_round(
            &self.round,
            &mut self.rng,
            &mut self.lcs_table,
            self.worker,
            sink,
            shared,
        );
        self.round.clear();
    }
}

/// Records `micros` for every call counted in `calls`, then resets the counts.
fn record_calls(calls: &mut [u64], latencies: &mut crate::server::Latencies, micros: u64) {
    for (h, n) in latencies.iter_mut().zip(calls.iter_mut()) {
        if *n > 0 {
            let _ = h.record_n(micros.max(1), *n);
            *n = 0;
        }
    }
}

/// Encodes every pending reply of `round`, in order, into its connection's output.
fn encode_round(
    round: &Round,
    rng: &mut u64,
    lcs_table: &mut Vec<u32>,
    worker: usize,
    sink: &mut impl ReplySink,
    shared: &Shared,
) {
    let stats = &shared.worker_stats[worker];
    let (mut commands, mut errors) = (0u64, 0u64);
    let flush = |commands: &mut u64, errors: &mut u64| {
        stats
            .commands
            .fetch_add(std::mem::take(commands), Ordering::Relaxed);
        stats
            .errors
            .fetch_add(std::mem::take(errors), Ordering::Relaxed);
    };
    for p in &round.pending {
        // Counted after its reply, as Redis counts a command once it ran:
        // an INFO sees every command before it, not itself.
        commands += p.executed as u64;
        let Some(out) = sink.out(p.conn) else {
            continue;
        };
        let reply_at = out.len();
        let resp3 = p.flags & reply_flags::RESP3 != 0;
        let subs = &round.subs[p.first as usize..(p.first + p.count) as usize];
        let batches = &round.batches;
        let reply_of = |&(s, i): &(u32, u32)| {
            (
                &batches[s as usize],
                &batches[s as usize].replies[i as usize],
            )
        };
        match p.merge {
            Merge::Immediate { start, len } => {
                out.extend_from_slice(&round.imm[start..start + len])
            }
            Merge::One => {
                let (b, r) = reply_of(&subs[0]);
                encode_reply(out, b, r, resp3);
            }
            Merge::Array => {
                encode::array(out, subs.len());
                for s in subs {
                    let (b, r) = reply_of(s);
                    encode_reply(out, b, r, resp3);
                }
            }
            Merge::Sum => {
                let mut sum = 0i64;
                for s in subs {
                    if let Reply::Int(n) = reply_of(s).1 {
                        sum += n;
                    }
                }
                match subs.iter().find_map(|s| error_of(reply_of(s).1)) {
                    Some(e) => encode::error(out, &e),
                    None => encode::int(out, sum),
                }
            }
            Merge::AllOk | Merge::Rewrite | Merge::Shutdown => {
                match subs.iter().find_map(|s| error_of(reply_of(s).1)) {
                    Some(e) if p.merge == Merge::Shutdown => {
                        tracing::error!("SHUTDOWN could not flush the AOF: {e}");
                        encode::error(out, "ERR Errors trying to SHUTDOWN. Check logs.");
                    }
                    Some(e) => encode::error(out, &e),
                    None if p.merge == Merge::Rewrite => {
                        encode::simple(out, "Background append only file rewriting started")
                    }
                    None if p.merge == Merge::Shutdown => {
                        tracing::info!("SHUTDOWN: AOF flushed; bye");
                        std::process::exit(0);
                    }
                    None => encode::ok(out),
                }
            }
            Merge::Keys => match subs.iter().find_map(|s| error_of(reply_of(s).1)) {
                Some(e) => encode::error(out, &e),
                None => {
                    // Each shard's tape is an array of keys: one array of all.
                    let lists = || subs.iter().map(|s| tape_of(reply_of(s)));
                    let total: usize = lists()
                        .map(|t| match TapeReader::new(t).next() {
                            Some(Item::Array(n)) => n as usize,
                            _ => 0,
                        })
                        .sum();
                    encode::array(out, total);
                    for t in lists() {
                        for item in TapeReader::new(t).skip(1) {
                            if let Item::Bulk(k) = item {
                                encode::bulk(out, k);
                            }
                        }
                    }
                }
            },
            Merge::Scan { shard } => {
                // One step ran on the cursor's shard and on every later
                // one: take the shards in order while they are exhausted,
                // up to and including the first that is not, whose
                // resume cursor becomes the cursor. The later shards' keys
                // are dropped; the walk reaches them again.
                if let Some(e) = subs.iter().find_map(|s| error_of(reply_of(s).1)) {
                    encode::error(out, &e);
                } else {
                    let shards = batches.len() as u64;
                    let mut cursor = 0;
                    let mut used = subs.len();
                    for (i, s) in subs.iter().enumerate() {
                        let next = match TapeReader::new(tape_of(reply_of(s))).next() {
                            Some(Item::Int(n)) => n,
                            _ => -1,
                        };
                        if next >= 0 {
                            cursor =
                                scan_cursor(shard as u64 + i as u64, shards, Some(next as u64));
                            used = i + 1;
                            break;
                        }
                    }
                    fn keys(t: &[u8]) -> impl Iterator<Item = &[u8]> {
                        TapeReader::new(t).filter_map(|i| match i {
                            Item::Bulk(k) => Some(k),
                            _ => None,
                        })
                    }
                    let tapes: Vec<&[u8]> =
                        subs[..used].iter().map(|s| tape_of(reply_of(s))).collect();
                    encode::array(out, 2);
                    encode::bulk(out, itoa::Buffer::new().format(cursor).as_bytes());
                    encode::array(out, tapes.iter().map(|t| keys(t).count()).sum());
                    for t in &tapes {
                        for k in keys(t) {
                            encode::bulk(out, k);
                        }
                    }
                }
            }
            Merge::RandomKey => match subs.iter().find_map(|s| error_of(reply_of(s).1)) {
                Some(e) => encode::error(out, &e),
                None => {
                    // Each shard answers [its key count, a key or nil].
                    let drawn = |s| {
                        let mut it = TapeReader::new(tape_of(reply_of(s))).skip(1);
                        let n = match it.next() {
                            Some(Item::Int(n)) => n.max(0) as u64,
                            _ => 0,
                        };
                        let key = match it.next() {
                            Some(Item::Bulk(k)) => Some(k),
                            _ => None,
                        };
                        (n, key)
                    };
                    let total: u64 = subs.iter().map(|s| drawn(s).0).sum();
                    let mut pick = if total == 0 {
                        0
                    } else {
                        next_random(rng) % total
                    };
                    let mut chosen = None;
                    for s in subs {
                        let (n, key) = drawn(s);
                        if pick < n {
                            chosen = key;
                            break;
                        }
                        pick -= n;
                    }
                    match chosen {
                        Some(key) => encode::bulk(out, key),
                        None => encode::nil(out),
                    }
                }
            },
            Merge::Lcs(opts) => {
                let value = |s| match reply_of(s) {
                    (b, Reply::Bulk(span)) => b.payload(*span),
                    _ => &[][..],
                };
                let (a, b) = (value(&subs[0]), value(&subs[1]));
                crate::cmd::lcs_reply(out, a, b, &opts, lcs_table, resp3);
            }
            Merge::Info(mask) => {
                commands -= p.executed as u64;
                flush(&mut commands, &mut errors);
                commands += p.executed as u64;
                let snaps: Vec<&ShardInfo> = subs
                    .iter()
                    .filter_map(|s| match reply_of(s).1 {
                        Reply::Info(i) => Some(&**i),
                        _ => None,
                    })
                    .collect();
                let text = info::render(mask, &snaps, shared);
                encode::verbatim(out, text.as_bytes(), resp3);
            }
        }
        errors += (out.get(reply_at) == Some(&b'-')) as u64;
        if p.flags & reply_flags::SILENT != 0 {
            out.truncate(reply_at);
        }
    }
    flush(&mut commands, &mut errors);
}

/// Encodes one shard reply, in RESP3 when `resp3`.
#[inline]
pub fn encode_reply(out: &mut Vec<u8>, batch: &Batch, reply: &Reply, resp3: bool) {
    match reply {
        Reply::Ok => encode::ok(out),
        Reply::Nil => encode::null(out, resp3),
        Reply::Int(n) => encode::int(out, *n),
        Reply::Bulk(s) => encode::bulk(out, batch.payload(*s)),
        Reply::Err(e) => encode::error(out, &crate::errors::text(e)),
        Reply::Status(s) => encode::simple(out, s),
        Reply::Tape(s) => encode::tape(out, batch.payload(*s), resp3),
        // INFO snapshots are merged by `Merge::Info`, never sent alone.
        Reply::Info(_) => encode::error(out, "ERR internal: unmerged INFO reply"),
    }
}

/// The bytes of a tape reply (empty for any other reply).
fn tape_of<'a>((batch, reply): (&'a Batch, &Reply)) -> &'a [u8] {
    match *reply {
        Reply::Tape(s) => batch.payload(s),
        _ => &[],
    }
}

/// The SCAN cursor after a step on `shard` of `shards` that stopped at
/// shard-local cursor `next` (None: the shard is exhausted).
///
/// A cursor is `place * shards + shard`: shards are walked in order, each
/// in its own order, and 0 (shard 0, place 0) both starts and ends the walk.
/// A step that is not the last always advances past place 0, so 0 never
/// appears mid-walk.
pub fn scan_cursor(shard: u64, shards: u64, next: Option<u64>) -> u64 {
    match next {
        None if shard + 1 < shards => shard + 1,
        None => 0,
        Some(next) => next.saturating_mul(shards).saturating_add(shard),
    }
}

/// A worker's RANDOMKEY seed: the clock and the worker index, so workers
/// and runs draw different sequences.
fn rng_seed(worker: usize) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ (worker as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1
}

/// xorshift64*.
fn next_random(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_cursor_visits_shards_in_order_and_ends_at_zero() {
        assert_eq!(scan_cursor(0, 4, None), 1);
        assert_eq!(scan_cursor(2, 4, None), 3);
        assert_eq!(scan_cursor(3, 4, None), 0);
        assert_eq!(scan_cursor(1, 4, Some(10)), 41);
        assert_eq!(scan_cursor(0, 1, None), 0);
        // The cursor decodes back to the same shard and place.
        let c = scan_cursor(3, 4, Some(12345));
        assert_eq!((c % 4, c / 4), (3, 12345));
    }
}
