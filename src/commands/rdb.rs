//! SAVE, BGSAVE and DEBUG RELOAD's save and load (Redis 7.0's `rdb.c`
//! `saveCommand` / `bgsaveCommand`, `debug.c`).
//!
//! A snapshot is one instant of every shard: the command runs in a section
//! that holds all of them while each copies its keys (`SrvOp::Snapshot`),
//! then releases them; the file is written from the copies afterwards (by
//! this worker for SAVE, by a thread of its own for BGSAVE), so the shards
//! are held only for the copy. Inside EXEC the transaction's hold stays:
//! the copy then sees exactly the transaction's writes before it.

use super::spec::{flags::*, Command};
use super::{c_str, Ctx};
use crate::exchange::{OpRef, Router};
use crate::resp::{encode, Args};
use shards::ops::server::SrvOp;
use shards::snapshot::ShardCopy;
use shards::Reply;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// SAVE and BGSAVE always hold every shard.
fn always(_: &Args, _: &Router) -> bool {
    true
}

/// Every shard's copy at one instant, and whether an AOF rewrite runs on
/// some shard. Holds every shard (unless the section holds them already)
/// and, outside EXEC, releases them once the copies are made. Err with the
/// reply's text when a shard refused.
fn take_copies(ctx: &mut Ctx, release: bool) -> Result<(Vec<ShardCopy>, bool), String> {
    let n = ctx.router.shards();
    let (tx, rx) = crossbeam_channel::unbounded();
    for s in 0..n {
        ctx.router.hold(s);
    }
    let refs: Vec<OpRef> = (0..n)
        .map(|s| {
            let sink = tx.clone();
            ctx.router.step_op(s, 0, move |_| {
                SrvOp::Snapshot {
                    sink,
                    shard: s as u32,
                }
                .into()
            })
        })
        .collect();
    drop(tx);
    let started = Instant::now();
    ctx.router.exchange();
    let mut rewriting = false;
    let mut refused = None;
    for r in refs {
        match ctx.router.reply_of(r).1 {
            Reply::Int(1) => rewriting = true,
            Reply::Err(e) => refused = Some(crate::errors::text(e).into_owned()),
            _ => {}
        }
    }
    if release && !ctx.session.executing {
        ctx.router.release();
        ctx.router.exchange();
    }
    let held = started.elapsed();
    ctx.shared
        .saves
        .last_hold_us
        .store(held.as_micros() as u64, Ordering::Relaxed);
    if let Some(e) = refused {
        return Err(e);
    }
    let mut copies: Vec<Option<ShardCopy>> = (0..n).map(|_| None).collect();
    for (shard, copy) in rx.try_iter() {
        if let Some(slot) = copies.get_mut(shard as usize) {
            *slot = Some(copy);
        }
    }
    let copies = copies
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| "ERR a shard gave no snapshot".to_string())?;
    tracing::debug!(
        keys = copies.iter().map(ShardCopy::keys).sum::<usize>(),
        held_us = held.as_micros() as u64,
        "snapshot copied"
    );
    Ok((copies, rewriting))
}

/// Where the snapshot goes, with the encoding limits in force.
fn target(ctx: &Ctx) -> crate::rdb::Target {
    let s = ctx.shared;
    crate::rdb::Target {
        path: s.config.dir.join(s.settings().dbfilename),
        limits: s.value_limits(),
        used_mem: 0,
        functions: s
            .scripting
            .lock()
            .libs
            .iter()
            .map(|(_, code)| code.clone())
            .collect(),
    }
}

/// The reply to a save that failed: Redis's bare `-ERR` (the log says why).
fn save_error(ctx: &mut Ctx) {
    ctx.error("ERR");
}

