//! Commands: declarations and handlers, one file per family (mini-redis's
//! layout, Dragonfly's `*_family.cc`). Each family file holds its table of
//! `Command` declarations (name, arity, flags, key specs, tips, ACL
//! categories, docs, subcommands, handler, whether a section is needed)
//! beside the handlers; everything else is derived from the tables here:
//! look-up (with `rename-command`), arity and subcommand errors, the auth
//! and disk-error checks, MULTI queueing, sections, statistics and COMMAND.
//!
//! A handler parses its arguments into typed shard ops (or answers itself)
//! and routes them through the `exchange::Router`; argument errors are
//! answered here, before anything reaches a shard.
//!
//! Adding a command: a declaration row and a handler in its family file
//! (and, for a new shard op, a variant in the engine's family file).

mod acl;
mod bitmap;
mod blocking;
mod cgroup;
mod config;
mod connection;
mod debug;
mod describe;
mod expire;
mod geo;
mod hash;
mod hll;
mod info;
mod keys;
mod list;
mod monitor;
mod object;
mod pubsub;
mod rdb;
mod script;
mod server;
mod set;
mod sort;
mod spec;
mod standalone;
mod steps;
mod stream;
mod string;
mod tracking;
pub mod txn;
mod zset;

pub use crate::session::{ReplyMode, Session};
pub use acl::load_at_start as load_users;
pub use spec::{flags, ks, Begin, Command, Find, Handler, KeySpec, NeedsSection};
pub use string::{lcs_reply, LcsOpts};

use crate::exchange::{reply_flags, Router};
use crate::resp::{encode, Args};
use crate::shared::Shared;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Every family's declarations, in the order COMMAND lists them.
const FAMILIES: &[&[Command]] = &[
    connection::COMMANDS,
    string::COMMANDS,
    bitmap::COMMANDS,
    keys::COMMANDS,
    expire::COMMANDS,
    hash::COMMANDS,
    set::COMMANDS,
    list::COMMANDS,
    zset::COMMANDS,
    geo::COMMANDS,
    hll::COMMANDS,
    blocking::COMMANDS,
    stream::COMMANDS,
    cgroup::COMMANDS,
    sort::COMMANDS,
    object::COMMANDS,
    txn::COMMANDS,
    script::COMMANDS,
    info::COMMANDS,
    config::COMMANDS,
    describe::COMMANDS,
    server::COMMANDS,
    rdb::COMMANDS,
    standalone::COMMANDS,
    monitor::COMMANDS,
    debug::COMMANDS,
    pubsub::COMMANDS,
    acl::COMMANDS,
];

/// The command table, built once from the families.
struct Table {
    /// Every command and subcommand; a command's id is its index.
    all: Vec<&'static Command>,
    /// Ids of the top-level commands, in declaration order.
    top: Vec<usize>,
    /// Top-level names (lower case) to ids.
    by_name: HashMap<&'static [u8], usize, ahash::RandomState>,
    /// Command addresses to ids.
    ids: HashMap<usize, usize, ahash::RandomState>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Table {
            all: Vec::new(),
            top: Vec::new(),
            by_name: HashMap::default(),
            ids: HashMap::default(),
        };
        for family in FAMILIES {
            for c in family.iter() {
                let id = t.all.len();
                t.all.push(c);
                t.top.push(id);
                t.ids.insert(c as *const Command as usize, id);
                let dup = t.by_name.insert(c.name.as_bytes(), id);
                debug_assert!(dup.is_none(), "command {} declared twice", c.name);
                for s in c.subs {
                    t.ids.insert(s as *const Command as usize, t.all.len());
                    t.all.push(s);
                }
            }
        }
        t
    })
}

/// Number of commands and subcommands (the size of per-command tables).
pub fn count() -> usize {
    table().all.len()
}

/// The command with this id.
pub fn by_id(id: usize) -> &'static Command {
    table().all[id]
}

/// The id of a declared command.
#[inline]
pub fn id_of(c: &'static Command) -> usize {
    table().ids[&(c as *const Command as usize)]
}

/// Every top-level command, in declaration order.
pub fn all() -> impl Iterator<Item = &'static Command> {
    let t = table();
    t.top.iter().map(|&i| t.all[i])
}

/// `rename-command`: names taken away and names given, set once at start.
struct Renames {
    hidden: Vec<bool>,
    added: HashMap<Vec<u8>, usize, ahash::RandomState>,
}

