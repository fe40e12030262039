//! End-to-end tests: run the `shardcache-bench` binary against a real RESP
//! server. The shardcache server binary is not visible from this crate, so
//! the peer is `redis-server` (skipped with a note when it is not on PATH).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BENCH: &str = env!("CARGO_BIN_EXE_shardcache-bench");

fn redis_server_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("redis-server"))
        .find(|p| p.is_file())
}

/// A redis-server on a free loopback port, killed on drop.
struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Option<Redis> {
        let Some(bin) = redis_server_path() else {
            println!("note: redis-server not on PATH; skipping this test");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        for _attempt in 0..5 {
            // redis-server has no `--port 0`: take a free port from the
            // kernel, release it and hand it over.
            let port = {
                let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
                l.local_addr().unwrap().port()
            };
            let mut child = Command::new(&bin)
                .args(["--port", &port.to_string()])
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(Redis {
                        child,
                        port,
                        _dir: dir,
                    });
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port taken in the meantime: try another
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server did not start");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bench(port: u16, args: &[&str]) -> Output {
    let out = Command::new(BENCH)
        .args(["--port", &port.to_string()])
        .args(args)
        .output()
        .expect("run shardcache-bench");
    println!(
        "$ shardcache-bench --port {port} {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("JSON report written");
    serde_json::from_str(&text).expect("valid JSON")
}

fn check_op(v: &Value, op: &str) {
    let o = &v["ops"][op];
    for f in [
        "count", "p50_us", "p90_us", "p99_us", "p999_us", "p9999_us", "max_us", "mean_us",
    ] {
        assert!(o[f].is_number(), "ops.{op}.{f} missing in {o}");
    }
    assert!(o["count"].as_u64().unwrap() > 0);
    let p = |f: &str| o[f].as_u64().unwrap();
    assert!(p("p50_us") <= p("p90_us"));
    assert!(p("p90_us") <= p("p99_us"));
    assert!(p("p99_us") <= p("p999_us"));
    assert!(p("p999_us") <= p("p9999_us"));
    assert!(p("p9999_us") <= p("max_us"));
}

#[test]
fn timed_run_writes_json_hgrm_and_svg() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let hgrm = dir.path().join("hgrm");
    let svg = dir.path().join("chart.svg");
    let out = bench(
        redis.port,
        &[
            "--duration",
            "1s",
            "--threads",
            "2",
            "--connections",
            "8",
            "--pipeline",
            "4",
            "--ratio",
            "9:1",
            "--keys",
            "1000",
            "--label",
            "redis",
            "--json",
            json.to_str().unwrap(),
            "--hgrm",
            hgrm.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let v = read_json(&json);
    assert_eq!(v["label"], "redis");
    assert!(v["ops_per_sec"].as_f64().unwrap() > 0.0);
    let d = v["duration_s"].as_f64().unwrap();
    assert!((0.9..3.0).contains(&d), "duration_s {d}");
    assert_eq!(v["errors"].as_u64(), Some(0));
    check_op(&v, "get");
    check_op(&v, "set");
    let gets = v["ops"]["get"]["count"].as_f64().unwrap();
    let sets = v["ops"]["set"]["count"].as_f64().unwrap();
    let share = gets / (gets + sets);
    assert!((0.85..0.95).contains(&share), "GET share {share}");

    let text = std::fs::read_to_string(hgrm.join("redis-get.hgrm")).unwrap();
    assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
    assert!(text.contains("#[Mean    = "));
    assert!(text.contains(&format!(
        "Total count    = {:>12}]",
        v["ops"]["get"]["count"].as_u64().unwrap()
    )));
    assert!(hgrm.join("redis-set.hgrm").is_file());
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.starts_with("<svg") && chart.contains("redis get"));

    // A second run overlays the first run's histograms.
    let svg2 = dir.path().join("compare.svg");
    let out = bench(
        redis.port,
        &[
            "--requests",
            "2000",
            "--ratio",
            "1:0",
            "--quiet",
            "--label",
            "again",
            "--svg",
            svg2.to_str().unwrap(),
            "--compare-hgrm",
            hgrm.join("redis-get.hgrm").to_str().unwrap(),
            hgrm.join("redis-set.hgrm").to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let chart = std::fs::read_to_string(&svg2).unwrap();
    assert_eq!(chart.matches("<polyline").count(), 3);
    assert!(
        chart.contains("redis-get") && chart.contains("redis-set") && chart.contains("again get")
    );
}

#[test]
fn verify_run_has_no_mismatches() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (i, extra) in [
        &["--ratio", "1:1"][..],
        &["--ratio", "3:1", "--mget", "5", "--value-size", "1..200"][..],
    ]
    .iter()
    .enumerate()
    {
        let json = dir.path().join(format!("verify{i}.json"));
        let mut args = vec![
            "--verify",
            "--prefill",
            "--requests",
            "20000",
            "--keys",
            "2000",
            "--threads",
            "2",
            "--connections",
            "10",
            "--pipeline",
            "8",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = bench(redis.port, &args);
        assert!(out.status.success());
        let v = read_json(&json);
        assert_eq!(v["errors"].as_u64(), Some(0));
        assert_eq!(v["verify_mismatches"].as_u64(), Some(0));
        assert_eq!(v["requests"].as_u64(), Some(20000));
        // Every key was written first, so no read misses.
        assert_eq!(v["misses"].as_u64(), Some(0));
    }
}

#[test]
fn verify_flags_values_this_run_did_not_write() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("v.json");
    // Another "run" (another seed) writes the keys first ...
    let common = [
        "--keys",
        "100",
        "--key-dist",
        "seq",
        "--key-prefix",
        "foreign:",
    ];
    let mut args = vec![
        "--ratio",
        "0:1",
        "--requests",
        "100",
        "--seed",
        "1",
        "--quiet",
    ];
    args.extend_from_slice(&common);
    assert!(bench(redis.port, &args).status.success());
    // ... so reads that expect this run's values (or nil) must fail.
    let mut args = vec![
        "--ratio",
        "1:0",
        "--requests",
        "100",
        "--seed",
        "2",
        "--verify",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend_from_slice(&common);
    let out = bench(redis.port, &args);
    assert_eq!(out.status.code(), Some(1));
    let v = read_json(&json);
    assert_eq!(v["verify_mismatches"].as_u64(), Some(100));
    assert_eq!(v["errors"].as_u64(), Some(100));
}

#[test]
fn open_loop_keeps_the_requested_rate() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("rate.json");
    let out = bench(
        redis.port,
        &[
            "--rate",
            "2000",
            "--duration",
            "1s",
            "--connections",
            "4",
            "--pipeline",
            "16",
            "--ratio",
            "1:1",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let v = read_json(&json);
    assert_eq!(v["errors"].as_u64(), Some(0));
    // A fixed schedule: 2000 ops in 1 s whatever the server's speed (a
    // closed loop would do far more). A few may be missing when the
    // machine is so loaded that a connection still had --pipeline requests
    // in flight at the deadline.
    let n = v["requests"].as_u64().unwrap();
    assert!((1950..=2000).contains(&n), "{n} requests");
    assert!(v["send_lag_us"]["p50"].is_number());
}

#[test]
fn open_loop_charges_a_stall_to_every_request_scheduled_during_it() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stall.json");
    let child = Command::new(BENCH)
        .args(["--port", &redis.port.to_string()])
        .args(["--rate", "1000", "--duration", "2s", "--connections", "4"])
        .args([
            "--ratio",
            "1:0",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    // Freeze the server for 0.5 s in the middle of the run.
    std::thread::sleep(Duration::from_millis(700));
    let pid = redis.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(500));
    assert!(Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v = read_json(&json);
    let get = &v["ops"]["get"];
    let p = |f: &str| get[f].as_u64().unwrap();
    println!("{get}");
    // About 500 of 2000 requests were due during the stall, waiting 0 to
    // 500 ms each: measured from their intended send times, p90 is about
    // 300 ms and p99 about 480 ms. A closed loop would see only the 4
    // requests in flight when it began.
    assert!(p("p99_us") >= 300_000, "p99 {}", p("p99_us"));
    assert!(p("p90_us") >= 100_000, "p90 {}", p("p90_us"));
    assert!(p("max_us") >= 400_000, "max {}", p("max_us"));
    assert!(p("count") >= 1900);
    assert_eq!(v["errors"].as_u64(), Some(0));
}

#[test]
fn reconnect_mode_opens_a_connection_per_request() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("rc.json");
    let out = bench(
        redis.port,
        &[
            "--reconnect",
            "--requests",
            "300",
            "--connections",
            "1",
            "--ratio",
            "0:1",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let v = read_json(&json);
    assert_eq!(v["errors"].as_u64(), Some(0));
    assert_eq!(v["ops"]["set"]["count"].as_u64(), Some(300));
    // Redis counts the connections it accepted.
    let mut s = TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    use std::io::{Read, Write};
    s.write_all(b"INFO stats\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 16384];
    let mut text = String::new();
    while !text.contains("total_connections_received:") || !text.ends_with("\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let total: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(total >= 300, "redis accepted {total} connections");
}

#[test]
fn refuses_non_loopback_hosts() {
    // No server needed: the tool must refuse before sending anything.
    let out = Command::new(BENCH)
        .args(["--host", "192.0.2.1", "--requests", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));
}

#[test]
fn unreachable_server_fails_fast() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let t = Instant::now();
    let out = bench(port, &["--requests", "10", "--quiet"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("connecting to"));
    assert!(t.elapsed() < Duration::from_secs(10));
}
