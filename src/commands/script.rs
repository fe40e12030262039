//! Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO, SCRIPT
//! and FUNCTION (Redis's `eval.c`, `script_lua.c`, `functions.c`), on top
//! of the Lua engine in `crate::script`.
//!
//! Each worker thread owns a `ScriptEngine` (one Lua state); the sources
//! of the server's scripts and libraries are shared (`script::Registry`)
//! and an engine catches up with them before it runs anything.
//!
//! Atomicity: a script runs in a section. It holds the shard of its declared
//! keys when they share one, every shard otherwise (a script may touch keys
//! it did not declare; see `run` for what happens when it does). The holds
//! travel with its first exchange; each `redis.call` is dispatched through
//! the command table like a client's command, exchanged with the held
//! shards, and its encoded reply read back as the script's value. No other
//! client's command runs on a held shard until the script's reply is
//! delivered, so nobody sees its intermediate state; its writes reach each
//! shard's AOF as ordinary records (effects replication: replay never runs
//! Lua).

use super::spec::{flags::*, ks, Begin, Command, Find, KeySpec};
use super::{dispatch, resolve, Ctx};
use crate::exchange::{reply_flags, NO_CONN};
use crate::resp::Args;
use crate::script::{
    sha1_hex, CallContext, CallResult, Host, NullHost, Outcome, Refusal, Registry, RespValue,
    ScriptEngine, ScriptFlags, Sources,
};
use crate::session::Session;
use crate::shared::Shared;
use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// A worker's engine and what it knows of the registry.
struct Local {
    engine: ScriptEngine,
    /// The registry's `flushes` and `libs_gen` this engine follows.
    flushes: u64,
    libs_gen: u64,
    /// The server this engine belongs to (in-process test servers share a
    /// process, never a worker thread, but a thread could outlive one).
    owner: usize,
    /// The Lua memory last added to the registry's sum.
    reported: u64,
    /// The client scripts run their commands as.
    session: Session,
    /// A `redis.call`'s arguments, encoded reply and keys (reused).
    args: Args,
    buf: Vec<u8>,
    keys: Vec<(usize, &'static KeySpec)>,
    /// Scripts (SHA1) and functions (name) seen reaching past the shard of
    /// their declared keys: they hold every shard.
    spans: std::collections::HashSet<Vec<u8>, ahash::RandomState>,
}

/// The most scripts a worker remembers as reaching past their keys' shard.
const MAX_SPANS: usize = 10_000;

thread_local! {
    static ENGINE: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's engine, brought up to date with the
/// server's scripts and libraries.
fn with_local<R>(shared: &Shared, f: impl FnOnce(&mut Local, &Registry) -> R) -> Option<R> {
    let reg = &shared.scripting;
    ENGINE.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        let owner = shared as *const Shared as usize;
        if !slot.as_ref().is_some_and(|l| l.owner == owner) {
            let engine = ScriptEngine::new();
            // Redis seeds math.random once, with the same seed every start.
            engine.seed_random(0);
            *slot = Some(Local {
                engine,
                flushes: 0,
                libs_gen: 0,
                owner,
                reported: 0,
                session: Session::default(),
                args: Args::default(),
                buf: Vec::new(),
                keys: Vec::new(),
                spans: Default::default(),
            });
        }
        let local = slot.as_mut()?;
        let flushes = reg.flushes.load(Ordering::Acquire);
        if flushes != local.flushes {
            local.engine.script_flush();
            local.spans.clear();
            local.flushes = flushes;
        }
        if local.spans.len() > MAX_SPANS {
            // Scripts generated on the fly must not grow it without bound;
            // forgetting costs a restart per script at worst.
            local.spans.clear();
        }
        if reg.libs_gen.load(Ordering::Acquire) != local.libs_gen {
            let s = reg.lock();
            reload_libs(&mut local.engine, &s);
            local.libs_gen = reg.libs_gen.load(Ordering::Acquire);
        }
        let r = f(local, reg);
        let mem = local.engine.used_memory() as u64;
        reg.lua_memory
            .fetch_add(mem.wrapping_sub(local.reported), Ordering::Relaxed);
        local.reported = mem;
        Some(r)
    })
}

/// Replaces an engine's libraries with the registry's.
fn reload_libs(engine: &mut ScriptEngine, s: &Sources) {
    engine.function_flush();
    for (_, code) in &s.libs {
        // They loaded once already: the code is valid.
        let _ = engine.function_load(&mut NullHost, code, false);
    }
}

/// Compiles a script another worker cached, when this engine lacks it.
fn fetch_script(engine: &mut ScriptEngine, reg: &Registry, sha: &[u8]) {
    if engine.has_script(sha) {
        return;
    }
    let lower = String::from_utf8_lossy(sha).to_ascii_lowercase();
    let body = reg.lock().scripts.get(&lower).cloned();
    if let Some(body) = body {
        let _ = engine.script_load(&body);
    }
}

