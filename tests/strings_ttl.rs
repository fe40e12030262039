//! String read-modify-write commands and the TTL family, driven with raw
//! RESP bytes and checked against the exact replies of Redis 7.0.15
//! (`SHARDCACHE_TEST_AGAINST_REDIS=1 cargo test --test strings_ttl` runs the
//! same expectations against a real `redis-server`).

mod common;

use common::{cmd, exchange, parse_info, run, Raw, Reply, Server};
use std::time::{SystemTime, UNIX_EPOCH};

const NOT_INT: &[u8] = b"-ERR value is not an integer or out of range\r\n";
const OVERFLOW: &[u8] = b"-ERR increment or decrement would overflow\r\n";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn int(r: &mut Raw, args: &[&str]) -> i64 {
    r.call(args).int()
}

fn stats(r: &mut Raw) -> (i64, i64) {
    let text = r.call(&["INFO", "stats"]).bulk_string();
    let get = |f: &str| {
        parse_info(&text)
            .into_iter()
            .find(|(k, _)| k == f)
            .map(|(_, v)| v.parse::<i64>().unwrap())
            .unwrap()
    };
    (get("keyspace_hits"), get("keyspace_misses"))
}

// ------------------------------------------------------------------ INCR family

#[test]
fn incr_decr_family() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["INCR", "n"], b":1\r\n"),
            (&["INCR", "n"], b":2\r\n"),
            (&["DECR", "n"], b":1\r\n"),
            (&["DECR", "fresh"], b":-1\r\n"),
            (&["INCRBY", "n", "10"], b":11\r\n"),
            (&["INCRBY", "n", "-20"], b":-9\r\n"),
            (&["DECRBY", "n", "-9"], b":0\r\n"),
            (&["DECRBY", "n", "5"], b":-5\r\n"),
            (&["GET", "n"], b"$2\r\n-5\r\n"),
            (&["SET", "big", "9223372036854775807"], b"+OK\r\n"),
            (&["INCR", "big"], OVERFLOW),
            (&["INCRBY", "big", "0"], b":9223372036854775807\r\n"),
            (&["DECRBY", "big", "-1"], OVERFLOW),
            (&["SET", "small", "-9223372036854775808"], b"+OK\r\n"),
            (&["DECR", "small"], OVERFLOW),
            (&["INCRBY", "small", "-1"], OVERFLOW),
            (&["INCR", "small"], b":-9223372036854775807\r\n"),
            (
                &["DECRBY", "n", "-9223372036854775808"],
                b"-ERR decrement would overflow\r\n",
            ),
            (&["INCRBY", "n", "abc"], NOT_INT),
            (&["INCRBY", "n", "1.5"], NOT_INT),
            (&["INCRBY", "n", "9223372036854775808"], NOT_INT),
            (&["DECRBY", "n", ""], NOT_INT),
            (&["SET", "s", "abc"], b"+OK\r\n"),
            (&["INCR", "s"], NOT_INT),
            (&["SET", "s", " 1"], b"+OK\r\n"),
            (&["INCR", "s"], NOT_INT),
            (&["SET", "s", "01"], b"+OK\r\n"),
            (&["DECR", "s"], NOT_INT),
            (&["SET", "s", "+1"], b"+OK\r\n"),
            (&["INCRBY", "s", "1"], NOT_INT),
            (&["SET", "s", ""], b"+OK\r\n"),
            (&["INCR", "s"], NOT_INT),
            (&["GET", "s"], b"$0\r\n\r\n"),
            (
                &["INCR"],
                b"-ERR wrong number of arguments for 'incr' command\r\n",
            ),
            (
                &["DECR", "a", "b"],
                b"-ERR wrong number of arguments for 'decr' command\r\n",
            ),
            (
                &["INCRBY", "a"],
                b"-ERR wrong number of arguments for 'incrby' command\r\n",
            ),
            (
                &["DECRBY", "a", "1", "2"],
                b"-ERR wrong number of arguments for 'decrby' command\r\n",
            ),
        ],
    );
}

