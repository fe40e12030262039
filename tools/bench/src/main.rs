//! `shardcache-bench`: a load generator for any RESP server (shardcache,
//! Redis, ...), with HdrHistogram latency reports.

mod engine;
mod keys;
mod resp;
mod sched;
mod stats;
mod svg;

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Parser;

use engine::{Config, Shared};
use keys::{KeyDist, Ratio, ValueSize};
use resp::KeyFormat;
use stats::{Failures, OpStats, RunStats, OPS};

const AFTER_HELP: &str = "\
Loop modes:
  Without --rate the loop is closed: every connection keeps --pipeline
  requests in flight and latency is measured from the actual send time.
  With --rate OPS the loop is open: requests are issued on a fixed schedule
  (OPS per second in total, spread evenly over the connections, at most
  --pipeline in flight per connection) and latency is measured from each
  request's *intended* send time, correcting coordinated omission the way
  wrk2 does.

Reports:
  Latencies are recorded in microseconds in one HdrHistogram per op type
  (get, set, mget) per thread (3 significant digits), merged at the end.
  The table shows count, ops/s, mean, p50, p90, p99, p99.9, p99.99 and max
  in milliseconds, with error replies and misses (nil GETs) per op.
  --json FILE writes {label, ops_per_sec, duration_s, requests, errors,
  misses, verify_mismatches, lost, ops: {<op>: {count, ops_per_sec, errors,
  misses, mean_us, stdev_us, min_us, p50_us, p90_us, p99_us, p999_us,
  p9999_us, max_us}}, config: {...}} (open loop adds send_lag_us).
  --hgrm DIR writes DIR/<label>-<op>.hgrm in HdrHistogram's percentile
  distribution format (outputPercentileDistribution, 5 ticks per half
  distance) with a value unit scaling ratio of 1000: recorded microseconds
  are divided by 1000, so the file's values are in milliseconds, as
  HistogramLogProcessor and the online HdrHistogram plotter expect.
  --svg FILE plots latency by percentile (log scale of 1/(1-p)) for this
  run's ops and every --compare-hgrm file.

Verification (--verify):
  Values are slices of a per-run random buffer chosen by (key, length). A
  GET must return exactly the value this run writes for that key and
  length, or nil if no SET of that key had been acknowledged when the GET
  was sent (any nil is accepted with --ttl). Values left by another run
  count as mismatches: use --prefill or a fresh --key-prefix.

Safety:
  Every run is bounded by --requests (default 100000) or --duration, and
  only loopback hosts are accepted unless --allow-remote is given.";

#[derive(Parser, Debug)]
#[command(
    name = "shardcache-bench",
    version,
    about = "Load generator for RESP servers (shardcache, Redis) with HdrHistogram latency reports",
    after_help = AFTER_HELP
)]
struct Args {
    /// Server host (loopback only unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 6380)]
    port: u16,
    /// Worker threads, each running one event loop.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Connections in total, spread over the threads.
    #[arg(long, default_value_t = 50)]
    connections: usize,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Total requests to issue [default: 100000 unless --duration].
    #[arg(long, conflicts_with = "duration")]
    requests: Option<u64>,
    /// Run for this long instead (e.g. 10s, 500ms, 2m).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Open loop: issue OPS requests per second in total on a fixed schedule.
    #[arg(long, value_name = "OPS")]
    rate: Option<f64>,
    /// Number of distinct keys.
    #[arg(long, default_value_t = 100_000)]
    keys: u64,
    /// Key distribution: uniform, zipf:S (e.g. zipf:0.99) or seq.
    #[arg(long, default_value = "uniform")]
    key_dist: KeyDist,
    /// Key prefix; keys are <prefix><index, zero-padded to 12 digits>.
    #[arg(long, default_value = "key:")]
    key_prefix: String,
    /// Value size in bytes: N or MIN..MAX (inclusive, uniform).
    #[arg(long, default_value = "32")]
    value_size: ValueSize,
    /// Operation mix GET:SET, e.g. 9:1, 1:0 (reads only), 0:1 (writes only).
    #[arg(long, default_value = "9:1")]
    ratio: Ratio,
    /// Reads become MGET of N keys (1: plain GET).
    #[arg(long, default_value_t = 1, value_name = "N")]
    mget: usize,
    /// SET with EX SECS.
    #[arg(long, value_name = "SECS")]
    ttl: Option<u64>,
    /// Write every key once before measuring.
    #[arg(long)]
    prefill: bool,
    /// Open a new TCP connection for every request (latency then includes
    /// the connect); --pipeline is ignored.
    #[arg(long)]
    reconnect: bool,
    /// Check every GET against what this run wrote; mismatches are errors.
    #[arg(long)]
    verify: bool,
    /// Write a JSON summary to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write <label>-<op>.hgrm percentile distributions into DIR.
    #[arg(long, value_name = "DIR")]
    hgrm: Option<PathBuf>,
    /// Write an SVG latency-by-percentile chart to FILE.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// .hgrm files to overlay on the --svg chart.
    #[arg(long, value_name = "FILE", num_args = 1.., requires = "svg")]
    compare_hgrm: Vec<PathBuf>,
    /// Name of this run in reports and file names.
    #[arg(long, default_value = "run")]
    label: String,
    /// No progress line, no table: one summary line.
    #[arg(long)]
    quiet: bool,
    /// Allow a host that is not a loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Give up on replies after this long without any reply (and bound the
    /// drain at the end of a --duration run).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// Random seed (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
}