/// Adds a script this engine compiled to the server's cache.
fn share_script(reg: &Registry, sha: String, body: &[u8]) {
    let mut s = reg.lock();
    s.scripts.entry(sha).or_insert_with(|| body.into());
    reg.cached.store(s.scripts.len() as u64, Ordering::Relaxed);
}

/// The server side of `redis.call`: the script's own client.
struct ServerHost<'a, 'b> {
    ctx: &'a mut Ctx<'b>,
    session: &'a mut Session,
    args: &'a mut Args,
    buf: &'a mut Vec<u8>,
    keys: &'a mut Vec<(usize, &'static KeySpec)>,
    /// The one shard held, when the script holds only its keys' shard.
    single: Option<usize>,
    /// A command of the script changed the dataset.
    wrote: bool,
    /// A write command of the script passed the checks (Redis's
    /// `SCRIPT_WRITE_DIRTY`, set even when the command then fails): from
    /// then on its writes are not refused for memory, since the script
    /// cannot be stopped half-way.
    dirty: bool,
    /// The script reached a shard it does not hold.
    reached: bool,
    /// When the script's last command ended, while the slow log is on: the
    /// next one's duration counts from it, so a command costs one clock
    /// read, not two (the Lua run between two commands counts in the
    /// second's duration, as a round's whole duration counts in each of its
    /// commands'; with the default threshold of 10 ms it shows only when a
    /// script computes for that long between two calls).
    mark: Option<Instant>,
    control: &'a crate::script::ScriptControl,
}

impl ServerHost<'_, '_> {
    /// True when `cmd` with the arguments in `self.args` may touch a shard
    /// other than `held`: it has keys there, or it reaches shards without
    /// declared keys (DBSIZE, KEYS, SCAN, SORT's patterns, ...).
    fn reaches_past(&mut self, cmd: &'static Command, held: usize) -> bool {
        if cmd.has(LOCAL) {
            return false;
        }
        if cmd.keys.0 <= 0 && !cmd.has(MOVABLEKEYS) {
            return true;
        }
        if !cmd.find_keys(self.args, self.keys) {
            return true;
        }
        let router = &*self.ctx.router;
        self.keys
            .iter()
            .any(|&(i, _)| router.shard_of(self.args.get(i)) != held)
    }

    /// Refuses a command before it runs, counting the error as Redis's
    /// `scriptCall` does: an error reply, and a rejected call of `cmd`.
    fn refuse(&mut self, cmd: Option<&'static Command>, why: Refusal) -> Outcome {
        let text = why.text();
        let mut reply = Vec::with_capacity(text.len() + 5);
        if !text.starts_with('-') {
            reply.extend_from_slice(b"-ERR ");
        }
        reply.extend_from_slice(text.as_bytes());
        let id = cmd.map_or(0, |c| super::id_of(c) as u16 + 1);
        self.ctx.router.count_refused(self.ctx.shared, id, &reply);
        Outcome::Refused(why)
    }
}

impl Host for ServerHost<'_, '_> {
    fn call(&mut self, argv: &[&[u8]], cc: &CallContext) -> CallResult {
        let mut buf = std::mem::take(self.buf);
        buf.clear();
        let outcome = self.call_encoded(argv, cc, &mut buf);
        let reply = || {
            parse_reply(&buf)
                .map(|(v, _)| v)
                .unwrap_or_else(|| RespValue::err("ERR internal: unreadable reply"))
        };
        let result = match outcome {
            Outcome::Reply => CallResult::Reply(reply()),
            Outcome::Write => CallResult::Write(reply()),
            Outcome::Refused(why) => CallResult::Refused(why),
        };
        *self.buf = buf;
        result
    }

