//! The commands operators use: INFO commandstats and errorstats, CONFIG
//! SET of the run-time parameters (each one taking effect), SLOWLOG,
//! CLIENT PAUSE / UNPAUSE, CLIENT NO-TOUCH and MONITOR. Real clients over
//! TCP, exact bytes where Redis 7.0.15's replies are deterministic.
//! `SHARDCACHE_TEST_AGAINST_REDIS=1` runs the same expectations against
//! `redis-server`; what is shardcache's own (flags, `--workers`, CLIENT
//! NO-TOUCH, a 7.2 command) is skipped there and says so.
//!
//! With `--workers 2` a new connection goes to the worker with fewer
//! connections, so two connections opened one after the other (the first
//! still open) are served by different workers: the cross-worker tests
//! rely on that.

mod common;

use common::proc::{tempdir, Proc};
use common::{against_redis, cmd, parse_info, wait_until, Raw, Reply, Server};
use std::time::{Duration, Instant};

/// The commandstats line of `name` as (calls, rejected, failed), checking
/// the line's shape (usec, usec_per_call with two decimals) on the way.
fn cmdstat(r: &mut Raw, name: &str) -> Option<(u64, u64, u64)> {
    let text = r.call(&["INFO", "commandstats"]).bulk_string();
    let prefix = format!("cmdstat_{name}:");
    let line = text.split("\r\n").find(|l| l.starts_with(&prefix))?;
    let fields: Vec<(&str, &str)> = line[prefix.len()..]
        .split(',')
        .filter_map(|f| f.split_once('='))
        .collect();
    let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        [
            "calls",
            "usec",
            "usec_per_call",
            "rejected_calls",
            "failed_calls"
        ],
        "{line}"
    );
    let per_call = fields[2].1;
    assert!(
        per_call.split_once('.').is_some_and(|(_, d)| d.len() == 2),
        "{line}"
    );
    let n = |i: usize| fields[i].1.parse::<u64>().unwrap();
    Some((n(0), n(3), n(4)))
}

fn errorstats(r: &mut Raw) -> Vec<String> {
    let text = r.call(&["INFO", "errorstats"]).bulk_string();
    text.split("\r\n")
        .filter(|l| l.starts_with("errorstat_"))
        .map(str::to_string)
        .collect()
}

fn sections(r: &mut Raw, args: &[&str]) -> Vec<String> {
    let mut a = vec!["INFO"];
    a.extend_from_slice(args);
    let text = r.call(&a).bulk_string();
    text.split("\r\n")
        .filter(|l| l.starts_with("# "))
        .map(|l| l[2..].to_string())
        .collect()
}

