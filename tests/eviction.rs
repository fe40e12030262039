//! Eviction under `--max-keys` and `--maxmemory`, for each policy.

mod common;

use common::{cmd, exchange, Raw, Server};

const OOM: &[u8] = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n";

/// Pipelines `SET key value` for every pair and expects `+OK` for each.
fn set_all(r: &mut Raw, pairs: impl IntoIterator<Item = (String, Vec<u8>)>) -> usize {
    let mut input = Vec::new();
    let mut n = 0;
    for (k, v) in pairs {
        input.extend_from_slice(&cmd(&[b"SET".as_slice(), k.as_bytes(), &v]));
        n += 1;
    }
    r.send(&input);
    r.expect(&b"+OK\r\n".repeat(n));
    n
}

/// The original project's example: capacity 5, `a` is touched, `b` is the LRU.
#[test]
fn lru_evicts_least_recently_used_key() {
    let s = Server::embedded(&["--shards", "1", "--max-keys", "5"]);
    let mut r = s.raw();
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")] {
        exchange(&mut r, format!("set {k} {v}\r\n").as_bytes(), b"+OK\r\n");
    }
    exchange(&mut r, b"get a\r\n", b"$1\r\n1\r\n");
    exchange(&mut r, b"set f 6\r\n", b"+OK\r\n");
    exchange(&mut r, b"get b\r\n", b"$-1\r\n");
    exchange(
        &mut r,
        &cmd(&["MGET", "a", "c", "d", "e", "f"]),
        b"*5\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n",
    );
    exchange(&mut r, b"dbsize\r\n", b":5\r\n");
    assert_eq!(s.info_int("stats", "evicted_keys"), 1);
    // Overwriting an existing key evicts nothing.
    exchange(&mut r, b"set f 7\r\n", b"+OK\r\n");
    assert_eq!(s.info_int("stats", "evicted_keys"), 1);
    // The MGET touched a, c, d, e, f in that order and f was written again:
    // a is now the least recently used.
    exchange(&mut r, b"set g 8\r\n", b"+OK\r\n");
    exchange(&mut r, b"exists a\r\n", b":0\r\n");
    exchange(&mut r, b"exists c d e f g\r\n", b":5\r\n");
    assert_eq!(s.info_int("stats", "evicted_keys"), 2);
}

#[test]
fn noeviction_refuses_new_keys_but_allows_overwrites() {
    let s = Server::embedded(&[
        "--maxmemory-policy",
        "noeviction",
        "--max-keys",
        "2",
        "--shards",
        "1",
    ]);
    let mut r = s.raw();
    exchange(&mut r, b"set a 1\r\n", b"+OK\r\n");
    exchange(&mut r, b"set b 2\r\n", b"+OK\r\n");
    exchange(&mut r, b"set c 3\r\n", OOM);
    exchange(&mut r, &cmd(&["SET", "c", "3", "EX", "100"]), OOM);
    exchange(&mut r, b"exists c\r\n", b":0\r\n");
    exchange(&mut r, b"set a 10\r\n", b"+OK\r\n");
    exchange(&mut r, b"set b 20 get\r\n", b"$1\r\n2\r\n");
    exchange(&mut r, &cmd(&["MSET", "a", "100", "b", "200"]), b"+OK\r\n");
    exchange(
        &mut r,
        b"mget a b c\r\n",
        b"*3\r\n$3\r\n100\r\n$3\r\n200\r\n$-1\r\n",
    );
    assert_eq!(s.info_int("stats", "evicted_keys"), 0);
    // Room again after a DEL.
    exchange(&mut r, b"del a\r\n", b":1\r\n");
    exchange(&mut r, b"set c 3\r\n", b"+OK\r\n");
    exchange(&mut r, b"set d 4\r\n", OOM);
    exchange(&mut r, b"dbsize\r\n", b":2\r\n");
}

