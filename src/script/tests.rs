//! Unit tests with an in-memory host.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::*;

/// GET/SET/INCR/DEL/PING over a map, plus `TYPES`, which answers one reply
/// of each RESP3 type (in RESP2 form under protocol 2).
#[derive(Default)]
struct MemHost {
    data: HashMap<Vec<u8>, Vec<u8>>,
    logs: Vec<(i32, Vec<u8>)>,
    seen_read_only: Vec<bool>,
    refuse_run: Option<RespValue>,
}

impl Host for MemHost {
    fn call(&mut self, args: &[&[u8]], ctx: &CallContext) -> CallResult {
        self.seen_read_only.push(ctx.read_only);
        let name = String::from_utf8_lossy(args[0]).to_ascii_lowercase();
        let (arity, write) = match name.as_str() {
            "get" => (2, false),
            "set" => (3, true),
            "incr" => (2, true),
            "del" => (-2, true),
            "types" => (1, false),
            "eval" => return CallResult::Refused(Refusal::NotAllowed),
            "oom" => return CallResult::Refused(Refusal::Other("-OOM command not allowed".into())),
            _ => return CallResult::Refused(Refusal::UnknownCommand),
        };
        let n = args.len() as i32;
        if (arity > 0 && n != arity) || (arity < 0 && n < -arity) {
            return CallResult::Refused(Refusal::WrongArity);
        }
        if write && ctx.read_only {
            return CallResult::Refused(Refusal::WriteInReadOnly);
        }
        match name.as_str() {
            "get" => CallResult::Reply(
                self.data
                    .get(args[1])
                    .cloned()
                    .map(RespValue::Bulk)
                    .unwrap_or(RespValue::Nil),
            ),
            "set" => {
                self.data.insert(args[1].to_vec(), args[2].to_vec());
                CallResult::Write(RespValue::ok())
            }
            "incr" => {
                let cur = self
                    .data
                    .get(args[1])
                    .map(|v| String::from_utf8_lossy(v).parse::<i64>());
                let next = match cur {
                    None => 1,
                    Some(Ok(n)) => n + 1,
                    Some(Err(_)) => {
                        return CallResult::Reply(RespValue::err(
                            "ERR value is not an integer or out of range",
                        ))
                    }
                };
                self.data
                    .insert(args[1].to_vec(), next.to_string().into_bytes());
                CallResult::Write(RespValue::Int(next))
            }
            "del" => {
                let n = args[1..]
                    .iter()
                    .filter(|k| self.data.remove(**k).is_some())
                    .count();
                CallResult::Write(RespValue::Int(n as i64))
            }
            _ => {
                let all = vec![
                    RespValue::Map(vec![(RespValue::bulk("k"), RespValue::Int(1))]),
                    RespValue::Set(vec![RespValue::bulk("m")]),
                    RespValue::Double(1.5),
                    RespValue::Bool(true),
                    RespValue::BigNumber(b"123".to_vec()),
                    RespValue::Verbatim {
                        format: *b"txt",
                        text: b"hi".to_vec(),
                    },
                    RespValue::Nil,
                ];
                CallResult::Reply(RespValue::Array(all))
            }
        }
    }

    fn log(&mut self, level: i32, msg: &[u8]) {
        self.logs.push((level, msg.to_vec()));
    }

    fn check_run(&mut self, _flags: ScriptFlags, _ro: bool) -> Option<RespValue> {
        self.refuse_run.clone()
    }
}

fn eval(e: &mut ScriptEngine, h: &mut MemHost, script: &str) -> RespValue {
    e.eval(h, script.as_bytes(), &[], &[], false)
}

fn text(r: &RespValue, resp: u8) -> String {
    let mut v = Vec::new();
    r.encode(resp, &mut v);
    String::from_utf8_lossy(&v).into_owned()
}

fn cmd(e: &mut ScriptEngine, h: &mut MemHost, args: &[&str]) -> String {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    text(&e.command(h, &a), 2)
}

