//! String commands: GET, SET, MGET, MSET, INCR/DECR/INCRBY/DECRBY,
//! INCRBYFLOAT, APPEND,
//! STRLEN, GETSET, GETDEL, SETNX, SETEX, PSETEX, GETRANGE/SUBSTR, SETRANGE.

use super::{parse_int, Ctx};
use crate::resp::encode;
use crate::router::Merge;
use shards::batch::{rename_flags, set_flags};
use shards::{Op, OpCode, Reply};

pub fn get(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(OpCode::Get, ctx.session.db, 0, 0, &[ctx.args.get(1)]);
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL], with the
/// option rules of Redis 7.0's `parseExtendedStringArgumentsOrReply`.
pub fn set(ctx: &mut Ctx) {
    #[derive(PartialEq, Clone, Copy)]
    enum Unit {
        None,
        Ex,
        Px,
        ExAt,
        PxAt,
    }
    let mut flags = 0u8;
    let mut unit = Unit::None;
    let mut expire_arg: &[u8] = b"";
    let n = ctx.args.len();
    let mut j = 3;
    while j < n {
        let opt = ctx.args.get(j);
        let has_next = j + 1 < n;
        let is = |s: &str| opt.eq_ignore_ascii_case(s.as_bytes());
        if is("nx") && flags & set_flags::XX == 0 {
            flags |= set_flags::NX;
        } else if is("xx") && flags & set_flags::NX == 0 {
            flags |= set_flags::XX;
        } else if is("get") {
            flags |= set_flags::GET;
        } else if is("keepttl") && unit == Unit::None {
            flags |= set_flags::KEEPTTL;
        } else if flags & set_flags::KEEPTTL == 0
            && has_next
            && (is("ex") || is("px") || is("exat") || is("pxat"))
        {
            let u = if is("ex") {
                Unit::Ex
            } else if is("px") {
                Unit::Px
            } else if is("exat") {
                Unit::ExAt
            } else {
                Unit::PxAt
            };
            // Redis accepts the same unit twice (the last wins) but not two units.
            if unit != Unit::None && unit != u {
                ctx.syntax_error();
                return;
            }
            unit = u;
            expire_arg = ctx.args.get(j + 1);
            j += 1;
        } else {
            ctx.syntax_error();
            return;
        }
        j += 1;
    }
    let mut expire_at = 0u64;
    if unit != Unit::None {
        let Some(v) = parse_int(expire_arg) else {
            ctx.not_integer();
            return;
        };
        let invalid = |ctx: &mut Ctx| ctx.error("ERR invalid expire time in 'set' command");
        if v <= 0 {
            invalid(ctx);
            return;
        }
        let ms = match unit {
            Unit::Ex | Unit::ExAt => v.checked_mul(1000),
            _ => Some(v),
        };
        let abs = match (unit, ms) {
            (_, None) => None,
            (Unit::Ex | Unit::Px, Some(ms)) => ms.checked_add(ctx.now_ms as i64),
            (_, Some(ms)) => Some(ms),
        };
        match abs {
            Some(t) if t > 0 => expire_at = t as u64,
            _ => {
                invalid(ctx);
                return;
            }
        }
    }
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router.key_op(
        OpCode::Set,
        ctx.session.db,
        flags,
        expire_at,
        &[ctx.args.get(1), ctx.args.get(2)],
    );
}

pub fn mget(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::Array);
    for key in ctx.args.iter_from(1) {
        ctx.router.key_op(OpCode::Get, ctx.session.db, 0, 0, &[key]);
    }
}

pub fn mset(ctx: &mut Ctx) {
    if ctx.args.len() % 2 == 0 {
        ctx.arity_error("mset");
        return;
    }
    ctx.router.begin(ctx.conn, Merge::AllOk);
    let mut i = 1;
    while i < ctx.args.len() {
        let (k, v) = (ctx.args.get(i), ctx.args.get(i + 1));
        ctx.router
            .key_op(OpCode::Set, ctx.session.db, 0, 0, &[k, v]);
        i += 2;
    }
}

fn incr_op(ctx: &mut Ctx, by: i64) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router.key_op(
        OpCode::IncrBy,
        ctx.session.db,
        0,
        by as u64,
        &[ctx.args.get(1)],
    );
}

pub fn incr(ctx: &mut Ctx) {
    incr_op(ctx, 1);
}

pub fn decr(ctx: &mut Ctx) {
    incr_op(ctx, -1);
}

pub fn incrby(ctx: &mut Ctx) {
    match parse_int(ctx.args.get(2)) {
        Some(by) => incr_op(ctx, by),
        None => ctx.not_integer(),
    }
}

pub fn decrby(ctx: &mut Ctx) {
    match parse_int(ctx.args.get(2)) {
        // Negating i64::MIN would overflow (Redis 7.0 checks it first).
        Some(i64::MIN) => ctx.error("ERR decrement would overflow"),
        Some(by) => incr_op(ctx, -by),
        None => ctx.not_integer(),
    }
}

/// An op on the key and the value (args 1 and 2).
fn key_value_op(ctx: &mut Ctx, code: OpCode, flags: u8, num: u64) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router.key_op(
        code,
        ctx.session.db,
        flags,
        num,
        &[ctx.args.get(1), ctx.args.get(2)],
    );
}

fn key_op(ctx: &mut Ctx, code: OpCode) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(code, ctx.session.db, 0, 0, &[ctx.args.get(1)]);
}

