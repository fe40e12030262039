//! Persistence of the string read-modify-write and TTL commands: they are
//! logged as absolute records (`SET k v [PXAT ms]`, `PEXPIREAT`, `DEL`), so a
//! restart (and a rewrite, and a re-shard) brings back the same values and TTLs.

mod common;

use common::proc::{tempdir, Proc};
use std::time::{Duration, Instant};

fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Writes with every new string and TTL command, in two databases.
fn write_everything(c: &mut redis::Connection) {
    for db in ["0", "5"] {
        let _: () = q(c, &["SELECT", db]);
        // Counters, one with a TTL that INCR must keep.
        let _: i64 = q(c, &["INCR", "n"]);
        let _: i64 = q(c, &["INCRBY", "n", "41"]);
        let _: () = q(c, &["SET", "nt", "10", "EX", "3600"]);
        let _: i64 = q(c, &["DECRBY", "nt", "3"]);
        let _: i64 = q(c, &["DECR", "nt"]);
        let _: () = q(c, &["SET", "ft", "1.25", "PX", "3600000"]);
        let _: String = q(c, &["INCRBYFLOAT", "ft", "2.25"]);
        // APPEND / SETRANGE keep the TTL too.
        let _: i64 = q(c, &["APPEND", "s", "hello"]);
        let _: () = q(c, &["PSETEX", "st", "3600000", "abc"]);
        let _: i64 = q(c, &["APPEND", "st", "def"]);
        let _: i64 = q(c, &["SETRANGE", "st", "1", "XY"]);
        let _: i64 = q(c, &["SETRANGE", "sr", "2", "z"]);
        // GETSET clears a TTL; GETDEL deletes.
        let _: () = q(c, &["SETEX", "gs", "3600", "old"]);
        let _: Option<String> = q(c, &["GETSET", "gs", "new"]);
        let _: () = q(c, &["SET", "gd", "x"]);
        let _: Option<String> = q(c, &["GETDEL", "gd"]);
        let _: i64 = q(c, &["SETNX", "nx", "first"]);
        let _: i64 = q(c, &["SETNX", "nx", "second"]);
        // EXPIRE family.
        let _: () = q(c, &["SET", "e", "v"]);
        let _: i64 = q(c, &["EXPIRE", "e", "3600"]);
        let _: i64 = q(c, &["EXPIRE", "e", "7200", "GT"]);
        let _: () = q(c, &["SET", "pe", "v"]);
        let _: i64 = q(c, &["PEXPIRE", "pe", "1800000", "NX"]);
        let _: () = q(c, &["SET", "past", "v"]);
        let _: i64 = q(c, &["EXPIREAT", "past", "1"]);
        let _: () = q(c, &["SET", "p", "v", "EX", "3600"]);
        let _: i64 = q(c, &["PERSIST", "p"]);
        // A short TTL must not come back once it passed.
        let _: () = q(c, &["SET", "short", "v"]);
        let _: i64 = q(c, &["PEXPIRE", "short", "150"]);
    }
}

/// Checks values and TTLs (PTTL within `tolerance` ms of what was set).
fn check_everything(c: &mut redis::Connection, extra_in_db0: i64) {
    let near = |c: &mut redis::Connection, key: &str, want: i64| {
        let pttl: i64 = q(c, &["PTTL", key]);
        assert!(
            pttl <= want && pttl > want - 60_000,
            "PTTL {key} = {pttl}, want about {want}"
        );
    };
    for db in ["0", "5"] {
        let _: () = q(c, &["SELECT", db]);
        let get = |c: &mut redis::Connection, k: &str| -> Option<Vec<u8>> { q(c, &["GET", k]) };
        assert_eq!(get(c, "n").as_deref(), Some(&b"42"[..]));
        assert_eq!(get(c, "nt").as_deref(), Some(&b"6"[..]));
        near(c, "nt", 3_600_000);
        assert_eq!(get(c, "ft").as_deref(), Some(&b"3.5"[..]));
        near(c, "ft", 3_600_000);
        assert_eq!(get(c, "s").as_deref(), Some(&b"hello"[..]));
        assert_eq!(get(c, "st").as_deref(), Some(&b"aXYdef"[..]));
        near(c, "st", 3_600_000);
        assert_eq!(get(c, "sr").as_deref(), Some(&b"\0\0z"[..]));
        assert_eq!(get(c, "gs").as_deref(), Some(&b"new"[..]));
        assert_eq!(q::<i64>(c, &["PTTL", "gs"]), -1);
        assert_eq!(get(c, "gd"), None);
        assert_eq!(get(c, "nx").as_deref(), Some(&b"first"[..]));
        assert_eq!(get(c, "e").as_deref(), Some(&b"v"[..]));
        near(c, "e", 7_200_000);
        near(c, "pe", 1_800_000);
        assert_eq!(get(c, "past"), None);
        assert_eq!(get(c, "p").as_deref(), Some(&b"v"[..]));
        assert_eq!(q::<i64>(c, &["PTTL", "p"]), -1);
        assert_eq!(get(c, "short"), None);
        let extra = if db == "0" { extra_in_db0 } else { 0 };
        assert_eq!(q::<i64>(c, &["DBSIZE"]), 11 + extra, "db {db}");
    }
}

fn restart_keeps_everything(rewrite: bool, shards_after: &str) {
    let dir = tempdir(if rewrite { "cmds-rewrite" } else { "cmds" });
    let p = Proc::start(&dir, &["--shards", "4"]);
    let mut c = p.client();
    write_everything(&mut c);
    if rewrite {
        let _: String = q(&mut c, &["BGREWRITEAOF"]);
        // Writes made during and after the rewrite land in the new segment.
        let _: () = q(&mut c, &["SELECT", "0"]);
        let _: i64 = q(&mut c, &["INCR", "after"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let info: String = q(&mut c, &["INFO", "persistence"]);
            if info.contains("aof_rewrite_in_progress:0") {
                break;
            }
            assert!(Instant::now() < deadline, "rewrite did not finish");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    drop(c);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0), "SIGTERM exits 0");

    // Absolute records only: no relative or read-modify-write command.
    let mut aof = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "aof") {
            aof.extend(std::fs::read(&path).unwrap());
        }
    }
    let text = String::from_utf8_lossy(&aof).to_ascii_uppercase();
    for bad in [
        // Also INCRBY and INCRBYFLOAT.
        "\r\nINCR",
        "\r\nDECR",
        "\r\nAPPEND",
        "\r\nSETRANGE",
        "\r\nEXPIRE\r\n",
        "\r\nPERSIST",
        "\r\nGETSET",
        "\r\nGETDEL",
        "\r\nSETEX",
        "\r\nPSETEX",
        "\r\nSETNX",
    ] {
        assert!(!text.contains(bad), "AOF holds a {bad:?} record");
    }
    if !rewrite {
        assert!(
            text.contains("\r\nPEXPIREAT\r\n"),
            "EXPIRE is logged as PEXPIREAT"
        );
    }

    let p = Proc::start(&dir, &["--shards", shards_after]);
    let mut c = p.client();
    check_everything(&mut c, rewrite as i64);
    if rewrite {
        let _: () = q(&mut c, &["SELECT", "0"]);
        assert_eq!(
            q::<Option<String>>(&mut c, &["GET", "after"]).as_deref(),
            Some("1")
        );
    }
    drop(c);
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_restart_keeps_string_and_ttl_commands() {
    restart_keeps_everything(false, "4");
}

#[test]
fn rewrite_and_reshard_keep_string_and_ttl_commands() {
    restart_keeps_everything(true, "3");
}
