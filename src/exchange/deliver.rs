//! Delivery: a complete round's replies merged and encoded, in request
//! order, into their connections' output; and the round's accounting
//! (commandstats, errorstats, latency histograms, the slow log).
//!
//! What a command's duration is: in shardcache a command does not run
//! alone, as in Redis's `call()`. A worker reads and routes every command
//! of a poll round, the round's batches go to the shards, and the replies
//! are encoded when the batches are back. The duration of a command is the
//! time from the start of the poll round that routed it until its reply was
//! encoded: what its client waited on the server, wherever the time went
//! (routing, the shard queues, execution, fsync under `appendfsync
//! always`). Every command of a round shares it, so a slow round logs all
//! its commands in the slow log, and commandstats' `usec` sums it per call.
//! It is measured once per accounting point (the round's end, or a command
//! that reports the counters, such as INFO), never per command.

use super::{
    error_of, next_random, observe, reply_flags, scan_cursor, Effect, Finish, Merge, ReplySink,
    Round, Router, SubReplies,
};
use crate::resp::encode;
use crate::shared::{Latencies, Shared, WorkerStats};
use shards::tape::{Item, TapeReader};
use shards::{Batch, Reply};
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Instant;

impl Router {
    /// Delivers the oldest round in flight if all its replies came back,
    /// appending its connections (`note_conn`) to `conns`; None if none is
    /// complete, else what the round asks of the worker. Records its
    /// latency in `latencies` when given.
    pub fn deliver_next(
        &mut self,
        sink: &mut impl ReplySink,
        shared: &Shared,
        latencies: Option<&Mutex<Latencies>>,
        conns: &mut Vec<usize>,
    ) -> Option<Effect> {
        if !self.inflight.front().is_some_and(|r| r.outstanding == 0) {
            return None;
        }
        let mut round = self.inflight.pop_front()?;
        let effect = encode_round(
            &mut round,
            &mut Scratch {
                rng: &mut self.rng,
                lcs: &mut self.scratch,
                errs: &mut self.errs,
                slowlog: self.gates.slowlog,
            },
            self.worker,
            sink,
            shared,
            latencies,
        );
        self.feed_out.append(&mut round.feed);
        conns.append(&mut round.conns);
        round.clear();
        self.spare.push(round);
        Some(effect)
    }

    /// Encodes every pending reply of the round being built, in order,
    /// into its connection's output, then clears it (after `exchange`).
    /// Its duration counts from `set_start`, when given.
    pub fn deliver(&mut self, sink: &mut impl ReplySink, shared: &Shared) -> Effect {
        self.deliver_tracked(sink, shared, None)
    }

    /// `deliver`, recording latency into `latencies` when given.
    pub fn deliver_tracked(
        &mut self,
        sink: &mut impl ReplySink,
        shared: &Shared,
        latencies: Option<&Mutex<Latencies>>,
    ) -> Effect {
        let effect = encode_round(
            &mut self.round,
            &mut Scratch {
                rng: &mut self.rng,
                lcs: &mut self.scratch,
                errs: &mut self.errs,
                slowlog: self.gates.slowlog,
            },
            self.worker,
            sink,
            shared,
            latencies,
        );
        self.feed_out.append(&mut self.round.feed);
        self.round.clear();
        effect
    }

    /// Where the round being built stands: take the replies recorded after
    /// it with `take_replies`.
    pub fn reply_mark(&self) -> ReplyMark {
        ReplyMark {
            pending: self.round.pending.len(),
            subs: self.round.subs.len(),
            imm: self.round.imm.len(),
        }
    }

    /// Encodes the replies recorded since `mark` into `out` instead of
    /// their connections (after `exchange`) and forgets them: a script's
    /// `redis.call` reads the reply of the command it ran. They are counted
    /// as any others (calls, failed and rejected calls, error replies, as
    /// Redis counts the commands of its Lua client); what a completion asks
    /// of the worker is dropped (no command a script may call asks anything).
    pub fn take_replies(&mut self, mark: ReplyMark, shared: &Shared, out: &mut Vec<u8>) {
        let mut effect = Effect::None;
        let stats = &shared.worker_stats[self.worker];
        for i in mark.pending..self.round.pending.len() {
            let p = self.round.pending[i];
            let reply_at = out.len();
            encode_pending(
                &self.round,
                &p,
                out,
                &mut Scratch {
                    rng: &mut self.rng,
                    lcs: &mut self.scratch,
                    errs: &mut self.errs,
                    slowlog: None,
                },
                shared,
                &mut effect,
            );
            let mut counted = p.executed;
            if out.get(reply_at) == Some(&b'-') {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                counted &= count_error(&out[reply_at..], p.cmd, p.ran, stats, &mut self.errs);
                flush_error_codes(stats, &mut self.errs);
            }
            if counted {
                stats.commands.fetch_add(1, Ordering::Relaxed);
                count_executed(&mut self.round, p.cmd);
            }
        }
        self.round.pending.truncate(mark.pending);
        self.round.subs.truncate(mark.subs);
        self.round.imm.truncate(mark.imm);
    }

