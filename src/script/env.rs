//! The Lua state: the primitives implemented in Rust, the environments built
//! by `prelude.lua`, and the per-run state the primitives read.
//!
//! Unsafe code lives here for two reasons: the running script's host is
//! reached through a raw pointer installed for the span of one run (mlua
//! callbacks must be `'static`), and Redis's error raising from inside a
//! `redis.call` needs a C trampoline that calls `lua_error`.
#![allow(unsafe_code)]

use std::sync::atomic::Ordering;
use std::sync::Arc;

use mlua::{Function, Lua, MultiValue, StdLib, Table, Value};

use super::convert::{arg_bytes, command_arg, error_table, lua_to_resp};
use super::host::Host;
use super::{libs, Abort, ScriptControl, ScriptFlags, REDIS_VERSION, REDIS_VERSION_NUM};

const PRELUDE: &str = include_str!("prelude.lua");

/// What is running now; the primitives read it through the Lua app data
/// (`with_run`), `redis.call` through its upvalue (see `super::call`).
pub(crate) struct RunState {
    pub(crate) host: Option<HostPtr>,
    /// Protocol selected with `redis.setresp`.
    pub resp: u8,
    pub flags: ScriptFlags,
    pub read_only: bool,
    pub name: String,
    pub is_function: bool,
}

/// A raw pointer to the host of the running script: set only for the span of
/// one run (see `Env::with_host`) and used from the thread that set it.
#[derive(Clone, Copy)]
pub(crate) struct HostPtr(pub(crate) *mut (dyn Host + 'static));
// SAFETY: the pointer is dereferenced only while the run that installed it is
// on the stack of the same thread (see `Env::with_host`).
unsafe impl Send for HostPtr {}

/// Functions registered while a library loads.
#[derive(Default)]
pub(crate) struct PendingLibrary {
    pub functions: Vec<PendingFunction>,
}

pub(crate) struct PendingFunction {
    pub name: Vec<u8>,
    pub callback: Function,
    pub description: Option<Vec<u8>>,
    pub flags: ScriptFlags,
}

/// Redis's `redisLrand48`: the classic 48-bit linear congruential generator.
pub(crate) struct Rand48 {
    x: u64,
}

impl Rand48 {
    const A: u64 = 0x5_DEEC_E66D;
    const C: u64 = 0xB;
    const MASK: u64 = (1 << 48) - 1;

    pub fn new(seed: i32) -> Rand48 {
        let mut r = Rand48 { x: 0 };
        r.seed(seed);
        r
    }

    pub fn seed(&mut self, seed: i32) {
        self.x = (((seed as u32) as u64) << 16) | 0x330E;
    }

    pub fn next(&mut self) -> i32 {
        self.x = (self.x.wrapping_mul(Self::A).wrapping_add(Self::C)) & Self::MASK;
        (self.x >> 17) as i32
    }
}

/// Handles into the prelude's environments.
pub(crate) struct Env {
    pub lua: Lua,
    pub eval_env: Table,
    pub func_env: Table,
    set_loading: Function,
    /// The error handler every run is called under (the prelude's
    /// `on_error`).
    on_error: Function,
    /// The table behind `eval_env`, where KEYS and ARGV live.
    eval_g: Table,
    /// The run state in the Lua state's app data (see `Run`), reached
    /// directly: through the app data every run paid three look-ups.
    run: RunRef,
}

pub(crate) struct Proxies {
    real_of: Table,
    meta_views: Table,
    string_meta: Option<Table>,
    base_getmetatable: Function,
    base_setmetatable: Function,
    base_rawget: Function,
    base_rawset: Function,
}

/// Calls the function in its upvalue, which answers (ok, value): returns the
/// value, or raises it as the error when ok is false. Being a C function,
/// it keeps the caller's frame for error locations even under a tail call.
unsafe extern "C-unwind" fn raising_trampoline(
    state: *mut mlua::ffi::lua_State,
) -> std::os::raw::c_int {
    use mlua::ffi;
    let n = ffi::lua_gettop(state);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, n, 2);
    if ffi::lua_toboolean(state, -2) == 0 {
        // Nothing owned lives in this frame: the error unwinds past it.
        ffi::lua_error(state);
    }
    1
}

/// Wraps a primitive answering (ok, value) into a function that raises.
fn raising(lua: &Lua, f: Function) -> mlua::Result<Function> {
    // SAFETY: pushes one C closure over the given function.
    unsafe {
        lua.exec_raw(f, |state| {
            mlua::ffi::lua_pushcclosure(state, raising_trampoline, 1);
        })
    }
}

fn where_prefix(lua: &Lua) -> String {
    // Level 0 is the Rust function itself, level 1 its caller.
    lua.inspect_stack(1, |d| {
        let line = d.current_line();
        let src = d.source();
        match (line, src.short_src) {
            (Some(line), Some(s)) => format!("{s}:{line}: "),
            _ => String::new(),
        }
    })
    .unwrap_or_default()
}

/// A `luaL_error`-style error: the caller's position, then the message.
pub(crate) fn lua_error(lua: &Lua, msg: impl AsRef<str>) -> mlua::Error {
    mlua::Error::RuntimeError(format!("{}{}", where_prefix(lua), msg.as_ref()))
}

/// `bad argument #n to 'name' (msg)`, as `luaL_argerror` words it.
pub(crate) fn arg_error(lua: &Lua, n: usize, name: &str, msg: &str) -> mlua::Error {
    lua_error(lua, format!("bad argument #{n} to '{name}' ({msg})"))
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::LightUserData(_) => "userdata",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        Value::UserData(_) | Value::Error(_) => "userdata",
        _ => "userdata",
    }
}

