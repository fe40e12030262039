//! Big arguments: read once into a buffer of their own and shared, not
//! copied, on their way to the store; the buffers are given back after use
//! and counted in `INFO memory` meanwhile.

mod common;

use common::proc::{tempdir, Proc};
use common::{bulk, cmd, Server};
use std::io::Write;
use std::time::{Duration, Instant};

fn shardcache_only() -> bool {
    std::env::var_os(common::AGAINST_REDIS).is_none()
}

/// A value of `n` bytes that differs from position to position.
fn value(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

/// Big values in every position a command can take them, pipelined between
/// small commands, sent in pieces, inside MULTI, across shards, and back
/// after a restart from the AOF.
#[test]
fn big_arguments_arrive_whole_wherever_they_are() {
    let dir = tempdir("big-args");
    let p = Proc::start(&dir, &["--shards", "3"]);
    let mut r = common::Raw::connect(&format!("127.0.0.1:{}", p.port));
    let sizes = [32 * 1024 - 1, 32 * 1024, 32 * 1024 + 1, 100_000, 3 << 20];
    // One pipeline: small, big, small, ... with the big ones as keys and values.
    let mut req = Vec::new();
    let mut want = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let v = value(n, i as u8);
        req.extend_from_slice(&cmd(&[b"SET".as_slice(), format!("v{i}").as_bytes(), &v]));
        want.extend_from_slice(b"+OK\r\n");
        req.extend_from_slice(&cmd(&["PING"]));
        want.extend_from_slice(b"+PONG\r\n");
        let key = value(n, 100 + i as u8);
        req.extend_from_slice(&cmd(&[b"SET".as_slice(), &key, b"small"]));
        want.extend_from_slice(b"+OK\r\n");
        req.extend_from_slice(&cmd(&[b"EXISTS".as_slice(), &key, &key]));
        want.extend_from_slice(b":2\r\n");
        req.extend_from_slice(&cmd(&[b"GET".as_slice(), format!("v{i}").as_bytes()]));
        want.extend_from_slice(&bulk(&v));
    }
    // Sent whole: the commands behind a big argument are in the socket
    // already when it completes, and no new readiness comes for them.
    r.stream().write_all(&req).unwrap();
    r.expect(&want);
    // Sent in uneven pieces with pauses, so headers and payloads split anywhere.
    let mut at = 0;
    let mut step = 7usize;
    while at < req.len() {
        let end = (at + step).min(req.len());
        r.stream().write_all(&req[at..end]).unwrap();
        at = end;
        step = (step * 13 + 5) % 400_000 + 1;
        if step % 5 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    r.expect(&want);

    // MSET over shards, APPEND, and a transaction carrying big values.
    let (a, b) = (value(200_000, 7), value(50_000, 8));
    r.send(&cmd(&[b"MSET".as_slice(), b"m1", &a, b"m2", &b, b"m3", &a]));
    r.expect(b"+OK\r\n");
    r.send(&cmd(&[b"APPEND".as_slice(), b"m2", &a]));
    r.expect(format!(":{}\r\n", 250_000).as_bytes());
    r.send(&cmd(&["MULTI"]));
    r.expect(b"+OK\r\n");
    r.send(&cmd(&[b"SET".as_slice(), b"t", &b]));
    r.expect(b"+QUEUED\r\n");
    r.send(&cmd(&[b"GET".as_slice(), b"t"]));
    r.expect(b"+QUEUED\r\n");
    r.send(&cmd(&["EXEC"]));
    let mut exec = b"*2\r\n+OK\r\n".to_vec();
    exec.extend_from_slice(&bulk(&b));
    r.expect(&exec);
    let mut ab = b.clone();
    ab.extend_from_slice(&a);
    drop(r);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));

    let p = Proc::start(&dir, &["--shards", "2"]);
    let mut r = common::Raw::connect(&format!("127.0.0.1:{}", p.port));
    for (i, &n) in sizes.iter().enumerate() {
        r.send(&cmd(&["GET", &format!("v{i}")]));
        r.expect(&bulk(&value(n, i as u8)));
    }
    for (k, v) in [("m1", &a), ("m2", &ab), ("m3", &a), ("t", &b)] {
        r.send(&cmd(&["GET", k]));
        r.expect(&bulk(v));
    }
}

/// After big SET + DEL cycles the memory is given back: the read, argument,
/// batch and AOF buffers do not keep the size they once held (they kept
/// about three copies of the largest value for the server's life).
#[test]
fn big_values_give_their_memory_back() {
    if !shardcache_only() {
        return;
    }
    let s = Server::start(&["--shards", "2", "--workers", "1"]);
    let mut r = s.raw();
    let v = vec![b'x'; 48 << 20];
    r.send(&cmd(&["SET", "warm", "up"]));
    r.expect(b"+OK\r\n");
    let base = s.rss_kib();
    for _ in 0..3 {
        r.send(&cmd(&[b"SET".as_slice(), b"big", &v]));
        r.expect(b"+OK\r\n");
        r.send(&cmd(&["DEL", "big"]));
        r.expect(b":1\r\n");
    }
    r.send(&cmd(&["MEMORY", "PURGE"]));
    r.expect(b"+OK\r\n");
    let after = s.rss_kib();
    assert!(
        after < base + 24 * 1024,
        "RSS {after} KiB after 3 x 48 MB SET+DEL, {base} KiB before"
    );
}

/// A big argument still arriving is counted in INFO memory's
/// `mem_clients_normal`, and its buffer is given back once it is done.
#[test]
fn buffers_of_big_arguments_are_counted_in_info_memory() {
    if !shardcache_only() {
        return;
    }
    let s = Server::start(&["--shards", "2", "--workers", "1"]);
    let mut slow = s.raw();
    let n = 8 << 20;
    let mut head = format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${n}\r\n").into_bytes();
    head.extend(std::iter::repeat_n(b'y', 4 << 20));
    slow.stream().write_all(&head).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let clients = s.info_int("memory", "mem_clients_normal");
        if clients >= n as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mem_clients_normal {clients} while an 8 MB argument arrives"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut rest = vec![b'y'; n - (4 << 20)];
    rest.extend_from_slice(b"\r\n");
    slow.stream().write_all(&rest).unwrap();
    slow.expect(b"+OK\r\n");
    slow.send(&cmd(&["STRLEN", "big"]));
    slow.expect(format!(":{n}\r\n").as_bytes());
    let clients = s.info_int("memory", "mem_clients_normal");
    assert!(
        clients < 4 << 20,
        "mem_clients_normal {clients} once the argument is stored"
    );
    assert!(s.info_int("memory", "used_memory") > n as i64);
}

/// The query buffer limit counts a big argument read into its own buffer.
#[test]
fn a_big_argument_counts_toward_the_query_buffer_limit() {
    if !shardcache_only() {
        return;
    }
    let s = Server::start(&["--client-query-buffer-limit", "1mb"]);
    let mut r = s.raw();
    let mut req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000000\r\n".to_vec();
    req.extend(std::iter::repeat_n(b'z', 2 << 20));
    let _ = r.stream().write_all(&req);
    r.assert_closed();
    let mut good = s.raw();
    good.send(&cmd(&["EXISTS", "k"]));
    good.expect(b":0\r\n");
}
