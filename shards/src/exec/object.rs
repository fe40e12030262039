//! Key introspection and MOVE: OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ,
//! MEMORY USAGE, MOVE.
//!
//! MOVE re-files the entry under another database of the same shard (the
//! routing hash ignores the database) and logs the result as two absolute
//! records, `SELECT src` `DEL key` then `SELECT dst` `SET key value [PXAT
//! ms]`, which a replay and a Redis importing the segment apply alike.

use super::bulk;
use crate::aof::Log;
use crate::batch::{errors, object_field, Batch, Op, Reply};
use crate::exec::string::parse_i64;
use crate::store::{Store, StrEncoding};
use crate::NUM_DBS;

/// Redis's `OBJ_SHARED_REFCOUNT` (`INT_MAX`): what REFCOUNT says of a shared integer.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Redis's `OBJ_SHARED_INTEGERS`: values 0..10000 may be shared objects.
const SHARED_INTEGERS: i64 = 10_000;

/// Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`.
const EMBSTR_MAX: usize = 44;

/// Redis's encoding name for `value` written the way `enc` says; integers are
/// tried up to 20 characters, as `tryObjectEncoding` does.
fn encoding_name(enc: StrEncoding, value: &[u8]) -> &'static str {
    match enc {
        StrEncoding::Raw => "raw",
        StrEncoding::Auto if is_int(value) => "int",
        _ if value.len() <= EMBSTR_MAX => "embstr",
        _ => "raw",
    }
}

fn is_int(value: &[u8]) -> bool {
    value.len() <= 20 && parse_i64(value).is_some()
}

/// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key: a read look-up that counts a
/// hit or miss but neither touches the key nor refreshes its access time.
///
/// ENCODING and REFCOUNT follow from the value and how it was last written
/// (`StrEncoding`). Where Redis's answer depends on more history than that,
/// this one may differ: a small integer written while maxmemory was set under
/// an LRU policy stays unshared (REFCOUNT 1) in Redis after the limit is
/// lifted, whereas here the policy in force at the query decides; and after
/// a restart every value reads as Redis reports it after loading the same AOF
/// (whole `SET` records: `int`/`embstr`/`raw` by content).
pub fn object(store: &mut Store, batch: &mut Batch, op: &Op, now_ms: u64) -> Reply {
    let Some((value, enc, idle)) = store.object_info(op.db as usize, batch.arg(op, 0), now_ms)
    else {
        return Reply::Nil;
    };
    match op.flags & !object_field::SHARED_INTEGERS {
        object_field::ENCODING => {
            let name = encoding_name(enc, value);
            bulk(&mut batch.out, name.as_bytes())
        }
        object_field::REFCOUNT => {
            let shared = op.flags & object_field::SHARED_INTEGERS != 0
                && encoding_name(enc, value) == "int"
                && parse_i64(value).is_some_and(|n| (0..SHARED_INTEGERS).contains(&n));
            Reply::Int(if shared { SHARED_REFCOUNT } else { 1 })
        }
        object_field::IDLETIME => Reply::Int(idle as i64),
        // No LFU policy exists here, so access frequency is never tracked.
        _ => Reply::Err(errors::NO_LFU),
    }
}

/// MEMORY USAGE key: the bytes the entry accounts for in `used_memory`.
pub fn memory_usage(store: &Store, batch: &Batch, op: &Op) -> Reply {
    match store.entry_usage(op.db as usize, batch.arg(op, 0)) {
        Some(n) => Reply::Int(n as i64),
        None => Reply::Nil,
    }
}

