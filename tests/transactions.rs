//! Transactions and the commands that move keys between shards: MULTI,
//! EXEC, DISCARD, WATCH, UNWATCH, RENAME, RENAMENX, COPY, MSETNX, SWAPDB.
//!
//! The exact-byte tests pass unchanged against Redis 7.0.15
//! (`SHARDCACHE_TEST_AGAINST_REDIS=1 cargo test --test transactions`); the
//! key names are chosen so that pairs live on different shards of the
//! 4-shard server the harness starts. The concurrency tests prove that no
//! client ever observes half of a cross-shard transaction.

mod common;

use common::proc::{tempdir, Proc};
use common::{cmd, run, Reply, Server};
use shards::route::Router;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Sends each `(command, exact reply)` in order.
/// Two key names that the 4-shard server places on different shards, and
/// two on the same shard, all starting with `prefix`.
fn keys(prefix: &str) -> (String, String, String, String) {
    let r = Router::new(4);
    let name = |i: usize| format!("{prefix}{i}");
    let a = name(0);
    let b = (1..)
        .map(name)
        .find(|k| r.shard_of(k.as_bytes()) != r.shard_of(a.as_bytes()))
        .unwrap();
    let c = name(100);
    let d = (101..)
        .map(name)
        .find(|k| r.shard_of(k.as_bytes()) == r.shard_of(c.as_bytes()))
        .unwrap();
    (a, b, c, d)
}

#[test]
fn multi_exec_discard_replies_match_redis() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let (a, b, _, _) = keys("t");
    let (a, b) = (a.as_str(), b.as_str());
    run(
        &mut r,
        &[
            (&["EXEC"], b"-ERR EXEC without MULTI\r\n"),
            (&["DISCARD"], b"-ERR DISCARD without MULTI\r\n"),
            (&["MULTI"], b"+OK\r\n"),
            (&["MULTI"], b"-ERR MULTI calls can not be nested\r\n"),
            (&["SET", a, "1"], b"+QUEUED\r\n"),
            (&["INCR", b], b"+QUEUED\r\n"),
            (&["SET", a, "1", "BOGUS"], b"+QUEUED\r\n"),
            (&["INCR", a], b"+QUEUED\r\n"),
            (&["MGET", a, b], b"+QUEUED\r\n"),
            (
                &["EXEC"],
                b"*5\r\n+OK\r\n:1\r\n-ERR syntax error\r\n:2\r\n*2\r\n$1\r\n2\r\n$1\r\n1\r\n",
            ),
            // Queue-time errors abort the whole transaction.
            (&["MULTI"], b"+OK\r\n"),
            (&["SET", a, "9"], b"+QUEUED\r\n"),
            (
                &["GET"],
                b"-ERR wrong number of arguments for 'get' command\r\n",
            ),
            (
                &["NOSUCHCMD", "x"],
                b"-ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' \r\n",
            ),
            (
                &["EXEC"],
                b"-EXECABORT Transaction discarded because of previous errors.\r\n",
            ),
            (&["GET", a], b"$1\r\n2\r\n"),
            // DISCARD drops the queue; WATCH inside MULTI is refused but
            // does not abort.
            (&["MULTI"], b"+OK\r\n"),
            (&["SET", a, "9"], b"+QUEUED\r\n"),
            (&["WATCH", a], b"-ERR WATCH inside MULTI is not allowed\r\n"),
            (&["DISCARD"], b"+OK\r\n"),
            (&["GET", a], b"$1\r\n2\r\n"),
            (&["MULTI"], b"+OK\r\n"),
            (&["EXEC"], b"*0\r\n"),
            // SELECT inside a transaction applies to what follows, and stays.
            (&["MULTI"], b"+OK\r\n"),
            (&["SELECT", "3"], b"+QUEUED\r\n"),
            (&["SET", b, "db3"], b"+QUEUED\r\n"),
            (&["EXEC"], b"*2\r\n+OK\r\n+OK\r\n"),
            (&["GET", b], b"$3\r\ndb3\r\n"),
            (&["SELECT", "0"], b"+OK\r\n"),
            (&["GET", b], b"$1\r\n1\r\n"),
        ],
    );
    // A pipeline of several transactions in one write, as client libraries send them.
    let mut batch = Vec::new();
    for i in 0..20 {
        let v = i.to_string();
        for c in [
            vec!["MULTI"],
            vec!["SET", a, v.as_str()],
            vec!["INCR", b],
            vec!["EXEC"],
        ] {
            batch.extend(cmd(&c));
        }
    }
    r.send(&batch);
    for i in 0..20 {
        r.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n");
        r.expect(format!("*2\r\n+OK\r\n:{}\r\n", i + 2).as_bytes());
    }
}