    fn call_encoded(&mut self, argv: &[&[u8]], cc: &CallContext, out: &mut Vec<u8>) -> Outcome {
        if argv.is_empty() {
            return self.refuse(None, Refusal::UnknownCommand);
        }
        self.args.clear();
        for a in argv {
            self.args.push(a);
        }
        // Redis's `scriptCall` checks, in its order.
        let Some(cmd) = resolve(self.args) else {
            return self.refuse(None, Refusal::UnknownCommand);
        };
        if !cmd.arity_ok(argv.len()) {
            return self.refuse(Some(cmd), Refusal::WrongArity);
        }
        if cmd.has(NOSCRIPT) {
            return self.refuse(Some(cmd), Refusal::NotAllowed);
        }
        // Redis counts may-replicate commands (PFCOUNT) as writes here.
        if cmd.has(WRITE | MAY_REPLICATE) && cc.read_only {
            return self.refuse(Some(cmd), Refusal::WriteInReadOnly);
        }
        if cmd.has(WRITE) {
            if let Some(why) = self.ctx.shared.aof_health.failing() {
                let e = shards::Error::Misconf(why.into());
                let text = format!("-{}", crate::errors::text(&e));
                return self.refuse(Some(cmd), Refusal::Other(text));
            }
        }
        if let Some(held) = self.single {
            if !self.reached && self.wrote && self.reaches_past(cmd, held) {
                // It wrote, so it cannot start again: take every other
                // shard now, waiting for busy ones that no other section
                // holds or waits for (see `hold_late_queued`).
                let router = &mut *self.ctx.router;
                if (0..router.shards()).all(|s| router.hold_late_queued(s)) {
                    self.single = None;
                    // Remembered, as a script that reached out is.
                    self.reached = true;
                }
            }
        }
        if let Some(held) = self.single {
            if self.reached || self.reaches_past(cmd, held) {
                self.reached = true;
                if !self.wrote {
                    // Stop the script (even one that catches this error):
                    // it runs again holding every shard, so this run and
                    // its error count for nothing.
                    self.control.kill.store(true, Ordering::Relaxed);
                    return Outcome::Refused(Refusal::Other(
                        "ERR the script reached a shard it does not hold".into(),
                    ));
                }
                return self.refuse(None, Refusal::Other(
                    "ERR Script reached a key on another shard than its declared keys after it wrote; declare every key it uses (it holds every shard from now on)".into(),
                ));
            }
        }
        self.session.resp = cc.resp;
        let router = &mut *self.ctx.router;
        let mark = router.reply_mark();
        // The script's commands are observed here, each on its own (see
        // `observe_script_command`), not as a client's are.
        let gates = std::mem::take(&mut router.gates);
        let started = gates
            .slowlog
            .map(|_| *self.mark.get_or_insert_with(Instant::now));
        // Redis's `scriptVerifyOOM`: only a script's first write may be
        // refused for memory, and none of an `allow-oom` script's; the
        // shards make room before the others' writes as before any write.
        let allow_oom = self.dirty || cc.flags.contains(ScriptFlags::ALLOW_OOM);
        router.set_allow_oom(allow_oom);
        dispatch(
            Some(cmd),
            self.args,
            NO_CONN,
            self.session,
            router,
            self.ctx.shared,
            self.ctx.now_ms,
        );
        router.gates = gates;
        router.exchange();
        router.set_allow_oom(false);
        let at = out.len();
        router.take_replies(mark, self.ctx.shared, out);
        let reply = &out[at..];
        let failed = reply.first() == Some(&b'-');
        // A first write refused for memory was refused before it ran, as
        // Redis's `scriptVerifyOOM` refuses it: neither shown nor logged.
        let refused = reply.starts_with(b"-OOM ");
        if !refused && (gates.monitoring || started.is_some()) {
            let micros = started.map_or(0, |t| {
                let now = Instant::now();
                self.mark = Some(now);
                now.duration_since(t).as_micros() as u64
            });
            router.observe_script_command(
                self.ctx.shared,
                self.session.db,
                self.args,
                micros,
                !cmd.has(ADMIN | SKIP_MONITOR),
                !cmd.has(SKIP_SLOWLOG),
            );
        }
        if cmd.has(WRITE) && !refused {
            self.dirty = true;
        }
        // A PUBLISH (not a write) cannot be taken back either: after one
        // the script is not started again.
        let publishes = cmd.has(PUBSUB) && cmd.name.ends_with("publish");
        if (cmd.has(WRITE | MAY_REPLICATE) || publishes) && !failed {
            self.wrote = true;
        }
        if cmd.has(WRITE) && !failed {
            Outcome::Write
        } else {
            Outcome::Reply
        }
    }

    fn started_ms(&self) -> u64 {
        self.ctx.now_ms
    }

    fn log(&mut self, level: i32, msg: &[u8]) {
        let msg = String::from_utf8_lossy(msg);
        match level {
            0 => tracing::trace!(target: "script", "{msg}"),
            1 => tracing::debug!(target: "script", "{msg}"),
            2 => tracing::info!(target: "script", "{msg}"),
            _ => tracing::warn!(target: "script", "{msg}"),
        }
    }

    fn acl_check_cmd(&mut self, argv: &[&[u8]]) -> Option<bool> {
        let mut args = Args::default();
        for a in argv {
            args.push(a);
        }
        super::acl::script_check(self.ctx, &args)
    }

    fn check_run(&mut self, flags: ScriptFlags, _ro_command: bool) -> Option<RespValue> {
        // Redis refuses a flagged script that may write while writes are
        // refused for a disk error (scripts without a shebang find out at
        // their first write).
        if flags.contains(ScriptFlags::EVAL_COMPAT) || flags.contains(ScriptFlags::NO_WRITES) {
            return None;
        }
        let why = self.ctx.shared.aof_health.failing()?;
        let e = shards::Error::Misconf(why.into());
        Some(RespValue::err(crate::errors::text(&e).as_bytes()))
    }
}

/// Parses one encoded reply (RESP2 or RESP3) into an owned value, and how
/// many bytes it took.
fn parse_reply(buf: &[u8]) -> Option<(RespValue, usize)> {
    crate::script::deep(|| parse_at(buf))
}

