//! List op tests: replies and errors side by side with redis-server, the
//! records each write logs (and their replay), the cross-shard pieces,
//! rollback of writes to lists of many nodes.

use crate::error::Error;
use crate::keyspace::{Lookup, Store, ValueRef};
use crate::ops::list::ListOp;
use crate::ops::redis_check::{bulk, err, int, redis, run_lines, Cmp, Pair, V};
use crate::ops::testing::{log_text, logging, run};
use crate::ops::Persist;
use crate::value::list::Side;
use crate::value::Object;

fn words(s: &str) -> Vec<Vec<u8>> {
    crate::ops::redis_check::words(s).1
}

/// Every list command's replies and errors as Redis 7.0.15 gives them, in
/// RESP2 and RESP3 (the check runs reads in both), on small lists and on
/// lists of many nodes.
#[test]
fn list_ops_answer_as_redis_does() {
    let Some(r) = redis("list_ops") else {
        return;
    };
    let mut p = Pair::new(r);
    p.script(
        r#"
        RPUSH l a b c d e
        LPUSH l z y
        LRANGE l 0 -1
        LRANGE l -3 -1
        LRANGE l 5 2
        LRANGE l -100 100
        LRANGE nokey 0 -1
        LLEN l
        LLEN nokey
        LINDEX l 0
        LINDEX l -1
        LINDEX l 100
        LINDEX l -100
        LINDEX l x
        LINDEX nokey x
        LSET l 0 Q
        LSET l -1 R
        LSET l 100 Q
        LSET nokey 0 Q
        LSET l x Q
        LPOP l
        RPOP l
        LPOP l 2
        RPOP l 2
        LPOP l 0
        LPOP nokey 2
        LPOP nokey 0
        LPOP nokey
        LRANGE l 0 -1
        LPUSHX nokey a
        RPUSHX l f g
        LINSERT l BEFORE b X
        LINSERT l AFTER g Y
        LINSERT l AFTER zz Y
        LINSERT nokey BEFORE a b
        LRANGE l 0 -1
        RPUSH one x
        RPOP one 5
        EXISTS one
        RPUSH r a b a c a d a
        LREM r 2 a
        LRANGE r 0 -1
        LREM r -1 a
        LRANGE r 0 -1
        LREM r 0 a
        LRANGE r 0 -1
        LREM r 0 nothere
        LREM nokey 0 a
        LTRIM r 0 0
        LRANGE r 0 -1
        LTRIM r 5 10
        EXISTS r
        LTRIM nokey 0 1
        RPUSH p a b c a b c a
        LPOS p a
        LPOS p a RANK 2
        LPOS p a RANK -1
        LPOS p a RANK -2 COUNT 0
        LPOS p a COUNT 0
        LPOS p a COUNT 2 MAXLEN 3
        LPOS p a RANK -1 MAXLEN 2 COUNT 0
        LPOS p a RANK 9
        LPOS p z
        LPOS p z COUNT 0
        LPOS nokey a
        LPOS nokey a COUNT 1
        LMOVE p p LEFT RIGHT
        LRANGE p 0 -1
        LMOVE p p RIGHT LEFT
        LMOVE p q RIGHT LEFT
        LRANGE q 0 -1
        RPOPLPUSH p q
        LRANGE q 0 -1
        LMOVE nokey q LEFT LEFT
        RPUSH m1 a
        LMPOP 2 nokey m1 LEFT
        LMPOP 2 nokey m1 LEFT
        LMPOP 2 p q RIGHT COUNT 10
        LMPOP 1 q LEFT COUNT 2
        LRANGE q 0 -1
        "#,
    );
    // WRONGTYPE both ways, and the checks Redis makes before the type.
    p.script(
        r#"
        SET s v
        RPUSH l2 a
        LPUSH s a
        RPUSHX s a
        LRANGE s 0 -1
        LLEN s
        LINDEX s 0
        LSET s 0 a
        LPOP s
        LPOP s 2
        LINSERT s BEFORE a b
        LREM s 0 a
        LTRIM s 0 1
        LPOS s a
        LMOVE s l2 LEFT LEFT
        LMOVE l2 s LEFT LEFT
        LRANGE l2 0 -1
        LMOVE nokey s LEFT LEFT
        LMPOP 2 nokey s LEFT
        LMPOP 2 l2 s LEFT
        GET l2
        HSET l2 f v
        SADD l2 m
        "#,
    );
    // Long lists: several nodes (8 KB each by default), elements of many
    // sizes, edits in the middle.
    for i in 0..300 {
        let e = "x".repeat(i % 97);
        p.check(Cmp::Exact, &words(&format!("RPUSH big {e}{i}")));
    }
    p.script(
        r#"
        LLEN big
        LINDEX big 150
        LINDEX big -150
        LRANGE big 140 160
        LSET big 150 middle
        LINSERT big BEFORE middle before
        LINSERT big AFTER middle after
        LRANGE big 145 160
        LREM big 0 middle
        LPOS big after
        LTRIM big 10 -10
        LLEN big
        LRANGE big 0 3
        LRANGE big -3 -1
        LPOP big 50
        RPOP big 50
        LLEN big
        LINDEX big 100
        OBJECT ENCODING big
        "#,
    );
    p.check(Cmp::Exact, &words("LRANGE big 0 -1"));
}

