//! Hashes and sets beyond single replies (those are in
//! `tests/differential/hash.txt` and `set.txt`): the cross-shard set
//! commands are atomic under concurrent clients, and DUMP payloads of every
//! encoding travel between shardcache and a real Redis 7.0 both ways.

mod common;

use common::Server;
use shards::route::Router;
use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The sets of the atomicity test: four keys on four different shards.
const SETS: [&str; 4] = ["a", "c", "d", "g"];
/// Tokens spread over the sets; each is in exactly one set at every moment.
const TOKENS: usize = 40;

fn token(i: usize) -> String {
    // Half integers, half strings: the sets are hashtables holding both,
    // and the integers alone would make intsets of a result.
    if i % 2 == 0 {
        i.to_string()
    } else {
        format!("t{i}")
    }
}

/// A small xorshift generator per thread.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Movers SMOVE tokens between sets on different shards (alone, and two at
/// a time in MULTI/EXEC); store writers run SUNIONSTORE, SINTERSTORE and
/// SDIFFSTORE over all of them; readers check, through SUNION, SINTER,
/// SINTERCARD, SDIFF, MULTI/EXEC of SCARDs and SMEMBERS, and the stored
/// results, that every token is in exactly one set: a half-applied SMOVE
/// (removed from its source, not yet added to its destination, or the
/// reverse) or a STORE that read the sets across one would show a token
/// missing or twice.
#[test]
fn cross_shard_smove_and_stores_never_show_a_half_move() {
    let r = Router::new(4);
    let shards: BTreeSet<usize> = SETS.iter().map(|k| r.shard_of(k.as_bytes())).collect();
    assert_eq!(shards.len(), SETS.len(), "the sets live on four shards");
    let s = Server::start(&[]);
    let mut setup = s.client();
    for i in 0..TOKENS {
        let _: i64 = redis::cmd("SADD")
            .arg(SETS[i % SETS.len()])
            .arg(token(i))
            .query(&mut setup)
            .unwrap();
    }
    let all: BTreeSet<String> = (0..TOKENS).map(token).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let (moves, stores, reads) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut handles = Vec::new();
    for w in 0..3u64 {
        let mut c = s.client();
        let (stop, moves) = (stop.clone(), moves.clone());
        handles.push(thread::spawn(move || {
            let mut x = w * 7919 + 17;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 200_000 {
                let t = token(next(&mut x) as usize % TOKENS);
                let from = SETS[next(&mut x) as usize % SETS.len()];
                let to = SETS[next(&mut x) as usize % SETS.len()];
                if w == 0 {
                    // Two moves in one transaction: a token there and back,
                    // another one onward.
                    let t2 = token(next(&mut x) as usize % TOKENS);
                    let (a, b): (i64, i64) = redis::pipe()
                        .atomic()
                        .cmd("SMOVE")
                        .arg(from)
                        .arg(to)
                        .arg(&t)
                        .cmd("SMOVE")
                        .arg(to)
                        .arg(from)
                        .arg(&t2)
                        .query(&mut c)
                        .unwrap();
                    n += (a + b) as usize;
                } else {
                    let moved: i64 = redis::cmd("SMOVE")
                        .arg(from)
                        .arg(to)
                        .arg(&t)
                        .query(&mut c)
                        .unwrap();
                    n += moved as usize;
                }
            }
            moves.fetch_add(n, Ordering::Relaxed);
        }));
    }
    {
        let mut c = s.client();
        let (stop, stores) = (stop.clone(), stores.clone());
        handles.push(thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let union: i64 = redis::cmd("SUNIONSTORE")
                    .arg("u")
                    .arg(&SETS[..])
                    .query(&mut c)
                    .unwrap();
                assert_eq!(union as usize, TOKENS, "SUNIONSTORE of all sets");
                let inter: i64 = redis::cmd("SINTERSTORE")
                    .arg("x")
                    .arg(SETS[0])
                    .arg(SETS[1])
                    .query(&mut c)
                    .unwrap();
                assert_eq!(inter, 0, "SINTERSTORE of two sets");
                // The first set minus the others is the first set.
                let (diff, first): (i64, i64) = redis::pipe()
                    .atomic()
                    .cmd("SDIFFSTORE")
                    .arg("y")
                    .arg(&SETS[..])
                    .cmd("SCARD")
                    .arg(SETS[0])
                    .query(&mut c)
                    .unwrap();
                assert_eq!(diff, first, "SDIFFSTORE of all sets");
                n += 1;
            }
            stores.fetch_add(n, Ordering::Relaxed);
        }));
    }
    for rd in 0..2u64 {
        let mut c = s.client();
        let (stop, reads, all) = (stop.clone(), reads.clone(), all.clone());
        handles.push(thread::spawn(move || {
            let mut x = rd * 104_729 + 3;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let union: BTreeSet<String> = redis::cmd("SUNION")
                    .arg(&SETS[..])
                    .query(&mut c)
                    .unwrap();
                assert_eq!(union, all, "SUNION of all sets");
                let i = next(&mut x) as usize % SETS.len();
                let j = (i + 1 + next(&mut x) as usize % (SETS.len() - 1)) % SETS.len();
                let inter: Vec<String> = redis::cmd("SINTER")
                    .arg(SETS[i])
                    .arg(SETS[j])
                    .query(&mut c)
                    .unwrap();
                assert!(inter.is_empty(), "SINTER {} {}: {inter:?}", SETS[i], SETS[j]);
                let card: i64 = redis::cmd("SINTERCARD")
                    .arg(2)
                    .arg(SETS[j])
                    .arg(SETS[i])
                    .query(&mut c)
                    .unwrap();
                assert_eq!(card, 0, "SINTERCARD {} {}", SETS[j], SETS[i]);
                let mut p = redis::pipe();
                p.atomic();
                for k in SETS {
                    p.cmd("SMEMBERS").arg(k);
                }
                p.cmd("SDIFF").arg(SETS[i]);
                for (k, other) in SETS.iter().enumerate() {
                    if k != i {
                        p.arg(other);
                    }
                }
                p.cmd("SCARD").arg("u");
                p.cmd("SCARD").arg("x");
                let (members, diff, u, inter): (
                    Vec<BTreeSet<String>>,
                    BTreeSet<String>,
                    i64,
                    i64,
                ) = {
                    let mut v: Vec<redis::Value> = p.query(&mut c).unwrap();
                    let conv = |v: redis::Value| -> BTreeSet<String> {
                        redis::from_redis_value(&v).unwrap()
                    };
                    let inter = redis::from_redis_value(&v.pop().unwrap()).unwrap();
                    let u = redis::from_redis_value(&v.pop().unwrap()).unwrap();
                    let diff = conv(v.pop().unwrap());
                    (v.into_iter().map(conv).collect(), diff, u, inter)
                };
                let total: usize = members.iter().map(BTreeSet::len).sum();
                let seen: BTreeSet<String> = members.iter().flatten().cloned().collect();
                assert!(
                    total == TOKENS && seen == all,
                    "one transaction's SMEMBERS: {members:?}"
                );
                assert_eq!(diff, members[i], "SDIFF {} minus the others", SETS[i]);
                // The stored results, whenever a store has run.
                assert!(u == 0 || u as usize == TOKENS, "SCARD u = {u}");
                assert_eq!(inter, 0, "SCARD x");
                n += 1;
            }
            reads.fetch_add(n, Ordering::Relaxed);
        }));
    }
    thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let mut failed = 0;
    for h in handles {
        failed += h.join().is_err() as usize;
    }
    assert_eq!(failed, 0, "a client thread failed (see its panic above)");
    let total: i64 = SETS
        .iter()
        .map(|k| redis::cmd("SCARD").arg(k).query::<i64>(&mut setup).unwrap())
        .sum();
    assert_eq!(total as usize, TOKENS);
    let (m, st, rd) = (
        moves.load(Ordering::Relaxed),
        stores.load(Ordering::Relaxed),
        reads.load(Ordering::Relaxed),
    );
    println!("{m} moves, {st} store rounds, {rd} read rounds");
    assert!(
        m > 200 && st > 50 && rd > 50,
        "too little traffic: {m} moves, {st} store rounds, {rd} read rounds"
    );
}

