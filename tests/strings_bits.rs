//! GETEX, the bit commands (GETBIT, SETBIT, BITCOUNT, BITPOS), LCS, OBJECT,
//! MEMORY and MOVE, driven with raw RESP bytes and checked against the exact
//! replies of Redis 7.0.15 (`SHARDCACHE_TEST_AGAINST_REDIS=1 cargo test
//! --test strings_bits` runs the same expectations against a real
//! `redis-server`). The few deliberate differences (MEMORY's sizes and the
//! subcommands it serves) branch on `against_redis()`.

mod common;

use common::{against_redis, bulk, cmd, exchange, parse_info, run, Raw, Reply, Server};
use std::time::Duration;

const NOT_INT: &[u8] = b"-ERR value is not an integer or out of range\r\n";
const SYNTAX: &[u8] = b"-ERR syntax error\r\n";
const BAD_OFFSET: &[u8] = b"-ERR bit offset is not an integer or out of range\r\n";
const BAD_BIT: &[u8] = b"-ERR bit is not an integer or out of range\r\n";
const GETEX_INVALID: &[u8] = b"-ERR invalid expire time in 'getex' command\r\n";

/// Runs each `(command with binary arguments, exact reply)` in order.
#[track_caller]
fn run_bin(r: &mut Raw, cases: &[(&[&[u8]], &[u8])]) {
    for (args, reply) in cases {
        exchange(r, &cmd(args), reply);
    }
}

fn arity(name: &str) -> Vec<u8> {
    format!("-ERR wrong number of arguments for '{name}' command\r\n").into_bytes()
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

/// Two key names that `--shards 4` routes to different shards; checked
/// through the routing function itself, so a change of hash cannot quietly
/// turn the cross-shard tests into single-shard ones.
fn cross_shard_pair(prefix: &str) -> (String, String) {
    let router = shards::route::Router::new(4);
    let a = format!("{prefix}:a");
    let b = (0..100)
        .map(|i| format!("{prefix}:b{i}"))
        .find(|k| router.shard_of(k.as_bytes()) != router.shard_of(a.as_bytes()))
        .expect("some name lands on another shard");
    (a, b)
}

// ------------------------------------------------------------------- GETEX

#[test]
fn getex_options_and_errors() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["SET", "k", "v"], b"+OK\r\n"),
            (&["GETEX", "k"], b"$1\r\nv\r\n"),
            (&["TTL", "k"], b":-1\r\n"),
            (&["GETEX", "k", "EX", "100"], b"$1\r\nv\r\n"),
            (&["TTL", "k"], b":100\r\n"),
            (&["GETEX", "k", "px", "200000"], b"$1\r\nv\r\n"),
            (&["TTL", "k"], b":200\r\n"),
            (&["GETEX", "k", "EXAT", "33177117420"], b"$1\r\nv\r\n"),
            (&["PEXPIRETIME", "k"], b":33177117420000\r\n"),
            (&["GETEX", "k", "PXAT", "33177117420123"], b"$1\r\nv\r\n"),
            (&["PEXPIRETIME", "k"], b":33177117420123\r\n"),
            // The same unit twice: the last wins; any case.
            (&["GETEX", "k", "Ex", "10", "eX", "11"], b"$1\r\nv\r\n"),
            (&["TTL", "k"], b":11\r\n"),
            (&["GETEX", "k", "PERSIST"], b"$1\r\nv\r\n"),
            (&["TTL", "k"], b":-1\r\n"),
            (&["GETEX", "k", "persist", "PERSIST"], b"$1\r\nv\r\n"),
            // Syntax: two units, PERSIST with a unit, a unit without time,
            // unknown options, SET's options.
            (&["GETEX", "k", "EX", "10", "PX", "10"], SYNTAX),
            (&["GETEX", "k", "EXAT", "10", "PXAT", "10"], SYNTAX),
            (&["GETEX", "k", "PERSIST", "EX", "10"], SYNTAX),
            (&["GETEX", "k", "EX", "10", "PERSIST"], SYNTAX),
            (&["GETEX", "k", "EX"], SYNTAX),
            (&["GETEX", "k", "PXAT"], SYNTAX),
            (&["GETEX", "k", "foo"], SYNTAX),
            (&["GETEX", "k", "KEEPTTL"], SYNTAX),
            (&["GETEX", "k", "NX"], SYNTAX),
            (&["GETEX", "k", "GET"], SYNTAX),
            (&["GETEX", "none", "foo"], SYNTAX),
            // Bad times: not an integer, not positive, overflowing.
            (&["GETEX", "k", "EX", "abc"], NOT_INT),
            (&["GETEX", "k", "PX", "1.5"], NOT_INT),
            (&["GETEX", "k", "EX", "0"], GETEX_INVALID),
            (&["GETEX", "k", "EX", "-1"], GETEX_INVALID),
            (&["GETEX", "k", "PX", "0"], GETEX_INVALID),
            (&["GETEX", "k", "PXAT", "0"], GETEX_INVALID),
            (&["GETEX", "k", "EXAT", "-5"], GETEX_INVALID),
            (&["GETEX", "k", "EX", "9223372036854776"], GETEX_INVALID),
            (
                &["GETEX", "k", "EXAT", "9223372036854775807"],
                GETEX_INVALID,
            ),
            (&["GETEX", "k", "PX", "9223372036854775807"], GETEX_INVALID),
            (&["TTL", "k"], b":-1\r\n"),
            (
                &["GETEX", "k", "PXAT", "9223372036854775807"],
                b"$1\r\nv\r\n",
            ),
            (&["PEXPIRETIME", "k"], b":9223372036854775807\r\n"),
            // An absent key answers nil before the time is looked at.
            (&["GETEX", "none"], b"$-1\r\n"),
            (&["GETEX", "none", "EX", "abc"], b"$-1\r\n"),
            (&["GETEX", "none", "EX", "0"], b"$-1\r\n"),
            (&["GETEX", "none", "PERSIST"], b"$-1\r\n"),
            (&["EXISTS", "none"], b":0\r\n"),
            (&["GETEX"], &arity("getex")),
        ],
    );
    // Option names are compared as C strings: up to a NUL byte.
    run_bin(
        &mut r,
        &[
            (&[b"GETEX", b"k", b"ex\0junk", b"50"], b"$1\r\nv\r\n"),
            (&[b"TTL", b"k"], b":50\r\n"),
            (&[b"GETEX", b"k", b"PERSIST\0x"], b"$1\r\nv\r\n"),
            (&[b"TTL", b"k"], b":-1\r\n"),
        ],
    );
}

