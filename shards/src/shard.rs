//! The shard thread: the owner of one `Store` and its AOF segment.
//!
//! It sleeps on its queue, drains every batch that is waiting, executes them
//! in arrival order, writes the records of the whole group with one write
//! (and one fsync under `appendfsync always`), and only then sends each batch
//! back to its worker. Between drains it runs bounded active expiry, like
//! Redis's `serverCron` at 10 Hz, the `everysec` fsync, and AOF rewrite steps.
//!
//! A worker may run a small batch itself when the shard is idle
//! (`ShardTx::run_here`): the state sits behind a mutex that the shard
//! thread holds while it works and the worker only tries. Nothing else
//! changes: one group at a time, the same commit, the same order rules. It
//! spares a lone request the two thread wake-ups of the hop, which on the
//! 2-core VM cost two to four times the request itself.

use crate::batch::{Batch, Reply};
use crate::clock;
use crate::error::Error;
use crate::keyspace::Store;
use crate::ops::{self, Persist};
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::collections::VecDeque;
use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
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
/// The most ops a batch may have for a worker to run it itself
/// (`ShardTx::run_here`) when several workers share the shards: a big batch
/// run by one worker would keep the others' batches waiting on the lock
/// instead of the shard thread taking them in turn. Measured with
/// redis-benchmark on 2 cores: at `-P 1` (batches of 1 to about 25 ops)
/// running them in the worker cut the CPU per request by a sixth to a half.
/// With a single worker there is no limit: at `-P 16 -c 50` (hundreds of
/// ops a batch) the hop to the shard thread cost more than the worker and
/// the shard gained working side by side (SET, GET and INCR 1.1 to 1.3x
/// the rate and a fifth less CPU per request run in the worker, ZPOPMIN
/// 1.8x; `perf` showed a tenth of the time in the shard's futex wake-ups).
const RUN_HERE_MAX_OPS: usize = 32;
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
#[derive(Clone)]
pub struct ShardTx {
    tx: Sender<Batch>,
    thread: std::thread::Thread,
    /// The shard's state, for `run_here`; None for a shard run by `run`.
    core: Option<Arc<Mutex<Core>>>,
    /// Batches that take a hold, sent and not yet taken (`Core::holds_queued`).
    holds_queued: Arc<AtomicUsize>,
    /// The most ops of a batch `run_here` takes (see `RUN_HERE_MAX_OPS`).
    max_ops: usize,
}

impl std::fmt::Debug for ShardTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardTx")
            .field("thread", &self.thread)
            .finish()
    }
}

impl ShardTx {
    /// `tx` feeds the shard loop running on `thread`.
    pub fn new(tx: Sender<Batch>, thread: std::thread::Thread) -> Self {
        ShardTx {
            tx,
            thread,
            core: None,
            holds_queued: Arc::default(),
            max_ops: 0,
        }
    }

    /// `tx` feeds `run_shared` over `core` on `thread`, for `workers`
    /// workers.
    pub fn with_core(
        tx: Sender<Batch>,
        thread: std::thread::Thread,
        core: Arc<Mutex<Core>>,
        workers: usize,
    ) -> Self {
        let holds_queued = core
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .holds_queued
            .clone();
        ShardTx {
            tx,
            thread,
            core: Some(core),
            holds_queued,
            max_ops: if workers == 1 {
                usize::MAX
            } else {
                RUN_HERE_MAX_OPS
            },
        }
    }

