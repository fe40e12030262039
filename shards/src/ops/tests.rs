//! Unit tests of the ops: replies, errors and the records they log.

use super::keys::{ExpireCond, KeyOp, ObjectField, TtlUnit};
use super::server::SrvOp;
use super::string::{GetExTtl, SetCond, SetReply, StrOp};
use super::testing::{bulk_of, log_text, logging, run};
use super::*;
use crate::keyspace::Expiry;
use crate::tape::{Item, TapeReader};
use crate::value::Object;

fn set(b: &mut Batch, key: &[u8], value: &[u8], cond: SetCond, reply: SetReply, expiry: Expiry) {
    let key = b.args.push(key);
    let value = b.args.push(value);
    b.push(
        0,
        StrOp::Set {
            key,
            value,
            cond,
            expiry,
            reply,
        }
        .into(),
    );
}

fn key_op(b: &mut Batch, key: &[u8], f: impl FnOnce(Arg) -> Op) {
    let k = b.args.push(key);
    b.push(0, f(k));
}

use crate::batch::Arg;

fn tape(b: &Batch, r: &Reply) -> Vec<String> {
    let Reply::Tape(s) = r else {
        panic!("not a tape: {r:?}")
    };
    TapeReader::new(b.payload(*s))
        .map(|i| match i {
            Item::Bulk(v) => String::from_utf8_lossy(v).into_owned(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn set_options_follow_redis() {
    let mut store = Store::default();
    let b = run(&mut store, &mut Persist::off(), 0, |b| {
        use SetCond::*;
        set(b, b"k", b"v1", Xx, SetReply::Ok, Expiry::Clear);
        set(b, b"k", b"v1", Nx, SetReply::Ok, Expiry::Clear);
        set(b, b"k", b"v2", Nx, SetReply::Ok, Expiry::Clear);
        set(b, b"k", b"v3", Always, SetReply::Old, Expiry::Clear);
        set(b, b"k", b"v4", Nx, SetReply::Old, Expiry::Clear);
        set(b, b"n", b"1", Nx, SetReply::Int, Expiry::Clear);
        set(b, b"n", b"1", Nx, SetReply::Int, Expiry::Clear);
        key_op(b, b"k", |key| StrOp::Get { key }.into());
    });
    let r = &b.replies;
    assert_eq!(r[0], Reply::Nil);
    assert_eq!(r[1], Reply::Ok);
    assert_eq!(r[2], Reply::Nil);
    assert_eq!(bulk_of(&b, &r[3]), b"v1");
    assert_eq!(bulk_of(&b, &r[4]), b"v3");
    assert_eq!((&r[5], &r[6]), (&Reply::Int(1), &Reply::Int(0)));
    assert_eq!(bulk_of(&b, &r[7]), b"v3");
}

#[test]
fn batch_is_reusable() {
    let mut store = Store::default();
    let mut b = Batch::new(0, 0);
    for round in 0..3u8 {
        b.clear();
        set(
            &mut b,
            b"k",
            &[round],
            SetCond::Always,
            SetReply::Ok,
            Expiry::Clear,
        );
        key_op(&mut b, b"k", |key| StrOp::Get { key }.into());
        key_op(&mut b, b"k", |key| KeyOp::Del { key }.into());
        key_op(&mut b, b"k", |key| KeyOp::Exists { key }.into());
        execute(&mut store, &mut b, 0, &mut Persist::off());
        assert_eq!(b.replies.len(), 4);
        assert_eq!(b.replies[0], Reply::Ok);
        assert_eq!(bulk_of(&b, &b.replies[1]), [round]);
        assert_eq!(b.replies[2], Reply::Int(1));
        assert_eq!(b.replies[3], Reply::Int(0));
    }
}

#[test]
fn read_modify_write_ops_keep_ttl_and_log_absolute_sets() {
    let mut store = Store::default();
    let mut p = logging();
    let b = run(&mut store, &mut p, 1_000, |b| {
        set(
            b,
            b"n",
            b"41",
            SetCond::Always,
            SetReply::Ok,
            Expiry::At(5_000),
        );
        key_op(b, b"n", |key| StrOp::IncrBy { key, by: 1 }.into());
        key_op(b, b"n", |key| StrOp::IncrBy { key, by: i64::MAX }.into());
        let v = b.args.push(b"x");
        key_op(b, b"n", |key| StrOp::Append { key, value: v }.into());
        key_op(b, b"n", |key| StrOp::IncrBy { key, by: 1 }.into());
        let v = b.args.push(b"ab");
        key_op(b, b"r", |key| {
            StrOp::SetRange {
                key,
                offset: 2,
                value: v,
            }
            .into()
        });
        key_op(b, b"r", |key| StrOp::Strlen { key }.into());
        key_op(b, b"r", |key| StrOp::Get { key }.into());
        key_op(b, b"r", |key| StrOp::GetDel { key }.into());
        key_op(b, b"r", |key| StrOp::GetDel { key }.into());
    });
    let r = &b.replies;
    assert_eq!(r[1], Reply::Int(42));
    assert_eq!(r[2], Reply::Err(Error::Overflow));
    assert_eq!(r[3], Reply::Int(3));
    assert_eq!(r[4], Reply::Err(Error::NotInteger));
    assert_eq!(r[5], Reply::Int(4));
    assert_eq!(r[6], Reply::Int(4));
    assert_eq!(bulk_of(&b, &r[7]), b"\0\0ab");
    assert_eq!(bulk_of(&b, &r[8]), b"\0\0ab");
    assert_eq!(r[9], Reply::Nil);
    assert_eq!(store.expire_at(0, b"n", 1_000), Some(5_000));
    assert_eq!(store.peek(0, b"n", 1_000), Some(&b"42x"[..]));
    let text = log_text(&p);
    assert!(text.contains("$3\r\nSET\r\n$1\r\nn\r\n$2\r\n42\r\n$4\r\nPXAT\r\n$4\r\n5000\r\n"));
    assert!(text.contains("$3\r\n42x\r\n$4\r\nPXAT"));
    assert!(text.contains("$3\r\nDEL\r\n$1\r\nr\r\n"));
    assert!(!text.contains("INCR") && !text.contains("APPEND"));
}

#[test]
fn incr_by_float_keeps_ttl_and_logs_the_printed_value() {
    let mut store = Store::default();
    let mut p = logging();
    let b = run(&mut store, &mut p, 1_000, |b| {
        set(
            b,
            b"f",
            b"10.5",
            SetCond::Always,
            SetReply::Ok,
            Expiry::At(5_000),
        );
        for incr in [&b"0.1"[..], b"x", b"inf"] {
            let by = b.args.push(incr);
            key_op(b, b"f", |key| StrOp::IncrByFloat { key, by }.into());
        }
    });
    assert_eq!(bulk_of(&b, &b.replies[1]), b"10.6");
    assert_eq!(b.replies[2], Reply::Err(Error::NotFloat));
    assert_eq!(b.replies[3], Reply::Err(Error::NanOrInf));
    assert_eq!(store.expire_at(0, b"f", 1_000), Some(5_000));
    assert!(log_text(&p).contains("$4\r\n10.6\r\n$4\r\nPXAT\r\n$4\r\n5000\r\n"));
}

#[test]
fn expire_ops_follow_redis_and_log_pexpireat() {
    let c = |nx, xx, gt, lt| ExpireCond { nx, xx, gt, lt };
    let (always, nx, xx, gt, lt) = (
        c(false, false, false, false),
        c(true, false, false, false),
        c(false, true, false, false),
        c(false, false, true, false),
        c(false, false, false, true),
    );
    let mut store = Store::default();
    let mut p = logging();
    let exp = |b: &mut Batch, at: i64, cond| {
        key_op(b, b"k", |key| KeyOp::Expire { key, at, cond }.into())
    };
    let ttl = |b: &mut Batch, unit| key_op(b, b"k", |key| KeyOp::Ttl { key, unit }.into());
    let b = run(&mut store, &mut p, 1_000, |b| {
        set(b, b"k", b"v", SetCond::Always, SetReply::Ok, Expiry::Clear);
        ttl(b, TtlUnit::Secs);
        exp(b, 10_000, xx);
        exp(b, 10_000, gt);
        exp(b, 10_000, nx);
        exp(b, 20_000, lt);
        exp(b, 5_000, lt);
        ttl(b, TtlUnit::Ms);
        ttl(b, TtlUnit::Secs);
        ttl(b, TtlUnit::AtMs);
        key_op(b, b"k", |key| KeyOp::Persist { key }.into());
        key_op(b, b"k", |key| KeyOp::Persist { key }.into());
        key_op(b, b"k", |key| KeyOp::Type { key }.into());
        exp(b, -1, always);
        key_op(b, b"k", |key| KeyOp::Type { key }.into());
        ttl(b, TtlUnit::Secs);
        exp(b, 10_000, always);
    });
    let r = &b.replies;
    assert_eq!(
        r[1..12],
        [-1, 0, 0, 1, 0, 1, 4_000, 4, 5_000, 1, 0].map(Reply::Int)
    );
    assert_eq!(r[12], Reply::Status("string"));
    assert_eq!(r[13], Reply::Int(1));
    assert_eq!(r[14], Reply::Status("none"));
    assert_eq!(r[15], Reply::Int(-2));
    assert_eq!(r[16], Reply::Int(0));
    let text = log_text(&p);
    assert!(text.contains("$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$5\r\n10000\r\n"));
    assert!(text.contains("$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$4\r\n5000\r\n"));
    assert!(text.contains("$3\r\nDEL\r\n$1\r\nk\r\n"));
}

#[test]
fn getex_defers_time_errors_and_logs_absolute_records() {
    let mut store = Store::default();
    let mut p = logging();
    store.set(0, b"k", b"v", Expiry::At(50_000), 0).unwrap();
    store.set(0, b"gone", b"v", Expiry::Clear, 0).unwrap();
    let getex = |b: &mut Batch, k: &[u8], ttl, bad| {
        key_op(b, k, |key| StrOp::GetEx { key, ttl, bad }.into())
    };
    let b = run(&mut store, &mut p, 1_000, |b| {
        getex(b, b"none", GetExTtl::Keep, Some(Error::NotInteger));
        getex(b, b"none", GetExTtl::At(5_000, false), None);
        getex(b, b"k", GetExTtl::Keep, Some(Error::NotInteger));
        getex(b, b"k", GetExTtl::Keep, Some(Error::InvalidExpire("getex")));
        getex(b, b"k", GetExTtl::Keep, None);
        getex(b, b"k", GetExTtl::At(7_000, false), None);
        getex(b, b"k", GetExTtl::Persist, None);
        getex(b, b"k", GetExTtl::Persist, None);
        getex(b, b"gone", GetExTtl::At(1_000, true), None);
        getex(b, b"gone", GetExTtl::Keep, None);
    });
    let r = &b.replies;
    assert_eq!(r[0], Reply::Nil);
    assert_eq!(r[1], Reply::Nil);
    assert_eq!(r[2], Reply::Err(Error::NotInteger));
    assert_eq!(r[3], Reply::Err(Error::InvalidExpire("getex")));
    for reply in &r[4..9] {
        assert_eq!(bulk_of(&b, reply), b"v");
    }
    assert_eq!(r[9], Reply::Nil);
    assert_eq!(store.expire_at(0, b"k", 1_000), Some(0));
    assert_eq!(
        log_text(&p),
        "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n\
         *3\r\n$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$4\r\n7000\r\n\
         *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
         *2\r\n$3\r\nDEL\r\n$4\r\ngone\r\n"
    );
    assert_eq!((store.stats().hits, store.stats().misses), (7, 3));
}

#[test]
fn bits_set_count_and_search() {
    let mut store = Store::default();
    let mut p = logging();
    let b = run(&mut store, &mut p, 0, |b| {
        key_op(b, b"k", |key| {
            StrOp::SetBit {
                key,
                offset: 7,
                on: true,
            }
            .into()
        });
        key_op(b, b"k", |key| {
            StrOp::SetBit {
                key,
                offset: 7,
                on: true,
            }
            .into()
        });
        key_op(b, b"k", |key| StrOp::GetBit { key, offset: 7 }.into());
        key_op(b, b"k", |key| StrOp::GetBit { key, offset: 1000 }.into());
        key_op(b, b"k", |key| {
            StrOp::BitCount {
                key,
                range: None,
                bits: false,
                bad: None,
            }
            .into()
        });
        key_op(b, b"k", |key| {
            StrOp::BitPos {
                key,
                one: true,
                start: None,
                end: None,
                bits: false,
                bad: None,
            }
            .into()
        });
        key_op(b, b"k", |key| {
            StrOp::BitPos {
                key,
                one: false,
                start: Some(0),
                end: Some(0),
                bits: false,
                bad: None,
            }
            .into()
        });
        key_op(b, b"none", |key| {
            StrOp::BitCount {
                key,
                range: None,
                bits: false,
                bad: Some(Error::Syntax),
            }
            .into()
        });
        key_op(b, b"k", |key| {
            StrOp::BitCount {
                key,
                range: None,
                bits: false,
                bad: Some(Error::Syntax),
            }
            .into()
        });
    });
    assert_eq!(
        b.replies,
        [
            Reply::Int(0),
            Reply::Int(1),
            Reply::Int(1),
            Reply::Int(0),
            Reply::Int(1),
            Reply::Int(7),
            Reply::Int(0),
            Reply::Int(0),
            Reply::Err(Error::Syntax)
        ]
    );
    // The first SETBIT created the key and logged it; the second changed nothing.
    assert_eq!(log_text(&p).matches("SET\r\n").count(), 1);
}

#[test]
fn string_ops_answer_wrongtype_on_another_type() {
    let mut store = Store::default();
    store
        .insert_object(0, b"h", Object::Test(b"x".to_vec()), 0)
        .unwrap();
    let b = run(&mut store, &mut logging(), 0, |b| {
        key_op(b, b"h", |key| StrOp::Get { key }.into());
        key_op(b, b"h", |key| StrOp::IncrBy { key, by: 1 }.into());
        key_op(b, b"h", |key| StrOp::Strlen { key }.into());
        key_op(b, b"h", |key| {
            StrOp::SetBit {
                key,
                offset: 1,
                on: true,
            }
            .into()
        });
        set(b, b"h", b"v", SetCond::Always, SetReply::Old, Expiry::Clear);
        key_op(b, b"h", |key| KeyOp::Type { key }.into());
        // A plain SET replaces any type.
        set(b, b"h", b"v", SetCond::Always, SetReply::Ok, Expiry::Clear);
        key_op(b, b"h", |key| KeyOp::Type { key }.into());
    });
    let r = &b.replies;
    assert!(
        r[..5].iter().all(|r| *r == Reply::Err(Error::WrongType)),
        "{r:?}"
    );
    assert_eq!(r[5], Reply::Status("hash"));
    assert_eq!(r[6], Reply::Ok);
    assert_eq!(r[7], Reply::Status("string"));
}

#[test]
fn walks_answer_tapes() {
    let mut store = Store::default();
    for k in ["a1", "a2", "b1"] {
        store.set(0, k.as_bytes(), b"v", Expiry::Clear, 0).unwrap();
    }
    let b = run(&mut store, &mut Persist::off(), 0, |b| {
        let pattern = b.args.push(b"a*");
        b.push(0, SrvOp::Keys { pattern }.into());
        b.push(
            0,
            SrvOp::Scan {
                cursor: 0,
                count: 100,
                pattern: None,
                kind: None,
            }
            .into(),
        );
        b.push(0, SrvOp::RandomKey.into());
        b.push(1, SrvOp::RandomKey.into());
    });
    let mut keys = tape(&b, &b.replies[0]);
    keys[1..].sort();
    assert_eq!(keys, ["Array(2)", "a1", "a2"]);
    let scan = tape(&b, &b.replies[1]);
    assert_eq!(scan[..2], ["Int(-1)".to_string(), "Array(3)".to_string()]);
    assert_eq!(tape(&b, &b.replies[2])[..2], ["Array(2)", "Int(3)"]);
    assert_eq!(tape(&b, &b.replies[3]), ["Array(2)", "Int(0)", "Nil"]);
}

#[test]
fn rename_copy_move_log_absolute_records() {
    let mut store = Store::default();
    let mut p = logging();
    store.set(0, b"s", b"v", Expiry::At(9_000), 0).unwrap();
    let b = run(&mut store, &mut p, 0, |b| {
        let (src, dst) = (b.args.push(b"s"), b.args.push(b"d"));
        b.push(
            0,
            KeyOp::Rename {
                src,
                dst,
                nx: false,
            }
            .into(),
        );
        let (src, dst) = (b.args.push(b"d"), b.args.push(b"c"));
        b.push(
            0,
            KeyOp::Copy {
                src,
                dst,
                dst_db: 3,
                replace: false,
            }
            .into(),
        );
        key_op(b, b"d", |key| KeyOp::Move { key, dst_db: 5 }.into());
        let (src, dst) = (b.args.push(b"nope"), b.args.push(b"x"));
        b.push(0, KeyOp::Rename { src, dst, nx: true }.into());
        key_op(b, b"d", |key| {
            KeyOp::Object {
                key,
                field: ObjectField::Encoding,
                shared_ints: true,
            }
            .into()
        });
    });
    assert_eq!(
        b.replies[..4],
        [
            Reply::Ok,
            Reply::Int(1),
            Reply::Int(1),
            Reply::Err(Error::NoSuchKey)
        ]
    );
    assert_eq!(b.replies[4], Reply::Nil);
    assert_eq!(store.expire_at(3, b"c", 0), Some(9_000));
    assert_eq!(store.peek(5, b"d", 0), Some(&b"v"[..]));
    let text = log_text(&p);
    assert!(text.contains(
        "*2\r\n$3\r\nDEL\r\n$1\r\ns\r\n*5\r\n$3\r\nSET\r\n$1\r\nd\r\n$1\r\nv\r\n$4\r\nPXAT"
    ));
    assert!(text.contains("*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*5\r\n$3\r\nSET\r\n$1\r\nc"));
    assert!(text.contains("*2\r\n$6\r\nSELECT\r\n$1\r\n5\r\n*5\r\n$3\r\nSET\r\n$1\r\nd"));
}

#[test]
fn writes_are_refused_while_the_aof_fails_and_reads_go_on() {
    let mut store = Store::default();
    store.set(0, b"k", b"v", Expiry::Clear, 0).unwrap();
    let mut p = logging();
    p.log.refuse_writes = Some("No space left on device".into());
    let b = run(&mut store, &mut p, 0, |b| {
        key_op(b, b"k", |key| StrOp::IncrBy { key, by: 1 }.into());
        key_op(b, b"k", |key| StrOp::Get { key }.into());
        key_op(b, b"k", |key| KeyOp::Del { key }.into());
        b.push(0, SrvOp::FlushAll.into());
    });
    let misconf = Reply::Err(Error::Misconf("No space left on device".into()));
    assert_eq!(b.replies[0], misconf);
    assert_eq!(bulk_of(&b, &b.replies[1]), b"v");
    assert_eq!(b.replies[2], misconf);
    assert_eq!(b.replies[3], misconf);
    assert_eq!(store.len(), 1);
}

/// RENAME, COPY, MOVE, PERSIST and the TTL ops on hashes and sets, side by
/// side with redis-server.
#[test]
fn key_ops_on_collections_answer_as_redis_does() {
    use super::redis_check::{redis, Pair};
    let Some(r) = redis("key_ops") else {
        return;
    };
    let mut p = Pair::new(r);
    p.script(
        r#"
        HSET h a 1 b 2
        PEXPIRE h 100000
        RENAME h h2
        EXISTS h
        HGETALL h2
        TTL h2
        SADD s 1 2
        RENAME s h2
        TYPE h2
        SMEMBERS h2
        TTL h2
        HSET x f v
        RENAMENX x h2
        RENAMENX x x
        RENAME x x
        RENAME nokey y
        COPY h2 c
        COPY h2 c
        COPY x c REPLACE
        HGETALL c
        OBJECT ENCODING c
        COPY x c DB 1
        SELECT 1
        HGETALL c
        TYPE c
        SELECT 0
        MOVE c 2
        MOVE h2 1
        SELECT 2
        HGETALL c
        SELECT 1
        SMEMBERS h2
        SELECT 0
        HSET t a 1 b %70
        HDEL t b
        OBJECT ENCODING t
        COPY t t2
        OBJECT ENCODING t2
        HGETALL t2
        SADD it 1 x
        SREM it x
        COPY it it2
        OBJECT ENCODING it2
        PEXPIRE it2 100000
        TTL it2
        PERSIST it2
        TTL it2
        PERSIST it2
        RENAME it2 t
        TYPE t
        OBJECT ENCODING t
        "#,
    );
}

#[test]
fn renames_and_copies_of_collections_log_their_records() {
    use super::redis_check::run_lines;
    let mut store = Store::default();
    let mut p = logging();
    run_lines(
        &mut store,
        &mut p,
        1_000,
        &[
            "HSET h a 1",
            "SADD d x",
            "PEXPIRE h 5000",
            "RENAME h d",
            "COPY d c",
            "MOVE c 3",
            "PERSIST d",
        ],
    );
    let text = log_text(&p);
    let expected = "*2\r\n$3\r\nDEL\r\n$1\r\nh\r\n\
                    *2\r\n$3\r\nDEL\r\n$1\r\nd\r\n\
                    *4\r\n$4\r\nHSET\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\n1\r\n\
                    *3\r\n$9\r\nPEXPIREAT\r\n$1\r\nd\r\n$4\r\n6000\r\n\
                    *4\r\n$4\r\nHSET\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\n1\r\n\
                    *3\r\n$9\r\nPEXPIREAT\r\n$1\r\nc\r\n$4\r\n6000\r\n\
                    *2\r\n$3\r\nDEL\r\n$1\r\nc\r\n\
                    *2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n\
                    *4\r\n$4\r\nHSET\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\n1\r\n\
                    *3\r\n$9\r\nPEXPIREAT\r\n$1\r\nc\r\n$4\r\n6000\r\n\
                    *2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n\
                    *2\r\n$7\r\nPERSIST\r\n$1\r\nd\r\n";
    assert!(text.ends_with(expected), "{text:?}");
}

/// The cross-shard RENAME/COPY/MOVE steps carry any type: `Read` answers
/// `[payload, expire_at]`, `Write` stores it (NX without `replace`).
#[test]
fn read_and_write_move_any_type_between_stores() {
    use super::redis_check::run_lines;
    let mut from = Store::default();
    let mut to = Store::default();
    let mut p = logging();
    run_lines(
        &mut from,
        &mut Persist::off(),
        0,
        &["HSET h a 1 b 2", "PEXPIRE h 9000", "SADD s 1 x", "SET k v"],
    );
    run_lines(&mut to, &mut Persist::off(), 0, &["SET taken v"]);
    for (src, dst, replace, want) in [
        (&b"h"[..], &b"h"[..], false, Reply::Int(1)),
        (b"s", b"taken", false, Reply::Int(0)),
        (b"s", b"taken", true, Reply::Int(1)),
        (b"k", b"k2", false, Reply::Int(1)),
    ] {
        let b = run(&mut from, &mut Persist::off(), 0, |b| {
            key_op(b, src, |key| KeyOp::Read { key, copy: false }.into())
        });
        let items: Vec<Item> = match &b.replies[0] {
            Reply::Tape(s) => TapeReader::new(b.payload(*s)).collect(),
            other => panic!("{other:?}"),
        };
        let [Item::Array(2), Item::Bulk(payload), Item::Int(at)] = items[..] else {
            panic!("{items:?}")
        };
        let w = run(&mut to, &mut p, 0, |b| {
            let (key, payload) = (b.args.push(dst), b.args.push(payload));
            b.push(
                0,
                KeyOp::Write {
                    key,
                    payload,
                    expire_at: at as u64,
                    replace,
                    event: "copy_to",
                }
                .into(),
            );
        });
        assert_eq!(w.replies[0], want, "{}", String::from_utf8_lossy(src));
    }
    assert_eq!(to.expire_at(0, b"h", 0), Some(9_000));
    let (_, r) = run_lines(
        &mut to,
        &mut Persist::off(),
        0,
        &["HGET h b", "SISMEMBER taken x", "GET k2"],
    );
    use super::redis_check::{bulk, int};
    assert_eq!(r, [bulk("2"), int(1), bulk("v")]);
    let text = log_text(&p);
    assert!(text.contains("$4\r\nHSET\r\n$1\r\nh\r\n"), "{text}");
    assert!(
        text.contains("*2\r\n$3\r\nDEL\r\n$5\r\ntaken\r\n*4\r\n$4\r\nSADD"),
        "{text}"
    );
    // A missing key reads as nil; a bad payload is refused.
    let b = run(&mut from, &mut Persist::off(), 0, |b| {
        key_op(b, b"nokey", |key| KeyOp::Read { key, copy: false }.into());
        let (key, payload) = (b.args.push(b"x"), b.args.push(b"junk"));
        b.push(
            0,
            KeyOp::Write {
                key,
                payload,
                expire_at: 0,
                replace: true,
                event: "copy_to",
            }
            .into(),
        );
    });
    assert_eq!(b.replies, [Reply::Nil, Reply::Err(Error::BadPayload)]);
}

// ------------------------------------------------------------ BITOP, BITFIELD

use super::string::{
    bit_op_fold, field_get, field_get_signed, field_set, pack_bitfield, BitOpKind, FieldAction,
    FieldOp, Overflow,
};
use crate::keyspace::{Lookup, StrEncoding};

fn bit_op(b: &mut Batch, op: BitOpKind, dest: &[u8], srcs: &[&[u8]]) {
    let dest = b.args.push(dest);
    let keys = b.args.list(srcs.iter().copied());
    b.push(0, StrOp::BitOp { op, dest, keys }.into());
}

/// A BITFIELD op on `key` with `ops`; `write` as the server decides it.
fn bit_field(b: &mut Batch, key: &[u8], ops: &[FieldOp]) {
    let mut packed = Vec::new();
    pack_bitfield(ops, &mut packed);
    let write = ops.iter().any(FieldOp::writes);
    let key = b.args.push(key);
    let ops = b.args.push(&packed);
    b.push(0, StrOp::BitField { key, ops, write }.into());
}

fn field(action: FieldAction, ty: &str, offset: u64, overflow: Overflow) -> FieldOp {
    FieldOp {
        action,
        signed: ty.starts_with('i'),
        bits: ty[1..].parse().unwrap(),
        offset,
        overflow,
    }
}

/// The integers and nils of a BITFIELD reply, after its array header.
fn ints(b: &Batch, r: &Reply) -> Vec<Option<i64>> {
    let Reply::Tape(s) = r else {
        panic!("not a tape: {r:?}")
    };
    let mut items = TapeReader::new(b.payload(*s));
    let Some(Item::Array(n)) = items.next() else {
        panic!("no array header")
    };
    let v: Vec<Option<i64>> = items
        .map(|i| match i {
            Item::Int(v) => Some(v),
            Item::Nil => None,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(v.len(), n as usize);
    v
}

#[test]
fn bitop_folds_sources_of_any_length() {
    let mut acc = Vec::new();
    for (i, s) in [&b"\xff\x0f\xf0"[..], b"\x3c", b""].iter().enumerate() {
        bit_op_fold(BitOpKind::Or, &mut acc, 0, i == 0, s);
    }
    assert_eq!(acc, b"\xff\x0f\xf0");
    acc.clear();
    for (i, s) in [&b"\x0f"[..], b"\xff\xff"].iter().enumerate() {
        bit_op_fold(BitOpKind::And, &mut acc, 0, i == 0, s);
    }
    // The result is as long as the longest source; AND past a shorter one is 0.
    assert_eq!(acc, b"\x0f\x00");
    acc.clear();
    for (i, s) in [&b"\xff\xff\xff"[..], b"\x0f"].iter().enumerate() {
        bit_op_fold(BitOpKind::And, &mut acc, 0, i == 0, s);
    }
    assert_eq!(acc, b"\x0f\x00\x00");
    acc = b"keep".to_vec();
    for (i, s) in [&b"\x01\x02"[..], b"\x03\x00\x05"].iter().enumerate() {
        bit_op_fold(BitOpKind::Xor, &mut acc, 4, i == 0, s);
    }
    assert_eq!(acc, b"keep\x02\x02\x05");
    acc.clear();
    bit_op_fold(BitOpKind::Not, &mut acc, 0, true, b"\x00\xf0");
    assert_eq!(acc, b"\xff\x0f");
}

#[test]
fn bitop_writes_a_fresh_raw_string_or_deletes_the_destination() {
    let mut store = Store::default();
    let mut p = logging();
    store.set(0, b"a", b"12", Expiry::Clear, 0).unwrap();
    store
        .set(0, b"b", b"\x01\x02\x03", Expiry::Clear, 0)
        .unwrap();
    store.set(0, b"d", b"old", Expiry::At(9_000), 0).unwrap();
    store
        .insert_object(0, b"h", Object::Test(b"x".to_vec()), 0)
        .unwrap();
    let b = run(&mut store, &mut p, 1_000, |b| {
        bit_op(b, BitOpKind::Or, b"d", &[b"a", b"nope", b"b"]);
        bit_op(b, BitOpKind::And, b"e", &[b"a", b"nope"]);
        bit_op(b, BitOpKind::Not, b"h", &[b"a"]);
        bit_op(b, BitOpKind::And, b"h", &[b"nope"]);
    });
    assert_eq!(
        b.replies,
        [Reply::Int(3), Reply::Int(2), Reply::Int(2), Reply::Int(0)]
    );
    assert_eq!(store.peek(0, b"d", 1_000), Some(&b"\x31\x32\x03"[..]));
    // The destination's TTL goes, as with any SET.
    assert_eq!(store.expire_at(0, b"d", 1_000), Some(0));
    let pos = store.lookup(0, b"d", 1_000, Lookup::PEEK).unwrap();
    assert_eq!(store.encoding_at(pos), StrEncoding::Raw);
    assert_eq!(store.peek(0, b"e", 1_000), Some(&b"\0\0"[..]));
    // A hash destination is replaced, then an empty result deletes it.
    assert_eq!(store.peek(0, b"h", 1_000), None);
    let text = log_text(&p);
    assert!(text.contains("$3\r\nSET\r\n$1\r\nd\r\n$3\r\n\x31\x32\x03\r\n"));
    assert!(text.contains("$3\r\nDEL\r\n$1\r\nh\r\n"));
    // Sources are read (counted) until the first of another type.
    store.reset_stats();
    store
        .insert_object(0, b"h", Object::Test(b"x".to_vec()), 0)
        .unwrap();
    let mut p = logging();
    let b = run(&mut store, &mut p, 1_000, |b| {
        bit_op(b, BitOpKind::Xor, b"d", &[b"a", b"nope", b"h", b"b", b"zz"]);
        bit_op(b, BitOpKind::And, b"nothing", &[b"nope"]);
    });
    assert_eq!(b.replies, [Reply::Err(Error::WrongType), Reply::Int(0)]);
    assert_eq!((store.stats().hits, store.stats().misses), (2, 2));
    assert_eq!(store.peek(0, b"d", 1_000), Some(&b"\x31\x32\x03"[..]));
    // Nothing changed, nothing logged.
    assert_eq!(log_text(&p), "");
}

#[test]
fn bitop_store_sets_or_deletes() {
    let mut store = Store::default();
    let mut p = logging();
    store.set(0, b"d", b"x", Expiry::At(5_000), 0).unwrap();
    let b = run(&mut store, &mut p, 0, |b| {
        let dest = b.args.push(b"d");
        let value = b.args.push(b"abc");
        b.push(0, StrOp::BitOpStore { dest, value }.into());
        let dest = b.args.push(b"e");
        let value = b.args.push(b"");
        b.push(0, StrOp::BitOpStore { dest, value }.into());
        let dest = b.args.push(b"d");
        b.push(0, StrOp::BitOpStore { dest, value }.into());
    });
    assert_eq!(b.replies, [Reply::Int(3), Reply::Int(0), Reply::Int(0)]);
    assert_eq!(store.peek(0, b"d", 0), None);
    let text = log_text(&p);
    assert!(text.contains("$1\r\nd\r\n$3\r\nabc\r\n") && !text.contains("PXAT"));
    // `e` never existed: no DEL for it.
    assert_eq!(text.matches("DEL\r\n").count(), 1);
}

/// Redis's bit-at-a-time `getUnsignedBitfield` over a zero-padded string.
fn slow_get(v: &[u8], offset: u64, bits: u8) -> u64 {
    (0..bits as u64).fold(0, |acc, j| {
        let at = offset + j;
        let byte = v.get((at >> 3) as usize).copied().unwrap_or(0);
        (acc << 1) | ((byte >> (7 - (at & 7))) & 1) as u64
    })
}

#[test]
fn fields_read_and_write_across_byte_boundaries() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut v = vec![0u8; 24];
    for b in v.iter_mut() {
        *b = next() as u8;
    }
    for _ in 0..20_000 {
        let bits = (next() % 64 + 1) as u8;
        let offset = next() % (24 * 8 - bits as u64 + 1);
        let value = next();
        // Reading past the end pads with zeros.
        let far = next() % 256;
        assert_eq!(field_get(&v, far, bits), slow_get(&v, far, bits));
        let before = v.clone();
        field_set(&mut v, offset, bits, value);
        let mask = if bits == 64 {
            u64::MAX
        } else {
            (1 << bits) - 1
        };
        assert_eq!(field_get(&v, offset, bits), value & mask);
        assert_eq!(slow_get(&v, offset, bits), value & mask);
        // Bits outside the field are untouched.
        for bit in (0..offset).chain(offset + bits as u64..24 * 8) {
            assert_eq!(slow_get(&v, bit, 1), slow_get(&before, bit, 1), "bit {bit}");
        }
        let signed = field_get_signed(&v, offset, bits);
        let top = (value >> (bits - 1)) & 1 == 1;
        assert_eq!(signed < 0, top);
        assert_eq!(signed as u64 & mask, value & mask);
    }
    // A field that does not fit is not written (no panic).
    let mut short = vec![0u8; 1];
    field_set(&mut short, 4, 8, 0xff);
    assert_eq!(short, [0]);
}

#[test]
fn bitfield_incrby_matches_exact_arithmetic() {
    // For a field holding an in-range value, Redis's overflow checks agree
    // with exact arithmetic: check every policy at every width's edges.
    let mut store = Store::default();
    let mut cases = Vec::new();
    for signed in [true, false] {
        let widths: Vec<u8> = if signed {
            (1..=64).collect()
        } else {
            (1..=63).collect()
        };
        for bits in widths {
            let (min, max): (i128, i128) = if signed {
                (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
            } else {
                (0, (1i128 << bits) - 1)
            };
            let olds = [min, min + 1, -1, 0, 1, max - 1, max];
            let incrs = [
                i64::MIN as i128,
                -(max + 1).min(i64::MAX as i128),
                -2,
                -1,
                0,
                1,
                2,
                max.min(i64::MAX as i128),
                i64::MAX as i128,
            ];
            for old in olds.into_iter().filter(|o| (min..=max).contains(o)) {
                for incr in incrs {
                    for ow in [Overflow::Wrap, Overflow::Sat, Overflow::Fail] {
                        cases.push((signed, bits, old, incr, ow));
                    }
                }
            }
        }
    }
    for (signed, bits, old, incr, ow) in cases {
        let ty = format!("{}{bits}", if signed { 'i' } else { 'u' });
        let b = run(&mut store, &mut Persist::off(), 0, |b| {
            bit_field(
                b,
                b"f",
                &[
                    field(FieldAction::Set(old as i64), &ty, 3, Overflow::Wrap),
                    field(FieldAction::IncrBy(incr as i64), &ty, 3, ow),
                    field(FieldAction::Get, &ty, 3, ow),
                ],
            );
        });
        let got = ints(&b, &b.replies[0]);
        let (min, max): (i128, i128) = if signed {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        };
        let sum = old + incr;
        let span = max - min + 1;
        let want = if (min..=max).contains(&sum) {
            Some(sum)
        } else {
            match ow {
                Overflow::Wrap => Some((sum - min).rem_euclid(span) + min),
                Overflow::Sat => Some(sum.clamp(min, max)),
                Overflow::Fail => None,
            }
        };
        let after = want.unwrap_or(old);
        assert_eq!(
            got,
            [got[0], want.map(|w| w as i64), Some(after as i64)],
            "{ty} old {old} incr {incr} {ow:?}"
        );
    }
}

#[test]
fn bitfield_set_keeps_redis_overflow_quirks() {
    let mut store = Store::default();
    let b = run(&mut store, &mut Persist::off(), 0, |b| {
        let f = |a, ty, ow| field(a, ty, 0, ow);
        use FieldAction::*;
        use Overflow::*;
        bit_field(
            b,
            b"q",
            &[
                // Far below i8's range, Redis's check sees an overflow upwards.
                f(Set(i64::MIN), "i8", Sat),
                f(Get, "i8", Sat),
                f(Set(-129), "i8", Sat),
                f(Get, "i8", Sat),
                f(Set(300), "i8", Wrap),
                f(Get, "i8", Wrap),
                // A negative SET on an unsigned field is a huge value.
                f(Set(-1), "u8", Sat),
                f(Get, "u8", Sat),
                f(Set(-2), "u8", Wrap),
                f(Get, "u8", Wrap),
                f(Set(-1), "u8", Fail),
                f(Set(-1), "i64", Fail),
                f(Get, "i64", Fail),
                f(Set(i64::MAX), "u63", Wrap),
                f(Get, "u63", Wrap),
                f(Set(1), "i1", Sat),
                f(Get, "i1", Sat),
                f(Set(1), "u1", Fail),
                f(Get, "u1", Fail),
            ],
        );
    });
    assert_eq!(
        ints(&b, &b.replies[0]),
        [
            Some(0),
            Some(127),
            Some(127),
            Some(-128),
            Some(-128),
            Some(44),
            Some(44),
            Some(255),
            Some(255),
            Some(254),
            None,
            Some(-(1 << 57)),
            Some(-1),
            Some(i64::MAX),
            Some(i64::MAX),
            Some(-1),
            Some(0),
            Some(0),
            Some(1),
        ]
    );
}

#[test]
fn bitfield_reads_writes_grows_and_logs() {
    let mut store = Store::default();
    let mut p = logging();
    store.set(0, b"t", b"ab", Expiry::At(9_000), 0).unwrap();
    store
        .insert_object(0, b"h", Object::Test(b"x".to_vec()), 0)
        .unwrap();
    use FieldAction::*;
    use Overflow::*;
    let b = run(&mut store, &mut p, 1_000, |b| {
        // Only GETs on an absent key: zeros, and no key.
        bit_field(
            b,
            b"none",
            &[field(Get, "u8", 0, Wrap), field(Get, "i64", 7, Wrap)],
        );
        bit_field(b, b"none", &[]);
        // A failed write still creates the key as far as it reaches.
        bit_field(b, b"f", &[field(IncrBy(10), "u2", 14, Fail)]);
        // Later ops see earlier ones; GET past the end reads zeros.
        bit_field(
            b,
            b"t",
            &[
                field(Set(0x7a), "u8", 8, Wrap),
                field(Get, "u16", 0, Wrap),
                field(IncrBy(1), "u8", 16, Wrap),
                field(Get, "u8", 40, Wrap),
            ],
        );
        bit_field(b, b"h", &[field(Get, "u8", 0, Wrap)]);
        bit_field(b, b"h", &[field(Set(1), "u8", 0, Wrap)]);
        bit_field(b, b"h", &[]);
    });
    let r = &b.replies;
    assert_eq!(ints(&b, &r[0]), [Some(0), Some(0)]);
    assert_eq!(ints(&b, &r[1]), []);
    assert_eq!(store.peek(0, b"none", 1_000), None);
    assert_eq!(ints(&b, &r[2]), [None]);
    assert_eq!(store.peek(0, b"f", 1_000), Some(&b"\0\0"[..]));
    assert_eq!(
        ints(&b, &r[3]),
        [Some(0x62), Some(0x617a), Some(1), Some(0)]
    );
    assert_eq!(store.peek(0, b"t", 1_000), Some(&b"az\x01"[..]));
    assert_eq!(store.expire_at(0, b"t", 1_000), Some(9_000));
    assert!(r[4..].iter().all(|r| *r == Reply::Err(Error::WrongType)));
    let text = log_text(&p);
    assert!(text.contains("$1\r\nf\r\n$2\r\n\0\0\r\n"));
    assert!(text.contains("$1\r\nt\r\n$3\r\naz\x01\r\n$4\r\nPXAT\r\n$4\r\n9000\r\n"));
    assert_eq!(text.matches("SET\r\n").count(), 2);
    // A write that changes nothing in a raw value is no change at all.
    let mut p = logging();
    let b = run(&mut store, &mut p, 1_000, |b| {
        bit_field(b, b"t", &[field(Set(0x61), "u8", 0, Wrap)]);
        bit_field(b, b"t", &[field(IncrBy(1000), "u8", 0, Fail)]);
    });
    assert_eq!(ints(&b, &b.replies[0]), [Some(0x61)]);
    assert_eq!(ints(&b, &b.replies[1]), [None]);
    assert_eq!(log_text(&p), "");
    // An `int` string becomes `raw` even so, as Redis unshares it.
    store.set(0, b"n", b"12", Expiry::Clear, 0).unwrap();
    let b = run(&mut store, &mut Persist::off(), 1_000, |b| {
        bit_field(b, b"n", &[field(Get, "u8", 0, Wrap)]);
        bit_field(b, b"n", &[field(Set(0x31), "u8", 0, Wrap)]);
    });
    assert_eq!(ints(&b, &b.replies[0]), [Some(0x31)]);
    let pos = store.lookup(0, b"n", 1_000, Lookup::PEEK).unwrap();
    assert_eq!(store.encoding_at(pos), StrEncoding::Raw);
    assert_eq!(store.peek(0, b"n", 1_000), Some(&b"12"[..]));
}

#[test]
fn bitfield_get_is_not_a_write() {
    let mut p = logging();
    p.log.refuse_writes = Some("disk full".into());
    let b = run(&mut Store::default(), &mut p, 0, |b| {
        bit_field(b, b"k", &[field(FieldAction::Get, "u8", 0, Overflow::Wrap)]);
        bit_field(
            b,
            b"k",
            &[field(FieldAction::Set(1), "u8", 0, Overflow::Wrap)],
        );
    });
    assert_eq!(ints(&b, &b.replies[0]), [Some(0)]);
    assert!(matches!(b.replies[1], Reply::Err(Error::Misconf(_))));
}