// ------------------------------------------------------------ DUMP/RESTORE

/// A `redis-server` child on a free port, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    /// None (and a note) when `redis-server` is not installed, except under
    /// `CI`, where it must be.
    fn start() -> Option<Redis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .ok()?
            .port();
        let child = match Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                assert!(std::env::var_os("CI").is_none(), "redis-server: {e}");
                eprintln!("note: redis-server is not installed ({e}); skipping");
                return None;
            }
        };
        let mut r = Redis { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            thread::sleep(Duration::from_millis(20));
        }
        let mut c = r.client();
        let version: String = redis::cmd("INFO").arg("server").query(&mut c).unwrap();
        if !version.contains("redis_version:7.0.") {
            eprintln!("note: redis-server is not 7.0; skipping");
            let _ = r.child.kill();
            return None;
        }
        Some(r)
    }

    fn client(&mut self) -> redis::Connection {
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

/// What a key holds, compared across servers: its type, its encoding, its
/// content (a hash's pairs, a set's members) and whether it has a TTL.
#[derive(Debug, PartialEq, Eq)]
struct Held {
    kind: String,
    encoding: String,
    pairs: BTreeMap<Vec<u8>, Vec<u8>>,
    members: BTreeSet<Vec<u8>>,
    ttl: bool,
}

fn held(c: &mut redis::Connection, key: &str) -> Held {
    let kind: String = redis::cmd("TYPE").arg(key).query(c).unwrap();
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(key)
        .query(c)
        .unwrap();
    let pttl: i64 = redis::cmd("PTTL").arg(key).query(c).unwrap();
    let (mut pairs, mut members) = (BTreeMap::new(), BTreeSet::new());
    match kind.as_str() {
        "hash" => pairs = redis::cmd("HGETALL").arg(key).query(c).unwrap(),
        "set" => members = redis::cmd("SMEMBERS").arg(key).query(c).unwrap(),
        other => panic!("{key} is a {other}"),
    }
    Held {
        kind,
        encoding,
        pairs,
        members,
        ttl: pttl > 0,
    }
}

/// Fills `c` with a hash and a set of every encoding and size class.
fn fill(c: &mut redis::Connection) -> Vec<&'static str> {
    let q = |c: &mut redis::Connection, args: Vec<Vec<u8>>| {
        let mut cmd = redis::cmd(std::str::from_utf8(&args[0]).unwrap());
        for a in &args[1..] {
            cmd.arg(&a[..]);
        }
        cmd.exec(c).unwrap();
    };
    let words = |s: &str| -> Vec<Vec<u8>> { s.split(' ').map(|w| w.as_bytes().to_vec()).collect() };
    q(c, words("HSET hlp f1 v1 f2 2 n -123456789012 e x"));
    q(c, words("PEXPIRE hlp 1000000"));
    let mut big = words("HSET hbig");
    for i in 0..700 {
        big.push(format!("field:{i}").into_bytes());
        big.push(format!("{i}").into_bytes());
    }
    q(c, big);
    // A long value Redis compresses with LZF in its payload; binary fields.
    let mut long = words("HSET hlong");
    long.push(b"\x00\xff\r\n".to_vec());
    long.push(b"ab".repeat(500));
    long.push(b"short".to_vec());
    long.push(b"1".to_vec());
    q(c, long);
    q(
        c,
        words("SADD sint 5 -3 100 0 9223372036854775807 -9223372036854775808"),
    );
    let mut ints = words("SADD sints");
    ints.extend((0..700).map(|i| (i * 37).to_string().into_bytes()));
    q(c, ints);
    let mut strs = words("SADD sstr");
    strs.extend((0..300).map(|i| format!("member-{i}").into_bytes()));
    strs.push(b"\x00\xff".to_vec());
    strs.push(b"x".repeat(2000));
    q(c, strs);
    q(c, words("SADD smix 1 two 3"));
    q(c, words("PEXPIRE smix 1000000"));
    let keys = vec!["hlp", "hbig", "hlong", "sint", "sints", "sstr", "smix"];
    let encodings: Vec<String> = keys
        .iter()
        .map(|k| {
            redis::cmd("OBJECT")
                .arg("ENCODING")
                .arg(k)
                .query(c)
                .unwrap()
        })
        .collect();
    assert_eq!(
        encodings,
        [
            "listpack",
            "hashtable",
            "hashtable",
            "intset",
            "hashtable",
            "hashtable",
            "hashtable"
        ],
        "every encoding is covered"
    );
    keys
}