#[test]
fn watch_aborts_exec_when_a_key_changes() {
    let s = Server::embedded(&[]);
    let mut c1 = s.raw();
    let mut c2 = s.raw();
    let (a, b, _, _) = keys("w");
    let (a, b) = (a.as_str(), b.as_str());
    run(
        &mut c1,
        &[
            (&["SET", a, "1"], b"+OK\r\n"),
            (&["WATCH", a, b], b"+OK\r\n"),
            (&["MULTI"], b"+OK\r\n"),
            (&["INCR", a], b"+QUEUED\r\n"),
        ],
    );
    // Another client writes a watched key (on the other shard) meanwhile.
    run(&mut c2, &[(&["SET", b, "x"], b"+OK\r\n")]);
    run(
        &mut c1,
        &[
            (&["EXEC"], b"*-1\r\n"),
            (&["GET", a], b"$1\r\n1\r\n"),
            // Untouched watches let EXEC run; EXEC forgets them.
            (&["WATCH", a, b], b"+OK\r\n"),
            (&["MULTI"], b"+OK\r\n"),
            (&["INCR", a], b"+QUEUED\r\n"),
            (&["EXEC"], b"*1\r\n:2\r\n"),
        ],
    );
    run(&mut c2, &[(&["SET", a, "5"], b"+OK\r\n")]);
    run(
        &mut c1,
        &[
            (&["MULTI"], b"+OK\r\n"),
            (&["INCR", a], b"+QUEUED\r\n"),
            (&["EXEC"], b"*1\r\n:6\r\n"),
            // UNWATCH forgets them too.
            (&["WATCH", a], b"+OK\r\n"),
            (&["UNWATCH"], b"+OK\r\n"),
        ],
    );
    run(&mut c2, &[(&["DEL", a], b":1\r\n")]);
    run(
        &mut c1,
        &[
            (&["MULTI"], b"+OK\r\n"),
            (&["PING"], b"+QUEUED\r\n"),
            (&["EXEC"], b"*1\r\n+PONG\r\n"),
            // A missing key that stays missing does not abort; one that
            // appears does.
            (&["WATCH", "nokey"], b"+OK\r\n"),
            (&["MULTI"], b"+OK\r\n"),
            (&["EXEC"], b"*0\r\n"),
            (&["WATCH", "nokey"], b"+OK\r\n"),
        ],
    );
    run(&mut c2, &[(&["SET", "nokey", "1"], b"+OK\r\n")]);
    run(
        &mut c1,
        &[
            (&["MULTI"], b"+OK\r\n"),
            (&["EXEC"], b"*-1\r\n"),
            // FLUSHDB touches every watched key that existed.
            (&["SET", a, "1"], b"+OK\r\n"),
            (&["WATCH", a], b"+OK\r\n"),
        ],
    );
    run(&mut c2, &[(&["FLUSHDB"], b"+OK\r\n")]);
    run(
        &mut c1,
        &[
            (&["MULTI"], b"+OK\r\n"),
            (&["EXEC"], b"*-1\r\n"),
            // A key that expires after WATCH aborts (Redis 7.0).
            (&["SET", a, "1", "PX", "50"], b"+OK\r\n"),
            (&["WATCH", a], b"+OK\r\n"),
        ],
    );
    thread::sleep(Duration::from_millis(120));
    run(
        &mut c1,
        &[
            (&["MULTI"], b"+OK\r\n"),
            (&["EXEC"], b"*-1\r\n"),
            // A write by the watching client itself counts as well.
            (&["SET", b, "1"], b"+OK\r\n"),
            (&["WATCH", b], b"+OK\r\n"),
            (&["SET", b, "2"], b"+OK\r\n"),
            (&["MULTI"], b"+OK\r\n"),
            (&["GET", b], b"+QUEUED\r\n"),
            (&["EXEC"], b"*-1\r\n"),
            // DISCARD unwatches.
            (&["WATCH", b], b"+OK\r\n"),
            (&["MULTI"], b"+OK\r\n"),
            (&["DISCARD"], b"+OK\r\n"),
        ],
    );
    run(&mut c2, &[(&["SET", b, "3"], b"+OK\r\n")]);
    run(
        &mut c1,
        &[
            (&["MULTI"], b"+OK\r\n"),
            (&["GET", b], b"+QUEUED\r\n"),
            (&["EXEC"], b"*1\r\n$1\r\n3\r\n"),
        ],
    );
}

