//! Client-side caching (CLIENT TRACKING): invalidations as RESP3 pushes
//! and, with REDIRECT, as `__redis__:invalidate` messages to a RESP2
//! subscriber on another worker; expiry and eviction invalidate; BCAST
//! over keys of every shard; NOLOOP; FLUSHALL's null invalidation;
//! CLIENT LIST's `t` flag and `redir=`.
//!
//! The expected bytes are Redis 7.0.15's (`SHARDCACHE_TEST_AGAINST_REDIS=1`
//! runs these tests against a real `redis-server`).

mod common;

use common::{Raw, Reply, Server};
use std::io::Read;
use std::time::Duration;

/// `>2 invalidate [keys]`.
fn push(keys: &[&str]) -> Vec<u8> {
    let mut v = b">2\r\n$10\r\ninvalidate\r\n".to_vec();
    v.extend(format!("*{}\r\n", keys.len()).into_bytes());
    for k in keys {
        v.extend(common::bulk(k.as_bytes()));
    }
    v
}

/// `message __redis__:invalidate [keys]` (RESP2).
fn redirected(keys: &[&str]) -> Vec<u8> {
    let mut v = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n".to_vec();
    v.extend(format!("*{}\r\n", keys.len()).into_bytes());
    for k in keys {
        v.extend(common::bulk(k.as_bytes()));
    }
    v
}

/// One line of a reply, without its CRLF.
fn line(r: &mut Raw) -> Vec<u8> {
    let mut l = Vec::new();
    while !l.ends_with(b"\r\n") {
        l.extend(r.read_n(1));
    }
    l.truncate(l.len() - 2);
    l
}

/// A connection switched to RESP3 (HELLO's map skipped).
fn resp3(s: &Server) -> Raw {
    let mut r = s.raw();
    r.send_cmd(&["HELLO", "3"]);
    r.send_cmd(&["ECHO", "mark"]);
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"$4\r\nmark\r\n") {
        r.stream().read_exact(&mut byte).unwrap();
        seen.push(byte[0]);
    }
    r
}

