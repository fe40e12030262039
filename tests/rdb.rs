//! RDB snapshots against a real Redis 7.0.15: SAVE and BGSAVE write a file
//! `redis-server` loads into the same data (DEBUG DIGEST, per-key DEBUG
//! DIGEST-VALUE, TTLs), a file `redis-server` wrote is imported at start,
//! damaged files stop the start having written nothing, DEBUG RELOAD keeps
//! memory and the AOF in step, and streams with consumer groups cross both ways.
//!
//! The tests that need `redis-server` are skipped with a note when it is
//! not on PATH (failing under `CI`).

mod common;

use common::proc::{refused, tempdir, Proc};
use redis::{Connection, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// CRC-64 (Jones), as RDB files end with.
fn crc64(data: &[u8]) -> u64 {
    shards::rdb::crc64::crc64(data)
}

const LIB: &str =
    "#!lua name=rdblib\nredis.register_function('rdbf', function(keys, args) return 'hi' end)";

/// `redis-server` on a free port with `dir`, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start(dir: &Path) -> Option<Redis> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is not on PATH"
            );
            eprintln!("note: redis-server is not on PATH; skipping");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "yes"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let r = Redis { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut c) = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .and_then(|c| c.get_connection())
            {
                // PING answers LOADING while the file loads.
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return Some(r);
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn client(&self) -> Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .unwrap()
            .get_connection()
            .unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn q<T: redis::FromRedisValue>(c: &mut Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn try_q(c: &mut Connection, args: &[&str]) -> Result<Value, String> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query::<Value>(c).map_err(|e| e.to_string())
}

fn info_field(c: &mut Connection, field: &str) -> String {
    let text: String = q(c, &["INFO", "persistence"]);
    common::parse_info(&text)
        .into_iter()
        .find(|(k, _)| k == field)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {field} in {text}"))
}

/// Strings, hashes, sets, lists, sorted sets and HyperLogLogs, compact and
/// big, in databases 0, 3 and 15, some with a deadline.
fn populate(c: &mut Connection) {
    let seq = |n: usize, p: &str| (0..n).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
    for db in ["0", "3", "15"] {
        let _: () = q(c, &["SELECT", db]);
        let _: () = q(c, &["SET", "int", "12345"]);
        let _: () = q(c, &["SET", "neg", "-7"]);
        let _: () = q(c, &["SET", "short", "hello"]);
        let long = "abcdefghij".repeat(30);
        let _: () = q(c, &["SET", "long", &long]);
        let _: () = q(c, &["SET", "bin", "\u{0}\r\n\u{ff}"]);
        let _: () = q(c, &["SET", "ttl", "v", "PX", "5000000"]);
        let _: i64 = q(c, &["HSET", "h", "f", "v", "n", "1"]);
        let mut big = vec!["HSET", "bigh"];
        let fields = seq(600, "field");
        for f in &fields {
            big.push(f);
            big.push("value");
        }
        let _: i64 = q(c, &big);
        let mut longv = vec!["HSET", "longv", "f"];
        longv.push(&long);
        let _: i64 = q(c, &longv);
        let _: i64 = q(c, &["SADD", "ints", "1", "2", "3", "-100000000000"]);
        let _: i64 = q(c, &["SADD", "strs", "a", "b", "c"]);
        let many = seq(700, "");
        let mut s = vec!["SADD", "bigints"];
        s.extend(many.iter().map(String::as_str));
        let _: i64 = q(c, &s);
        let _: i64 = q(c, &["RPUSH", "l", "a", "1", "b"]);
        let mut l = vec!["RPUSH", "bigl"];
        let items = seq(3000, "item");
        l.extend(items.iter().map(String::as_str));
        let _: i64 = q(c, &l);
        let _: i64 = q(c, &["ZADD", "z", "1", "a", "2.5", "b", "-inf", "c"]);
        let mut z = vec!["ZADD", "bigz"];
        let members = seq(300, "m");
        let scores: Vec<String> = (0..300).map(|i| format!("{}", i as f64 / 3.0)).collect();
        for (m, s) in members.iter().zip(&scores) {
            z.push(s);
            z.push(m);
        }
        let _: i64 = q(c, &z);
        let _: i64 = q(c, &["PFADD", "hll", "a", "b", "c"]);
        let mut dense = vec!["PFADD", "hlldense"];
        let els = seq(5000, "e");
        dense.extend(els.iter().map(String::as_str));
        let _: i64 = q(c, &dense);
        let _: i64 = q(c, &["EXPIRE", "bigz", "100000"]);
    }
    let _: () = q(c, &["SELECT", "0"]);
}

/// Every key of every database with its DEBUG DIGEST-VALUE and PTTL.
fn keys_and_digests(c: &mut Connection) -> Vec<(u8, String, String, i64)> {
    let mut out = Vec::new();
    for db in 0..16u8 {
        let _: () = q(c, &["SELECT", &db.to_string()]);
        let mut keys: Vec<String> = q(c, &["KEYS", "*"]);
        keys.sort();
        for k in keys {
            let d: Vec<String> = q(c, &["DEBUG", "DIGEST-VALUE", &k]);
            let pttl: i64 = q(c, &["PTTL", &k]);
            out.push((db, k, d[0].clone(), pttl));
        }
    }
    let _: () = q(c, &["SELECT", "0"]);
    out
}

/// The two servers hold the same keys, values and (within `slack` ms) TTLs.
fn assert_same_data(ours: &mut Connection, theirs: &mut Connection, slack: i64) {
    let a: String = q(ours, &["DEBUG", "DIGEST"]);
    let b: String = q(theirs, &["DEBUG", "DIGEST"]);
    let (ka, kb) = (keys_and_digests(ours), keys_and_digests(theirs));
    assert_eq!(ka.len(), kb.len(), "key counts");
    for (x, y) in ka.iter().zip(&kb) {
        assert_eq!(
            (x.0, &x.1, &x.2),
            (y.0, &y.1, &y.2),
            "key {} in db {}",
            x.1,
            x.0
        );
        assert!(
            (x.3 == -1) == (y.3 == -1) && (x.3 - y.3).abs() <= slack,
            "PTTL of {} in db {}: {} vs {}",
            x.1,
            x.0,
            x.3,
            y.3
        );
    }
    assert_eq!(a, b, "DEBUG DIGEST");
    assert_ne!(a, "0".repeat(40), "the data is not empty");
}

/// Copies `from` to a fresh directory as `dump.rdb`; returns the directory.
fn copy_dump(from: &Path, name: &str) -> PathBuf {
    let dir = tempdir(name);
    std::fs::copy(from, dir.join("dump.rdb")).unwrap();
    dir
}

#[test]
fn save_writes_a_file_redis_loads_into_the_same_data() {
    let dir = tempdir("rdb-save");
    let p = Proc::start(&dir, &["--shards", "4"]);
    let mut c = p.client();
    populate(&mut c);
    let _: String = q(&mut c, &["FUNCTION", "LOAD", LIB]);
    let before: i64 = q(&mut c, &["LASTSAVE"]);
    assert!(
        info_field(&mut c, "rdb_changes_since_last_save")
            .parse::<u64>()
            .unwrap()
            > 0
    );
    std::thread::sleep(Duration::from_millis(1100));
    let ok: String = q(&mut c, &["SAVE"]);
    assert_eq!(ok, "OK");
    let after: i64 = q(&mut c, &["LASTSAVE"]);
    assert!(after > before, "LASTSAVE moved: {before} -> {after}");
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert_eq!(info_field(&mut c, "rdb_saves"), "1");
    let _: () = q(&mut c, &["SET", "later", "1"]);
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "1");
    let _: () = q(&mut c, &["DEL", "later"]);
    // Only the file is left behind, no temporary one.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rdb"))
        .collect();
    assert_eq!(names, vec!["dump.rdb".to_string()]);
    let rdir = copy_dump(&dir.join("dump.rdb"), "rdb-save-redis");
    let Some(r) = Redis::start(&rdir) else { return };
    let mut rc = r.client();
    assert_same_data(&mut c, &mut rc, 2000);
    // Redis holds them in the encodings it would have built itself.
    let enc: String = q(&mut rc, &["OBJECT", "ENCODING", "bigh"]);
    assert_eq!(enc, "hashtable");
    let enc: String = q(&mut rc, &["OBJECT", "ENCODING", "z"]);
    assert_eq!(enc, "listpack");
    // The function library came along.
    let hi: String = q(&mut rc, &["FCALL", "rdbf", "0"]);
    assert_eq!(hi, "hi");
    drop(r);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&rdir);
}

