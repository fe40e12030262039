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
    bad[last_start] = b'!';
    bad.extend_from_slice(b"*1\r\n$7\r\nFLUSHDB\r\n");
    fs::write(&path, &bad).unwrap();
    let err = open(&c, &router, &limits).err().unwrap();
    assert!(err.contains(&format!("offset {last_start}")), "{err}");
    let mut lenient = c.clone();
    lenient.load_corrupt = true;
    let o = open(&lenient, &router, &limits).unwrap();
    assert_eq!(o.stores[0].len(), 9);
}

/// The record before a section's MULTI.
fn note(id: u64) -> Vec<u8> {
    let text = format!("shardcache-section:{id:x}");
    format!("*2\r\n$4\r\nECHO\r\n${}\r\n{text}\r\n", text.len()).into_bytes()
}

#[test]
fn seal_wraps_groups_of_several_records_and_sections_across_groups() {
    let (multi, exec) = (super::MULTI, super::EXEC);
    let one = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n";
    let select = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n";
    let dir = tmpdir("seal");
    let c = cfg(&dir);
    let router = Router::new(1);
    let limits = vec![Limits::default()];
    let mut opened = open(&c, &router, &limits).unwrap();
    let path = opened.aofs[0].path().to_path_buf();
    let aof = &mut opened.aofs[0];
    let mut log = Log::new(true);
    let mut expect = Vec::new();
    let mut want = |parts: &[&[u8]]| parts.iter().for_each(|p| expect.extend_from_slice(p));
    // One record is atomic on its own.
    set(&mut log, 0, b"a", b"1", 0);
    log.seal(false);
    aof.commit(&mut log).unwrap();
    want(&[select, one]);
    // Two are wrapped.
    set(&mut log, 0, b"a", b"1", 0);
    set(&mut log, 0, b"a", b"1", 0);
    log.seal(false);
    aof.commit(&mut log).unwrap();
    want(&[multi, one, one, exec]);
    // Two other clients' records, then a section that takes the shard and
    // still holds it at the end of the group: the others' records are
    // closed (their replies leave with this write), the section's stay open.
    set(&mut log, 0, b"a", b"1", 0);
    set(&mut log, 0, b"a", b"1", 0);
    log.mark_hold(0x2a);
    set(&mut log, 0, b"a", b"1", 0);
    log.seal(true);
    aof.commit(&mut log).unwrap();
    assert!(log.is_open());
    want(&[multi, one, one, exec, &note(0x2a), multi, one]);
    // The section goes on in the next group, is released, and one more
    // client's record follows in the same group, then another section
    // takes the shard (after one record of the first's kind).
    set(&mut log, 0, b"a", b"1", 0);
    log.mark_release();
    set(&mut log, 0, b"a", b"1", 0);
    log.mark_hold(0x2b);
    set(&mut log, 0, b"a", b"1", 0);
    log.seal(true);
    aof.commit(&mut log).unwrap();
    want(&[one, exec, one, &note(0x2b), multi, one]);
    // Released with nothing more: the EXEC alone.
    log.mark_release();
    log.seal(false);
    assert!(log.has_pending(), "the EXEC alone is written");
    aof.commit(&mut log).unwrap();
    assert!(!log.is_open());
    want(&[exec]);
    // A section that wrote nothing writes nothing, over several groups.
    log.mark_hold(0x2c);
    log.seal(true);
    log.seal(true);
    log.mark_release();
    log.seal(false);
    assert!(!log.has_pending());
    // A section held from an earlier group that writes only now opens then.
    log.mark_hold(0x2d);
    log.seal(true);
    set(&mut log, 0, b"a", b"1", 0);
    log.seal(true);
    aof.commit(&mut log).unwrap();
    log.mark_release();
    log.seal(false);
    aof.commit(&mut log).unwrap();
    want(&[&note(0x2d), multi, one, exec]);
    drop(opened);
    assert_eq!(
        String::from_utf8_lossy(&fs::read(&path).unwrap()),
        String::from_utf8_lossy(&expect)
    );
    let o = open(&c, &router, &limits).unwrap();
    assert_eq!(o.stores[0].len(), 1);
    assert_eq!(fs::read(&path).unwrap(), expect, "loaded as it is");
}

