//! Latency histograms, their merge, and the report formats (terminal
//! table, JSON, HdrHistogram percentile distribution `.hgrm`).

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Operation types, one histogram each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get = 0,
    Set = 1,
    Mget = 2,
}

pub const OPS: [Op; 3] = [Op::Get, Op::Set, Op::Mget];

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Set => "set",
            Op::Mget => "mget",
        }
    }
}

/// Histograms record microseconds; 1 us .. 1 hour at 3 significant digits.
pub const SIGFIG: u8 = 3;
const HIGHEST_US: u64 = 3_600_000_000;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_US, SIGFIG).expect("valid histogram bounds")
}

/// Per op type counters of one thread (or of the whole run once merged).
pub struct OpStats {
    pub hist: Histogram<u64>,
    pub errors: u64,
    pub misses: u64,
}

impl OpStats {
    pub fn new() -> Self {
        OpStats {
            hist: new_histogram(),
            errors: 0,
            misses: 0,
        }
    }

    pub fn merge(&mut self, other: &OpStats) {
        self.hist
            .add(&other.hist)
            .expect("histograms share their bounds");
        self.errors += other.errors;
        self.misses += other.misses;
    }
}

impl Default for OpStats {
    fn default() -> Self {
        Self::new()
    }
}

/// Errors not tied to one op type.
#[derive(Debug, Default, Clone, Copy)]
pub struct Failures {
    /// Connection errors, resets, protocol errors.
    pub io: u64,
    /// Requests that never got a reply (reply timeout or connection loss).
    pub lost: u64,
    /// `--verify`: replies that did not match what this run wrote.
    pub mismatches: u64,
    /// Errors during `--prefill` (not part of the measurement).
    pub prefill: u64,
}

impl Failures {
    pub fn merge(&mut self, o: &Failures) {
        self.io += o.io;
        self.lost += o.lost;
        self.mismatches += o.mismatches;
        self.prefill += o.prefill;
    }
}

/// Everything measured, merged over threads.
pub struct RunStats {
    pub ops: [OpStats; 3],
    /// Open loop only: lateness of sends against the schedule (us).
    pub send_lag: Option<Histogram<u64>>,
    pub failures: Failures,
    pub duration: Duration,
}

impl RunStats {
    pub fn completed(&self) -> u64 {
        self.ops.iter().map(|o| o.hist.len()).sum()
    }

    /// Error replies + failures + verify mismatches.
    pub fn errors(&self) -> u64 {
        self.ops.iter().map(|o| o.errors).sum::<u64>()
            + self.failures.io
            + self.failures.lost
            + self.failures.mismatches
    }

    pub fn misses(&self) -> u64 {
        self.ops.iter().map(|o| o.misses).sum()
    }

    pub fn ops_per_sec(&self) -> f64 {
        rate(self.completed(), self.duration)
    }
}

fn rate(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        n as f64 / s
    } else {
        0.0
    }
}

#[derive(Debug, Serialize)]
pub struct OpSummary {
    pub count: u64,
    pub ops_per_sec: f64,
    pub errors: u64,
    pub misses: u64,
    pub mean_us: f64,
    pub stdev_us: f64,
    pub min_us: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub p9999_us: u64,
    pub max_us: u64,
}

