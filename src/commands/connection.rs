//! Connection commands: AUTH, HELLO, RESET, PING, ECHO, QUIT and the
//! CLIENT container.
//!
//! AUTH and HELLO AUTH authenticate as any ACL user (see `acl`).

use super::spec::{flags::*, Command};
use super::{container, parse_int, Ctx, ReplyMode};
use crate::clients::Client;
use crate::exchange::ConnEvent;
use crate::observe::PauseKind;
use crate::resp::encode;
use std::sync::Arc;

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
const BAD_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

/// Redis's `validateClientName`: empty, or printable ASCII without spaces,
/// so CLIENT LIST stays splittable on spaces.
fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|c| (b'!'..=b'~').contains(c))
}

/// AUTH [username] password
fn auth(ctx: &mut Ctx) {
    let (user, pass) = match ctx.args.len() {
        2 => (&b"default"[..], ctx.args.get(1)),
        3 => (ctx.args.get(1), ctx.args.get(2)),
        _ => return ctx.syntax_error(),
    };
    // MONITOR and the slow log never show what follows AUTH.
    for i in 1..ctx.args.len() {
        ctx.router.redact(i);
    }
    if ctx.args.len() == 2 && ctx.shared.acl.default_user().nopass {
        return ctx.error(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        );
    }
    if super::acl::authenticate(ctx, user, pass) {
        ctx.reply(encode::ok);
    } else {
        ctx.error(WRONGPASS);
    }
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]], in the
/// order Redis 7.0 checks: version, options (and the name's characters),
/// credentials, then that the connection is authenticated.
fn hello(ctx: &mut Ctx) {
    let args = ctx.args;
    let mut ver = 0u8;
    if args.len() >= 2 {
        match parse_int(args.get(1)) {
            None => return ctx.error("ERR Protocol version is not an integer or out of range"),
            Some(v @ 2..=3) => ver = v as u8,
            Some(_) => return ctx.error("NOPROTO unsupported protocol version"),
        }
    }
    let (mut auth, mut name) = (None, None);
    let mut j = 2;
    while j < args.len() {
        let opt = args.get(j);
        let more = args.len() - 1 - j;
        if opt.eq_ignore_ascii_case(b"auth") && more >= 2 {
            ctx.router.redact(j + 1);
            ctx.router.redact(j + 2);
            auth = Some((args.get(j + 1), args.get(j + 2)));
            j += 3;
        } else if opt.eq_ignore_ascii_case(b"setname") && more >= 1 {
            let n = args.get(j + 1);
            if !valid_name(n) {
                return ctx.error(BAD_NAME);
            }
            name = Some(n);
            j += 2;
        } else {
            let mut msg = b"ERR Syntax error in HELLO option '".to_vec();
            msg.extend_from_slice(opt);
            msg.push(b'\'');
            return ctx.reply(|out| encode::error_bytes(out, &msg));
        }
    }
    if let Some((user, pass)) = auth {
        if !super::acl::authenticate(ctx, user, pass) {
            return ctx.error(WRONGPASS);
        }
    }
    if !ctx.session.authenticated {
        return ctx.error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
             the RESP protocol version at the same time",
        );
    }
    if let Some(n) = name {
        set_name(&ctx.session.client, n);
    }
    if ver != 0 {
        ctx.session.resp = ver;
        ctx.sync_reply_flags();
    }
    let (resp, id, resp3) = (ctx.session.resp, ctx.session.client.id, ctx.resp3());
    ctx.reply(|out| {
        encode::map(out, 7, resp3);
        encode::bulk(out, b"server");
        encode::bulk(out, b"redis");
        encode::bulk(out, b"version");
        encode::bulk(out, b"7.0.15");
        encode::bulk(out, b"proto");
        encode::int(out, resp as i64);
        encode::bulk(out, b"id");
        encode::int(out, id as i64);
        encode::bulk(out, b"mode");
        encode::bulk(out, b"standalone");
        encode::bulk(out, b"role");
        encode::bulk(out, b"master");
        encode::bulk(out, b"modules");
        encode::array(out, 0);
    });
}

fn ping(ctx: &mut Ctx) {
    if ctx.session.subscribed_resp2() && ctx.args.len() <= 2 {
        return super::pubsub::subscribed_ping(ctx);
    }
    match ctx.args.len() {
        1 => ctx.reply(|out| encode::simple(out, "PONG")),
        2 => {
            let msg = ctx.args.get(1);
            ctx.router.reply(ctx.conn, |out| encode::bulk(out, msg));
        }
        _ => ctx.arity_error("ping"),
    }
}

