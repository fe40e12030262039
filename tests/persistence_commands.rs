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

    // Absolute records only: no relative or read-modify-write command
    // (PERSIST is absolute: it removes whatever TTL the key has, so it is
    // logged as itself, for every type).
    let mut aof = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "aof") {
            aof.extend(std::fs::read(&path).unwrap());
        }
    }
    let text = String::from_utf8_lossy(&aof).to_ascii_uppercase();
    // `PERSIST key` is itself absolute (the TTL is gone): it may appear.
    for bad in [
        // Also INCRBY and INCRBYFLOAT.
        "\r\nINCR",
        "\r\nDECR",
        "\r\nAPPEND",
        "\r\nSETRANGE",
        "\r\nEXPIRE\r\n",
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

/// Keys the bit / GETEX / MOVE writes leave, by database.
const BITS_KEYS: [(&str, &str); 9] = [
    ("0", "b"),
    ("0", "bn"),
    ("0", "cl"),
    ("0", "g"),
    ("0", "gp"),
    ("0", "gpx"),
    ("0", "mb"),
    ("5", "m"),
    ("3", "taken"),
];

/// Writes with SETBIT, GETEX and MOVE, including the cases that log nothing
/// (an unchanged bit, a refused MOVE) and the one that logs a DEL (a past
/// EXAT).
fn write_bits(c: &mut redis::Connection, now_ms: u64) {
    let _: () = q(c, &["SELECT", "0"]);
    let _: () = q(c, &["SET", "b", "", "EX", "3600"]);
    let _: i64 = q(c, &["SETBIT", "b", "10", "1"]);
    let _: i64 = q(c, &["SETBIT", "bn", "3", "1"]);
    let _: i64 = q(c, &["SETBIT", "bn", "3", "1"]);
    let _: () = q(c, &["SET", "cl", "\u{7f}x"]);
    let _: i64 = q(c, &["SETBIT", "cl", "1", "0"]);
    let _: () = q(c, &["SET", "g", "v"]);
    let _: Option<String> = q(c, &["GETEX", "g", "EX", "3600"]);
    let _: () = q(c, &["SET", "gp", "v", "EX", "3600"]);
    let _: Option<String> = q(c, &["GETEX", "gp", "PERSIST"]);
    let _: () = q(c, &["SET", "gd", "v"]);
    let _: Option<String> = q(c, &["GETEX", "gd", "EXAT", "1"]);
    let at = (now_ms + 7_200_000).to_string();
    let _: () = q(c, &["SET", "gpx", "v"]);
    let _: Option<String> = q(c, &["GETEX", "gpx", "PXAT", &at]);
    let _: () = q(c, &["SET", "m", "hello", "PX", "5400000"]);
    let _: i64 = q(c, &["MOVE", "m", "5"]);
    // There and back again.
    let _: () = q(c, &["SET", "mb", "back"]);
    let _: i64 = q(c, &["MOVE", "mb", "3"]);
    let _: () = q(c, &["SELECT", "3"]);
    let _: i64 = q(c, &["MOVE", "mb", "0"]);
    // A refused move changes nothing.
    let _: () = q(c, &["SET", "taken", "three"]);
    let _: () = q(c, &["SELECT", "0"]);
    let _: () = q(c, &["SET", "taken", "zero"]);
    let _: i64 = q(c, &["MOVE", "taken", "3"]);
    let _: i64 = q(c, &["DEL", "taken"]);
}

/// `(db, key, value, PEXPIRETIME)` of every key `write_bits` leaves, and the
/// key count of each database it touched.
type BitsState = (Vec<(String, String, Option<Vec<u8>>, i64)>, Vec<i64>);

/// Reads the `BitsState` of a server.
fn bits_state(c: &mut redis::Connection) -> BitsState {
    let mut keys = Vec::new();
    for (db, key) in BITS_KEYS {
        let _: () = q(c, &["SELECT", db]);
        let value: Option<Vec<u8>> = q(c, &["GET", key]);
        let at: i64 = q(c, &["PEXPIRETIME", key]);
        keys.push((db.to_string(), key.to_string(), value, at));
    }
    let mut sizes = Vec::new();
    for db in ["0", "3", "5"] {
        let _: () = q(c, &["SELECT", db]);
        sizes.push(q(c, &["DBSIZE"]));
    }
    (keys, sizes)
}

#[test]
fn sigterm_restart_keeps_setbit_getex_and_move() {
    let dir = tempdir("bits");
    let p = Proc::start(&dir, &["--shards", "4"]);
    let mut c = p.client();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    write_bits(&mut c, now_ms);
    let before = bits_state(&mut c);
    // What the writes must have left, so the comparisons below compare
    // something.
    let value = |k: &str| before.0.iter().find(|e| e.1 == k).unwrap().2.clone();
    let at = |k: &str| before.0.iter().find(|e| e.1 == k).unwrap().3;
    assert_eq!(value("b").as_deref(), Some(&b"\0\x20"[..]));
    assert!(at("b") > now_ms as i64 + 3_500_000);
    assert_eq!(value("bn").as_deref(), Some(&b"\x10"[..]));
    assert_eq!(value("cl").as_deref(), Some(&b"\x3fx"[..]));
    assert!(at("g") > now_ms as i64 + 3_500_000);
    assert_eq!(at("gp"), -1);
    assert_eq!(at("gpx"), now_ms as i64 + 7_200_000);
    assert_eq!(value("m").as_deref(), Some(&b"hello"[..]));
    assert!(at("m") > now_ms as i64 + 5_000_000);
    assert_eq!(value("mb").as_deref(), Some(&b"back"[..]));
    assert_eq!(value("taken").as_deref(), Some(&b"three"[..]));
    assert_eq!(before.1, [7, 1, 1]);
    drop(c);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0), "SIGTERM exits 0");

    let mut segments: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "aof"))
        .collect();
    segments.sort();
    let aof: Vec<u8> = segments
        .iter()
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    let text = String::from_utf8_lossy(&aof).to_ascii_uppercase();
    for bad in ["\r\nSETBIT", "\r\nGETEX", "\r\nMOVE", "\r\nPERSIST"] {
        assert!(!text.contains(bad), "AOF holds a {bad:?} record");
    }

    let p = Proc::start(&dir, &["--shards", "4"]);
    let mut c = p.client();
    assert_eq!(bits_state(&mut c), before, "after a restart");
    drop(c);
    drop(p);

    // A real Redis importing the same segments ends in the same state.
    import_into_redis(&aof, &before);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Pipes `aof` into a fresh `redis-server` with `redis-cli --pipe` and
/// compares its state with `want`; skipped when Redis is not installed.
fn import_into_redis(aof: &[u8], want: &BitsState) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let installed = |bin: &str| Command::new(bin).arg("--version").output().is_ok();
    if !installed("redis-server") || !installed("redis-cli") {
        eprintln!("note: redis-server or redis-cli is not on PATH; skipping the import check");
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
        .to_string();
    let dir = tempdir("bits-redis");
    let mut server = Command::new("redis-server")
        .args([
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut pipe = Command::new("redis-cli")
        .args(["-p", &port, "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli starts");
    pipe.stdin.take().unwrap().write_all(aof).unwrap();
    let out = pipe.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && report.contains("errors: 0"),
        "{report}"
    );
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let got = bits_state(&mut c);
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(&got, want, "Redis after importing the segments");
}