#[test]
fn rename_copy_msetnx_swapdb_match_redis() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let (a, b, c, d) = keys("r");
    let (a, b, c, d) = (a.as_str(), b.as_str(), c.as_str(), d.as_str());
    // Cross-shard (a→b) and same-shard (c→d) moves keep value and TTL.
    run(
        &mut r,
        &[
            (&["RENAME", a, b], b"-ERR no such key\r\n"),
            (&["RENAMENX", a, b], b"-ERR no such key\r\n"),
            (&["SET", a, "va", "EX", "1000"], b"+OK\r\n"),
            (&["RENAME", a, a], b"+OK\r\n"),
            (&["RENAMENX", a, a], b":0\r\n"),
            (&["RENAME", a, b], b"+OK\r\n"),
            (&["EXISTS", a], b":0\r\n"),
            (&["GET", b], b"$2\r\nva\r\n"),
            (&["SET", c, "vc"], b"+OK\r\n"),
            (&["RENAME", c, d], b"+OK\r\n"),
            (&["GET", d], b"$2\r\nvc\r\n"),
            (&["RENAMENX", d, b], b":0\r\n"),
            (&["RENAMENX", b, a], b":1\r\n"),
            (&["TTL", a], b":1000\r\n"),
            (&["SET", b, "old", "EX", "50"], b"+OK\r\n"),
            // RENAME over an existing key replaces value and TTL.
            (&["RENAME", d, b], b"+OK\r\n"),
            (&["TTL", b], b":-1\r\n"),
            (&["GET", b], b"$2\r\nvc\r\n"),
            (
                &["RENAME", "r", "x", "y"],
                b"-ERR wrong number of arguments for 'rename' command\r\n",
            ),
        ],
    );
    run(
        &mut r,
        &[
            (
                &["COPY", a, a],
                b"-ERR source and destination objects are the same\r\n",
            ),
            (&["COPY", a, b], b":0\r\n"),
            (&["COPY", a, b, "REPLACE"], b":1\r\n"),
            (&["GET", b], b"$2\r\nva\r\n"),
            (&["TTL", b], b":1000\r\n"),
            (&["COPY", a, c, "DB", "2"], b":1\r\n"),
            (&["COPY", a, c, "DB", "2"], b":0\r\n"),
            (&["COPY", a, a, "DB", "2"], b":1\r\n"),
            (&["COPY", "missing", c], b":0\r\n"),
            (
                &["COPY", a, c, "DB", "16"],
                b"-ERR DB index is out of range\r\n",
            ),
            (
                &["COPY", a, c, "DB", "x"],
                b"-ERR value is not an integer or out of range\r\n",
            ),
            (&["COPY", a, c, "DB"], b"-ERR syntax error\r\n"),
            (&["COPY", a, c, "FOO"], b"-ERR syntax error\r\n"),
            (&["SELECT", "2"], b"+OK\r\n"),
            (&["MGET", a, c], b"*2\r\n$2\r\nva\r\n$2\r\nva\r\n"),
            (&["SELECT", "0"], b"+OK\r\n"),
        ],
    );
    run(
        &mut r,
        &[
            (
                &["MSETNX", a, "1", "x"],
                b"-ERR wrong number of arguments for 'msetnx' command\r\n",
            ),
            // a exists: nothing is set, on any shard.
            (&["MSETNX", "n1", "1", a, "2", "n2", "3"], b":0\r\n"),
            (&["EXISTS", "n1", "n2"], b":0\r\n"),
            (
                &["MSETNX", "n1", "1", "n2", "2", "n3", "3", "n4", "4"],
                b":1\r\n",
            ),
            (
                &["MGET", "n1", "n2", "n3", "n4"],
                b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n",
            ),
            (&["MSETNX", "dup", "1", "dup", "2"], b":1\r\n"),
            (&["GET", "dup"], b"$1\r\n2\r\n"),
            (&["MSETNX", c, "x"], b":1\r\n"),
            (&["MSETNX", c, "x"], b":0\r\n"),
        ],
    );
    run(
        &mut r,
        &[
            (&["FLUSHALL"], b"+OK\r\n"),
            (&["MSET", a, "0a", b, "0b"], b"+OK\r\n"),
            (&["SELECT", "1"], b"+OK\r\n"),
            (&["SET", c, "1c", "EX", "1000"], b"+OK\r\n"),
            (&["SWAPDB", "0", "1"], b"+OK\r\n"),
            (&["MGET", a, b, c], b"*3\r\n$2\r\n0a\r\n$2\r\n0b\r\n$-1\r\n"),
            (&["DBSIZE"], b":2\r\n"),
            (&["SELECT", "0"], b"+OK\r\n"),
            (&["GET", c], b"$2\r\n1c\r\n"),
            (&["TTL", c], b":1000\r\n"),
            (&["DBSIZE"], b":1\r\n"),
            (&["SWAPDB", "0", "0"], b"+OK\r\n"),
            (&["SWAPDB", "0", "16"], b"-ERR DB index is out of range\r\n"),
            (&["SWAPDB", "x", "1"], b"-ERR invalid first DB index\r\n"),
            (&["SWAPDB", "0", "1.5"], b"-ERR invalid second DB index\r\n"),
            // Cross-shard moves inside a transaction run in order.
            (&["MULTI"], b"+OK\r\n"),
            (&["SET", a, "m"], b"+QUEUED\r\n"),
            (&["RENAME", a, b], b"+QUEUED\r\n"),
            (&["COPY", b, a], b"+QUEUED\r\n"),
            (&["MSETNX", a, "1", c, "2"], b"+QUEUED\r\n"),
            (&["RENAMENX", b, c], b"+QUEUED\r\n"),
            (&["MGET", a, b, c], b"+QUEUED\r\n"),
            (
                &["EXEC"],
                b"*6\r\n+OK\r\n+OK\r\n:1\r\n:0\r\n:0\r\n*3\r\n$1\r\nm\r\n$1\r\nm\r\n$2\r\n1c\r\n",
            ),
        ],
    );
}

