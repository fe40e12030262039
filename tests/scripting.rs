//! Lua scripting through the server: EVAL/EVALSHA/_RO, SCRIPT, FUNCTION,
//! FCALL over real connections (raw RESP and the `redis` crate); the script
//! cache and libraries shared by every worker; atomicity of scripts across
//! shards; rate limiters written as scripts; SCRIPT KILL and BUSY from
//! another worker; functions and script effects across a restart. The
//! byte-for-byte comparison with Redis is `tests/differential/scripting.txt`.

mod common;

use common::proc::{refused, tempdir, Proc};
use common::{cmd, run, Reply, Server};
use shards::route::Router;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// `n` key names with `prefix` that the 4-shard server spreads over every shard.
fn spread(prefix: &str, n: usize) -> Vec<String> {
    let r = Router::new(4);
    let mut seen = [false; 4];
    let mut keys = Vec::new();
    for i in 0.. {
        let k = format!("{prefix}{i}");
        let s = r.shard_of(k.as_bytes());
        if !seen[s] || seen.iter().all(|&x| x) {
            seen[s] = true;
            keys.push(k);
        }
        if keys.len() == n {
            break;
        }
    }
    keys
}

#[test]
fn commands_and_errors_byte_for_byte() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["EVAL", "return 1", "0"], b":1\r\n"),
            (
                &["EVAL", "return {1, 'two', {3}}", "0"],
                b"*3\r\n:1\r\n$3\r\ntwo\r\n*1\r\n:3\r\n",
            ),
            (&["EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "k", "v"], b"+OK\r\n"),
            (&["EVAL", "return redis.call('get', 'k')", "0"], b"$1\r\nv\r\n"),
            (
                &["EVALSHA", "0000000000000000000000000000000000000000", "0"],
                b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
            ),
            (
                &["SCRIPT", "LOAD", "return 'x'"],
                b"$40\r\n573cd020e2fc941d149285df8b681959190edd09\r\n",
            ),
            (&["EVAL", "return 1", "-1"], b"-ERR Number of keys can't be negative\r\n"),
            (
                &["EVAL", "return 1", "2", "k"],
                b"-ERR Number of keys can't be greater than number of args\r\n",
            ),
            (&["EVAL"], b"-ERR wrong number of arguments for 'eval' command\r\n"),
            (
                &["EVAL", "return redis.call('nosuch')", "0"],
                b"-ERR Unknown Redis command called from script script: 206396248e12c6e742fd7296250433c8d7343b74, on @user_script:1.\r\n",
            ),
            (
                &["EVAL_RO", "return redis.call('del', 'k')", "0"],
                b"-ERR Write commands are not allowed from read-only scripts. script: 47b7443a0476c69075e4c3fdb47629aacc40bcfa, on @user_script:1.\r\n",
            ),
            (&["SCRIPT", "KILL"], b"-NOTBUSY No scripts in execution right now.\r\n"),
            (&["FUNCTION", "KILL"], b"-NOTBUSY No scripts in execution right now.\r\n"),
            (&["FCALL", "nosuch", "0"], b"-ERR Function not found\r\n"),
            (&["FUNCTION", "DELETE", "nosuch"], b"-ERR Library not found\r\n"),
            (&["FUNCTION", "DUMP"], b"$10\r\n\x0a\x00\x5d\x9b\x5c\x40\x0f\x7f\xa2\xda\r\n"),
        ],
    );
}

/// The expected bytes above that name a script's SHA1 are derived, not
/// copied: a wrong SHA in the table would fail there, so check the helper.
#[test]
fn error_replies_name_the_script_sha() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    for body in [
        "return redis.call('nosuch')",
        "return redis.call('del', 'k')",
    ] {
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(body)
            .query(&mut c)
            .unwrap();
        let e = redis::cmd("EVAL_RO")
            .arg(body)
            .arg(0)
            .query::<redis::Value>(&mut c)
            .unwrap_err();
        assert!(e.to_string().contains(&sha), "{e} names {sha}");
    }
}

/// Redis runs a script's commands at the script's start time: a key that
/// expires while the script runs is still there for the script (on
/// whichever shard it lives), and gone once the script is over.
#[test]
fn a_script_sees_the_time_it_started_at() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    let script = "redis.call('set', KEYS[1], 'v', 'px', 1) \
        local t = redis.call('time') local start = t[1] * 1000000 + t[2] \
        repeat local n = redis.call('time') until n[1] * 1000000 + n[2] - start > 20000 \
        return {redis.call('get', KEYS[1]), redis.call('exists', KEYS[1])}";
    // Keys on every shard; more runs than a start-time slip would survive.
    for key in (0..24).map(|i| format!("fk{i}")) {
        let got: (String, i64) = redis::cmd("EVAL")
            .arg(script)
            .arg(1)
            .arg(&key)
            .query(&mut c)
            .unwrap();
        assert_eq!(got, ("v".to_string(), 1), "{key}");
        let after: Option<String> = redis::cmd("GET").arg(&key).query(&mut c).unwrap();
        assert_eq!(after, None, "{key}");
    }
}