#[test]
fn incrbyfloat() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let not_float = b"-ERR value is not a valid float\r\n".as_slice();
    let nan_inf = b"-ERR increment would produce NaN or Infinity\r\n".as_slice();
    run(
        &mut r,
        &[
            (&["INCRBYFLOAT", "f", "10.5"], b"$4\r\n10.5\r\n"),
            (&["INCRBYFLOAT", "f", "0.1"], b"$4\r\n10.6\r\n"),
            (&["INCRBYFLOAT", "f", "-5.0e1"], b"$5\r\n-39.4\r\n"),
            (&["INCRBYFLOAT", "f", "39.4"], b"$1\r\n0\r\n"),
            (&["SET", "f", "5.0e3"], b"+OK\r\n"),
            (&["INCRBYFLOAT", "f", "2.0e2"], b"$4\r\n5200\r\n"),
            (&["SET", "f", "1.1"], b"+OK\r\n"),
            (&["INCRBYFLOAT", "f", "2.2"], b"$3\r\n3.3\r\n"),
            (
                &["INCRBYFLOAT", "f", "0.00000000000000001"],
                b"$19\r\n3.30000000000000001\r\n",
            ),
            (&["INCRBYFLOAT", "i", "3"], b"$1\r\n3\r\n"),
            (&["INCRBYFLOAT", "i", "0x10"], b"$2\r\n19\r\n"),
            (
                &["INCRBYFLOAT", "i", "-19.000000000000000001"],
                b"$1\r\n0\r\n",
            ),
            (
                &["INCRBYFLOAT", "i", "1e20"],
                b"$21\r\n100000000000000000000\r\n",
            ),
            (&["INCR", "i"], NOT_INT),
            (&["INCRBYFLOAT", "i", "abc"], not_float),
            (&["INCRBYFLOAT", "i", " 1"], not_float),
            (&["INCRBYFLOAT", "i", "1 "], not_float),
            (&["INCRBYFLOAT", "i", ""], not_float),
            (&["INCRBYFLOAT", "i", "nan"], not_float),
            (&["INCRBYFLOAT", "i", "1e5000"], not_float),
            (&["INCRBYFLOAT", "i", "inf"], nan_inf),
            (&["INCRBYFLOAT", "i", "-inf"], nan_inf),
            (&["SET", "s", "abc"], b"+OK\r\n"),
            (&["INCRBYFLOAT", "s", "1"], not_float),
            (&["INCRBYFLOAT", "s", "x"], not_float),
            (&["INCRBYFLOAT", "none", "x"], not_float),
            (&["EXISTS", "none"], b":0\r\n"),
            (&["SET", "t", "1", "EX", "100"], b"+OK\r\n"),
            (&["INCRBYFLOAT", "t", "1.5"], b"$3\r\n2.5\r\n"),
            (&["TTL", "t"], b":100\r\n"),
            (
                &["INCRBYFLOAT", "t"],
                b"-ERR wrong number of arguments for 'incrbyfloat' command\r\n",
            ),
        ],
    );
}

#[test]
fn incr_keeps_ttl() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["SET", "n", "5", "EX", "100"], b"+OK\r\n"),
            (&["INCR", "n"], b":6\r\n"),
            (&["APPEND", "n", "0"], b":2\r\n"),
            (&["SETRANGE", "n", "0", "7"], b":2\r\n"),
            (&["GET", "n"], b"$2\r\n70\r\n"),
            (&["TTL", "n"], b":100\r\n"),
        ],
    );
}

// ------------------------------------------------------------- APPEND, STRLEN

