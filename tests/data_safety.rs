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
