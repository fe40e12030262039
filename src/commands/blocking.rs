//! Blocking list and sorted-set pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
//! BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP (Redis 7.0's `t_list.c`, `t_zset.c`
//! and `blocked.c`), and CLIENT UNBLOCK.
//!
//! Each runs as a deferred command (its connection's next commands wait
//! for it, and its reply, or its registration and the session's
//! `BlockWait`, are settled before the worker looks at its inbox again), so
//! looking for a key to pop and registering the client when there is none
//! are one step as far as any push is concerned: on one shard a single
//! `BlockOp::Try`, which needs no hold; across shards, holding their
//! shards, a `Probe` of each (Redis pops the first key that exists, in
//! command order), then the pop or a `Register` on every shard. A key
//! found answers as the non-blocking form; inside MULTI nothing blocks and
//! an empty result is the command's nil. Otherwise the session keeps a
//! `BlockWait` and the worker waits (see `crate::blocking`).

use super::list::{forward, move_in, side_of};
use super::spec::{flags::*, ks, Begin, Command, Find};
use super::steps::{by_shard, step_error, tape_items};
use super::{c_str, parse_int, Ctx};
use crate::blocking::{parse_timeout, BlockWait, Shape};
use crate::exchange::{OpRef, Router};
use crate::resp::{encode, Args};
use shards::keyspace::blocked::{Outcome, Served, Waiter, Want};
use shards::ops::block::{BlockOp, BLOCKED};
use shards::tape::Item;
use shards::value::list::Side;
use shards::Reply;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Every blocking command runs deferred (see the module doc).
pub(super) fn always(_: &Args, _: &Router) -> bool {
    true
}

/// The deadline of timeout argument `arg` (0: none), or its error replied.
pub(super) fn deadline(ctx: &mut Ctx, arg: &[u8]) -> Option<u64> {
    match parse_timeout(arg) {
        Ok(0) => Some(0),
        Ok(ms) => Some(ctx.now_ms.saturating_add(ms).max(1)),
        Err(e) => {
            ctx.error(e);
            None
        }
    }
}

/// BLPOP / BRPOP / BZPOPMIN / BZPOPMAX key [key ...] timeout
fn single(ctx: &mut Ctx, want: Want, shape: Shape) {
    let n = ctx.args.len();
    let Some(deadline) = deadline(ctx, ctx.args.get(n - 1)) else {
        return;
    };
    let keys: Vec<&[u8]> = ctx.args.iter_from(1).take(n - 2).collect();
    wait(ctx, &keys, want, shape, deadline);
}

fn blpop(ctx: &mut Ctx) {
    let want = Want::List {
        side: Side::Left,
        count: 1,
    };
    single(ctx, want, Shape::Pop);
}

fn brpop(ctx: &mut Ctx) {
    let want = Want::List {
        side: Side::Right,
        count: 1,
    };
    single(ctx, want, Shape::Pop);
}

fn bzpopmin(ctx: &mut Ctx) {
    let want = Want::ZSet {
        max: false,
        count: 1,
    };
    single(ctx, want, Shape::ZPop);
}

fn bzpopmax(ctx: &mut Ctx) {
    let want = Want::ZSet {
        max: true,
        count: 1,
    };
    single(ctx, want, Shape::ZPop);
}

