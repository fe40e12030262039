//! The LFU policies through real clients: counters that grow with accesses
//! and decay with time, eviction that keeps the frequently used keys, the
//! policy-dependent OBJECT errors, DEBUG OBJECT's field, CONFIG REWRITE,
//! and `redis-cli --hotkeys`.

mod common;

use common::{against_redis, cmd, exchange, run, Raw, Server};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NO_LFU: &[u8] = b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n";
const LFU_SELECTED: &[u8] = b"-ERR An LFU maxmemory policy is selected, idle time not tracked. \
Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n";

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

fn freq(r: &mut Raw, key: &str) -> i64 {
    r.call(&["OBJECT", "FREQ", key]).int()
}

/// Sends `n` copies of a command in one write and reads the `n` replies.
fn pipeline(r: &mut Raw, args: &[&str], n: usize) {
    r.send(&cmd(args).repeat(n));
    for _ in 0..n {
        r.read_reply();
    }
}

#[test]
fn object_freq_and_idletime_answer_by_policy() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["SET", "k", "v"], b"+OK\r\n"),
            (&["OBJECT", "FREQ", "k"], NO_LFU),
            // A missing key is nil before the policy is considered.
            (&["OBJECT", "FREQ", "missing"], b"$-1\r\n"),
            (
                &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
                b"+OK\r\n",
            ),
            (&["OBJECT", "IDLETIME", "k"], LFU_SELECTED),
            (&["OBJECT", "IDLETIME", "missing"], b"$-1\r\n"),
            (&["SET", "new", "v"], b"+OK\r\n"),
            (&["OBJECT", "FREQ", "new"], b":5\r\n"),
            (
                &["CONFIG", "SET", "maxmemory-policy", "volatile-lfu"],
                b"+OK\r\n",
            ),
            (&["OBJECT", "IDLETIME", "k"], LFU_SELECTED),
            (&["OBJECT", "FREQ", "new"], b":5\r\n"),
            (
                &["CONFIG", "SET", "maxmemory-policy", "volatile-lru"],
                b"+OK\r\n",
            ),
            (&["OBJECT", "FREQ", "new"], NO_LFU),
        ],
    );
}

#[test]
fn freq_grows_with_accesses() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (
                &[
                    "CONFIG",
                    "SET",
                    "maxmemory-policy",
                    "allkeys-lfu",
                    "lfu-log-factor",
                    "0",
                    "lfu-decay-time",
                    "0",
                ],
                b"+OK\r\n",
            ),
            (&["SET", "k", "v"], b"+OK\r\n"),
        ],
    );
    // lfu-log-factor 0: every access counts one, up to 255.
    pipeline(&mut r, &["GET", "k"], 50);
    assert_eq!(freq(&mut r, "k"), 55);
    // Looking at a key is no access.
    pipeline(&mut r, &["TYPE", "k"], 10);
    pipeline(&mut r, &["EXISTS", "k"], 10);
    pipeline(&mut r, &["OBJECT", "ENCODING", "k"], 10);
    assert_eq!(freq(&mut r, "k"), 55);
    pipeline(&mut r, &["GET", "k"], 300);
    assert_eq!(freq(&mut r, "k"), 255);

    // The default factor 10 grows logarithmically: Redis's table gives
    // about 18 for 1000 hits; the bounds are far apart so that chance
    // cannot fail the test (p < 1e-9 either way).
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "lfu-log-factor", "10"]),
        b"+OK\r\n",
    );
    exchange(&mut r, &cmd(&["SET", "slow", "v"]), b"+OK\r\n");
    pipeline(&mut r, &["GET", "slow"], 1000);
    let f = freq(&mut r, "slow");
    assert!((12..=30).contains(&f), "1000 hits gave {f}");
    pipeline(&mut r, &["GET", "slow"], 9000);
    let g = freq(&mut r, "slow");
    assert!(g > f && g <= 60, "10000 hits gave {g} (1000 gave {f})");
}