#[test]
fn getex_past_deadline_deletes_and_binary_values() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["SET", "k", "v", "EX", "100"], b"+OK\r\n"),
            (&["GETEX", "k", "EXAT", "1"], b"$1\r\nv\r\n"),
            (&["EXISTS", "k"], b":0\r\n"),
            (&["SET", "k", "v"], b"+OK\r\n"),
            (&["GETEX", "k", "PXAT", "1"], b"$1\r\nv\r\n"),
            (&["GET", "k"], b"$-1\r\n"),
            (&["DBSIZE"], b":0\r\n"),
        ],
    );
    let value = b"\x00\r\n\xff$-1\r\n";
    exchange(&mut r, &cmd(&[&b"SET"[..], b"bin", value]), b"+OK\r\n");
    exchange(
        &mut r,
        &cmd(&["GETEX", "bin", "PX", "100000"]),
        &bulk(value),
    );
    exchange(&mut r, &cmd(&["TTL", "bin"]), b":100\r\n");
    // A short TTL set by GETEX really expires.
    run(
        &mut r,
        &[
            (&["SET", "short", "v"], b"+OK\r\n"),
            (&["GETEX", "short", "PX", "100"], b"$1\r\nv\r\n"),
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    exchange(&mut r, &cmd(&["GET", "short"]), b"$-1\r\n");
}

// ---------------------------------------------------------- GETBIT, SETBIT

#[test]
fn getbit_setbit() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["GETBIT", "none", "0"], b":0\r\n"),
            (&["GETBIT", "none", "4294967295"], b":0\r\n"),
            (&["EXISTS", "none"], b":0\r\n"),
            (&["SETBIT", "k", "7", "1"], b":0\r\n"),
            (&["GET", "k"], b"$1\r\n\x01\r\n"),
            (&["SETBIT", "k", "7", "1"], b":1\r\n"),
            (&["SETBIT", "k", "7", "0"], b":1\r\n"),
            (&["SETBIT", "k", "7", "0"], b":0\r\n"),
            // Growing fills with zero bytes.
            (&["SETBIT", "k", "100", "1"], b":0\r\n"),
            (&["STRLEN", "k"], b":13\r\n"),
            (&["GETBIT", "k", "100"], b":1\r\n"),
            (&["GETBIT", "k", "99"], b":0\r\n"),
            (&["GETBIT", "k", "1000"], b":0\r\n"),
            (
                &["GET", "k"],
                b"$13\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08\r\n",
            ),
            (&["SETBIT", "g", "23", "0"], b":0\r\n"),
            (&["GET", "g"], b"$3\r\n\x00\x00\x00\r\n"),
            // Bits are numbered from the most significant bit.
            (&["SET", "foo", "foobar"], b"+OK\r\n"),
            (&["GETBIT", "foo", "0"], b":0\r\n"),
            (&["GETBIT", "foo", "1"], b":1\r\n"),
            (&["GETBIT", "foo", "2"], b":1\r\n"),
            (&["GETBIT", "foo", "47"], b":0\r\n"),
            (&["GETBIT", "foo", "46"], b":1\r\n"),
            (&["GETBIT", "foo", "48"], b":0\r\n"),
            (&["SETBIT", "foo", "7", "1"], b":0\r\n"),
            (&["GET", "foo"], b"$6\r\ngoobar\r\n"),
            // An integer value is worked on as its digits.
            (&["SET", "num", "12345"], b"+OK\r\n"),
            (&["GETBIT", "num", "2"], b":1\r\n"),
            (&["SETBIT", "num", "6", "1"], b":0\r\n"),
            (&["GET", "num"], b"$5\r\n32345\r\n"),
            // The TTL stays.
            (&["SET", "t", "v", "EX", "100"], b"+OK\r\n"),
            (&["SETBIT", "t", "0", "1"], b":0\r\n"),
            (&["SETBIT", "t", "20", "1"], b":0\r\n"),
            (&["TTL", "t"], b":100\r\n"),
            (&["GET", "t"], b"$3\r\n\xf6\x00\x08\r\n"),
        ],
    );
    // Errors: the offset is checked first, then the bit.
    run(
        &mut r,
        &[
            (&["GETBIT", "k", "-1"], BAD_OFFSET),
            (&["GETBIT", "k", "4294967296"], BAD_OFFSET),
            (&["GETBIT", "k", "abc"], BAD_OFFSET),
            (&["GETBIT", "k", "01"], BAD_OFFSET),
            (&["GETBIT", "k", "+1"], BAD_OFFSET),
            (&["GETBIT", "k", " 1"], BAD_OFFSET),
            (&["GETBIT", "k", "1.0"], BAD_OFFSET),
            (&["GETBIT", "k", "0x1"], BAD_OFFSET),
            (&["GETBIT", "k", ""], BAD_OFFSET),
            (&["GETBIT", "none", "9223372036854775808"], BAD_OFFSET),
            (&["SETBIT", "k", "4294967296", "1"], BAD_OFFSET),
            (&["SETBIT", "k", "-1", "1"], BAD_OFFSET),
            (&["SETBIT", "k", "abc", "2"], BAD_OFFSET),
            (&["SETBIT", "k", "00", "1"], BAD_OFFSET),
            (&["SETBIT", "k", "0", "2"], BAD_BIT),
            (&["SETBIT", "k", "0", "-1"], BAD_BIT),
            (&["SETBIT", "k", "0", "abc"], BAD_BIT),
            (&["SETBIT", "k", "0", "01"], BAD_BIT),
            (&["SETBIT", "k", "0", "+1"], BAD_BIT),
            (&["SETBIT", "k", "0", "-0"], BAD_BIT),
            (&["SETBIT", "k", "0", ""], BAD_BIT),
            (&["SETBIT", "none", "0", "2"], BAD_BIT),
            (&["EXISTS", "none"], b":0\r\n"),
            (&["GETBIT", "k"], &arity("getbit")),
            (&["GETBIT", "k", "1", "2"], &arity("getbit")),
            (&["SETBIT", "k", "1"], &arity("setbit")),
            (&["SETBIT", "k", "1", "1", "1"], &arity("setbit")),
        ],
    );
    // A far offset grows the value to offset / 8 + 1 bytes (1 MB here).
    run(
        &mut r,
        &[
            (&["SETBIT", "big", "8388607", "1"], b":0\r\n"),
            (&["STRLEN", "big"], b":1048576\r\n"),
            (&["GETBIT", "big", "8388607"], b":1\r\n"),
            (&["BITCOUNT", "big"], b":1\r\n"),
            (&["BITPOS", "big", "1"], b":8388607\r\n"),
        ],
    );
}