fn parse_at(buf: &[u8]) -> Option<(RespValue, usize)> {
    let cr = memchr::memchr(b'\r', buf)?;
    let line = &buf[1..cr];
    let next = cr + 2;
    let int = || crate::resp::parse_i64(line);
    let aggregate = |n: i64, per: usize| -> Option<(Vec<RespValue>, usize)> {
        let mut items = Vec::with_capacity((n.max(0) as usize * per).min(1024));
        let mut at = next;
        for _ in 0..n.max(0) as usize * per {
            let (v, used) = parse_at(buf.get(at..)?)?;
            items.push(v);
            at += used;
        }
        Some((items, at))
    };
    Some(match *buf.first()? {
        b'+' => (RespValue::Status(line.to_vec()), next),
        b'-' => (RespValue::Error(line.to_vec()), next),
        b':' => (RespValue::Int(int()?), next),
        b'$' | b'=' => {
            let n = int()?;
            if n < 0 {
                return Some((RespValue::Nil, next));
            }
            let body = buf.get(next..next + n as usize)?;
            let v = if buf[0] == b'=' && body.len() >= 4 {
                let mut format = [0u8; 3];
                format.copy_from_slice(&body[..3]);
                RespValue::Verbatim {
                    format,
                    text: body[4..].to_vec(),
                }
            } else {
                RespValue::Bulk(body.to_vec())
            };
            (v, next + n as usize + 2)
        }
        b'*' | b'~' | b'>' => {
            let n = int()?;
            if n < 0 {
                return Some((RespValue::NilArray, next));
            }
            let (items, at) = aggregate(n, 1)?;
            let v = if buf[0] == b'~' {
                RespValue::Set(items)
            } else {
                RespValue::Array(items)
            };
            (v, at)
        }
        b'%' => {
            let (items, at) = aggregate(int()?, 2)?;
            let mut pairs = Vec::with_capacity(items.len() / 2);
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            (RespValue::Map(pairs), at)
        }
        b'_' => (RespValue::Nil, next),
        b'#' => (RespValue::Bool(line == b"t"), next),
        b',' => {
            let text = std::str::from_utf8(line).ok()?;
            let d = match text {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                t => t.parse().ok()?,
            };
            (RespValue::Double(d), next)
        }
        b'(' => (RespValue::BigNumber(line.to_vec()), next),
        _ => return None,
    })
}

/// Every shard, always: a script may touch keys it did not declare.
fn always(_: &Args, _: &crate::exchange::Router) -> bool {
    true
}

/// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO.
///
/// Which shards a script holds: when its declared keys all live on one
/// shard, and it has not been seen on this worker reaching past them, only
/// that shard; otherwise every shard. A script that reaches another shard
/// before it wrote anything is stopped and run again holding every shard
/// (it changed nothing, so running it again is running it once); one that
/// reaches another shard after it wrote takes the other shards then, at
/// once when idle and through their queues when busy with ordinary
/// commands (`Router::hold_late_queued`); a shard another section holds or
/// waits for it cannot wait for (two sections taking shards one after the
/// other could wait on each other), and the script fails with an error.
/// Either way the script is then remembered, and runs holding every shard
/// from then on. The same with one worker (`declared_shard`).
fn run(ctx: &mut Ctx) {
    // Every command of the script runs at its start time (Redis's script
    // time snapshot): relative expiry times count from it, and a key does
    // not expire half-way through.
    ctx.now_ms = shards::clock::unix_ms();
    let flags = ctx.router.conn_flags();
    let args: &Args = ctx.args;
    // The usual command's arguments stay on the stack.
    let mut inline: [&[u8]; 32] = [&[]; 32];
    let heap: Vec<&[u8]>;
    let argv: &[&[u8]] = if args.len() <= inline.len() {
        for (slot, a) in inline.iter_mut().zip(args.iter_from(0)) {
            *slot = a;
        }
        &inline[..args.len()]
    } else {
        heap = args.iter_from(0).collect();
        &heap
    };
    let name = ctx.cmd.name;
    let function = name.starts_with("fcall");
    let shared = ctx.shared;
    let now_ms = ctx.now_ms;
    let db = ctx.session.db;
    // Inside EXEC the transaction's section holds every shard already.
    let mut single = if ctx.router.holding() {
        None
    } else {
        declared_shard(ctx, args)
    };
    let (reply, counted) = with_local(shared, |local, reg| {
        let Local {
            engine,
            session,
            args,
            buf,
            spans,
            keys,
            ..
        } = local;
        let mut sha = None;
        let new_sha = match name {
            "evalsha" | "evalsha_ro" => {
                fetch_script(engine, reg, argv[1]);
                false
            }
            "eval" | "eval_ro" => {
                let s = sha1_hex(argv[1]);
                let new = !engine.has_script(s.as_bytes());
                sha = Some(s);
                new
            }
            _ => false,
        };
        // How `spans` knows the script: its SHA1 or the function's name.
        let mut lower = [0u8; 40];
        let id: &[u8] = match &sha {
            Some(s) => s.as_bytes(),
            None if function => argv[1],
            None if argv[1].len() == lower.len() => {
                lower.copy_from_slice(argv[1]);
                lower.make_ascii_lowercase();
                &lower
            }
            None => argv[1],
        };
        if single.is_some() && spans.contains(id) {
            single = None;
        }
        // Redis's `processCommand` treats a script command whose script
        // declares flags without `allow-oom` or `no-writes` as a deny-oom
        // command: refused before it runs when eviction cannot bring
        // memory under `maxmemory` (a script without a shebang finds out
        // at its first deny-oom write instead; see `ServerHost::call`).
        let deny_oom = shared.maxmemory.load(Ordering::Relaxed) != 0
            && engine.flags_before_run(name, argv[1]).is_some_and(|f| {
                !f.contains(ScriptFlags::ALLOW_OOM) && !f.contains(ScriptFlags::NO_WRITES)
            });
        let control = engine.control();
        let mut shown = false;
        ctx.router.freeze_clock(now_ms);
        let r = loop {
            // The holds travel with the script's first exchange (its first
            // `redis.call`, or the release of a script that calls nothing):
            // from then until its reply is delivered no other command runs
            // on the shards it holds.
            match single {
                Some(s) => ctx.router.hold(s),
                None => (0..ctx.router.shards()).for_each(|s| ctx.router.hold(s)),
            }
            if deny_oom && out_of_memory(ctx, single) {
                break RespValue::err(OOM);
            }
            if !shown {
                // Shown before the commands it runs; not when refused
                // above, as Redis refuses it before it would show it.
                shown = true;
                let addr = &ctx.session.client.addr;
                ctx.router.monitor_before(db, addr, ctx.args);
            }
            // The script's client: the caller's database, its own SELECTs;
            // like EXEC's commands it may not block (Redis's
            // CLIENT_DENY_BLOCKING), and its writes were checked for disk
            // errors by `call`.
            session.db = db;
            session.multi = None;
            session.executing = true;
            // It runs as the caller's user (Redis checks `redis.call`
            // against the original client's).
            session.user = ctx.session.user.clone();
            session.acl_seen = ctx.session.acl_seen;
            session.acl_free = ctx.session.acl_free;
            session.script_caller = Some(ctx.session.client.clone());
            let mut host = ServerHost {
                ctx: &mut *ctx,
                session: &mut *session,
                args: &mut *args,
                buf: &mut *buf,
                keys: &mut *keys,
                single,
                wrote: false,
                dirty: false,
                reached: false,
                mark: None,
                control: &control,
            };
            reg.begin(control.clone(), now_ms, function);
            let r = engine.command(&mut host, argv);
            reg.end(&control);
            let (reached, wrote) = (host.reached, host.wrote);
            if !reached {
                break r;
            }
            spans.insert(id.to_vec());
            if wrote {
                break r;
            }
            // Nothing written: give the shard back and start again holding
            // every shard.
            single = None;
            ctx.router.release();
            ctx.router.exchange();
        };
        ctx.router.freeze_clock(0);
        if let Some(sha) = sha.filter(|_| new_sha) {
            if engine.has_script(sha.as_bytes()) {
                share_script(reg, sha, argv[1]);
            }
        }
        (r, engine.error_counted())
    })
    .unwrap_or_else(|| (RespValue::err("ERR scripting engine busy"), false));
    // An error a `redis.call` met was counted in errorstats then.
    let counted = if counted {
        reply_flags::ERROR_COUNTED
    } else {
        0
    };
    ctx.router.set_conn_flags(flags | counted);
    // The script's commands took the count of this one's reply.
    ctx.router.count_call();
    let resp = if flags & reply_flags::RESP3 != 0 {
        3
    } else {
        2
    };
    ctx.reply(|out| reply.encode(resp, out));
    ctx.router.set_conn_flags(flags);
}

/// Redis's `shared.oomerr`.
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// True when a held shard (`single`, or every shard) cannot evict its way
/// under its share of `maxmemory` (Redis's `performEvictions` failing).
fn out_of_memory(ctx: &mut Ctx, single: Option<usize>) -> bool {
    let shards = match single {
        Some(s) => s..s + 1,
        None => 0..ctx.router.shards(),
    };
    let db = ctx.session.db;
    let steps: Vec<_> = shards
        .map(|s| {
            ctx.router
                .step_op(s, db, |_| shards::ops::server::SrvOp::MakeRoom.into())
        })
        .collect();
    ctx.router.exchange();
    steps
        .into_iter()
        .any(|r| matches!(ctx.router.reply_of(r).1, shards::batch::Reply::Err(_)))
}