#[test]
fn bgsave_writes_in_the_background_one_at_a_time() {
    let dir = tempdir("rdb-bgsave");
    let p = Proc::start(&dir, &["--shards", "3", "--dbfilename", "snap.rdb"]);
    let mut c = p.client();
    populate(&mut c);
    let e = try_q(&mut c, &["BGSAVE", "NOW"]).unwrap_err();
    assert!(e.contains("syntax error"), "{e}");
    let started: String = q(&mut c, &["BGSAVE"]);
    assert_eq!(started, "Background saving started");
    // A second one while the first runs is refused; once it ended, allowed.
    match try_q(&mut c, &["BGSAVE"]) {
        Err(e) => assert!(e.contains("Background save already in progress"), "{e}"),
        Ok(v) => assert_eq!(v, Value::SimpleString("Background saving started".into())),
    }
    assert!(common::wait_until(Duration::from_secs(30), || {
        info_field(&mut c, "rdb_bgsave_in_progress") == "0"
    }));
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    assert!(
        info_field(&mut c, "rdb_last_bgsave_time_sec")
            .parse::<i64>()
            .unwrap()
            >= 0
    );
    assert!(info_field(&mut c, "rdb_saves").parse::<i64>().unwrap() >= 1);
    let hold: u64 = info_field(&mut c, "shardcache_rdb_last_snapshot_hold_us")
        .parse()
        .unwrap();
    assert!(hold > 0);
    let cfg: Vec<String> = q(&mut c, &["CONFIG", "GET", "dbfilename"]);
    assert_eq!(cfg, vec!["dbfilename".to_string(), "snap.rdb".to_string()]);
    let e = try_q(&mut c, &["CONFIG", "SET", "dbfilename", "x.rdb"]).unwrap_err();
    assert!(e.contains("can't set protected config"), "{e}");
    assert!(!dir.join("dump.rdb").exists());
    let rdir = copy_dump(&dir.join("snap.rdb"), "rdb-bgsave-redis");
    let Some(r) = Redis::start(&rdir) else { return };
    assert_same_data(&mut c, &mut r.client(), 2000);
    drop(r);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&rdir);
}