#[test]
fn append_strlen() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["STRLEN", "k"], b":0\r\n"),
            (&["APPEND", "k", "hello"], b":5\r\n"),
            (&["APPEND", "k", " world"], b":11\r\n"),
            (&["APPEND", "k", ""], b":11\r\n"),
            (&["GET", "k"], b"$11\r\nhello world\r\n"),
            (&["STRLEN", "k"], b":11\r\n"),
            (&["APPEND", "e", ""], b":0\r\n"),
            (&["EXISTS", "e"], b":1\r\n"),
            (&["STRLEN", "e"], b":0\r\n"),
            (
                &["APPEND", "k"],
                b"-ERR wrong number of arguments for 'append' command\r\n",
            ),
            (
                &["STRLEN"],
                b"-ERR wrong number of arguments for 'strlen' command\r\n",
            ),
        ],
    );
    // Binary safe.
    exchange(
        &mut r,
        &cmd(&[b"APPEND".as_slice(), b"bin", b"\x00\r\n"]),
        b":3\r\n",
    );
    exchange(&mut r, &cmd(&["GET", "bin"]), b"$3\r\n\x00\r\n\r\n");
}

// ------------------------------------------------ GETSET, GETDEL, SETNX, SETEX

#[test]
fn getset_getdel_setnx() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["GETSET", "k", "a"], b"$-1\r\n"),
            (&["GETSET", "k", "b"], b"$1\r\na\r\n"),
            (&["GET", "k"], b"$1\r\nb\r\n"),
            (&["EXPIRE", "k", "100"], b":1\r\n"),
            (&["GETSET", "k", "c"], b"$1\r\nb\r\n"),
            (&["TTL", "k"], b":-1\r\n"),
            (&["GETDEL", "k"], b"$1\r\nc\r\n"),
            (&["GETDEL", "k"], b"$-1\r\n"),
            (&["EXISTS", "k"], b":0\r\n"),
            (&["SETNX", "k", "1"], b":1\r\n"),
            (&["SETNX", "k", "2"], b":0\r\n"),
            (&["GET", "k"], b"$1\r\n1\r\n"),
            (
                &["GETSET", "k"],
                b"-ERR wrong number of arguments for 'getset' command\r\n",
            ),
            (
                &["GETDEL", "k", "x"],
                b"-ERR wrong number of arguments for 'getdel' command\r\n",
            ),
            (
                &["SETNX", "k"],
                b"-ERR wrong number of arguments for 'setnx' command\r\n",
            ),
        ],
    );
}

#[test]
fn setex_psetex() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let ex_invalid = b"-ERR invalid expire time in 'setex' command\r\n".as_slice();
    let px_invalid = b"-ERR invalid expire time in 'psetex' command\r\n".as_slice();
    run(
        &mut r,
        &[
            (&["SETEX", "k", "100", "v"], b"+OK\r\n"),
            (&["GET", "k"], b"$1\r\nv\r\n"),
            (&["TTL", "k"], b":100\r\n"),
            (&["PSETEX", "p", "100000", "w"], b"+OK\r\n"),
            (&["TTL", "p"], b":100\r\n"),
            (&["SETEX", "k", "0", "v"], ex_invalid),
            (&["SETEX", "k", "-1", "v"], ex_invalid),
            (&["SETEX", "k", "9223372036854775807", "v"], ex_invalid),
            (&["SETEX", "k", "9223372036854775", "v"], ex_invalid),
            (&["PSETEX", "k", "0", "v"], px_invalid),
            (&["PSETEX", "k", "9223372036854775807", "v"], px_invalid),
            (&["SETEX", "k", "x", "v"], NOT_INT),
            (&["PSETEX", "k", "1.0", "v"], NOT_INT),
            (
                &["SETEX", "k", "1"],
                b"-ERR wrong number of arguments for 'setex' command\r\n",
            ),
            (
                &["PSETEX", "k", "1"],
                b"-ERR wrong number of arguments for 'psetex' command\r\n",
            ),
            (&["GET", "k"], b"$1\r\nv\r\n"),
        ],
    );
}

// ------------------------------------------------------- GETRANGE, SETRANGE