/// SAVE: the snapshot, written before the reply.
fn save(ctx: &mut Ctx) {
    if ctx.shared.saves.in_progress.load(Ordering::Acquire) {
        return ctx.error("ERR Background save already in progress");
    }
    let copies = match take_copies(ctx, true) {
        Ok((c, _)) => c,
        Err(e) => return ctx.error(&e),
    };
    let target = target(ctx);
    match crate::rdb::save(&ctx.shared.saves, &target, &copies) {
        Ok(_) => ctx.reply(encode::ok),
        Err(_) => save_error(ctx),
    }
}

/// SHUTDOWN SAVE's snapshot, written now: false (logged) when it failed.
pub(super) fn save_for_shutdown(ctx: &mut Ctx) -> bool {
    let copies = match take_copies(ctx, true) {
        Ok((c, _)) => c,
        Err(e) => {
            tracing::warn!("SHUTDOWN SAVE: {e}");
            return false;
        }
    };
    let target = target(ctx);
    crate::rdb::save(&ctx.shared.saves, &target, &copies).is_ok()
}

/// BGSAVE [SCHEDULE]: the snapshot is taken now and written by a thread
/// of its own. Redis cannot fork a second child while an AOF rewrite's
/// runs and answers that (or, with SCHEDULE or inside EXEC, that the save
/// is scheduled); those replies are kept, but nothing here competes with a
/// rewrite, so a scheduled save starts at once.
fn bgsave(ctx: &mut Ctx) {
    let schedule = match ctx.args.len() {
        1 => false,
        2 if c_str(ctx.args.get(1)).eq_ignore_ascii_case(b"schedule") => true,
        _ => return ctx.syntax_error(),
    };
    let saves = ctx.shared.saves.clone();
    // Claimed before the copy: two BGSAVEs never both copy the data.
    if !crate::rdb::claim(&saves) {
        return ctx.error("ERR Background save already in progress");
    }
    let (copies, rewriting) = match take_copies(ctx, true) {
        Ok(c) => c,
        Err(e) => {
            crate::rdb::unclaim(&saves);
            return ctx.error(&e);
        }
    };
    let scheduled = rewriting || ctx.session.executing;
    if scheduled && !schedule && !ctx.session.executing {
        crate::rdb::unclaim(&saves);
        return ctx.error(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. \
             Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
        );
    }
    let target = target(ctx);
    crate::rdb::spawn_bgsave(saves, target, copies);
    if scheduled {
        ctx.reply(|o| encode::simple(o, "Background saving scheduled"));
    } else {
        ctx.reply(|o| encode::simple(o, "Background saving started"));
    }
}