#[test]
fn lua_to_reply_conversions() {
    let mut e = ScriptEngine::new();
    let mut h = MemHost::default();
    let cases: &[(&str, &str, &str)] = &[
        ("return 3.99", ":3\r\n", ":3\r\n"),
        ("return 'x'", "$1\r\nx\r\n", "$1\r\nx\r\n"),
        ("return true", ":1\r\n", ":1\r\n"),
        ("return false", "$-1\r\n", "_\r\n"),
        ("redis.setresp(3) return true", ":1\r\n", "#t\r\n"),
        ("redis.setresp(3) return false", ":0\r\n", "#f\r\n"),
        (
            "return {1, 'a', nil, 2}",
            "*2\r\n:1\r\n$1\r\na\r\n",
            "*2\r\n:1\r\n$1\r\na\r\n",
        ),
        ("return {ok='fine'}", "+fine\r\n", "+fine\r\n"),
        ("return {err='E x'}", "-E x\r\n", "-E x\r\n"),
        ("return {double=0.5}", "$3\r\n0.5\r\n", ",0.5\r\n"),
        ("return {big_number='12'}", "$2\r\n12\r\n", "(12\r\n"),
        (
            "return {map={a=1}}",
            "*2\r\n$1\r\na\r\n:1\r\n",
            "%1\r\n$1\r\na\r\n:1\r\n",
        ),
        (
            "return {set={a=true}}",
            "*1\r\n$1\r\na\r\n",
            "~1\r\n$1\r\na\r\n",
        ),
        (
            "return {verbatim_string={format='txt', string='s'}}",
            "$1\r\ns\r\n",
            "=5\r\ntxt:s\r\n",
        ),
        (
            "return 1e30",
            ":-9223372036854775808\r\n",
            ":-9223372036854775808\r\n",
        ),
    ];
    for (script, r2, r3) in cases {
        let r = eval(&mut e, &mut h, script);
        assert_eq!(text(&r, 2), *r2, "{script}");
        assert_eq!(text(&r, 3), *r3, "{script}");
    }
}

#[test]
fn reply_to_lua_conversions() {
    let mut e = ScriptEngine::new();
    let mut h = MemHost::default();
    // RESP2: the host gives RESP2 forms; RESP3-only types are brought down.
    let r = eval(&mut e, &mut h, "local t = redis.call('types') return {type(t[1]), t[3], type(t[4]), t[5], t[6], type(t[7])}");
    assert_eq!(text(&r, 2), "*6\r\n$5\r\ntable\r\n$3\r\n1.5\r\n$6\r\nnumber\r\n$3\r\n123\r\n$2\r\nhi\r\n$7\r\nboolean\r\n");
    // RESP3: each type keeps its shape.
    let r = eval(
        &mut e,
        &mut h,
        "redis.setresp(3) local t = redis.call('types') \
         return {t[1].map.k, t[2].set.m, t[3].double, tostring(t[4]), t[5].big_number, t[6].verbatim_string.format, t[6].verbatim_string.string, type(t[7])}",
    );
    assert_eq!(
        text(&r, 2),
        "*8\r\n:1\r\n:1\r\n:1\r\n$4\r\ntrue\r\n$3\r\n123\r\n$3\r\ntxt\r\n$2\r\nhi\r\n$3\r\nnil\r\n"
    );
    // Status and integer replies.
    let r = eval(
        &mut e,
        &mut h,
        "local s = redis.call('set', 'k', 1) return {s.ok, redis.call('incr', 'k')}",
    );
    assert_eq!(text(&r, 2), "*2\r\n$2\r\nOK\r\n:2\r\n");
    assert_eq!(h.data.get(&b"k"[..]).unwrap(), b"2");
}

