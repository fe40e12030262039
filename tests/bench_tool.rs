//! The load generator against shardcache itself: `shardcache-bench` runs for
//! about a second against a server started on a free port, and its JSON
//! report must hold real, error-free measurements; a `--verify` run must find
//! every GET returning what it wrote.
//!
//! The tool is another package of the workspace, so its binary is found next
//! to the server's. `cargo test --workspace` (the README's test command, and
//! CI's) builds both before running any test.

mod common;

use common::Server;
use std::path::PathBuf;
use std::process::Command;

fn bench_binary() -> Option<PathBuf> {
    let server = PathBuf::from(env!("CARGO_BIN_EXE_shardcache"));
    let bench = server.with_file_name(format!("shardcache-bench{}", std::env::consts::EXE_SUFFIX));
    bench.exists().then_some(bench)
}

fn run_json(args: &[&str]) -> serde_like::Json {
    let bench = bench_binary().expect("checked by the caller");
    let out_dir = std::env::temp_dir().join(format!("shardcache-bench-it-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let json = out_dir.join(format!(
        "{}.json",
        args.join("_").replace(['-', ':', '/'], "")
    ));
    let status = Command::new(bench)
        .args(args)
        .arg("--json")
        .arg(&json)
        .arg("--quiet")
        .status()
        .expect("run shardcache-bench");
    assert!(
        status.success(),
        "shardcache-bench {args:?} failed: {status}"
    );
    let text = std::fs::read_to_string(&json).unwrap();
    let _ = std::fs::remove_dir_all(&out_dir);
    serde_like::Json(text)
}

/// Just enough JSON reading for flat numeric fields, to avoid a dependency.
mod serde_like {
    pub struct Json(pub String);
    impl Json {
        /// The first number after `"name":` at or after `from`.
        pub fn number_after(&self, from: &str, name: &str) -> f64 {
            let start = self
                .0
                .find(from)
                .unwrap_or_else(|| panic!("no {from} in {}", self.0));
            let rest = &self.0[start..];
            let key = format!("\"{name}\"");
            let at = rest
                .find(&key)
                .unwrap_or_else(|| panic!("no {name} after {from} in {}", self.0));
            let value = rest[at + key.len()..]
                .trim_start()
                .trim_start_matches(':')
                .trim_start();
            let end = value
                .find(|c: char| {
                    !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e' || c == '+')
                })
                .unwrap_or(value.len());
            value[..end]
                .parse()
                .unwrap_or_else(|_| panic!("{name} is not a number in {}", self.0))
        }
        pub fn number(&self, name: &str) -> f64 {
            self.number_after("{", name)
        }
    }
}

#[test]
fn bench_tool_measures_shardcache_and_reports_json() {
    if bench_binary().is_none() {
        // CI runs `cargo test --workspace`, which builds the tool first: there
        // a missing binary is a failure, not a reason to skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "shardcache-bench was not built next to shardcache"
        );
        eprintln!("skipped: shardcache-bench is not built (run `cargo test --workspace`)");
        return;
    }
    let s = Server::start(&[]);
    let port = s.port().to_string();
    let report = run_json(&[
        "--port",
        &port,
        "--connections",
        "8",
        "--pipeline",
        "4",
        "--duration",
        "1s",
        "--ratio",
        "1:1",
        "--keys",
        "1000",
        "--prefill",
        "--label",
        "it",
    ]);
    assert!(report.number("ops_per_sec") > 0.0, "{}", report.0);
    assert_eq!(report.number("errors"), 0.0, "{}", report.0);
    let duration = report.number("duration_s");
    assert!(
        (0.5..5.0).contains(&duration),
        "ran about a second: {duration}"
    );
    for op in ["\"get\"", "\"set\""] {
        let count = report.number_after(op, "count");
        assert!(count > 0.0, "{op} measured: {}", report.0);
        let (p50, p99, max) = (
            report.number_after(op, "p50_us"),
            report.number_after(op, "p99_us"),
            report.number_after(op, "max_us"),
        );
        assert!(
            p50 > 0.0 && p50 <= p99 && p99 <= max,
            "{op}: p50 {p50} p99 {p99} max {max}"
        );
    }
    assert!(
        report.0.contains("\"label\"") && report.0.contains("\"it\""),
        "{}",
        report.0
    );
    // The server saw the traffic the tool says it sent.
    let processed = s.info_int("stats", "total_commands_processed");
    assert!(
        processed as f64 >= report.number_after("\"get\"", "count"),
        "{processed}"
    );

    let verified = run_json(&[
        "--port",
        &port,
        "--connections",
        "4",
        "--pipeline",
        "8",
        "--requests",
        "20000",
        "--ratio",
        "1:1",
        "--keys",
        "500",
        "--verify",
        // Its own keys: the first run's values would rightly count as
        // mismatches (values this run did not write).
        "--key-prefix",
        "verify:",
        "--label",
        "verify",
    ]);
    assert_eq!(verified.number("errors"), 0.0, "{}", verified.0);
    assert_eq!(verified.number("verify_mismatches"), 0.0, "{}", verified.0);
}