/// `10s`, `500ms`, `2m`, `1h`, `1.5s`, or a plain number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?} (e.g. 10s, 500ms, 2m)"))?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => v,
        "ms" => v / 1e3,
        "us" => v / 1e6,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        u => return Err(format!("bad duration unit {u:?} (use ms, s, m or h)")),
    };
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(format!("duration must be positive: {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn resolve(host: &str, port: u16, allow_remote: bool) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| format!("{host} resolves to no address"))?;
    if !allow_remote {
        if let Some(bad) = addrs.iter().find(|a| !is_loopback(a.ip())) {
            return Err(format!(
                "refusing non-loopback address {} for host {host:?} (pass --allow-remote to permit it)",
                bad.ip()
            ));
        }
    }
    Ok(first)
}

/// Label made safe for file names.
fn file_label(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn build_config(a: &Args) -> Result<Config, String> {
    let addr = resolve(&a.host, a.port, a.allow_remote)?;
    if a.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    if a.threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    if a.pipeline == 0 {
        return Err("--pipeline must be at least 1".into());
    }
    if a.keys == 0 {
        return Err("--keys must be at least 1".into());
    }
    if a.mget == 0 {
        return Err("--mget must be at least 1".into());
    }
    if a.requests == Some(0) {
        return Err("--requests must be at least 1".into());
    }
    if let Some(r) = a.rate {
        if !(r > 0.0 && r.is_finite()) {
            return Err("--rate must be a positive number of ops per second".into());
        }
    }
    if a.ttl == Some(0) {
        return Err("--ttl must be at least 1 second".into());
    }
    if a.verify && a.keys > 1 << 32 {
        return Err("--verify supports at most 2^32 keys".into());
    }
    let requests = match (a.requests, a.duration) {
        (None, None) => Some(100_000),
        (r, _) => r,
    };
    let seed = a.seed.unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        keys::mix(t ^ u64::from(std::process::id()))
    });
    Ok(Config {
        addr,
        threads: a.threads.min(a.connections),
        connections: a.connections,
        pipeline: a.pipeline,
        requests,
        duration: a.duration,
        rate: a.rate,
        keys: a.keys,
        key_dist: a.key_dist,
        key_format: KeyFormat::new(&a.key_prefix, a.keys),
        value_size: a.value_size,
        ratio: a.ratio,
        mget: a.mget,
        ttl: a.ttl,
        prefill: a.prefill,
        reconnect: a.reconnect,
        verify: a.verify,
        timeout: a.timeout,
        seed,
    })
}

fn config_json(a: &Args, c: &Config) -> serde_json::Value {
    serde_json::json!({
        "host": a.host,
        "port": a.port,
        "threads": c.threads,
        "connections": c.connections,
        "pipeline": if c.reconnect { 1 } else { c.pipeline },
        "requests": c.requests,
        "duration_s": c.duration.map(|d| d.as_secs_f64()),
        "rate": c.rate,
        "keys": c.keys,
        "key_dist": format!("{:?}", c.key_dist).to_lowercase(),
        "key_prefix": a.key_prefix,
        "value_size": [c.value_size.min, c.value_size.max],
        "ratio": format!("{}:{}", c.ratio.get, c.ratio.set),
        "mget": c.mget,
        "ttl": c.ttl,
        "prefill": c.prefill,
        "reconnect": c.reconnect,
        "verify": c.verify,
        "seed": c.seed,
    })
}

