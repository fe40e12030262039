//! Keyspace iteration: KEYS, SCAN and RANDOMKEY, through raw RESP bytes.
//!
//! `SHARDCACHE_TEST_AGAINST_REDIS=1 cargo test --test keyspace` runs the same
//! expectations against a real `redis-server`. Reply order and SCAN cursors
//! are the server's own business, so those tests compare sets of keys; the
//! cursor layout is checked only against shardcache.

mod common;

use common::{against_redis, bulk, cmd, exchange, Raw, Reply, Server};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The elements of an array of bulk strings.
#[track_caller]
fn bulks(reply: Reply) -> Vec<Vec<u8>> {
    reply
        .array()
        .into_iter()
        .map(|r| match r {
            Reply::Bulk(Some(b)) => b,
            other => panic!("expected a bulk string, got {other:?}"),
        })
        .collect()
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

fn keys(r: &mut Raw, pattern: &[u8]) -> Vec<Vec<u8>> {
    r.send(&cmd(&[&b"KEYS"[..], pattern]));
    sorted(bulks(r.read_reply()))
}

/// Sets every key (value "v") with one pipelined round.
fn set_all<K: AsRef<[u8]>>(r: &mut Raw, keys: &[K], extra: &[&str]) {
    let mut out = Vec::new();
    for k in keys {
        let mut args: Vec<&[u8]> = vec![b"SET", k.as_ref(), b"v"];
        args.extend(extra.iter().map(|s| s.as_bytes()));
        out.extend_from_slice(&cmd(&args));
    }
    r.send(&out);
    for _ in keys {
        assert_eq!(r.read_reply(), Reply::Simple("OK".into()));
    }
}

/// One SCAN call: (next cursor, keys).
fn scan_step(r: &mut Raw, cursor: &str, opts: &[&str]) -> (String, Vec<Vec<u8>>) {
    let mut args = vec!["SCAN", cursor];
    args.extend_from_slice(opts);
    let mut parts = r.call(&args).array().into_iter();
    let (Some(Reply::Bulk(Some(c))), Some(list), None) = (parts.next(), parts.next(), parts.next())
    else {
        panic!("SCAN reply is not [cursor, keys]");
    };
    (String::from_utf8(c).unwrap(), bulks(list))
}

/// A whole SCAN walk from cursor 0 to cursor 0; every key returned,
/// duplicates included. `between` runs after each call.
fn scan_all(r: &mut Raw, opts: &[&str], mut between: impl FnMut()) -> Vec<Vec<u8>> {
    let mut cursor = "0".to_string();
    let mut all = Vec::new();
    for _ in 0..1_000_000 {
        let (next, mut got) = scan_step(r, &cursor, opts);
        all.append(&mut got);
        between();
        if next == "0" {
            return all;
        }
        cursor = next;
    }
    panic!("SCAN {opts:?} did not return to cursor 0");
}

fn strs(v: &[&str]) -> Vec<Vec<u8>> {
    sorted(v.iter().map(|s| s.as_bytes().to_vec()).collect())
}

// ------------------------------------------------------------------- KEYS

#[test]
fn keys_matches_every_glob_feature() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["KEYS", "*"]), b"*0\r\n");
    let all = [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "hbllo", "a*b", "a?b", "a[b", "a\\b", "axb",
        "", "user:1", "user:2", "user:10",
    ];
    set_all(&mut r, &all, &[]);
    let cases: &[(&str, &[&str])] = &[
        ("*", &all),
        // A pattern other than a lone `*` never matches the empty key (Redis's matcher).
        (
            "**",
            &[
                "hello", "hallo", "hxllo", "hllo", "heeeello", "hbllo", "a*b", "a?b", "a[b",
                "a\\b", "axb", "user:1", "user:2", "user:10",
            ],
        ),
        ("h?llo", &["hello", "hallo", "hxllo", "hbllo"]),
        (
            "h*llo",
            &["hello", "hallo", "hxllo", "hllo", "heeeello", "hbllo"],
        ),
        ("h[ae]llo", &["hello", "hallo"]),
        ("h[^e]llo", &["hallo", "hxllo", "hbllo"]),
        ("h[a-b]llo", &["hallo", "hbllo"]),
        ("h[b-a]llo", &["hallo", "hbllo"]),
        ("h[^a-b]llo", &["hello", "hxllo"]),
        ("a\\*b", &["a*b"]),
        ("a\\?b", &["a?b"]),
        ("a?b", &["a*b", "a?b", "a[b", "a\\b", "axb"]),
        ("a[\\[]b", &["a[b"]),
        ("a\\\\b", &["a\\b"]),
        ("a[*?]b", &["a*b", "a?b"]),
        ("user:?", &["user:1", "user:2"]),
        ("user:[0-9]*", &["user:1", "user:2", "user:10"]),
        ("*1*", &["user:1", "user:10"]),
        (
            "*o",
            &["hello", "hallo", "hxllo", "hllo", "heeeello", "hbllo"],
        ),
        ("HELLO", &[]),
        ("nomatch*", &[]),
        ("", &[""]),
    ];
    for (pattern, want) in cases {
        assert_eq!(
            keys(&mut r, pattern.as_bytes()),
            strs(want),
            "KEYS {pattern:?}"
        );
    }
    // Exact bytes where the order is fixed.
    exchange(
        &mut r,
        &cmd(&["KEYS", "heeee*"]),
        b"*1\r\n$8\r\nheeeello\r\n",
    );
    exchange(&mut r, &cmd(&["KEYS", "zz*"]), b"*0\r\n");
    exchange(
        &mut r,
        &cmd(&["KEYS"]),
        b"-ERR wrong number of arguments for 'keys' command\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["KEYS", "a", "b"]),
        b"-ERR wrong number of arguments for 'keys' command\r\n",
    );
}

