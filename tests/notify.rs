//! Keyspace notifications: `notify-keyspace-events` read and written as
//! Redis 7.0.15 does (CONFIG GET/SET, its error, the start flag), and the
//! events of each class delivered with Redis's names, channels and order
//! to subscribers on other workers, in RESP2 and RESP3, expiry and
//! eviction included.
//!
//! The expected events are Redis 7.0.15's (`SHARDCACHE_TEST_AGAINST_REDIS=1`
//! runs these tests against a real `redis-server`).

mod common;

use common::{Raw, Reply, Server};
use std::time::{Duration, Instant};

/// `*4 pmessage pattern channel msg` (or `>4` in RESP3).
fn pmessage(head: u8, pattern: &str, channel: &str, msg: &str) -> Vec<u8> {
    let mut v = vec![head, b'4', b'\r', b'\n'];
    for part in ["pmessage", pattern, channel, msg] {
        v.extend(common::bulk(part.as_bytes()));
    }
    v
}

/// Subscribes to every keyspace and keyevent channel of every database.
fn subscribe_all(r: &mut Raw) {
    r.send_cmd(&["PSUBSCRIBE", "__key*__:*"]);
    r.read_reply();
}

/// The events a sequence makes, as (keyspace channel key, event) pairs:
/// each one is two messages, the keyspace one then the keyevent one.
fn expect_events(r: &mut Raw, db: u32, events: &[(&str, &str)]) {
    for &(key, event) in events {
        r.expect(&pmessage(
            b'*',
            "__key*__:*",
            &format!("__keyspace@{db}__:{key}"),
            event,
        ));
        r.expect(&pmessage(
            b'*',
            "__key*__:*",
            &format!("__keyevent@{db}__:{event}"),
            key,
        ));
    }
}

fn ok(r: &mut Raw, args: &[&str]) {
    let reply = r.call(args);
    assert!(
        !matches!(reply, Reply::Error(_)),
        "{args:?} answered {reply:?}"
    );
}

#[test]
fn config_reads_back_as_redis_prints_it() {
    let s = Server::embedded(&[]);
    let mut c = s.raw();
    let get = |c: &mut Raw| c.call(&["CONFIG", "GET", "notify-keyspace-events"]);
    let pair = |v: &str| {
        Reply::Array(Some(vec![
            Reply::Bulk(Some(b"notify-keyspace-events".to_vec())),
            Reply::Bulk(Some(v.as_bytes().to_vec())),
        ]))
    };
    assert_eq!(get(&mut c), pair(""));
    for (set, shown) in [
        ("KEA", "AKE"),
        ("Ex$", "$xE"),
        ("gl$shzxetdKEmn", "AKEm"),
        ("nK", "nK"),
        ("Km", "Km"),
        ("", ""),
    ] {
        assert_eq!(
            c.call(&["CONFIG", "SET", "notify-keyspace-events", set]),
            Reply::Simple("OK".into())
        );
        assert_eq!(get(&mut c), pair(shown), "after {set:?}");
    }
    c.call(&["CONFIG", "SET", "notify-keyspace-events", "Kl"]);
    assert_eq!(
        c.call(&["CONFIG", "SET", "notify-keyspace-events", "KEw"]),
        Reply::Error(
            "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - \
             Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
                .into()
        )
    );
    assert_eq!(get(&mut c), pair("lK"), "a refused value changes nothing");

    // The start flag (and a config file's line) take the same syntax.
    let s = Server::embedded(&["--notify-keyspace-events", "KEA"]);
    let mut c = s.raw();
    assert_eq!(get(&mut c), pair("AKE"));
    assert!(
        shardcache::config::from_argv(&["shardcache", "--notify-keyspace-events", "Kw"]).is_err()
    );
}

