//! Set op tests: replies and errors side by side with redis-server, the
//! records each write logs, the cross-shard pieces, encodings at the
//! thresholds.

use crate::error::Error;
use crate::keyspace::{Lookup, Store, ValueRef};
use crate::ops::redis_check::{bulk, err, int, redis, run_lines, Cmp, Pair, V};
use crate::ops::set::{Algebra, SetOp};
use crate::ops::testing::{log_text, logging, run};
use crate::ops::Persist;
use crate::value::Object;

fn ok() -> V {
    V::Simple("OK".into())
}

fn strs(v: &[&str]) -> V {
    V::Array(v.iter().map(|s| bulk(s)).collect())
}

/// Every set command's replies, errors and encodings as Redis 7.0.15 gives
/// them (RESP2 and RESP3). Intsets list their members in ascending order
/// in both, so most replies compare exactly; a hashtable's order is its
/// own, so those compare as multisets (`~`), random draws by length (`#`).
#[test]
fn set_ops_answer_as_redis_does() {
    let Some(r) = redis("set_ops") else {
        return;
    };
    let mut p = Pair::new(r);
    p.script(
        r#"
        SADD s 3 1 2 3
        SADD s 2 5
        SADD s 4
        OBJECT ENCODING s
        SMEMBERS s
        SCARD s
        SCARD nokey
        SISMEMBER s 3
        SISMEMBER s 9
        SISMEMBER s 03
        SISMEMBER nokey 3
        SMISMEMBER s 1 9 5
        SMISMEMBER nokey 1 2
        SMEMBERS nokey
        SREM s 1 9
        SREM s 9
        SREM nokey 1
        SMEMBERS s
        SSCAN s 0
        SSCAN s 0 MATCH *3*
        SSCAN nokey 0
        SRANDMEMBER nokey
        SRANDMEMBER nokey 5
        SRANDMEMBER nokey -5
        SRANDMEMBER s 0
        SRANDMEMBER s 10
        #SRANDMEMBER s 2
        #SRANDMEMBER s -10
        SPOP nokey
        SPOP nokey 3
        SPOP s 0
        SADD one x
        SPOP one
        EXISTS one
        SADD one 7
        SRANDMEMBER one
        SPOP one 5
        EXISTS one
        SADD pop 1 2 3 4
        SPOP pop 4
        EXISTS pop
        SADD pop 1 2 3 4 5 6 7 8 9 10
        #SPOP pop 2
        SCARD pop
        #SPOP pop 7
        SCARD pop
        DEL pop
        SADD str a b c
        OBJECT ENCODING str
        ~SMEMBERS str
        ~SSCAN str 0 COUNT 100
        ~SSCAN str 0 COUNT 100 MATCH a*
        ~SRANDMEMBER str 5
        SISMEMBER str b
        SADD mixed 1 2 x
        OBJECT ENCODING mixed
        SREM mixed x
        OBJECT ENCODING mixed
        SISMEMBER mixed 2
        SMISMEMBER mixed 1 x 2
        "#,
    );
    // Set algebra on one shard.
    p.script(
        r#"
        SADD a 1 2 3 4 5
        SADD b 4 5 6
        SADD c 5 6 7
        SINTER a b
        SINTER a b c
        SINTER a nokey
        SINTER nokey a
        SINTER a a
        SUNION a b c
        SUNION nokey
        SUNION a nokey
        SDIFF a b c
        SDIFF a a
        SDIFF a b a
        SDIFF nokey a
        SDIFF a nokey
        SINTERCARD 2 a b
        SINTERCARD 3 a b c LIMIT 0
        SINTERCARD 1 a LIMIT 3
        SINTERCARD 2 a nokey
        SINTERSTORE d a b
        SMEMBERS d
        OBJECT ENCODING d
        SUNIONSTORE d a b c
        SMEMBERS d
        SDIFFSTORE d a b
        SMEMBERS d
        SINTERSTORE d a nokey
        EXISTS d
        SINTERSTORE d nokey
        SADD w x y z
        SUNIONSTORE d a w
        OBJECT ENCODING d
        ~SMEMBERS d
        ~SINTER w d
        ~SUNION w a
        ~SDIFF d a
        SDIFFSTORE d w d
        EXISTS d
        SET str v
        SINTER a str
        SINTER nokey str
        SUNION a str
        SDIFF str a
        SDIFF nokey str
        SINTERCARD 2 a str
        SINTERSTORE d a str
        SUNIONSTORE str a
        TYPE str
        SMEMBERS str
        PEXPIRE a 100000
        SUNIONSTORE a a b
        TTL a
        "#,
    );
    // SMOVE, as `smoveCommand` orders its checks.
    p.script(
        r#"
        SET str v
        SADD src 1 2
        SMOVE nokey str 1
        SMOVE str src 1
        SMOVE src str 1
        SMOVE src src 1
        SMOVE src src 9
        SMOVE src dst 9
        SMOVE src dst 1
        OBJECT ENCODING dst
        SMEMBERS dst
        SMOVE src dst2 2
        EXISTS src
        SADD s3 a
        SMOVE s3 dst2 a
        OBJECT ENCODING dst2
        SMOVE dst2 dst 2
        SMEMBERS dst
        "#,
    );
    // WRONGTYPE both ways.
    p.script(
        r#"
        HSET h a 1
        SADD h x
        SREM h x
        SCARD h
        SISMEMBER h x
        SMISMEMBER h x
        SMEMBERS h
        SRANDMEMBER h
        SRANDMEMBER h 3
        SPOP h
        SPOP h 2
        SSCAN h 0
        SADD st 1
        HGET st a
        HSET st a 1
        GET st
        "#,
    );
    // Encodings at the thresholds (512 integers).
    let mut sadd: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"big".to_vec()];
    sadd.extend((0..512).map(|i| i.to_string().into_bytes()));
    p.check(Cmp::Exact, &sadd);
    p.script(
        r#"
        OBJECT ENCODING big
        SADD big 511
        OBJECT ENCODING big
        SADD big 512
        OBJECT ENCODING big
        SREM big 512 511 510
        OBJECT ENCODING big
        SCARD big
        SUNIONSTORE small big
        OBJECT ENCODING small
        #SPOP big 500
        SCARD big
        OBJECT ENCODING big
        "#,
    );
    let mut sadd: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"big2".to_vec()];
    sadd.extend((0..600).map(|i| i.to_string().into_bytes()));
    p.check(Cmp::Exact, &sadd);
    p.script(
        r#"
        OBJECT ENCODING big2
        SINTERSTORE i2 big2 big2
        OBJECT ENCODING i2
        SCARD i2
        SDIFFSTORE d2 big2 a
        OBJECT ENCODING d2
        SCARD d2
        #SPOP big2 595
        SCARD big2
        OBJECT ENCODING big2
        "#,
    );
}

