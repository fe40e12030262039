//! The Lua scripting engine: EVAL/EVALSHA/EVAL_RO/EVALSHA_RO, SCRIPT,
//! FUNCTION and FCALL/FCALL_RO, behaving as Redis 7.0 does.
//!
//! One [`ScriptEngine`] owns one Lua 5.1 state and lives on one thread. It
//! reaches the dataset only through the [`Host`] the server passes to each
//! run; a [`ScriptControl`] handle (shared, thread-safe) lets other threads
//! see what runs and kill it (SCRIPT KILL / FUNCTION KILL / FUNCTION STATS).
//!
//! - `resp`: [`RespValue`], the owned reply type, with RESP2/RESP3 encoders.
//! - `host`: the [`Host`] trait and what it returns.
//! - `env` and `prelude.lua`: the Lua state and the sandboxed environments.
//! - `call`: `redis.call` / `redis.pcall`, plain Lua C functions that read
//!   their arguments off the stack and build the reply's Lua values from
//!   its RESP bytes.
//! - `convert`: a script's value as a reply, argument and error texts.
//! - `functions`: libraries, FUNCTION LIST/STATS/DUMP/RESTORE.
//! - `rdb`: the RDB pieces of the DUMP payload.
//! - `libs`: bit, cjson, cmsgpack and struct.

mod call;
mod convert;
mod env;
mod functions;
mod host;
mod libs;
mod lua_alloc;
mod rdb;
mod registry;
pub mod resp;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mlua::{Function, Value};

pub use functions::RestorePolicy;
pub use host::{CallContext, CallResult, Host, Outcome, Refusal};
pub use registry::{Registry, Sources, FUNCTIONS_FILE};
pub use resp::RespValue;

use env::Env;
use functions::{FunctionDef, Library};

/// `redis.REDIS_VERSION`.
pub const REDIS_VERSION: &str = "7.0.15";
/// `redis.REDIS_VERSION_NUM`: (major << 16) | (minor << 8) | patch.
pub const REDIS_VERSION_NUM: i64 = 0x07_00_0f;

/// How long a library's code may run while it loads.
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// Errors raised into Lua from the instruction-count hook.
#[derive(Debug)]
pub(crate) enum Abort {
    Killed,
    LoadTimeout,
}

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Abort::Killed => f.write_str("Script killed by user with SCRIPT KILL..."),
            Abort::LoadTimeout => f.write_str("FUNCTION LOAD timeout"),
        }
    }
}

impl std::error::Error for Abort {}

/// Script flags: from an EVAL script's `#!lua flags=...` shebang or a
/// function's registration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ScriptFlags(u32);

impl ScriptFlags {
    pub const NO_WRITES: ScriptFlags = ScriptFlags(1);
    pub const ALLOW_OOM: ScriptFlags = ScriptFlags(1 << 1);
    pub const ALLOW_STALE: ScriptFlags = ScriptFlags(1 << 2);
    pub const NO_CLUSTER: ScriptFlags = ScriptFlags(1 << 3);
    pub const ALLOW_CROSS_SLOT_KEYS: ScriptFlags = ScriptFlags(1 << 4);
    /// An EVAL script without a shebang: Redis 6 compatible behaviour (the
    /// server decides per command; no flag checks before the run).
    pub const EVAL_COMPAT: ScriptFlags = ScriptFlags(1 << 5);

    /// The named flags in the order Redis lists them.
    const NAMED: [(&'static str, ScriptFlags); 5] = [
        ("no-writes", ScriptFlags::NO_WRITES),
        ("allow-oom", ScriptFlags::ALLOW_OOM),
        ("allow-stale", ScriptFlags::ALLOW_STALE),
        ("no-cluster", ScriptFlags::NO_CLUSTER),
        ("allow-cross-slot-keys", ScriptFlags::ALLOW_CROSS_SLOT_KEYS),
    ];

    pub fn contains(self, other: ScriptFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: ScriptFlags) -> ScriptFlags {
        ScriptFlags(self.0 | other.0)
    }

    /// One flag by its shebang/registration name.
    pub fn parse_one(name: &[u8]) -> Option<ScriptFlags> {
        Self::NAMED
            .iter()
            .find(|(n, _)| n.as_bytes() == name)
            .map(|(_, f)| *f)
    }

    /// The names of the flags set, in Redis's order.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMED
            .iter()
            .filter(|(_, f)| self.contains(*f))
            .map(|(n, _)| *n)
            .collect()
    }
}

