//! Blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
//! BZPOPMAX, BZMPOP) through raw RESP against a server with several
//! workers and shards: the immediate forms, timeouts, wake-ups in Redis's
//! order, a client blocked on two shards served exactly once, MULTI,
//! CLIENT UNBLOCK, disconnects, many blocked clients beside other traffic,
//! and the pops a restart replays.

mod common;

use common::proc::{tempdir, Proc};
use common::{Raw, Reply, Server};
use shards::route::Router;
use std::time::{Duration, Instant};

/// Two keys on different shards of the embedded server (4 shards), then
/// a third on the first one's shard.
fn spread(prefix: &str) -> (String, String, String) {
    let r = Router::new(4);
    let a = format!("{prefix}a");
    let sa = r.shard_of(a.as_bytes());
    let mut other = None;
    let mut same = None;
    for i in 0..1000 {
        let k = format!("{prefix}{i}");
        let s = r.shard_of(k.as_bytes());
        if s != sa && other.is_none() {
            other = Some(k);
        } else if s == sa && same.is_none() && k != a {
            same = Some(k);
        }
    }
    (a, other.unwrap(), same.unwrap())
}

fn blocked_clients(c: &mut Raw) -> i64 {
    let info = c.call(&["INFO", "clients"]).bulk_string();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap()
}

/// Waits until `n` clients are blocked (a command sent is not yet a wait).
fn wait_blocked(c: &mut Raw, n: i64) {
    let start = Instant::now();
    while blocked_clients(c) != n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never saw {n} blocked clients"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Some(s.as_bytes().to_vec()))
}

fn arr(v: Vec<Reply>) -> Reply {
    Reply::Array(Some(v))
}

#[test]
fn ready_keys_answer_as_the_non_blocking_forms() {
    let s = Server::embedded(&[]);
    let mut c = s.raw();
    let (k1, k2, k3) = spread("im");
    c.call(&["RPUSH", &k2, "a", "b", "c"]);
    c.send_cmd(&["BLPOP", &k1, &k2, "0"]);
    c.expect(format!("*2\r\n${}\r\n{}\r\n$1\r\na\r\n", k2.len(), k2).as_bytes());
    c.send_cmd(&["BRPOP", &k1, &k2, &k3, "0"]);
    c.expect(format!("*2\r\n${}\r\n{}\r\n$1\r\nc\r\n", k2.len(), k2).as_bytes());
    assert_eq!(
        c.call(&["BLMPOP", "0", "2", &k3, &k2, "LEFT", "COUNT", "5"]),
        arr(vec![bulk(&k2), arr(vec![bulk("b")])])
    );
    c.call(&["ZADD", &k3, "1", "x", "2", "y", "3", "z"]);
    assert_eq!(
        c.call(&["BZPOPMIN", &k1, &k3, "0"]),
        arr(vec![bulk(&k3), bulk("x"), bulk("1")])
    );
    assert_eq!(
        c.call(&["BZPOPMAX", &k1, &k3, "0"]),
        arr(vec![bulk(&k3), bulk("z"), bulk("3")])
    );
    assert_eq!(
        c.call(&["BZMPOP", "0", "2", &k1, &k3, "MIN", "COUNT", "9"]),
        arr(vec![bulk(&k3), arr(vec![arr(vec![bulk("y"), bulk("2")])])])
    );
    // BLMOVE / BRPOPLPUSH on one shard and across shards.
    c.call(&["RPUSH", &k1, "1", "2", "3"]);
    assert_eq!(
        c.call(&["BLMOVE", &k1, &k3, "LEFT", "RIGHT", "0"]),
        bulk("1")
    );
    assert_eq!(
        c.call(&["BLMOVE", &k1, &k2, "LEFT", "LEFT", "0"]),
        bulk("2")
    );
    assert_eq!(c.call(&["BRPOPLPUSH", &k1, &k2, "0"]), bulk("3"));
    assert_eq!(
        c.call(&["LRANGE", &k2, "0", "-1"]),
        arr(vec![bulk("3"), bulk("2")])
    );
    assert_eq!(c.call(&["LRANGE", &k3, "0", "-1"]), arr(vec![bulk("1")]));
    // WRONGTYPE at call time: the first key that exists decides.
    c.call(&["SET", &k1, "str"]);
    let wrong =
        Reply::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into());
    assert_eq!(c.call(&["BLPOP", "nokey", &k1, &k2, "0"]), wrong);
    assert_eq!(c.call(&["BZPOPMIN", &k2, "0"]), wrong);
    assert_eq!(c.call(&["BLMOVE", &k1, &k2, "LEFT", "LEFT", "0"]), wrong);
    assert_eq!(c.call(&["BLMOVE", &k2, &k1, "LEFT", "LEFT", "0"]), wrong);
}

