//! Real client libraries against shardcache (`--shards 4 --workers 2`):
//! redis-py (tests/clients/redis_py_scenario.py, over RESP2, RESP3 and the
//! client's default), the `redis` crate, and `redis-cli`. Each scenario
//! crosses shards on purpose: its four keys are picked here and asserted to
//! route to four different shards.
//!
//! With `SHARDCACHE_TEST_AGAINST_REDIS=1` the same scenarios run against a
//! real `redis-server`, which is how their expectations were checked. A
//! missing python3, redis-py (>= 5, for RESP3) or redis-cli skips its test
//! with a message, except when `CI` is set, where it fails. `SHARDCACHE_PYTHON`
//! names another interpreter than `python3`.

mod common;

use common::{wait_until, Server, IO_TIMEOUT};
use redis::{Commands, Expiry, RedisResult, Value};
use shards::route::Router;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Shard count `Server::start` passes.
const SHARDS: usize = 4;
/// How long the redis-py scenario may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Four keys `prefix:N` that route to four different shards.
fn keys_on_distinct_shards(prefix: &str) -> [String; 4] {
    let router = Router::new(SHARDS);
    let mut found: Vec<Option<String>> = vec![None; SHARDS];
    for i in 0.. {
        let k = format!("{prefix}:{i}");
        let slot = &mut found[router.shard_of(k.as_bytes())];
        if slot.is_none() {
            *slot = Some(k);
        }
        if found.iter().all(Option::is_some) {
            break;
        }
    }
    let keys: Vec<String> = found.into_iter().map(|k| k.expect("found")).collect();
    let shards: HashSet<usize> = keys.iter().map(|k| router.shard_of(k.as_bytes())).collect();
    assert_eq!(shards.len(), 4, "{keys:?} must span four shards");
    [
        keys[0].clone(),
        keys[1].clone(),
        keys[2].clone(),
        keys[3].clone(),
    ]
}

/// Skips with `why`, or fails under `CI`, where every client is installed.
fn skip_or_fail(test: &str, why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {why} (CI is set, so this fails instead of skipping)");
    }
    eprintln!("{test} SKIPPED: {why}");
}

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

/// A file under the system temp dir for one child's output.
fn temp_file(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!(
        "shardcache-clients-{tag}-{}-{nanos}",
        std::process::id()
    ))
}

// ------------------------------------------------------------------ redis-py

/// The interpreter and the redis-py version it imports, or why not.
fn python_with_redis_py() -> Result<(String, String), String> {
    let python = std::env::var("SHARDCACHE_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .args(["-c", "import redis; print(redis.__version__)"])
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{python} cannot import the `redis` package (pip install 'redis>=5', \
             or see .ci/run): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 5 {
        return Err(format!(
            "{python} has redis-py {version}; the scenario needs >= 5 (RESP3)"
        ));
    }
    Ok((python, version))
}

#[test]
fn redis_py_scenario() {
    let (python, version) = match python_with_redis_py() {
        Ok(found) => found,
        Err(why) => return skip_or_fail("redis_py_scenario", &why),
    };
    let server = Server::start(&[]);
    let keys = keys_on_distinct_shards("py");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/redis_py_scenario.py");
    let log = temp_file("redis-py");
    let out = std::fs::File::create(&log).expect("create the output file");
    let mut child = Command::new(&python)
        .arg(&script)
        .args(["--host", "127.0.0.1", "--port", &server.port().to_string()])
        .args(["--keys", &keys.join(",")])
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone the output file"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python} {}: {e}", script.display()));
    let started = Instant::now();
    let mut status = None;
    let finished = wait_until(SCRIPT_TIMEOUT, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    if !finished {
        let _ = child.kill();
        let _ = child.wait();
    }
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    eprintln!(
        "redis-py {version} scenario against port {} (keys {keys:?}), {:.1?}:\n{output}",
        server.port(),
        started.elapsed()
    );
    assert!(
        finished,
        "the redis-py scenario ran past {SCRIPT_TIMEOUT:?}"
    );
    let status = status.expect("finished");
    assert!(
        status.success(),
        "the redis-py scenario failed ({status}): {}",
        output
            .lines()
            .find(|l| l.starts_with("FAIL"))
            .unwrap_or("see its output above")
    );
}

