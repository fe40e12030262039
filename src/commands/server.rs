//! Server commands answered by the worker or by every shard: BGREWRITEAOF,
//! SHUTDOWN, LATENCY, TIME, LASTSAVE, FUNCTION.

use super::spec::{flags::*, Command};
use super::{by_id, container, lookup, Ctx};
use crate::exchange::{error_of, Completion, Effect, Finish, Merge};
use crate::resp::encode;
use shards::ops::server::SrvOp;

/// BGREWRITEAOF: every shard rewrites its segment (in the background).
fn bgrewriteaof(ctx: &mut Ctx) {
    ctx.router.begin(
        ctx.conn,
        Merge::Call(Completion {
            run: bgrewriteaof_done,
            arg: 0,
        }),
    );
    ctx.router.each_shard_op(0, |_| SrvOp::RewriteAof.into());
}

fn bgrewriteaof_done(f: &mut Finish) {
    match f.subs.iter().find_map(|(_, r)| error_of(r)) {
        Some(e) => encode::error(f.out, &e),
        None => encode::simple(f.out, "Background append only file rewriting started"),
    }
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: with SAVE the RDB
/// snapshot is written first (a failure refuses the shutdown unless FORCE,
/// as in Redis); then every shard flushes and fsyncs its AOF after what
/// was queued before, and the process exits 0.
fn shutdown(ctx: &mut Ctx) {
    let (mut nosave, mut save, mut force, mut now, mut abort) = (false, false, false, false, false);
    for a in ctx.args.iter_from(1) {
        let a = a.to_ascii_lowercase();
        match a.as_slice() {
            b"nosave" => nosave = true,
            b"save" => save = true,
            b"force" => force = true,
            b"now" => now = true,
            b"abort" => abort = true,
            _ => return ctx.syntax_error(),
        }
    }
    // Redis's illegal combinations.
    if (abort && (nosave || save || force || now)) || (save && nosave) {
        return ctx.syntax_error();
    }
    if abort {
        return ctx.error("ERR No shutdown in progress.");
    }
    if nosave && ctx.shared.scripting.busy(ctx.now_ms).is_some() {
        // Redis's way out of a script that wrote and does not end: the
        // shards it holds would answer the flush only once it ended, so
        // exit now; what the shards wrote to their AOF stays there.
        tracing::warn!("SHUTDOWN NOSAVE while a script runs: exiting without a final flush");
        std::process::exit(0);
    }
    if save && !nosave && !super::rdb::save_for_shutdown(ctx) && !force {
        return ctx.error("ERR Errors trying to SHUTDOWN. Check logs.");
    }
    ctx.router.begin(
        ctx.conn,
        Merge::Call(Completion {
            run: shutdown_done,
            arg: 0,
        }),
    );
    ctx.router.each_shard_op(0, |_| SrvOp::Shutdown.into());
}

/// SHUTDOWN SAVE takes its snapshot in a section holding every shard.
fn shutdown_saves(args: &crate::resp::Args, _: &crate::exchange::Router) -> bool {
    args.iter_from(1).any(|a| a.eq_ignore_ascii_case(b"save"))
}

fn shutdown_done(f: &mut Finish) {
    match f.subs.iter().find_map(|(_, r)| error_of(r)) {
        Some(e) => {
            tracing::error!("SHUTDOWN could not flush the AOF: {e}");
            encode::error(f.out, "ERR Errors trying to SHUTDOWN. Check logs.");
        }
        None => {
            tracing::info!("SHUTDOWN: AOF flushed; bye");
            *f.effect = Effect::Exit(0);
        }
    }
}

/// LATENCY HISTOGRAM [command ...] in Redis 7's shape: per command, its calls
/// and a cumulative distribution over power-of-two microsecond buckets.
fn latency_histogram(ctx: &mut Ctx) {
    let all = ctx.shared.latencies();
    let wanted: Vec<usize> = if ctx.args.len() == 2 {
        (0..all.len()).filter(|&i| !all[i].is_empty()).collect()
    } else {
        let mut ids: Vec<usize> = ctx
            .args
            .iter_from(2)
            .filter_map(|n| lookup(n).map(super::id_of))
            .filter(|&i| !all[i].is_empty())
            .collect();
        ids.dedup();
        ids
    };
    let resp3 = ctx.resp3();
    ctx.reply(|out| {
        encode::map(out, wanted.len(), resp3);
        for i in wanted {
            let h = &all[i];
            encode::bulk(out, by_id(i).name.as_bytes());
            encode::map(out, 2, resp3);
            encode::bulk(out, b"calls");
            encode::int(out, h.len() as i64);
            encode::bulk(out, b"histogram_usec");
            let mut buckets = Vec::new();
            let mut cumulative = 0u64;
            for v in h.iter_log(1, 2.0) {
                let before = cumulative;
                cumulative += v.count_since_last_iteration();
                if cumulative > before {
                    // Bucket upper bounds as Redis prints them: 1, 2, 4, 8 ... µs.
                    buckets.push((v.value_iterated_to() + 1, cumulative));
                }
            }
            encode::map(out, buckets.len(), resp3);
            for (micros, count) in buckets {
                encode::int(out, micros as i64);
                encode::int(out, count as i64);
            }
        }
    });
}

/// The latency monitor (LATEST, HISTORY, RESET, DOCTOR) is not kept: its
/// replies are those of a Redis whose `latency-monitor-threshold` is 0.
fn latency_latest(ctx: &mut Ctx) {
    ctx.reply(|out| encode::array(out, 0));
}

fn latency_history(ctx: &mut Ctx) {
    ctx.reply(|out| encode::array(out, 0));
}

fn latency_reset(ctx: &mut Ctx) {
    ctx.reply(|out| encode::int(out, 0));
}

/// The latency monitor is off (`latency-monitor-threshold` 0, Redis's
/// default, and the only value here), so LATENCY answers as Redis does
/// with it off: no events, no samples.
fn latency_doctor(ctx: &mut Ctx) {
    let text = "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n";
    let resp3 = ctx.session.resp == 3;
    ctx.reply(|out| encode::verbatim(out, text.as_bytes(), resp3));
}

/// LATENCY GRAPH event: no event is ever sampled.
fn latency_graph(ctx: &mut Ctx) {
    let mut msg = b"ERR No samples available for event '".to_vec();
    msg.extend_from_slice(ctx.args.get(2));
    msg.push(b'\'');
    ctx.reply(|out| encode::error_bytes(out, &msg));
}

fn latency_help(ctx: &mut Ctx) {
    ctx.reply_lines(&[
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.",
        "HELP",
        "    Prints this help.",
    ]);
}

/// TIME: unix seconds and microseconds, as two bulk strings.
fn time(ctx: &mut Ctx) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.reply(|out| {
        encode::array(out, 2);
        encode::bulk(out, itoa::Buffer::new().format(now.as_secs()).as_bytes());
        encode::bulk(
            out,
            itoa::Buffer::new().format(now.subsec_micros()).as_bytes(),
        );
    });
}

