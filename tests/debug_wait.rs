//! WAIT, LOLWUT and DEBUG through raw RESP connections.
//!
//! `SHARDCACHE_TEST_AGAINST_REDIS=1 cargo test --test debug_wait` runs the
//! same expectations against a real `redis-server` 7.0.15 (started with
//! `enable-debug-command yes`); every test here holds for both.

mod common;

use common::{cmd, exchange, Raw, Reply, Server};
use std::time::{Duration, Instant};

fn blocked_clients(s: &Server) -> i64 {
    s.info_int("clients", "blocked_clients")
}

fn client_id(r: &mut Raw) -> i64 {
    r.call(&["CLIENT", "ID"]).int()
}

#[test]
fn wait_without_replicas_answers_zero_at_once() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for (c, reply) in [
        (&["WAIT", "0", "0"][..], &b":0\r\n"[..]),
        (&["WAIT", "-5", "0"], b":0\r\n"),
        (&["WAIT", "0", "1000"], b":0\r\n"),
        (
            &["WAIT", "x", "0"],
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (
            &["WAIT", "1", "1.5"],
            b"-ERR timeout is not an integer or out of range\r\n",
        ),
        (&["WAIT", "1", "-1"], b"-ERR timeout is negative\r\n"),
        (&["WAIT", "0", "-1"], b"-ERR timeout is negative\r\n"),
        (
            &["WAIT", "0"],
            b"-ERR wrong number of arguments for 'wait' command\r\n",
        ),
    ] {
        exchange(&mut r, &cmd(c), reply);
    }
}

#[test]
fn wait_parks_only_its_connection_until_the_timeout() {
    let s = Server::start(&[]);
    let mut w = s.raw();
    let mut other = s.raw();
    let start = Instant::now();
    // A command pipelined behind WAIT runs only once WAIT has answered.
    let mut both = cmd(&["WAIT", "1", "400"]);
    both.extend_from_slice(&cmd(&["PING"]));
    w.send(&both);
    assert!(common::wait_until(
        Duration::from_secs(2),
        || blocked_clients(&s) == 1
    ));
    // The server goes on serving everyone else meanwhile.
    exchange(&mut other, &cmd(&["PING"]), b"+PONG\r\n");
    w.assert_silent(Duration::from_millis(100));
    w.expect(b":0\r\n+PONG\r\n");
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(380), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(blocked_clients(&s), 0);
}

#[test]
fn client_unblock_ends_a_wait() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    for (reason, reply) in [
        (None, &b":0\r\n"[..]),
        (Some("TIMEOUT"), b":0\r\n"),
        (
            Some("ERROR"),
            b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n",
        ),
    ] {
        let mut w = s.raw();
        let id = client_id(&mut w).to_string();
        w.send_cmd(&["WAIT", "1", "0"]);
        assert!(common::wait_until(Duration::from_secs(2), || {
            blocked_clients(&s) == 1
        }));
        w.assert_silent(Duration::from_millis(50));
        let mut c = vec!["CLIENT", "UNBLOCK", id.as_str()];
        c.extend(reason);
        exchange(&mut admin, &cmd(&c), b":1\r\n");
        w.expect(reply);
        exchange(&mut w, &cmd(&["PING"]), b"+PONG\r\n");
        assert_eq!(blocked_clients(&s), 0);
        // Not blocked any more: nothing to unblock.
        exchange(&mut admin, &cmd(&c), b":0\r\n");
    }
}

#[test]
fn wait_in_multi_does_not_block_and_scripts_refuse_it() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["MULTI"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["WAIT", "2", "0"]), b"+QUEUED\r\n");
    exchange(&mut r, &cmd(&["EXEC"]), b"*1\r\n:0\r\n");
    exchange(
        &mut r,
        &cmd(&["EVAL", "return redis.pcall('wait', 0, 0)", "0"]),
        b"-ERR This Redis command is not allowed from script\r\n",
    );
}

#[test]
fn a_closed_waiting_connection_is_no_longer_blocked() {
    let s = Server::start(&[]);
    let mut w = s.raw();
    w.send_cmd(&["WAIT", "1", "0"]);
    assert!(common::wait_until(
        Duration::from_secs(2),
        || blocked_clients(&s) == 1
    ));
    drop(w);
    assert!(common::wait_until(
        Duration::from_secs(2),
        || blocked_clients(&s) == 0
    ));
}