#[test]
fn keys_is_binary_safe_and_per_database() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let bin: &[u8] = b"bin\x00\xff\r\nkey";
    r.send(&cmd(&[&b"SET"[..], bin, b"v"]));
    r.expect(b"+OK\r\n");
    let mut want = b"*1\r\n".to_vec();
    want.extend_from_slice(&bulk(bin));
    exchange(&mut r, &cmd(&[&b"KEYS"[..], b"bin?\xff*"]), &want);
    // A pattern with a NUL byte is compared byte for byte too.
    exchange(&mut r, &cmd(&[&b"KEYS"[..], b"bin\x00*"]), &want);
    exchange(&mut r, &cmd(&["SELECT", "1"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["KEYS", "*"]), b"*0\r\n");
    exchange(&mut r, &cmd(&["SET", "one", "1"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["KEYS", "*"]), b"*1\r\n$3\r\none\r\n");
    exchange(&mut r, &cmd(&["SELECT", "0"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["KEYS", "o*"]), b"*0\r\n");
}

#[test]
fn keys_lists_thousands_across_shards() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let all: Vec<String> = (0..5000).map(|i| format!("key:{i}")).collect();
    set_all(&mut r, &all, &[]);
    let got = keys(&mut r, b"key:*");
    assert_eq!(
        got,
        sorted(all.iter().map(|k| k.clone().into_bytes()).collect())
    );
    assert_eq!(keys(&mut r, b"key:4?9?").len(), 100);
}

// ------------------------------------------------------------------- SCAN

#[test]
fn scan_errors_match_redis() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let invalid = b"-ERR invalid cursor\r\n".as_slice();
    let syntax = b"-ERR syntax error\r\n".as_slice();
    let not_int = b"-ERR value is not an integer or out of range\r\n".as_slice();
    let cases: &[(&[&str], &[u8])] = &[
        (&["SCAN", " 1"], invalid),
        (&["SCAN", "1 "], invalid),
        (&["SCAN", "0x1"], invalid),
        (&["SCAN", "abc"], invalid),
        (&["SCAN", "-"], invalid),
        (&["SCAN", "+"], invalid),
        (&["SCAN", "1.5"], invalid),
        (&["SCAN", "18446744073709551616"], invalid),
        // The cursor is checked before the options.
        (&["SCAN", "x", "COUNT", "0"], invalid),
        (&["SCAN", "0", "COUNT", "0"], syntax),
        (&["SCAN", "0", "COUNT", "-1"], syntax),
        (&["SCAN", "0", "count", "abc"], not_int),
        (&["SCAN", "0", "COUNT", "99999999999999999999"], not_int),
        (&["SCAN", "0", "COUNT", "1.0"], not_int),
        (&["SCAN", "0", "COUNT"], syntax),
        (&["SCAN", "0", "MATCH"], syntax),
        (&["SCAN", "0", "TYPE"], syntax),
        (&["SCAN", "0", "foo", "bar"], syntax),
        (&["SCAN", "0", "MATCH", "*", "COUNT"], syntax),
        // The first bad option wins.
        (&["SCAN", "0", "COUNT", "0", "MATCH"], syntax),
        (&["SCAN", "0", "COUNT", "x", "foo", "bar"], not_int),
        (
            &["SCAN"],
            b"-ERR wrong number of arguments for 'scan' command\r\n",
        ),
    ];
    for (args, reply) in cases {
        exchange(&mut r, &cmd(args), reply);
    }
}

