//! Data safety, black-box: a damaged data directory never loses data
//! silently, and a write refused with MISCONF is not applied.

mod common;

use common::proc::{refused, tempdir, Proc};
use std::path::Path;
use std::time::Duration;

fn dbsize(c: &mut redis::Connection) -> i64 {
    redis::cmd("DBSIZE").query(c).unwrap()
}

/// Every file of `dir` with its size, sorted by name.
fn files(dir: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Bytes in the segment files of `dir`.
fn segment_bytes(dir: &Path) -> u64 {
    files(dir)
        .iter()
        .filter(|(n, _)| n.starts_with("shard-") && n.ends_with(".aof"))
        .map(|f| f.1)
        .sum()
}

/// Starts a server on `dir`, MSETs `n` keys `k<i>` = `v<i>`, stops it with SIGTERM.
fn write_keys(dir: &Path, shards: &str, n: usize) {
    let p = Proc::start(dir, &["--shards", shards]);
    let mut c = p.client();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let pairs: Vec<(String, String)> = chunk
            .iter()
            .map(|i| (format!("k{i}"), format!("v{i}")))
            .collect();
        redis::cmd("MSET").arg(&pairs).exec(&mut c).unwrap();
    }
    drop(c);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));
}

fn check_keys(c: &mut redis::Connection, n: usize) {
    assert_eq!(dbsize(c), n as i64);
    let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    for chunk in keys.chunks(500) {
        let got: Vec<Option<String>> = redis::cmd("MGET").arg(chunk).query(c).unwrap();
        for (k, v) in chunk.iter().zip(got) {
            assert_eq!(v.as_deref(), Some(format!("v{}", &k[1..]).as_str()), "{k}");
        }
    }
}

#[test]
fn a_missing_manifest_is_recovered_from_the_segments_not_truncated() {
    let dir = tempdir("no-manifest");
    write_keys(&dir, "2", 1000);
    let bytes = segment_bytes(&dir);
    assert!(bytes > 10_000, "{:?}", files(&dir));
    std::fs::remove_file(dir.join("manifest")).unwrap();

    let p = Proc::start(&dir, &["--shards", "2"]);
    let mut c = p.client();
    check_keys(&mut c, 1000);
    assert!(p.log().contains("has no manifest"), "{}", p.log());
    assert!(dir.join("manifest").exists(), "a new manifest is written");
    let after = files(&dir);
    assert!(
        after
            .iter()
            .filter(|(n, _)| n.ends_with(".aof"))
            .all(|(_, len)| *len > 0),
        "no segment is left empty: {after:?}"
    );
    drop(c);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));

    // After a reshard (4 shards, generation 3 and above), the same.
    let p = Proc::start(&dir, &["--shards", "4"]);
    drop(p);
    std::fs::remove_file(dir.join("manifest")).unwrap();
    let p = Proc::start(&dir, &["--shards", "3"]);
    let mut c = p.client();
    check_keys(&mut c, 1000);
    assert!(segment_bytes(&dir) > 10_000, "{:?}", files(&dir));
}

#[test]
fn segments_without_a_complete_generation_refuse_to_start_and_stay_untouched() {
    let dir = tempdir("no-manifest-refuse");
    write_keys(&dir, "2", 300);
    std::fs::remove_file(dir.join("manifest")).unwrap();
    std::fs::remove_file(dir.join("shard-0.1.aof")).unwrap();
    let before = files(&dir);
    assert_eq!(before.len(), 1);
    assert!(before[0].1 > 1_000);
    let err = refused(&dir, &["--shards", "2"]);
    assert!(
        err.contains(&dir.display().to_string())
            && err.contains("shard-1.1.aof")
            && err.contains("no manifest"),
        "{err}"
    );
    assert_eq!(files(&dir), before, "nothing written, truncated or deleted");
}

