//! Open-loop (`--rate`) request schedule.
//!
//! As in wrk2, each connection has a fixed schedule of *intended* send
//! times, independent of how fast the server answers. A request that could
//! not be sent on time (the connection already had `--pipeline` requests in
//! flight, or the client was descheduled) is sent late, but its latency is
//! measured from its intended send time, so a server stall shows up as the
//! latency every request scheduled during the stall would have seen, not as
//! one slow request (coordinated omission correction).

use std::time::{Duration, Instant};

/// Intended send times of one connection: request `i` is due at
/// `start + offset + i * interval`.
///
/// With `C` connections sharing a total rate `R`, connection `g` gets
/// `interval = C / R` and `offset = g / R`, so the union of all schedules is
/// one request every `1 / R` seconds.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    start: Instant,
    offset_ns: f64,
    interval_ns: f64,
}

impl Schedule {
    pub fn for_connection(start: Instant, rate: f64, conn: usize, conns: usize) -> Self {
        assert!(rate > 0.0 && conns > 0);
        Schedule {
            start,
            offset_ns: conn as f64 * 1e9 / rate,
            interval_ns: conns as f64 * 1e9 / rate,
        }
    }

    /// Intended send time of request `i` (computed from the index, so no
    /// rounding error accumulates).
    #[inline]
    pub fn at(&self, i: u64) -> Instant {
        let ns = self.offset_ns + i as f64 * self.interval_ns;
        self.start + Duration::from_nanos(ns.round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intended_times_follow_fixed_schedule() {
        let t0 = Instant::now();
        // 1000 ops/s over 4 connections: each connection every 4 ms.
        let s = Schedule::for_connection(t0, 1000.0, 1, 4);
        assert_eq!(s.at(0) - t0, Duration::from_millis(1));
        assert_eq!(s.at(1) - t0, Duration::from_millis(5));
        assert_eq!(s.at(250) - t0, Duration::from_millis(1001));
    }

    #[test]
    fn union_of_connections_is_evenly_spaced() {
        let t0 = Instant::now();
        let conns = 3;
        let rate = 30_000.0;
        let mut all: Vec<Duration> = (0..conns)
            .flat_map(|c| {
                let s = Schedule::for_connection(t0, rate, c, conns);
                (0..100).map(move |i| s.at(i) - t0)
            })
            .collect();
        all.sort();
        for (i, d) in all.iter().enumerate() {
            let want = i as f64 * 1e9 / rate;
            assert!((d.as_nanos() as f64 - want).abs() <= 1.0, "{i}: {d:?}");
        }
    }

    #[test]
    fn no_drift_over_long_runs() {
        let t0 = Instant::now();
        // 7 ops/s does not divide a second evenly.
        let s = Schedule::for_connection(t0, 7.0, 0, 1);
        let d = s.at(7_000_000) - t0;
        assert_eq!(d, Duration::from_secs(1_000_000));
    }
}
