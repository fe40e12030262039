//! Streams through real clients: the exact reply bytes over raw RESP (both
//! protocols), the `redis` crate's view of them, and persistence: every
//! write is logged as a Redis stream command with the ID it got (`XADD`,
//! `XTRIM ... MINID =`, `XDEL`, `XSETID`), so a restart after SIGKILL, a
//! rewrite and a re-shard bring back the same entries, last IDs,
//! entries-added counts and greatest deleted IDs; a real Redis importing
//! the segments ends in the same state.

mod common;

use common::proc::{tempdir, Proc};
use common::{bulk, cmd, Raw, Server};
use shards::route::Router;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, line: &str) -> T {
    let mut words = line.split(' ');
    let mut cmd = redis::cmd(words.next().unwrap());
    for a in words {
        cmd.arg(a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn err(c: &mut redis::Connection, line: &str) -> String {
    let mut words = line.split(' ');
    let mut cmd = redis::cmd(words.next().unwrap());
    for a in words {
        cmd.arg(a);
    }
    match cmd.query::<redis::Value>(c) {
        Err(e) => e.to_string(),
        Ok(v) => panic!("{line}: expected an error, got {v:?}"),
    }
}

#[test]
fn replies_are_redis_bytes_in_resp2_and_resp3() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    r.send(&cmd(&["XADD", "s", "1-1", "f", "v"]));
    r.expect(b"$3\r\n1-1\r\n");
    r.send(&cmd(&["XADD", "s", "1-*", "a", "1", "b", "2"]));
    r.expect(b"$3\r\n1-2\r\n");
    let both = b"*2\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n\
                 *2\r\n$3\r\n1-2\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n";
    r.send(&cmd(&["XRANGE", "s", "-", "+"]));
    r.expect(both);
    r.send(&cmd(&["XREVRANGE", "s", "+", "(1-1"]));
    r.expect(b"*1\r\n*2\r\n$3\r\n1-2\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
    r.send(&cmd(&["XRANGE", "s", "-", "+", "COUNT", "0"]));
    r.expect(b"*-1\r\n");
    r.send(&cmd(&["XADD", "nosuch", "NOMKSTREAM", "*", "f", "v"]));
    r.expect(b"$-1\r\n");
    r.send(&cmd(&["XADD", "s", "1-2", "f", "v"]));
    r.expect(
        b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n",
    );
    r.send(&cmd(&["XADD", "s", "0-0", "f", "v"]));
    r.expect(b"-ERR The ID specified in XADD must be greater than 0-0\r\n");
    r.send(&cmd(&["XADD", "s", "1-2-3", "f", "v"]));
    r.expect(b"-ERR Invalid stream ID specified as stream command argument\r\n");
    r.send(&cmd(&["TYPE", "s"]));
    r.expect(b"+stream\r\n");
    r.send(&cmd(&["OBJECT", "ENCODING", "s"]));
    r.expect(b"$6\r\nstream\r\n");
    r.send(&[cmd(&["HELLO", "3"]), cmd(&["PING"])].concat());
    let mut hello = Vec::new();
    while !hello.ends_with(b"+PONG\r\n") {
        hello.extend(r.read_n(1));
    }
    r.send(&cmd(&["XRANGE", "s", "-", "+"]));
    r.expect(both);
    r.send(&cmd(&["XRANGE", "s", "-", "+", "COUNT", "0"]));
    r.expect(b"_\r\n");
    r.send(&cmd(&["XADD", "nosuch", "NOMKSTREAM", "*", "f", "v"]));
    r.expect(b"_\r\n");
    r.send(&cmd(&["XLEN", "s"]));
    r.expect(b":2\r\n");
    // A binary-safe entry.
    r.send(&cmd(&[&b"XADD"[..], b"b", b"5-0", b"\x00\r\n", b""]));
    r.expect(&bulk(b"5-0"));
    r.send(&cmd(&["XRANGE", "b", "5", "5"]));
    r.expect(b"*1\r\n*2\r\n$3\r\n5-0\r\n*2\r\n$3\r\n\x00\r\n\r\n$0\r\n\r\n");
}

#[test]
fn the_redis_crate_reads_entries_and_auto_ids() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    let a: String = q(&mut c, "XADD s * k 1");
    let b: String = q(&mut c, "XADD s * k 2");
    let (ams, aseq) = a.split_once('-').unwrap();
    let (bms, bseq) = b.split_once('-').unwrap();
    let (ams, aseq, bms, bseq): (u64, u64, u64, u64) = (
        ams.parse().unwrap(),
        aseq.parse().unwrap(),
        bms.parse().unwrap(),
        bseq.parse().unwrap(),
    );
    assert!((bms, bseq) > (ams, aseq), "{a} then {b}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(now.abs_diff(ams) < 10_000, "{a} is not the clock ({now})");
    let entries: Vec<(String, Vec<String>)> = q(&mut c, "XRANGE s - +");
    assert_eq!(
        entries,
        vec![
            (a.clone(), vec!["k".into(), "1".into()]),
            (b.clone(), vec!["k".into(), "2".into()])
        ]
    );
    // An ID far ahead of the clock: `*` continues from it.
    let _: String = q(&mut c, "XADD s 99999999999999-5 k 3");
    let next: String = q(&mut c, "XADD s * k 4");
    assert_eq!(next, "99999999999999-6");
    let n: i64 = q(&mut c, "XDEL s 99999999999999-6");
    assert_eq!(n, 1);
    let n: i64 = q(&mut c, &format!("XTRIM s MINID {b}"));
    assert_eq!(n, 1);
    let n: i64 = q(&mut c, "XLEN s");
    assert_eq!(n, 2);
    let _: () = q(&mut c, "SET str x");
    assert!(err(&mut c, "XLEN str").starts_with("WRONGTYPE"));
    assert!(err(&mut c, "XADD str * f v").starts_with("WRONGTYPE"));
    let payload: Vec<u8> = redis::cmd("DUMP").arg("s").query(&mut c).unwrap();
    assert_eq!(payload[0], 19, "RDB_TYPE_STREAM_LISTPACKS_2");
    let _: () = redis::cmd("RESTORE")
        .arg("s2")
        .arg(0)
        .arg(&payload)
        .query(&mut c)
        .unwrap();
    let a: redis::Value = q(&mut c, "XRANGE s - +");
    let b: redis::Value = q(&mut c, "XRANGE s2 - +");
    assert_eq!(a, b);
}

/// A stream with consumer groups DUMPed by shardcache RESTOREs on Redis
/// 7.0.15 to the same XINFO STREAM FULL (every node, entry, counter, group,
/// pending entry and consumer, times included), and Redis's payload
/// RESTOREs here to the same (skipped when Redis is not installed).
#[test]
fn dump_of_a_stream_restores_on_redis_and_back() {
    let installed = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok();
    if !installed {
        eprintln!("note: redis-server is not on PATH; skipping");
        return;
    }
    let s = Server::embedded(&[]);
    let mut ours = s.client();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let rdir = tempdir("streams-dump-redis");
    let mut server = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--dir"])
        .arg(&rdir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut theirs = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    for c in [&mut ours, &mut theirs] {
        let mut p = redis::pipe();
        for i in 1..=450u64 {
            if i % 7 == 0 {
                p.cmd("XADD")
                    .arg("big")
                    .arg(format!("{i}-{}", i % 3))
                    .arg("other")
                    .arg(i)
                    .arg("x")
                    .arg("y");
            } else {
                p.cmd("XADD")
                    .arg("big")
                    .arg(format!("{i}-{}", i % 3))
                    .arg("f")
                    .arg(i * 1000)
                    .arg("g")
                    .arg("v".repeat(i as usize % 50));
            }
        }
        let _: redis::Value = p.query(c).unwrap();
        let _: i64 = q(c, "XDEL big 100-1 101-2 150-0 201-0");
        let _: String = q(c, "XGROUP CREATE big g 0");
        let _: String = q(c, "XGROUP CREATE big h $ ENTRIESREAD 3");
        let _: redis::Value = q(c, "XREADGROUP GROUP g alice COUNT 20 STREAMS big >");
        let _: redis::Value = q(c, "XCLAIM big g bob 0 5-2 7-1 TIME 1000 RETRYCOUNT 4");
        let _: i64 = q(c, "XGROUP CREATECONSUMER big h idle");
        let _: i64 = q(c, "XDEL big 5-2");
        let _: String = q(c, "XGROUP CREATE empty g $ MKSTREAM");
    }
    let full = |c: &mut redis::Connection, k: &str| -> redis::Value {
        q(c, &format!("XINFO STREAM {k} FULL COUNT 0"))
    };
    for key in ["big", "empty"] {
        for (from_ours, name) in [
            (true, "shardcache to Redis"),
            (false, "Redis to shardcache"),
        ] {
            let (src, dst) = if from_ours {
                (&mut ours, &mut theirs)
            } else {
                (&mut theirs, &mut ours)
            };
            let payload: Vec<u8> = redis::cmd("DUMP").arg(key).query(src).unwrap();
            let _: () = redis::cmd("RESTORE")
                .arg("copy")
                .arg(0)
                .arg(&payload)
                .arg("REPLACE")
                .query(dst)
                .unwrap();
            assert_eq!(full(src, key), full(dst, "copy"), "{name}: {key}");
            let a: redis::Value = q(src, &format!("XINFO GROUPS {key}"));
            let b: redis::Value = q(dst, "XINFO GROUPS copy");
            assert_eq!(a, b, "{name}: {key}");
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&rdir);
}

/// Streams in two databases, on every shard, written with every command.
fn write_streams(c: &mut redis::Connection) {
    for db in ["0", "2"] {
        let _: () = q(c, &format!("SELECT {db}"));
        for k in 0..12 {
            let key = format!("s{k}");
            for i in 1..=150 {
                let _: String = q(c, &format!("XADD {key} {i}-{k} f{} {i}", i % 3));
            }
            let _: i64 = q(c, &format!("XDEL {key} 5-{k} 7-{k} 140-{k}"));
            let _: i64 = q(c, &format!("XTRIM {key} MAXLEN ~ 120"));
            let _: String = q(c, &format!("XADD {key} MAXLEN 100 200-* a b"));
            let _: String = q(c, &format!("XADD {key} MINID ~ 60 LIMIT 100 * a b"));
        }
        // An empty stream with counters, and XSETID's own.
        let _: String = q(c, "XADD empty MAXLEN 0 7-7 f v");
        let _: String = q(c, "XADD meta 3-3 f v");
        let _: () = q(c, "XSETID meta 50-0 ENTRIESADDED 40 MAXDELETEDID 9-9");
        let _: i64 = q(c, "XDEL meta 3-3");
        let _: i64 = q(c, "PEXPIRE s11 100000000");
    }
}

/// Every stream's entries and counters, read through a rewrite's records
/// (the counters are in its `XSETID`s: no command of this scope reads them).
#[derive(Debug, PartialEq)]
struct StreamState {
    entries: Vec<(String, Vec<String>)>,
    setid: Vec<String>,
}

type State = BTreeMap<(u8, String), StreamState>;

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "aof"))
        .collect();
    v.sort();
    v
}

fn records(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut i = 0;
    let line = |i: &mut usize| -> String {
        let end = bytes[*i..].windows(2).position(|w| w == b"\r\n").unwrap() + *i;
        let l = String::from_utf8_lossy(&bytes[*i..end]).into_owned();
        *i = end + 2;
        l
    };
    while i < bytes.len() {
        let n: usize = line(&mut i)[1..].parse().unwrap();
        let mut args = Vec::new();
        for _ in 0..n {
            let len: usize = line(&mut i)[1..].parse().unwrap();
            args.push(String::from_utf8_lossy(&bytes[i..i + len]).into_owned());
            i += len + 2;
        }
        out.push(args);
    }
    out
}

fn rewrite(c: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let _: String = q(c, "BGREWRITEAOF");
    loop {
        let info: String = q(c, "INFO persistence");
        if info.contains("aof_rewrite_in_progress:0") {
            assert!(info.contains("aof_last_bgrewrite_status:ok"), "{info}");
            break;
        }
        assert!(Instant::now() < deadline, "rewrite did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Rewrites, then reads the state from the rewritten segments, checking
/// that they hold only a rewrite's records.
fn state_after_rewrite(c: &mut redis::Connection, dir: &Path) -> State {
    rewrite(c);
    let mut out = State::new();
    let mut db = 0u8;
    for seg in segments(dir) {
        for r in records(&std::fs::read(seg).unwrap()) {
            match r[0].as_str() {
                "SELECT" => db = r[1].parse().unwrap(),
                "XADD" => {
                    let e = out.entry((db, r[1].clone())).or_insert(StreamState {
                        entries: vec![],
                        setid: vec![],
                    });
                    if r[2] != "MAXLEN" {
                        e.entries.push((r[2].clone(), r[3..].to_vec()));
                    }
                }
                "XSETID" => {
                    out.get_mut(&(db, r[1].clone())).unwrap().setid = r[2..].to_vec();
                }
                "PEXPIREAT" => {}
                other => panic!("a rewrite wrote {other}"),
            }
        }
    }
    out
}

fn check_written(s: &State) {
    assert_eq!(s.len(), 28, "{:?}", s.keys());
    let s0 = &s[&(0, "s0".to_string())];
    // 150 added in nodes of 100 and 50, 3 deleted; `MAXLEN ~ 120` removes
    // nothing (the first node holds 98 of 147); one more, `MAXLEN 100`
    // leaves 100; one more, `MINID ~ 60` cannot take the first node whole.
    assert_eq!(s0.entries.len(), 101);
    assert_eq!(s0.entries[0].0, "51-0");
    assert_eq!(s0.entries.last().unwrap().1, vec!["a", "b"]);
    assert_eq!(
        s0.setid[1..],
        ["ENTRIESADDED", "152", "MAXDELETEDID", "140-0"]
    );
    let empty = &s[&(2, "empty".to_string())];
    assert!(empty.entries.is_empty());
    assert_eq!(
        empty.setid,
        ["7-7", "ENTRIESADDED", "1", "MAXDELETEDID", "0-0"]
    );
    let meta = &s[&(0, "meta".to_string())];
    assert_eq!(
        meta.setid,
        ["50-0", "ENTRIESADDED", "40", "MAXDELETEDID", "9-9"]
    );
}

/// Restart after SIGKILL, rewrite, re-shard 3 → 2: the same streams each
/// time; the logged records are stream commands with explicit IDs; Redis
/// imports the segments into the same streams.
#[test]
fn streams_survive_restart_rewrite_and_reshard() {
    let dir = tempdir("streams");
    let p = Proc::start(&dir, &["--shards", "3", "--appendfsync", "always"]);
    let mut c = p.client();
    write_streams(&mut c);
    let logged: Vec<u8> = segments(&dir)
        .iter()
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    for r in records(&logged) {
        match r[0].as_str() {
            "XADD" => assert!(
                r[2].contains('-') && !r[2].contains('*') || r[2] == "MAXLEN",
                "{r:?}"
            ),
            "XTRIM" => assert_eq!(r[3], "=", "{r:?}"),
            "XDEL" | "XSETID" | "SELECT" | "PEXPIREAT" | "MULTI" | "EXEC" => {}
            other => panic!("logged {other}: {r:?}"),
        }
    }
    drop(c);
    p.signal("-KILL");
    assert_eq!(p.wait(), None);

    let p = Proc::start(&dir, &["--shards", "3"]);
    let mut c = p.client();
    let before = state_after_rewrite(&mut c, &dir);
    check_written(&before);
    let ttl: i64 = q(&mut c, "PTTL s11");
    assert!(ttl > 0, "{ttl}");
    drop(c);
    p.signal("-KILL");
    assert_eq!(p.wait(), None);

    let p = Proc::start(&dir, &["--shards", "2"]);
    let mut c = p.client();
    let after = state_after_rewrite(&mut c, &dir);
    assert_eq!(after, before, "after a rewrite, SIGKILL, 3 to 2 shards");
    // The counters came back: the next IDs follow the old last IDs.
    let id: String = q(&mut c, "XADD meta 50-* f v");
    assert_eq!(id, "50-1");
    assert!(err(&mut c, "XADD s0 199-0 f v").contains("equal or smaller"));
    drop(c);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));
    import_into_redis(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Pipes the segments into a fresh `redis-server` and checks what it
/// reports of the streams (skipped when Redis is not installed).
fn import_into_redis(dir: &Path) {
    use std::io::Write;
    let installed = |bin: &str| Command::new(bin).arg("--version").output().is_ok();
    if !installed("redis-server") || !installed("redis-cli") {
        eprintln!("note: redis-server or redis-cli is not on PATH; skipping the import check");
        return;
    }
    let aof: Vec<u8> = segments(dir)
        .iter()
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let rdir = tempdir("streams-redis");
    let mut server = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--dir"])
        .arg(&rdir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut pipe = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli starts");
    pipe.stdin.take().unwrap().write_all(&aof).unwrap();
    let out = pipe.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let info: Vec<redis::Value> = q(&mut c, "XINFO STREAM meta");
    let len: i64 = q(&mut c, "XLEN s0");
    let _: () = q(&mut c, "SELECT 2");
    let empty: Vec<redis::Value> = q(&mut c, "XINFO STREAM empty");
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&rdir);
    assert!(
        out.status.success() && report.contains("errors: 0"),
        "{report}"
    );
    let field = |v: &[redis::Value], name: &str| -> String {
        let i = v
            .iter()
            .position(|x| matches!(x, redis::Value::BulkString(b) if b == name.as_bytes()))
            .unwrap();
        match &v[i + 1] {
            redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            redis::Value::Int(n) => n.to_string(),
            other => format!("{other:?}"),
        }
    };
    assert_eq!(len, 101);
    assert_eq!(field(&info, "last-generated-id"), "50-1");
    assert_eq!(field(&info, "entries-added"), "41");
    assert_eq!(field(&info, "max-deleted-entry-id"), "9-9");
    assert_eq!(field(&info, "length"), "1");
    assert_eq!(field(&empty, "last-generated-id"), "7-7");
    assert_eq!(field(&empty, "entries-added"), "1");
    assert_eq!(field(&empty, "length"), "0");
}

/// Two keys on different shards of the embedded server (4 shards).
fn two_shards() -> (String, String) {
    let r = Router::new(4);
    let a = "xa".to_string();
    let b = (0..1000)
        .map(|i| format!("xb{i}"))
        .find(|k| r.shard_of(k.as_bytes()) != r.shard_of(a.as_bytes()))
        .unwrap();
    (a, b)
}

fn blocked_clients(c: &mut Raw) -> i64 {
    let info = c.call(&["INFO", "clients"]).bulk_string();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap()
}

/// Waits until `n` clients are blocked.
fn until_blocked(c: &mut Raw, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while blocked_clients(c) != n {
        assert!(Instant::now() < deadline, "never {n} blocked clients");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A client blocked on keys of two shards (`$` on one, an explicit ID on
/// the other) is served by the first XADD that gives one of them an entry
/// after its ID, with that key's entries only; a write that adds nothing
/// after the ID leaves it waiting; RESP3 answers a map.
#[test]
fn xread_block_wakes_on_xadd_across_shards_and_workers() {
    let s = Server::embedded(&[]);
    let (a, b) = two_shards();
    let mut w = s.raw();
    w.send(&cmd(&["XADD", &a, "5-0", "old", "1"]));
    w.expect(b"$3\r\n5-0\r\n");
    for resp3 in [false, true] {
        // Several connections, so some sit on the other worker.
        let mut readers: Vec<Raw> = (0..3).map(|_| s.raw()).collect();
        for r in readers.iter_mut() {
            if resp3 {
                r.send(&[cmd(&["HELLO", "3"]), cmd(&["PING"])].concat());
                let mut hello = Vec::new();
                while !hello.ends_with(b"+PONG\r\n") {
                    hello.extend(r.read_n(1));
                }
            }
            r.send(&cmd(&[
                "XREAD", "BLOCK", "0", "STREAMS", &a, &b, "$", "7-0",
            ]));
        }
        until_blocked(&mut w, 3);
        // Entries at or below the IDs, and writes that add nothing, wake
        // no one.
        w.send(&cmd(&["XADD", &b, "6-0", "f", "v"]));
        w.expect(b"$3\r\n6-0\r\n");
        w.send(&cmd(&["XADD", &b, "7-0", "f", "v"]));
        w.expect(b"$3\r\n7-0\r\n");
        w.send(&cmd(&["XDEL", &b, "6-0"]));
        w.expect(b":1\r\n");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(blocked_clients(&mut w), 3);
        w.send(&cmd(&["XADD", &b, "8-0", "new", "2"]));
        w.expect(b"$3\r\n8-0\r\n");
        let body = [
            bulk(b.as_bytes()),
            b"*1\r\n*2\r\n$3\r\n8-0\r\n*2\r\n$3\r\nnew\r\n$1\r\n2\r\n".to_vec(),
        ]
        .concat();
        let want = if resp3 {
            [b"%1\r\n".to_vec(), body].concat()
        } else {
            [b"*1\r\n*2\r\n".to_vec(), body].concat()
        };
        for r in readers.iter_mut() {
            r.expect(&want);
        }
        until_blocked(&mut w, 0);
        w.send(&cmd(&["DEL", &b]));
        w.expect(b":1\r\n");
    }
    // `$` on the first key: an XADD there serves its own entry.
    let mut r = s.raw();
    r.send(&cmd(&[
        "XREAD", "COUNT", "5", "BLOCK", "0", "STREAMS", &a, &b, "$", "$",
    ]));
    until_blocked(&mut w, 1);
    w.send(&cmd(&["XADD", &a, "9-0", "x", "y"]));
    w.expect(b"$3\r\n9-0\r\n");
    let mut want = b"*1\r\n*2\r\n".to_vec();
    want.extend(bulk(a.as_bytes()));
    want.extend_from_slice(b"*1\r\n*2\r\n$3\r\n9-0\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n");
    r.expect(&want);
}

/// BLOCK times out with a null array; CLIENT UNBLOCK ends the wait too.
#[test]
fn xread_block_times_out_and_unblocks() {
    let s = Server::embedded(&[]);
    let (a, b) = two_shards();
    let mut r = s.raw();
    let start = Instant::now();
    r.send(&cmd(&[
        "XREAD", "BLOCK", "100", "STREAMS", &a, &b, "$", "$",
    ]));
    r.expect(b"*-1\r\n");
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(90), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let id = r.call(&["CLIENT", "ID"]).int().to_string();
    r.send(&cmd(&["XREAD", "BLOCK", "0", "STREAMS", &a, "0"]));
    let mut w = s.raw();
    until_blocked(&mut w, 1);
    w.send(&cmd(&["CLIENT", "UNBLOCK", &id]));
    w.expect(b":1\r\n");
    r.expect(b"*-1\r\n");
    // The registration is gone: a later XADD serves nobody and the
    // connection answers its next command.
    w.send(&cmd(&["XADD", &a, "1-0", "f", "v"]));
    w.expect(b"$3\r\n1-0\r\n");
    r.send(&cmd(&["PING"]));
    r.expect(b"+PONG\r\n");
}

/// Consumer groups through blocking XREADGROUP: each new entry goes to one
/// consumer, the one that blocked first, whichever shard its key lives on
/// and whichever worker serves each client; the delivery lands in the PEL.
/// A destroyed group answers the waiter NOGROUP, a deleted key UNBLOCKED.
#[test]
fn xreadgroup_block_serves_first_waiter_across_shards_and_workers() {
    let s = Server::embedded(&[]);
    let (a, b) = two_shards();
    let mut w = s.raw();
    for k in [&a, &b] {
        w.send(&cmd(&["XGROUP", "CREATE", k, "g", "$", "MKSTREAM"]));
        w.expect(b"+OK\r\n");
    }
    let mut readers: Vec<Raw> = (0..3).map(|_| s.raw()).collect();
    for (i, r) in readers.iter_mut().enumerate() {
        if i == 1 {
            r.send(&[cmd(&["HELLO", "3"]), cmd(&["PING"])].concat());
            let mut hello = Vec::new();
            while !hello.ends_with(b"+PONG\r\n") {
                hello.extend(r.read_n(1));
            }
        }
        let c = format!("c{i}");
        r.send(&cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            &c,
            "BLOCK",
            "0",
            "STREAMS",
            &a,
            &b,
            ">",
            ">",
        ]));
        until_blocked(&mut w, i as i64 + 1);
    }
    w.send(&cmd(&["XADD", &b, "1-0", "f", "v"]));
    w.expect(b"$3\r\n1-0\r\n");
    let mut want = b"*1\r\n*2\r\n".to_vec();
    want.extend(bulk(b.as_bytes()));
    want.extend_from_slice(b"*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    readers[0].expect(&want);
    until_blocked(&mut w, 2);
    w.send(&cmd(&["XADD", &a, "2-0", "x", "y"]));
    w.expect(b"$3\r\n2-0\r\n");
    let mut want = b"%1\r\n".to_vec();
    want.extend(bulk(a.as_bytes()));
    want.extend_from_slice(b"*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n");
    readers[1].expect(&want);
    until_blocked(&mut w, 1);
    let p = w.call(&["XPENDING", &b, "g"]).array();
    assert_eq!(p[0].clone().int(), 1);
    let p = w.call(&["XPENDING", &a, "g", "-", "+", "10", "c1"]).array();
    assert_eq!(p.len(), 1);
    let p = w.call(&["XPENDING", &a, "g"]).array();
    assert_eq!(p[1].clone().bulk_string(), "2-0");
    // The group goes: its waiter hears NOGROUP.
    w.send(&cmd(&["XGROUP", "DESTROY", &a, "g"]));
    w.expect(b":1\r\n");
    readers[2]
        .expect(b"-NOGROUP the consumer group this client was blocked on no longer exists\r\n");
    until_blocked(&mut w, 0);
    // The key goes: UNBLOCKED; a key turned into another type too.
    let mut r = s.raw();
    r.send(&cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c9",
        "BLOCK",
        "0",
        "STREAMS",
        &b,
        ">",
    ]));
    until_blocked(&mut w, 1);
    w.send(&cmd(&["DEL", &b]));
    w.expect(b":1\r\n");
    r.expect(b"-UNBLOCKED the stream key no longer exists\r\n");
    w.send(&cmd(&["XGROUP", "CREATE", &b, "g", "$", "MKSTREAM"]));
    w.expect(b"+OK\r\n");
    r.send(&cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c9",
        "BLOCK",
        "0",
        "STREAMS",
        &b,
        ">",
    ]));
    until_blocked(&mut w, 1);
    w.send(&cmd(&["SET", &b, "x"]));
    w.expect(b"+OK\r\n");
    r.expect(b"-UNBLOCKED the stream key no longer exists\r\n");
    // FLUSHALL takes the key away too.
    w.send(&cmd(&["DEL", &b]));
    w.expect(b":1\r\n");
    w.send(&cmd(&["XGROUP", "CREATE", &b, "g", "$", "MKSTREAM"]));
    w.expect(b"+OK\r\n");
    r.send(&cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c9",
        "BLOCK",
        "0",
        "STREAMS",
        &b,
        ">",
    ]));
    until_blocked(&mut w, 1);
    w.send(&cmd(&["FLUSHALL"]));
    w.expect(b"+OK\r\n");
    r.expect(b"-UNBLOCKED the stream key no longer exists\r\n");
    // A timeout answers a null array.
    w.send(&cmd(&["XGROUP", "CREATE", &b, "g", "$", "MKSTREAM"]));
    w.expect(b"+OK\r\n");
    r.send(&cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c9",
        "BLOCK",
        "50",
        "STREAMS",
        &b,
        ">",
    ]));
    r.expect(b"*-1\r\n");
    // NOACK delivers without a pending entry.
    r.send(&cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c9",
        "NOACK",
        "BLOCK",
        "0",
        "STREAMS",
        &b,
        ">",
    ]));
    until_blocked(&mut w, 1);
    w.send(&cmd(&["XADD", &b, "3-0", "n", "1"]));
    w.expect(b"$3\r\n3-0\r\n");
    let mut want = b"*1\r\n*2\r\n".to_vec();
    want.extend(bulk(b.as_bytes()));
    want.extend_from_slice(b"*1\r\n*2\r\n$3\r\n3-0\r\n*2\r\n$1\r\nn\r\n$1\r\n1\r\n");
    r.expect(&want);
    w.send(&cmd(&["XPENDING", &b, "g"]));
    w.expect(b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n");
}

