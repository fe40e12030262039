//! The exchange between a worker and the shards: commands become per-shard
//! ops, rounds travel, replies merge back in request order.
//!
//! - `build`: a round is built as commands are routed (`begin`, `reply`,
//!   `key_op`, `each_shard_op`, ...).
//! - `transport`: rounds travel to the shards and back (`submit`,
//!   `collect`, `exchange`), the order lock, and sections (`hold`,
//!   `release`) for commands that need several dependent exchanges.
//! - `deliver`: the replies of a complete round are merged and encoded into
//!   their connections' output, in request order.
//!
//! Nothing here knows a command: merges that need command knowledge (INFO's
//! text, LCS) are completions the command supplies (`Merge::Call`), and
//! effects such as SHUTDOWN's exit are returned to the worker.
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

mod build;
mod deliver;
mod observe;
mod transport;

pub use deliver::{encode_reply, ReplyMark};

use crossbeam_channel::Receiver;
use shards::shard::{Bell, ShardTx};
use shards::{Batch, Reply};
use std::collections::VecDeque;
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
#[derive(Clone, Copy, Debug)]
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
    /// A completion the command supplies: it reads the sub-replies and
    /// writes the reply (INFO, LCS, SHUTDOWN).
    Call(Completion),
}

/// A command's own merge: `run` with the sub-replies and `arg`, a small
/// value the command packed (a section mask, options).
#[derive(Clone, Copy, Debug)]
pub struct Completion {
    /// Writes the reply.
    pub run: fn(&mut Finish),
    /// What the command passed along.
    pub arg: u64,
}

/// What a completion sees.
pub struct Finish<'a> {
    /// The sub-replies, in the order the command added its ops.
    pub subs: SubReplies<'a>,
    /// Where the reply goes.
    pub out: &'a mut Vec<u8>,
    /// Server-wide state.
    pub shared: &'a crate::shared::Shared,
    /// The connection speaks RESP3.
    pub resp3: bool,
    /// The command's `Completion::arg`.
    pub arg: u64,
    /// Scratch space kept by the worker across rounds (LCS's table).
    pub scratch: &'a mut Vec<u32>,
    /// What the worker must do once the round is written.
    pub effect: &'a mut Effect,
}

/// The sub-replies of one command.
#[derive(Clone, Copy)]
pub struct SubReplies<'a> {
    batches: &'a [Batch],
    subs: &'a [(u32, u32)],
}

impl<'a> SubReplies<'a> {
    /// Number of sub-replies.
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// Sub-reply `i` and the batch its payload lives in.
    pub fn get(&self, i: usize) -> (&'a Batch, &'a Reply) {
        let (s, r) = self.subs[i];
        let b = &self.batches[s as usize];
        (b, &b.replies[r as usize])
    }

    /// Every sub-reply, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a Batch, &'a Reply)> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// What a delivered round asks of its worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Effect {
    /// Nothing.
    #[default]
    None,
    /// Exit the process with this code once the replies are written
    /// (SHUTDOWN, after every shard flushed its AOF).
    Exit(i32),
}

/// The text of an error reply.
pub fn error_of(r: &Reply) -> Option<std::borrow::Cow<'static, str>> {
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
    /// The reply is an error already counted in errorstats: a script's
    /// error that came from a `redis.call` (Redis's
    /// `ignore_error_stats_update`); it still makes a failed call.
    pub const ERROR_COUNTED: u8 = 4;
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    conn: usize,
    merge: Merge,
    first: u32,
    count: u32,
    /// The first reply of a command that passed its checks and ran
    /// (INFO's total_commands_processed, a call in commandstats).
    executed: bool,
    /// `reply_flags` of the connection when the command ran.
    flags: u8,
    /// Id + 1 of the command whose reply this is (0: no known command), for
    /// commandstats' rejected and failed calls.
    cmd: u16,
    /// That command passed its checks: an error reply is a failed call,
    /// not a rejected one.
    ran: bool,
}

/// Where a connection's replies go; implemented by the worker's connection table.
pub trait ReplySink {
    /// The output buffer of connection `token`, if it is still open.
    fn out(&mut self, token: usize) -> Option<&mut Vec<u8>>;

    /// The registry row of connection `token` (the slow log names the
    /// client), if it is still open.
    fn client(&self, token: usize) -> Option<Arc<crate::clients::Client>> {
        let _ = token;
        None
    }
}

/// Switches a worker sets on its router from the server-wide settings,
/// reloaded only when `Shared::epoch` moves: what routing must do beyond
/// the commands themselves. All off costs a branch per command.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gates {
    /// Some connection is in MONITOR mode: every command that runs is
    /// formatted for it.
    pub monitoring: bool,
    /// The slow log's threshold in µs and its length, while it is on: the
    /// arguments of every command that runs are kept until its round's
    /// duration is known.
    pub slowlog: Option<(u64, u64)>,
    /// A CLIENT PAUSE in force: the commands it holds back wait.
    pub pause: Option<crate::observe::PauseKind>,
}

