//! Stream consumer groups (Redis 7.0's `t_stream.c`): XGROUP, XREADGROUP,
//! XACK, XPENDING, XCLAIM, XAUTOCLAIM and XINFO. Each is one op on the
//! key's shard (`shards::ops::stream::group`) except XREADGROUP, which runs
//! as a section over its keys' shards like XREAD. What Redis parses before
//! its look-up is parsed here, in its order; the rest on the shard.

use super::spec::{flags::*, ks, Begin, Command, Find};
use super::{c_str, container, parse_int, Ctx};
use crate::blocking::Shape;
use crate::exchange::Merge;
use crate::resp::encode;
use shards::keyspace::blocked::Want;
use shards::ops::block::BlockOp;
use shards::ops::stream::group::{GroupOp, PendingRange};
use shards::ops::stream::StreamOp;
use shards::value::stream::StreamId;
use shards::{Arg, Op};

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// One group op on the key at argument `at`, answered as it is.
fn key_op(ctx: &mut Ctx, at: usize, build: impl FnOnce(&mut shards::batch::Args, Arg) -> GroupOp) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(at), |a, key| {
            Op::Stream(StreamOp::Group(build(a, key)))
        });
}

/// Redis's `addReplySubcommandSyntaxError` for the container `top`.
fn sub_syntax_error(ctx: &mut Ctx, top: &str) {
    let sub = ctx.args.get(1);
    let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    msg.extend_from_slice(&c_str(sub)[..c_str(sub).len().min(128)]);
    msg.extend_from_slice(format!("'. Try {top} HELP.").as_bytes());
    ctx.reply(|out| encode::error_bytes(out, &msg));
}

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