/// Delivery counts and times as XPENDING and XCLAIM report them.
#[test]
fn deliveries_count_and_claims_move_entries() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    let _: String = q(&mut c, "XADD s 1-0 a 1");
    let _: String = q(&mut c, "XADD s 2-0 b 2");
    let _: String = q(&mut c, "XGROUP CREATE s g 0");
    let _: redis::Value = q(&mut c, "XREADGROUP GROUP g alice STREAMS s >");
    // Reading the history delivers again.
    let _: redis::Value = q(&mut c, "XREADGROUP GROUP g alice STREAMS s 0");
    let _: redis::Value = q(&mut c, "XREADGROUP GROUP g alice STREAMS s 1-0");
    let p: Vec<(String, String, i64, i64)> = q(&mut c, "XPENDING s g - + 10");
    assert_eq!(p.iter().map(|e| e.3).collect::<Vec<_>>(), [2, 3]);
    assert!(p.iter().all(|e| e.1 == "alice" && (0..5000).contains(&e.2)));
    std::thread::sleep(Duration::from_millis(30));
    // Idle long enough: claimed, counted; not idle long enough: left.
    let got: Vec<String> = q(&mut c, "XCLAIM s g bob 20 1-0 JUSTID");
    assert_eq!(got, ["1-0"]);
    let got: Vec<String> = q(&mut c, "XCLAIM s g bob 1000000 2-0 JUSTID");
    assert!(got.is_empty());
    let _: redis::Value = q(&mut c, "XCLAIM s g bob 0 2-0 IDLE 5000");
    let p: Vec<(String, String, i64, i64)> = q(&mut c, "XPENDING s g - + 10 bob");
    assert_eq!(p.len(), 2);
    assert_eq!((p[0].3, p[1].3), (2, 4));
    assert!(p[1].2 >= 5000, "{p:?}");
    let p: Vec<(String, String, i64, i64)> = q(&mut c, "XPENDING s g IDLE 4000 - + 10");
    assert_eq!(p.len(), 1);
    let n: i64 = q(&mut c, "XGROUP DELCONSUMER s g bob");
    assert_eq!(n, 2);
    let p: (i64, Option<String>, Option<String>, redis::Value) = q(&mut c, "XPENDING s g");
    assert_eq!((p.0, p.1, p.2), (0, None, None));
}

