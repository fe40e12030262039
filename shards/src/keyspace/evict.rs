//! Limits and eviction: `maxmemory` in bytes, `max-keys` in keys, and
//! Redis's policies for picking a victim.

use super::{record, Store, NUM_DBS, TTL};
use crate::arena::NIL;

/// What to do when a write would pass `maxmemory` or `max-keys`; Redis's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvictionPolicy {
    /// Refuse writes with `-OOM`.
    NoEviction,
    /// Evict the least recently used key of all keys.
    AllKeysLru,
    /// Evict the least recently used key among those with a TTL.
    VolatileLru,
    /// Evict a random key.
    AllKeysRandom,
    /// Evict a random key among those with a TTL.
    VolatileRandom,
    /// Evict the key with the nearest expiry.
    VolatileTtl,
    /// Evict the least frequently used key of all keys (sampled).
    AllKeysLfu,
    /// Evict the least frequently used key among those with a TTL (sampled).
    VolatileLfu,
}

impl EvictionPolicy {
    /// Every policy, in the order of Redis's CONFIG SET error message.
    pub const ALL: [EvictionPolicy; 8] = [
        EvictionPolicy::VolatileLru,
        EvictionPolicy::VolatileLfu,
        EvictionPolicy::VolatileRandom,
        EvictionPolicy::VolatileTtl,
        EvictionPolicy::AllKeysLru,
        EvictionPolicy::AllKeysLfu,
        EvictionPolicy::AllKeysRandom,
        EvictionPolicy::NoEviction,
    ];

    /// The policy's name as `CONFIG GET maxmemory-policy` prints it.
    pub fn name(self) -> &'static str {
        match self {
            EvictionPolicy::NoEviction => "noeviction",
            EvictionPolicy::AllKeysLru => "allkeys-lru",
            EvictionPolicy::VolatileLru => "volatile-lru",
            EvictionPolicy::AllKeysRandom => "allkeys-random",
            EvictionPolicy::VolatileRandom => "volatile-random",
            EvictionPolicy::VolatileTtl => "volatile-ttl",
            EvictionPolicy::AllKeysLfu => "allkeys-lfu",
            EvictionPolicy::VolatileLfu => "volatile-lfu",
        }
    }

    /// Whether records keep an access counter rather than a clock
    /// (Redis's `MAXMEMORY_FLAG_LFU`).
    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu
        )
    }

    /// Whether small integers must not be shared objects because every
    /// key needs its own access data (`MAXMEMORY_FLAG_NO_SHARED_INTEGERS`).
    pub fn tracks_access(self) -> bool {
        matches!(
            self,
            EvictionPolicy::AllKeysLru
                | EvictionPolicy::VolatileLru
                | EvictionPolicy::AllKeysLfu
                | EvictionPolicy::VolatileLfu
        )
    }

    /// Parses a policy name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }

    fn volatile_only(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
                | EvictionPolicy::VolatileLfu
        )
    }
}

/// Capacity limits of one shard.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes this shard may use; 0 means no limit.
    pub maxmemory: usize,
    /// Keys this shard may hold; 0 means no limit.
    pub max_keys: usize,
    /// What to do when a limit is reached.
    pub policy: EvictionPolicy,
    /// The collections' encoding thresholds, which commands, replay and
    /// RESTORE apply.
    pub values: crate::value::ValueLimits,
    /// Keys the client-side caching table remembers at most (this shard's
    /// part of `tracking-table-max-keys`); 0 means no limit.
    pub tracking_max_keys: usize,
    /// `lfu-log-factor` and `lfu-decay-time`, for the LFU policies.
    pub lfu: super::LfuParams,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            maxmemory: 0,
            max_keys: 0,
            policy: EvictionPolicy::AllKeysLru,
            values: crate::value::ValueLimits::default(),
            tracking_max_keys: crate::tracking::MAX_KEYS,
            lfu: super::LfuParams::default(),
        }
    }
}

/// The store could not make room for a write under the configured policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