/// Accounts on every shard; writers move amounts between accounts on
/// different shards inside MULTI/EXEC while readers sum all accounts with
/// MGET and with a transaction of GETs. The total never changes.
#[test]
fn cross_shard_transfers_never_show_a_wrong_total() {
    const ACCOUNTS: usize = 8;
    const START: i64 = 1000;
    let s = Server::embedded(&[]);
    let names: Vec<String> = (0..ACCOUNTS).map(|i| format!("acct:{i}")).collect();
    let routing = Router::new(4);
    let shards: std::collections::HashSet<usize> = names
        .iter()
        .map(|n| routing.shard_of(n.as_bytes()))
        .collect();
    assert!(shards.len() >= 3, "accounts must span shards");
    let mut setup = s.client();
    for n in &names {
        let _: () = redis::cmd("SET")
            .arg(n)
            .arg(START)
            .query(&mut setup)
            .unwrap();
    }
    let total = START * ACCOUNTS as i64;
    let stop = Arc::new(AtomicBool::new(false));
    let transfers = Arc::new(AtomicUsize::new(0));
    let checks = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for w in 0..4u64 {
        let mut c = s.client();
        let (names, stop, transfers) = (names.clone(), stop.clone(), transfers.clone());
        handles.push(thread::spawn(move || {
            let mut x = w * 7919 + 1;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 20_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let from = &names[(x % ACCOUNTS as u64) as usize];
                let to = &names[((x >> 8) % ACCOUNTS as u64) as usize];
                let amount = (x >> 16) % 50;
                let (): () = redis::pipe()
                    .atomic()
                    .cmd("DECRBY")
                    .arg(from)
                    .arg(amount)
                    .ignore()
                    .cmd("INCRBY")
                    .arg(to)
                    .arg(amount)
                    .ignore()
                    .query(&mut c)
                    .unwrap();
                n += 1;
            }
            transfers.fetch_add(n, Ordering::Relaxed);
        }));
    }
    for rd in 0..3 {
        let mut c = s.client();
        let (names, stop, checks) = (names.clone(), stop.clone(), checks.clone());
        handles.push(thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let values: Vec<i64> = if rd == 0 {
                    let mut p = redis::pipe();
                    p.atomic();
                    for name in &names {
                        p.cmd("GET").arg(name);
                    }
                    p.query(&mut c).unwrap()
                } else {
                    redis::cmd("MGET").arg(&names).query(&mut c).unwrap()
                };
                let sum: i64 = values.iter().sum();
                assert_eq!(sum, total, "reader {rd} saw {values:?}");
                n += 1;
            }
            checks.fetch_add(n, Ordering::Relaxed);
        }));
    }
    thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let mut failed = 0;
    for h in handles {
        failed += h.join().is_err() as usize;
    }
    assert_eq!(failed, 0, "a client thread failed (see its panic above)");
    let values: Vec<i64> = redis::cmd("MGET").arg(&names).query(&mut setup).unwrap();
    assert_eq!(values.iter().sum::<i64>(), total);
    let (t, c) = (
        transfers.load(Ordering::Relaxed),
        checks.load(Ordering::Relaxed),
    );
    println!("{t} transfers, {c} consistent reads");
    assert!(
        t > 100 && c > 100,
        "too little traffic: {t} transfers, {c} reads"
    );
}