/// What a restart compares: each stream's XINFO STREAM FULL (consumers'
/// seen-times aside: they are not persisted, as in Redis) and XPENDING
/// (idle times aside).
fn group_state(c: &mut redis::Connection, keys: &[(&str, &[&str])]) -> Vec<String> {
    fn strip(v: redis::Value, out: &mut String) {
        let mut skip = false;
        let mut walk = |v: redis::Value, out: &mut String| {
            if skip {
                skip = false;
                out.push_str("_ ");
                return;
            }
            if let redis::Value::BulkString(b) = &v {
                skip = b == b"seen-time";
            }
            strip(v, out);
        };
        match v {
            redis::Value::Array(items) => {
                out.push('[');
                for i in items {
                    walk(i, out);
                }
                out.push(']');
            }
            redis::Value::Map(items) => {
                out.push('{');
                for (k, v) in items {
                    walk(k, out);
                    walk(v, out);
                }
                out.push('}');
            }
            other => out.push_str(&format!("{other:?} ")),
        }
    }
    let mut out = Vec::new();
    for (k, groups) in keys {
        let mut text = String::new();
        strip(q(c, &format!("XINFO STREAM {k} FULL COUNT 0")), &mut text);
        out.push(text);
        for g in groups.iter() {
            let p: redis::Value = q(c, &format!("XPENDING {k} {g}"));
            out.push(format!("{p:?}"));
            let p: Vec<(String, String, i64, i64)> = q(c, &format!("XPENDING {k} {g} - + 100"));
            out.push(format!(
                "{:?}",
                p.iter().map(|e| (&e.0, &e.1, e.3)).collect::<Vec<_>>()
            ));
        }
    }
    out
}

