//! Hash commands (Redis 7.0's `t_hash.c`): every command is one op on the
//! key's shard; arguments are checked here first, in Redis's order.

use super::spec::{flags::*, ks, Begin, Command, Find};
use super::{parse_int, Ctx};
use crate::exchange::{Completion, Finish, Merge};
use crate::resp::encode;
use crate::resp::Args;
use shards::ops::hash::HashOp;
use shards::ops::keys::KeyOp;
use shards::{Arg, Kind, Op, Reply};

/// One op on the key (argument 1), answered as it is.
fn key_op(ctx: &mut Ctx, build: impl FnOnce(&mut shards::batch::Args, Arg) -> Op) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router.key_op(ctx.session.db, ctx.args.get(1), build);
}

/// HSET / HMSET key field value [field value ...]
fn hset(ctx: &mut Ctx) {
    hset_in(ctx, false);
}

fn hmset(ctx: &mut Ctx) {
    hset_in(ctx, true);
}

fn hset_in(ctx: &mut Ctx, ok: bool) {
    if ctx.args.len() % 2 == 1 {
        return ctx.arity_error(ctx.cmd.name);
    }
    let args = ctx.args;
    key_op(ctx, |a, key| {
        HashOp::Set {
            key,
            pairs: a.list(args.iter_from(2)),
            ok,
        }
        .into()
    });
}

fn hsetnx(ctx: &mut Ctx) {
    let (field, value) = (ctx.args.get(2), ctx.args.get(3));
    key_op(ctx, |a, key| {
        HashOp::SetNx {
            key,
            field: a.push(field),
            value: a.push(value),
        }
        .into()
    });
}

fn hget(ctx: &mut Ctx) {
    let field = ctx.args.get(2);
    key_op(ctx, |a, key| {
        HashOp::Get {
            key,
            field: a.push(field),
        }
        .into()
    });
}

fn hmget(ctx: &mut Ctx) {
    let args = ctx.args;
    key_op(ctx, |a, key| {
        HashOp::MGet {
            key,
            fields: a.list(args.iter_from(2)),
        }
        .into()
    });
}

fn hgetall(ctx: &mut Ctx) {
    key_op(ctx, |_, key| HashOp::GetAll { key }.into());
}

fn hkeys(ctx: &mut Ctx) {
    key_op(ctx, |_, key| HashOp::Keys { key }.into());
}

fn hvals(ctx: &mut Ctx) {
    key_op(ctx, |_, key| HashOp::Vals { key }.into());
}

fn hlen(ctx: &mut Ctx) {
    key_op(ctx, |_, key| HashOp::Len { key }.into());
}

fn hstrlen(ctx: &mut Ctx) {
    let field = ctx.args.get(2);
    key_op(ctx, |a, key| {
        HashOp::StrLen {
            key,
            field: a.push(field),
        }
        .into()
    });
}

fn hexists(ctx: &mut Ctx) {
    let field = ctx.args.get(2);
    key_op(ctx, |a, key| {
        HashOp::Exists {
            key,
            field: a.push(field),
        }
        .into()
    });
}

fn hdel(ctx: &mut Ctx) {
    let args = ctx.args;
    key_op(ctx, |a, key| {
        HashOp::Del {
            key,
            fields: a.list(args.iter_from(2)),
        }
        .into()
    });
}

/// HINCRBY key field increment: the increment is checked before the key
/// is looked up, as Redis does.
fn hincrby(ctx: &mut Ctx) {
    let Some(by) = parse_int(ctx.args.get(3)) else {
        return ctx.not_integer();
    };
    let field = ctx.args.get(2);
    key_op(ctx, |a, key| {
        HashOp::IncrBy {
            key,
            field: a.push(field),
            by,
        }
        .into()
    });
}

/// HINCRBYFLOAT key field increment: the shard parses the increment (with
/// INCRBYFLOAT's `long double` rules) before its look-up.
fn hincrbyfloat(ctx: &mut Ctx) {
    let (field, by) = (ctx.args.get(2), ctx.args.get(3));
    key_op(ctx, |a, key| {
        HashOp::IncrByFloat {
            key,
            field: a.push(field),
            by: a.push(by),
        }
        .into()
    });
}

