//! LFU: the access field of a record read as Redis's Morris counter.
//!
//! Under an LFU policy the record's access field (the bits that hold the
//! LRU clock otherwise) holds, as Redis's `robj.lru` does, an 8-bit
//! logarithmic access counter under the minute of its last decrement (`ldt`):
//!
//! ```text
//!  21 ......... 8   7 ...... 0
//!  ldt (minutes)    counter
//! ```
//!
//! Redis keeps 16 bits of minutes in a 24-bit field; ours is 22 bits, so
//! the minutes wrap after 2^14 (11.4 days) instead of 45.5: a key left
//! unused for about a multiple of that looks idle for the remainder only,
//! as one left unused for 45 days does in Redis. The record does not grow.
//!
//! A hit increments the counter with probability `1 / ((c - 5) * factor + 1)`
//! (Redis's `LFULogIncr`), so with the default factor of 10 a million hits
//! reach about 255; every `lfu-decay-time` minutes without a hit take one
//! off (`LFUDecrAndReturn`), applied lazily when the key is next read.
//! Switching policies at run time rewrites nothing: the field is read the
//! new way, as in Redis, and settles as keys are used.

use super::record::LRU_BITS;
use super::{Store, LRU_MASK};

/// A new key's counter, so it is not evicted before it had a chance
/// to be used again (Redis's `LFU_INIT_VAL`).
pub const INIT: u8 = 5;
/// Bits of minutes in the field.
const TIME_BITS: u32 = LRU_BITS - 8;
/// The largest minutes value, as Redis's 65535 for its 16 bits.
const TIME_MAX: u32 = (1 << TIME_BITS) - 1;

/// `lfu-log-factor` and `lfu-decay-time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LfuParams {
    /// How slowly the counter grows: higher takes more hits per step.
    pub log_factor: u32,
    /// Minutes per decrement of an unused key's counter; 0: never decays.
    pub decay_time: u32,
}

impl Default for LfuParams {
    fn default() -> Self {
        LfuParams {
            log_factor: 10,
            decay_time: 1,
        }
    }
}

/// The minutes clock at `now_ms` (Redis's `LFUGetTimeInMinutes`).
#[inline]
pub fn minutes_at(now_ms: u64) -> u32 {
    ((now_ms / 60_000) as u32) & TIME_MAX
}

/// A field with last-decrement time `minutes` and `counter`.
#[inline]
pub fn pack(minutes: u32, counter: u8) -> u32 {
    ((minutes & TIME_MAX) << 8) | counter as u32
}

/// The counter bits of a field.
#[inline]
pub fn counter(field: u32) -> u8 {
    (field & 0xff) as u8
}

/// Minutes between `ldt` and `now`, across one wrap (`LFUTimeElapsed`).
#[inline]
fn elapsed(now: u32, ldt: u32) -> u32 {
    if now >= ldt {
        now - ldt
    } else {
        TIME_MAX - ldt + now
    }
}

/// The counter of `field` after the decay due at minute `now`
/// (`LFUDecrAndReturn`): one off per `decay_time` minutes elapsed.
#[inline]
pub fn decayed(field: u32, now: u32, decay_time: u32) -> u8 {
    let c = counter(field);
    if decay_time == 0 {
        return c;
    }
    let periods = elapsed(now, (field & LRU_MASK) >> 8) / decay_time;
    c.saturating_sub(periods.min(255) as u8)
}

/// One probabilistic increment (`LFULogIncr`); `r` is uniform in [0, 1).
#[inline]
pub fn log_incr(c: u8, log_factor: u32, r: f64) -> u8 {
    if c == 255 {
        return 255;
    }
    let base = c.saturating_sub(INIT) as f64;
    let p = 1.0 / (base * log_factor as f64 + 1.0);
    if r < p {
        c + 1
    } else {
        c
    }
}

/// The field after a hit at minute `now` (`updateLFU`): decay, then increment.
#[inline]
pub fn hit(field: u32, now: u32, params: LfuParams, r: f64) -> u32 {
    let c = decayed(field, now, params.decay_time);
    pack(now, log_incr(c, params.log_factor, r))
}

impl Store {
    /// The access field of the record at `pos` after a hit under LFU.
    /// Out of line: the LRU path pays only the branch that leads here.
    #[inline(never)]
    pub(super) fn lfu_hit(&mut self, pos: u32) -> u32 {
        self.lfu_bumped = pos;
        let r = (self.random() >> 11) as f64 / (1u64 << 53) as f64;
        let field = super::record::meta(self.arena.chunk(pos)) & LRU_MASK;
        hit(field, self.lfu_now, self.limits.lfu, r)
    }

    /// The access field a new record starts with under the current policy.
    #[inline]
    pub(super) fn fresh_access(&self) -> u32 {
        if self.lfu_on {
            pack(self.lfu_now, INIT)
        } else {
            self.clock()
        }
    }

    /// Whether an LFU policy is in force: the access field is a counter.
    #[inline]
    pub fn lfu_on(&self) -> bool {
        self.lfu_on
    }

    /// The access frequency of the record at `pos` as OBJECT FREQ reports
    /// it: the counter after decay, not written back (reading is no access).
    pub fn freq_at(&self, pos: u32) -> u8 {
        let field = super::record::meta(self.arena.chunk(pos)) & LRU_MASK;
        decayed(field, self.lfu_now, self.limits.lfu.decay_time)
    }