/// Group writes are logged as the commands Redis propagates (XGROUP,
/// XCLAIM ... LASTID, XACK); a restart after SIGKILL, a rewrite and a
/// re-shard bring back the groups, their last IDs and entries read, every
/// pending entry with its consumer, delivery time and count, and every
/// consumer.
#[test]
fn consumer_groups_survive_restart_rewrite_and_reshard() {
    let dir = tempdir("cgroups");
    let p = Proc::start(&dir, &["--shards", "3", "--appendfsync", "always"]);
    let mut c = p.client();
    let gh: &[&str] = &["g", "h"];
    let keys = [("s", gh), ("t", gh), ("empty", &["g"][..])];
    for k in ["s", "t"] {
        for i in 1..=8 {
            let _: String = q(&mut c, &format!("XADD {k} {i}-0 f {i}"));
        }
        let _: String = q(&mut c, &format!("XGROUP CREATE {k} g 0"));
        let _: String = q(&mut c, &format!("XGROUP CREATE {k} h $ ENTRIESREAD 8"));
        let _: redis::Value = q(
            &mut c,
            &format!("XREADGROUP GROUP g alice COUNT 3 STREAMS {k} >"),
        );
        let _: redis::Value = q(
            &mut c,
            &format!("XREADGROUP GROUP g bob NOACK COUNT 1 STREAMS {k} >"),
        );
        let _: redis::Value = q(&mut c, &format!("XREADGROUP GROUP g carol STREAMS {k} >"));
        let _: redis::Value = q(&mut c, &format!("XREADGROUP GROUP g alice STREAMS {k} 0"));
        let _: redis::Value = q(
            &mut c,
            &format!("XCLAIM {k} g dave 0 5-0 TIME 12345 RETRYCOUNT 9"),
        );
        let _: redis::Value = q(&mut c, &format!("XAUTOCLAIM {k} g erin 0 7-0 COUNT 1"));
        let _: i64 = q(&mut c, &format!("XACK {k} g 2-0 6-0"));
        let _: i64 = q(&mut c, &format!("XGROUP CREATECONSUMER {k} h idle"));
        let _: i64 = q(&mut c, &format!("XGROUP CREATECONSUMER {k} h gone"));
        let _: i64 = q(&mut c, &format!("XGROUP DELCONSUMER {k} h gone"));
        let _: String = q(&mut c, &format!("XGROUP SETID {k} h 4-0 ENTRIESREAD 4"));
        let _: i64 = q(&mut c, &format!("XDEL {k} 3-0"));
    }
    let _: String = q(&mut c, "XGROUP CREATE empty g $ MKSTREAM");
    let _: String = q(&mut c, "XGROUP CREATE empty x $");
    let _: i64 = q(&mut c, "XGROUP DESTROY empty x");
    let before = group_state(&mut c, &keys);
    assert!(before[0].contains("dave"), "{before:?}");
    let logged: Vec<u8> = segments(&dir)
        .iter()
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    let names: std::collections::BTreeSet<String> =
        records(&logged).into_iter().map(|r| r[0].clone()).collect();
    for n in ["XGROUP", "XCLAIM", "XACK"] {
        assert!(names.contains(n), "{names:?}");
    }
    drop(c);
    p.signal("-KILL");
    assert_eq!(p.wait(), None);

    let p = Proc::start(&dir, &["--shards", "3"]);
    let mut c = p.client();
    assert_eq!(group_state(&mut c, &keys), before, "after SIGKILL");
    rewrite(&mut c);
    drop(c);
    p.signal("-KILL");
    assert_eq!(p.wait(), None);

    let p = Proc::start(&dir, &["--shards", "2"]);
    let mut c = p.client();
    assert_eq!(
        group_state(&mut c, &keys),
        before,
        "after a rewrite, 3 to 2 shards"
    );
    // The groups go on from where they were.
    let _: String = q(&mut c, "XADD s 9-0 f 9");
    let got: redis::Value = q(&mut c, "XREADGROUP GROUP g alice STREAMS s >");
    assert!(format!("{got:?}").contains("9-0"), "{got:?}");
    drop(c);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}