static RENAMES: OnceLock<Renames> = OnceLock::new();

/// Applies `rename-command` pairs (`NAME NEW`; an empty `NEW` disables the
/// command), as Redis does at start. Call once, before serving.
pub fn apply_renames(pairs: &[(String, String)]) -> Result<(), String> {
    let mut r = Renames {
        hidden: vec![false; count()],
        added: HashMap::default(),
    };
    for (old, new) in pairs {
        let id = lookup_id(old.as_bytes(), false)
            .ok_or_else(|| format!("rename-command: no such command '{old}'"))?;
        r.hidden[id] = true;
        if !new.is_empty() {
            r.added.insert(new.to_ascii_lowercase().into_bytes(), id);
        }
    }
    RENAMES
        .set(r)
        .map_err(|_| "rename-command applied twice".to_string())
}

fn lookup_id(name: &[u8], renamed: bool) -> Option<usize> {
    // Command names are short; fold case on the stack instead of allocating.
    let mut buf = [0u8; 64];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let t = table();
    match RENAMES.get().filter(|_| renamed) {
        None => t.by_name.get(&*lower).copied(),
        Some(r) => {
            if let Some(&id) = r.added.get(&*lower) {
                return Some(id);
            }
            t.by_name.get(&*lower).copied().filter(|&id| !r.hidden[id])
        }
    }
}

/// Finds a top-level command by name, case-insensitively, as clients see
/// the table (after `rename-command`).
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    lookup_id(name, true).map(by_id)
}

/// The command `args` names, a container's subcommand resolved, as
/// dispatch resolves it; None when either is unknown.
pub fn resolve(args: &Args) -> Option<&'static Command> {
    let top = lookup(args.get(0))?;
    if top.is_container() && args.len() >= 2 {
        top.sub(args.get(1))
    } else {
        Some(top)
    }
}

/// The section predicate of multi-key commands that run as one op when
/// all their keys share a shard: true when the keys its key specs find
/// live on more than one shard.
fn keys_span_shards(args: &Args, router: &Router) -> bool {
    let Some(c) = resolve(args) else {
        return false;
    };
    let mut keys = Vec::new();
    if !c.find_keys(args, &mut keys) {
        return false;
    }
    let mut shards = keys.iter().map(|&(i, _)| router.shard_of(args.get(i)));
    let first = shards.next();
    shards.any(|s| Some(s) != first)
}

/// A container's own handler: dispatch resolves its subcommands and checks
/// the arity (at least 2) first, so this answers only what slips past.
fn container(ctx: &mut Ctx) {
    unknown_subcommand(ctx);
}

/// Writes the full name of command `id` (`get`, `client|list`), or `NULL`
/// for none, as CLIENT LIST shows it. `id` is a session's last command + 1.
pub fn write_full_name(last: u32, out: &mut Vec<u8>) {
    match (last as usize)
        .checked_sub(1)
        .and_then(|i| table().all.get(i))
    {
        None => out.extend_from_slice(b"NULL"),
        Some(c) => out.extend_from_slice(c.name.as_bytes()),
    }
}

/// Everything a handler sees.
pub struct Ctx<'a> {
    /// The command's arguments, name first.
    pub args: &'a Args,
    /// Its declaration (the subcommand's, for a container).
    pub cmd: &'static Command,
    /// The connection's token, to address its reply.
    pub conn: usize,
    /// Connection state.
    pub session: &'a mut Session,
    /// The round's router.
    pub router: &'a mut Router,
    /// Server-wide state.
    pub shared: &'a Shared,
    /// Unix time in ms for this round (relative expiries become absolute with it).
    pub now_ms: u64,
}

