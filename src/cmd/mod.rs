//! Command handlers: each parses its arguments into shard ops (through the
//! router) or answers directly. One file per family, as in mini-redis.

mod connection;
mod expire;
mod keys;
mod object;
mod server;
mod string;
pub mod txn;

pub use string::{lcs_reply, LcsOpts};

use crate::clients::{Activity, Client};
use crate::command::{self, flags, Cmd, CommandSpec};
use crate::resp::{encode, Args};
use crate::router::{reply_flags, Router};
use crate::server::Shared;
use std::sync::Arc;

/// CLIENT REPLY's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    /// Every reply is sent.
    On,
    /// No reply is sent.
    Off,
    /// The next command's reply is not sent.
    SkipNext,
}

/// Per-connection state a command may read or change.
#[derive(Debug)]
pub struct Session {
    /// CLIENT ID: unique for the server's life.
    pub id: u64,
    /// Selected database.
    pub db: u8,
    /// Set when the connection must close once its replies are written.
    pub close: bool,
    /// Protocol version: 2, or 3 after `HELLO 3`.
    pub resp: u8,
    /// AUTH passed, or no password was required when the connection opened
    /// (Redis's `c->authenticated`).
    pub authenticated: bool,
    /// CLIENT REPLY.
    pub reply: ReplyMode,
    /// CLIENT NO-EVICT (shown in CLIENT LIST; shardcache never evicts clients).
    pub no_evict: bool,
    /// The last command, `command::pack_last` (CLIENT LIST's `cmd=`).
    pub last_cmd: u32,
    /// This connection's row in the client registry.
    pub client: Arc<Client>,
    /// The transaction being queued, between MULTI and EXEC/DISCARD.
    pub multi: Option<Box<txn::Multi>>,
    /// Shards holding a WATCH of this connection.
    pub watched: Vec<u16>,
    /// EXEC is dispatching the queued commands (checked as a whole before).
    pub executing: bool,
}

impl Default for Session {
    /// A RESP2 session of a server without a password, in no registry.
    fn default() -> Self {
        Session::with_client(Arc::new(Client::detached()), true)
    }
}

impl Session {
    /// The session of a new connection whose registry row is `client`.
    pub fn new(client: Arc<Client>, shared: &Shared) -> Session {
        Session::with_client(client, !shared.auth_required())
    }

    fn with_client(client: Arc<Client>, authenticated: bool) -> Session {
        Session {
            id: client.id,
            db: 0,
            close: false,
            resp: 2,
            authenticated,
            reply: ReplyMode::On,
            no_evict: false,
            last_cmd: 0,
            client,
            multi: None,
            watched: Vec::new(),
            executing: false,
        }
    }

    /// RESET: back to the state of a new connection (db 0, RESP2, no name,
    /// replies on, unauthenticated when a password is set, no transaction).
    /// Every piece of per-connection state that RESET clears is cleared
    /// here; the WATCHes are forgotten by `txn::reset` (they live in shards).
    pub fn reset(&mut self, shared: &Shared) {
        self.db = 0;
        self.resp = 2;
        self.authenticated = !shared.auth_required();
        self.reply = ReplyMode::On;
        self.client.names().name.clear();
        self.multi = None;
    }

    /// Records that `shard` holds a WATCH of this connection.
    pub fn note_watch(&mut self, shard: usize) {
        if !self.watched.contains(&(shard as u16)) {
            self.watched.push(shard as u16);
        }
    }

    /// The shards that hold this connection's WATCHes, forgotten here.
    pub fn take_watched_shards(&mut self) -> impl Iterator<Item = usize> {
        std::mem::take(&mut self.watched)
            .into_iter()
            .map(usize::from)
    }

    /// The `router::reply_flags` for this connection's next reply.
    #[inline]
    pub fn reply_flags(&self) -> u8 {
        let resp3 = (self.resp == 3) as u8 * reply_flags::RESP3;
        let silent = (self.reply != ReplyMode::On) as u8 * reply_flags::SILENT;
        resp3 | silent
    }

