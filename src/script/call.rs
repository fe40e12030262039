//! `redis.call` and `redis.pcall` as plain Lua C functions.
//!
//! They are the hot path of every script: through mlua's callbacks each
//! call built a value list, copied every argument into its own vector, and
//! turned the reply into an owned tree before building Lua values from it
//! (a third of an EVALSHA's time). Here the arguments are read off the Lua
//! stack in place, the server encodes the reply as RESP into a reused
//! buffer (`Host::call_encoded`), and the Lua values are built from those
//! bytes directly.
//!
//! Raising from a C function is a `longjmp`: when `lua_error` runs, and
//! whenever a Lua allocation could fail, no frame of this module owns
//! anything that needs dropping (buffers live in the `Scratch` of the Lua
//! state's `Run`).
#![allow(unsafe_code)]

use std::os::raw::c_int;
use std::sync::atomic::Ordering;

use mlua::ffi;
use mlua::Lua;

use super::convert::{error_text_into, number_text, ERROR_COUNTED};
use super::env::Run;
use super::host::{CallContext, Outcome};

/// Arguments read without allocating a list for them; longer calls use one.
const INLINE_ARGS: usize = 32;

/// Nesting beyond any command's reply.
const MAX_DEPTH: usize = 64;

/// `redis.call`'s reused buffers.
#[derive(Default)]
pub(crate) struct Scratch {
    /// The reply, as RESP.
    out: Vec<u8>,
    /// Number arguments, formatted.
    nums: Vec<u8>,
    /// Where each number argument's text lies in `nums`.
    spans: Vec<(usize, usize)>,
    /// An error table's text.
    text: Vec<u8>,
}

/// Creates `redis.call` (`raise`: raises a failed command's error table)
/// or `redis.pcall` (returns it).
///
/// # Safety
/// `run` stays valid for as long as the Lua state can call the function.
pub(crate) unsafe fn create(
    lua: &Lua,
    run: *const Run,
    raise: bool,
) -> mlua::Result<mlua::Function> {
    lua.exec_raw((), |state| {
        ffi::lua_pushlightuserdata(state, run as *mut std::ffi::c_void);
        ffi::lua_pushboolean(state, raise as c_int);
        ffi::lua_pushcclosure(state, redis_call, 2);
    })
}

unsafe extern "C-unwind" fn redis_call(state: *mut ffi::lua_State) -> c_int {
    let run = &*(ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)) as *const Run);
    let raise = ffi::lua_toboolean(state, ffi::lua_upvalueindex(2)) != 0;
    if !call(state, run) && raise {
        // Nothing owned lives in this frame: the error unwinds past it.
        ffi::lua_error(state);
    }
    1
}