impl Ctx<'_> {
    /// Replies with an error (`msg` includes its `ERR`/`OOM`/... prefix).
    pub fn error(&mut self, msg: &str) {
        self.router.reply(self.conn, |out| encode::error(out, msg));
    }
    /// Replies with Redis's syntax error.
    pub fn syntax_error(&mut self) {
        self.error("ERR syntax error");
    }
    /// Replies with Redis's integer error.
    pub fn not_integer(&mut self) {
        self.error("ERR value is not an integer or out of range");
    }
    /// Replies with the arity error for `name` (a command or `cmd|sub`).
    pub fn arity_error(&mut self, name: &str) {
        let msg = format!("ERR wrong number of arguments for '{name}' command");
        self.error(&msg);
    }
    /// Replies with an array of status lines (the HELP subcommands).
    pub fn reply_lines(&mut self, lines: &[&str]) {
        self.reply(|out| {
            encode::array(out, lines.len());
            for l in lines {
                encode::simple(out, l);
            }
        });
    }
    /// Replies with any encoder.
    pub fn reply(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        self.router.reply(self.conn, write);
    }
    /// True when the connection speaks RESP3.
    pub fn resp3(&self) -> bool {
        self.session.resp == 3
    }
    /// Applies a change of protocol or reply mode to the replies that
    /// follow (HELLO, RESET, CLIENT REPLY ON).
    pub fn sync_reply_flags(&mut self) {
        self.router.set_conn_flags(self.session.reply_flags());
    }
}

/// Routes one decoded, non-empty command: `cmd` when the caller resolved
/// it already (`resolve`; a script's `redis.call` checks the command before
/// it runs it), else the one `args` names.
pub fn dispatch(
    cmd: Option<&'static Command>,
    args: &Args,
    conn: usize,
    session: &mut Session,
    router: &mut Router,
    shared: &Shared,
    now_ms: u64,
) {
    // Big arguments join the batches shared, for this command only.
    router.share_bigs(args.bigs());
    route(args, cmd, conn, session, router, shared, now_ms);
    router.share_bigs(&[]);
}

fn abort_multi(session: &mut Session) {
    if let Some(m) = session.multi.as_mut() {
        m.aborted = true;
    }
}

fn route(
    args: &Args,
    resolved: Option<&'static Command>,
    conn: usize,
    session: &mut Session,
    router: &mut Router,
    shared: &Shared,
    now_ms: u64,
) {
    // EXEC routes its queued commands from inside its handler: each one's
    // replies are attributed to it, then EXEC's again.
    let outer = router.enter();
    route_one(args, resolved, conn, session, router, shared, now_ms);
    router.leave(outer);
}

