//! Sorted-set commands (Redis 7.0's `t_zset.c`). Single-key commands are
//! one op on the key's shard, their arguments (scores, ranges, options)
//! checked here first in Redis's order. The multi-key ones (ZUNION, ZINTER,
//! ZDIFF, their STORE forms, ZINTERCARD, ZRANGESTORE, ZMPOP) are one op
//! when all their keys share a shard, and otherwise run in a section
//! holding those shards, assembled from the engine's pieces (`Cards`,
//! `Entries`, `Scores`, `StoreEntries`, `Exists`) with the engine's own
//! arithmetic, so no client sees half a STORE.
//!
//! ZUNION, ZINTER, ZDIFF and ZINTERCARD look their keys up before they
//! read their options, so an option error is answered after the keys'
//! types are checked (WRONGTYPE first), as Redis does.

use super::hash::{parse_count, scan_options, scan_refused};
use super::list::forward;
use super::spec::{flags::*, ks, Begin, Command, Find};
use super::steps::{by_shard, first_holding, ints_per_key, step_error, tape_items};
use super::{c_str, parse_int, Ctx};
use crate::exchange::{Completion, Finish, Merge, OpRef};
use crate::resp::encode;
use shards::ops::float::range_bound;
use shards::ops::zset::{
    combine_sources, parse_score, sort_entries, Aggregate, Source, ZAddFlags, ZAlgebra, ZCombined,
    ZRangeBy, ZSetOp,
};
use shards::tape::Item;
use shards::value::zset::{ScoreBound, ScoreRange};
use shards::{Arg, Kind, Lookup, Op, Reply};

/// One op on the key (argument 1), answered as it is.
fn key_op(ctx: &mut Ctx, build: impl FnOnce(&mut shards::batch::Args, Arg) -> Op) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router.key_op(ctx.session.db, ctx.args.get(1), build);
}