/// DUMP payloads are Redis's byte for byte where the encoding fixes the
/// order (strings, listpacks, intsets), and a payload of either side
/// restores on the other, for every type.
#[test]
fn dump_and_restore_agree_with_redis() {
    let Some(r) = redis("dump_restore") else {
        return;
    };
    let mut p = Pair::new(r);
    p.script(
        r#"
        SET s hello
        SET n 12345
        SET big %5000
        SET comp %100
        HSET h a 1 b 2 c %30
        SADD i 5 -3 1000000000000
        SADD t a b c
        HSET ht f %100
        SADD it 1 x
        SREM it x
        HSET hs a 1
        SADD is 1 -2
        DUMP s
        DUMP n
        DUMP hs
        DUMP is
        DUMP nokey
        "#,
    );
    for key in [
        "s", "n", "big", "comp", "h", "i", "t", "ht", "it", "hs", "is",
    ] {
        let dump = |k: &str| vec![b"DUMP".to_vec(), k.as_bytes().to_vec()];
        // Hashtables list their members in their own order, and our LZF
        // picks other matches than Redis's (so payloads over 20 bytes,
        // which both try to compress, may differ in bytes).
        let cmp = if ["t", "ht", "it", "big", "comp", "h", "i"].contains(&key) {
            Cmp::Kind
        } else {
            Cmp::Exact
        };
        let (V::Bulk(mine), V::Bulk(theirs)) = p.check(cmp, &dump(key)) else {
            panic!("DUMP {key}")
        };
        for (tag, payload) in [("mine", mine), ("theirs", theirs)] {
            let copy = format!("{key}-{tag}");
            let restore = |extra: &[&str]| {
                let mut v = vec![
                    b"RESTORE".to_vec(),
                    copy.as_bytes().to_vec(),
                    b"0".to_vec(),
                    payload.clone(),
                ];
                v.extend(extra.iter().map(|s| s.as_bytes().to_vec()));
                v
            };
            p.check(Cmp::Exact, &restore(&[]));
            p.check(Cmp::Exact, &restore(&[]));
            p.check(Cmp::Exact, &restore(&["REPLACE", "IDLETIME", "100"]));
            p.check(Cmp::Exact, &words_of(&format!("OBJECT IDLETIME {copy}")));
            p.script(&format!(
                "TYPE {copy}\nOBJECT ENCODING {copy}\n~SMEMBERS {copy}\n~HGETALL {copy}\nGET {copy}"
            ));
            let mut bad = payload.clone();
            let n = bad.len();
            bad[n - 1] ^= 0xff;
            p.check(
                Cmp::Exact,
                &[b"RESTORE".to_vec(), b"bad".to_vec(), b"0".to_vec(), bad],
            );
            let mut body = payload.clone();
            body[1] ^= 0x55;
            let sealed = crate::rdb::seal(body[..n - 10].to_vec());
            // A body that does not decode (or decodes as something else:
            // both sides must agree on which).
            p.check(
                Cmp::Exact,
                &[b"RESTORE".to_vec(), b"bad".to_vec(), b"0".to_vec(), sealed],
            );
            p.script("DEL bad");
        }
    }
    // TTLs: relative, absolute, already past; BUSYKEY before the TTL's errors.
    let (V::Bulk(payload), _) = p.check(Cmp::Exact, &words_of("DUMP h")) else {
        panic!()
    };
    let restore = |args: &[&str]| {
        let mut v: Vec<Vec<u8>> = vec![
            b"RESTORE".to_vec(),
            args[0].as_bytes().to_vec(),
            args[1].as_bytes().to_vec(),
            payload.clone(),
        ];
        v.extend(args[2..].iter().map(|s| s.as_bytes().to_vec()));
        v
    };
    let far = (crate::clock::unix_ms() + 500_000).to_string();
    for args in [
        &["h", "-1"][..],
        &["h", "abc"],
        &["x", "-1"],
        &["x", "abc"],
        &["x", "100000"],
        &["y", &far, "ABSTTL"],
        &["z", "1", "ABSTTL"],
        &["h", "1", "ABSTTL", "REPLACE"],
        &["f", "0", "FREQ", "5"],
    ] {
        p.check(Cmp::Exact, &restore(args));
    }
    p.script("TTL x\nTTL y\nEXISTS z\nEXISTS h\nOBJECT FREQ f");
    p.check(
        Cmp::Exact,
        &[
            b"RESTORE".to_vec(),
            b"q".to_vec(),
            b"0".to_vec(),
            b"\x00\x01".to_vec(),
        ],
    );
}