fn route_one(
    args: &Args,
    resolved: Option<&'static Command>,
    conn: usize,
    session: &mut Session,
    router: &mut Router,
    shared: &Shared,
    now_ms: u64,
) {
    let reply = session.reply_flags();
    router.set_conn_flags(reply);
    let skipped = reply & reply_flags::SILENT != 0 && session.reply == ReplyMode::SkipNext;
    if skipped {
        // This command's reply is the one skipped.
        session.reply = ReplyMode::On;
    }
    let top = match resolved {
        Some(cmd) => cmd,
        None => match lookup(args.get(0)) {
            Some(top) => top,
            None => {
                let msg = unknown_command(args);
                router.reply(conn, |out| encode::error_bytes(out, &msg));
                abort_multi(session);
                return;
            }
        },
    };
    // Redis's `lookupCommand`: a container with a subcommand argument is
    // that subcommand, an unknown one an error (checked before AUTH, as
    // existence and arity are).
    let cmd = if resolved.is_none() && top.is_container() && args.len() >= 2 {
        match top.sub(args.get(1)) {
            Some(sub) => sub,
            None => {
                let msg = unknown_subcommand_text(top, args.get(1));
                router.reply(conn, |out| encode::error_bytes(out, &msg));
                abort_multi(session);
                return;
            }
        }
    } else {
        top
    };
    let id = id_of(cmd);
    session.last_cmd = id as u32 + 1;
    router.set_command(id);
    let mut ctx = Ctx {
        args,
        cmd,
        conn,
        session,
        router,
        shared,
        now_ms,
    };
    if !cmd.arity_ok(args.len()) {
        if cmd.name == "exec" {
            // Redis's `execCommandAbort`: a malformed EXEC ends the
            // transaction (if any) with EXECABORT naming the reason.
            txn::abort(&mut ctx, "wrong number of arguments for 'exec' command");
        } else {
            abort_multi(ctx.session);
            ctx.arity_error(cmd.name);
        }
        return;
    }
    if !ctx.session.authenticated && refused_before_auth(&mut ctx) {
        abort_multi(ctx.session);
        return;
    }
    // One comparison for a user that may run anything (see `acl`).
    if ctx.session.acl_free != shared.acl.gen() && acl::refused(&mut ctx) {
        abort_multi(ctx.session);
        return;
    }
    if (cmd.has(flags::WRITE) || matches!(cmd.name, "ping" | "exec")) && !ctx.session.executing {
        if let Some(why) = shared.aof_health.failing() {
            if refused_by_disk_error(&mut ctx, &why) {
                return;
            }
        }
    }
    if ctx.session.subscribed_resp2()
        && !ctx.session.executing
        && pubsub::refused_while_subscribed(&mut ctx)
    {
        abort_multi(ctx.session);
        return;
    }
    // After the pub/sub context check, as in Redis's processCommand.
    if let Some(busy) = shared.scripting.busy(now_ms) {
        if refused_while_busy(&mut ctx, busy) {
            return;
        }
    }
    if ctx.session.monitor && refused_to_monitor(&mut ctx) {
        abort_multi(ctx.session);
        return;
    }
    if let Some(kind) = ctx.router.gates.pause {
        if held_by_pause(&ctx, kind) {
            // Redis blocks the client (`BLOCKED_POSTPONE`): it runs the
            // command, from the start, once the pause ends.
            ctx.router.postpone();
            if skipped {
                // The skip is for its reply, given when it runs.
                ctx.session.reply = ReplyMode::SkipNext;
            }
            return;
        }
    }
    if ctx.session.multi.is_some()
        && !matches!(
            cmd.name,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        )
    {
        queue(&mut ctx);
        return;
    }
    if let Some(needs) = cmd.section {
        if !ctx.router.in_section() && needs(args, ctx.router) {
            // Run once the round is delivered, holding its shards.
            ctx.router.defer();
            if skipped {
                // The skip is for its reply, given when it runs.
                ctx.session.reply = ReplyMode::SkipNext;
            }
            return;
        }
    }
    ctx.router.count_call();
    let first_reply = ctx.router.pending_len();
    if ctx.session.no_touch && cmd.name != "touch" {
        // Redis 7.2's CLIENT NO-TOUCH: the look-ups of this connection's
        // commands leave the LRU alone, except TOUCH's.
        ctx.router.set_no_touch(true);
    }
    if ctx.session.tracking.is_some() {
        // Client-side caching: a read-only command's keys are remembered
        // by their shards (Redis's `trackingRememberKeys`); CLIENT
        // CACHING's choice holds for one command (all of a transaction's),
        // CLIENT's own subcommands aside.
        let me = ctx.session.subscriber();
        let executing = ctx.session.executing;
        if let Some(t) = ctx.session.tracking.as_deref_mut() {
            ctx.router
                .set_tracker(t.tracker(me, cmd.has(flags::READONLY)));
            if t.caching
                && !executing
                && !matches!(cmd.name, "exec" | "multi")
                && !cmd.name.starts_with("client|")
            {
                t.caching = false;
            }
        }
    }
    (cmd.run)(&mut ctx);
    let gates = ctx.router.gates;
    if gates.monitoring || gates.slowlog.is_some() {
        observe_ran(&mut ctx, first_reply);
    }
}

/// Records a command that ran for MONITOR (after it ran, as Redis's
/// `call()` feeds monitors: SELECT shows the database it selected, AUTH
/// its redacted arguments) and for the slow log. Administrative commands
/// and those flagged `skip_monitor` are not shown; `skip_slowlog` ones are
/// not logged.
#[cold]
#[inline(never)]
fn observe_ran(ctx: &mut Ctx, first_reply: usize) {
    let monitor = !ctx.cmd.has(flags::ADMIN | flags::SKIP_MONITOR);
    let slowlog = !ctx.cmd.has(flags::SKIP_SLOWLOG);
    ctx.router.observe_ran(
        ctx.conn,
        ctx.args,
        ctx.session.db,
        &ctx.session.client.addr,
        first_reply,
        monitor,
        slowlog,
    );
}

/// For a connection that has not authenticated: replies with Redis's error
/// and returns true unless no password is required now or the command runs
/// without one (AUTH, HELLO, QUIT, RESET). Kept out of `route`'s body:
/// authenticated connections never get here.
#[cold]
#[inline(never)]
fn refused_before_auth(ctx: &mut Ctx) -> bool {
    if !ctx.shared.auth_required() || ctx.cmd.has(flags::NO_AUTH) {
        return false;
    }
    ctx.error("NOAUTH Authentication required.");
    true
}