#[test]
fn timeouts_answer_nil_after_the_wait() {
    let s = Server::embedded(&[]);
    let mut c = s.raw();
    for (args, nil) in [
        (vec!["BLPOP", "t1", "t2", "0.15"], &b"*-1\r\n"[..]),
        (vec!["BRPOP", "t1", "0.15"], b"*-1\r\n"),
        (vec!["BZPOPMIN", "t1", "0.15"], b"*-1\r\n"),
        (vec!["BZPOPMAX", "t1", "t2", "0.15"], b"*-1\r\n"),
        (vec!["BLMPOP", "0.15", "2", "t1", "t2", "RIGHT"], b"*-1\r\n"),
        (vec!["BZMPOP", "0.15", "1", "t1", "MAX"], b"*-1\r\n"),
        (
            vec!["BLMOVE", "t1", "t2", "LEFT", "LEFT", "0.15"],
            b"*-1\r\n",
        ),
        (vec!["BRPOPLPUSH", "t1", "t2", "0.15"], b"*-1\r\n"),
    ] {
        let start = Instant::now();
        c.send_cmd(&args);
        c.expect(nil);
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(140) && took < Duration::from_secs(3),
            "{args:?} took {took:?}"
        );
    }
    // Commands pipelined behind a blocked one wait for it.
    c.send(&[common::cmd(&["BLPOP", "t1", "0.1"]), common::cmd(&["PING"])].concat());
    c.expect(b"*-1\r\n+PONG\r\n");
    let mut other = s.raw();
    assert_eq!(blocked_clients(&mut other), 0);
}

#[test]
fn zero_waits_until_a_push_and_fifo_order_holds() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    let mut waiters: Vec<Raw> = Vec::new();
    for i in 0..3 {
        let mut w = s.raw();
        w.send_cmd(&["BLPOP", "fifo", "0"]);
        wait_blocked(&mut admin, i + 1);
        waiters.push(w);
    }
    waiters[0].assert_silent(Duration::from_millis(300));
    // One element: the first blocked gets it; the others keep waiting.
    admin.call(&["RPUSH", "fifo", "one"]);
    assert_eq!(
        waiters[0].read_reply(),
        arr(vec![bulk("fifo"), bulk("one")])
    );
    wait_blocked(&mut admin, 2);
    // Several elements serve several waiters, in Redis's order: LPUSH
    // a b leaves [b, a]; the earlier waiter pops b.
    admin.call(&["LPUSH", "fifo", "a", "b"]);
    assert_eq!(waiters[1].read_reply(), arr(vec![bulk("fifo"), bulk("b")]));
    assert_eq!(waiters[2].read_reply(), arr(vec![bulk("fifo"), bulk("a")]));
    assert_eq!(admin.call(&["EXISTS", "fifo"]), Reply::Int(0));
    wait_blocked(&mut admin, 0);
}

