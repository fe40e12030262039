//! Persistence of hashes and sets through the binary: every write is logged
//! as an absolute record (`HSET`, `HDEL`, `SADD`, `SREM`, `DEL`, `PEXPIREAT`),
//! so a restart (after SIGTERM or SIGKILL), a rewrite (which writes each
//! collection as `HSET`/`SADD` records of at most 64 items) and a re-shard
//! (3 shards to 2) bring back the same keys, contents, encodings and TTLs;
//! the segments pass `redis-check-aof`, and a real Redis importing them with
//! `redis-cli --pipe` ends in the same state.

mod common;

use common::proc::{tempdir, Proc};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&[u8]]) -> T {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| {
        panic!(
            "{}: {e}",
            String::from_utf8_lossy(&args.join(&b' '))
                .chars()
                .take(200)
                .collect::<String>()
        )
    })
}

/// `q` of a command written as space-separated words.
fn w<T: redis::FromRedisValue>(c: &mut redis::Connection, line: &str) -> T {
    let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    q(c, &words)
}

/// `q` of a command whose last arguments are `many`.
fn with_many<T: redis::FromRedisValue>(
    c: &mut redis::Connection,
    head: &str,
    many: &[String],
) -> T {
    let mut args: Vec<&[u8]> = head.split(' ').map(str::as_bytes).collect();
    args.extend(many.iter().map(|m| m.as_bytes()));
    q(c, &args)
}

/// The databases the writes use.
const DBS: [&str; 2] = ["0", "3"];

/// Writes hashes and sets of every encoding with every write command,
/// including the cases that end in a deleted key, in two databases; the
/// multi-key commands run with their keys on one shard and on several.
fn write_collections(c: &mut redis::Connection) {
    for db in DBS {
        let _: () = w(c, &format!("SELECT {db}"));
        // Hashes: a listpack edited by every command.
        let _: i64 = w(c, "HSET h:small a 1 b 2 c 3 d 4");
        let _: i64 = w(c, "HDEL h:small b nosuch");
        let _: i64 = w(c, "HINCRBY h:small a 41");
        let _: String = w(c, "HINCRBYFLOAT h:small f 2.5");
        let _: String = w(c, "HINCRBYFLOAT h:small f 0.25");
        let _: i64 = w(c, "HSETNX h:small c other");
        let _: i64 = w(c, "HSETNX h:small e 5");
        let _: () = w(c, "HMSET h:small g 7 h 8");
        // A listpack of 100 fields (two records after a rewrite).
        let fields: Vec<String> = (0..100)
            .flat_map(|i| [format!("f{i}"), format!("v{i}")])
            .collect();
        let _: i64 = with_many(c, "HSET h:mid", &fields);
        // A hashtable by count, one by a long value, one with binary data.
        let fields: Vec<String> = (0..1000)
            .flat_map(|i| [format!("field:{i}"), format!("{}", i * 3)])
            .collect();
        let _: i64 = with_many(c, "HSET h:big", &fields);
        let _: i64 = w(c, "HDEL h:big field:0 field:999");
        let _: i64 = w(c, "HINCRBY h:big field:1 1000");
        let long = "x".repeat(100);
        let _: i64 = q(c, &[b"HSET", b"h:long", b"k", long.as_bytes(), b"n", b"1"]);
        let _: i64 = q(
            c,
            &[
                b"HSET",
                b"h:bin",
                b"\x00\r\n",
                b"\xff\x00",
                b"",
                b"empty",
                b"sp ace",
                b"",
            ],
        );
        // Emptied: the key goes.
        let _: i64 = w(c, "HSET h:gone a 1 b 2");
        let _: i64 = w(c, "HDEL h:gone a b");
        // TTLs.
        let _: i64 = w(c, "HSET h:ttl a 1");
        let _: i64 = w(c, "PEXPIRE h:ttl 3600000");
        let _: i64 = w(c, "HSET h:ttl b 2");

        // Sets: an intset, a hashtable of integers, one of strings.
        let ints: Vec<String> = (0..100).map(|i| (i * 7 - 50).to_string()).collect();
        let _: i64 = with_many(c, "SADD s:ints", &ints);
        let _: i64 = w(c, "SREM s:ints 6 13 nosuch");
        let many: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
        let _: i64 = with_many(c, "SADD s:bigints", &many);
        let _: i64 = w(c, "SREM s:bigints 0 1999");
        let strs: Vec<String> = (0..1000).map(|i| format!("member:{i}")).collect();
        let _: i64 = with_many(c, "SADD s:strs", &strs);
        let _: Option<String> = w(c, "SPOP s:strs");
        let _: Vec<String> = w(c, "SPOP s:strs 10");
        // Large counts take Redis's other strategies (a new set of the
        // remainder, the whole set).
        let _: Vec<String> = w(c, "SPOP s:strs 600");
        let _: i64 = w(c, "SADD s:mix 1 2 three");
        let _: i64 = q(c, &[b"SADD", b"s:bin", b"\x00\r\n", b"", b"\xff"]);
        let _: i64 = w(c, "SADD s:gone 1 2 3");
        let _: Vec<String> = w(c, "SPOP s:gone 3");
        let _: i64 = w(c, "SADD s:gone2 x");
        let _: Option<String> = w(c, "SPOP s:gone2");
        let _: i64 = w(c, "SADD s:ttl a b");
        let _: i64 = w(c, "EXPIRE s:ttl 7200");
        let _: i64 = w(c, "SREM s:ttl a");

        // The multi-key commands, across shards and on one.
        let _: i64 = w(c, "SADD a 1 2 3 x");
        let _: i64 = w(c, "SADD c 3 4 y");
        let _: i64 = w(c, "SMOVE a c 1");
        let _: i64 = w(c, "SMOVE a c x");
        let _: i64 = w(c, "SMOVE c d y");
        let _: i64 = w(c, "SUNIONSTORE g a c d");
        let _: i64 = w(c, "SINTERSTORE u a c");
        let _: i64 = w(c, "SDIFFSTORE v c a");
        let _: i64 = w(c, "SINTERSTORE nothing a nosuch");
        let _: i64 = w(c, "SUNIONSTORE big:store s:strs s:bigints");
        // A STORE drops the destination's TTL.
        let _: i64 = w(c, "EXPIRE u 9000");
        let _: i64 = w(c, "SUNIONSTORE u u a");
        let _: i64 = w(c, "EXPIRE g 9000");

        // Keyspace commands on collections.
        let _: () = w(c, "RENAME h:mid h:renamed");
        let _: i64 = w(c, "COPY s:ints s:copy");
        let _: i64 = w(c, "COPY h:big h:copy");
        let payload: Vec<u8> = w(c, "DUMP s:mix");
        let _: () = q(c, &[b"RESTORE", b"s:restored", b"0", &payload]);
        let _: () = q(c, &[b"RESTORE", b"s:restored:ttl", b"5000000", &payload]);
    }
    let _: () = w(c, "SELECT 0");
    let _: i64 = w(c, "MOVE s:copy 5");
}