// ---------------------------------------------------------------- BITCOUNT

#[test]
fn bitcount() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["SET", "k", "foobar"], b"+OK\r\n"),
            (&["BITCOUNT", "k"], b":26\r\n"),
            (&["BITCOUNT", "k", "0", "0"], b":4\r\n"),
            (&["BITCOUNT", "k", "1", "1"], b":6\r\n"),
            (&["BITCOUNT", "k", "1", "1", "BYTE"], b":6\r\n"),
            (&["BITCOUNT", "k", "5", "30", "BIT"], b":17\r\n"),
            (&["BITCOUNT", "k", "5", "30", "bit"], b":17\r\n"),
            (&["BITCOUNT", "k", "9", "9", "BIT"], b":1\r\n"),
            (&["BITCOUNT", "k", "3", "3", "BIT"], b":0\r\n"),
            (&["BITCOUNT", "k", "2", "13", "BIT"], b":7\r\n"),
            (&["BITCOUNT", "k", "-1", "-1"], b":4\r\n"),
            (&["BITCOUNT", "k", "-100", "-1"], b":26\r\n"),
            (&["BITCOUNT", "k", "-1", "-100"], b":0\r\n"),
            (&["BITCOUNT", "k", "4", "2"], b":0\r\n"),
            (&["BITCOUNT", "k", "100", "200"], b":0\r\n"),
            (&["BITCOUNT", "k", "0", "-1", "BIT"], b":26\r\n"),
            (&["BITCOUNT", "k", "-1", "-1", "BIT"], b":0\r\n"),
            (&["BITCOUNT", "k", "-3", "-1", "BIT"], b":1\r\n"),
            (&["BITCOUNT", "k", "-3", "-2", "BIT"], b":1\r\n"),
            (
                &[
                    "BITCOUNT",
                    "k",
                    "-9223372036854775808",
                    "9223372036854775807",
                ],
                b":26\r\n",
            ),
            (
                &[
                    "BITCOUNT",
                    "k",
                    "-9223372036854775808",
                    "9223372036854775807",
                    "BIT",
                ],
                b":26\r\n",
            ),
            (&["SET", "e", ""], b"+OK\r\n"),
            (&["BITCOUNT", "e"], b":0\r\n"),
            (&["BITCOUNT", "e", "0", "-1"], b":0\r\n"),
            (&["BITCOUNT", "e", "0", "-1", "BIT"], b":0\r\n"),
            (&["SET", "num", "255"], b"+OK\r\n"),
            (&["BITCOUNT", "num"], b":11\r\n"),
            // Errors reply only for an existing key, in Redis's order:
            // start, end, unit; a wrong count of arguments is a syntax error.
            (&["BITCOUNT", "k", "0"], SYNTAX),
            (&["BITCOUNT", "k", "0", "1", "2"], SYNTAX),
            (&["BITCOUNT", "k", "0", "1", "BIT", "extra"], SYNTAX),
            (&["BITCOUNT", "k", "a", "b", "c", "d"], SYNTAX),
            (&["BITCOUNT", "k", "0", "1", "foo"], SYNTAX),
            (&["BITCOUNT", "k", "a", "1"], NOT_INT),
            (&["BITCOUNT", "k", "0", "a"], NOT_INT),
            (&["BITCOUNT", "k", "a", "1", "foo"], NOT_INT),
            (&["BITCOUNT", "k", "0", "1.5", "BIT"], NOT_INT),
            (&["BITCOUNT", "none"], b":0\r\n"),
            (&["BITCOUNT", "none", "0"], b":0\r\n"),
            (&["BITCOUNT", "none", "0", "1", "foo"], b":0\r\n"),
            (&["BITCOUNT", "none", "a", "b"], b":0\r\n"),
            (&["BITCOUNT", "none", "0", "1", "BIT", "3"], b":0\r\n"),
            (&["BITCOUNT"], &arity("bitcount")),
        ],
    );
    run_bin(
        &mut r,
        &[
            (&[b"SET", b"bin", b"\xff\x00\x0f\xf0"], b"+OK\r\n"),
            (&[b"BITCOUNT", b"bin"], b":16\r\n"),
            (&[b"BITCOUNT", b"bin", b"4", b"23", b"bit\0x"], b":8\r\n"),
            (&[b"BITCOUNT", b"bin", b"4", b"19", b"BIT"], b":4\r\n"),
        ],
    );
}

// ------------------------------------------------------------------ BITPOS