fn check_table(lua: &Lua, args: &MultiValue, n: usize, name: &str) -> mlua::Result<Table> {
    match args.get(n - 1) {
        Some(Value::Table(t)) => Ok(t.clone()),
        other => {
            let got = other.map(type_name).unwrap_or("no value");
            Err(arg_error(
                lua,
                n,
                name,
                &format!("table expected, got {got}"),
            ))
        }
    }
}

fn deproxy(lua: &Lua, v: &Value) -> mlua::Result<Value> {
    if let Value::Table(t) = v {
        let p = lua.app_data_ref::<Proxies>().expect("proxies");
        if let Value::Table(real) = p.real_of.raw_get::<Value>(t.clone())? {
            return Ok(Value::Table(real));
        }
    }
    Ok(v.clone())
}

fn is_proxy(lua: &Lua, v: &Value) -> mlua::Result<bool> {
    if let Value::Table(t) = v {
        let p = lua.app_data_ref::<Proxies>().expect("proxies");
        return Ok(!p.real_of.raw_get::<Value>(t.clone())?.is_nil());
    }
    Ok(false)
}

impl Env {
    pub fn new(control: Arc<ScriptControl>) -> mlua::Result<Env> {
        // SAFETY: the debug library is loaded only for the prelude, which
        // keeps `debug.getinfo` in a local and never exposes the library.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                mlua::LuaOptions::default(),
            )
        };
        // SAFETY: every block allocated so far is a C allocator block
        // (Rust's System allocator), which `lua_alloc` frees and resizes.
        unsafe {
            lua.exec_raw::<()>((), |state| {
                mlua::ffi::lua_setallocf(state, super::lua_alloc::lua_alloc, std::ptr::null_mut())
            })?;
        }
        let run = Box::new(Run {
            state: std::cell::RefCell::new(RunState {
                host: None,
                resp: 2,
                flags: ScriptFlags::default(),
                read_only: false,
                name: String::new(),
                is_function: false,
            }),
            scratch: Default::default(),
            control: control.clone(),
        });
        let run_ptr: *const Run = &*run;
        lua.set_app_data(RunCell(run));
        lua.set_app_data(Rand48::new(seed_from_clock()));
        lua.set_app_data(PendingLibrary::default());
        lua.set_app_data(control.clone());

        let globals = lua.globals();
        let p = lua.create_table()?;
        p.set("version", REDIS_VERSION)?;
        p.set("version_num", REDIS_VERSION_NUM)?;
        // SAFETY: `run_ptr` points into the box kept in the app data, which
        // lives as long as the Lua state that calls these functions.
        p.set("call", unsafe { super::call::create(&lua, run_ptr, true)? })?;
        p.set("pcall", unsafe {
            super::call::create(&lua, run_ptr, false)?
        })?;
        p.set("error_reply", lua.create_function(error_reply)?)?;
        p.set("status_reply", lua.create_function(status_reply)?)?;
        p.set("sha1hex", raising(&lua, lua.create_function(sha1hex)?)?)?;
        p.set("log", raising(&lua, lua.create_function(redis_log)?)?)?;
        p.set("setresp", raising(&lua, lua.create_function(setresp)?)?)?;
        p.set("set_repl", raising(&lua, lua.create_function(set_repl)?)?)?;
        p.set(
            "acl_check_cmd",
            raising(&lua, lua.create_function(acl_check_cmd)?)?,
        )?;
        p.set(
            "register_function",
            raising(&lua, lua.create_function(register_function)?)?,
        )?;
        p.set("errinfo", lua.create_function(errinfo)?)?;
        p.set("random", lua.create_function(math_random)?)?;
        p.set("randomseed", lua.create_function(math_randomseed)?)?;
        p.set("bit", libs::bit::create(&lua)?)?;
        p.set("cjson", libs::cjson::create(&lua)?)?;
        p.set("cmsgpack", libs::cmsgpack::create(&lua)?)?;
        p.set("struct", libs::lstruct::create(&lua)?)?;

        let proxies = Proxies {
            real_of: lua.create_table()?,
            meta_views: lua.create_table()?,
            string_meta: None,
            base_getmetatable: globals.get("getmetatable")?,
            base_setmetatable: globals.get("setmetatable")?,
            base_rawget: globals.get("rawget")?,
            base_rawset: globals.get("rawset")?,
        };
        lua.set_app_data(proxies);
        p.set(
            "set_proxies",
            lua.create_function(|lua, t: Table| {
                lua.app_data_mut::<Proxies>().expect("proxies").real_of = t;
                Ok(())
            })?,
        )?;
        p.set(
            "set_meta_view",
            lua.create_function(|lua, (t, v): (Table, Table)| {
                let p = lua.app_data_ref::<Proxies>().expect("proxies");
                p.meta_views.raw_set(t, v)
            })?,
        )?;
        p.set(
            "set_string_meta",
            lua.create_function(|lua, t: Table| {
                lua.app_data_mut::<Proxies>().expect("proxies").string_meta = Some(t);
                Ok(())
            })?,
        )?;
        p.set("getmetatable", lua.create_function(script_getmetatable)?)?;
        p.set("setmetatable", lua.create_function(script_setmetatable)?)?;
        p.set("rawget", lua.create_function(script_rawget)?)?;
        p.set("rawset", lua.create_function(script_rawset)?)?;
        let base_next: Function = globals.get("next")?;
        let base_pairs: Function = globals.get("pairs")?;
        let base_ipairs: Function = globals.get("ipairs")?;
        let base_loadstring: Function = globals.get("loadstring")?;
        let base_load: Function = globals.get("load")?;
        {
            let f = base_next.clone();
            p.set(
                "next",
                lua.create_function(move |lua, args: MultiValue| {
                    let mut v: Vec<Value> = args.into_iter().collect();
                    if let Some(first) = v.first_mut() {
                        *first = deproxy(lua, first)?;
                    }
                    f.call::<MultiValue>(MultiValue::from_iter(v))
                })?,
            )?;
        }
        for (name, f) in [("pairs", base_pairs), ("ipairs", base_ipairs)] {
            p.set(
                name,
                lua.create_function(move |lua, args: MultiValue| {
                    let t = check_table(lua, &args, 1, name)?;
                    let real = deproxy(lua, &Value::Table(t))?;
                    f.call::<MultiValue>(real)
                })?,
            )?;
        }
        for (name, f) in [("loadstring", base_loadstring), ("load", base_load)] {
            p.set(
                name,
                lua.create_function(move |lua, args: MultiValue| {
                    if name == "loadstring" {
                        if let Some(Value::String(s)) = args.front() {
                            if s.as_bytes().first() == Some(&0x1b) {
                                return Ok(MultiValue::from_iter([
                                    Value::Nil,
                                    Value::String(
                                        lua.create_string("binary chunks are not allowed")?,
                                    ),
                                ]));
                            }
                        }
                    }
                    let mut out = f.call::<MultiValue>(args)?;
                    if let Some(Value::Function(func)) = out.front() {
                        let env = with_run(lua, |rs| rs.is_function);
                        let envs = lua.app_data_ref::<EnvTables>().expect("env tables");
                        let env = if env {
                            envs.func.clone()
                        } else {
                            envs.eval.clone()
                        };
                        drop(envs);
                        let setfenv: Function = lua.named_registry_value("setfenv")?;
                        setfenv.call::<()>((func.clone(), env))?;
                        let first = out.pop_front();
                        out.push_front(first.unwrap_or(Value::Nil));
                    }
                    Ok(out)
                })?,
            )?;
        }

        let made: Table = lua
            .load(PRELUDE)
            .set_name("=redis")
            .set_mode(mlua::ChunkMode::Text)
            .call(p)?;
        let eval_env: Table = made.get("eval_env")?;
        let func_env: Table = made.get("func_env")?;
        let setfenv: Function = made.get("setfenv")?;
        lua.set_named_registry_value("setfenv", setfenv)?;
        lua.set_app_data(EnvTables {
            eval: eval_env.clone(),
            func: func_env.clone(),
        });

        // Nothing but the prelude's views is reachable from scripts; clear the
        // real globals so no function created by a stray chunk finds them.
        let keys: Vec<Value> = globals
            .pairs::<Value, Value>()
            .filter_map(|kv| kv.ok().map(|(k, _)| k))
            .collect();
        for k in keys {
            globals.raw_set(k, Value::Nil)?;
        }

        let hook_control = control;
        lua.set_hook(
            mlua::HookTriggers::new().every_nth_instruction(100_000),
            move |_lua, _debug| {
                if hook_control.kill.load(Ordering::Relaxed) {
                    return Err(mlua::Error::external(Abort::Killed));
                }
                if let Some(deadline) = *hook_control.load_deadline.lock().expect("deadline") {
                    if std::time::Instant::now() >= deadline {
                        return Err(mlua::Error::external(Abort::LoadTimeout));
                    }
                }
                Ok(mlua::VmState::Continue)
            },
        )?;

        Ok(Env {
            eval_env,
            func_env,
            set_loading: made.get("set_loading")?,
            on_error: made.get("on_error")?,
            eval_g: made.get("eval_g")?,
            run: RunRef(run_ptr),
            lua,
        })
    }

    pub fn set_loading(&self, on: bool) -> mlua::Result<()> {
        self.set_loading.call(on)
    }

    /// Runs an EVAL script's function with KEYS and ARGV set to `keys` and
    /// `argv`: Ok(value) or Err(error table). The tables are built on the
    /// Lua stack, in the same protected call as the run: through mlua's
    /// values every string would cost a registry slot and an allocation.
    pub fn run_eval(
        &self,
        f: &Function,
        keys: &[&[u8]],
        argv: &[&[u8]],
    ) -> mlua::Result<Result<Value, Value>> {
        // SAFETY: the stack holds (eval_g, on_error, f); the tables are set
        // in eval_g with at most three slots above them, and the call
        // leaves (ok, result) as `run` does.
        let (ok, v) = unsafe {
            self.lua
                .exec_raw::<(bool, Value)>((&self.eval_g, &self.on_error, f), |state| {
                    for (name, items) in [(c"KEYS", keys), (c"ARGV", argv)] {
                        mlua::ffi::lua_pushstring(state, name.as_ptr());
                        push_array(state, items);
                        mlua::ffi::lua_rawset(state, 1);
                    }
                    let status = mlua::ffi::lua_pcall(state, 0, 1, 2);
                    mlua::ffi::lua_pushboolean(state, (status == 0) as i32);
                    mlua::ffi::lua_replace(state, 1);
                    mlua::ffi::lua_remove(state, 2);
                })?
        };
        Ok(if ok { Ok(v) } else { Err(v) })
    }

    /// A table of `items` as strings (FCALL's KEYS and ARGV arguments).
    pub fn array(&self, items: &[&[u8]]) -> mlua::Result<Table> {
        // SAFETY: as in `run_eval`; the table is the one value left.
        unsafe {
            self.lua
                .exec_raw::<Table>((), |state| push_array(state, items))
        }
    }

    /// Runs `f(a, b)` under the error handler: Ok(value) or Err(error table).
    pub fn run(&self, f: &Function, a: Value, b: Value) -> mlua::Result<Result<Value, Value>> {
        // As Redis calls a script: `lua_pcall` with the handler below the
        // function, no closure built per run.
        // SAFETY: the stack holds the four arguments; the call leaves the
        // handler and one result, replaced by (ok, result).
        let (ok, v) = unsafe {
            self.lua
                .exec_raw::<(bool, Value)>((&self.on_error, f, a, b), |state| {
                    let status = mlua::ffi::lua_pcall(state, 2, 1, 1);
                    mlua::ffi::lua_pushboolean(state, (status == 0) as i32);
                    mlua::ffi::lua_replace(state, 1);
                })?
        };
        Ok(if ok { Ok(v) } else { Err(v) })
    }

    /// Installs the host and run parameters for the span of `f`.
    pub fn with_host<R>(
        &self,
        host: &mut dyn Host,
        flags: ScriptFlags,
        read_only: bool,
        name: &str,
        is_function: bool,
        f: impl FnOnce() -> R,
    ) -> R {
        struct Clear<'a>(&'a Run);
        impl Drop for Clear<'_> {
            fn drop(&mut self) {
                self.0.state.borrow_mut().host = None;
            }
        }
        // SAFETY: only the lifetime is erased; the pointer is removed by
        // `Clear` before `host`'s borrow ends, and only read on this thread.
        let ptr: *mut (dyn Host + 'static) = unsafe { std::mem::transmute(host as *mut dyn Host) };
        let run = self.run_state();
        {
            let mut rs = run.state.borrow_mut();
            rs.host = Some(HostPtr(ptr));
            rs.resp = 2;
            rs.flags = flags;
            rs.read_only = read_only;
            rs.name.clear();
            rs.name.push_str(name);
            rs.is_function = is_function;
        }
        let _clear = Clear(run);
        f()
    }

    pub fn resp(&self) -> u8 {
        self.run_state().state.borrow().resp
    }

    fn run_state(&self) -> &Run {
        // SAFETY: the `Run` lives in the app data of `self.lua`, which
        // lives as long as `self`.
        unsafe { &*self.run.0 }
    }

    pub fn seed_random(&self, seed: i32) {
        if let Some(mut r) = self.lua.app_data_mut::<Rand48>() {
            r.seed(seed);
        }
    }

    pub fn take_pending(&self) -> PendingLibrary {
        std::mem::take(&mut *self.lua.app_data_mut::<PendingLibrary>().expect("pending"))
    }
}