/// One key as read back: type, encoding, content, PEXPIRETIME.
type Entry = (String, String, Content, i64);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Content {
    Str(Vec<u8>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
}

/// Every key of databases 0, 3 and 5.
type State = BTreeMap<(u8, Vec<u8>), Entry>;

fn state(c: &mut redis::Connection) -> State {
    let mut out = BTreeMap::new();
    for db in [0u8, 3, 5] {
        let _: () = w(c, &format!("SELECT {db}"));
        let mut cursor = "0".to_string();
        loop {
            let (next, keys): (String, Vec<Vec<u8>>) = w(c, &format!("SCAN {cursor} COUNT 1000"));
            for k in keys {
                let kind: String = q(c, &[b"TYPE", &k]);
                let encoding: String = q(c, &[b"OBJECT", b"ENCODING", &k]);
                let content = match kind.as_str() {
                    "hash" => Content::Hash(q(c, &[b"HGETALL", &k])),
                    "set" => Content::Set(q(c, &[b"SMEMBERS", &k])),
                    _ => Content::Str(q(c, &[b"GET", &k])),
                };
                let at: i64 = q(c, &[b"PEXPIRETIME", &k]);
                out.insert((db, k), (kind, encoding, content, at));
            }
            if next == "0" {
                break;
            }
            cursor = next;
        }
    }
    let _: () = w(c, "SELECT 0");
    out
}

/// `s` with each collection in the encoding a reload of its rewritten
/// records gives it (Redis's too): a set that became a hashtable only
/// through a member since removed is an intset again.
fn reloaded(s: &State) -> State {
    let canonical_int = |m: &[u8]| {
        std::str::from_utf8(m)
            .ok()
            .and_then(|t| t.parse::<i64>().ok().filter(|v| v.to_string() == t))
            .is_some()
    };
    s.iter()
        .map(|(k, (kind, enc, content, at))| {
            let enc = match content {
                Content::Set(m) if m.len() <= 512 && m.iter().all(|m| canonical_int(m)) => {
                    "intset".to_string()
                }
                _ => enc.clone(),
            };
            (k.clone(), (kind.clone(), enc, content.clone(), *at))
        })
        .collect()
}

/// Fails with the keys that differ (at most 10, their contents cut short).
fn assert_same(got: &State, want: &State, what: &str) {
    let short = |e: Option<&Entry>| {
        let s = format!("{e:?}");
        if s.len() > 300 {
            format!("{}... ({} chars)", &s[..300], s.len())
        } else {
            s
        }
    };
    let keys: BTreeSet<&(u8, Vec<u8>)> = got.keys().chain(want.keys()).collect();
    let diffs: Vec<String> = keys
        .into_iter()
        .filter(|k| got.get(*k) != want.get(*k))
        .map(|k| {
            format!(
                "db {} {:?}:\n  want {}\n  got  {}",
                k.0,
                String::from_utf8_lossy(&k.1),
                short(want.get(k)),
                short(got.get(k))
            )
        })
        .collect();
    assert!(
        diffs.is_empty(),
        "{what}: {} keys differ:\n{}",
        diffs.len(),
        diffs
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Checks what `write_collections` left, so the comparisons compare
/// something: keys of every type and encoding, some with TTLs, none of the
/// emptied ones.
fn check_written(s: &State) {
    let get = |db: u8, k: &str| s.get(&(db, k.as_bytes().to_vec()));
    for db in [0u8, 3] {
        let enc = |k: &str| get(db, k).map(|e| e.1.as_str());
        assert_eq!(enc("h:small"), Some("listpack"));
        assert_eq!(enc("h:renamed"), Some("listpack"));
        assert_eq!(enc("h:big"), Some("hashtable"));
        assert_eq!(enc("h:long"), Some("hashtable"));
        assert_eq!(enc("s:ints"), Some("intset"));
        assert_eq!(enc("s:bigints"), Some("hashtable"));
        assert_eq!(enc("s:strs"), Some("hashtable"));
        assert_eq!(enc("s:mix"), Some("hashtable"));
        for gone in ["h:gone", "s:gone", "s:gone2", "nothing", "h:mid"] {
            assert!(get(db, gone).is_none(), "{gone} is gone");
        }
        for ttl in ["h:ttl", "s:ttl", "g", "s:restored:ttl"] {
            assert!(get(db, ttl).is_some_and(|e| e.3 > 0), "{ttl} has a TTL");
        }
        assert!(get(db, "u").is_some_and(|e| e.3 == -1), "u has no TTL");
        let Some((_, _, Content::Hash(small), _)) = get(db, "h:small") else {
            panic!("h:small is a hash")
        };
        assert_eq!(small.get(&b"a"[..]).map(|v| &v[..]), Some(&b"42"[..]));
        assert_eq!(small.get(&b"f"[..]).map(|v| &v[..]), Some(&b"2.75"[..]));
        let Some((_, _, Content::Set(strs), _)) = get(db, "s:strs") else {
            panic!("s:strs is a set")
        };
        assert_eq!(strs.len(), 389);
    }
    assert!(get(0, "s:copy").is_none() && get(5, "s:copy").is_some());
}

/// The segment files of `dir`, in name order.
fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "aof"))
        .collect();
    v.sort();
    v
}

