//! Every command, driven with raw RESP bytes and checked against the exact
//! reply bytes Redis 7.0.15 sends; TTLs; binary safety; the `redis` crate and
//! `redis-cli` as real clients.

mod common;

use common::{bulk, cmd, exchange, parse_info, wait_until, Raw, Reply, Server};
use redis::Commands;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// `CONFIG GET pattern` as a map.
fn config_get(raw: &mut Raw, pattern: &str) -> HashMap<String, String> {
    let items = raw.call(&["CONFIG", "GET", pattern]).array();
    assert_eq!(items.len() % 2, 0, "CONFIG GET returns pairs: {items:?}");
    items
        .chunks(2)
        .map(|p| {
            (
                String::from_utf8(p[0].clone().bulk_bytes()).unwrap(),
                String::from_utf8(p[1].clone().bulk_bytes()).unwrap(),
            )
        })
        .collect()
}

/// Runs a timing-dependent check up to three times; `attempt` returns false
/// when the machine was too slow for its margins to mean anything.
fn timing_retry(what: &str, mut attempt: impl FnMut() -> bool) {
    for _ in 0..3 {
        if attempt() {
            return;
        }
    }
    panic!("{what}: too slow three times to check a short TTL");
}

fn info_text(raw: &mut Raw, sections: &[&str]) -> String {
    let mut args = vec!["INFO"];
    args.extend_from_slice(sections);
    raw.call(&args).bulk_string()
}

fn info_field(text: &str, field: &str) -> String {
    parse_info(text)
        .into_iter()
        .find(|(k, _)| k == field)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("INFO has no field {field}:\n{text}"))
}

// ---------------------------------------------------------------- connection

#[test]
fn ping_echo() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(&mut r, b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
    exchange(
        &mut r,
        b"*2\r\n$4\r\nPING\r\n$5\r\nhello\r\n",
        b"$5\r\nhello\r\n",
    );
    exchange(&mut r, b"*2\r\n$4\r\nPING\r\n$0\r\n\r\n", b"$0\r\n\r\n");
    exchange(
        &mut r,
        b"*3\r\n$4\r\nPING\r\n$1\r\na\r\n$1\r\nb\r\n",
        b"-ERR wrong number of arguments for 'ping' command\r\n",
    );
    exchange(
        &mut r,
        b"*2\r\n$4\r\nECHO\r\n$3\r\nhey\r\n",
        b"$3\r\nhey\r\n",
    );
    exchange(
        &mut r,
        b"*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n",
        b"$4\r\na\r\nb\r\n",
    );
    exchange(
        &mut r,
        b"*1\r\n$4\r\nECHO\r\n",
        b"-ERR wrong number of arguments for 'echo' command\r\n",
    );
    exchange(
        &mut r,
        b"*3\r\n$4\r\nECHO\r\n$1\r\na\r\n$1\r\nb\r\n",
        b"-ERR wrong number of arguments for 'echo' command\r\n",
    );
}

#[test]
fn quit_replies_ok_then_closes() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    // Commands after QUIT in the same write are not executed.
    let mut input = cmd(&["SET", "q0", "1"]);
    input.extend_from_slice(&cmd(&["MGET", "q0", "x"]));
    input.extend_from_slice(
        b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$1\r\n1\r\n",
    );
    r.send(&input);
    r.expect(b"+OK\r\n*2\r\n$1\r\n1\r\n$-1\r\n+PONG\r\n+OK\r\n");
    r.assert_closed();
    let mut r2 = s.raw();
    exchange(&mut r2, &cmd(&["EXISTS", "q"]), b":0\r\n");
    // QUIT takes (and ignores) arguments, like Redis.
    exchange(&mut r2, &cmd(&["quit", "now"]), b"+OK\r\n");
    r2.assert_closed();
}

#[test]
fn unknown_command_error_text() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["foo", "a", "b"]),
        b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n",
    );
    exchange(
        &mut r,
        &cmd(&["foo"]),
        b"-ERR unknown command 'foo', with args beginning with: \r\n",
    );
    // Name and arguments are cut to a 128-byte budget; CR/LF become spaces.
    let long = "x".repeat(200);
    let mut want = b"-ERR unknown command 'foo', with args beginning with: '".to_vec();
    want.extend_from_slice(&long.as_bytes()[..128]);
    want.extend_from_slice(b"' \r\n");
    exchange(&mut r, &cmd(&["foo", &long, "y"]), &want);
    exchange(
        &mut r,
        &cmd(&["f\ro", "a\nb"]),
        b"-ERR unknown command 'f o', with args beginning with: 'a b' \r\n",
    );
    // The connection stays usable.
    exchange(&mut r, b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
}

/// Redis copies the bytes of the name and arguments into the error as they are.
#[test]
fn unknown_command_error_keeps_raw_bytes() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        b"*2\r\n$1\r\n\xff\r\n$2\r\n\xfe\x80\r\n",
        b"-ERR unknown command '\xff', with args beginning with: '\xfe\x80' \r\n",
    );
    exchange(
        &mut r,
        b"*2\r\n$6\r\nCONFIG\r\n$1\r\n\xff\r\n",
        b"-ERR unknown subcommand '\xff'. Try CONFIG HELP.\r\n",
    );
    exchange(
        &mut r,
        b"*2\r\n$7\r\nCOMMAND\r\n$1\r\n\xff\r\n",
        b"-ERR unknown subcommand '\xff'. Try COMMAND HELP.\r\n",
    );
    // A multi-byte character cut by the 128-byte limit is cut as bytes.
    let mut name = vec![b'a'; 127];
    name.extend_from_slice("\u{e9}".as_bytes());
    let mut want = b"-ERR unknown command '".to_vec();
    want.extend_from_slice(&name[..128]);
    want.extend_from_slice(b"', with args beginning with: \r\n");
    exchange(&mut r, &cmd(&[&name]), &want);
}

#[test]
fn wrong_arity_errors() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let cases: &[(&[&str], &str)] = &[
        (&["get"], "get"),
        (&["get", "a", "b"], "get"),
        (&["GET"], "get"),
        (&["set", "k"], "set"),
        (&["mget"], "mget"),
        (&["mset"], "mset"),
        (&["mset", "a"], "mset"),
        (&["del"], "del"),
        (&["unlink"], "unlink"),
        (&["exists"], "exists"),
        (&["dbsize", "x"], "dbsize"),
        (&["select"], "select"),
        (&["select", "0", "1"], "select"),
        (&["config"], "config"),
        (&["config", "get"], "config|get"),
        (&["config", "set", "maxmemory"], "config|set"),
        (&["command", "count", "x"], "command|count"),
    ];
    for (args, name) in cases {
        let want = format!("-ERR wrong number of arguments for '{name}' command\r\n");
        r.send(&cmd(args));
        r.expect(want.as_bytes());
    }
}

