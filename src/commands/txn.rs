//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH (Redis's `multi.c`).
//!
//! Between MULTI and EXEC a connection's commands are checked (name, arity)
//! and queued in its `Session`. EXEC dispatches them in order, like any
//! pipeline, behind one `*N` header. Atomicity across shards comes from the
//! router: the EXEC's ops on each shard run in one batch with nothing in
//! between, and a round whose commands span shards is sent under the
//! server-wide order lock, so every shard places the whole transaction at
//! the same point among the other multi-shard commands.
//!
//! Two cases need more than one exchange and run as a deferred section
//! (the shards involved are held, see `Router::hold`): EXEC after WATCH
//! (the watched shards must confirm no key changed before anything runs)
//! and transactions containing a command whose later step depends on an
//! earlier one across shards (RENAME, COPY, MSETNX over several shards).

use super::spec::{flags::*, ks, Begin, Command, Find};
use super::{dispatch, resolve, Ctx};
use crate::exchange::{Merge, NO_CONN};
use crate::resp::{encode, Args};
use shards::ops::keys::KeyOp;
use shards::ops::server::SrvOp;
use shards::Reply;

/// MULTI
fn multi(ctx: &mut Ctx) {
    if ctx.session.multi.is_some() {
        ctx.error("ERR MULTI calls can not be nested");
        return;
    }
    ctx.session.multi = Some(Box::default());
    ctx.reply(encode::ok);
}

/// DISCARD
fn discard(ctx: &mut Ctx) {
    if ctx.session.multi.take().is_none() {
        ctx.error("ERR DISCARD without MULTI");
        return;
    }
    forget_watches(ctx, NO_CONN);
    ctx.reply(encode::ok);
}

/// WATCH key [key ...]
fn watch(ctx: &mut Ctx) {
    if ctx.session.multi.is_some() {
        ctx.error("ERR WATCH inside MULTI is not allowed");
        return;
    }
    ctx.router.begin(ctx.conn, Merge::AllOk);
    for key in ctx.args.iter_from(1) {
        let shard = ctx.router.shard_of(key);
        ctx.session.note_watch(shard);
        let client = ctx.session.id;
        ctx.router.key_op(ctx.session.db, key, |_, key| {
            KeyOp::Watch { key, client }.into()
        });
    }
}

/// UNWATCH
fn unwatch(ctx: &mut Ctx) {
    if ctx.session.watched.is_empty() {
        ctx.reply(encode::ok);
    } else {
        forget_watches(ctx, ctx.conn);
    }
}

/// Queues Unwatch ops for every shard the session watches on; the reply
/// (`+OK`) goes to `conn`, or nowhere for `NO_CONN`.
pub fn forget_watches(ctx: &mut Ctx, conn: usize) {
    if ctx.session.watched.is_empty() {
        return;
    }
    ctx.router.begin(conn, Merge::AllOk);
    for shard in std::mem::take(&mut ctx.session.watched) {
        let client = ctx.session.id;
        ctx.router
            .shard_op(shard as usize, 0, |_| SrvOp::Unwatch { client }.into());
    }
}

/// True when queued command `args` needs a section of its own: one step's
/// reply decides the next step on another shard.
fn needs_section(ctx: &Ctx, args: &Args) -> bool {
    resolve(args)
        .and_then(|c| c.section)
        .is_some_and(|needs| needs(args, ctx.router))
}

/// Ends the transaction (and the WATCHes) with `EXECABORT ... because of: why`.
pub fn abort(ctx: &mut Ctx, why: &str) {
    ctx.session.multi = None;
    forget_watches(ctx, NO_CONN);
    ctx.error(&format!(
        "EXECABORT Transaction discarded because of: {why}"
    ));
}