impl OpSummary {
    pub fn of(s: &OpStats, duration: Duration) -> Self {
        let h = &s.hist;
        OpSummary {
            count: h.len(),
            ops_per_sec: round3(rate(h.len(), duration)),
            errors: s.errors,
            misses: s.misses,
            mean_us: round3(h.mean()),
            stdev_us: round3(h.stdev()),
            min_us: h.min(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            p9999_us: h.value_at_quantile(0.9999),
            max_us: h.max(),
        }
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// How far behind its schedule an open-loop client sent.
#[derive(Debug, Serialize)]
pub struct LagSummary {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl LagSummary {
    pub fn of(h: &Histogram<u64>) -> Self {
        LagSummary {
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// The `--json` document.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub label: String,
    pub ops_per_sec: f64,
    pub duration_s: f64,
    pub requests: u64,
    pub errors: u64,
    pub misses: u64,
    pub verify_mismatches: u64,
    pub lost: u64,
    pub prefill_errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_lag_us: Option<LagSummary>,
    pub ops: serde_json::Map<String, serde_json::Value>,
    pub config: serde_json::Value,
}

impl Summary {
    pub fn new(label: &str, run: &RunStats, config: serde_json::Value) -> Self {
        let mut ops = serde_json::Map::new();
        for op in OPS {
            let s = &run.ops[op as usize];
            if !s.hist.is_empty() || s.errors > 0 {
                ops.insert(
                    op.name().to_string(),
                    serde_json::to_value(OpSummary::of(s, run.duration)).expect("serializable"),
                );
            }
        }
        Summary {
            label: label.to_string(),
            ops_per_sec: round3(run.ops_per_sec()),
            duration_s: round3(run.duration.as_secs_f64() * 1000.0) / 1000.0,
            requests: run.completed(),
            errors: run.errors(),
            misses: run.misses(),
            verify_mismatches: run.failures.mismatches,
            lost: run.failures.lost,
            prefill_errors: run.failures.prefill,
            send_lag_us: run.send_lag.as_ref().map(LagSummary::of),
            ops,
            config,
        }
    }
}

/// The terminal table (latencies in milliseconds).
pub fn table(run: &RunStats) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<5} {:>10} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "op",
        "count",
        "ops/s",
        "mean",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "p99.99",
        "max",
        "errors",
        "misses"
    );
    let ms = |us: u64| us as f64 / 1000.0;
    for op in OPS {
        let s = &run.ops[op as usize];
        if s.hist.is_empty() && s.errors == 0 {
            continue;
        }
        let o = OpSummary::of(s, run.duration);
        let _ = writeln!(
            out,
            "{:<5} {:>10} {:>12.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>8} {:>8}",
            op.name(),
            o.count,
            o.ops_per_sec,
            o.mean_us / 1000.0,
            ms(o.p50_us),
            ms(o.p90_us),
            ms(o.p99_us),
            ms(o.p999_us),
            ms(o.p9999_us),
            ms(o.max_us),
            o.errors,
            o.misses
        );
    }
    let _ = writeln!(out, "(latencies in milliseconds)");
    let f = &run.failures;
    let _ = writeln!(
        out,
        "total: {} requests in {:.3} s = {:.1} ops/s; errors {} (error replies {}, connection/protocol {}, lost {}, verify mismatches {}); misses {}",
        run.completed(),
        run.duration.as_secs_f64(),
        run.ops_per_sec(),
        run.errors(),
        run.ops.iter().map(|o| o.errors).sum::<u64>(),
        f.io,
        f.lost,
        f.mismatches,
        run.misses()
    );
    if let Some(lag) = &run.send_lag {
        let l = LagSummary::of(lag);
        let _ = writeln!(
            out,
            "open loop: sends behind schedule by p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms (included in the latencies above)",
            ms(l.p50),
            ms(l.p99),
            ms(l.p999),
            ms(l.max)
        );
    }
    if f.prefill > 0 {
        let _ = writeln!(out, "prefill errors: {}", f.prefill);
    }
    out
}

/// Percentile ticks per half distance, as `HistogramLogProcessor` and wrk2
/// use by default.
pub const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// Scaling applied to recorded values (microseconds) in `.hgrm` output, so
/// that the file is in milliseconds (HdrHistogram's
/// `outputValueUnitScalingRatio`).
pub const HGRM_SCALING_RATIO: f64 = 1000.0;

/// One row of a percentile distribution: (percentile as a fraction, value
/// in output units, total count up to this value).
pub fn percentile_rows(h: &Histogram<u64>, scaling: f64) -> Vec<(f64, f64, u64)> {
    let mut rows = Vec::new();
    if h.is_empty() {
        return rows;
    }
    let mut total = 0u64;
    for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
        total += v.count_since_last_iteration();
        rows.push((
            v.quantile_iterated_to(),
            v.value_iterated_to() as f64 / scaling,
            total,
        ));
    }
    rows
}

/// HdrHistogram's `outputPercentileDistribution` text format (what
/// `HistogramLogProcessor` writes and the online plotter reads).
pub fn hgrm(h: &Histogram<u64>, scaling: f64) -> String {
    let d = usize::from(h.sigfig());
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    for (q, value, total) in percentile_rows(h, scaling) {
        if q < 1.0 {
            let _ = writeln!(
                out,
                "{value:12.d$} {q:2.12} {total:10} {:14.2}",
                1.0 / (1.0 - q)
            );
        } else {
            let _ = writeln!(out, "{value:12.d$} {q:2.12} {total:10}");
        }
    }
    let (mean, stdev, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (
            h.mean() / scaling,
            h.stdev() / scaling,
            h.max() as f64 / scaling,
        )
    };
    let _ = writeln!(
        out,
        "#[Mean    = {mean:12.d$}, StdDeviation   = {stdev:12.d$}]"
    );
    let _ = writeln!(
        out,
        "#[Max     = {max:12.d$}, Total count    = {:12}]",
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_bucket_count(h.sigfig())
    );
    out
}

/// HdrHistogram's sub-bucket count for a precision: the power of two at or
/// above `2 * 10^sigfig`.
fn sub_bucket_count(sigfig: u8) -> u32 {
    let largest = 2 * 10u32.pow(u32::from(sigfig));
    largest.next_power_of_two()
}

/// Points (percentile fraction, value) parsed from an `.hgrm` file; rows
/// that are not data (header, footer, blanks) are skipped.
pub fn parse_hgrm(text: &str) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.split_whitespace();
        let (Some(v), Some(p)) = (cols.next(), cols.next()) else {
            continue;
        };
        if let (Ok(v), Ok(p)) = (v.parse::<f64>(), p.parse::<f64>()) {
            if (0.0..=1.0).contains(&p) {
                pts.push((p, v));
            }
        }
    }
    pts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_keeps_extremes() {
        let mut a = OpStats::new();
        let mut b = OpStats::new();
        for v in 1..=1000 {
            a.hist.record(v).unwrap();
        }
        for v in 1001..=2000 {
            b.hist.record(v).unwrap();
        }
        a.errors = 2;
        b.errors = 3;
        b.misses = 7;
        a.merge(&b);
        assert_eq!(a.hist.len(), 2000);
        assert_eq!(a.errors, 5);
        assert_eq!(a.misses, 7);
        assert_eq!(a.hist.min(), 1);
        assert_eq!(a.hist.max(), 2000);
        let p50 = a.hist.value_at_quantile(0.5);
        assert!((999..=1001).contains(&p50), "{p50}");
        assert!((a.hist.mean() - 1000.5).abs() < 1.0);
    }

