//! Pub/sub: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, (S)PUBLISH and PUBSUB
//! (Redis's `pubsub.c`). The subscription table and the way messages cross
//! workers are in `crate::pubsub`; these handlers keep a connection's own
//! subscriptions and the table in step and answer as Redis does.

use super::spec::{flags::*, ks, Begin, Command, Find};
use super::{container, Ctx};
use crate::pubsub::Kind;
use crate::resp::encode;

/// The frame header of a subscription reply or message: a push in RESP3.
fn header(out: &mut Vec<u8>, resp3: bool, n: u8) {
    out.push(if resp3 { b'>' } else { b'*' });
    out.push(b'0' + n);
    out.extend_from_slice(b"\r\n");
}

/// One `[kind, name, count]` reply (`name` None: nil, as UNSUBSCRIBE
/// without arguments answers when subscribed to nothing).
fn confirm(out: &mut Vec<u8>, resp3: bool, what: &str, name: Option<&[u8]>, count: usize) {
    header(out, resp3, 3);
    encode::bulk(out, what.as_bytes());
    match name {
        Some(n) => encode::bulk(out, n),
        None if resp3 => out.extend_from_slice(b"_\r\n"),
        None => out.extend_from_slice(b"$-1\r\n"),
    }
    encode::int(out, count as i64);
}

/// SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE: one confirmation per argument, with
/// the connection's count after it (shard channels are counted apart).
fn subscribe_kind(ctx: &mut Ctx, kind: Kind, what: &str) {
    let me = ctx.session.subscriber();
    let resp3 = ctx.resp3();
    let mut out = Vec::new();
    for name in ctx.args.iter_from(1) {
        let subs = &mut ctx.session.pubsub;
        let added = match kind {
            Kind::Channel => subs.channels.insert(name.to_vec()),
            Kind::Pattern => {
                let new = !subs.patterns.iter().any(|p| p == name);
                if new {
                    subs.patterns.push(name.to_vec());
                }
                new
            }
            Kind::Shard => subs.shard.insert(name.to_vec()),
        };
        if added {
            ctx.shared.pubsub.subscribe(kind, name, me);
        }
        let count = match kind {
            Kind::Shard => subs.shard.len(),
            _ => subs.count(),
        };
        confirm(&mut out, resp3, what, Some(name), count);
    }
    ctx.reply(|o| o.extend_from_slice(&out));
}

/// UNSUBSCRIBE, PUNSUBSCRIBE, SUNSUBSCRIBE: the names given, or every
/// subscription of that kind; with none to drop, one confirmation with a
/// nil name.
fn unsubscribe_kind(ctx: &mut Ctx, kind: Kind, what: &str) {
    let me = ctx.session.subscriber();
    let resp3 = ctx.resp3();
    let names: Vec<Vec<u8>> = if ctx.args.len() > 1 {
        ctx.args.iter_from(1).map(<[u8]>::to_vec).collect()
    } else {
        let subs = &ctx.session.pubsub;
        match kind {
            Kind::Channel => subs.channels.iter().cloned().collect(),
            Kind::Pattern => subs.patterns.clone(),
            Kind::Shard => subs.shard.iter().cloned().collect(),
        }
    };
    let mut out = Vec::new();
    for name in &names {
        let subs = &mut ctx.session.pubsub;
        let removed = match kind {
            Kind::Channel => subs.channels.remove(name.as_slice()),
            Kind::Pattern => match subs.patterns.iter().position(|p| p == name) {
                Some(i) => {
                    subs.patterns.remove(i);
                    true
                }
                None => false,
            },
            Kind::Shard => subs.shard.remove(name.as_slice()),
        };
        if removed {
            ctx.shared.pubsub.unsubscribe(kind, name, me);
        }
        let count = match kind {
            Kind::Shard => subs.shard.len(),
            _ => subs.count(),
        };
        confirm(&mut out, resp3, what, Some(name), count);
    }
    if names.is_empty() {
        let subs = &ctx.session.pubsub;
        let count = match kind {
            Kind::Shard => subs.shard.len(),
            _ => subs.count(),
        };
        confirm(&mut out, resp3, what, None, count);
    }
    ctx.reply(|o| o.extend_from_slice(&out));
}

fn subscribe(ctx: &mut Ctx) {
    subscribe_kind(ctx, Kind::Channel, "subscribe");
}

fn psubscribe(ctx: &mut Ctx) {
    subscribe_kind(ctx, Kind::Pattern, "psubscribe");
}

fn ssubscribe(ctx: &mut Ctx) {
    subscribe_kind(ctx, Kind::Shard, "ssubscribe");
}

