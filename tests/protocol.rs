//! RESP framing: pipelining, frames split at every byte, inline commands as
//! telnet sends them, and protocol errors (Redis's exact text, then only that
//! connection closes).

mod common;

use common::{bulk, cmd, exchange, Server};
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- pipelining

#[test]
fn pipeline_10000_set_get_in_one_write() {
    let s = Server::embedded(&["--shards", "4"]);
    let mut r = s.raw();
    const N: usize = 10_000;
    let mut input = Vec::new();
    let mut want = Vec::new();
    for i in 0..N {
        // Values of varying length push the pipeline past 1 MB (several reads).
        let key = format!("k{i}");
        let value = format!("v{i}-{}", "x".repeat(i % 200));
        input.extend_from_slice(&cmd(&["SET", &key, &value]));
        input.extend_from_slice(&cmd(&["GET", &key]));
        want.extend_from_slice(b"+OK\r\n");
        want.extend_from_slice(&bulk(value.as_bytes()));
    }
    input.extend_from_slice(&cmd(&["DBSIZE"]));
    want.extend_from_slice(format!(":{N}\r\n").as_bytes());
    assert!(input.len() > 1 << 20, "pipeline is {} bytes", input.len());
    // One write, from another thread so that reading replies can overlap it.
    let mut w = r.stream().try_clone().unwrap();
    let start = Instant::now();
    let writer = thread::spawn(move || w.write_all(&input));
    r.expect(&want);
    writer.join().unwrap().unwrap();
    eprintln!("10,000 SET + 10,000 GET pipelined in {:?}", start.elapsed());
    // Nothing more arrives.
    r.assert_silent(Duration::from_millis(100));
}

#[test]
fn pipeline_mixed_commands_keep_order_across_shards() {
    let s = Server::embedded(&["--shards", "3", "--workers", "2"]);
    let mut r = s.raw();
    let mut input = Vec::new();
    let mut want = Vec::new();
    for i in 0..500 {
        let (a, b) = (format!("a{i}"), format!("b{i}"));
        input.extend_from_slice(&cmd(&["MSET", &a, "1", &b, "2"]));
        want.extend_from_slice(b"+OK\r\n");
        input.extend_from_slice(&cmd(&["MGET", &b, "nosuch", &a]));
        want.extend_from_slice(b"*3\r\n$1\r\n2\r\n$-1\r\n$1\r\n1\r\n");
        input.extend_from_slice(&cmd(&["PING", &a]));
        want.extend_from_slice(&bulk(a.as_bytes()));
        input.extend_from_slice(&cmd(&["EXISTS", &a, &b, &a]));
        want.extend_from_slice(b":3\r\n");
        input.extend_from_slice(&cmd(&["DEL", &a]));
        want.extend_from_slice(b":1\r\n");
        input.extend_from_slice(&cmd(&["DBSIZE"]));
        want.extend_from_slice(format!(":{}\r\n", i + 1).as_bytes());
        input.extend_from_slice(format!("get {b}\r\n").as_bytes());
        want.extend_from_slice(b"$1\r\n2\r\n");
    }
    exchange(&mut r, &input, &want);
}

#[test]
fn slow_reader_gets_every_reply() {
    // 20 MB of replies queue up while the client does not read.
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let value: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    exchange(&mut r, &cmd(&[b"SET".as_slice(), b"v", &value]), b"+OK\r\n");
    let mut input = Vec::new();
    for _ in 0..200 {
        input.extend_from_slice(&cmd(&["GET", "v"]));
    }
    input.extend_from_slice(&cmd(&["PING"]));
    r.send(&input);
    thread::sleep(Duration::from_millis(300));
    let one = bulk(&value);
    for i in 0..200 {
        let got = r.read_n(one.len());
        assert!(got == one, "reply {i} differs");
    }
    r.expect(b"+PONG\r\n");
    // The connection is still fine afterwards.
    exchange(&mut r, &cmd(&["DBSIZE"]), b":1\r\n");
}

