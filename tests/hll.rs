//! HyperLogLogs through real clients, beyond the single replies compared
//! with Redis in `tests/differential/hll.txt`: the cases of Redis's own
//! `tests/unit/hyperloglog.tcl` (estimates within 5% up to 100k elements,
//! sparse to dense promotion, corruption detection under fuzzing, merges
//! with missing keys), PFCOUNT and PFMERGE across shards as one step under
//! concurrent writers, and values that survive a SIGKILL byte for byte and
//! replay the same in a real Redis.

mod common;

use common::proc::{tempdir, Proc};
use common::{Rng, Server};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&[u8]]) -> T {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(&args.concat())))
}

fn err(c: &mut redis::Connection, args: &[&[u8]]) -> String {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query::<redis::Value>(c) {
        Err(e) => format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

fn encoding(c: &mut redis::Connection, key: &str) -> String {
    q(c, &[b"PFDEBUG", b"ENCODING", key.as_bytes()])
}

/// Random elements as the Tcl suite makes them (`expr rand()`), from a seed.
fn elements(rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| format!("0.{}", rng.next() % 1_000_000_000_000).into_bytes())
        .collect()
}

fn pfadd(c: &mut redis::Connection, key: &str, els: &[Vec<u8>]) -> i64 {
    let mut cmd = redis::cmd("PFADD");
    cmd.arg(key);
    for e in els {
        cmd.arg(&e[..]);
    }
    cmd.query(c).unwrap()
}

/// "HyperLogLogs are promote from sparse to dense": 100 random elements at
/// a time up to 100k, the estimate within 5% each time, sparse below 1000
/// elements and dense past 10000.
#[test]
fn estimates_within_5_percent_and_promotion_at_3000_bytes() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    let _: () = q(
        &mut c,
        &[b"CONFIG", b"SET", b"hll-sparse-max-bytes", b"3000"],
    );
    let mut rng = Rng(0x5eed_0001);
    let mut n = 0i64;
    let mut worst = 0.0f64;
    let mut promoted_at = None;
    while n < 100_000 {
        let els = elements(&mut rng, 100);
        n += 100;
        pfadd(&mut c, "hll", &els);
        let card: i64 = q(&mut c, &[b"PFCOUNT", b"hll"]);
        let err = (card - n).abs() as f64;
        assert!(err < card as f64 / 100.0 * 5.0, "{card} for {n} elements");
        worst = worst.max(err / n as f64);
        let enc = encoding(&mut c, "hll");
        if n < 1000 {
            assert_eq!(enc, "sparse", "at {n}");
        } else if n > 10_000 {
            assert_eq!(enc, "dense", "at {n}");
        }
        if enc == "dense" && promoted_at.is_none() {
            promoted_at = Some(n);
        }
        if enc == "sparse" {
            let len: i64 = q(&mut c, &[b"STRLEN", b"hll"]);
            assert!(len <= 3000, "a sparse value of {len} bytes");
        }
    }
    assert!(worst < 0.05);
    eprintln!("worst relative error {worst:.4}, dense from {promoted_at:?} elements");
}

/// "HyperLogLog sparse encoding stress test": a sparse and a dense HLL fed
/// the same elements estimate exactly the same.
#[test]
fn sparse_and_dense_estimates_agree() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    let mut rng = Rng(0x5eed_0002);
    for _ in 0..300 {
        let _: i64 = q(&mut c, &[b"DEL", b"hll1", b"hll2"]);
        let n = (rng.next() % 100) as usize;
        let els = elements(&mut rng, n);
        let _: i64 = q(&mut c, &[b"PFADD", b"hll2"]);
        let _: i64 = q(&mut c, &[b"PFDEBUG", b"TODENSE", b"hll2"]);
        pfadd(&mut c, "hll1", &els);
        pfadd(&mut c, "hll2", &els);
        assert_eq!(encoding(&mut c, "hll1"), "sparse");
        assert_eq!(encoding(&mut c, "hll2"), "dense");
        let a: i64 = q(&mut c, &[b"PFCOUNT", b"hll1"]);
        let b: i64 = q(&mut c, &[b"PFCOUNT", b"hll2"]);
        assert_eq!(a, b, "{n} elements");
    }
}