fn is(arg: &[u8], word: &str) -> bool {
    c_str(arg).eq_ignore_ascii_case(word.as_bytes())
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
fn zadd(ctx: &mut Ctx) {
    zadd_in(ctx, false);
}

/// ZINCRBY key increment member: ZADD's parsing with INCR set (so an
/// increment spelled like an option is read as one, as in Redis).
fn zincrby(ctx: &mut Ctx) {
    zadd_in(ctx, true);
}

fn zadd_in(ctx: &mut Ctx, incr: bool) {
    let args = ctx.args;
    let mut f = ZAddFlags {
        incr,
        ..Default::default()
    };
    let mut i = 2;
    while i < args.len() {
        let o = args.get(i);
        if is(o, "nx") {
            f.nx = true;
        } else if is(o, "xx") {
            f.xx = true;
        } else if is(o, "ch") {
            f.ch = true;
        } else if is(o, "incr") {
            f.incr = true;
        } else if is(o, "gt") {
            f.gt = true;
        } else if is(o, "lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let elements = args.len() - i;
    if elements % 2 == 1 || elements == 0 {
        return ctx.syntax_error();
    }
    if f.nx && f.xx {
        return ctx.error("ERR XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return ctx.error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && elements > 2 {
        return ctx.error("ERR INCR option supports a single increment-element pair");
    }
    for j in (i..args.len()).step_by(2) {
        if parse_score(args.get(j)).is_none() {
            return ctx.error("ERR value is not a valid float");
        }
    }
    key_op(ctx, |a, key| {
        ZSetOp::Add {
            key,
            pairs: a.list(args.iter_from(i)),
            flags: f,
        }
        .into()
    });
}

fn zscore(ctx: &mut Ctx) {
    let m = ctx.args.get(2);
    key_op(ctx, |a, key| {
        ZSetOp::Score {
            key,
            member: a.push(m),
        }
        .into()
    });
}

fn zmscore(ctx: &mut Ctx) {
    let args = ctx.args;
    key_op(ctx, |a, key| {
        ZSetOp::MScore {
            key,
            members: a.list(args.iter_from(2)),
        }
        .into()
    });
}

fn zcard(ctx: &mut Ctx) {
    key_op(ctx, |_, key| ZSetOp::Card { key }.into());
}

/// Redis's `zslParseRange`: `(` makes a bound exclusive.
fn score_range(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
    let bound = |a: &[u8]| match a.first() {
        Some(b'(') => range_bound(&a[1..]).map(ScoreBound::exclusive),
        _ => range_bound(a).map(ScoreBound::inclusive),
    };
    Some(ScoreRange {
        min: bound(min)?,
        max: bound(max)?,
    })
}

/// Redis's `zslParseLexRangeItem`: `-`, `+` (what follows a NUL does not
/// count), `[member` or `(member`; the bound as the engine reads it.
fn lex_bound(a: &[u8]) -> Option<&[u8]> {
    match a.first()? {
        b'+' | b'-' if a.len() == 1 || a[1] == 0 => Some(&a[..1]),
        b'(' | b'[' => Some(a),
        _ => None,
    }
}

fn zcount(ctx: &mut Ctx) {
    let Some(range) = score_range(ctx.args.get(2), ctx.args.get(3)) else {
        return ctx.error("ERR min or max is not a float");
    };
    key_op(ctx, |_, key| ZSetOp::Count { key, range }.into());
}

fn zlexcount(ctx: &mut Ctx) {
    let (Some(min), Some(max)) = (lex_bound(ctx.args.get(2)), lex_bound(ctx.args.get(3))) else {
        return ctx.error("ERR min or max not valid string range item");
    };
    key_op(ctx, |a, key| {
        ZSetOp::LexCount {
            key,
            min: a.push(min),
            max: a.push(max),
        }
        .into()
    });
}

// ------------------------------------------------------------- ZRANGE

/// What a ZRANGE-family command selects before its arguments say more.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

/// A parsed ZRANGE-family command.
struct RangeArgs<'a> {
    rank: Option<(i64, i64)>,
    score: Option<ScoreRange>,
    lex: Option<(&'a [u8], &'a [u8])>,
    rev: bool,
    offset: i64,
    limit: i64,
    withscores: bool,
}

impl RangeArgs<'_> {
    /// The selection, its lex bounds pushed into the op's arguments.
    fn by(&self, a: &mut shards::batch::Args) -> ZRangeBy {
        if let Some((start, stop)) = self.rank {
            ZRangeBy::Rank { start, stop }
        } else if let Some(r) = self.score {
            ZRangeBy::Score(r)
        } else {
            let (min, max) = self.lex.unwrap_or((b"-", b"+"));
            ZRangeBy::Lex {
                min: a.push(min),
                max: a.push(max),
            }
        }
    }
}

/// Redis's `zrangeGenericCommand` parsing: options after the key and
/// bounds at `start` (the key's index), then the range; replies with the
/// error and returns None when they are wrong.
fn parse_range<'a>(
    ctx: &mut Ctx<'a>,
    start: usize,
    store: bool,
    mut ty: RangeType,
    rev: Option<bool>,
) -> Option<RangeArgs<'a>> {
    let args: &'a crate::resp::Args = ctx.args;
    let mut rev_auto = rev.is_none();
    let mut reverse = rev.unwrap_or(false);
    let (mut offset, mut limit, mut withscores) = (0i64, -1i64, false);
    let mut j = start + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let o = args.get(j);
        if !store && is(o, "withscores") {
            withscores = true;
        } else if is(o, "limit") && left >= 2 {
            match (parse_int(args.get(j + 1)), parse_int(args.get(j + 2))) {
                (Some(a), Some(b)) => {
                    offset = a;
                    limit = b;
                }
                _ => {
                    ctx.not_integer();
                    return None;
                }
            }
            j += 2;
        } else if rev_auto && is(o, "rev") {
            reverse = true;
            rev_auto = false;
        } else if ty == RangeType::Auto && is(o, "bylex") {
            ty = RangeType::Lex;
        } else if ty == RangeType::Auto && is(o, "byscore") {
            ty = RangeType::Score;
        } else {
            ctx.syntax_error();
            return None;
        }
        j += 1;
    }
    if ty == RangeType::Auto {
        ty = RangeType::Rank;
    }
    // Redis takes a count of -1 for no LIMIT at all.
    if limit != -1 && ty == RangeType::Rank {
        ctx.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
        return None;
    }
    if withscores && ty == RangeType::Lex {
        ctx.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return None;
    }
    let (mut min, mut max) = (args.get(start + 1), args.get(start + 2));
    if reverse && ty != RangeType::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let mut out = RangeArgs {
        rank: None,
        score: None,
        lex: None,
        rev: reverse,
        offset,
        limit,
        withscores,
    };
    match ty {
        RangeType::Score => match score_range(min, max) {
            Some(r) => out.score = Some(r),
            None => {
                ctx.error("ERR min or max is not a float");
                return None;
            }
        },
        RangeType::Lex => match (lex_bound(min), lex_bound(max)) {
            (Some(a), Some(b)) => out.lex = Some((a, b)),
            _ => {
                ctx.error("ERR min or max not valid string range item");
                return None;
            }
        },
        _ => match (parse_int(min), parse_int(max)) {
            (Some(a), Some(b)) => out.rank = Some((a, b)),
            _ => {
                ctx.not_integer();
                return None;
            }
        },
    }
    Some(out)
}

fn range_cmd(ctx: &mut Ctx, ty: RangeType, rev: Option<bool>) {
    let Some(r) = parse_range(ctx, 1, false, ty, rev) else {
        return;
    };
    let resp3 = ctx.resp3();
    key_op(ctx, |a, key| {
        ZSetOp::Range {
            key,
            by: r.by(a),
            rev: r.rev,
            offset: r.offset,
            limit: r.limit,
            withscores: r.withscores,
            resp3,
        }
        .into()
    });
}

fn zrange(ctx: &mut Ctx) {
    range_cmd(ctx, RangeType::Auto, None);
}

fn zrevrange(ctx: &mut Ctx) {
    range_cmd(ctx, RangeType::Rank, Some(true));
}

fn zrangebyscore(ctx: &mut Ctx) {
    range_cmd(ctx, RangeType::Score, Some(false));
}

fn zrevrangebyscore(ctx: &mut Ctx) {
    range_cmd(ctx, RangeType::Score, Some(true));
}

fn zrangebylex(ctx: &mut Ctx) {
    range_cmd(ctx, RangeType::Lex, Some(false));
}