#[test]
fn commandstats_and_errorstats_count_calls_rejections_and_failures() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let ok = |r: &mut Raw, args: &[&str]| {
        let reply = r.call(args);
        assert!(!matches!(reply, Reply::Error(_)), "{args:?}: {reply:?}");
    };
    let err = |r: &mut Raw, args: &[&str], want: &str| {
        assert_eq!(r.call(args), Reply::Error(want.to_string()), "{args:?}");
    };
    ok(&mut r, &["SET", "s", "x"]);
    ok(&mut r, &["CONFIG", "RESETSTAT"]);
    ok(&mut r, &["GET", "s"]);
    err(
        &mut r,
        &["INCR", "s"],
        "ERR value is not an integer or out of range",
    );
    err(
        &mut r,
        &["GET"],
        "ERR wrong number of arguments for 'get' command",
    );
    err(
        &mut r,
        &["NOSUCH"],
        "ERR unknown command 'NOSUCH', with args beginning with: ",
    );
    err(
        &mut r,
        &["CONFIG", "NOSUCH"],
        "ERR unknown subcommand 'NOSUCH'. Try CONFIG HELP.",
    );
    ok(&mut r, &["CLIENT", "ID"]);
    // A transaction: the refused GET aborts it; EXEC's own error is a
    // failed EXEC, the INCR inside a later one a failed INCR.
    ok(&mut r, &["MULTI"]);
    err(
        &mut r,
        &["GET"],
        "ERR wrong number of arguments for 'get' command",
    );
    assert_eq!(r.call(&["INCR", "s"]), Reply::Simple("QUEUED".into()));
    err(
        &mut r,
        &["EXEC"],
        "EXECABORT Transaction discarded because of previous errors.",
    );
    ok(&mut r, &["MULTI"]);
    r.call(&["INCR", "s"]);
    r.call(&["SET", "a", "1"]);
    let exec = r.call(&["EXEC"]).array();
    assert!(matches!(exec[0], Reply::Error(_)) && exec[1] == Reply::Simple("OK".into()));
    err(&mut r, &["EXEC"], "ERR EXEC without MULTI");
    err(
        &mut r,
        &["EXEC", "x"],
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command",
    );

    assert_eq!(cmdstat(&mut r, "get"), Some((1, 2, 0)));
    assert_eq!(cmdstat(&mut r, "incr"), Some((2, 0, 2)));
    assert_eq!(cmdstat(&mut r, "set"), Some((1, 0, 0)), "SET inside EXEC");
    assert_eq!(cmdstat(&mut r, "exec"), Some((3, 1, 2)));
    assert_eq!(cmdstat(&mut r, "multi"), Some((2, 0, 0)));
    assert_eq!(cmdstat(&mut r, "client|id"), Some((1, 0, 0)));
    assert_eq!(cmdstat(&mut r, "config|resetstat"), Some((1, 0, 0)));
    // An unknown subcommand has no command to count against.
    assert_eq!(cmdstat(&mut r, "config"), None);
    assert_eq!(cmdstat(&mut r, "nosuch"), None);
    assert_eq!(
        errorstats(&mut r),
        ["errorstat_ERR:count=7", "errorstat_EXECABORT:count=2"]
    );
    let stats = parse_info(&r.call(&["INFO", "stats"]).bulk_string());
    assert!(stats.contains(&("total_error_replies".into(), "9".into())));

    // Errorstats is a default section, commandstats only in all/everything.
    let default = sections(&mut r, &[]);
    assert!(default.contains(&"Errorstats".to_string()), "{default:?}");
    assert!(
        !default.contains(&"Commandstats".to_string()),
        "{default:?}"
    );
    for all in ["all", "everything"] {
        let got = sections(&mut r, &[all]);
        let at = |name: &str| got.iter().position(|s| s == name).unwrap();
        assert!(at("CPU") < at("Commandstats"), "{got:?}");
        assert!(at("Commandstats") < at("Errorstats"), "{got:?}");
        assert!(at("Errorstats") < at("Latencystats"), "{got:?}");
        assert!(at("Latencystats") < at("Cluster"), "{got:?}");
        assert!(at("Cluster") < at("Keyspace"), "{got:?}");
    }
    assert_eq!(
        sections(&mut r, &["commandstats", "errorstats"]),
        ["Commandstats", "Errorstats"]
    );

    // A pipeline: INFO sees the commands before it in the same round.
    let mut p = cmd(&["CONFIG", "RESETSTAT"]);
    p.extend(cmd(&["GET", "s"]));
    p.extend(cmd(&["GET", "s"]));
    p.extend(cmd(&["INFO", "commandstats"]));
    r.send(&p);
    assert_eq!(r.read_reply(), Reply::Simple("OK".into()));
    r.read_reply();
    r.read_reply();
    let text = r.read_reply().bulk_string();
    assert!(text.contains("cmdstat_get:calls=2,"), "{text}");
    assert!(text.contains("cmdstat_config|resetstat:calls=1,"), "{text}");
    assert_eq!(errorstats(&mut r), Vec::<String>::new());
    let stats = parse_info(&r.call(&["INFO", "stats"]).bulk_string());
    assert!(stats.contains(&("total_error_replies".into(), "0".into())));
}

#[test]
fn commandstats_sum_every_worker() {
    if against_redis() {
        eprintln!("skipped against Redis: --workers is shardcache's");
        return;
    }
    let s = Server::start(&["--workers", "2"]);
    let (mut a, mut b) = (s.raw(), s.raw());
    for _ in 0..3 {
        a.call(&["PING"]);
        b.call(&["PING"]);
    }
    // PING checks its own arguments: a failed call, not a rejected one.
    b.call(&["PING", "a", "b"]);
    assert_eq!(cmdstat(&mut a, "ping"), Some((7, 0, 1)));
}

