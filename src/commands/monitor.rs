//! SLOWLOG and MONITOR: the operators' views of what runs (Redis's
//! `slowlog.c` and `monitorCommand`). The workers feed them (see
//! `exchange::deliver` for what a command's duration is in shardcache, and
//! `observe` for the server-wide state).

use super::spec::{flags::*, Command};
use super::{container, parse_int, Ctx};
use crate::exchange::{Completion, ConnEvent, Finish, Merge};
use crate::resp::encode;

/// SLOWLOG GET [count]: the newest `count` entries (10; -1 for all).
///
/// Answered when its reply is encoded, not when it is routed: the commands
/// before it in its round are logged by then, as in Redis.
fn slowlog_get(ctx: &mut Ctx) {
    let argc = ctx.args.len();
    if argc > 3 {
        let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
        msg.extend_from_slice(ctx.args.get(1));
        msg.extend_from_slice(b"'. Try SLOWLOG HELP.");
        return ctx.reply(|out| encode::error_bytes(out, &msg));
    }
    let count = if argc == 3 {
        match parse_int(ctx.args.get(2)) {
            Some(n) if n >= -1 => n,
            _ => return ctx.error("ERR count should be greater than or equal to -1"),
        }
    } else {
        10
    };
    ctx.router.begin(
        ctx.conn,
        Merge::Call(Completion {
            run: slowlog_get_done,
            arg: count as u64,
        }),
    );
}

fn slowlog_get_done(f: &mut Finish) {
    let log = f.shared.slowlog.lock().unwrap_or_else(|p| p.into_inner());
    let count = match f.arg as i64 {
        -1 => log.len(),
        n => (n as usize).min(log.len()),
    };
    encode::array(f.out, count);
    for e in log.newest(count) {
        encode::array(f.out, 6);
        encode::int(f.out, e.id as i64);
        encode::int(f.out, e.time as i64);
        encode::int(f.out, e.duration as i64);
        encode::array(f.out, e.args.len());
        for a in &e.args {
            encode::bulk(f.out, a);
        }
        encode::bulk(f.out, e.addr.as_bytes());
        encode::bulk(f.out, &e.name);
    }
}

/// SLOWLOG LEN (answered when its reply is encoded, as SLOWLOG GET).
fn slowlog_len(ctx: &mut Ctx) {
    ctx.router.begin(
        ctx.conn,
        Merge::Call(Completion {
            run: slowlog_len_done,
            arg: 0,
        }),
    );
}

fn slowlog_len_done(f: &mut Finish) {
    let n = f
        .shared
        .slowlog
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .len();
    encode::int(f.out, n as i64);
}

/// SLOWLOG RESET: forgets the entries logged before it (ids keep counting).
fn slowlog_reset(ctx: &mut Ctx) {
    ctx.router.begin(
        ctx.conn,
        Merge::Call(Completion {
            run: slowlog_reset_done,
            arg: 0,
        }),
    );
}

fn slowlog_reset_done(f: &mut Finish) {
    f.shared
        .slowlog
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .reset();
    encode::ok(f.out);
}

fn slowlog_help(ctx: &mut Ctx) {
    ctx.reply_lines(&[
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
    ]);
}

/// MONITOR: from now on the connection is sent a line for every command
/// any client runs, on any worker, until RESET or QUIT. Like a Redis
/// replica it may then run only commands that do not touch the keyspace.
fn monitor(ctx: &mut Ctx) {
    if ctx.session.executing {
        // Redis's CLIENT_DENY_BLOCKING: EXEC expects a reply per command.
        return ctx.error("ERR MONITOR isn't allowed for DENY BLOCKING client");
    }
    if ctx.session.monitor {
        // Already monitoring: ignored, without a reply, as in Redis.
        return ctx.reply(|_| {});
    }
    ctx.session.monitor = true;
    ctx.router.conn_event(ctx.conn, ConnEvent::Monitor);
    // The commands routed after this one are fed from this round on.
    ctx.router.gates.monitoring = true;
    ctx.reply(encode::ok);
}

/// SLOWLOG and MONITOR.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("slowlog", -2, container)
        .flags(LOCAL)
        .acl(&["slow"])
        .subs(SLOWLOG_SUBS)
        .doc(
            "server",
            "2.2.12",
            "A container for slow log commands",
            "Depends on subcommand.",
        ),
    Command::new("monitor", 1, monitor)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc(
            "server",
            "1.0.0",
            "Listen for all requests received by the server in real time",
            "",
        ),
];

static SLOWLOG_SUBS: &[Command] = &[
    Command::new("slowlog|get", -2, slowlog_get)
        .flags(ADMIN | LOADING | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .tips(&["request_policy:all_nodes", "nondeterministic_output"])
        .doc(
            "server",
            "2.2.12",
            "Get the slow log's entries",
            "O(N) where N is the number of entries returned",
        ),
    Command::new("slowlog|help", 2, slowlog_help)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow"])
        .doc(
            "server",
            "6.2.0",
            "Show helpful text about the different subcommands",
            "O(1)",
        ),
    Command::new("slowlog|len", 2, slowlog_len)
        .flags(ADMIN | LOADING | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .tips(&[
            "request_policy:all_nodes",
            "response_policy:agg_sum",
            "nondeterministic_output",
        ])
        .doc("server", "2.2.12", "Get the slow log's length", "O(1)"),
    Command::new("slowlog|reset", 2, slowlog_reset)
        .flags(ADMIN | LOADING | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(
            "server",
            "2.2.12",
            "Clear all entries from the slow log",
            "O(N) where N is the number of entries in the slowlog",
        ),
];