// ------------------------------------------------------------ redis crate

/// Unwraps a client result, naming the step that failed.
#[track_caller]
fn ok<T>(step: &str, r: RedisResult<T>) -> T {
    r.unwrap_or_else(|e| panic!("{step}: {e}"))
}

fn connect(url: &str) -> redis::Connection {
    let client = redis::Client::open(url).expect("valid redis URL");
    let con = client
        .get_connection_with_timeout(IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    con.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    con.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    con
}

#[track_caller]
fn ttl_within(con: &mut redis::Connection, key: &str, lo: i64, hi: i64, step: &str) {
    let ttl: i64 = ok(step, con.ttl(key));
    assert!(
        (lo..=hi).contains(&ttl),
        "{step}: TTL {ttl} not in {lo}..={hi}"
    );
}

fn crate_atomic_pipeline(con: &mut redis::Connection, keys: &[String; 4]) {
    let [a, c, d, g] = keys;
    let step = "pipe().atomic() across four shards";
    let () = ok(step, con.set(g, "gone"));
    let res: (String, String, i64, Vec<Option<String>>, i64, i64) = ok(
        step,
        redis::pipe()
            .atomic()
            .set(a, "v1")
            .set(c, "v2")
            .incr(d, 42)
            .mget(keys)
            .del(g)
            .exists(keys)
            .query(con),
    );
    assert_eq!(
        res,
        (
            "OK".into(),
            "OK".into(),
            42,
            vec![
                Some("v1".into()),
                Some("v2".into()),
                Some("42".into()),
                Some("gone".into())
            ],
            1,
            3
        ),
        "{step}"
    );
    let step = "an error inside EXEC";
    let res: RedisResult<()> = redis::pipe()
        .atomic()
        .set(a, "notanumber")
        .incr(a, 1)
        .set(c, "after")
        .query(con);
    let err = res.expect_err("EXEC with a failing INCR is an error for the crate");
    assert!(
        err.to_string().contains("not an integer"),
        "{step}: unexpected error {err}"
    );
    let after: String = ok(step, con.get(c));
    assert_eq!(after, "after", "{step}: the commands after it ran");
}

fn crate_plain_pipeline(con: &mut redis::Connection) {
    let step = "non-atomic pipeline of 100 SETs and GETs";
    let mut p = redis::pipe();
    for i in 0..100 {
        p.set(format!("pipe:{i}"), i).ignore();
    }
    for i in 0..100 {
        p.get(format!("pipe:{i}"));
    }
    let got: Vec<i64> = ok(step, p.query(con));
    assert_eq!(got, (0..100).collect::<Vec<i64>>(), "{step}");
}

fn crate_scan(con: &mut redis::Connection) {
    let step = "scan_match";
    let written: HashSet<String> = (0..57).map(|i| format!("scan:{i}")).collect();
    let mut p = redis::pipe();
    for k in &written {
        p.set(k, "x").ignore();
    }
    p.set("noscan:1", "x").ignore().set("scanx", "x").ignore();
    let () = ok(step, p.query(con));
    let seen: HashSet<String> = ok(step, con.scan_match::<_, String>("scan:*")).collect();
    assert_eq!(seen, written, "{step}");
    let step = "SCAN MATCH COUNT 7 through cmd().iter()";
    let mut scan = redis::cmd("SCAN");
    scan.cursor_arg(0)
        .arg("MATCH")
        .arg("scan:*")
        .arg("COUNT")
        .arg(7);
    let seen: HashSet<String> = ok(step, scan.iter::<String>(con)).collect();
    assert_eq!(seen, written, "{step}");
}

fn crate_expiries(con: &mut redis::Connection, keys: &[String; 4]) {
    let k = keys[0].as_str();
    let step = "SET EX / PX, TTL, PTTL, EXPIRE, PERSIST";
    let () = ok(step, con.set_ex(k, "v", 100));
    ttl_within(con, k, 99, 100, "TTL after SETEX 100");
    let () = ok(step, con.pset_ex(k, "v", 50_000));
    let pttl: i64 = ok(step, con.pttl(k));
    assert!((45_000..=50_000).contains(&pttl), "PTTL {pttl}");
    let set: bool = ok(step, con.expire(k, 200));
    assert!(set, "EXPIRE of an existing key");
    ttl_within(con, k, 199, 200, "TTL after EXPIRE 200");
    let persisted: bool = ok(step, con.persist(k));
    assert!(persisted, "PERSIST");
    ttl_within(con, k, -1, -1, "TTL after PERSIST");
    let opts = redis::SetOptions::default()
        .conditional_set(redis::ExistenceCheck::XX)
        .get(true)
        .with_expiration(redis::SetExpiry::PX(100_000));
    let old: Option<String> = ok(step, con.set_options(k, "v2", opts));
    assert_eq!(
        old.as_deref(),
        Some("v"),
        "SET XX GET PX returns the old value"
    );
    ttl_within(con, k, 95, 100, "TTL after SET XX GET PX 100000");
    let set: bool = ok(step, con.pexpire(k, 150));
    assert!(set, "PEXPIRE 150");
    std::thread::sleep(Duration::from_millis(400));
    let gone: Option<String> = ok(step, con.get(k));
    assert_eq!(gone, None, "GET after the key expired");
    ttl_within(con, k, -2, -2, "TTL of an expired key");
}

fn crate_incrbyfloat(con: &mut redis::Connection, keys: &[String; 4]) {
    let k = keys[1].as_str();
    let step = "INCRBYFLOAT";
    let v: f64 = ok(step, con.incr(k, 10.5f64));
    assert_eq!(v, 10.5, "{step} of a new key");
    let v: f64 = ok(step, con.incr(k, 0.1f64));
    assert_eq!(v, 10.6, "{step} 0.1");
    let s: String = ok(step, con.get(k));
    assert_eq!(s, "10.6", "{step}: the stored string");
    let () = ok(step, con.set(k, "5.0e3"));
    let _: f64 = ok(step, con.incr(k, 0f64));
    let s: String = ok(step, con.get(k));
    assert_eq!(s, "5000", "{step}: 5.0e3 + 0 is stored as 5000");
    let () = ok(step, con.set(k, "abc"));
    let err = con
        .incr::<_, _, f64>(k, 1.5f64)
        .expect_err("INCRBYFLOAT of 'abc'");
    assert!(
        err.to_string().contains("not a valid float"),
        "{step}: unexpected error {err}"
    );
}

fn crate_msetnx(con: &mut redis::Connection, keys: &[String; 4]) {
    let [a, c, d, g] = keys;
    let step = "MSETNX across shards";
    let set: bool = ok(step, con.mset_nx(&[(a, "1"), (c, "2")]));
    assert!(set, "{step}: new keys");
    let set: bool = ok(step, con.mset_nx(&[(d, "3"), (g, "4"), (a, "x")]));
    assert!(!set, "{step}: one key exists");
    let got: Vec<Option<String>> = ok(step, con.mget(keys));
    assert_eq!(
        got,
        vec![Some("1".into()), Some("2".into()), None, None],
        "{step} is all or nothing"
    );
}

fn crate_getex(con: &mut redis::Connection, keys: &[String; 4]) {
    let k = keys[2].as_str();
    let step = "GETEX";
    let () = ok(step, con.set(k, "v"));
    let v: String = ok(step, con.get_ex(k, Expiry::EX(100)));
    assert_eq!(v, "v", "{step} EX");
    ttl_within(con, k, 99, 100, "TTL after GETEX EX 100");
    let v: String = ok(step, con.get_ex(k, Expiry::PERSIST));
    assert_eq!(v, "v", "{step} PERSIST");
    ttl_within(con, k, -1, -1, "TTL after GETEX PERSIST");
    let v: Option<String> = ok(step, con.get_ex("missing", Expiry::PX(10)));
    assert_eq!(v, None, "{step} of a missing key");
}

fn crate_rename(con: &mut redis::Connection, keys: &[String; 4]) {
    let [a, c, d, g] = keys;
    let step = "RENAME across shards";
    let () = ok(step, con.set_ex(a, "moved", 100));
    let () = ok(step, con.rename(a, c));
    let got: Vec<Option<String>> = ok(step, con.mget(&[a, c]));
    assert_eq!(got, vec![None, Some("moved".into())], "{step}");
    ttl_within(con, c, 99, 100, "RENAME keeps the TTL");
    let () = ok(step, con.set(d, "taken"));
    let renamed: bool = ok(step, con.rename_nx(c, d));
    assert!(!renamed, "RENAMENX onto an existing key");
    let renamed: bool = ok(step, con.rename_nx(c, g));
    assert!(renamed, "RENAMENX onto a free key");
    let err = con
        .rename::<_, _, ()>("missing", a)
        .expect_err("RENAME of a missing key");
    assert!(err.to_string().contains("no such key"), "{step}: {err}");
}

fn crate_transaction(con: &mut redis::Connection, other: &mut redis::Connection, key: &str) {
    let step = "redis::transaction with a concurrent writer";
    let () = ok(step, con.set(key, 10));
    let mut seen = Vec::new();
    let result: (i64,) = ok(
        step,
        redis::transaction(con, &[key], |con, pipe| {
            let value: i64 = con.get(key)?;
            if seen.is_empty() {
                // Another client writes the watched key before EXEC.
                let _: i64 = other.incr(key, 100)?;
            }
            seen.push(value);
            pipe.set(key, value + 1).ignore().get(key).query(con)
        }),
    );
    assert_eq!(seen, vec![10, 110], "{step}: values seen per attempt");
    assert_eq!(result, (111,), "{step}: result of the successful EXEC");
}

fn crate_resp3(url: &str) {
    let step = "RESP3 connection";
    let mut con = connect(&format!("{url}?protocol=resp3"));
    let hello: Value = ok(step, redis::cmd("HELLO").query(&mut con));
    let Value::Map(fields) = hello else {
        panic!("{step}: HELLO is not a map: {hello:?}");
    };
    let proto = fields
        .iter()
        .find(|(k, _)| matches!(k, Value::BulkString(b) if b == b"proto"))
        .map(|(_, v)| v.clone());
    assert_eq!(proto, Some(Value::Int(3)), "{step}: HELLO proto");
    let pong: String = ok(step, redis::cmd("PING").query(&mut con));
    assert_eq!(pong, "PONG");
    let () = ok(step, con.set("resp3:k", "v"));
    let missing: Value = ok(step, redis::cmd("GET").arg("resp3:missing").query(&mut con));
    assert_eq!(missing, Value::Nil, "{step}: GET of a missing key");
    let got: Vec<Option<String>> = ok(step, con.mget(&["resp3:k", "resp3:missing"]));
    assert_eq!(got, vec![Some("v".into()), None], "{step}: MGET");
    let n: i64 = ok(step, con.incr("resp3:n", 1));
    assert_eq!(n, 1, "{step}: INCR");
    let config: Value = ok(
        step,
        redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory")
            .query(&mut con),
    );
    assert!(
        matches!(config, Value::Map(ref m) if m.len() == 1),
        "{step}: CONFIG GET is a one-entry map: {config:?}"
    );
}

/// One step of the crate scenario: main connection, second connection, keys.
type Step = fn(&mut redis::Connection, &mut redis::Connection, &[String; 4]);

#[test]
fn redis_crate_scenario() {
    let server = Server::start(&[]);
    let url = format!("redis://{}/", server.addr());
    let keys = keys_on_distinct_shards("rs");
    let steps: [(&str, Step); 9] = [
        ("pipe().atomic()", |c, _, k| crate_atomic_pipeline(c, k)),
        ("pipe()", |c, _, _| crate_plain_pipeline(c)),
        ("scan_match", |c, _, _| crate_scan(c)),
        ("expiries", |c, _, k| crate_expiries(c, k)),
        ("INCRBYFLOAT", |c, _, k| crate_incrbyfloat(c, k)),
        ("MSETNX", |c, _, k| crate_msetnx(c, k)),
        ("GETEX", |c, _, k| crate_getex(c, k)),
        ("RENAME", |c, _, k| crate_rename(c, k)),
        ("transaction", |c, o, k| crate_transaction(c, o, &k[3])),
    ];
    // Every step runs, on fresh connections, so one missing command does not
    // hide the state of the others; the test fails once, naming them all.
    let mut failed = Vec::new();
    for (name, step) in steps {
        let run = std::panic::catch_unwind(|| {
            let mut con = connect(&url);
            let mut other = connect(&url);
            let () = ok("FLUSHALL", redis::cmd("FLUSHALL").query(&mut con));
            step(&mut con, &mut other, &keys);
        });
        eprintln!(
            "{}   redis crate: {name}",
            if run.is_ok() { "ok" } else { "FAIL" }
        );
        if run.is_err() {
            failed.push(name);
        }
    }
    let resp3 = std::panic::catch_unwind(|| crate_resp3(&url));
    eprintln!(
        "{}   redis crate: RESP3",
        if resp3.is_ok() { "ok" } else { "FAIL" }
    );
    if resp3.is_err() {
        failed.push("RESP3");
    }
    assert!(
        failed.is_empty(),
        "redis crate steps failed (messages above): {failed:?}"
    );
}

// ----------------------------------------------------------------- redis-cli

/// Runs `redis-cli -p PORT ARGS` and returns its stdout.
fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli runs");
    assert!(
        out.status.success(),
        "redis-cli {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

#[test]
fn redis_cli_checks() {
    if !on_path("redis-cli") {
        return skip_or_fail(
            "redis_cli_checks",
            "`redis-cli` is not on PATH (apt-get install redis-tools)",
        );
    }
    let server = Server::start(&[]);
    let p = server.port();
    let cli = |args: &[&str]| redis_cli(p, args);
    assert_eq!(cli(&["--no-raw", "SET", "k", "v"]), "OK\n");
    assert_eq!(cli(&["--no-raw", "GET", "k"]), "\"v\"\n");
    assert_eq!(cli(&["--no-raw", "GET", "missing"]), "(nil)\n");
    assert_eq!(cli(&["--no-raw", "INCR", "n"]), "(integer) 1\n");
    assert_eq!(cli(&["--no-raw", "TTL", "k"]), "(integer) -1\n");
    assert_eq!(
        cli(&["--no-raw", "MGET", "k", "missing", "n"]),
        "1) \"v\"\n2) (nil)\n3) \"1\"\n"
    );
    assert_eq!(cli(&["--no-raw", "SET", "bin", "a\x01b"]), "OK\n");
    assert_eq!(cli(&["--no-raw", "GET", "bin"]), "\"a\\x01b\"\n");
    assert_eq!(
        cli(&["--no-raw", "INCR", "k"]),
        "(error) ERR value is not an integer or out of range\n"
    );
    assert_eq!(
        cli(&["--no-raw", "EXISTS", "k", "n", "missing"]),
        "(integer) 2\n"
    );
    assert_eq!(cli(&["GET", "k"]), "v\n", "raw output when not a tty");

    let mut pipe_input = String::new();
    for i in 0..40 {
        pipe_input.push_str(&format!("SET user:{i} {i}\n"));
    }
    pipe_input.push_str("SET other:1 x\nSET userx x\n");
    let mut child = Command::new("redis-cli")
        .args(["-p", &p.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-cli runs");
    std::io::Write::write_all(
        child.stdin.as_mut().expect("piped stdin"),
        pipe_input.as_bytes(),
    )
    .expect("write to redis-cli");
    drop(child.stdin.take());
    assert!(child.wait().expect("redis-cli exits").success());

    let mut expected: Vec<String> = (0..40).map(|i| format!("user:{i}")).collect();
    expected.sort();
    let args = ["--scan", "--pattern", "user:*"];
    let mut got: Vec<String> = cli(&args).lines().map(str::to_string).collect();
    got.sort();
    got.dedup();
    assert_eq!(got, expected, "redis-cli {args:?}");
    let mut all: Vec<String> = cli(&["--scan"]).lines().map(str::to_string).collect();
    all.sort();
    all.dedup();
    expected.extend(["bin", "k", "n", "other:1", "userx"].map(String::from));
    expected.sort();
    assert_eq!(all, expected, "redis-cli --scan");
}