fn xgroup_help(ctx: &mut Ctx) {
    help(
        ctx,
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
}

/// Parses an ENTRIESREAD value, replying on an error.
fn entries_read(ctx: &mut Ctx, arg: &[u8]) -> Option<i64> {
    let Some(n) = parse_int(arg) else {
        ctx.not_integer();
        return None;
    };
    if n < -1 {
        ctx.error("ERR value for ENTRIESREAD must be positive or -1");
        return None;
    }
    Some(n)
}

/// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n]
fn xgroup_create(ctx: &mut Ctx) {
    let argc = ctx.args.len();
    if argc > 8 {
        return sub_syntax_error(ctx, "XGROUP");
    }
    let (mut mkstream, mut read) = (false, -1);
    let mut i = 5;
    while i < argc {
        let o = c_str(ctx.args.get(i));
        if o.eq_ignore_ascii_case(b"mkstream") {
            mkstream = true;
            i += 1;
        } else if o.eq_ignore_ascii_case(b"entriesread") && i + 1 < argc {
            let Some(n) = entries_read(ctx, ctx.args.get(i + 1)) else {
                return;
            };
            read = n;
            i += 2;
        } else {
            return sub_syntax_error(ctx, "XGROUP");
        }
    }
    let args = ctx.args;
    key_op(ctx, 2, |a, key| GroupOp::Create {
        key,
        group: a.push(args.get(3)),
        id: a.push(args.get(4)),
        mkstream,
        entries_read: read,
    });
}

/// XGROUP SETID key group id|$ [ENTRIESREAD n]: the ENTRIESREAD keyword
/// is checked before the look-up, its value after, as Redis does.
fn xgroup_setid(ctx: &mut Ctx) {
    let argc = ctx.args.len();
    if argc != 5 && argc != 7 {
        return sub_syntax_error(ctx, "XGROUP");
    }
    if argc == 7 && !c_str(ctx.args.get(5)).eq_ignore_ascii_case(b"entriesread") {
        return sub_syntax_error(ctx, "XGROUP");
    }
    let args = ctx.args;
    key_op(ctx, 2, |a, key| GroupOp::SetId {
        key,
        group: a.push(args.get(3)),
        id: a.push(args.get(4)),
        entries_read: (argc == 7).then(|| a.push(args.get(6))),
    });
}

fn xgroup_destroy(ctx: &mut Ctx) {
    let args = ctx.args;
    key_op(ctx, 2, |a, key| GroupOp::Destroy {
        key,
        group: a.push(args.get(3)),
    });
}

fn consumer(ctx: &mut Ctx, delete: bool) {
    let args = ctx.args;
    key_op(ctx, 2, |a, key| GroupOp::Consumer {
        key,
        group: a.push(args.get(3)),
        consumer: a.push(args.get(4)),
        delete,
    });
}

fn xgroup_createconsumer(ctx: &mut Ctx) {
    consumer(ctx, false);
}

fn xgroup_delconsumer(ctx: &mut Ctx) {
    consumer(ctx, true);
}

/// XACK key group id [id ...]: the IDs are read on the shard, after the
/// look-up, as Redis does.
fn xack(ctx: &mut Ctx) {
    let args = ctx.args;
    key_op(ctx, 1, |a, key| GroupOp::Ack {
        key,
        group: a.push(args.get(2)),
        ids: a.list(args.iter_from(3)),
    });
}

/// One end of an XPENDING or XAUTOCLAIM range (`(` excludes it).
fn interval(ctx: &mut Ctx, arg: &[u8], missing_seq: u64, start: bool) -> Option<StreamId> {
    let (id, ex) = if arg.len() > 1 && arg[0] == b'(' {
        (StreamId::parse(&arg[1..], missing_seq), true)
    } else {
        (StreamId::parse_bound(arg, missing_seq), false)
    };
    let Some(id) = id else {
        ctx.error(INVALID_ID);
        return None;
    };
    if !ex {
        return Some(id);
    }
    let moved = if start { id.next() } else { id.prev() };
    if moved.is_none() {
        ctx.error(if start {
            "ERR invalid start ID for the interval"
        } else {
            "ERR invalid end ID for the interval"
        });
    }
    moved
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
fn xpending(ctx: &mut Ctx) {
    let args = ctx.args;
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return ctx.syntax_error();
    }
    let mut range = None;
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle = 0;
        if c_str(args.get(3)).eq_ignore_ascii_case(b"idle") {
            let Some(n) = parse_int(args.get(4)) else {
                return ctx.not_integer();
            };
            if argc < 8 {
                return ctx.syntax_error();
            }
            min_idle = n.max(0) as u64;
            at += 2;
        }
        let Some(count) = parse_int(args.get(at + 2)) else {
            return ctx.not_integer();
        };
        let Some(start) = interval(ctx, args.get(at), 0, true) else {
            return;
        };
        let Some(end) = interval(ctx, args.get(at + 1), u64::MAX, false) else {
            return;
        };
        range = Some((
            min_idle,
            start,
            end,
            count.max(0) as u64,
            (at + 3 < argc).then_some(at + 3),
        ));
    }
    key_op(ctx, 1, |a, key| GroupOp::Pending {
        key,
        group: a.push(args.get(2)),
        range: range.map(|(min_idle, start, end, count, c)| PendingRange {
            min_idle,
            start,
            end,
            count,
            consumer: c.map(|c| a.push(args.get(c))),
        }),
    });
}