#[test]
fn client_no_touch_does_not_count() {
    if against_redis() {
        eprintln!("skipped against Redis 7.0: CLIENT NO-TOUCH is 7.2's");
        return;
    }
    let s = Server::embedded(&[
        "--maxmemory-policy",
        "allkeys-lfu",
        "--lfu-log-factor",
        "0",
        "--lfu-decay-time",
        "0",
    ]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["SET", "k", "v"], b"+OK\r\n"),
            (&["CLIENT", "NO-TOUCH", "on"], b"+OK\r\n"),
            (&["GET", "k"], b"$1\r\nv\r\n"),
            (&["OBJECT", "FREQ", "k"], b":5\r\n"),
            // TOUCH touches whatever the mode, as in Redis.
            (&["TOUCH", "k"], b":1\r\n"),
            (&["OBJECT", "FREQ", "k"], b":6\r\n"),
            (&["CLIENT", "NO-TOUCH", "off"], b"+OK\r\n"),
            (&["GET", "k"], b"$1\r\nv\r\n"),
            (&["OBJECT", "FREQ", "k"], b":7\r\n"),
        ],
    );
}

/// Waits until the wall clock is 300 ms into the minute after `minute`
/// (minutes since the epoch), so that the next few seconds are all in it.
fn wait_for_minute_after(minute: u64) {
    let at = (minute + 1) * 60_000 + 300;
    let ms = unix_ms();
    if at > ms {
        std::thread::sleep(Duration::from_millis(at - ms));
    }
}

#[test]
fn freq_decays_with_idle_minutes_once_the_decay_time_is_lowered() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&[
            "CONFIG",
            "SET",
            "maxmemory-policy",
            "allkeys-lfu",
            "lfu-log-factor",
            "0",
            "lfu-decay-time",
            "10",
        ]),
        b"+OK\r\n",
    );
    // The accesses and the first reading must share a minute: retry when
    // a minute boundary fell between them.
    let minute = loop {
        let before = unix_ms() / 60_000;
        exchange(&mut r, &cmd(&["SET", "k", "v"]), b"+OK\r\n");
        pipeline(&mut r, &["GET", "k"], 20);
        let f = freq(&mut r, "k");
        if unix_ms() / 60_000 == before {
            assert_eq!(f, 25);
            break before;
        }
    };
    // One idle minute (at most 61 s of waiting): 1 / 10 periods, no decay.
    wait_for_minute_after(minute);
    assert_eq!(unix_ms() / 60_000, minute + 1);
    assert_eq!(freq(&mut r, "k"), 25);
    // Reading is no access: the decay shows, and it is not written back.
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "lfu-decay-time", "1"]),
        b"+OK\r\n",
    );
    assert_eq!(freq(&mut r, "k"), 24);
    assert_eq!(freq(&mut r, "k"), 24);
    // An access applies the decay and then counts: 24 + 1.
    exchange(&mut r, &cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(freq(&mut r, "k"), 25);
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "lfu-decay-time", "0"]),
        b"+OK\r\n",
    );
    assert_eq!(freq(&mut r, "k"), 25);
}

#[test]
fn debug_object_shows_the_counter_under_lfu() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&[
            "CONFIG",
            "SET",
            "maxmemory-policy",
            "allkeys-lfu",
            "lfu-log-factor",
            "0",
            "lfu-decay-time",
            "0",
        ]),
        b"+OK\r\n",
    );
    exchange(&mut r, &cmd(&["SET", "k", "v"]), b"+OK\r\n");
    pipeline(&mut r, &["GET", "k"], 7);
    let line = r.call(&["DEBUG", "OBJECT", "k"]);
    let line = match line {
        common::Reply::Simple(s) => s,
        other => panic!("DEBUG OBJECT gave {other:?}"),
    };
    let lru: u64 = line
        .split(' ')
        .find_map(|f| f.strip_prefix("lru:"))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no lru field in {line}"));
    // Redis's field: minutes (16 bits) over the 8-bit counter.
    assert_eq!(lru & 0xff, 12, "{line}");
    let minutes = (unix_ms() / 60_000) & 0xffff;
    assert!(
        (lru >> 8) == minutes || ((lru >> 8) + 1) & 0xffff == minutes,
        "{line} at minute {minutes}"
    );
    assert!(line.contains(" lru_seconds_idle:"), "{line}");
}