/// A crash between a section's releases on two shards: one segment has its
/// part whole with the EXEC, the other without. The section got to its
/// release, so every record of it is written: the second part is kept and
/// its EXEC written. With no shard's EXEC, every part is dropped.
#[test]
fn a_section_cut_short_on_one_shard_is_kept_when_another_shard_committed_it() {
    let dir = tmpdir("settle");
    let c = cfg(&dir);
    let router = Router::new(2);
    let limits = vec![Limits::default(); 2];
    let mut opened = open(&c, &router, &limits).unwrap();
    let paths: Vec<PathBuf> = opened.aofs.iter().map(|a| a.path().to_path_buf()).collect();
    let mut before = Vec::new();
    for (i, aof) in opened.aofs.iter_mut().enumerate() {
        let mut log = Log::new(true);
        set(&mut log, 0, format!("base{i}").as_bytes(), b"1", 0);
        log.seal(false);
        aof.commit(&mut log).unwrap();
        before.push(fs::metadata(&paths[i]).unwrap().len());
        log.mark_hold(0xabc);
        set(&mut log, 0, format!("s{i}").as_bytes(), b"x", 0);
        log.seal(true);
        aof.commit(&mut log).unwrap();
        set(&mut log, 0, format!("t{i}").as_bytes(), b"y", 0);
        log.seal(true);
        aof.commit(&mut log).unwrap();
    }
    drop(opened);
    let open_bytes: Vec<Vec<u8>> = paths.iter().map(|p| fs::read(p).unwrap()).collect();
    let restore = || {
        for (p, b) in paths.iter().zip(&open_bytes) {
            fs::write(p, b).unwrap();
        }
    };
    let keys = |o: &mut Opened, i: usize| {
        let s = &mut o.stores[i];
        [&b"base"[..], b"s", b"t"]
            .iter()
            .map(|k| {
                let k = [*k, i.to_string().as_bytes()].concat();
                s.get(0, &k, 0).is_some()
            })
            .collect::<Vec<_>>()
    };
    // Shard 0 released (its EXEC is written), shard 1 did not.
    restore();
    let mut committed = open_bytes[0].clone();
    committed.extend_from_slice(super::EXEC);
    fs::write(&paths[0], &committed).unwrap();
    let mut o = open(&c, &router, &limits).unwrap();
    assert_eq!(keys(&mut o, 0), [true, true, true]);
    assert_eq!(keys(&mut o, 1), [true, true, true], "completed");
    drop(o);
    let mut closed = open_bytes[1].clone();
    closed.extend_from_slice(super::EXEC);
    assert_eq!(fs::read(&paths[1]).unwrap(), closed, "its EXEC written");
    // Neither released: both parts go, each file cut to its note.
    restore();
    let mut o = open(&c, &router, &limits).unwrap();
    for i in 0..2 {
        assert_eq!(keys(&mut o, i), [true, false, false], "shard {i}");
        assert_eq!(fs::metadata(&paths[i]).unwrap().len(), before[i]);
    }
    drop(o);
    // Another section's EXEC does not commit this one.
    restore();
    let mut other = open_bytes[0][..before[0] as usize].to_vec();
    other.extend_from_slice(&note(0xabd));
    other.extend_from_slice(super::MULTI);
    other.extend_from_slice(super::EXEC);
    fs::write(&paths[0], &other).unwrap();
    let mut o = open(&c, &router, &limits).unwrap();
    assert_eq!(keys(&mut o, 1), [true, false, false]);
}