/// PFADD answers 1 only when a register changed; PFCOUNT's cache follows.
#[test]
fn pfadd_reports_changes_and_the_cache_follows() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    assert_eq!(q::<i64>(&mut c, &[b"PFADD", b"hll"]), 1);
    assert_eq!(q::<i64>(&mut c, &[b"PFCOUNT", b"hll"]), 0);
    assert_eq!(q::<i64>(&mut c, &[b"PFADD", b"hll", b"a", b"b", b"c"]), 1);
    assert_eq!(q::<i64>(&mut c, &[b"PFADD", b"hll", b"a", b"b", b"c"]), 0);
    assert_eq!(q::<i64>(&mut c, &[b"PFADD", b"hll", b""]), 1);
    assert_eq!(q::<i64>(&mut c, &[b"DEL", b"hll"]), 1);
    assert_eq!(
        q::<i64>(&mut c, &[b"PFADD", b"hll", b"1", b"2", b"3", b"4", b"5"]),
        1
    );
    assert_eq!(q::<i64>(&mut c, &[b"PFCOUNT", b"hll"]), 5);
    // The cached cardinality is valid now (top bit of byte 15 clear)...
    let v: Vec<u8> = q(&mut c, &[b"GET", b"hll"]);
    assert_eq!((v[8], v[15]), (5, 0));
    let _: i64 = q(
        &mut c,
        &[b"PFADD", b"hll", b"6", b"7", b"8", b"8", b"9", b"10"],
    );
    // ... and stale after a change.
    let v: Vec<u8> = q(&mut c, &[b"GET", b"hll"]);
    assert_eq!(v[15] & 0x80, 0x80);
    assert_eq!(q::<i64>(&mut c, &[b"PFCOUNT", b"hll"]), 10);
    // A cache set by hand is believed, as in Redis.
    let _: () = q(&mut c, &[b"SETRANGE", b"hll", b"8", b"\x2a\0\0\0\0\0\0\0"]);
    assert_eq!(q::<i64>(&mut c, &[b"PFCOUNT", b"hll"]), 42);
}

/// "Corrupted sparse/dense HyperLogLogs are detected", and the fuzzing
/// case: random bytes written over an HLL give a reply (a number or an
/// error), never a dead connection or server.
#[test]
fn corrupted_values_are_detected_and_fuzzing_never_kills() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    let invalid = "INVALIDOBJ Corrupted HLL object detected";
    let not_hll = "WRONGTYPE Key is not a valid HyperLogLog string value.";
    // Additional at tail.
    let _: i64 = q(&mut c, &[b"PFADD", b"hll", b"a", b"b", b"c"]);
    let _: i64 = q(&mut c, &[b"APPEND", b"hll", b"hello"]);
    assert_eq!(err(&mut c, &[b"PFCOUNT", b"hll"]), invalid);
    // Broken magic.
    let _: i64 = q(&mut c, &[b"DEL", b"hll"]);
    let _: i64 = q(&mut c, &[b"PFADD", b"hll", b"a", b"b", b"c"]);
    let _: i64 = q(&mut c, &[b"SETRANGE", b"hll", b"0", b"0123"]);
    assert_eq!(err(&mut c, &[b"PFCOUNT", b"hll"]), not_hll);
    // Invalid encoding.
    let _: i64 = q(&mut c, &[b"DEL", b"hll"]);
    let _: i64 = q(&mut c, &[b"PFADD", b"hll", b"a", b"b", b"c"]);
    let _: i64 = q(&mut c, &[b"SETRANGE", b"hll", b"4", b"x"]);
    assert_eq!(err(&mut c, &[b"PFCOUNT", b"hll"]), not_hll);
    // Dense of the wrong length.
    let _: i64 = q(&mut c, &[b"DEL", b"hll"]);
    let _: i64 = q(&mut c, &[b"PFADD", b"hll", b"a", b"b", b"c"]);
    let _: i64 = q(&mut c, &[b"SETRANGE", b"hll", b"4", b"\x00"]);
    assert_eq!(err(&mut c, &[b"PFCOUNT", b"hll"]), not_hll);

    let mut rng = Rng(0x5eed_0003);
    let mut errors = 0;
    for round in 0..300 {
        let _: i64 = q(&mut c, &[b"DEL", b"hll"]);
        let n = 1 + (rng.next() % 1000) as usize;
        pfadd(&mut c, "hll", &elements(&mut rng, n));
        if round % 2 == 0 {
            let _: i64 = q(&mut c, &[b"PFDEBUG", b"TODENSE", b"hll"]);
        }
        let len: i64 = q(&mut c, &[b"STRLEN", b"hll"]);
        for _ in 0..1 + rng.next() % 10 {
            let at = (16 + rng.next() % (len as u64 - 15)).to_string();
            let byte = [(rng.next() & 0xff) as u8];
            let _: i64 = q(&mut c, &[b"SETRANGE", b"hll", at.as_bytes(), &byte]);
        }
        let mut cmd = redis::cmd("PFADD");
        cmd.arg("hll");
        for e in elements(&mut rng, 20) {
            cmd.arg(e);
        }
        let results = [
            redis::cmd("PFCOUNT")
                .arg("hll")
                .query::<i64>(&mut c)
                .map(|_| ()),
            cmd.query::<i64>(&mut c).map(|_| ()),
            redis::cmd("PFMERGE")
                .arg("other")
                .arg("hll")
                .query::<()>(&mut c),
            redis::cmd("PFCOUNT")
                .arg("hll")
                .arg("other")
                .query::<i64>(&mut c)
                .map(|_| ()),
        ];
        for r in results {
            if let Err(e) = r {
                assert_eq!(
                    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
                    invalid
                );
                errors += 1;
            }
        }
        let _: i64 = q(&mut c, &[b"DEL", b"other"]);
    }
    assert!(errors > 0, "the fuzzing found no corruption at all");
    assert_eq!(q::<String>(&mut c, &[b"PING"]), "PONG");
}