#[test]
fn bitpos() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let bit_err = b"-ERR The bit argument must be 1 or 0.\r\n".as_slice();
    run(
        &mut r,
        &[
            // An absent key is an endless run of zeros, whatever follows.
            (&["BITPOS", "none", "0"], b":0\r\n"),
            (&["BITPOS", "none", "1"], b":-1\r\n"),
            (&["BITPOS", "none", "1", "a"], b":-1\r\n"),
            (&["BITPOS", "none", "0", "0", "1", "foo"], b":0\r\n"),
            (
                &["BITPOS", "none", "0", "0", "1", "BIT", "extra"],
                b":0\r\n",
            ),
            // ... but the bit is checked first.
            (&["BITPOS", "none", "2"], bit_err),
            (&["BITPOS", "none", "a"], NOT_INT),
            (&["SET", "k", "foobar"], b"+OK\r\n"),
            (&["BITPOS", "k", "2"], bit_err),
            (&["BITPOS", "k", "-1"], bit_err),
            (&["BITPOS", "k", "01"], NOT_INT),
            (&["BITPOS", "k", "1"], b":1\r\n"),
            (&["BITPOS", "k", "0"], b":0\r\n"),
            (&["BITPOS", "k", "1", "2"], b":17\r\n"),
            (&["BITPOS", "k", "1", "2", "-1"], b":17\r\n"),
            (&["BITPOS", "k", "1", "2", "-1", "BYTE"], b":17\r\n"),
            (&["BITPOS", "k", "1", "7", "15", "BIT"], b":9\r\n"),
            (&["BITPOS", "k", "0", "7", "15", "bit"], b":7\r\n"),
            (&["BITPOS", "k", "1", "-1", "-100"], b":-1\r\n"),
            (&["BITPOS", "k", "0", "100"], b":-1\r\n"),
            (&["BITPOS", "k", "1", "100"], b":-1\r\n"),
            (
                &[
                    "BITPOS",
                    "k",
                    "1",
                    "-9223372036854775808",
                    "9223372036854775807",
                    "BIT",
                ],
                b":1\r\n",
            ),
            (&["BITPOS", "k", "0", "-9223372036854775808"], b":0\r\n"),
            (&["BITPOS", "k", "1", "9223372036854775807"], b":-1\r\n"),
            // Errors for an existing key, in Redis's order: start, unit, end.
            (&["BITPOS", "k", "1", "a"], NOT_INT),
            (&["BITPOS", "k", "1", "0", "a"], NOT_INT),
            (&["BITPOS", "k", "1", "a", "0", "foo"], NOT_INT),
            (&["BITPOS", "k", "1", "0", "a", "foo"], SYNTAX),
            (&["BITPOS", "k", "1", "0", "1", "foo"], SYNTAX),
            (&["BITPOS", "k", "1", "0", "1", "BIT", "extra"], SYNTAX),
            (&["BITPOS", "k", "0", "3", "BIT"], NOT_INT),
            (&["BITPOS"], &arity("bitpos")),
            (&["BITPOS", "k"], &arity("bitpos")),
        ],
    );
    // Looking for a 0 in all ones: without an end the string counts as
    // zero-padded (the answer is the first bit past it); with one, -1.
    run_bin(
        &mut r,
        &[
            (&[b"SET", b"ones", b"\xff\xff\xff"], b"+OK\r\n"),
            (&[b"BITPOS", b"ones", b"0"], b":24\r\n"),
            (&[b"BITPOS", b"ones", b"0", b"0"], b":24\r\n"),
            (&[b"BITPOS", b"ones", b"0", b"1"], b":24\r\n"),
            (&[b"BITPOS", b"ones", b"0", b"-1"], b":24\r\n"),
            (&[b"BITPOS", b"ones", b"0", b"0", b"-1"], b":-1\r\n"),
            (&[b"BITPOS", b"ones", b"0", b"0", b"2"], b":-1\r\n"),
            (&[b"BITPOS", b"ones", b"0", b"0", b"-1", b"BIT"], b":-1\r\n"),
            (&[b"BITPOS", b"ones", b"0", b"0", b"23", b"BIT"], b":-1\r\n"),
            (&[b"BITPOS", b"ones", b"1"], b":0\r\n"),
            (
                &[b"BITPOS", b"ones", b"1", b"23", b"23", b"BIT"],
                b":23\r\n",
            ),
            (&[b"SET", b"empty", b""], b"+OK\r\n"),
            (&[b"BITPOS", b"empty", b"0"], b":-1\r\n"),
            (&[b"BITPOS", b"empty", b"1"], b":-1\r\n"),
            (&[b"BITPOS", b"empty", b"0", b"0"], b":-1\r\n"),
            (&[b"SETBIT", b"z", b"20", b"0"], b":0\r\n"),
            (&[b"BITPOS", b"z", b"1"], b":-1\r\n"),
            (&[b"BITPOS", b"z", b"0"], b":0\r\n"),
            (&[b"BITPOS", b"z", b"1", b"0", b"-1", b"BIT"], b":-1\r\n"),
            (
                &[
                    b"SET",
                    b"far",
                    b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01",
                ],
                b"+OK\r\n",
            ),
            (&[b"BITPOS", b"far", b"1"], b":159\r\n"),
            (&[b"BITPOS", b"far", b"1", b"3"], b":159\r\n"),
            (&[b"BITPOS", b"far", b"1", b"3", b"-2"], b":-1\r\n"),
            (&[b"BITPOS", b"far", b"0", b"3", b"-2"], b":24\r\n"),
            (&[b"BITPOS", b"far", b"1", b"0", b"158", b"BIT"], b":-1\r\n"),
            (
                &[b"BITPOS", b"far", b"1", b"0", b"159", b"BIT"],
                b":159\r\n",
            ),
            (
                &[b"BITPOS", b"far", b"1", b"0", b"-1", b"byte\0"],
                b":159\r\n",
            ),
        ],
    );
}

// --------------------------------------------------------------------- LCS