#[test]
fn config_set_checks_every_pair_before_changing_anything() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let failed = |arg: &str, why: &str| {
        format!("-ERR CONFIG SET failed (possibly related to argument '{arg}') - {why}\r\n")
    };
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["timeout", "-1"],
            failed(
                "timeout",
                "argument must be between 0 and 2147483647 inclusive",
            ),
        ),
        (
            vec!["TIMEOUT", "abc"],
            failed("timeout", "argument couldn't be parsed into an integer"),
        ),
        (
            vec!["maxclients", "0"],
            failed(
                "maxclients",
                "argument must be between 1 and 4294967295 inclusive",
            ),
        ),
        (
            vec!["hz", "-1"],
            failed("hz", "argument must be between 0 and 2147483647 inclusive"),
        ),
        (
            vec!["loglevel", "nothing"],
            failed(
                "loglevel",
                "argument(s) must be one of the following: debug, verbose, notice, warning",
            ),
        ),
        (
            vec!["maxmemory-samples", "0"],
            failed(
                "maxmemory-samples",
                "argument must be between 1 and 2147483647 inclusive",
            ),
        ),
        (
            vec!["proto-max-bulk-len", "1048575"],
            failed(
                "proto-max-bulk-len",
                "argument must be between 1048576 and 9223372036854775807 inclusive",
            ),
        ),
        (
            vec!["client-query-buffer-limit", "-1"],
            failed(
                "client-query-buffer-limit",
                "argument must be a memory value",
            ),
        ),
        (
            vec!["latency-tracking", "1"],
            failed("latency-tracking", "argument must be 'yes' or 'no'"),
        ),
        (
            vec!["slowlog-log-slower-than", "-2"],
            failed(
                "slowlog-log-slower-than",
                "argument must be between -1 and 9223372036854775807 inclusive",
            ),
        ),
        (
            vec!["slowlog-max-len", "-1"],
            failed(
                "slowlog-max-len",
                "argument must be between 0 and 9223372036854775807 inclusive",
            ),
        ),
        (
            vec!["save", "3600"],
            failed("save", "Invalid save parameters"),
        ),
        (
            vec!["save", "0 0"],
            failed("save", "Invalid save parameters"),
        ),
        (
            vec!["appendonly", "x"],
            failed("appendonly", "argument must be 'yes' or 'no'"),
        ),
        // Names first: an unknown name anywhere wins over a bad value.
        (
            vec!["timeout", "x", "nosuch", "1"],
            "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n".into(),
        ),
        (
            vec!["timeout", "5", "TIMEOUT", "6"],
            failed("TIMEOUT", "duplicate parameter"),
        ),
        (
            vec!["daemonize", "yes", "nosuch", "1"],
            failed("daemonize", "can't set immutable config"),
        ),
        // All or nothing: the valid timeout is not applied.
        (
            vec!["timeout", "5", "hz", "x"],
            failed("hz", "argument couldn't be parsed into an integer"),
        ),
    ];
    for (pairs, want) in cases {
        let mut args = vec!["CONFIG", "SET"];
        args.extend(pairs.iter().copied());
        r.send(&cmd(&args));
        r.expect(want.as_bytes());
    }
    let get = |r: &mut Raw, name: &str| -> String {
        let v = r.call(&["CONFIG", "GET", name]).array();
        match &v[1] {
            Reply::Bulk(Some(b)) => String::from_utf8(b.clone()).unwrap(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(get(&mut r, "timeout"), "0");
    // Several pairs at once, and the values as CONFIG GET shows them.
    r.send(&cmd(&[
        "CONFIG",
        "SET",
        "hz",
        "1000",
        "loglevel",
        "VERBOSE",
        "maxmemory-samples",
        "7",
        "save",
        "3600 1 300 100",
        "slowlog-max-len",
        "5",
    ]));
    r.expect(b"+OK\r\n");
    assert_eq!(get(&mut r, "hz"), "500", "clamped as Redis does");
    assert_eq!(get(&mut r, "loglevel"), "verbose");
    assert_eq!(get(&mut r, "maxmemory-samples"), "7");
    assert_eq!(get(&mut r, "save"), "3600 1 300 100");
    assert_eq!(get(&mut r, "slowlog-max-len"), "5");
    r.send(&cmd(&["CONFIG", "SET", "hz", "0", "save", ""]));
    r.expect(b"+OK\r\n");
    assert_eq!(get(&mut r, "hz"), "1");
    assert_eq!(get(&mut r, "save"), "");
    let server = parse_info(&r.call(&["INFO", "server"]).bulk_string());
    assert!(
        server.contains(&("configured_hz".into(), "1".into())),
        "{server:?}"
    );
    r.send(&cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]));
    r.expect(b"+OK\r\n");
    assert_eq!(get(&mut r, "proto-max-bulk-len"), "1048576");
}

#[test]
fn timeout_closes_idle_clients_but_not_busy_ones() {
    let s = Server::start(&[]);
    let mut busy = s.raw();
    let mut idle = s.raw();
    idle.call(&["PING"]);
    busy.send(&cmd(&["CONFIG", "SET", "timeout", "1"]));
    busy.expect(b"+OK\r\n");
    // A client that keeps talking stays; one idle for more than a second
    // is closed at the next check (they are a second apart).
    let talker = std::thread::spawn(move || {
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(300));
            assert_eq!(busy.call(&["PING"]), Reply::Simple("PONG".into()));
        }
        busy
    });
    let start = Instant::now();
    idle.stream()
        .set_read_timeout(Some(Duration::from_secs(6)))
        .unwrap();
    idle.assert_closed();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
    let mut busy = talker.join().unwrap();
    busy.send(&cmd(&["CONFIG", "SET", "timeout", "0"]));
    busy.expect(b"+OK\r\n");
    let mut later = s.raw();
    later.call(&["PING"]);
    later.assert_silent(Duration::from_millis(2500));
    assert_eq!(later.call(&["PING"]), Reply::Simple("PONG".into()));
}