/// PFMERGE with missing or empty sources, and with the destination among
/// the sources; PFCOUNT of several keys is their union (each within 5%).
#[test]
fn pfmerge_and_union_counts() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    // Missing sources: an empty destination is created.
    assert_eq!(
        q::<String>(&mut c, &[b"PFMERGE", b"dest", b"nosuch1", b"nosuch2"]),
        "OK"
    );
    assert_eq!(q::<i64>(&mut c, &[b"EXISTS", b"dest"]), 1);
    assert_eq!(q::<i64>(&mut c, &[b"PFCOUNT", b"dest"]), 0);
    // The destination as its only source.
    let _: i64 = q(&mut c, &[b"PFADD", b"d2", b"a", b"b", b"c"]);
    assert_eq!(q::<String>(&mut c, &[b"PFMERGE", b"d2"]), "OK");
    assert_eq!(q::<i64>(&mut c, &[b"PFCOUNT", b"d2"]), 3);
    // Sources on four shards.
    let _: i64 = q(&mut c, &[b"PFADD", b"a", b"1", b"2", b"3"]);
    let _: i64 = q(&mut c, &[b"PFADD", b"c", b"3", b"4", b"5"]);
    let _: i64 = q(&mut c, &[b"PFADD", b"d", b"5", b"6", b"7"]);
    assert_eq!(
        q::<String>(&mut c, &[b"PFMERGE", b"g", b"a", b"c", b"d"]),
        "OK"
    );
    assert_eq!(q::<i64>(&mut c, &[b"PFCOUNT", b"g"]), 7);
    assert_eq!(q::<i64>(&mut c, &[b"PFCOUNT", b"a", b"c", b"d"]), 7);

    // "PFCOUNT multiple-keys merge returns cardinality of union".
    let mut rng = Rng(0x5eed_0004);
    let keys = ["a", "c", "d"];
    let _: i64 = q(&mut c, &[b"DEL", b"a", b"c", b"d"]);
    let mut total = 0i64;
    for round in 0..100 {
        for k in keys {
            let els: Vec<Vec<u8>> = (0..100)
                .map(|_| (rng.next() % 1_000_000_000).to_string().into_bytes())
                .collect();
            pfadd(&mut c, k, &els);
            total += 100;
        }
        if round % 10 == 9 {
            let card: i64 = q(&mut c, &[b"PFCOUNT", b"a", b"c", b"d"]);
            // Random numbers may repeat: compare with a tolerance, as Redis's
            // test does.
            assert!(
                ((card - total).abs() as f64) < total as f64 * 0.05,
                "{card} vs {total}"
            );
        }
    }
    // Type checks.
    let _: i64 = q(&mut c, &[b"LPUSH", b"list", b"x"]);
    let wrong = "WRONGTYPE Operation against a key holding the wrong kind of value";
    assert_eq!(err(&mut c, &[b"PFADD", b"list", b"1"]), wrong);
    assert_eq!(err(&mut c, &[b"PFMERGE", b"list", b"a"]), wrong);
    assert_eq!(err(&mut c, &[b"PFCOUNT", b"a", b"list"]), wrong);
    let _: () = q(&mut c, &[b"SET", b"str", b"foo"]);
    let not_hll = "WRONGTYPE Key is not a valid HyperLogLog string value.";
    assert_eq!(err(&mut c, &[b"PFADD", b"str", b"1"]), not_hll);
    assert_eq!(err(&mut c, &[b"PFMERGE", b"g", b"str"]), not_hll);
    assert_eq!(err(&mut c, &[b"PFCOUNT", b"d", b"str"]), not_hll);
}