    /// Publishes what CLIENT LIST shows of this connection; buffer figures
    /// come from the worker (`None`: keep the last ones).
    pub fn publish(&self, now_ms: u64, bufs: Option<(u32, u32, u64)>) {
        let (qbuf, rbs, mem) = bufs.unwrap_or_else(|| {
            let last = self.client.activity();
            (last.qbuf, last.rbs, last.mem)
        });
        self.client.publish(&Activity {
            last_cmd: self.last_cmd,
            db: self.db,
            resp: self.resp,
            no_evict: self.no_evict,
            last_ms: now_ms,
            qbuf,
            rbs,
            mem,
        });
    }
}

/// Everything a handler sees.
pub struct Ctx<'a> {
    /// The command's arguments, name first.
    pub args: &'a Args,
    /// Its table row.
    pub spec: &'static CommandSpec,
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
    /// Records the subcommand (`args[1]`) of a container command as part of
    /// the connection's last command (`cmd=client|list`).
    pub fn note_subcommand(&mut self) {
        if self.args.len() > 1 {
            if let Some(sub) = command::lookup_sub(self.spec.name, self.args.get(1)) {
                self.session.last_cmd |= (sub as u32 + 1) << 16;
            }
        }
    }
    /// Applies a change of protocol or reply mode to the replies that
    /// follow (HELLO, RESET, CLIENT REPLY ON).
    pub fn sync_reply_flags(&mut self) {
        self.router.set_conn_flags(self.session.reply_flags());
    }
}

/// Routes one decoded, non-empty command.
pub fn dispatch(
    args: &Args,
    conn: usize,
    session: &mut Session,
    router: &mut Router,
    shared: &Shared,
    now_ms: u64,
) {
    // Big arguments join the batches shared, for this command only.
    router.share_bigs(args.bigs());
    route(args, conn, session, router, shared, now_ms);
    router.share_bigs(&[]);
}