/// A key bounces between two shards by RENAME while readers look at both
/// names at once: exactly one of them exists at every moment. Concurrent
/// MSETNX over overlapping cross-shard key sets: each key set is won whole.
#[test]
fn cross_shard_rename_and_msetnx_are_all_or_nothing() {
    let s = Server::embedded(&[]);
    let (a, b, _, _) = keys("bounce");
    let mut setup = s.client();
    let _: () = redis::cmd("SET")
        .arg(&a)
        .arg("v")
        .query(&mut setup)
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    {
        let mut c = s.client();
        let (a, b, stop) = (a.clone(), b.clone(), stop.clone());
        handles.push(thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 20_000 {
                let (from, to) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
                let () = redis::cmd("RENAME")
                    .arg(from)
                    .arg(to)
                    .query(&mut c)
                    .unwrap();
                n += 1;
            }
            assert!(n > 50, "only {n} renames");
        }));
    }
    for _ in 0..2 {
        let mut c = s.client();
        let (a, b, stop) = (a.clone(), b.clone(), stop.clone());
        handles.push(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let n: i64 = redis::cmd("EXISTS").arg(&a).arg(&b).query(&mut c).unwrap();
                assert_eq!(n, 1, "the renamed key must exist exactly once");
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("client thread");
    }

    // MSETNX races: rounds of 4 clients claiming the same 6 keys (on several
    // shards) with their own values; exactly one wins each round, wholly.
    let keys: Vec<String> = (0..6).map(|i| format!("claim:{i}")).collect();
    for round in 0..30 {
        let _: () = redis::cmd("DEL").arg(&keys).query(&mut setup).unwrap();
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let hs: Vec<_> = (0..4)
            .map(|w| {
                let mut c = s.client();
                let (keys, barrier) = (keys.clone(), barrier.clone());
                thread::spawn(move || {
                    let mut q = redis::cmd("MSETNX");
                    for k in &keys {
                        q.arg(k).arg(format!("w{w}"));
                    }
                    barrier.wait();
                    q.query::<i64>(&mut c).unwrap()
                })
            })
            .collect();
        let wins: i64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(wins, 1, "round {round}: exactly one MSETNX wins");
        let values: Vec<String> = redis::cmd("MGET").arg(&keys).query(&mut setup).unwrap();
        assert!(
            values.iter().all(|v| *v == values[0]),
            "round {round}: mixed winners {values:?}"
        );
    }
}