#[test]
fn errors_and_pcall() {
    let mut e = ScriptEngine::new();
    let mut h = MemHost::default();
    let sha = sha1_hex(b"return redis.call('nosuch')");
    let r = eval(&mut e, &mut h, "return redis.call('nosuch')");
    assert_eq!(
        text(&r, 2),
        format!(
            "-ERR Unknown Redis command called from script script: {sha}, on @user_script:1.\r\n"
        )
    );
    let r = eval(&mut e, &mut h, "return redis.pcall('get')");
    assert_eq!(
        text(&r, 2),
        "-ERR Wrong number of args calling Redis command from script\r\n"
    );
    let r = eval(&mut e, &mut h, "return redis.pcall('eval')");
    assert_eq!(
        text(&r, 2),
        "-ERR This Redis command is not allowed from script\r\n"
    );
    let r = eval(&mut e, &mut h, "return redis.pcall('oom')");
    assert_eq!(text(&r, 2), "-OOM command not allowed\r\n");
    let r = eval(
        &mut e,
        &mut h,
        "local ok, err = pcall(redis.call, 'nosuch') return err",
    );
    assert_eq!(
        text(&r, 2),
        "$44\r\nERR Unknown Redis command called from script\r\n"
    );
    let r = eval(
        &mut e,
        &mut h,
        "redis.call('set','k','x') local e = redis.pcall('incr','k') return e.err",
    );
    assert_eq!(
        text(&r, 2),
        "$43\r\nERR value is not an integer or out of range\r\n"
    );
    let r = eval(&mut e, &mut h, "\n\nerror('boom')");
    let sha = sha1_hex(b"\n\nerror('boom')");
    assert_eq!(
        text(&r, 2),
        format!("-ERR user_script:3: boom script: {sha}, on @user_script:3.\r\n")
    );
    let r = eval(&mut e, &mut h, "return 1 +");
    assert_eq!(
        text(&r, 2),
        "-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n"
    );
    let r = eval(&mut e, &mut h, "return {err='custom'}");
    assert_eq!(text(&r, 2), "-custom\r\n");
}

#[test]
fn sandbox() {
    let mut e = ScriptEngine::new();
    let mut h = MemHost::default();
    for (script, needle) in [
        ("x = 1", "Attempt to modify a readonly table"),
        (
            "return undefined_name",
            "Script attempted to access nonexistent global variable 'undefined_name'",
        ),
        ("redis.call = nil", "Attempt to modify a readonly table"),
        ("string.x = 1", "Attempt to modify a readonly table"),
        ("rawset(_G, 'a', 1)", "Attempt to modify a readonly table"),
        ("return os.time()", "nonexistent global variable 'os'"),
        (
            "return loadstring('return os')()",
            "nonexistent global variable 'os'",
        ),
        ("return getmetatable('').__index.upper == nil", ""),
    ] {
        let r = text(&eval(&mut e, &mut h, script), 2);
        assert!(r.contains(needle), "{script}: {r}");
    }
    let r = text(
        &eval(
            &mut e,
            &mut h,
            "getmetatable('').__index = nil return ('a'):upper()",
        ),
        2,
    );
    assert!(r.contains("Attempt to modify a readonly table"), "{r}");
    let r = text(&eval(&mut e, &mut h, "return ('a'):upper()"), 2);
    assert_eq!(r, "$1\r\nA\r\n");
    let r = text(
        &eval(
            &mut e,
            &mut h,
            "return loadstring(string.dump(function() return 1 end))",
        ),
        2,
    );
    assert_eq!(r, "$-1\r\n");
}

#[test]
fn math_random_follows_redis_lrand48() {
    let mut e = ScriptEngine::new();
    let mut h = MemHost::default();
    let r = eval(
        &mut e,
        &mut h,
        "math.randomseed(42) return tostring(math.random())",
    );
    assert_eq!(text(&r, 2), "$16\r\n0.74452500033403\r\n");
    e.seed_random(0);
    let r = eval(
        &mut e,
        &mut h,
        "return {tostring(math.random()), math.random(100), math.random(1, 10)}",
    );
    assert_eq!(
        text(&r, 2),
        "*3\r\n$16\r\n0.17082803611217\r\n:75\r\n:1\r\n"
    );
}