#[test]
fn writes_log_redis_list_commands() {
    let mut store = Store::default();
    let mut p = logging();
    let (_, r) = run_lines(
        &mut store,
        &mut p,
        0,
        &[
            "RPUSH l a b c",
            "LPUSH l z",
            "LPUSHX nokey a",
            "LPOP l 2",
            "RPOP l",
            "LSET l 0 Q",
            "LINSERT l AFTER Q R",
            "LINSERT l AFTER nothere R",
            "LREM l -1 R",
            "LREM l 1 nothere",
            "LTRIM l 0 -1",
            "RPUSH m x",
            "LMOVE m m LEFT RIGHT",
            "LMOVE m n LEFT RIGHT",
        ],
    );
    assert_eq!(r[..5], [int(3), int(4), int(0), r[3].clone(), bulk("c")]);
    let text = log_text(&p);
    let expected = [
        "*5\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
        "*3\r\n$5\r\nLPUSH\r\n$1\r\nl\r\n$1\r\nz\r\n",
        "*3\r\n$4\r\nLPOP\r\n$1\r\nl\r\n$1\r\n2\r\n",
        "*3\r\n$4\r\nRPOP\r\n$1\r\nl\r\n$1\r\n1\r\n",
        "*4\r\n$4\r\nLSET\r\n$1\r\nl\r\n$1\r\n0\r\n$1\r\nQ\r\n",
        "*5\r\n$7\r\nLINSERT\r\n$1\r\nl\r\n$5\r\nAFTER\r\n$1\r\nQ\r\n$1\r\nR\r\n",
        "*4\r\n$4\r\nLREM\r\n$1\r\nl\r\n$2\r\n-1\r\n$1\r\nR\r\n",
        "*3\r\n$5\r\nRPUSH\r\n$1\r\nm\r\n$1\r\nx\r\n",
        // A rotation: the pop and the push.
        "*3\r\n$4\r\nLPOP\r\n$1\r\nm\r\n$1\r\n1\r\n*3\r\n$5\r\nRPUSH\r\n$1\r\nm\r\n$1\r\nx\r\n",
        // The last element moved: the source goes.
        "*2\r\n$3\r\nDEL\r\n$1\r\nm\r\n*3\r\n$5\r\nRPUSH\r\n$1\r\nn\r\n$1\r\nx\r\n",
    ];
    let mut at = 0;
    for e in expected {
        let found = text[at..]
            .find(e)
            .unwrap_or_else(|| panic!("{e:?} in {text:?}"));
        at += found + e.len();
    }
    assert!(
        !text.contains("LTRIM"),
        "a trim that removes nothing logs nothing"
    );
    // Replaying the records rebuilds the same lists.
    let mut replayed = Store::default();
    crate::aof::tests_support::replay(&mut replayed, text.as_bytes());
    for key in [&b"l"[..], b"n", b"m"] {
        assert_eq!(describe(&mut replayed, key), describe(&mut store, key));
    }
}