/// What runs now, for FUNCTION STATS and the kill commands.
#[derive(Debug, Clone, Default)]
pub struct RunningScript {
    /// The SHA1 of the EVAL script or the function's name.
    pub name: String,
    /// The command that started it, as received.
    pub command: Vec<Vec<u8>>,
    pub is_function: bool,
    /// Unix ms it started at.
    pub started_ms: u64,
}

/// The script that runs, in a slot whose buffers the next run reuses.
#[derive(Debug, Default)]
struct Running {
    active: bool,
    script: RunningScript,
}

/// What a run calls its function with: an EVAL script's KEYS and ARGV
/// (set as globals), or a function's two arguments.
enum Run<'a> {
    Eval(&'a [&'a [u8]], &'a [&'a [u8]]),
    Call(Value, Value),
}

/// The command that starts a run, as received: `name first numkeys keys
/// argv` (`first` is the script, its SHA1 or the function's name).
pub(crate) struct CommandLine<'a> {
    pub name: &'static str,
    pub first: &'a [u8],
    pub keys: &'a [&'a [u8]],
    pub argv: &'a [&'a [u8]],
}

/// The thread-safe side of an engine: kill flag, written flag and what runs.
#[derive(Debug, Default)]
pub struct ScriptControl {
    pub(crate) kill: AtomicBool,
    pub(crate) wrote: AtomicBool,
    running: Mutex<Running>,
    pub(crate) load_deadline: Mutex<Option<Instant>>,
}

impl ScriptControl {
    /// SCRIPT KILL (`function == false`) or FUNCTION KILL: the reply to send.
    pub fn kill(&self, function: bool) -> RespValue {
        let running = self.running.lock().expect("running");
        let Some(r) = running.active.then_some(&running.script) else {
            return RespValue::err("NOTBUSY No scripts in execution right now.");
        };
        if r.is_function != function {
            return RespValue::err(if r.is_function {
                "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
            } else {
                "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
            });
        }
        if self.wrote.load(Ordering::Relaxed) {
            return RespValue::err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
        }
        self.kill.store(true, Ordering::Relaxed);
        RespValue::ok()
    }

    /// Whether a script or function runs now.
    pub fn is_running(&self) -> bool {
        self.running.lock().expect("running").active
    }

    /// What runs now.
    pub fn running(&self) -> Option<RunningScript> {
        let r = self.running.lock().expect("running");
        r.active.then(|| r.script.clone())
    }

    /// Whether the running script has performed a write.
    pub fn has_written(&self) -> bool {
        self.wrote.load(Ordering::Relaxed)
    }

    /// The `running_script` entry of FUNCTION STATS.
    pub fn running_script_reply(&self) -> RespValue {
        match self.running() {
            None => RespValue::Nil,
            Some(r) => RespValue::Map(vec![
                (RespValue::bulk("name"), RespValue::bulk(&r.name)),
                (
                    RespValue::bulk("command"),
                    RespValue::Array(r.command.iter().map(RespValue::bulk).collect()),
                ),
                (
                    RespValue::bulk("duration_ms"),
                    RespValue::Int(shards::clock::unix_ms().saturating_sub(r.started_ms) as i64),
                ),
            ]),
        }
    }

    fn begin(&self, name: &str, line: &CommandLine, is_function: bool, started_ms: u64) {
        self.kill.store(false, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        let mut r = self.running.lock().expect("running");
        r.active = true;
        let s = &mut r.script;
        s.name.clear();
        s.name.push_str(name);
        s.is_function = is_function;
        // The host's frozen script time: no clock read per run.
        s.started_ms = started_ms;
        // Refilled in place: a run costs no allocation once the slot has
        // grown to the usual command's size.
        let mut numkeys = itoa::Buffer::new();
        let numkeys = numkeys.format(line.keys.len());
        let parts = [line.name.as_bytes(), line.first, numkeys.as_bytes()];
        let all = parts.iter().chain(line.keys).chain(line.argv);
        let n = 3 + line.keys.len() + line.argv.len();
        s.command.truncate(n);
        for (i, p) in all.enumerate() {
            match s.command.get_mut(i) {
                Some(v) => {
                    v.clear();
                    v.extend_from_slice(p);
                }
                None => s.command.push(p.to_vec()),
            }
        }
    }

    fn end(&self) {
        let mut r = self.running.lock().expect("running");
        r.active = false;
        // A big script or argument is not kept for the next run.
        if r.script.command.iter().map(Vec::capacity).sum::<usize>() > 64 * 1024 {
            r.script.command = Vec::new();
        }
        drop(r);
        self.kill.store(false, Ordering::Relaxed);
    }
}

/// A host for code that runs without a client, such as libraries loaded at
/// startup: refuses every command and drops log lines.
pub struct NullHost;

impl Host for NullHost {
    fn call(&mut self, _args: &[&[u8]], _ctx: &CallContext) -> CallResult {
        CallResult::Refused(Refusal::UnknownCommand)
    }
}

struct CachedScript {
    func: Function,
    flags: ScriptFlags,
    body: Vec<u8>,
}

/// Runs a step of a recursive conversion on a stack with room to spare,
/// growing it when needed (nesting goes to 1000 levels, and worker threads
/// may have small stacks).
pub(crate) fn deep<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(64 * 1024, 2 * 1024 * 1024, f)
}