#[test]
fn scripts_and_libraries_are_shared_by_every_worker() {
    let s = Server::embedded(&["--workers", "3"]);
    // Connections go to the workers in turn: six cover each twice.
    let mut conns: Vec<_> = (0..6).map(|_| s.client()).collect();
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg("return ARGV[1] .. '!'")
        .query(&mut conns[0])
        .unwrap();
    redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("#!lua name=shared\nredis.register_function('hello', function(k, a) return 'hi ' .. a[1] end)")
        .query::<String>(&mut conns[1])
        .unwrap();
    for (i, c) in conns.iter_mut().enumerate() {
        let v: String = redis::cmd("EVALSHA")
            .arg(&sha)
            .arg(0)
            .arg(i)
            .query(c)
            .unwrap();
        assert_eq!(v, format!("{i}!"));
        let v: String = redis::cmd("FCALL")
            .arg("hello")
            .arg(0)
            .arg(i)
            .query(c)
            .unwrap();
        assert_eq!(v, format!("hi {i}"));
        let e: Vec<i64> = redis::cmd("SCRIPT")
            .arg("EXISTS")
            .arg(&sha)
            .query(c)
            .unwrap();
        assert_eq!(e, [1]);
    }
    // An EVAL on one worker caches its script for all.
    let body = "return 'evaled'";
    let _: String = redis::cmd("EVAL")
        .arg(body)
        .arg(0)
        .query(&mut conns[2])
        .unwrap();
    let sha2: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(body)
        .query(&mut conns[3])
        .unwrap();
    let v: String = redis::cmd("EVALSHA")
        .arg(&sha2)
        .arg(0)
        .query(&mut conns[4])
        .unwrap();
    assert_eq!(v, "evaled");
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query(&mut conns[0])
        .unwrap();
    assert!(info.contains("number_of_cached_scripts:2\r\n"), "{info}");
    assert!(info.contains("number_of_functions:1\r\n"), "{info}");
    assert!(info.contains("number_of_libraries:1\r\n"), "{info}");
    let lua: u64 = common::parse_info(&info)
        .into_iter()
        .find(|(k, _)| k == "used_memory_lua")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap();
    assert!(lua > 10_000, "used_memory_lua {lua}");
    // A flush on one worker empties every worker's cache; the same for
    // the libraries.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut conns[5])
        .unwrap();
    let _: () = redis::cmd("FUNCTION")
        .arg("DELETE")
        .arg("shared")
        .query(&mut conns[5])
        .unwrap();
    for c in conns.iter_mut() {
        let e = redis::cmd("EVALSHA")
            .arg(&sha)
            .arg(0)
            .query::<String>(c)
            .unwrap_err();
        assert_eq!(e.kind(), redis::ErrorKind::NoScriptError, "{e}");
        let e = redis::cmd("FCALL")
            .arg("hello")
            .arg(0)
            .query::<String>(c)
            .unwrap_err();
        assert!(e.to_string().contains("Function not found"), "{e}");
    }
}