/// Every class, with subscribers on each of three workers, in the order
/// Redis 7.0.15 makes the events (recorded from it).
#[test]
fn each_class_reaches_subscribers_on_every_worker() {
    let s = Server::embedded(&["--workers", "3", "--notify-keyspace-events", "KEA"]);
    // Connections are spread over the workers as they are accepted.
    let mut subs: Vec<Raw> = (0..3).map(|_| s.raw()).collect();
    for r in subs.iter_mut() {
        subscribe_all(r);
    }
    let mut w = s.raw();
    let script: &[&[&str]] = &[
        &["SET", "s", "1", "EX", "100"],
        &["INCRBY", "s", "2"],
        &["INCRBYFLOAT", "s", "1.5"],
        &["APPEND", "s", "x"],
        &["SETRANGE", "s", "0", "y"],
        &["PERSIST", "s"],
        &["GETDEL", "s"],
        &["LPUSH", "l", "a", "b"],
        &["RPUSH", "l", "c"],
        &["LSET", "l", "0", "z"],
        &["LINSERT", "l", "BEFORE", "z", "w"],
        &["LREM", "l", "1", "w"],
        &["LTRIM", "l", "0", "-1"],
        &["LPOP", "l"],
        &["RPOP", "l", "5"],
        &["HSET", "h", "f", "1"],
        &["HINCRBY", "h", "f", "1"],
        &["HINCRBYFLOAT", "h", "f", "1"],
        &["HDEL", "h", "f"],
        &["SADD", "st", "a", "b"],
        &["SREM", "st", "a"],
        &["SPOP", "st"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZINCRBY", "z", "1", "a"],
        &["ZREM", "z", "a"],
        &["ZREMRANGEBYSCORE", "z", "0", "2"],
        &["ZPOPMAX", "z"],
        &["SET", "g", "v"],
        &["EXPIRE", "g", "100"],
        &["DEL", "g"],
    ];
    for cmd in script {
        ok(&mut w, cmd);
    }
    let events: &[(&str, &str)] = &[
        ("s", "set"),
        ("s", "expire"),
        ("s", "incrby"),
        ("s", "incrbyfloat"),
        ("s", "append"),
        ("s", "setrange"),
        ("s", "persist"),
        ("s", "del"),
        ("l", "lpush"),
        ("l", "rpush"),
        ("l", "lset"),
        ("l", "linsert"),
        ("l", "lrem"),
        ("l", "ltrim"),
        ("l", "lpop"),
        ("l", "rpop"),
        ("l", "del"),
        ("h", "hset"),
        ("h", "hincrby"),
        ("h", "hincrbyfloat"),
        ("h", "hdel"),
        ("h", "del"),
        ("st", "sadd"),
        ("st", "srem"),
        ("st", "spop"),
        ("st", "del"),
        ("z", "zadd"),
        ("z", "zincr"),
        ("z", "zrem"),
        ("z", "zremrangebyscore"),
        ("z", "zpopmax"),
        ("z", "del"),
        ("g", "set"),
        ("g", "expire"),
        ("g", "del"),
    ];
    for r in subs.iter_mut() {
        expect_events(r, 0, events);
    }
    // Another database, and only some classes.
    ok(&mut w, &["CONFIG", "SET", "notify-keyspace-events", "Kl"]);
    ok(&mut w, &["SELECT", "5"]);
    ok(&mut w, &["SET", "ignored", "v"]);
    ok(&mut w, &["RPUSH", "l5", "x"]);
    for r in subs.iter_mut() {
        r.expect(&pmessage(b'*', "__key*__:*", "__keyspace@5__:l5", "rpush"));
        r.assert_silent(Duration::from_millis(100));
    }
    // Classes without K or E publish nothing, as in Redis.
    ok(&mut w, &["CONFIG", "SET", "notify-keyspace-events", "A"]);
    ok(&mut w, &["RPUSH", "l5", "y"]);
    for r in subs.iter_mut() {
        r.assert_silent(Duration::from_millis(100));
    }
}

/// `new` (n) comes before the command's own event; `keymiss` (m) for read
/// look-ups that find nothing; `copy_to`, `move_from`/`move_to`, and a
/// STORE over an existing key (no `new`: Redis overwrites it in place).
#[test]
fn new_keymiss_and_generic_moves() {
    let s = Server::embedded(&["--notify-keyspace-events", "KEAnm"]);
    let mut sub = s.raw();
    subscribe_all(&mut sub);
    let mut w = s.raw();
    for cmd in [
        &["SET", "{a}x", "1"][..],
        &["SET", "{a}x", "2"],
        &["GET", "{a}nokey"],
        &["COPY", "{a}x", "{a}y"],
        &["MOVE", "{a}y", "1"],
        &["SADD", "{a}s1", "m"],
        &["SUNIONSTORE", "{a}s1", "{a}s1", "{a}nokey"],
    ] {
        ok(&mut w, cmd);
    }
    expect_events(
        &mut sub,
        0,
        &[
            ("{a}x", "new"),
            ("{a}x", "set"),
            ("{a}x", "set"),
            ("{a}nokey", "keymiss"),
            ("{a}y", "new"),
            ("{a}y", "copy_to"),
        ],
    );
    expect_events(&mut sub, 1, &[("{a}y", "new")]);
    expect_events(&mut sub, 0, &[("{a}y", "move_from")]);
    expect_events(&mut sub, 1, &[("{a}y", "move_to")]);
    expect_events(
        &mut sub,
        0,
        &[
            ("{a}s1", "new"),
            ("{a}s1", "sadd"),
            ("{a}nokey", "keymiss"),
            ("{a}s1", "sunionstore"),
        ],
    );
}

/// Keys removed by active expiry and by eviction are reported from the
/// shard threads, outside any command.
#[test]
fn expired_and_evicted_are_published() {
    let s = Server::embedded(&["--notify-keyspace-events", "Exe", "--hz", "100"]);
    let mut sub = s.raw();
    sub.send_cmd(&[
        "SUBSCRIBE",
        "__keyevent@0__:expired",
        "__keyevent@0__:evicted",
    ]);
    sub.read_reply();
    sub.read_reply();
    let mut w = s.raw();
    ok(&mut w, &["SET", "short", "v", "PX", "30"]);
    // Nobody reads it: the shard's active expiry finds it.
    sub.expect(&message("__keyevent@0__:expired", "short"));
    if std::env::var_os(common::AGAINST_REDIS).is_some() {
        // `max-keys` is shardcache's own limit.
        return;
    }
    // One key per shard: every new key evicts its shard's other one.
    ok(&mut w, &["CONFIG", "SET", "max-keys", "4"]);
    let keys: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    for k in &keys {
        ok(&mut w, &["SET", k, "v"]);
    }
    let dbsize = w.call(&["DBSIZE"]).int() as usize;
    let mut evicted = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while evicted.len() < keys.len() - dbsize && Instant::now() < deadline {
        let m = sub.read_reply().array();
        assert_eq!(m[1], Reply::Bulk(Some(b"__keyevent@0__:evicted".to_vec())));
        evicted.push(m[2].clone().bulk_string());
    }
    assert_eq!(evicted.len(), keys.len() - dbsize);
    for k in &evicted {
        assert!(keys.contains(k), "{k}");
        assert_eq!(w.call(&["EXISTS", k]).int(), 0, "{k} was evicted");
    }
}

fn message(channel: &str, msg: &str) -> Vec<u8> {
    let mut v = b"*3\r\n".to_vec();
    for part in ["message", channel, msg] {
        v.extend(common::bulk(part.as_bytes()));
    }
    v
}

/// A RESP3 subscriber gets pushes; the events of a blocked pop and of a
/// transaction are those of the commands they became.
#[test]
fn resp3_pushes_blocked_pops_and_transactions() {
    let s = Server::embedded(&["--workers", "2", "--notify-keyspace-events", "Elg"]);
    let mut sub = s.raw();
    sub.send_cmd(&["HELLO", "3"]);
    sub.send_cmd(&["ECHO", "mark"]);
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"$4\r\nmark\r\n") {
        use std::io::Read;
        sub.stream().read_exact(&mut byte).unwrap();
        seen.push(byte[0]);
    }
    sub.send_cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    sub.expect(b">3\r\n$10\r\npsubscribe\r\n$16\r\n__keyevent@0__:*\r\n:1\r\n");
    let mut blocked = s.raw();
    blocked.send_cmd(&["BLPOP", "q", "5"]);
    std::thread::sleep(Duration::from_millis(100));
    let mut w = s.raw();
    ok(&mut w, &["RPUSH", "q", "job"]);
    assert_eq!(
        blocked.read_reply(),
        Reply::Array(Some(vec![
            Reply::Bulk(Some(b"q".to_vec())),
            Reply::Bulk(Some(b"job".to_vec())),
        ]))
    );
    let pat = "__keyevent@0__:*";
    sub.expect(&pmessage(b'>', pat, "__keyevent@0__:rpush", "q"));
    sub.expect(&pmessage(b'>', pat, "__keyevent@0__:lpop", "q"));
    sub.expect(&pmessage(b'>', pat, "__keyevent@0__:del", "q"));
    // Two keys of one shard: LMOVE then runs as one op, and reports the
    // push before the pop, as Redis does.
    let (a, b) = same_shard();
    for cmd in [
        &["MULTI"][..],
        &["RPUSH", &a, "1"],
        &["LMOVE", &a, &b, "LEFT", "RIGHT"],
        &["EXEC"],
    ] {
        w.send_cmd(cmd);
    }
    for _ in 0..4 {
        w.read_reply();
    }
    sub.expect(&pmessage(b'>', pat, "__keyevent@0__:rpush", &a));
    sub.expect(&pmessage(b'>', pat, "__keyevent@0__:rpush", &b));
    sub.expect(&pmessage(b'>', pat, "__keyevent@0__:lpop", &a));
    sub.expect(&pmessage(b'>', pat, "__keyevent@0__:del", &a));
}