#[test]
fn maxmemory_1mb_evicts_and_keeps_newest() {
    let s = Server::embedded(&["--maxmemory", "1mb", "--shards", "1"]);
    let mut r = s.raw();
    const N: usize = 5000;
    // ~5 MB of distinct 1 KB values, in pipelined batches.
    let value = |i: usize| -> Vec<u8> {
        let mut v = format!("value-{i}-").into_bytes();
        v.resize(1024, b'a' + (i % 26) as u8);
        v
    };
    for chunk in (0..N).collect::<Vec<_>>().chunks(500) {
        set_all(
            &mut r,
            chunk.iter().map(|&i| (format!("key:{i}"), value(i))),
        );
        let used = s.info_int("memory", "used_memory");
        assert!(
            used <= (1 << 20) + 8 * 1024,
            "used_memory {used} is over maxmemory (1 MB)"
        );
    }
    let used = s.info_int("memory", "used_memory");
    assert!(
        used > 512 * 1024,
        "used_memory {used}: expected the limit to be used"
    );
    assert_eq!(s.info_int("memory", "maxmemory"), 1 << 20);
    let size = r.call(&["DBSIZE"]).int() as usize;
    assert!(size > 100 && size < 1024, "DBSIZE {size}");
    assert_eq!(s.info_int("stats", "evicted_keys") as usize, N - size);
    // LRU: the newest keys are all present, with their values.
    for i in N - 100..N {
        let got = r.call(&["GET", &format!("key:{i}")]).bulk_bytes();
        assert!(got == value(i), "key:{i} has a wrong value");
    }
    // The oldest are gone.
    let old: Vec<String> = (0..100).map(|i| format!("key:{i}")).collect();
    let mut exists = vec!["EXISTS".to_string()];
    exists.extend(old);
    exchange(&mut r, &cmd(&exists), b":0\r\n");
    // FLUSHALL gives the memory back.
    exchange(&mut r, &cmd(&["FLUSHALL"]), b"+OK\r\n");
    let used = s.info_int("memory", "used_memory");
    assert!(used < 64 * 1024, "used_memory {used} after FLUSHALL");
}

#[test]
fn maxmemory_is_split_over_shards() {
    let s = Server::embedded(&["--maxmemory", "2mb", "--shards", "4"]);
    let mut r = s.raw();
    let value = vec![b'x'; 1000];
    for batch in 0..8 {
        set_all(
            &mut r,
            (0..500).map(|i| (format!("k{batch}:{i}"), value.clone())),
        );
    }
    let used = s.info_int("memory", "used_memory");
    assert!(
        used <= (2 << 20) + 16 * 1024,
        "used_memory {used} over 2 MB"
    );
    let size = r.call(&["DBSIZE"]).int();
    assert!(size > 200 && size < 2100, "DBSIZE {size}");
    assert_eq!(s.info_int("stats", "evicted_keys"), 4000 - size);
}

#[test]
fn noeviction_maxmemory_refuses_writes_but_serves_reads_and_deletes() {
    let s = Server::embedded(&[
        "--maxmemory",
        "100kb",
        "--maxmemory-policy",
        "noeviction",
        "--shards",
        "1",
    ]);
    let mut r = s.raw();
    let value = vec![b'x'; 1024];
    let mut stored = 0;
    let mut refused = false;
    for i in 0..400 {
        r.send_cmd(&[b"SET".as_slice(), format!("k{i}").as_bytes(), &value]);
        match r.read_reply() {
            common::Reply::Simple(ok) if ok == "OK" => stored += 1,
            common::Reply::Error(e) => {
                assert_eq!(e, "OOM command not allowed when used memory > 'maxmemory'.");
                refused = true;
                break;
            }
            other => panic!("unexpected reply {other:?}"),
        }
    }
    assert!(refused, "400 KB fitted in 100 KB");
    assert!(stored > 50, "only {stored} keys stored");
    exchange(
        &mut r,
        &cmd(&["DBSIZE"]),
        format!(":{stored}\r\n").as_bytes(),
    );
    // Reads and deletes still work; the delete makes room.
    exchange(&mut r, &cmd(&["EXISTS", "k0"]), b":1\r\n");
    exchange(&mut r, &cmd(&["GET", "k1"]), &common::bulk(&value));
    let mut del = vec!["DEL".to_string()];
    del.extend((0..10).map(|i| format!("k{i}")));
    exchange(&mut r, &cmd(&del), b":10\r\n");
    exchange(&mut r, &cmd(&["SET", "fresh", "1"]), b"+OK\r\n");
    assert_eq!(s.info_int("stats", "evicted_keys"), 0);
}

