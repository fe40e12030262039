//! Tests of the list and sorted-set records: encode and parse, replay,
//! rewrite while lists change (the anchoring), reshard, and segments Redis
//! itself loads.

use super::super::{open, AofConfig, Fsync, Record};
use super::ListRecord;
use crate::aof::record::{parse_frame, Frame, Items};
use crate::keyspace::{Limits, Lookup, Store, ValueRef};
use crate::ops::redis_check::run_lines;
use crate::ops::Persist;
use crate::route::Router;
use crate::value::Object;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn cfg(dir: &Path) -> AofConfig {
    AofConfig {
        dir: dir.to_path_buf(),
        fsync: Fsync::No,
        rewrite_percentage: 100,
        rewrite_min_size: 64 << 20,
        load_truncated: true,
        load_corrupt: false,
        load_missing: false,
    }
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shardcache-aof-lz-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// Every live key with its content: lists and sorted sets in their order
/// (a sorted set without its encoding, which a reload may choose anew as
/// Redis's does), hashes and sets sorted.
fn content(s: &Store) -> Vec<(u8, Vec<u8>, String, u64)> {
    let mut out = Vec::new();
    let mut cursor = 0;
    loop {
        let next = s.snapshot_range(cursor, 1000, 0, |db, k, v, exp| {
            let v = match v {
                ValueRef::Str(b) => format!("string:{}", String::from_utf8_lossy(b)),
                ValueRef::Obj(Object::List(l)) => format!(
                    "list:{}",
                    l.iter()
                        .map(|e| String::from_utf8_lossy(e).into_owned())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                ValueRef::Obj(Object::ZSet(z)) => format!(
                    "zset:{}",
                    z.iter()
                        .map(|(m, s)| format!("{}={s:?}", String::from_utf8_lossy(m)))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
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

fn apply(store: &mut Store, persist: &mut Persist, lines: &[&str]) {
    run_lines(store, persist, crate::clock::unix_ms(), lines);
    store.forget();
    if let Some(aof) = persist.aof.as_mut() {
        aof.commit(&mut persist.log).unwrap();
    }
}

#[test]
fn records_round_trip_through_encode_and_parse() {
    let items: [&[u8]; 3] = [b"a", b"\r\n", b""];
    let pairs: [&[u8]; 4] = [b"1.5", b"m", b"-inf", b"\xff"];
    let records = [
        Record::List(ListRecord::Push {
            left: true,
            key: b"l",
            items: Items::List(&items),
        }),
        Record::List(ListRecord::Push {
            left: false,
            key: b"l",
            items: Items::List(&items[..1]),
        }),
        Record::List(ListRecord::Pop {
            left: true,
            key: b"l",
            count: 3,
        }),
        Record::List(ListRecord::Pop {
            left: false,
            key: b"l",
            count: 1,
        }),
        Record::List(ListRecord::Set {
            key: b"l",
            index: -2,
            elem: b"x",
        }),
        Record::List(ListRecord::Insert {
            key: b"l",
            before: false,
            pivot: b"p",
            elem: b"e",
        }),
        Record::List(ListRecord::Rem {
            key: b"l",
            count: -3,
            elem: b"e",
        }),
        Record::List(ListRecord::Trim {
            key: b"l",
            start: 1,
            stop: -1,
        }),
        Record::ZAdd {
            key: b"z",
            pairs: Items::List(&pairs),
        },
        Record::ZRem {
            key: b"z",
            members: Items::List(&items),
        },
    ];
    for r in records {
        let mut buf = Vec::new();
        r.encode(&mut buf);
        let mut ranges = Vec::new();
        let Frame::Done(n) = parse_frame(&buf, &mut ranges) else {
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
        &[&b"LPUSH"[..], b"l"][..],
        &[b"LPOP", b"l", b"x"],
        &[b"LPOP", b"l", b"-1"],
        &[b"LSET", b"l", b"x", b"e"],
        &[b"LINSERT", b"l", b"MIDDLE", b"p", b"e"],
        &[b"LREM", b"l", b"1"],
        &[b"LTRIM", b"l", b"0"],
        &[b"ZADD", b"z", b"1"],
        &[b"ZREM", b"z"],
    ] {
        assert!(Record::parse(bad, |_| Ok(())).is_err(), "{bad:?}");
    }
    // Redis's own `LPOP key` (no count) reads as one element.
    let mut got = None;
    Record::parse(&[b"lpop", b"l"], |r| {
        got = Some(format!("{r:?}"));
        Ok(())
    })
    .unwrap();
    assert!(got.unwrap().contains("count: 1"));
}

/// What the list and sorted-set ops log replays to what they left in
/// memory.
#[test]
fn writes_replay_to_the_same_keys() {
    let dir = tmpdir("replay");
    let c = cfg(&dir);
    let router = Router::new(1);
    let limits = vec![Limits::default()];
    let mut opened = open(&c, &router, &limits).unwrap();
    let mut store = opened.stores.pop().unwrap();
    let mut persist = Persist::on(opened.aofs.pop().unwrap());
    let long: Vec<String> = (0..3000).map(|i| format!("e{}", i % 11)).collect();
    let pairs: Vec<String> = (0..300).map(|i| format!("{}.5 m{i}", i % 17)).collect();
    apply(
        &mut store,
        &mut persist,
        &[
            "RPUSH l a b c d e",
            "LPUSH l z",
            "LPOP l 2",
            "RPOP l",
            "LSET l 1 Q",
            "LINSERT l BEFORE Q P",
            "LREM l 1 c",
            "LTRIM l 0 2",
            "PEXPIRE l 1000000",
            &format!("RPUSH long {}", long.join(" ")),
            "LREM long -5 e3",
            "LTRIM long 7 -30",
            "LMOVE long long LEFT RIGHT",
            "LMOVE long l2 RIGHT LEFT",
            "RPUSH gone x",
            "LPOP gone",
            "ZADD z 1 a 2 b 3.5 c",
            "ZINCRBY z 1.1 a",
            "ZREM z b",
            "ZPOPMAX z",
            "ZADD z -inf lo +inf hi -0 nz",
            &format!("ZADD big {}", pairs.join(" ")),
            "ZREMRANGEBYSCORE big (3 8",
            "ZREMRANGEBYLEX big - [m2",
            "ZREMRANGEBYRANK big 0 3",
            "ZMPOP 1 big MIN COUNT 2",
            "ZUNIONSTORE u 2 z big",
            "ZRANGESTORE rs big 0 9",
            "SORT long ALPHA LIMIT 0 10 STORE sorted",
            "ZADD zgone 1 x",
            "ZREM zgone x",
            "RENAME z z2",
            "COPY l l3",
        ],
    );
    let want = content(&store);
    drop(persist);
    let mut reopened = open(&c, &router, &limits).unwrap();
    let back = reopened.stores.pop().unwrap();
    assert_eq!(content(&back), want);
    assert!(want
        .iter()
        .all(|(_, k, _, _)| k != b"gone" && k != b"zgone"));
    let _ = fs::remove_dir_all(&dir);
}

/// A rewrite snapshots lists (RPUSH, 64 elements a record) and sorted sets
/// (ZADD, 64 members a record) while list writes go on, to keys already
/// walked and keys not yet walked, emptying and recreating some: the
/// segment reloads to what memory holds. The list records of the walk are
/// relative to the list they find, so this fails unless the first record
/// of each key states the key whole (`Log::anchor`).
#[test]
fn rewrite_with_list_writes_reloads_what_memory_holds() {
    let dir = tmpdir("rewrite");
    let c = cfg(&dir);
    let router = Router::new(1);
    let limits = vec![Limits::default()];
    let mut opened = open(&c, &router, &limits).unwrap();
    let mut store = opened.stores.pop().unwrap();
    let mut persist = Persist::on(opened.aofs.pop().unwrap());
    store.set_journaling(true);
    let filler: Vec<String> = (0..60_000).map(|i| format!("SET filler:{i} {i}")).collect();
    let filler: Vec<&str> = filler.iter().map(String::as_str).collect();
    for chunk in filler.chunks(1000) {
        apply(&mut store, &mut persist, chunk);
    }
    for i in 0..200 {
        let elems: Vec<String> = (0..(i % 7) * 40 + 1).map(|j| format!("v{j}")).collect();
        apply(
            &mut store,
            &mut persist,
            &[
                &format!("RPUSH l{i} {}", elems.join(" ")),
                &format!("ZADD z{i} 1 a 2 b 3 c"),
            ],
        );
    }
    let aof = persist.aof.as_mut().unwrap();
    assert!(aof.request_rewrite());
    aof.tick(&mut persist.log, &store);
    let mut steps = 0;
    while persist.aof.as_ref().unwrap().rewriting() {
        if steps < 10 {
            // A tenth of the keys each step: some already walked, some not.
            for i in (steps..200).step_by(10) {
                apply(
                    &mut store,
                    &mut persist,
                    &[
                        &format!("LPUSH l{i} head"),
                        &format!("RPUSH l{i} tail"),
                        &format!("LPOP l{} 2", (i + 7) % 200),
                        &format!("LSET l{i} 0 first"),
                        &format!("LINSERT l{i} AFTER first second"),
                        &format!("LREM l{i} 1 v0"),
                        &format!("LTRIM l{} 1 -1", (i + 13) % 200),
                        &format!("LMOVE l{i} l{} RIGHT LEFT", (i + 1) % 200),
                        &format!("LMOVE l{i} l{i} LEFT RIGHT"),
                        &format!("RPUSH new{i} a b"),
                        &format!("LPOP new{i} 2"),
                        &format!("RPUSH new{i} c"),
                        &format!("ZADD z{i} 5 d"),
                        &format!("ZINCRBY z{i} 1 a"),
                        &format!("ZPOPMIN z{} 1", (i + 3) % 200),
                    ],
                );
            }
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
    assert_eq!(got.len(), want.len());
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w, g);
    }
    let _ = fs::remove_dir_all(&dir);
}

/// Re-routing to another shard count copies lists and sorted sets whole,
/// TTLs included.
#[test]
fn reshard_moves_lists_and_sorted_sets() {
    let dir = tmpdir("reshard");
    let c = cfg(&dir);
    let r3 = Router::new(3);
    let mut opened = open(&c, &r3, &vec![Limits::default(); 3]).unwrap();
    let mut persists: Vec<Persist> = opened.aofs.drain(..).map(Persist::on).collect();
    for i in 0..300u32 {
        let (l, z) = (format!("l{i}"), format!("z{i}"));
        for (k, lines) in [
            (
                &l,
                vec![
                    format!("RPUSH {l} a{i} b c"),
                    format!("LPOP {l}"),
                    format!("PEXPIRE {l} {}", 1_000_000 + i),
                ],
            ),
            (&z, vec![format!("ZADD {z} {i} m{i} 0.5 h")]),
        ] {
            let shard = r3.shard_of(k.as_bytes());
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            apply(&mut opened.stores[shard], &mut persists[shard], &lines);
        }
    }
    let mut want = Vec::new();
    for s in &opened.stores {
        want.extend(content(s));
    }
    want.sort();
    drop(persists);
    drop(opened);
    let r2 = Router::new(2);
    let opened = open(&c, &r2, &[Limits::default(); 2]).unwrap();
    assert_eq!(opened.resharded_from, Some(3));
    let mut got = Vec::new();
    for (shard, s) in opened.stores.iter().enumerate() {
        for row in content(s) {
            assert_eq!(r2.shard_of(&row.1), shard);
            got.push(row);
        }
    }
    got.sort();
    assert_eq!(got, want);
    let _ = fs::remove_dir_all(&dir);
}

/// A segment of list and sorted-set records is a valid Redis AOF:
/// redis-check-aof accepts it and `redis-cli --pipe` loads it into a
/// redis-server that then holds the same lists and sorted sets.
#[test]
fn segments_load_into_redis() {
    use crate::ops::redis_check::{redis, V};
    let Some(mut r) = redis("aof_lz_pipe") else {
        return;
    };
    let dir = tmpdir("redis");
    let c = cfg(&dir);
    let router = Router::new(1);
    let limits = vec![Limits::default()];
    let mut opened = open(&c, &router, &limits).unwrap();
    let mut store = opened.stores.pop().unwrap();
    let mut persist = Persist::on(opened.aofs.pop().unwrap());
    let many: Vec<String> = (0..150).map(|i| format!("{i} m{i}")).collect();
    apply(
        &mut store,
        &mut persist,
        &[
            "RPUSH l a b c d",
            "LPOP l",
            "LINSERT l AFTER c x",
            "LREM l 0 d",
            "LSET l -1 y",
            "LTRIM l 0 5",
            "PEXPIRE l 1000000",
            "ZADD z 1.1 a 2 b -inf c",
            "ZINCRBY z 0.2 a",
            "ZREM z b",
            &format!("ZADD big {}", many.join(" ")),
            "ZPOPMAX big 7",
            "ZRANGESTORE rs big 10 20",
            "LMOVE l l2 RIGHT LEFT",
        ],
    );
    // The rewrite's form too: appended as a snapshot of every key.
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
    let words = |c: &str| {
        c.split(' ')
            .map(|w| w.as_bytes().to_vec())
            .collect::<Vec<_>>()
    };
    for key in ["l", "l2", "z", "big", "rs"] {
        let pos = store.lookup(0, key.as_bytes(), 0, Lookup::PEEK).unwrap();
        let ours: Vec<String> = match store.value_at(pos) {
            ValueRef::Obj(Object::List(l)) => l
                .iter()
                .map(|e| String::from_utf8_lossy(e).into_owned())
                .collect(),
            ValueRef::Obj(Object::ZSet(z)) => z
                .iter()
                .flat_map(|(m, s)| {
                    [
                        String::from_utf8_lossy(m).into_owned(),
                        crate::rdb::fmt_g17(s),
                    ]
                })
                .collect(),
            _ => panic!(),
        };
        let cmd = if key.starts_with('l') {
            format!("LRANGE {key} 0 -1")
        } else {
            format!("ZRANGE {key} 0 -1 WITHSCORES")
        };
        let V::Array(theirs) = r.conn.cmd(&words(&cmd)) else {
            panic!()
        };
        let theirs: Vec<String> = theirs
            .iter()
            .map(|v| match v {
                V::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(theirs, ours, "{key}");
    }
    let V::Int(at) = r.conn.cmd(&words("PEXPIRETIME l")) else {
        panic!()
    };
    assert!(at > 0);
    // And the snapshot form (what a rewrite writes).
    let mut snap = Vec::new();
    let mut db = None;
    store.snapshot_range(0, 1 << 20, 0, |d, k, v, exp| {
        Record::snapshot(&mut snap, &mut db, d, k, v, exp);
    });
    let snap_path = dir.join("snapshot.aof");
    fs::write(&snap_path, &snap).unwrap();
    r.conn.cmd(&words("FLUSHALL"));
    let pipe = std::process::Command::new("redis-cli")
        .args(["-p", &r.port().to_string(), "--pipe"])
        .stdin(fs::File::open(&snap_path).unwrap())
        .output()
        .expect("redis-cli runs");
    assert!(String::from_utf8_lossy(&pipe.stdout).contains("errors: 0"));
    let V::Array(theirs) = r.conn.cmd(&words("ZRANGE big 0 -1 WITHSCORES")) else {
        panic!()
    };
    assert_eq!(theirs.len(), 2 * 143);
    let V::Array(theirs) = r.conn.cmd(&words("LRANGE l 0 -1")) else {
        panic!()
    };
    assert_eq!(theirs.len(), 2);
    let _ = fs::remove_dir_all(&dir);
}

/// A segment whose last list record is torn (a crash mid-append) loads
/// with every whole record, the torn one dropped.
#[test]
fn a_torn_list_record_is_dropped() {
    let dir = tmpdir("torn");
    let c = cfg(&dir);
    let router = Router::new(1);
    let limits = vec![Limits::default()];
    let mut opened = open(&c, &router, &limits).unwrap();
    let mut store = opened.stores.pop().unwrap();
    let mut persist = Persist::on(opened.aofs.pop().unwrap());
    apply(
        &mut store,
        &mut persist,
        &["RPUSH l a b c", "LPOP l", "ZADD z 1 a", "LTRIM l 0 0"],
    );
    let want = content(&store);
    let path = persist.aof.as_ref().unwrap().path().to_path_buf();
    drop(persist);
    let whole = fs::metadata(&path).unwrap().len();
    let mut torn = Vec::new();
    Record::List(ListRecord::Push {
        left: false,
        key: b"l",
        items: Items::List(&[b"x", b"y"]),
    })
    .encode(&mut torn);
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    std::io::Write::write_all(&mut f, &torn[..torn.len() - 3]).unwrap();
    drop(f);
    let mut reopened = open(&c, &router, &limits).unwrap();
    assert_eq!(content(&reopened.stores.pop().unwrap()), want);
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        whole,
        "cut back to the whole records"
    );
    let _ = fs::remove_dir_all(&dir);
}