#[test]
fn woken_forms_of_every_command() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    let (k1, k2, k3) = spread("wk");
    let cases: Vec<(Vec<String>, Vec<Vec<String>>, Reply)> = vec![
        (
            vec!["BRPOP".into(), k1.clone(), k2.clone(), "0".into()],
            vec![vec!["RPUSH".into(), k2.clone(), "x".into(), "y".into()]],
            arr(vec![bulk(&k2), bulk("y")]),
        ),
        (
            vec![
                "BLMPOP".into(),
                "0".into(),
                "2".into(),
                k1.clone(),
                k3.clone(),
                "LEFT".into(),
                "COUNT".into(),
                "5".into(),
            ],
            vec![vec!["RPUSH".into(), k1.clone(), "p".into(), "q".into()]],
            arr(vec![bulk(&k1), arr(vec![bulk("p"), bulk("q")])]),
        ),
        (
            vec!["BZPOPMAX".into(), k3.clone(), k1.clone(), "0".into()],
            vec![vec!["ZADD".into(), k3.clone(), "2".into(), "n".into()]],
            arr(vec![bulk(&k3), bulk("n"), bulk("2")]),
        ),
        (
            vec![
                "BZMPOP".into(),
                "0".into(),
                "1".into(),
                k3.clone(),
                "MIN".into(),
                "COUNT".into(),
                "3".into(),
            ],
            vec![vec![
                "ZADD".into(),
                k3.clone(),
                "7".into(),
                "z".into(),
                "1.5".into(),
                "m".into(),
            ]],
            arr(vec![
                bulk(&k3),
                arr(vec![
                    arr(vec![bulk("m"), bulk("1.5")]),
                    arr(vec![bulk("z"), bulk("7")]),
                ]),
            ]),
        ),
        (
            // Destination on the source's shard.
            vec![
                "BLMOVE".into(),
                k1.clone(),
                k3.clone(),
                "RIGHT".into(),
                "LEFT".into(),
                "0".into(),
            ],
            vec![vec!["RPUSH".into(), k1.clone(), "mv".into()]],
            bulk("mv"),
        ),
        (
            // Destination on another shard.
            vec!["BRPOPLPUSH".into(), k1.clone(), k2.clone(), "0".into()],
            vec![vec!["RPUSH".into(), k1.clone(), "r1".into(), "r2".into()]],
            bulk("r2"),
        ),
    ];
    for (cmd, pushes, expect) in cases {
        let mut w = s.raw();
        w.send_cmd(&cmd);
        wait_blocked(&mut admin, 1);
        for p in pushes {
            admin.call(&p);
        }
        assert_eq!(w.read_reply(), expect, "{cmd:?}");
        wait_blocked(&mut admin, 0);
    }
    assert_eq!(
        admin.call(&["LRANGE", &k3, "0", "-1"]),
        arr(vec![bulk("mv")])
    );
    assert_eq!(
        admin.call(&["LRANGE", &k2, "0", "-1"]),
        arr(vec![bulk("r2"), bulk("x")])
    );
    assert_eq!(
        admin.call(&["LRANGE", &k1, "0", "-1"]),
        arr(vec![bulk("r1")])
    );
}

#[test]
fn a_client_blocked_on_two_shards_pops_exactly_once() {
    let s = Server::embedded(&[]);
    let (k1, k2, _) = spread("race");
    let mut admin = s.raw();
    let mut p1 = s.raw();
    let mut p2 = s.raw();
    for round in 0..60 {
        let mut w = s.raw();
        w.send_cmd(&["BLPOP", &k1, &k2, "0"]);
        wait_blocked(&mut admin, 1);
        // Both pushes at once, from two connections (two workers).
        p1.send_cmd(&["RPUSH", &k1, "v1"]);
        p2.send_cmd(&["RPUSH", &k2, "v2"]);
        p1.read_reply();
        p2.read_reply();
        let got = w.read_reply().array();
        assert_eq!(got.len(), 2, "round {round}");
        let left = admin.call(&["LLEN", &k1]).int() + admin.call(&["LLEN", &k2]).int();
        assert_eq!(left, 1, "round {round}: exactly one element popped");
        admin.call(&["DEL", &k1, &k2]);
        w.assert_silent(Duration::from_millis(1));
        wait_blocked(&mut admin, 0);
    }
}