fn zrevrangebylex(ctx: &mut Ctx) {
    range_cmd(ctx, RangeType::Lex, Some(true));
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
fn zrangestore(ctx: &mut Ctx) {
    let Some(r) = parse_range(ctx, 2, true, RangeType::Auto, None) else {
        return;
    };
    let (dst, src) = (ctx.args.get(1), ctx.args.get(2));
    let db = ctx.session.db;
    let (s1, s2) = (ctx.router.shard_of(src), ctx.router.shard_of(dst));
    if s1 == s2 {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.shard_op(s1, db, |a| {
            ZSetOp::RangeStore {
                dst: a.push(dst),
                src: a.push(src),
                by: r.by(a),
                rev: r.rev,
                offset: r.offset,
                limit: r.limit,
            }
            .into()
        });
        return;
    }
    debug_assert!(ctx.router.in_section(), "declared with a section");
    ctx.router.hold(s1);
    ctx.router.hold(s2);
    let read = ctx.router.step_op(s1, db, |a| {
        let key = a.push(src);
        ZSetOp::Range {
            key,
            by: r.by(a),
            rev: r.rev,
            offset: r.offset,
            limit: r.limit,
            withscores: true,
            resp3: true,
        }
        .into()
    });
    ctx.router.exchange();
    if let Some(e) = step_error(ctx, read) {
        return ctx.error(&e);
    }
    let entries = entries_from(&tape_items(ctx, read));
    store_entries(ctx, dst, &entries, "zrangestore");
}

/// Entries `[[member, score], ...]` or `[member, score, ...]` of a tape,
/// in order.
fn entries_from(items: &[Item]) -> Vec<(Vec<u8>, f64)> {
    let mut out = Vec::new();
    let mut member: Option<&[u8]> = None;
    for it in items {
        match *it {
            Item::Bulk(m) => member = Some(m),
            Item::Double(s) => {
                if let Some(m) = member.take() {
                    out.push((m.to_vec(), s));
                }
            }
            _ => {}
        }
    }
    out
}

/// Stores `entries` under `dst` on its shard (held) and answers the size.
fn store_entries(ctx: &mut Ctx, dst: &[u8], entries: &[(Vec<u8>, f64)], event: &'static str) {
    let db = ctx.session.db;
    let s = ctx.router.shard_of(dst);
    let bits: Vec<[u8; 8]> = entries.iter().map(|(_, sc)| sc.to_le_bytes()).collect();
    let r = ctx.router.step_op(s, db, |a| {
        let list = a.list(
            entries
                .iter()
                .zip(&bits)
                .flat_map(|((m, _), b)| [&m[..], &b[..]]),
        );
        ZSetOp::StoreEntries {
            dst: a.push(dst),
            entries: list,
            event,
        }
        .into()
    });
    ctx.router.exchange();
    forward(ctx, r);
}

fn zrank(ctx: &mut Ctx) {
    rank_in(ctx, false);
}

fn zrevrank(ctx: &mut Ctx) {
    rank_in(ctx, true);
}

fn rank_in(ctx: &mut Ctx, rev: bool) {
    let m = ctx.args.get(2);
    key_op(ctx, |a, key| {
        ZSetOp::Rank {
            key,
            member: a.push(m),
            rev,
        }
        .into()
    });
}

fn zrem(ctx: &mut Ctx) {
    let args = ctx.args;
    key_op(ctx, |a, key| {
        ZSetOp::Rem {
            key,
            members: a.list(args.iter_from(2)),
        }
        .into()
    });
}

fn zremrangebyrank(ctx: &mut Ctx) {
    let (Some(start), Some(stop)) = (parse_int(ctx.args.get(2)), parse_int(ctx.args.get(3))) else {
        return ctx.not_integer();
    };
    key_op(ctx, |_, key| {
        ZSetOp::RemRange {
            key,
            by: ZRangeBy::Rank { start, stop },
        }
        .into()
    });
}

fn zremrangebyscore(ctx: &mut Ctx) {
    let Some(range) = score_range(ctx.args.get(2), ctx.args.get(3)) else {
        return ctx.error("ERR min or max is not a float");
    };
    key_op(ctx, |_, key| {
        ZSetOp::RemRange {
            key,
            by: ZRangeBy::Score(range),
        }
        .into()
    });
}

fn zremrangebylex(ctx: &mut Ctx) {
    let (Some(min), Some(max)) = (lex_bound(ctx.args.get(2)), lex_bound(ctx.args.get(3))) else {
        return ctx.error("ERR min or max not valid string range item");
    };
    key_op(ctx, |a, key| {
        ZSetOp::RemRange {
            key,
            by: ZRangeBy::Lex {
                min: a.push(min),
                max: a.push(max),
            },
        }
        .into()
    });
}

// --------------------------------------------------------------- pops

fn zpopmin(ctx: &mut Ctx) {
    pop_in(ctx, false);
}

fn zpopmax(ctx: &mut Ctx) {
    pop_in(ctx, true);
}

/// ZPOPMIN / ZPOPMAX key [count]: a fourth argument is a syntax error.
fn pop_in(ctx: &mut Ctx, max: bool) {
    if ctx.args.len() > 3 {
        return ctx.syntax_error();
    }
    let count = if ctx.args.len() == 3 {
        match parse_int(ctx.args.get(2)) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return ctx.error("ERR value is out of range, must be positive"),
        }
    } else {
        None
    };
    let resp3 = ctx.resp3();
    key_op(ctx, |_, key| {
        ZSetOp::Pop {
            key,
            max,
            count,
            resp3,
        }
        .into()
    });
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
fn zmpop(ctx: &mut Ctx) {
    let args = ctx.args;
    let numkeys = match parse_int(args.get(1)) {
        Some(n) if n >= 1 => n as u64,
        _ => return ctx.error("ERR numkeys should be greater than 0"),
    };
    let where_idx = numkeys.saturating_add(2);
    if where_idx >= args.len() as u64 {
        return ctx.syntax_error();
    }
    let where_idx = where_idx as usize;
    let w = args.get(where_idx);
    let max = if is(w, "min") {
        false
    } else if is(w, "max") {
        true
    } else {
        return ctx.syntax_error();
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && is(args.get(j), "count") && j + 1 < args.len() {
            j += 1;
            match parse_int(args.get(j)) {
                Some(c) if c >= 1 => count = Some(c as u64),
                _ => return ctx.error("ERR count should be greater than 0"),
            }
        } else {
            return ctx.syntax_error();
        }
        j += 1;
    }
    let count = count.unwrap_or(1);
    let keys: Vec<&[u8]> = args.iter_from(2).take(numkeys as usize).collect();
    let db = ctx.session.db;
    let groups = by_shard(ctx, &keys);
    if groups.len() == 1 {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.shard_op(groups[0].0, db, |a| {
            ZSetOp::MPop {
                keys: a.list(keys.iter().copied()),
                max,
                count,
            }
            .into()
        });
        return;
    }
    debug_assert!(ctx.router.in_section(), "declared with a section");
    for (s, _) in &groups {
        ctx.router.hold(*s);
    }
    let i = match first_holding(ctx, &keys, &groups, |keys| ZSetOp::Exists { keys }.into()) {
        Err(e) => return ctx.error(&e),
        Ok(None) => {
            let resp3 = ctx.resp3();
            return ctx.reply(|o| encode::null_array(o, resp3));
        }
        Ok(Some(i)) => i,
    };
    let s = ctx.router.shard_of(keys[i]);
    let r = ctx.router.step_op(s, db, |a| {
        ZSetOp::MPop {
            keys: a.list([keys[i]]),
            max,
            count,
        }
        .into()
    });
    ctx.router.exchange();
    forward(ctx, r);
}

// ------------------------------------------------------------- random

/// ZRANDMEMBER key [count [WITHSCORES]]
fn zrandmember(ctx: &mut Ctx) {
    let n = ctx.args.len();
    if n == 2 {
        return key_op(ctx, |_, key| ZSetOp::RandMember { key }.into());
    }
    let Some(count) = parse_count(ctx, ctx.args.get(2)) else {
        return;
    };
    if n > 4 || (n == 4 && !is(ctx.args.get(3), "withscores")) {
        return ctx.syntax_error();
    }
    let withscores = n == 4;
    const HALF: i64 = i64::MAX / 2;
    if withscores && !(-HALF..=HALF).contains(&count) {
        return ctx.error("ERR value is out of range");
    }
    let resp3 = ctx.resp3();
    key_op(ctx, |_, key| {
        ZSetOp::RandMembers {
            key,
            count,
            withscores,
            resp3,
        }
        .into()
    });
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
fn zscan(ctx: &mut Ctx) {
    let Some(cursor) = super::keys::parse_cursor(ctx.args.get(2)) else {
        return ctx.error("ERR invalid cursor");
    };
    let (count, pattern) = match scan_options(ctx.args) {
        Ok(o) => o,
        Err(e) => return scan_refused(ctx, e, Kind::ZSet),
    };
    key_op(ctx, |a, key| {
        ZSetOp::Scan {
            key,
            cursor,
            count,
            pattern: pattern.map(|p| a.push(p)),
        }
        .into()
    });
}

// ------------------------------------------------------------ algebra

/// The options of a combination.
struct CombineOpts<'a> {
    weights: Option<Vec<&'a [u8]>>,
    aggregate: Aggregate,
    withscores: bool,
    limit: u64,
}

/// Option errors Redis reports after the keys' look-ups.
#[derive(Clone, Copy)]
enum LateError {
    Syntax = 1,
    Weight = 2,
    Limit = 3,
}

impl LateError {
    fn text(code: u64) -> &'static str {
        match code {
            2 => "ERR weight value is not a float",
            3 => "ERR LIMIT can't be negative",
            _ => "ERR syntax error",
        }
    }
}