#[test]
fn getrange_substr() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["GETRANGE", "none", "0", "-1"], b"$0\r\n\r\n"),
            (&["SET", "k", "This is a string"], b"+OK\r\n"),
            (&["GETRANGE", "k", "0", "3"], b"$4\r\nThis\r\n"),
            (&["GETRANGE", "k", "-3", "-1"], b"$3\r\ning\r\n"),
            (
                &["GETRANGE", "k", "0", "-1"],
                b"$16\r\nThis is a string\r\n",
            ),
            (&["GETRANGE", "k", "10", "100"], b"$6\r\nstring\r\n"),
            (&["GETRANGE", "k", "5", "3"], b"$0\r\n\r\n"),
            (&["GETRANGE", "k", "-1", "-5"], b"$0\r\n\r\n"),
            (&["GETRANGE", "k", "-100", "2"], b"$3\r\nThi\r\n"),
            (&["GETRANGE", "k", "-100", "-100"], b"$1\r\nT\r\n"),
            (&["GETRANGE", "k", "100", "200"], b"$0\r\n\r\n"),
            (
                &[
                    "GETRANGE",
                    "k",
                    "-9223372036854775808",
                    "9223372036854775807",
                ],
                b"$16\r\nThis is a string\r\n",
            ),
            (&["SUBSTR", "k", "0", "3"], b"$4\r\nThis\r\n"),
            (&["GETRANGE", "k", "a", "1"], NOT_INT),
            (&["GETRANGE", "k", "0", "1.5"], NOT_INT),
            (&["SET", "e", ""], b"+OK\r\n"),
            (&["GETRANGE", "e", "0", "-1"], b"$0\r\n\r\n"),
            (
                &["GETRANGE", "k", "0"],
                b"-ERR wrong number of arguments for 'getrange' command\r\n",
            ),
            (
                &["SUBSTR", "k", "0"],
                b"-ERR wrong number of arguments for 'substr' command\r\n",
            ),
        ],
    );
}

#[test]
fn setrange() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["SET", "k", "Hello World"], b"+OK\r\n"),
            (&["SETRANGE", "k", "6", "Redis"], b":11\r\n"),
            (&["GET", "k"], b"$11\r\nHello Redis\r\n"),
            (&["SETRANGE", "k", "11", "!"], b":12\r\n"),
            (&["SETRANGE", "k", "0", ""], b":12\r\n"),
            (&["SETRANGE", "new", "3", "ab"], b":5\r\n"),
            (&["GET", "new"], b"$5\r\n\x00\x00\x00ab\r\n"),
            (&["SETRANGE", "none", "5", ""], b":0\r\n"),
            (&["EXISTS", "none"], b":0\r\n"),
            (
                &["SETRANGE", "k", "-1", "x"],
                b"-ERR offset is out of range\r\n",
            ),
            (&["SETRANGE", "k", "x", "x"], NOT_INT),
            (
                &["SETRANGE", "k", "536870911", "xy"],
                b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
            ),
            (
                &["SETRANGE", "none", "536870912", "x"],
                b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
            ),
            (&["SETRANGE", "none", "536870912", ""], b":0\r\n"),
            (
                &["SETRANGE", "k", "1"],
                b"-ERR wrong number of arguments for 'setrange' command\r\n",
            ),
        ],
    );
}

// ------------------------------------------------------------------- TTL family