#[test]
fn a_file_redis_wrote_is_imported_at_start_and_made_durable() {
    let rdir = tempdir("rdb-import-redis");
    let Some(r) = Redis::start(&rdir) else { return };
    let mut rc = r.client();
    populate(&mut rc);
    let _: String = q(&mut rc, &["FUNCTION", "LOAD", LIB]);
    // Saved with its deadline ahead, past it by the import.
    let _: () = q(&mut rc, &["SET", "gone", "x", "PX", "300"]);
    let _: String = q(&mut rc, &["SAVE"]);
    let _: i64 = q(&mut rc, &["DEL", "gone"]);
    std::thread::sleep(Duration::from_millis(400));
    let dir = copy_dump(&rdir.join("dump.rdb"), "rdb-import");
    let p = Proc::start(&dir, &["--shards", "4"]);
    assert!(p.log().contains("shardcache rdb: loaded"), "{}", p.log());
    let mut c = p.client();
    assert_same_data(&mut c, &mut rc, 2000);
    let hi: String = q(&mut c, &["FCALL", "rdbf", "0"]);
    assert_eq!(hi, "hi");
    let loaded: u64 = info_field(&mut c, "rdb_last_load_keys_loaded")
        .parse()
        .unwrap();
    assert_eq!(loaded, 3 * 18);
    assert_eq!(info_field(&mut c, "rdb_last_load_keys_expired"), "1");
    // The AOF holds the data: a restart without the file has all of it.
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));
    std::fs::remove_file(dir.join("dump.rdb")).unwrap();
    let p = Proc::start(&dir, &["--shards", "2"]);
    assert_same_data(&mut p.client(), &mut rc, 2000);
    let hi: String = q(&mut p.client(), &["FCALL", "rdbf", "0"]);
    assert_eq!(hi, "hi");
    // With AOF data in the directory, a file there is not imported.
    std::fs::copy(rdir.join("dump.rdb"), dir.join("dump.rdb")).unwrap();
    let _: () = q(&mut p.client(), &["FLUSHALL"]);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));
    let p = Proc::start(&dir, &[]);
    let n: i64 = q(&mut p.client(), &["DBSIZE"]);
    assert_eq!(n, 0);
    assert!(p.log().contains("not loaded"), "{}", p.log());
    drop(r);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&rdir);
}