#[test]
fn debug_digest_is_redis_digest() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let zero = "0".repeat(40);
    assert_eq!(r.call(&["DEBUG", "DIGEST"]), Reply::Simple(zero.clone()));
    exchange(&mut r, &cmd(&["SET", "s", "hello"]), b"+OK\r\n");
    // Values computed by redis-server 7.0.15.
    assert_eq!(
        r.call(&["DEBUG", "DIGEST"]),
        Reply::Simple("a500c6b54937da22f2ac1167da1da852479c7339".into())
    );
    assert_eq!(
        r.call(&["DEBUG", "DIGEST-VALUE", "s", "nokey"]),
        Reply::Array(Some(vec![
            Reply::Simple("36b23a1456b2dce2c3ed252c456761301dba8060".into()),
            Reply::Simple(zero.clone()),
        ]))
    );
    exchange(&mut r, &cmd(&["SELECT", "1"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["SET", "s", "hello"]), b"+OK\r\n");
    assert_eq!(
        r.call(&["DEBUG", "DIGEST"]),
        Reply::Simple("931225814d2545294413ea725d0ce1b82d5e4c09".into())
    );
    exchange(&mut r, &cmd(&["FLUSHALL"]), b"+OK\r\n");
    assert_eq!(r.call(&["DEBUG", "DIGEST"]), Reply::Simple(zero));
}

#[test]
fn equal_datasets_have_equal_digests_whatever_their_history() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let fill = |r: &mut Raw, rev: bool| {
        let mut ids: Vec<u32> = (0..200).collect();
        if rev {
            ids.reverse();
        }
        for i in ids {
            let (k, v) = (format!("k{i}"), format!("v{i}"));
            exchange(r, &cmd(&["SET", &k, &v]), b"+OK\r\n");
            r.call(&["SADD", "set", &v]);
            r.call(&["HSET", "hash", &k, &v]);
            r.call(&["ZADD", "zset", &i.to_string(), &v]);
        }
    };
    fill(&mut r, false);
    let first = r.call(&["DEBUG", "DIGEST"]);
    let values = r.call(&["DEBUG", "DIGEST-VALUE", "set", "hash", "zset", "k7"]);
    exchange(&mut r, &cmd(&["FLUSHALL"]), b"+OK\r\n");
    fill(&mut r, true);
    assert_eq!(r.call(&["DEBUG", "DIGEST"]), first);
    assert_eq!(
        r.call(&["DEBUG", "DIGEST-VALUE", "set", "hash", "zset", "k7"]),
        values
    );
    // A TTL is part of the digest.
    r.call(&["EXPIRE", "k7", "100"]);
    assert_ne!(r.call(&["DEBUG", "DIGEST"]), first);
    r.call(&["PERSIST", "k7"]);
    assert_eq!(r.call(&["DEBUG", "DIGEST"]), first);
}

#[test]
fn debug_protocol_in_resp2_and_resp3() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let cases: &[(&str, &[u8], &[u8])] = &[
        ("string", b"$11\r\nHello World\r\n", b"$11\r\nHello World\r\n"),
        ("integer", b":12345\r\n", b":12345\r\n"),
        ("double", b"$5\r\n3.141\r\n", b",3.141\r\n"),
        (
            "bignum",
            b"$37\r\n1234567999999999999999999999999999999\r\n",
            b"(1234567999999999999999999999999999999\r\n",
        ),
        ("null", b"$-1\r\n", b"_\r\n"),
        ("array", b"*3\r\n:0\r\n:1\r\n:2\r\n", b"*3\r\n:0\r\n:1\r\n:2\r\n"),
        ("set", b"*3\r\n:0\r\n:1\r\n:2\r\n", b"~3\r\n:0\r\n:1\r\n:2\r\n"),
        (
            "map",
            b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n",
            b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n",
        ),
        (
            "attrib",
            b"$39\r\nSome real reply following the attribute\r\n",
            b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39\r\nSome real reply following the attribute\r\n",
        ),
        (
            "push",
            b"-ERR RESP2 is not supported by this command\r\n",
            b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n$40\r\nSome real reply following the push reply\r\n",
        ),
        (
            "verbatim",
            b"$25\r\nThis is a verbatim\nstring\r\n",
            b"=29\r\ntxt:This is a verbatim\nstring\r\n",
        ),
        ("true", b":1\r\n", b"#t\r\n"),
        ("false", b":0\r\n", b"#f\r\n"),
    ];
    for (t, two, _) in cases {
        exchange(&mut r, &cmd(&["DEBUG", "PROTOCOL", t]), two);
    }
    let mut r3 = s.raw();
    // HELLO 3's map differs between servers: read up to the PING behind it.
    let mut hello = cmd(&["HELLO", "3"]);
    hello.extend_from_slice(&cmd(&["PING"]));
    r3.send(&hello);
    let mut got = Vec::new();
    while !got.ends_with(b"+PONG\r\n") {
        got.extend_from_slice(&r3.read_n(1));
    }
    assert!(got.starts_with(b"%7\r\n"), "HELLO 3 answers a map");
    for (t, _, three) in cases {
        exchange(&mut r3, &cmd(&["DEBUG", "PROTOCOL", t]), three);
    }
}