pub(crate) struct EnvTables {
    eval: Table,
    func: Table,
}

fn seed_from_clock() -> i32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    (nanos ^ (std::process::id() as u64) << 20) as i32
}

/// The running script's state and `redis.call`'s scratch space, boxed so
/// that `redis.call` can reach it through a pointer (see `super::call`).
pub(crate) struct Run {
    pub state: std::cell::RefCell<RunState>,
    pub scratch: std::cell::UnsafeCell<super::call::Scratch>,
    pub control: Arc<ScriptControl>,
}

/// The app data holding the `Run`: dropped with the Lua state.
struct RunCell(Box<Run>);

/// A pointer to the `Run` of an `Env`'s own Lua state.
struct RunRef(*const Run);
// SAFETY: the `Run` moves between threads only with the Lua state that owns
// it (mlua's `send` feature), together with the `Env` holding this pointer.
unsafe impl Send for RunRef {}

fn with_run<R>(lua: &Lua, f: impl FnOnce(&mut RunState) -> R) -> R {
    let cell = lua.app_data_ref::<RunCell>().expect("run state");
    let mut rs = cell.0.state.borrow_mut();
    f(&mut rs)
}

/// `redis.acl_check_cmd`'s arguments, converted as `redis.call` converts
/// them: Err(error text) when one is not a string or a number.
fn command_args(args: &MultiValue) -> Result<Vec<Vec<u8>>, &'static str> {
    if args.is_empty() {
        return Err("Please specify at least one argument for this redis lib call");
    }
    let mut out = Vec::with_capacity(args.len());
    for a in args.iter() {
        match command_arg(a) {
            Some(b) => out.push(b),
            None => return Err("Lua redis lib command arguments must be strings or integers"),
        }
    }
    Ok(out)
}

