//! Introspection containers: OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ|HELP and
//! MEMORY USAGE|MALLOC-STATS|PURGE|HELP. MEMORY DOCTOR and STATS are not
//! served: their reports rest on figures not tracked here (peak memory,
//! client buffers), so they answer Redis's unknown subcommand error.

use super::spec::{flags::*, ks, Begin, Command, Find};
use super::{c_str, container, parse_int, Ctx};
use crate::exchange::Merge;
use crate::resp::encode;
use shards::ops::keys::{KeyOp, ObjectField};
use shards::EvictionPolicy;

/// Redis 7.0's `addReplyHelp`: the header, the lines, and its HELP entry.
fn help(ctx: &mut Ctx, lines: &[&str]) {
    let top = ctx.cmd.name.split('|').next().unwrap_or_default();
    let name = top.to_ascii_uppercase();
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

fn object_help(ctx: &mut Ctx) {
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

fn object_encoding(ctx: &mut Ctx) {
    object_field(ctx, ObjectField::Encoding);
}

fn object_freq(ctx: &mut Ctx) {
    object_field(ctx, ObjectField::Freq);
}

fn object_idletime(ctx: &mut Ctx) {
    object_field(ctx, ObjectField::Idletime);
}

fn object_refcount(ctx: &mut Ctx) {
    object_field(ctx, ObjectField::Refcount);
}

/// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key.
fn object_field(ctx: &mut Ctx, field: ObjectField) {
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

fn memory_help(ctx: &mut Ctx) {
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

/// What Redis built on the system allocator answers (shardcache uses it too).
fn memory_malloc_stats(ctx: &mut Ctx) {
    ctx.reply(|out| encode::bulk(out, b"Stats not supported for the current allocator"));
}

/// Hands the pages malloc holds free back to the kernel (Redis asks
/// jemalloc to purge dirty pages).
fn memory_purge(ctx: &mut Ctx) {
    crate::alloc::release_free_memory();
    ctx.reply(encode::ok);
}

/// MEMORY USAGE key [SAMPLES count]: options first, as in Redis, the
/// look-up after.
fn memory_usage(ctx: &mut Ctx) {
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

/// OBJECT and MEMORY.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("object", -2, container)
        .acl(&["slow"])
        .subs(OBJECT_SUBS)
        .doc(
            "generic",
            "2.2.3",
            "A container for object introspection commands",
            "Depends on subcommand.",
        ),
    Command::new("memory", -2, container)
        .acl(&["slow"])
        .subs(MEMORY_SUBS)
        .doc(
            "server",
            "4.0.0",
            "A container for memory diagnostics commands",
            "Depends on subcommand.",
        ),
];

static OBJECT_SUBS: &[Command] = &[
    Command::new("object|encoding", 3, object_encoding)
        .flags(READONLY)
        .keys(
            2,
            2,
            1,
            &[ks(&["RO"], Begin::Index(2), Find::Range(0, 1, 0))],
        )
        .acl(&["keyspace", "read", "slow"])
        .tips(&["nondeterministic_output"])
        .doc(
            "generic",
            "2.2.3",
            "Inspect the internal encoding of a Redis object",
            "O(1)",
        ),
    Command::new("object|freq", 3, object_freq)
        .flags(READONLY)
        .keys(
            2,
            2,
            1,
            &[ks(&["RO"], Begin::Index(2), Find::Range(0, 1, 0))],
        )
        .acl(&["keyspace", "read", "slow"])
        .tips(&["nondeterministic_output"])
        .doc(
            "generic",
            "4.0.0",
            "Get the logarithmic access frequency counter of a Redis object",
            "O(1)",
        ),
    Command::new("object|help", 2, object_help)
        .flags(LOADING | STALE)
        .acl(&["keyspace", "slow"])
        .doc(
            "generic",
            "6.2.0",
            "Show helpful text about the different subcommands",
            "O(1)",
        ),
    Command::new("object|idletime", 3, object_idletime)
        .flags(READONLY)
        .keys(
            2,
            2,
            1,
            &[ks(&["RO"], Begin::Index(2), Find::Range(0, 1, 0))],
        )
        .acl(&["keyspace", "read", "slow"])
        .tips(&["nondeterministic_output"])
        .doc(
            "generic",
            "2.2.3",
            "Get the time since a Redis object was last accessed",
            "O(1)",
        ),
    Command::new("object|refcount", 3, object_refcount)
        .flags(READONLY)
        .keys(
            2,
            2,
            1,
            &[ks(&["RO"], Begin::Index(2), Find::Range(0, 1, 0))],
        )
        .acl(&["keyspace", "read", "slow"])
        .tips(&["nondeterministic_output"])
        .doc(
            "generic",
            "2.2.3",
            "Get the number of references to the value of the key",
            "O(1)",
        ),
];
static MEMORY_SUBS: &[Command] = &[
    Command::new("memory|help", 2, memory_help)
        .flags(LOADING | STALE)
        .acl(&["slow"])
        .doc(
            "server",
            "4.0.0",
            "Show helpful text about the different subcommands",
            "O(1)",
        ),
    Command::new("memory|malloc-stats", 2, memory_malloc_stats)
        .acl(&["slow"])
        .tips(&[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ])
        .doc(
            "server",
            "4.0.0",
            "Show allocator internal stats",
            "Depends on how much memory is allocated, could be slow",
        ),
    Command::new("memory|purge", 2, memory_purge)
        .acl(&["slow"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            "server",
            "4.0.0",
            "Ask the allocator to release memory",
            "Depends on how much memory is allocated, could be slow",
        ),
    Command::new("memory|usage", -3, memory_usage)
        .flags(READONLY)
        .keys(
            2,
            2,
            1,
            &[ks(&["RO"], Begin::Index(2), Find::Range(0, 1, 0))],
        )
        .acl(&["read", "slow"])
        .doc(
            "server",
            "4.0.0",
            "Estimate the memory usage of a key",
            "O(N) where N is the number of samples.",
        ),
];