/// How far from the LRU tail volatile-lru looks for a key with a TTL before
/// it falls back to sampling.
const VOLATILE_LRU_SCAN: usize = 128;
/// Keys a sampling policy looks at per eviction unless told otherwise
/// (Redis's `maxmemory-samples` default).
pub const DEFAULT_EVICTION_SAMPLES: usize = 5;
/// Candidates the LFU eviction pool keeps (Redis's `EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;

/// A key the LFU policies may evict next: Redis's `evictionPoolEntry`.
struct Candidate {
    /// 255 less the counter when sampled: the larger, the better a victim.
    rank: u8,
    db: u8,
    key: Vec<u8>,
}

/// Redis's eviction pool, per shard: the best victims seen by the last
/// samplings, best last. A sampling alone sees `maxmemory-samples` keys;
/// the pool lets a rarely used key found by one sampling wait for its
/// turn, so the choice approaches the true least frequently used key. It
/// holds names, not positions (records move), so a candidate deleted or
/// evicted meanwhile is skipped when its turn comes, as in Redis.
#[derive(Default)]
pub(super) struct Pool {
    /// Sorted by rank, ascending; at most `POOL_SIZE`.
    entries: Vec<Candidate>,
    /// Key buffers of dropped candidates, reused so that a steady stream
    /// of evictions allocates nothing.
    spare: Vec<Vec<u8>>,
}

impl Pool {
    /// Offers a sampled key (`evictionPoolPopulate`'s insertion): it enters
    /// when the pool has room or it beats the worst candidate, which then
    /// leaves.
    fn offer(&mut self, rank: u8, db: u8, key: &[u8]) {
        let mut at = self.entries.partition_point(|c| c.rank < rank);
        if self.entries.len() == POOL_SIZE {
            if at == 0 {
                return;
            }
            let gone = self.entries.remove(0);
            self.spare.push(gone.key);
            at -= 1;
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(key);
        self.entries.insert(at, Candidate { rank, db, key: buf });
    }

    /// Forgets every candidate (the policy changed, or the data went).
    pub(super) fn clear(&mut self) {
        while let Some(c) = self.entries.pop() {
            self.spare.push(c.key);
        }
    }
}

impl Store {
    /// Evicts keys until the store is within `maxmemory`. Called before a
    /// write that may grow memory (Redis's `denyoom` commands), so that the
    /// write itself is what may push the store over the line, as in Redis.
    /// A script's write exempt from the limit neither evicts nor fails:
    /// Redis evicts only before a command, never inside a script.
    pub fn make_room(&mut self) -> Result<(), OutOfMemory> {
        if self.limits.maxmemory == 0 || self.allow_oom {
            return Ok(());
        }
        while self.used_memory() > self.limits.maxmemory {
            if !self.evict_one() {
                return Err(OutOfMemory);
            }
        }
        Ok(())
    }

    /// Samples volatile keys and returns the one with the largest `rank`.
    fn sample_volatile_max(&mut self, rank: impl Fn(&Store, u32) -> u64) -> u32 {
        let mut best = self.random_volatile();
        for _ in 1..self.samples {
            let i = self.random_volatile();
            if rank(self, i) > rank(self, best) {
                best = i;
            }
        }
        best
    }

    /// Redis's LFU eviction: sample `samples` keys (of all, or of those with
    /// a TTL) into the pool, then evict the best candidate that still exists.
    /// Redis samples that many keys of every database; a shard samples its
    /// keys of all databases together.
    fn lfu_victim(&mut self, volatile: bool) -> Option<u32> {
        // Each round samples keys that exist, so the first round finds one
        // unless the pool was full of better candidates deleted since (they
        // leave as they are tried); the bound only guards the shard thread.
        for _ in 0..POOL_SIZE + 1 {
            for _ in 0..self.samples {
                let pos = if volatile {
                    Some(self.random_volatile())
                } else {
                    self.random_any()
                };
                let Some(pos) = pos else { break };
                let rank = 255 - self.freq_at(pos);
                let db = self.db_at(pos) as u8;
                let key = super::key_bytes(&self.arena, &self.long_keys, pos);
                self.pool.offer(rank, db, key);
            }
            let mut found = None;
            while let Some(c) = self.pool.entries.pop() {
                let h = self.hash(&c.key);
                found = self.find(c.db as usize, h, &c.key);
                self.pool.spare.push(c.key);
                if found.is_some() {
                    break;
                }
            }
            // Every candidate was gone: sample again, unless nothing is left.
            if found.is_some() || self.live == 0 || (volatile && self.volatile.is_empty()) {
                return found;
            }
        }
        None
    }

