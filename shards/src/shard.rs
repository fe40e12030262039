//! The shard thread: the only owner of one `Store` and its AOF segment.
//!
//! It sleeps on its queue, drains every batch that is waiting, executes them
//! in arrival order, writes the records of the whole group with one write
//! (and one fsync under `appendfsync always`), and only then sends each batch
//! back to its worker. Between drains it runs bounded active expiry, like
//! Redis's `serverCron` at 10 Hz, the `everysec` fsync, and AOF rewrite steps.

use crate::batch::{Batch, Reply};
use crate::clock;
use crate::error::Error;
use crate::keyspace::Store;
use crate::ops::{self, Persist};
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::collections::VecDeque;
use std::sync::atomic::{fence, AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How many times a second shards sample keys with a TTL and tick the AOF
/// (Redis's `hz`, 1 to 500, default 10). Process-wide, as Redis's is.
static HZ: AtomicU32 = AtomicU32::new(10);

/// Sets how many times a second every shard runs its cron (CONFIG SET hz).
pub fn set_hz(hz: u32) {
    HZ.store(hz.clamp(1, 500), Ordering::Relaxed);
}

/// The interval between two crons of a shard.
fn tick() -> Duration {
    Duration::from_micros(1_000_000 / HZ.load(Ordering::Relaxed).max(1) as u64)
}
/// How long a shard with a rewrite in progress waits for batches before its
/// next rewrite step (a batch that arrives wakes it at once).
const REWRITE_TICK: Duration = Duration::from_millis(1);
/// The most a single active-expiry cycle may take, so a batch never waits long behind it.
const EXPIRE_BUDGET: Duration = Duration::from_millis(1);
/// Records one defragmentation step may move (a few hundred microseconds).
const DEFRAG_STEP: usize = 2_000;

/// Wakes a worker parked while it waits for replies.
///
/// A worker that is awake is not rung: an unpark of a parked thread is a
/// futex syscall, and an awake worker looks at its reply queue on its own.
/// Parking here instead of in the queue's blocking receive also spares the
/// receive's spin-and-yield, which on a machine the clients share took CPU
/// from them on every round.
#[derive(Default)]
pub struct Bell {
    parked: AtomicBool,
    thread: OnceLock<std::thread::Thread>,
}

impl Bell {
    /// Parks the calling thread (the worker) unless `ready` says a reply
    /// has come: `ready` is checked after the bell is armed, so a reply
    /// sent at any moment either is seen or unparks.
    pub fn park_unless(&self, ready: impl Fn() -> bool) {
        let _ = self.thread.set(std::thread::current());
        self.parked.store(true, Ordering::SeqCst);
        // Pairs with the fence in `ring`: either the worker sees the reply
        // in its queue, or the shard sees it parked and unparks it.
        fence(Ordering::SeqCst);
        if !ready() {
            std::thread::park();
        }
        self.parked.store(false, Ordering::Relaxed);
    }

    /// Called by a shard after queueing replies.
    pub fn ring(&self) {
        fence(Ordering::SeqCst);
        if self.parked.swap(false, Ordering::SeqCst) {
            if let Some(t) = self.thread.get() {
                t.unpark();
            }
        }
    }
}

/// A worker's reply queue, and its bell.
#[derive(Clone)]
pub struct Outbox {
    /// The reply queue.
    pub tx: Sender<Batch>,
    /// Rung after replies are queued; `None` for a reader that blocks on the queue.
    pub bell: Option<Arc<Bell>>,
}

impl Outbox {
    /// A reply queue whose receiver blocks on it.
    pub fn new(tx: Sender<Batch>) -> Self {
        Outbox { tx, bell: None }
    }
}

/// The sending side of a shard's queue: a send also wakes the shard.
///
/// A shard sleeps with `thread::park_timeout` rather than in the channel's
/// blocking receive, whose spin-and-yield before parking cost several
/// `sched_yield` calls and context switches per round on a busy machine.
/// An unpark of a thread that is not parked is an atomic swap, no syscall.
#[derive(Clone, Debug)]
pub struct ShardTx {
    tx: Sender<Batch>,
    thread: std::thread::Thread,
}

impl ShardTx {
    /// `tx` feeds the shard loop running on `thread`.
    pub fn new(tx: Sender<Batch>, thread: std::thread::Thread) -> Self {
        ShardTx { tx, thread }
    }

    /// Queues `batch` and wakes the shard; `Err` if the shard is gone.
    pub fn send(&self, batch: Batch) -> Result<(), ShardGone> {
        self.tx.send(batch).map_err(|_| ShardGone)?;
        self.thread.unpark();
        Ok(())
    }
}

impl Drop for ShardTx {
    /// A shard parked on its tick notices its last sender gone (and exits)
    /// now, not a tick later: an engine stops as fast as it starts.
    fn drop(&mut self) {
        // The sender must be gone before the wake-up, or the shard finds
        // its queue merely empty and parks again.
        let (detached, _) = crossbeam_channel::bounded(0);
        drop(std::mem::replace(&mut self.tx, detached));
        self.thread.unpark();
    }
}

/// A send found the shard thread gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardGone;

impl std::fmt::Display for ShardGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("shard thread exited")
    }
}

