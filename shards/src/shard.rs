//! The shard thread: the only owner of one `Store`.
//!
//! It sleeps on its queue, drains every batch that is waiting, executes them
//! in arrival order, and sends each back to the worker it came from. Between
//! drains it runs bounded active expiry, like Redis's `serverCron` at 10 Hz.

use crate::batch::Batch;
use crate::clock;
use crate::exec;
use crate::store::Store;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// How often idle shards sample keys with a TTL.
const EXPIRE_PERIOD: Duration = Duration::from_millis(100);
/// The most a single active-expiry cycle may take, so a batch never waits long behind it.
const EXPIRE_BUDGET: Duration = Duration::from_millis(1);

/// Runs the shard loop until every sender of `rx` is gone.
///
/// `replies[w]` is worker `w`'s reply queue; a batch goes back to
/// `replies[batch.worker]`.
pub fn run(mut store: Store, rx: Receiver<Batch>, replies: Vec<Sender<Batch>>) {
    let mut drained: Vec<Batch> = Vec::with_capacity(replies.len());
    let mut last_expire = Instant::now();
    loop {
        let first = match rx.recv_timeout(EXPIRE_PERIOD) {
            Ok(b) => b,
            Err(RecvTimeoutError::Timeout) => {
                store.active_expire(clock::unix_ms(), EXPIRE_BUDGET);
                last_expire = Instant::now();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        drained.push(first);
        drained.extend(rx.try_iter());
        let now = clock::unix_ms();
        for b in drained.iter_mut() {
            exec::execute(&mut store, b, now);
        }
        for b in drained.drain(..) {
            let w = b.worker;
            // A worker that has gone away no longer needs its answer.
            let _ = replies[w].send(b);
        }
        if last_expire.elapsed() >= EXPIRE_PERIOD {
            store.active_expire(now, EXPIRE_BUDGET);
            last_expire = Instant::now();
        }
    }
}