fn route(
    args: &Args,
    conn: usize,
    session: &mut Session,
    router: &mut Router,
    shared: &Shared,
    now_ms: u64,
) {
    let flags = session.reply_flags();
    router.set_conn_flags(flags);
    if flags & reply_flags::SILENT != 0 && session.reply == ReplyMode::SkipNext {
        // This command's reply is the one skipped.
        session.reply = ReplyMode::On;
    }
    let Some(id) = command::lookup_id(args.get(0)) else {
        let msg = unknown_command(args);
        router.reply(conn, |out| encode::error_bytes(out, &msg));
        if let Some(m) = session.multi.as_mut() {
            m.aborted = true;
        }
        return;
    };
    let spec = &command::COMMANDS[id];
    let mut ctx = Ctx {
        args,
        spec,
        conn,
        session,
        router,
        shared,
        now_ms,
    };
    ctx.session.last_cmd = command::pack_last(id, None);
    if !spec.arity_ok(args.len()) {
        if spec.cmd == Cmd::Exec {
            // Redis's `execCommandAbort`: a malformed EXEC ends the
            // transaction (if any) with EXECABORT naming the reason.
            txn::abort(&mut ctx, "wrong number of arguments for 'exec' command");
        } else {
            if let Some(m) = ctx.session.multi.as_mut() {
                m.aborted = true;
            }
            ctx.arity_error(spec.name);
        }
        return;
    }
    if !ctx.session.authenticated && refused_before_auth(&mut ctx) {
        if let Some(m) = ctx.session.multi.as_mut() {
            m.aborted = true;
        }
        return;
    }
    if (spec.has(flags::WRITE) || matches!(spec.cmd, Cmd::Ping | Cmd::Exec))
        && !ctx.session.executing
    {
        if let Some(why) = shared.aof_health.failing() {
            if refused_by_disk_error(&mut ctx, &why) {
                return;
            }
        }
    }
    if ctx.session.multi.is_some()
        && !matches!(
            spec.cmd,
            Cmd::Exec | Cmd::Discard | Cmd::Multi | Cmd::Watch | Cmd::Quit | Cmd::Reset
        )
    {
        queue(&mut ctx);
        return;
    }
    ctx.router.count_call(id);
    match spec.cmd {
        Cmd::Ping => server::ping(&mut ctx),
        Cmd::Echo => server::echo(&mut ctx),
        Cmd::Quit => server::quit(&mut ctx),
        Cmd::Info => server::info(&mut ctx),
        Cmd::Config => server::config(&mut ctx),
        Cmd::Command => server::command(&mut ctx),
        Cmd::BgRewriteAof => server::bgrewriteaof(&mut ctx),
        Cmd::Shutdown => server::shutdown(&mut ctx),
        Cmd::Latency => server::latency(&mut ctx),
        Cmd::Select => keys::select(&mut ctx),
        Cmd::Del => keys::del(&mut ctx),
        Cmd::Exists => keys::exists(&mut ctx),
        Cmd::DbSize => keys::dbsize(&mut ctx),
        Cmd::FlushAll => keys::flush(&mut ctx, true),
        Cmd::FlushDb => keys::flush(&mut ctx, false),
        Cmd::Get => string::get(&mut ctx),
        Cmd::Set => string::set(&mut ctx),
        Cmd::MGet => string::mget(&mut ctx),
        Cmd::MSet => string::mset(&mut ctx),
        Cmd::Incr => string::incr(&mut ctx),
        Cmd::Decr => string::decr(&mut ctx),
        Cmd::IncrBy => string::incrby(&mut ctx),
        Cmd::DecrBy => string::decrby(&mut ctx),
        Cmd::IncrByFloat => string::incrbyfloat(&mut ctx),
        Cmd::Append => string::append(&mut ctx),
        Cmd::Strlen => string::strlen(&mut ctx),
        Cmd::GetSet => string::getset(&mut ctx),
        Cmd::GetDel => string::getdel(&mut ctx),
        Cmd::SetNx => string::setnx(&mut ctx),
        Cmd::SetEx => string::setex(&mut ctx, true),
        Cmd::PSetEx => string::setex(&mut ctx, false),
        Cmd::GetRange => string::getrange(&mut ctx),
        Cmd::SetRange => string::setrange(&mut ctx),
        Cmd::Ttl => expire::ttl(&mut ctx),
        Cmd::PTtl => expire::pttl(&mut ctx),
        Cmd::ExpireTime => expire::expiretime(&mut ctx),
        Cmd::PExpireTime => expire::pexpiretime(&mut ctx),
        Cmd::Expire => expire::expire(&mut ctx, true, true),
        Cmd::PExpire => expire::expire(&mut ctx, false, true),
        Cmd::ExpireAt => expire::expire(&mut ctx, true, false),
        Cmd::PExpireAt => expire::expire(&mut ctx, false, false),
        Cmd::Persist => expire::persist(&mut ctx),
        Cmd::Type => expire::key_type(&mut ctx),
        Cmd::Touch => expire::touch(&mut ctx),
        Cmd::Multi => txn::multi(&mut ctx),
        Cmd::Exec => txn::exec(&mut ctx),
        Cmd::Discard => txn::discard(&mut ctx),
        Cmd::Watch => txn::watch(&mut ctx),
        Cmd::Unwatch => txn::unwatch(&mut ctx),
        Cmd::Rename => keys::rename(&mut ctx, false),
        Cmd::RenameNx => keys::rename(&mut ctx, true),
        Cmd::Copy => keys::copy(&mut ctx),
        Cmd::SwapDb => keys::swapdb(&mut ctx),
        Cmd::MSetNx => string::msetnx(&mut ctx),
        Cmd::Keys => keys::keys(&mut ctx),
        Cmd::Scan => keys::scan(&mut ctx),
        Cmd::RandomKey => keys::randomkey(&mut ctx),
        Cmd::GetEx => string::getex(&mut ctx),
        Cmd::GetBit => string::getbit(&mut ctx),
        Cmd::SetBit => string::setbit(&mut ctx),
        Cmd::BitCount => string::bitcount(&mut ctx),
        Cmd::BitPos => string::bitpos(&mut ctx),
        Cmd::Lcs => string::lcs(&mut ctx),
        Cmd::Object => object::object(&mut ctx),
        Cmd::Memory => object::memory(&mut ctx),
        Cmd::Move => keys::move_key(&mut ctx),
        Cmd::Auth => connection::auth(&mut ctx),
        Cmd::Hello => connection::hello(&mut ctx),
        Cmd::Client => connection::client(&mut ctx),
        Cmd::Reset => connection::reset(&mut ctx),
        Cmd::Time => server::time(&mut ctx),
        Cmd::LastSave => server::lastsave(&mut ctx),
        Cmd::Function => server::function(&mut ctx),
    }
}