/// Transfers between keys on every shard by script, while readers sum
/// them by script and by MULTI/EXEC: no reader may see a transfer half done.
#[test]
fn scripts_are_atomic_across_shards() {
    let s = Server::embedded(&[]);
    let keys = spread("acct:", 8);
    let total = 1000 * keys.len() as i64;
    let mut c = s.client();
    for k in &keys {
        let _: () = redis::cmd("SET").arg(k).arg(1000).query(&mut c).unwrap();
    }
    let transfer = "local a = tonumber(redis.call('get', KEYS[1])) \
        local n = tonumber(ARGV[1]) \
        redis.call('set', KEYS[1], a - n) \
        redis.call('incrby', KEYS[2], n) \
        return a - n";
    // The sum reads keys it did not declare: the script must still see
    // one state of the whole keyspace.
    let sum =
        "local s = 0 for i = 1, #ARGV do s = s + tonumber(redis.call('get', ARGV[i])) end return s";
    let stop = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicUsize::new(0));
    let transfers = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut handles = Vec::new();
    for t in 0..3u64 {
        let (keys, stop, transfers) = (keys.clone(), stop.clone(), transfers.clone());
        let mut c = s.client();
        handles.push(thread::spawn(move || {
            let mut rng = common::Rng(t * 7919 + 1);
            while !stop.load(Ordering::Relaxed) {
                let a = rng.below(keys.len());
                let b = (a + 1 + rng.below(keys.len() - 1)) % keys.len();
                let _: i64 = redis::cmd("EVAL")
                    .arg(transfer)
                    .arg(2)
                    .arg(&keys[a])
                    .arg(&keys[b])
                    .arg(rng.below(50) + 1)
                    .query(&mut c)
                    .unwrap();
                transfers.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in 0..2 {
        let (keys, stop, checks) = (keys.clone(), stop.clone(), checks.clone());
        let mut c = s.client();
        handles.push(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let got: i64 = if t == 0 {
                    redis::cmd("EVAL_RO")
                        .arg(sum)
                        .arg(0)
                        .arg(&keys)
                        .query(&mut c)
                        .unwrap()
                } else {
                    let mut p = redis::pipe();
                    p.atomic();
                    for k in &keys {
                        p.cmd("GET").arg(k);
                    }
                    let vals: Vec<i64> = p.query(&mut c).unwrap();
                    vals.iter().sum()
                };
                assert_eq!(got, total, "a reader saw a transfer half done");
                checks.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let (n, m) = (
        transfers.load(Ordering::Relaxed),
        checks.load(Ordering::Relaxed),
    );
    assert!(n > 50 && m > 50, "{n} transfers, {m} checks");
    let vals: Vec<i64> = redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
    assert_eq!(vals.iter().sum::<i64>(), total);
}

/// A fixed-window limiter (INCR + PEXPIRE) and a sliding-window one (sorted
/// set), as rate-limiting libraries write them, through EVALSHA.
#[test]
fn rate_limiters_written_as_scripts() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    let fixed = "local n = redis.call('incr', KEYS[1]) \
        if n == 1 then redis.call('pexpire', KEYS[1], ARGV[1]) end \
        if n > tonumber(ARGV[2]) then return 0 end return 1";
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(fixed)
        .query(&mut c)
        .unwrap();
    let allowed: Vec<i64> = (0..5)
        .map(|_| {
            redis::cmd("EVALSHA")
                .arg(&sha)
                .arg(1)
                .arg("rl:fixed")
                .arg(300)
                .arg(3)
                .query(&mut c)
                .unwrap()
        })
        .collect();
    assert_eq!(allowed, [1, 1, 1, 0, 0]);
    let pttl: i64 = redis::cmd("PTTL").arg("rl:fixed").query(&mut c).unwrap();
    assert!(pttl > 0 && pttl <= 300, "{pttl}");
    thread::sleep(Duration::from_millis(400));
    let again: i64 = redis::cmd("EVALSHA")
        .arg(&sha)
        .arg(1)
        .arg("rl:fixed")
        .arg(300)
        .arg(3)
        .query(&mut c)
        .unwrap();
    assert_eq!(again, 1, "the window expired");

    let sliding = "local now = tonumber(ARGV[1]) local win = tonumber(ARGV[2]) \
        redis.call('zremrangebyscore', KEYS[1], 0, now - win) \
        if redis.call('zcard', KEYS[1]) < tonumber(ARGV[3]) then \
          redis.call('zadd', KEYS[1], now, ARGV[4]) redis.call('pexpire', KEYS[1], win) return 1 end \
        return 0";
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(sliding)
        .query(&mut c)
        .unwrap();
    let mut call = |now: u64, id: &str| -> i64 {
        redis::cmd("EVALSHA")
            .arg(&sha)
            .arg(1)
            .arg("rl:sliding")
            .arg(now)
            .arg(1000)
            .arg(2)
            .arg(id)
            .query(&mut c)
            .unwrap()
    };
    assert_eq!(call(10_000, "a"), 1);
    assert_eq!(call(10_400, "b"), 1);
    assert_eq!(call(10_800, "c"), 0, "two in the last second");
    assert_eq!(call(11_100, "d"), 1, "the first left the window");
    assert_eq!(call(11_200, "e"), 0);
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg("rl:sliding")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(members, ["b", "d"]);
}

const BUSY_SCRIPT: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// Connections opened before a script starts, pinging while it runs: the
/// first to get BUSY is on another worker than the script's and is handed
/// back; those on the script's worker get their answer once it ended.
/// Which worker a connection lands on is the server's business, so several
/// try (they are spread over the two workers).
struct Peers {
    found: std::sync::mpsc::Receiver<common::Raw>,
    stop: Arc<AtomicBool>,
    handles: Vec<thread::JoinHandle<()>>,
}

impl Peers {
    fn start(candidates: Vec<common::Raw>) -> Peers {
        let (tx, found) = std::sync::mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let handles = candidates
            .into_iter()
            .map(|raw| {
                let (tx, stop) = (tx.clone(), stop.clone());
                thread::spawn(move || {
                    // Plain reads: a candidate whose server exits (SHUTDOWN
                    // NOSAVE) just stops.
                    let mut stream = raw.stream().try_clone().unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        let Some(line) = ping(&mut stream) else {
                            return;
                        };
                        if let Some(e) = line.strip_prefix('-') {
                            assert_eq!(e, BUSY_SCRIPT);
                            let _ = tx.send(raw);
                            return;
                        }
                        assert_eq!(line, "+PONG");
                        thread::sleep(Duration::from_millis(20));
                    }
                })
            })
            .collect();
        Peers {
            found,
            stop,
            handles,
        }
    }

    /// The first connection that got BUSY (within 3 s).
    fn busy(&self) -> common::Raw {
        self.found
            .recv_timeout(Duration::from_secs(3))
            .expect("no BUSY reply within 3 s")
    }

    /// Once the script ended: every other candidate stops.
    fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.handles {
            h.join().unwrap();
        }
    }
}

/// Sends PING and reads its one-line reply; None when the connection ends.
fn ping(stream: &mut std::net::TcpStream) -> Option<String> {
    use std::io::{Read, Write};
    stream.write_all(b"*1\r\n$4\r\nPING\r\n").ok()?;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        line.push(byte[0]);
    }
    line.truncate(line.len() - 2);
    Some(String::from_utf8_lossy(&line).into_owned())
}

fn candidates(addr: &str) -> Vec<common::Raw> {
    (0..4).map(|_| common::Raw::connect(addr)).collect()
}

/// A long read-only script on one worker: a client of another worker gets
/// BUSY past the threshold, and its SCRIPT KILL ends the script.
#[test]
fn busy_and_script_kill_from_another_worker() {
    let s = Server::embedded(&[]);
    let mut admin = s.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("busy-reply-threshold")
        .arg(100)
        .query(&mut admin)
        .unwrap();
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("lua-time-limit")
        .query(&mut admin)
        .unwrap();
    assert_eq!(got, ["lua-time-limit", "100"]);
    let mut runner = s.raw();
    let peers = Peers::start(candidates(&s.addr()));
    // Spins for at most 4 s (a bound, should the kill never come).
    runner.send(&cmd(&[
        "EVAL",
        "local t0 = tonumber(redis.call('time')[1]) local i = 0 \
         while true do i = i + 1 \
           if i % 100000 == 0 and tonumber(redis.call('time')[1]) - t0 >= 4 then return 'timeout' end \
         end",
        "0",
    ]));
    let start = Instant::now();
    let mut other = peers.busy();
    assert_eq!(
        other.call(&["FUNCTION", "KILL"]),
        Reply::Error(BUSY_SCRIPT.into())
    );
    match other.call(&["FUNCTION", "STATS"]) {
        Reply::Array(Some(a)) => {
            // running_script: name, command, duration_ms of the script.
            assert_eq!(a[0], Reply::Bulk(Some(b"running_script".to_vec())));
            assert!(
                matches!(&a[1], Reply::Array(Some(r)) if r.len() == 6),
                "{:?}",
                a[1]
            );
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(other.call(&["SCRIPT", "KILL"]), Reply::Simple("OK".into()));
    match runner.read_reply() {
        Reply::Error(e) => assert!(e.contains("Script killed by user with SCRIPT KILL"), "{e}"),
        r => panic!("{r:?}"),
    }
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "killed, not timed out"
    );
    peers.finish();
    assert_eq!(other.call(&["PING"]), Reply::Simple("PONG".into()));
    assert_eq!(runner.call(&["PING"]), Reply::Simple("PONG".into()));
    assert_eq!(
        other.call(&["SCRIPT", "KILL"]),
        Reply::Error("NOTBUSY No scripts in execution right now.".into())
    );
}

/// A script that wrote cannot be killed.
#[test]
fn a_script_that_wrote_is_unkillable() {
    let s = Server::embedded(&[]);
    let mut runner = s.raw();
    assert_eq!(
        runner.call(&["CONFIG", "SET", "busy-reply-threshold", "100"]),
        Reply::Simple("OK".into())
    );
    let peers = Peers::start(candidates(&s.addr()));
    runner.send(&cmd(&[
        "EVAL",
        "redis.call('set', 'w', 1) local t0 = tonumber(redis.call('time')[1]) local i = 0 \
         while tonumber(redis.call('time')[1]) - t0 < 2 do i = i + 1 end return 'done'",
        "0",
    ]));
    let mut other = peers.busy();
    match other.call(&["SCRIPT", "KILL"]) {
        Reply::Error(e) => assert!(
            e.starts_with("UNKILLABLE Sorry the script already executed write commands"),
            "{e}"
        ),
        r => panic!("{r:?}"),
    }
    assert_eq!(runner.read_reply(), Reply::Bulk(Some(b"done".to_vec())));
    peers.finish();
}

#[test]
fn functions_and_script_effects_survive_a_restart() {
    let dir = tempdir("scripting-restart");
    let p = Proc::start(&dir, &["--shards", "4"]);
    let mut c = p.client();
    let keys = spread("persist:", 4);
    redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("#!lua name=keep\nredis.register_function('setall', function(keys, args) for i, k in ipairs(keys) do redis.call('set', k, args[1]) end return #keys end)")
        .query::<String>(&mut c)
        .unwrap();
    let n: i64 = redis::cmd("FCALL")
        .arg("setall")
        .arg(4)
        .arg(&keys)
        .arg("v1")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 4);
    let _: () = redis::cmd("EVAL")
        .arg("redis.call('rpush', 'persist:list', 'a', 'b') redis.call('incrby', 'persist:n', 7)")
        .arg(0)
        .query(&mut c)
        .unwrap();
    p.signal("-KILL");
    let _ = p.wait();
    assert!(dir.join("functions").exists());

    let p = Proc::start(&dir, &["--shards", "4"]);
    let mut c = p.client();
    let vals: Vec<String> = redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
    assert_eq!(vals, ["v1"; 4]);
    let list: Vec<String> = redis::cmd("LRANGE")
        .arg("persist:list")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(list, ["a", "b"]);
    let n: i64 = redis::cmd("GET").arg("persist:n").query(&mut c).unwrap();
    assert_eq!(n, 7);
    let n: i64 = redis::cmd("FCALL")
        .arg("setall")
        .arg(1)
        .arg("persist:new")
        .arg("v2")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    // FUNCTION FLUSH is persisted too.
    let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(&mut c).unwrap();
    drop(c);
    p.signal("-KILL");
    let _ = p.wait();
    let p = Proc::start(&dir, &["--shards", "4"]);
    let mut c = p.client();
    let libs: Vec<redis::Value> = redis::cmd("FUNCTION").arg("LIST").query(&mut c).unwrap();
    assert!(libs.is_empty());
    p.signal("-KILL");
    let _ = p.wait();

    // A corrupt libraries file refuses the start, naming the file.
    std::fs::write(dir.join("functions"), b"\x0a\x00garbage").unwrap();
    let err = refused(&dir, &["--shards", "4"]);
    assert!(
        err.contains("functions") && err.contains("corrupt"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two key names on different shards of the 4-shard server.
fn two_shards(prefix: &str) -> (String, String) {
    let r = Router::new(4);
    let a = format!("{prefix}0");
    let b = (1..)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| r.shard_of(k.as_bytes()) != r.shard_of(a.as_bytes()))
        .unwrap();
    (a, b)
}

/// A script whose declared keys share a shard holds only that shard; one
/// that reaches an undeclared key elsewhere before writing runs again
/// holding every shard, and its reply is the one of a single run.
#[test]
fn a_script_reaching_past_its_declared_shard_runs_again_holding_all() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    let (k, other) = two_shards("reach:");
    let _: () = redis::cmd("SET").arg(&other).arg(5).query(&mut c).unwrap();
    // Reads the undeclared key first, then writes the declared one: the
    // first attempt stops at the read and changes nothing.
    let body = "local v = tonumber(redis.call('get', ARGV[1])) \
        return redis.call('incrby', KEYS[1], v)";
    for expected in [5, 10, 15] {
        let v: i64 = redis::cmd("EVAL")
            .arg(body)
            .arg(1)
            .arg(&k)
            .arg(&other)
            .query(&mut c)
            .unwrap();
        assert_eq!(v, expected);
    }
    // Even a script that catches the refusal is stopped and run again.
    let catching = "local ok = redis.pcall('get', ARGV[1]) \
        redis.call('incr', KEYS[1]) return ok";
    let v: String = redis::cmd("EVAL")
        .arg(catching)
        .arg(1)
        .arg(&k)
        .arg(&other)
        .query(&mut c)
        .unwrap();
    assert_eq!(v, "5");
    let n: i64 = redis::cmd("GET").arg(&k).query(&mut c).unwrap();
    assert_eq!(n, 16, "the first attempt's INCR did not run");
    // Keyless commands reach every shard.
    let v: i64 = redis::cmd("EVAL")
        .arg("redis.call('get', KEYS[1]) return redis.call('dbsize')")
        .arg(1)
        .arg(&k)
        .query(&mut c)
        .unwrap();
    assert_eq!(v, 2);
}

/// A script that wrote on its declared shard and then reaches another one
/// takes the other shards then, when they are idle (here they are), and
/// runs as in Redis; the worker remembers it and holds every shard for it
/// from then on. (When another shard is busy it cannot wait for it while
/// holding one: it fails, its write staying, as any script's writes before
/// an error do in Redis.)
#[test]
fn a_script_reaching_past_its_shard_after_writing_takes_the_others() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    let (k, other) = two_shards("late:");
    let body = "redis.call('incr', KEYS[1]) return redis.call('get', ARGV[1])";
    let v: Option<String> = redis::cmd("EVAL")
        .arg(body)
        .arg(1)
        .arg(&k)
        .arg(&other)
        .query(&mut c)
        .unwrap();
    assert_eq!(v, None);
    let n: i64 = redis::cmd("GET").arg(&k).query(&mut c).unwrap();
    assert_eq!(n, 1);
    let _: () = redis::cmd("SET")
        .arg(&other)
        .arg("x")
        .query(&mut c)
        .unwrap();
    // Same connection, same worker: it remembers the script.
    let v: String = redis::cmd("EVAL")
        .arg(body)
        .arg(1)
        .arg(&k)
        .arg(&other)
        .query(&mut c)
        .unwrap();
    assert_eq!(v, "x");
    let n: i64 = redis::cmd("GET").arg(&k).query(&mut c).unwrap();
    assert_eq!(n, 2);
}

/// The same under load: other clients keep the other shard busy with plain
/// commands (no section holds it), so it is rarely idle at the moment the
/// script reaches it; the script waits for its queue to drain instead of
/// failing. Each script is new (unremembered), so each one reaches out.
#[test]
fn a_script_reaching_past_its_shard_after_writing_waits_for_a_busy_one() {
    let s = Server::embedded(&[]);
    let (k, other) = two_shards("busy:");
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..3)
        .map(|t| {
            let (addr, other, stop) = (s.addr(), other.clone(), stop.clone());
            thread::spawn(move || {
                let mut r = common::Raw::connect(&addr);
                let mut sent = 0u64;
                let pipeline: Vec<u8> = (0..32)
                    .flat_map(|i| cmd(&["SET", &other, &format!("{t}-{i}")]))
                    .collect();
                while !stop.load(Ordering::Relaxed) && sent < 2_000_000 {
                    r.send(&pipeline);
                    for _ in 0..32 {
                        r.read_reply();
                    }
                    sent += 32;
                }
            })
        })
        .collect();
    let mut c = s.client();
    let mut failed = Vec::new();
    for i in 0..300 {
        // A distinct script each time: no worker remembers it.
        let body =
            format!("redis.call('incr', KEYS[1]) return {{redis.call('get', ARGV[1]), {i}}}");
        let r: redis::RedisResult<redis::Value> = redis::cmd("EVAL")
            .arg(&body)
            .arg(1)
            .arg(&k)
            .arg(&other)
            .query(&mut c);
        if let Err(e) = r {
            failed.push(e.to_string());
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    assert!(
        failed.is_empty(),
        "{} of 300 failed: {:?}",
        failed.len(),
        failed.first()
    );
    let n: i64 = redis::cmd("GET").arg(&k).query(&mut c).unwrap();
    assert_eq!(n, 300);
}

/// Two clients whose scripts cross (one writes on shard A and reaches B,
/// the other writes on B and reaches A), each new script unremembered:
/// neither may wait for the other. Every script ends, either run whole or
/// refused with the reached-after-writing error, and the counters hold
/// exactly the increments of the scripts that ran.
#[test]
fn crossing_scripts_never_wait_on_each_other() {
    let s = Server::embedded(&[]);
    let (a, b) = two_shards("cross:");
    let started = Instant::now();
    let runs: Vec<_> = [(a.clone(), b.clone()), (b.clone(), a.clone())]
        .into_iter()
        .enumerate()
        .map(|(t, (mine, theirs))| {
            let addr = s.addr();
            thread::spawn(move || {
                let mut c = redis::Client::open(format!("redis://{addr}/"))
                    .unwrap()
                    .get_connection()
                    .unwrap();
                let mut ran = 0i64;
                for i in 0..200 {
                    let body = format!(
                        "redis.call('incr', KEYS[1]) return {{redis.call('get', ARGV[1]), {t}, {i}}}"
                    );
                    let r: redis::RedisResult<redis::Value> =
                        redis::cmd("EVAL").arg(&body).arg(1).arg(&mine).arg(&theirs).query(&mut c);
                    match r {
                        Ok(_) => ran += 1,
                        Err(e) => assert!(
                            e.to_string().contains("after it wrote"),
                            "unexpected error: {e}"
                        ),
                    }
                }
                ran
            })
        })
        .collect();
    let ran: Vec<i64> = runs.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(started.elapsed() < Duration::from_secs(60));
    let mut c = s.client();
    let (na, nb): (Option<i64>, Option<i64>) =
        redis::cmd("MGET").arg(&a).arg(&b).query(&mut c).unwrap();
    // A refused script's increment stays (it wrote before the error).
    assert_eq!(na.unwrap_or(0) + nb.unwrap_or(0), 400, "ran {ran:?}");
}

/// A script that wrote and does not end: SCRIPT KILL answers UNKILLABLE,
/// SHUTDOWN NOSAVE from another worker ends the server at once, and the
/// script, which never finished, is not replayed in part: its writes are
/// in the AOF inside a MULTI without EXEC, dropped on load (Redis, which
/// propagates a script's effects when it ends, loses them too).
#[test]
fn shutdown_nosave_ends_a_script_that_wrote() {
    let dir = tempdir("scripting-nosave");
    let p = Proc::start(&dir, &["--shards", "4"]);
    let mut admin = p.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("busy-reply-threshold")
        .arg(100)
        .query(&mut admin)
        .unwrap();
    drop(admin);
    let addr = format!("127.0.0.1:{}", p.port);
    let mut runner = common::Raw::connect(&addr);
    let peers = Peers::start(candidates(&addr));
    // Bounded: it gives up after 8 s, should SHUTDOWN not end it.
    runner.send(&cmd(&[
        "EVAL",
        "redis.call('set', 'stuck', 'written') local t0 = tonumber(redis.call('time')[1]) \
         while tonumber(redis.call('time')[1]) - t0 < 8 do end return 'ended'",
        "0",
    ]));
    let start = Instant::now();
    let mut other = peers.busy();
    match other.call(&["SCRIPT", "KILL"]) {
        Reply::Error(e) => assert!(e.starts_with("UNKILLABLE"), "{e}"),
        r => panic!("{r:?}"),
    }
    other.send(&cmd(&["SHUTDOWN", "NOSAVE"]));
    assert_eq!(p.wait(), Some(0));
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "exited before the script ended"
    );
    peers.finish();
    let p = Proc::start(&dir, &["--shards", "4"]);
    let mut c = p.client();
    let v: Option<String> = redis::cmd("GET").arg("stuck").query(&mut c).unwrap();
    assert_eq!(v, None);
    assert!(
        p.log().contains("dropped an unfinished transaction"),
        "{}",
        p.log()
    );
    p.signal("-KILL");
    let _ = p.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// FUNCTION DUMP / RESTORE through the server, with each policy; the
/// restored libraries are seen by every worker.
#[test]
fn function_dump_and_restore_policies() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    let mut c2 = s.client();
    let lib = |name: &str, f: &str, ret: &str| {
        format!("#!lua name={name}\nredis.register_function('{f}', function() return '{ret}' end)")
    };
    let load = |c: &mut redis::Connection, code: String| -> redis::RedisResult<String> {
        redis::cmd("FUNCTION")
            .arg("LOAD")
            .arg("REPLACE")
            .arg(code)
            .query(c)
    };
    load(&mut c, lib("a", "fa", "one")).unwrap();
    load(&mut c, lib("b", "fb", "two")).unwrap();
    let dump: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(&mut c).unwrap();
    let restore = |c: &mut redis::Connection, policy: Option<&str>| -> redis::RedisResult<()> {
        let mut cmd = redis::cmd("FUNCTION");
        cmd.arg("RESTORE").arg(&dump);
        if let Some(p) = policy {
            cmd.arg(p);
        }
        cmd.query(c)
    };
    // APPEND (the default) refuses libraries that exist.
    let e = restore(&mut c2, None).unwrap_err();
    assert!(e.to_string().contains("Library a already exists"), "{e}");
    // REPLACE puts the dumped versions back.
    load(&mut c, lib("a", "fa", "changed")).unwrap();
    restore(&mut c2, Some("REPLACE")).unwrap();
    let v: String = redis::cmd("FCALL").arg("fa").arg(0).query(&mut c).unwrap();
    assert_eq!(v, "one");
    // FLUSH drops what the payload does not have.
    load(&mut c, lib("extra", "fx", "x")).unwrap();
    restore(&mut c2, Some("FLUSH")).unwrap();
    let e = redis::cmd("FCALL")
        .arg("fx")
        .arg(0)
        .query::<String>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("Function not found"), "{e}");
    let v: String = redis::cmd("FCALL").arg("fb").arg(0).query(&mut c2).unwrap();
    assert_eq!(v, "two");
    // A payload whose checksum does not match is refused.
    let mut bad = dump.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let e = redis::cmd("FUNCTION")
        .arg("RESTORE")
        .arg(bad)
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("payload version or checksum are wrong"),
        "{e}"
    );
}

