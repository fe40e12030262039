//! Key → shard routing. It lives in the engine because the data layout
//! depends on it: the AOF manifest records its fingerprint, and startup
//! re-routes every key when the fingerprint or the shard count changed.

const SEEDS: [u64; 4] = [
    0x5348_4152_4443_4143,
    0x4845_2d52_4f55_5445,
    0x0123_4567_89ab_cdef,
    0xfedc_ba98_7654_3210,
];

/// The routing function for `shards` shards.
#[derive(Clone)]
pub struct Router {
    hasher: ahash::RandomState,
    shards: usize,
}

impl Router {
    /// Routing over `shards` shards (at least 1).
    pub fn new(shards: usize) -> Self {
        Router {
            hasher: ahash::RandomState::with_seeds(SEEDS[0], SEEDS[1], SEEDS[2], SEEDS[3]),
            shards: shards.max(1),
        }
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.shards
    }

    /// The shard that owns `key`.
    #[inline]
    pub fn shard_of(&self, key: &[u8]) -> usize {
        (self.hasher.hash_one(key) % self.shards as u64) as usize
    }

    /// Identifies the hash function (not the shard count): ahash's output is
    /// not promised stable across versions, so the AOF manifest stores this
    /// and startup re-routes when it differs.
    pub fn fingerprint(&self) -> u64 {
        (0..8u8).fold(0xcbf2_9ce4_8422_2325u64, |acc, i| {
            let h = self.hasher.hash_one([b'r', b'o', b'u', b't', b'e', i]);
            (acc ^ h).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_is_deterministic_and_spreads() {
        let r = Router::new(4);
        let mut counts = [0usize; 4];
        for i in 0..10_000u32 {
            let k = format!("key:{i}");
            assert_eq!(
                r.shard_of(k.as_bytes()),
                Router::new(4).shard_of(k.as_bytes())
            );
            counts[r.shard_of(k.as_bytes())] += 1;
        }
        assert!(counts.iter().all(|&c| c > 2_000), "{counts:?}");
        assert_eq!(r.fingerprint(), Router::new(7).fingerprint());
    }
}