/// The SHA1 of `data` in lowercase hex.
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// Library and function names: letters, digits and underscores, not empty.
pub(crate) fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Parses an EVAL script's shebang: (flags, offset of the code). The code
/// keeps the shebang's line feed so line numbers stay those of the script.
pub fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::EVAL_COMPAT, 0));
    }
    let Some(nl) = body.iter().position(|&c| c == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..nl]);
    let mut parts = line.split_ascii_whitespace();
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = ScriptFlags::default();
    for part in parts {
        if let Some(list) = part.strip_prefix("flags=") {
            for f in list.split(',').filter(|f| !f.is_empty()) {
                match ScriptFlags::parse_one(f.as_bytes()) {
                    Some(x) => flags = flags.union(x),
                    None => return Err(format!("Unexpected flag in script shebang: {f}")),
                }
            }
        } else {
            return Err(format!("Unknown lua shebang option: {part}"));
        }
    }
    Ok((flags, nl))
}

fn err_string(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => err_string(cause),
        other => other.to_string(),
    }
}

/// The scripting engine: the EVAL script cache and the function libraries
/// of one server (each worker thread owns one engine; the caller keeps
/// their caches and libraries in step).
pub struct ScriptEngine {
    env: Env,
    scripts: HashMap<String, CachedScript, ahash::RandomState>,
    libraries: BTreeMap<Vec<u8>, Library>,
    /// Function name -> name of the library that registers it.
    functions: HashMap<Vec<u8>, Vec<u8>>,
    control: Arc<ScriptControl>,
    /// See `error_counted`.
    error_counted: bool,
}

impl Default for ScriptEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl ScriptEngine {
    pub fn new() -> ScriptEngine {
        let control = Arc::new(ScriptControl::default());
        let env = Env::new(control.clone()).expect("creating the Lua state");
        ScriptEngine {
            env,
            scripts: HashMap::default(),
            libraries: BTreeMap::new(),
            functions: HashMap::new(),
            control,
            error_counted: false,
        }
    }

    /// The handle other threads use for SCRIPT KILL, FUNCTION KILL and the
    /// running-script part of FUNCTION STATS.
    pub fn control(&self) -> Arc<ScriptControl> {
        self.control.clone()
    }

    /// Bytes the Lua state uses (INFO `used_memory_lua`).
    pub fn used_memory(&self) -> usize {
        self.env.lua.used_memory()
    }

    /// Seeds `math.random` (Redis seeds it once at startup, not per script).
    pub fn seed_random(&self, seed: i32) {
        self.env.seed_random(seed);
    }

    // ----- EVAL scripts -------------------------------------------------

    /// SCRIPT LOAD: compiles and caches `body`; its SHA1, or the error reply.
    pub fn script_load(&mut self, body: &[u8]) -> Result<String, RespValue> {
        let sha = sha1_hex(body);
        if !self.scripts.contains_key(&sha) {
            self.compile_script(body, &sha)?;
        }
        Ok(sha)
    }

    /// Whether the script with this SHA1 (any case) is cached; no
    /// allocation (EVALSHA asks on every run).
    pub fn has_script(&self, sha: &[u8]) -> bool {
        let mut lower = [0u8; 40];
        if sha.len() != lower.len() {
            return false;
        }
        lower.copy_from_slice(sha);
        lower.make_ascii_lowercase();
        std::str::from_utf8(&lower).is_ok_and(|l| self.scripts.contains_key(l))
    }