/// MOVE key db (`op.num`; the worker checked it differs and is in range).
pub fn move_key(store: &mut Store, batch: &Batch, op: &Op, now_ms: u64, log: &mut Log) -> Reply {
    let key = batch.arg(op, 0);
    if op.num >= NUM_DBS as u64 {
        return Reply::Int(0);
    }
    let dst = op.num as u8;
    match store.move_key(op.db as usize, dst as usize, key, now_ms) {
        Some((value, expire_at)) => {
            log.del(op.db, key);
            log.set(dst, key, value, expire_at);
            Reply::Int(1)
        }
        None => Reply::Int(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::OpCode;
    use crate::exec::{execute, Persist};
    use crate::Expiry;

    fn op(b: &mut Batch, code: OpCode, db: u8, args: &[&[u8]], flags: u8, num: u64) {
        let arg = b.args.len() as u32;
        for a in args {
            b.push_arg(a);
        }
        b.push_op(Op {
            code,
            db,
            flags,
            arg,
            nargs: args.len() as u32,
            num,
            aux: 0,
        });
    }

    fn bulk_text(b: &Batch, r: &Reply) -> String {
        match *r {
            Reply::Bulk { start, len } => String::from_utf8_lossy(b.bulk(start, len)).into_owned(),
            ref other => format!("{other:?}"),
        }
    }

    #[test]
    fn encodings_follow_how_values_were_written() {
        let mut store = Store::default();
        let mut b = Batch::new(0, 0);
        let long = [b'x'; 45];
        op(&mut b, OpCode::Set, 0, &[b"int", b"-12"], 0, 0);
        op(&mut b, OpCode::Set, 0, &[b"emb", b"012"], 0, 0);
        op(&mut b, OpCode::Set, 0, &[b"raw", &long], 0, 0);
        op(&mut b, OpCode::Append, 0, &[b"app", b"1"], 0, 0);
        op(&mut b, OpCode::Set, 0, &[b"app2", b"1"], 0, 0);
        op(&mut b, OpCode::Append, 0, &[b"app2", b"2"], 0, 0);
        op(&mut b, OpCode::IncrByFloat, 0, &[b"flt", b"3"], 0, 0);
        op(&mut b, OpCode::SetBit, 0, &[b"bit"], 0, 0);
        op(&mut b, OpCode::SetRange, 0, &[b"sr", b"x"], 0, 0);
        let keys: [&[u8]; 8] = [
            b"int", b"emb", b"raw", b"app", b"app2", b"flt", b"bit", b"sr",
        ];
        for k in keys {
            op(&mut b, OpCode::Object, 0, &[k], object_field::ENCODING, 0);
        }
        op(
            &mut b,
            OpCode::Object,
            0,
            &[b"none"],
            object_field::ENCODING,
            0,
        );
        execute(&mut store, &mut b, 0, &mut Persist::off());
        let names: Vec<String> = b.replies[9..17].iter().map(|r| bulk_text(&b, r)).collect();
        assert_eq!(
            names,
            ["int", "embstr", "raw", "int", "raw", "embstr", "raw", "raw"]
        );
        assert_eq!(b.replies[17], Reply::Nil);
        // A later whole write starts over.
        let mut b = Batch::new(0, 0);
        op(&mut b, OpCode::Set, 0, &[b"app2", b"12"], 0, 0);
        op(
            &mut b,
            OpCode::Object,
            0,
            &[b"app2"],
            object_field::ENCODING,
            0,
        );
        execute(&mut store, &mut b, 0, &mut Persist::off());
        assert_eq!(bulk_text(&b, &b.replies[1]), "int");
    }

    #[test]
    fn refcount_idletime_freq_and_stats() {
        let mut store = Store::default();
        for (k, v) in [
            ("small", "9999"),
            ("big", "10000"),
            ("neg", "-1"),
            ("s", "abc"),
        ] {
            store
                .set(0, k.as_bytes(), v.as_bytes(), Expiry::Clear, 0)
                .unwrap();
        }
        let shared = object_field::REFCOUNT | object_field::SHARED_INTEGERS;
        let mut b = Batch::new(0, 0);
        op(&mut b, OpCode::Object, 0, &[b"small"], shared, 0);
        op(
            &mut b,
            OpCode::Object,
            0,
            &[b"small"],
            object_field::REFCOUNT,
            0,
        );
        op(&mut b, OpCode::Object, 0, &[b"big"], shared, 0);
        op(&mut b, OpCode::Object, 0, &[b"neg"], shared, 0);
        op(&mut b, OpCode::Object, 0, &[b"s"], shared, 0);
        op(
            &mut b,
            OpCode::Object,
            0,
            &[b"s"],
            object_field::IDLETIME,
            0,
        );
        op(&mut b, OpCode::Object, 0, &[b"s"], object_field::FREQ, 0);
        op(&mut b, OpCode::Object, 0, &[b"none"], object_field::FREQ, 0);
        let before = store.lru_order();
        execute(&mut store, &mut b, 0, &mut Persist::off());
        assert_eq!(
            b.replies,
            [
                Reply::Int(i32::MAX as i64),
                Reply::Int(1),
                Reply::Int(1),
                Reply::Int(1),
                Reply::Int(1),
                Reply::Int(0),
                Reply::Err(errors::NO_LFU),
                Reply::Nil,
            ]
        );
        assert_eq!(store.lru_order(), before, "OBJECT does not touch keys");
        assert_eq!((store.stats().hits, store.stats().misses), (7, 1));
    }

    #[test]
    fn memory_usage_is_the_entry_share_of_used_memory() {
        let mut store = Store::default();
        let empty = store.used_memory();
        store.set(0, b"k", &[7u8; 1000], Expiry::Clear, 0).unwrap();
        let mut b = Batch::new(0, 0);
        op(&mut b, OpCode::MemoryUsage, 0, &[b"k"], 0, 0);
        op(&mut b, OpCode::MemoryUsage, 0, &[b"none"], 0, 0);
        execute(&mut store, &mut b, 0, &mut Persist::off());
        let Reply::Int(n) = b.replies[0] else {
            panic!("{:?}", b.replies[0]);
        };
        assert!(n as usize >= 1001 && n as usize <= store.used_memory() - empty + 16);
        assert_eq!(b.replies[1], Reply::Nil);
        assert_eq!((store.stats().hits, store.stats().misses), (0, 0));
    }

    #[test]
    fn move_keeps_value_ttl_and_encoding_and_logs_del_then_set() {
        let mut store = Store::default();
        let mut p = Persist {
            log: Log::new(true),
            aof: None,
        };
        store.set(0, b"k", b"v", Expiry::At(9_000), 0).unwrap();
        store.set(2, b"taken", b"x", Expiry::Clear, 0).unwrap();
        store.set(0, b"taken", b"y", Expiry::Clear, 0).unwrap();
        store.set(3, b"stale", b"old", Expiry::At(500), 0).unwrap();
        store.set(0, b"stale", b"new", Expiry::Clear, 0).unwrap();
        let mut b = Batch::new(0, 0);
        op(&mut b, OpCode::SetBit, 0, &[b"k"], 1, 0);
        op(&mut b, OpCode::Move, 0, &[b"k"], 0, 2);
        op(&mut b, OpCode::Move, 0, &[b"k"], 0, 2);
        op(&mut b, OpCode::Move, 0, &[b"taken"], 0, 2);
        op(&mut b, OpCode::Move, 0, &[b"stale"], 0, 3);
        op(&mut b, OpCode::Move, 0, &[b"none"], 0, 1);
        op(
            &mut b,
            OpCode::Object,
            2,
            &[b"k"],
            object_field::ENCODING,
            0,
        );
        execute(&mut store, &mut b, 1_000, &mut p);
        assert_eq!(b.replies[1..6], [1, 0, 0, 1, 0].map(Reply::Int));
        assert_eq!(bulk_text(&b, &b.replies[6]), "raw");
        assert_eq!(store.peek(2, b"k", 1_000), Some(&b"\xf6"[..]));
        assert_eq!(store.expire_at(2, b"k", 1_000), Some(9_000));
        assert_eq!(store.peek(0, b"k", 1_000), None);
        assert_eq!(
            (store.db_len(0), store.db_len(2), store.db_len(3)),
            (1, 2, 1)
        );
        assert_eq!((store.db_expires(0), store.db_expires(2)), (0, 1));
        assert_eq!(store.peek(3, b"stale", 1_000), Some(&b"new"[..]));
        let text = String::from_utf8_lossy(p.log.pending_bytes()).into_owned();
        assert!(text.contains(
            "*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n\
             *5\r\n$3\r\nSET\r\n$1\r\nk\r\n"
        ));
        assert!(text.contains("$6\r\nSELECT\r\n$1\r\n3\r\n*3\r\n$3\r\nSET\r\n$5\r\nstale\r\n"));
        assert!(OpCode::Move.is_write());
        assert!(!OpCode::Object.is_write() && !OpCode::MemoryUsage.is_write());
    }
}
