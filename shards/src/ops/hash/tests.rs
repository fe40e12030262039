//! Hash op tests: replies and errors side by side with redis-server, the
//! records each write logs, WRONGTYPE both ways, encodings at the
//! thresholds.

use crate::error::Error;
use crate::keyspace::{Lookup, Store, ValueRef};
use crate::ops::redis_check::{bulk, err, int, redis, run_lines, words, Cmp, Pair, V};
use crate::ops::testing::{log_text, logging};
use crate::ops::Persist;
use crate::value::Object;

/// Every hash command's replies, errors and encodings as Redis 7.0.15
/// gives them (RESP2 and RESP3).
#[test]
fn hash_ops_answer_as_redis_does() {
    let Some(r) = redis("hash_ops") else {
        return;
    };
    let mut p = Pair::new(r);
    p.script(
        r#"
        HSET h a 1 b 2 c 3
        HSET h a 10 d 4
        HMSET h e 5
        HSETNX h a x
        HSETNX h z 26
        HSETNX newh f v
        HGET h a
        HGET h nope
        HGET nokey a
        HMGET h a nope b
        HMGET nokey a b
        HGETALL h
        HKEYS h
        HVALS h
        HGETALL nokey
        HKEYS nokey
        HVALS nokey
        HLEN h
        HLEN nokey
        HSTRLEN h a
        HSTRLEN h nope
        HSTRLEN nokey a
        HEXISTS h a
        HEXISTS h nope
        HEXISTS nokey a
        HDEL h a nope b
        HDEL h nope
        HDEL nokey a
        HGETALL h
        HINCRBY h n 5
        HINCRBY h n -7
        HINCRBY h c 9223372036854775800
        HINCRBY h c 9223372036854775800
        HSET h s abc sp " 12" big 9223372036854775807 neg -9223372036854775808 f 2.5 hex 0x10
        HINCRBY h s 1
        HINCRBY h f 1
        HINCRBY h big 1
        HINCRBY h neg -1
        HINCRBY h neg 1
        HINCRBYFLOAT h f 0.1
        HINCRBYFLOAT h f 1e400
        HINCRBYFLOAT h s 1
        HINCRBYFLOAT h big 1
        HINCRBYFLOAT h hex 1
        HINCRBYFLOAT h new 10.50
        HINCRBYFLOAT h new -5.5e1
        HINCRBYFLOAT h new abc
        HINCRBYFLOAT h new inf
        HINCRBYFLOAT h new nan
        HINCRBYFLOAT nokey2 f 3
        // The 1e400 sum made a value over 64 bytes: a hashtable now.
        OBJECT ENCODING h
        ~HGETALL h
        ~HSCAN h 0 COUNT 1000
        ~HSCAN h 0 MATCH n* COUNT 1000
        ~HSCAN h 0 COUNT 1000 MATCH *e*
        HSCAN nokey 0
        HRANDFIELD nokey
        HRANDFIELD nokey 3
        HRANDFIELD nokey -3 WITHVALUES
        HRANDFIELD h 0
        ~HRANDFIELD h 100
        ~HRANDFIELD h 100 WITHVALUES
        #HRANDFIELD h 3
        #HRANDFIELD h 3 WITHVALUES
        #HRANDFIELD h -30
        #HRANDFIELD h -30 WITHVALUES
        HDEL newh f
        EXISTS newh
        HDEL h a b c d e z n s sp big neg f hex new
        EXISTS h
        "#,
    );
    // WRONGTYPE both ways.
    p.script(
        r#"
        SET str v
        HSET str a 1
        HSETNX str a 1
        HGET str a
        HMGET str a
        HGETALL str
        HKEYS str
        HLEN str
        HSTRLEN str a
        HEXISTS str a
        HDEL str a
        HINCRBY str a 1
        HINCRBYFLOAT str a 1
        HINCRBYFLOAT str a x
        HRANDFIELD str
        HRANDFIELD str 2
        HSCAN str 0
        HSET hh a 1
        GET hh
        SADD hh x
        SMEMBERS hh
        TYPE hh
        OBJECT ENCODING hh
        "#,
    );
    // Encodings at the thresholds (512 fields, 64-byte fields and values).
    p.script(
        r#"
        HSET v64 f %64
        OBJECT ENCODING v64
        HSET v65 f %65
        OBJECT ENCODING v65
        HSET v65 f x
        OBJECT ENCODING v65
        HSET k65 %65 x
        OBJECT ENCODING k65
        HSETNX n65 f %65
        OBJECT ENCODING n65
        HINCRBYFLOAT fl f 1.2345678901234567890123456789012345678901234567890123456789012345
        OBJECT ENCODING fl
        "#,
    );
    let mut fields: Vec<Vec<u8>> = vec![b"HSET".to_vec(), b"big".to_vec()];
    for i in 0..512 {
        fields.push(format!("f{i}").into_bytes());
        fields.push(i.to_string().into_bytes());
    }
    p.check(Cmp::Exact, &fields);
    p.script("OBJECT ENCODING big\nHSETNX big f511 x\nOBJECT ENCODING big");
    p.script("HSETNX big f512 x\nOBJECT ENCODING big\n~HGETALL big\nHLEN big");
    p.script("HDEL big f512 f0\nOBJECT ENCODING big\nHLEN big\n~HKEYS big\n~HVALS big");
    // A hashtable with few fields left: still a hashtable.
    p.script(
        r#"
        HSET t a 1 b %70
        HDEL t b
        OBJECT ENCODING t
        HGETALL t
        HINCRBY t a 5
        HINCRBYFLOAT t a 0.5
        HSCAN t 0
        HRANDFIELD t 5 WITHVALUES
        HRANDFIELD t
        HRANDFIELD t -2 WITHVALUES
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
            "HSET h a 1 b 2",
            "HINCRBY h a 5",
            "HINCRBYFLOAT h f 0.1",
            "HSETNX h a x",
            "HDEL h a nope",
            "HDEL h nope",
            "HDEL h b f",
        ],
    );
    assert_eq!(
        r,
        [int(2), int(6), bulk("0.1"), int(0), int(1), int(0), int(2)]
    );
    assert_eq!(
        log_text(&p),
        "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n\
         *6\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n\
         *4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\na\r\n$1\r\n6\r\n\
         *4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$3\r\n0.1\r\n\
         *4\r\n$4\r\nHDEL\r\n$1\r\nh\r\n$1\r\na\r\n$4\r\nnope\r\n\
         *2\r\n$3\r\nDEL\r\n$1\r\nh\r\n"
    );
    assert!(store.lookup(0, b"h", 0, Lookup::PEEK).is_none());
}