/// The one shard of the declared keys of a script command, if it declared
/// some and they all live there.
///
/// With one worker too: holding every shard would cost a hold and a
/// release on each shard per script, and a script that reaches past its
/// shard takes the others as with several workers (with one worker no
/// other section can hold them).
fn declared_shard(ctx: &Ctx, args: &Args) -> Option<usize> {
    // EVAL* and FCALL*: `name script-or-function numkeys key...`.
    let numkeys = std::str::from_utf8(args.get(2))
        .ok()?
        .parse::<usize>()
        .ok()?;
    if numkeys == 0 || args.len() < 3 + numkeys {
        return None;
    }
    let mut shards = (3..3 + numkeys).map(|i| ctx.router.shard_of(args.get(i)));
    let first = shards.next()?;
    shards.all(|s| s == first).then_some(first)
}

/// The running script, once it ran past busy-reply-threshold. Redis reads
/// no other client's command before that (a SCRIPT KILL sent earlier is
/// read when the script has ended, and finds none): a kill sent meanwhile
/// finds none here either, so a script is never killed in its first moments.
fn running_busy(ctx: &Ctx) -> Option<std::sync::Arc<crate::script::ScriptControl>> {
    let reg = &ctx.shared.scripting;
    reg.busy(shards::clock::unix_ms()).and(reg.running())
}

/// SCRIPT's subcommands.
fn script(ctx: &mut Ctx) {
    let args: &Args = ctx.args;
    let argv: Vec<&[u8]> = args.iter_from(0).collect();
    let sub = ctx.cmd.sub_name();
    let reply = match sub {
        "kill" => match running_busy(ctx) {
            Some(c) => c.kill(false),
            None => RespValue::err("NOTBUSY No scripts in execution right now."),
        },
        "exists" => {
            let s = ctx.shared.scripting.lock();
            RespValue::Array(
                argv[2..]
                    .iter()
                    .map(|sha| {
                        let lower = String::from_utf8_lossy(sha).to_ascii_lowercase();
                        RespValue::Int(s.scripts.contains_key(&lower) as i64)
                    })
                    .collect(),
            )
        }
        "flush" => {
            let reg = &ctx.shared.scripting;
            let r = with_local(ctx.shared, |local, _| {
                local.engine.command(&mut NullHost, &argv)
            });
            let r = r.unwrap_or_else(RespValue::ok);
            if !r.is_error() {
                let mut s = reg.lock();
                s.scripts.clear();
                reg.cached.store(0, Ordering::Relaxed);
                reg.flushes.fetch_add(1, Ordering::Release);
            }
            r
        }
        _ => with_local(ctx.shared, |local, reg| {
            let r = local.engine.command(&mut NullHost, &argv);
            if sub == "load" {
                if let RespValue::Bulk(sha) = &r {
                    share_script(reg, String::from_utf8_lossy(sha).into_owned(), argv[2]);
                }
            }
            r
        })
        .unwrap_or_else(|| RespValue::err("ERR scripting engine busy")),
    };
    let resp = ctx.session.resp;
    ctx.reply(|out| reply.encode(resp, out));
}

/// FUNCTION's subcommands.
fn function(ctx: &mut Ctx) {
    let args: &Args = ctx.args;
    let argv: Vec<&[u8]> = args.iter_from(0).collect();
    let sub = ctx.cmd.sub_name();
    if matches!(sub, "load" | "restore") && ctx.shared.maxmemory.load(Ordering::Relaxed) != 0 {
        // Deny-oom commands: Redis refuses them before they run when
        // eviction cannot bring memory under the limit. They run as a
        // section (see their rows) so as to ask the shards.
        (0..ctx.router.shards()).for_each(|s| ctx.router.hold(s));
        if out_of_memory(ctx, None) {
            return ctx.error(OOM);
        }
    }
    let reply = match sub {
        "kill" => match running_busy(ctx) {
            Some(c) => c.kill(true),
            None => RespValue::err("NOTBUSY No scripts in execution right now."),
        },
        "load" | "delete" | "flush" | "restore" => with_local(ctx.shared, |local, reg| {
            // Changes are made one at a time, each on an engine that has
            // every earlier one.
            let mut s = reg.lock();
            if reg.libs_gen.load(Ordering::Acquire) != local.libs_gen {
                reload_libs(&mut local.engine, &s);
            }
            let r = local.engine.command(&mut NullHost, &argv);
            if r.is_error() {
                return r;
            }
            let stored = reg.store_libs(&mut s, &local.engine);
            local.libs_gen = reg.libs_gen.load(Ordering::Acquire);
            match stored {
                Ok(()) => r,
                Err(e) => {
                    tracing::error!("{e}");
                    RespValue::err(format!("ERR {e}"))
                }
            }
        })
        .unwrap_or_else(|| RespValue::err("ERR scripting engine busy")),
        _ => with_local(ctx.shared, |local, reg| {
            let r = local.engine.command(&mut NullHost, &argv);
            match (sub, r) {
                // What runs may run on another worker.
                ("stats", RespValue::Map(mut m)) => {
                    if let Some(first) = m.first_mut() {
                        first.1 = match reg.running() {
                            Some(c) => c.running_script_reply(),
                            None => RespValue::Nil,
                        };
                    }
                    RespValue::Map(m)
                }
                (_, r) => r,
            }
        })
        .unwrap_or_else(|| RespValue::err("ERR scripting engine busy")),
    };
    let resp = ctx.session.resp;
    ctx.reply(|out| reply.encode(resp, out));
}