/// Arguments past the size that travels shared (32 KB) reach scripts and
/// the commands they call intact; a script in MULTI aborted by WATCH does
/// not run.
#[test]
fn big_arguments_and_scripts_in_transactions() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let n: i64 = redis::cmd("EVAL")
        .arg("redis.call('set', KEYS[1], ARGV[1]) return #redis.call('get', KEYS[1])")
        .arg(1)
        .arg("big")
        .arg(&big)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, big.len() as i64);
    let back: Vec<u8> = redis::cmd("GET").arg("big").query(&mut c).unwrap();
    assert_eq!(back, big);

    let mut other = s.client();
    let _: () = redis::cmd("WATCH").arg("w").query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("w").arg(1).query(&mut other).unwrap();
    let r: Option<Vec<i64>> = redis::pipe()
        .atomic()
        .cmd("EVAL")
        .arg("return redis.call('incr', 'counted')")
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert_eq!(r, None, "the watched key changed");
    let n: Option<i64> = redis::cmd("GET").arg("counted").query(&mut c).unwrap();
    assert_eq!(n, None);
    let r: Vec<i64> = redis::pipe()
        .atomic()
        .cmd("EVAL")
        .arg("return redis.call('incr', 'counted')")
        .arg(0)
        .cmd("INCR")
        .arg("counted")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, [1, 2]);
}