#[test]
fn lcs_replies() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let both = b"-ERR If you want both the length and indexes, please just use IDX.\r\n".as_slice();
    let idx_reply: &[u8] = b"*4\r\n$7\r\nmatches\r\n*2\r\n\
        *2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n\
        *2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n\
        $3\r\nlen\r\n:6\r\n";
    run(
        &mut r,
        &[
            (
                &["MSET", "key1", "ohmytext", "key2", "mynewtext"],
                b"+OK\r\n",
            ),
            (&["LCS", "key1", "key2"], b"$6\r\nmytext\r\n"),
            (&["LCS", "key1", "key2", "LEN"], b":6\r\n"),
            (&["LCS", "key1", "key2", "len", "len"], b":6\r\n"),
            (&["LCS", "key1", "key2", "IDX"], idx_reply),
            (
                &["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"],
                b"*4\r\n$7\r\nmatches\r\n*1\r\n\
                  *2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n\
                  $3\r\nlen\r\n:6\r\n",
            ),
            (
                &[
                    "LCS",
                    "key1",
                    "key2",
                    "idx",
                    "minmatchlen",
                    "4",
                    "withmatchlen",
                ],
                b"*4\r\n$7\r\nmatches\r\n*1\r\n\
                  *3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
                  $3\r\nlen\r\n:6\r\n",
            ),
            (
                &[
                    "LCS",
                    "key1",
                    "key2",
                    "MINMATCHLEN",
                    "-5",
                    "IDX",
                    "WITHMATCHLEN",
                ],
                b"*4\r\n$7\r\nmatches\r\n*2\r\n\
                  *3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
                  *3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n\
                  $3\r\nlen\r\n:6\r\n",
            ),
            (
                &["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "100"],
                b"*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:6\r\n",
            ),
            // WITHMATCHLEN and MINMATCHLEN mean nothing without IDX.
            (
                &["LCS", "key1", "key2", "WITHMATCHLEN"],
                b"$6\r\nmytext\r\n",
            ),
            (&["LCS", "key1", "key2", "LEN", "WithMatchLen"], b":6\r\n"),
            (
                &["LCS", "key1", "key2", "MINMATCHLEN", "3"],
                b"$6\r\nmytext\r\n",
            ),
            (&["LCS", "key2", "key1"], b"$6\r\nmytext\r\n"),
            (&["LCS", "key1", "key1"], b"$8\r\nohmytext\r\n"),
            (
                &["LCS", "key1", "key1", "IDX", "WITHMATCHLEN"],
                b"*4\r\n$7\r\nmatches\r\n*1\r\n\
                  *3\r\n*2\r\n:0\r\n:7\r\n*2\r\n:0\r\n:7\r\n:8\r\n\
                  $3\r\nlen\r\n:8\r\n",
            ),
            // Absent keys are empty strings.
            (&["LCS", "key1", "none"], b"$0\r\n\r\n"),
            (&["LCS", "none", "key1", "LEN"], b":0\r\n"),
            (
                &["LCS", "none", "none2", "IDX"],
                b"*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n",
            ),
            // Errors.
            (&["LCS", "key1", "key2", "LEN", "IDX"], both),
            (&["LCS", "key1", "key2", "IDX", "LEN", "IDX"], both),
            (&["LCS", "key1", "key2", "foo"], SYNTAX),
            (&["LCS", "key1", "key2", "LEN", "foo"], SYNTAX),
            (&["LCS", "key1", "key2", "foo", "LEN", "IDX"], SYNTAX),
            (&["LCS", "key1", "key2", "MINMATCHLEN"], SYNTAX),
            (&["LCS", "key1", "key2", "IDX", "MINMATCHLEN"], SYNTAX),
            (
                &["LCS", "key1", "key2", "MINMATCHLEN", "abc", "LEN", "IDX"],
                NOT_INT,
            ),
            (
                &["LCS", "key1", "key2", "IDX", "LEN", "MINMATCHLEN", "1.5"],
                NOT_INT,
            ),
            (&["LCS", "none", "none2", "foo"], SYNTAX),
            (&["LCS"], &arity("lcs")),
            (&["LCS", "key1"], &arity("lcs")),
        ],
    );
    run_bin(
        &mut r,
        &[
            (&[b"SET", b"b1", b"\x00\r\n\xff\x00abc"], b"+OK\r\n"),
            (&[b"SET", b"b2", b"xx\r\n\x00ab"], b"+OK\r\n"),
            (&[b"LCS", b"b1", b"b2"], b"$5\r\n\r\n\x00ab\r\n"),
            (
                &[b"LCS", b"b1", b"b2", b"IDX", b"WITHMATCHLEN"],
                b"*4\r\n$7\r\nmatches\r\n*2\r\n\
                  *3\r\n*2\r\n:4\r\n:6\r\n*2\r\n:4\r\n:6\r\n:3\r\n\
                  *3\r\n*2\r\n:1\r\n:2\r\n*2\r\n:2\r\n:3\r\n:2\r\n\
                  $3\r\nlen\r\n:5\r\n",
            ),
            (&[b"LCS", b"b1", b"b2", b"idx\0?", b"len"], both),
        ],
    );
    // The transient table is bounded by proto-max-bulk-len (512 MB): two
    // 12000-byte strings would need 576 MB and are refused before any work.
    let big = "a".repeat(12_000);
    run(
        &mut r,
        &[
            (&["SET", "la", &big], b"+OK\r\n"),
            (&["SET", "lb", &big], b"+OK\r\n"),
            (
                &["LCS", "la", "lb", "LEN"],
                b"-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n",
            ),
        ],
    );
}