#[test]
fn scan_accepts_what_strtoul_accepts() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    // On an empty database every walk is empty; these cursors are accepted.
    for cursor in ["0", "", "+5", "-1", "007", "18446744073709551615"] {
        let (_, got) = scan_step(&mut r, cursor, &[]);
        assert!(got.is_empty(), "SCAN {cursor:?}");
    }
    // Option names are case-insensitive; repeated options: the last wins.
    let (_, got) = scan_step(
        &mut r,
        "0",
        &[
            "mAtCh", "x", "CoUnT", "5", "TyPe", "string", "match", "*", "count", "7",
        ],
    );
    assert!(got.is_empty());
}

#[test]
fn scan_walks_every_key_with_match_count_and_type() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let all: Vec<String> = (0..3000).map(|i| format!("k:{i}")).collect();
    set_all(&mut r, &all, &[]);
    set_all(&mut r, &["other", "o2"], &[]);
    let mut every: Vec<Vec<u8>> = all.iter().map(|k| k.clone().into_bytes()).collect();
    every.push(b"other".to_vec());
    every.push(b"o2".to_vec());
    let every = sorted(every);
    for count in ["1", "10", "100", "100000"] {
        let got = scan_all(&mut r, &["COUNT", count], || {});
        let set: HashSet<&Vec<u8>> = got.iter().collect();
        // No key is lost; Redis may repeat one only while it rehashes, and
        // nothing writes here.
        assert_eq!(sorted(got.clone()), every, "COUNT {count}");
        assert_eq!(set.len(), got.len(), "COUNT {count}: duplicates");
    }
    let got = sorted(scan_all(&mut r, &["MATCH", "k:1?", "COUNT", "50"], || {}));
    assert_eq!(
        got,
        strs(&["k:10", "k:11", "k:12", "k:13", "k:14", "k:15", "k:16", "k:17", "k:18", "k:19"])
    );
    let got = sorted(scan_all(&mut r, &["MATCH", "o*"], || {}));
    assert_eq!(got, strs(&["o2", "other"]));
    for ty in ["string", "STRING"] {
        let got = sorted(scan_all(&mut r, &["TYPE", ty, "COUNT", "1000"], || {}));
        assert_eq!(got, every, "TYPE {ty}");
    }
    for ty in ["hash", "list", "none", "nosuchtype"] {
        let got = scan_all(&mut r, &["TYPE", ty, "COUNT", "1000"], || {});
        assert!(got.is_empty(), "TYPE {ty}: {} keys", got.len());
    }
    // Another database has its own keys.
    exchange(&mut r, &cmd(&["SELECT", "2"]), b"+OK\r\n");
    assert!(scan_all(&mut r, &[], || {}).is_empty());
    exchange(&mut r, &cmd(&["SET", "two", "2"]), b"+OK\r\n");
    assert_eq!(scan_all(&mut r, &["COUNT", "3"], || {}), strs(&["two"]));
}