fn host_of(lua: &Lua) -> Option<HostPtr> {
    with_run(lua, |rs| rs.host)
}

/// Pushes a new table holding `items` as strings, indexed from 1.
///
/// # Safety
/// `state` is a live Lua state inside a protected call with a free slot
/// for the table and one for a string.
unsafe fn push_array(state: *mut mlua::ffi::lua_State, items: &[&[u8]]) {
    mlua::ffi::lua_createtable(state, items.len().min(i32::MAX as usize) as i32, 0);
    for (i, it) in items.iter().enumerate() {
        mlua::ffi::lua_pushlstring(state, it.as_ptr().cast(), it.len());
        mlua::ffi::lua_rawseti(state, -2, (i + 1) as i64);
    }
}

fn error_reply(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    match (args.len(), args.front()) {
        (1, Some(Value::String(s))) => {
            let s = s.as_bytes();
            let mut text = Vec::with_capacity(s.len() + 1);
            if s.first() != Some(&b'-') {
                text.push(b'-');
            }
            text.extend_from_slice(&s);
            error_table(lua, &text)
        }
        _ => error_table(lua, b"wrong number or type of arguments"),
    }
}

fn status_reply(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    match (args.len(), args.front()) {
        (1, Some(Value::String(s))) => {
            let t = lua.create_table()?;
            t.raw_set("ok", s.clone())?;
            Ok(Value::Table(t))
        }
        _ => error_table(lua, b"wrong number or type of arguments"),
    }
}

