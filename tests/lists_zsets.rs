//! Lists and sorted sets through the binary: restart, rewrite and reshard
//! keep them (and their TTLs, databases, orders, scores); SIGKILL under
//! `appendfsync always` loses no acknowledged LPUSH, LPOP or ZADD; and the
//! commands that span shards (LMOVE, LMPOP, ZUNIONSTORE, SORT ... STORE)
//! are seen whole or not at all.

mod common;

use common::proc::{tempdir, Proc};
use common::Server;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")))
}

fn run(c: &mut redis::Connection, lines: &[&str]) {
    for l in lines {
        let args: Vec<&str> = l.split(' ').collect();
        let _: redis::Value = q(c, &args);
    }
}

const DBS: [&str; 2] = ["0", "3"];

/// Writes lists and sorted sets with every kind of write, on one shard and
/// across shards, in two databases.
fn write_everything(c: &mut redis::Connection) {
    let long: Vec<String> = (0..2000).map(|i| format!("e{}", i % 13)).collect();
    let members: Vec<String> = (0..300).map(|i| format!("{}.25 m{i}", i % 41)).collect();
    for db in DBS {
        run(c, &[&format!("SELECT {db}")]);
        run(
            c,
            &[
                "RPUSH l a b c d e f",
                "LPUSH l z y",
                "LPOP l 2",
                "RPOP l",
                "LSET l 1 Q",
                "LINSERT l BEFORE Q P",
                "LREM l 1 c",
                "LTRIM l 0 3",
                "PEXPIRE l 5000000",
                &format!("RPUSH long {}", long.join(" ")),
                "LREM long -7 e3",
                "LTRIM long 5 -5",
                "LMOVE long long LEFT RIGHT",
                "LMOVE long src RIGHT LEFT",
                "RPOPLPUSH long dst",
                "LMOVE src dst LEFT RIGHT",
                "RPUSH m1 x y z",
                "LMPOP 3 nokey src m1 RIGHT COUNT 2",
                "RPUSH gone 1",
                "LPOP gone",
                "ZADD z 1 a 2 b 3.5 c",
                "ZINCRBY z 1.1 a",
                "ZADD z GT CH 1 a 10 c",
                "ZREM z b",
                "ZADD z -inf lo +inf hi",
                &format!("ZADD big {}", members.join(" ")),
                "ZREMRANGEBYSCORE big (3 8",
                "ZREMRANGEBYLEX big - [m2",
                "ZREMRANGEBYRANK big 0 3",
                "ZPOPMIN big 2",
                "ZPOPMAX big",
                "ZMPOP 2 nokey big MAX COUNT 3",
                "ZUNIONSTORE u 2 z big WEIGHTS 2 1",
                "ZINTERSTORE i 2 z u AGGREGATE MAX",
                "ZDIFFSTORE d 2 u z",
                "ZRANGESTORE rs big 0 9",
                "ZRANGESTORE rs2 big (20 +inf BYSCORE LIMIT 2 5",
                "PEXPIRE rs 6000000",
                "SET w_a 3",
                "SET w_b 1",
                "RPUSH ab a b",
                "SORT ab BY w_* STORE sorted",
                "SORT long ALPHA LIMIT 0 20 STORE sorted2",
                "ZADD zgone 1 x",
                "ZREM zgone x",
                "RENAME z z2",
                "COPY l l3",
                "COPY big big2",
                "ZADD moved 1 x",
            ],
        );
    }
    run(c, &["SELECT 3", "MOVE moved 5", "SELECT 0"]);
}

/// Every list and sorted set of the databases used, as text.
fn state(c: &mut redis::Connection) -> Vec<String> {
    let mut out = Vec::new();
    for db in ["0", "3", "5"] {
        run(c, &[&format!("SELECT {db}")]);
        let mut keys: Vec<String> = q(c, &["KEYS", "*"]);
        keys.sort();
        for k in keys {
            let t: String = q(c, &["TYPE", &k]);
            let at: i64 = q(c, &["PEXPIRETIME", &k]);
            let v: Vec<String> = match t.as_str() {
                "list" => q(c, &["LRANGE", &k, "0", "-1"]),
                "zset" => q(c, &["ZRANGE", &k, "0", "-1", "WITHSCORES"]),
                _ => vec![q::<String>(c, &["GET", &k])],
            };
            out.push(format!("{db} {k} {t} {at} {}", v.join(",")));
        }
    }
    run(c, &["SELECT 0"]);
    out
}

fn aof_text(dir: &std::path::Path) -> String {
    let mut aof = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "aof") {
            aof.extend(std::fs::read(&path).unwrap());
        }
    }
    String::from_utf8_lossy(&aof).to_ascii_uppercase()
}