/// Runs the shard loop until every sender of `rx` is gone. Senders wake it
/// with `unpark` (see `ShardTx`).
///
/// `replies[w]` is worker `w`'s reply queue; a batch goes back to
/// `replies[batch.worker]`.
///
/// A batch with `hold` set starts an atomic section for its worker: from
/// then on only that worker's batches run, the others wait in arrival
/// order, until one of its batches has `release`. Workers send the batches
/// that take holds while holding one server-wide lock, so every shard sees
/// the holds (and every other multi-shard batch) in the same order and two
/// sections can never wait on each other.
pub fn run(mut store: Store, mut persist: Persist, rx: Receiver<Batch>, replies: Vec<Outbox>) {
    let mut rung = vec![false; replies.len()];
    store.track_evictions(persist.log.enabled);
    // With an AOF, a group whose records cannot be written is rolled back.
    store.set_journaling(persist.log.enabled);
    let mut drained: Vec<Batch> = Vec::with_capacity(replies.len());
    // Per drained batch: it runs inside a section (see `take_runnable`).
    let mut sections: Vec<bool> = Vec::with_capacity(replies.len());
    // Batches that arrived while another worker held this shard.
    let mut waiting: VecDeque<Batch> = VecDeque::new();
    let mut held_by: Option<usize> = None;
    let mut last_tick = Instant::now();
    loop {
        let tick = tick();
        // A rewrite in progress advances between batches; do not sleep on it.
        let rewriting = persist.aof.as_ref().is_some_and(|a| a.rewriting());
        let runnable = held_by.is_none() && !waiting.is_empty();
        let wait = if runnable {
            Duration::ZERO
        } else if rewriting {
            REWRITE_TICK
        } else {
            tick
        };
        match rx.try_recv() {
            Ok(b) => waiting.push_back(b),
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) if !wait.is_zero() => {
                std::thread::park_timeout(wait);
            }
            Err(TryRecvError::Empty) => {}
        }
        waiting.extend(rx.try_iter());
        take_runnable(&mut waiting, &mut drained, &mut sections, &mut held_by);
        if !drained.is_empty() {
            let now = clock::unix_ms();
            if let Some(aof) = persist.aof.as_mut() {
                // A write attempt while the segment fails tries the disk
                // again first: a worker that refuses a write sends every
                // shard a `RetryAof`, so the next write finds the disk as
                // it is now (reads alone leave it to the tick).
                if aof.failing() && drained.iter().any(wants_retry) {
                    aof.retry(&mut persist.log);
                }
            }
            // Only this group's changes may be rolled back.
            store.forget();
            // Blocked clients are served after each command that made their
            // keys ready, but not inside a section or a transaction (served
            // after it ends, as Redis does after EXEC); their pops join this
            // commit.
            for (b, &in_section) in drained.iter_mut().zip(&sections) {
                ops::execute_serving(&mut store, b, now, &mut persist, !in_section);
            }
            sections.clear();
            if held_by.is_none() && store.has_ready() && persist.log.refuse_writes.is_none() {
                ops::block::serve_ready(&mut store, &mut persist, now);
            }
            let refused = persist.log.refuse_writes.is_some();
            commit(&mut persist, &mut store, &mut drained);
            if !refused && persist.log.refuse_writes.is_some() {
                store.retry_served();
            }
            for b in drained.drain(..) {
                let w = b.worker;
                // A worker that has gone away no longer needs its answer.
                let _ = replies[w].tx.send(b);
                rung[w] = true;
            }
            // Answers to blocked clients leave once their pops are written.
            store.post_served();
            // One ring per worker per drain, after all its replies are queued.
            for (w, r) in rung.iter_mut().enumerate() {
                if std::mem::take(r) {
                    if let Some(bell) = &replies[w].bell {
                        bell.ring();
                    }
                }
            }
        }
        // Expiry and rewrite steps change or walk the data: not inside a
        // section, which must see the shard exactly as it left it.
        if held_by.is_none() && (rewriting || last_tick.elapsed() >= tick) {
            if last_tick.elapsed() >= tick {
                store.active_expire(clock::unix_ms(), EXPIRE_BUDGET);
                // Between groups, nothing to roll back: free what it removed.
                store.forget();
                if store.wants_defrag() {
                    store.defrag_step(DEFRAG_STEP);
                }
                last_tick = Instant::now();
            }
            if let Some(aof) = persist.aof.as_mut() {
                aof.tick(&mut persist.log, &store);
            }
            crate::aof::switch::after_tick(persist.aof.as_mut());
        }
    }
}