#[test]
fn maxclients_refuses_connections_past_the_new_limit() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    b.call(&["PING"]);
    a.send(&cmd(&["CONFIG", "SET", "maxclients", "2"]));
    a.expect(b"+OK\r\n");
    let mut c = s.raw();
    c.expect(b"-ERR max number of clients reached\r\n");
    c.assert_closed();
    let info = parse_info(&a.call(&["INFO", "clients"]).bulk_string());
    assert!(
        info.contains(&("maxclients".into(), "2".into())),
        "{info:?}"
    );
    a.send(&cmd(&["CONFIG", "SET", "maxclients", "10"]));
    a.expect(b"+OK\r\n");
    let mut d = s.raw();
    assert_eq!(d.call(&["PING"]), Reply::Simple("PONG".into()));
}

#[test]
fn proto_max_bulk_len_and_query_buffer_limit_take_effect() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    admin.send(&cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]));
    admin.expect(b"+OK\r\n");
    let mut big = s.raw();
    big.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n");
    big.expect(b"-ERR Protocol error: invalid bulk length\r\n");
    big.assert_closed();
    // Exactly the limit is accepted.
    let mut fits = s.raw();
    let value = vec![b'v'; 1 << 20];
    fits.send(&cmd(&[&b"SET"[..], b"k", &value]));
    fits.expect(b"+OK\r\n");
    admin.send(&cmd(&["CONFIG", "SET", "proto-max-bulk-len", "2mb"]));
    admin.expect(b"+OK\r\n");
    let mut bigger = s.raw();
    let value = vec![b'v'; (1 << 20) + 1];
    bigger.send(&cmd(&[&b"SET"[..], b"k", &value]));
    bigger.expect(b"+OK\r\n");

    // The query buffer: a client whose unprocessed input passes the limit
    // is closed without a reply.
    admin.send(&cmd(&["CONFIG", "SET", "client-query-buffer-limit", "1mb"]));
    admin.expect(b"+OK\r\n");
    let mut flood = s.raw();
    flood.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1900000\r\n");
    flood.send(&vec![b'x'; 1_200_000]);
    flood.assert_closed();
    assert_eq!(admin.call(&["PING"]), Reply::Simple("PONG".into()));
}