/// SIGTERM and restart, then a rewrite with writes during it and a restart
/// on fewer shards: the same lists and sorted sets each time; the AOF holds
/// Redis's list commands and absolute sorted-set records only.
#[test]
fn restart_rewrite_and_reshard_keep_lists_and_sorted_sets() {
    let dir = tempdir("lists-zsets-restart");
    let p = Proc::start(&dir, &["--shards", "3"]);
    let mut c = p.client();
    write_everything(&mut c);
    let want = state(&mut c);
    assert!(want.len() > 30, "{want:?}");
    drop(c);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));
    let text = aof_text(&dir);
    for bad in [
        "\r\nLMOVE",
        "\r\nRPOPLPUSH",
        "\r\nLMPOP",
        "\r\nZINCRBY",
        "\r\nZUNIONSTORE",
        "\r\nZINTERSTORE",
        "\r\nZDIFFSTORE",
        "\r\nZRANGESTORE",
        "\r\nSORT\r\n",
        "\r\nZPOPMIN",
        "\r\nZPOPMAX",
        "\r\nZMPOP",
        "\r\nZREMRANGE",
        "\r\nLPUSHX",
        "\r\nCOPY",
        "\r\nRENAME",
    ] {
        assert!(!text.contains(bad), "the AOF holds a {bad:?} record");
    }
    for good in [
        "\r\nRPUSH\r\n",
        "\r\nLPOP\r\n",
        "\r\nLTRIM\r\n",
        "\r\nZADD\r\n",
        "\r\nZREM\r\n",
    ] {
        assert!(text.contains(good), "the AOF holds no {good:?} record");
    }

    let p = Proc::start(&dir, &["--shards", "3"]);
    let mut c = p.client();
    assert_eq!(state(&mut c), want, "after a restart");
    let _: String = q(&mut c, &["BGREWRITEAOF"]);
    // Writes during the rewrite land in the new segments.
    run(
        &mut c,
        &["LPUSH l during", "ZADD z2 7 during", "RPOP long 3"],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info: String = q(&mut c, &["INFO", "persistence"]);
        if info.contains("aof_rewrite_in_progress:0") {
            break;
        }
        assert!(Instant::now() < deadline, "the rewrite finishes");
        thread::sleep(Duration::from_millis(20));
    }
    let want = state(&mut c);
    drop(c);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));

    let p = Proc::start(&dir, &["--shards", "2"]);
    let mut c = p.client();
    assert_eq!(
        state(&mut c),
        want,
        "after a rewrite and a reshard to 2 shards"
    );
    drop(c);
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a writer did, as acknowledged.
#[derive(Default)]
struct Model {
    /// The list, head first.
    list: Vec<String>,
    /// Members added.
    zset: Vec<String>,
    /// The write that was sent but got no reply (the server died).
    in_flight: Option<String>,
}