// ---------------------------------------------------------------- split frames

/// A pipeline with multibulk and inline commands, a bulk containing CRLF and
/// an empty bulk, and its exact replies.
fn split_fixture() -> (Vec<u8>, Vec<u8>) {
    let mut input = Vec::new();
    input.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$6\r\na\r\nb\r\n\r\n");
    input.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n");
    input.extend_from_slice(b"set k2 \"x y\"\r\n");
    input.extend_from_slice(b"*3\r\n$4\r\nMGET\r\n$2\r\nk2\r\n$0\r\n\r\n");
    input.extend_from_slice(b"PING\n");
    input.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    let want =
        b"+OK\r\n$6\r\na\r\nb\r\n\r\n+OK\r\n*2\r\n$3\r\nx y\r\n$-1\r\n+PONG\r\n+PONG\r\n".to_vec();
    (input, want)
}

#[test]
fn frames_written_one_byte_at_a_time() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let (input, want) = split_fixture();
    // TCP_NODELAY is set and each byte waits a little: the server reads
    // partial frames and must resume them.
    for &b in &input {
        r.send(&[b]);
        thread::sleep(Duration::from_micros(500));
    }
    r.expect(&want);
    // A 100 KB value in 1000-byte pieces.
    let value: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let big = cmd(&[b"SET".as_slice(), b"big", &value]);
    for chunk in big.chunks(1000) {
        r.send(chunk);
        thread::sleep(Duration::from_micros(200));
    }
    r.expect(b"+OK\r\n");
    exchange(&mut r, &cmd(&["GET", "big"]), &bulk(&value));
}

#[test]
fn frames_split_at_every_boundary() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let (input, want) = split_fixture();
    for split in 1..input.len() {
        r.send(&input[..split]);
        thread::sleep(Duration::from_millis(2));
        r.send(&input[split..]);
        r.expect(&want);
    }
    r.assert_silent(Duration::from_millis(50));
}

// ---------------------------------------------------------------- inline