#[test]
fn command_names_are_case_insensitive() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["pInG"]), b"+PONG\r\n");
    exchange(
        &mut r,
        &cmd(&["SeT", "k", "v", "eX", "100", "nX"]),
        b"+OK\r\n",
    );
    exchange(&mut r, &cmd(&["gEt", "k"]), b"$1\r\nv\r\n");
    exchange(
        &mut r,
        &cmd(&["MgEt", "k", "K"]),
        b"*2\r\n$1\r\nv\r\n$-1\r\n",
    );
    exchange(&mut r, &cmd(&["dBsIzE"]), b":1\r\n");
    exchange(
        &mut r,
        &cmd(&["config", "gEt", "databases"]),
        b"*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n",
    );
    // Keys are not: 'K' and 'k' differ.
    exchange(&mut r, &cmd(&["EXISTS", "K"]), b":0\r\n");
}

// ---------------------------------------------------------------- GET / SET

#[test]
fn get_set_basic() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["GET", "nosuch"]), b"$-1\r\n");
    exchange(&mut r, &cmd(&["SET", "k", "hello"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["GET", "k"]), b"$5\r\nhello\r\n");
    exchange(&mut r, &cmd(&["SET", "k", "bye"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["GET", "k"]), b"$3\r\nbye\r\n");
    // Another connection sees the same data.
    let mut r2 = s.raw();
    exchange(&mut r2, &cmd(&["GET", "k"]), b"$3\r\nbye\r\n");
}

#[test]
fn set_nx_xx_get() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["SET", "k", "1", "XX"]), b"$-1\r\n");
    exchange(&mut r, &cmd(&["EXISTS", "k"]), b":0\r\n");
    exchange(&mut r, &cmd(&["SET", "k", "1", "NX"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["SET", "k", "2", "NX"]), b"$-1\r\n");
    exchange(&mut r, &cmd(&["GET", "k"]), b"$1\r\n1\r\n");
    exchange(&mut r, &cmd(&["SET", "k", "3", "XX"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["GET", "k"]), b"$1\r\n3\r\n");
    // GET returns the old value (nil when there was none).
    exchange(&mut r, &cmd(&["SET", "k", "4", "GET"]), b"$1\r\n3\r\n");
    exchange(&mut r, &cmd(&["SET", "new", "x", "GET"]), b"$-1\r\n");
    exchange(&mut r, &cmd(&["GET", "new"]), b"$1\r\nx\r\n");
    // NX GET (allowed since 7.0): old value back, nothing written.
    exchange(
        &mut r,
        &cmd(&["SET", "k", "5", "NX", "GET"]),
        b"$1\r\n4\r\n",
    );
    exchange(&mut r, &cmd(&["GET", "k"]), b"$1\r\n4\r\n");
    exchange(&mut r, &cmd(&["SET", "k2", "v", "GET", "NX"]), b"$-1\r\n");
    exchange(&mut r, &cmd(&["GET", "k2"]), b"$1\r\nv\r\n");
    // XX GET on a missing key: nil and nothing written.
    exchange(&mut r, &cmd(&["SET", "k3", "v", "XX", "GET"]), b"$-1\r\n");
    exchange(&mut r, &cmd(&["EXISTS", "k3"]), b":0\r\n");
    exchange(
        &mut r,
        &cmd(&["SET", "k", "6", "xx", "get"]),
        b"$1\r\n4\r\n",
    );
    exchange(&mut r, &cmd(&["GET", "k"]), b"$1\r\n6\r\n");
}

#[test]
fn set_expire_options() {
    let s = Server::embedded(&["--shards", "2"]);
    let mut r = s.raw();
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    exchange(&mut r, &cmd(&["SET", "ex", "v", "EX", "100"]), b"+OK\r\n");
    exchange(
        &mut r,
        &cmd(&["SET", "px", "v", "PX", "100000"]),
        b"+OK\r\n",
    );
    let exat = (now_s + 100).to_string();
    let pxat = ((now_s + 100) * 1000).to_string();
    exchange(
        &mut r,
        &cmd(&["SET", "exat", "v", "EXAT", &exat]),
        b"+OK\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["SET", "pxat", "v", "PXAT", &pxat]),
        b"+OK\r\n",
    );
    exchange(&mut r, &cmd(&["SET", "plain", "v"]), b"+OK\r\n");
    exchange(
        &mut r,
        &cmd(&["MGET", "ex", "px", "exat", "pxat", "plain"]),
        b"*5\r\n$1\r\nv\r\n$1\r\nv\r\n$1\r\nv\r\n$1\r\nv\r\n$1\r\nv\r\n",
    );
    let text = info_text(&mut r, &["keyspace"]);
    assert!(
        text.contains("db0:keys=5,expires=4,"),
        "INFO keyspace: {text}"
    );
    // An absolute time in the past deletes the key at once (Redis answers OK).
    exchange(&mut r, &cmd(&["SET", "ex", "v", "EXAT", "1"]), b"+OK\r\n");
    exchange(
        &mut r,
        &cmd(&["SET", "px", "v", "PXAT", "1000"]),
        b"+OK\r\n",
    );
    exchange(&mut r, &cmd(&["EXISTS", "ex", "px"]), b":0\r\n");
    exchange(&mut r, &cmd(&["DBSIZE"]), b":3\r\n");
    // Same unit twice: the last one wins.
    exchange(
        &mut r,
        &cmd(&["SET", "twice", "v", "EX", "1", "EX", "100"]),
        b"+OK\r\n",
    );
    // A plain SET clears the TTL.
    exchange(&mut r, &cmd(&["SET", "exat", "v2"]), b"+OK\r\n");
    let text = info_text(&mut r, &["keyspace"]);
    assert!(
        text.contains("db0:keys=4,expires=2,"),
        "INFO keyspace: {text}"
    );
}

#[test]
fn set_keepttl() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["SET", "k", "v", "PX", "100000"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["SET", "k", "w", "KEEPTTL"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["GET", "k"]), b"$1\r\nw\r\n");
    let text = info_text(&mut r, &["keyspace"]);
    assert!(
        text.contains("db0:keys=1,expires=1,"),
        "KEEPTTL kept the TTL: {text}"
    );
    exchange(&mut r, &cmd(&["SET", "k", "x"]), b"+OK\r\n");
    let text = info_text(&mut r, &["keyspace"]);
    assert!(
        text.contains("db0:keys=1,expires=0,"),
        "plain SET drops the TTL: {text}"
    );
    // The kept TTL still fires.
    timing_retry("KEEPTTL", || {
        let t0 = Instant::now();
        exchange(
            &mut r,
            &cmd(&["SET", "short", "v", "PX", "200"]),
            b"+OK\r\n",
        );
        r.send(&cmd(&["SET", "short", "w", "KEEPTTL", "GET"]));
        let old = r.read_reply();
        r.send(&cmd(&["GET", "short"]));
        let now = r.read_reply();
        if t0.elapsed() >= Duration::from_millis(200) {
            return false;
        }
        assert_eq!(old, Reply::Bulk(Some(b"v".to_vec())));
        assert_eq!(now, Reply::Bulk(Some(b"w".to_vec())));
        std::thread::sleep(Duration::from_millis(400).saturating_sub(t0.elapsed()));
        exchange(&mut r, &cmd(&["GET", "short"]), b"$-1\r\n");
        true
    });
}