/// What a routed command asks of its connection's worker besides replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnEvent {
    /// The connection entered MONITOR mode.
    Monitor,
    /// It left MONITOR mode (RESET).
    Unmonitor,
}

/// The arguments of the commands of a round, kept for the slow log until
/// the round's duration is known (only while the slow log is on).
#[derive(Debug, Default)]
struct Capture {
    /// Argument bytes, each cut to what an entry keeps.
    bytes: Vec<u8>,
    /// Per kept argument: start in `bytes`, kept length, full length.
    parts: Vec<(u32, u32, u32)>,
    /// One per command.
    cmds: Vec<Captured>,
}

#[derive(Debug, Clone, Copy)]
struct Captured {
    /// Index of the command's first pending reply in its round.
    pending: u32,
    /// Its connection.
    conn: usize,
    /// Its arguments in `parts`.
    first: u32,
    kept: u32,
    /// How many arguments it had.
    argc: u32,
}

impl Capture {
    fn clear(&mut self) {
        self.bytes.clear();
        self.parts.clear();
        self.cmds.clear();
        if self.bytes.capacity() > shards::batch::KEEP_CAPACITY {
            self.bytes = Vec::new();
        }
    }
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
    /// The time the batches sent now run at (see `Batch::now_ms`; 0: the
    /// shards read the clock).
    frozen_ms: u64,
    /// The current section's id (0 before its first hold), which its
    /// records carry in every shard's AOF.
    section_id: u64,
    /// A handler asked to run its command again once the round is delivered.
    deferred: bool,
    /// Set while a deferred command runs: handlers may hold and exchange.
    section: bool,
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
    /// Size of the per-command call counts.
    commands: usize,
    /// xorshift state for RANDOMKEY's pick of a shard.
    rng: u64,
    /// Completions' scratch space (LCS's table), reused while small.
    scratch: Vec<u32>,
    /// The big arguments of the command being routed: an op argument that
    /// is one of them joins its batch shared, not copied.
    bigs: Vec<shards::batch::BigArg>,
    /// The command being routed: id + 1 (0: none) and whether it passed
    /// its checks. Every reply it records carries them.
    cur_cmd: u16,
    cur_ran: bool,
    /// Ops routed now come from a CLIENT NO-TOUCH connection.
    no_touch: bool,
    /// Ops routed now come from a client with CLIENT TRACKING on.
    tracker: Option<shards::tracking::Tracker>,
    /// Ops routed now belong to an EXEC (see `shards::batch::Queued::txn`).
    txn: bool,
    /// Ops routed now may write past `maxmemory` (see
    /// `shards::batch::Queued::allow_oom`).
    allow_oom: bool,
    /// The last dispatched command waits for a CLIENT PAUSE to end.
    postponed: bool,
    /// Arguments the running command asked to hide from MONITOR and the
    /// slow log (AUTH's and HELLO's passwords).
    redacted: Vec<u32>,
    /// Connections that entered or left MONITOR mode this round.
    conn_events: Vec<(usize, ConnEvent)>,
    /// What routing does beyond the commands (see `Gates`).
    pub gates: Gates,
    /// Error codes counted while a round is encoded (reused).
    errs: Vec<(Vec<u8>, u64)>,
    /// MONITOR lines of the rounds delivered, for the worker to hand out.
    feed_out: Vec<u8>,
    /// Messages PUBLISH queued this poll round, for the worker to hand out.
    pub pubsub: crate::pubsub::Outbox,
}