#[test]
fn ttl_family() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["TTL", "none"], b":-2\r\n"),
            (&["PTTL", "none"], b":-2\r\n"),
            (&["EXPIRETIME", "none"], b":-2\r\n"),
            (&["PEXPIRETIME", "none"], b":-2\r\n"),
            (&["SET", "k", "v"], b"+OK\r\n"),
            (&["TTL", "k"], b":-1\r\n"),
            (&["PTTL", "k"], b":-1\r\n"),
            (&["EXPIRETIME", "k"], b":-1\r\n"),
            (&["PEXPIRETIME", "k"], b":-1\r\n"),
            (&["PEXPIREAT", "k", "33177117420000"], b":1\r\n"),
            (&["EXPIRETIME", "k"], b":33177117420\r\n"),
            (&["PEXPIREAT", "k", "33177117420499"], b":1\r\n"),
            (&["PEXPIRETIME", "k"], b":33177117420499\r\n"),
            (&["EXPIRETIME", "k"], b":33177117420\r\n"),
            (&["PEXPIREAT", "k", "33177117420500"], b":1\r\n"),
            (&["EXPIRETIME", "k"], b":33177117421\r\n"),
            (&["EXPIREAT", "k", "33177117420"], b":1\r\n"),
            (&["PEXPIRETIME", "k"], b":33177117420000\r\n"),
            (&["EXPIRE", "k", "100"], b":1\r\n"),
            (&["TTL", "k"], b":100\r\n"),
            (&["PERSIST", "k"], b":1\r\n"),
            (&["PERSIST", "k"], b":0\r\n"),
            (&["PERSIST", "none"], b":0\r\n"),
            (&["TTL", "k"], b":-1\r\n"),
            (
                &["TTL"],
                b"-ERR wrong number of arguments for 'ttl' command\r\n",
            ),
            (
                &["PTTL", "a", "b"],
                b"-ERR wrong number of arguments for 'pttl' command\r\n",
            ),
            (
                &["EXPIRETIME"],
                b"-ERR wrong number of arguments for 'expiretime' command\r\n",
            ),
            (
                &["PEXPIRETIME"],
                b"-ERR wrong number of arguments for 'pexpiretime' command\r\n",
            ),
            (
                &["PERSIST"],
                b"-ERR wrong number of arguments for 'persist' command\r\n",
            ),
        ],
    );
    exchange(&mut r, &cmd(&["PEXPIRE", "k", "100000"]), b":1\r\n");
    let pttl = int(&mut r, &["PTTL", "k"]);
    assert!((99_000..=100_000).contains(&pttl), "PTTL {pttl}");
    let at = int(&mut r, &["PEXPIRETIME", "k"]);
    let now = now_ms();
    assert!(
        (now + 99_000..=now + 100_000).contains(&at),
        "PEXPIRETIME {at}"
    );
    let secs = int(&mut r, &["EXPIRETIME", "k"]);
    assert!((secs - (at + 500) / 1000).abs() <= 0, "EXPIRETIME {secs}");
}