/// XCLAIM key group consumer min-idle-time id [id ...] [options]: all
/// read on the shard, after the look-up, as Redis does.
fn xclaim(ctx: &mut Ctx) {
    let args = ctx.args;
    key_op(ctx, 1, |a, key| GroupOp::Claim {
        key,
        group: a.push(args.get(2)),
        rest: a.list(args.iter_from(3)),
    });
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
fn xautoclaim(ctx: &mut Ctx) {
    let args = ctx.args;
    let Some(min_idle) = parse_int(args.get(4)) else {
        return ctx.error("ERR Invalid min-idle-time argument for XAUTOCLAIM");
    };
    let Some(start) = interval(ctx, args.get(5), 0, true) else {
        return;
    };
    let (mut count, mut justid) = (100u64, false);
    let mut j = 6;
    while j < args.len() {
        let more = j + 1 < args.len();
        let o = c_str(args.get(j));
        if o.eq_ignore_ascii_case(b"count") && more {
            // Redis bounds COUNT so that COUNT * 10 attempts fit a long.
            match parse_int(args.get(j + 1)) {
                Some(n) if (1..=i64::MAX / 16).contains(&n) => count = n as u64,
                _ => return ctx.error("ERR COUNT must be > 0"),
            }
            j += 1;
        } else if o.eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else {
            return ctx.syntax_error();
        }
        j += 1;
    }
    key_op(ctx, 1, |a, key| GroupOp::AutoClaim {
        key,
        group: a.push(args.get(2)),
        consumer: a.push(args.get(3)),
        min_idle: min_idle.max(0) as u64,
        start,
        count,
        justid,
    });
}

fn xinfo_help(ctx: &mut Ctx) {
    help(
        ctx,
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
}

fn xinfo_consumers(ctx: &mut Ctx) {
    let args = ctx.args;
    key_op(ctx, 2, |a, key| GroupOp::InfoConsumers {
        key,
        group: a.push(args.get(3)),
    });
}

fn xinfo_groups(ctx: &mut Ctx) {
    key_op(ctx, 2, |_, key| GroupOp::InfoGroups { key });
}

/// XINFO STREAM key [FULL [COUNT count]]: the options are read on the
/// shard, after the look-up, as Redis does (a missing key answers first).
fn xinfo_stream(ctx: &mut Ctx) {
    let args = ctx.args;
    key_op(ctx, 2, |a, key| GroupOp::InfoStream {
        key,
        sub: a.push(args.get(1)),
        opts: a.list(args.iter_from(3)),
    });
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK ms] [NOACK]
/// STREAMS key [key ...] id [id ...]
///
/// Runs as a section holding the keys' shards, as XREAD does: each key's
/// type and group are checked in argument order (with its ID after it, as
/// Redis interleaves them), then each key is read: `>` delivers entries
/// past the group's last ID, another ID replays the consumer's pending
/// entries after it. Nothing new with BLOCK registers the client on every
/// key; an XADD that gives one of them an entry past the group's last ID
/// serves it (`ops::block::serve_ready`), a deleted key or group answers
/// an error.
fn xreadgroup(ctx: &mut Ctx) {
    let args = ctx.args;
    let argc = args.len();
    let (mut count, mut block, mut streams_at, mut noack) = (0u64, None, 0usize, false);
    let mut group: Option<(&[u8], &[u8])> = None;
    let mut i = 1;
    while i < argc {
        let more = argc - i - 1;
        let o = c_str(args.get(i));
        if o.eq_ignore_ascii_case(b"block") && more > 0 {
            if ctx.session.executing && !ctx.router.in_txn() {
                return ctx
                    .error("ERR XREADGROUP command is not allowed with BLOCK option from scripts");
            }
            i += 1;
            let Some(d) = super::stream::block_deadline(ctx, args.get(i)) else {
                return;
            };
            block = Some(d);
        } else if o.eq_ignore_ascii_case(b"count") && more > 0 {
            i += 1;
            let Some(n) = parse_int(args.get(i)) else {
                return ctx.not_integer();
            };
            count = n.max(0) as u64;
        } else if o.eq_ignore_ascii_case(b"streams") && more > 0 {
            streams_at = i + 1;
            if (argc - streams_at) % 2 != 0 {
                return ctx.error("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
            }
            break;
        } else if o.eq_ignore_ascii_case(b"group") && more >= 2 {
            group = Some((args.get(i + 1), args.get(i + 2)));
            i += 2;
        } else if o.eq_ignore_ascii_case(b"noack") {
            noack = true;
        } else {
            return ctx.syntax_error();
        }
        i += 1;
    }
    if streams_at == 0 {
        return ctx.syntax_error();
    }
    let Some((gname, cname)) = group else {
        return ctx.error("ERR Missing GROUP option for XREADGROUP");
    };
    let n = (argc - streams_at) / 2;
    let keys: Vec<&[u8]> = (0..n).map(|k| args.get(streams_at + k)).collect();
    // The IDs up to the first bad one (None: `>`).
    let mut ids: Vec<Option<StreamId>> = Vec::with_capacity(n);
    let mut bad: Option<&str> = None;
    for k in 0..n {
        let a = args.get(streams_at + n + k);
        if a == b">" {
            ids.push(None);
        } else if a == b"$" {
            bad = Some("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
            break;
        } else if let Some(id) = StreamId::parse(a, 0) {
            // Redis stands for `>` with the greatest ID, so that ID given
            // reads new entries too.
            ids.push((id != StreamId::MAX).then_some(id));
        } else {
            bad = Some(INVALID_ID);
            break;
        }
    }
    let checked = if bad.is_some() { ids.len() + 1 } else { n };
    let deadline = super::blocking::kept_deadline(ctx, block.unwrap_or(0));
    let db = ctx.session.db;
    let mut shards: Vec<usize> = keys.iter().map(|k| ctx.router.shard_of(k)).collect();
    shards.sort_unstable();
    shards.dedup();
    for s in &shards {
        ctx.router.hold(*s);
    }
    let checks: Vec<_> = keys[..checked]
        .iter()
        .map(|key| {
            let s = ctx.router.shard_of(key);
            ctx.router.step_op(s, db, |a| {
                Op::Stream(StreamOp::Group(GroupOp::Check {
                    key: a.push(key),
                    group: a.push(gname),
                }))
            })
        })
        .collect();
    ctx.router.exchange();
    for r in &checks {
        if let (_, shards::Reply::Err(e)) = ctx.router.reply_of(*r) {
            let text = crate::errors::text(e);
            return ctx.error(&text);
        }
    }
    if let Some(e) = bad {
        return ctx.error(e);
    }
    let reads: Vec<_> = keys
        .iter()
        .zip(&ids)
        .map(|(key, after)| {
            let s = ctx.router.shard_of(key);
            let after = *after;
            ctx.router.step_op(s, db, |a| {
                Op::Stream(StreamOp::Group(GroupOp::Read {
                    key: a.push(key),
                    group: a.push(gname),
                    consumer: a.push(cname),
                    after,
                    count,
                    noack,
                }))
            })
        })
        .collect();
    ctx.router.exchange();
    let resp3 = ctx.resp3();
    let mut served = Vec::new();
    let mut found = 0;
    for r in &reads {
        let (b, reply) = ctx.router.reply_of(*r);
        match reply {
            shards::Reply::Err(e) => {
                let text = crate::errors::text(e);
                return ctx.error(&text);
            }
            shards::Reply::Nil => {}
            reply => {
                found += 1;
                let mut one = Vec::new();
                crate::exchange::encode_reply(&mut one, b, reply, resp3);
                // RESP3 answers a map: the `[key, entries]` pair unwrapped.
                let skip = if resp3 { b"*2\r\n".len() } else { 0 };
                served.extend_from_slice(one.get(skip..).unwrap_or_default());
            }
        }
    }
    if found > 0 {
        return ctx.reply(|o| {
            if resp3 {
                encode::map(o, found, true);
            } else {
                encode::array(o, found);
            }
            o.extend_from_slice(&served);
        });
    }
    let want = Want::Group {
        group: gname.to_vec(),
        consumer: cname.to_vec(),
        count,
        noack,
    };
    let waiter = match block {
        Some(_) => super::blocking::waiter(ctx, &want),
        None => None,
    };
    let Some(w) = waiter else {
        return ctx.reply(|o| encode::null_array(o, resp3));
    };
    for s in &shards {
        let mine: Vec<&[u8]> = keys
            .iter()
            .copied()
            .filter(|k| ctx.router.shard_of(k) == *s)
            .collect();
        ctx.router.step_op(*s, db, |a| {
            BlockOp::Register {
                keys: a.list(mine),
                waiter: w.clone(),
            }
            .into()
        });
    }
    ctx.router.exchange();
    let shards = shards.iter().map(|&s| s as u16).collect();
    super::blocking::enter(ctx, &w, Shape::Stream, deadline, shards);
}

/// The key spec of a command whose key is argument `at`.
const fn key_at(at: i32, flags: &'static [&'static str]) -> super::KeySpec {
    ks(flags, Begin::Index(at), Find::Range(0, 1, 0))
}

/// The consumer group commands.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("xgroup", -2, container)
        .acl(&["slow"])
        .subs(XGROUP_SUBS)
        .doc("stream", "5.0.0", "A container for consumer groups commands", "Depends on subcommand."),
    Command::new("xreadgroup", -7, xreadgroup)
        .section(super::blocking::always)
        .flags(WRITE | BLOCKING | MOVABLEKEYS)
        .keys(0, 0, 0, &[ks(&["RO", "access"], Begin::Keyword("STREAMS", 4), Find::Range(-1, 1, 2))])
        .acl(&["write", "stream", "slow", "blocking"])
        .doc("stream", "5.0.0", "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.", "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data."),
    Command::new("xack", -4, xack)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[key_at(1, &["RW", "update"])])
        .acl(&["write", "stream", "fast"])
        .doc("stream", "5.0.0", "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.", "O(1) for each message ID processed."),
    Command::new("xpending", -3, xpending)
        .flags(READONLY)
        .keys(1, 1, 1, &[key_at(1, &["RO", "access"])])
        .acl(&["read", "stream", "slow"])
        .tips(&["nondeterministic_output"])
        .doc("stream", "5.0.0", "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.", "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer."),
    Command::new("xclaim", -6, xclaim)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[key_at(1, &["RW", "update"])])
        .acl(&["write", "stream", "fast"])
        .tips(&["nondeterministic_output"])
        .doc("stream", "5.0.0", "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.", "O(log N) with N being the number of messages in the PEL of the consumer group."),
    Command::new("xautoclaim", -6, xautoclaim)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[key_at(1, &["RW", "delete"])])
        .acl(&["write", "stream", "fast"])
        .tips(&["nondeterministic_output"])
        .doc("stream", "6.2.0", "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.", "O(1) if COUNT is small."),
    Command::new("xinfo", -2, container)
        .acl(&["slow"])
        .subs(XINFO_SUBS)
        .doc("stream", "5.0.0", "A container for stream introspection commands", "Depends on subcommand."),
];