#[test]
fn tcp_keepalive_applies_to_new_connections() {
    let ss = std::process::Command::new("ss").arg("-V").output();
    if ss.is_err() {
        eprintln!("skipped: no `ss` to read the server's socket timers");
        return;
    }
    let s = Server::start(&[]);
    let port = s.port();
    // The server side of connection `c`: its keepalive timer, if any.
    let timer = |c: &Raw| -> String {
        let local = c.stream().local_addr().unwrap().port();
        let out = std::process::Command::new("ss")
            .args(["-tnoH", "state", "established"])
            .arg(format!("( sport = :{port} and dport = :{local} )"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut first = s.raw();
    first.call(&["PING"]);
    let before = timer(&first);
    assert!(
        before.contains("keepalive,") && before.contains("min"),
        "default 300 s: {before}"
    );
    first.send(&cmd(&["CONFIG", "SET", "tcp-keepalive", "7"]));
    first.expect(b"+OK\r\n");
    let mut second = s.raw();
    second.call(&["PING"]);
    let after = timer(&second);
    assert!(
        after.contains("keepalive,") && !after.contains("min"),
        "7 s: {after}"
    );
    first.send(&cmd(&["CONFIG", "SET", "tcp-keepalive", "0"]));
    first.expect(b"+OK\r\n");
    let mut third = s.raw();
    third.call(&["PING"]);
    let none = timer(&third);
    assert!(!none.contains("keepalive"), "off: {none}");
}

#[test]
fn loglevel_changes_what_the_server_logs() {
    if against_redis() {
        eprintln!("skipped against Redis: reads shardcache's stderr");
        return;
    }
    let s = Server::start(&[]);
    let mut admin = s.raw();
    // A protocol error is logged at debug level only.
    let mut bad = s.raw();
    bad.send(b"*1\r\n$x\r\n");
    bad.read_reply();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !s.stderr_tail().contains("protocol error"),
        "notice hides it"
    );
    admin.send(&cmd(&["CONFIG", "SET", "loglevel", "debug"]));
    admin.expect(b"+OK\r\n");
    let mut bad = s.raw();
    bad.send(b"*1\r\n$x\r\n");
    bad.read_reply();
    assert!(
        wait_until(Duration::from_secs(3), || s
            .stderr_tail()
            .contains("protocol error")),
        "{}",
        s.stderr_tail()
    );
}

#[test]
fn latency_tracking_can_be_turned_off_and_on() {
    let s = Server::start(&["--workers", "1"]);
    let mut r = s.raw();
    let calls = |r: &mut Raw| -> i64 {
        let h = r.call(&["LATENCY", "HISTOGRAM", "echo"]).array();
        if h.is_empty() {
            return 0;
        }
        let per = h[1].clone().array();
        per[1].clone().int()
    };
    r.call(&["ECHO", "a"]);
    assert_eq!(calls(&mut r), 1);
    r.send(&cmd(&["CONFIG", "SET", "latency-tracking", "no"]));
    r.expect(b"+OK\r\n");
    r.call(&["ECHO", "a"]);
    r.call(&["ECHO", "a"]);
    assert_eq!(calls(&mut r), 1, "not tracked while off");
    r.send(&cmd(&["CONFIG", "SET", "latency-tracking", "yes"]));
    r.expect(b"+OK\r\n");
    r.call(&["ECHO", "a"]);
    assert_eq!(calls(&mut r), 2);
}

#[test]
fn appendonly_turned_on_at_run_time_survives_a_restart() {
    if against_redis() {
        eprintln!("skipped against Redis: restarts shardcache on its directory");
        return;
    }
    let dir = tempdir("observe-appendonly");
    let p = Proc::start(&dir, &["--appendonly", "no", "--shards", "3"]);
    let mut c = p.client();
    for i in 0..50 {
        redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query::<()>(&mut c)
            .unwrap();
    }
    let set: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("yes")
        .query(&mut c)
        .unwrap();
    assert_eq!(set, "OK");
    redis::cmd("SET")
        .arg("after")
        .arg("1")
        .query::<()>(&mut c)
        .unwrap();
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .query(&mut c)
        .unwrap();
    assert_eq!(got, ["appendonly", "yes"]);
    // The manifest names the new generation once every shard rewrote.
    assert!(
        wait_until(Duration::from_secs(10), || std::fs::read_to_string(
            dir.join("manifest")
        )
        .is_ok_and(|m| m.contains("generation 1"))),
        "{}",
        p.log()
    );
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    assert!(info.contains("aof_enabled:1"), "{info}");
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));

    let p = Proc::start(&dir, &["--appendonly", "yes", "--shards", "3"]);
    let mut c = p.client();
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 51);
    // Off: nothing written from then on.
    let _: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("no")
        .query(&mut c)
        .unwrap();
    redis::cmd("SET")
        .arg("lost")
        .arg("1")
        .query::<()>(&mut c)
        .unwrap();
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    assert!(info.contains("aof_enabled:0"), "{info}");
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));
    let p = Proc::start(&dir, &["--appendonly", "yes", "--shards", "3"]);
    let mut c = p.client();
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 51, "the write made while the AOF was off is not there");
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_rewrite_writes_the_run_time_parameters() {
    if against_redis() {
        eprintln!("skipped against Redis: shardcache's --config file");
        return;
    }
    let dir = tempdir("observe-rewrite");
    let file = dir.join("shardcache.conf");
    std::fs::write(&file, "# kept\ntimeout 5\nappendonly no\n").unwrap();
    let s = Server::start(&["--config", file.to_str().unwrap()]);
    let mut r = s.raw();
    r.send(&cmd(&[
        "CONFIG",
        "SET",
        "timeout",
        "0",
        "slowlog-log-slower-than",
        "-1",
        "save",
        "900 1",
        "hz",
        "20",
    ]));
    r.expect(b"+OK\r\n");
    r.send(&cmd(&["CONFIG", "REWRITE"]));
    r.expect(b"+OK\r\n");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# kept\ntimeout 0\nappendonly no\n"),
        "{text}"
    );
    for line in ["slowlog-log-slower-than -1\n", "save 900 1\n", "hz 20\n"] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
    // Parameters at their defaults are not added.
    assert!(!text.contains("tcp-keepalive"), "{text}");
    drop(s);
    let s = Server::start(&["--config", file.to_str().unwrap()]);
    let mut r = s.raw();
    let got = r.call(&["CONFIG", "GET", "save"]).array();
    assert_eq!(got[1], Reply::Bulk(Some(b"900 1".to_vec())));
    let got = r
        .call(&["CONFIG", "GET", "slowlog-log-slower-than"])
        .array();
    assert_eq!(got[1], Reply::Bulk(Some(b"-1".to_vec())));
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One SLOWLOG GET entry: (id, args, client address, client name).
fn slow_entries(r: &mut Raw, count: &str) -> Vec<(i64, Vec<Vec<u8>>, String, String)> {
    r.call(&["SLOWLOG", "GET", count])
        .array()
        .into_iter()
        .map(|e| {
            let f = e.array();
            assert_eq!(f.len(), 6);
            assert!(f[1].clone().int() > 1_600_000_000, "unix seconds");
            assert!(f[2].clone().int() >= 0, "microseconds");
            let args = f[3]
                .clone()
                .array()
                .into_iter()
                .map(Reply::bulk_bytes)
                .collect();
            (
                f[0].clone().int(),
                args,
                f[4].clone().bulk_string(),
                f[5].clone().bulk_string(),
            )
        })
        .collect()
}