/// INCRBYFLOAT key increment: both operands are parsed on the shard.
pub fn incrbyfloat(ctx: &mut Ctx) {
    key_value_op(ctx, OpCode::IncrByFloat, 0, 0);
}

pub fn append(ctx: &mut Ctx) {
    key_value_op(ctx, OpCode::Append, 0, 0);
}

pub fn strlen(ctx: &mut Ctx) {
    key_op(ctx, OpCode::Strlen);
}

pub fn getdel(ctx: &mut Ctx) {
    key_op(ctx, OpCode::GetDel);
}

/// GETSET key value: SET ... GET, which clears the TTL.
pub fn getset(ctx: &mut Ctx) {
    key_value_op(ctx, OpCode::Set, set_flags::GET, 0);
}

/// SETNX key value → 1 or 0.
pub fn setnx(ctx: &mut Ctx) {
    key_value_op(ctx, OpCode::Set, set_flags::NX | set_flags::INT_REPLY, 0);
}

/// SETEX key seconds value / PSETEX key milliseconds value.
pub fn setex(ctx: &mut Ctx, seconds: bool) {
    let Some(v) = parse_int(ctx.args.get(2)) else {
        ctx.not_integer();
        return;
    };
    let ms = if seconds {
        v.checked_mul(1000)
    } else {
        Some(v)
    };
    let at = ms
        .filter(|_| v > 0)
        .and_then(|ms| ms.checked_add(ctx.now_ms as i64));
    let Some(at) = at else {
        let msg = format!("ERR invalid expire time in '{}' command", ctx.spec.name);
        ctx.error(&msg);
        return;
    };
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router.key_op(
        OpCode::Set,
        ctx.session.db,
        0,
        at as u64,
        &[ctx.args.get(1), ctx.args.get(3)],
    );
}

/// GETRANGE key start end (also SUBSTR).
pub fn getrange(ctx: &mut Ctx) {
    let (Some(start), Some(end)) = (parse_int(ctx.args.get(2)), parse_int(ctx.args.get(3))) else {
        ctx.not_integer();
        return;
    };
    ctx.router.begin(ctx.conn, Merge::One);
    let op = shards::Op {
        code: OpCode::GetRange,
        db: ctx.session.db,
        flags: 0,
        arg: 0,
        nargs: 0,
        num: start as u64,
        aux: end as u64,
    };
    ctx.router.key_op_full(op, &[ctx.args.get(1)]);
}

/// SETRANGE key offset value.
pub fn setrange(ctx: &mut Ctx) {
    let Some(offset) = parse_int(ctx.args.get(2)) else {
        ctx.not_integer();
        return;
    };
    if offset < 0 {
        ctx.error("ERR offset is out of range");
        return;
    }
    let len = ctx.args.get(3).len() as u64;
    if len > 0 && offset as u64 + len > crate::config::PROTO_MAX_BULK_LEN as u64 {
        ctx.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return;
    }
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router.key_op(
        OpCode::SetRange,
        ctx.session.db,
        0,
        offset as u64,
        &[ctx.args.get(1), ctx.args.get(3)],
    );
}

/// MSETNX key value [key value ...]: all or nothing. Keys on one shard: one
/// op that checks and sets. On several: a deferred section that asks every
/// shard first and sets only if no key exists anywhere.
pub fn msetnx(ctx: &mut Ctx) {
    if ctx.args.len() % 2 == 0 {
        ctx.arity_error("msetnx");
        return;
    }
    let db = ctx.session.db;
    let first = ctx.router.shard_of(ctx.args.get(1));
    let one_shard = ctx
        .args
        .iter_from(1)
        .step_by(2)
        .all(|k| ctx.router.shard_of(k) == first);
    let all: Vec<&[u8]> = ctx.args.iter_from(1).collect();
    if one_shard {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.key_op(OpCode::MSetNx, db, 0, 0, &all);
        return;
    }
    if !ctx.router.in_section() {
        ctx.router.defer();
        return;
    }
    let mut per_shard: Vec<Vec<&[u8]>> = vec![Vec::new(); ctx.router.shards()];
    for pair in all.chunks(2) {
        per_shard[ctx.router.shard_of(pair[0])].extend_from_slice(pair);
    }
    let step = |ctx: &mut Ctx, flags: u8| {
        let mut refs = Vec::new();
        for (s, args) in per_shard.iter().enumerate() {
            if !args.is_empty() {
                ctx.router.hold(s);
                let o = Op {
                    code: OpCode::MSetNx,
                    db,
                    flags,
                    arg: 0,
                    nargs: 0,
                    num: 0,
                    aux: 0,
                };
                refs.push(ctx.router.step_op(s, o, args));
            }
        }
        ctx.router.exchange();
        refs.into_iter()
            .map(|r| ctx.router.reply_of(r).1.clone())
            .collect::<Vec<Reply>>()
    };
    if step(ctx, rename_flags::CHECK)
        .iter()
        .any(|r| matches!(r, Reply::Int(1)))
    {
        ctx.reply(|out| encode::int(out, 0));
        return;
    }
    let replies = step(ctx, 0);
    match replies.iter().find_map(|r| match r {
        Reply::Err(e) => Some(e.to_string()),
        Reply::ErrText(e) => Some(e.to_string()),
        _ => None,
    }) {
        Some(e) => ctx.error(&e),
        None => ctx.reply(|out| encode::int(out, 1)),
    }
}