fn describe(store: &mut Store, key: &[u8]) -> Option<String> {
    let pos = store.lookup(0, key, 0, Lookup::PEEK)?;
    match store.value_at(pos) {
        ValueRef::Obj(o) => Some(o.describe(false)),
        ValueRef::Str(s) => Some(String::from_utf8_lossy(s).into_owned()),
    }
}

/// Pushes of more than 1024 elements are logged 1024 a record (an AOF
/// record's argument count stays far below the loader's limit).
#[test]
fn big_pushes_are_logged_in_runs() {
    let mut store = Store::default();
    let mut p = logging();
    let elems: Vec<String> = (0..2500).map(|i| i.to_string()).collect();
    let line = format!("LPUSH l {}", elems.join(" "));
    run_lines(&mut store, &mut p, 0, &[&line]);
    let text = log_text(&p);
    assert_eq!(
        text.matches("*1026\r\n$5\r\nLPUSH").count(),
        2,
        "{}",
        &text[..200]
    );
    assert_eq!(text.matches("*454\r\n$5\r\nLPUSH").count(), 1);
    let mut replayed = Store::default();
    crate::aof::tests_support::replay(&mut replayed, text.as_bytes());
    assert_eq!(describe(&mut replayed, b"l"), describe(&mut store, b"l"));
}

/// The pieces of cross-shard LMOVE and LMPOP, and SORT's STORE.
#[test]
fn cross_shard_pieces() {
    let mut store = Store::default();
    let mut p = logging();
    run_lines(
        &mut store,
        &mut p,
        0,
        &["RPUSH a 1 2 3", "SET s v", "RPUSH b x"],
    );
    let b = run(&mut store, &mut p, 0, |b| {
        for (k, side) in [
            (&b"a"[..], Side::Left),
            (b"a", Side::Right),
            (b"nokey", Side::Left),
            (b"s", Side::Left),
        ] {
            let key = b.args.push(k);
            b.push(0, ListOp::Peek { key, side }.into());
        }
        for k in [&b"a"[..], b"nokey", b"s"] {
            let key = b.args.push(k);
            b.push(0, ListOp::Check { key }.into());
        }
        let keys = b.args.list([&b"nokey"[..], b"a", b"s"]);
        b.push(0, ListOp::Lens { keys }.into());
        let keys = b.args.list([&b"nokey"[..], b"s", b"a"]);
        b.push(0, ListOp::Lens { keys }.into());
        let dst = b.args.push(b"b");
        let items = b.args.list([&b"p"[..], b"q"]);
        b.push(0, ListOp::StoreItems { dst, items }.into());
        let dst = b.args.push(b"s");
        let items = b.args.list(std::iter::empty::<&[u8]>());
        b.push(0, ListOp::StoreItems { dst, items }.into());
    });
    let r: Vec<V> = b
        .replies
        .iter()
        .map(|r| crate::ops::redis_check::ours(&b, r, false))
        .collect();
    let ints = |v: &[i64]| V::Array(v.iter().map(|&n| int(n)).collect());
    assert_eq!(
        r[..4],
        [bulk("1"), bulk("3"), V::Null, err(Error::WrongType)]
    );
    assert_eq!(r[4..7], [int(1), int(0), err(Error::WrongType)]);
    assert_eq!(r[7], ints(&[0, 3]));
    assert_eq!(r[8], ints(&[0, -1]));
    assert_eq!(r[9..11], [int(2), int(0)]);
    assert_eq!(describe(&mut store, b"b").unwrap(), "list:quicklist:p,q");
    assert_eq!(describe(&mut store, b"s"), None, "an empty result deletes");
    let text = log_text(&p);
    assert!(
        text.ends_with(
            "*2\r\n$3\r\nDEL\r\n$1\r\nb\r\n*4\r\n$5\r\nRPUSH\r\n$1\r\nb\r\n$1\r\np\r\n$1\r\nq\r\n\
             *2\r\n$3\r\nDEL\r\n$1\r\ns\r\n"
        ),
        "{text:?}"
    );
}