fn words_of(s: &str) -> Vec<Vec<u8>> {
    crate::ops::redis_check::words(s).1
}

#[test]
fn writes_log_absolute_records() {
    let mut store = Store::default();
    let mut p = logging();
    let (_, r) = run_lines(
        &mut store,
        &mut p,
        0,
        &[
            "SADD s a b",
            "SADD s a",
            "SREM s x",
            "SREM s a x",
            "SPOP s",
            "SADD t 1 2 3",
            "SMOVE t u 2",
        ],
    );
    assert_eq!(
        r,
        [int(2), int(0), int(0), int(1), bulk("b"), int(3), int(1)]
    );
    assert_eq!(
        log_text(&p),
        "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n\
         *4\r\n$4\r\nSADD\r\n$1\r\ns\r\n$1\r\na\r\n$1\r\nb\r\n\
         *4\r\n$4\r\nSREM\r\n$1\r\ns\r\n$1\r\na\r\n$1\r\nx\r\n\
         *2\r\n$3\r\nDEL\r\n$1\r\ns\r\n\
         *5\r\n$4\r\nSADD\r\n$1\r\nt\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n\
         *3\r\n$4\r\nSREM\r\n$1\r\nt\r\n$1\r\n2\r\n\
         *3\r\n$4\r\nSADD\r\n$1\r\nu\r\n$1\r\n2\r\n"
    );
}