fn describe(c: &Config) -> String {
    let bound = match (c.requests, c.duration) {
        (Some(n), _) => format!("{n} requests"),
        (None, Some(d)) => format!("{:.1} s", d.as_secs_f64()),
        _ => String::new(),
    };
    let lp = match c.rate {
        Some(r) => format!("open loop at {r} ops/s"),
        None => "closed loop".into(),
    };
    format!(
        "{} | {} threads, {} connections{}, pipeline {}, {}, {} | keys {} {:?}, value {}{}, GET:SET {}:{}{}{}{}{}",
        c.addr,
        c.threads,
        c.connections,
        if c.reconnect { " (reconnect per request)" } else { "" },
        if c.reconnect { 1 } else { c.pipeline },
        bound,
        lp,
        c.keys,
        c.key_dist,
        c.value_size.min,
        if c.value_size.max != c.value_size.min {
            format!("..{}", c.value_size.max)
        } else {
            String::new()
        },
        c.ratio.get,
        c.ratio.set,
        if c.mget > 1 { format!(", MGET {}", c.mget) } else { String::new() },
        c.ttl.map(|t| format!(", EX {t}")).unwrap_or_default(),
        if c.prefill { ", prefill" } else { "" },
        if c.verify { ", verify" } else { "" },
    )
}