#[test]
fn a_blocking_command_in_multi_does_not_block() {
    let s = Server::embedded(&[]);
    let mut c = s.raw();
    let (k1, k2, _) = spread("mx");
    c.call(&["MULTI"]);
    c.call(&["BLPOP", &k1, "0"]);
    c.call(&["BLPOP", &k1, &k2, "0"]);
    c.call(&["BLMOVE", &k1, &k2, "LEFT", "LEFT", "0"]);
    c.call(&["BZPOPMIN", &k1, "0"]);
    c.call(&["RPUSH", &k2, "v"]);
    c.call(&["BRPOP", &k1, &k2, "0"]);
    let r = c.call(&["EXEC"]).array();
    assert_eq!(r[0], Reply::Array(None));
    assert_eq!(r[1], Reply::Array(None));
    assert_eq!(r[2], Reply::Bulk(None));
    assert_eq!(r[3], Reply::Array(None));
    assert_eq!(r[5], arr(vec![bulk(&k2), bulk("v")]));
    // A push inside a transaction serves a waiter after the transaction:
    // the transaction's own pop comes first.
    let mut w = s.raw();
    w.send_cmd(&["BLPOP", &k1, "0"]);
    wait_blocked(&mut c, 1);
    c.call(&["MULTI"]);
    c.call(&["RPUSH", &k1, "a", "b"]);
    c.call(&["LPOP", &k1]);
    let r = c.call(&["EXEC"]).array();
    assert_eq!(r[1], bulk("a"));
    assert_eq!(w.read_reply(), arr(vec![bulk(&k1), bulk("b")]));
}

#[test]
fn client_unblock_ends_the_wait_both_ways() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    let mut w = s.raw();
    let id = w.call(&["CLIENT", "ID"]).int().to_string();
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id]), Reply::Int(0));
    w.send_cmd(&["BLPOP", "ub1", "ub2", "0"]);
    wait_blocked(&mut admin, 1);
    let list = admin.call(&["CLIENT", "LIST", "ID", &id]).bulk_string();
    assert!(list.contains("flags=b "), "{list}");
    assert_eq!(
        admin.call(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]),
        Reply::Int(1)
    );
    w.expect(b"*-1\r\n");
    wait_blocked(&mut admin, 0);
    w.send_cmd(&["BLMOVE", "ub1", "ub2", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(
        admin.call(&["CLIENT", "UNBLOCK", &id, "ERROR"]),
        Reply::Int(1)
    );
    w.expect(b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    assert_eq!(
        admin.call(&["CLIENT", "UNBLOCK", &id, "ERROR"]),
        Reply::Int(0)
    );
    // The registration is gone: a later push stays in the list.
    admin.call(&["RPUSH", "ub1", "kept"]);
    assert_eq!(admin.call(&["LLEN", "ub1"]), Reply::Int(1));
    w.assert_silent(Duration::from_millis(100));
    assert_eq!(w.call(&["PING"]), Reply::Simple("PONG".into()));
}

#[test]
fn a_client_that_disconnects_while_blocked_is_forgotten() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    {
        let mut w = s.raw();
        w.send_cmd(&["BLPOP", "gone", "0"]);
        wait_blocked(&mut admin, 1);
    }
    wait_blocked(&mut admin, 0);
    admin.call(&["RPUSH", "gone", "v"]);
    assert_eq!(admin.call(&["LLEN", "gone"]), Reply::Int(1));
    // CLIENT KILL of a waiting client: the same.
    let mut w = s.raw();
    let id = w.call(&["CLIENT", "ID"]).int().to_string();
    w.send_cmd(&["BLPOP", "killed", "0"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.call(&["CLIENT", "KILL", "ID", &id]), Reply::Int(1));
    w.assert_closed();
    wait_blocked(&mut admin, 0);
    admin.call(&["RPUSH", "killed", "v"]);
    assert_eq!(admin.call(&["LLEN", "killed"]), Reply::Int(1));
}

#[test]
fn a_waiter_whose_key_changes_type_keeps_waiting() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    let mut w = s.raw();
    w.send_cmd(&["BLPOP", "ty", "0"]);
    wait_blocked(&mut admin, 1);
    admin.call(&["SET", "ty", "str"]);
    admin.call(&["ZADD", "ty2", "1", "a"]);
    admin.call(&["RENAME", "ty2", "ty"]);
    w.assert_silent(Duration::from_millis(100));
    admin.call(&["DEL", "ty"]);
    admin.call(&["RPUSH", "ty", "now"]);
    assert_eq!(w.read_reply(), arr(vec![bulk("ty"), bulk("now")]));
}

/// 2000 SET/GET round trips on one connection (unpipelined: each waits
/// for its reply, so a worker that spent its time on idle waiters shows).
fn round_trips(c: &mut Raw) -> Duration {
    let start = Instant::now();
    for i in 0..2000 {
        let k = format!("plain{}", i % 50);
        c.call(&["SET", &k, "v"]);
        assert_eq!(c.call(&["GET", &k]), bulk("v"));
    }
    start.elapsed()
}

#[test]
fn a_thousand_blocked_clients_do_not_slow_other_traffic() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    let mut c = s.raw();
    let before = round_trips(&mut c);
    let n = 1000;
    let mut waiters: Vec<Raw> = (0..n)
        .map(|i| {
            let mut w = s.raw();
            w.send_cmd(&["BLPOP", &format!("q{i}"), "0"]);
            w
        })
        .collect();
    wait_blocked(&mut admin, n as i64);
    let during = round_trips(&mut c);
    eprintln!("4000 commands: {before:?} alone, {during:?} beside {n} blocked clients");
    assert!(
        during < before * 3 + Duration::from_secs(1),
        "4000 commands took {during:?} beside {n} blocked clients, {before:?} alone"
    );
    for i in 0..n {
        admin.send_cmd(&["RPUSH", &format!("q{i}"), "x"]);
    }
    for _ in 0..n {
        admin.read_reply();
    }
    for (i, w) in waiters.iter_mut().enumerate() {
        assert_eq!(w.read_reply(), arr(vec![bulk(&format!("q{i}")), bulk("x")]));
    }
    wait_blocked(&mut admin, 0);
}

