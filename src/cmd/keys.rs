//! Keyspace commands: SELECT, DEL, EXISTS, DBSIZE, FLUSHDB, FLUSHALL,
//! RENAME, RENAMENX, COPY, SWAPDB, MOVE, KEYS, SCAN, RANDOMKEY.

use super::{parse_i32_or_reply, parse_int, Ctx};
use crate::resp::encode;
use crate::router::{Merge, OpRef};
use shards::batch::{rename_flags, SCAN_MATCH};
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
        .step_op(s1, Op::new(OpCode::Dump, src_db, 0, 0, 0), &[src]);
    let probe = (!overwrite).then(|| {
        ctx.router.step_op(
            s2,
            Op::new(OpCode::MSetNx, dst_db, rename_flags::CHECK, 0, 0),
            &[dst, b""],
        )
    });
    ctx.router.exchange();
    if let Some(e) = step_error(ctx, read) {
        // Its group's AOF write failed (MISCONF): nothing is known of it.
        return Err(e);
    }
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
        .step_op(s2, Op::new(OpCode::Set, dst_db, 0, at, 0), &[dst, &value]);
    ctx.router.exchange();
    if let Some(e) = step_error(ctx, write) {
        return Err(e);
    }
    if remove_src {
        let del = ctx
            .router
            .step_op(s1, Op::new(OpCode::Del, src_db, 0, 0, 0), &[src]);
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
        let o = Op::new(OpCode::Copy, ctx.session.db, flags, 0, dst_db as u64);
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

/// KEYS pattern: every shard matches its own keys; the worker concatenates.
pub fn keys(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::Keys);
    ctx.router.each_shard_op_full(
        Op::new(OpCode::Keys, ctx.session.db, 0, 0, 0),
        &[ctx.args.get(1)],
    );
}

/// Redis's SCAN cursor parsing (`parseScanCursorOrReply`): C's `strtoul`
/// on the argument as a C string, refusing leading space and trailing
/// garbage. So `""` is 0, `+5` is 5, `-1` wraps to 2^64 - 1, and a value
/// past `u64` is refused.
pub fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let s = match memchr::memchr(0, arg) {
        Some(n) => &arg[..n],
        None => arg,
    };
    let Some(&first) = s.first() else {
        return Some(0);
    };
    let (neg, digits) = match first {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v = 0u64;
    for d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
///
/// The cursor names a shard and a slab slot in it (see
/// `router::scan_cursor`); each call runs one step on that shard and on the
/// later ones, and returns keys up to the first shard not yet exhausted. Only
/// strings exist here, so `TYPE string` (any case) filters nothing and any
/// other type name matches no key: that walk ends at once with cursor 0.
pub fn scan(ctx: &mut Ctx) {
    let Some(cursor) = parse_cursor(ctx.args.get(1)) else {
        ctx.error("ERR invalid cursor");
        return;
    };
    let mut count = 10i64;
    let mut pattern: Option<&[u8]> = None;
    let mut only_other_type = false;
    let n = ctx.args.len();
    let mut i = 2;
    while i < n {
        let opt = ctx.args.get(i);
        let has_value = n - i >= 2;
        if has_value && opt.eq_ignore_ascii_case(b"count") {
            let Some(c) = parse_int(ctx.args.get(i + 1)) else {
                ctx.not_integer();
                return;
            };
            if c < 1 {
                ctx.syntax_error();
                return;
            }
            count = c;
        } else if has_value && opt.eq_ignore_ascii_case(b"match") {
            let p = ctx.args.get(i + 1);
            // Redis skips the matcher for a lone `*`.
            pattern = (p != b"*").then_some(p);
        } else if has_value && opt.eq_ignore_ascii_case(b"type") {
            only_other_type = !ctx.args.get(i + 1).eq_ignore_ascii_case(b"string");
        } else {
            ctx.syntax_error();
            return;
        }
        i += 2;
    }
    if only_other_type {
        ctx.reply(|out| {
            encode::array(out, 2);
            encode::bulk(out, b"0");
            encode::array(out, 0);
        });
        return;
    }
    let shards = ctx.router.shards() as u64;
    let shard = cursor % shards;
    let mut step = Op::new(OpCode::Scan, ctx.session.db, 0, 0, 0);
    step.aux = count as u64;
    ctx.router.begin(
        ctx.conn,
        Merge::Scan {
            shard: shard as u32,
        },
    );
    // The later shards start from their first slot in the same round, so a
    // walk whose remaining shards are empty or small ends in this call, as
    // Redis's does (SCAN 0 of an empty or small db returns cursor 0).
    for s in shard..shards {
        step.num = if s == shard { cursor / shards } else { 0 };
        match pattern {
            Some(p) => {
                step.flags = SCAN_MATCH;
                ctx.router.shard_op_full(s as usize, step, &[p]);
            }
            None => ctx.router.shard_op_full(s as usize, step, &[]),
        }
    }
}

/// RANDOMKEY: every shard draws one of its keys and reports its key count;
/// the worker picks a shard with odds proportional to that count.
pub fn randomkey(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::RandomKey);
    ctx.router
        .each_shard_op_full(Op::new(OpCode::RandomKey, ctx.session.db, 0, 0, 0), &[]);
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

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn cursor_parses_as_strtoul() {
        for (arg, want) in [
            (&b""[..], Some(0)),
            (b"0", Some(0)),
            (b"007", Some(7)),
            (b"+5", Some(5)),
            (b"-1", Some(u64::MAX)),
            (b"18446744073709551615", Some(u64::MAX)),
            (b"18446744073709551616", None),
            (b" 1", None),
            (b"1 ", None),
            (b"0x1", None),
            (b"-", None),
            (b"+", None),
            (b"abc", None),
            (b"12\0junk", Some(12)),
        ] {
            assert_eq!(
                parse_cursor(arg),
                want,
                "{:?}",
                String::from_utf8_lossy(arg)
            );
        }
    }
}