#[test]
fn a_listed_segment_that_is_missing_refuses_to_start_unless_allowed() {
    let dir = tempdir("missing-segment");
    write_keys(&dir, "2", 1000);
    let lost = std::fs::metadata(dir.join("shard-0.1.aof")).unwrap().len();
    assert!(lost > 1_000);
    std::fs::remove_file(dir.join("shard-0.1.aof")).unwrap();
    let before = files(&dir);
    let err = refused(&dir, &["--shards", "2"]);
    assert!(
        err.contains("shard-0.1.aof") && err.contains("--aof-load-missing yes"),
        "{err}"
    );
    assert_eq!(files(&dir), before, "nothing written, truncated or deleted");

    let p = Proc::start(&dir, &["--shards", "2", "--aof-load-missing", "yes"]);
    let mut c = p.client();
    let n = dbsize(&mut c);
    assert!(n > 0 && n < 1000, "the other segment's keys only: {n}");
    assert!(
        p.log().contains("skipped 1 missing segment(s) of 2"),
        "{}",
        p.log()
    );
    // The keys that are left, and new writes, persist.
    redis::cmd("SET").arg("new").arg("1").exec(&mut c).unwrap();
    drop(c);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));
    std::thread::sleep(Duration::from_millis(50));
    let p = Proc::start(&dir, &["--shards", "2"]);
    let mut c = p.client();
    assert_eq!(dbsize(&mut c), n + 1);
}

/// The variable that makes every AOF append fail with ENOSPC while the file
/// it names exists (test-only fault injection; see `shards::aof`).
const FAIL_WRITES: &str = "SHARDCACHE_TEST_AOF_FAIL";

fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<T> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
}

fn misconf(r: redis::RedisResult<redis::Value>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected MISCONF, got {v:?}"),
    }
}

/// Raw RESP exchange (MULTI/EXEC replies the `redis` crate reshapes).
fn raw(port: u16, input: &[u8], replies: usize) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(input).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.iter().filter(|&&b| b == b'\n').count() < replies {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

/// A refused write is not applied: the one whose own record failed is
/// rolled back, later ones are refused before they run (reads go on), and
/// writes resume at the next attempt once the disk accepts them again.
fn misconf_write_is_not_applied(fsync: &str) {
    let dir = tempdir(&format!("misconf-{fsync}"));
    let fault = dir.join("disk-full");
    let data = dir.join("data");
    let args = ["--shards", "2", "--appendfsync", fsync];
    let p = Proc::start_env(&data, &args, &[(FAIL_WRITES, &fault)]);
    let mut c = p.client();
    let mut other = p.client();
    assert_eq!(q::<i64>(&mut c, &["INCR", "ctr"]).unwrap(), 1);
    q::<()>(&mut c, &["SET", "k", "before"]).unwrap();
    // A transaction queued while the disk is fine, executed once it is not.
    let mut tx = std::net::TcpStream::connect(("127.0.0.1", p.port)).unwrap();
    tx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    {
        use std::io::{Read, Write};
        tx.write_all(b"MULTI\r\nSET txkey 1\r\n").unwrap();
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while !got.ends_with(b"+QUEUED\r\n") {
            let n = tx.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
    }
    let segments = files(&data);

    std::fs::write(&fault, b"").unwrap();
    // The write whose record fails: rolled back.
    let e = misconf(q(&mut c, &["INCR", "ctr"]));
    assert!(
        e.contains("MISCONF")
            && e.contains("Errors writing to the AOF file: No space left on device"),
        "{e}"
    );
    assert_eq!(q::<String>(&mut other, &["GET", "ctr"]).unwrap(), "1");
    // Later writes are refused before they run, on every shard at once.
    for args in [
        &["INCR", "ctr"][..],
        &["MSET", "a", "1", "b", "2", "c", "3", "d", "4"],
        &["DEL", "k"],
        &["FLUSHALL"],
    ] {
        let e = misconf(q(&mut c, args));
        assert!(e.contains("No space left on device"), "{args:?}: {e}");
    }
    assert_eq!(
        raw(p.port, b"PING\r\n", 1),
        "-MISCONF Errors writing to the AOF file: No space left on device\r\n",
        "Redis refuses PING too"
    );
    assert_eq!(
        raw(p.port, b"MULTI\r\nSET x 1\r\nGET k\r\nEXEC\r\n", 4),
        "+OK\r\n-MISCONF Errors writing to the AOF file: No space left on device\r\n+QUEUED\r\n\
         -EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(
        raw(p.port, b"MULTI\r\nGET k\r\nEXEC\r\n", 4),
        "+OK\r\n+QUEUED\r\n*1\r\n$6\r\nbefore\r\n"
    );
    {
        use std::io::{Read, Write};
        tx.write_all(b"EXEC\r\n").unwrap();
        let mut buf = [0u8; 256];
        let n = tx.read(&mut buf).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&buf[..n]),
            "-EXECABORT Transaction discarded because of: MISCONF Errors writing to the AOF file: No space left on device\r\n"
        );
    }
    let mgot: Vec<Option<String>> =
        q(&mut other, &["MGET", "a", "b", "c", "d", "k", "txkey"]).unwrap();
    assert_eq!(mgot, [None, None, None, None, Some("before".into()), None]);
    assert_eq!(q::<i64>(&mut other, &["DBSIZE"]).unwrap(), 2);
    let status: String = q(&mut other, &["INFO", "persistence"]).unwrap();
    assert!(status.contains("aof_last_write_status:err"), "{status}");
    assert_eq!(
        files(&data),
        segments,
        "nothing of the refused writes stayed in the segments"
    );

    // The disk accepts writes again: the next attempt retries at once (no
    // timer): within two back-to-back attempts a write succeeds.
    std::fs::remove_file(&fault).unwrap();
    let first = q::<i64>(&mut c, &["INCR", "ctr"]);
    let n = match first {
        Ok(n) => n,
        Err(e) => {
            assert!(e.to_string().contains("MISCONF"), "{e}");
            q::<i64>(&mut c, &["INCR", "ctr"]).unwrap()
        }
    };
    assert_eq!(n, 2, "the refused INCRs counted nothing");
    let status: String = q(&mut other, &["INFO", "persistence"]).unwrap();
    assert!(status.contains("aof_last_write_status:ok"), "{status}");
    q::<()>(&mut c, &["SET", "after", "yes"]).unwrap();
    drop((c, other, tx));
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));

    let p = Proc::start(&data, &["--shards", "2"]);
    let mut c = p.client();
    assert_eq!(q::<String>(&mut c, &["GET", "ctr"]).unwrap(), "2");
    assert_eq!(q::<String>(&mut c, &["GET", "after"]).unwrap(), "yes");
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]).unwrap(), 3);
    let aof: Vec<u8> = files(&data)
        .iter()
        .filter(|(n, _)| n.ends_with(".aof"))
        .flat_map(|(n, _)| std::fs::read(data.join(n)).unwrap())
        .collect();
    let text = String::from_utf8_lossy(&aof);
    assert_eq!(
        text.matches("$3\r\nctr\r\n").count(),
        2,
        "SET ctr 1, SET ctr 2: {text}"
    );
}

