//! Delivery: a complete round's replies merged and encoded, in request
//! order, into their connections' output.

use super::{
    error_of, next_random, reply_flags, scan_cursor, Effect, Finish, Merge, ReplySink, Round,
    Router, SubReplies,
};
use crate::resp::encode;
use crate::shared::Latencies;
use crate::shared::Shared;
use shards::tape::{Item, TapeReader};
use shards::{Batch, Reply};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

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
            &round,
            &mut self.rng,
            &mut self.scratch,
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
        Some(effect)
    }

    /// Encodes every pending reply of the round being built, in order,
    /// into its connection's output, then clears it (after `exchange`).
    pub fn deliver(&mut self, sink: &mut impl ReplySink, shared: &Shared) -> Effect {
        let effect = encode_round(
            &self.round,
            &mut self.rng,
            &mut self.scratch,
            self.worker,
            sink,
            shared,
        );
        self.round.clear();
        effect
    }
}

/// Records `micros` for every call counted in `calls`, then resets the counts.
fn record_calls(calls: &mut [u64], latencies: &mut Latencies, micros: u64) {
    for (h, n) in latencies.iter_mut().zip(calls.iter_mut()) {
        if *n > 0 {
            let _ = h.record_n(micros.max(1), *n);
            *n = 0;
        }
    }
}

/// Encodes every pending reply of `round`, in order, into its connection's
/// output; returns what a completion asked of the worker.
fn encode_round(
    round: &Round,
    rng: &mut u64,
    scratch: &mut Vec<u32>,
    worker: usize,
    sink: &mut impl ReplySink,
    shared: &Shared,
) -> Effect {
    let mut effect = Effect::None;
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
            Merge::Call(c) => {
                // A completion may report the counters (INFO): everything
                // before this command is counted first.
                commands -= p.executed as u64;
                flush(&mut commands, &mut errors);
                commands += p.executed as u64;
                let mut finish = Finish {
                    subs: SubReplies { batches, subs },
                    out,
                    shared,
                    resp3,
                    arg: c.arg,
                    scratch: &mut *scratch,
                    effect: &mut effect,
                };
                (c.run)(&mut finish);
            }
        }
        errors += (out.get(reply_at) == Some(&b'-')) as u64;
        if p.flags & reply_flags::SILENT != 0 {
            out.truncate(reply_at);
        }
    }
    flush(&mut commands, &mut errors);
    effect
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