fn sha1hex(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    if args.len() != 1 {
        return Ok((false, error_table(lua, b"wrong number of arguments")?));
    }
    let data = args.front().and_then(arg_bytes).unwrap_or_default();
    let hex = super::sha1_hex(&data);
    Ok((true, Value::String(lua.create_string(hex)?)))
}

fn redis_log(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    if args.len() < 2 {
        return Ok((
            false,
            error_table(lua, b"redis.log() requires two arguments or more.")?,
        ));
    }
    let level = match args.front().and_then(lua_number) {
        Some(n) => n,
        None => {
            return Ok((
                false,
                error_table(lua, b"First argument must be a number (log level).")?,
            ))
        }
    };
    let level = level as i64;
    if !(0..=3).contains(&level) {
        return Ok((false, error_table(lua, b"Invalid debug level.")?));
    }
    let mut msg = Vec::new();
    for (i, a) in args.iter().skip(1).enumerate() {
        if let Some(b) = arg_bytes(a) {
            if i != 0 {
                msg.push(b' ');
            }
            msg.extend_from_slice(&b);
        }
    }
    if let Some(host) = host_of(lua) {
        // SAFETY: see `HostPtr`.
        unsafe { (*host.0).log(level as i32, &msg) };
    }
    Ok((true, Value::Nil))
}