/// RENAME, COPY, MSETNX and SWAPDB are logged as records that replay to the
/// same state, across shards and databases.
#[test]
fn moves_and_swaps_survive_restart() {
    if std::env::var_os(common::AGAINST_REDIS).is_some() {
        return;
    }
    let dir = tempdir("txn-restart");
    let (a, b, c, d) = keys("p");
    {
        let p = Proc::start(&dir, &["--shards", "4"]);
        let mut k = p.client();
        let q = |k: &mut redis::Connection, args: &[&str]| {
            let mut c = redis::cmd(args[0]);
            for x in &args[1..] {
                c.arg(*x);
            }
            c.query::<redis::Value>(k).unwrap()
        };
        q(&mut k, &["SET", &a, "A", "EX", "1000"]);
        q(&mut k, &["RENAME", &a, &b]);
        q(&mut k, &["SET", &c, "C"]);
        q(&mut k, &["RENAME", &c, &d]);
        q(&mut k, &["COPY", &b, &a, "DB", "3"]);
        q(&mut k, &["MSETNX", "m1", "1", "m2", "2", "m3", "3"]);
        q(&mut k, &["SELECT", "5"]);
        q(&mut k, &["SET", "five", "5"]);
        q(&mut k, &["SWAPDB", "5", "6"]);
        q(&mut k, &["MULTI"]);
        q(&mut k, &["SELECT", "0"]);
        q(&mut k, &["RENAME", "m1", "m9"]);
        q(&mut k, &["EXEC"]);
        p.signal("-TERM");
        assert_eq!(p.wait(), Some(0));
    }
    let p = Proc::start(&dir, &["--shards", "4"]);
    let mut k = p.client();
    let get = |k: &mut redis::Connection, db: i64, key: &str| -> Option<String> {
        let _: () = redis::cmd("SELECT").arg(db).query(k).unwrap();
        redis::cmd("GET").arg(key).query(k).unwrap()
    };
    assert_eq!(get(&mut k, 0, &a), None);
    assert_eq!(get(&mut k, 0, &b).as_deref(), Some("A"));
    let ttl: i64 = redis::cmd("TTL").arg(&b).query(&mut k).unwrap();
    assert!((990..=1000).contains(&ttl), "ttl {ttl}");
    assert_eq!(get(&mut k, 0, &c), None);
    assert_eq!(get(&mut k, 0, &d).as_deref(), Some("C"));
    assert_eq!(get(&mut k, 3, &a).as_deref(), Some("A"));
    assert_eq!(get(&mut k, 0, "m1"), None);
    assert_eq!(get(&mut k, 0, "m9").as_deref(), Some("1"));
    assert_eq!(get(&mut k, 0, "m3").as_deref(), Some("3"));
    assert_eq!(get(&mut k, 5, "five"), None);
    assert_eq!(get(&mut k, 6, "five").as_deref(), Some("5"));
}

#[test]
fn replies_are_in_order_around_deferred_commands() {
    // A cross-shard RENAME waits for the round's other replies, and the
    // connection's later commands wait for it.
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let (a, b, _, _) = keys("o");
    let mut batch = Vec::new();
    for i in 0..50 {
        let v = i.to_string();
        batch.extend(cmd(&["SET", &a, &v]));
        batch.extend(cmd(&["RENAME", &a, &b]));
        batch.extend(cmd(&["GET", &b]));
    }
    r.send(&batch);
    for i in 0..50 {
        r.expect(b"+OK\r\n+OK\r\n");
        let v = i.to_string();
        r.expect(format!("${}\r\n{v}\r\n", v.len()).as_bytes());
    }
    match r.call(&["EXISTS", &a, &b]) {
        Reply::Int(n) => assert_eq!(n, 1),
        other => panic!("{other:?}"),
    }
}

