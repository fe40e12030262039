//! List commands (Redis 7.0's `t_list.c`). Every single-key command is one
//! op on the key's shard, its arguments checked here first in Redis's
//! order. LMOVE/RPOPLPUSH and LMPOP are one op when their keys share a
//! shard; otherwise they run in a section holding those shards, assembled
//! from the engine's pieces (`ListOp::Peek`/`Check`, then `Pop` and `Push`;
//! `Lens`, then `MPop`), so no client sees half a move.

use super::spec::{flags::*, ks, Begin, Command, Find};
use super::steps::{by_shard, first_holding, step_error};
use super::{c_str, parse_int, Ctx};
use crate::exchange::{encode_reply, Merge, OpRef};
use crate::resp::encode;
use shards::ops::list::ListOp;
use shards::value::list::Side;
use shards::{Arg, Op, Reply};

/// One op on the key (argument 1), answered as it is.
fn key_op(ctx: &mut Ctx, build: impl FnOnce(&mut shards::batch::Args, Arg) -> Op) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router.key_op(ctx.session.db, ctx.args.get(1), build);
}

/// Answers with a step's reply as the shard gave it.
pub(super) fn forward(ctx: &mut Ctx, r: OpRef) {
    let resp3 = ctx.resp3();
    let mut bytes = Vec::new();
    {
        let (b, reply) = ctx.router.reply_of(r);
        encode_reply(&mut bytes, b, reply, resp3);
    }
    ctx.reply(|o| o.extend_from_slice(&bytes));
}

/// `LEFT` or `RIGHT` (Redis's `getListPositionFromObjectOrReply`).
pub(super) fn side_of(arg: &[u8]) -> Option<Side> {
    let a = c_str(arg);
    if a.eq_ignore_ascii_case(b"left") {
        Some(Side::Left)
    } else if a.eq_ignore_ascii_case(b"right") {
        Some(Side::Right)
    } else {
        None
    }
}

/// Redis's `getPositiveLongFromObjectOrReply` with its default text, used
/// for a non-integer too.
fn positive(ctx: &mut Ctx, arg: &[u8]) -> Option<u64> {
    match parse_int(arg) {
        Some(n) if n >= 0 => Some(n as u64),
        _ => {
            ctx.error("ERR value is out of range, must be positive");
            None
        }
    }
}

fn push(ctx: &mut Ctx, side: Side, existing_only: bool) {
    let args = ctx.args;
    key_op(ctx, |a, key| {
        ListOp::Push {
            key,
            side,
            elems: a.list(args.iter_from(2)),
            existing_only,
        }
        .into()
    });
}

fn lpush(ctx: &mut Ctx) {
    push(ctx, Side::Left, false);
}

fn rpush(ctx: &mut Ctx) {
    push(ctx, Side::Right, false);
}

fn lpushx(ctx: &mut Ctx) {
    push(ctx, Side::Left, true);
}

fn rpushx(ctx: &mut Ctx) {
    push(ctx, Side::Right, true);
}

/// LPOP / RPOP key [count]: the count is checked before the look-up.
fn pop(ctx: &mut Ctx, side: Side) {
    if ctx.args.len() > 3 {
        return ctx.arity_error(ctx.cmd.name);
    }
    let count = if ctx.args.len() == 3 {
        match positive(ctx, ctx.args.get(2)) {
            Some(c) => Some(c),
            None => return,
        }
    } else {
        None
    };
    key_op(ctx, |_, key| ListOp::Pop { key, side, count }.into());
}

fn lpop(ctx: &mut Ctx) {
    pop(ctx, Side::Left);
}

fn rpop(ctx: &mut Ctx) {
    pop(ctx, Side::Right);
}

fn llen(ctx: &mut Ctx) {
    key_op(ctx, |_, key| ListOp::Len { key }.into());
}