fn unsubscribe(ctx: &mut Ctx) {
    unsubscribe_kind(ctx, Kind::Channel, "unsubscribe");
}

fn punsubscribe(ctx: &mut Ctx) {
    unsubscribe_kind(ctx, Kind::Pattern, "punsubscribe");
}

fn sunsubscribe(ctx: &mut Ctx) {
    unsubscribe_kind(ctx, Kind::Shard, "sunsubscribe");
}

fn publish_kind(ctx: &mut Ctx, kind: Kind) {
    let (channel, msg) = (ctx.args.get(1), ctx.args.get(2));
    let me = ctx.session.subscriber();
    let n = ctx
        .shared
        .pubsub
        .publish(kind, channel, msg, me, &mut ctx.router.pubsub);
    let subs = &ctx.session.pubsub;
    if subs.is_empty() {
        return ctx.reply(|out| encode::int(out, n as i64));
    }
    // A publisher that receives its own message gets it before the count,
    // where Redis writes it.
    let head = if ctx.resp3() { b'>' } else { b'*' };
    let mut own = Vec::new();
    if subs.has(kind, channel) {
        crate::pubsub::message_frame(&mut own, head, kind, b"", channel, msg);
    }
    if kind == Kind::Channel {
        for p in subs
            .patterns
            .iter()
            .filter(|p| shards::glob::matches(p, channel, false))
        {
            crate::pubsub::message_frame(&mut own, head, Kind::Pattern, p, channel, msg);
        }
    }
    ctx.reply(|out| {
        out.extend_from_slice(&own);
        encode::int(out, n as i64);
    });
}

fn publish(ctx: &mut Ctx) {
    publish_kind(ctx, Kind::Channel);
}

fn spublish(ctx: &mut Ctx) {
    publish_kind(ctx, Kind::Shard);
}

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern].
fn channels_kind(ctx: &mut Ctx, kind: Kind) {
    if ctx.args.len() > 3 {
        let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
        msg.extend_from_slice(ctx.args.get(1));
        msg.extend_from_slice(b"'. Try PUBSUB HELP.");
        return ctx.reply(|out| encode::error_bytes(out, &msg));
    }
    let pattern = (ctx.args.len() == 3).then(|| ctx.args.get(2));
    let list = ctx.shared.pubsub.channels(kind, pattern);
    ctx.reply(|out| {
        encode::array(out, list.len());
        for c in &list {
            encode::bulk(out, c);
        }
    });
}

fn pubsub_channels(ctx: &mut Ctx) {
    channels_kind(ctx, Kind::Channel);
}

fn pubsub_shardchannels(ctx: &mut Ctx) {
    channels_kind(ctx, Kind::Shard);
}

/// PUBSUB NUMSUB / SHARDNUMSUB [name ...]: a flat array of name, count.
fn numsub_kind(ctx: &mut Ctx, kind: Kind) {
    let ps = &ctx.shared.pubsub;
    let args = ctx.args;
    ctx.router.reply(ctx.conn, |out| {
        encode::array(out, (args.len() - 2) * 2);
        for name in args.iter_from(2) {
            encode::bulk(out, name);
            encode::int(out, ps.numsub(kind, name) as i64);
        }
    });
}

fn pubsub_numsub(ctx: &mut Ctx) {
    numsub_kind(ctx, Kind::Channel);
}

fn pubsub_shardnumsub(ctx: &mut Ctx) {
    numsub_kind(ctx, Kind::Shard);
}

fn pubsub_numpat(ctx: &mut Ctx) {
    let n = ctx.shared.pubsub.counts().1;
    ctx.reply(|out| encode::int(out, n as i64));
}

fn pubsub_help(ctx: &mut Ctx) {
    ctx.reply_lines(&[
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ]);
}

/// PING in RESP2 subscribed mode: `[pong, message]` (Redis's `pingCommand`).
pub(super) fn subscribed_ping(ctx: &mut Ctx) {
    let msg: &[u8] = if ctx.args.len() == 2 {
        ctx.args.get(1)
    } else {
        b""
    };
    ctx.router.reply(ctx.conn, |out| {
        encode::array(out, 2);
        encode::bulk(out, b"pong");
        encode::bulk(out, msg);
    });
}

/// Redis's `processCommand` check for a RESP2 connection with
/// subscriptions: true (after replying its error) unless the command is
/// one of those allowed in that context.
#[cold]
#[inline(never)]
pub(super) fn refused_while_subscribed(ctx: &mut Ctx) -> bool {
    if matches!(
        ctx.cmd.name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    ) {
        return false;
    }
    let msg = format!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        ctx.cmd.name
    );
    ctx.error(&msg);
    true
}