    /// SCRIPT EXISTS for each SHA1 (case-insensitive).
    pub fn script_exists(&self, shas: &[&[u8]]) -> Vec<bool> {
        shas.iter()
            .map(|s| {
                let s = String::from_utf8_lossy(s).to_ascii_lowercase();
                self.scripts.contains_key(&s)
            })
            .collect()
    }

    /// The body of a cached script.
    pub fn script_body(&self, sha: &str) -> Option<&[u8]> {
        self.scripts
            .get(&sha.to_ascii_lowercase())
            .map(|s| s.body.as_slice())
    }

    /// The flags Redis judges a script command by before it runs it
    /// (`evalGetCommandFlags`, `fcallGetCommandFlags`): the cached script's
    /// or function's, or an uncached EVAL body's shebang flags. `None` when
    /// none apply: no shebang (Redis 6 compatible), an unknown SHA1 or
    /// function, or a shebang that does not parse (its run reports that).
    pub fn flags_before_run(&self, command: &str, first: &[u8]) -> Option<ScriptFlags> {
        let flags = match command {
            "eval" | "eval_ro" => {
                let sha = sha1_hex(first);
                match self.scripts.get(&sha) {
                    Some(s) => s.flags,
                    None => parse_shebang(first).ok()?.0,
                }
            }
            "evalsha" | "evalsha_ro" => {
                let lower = String::from_utf8_lossy(first).to_ascii_lowercase();
                self.scripts.get(&lower)?.flags
            }
            _ => {
                let lib = self.functions.get(first)?;
                self.libraries.get(lib)?.functions.get(first)?.flags
            }
        };
        (!flags.contains(ScriptFlags::EVAL_COMPAT)).then_some(flags)
    }

    /// SCRIPT FLUSH.
    pub fn script_flush(&mut self) {
        self.scripts.clear();
        let _ = self.env.lua.gc_collect();
    }

    fn compile_script(&mut self, body: &[u8], sha: &str) -> Result<(), RespValue> {
        let (flags, off) = parse_shebang(body).map_err(|e| RespValue::err(format!("ERR {e}")))?;
        let func = self
            .env
            .lua
            .load(&body[off..])
            .set_name("@user_script")
            .set_mode(mlua::ChunkMode::Text)
            .set_environment(self.env.eval_env.clone())
            .into_function()
            .map_err(|e| {
                RespValue::err(format!(
                    "ERR Error compiling script (new function): {}",
                    err_string(&e)
                ))
            })?;
        self.scripts.insert(
            sha.to_string(),
            CachedScript {
                func,
                flags,
                body: body.to_vec(),
            },
        );
        Ok(())
    }

    /// EVAL / EVAL_RO (`ro`).
    pub fn eval(
        &mut self,
        host: &mut dyn Host,
        body: &[u8],
        keys: &[&[u8]],
        argv: &[&[u8]],
        ro: bool,
    ) -> RespValue {
        let sha = sha1_hex(body);
        if !self.scripts.contains_key(&sha) {
            if let Err(e) = self.compile_script(body, &sha) {
                return e;
            }
        }
        let line = CommandLine {
            name: if ro { "eval_ro" } else { "eval" },
            first: body,
            keys,
            argv,
        };
        self.run_script(host, &sha, ro, &line)
    }

    /// EVALSHA / EVALSHA_RO (`ro`).
    pub fn evalsha(
        &mut self,
        host: &mut dyn Host,
        sha: &[u8],
        keys: &[&[u8]],
        argv: &[&[u8]],
        ro: bool,
    ) -> RespValue {
        let mut lower = [0u8; 40];
        if sha.len() != 40 {
            return RespValue::err("NOSCRIPT No matching script. Please use EVAL.");
        }
        lower.copy_from_slice(sha);
        lower.make_ascii_lowercase();
        let lower = match std::str::from_utf8(&lower) {
            Ok(l) if self.scripts.contains_key(l) => l,
            _ => return RespValue::err("NOSCRIPT No matching script. Please use EVAL."),
        };
        let line = CommandLine {
            name: if ro { "evalsha_ro" } else { "evalsha" },
            first: sha,
            keys,
            argv,
        };
        self.run_script(host, lower, ro, &line)
    }