/// Runs the command the arguments on the stack name and pushes one value:
/// the reply (true), or an error table (false).
unsafe fn call(state: *mut ffi::lua_State, run: &Run) -> bool {
    let scratch = &mut *run.scratch.get();
    let n = ffi::lua_gettop(state).max(0) as usize;
    if n == 0 {
        push_error(
            state,
            scratch,
            b"Please specify at least one argument for this redis lib call",
            false,
        );
        return false;
    }
    // Numbers first: their texts must be in place before any is borrowed.
    scratch.nums.clear();
    scratch.spans.clear();
    for i in 1..=n {
        match ffi::lua_type(state, i as c_int) {
            ffi::LUA_TSTRING => {}
            ffi::LUA_TNUMBER => {
                let start = scratch.nums.len();
                number_text(ffi::lua_tonumber(state, i as c_int), &mut scratch.nums);
                scratch.spans.push((start, scratch.nums.len()));
            }
            _ => {
                push_error(
                    state,
                    scratch,
                    b"Lua redis lib command arguments must be strings or integers",
                    false,
                );
                return false;
            }
        }
    }
    let outcome = {
        let mut inline: [&[u8]; INLINE_ARGS] = [&[]; INLINE_ARGS];
        let mut spilled: Vec<&[u8]> = Vec::new();
        let args: &mut [&[u8]] = if n <= INLINE_ARGS {
            &mut inline[..n]
        } else {
            spilled.resize(n, &[]);
            &mut spilled
        };
        let mut spans = scratch.spans.iter();
        for (i, a) in args.iter_mut().enumerate() {
            let idx = (i + 1) as c_int;
            *a = if ffi::lua_type(state, idx) == ffi::LUA_TSTRING {
                let mut len = 0usize;
                let p = ffi::lua_tolstring(state, idx, &mut len);
                // The string stays on the stack for the whole call.
                std::slice::from_raw_parts(p.cast::<u8>(), len)
            } else {
                let &(s, e) = spans.next().expect("a span per number");
                &scratch.nums[s..e]
            };
        }
        let rs = run.state.borrow();
        let Some(host) = rs.host else {
            drop(rs);
            drop(spilled);
            push_error(
                state,
                scratch,
                b"Unknown Redis command called from script",
                false,
            );
            return false;
        };
        let cc = CallContext {
            resp: rs.resp,
            flags: rs.flags,
            read_only: rs.read_only,
            script: &rs.name,
            is_function: rs.is_function,
        };
        scratch.out.clear();
        let out = &mut scratch.out;
        // SAFETY: see `HostPtr`; no other reference to the host is live
        // while a script runs. A panic must not unwind into Lua's frames.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (*host.0).call_encoded(args, &cc, out)
        }));
        (outcome, cc.resp)
    };
    let (outcome, resp) = outcome;
    match outcome {
        Ok(Outcome::Reply) => {}
        Ok(Outcome::Write) => run.control.wrote.store(true, Ordering::Relaxed),
        Ok(Outcome::Refused(why)) => {
            let text = why.text();
            drop(why);
            scratch.text.clear();
            error_text_into(text.as_bytes(), &mut scratch.text);
            drop(text);
            push_text_error(state, &scratch.text, true);
            return false;
        }
        Err(panic) => {
            drop(panic);
            tracing::error!(target: "script", "redis.call panicked");
            push_error(
                state,
                scratch,
                b"-ERR internal error running the command",
                false,
            );
            return false;
        }
    }
    let out = &scratch.out;
    if out.first() == Some(&b'-') {
        scratch.text.clear();
        let end = memchr::memchr(b'\r', out).unwrap_or(out.len());
        error_text_into(&out[..end], &mut scratch.text);
        push_text_error(state, &scratch.text, true);
        return false;
    }
    let top = ffi::lua_gettop(state);
    if push_reply(state, out, resp, &mut scratch.text, 0).is_none() {
        ffi::lua_settop(state, top);
        push_error(state, scratch, b"-ERR internal: unreadable reply", true);
        return false;
    }
    true
}

/// Pushes the error table of `text` (`convert::error_table`).
unsafe fn push_error(
    state: *mut ffi::lua_State,
    scratch: &mut Scratch,
    text: &[u8],
    counted: bool,
) {
    scratch.text.clear();
    error_text_into(text, &mut scratch.text);
    push_text_error(state, &scratch.text, counted);
}

/// Pushes `{err = text}`, marked `ERROR_COUNTED` when `counted`.
unsafe fn push_text_error(state: *mut ffi::lua_State, text: &[u8], counted: bool) {
    ffi::lua_createtable(state, 0, 2);
    ffi::lua_pushstring(state, c"err".as_ptr());
    ffi::lua_pushlstring(state, text.as_ptr().cast(), text.len());
    ffi::lua_rawset(state, -3);
    if counted {
        ffi::lua_pushlstring(state, ERROR_COUNTED.as_ptr().cast(), ERROR_COUNTED.len());
        ffi::lua_pushboolean(state, 1);
        ffi::lua_rawset(state, -3);
    }
}

/// Pushes a table holding only `name = <value on top of the stack>`.
unsafe fn wrap_in(state: *mut ffi::lua_State, name: &std::ffi::CStr) {
    ffi::lua_createtable(state, 0, 1);
    ffi::lua_insert(state, -2);
    ffi::lua_pushstring(state, name.as_ptr());
    ffi::lua_insert(state, -2);
    ffi::lua_rawset(state, -3);
}

unsafe fn push_bytes(state: *mut ffi::lua_State, b: &[u8]) {
    ffi::lua_pushlstring(state, b.as_ptr().cast(), b.len());
}

