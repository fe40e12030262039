//! Pub/sub: reply shapes in RESP2 and RESP3 byte for byte, subscribed mode,
//! delivery order and counts with publishers and subscribers on different
//! workers, glob patterns, and the output limit that disconnects a
//! subscriber that stops reading while the others keep receiving.
//!
//! The expected bytes are Redis 7.0.15's (`SHARDCACHE_TEST_AGAINST_REDIS=1`
//! runs these tests against a real `redis-server`).

mod common;

use common::{Raw, Reply, Server};
use std::collections::HashMap;
use std::io::Read;
use std::time::{Duration, Instant};

fn bulk(b: &[u8]) -> Vec<u8> {
    common::bulk(b)
}

/// `*3 kind name count` (or `>3` in RESP3).
fn confirm(head: u8, kind: &str, name: Option<&str>, count: i64) -> Vec<u8> {
    let mut v = vec![head, b'3', b'\r', b'\n'];
    v.extend(bulk(kind.as_bytes()));
    match (name, head) {
        (Some(n), _) => v.extend(bulk(n.as_bytes())),
        (None, b'>') => v.extend_from_slice(b"_\r\n"),
        (None, _) => v.extend_from_slice(b"$-1\r\n"),
    }
    v.extend(format!(":{count}\r\n").into_bytes());
    v
}

fn message(head: u8, channel: &str, msg: &str) -> Vec<u8> {
    let mut v = vec![head, b'3', b'\r', b'\n'];
    v.extend(bulk(b"message"));
    v.extend(bulk(channel.as_bytes()));
    v.extend(bulk(msg.as_bytes()));
    v
}

fn pmessage(pattern: &str, channel: &str, msg: &str) -> Vec<u8> {
    let mut v = b"*4\r\n".to_vec();
    v.extend(bulk(b"pmessage"));
    v.extend(bulk(pattern.as_bytes()));
    v.extend(bulk(channel.as_bytes()));
    v.extend(bulk(msg.as_bytes()));
    v
}

const NOT_ALLOWED: &str =
    "only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context";