/// One round: its batches, and the replies to encode once they come back.
struct Round {
    batches: Vec<Batch>,
    pending: Vec<Pending>,
    subs: Vec<(u32, u32)>,
    imm: Vec<u8>,
    /// Calls of each command table row in this round, counted as their
    /// replies are encoded (commandstats, latency tracking).
    calls: Vec<u64>,
    /// The rows of `calls` that are not zero.
    used: Vec<u16>,
    /// The commands' arguments for the slow log, while it is on.
    slow: Capture,
    /// MONITOR lines of this round's commands, in the order they ran.
    feed: Vec<u8>,
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
    fn new(worker: usize, shards: usize, commands: usize) -> Self {
        Round {
            batches: (0..shards).map(|s| Batch::new(worker, s)).collect(),
            pending: Vec::new(),
            subs: Vec::new(),
            imm: Vec::new(),
            calls: vec![0; commands],
            used: Vec::new(),
            slow: Capture::default(),
            feed: Vec::new(),
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
        self.slow.clear();
        self.feed.clear();
        if self.feed.capacity() > shards::batch::KEEP_CAPACITY {
            self.feed = Vec::new();
        }
        for b in &mut self.batches {
            b.clear();
        }
    }

    /// Gives back its buffers (it is cleared and idle).
    fn shrink(&mut self) {
        self.clear();
        self.pending = Vec::new();
        self.subs = Vec::new();
        self.imm = Vec::new();
        self.feed = Vec::new();
        self.conns = Vec::new();
        self.slow = Capture::default();
        self.batches.iter_mut().for_each(Batch::shrink);
    }

    /// Bytes its buffers hold.
    fn capacity(&self) -> usize {
        self.batches.iter().map(Batch::capacity).sum::<usize>()
            + self.imm.capacity()
            + self.pending.capacity() * std::mem::size_of::<Pending>()
            + self.subs.capacity() * std::mem::size_of::<(u32, u32)>()
            + self.slow.bytes.capacity()
            + self.feed.capacity()
    }
}

impl Router {
    /// A router for worker `worker`: `to_shards[s]` is shard `s`'s queue,
    /// `replies` this worker's reply queue, `order` the server-wide lock
    /// that orders multi-shard rounds; calls are counted per command id
    /// below `commands`.
    pub fn new(
        worker: usize,
        to_shards: Vec<ShardTx>,
        replies: Receiver<Batch>,
        order: Arc<Mutex<()>>,
        commands: usize,
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
            frozen_ms: 0,
            section_id: 0,
            deferred: false,
            section: false,
            next_executed: false,
            conn_flags: 0,
            route: shards::route::Router::new(shards),
            round: Round::new(worker, shards, commands),
            commands,
            inflight: VecDeque::new(),
            spare: Vec::new(),
            rng: rng_seed(worker),
            scratch: Vec::new(),
            bigs: Vec::new(),
            cur_cmd: 0,
            cur_ran: false,
            no_touch: false,
            tracker: None,
            allow_oom: false,
            txn: false,
            postponed: false,
            redacted: Vec::new(),
            conn_events: Vec::new(),
            gates: Gates::default(),
            errs: Vec::new(),
            feed_out: Vec::new(),
            pubsub: crate::pubsub::Outbox::new(0),
        }
    }

    /// Sets the `reply_flags` of the replies recorded from now on (the
    /// connection whose command is being routed).
    pub fn set_conn_flags(&mut self, flags: u8) {
        self.conn_flags = flags;
    }

    /// The `reply_flags` of the replies recorded now (a script restores
    /// its caller's after running commands as its own client).
    pub fn conn_flags(&self) -> u8 {
        self.conn_flags
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

    /// Bytes the rounds at this worker hold in their buffers (batches at a
    /// shard are counted once they are back).
    pub fn buffer_bytes(&self) -> usize {
        self.round.capacity()
            + self.inflight.iter().map(Round::capacity).sum::<usize>()
            + self.spare.iter().map(Round::capacity).sum::<usize>()
    }

    /// Gives back the rounds' buffers when nothing is in flight or being
    /// built and they hold more than `keep` bytes; returns the bytes freed.
    /// Called once a second: a load that grew them (a pipelined bulk load
    /// rounds megabytes at a time) must not leave them resident for good,
    /// and regrowing them once a second costs nothing a request would see.
    pub fn shrink_idle(&mut self, keep: usize) -> usize {
        if self.in_flight()
            || self.has_pending()
            || self.in_section()
            || self
                .round
                .batches
                .iter()
                .any(|b| !b.is_empty() || b.must_send())
        {
            return 0;
        }
        let held = self.buffer_bytes();
        if held <= keep {
            return 0;
        }
        self.spare.clear();
        self.round.shrink();
        held.saturating_sub(self.buffer_bytes())
    }

    /// A router wired to no shard thread, for harnesses that only dispatch
    /// and `discard` (the fuzz targets): an exchange would find no shard.
    pub fn detached(shards: usize, commands: usize) -> Self {
        let (to_shards, _): (Vec<_>, Vec<_>) = (0..shards.max(1))
            .map(|_| {
                let (tx, rx) = crossbeam_channel::unbounded::<Batch>();
                (ShardTx::new(tx, std::thread::current()), rx)
            })
            .unzip();
        let (_, replies) = crossbeam_channel::unbounded::<Batch>();
        Router::new(0, to_shards, replies, Arc::new(Mutex::new(())), commands)
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
        self.section_id = 0;
        self.round.calls.iter_mut().for_each(|n| *n = 0);
        self.round.used.clear();
        self.round.slow.clear();
        self.round.feed.clear();
        self.conn_events.clear();
        self.postponed = false;
        for b in &mut self.round.batches {
            b.clear();
        }
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