/// Two keys the embedded server (4 shards) keeps on one shard.
fn same_shard() -> (String, String) {
    let router = shards::route::Router::new(4);
    let first = "t0".to_string();
    let b = (1..)
        .map(|i| format!("t{i}"))
        .find(|k| router.shard_of(k.as_bytes()) == router.shard_of(first.as_bytes()))
        .expect("some key shares the shard");
    (first, b)
}

/// The config file's line is read at start, and CONFIG REWRITE writes the
/// value back as Redis prints it.
#[test]
fn config_file_and_rewrite() {
    if std::env::var_os(common::AGAINST_REDIS).is_some() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("shardcache-notify-conf-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("shardcache.conf");
    std::fs::write(&file, "appendonly no\nnotify-keyspace-events Kx\n").unwrap();
    let s = Server::start(&["--config", file.to_str().unwrap()]);
    let mut r = s.raw();
    assert_eq!(
        r.call(&["CONFIG", "GET", "notify-keyspace-events"]).array()[1],
        Reply::Bulk(Some(b"xK".to_vec()))
    );
    ok(&mut r, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    ok(&mut r, &["CONFIG", "REWRITE"]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("appendonly no\nnotify-keyspace-events AKE\n"),
        "{text}"
    );
    drop(s);
    let s = Server::start(&["--config", file.to_str().unwrap()]);
    let mut r = s.raw();
    assert_eq!(
        r.call(&["CONFIG", "GET", "notify-keyspace-events"]).array()[1],
        Reply::Bulk(Some(b"AKE".to_vec()))
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