#[test]
fn shebang_flags() {
    assert_eq!(
        parse_shebang(b"return 1"),
        Ok((ScriptFlags::EVAL_COMPAT, 0))
    );
    let (f, off) = parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
    assert!(f.contains(ScriptFlags::NO_WRITES) && f.contains(ScriptFlags::ALLOW_OOM));
    assert_eq!(off, 31);
    assert_eq!(
        parse_shebang(b"#!lua flags=x\n").unwrap_err(),
        "Unexpected flag in script shebang: x"
    );
    assert_eq!(
        parse_shebang(b"#!lua a\n").unwrap_err(),
        "Unknown lua shebang option: a"
    );
    assert_eq!(
        parse_shebang(b"#!js\n").unwrap_err(),
        "Unexpected engine in script shebang: #!js"
    );
    assert_eq!(
        parse_shebang(b"#!lua").unwrap_err(),
        "Invalid script shebang"
    );

    let mut e = ScriptEngine::new();
    let mut h = MemHost::default();
    eval(
        &mut e,
        &mut h,
        "#!lua flags=no-writes\nreturn redis.pcall('get', 'k')",
    );
    eval(&mut e, &mut h, "return redis.pcall('get', 'k')");
    assert_eq!(h.seen_read_only, vec![true, false]);
    let r = e.eval(&mut h, b"#!lua\nreturn 1", &[], &[], true);
    assert_eq!(
        text(&r, 2),
        "-ERR Can not execute a script with write flag using *_ro command.\r\n"
    );
    let r = e.eval(
        &mut h,
        b"return redis.pcall('set', 'a', 'b')",
        &[],
        &[],
        true,
    );
    assert_eq!(
        text(&r, 2),
        "-ERR Write commands are not allowed from read-only scripts.\r\n"
    );
    h.refuse_run = Some(RespValue::err(
        "READONLY You can't write against a read only replica.",
    ));
    let r = eval(&mut e, &mut h, "return 1");
    assert_eq!(
        text(&r, 2),
        "-READONLY You can't write against a read only replica.\r\n"
    );
}