/// Redis's option loop of `zunionInterDiffGenericCommand`, from argument `j`.
fn combine_opts<'a>(
    args: &'a crate::resp::Args,
    mut j: usize,
    numkeys: usize,
    how: ZAlgebra,
    store: bool,
    card: bool,
) -> Result<CombineOpts<'a>, LateError> {
    let mut o = CombineOpts {
        weights: None,
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    while j < args.len() {
        let remaining = args.len() - j;
        let a = args.get(j);
        if how != ZAlgebra::Diff && !card && remaining > numkeys && is(a, "weights") {
            j += 1;
            let w: Vec<&[u8]> = args.iter_from(j).take(numkeys).collect();
            if w.iter().any(|x| parse_score(x).is_none()) {
                return Err(LateError::Weight);
            }
            o.weights = Some(w);
            j += numkeys;
        } else if how != ZAlgebra::Diff && !card && remaining >= 2 && is(a, "aggregate") {
            let v = args.get(j + 1);
            o.aggregate = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(LateError::Syntax);
            };
            j += 2;
        } else if !store && !card && is(a, "withscores") {
            o.withscores = true;
            j += 1;
        } else if card && remaining >= 2 && is(a, "limit") {
            match parse_int(args.get(j + 1)) {
                Some(n) if n >= 0 => o.limit = n as u64,
                _ => return Err(LateError::Limit),
            }
            j += 2;
        } else {
            return Err(LateError::Syntax);
        }
    }
    Ok(o)
}