#[test]
fn an_import_without_the_aof_loads_into_memory() {
    let dir = tempdir("rdb-import-noaof");
    let p = Proc::start(&dir, &["--shards", "2"]);
    let mut c = p.client();
    populate(&mut c);
    let digest: String = q(&mut c, &["DEBUG", "DIGEST"]);
    let _: String = q(&mut c, &["SAVE"]);
    drop(c);
    drop(p);
    let only = copy_dump(&dir.join("dump.rdb"), "rdb-import-noaof2");
    let p = Proc::start(&only, &["--appendonly", "no", "--shards", "5"]);
    let got: String = q(&mut p.client(), &["DEBUG", "DIGEST"]);
    assert_eq!(got, digest);
    drop(p);
    // The whole file is loaded whatever max-keys says; eviction starts with
    // the next write.
    let p = Proc::start(
        &only,
        &[
            "--appendonly",
            "no",
            "--shards",
            "2",
            "--max-keys",
            "10",
            "--maxmemory-policy",
            "allkeys-lru",
        ],
    );
    let mut c = p.client();
    let got: String = q(&mut c, &["DEBUG", "DIGEST"]);
    assert_eq!(got, digest);
    let _: () = q(&mut c, &["SET", "new", "1"]);
    let total: i64 = (0..16)
        .map(|db| {
            let _: () = q(&mut c, &["SELECT", &db.to_string()]);
            q::<i64>(&mut c, &["DBSIZE"])
        })
        .sum();
    assert!(total < 54, "{total} keys after a write under max-keys 10");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&only);
}