#[test]
fn a_transaction_the_file_ends_inside_is_taken_back_whole() {
    let dir = tmpdir("txn-tail");
    let c = cfg(&dir);
    let router = Router::new(1);
    let limits = vec![Limits::default()];
    let mut opened = open(&c, &router, &limits).unwrap();
    let path = opened.aofs[0].path().to_path_buf();
    let mut log = Log::new(true);
    for i in 0..3 {
        set(&mut log, 0, format!("k{i}").as_bytes(), b"old", 0);
    }
    log.seal(false);
    opened.aofs[0].commit(&mut log).unwrap();
    let before = fs::metadata(&path).unwrap().len() as usize;
    // A section's first group, still open: overwrites, a delete, new keys
    // in another database.
    set(&mut log, 0, b"k0", b"new", 0);
    del(&mut log, 0, b"k1");
    set(&mut log, 5, b"n", b"new", 0);
    log.seal(true);
    opened.aofs[0].commit(&mut log).unwrap();
    drop(opened);
    let full = fs::read(&path).unwrap();
    let check = |o: Opened| {
        let mut s = o.stores.into_iter().next().unwrap();
        assert_eq!(s.len(), 3);
        for i in 0..3 {
            let k = format!("k{i}");
            assert_eq!(s.get(0, k.as_bytes(), 0), Some(&b"old"[..]), "{k}");
        }
        assert_eq!(s.get(5, b"n", 0), None);
    };
    // Ending after any record of it, or inside one: all of it goes.
    for cut in before + 1..=full.len() {
        fs::write(&path, &full[..cut]).unwrap();
        check(open(&c, &router, &limits).unwrap());
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            before as u64,
            "cut {cut}"
        );
    }
    // Refused, and left as it is, without aof-load-truncated.
    fs::write(&path, &full).unwrap();
    let mut strict = c.clone();
    strict.load_truncated = false;
    let err = open(&strict, &router, &limits).err().unwrap();
    assert!(
        err.contains(&format!("without its EXEC (MULTI) at offset {before}")),
        "{err}"
    );
    assert_eq!(fs::read(&path).unwrap(), full);
    // Corruption inside it: the kept prefix ends before it, and everything
    // from there is moved aside.
    let mut bad = full.clone();
    bad.extend_from_slice(b"garbage\r\n*1\r\n$4\r\nEXEC\r\n");
    fs::write(&path, &bad).unwrap();
    let err = open(&c, &router, &limits).err().unwrap();
    assert!(err.contains("corrupt"), "{err}");
    let mut lenient = c.clone();
    lenient.load_corrupt = true;
    check(open(&lenient, &router, &limits).unwrap());
    assert_eq!(fs::metadata(&path).unwrap().len(), before as u64);
    let aside = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .expect("the tail moved aside");
    assert_eq!(fs::read(aside.path()).unwrap(), &bad[before..]);
    // An EXEC with no MULTI is corruption.
    let mut lone = full[..before].to_vec();
    lone.extend_from_slice(super::EXEC);
    lone.extend_from_slice(b"*1\r\n$7\r\nFLUSHDB\r\n");
    fs::write(&path, &lone).unwrap();
    let err = open(&c, &router, &limits).err().unwrap();
    assert!(err.contains("EXEC without MULTI"), "{err}");
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