    /// A key of all databases chosen uniformly.
    fn random_any(&mut self) -> Option<u32> {
        if self.live == 0 {
            return None;
        }
        let mut pick = self.random() % self.live as u64;
        let db = (0..NUM_DBS).find(|&db| {
            let n = self.db_keys[db] as u64;
            if pick < n {
                true
            } else {
                pick -= n;
                false
            }
        })?;
        let rng = &mut self.rng;
        self.dbs[db].random(|n| super::next_random(rng) % n)
    }

    /// Picks a victim under the current policy and removes it; false when
    /// the policy finds no candidate (no keys, or no volatile keys).
    pub(super) fn evict_one(&mut self) -> bool {
        let victim = match self.limits.policy {
            EvictionPolicy::NoEviction => None,
            EvictionPolicy::AllKeysLru => (self.tail != NIL).then_some(self.tail),
            EvictionPolicy::AllKeysRandom => self.random_any(),
            EvictionPolicy::AllKeysLfu => self.lfu_victim(false),
            _ if self.volatile.is_empty() => None,
            EvictionPolicy::VolatileLfu => self.lfu_victim(true),
            EvictionPolicy::VolatileRandom => Some(self.random_volatile()),
            EvictionPolicy::VolatileTtl => Some(
                self.sample_volatile_max(|s, p| u64::MAX - record::expire_at(s.arena.chunk(p))),
            ),
            EvictionPolicy::VolatileLru => {
                // Exact when a volatile key sits near the LRU tail; otherwise
                // Redis-style sampling by idle time.
                let mut cur = self.tail;
                let mut found = None;
                for _ in 0..VOLATILE_LRU_SCAN {
                    if cur == NIL {
                        break;
                    }
                    let c = self.arena.chunk(cur);
                    if record::meta(c) & TTL != 0 {
                        found = Some(cur);
                        break;
                    }
                    cur = record::prev(c);
                }
                found.or_else(|| Some(self.sample_volatile_max(|s, p| s.idle_at(p) as u64)))
            }
        };
        debug_assert!(
            self.limits.policy.volatile_only()
                || victim.is_some()
                || self.live == 0
                || self.limits.policy == EvictionPolicy::NoEviction
        );
        match victim {
            Some(pos) => {
                if self.evicted.is_some() {
                    let db = self.db_at(pos) as u8;
                    let key = self.key_at(pos).to_vec();
                    if let Some(list) = self.evicted.as_mut() {
                        list.push((db, key));
                    }
                }
                self.notify_at(pos, crate::notify::EVICTED, "evicted");
                self.remove_at(pos);
                self.stats.evicted += 1;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_keeps_the_best_candidates_in_rank_order() {
        let mut p = Pool::default();
        // Ranks 0..40 in a scrambled order (7 is prime to 40).
        for i in 0..40u8 {
            let rank = ((i as u32 * 7) % 40) as u8;
            p.offer(rank, 0, &[rank]);
        }
        let ranks: Vec<u8> = p.entries.iter().map(|c| c.rank).collect();
        assert_eq!(ranks, (24..40).collect::<Vec<u8>>());
        assert!(p.entries.iter().all(|c| c.key == [c.rank]));
        // Full: worse than the worst stays out; better pushes the worst out.
        p.offer(10, 0, b"no");
        assert_eq!(p.entries[0].rank, 24);
        p.offer(30, 3, b"yes");
        assert_eq!(p.entries[0].rank, 25);
        assert_eq!(p.entries.len(), POOL_SIZE);
        assert!(p.entries.iter().any(|c| c.db == 3 && c.key == b"yes"));
        let before = p.spare.len();
        p.clear();
        assert!(p.entries.is_empty());
        assert_eq!(p.spare.len(), before + POOL_SIZE);
    }
}