/// A container's own handler is never reached with a subcommand.
fn container(ctx: &mut Ctx) {
    super::unknown_subcommand(ctx);
}

/// The numkeys key spec of EVAL and FCALL (read-write).
const RW_KEYS: &[KeySpec] = &[ks(
    &["RW", "access", "update"],
    Begin::Index(2),
    Find::Keynum(0, 1, 1),
)
.note("We cannot tell how the keys will be used so we assume the worst, RW and UPDATE")];
const RW_KEYS_SHA: &[KeySpec] = &[ks(
    &["RW", "access", "update"],
    Begin::Index(2),
    Find::Keynum(0, 1, 1),
)];
/// The same for the read-only variants.
const RO_KEYS: &[KeySpec] = &[
    ks(&["RO", "access"], Begin::Index(2), Find::Keynum(0, 1, 1))
        .note("We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"),
];
const RO_KEYS_SHA: &[KeySpec] = &[ks(
    &["RO", "access"],
    Begin::Index(2),
    Find::Keynum(0, 1, 1),
)];

const RUN_FLAGS: u32 = NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | MOVABLEKEYS;

/// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO, SCRIPT, FUNCTION.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("eval", -3, run)
        .flags(RUN_FLAGS | MAY_REPLICATE)
        .keys(0, 0, 0, RW_KEYS)
        .acl(&["slow", "scripting"])
        .doc(
            "scripting",
            "2.6.0",
            "Execute a Lua script server side",
            "Depends on the script that is executed.",
        )
        .section(always),
    Command::new("evalsha", -3, run)
        .flags(RUN_FLAGS | MAY_REPLICATE)
        .keys(0, 0, 0, RW_KEYS_SHA)
        .acl(&["slow", "scripting"])
        .doc(
            "scripting",
            "2.6.0",
            "Execute a Lua script server side",
            "Depends on the script that is executed.",
        )
        .section(always),
    Command::new("eval_ro", -3, run)
        .flags(READONLY | RUN_FLAGS)
        .keys(0, 0, 0, RO_KEYS)
        .acl(&["slow", "scripting"])
        .doc(
            "scripting",
            "7.0.0",
            "Execute a read-only Lua script server side",
            "Depends on the script that is executed.",
        )
        .section(always),
    Command::new("evalsha_ro", -3, run)
        .flags(READONLY | RUN_FLAGS)
        .keys(0, 0, 0, RO_KEYS_SHA)
        .acl(&["slow", "scripting"])
        .doc(
            "scripting",
            "7.0.0",
            "Execute a read-only Lua script server side",
            "Depends on the script that is executed.",
        )
        .section(always),
    Command::new("fcall", -3, run)
        .flags(RUN_FLAGS | MAY_REPLICATE)
        .keys(0, 0, 0, RW_KEYS)
        .acl(&["slow", "scripting"])
        .doc(
            "scripting",
            "7.0.0",
            "Invoke a function",
            "Depends on the function that is executed.",
        )
        .section(always),
    Command::new("fcall_ro", -3, run)
        .flags(READONLY | RUN_FLAGS)
        .keys(0, 0, 0, RO_KEYS)
        .acl(&["slow", "scripting"])
        .doc(
            "scripting",
            "7.0.0",
            "Invoke a read-only function",
            "Depends on the function that is executed.",
        )
        .section(always),
    Command::new("script", -2, container)
        .acl(&["slow"])
        .subs(SCRIPT_SUBS)
        .doc(
            "scripting",
            "2.6.0",
            "A container for Lua scripts management commands",
            "Depends on subcommand.",
        ),
    Command::new("function", -2, container)
        .acl(&["slow"])
        .subs(FUNCTION_SUBS)
        .doc(
            "scripting",
            "7.0.0",
            "A container for function commands",
            "Depends on subcommand.",
        ),
];