#[test]
fn inline_commands_like_telnet() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(&mut r, b"set name Drishti\r\n", b"+OK\r\n");
    exchange(&mut r, b"get name\r\n", b"$7\r\nDrishti\r\n");
    // LF-only lines, tabs and repeated spaces between arguments.
    exchange(&mut r, b"GET name\n", b"$7\r\nDrishti\r\n");
    exchange(&mut r, b"  set \t  k1   v1  \n", b"+OK\r\n");
    exchange(&mut r, b"get k1\n", b"$2\r\nv1\r\n");
    // Double quotes: \xHH, \n, \r, \t, \b, \a, \\, \" and unknown escapes.
    exchange(&mut r, b"set k \"a\\x41\\n\"\r\n", b"+OK\r\n");
    exchange(&mut r, b"get k\r\n", b"$3\r\naA\n\r\n");
    exchange(&mut r, b"set k \"\\r\\t\\b\\a\\\\\\\"\\q\"\r\n", b"+OK\r\n");
    exchange(&mut r, b"get k\r\n", b"$7\r\n\r\t\x08\x07\\\"q\r\n");
    exchange(&mut r, b"set k \"\\x4\" \r\n", b"+OK\r\n");
    exchange(&mut r, b"get k\r\n", b"$2\r\nx4\r\n");
    exchange(&mut r, b"set k \"a b\"\r\n", b"+OK\r\n");
    exchange(&mut r, b"get k\r\n", b"$3\r\na b\r\n");
    // Single quotes: only \' is an escape.
    exchange(&mut r, b"set k 'it\\'s'\r\n", b"+OK\r\n");
    exchange(&mut r, b"get k\r\n", b"$4\r\nit's\r\n");
    exchange(&mut r, b"set k 'a\\nb'\r\n", b"+OK\r\n");
    exchange(&mut r, b"get k\r\n", b"$4\r\na\\nb\r\n");
    // Empty quoted arguments.
    exchange(&mut r, b"set k \"\"\r\n", b"+OK\r\n");
    exchange(&mut r, b"get k\r\n", b"$0\r\n\r\n");
    exchange(&mut r, b"ping ''\r\n", b"$0\r\n\r\n");
    // A quoted command name.
    exchange(&mut r, b"\"ping\"\r\n", b"+PONG\r\n");
    // Empty and blank lines are ignored.
    exchange(&mut r, b"\r\n\n   \r\n\t\nPING\r\n", b"+PONG\r\n");
    // Inline and multibulk mixed in one write.
    exchange(
        &mut r,
        b"set a 1\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nexists a a\n",
        b"+OK\r\n$1\r\n1\r\n:2\r\n",
    );
    // A line just under the 64 KB inline limit.
    let mut long = b"set long ".to_vec();
    long.extend_from_slice(&[b'v'; 60_000]);
    long.extend_from_slice(b"\r\n");
    exchange(&mut r, &long, b"+OK\r\n");
    exchange(&mut r, &cmd(&["GET", "long"]), &bulk(&[b'v'; 60_000]));
    // Errors in inline commands are ordinary replies.
    exchange(
        &mut r,
        b"foo bar\r\n",
        b"-ERR unknown command 'foo', with args beginning with: 'bar' \r\n",
    );
    exchange(
        &mut r,
        b"get\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    exchange(&mut r, b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn inline_unbalanced_quotes_close_the_connection() {
    let s = Server::embedded(&[]);
    for line in [
        &b"set k \"abc\r\n"[..],
        b"set k 'abc\r\n",
        b"set k \"a\"b\r\n",
        b"set k 'a'b\r\n",
        b"get \"\\\"\r\n",
    ] {
        let mut r = s.raw();
        r.send(b"PING\r\n");
        r.send(line);
        r.expect(b"+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n");
        r.assert_closed();
    }
    let mut r = s.raw();
    exchange(&mut r, b"DBSIZE\r\n", b":0\r\n");
}

// ---------------------------------------------------------------- protocol errors