#[test]
fn expire_options() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let nx_err =
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n".as_slice();
    let gtlt = b"-ERR GT and LT options at the same time are not compatible\r\n".as_slice();
    run(
        &mut r,
        &[
            (&["EXPIRE", "none", "100"], b":0\r\n"),
            (&["SET", "k", "v"], b"+OK\r\n"),
            // XX, GT on a key without TTL: no; LT: yes (no TTL is infinite).
            (&["EXPIRE", "k", "100", "XX"], b":0\r\n"),
            (&["EXPIRE", "k", "100", "GT"], b":0\r\n"),
            (&["EXPIRE", "k", "100", "LT"], b":1\r\n"),
            (&["PERSIST", "k"], b":1\r\n"),
            (&["EXPIRE", "k", "100", "NX"], b":1\r\n"),
            (&["EXPIRE", "k", "200", "NX"], b":0\r\n"),
            (&["TTL", "k"], b":100\r\n"),
            (&["EXPIRE", "k", "200", "xx"], b":1\r\n"),
            (&["TTL", "k"], b":200\r\n"),
            (&["EXPIRE", "k", "100", "gt"], b":0\r\n"),
            (&["EXPIRE", "k", "300", "GT"], b":1\r\n"),
            (&["TTL", "k"], b":300\r\n"),
            (&["EXPIRE", "k", "400", "LT"], b":0\r\n"),
            (&["EXPIRE", "k", "50", "Lt"], b":1\r\n"),
            (&["TTL", "k"], b":50\r\n"),
            (&["EXPIRE", "k", "60", "XX", "GT"], b":1\r\n"),
            (&["TTL", "k"], b":60\r\n"),
            (&["EXPIRE", "k", "10", "NX", "XX"], nx_err),
            (&["EXPIRE", "k", "10", "NX", "GT"], nx_err),
            (&["EXPIRE", "k", "10", "LT", "NX"], nx_err),
            (&["EXPIRE", "k", "10", "GT", "LT"], gtlt),
            (&["EXPIRE", "k", "10", "XX", "GT", "LT"], gtlt),
            (
                &["EXPIRE", "k", "10", "FOO"],
                b"-ERR Unsupported option FOO\r\n",
            ),
            // Options are checked before the time.
            (
                &["EXPIRE", "k", "abc", "FOO"],
                b"-ERR Unsupported option FOO\r\n",
            ),
            (&["EXPIRE", "k", "abc", "NX", "XX"], nx_err),
            (&["EXPIRE", "k", "abc"], NOT_INT),
            (&["PEXPIRE", "k", "1.5"], NOT_INT),
            (
                &["EXPIRE", "k", "9223372036854775807"],
                b"-ERR invalid expire time in 'expire' command\r\n",
            ),
            (
                &["EXPIRE", "k", "-9223372036854775807"],
                b"-ERR invalid expire time in 'expire' command\r\n",
            ),
            (
                &["PEXPIRE", "k", "9223372036854775807"],
                b"-ERR invalid expire time in 'pexpire' command\r\n",
            ),
            (
                &["EXPIREAT", "k", "9223372036854775807"],
                b"-ERR invalid expire time in 'expireat' command\r\n",
            ),
            (&["PEXPIREAT", "k", "9223372036854775807"], b":1\r\n"),
            (&["PEXPIRETIME", "k"], b":9223372036854775807\r\n"),
            (
                &["EXPIRE", "k"],
                b"-ERR wrong number of arguments for 'expire' command\r\n",
            ),
            (
                &["PEXPIREAT", "k"],
                b"-ERR wrong number of arguments for 'pexpireat' command\r\n",
            ),
            // A deadline in the past (or now) deletes the key and answers 1.
            (&["SET", "a", "v"], b"+OK\r\n"),
            (&["EXPIRE", "a", "0"], b":1\r\n"),
            (&["EXISTS", "a"], b":0\r\n"),
            (&["SET", "a", "v"], b"+OK\r\n"),
            (&["PEXPIRE", "a", "-1000"], b":1\r\n"),
            (&["GET", "a"], b"$-1\r\n"),
            (&["SET", "a", "v"], b"+OK\r\n"),
            (&["EXPIREAT", "a", "1"], b":1\r\n"),
            (&["SET", "a", "v"], b"+OK\r\n"),
            (&["PEXPIREAT", "a", "-5"], b":1\r\n"),
            (&["DBSIZE"], b":1\r\n"),
            // GT with a past deadline is refused first.
            (&["SET", "a", "v", "EX", "100"], b"+OK\r\n"),
            (&["EXPIRE", "a", "-1", "GT"], b":0\r\n"),
            (&["EXPIRE", "a", "-1", "LT"], b":1\r\n"),
            (&["EXISTS", "a"], b":0\r\n"),
        ],
    );
}

#[test]
fn expire_really_expires() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["SET", "k", "v"], b"+OK\r\n"),
            (&["PEXPIRE", "k", "100"], b":1\r\n"),
        ],
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    run(
        &mut r,
        &[(&["GET", "k"], b"$-1\r\n"), (&["TTL", "k"], b":-2\r\n")],
    );
}

// -------------------------------------------------------------- TYPE, TOUCH

#[test]
fn type_and_touch() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["TYPE", "none"], b"+none\r\n"),
            (&["SET", "a", "1"], b"+OK\r\n"),
            (&["SET", "b", "2"], b"+OK\r\n"),
            (&["TYPE", "a"], b"+string\r\n"),
            (&["TOUCH", "a"], b":1\r\n"),
            (&["TOUCH", "a", "b", "c", "a"], b":3\r\n"),
            (&["TOUCH", "x"], b":0\r\n"),
            (
                &["TYPE"],
                b"-ERR wrong number of arguments for 'type' command\r\n",
            ),
            (
                &["TOUCH"],
                b"-ERR wrong number of arguments for 'touch' command\r\n",
            ),
        ],
    );
}