/// A rewrite that begins while a transaction is open (only after a failed
/// append left one open) gives the new segment the MULTI its EXEC closes.
#[test]
fn a_rewrite_begun_inside_a_transaction_keeps_it_whole() {
    let dir = tmpdir("rewrite-txn");
    let mut c = cfg(&dir);
    c.fsync = Fsync::No;
    let router = Router::new(1);
    let limits = vec![Limits::default()];
    let mut opened = open(&c, &router, &limits).unwrap();
    let mut store = opened.stores.pop().unwrap();
    let mut aof = opened.aofs.pop().unwrap();
    let path = aof.path().to_path_buf();
    let mut log = Log::new(true);
    store.set(0, b"a", b"1", Expiry::Clear, 0).unwrap();
    set(&mut log, 0, b"a", b"1", 0);
    log.seal(true);
    aof.commit(&mut log).unwrap();
    assert!(aof.request_rewrite());
    aof.tick(&mut log, &store);
    let mut steps = 0;
    while aof.rewriting() {
        if steps == 0 {
            store.set(0, b"b", b"2", Expiry::Clear, 0).unwrap();
            set(&mut log, 0, b"b", b"2", 0);
            log.seal(true);
            aof.commit(&mut log).unwrap();
        }
        std::thread::sleep(Duration::from_millis(1));
        aof.tick(&mut log, &store);
        steps += 1;
        assert!(steps < 60_000, "the rewrite finishes");
    }
    // The new segment ends inside the transaction: b's record is taken back
    // on load (a's lives in the snapshot, written from memory).
    let open_bytes = fs::read(&path).unwrap();
    assert!(open_bytes.ends_with(b"$1\r\nb\r\n$1\r\n2\r\n"));
    assert_eq!(
        open_bytes
            .windows(super::MULTI.len())
            .filter(|w| *w == super::MULTI)
            .count(),
        1
    );
    log.seal(false);
    aof.commit(&mut log).unwrap();
    drop(aof);
    let mut s = open(&c, &router, &limits).unwrap().stores.pop().unwrap();
    assert_eq!(s.get(0, b"a", 0), Some(&b"1"[..]));
    assert_eq!(s.get(0, b"b", 0), Some(&b"2"[..]));
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

// ------------------------------------------------------------ collections

use crate::keyspace::{Store, ValueRef};
use crate::ops::redis_check::run_lines;
use crate::ops::Persist;

/// Every live key of `s` with its content (collections sorted) and expiry.
fn content(s: &Store) -> Vec<(u8, Vec<u8>, String, u64)> {
    let mut out = Vec::new();
    let mut cursor = 0;
    loop {
        let next = s.snapshot_range(cursor, 1000, 0, |db, k, v, exp| {
            let v = match v {
                ValueRef::Str(b) => format!("string:{}", String::from_utf8_lossy(b)),
                ValueRef::Obj(o) => o.describe(true),
            };
            out.push((db, k.to_vec(), v, exp));
        });
        match next {
            Some(c) => cursor = c,
            None => break,
        }
    }
    out.sort();
    out
}

/// Runs `lines` on `store` and commits their records to `persist`'s segment.
fn apply(store: &mut Store, persist: &mut Persist, lines: &[&str]) {
    run_lines(store, persist, crate::clock::unix_ms(), lines);
    store.forget();
    if let Some(aof) = persist.aof.as_mut() {
        aof.commit(&mut persist.log).unwrap();
    }
}

#[test]
fn collection_records_round_trip_through_encode_and_parse() {
    use super::record::Items;
    let pairs: [&[u8]; 4] = [b"f", b"v\r\n", b"", b"x"];
    let members: [&[u8]; 2] = [b"1", b"m\xff"];
    let records = [
        Record::HSet {
            key: b"h",
            pairs: Items::List(&pairs),
        },
        Record::HDel {
            key: b"h",
            fields: Items::List(&pairs[..3]),
        },
        Record::SAdd {
            key: b"s",
            members: Items::List(&members),
        },
        Record::SRem {
            key: b"s",
            members: Items::List(&members[..1]),
        },
        Record::Persist { key: b"k" },
    ];
    for r in records {
        let mut buf = Vec::new();
        r.encode(&mut buf);
        let mut ranges = Vec::new();
        let super::record::Frame::Done(n) = super::record::parse_frame(&buf, &mut ranges) else {
            panic!("{r:?} did not encode a whole frame")
        };
        assert_eq!(n, buf.len());
        let args: Vec<&[u8]> = ranges.iter().map(|&(s, l)| &buf[s..s + l]).collect();
        let mut back = Vec::new();
        Record::parse(&args, |rec| {
            back.push(format!("{rec:?}"));
            Ok(())
        })
        .unwrap();
        assert_eq!(back, [format!("{r:?}")]);
    }
    for bad in [
        &[&b"HSET"[..], b"h", b"f"][..],
        &[b"HSET", b"h"],
        &[b"SADD", b"s"],
        &[b"HDEL", b"h"],
        &[b"PERSIST"],
    ] {
        assert!(Record::parse(bad, |_| Ok(())).is_err(), "{bad:?}");
    }
}

/// What hash and set ops log replays to what they left in memory: the
/// same content and TTLs, and (built the same way) the same encodings.
#[test]
fn collection_writes_replay_to_the_same_keys() {
    let dir = tmpdir("collections-replay");
    let c = cfg(&dir);
    let router = Router::new(1);
    let limits = vec![Limits::default()];
    let mut opened = open(&c, &router, &limits).unwrap();
    let mut store = opened.stores.pop().unwrap();
    let mut persist = Persist::on(opened.aofs.pop().unwrap());
    let many: Vec<String> = (0..700).map(|i| format!("f{i} {i}")).collect();
    let hset_many = format!("HSET big {}", many.join(" "));
    apply(
        &mut store,
        &mut persist,
        &[
            "HSET h a 1 b 2 c 3",
            "HDEL h b",
            "HINCRBY h a 41",
            "HINCRBYFLOAT h f 0.25",
            "HSETNX h g 7",
            "PEXPIRE h 1000000",
            "HSET gone x 1",
            "HDEL gone x",
            &hset_many,
            "HDEL big f0 f1",
            "SADD s 1 2 3 x",
            "SREM s x 2",
            "SADD i 5 6 7",
            "SPOP i",
            "SADD one z",
            "SPOP one",
            "SADD a 1 2 3",
            "SADD b 2 3 4",
            "SINTERSTORE d a b",
            "SUNIONSTORE u a b s",
            "SMOVE a b 1",
            "RENAME u u2",
            "COPY h h2",
            "PERSIST h2",
            "SADD t 1",
            "PEXPIRE t 1000000",
            "SET t str",
        ],
    );
    let want = content(&store);
    let encodings = |s: &mut Store| {
        ["h", "big", "s", "i", "d", "u2", "b"]
            .iter()
            .map(|k| {
                let pos = s
                    .lookup(0, k.as_bytes(), 0, crate::keyspace::Lookup::PEEK)
                    .unwrap();
                match s.value_at(pos) {
                    ValueRef::Obj(o) => o.encoding_name(),
                    ValueRef::Str(_) => "string",
                }
            })
            .collect::<Vec<_>>()
    };
    let want_enc = encodings(&mut store);
    drop(persist);
    let mut reopened = open(&c, &router, &limits).unwrap();
    let mut back = reopened.stores.pop().unwrap();
    assert_eq!(content(&back), want);
    assert_eq!(encodings(&mut back), want_enc);
    assert!(want.iter().all(|(_, k, _, _)| k != b"gone" && k != b"one"));
}

/// A rewrite snapshots hashes and sets (64 items a record, TTLs as
/// PEEXPIREAT) while writes go on, including writes that empty a key and
/// create it again during the walk: the segment reloads to what memory holds.
#[test]
fn rewrite_with_collections_reloads_what_memory_holds() {
    let dir = tmpdir("collections-rewrite");
    let mut c = cfg(&dir);
    c.fsync = Fsync::No;
    let router = Router::new(1);
    let limits = vec![Limits::default()];
    let mut opened = open(&c, &router, &limits).unwrap();
    let mut store = opened.stores.pop().unwrap();
    let mut persist = Persist::on(opened.aofs.pop().unwrap());
    store.set_journaling(true);
    // Enough keys for a walk of many steps.
    let filler: Vec<String> = (0..30_000).map(|i| format!("SET filler:{i} {i}")).collect();
    let filler: Vec<&str> = filler.iter().map(String::as_str).collect();
    for chunk in filler.chunks(1000) {
        apply(&mut store, &mut persist, chunk);
    }
    let fields: Vec<String> = (0..300)
        .map(|i| format!("f{i} {}", "x".repeat(i % 90)))
        .collect();
    apply(
        &mut store,
        &mut persist,
        &[
            &format!("HSET bighash {}", fields.join(" ")),
            "PEXPIRE bighash 1000000",
            "HSET small a 1",
            "SADD ints 1 2 3",
            "SADD strs a b c",
        ],
    );
    let members: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    apply(
        &mut store,
        &mut persist,
        &[&format!("SADD bigset {}", members.join(" "))],
    );
    for i in 0..100 {
        apply(&mut store, &mut persist, &[&format!("HSET t{i} old 1")]);
    }
    let aof = persist.aof.as_mut().unwrap();
    assert!(aof.request_rewrite());
    aof.tick(&mut persist.log, &store);
    let mut steps = 0;
    while persist.aof.as_ref().unwrap().rewriting() {
        if steps < 100 {
            let i = steps;
            // Emptied (DEL), created again with a TTL, emptied, created
            // without one: the last state is `{b}` with no TTL.
            apply(
                &mut store,
                &mut persist,
                &[
                    &format!("HDEL t{i} old"),
                    &format!("HSET t{i} a 1"),
                    &format!("PEXPIRE t{i} 1000000"),
                    &format!("HDEL t{i} a"),
                    &format!("HSET t{i} b 2"),
                    &format!("SADD u{i} x"),
                    &format!("PEXPIRE u{i} 1000000"),
                    &format!("SREM u{i} x"),
                    &format!("SADD u{i} y"),
                    &format!("HDEL bighash f{i}"),
                    &format!("SPOP bigset {}", i % 3),
                    &format!("SMOVE strs ints {}", ["a", "b", "c"][i % 3]),
                ],
            );
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
        let aof = persist.aof.as_mut().unwrap();
        aof.tick(&mut persist.log, &store);
        steps += 1;
        assert!(steps < 60_000, "the rewrite finishes");
    }
    assert!(steps > 10, "the walk took several steps ({steps})");
    let want = content(&store);
    drop(persist);
    let mut reopened = open(&c, &router, &limits).unwrap();
    let back = reopened.stores.pop().unwrap();
    let got = content(&back);
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w, g);
    }
    assert_eq!(got.len(), want.len());
    let t7 = got.iter().find(|(_, k, _, _)| k == b"t7").unwrap();
    assert_eq!((t7.2.as_str(), t7.3), ("hash:b=2", 0));
}