#[test]
fn resp2_subscribed_mode_byte_for_byte() {
    let s = Server::embedded(&[]);
    let mut sub = s.raw();
    let mut p = s.raw();
    // Nothing to drop: one confirmation with a nil name.
    sub.send_cmd(&["UNSUBSCRIBE"]);
    sub.expect(&confirm(b'*', "unsubscribe", None, 0));
    sub.send_cmd(&["PUNSUBSCRIBE"]);
    sub.expect(&confirm(b'*', "punsubscribe", None, 0));
    sub.send_cmd(&["SUNSUBSCRIBE"]);
    sub.expect(&confirm(b'*', "sunsubscribe", None, 0));
    // Still a normal client.
    assert_eq!(sub.call(&["PING"]), Reply::Simple("PONG".into()));

    sub.send_cmd(&["SUBSCRIBE", "a", "b", "a"]);
    sub.expect(&confirm(b'*', "subscribe", Some("a"), 1));
    sub.expect(&confirm(b'*', "subscribe", Some("b"), 2));
    sub.expect(&confirm(b'*', "subscribe", Some("a"), 2));
    // Shard channels are counted apart; patterns with channels.
    sub.send_cmd(&["SSUBSCRIBE", "sa"]);
    sub.expect(&confirm(b'*', "ssubscribe", Some("sa"), 1));
    sub.send_cmd(&["PSUBSCRIBE", "a*"]);
    sub.expect(&confirm(b'*', "psubscribe", Some("a*"), 3));

    sub.send_cmd(&["PING"]);
    sub.expect(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    sub.send_cmd(&["PING", "x"]);
    sub.expect(b"*2\r\n$4\r\npong\r\n$1\r\nx\r\n");
    for (args, name) in [
        (&["GET", "x"][..], "get"),
        (&["CLIENT", "LIST"][..], "client|list"),
        (&["HELLO", "3"][..], "hello"),
        (&["PUBLISH", "a", "x"][..], "publish"),
    ] {
        assert_eq!(
            sub.call(args),
            Reply::Error(format!("ERR Can't execute '{name}': {NOT_ALLOWED}"))
        );
    }
    // Unknown commands and arity errors come first, as in Redis.
    assert!(
        matches!(sub.call(&["NOSUCH"]), Reply::Error(e) if e.starts_with("ERR unknown command 'NOSUCH'"))
    );

    assert_eq!(p.call(&["PUBLISH", "a", "hi"]), Reply::Int(2));
    sub.expect(&message(b'*', "a", "hi"));
    sub.expect(&pmessage("a*", "a", "hi"));
    assert_eq!(p.call(&["PUBLISH", "abc", "x"]), Reply::Int(1));
    sub.expect(&pmessage("a*", "abc", "x"));
    assert_eq!(p.call(&["SPUBLISH", "sa", "s"]), Reply::Int(1));
    let mut smsg = b"*3\r\n".to_vec();
    smsg.extend(bulk(b"smessage"));
    smsg.extend(bulk(b"sa"));
    smsg.extend(bulk(b"s"));
    sub.expect(&smsg);
    // A shard channel is not a channel, nor matched by patterns.
    assert_eq!(p.call(&["PUBLISH", "sa", "x"]), Reply::Int(0));
    assert_eq!(p.call(&["SPUBLISH", "a", "x"]), Reply::Int(0));

    sub.send_cmd(&["UNSUBSCRIBE", "zz"]);
    sub.expect(&confirm(b'*', "unsubscribe", Some("zz"), 3));
    sub.send_cmd(&["PUNSUBSCRIBE"]);
    sub.expect(&confirm(b'*', "punsubscribe", Some("a*"), 2));
    sub.send_cmd(&["SUNSUBSCRIBE"]);
    sub.expect(&confirm(b'*', "sunsubscribe", Some("sa"), 0));
    // Channels go in the server's own order: read both, in either order.
    sub.send_cmd(&["UNSUBSCRIBE"]);
    let mut counts = Vec::new();
    let mut names = Vec::new();
    for _ in 0..2 {
        let r = sub.read_reply().array();
        assert_eq!(r[0], Reply::Bulk(Some(b"unsubscribe".to_vec())));
        names.push(r[1].clone().bulk_string());
        counts.push(r[2].clone().int());
    }
    names.sort();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(counts, [1, 0]);
    // Out of subscribed mode.
    assert_eq!(sub.call(&["GET", "x"]), Reply::Bulk(None));
    assert_eq!(p.call(&["PUBLISH", "a", "gone"]), Reply::Int(0));

    // RESET leaves subscribed mode and drops the subscriptions silently.
    sub.send_cmd(&["SUBSCRIBE", "r"]);
    sub.expect(&confirm(b'*', "subscribe", Some("r"), 1));
    assert_eq!(sub.call(&["RESET"]), Reply::Simple("RESET".into()));
    assert_eq!(sub.call(&["GET", "x"]), Reply::Bulk(None));
    assert_eq!(p.call(&["PUBSUB", "NUMSUB", "r"]).array()[1], Reply::Int(0));
    assert_eq!(p.call(&["PUBLISH", "r", "x"]), Reply::Int(0));
    // QUIT is allowed.
    sub.send_cmd(&["SUBSCRIBE", "q"]);
    sub.expect(&confirm(b'*', "subscribe", Some("q"), 1));
    assert_eq!(sub.call(&["QUIT"]), Reply::Simple("OK".into()));
}

#[test]
fn resp3_pushes_and_normal_commands() {
    let s = Server::embedded(&[]);
    let mut sub = s.raw();
    let mut p = s.raw();
    sub.send_cmd(&["HELLO", "3"]);
    // HELLO's map: skip it by reading up to a command with a known reply.
    sub.send_cmd(&["ECHO", "mark"]);
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"$4\r\nmark\r\n") {
        sub.stream().read_exact(&mut byte).unwrap();
        seen.push(byte[0]);
    }
    sub.send_cmd(&["UNSUBSCRIBE"]);
    sub.expect(&confirm(b'>', "unsubscribe", None, 0));
    sub.send_cmd(&["SUBSCRIBE", "a"]);
    sub.expect(&confirm(b'>', "subscribe", Some("a"), 1));
    // Normal commands run, PING answers as usual.
    sub.send_cmd(&["SET", "k", "v"]);
    sub.expect(b"+OK\r\n");
    sub.send_cmd(&["PING"]);
    sub.expect(b"+PONG\r\n");
    assert_eq!(p.call(&["PUBLISH", "a", "hi"]), Reply::Int(1));
    sub.expect(&message(b'>', "a", "hi"));
    sub.send_cmd(&["GET", "k"]);
    sub.expect(b"$1\r\nv\r\n");
    // Its own message comes before PUBLISH's count, a pattern's after the
    // channel's, as Redis writes them.
    sub.send_cmd(&["PSUBSCRIBE", "a*"]);
    sub.expect(&confirm(b'>', "psubscribe", Some("a*"), 2));
    sub.send_cmd(&["PUBLISH", "a", "self"]);
    let mut own = message(b'>', "a", "self");
    own.extend_from_slice(b">4\r\n");
    own.extend(bulk(b"pmessage"));
    own.extend(bulk(b"a*"));
    own.extend(bulk(b"a"));
    own.extend(bulk(b"self"));
    own.extend_from_slice(b":2\r\n");
    sub.expect(&own);
    sub.send_cmd(&["PUNSUBSCRIBE", "a*"]);
    sub.expect(&confirm(b'>', "punsubscribe", Some("a*"), 1));
    // CLIENT REPLY OFF silences replies, not messages.
    sub.send_cmd(&["CLIENT", "REPLY", "OFF"]);
    sub.send_cmd(&["GET", "k"]);
    assert_eq!(p.call(&["PUBLISH", "a", "still"]), Reply::Int(1));
    sub.expect(&message(b'>', "a", "still"));
    sub.send_cmd(&["CLIENT", "REPLY", "ON"]);
    sub.expect(b"+OK\r\n");
    sub.send_cmd(&["UNSUBSCRIBE", "a"]);
    sub.expect(&confirm(b'>', "unsubscribe", Some("a"), 0));
}