/// True when `batch` has a write op, or a `RetryAof`, still to run.
fn wants_retry(batch: &Batch) -> bool {
    batch.ops[batch.replies.len()..]
        .iter()
        .any(|q| matches!(&q.op, crate::ops::Op::Srv(o) if o.is_retry()) || q.op.is_write())
}

/// Moves the batches that may run now from `waiting` to `drained`, in
/// arrival order: with no hold, everything up to and including the first
/// batch that takes one; under a hold, the holder's batches up to and
/// including its release (then, with the hold gone, the rest as above).
fn take_runnable(
    waiting: &mut VecDeque<Batch>,
    drained: &mut Vec<Batch>,
    sections: &mut Vec<bool>,
    held_by: &mut Option<usize>,
) {
    loop {
        match *held_by {
            None => {
                let Some(b) = waiting.pop_front() else {
                    return;
                };
                if b.hold {
                    *held_by = Some(b.worker);
                }
                let release = b.release;
                sections.push(b.hold);
                drained.push(b);
                if release {
                    *held_by = None;
                }
            }
            Some(w) => {
                let Some(pos) = waiting.iter().position(|b| b.worker == w) else {
                    return;
                };
                let b = waiting.remove(pos).expect("position is in range");
                let release = b.release;
                sections.push(true);
                drained.push(b);
                if release {
                    *held_by = None;
                }
            }
        }
    }
}