    fn run_script(
        &mut self,
        host: &mut dyn Host,
        sha: &str,
        ro: bool,
        line: &CommandLine,
    ) -> RespValue {
        let script = &self.scripts[sha];
        let flags = script.flags;
        if ro
            && !flags.contains(ScriptFlags::EVAL_COMPAT)
            && !flags.contains(ScriptFlags::NO_WRITES)
        {
            return RespValue::err(
                "ERR Can not execute a script with write flag using *_ro command.",
            );
        }
        if let Some(e) = host.check_run(flags, ro) {
            return e;
        }
        let read_only = ro || flags.contains(ScriptFlags::NO_WRITES);
        let (reply, counted) = self.execute(
            host,
            &script.func,
            Run::Eval(line.keys, line.argv),
            flags,
            read_only,
            sha,
            false,
            line,
        );
        self.error_counted = counted;
        reply
    }

    #[allow(clippy::too_many_arguments)]
    fn execute(
        &self,
        host: &mut dyn Host,
        func: &Function,
        args: Run,
        flags: ScriptFlags,
        read_only: bool,
        name: &str,
        is_function: bool,
        line: &CommandLine,
    ) -> (RespValue, bool) {
        self.control
            .begin(name, line, is_function, host.started_ms());
        let env = &self.env;
        let mut counted = false;
        let result = env.with_host(host, flags, read_only, name, is_function, || {
            let r = match args {
                Run::Eval(keys, argv) => env.run_eval(func, keys, argv),
                Run::Call(a, b) => env.run(func, a, b),
            };
            let resp = env.resp();
            match r {
                Ok(Ok(v)) => {
                    counted = convert::is_counted_error(&v);
                    env::reply_of(&v, resp)
                }
                Ok(Err(e)) => {
                    counted = convert::is_counted_error(&e);
                    script_error(&e, name)
                }
                Err(e) => RespValue::err(format!(
                    "ERR Error running script {name}, {}",
                    err_string(&e)
                )),
            }
        });
        self.control.end();
        (result, counted)
    }

    // ----- functions ----------------------------------------------------

    /// FUNCTION LOAD [REPLACE]: the library's name, or the error reply.
    pub fn function_load(&mut self, host: &mut dyn Host, code: &[u8], replace: bool) -> RespValue {
        match self.load_library(host, code, replace) {
            Ok(name) => RespValue::Bulk(name),
            Err(e) => e,
        }
    }

    fn load_library(
        &mut self,
        host: &mut dyn Host,
        code: &[u8],
        replace: bool,
    ) -> Result<Vec<u8>, RespValue> {
        let lib = self.compile_library(host, code, |name| {
            if !replace && self.libraries.contains_key(name) {
                Err(RespValue::err(format!(
                    "ERR Library '{}' already exists",
                    String::from_utf8_lossy(name)
                )))
            } else {
                Ok(())
            }
        })?;
        for f in lib.functions.keys() {
            if let Some(owner) = self.functions.get(f) {
                if *owner != lib.name {
                    return Err(RespValue::err(format!(
                        "ERR Function {} already exists",
                        String::from_utf8_lossy(f)
                    )));
                }
            }
        }
        let name = lib.name.clone();
        self.remove_library(&name);
        self.add_library(lib);
        Ok(name)
    }

    fn add_library(&mut self, lib: Library) {
        for f in lib.functions.keys() {
            self.functions.insert(f.clone(), lib.name.clone());
        }
        self.libraries.insert(lib.name.clone(), lib);
    }

    fn remove_library(&mut self, name: &[u8]) -> Option<Library> {
        let lib = self.libraries.remove(name)?;
        for f in lib.functions.keys() {
            self.functions.remove(f);
        }
        Some(lib)
    }