    /// Sets the counter of the record at `pos` (RESTORE ... FREQ). As
    /// Redis's `objectSetLRUOrLFU`, ignored unless an LFU policy is in force.
    pub fn set_freq(&mut self, pos: u32, freq: u8) {
        if !self.lfu_on {
            return;
        }
        let field = pack(self.lfu_now, freq);
        let c = self.arena.chunk_mut(pos);
        let m = super::record::meta(c);
        super::record::set_meta(c, super::record::with_clock(m, field));
    }

    /// The 24-bit `lru` field Redis would hold for the record at `pos`, as
    /// DEBUG OBJECT prints it: the LRU clock of its last access in seconds,
    /// or under LFU the counter under 16 bits of minutes (the minutes' top
    /// bits, which the record does not keep, taken from now).
    pub fn redis_lru_field(&self, pos: u32, now_ms: u64) -> u32 {
        let field = super::record::meta(self.arena.chunk(pos)) & LRU_MASK;
        if self.lfu_on {
            let now16 = ((now_ms / 60_000) & 0xffff) as u32;
            let ago = elapsed(self.lfu_now, field >> 8);
            (now16.wrapping_sub(ago) & 0xffff) << 8 | counter(field) as u32
        } else {
            ((now_ms / 1000) as u32).wrapping_sub(self.idle_at(pos)) & 0xff_ffff
        }
    }

    /// Forgets which key the running op has counted a hit for, so that the
    /// next write of it counts one again (see `lfu_bumped`).
    #[inline]
    pub fn new_access(&mut self) {
        self.lfu_bumped = crate::arena::NIL;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_counter_reads_init_and_first_hit_always_counts() {
        let f = pack(100, INIT);
        assert_eq!(decayed(f, 100, 1), INIT);
        // At or below INIT the probability is 1, whatever the factor.
        for factor in [0, 1, 10, 1000] {
            let p = LfuParams {
                log_factor: factor,
                decay_time: 1,
            };
            assert_eq!(counter(hit(f, 100, p, 0.999_999)), INIT + 1);
        }
    }

    #[test]
    fn factor_zero_counts_every_hit_up_to_255() {
        let p = LfuParams {
            log_factor: 0,
            decay_time: 1,
        };
        let mut f = pack(7, 0);
        for i in 1..=300u32 {
            f = hit(f, 7, p, 0.5);
            assert_eq!(counter(f) as u32, i.min(255));
        }
    }

    #[test]
    fn increment_probability_follows_redis() {
        // Above INIT: p = 1 / ((c - 5) * factor + 1).
        assert_eq!(log_incr(6, 10, 1.0 / 11.0 - 1e-9), 7);
        assert_eq!(log_incr(6, 10, 1.0 / 11.0), 6);
        assert_eq!(log_incr(15, 10, 1.0 / 101.0 - 1e-9), 16);
        assert_eq!(log_incr(15, 10, 0.5), 15);
        assert_eq!(log_incr(255, 0, 0.0), 255);
        assert_eq!(log_incr(0, 10, 0.999), 1);
    }

    #[test]
    fn decay_takes_one_per_period_and_stops_at_zero() {
        let f = pack(1000, 20);
        assert_eq!(decayed(f, 1000, 1), 20);
        assert_eq!(decayed(f, 1003, 1), 17);
        assert_eq!(decayed(f, 1009, 3), 17);
        assert_eq!(decayed(f, 1010, 3), 17);
        assert_eq!(decayed(f, 1012, 3), 16);
        assert_eq!(decayed(f, 1100, 1), 0);
        assert_eq!(decayed(f, 5000, 0), 20, "decay-time 0 never decays");
        // A hit stamps the time: the decay already taken is not taken again.
        let p = LfuParams {
            log_factor: 0,
            decay_time: 1,
        };
        let g = hit(f, 1003, p, 0.5);
        assert_eq!(counter(g), 18);
        assert_eq!(decayed(g, 1003, 1), 18);
        assert_eq!(decayed(g, 1004, 1), 17);
    }

    #[test]
    fn minutes_wrap_like_redis() {
        assert_eq!(minutes_at(0), 0);
        assert_eq!(minutes_at(59_999), 0);
        assert_eq!(minutes_at(60_000), 1);
        assert_eq!(minutes_at((TIME_MAX as u64 + 1) * 60_000), 0);
        // Last decrement two minutes before the wrap, now one after it.
        let f = pack(TIME_MAX - 1, 10);
        assert_eq!(elapsed(1, TIME_MAX - 1), 2);
        assert_eq!(decayed(f, 1, 1), 8);
        assert!(pack(TIME_MAX, 255) <= LRU_MASK);
    }

    #[test]
    fn many_hits_grow_logarithmically() {
        // Redis's table for factor 10: 100 hits ≈ 10, 1000 ≈ 18, 100k ≈ 142.
        let p = LfuParams::default();
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut f = pack(0, 0);
        let mut at = |n: u32, f: &mut u32| {
            for _ in 0..n {
                let r =
                    (crate::keyspace::next_random(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
                *f = hit(*f, 0, p, r);
            }
            counter(*f)
        };
        let c100 = at(100, &mut f);
        let c1000 = at(900, &mut f);
        let c100k = at(99_000, &mut f);
        assert!((7..=14).contains(&c100), "{c100}");
        assert!((14..=24).contains(&c1000), "{c1000}");
        assert!((120..=165).contains(&c100k), "{c100k}");
    }
}