fn echo(ctx: &mut Ctx) {
    let msg = ctx.args.get(1);
    ctx.router.reply(ctx.conn, |out| encode::bulk(out, msg));
}

fn quit(ctx: &mut Ctx) {
    ctx.reply(encode::ok);
    ctx.session.close = true;
    // Gone for publishers from now on, not from when the socket closes.
    ctx.session.leave_pubsub(ctx.shared);
}

/// RESET: `Session::reset`, then `+RESET`.
fn reset(ctx: &mut Ctx) {
    // The session's WATCHes live in the shards: forget them there too.
    super::txn::forget_watches(ctx, crate::exchange::NO_CONN);
    super::tracking::reset_tracking(ctx);
    if ctx.session.monitor {
        ctx.session.monitor = false;
        ctx.router.conn_event(ctx.conn, ConnEvent::Unmonitor);
    }
    ctx.session.reset(ctx.shared);
    ctx.sync_reply_flags();
    ctx.reply(|out| encode::simple(out, "RESET"));
}

fn set_name(client: &Client, name: &[u8]) {
    let mut names = client.names();
    names.name.clear();
    names.name.extend_from_slice(name);
}

fn client_id(ctx: &mut Ctx) {
    let id = ctx.session.client.id;
    ctx.reply(|out| encode::int(out, id as i64));
}

fn client_info(ctx: &mut Ctx) {
    ctx.session.publish(ctx.now_ms, None);
    let mut text = Vec::with_capacity(320);
    ctx.session
        .client
        .write_row(&mut text, ctx.now_ms, super::write_full_name);
    text.push(b'\n');
    let resp3 = ctx.resp3();
    ctx.reply(|out| encode::verbatim(out, &text, resp3));
}

fn client_setname(ctx: &mut Ctx) {
    let name = ctx.args.get(2);
    if !valid_name(name) {
        return ctx.error(BAD_NAME);
    }
    set_name(&ctx.session.client, name);
    ctx.reply(encode::ok);
}

fn client_getname(ctx: &mut Ctx) {
    let name = ctx.session.client.names().name.clone();
    let resp3 = ctx.resp3();
    ctx.reply(|out| {
        if name.is_empty() {
            encode::null(out, resp3)
        } else {
            encode::bulk(out, &name)
        }
    });
}

fn client_no_evict(ctx: &mut Ctx) {
    let arg = ctx.args.get(2);
    if arg.eq_ignore_ascii_case(b"on") {
        ctx.session.no_evict = true;
    } else if arg.eq_ignore_ascii_case(b"off") {
        ctx.session.no_evict = false;
    } else {
        return ctx.syntax_error();
    }
    ctx.reply(encode::ok);
}

/// CLIENT NO-TOUCH ON|OFF (Redis 7.2): while on, this connection's
/// commands leave the LRU position and idle time of the keys they read
/// alone (TOUCH still touches).
fn client_no_touch(ctx: &mut Ctx) {
    let arg = ctx.args.get(2);
    if arg.eq_ignore_ascii_case(b"on") {
        ctx.session.no_touch = true;
    } else if arg.eq_ignore_ascii_case(b"off") {
        ctx.session.no_touch = false;
    } else {
        return ctx.syntax_error();
    }
    ctx.reply(encode::ok);
}

/// CLIENT PAUSE timeout [WRITE|ALL]: the commands it holds back (all, or
/// those that may write) wait, on every worker, until the pause ends or
/// CLIENT UNPAUSE; monitors are never held (replicas to Redis).
fn client_pause(ctx: &mut Ctx) {
    if ctx.args.len() > 4 {
        let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
        msg.extend_from_slice(ctx.args.get(1));
        msg.extend_from_slice(b"'. Try CLIENT HELP.");
        return ctx.reply(|out| encode::error_bytes(out, &msg));
    }
    // Redis checks the mode before the timeout.
    let kind = if ctx.args.len() == 4 {
        let mode = ctx.args.get(3);
        if mode.eq_ignore_ascii_case(b"write") {
            PauseKind::Write
        } else if mode.eq_ignore_ascii_case(b"all") {
            PauseKind::All
        } else {
            return ctx.error("ERR CLIENT PAUSE mode must be WRITE or ALL");
        }
    } else {
        PauseKind::All
    };
    let Some(ms) = parse_int(ctx.args.get(2)) else {
        return ctx.error("ERR timeout is not an integer or out of range");
    };
    if ms < 0 {
        return ctx.error("ERR timeout is negative");
    }
    // A zero timeout is no end time: only the kind of a pause in force may change.
    let end = if ms == 0 {
        0
    } else {
        ctx.now_ms.saturating_add(ms as u64)
    };
    let shared = ctx.shared;
    shared.pauses.pause(end, kind, ctx.now_ms);
    shared.bump_epoch();
    // Held from this worker's next command on; the others see it at their
    // next poll round.
    ctx.router.gates.pause = shared.pauses.current(ctx.now_ms).map(|p| p.kind);
    ctx.reply(encode::ok);
}