#[test]
fn store_forms_replace_the_destination_and_log_del_then_sadd() {
    let mut store = Store::default();
    let mut p = logging();
    let (_, r) = run_lines(
        &mut store,
        &mut p,
        0,
        &[
            "SADD a 1 2 3",
            "SADD b 2 3 4",
            "HSET d f v",
            "PEXPIRE d 100000",
            "SINTERSTORE d a b",
        ],
    );
    assert_eq!(r[4], int(2));
    assert_eq!(
        store.expire_at(0, b"d", 0),
        Some(0),
        "the TTL went with the old value"
    );
    let text = log_text(&p);
    assert!(
        text.ends_with(
            "*2\r\n$3\r\nDEL\r\n$1\r\nd\r\n*4\r\n$4\r\nSADD\r\n$1\r\nd\r\n$1\r\n2\r\n$1\r\n3\r\n"
        ),
        "{text:?}"
    );
    // An empty result deletes the destination; a missing one logs nothing.
    let mut p = logging();
    let (_, r) = run_lines(
        &mut store,
        &mut p,
        0,
        &["SDIFFSTORE d a a", "SDIFFSTORE d a a"],
    );
    assert_eq!(r, [int(0), int(0)]);
    assert_eq!(
        log_text(&p),
        "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*2\r\n$3\r\nDEL\r\n$1\r\nd\r\n"
    );
    // A result over 64 members is logged 64 members a record.
    let mut p = logging();
    let members: Vec<String> = (0..150).map(|i| format!("m{i}")).collect();
    let line = format!("SADD big {}", members.join(" "));
    run_lines(&mut store, &mut p, 0, &[&line, "SUNIONSTORE u big"]);
    let text = log_text(&p);
    assert_eq!(
        text.matches("*66\r\n$4\r\nSADD\r\n$1\r\nu").count(),
        2,
        "{text}"
    );
    assert_eq!(text.matches("*24\r\n$4\r\nSADD\r\n$1\r\nu").count(), 1);
}