fn zunion(ctx: &mut Ctx) {
    combine_cmd(ctx, None, 1, ZAlgebra::Union, false);
}

fn zinter(ctx: &mut Ctx) {
    combine_cmd(ctx, None, 1, ZAlgebra::Inter, false);
}

fn zdiff(ctx: &mut Ctx) {
    combine_cmd(ctx, None, 1, ZAlgebra::Diff, false);
}

fn zunionstore(ctx: &mut Ctx) {
    let dst = ctx.args.get(1);
    combine_cmd(ctx, Some(dst), 2, ZAlgebra::Union, false);
}

fn zinterstore(ctx: &mut Ctx) {
    let dst = ctx.args.get(1);
    combine_cmd(ctx, Some(dst), 2, ZAlgebra::Inter, false);
}

fn zdiffstore(ctx: &mut Ctx) {
    let dst = ctx.args.get(1);
    combine_cmd(ctx, Some(dst), 2, ZAlgebra::Diff, false);
}

fn zintercard(ctx: &mut Ctx) {
    combine_cmd(ctx, None, 1, ZAlgebra::Inter, true);
}

fn combine_cmd(ctx: &mut Ctx, dst: Option<&[u8]>, numkeys_idx: usize, how: ZAlgebra, card: bool) {
    let args = ctx.args;
    let Some(numkeys) = parse_int(args.get(numkeys_idx)) else {
        return ctx.not_integer();
    };
    if numkeys < 1 {
        let msg = format!(
            "ERR at least 1 input key is needed for '{}' command",
            ctx.cmd.name
        );
        return ctx.error(&msg);
    }
    if numkeys as u64 > (args.len() - numkeys_idx - 1) as u64 {
        return ctx.syntax_error();
    }
    let n = numkeys as usize;
    let keys: Vec<&[u8]> = args.iter_from(numkeys_idx + 1).take(n).collect();
    let opts = match combine_opts(args, numkeys_idx + 1 + n, n, how, dst.is_some(), card) {
        Ok(o) => o,
        Err(e) => return refuse_after_lookup(ctx, &keys, e),
    };
    let out_shards: Vec<usize> = keys
        .iter()
        .chain(dst.iter())
        .map(|k| ctx.router.shard_of(k))
        .collect();
    let db = ctx.session.db;
    let resp3 = ctx.resp3();
    if out_shards.iter().all(|&s| s == out_shards[0]) {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.shard_op(out_shards[0], db, |a| {
            let list = a.list(keys.iter().copied());
            let weights = opts.weights.as_ref().map(|w| a.list(w.iter().copied()));
            let out = match dst {
                Some(d) => ZCombined::Store { dst: a.push(d) },
                None if card => ZCombined::Card { limit: opts.limit },
                None => ZCombined::Reply {
                    withscores: opts.withscores,
                    resp3,
                },
            };
            ZSetOp::Combine {
                how,
                keys: list,
                weights,
                aggregate: opts.aggregate,
                out,
            }
            .into()
        });
        return;
    }
    debug_assert!(ctx.router.in_section(), "declared with a section");
    for &s in &out_shards {
        ctx.router.hold(s);
    }
    let weights: Vec<f64> = match &opts.weights {
        Some(w) => w.iter().map(|x| parse_score(x).unwrap_or(1.0)).collect(),
        None => vec![1.0; n],
    };
    let card_limit = card.then_some(opts.limit);
    let result = match how {
        ZAlgebra::Union => union_across(ctx, &keys, &weights, opts.aggregate),
        ZAlgebra::Inter => inter_across(ctx, &keys, &weights, opts.aggregate, card_limit),
        ZAlgebra::Diff => diff_across(ctx, &keys),
    };
    let (mut entries, count) = match result {
        Ok(r) => r,
        Err(e) => return ctx.error(&e),
    };
    if card {
        return ctx.reply(|o| encode::int(o, count as i64));
    }
    sort_entries(&mut entries);
    match dst {
        Some(d) => store_entries(ctx, d, &entries, how.store_event()),
        None => {
            let withscores = opts.withscores;
            ctx.reply(|o| {
                let n = if withscores && !resp3 {
                    2 * entries.len()
                } else {
                    entries.len()
                };
                encode::array(o, n);
                for (m, s) in &entries {
                    if withscores && resp3 {
                        encode::array(o, 2);
                    }
                    encode::bulk(o, m);
                    if withscores {
                        encode::double(o, *s, resp3);
                    }
                }
            });
        }
    }
}

/// Answers an option error of a combination after the keys' look-ups, as
/// Redis does: WRONGTYPE when a key is neither a sorted set nor a set.
fn refuse_after_lookup(ctx: &mut Ctx, keys: &[&[u8]], e: LateError) {
    let db = ctx.session.db;
    let groups = by_shard(ctx, keys);
    ctx.router.begin(
        ctx.conn,
        Merge::Call(Completion {
            run: refused_done,
            arg: e as u64,
        }),
    );
    for (s, idx) in &groups {
        ctx.router.shard_op(*s, db, |a| {
            ZSetOp::Cards {
                keys: a.list(idx.iter().map(|&i| keys[i])),
            }
            .into()
        });
    }
}