fn run(a: Args) -> Result<bool, String> {
    let cfg = build_config(&a)?;
    if a.reconnect && a.pipeline > 1 && !a.quiet {
        eprintln!("note: --reconnect sends one request per connection; --pipeline ignored");
    }
    let config_json = config_json(&a, &cfg);
    if !a.quiet {
        println!("shardcache-bench [{}] {}", a.label, describe(&cfg));
    }
    let plans = engine::plans(&cfg);
    let shared = Shared::new(cfg);
    let show_progress = !a.quiet && std::io::stdout().is_terminal();

    let results = std::thread::scope(|s| {
        let handles: Vec<_> = plans
            .iter()
            .map(|&p| {
                let sh = &shared;
                std::thread::Builder::new()
                    .name(format!("bench-{}", p.thread))
                    .spawn_scoped(s, move || engine::run_thread(sh, p))
                    .expect("spawning a worker thread")
            })
            .collect();
        if show_progress {
            progress(&shared, &handles);
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("worker thread panicked".into()))
            })
            .collect::<Vec<_>>()
    });

    let mut ops = [OpStats::new(), OpStats::new(), OpStats::new()];
    let mut failures = Failures::default();
    let mut send_lag = stats::new_histogram();
    let mut start: Option<Instant> = None;
    let mut end: Option<Instant> = None;
    for r in results {
        let r = r?;
        for (m, o) in ops.iter_mut().zip(&r.ops) {
            m.merge(o);
        }
        failures.merge(&r.failures);
        send_lag
            .add(&r.send_lag)
            .expect("histograms share their bounds");
        start = Some(start.map_or(r.start, |s| s.min(r.start)));
        end = Some(end.map_or(r.end, |e| e.max(r.end)));
    }
    let duration = match (start, end) {
        (Some(s), Some(e)) => e - s,
        _ => Duration::ZERO,
    };
    let run = RunStats {
        ops,
        send_lag: a.rate.map(|_| send_lag),
        failures,
        duration,
    };

    if a.quiet {
        println!(
            "{}: {:.1} ops/s, {} requests in {:.3} s, errors {}, misses {}",
            a.label,
            run.ops_per_sec(),
            run.completed(),
            duration.as_secs_f64(),
            run.errors(),
            run.misses()
        );
    } else {
        print!("{}", stats::table(&run));
    }

    if let Some(path) = &a.json {
        let summary = stats::Summary::new(&a.label, &run, config_json);
        let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
        write_file(path, &(text + "\n"))?;
    }
    if let Some(dir) = &a.hgrm {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        for op in OPS {
            let st = &run.ops[op as usize];
            if st.hist.is_empty() {
                continue;
            }
            let path = dir.join(format!("{}-{}.hgrm", file_label(&a.label), op.name()));
            write_file(&path, &stats::hgrm(&st.hist, stats::HGRM_SCALING_RATIO))?;
        }
    }
    if let Some(path) = &a.svg {
        let mut series = Vec::new();
        for op in OPS {
            let st = &run.ops[op as usize];
            if st.hist.is_empty() {
                continue;
            }
            series.push(svg::Series {
                name: format!("{} {}", a.label, op.name()),
                points: stats::percentile_rows(&st.hist, stats::HGRM_SCALING_RATIO)
                    .into_iter()
                    .map(|(q, v, _)| (q, v))
                    .collect(),
            });
        }
        for f in &a.compare_hgrm {
            let text =
                std::fs::read_to_string(f).map_err(|e| format!("reading {}: {e}", f.display()))?;
            let points = stats::parse_hgrm(&text);
            if points.is_empty() {
                return Err(format!("{}: no percentile rows found", f.display()));
            }
            series.push(svg::Series {
                name: f
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| f.display().to_string()),
                points,
            });
        }
        write_file(
            path,
            &svg::render("Latency by Percentile Distribution", &series),
        )?;
    }
    if run.failures.mismatches > 0 {
        eprintln!(
            "verify: {} values did not match what this run wrote",
            run.failures.mismatches
        );
        return Ok(false);
    }
    Ok(true)
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
    }
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn progress<T>(sh: &Shared, handles: &[std::thread::ScopedJoinHandle<'_, T>]) {
    let bar = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
            .expect("valid progress template"),
    );
    let tick = Duration::from_millis(250);
    let mut last = (Instant::now(), 0u64);
    let mut measuring_since: Option<Instant> = None;
    while !handles.iter().all(|h| h.is_finished()) {
        std::thread::sleep(tick);
        let now = Instant::now();
        if sh.measuring.load(Ordering::Relaxed) {
            let since = *measuring_since.get_or_insert(now);
            let done = sh.completed.load(Ordering::Relaxed);
            let dt = (now - last.0).as_secs_f64();
            let rate = if dt > 0.0 {
                (done - last.1) as f64 / dt
            } else {
                0.0
            };
            last = (now, done);
            bar.set_message(format!(
                "{:>10.0} ops/s  {} done in {:.1} s  errors {}",
                rate,
                done,
                (now - since).as_secs_f64(),
                sh.errors.load(Ordering::Relaxed)
            ));
        } else {
            bar.set_message(format!(
                "prefill: {} of {} keys written",
                sh.prefilled.load(Ordering::Relaxed),
                sh.cfg.keys
            ));
        }
        bar.tick();
    }
    bar.finish_and_clear();
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("shardcache-bench: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn loopback_only_by_default() {
        assert!(resolve("127.0.0.1", 6380, false).is_ok());
        assert!(resolve("127.3.4.5", 6380, false).is_ok());
        assert!(resolve("::1", 6380, false).is_ok());
        assert!(resolve("localhost", 6380, false).is_ok());
        let err = resolve("10.0.0.1", 6380, false).unwrap_err();
        assert!(err.contains("--allow-remote"), "{err}");
        assert!(resolve("192.168.1.1", 6380, true).is_ok());
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn cli_flags_parse() {
        let a = Args::try_parse_from([
            "shardcache-bench",
            "--port",
            "7000",
            "--threads",
            "2",
            "--connections",
            "8",
            "--pipeline",
            "4",
            "--duration",
            "2s",
            "--rate",
            "1000",
            "--key-dist",
            "zipf:0.9",
            "--value-size",
            "10..100",
            "--ratio",
            "1:0",
            "--mget",
            "3",
            "--ttl",
            "60",
            "--prefill",
            "--verify",
            "--svg",
            "x.svg",
            "--compare-hgrm",
            "a.hgrm",
            "b.hgrm",
            "--quiet",
        ])
        .unwrap();
        let c = build_config(&a).unwrap();
        assert_eq!(c.requests, None);
        assert_eq!(c.duration, Some(Duration::from_secs(2)));
        assert_eq!(c.key_dist, KeyDist::Zipf(0.9));
        assert_eq!(c.value_size, ValueSize { min: 10, max: 100 });
        assert_eq!(a.compare_hgrm.len(), 2);
        // Defaults: bounded by request count.
        let d = build_config(&Args::try_parse_from(["shardcache-bench"]).unwrap()).unwrap();
        assert_eq!(d.requests, Some(100_000));
        assert_eq!(d.addr, "127.0.0.1:6380".parse().unwrap());
        // Conflicts and dependencies.
        assert!(Args::try_parse_from(["b", "--requests", "5", "--duration", "1s"]).is_err());
        assert!(Args::try_parse_from(["b", "--compare-hgrm", "a.hgrm"]).is_err());
        assert!(Args::try_parse_from(["b", "--ratio", "x"]).is_err());
    }

    #[test]
    fn labels_become_file_names() {
        assert_eq!(file_label("redis P16/zipf"), "redis_P16_zipf");
    }
}