#[test]
fn pubsub_introspection_info_and_client_list() {
    let s = Server::embedded(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    let mut q = s.raw();
    a.send_cmd(&["SUBSCRIBE", "news", "sport"]);
    a.read_reply();
    a.read_reply();
    a.send_cmd(&["PSUBSCRIBE", "n*"]);
    a.read_reply();
    a.send_cmd(&["SSUBSCRIBE", "s1"]);
    a.read_reply();
    b.send_cmd(&["SUBSCRIBE", "news"]);
    b.read_reply();
    b.send_cmd(&["PSUBSCRIBE", "n*"]);
    b.read_reply();

    let mut chans: Vec<String> = q
        .call(&["PUBSUB", "CHANNELS"])
        .array()
        .into_iter()
        .map(Reply::bulk_string)
        .collect();
    chans.sort();
    assert_eq!(chans, ["news", "sport"]);
    assert_eq!(
        q.call(&["PUBSUB", "CHANNELS", "n*"]).array(),
        [Reply::Bulk(Some(b"news".to_vec()))]
    );
    assert_eq!(
        q.call(&["PUBSUB", "NUMSUB", "news", "sport", "none"]),
        Reply::Array(Some(vec![
            Reply::Bulk(Some(b"news".to_vec())),
            Reply::Int(2),
            Reply::Bulk(Some(b"sport".to_vec())),
            Reply::Int(1),
            Reply::Bulk(Some(b"none".to_vec())),
            Reply::Int(0),
        ]))
    );
    assert_eq!(q.call(&["PUBSUB", "NUMSUB"]), Reply::Array(Some(vec![])));
    // Unique patterns.
    assert_eq!(q.call(&["PUBSUB", "NUMPAT"]), Reply::Int(1));
    assert_eq!(
        q.call(&["PUBSUB", "SHARDCHANNELS"]).array(),
        [Reply::Bulk(Some(b"s1".to_vec()))]
    );
    assert_eq!(
        q.call(&["PUBSUB", "SHARDNUMSUB", "s1"]).array()[1],
        Reply::Int(1)
    );
    assert_eq!(
        q.call(&["PUBSUB", "CHANNELS", "a", "b"]),
        Reply::Error(
            "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."
                .into()
        )
    );
    assert_eq!(
        q.call(&["PUBSUB", "NUMPAT", "x"]),
        Reply::Error("ERR wrong number of arguments for 'pubsub|numpat' command".into())
    );
    assert_eq!(q.call(&["PUBSUB", "HELP"]).array().len(), 14);
    // Channel subscribers plus pattern subscribers, per subscription.
    assert_eq!(q.call(&["PUBLISH", "news", "x"]), Reply::Int(4));

    let stats = s.info("stats");
    let get = |k: &str| stats.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
    assert_eq!(get("pubsub_channels").as_deref(), Some("2"));
    assert_eq!(get("pubsub_patterns").as_deref(), Some("1"));
    assert_eq!(get("pubsubshard_channels").as_deref(), Some("1"));

    let list = q.call(&["CLIENT", "LIST"]).bulk_string();
    let mut rows: Vec<&str> = list.lines().collect();
    rows.sort_by_key(|r| r.contains("cmd=client|list"));
    assert!(
        rows.iter()
            .any(|r| r.contains(" flags=P ") && r.contains(" sub=2 psub=1 ssub=1 ")),
        "{list}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains(" flags=P ") && r.contains(" sub=1 psub=1 ssub=0 ")),
        "{list}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains(" flags=N ") && r.contains(" sub=0 psub=0 ssub=0 ")),
        "{list}"
    );

    // Subscribers are clients of type pubsub, no longer normal.
    let typed = |q: &mut Raw, t: &str| -> Vec<String> {
        q.call(&["CLIENT", "LIST", "TYPE", t])
            .bulk_string()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let pubsub = typed(&mut q, "pubsub");
    assert_eq!(pubsub.len(), 2, "{pubsub:?}");
    assert!(pubsub.iter().all(|r| r.contains(" flags=P ")));
    // (INFO's connection above may still be closing: it is normal too.)
    let normal = typed(&mut q, "normal");
    assert!(normal.iter().any(|r| r.contains("cmd=client|list")));
    assert!(
        normal.iter().all(|r| r.contains(" sub=0 psub=0 ssub=0 ")),
        "{normal:?}"
    );

    // A subscriber that closes leaves the table.
    drop(a);
    drop(b);
    let deadline = Instant::now() + Duration::from_secs(5);
    while q.call(&["PUBSUB", "NUMPAT"]) != Reply::Int(0) {
        assert!(
            Instant::now() < deadline,
            "closed subscribers still counted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(q.call(&["PUBSUB", "CHANNELS"]), Reply::Array(Some(vec![])));
    assert_eq!(q.call(&["PUBLISH", "news", "x"]), Reply::Int(0));

    // CLIENT KILL TYPE pubsub closes subscribers only.
    let mut c = s.raw();
    c.send_cmd(&["SUBSCRIBE", "k"]);
    c.read_reply();
    assert_eq!(q.call(&["CLIENT", "KILL", "TYPE", "pubsub"]), Reply::Int(1));
    c.assert_closed();
    assert_eq!(q.call(&["PING"]), Reply::Simple("PONG".into()));
}

#[test]
fn glob_patterns_match_as_redis() {
    let s = Server::embedded(&[]);
    let mut sub = s.raw();
    let mut p = s.raw();
    let patterns = [
        "h?llo",
        "h*llo",
        "h[ae]llo",
        "h[^e]llo",
        "h[a-b]llo",
        "h\\*llo",
    ];
    sub.send_cmd(&[&["PSUBSCRIBE"][..], &patterns[..]].concat());
    for _ in &patterns {
        sub.read_reply();
    }
    for (channel, n) in [
        ("hello", 3),
        ("hallo", 5),
        ("hxllo", 3),
        ("heeeello", 1),
        ("hllo", 1),
        ("h*llo", 4),
        ("Hello", 0),
    ] {
        assert_eq!(
            p.call(&["PUBLISH", channel, "m"]),
            Reply::Int(n),
            "publishing to {channel}"
        );
        for _ in 0..n {
            let m = sub.read_reply().array();
            assert_eq!(m[2], Reply::Bulk(Some(channel.as_bytes().to_vec())));
        }
    }
}

/// Reads `*3 message ch msg` frames until `n` came (or the deadline).
fn read_messages(r: &mut Raw, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|_| {
            let m = r.read_reply().array();
            let kind = m[0].clone().bulk_string();
            let last = m.last().unwrap().clone().bulk_string();
            (kind, last)
        })
        .collect()
}

#[test]
fn delivery_across_workers_keeps_publish_order_and_counts() {
    const WORKERS: usize = 3;
    const SUBS: usize = 9;
    const PUBS: usize = 3;
    const PER_PUB: usize = 300;
    let s = Server::start(&["--workers", "3"]);
    // Connections are spread over the workers as they are accepted, so
    // nine subscribers and three publishers span all three.
    let mut subs: Vec<Raw> = (0..SUBS).map(|_| s.raw()).collect();
    for (i, r) in subs.iter_mut().enumerate() {
        r.send_cmd(&["SUBSCRIBE", "ch"]);
        r.read_reply();
        if i % 3 == 0 {
            r.send_cmd(&["PSUBSCRIBE", "c*"]);
            r.read_reply();
        }
    }
    let receivers = SUBS + SUBS.div_ceil(3);
    let pubs: Vec<std::thread::JoinHandle<Vec<i64>>> = (0..PUBS)
        .map(|p| {
            let addr = s.addr();
            std::thread::spawn(move || {
                let mut r = Raw::connect(&addr);
                // Pipelined in batches: many publishes share a poll round.
                let mut counts = Vec::new();
                for batch in 0..PER_PUB / 50 {
                    let mut bytes = Vec::new();
                    for n in batch * 50..(batch + 1) * 50 {
                        bytes.extend(common::cmd(&["PUBLISH", "ch", &format!("{p}:{n}")]));
                    }
                    r.send(&bytes);
                    for _ in 0..50 {
                        counts.push(r.read_reply().int());
                    }
                }
                counts
            })
        })
        .collect();
    for h in pubs {
        let counts = h.join().unwrap();
        assert!(
            counts.iter().all(|&c| c == receivers as i64),
            "PUBLISH counts {counts:?}"
        );
    }
    let _ = WORKERS;
    for (i, r) in subs.iter_mut().enumerate() {
        let want = if i % 3 == 0 { 2 } else { 1 } * PUBS * PER_PUB;
        let got = read_messages(r, want);
        let mut next: HashMap<String, usize> = HashMap::new();
        for kind in ["message", "pmessage"] {
            next.clear();
            for (k, m) in got.iter().filter(|(k, _)| k == kind) {
                assert_eq!(k, kind);
                let (p, n) = m.split_once(':').unwrap();
                let n: usize = n.parse().unwrap();
                let e = next.entry(p.to_string()).or_default();
                assert_eq!(
                    n, *e,
                    "subscriber {i}: {kind}s of publisher {p} out of order"
                );
                *e += 1;
            }
            if kind == "message" || i % 3 == 0 {
                assert_eq!(next.len(), PUBS);
                assert!(next.values().all(|&v| v == PER_PUB));
            }
        }
    }
    // Every subscriber is still there, nothing more is queued for it.
    let mut q = s.raw();
    assert_eq!(
        q.call(&["PUBSUB", "NUMSUB", "ch"]).array()[1],
        Reply::Int(SUBS as i64)
    );
}

/// A connection with a small receive buffer: the kernel holds little of
/// what it is sent, so a subscriber that stops reading backs up fast.
fn slow_reader(s: &Server) -> Raw {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let addr: std::net::SocketAddr = s.addr().parse().unwrap();
    sock.connect(&addr.into()).unwrap();
    Raw::from_stream(sock.into())
}

#[test]
fn slow_subscriber_is_disconnected_and_the_others_keep_receiving() {
    let s = Server::start(&["--workers", "2"]);
    let mut q = s.raw();
    assert_eq!(
        q.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 0 0"
        ]),
        Reply::Simple("OK".into())
    );
    let mut slow = slow_reader(&s);
    slow.send_cmd(&["SUBSCRIBE", "big"]);
    slow.read_reply();
    let mut fast: Vec<Raw> = (0..3).map(|_| s.raw()).collect();
    for r in &mut fast {
        r.send_cmd(&["SUBSCRIBE", "big"]);
        r.read_reply();
    }
    // 64 KB messages, 40 MB in all at most: far past the 1 MB limit plus
    // what the sockets hold, bounded in count and time.
    let payload = "x".repeat(64 * 1024);
    let started = Instant::now();
    let mut closed_at = None;
    for n in 0..640 {
        let receivers = q.call(&["PUBLISH", "big", &payload]).int();
        for r in &mut fast {
            let m = r.read_reply().array();
            assert_eq!(m[2].clone().bulk_bytes().len(), payload.len());
        }
        if receivers == 3 {
            closed_at = Some(n);
            break;
        }
        assert_eq!(receivers, 4);
        assert!(started.elapsed() < Duration::from_secs(60));
    }
    let n = closed_at.expect("the subscriber that does not read was never disconnected");
    assert!(n >= 10, "disconnected after only {n} messages");
    // It is gone for good: its connection ends after what the kernel held.
    let mut drained = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match slow.stream().read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => drained += k,
        }
        assert!(Instant::now() < deadline);
    }
    assert!(drained < 8 << 20, "read {drained} bytes after the limit");
    // The others still receive.
    assert_eq!(q.call(&["PUBLISH", "big", "after"]), Reply::Int(3));
    for r in &mut fast {
        assert_eq!(read_messages(r, 1), [("message".into(), "after".into())]);
    }
}

