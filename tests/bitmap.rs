//! BITOP and BITFIELD beyond single replies (those are in
//! `tests/differential/bitmap_ops.txt`): a BITOP over several shards reads
//! and writes as one step under concurrent writers, and both commands are
//! logged as absolute records (`SET k v [PXAT ms]`, `DEL k`), so a server
//! killed right after them comes back with the same values and TTLs, and a
//! real Redis importing the segments ends in the same state.

mod common;

use common::proc::{tempdir, Proc};
use common::Server;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Writers replace `a` and `c` (on two shards) with one new value of a new
/// length and delete `d` (a third shard), in one transaction; others run
/// `BITOP XOR d a c`. Read together, `d` is then absent or exactly as long
/// as `a` and all zeros: a BITOP that read the sources before a write and
/// stored its result after it would leave `d` at the old length.
#[test]
fn cross_shard_bitop_reads_and_writes_as_one_step() {
    let r = shards::route::Router::new(4);
    let shard = |k: &str| r.shard_of(k.as_bytes());
    assert!(shard("a") != shard("c") && shard("c") != shard("d") && shard("a") != shard("d"));
    let s = Server::start(&[]);
    let stop = Arc::new(AtomicBool::new(false));
    let (ops, reads) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut handles = Vec::new();
    for w in 0..2usize {
        let mut c = s.client();
        let (stop, ops) = (stop.clone(), ops.clone());
        handles.push(thread::spawn(move || {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let v = vec![b'x'; 1 + (n * 7 + w * 13) % 97];
                let _: () = redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg("a")
                    .arg(&v)
                    .ignore()
                    .cmd("SET")
                    .arg("c")
                    .arg(&v)
                    .ignore()
                    .cmd("DEL")
                    .arg("d")
                    .ignore()
                    .query(&mut c)
                    .unwrap();
                n += 1;
                ops.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for _ in 0..2 {
        let mut c = s.client();
        let (stop, ops) = (stop.clone(), ops.clone());
        handles.push(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _: i64 = redis::cmd("BITOP")
                    .arg("XOR")
                    .arg("d")
                    .arg("a")
                    .arg("c")
                    .query(&mut c)
                    .unwrap();
                ops.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for _ in 0..2 {
        let mut c = s.client();
        let (stop, reads) = (stop.clone(), reads.clone());
        handles.push(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let mut v: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
                    .arg("a")
                    .arg("c")
                    .arg("d")
                    .query(&mut c)
                    .unwrap();
                let (d, cv, a) = (v.pop().unwrap(), v.pop().unwrap(), v.pop().unwrap());
                assert_eq!(a, cv, "a and c are written together");
                if let Some(d) = d {
                    let len = a.map_or(0, |a| a.len());
                    assert_eq!(d, vec![0u8; len], "d is the XOR of the a and c beside it");
                }
                reads.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("client thread");
    }
    let (o, r) = (ops.load(Ordering::Relaxed), reads.load(Ordering::Relaxed));
    assert!(
        o > 200 && r > 100,
        "too little traffic: {o} writes, {r} reads"
    );
}

fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&[u8]]) -> T {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(&args.concat())))
}

/// Every key the writes touch, in each database they use. Under `--shards
/// 4`, `a`, `c`, `d` and `g` live on four different shards.
const KEYS: [&str; 10] = ["a", "c", "d", "g", "f", "fail", "ttl", "gone", "int", "big"];
const DBS: [&str; 2] = ["0", "4"];

/// Writes with BITFIELD and BITOP (on one shard and across shards) in two
/// databases.
fn write_bits(c: &mut redis::Connection) {
    for db in DBS {
        let _: () = q(c, &[b"SELECT", db.as_bytes()]);
        let _: Vec<Option<i64>> = q(
            c,
            &[
                b"BITFIELD",
                b"a",
                b"SET",
                b"u8",
                b"0",
                b"255",
                b"SET",
                b"i5",
                b"#3",
                b"-7",
                b"INCRBY",
                b"u16",
                b"#1",
                b"513",
            ],
        );
        let _: () = q(c, &[b"SET", b"c", b"\x0f\xf0\x01"]);
        // Across shards: sources on a and c, destination on d, then g.
        let _: i64 = q(c, &[b"BITOP", b"XOR", b"d", b"a", b"c", b"nosuch"]);
        let _: i64 = q(c, &[b"BITOP", b"NOT", b"g", b"d"]);
        let _: i64 = q(c, &[b"BITOP", b"AND", b"a", b"a", b"g"]);
        // One shard (the destination is a source).
        let _: i64 = q(c, &[b"BITOP", b"OR", b"c", b"c"]);
        // Counters with every overflow policy.
        let _: Vec<Option<i64>> = q(
            c,
            &[
                b"BITFIELD",
                b"f",
                b"INCRBY",
                b"i64",
                b"0",
                b"9223372036854775807",
                b"OVERFLOW",
                b"SAT",
                b"INCRBY",
                b"i64",
                b"0",
                b"5",
                b"OVERFLOW",
                b"WRAP",
                b"INCRBY",
                b"u63",
                b"64",
                b"-1",
                b"OVERFLOW",
                b"FAIL",
                b"INCRBY",
                b"u1",
                b"200",
                b"2",
            ],
        );
        // A write that fails still creates the key, zero-filled.
        let _: Vec<Option<i64>> = q(
            c,
            &[
                b"BITFIELD",
                b"fail",
                b"OVERFLOW",
                b"FAIL",
                b"SET",
                b"i4",
                b"20",
                b"100",
            ],
        );
        // A BITFIELD keeps the TTL; a BITOP destination loses it.
        let _: () = q(c, &[b"SET", b"ttl", b"abc", b"EX", b"3600"]);
        let _: Vec<Option<i64>> = q(c, &[b"BITFIELD", b"ttl", b"SET", b"u8", b"16", b"100"]);
        let _: () = q(c, &[b"SET", b"gone", b"x", b"EX", b"3600"]);
        let _: i64 = q(c, &[b"BITOP", b"OR", b"gone", b"nosuch"]);
        let _: () = q(c, &[b"SET", b"int", b"12"]);
        let _: Vec<Option<i64>> = q(c, &[b"BITFIELD", b"int", b"INCRBY", b"u8", b"8", b"1"]);
        // A big destination, written across shards.
        let _: Vec<Option<i64>> = q(c, &[b"BITFIELD", b"big", b"SET", b"u8", b"#70000", b"1"]);
        let _: i64 = q(c, &[b"BITOP", b"OR", b"big", b"big", b"a"]);
        let _: Vec<Option<i64>> = q(c, &[b"BITFIELD", b"big", b"INCRBY", b"u8", b"#70000", b"1"]);
    }
}

/// `(db, key, value, PEXPIRETIME)` of every key, and each database's size.
type State = (Vec<(String, String, Option<Vec<u8>>, i64)>, Vec<i64>);

fn state(c: &mut redis::Connection) -> State {
    let mut keys = Vec::new();
    let mut sizes = Vec::new();
    for db in DBS {
        let _: () = q(c, &[b"SELECT", db.as_bytes()]);
        for key in KEYS {
            let value: Option<Vec<u8>> = q(c, &[b"GET", key.as_bytes()]);
            let at: i64 = q(c, &[b"PEXPIRETIME", key.as_bytes()]);
            keys.push((db.to_string(), key.to_string(), value, at));
        }
        sizes.push(q(c, &[b"DBSIZE"]));
    }
    (keys, sizes)
}

#[test]
fn sigkill_after_bitop_and_bitfield_replays_the_same_state() {
    let dir = tempdir("bitmap");
    let p = Proc::start(&dir, &["--shards", "4", "--appendfsync", "always"]);
    let mut c = p.client();
    write_bits(&mut c);
    let before = state(&mut c);
    // What the writes left (so the comparisons below compare something).
    let value = |k: &str| before.0.iter().find(|e| e.1 == k).unwrap().2.clone();
    let at = |k: &str| before.0.iter().find(|e| e.1 == k).unwrap().3;
    // a was ff 01 92 01: 255, then -7 in bits 15..19, then 0x9000 + 513.
    assert_eq!(value("d").as_deref(), Some(&b"\xf0\xf1\x93\x01"[..]));
    assert_eq!(value("g").as_deref(), Some(&b"\x0f\x0e\x6c\xfe"[..]));
    assert_eq!(value("a").as_deref(), Some(&b"\x0f\0\0\0"[..]));
    assert_eq!(value("c").as_deref(), Some(&b"\x0f\xf0\x01"[..]));
    assert_eq!(value("fail").as_deref(), Some(&b"\0\0\0"[..]));
    assert_eq!(value("ttl").as_deref(), Some(&b"abd"[..]));
    assert!(at("ttl") > 0);
    assert_eq!(value("gone"), None);
    assert_eq!(value("int").as_deref(), Some(&b"13"[..]));
    assert_eq!(value("big").map(|v| v.len()), Some(70_001));
    assert_eq!(before.1, [9, 9]);
    drop(c);
    p.signal("-KILL");
    assert_eq!(p.wait(), None, "killed by a signal");

    let mut segments: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "aof"))
        .collect();
    segments.sort();
    let aof: Vec<u8> = segments
        .iter()
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    let text = String::from_utf8_lossy(&aof).to_ascii_uppercase();
    for bad in ["\r\nBITOP", "\r\nBITFIELD"] {
        assert!(!text.contains(bad), "AOF holds a {bad:?} record");
    }

    let p = Proc::start(&dir, &["--shards", "4"]);
    let mut c = p.client();
    assert_eq!(state(&mut c), before, "after a restart");
    drop(c);
    drop(p);
    import_into_redis(&aof, &before);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Pipes `aof` into a fresh `redis-server` with `redis-cli --pipe` and
/// compares its state with `want`; skipped when Redis is not installed.
fn import_into_redis(aof: &[u8], want: &State) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let installed = |bin: &str| Command::new(bin).arg("--version").output().is_ok();
    if !installed("redis-server") || !installed("redis-cli") {
        eprintln!("note: redis-server or redis-cli is not on PATH; skipping the import check");
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
        .to_string();
    let dir = tempdir("bitmap-redis");
    let mut server = Command::new("redis-server")
        .args(["--port", &port, "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut pipe = Command::new("redis-cli")
        .args(["-p", &port, "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli starts");
    pipe.stdin.take().unwrap().write_all(aof).unwrap();
    let out = pipe.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let got = state(&mut c);
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success() && report.contains("errors: 0"),
        "{report}"
    );
    assert_eq!(&got, want, "Redis after importing the segments");
}