#[test]
fn slowlog_logs_every_command_at_zero_cuts_arguments_and_trims() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.send(&cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]));
    r.expect(b"+OK\r\n");
    r.send(&cmd(&["SLOWLOG", "RESET"]));
    r.expect(b"+OK\r\n");
    r.send(&cmd(&["CLIENT", "SETNAME", "me"]));
    r.expect(b"+OK\r\n");
    let long_key = vec![b'x'; 200];
    let long_value = vec![b'y'; 129];
    r.send(&cmd(&[&b"SET"[..], &long_key, &long_value]));
    r.expect(b"+OK\r\n");
    let mut del = vec!["DEL".to_string()];
    del.extend((0..40).map(|i| format!("a{i}")));
    assert_eq!(r.call(&del), Reply::Int(0));
    r.send(&cmd(&["MULTI"]));
    r.expect(b"+OK\r\n");
    r.send(&cmd(&["SET", "m", "1"]));
    r.expect(b"+QUEUED\r\n");
    r.call(&["EXEC"]);
    r.call(&["AUTH", "secret"]);
    r.call(&["GET"]);
    r.call(&["NOSUCH"]);
    let entries = slow_entries(&mut r, "-1");
    let me = r.stream().local_addr().unwrap().to_string();
    let args: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            e.1.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .collect();
    let mut key_arg = "x".repeat(128);
    key_arg.push_str("... (72 more bytes)");
    let mut value_arg = "y".repeat(128);
    value_arg.push_str("... (1 more bytes)");
    let mut del_args: Vec<String> = (0..30).map(|i| format!("a{i}")).collect();
    del_args.insert(0, "DEL".into());
    del_args.push("... (10 more arguments)".into());
    // Newest first; EXEC (skip_slowlog) and the refused commands are not
    // logged; AUTH's password is; SLOWLOG RESET is, after it ran.
    let want: Vec<Vec<String>> = vec![
        vec!["AUTH".into(), "(redacted)".into()],
        vec!["SET".into(), "m".into(), "1".into()],
        vec!["MULTI".into()],
        del_args,
        vec!["SET".into(), key_arg, value_arg],
        vec!["CLIENT".into(), "SETNAME".into(), "me".into()],
        vec!["SLOWLOG".into(), "RESET".into()],
    ];
    assert_eq!(args, want);
    let ids: Vec<i64> = entries.iter().map(|e| e.0).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1] + 1), "{ids:?}");
    assert!(entries.iter().all(|e| e.2 == me), "{entries:?}");
    assert_eq!(entries[0].3, "me");
    assert_eq!(entries.last().unwrap().3, "", "named after it ran");
    // The SLOWLOG GET above is logged now.
    assert_eq!(r.call(&["SLOWLOG", "LEN"]), Reply::Int(8));
    assert_eq!(slow_entries(&mut r, "0"), vec![]);
    assert_eq!(slow_entries(&mut r, "2").len(), 2);
    assert_eq!(slow_entries(&mut r, "10").len(), 10);

    // slowlog-max-len trims at the next entry.
    r.send(&cmd(&["CONFIG", "SET", "slowlog-max-len", "3"]));
    r.expect(b"+OK\r\n");
    assert_eq!(r.call(&["SLOWLOG", "LEN"]), Reply::Int(3));
    r.send(&cmd(&["SLOWLOG", "RESET"]));
    r.expect(b"+OK\r\n");
    assert_eq!(r.call(&["SLOWLOG", "LEN"]), Reply::Int(1));
    // Negative: nothing is logged.
    r.send(&cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]));
    r.expect(b"+OK\r\n");
    r.send(&cmd(&["SLOWLOG", "RESET"]));
    r.expect(b"+OK\r\n");
    r.call(&["PING"]);
    assert_eq!(r.call(&["SLOWLOG", "LEN"]), Reply::Int(0));
    // The default threshold (10 ms) logs nothing this quick.
    r.send(&cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "10000"]));
    r.expect(b"+OK\r\n");
    r.call(&["PING"]);
    assert_eq!(r.call(&["SLOWLOG", "LEN"]), Reply::Int(0));
    // Errors, as Redis words them.
    for (args, want) in [
        (
            vec!["SLOWLOG", "GET", "-2"],
            "ERR count should be greater than or equal to -1",
        ),
        (
            vec!["SLOWLOG", "GET", "x"],
            "ERR count should be greater than or equal to -1",
        ),
        (
            vec!["SLOWLOG", "GET", "1", "2"],
            "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.",
        ),
        (
            vec!["SLOWLOG", "LEN", "x"],
            "ERR wrong number of arguments for 'slowlog|len' command",
        ),
        (
            vec!["SLOWLOG", "FOO"],
            "ERR unknown subcommand 'FOO'. Try SLOWLOG HELP.",
        ),
    ] {
        assert_eq!(r.call(&args), Reply::Error(want.to_string()), "{args:?}");
    }
}

/// Reads a reply if one comes within `wait`; None otherwise.
fn reply_within(r: &mut Raw, wait: Duration) -> Option<Reply> {
    r.stream().set_read_timeout(Some(wait)).unwrap();
    let mut peek = [0u8; 1];
    let got = match r.stream().peek(&mut peek) {
        Ok(n) => n > 0,
        Err(_) => false,
    };
    r.stream()
        .set_read_timeout(Some(common::IO_TIMEOUT))
        .unwrap();
    got.then(|| r.read_reply())
}