fn refused_done(f: &mut Finish) {
    let wrong = f.subs.iter().find_map(|(_, r)| match r {
        Reply::Err(e) => Some(crate::errors::text(e)),
        _ => None,
    });
    match wrong {
        Some(t) => encode::error(f.out, &t),
        None => encode::error(f.out, LateError::text(f.arg)),
    }
}

/// Members with their scores.
type Entries = Vec<(Vec<u8>, f64)>;

/// Every key's entries (a set's scores 1), in key order, read on their
/// shards (held).
fn entries_across(ctx: &mut Ctx, keys: &[&[u8]], how: Lookup) -> Result<Vec<Entries>, String> {
    let db = ctx.session.db;
    let groups = by_shard(ctx, keys);
    let refs: Vec<OpRef> = groups
        .iter()
        .map(|(s, idx)| {
            ctx.router.step_op(*s, db, |a| {
                ZSetOp::Entries {
                    keys: a.list(idx.iter().map(|&i| keys[i])),
                    how,
                }
                .into()
            })
        })
        .collect();
    ctx.router.exchange();
    let mut per_key: Vec<Vec<(Vec<u8>, f64)>> = vec![Vec::new(); keys.len()];
    for (r, (_, idx)) in refs.iter().zip(&groups) {
        if let Some(e) = step_error(ctx, *r) {
            return Err(e);
        }
        for (&i, entries) in idx.iter().zip(split_arrays(&tape_items(ctx, *r))) {
            per_key[i] = entries_from(&entries);
        }
    }
    Ok(per_key)
}

/// The inner arrays of a tape `[[...], [...], ...]`, each as its items.
fn split_arrays<'a>(items: &[Item<'a>]) -> Vec<Vec<Item<'a>>> {
    let mut out: Vec<Vec<Item<'a>>> = Vec::new();
    for it in items.iter().skip(1) {
        match it {
            Item::Array(_) => out.push(Vec::new()),
            other => {
                if let Some(last) = out.last_mut() {
                    last.push(*other);
                }
            }
        }
    }
    out
}

/// Every key's size (0 absent), in key order; the keys' look-ups.
fn cards_across(ctx: &mut Ctx, keys: &[&[u8]]) -> Result<Vec<usize>, String> {
    let groups = by_shard(ctx, keys);
    let sizes = ints_per_key(ctx, keys, &groups, |keys| ZSetOp::Cards { keys }.into())?;
    Ok(sizes
        .into_iter()
        .map(|n| n.unwrap_or(0).max(0) as usize)
        .collect())
}

/// The scores `keys` give `candidates` (None where a key lacks one), per
/// key in order.
fn scores_across(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    candidates: &[Vec<u8>],
) -> Result<Vec<Vec<Option<f64>>>, String> {
    let db = ctx.session.db;
    let groups = by_shard(ctx, keys);
    let refs: Vec<OpRef> = groups
        .iter()
        .map(|(s, idx)| {
            ctx.router.step_op(*s, db, |a| {
                ZSetOp::Scores {
                    keys: a.list(idx.iter().map(|&i| keys[i])),
                    members: a.list(candidates.iter().map(Vec::as_slice)),
                }
                .into()
            })
        })
        .collect();
    ctx.router.exchange();
    let mut out: Vec<Vec<Option<f64>>> = vec![Vec::new(); keys.len()];
    for (r, (_, idx)) in refs.iter().zip(&groups) {
        if let Some(e) = step_error(ctx, *r) {
            return Err(e);
        }
        for (&i, items) in idx.iter().zip(split_arrays(&tape_items(ctx, *r))) {
            out[i] = items
                .iter()
                .map(|it| match it {
                    Item::Double(s) => Some(*s),
                    _ => None,
                })
                .collect();
        }
    }
    Ok(out)
}

type Combined = Result<(Vec<(Vec<u8>, f64)>, u64), String>;

fn union_across(ctx: &mut Ctx, keys: &[&[u8]], weights: &[f64], agg: Aggregate) -> Combined {
    let per_key = entries_across(ctx, keys, Lookup::READ)?;
    let mut sources: Vec<Source> = per_key
        .into_iter()
        .zip(weights)
        .map(|(e, &w)| Source::owned(e, w))
        .collect();
    shards::ops::zset::sort_sources(&mut sources);
    Ok(combine_sources(ZAlgebra::Union, &sources, agg, None))
}

/// ZINTER across shards: every key's size; the smallest one's entries;
/// the scores the others give them.
fn inter_across(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    weights: &[f64],
    agg: Aggregate,
    card_limit: Option<u64>,
) -> Combined {
    let sizes = cards_across(ctx, keys)?;
    // Smallest first, keeping the command's order among equals.
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| sizes[i]);
    if sizes[order[0]] == 0 {
        return Ok((Vec::new(), 0));
    }
    let first = order[0];
    let smallest = entries_across(ctx, &[keys[first]], Lookup::PEEK)?
        .pop()
        .unwrap_or_default();
    let candidates: Vec<Vec<u8>> = smallest.iter().map(|(m, _)| m.clone()).collect();
    let others: Vec<&[u8]> = order[1..].iter().map(|&i| keys[i]).collect();
    let scores = scores_across(ctx, &others, &candidates)?;
    let mut sources = vec![Source::owned(smallest, weights[first])];
    for (k, &i) in order[1..].iter().enumerate() {
        let present: Vec<(Vec<u8>, f64)> = candidates
            .iter()
            .zip(&scores[k])
            .filter_map(|(m, s)| s.map(|s| (m.clone(), s)))
            .collect();
        sources.push(Source::owned(present, weights[i]));
    }
    Ok(combine_sources(ZAlgebra::Inter, &sources, agg, card_limit))
}