#[test]
fn a_damaged_file_stops_the_start_and_nothing_is_written() {
    let dir = tempdir("rdb-damaged");
    let p = Proc::start(&dir, &["--shards", "2"]);
    let mut c = p.client();
    populate(&mut c);
    let _: String = q(&mut c, &["SAVE"]);
    drop(c);
    drop(p);
    let good = std::fs::read(dir.join("dump.rdb")).unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("no checksum", good[..good.len() - 8].to_vec()),
    ];
    let mut flipped = good.clone();
    let at = good.len() / 3;
    flipped[at] ^= 0x01;
    cases.push(("flipped byte", flipped));
    let mut unknown = b"REDIS0010".to_vec();
    unknown.extend_from_slice(&[0xFE, 0, 42, 1, b'k']);
    cases.push(("unknown type", unknown));
    let mut stream = b"REDIS0010".to_vec();
    stream.extend_from_slice(&[0xFE, 0, 20, 1, b'k']);
    cases.push(("stream", stream));
    let mut function = b"REDIS0010".to_vec();
    function.extend_from_slice(&[0xF6, 1, b'x']);
    cases.push(("function", function));
    // A library that does not compile stops the start too.
    let mut lib = b"REDIS0010\xf5\x0bnot a lib!!\xff".to_vec();
    let crc = crc64(&lib);
    lib.extend_from_slice(&crc.to_le_bytes());
    cases.push(("library", lib));
    for (what, bytes) in cases {
        let d = tempdir("rdb-damaged-case");
        std::fs::write(d.join("dump.rdb"), &bytes).unwrap();
        let err = refused(&d, &[]);
        assert!(err.contains("cannot load the RDB file"), "{what}: {err}");
        match what {
            "flipped byte" | "truncated" => assert!(err.contains("checksum"), "{what}: {err}"),
            "unknown type" => assert!(err.contains("unknown object type 42"), "{err}"),
            "stream" | "function" => assert!(err.contains(what), "{err}"),
            "library" => assert!(err.contains("function library does not load"), "{err}"),
            _ => {}
        }
        // Never half-loaded: no AOF generation was written.
        let left: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["dump.rdb".to_string()], "{what}");
        let _ = std::fs::remove_dir_all(&d);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn debug_reload_keeps_memory_and_aof_in_step() {
    let dir = tempdir("rdb-reload");
    let p = Proc::start(&dir, &["--shards", "3"]);
    let mut c = p.client();
    populate(&mut c);
    let _: String = q(&mut c, &["FUNCTION", "LOAD", LIB]);
    let digest: String = q(&mut c, &["DEBUG", "DIGEST"]);
    let enc: String = q(&mut c, &["OBJECT", "ENCODING", "h"]);
    assert_eq!(enc, "listpack");
    // Encodings are chosen again on load under the limits in force.
    let _: () = q(&mut c, &["CONFIG", "SET", "hash-max-listpack-entries", "1"]);
    let ok: String = q(&mut c, &["DEBUG", "RELOAD"]);
    assert_eq!(ok, "OK");
    let enc: String = q(&mut c, &["OBJECT", "ENCODING", "h"]);
    assert_eq!(enc, "hashtable");
    let got: String = q(&mut c, &["DEBUG", "DIGEST"]);
    assert_eq!(got, digest);
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    let hi: String = q(&mut c, &["FCALL", "rdbf", "0"]);
    assert_eq!(hi, "hi");
    // NOSAVE NOFLUSH MERGE adds the file's keys back over what is there.
    let _: () = q(&mut c, &["SET", "extra", "1"]);
    let _: () = q(&mut c, &["SET", "short", "changed"]);
    let _: String = q(&mut c, &["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"]);
    let short: String = q(&mut c, &["GET", "short"]);
    assert_eq!(short, "hello");
    let extra: String = q(&mut c, &["GET", "extra"]);
    assert_eq!(extra, "1");
    // NOSAVE replaces memory with the file.
    let _: String = q(&mut c, &["DEBUG", "RELOAD", "NOSAVE"]);
    let got: String = q(&mut c, &["DEBUG", "DIGEST"]);
    assert_eq!(got, digest);
    let e = try_q(&mut c, &["DEBUG", "RELOAD", "SOON"]).unwrap_err();
    assert!(
        e.contains("only supports the MERGE, NOFLUSH and NOSAVE"),
        "{e}"
    );
    // A restart gives the same data: the AOF followed the reloads.
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));
    std::fs::remove_file(dir.join("dump.rdb")).unwrap();
    let p = Proc::start(&dir, &["--shards", "3"]);
    let mut c = p.client();
    let got: String = q(&mut c, &["DEBUG", "DIGEST"]);
    assert_eq!(got, digest);
    // No file: as Redis, the data is emptied and the load fails.
    let e = try_q(&mut c, &["DEBUG", "RELOAD", "NOSAVE"]).unwrap_err();
    assert!(e.contains("Error trying to load the RDB dump"), "{e}");
    let n: i64 = q(&mut c, &["DBSIZE"]);
    assert_eq!(n, 0);
    let libs: Vec<Value> = q(&mut c, &["FUNCTION", "LIST"]);
    assert!(libs.is_empty(), "{libs:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Streams with consumer groups, as several shards hold them.
fn fill_streams(c: &mut Connection) {
    for (id, f) in [("1-1", "a"), ("2-1", "a"), ("3-1", "c"), ("4-1", "a")] {
        let _: String = q(c, &["XADD", "s", id, f, "1", "b", "2"]);
    }
    let _: i64 = q(c, &["XDEL", "s", "2-1"]);
    let _: String = q(c, &["XGROUP", "CREATE", "s", "g1", "0"]);
    let _: String = q(c, &["XGROUP", "CREATE", "s", "g2", "$", "ENTRIESREAD", "3"]);
    let _: Value = q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            ">",
        ],
    );
    let _: Value = q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
    );
    let _: i64 = q(c, &["XACK", "s", "g1", "1-1"]);
    let _: i64 = q(c, &["XGROUP", "CREATECONSUMER", "s", "g2", "carol"]);
    // Emptied, with its last ID and counters left.
    let _: String = q(c, &["XADD", "empty", "5-5", "f", "v"]);
    let _: i64 = q(c, &["XDEL", "empty", "5-5"]);
    // More entries than one node holds, over several field sets.
    for i in 0..250 {
        let f = format!("f{}", i % 3);
        let v = i.to_string();
        let _: String = q(c, &["XADD", "big", "*", &f, &v, "x", "y"]);
    }
    let _: String = q(c, &["XGROUP", "CREATE", "big", "g", "0"]);
    let _: Value = q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "120",
            "STREAMS",
            "big",
            ">",
        ],
    );
    let _: i64 = q(c, &["PEXPIRE", "big", "5000000"]);
}