/// Pushes the Lua value of the reply at the start of `buf`, as Redis 7.0
/// converts a reply for a script, and returns the bytes it took. `resp` is
/// the protocol the script selected (the reply is in it): integers become
/// numbers, bulk strings strings, a status `{ok=...}`, an error
/// `{err=...}`; a null is `false` under RESP2 and `nil` under RESP3. Under
/// RESP3 a map is `{map={k=v}}`, a set `{set={k=true}}`, a double
/// `{double=n}`, a big number `{big_number=s}`, a verbatim string
/// `{verbatim_string={format=f, string=s}}`, booleans booleans; met under
/// RESP2 they take their RESP2 forms (flat arrays, strings, 1 or false).
/// None, with the stack to be reset by the caller, on bytes that are not
/// one whole reply. `text` is scratch space.
unsafe fn push_reply(
    state: *mut ffi::lua_State,
    buf: &[u8],
    resp: u8,
    text: &mut Vec<u8>,
    depth: usize,
) -> Option<usize> {
    // Replies nest a few levels; the bound keeps this recursion shallow
    // whatever the bytes say.
    if depth > MAX_DEPTH || ffi::lua_checkstack(state, 4) == 0 {
        return None;
    }
    let cr = memchr::memchr(b'\r', buf)?;
    let line = &buf[1..cr];
    let next = cr + 2;
    let int = || crate::resp::parse_i64(line);
    let null = |state| {
        if resp == 3 {
            ffi::lua_pushnil(state);
        } else {
            ffi::lua_pushboolean(state, 0);
        }
    };
    Some(match *buf.first()? {
        b'+' => {
            push_bytes(state, line);
            wrap_in(state, c"ok");
            next
        }
        b'-' => {
            // An error inside an aggregate is a value, not raised.
            text.clear();
            error_text_into(&buf[..cr], text);
            push_text_error(state, text, true);
            next
        }
        b':' => {
            ffi::lua_pushnumber(state, int()? as f64);
            next
        }
        b'$' | b'=' => {
            let n = int()?;
            if n < 0 {
                null(state);
                return Some(next);
            }
            let body = buf.get(next..next.checked_add(n as usize)?)?;
            if buf[0] == b'=' && body.len() >= 4 {
                if resp == 3 {
                    ffi::lua_createtable(state, 0, 2);
                    ffi::lua_pushstring(state, c"format".as_ptr());
                    push_bytes(state, &body[..3]);
                    ffi::lua_rawset(state, -3);
                    ffi::lua_pushstring(state, c"string".as_ptr());
                    push_bytes(state, &body[4..]);
                    ffi::lua_rawset(state, -3);
                    wrap_in(state, c"verbatim_string");
                } else {
                    push_bytes(state, &body[4..]);
                }
            } else {
                push_bytes(state, body);
            }
            next + n as usize + 2
        }
        b'*' | b'>' | b'~' | b'%' => {
            let n = int()?;
            if n < 0 {
                null(state);
                return Some(next);
            }
            let kind = buf[0];
            let keyed = resp == 3 && matches!(kind, b'~' | b'%');
            let items = if kind == b'%' {
                n as usize * 2
            } else {
                n as usize
            };
            let mut at = next;
            if keyed {
                ffi::lua_createtable(state, 0, n.min(1 << 20) as c_int);
                for _ in 0..n {
                    at += push_reply(state, buf.get(at..)?, resp, text, depth + 1)?;
                    if kind == b'%' {
                        at += push_reply(state, buf.get(at..)?, resp, text, depth + 1)?;
                    } else {
                        ffi::lua_pushboolean(state, 1);
                    }
                    if ffi::lua_type(state, -2) == ffi::LUA_TNIL {
                        ffi::lua_settop(state, -3);
                    } else {
                        ffi::lua_rawset(state, -3);
                    }
                }
                wrap_in(state, if kind == b'%' { c"map" } else { c"set" });
            } else {
                ffi::lua_createtable(state, items.min(1 << 20) as c_int, 0);
                for i in 0..items {
                    at += push_reply(state, buf.get(at..)?, resp, text, depth + 1)?;
                    ffi::lua_rawseti(state, -2, (i + 1) as _);
                }
            }
            at
        }
        b'_' => {
            null(state);
            next
        }
        b'#' => {
            let t = line == b"t";
            if resp == 3 {
                ffi::lua_pushboolean(state, t as c_int);
            } else if t {
                ffi::lua_pushnumber(state, 1.0);
            } else {
                ffi::lua_pushboolean(state, 0);
            }
            next
        }
        b',' => {
            let d = match std::str::from_utf8(line).ok()? {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                t => t.parse().ok()?,
            };
            if resp == 3 {
                ffi::lua_pushnumber(state, d);
                wrap_in(state, c"double");
            } else {
                text.clear();
                text.extend_from_slice(super::resp::format_double(d).as_bytes());
                push_bytes(state, text);
            }
            next
        }
        b'(' => {
            push_bytes(state, line);
            if resp == 3 {
                wrap_in(state, c"big_number");
            }
            next
        }
        _ => return None,
    })
}