static XGROUP_SUBS: &[Command] = &[
    Command::new("xgroup|create", -5, xgroup_create)
        .flags(WRITE | DENYOOM)
        .keys(2, 2, 1, &[key_at(2, &["RW", "insert"])])
        .acl(&["write", "stream", "slow"])
        .doc("stream", "5.0.0", "Create a consumer group.", "O(1)"),
    Command::new("xgroup|createconsumer", 5, xgroup_createconsumer)
        .flags(WRITE | DENYOOM)
        .keys(2, 2, 1, &[key_at(2, &["RW", "insert"])])
        .acl(&["write", "stream", "slow"])
        .doc(
            "stream",
            "6.2.0",
            "Create a consumer in a consumer group.",
            "O(1)",
        ),
    Command::new("xgroup|delconsumer", 5, xgroup_delconsumer)
        .flags(WRITE)
        .keys(2, 2, 1, &[key_at(2, &["RW", "delete"])])
        .acl(&["write", "stream", "slow"])
        .doc(
            "stream",
            "5.0.0",
            "Delete a consumer from a consumer group.",
            "O(1)",
        ),
    Command::new("xgroup|destroy", 4, xgroup_destroy)
        .flags(WRITE)
        .keys(2, 2, 1, &[key_at(2, &["RW", "delete"])])
        .acl(&["write", "stream", "slow"])
        .doc(
            "stream",
            "5.0.0",
            "Destroy a consumer group.",
            "O(N) where N is the number of entries in the group's pending entries list (PEL).",
        ),
    Command::new("xgroup|help", 2, xgroup_help)
        .flags(LOADING | STALE)
        .acl(&["stream", "slow"])
        .doc(
            "stream",
            "5.0.0",
            "Show helpful text about the different subcommands",
            "O(1)",
        ),
    Command::new("xgroup|setid", -5, xgroup_setid)
        .flags(WRITE)
        .keys(2, 2, 1, &[key_at(2, &["RW", "update"])])
        .acl(&["write", "stream", "slow"])
        .doc(
            "stream",
            "5.0.0",
            "Set a consumer group to an arbitrary last delivered ID value.",
            "O(1)",
        ),
];

