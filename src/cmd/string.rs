//! String commands: GET, SET, MGET, MSET.

use super::{parse_int, Ctx};
use crate::router::Merge;
use shards::batch::set_flags;
use shards::OpCode;

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