/// Writers LPUSH, LPOP and ZADD on their own keys and keep what was
/// acknowledged; the server dies by SIGKILL under `appendfsync always`;
/// after a restart every list is what the acknowledged writes left (or
/// that and the one write in flight), and every acknowledged member is there.
#[test]
fn sigkill_under_appendfsync_always_keeps_acknowledged_list_and_zset_writes() {
    let dir = tempdir("lists-zsets-crash");
    let p = Proc::start(&dir, &["--shards", "2", "--appendfsync", "always"]);
    let stop = Arc::new(AtomicBool::new(false));
    let models: Vec<Arc<Mutex<Model>>> = (0..6).map(|_| Arc::default()).collect();
    let writers: Vec<_> = models
        .iter()
        .enumerate()
        .map(|(t, m)| {
            let (stop, m, port) = (stop.clone(), m.clone(), p.port);
            thread::spawn(move || {
                let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                    .unwrap()
                    .get_connection()
                    .unwrap();
                let (l, z) = (format!("l{t}"), format!("z{t}"));
                for i in 0..1_000_000u64 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let e = format!("v{i}");
                    let ok = match i % 3 {
                        0 | 1 => {
                            m.lock().unwrap().in_flight = Some(format!("push {e}"));
                            let r: redis::RedisResult<i64> =
                                redis::cmd("LPUSH").arg(&l).arg(&e).query(&mut c);
                            r.map(|_| m.lock().unwrap().list.insert(0, e.clone()))
                                .is_ok()
                        }
                        _ => {
                            m.lock().unwrap().in_flight = Some("pop".into());
                            let r: redis::RedisResult<Option<String>> =
                                redis::cmd("LPOP").arg(&l).query(&mut c);
                            match r {
                                Ok(got) => {
                                    let mut m = m.lock().unwrap();
                                    let want = (!m.list.is_empty()).then(|| m.list.remove(0));
                                    assert_eq!(got, want, "LPOP {l}");
                                    true
                                }
                                Err(_) => false,
                            }
                        }
                    };
                    if !ok {
                        break;
                    }
                    m.lock().unwrap().in_flight = Some(format!("zadd m{i}"));
                    let r: redis::RedisResult<i64> = redis::cmd("ZADD")
                        .arg(&z)
                        .arg(i)
                        .arg(format!("m{i}"))
                        .query(&mut c);
                    match r {
                        Ok(_) => {
                            let mut m = m.lock().unwrap();
                            m.zset.push(format!("m{i}"));
                            m.in_flight = None;
                        }
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(1500));
    p.signal("-KILL");
    assert_eq!(p.wait(), None, "killed by a signal");
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let p = Proc::start(&dir, &["--shards", "2"]);
    let mut c = p.client();
    let mut writes = 0;
    for (t, m) in models.iter().enumerate() {
        let m = m.lock().unwrap();
        writes += m.zset.len();
        let list: Vec<String> = q(&mut c, &["LRANGE", &format!("l{t}"), "0", "-1"]);
        let mut also = m.list.clone();
        match m.in_flight.as_deref() {
            Some(w) if w.starts_with("push ") => also.insert(0, w[5..].to_string()),
            Some("pop") if !also.is_empty() => {
                also.remove(0);
            }
            _ => {}
        }
        assert!(
            list == m.list || list == also,
            "l{t}: {} elements, acknowledged {}",
            list.len(),
            m.list.len()
        );
        let members: Vec<String> = q(&mut c, &["ZRANGE", &format!("z{t}"), "0", "-1"]);
        let extra = members.len() as i64 - m.zset.len() as i64;
        assert!((0..=1).contains(&extra), "z{t}: {extra} members off");
        assert_eq!(members[..m.zset.len()], m.zset[..], "z{t}");
    }
    assert!(writes > 100, "the load ran: {writes} writes");
    drop(c);
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Elements move between lists on different shards by LMOVE and RPOPLPUSH
/// while readers count them in one transaction: the total never changes. Members are added to two sorted sets on different shards in one
/// transaction while ZINTERSTORE, ZUNIONSTORE and SORT ... STORE combine
/// them: the intersection is always the union (no command sees one set
/// without the other's new member).
#[test]
fn commands_across_shards_are_seen_whole() {
    let r = shards::route::Router::new(4);
    let shard = |k: &str| r.shard_of(k.as_bytes());
    assert!(shard("a") != shard("c") && shard("c") != shard("d") && shard("a") != shard("d"));
    assert!(shard("za") != shard("zc") && shard("dst0") != shard("za"));
    let s = Server::start(&[]);
    let mut c = s.client();
    let init: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    let mut cmd = redis::cmd("RPUSH");
    cmd.arg("a").arg(&init);
    let _: i64 = cmd.query(&mut c).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for w in 0..3usize {
        let mut c = s.client();
        let (stop, ops) = (stop.clone(), ops.clone());
        handles.push(thread::spawn(move || {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let lines: [&[&str]; 4] = [
                    &["LMOVE", "a", "c", "LEFT", "RIGHT"],
                    &["RPOPLPUSH", "c", "d"],
                    &["LMOVE", "c", "a", "LEFT", "LEFT"],
                    &["LMOVE", "d", "a", "RIGHT", "LEFT"],
                ];
                let args = lines[(n + w) % 4];
                let _: redis::Value = q(&mut c, args);
                n += 1;
                ops.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for w in 0..2usize {
        let mut c = s.client();
        let (stop, ops) = (stop.clone(), ops.clone());
        handles.push(thread::spawn(move || {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let m = format!("m{w}-{n}");
                let _: () = redis::pipe()
                    .atomic()
                    .cmd("ZADD")
                    .arg("za")
                    .arg(n)
                    .arg(&m)
                    .ignore()
                    .cmd("ZADD")
                    .arg("zc")
                    .arg(n)
                    .arg(&m)
                    .ignore()
                    .cmd("SADD")
                    .arg("sd")
                    .arg(&m)
                    .ignore()
                    .query(&mut c)
                    .unwrap();
                n += 1;
                ops.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let reads = Arc::new(AtomicUsize::new(0));
    for r in 0..2 {
        let mut c = s.client();
        let (stop, reads) = (stop.clone(), reads.clone());
        // Each reader stores under keys of its own.
        let (dst, dst2, out) = (format!("dst{r}"), format!("dst2-{r}"), format!("out{r}"));
        handles.push(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let (la, lc, ld): (i64, i64, i64) = redis::pipe()
                    .atomic()
                    .cmd("LLEN")
                    .arg("a")
                    .cmd("LLEN")
                    .arg("c")
                    .cmd("LLEN")
                    .arg("d")
                    .query(&mut c)
                    .unwrap();
                assert_eq!(la + lc + ld, 50, "{la} + {lc} + {ld} elements");
                // One transaction: one state of the three sets for all.
                let (inter, union, stored, card): (i64, i64, i64, i64) = redis::pipe()
                    .atomic()
                    .cmd("ZINTERSTORE")
                    .arg(&dst)
                    .arg("3")
                    .arg("za")
                    .arg("zc")
                    .arg("sd")
                    .cmd("ZUNIONSTORE")
                    .arg(&dst2)
                    .arg("3")
                    .arg("za")
                    .arg("zc")
                    .arg("sd")
                    .cmd("SORT")
                    .arg("sd")
                    .arg("BY")
                    .arg("nosort")
                    .arg("STORE")
                    .arg(&out)
                    .cmd("ZINTERCARD")
                    .arg("2")
                    .arg("za")
                    .arg("zc")
                    .query(&mut c)
                    .unwrap();
                assert_eq!((inter, union, stored), (card, card, card));
                // Alone, each sees every member in the three sets too.
                let inter: i64 = q(&mut c, &["ZINTERSTORE", &dst, "3", "za", "zc", "sd"]);
                let union: i64 = q(&mut c, &["ZCARD", &dst]);
                assert_eq!(inter, union);
                let (n, u): (i64, i64) = redis::pipe()
                    .atomic()
                    .cmd("ZCARD")
                    .arg(&dst2)
                    .cmd("LLEN")
                    .arg(&out)
                    .query(&mut c)
                    .unwrap();
                assert_eq!(n, u);
                reads.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("client thread");
    }
    let (la, lc, ld): (i64, i64, i64) = redis::pipe()
        .atomic()
        .cmd("LLEN")
        .arg("a")
        .cmd("LLEN")
        .arg("c")
        .cmd("LLEN")
        .arg("d")
        .query(&mut c)
        .unwrap();
    assert_eq!(la + lc + ld, 50, "no element lost or doubled");
    let inter: i64 = q(&mut c, &["ZINTERCARD", "3", "za", "zc", "sd"]);
    let card: i64 = q(&mut c, &["ZCARD", "za"]);
    assert_eq!(inter, card);
    let (o, r) = (ops.load(Ordering::Relaxed), reads.load(Ordering::Relaxed));
    assert!(
        o > 200 && r > 20,
        "too little traffic: {o} writes, {r} reads"
    );
}

/// A pipelined bulk load grows a worker's round buffers to megabytes; once
/// idle, the worker gives them back within its once-a-second sweep, so
/// they do not stay resident beside the data (`mem_clients_normal`).
#[test]
fn round_buffers_grown_by_a_bulk_load_are_given_back_when_idle() {
    use std::io::{Read, Write};
    let s = Server::embedded(&["--workers", "1"]);
    let mut c = redis::Client::open(format!("redis://{}", s.addr()))
        .unwrap()
        .get_connection()
        .unwrap();
    let clients_mem = |c: &mut redis::Connection| -> u64 {
        let info: String = q(c, &["INFO", "memory"]);
        info.lines()
            .find_map(|l| l.strip_prefix("mem_clients_normal:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let mut load = Vec::new();
    let n = 40_000;
    for i in 0..n {
        let elems: String = (0..10)
            .map(|j| format!("$10\r\ne:{:08}\r\n", i * 10 + j))
            .collect();
        load.extend_from_slice(
            format!("*12\r\n$5\r\nRPUSH\r\n$11\r\nlist:{i:06}\r\n{elems}").as_bytes(),
        );
    }
    let mut raw = std::net::TcpStream::connect(s.addr()).unwrap();
    let writer = {
        let mut w = raw.try_clone().unwrap();
        thread::spawn(move || w.write_all(&load).unwrap())
    };
    // Every reply is `:10\r\n`.
    let mut replies = vec![0u8; n * 5];
    raw.read_exact(&mut replies).unwrap();
    writer.join().unwrap();
    assert!(replies.chunks(5).all(|r| r == b":10\r\n"));
    let grown = clients_mem(&mut c);
    assert!(grown > 1 << 20, "the load grew the round buffers: {grown}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        thread::sleep(Duration::from_millis(200));
        let now = clients_mem(&mut c);
        if now < 512 * 1024 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {now} bytes after 5 s (was {grown})"
        );
    }
    let len: i64 = q(&mut c, &["LLEN", "list:000007"]);
    assert_eq!(len, 10);
}