/// A Lua number or numeric string, as `lua_tonumber` reads it.
pub(crate) fn lua_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => {
            let b = s.as_bytes();
            let t = std::str::from_utf8(&b).ok()?.trim();
            if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                return i64::from_str_radix(h, 16).ok().map(|v| v as f64);
            }
            t.parse::<f64>()
                .ok()
                .filter(|_| !t.is_empty() && !t.contains(['i', 'n', 'I', 'N']))
        }
        _ => None,
    }
}

fn setresp(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    if args.len() != 1 {
        return Ok((
            false,
            error_table(lua, b"redis.setresp() requires one argument.")?,
        ));
    }
    let v = args.front().and_then(lua_number).unwrap_or(0.0) as i64;
    if v != 2 && v != 3 {
        return Ok((false, error_table(lua, b"RESP version must be 2 or 3.")?));
    }
    with_run(lua, |rs| rs.resp = v as u8);
    Ok((true, Value::Nil))
}

fn set_repl(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    if args.len() != 1 {
        return Ok((
            false,
            error_table(lua, b"redis.set_repl() requires two arguments.")?,
        ));
    }
    let v = args.front().and_then(lua_number).unwrap_or(0.0) as i64;
    if v & !3 != 0 {
        return Ok((
            false,
            error_table(
                lua,
                b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
            )?,
        ));
    }
    if let Some(host) = host_of(lua) {
        // SAFETY: see `HostPtr`.
        unsafe { (*host.0).set_repl(v as i32) };
    }
    Ok((true, Value::Nil))
}

