//! Limits and slow or hostile clients (issue 6): maxclients, query buffer
//! and bulk length limits, backpressure on clients that do not read their
//! replies, output buffer limits, idle timeout, rename-command.
//!
//! These run against shardcache only: they start it with the limit under test.

mod common;

use common::{cmd, wait_until, Raw, Reply, Server};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn shardcache_only() -> bool {
    std::env::var_os(common::AGAINST_REDIS).is_none()
}

#[test]
fn maxclients_refuses_the_next_client_with_redis_error() {
    if !shardcache_only() {
        return;
    }
    let s = Server::start(&["--maxclients", "4"]);
    let mut held: Vec<Raw> = (0..4).map(|_| s.raw()).collect();
    for r in &mut held {
        r.send(&cmd(&["PING"]));
        r.expect(b"+PONG\r\n");
    }
    let mut extra = s.raw();
    extra.expect(b"-ERR max number of clients reached\r\n");
    extra.assert_closed();
    // A slot frees up when a client leaves.
    drop(held.pop());
    assert!(wait_until(Duration::from_secs(5), || {
        let mut r = s.raw();
        r.send(&cmd(&["PING"]));
        let mut buf = [0u8; 64];
        matches!(r.stream().read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
    }));
    for r in &mut held {
        r.send(&cmd(&["PING"]));
        r.expect(b"+PONG\r\n");
    }
    let mut r = held.pop().unwrap();
    let rejected = match r.call(&["INFO", "stats"]) {
        Reply::Bulk(Some(b)) => String::from_utf8(b).unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(
        rejected.contains("rejected_connections:1") || rejected.contains("rejected_connections:2"),
        "{rejected}"
    );
}

#[test]
fn oversized_bulk_and_query_buffer_close_only_that_client() {
    if !shardcache_only() {
        return;
    }
    let s = Server::start(&[
        "--proto-max-bulk-len",
        "1mb",
        "--client-query-buffer-limit",
        "2mb",
    ]);
    let mut good = s.raw();
    good.send(&cmd(&["SET", "k", "v"]));
    good.expect(b"+OK\r\n");

    let mut big = s.raw();
    big.send(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000\r\n");
    big.expect(b"-ERR Protocol error: invalid bulk length\r\n");
    big.assert_closed();

    // Under the bulk limit, but more unprocessed input than the query buffer
    // allows: an unterminated multibulk of many 900 KB arguments.
    let mut flood = s.raw();
    let arg = vec![b'a'; 900 * 1024];
    let mut req = b"*10\r\n$3\r\nSET\r\n".to_vec();
    for _ in 0..3 {
        req.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        req.extend_from_slice(&arg);
        req.extend_from_slice(b"\r\n");
    }
    let _ = flood.stream().write_all(&req);
    flood.assert_closed();

    good.send(&cmd(&["GET", "k"]));
    good.expect(b"$1\r\nv\r\n");
}

/// A client that pipelines requests for big values and never reads: the
/// server stops reading from it instead of buffering every reply, and when
/// the client finally reads, every reply is there, in order.
#[test]
fn a_client_that_does_not_read_is_paused_not_buffered() {
    if !shardcache_only() {
        return;
    }
    let s = Server::start(&["--appendonly", "no"]);
    let value = vec![b'v'; 64 * 1024];
    let mut setup = s.raw();
    setup.send(&cmd(&[&b"SET"[..], b"big", &value]));
    setup.expect(b"+OK\r\n");
    let base = s.rss_kb();

    const REQUESTS: usize = 6000; // 6000 x 64 KB = 384 MB of replies
    let stream = TcpStream::connect(s.addr()).unwrap();
    stream.set_nonblocking(true).unwrap();
    let req = cmd(&["GET", "big"]);
    let mut sent = 0;
    let mut partial = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    // Write until the kernel pushes back (the server stopped reading).
    while sent < REQUESTS && Instant::now() < deadline {
        match (&stream).write(&req[partial..]) {
            Ok(n) => {
                partial += n;
                if partial == req.len() {
                    partial = 0;
                    sent += 1;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
                if Instant::now() + Duration::from_secs(4) > deadline {
                    break;
                }
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let grown_mb = s.rss_kb().saturating_sub(base) / 1024;
    println!("{sent} unread requests, server RSS grew {grown_mb} MB");
    // The server reads at most 1 MB of requests ahead and decodes only as
    // many as keep its unsent replies near the 1 MB pause threshold.
    assert!(
        grown_mb < 24,
        "server grew {grown_mb} MB for {sent} unread requests"
    );

    // Now read everything: finish the last request, then count replies.
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    if partial > 0 {
        (&stream).write_all(&req[partial..]).unwrap();
        sent += 1;
    }
    let one = {
        let mut r = format!("${}\r\n", value.len()).into_bytes();
        r.extend_from_slice(&value);
        r.extend_from_slice(b"\r\n");
        r
    };
    let mut got = vec![0u8; one.len()];
    for i in 0..sent {
        (&stream)
            .read_exact(&mut got)
            .unwrap_or_else(|e| panic!("reply {i} of {sent}: {e}"));
        assert!(got == one, "reply {i} differs");
    }
    drop(stream);
    setup.send(&cmd(&["PING"]));
    setup.expect(b"+PONG\r\n");
}

#[test]
fn output_hard_limit_disconnects_a_client_that_does_not_read() {
    if !shardcache_only() {
        return;
    }
    let s = Server::start(&[
        "--appendonly",
        "no",
        "--client-output-pause",
        "0",
        "--client-output-buffer-limit",
        "normal 4mb 0 0",
    ]);
    let value = vec![b'v'; 256 * 1024];
    let mut setup = s.raw();
    setup.send(&cmd(&[&b"SET"[..], b"big", &value]));
    setup.expect(b"+OK\r\n");
    let stream = TcpStream::connect(s.addr()).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut req = Vec::new();
    for _ in 0..200 {
        req.extend_from_slice(&cmd(&["GET", "big"]));
    }
    (&stream).write_all(&req).unwrap();
    // The server closes it: reading eventually hits EOF or a reset long
    // before 200 x 256 KB arrive.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match (&stream).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e} after {total} bytes"),
        }
    }
    assert!(
        total < 200 * value.len(),
        "the client received all {total} bytes"
    );
    setup.send(&cmd(&["GET", "missing"]));
    setup.expect(b"$-1\r\n");
}

#[test]
fn idle_clients_time_out_active_ones_stay() {
    if !shardcache_only() {
        return;
    }
    let s = Server::start(&["--timeout", "1"]);
    let mut idle = s.raw();
    idle.send(&cmd(&["PING"]));
    idle.expect(b"+PONG\r\n");
    let mut active = s.raw();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2600) {
        active.send(&cmd(&["PING"]));
        active.expect(b"+PONG\r\n");
        std::thread::sleep(Duration::from_millis(200));
    }
    idle.assert_closed();
    active.send(&cmd(&["CONFIG", "GET", "timeout"]));
    active.expect(b"*2\r\n$7\r\ntimeout\r\n$1\r\n1\r\n");
}

#[test]
fn rename_command_hides_and_renames() {
    if !shardcache_only() {
        return;
    }
    let s = Server::start(&[
        "--rename-command",
        "FLUSHALL",
        "",
        "--rename-command",
        "CONFIG",
        "cfg-7f3a",
    ]);
    let mut r = s.raw();
    r.send(&cmd(&["SET", "k", "v"]));
    r.expect(b"+OK\r\n");
    r.send(&cmd(&["FLUSHALL"]));
    r.expect(b"-ERR unknown command 'FLUSHALL', with args beginning with: \r\n");
    r.send(&cmd(&["CONFIG", "GET", "maxclients"]));
    r.expect(b"-ERR unknown command 'CONFIG', with args beginning with: 'GET' 'maxclients' \r\n");
    r.send(&cmd(&["CFG-7F3A", "GET", "maxclients"]));
    r.expect(b"*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n");
    r.send(&cmd(&["DBSIZE"]));
    r.expect(b":1\r\n");
}

/// Clients that send a pipeline and vanish before reading leave nothing
/// behind: the server's memory comes back near where it was.
#[test]
fn clients_vanishing_mid_pipeline_leave_nothing_behind() {
    if !shardcache_only() {
        return;
    }
    let s = Server::start(&["--appendonly", "no"]);
    let value = vec![b'x'; 32 * 1024];
    let mut setup = s.raw();
    setup.send(&cmd(&[&b"SET"[..], b"v", &value]));
    setup.expect(b"+OK\r\n");
    // Warm up allocator pools with one round of the same pattern.
    let round = |n: usize| {
        for _ in 0..n {
            let stream = TcpStream::connect(s.addr()).unwrap();
            let mut req = Vec::new();
            for i in 0..200 {
                if i % 2 == 0 {
                    req.extend_from_slice(&cmd(&["GET", "v"]));
                } else {
                    // An unfinished big argument at the end.
                    req.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$100000\r\nabc");
                }
            }
            let _ = (&stream).write_all(&req);
            drop(stream);
        }
    };
    round(20);
    std::thread::sleep(Duration::from_millis(500));
    let base = s.rss_kb();
    round(200);
    std::thread::sleep(Duration::from_millis(1000));
    let after = s.rss_kb();
    assert!(
        after < base + 16 * 1024,
        "RSS went from {base} KB to {after} KB"
    );
    setup.send(&cmd(&["INFO", "clients"]));
    let text = setup.read_reply().bulk_string();
    assert!(text.contains("connected_clients:1\r\n"), "{text}");
}

/// CONFIG REWRITE writes the run-time settings back into the `--config`
/// file, keeps its other lines, and a restart on it comes up with them.
#[test]
fn config_rewrite_keeps_runtime_changes() {
    if !shardcache_only() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sc-rewrite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("shardcache.conf");
    std::fs::write(
        &file,
        "# my settings\nmaxmemory 10mb\nappendonly no\nmaxmemory 20mb\n",
    )
    .unwrap();
    let s = Server::start(&["--config", file.to_str().unwrap()]);
    let mut r = s.raw();
    r.send(&cmd(&[
        "CONFIG",
        "SET",
        "maxmemory",
        "64mb",
        "maxmemory-policy",
        "volatile-ttl",
    ]));
    r.expect(b"+OK\r\n");
    r.send(&cmd(&["CONFIG", "REWRITE"]));
    r.expect(b"+OK\r\n");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# my settings\nmaxmemory 67108864\nappendonly no\n"),
        "{text}"
    );
    assert_eq!(text.matches("maxmemory ").count(), 1, "{text}");
    assert!(text.contains("\nmaxmemory-policy volatile-ttl\n"), "{text}");
    drop(s);
    let s = Server::start(&["--config", file.to_str().unwrap()]);
    let mut r = s.raw();
    r.send(&cmd(&["CONFIG", "GET", "maxmemory-policy"]));
    r.expect(b"*2\r\n$16\r\nmaxmemory-policy\r\n$12\r\nvolatile-ttl\r\n");
    let _ = std::fs::remove_dir_all(&dir);
    // Without a config file Redis refuses.
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.send(&cmd(&["CONFIG", "REWRITE"]));
    r.expect(b"-ERR The server is running without a config file\r\n");
}

/// This host's own non-loopback IPv4 address, if it has one (`hostname -I`).
/// Connections to it never leave the host.
fn own_address() -> Option<String> {
    let out = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .ok()?;
    String::from_utf8(out.stdout)
        .ok()?
        .split_whitespace()
        .find(|a| {
            a.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| !ip.is_loopback())
        })
        .map(str::to_string)
}

/// Protected mode: listening on every interface without a password, a
/// client that does not come from loopback gets Redis's DENIED error; a
/// password (or protected-mode no) lets it in, and loopback is always served.
#[test]
fn protected_mode_denies_non_loopback_clients_without_a_password() {
    if !shardcache_only() {
        return;
    }
    let Some(ip) = own_address() else {
        eprintln!("skipped: this host has no non-loopback address");
        return;
    };
    let s = Server::start(&["--bind", "0.0.0.0"]);
    let outside = format!("{ip}:{}", s.port());
    let r = Raw::connect(&outside);
    let mut got = Vec::new();
    let _ = r.stream().read_to_end(&mut got);
    assert!(
        got.starts_with(b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user.")
            && got.ends_with(b"\r\n"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let mut local = s.raw();
    local.send(&cmd(&["CONFIG", "SET", "requirepass", "pw"]));
    local.expect(b"+OK\r\n");
    let mut r = Raw::connect(&outside);
    r.send(&cmd(&["PING"]));
    r.expect(b"-NOAUTH Authentication required.\r\n");
    r.send(&cmd(&["AUTH", "pw"]));
    r.expect(b"+OK\r\n");
    local.send(&cmd(&[
        "CONFIG",
        "SET",
        "requirepass",
        "",
        "protected-mode",
        "no",
    ]));
    local.expect(b"+OK\r\n");
    let mut r = Raw::connect(&outside);
    r.send(&cmd(&["PING"]));
    r.expect(b"+PONG\r\n");
}

/// Protected mode treats only 127.0.0.1 and ::1 as loopback, as Redis 7.0
/// does (it compares the peer's address text): a client from 127.0.0.2 is
/// refused while no password is set.
#[test]
fn protected_mode_serves_only_127_0_0_1_and_not_the_rest_of_127_8() {
    if !shardcache_only() {
        return;
    }
    let s = Server::start(&["--bind", "0.0.0.0"]);
    let addr = format!("127.0.0.1:{}", s.port());
    let mut other = Raw::connect_from(&addr, "127.0.0.2");
    let mut got = Vec::new();
    let _ = other.stream().read_to_end(&mut got);
    assert!(
        got.starts_with(b"-DENIED Redis is running in protected mode"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let mut local = Raw::connect_from(&addr, "127.0.0.1");
    local.send(&cmd(&["PING"]));
    local.expect(b"+PONG\r\n");
    other = Raw::connect_from(&addr, "127.0.0.2");
    drop(other);
}

/// With a password required, a connection that has not authenticated may
/// not send more than 10 arguments or a bulk over 16 KB (Redis 7.0's
/// limits, byte for byte): the header alone closes it, before the server
/// buffers anything.
#[test]
fn unauthenticated_clients_get_redis_protocol_limits() {
    if !shardcache_only() {
        return;
    }
    let s = Server::start(&["--requirepass", "pw"]);
    let mut r = s.raw();
    r.send(b"*11\r\n");
    r.expect(b"-ERR Protocol error: unauthenticated multibulk length\r\n");
    r.assert_closed();

    let mut r = s.raw();
    r.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n");
    r.expect(b"-ERR Protocol error: unauthenticated bulk length\r\n");
    r.assert_closed();

    // AUTH itself is parsed before it authenticates.
    let mut r = s.raw();
    r.send(b"*3\r\n$4\r\nAUTH\r\n$2\r\npw\r\n$16385\r\n");
    r.expect(b"-ERR Protocol error: unauthenticated bulk length\r\n");
    r.assert_closed();

    // At the limits: served (NOAUTH).
    let mut r = s.raw();
    let mut req = b"*2\r\n$4\r\nECHO\r\n$16384\r\n".to_vec();
    req.extend_from_slice(&[b'a'; 16384]);
    req.extend_from_slice(b"\r\n");
    r.send(&req);
    r.expect(b"-NOAUTH Authentication required.\r\n");
    let ten: Vec<&str> = std::iter::once("MSET").chain(["x"; 9]).collect();
    r.send(&cmd(&ten));
    r.expect(b"-NOAUTH Authentication required.\r\n");

    // Once AUTH passed (even pipelined), no such limits.
    let mut req = cmd(&["AUTH", "pw"]);
    let big = vec![b'b'; 100_000];
    req.extend_from_slice(&cmd(&[&b"SET"[..], b"k", &big]));
    let eleven: Vec<&str> = std::iter::once("MSET").chain(["a"; 10]).collect();
    req.extend_from_slice(&cmd(&eleven));
    r.send(&req);
    r.expect(b"+OK\r\n+OK\r\n+OK\r\n");
    r.send(&cmd(&["STRLEN", "k"]));
    r.expect(b":100000\r\n");
}

/// Each decoded argument's bookkeeping counts toward the query buffer
/// limit: a command of millions of empty arguments, still incomplete, is
/// closed once they pass it (they cost 16 bytes each, their bytes nothing).
#[test]
fn empty_arguments_count_toward_the_query_buffer_limit() {
    if !shardcache_only() {
        return;
    }
    let s = Server::start(&["--client-query-buffer-limit", "1mb"]);
    let mut r = s.raw();
    let mut req = b"*100000000\r\n$3\r\nDEL\r\n".to_vec();
    // 100,000 empty arguments: 600 KB on the wire, 1.6 MB of bookkeeping.
    for _ in 0..100_000 {
        req.extend_from_slice(b"$0\r\n\r\n");
    }
    let _ = r.stream().write_all(&req);
    r.assert_closed();
    let mut good = s.raw();
    good.send(&cmd(&["PING"]));
    good.expect(b"+PONG\r\n");
}