/// ZDIFF across shards: every key's look-up; the first key's entries;
/// which of them the others hold.
fn diff_across(ctx: &mut Ctx, keys: &[&[u8]]) -> Combined {
    let sizes = cards_across(ctx, keys)?;
    if sizes[0] == 0 {
        return Ok((Vec::new(), 0));
    }
    let first = entries_across(ctx, &keys[..1], Lookup::PEEK)?
        .pop()
        .unwrap_or_default();
    let candidates: Vec<Vec<u8>> = first.iter().map(|(m, _)| m.clone()).collect();
    let scores = scores_across(ctx, &keys[1..], &candidates)?;
    let kept: Vec<(Vec<u8>, f64)> = first
        .into_iter()
        .enumerate()
        .filter(|(j, _)| {
            scores
                .iter()
                .all(|s| s.get(*j).is_some_and(Option::is_none))
        })
        .map(|(_, e)| e)
        .collect();
    let n = kept.len() as u64;
    Ok((kept, n))
}

/// The sorted-set commands.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("zadd", -4, zadd)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "sortedset", "fast"])
        .doc("sorted-set", "1.2.0", "Add one or more members to a sorted set, or update its score if it already exists", "O(log(N)) for each item added, where N is the number of elements in the sorted set."),
    Command::new("zincrby", 4, zincrby)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "sortedset", "fast"])
        .doc("sorted-set", "1.2.0", "Increment the score of a member in a sorted set", "O(log(N)) where N is the number of elements in the sorted set."),
    Command::new("zscore", 3, zscore)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "sortedset", "fast"])
        .doc("sorted-set", "1.2.0", "Get the score associated with the given member in a sorted set", "O(1)"),
    Command::new("zmscore", -3, zmscore)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "sortedset", "fast"])
        .doc("sorted-set", "6.2.0", "Get the score associated with the given members in a sorted set", "O(N) where N is the number of members being requested."),
    Command::new("zcard", 2, zcard)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "sortedset", "fast"])
        .doc("sorted-set", "1.2.0", "Get the number of members in a sorted set", "O(1)"),
    Command::new("zcount", 4, zcount)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "sortedset", "fast"])
        .doc("sorted-set", "2.0.0", "Count the members in a sorted set with scores within the given values", "O(log(N)) with N being the number of elements in the sorted set."),
    Command::new("zlexcount", 4, zlexcount)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "sortedset", "fast"])
        .doc("sorted-set", "2.8.9", "Count the number of members in a sorted set between a given lexicographical range", "O(log(N)) with N being the number of elements in the sorted set."),
    Command::new("zrange", -4, zrange)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "sortedset", "slow"])
        .doc("sorted-set", "1.2.0", "Return a range of members in a sorted set", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."),
    Command::new("zrangestore", -5, zrangestore)
        .section(super::keys_span_shards)
        .flags(WRITE | DENYOOM)
        .keys(1, 2, 1, &[ks(&["OW", "update"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RO", "access"], Begin::Index(2), Find::Range(0, 1, 0))])
        .acl(&["write", "sortedset", "slow"])
        .doc("sorted-set", "6.2.0", "Store a range of members from sorted set into another key", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key."),
    Command::new("zrevrange", -4, zrevrange)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "sortedset", "slow"])
        .doc("sorted-set", "1.2.0", "Return a range of members in a sorted set, by index, with scores ordered from high to low", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.")
        .doc_flags(&["deprecated"])
        .deprecated("6.2.0", "`ZRANGE` with the `REV` argument"),
    Command::new("zrangebyscore", -4, zrangebyscore)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "sortedset", "slow"])
        .doc("sorted-set", "1.0.5", "Return a range of members in a sorted set, by score", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).")
        .doc_flags(&["deprecated"])
        .deprecated("6.2.0", "`ZRANGE` with the `BYSCORE` argument"),
    Command::new("zrevrangebyscore", -4, zrevrangebyscore)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "sortedset", "slow"])
        .doc("sorted-set", "2.2.0", "Return a range of members in a sorted set, by score, with scores ordered from high to low", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).")
        .doc_flags(&["deprecated"])
        .deprecated("6.2.0", "`ZRANGE` with the `REV` and `BYSCORE` arguments"),
    Command::new("zrangebylex", -4, zrangebylex)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "sortedset", "slow"])
        .doc("sorted-set", "2.8.9", "Return a range of members in a sorted set, by lexicographical range", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).")
        .doc_flags(&["deprecated"])
        .deprecated("6.2.0", "`ZRANGE` with the `BYLEX` argument"),
    Command::new("zrevrangebylex", -4, zrevrangebylex)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "sortedset", "slow"])
        .doc("sorted-set", "2.8.9", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).")
        .doc_flags(&["deprecated"])
        .deprecated("6.2.0", "`ZRANGE` with the `REV` and `BYLEX` arguments"),
    Command::new("zrank", 3, zrank)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "sortedset", "fast"])
        .doc("sorted-set", "2.0.0", "Determine the index of a member in a sorted set", "O(log(N))"),
    Command::new("zrevrank", 3, zrevrank)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "sortedset", "fast"])
        .doc("sorted-set", "2.0.0", "Determine the index of a member in a sorted set, with scores ordered from high to low", "O(log(N))"),
    Command::new("zrem", -3, zrem)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "sortedset", "fast"])
        .doc("sorted-set", "1.2.0", "Remove one or more members from a sorted set", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed."),
    Command::new("zremrangebyrank", 4, zremrangebyrank)
        .flags(WRITE)
        .keys(1, 1, 1, &[ks(&["RW", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "sortedset", "slow"])
        .doc("sorted-set", "2.0.0", "Remove all members in a sorted set within the given indexes", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."),
    Command::new("zremrangebyscore", 4, zremrangebyscore)
        .flags(WRITE)
        .keys(1, 1, 1, &[ks(&["RW", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "sortedset", "slow"])
        .doc("sorted-set", "1.2.0", "Remove all members in a sorted set within the given scores", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."),
    Command::new("zremrangebylex", 4, zremrangebylex)
        .flags(WRITE)
        .keys(1, 1, 1, &[ks(&["RW", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "sortedset", "slow"])
        .doc("sorted-set", "2.8.9", "Remove all members in a sorted set between the given lexicographical range", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."),
    Command::new("zpopmin", -2, zpopmin)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "sortedset", "fast"])
        .doc("sorted-set", "5.0.0", "Remove and return members with the lowest scores in a sorted set", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."),
    Command::new("zpopmax", -2, zpopmax)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "sortedset", "fast"])
        .doc("sorted-set", "5.0.0", "Remove and return members with the highest scores in a sorted set", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."),
    Command::new("zmpop", -4, zmpop)
        .section(super::keys_span_shards)
        .flags(WRITE | MOVABLEKEYS)
        .keys(0, 0, 0, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Keynum(0, 1, 1))])
        .acl(&["write", "sortedset", "slow"])
        .doc("sorted-set", "7.0.0", "Remove and return members with scores in a sorted set", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
    Command::new("zrandmember", -2, zrandmember)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "sortedset", "slow"])
        .tips(&["nondeterministic_output"])
        .doc("sorted-set", "6.2.0", "Get one or multiple random elements from a sorted set", "O(N) where N is the number of elements returned"),
    Command::new("zscan", -3, zscan)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "sortedset", "slow"])
        .tips(&["nondeterministic_output"])
        .doc("sorted-set", "2.8.0", "Incrementally iterate sorted sets elements and associated scores", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
    Command::new("zunion", -3, zunion)
        .section(super::keys_span_shards)
        .flags(READONLY | MOVABLEKEYS)
        .keys(0, 0, 0, &[ks(&["RO", "access"], Begin::Index(1), Find::Keynum(0, 1, 1))])
        .acl(&["read", "sortedset", "slow"])
        .doc("sorted-set", "6.2.0", "Add multiple sorted sets", "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
    Command::new("zinter", -3, zinter)
        .section(super::keys_span_shards)
        .flags(READONLY | MOVABLEKEYS)
        .keys(0, 0, 0, &[ks(&["RO", "access"], Begin::Index(1), Find::Keynum(0, 1, 1))])
        .acl(&["read", "sortedset", "slow"])
        .doc("sorted-set", "6.2.0", "Intersect multiple sorted sets", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    Command::new("zdiff", -3, zdiff)
        .section(super::keys_span_shards)
        .flags(READONLY | MOVABLEKEYS)
        .keys(0, 0, 0, &[ks(&["RO", "access"], Begin::Index(1), Find::Keynum(0, 1, 1))])
        .acl(&["read", "sortedset", "slow"])
        .doc("sorted-set", "6.2.0", "Subtract multiple sorted sets", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."),
    Command::new("zunionstore", -4, zunionstore)
        .section(super::keys_span_shards)
        .flags(WRITE | DENYOOM | MOVABLEKEYS)
        .keys(1, 1, 1, &[ks(&["OW", "update"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RO", "access"], Begin::Index(2), Find::Keynum(0, 1, 1))])
        .acl(&["write", "sortedset", "slow"])
        .doc("sorted-set", "2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
    Command::new("zinterstore", -4, zinterstore)
        .section(super::keys_span_shards)
        .flags(WRITE | DENYOOM | MOVABLEKEYS)
        .keys(1, 1, 1, &[ks(&["OW", "update"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RO", "access"], Begin::Index(2), Find::Keynum(0, 1, 1))])
        .acl(&["write", "sortedset", "slow"])
        .doc("sorted-set", "2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    Command::new("zdiffstore", -4, zdiffstore)
        .section(super::keys_span_shards)
        .flags(WRITE | DENYOOM | MOVABLEKEYS)
        .keys(1, 1, 1, &[ks(&["OW", "update"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RO", "access"], Begin::Index(2), Find::Keynum(0, 1, 1))])
        .acl(&["write", "sortedset", "slow"])
        .doc("sorted-set", "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."),
    Command::new("zintercard", -3, zintercard)
        .section(super::keys_span_shards)
        .flags(READONLY | MOVABLEKEYS)
        .keys(0, 0, 0, &[ks(&["RO", "access"], Begin::Index(1), Find::Keynum(0, 1, 1))])
        .acl(&["read", "sortedset", "slow"])
        .doc("sorted-set", "7.0.0", "Intersect multiple sorted sets and return the cardinality of the result", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets."),
];