#[test]
fn misconf_write_is_not_applied_under_everysec() {
    misconf_write_is_not_applied("everysec");
}

#[test]
fn misconf_write_is_not_applied_under_always() {
    misconf_write_is_not_applied("always");
}

/// If even taking a failed append back fails, the segment ends with records
/// of writes that were rolled back: writes stay refused until a rewrite has
/// replaced it with what memory holds, and a restart then finds that.
#[test]
fn a_failed_append_that_cannot_be_taken_back_is_replaced_by_a_rewrite() {
    let dir = tempdir("misconf-resync");
    let fault = dir.join("disk-full");
    let data = dir.join("data");
    let p = Proc::start_env(&data, &["--shards", "1"], &[(FAIL_WRITES, &fault)]);
    let mut c = p.client();
    for i in 0..100 {
        q::<()>(&mut c, &["SET", &format!("k{i}"), "v"]).unwrap();
    }
    std::fs::write(&fault, b"truncate").unwrap();
    let e = misconf(q(&mut c, &["SET", "k0", "refused"]));
    assert!(e.contains("No space left on device"), "{e}");
    assert_eq!(q::<String>(&mut c, &["GET", "k0"]).unwrap(), "v");
    std::fs::remove_file(&fault).unwrap();
    // Writes resume once the rewrite is done (started within a second or so).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match q::<()>(&mut c, &["SET", "after", "yes"]) {
            Ok(()) => break,
            Err(e) => assert!(e.to_string().contains("MISCONF"), "{e}"),
        }
        assert!(std::time::Instant::now() < deadline, "writes never resumed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(p.log().contains("cannot take back"), "{}", p.log());
    drop(c);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));
    let p = Proc::start(&data, &["--shards", "1"]);
    let mut c = p.client();
    assert_eq!(q::<String>(&mut c, &["GET", "k0"]).unwrap(), "v");
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]).unwrap(), 101);
}