    #[test]
    fn summary_percentiles() {
        let mut s = OpStats::new();
        for v in 1..=10_000u64 {
            s.hist.record(v).unwrap();
        }
        let o = OpSummary::of(&s, Duration::from_secs(2));
        assert_eq!(o.count, 10_000);
        assert_eq!(o.ops_per_sec, 5000.0);
        // 3 significant digits: within 0.1%.
        let near =
            |got: u64, want: u64| (got as f64 - want as f64).abs() <= want as f64 * 0.001 + 1.0;
        assert!(near(o.p50_us, 5000), "{}", o.p50_us);
        assert!(near(o.p90_us, 9000), "{}", o.p90_us);
        assert!(near(o.p99_us, 9900), "{}", o.p99_us);
        assert!(near(o.p999_us, 9990), "{}", o.p999_us);
        assert!(near(o.max_us, 10_000), "{}", o.max_us);
        assert!((o.mean_us - 5000.5).abs() < 5.0);
    }

    #[test]
    fn hgrm_format_matches_hdrhistogram() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 10).unwrap(); // 10 us .. 10 ms
        }
        let text = hgrm(&h, HGRM_SCALING_RATIO);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines[1], "");
        // First row: the minimum, percentile 0.
        assert_eq!(
            lines[2],
            "       0.010 0.000000000000          1           1.00"
        );
        // A middle row in the exact column layout.
        let half = lines
            .iter()
            .find(|l| l.contains(" 0.500000000000 "))
            .unwrap();
        assert_eq!(
            *half,
            "       5.003 0.500000000000        500           2.00"
        );
        // The last data row is the 100th percentile, without the last column.
        let footer_at = lines.iter().position(|l| l.starts_with("#[Mean")).unwrap();
        let last = lines[footer_at - 1];
        assert_eq!(last, "      10.007 1.000000000000       1000");
        assert_eq!(
            lines[footer_at],
            "#[Mean    =        5.006, StdDeviation   =        2.887]"
        );
        assert_eq!(
            lines[footer_at + 1],
            "#[Max     =       10.007, Total count    =         1000]"
        );
        assert_eq!(
            lines[footer_at + 2],
            format!(
                "#[Buckets = {:>12}, SubBuckets     =         2048]",
                h.buckets()
            )
        );
        assert_eq!(lines.len(), footer_at + 3);
        // Percentiles increase monotonically and the file parses back.
        let pts = parse_hgrm(&text);
        assert_eq!(pts.len(), footer_at - 2);
        assert!(pts.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        assert_eq!(pts.last().unwrap().0, 1.0);
    }

    #[test]
    fn sub_buckets_for_precision() {
        assert_eq!(sub_bucket_count(3), 2048);
        assert_eq!(sub_bucket_count(2), 256);
        assert_eq!(sub_bucket_count(1), 32);
    }

    #[test]
    fn empty_histogram_hgrm_is_well_formed() {
        let text = hgrm(&new_histogram(), HGRM_SCALING_RATIO);
        assert!(text.contains("Total count    =            0"));
        assert!(parse_hgrm(&text).is_empty());
    }
}
