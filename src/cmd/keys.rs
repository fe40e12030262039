//! Keyspace commands: SELECT, DEL, EXISTS, DBSIZE, FLUSHDB, FLUSHALL,
//! RENAME, RENAMENX, COPY, SWAPDB.

use super::{parse_i32_or_reply, Ctx};
use crate::resp::encode;
use crate::router::{Merge, OpRef};
use shards::batch::rename_flags;
use shards::{Op, OpCode, Reply, NUM_DBS};

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

fn op(code: OpCode, db: u8, flags: u8, num: u64, aux: u64) -> Op {
    Op {
        code,
        db,
        flags,
        arg: 0,
        nargs: 0,
        num,
        aux,
    }
}

/// The value and expiry a `Dump` step found, copied out of its batch.
fn dumped(ctx: &Ctx, r: OpRef) -> Option<(Vec<u8>, u64)> {
    match ctx.router.reply_of(r) {
        (
            b,
            Reply::Entry {
                start,
                len,
                expire_at,
            },
        ) => Some((b.bulk(*start, *len).to_vec(), *expire_at)),
        _ => None,
    }
}

/// The error text of a step's reply, if it failed.
fn step_error(ctx: &Ctx, r: OpRef) -> Option<String> {
    match ctx.router.reply_of(r).1 {
        Reply::Err(e) => Some(e.to_string()),
        Reply::ErrText(e) => Some(e.to_string()),
        _ => None,
    }
}

/// Moves or copies `src` (db `src_db`, shard `s1`) to `dst` (db `dst_db`,
/// another shard) inside a section: read the source and probe the
/// destination, then write the destination, and only once that succeeded
/// remove the source (`remove_src`). `Ok(None)`: no source; `Ok(Some(false))`:
/// the destination exists and `overwrite` is off; `Ok(Some(true))`: done.
#[allow(clippy::too_many_arguments)]
fn move_across(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    src_db: u8,
    dst_db: u8,
    overwrite: bool,
    remove_src: bool,
) -> Result<Option<bool>, String> {
    let (s1, s2) = (ctx.router.shard_of(src), ctx.router.shard_of(dst));
    ctx.router.hold(s1);
    ctx.router.hold(s2);
    let read = ctx
        .router
        .step_op(s1, op(OpCode::Dump, src_db, 0, 0, 0), &[src]);
    let probe = (!overwrite).then(|| {
        ctx.router.step_op(
            s2,
            op(OpCode::MSetNx, dst_db, rename_flags::CHECK, 0, 0),
            &[dst, b""],
        )
    });
    ctx.router.exchange();
    let Some((value, at)) = dumped(ctx, read) else {
        return Ok(None);
    };
    if let Some(p) = probe {
        if matches!(ctx.router.reply_of(p).1, Reply::Int(1)) {
            return Ok(Some(false));
        }
    }
    let write = ctx
        .router
        .step_op(s2, op(OpCode::Set, dst_db, 0, at, 0), &[dst, &value]);
    ctx.router.exchange();
    if let Some(e) = step_error(ctx, write) {
        return Err(e);
    }
    if remove_src {
        let del = ctx
            .router
            .step_op(s1, op(OpCode::Del, src_db, 0, 0, 0), &[src]);
        ctx.router.exchange();
        if let Some(e) = step_error(ctx, del) {
            return Err(e);
        }
    }
    Ok(Some(true))
}

/// RENAME / RENAMENX key newkey. Keys on one shard: one op. On two shards:
/// a deferred section (read, write, delete), so no client sees the key in
/// both places or in neither.
pub fn rename(ctx: &mut Ctx, nx: bool) {
    let (src, dst) = (ctx.args.get(1), ctx.args.get(2));
    let db = ctx.session.db;
    let flags = if nx { rename_flags::NX } else { 0 };
    if ctx.router.shard_of(src) == ctx.router.shard_of(dst) {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.key_op(OpCode::Rename, db, flags, 0, &[src, dst]);
        return;
    }
    if !ctx.router.in_section() {
        ctx.router.defer();
        return;
    }
    match move_across(ctx, src, dst, db, db, !nx, true) {
        Err(e) => ctx.error(&e),
        Ok(None) => ctx.error(shards::batch::errors::NO_SUCH_KEY),
        Ok(Some(moved)) if nx => ctx.reply(|out| encode::int(out, moved as i64)),
        Ok(Some(_)) => ctx.reply(encode::ok),
    }
}

/// COPY source destination [DB destination-db] [REPLACE]
pub fn copy(ctx: &mut Ctx) {
    let (src, dst) = (ctx.args.get(1), ctx.args.get(2));
    let mut replace = false;
    let mut dst_db = ctx.session.db;
    let mut j = 3;
    while j < ctx.args.len() {
        let a = ctx.args.get(j);
        if a.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if a.eq_ignore_ascii_case(b"db") && j + 1 < ctx.args.len() {
            let Some(n) = super::parse_int(ctx.args.get(j + 1)) else {
                ctx.not_integer();
                return;
            };
            if n < 0 || n >= NUM_DBS as i64 {
                ctx.error("ERR DB index is out of range");
                return;
            }
            dst_db = n as u8;
            j += 1;
        } else {
            ctx.syntax_error();
            return;
        }
        j += 1;
    }
    if dst_db == ctx.session.db && src == dst {
        ctx.error("ERR source and destination objects are the same");
        return;
    }
    let flags = if replace { rename_flags::REPLACE } else { 0 };
    if ctx.router.shard_of(src) == ctx.router.shard_of(dst) {
        ctx.router.begin(ctx.conn, Merge::One);
        let o = Op {
            aux: dst_db as u64,
            ..op(OpCode::Copy, ctx.session.db, flags, 0, 0)
        };
        ctx.router.key_op_full(o, &[src, dst]);
        return;
    }
    if !ctx.router.in_section() {
        ctx.router.defer();
        return;
    }
    match move_across(ctx, src, dst, ctx.session.db, dst_db, replace, false) {
        Err(e) => ctx.error(&e),
        Ok(copied) => ctx.reply(|out| encode::int(out, copied.unwrap_or(false) as i64)),
    }
}

/// SWAPDB index1 index2: every shard swaps its slice of the two databases;
/// as a multi-shard command it is ordered like MSET (see `router`).
pub fn swapdb(ctx: &mut Ctx) {
    let mut dbs = [0u64; 2];
    for (i, which) in ["first", "second"].iter().enumerate() {
        match super::parse_int(ctx.args.get(i + 1)).and_then(|v| i32::try_from(v).ok()) {
            None => {
                ctx.error(&format!("ERR invalid {which} DB index"));
                return;
            }
            Some(v) if v < 0 || v >= NUM_DBS as i32 => {
                ctx.error("ERR DB index is out of range");
                return;
            }
            Some(v) => dbs[i] = v as u64,
        }
    }
    ctx.router.begin(ctx.conn, Merge::AllOk);
    ctx.router
        .each_shard_op(OpCode::SwapDb, 0, 0, dbs[0], dbs[1]);
}