#[test]
fn set_option_errors() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let syntax = b"-ERR syntax error\r\n".as_slice();
    let invalid = b"-ERR invalid expire time in 'set' command\r\n".as_slice();
    let not_int = b"-ERR value is not an integer or out of range\r\n".as_slice();
    let cases: &[(&[&str], &[u8])] = &[
        (&["SET", "k", "v", "NX", "XX"], syntax),
        (&["SET", "k", "v", "XX", "NX"], syntax),
        (&["SET", "k", "v", "EX", "10", "PX", "100"], syntax),
        (&["SET", "k", "v", "EX", "10", "EXAT", "100"], syntax),
        (&["SET", "k", "v", "PXAT", "10", "EXAT", "100"], syntax),
        (&["SET", "k", "v", "KEEPTTL", "EX", "10"], syntax),
        (&["SET", "k", "v", "PX", "10", "KEEPTTL"], syntax),
        (&["SET", "k", "v", "EX"], syntax),
        (&["SET", "k", "v", "PX"], syntax),
        (&["SET", "k", "v", "FOO"], syntax),
        (&["SET", "k", "v", "EX", "10", "FOO"], syntax),
        (&["SET", "k", "v", "FOO", "EX", "0"], syntax),
        (&["SET", "k", "v", "EX", "0"], invalid),
        (&["SET", "k", "v", "EX", "-1"], invalid),
        (&["SET", "k", "v", "PX", "0"], invalid),
        (&["SET", "k", "v", "EXAT", "0"], invalid),
        (&["SET", "k", "v", "PXAT", "-5"], invalid),
        (&["SET", "k", "v", "EX", "9223372036854775807"], invalid),
        (&["SET", "k", "v", "EXAT", "9223372036854775807"], invalid),
        (&["SET", "k", "v", "PX", "9223372036854775807"], invalid),
        (&["SET", "k", "v", "EX", "abc"], not_int),
        (&["SET", "k", "v", "EX", "1.5"], not_int),
        (&["SET", "k", "v", "EX", "+1"], not_int),
        (&["SET", "k", "v", "EX", "01"], not_int),
        (&["SET", "k", "v", "PX", "10x"], not_int),
        (&["SET", "k", "v", "EX", "99999999999999999999"], not_int),
        (&["SET", "k", "v", "EX", ""], not_int),
    ];
    for (args, want) in cases {
        r.send(&cmd(args));
        r.expect(want);
    }
    // None of them wrote anything.
    exchange(&mut r, &cmd(&["DBSIZE"]), b":0\r\n");
}

// ---------------------------------------------------------------- keyspace

#[test]
fn del_delete_unlink_counts() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["MSET", "a", "1", "b", "2", "c", "3", "d", "4"]),
        b"+OK\r\n",
    );
    // A key named twice is deleted (and counted) once.
    exchange(&mut r, &cmd(&["DEL", "a", "a", "nosuch"]), b":1\r\n");
    exchange(&mut r, &cmd(&["DEL", "a"]), b":0\r\n");
    exchange(&mut r, &cmd(&["DELETE", "b", "x"]), b":1\r\n");
    exchange(&mut r, &cmd(&["UNLINK", "c", "d", "e"]), b":2\r\n");
    exchange(&mut r, &cmd(&["DBSIZE"]), b":0\r\n");
    exchange(
        &mut r,
        &cmd(&["MGET", "a", "b", "c", "d"]),
        b"*4\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n",
    );
    // Many keys spread over every shard.
    let keys: Vec<String> = (0..50).map(|i| format!("key:{i}")).collect();
    for k in &keys {
        r.send(&cmd(&["SET", k.as_str(), "v"]));
    }
    for _ in &keys {
        r.expect(b"+OK\r\n");
    }
    let mut del = vec!["DEL".to_string()];
    del.extend(keys.iter().cloned());
    del.push("key:0".into());
    exchange(&mut r, &cmd(&del), b":50\r\n");
    exchange(&mut r, &cmd(&["DBSIZE"]), b":0\r\n");
}

#[test]
fn exists_counts_duplicates() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["EXISTS", "k"]), b":0\r\n");
    exchange(&mut r, &cmd(&["SET", "k", "v"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["SET", "j", "v"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["EXISTS", "k"]), b":1\r\n");
    exchange(&mut r, &cmd(&["EXISTS", "k", "k", "k", "nope"]), b":3\r\n");
    exchange(
        &mut r,
        &cmd(&["EXISTS", "k", "j", "k", "j", "x"]),
        b":4\r\n",
    );
}

#[test]
fn mget_mset() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["MGET", "a"]), b"*1\r\n$-1\r\n");
    exchange(
        &mut r,
        &cmd(&["MSET", "a", "1", "b", "22", "c", ""]),
        b"+OK\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["MGET", "a", "nosuch", "b", "c", "a"]),
        b"*5\r\n$1\r\n1\r\n$-1\r\n$2\r\n22\r\n$0\r\n\r\n$1\r\n1\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["MSET", "a", "1", "b"]),
        b"-ERR wrong number of arguments for 'mset' command\r\n",
    );
    // The failed MSET wrote nothing.
    exchange(&mut r, &cmd(&["GET", "b"]), b"$2\r\n22\r\n");
    // The last value of a repeated key wins.
    exchange(&mut r, &cmd(&["MSET", "a", "x", "a", "y"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["GET", "a"]), b"$1\r\ny\r\n");
    exchange(&mut r, &cmd(&["DBSIZE"]), b":3\r\n");
}

