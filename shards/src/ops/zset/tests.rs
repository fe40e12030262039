//! Sorted-set op tests: replies and errors side by side with redis-server,
//! the records each write logs (and their replay), the cross-shard pieces,
//! rollback of writes to large sets.

use crate::error::Error;
use crate::keyspace::{Lookup, Store, ValueRef};
use crate::ops::redis_check::{bulk, err, int, redis, run_lines, Cmp, Pair, V};
use crate::ops::testing::{log_text, logging, run};
use crate::ops::zset::ZSetOp;
use crate::ops::Persist;

fn describe(store: &mut Store, key: &[u8]) -> Option<String> {
    let pos = store.lookup(0, key, 0, Lookup::PEEK)?;
    match store.value_at(pos) {
        ValueRef::Obj(o) => Some(o.describe(false)),
        ValueRef::Str(s) => Some(String::from_utf8_lossy(s).into_owned()),
    }
}

/// Every sorted-set command's replies and errors as Redis 7.0.15 gives
/// them, in RESP2 and RESP3, in both encodings.
#[test]
fn zset_ops_answer_as_redis_does() {
    let Some(r) = redis("zset_ops") else {
        return;
    };
    let mut p = Pair::new(r);
    let script = r#"
        ZADD z 1 a 2 b 3 c
        ZADD z 1.5 a
        ZADD z CH 1.5 a 9 b
        ZADD z NX 100 a 4 d
        ZADD z XX 100 a 5 e
        ZADD z GT 1 a
        ZADD z LT 1 a
        ZADD z GT CH 200 a
        ZADD z INCR 1 a
        ZADD z INCR NX 1 a
        ZADD z INCR XX 1 zz
        ZADD z INCR GT -5 a
        ZADD z XX 1 nope
        ZADD nokey XX 1 a
        ZADD nokey XX INCR 1 a
        EXISTS nokey
        ZINCRBY z 0.1 b
        ZINCRBY z 1 newm
        ZADD z INCR inf x
        ZADD z INCR -inf x
        ZSCORE z x
        ZADD z -0 negzero 0 zero 1e17 big 0.1 tenth
        ZSCORE z a
        ZSCORE z nope
        ZSCORE nokey a
        ZMSCORE z a nope b
        ZMSCORE nokey a b
        ZCARD z
        ZCARD nokey
        ZRANGE z 0 -1 WITHSCORES
        ZRANGE z 0 -1 REV WITHSCORES
        ZRANGE z -2 -1
        ZRANGE z (1 5 BYSCORE WITHSCORES
        ZRANGE z 5 (1 BYSCORE REV WITHSCORES
        ZRANGE z -inf +inf BYSCORE LIMIT 1 2
        ZRANGE z -inf +inf BYSCORE LIMIT -1 2
        ZRANGE z -inf +inf BYSCORE LIMIT 1 -1
        ZRANGE z -inf +inf BYSCORE LIMIT 100 -1
        ZRANGEBYSCORE z 0 100 WITHSCORES LIMIT 0 3
        ZREVRANGEBYSCORE z 100 0 WITHSCORES LIMIT 0 3
        ZREVRANGE z 0 1 WITHSCORES
        ZRANGE nokey 0 -1
        ZCOUNT z -inf +inf
        ZCOUNT z (1 3
        ZCOUNT z 3 (1
        ZCOUNT nokey 0 1
        ZRANK z a
        ZREVRANK z a
        ZRANK z nope
        ZRANK nokey a
        ZSCAN z 0
        ZSCAN z 0 MATCH *e*
        ZSCAN nokey 0
        ZRANDMEMBER nokey
        ZRANDMEMBER nokey 3
        ZRANDMEMBER z 0
        ZRANDMEMBER z 100 WITHSCORES
        #ZRANDMEMBER z -5 WITHSCORES
        #ZRANDMEMBER z 3
        ZADD l 0 a 0 b 0 c 0 d 0 e
        ZRANGEBYLEX l - +
        ZRANGEBYLEX l [b (e
        ZREVRANGEBYLEX l (e [b
        ZRANGEBYLEX l - + LIMIT 1 2
        ZRANGE l [a [c BYLEX
        ZRANGE l [c [a BYLEX REV
        ZRANGE l + - BYLEX
        ZLEXCOUNT l - +
        ZLEXCOUNT l (a [c
        ZLEXCOUNT nokey - +
        ZREM z a nope
        ZREM nokey a
        ZRANGESTORE d z 0 1
        ZRANGE d 0 -1 WITHSCORES
        ZRANGESTORE d z (100 300 BYSCORE
        ZRANGE d 0 -1 WITHSCORES
        ZRANGESTORE d l [b [d BYLEX REV LIMIT 0 2
        ZRANGE d 0 -1
        ZRANGESTORE d z 5 1
        EXISTS d
        ZRANGESTORE d nokey 0 -1
        ZADD r 1 a 2 b 3 c 4 d 5 e 6 f
        ZREMRANGEBYRANK r 0 1
        ZREMRANGEBYRANK r 10 20
        ZREMRANGEBYSCORE r (3 5
        ZREMRANGEBYLEX l [b [c
        ZREMRANGEBYRANK nokey 0 1
        ZRANGE r 0 -1 WITHSCORES
        ZRANGE l 0 -1
        ZPOPMIN r
        ZPOPMAX r 2
        ZPOPMIN nokey
        ZPOPMIN nokey 2
        ZPOPMIN r 0
        ZPOPMIN r 5
        EXISTS r
        ZADD m 1 a 2 b
        ZMPOP 2 nokey m MIN
        ZMPOP 2 nokey m MAX COUNT 5
        ZMPOP 1 nokey MIN
        ZADD inf -inf a +inf b 0 c
        ZRANGE inf 0 -1 WITHSCORES
        ZRANGEBYSCORE inf -inf -inf
        ZSCAN inf 0
        "#;
    p.script(script);
    // The same on large sets (a member over 64 bytes converts them).
    p.script("SELECT 1");
    p.script(&format!(
        "ZADD z 1 {}\nZADD l 0 {}\nZADD r 0 {}\nZADD m 0 {}\nZADD inf 0 {}",
        "y".repeat(70),
        "y".repeat(70),
        "y".repeat(70),
        "y".repeat(70),
        "y".repeat(70)
    ));
    let mut big = String::new();
    for line in script.lines() {
        let t = line.trim();
        // Replies that list every member now include the long one; keep
        // them, they compare exactly too.
        if !t.starts_with("ZSCAN") {
            big.push_str(t);
            big.push('\n');
        }
    }
    p.script(&big);
    // WRONGTYPE both ways.
    p.script(
        r#"
        SET s v
        ZADD s 1 a
        ZINCRBY s 1 a
        ZSCORE s a
        ZMSCORE s a
        ZCARD s
        ZCOUNT s 0 1
        ZLEXCOUNT s - +
        ZRANGE s 0 -1
        ZRANGEBYLEX s - +
        ZRANGESTORE d s 0 -1
        ZRANK s a
        ZREM s a
        ZREMRANGEBYRANK s 0 1
        ZREMRANGEBYSCORE s 0 1
        ZREMRANGEBYLEX s - +
        ZPOPMIN s
        ZPOPMAX s 3
        ZMPOP 2 nokey s MIN
        ZRANDMEMBER s
        ZRANDMEMBER s 2
        ZSCAN s 0
        ZUNION 2 s nokey
        ZADD zz 1 a
        GET zz
        LPUSH zz a
        SADD zz a
        "#,
    );
    // Encodings at the thresholds (128 members, 64 bytes).
    let mut zadd: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), b"t".to_vec()];
    for i in 0..128 {
        zadd.push(i.to_string().into_bytes());
        zadd.push(format!("m{i}").into_bytes());
    }
    p.check(Cmp::Exact, &zadd);
    p.script(&format!(
        "OBJECT ENCODING t\nZADD t 500 m500\nOBJECT ENCODING t\nZREMRANGEBYRANK t 0 100\nOBJECT ENCODING t\n\
         ZADD v 1 {}\nOBJECT ENCODING v\nZADD v2 1 {}\nOBJECT ENCODING v2\nZADD v2 1 {}\nOBJECT ENCODING v2\n\
         ZUNIONSTORE u 1 t\nOBJECT ENCODING u\nZRANGESTORE u2 t 0 -1\nOBJECT ENCODING u2",
        "q".repeat(64),
        "q".repeat(10),
        "q".repeat(65)
    ));
}

/// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD with every key
/// on one shard, with sets among the inputs.
#[test]
fn algebra_answers_as_redis_does() {
    let Some(r) = redis("zset_algebra") else {
        return;
    };
    let mut p = Pair::new(r);
    p.script(
        r#"
        ZADD a 1 x 2 y 3 z
        ZADD b 2 y 3 z 4 w
        ZADD c 5 z 6 q
        SADD s1 y z k
        SADD s2 1 2 3
        ZUNION 2 a b WITHSCORES
        ZUNION 3 a b c WITHSCORES AGGREGATE MAX
        ZUNION 3 a b c WEIGHTS 1 2 3 WITHSCORES
        ZUNION 3 a b s1 WEIGHTS 1 2 3 WITHSCORES AGGREGATE MIN
        ZUNION 2 s1 s2
        ZINTER 2 a b WITHSCORES
        ZINTER 3 a b c WITHSCORES
        ZINTER 3 a b s1 WITHSCORES
        ZINTER 2 a nokey
        ZINTER 2 a a WEIGHTS 1 2 WITHSCORES
        ZDIFF 2 a b WITHSCORES
        ZDIFF 3 a b c
        ZDIFF 2 a s1 WITHSCORES
        ZDIFF 2 s1 a WITHSCORES
        ZDIFF 2 a a
        ZDIFF 1 nokey
        ZUNIONSTORE d1 2 a b
        ZRANGE d1 0 -1 WITHSCORES
        ZINTERSTORE d2 2 a b WEIGHTS 2 3
        ZRANGE d2 0 -1 WITHSCORES
        ZDIFFSTORE d3 2 a b
        ZRANGE d3 0 -1 WITHSCORES
        ZINTERSTORE d3 2 a nokey
        EXISTS d3
        ZINTERCARD 2 a b
        ZINTERCARD 2 a b LIMIT 1
        ZINTERCARD 3 a b s1
        ZINTERCARD 2 a nokey
        ZADD i1 inf m
        ZADD i2 -inf m
        ZUNION 2 i1 i2 WITHSCORES
        ZINTER 2 i1 i2 WITHSCORES WEIGHTS 0 1
        ZUNION 2 i1 i2 WITHSCORES AGGREGATE MIN
        ZUNIONSTORE a 2 a b
        ZRANGE a 0 -1 WITHSCORES
        OBJECT ENCODING a
        "#,
    );
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
            "ZADD z 1 a 2 b",
            "ZADD z 1 a 3 b",
            "ZINCRBY z 0.1 a",
            "ZADD z NX 5 a",
            "ZREM z b x",
            "ZADD z 1 c 2 d 3 e",
            "ZPOPMIN z 2",
            "ZREMRANGEBYSCORE z 0 10",
        ],
    );
    assert_eq!(r[0..2], [int(2), int(0)]);
    assert_eq!(r[2], bulk("1.1000000000000001"));
    let text = log_text(&p);
    assert_eq!(
        text,
        "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n\
         *6\r\n$4\r\nZADD\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nb\r\n\
         *4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$1\r\n3\r\n$1\r\nb\r\n\
         *4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$18\r\n1.1000000000000001\r\n$1\r\na\r\n\
         *3\r\n$4\r\nZREM\r\n$1\r\nz\r\n$1\r\nb\r\n\
         *8\r\n$4\r\nZADD\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\nc\r\n$1\r\n2\r\n$1\r\nd\r\n$1\r\n3\r\n$1\r\ne\r\n\
         *4\r\n$4\r\nZREM\r\n$1\r\nz\r\n$1\r\nc\r\n$1\r\na\r\n\
         *2\r\n$3\r\nDEL\r\n$1\r\nz\r\n",
    );
}

/// The pieces of cross-shard combinations, ZRANGESTORE and ZMPOP.
#[test]
fn cross_shard_pieces() {
    let mut store = Store::default();
    let mut p = logging();
    run_lines(
        &mut store,
        &mut p,
        0,
        &["ZADD a 1 x 2 y", "SADD s m", "SET str v", "ZADD b 3 q"],
    );
    let b = run(&mut store, &mut p, 0, |b| {
        let keys = b.args.list([&b"a"[..], b"nokey", b"s"]);
        b.push(0, ZSetOp::Cards { keys }.into());
        let keys = b.args.list([&b"a"[..], b"str"]);
        b.push(0, ZSetOp::Cards { keys }.into());
        let keys = b.args.list([&b"a"[..], b"s", b"nokey"]);
        b.push(
            0,
            ZSetOp::Entries {
                keys,
                how: Lookup::READ,
            }
            .into(),
        );
        let keys = b.args.list([&b"a"[..], b"s"]);
        let members = b.args.list([&b"y"[..], b"m", b"zz"]);
        b.push(0, ZSetOp::Scores { keys, members }.into());
        let dst = b.args.push(b"d");
        let two = 2.5f64.to_le_bytes();
        let entries = b.args.list([&b"k"[..], &two[..]]);
        b.push(
            0,
            ZSetOp::StoreEntries {
                dst,
                entries,
                event: "zunionstore",
            }
            .into(),
        );
        let keys = b.args.list([&b"nokey"[..], b"b", b"a"]);
        b.push(0, ZSetOp::Exists { keys }.into());
        let keys = b.args.list([&b"str"[..]]);
        b.push(0, ZSetOp::Exists { keys }.into());
    });
    let r: Vec<V> = b
        .replies
        .iter()
        .map(|r| crate::ops::redis_check::ours(&b, r, false))
        .collect();
    let ints = |v: &[i64]| V::Array(v.iter().map(|&n| int(n)).collect());
    let arr = V::Array;
    assert_eq!(r[0], ints(&[2, 0, 1]));
    assert_eq!(r[1], err(Error::WrongType));
    assert_eq!(
        r[2],
        arr(vec![
            arr(vec![bulk("x"), bulk("1"), bulk("y"), bulk("2")]),
            arr(vec![bulk("m"), bulk("1")]),
            arr(vec![]),
        ])
    );
    assert_eq!(
        r[3],
        arr(vec![
            arr(vec![bulk("2"), V::Null, V::Null]),
            arr(vec![V::Null, bulk("1"), V::Null]),
        ])
    );
    assert_eq!(r[4], int(1));
    assert_eq!(r[5], ints(&[0, 1]));
    assert_eq!(r[6], ints(&[-1]));
    assert_eq!(describe(&mut store, b"d").unwrap(), "zset:listpack:k=2.5");
}

/// Writes to a large sorted set are journaled member by member and rolled
/// back exactly; a compact one is copied whole.
#[test]
fn rollback_restores_sorted_sets() {
    let mut store = Store::default();
    store.set_journaling(true);
    let mut p = Persist::off();
    let pairs: Vec<String> = (0..500).map(|i| format!("{} m{i}", i % 37)).collect();
    run_lines(
        &mut store,
        &mut p,
        0,
        &[
            &format!("ZADD big {}", pairs.join(" ")),
            "ZADD small 1 a 2 b",
        ],
    );
    store.forget();
    let before = (describe(&mut store, b"big"), describe(&mut store, b"small"));
    assert!(before.0.as_ref().unwrap().starts_with("zset:skiplist:"));
    for line in [
        "ZADD big 1000 new 3 m1 -1 m2",
        "ZADD big GT 0 m3 100 m4",
        "ZINCRBY big 2.5 m5",
        "ZREM big m6 m7 nothere",
        "ZREMRANGEBYRANK big 10 300",
        "ZREMRANGEBYSCORE big (5 20",
        "ZREMRANGEBYLEX big - +",
        "ZPOPMIN big 20",
        "ZPOPMAX big 1000",
        "ZMPOP 2 small big MAX COUNT 3",
        "ZUNIONSTORE big 2 big small",
        "ZADD small 3 c",
        "ZADD small 1 %80",
    ] {
        run_lines(&mut store, &mut p, 0, &[line]);
        store.rollback();
        let after = (describe(&mut store, b"big"), describe(&mut store, b"small"));
        assert_eq!(after, before, "{line}");
    }
    let _ = Cmp::Exact;
}