/// The same on a real full disk, where the machine allows mounting a tmpfs
/// (skipped otherwise): INCR until the disk refuses one; that one counted
/// nothing, and the next one after space is freed counts once.
#[test]
fn misconf_incr_on_a_full_tmpfs_counts_nothing() {
    let root = tempdir("misconf-tmpfs");
    let mnt = root.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let data = mnt.join("data");
    let p = Proc::start(&data, &["--shards", "1"]);
    let mut c = p.client();
    q::<()>(&mut c, &["SET", "pad", &"p".repeat(3000)]).unwrap();
    // Fill what is left (the segment's last page may still take a few records).
    let _ = std::fs::write(mnt.join("filler"), vec![0u8; 1 << 20]);
    let mut acked = 0;
    let refused = loop {
        match q::<i64>(&mut c, &["INCR", "ctr"]) {
            Ok(n) => {
                acked = n;
                assert!(n < 1000, "the disk never filled");
            }
            Err(e) => break e.to_string(),
        }
    };
    assert!(refused.contains("No space left on device"), "{refused}");
    let got: Option<i64> = q(&mut c, &["GET", "ctr"]).unwrap();
    assert_eq!(got.unwrap_or(0), acked, "the refused INCR counted nothing");
    std::fs::remove_file(mnt.join("filler")).unwrap();
    let n = match q::<i64>(&mut c, &["INCR", "ctr"]) {
        Ok(n) => n,
        Err(_) => q::<i64>(&mut c, &["INCR", "ctr"]).unwrap(),
    };
    assert_eq!(n, acked + 1);
    drop(c);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));
    let p = Proc::start(&data, &["--shards", "1"]);
    let mut c = p.client();
    assert_eq!(q::<i64>(&mut c, &["GET", "ctr"]).unwrap(), acked + 1);
}

/// Where `needle` last occurs in `hay`.
fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// A script's writes reach the segment as one transaction (MULTI ... EXEC,
/// as Redis logs a script's effects): a crash that leaves the EXEC out of
/// the file takes every write of the script back on restart, none is
/// replayed alone, and the file is cut back to where the transaction began.
#[test]
fn a_script_cut_short_by_a_crash_is_replayed_whole_or_not_at_all() {
    let dir = tempdir("script-txn");
    let seg = dir.join("shard-0.1.aof");
    let p = Proc::start(&dir, &["--shards", "1", "--appendfsync", "always"]);
    let mut c = p.client();
    let _: () = redis::cmd("SET")
        .arg("before")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("EVAL")
        .arg("for i = 1, 5 do redis.call('SET', 's' .. i, i) end")
        .arg(0)
        .query(&mut c)
        .unwrap();
    drop(c);
    p.signal("-KILL");
    p.wait();

    let bytes = std::fs::read(&seg).unwrap();
    let exec = b"*1\r\n$4\r\nEXEC\r\n";
    assert!(bytes.ends_with(exec), "the script's records end with EXEC");
    let multi = rfind(&bytes, b"*1\r\n$5\r\nMULTI\r\n").expect("a MULTI");
    // The section's MULTI follows a note naming it (`ECHO
    // shardcache-section:<id>`), which replay uses to match its parts on
    // several shards.
    let note = rfind(&bytes[..multi], b"*2\r\n$4\r\nECHO\r\n").expect("a section note");
    assert!(
        rfind(&bytes[note..multi], b"shardcache-section:").is_some(),
        "{}",
        String::from_utf8_lossy(&bytes[note..multi])
    );
    let body = &bytes[multi..];
    for i in 1..=5 {
        assert!(
            rfind(body, format!("$2\r\ns{i}\r\n").as_bytes()).is_some(),
            "s{i} is inside the transaction"
        );
    }
    assert!(
        rfind(&bytes[..multi], b"before").is_some(),
        "the earlier SET is before it"
    );
    if std::process::Command::new("redis-check-aof")
        .arg("--version")
        .output()
        .is_ok()
    {
        let out = std::process::Command::new("redis-check-aof")
            .arg(&seg)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "redis-check-aof accepts the segment: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    // The crash came before the EXEC reached the file.
    let cut = bytes.len() - exec.len();
    std::fs::write(&seg, &bytes[..cut]).unwrap();
    let p = Proc::start(&dir, &["--shards", "1"]);
    let mut c = p.client();
    let got: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&["before", "s1", "s2", "s3", "s4", "s5"])
        .query(&mut c)
        .unwrap();
    assert_eq!(
        got,
        vec![Some("1".to_string()), None, None, None, None, None]
    );
    assert!(
        p.log().contains("unfinished transaction"),
        "the drop is logged: {}",
        p.log()
    );
    assert_eq!(
        std::fs::metadata(&seg).unwrap().len(),
        note as u64,
        "the segment is cut back to where the transaction began"
    );
    drop(c);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));

    // Refused, not cut, when told not to load truncated files.
    let mut again = std::fs::read(&seg).unwrap();
    again.extend_from_slice(&bytes[note..cut]);
    std::fs::write(&seg, &again).unwrap();
    let err = refused(&dir, &["--shards", "1", "--aof-load-truncated", "no"]);
    assert!(err.contains("without its EXEC"), "{err}");
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), again.len() as u64);
}