// ------------------------------------------------------- stats, DB, pipelining

#[test]
fn keyspace_hits_and_misses_follow_redis() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["SET", "k", "12"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    // Writes look keys up without counting.
    run(
        &mut r,
        &[
            (&["INCR", "k"], b":13\r\n"),
            (&["INCR", "m"], b":1\r\n"),
            (&["APPEND", "k", "0"], b":3\r\n"),
            (&["SETRANGE", "k", "0", "1"], b":3\r\n"),
            (&["SETNX", "k", "1"], b":0\r\n"),
            (&["EXPIRE", "k", "100"], b":1\r\n"),
            (&["EXPIRE", "nokey", "100"], b":0\r\n"),
            (&["PERSIST", "k"], b":1\r\n"),
        ],
    );
    assert_eq!(stats(&mut r), (0, 0));
    // Reads count.
    run(
        &mut r,
        &[
            (&["STRLEN", "k"], b":3\r\n"),
            (&["STRLEN", "x"], b":0\r\n"),
            (&["GETRANGE", "k", "0", "0"], b"$1\r\n1\r\n"),
            (&["GETRANGE", "x", "0", "0"], b"$0\r\n\r\n"),
            (&["TTL", "k"], b":-1\r\n"),
            (&["PTTL", "x"], b":-2\r\n"),
            (&["TYPE", "k"], b"+string\r\n"),
            (&["TYPE", "x"], b"+none\r\n"),
            (&["TOUCH", "k", "x"], b":1\r\n"),
            (&["GETSET", "m", "5"], b"$1\r\n1\r\n"),
            (&["GETSET", "y", "5"], b"$-1\r\n"),
            (&["GETDEL", "y"], b"$1\r\n5\r\n"),
            (&["GETDEL", "y"], b"$-1\r\n"),
        ],
    );
    assert_eq!(stats(&mut r), (7, 7));
}

#[test]
fn commands_respect_select_and_pipelining() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let mut input = Vec::new();
    for (i, key) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        input.extend(cmd(&["INCRBY", key, &i.to_string()]));
    }
    input.extend(cmd(&["TOUCH", "a", "b", "c", "d", "e", "f", "g"]));
    exchange(
        &mut r,
        &input,
        b":0\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n:6\r\n",
    );
    run(
        &mut r,
        &[
            (&["SELECT", "1"], b"+OK\r\n"),
            (&["INCR", "a"], b":1\r\n"),
            (&["TTL", "b"], b":-2\r\n"),
            (&["SELECT", "0"], b"+OK\r\n"),
            (&["GET", "a"], b"$1\r\n0\r\n"),
        ],
    );
}

#[test]
fn command_table_rows() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let info = r.call(&["COMMAND", "INFO", "incr", "expire", "touch", "getrange"]);
    let rows = info.array();
    let flags = |row: &Reply| -> (i64, Vec<String>) {
        let items = row.clone().array();
        let arity = items[1].clone().int();
        let f = items[2]
            .clone()
            .array()
            .into_iter()
            .map(|f| match f {
                Reply::Simple(s) => s,
                other => panic!("{other:?}"),
            })
            .collect();
        (arity, f)
    };
    assert_eq!(
        flags(&rows[0]),
        (2, vec!["write".into(), "denyoom".into(), "fast".into()])
    );
    assert_eq!(flags(&rows[1]), (-3, vec!["write".into(), "fast".into()]));
    assert_eq!(
        flags(&rows[2]),
        (-2, vec!["readonly".into(), "fast".into()])
    );
    assert_eq!(flags(&rows[3]), (4, vec!["readonly".into()]));
}