#[test]
fn woken_pops_are_logged_as_the_pops_they_became() {
    let dir = tempdir("blocking-restart");
    let (k1, k2, _) = spread("rs");
    {
        let p = Proc::start(&dir, &["--shards", "4", "--appendfsync", "always"]);
        let addr = format!("127.0.0.1:{}", p.port);
        let mut admin = Raw::connect(&addr);
        let mut w1 = Raw::connect(&addr);
        let mut w2 = Raw::connect(&addr);
        w1.send_cmd(&["BLPOP", &k1, "0"]);
        wait_blocked(&mut admin, 1);
        w2.send_cmd(&["BLMOVE", &k1, &k2, "RIGHT", "LEFT", "0"]);
        wait_blocked(&mut admin, 2);
        admin.call(&["RPUSH", &k1, "a", "b", "c"]);
        assert_eq!(w1.read_reply(), arr(vec![bulk(&k1), bulk("a")]));
        assert_eq!(w2.read_reply(), bulk("c"));
        let mut z = Raw::connect(&addr);
        z.send_cmd(&["BZPOPMIN", "zk", "0"]);
        wait_blocked(&mut admin, 1);
        admin.call(&["ZADD", "zk", "1", "m1", "2", "m2"]);
        assert_eq!(z.read_reply(), arr(vec![bulk("zk"), bulk("m1"), bulk("1")]));
        p.signal("-KILL");
        p.wait();
    }
    let p = Proc::start(&dir, &["--shards", "4"]);
    let mut c = Raw::connect(&format!("127.0.0.1:{}", p.port));
    assert_eq!(c.call(&["LRANGE", &k1, "0", "-1"]), arr(vec![bulk("b")]));
    assert_eq!(c.call(&["LRANGE", &k2, "0", "-1"]), arr(vec![bulk("c")]));
    assert_eq!(c.call(&["ZRANGE", "zk", "0", "-1"]), arr(vec![bulk("m2")]));
    p.signal("-TERM");
    p.wait();
}