#[test]
fn script_cache() {
    let mut e = ScriptEngine::new();
    let mut h = MemHost::default();
    let sha = e.script_load(b"return ARGV[1]").unwrap();
    assert_eq!(sha, sha1_hex(b"return ARGV[1]"));
    assert_eq!(
        e.script_exists(&[sha.as_bytes(), b"nope"]),
        vec![true, false]
    );
    let r = e.evalsha(&mut h, sha.to_uppercase().as_bytes(), &[], &[b"v"], false);
    assert_eq!(text(&r, 2), "$1\r\nv\r\n");
    e.script_flush();
    let r = e.evalsha(&mut h, sha.as_bytes(), &[], &[], false);
    assert_eq!(
        text(&r, 2),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    assert!(e.script_load(b"#!lua flags=bad\nreturn 1").is_err());
    assert_eq!(
        cmd(
            &mut e,
            &mut h,
            &["EVAL", "return {KEYS[1], ARGV[1]}", "1", "k", "a"]
        ),
        "*2\r\n$1\r\nk\r\n$1\r\na\r\n"
    );
}

#[test]
fn redis_log_reaches_the_host() {
    let mut e = ScriptEngine::new();
    let mut h = MemHost::default();
    eval(&mut e, &mut h, "redis.log(redis.LOG_WARNING, 'a', 1, 'b')");
    assert_eq!(h.logs, vec![(3, b"a 1 b".to_vec())]);
}

const LIB: &str = "#!lua name=mylib\n\
redis.register_function('echo', function(keys, args) return {keys, args} end)\n\
redis.register_function{function_name='ro', callback=function() return redis.call('set', 'a', 'b') end, flags={'no-writes', 'allow-oom'}, description='d'}";

#[test]
fn libraries() {
    let mut e = ScriptEngine::new();
    let mut h = MemHost::default();
    assert_eq!(
        cmd(&mut e, &mut h, &["FUNCTION", "LOAD", LIB]),
        "$5\r\nmylib\r\n"
    );
    assert_eq!(
        cmd(&mut e, &mut h, &["FUNCTION", "LOAD", LIB]),
        "-ERR Library 'mylib' already exists\r\n"
    );
    assert_eq!(
        cmd(&mut e, &mut h, &["FUNCTION", "LOAD", "REPLACE", LIB]),
        "$5\r\nmylib\r\n"
    );
    assert_eq!(
        cmd(&mut e, &mut h, &["FCALL", "echo", "1", "k", "a"]),
        "*2\r\n*1\r\n$1\r\nk\r\n*1\r\n$1\r\na\r\n"
    );
    assert_eq!(
        cmd(&mut e, &mut h, &["FCALL", "ro", "0"]),
        "-ERR Write commands are not allowed from read-only scripts. script: ro, on @user_function:3.\r\n"
    );
    assert_eq!(
        cmd(&mut e, &mut h, &["FCALL_RO", "echo", "0"]),
        "-ERR Can not execute a script with write flag using *_ro command.\r\n"
    );
    assert_eq!(
        cmd(&mut e, &mut h, &["FCALL", "nope", "0"]),
        "-ERR Function not found\r\n"
    );
    assert_eq!(
        cmd(
            &mut e,
            &mut h,
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=other\nredis.register_function('echo', function() end)"
            ]
        ),
        "-ERR Function echo already exists\r\n"
    );
    let list = e.function_list(None, false);
    assert_eq!(
        text(&list, 3),
        "*1\r\n%3\r\n$12\r\nlibrary_name\r\n$5\r\nmylib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*2\r\n\
         %3\r\n$4\r\nname\r\n$4\r\necho\r\n$11\r\ndescription\r\n_\r\n$5\r\nflags\r\n~0\r\n\
         %3\r\n$4\r\nname\r\n$2\r\nro\r\n$11\r\ndescription\r\n$1\r\nd\r\n$5\r\nflags\r\n~2\r\n+no-writes\r\n+allow-oom\r\n"
    );
    assert_eq!(text(&e.function_list(Some(b"x*"), false), 2), "*0\r\n");
    assert!(text(&e.function_list(Some(b"my*"), true), 2).contains("library_code"));
    assert_eq!(
        text(&e.function_stats(), 2),
        "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:2\r\n"
    );

    // DUMP / RESTORE round trip and policies.
    let dump = e.function_dump();
    assert_eq!(dump[0], 245);
    assert_eq!(&dump[dump.len() - 10..dump.len() - 8], &[10, 0]);
    let mut other = ScriptEngine::new();
    assert_eq!(
        other.function_restore(&mut h, &dump, RestorePolicy::Append),
        RespValue::ok()
    );
    assert_eq!(
        text(&other.function_list(None, true), 2),
        text(&e.function_list(None, true), 2)
    );
    assert_eq!(
        text(
            &other.function_restore(&mut h, &dump, RestorePolicy::Append),
            2
        ),
        "-ERR Library mylib already exists\r\n"
    );
    assert_eq!(
        other.function_restore(&mut h, &dump, RestorePolicy::Replace),
        RespValue::ok()
    );
    assert_eq!(
        other.function_restore(&mut h, &dump, RestorePolicy::Flush),
        RespValue::ok()
    );
    let mut bad = dump.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(
        text(
            &other.function_restore(&mut h, &bad, RestorePolicy::Append),
            2
        ),
        "-ERR DUMP payload version or checksum are wrong\r\n"
    );
    assert_eq!(
        other.library_codes(),
        vec![(b"mylib".to_vec(), LIB.as_bytes().to_vec())]
    );

    assert_eq!(
        cmd(&mut e, &mut h, &["FUNCTION", "DELETE", "mylib"]),
        "+OK\r\n"
    );
    assert_eq!(
        cmd(&mut e, &mut h, &["FUNCTION", "DELETE", "mylib"]),
        "-ERR Library not found\r\n"
    );
    assert_eq!(e.function_counts(), (0, 0));
    other.function_flush();
    assert_eq!(other.function_counts(), (0, 0));
}