/// "PFDEBUG GETREG returns the HyperLogLog raw registers", through raw RESP
/// (exact bytes), sparse turned dense by it.
#[test]
fn pfdebug_getreg_and_raw_replies() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    common::run(
        &mut r,
        &[
            (&["PFADD", "hll", "a"], b":1\r\n"),
            (&["PFDEBUG", "ENCODING", "hll"], b"+sparse\r\n"),
            (
                &["PFDEBUG", "DECODE", "hll"],
                b"$20\r\nZ:12711 v:2,1 Z:3672\r\n",
            ),
            (&["PFCOUNT", "hll"], b":1\r\n"),
            (
                &["PFDEBUG", "ENCODING", "nosuch"],
                b"-ERR The specified key does not exist\r\n",
            ),
            (
                &["PFDEBUG", "FOO", "hll"],
                b"-ERR Unknown PFDEBUG subcommand 'FOO'\r\n",
            ),
            (
                &["PFADD"],
                b"-ERR wrong number of arguments for 'pfadd' command\r\n",
            ),
            (&["PFSELFTEST"], b"+OK\r\n"),
        ],
    );
    let mut c = s.client();
    let regs: Vec<i64> = q(&mut c, &[b"PFDEBUG", b"GETREG", b"hll"]);
    assert_eq!(regs.len(), 16384);
    assert_eq!(regs[12711], 2);
    assert_eq!(regs.iter().filter(|&&v| v != 0).count(), 1);
    assert_eq!(encoding(&mut c, "hll"), "dense");
    // The value is Redis's dense layout: register 12711 at bits 76266..
    let v: Vec<u8> = q(&mut c, &[b"GET", b"hll"]);
    assert_eq!(v.len(), 16 + 12288);
    assert_eq!(&v[..5], b"HYLL\0");
    let bit = 12711 * 6;
    let got = ((v[16 + bit / 8] as u32 | (v[16 + bit / 8 + 1] as u32) << 8) >> (bit % 8)) & 63;
    assert_eq!(got, 2);
}