/// Redis's `getRangeLongFromObjectOrReply(c, o, -LONG_MAX, LONG_MAX, ...)`:
/// the count of HRANDFIELD and SRANDMEMBER.
pub(super) fn parse_count(ctx: &mut Ctx, arg: &[u8]) -> Option<i64> {
    match parse_int(arg) {
        None => {
            ctx.not_integer();
            None
        }
        Some(i64::MIN) => {
            ctx.error(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            );
            None
        }
        Some(n) => Some(n),
    }
}

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx) {
    let n = ctx.args.len();
    if n == 2 {
        return key_op(ctx, |_, key| HashOp::RandField { key }.into());
    }
    let Some(count) = parse_count(ctx, ctx.args.get(2)) else {
        return;
    };
    if n > 4 || (n == 4 && !ctx.args.get(3).eq_ignore_ascii_case(b"withvalues")) {
        return ctx.syntax_error();
    }
    let with_values = n == 4;
    // Redis's bound: a count and its values must fit in a reply length.
    const HALF: i64 = i64::MAX / 2;
    if with_values && !(-HALF..=HALF).contains(&count) {
        return ctx.error("ERR value is out of range");
    }
    let resp3 = ctx.resp3();
    key_op(ctx, |_, key| {
        HashOp::RandFields {
            key,
            count,
            with_values,
            resp3,
        }
        .into()
    });
}

/// A `*SCAN` option error. Redis reports it only after its look-up: a
/// missing key answers an empty scan, one of another type WRONGTYPE.
#[derive(Clone, Copy)]
pub(super) enum ScanError {
    Syntax = 1,
    NotInteger = 2,
}

/// `[MATCH pattern] [COUNT count]` of HSCAN, SSCAN and ZSCAN, from argument
/// 3: COUNT (10 by default, at least 1) and the pattern (none for `*`).
pub(super) fn scan_options(args: &Args) -> Result<(usize, Option<&[u8]>), ScanError> {
    let (mut count, mut pattern) = (10usize, None);
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        let has_value = args.len() - i >= 2;
        if has_value && opt.eq_ignore_ascii_case(b"count") {
            match parse_int(args.get(i + 1)) {
                None => return Err(ScanError::NotInteger),
                Some(c) if c < 1 => return Err(ScanError::Syntax),
                Some(c) => count = c as usize,
            }
        } else if has_value && opt.eq_ignore_ascii_case(b"match") {
            let p = args.get(i + 1);
            pattern = (p != b"*").then_some(p);
        } else {
            return Err(ScanError::Syntax);
        }
        i += 2;
    }
    Ok((count, pattern))
}

/// Answers a `*SCAN` option error as Redis does, after the key's look-up
/// (`expected` is the command's type).
pub(super) fn scan_refused(ctx: &mut Ctx, e: ScanError, expected: Kind) {
    let arg = e as u64 | (kind_code(expected) << 8);
    ctx.router.begin(
        ctx.conn,
        Merge::Call(Completion {
            run: scan_refused_done,
            arg,
        }),
    );
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |_, key| {
            KeyOp::Type { key }.into()
        });
}

fn kind_code(k: Kind) -> u64 {
    match k {
        Kind::String => 0,
        Kind::Hash => 1,
        Kind::Set => 2,
        Kind::List => 3,
        Kind::ZSet => 4,
        Kind::Stream => 5,
    }
}