/// EXEC
fn exec(ctx: &mut Ctx) {
    let Some(multi) = ctx.session.multi.take() else {
        ctx.error("ERR EXEC without MULTI");
        return;
    };
    if multi.aborted {
        forget_watches(ctx, NO_CONN);
        ctx.error("EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    let section =
        !ctx.session.watched.is_empty() || multi.cmds.iter().any(|a| needs_section(ctx, a));
    if section && !ctx.router.in_section() {
        ctx.session.multi = Some(multi);
        ctx.router.defer();
        return;
    }
    if section {
        hold_involved(ctx, &multi.cmds);
        if !ctx.session.watched.is_empty() && watched_changed(ctx) {
            let resp3 = ctx.session.resp == 3;
            ctx.reply(|out| encode::null_array(out, resp3));
            return;
        }
    }
    if multi.cmds.len() > 1 {
        ctx.router.mark_ordered();
    }
    ctx.reply(|out| encode::array(out, multi.cmds.len()));
    // The queued commands run without the checks EXEC passed as a whole
    // (Redis runs them through `call`, not `processCommand`).
    ctx.session.executing = true;
    ctx.router.set_txn(true);
    for args in &multi.cmds {
        dispatch(
            None,
            args,
            ctx.conn,
            ctx.session,
            ctx.router,
            ctx.shared,
            ctx.now_ms,
        );
    }
    ctx.router.set_txn(false);
    ctx.session.executing = false;
}

/// Holds every shard the queued commands (and the session's WATCHes) touch.
fn hold_involved(ctx: &mut Ctx, cmds: &[Args]) {
    // A command without declared keys that is not answered by the worker
    // alone may touch any shard.
    let all = cmds
        .iter()
        .any(|a| resolve(a).map_or(true, |c| c.keys.0 <= 0 && !c.has(LOCAL)));
    if all {
        for s in 0..ctx.router.shards() {
            ctx.router.hold(s);
        }
        return;
    }
    let mut found = Vec::new();
    for a in cmds {
        let Some(c) = resolve(a) else { continue };
        if c.has(MOVABLEKEYS) {
            // The key specs find every key (ZUNIONSTORE's sources, SORT's
            // destination); SORT's patterns may name any key.
            if !c.find_keys(a, &mut found) {
                for s in 0..ctx.router.shards() {
                    ctx.router.hold(s);
                }
                return;
            }
            for &(i, _) in &found {
                let s = ctx.router.shard_of(a.get(i));
                ctx.router.hold(s);
            }
            continue;
        }
        for i in c.key_positions(a.len()) {
            let s = ctx.router.shard_of(a.get(i));
            ctx.router.hold(s);
        }
    }
    for i in 0..ctx.session.watched.len() {
        let s = ctx.session.watched[i] as usize;
        ctx.router.hold(s);
    }
}

/// Asks every watched (and now held) shard whether a watched key changed;
/// the shards forget the session's watches either way.
fn watched_changed(ctx: &mut Ctx) -> bool {
    let id = ctx.session.id;
    let refs: Vec<_> = std::mem::take(&mut ctx.session.watched)
        .into_iter()
        .map(|s| {
            ctx.router
                .step_op(s as usize, 0, |_| SrvOp::WatchCheck { client: id }.into())
        })
        .collect();
    ctx.router.exchange();
    refs.into_iter()
        .any(|r| matches!(ctx.router.reply_of(r).1, Reply::Int(1)))
}

/// MULTI, EXEC, DISCARD, WATCH, UNWATCH.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("multi", 1, multi)
        .flags(NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | LOCAL)
        .acl(&["fast", "transaction"])
        .doc(
            "transactions",
            "1.2.0",
            "Mark the start of a transaction block",
            "O(1)",
        ),
    Command::new("exec", 1, exec)
        .flags(NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | LOCAL)
        .acl(&["slow", "transaction"])
        .doc(
            "transactions",
            "1.2.0",
            "Execute all commands issued after MULTI",
            "Depends on commands in the transaction",
        ),
    Command::new("discard", 1, discard)
        .flags(NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | LOCAL)
        .acl(&["fast", "transaction"])
        .doc(
            "transactions",
            "2.0.0",
            "Discard all commands issued after MULTI",
            "O(N), when N is the number of queued commands",
        ),
    Command::new("watch", -2, watch)
        .flags(NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | LOCAL)
        .keys(
            1,
            -1,
            1,
            &[ks(&["RO"], Begin::Index(1), Find::Range(-1, 1, 0))],
        )
        .acl(&["fast", "transaction"])
        .doc(
            "transactions",
            "2.2.0",
            "Watch the given keys to determine execution of the MULTI/EXEC block",
            "O(1) for every key.",
        ),
    Command::new("unwatch", 1, unwatch)
        .flags(NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | LOCAL)
        .acl(&["fast", "transaction"])
        .doc(
            "transactions",
            "2.2.0",
            "Forget about all watched keys",
            "O(1)",
        ),
];