#[test]
fn select_dbsize_flushdb_flushall() {
    let s = Server::embedded(&["--shards", "3"]);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["DBSIZE"]), b":0\r\n");
    exchange(
        &mut r,
        &cmd(&["MSET", "a", "0", "b", "0", "c", "0"]),
        b"+OK\r\n",
    );
    exchange(&mut r, &cmd(&["DBSIZE"]), b":3\r\n");
    // Every db from 0 to 15 is selectable and independent.
    for db in 1..16 {
        exchange(&mut r, &cmd(&["SELECT", &db.to_string()]), b"+OK\r\n");
        exchange(&mut r, &cmd(&["GET", "a"]), b"$-1\r\n");
        exchange(&mut r, &cmd(&["DBSIZE"]), b":0\r\n");
        exchange(&mut r, &cmd(&["SET", "a", &db.to_string()]), b"+OK\r\n");
    }
    exchange(&mut r, &cmd(&["SELECT", "7"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["GET", "a"]), b"$1\r\n7\r\n");
    exchange(&mut r, &cmd(&["DBSIZE"]), b":1\r\n");
    exchange(&mut r, &cmd(&["DEL", "a"]), b":1\r\n");
    exchange(&mut r, &cmd(&["SELECT", "0"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["GET", "a"]), b"$1\r\n0\r\n");
    // The selected db belongs to the connection.
    let mut r2 = s.raw();
    exchange(&mut r2, &cmd(&["SELECT", "8"]), b"+OK\r\n");
    exchange(&mut r2, &cmd(&["GET", "a"]), b"$1\r\n8\r\n");
    exchange(&mut r, &cmd(&["GET", "a"]), b"$1\r\n0\r\n");
    // FLUSHDB empties only the selected db.
    exchange(&mut r2, &cmd(&["FLUSHDB"]), b"+OK\r\n");
    exchange(&mut r2, &cmd(&["DBSIZE"]), b":0\r\n");
    exchange(&mut r, &cmd(&["DBSIZE"]), b":3\r\n");
    exchange(&mut r2, &cmd(&["SELECT", "9"]), b"+OK\r\n");
    exchange(&mut r2, &cmd(&["DBSIZE"]), b":1\r\n");
    exchange(&mut r2, &cmd(&["FLUSHDB", "ASYNC"]), b"+OK\r\n");
    exchange(&mut r2, &cmd(&["FLUSHDB", "sync"]), b"+OK\r\n");
    exchange(&mut r2, &cmd(&["FLUSHDB", "now"]), b"-ERR syntax error\r\n");
    exchange(
        &mut r2,
        &cmd(&["FLUSHALL", "a", "b"]),
        b"-ERR syntax error\r\n",
    );
    let text = info_text(&mut r, &["keyspace"]);
    for db in [0, 1, 15] {
        assert!(
            text.contains(&format!("db{db}:keys=")),
            "INFO keyspace: {text}"
        );
    }
    assert!(
        !text.contains("db7:") && !text.contains("db8:") && !text.contains("db9:"),
        "{text}"
    );
    // FLUSHALL empties every db.
    exchange(&mut r, &cmd(&["FLUSHALL"]), b"+OK\r\n");
    for db in 0..16 {
        exchange(&mut r, &cmd(&["SELECT", &db.to_string()]), b"+OK\r\n");
        exchange(&mut r, &cmd(&["DBSIZE"]), b":0\r\n");
    }
    exchange(
        &mut r,
        &cmd(&["INFO", "keyspace"]),
        b"$12\r\n# Keyspace\r\n\r\n",
    );
}

#[test]
fn select_errors() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let range = b"-ERR DB index is out of range\r\n".as_slice();
    let not_int = b"-ERR value is not an integer or out of range\r\n".as_slice();
    for (arg, want) in [
        ("16", range),
        ("-1", range),
        ("abc", not_int),
        ("1.0", not_int),
        ("01", not_int),
        ("", not_int),
    ] {
        r.send(&cmd(&["SELECT", arg]));
        r.expect(want);
    }
    // A failed SELECT leaves the db as it was.
    exchange(&mut r, &cmd(&["SET", "k", "v"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["SELECT", "0"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["GET", "k"]), b"$1\r\nv\r\n");
}

/// Redis parses SELECT's index as a 32-bit int first.
#[test]
fn select_index_outside_i32() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let want = b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n";
    exchange(&mut r, &cmd(&["SELECT", "2147483648"]), want);
    exchange(&mut r, &cmd(&["SELECT", "-2147483649"]), want);
    exchange(&mut r, &cmd(&["SELECT", "100000000000"]), want);
    exchange(
        &mut r,
        &cmd(&["SELECT", "2147483647"]),
        b"-ERR DB index is out of range\r\n",
    );
}

// ---------------------------------------------------------------- INFO

#[test]
fn info_sections_and_fields() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    exchange(&mut other, &cmd(&["PING"]), b"+PONG\r\n");
    exchange(&mut r, &cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["SET", "a", "1"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["SET", "t", "1", "EX", "1000"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["GET", "a"]), b"$1\r\n1\r\n");
    exchange(&mut r, &cmd(&["GET", "nosuch"]), b"$-1\r\n");
    exchange(
        &mut r,
        &cmd(&["MGET", "a", "t", "x"]),
        b"*3\r\n$1\r\n1\r\n$1\r\n1\r\n$-1\r\n",
    );

    let text = info_text(&mut r, &[]);
    for header in [
        "# Server\r\n",
        "# Clients\r\n",
        "# Memory\r\n",
        "# Stats\r\n",
        "# Keyspace\r\n",
    ] {
        assert!(text.contains(header), "INFO lacks {header:?}:\n{text}");
    }
    assert!(text.starts_with("# Server\r\n"), "{text}");
    assert!(text.ends_with("\r\n"), "{text}");
    assert_eq!(info_field(&text, "redis_version"), "7.0.15");
    assert_eq!(info_field(&text, "tcp_port"), s.port().to_string());
    assert_eq!(info_field(&text, "connected_clients"), "2");
    assert!(info_field(&text, "used_memory").parse::<u64>().unwrap() > 0);
    assert_eq!(info_field(&text, "keyspace_hits"), "3");
    assert_eq!(info_field(&text, "keyspace_misses"), "2");
    assert_eq!(info_field(&text, "evicted_keys"), "0");
    assert_eq!(info_field(&text, "maxmemory"), "0");
    assert!(
        info_field(&text, "db0").starts_with("keys=2,expires=1,avg_ttl="),
        "{text}"
    );

    // One section only.
    let text = info_text(&mut r, &["keyspace"]);
    assert!(
        text.starts_with("# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl="),
        "{text}"
    );
    assert!(!text.contains("# Server"), "{text}");
    let text = info_text(&mut r, &["STATS"]);
    assert!(
        text.starts_with("# Stats\r\n") && text.contains("keyspace_hits:"),
        "{text}"
    );
    let text = info_text(&mut r, &["memory", "clients"]);
    assert!(
        text.contains("# Memory\r\n") && text.contains("# Clients\r\n"),
        "{text}"
    );
    assert!(!text.contains("# Stats"), "{text}");
    assert!(
        text.contains("\r\nused_memory:") && text.contains("\r\nmaxmemory_policy:"),
        "{text}"
    );
    // Unknown sections select nothing.
    exchange(&mut r, &cmd(&["INFO", "nosuch"]), b"$0\r\n\r\n");

    // connected_clients follows closes.
    drop(other);
    assert!(
        wait_until(Duration::from_secs(2), || {
            info_field(&info_text(&mut r, &["clients"]), "connected_clients") == "1"
        }),
        "connected_clients did not drop to 1"
    );
}

#[test]
fn info_keyspace_exact_bytes() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["INFO", "keyspace"]),
        b"$12\r\n# Keyspace\r\n\r\n",
    );
    exchange(&mut r, &cmd(&["SET", "a", "1"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["SELECT", "3"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["MSET", "a", "1", "b", "2"]), b"+OK\r\n");
    exchange(
        &mut r,
        &cmd(&["INFO", "keyspace"]),
        b"$76\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\ndb3:keys=2,expires=0,avg_ttl=0\r\n\r\n",
    );
}

/// Redis counts SET ... GET as a read: a hit when the key existed, a miss otherwise.
#[test]
fn info_set_get_counts_keyspace_hits() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["SET", "a", "1"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["SET", "a", "2", "GET"]), b"$1\r\n1\r\n");
    exchange(&mut r, &cmd(&["SET", "b", "2", "GET"]), b"$-1\r\n");
    let text = info_text(&mut r, &["stats"]);
    assert_eq!(info_field(&text, "keyspace_hits"), "1", "{text}");
    assert_eq!(info_field(&text, "keyspace_misses"), "1", "{text}");
}

