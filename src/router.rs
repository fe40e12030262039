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
use crossbeam_channel::{Receiver, Sender};
use shards::batch::{keylist, SCAN_DONE};
use shards::{Batch, Op, OpCode, Reply, ShardInfo};
use std::sync::atomic::Ordering;

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
}

/// The text of an error reply.
fn error_of(r: &Reply) -> Option<&str> {
    match r {
        Reply::Err(e) => Some(e),
        Reply::ErrText(e) => Some(e),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    conn: usize,
    merge: Merge,
    first: u32,
    count: u32,
    /// A command that passed lookup and arity (INFO's total_commands_processed).
    executed: bool,
}

/// Where a connection's replies go; implemented by the worker's connection table.
pub trait ReplySink {
    /// The output buffer of connection `token`, if it is still open.
    fn out(&mut self, token: usize) -> Option<&mut Vec<u8>>;
}

/// A worker's per-round routing state. Buffers are reused across rounds.
pub struct Router {
    worker: usize,
    /// The next pending entry belongs to an executed command.
    next_executed: bool,
    route: shards::route::Router,
    batches: Vec<Batch>,
    pending: Vec<Pending>,
    subs: Vec<(u32, u32)>,
    imm: Vec<u8>,
    /// Calls of each command table row in this round, for latency tracking.
    calls: Vec<u64>,
    /// xorshift state for RANDOMKEY's pick of a shard.
    rng: u64,
}

impl Router {
    /// A router for worker `worker` over `shards` shards.
    pub fn new(worker: usize, shards: usize) -> Self {
        Router {
            worker,
            next_executed: false,
            route: shards::route::Router::new(shards),
            batches: (0..shards).map(|s| Batch::new(worker, s)).collect(),
            pending: Vec::new(),
            subs: Vec::new(),
            imm: Vec::new(),
            calls: vec![0; crate::command::COMMANDS.len()],
            rng: rng_seed(worker),
        }
    }

    /// Counts one call of command table row `id` in this round; its reply
    /// (the next pending entry) counts as an executed command.
    pub fn count_call(&mut self, id: usize) {
        self.calls[id] += 1;
        self.next_executed = true;
    }

    /// Records `micros` for every call counted this round, then resets the counts.
    pub fn record_latency(&mut self, latencies: &mut crate::server::Latencies, micros: u64) {
        for (h, n) in latencies.iter_mut().zip(self.calls.iter_mut()) {
            if *n > 0 {
                let _ = h.record_n(micros.max(1), *n);
                *n = 0;
            }
        }
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.batches.len()
    }

    /// The shard that owns `key`.
    pub fn shard_of(&self, key: &[u8]) -> usize {
        self.route.shard_of(key)
    }

    /// True when the round has replies to deliver.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Records a reply the worker produces itself; `write` encodes it.
    pub fn reply(&mut self, conn: usize, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.imm.len();
        write(&mut self.imm);
        let len = self.imm.len() - start;
        let executed = std::mem::take(&mut self.next_executed);
        self.pending.push(Pending {
            conn,
            merge: Merge::Immediate { start, len },
            first: 0,
            count: 0,
            executed,
        });
    }

    /// Starts a command whose reply merges sub-op replies; add them with
    /// `key_op` / `each_shard_op`.
    pub fn begin(&mut self, conn: usize, merge: Merge) {
        let executed = std::mem::take(&mut self.next_executed);
        self.pending.push(Pending {
            conn,
            merge,
            first: self.subs.len() as u32,
            count: 0,
            executed,
        });
    }

    fn push_op(&mut self, shard: usize, op: Op, args: &[&[u8]]) {
        let b = &mut self.batches[shard];
        let mut op = op;
        op.arg = b.ranges.len() as u32;
        op.nargs = args.len() as u32;
        for a in args {
            b.push_arg(a);
        }
        let idx = b.push_op(op);
        self.subs.push((shard as u32, idx));
        if let Some(p) = self.pending.last_mut() {
            p.count += 1;
        }
    }

    /// Adds an op on `args[0]` (the key) to the current command.
    pub fn key_op(&mut self, code: OpCode, db: u8, flags: u8, num: u64, args: &[&[u8]]) {
        let shard = self.shard_of(args[0]);
        let op = Op {
            code,
            db,
            flags,
            arg: 0,
            nargs: 0,
            num,
            aux: 0,
        };
        self.push_op(shard, op, args);
    }

    /// Adds `op` (its `arg`/`nargs` are filled in) on `args[0]`, the key.
    pub fn key_op_full(&mut self, op: Op, args: &[&[u8]]) {
        let shard = self.shard_of(args[0]);
        self.push_op(shard, op, args);
    }

    /// Adds an argument-less op for one shard.
    pub fn shard_op(&mut self, shard: usize, code: OpCode, flags: u8, num: u64, aux: u64) {
        let op = Op {
            code,
            db: 0,
            flags,
            arg: 0,
            nargs: 0,
            num,
            aux,
        };
        self.push_op(shard, op, &[]);
    }

    /// Adds the same op, without arguments, for every shard.
    pub fn each_shard_op(&mut self, code: OpCode, db: u8, flags: u8, num: u64, aux: u64) {
        for shard in 0..self.batches.len() {
            let op = Op {
                code,
                db,
                flags,
                arg: 0,
                nargs: 0,
                num,
                aux,
            };
            self.push_op(shard, op, &[]);
        }
    }

    /// Adds `op` (its `arg`/`nargs` are filled in) with `args` for one shard.
    pub fn shard_op_full(&mut self, shard: usize, op: Op, args: &[&[u8]]) {
        self.push_op(shard, op, args);
    }

    /// Adds `op` (its `arg`/`nargs` are filled in) with `args` for every shard.
    pub fn each_shard_op_full(&mut self, op: Op, args: &[&[u8]]) {
        for shard in 0..self.batches.len() {
            self.push_op(shard, op, args);
        }
    }

    /// Forgets the round (its replies, ops and call counts) without sending
    /// anything: for harnesses that dispatch commands with no shard threads,
    /// such as the fuzz targets.
    pub fn discard(&mut self) {
        self.pending.clear();
        self.subs.clear();
        self.imm.clear();
        self.next_executed = false;
        self.calls.iter_mut().for_each(|n| *n = 0);
        for b in &mut self.batches {
            b.clear();
        }
    }

    /// Sends every non-empty batch to its shard (one send each) and waits for all of them.
    pub fn exchange(&mut self, to_shards: &[Sender<Batch>], replies: &Receiver<Batch>) {
        let mut inflight = 0;
        for (shard, tx) in to_shards.iter().enumerate() {
            if !self.batches[shard].is_empty() {
                let batch = std::mem::take(&mut self.batches[shard]);
                tx.send(batch).expect("shard thread exited");
                inflight += 1;
            }
        }
        while inflight > 0 {
            let batch = replies.recv().expect("shard thread exited");
            let shard = batch.shard;
            self.batches[shard] = batch;
            inflight -= 1;
        }
    }

    /// Encodes every pending reply, in order, into its connection's output,
    /// then clears the round.
    pub fn deliver(&mut self, sink: &mut impl ReplySink, shared: &Shared) {
        let stats = &shared.worker_stats[self.worker];
        let (mut commands, mut errors) = (0u64, 0u64);
        let flush = |commands: &mut u64, errors: &mut u64| {
            stats
                .commands
                .fetch_add(std::mem::take(commands), Ordering::Relaxed);
            stats
                .errors
                .fetch_add(std::mem::take(errors), Ordering::Relaxed);
        };
        for p in &self.pending {
            // Counted after its reply, as Redis counts a command once it ran:
            // an INFO sees every command before it, not itself.
            commands += p.executed as u64;
            let Some(out) = sink.out(p.conn) else {
                continue;
            };
            let reply_at = out.len();
            let subs = &self.subs[p.first as usize..(p.first + p.count) as usize];
            let batches = &self.batches;
            let reply_of = |&(s, i): &(u32, u32)| {
                (
                    &batches[s as usize],
                    &batches[s as usize].replies[i as usize],
                )
            };
            match p.merge {
                Merge::Immediate { start, len } => {
                    out.extend_from_slice(&self.imm[start..start + len])
                }
                Merge::One => {
                    let (b, r) = reply_of(&subs[0]);
                    encode_reply(out, b, r);
                }
                Merge::Array => {
                    encode::array(out, subs.len());
                    for s in subs {
                        let (b, r) = reply_of(s);
                        encode_reply(out, b, r);
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
                        Some(e) => encode::error(out, e),
                        None => encode::int(out, sum),
                    }
                }
                Merge::AllOk | Merge::Rewrite | Merge::Shutdown => {
                    match subs.iter().find_map(|s| error_of(reply_of(s).1)) {
                        Some(e) if p.merge == Merge::Shutdown => {
                            tracing::error!("SHUTDOWN could not flush the AOF: {e}");
                            encode::error(out, "ERR Errors trying to SHUTDOWN. Check logs.");
                        }
                        Some(e) => encode::error(out, e),
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
                    Some(e) => encode::error(out, e),
                    None => {
                        let lists = || subs.iter().map(|s| key_list(reply_of(s)));
                        encode::array(out, lists().map(keylist::len).sum());
                        for list in lists() {
                            for key in keylist::iter(list) {
                                encode::bulk(out, key);
                            }
                        }
                    }
                },
                Merge::Scan { shard } => {
                    let (b, r) = reply_of(&subs[0]);
                    if let Some(e) = error_of(r) {
                        encode::error(out, e);
                    } else {
                        let list = key_list((b, r));
                        let cursor =
                            scan_cursor(shard as u64, batches.len() as u64, keylist::aux(list));
                        encode::array(out, 2);
                        encode::bulk(out, itoa::Buffer::new().format(cursor).as_bytes());
                        encode::array(out, keylist::len(list));
                        for key in keylist::iter(list) {
                            encode::bulk(out, key);
                        }
                    }
                }
                Merge::RandomKey => match subs.iter().find_map(|s| error_of(reply_of(s).1)) {
                    Some(e) => encode::error(out, e),
                    None => {
                        let total: u64 = subs
                            .iter()
                            .map(|s| keylist::aux(key_list(reply_of(s))))
                            .sum();
                        let mut pick = if total == 0 {
                            0
                        } else {
                            next_random(&mut self.rng) % total
                        };
                        let mut chosen = None;
                        for s in subs {
                            let list = key_list(reply_of(s));
                            let n = keylist::aux(list);
                            if pick < n {
                                chosen = keylist::iter(list).next();
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
                    encode::bulk(out, text.as_bytes());
                }
            }
            errors += (out.get(reply_at) == Some(&b'-')) as u64;
        }
        flush(&mut commands, &mut errors);
        self.pending.clear();
        self.subs.clear();
        self.imm.clear();
        for b in &mut self.batches {
            b.clear();
        }
    }
}

/// Encodes one shard reply as RESP2.
pub fn encode_reply(out: &mut Vec<u8>, batch: &Batch, reply: &Reply) {
    match reply {
        Reply::Ok => encode::ok(out),
        Reply::Nil => encode::nil(out),
        Reply::Int(n) => encode::int(out, *n),
        Reply::Bulk { start, len } => encode::bulk(out, batch.bulk(*start, *len)),
        Reply::Err(e) => encode::error(out, e),
        Reply::ErrText(e) => encode::error(out, e),
        Reply::Status(s) => encode::simple(out, s),
        // INFO snapshots are merged by `Merge::Info`, never sent alone.
        Reply::Info(_) => encode::error(out, "ERR internal: unmerged INFO reply"),
        Reply::Keys { start, len } => {
            let list = batch.bulk(*start, *len);
            encode::array(out, keylist::len(list));
            for key in keylist::iter(list) {
                encode::bulk(out, key);
            }
        }
    }
}

/// The payload of a `Reply::Keys` (empty for any other reply).
fn key_list<'a>((batch, reply): (&'a Batch, &Reply)) -> &'a [u8] {
    match *reply {
        Reply::Keys { start, len } => batch.bulk(start, len),
        _ => &[],
    }
}

/// The SCAN cursor after a step on `shard` of `shards` that stopped at slab
/// slot `next` (`SCAN_DONE`: the shard is exhausted).
///
/// A cursor is `slot * shards + shard`: shards are walked in order, each in
/// slab order, and 0 (shard 0, slot 0) both starts and ends the walk. A
/// step always advances at least one slot, so 0 never appears mid-walk.
pub fn scan_cursor(shard: u64, shards: u64, next: u64) -> u64 {
    if next == SCAN_DONE {
        if shard + 1 < shards {
            shard + 1
        } else {
            0
        }
    } else {
        next.saturating_mul(shards).saturating_add(shard)
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
        assert_eq!(scan_cursor(0, 4, SCAN_DONE), 1);
        assert_eq!(scan_cursor(2, 4, SCAN_DONE), 3);
        assert_eq!(scan_cursor(3, 4, SCAN_DONE), 0);
        assert_eq!(scan_cursor(1, 4, 10), 41);
        assert_eq!(scan_cursor(0, 1, SCAN_DONE), 0);
        // The cursor decodes back to the same shard and slot.
        let c = scan_cursor(3, 4, 12345);
        assert_eq!((c % 4, c / 4), (3, 12345));
    }
}