static SCRIPT_SUBS: &[Command] = &[
    Command::new("script|help", 2, script)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow", "scripting"])
        .doc(
            "scripting",
            "5.0.0",
            "Show helpful text about the different subcommands",
            "O(1)",
        ),
    Command::new("script|flush", -2, script)
        .flags(NOSCRIPT | LOCAL)
        .acl(&["slow", "scripting"])
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(
            "scripting",
            "2.6.0",
            "Remove all the scripts from the script cache.",
            "O(N) with N being the number of scripts in cache",
        ),
    Command::new("script|debug", 3, script)
        .flags(NOSCRIPT | LOCAL)
        .acl(&["slow", "scripting"])
        .doc(
            "scripting",
            "3.2.0",
            "Set the debug mode for executed scripts.",
            "O(1)",
        ),
    Command::new("script|kill", 2, script)
        .flags(NOSCRIPT | ALLOW_BUSY | LOCAL)
        .acl(&["slow", "scripting"])
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
        .doc(
            "scripting",
            "2.6.0",
            "Kill the script currently in execution.",
            "O(1)",
        ),
    Command::new("script|exists", -3, script)
        .flags(NOSCRIPT | LOCAL)
        .acl(&["slow", "scripting"])
        .tips(&["request_policy:all_shards", "response_policy:agg_logical_and"])
        .doc(
            "scripting",
            "2.6.0",
            "Check existence of scripts in the script cache.",
            "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
        ),
    Command::new("script|load", 3, script)
        .flags(NOSCRIPT | STALE | LOCAL)
        .acl(&["slow", "scripting"])
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(
            "scripting",
            "2.6.0",
            "Load the specified Lua script into the script cache.",
            "O(N) with N being the length in bytes of the script body.",
        ),
];

static FUNCTION_SUBS: &[Command] = &[
    Command::new("function|restore", -3, function)
        .flags(WRITE | DENYOOM | NOSCRIPT | LOCAL)
        .section(always)
        .acl(&["write", "slow", "scripting"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            "scripting",
            "7.0.0",
            "Restore all the functions on the given payload",
            "O(N) where N is the number of functions on the payload",
        ),
    Command::new("function|kill", 2, function)
        .flags(NOSCRIPT | ALLOW_BUSY | LOCAL)
        .acl(&["slow", "scripting"])
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
        .doc(
            "scripting",
            "7.0.0",
            "Kill the function currently in execution.",
            "O(1)",
        ),
    Command::new("function|list", -2, function)
        .flags(NOSCRIPT | LOCAL)
        .acl(&["slow", "scripting"])
        .tips(&["nondeterministic_output_order"])
        .doc(
            "scripting",
            "7.0.0",
            "List information about all the functions",
            "O(N) where N is the number of functions",
        ),
    Command::new("function|flush", -2, function)
        .flags(WRITE | NOSCRIPT | LOCAL)
        .acl(&["write", "slow", "scripting"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            "scripting",
            "7.0.0",
            "Deleting all functions",
            "O(N) where N is the number of functions deleted",
        ),
    Command::new("function|delete", 3, function)
        .flags(WRITE | NOSCRIPT | LOCAL)
        .acl(&["write", "slow", "scripting"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc("scripting", "7.0.0", "Delete a function by name", "O(1)"),
    Command::new("function|dump", 2, function)
        .flags(NOSCRIPT | LOCAL)
        .acl(&["slow", "scripting"])
        .doc(
            "scripting",
            "7.0.0",
            "Dump all functions into a serialized binary payload",
            "O(N) where N is the number of functions",
        ),
    Command::new("function|help", 2, function)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow", "scripting"])
        .doc(
            "scripting",
            "7.0.0",
            "Show helpful text about the different subcommands",
            "O(1)",
        ),
    Command::new("function|load", -3, function)
        .flags(WRITE | DENYOOM | NOSCRIPT | LOCAL)
        .section(always)
        .acl(&["write", "slow", "scripting"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            "scripting",
            "7.0.0",
            "Create a function with the given arguments (name, code, description)",
            "O(1) (considering compilation time is redundant)",
        ),
    Command::new("function|stats", 2, function)
        .flags(NOSCRIPT | ALLOW_BUSY | LOCAL)
        .acl(&["slow", "scripting"])
        .tips(&[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ])
        .doc(
            "scripting",
            "7.0.0",
            "Return information about the function currently running (name, description, duration)",
            "O(1)",
        ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse_back_in_both_protocols() {
        let cases: Vec<(RespValue, u8)> = vec![
            (RespValue::ok(), 2),
            (RespValue::err("ERR x"), 2),
            (RespValue::Int(-5), 2),
            (RespValue::bulk("a\r\nb"), 2),
            (RespValue::Nil, 2),
            (RespValue::NilArray, 2),
            (
                RespValue::Array(vec![RespValue::Int(1), RespValue::Array(vec![])]),
                2,
            ),
            (
                RespValue::Map(vec![(RespValue::bulk("k"), RespValue::Double(1.5))]),
                3,
            ),
            (RespValue::Set(vec![RespValue::Bool(true)]), 3),
            (RespValue::BigNumber(b"123".to_vec()), 3),
            (
                RespValue::Verbatim {
                    format: *b"txt",
                    text: b"hi".to_vec(),
                },
                3,
            ),
        ];
        for (v, resp) in cases {
            let mut out = Vec::new();
            v.encode(resp, &mut out);
            let (back, used) = parse_reply(&out).expect("parses");
            assert_eq!(used, out.len(), "{v:?}");
            assert_eq!(back, v);
        }
        assert!(parse_reply(b"*2\r\n:1\r\n").is_none());
        assert!(parse_reply(b"?\r\n").is_none());
    }
}