#[test]
fn blmove_to_a_destination_of_another_type_answers_wrongtype() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    let (src, far, near) = spread("wd");
    for dst in [&near, &far] {
        admin.call(&["SET", dst, "str"]);
        let mut w = s.raw();
        w.send_cmd(&["BLMOVE", &src, dst, "LEFT", "LEFT", "0"]);
        wait_blocked(&mut admin, 1);
        admin.call(&["RPUSH", &src, "x"]);
        assert_eq!(
            w.read_reply(),
            Reply::Error(
                "WRONGTYPE Operation against a key holding the wrong kind of value".into()
            ),
            "destination {dst}"
        );
        wait_blocked(&mut admin, 0);
        assert_eq!(
            admin.call(&["LRANGE", &src, "0", "-1"]),
            arr(vec![bulk("x")])
        );
        admin.call(&["DEL", &src]);
    }
}

#[test]
fn client_reply_off_silences_the_end_of_a_wait() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    let mut c = s.raw();
    c.send(
        &[
            common::cmd(&["CLIENT", "REPLY", "OFF"]),
            common::cmd(&["BLPOP", "off1", "0.05"]),
            common::cmd(&["BLPOP", "off2", "0"]),
        ]
        .concat(),
    );
    wait_blocked(&mut admin, 1);
    admin.call(&["RPUSH", "off2", "v"]);
    wait_blocked(&mut admin, 0);
    c.send_cmd(&["CLIENT", "REPLY", "ON"]);
    c.expect(b"+OK\r\n");
    assert_eq!(admin.call(&["LLEN", "off2"]), Reply::Int(0));
}

/// CLIENT REPLY SKIP before a blocking command skips its late reply, as
/// Redis keeps a blocked client's skip until then: the woken reply, the
/// timeout's nil, and the reply of a BLMOVE that runs again because its
/// destination lives on another shard.
#[test]
fn client_reply_skip_skips_the_late_reply_of_a_wait() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    let mut c = s.raw();
    let (src, dst, _) = spread("skip:");
    c.send(
        &[
            common::cmd(&["CLIENT", "REPLY", "SKIP"]),
            common::cmd(&["BLPOP", "skip1", "0.05"]),
            common::cmd(&["CLIENT", "REPLY", "SKIP"]),
            common::cmd(&["BLPOP", "skip2", "0"]),
        ]
        .concat(),
    );
    wait_blocked(&mut admin, 1);
    admin.call(&["RPUSH", "skip2", "v"]);
    wait_blocked(&mut admin, 0);
    c.send(
        &[
            common::cmd(&["CLIENT", "REPLY", "SKIP"]),
            common::cmd(&["BLMOVE", &src, &dst, "LEFT", "RIGHT", "0"]),
        ]
        .concat(),
    );
    wait_blocked(&mut admin, 1);
    admin.call(&["RPUSH", &src, "w"]);
    wait_blocked(&mut admin, 0);
    // The next reply the client reads is PING's.
    assert_eq!(c.call(&["PING"]), Reply::Simple("PONG".into()));
    assert_eq!(admin.call(&["LLEN", "skip2"]), Reply::Int(0));
    assert_eq!(
        admin.call(&["LRANGE", &dst, "0", "-1"]),
        arr(vec![bulk("w")])
    );
    // The skip covered those commands only.
    assert_eq!(
        c.call(&["BLPOP", &dst, "0"]),
        arr(vec![bulk(&dst), bulk("w")])
    );
}