fn scan_refused_done(f: &mut Finish) {
    let expected = [
        Kind::String,
        Kind::Hash,
        Kind::Set,
        Kind::List,
        Kind::ZSet,
        Kind::Stream,
    ][((f.arg >> 8) as usize).min(5)]
    .name();
    match f.subs.get(0).1 {
        Reply::Status(t) if *t == "none" => {
            encode::array(f.out, 2);
            encode::bulk(f.out, b"0");
            encode::array(f.out, 0);
        }
        Reply::Status(t) if *t != expected => {
            encode::error(f.out, &crate::errors::text(&shards::Error::WrongType))
        }
        Reply::Err(e) => encode::error(f.out, &crate::errors::text(e)),
        _ if f.arg & 0xff == ScanError::NotInteger as u64 => {
            encode::error(f.out, "ERR value is not an integer or out of range")
        }
        _ => encode::error(f.out, "ERR syntax error"),
    }
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
fn hscan(ctx: &mut Ctx) {
    let Some(cursor) = super::keys::parse_cursor(ctx.args.get(2)) else {
        return ctx.error("ERR invalid cursor");
    };
    let (count, pattern) = match scan_options(ctx.args) {
        Ok(o) => o,
        Err(e) => return scan_refused(ctx, e, Kind::Hash),
    };
    key_op(ctx, |a, key| {
        HashOp::Scan {
            key,
            cursor,
            count,
            pattern: pattern.map(|p| a.push(p)),
        }
        .into()
    });
}

/// The hash commands.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("hset", -4, hset)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "hash", "fast"])
        .doc("hash", "2.0.0", "Set the string value of a hash field", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs."),
    Command::new("hsetnx", 4, hsetnx)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "insert"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "hash", "fast"])
        .doc("hash", "2.0.0", "Set the value of a hash field, only if the field does not exist", "O(1)"),
    Command::new("hmset", -4, hmset)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "hash", "fast"])
        .doc("hash", "2.0.0", "Set multiple hash fields to multiple values", "O(N) where N is the number of fields being set.")
        .doc_flags(&["deprecated"])
        .deprecated("4.0.0", "`HSET` with multiple field-value pairs"),
    Command::new("hget", 3, hget)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "hash", "fast"])
        .doc("hash", "2.0.0", "Get the value of a hash field", "O(1)"),
    Command::new("hmget", -3, hmget)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "hash", "fast"])
        .doc("hash", "2.0.0", "Get the values of all the given hash fields", "O(N) where N is the number of fields being requested."),
    Command::new("hgetall", 2, hgetall)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "hash", "slow"])
        .tips(&["nondeterministic_output_order"])
        .doc("hash", "2.0.0", "Get all the fields and values in a hash", "O(N) where N is the size of the hash."),
    Command::new("hkeys", 2, hkeys)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "hash", "slow"])
        .tips(&["nondeterministic_output_order"])
        .doc("hash", "2.0.0", "Get all the fields in a hash", "O(N) where N is the size of the hash."),
    Command::new("hvals", 2, hvals)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "hash", "slow"])
        .tips(&["nondeterministic_output_order"])
        .doc("hash", "2.0.0", "Get all the values in a hash", "O(N) where N is the size of the hash."),
    Command::new("hlen", 2, hlen)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "hash", "fast"])
        .doc("hash", "2.0.0", "Get the number of fields in a hash", "O(1)"),
    Command::new("hstrlen", 3, hstrlen)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "hash", "fast"])
        .doc("hash", "3.2.0", "Get the length of the value of a hash field", "O(1)"),
    Command::new("hexists", 3, hexists)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "hash", "fast"])
        .doc("hash", "2.0.0", "Determine if a hash field exists", "O(1)"),
    Command::new("hdel", -3, hdel)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "hash", "fast"])
        .doc("hash", "2.0.0", "Delete one or more hash fields", "O(N) where N is the number of fields to be removed."),
    Command::new("hincrby", 4, hincrby)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "hash", "fast"])
        .doc("hash", "2.0.0", "Increment the integer value of a hash field by the given number", "O(1)"),
    Command::new("hincrbyfloat", 4, hincrbyfloat)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "hash", "fast"])
        .doc("hash", "2.6.0", "Increment the float value of a hash field by the given amount", "O(1)"),
    Command::new("hrandfield", -2, hrandfield)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "hash", "slow"])
        .tips(&["nondeterministic_output"])
        .doc("hash", "6.2.0", "Get one or multiple random fields from a hash", "O(N) where N is the number of fields returned"),
    Command::new("hscan", -3, hscan)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "hash", "slow"])
        .tips(&["nondeterministic_output"])
        .doc("hash", "2.8.0", "Incrementally iterate hash fields and associated values", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
];