/// Two integer arguments (LRANGE, LTRIM), checked before the look-up.
fn two_ints(ctx: &mut Ctx) -> Option<(i64, i64)> {
    match (parse_int(ctx.args.get(2)), parse_int(ctx.args.get(3))) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => {
            ctx.not_integer();
            None
        }
    }
}

fn lrange(ctx: &mut Ctx) {
    let Some((start, stop)) = two_ints(ctx) else {
        return;
    };
    key_op(ctx, |_, key| ListOp::Range { key, start, stop }.into());
}

fn ltrim(ctx: &mut Ctx) {
    let Some((start, stop)) = two_ints(ctx) else {
        return;
    };
    key_op(ctx, |_, key| ListOp::Trim { key, start, stop }.into());
}

/// LINDEX key index: the index is parsed after the key's checks.
fn lindex(ctx: &mut Ctx) {
    let index = ctx.args.get(2);
    key_op(ctx, |a, key| {
        ListOp::Index {
            key,
            index: a.push(index),
        }
        .into()
    });
}

/// LSET key index element: the index is parsed after the key's checks.
fn lset(ctx: &mut Ctx) {
    let (index, elem) = (ctx.args.get(2), ctx.args.get(3));
    key_op(ctx, |a, key| {
        ListOp::Set {
            key,
            index: a.push(index),
            elem: a.push(elem),
        }
        .into()
    });
}

/// LINSERT key BEFORE|AFTER pivot element
fn linsert(ctx: &mut Ctx) {
    let w = c_str(ctx.args.get(2));
    let before = if w.eq_ignore_ascii_case(b"after") {
        false
    } else if w.eq_ignore_ascii_case(b"before") {
        true
    } else {
        return ctx.syntax_error();
    };
    let (pivot, elem) = (ctx.args.get(3), ctx.args.get(4));
    key_op(ctx, |a, key| {
        ListOp::Insert {
            key,
            before,
            pivot: a.push(pivot),
            elem: a.push(elem),
        }
        .into()
    });
}