    /// Counts an error a script's `redis.call` met before its command ran
    /// (`-CODE message`: unknown command, arity, not allowed from scripts,
    /// a write in a read-only script), as Redis's `scriptCall` does: an
    /// error reply, and a rejected call of command `cmd` (id + 1; 0 when
    /// there is no such command).
    pub fn count_refused(&mut self, shared: &Shared, cmd: u16, error: &[u8]) {
        let stats = &shared.worker_stats[self.worker];
        stats.errors.fetch_add(1, Ordering::Relaxed);
        count_error(error, cmd, false, stats, &mut self.errs);
        flush_error_codes(stats, &mut self.errs);
    }

    /// When the round being built started (a deferred command's section
    /// round, which is delivered by `deliver`, not submitted).
    pub fn set_start(&mut self, start: Option<Instant>) {
        self.round.start = start;
    }
}

/// A point in the round being built (see `Router::reply_mark`).
#[derive(Clone, Copy, Debug)]
pub struct ReplyMark {
    pending: usize,
    subs: usize,
    imm: usize,
}

/// The worker's reusable state a delivery needs.
struct Scratch<'a> {
    rng: &'a mut u64,
    lcs: &'a mut Vec<u32>,
    errs: &'a mut Vec<(Vec<u8>, u64)>,
    /// The slow log's threshold (µs) and length while it is on.
    slowlog: Option<(u64, u64)>,
}

/// The code of an error reply (`-CODE message`), as Redis's
/// `afterErrorReply` takes it: the bytes before the first space within
/// the first 32, else `ERR`.
fn error_code(reply: &[u8]) -> &[u8] {
    let head = &reply[..reply.len().min(32)];
    match memchr::memchr(b' ', head) {
        Some(sp) if sp > 1 => &reply[1..sp],
        _ => b"ERR",
    }
}

/// Refusals Redis makes before a command runs that shardcache's shards
/// make while it runs: counted as rejected calls, as Redis counts them.
fn refused_before_running(code: &[u8]) -> bool {
    code == b"OOM" || code == b"MISCONF"
}

/// Counts an error reply of pending `p`'s command; returns whether the
/// command is to be counted as a call (it is not when it was rejected).
fn count_error(
    reply: &[u8],
    cmd: u16,
    ran: bool,
    stats: &WorkerStats,
    errs: &mut Vec<(Vec<u8>, u64)>,
) -> bool {
    let code = error_code(reply);
    match errs.iter_mut().find(|(c, _)| c.as_slice() == code) {
        Some((_, n)) => *n += 1,
        None => errs.push((code.to_vec(), 1)),
    }
    count_failed(code, cmd, ran, stats)
}