/// Re-routing to another shard count copies hashes and sets whole, TTLs
/// included.
#[test]
fn reshard_moves_hashes_and_sets() {
    let dir = tmpdir("collections-reshard");
    let c = cfg(&dir);
    let r4 = Router::new(4);
    let mut opened = open(&c, &r4, &vec![Limits::default(); 4]).unwrap();
    let mut persists: Vec<Persist> = opened.aofs.drain(..).map(Persist::on).collect();
    let mut want = Vec::new();
    for i in 0..300u32 {
        let (h, s) = (format!("h{i}"), format!("s{i}"));
        for (k, lines) in [
            (
                &h,
                vec![
                    format!("HSET {h} a {i} b x{i}"),
                    format!("PEXPIRE {h} {}", 1_000_000 + i),
                ],
            ),
            (&s, vec![format!("SADD {s} {i} m{i} {}", i + 1)]),
        ] {
            let shard = r4.shard_of(k.as_bytes());
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            apply(&mut opened.stores[shard], &mut persists[shard], &lines);
        }
    }
    for s in &opened.stores {
        want.extend(content(s));
    }
    want.sort();
    drop(persists);
    drop(opened);
    for n in [2usize, 3] {
        let r = Router::new(n);
        let opened = open(&c, &r, &vec![Limits::default(); n]).unwrap();
        assert!(opened.resharded_from.is_some());
        let mut got = Vec::new();
        for (shard, s) in opened.stores.iter().enumerate() {
            for row in content(s) {
                assert_eq!(r.shard_of(&row.1), shard);
                got.push(row);
            }
        }
        got.sort();
        // TTLs are absolute: compare them to the millisecond.
        assert_eq!(got, want);
    }
}