/// CLIENT UNPAUSE: held commands run at once, on every worker.
fn client_unpause(ctx: &mut Ctx) {
    let shared = ctx.shared;
    shared.pauses.unpause();
    shared.bump_epoch();
    shared.registry.wake_all();
    ctx.router.gates.pause = None;
    ctx.reply(encode::ok);
}

fn client_reply(ctx: &mut Ctx) {
    let arg = ctx.args.get(2);
    if arg.eq_ignore_ascii_case(b"on") {
        ctx.session.reply = ReplyMode::On;
        ctx.sync_reply_flags();
        ctx.reply(encode::ok);
    } else if arg.eq_ignore_ascii_case(b"off") {
        ctx.session.reply = ReplyMode::Off;
        // An empty reply: the command is still counted.
        ctx.reply(|_| {});
    } else if arg.eq_ignore_ascii_case(b"skip") {
        if ctx.session.reply != ReplyMode::Off {
            ctx.session.reply = ReplyMode::SkipNext;
        }
        ctx.reply(|_| {});
    } else {
        ctx.syntax_error();
    }
}

fn client_help(ctx: &mut Ctx) {
    let lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)",
        "    Will not touch LRU/LFU stats when this mode is on.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.reply_lines(&lines);
}

/// Redis's client types: shardcache's connections are `pubsub` while they
/// have a subscription, `normal` otherwise (never a master or replica).
#[derive(Clone, Copy, PartialEq, Eq)]
enum TypeFilter {
    Normal,
    PubSub,
    Other,
}

impl TypeFilter {
    fn matches(self, c: &Client) -> bool {
        let pubsub = c.activity().subs.iter().any(|&n| n > 0);
        match self {
            TypeFilter::Normal => !pubsub,
            TypeFilter::PubSub => pubsub,
            TypeFilter::Other => false,
        }
    }
}

fn client_type(ctx: &mut Ctx, name: &[u8]) -> Option<TypeFilter> {
    let t = match name.to_ascii_lowercase().as_slice() {
        b"normal" => TypeFilter::Normal,
        b"pubsub" => TypeFilter::PubSub,
        b"master" | b"replica" | b"slave" => TypeFilter::Other,
        _ => {
            let mut msg = b"ERR Unknown client type '".to_vec();
            msg.extend_from_slice(name);
            msg.push(b'\'');
            ctx.reply(|out| encode::error_bytes(out, &msg));
            return None;
        }
    };
    Some(t)
}

/// CLIENT LIST [TYPE type | ID id [id ...]]
fn client_list(ctx: &mut Ctx) {
    let args = ctx.args;
    let n = args.len();
    ctx.session.publish(ctx.now_ms, None);
    let all = ctx.shared.registry.snapshot();
    let rows: Vec<Arc<Client>> = if n == 2 {
        all
    } else if n == 4 && args.get(2).eq_ignore_ascii_case(b"type") {
        match client_type(ctx, args.get(3)) {
            None => return,
            Some(t) => all.into_iter().filter(|c| t.matches(c)).collect(),
        }
    } else if n > 3 && args.get(2).eq_ignore_ascii_case(b"id") {
        let mut rows = Vec::new();
        for a in args.iter_from(3) {
            let Some(id) = parse_int(a) else {
                return ctx.error("ERR Invalid client ID");
            };
            rows.extend(all.iter().find(|c| c.id as i64 == id).cloned());
        }
        rows
    } else {
        return ctx.syntax_error();
    };
    let mut text = Vec::with_capacity(rows.len() * 320);
    for c in &rows {
        c.write_row(&mut text, ctx.now_ms, super::write_full_name);
        text.push(b'\n');
    }
    let resp3 = ctx.resp3();
    ctx.reply(|out| encode::verbatim(out, &text, resp3));
}