/// Keys present for the whole walk are returned even while another
/// connection inserts, deletes and overwrites keys between the calls (the
/// slots freed and reused under the cursor are the danger).
#[test]
fn scan_misses_no_key_present_throughout_under_concurrent_writes() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let stable: Vec<String> = (0..4000).map(|i| format!("stable:{i}")).collect();
    // Churn keys between the stable ones, so deletes free slots all over.
    let early: Vec<String> = (0..4000).map(|i| format!("churn:{i}")).collect();
    set_all(&mut r, &stable, &[]);
    set_all(&mut r, &early, &[]);

    let stop = Arc::new(AtomicBool::new(false));
    let mut w = s.raw();
    let stop_w = stop.clone();
    let writer = thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = 4000u64;
        let mut rounds = 0u64;
        while !stop_w.load(Ordering::Relaxed) && Instant::now() < deadline && rounds < 20_000 {
            let mut out = Vec::new();
            for _ in 0..20 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                out.extend_from_slice(&cmd(&["DEL", &format!("churn:{}", rng % next)]));
                out.extend_from_slice(&cmd(&["SET", &format!("churn:{next}"), "v"]));
                let k = format!("stable:{}", (rng >> 40) % 4000);
                out.extend_from_slice(&cmd(&["SET", &k, "a longer value than before"]));
                next += 1;
            }
            w.send(&out);
            for _ in 0..60 {
                if let Reply::Error(e) = w.read_reply() {
                    panic!("writer got -{e}");
                }
            }
            rounds += 1;
        }
        rounds
    });

    let mut calls = 0;
    let got = scan_all(&mut r, &["COUNT", "20"], || {
        calls += 1;
        // Give the writer time to interleave with the walk.
        if calls % 8 == 0 {
            thread::sleep(Duration::from_millis(1));
        }
    });
    stop.store(true, Ordering::Relaxed);
    let rounds = writer.join().expect("writer thread");
    assert!(rounds > 0, "the writer never ran during the walk");
    let seen: HashSet<Vec<u8>> = got.into_iter().collect();
    for k in &stable {
        assert!(
            seen.contains(k.as_bytes()),
            "SCAN missed {k} ({calls} calls, {rounds} write rounds)"
        );
    }
    for k in &seen {
        assert!(
            k.starts_with(b"stable:") || k.starts_with(b"churn:"),
            "SCAN returned a key nobody wrote: {:?}",
            String::from_utf8_lossy(k)
        );
    }
}

/// The cursor names a shard and a place in that shard's walk (a hash
/// value: `place * shards + shard`): shards are walked in order and 0 ends
/// the walk; a call goes on to the later shards while they are exhausted,
/// so an empty database ends at once, as in Redis.
/// shardcache-only (Redis's cursors are bucket positions).
#[test]
fn scan_cursor_walks_the_shards_in_order() {
    if against_redis() {
        return;
    }
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    for c in ["0", "1", "2", "3", "-1", "4000"] {
        exchange(&mut r, &cmd(&["SCAN", c]), b"*2\r\n$1\r\n0\r\n*0\r\n");
    }
    // Keys on the last shard only.
    let route = shards::route::Router::new(4);
    let on3: Vec<String> = (0..)
        .map(|i| format!("s3:{i}"))
        .filter(|k| route.shard_of(k.as_bytes()) == 3)
        .take(20)
        .collect();
    set_all(&mut r, &on3, &[]);
    // From cursor 3 (shard 3's start) or 0 (the empty shards 0-2 are
    // passed in the same call) a COUNT 1 walk returns every key once, in
    // steps whose cursors all name shard 3, and ends at 0.
    for start in ["3", "0"] {
        let mut cursor = start.to_string();
        let mut got = Vec::new();
        let mut steps = 0;
        loop {
            let (next, keys) = scan_step(&mut r, &cursor, &["COUNT", "1"]);
            // A step takes one full bucket and the keys of its hash range
            // displaced past it: with each index's own salt the runs vary
            // (5 keys seen once in a few dozen runs), so a loose bound.
            assert!(keys.len() <= 10, "COUNT 1 gave {} keys", keys.len());
            got.extend(keys);
            steps += 1;
            if next == "0" {
                break;
            }
            let n: u64 = next.parse().unwrap();
            assert_eq!(n % 4, 3, "cursor {n} names shard 3");
            cursor = next;
        }
        assert!(steps >= 2, "{steps} steps for 20 keys");
        let want: Vec<Vec<u8>> = on3.iter().map(|k| k.clone().into_bytes()).collect();
        assert_eq!(sorted(got), sorted(want));
    }
    // A type Redis does not know matches nothing: the walk ends at once.
    exchange(
        &mut r,
        &cmd(&["SCAN", "3", "TYPE", "nosuchtype"]),
        b"*2\r\n$1\r\n0\r\n*0\r\n",
    );
}

