//! Keyspace iteration ops: KEYS, one SCAN step, RANDOMKEY. Each answers a
//! `keylist` in the batch's output; the worker merges the shards' lists.

use crate::batch::{keylist, Batch, Op, Reply, SCAN_DONE, SCAN_MATCH};
use crate::glob;
use crate::store::Store;

/// The fewest slab slots a SCAN step may look at, whatever COUNT says: a
/// database that is sparse in the slab (another one holds most keys) must
/// not take thousands of calls to walk. A slot costs a few nanoseconds, so
/// this keeps a step in the tens of microseconds.
const SCAN_MIN_SLOTS: usize = 8192;
/// Slots per unit of COUNT, as Redis visits at most COUNT * 10 buckets.
const SCAN_SLOTS_PER_COUNT: usize = 10;

fn list_reply(out: &[u8], start: usize) -> Reply {
    Reply::Keys {
        start,
        len: out.len() - start,
    }
}

/// KEYS pattern: every live key of the database that matches; `*` alone
/// skips the matcher, as Redis's `keysCommand` does (so an empty key is
/// listed by `*` and by nothing else). Expired keys are skipped, not removed.
pub fn keys(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64) -> Reply {
    let ps = op.arg as usize;
    let pattern = batch.args.get(ps);
    let all = pattern == b"*";
    let out = &mut batch.out;
    let start = keylist::begin(out, 0);
    store.for_each_key(op.db as usize, now_ms, |key| {
        if all || glob::matches(pattern, key, false) {
            keylist::push(out, start, key);
        }
    });
    list_reply(out, start)
}

/// One SCAN step: see `Store::scan`; `op.num` is the slot to start from,
/// `op.aux` the COUNT hint.
pub fn scan(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64) -> Reply {
    let pattern = if op.flags & SCAN_MATCH != 0 {
        let ps = op.arg as usize;
        Some(batch.args.get(ps))
    } else {
        None
    };
    let count = usize::try_from(op.aux).unwrap_or(usize::MAX).max(1);
    let max_slots = count
        .saturating_mul(SCAN_SLOTS_PER_COUNT)
        .max(SCAN_MIN_SLOTS);
    let from = usize::try_from(op.num).unwrap_or(usize::MAX);
    let out = &mut batch.out;
    let start = keylist::begin(out, SCAN_DONE);
    let next = store.scan(op.db as usize, from, count, max_slots, now_ms, |key| {
        if pattern.map_or(true, |p| glob::matches(p, key, false)) {
            keylist::push(out, start, key);
        }
    });
    if let Some(next) = next {
        keylist::set_aux(out, start, next as u64);
    }
    list_reply(out, start)
}

/// RANDOMKEY: one random live key of the database (none when it is empty),
/// with the database's key count for the worker to weigh this shard by.
pub fn random_key(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64) -> Reply {
    let db = op.db as usize;
    let out = &mut batch.out;
    let start = keylist::begin(out, 0);
    if let Some(key) = store.random_key(db, now_ms) {
        keylist::push(out, start, key);
    }
    keylist::set_aux(out, start, store.db_len(db) as u64);
    list_reply(out, start)
}