#[test]
fn set_active_expire_stops_and_resumes_background_expiry() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]),
        b"+OK\r\n",
    );
    for k in ["a", "b", "c"] {
        exchange(&mut r, &cmd(&["SET", k, "1", "PX", "10"]), b"+OK\r\n");
    }
    std::thread::sleep(Duration::from_millis(300));
    // Expired but never looked up: still counted.
    exchange(&mut r, &cmd(&["DBSIZE"]), b":3\r\n");
    exchange(
        &mut r,
        &cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]),
        b"+OK\r\n",
    );
    assert!(common::wait_until(Duration::from_secs(3), || {
        r.call(&["DBSIZE"]) == Reply::Int(0)
    }));
}

#[test]
fn debug_object_describes_the_value() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["DEBUG", "OBJECT", "nokey"]),
        b"-ERR no such key\r\n",
    );
    exchange(&mut r, &cmd(&["SET", "s", "hello"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["RPUSH", "l", "a", "b", "c"]), b":3\r\n");
    let Reply::Simple(line) = r.call(&["DEBUG", "OBJECT", "s"]) else {
        panic!("a status line");
    };
    assert!(line.starts_with("Value at:0x"), "{line}");
    assert!(
        line.contains(" refcount:1 encoding:embstr serializedlength:6 lru:"),
        "{line}"
    );
    assert!(line.contains(" lru_seconds_idle:"), "{line}");
    let Reply::Simple(line) = r.call(&["DEBUG", "OBJECT", "l"]) else {
        panic!("a status line");
    };
    assert!(
        line.contains(" encoding:quicklist serializedlength:19 "),
        "{line}"
    );
    assert!(
        line.ends_with(
            " ql_nodes:1 ql_avg_node:3.00 ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:16"
        ),
        "{line}"
    );
}

#[test]
fn debug_sleep_waits_and_simple_subcommands_answer_ok() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let start = Instant::now();
    exchange(&mut r, &cmd(&["DEBUG", "SLEEP", "0.2"]), b"+OK\r\n");
    assert!(start.elapsed() >= Duration::from_millis(190));
    for c in [
        &["DEBUG", "SLEEP", "0"][..],
        &["DEBUG", "LOG", "from the debug_wait test"],
        &["DEBUG", "CHANGE-REPL-ID"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1k"],
        &["DEBUG", "RELOAD"],
    ] {
        exchange(&mut r, &cmd(c), b"+OK\r\n");
    }
    if !common::against_redis() {
        // Redis's own fuzz run takes seconds; ours is quick.
        exchange(
            &mut r,
            &cmd(&["DEBUG", "STRINGMATCH-TEST"]),
            b"+Apparently Redis did not crash: test passed\r\n",
        );
    }
    exchange(
        &mut r,
        &cmd(&["DEBUG", "nosuch"]),
        b"-ERR unknown subcommand or wrong number of arguments for 'nosuch'. Try DEBUG HELP.\r\n",
    );
    let Reply::Array(Some(help)) = r.call(&["DEBUG", "HELP"]) else {
        panic!("an array");
    };
    assert_eq!(help.len(), 106);
    assert_eq!(
        help[0],
        Reply::Simple("DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".into())
    );
}

#[test]
fn lolwut_prints_the_version_line() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for c in [
        &["LOLWUT"][..],
        &["LOLWUT", "VERSION", "7"],
        &["LOLWUT", "x"],
    ] {
        exchange(&mut r, &cmd(c), b"$18\r\nRedis ver. 7.0.15\n\r\n");
    }
    exchange(
        &mut r,
        &cmd(&["LOLWUT", "VERSION", "x"]),
        b"-ERR value is not an integer or out of range\r\n",
    );
}

#[test]
fn debug_populate_adds_the_keys_that_are_missing() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["SET", "key:7", "mine"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["DEBUG", "POPULATE", "1000"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["DBSIZE"]), b":1000\r\n");
    exchange(&mut r, &cmd(&["GET", "key:7"]), b"$4\r\nmine\r\n");
    exchange(&mut r, &cmd(&["GET", "key:999"]), b"$9\r\nvalue:999\r\n");
    exchange(
        &mut r,
        &cmd(&["DEBUG", "POPULATE", "2", "p", "10"]),
        b"+OK\r\n",
    );
    exchange(&mut r, &cmd(&["GET", "p:1"]), b"$10\r\nvalue:1\0\0\0\r\n");
    exchange(
        &mut r,
        &cmd(&["DEBUG", "POPULATE", "-1"]),
        b"-ERR value is out of range, must be positive\r\n",
    );
}