#[test]
fn default_mode_pushes_and_noloop() {
    let s = Server::embedded(&["--workers", "2"]);
    let mut c = resp3(&s);
    let mut w = s.raw();
    c.send_cmd(&["CLIENT", "TRACKING", "ON", "NOLOOP"]);
    c.expect(b"+OK\r\n");
    c.send_cmd(&["MGET", "a", "b", "c"]);
    c.expect(b"*3\r\n_\r\n_\r\n_\r\n");
    // INFO counts what the shards remember, as Redis's tracking table.
    assert_eq!(s.info_int("clients", "tracking_clients"), 1);
    assert_eq!(s.info_int("stats", "tracking_total_keys"), 3);
    assert_eq!(s.info_int("stats", "tracking_total_items"), 3);
    // Writes on other shards and other workers invalidate each key once.
    assert_eq!(
        w.call(&["MSET", "a", "1", "b", "2"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(w.call(&["SET", "a", "3"]), Reply::Simple("OK".into()));
    c.send_cmd(&["PING"]);
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(c.read_n(push(&["a"]).len()));
    }
    got.sort();
    assert_eq!(got, [push(&["a"]), push(&["b"])]);
    c.expect(b"+PONG\r\n");
    // NOLOOP: its own write tells it nothing, and forgets the key.
    c.send_cmd(&["SET", "c", "x"]);
    c.expect(b"+OK\r\n");
    assert_eq!(w.call(&["SET", "c", "y"]), Reply::Simple("OK".into()));
    c.send_cmd(&["PING"]);
    c.expect(b"+PONG\r\n");
    // A key that expires while nobody reads it is invalidated too.
    assert_eq!(
        w.call(&["SET", "t", "v", "PX", "30"]),
        Reply::Simple("OK".into())
    );
    c.send_cmd(&["GET", "t"]);
    c.expect(b"$1\r\nv\r\n");
    std::thread::sleep(Duration::from_millis(300));
    c.send_cmd(&["PING"]);
    c.expect(&push(&["t"]));
    c.expect(b"+PONG\r\n");
    c.send_cmd(&["CLIENT", "TRACKING", "OFF"]);
    c.expect(b"+OK\r\n");
    c.send_cmd(&["GET", "a"]);
    c.expect(b"$1\r\n3\r\n");
    assert_eq!(w.call(&["SET", "a", "4"]), Reply::Simple("OK".into()));
    c.send_cmd(&["PING"]);
    c.expect(b"+PONG\r\n");
}

#[test]
fn redirect_to_a_resp2_subscriber_and_flush() {
    let s = Server::embedded(&["--workers", "3"]);
    let mut sub = s.raw();
    let id = sub.call(&["CLIENT", "ID"]).int();
    sub.send_cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
    sub.read_reply();
    let mut c = s.raw();
    let mut w = s.raw();
    let id_text = id.to_string();
    assert_eq!(
        c.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id_text]),
        Reply::Simple("OK".into())
    );
    assert_eq!(c.call(&["CLIENT", "GETREDIR"]).int(), id);
    let info = c.call(&["CLIENT", "INFO"]).bulk_string();
    assert!(info.contains(" flags=t "), "{info}");
    assert!(info.contains(&format!(" redir={id} ")), "{info}");
    c.call(&["GET", "k"]);
    c.call(&["HGET", "h", "f"]);
    w.call(&["SET", "k", "v"]);
    sub.expect(&redirected(&["k"]));
    w.call(&["HSET", "h", "f", "v"]);
    sub.expect(&redirected(&["h"]));
    // FLUSHALL: a null invalidation for every tracking client.
    w.call(&["FLUSHALL"]);
    sub.expect(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n");
    // The flush forgot every remembered key.
    w.call(&["SET", "k", "again"]);
    sub.assert_silent(Duration::from_millis(100));
    assert_eq!(
        c.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", "987654"]),
        Reply::Error("ERR The client ID you want redirect to does not exist".into())
    );
}

#[test]
fn bcast_prefixes_span_every_shard_and_eviction() {
    let s = Server::embedded(&["--workers", "2"]);
    let mut c = resp3(&s);
    let mut w = s.raw();
    c.send_cmd(&[
        "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "cfg:",
    ]);
    c.expect(b"+OK\r\n");
    // Keys on every shard: each write reports its key.
    let keys: Vec<String> = (0..16).map(|i| format!("user:{i}")).collect();
    for k in &keys {
        w.call(&["SET", k, "v"]);
        c.send_cmd(&["PING"]);
        c.expect(&push(&[k]));
        c.expect(b"+PONG\r\n");
    }
    w.call(&["SET", "other", "v"]);
    c.send_cmd(&["PING"]);
    c.expect(b"+PONG\r\n");
    if std::env::var_os(common::AGAINST_REDIS).is_none() {
        // Evicted keys are invalidated (shardcache's max-keys: one per shard).
        w.call(&["FLUSHALL"]);
        c.send_cmd(&["PING"]);
        c.expect(b">2\r\n$10\r\ninvalidate\r\n_\r\n");
        c.expect(b"+PONG\r\n");
        w.call(&["CONFIG", "SET", "max-keys", "4"]);
        for i in 0..8 {
            w.call(&["SET", &format!("cfg:{i}"), "v"]);
        }
        let left = w.call(&["DBSIZE"]).int() as usize;
        assert!(left <= 4);
        // Each SET reports its key, each eviction the key it removed.
        let mut seen = 0;
        c.send_cmd(&["PING"]);
        loop {
            let head = line(&mut c);
            if head == b"+PONG" {
                break;
            }
            assert_eq!(head, b">2");
            assert_eq!(line(&mut c), b"$10");
            assert_eq!(line(&mut c), b"invalidate");
            let n: usize = String::from_utf8(line(&mut c)[1..].to_vec())
                .unwrap()
                .parse()
                .unwrap();
            for _ in 0..n {
                line(&mut c);
                line(&mut c);
            }
            seen += n;
        }
        // (A write and the eviction it caused share one push: BCAST's
        // keys are gathered per round.)
        assert_eq!(seen, 8 + (8 - left), "8 writes, {} evictions", 8 - left);
    }
    c.send_cmd(&["CLIENT", "TRACKING", "OFF"]);
    c.expect(b"+OK\r\n");
    w.call(&["SET", "user:1", "x"]);
    c.send_cmd(&["PING"]);
    c.expect(b"+PONG\r\n");
    // A BCAST client that goes away leaves nothing that breaks the others.
    let mut gone = resp3(&s);
    gone.send_cmd(&["CLIENT", "TRACKING", "ON", "BCAST"]);
    gone.expect(b"+OK\r\n");
    drop(gone);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(w.call(&["SET", "z", "1"]), Reply::Simple("OK".into()));
    assert_eq!(w.call(&["PING"]), Reply::Simple("PONG".into()));
}

/// A RESP3 client whose REDIRECT target goes away is told
/// (`tracking-redir-broken <id>`, as Redis pushes it) and shows it: flag
/// `R` in CLIENT LIST, `broken_redirect` in CLIENT TRACKINGINFO; its
/// invalidations go nowhere until it turns tracking on again.
#[test]
fn a_redirect_target_that_goes_away_is_reported() {
    let s = Server::embedded(&["--workers", "3"]);
    let mut target = s.raw();
    let id = target.call(&["CLIENT", "ID"]).int();
    let mut c = resp3(&s);
    let mut w = s.raw();
    c.send_cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id.to_string()]);
    c.expect(b"+OK\r\n");
    c.send_cmd(&["GET", "k"]);
    c.expect(b"_\r\n");
    target.send_cmd(&["QUIT"]);
    target.expect(b"+OK\r\n");
    // Redis notices at the next invalidation it cannot deliver.
    w.call(&["SET", "k", "v"]);
    let mut want = b">2\r\n$21\r\ntracking-redir-broken\r\n".to_vec();
    want.extend(format!(":{id}\r\n").into_bytes());
    c.expect(&want);
    // Back to RESP2 to read the rest (tracking stays on).
    c.send_cmd(&["HELLO", "2"]);
    c.read_reply();
    let info = c.call(&["CLIENT", "INFO"]).bulk_string();
    assert!(info.contains(" flags=tR "), "{info}");
    let flags = c.call(&["CLIENT", "TRACKINGINFO"]).array();
    assert_eq!(
        flags[1],
        Reply::Array(Some(
            ["on", "broken_redirect"]
                .iter()
                .map(|f| Reply::Bulk(Some(f.as_bytes().to_vec())))
                .collect()
        ))
    );
}