    /// Runs `batch` on the calling thread when the shard is idle: not
    /// running a group, not held by a section, nothing queued. The shard
    /// thread and the caller take turns on the shard's state, so nothing
    /// runs twice at once and the data stays the shard's alone; what the
    /// caller saves is the two thread wake-ups of the hop (the shard's and
    /// its own), which cost more than the request itself.
    ///
    /// Not under `appendfsync always`: the shard thread's fsync lets the
    /// worker serve other connections meanwhile (group commit). Not for a
    /// batch of more than `RUN_HERE_MAX_OPS` when several workers share the
    /// shard: the shard thread then takes their big batches in turn. A
    /// batch that takes a hold runs here only with nothing
    /// queued before it, and only from a caller holding the order lock.
    /// Inside the caller's own section none of these apply: the worker
    /// waits for each exchange anyway and the shard serves no one else.
    /// True when `batch` ran (its replies are in it); false leaves it
    /// untouched.
    pub fn run_here(&self, batch: &mut Batch) -> bool {
        let Some(core) = &self.core else {
            return false;
        };
        let Ok(mut guard) = core.try_lock() else {
            return false;
        };
        let core = &mut *guard;
        // Under the lock the shard thread moves nothing out of the queue,
        // so what is queued now is all that was sent before.
        let queued = !self.tx.is_empty() || !core.waiting.is_empty();
        match core.held_by {
            // The caller's own section: the shard serves nobody else until
            // the release, so every exchange of the section (a script's
            // calls, EXEC's commands) runs here, release included.
            Some(w) if w == batch.worker => {}
            Some(_) => return false,
            // A hold taken here on an idle shard is the hold the queue
            // would have delivered first: the caller sends holds under the
            // order lock, so no other hold can be on its way meanwhile.
            None if batch.hold => {
                if queued {
                    return false;
                }
                core.held_by = Some(batch.worker);
            }
            None => {
                if batch.release || batch.ops.len() > self.max_ops || queued || core.fsync_always()
                {
                    return false;
                }
            }
        }
        // Blocked clients are not served inside a section (see `run_drained`).
        let in_section = core.held_by.is_some();
        let release = batch.release;
        if release {
            // As `take_runnable` does: the group that releases runs with
            // the hold already gone.
            core.held_by = None;
        }
        // Run in place: a batch is a few hundred bytes, moved in and out of
        // the group it was a measurable part of a script's `redis.call`.
        core.run_group(std::slice::from_mut(batch), &[in_section]);
        if release {
            let others = !core.waiting.is_empty();
            drop(guard);
            if others {
                // What queued behind the section runs now.
                self.thread.unpark();
            }
        }
        true
    }

    /// True when a section of a worker other than `worker` holds the shard
    /// (waiting for the shard then could wait for a section that waits for
    /// the caller).
    pub fn held_by_other(&self, worker: usize) -> bool {
        let Some(core) = &self.core else {
            return false;
        };
        let core = core.lock().unwrap_or_else(|p| p.into_inner());
        core.held_by.is_some_and(|w| w != worker)
    }

    /// How many batches that take a hold are queued and not yet taken.
    /// Holds are sent under the workers' order lock: read under it, the
    /// count cannot grow meanwhile.
    pub fn holds_queued(&self) -> usize {
        self.holds_queued.load(Ordering::Acquire)
    }