fn acl_check_cmd(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    let argv = match command_args(&args) {
        Ok(a) => a,
        Err(msg) => return Ok((false, error_table(lua, msg.as_bytes())?)),
    };
    let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    let answer = match host_of(lua) {
        // SAFETY: see `HostPtr`.
        Some(host) => unsafe { (*host.0).acl_check_cmd(&refs) },
        None => None,
    };
    match answer {
        Some(b) => Ok((true, Value::Boolean(b))),
        None => Ok((
            false,
            error_table(lua, b"Invalid command passed to redis.acl_check_cmd()")?,
        )),
    }
}

/// For an error value raised from Rust: (message, whether it is a Redis
/// error table's text rather than a plain Lua error string).
fn errinfo(_lua: &Lua, v: Value) -> mlua::Result<(Value, bool)> {
    let Value::Error(e) = v else {
        return Ok((Value::Nil, false));
    };
    let mut cur: &mlua::Error = &e;
    loop {
        match cur {
            mlua::Error::CallbackError { cause, .. } => cur = cause,
            mlua::Error::WithContext { cause, .. } => cur = cause,
            _ => break,
        }
    }
    let lua = _lua;
    let (msg, table) = match cur {
        mlua::Error::ExternalError(x) => match x.downcast_ref::<Abort>() {
            Some(Abort::Killed) => (
                "ERR Script killed by user with SCRIPT KILL...".to_string(),
                true,
            ),
            Some(Abort::LoadTimeout) => ("ERR FUNCTION LOAD timeout".to_string(), true),
            None => (x.to_string(), false),
        },
        mlua::Error::RuntimeError(s) => (s.clone(), false),
        mlua::Error::MemoryError(_) => ("not enough memory".to_string(), false),
        other => (other.to_string(), false),
    };
    Ok((Value::String(lua.create_string(msg)?), table))
}

fn math_random(lua: &Lua, args: MultiValue) -> mlua::Result<f64> {
    const MAX: i64 = i32::MAX as i64;
    let r = {
        let mut g = lua.app_data_mut::<Rand48>().expect("rand");
        (g.next() as i64 % MAX) as f64 / MAX as f64
    };
    let num = |i: usize| -> mlua::Result<f64> {
        match args.get(i).and_then(lua_number) {
            Some(n) => Ok(n),
            None => {
                let got = args.get(i).map(type_name).unwrap_or("no value");
                Err(arg_error(
                    lua,
                    i + 1,
                    "random",
                    &format!("number expected, got {got}"),
                ))
            }
        }
    };
    match args.len() {
        0 => Ok(r),
        1 => {
            let u = num(0)? as i64 as f64;
            if u < 1.0 {
                return Err(arg_error(lua, 1, "random", "interval is empty"));
            }
            Ok((r * u).floor() + 1.0)
        }
        2 => {
            let l = num(0)? as i64 as f64;
            let u = num(1)? as i64 as f64;
            if l > u {
                return Err(arg_error(lua, 2, "random", "interval is empty"));
            }
            Ok((r * (u - l + 1.0)).floor() + l)
        }
        _ => Err(lua_error(lua, "wrong number of arguments")),
    }
}

fn math_randomseed(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    let seed = match args.front().and_then(lua_number) {
        Some(n) => n as i64 as i32,
        None => {
            let got = args.front().map(type_name).unwrap_or("no value");
            return Err(arg_error(
                lua,
                1,
                "randomseed",
                &format!("number expected, got {got}"),
            ));
        }
    };
    lua.app_data_mut::<Rand48>().expect("rand").seed(seed);
    Ok(())
}

fn script_getmetatable(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    let Some(v) = args.front().cloned() else {
        return Err(arg_error(lua, 1, "getmetatable", "value expected"));
    };
    let p = lua.app_data_ref::<Proxies>().expect("proxies");
    if let Value::Table(t) = &v {
        if !p.real_of.raw_get::<Value>(t.clone())?.is_nil() {
            return p.meta_views.raw_get(t.clone());
        }
    }
    if let (Value::String(_), Some(m)) = (&v, &p.string_meta) {
        return Ok(Value::Table(m.clone()));
    }
    let f = p.base_getmetatable.clone();
    drop(p);
    f.call(v)
}

fn readonly_error() -> mlua::Error {
    mlua::Error::RuntimeError("Attempt to modify a readonly table".into())
}