    /// Parses the metadata, compiles and runs a library's code; `precheck`
    /// sees the name before the code runs.
    fn compile_library(
        &self,
        host: &mut dyn Host,
        code: &[u8],
        precheck: impl FnOnce(&[u8]) -> Result<(), RespValue>,
    ) -> Result<Library, RespValue> {
        let (name, off) = functions::parse_library_metadata(code).map_err(RespValue::err)?;
        if !valid_name(&name) {
            return Err(RespValue::err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"));
        }
        precheck(&name)?;
        let func = self
            .env
            .lua
            .load(&code[off..])
            .set_name("@user_function")
            .set_mode(mlua::ChunkMode::Text)
            .set_environment(self.env.func_env.clone())
            .into_function()
            .map_err(|e| {
                RespValue::err(format!("ERR Error compiling function: {}", err_string(&e)))
            })?;
        let env = &self.env;
        let _ = env.take_pending();
        let _ = env.set_loading(true);
        *self.control.load_deadline.lock().expect("deadline") = Some(Instant::now() + LOAD_TIMEOUT);
        let result = env.with_host(host, ScriptFlags::default(), true, "", true, || {
            env.run(&func, Value::Nil, Value::Nil)
        });
        *self.control.load_deadline.lock().expect("deadline") = None;
        let _ = env.set_loading(false);
        let pending = env.take_pending();
        let fail = |msg: String| RespValue::err(format!("ERR Error registering functions: {msg}"));
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(Value::Table(t))) => {
                let msg = match t.raw_get::<Value>("err") {
                    Ok(Value::String(s)) => s.to_string_lossy(),
                    _ => "ERR unknown error".to_string(),
                };
                return Err(fail(msg));
            }
            Ok(Err(other)) => return Err(fail(format!("{other:?}"))),
            Err(e) => return Err(fail(err_string(&e))),
        }
        if pending.functions.is_empty() {
            return Err(RespValue::err("ERR No functions registered"));
        }
        let mut functions = BTreeMap::new();
        for f in pending.functions {
            functions.insert(
                f.name.clone(),
                FunctionDef {
                    name: f.name,
                    callback: f.callback,
                    description: f.description,
                    flags: f.flags,
                },
            );
        }
        Ok(Library {
            name,
            code: code.to_vec(),
            functions,
        })
    }

    /// FCALL / FCALL_RO (`ro`).
    pub fn fcall(
        &mut self,
        host: &mut dyn Host,
        name: &[u8],
        keys: &[&[u8]],
        args: &[&[u8]],
        ro: bool,
    ) -> RespValue {
        let Some(lib) = self.functions.get(name) else {
            return RespValue::err("ERR Function not found");
        };
        let f = &self.libraries[lib].functions[name];
        let flags = f.flags;
        let callback = f.callback.clone();
        if ro && !flags.contains(ScriptFlags::NO_WRITES) {
            return RespValue::err(
                "ERR Can not execute a script with write flag using *_ro command.",
            );
        }
        if let Some(e) = host.check_run(flags, ro) {
            return e;
        }
        let (k, a) = match (self.env.array(keys), self.env.array(args)) {
            (Ok(k), Ok(a)) => (k, a),
            (Err(e), _) | (_, Err(e)) => return RespValue::err(format!("ERR {}", err_string(&e))),
        };
        let fname = String::from_utf8_lossy(name).into_owned();
        let line = CommandLine {
            name: if ro { "fcall_ro" } else { "fcall" },
            first: name,
            keys,
            argv: args,
        };
        let read_only = ro || flags.contains(ScriptFlags::NO_WRITES);
        let (reply, counted) = self.execute(
            host,
            &callback,
            Run::Call(Value::Table(k), Value::Table(a)),
            flags,
            read_only,
            &fname,
            true,
            &line,
        );
        self.error_counted = counted;
        reply
    }

    /// FUNCTION DELETE.
    pub fn function_delete(&mut self, name: &[u8]) -> RespValue {
        match self.remove_library(name) {
            Some(_) => RespValue::ok(),
            None => RespValue::err("ERR Library not found"),
        }
    }

    /// FUNCTION FLUSH.
    pub fn function_flush(&mut self) {
        self.libraries.clear();
        self.functions.clear();
        let _ = self.env.lua.gc_collect();
    }

    /// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
    pub fn function_list(&self, pattern: Option<&[u8]>, withcode: bool) -> RespValue {
        functions::list(&self.libraries, pattern, withcode)
    }

    /// FUNCTION STATS.
    pub fn function_stats(&self) -> RespValue {
        functions::stats(&self.libraries, self.control.running_script_reply())
    }

    /// FUNCTION DUMP: the payload (RDB opcode + library code for each
    /// library, RDB version 10, CRC64).
    pub fn function_dump(&self) -> Vec<u8> {
        functions::dump(&self.libraries)
    }

    /// The code of every library, by name (what persistence stores: loading
    /// each back with [`ScriptEngine::function_load`] restores them).
    pub fn library_codes(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.libraries
            .values()
            .map(|l| (l.name.clone(), l.code.clone()))
            .collect()
    }

    /// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
    pub fn function_restore(
        &mut self,
        host: &mut dyn Host,
        payload: &[u8],
        policy: RestorePolicy,
    ) -> RespValue {
        let Some(body) = rdb::verify_payload(payload) else {
            return RespValue::err("ERR DUMP payload version or checksum are wrong");
        };
        let mut reader = rdb::Reader::new(body);
        let mut loaded: Vec<Library> = Vec::new();
        while !reader.at_end() {
            if reader.byte() != Some(rdb::OPCODE_FUNCTION2) {
                return RespValue::err("ERR given type is not a function");
            }
            let Some(code) = reader.string() else {
                return RespValue::err("ERR Failed loading library payload");
            };
            let lib = match self.compile_library(host, &code, |name| {
                if loaded.iter().any(|l| l.name == name) {
                    Err(RespValue::err(format!(
                        "ERR Library {} already exists",
                        String::from_utf8_lossy(name)
                    )))
                } else {
                    Ok(())
                }
            }) {
                Ok(l) => l,
                Err(e) => return e,
            };
            loaded.push(lib);
        }
        // Function names must be unique among the restored libraries too.
        let mut seen: HashMap<&[u8], ()> = HashMap::new();
        for l in &loaded {
            for f in l.functions.keys() {
                if seen.insert(f, ()).is_some() {
                    return RespValue::err(format!(
                        "ERR Function {} already exists",
                        String::from_utf8_lossy(f)
                    ));
                }
            }
        }
        match policy {
            RestorePolicy::Flush => {
                self.function_flush();
            }
            RestorePolicy::Append | RestorePolicy::Replace => {
                for l in &loaded {
                    if policy == RestorePolicy::Append && self.libraries.contains_key(&l.name) {
                        return RespValue::err(format!(
                            "ERR Library {} already exists",
                            String::from_utf8_lossy(&l.name)
                        ));
                    }
                    for f in l.functions.keys() {
                        if let Some(owner) = self.functions.get(f) {
                            let replaced = policy == RestorePolicy::Replace
                                && loaded.iter().any(|x| &x.name == owner);
                            if !replaced {
                                return RespValue::err(format!(
                                    "ERR Function {} already exists",
                                    String::from_utf8_lossy(f)
                                ));
                            }
                        }
                    }
                }
            }
        }
        for l in loaded {
            self.remove_library(&l.name.clone());
            self.add_library(l);
        }
        RespValue::ok()
    }

    /// Number of libraries and of functions.
    pub fn function_counts(&self) -> (usize, usize) {
        (self.libraries.len(), self.functions.len())
    }

    // ----- whole commands -------------------------------------------------

    /// Runs one whole scripting command (`args[0]` is EVAL, EVALSHA,
    /// EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO, SCRIPT or FUNCTION, any case)
    /// with Redis's argument checks and error texts.
    pub fn command(&mut self, host: &mut dyn Host, args: &[&[u8]]) -> RespValue {
        self.error_counted = false;
        functions::command(self, host, args)
    }

    /// Whether the last `command`'s reply is an error a `redis.call` met
    /// (the command's own error or a refusal), which errorstats counted
    /// then: Redis does not count it again as the script's reply.
    pub fn error_counted(&self) -> bool {
        self.error_counted
    }
}

/// The error reply of a failed run from the handler's error table:
/// `<err> script: <name>, on <source>:<line>.`
fn script_error(v: &Value, name: &str) -> RespValue {
    let Value::Table(t) = v else {
        return RespValue::err(format!(
            "ERR Error running script {name}, execution failure"
        ));
    };
    let mut out = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.as_bytes().to_vec(),
        Ok(Value::Integer(i)) => i.to_string().into_bytes(),
        Ok(Value::Number(n)) => resp::fmt_g(n, 14).into_bytes(),
        _ => b"ERR unknown error".to_vec(),
    };
    let source = t.raw_get::<Value>("source").ok();
    let line = t.raw_get::<Value>("line").ok();
    if let (Some(Value::String(src)), Some(line)) = (source, line) {
        let line = match line {
            Value::Integer(i) => Some(i.to_string()),
            Value::Number(n) => Some(resp::fmt_g(n, 14)),
            _ => None,
        };
        if let Some(line) = line {
            out.extend_from_slice(format!(" script: {name}, on ").as_bytes());
            out.extend_from_slice(&src.as_bytes());
            out.extend_from_slice(format!(":{line}.").as_bytes());
        }
    }
    RespValue::Error(out)
}

#[cfg(test)]
mod tests;