#[test]
fn writes_keep_the_ttl_and_signal_watchers() {
    let mut store = Store::default();
    let mut p = Persist::off();
    run_lines(&mut store, &mut p, 0, &["HSET h a 1"]);
    let pos = store.lookup(0, b"h", 0, Lookup::PEEK).unwrap();
    store.set_expire_at(pos, 50_000);
    store.watch(0, b"h", 7, 0);
    let (_, r) = run_lines(&mut store, &mut p, 0, &["HINCRBY h a 1", "HSET h b 2"]);
    assert_eq!(r, [int(2), int(1)]);
    assert_eq!(store.expire_at(0, b"h", 0), Some(50_000));
    assert!(store.watch_check(7, 0), "a watched hash changed");
    // A write that changes nothing leaves watchers alone.
    store.watch(0, b"h", 8, 0);
    run_lines(&mut store, &mut p, 0, &["HDEL h nope", "HSETNX h a 5"]);
    assert!(!store.watch_check(8, 0));
}

#[test]
fn oom_refuses_growing_writes_only() {
    let mut store = Store::new(crate::keyspace::Limits {
        maxmemory: 1,
        policy: crate::keyspace::EvictionPolicy::NoEviction,
        ..Default::default()
    });
    let mut p = Persist::off();
    store
        .insert_object(
            0,
            b"h",
            Object::Hash(crate::value::HashValue::from_entries(
                [(b"a", b"1")],
                &Default::default(),
            )),
            0,
        )
        .unwrap();
    let (_, r) = run_lines(
        &mut store,
        &mut p,
        0,
        &[
            "HSET h b 1",
            "HSETNX h c 1",
            "HINCRBY h a 1",
            "HINCRBYFLOAT h a 1",
            "HGET h a",
            "HDEL h a",
            "HLEN h",
        ],
    );
    let oom = err(Error::Oom);
    assert_eq!(
        r,
        [
            oom.clone(),
            oom.clone(),
            oom.clone(),
            oom,
            bulk("1"),
            int(1),
            int(0)
        ]
    );
}

#[test]
fn a_string_over_a_hash_and_back() {
    let mut store = Store::default();
    let mut p = Persist::off();
    let (_, r) = run_lines(
        &mut store,
        &mut p,
        0,
        &["HSET k a 1", "SET k s", "HSET k a 1", "GET k"],
    );
    assert_eq!(
        r,
        [
            int(1),
            V::Simple("OK".into()),
            err(Error::WrongType),
            bulk("s")
        ]
    );
    let pos = store.lookup(0, b"k", 0, Lookup::PEEK).unwrap();
    assert!(matches!(store.value_at(pos), ValueRef::Str(b"s")));
}

/// `words` is the scripts' tokenizer.
#[test]
fn script_words() {
    let (cmp, argv) = words("~HSET h %3 \" x y\" \"\"");
    assert_eq!(cmp, Cmp::Unordered);
    assert_eq!(argv, [&b"HSET"[..], b"h", b"vvv", b" x y", b""]);
}