#[test]
fn volatile_policies_evict_only_keys_with_ttl() {
    for policy in ["volatile-lru", "volatile-random", "volatile-ttl"] {
        let s = Server::embedded(&[
            "--shards",
            "1",
            "--max-keys",
            "4",
            "--maxmemory-policy",
            policy,
        ]);
        let mut r = s.raw();
        exchange(&mut r, b"set p1 1\r\n", b"+OK\r\n");
        exchange(&mut r, b"set p2 1\r\n", b"+OK\r\n");
        exchange(&mut r, &cmd(&["SET", "v1", "1", "EX", "1000"]), b"+OK\r\n");
        exchange(&mut r, &cmd(&["SET", "v2", "1", "EX", "2000"]), b"+OK\r\n");
        exchange(&mut r, &cmd(&["SET", "new1", "1"]), b"+OK\r\n");
        exchange(&mut r, &cmd(&["EXISTS", "p1", "p2", "new1"]), b":3\r\n");
        exchange(&mut r, &cmd(&["EXISTS", "v1", "v2"]), b":1\r\n");
        if policy == "volatile-lru" {
            // v1 is the least recently used key with a TTL.
            exchange(&mut r, &cmd(&["EXISTS", "v2"]), b":1\r\n");
        }
        exchange(&mut r, &cmd(&["SET", "new2", "1"]), b"+OK\r\n");
        exchange(&mut r, &cmd(&["EXISTS", "v1", "v2"]), b":0\r\n");
        // No volatile key left: nothing can be evicted.
        exchange(&mut r, &cmd(&["SET", "new3", "1"]), OOM);
        exchange(
            &mut r,
            &cmd(&["EXISTS", "p1", "p2", "new1", "new2"]),
            b":4\r\n",
        );
        assert_eq!(s.info_int("stats", "evicted_keys"), 2, "policy {policy}");
    }
}

#[test]
fn allkeys_random_keeps_the_cap() {
    let s = Server::embedded(&[
        "--shards",
        "1",
        "--max-keys",
        "50",
        "--maxmemory-policy",
        "allkeys-random",
    ]);
    let mut r = s.raw();
    set_all(&mut r, (0..500).map(|i| (format!("k{i}"), b"v".to_vec())));
    exchange(&mut r, &cmd(&["DBSIZE"]), b":50\r\n");
    assert_eq!(s.info_int("stats", "evicted_keys"), 450);
    // The key just written always survives its own write.
    exchange(&mut r, &cmd(&["GET", "k499"]), b"$1\r\nv\r\n");
}

#[test]
fn config_set_limits_at_run_time() {
    let s = Server::embedded(&["--shards", "1"]);
    let mut r = s.raw();
    set_all(&mut r, (0..20).map(|i| (format!("k{i}"), b"v".to_vec())));
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "max-keys", "5"]),
        b"+OK\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "max-keys"]),
        b"*2\r\n$8\r\nmax-keys\r\n$1\r\n5\r\n",
    );
    // The next write brings the store back within the cap; the LRU goes first.
    exchange(&mut r, &cmd(&["SET", "new", "v"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["DBSIZE"]), b":5\r\n");
    exchange(
        &mut r,
        &cmd(&["EXISTS", "new", "k19", "k18", "k17", "k16"]),
        b":5\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "max-keys", "0"]),
        b"+OK\r\n",
    );
    set_all(&mut r, (0..20).map(|i| (format!("m{i}"), b"v".to_vec())));
    exchange(&mut r, &cmd(&["DBSIZE"]), b":25\r\n");
    // maxmemory at run time, with a unit.
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "maxmemory", "64kb"]),
        b"+OK\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "maxmemory"]),
        b"*2\r\n$9\r\nmaxmemory\r\n$5\r\n65536\r\n",
    );
    let value = vec![b'z'; 1024];
    set_all(&mut r, (0..200).map(|i| (format!("big{i}"), value.clone())));
    let used = s.info_int("memory", "used_memory");
    assert!(used <= 64 * 1024 + 4096, "used_memory {used} over 64 KB");
    exchange(&mut r, &cmd(&["GET", "big199"]), &common::bulk(&value));
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "maxmemory", "lots"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n",
    );
}