/// Writers replace `a` and `c` (two shards) with HLLs holding one same new
/// element, in one transaction; readers count their union (PFCOUNT a c) and
/// merge them into `d` (a third shard) and count that, in a transaction.
/// A read that saw `a` before a write and `c` after it would count 2.
#[test]
fn cross_shard_pfcount_and_pfmerge_are_one_step() {
    let r = shards::route::Router::new(4);
    let shard = |k: &str| r.shard_of(k.as_bytes());
    assert!(shard("a") != shard("c") && shard("c") != shard("d") && shard("a") != shard("d"));
    let s = Server::start(&[]);
    let stop = Arc::new(AtomicBool::new(false));
    let (writes, reads) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    {
        let mut c = s.client();
        let _: i64 = q(&mut c, &[b"PFADD", b"a", b"0"]);
        let _: i64 = q(&mut c, &[b"PFADD", b"c", b"0"]);
    }
    let mut handles = Vec::new();
    for w in 0..2usize {
        let mut c = s.client();
        let (stop, writes) = (stop.clone(), writes.clone());
        handles.push(thread::spawn(move || {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let e = format!("{w}-{n}");
                let _: () = redis::pipe()
                    .atomic()
                    .cmd("DEL")
                    .arg("a")
                    .arg("c")
                    .ignore()
                    .cmd("PFADD")
                    .arg("a")
                    .arg(&e)
                    .ignore()
                    .cmd("PFADD")
                    .arg("c")
                    .arg(&e)
                    .ignore()
                    .query(&mut c)
                    .unwrap();
                n += 1;
                writes.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for reader in 0..2usize {
        let mut c = s.client();
        let (stop, reads) = (stop.clone(), reads.clone());
        handles.push(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let n: i64 = if reader == 0 {
                    redis::cmd("PFCOUNT")
                        .arg("a")
                        .arg("c")
                        .query(&mut c)
                        .unwrap()
                } else {
                    let ((), n): ((), i64) = redis::pipe()
                        .atomic()
                        .cmd("DEL")
                        .arg("d")
                        .ignore()
                        .cmd("PFMERGE")
                        .arg("d")
                        .arg("a")
                        .arg("c")
                        .cmd("PFCOUNT")
                        .arg("d")
                        .query(&mut c)
                        .unwrap();
                    n
                };
                assert_eq!(n, 1, "a and c hold the same one element");
                reads.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("client thread");
    }
    let (w, r) = (
        writes.load(Ordering::Relaxed),
        reads.load(Ordering::Relaxed),
    );
    assert!(
        w > 100 && r > 100,
        "too little traffic: {w} writes, {r} reads"
    );
}

const KEYS: [&str; 8] = ["a", "c", "d", "g", "sparse", "dense", "ttl", "merged"];

/// HLL writes of every kind: sparse and dense PFADDs, a promotion, a
/// PFCOUNT that caches, PFDEBUG TODENSE, merges on one shard and across.
fn write_hlls(c: &mut redis::Connection) {
    let mut rng = Rng(0x5eed_0005);
    pfadd(c, "sparse", &elements(&mut rng, 50));
    pfadd(c, "dense", &elements(&mut rng, 5000));
    let _: i64 = q(c, &[b"PFCOUNT", b"dense"]);
    pfadd(c, "ttl", &elements(&mut rng, 10));
    let _: i64 = q(c, &[b"EXPIRE", b"ttl", b"3600"]);
    let _: i64 = q(c, &[b"PFDEBUG", b"TODENSE", b"ttl"]);
    pfadd(c, "ttl", &elements(&mut rng, 10));
    let _: i64 = q(c, &[b"PFCOUNT", b"ttl"]);
    pfadd(c, "a", &elements(&mut rng, 30));
    pfadd(c, "c", &elements(&mut rng, 3000));
    let _: () = q(c, &[b"PFMERGE", b"d", b"a", b"c", b"nosuch"]);
    let _: () = q(c, &[b"PFMERGE", b"g", b"a", b"sparse"]);
    let _: () = q(c, &[b"PFMERGE", b"merged", b"sparse"]);
    let _: i64 = q(c, &[b"PFCOUNT", b"merged"]);
}

type State = Vec<(String, Option<Vec<u8>>, i64)>;

fn state(c: &mut redis::Connection) -> State {
    KEYS.iter()
        .map(|k| {
            let v: Option<Vec<u8>> = q(c, &[b"GET", k.as_bytes()]);
            let at: i64 = q(c, &[b"PEXPIRETIME", k.as_bytes()]);
            (k.to_string(), v, at)
        })
        .collect()
}

#[test]
fn sigkill_after_hll_writes_replays_the_same_bytes() {
    let dir = tempdir("hll");
    let p = Proc::start(&dir, &["--shards", "4", "--appendfsync", "always"]);
    let mut c = p.client();
    write_hlls(&mut c);
    let before = state(&mut c);
    let enc = |c: &mut redis::Connection, k: &str| encoding(c, k);
    assert_eq!(enc(&mut c, "sparse"), "sparse");
    assert_eq!(enc(&mut c, "dense"), "dense");
    assert_eq!(enc(&mut c, "ttl"), "dense");
    assert_eq!(enc(&mut c, "d"), "dense");
    assert!(before.iter().all(|(_, v, _)| v.is_some()));
    assert!(before.iter().find(|e| e.0 == "ttl").unwrap().2 > 0);
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

    let p = Proc::start(&dir, &["--shards", "4"]);
    let mut c = p.client();
    assert_eq!(state(&mut c), before, "after a restart");
    drop(c);
    drop(p);
    import_into_redis(&aof, &before);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Pipes `aof` into a fresh `redis-server` and compares its state with
/// `want`, and its PFCOUNTs with ours; skipped when Redis is not installed.
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
    let dir = tempdir("hll-redis");
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
        thread::sleep(Duration::from_millis(20));
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
    let counts: Vec<i64> = KEYS
        .iter()
        .map(|k| q(&mut c, &[b"PFCOUNT", k.as_bytes()]))
        .collect();
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success() && report.contains("errors: 0"),
        "{report}"
    );
    assert_eq!(&got, want, "Redis after importing the segments");
    assert!(counts.iter().all(|&n| n > 0), "{counts:?}");
}

/// `--hll-sparse-max-bytes` at start: CONFIG GET shows it, and a sparse
/// value turns dense as soon as an update would pass it.
#[test]
fn sparse_max_bytes_flag_applies() {
    let s = Server::embedded(&["--hll-sparse-max-bytes", "100"]);
    let mut c = s.client();
    let got: Vec<String> = q(&mut c, &[b"CONFIG", b"GET", b"hll-sparse-max-bytes"]);
    assert_eq!(got, ["hll-sparse-max-bytes", "100"]);
    let mut rng = Rng(0x5eed_0006);
    let mut longest = 0;
    let _: i64 = q(&mut c, &[b"PFADD", b"h"]);
    while encoding(&mut c, "h") != "dense" {
        pfadd(&mut c, "h", &elements(&mut rng, 1));
        let len: i64 = q(&mut c, &[b"STRLEN", b"h"]);
        if len < 12304 {
            longest = longest.max(len);
        }
    }
    assert!(
        (90..=100).contains(&longest),
        "sparse up to {longest} bytes"
    );
}