/// Writes to a list of many nodes are journaled position by position and
/// rolled back exactly; a one-node list is copied whole.
#[test]
fn rollback_restores_lists() {
    let mut store = Store::default();
    store.set_journaling(true);
    let mut p = Persist::off();
    let elems: Vec<String> = (0..3000).map(|i| format!("e{}", i % 50)).collect();
    run_lines(
        &mut store,
        &mut p,
        0,
        &[&format!("RPUSH l {}", elems.join(" ")), "RPUSH small a b c"],
    );
    store.forget();
    let before = (describe(&mut store, b"l"), describe(&mut store, b"small"));
    for line in [
        "LPUSH l x y z",
        "RPUSH l x y z",
        "LPOP l 700",
        "RPOP l 10",
        "LPOP l 5000",
        "LSET l 1500 Q",
        "LSET l -1 Q",
        "LINSERT l BEFORE e7 P",
        "LINSERT l AFTER e49 P",
        "LREM l 3 e5",
        "LREM l -7 e6",
        "LREM l 0 e8",
        "LTRIM l 100 -200",
        "LTRIM l 2000 1000",
        "LMOVE l l LEFT RIGHT",
        "LMOVE l l RIGHT LEFT",
        "LMOVE l small RIGHT LEFT",
        "LMOVE small l LEFT RIGHT",
        "LMPOP 2 small l RIGHT COUNT 2",
        "LPOP small 3",
    ] {
        run_lines(&mut store, &mut p, 0, &[line]);
        store.rollback();
        let after = (describe(&mut store, b"l"), describe(&mut store, b"small"));
        assert_eq!(after, before, "{line}");
    }
    // Several writes in one group, undone newest first.
    run_lines(
        &mut store,
        &mut p,
        0,
        &[
            "LREM l 2 e1",
            "LPUSH l new",
            "LTRIM l 5 -5",
            "LSET l 3 z",
            "RPOP l 100",
        ],
    );
    store.rollback();
    let after = (describe(&mut store, b"l"), describe(&mut store, b"small"));
    assert_eq!(after, before);
    let _ = Object::List;
}

/// Big lists and sorted sets a write replaces or deletes are freed on the
/// lazy-free thread; small ones here. (A write that empties a list frees
/// its elements as it removes them, as Redis does.)
#[test]
fn big_removed_values_are_freed_lazily() {
    let (lazy, _thread) = crate::lazyfree::LazyFree::spawn().unwrap();
    let mut store = Store::default();
    store.set_lazy_free(Some(lazy.clone()));
    let mut p = Persist::off();
    let elems: Vec<String> = (0..100_000).map(|i| format!("element:{i}")).collect();
    let pairs: Vec<String> = (0..100_000).map(|i| format!("{i} member:{i}")).collect();
    let rpush = format!("RPUSH l {}", elems.join(" "));
    let zadd = format!("ZADD z {}", pairs.join(" "));
    run_lines(
        &mut store,
        &mut p,
        0,
        &[
            &rpush,
            &zadd,
            "RPUSH small a",
            "ZADD zsmall 1 a",
            "RPUSH l2 x",
        ],
    );
    for key in ["l", "z"] {
        let pos = store.lookup(0, key.as_bytes(), 0, Lookup::PEEK).unwrap();
        let ValueRef::Obj(o) = store.value_at(pos) else {
            panic!()
        };
        assert!(o.free_effort() > crate::lazyfree::THRESHOLD, "{key}");
    }
    run_lines(
        &mut store,
        &mut p,
        0,
        &[
            "SORT l2 STORE l",
            "ZUNIONSTORE z 1 zsmall",
            "DEL l",
            "DEL zsmall",
            "LPOP small",
        ],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while lazy.freed() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "freed {}",
            lazy.freed()
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(lazy.freed(), 2, "the small values were freed in place");
    assert_eq!(lazy.pending(), 0);
}
