//! Tests of the AOF: records, replay, manifest, reshard, rewrite.

use super::manifest::{Manifest, MANIFEST};
use super::{open, AofConfig, Fsync, Log, Opened, Record};
use crate::keyspace::{Expiry, Limits};
use crate::route::Router;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn set(log: &mut Log, db: u8, key: &[u8], value: &[u8], pxat: u64) {
    log.put(db, &Record::Set { key, value, pxat });
}

fn del(log: &mut Log, db: u8, key: &[u8]) {
    log.put(db, &Record::Del { key });
}

fn cfg(dir: &Path) -> AofConfig {
    AofConfig {
        dir: dir.to_path_buf(),
        fsync: Fsync::Always,
        rewrite_percentage: 100,
        rewrite_min_size: 64 << 20,
        load_truncated: true,
        load_corrupt: false,
        load_missing: false,
    }
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shardcache-aof-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn records_replay_and_manifest_round_trip() {
    let dir = tmpdir("roundtrip");
    let c = cfg(&dir);
    let router = Router::new(2);
    let limits = vec![Limits::default(); 2];
    let mut opened = open(&c, &router, &limits).unwrap();
    let mut log = Log::new(true);
    let far = crate::clock::unix_ms() + 1_000_000;
    set(&mut log, 0, b"a", b"1", 0);
    set(&mut log, 3, b"b", b"2", far);
    set(&mut log, 0, b"gone", b"x", 5); // expired long ago
    del(&mut log, 0, b"a");
    set(&mut log, 0, b"c", b"3", 0);
    opened.aofs[0].commit(&mut log).unwrap();
    drop(opened);
    let opened = open(&c, &router, &limits).unwrap();
    let s = &opened.stores[0];
    assert_eq!(s.len(), 2);
    let mut s0 = opened.stores.into_iter().next().unwrap();
    assert_eq!(s0.get(3, b"b", 0), Some(&b"2"[..]));
    assert_eq!(s0.expire_at(3, b"b", 0), Some(far));
    assert_eq!(s0.get(0, b"c", 0), Some(&b"3"[..]));
    assert_eq!(s0.get(0, b"a", 0), None);
    assert_eq!(s0.get(0, b"gone", 0), None);
    let m = Manifest::parse(&fs::read_to_string(dir.join(MANIFEST)).unwrap()).unwrap();
    assert_eq!(m.shards, 2);
    assert_eq!(m.generation, 1);
}

#[test]
fn torn_tail_keeps_prefix_and_corruption_refuses() {
    let dir = tmpdir("torn");
    let c = cfg(&dir);
    let router = Router::new(1);
    let limits = vec![Limits::default()];
    let mut opened = open(&c, &router, &limits).unwrap();
    let mut log = Log::new(true);
    for i in 0..10 {
        set(&mut log, 0, format!("k{i}").as_bytes(), b"v", 0);
    }
    opened.aofs[0].commit(&mut log).unwrap();
    let path = opened.aofs[0].path().to_path_buf();
    drop(opened);
    let full = fs::read(&path).unwrap();
    // Cut inside the last record at every offset: always 9 keys back.
    let last_start = full.len() - b"*3\r\n$3\r\nSET\r\n$2\r\nk9\r\n$1\r\nv\r\n".len();
    for cut in last_start + 1..full.len() {
        fs::write(&path, &full[..cut]).unwrap();
        let o = open(&c, &router, &limits).unwrap();
        assert_eq!(o.stores[0].len(), 9, "cut at {cut}");
        assert_eq!(fs::metadata(&path).unwrap().len(), last_start as u64);
    }
    // Garbage in the middle: refuse, naming the offset.
    let mut bad = full.clone();
    bad[last_start] = b'#';
    bad.extend_from_slice(b"*1\r\n$7\r\nFLUSHDB\r\n");
    fs::write(&path, &bad).unwrap();
    let err = open(&c, &router, &limits).err().unwrap();
    assert!(err.contains(&format!("offset {last_start}")), "{err}");
    let mut lenient = c.clone();
    lenient.load_corrupt = true;
    let o = open(&lenient, &router, &limits).unwrap();
    assert_eq!(o.stores[0].len(), 9);
}

#[test]
fn reshard_moves_every_key() {
    let dir = tmpdir("reshard");
    let c = cfg(&dir);
    let limits4 = vec![Limits::default(); 4];
    let r4 = Router::new(4);
    let mut opened = open(&c, &r4, &limits4).unwrap();
    for i in 0..1000u32 {
        let k = format!("key:{i}");
        let shard = r4.shard_of(k.as_bytes());
        let mut log = Log::new(true);
        set(
            &mut log,
            (i % 3) as u8,
            k.as_bytes(),
            i.to_string().as_bytes(),
            0,
        );
        opened.aofs[shard].commit(&mut log).unwrap();
    }
    drop(opened);
    for n in [2usize, 3] {
        let r = Router::new(n);
        let opened = open(&c, &r, &vec![Limits::default(); n]).unwrap();
        assert_eq!(opened.resharded_from, Some(if n == 2 { 4 } else { 2 }));
        let mut stores = opened.stores;
        let total: usize = stores.iter().map(|s| s.len()).sum();
        assert_eq!(total, 1000);
        for i in 0..1000u32 {
            let k = format!("key:{i}");
            let s = &mut stores[r.shard_of(k.as_bytes())];
            assert_eq!(
                s.get((i % 3) as usize, k.as_bytes(), 0),
                Some(i.to_string().as_bytes())
            );
        }
    }
    let m = Manifest::parse(&fs::read_to_string(dir.join(MANIFEST)).unwrap()).unwrap();
    assert_eq!((m.shards, m.generation), (3, 3));
    let files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(files.len(), 4, "old generations removed: {files:?}");
}

#[test]
fn rewrite_compacts_and_keeps_concurrent_writes() {
    let dir = tmpdir("rewrite");
    let mut c = cfg(&dir);
    c.fsync = Fsync::No;
    let router = Router::new(1);
    let limits = vec![Limits::default()];
    let mut opened = open(&c, &router, &limits).unwrap();
    let mut store = opened.stores.pop().unwrap();
    let mut aof = opened.aofs.pop().unwrap();
    let mut log = Log::new(true);
    for round in 0..50u32 {
        for i in 0..200u32 {
            let k = format!("k{i}");
            let v = format!("v{round}");
            store
                .set(0, k.as_bytes(), v.as_bytes(), Expiry::Clear, 0)
                .unwrap();
            set(&mut log, 0, k.as_bytes(), v.as_bytes(), 0);
        }
        aof.commit(&mut log).unwrap();
    }
    let before = aof.status().current_size;
    assert!(aof.request_rewrite());
    aof.tick(&mut log, &store);
    let mut steps = 0;
    while aof.rewriting() {
        // Writes keep coming during the rewrite (a bounded number, so
        // the size check below does not depend on how long the
        // background sync of the new file takes on this disk).
        if steps < 50 {
            let k = format!("k{}", steps % 200);
            store
                .set(0, k.as_bytes(), b"late", Expiry::Clear, 0)
                .unwrap();
            set(&mut log, 0, k.as_bytes(), b"late", 0);
            store.del(0, b"k199", 0);
            del(&mut log, 0, b"k199");
            aof.commit(&mut log).unwrap();
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
        aof.tick(&mut log, &store);
        steps += 1;
        assert!(steps < 60_000, "the rewrite finishes");
    }
    let after = aof.status().current_size;
    assert!(after < before / 10, "{after} vs {before}");
    set(&mut log, 0, b"after", b"swap", 0);
    aof.commit(&mut log).unwrap();
    drop(aof);
    let mut reopened = open(&c, &router, &limits).unwrap();
    let mut s = reopened.stores.pop().unwrap();
    assert_eq!(
        s.len(),
        store.len() + 1,
        "every key plus the one logged after the swap"
    );
    for i in 0..199u32 {
        let k = format!("k{i}");
        assert_eq!(
            s.get(0, k.as_bytes(), 0),
            store.peek(0, k.as_bytes(), 0),
            "{k}"
        );
    }
    assert_eq!(s.get(0, b"k199", 0), None);
    assert_eq!(s.get(0, b"after", 0), Some(&b"swap"[..]));
}

#[test]
fn every_record_kind_round_trips_through_encode_and_parse() {
    let records = [
        Record::Select(7),
        Record::Set {
            key: b"k",
            value: b"v\r\n\0",
            pxat: 0,
        },
        Record::Set {
            key: b"",
            value: b"",
            pxat: 1_700_000_000_123,
        },
        Record::Del { key: b"bin\xff" },
        Record::PExpireAt { key: b"k", at: 42 },
        Record::FlushDb,
        Record::FlushAll,
        Record::SwapDb { a: 0, b: 15 },
    ];
    for r in records {
        let mut buf = Vec::new();
        r.encode(&mut buf);
        // The bytes are one RESP command; parse them back.
        let mut ranges = Vec::new();
        let super::record::Frame::Done(n) = super::record::parse_frame(&buf, &mut ranges) else {
            panic!("{r:?} did not encode a whole frame")
        };
        assert_eq!(n, buf.len());
        let args: Vec<&[u8]> = ranges.iter().map(|&(s, l)| &buf[s..s + l]).collect();
        let mut back = Vec::new();
        Record::parse(&args, |rec| {
            back.push(rec);
            Ok(())
        })
        .unwrap();
        assert_eq!(back, [r]);
    }
    // A DEL of several keys (Redis writes those) is one record per key.
    let mut back = Vec::new();
    Record::parse(&[b"del", b"a", b"b"], |rec| {
        back.push(rec);
        Ok(())
    })
    .unwrap();
    assert_eq!(back, [Record::Del { key: b"a" }, Record::Del { key: b"b" }]);
    // Anything else is refused with a reason.
    for bad in [
        &[&b"SET"[..], b"k"][..],
        &[b"SELECT", b"16"],
        &[b"INCR", b"k"],
    ] {
        assert!(Record::parse(bad, |_| Ok(())).is_err(), "{bad:?}");
    }
}

/// Writes `keys` keys through `open` with `n` shards; returns the segment sizes.
fn fill(c: &AofConfig, n: usize, keys: u32) -> Vec<(String, u64)> {
    let r = Router::new(n);
    let mut opened = open(c, &r, &vec![Limits::default(); n]).unwrap();
    for i in 0..keys {
        let k = format!("key:{i}");
        let mut log = Log::new(true);
        set(&mut log, 0, k.as_bytes(), i.to_string().as_bytes(), 0);
        opened.aofs[r.shard_of(k.as_bytes())]
            .commit(&mut log)
            .unwrap();
    }
    files(&c.dir)
}

/// Every file of `dir` with its size, sorted by name.
fn files(dir: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = fs::read_dir(dir)
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

fn total_keys(o: &Opened) -> usize {
    o.stores.iter().map(|s| s.len()).sum()
}

#[test]
fn missing_manifest_recovers_the_newest_complete_generation() {
    let dir = tmpdir("nomanifest");
    let c = cfg(&dir);
    let before = fill(&c, 2, 500);
    let seg_bytes: u64 = before
        .iter()
        .filter(|(n, _)| n != MANIFEST)
        .map(|f| f.1)
        .sum();
    assert!(seg_bytes > 5_000, "{before:?}");
    fs::remove_file(dir.join(MANIFEST)).unwrap();
    // Same shard count: still re-routed (the routing that wrote them is
    // unknown), into a generation above the one found.
    let o = open(&c, &Router::new(2), &[Limits::default(); 2]).unwrap();
    assert_eq!(total_keys(&o), 500);
    let m = Manifest::parse(&fs::read_to_string(dir.join(MANIFEST)).unwrap()).unwrap();
    assert_eq!((m.shards, m.generation), (2, 2));
    drop(o);
    // And it stays: a normal start on the new manifest.
    let o = open(&c, &Router::new(2), &[Limits::default(); 2]).unwrap();
    assert_eq!(total_keys(&o), 500);
    assert_eq!(o.resharded_from, None);
}

#[test]
fn missing_manifest_after_reshards_skips_incomplete_generations_and_deletes_nothing_else() {
    let dir = tmpdir("nomanifest-gen");
    let c = cfg(&dir);
    fill(&c, 4, 300);
    // 4 -> 2 -> 3 shards: generation 3 holds the data.
    drop(open(&c, &Router::new(2), &[Limits::default(); 2]).unwrap());
    drop(open(&c, &Router::new(3), &[Limits::default(); 3]).unwrap());
    fs::remove_file(dir.join(MANIFEST)).unwrap();
    // An older generation left behind, and a newer one a reshard did
    // not finish (its renames go last index first: shard-0 is missing).
    fs::write(dir.join("shard-0.1.aof"), b"*1\r\n$8\r\nFLUSHALL\r\n").unwrap();
    fs::write(dir.join("shard-1.7.aof"), b"*1\r\n$8\r\nFLUSHALL\r\n").unwrap();
    fs::write(dir.join("shard-3.2.aof.rewrite"), b"partial").unwrap();
    let o = open(&c, &Router::new(2), &[Limits::default(); 2]).unwrap();
    assert_eq!(total_keys(&o), 300);
    let m = Manifest::parse(&fs::read_to_string(dir.join(MANIFEST)).unwrap()).unwrap();
    assert_eq!(
        (m.shards, m.generation),
        (2, 8),
        "above every generation on disk"
    );
    let names: Vec<String> = files(&dir).into_iter().map(|f| f.0).collect();
    assert_eq!(
        names,
        [
            "manifest",
            "shard-0.1.aof",
            "shard-0.8.aof",
            "shard-1.7.aof",
            "shard-1.8.aof"
        ],
        "generation 3 retired by the new manifest; the stray ones left alone, the rewrite leftover gone"
    );
}

#[test]
fn missing_manifest_without_a_complete_generation_refuses_and_changes_nothing() {
    let dir = tmpdir("nomanifest-refuse");
    let c = cfg(&dir);
    fill(&c, 3, 200);
    fs::remove_file(dir.join(MANIFEST)).unwrap();
    fs::remove_file(dir.join("shard-0.1.aof")).unwrap();
    let before = files(&dir);
    let err = open(&c, &Router::new(3), &[Limits::default(); 3])
        .err()
        .unwrap();
    assert!(
        err.contains(&dir.display().to_string())
            && err.contains("shard-1.1.aof, shard-2.1.aof")
            && err.contains("no manifest"),
        "{err}"
    );
    assert_eq!(files(&dir), before, "nothing written, truncated or deleted");
}

#[test]
fn a_listed_segment_that_is_missing_refuses_unless_allowed() {
    let dir = tmpdir("missing-seg");
    let mut c = cfg(&dir);
    fill(&c, 2, 400);
    let r = Router::new(2);
    let on_1 = (0..400u32)
        .filter(|i| r.shard_of(format!("key:{i}").as_bytes()) == 1)
        .count();
    fs::remove_file(dir.join("shard-0.1.aof")).unwrap();
    let before = files(&dir);
    let err = open(&c, &r, &[Limits::default(); 2]).err().unwrap();
    assert!(
        err.contains("shard-0.1.aof") && err.contains("--aof-load-missing"),
        "{err}"
    );
    assert_eq!(files(&dir), before);
    c.load_missing = true;
    let o = open(&c, &r, &[Limits::default(); 2]).unwrap();
    assert_eq!(total_keys(&o), on_1);
    assert!(
        dir.join("shard-0.1.aof").exists(),
        "an empty segment in its place"
    );
}