/// Redis counts a command in `total_commands_processed` after it runs: not
/// the INFO being rendered, and not commands rejected before running
/// (unknown, wrong arity); those count in `total_error_replies`.
#[test]
fn info_stats_counts_commands_and_errors_like_redis() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        b"PING\r\nPING\r\nPING\r\n",
        b"+PONG\r\n+PONG\r\n+PONG\r\n",
    );
    exchange(
        &mut r,
        b"nosuch\r\nget\r\n",
        b"-ERR unknown command 'nosuch', with args beginning with: \r\n-ERR wrong number of arguments for 'get' command\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["SELECT", "99"]),
        b"-ERR DB index is out of range\r\n",
    );
    let text = info_text(&mut r, &["stats"]);
    // 3 PINGs and the failing SELECT ran; the unknown command and the arity error did not.
    assert_eq!(info_field(&text, "total_commands_processed"), "4", "{text}");
    assert_eq!(info_field(&text, "total_error_replies"), "3", "{text}");
}

#[test]
fn config_resetstat_resets_connection_count() {
    let s = Server::embedded(&[]);
    for _ in 0..3 {
        let mut r = s.raw();
        exchange(&mut r, b"PING\r\n", b"+PONG\r\n");
    }
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    // Only the connection INFO opens counts now.
    assert_eq!(s.info_int("stats", "total_connections_received"), 1);
}

// ---------------------------------------------------------------- CONFIG

#[test]
fn config_get_parameters() {
    let s = Server::embedded(&[
        "--maxmemory",
        "1mb",
        "--maxmemory-policy",
        "volatile-ttl",
        "--appendonly",
        "no",
        "--appendfsync",
        "always",
    ]);
    let mut r = s.raw();
    let port = s.port().to_string();
    let want = format!("*2\r\n$4\r\nport\r\n${}\r\n{port}\r\n", port.len()).into_bytes();
    exchange(&mut r, &cmd(&["CONFIG", "GET", "port"]), &want);
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "maxmemory"]),
        b"*2\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "maxmemory-policy"]),
        b"*2\r\n$16\r\nmaxmemory-policy\r\n$12\r\nvolatile-ttl\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "save"]),
        b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "appendonly"]),
        b"*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "appendfsync"]),
        b"*2\r\n$11\r\nappendfsync\r\n$6\r\nalways\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "databases"]),
        b"*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n",
    );
    exchange(&mut r, &cmd(&["CONFIG", "GET", "nosuch"]), b"*0\r\n");
    // A glob pattern: every match, as name/value pairs.
    let m = config_get(&mut r, "maxmemory*");
    assert_eq!(
        m.get("maxmemory").map(String::as_str),
        Some("1048576"),
        "{m:?}"
    );
    assert_eq!(
        m.get("maxmemory-policy").map(String::as_str),
        Some("volatile-ttl"),
        "{m:?}"
    );
    assert!(m.keys().all(|k| k.starts_with("maxmemory")), "{m:?}");
    let m = config_get(&mut r, "app*");
    assert_eq!(m.get("appendonly").map(String::as_str), Some("no"), "{m:?}");
    assert_eq!(
        m.get("appendfsync").map(String::as_str),
        Some("always"),
        "{m:?}"
    );
    let m = config_get(&mut r, "*");
    for name in [
        "port",
        "maxmemory",
        "maxmemory-policy",
        "save",
        "appendonly",
        "appendfsync",
        "databases",
    ] {
        assert!(m.contains_key(name), "CONFIG GET * lacks {name}: {m:?}");
    }
    // Several patterns in one call.
    r.send(&cmd(&["CONFIG", "GET", "port", "databases"]));
    let items = r.read_reply().array();
    assert_eq!(items.len(), 4, "{items:?}");
    exchange(
        &mut r,
        &cmd(&["CONFIG", "FOO"]),
        b"-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n",
    );
}

#[test]
fn config_set_maxmemory_policy() {
    let s = Server::embedded(&["--shards", "1", "--max-keys", "1"]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "maxmemory-policy"]),
        b"*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n",
    );
    // allkeys-lru: the second key evicts the first.
    exchange(&mut r, &cmd(&["SET", "a", "1"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["SET", "b", "1"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["EXISTS", "a", "b"]), b":1\r\n");
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]),
        b"+OK\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "maxmemory-policy"]),
        b"*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n",
    );
    assert_eq!(
        info_field(&info_text(&mut r, &["memory"]), "maxmemory_policy"),
        "noeviction"
    );
    // noeviction: a new key is refused, the existing one can still be overwritten.
    exchange(
        &mut r,
        &cmd(&["SET", "c", "1"]),
        b"-OOM command not allowed when used memory > 'maxmemory'.\r\n",
    );
    exchange(&mut r, &cmd(&["SET", "b", "2"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["GET", "b"]), b"$1\r\n2\r\n");
    // Case-insensitive values; back to an evicting policy.
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "MAXMEMORY-POLICY", "ALLKEYS-RANDOM"]),
        b"+OK\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "maxmemory-policy"]),
        b"*2\r\n$16\r\nmaxmemory-policy\r\n$14\r\nallkeys-random\r\n",
    );
    exchange(&mut r, &cmd(&["SET", "c", "1"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["DBSIZE"]), b":1\r\n");
    // A bad value changes nothing.
    r.send(&cmd(&["CONFIG", "SET", "maxmemory-policy", "sometimes"]));
    match r.read_reply() {
        Reply::Error(e) => assert!(
            e.starts_with(
                "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: "
            ),
            "{e}"
        ),
        other => panic!("expected an error, got {other:?}"),
    }
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "maxmemory-policy"]),
        b"*2\r\n$16\r\nmaxmemory-policy\r\n$14\r\nallkeys-random\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "nosuch", "1"]),
        b"-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n",
    );
}

#[test]
fn config_set_bad_policy_error_text() {
    // Redis's text and order.
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "maxmemory-policy", "sometimes"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]),
        b"+OK\r\n",
    );
}