/// The commands a script runs, as Redis 7.0 records its Lua client's: on
/// MONITOR as `[db lua]` lines after the script's own line (SELECT showing
/// the database it selected, a refused command not at all), in the slow
/// log one by one with address `?:0` before the script's entry, and in
/// commandstats and errorstats (calls, a failed call, a rejected call,
/// each error once).
#[test]
fn script_commands_are_monitored_logged_and_counted() {
    let s = Server::embedded(&["--workers", "2"]);
    let mut m = s.raw();
    let mut c = s.raw();
    m.send(&cmd(&["MONITOR"]));
    m.expect(b"+OK\r\n");
    c.call(&["CONFIG", "RESETSTAT"]);
    c.call(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    c.call(&["SLOWLOG", "RESET"]);
    let script = "redis.call('set', KEYS[1], 'v') redis.pcall('incr', KEYS[1]) \
                  redis.pcall('set', 'a') redis.call('select', 3) \
                  return redis.call('set', 'x', '1')";
    let r = c.call(&["EVAL", script, "1", "k"]);
    assert_eq!(r, Reply::Simple("OK".into()));
    c.call(&["PING", "end"]);
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !lines.last().is_some_and(|l: &String| l.contains("\"end\"")) {
        assert!(Instant::now() < deadline, "{lines:?}");
        match m.read_reply() {
            Reply::Simple(l) => lines.push(l.split_once(' ').unwrap().1.to_string()),
            other => panic!("monitor got {other:?}"),
        }
    }
    let p = c.stream().local_addr().unwrap().to_string();
    let shown: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .skip_while(|l| !l.contains("\"EVAL\""))
        .collect();
    let eval_line = format!(r#"[0 {p}] "EVAL" "{script}" "1" "k""#);
    assert_eq!(
        shown,
        [
            eval_line.as_str(),
            r#"[0 lua] "set" "k" "v""#,
            r#"[0 lua] "incr" "k""#,
            r#"[3 lua] "select" "3""#,
            r#"[3 lua] "set" "x" "1""#,
            &format!(r#"[0 {p}] "PING" "end""#),
        ]
    );
    c.call(&["CONFIG", "SET", "slowlog-log-slower-than", "10000"]);
    // Newest first: the script after its commands, the refused SET absent.
    let log = c.call(&["SLOWLOG", "GET", "-1"]).array();
    let entries: Vec<(Vec<String>, String)> = log
        .into_iter()
        .map(|e| {
            let e = e.array();
            let args: Vec<String> = e[3]
                .clone()
                .array()
                .into_iter()
                .map(Reply::bulk_string)
                .collect();
            (args, e[4].clone().bulk_string())
        })
        .skip_while(|(args, _)| args[0] != "EVAL")
        .collect();
    let lua = |a: &[&str]| {
        (
            a.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "?:0".to_string(),
        )
    };
    assert_eq!(entries[0].0[0], "EVAL");
    assert_eq!(entries[0].1, p);
    assert_eq!(
        entries[1..5],
        [
            lua(&["set", "x", "1"]),
            lua(&["select", "3"]),
            lua(&["incr", "k"]),
            lua(&["set", "k", "v"]),
        ]
    );
    let stats = c.call(&["INFO", "commandstats"]).bulk_string();
    let stat = |name: &str| -> String {
        let line = stats
            .lines()
            .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {stats}"));
        let (calls, rest) = line.split_once(",usec=").unwrap();
        let counts = rest.split_once(",rejected_calls=").unwrap().1;
        format!("{calls},rejected_calls={counts}")
    };
    assert_eq!(
        stat("set"),
        "cmdstat_set:calls=2,rejected_calls=1,failed_calls=0"
    );
    assert_eq!(
        stat("incr"),
        "cmdstat_incr:calls=1,rejected_calls=0,failed_calls=1"
    );
    assert_eq!(
        stat("select"),
        "cmdstat_select:calls=1,rejected_calls=0,failed_calls=0"
    );
    assert_eq!(
        stat("eval"),
        "cmdstat_eval:calls=1,rejected_calls=0,failed_calls=0"
    );
    let errors = c.call(&["INFO", "errorstats"]).bulk_string();
    assert!(errors.contains("errorstat_ERR:count=2\r\n"), "{errors}");
    // An error a `redis.call` met is counted once, not again as the
    // script's reply; the script's own error reply is counted.
    c.call(&["CONFIG", "RESETSTAT"]);
    let r = c.call(&["EVAL", "return redis.call('incr', KEYS[1])", "1", "k"]);
    assert!(matches!(r, Reply::Error(e) if e.starts_with("ERR value is not an integer")));
    let r = c.call(&["EVAL", "return redis.pcall('nosuch')", "0"]);
    assert!(matches!(r, Reply::Error(e) if e.starts_with("ERR Unknown Redis command")));
    let r = c.call(&["EVAL", "return {err='XYZ mine'}", "0"]);
    assert_eq!(r, Reply::Error("XYZ mine".into()));
    let errors = c.call(&["INFO", "errorstats"]).bulk_string();
    assert!(errors.contains("errorstat_ERR:count=2\r\n"), "{errors}");
    assert!(errors.contains("errorstat_XYZ:count=1\r\n"), "{errors}");
    let info = c.call(&["INFO", "stats"]).bulk_string();
    assert!(info.contains("total_error_replies:3\r\n"), "{info}");
    let stats = c.call(&["INFO", "commandstats"]).bulk_string();
    assert!(stats.contains("cmdstat_eval:calls=3,"), "{stats}");
    assert!(
        stats.contains(",rejected_calls=0,failed_calls=3\r\n"),
        "{stats}"
    );
}

/// busy-reply-threshold (alias lua-time-limit) from the command line and
/// the config file; CONFIG REWRITE writes it under its own name in place
/// of a `lua-time-limit` line, and a restart reads it back.
#[test]
fn busy_reply_threshold_from_flags_file_and_rewrite() {
    let threshold = |r: &mut common::Raw| -> Vec<Reply> {
        r.call(&["CONFIG", "GET", "busy-reply-threshold"]).array()
    };
    let s = Server::embedded(&["--lua-time-limit", "150"]);
    let mut runner = s.raw();
    assert_eq!(
        threshold(&mut runner)[1],
        Reply::Bulk(Some(b"150".to_vec()))
    );
    // It is the threshold in force: another worker's client gets BUSY.
    let peers = Peers::start(candidates(&s.addr()));
    runner.send(&cmd(&[
        "EVAL",
        "local t0 = tonumber(redis.call('time')[1]) \
         while tonumber(redis.call('time')[1]) - t0 < 2 do end return 'done'",
        "0",
    ]));
    let mut other = peers.busy();
    assert_eq!(other.call(&["SCRIPT", "KILL"]), Reply::Simple("OK".into()));
    assert!(matches!(runner.read_reply(), Reply::Error(e) if e.starts_with("ERR Script killed")));
    peers.finish();
    drop(s);
    let s = Server::embedded(&["--busy-reply-threshold", "250"]);
    assert_eq!(
        threshold(&mut s.raw())[1],
        Reply::Bulk(Some(b"250".to_vec()))
    );
    drop(s);

    if common::against_redis() {
        eprintln!("skipped against Redis: shardcache's --config file");
        return;
    }
    let dir = tempdir("scripting-busy-rewrite");
    let file = dir.join("shardcache.conf");
    std::fs::write(&file, "# kept\nlua-time-limit 300\nappendonly no\n").unwrap();
    let s = Server::start(&["--config", file.to_str().unwrap()]);
    let mut r = s.raw();
    assert_eq!(threshold(&mut r)[1], Reply::Bulk(Some(b"300".to_vec())));
    r.send(&cmd(&["CONFIG", "SET", "lua-time-limit", "400"]));
    r.expect(b"+OK\r\n");
    r.send(&cmd(&["CONFIG", "REWRITE"]));
    r.expect(b"+OK\r\n");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# kept\nbusy-reply-threshold 400\nappendonly no\n"),
        "{text}"
    );
    assert!(!text.contains("lua-time-limit"), "{text}");
    drop(s);
    let s = Server::start(&["--config", file.to_str().unwrap()]);
    assert_eq!(
        threshold(&mut s.raw())[1],
        Reply::Bulk(Some(b"400".to_vec()))
    );
    // Back at its default and not in the file: not written.
    std::fs::write(&file, "appendonly no\n").unwrap();
    let mut r = s.raw();
    r.send(&cmd(&["CONFIG", "SET", "busy-reply-threshold", "5000"]));
    r.expect(b"+OK\r\n");
    r.send(&cmd(&["CONFIG", "REWRITE"]));
    r.expect(b"+OK\r\n");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("busy-reply-threshold"), "{text}");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A script that published and then reaches an undeclared key on another
/// shard is not started again (a message cannot be taken back): each run
/// publishes exactly once, with one worker and with several.
#[test]
fn a_script_that_published_is_never_run_twice() {
    for workers in ["1", "2"] {
        let s = Server::embedded(&["--workers", workers]);
        let (k, other) = two_shards("pub:");
        let mut sub = common::Raw::connect(&s.addr());
        sub.send(&cmd(&["SUBSCRIBE", "runs"]));
        sub.read_reply();
        let mut c = s.client();
        for i in 0..20 {
            // A new script each time, so no worker remembers it as one
            // that reaches past its declared key.
            let body = format!(
                "redis.call('publish', 'runs', ARGV[2]) return redis.call('get', ARGV[1]) or {i}"
            );
            let _: redis::Value = redis::cmd("EVAL")
                .arg(&body)
                .arg(1)
                .arg(&k)
                .arg(&other)
                .arg(i)
                .query(&mut c)
                .unwrap();
        }
        // A marker published after the scripts ends the count.
        let _: i64 = redis::cmd("PUBLISH")
            .arg("runs")
            .arg("end")
            .query(&mut c)
            .unwrap();
        let mut got = Vec::new();
        loop {
            let Reply::Array(Some(m)) = sub.read_reply() else {
                panic!("not a message");
            };
            match &m[2] {
                Reply::Bulk(Some(b)) if b == b"end" => break,
                Reply::Bulk(Some(b)) => got.push(String::from_utf8_lossy(b).into_owned()),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got.len(), 20, "workers {workers}: {got:?}");
    }
}