// -------------------------------------------------------------- RANDOMKEY

#[test]
fn randomkey_nil_when_empty_and_arity() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["RANDOMKEY"]), b"$-1\r\n");
    exchange(
        &mut r,
        &cmd(&["RANDOMKEY", "x"]),
        b"-ERR wrong number of arguments for 'randomkey' command\r\n",
    );
    exchange(&mut r, &cmd(&["SET", "only", "1"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["RANDOMKEY"]), b"$4\r\nonly\r\n");
    exchange(&mut r, &cmd(&["SELECT", "3"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["RANDOMKEY"]), b"$-1\r\n");
}

/// Keys spread very unevenly over the shards (30 on one, 1 or 2 on the
/// others) are still drawn about equally often: a uniform pick of the shard
/// would give the lone keys a quarter of the draws each.
#[test]
fn randomkey_is_fair_across_shards() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let route = shards::route::Router::new(4);
    let mut chosen: Vec<String> = Vec::new();
    for (shard, n) in [(0, 30), (1, 2), (2, 1), (3, 1)] {
        chosen.extend(
            (0..)
                .map(|i| format!("r:{i}"))
                .filter(|k| route.shard_of(k.as_bytes()) == shard)
                .take(n),
        );
    }
    set_all(&mut r, &chosen, &[]);
    let draws = 100 * chosen.len();
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    for _ in 0..draws / 100 {
        r.send(&cmd(&["RANDOMKEY"]).repeat(100));
        for _ in 0..100 {
            *counts.entry(r.read_reply().bulk_bytes()).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), chosen.len(), "every key is drawn: {counts:?}");
    // 100 expected draws each, standard deviation ~10.
    for k in &chosen {
        let n = counts[k.as_bytes()];
        assert!(
            (40..=200).contains(&n),
            "{k} drawn {n} times of {draws}: {counts:?}"
        );
    }
}

// ---------------------------------------------------------------- expiry

/// Keys whose TTL has passed are never listed or drawn, whether or not
/// anything has removed them yet.
#[test]
fn expired_keys_are_never_returned() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let doomed: Vec<String> = (0..3000).map(|i| format!("doomed:{i}")).collect();
    let set_at = std::time::Instant::now();
    set_all(&mut r, &doomed, &["PX", "1500"]);
    let set_done = std::time::Instant::now();
    set_all(&mut r, &["alive:1", "alive:2"], &[]);
    let before = keys(&mut r, b"doomed:*").len();
    // On a machine busy enough to take most of the TTL for the above, some
    // may be gone already; otherwise all are still there.
    if set_at.elapsed() < Duration::from_millis(1000) {
        assert_eq!(before, 3000);
    }
    thread::sleep(Duration::from_millis(1600).saturating_sub(set_done.elapsed()));
    let alive = strs(&["alive:1", "alive:2"]);
    assert_eq!(keys(&mut r, b"*"), alive);
    assert_eq!(sorted(scan_all(&mut r, &["COUNT", "500"], || {})), alive);
    for _ in 0..50 {
        let k = r.call(&["RANDOMKEY"]).bulk_bytes();
        assert!(
            k.starts_with(b"alive:"),
            "{:?}",
            String::from_utf8_lossy(&k)
        );
    }
    // A database whose keys have all expired has no random key.
    exchange(&mut r, &cmd(&["SELECT", "1"]), b"+OK\r\n");
    set_all(&mut r, &["gone:1", "gone:2", "gone:3"], &["PX", "50"]);
    thread::sleep(Duration::from_millis(100));
    exchange(&mut r, &cmd(&["RANDOMKEY"]), b"$-1\r\n");
    exchange(&mut r, &cmd(&["KEYS", "*"]), b"*0\r\n");
}
