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
            key_op(b, src, |key| KeyOp::Read { key }.into())
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
        key_op(b, b"nokey", |key| KeyOp::Read { key }.into());
        let (key, payload) = (b.args.push(b"x"), b.args.push(b"junk"));
        b.push(
            0,
            KeyOp::Write {
                key,
                payload,
                expire_at: 0,
                replace: true,
            }
            .into(),
        );
    });
    assert_eq!(b.replies, [Reply::Nil, Reply::Err(Error::BadPayload)]);
}