static XINFO_SUBS: &[Command] = &[
    Command::new("xinfo|consumers", 4, xinfo_consumers)
        .flags(READONLY)
        .keys(2, 2, 1, &[key_at(2, &["RO", "access"])])
        .acl(&["read", "stream", "slow"])
        .tips(&["nondeterministic_output"])
        .doc(
            "stream",
            "5.0.0",
            "List the consumers in a consumer group",
            "O(1)",
        ),
    Command::new("xinfo|groups", 3, xinfo_groups)
        .flags(READONLY)
        .keys(2, 2, 1, &[key_at(2, &["RO", "access"])])
        .acl(&["read", "stream", "slow"])
        .doc(
            "stream",
            "5.0.0",
            "List the consumer groups of a stream",
            "O(1)",
        ),
    Command::new("xinfo|help", 2, xinfo_help)
        .flags(LOADING | STALE)
        .acl(&["stream", "slow"])
        .doc(
            "stream",
            "5.0.0",
            "Show helpful text about the different subcommands",
            "O(1)",
        ),
    Command::new("xinfo|stream", -3, xinfo_stream)
        .flags(READONLY)
        .keys(2, 2, 1, &[key_at(2, &["RO", "access"])])
        .acl(&["read", "stream", "slow"])
        .doc("stream", "5.0.0", "Get information about a stream", "O(1)"),
];