#[test]
fn client_pause_write_holds_writes_not_reads_on_every_worker() {
    let s = Server::start(&["--workers", "2"]);
    // Opened one after the other: the writer is on the other worker.
    let mut admin = s.raw();
    let mut writer = s.raw();
    let mut reader = s.raw();
    admin.send(&cmd(&["SET", "k", "before"]));
    admin.expect(b"+OK\r\n");
    admin.send(&cmd(&["CLIENT", "PAUSE", "10000", "WRITE"]));
    admin.expect(b"+OK\r\n");
    writer.send_cmd(&["SET", "k", "during"]);
    // The write waits; reads go on, on both workers.
    assert_eq!(reply_within(&mut writer, Duration::from_millis(300)), None);
    assert_eq!(
        reader.call(&["GET", "k"]),
        Reply::Bulk(Some(b"before".to_vec()))
    );
    assert_eq!(
        admin.call(&["GET", "k"]),
        Reply::Bulk(Some(b"before".to_vec()))
    );
    // A write inside MULTI waits too (before it is queued); the pauser's own writes wait.
    admin.send(&cmd(&["CLIENT", "UNPAUSE"]));
    admin.expect(b"+OK\r\n");
    assert_eq!(writer.read_reply(), Reply::Simple("OK".into()));
    assert_eq!(
        reader.call(&["GET", "k"]),
        Reply::Bulk(Some(b"during".to_vec()))
    );

    // ALL, ending by its timeout: every command waits, then runs.
    admin.send(&cmd(&["CLIENT", "PAUSE", "400", "ALL"]));
    admin.expect(b"+OK\r\n");
    let t = Instant::now();
    reader.send_cmd(&["GET", "k"]);
    writer.send_cmd(&["SET", "k", "after"]);
    // Two workers resume independently: either may run first.
    let read = reader.read_reply();
    assert!(
        read == Reply::Bulk(Some(b"during".to_vec()))
            || read == Reply::Bulk(Some(b"after".to_vec())),
        "{read:?}"
    );
    assert_eq!(writer.read_reply(), Reply::Simple("OK".into()));
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    assert_eq!(
        admin.call(&["GET", "k"]),
        Reply::Bulk(Some(b"after".to_vec()))
    );

    // Errors, as Redis words them (the mode is checked before the timeout).
    for (args, want) in [
        (
            vec!["CLIENT", "PAUSE", "x", "foo"],
            "ERR CLIENT PAUSE mode must be WRITE or ALL",
        ),
        (
            vec!["CLIENT", "PAUSE", "x"],
            "ERR timeout is not an integer or out of range",
        ),
        (vec!["CLIENT", "PAUSE", "-1"], "ERR timeout is negative"),
        (
            vec!["CLIENT", "PAUSE", "10", "WRITE", "x"],
            "ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.",
        ),
        (
            vec!["CLIENT", "UNPAUSE", "x"],
            "ERR wrong number of arguments for 'client|unpause' command",
        ),
    ] {
        assert_eq!(
            admin.call(&args),
            Reply::Error(want.to_string()),
            "{args:?}"
        );
    }
}

#[test]
fn client_no_touch_keeps_idle_time_growing() {
    if against_redis() {
        eprintln!("skipped against Redis: CLIENT NO-TOUCH is Redis 7.2's");
        return;
    }
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.send(&cmd(&["MSET", "a", "1", "b", "2"]));
    r.expect(b"+OK\r\n");
    r.send(&cmd(&["CLIENT", "NO-TOUCH", "ON"]));
    r.expect(b"+OK\r\n");
    r.send(&cmd(&["CLIENT", "NO-TOUCH", "maybe"]));
    r.expect(b"-ERR syntax error\r\n");
    let info = r.call(&["CLIENT", "INFO"]).bulk_string();
    assert!(info.contains(" flags=T "), "{info}");
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(r.call(&["GET", "a"]), Reply::Bulk(Some(b"1".to_vec())));
    r.call(&["MGET", "a", "b"]);
    r.call(&["EXISTS", "a"]);
    let idle = r.call(&["OBJECT", "IDLETIME", "a"]).int();
    assert!(idle >= 2, "reads left the idle time alone: {idle}");
    // TOUCH itself touches.
    assert_eq!(r.call(&["TOUCH", "a"]), Reply::Int(1));
    assert_eq!(r.call(&["OBJECT", "IDLETIME", "a"]), Reply::Int(0));
    // Off again, and RESET clears it.
    r.send(&cmd(&["CLIENT", "NO-TOUCH", "OFF"]));
    r.expect(b"+OK\r\n");
    r.call(&["GET", "b"]);
    assert_eq!(r.call(&["OBJECT", "IDLETIME", "b"]), Reply::Int(0));
    r.send(&cmd(&["CLIENT", "NO-TOUCH", "ON"]));
    r.expect(b"+OK\r\n");
    r.send(&cmd(&["RESET"]));
    r.expect(b"+RESET\r\n");
    std::thread::sleep(Duration::from_millis(1100));
    r.call(&["GET", "a"]);
    assert_eq!(r.call(&["OBJECT", "IDLETIME", "a"]), Reply::Int(0));
}