fn script_setmetatable(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    let t = check_table(lua, &args, 1, "setmetatable")?;
    if is_proxy(lua, &Value::Table(t.clone()))? {
        return Err(readonly_error());
    }
    match args.get(1) {
        Some(Value::Nil) | Some(Value::Table(_)) => {}
        _ => return Err(arg_error(lua, 2, "setmetatable", "nil or table expected")),
    }
    let f = lua
        .app_data_ref::<Proxies>()
        .expect("proxies")
        .base_setmetatable
        .clone();
    f.call(args).map_err(|e| match e {
        mlua::Error::RuntimeError(m) => lua_error(lua, m),
        e => e,
    })
}

fn script_rawget(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    let t = check_table(lua, &args, 1, "rawget")?;
    let real = deproxy(lua, &Value::Table(t))?;
    let f = lua
        .app_data_ref::<Proxies>()
        .expect("proxies")
        .base_rawget
        .clone();
    f.call((real, args.get(1).cloned().unwrap_or(Value::Nil)))
}

fn script_rawset(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    let t = check_table(lua, &args, 1, "rawset")?;
    if is_proxy(lua, &Value::Table(t))? {
        return Err(readonly_error());
    }
    let f = lua
        .app_data_ref::<Proxies>()
        .expect("proxies")
        .base_rawset
        .clone();
    f.call(args)
}

/// `redis.register_function`, both forms; (false, error table) on misuse.
fn register_function(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    let fail =
        |m: &str| -> mlua::Result<(bool, Value)> { Ok((false, error_table(lua, m.as_bytes())?)) };
    let (name, callback, description, flags) = match args.len() {
        1 => {
            let Some(Value::Table(t)) = args.front() else {
                return fail("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
            };
            let mut name = None;
            let mut callback = None;
            let mut description = None;
            let mut flags = ScriptFlags::default();
            for kv in t.clone().pairs::<Value, Value>() {
                let (k, v) = kv?;
                let Some(k) = (match &k {
                    Value::String(_) | Value::Integer(_) | Value::Number(_) => arg_bytes(&k),
                    _ => None,
                }) else {
                    return fail(
                        "named argument key given to redis.register_function is not a string",
                    );
                };
                match k.as_slice() {
                    b"function_name" => match arg_bytes(&v) {
                        Some(b) => name = Some(b),
                        None => return fail("function_name argument given to redis.register_function must be a string"),
                    },
                    b"description" => match arg_bytes(&v) {
                        Some(b) => description = Some(b),
                        None => return fail("description argument given to redis.register_function must be a string"),
                    },
                    b"callback" => match v {
                        Value::Function(f) => callback = Some(f),
                        _ => return fail("callback argument given to redis.register_function must be a function"),
                    },
                    b"flags" => {
                        let Value::Table(ft) = v else {
                            return fail("flags argument to redis.register_function must be a table representing function flags");
                        };
                        for fv in ft.sequence_values::<Value>() {
                            let fv = fv?;
                            let parsed = match &fv {
                                Value::String(s) => ScriptFlags::parse_one(&s.as_bytes()),
                                _ => None,
                            };
                            match parsed {
                                Some(f) => flags = flags.union(f),
                                None => return fail("unknown flag given"),
                            }
                        }
                    }
                    _ => return fail("unknown argument given to redis.register_function"),
                }
            }
            let Some(name) = name else {
                return fail("redis.register_function must get a function name argument");
            };
            let Some(callback) = callback else {
                return fail("redis.register_function must get a callback argument");
            };
            (name, callback, description, flags)
        }
        2 => {
            let Some(name) = args.front().and_then(arg_bytes) else {
                return fail("first argument to redis.register_function must be a string");
            };
            let Some(Value::Function(f)) = args.get(1) else {
                return fail("second argument to redis.register_function must be a function");
            };
            (name, f.clone(), None, ScriptFlags::default())
        }
        _ => return fail("wrong number of arguments to redis.register_function"),
    };
    if !super::valid_name(&name) {
        return fail("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long");
    }
    let mut pending = lua.app_data_mut::<PendingLibrary>().expect("pending");
    if pending.functions.iter().any(|f| f.name == name) {
        drop(pending);
        return fail("Function already exists in the library");
    }
    pending.functions.push(PendingFunction {
        name,
        callback,
        description,
        flags,
    });
    Ok((true, Value::Nil))
}

/// The reply of a finished run: converts the script's return value.
pub(crate) fn reply_of(v: &Value, resp: u8) -> super::RespValue {
    lua_to_resp(v, resp, 0)
}