/// A segment of collection records is a valid Redis AOF: redis-check-aof
/// accepts it and `redis-cli --pipe` loads it into a redis-server that then
/// holds the same keys.
#[test]
fn collection_segments_load_into_redis() {
    use crate::ops::redis_check::{redis, V};
    let Some(mut r) = redis("aof_pipe") else {
        return;
    };
    let dir = tmpdir("collections-redis");
    let c = cfg(&dir);
    let router = Router::new(1);
    let limits = vec![Limits::default()];
    let mut opened = open(&c, &router, &limits).unwrap();
    let mut store = opened.stores.pop().unwrap();
    let mut persist = Persist::on(opened.aofs.pop().unwrap());
    let many: Vec<String> = (0..150).map(|i| format!("m{i}")).collect();
    apply(
        &mut store,
        &mut persist,
        &[
            "HSET h a 1 b 2",
            "HINCRBYFLOAT h c 1.5",
            "HDEL h a",
            "PEXPIRE h 1000000",
            "SADD s 1 2 3",
            "SREM s 2",
            &format!("SADD big {}", many.join(" ")),
            "SUNIONSTORE u s big",
            "SPOP u 7",
            "SET str v",
            "RENAME h h2",
            "COPY s s2",
            "PERSIST h2",
            "HSET gone a 1",
            "HDEL gone a",
        ],
    );
    let path = persist.aof.as_ref().unwrap().path().to_path_buf();
    drop(persist);
    let check = std::process::Command::new("redis-check-aof")
        .arg(&path)
        .output()
        .expect("redis-check-aof runs");
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && text.contains("is valid"),
        "{text}"
    );
    let pipe = std::process::Command::new("redis-cli")
        .args(["-p", &r.port().to_string(), "--pipe"])
        .stdin(fs::File::open(&path).unwrap())
        .output()
        .expect("redis-cli runs");
    let text = String::from_utf8_lossy(&pipe.stdout);
    assert!(text.contains("errors: 0"), "{text}");
    for (_, key, value, exp) in content(&store) {
        let k = String::from_utf8_lossy(&key).into_owned();
        let cmd = |c: &str| {
            c.split(' ')
                .map(|w| w.as_bytes().to_vec())
                .collect::<Vec<_>>()
        };
        let theirs = match r.conn.cmd(&cmd(&format!("TYPE {k}"))) {
            V::Simple(t) if t == "hash" => match r.conn.cmd(&cmd(&format!("HGETALL {k}"))) {
                V::Array(v) => {
                    let mut pairs: Vec<String> = v
                        .chunks(2)
                        .map(|p| format!("{:?}={:?}", p[0], p[1]).replace('"', ""))
                        .collect();
                    pairs.sort();
                    format!("hash:{}", pairs.join(","))
                }
                other => panic!("{other:?}"),
            },
            V::Simple(t) if t == "set" => match r.conn.cmd(&cmd(&format!("SMEMBERS {k}"))) {
                V::Array(v) => {
                    let mut m: Vec<String> = v
                        .iter()
                        .map(|x| format!("{x:?}").replace('"', ""))
                        .collect();
                    m.sort();
                    format!("set:{}", m.join(","))
                }
                other => panic!("{other:?}"),
            },
            V::Simple(t) if t == "string" => match r.conn.cmd(&cmd(&format!("GET {k}"))) {
                V::Bulk(b) => format!("string:{}", String::from_utf8_lossy(&b)),
                other => panic!("{other:?}"),
            },
            other => panic!("{k}: {other:?}"),
        };
        assert_eq!(theirs, value, "{k}");
        let V::Int(at) = r.conn.cmd(&cmd(&format!("PEXPIRETIME {k}"))) else {
            panic!()
        };
        assert_eq!(at, if exp == 0 { -1 } else { exp as i64 }, "{k}");
    }
    let V::Int(n) = r.conn.cmd(&[b"DBSIZE".to_vec()]) else {
        panic!()
    };
    assert_eq!(n as usize, store.len());
}