/// LASTSAVE: when the last RDB save succeeded (the start time before any).
fn lastsave(ctx: &mut Ctx) {
    let secs = ctx
        .shared
        .saves
        .last_save
        .load(std::sync::atomic::Ordering::Relaxed) as i64;
    ctx.reply(|out| encode::int(out, secs));
}

/// ROLE: shardcache is always a master without replicas (replication
/// offset 0), as `INFO replication` says.
fn role(ctx: &mut Ctx) {
    ctx.reply(|out| {
        encode::array(out, 3);
        encode::bulk(out, b"master");
        encode::int(out, 0);
        encode::array(out, 0);
    });
}

/// The server commands.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("role", 1, role)
        .flags(NOSCRIPT | LOADING | STALE | FAST | LOCAL)
        .acl(&["admin", "fast", "dangerous"])
        .doc(
            "server",
            "2.8.12",
            "Return the role of the instance in the context of replication",
            "O(1)",
        ),
    Command::new("bgrewriteaof", 1, bgrewriteaof)
        .flags(ADMIN | NOSCRIPT | NO_ASYNC_LOADING)
        .acl(&["admin", "slow", "dangerous"])
        .doc("server", "1.0.0", "Asynchronously rewrite the append-only file", "O(1)"),
    Command::new("shutdown", -1, shutdown)
        .section(shutdown_saves)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY)
        .acl(&["admin", "slow", "dangerous"])
        .doc("server", "1.0.0", "Synchronously save the dataset to disk and then shut down the server", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)"),
    Command::new("latency", -2, container)
        .flags(LOCAL)
        .acl(&["slow"])
        .subs(LATENCY_SUBS)
        .doc("server", "2.8.13", "A container for latency diagnostics commands", "Depends on subcommand."),
    Command::new("time", 1, time)
        .flags(LOADING | STALE | FAST | LOCAL)
        .acl(&["fast"])
        .tips(&["nondeterministic_output"])
        .doc("server", "2.6.0", "Return the current server time", "O(1)"),
    Command::new("lastsave", 1, lastsave)
        .flags(LOADING | STALE | FAST | LOCAL)
        .acl(&["admin", "fast", "dangerous"])
        .tips(&["nondeterministic_output"])
        .doc("server", "1.0.0", "Get the UNIX time stamp of the last successful save to disk", "O(1)"),
];

static LATENCY_SUBS: &[Command] = &[
    Command::new("latency|doctor", 2, latency_doctor)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .tips(&[
            "nondeterministic_output",
            "request_policy:all_nodes",
            "response_policy:special",
        ])
        .doc(
            "server",
            "2.8.13",
            "Return a human readable latency analysis report.",
            "O(1)",
        ),
    Command::new("latency|graph", 3, latency_graph)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .tips(&[
            "nondeterministic_output",
            "request_policy:all_nodes",
            "response_policy:special",
        ])
        .doc(
            "server",
            "2.8.13",
            "Return a latency graph for the event.",
            "O(1)",
        ),
    Command::new("latency|help", 2, latency_help)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow"])
        .doc(
            "server",
            "2.8.13",
            "Show helpful text about the different subcommands.",
            "O(1)",
        ),
    Command::new("latency|histogram", -2, latency_histogram)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .tips(&[
            "nondeterministic_output",
            "request_policy:all_nodes",
            "response_policy:special",
        ])
        .doc(
            "server",
            "7.0.0",
            "Return the cumulative distribution of latencies of a subset of commands or all.",
            "O(N) where N is the number of commands with latency information being retrieved.",
        ),
    Command::new("latency|history", 3, latency_history)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .tips(&[
            "nondeterministic_output",
            "request_policy:all_nodes",
            "response_policy:special",
        ])
        .doc(
            "server",
            "2.8.13",
            "Return timestamp-latency samples for the event.",
            "O(1)",
        ),
    Command::new("latency|latest", 2, latency_latest)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .tips(&[
            "nondeterministic_output",
            "request_policy:all_nodes",
            "response_policy:special",
        ])
        .doc(
            "server",
            "2.8.13",
            "Return the latest latency samples for all events.",
            "O(1)",
        ),
    Command::new("latency|reset", -2, latency_reset)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(
            "server",
            "2.8.13",
            "Reset latency data for one or more events.",
            "O(1)",
        ),
];