/// Moves every key of `fill` from one server to the other by DUMP and
/// RESTORE and checks it arrives whole, in the same encoding.
fn transfer(from: &mut redis::Connection, to: &mut redis::Connection, what: &str) {
    let keys = fill(from);
    for k in keys {
        let payload: Vec<u8> = redis::cmd("DUMP").arg(k).query(from).unwrap();
        let pttl: i64 = redis::cmd("PTTL").arg(k).query(from).unwrap();
        redis::cmd("RESTORE")
            .arg(k)
            .arg(pttl.max(0))
            .arg(&payload)
            .arg("REPLACE")
            .exec(to)
            .unwrap_or_else(|e| panic!("{what}: RESTORE {k}: {e}"));
        let (a, b) = (held(from, k), held(to, k));
        assert_eq!(a, b, "{what}: {k}");
        assert!(
            !a.pairs.is_empty() || !a.members.is_empty(),
            "{what}: {k} holds something"
        );
    }
}

/// DUMP from shardcache restores in Redis 7.0, and DUMP from Redis restores
/// in shardcache, for listpack and hashtable hashes, intset and hashtable
/// sets, with compressed values, binary data and TTLs.
#[test]
fn dump_payloads_travel_both_ways_with_redis() {
    let Some(mut r) = Redis::start() else {
        return;
    };
    let s = Server::start(&[]);
    let (mut sc, mut rc) = (s.client(), r.client());
    transfer(&mut sc, &mut rc, "shardcache to Redis");
    redis::cmd("FLUSHALL").exec(&mut sc).unwrap();
    redis::cmd("FLUSHALL").exec(&mut rc).unwrap();
    transfer(&mut rc, &mut sc, "Redis to shardcache");
}