/// While a script runs past busy-reply-threshold on another worker, Redis
/// answers BUSY to every command not flagged `allow-busy` (the script's own
/// commands run in its section and are never refused).
#[cold]
#[inline(never)]
fn refused_while_busy(ctx: &mut Ctx, busy: &str) -> bool {
    if ctx.router.in_section() || ctx.cmd.has(flags::ALLOW_BUSY) {
        return false;
    }
    abort_multi(ctx.session);
    ctx.error(busy);
    true
}

/// True when `flag` is set on the command, or, for EXEC, on one of the
/// queued commands (Redis's `c->mstate.cmd_flags`).
fn has_flag_or_queued(ctx: &Ctx, flag: u32) -> bool {
    if ctx.cmd.has(flag) {
        return true;
    }
    ctx.cmd.name == "exec"
        && ctx.session.multi.as_ref().is_some_and(|m| {
            m.cmds
                .iter()
                .any(|a| resolve(a).is_some_and(|c| c.has(flag)))
        })
}

/// A connection in MONITOR mode is a replica to Redis: it may not touch
/// the keyspace ("Replica can't interact with the keyspace").
#[cold]
#[inline(never)]
fn refused_to_monitor(ctx: &mut Ctx) -> bool {
    if !has_flag_or_queued(ctx, flags::WRITE | flags::MAY_REPLICATE | flags::READONLY) {
        return false;
    }
    ctx.error("ERR Replica can't interact with the keyspace");
    true
}

/// Whether the CLIENT PAUSE in force holds this command back: ALL holds
/// every command, WRITE those that may write (EXEC of such commands too).
/// Monitors are never held, nor what runs inside EXEC or a deferred
/// command's second phase (checked when they were dispatched).
#[cold]
#[inline(never)]
fn held_by_pause(ctx: &Ctx, kind: crate::observe::PauseKind) -> bool {
    if ctx.session.monitor || ctx.session.executing || ctx.router.in_section() {
        return false;
    }
    match kind {
        crate::observe::PauseKind::All => true,
        crate::observe::PauseKind::Write => {
            has_flag_or_queued(ctx, flags::WRITE | flags::MAY_REPLICATE)
        }
    }
}

/// While an AOF segment cannot be written: Redis's `processCommand` check
/// (`writeCommandsDeniedByDiskError`) refuses write commands, PING and EXEC
/// before they run; reads go on. Inside MULTI the refusal also aborts the
/// transaction; EXEC answers EXECABORT quoting it. Returns false for an EXEC
/// that writes nothing.
///
/// Every shard is also sent a `RetryAof`: a failing one tries its disk
/// again before it runs anything, so the next write finds the disk as it is
/// now (Redis retries in `beforeSleep`, after every command).
#[cold]
#[inline(never)]
fn refused_by_disk_error(ctx: &mut Ctx, why: &str) -> bool {
    let msg = crate::errors::text(&shards::Error::Misconf(why.into())).into_owned();
    if ctx.cmd.name == "exec" {
        let writes = ctx.session.multi.as_ref().is_some_and(|m| {
            m.cmds
                .iter()
                .any(|a| lookup(a.get(0)).is_some_and(|c| c.has(flags::WRITE)))
        });
        if !writes {
            return false;
        }
        txn::abort(ctx, &msg);
    } else {
        abort_multi(ctx.session);
        ctx.error(&msg);
    }
    ctx.router
        .begin(crate::exchange::NO_CONN, crate::exchange::Merge::AllOk);
    ctx.router
        .each_shard_op(0, |_| shards::ops::server::SrvOp::RetryAof.into());
    true
}

/// Between MULTI and EXEC: everything is checked (existence, subcommand,
/// arity) and queued; EXEC runs the queue.
fn queue(ctx: &mut Ctx) {
    if ctx.cmd.has(flags::NO_MULTI) {
        ctx.error("ERR Command not allowed inside a transaction");
        abort_multi(ctx.session);
        return;
    }
    let mut queued = Args::default();
    for a in ctx.args.iter_from(0) {
        queued.push(a);
    }
    if let Some(m) = ctx.session.multi.as_mut() {
        m.cmds.push(queued);
    }
    ctx.reply(|out| encode::simple(out, "QUEUED"));
}