#[test]
fn spop_with_a_count_logs_srem_or_del() {
    let mut store = Store::default();
    let mut p = logging();
    let (_, r) = run_lines(
        &mut store,
        &mut p,
        0,
        &[
            "SADD s 1 2 3 4 5 6 7 8 9 10",
            "SPOP s 3",
            "SPOP s 2",
            "SPOP s 100",
        ],
    );
    let lens: Vec<_> = r[1..]
        .iter()
        .map(|v| match v {
            V::Array(v) => v.len(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(lens, [3, 2, 5]);
    let text = log_text(&p);
    assert!(text.contains("*5\r\n$4\r\nSREM\r\n$1\r\ns\r\n"), "{text}");
    assert!(text.contains("*4\r\n$4\r\nSREM\r\n$1\r\ns\r\n"), "{text}");
    assert!(text.ends_with("*2\r\n$3\r\nDEL\r\n$1\r\ns\r\n"), "{text}");
    assert!(store.lookup(0, b"s", 0, Lookup::PEEK).is_none());
}

/// The pieces the server assembles multi-shard SINTER, SUNION, SDIFF,
/// their STORE forms and SMOVE from.
#[test]
fn cross_shard_pieces() {
    let mut store = Store::default();
    let mut p = logging();
    run_lines(
        &mut store,
        &mut p,
        0,
        &["SADD a 1 2 3", "SADD b x y", "SET s v"],
    );
    let b = run(&mut store, &mut p, 0, |b| {
        let keys = b.args.list([&b"a"[..], b"nokey", b"b"]);
        b.push(
            0,
            SetOp::Members {
                keys,
                how: Lookup::READ,
            }
            .into(),
        );
        let keys = b.args.list([&b"a"[..], b"s"]);
        b.push(
            0,
            SetOp::Members {
                keys,
                how: Lookup::READ,
            }
            .into(),
        );
        let keys = b.args.list([&b"a"[..], b"nokey", b"b"]);
        b.push(0, SetOp::Cards { keys }.into());
        let keys = b.args.list([&b"a"[..]]);
        let members = b.args.list([&b"3"[..], b"x", b"1", b"9"]);
        b.push(0, SetOp::Filter { keys, members }.into());
        let keys = b.args.list([&b"a"[..], b"nokey"]);
        let members = b.args.list([&b"3"[..]]);
        b.push(0, SetOp::Filter { keys, members }.into());
        let dst = b.args.push(b"d");
        let members = b.args.list([&b"5"[..], b"4", b"5"]);
        b.push(
            0,
            SetOp::StoreMembers {
                dst,
                members,
                hashtable: false,
                how: Algebra::Union,
            }
            .into(),
        );
        let dst = b.args.push(b"a");
        let members = b.args.list(std::iter::empty::<&[u8]>());
        b.push(
            0,
            SetOp::StoreMembers {
                dst,
                members,
                hashtable: false,
                how: Algebra::Union,
            }
            .into(),
        );
        for key in [&b"b"[..], b"nokey", b"s"] {
            let key = b.args.push(key);
            b.push(0, SetOp::Check { key }.into());
        }
        for (src, m) in [
            (&b"b"[..], &b"x"[..]),
            (b"b", b"x"),
            (b"nokey", b"x"),
            (b"s", b"x"),
        ] {
            let (src, member) = (b.args.push(src), b.args.push(m));
            b.push(0, SetOp::MoveOut { src, member }.into());
        }
        for (dst, m) in [
            (&b"d"[..], &b"x"[..]),
            (b"d", b"x"),
            (b"new", b"y"),
            (b"s", b"x"),
        ] {
            let (dst, member) = (b.args.push(dst), b.args.push(m));
            b.push(0, SetOp::MoveIn { dst, member }.into());
        }
    });
    let r: Vec<V> = b
        .replies
        .iter()
        .map(|r| crate::ops::redis_check::ours(&b, r, false))
        .collect();
    let arr = |v: Vec<V>| V::Array(v);
    assert_eq!(
        r[0],
        arr(vec![
            strs(&["1", "2", "3"]),
            arr(vec![]),
            r[0].clone().into_array()[2].clone()
        ])
    );
    assert_eq!(r[1], err(Error::WrongType));
    assert_eq!(r[2], arr(vec![int(3), int(0), int(2)]));
    assert_eq!(r[3], strs(&["3", "1"]));
    assert_eq!(r[4], strs(&[]));
    assert_eq!(r[5], int(2));
    assert_eq!(r[6], int(0));
    assert_eq!(r[7..10], [int(1), int(0), err(Error::WrongType)]);
    assert_eq!(r[10..14], [int(1), int(0), int(0), err(Error::WrongType)]);
    assert_eq!(r[14..18], [int(1), int(0), int(1), err(Error::WrongType)]);
    assert!(
        store.lookup(0, b"a", 0, Lookup::PEEK).is_none(),
        "an empty result deletes"
    );
    let pos = store.lookup(0, b"d", 0, Lookup::PEEK).unwrap();
    let ValueRef::Obj(Object::Set(d)) = store.value_at(pos) else {
        panic!()
    };
    assert_eq!(d.len(), 3);
    assert_eq!(d.encoding_name(), "hashtable");
    let _ = ok();
}

impl V {
    fn into_array(self) -> Vec<V> {
        match self {
            V::Array(v) => v,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn wrongtype_from_a_string_and_to_one() {
    let mut store = Store::default();
    let mut p = Persist::off();
    let (_, r) = run_lines(
        &mut store,
        &mut p,
        0,
        &[
            "SET k v",
            "SADD k a",
            "SMEMBERS k",
            "SADD s a",
            "GET s",
            "SET s v",
            "GET s",
        ],
    );
    let wt = err(Error::WrongType);
    assert_eq!(
        r,
        [ok(), wt.clone(), wt.clone(), int(1), wt, ok(), bulk("v")]
    );
}

/// SPOP's strategies on a hashtable, rolled back: one by one (element
/// entries), all of it (the old set kept whole), and the remainder moved
/// into a new set that is an intset (element entries, then the encoding).
#[test]
fn spop_rollback_restores_the_hashtable() {
    let mut store = Store::default();
    store.set_journaling(true);
    let mut p = Persist::off();
    let members: Vec<String> = (0..600).map(|i| i.to_string()).collect();
    let sadd = format!("SADD s {}", members.join(" "));
    let srem = format!("SREM s {}", members[400..].join(" "));
    run_lines(&mut store, &mut p, 0, &[&sadd, &srem]);
    store.forget();
    let describe = |store: &mut Store| {
        let pos = store.lookup(0, b"s", 0, Lookup::PEEK).unwrap();
        let ValueRef::Obj(o) = store.value_at(pos) else {
            panic!()
        };
        o.describe(false)
    };
    let before = describe(&mut store);
    assert!(before.starts_with("set:hashtable:"), "{before}");
    for line in [
        "SPOP s 10",
        "SPOP s 350",
        "SPOP s 400",
        "SPOP s 1000",
        "SPOP s",
    ] {
        let (_, r) = run_lines(&mut store, &mut p, 0, &[line]);
        assert!(matches!(&r[0], V::Array(_) | V::Bulk(_)), "{r:?}");
        store.rollback();
        assert_eq!(describe(&mut store), before, "{line}");
    }
}
