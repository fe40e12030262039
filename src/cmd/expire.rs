//! TTL commands: TTL, PTTL, EXPIRETIME, PEXPIRETIME, EXPIRE, PEXPIRE,
//! EXPIREAT, PEXPIREAT, PERSIST; and TYPE and TOUCH.

use super::{parse_int, Ctx};
use crate::router::Merge;
use shards::ops::keys::{ExpireCond, KeyOp, TtlUnit};
use shards::Op;

/// One op on the key (args 1), answered as it is.
fn key_op(ctx: &mut Ctx, build: impl FnOnce(shards::Arg) -> Op) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |_, key| build(key));
}

fn ttl_op(ctx: &mut Ctx, unit: TtlUnit) {
    key_op(ctx, |key| KeyOp::Ttl { key, unit }.into());
}

pub fn ttl(ctx: &mut Ctx) {
    ttl_op(ctx, TtlUnit::Secs);
}

pub fn pttl(ctx: &mut Ctx) {
    ttl_op(ctx, TtlUnit::Ms);
}

pub fn expiretime(ctx: &mut Ctx) {
    ttl_op(ctx, TtlUnit::AtSecs);
}

pub fn pexpiretime(ctx: &mut Ctx) {
    ttl_op(ctx, TtlUnit::AtMs);
}

pub fn persist(ctx: &mut Ctx) {
    key_op(ctx, |key| KeyOp::Persist { key }.into());
}

pub fn key_type(ctx: &mut Ctx) {
    key_op(ctx, |key| KeyOp::Type { key }.into());
}

pub fn touch(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::Sum);
    for key in ctx.args.iter_from(1) {
        ctx.router
            .key_op(ctx.session.db, key, |_, key| KeyOp::Touch { key }.into());
    }
}

/// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time [NX|XX|GT|LT], as Redis
/// 7.0's `expireGenericCommand`: options first, then the time, then the key.
pub fn expire(ctx: &mut Ctx, seconds: bool, relative: bool) {
    // Redis accepts each option any number of times; the combination decides.
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in ctx.args.iter_from(3) {
        let is = |s: &str| opt.eq_ignore_ascii_case(s.as_bytes());
        if is("nx") {
            nx = true;
        } else if is("xx") {
            xx = true;
        } else if is("gt") {
            gt = true;
        } else if is("lt") {
            lt = true;
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
    if nx && (xx || gt || lt) {
        ctx.error("ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if gt && lt {
        ctx.error("ERR GT and LT options at the same time are not compatible");
        return;
    }
    let cond = ExpireCond { nx, xx, gt, lt };
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
    key_op(ctx, |key| {
        KeyOp::Expire {
            key,
            at: when,
            cond,
        }
        .into()
    });
}