/// Redis 7.0's text: the name and the first arguments, each cut to what is
/// left of a 128-byte budget, quoted byte for byte.
fn unknown_command(args: &Args) -> Vec<u8> {
    // Redis formats each with `%s`: a NUL ends it.
    let c_str = |a: &[u8]| -> usize { memchr::memchr(0, a).unwrap_or(a.len()) };
    let name = args.get(0);
    let name = &name[..c_str(name)];
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(&name[..name.len().min(128)]);
    msg.extend_from_slice(b"', with args beginning with: ");
    let mut list = 0;
    for a in args.iter_from(1) {
        if list >= 128 {
            break;
        }
        let a = &a[..c_str(a)];
        let take = a.len().min(128 - list);
        msg.push(b'\'');
        msg.extend_from_slice(&a[..take]);
        msg.extend_from_slice(b"' ");
        list += take + 3;
    }
    msg
}

/// Redis's `unknown subcommand` error text for container `top`, quoting the
/// subcommand byte for byte.
fn unknown_subcommand_text(top: &Command, sub: &[u8]) -> Vec<u8> {
    let mut msg = b"ERR unknown subcommand '".to_vec();
    msg.extend_from_slice(&sub[..sub.len().min(128)]);
    msg.extend_from_slice(format!("'. Try {} HELP.", top.name.to_ascii_uppercase()).as_bytes());
    msg
}

/// Replies with Redis's unknown-subcommand error for the command being run
/// (handlers that find an option they do not serve).
pub fn unknown_subcommand(ctx: &mut Ctx) {
    let top = ctx.cmd.name.split('|').next().unwrap_or(ctx.cmd.name);
    let top = lookup(top.as_bytes()).unwrap_or(ctx.cmd);
    let msg = unknown_subcommand_text(top, ctx.args.get(1));
    ctx.router
        .reply(ctx.conn, |out| encode::error_bytes(out, &msg));
}

/// Parses an argument as Redis's `getIntFromObjectOrReply`: an integer that
/// fits in 32 bits, or the matching error reply.
pub fn parse_i32_or_reply(ctx: &mut Ctx, arg: &[u8]) -> Option<i32> {
    match parse_int(arg) {
        None => {
            ctx.not_integer();
            None
        }
        Some(v) => match i32::try_from(v) {
            Ok(v) => Some(v),
            Err(_) => {
                ctx.error(
                    "ERR value is out of range, value must between -2147483648 and 2147483647",
                );
                None
            }
        },
    }
}

/// Parses an argument as Redis's `getLongLongFromObject` does.
pub fn parse_int(arg: &[u8]) -> Option<i64> {
    crate::resp::parse_i64(arg)
}

/// An argument as C's `strcasecmp` sees it: up to its first NUL byte. Redis
/// compares option names that way, so `EX\0junk` is `EX` to it.
pub fn c_str(arg: &[u8]) -> &[u8] {
    match memchr::memchr(0, arg) {
        Some(end) => &arg[..end],
        None => arg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"GeT").unwrap().name, "get");
        assert_eq!(lookup(b"DELETE").unwrap().name, "delete");
        assert!(lookup(b"nosuch").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
    }

    #[test]
    fn names_are_unique_lowercase_and_declared_once() {
        let mut names: Vec<&str> = all().map(|c| c.name).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
        for c in all() {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            for s in c.subs {
                assert!(s.name.starts_with(&format!("{}|", c.name)), "{}", s.name);
                assert_eq!(by_id(id_of(s)).name, s.name);
            }
            assert!(
                !c.group.is_empty() && !c.since.is_empty(),
                "{} has docs",
                c.name
            );
        }
    }

    #[test]
    fn subcommands_and_full_names() {
        let client = lookup(b"client").unwrap();
        let list = client.sub(b"LIST").unwrap();
        assert_eq!(list.name, "client|list");
        let mut out = Vec::new();
        write_full_name(id_of(list) as u32 + 1, &mut out);
        assert_eq!(out, b"client|list");
        out.clear();
        write_full_name(0, &mut out);
        assert_eq!(out, b"NULL");
        assert!(client.sub(b"nosuch").is_none());
        assert!(!lookup(b"get").unwrap().is_container());
    }

    #[test]
    fn arity_and_key_positions() {
        let get = lookup(b"get").unwrap();
        assert!(get.arity_ok(2) && !get.arity_ok(1) && !get.arity_ok(3));
        let mset = lookup(b"mset").unwrap();
        assert_eq!(mset.key_positions(5).collect::<Vec<_>>(), [1, 3]);
        let del = lookup(b"del").unwrap();
        assert_eq!(del.key_positions(4).collect::<Vec<_>>(), [1, 2, 3]);
    }
}