#[test]
fn worker_spin_is_a_setting_and_loses_no_request() {
    // A worker that spins polls its sockets without sleeping: requests
    // that arrive during the spin, on any connection, are answered exactly
    // like those that wake it (an event taken by a spinning poll and then
    // overwritten by the next poll would hang its connection here).
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "worker-spin-us"]),
        b"*2\r\n$14\r\nworker-spin-us\r\n$2\r\n20\r\n",
    );
    for bad in ["1001", "-1", "x"] {
        let want = if bad == "x" {
            "argument couldn't be parsed into an integer"
        } else {
            "argument must be between 0 and 1000 inclusive"
        };
        exchange(
            &mut r,
            &cmd(&["CONFIG", "SET", "worker-spin-us", bad]),
            format!("-ERR CONFIG SET failed (possibly related to argument 'worker-spin-us') - {want}\r\n").as_bytes(),
        );
    }
    let mut conns: Vec<Raw> = (0..8).map(|_| s.raw()).collect();
    for (pass, spin) in ["0", "1000", "20"].into_iter().enumerate() {
        exchange(
            &mut r,
            &cmd(&["CONFIG", "SET", "worker-spin-us", spin]),
            b"+OK\r\n",
        );
        for round in 1..=200 {
            for (i, c) in conns.iter_mut().enumerate() {
                c.send_cmd(&["INCR", &format!("spin:{i}")]);
                if round % 7 == 0 {
                    // Arrivals spread over the spin, not in one burst.
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
            }
            for c in conns.iter_mut() {
                c.expect(format!(":{}\r\n", pass * 200 + round).as_bytes());
            }
        }
    }
}

#[test]
fn config_get_exact_name_echoes_argument() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "DATABASES"]),
        b"*2\r\n$9\r\nDATABASES\r\n$2\r\n16\r\n",
    );
}

#[test]
fn config_get_maxmemory_glob_matches_redis_names() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let m = config_get(&mut r, "maxmemory*");
    let mut names: Vec<&str> = m.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "maxmemory",
            "maxmemory-clients",
            "maxmemory-eviction-tenacity",
            "maxmemory-policy",
            "maxmemory-samples"
        ]
    );
}

#[test]
fn config_set_duplicate_parameter() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "maxmemory", "1mb", "MAXMEMORY", "2mb"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'MAXMEMORY') - duplicate parameter\r\n",
    );
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "maxmemory"]),
        b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n",
    );
}

#[test]
fn config_set_odd_arguments_is_syntax_error() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "maxmemory", "1mb", "maxmemory-policy"]),
        b"-ERR syntax error\r\n",
    );
}

#[test]
fn config_set_unknown_option_keeps_case() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "NoSuch", "1"]),
        b"-ERR Unknown option or number of arguments for CONFIG SET - 'NoSuch'\r\n",
    );
}

#[test]
fn config_help_with_argument_is_arity_error() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["CONFIG", "HELP", "x"]),
        b"-ERR wrong number of arguments for 'config|help' command\r\n",
    );
}

// ---------------------------------------------------------------- COMMAND

#[test]
fn command_count_info_docs() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let count = r.call(&["COMMAND", "COUNT"]).int();
    let all = r.call(&["COMMAND"]).array();
    assert_eq!(all.len() as i64, count);
    // COMMAND LIST also names subcommands (`config|get`) in Redis: at least COUNT entries.
    let list = r.call(&["COMMAND", "LIST"]).array();
    assert!(list.len() as i64 >= count, "{list:?}");
    let names: Vec<String> = list.into_iter().map(Reply::bulk_string).collect();
    for name in [
        "ping", "echo", "quit", "select", "get", "set", "mget", "mset", "del", "unlink", "exists",
        "dbsize", "flushdb", "flushall", "info", "config", "command",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "COMMAND LIST lacks {name}: {names:?}"
        );
    }
    // COMMAND INFO get: the first seven fields are Redis's exactly.
    r.send(&cmd(&["COMMAND", "INFO", "get"]));
    r.expect(
        b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n",
    );
    let _key_specs = r.read_reply().array();
    r.expect(b"*0\r\n");
    r.send(&cmd(&["command", "info", "set", "nosuch"]));
    r.expect(
        b"*2\r\n*10\r\n$3\r\nset\r\n:-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@write\r\n+@string\r\n+@slow\r\n*0\r\n",
    );
    let _key_specs = r.read_reply().array();
    r.expect(b"*0\r\n$-1\r\n");
    // COMMAND DOCS get: a name/doc-map pair with summary, since and group.
    let docs = r.call(&["COMMAND", "DOCS", "get"]).array();
    assert_eq!(docs.len(), 2, "{docs:?}");
    assert_eq!(docs[0].clone().bulk_string(), "get");
    let fields = docs[1].clone().array();
    let map: HashMap<String, Reply> = fields
        .chunks(2)
        .map(|p| (p[0].clone().bulk_string(), p[1].clone()))
        .collect();
    assert_eq!(
        map.get("since"),
        Some(&Reply::Bulk(Some(b"1.0.0".to_vec()))),
        "{map:?}"
    );
    assert_eq!(
        map.get("group"),
        Some(&Reply::Bulk(Some(b"string".to_vec()))),
        "{map:?}"
    );
    assert!(
        matches!(map.get("summary"), Some(Reply::Bulk(Some(_)))),
        "{map:?}"
    );
    exchange(&mut r, &cmd(&["COMMAND", "DOCS", "nosuch"]), b"*0\r\n");
    exchange(
        &mut r,
        &cmd(&["COMMAND", "FOO"]),
        b"-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n",
    );
}

#[test]
fn command_info_get_exact_bytes() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["COMMAND", "INFO", "get"]),
        b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n",
    );
}

#[test]
#[ignore = "not yet: full COMMAND DOCS (complexity, arguments) belongs to the compatibility issue"]
fn command_docs_get_exact_bytes() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["COMMAND", "DOCS", "get"]),
        b"*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n",
    );
}

#[test]
fn command_list_with_argument_is_syntax_error() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["COMMAND", "LIST", "x"]),
        b"-ERR syntax error\r\n",
    );
}

// ---------------------------------------------------------------- TTL

#[test]
fn ttl_px_expires() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    timing_retry("PX 100", || {
        let t0 = Instant::now();
        exchange(&mut r, &cmd(&["SET", "k", "v", "PX", "100"]), b"+OK\r\n");
        r.send(&cmd(&["GET", "k"]));
        let got = r.read_reply();
        if t0.elapsed() >= Duration::from_millis(100) {
            return false;
        }
        assert_eq!(
            got,
            Reply::Bulk(Some(b"v".to_vec())),
            "GET right after SET PX 100"
        );
        std::thread::sleep(Duration::from_millis(250).saturating_sub(t0.elapsed()));
        exchange(&mut r, &cmd(&["GET", "k"]), b"$-1\r\n");
        exchange(&mut r, &cmd(&["EXISTS", "k"]), b":0\r\n");
        true
    });
    // SET NX succeeds on an expired key.
    exchange(&mut r, &cmd(&["SET", "k", "w", "NX"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["GET", "k"]), b"$1\r\nw\r\n");
}