/// Sections (WATCH + EXEC, cross-shard RENAME and MSETNX) from several
/// clients on both workers at once, beside ordered multi-shard rounds
/// (MGET, MSET): nothing deadlocks, and the WATCH-guarded counters add up
/// to exactly the transactions that committed.
#[test]
fn concurrent_sections_and_ordered_rounds_never_deadlock() {
    let s = Server::embedded(&[]);
    let counters: Vec<String> = (0..4).map(|i| format!("ctr:{i}")).collect();
    let routing = Router::new(4);
    let spread: std::collections::HashSet<usize> = counters
        .iter()
        .map(|k| routing.shard_of(k.as_bytes()))
        .collect();
    assert!(spread.len() >= 2, "counters must span shards");
    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for w in 0..4 {
        let mut c = s.client();
        let (counters, stop, committed) = (counters.clone(), stop.clone(), committed.clone());
        handles.push(thread::spawn(move || {
            let (a, b) = (&counters[w % 4], &counters[(w + 1) % 4]);
            while !stop.load(Ordering::Relaxed) {
                let _: () = redis::cmd("WATCH").arg(a).arg(b).query(&mut c).unwrap();
                let (va, vb): (Option<i64>, Option<i64>) =
                    redis::cmd("MGET").arg(a).arg(b).query(&mut c).unwrap();
                let r: Option<(i64, i64)> = redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg(a)
                    .arg(va.unwrap_or(0) + 1)
                    .ignore()
                    .cmd("SET")
                    .arg(b)
                    .arg(vb.unwrap_or(0) + 1)
                    .ignore()
                    .cmd("INCR")
                    .arg("commits:a")
                    .cmd("INCR")
                    .arg("commits:b")
                    .query(&mut c)
                    .unwrap();
                if r.is_some() {
                    committed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in 0..2 {
        let mut c = s.client();
        let stop = stop.clone();
        handles.push(thread::spawn(move || {
            let (x, y) = (format!("mv:{w}:x"), format!("mv:{w}:y{}", w * 7 + 1));
            let _: () = redis::cmd("SET").arg(&x).arg("v").query(&mut c).unwrap();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let (from, to) = if n % 2 == 0 { (&x, &y) } else { (&y, &x) };
                let _: () = redis::cmd("RENAME")
                    .arg(from)
                    .arg(to)
                    .query(&mut c)
                    .unwrap();
                let keys: Vec<String> = (0..6).map(|i| format!("nx:{w}:{n}:{i}")).collect();
                let mut q = redis::cmd("MSETNX");
                for k in &keys {
                    q.arg(k).arg(1);
                }
                assert_eq!(q.query::<i64>(&mut c).unwrap(), 1);
                let _: () = redis::cmd("MSET")
                    .arg(&keys[0])
                    .arg(2)
                    .arg(&keys[5])
                    .arg(2)
                    .query(&mut c)
                    .unwrap();
                n += 1;
            }
        }));
    }
    thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("a client thread failed");
    }
    let mut c = s.client();
    let values: Vec<Option<i64>> = redis::cmd("MGET").arg(&counters).query(&mut c).unwrap();
    let total: i64 = values.iter().map(|v| v.unwrap_or(0)).sum();
    let n = committed.load(Ordering::Relaxed) as i64;
    assert!(n > 10, "only {n} transactions committed");
    // Each committed transaction added 1 to two counters.
    assert_eq!(total, 2 * n, "counters {values:?} after {n} commits");
    let commits: (i64, i64) = redis::cmd("MGET")
        .arg("commits:a")
        .arg("commits:b")
        .query(&mut c)
        .unwrap();
    assert_eq!(commits, (n, n));
}