/// Reads MONITOR lines until one contains `marker`, returning them all.
fn monitor_until(m: &mut Raw, marker: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match m.read_reply() {
            Reply::Simple(l) => {
                let done = l.contains(marker);
                lines.push(l);
                if done {
                    return lines;
                }
            }
            other => panic!("monitor got {other:?}"),
        }
    }
    panic!("no line with {marker} in {lines:?}");
}

/// Splits a MONITOR line into its time and the rest.
fn monitor_parts(line: &str) -> (&str, &str) {
    let (time, rest) = line.split_once(' ').unwrap();
    let (secs, micros) = time.split_once('.').unwrap();
    assert!(secs.parse::<u64>().unwrap() > 1_600_000_000, "{line}");
    assert_eq!(micros.len(), 6, "{line}");
    assert!(micros.bytes().all(|b| b.is_ascii_digit()), "{line}");
    (time, rest)
}

#[test]
fn monitor_sees_commands_from_another_worker_in_redis_format() {
    let s = Server::start(&["--workers", "2"]);
    // Opened one after the other: the client is on the other worker.
    let mut m = s.raw();
    let mut c = s.raw();
    m.send(&cmd(&["MONITOR"]));
    m.expect(b"+OK\r\n");
    let peer = c.stream().local_addr().unwrap().to_string();
    c.send(&cmd(&[
        &b"SET"[..],
        b"k",
        b"a\x00b\n\r\t\"\\\x07\x08\x7f\xff ~",
    ]));
    c.expect(b"+OK\r\n");
    c.call(&["GET", "k"]);
    c.call(&["AUTH", "pw"]);
    c.call(&["HELLO", "2", "AUTH", "default", "pw"]);
    c.call(&["CONFIG", "GET", "hz"]); // admin: not shown
    c.call(&["GET"]); // refused: not shown
    c.call(&["MULTI"]);
    c.call(&["INCR", "n"]);
    c.call(&["EXEC"]);
    c.call(&["SELECT", "3"]);
    c.call(&["PING", "end"]);
    let lines = monitor_until(&mut m, "\"end\"");
    let list = c.call(&["CLIENT", "LIST"]).bulk_string();
    let monitor_row = list
        .lines()
        .find(|l| l.contains(&format!(" addr={} ", m.stream().local_addr().unwrap())))
        .unwrap();
    assert!(monitor_row.contains(" flags=O "), "{monitor_row}");
    let rest: Vec<&str> = lines.iter().map(|l| monitor_parts(l).1).collect();
    let p = &peer;
    let want = [
        format!(r#"[0 {p}] "SET" "k" "a\x00b\n\r\t\"\\\a\b\x7f\xff ~""#),
        format!(r#"[0 {p}] "GET" "k""#),
        format!(r#"[0 {p}] "AUTH" "(redacted)""#),
        format!(r#"[0 {p}] "HELLO" "2" "AUTH" "(redacted)" "(redacted)""#),
        format!(r#"[0 {p}] "MULTI""#),
        format!(r#"[0 {p}] "INCR" "n""#),
        format!(r#"[0 {p}] "EXEC""#),
        format!(r#"[3 {p}] "SELECT" "3""#),
        format!(r#"[3 {p}] "PING" "end""#),
    ];
    assert_eq!(rest, want);
    // The monitor's own commands: its reply, then its line; no keyspace.
    let me = m.stream().local_addr().unwrap().to_string();
    m.send(&cmd(&["PING"]));
    m.expect(b"+PONG\r\n");
    let own = monitor_until(&mut m, "\"PING\"");
    assert_eq!(monitor_parts(&own[0]).1, format!(r#"[0 {me}] "PING""#));
    m.send(&cmd(&["GET", "k"]));
    m.expect(b"-ERR Replica can't interact with the keyspace\r\n");
    // MONITOR again is ignored without a reply; RESET ends it.
    m.send(&cmd(&["MONITOR"]));
    m.send(&cmd(&["RESET"]));
    m.expect(b"+RESET\r\n");
    c.call(&["SET", "quiet", "1"]);
    m.assert_silent(Duration::from_millis(300));
    // An ordinary connection again (in database 0 after RESET).
    assert_eq!(
        m.call(&["GET", "k"]),
        Reply::Bulk(Some(b"a\x00b\n\r\t\"\\\x07\x08\x7f\xff ~".to_vec()))
    );
}

#[test]
fn monitor_inside_exec_is_refused() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.send(&cmd(&["MULTI"]));
    r.expect(b"+OK\r\n");
    r.send(&cmd(&["MONITOR"]));
    r.expect(b"+QUEUED\r\n");
    r.send(&cmd(&["EXEC"]));
    r.expect(b"*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n");
}