#[test]
fn ttl_info_keyspace_expires() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["SET", "forever", "v"]), b"+OK\r\n");
    exchange(&mut r, &cmd(&["SET", "t1", "v", "EX", "100"]), b"+OK\r\n");
    exchange(
        &mut r,
        &cmd(&["SET", "t2", "v", "PX", "100000"]),
        b"+OK\r\n",
    );
    let text = info_text(&mut r, &["keyspace"]);
    let db0 = info_field(&text, "db0");
    assert!(db0.starts_with("keys=3,expires=2,avg_ttl="), "{text}");
    exchange(&mut r, &cmd(&["DEL", "t1"]), b":1\r\n");
    let text = info_text(&mut r, &["keyspace"]);
    assert!(
        info_field(&text, "db0").starts_with("keys=2,expires=1,"),
        "{text}"
    );
}

#[test]
fn ttl_active_expiry_shrinks_dbsize() {
    let s = Server::embedded(&["--shards", "2"]);
    let mut r = s.raw();
    for i in 0..20 {
        r.send(&cmd(&["SET", &format!("t{i}"), "v", "PX", "150"]));
    }
    r.send(&cmd(&["SET", "keep", "v", "EX", "1000"]));
    for _ in 0..21 {
        r.expect(b"+OK\r\n");
    }
    exchange(&mut r, &cmd(&["DBSIZE"]), b":21\r\n");
    // Nothing reads the keys: only active expiry can remove them.
    let start = Instant::now();
    let mut last = 21;
    let done = wait_until(Duration::from_secs(3), || {
        last = r.call(&["DBSIZE"]).int();
        last == 1
    });
    assert!(done, "DBSIZE still {last} after {:?}", start.elapsed());
    let text = info_text(&mut r, &["stats"]);
    assert_eq!(info_field(&text, "expired_keys"), "20", "{text}");
    exchange(&mut r, &cmd(&["GET", "keep"]), b"$1\r\nv\r\n");
}

// ---------------------------------------------------------------- binary safety

#[test]
fn binary_safe_keys_and_values() {
    let s = Server::embedded(&["--shards", "3"]);
    let mut r = s.raw();
    let all: Vec<u8> = (0..=255u8).collect();
    let mut rev = all.clone();
    rev.reverse();
    exchange(&mut r, &cmd(&[b"SET".as_slice(), &all, &rev]), b"+OK\r\n");
    let mut want = bulk(&rev);
    exchange(&mut r, &cmd(&[b"GET".as_slice(), &all]), &want);
    // Every single byte as a key of its own, with a value of that byte.
    for b in 0..=255u8 {
        r.send(&cmd(&[b"SET".as_slice(), &[b], &[b, b'\r', b'\n', b]]));
    }
    for _ in 0..=255u8 {
        r.expect(b"+OK\r\n");
    }
    let mut mget: Vec<Vec<u8>> = vec![b"MGET".to_vec()];
    want = b"*256\r\n".to_vec();
    for b in 0..=255u8 {
        mget.push(vec![b]);
        want.extend_from_slice(&bulk(&[b, b'\r', b'\n', b]));
    }
    exchange(&mut r, &cmd(&mget), &want);
    exchange(&mut r, &cmd(&["DBSIZE"]), b":257\r\n");
    // Keys that differ only in a NUL byte are different keys.
    exchange(
        &mut r,
        &cmd(&[b"SET".as_slice(), b"ab\0c", b"1"]),
        b"+OK\r\n",
    );
    exchange(&mut r, &cmd(&[b"GET".as_slice(), b"ab\0d"]), b"$-1\r\n");
    exchange(&mut r, &cmd(&[b"GET".as_slice(), b"ab"]), b"$-1\r\n");
    exchange(&mut r, &cmd(&[b"GET".as_slice(), b"ab\0c"]), b"$1\r\n1\r\n");
}

#[test]
fn empty_key_and_value() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
        b"+OK\r\n",
    );
    exchange(&mut r, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"$0\r\n\r\n");
    exchange(&mut r, &cmd(&["EXISTS", "k"]), b":1\r\n");
    exchange(
        &mut r,
        b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$1\r\nv\r\n",
        b"+OK\r\n",
    );
    exchange(&mut r, b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n", b"$1\r\nv\r\n");
    exchange(&mut r, &cmd(&["DBSIZE"]), b":2\r\n");
    exchange(&mut r, &cmd(&["SET", "k", "", "GET"]), b"$0\r\n\r\n");
}

#[test]
fn big_value_round_trip() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let value: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    exchange(
        &mut r,
        &cmd(&[b"SET".as_slice(), b"big", &value]),
        b"+OK\r\n",
    );
    exchange(&mut r, &cmd(&["GET", "big"]), &bulk(&value));
    // Twice in one pipeline, plus a small command after it.
    let mut input = cmd(&[b"SET".as_slice(), b"big2", &value]);
    input.extend_from_slice(&cmd(&["GET", "big2"]));
    input.extend_from_slice(&cmd(&["GET", "big"]));
    input.extend_from_slice(&cmd(&["PING"]));
    let mut want = b"+OK\r\n".to_vec();
    want.extend_from_slice(&bulk(&value));
    want.extend_from_slice(&bulk(&value));
    want.extend_from_slice(b"+PONG\r\n");
    exchange(&mut r, &input, &want);
    // The redis crate sees the same bytes.
    let mut c = s.client();
    let got: Vec<u8> = c.get("big").unwrap();
    assert!(got == value, "1 MB value differs through the redis crate");
}

// ---------------------------------------------------------------- real clients