/// XINFO STREAM FULL of each stream `fill_streams` made, less the radix
/// tree's sizes (each server counts its own tree).
fn streams_view(c: &mut Connection) -> Vec<Vec<Value>> {
    ["s", "empty", "big"]
        .iter()
        .map(|k| {
            let v: Vec<Value> = q(c, &["XINFO", "STREAM", k, "FULL", "COUNT", "0"]);
            v.chunks(2)
                .filter(|p| !matches!(&p[0], Value::BulkString(b) if b.starts_with(b"radix-tree")))
                .flat_map(|p| p.to_vec())
                .collect()
        })
        .collect()
}

/// `v` with every `seen-time` value zeroed.
fn unseen(v: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    fn walk(v: Value) -> Value {
        match v {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut zero_next = false;
                for x in items {
                    out.push(if std::mem::take(&mut zero_next) {
                        Value::Int(0)
                    } else {
                        zero_next = matches!(&x, Value::BulkString(b) if b == b"seen-time");
                        walk(x)
                    });
                }
                Value::Array(out)
            }
            x => x,
        }
    }
    v.into_iter()
        .map(|s| s.into_iter().map(walk).collect())
        .collect()
}

#[test]
fn streams_with_consumer_groups_cross_in_both_directions() {
    // Written here, loaded by Redis and here.
    let dir = tempdir("rdb-stream");
    let p = Proc::start(&dir, &["--shards", "3"]);
    let mut c = p.client();
    fill_streams(&mut c);
    let ours = streams_view(&mut c);
    let ok: String = q(&mut c, &["SAVE"]);
    assert_eq!(ok, "OK");
    let ok: String = q(&mut c, &["DEBUG", "RELOAD"]);
    assert_eq!(ok, "OK");
    assert_eq!(streams_view(&mut c), ours, "after DEBUG RELOAD");
    let rdir = copy_dump(&dir.join("dump.rdb"), "rdb-stream-redis");
    let Some(r) = Redis::start(&rdir) else { return };
    let mut rc = r.client();
    assert_eq!(streams_view(&mut rc), ours, "Redis loading our file");
    assert_same_data(&mut c, &mut rc, 2000);
    drop(r);
    // Written by Redis, imported here, then replayed from the AOF.
    let rdir2 = tempdir("rdb-stream-redis2");
    let r = Redis::start(&rdir2).expect("redis-server ran a moment ago");
    let mut rc = r.client();
    fill_streams(&mut rc);
    let theirs = streams_view(&mut rc);
    let _: String = q(&mut rc, &["SAVE"]);
    let dir2 = copy_dump(&rdir2.join("dump.rdb"), "rdb-stream-import");
    let p2 = Proc::start(&dir2, &["--shards", "2"]);
    assert_eq!(
        streams_view(&mut p2.client()),
        theirs,
        "our import of Redis's file"
    );
    assert_same_data(&mut p2.client(), &mut rc, 2000);
    p2.signal("-TERM");
    assert_eq!(p2.wait(), Some(0));
    std::fs::remove_file(dir2.join("dump.rdb")).unwrap();
    let p2 = Proc::start(&dir2, &["--shards", "4"]);
    // Consumers' seen times restart at an AOF replay, as in Redis.
    assert_eq!(
        unseen(streams_view(&mut p2.client())),
        unseen(theirs),
        "replayed from the AOF"
    );
    drop(r);
    for d in [&dir, &rdir, &rdir2, &dir2] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The snapshot is one instant across shards: writers move a unit between
/// keys on different shards in MULTI/EXEC while BGSAVEs run; every file
/// holds the same total.
#[test]
fn snapshots_are_one_instant_across_shards() {
    let dir = tempdir("rdb-instant");
    let p = Proc::start(&dir, &["--shards", "4"]);
    let mut c = p.client();
    let keys: Vec<String> = (0..16).map(|i| format!("acct{i}")).collect();
    for k in &keys {
        let _: () = q(&mut c, &["SET", k, "100"]);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let mut wc = p.client();
            let keys = keys.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = w;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (a, b) = (&keys[i % 16], &keys[(i * 7 + 3) % 16]);
                    i += 1;
                    if a == b {
                        continue;
                    }
                    let _: Value = redis::pipe()
                        .atomic()
                        .cmd("DECR")
                        .arg(a)
                        .cmd("INCR")
                        .arg(b)
                        .query(&mut wc)
                        .unwrap();
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut files = 0;
    while files < 15 && Instant::now() < deadline {
        let _: String = q(&mut c, &["SAVE"]);
        let bytes = std::fs::read(dir.join("dump.rdb")).unwrap();
        let f = shards::rdb::file::read_file(&bytes, 16).unwrap();
        let total: i64 = f
            .entries
            .iter()
            .map(|e| match &e.object {
                shards::rdb::file::FileObject::Value(_, shards::rdb::RdbValue::String(s)) => {
                    std::str::from_utf8(s).unwrap().parse::<i64>().unwrap()
                }
                v => panic!("{v:?}"),
            })
            .sum();
        assert_eq!(total, 1600, "snapshot {files}");
        files += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(files >= 3, "{files} snapshots");
    let _ = std::fs::remove_dir_all(&dir);
}

/// No replication: becoming a replica, and the replica's side of the
/// protocol, are refused with errors that say so (Redis would start
/// replicating); REPLICAOF NO ONE is OK. Raw RESP, exact bytes.
#[test]
fn replication_requests_are_refused_clearly() {
    let s = common::Server::start(&[]);
    if common::against_redis() {
        return;
    }
    let mut r = s.raw();
    let no = |what: &str| {
        format!("-ERR shardcache does not support replication: {what} is not available\r\n")
    };
    common::exchange(
        &mut r,
        &common::cmd(&["REPLICAOF", "NO", "ONE"]),
        b"+OK\r\n",
    );
    common::exchange(
        &mut r,
        &common::cmd(&["REPLICAOF", "127.0.0.1", "6379"]),
        b"-ERR shardcache does not support replication: it cannot become a replica (REPLICAOF NO ONE is accepted)\r\n",
    );
    common::exchange(
        &mut r,
        &common::cmd(&["SLAVEOF", "127.0.0.1", "x"]),
        b"-ERR Invalid master port\r\n",
    );
    common::exchange(&mut r, &common::cmd(&["SYNC"]), no("SYNC").as_bytes());
    common::exchange(
        &mut r,
        &common::cmd(&["PSYNC", "?", "-1"]),
        no("PSYNC").as_bytes(),
    );
    common::exchange(
        &mut r,
        &common::cmd(&["REPLCONF", "listening-port", "6380"]),
        no("REPLCONF").as_bytes(),
    );
    common::exchange(
        &mut r,
        &common::cmd(&["PSYNC"]),
        b"-ERR wrong number of arguments for 'psync' command\r\n",
    );
    // Still a master, and still serving.
    common::exchange(
        &mut r,
        &common::cmd(&["ROLE"]),
        b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n",
    );
    common::exchange(&mut r, &common::cmd(&["PING"]), b"+PONG\r\n");
}

/// SHUTDOWN SAVE writes the snapshot before exiting; SHUTDOWN NOSAVE and a
/// plain SHUTDOWN do not.
#[test]
fn shutdown_save_writes_the_snapshot() {
    let dir = tempdir("rdb-shutdown");
    let p = Proc::start(&dir, &["--shards", "2"]);
    let mut c = p.client();
    let _: () = q(&mut c, &["SET", "k", "v"]);
    let e = try_q(&mut c, &["SHUTDOWN", "SAVE", "NOSAVE"]).unwrap_err();
    assert!(e.contains("syntax error"), "{e}");
    let e = try_q(&mut c, &["SHUTDOWN", "ABORT", "NOW"]).unwrap_err();
    assert!(e.contains("syntax error"), "{e}");
    let _ = try_q(&mut c, &["SHUTDOWN"]);
    assert_eq!(p.wait(), Some(0));
    assert!(!dir.join("dump.rdb").exists());
    let p = Proc::start(&dir, &["--shards", "2"]);
    let _ = try_q(&mut p.client(), &["SHUTDOWN", "SAVE"]);
    assert_eq!(p.wait(), Some(0));
    let f =
        shards::rdb::file::read_file(&std::fs::read(dir.join("dump.rdb")).unwrap(), 16).unwrap();
    assert_eq!(f.entries.len(), 1);
    assert_eq!(f.entries[0].key, b"k");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `dbfilename` in a config file, CONFIG SET (a protected config, allowed
/// by enable-protected-configs) and CONFIG REWRITE; SAVE follows the name.
#[test]
fn dbfilename_is_configured_set_and_rewritten() {
    let dir = tempdir("rdb-config");
    let file = dir.join("shardcache.conf");
    std::fs::write(
        &file,
        "# test\ndbfilename first.rdb\nenable-protected-configs yes\n",
    )
    .unwrap();
    let data = dir.join("data");
    let p = Proc::start(&data, &["--config", file.to_str().unwrap()]);
    let mut c = p.client();
    let got: Vec<String> = q(&mut c, &["CONFIG", "GET", "dbfilename"]);
    assert_eq!(got[1], "first.rdb");
    let _: String = q(&mut c, &["SAVE"]);
    assert!(data.join("first.rdb").exists());
    let e = try_q(&mut c, &["CONFIG", "SET", "dbfilename", "a/b.rdb"]).unwrap_err();
    assert!(
        e.contains("dbfilename can't be a path, just a filename"),
        "{e}"
    );
    let _: () = q(&mut c, &["CONFIG", "SET", "dbfilename", "second.rdb"]);
    let _: String = q(&mut c, &["BGSAVE"]);
    assert!(common::wait_until(Duration::from_secs(30), || {
        info_field(&mut c, "rdb_bgsave_in_progress") == "0"
    }));
    assert!(data.join("second.rdb").exists());
    let _: () = q(&mut c, &["CONFIG", "REWRITE"]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("dbfilename second.rdb"), "{text}");
    assert!(!text.contains("first.rdb"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// While an AOF rewrite runs, BGSAVE answers Redis's error and BGSAVE
/// SCHEDULE `Background saving scheduled` (the save then runs at once).
#[test]
fn bgsave_during_an_aof_rewrite() {
    let dir = tempdir("rdb-rewrite");
    let p = Proc::start(&dir, &["--shards", "2"]);
    let mut c = p.client();
    let _: () = q(&mut c, &["DEBUG", "POPULATE", "300000"]);
    let (mut refused_seen, mut scheduled_seen) = (false, false);
    for _ in 0..10 {
        if refused_seen && scheduled_seen {
            break;
        }
        assert!(common::wait_until(Duration::from_secs(30), || {
            info_field(&mut c, "aof_rewrite_in_progress") == "0"
                && info_field(&mut c, "rdb_bgsave_in_progress") == "0"
        }));
        let _: String = q(&mut c, &["BGREWRITEAOF"]);
        if !refused_seen {
            match try_q(&mut c, &["BGSAVE"]) {
                Err(e) => {
                    assert!(e.contains("Another child process is active (AOF?)"), "{e}");
                    refused_seen = true;
                }
                Ok(v) => assert_eq!(v, Value::SimpleString("Background saving started".into())),
            }
        } else {
            let v = try_q(&mut c, &["BGSAVE", "SCHEDULE"]).unwrap();
            if v == Value::SimpleString("Background saving scheduled".into()) {
                scheduled_seen = true;
            }
        }
    }
    assert!(
        refused_seen && scheduled_seen,
        "{refused_seen} {scheduled_seen}"
    );
    assert!(common::wait_until(Duration::from_secs(30), || {
        info_field(&mut c, "rdb_bgsave_in_progress") == "0"
    }));
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    let f =
        shards::rdb::file::read_file(&std::fs::read(dir.join("dump.rdb")).unwrap(), 16).unwrap();
    assert_eq!(f.entries.len(), 300000);
    let _ = std::fs::remove_dir_all(&dir);
}
