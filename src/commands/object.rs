//! Introspection containers: OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ|HELP and
//! MEMORY USAGE|STATS|DOCTOR|MALLOC-STATS|PURGE|HELP.

use super::spec::{flags::*, ks, Begin, Command, Find};
use super::{c_str, container, parse_int, Ctx};
use crate::exchange::{Completion, Finish, Merge};
use crate::resp::encode;
use shards::ops::keys::{KeyOp, ObjectField};
use shards::ops::server::SrvOp;
use shards::{Reply, ShardInfo, NUM_DBS};
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Redis's canUseSharedObject: small integers are shared objects unless
/// maxmemory is set under a policy that needs per-key LRU or LFU data.
pub(super) fn shared_ints(ctx: &Ctx) -> bool {
    let lru = ctx.shared.policy().tracks_access();
    let maxmemory = ctx
        .shared
        .maxmemory
        .load(std::sync::atomic::Ordering::Relaxed);
    maxmemory == 0 || !lru
}

/// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key.
fn object_field(ctx: &mut Ctx, field: ObjectField) {
    let shared_ints = shared_ints(ctx);
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
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
}

/// The largest total MEMORY STATS or MEMORY DOCTOR has seen: shardcache
/// samples its memory only when asked (each shard keeps its own figure),
/// so this is the peak of the samples, not of every moment.
static PEAK: AtomicU64 = AtomicU64::new(0);

/// Memory figures gathered from every shard's snapshot and the workers.
struct MemoryFigures {
    /// The shards' data (what `used_memory` reports and maxmemory bounds).
    dataset: u64,
    /// Connection and batch buffers.
    clients: u64,
    /// The AOF record buffers.
    aof: u64,
    /// Keys per database.
    keys: [u64; NUM_DBS],
    rss: u64,
}

impl MemoryFigures {
    fn gather(f: &Finish) -> Self {
        let mut m = MemoryFigures {
            dataset: 0,
            clients: f.shared.sum(|w| &w.client_mem) + f.shared.sum(|w| &w.batch_mem),
            aof: 0,
            keys: [0; NUM_DBS],
            rss: super::info::rss_bytes(),
        };
        for (_, r) in f.subs.iter() {
            if let Reply::Info(i) = r {
                let i: &ShardInfo = i;
                m.dataset += i.used_memory;
                m.aof += i.aof_buffer;
                for (db, n) in i.keys.iter().enumerate() {
                    m.keys[db] += n;
                }
            }
        }
        m
    }

    fn total(&self) -> u64 {
        self.dataset + self.clients + self.aof
    }
}

/// MEMORY STATS and MEMORY DOCTOR read every shard's figures.
fn memory_report(ctx: &mut Ctx, run: fn(&mut Finish)) {
    ctx.router
        .begin(ctx.conn, Merge::Call(Completion { run, arg: 0 }));
    ctx.router.each_shard_op(0, |_| SrvOp::Info.into());
}

fn memory_stats(ctx: &mut Ctx) {
    memory_report(ctx, memory_stats_done);
}

/// Redis's MEMORY STATS map, field for field. What shardcache does not
/// keep apart (start-up memory, the main dictionaries' overhead, the
/// allocator's own layers) is 0, or folded into the figure it belongs to:
/// the allocator is the system's, so its figures are the process's.
fn memory_stats_done(f: &mut Finish) {
    let m = MemoryFigures::gather(f);
    let total = m.total();
    let peak = PEAK.fetch_max(total, Ordering::Relaxed).max(total);
    let keys: u64 = m.keys.iter().sum();
    let dbs = m.keys.iter().filter(|&&n| n > 0).count();
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let resp3 = f.resp3;
    let out = &mut *f.out;
    encode::map(out, 27 + dbs, resp3);
    let int = |out: &mut Vec<u8>, name: &str, v: u64| {
        encode::bulk(out, name.as_bytes());
        encode::int(out, v as i64);
    };
    let dbl = |out: &mut Vec<u8>, name: &str, v: f64| {
        encode::bulk(out, name.as_bytes());
        encode::double(out, v, resp3);
    };
    int(out, "peak.allocated", peak);
    int(out, "total.allocated", total);
    int(out, "startup.allocated", 0);
    int(out, "replication.backlog", 0);
    int(out, "clients.slaves", 0);
    int(out, "clients.normal", m.clients);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", m.aof);
    int(out, "lua.caches", 0);
    int(out, "functions.caches", 0);
    for (db, _) in m.keys.iter().enumerate().filter(|(_, &n)| n > 0) {
        encode::bulk(out, format!("db.{db}").as_bytes());
        encode::map(out, 3, resp3);
        int(out, "overhead.hashtable.main", 0);
        int(out, "overhead.hashtable.expires", 0);
        int(out, "overhead.hashtable.slot-to-keys", 0);
    }
    int(out, "overhead.total", m.clients + m.aof);
    int(out, "keys.count", keys);
    int(
        out,
        "keys.bytes-per-key",
        total.checked_div(keys).unwrap_or(0),
    );
    int(out, "dataset.bytes", m.dataset);
    dbl(out, "dataset.percentage", ratio(m.dataset * 100, total));
    dbl(out, "peak.percentage", ratio(total * 100, peak));
    int(out, "allocator.allocated", total);
    int(out, "allocator.active", total);
    int(out, "allocator.resident", m.rss);
    dbl(out, "allocator-fragmentation.ratio", 1.0);
    int(out, "allocator-fragmentation.bytes", 0);
    dbl(out, "allocator-rss.ratio", ratio(m.rss, total));
    int(out, "allocator-rss.bytes", m.rss.saturating_sub(total));
    dbl(out, "rss-overhead.ratio", 1.0);
    int(out, "rss-overhead.bytes", 0);
    dbl(out, "fragmentation", ratio(m.rss, total));
    int(out, "fragmentation.bytes", m.rss.saturating_sub(total));
}

fn memory_doctor(ctx: &mut Ctx) {
    memory_report(ctx, memory_doctor_done);
}

/// Redis's report for an instance under 5 MB, or its all-clear: of
/// Redis's checks, the ones that apply here (fragmentation, big client
/// buffers) rest on allocator figures the system allocator does not give.
fn memory_doctor_done(f: &mut Finish) {
    let m = MemoryFigures::gather(f);
    PEAK.fetch_max(m.total(), Ordering::Relaxed);
    let text: &[u8] = if m.total() < 5 << 20 {
        b"Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
    } else {
        b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
    };
    encode::verbatim(f.out, text, f.resp3);
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
    Command::new("memory|doctor", 2, memory_doctor)
        .acl(&["slow"])
        .tips(&[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ])
        .doc("server", "4.0.0", "Outputs memory problems report", "O(1)"),
    Command::new("memory|stats", 2, memory_stats)
        .acl(&["slow"])
        .tips(&[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ])
        .doc("server", "4.0.0", "Show memory usage details", "O(1)"),
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
