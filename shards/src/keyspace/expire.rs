//! TTLs: a record with a TTL carries its deadline and its slot in the
//! store's table of volatile records, which active expiry samples.

use super::{record, Store, NUM_DBS, TTL};
use std::time::{Duration, Instant};

/// Redis's active-expire constants: keys sampled per round, and the share of
/// expired keys in a sample above which another round runs.
const EXPIRE_SAMPLE: usize = 20;
const EXPIRE_REPEAT_ABOVE: usize = EXPIRE_SAMPLE / 4;

impl Store {
    #[inline]
    pub(super) fn is_expired(&self, pos: u32, now_ms: u64) -> bool {
        let c = self.arena.chunk(pos);
        record::meta(c) & TTL != 0 && record::expire_at(c) <= now_ms
    }

    /// Takes the record at `pos` out of the TTL table (its TTL fields stay
    /// until the record is rewritten or freed).
    pub(super) fn unlink_volatile(&mut self, pos: u32) {
        let c = self.arena.chunk(pos);
        let vp = record::vpos(c) as usize;
        let db = record::db_of(record::meta(c));
        self.volatile.swap_remove(vp);
        if let Some(&moved) = self.volatile.get(vp) {
            record::set_vpos(self.arena.chunk_mut(moved), vp as u32);
        }
        self.db_volatile[db] -= 1;
    }

    /// Removes the expired record at `pos`, counting it and reporting
    /// Redis's `expired` event.
    pub(super) fn expire_now(&mut self, pos: u32) {
        self.notify_at(pos, crate::notify::EXPIRED, "expired");
        self.remove_at(pos);
        self.stats.expired += 1;
    }

    pub(super) fn random_volatile(&mut self) -> u32 {
        let n = self.volatile.len() as u64;
        let r = self.random();
        self.volatile[(r % n) as usize]
    }

    /// Redis's `activeExpireCycle`, simplified: sample TTL keys, delete the
    /// expired ones, and go on while more than a quarter of a sample had
    /// expired and the time budget lasts. Returns how many keys it removed.
    pub fn active_expire(&mut self, now_ms: u64, budget: Duration) -> usize {
        if self.no_active_expire {
            return 0;
        }
        let start = Instant::now();
        let mut removed = 0;
        loop {
            if self.volatile.is_empty() {
                return removed;
            }
            let mut expired_here = 0;
            let mut ttl_sum = [0u64; NUM_DBS];
            let mut ttl_n = [0u64; NUM_DBS];
            for _ in 0..EXPIRE_SAMPLE.min(self.volatile.len()) {
                let pos = self.random_volatile();
                let (at, db) = {
                    let c = self.arena.chunk(pos);
                    (record::expire_at(c), record::db_of(record::meta(c)))
                };
                if at <= now_ms {
                    self.expire_now(pos);
                    expired_here += 1;
                    if self.volatile.is_empty() {
                        break;
                    }
                } else {
                    ttl_sum[db] += at - now_ms;
                    ttl_n[db] += 1;
                }
            }
            for db in 0..NUM_DBS {
                if let Some(sample) = ttl_sum[db].checked_div(ttl_n[db]) {
                    // Same smoothing as Redis: mostly the old estimate, a
                    // little of this sample's mean.
                    self.avg_ttl[db] = if self.avg_ttl[db] == 0 {
                        sample
                    } else {
                        (self.avg_ttl[db] / 50) * 49 + sample / 50
                    };
                }
            }
            removed += expired_here;
            if expired_here <= EXPIRE_REPEAT_ABOVE || start.elapsed() >= budget {
                return removed;
            }
        }
    }
}