/// DEBUG RELOAD runs in a section holding every shard.
pub(super) fn reload_needs_section(args: &Args, _: &Router) -> bool {
    args.len() >= 2 && c_str(args.get(1)).eq_ignore_ascii_case(b"reload")
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: saves the snapshot (unless
/// NOSAVE), empties every database (unless NOFLUSH), loads the file back
/// in the encodings the limits in force choose, each key logged to the AOF
/// as RESTORE logs one (after a FLUSHALL), so the AOF holds what memory
/// holds. Every shard is held from the save to the end of the load: no
/// client sees the data half loaded. A key of the file that exists
/// already is replaced, with or without MERGE (Redis stops the server on
/// one without MERGE).
pub(super) fn reload(ctx: &mut Ctx) {
    let (mut flush, mut save) = (true, true);
    for a in ctx.args.iter_from(2) {
        let a = c_str(a);
        if a.eq_ignore_ascii_case(b"merge") {
        } else if a.eq_ignore_ascii_case(b"noflush") {
            flush = false;
        } else if a.eq_ignore_ascii_case(b"nosave") {
            save = false;
        } else {
            return ctx
                .error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
        }
    }
    let n = ctx.router.shards();
    let target = target(ctx);
    if save {
        let copies = match take_copies(ctx, false) {
            Ok((c, _)) => c,
            Err(e) => return ctx.error(&e),
        };
        if let Err(why) = crate::rdb::write(&ctx.shared.saves, &target, &copies) {
            tracing::warn!("DEBUG RELOAD could not save: {why}");
            return save_error(ctx);
        }
    } else {
        for s in 0..n {
            ctx.router.hold(s);
        }
    }
    // Read and decode the whole file before touching the data; Redis
    // empties the databases first, then fails the load.
    let loaded = std::fs::read(&target.path)
        .map_err(|e| e.to_string())
        .and_then(|b| {
            shards::rdb::file::read_file(&b, shards::NUM_DBS as u32).map_err(|e| e.to_string())
        })
        .and_then(|mut c| {
            let functions = std::mem::take(&mut c.functions);
            shards::snapshot::prepare(
                c,
                &shards::route::Router::new(n),
                &target.limits,
                shards::clock::unix_ms(),
            )
            .map(|(keys, report)| (keys, report, functions))
        });
    let (keys, report, functions) = match loaded {
        Ok(k) => k,
        Err(why) => {
            tracing::warn!("DEBUG RELOAD: {}: {why}", target.path.display());
            if flush {
                // Only the flush happens (functions too); the reply is the
                // load's error.
                let _ = crate::rdb::load_functions(&ctx.shared.scripting, &[], true);
                let _ = load_step(ctx, Vec::new(), true);
            }
            return ctx.error("ERR Error trying to load the RDB dump");
        }
    };
    // The libraries first: as in Redis, the data's flush empties them too.
    if flush || !functions.is_empty() {
        if let Err(why) = crate::rdb::load_functions(&ctx.shared.scripting, &functions, flush) {
            tracing::warn!("DEBUG RELOAD: {}: {why}", target.path.display());
            if flush {
                let _ = load_step(ctx, Vec::new(), true);
            }
            return ctx.error("ERR Error trying to load the RDB dump");
        }
    }
    let mut per_shard: Vec<Vec<shards::snapshot::Prepared>> = (0..n).map(|_| Vec::new()).collect();
    for p in keys {
        let s = p.shard;
        per_shard[s].push(p);
    }
    if let Err(e) = load_step(ctx, per_shard, flush) {
        return ctx.error(&e);
    }
    ctx.shared.saves.loaded(report);
    tracing::warn!("DB reloaded by DEBUG RELOAD");
    ctx.reply(encode::ok);
}

/// Loads each shard's keys (after emptying it, with `flush`) on the held
/// shards.
fn load_step(
    ctx: &mut Ctx,
    per_shard: Vec<Vec<shards::snapshot::Prepared>>,
    flush: bool,
) -> Result<(), String> {
    let n = ctx.router.shards();
    let mut per_shard = per_shard.into_iter();
    let refs: Vec<OpRef> = (0..n)
        .map(|s| {
            let keys = Arc::new(Mutex::new(per_shard.next().unwrap_or_default()));
            ctx.router
                .step_op(s, 0, move |_| SrvOp::LoadKeys { keys, flush }.into())
        })
        .collect();
    ctx.router.exchange();
    if flush {
        let s = ctx.shared;
        s.tracking.flushed(&s.pubsub, &s.registry, s.workers);
    }
    for r in refs {
        if let Reply::Err(e) = ctx.router.reply_of(r).1 {
            return Err(crate::errors::text(e).into_owned());
        }
    }
    Ok(())
}

/// SAVE and BGSAVE.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("save", 1, save)
        .section(always)
        .flags(ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI)
        .acl(&["admin", "slow", "dangerous"])
        .doc(
            "server",
            "1.0.0",
            "Synchronously save the dataset to disk",
            "O(N) where N is the total number of keys in all databases",
        ),
    Command::new("bgsave", -1, bgsave)
        .section(always)
        .flags(ADMIN | NOSCRIPT | NO_ASYNC_LOADING)
        .acl(&["admin", "slow", "dangerous"])
        .doc(
            "server",
            "1.0.0",
            "Asynchronously save the dataset to disk",
            "O(1)",
        ),
];
