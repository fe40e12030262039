//! TTL commands: TTL, PTTL, EXPIRETIME, PEXPIRETIME, EXPIRE, PEXPIRE,
//! EXPIREAT, PEXPIREAT, PERSIST; and TYPE and TOUCH.

use super::spec::{flags::*, ks, Begin, Command, Find};
use super::{parse_int, Ctx};
use crate::exchange::Merge;
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

fn ttl(ctx: &mut Ctx) {
    ttl_op(ctx, TtlUnit::Secs);
}

fn pttl(ctx: &mut Ctx) {
    ttl_op(ctx, TtlUnit::Ms);
}

fn expiretime(ctx: &mut Ctx) {
    ttl_op(ctx, TtlUnit::AtSecs);
}

fn pexpiretime(ctx: &mut Ctx) {
    ttl_op(ctx, TtlUnit::AtMs);
}

fn persist(ctx: &mut Ctx) {
    key_op(ctx, |key| KeyOp::Persist { key }.into());
}

fn key_type(ctx: &mut Ctx) {
    key_op(ctx, |key| KeyOp::Type { key }.into());
}

fn touch(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::Sum);
    for key in ctx.args.iter_from(1) {
        ctx.router
            .key_op(ctx.session.db, key, |_, key| KeyOp::Touch { key }.into());
    }
}

/// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time [NX|XX|GT|LT], as Redis
/// 7.0's `expireGenericCommand`: options first, then the time, then the key.
fn expire(ctx: &mut Ctx) {
    expire_in(ctx, true, true);
}

fn pexpire(ctx: &mut Ctx) {
    expire_in(ctx, false, true);
}

fn expireat(ctx: &mut Ctx) {
    expire_in(ctx, true, false);
}

fn pexpireat(ctx: &mut Ctx) {
    expire_in(ctx, false, false);
}

fn expire_in(ctx: &mut Ctx, seconds: bool, relative: bool) {
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
        let msg = format!("ERR invalid expire time in '{}' command", ctx.cmd.name);
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

/// The expiry commands, TYPE and TOUCH.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("ttl", 2, ttl)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "read", "fast"])
        .tips(&["nondeterministic_output"])
        .doc("generic", "1.0.0", "Get the time to live for a key in seconds", "O(1)"),
    Command::new("pttl", 2, pttl)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "read", "fast"])
        .tips(&["nondeterministic_output"])
        .doc("generic", "2.6.0", "Get the time to live for a key in milliseconds", "O(1)"),
    Command::new("expiretime", 2, expiretime)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "read", "fast"])
        .doc("generic", "7.0.0", "Get the expiration Unix timestamp for a key", "O(1)"),
    Command::new("pexpiretime", 2, pexpiretime)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "read", "fast"])
        .doc("generic", "7.0.0", "Get the expiration Unix timestamp for a key in milliseconds", "O(1)"),
    Command::new("expire", -3, expire)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "write", "fast"])
        .doc("generic", "1.0.0", "Set a key's time to live in seconds", "O(1)"),
    Command::new("pexpire", -3, pexpire)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "write", "fast"])
        .doc("generic", "2.6.0", "Set a key's time to live in milliseconds", "O(1)"),
    Command::new("expireat", -3, expireat)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "write", "fast"])
        .doc("generic", "1.2.0", "Set the expiration for a key as a UNIX timestamp", "O(1)"),
    Command::new("pexpireat", -3, pexpireat)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "write", "fast"])
        .doc("generic", "2.6.0", "Set the expiration for a key as a UNIX timestamp specified in milliseconds", "O(1)"),
    Command::new("persist", 2, persist)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "write", "fast"])
        .doc("generic", "2.2.0", "Remove the expiration from a key", "O(1)"),
    Command::new("type", 2, key_type)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "read", "fast"])
        .doc("generic", "1.0.0", "Determine the type stored at key", "O(1)"),
    Command::new("touch", -2, touch)
        .flags(READONLY | FAST)
        .keys(1, -1, 1, &[ks(&["RO"], Begin::Index(1), Find::Range(-1, 1, 0))])
        .acl(&["keyspace", "read", "fast"])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .doc("generic", "3.2.1", "Alters the last access time of a key(s). Returns the number of existing keys specified.", "O(N) where N is the number of keys that will be touched."),
];