/// Consumers blocked on keys of every shard while producers push: every
/// element is popped exactly once (none lost, none twice), whichever shard
/// and worker serve it.
#[test]
fn concurrent_consumers_pop_every_element_exactly_once() {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    let s = Server::embedded(&[]);
    let r = Router::new(4);
    // One key per shard.
    let mut keys: Vec<String> = Vec::new();
    for i in 0..1000 {
        let k = format!("cc{i}");
        if !keys
            .iter()
            .any(|o| r.shard_of(o.as_bytes()) == r.shard_of(k.as_bytes()))
        {
            keys.push(k);
        }
        if keys.len() == 4 {
            break;
        }
    }
    let per_producer = 400;
    let producers = 2;
    let total = per_producer * producers;
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let addr = s.addr();
    let consumers: Vec<_> = (0..6)
        .map(|c| {
            let (addr, keys, seen) = (addr.clone(), keys.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut conn = Raw::connect(&addr);
                let start = Instant::now();
                while seen.lock().unwrap().len() < total
                    && start.elapsed() < Duration::from_secs(30)
                {
                    let mut args: Vec<&str> = vec![if c % 2 == 0 { "BLPOP" } else { "BRPOP" }];
                    args.extend(keys.iter().map(String::as_str));
                    args.push("0.2");
                    if let Reply::Array(Some(v)) = conn.call(&args) {
                        let e = v.into_iter().nth(1).unwrap().bulk_string();
                        seen.lock().unwrap().push(e);
                    }
                }
            })
        })
        .collect();
    let pushers: Vec<_> = (0..producers)
        .map(|p| {
            let (addr, keys) = (addr.clone(), keys.clone());
            std::thread::spawn(move || {
                let mut conn = Raw::connect(&addr);
                for i in 0..per_producer {
                    let k = &keys[(i + p) % keys.len()];
                    conn.call(&["RPUSH", k, &format!("p{p}-{i}")]);
                }
            })
        })
        .collect();
    for t in pushers {
        t.join().unwrap();
    }
    for t in consumers {
        t.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "an element was popped twice");
    assert_eq!(seen.len(), total, "elements lost");
}

/// Redis serves blocked clients after each command: a pop pipelined right
/// behind the push that made the key ready finds the waiter served first.
#[test]
fn a_waiter_is_served_before_the_next_pipelined_command() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    let mut w = s.raw();
    w.send_cmd(&["BLPOP", "pl", "0"]);
    wait_blocked(&mut admin, 1);
    admin.send(
        &[
            common::cmd(&["RPUSH", "pl", "first"]),
            common::cmd(&["LPOP", "pl"]),
            common::cmd(&["RPUSH", "pl", "second"]),
            common::cmd(&["LPOP", "pl"]),
        ]
        .concat(),
    );
    admin.expect(b":1\r\n$-1\r\n:1\r\n$6\r\nsecond\r\n");
    assert_eq!(w.read_reply(), arr(vec![bulk("pl"), bulk("first")]));
}

/// RESP3 connections get the woken replies in RESP3: scores as doubles,
/// a timeout as `_`.
#[test]
fn woken_replies_follow_resp3() {
    use std::io::{Read, Write};
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    let mut stream = std::net::TcpStream::connect(s.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Reads until `want` ends what came so far.
    let read_until = |stream: &mut std::net::TcpStream, want: &[u8]| {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(want) {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        got
    };
    stream
        .write_all(&[common::cmd(&["HELLO", "3"]), common::cmd(&["PING"])].concat())
        .unwrap();
    read_until(&mut stream, b"+PONG\r\n");
    stream
        .write_all(&common::cmd(&["BZPOPMIN", "r3", "0"]))
        .unwrap();
    wait_blocked(&mut admin, 1);
    admin.call(&["ZADD", "r3", "2.5", "m"]);
    let got = read_until(&mut stream, b",2.5\r\n");
    assert_eq!(got, b"*3\r\n$2\r\nr3\r\n$1\r\nm\r\n,2.5\r\n");
    stream
        .write_all(&common::cmd(&[
            "BLMOVE", "r3", "r4", "LEFT", "LEFT", "0.05",
        ]))
        .unwrap();
    assert_eq!(read_until(&mut stream, b"_\r\n"), b"_\r\n");
}