    /// Queues `batch` and wakes the shard; `Err` if the shard is gone.
    pub fn send(&self, batch: Batch) -> Result<(), ShardGone> {
        if batch.hold {
            self.holds_queued.fetch_add(1, Ordering::AcqRel);
        }
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

/// A shard's state: its store and AOF, the batches waiting behind a
/// section, and who holds it. The shard thread owns it; a worker may run an
/// idle shard's batch itself (`ShardTx::run_here`).
pub struct Core {
    store: Store,
    persist: Persist,
    /// Batches that arrived while another worker held this shard.
    waiting: VecDeque<Batch>,
    held_by: Option<usize>,
    /// Batches that take a hold, sent (`ShardTx::send`) and not yet taken.
    holds_queued: Arc<AtomicUsize>,
    /// The group being run (reused).
    drained: Vec<Batch>,
    /// Per batch of `drained`: it runs inside a section (see `take_runnable`).
    sections: Vec<bool>,
    last_tick: Instant,
}

impl Core {
    /// A shard's state over `store` and `persist`.
    pub fn new(mut store: Store, persist: Persist) -> Self {
        store.track_evictions(persist.log.enabled);
        // With an AOF, a group whose records cannot be written is rolled back.
        store.set_journaling(persist.log.enabled);
        Core {
            store,
            persist,
            waiting: VecDeque::new(),
            held_by: None,
            holds_queued: Arc::default(),
            drained: Vec::new(),
            sections: Vec::new(),
            last_tick: Instant::now(),
        }
    }

    fn fsync_always(&self) -> bool {
        self.persist.aof.as_ref().is_some_and(|a| a.fsync_always())
    }

    /// Runs the group in `drained`: every batch in order, then the group's
    /// records in one write (see `commit`).
    fn run_drained(&mut self) {
        let mut drained = std::mem::take(&mut self.drained);
        let mut sections = std::mem::take(&mut self.sections);
        self.run_group(&mut drained, &sections);
        sections.clear();
        self.drained = drained;
        self.sections = sections;
    }

    /// Runs `drained` as one group (`sections[i]`: batch `i` runs inside
    /// a section).
    fn run_group(&mut self, drained: &mut [Batch], sections: &[bool]) {
        let (store, persist) = (&mut self.store, &mut self.persist);
        // A group of holds and releases alone (a script's) runs nothing at
        // any time: no clock read for it.
        let idle = drained.iter().all(|b| b.ops.len() == b.replies.len()) && !store.has_ready();
        let now = match drained {
            [b] if b.now_ms != 0 => b.now_ms,
            _ if idle => 0,
            _ => clock::unix_ms(),
        };
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
        for (b, &in_section) in drained.iter_mut().zip(sections.iter()) {
            if b.hold {
                persist.log.mark_hold(b.section);
            }
            ops::execute_serving(store, b, now, persist, !in_section);
            if b.release {
                persist.log.mark_release();
            }
        }
        if self.held_by.is_none() && store.has_ready() && persist.log.refuse_writes.is_none() {
            ops::block::serve_ready(store, persist, now);
        }
        let refused = persist.log.refuse_writes.is_some();
        if commit(persist, store, drained, self.held_by.is_some()) {
            store.publish_events();
        } else {
            store.drop_events();
        }
        if !refused && persist.log.refuse_writes.is_some() {
            store.retry_served();
        }
        // Answers to blocked clients leave once their pops are written.
        store.post_served();
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
pub fn run(store: Store, persist: Persist, rx: Receiver<Batch>, replies: Vec<Outbox>) {
    run_shared(&Mutex::new(Core::new(store, persist)), rx, replies)
}

/// `run` over a state workers may also run batches on (`ShardTx::run_here`).
pub fn run_shared(core: &Mutex<Core>, rx: Receiver<Batch>, replies: Vec<Outbox>) {
    let mut rung = vec![false; replies.len()];
    let lock = || core.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let tick = tick();
        let (runnable, rewriting) = {
            let c = lock();
            (
                c.held_by.is_none() && !c.waiting.is_empty(),
                // A rewrite in progress advances between batches; do not
                // sleep on it.
                c.persist.aof.as_ref().is_some_and(|a| a.rewriting()),
            )
        };
        let wait = if runnable {
            Duration::ZERO
        } else if rewriting {
            REWRITE_TICK
        } else {
            tick
        };
        if rx.is_empty() && !wait.is_zero() {
            // A send after the look unparks: the park returns at once.
            std::thread::park_timeout(wait);
        }
        let mut guard = lock();
        let c = &mut *guard;
        // Batches leave the queue only under the lock: a worker that holds
        // it (`ShardTx::run_here`) sees every batch either queued or
        // waiting, never in between. (Taken out before the lock, a hold
        // sent earlier under the order lock was invisible for a moment, a
        // later section took the shard in the worker ahead of it, and two
        // sections waited on each other: 1 run in about 30 of the
        // cross-shard SMOVE test under load.)
        match rx.try_recv() {
            Ok(b) => c.waiting.push_back(b),
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) => {}
        }
        c.waiting.extend(rx.try_iter());
        take_runnable(
            &mut c.waiting,
            &mut c.drained,
            &mut c.sections,
            &mut c.held_by,
            &c.holds_queued,
        );
        if !c.drained.is_empty() {
            c.run_drained();
            for b in c.drained.drain(..) {
                let w = b.worker;
                // A worker that has gone away no longer needs its answer.
                let _ = replies[w].tx.send(b);
                rung[w] = true;
            }
        }
        // Expiry and rewrite steps change or walk the data: not inside a
        // section, which must see the shard exactly as it left it.
        if c.held_by.is_none() && (rewriting || c.last_tick.elapsed() >= tick) {
            if c.last_tick.elapsed() >= tick {
                c.store.active_expire(clock::unix_ms(), EXPIRE_BUDGET);
                // Between groups, nothing to roll back: free what it removed.
                c.store.forget();
                c.store.publish_events();
                if c.store.wants_defrag() {
                    c.store.defrag_step(DEFRAG_STEP);
                }
                c.last_tick = Instant::now();
            }
            if let Some(aof) = c.persist.aof.as_mut() {
                aof.tick(&mut c.persist.log, &c.store);
            }
            crate::aof::switch::after_tick(c.persist.aof.as_mut());
        }
        drop(guard);
        // One ring per worker per drain, after all its replies are queued.
        for (w, r) in rung.iter_mut().enumerate() {
            if std::mem::take(r) {
                if let Some(bell) = &replies[w].bell {
                    bell.ring();
                }
            }
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
    holds_queued: &AtomicUsize,
) {
    loop {
        match *held_by {
            None => {
                let Some(b) = waiting.pop_front() else {
                    return;
                };
                if b.hold {
                    *held_by = Some(b.worker);
                    // Checked: a hold queued through a sender without this
                    // core's count (`ShardTx::new`) was never counted.
                    let _ = holds_queued
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
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
///
/// `held`: a section still holds the shard; its records so far and those
/// of its later groups are one transaction in the segment (`Log::seal`).
/// False when the group was rolled back.
fn commit(persist: &mut Persist, store: &mut Store, drained: &mut [Batch], held: bool) -> bool {
    let Some(aof) = persist.aof.as_mut() else {
        return true;
    };
    persist.log.seal(held);
    if !persist.log.has_pending() {
        store.forget();
        return true;
    }
    match aof.commit(&mut persist.log) {
        Ok(()) => {
            store.forget();
            true
        }
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
            false
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

    /// A worker runs a small batch on an idle shard itself, and leaves the
    /// batch to the shard thread when the shard is held by another worker's
    /// section, when the batch is big, or when it takes a hold; what either
    /// path writes the other reads.
    #[test]
    fn run_here_only_on_an_idle_shard() {
        let core = Arc::new(Mutex::new(Core::new(Store::default(), Persist::off())));
        let (tx, rx) = crossbeam_channel::unbounded::<Batch>();
        let (reply_tx, reply_rx) = crossbeam_channel::unbounded::<Batch>();
        let replies = vec![Outbox::new(reply_tx.clone()), Outbox::new(reply_tx)];
        let shared = core.clone();
        let thread = std::thread::spawn(move || run_shared(&shared, rx, replies));
        let shard = ShardTx::with_core(tx, thread.thread().clone(), core.clone(), 2);
        let mut b = Batch::new(0, 0);
        set(&mut b, b"k", b"here");
        assert!(shard.run_here(&mut b));
        assert_eq!(b.replies.len(), 1);
        // Worker 1 holds the shard (taken here: nothing is queued before
        // it): worker 0 may not run anything there.
        let mut hold = Batch::new(1, 0);
        hold.hold = true;
        get(&mut hold, b"k");
        assert!(shard.run_here(&mut hold), "a hold on an idle shard");
        assert!(
            matches!(hold.replies[0], Reply::Bulk(_)),
            "it read the earlier write"
        );
        let mut other = Batch::new(0, 0);
        get(&mut other, b"k");
        assert!(!shard.run_here(&mut other), "held by worker 1");
        // The holder's own exchanges, release included, run here.
        let mut step = Batch::new(1, 0);
        set(&mut step, b"k", b"section");
        assert!(shard.run_here(&mut step), "the holder's step");
        let mut release = Batch::new(1, 0);
        release.release = true;
        assert!(shard.run_here(&mut release), "the holder's release");
        assert!(shard.run_here(&mut other), "released");
        assert!(matches!(other.replies[0], Reply::Bulk(_)));
        // Worker 0's batch queued behind a hold runs once the hold ends,
        // released by the holder from its own thread.
        let mut hold = Batch::new(1, 0);
        hold.hold = true;
        shard.send(hold).unwrap();
        reply_rx.recv().unwrap();
        let mut late = Batch::new(2, 0);
        late.hold = true;
        assert!(!shard.run_here(&mut late), "held by worker 1");
        let mut queued = Batch::new(0, 0);
        get(&mut queued, b"k");
        shard.send(queued).unwrap();
        let mut release = Batch::new(1, 0);
        release.release = true;
        assert!(shard.run_here(&mut release));
        let woken = reply_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(woken.worker, 0, "the waiting batch ran after the release");
        let mut big = Batch::new(0, 0);
        for _ in 0..=RUN_HERE_MAX_OPS {
            get(&mut big, b"k");
        }
        assert!(!shard.run_here(&mut big));
        drop(shard);
        thread.join().unwrap();
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
        commit(&mut persist, &mut store, &mut group, false);
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