/// LREM key count element: the count is checked before the look-up.
fn lrem(ctx: &mut Ctx) {
    let Some(count) = parse_int(ctx.args.get(2)) else {
        return ctx.not_integer();
    };
    let elem = ctx.args.get(3);
    key_op(ctx, |a, key| {
        ListOp::Rem {
            key,
            count,
            elem: a.push(elem),
        }
        .into()
    });
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(ctx: &mut Ctx) {
    let args = ctx.args;
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0u64);
    let mut j = 3;
    while j < args.len() {
        let opt = c_str(args.get(j));
        let more = j + 1 < args.len();
        if more && opt.eq_ignore_ascii_case(b"rank") {
            j += 1;
            let Some(r) = parse_int(args.get(j)) else {
                return ctx.not_integer();
            };
            if r == 0 {
                return ctx.error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
            }
            // Redis negates the rank: the least one stays negative and
            // every match qualifies, as for -1.
            rank = if r == i64::MIN { -1 } else { r };
        } else if more && opt.eq_ignore_ascii_case(b"count") {
            j += 1;
            match parse_int(args.get(j)) {
                Some(c) if c >= 0 => count = Some(c as u64),
                _ => return ctx.error("ERR COUNT can't be negative"),
            }
        } else if more && opt.eq_ignore_ascii_case(b"maxlen") {
            j += 1;
            match parse_int(args.get(j)) {
                Some(m) if m >= 0 => maxlen = m as u64,
                _ => return ctx.error("ERR MAXLEN can't be negative"),
            }
        } else {
            return ctx.syntax_error();
        }
        j += 1;
    }
    let elem = args.get(2);
    key_op(ctx, |a, key| {
        ListOp::Pos {
            key,
            elem: a.push(elem),
            rank,
            count,
            maxlen,
        }
        .into()
    });
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
fn lmove(ctx: &mut Ctx) {
    let (Some(from), Some(to)) = (side_of(ctx.args.get(3)), side_of(ctx.args.get(4))) else {
        return ctx.syntax_error();
    };
    move_in(ctx, from, to);
}

/// RPOPLPUSH source destination
fn rpoplpush(ctx: &mut Ctx) {
    move_in(ctx, Side::Right, Side::Left);
}

/// LMOVE's work: one op when both keys share a shard; otherwise, holding
/// both shards: the source's element and the destination's type, then
/// the pop and the push together.
pub(super) fn move_in(ctx: &mut Ctx, from: Side, to: Side) {
    let (src, dst) = (ctx.args.get(1), ctx.args.get(2));
    let db = ctx.session.db;
    let (s1, s2) = (ctx.router.shard_of(src), ctx.router.shard_of(dst));
    if s1 == s2 {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.shard_op(s1, db, |a| {
            ListOp::Move {
                src: a.push(src),
                dst: a.push(dst),
                from,
                to,
            }
            .into()
        });
        return;
    }
    debug_assert!(ctx.router.in_section(), "declared with a section");
    ctx.router.hold(s1);
    ctx.router.hold(s2);
    let peek = ctx.router.step_op(s1, db, |a| {
        ListOp::Peek {
            key: a.push(src),
            side: from,
        }
        .into()
    });
    let check = ctx
        .router
        .step_op(s2, db, |a| ListOp::Check { key: a.push(dst) }.into());
    ctx.router.exchange();
    // Redis: an absent source answers nil before the destination's type.
    let elem = match ctx.router.reply_of(peek) {
        (b, Reply::Bulk(s)) => b.payload(*s).to_vec(),
        _ => return forward(ctx, peek),
    };
    if let Some(e) = step_error(ctx, check) {
        return ctx.error(&e);
    }
    let popped = ctx.router.step_op(s1, db, |a| {
        ListOp::Pop {
            key: a.push(src),
            side: from,
            count: None,
        }
        .into()
    });
    let pushed = ctx.router.step_op(s2, db, |a| {
        ListOp::Push {
            key: a.push(dst),
            side: to,
            elems: a.list([&elem[..]]),
            existing_only: false,
        }
        .into()
    });
    ctx.router.exchange();
    for r in [popped, pushed] {
        if let Some(e) = step_error(ctx, r) {
            return ctx.error(&e);
        }
    }
    ctx.reply(|o| encode::bulk(o, &elem));
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn lmpop(ctx: &mut Ctx) {
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
    let Some(side) = side_of(args.get(where_idx)) else {
        return ctx.syntax_error();
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none()
            && c_str(args.get(j)).eq_ignore_ascii_case(b"count")
            && j + 1 < args.len()
        {
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
    mpop_in(ctx, &keys, side, count);
}

/// LMPOP's work: one op when every key shares a shard; otherwise, holding
/// their shards: which key Redis would pop (the first that exists, in
/// command order), then the pop.
fn mpop_in(ctx: &mut Ctx, keys: &[&[u8]], side: Side, count: u64) {
    let db = ctx.session.db;
    let groups = by_shard(ctx, keys);
    if groups.len() == 1 {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.shard_op(groups[0].0, db, |a| {
            ListOp::MPop {
                keys: a.list(keys.iter().copied()),
                side,
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
    let i = match first_holding(ctx, keys, &groups, |keys| ListOp::Lens { keys }.into()) {
        Err(e) => return ctx.error(&e),
        Ok(None) => {
            let resp3 = ctx.resp3();
            return ctx.reply(|o| encode::null_array(o, resp3));
        }
        Ok(Some(i)) => i,
    };
    let s = ctx.router.shard_of(keys[i]);
    let r = ctx.router.step_op(s, db, |a| {
        ListOp::MPop {
            keys: a.list([keys[i]]),
            side,
            count,
        }
        .into()
    });
    ctx.router.exchange();
    forward(ctx, r);
}

/// The list commands.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("lpush", -3, lpush)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "insert"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "list", "fast"])
        .doc("list", "1.0.0", "Prepend one or multiple elements to a list", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    Command::new("rpush", -3, rpush)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "insert"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "list", "fast"])
        .doc("list", "1.0.0", "Append one or multiple elements to a list", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    Command::new("lpushx", -3, lpushx)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "insert"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "list", "fast"])
        .doc("list", "2.2.0", "Prepend an element to a list, only if the list exists", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    Command::new("rpushx", -3, rpushx)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "insert"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "list", "fast"])
        .doc("list", "2.2.0", "Append an element to a list, only if the list exists", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    Command::new("lpop", -2, lpop)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "list", "fast"])
        .doc("list", "1.0.0", "Remove and get the first elements in a list", "O(N) where N is the number of elements returned"),
    Command::new("rpop", -2, rpop)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "list", "fast"])
        .doc("list", "1.0.0", "Remove and get the last elements in a list", "O(N) where N is the number of elements returned"),
    Command::new("llen", 2, llen)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "list", "fast"])
        .doc("list", "1.0.0", "Get the length of a list", "O(1)"),
    Command::new("lrange", 4, lrange)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "list", "slow"])
        .doc("list", "1.0.0", "Get a range of elements from a list", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range."),
    Command::new("lindex", 3, lindex)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "list", "slow"])
        .doc("list", "1.0.0", "Get an element from a list by its index", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1)."),
    Command::new("lset", 4, lset)
        .flags(WRITE | DENYOOM)
        .keys(1, 1, 1, &[ks(&["RW", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "list", "slow"])
        .doc("list", "1.0.0", "Set the value of an element in a list by its index", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1)."),
    Command::new("linsert", 5, linsert)
        .flags(WRITE | DENYOOM)
        .keys(1, 1, 1, &[ks(&["RW", "insert"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "list", "slow"])
        .doc("list", "2.2.0", "Insert an element before or after another element in a list", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N)."),
    Command::new("lrem", 4, lrem)
        .flags(WRITE)
        .keys(1, 1, 1, &[ks(&["RW", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "list", "slow"])
        .doc("list", "1.0.0", "Remove elements from a list", "O(N+M) where N is the length of the list and M is the number of elements removed."),
    Command::new("ltrim", 4, ltrim)
        .flags(WRITE)
        .keys(1, 1, 1, &[ks(&["RW", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "list", "slow"])
        .doc("list", "1.0.0", "Trim a list to the specified range", "O(N) where N is the number of elements to be removed by the operation."),
    Command::new("lpos", -3, lpos)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "list", "slow"])
        .doc("list", "6.0.6", "Return the index of matching elements on a list", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time."),
    Command::new("lmove", 5, lmove)
        .section(super::keys_span_shards)
        .flags(WRITE | DENYOOM)
        .keys(1, 2, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RW", "insert"], Begin::Index(2), Find::Range(0, 1, 0))])
        .acl(&["write", "list", "slow"])
        .doc("list", "6.2.0", "Pop an element from a list, push it to another list and return it", "O(1)"),
    Command::new("rpoplpush", 3, rpoplpush)
        .section(super::keys_span_shards)
        .flags(WRITE | DENYOOM)
        .keys(1, 2, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RW", "insert"], Begin::Index(2), Find::Range(0, 1, 0))])
        .acl(&["write", "list", "slow"])
        .doc("list", "1.2.0", "Remove the last element in a list, prepend it to another list and return it", "O(1)")
        .doc_flags(&["deprecated"])
        .deprecated("6.2.0", "`LMOVE` with the `RIGHT` and `LEFT` arguments"),
    Command::new("lmpop", -4, lmpop)
        .section(super::keys_span_shards)
        .flags(WRITE | MOVABLEKEYS)
        .keys(0, 0, 0, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Keynum(0, 1, 1))])
        .acl(&["write", "list", "slow"])
        .doc("list", "7.0.0", "Pop elements from a list", "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
];
