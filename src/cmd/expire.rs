//! TTL commands: TTL, PTTL, EXPIRETIME, PEXPIRETIME, EXPIRE, PEXPIRE,
//! EXPIREAT, PEXPIREAT, PERSIST; and TYPE and TOUCH.

use super::{parse_int, Ctx};
use crate::router::Merge;
use shards::batch::{expire_flags, ttl_mode};
use shards::OpCode;

fn key_op(ctx: &mut Ctx, code: OpCode, flags: u8, num: u64) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(code, ctx.session.db, flags, num, &[ctx.args.get(1)]);
}

pub fn ttl(ctx: &mut Ctx) {
    key_op(ctx, OpCode::Ttl, ttl_mode::TTL, 0);
}

pub fn pttl(ctx: &mut Ctx) {
    key_op(ctx, OpCode::Ttl, ttl_mode::PTTL, 0);
}

pub fn expiretime(ctx: &mut Ctx) {
    key_op(ctx, OpCode::Ttl, ttl_mode::EXPIRETIME, 0);
}

pub fn pexpiretime(ctx: &mut Ctx) {
    key_op(ctx, OpCode::Ttl, ttl_mode::PEXPIRETIME, 0);
}

pub fn persist(ctx: &mut Ctx) {
    key_op(ctx, OpCode::Persist, 0, 0);
}

pub fn key_type(ctx: &mut Ctx) {
    key_op(ctx, OpCode::Type, 0, 0);
}

pub fn touch(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::Sum);
    for key in ctx.args.iter_from(1) {
        ctx.router
            .key_op(OpCode::Touch, ctx.session.db, 0, 0, &[key]);
    }
}

/// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time [NX|XX|GT|LT], as Redis
/// 7.0's `expireGenericCommand`: options first, then the time, then the key.
pub fn expire(ctx: &mut Ctx, seconds: bool, relative: bool) {
    let mut flags = 0u8;
    for opt in ctx.args.iter_from(3) {
        let is = |s: &str| opt.eq_ignore_ascii_case(s.as_bytes());
        if is("nx") {
            flags |= expire_flags::NX;
        } else if is("xx") {
            flags |= expire_flags::XX;
        } else if is("gt") {
            flags |= expire_flags::GT;
        } else if is("lt") {
            flags |= expire_flags::LT;
        } else {
            // Redis prints the option as a C string: up to its first NUL.
            let end = opt.iter().position(|&b| b == 0).unwrap_or(opt.len());
            let mut msg = b"ERR Unsupported option ".to_vec();
            msg.extend_from_slice(&opt[..end]);
            ctx.router
                .reply(ctx.conn, |out| crate::resp::encode::error_bytes(out, &msg));
            return;
        }
    }
    if flags & expire_flags::NX != 0 && flags & !expire_flags::NX != 0 {
        ctx.error("ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if flags & expire_flags::GT != 0 && flags & expire_flags::LT != 0 {
        ctx.error("ERR GT and LT options at the same time are not compatible");
        return;
    }
    let Some(when) = parse_int(ctx.args.get(2)) else {
        ctx.not_integer();
        return;
    };
    let base = if relative { ctx.now_ms as i64 } else { 0 };
    let when = if seconds {
        when.checked_mul(1000)
    } else {
        Some(when)
    };
    let Some(when) = when.and_then(|w| w.checked_add(base)) else {
        let msg = format!("ERR invalid expire time in '{}' command", ctx.spec.name);
        ctx.error(&msg);
        return;
    };
    key_op(ctx, OpCode::Expire, flags, when as u64);
}