// ------------------------------------------------------------ memory

/// `used_memory` counts a collection's bytes as it grows and gives them
/// back when it goes (UNLINK hands it to the lazy-free thread); MEMORY USAGE
/// of a collection is its size, not a constant.
#[test]
fn used_memory_counts_collection_bytes() {
    let s = Server::start(&["--shards", "1"]);
    let mut c = s.client();
    let used = |c: &mut redis::Connection| -> i64 {
        let info: String = redis::cmd("INFO").arg("memory").query(c).unwrap();
        common::parse_info(&info)
            .into_iter()
            .find(|(k, _)| k == "used_memory")
            .and_then(|(_, v)| v.parse().ok())
            .expect("used_memory")
    };
    let before = used(&mut c);
    const N: usize = 200_000;
    for kind in ["SADD", "HSET"] {
        let key = format!("big:{kind}");
        for start in (0..N).step_by(1000) {
            let mut cmd = redis::cmd(kind);
            cmd.arg(&key);
            for i in start..start + 1000 {
                cmd.arg(format!("member:{i:08}"));
                if kind == "HSET" {
                    cmd.arg("value:0123456789");
                }
            }
            cmd.exec(&mut c).unwrap();
        }
        let grown = used(&mut c) - before;
        let usage: i64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(&key)
            .query(&mut c)
            .unwrap();
        // At least the members' (and values') own bytes.
        let floor = if kind == "HSET" { N * 31 } else { N * 15 } as i64;
        assert!(
            grown >= floor && usage >= floor,
            "{kind}: used_memory grew {grown}, MEMORY USAGE {usage}, expected at least {floor}"
        );
        assert!(
            (usage - grown).abs() < grown / 4,
            "{kind}: MEMORY USAGE {usage} is the growth of used_memory {grown}"
        );
        let _: i64 = redis::cmd("UNLINK").arg(&key).query(&mut c).unwrap();
        let back = common::wait_until(Duration::from_secs(10), || {
            used(&mut c) - before < floor / 20
        });
        assert!(
            back,
            "{kind}: used_memory after UNLINK: {}",
            used(&mut c) - before
        );
    }
}

