//! Introspection containers: OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ|HELP and
//! MEMORY USAGE|HELP. Each subcommand has its own arity, checked here as Redis
//! checks `object|encoding` and friends.

use super::{c_str, parse_int, unknown_subcommand, Ctx};
use crate::resp::encode;
use crate::router::Merge;
use shards::ops::keys::{KeyOp, ObjectField};
use shards::EvictionPolicy;

/// Redis 7.0's `addReplyHelp`: the header, the lines, and its HELP entry.
fn help(ctx: &mut Ctx, lines: &[&str]) {
    let name = ctx.spec.name.to_ascii_uppercase();
    ctx.reply(|out| {
        encode::array(out, lines.len() + 3);
        encode::simple(
            out,
            &format!("{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
        );
        for l in lines {
            encode::simple(out, l);
        }
        encode::simple(out, "HELP");
        encode::simple(out, "    Prints this help.");
    });
}

/// Checks a subcommand's exact argument count; replies the arity error of
/// `container|sub` when it is wrong.
fn arity(ctx: &mut Ctx, sub: &str, argc: usize) -> bool {
    if ctx.args.len() == argc {
        return true;
    }
    let name = format!("{}|{sub}", ctx.spec.name);
    ctx.arity_error(&name);
    false
}

/// The subcommand named by the first argument, case-insensitively.
fn subcommand(ctx: &Ctx, names: &[&'static str]) -> Option<&'static str> {
    let arg = ctx.args.get(1);
    names
        .iter()
        .copied()
        .find(|n| arg.eq_ignore_ascii_case(n.as_bytes()))
}

/// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key, and OBJECT HELP.
pub fn object(ctx: &mut Ctx) {
    let sub = subcommand(ctx, &["help", "encoding", "refcount", "idletime", "freq"]);
    let field = match sub {
        Some("help") => {
            if arity(ctx, "help", 2) {
                help(
                    ctx,
                    &[
                        "ENCODING <key>",
                        "    Return the kind of internal representation used in order to store the value",
                        "    associated with a <key>.",
                        "FREQ <key>",
                        "    Return the access frequency index of the <key>. The returned integer is",
                        "    proportional to the logarithm of the recent access frequency of the key.",
                        "IDLETIME <key>",
                        "    Return the idle time of the <key>, that is the approximated number of",
                        "    seconds elapsed since the last access to the key.",
                        "REFCOUNT <key>",
                        "    Return the number of references of the value associated with the specified",
                        "    <key>.",
                    ],
                );
            }
            return;
        }
        Some("encoding") => ObjectField::Encoding,
        Some("refcount") => ObjectField::Refcount,
        Some("idletime") => ObjectField::Idletime,
        Some("freq") => ObjectField::Freq,
        _ => return unknown_subcommand(ctx),
    };
    if !arity(ctx, sub.unwrap_or_default(), 3) {
        return;
    }
    // Redis's canUseSharedObject: small integers are shared objects unless
    // maxmemory is set under a policy that needs per-key LRU data.
    let lru = matches!(
        ctx.shared.policy(),
        EvictionPolicy::AllKeysLru | EvictionPolicy::VolatileLru
    );
    let maxmemory = ctx
        .shared
        .maxmemory
        .load(std::sync::atomic::Ordering::Relaxed);
    let shared_ints = maxmemory == 0 || !lru;
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(2), |_, key| {
            KeyOp::Object {
                key,
                field,
                shared_ints,
            }
            .into()
        });
}

/// MEMORY USAGE key [SAMPLES count], MALLOC-STATS, PURGE and HELP.
/// MALLOC-STATS answers what Redis built on the system allocator answers
/// (shardcache uses it too); PURGE trims malloc's free pages. DOCTOR and STATS are not served: their
/// reports rest on figures not tracked here (peak memory, client buffers),
/// so they answer Redis's unknown subcommand error, and HELP leaves them out.
pub fn memory(ctx: &mut Ctx) {
    match subcommand(ctx, &["help", "malloc-stats", "purge", "usage"]) {
        Some("help") => {
            if arity(ctx, "help", 2) {
                help(
                    ctx,
                    &[
                        "MALLOC-STATS",
                        "    Return internal statistics report from the memory allocator.",
                        "PURGE",
                        "    Attempt to purge dirty pages for reclamation by the allocator.",
                        "USAGE <key> [SAMPLES <count>]",
                        "    Return memory in bytes used by <key> and its value. Nested values are",
                        "    sampled up to <count> times (default: 5, 0 means sample all).",
                    ],
                );
            }
        }
        Some("malloc-stats") => {
            if arity(ctx, "malloc-stats", 2) {
                ctx.reply(|out| {
                    encode::bulk(out, b"Stats not supported for the current allocator")
                });
            }
        }
        Some("purge") => {
            if arity(ctx, "purge", 2) {
                // Hands the pages malloc holds free back to the kernel
                // (Redis asks jemalloc to purge dirty pages).
                crate::alloc::release_free_memory();
                ctx.reply(encode::ok);
            }
        }
        Some("usage") if ctx.args.len() < 3 => ctx.arity_error("memory|usage"),
        Some("usage") => {
            // Options come first in Redis, the look-up after. SAMPLES has
            // nothing to sample in a string, but is validated the same.
            let n = ctx.args.len();
            let mut j = 3;
            while j < n {
                if c_str(ctx.args.get(j)).eq_ignore_ascii_case(b"samples") && j + 1 < n {
                    match parse_int(ctx.args.get(j + 1)) {
                        None => return ctx.not_integer(),
                        Some(v) if v < 0 => return ctx.syntax_error(),
                        Some(_) => {}
                    }
                    j += 2;
                } else {
                    return ctx.syntax_error();
                }
            }
            ctx.router.begin(ctx.conn, Merge::One);
            ctx.router
                .key_op(ctx.session.db, ctx.args.get(2), |_, key| {
                    KeyOp::MemoryUsage { key }.into()
                });
        }
        _ => unknown_subcommand(ctx),
    }
}