#[test]
fn lcs_across_shards_counts_lookups_and_keeps_pipeline_order() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let (a, b) = cross_shard_pair("lcs");
    run(
        &mut r,
        &[
            (&["SET", &a, "ACCGGTCGAGTGCGCGGAAGCCGGCCGAA"], b"+OK\r\n"),
            (&["SET", &b, "GTCGTTCGGAATGCCGTTGCTCTGTAAA"], b"+OK\r\n"),
            (&["LCS", &a, &b], b"$20\r\nGTCGTCGGAAGCCGGCCGAA\r\n"),
            (&["LCS", &a, &b, "LEN"], b":20\r\n"),
        ],
    );
    exchange(
        &mut r,
        &cmd(&["LCS", &a, &b, "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]),
        b"*4\r\n$7\r\nmatches\r\n*2\r\n\
          *3\r\n*2\r\n:19\r\n:22\r\n*2\r\n:12\r\n:15\r\n:4\r\n\
          *3\r\n*2\r\n:14\r\n:18\r\n*2\r\n:6\r\n:10\r\n:5\r\n\
          $3\r\nlen\r\n:20\r\n",
    );
    // Pipelined around other commands on both shards, replies stay in order.
    let mut input = cmd(&["GET", &a]);
    input.extend(cmd(&["LCS", &b, &a, "LEN"]));
    input.extend(cmd(&["APPEND", &b, "X"]));
    input.extend(cmd(&["LCS", &a, &b, "LEN"]));
    input.extend(cmd(&["LCS", &a, "nowhere", "IDX"]));
    input.extend(cmd(&["STRLEN", &b]));
    exchange(
        &mut r,
        &input,
        b"$29\r\nACCGGTCGAGTGCGCGGAAGCCGGCCGAA\r\n:20\r\n:29\r\n:20\r\n\
          *4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n:29\r\n",
    );
    // Each key is a read look-up, even when the options are then refused.
    exchange(&mut r, &cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    run(
        &mut r,
        &[
            (&["LCS", &a, &b, "LEN"], b":20\r\n"),
            (&["LCS", &a, "nowhere", "LEN"], b":0\r\n"),
            (&["LCS", &a, &b, "foo"], SYNTAX),
        ],
    );
    assert_eq!(stats(&mut r), (5, 1));
}

// ------------------------------------------------------------------ OBJECT

#[test]
fn object_encoding_refcount_freq() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let enc = |e: &str| bulk(e.as_bytes());
    let long44 = "x".repeat(44);
    let long45 = "x".repeat(45);
    let no_lfu = b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
        Please note that when switching between policies at runtime LRU and LFU data will \
        take some time to adjust.\r\n"
        .as_slice();
    let cases: Vec<(Vec<&str>, Vec<u8>)> = vec![
        (vec!["OBJECT", "ENCODING", "none"], b"$-1\r\n".to_vec()),
        (vec!["OBJECT", "REFCOUNT", "none"], b"$-1\r\n".to_vec()),
        (vec!["OBJECT", "IDLETIME", "none"], b"$-1\r\n".to_vec()),
        (vec!["OBJECT", "FREQ", "none"], b"$-1\r\n".to_vec()),
        // Written whole: int, embstr up to 44 bytes, raw above.
        (vec!["SET", "k", "123"], b"+OK\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "k"], enc("int")),
        (vec!["OBJECT", "encoding", "k"], enc("int")),
        (
            vec!["SET", "k", "-9223372036854775808"],
            b"+OK\r\n".to_vec(),
        ),
        (vec!["OBJECT", "ENCODING", "k"], enc("int")),
        (vec!["SET", "k", "9223372036854775808"], b"+OK\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "k"], enc("embstr")),
        (vec!["SET", "k", "-0"], b"+OK\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "k"], enc("embstr")),
        (vec!["SET", "k", "007"], b"+OK\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "k"], enc("embstr")),
        (vec!["SET", "k", &long44], b"+OK\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "k"], enc("embstr")),
        (vec!["SET", "k", &long45], b"+OK\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "k"], enc("raw")),
        // Modified in place: raw, whatever the content.
        (vec!["SET", "a", "1"], b"+OK\r\n".to_vec()),
        (vec!["APPEND", "a", "2"], b":2\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "a"], enc("raw")),
        (vec!["APPEND", "n", "12"], b":2\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "n"], enc("int")),
        (vec!["APPEND", "n", ""], b":2\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "n"], enc("raw")),
        (vec!["SET", "sr", "abc"], b"+OK\r\n".to_vec()),
        (vec!["SETRANGE", "sr", "0", ""], b":3\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "sr"], enc("embstr")),
        (vec!["SETRANGE", "sr", "0", "x"], b":3\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "sr"], enc("raw")),
        (vec!["SETRANGE", "srn", "1", "1"], b":2\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "srn"], enc("raw")),
        (vec!["SET", "b", "5"], b"+OK\r\n".to_vec()),
        (vec!["SETBIT", "b", "0", "0"], b":0\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "b"], enc("raw")),
        (vec!["SETBIT", "bn", "0", "0"], b":0\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "bn"], enc("raw")),
        (vec!["SET", "b", "5"], b"+OK\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "b"], enc("int")),
        // INCRBYFLOAT never makes an int; INCR always does.
        (vec!["INCRBYFLOAT", "f", "3"], b"$1\r\n3\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "f"], enc("embstr")),
        (vec!["INCR", "f"], b":4\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "f"], enc("int")),
        // TTL changes keep the encoding.
        (vec!["GETEX", "a", "EX", "100"], b"$2\r\n12\r\n".to_vec()),
        (vec!["OBJECT", "ENCODING", "a"], enc("raw")),
        // Shared integers 0..9999 report INT_MAX; anything else 1.
        (vec!["SET", "x", "9999"], b"+OK\r\n".to_vec()),
        (vec!["OBJECT", "REFCOUNT", "x"], b":2147483647\r\n".to_vec()),
        (vec!["OBJECT", "REFCOUNT", "f"], b":2147483647\r\n".to_vec()),
        (vec!["SET", "x", "10000"], b"+OK\r\n".to_vec()),
        (vec!["OBJECT", "REFCOUNT", "x"], b":1\r\n".to_vec()),
        (vec!["SET", "x", "-1"], b"+OK\r\n".to_vec()),
        (vec!["OBJECT", "REFCOUNT", "x"], b":1\r\n".to_vec()),
        (vec!["OBJECT", "REFCOUNT", "a"], b":1\r\n".to_vec()),
        (vec!["OBJECT", "REFCOUNT", "b"], b":2147483647\r\n".to_vec()),
        (vec!["OBJECT", "FREQ", "k"], no_lfu.to_vec()),
        (vec!["OBJECT", "IDLETIME", "k"], b":0\r\n".to_vec()),
        // Subcommands and their own arity.
        (vec!["OBJECT"], arity("object")),
        (
            vec!["OBJECT", "foo"],
            b"-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n".to_vec(),
        ),
        (
            vec!["OBJECT", "foo", "k"],
            b"-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n".to_vec(),
        ),
        (vec!["OBJECT", "ENCODING"], arity("object|encoding")),
        (
            vec!["OBJECT", "ENCODING", "a", "b"],
            arity("object|encoding"),
        ),
        (vec!["OBJECT", "refcount"], arity("object|refcount")),
        (vec!["OBJECT", "IDLETIME"], arity("object|idletime")),
        (vec!["OBJECT", "FREQ", "a", "b"], arity("object|freq")),
        (vec!["OBJECT", "HELP", "x"], arity("object|help")),
    ];
    for (args, reply) in &cases {
        exchange(&mut r, &cmd(args), reply);
    }
    exchange(
        &mut r,
        &cmd(&["OBJECT", "HELP"]),
        b"*15\r\n\
          +OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n\
          +ENCODING <key>\r\n\
          +    Return the kind of internal representation used in order to store the value\r\n\
          +    associated with a <key>.\r\n\
          +FREQ <key>\r\n\
          +    Return the access frequency index of the <key>. The returned integer is\r\n\
          +    proportional to the logarithm of the recent access frequency of the key.\r\n\
          +IDLETIME <key>\r\n\
          +    Return the idle time of the <key>, that is the approximated number of\r\n\
          +    seconds elapsed since the last access to the key.\r\n\
          +REFCOUNT <key>\r\n\
          +    Return the number of references of the value associated with the specified\r\n\
          +    <key>.\r\n\
          +HELP\r\n\
          +    Prints this help.\r\n",
    );
}

#[test]
fn small_integers_are_not_shared_under_maxmemory_with_lru() {
    let s = Server::embedded(&["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["SET", "x", "5"], b"+OK\r\n"),
            (&["OBJECT", "ENCODING", "x"], b"$3\r\nint\r\n"),
            (&["OBJECT", "REFCOUNT", "x"], b":1\r\n"),
            (
                &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"],
                b"+OK\r\n",
            ),
            (&["SET", "y", "5"], b"+OK\r\n"),
            (&["OBJECT", "REFCOUNT", "y"], b":2147483647\r\n"),
        ],
    );
}

#[test]
fn object_idletime_does_not_touch_and_object_counts_lookups() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["SET", "k", "v"], b"+OK\r\n"),
            (&["CONFIG", "RESETSTAT"], b"+OK\r\n"),
            (&["OBJECT", "ENCODING", "k"], b"$6\r\nembstr\r\n"),
            (&["OBJECT", "REFCOUNT", "none"], b"$-1\r\n"),
        ],
    );
    std::thread::sleep(Duration::from_millis(2_100));
    for _ in 0..2 {
        let idle = r.call(&["OBJECT", "IDLETIME", "k"]).int();
        assert!((2..=3).contains(&idle), "OBJECT IDLETIME {idle}");
    }
    assert_eq!(stats(&mut r), (3, 1));
    // A read refreshes it.
    run(
        &mut r,
        &[
            (&["GET", "k"], b"$1\r\nv\r\n"),
            (&["OBJECT", "IDLETIME", "k"], b":0\r\n"),
        ],
    );
}

// ------------------------------------------------------------------ MEMORY

#[test]
fn memory_usage_and_subcommands() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["MEMORY", "USAGE", "none"], b"$-1\r\n"),
            (&["MEMORY", "USAGE", "none", "SAMPLES", "3"], b"$-1\r\n"),
            (&["SET", "k", "v"], b"+OK\r\n"),
            // Options are checked before the look-up.
            (&["MEMORY", "USAGE", "k", "SAMPLES", "-1"], SYNTAX),
            (&["MEMORY", "USAGE", "k", "SAMPLES", "abc"], NOT_INT),
            (&["MEMORY", "USAGE", "k", "SAMPLES"], SYNTAX),
            (&["MEMORY", "USAGE", "k", "foo"], SYNTAX),
            (&["MEMORY", "USAGE", "none", "foo"], SYNTAX),
            (&["MEMORY", "USAGE", "none", "samples", "abc"], NOT_INT),
            (&["MEMORY", "USAGE"], &arity("memory|usage")),
            (&["MEMORY"], &arity("memory")),
            (
                &["MEMORY", "foo"],
                b"-ERR unknown subcommand 'foo'. Try MEMORY HELP.\r\n",
            ),
            (&["MEMORY", "HELP", "x"], &arity("memory|help")),
            (&["MEMORY", "PURGE"], b"+OK\r\n"),
            (&["MEMORY", "PURGE", "x"], &arity("memory|purge")),
        ],
    );
    // Sizes differ from Redis's allocator, but grow with the value and do
    // not count as a keyspace hit.
    exchange(&mut r, &cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    let small = r.call(&["MEMORY", "USAGE", "k"]).int();
    let big_value = "x".repeat(10_000);
    exchange(&mut r, &cmd(&["SET", "big", &big_value]), b"+OK\r\n");
    let big = r.call(&["MEMORY", "USAGE", "big", "SAMPLES", "0"]).int();
    assert!(small > 2 && small < 200, "MEMORY USAGE k = {small}");
    assert!(big > 10_000 && big < 10_400, "MEMORY USAGE big = {big}");
    assert_eq!(stats(&mut r), (0, 0));
    if against_redis() {
        return;
    }
    // shardcache: USAGE is the entry's share of INFO's used_memory.
    let used = |r: &mut Raw| -> i64 {
        let text = r.call(&["INFO", "memory"]).bulk_string();
        parse_info(&text)
            .into_iter()
            .find(|(k, _)| k == "used_memory")
            .map(|(_, v)| v.parse().unwrap())
            .unwrap()
    };
    // Deleting gives back the value's block; the rest of what USAGE counts is
    // the key's slab slot and index share, which the tables keep as capacity.
    let before = used(&mut r);
    exchange(&mut r, &cmd(&["DEL", "big"]), b":1\r\n");
    let freed = before - used(&mut r);
    assert!(
        freed > 10_000 && freed <= big && big - freed < 100,
        "DEL freed {freed}, USAGE said {big}"
    );
    // Redis's help text, byte for byte (DOCTOR and STATS are served: see
    // tests/commands.rs for their contents).
    run(
        &mut r,
        &[(
            &["MEMORY", "MALLOC-STATS"],
            b"$45\r\nStats not supported for the current allocator\r\n",
        )],
    );
    exchange(
        &mut r,
        &cmd(&["MEMORY", "HELP"]),
        b"*14\r\n\
          +MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n\
          +DOCTOR\r\n\
          +    Return memory problems reports.\r\n\
          +MALLOC-STATS\r\n\
          +    Return internal statistics report from the memory allocator.\r\n\
          +PURGE\r\n\
          +    Attempt to purge dirty pages for reclamation by the allocator.\r\n\
          +STATS\r\n\
          +    Return information about the memory usage of the server.\r\n\
          +USAGE <key> [SAMPLES <count>]\r\n\
          +    Return memory in bytes used by <key> and its value. Nested values are\r\n\
          +    sampled up to <count> times (default: 5, 0 means sample all).\r\n\
          +HELP\r\n\
          +    Prints this help.\r\n",
    );
}

// -------------------------------------------------------------------- MOVE

#[test]
fn move_between_databases() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let same = b"-ERR source and destination objects are the same\r\n".as_slice();
    let range = b"-ERR DB index is out of range\r\n".as_slice();
    run(
        &mut r,
        &[
            (&["MOVE", "k", "0"], same),
            (&["MOVE", "k", "16"], range),
            (&["MOVE", "k", "-1"], range),
            (&["MOVE", "k", "abc"], NOT_INT),
            (
                &["MOVE", "k", "2147483648"],
                b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
            ),
            (&["MOVE", "k", "1", "2"], &arity("move")),
            (&["MOVE", "k"], &arity("move")),
            (&["MOVE", "none", "1"], b":0\r\n"),
            // Value and TTL travel; the source loses the key.
            (&["SET", "k", "v", "EX", "100"], b"+OK\r\n"),
            (&["MOVE", "k", "1"], b":1\r\n"),
            (&["EXISTS", "k"], b":0\r\n"),
            (&["DBSIZE"], b":0\r\n"),
            (&["SELECT", "1"], b"+OK\r\n"),
            (&["GET", "k"], b"$1\r\nv\r\n"),
            (&["TTL", "k"], b":100\r\n"),
            (&["DBSIZE"], b":1\r\n"),
            (&["MOVE", "k", "1"], same),
            // An existing destination key wins.
            (&["SELECT", "0"], b"+OK\r\n"),
            (&["SET", "k", "mine"], b"+OK\r\n"),
            (&["MOVE", "k", "1"], b":0\r\n"),
            (&["GET", "k"], b"$4\r\nmine\r\n"),
            (&["SELECT", "1"], b"+OK\r\n"),
            (&["MOVE", "k", "0"], b":0\r\n"),
            (&["GET", "k"], b"$1\r\nv\r\n"),
            // Back and forth, and without a TTL.
            (&["DEL", "k"], b":1\r\n"),
            (&["SET", "p", "1"], b"+OK\r\n"),
            (&["MOVE", "p", "15"], b":1\r\n"),
            (&["SELECT", "15"], b"+OK\r\n"),
            (&["TTL", "p"], b":-1\r\n"),
            (&["OBJECT", "REFCOUNT", "p"], b":2147483647\r\n"),
            (&["MOVE", "p", "1"], b":1\r\n"),
            (&["SELECT", "1"], b"+OK\r\n"),
            (&["GET", "p"], b"$1\r\n1\r\n"),
            (&["SELECT", "0"], b"+OK\r\n"),
        ],
    );
    // Moves do not count as keyspace reads.
    exchange(&mut r, &cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    run(
        &mut r,
        &[
            (&["SET", "m", "x"], b"+OK\r\n"),
            (&["MOVE", "m", "3"], b":1\r\n"),
            (&["MOVE", "m", "3"], b":0\r\n"),
        ],
    );
    assert_eq!(stats(&mut r), (0, 0));
    // A binary key, and an expired key in the destination does not block.
    run_bin(
        &mut r,
        &[
            (&[b"SET", b"\x00k\r\n", b"\xff"], b"+OK\r\n"),
            (&[b"MOVE", b"\x00k\r\n", b"2"], b":1\r\n"),
            (&[b"SELECT", b"2"], b"+OK\r\n"),
            (&[b"GET", b"\x00k\r\n"], b"$1\r\n\xff\r\n"),
            (&[b"SET", b"e", b"old", b"PX", b"100"], b"+OK\r\n"),
            (&[b"SELECT", b"0"], b"+OK\r\n"),
            (&[b"SET", b"e", b"new"], b"+OK\r\n"),
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    run(
        &mut r,
        &[
            (&["MOVE", "e", "2"], b":1\r\n"),
            (&["SELECT", "2"], b"+OK\r\n"),
            (&["GET", "e"], b"$3\r\nnew\r\n"),
        ],
    );
}

// ------------------------------------------------------- stats and the table

#[test]
fn keyspace_hits_and_misses_follow_redis() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["SET", "k", "12"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    // Writes look keys up without counting; errors before the look-up do not count.
    run(
        &mut r,
        &[
            (&["SETBIT", "k", "0", "1"], b":0\r\n"),
            (&["SETBIT", "new", "0", "1"], b":0\r\n"),
            (&["MOVE", "new", "1"], b":1\r\n"),
            (&["GETEX", "k", "foo"], SYNTAX),
            (
                &["BITPOS", "k", "2"],
                b"-ERR The bit argument must be 1 or 0.\r\n",
            ),
            (&["GETBIT", "k", "-1"], BAD_OFFSET),
        ],
    );
    assert_eq!(stats(&mut r), (0, 0));
    run(
        &mut r,
        &[
            (&["GETEX", "k"], b"$2\r\n\xb12\r\n"),
            (&["GETEX", "x"], b"$-1\r\n"),
            (&["GETEX", "x", "EX", "abc"], b"$-1\r\n"),
            (&["GETBIT", "k", "0"], b":1\r\n"),
            (&["GETBIT", "x", "0"], b":0\r\n"),
            (&["BITCOUNT", "k", "a", "b"], NOT_INT),
            (&["BITCOUNT", "x"], b":0\r\n"),
            (&["BITPOS", "k", "1"], b":0\r\n"),
            (&["BITPOS", "x", "1"], b":-1\r\n"),
        ],
    );
    assert_eq!(stats(&mut r), (4, 5));
}

#[test]
fn command_table_rows() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let names = [
        "getex", "getbit", "setbit", "bitcount", "bitpos", "lcs", "move", "object", "memory",
    ];
    let mut args = vec!["COMMAND", "INFO"];
    args.extend(names);
    let rows = r.call(&args).array();
    // Each row as "name arity [flags] first,last,step [acl]".
    let row = |reply: &Reply| -> String {
        let items = reply.clone().array();
        let words = |x: &Reply| -> String {
            let list: Vec<String> = x
                .clone()
                .array()
                .into_iter()
                .map(|f| match f {
                    Reply::Simple(s) => s,
                    other => panic!("{other:?}"),
                })
                .collect();
            list.join(",")
        };
        format!(
            "{} {} [{}] {},{},{} [{}]",
            String::from_utf8(items[0].clone().bulk_bytes()).unwrap(),
            items[1].clone().int(),
            words(&items[2]),
            items[3].clone().int(),
            items[4].clone().int(),
            items[5].clone().int(),
            words(&items[6]),
        )
    };
    let got: Vec<String> = rows.iter().map(row).collect();
    assert_eq!(
        got,
        [
            "getex -2 [write,fast] 1,1,1 [@write,@string,@fast]",
            "getbit 3 [readonly,fast] 1,1,1 [@read,@bitmap,@fast]",
            "setbit 4 [write,denyoom] 1,1,1 [@write,@bitmap,@slow]",
            "bitcount -2 [readonly] 1,1,1 [@read,@bitmap,@slow]",
            "bitpos -3 [readonly] 1,1,1 [@read,@bitmap,@slow]",
            "lcs -3 [readonly] 1,2,1 [@read,@string,@slow]",
            "move 3 [write,fast] 1,1,1 [@keyspace,@write,@fast]",
            "object -2 [] 0,0,0 [@slow]",
            "memory -2 [] 0,0,0 [@slow]",
        ]
    );
    // COMMAND DOCS carries Redis 7.0's summary, since and group.
    let docs = r.call(&["COMMAND", "DOCS", "lcs"]).array();
    let fields = docs[1].clone().array();
    let text: Vec<Vec<u8>> = fields[..6].iter().map(|f| f.clone().bulk_bytes()).collect();
    assert_eq!(
        text,
        [
            &b"summary"[..],
            b"Find longest common substring",
            b"since",
            b"7.0.0",
            b"group",
            b"string"
        ]
    );
}
