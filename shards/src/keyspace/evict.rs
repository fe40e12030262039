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
}

impl EvictionPolicy {
    /// Every policy, in Redis's documentation order.
    pub const ALL: [EvictionPolicy; 6] = [
        EvictionPolicy::VolatileLru,
        EvictionPolicy::AllKeysLru,
        EvictionPolicy::VolatileRandom,
        EvictionPolicy::AllKeysRandom,
        EvictionPolicy::VolatileTtl,
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
        }
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            maxmemory: 0,
            max_keys: 0,
            policy: EvictionPolicy::AllKeysLru,
            values: crate::value::ValueLimits::default(),
            tracking_max_keys: crate::tracking::MAX_KEYS,
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
            _ if self.volatile.is_empty() => None,
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