#[test]
fn redis_crate_client() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    let () = c.set("name", "Drishti").unwrap();
    let v: String = c.get("name").unwrap();
    assert_eq!(v, "Drishti");
    let missing: Option<String> = c.get("nosuch").unwrap();
    assert_eq!(missing, None);
    let () = c.mset(&[("a", 1), ("b", 2), ("c", 3)]).unwrap();
    let vals: Vec<Option<i64>> = c.mget(&["a", "nosuch", "c"]).unwrap();
    assert_eq!(vals, vec![Some(1), None, Some(3)]);
    let n: i64 = c.exists(&["a", "b", "nosuch"]).unwrap();
    assert_eq!(n, 2);
    let n: i64 = c.del(&["a", "b", "nosuch"]).unwrap();
    assert_eq!(n, 2);
    let () = redis::cmd("SET")
        .arg("ttl")
        .arg("v")
        .arg("EX")
        .arg(100)
        .query(&mut c)
        .unwrap();
    let () = redis::cmd("SET")
        .arg("px")
        .arg("v")
        .arg("PX")
        .arg(100_000)
        .query(&mut c)
        .unwrap();
    let set_nx: Option<String> = redis::cmd("SET")
        .arg("name")
        .arg("other")
        .arg("NX")
        .query(&mut c)
        .unwrap();
    assert_eq!(set_nx, None);
    // A non-atomic pipeline.
    let mut p = redis::pipe();
    for i in 0..100 {
        p.set(format!("p{i}"), i).ignore();
    }
    for i in 0..100 {
        p.get(format!("p{i}"));
    }
    p.cmd("DBSIZE");
    let (vals, size): (Vec<i64>, i64) = {
        let mut all: Vec<redis::Value> = p.query(&mut c).unwrap();
        let size: i64 = redis::from_redis_value(&all.pop().unwrap()).unwrap();
        (
            redis::from_redis_value(&redis::Value::Array(all)).unwrap(),
            size,
        )
    };
    assert_eq!(vals, (0..100).collect::<Vec<i64>>());
    // name, c, ttl, px, p0..p99
    assert_eq!(size, 104);
    let info: String = redis::cmd("INFO").query(&mut c).unwrap();
    assert!(info.contains("redis_version:7.0.15"), "{info}");
    assert!(info.contains("db0:keys=104,expires=2,"), "{info}");
    let info: redis::InfoDict = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    assert!(info.get::<i64>("keyspace_hits").is_some(), "{info:?}");
    // Errors come back as server errors.
    let err = redis::cmd("SELECT")
        .arg(16)
        .query::<()>(&mut c)
        .unwrap_err();
    assert_eq!(err.detail(), Some("DB index is out of range"), "{err:?}");
    let err = redis::cmd("NOSUCH").query::<()>(&mut c).unwrap_err();
    assert!(
        format!("{err}").contains("unknown command 'NOSUCH'"),
        "{err}"
    );
    // The connection survives the errors; SELECT works through the crate.
    let () = redis::cmd("SELECT").arg(2).query(&mut c).unwrap();
    let v: Option<String> = c.get("name").unwrap();
    assert_eq!(v, None);
    // A client opened on db 2 by URL.
    let client = redis::Client::open(format!("redis://{}/2", s.addr())).unwrap();
    let mut c2 = client.get_connection().unwrap();
    let () = c.set("in2", "yes").unwrap();
    let v: String = c2.get("in2").unwrap();
    assert_eq!(v, "yes");
}

#[test]
fn redis_cli_set_get() {
    let Ok(out) = std::process::Command::new("redis-cli")
        .arg("--version")
        .output()
    else {
        eprintln!("note: redis-cli is not on PATH; skipping redis_cli_set_get");
        return;
    };
    assert!(out.status.success());
    let s = Server::embedded(&[]);
    let port = s.port().to_string();
    let run = |args: &[&str]| -> String {
        let out = std::process::Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port])
            .args(args)
            .output()
            .expect("redis-cli runs");
        assert!(out.status.success(), "redis-cli {args:?} failed: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(run(&["set", "k", "v"]), "OK\n");
    assert_eq!(run(&["get", "k"]), "v\n");
    assert_eq!(run(&["get", "nosuch"]), "\n");
    assert_eq!(run(&["exists", "k", "k"]), "2\n");
    assert_eq!(run(&["mget", "k", "nosuch"]), "v\n\n");
    assert_eq!(run(&["ping"]), "PONG\n");
    assert_eq!(run(&["dbsize"]), "1\n");
    assert_eq!(run(&["-n", "3", "set", "k", "db3"]), "OK\n");
    assert_eq!(run(&["-n", "3", "get", "k"]), "db3\n");
    assert_eq!(run(&["get", "k"]), "v\n");
    let info = run(&["info", "server"]);
    assert!(info.contains("redis_version:7.0.15"), "{info}");
}

/// MEMORY STATS: Redis 7.0's fields in Redis's order (a `db.N` entry for
/// each database holding keys), the key count, and the dataset as INFO
/// reports it; MEMORY DOCTOR's report for a small instance; LATENCY with
/// the monitor off (Redis's default).
#[test]
fn memory_stats_doctor_and_latency_graph() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    for i in 0..50 {
        r.call(&["SET", &format!("k{i}"), "v"]);
    }
    r.call(&["SELECT", "3"]);
    r.call(&["SET", "other", "v"]);
    let flat = r.call(&["MEMORY", "STATS"]).array();
    let mut names = Vec::new();
    let mut fields = HashMap::new();
    for pair in flat.chunks(2) {
        let name = pair[0].clone().bulk_string();
        names.push(name.clone());
        fields.insert(name, pair[1].clone());
    }
    let expected = [
        "peak.allocated",
        "total.allocated",
        "startup.allocated",
        "replication.backlog",
        "clients.slaves",
        "clients.normal",
        "cluster.links",
        "aof.buffer",
        "lua.caches",
        "functions.caches",
        "db.0",
        "db.3",
        "overhead.total",
        "keys.count",
        "keys.bytes-per-key",
        "dataset.bytes",
        "dataset.percentage",
        "peak.percentage",
        "allocator.allocated",
        "allocator.active",
        "allocator.resident",
        "allocator-fragmentation.ratio",
        "allocator-fragmentation.bytes",
        "allocator-rss.ratio",
        "allocator-rss.bytes",
        "rss-overhead.ratio",
        "rss-overhead.bytes",
        "fragmentation",
        "fragmentation.bytes",
    ];
    assert_eq!(names, expected);
    assert_eq!(fields["keys.count"].clone().int(), 51);
    let db0: Vec<String> = fields["db.0"]
        .clone()
        .array()
        .into_iter()
        .step_by(2)
        .map(|n| n.bulk_string())
        .collect();
    assert_eq!(
        db0,
        [
            "overhead.hashtable.main",
            "overhead.hashtable.expires",
            "overhead.hashtable.slot-to-keys"
        ]
    );
    let pct: f64 = fields["dataset.percentage"]
        .clone()
        .bulk_string()
        .parse()
        .unwrap();
    assert!(pct > 0.0 && pct <= 100.0, "dataset.percentage {pct}");
    let total = fields["total.allocated"].clone().int();
    assert!(fields["peak.allocated"].clone().int() >= total);
    if !common::against_redis() {
        let info = parse_info(&r.call(&["INFO", "memory"]).bulk_string());
        let used: i64 = info
            .iter()
            .find(|(k, _)| k == "used_memory")
            .map(|(_, v)| v.parse().unwrap())
            .unwrap();
        assert_eq!(fields["dataset.bytes"].clone().int(), used);
    }
    assert!(r
        .call(&["MEMORY", "DOCTOR"])
        .bulk_string()
        .starts_with("Hi Sam, this instance is empty or is using very little memory"));
    exchange(
        &mut r,
        &cmd(&["LATENCY", "GRAPH", "command"]),
        b"-ERR No samples available for event 'command'\r\n",
    );
    assert!(r
        .call(&["LATENCY", "DOCTOR"])
        .bulk_string()
        .starts_with("I'm sorry, Dave, I can't do that. Latency monitoring is disabled"));
}
