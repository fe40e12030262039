//! The shard thread: the only owner of one `Store` and its AOF segment.
//!
//! It sleeps on its queue, drains every batch that is waiting, executes them
//! in arrival order, writes the records of the whole group with one write
//! (and one fsync under `appendfsync always`), and only then sends each batch
//! back to its worker. Between drains it runs bounded active expiry, like
//! Redis's `serverCron` at 10 Hz, the `everysec` fsync, and AOF rewrite steps.

use crate::batch::{errors, Batch, Reply};
use crate::clock;
use crate::exec::{self, Persist};
use crate::store::Store;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// How often idle shards sample keys with a TTL and tick the AOF.
const TICK: Duration = Duration::from_millis(100);
/// The most a single active-expiry cycle may take, so a batch never waits long behind it.
const EXPIRE_BUDGET: Duration = Duration::from_millis(1);

/// Runs the shard loop until every sender of `rx` is gone.
///
/// `replies[w]` is worker `w`'s reply queue; a batch goes back to
/// `replies[batch.worker]`.
pub fn run(
    mut store: Store,
    mut persist: Persist,
    rx: Receiver<Batch>,
    replies: Vec<Sender<Batch>>,
) {
    store.track_evictions(persist.log.enabled);
    let mut drained: Vec<Batch> = Vec::with_capacity(replies.len());
    let mut last_tick = Instant::now();
    loop {
        // A rewrite in progress advances between batches; do not sleep on it.
        let rewriting = persist.aof.as_ref().is_some_and(|a| a.rewriting());
        let wait = if rewriting { Duration::ZERO } else { TICK };
        match rx.recv_timeout(wait) {
            Ok(b) => drained.push(b),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        drained.extend(rx.try_iter());
        if !drained.is_empty() {
            let now = clock::unix_ms();
            for b in drained.iter_mut() {
                exec::execute(&mut store, b, now, &mut persist);
            }
            commit(&mut persist, &mut drained);
            for b in drained.drain(..) {
                let w = b.worker;
                // A worker that has gone away no longer needs its answer.
                let _ = replies[w].send(b);
            }
        }
        if rewriting || last_tick.elapsed() >= TICK {
            if last_tick.elapsed() >= TICK {
                store.active_expire(clock::unix_ms(), EXPIRE_BUDGET);
                last_tick = Instant::now();
            }
            if let Some(aof) = persist.aof.as_mut() {
                aof.tick(&mut persist.log, &store);
            }
        }
    }
}

/// Group commit: one write (and fsync, per policy) for every batch drained.
/// If the records cannot be written, the writes of these batches are
/// answered with MISCONF instead of OK: nothing is acknowledged that is not
/// in the file. The records stay queued and are retried.
fn commit(persist: &mut Persist, drained: &mut [Batch]) {
    let Some(aof) = persist.aof.as_mut() else {
        return;
    };
    if !persist.log.has_pending() {
        return;
    }
    if let Err(why) = aof.commit(&mut persist.log) {
        for b in drained.iter_mut() {
            for (op, reply) in b.ops.iter().zip(b.replies.iter_mut()) {
                if op.code.is_write() && !matches!(reply, Reply::Err(_) | Reply::ErrText(_)) {
                    *reply = Reply::ErrText(format!("{}{why}", errors::MISCONF_AOF).into());
                }
            }
        }
    }
}