/// A script's writes on several shards carry one section id on every
/// segment. A crash between its releases (one segment has its EXEC, another
/// not) keeps the whole script, since it had reached its release; a crash
/// before any release drops it from every segment.
#[test]
fn a_script_across_shards_is_replayed_on_all_of_them_or_none() {
    let dir = tempdir("script-xs");
    let p = Proc::start(&dir, &["--shards", "4", "--appendfsync", "always"]);
    let mut c = p.client();
    let keys: Vec<String> = (0..12).map(|i| format!("x{i}")).collect();
    let _: () = redis::cmd("SET")
        .arg("before")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("EVAL")
        .arg("for i, k in ipairs(KEYS) do redis.call('SET', k, i) end")
        .arg(keys.len())
        .arg(&keys)
        .query(&mut c)
        .unwrap();
    drop(c);
    p.signal("-KILL");
    p.wait();

    let exec = b"*1\r\n$4\r\nEXEC\r\n";
    let segs: Vec<std::path::PathBuf> = (0..4)
        .map(|i| dir.join(format!("shard-{i}.1.aof")))
        .collect();
    let full: Vec<Vec<u8>> = segs.iter().map(|s| std::fs::read(s).unwrap()).collect();
    // Segments the script wrote on: they end with its part.
    let parts: Vec<usize> = (0..4)
        .filter(|&i| {
            keys.iter()
                .any(|k| rfind(&full[i], format!("${}\r\n{k}\r\n", k.len()).as_bytes()).is_some())
        })
        .collect();
    assert!(
        parts.len() >= 2,
        "12 keys on 4 shards reach several: {parts:?}"
    );
    let ids: Vec<Vec<u8>> = parts
        .iter()
        .map(|&i| {
            assert!(full[i].ends_with(exec), "segment {i} ends with the EXEC");
            let at = rfind(&full[i], b"shardcache-section:").expect("a section note");
            let end = at + full[i][at..].iter().position(|&b| b == b'\r').unwrap();
            full[i][at..end].to_vec()
        })
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "one section id: {ids:?}"
    );
    let restart_and_count = || {
        let p = Proc::start(&dir, &["--shards", "4"]);
        let mut c = p.client();
        let got: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
        let before: Option<String> = redis::cmd("GET").arg("before").query(&mut c).unwrap();
        assert_eq!(before.as_deref(), Some("1"));
        let log = p.log();
        drop(c);
        p.signal("-TERM");
        assert_eq!(p.wait(), Some(0));
        (got.iter().filter(|v| v.is_some()).count(), log)
    };
    // Every part but the first lost its EXEC: kept, and the EXECs written.
    for &i in &parts[1..] {
        std::fs::write(&segs[i], &full[i][..full[i].len() - exec.len()]).unwrap();
    }
    let (n, log) = restart_and_count();
    assert_eq!(n, keys.len(), "{log}");
    assert!(log.contains("another shard committed"), "{log}");
    for &i in &parts {
        assert!(std::fs::read(&segs[i]).unwrap().ends_with(exec));
    }
    // No part has its EXEC: the script is gone from every segment.
    for &i in &parts {
        let b = std::fs::read(&segs[i]).unwrap();
        std::fs::write(&segs[i], &b[..b.len() - exec.len()]).unwrap();
    }
    let (n, log) = restart_and_count();
    assert_eq!(n, 0, "{log}");
    assert!(log.contains("dropped an unfinished transaction"), "{log}");
}