/// `tracking-table-max-keys`: CONFIG GET/SET as Redis; past the limit a
/// remembered key is invalidated to make room (Redis picks it at random,
/// shardcache the first it meets, so either key may go).
#[test]
fn the_tracking_table_is_bounded_by_its_setting() {
    let s = Server::embedded(&["--shards", "1"]);
    let mut admin = s.raw();
    assert_eq!(
        admin.call(&["CONFIG", "GET", "tracking-table-max-keys"]),
        Reply::Array(Some(vec![
            Reply::Bulk(Some(b"tracking-table-max-keys".to_vec())),
            Reply::Bulk(Some(b"1000000".to_vec())),
        ]))
    );
    assert!(matches!(
        admin.call(&["CONFIG", "SET", "tracking-table-max-keys", "-1"]),
        Reply::Error(_)
    ));
    assert_eq!(
        admin.call(&["CONFIG", "SET", "tracking-table-max-keys", "1"]),
        Reply::Simple("OK".into())
    );
    let mut c = resp3(&s);
    c.send_cmd(&["CLIENT", "TRACKING", "ON"]);
    c.expect(b"+OK\r\n");
    c.send_cmd(&["GET", "k1"]);
    c.expect(b"_\r\n");
    c.send_cmd(&["GET", "k2"]);
    // The push (one key) and GET's nil, in either order.
    std::thread::sleep(Duration::from_millis(300));
    let mut got = vec![0u8; 4096];
    c.stream()
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let n = c.stream().read(&mut got).unwrap();
    got.truncate(n);
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.contains(">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nk"),
        "{text}"
    );
    assert_eq!(
        admin.call(&["CONFIG", "SET", "tracking-table-max-keys", "1000000"]),
        Reply::Simple("OK".into())
    );
}