/// Sends `bad` (after a few commands in the same write) on one connection while
/// another stays open; expects the PONG, `error`, a close, and the other
/// connection still served.
#[track_caller]
fn protocol_error(s: &Server, bad: &[u8], error: &str) {
    let mut other = s.raw();
    exchange(&mut other, &cmd(&["SET", "other", "1"]), b"+OK\r\n");
    let mut r = s.raw();
    // Commands answered by the worker and by the shards precede the bad frame.
    let mut input = cmd(&["PING"]);
    input.extend_from_slice(&cmd(&["SET", "pe", "v"]));
    input.extend_from_slice(b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n");
    input.extend_from_slice(&cmd(&["MGET", "pe", "other", "nosuch"]));
    input.extend_from_slice(bad);
    r.send(&input);
    let mut want =
        b"+PONG\r\n+OK\r\n$2\r\nhi\r\n*3\r\n$1\r\nv\r\n$1\r\n1\r\n$-1\r\n-ERR Protocol error: "
            .to_vec();
    want.extend_from_slice(error.as_bytes());
    want.extend_from_slice(b"\r\n");
    r.expect(&want);
    r.assert_closed();
    exchange(&mut other, &cmd(&["GET", "other"]), b"$1\r\n1\r\n");
    exchange(&mut other, b"PING\r\n", b"+PONG\r\n");
    let mut fresh = s.raw();
    exchange(&mut fresh, &cmd(&["GET", "other"]), b"$1\r\n1\r\n");
}

#[test]
fn protocol_error_invalid_multibulk_length() {
    let s = Server::embedded(&[]);
    protocol_error(&s, b"*x\r\n", "invalid multibulk length");
    protocol_error(&s, b"*1x\r\n", "invalid multibulk length");
    protocol_error(&s, b"*+1\r\n", "invalid multibulk length");
    protocol_error(&s, b"*3000000000\r\n", "invalid multibulk length");
}

#[test]
fn protocol_error_invalid_bulk_length() {
    let s = Server::embedded(&[]);
    protocol_error(&s, b"*1\r\n$-5\r\n", "invalid bulk length");
    protocol_error(&s, b"*1\r\n$-1\r\n", "invalid bulk length");
    protocol_error(&s, b"*1\r\n$abc\r\n", "invalid bulk length");
    protocol_error(&s, b"*2\r\n$3\r\nGET\r\n$ 1\r\n", "invalid bulk length");
}

#[test]
fn protocol_error_expected_dollar() {
    let s = Server::embedded(&[]);
    protocol_error(&s, b"*1\r\n:1\r\n", "expected '$', got ':'");
    protocol_error(&s, b"*2\r\n$3\r\nGET\r\n+k\r\n", "expected '$', got '+'");
}

#[test]
fn protocol_error_bulk_over_512mb() {
    let s = Server::embedded(&[]);
    protocol_error(&s, b"*1\r\n$536870913\r\n", "invalid bulk length");
    protocol_error(
        &s,
        b"*2\r\n$3\r\nSET\r\n$99999999999\r\n",
        "invalid bulk length",
    );
}

#[test]
fn protocol_error_too_big_inline_request() {
    let s = Server::embedded(&[]);
    let line = vec![b'a'; 70 * 1024];
    protocol_error(&s, &line, "too big inline request");
}

#[test]
fn protocol_error_too_big_count_strings() {
    let s = Server::embedded(&[]);
    let mut mbulk = b"*".to_vec();
    mbulk.extend(vec![b'1'; 70 * 1024]);
    protocol_error(&s, &mbulk, "too big mbulk count string");
    let mut bulk_hdr = b"*1\r\n$".to_vec();
    bulk_hdr.extend(vec![b'1'; 70 * 1024]);
    protocol_error(&s, &bulk_hdr, "too big bulk count string");
}

#[test]
fn protocol_error_split_across_writes() {
    // The bad header arrives in pieces after a complete command.
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    r.send(b"*1\r\n$4\r\nPING\r\n*1\r\n");
    r.expect(b"+PONG\r\n");
    thread::sleep(Duration::from_millis(20));
    r.send(b"$-");
    thread::sleep(Duration::from_millis(20));
    r.send(b"5\r\n");
    r.expect(b"-ERR Protocol error: invalid bulk length\r\n");
    r.assert_closed();
}

#[test]
fn lenient_framing_like_redis() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    // *0 and *-1 are empty commands, silently skipped.
    exchange(&mut r, b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
    // The two bytes after a bulk payload are skipped, not checked.
    exchange(&mut r, b"*1\r\n$4\r\nPINGxx", b"+PONG\r\n");
    // A NUL inside a bulk is data.
    exchange(
        &mut r,
        b"*2\r\n$4\r\nECHO\r\n$3\r\na\0b\r\n",
        b"$3\r\na\0b\r\n",
    );
}

#[test]
fn client_disconnects_mid_frame_and_mid_reply() {
    let s = Server::embedded(&[]);
    // Half a frame, then gone.
    {
        let mut r = s.raw();
        r.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc");
    }
    // A large pipeline whose replies are never read.
    {
        let mut r = s.raw();
        let mut input = Vec::new();
        let value = vec![b'v'; 10_000];
        input.extend_from_slice(&cmd(&[b"SET".as_slice(), b"big", &value]));
        for _ in 0..300 {
            input.extend_from_slice(&cmd(&["GET", "big"]));
        }
        r.send(&input);
        r.expect(b"+OK\r\n");
    }
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["EXISTS", "k", "big"]), b":1\r\n");
    exchange(&mut r, b"PING\r\n", b"+PONG\r\n");
}