/// CLIENT KILL ip:port, or CLIENT KILL with filters (ID, TYPE, ADDR, LADDR,
/// USER, SKIPME). Another worker's connection is closed by that worker,
/// woken for it; this one closes after its reply.
fn client_kill(ctx: &mut Ctx) {
    let args = ctx.args;
    let old_form = args.len() == 3;
    let (mut addr, mut laddr): (Option<&[u8]>, Option<&[u8]>) = (None, None);
    let mut id = None;
    let mut kind: Option<TypeFilter> = None;
    let mut user: Option<&[u8]> = None;
    let mut skipme = !old_form;
    if old_form {
        addr = Some(args.get(2));
    } else {
        let mut i = 2;
        while i < args.len() {
            let opt = args.get(i).to_ascii_lowercase();
            if i + 1 >= args.len() {
                return ctx.syntax_error();
            }
            let val = args.get(i + 1);
            match opt.as_slice() {
                b"id" => match parse_int(val) {
                    Some(v) if v >= 1 => id = Some(v as u64),
                    _ => return ctx.error("ERR client-id should be greater than 0"),
                },
                b"type" => match client_type(ctx, val) {
                    None => return,
                    Some(t) => kind = Some(t),
                },
                b"addr" => addr = Some(val),
                b"laddr" => laddr = Some(val),
                b"user" => {
                    user = Some(val);
                    if ctx.shared.acl.user(val).is_none() {
                        let mut msg = b"ERR No such user '".to_vec();
                        msg.extend_from_slice(val);
                        msg.push(b'\'');
                        return ctx.reply(|out| encode::error_bytes(out, &msg));
                    }
                }
                b"skipme" => {
                    if val.eq_ignore_ascii_case(b"yes") {
                        skipme = true;
                    } else if val.eq_ignore_ascii_case(b"no") {
                        skipme = false;
                    } else {
                        return ctx.syntax_error();
                    }
                }
                _ => return ctx.syntax_error(),
            }
            i += 2;
        }
    }
    let me = ctx.session.client.id;
    let mut killed = 0i64;
    let mut close_me = false;
    if kind != Some(TypeFilter::Other) {
        for c in ctx.shared.registry.snapshot() {
            if kind.is_some_and(|k| !k.matches(&c))
                || addr.is_some_and(|a| a != c.addr.as_bytes())
                || laddr.is_some_and(|a| a != c.laddr.as_bytes())
                || id.is_some_and(|i| i != c.id)
                || user.is_some_and(|u| !c.is_user(u))
                || (c.id == me && skipme)
            {
                continue;
            }
            if c.id == me {
                close_me = true;
                killed += 1;
            } else if ctx.shared.registry.kill(&c) {
                killed += 1;
            }
        }
    }
    if old_form {
        if killed == 0 {
            ctx.error("ERR No such client");
        } else {
            ctx.reply(encode::ok);
        }
    } else {
        ctx.reply(|out| encode::int(out, killed));
    }
    if close_me {
        ctx.session.close = true;
    }
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2).
fn client_setinfo(ctx: &mut Ctx) {
    let attr = ctx.args.get(2);
    let val = ctx.args.get(3);
    let lib_name = attr.eq_ignore_ascii_case(b"lib-name");
    if !lib_name && !attr.eq_ignore_ascii_case(b"lib-ver") {
        let mut msg = b"ERR Unrecognized option '".to_vec();
        msg.extend_from_slice(attr);
        msg.push(b'\'');
        return ctx.reply(|out| encode::error_bytes(out, &msg));
    }
    if !valid_name(val) {
        let mut msg = b"ERR ".to_vec();
        msg.extend_from_slice(attr);
        msg.extend_from_slice(b" cannot contain spaces, newlines or special characters.");
        return ctx.reply(|out| encode::error_bytes(out, &msg));
    }
    let mut names = ctx.session.client.names();
    let dest = if lib_name {
        &mut names.lib_name
    } else {
        &mut names.lib_ver
    };
    dest.clear();
    dest.extend_from_slice(val);
    drop(names);
    ctx.reply(encode::ok);
}