/// Writes `n` keys `{prefix}{i}` with `value`, pipelined in chunks.
fn write_keys(r: &mut Raw, prefix: &str, n: usize, value: &[u8], ttl: bool) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut input = Vec::new();
        for i in chunk {
            let key = format!("{prefix}{i}");
            if ttl {
                input.extend_from_slice(&cmd(&[
                    b"SET".as_slice(),
                    key.as_bytes(),
                    value,
                    b"EX",
                    b"100000",
                ]));
            } else {
                input.extend_from_slice(&cmd(&[b"SET".as_slice(), key.as_bytes(), value]));
            }
        }
        r.send(&input);
        r.expect(&b"+OK\r\n".repeat(chunk.len()));
    }
}

/// Reads every hot key `times` times.
fn read_keys(r: &mut Raw, prefix: &str, n: usize, times: usize) {
    let mut input = Vec::new();
    for _ in 0..times {
        for i in 0..n {
            input.extend_from_slice(&cmd(&["GET", &format!("{prefix}{i}")]));
        }
    }
    r.send(&input);
    for _ in 0..n * times {
        r.read_reply();
    }
}

fn exists_count(r: &mut Raw, prefix: &str, n: usize) -> i64 {
    let keys: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    let mut args = vec!["EXISTS"];
    args.extend(keys.iter().map(String::as_str));
    r.call(&args).int()
}

#[test]
fn allkeys_lfu_keeps_the_hot_keys_under_a_stream_of_cold_writes() {
    // 4 MB hold a few thousand 1 KB values; 12 MB of cold writes go through.
    let s = Server::embedded(&["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lfu"]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&[
            "CONFIG",
            "SET",
            "lfu-log-factor",
            "0",
            "lfu-decay-time",
            "0",
        ]),
        b"+OK\r\n",
    );
    let value = vec![b'x'; 1000];
    write_keys(&mut r, "hot:", 100, &value, false);
    read_keys(&mut r, "hot:", 100, 3);
    write_keys(&mut r, "cold:", 12_000, &value, false);
    // Every hot key survived; most cold ones went.
    assert_eq!(exists_count(&mut r, "hot:", 100), 100);
    // INFO counts each eviction once. In one transaction: Redis may evict
    // before any command, so the two figures are read at one moment.
    r.send(&cmd(&["MULTI"]));
    r.send(&cmd(&["DBSIZE"]));
    r.send(&cmd(&["INFO", "stats"]));
    r.send(&cmd(&["EXEC"]));
    for _ in 0..3 {
        r.read_reply();
    }
    let replies = r.read_reply().array();
    let dbsize = replies[0].clone().int();
    let stats = common::parse_info(&replies[1].clone().bulk_string());
    let evicted: i64 = stats
        .iter()
        .find(|(k, _)| k == "evicted_keys")
        .and_then(|(_, v)| v.parse().ok())
        .expect("evicted_keys");
    assert!(dbsize < 6000, "dbsize {dbsize}");
    assert_eq!(evicted, 12_100 - dbsize);
    let used = s.info_int("memory", "used_memory");
    assert!(used < 6 * 1024 * 1024, "used_memory {used}");
}

#[test]
fn volatile_lfu_evicts_only_keys_with_a_ttl_and_keeps_the_hot_ones() {
    let s = Server::embedded(&["--maxmemory", "4mb", "--maxmemory-policy", "volatile-lfu"]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&[
            "CONFIG",
            "SET",
            "lfu-log-factor",
            "0",
            "lfu-decay-time",
            "0",
        ]),
        b"+OK\r\n",
    );
    let value = vec![b'x'; 1000];
    write_keys(&mut r, "persist:", 500, &value, false);
    write_keys(&mut r, "hot:", 100, &value, true);
    read_keys(&mut r, "hot:", 100, 3);
    write_keys(&mut r, "cold:", 10_000, &value, true);
    assert_eq!(exists_count(&mut r, "persist:", 500), 500);
    assert_eq!(exists_count(&mut r, "hot:", 100), 100);
    assert!(s.info_int("stats", "evicted_keys") > 5000);
}