/// Group commit: one write (and fsync, per policy) for every batch drained.
///
/// If the records cannot be written, the group's changes are rolled back
/// (the segment was cut back to where it was, see `Aof::commit`) and its
/// writes are answered with MISCONF instead of OK: a refused write is not
/// applied, and nothing is acknowledged that is not in the file. Reads that
/// ran after the group's first change may have seen a write that no longer
/// exists: they are answered with the same error (`OpCode::reads_data`).
fn commit(persist: &mut Persist, store: &mut Store, drained: &mut [Batch]) {
    let Some(aof) = persist.aof.as_mut() else {
        return;
    };
    if !persist.log.has_pending() {
        store.forget();
        return;
    }
    match aof.commit(&mut persist.log) {
        Ok(()) => store.forget(),
        Err(why) => {
            store.rollback();
            let misconf = Error::Misconf(why.as_str().into());
            for b in drained.iter_mut() {
                let (from, dirty) = (b.ran_from, b.dirty_from);
                let ops = b.ops[from..].iter().zip(b.replies[from..].iter_mut());
                for (i, (q, reply)) in ops.enumerate() {
                    let affected = q.op.is_write() || (from + i >= dirty && q.op.reads_data());
                    if affected && !matches!(reply, Reply::Err(_)) {
                        *reply = Reply::Err(misconf.clone());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aof::{Aof, AofConfig, Fsync};
    use crate::keyspace::Expiry;
    use crate::ops::keys::KeyOp;
    use crate::ops::string::{SetCond, SetReply, StrOp};

    fn get(b: &mut Batch, key: &[u8]) {
        let key = b.args.push(key);
        b.push(0, StrOp::Get { key }.into());
    }

    fn set(b: &mut Batch, key: &[u8], value: &[u8]) {
        let key = b.args.push(key);
        let value = b.args.push(value);
        b.push(
            0,
            StrOp::Set {
                key,
                value,
                cond: SetCond::Always,
                expiry: Expiry::Clear,
                reply: SetReply::Ok,
            }
            .into(),
        );
    }

    /// A group whose records cannot be written (`/dev/full`) is rolled back:
    /// its writes, and the reads that ran after its first change, answer
    /// MISCONF; what ran before the change, and ops that do not read data,
    /// keep their replies.
    #[test]
    fn a_failed_commit_rolls_the_group_back() {
        let cfg = AofConfig {
            dir: std::env::temp_dir(),
            fsync: Fsync::Everysec,
            rewrite_percentage: 0,
            rewrite_min_size: 0,
            load_truncated: true,
            load_corrupt: false,
            load_missing: false,
        };
        let Ok(aof) = Aof::open("/dev/full".into(), &cfg) else {
            return;
        };
        let mut persist = Persist::on(aof);
        let mut store = Store::default();
        store.set_journaling(true);
        store.set(0, b"x", b"old", Expiry::Clear, 0).unwrap();
        store.forget();
        let mut first = Batch::new(0, 0);
        get(&mut first, b"x");
        set(&mut first, b"x", b"new");
        let mut second = Batch::new(1, 0);
        get(&mut second, b"x");
        let key = second.args.push(b"x");
        second.push(0, KeyOp::Watch { key, client: 7 }.into());
        let key = second.args.push(b"x");
        second.push(0, KeyOp::Del { key }.into());
        let mut group = [first, second];
        for b in group.iter_mut() {
            ops::execute(&mut store, b, 0, &mut persist);
        }
        commit(&mut persist, &mut store, &mut group);
        let misconf = |r: &Reply| matches!(r, Reply::Err(Error::Misconf(_)));
        let [first, second] = &group;
        assert!(matches!(first.replies[0], Reply::Bulk(_)));
        assert!(misconf(&first.replies[1]));
        assert!(misconf(&second.replies[0]), "it read the rolled-back write");
        assert_eq!(second.replies[1], Reply::Ok);
        assert!(misconf(&second.replies[2]));
        assert_eq!(store.peek(0, b"x", 0), Some(&b"old"[..]));
        assert!(persist.log.refuse_writes.is_some());
        // Writes are refused at the shard too from now on.
        let mut third = Batch::new(0, 0);
        set(&mut third, b"x", b"again");
        ops::execute(&mut store, &mut third, 0, &mut persist);
        assert!(misconf(&third.replies[0]));
        assert_eq!(store.peek(0, b"x", 0), Some(&b"old"[..]));
    }
}
