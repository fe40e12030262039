//! Keyspace commands: SELECT, DEL, EXISTS, DBSIZE, FLUSHDB, FLUSHALL, MOVE.

use super::{parse_i32_or_reply, Ctx};
use crate::resp::encode;
use crate::router::Merge;
use shards::{OpCode, NUM_DBS};

pub fn select(ctx: &mut Ctx) {
    match parse_i32_or_reply(ctx, ctx.args.get(1)) {
        None => {}
        Some(db) if db < 0 || db >= NUM_DBS as i32 => ctx.error("ERR DB index is out of range"),
        Some(db) => {
            ctx.session.db = db as u8;
            ctx.reply(encode::ok);
        }
    }
}

fn per_key(ctx: &mut Ctx, code: OpCode) {
    ctx.router.begin(ctx.conn, Merge::Sum);
    for key in ctx.args.iter_from(1) {
        ctx.router.key_op(code, ctx.session.db, 0, 0, &[key]);
    }
}

pub fn del(ctx: &mut Ctx) {
    per_key(ctx, OpCode::Del);
}

pub fn exists(ctx: &mut Ctx) {
    per_key(ctx, OpCode::Exists);
}

pub fn dbsize(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::Sum);
    ctx.router
        .each_shard_op(OpCode::DbSize, ctx.session.db, 0, 0, 0);
}

/// FLUSHALL / FLUSHDB [ASYNC|SYNC]. Both modes free synchronously: a shard
/// frees its own memory between batches, which is already off every other
/// shard's path.
pub fn flush(ctx: &mut Ctx, all: bool) {
    if ctx.args.len() > 2
        || (ctx.args.len() == 2
            && !ctx.args.get(1).eq_ignore_ascii_case(b"async")
            && !ctx.args.get(1).eq_ignore_ascii_case(b"sync"))
    {
        ctx.syntax_error();
        return;
    }
    let code = if all {
        OpCode::FlushAll
    } else {
        OpCode::FlushDb
    };
    ctx.router.begin(ctx.conn, Merge::AllOk);
    ctx.router.each_shard_op(code, ctx.session.db, 0, 0, 0);
}

/// MOVE key db. The shard of a key does not depend on its database, so this
/// is one op on one shard, which re-files the entry with its TTL.
pub fn move_key(ctx: &mut Ctx) {
    let Some(db) = parse_i32_or_reply(ctx, ctx.args.get(2)) else {
        return;
    };
    if db < 0 || db >= NUM_DBS as i32 {
        ctx.error("ERR DB index is out of range");
    } else if db == ctx.session.db as i32 {
        ctx.error("ERR source and destination objects are the same");
    } else {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.key_op(
            OpCode::Move,
            ctx.session.db,
            0,
            db as u64,
            &[ctx.args.get(1)],
        );
    }
}