/// The records (argument vectors) of a segment.
fn records(bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    let line = |i: &mut usize| -> Vec<u8> {
        let end = bytes[*i..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("CRLF")
            + *i;
        let l = bytes[*i..end].to_vec();
        *i = end + 2;
        l
    };
    while i < bytes.len() {
        let head = line(&mut i);
        assert_eq!(head[0], b'*', "a record starts with an array");
        let n: usize = std::str::from_utf8(&head[1..]).unwrap().parse().unwrap();
        let mut args = Vec::with_capacity(n);
        for _ in 0..n {
            let h = line(&mut i);
            assert_eq!(h[0], b'$');
            let len: usize = std::str::from_utf8(&h[1..]).unwrap().parse().unwrap();
            args.push(bytes[i..i + len].to_vec());
            i += len + 2;
        }
        out.push(args);
    }
    out
}

fn rewrite(c: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let _: String = w(c, "BGREWRITEAOF");
    loop {
        let info: String = w(c, "INFO persistence");
        if info.contains("aof_rewrite_in_progress:0") {
            assert!(info.contains("aof_last_bgrewrite_status:ok"), "{info}");
            break;
        }
        assert!(Instant::now() < deadline, "rewrite did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Restart after SIGTERM, BGREWRITEAOF, restart after SIGKILL on fewer
/// shards (3 to 2): the same state each time; the rewritten segments hold
/// collections as HSET/SADD records of at most 64 items and no command
/// that is not absolute; redis-check-aof accepts them and a Redis importing
/// them ends in the same state.
#[test]
fn restart_rewrite_and_reshard_keep_hashes_and_sets() {
    let dir = tempdir("hash-set");
    let p = Proc::start(&dir, &["--shards", "3", "--appendfsync", "always"]);
    let mut c = p.client();
    write_collections(&mut c);
    let before = state(&mut c);
    check_written(&before);
    drop(c);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0), "SIGTERM exits 0");
    let logged: Vec<u8> = segments(&dir)
        .iter()
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    let names: BTreeSet<String> = records(&logged)
        .iter()
        .map(|r| String::from_utf8_lossy(&r[0]).to_ascii_uppercase())
        .collect();
    for bad in [
        "SPOP",
        "SMOVE",
        "SUNIONSTORE",
        "SINTERSTORE",
        "SDIFFSTORE",
        "HINCRBY",
        "HINCRBYFLOAT",
        "HSETNX",
        "HMSET",
        "EXPIRE",
        "RENAME",
        "COPY",
        "MOVE",
    ] {
        assert!(!names.contains(bad), "a {bad} record in {names:?}");
    }
    for want in ["HSET", "HDEL", "SADD", "SREM", "DEL", "PEXPIREAT"] {
        assert!(names.contains(want), "no {want} record in {names:?}");
    }

    let p = Proc::start(&dir, &["--shards", "3"]);
    let mut c = p.client();
    assert_same(&state(&mut c), &before, "after SIGTERM and a restart");
    rewrite(&mut c);
    let segs = segments(&dir);
    assert_eq!(segs.len(), 3, "one segment a shard: {segs:?}");
    let mut items = 0;
    for seg in &segs {
        for r in records(&std::fs::read(seg).unwrap()) {
            let name = String::from_utf8_lossy(&r[0]).to_ascii_uppercase();
            let n = match name.as_str() {
                "HSET" => (r.len() - 2) / 2,
                "SADD" => r.len() - 2,
                "SELECT" | "PEXPIREAT" | "SET" => continue,
                other => panic!("a rewrite wrote {other}"),
            };
            assert!(n <= 64, "{name} of {n} items");
            items += n;
        }
    }
    assert!(items > 5000, "the rewrite wrote {items} items");
    drop(c);
    p.signal("-KILL");
    assert_eq!(p.wait(), None, "killed by a signal");

    let p = Proc::start(&dir, &["--shards", "2"]);
    let mut c = p.client();
    let before = reloaded(&before);
    assert_same(
        &state(&mut c),
        &before,
        "after a rewrite, SIGKILL, 3 to 2 shards",
    );
    // Writes after the re-shard land in its segments too.
    let _: i64 = w(&mut c, "SADD after 1");
    let _: i64 = w(&mut c, "HSET h:small after 1");
    let after = state(&mut c);
    drop(c);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0), "SIGTERM exits 0");
    let segs = segments(&dir);
    assert_eq!(segs.len(), 2, "one segment a shard: {segs:?}");
    check_aof(&segs);
    let aof: Vec<u8> = segs
        .iter()
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    import_into_redis(&aof, &after);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `redis-check-aof` accepts every segment (skipped without it).
fn check_aof(segs: &[PathBuf]) {
    if Command::new("redis-check-aof")
        .arg("--help")
        .output()
        .is_err()
    {
        eprintln!("note: redis-check-aof is not on PATH; skipping the check");
        return;
    }
    for seg in segs {
        let out = Command::new("redis-check-aof").arg(seg).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("is valid"),
            "{}: {text}",
            seg.display()
        );
    }
}

/// Pipes `aof` into a fresh `redis-server` with `redis-cli --pipe` and
/// compares its state with `want`; skipped when Redis is not installed.
fn import_into_redis(aof: &[u8], want: &State) {
    use std::io::Write;
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
    let dir = tempdir("hash-set-redis");
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
    assert_same(&got, want, "Redis after importing the segments");
}