/// For a connection that has not authenticated: replies with Redis's error
/// and returns true unless no password is required now or the command runs
/// without one (AUTH, HELLO, QUIT, RESET). Kept out of `dispatch`'s body:
/// authenticated connections never get here.
#[cold]
#[inline(never)]
fn refused_before_auth(ctx: &mut Ctx) -> bool {
    if !ctx.shared.auth_required() || ctx.spec.has(flags::NO_AUTH) {
        return false;
    }
    // As Redis: a container's subcommand is checked before authentication.
    if subcommand_ok(ctx) {
        ctx.error("NOAUTH Authentication required.");
    }
    true
}

/// While an AOF segment cannot be written (Redis's
/// `writeCommandsDeniedByDiskError` check in `processCommand`): a write
/// command, EXEC of a transaction holding one, and PING (Redis refuses it
/// too, so a monitoring PING sees the failure) are refused with MISCONF
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
    if ctx.spec.cmd == Cmd::Exec {
        let writes = ctx.session.multi.as_ref().is_some_and(|m| {
            m.cmds
                .iter()
                .any(|a| command::lookup(a.get(0)).is_some_and(|spec| spec.has(flags::WRITE)))
        });
        if !writes {
            return false;
        }
        txn::abort(ctx, &msg);
    } else {
        if let Some(m) = ctx.session.multi.as_mut() {
            m.aborted = true;
        }
        ctx.error(&msg);
    }
    ctx.router
        .begin(crate::router::NO_CONN, crate::router::Merge::AllOk);
    ctx.router
        .each_shard_op(0, |_| shards::ops::server::SrvOp::RetryAof.into());
    true
}

/// For a container command listed in `command::SUBCOMMANDS`: replies with
/// Redis's error and returns false when the subcommand is unknown or has
/// the wrong number of arguments.
fn subcommand_ok(ctx: &mut Ctx) -> bool {
    let name = ctx.spec.name;
    if ctx.args.len() < 2 || !command::is_container(name) {
        return true;
    }
    match command::lookup_sub(name, ctx.args.get(1)) {
        None => {
            unknown_subcommand(ctx);
            false
        }
        Some(i) => {
            let (_, sub, arity) = command::SUBCOMMANDS[i];
            let n = ctx.args.len();
            let ok = if arity >= 0 {
                n == arity as usize
            } else {
                n >= (-arity) as usize
            };
            if !ok {
                ctx.arity_error(&format!("{name}|{sub}"));
            }
            ok
        }
    }
}

/// Between MULTI and EXEC: Redis checks the subcommand of a container now
/// (an unknown one aborts the transaction) and everything else at EXEC.
fn queue(ctx: &mut Ctx) {
    if ctx.spec.has(flags::NO_MULTI) {
        ctx.error("ERR Command not allowed inside a transaction");
        if let Some(m) = ctx.session.multi.as_mut() {
            m.aborted = true;
        }
        return;
    }
    if !subcommand_ok(ctx) {
        if let Some(m) = ctx.session.multi.as_mut() {
            m.aborted = true;
        }
        return;
    }
    let mut queued = Args::default();
    for i in 0..ctx.args.len() {
        queued.push_from(ctx.args, i);
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

/// Redis's `unknown subcommand` error for `ctx`'s command, quoting the
/// subcommand byte for byte.
pub fn unknown_subcommand(ctx: &mut Ctx) {
    let sub = ctx.args.get(1);
    let mut msg = b"ERR unknown subcommand '".to_vec();
    msg.extend_from_slice(&sub[..sub.len().min(128)]);
    msg.extend_from_slice(
        format!("'. Try {} HELP.", ctx.spec.name.to_ascii_uppercase()).as_bytes(),
    );
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