#[test]
fn soft_limit_disconnects_after_its_seconds() {
    let s = Server::embedded(&[]);
    let mut q = s.raw();
    assert_eq!(
        q.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 0 64kb 1"
        ]),
        Reply::Simple("OK".into())
    );
    let mut slow = slow_reader(&s);
    slow.send_cmd(&["SUBSCRIBE", "c"]);
    slow.read_reply();
    let payload = "y".repeat(64 * 1024);
    // Enough to stay above 64 KB of unsent output once the kernel's buffers fill.
    for _ in 0..160 {
        q.call(&["PUBLISH", "c", &payload]);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while q.call(&["PUBLISH", "c", "tick"]) != Reply::Int(0) {
        assert!(
            Instant::now() < deadline,
            "still subscribed after the soft limit's seconds"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A subscriber that stops reading shows its waiting output in CLIENT
/// LIST as Redis does: `obl`/`oll`/`omem` 0 and `events=r` while nothing
/// waits; a backlog in its list of reply blocks and `events=rw` after.
#[test]
fn client_list_shows_the_output_a_subscriber_has_not_read() {
    let s = Server::embedded(&[]);
    let mut q = s.raw();
    q.call(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 0 0 0",
    ]);
    let mut slow = slow_reader(&s);
    let Reply::Int(id) = slow.call(&["CLIENT", "ID"]) else {
        panic!("CLIENT ID")
    };
    let fields = |q: &mut Raw| -> [String; 4] {
        let row = q
            .call(&["CLIENT", "LIST", "ID", &id.to_string()])
            .bulk_string();
        ["obl", "oll", "omem", "events"].map(|name| {
            row.split_whitespace()
                .find_map(|f| f.strip_prefix(&format!("{name}=")).map(str::to_string))
                .unwrap_or_else(|| panic!("{name} in {row}"))
        })
    };
    assert_eq!(fields(&mut q), ["0", "0", "0", "r"]);
    slow.send_cmd(&["SUBSCRIBE", "c"]);
    slow.read_reply();
    let payload = "y".repeat(64 * 1024);
    for _ in 0..160 {
        q.call(&["PUBLISH", "c", &payload]);
    }
    // The subscriber's worker writes what it can when its inbox is read.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let [_, oll, omem, events] = fields(&mut q);
        let (oll, omem): (u64, u64) = (oll.parse().unwrap(), omem.parse().unwrap());
        if oll > 0 && omem >= 64 * 1024 && events == "rw" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "oll={oll} omem={omem} events={events}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn client_output_buffer_limit_config() {
    let s = Server::embedded(&[]);
    let mut q = s.raw();
    let get = |q: &mut Raw| {
        q.call(&["CONFIG", "GET", "client-output-buffer-limit"])
            .array()[1]
            .clone()
            .bulk_string()
    };
    assert_eq!(
        get(&mut q),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    assert_eq!(
        q.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 500kb 10"
        ]),
        Reply::Simple("OK".into())
    );
    assert_eq!(
        get(&mut q),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 512000 10"
    );
    let failed = |why: &str| {
        Reply::Error(format!(
            "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - {why}"
        ))
    };
    assert_eq!(
        q.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 500kb"
        ]),
        failed("Wrong number of arguments in buffer limit configuration.")
    );
    assert_eq!(
        q.call(&["CONFIG", "SET", "client-output-buffer-limit", "foo 1 1 1"]),
        failed("Invalid client class specified in buffer limit configuration.")
    );
    assert_eq!(
        q.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1 1 x"
        ]),
        failed("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
    );
    // A refused value changes nothing, not even its valid groups.
    assert_eq!(
        q.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 5 5 5 foo 1 1 1"
        ]),
        failed("Invalid client class specified in buffer limit configuration.")
    );
    assert!(get(&mut q).starts_with("normal 0 0 0 "));
}