/// BLMPOP / BZMPOP timeout numkeys key [key ...] where [COUNT count]: the
/// timeout first, then LMPOP's checks in its order. `ends` names the two
/// `where` words (the second one: `true`).
fn multi_pop(ctx: &mut Ctx, ends: [&str; 2], zset: bool) {
    let args = ctx.args;
    let Some(deadline) = deadline(ctx, args.get(1)) else {
        return;
    };
    let numkeys = match parse_int(args.get(2)) {
        Some(n) if n >= 1 => n as u64,
        _ => return ctx.error("ERR numkeys should be greater than 0"),
    };
    let where_idx = numkeys.saturating_add(3);
    if where_idx >= args.len() as u64 {
        return ctx.syntax_error();
    }
    let where_idx = where_idx as usize;
    let w = c_str(args.get(where_idx));
    let second = if w.eq_ignore_ascii_case(ends[0].as_bytes()) {
        false
    } else if w.eq_ignore_ascii_case(ends[1].as_bytes()) {
        true
    } else {
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
    let keys: Vec<&[u8]> = args.iter_from(3).take(numkeys as usize).collect();
    if zset {
        let want = Want::ZSet { max: second, count };
        wait(ctx, &keys, want, Shape::ZMPop, deadline);
    } else {
        let side = if second { Side::Right } else { Side::Left };
        wait(
            ctx,
            &keys,
            Want::List { side, count },
            Shape::MPop,
            deadline,
        );
    }
}

fn blmpop(ctx: &mut Ctx) {
    multi_pop(ctx, ["left", "right"], false);
}

fn bzmpop(ctx: &mut Ctx) {
    multi_pop(ctx, ["min", "max"], true);
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
fn blmove(ctx: &mut Ctx) {
    let (Some(from), Some(to)) = (side_of(ctx.args.get(3)), side_of(ctx.args.get(4))) else {
        return ctx.syntax_error();
    };
    let Some(deadline) = deadline(ctx, ctx.args.get(5)) else {
        return;
    };
    wait_move(ctx, from, to, deadline);
}

/// BRPOPLPUSH source destination timeout
fn brpoplpush(ctx: &mut Ctx) {
    let Some(deadline) = deadline(ctx, ctx.args.get(3)) else {
        return;
    };
    wait_move(ctx, Side::Right, Side::Left, deadline);
}

/// A new waiter for this connection, or None inside a transaction (which
/// never blocks).
pub(super) fn waiter(ctx: &Ctx, want: &Want) -> Option<Arc<Waiter>> {
    if ctx.session.executing {
        return None;
    }
    Some(Arc::new(Waiter {
        claim: Arc::new(AtomicBool::new(false)),
        client: ctx.session.id,
        token: ctx.conn,
        want: want.clone(),
        notify: ctx.shared.blocking.inbox(ctx.session.client.worker),
    }))
}

/// True when step `r` left the client registered.
fn blocked(ctx: &Ctx, r: OpRef) -> bool {
    matches!(ctx.router.reply_of(r).1, Reply::Status(s) if *s == BLOCKED)
}

/// The client waits: the worker sees the session's `BlockWait`.
pub(super) fn enter(ctx: &mut Ctx, w: &Waiter, shape: Shape, deadline: u64, shards: Vec<u16>) {
    let silent = ctx.router.conn_flags() & crate::exchange::reply_flags::SILENT != 0;
    ctx.session.block = Some(Box::new(BlockWait {
        claim: w.claim.clone(),
        deadline,
        shape,
        shards,
        silent,
    }));
}

/// The deadline a run keeps: a command run again after a BLMOVE's source
/// became ready keeps its first deadline.
pub(super) fn kept_deadline(ctx: &mut Ctx, deadline: u64) -> u64 {
    ctx.session.block.take().map_or(deadline, |b| b.deadline)
}

/// Pops from the first of `keys` that exists, or blocks on all of them.
fn wait(ctx: &mut Ctx, keys: &[&[u8]], want: Want, shape: Shape, deadline: u64) {
    let deadline = kept_deadline(ctx, deadline);
    let many = matches!(shape, Shape::MPop | Shape::ZMPop);
    let zset = matches!(want, Want::ZSet { .. });
    let db = ctx.session.db;
    let groups = by_shard(ctx, keys);
    let waiter = waiter(ctx, &want);
    // On one shard the `Try` alone pops or registers, atomically: no hold.
    if groups.len() > 1 {
        for (s, _) in &groups {
            ctx.router.hold(*s);
        }
    }
    if groups.len() == 1 {
        let w = waiter.clone();
        let r = ctx.router.step_op(groups[0].0, db, |a| {
            BlockOp::Try {
                keys: a.list(keys.iter().copied()),
                want,
                many,
                waiter: w,
            }
            .into()
        });
        ctx.router.exchange();
        match waiter {
            Some(w) if blocked(ctx, r) => enter(ctx, &w, shape, deadline, vec![groups[0].0 as u16]),
            _ => forward(ctx, r),
        }
        return;
    }
    let refs: Vec<OpRef> = groups
        .iter()
        .map(|(s, idx)| {
            ctx.router.step_op(*s, db, |a| {
                BlockOp::Probe {
                    keys: a.list(idx.iter().map(|&i| keys[i])),
                    zset,
                }
                .into()
            })
        })
        .collect();
    ctx.router.exchange();
    let mut codes = vec![0i64; keys.len()];
    for (r, (_, idx)) in refs.iter().zip(&groups) {
        if let Some(e) = step_error(ctx, *r) {
            return ctx.error(&e);
        }
        let ints = tape_items(ctx, *r).into_iter().filter_map(|i| match i {
            Item::Int(n) => Some(n),
            _ => None,
        });
        for (&i, n) in idx.iter().zip(ints) {
            codes[i] = n;
        }
    }
    match codes.iter().position(|&c| c != 0) {
        Some(i) if codes[i] < 0 => ctx.error(&crate::errors::text(&shards::Error::WrongType)),
        Some(i) => {
            let s = ctx.router.shard_of(keys[i]);
            let r = ctx.router.step_op(s, db, |a| {
                BlockOp::Try {
                    keys: a.list([keys[i]]),
                    want,
                    many,
                    waiter: None,
                }
                .into()
            });
            ctx.router.exchange();
            forward(ctx, r);
        }
        None => {
            let Some(w) = waiter else {
                let resp3 = ctx.resp3();
                return ctx.reply(|o| encode::null_array(o, resp3));
            };
            for (s, idx) in &groups {
                ctx.router.step_op(*s, db, |a| {
                    BlockOp::Register {
                        keys: a.list(idx.iter().map(|&i| keys[i])),
                        waiter: w.clone(),
                    }
                    .into()
                });
            }
            ctx.router.exchange();
            let shards = groups.iter().map(|(s, _)| *s as u16).collect();
            enter(ctx, &w, shape, deadline, shards);
        }
    }
}

/// BLMOVE's work: LMOVE when the source exists, else block on it. With the
/// destination on another shard, the source's shard hands a ready source
/// back to the worker, which runs the command again.
fn wait_move(ctx: &mut Ctx, from: Side, to: Side, deadline: u64) {
    let deadline = kept_deadline(ctx, deadline);
    let (src, dst) = (ctx.args.get(1), ctx.args.get(2));
    let db = ctx.session.db;
    let (s1, s2) = (ctx.router.shard_of(src), ctx.router.shard_of(dst));
    if s1 != s2 {
        ctx.router.hold(s1);
        ctx.router.hold(s2);
    }
    let want = Want::Move {
        dst: dst.to_vec(),
        from,
        to,
        here: s1 == s2,
    };
    let waiter = waiter(ctx, &want);
    if s1 == s2 {
        let w = waiter.clone();
        let r = ctx.router.step_op(s1, db, |a| {
            BlockOp::Try {
                keys: a.list([src]),
                want,
                many: false,
                waiter: w,
            }
            .into()
        });
        ctx.router.exchange();
        match waiter {
            Some(w) if blocked(ctx, r) => enter(ctx, &w, Shape::Move, deadline, vec![s1 as u16]),
            _ => forward(ctx, r),
        }
        return;
    }
    let probe = ctx.router.step_op(s1, db, |a| {
        BlockOp::Probe {
            keys: a.list([src]),
            zset: false,
        }
        .into()
    });
    ctx.router.exchange();
    let code = tape_items(ctx, probe)
        .into_iter()
        .find_map(|i| match i {
            Item::Int(n) => Some(n),
            _ => None,
        })
        .unwrap_or(0);
    if code != 0 {
        // LMOVE's own steps answer, WRONGTYPE included.
        return move_in(ctx, from, to);
    }
    let Some(w) = waiter else {
        let resp3 = ctx.resp3();
        return ctx.reply(|o| encode::null(o, resp3));
    };
    ctx.router.step_op(s1, db, |a| {
        BlockOp::Register {
            keys: a.list([src]),
            waiter: w.clone(),
        }
        .into()
    });
    ctx.router.exchange();
    enter(ctx, &w, Shape::Move, deadline, vec![s1 as u16]);
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]
fn client_unblock(ctx: &mut Ctx) {
    let args = ctx.args;
    if args.len() > 4 {
        // Redis quotes the subcommand as it was typed.
        let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
        msg.extend_from_slice(args.get(1));
        msg.extend_from_slice(b"'. Try CLIENT HELP.");
        return ctx.reply(|o| encode::error_bytes(o, &msg));
    }
    let mut error = false;
    if args.len() == 4 {
        let r = c_str(args.get(3));
        if r.eq_ignore_ascii_case(b"error") {
            error = true;
        } else if !r.eq_ignore_ascii_case(b"timeout") {
            return ctx.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        }
    }
    let Some(id) = parse_int(args.get(2)) else {
        return ctx.not_integer();
    };
    let target = ctx
        .shared
        .registry
        .snapshot()
        .into_iter()
        .find(|c| c.id as i64 == id);
    let done = target.is_some_and(|c| {
        if !c.claim_block() {
            return false;
        }
        use shards::keyspace::blocked::Notify;
        ctx.shared.blocking.inbox(c.worker).post(Served {
            client: c.id,
            token: c.token,
            outcome: Outcome::Unblocked { error },
        });
        true
    });
    ctx.reply(|o| encode::int(o, done as i64));
}

/// CLIENT UNBLOCK's declaration, listed among CLIENT's subcommands.
pub(super) const CLIENT_UNBLOCK: Command = Command::new("client|unblock", -3, client_unblock)
    .flags(ADMIN | NOSCRIPT | LOADING | STALE | LOCAL)
    .acl(&["admin", "slow", "dangerous", "connection"])
    .doc(
        "connection",
        "5.0.0",
        "Unblock a client blocked in a blocking command from a different connection",
        "O(log N) where N is the number of client connections",
    );

/// The blocking commands.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("blpop", -3, blpop)
        .section(always)
        .flags(WRITE | NOSCRIPT | BLOCKING)
        .keys(1, -2, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(-2, 1, 0))])
        .acl(&["write", "list", "slow", "blocking"])
        .doc("list", "2.0.0", "Remove and get the first element in a list, or block until one is available", "O(N) where N is the number of provided keys."),
    Command::new("brpop", -3, brpop)
        .section(always)
        .flags(WRITE | NOSCRIPT | BLOCKING)
        .keys(1, -2, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(-2, 1, 0))])
        .acl(&["write", "list", "slow", "blocking"])
        .doc("list", "2.0.0", "Remove and get the last element in a list, or block until one is available", "O(N) where N is the number of provided keys."),
    Command::new("brpoplpush", 4, brpoplpush)
        .section(always)
        .flags(WRITE | DENYOOM | NOSCRIPT | BLOCKING)
        .keys(1, 2, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RW", "insert"], Begin::Index(2), Find::Range(0, 1, 0))])
        .acl(&["write", "list", "slow", "blocking"])
        .doc("list", "2.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available", "O(1)")
        .doc_flags(&["deprecated"])
        .deprecated("6.2.0", "`BLMOVE` with the `RIGHT` and `LEFT` arguments"),
    Command::new("blmove", 6, blmove)
        .section(always)
        .flags(WRITE | DENYOOM | NOSCRIPT | BLOCKING)
        .keys(1, 2, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RW", "insert"], Begin::Index(2), Find::Range(0, 1, 0))])
        .acl(&["write", "list", "slow", "blocking"])
        .doc("list", "6.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available", "O(1)"),
    Command::new("blmpop", -5, blmpop)
        .section(always)
        .flags(WRITE | BLOCKING | MOVABLEKEYS)
        .keys(0, 0, 0, &[ks(&["RW", "access", "delete"], Begin::Index(2), Find::Keynum(0, 1, 1))])
        .acl(&["write", "list", "slow", "blocking"])
        .doc("list", "7.0.0", "Pop elements from a list, or block until one is available", "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
    Command::new("bzpopmin", -3, bzpopmin)
        .section(always)
        .flags(WRITE | NOSCRIPT | BLOCKING | FAST)
        .keys(1, -2, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(-2, 1, 0))])
        .acl(&["write", "sortedset", "fast", "blocking"])
        .doc("sorted-set", "5.0.0", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "O(log(N)) with N being the number of elements in the sorted set."),
    Command::new("bzpopmax", -3, bzpopmax)
        .section(always)
        .flags(WRITE | NOSCRIPT | BLOCKING | FAST)
        .keys(1, -2, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(-2, 1, 0))])
        .acl(&["write", "sortedset", "fast", "blocking"])
        .doc("sorted-set", "5.0.0", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "O(log(N)) with N being the number of elements in the sorted set."),
    Command::new("bzmpop", -5, bzmpop)
        .section(always)
        .flags(WRITE | BLOCKING | MOVABLEKEYS)
        .keys(0, 0, 0, &[ks(&["RW", "access", "delete"], Begin::Index(2), Find::Keynum(0, 1, 1))])
        .acl(&["write", "sortedset", "slow", "blocking"])
        .doc("sorted-set", "7.0.0", "Remove and return members with scores in a sorted set or block until one is available", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
];