/// Counts an error reply (code `code`) of command `cmd` (id + 1) as a
/// rejected or failed call; returns whether it is to be counted as a call.
fn count_failed(code: &[u8], cmd: u16, ran: bool, stats: &WorkerStats) -> bool {
    let Some(c) = (cmd as usize)
        .checked_sub(1)
        .and_then(|i| stats.cmds.get(i))
    else {
        return true;
    };
    if !ran || refused_before_running(code) {
        c.rejected.fetch_add(1, Ordering::Relaxed);
        !ran
    } else {
        c.failed.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// Adds the error codes counted in `errs` to errorstats.
fn flush_error_codes(stats: &WorkerStats, errs: &mut Vec<(Vec<u8>, u64)>) {
    let mut codes = stats.error_codes.lock().unwrap_or_else(|p| p.into_inner());
    for (code, n) in errs.drain(..) {
        *codes.entry(code).or_default() += n;
    }
}

/// Adds the calls counted in `round` so far to the worker's counters, each
/// with `micros` (and to the latency histograms when given), and logs the
/// slow commands among them; then the counts start again.
fn settle(
    round: &mut Round,
    upto: usize,
    stats: &WorkerStats,
    latencies: Option<&Mutex<Latencies>>,
    slowlog: Option<(u64, u64)>,
    sink: &impl ReplySink,
    shared: &Shared,
) {
    let micros = round.start.map(|t| t.elapsed().as_micros() as u64);
    if !round.used.is_empty() {
        let mut lat = match (latencies, micros) {
            (Some(l), Some(_)) => Some(l.lock().unwrap_or_else(|p| p.into_inner())),
            _ => None,
        };
        for &id in &round.used {
            let id = id as usize;
            let n = std::mem::take(&mut round.calls[id]);
            let c = &stats.cmds[id];
            c.calls.fetch_add(n, Ordering::Relaxed);
            if let Some(us) = micros {
                c.usec.fetch_add(us * n, Ordering::Relaxed);
                if let Some(h) = lat.as_mut().and_then(|l| l.get_mut(id)) {
                    let _ = h.record_n(us.max(1), n);
                }
            }
        }
        round.used.clear();
    }
    if let Some((threshold, max)) = slowlog.filter(|_| !round.slow.cmds.is_empty()) {
        let entries = observe::slow_entries(round, upto, micros.unwrap_or(0), threshold, |t| {
            sink.client(t)
                .map(|c| (c.addr.clone(), c.names().name.clone()))
        });
        if !entries.is_empty() {
            let mut log = shared.slowlog.lock().unwrap_or_else(|p| p.into_inner());
            for e in entries {
                log.push(e, max);
            }
        }
    }
}

/// Encodes every pending reply of `round`, in order, into its connection's
/// output, and accounts for it; returns what a completion asked of the worker.
fn encode_round(
    round: &mut Round,
    scratch: &mut Scratch,
    worker: usize,
    sink: &mut impl ReplySink,
    shared: &Shared,
    latencies: Option<&Mutex<Latencies>>,
) -> Effect {
    let mut effect = Effect::None;
    let stats = &shared.worker_stats[worker];
    let (mut commands, mut errors) = (0u64, 0u64);
    let flush = |commands: &mut u64, errors: &mut u64, errs: &mut Vec<(Vec<u8>, u64)>| {
        stats
            .commands
            .fetch_add(std::mem::take(commands), Ordering::Relaxed);
        stats
            .errors
            .fetch_add(std::mem::take(errors), Ordering::Relaxed);
        if !errs.is_empty() {
            flush_error_codes(stats, errs);
        }
    };
    for i in 0..round.pending.len() {
        let p = round.pending[i];
        if let Merge::Call(_) = p.merge {
            // A completion may report the counters (INFO, SLOWLOG): every
            // command before this one is counted first.
            flush(&mut commands, &mut errors, scratch.errs);
            settle(round, i, stats, latencies, scratch.slowlog, &*sink, shared);
        }
        let Some(out) = sink.out(p.conn) else {
            // Counted after its reply, as Redis counts a command once it
            // ran: an INFO sees every command before it, not itself.
            if p.executed {
                commands += 1;
                count_executed(round, p.cmd);
            }
            continue;
        };
        let reply_at = out.len();
        encode_pending(round, &p, out, scratch, shared, &mut effect);
        let mut counted = p.executed;
        if out.get(reply_at) == Some(&b'-') {
            if p.flags & reply_flags::ERROR_COUNTED != 0 {
                // A script's error that its `redis.call` counted already.
                counted &= count_failed(error_code(&out[reply_at..]), p.cmd, p.ran, stats);
            } else {
                errors += 1;
                counted &= count_error(&out[reply_at..], p.cmd, p.ran, stats, scratch.errs);
            }
        }
        if counted {
            commands += 1;
            count_executed(round, p.cmd);
        }
        if p.flags & reply_flags::SILENT != 0 {
            out.truncate(reply_at);
        }
    }
    flush(&mut commands, &mut errors, scratch.errs);
    let n = round.pending.len();
    settle(round, n, stats, latencies, scratch.slowlog, &*sink, shared);
    effect
}

/// Counts a call of command `cmd` (id + 1) in the round.
#[inline]
fn count_executed(round: &mut Round, cmd: u16) {
    let Some(id) = (cmd as usize).checked_sub(1) else {
        return;
    };
    if let Some(n) = round.calls.get_mut(id) {
        if *n == 0 {
            round.used.push(id as u16);
        }
        *n += 1;
    }
}

/// Encodes the reply of one pending entry into `out`.
fn encode_pending(
    round: &Round,
    p: &super::Pending,
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
    shared: &Shared,
    effect: &mut Effect,
) {
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
        Merge::Immediate { start, len } => out.extend_from_slice(&round.imm[start..start + len]),
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
        Merge::AllOk => match subs.iter().find_map(|s| error_of(reply_of(s).1)) {
            Some(e) => encode::error(out, &e),
            None => encode::ok(out),
        },
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
                        cursor = scan_cursor(shard as u64 + i as u64, shards, Some(next as u64));
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
                let tapes: Vec<&[u8]> = subs[..used].iter().map(|s| tape_of(reply_of(s))).collect();
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
                    next_random(scratch.rng) % total
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
        Merge::Call(c) => {
            let mut finish = Finish {
                subs: SubReplies { batches, subs },
                out,
                shared,
                resp3,
                arg: c.arg,
                scratch: &mut *scratch.lcs,
                effect,
            };
            (c.run)(&mut finish);
        }
    }
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
        // INFO snapshots are read by INFO's completion, never sent alone.
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