#[test]
fn subscribe_inside_multi_and_publish_from_exec() {
    let s = Server::embedded(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(a.call(&["MULTI"]), Reply::Simple("OK".into()));
    assert_eq!(a.call(&["SUBSCRIBE", "t"]), Reply::Simple("QUEUED".into()));
    let mut exec = b"*1\r\n".to_vec();
    exec.extend(confirm(b'*', "subscribe", Some("t"), 1));
    a.send_cmd(&["EXEC"]);
    a.expect(&exec);
    assert_eq!(b.call(&["MULTI"]), Reply::Simple("OK".into()));
    assert_eq!(
        b.call(&["PUBLISH", "t", "in-exec"]),
        Reply::Simple("QUEUED".into())
    );
    assert_eq!(b.call(&["EXEC"]).array(), [Reply::Int(1)]);
    a.expect(&message(b'*', "t", "in-exec"));
}

/// redis-py's `pubsub()` (tests/clients/redis_py_pubsub.py) over RESP2 and
/// RESP3. Without python3 and redis-py >= 5 it is skipped, except under
/// `CI`, where that fails.
#[test]
fn redis_py_pubsub() {
    let python = std::env::var("SHARDCACHE_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = std::process::Command::new(&python)
        .args([
            "-c",
            "import redis, sys; sys.exit(int(redis.__version__.split('.')[0]) < 5)",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        assert!(
            std::env::var_os("CI").is_none(),
            "{python} with redis-py >= 5 is needed (CI is set)"
        );
        eprintln!("redis_py_pubsub SKIPPED: no {python} with redis-py >= 5");
        return;
    }
    let s = Server::start(&["--workers", "3"]);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/redis_py_pubsub.py");
    let mut child = std::process::Command::new(&python)
        .arg(&script)
        .args(["--port", &s.port().to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the redis-py scenario");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the redis-py scenario did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert!(
        status.success(),
        "redis-py scenario failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn subscribers_never_time_out() {
    let s = Server::embedded(&["--timeout", "1"]);
    let mut sub = s.raw();
    let mut idle = s.raw();
    assert_eq!(idle.call(&["PING"]), Reply::Simple("PONG".into()));
    sub.send_cmd(&["SUBSCRIBE", "t"]);
    sub.expect(&confirm(b'*', "subscribe", Some("t"), 1));
    std::thread::sleep(Duration::from_millis(3500));
    idle.assert_closed();
    let mut p = s.raw();
    assert_eq!(p.call(&["PUBLISH", "t", "still"]), Reply::Int(1));
    sub.expect(&message(b'*', "t", "still"));
}