/// The connection commands.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("auth", -2, auth)
        .flags(NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | LOCAL)
        .acl(&["fast", "connection"])
        .doc(
            "connection",
            "1.0.0",
            "Authenticate to the server",
            "O(N) where N is the number of passwords defined for the user",
        ),
    Command::new("hello", -1, hello)
        .flags(NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | LOCAL)
        .acl(&["fast", "connection"])
        .doc("connection", "6.0.0", "Handshake with Redis", "O(1)"),
    Command::new("reset", 1, reset)
        .flags(NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY)
        .acl(&["fast", "connection"])
        .doc("connection", "6.2.0", "Reset the connection", "O(1)"),
    Command::new("ping", -1, ping)
        .flags(FAST | LOCAL)
        .acl(&["fast", "connection"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc("connection", "1.0.0", "Ping the server", "O(1)"),
    Command::new("echo", 2, echo)
        .flags(LOADING | STALE | FAST | LOCAL)
        .acl(&["fast", "connection"])
        .doc("connection", "1.0.0", "Echo the given string", "O(1)"),
    Command::new("quit", -1, quit)
        .flags(NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | LOCAL)
        .acl(&["fast", "connection"])
        .doc("connection", "1.0.0", "Close the connection", "O(1)"),
    Command::new("client", -2, container)
        .flags(LOCAL)
        .acl(&["slow"])
        .subs(CLIENT_SUBS)
        .doc(
            "connection",
            "2.4.0",
            "A container for client connection commands",
            "Depends on subcommand.",
        ),
];

static CLIENT_SUBS: &[Command] = &[
    Command::new("client|getname", 2, client_getname)
        .flags(NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .doc(
            "connection",
            "2.6.9",
            "Get the current connection name",
            "O(1)",
        ),
    Command::new("client|help", 2, client_help)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .doc(
            "connection",
            "5.0.0",
            "Show helpful text about the different subcommands",
            "O(1)",
        ),
    Command::new("client|id", 2, client_id)
        .flags(NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .doc(
            "connection",
            "5.0.0",
            "Returns the client ID for the current connection",
            "O(1)",
        ),
    Command::new("client|info", 2, client_info)
        .flags(NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .tips(&["nondeterministic_output"])
        .doc(
            "connection",
            "6.2.0",
            "Returns information about the current client connection.",
            "O(1)",
        ),
    Command::new("client|kill", -3, client_kill)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous", "connection"])
        .doc(
            "connection",
            "2.4.0",
            "Kill the connection of a client",
            "O(N) where N is the number of client connections",
        ),
    Command::new("client|list", -2, client_list)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous", "connection"])
        .tips(&["nondeterministic_output"])
        .doc(
            "connection",
            "2.4.0",
            "Get the list of client connections",
            "O(N) where N is the number of client connections",
        ),
    Command::new("client|no-evict", 3, client_no_evict)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous", "connection"])
        .doc(
            "connection",
            "7.0.0",
            "Set client eviction mode for the current connection",
            "O(1)",
        ),
    Command::new("client|tracking", -3, super::tracking::client_tracking)
        .flags(NOSCRIPT | LOADING | STALE)
        .acl(&["slow", "connection"])
        .doc(
            "connection",
            "6.0.0",
            "Enable or disable server assisted client side caching support",
            "O(1). Some options may introduce additional complexity.",
        ),
    Command::new("client|caching", 3, super::tracking::client_caching)
        .flags(NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .doc(
            "connection",
            "6.0.0",
            "Instruct the server about tracking or not keys in the next request",
            "O(1)",
        ),
    Command::new("client|getredir", 2, super::tracking::client_getredir)
        .flags(NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .doc(
            "connection",
            "6.0.0",
            "Get tracking notifications redirection client ID if any",
            "O(1)",
        ),
    Command::new(
        "client|trackinginfo",
        2,
        super::tracking::client_trackinginfo,
    )
    .flags(NOSCRIPT | LOADING | STALE | LOCAL)
    .acl(&["slow", "connection"])
    .doc(
        "connection",
        "6.2.0",
        "Return information about server assisted client side caching for the current connection",
        "O(1)",
    ),
    Command::new("client|no-touch", 3, client_no_touch)
        .flags(NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .doc(
            "connection",
            "7.2.0",
            "Controls whether commands sent by the client affect the LRU/LFU of accessed keys",
            "O(1)",
        ),
    Command::new("client|pause", -3, client_pause)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous", "connection"])
        .doc(
            "connection",
            "2.9.50",
            "Stop processing commands from clients for some time",
            "O(1)",
        ),
    Command::new("client|reply", 3, client_reply)
        .flags(NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .doc(
            "connection",
            "3.2.0",
            "Instruct the server whether to reply to commands",
            "O(1)",
        ),
    Command::new("client|setinfo", 4, client_setinfo)
        .flags(NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .doc(
            "connection",
            "7.2.0",
            "Set client or connection specific info",
            "O(1)",
        ),
    Command::new("client|setname", 3, client_setname)
        .flags(NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .doc(
            "connection",
            "2.6.9",
            "Set the current connection name",
            "O(1)",
        ),
    super::blocking::CLIENT_UNBLOCK,
    Command::new("client|unpause", 2, client_unpause)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous", "connection"])
        .doc(
            "connection",
            "6.2.0",
            "Resume processing of clients that were paused",
            "O(N) Where N is the number of paused clients",
        ),
];