#[test]
fn config_rewrite_writes_the_lfu_parameters() {
    if against_redis() {
        eprintln!("skipped against Redis: shardcache's --config file");
        return;
    }
    let dir = std::env::temp_dir().join(format!("sc-lfu-rewrite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("shardcache.conf");
    std::fs::write(&file, "# kept\nlfu-log-factor 3\nappendonly no\n").unwrap();
    let s = Server::start(&["--config", file.to_str().unwrap()]);
    let mut r = s.raw();
    exchange(
        &mut r,
        &cmd(&["CONFIG", "GET", "lfu-log-factor"]),
        b"*2\r\n$14\r\nlfu-log-factor\r\n$1\r\n3\r\n",
    );
    run(
        &mut r,
        &[
            (
                &[
                    "CONFIG",
                    "SET",
                    "lfu-log-factor",
                    "0",
                    "lfu-decay-time",
                    "30",
                    "maxmemory-policy",
                    "allkeys-lfu",
                ],
                b"+OK\r\n",
            ),
            (&["CONFIG", "REWRITE"], b"+OK\r\n"),
        ],
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# kept\nlfu-log-factor 0\nappendonly no\n"),
        "{text}"
    );
    assert!(text.contains("\nlfu-decay-time 30\n"), "{text}");
    assert!(text.contains("\nmaxmemory-policy allkeys-lfu\n"), "{text}");
    drop(s);
    // The rewritten file starts a server with those settings, and the
    // shards use them: with a factor of 0 every hit counts.
    let s = Server::start(&["--config", file.to_str().unwrap()]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (
                &["CONFIG", "GET", "lfu-decay-time"],
                b"*2\r\n$14\r\nlfu-decay-time\r\n$2\r\n30\r\n",
            ),
            (
                &["CONFIG", "GET", "maxmemory-policy"],
                b"*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lfu\r\n",
            ),
            (&["SET", "k", "v"], b"+OK\r\n"),
        ],
    );
    pipeline(&mut r, &["GET", "k"], 200);
    assert_eq!(freq(&mut r, "k"), 205);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn redis_cli_hotkeys_finds_the_hot_keys() {
    let has_cli = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("redis-cli").is_file()));
    if !has_cli {
        if std::env::var_os("CI").is_some() {
            panic!("redis-cli is not on PATH (CI is set, so this fails instead of skipping)");
        }
        eprintln!("skipped: redis-cli is not on PATH");
        return;
    }
    let s = Server::embedded(&[
        "--maxmemory-policy",
        "allkeys-lfu",
        "--lfu-log-factor",
        "0",
        "--lfu-decay-time",
        "0",
    ]);
    let mut r = s.raw();
    write_keys(&mut r, "k:", 40, b"v", false);
    pipeline(&mut r, &["GET", "k:7"], 30);
    pipeline(&mut r, &["GET", "k:23"], 10);
    let out = std::process::Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &s.port().to_string(), "--hotkeys"])
        .output()
        .expect("run redis-cli");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Sampled 40 keys in the keyspace!"), "{text}");
    let summary: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("hot key found with counter:"))
        .collect();
    assert_eq!(
        summary[..2],
        [
            "hot key found with counter: 35\tkeyname: \"k:7\"",
            "hot key found with counter: 15\tkeyname: \"k:23\"",
        ],
        "{text}"
    );
    // Under an LRU policy the tool reports the server's refusal.
    exchange(
        &mut r,
        &cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]),
        b"+OK\r\n",
    );
    let out = std::process::Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &s.port().to_string(), "--hotkeys"])
        .output()
        .expect("run redis-cli");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("An LFU maxmemory policy is not selected"),
        "{all}"
    );
}

#[test]
fn keys_loaded_from_the_aof_start_at_the_initial_counter() {
    if against_redis() {
        eprintln!("skipped against Redis: shardcache's AOF directory");
        return;
    }
    let dir = std::env::temp_dir().join(format!("sc-lfu-aof-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    let args = [
        "--dir",
        d,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--maxmemory-policy",
        "allkeys-lfu",
        "--lfu-log-factor",
        "0",
        "--lfu-decay-time",
        "0",
    ];
    let s = Server::start(&args);
    let mut r = s.raw();
    exchange(&mut r, &cmd(&["SET", "k", "v"]), b"+OK\r\n");
    pipeline(&mut r, &["GET", "k"], 3);
    assert_eq!(freq(&mut r, "k"), 8);
    drop(r);
    drop(s);
    // The replay writes the key anew, as Redis's AOF load does: reads are
    // not logged, so the counter starts again from 5 (not from a clock
    // read as a counter).
    let s = Server::start(&args);
    let mut r = s.raw();
    assert_eq!(freq(&mut r, "k"), 5);
    exchange(&mut r, &cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(freq(&mut r, "k"), 6);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