const SUB_FLAGS: u32 = PUBSUB | NOSCRIPT | LOADING | STALE | LOCAL;
const SHARD_KEYS: &[super::KeySpec] = &[ks(&["not_key"], Begin::Index(1), Find::Range(-1, 1, 0))];

/// The pub/sub commands.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Command] = &[
    Command::new("subscribe", -2, subscribe)
        .flags(SUB_FLAGS)
        .acl(&["pubsub", "slow"])
        .doc("pubsub", "2.0.0", "Listen for messages published to the given channels", "O(N) where N is the number of channels to subscribe to."),
    Command::new("unsubscribe", -1, unsubscribe)
        .flags(SUB_FLAGS)
        .acl(&["pubsub", "slow"])
        .doc("pubsub", "2.0.0", "Stop listening for messages posted to the given channels", "O(N) where N is the number of clients already subscribed to a channel."),
    Command::new("psubscribe", -2, psubscribe)
        .flags(SUB_FLAGS)
        .acl(&["pubsub", "slow"])
        .doc("pubsub", "2.0.0", "Listen for messages published to channels matching the given patterns", "O(N) where N is the number of patterns the client is already subscribed to."),
    Command::new("punsubscribe", -1, punsubscribe)
        .flags(SUB_FLAGS)
        .acl(&["pubsub", "slow"])
        .doc("pubsub", "2.0.0", "Stop listening for messages posted to channels matching the given patterns", "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client)."),
    Command::new("publish", 3, publish)
        .flags(PUBSUB | LOADING | STALE | FAST | LOCAL)
        .acl(&["pubsub", "fast"])
        .doc("pubsub", "2.0.0", "Post a message to a channel", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client)."),
    Command::new("pubsub", -2, container)
        .flags(LOCAL)
        .acl(&["slow"])
        .subs(PUBSUB_SUBS)
        .doc("pubsub", "2.8.0", "A container for Pub/Sub commands", "Depends on subcommand."),
    Command::new("ssubscribe", -2, ssubscribe)
        .flags(SUB_FLAGS)
        .keys(1, -1, 1, SHARD_KEYS)
        .acl(&["pubsub", "slow"])
        .doc("pubsub", "7.0.0", "Listen for messages published to the given shard channels", "O(N) where N is the number of shard channels to subscribe to."),
    Command::new("sunsubscribe", -1, sunsubscribe)
        .flags(SUB_FLAGS)
        .keys(1, -1, 1, SHARD_KEYS)
        .acl(&["pubsub", "slow"])
        .doc("pubsub", "7.0.0", "Stop listening for messages posted to the given shard channels", "O(N) where N is the number of clients already subscribed to a shard channel."),
    Command::new("spublish", 3, spublish)
        .flags(PUBSUB | LOADING | STALE | FAST | LOCAL)
        .keys(1, 1, 1, &[ks(&["not_key"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["pubsub", "fast"])
        .doc("pubsub", "7.0.0", "Post a message to a shard channel", "O(N) where N is the number of clients subscribed to the receiving shard channel."),
];

#[rustfmt::skip]
static PUBSUB_SUBS: &[Command] = &[
    Command::new("pubsub|numsub", -2, pubsub_numsub)
        .flags(PUBSUB | LOADING | STALE | LOCAL)
        .acl(&["pubsub", "slow"])
        .doc("pubsub", "2.8.0", "Get the count of subscribers for channels", "O(N) for the NUMSUB subcommand, where N is the number of requested channels"),
    Command::new("pubsub|channels", -2, pubsub_channels)
        .flags(PUBSUB | LOADING | STALE | LOCAL)
        .acl(&["pubsub", "slow"])
        .doc("pubsub", "2.8.0", "List active channels", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)"),
    Command::new("pubsub|numpat", 2, pubsub_numpat)
        .flags(PUBSUB | LOADING | STALE | LOCAL)
        .acl(&["pubsub", "slow"])
        .doc("pubsub", "2.8.0", "Get the count of unique patterns pattern subscriptions", "O(1)"),
    Command::new("pubsub|help", 2, pubsub_help)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow"])
        .doc("pubsub", "6.2.0", "Show helpful text about the different subcommands", "O(1)"),
    Command::new("pubsub|shardnumsub", -2, pubsub_shardnumsub)
        .flags(PUBSUB | LOADING | STALE | LOCAL)
        .acl(&["pubsub", "slow"])
        .doc("pubsub", "7.0.0", "Get the count of subscribers for shard channels", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels"),
    Command::new("pubsub|shardchannels", -2, pubsub_shardchannels)
        .flags(PUBSUB | LOADING | STALE | LOCAL)
        .acl(&["pubsub", "slow"])
        .doc("pubsub", "7.0.0", "List active shard channels", "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels)."),
];