#[test]
fn library_load_errors() {
    let mut e = ScriptEngine::new();
    let mut h = MemHost::default();
    for (code, want) in [
        ("return 1", "-ERR Missing library metadata\r\n"),
        ("#!lua name=x\nreturn 1", "-ERR No functions registered\r\n"),
        ("#!lua name=x\nredis.call('get', 'a')", "-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'\r\n"),
        ("#!lua name=x\nredis.register_function('a-b', function() end)", "-ERR Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long\r\n"),
        ("#!lua name=x\nreturn +", "-ERR Error compiling function: user_function:2: unexpected symbol near '+'\r\n"),
        ("#!lua name=x\nwhile true do end", "-ERR Error registering functions: ERR FUNCTION LOAD timeout\r\n"),
    ] {
        assert_eq!(cmd(&mut e, &mut h, &["FUNCTION", "LOAD", code]), want, "{code}");
    }
    assert_eq!(e.function_counts(), (0, 0));
}

#[test]
fn kill_flag_stops_a_running_script() {
    let mut e = ScriptEngine::new();
    let control = e.control();
    assert_eq!(
        text(&control.kill(false), 2),
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
    let killer = {
        let control = control.clone();
        std::thread::spawn(move || {
            while !control.is_running() {
                std::thread::sleep(Duration::from_millis(5));
            }
            let busy = control.kill(true);
            let running = control.running().unwrap();
            (busy, running.is_function, control.kill(false))
        })
    };
    let mut h = MemHost::default();
    let r = eval(&mut e, &mut h, "local i = 0 while true do i = i + 1 end");
    let (busy, is_function, ok) = killer.join().unwrap();
    assert_eq!(
        text(&busy, 2),
        "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert!(!is_function);
    assert_eq!(ok, RespValue::ok());
    let sha = sha1_hex(b"local i = 0 while true do i = i + 1 end");
    assert_eq!(
        text(&r, 2),
        format!(
            "-ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:1.\r\n"
        )
    );
    assert!(!control.is_running());
    assert!(!control.kill.load(Ordering::Relaxed));

    // A script that has written cannot be killed.
    let watcher = {
        let control = control.clone();
        std::thread::spawn(move || {
            while !control.has_written() {
                std::thread::sleep(Duration::from_millis(5));
            }
            let r = control.kill(false);
            control.kill.store(true, Ordering::Relaxed);
            r
        })
    };
    let r = eval(
        &mut e,
        &mut h,
        "redis.call('set', 'a', 'b') while true do end",
    );
    assert!(text(&watcher.join().unwrap(), 2)
        .starts_with("-UNKILLABLE Sorry the script already executed write commands"));
    assert!(text(&r, 2).starts_with("-ERR Script killed by user with SCRIPT KILL..."));
}

#[test]
fn deep_structures_fit_a_small_stack() {
    let t = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(|| {
            let mut e = ScriptEngine::new();
            let mut h = MemHost::default();
            let r = eval(
                &mut e,
                &mut h,
                "local t = {} t[1] = t return cjson.encode(t)",
            );
            assert!(text(&r, 2).contains("Cannot serialise, excessive nesting (1001)"));
            let r = eval(
                &mut e,
                &mut h,
                "return cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))",
            );
            assert!(text(&r, 2).contains("Found too many nested data structures (1001)"));
            let r = eval(&mut e, &mut h, "local t = {} t[1] = t return t");
            assert!(text(&r, 2).contains("reached lua stack limit"));
        })
        .unwrap();
    t.join().unwrap();
}

#[test]
fn engine_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<ScriptEngine>();
    assert_send::<std::sync::Arc<ScriptControl>>();
    fn assert_sync<T: Sync>() {}
    assert_sync::<ScriptControl>();
}