/// Under `maxmemory`, hashes and sets are evicted by their real size
/// (allkeys-lru keeps used_memory under the limit and the newest keys),
/// and with noeviction HSET and SADD are refused with OOM while HDEL, SREM
/// and reads go on.
#[test]
fn maxmemory_evicts_and_refuses_collections_by_size() {
    const LIMIT: i64 = 4 << 20;
    let s = Server::start(&["--shards", "1", "--maxmemory", "4mb"]);
    let mut c = s.client();
    let value = "v".repeat(100);
    // About 10 KB a key: 2,000 keys are 5 times the limit.
    for i in 0..2000 {
        let key = format!("coll:{i}");
        let mut cmd = if i % 2 == 0 {
            redis::cmd("HSET")
        } else {
            redis::cmd("SADD")
        };
        cmd.arg(&key);
        for j in 0..50 {
            cmd.arg(format!("{j}:{value}"));
            if i % 2 == 0 {
                cmd.arg(&value);
            }
        }
        cmd.exec(&mut c).unwrap();
    }
    let used = s.info_int("memory", "used_memory");
    let evicted = s.info_int("stats", "evicted_keys");
    let keys: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    // Room is made before a write, as in Redis: the last key may go over.
    assert!(
        used <= LIMIT + 16 * 1024 && used > LIMIT / 2,
        "used_memory {used} against a 4 MB limit"
    );
    assert!(
        evicted > 1000 && keys < 1000 && keys > 100,
        "{evicted} evicted, {keys} kept"
    );
    let newest: i64 = redis::cmd("EXISTS")
        .arg("coll:1999")
        .arg("coll:1998")
        .query(&mut c)
        .unwrap();
    assert_eq!(newest, 2, "the newest keys stay");

    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("noeviction")
        .query(&mut c)
        .unwrap();
    let mut refused = None;
    for i in 0..2000 {
        let r: redis::RedisResult<i64> = redis::cmd("SADD")
            .arg("grow")
            .arg(format!("{i}:{value}"))
            .query(&mut c);
        if let Err(e) = r {
            refused = Some(e.to_string());
            break;
        }
    }
    let refused = refused.expect("SADD is refused once memory is full");
    assert!(
        refused.starts_with("OOM") && refused.contains("command not allowed when used memory"),
        "{refused}"
    );
    let e = redis::cmd("HSET")
        .arg("coll:1998")
        .arg("new")
        .arg("x")
        .query::<i64>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("OOM"), "{e}");
    let removed: i64 = redis::cmd("HDEL")
        .arg("coll:1998")
        .arg(format!("0:{value}"))
        .query(&mut c)
        .unwrap();
    assert_eq!(removed, 1, "HDEL is served when memory is full");
    let removed: i64 = redis::cmd("SREM")
        .arg("coll:1999")
        .arg(format!("0:{value}"))
        .query(&mut c)
        .unwrap();
    assert_eq!(removed, 1, "SREM is served when memory is full");
    let n: i64 = redis::cmd("HLEN").arg("coll:1998").query(&mut c).unwrap();
    assert_eq!(n, 49);
}
