//! Runs scripts through the scripting engine (with an in-memory host that
//! implements GET/SET/INCR/DEL/PING like Redis) and through a real
//! redis-server 7.0 on an empty database, and compares the replies byte for
//! byte in RESP2 and RESP3. Skips when redis-server is not installed, unless
//! the `CI` environment variable is set (then it fails).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shardcache::script::{CallContext, CallResult, Host, Refusal, RespValue, ScriptEngine};

/// GET, SET, INCR, DEL and PING over a map, with Redis's replies.
#[derive(Default)]
struct MemHost {
    data: HashMap<Vec<u8>, Vec<u8>>,
}

impl Host for MemHost {
    fn call(&mut self, args: &[&[u8]], ctx: &CallContext) -> CallResult {
        let name = String::from_utf8_lossy(args[0]).to_ascii_lowercase();
        let (arity, write, noscript): (i32, bool, bool) = match name.as_str() {
            "get" => (2, false, false),
            "set" => (-3, true, false),
            "incr" => (2, true, false),
            "del" => (-2, true, false),
            "ping" => (-1, false, false),
            "eval" | "evalsha" | "fcall" | "subscribe" => (-2, false, true),
            "multi" | "exec" => (1, false, true),
            _ => return CallResult::Refused(Refusal::UnknownCommand),
        };
        let n = args.len() as i32;
        if (arity > 0 && n != arity) || (arity < 0 && n < -arity) {
            return CallResult::Refused(Refusal::WrongArity);
        }
        if noscript {
            return CallResult::Refused(Refusal::NotAllowed);
        }
        if write && ctx.read_only {
            return CallResult::Refused(Refusal::WriteInReadOnly);
        }
        match name.as_str() {
            "get" => CallResult::Reply(match self.data.get(args[1]) {
                Some(v) => RespValue::Bulk(v.clone()),
                None => RespValue::Nil,
            }),
            "set" => {
                if args.len() != 3 {
                    return CallResult::Reply(RespValue::err("ERR syntax error"));
                }
                self.data.insert(args[1].to_vec(), args[2].to_vec());
                CallResult::Write(RespValue::ok())
            }
            "incr" => {
                let cur = match self.data.get(args[1]) {
                    None => 0,
                    Some(v) => match std::str::from_utf8(v)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok())
                    {
                        Some(n) => n,
                        None => {
                            return CallResult::Reply(RespValue::err(
                                "ERR value is not an integer or out of range",
                            ))
                        }
                    },
                };
                let Some(next) = cur.checked_add(1) else {
                    return CallResult::Reply(RespValue::err(
                        "ERR increment or decrement would overflow",
                    ));
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
            _ => CallResult::Reply(if args.len() > 1 {
                RespValue::Bulk(args[1].to_vec())
            } else {
                RespValue::status("PONG")
            }),
        }
    }
}

struct Redis {
    child: Child,
    port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_redis() -> Option<Redis> {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("redis-server is required when CI is set");
        }
        eprintln!("redis-server not found: skipping");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting redis-server");
    let r = Redis { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(r)
}

struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(port: u16, resp: u8) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut c = Conn { s, buf: Vec::new() };
        if resp == 3 {
            c.cmd(&[b"HELLO", b"3"]);
        }
        c
    }

    fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.s.write_all(&out).unwrap();
        loop {
            if let Some(n) = reply_len(&self.buf) {
                return self.buf.drain(..n).collect();
            }
            let mut chunk = [0u8; 65536];
            let n = match self.s.read(&mut chunk) {
                Ok(n) if n > 0 => n,
                other => panic!(
                    "redis-server went away ({other:?}) after {}",
                    show(&args.concat())
                ),
            };
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Length of the first complete reply in `b`.
fn reply_len(b: &[u8]) -> Option<usize> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&b[1..line_end]).ok()?;
    let after = line_end + 2;
    match b[0] {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = line.parse().ok()?;
            let items = if b[0] == b'%' || b[0] == b'|' {
                n * 2
            } else {
                n
            };
            let mut pos = after;
            for _ in 0..items.max(0) {
                pos += reply_len(&b[pos..])?;
            }
            if b[0] == b'|' {
                pos += reply_len(&b[pos..])?;
            }
            Some(pos)
        }
        _ => None,
    }
}

/// One step of a case: a whole command run on both sides.
type Step<'a> = Vec<&'a [u8]>;

fn eval(script: &str) -> Vec<Step<'_>> {
    vec![vec![b"EVAL", script.as_bytes(), b"0"]]
}

fn eval_k<'a>(script: &'a str, keys: &[&'a str], args: &[&'a str]) -> Vec<Step<'a>> {
    let mut v: Step = vec![b"EVAL", script.as_bytes()];
    let n: &'static str = Box::leak(keys.len().to_string().into_boxed_str());
    v.push(n.as_bytes());
    v.extend(keys.iter().map(|k| k.as_bytes()));
    v.extend(args.iter().map(|k| k.as_bytes()));
    vec![v]
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace("\r\n", "\\r\\n")
}

fn run_cases(cases: &[Vec<Step<'_>>]) {
    let Some(redis) = start_redis() else { return };
    let mut failures = Vec::new();
    for resp in [2u8, 3] {
        let mut conn = Conn::new(redis.port, resp);
        for case in cases {
            conn.cmd(&[b"FLUSHALL"]);
            conn.cmd(&[b"SCRIPT", b"FLUSH"]);
            conn.cmd(&[b"FUNCTION", b"FLUSH"]);
            let mut engine = ScriptEngine::new();
            let mut host = MemHost::default();
            for step in case {
                let want = conn.cmd(step);
                let got = engine.command(&mut host, step);
                let mut got_bytes = Vec::new();
                got.encode(resp, &mut got_bytes);
                if got_bytes != want {
                    failures.push(format!(
                        "RESP{resp} {}\n   redis: {}\n   ours:  {}",
                        step.iter().map(|a| show(a)).collect::<Vec<_>>().join(" "),
                        show(&want),
                        show(&got_bytes)
                    ));
                }
            }
        }
    }
    if !failures.is_empty() {
        panic!("{} mismatches:\n{}", failures.len(), failures.join("\n"));
    }
}

#[test]
fn conversions_and_errors_match_redis() {
    let scripts = [
        "return 1",
        "return true",
        "return false",
        "return nil",
        "return {1,2,nil,4}",
        "return {1,'a',{2,3},{}}",
        "return {ok='fine'}",
        "return {err='bad thing'}",
        "return {err='MYCODE bad thing'}",
        "return {double=3.14}",
        "return {double='3.14'}",
        "return {double=1/0}",
        "return {double=-1/0}",
        "return {double=0/0}",
        "return {double=10}",
        "return {double=1e300}",
        "return {double=0.1}",
        "return {big_number='123456789012345678901234567890'}",
        "return {map={a=1}}",
        "return {set={a=true}}",
        "return {map={a=1,b={1,2}}}",
        "return {verbatim_string={format='txt',string='hello'}}",
        "return {1.5, 2.9, -2.9}",
        "return redis.error_reply('x y')",
        "return redis.error_reply('-x y')",
        "return redis.error_reply('My Error')",
        "return redis.error_reply('')",
        "return redis.status_reply('OK')",
        "return {ok=5}",
        "return {err=5}",
        "return {ok={1}}",
        "return 'a\\0b'",
        "return {true,false,true}",
        "return {1,2,false,4}",
        "return {'a', 'b', c='d'}",
        "return {c='d'}",
        "return 12345678901234567890",
        "return -0.5",
        "return 2^63",
        "return -2^63",
        "return 1e20",
        "return 0/0",
        "return 1/0",
        "return {err=''}",
        "return {ok=''}",
        "return redis.status_reply('a\\r\\nb')",
        "return {err='a\\r\\nb'}",
        "redis.setresp(3); return true",
        "redis.setresp(3); return false",
        "redis.setresp(3); return nil",
        "redis.setresp(3); return redis.call('get','nokey')",
        "redis.setresp(3); return {redis.call('get','nokey')}",
        "return redis.call('ping')",
        "return redis.call('ping', 'hello')",
        "return redis.call('set','k','v')",
        "return redis.call('get','nokey')",
        "return {redis.call('get','nokey')}",
        "return type(redis.call('get','nokey'))",
        "redis.setresp(3); return type(redis.call('get','nokey'))",
        "return redis.call('set','k','v').ok",
        "return redis.pcall('nosuch')",
        "return redis.call('nosuch')",
        "return redis.call('get')",
        "return redis.pcall('get')",
        "return redis.call('get','a','b')",
        "return redis.call()",
        "return redis.pcall()",
        "return redis.call(1)",
        "return redis.call('get', {})",
        "return redis.call('get', nil)",
        "return redis.call('get', true)",
        "return redis.call('get', 1.5)",
        "redis.call('set', 'x', 3.99999999999999999); return redis.call('get','x')",
        "redis.call('set', 'x', 0.1); return redis.call('get','x')",
        "redis.call('set', 'x', 1e20); return redis.call('get','x')",
        "redis.call('set', 'x', 123456789012); return redis.call('get','x')",
        "redis.call('set', 'x', -7); return redis.call('get','x')",
        "redis.call('set', 'k', 'v'); return redis.call('incr', 'k')",
        "redis.call('set', 'k', 'v'); return redis.pcall('incr', 'k')",
        "return redis.call('incr', 'k')",
        "return redis.call('eval', 'return 1', 0)",
        "return redis.call('multi')",
        "x = 1",
        "return x",
        "error('boom')",
        "error('boom', 0)",
        "error({err='tbl'})",
        "error({err='MY tbl'})",
        "error(nil)",
        "error()",
        "error(42)",
        "error('')",
        "error('x\\ny')",
        "local t = nil; return t.x",
        "return 1 +",
        "return redis.error_reply()",
        "return redis.error_reply(1)",
        "return redis.status_reply()",
        "return redis.sha1hex('')",
        "return redis.sha1hex('abc')",
        "return redis.sha1hex()",
        "return redis.sha1hex(1)",
        "redis.call = nil",
        "string.foo = 1",
        "KEYS[1] = 'x'; return KEYS[1]",
        "local ok, e = pcall(redis.call, 'nosuch'); return {tostring(ok), type(e), e}",
        "redis.call('set', 'k', 'v'); local ok, e = pcall(redis.call, 'incr', 'k'); return e",
        "redis.call('set', 'k', 'v'); local e = redis.pcall('incr', 'k'); return {type(e), e.err}",
        "local e = redis.pcall('nosuch'); return {type(e), e.err}",
        "local ok, e = pcall(redis.call, 'get'); return {type(e), tostring(e)}",
        "local ok, e = pcall(redis.call, 'get', {}); return {type(e), tostring(e)}",
        "local ok, e = pcall(redis.call); return {type(e), tostring(e)}",
        "local e = redis.pcall('get', {}); return {type(e), tostring(e.err)}",
        "local ok, e = pcall(redis.call, 'nosuch'); error(e)",
        "local ok, e = pcall(error, 'x'); return e",
        "local ok, e = pcall(function() local t=nil; return t.x end); return e",
        "local ok, e = pcall(function() return x end); return e",
        "local ok, e = pcall(function() y = 1 end); return e",
        "local ok,e = pcall(error, {err='x'}); return {type(e), tostring(e)}",
        "local ok,e = pcall(error, {foo='x'}); return {type(e), tostring(e.foo)}",
        "local ok,e = xpcall(function() redis.call('nosuch') end, function(e) return type(e) end); return e",
        "local ok,e = xpcall(function() redis.call('nosuch') end, function(e) return e end); return e.err",
        "return {pcall(function() return 1,2,3 end)}",
        "return {pcall(error)}",
        "return pcall()",
        "function f() end",
        "local function f() return x end return f()",
        "return _G.x",
        "return rawget(_G, 'x')",
        "return type(rawget(_G, 'redis'))",
        "rawset(_G, 'x', 1)",
        "setmetatable(_G, nil)",
        "return getmetatable(_G)",
        "return tostring(getmetatable('').__index == string)",
        "return loadstring('return 1')()",
        "return loadstring('x')",
        "return loadstring('return redis.call(\"ping\")')()",
        "return loadstring('return x')()",
        "return redis.REDIS_VERSION",
        "return redis.REDIS_VERSION_NUM",
        "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
        "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}",
        "return redis.log(redis.LOG_WARNING, 'hello', 'world', 1)",
        "return redis.log(redis.LOG_WARNING)",
        "return redis.log(99, 'x')",
        "return redis.log('x', 'x')",
        "return redis.set_repl(redis.REPL_ALL)",
        "return redis.set_repl(99)",
        "return redis.set_repl()",
        "return redis.replicate_commands()",
        "return redis.breakpoint()",
        "return redis.debug('x')",
        "return redis.setresp(4)",
        "return redis.setresp()",
        "return redis.setresp(2)",
        "return redis.acl_check_cmd('get','x')",
        "return redis.acl_check_cmd()",
        "return redis.foo",
        "return string.foo",
        "return _VERSION",
        "return type(gcinfo())",
        "return coroutine.running()",
        "math.randomseed(42); return tostring(math.random())",
        "math.randomseed(7); return {math.random(100), math.random(5, 10), math.random(1)}",
        "return math.random(0)",
        "return string.format('%d', 3.7)",
        "return tostring(1e15)",
        "return tostring(0.1)",
        "return 'x' .. 1e100",
        "return string.rep('ab', 3)",
        "return ('abc'):upper()",
        "return string.rep()",
        "return #KEYS",
        "return table.concat({1,2,3}, ',')",
        "local t = {} for k,v in pairs(redis) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k,v in pairs(_G) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k,v in pairs(string) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k,v in pairs(math) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k,v in pairs(table) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k,v in pairs(cjson) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k,v in pairs(cmsgpack) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k,v in pairs(struct) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k,v in pairs(bit) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k,v in pairs(coroutine) do table.insert(t, k) end table.sort(t) return t",
        "return next(redis) ~= nil",
        "return pairs(nil)",
        "return os",
        "return io",
        "return debug",
        "return print",
        "return dofile",
        "return require",
        "redis.call('set', 'k', 'v')\nlocal x = 1\nredis.call('incr', 'k')",
        "redis.call('set', 'k', 'v')\nlocal function f()\n  return redis.call('incr', 'k')\nend\nreturn f()",
        "local function f()\n  error('inner')\nend\nreturn f()",
        "\nlocal t = {}\nt.x.y = 1",
        "#!lua\nreturn 1",
        "#!lua flags=no-writes\nreturn redis.call('set','k','v')",
        "#!lua flags=no-writes\nreturn redis.pcall('set','k','v')",
        "#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1",
        "#!lua flags=\nreturn 1",
        "#!lua flags=bad\nreturn 1",
        "#!lua flags=no-writes,bad\nreturn 1",
        "#!lua name=x\nreturn 1",
        "#!lua x\nreturn 1",
        "#!lu\nreturn 1",
        "#!python\nreturn 1",
        "#!\nreturn 1",
        "#!lua",
        "#!lua  flags=no-writes   \nreturn 1",
        "#!lua flags=no-writes\nerror('x')",
        "#!lua\nreturn x",
        "#!lua\nredis.call('nosuch')",
        "#!lua\nreturn KEYS",
        "# comment\nreturn 1",
        "return {1, {2, {3, {4}}}, 'x'}",
        "local t = {} t[1] = 'a' t[2] = 'b' t[4] = 'd' return t",
        "return {map={}}",
        "return {set={}}",
        "return {map={[1]='a'}}",
        "return {set={1, 2}}",
        "return {err={}}",
        "return {ok='a', err='b'}",
        "return {double=2.5, ok='x'}",
        "return {map={x=true, y=false}}",
        "redis.setresp(3) return {map={x=true, y=false}}",
    ];
    let mut cases: Vec<Vec<Step>> = scripts.iter().map(|s| eval(s)).collect();
    cases.push(eval_k("return {KEYS, ARGV}", &["a", "b"], &["c"]));
    cases.push(eval_k(
        "return redis.call('set', KEYS[1], ARGV[1])",
        &["k"],
        &["v"],
    ));
    cases.push(eval_k(
        "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])",
        &["k"],
        &["v"],
    ));
    cases.push(eval_k("return redis.call('incr', KEYS[1])", &["n"], &[]));
    cases.push(eval_k(
        "redis.call('set', KEYS[1], '5') return redis.call('incr', KEYS[1])",
        &["n"],
        &[],
    ));
    cases.push(eval_k(
        "return redis.call('del', KEYS[1], KEYS[2])",
        &["n", "m"],
        &[],
    ));
    run_cases(&cases);
}

#[test]
fn libraries_match_redis() {
    let scripts = [
        // bit
        "return {bit.tobit(1), bit.tobit(2^32 + 5), bit.tobit(-1), bit.tobit(0xffffffff), bit.tobit(1.5), bit.tobit(2.5)}",
        "return {bit.bnot(0), bit.band(0xff, 0x0f, 0x3), bit.bor(1, 2, 4), bit.bxor(0xf0, 0xff)}",
        "return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.lshift(1, 33)}",
        "return {bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.bswap(0x12345678)}",
        "return {bit.tohex(255), bit.tohex(255, 2), bit.tohex(-1, -4), bit.tohex(0x1234abcd, -8)}",
        "return bit.band()",
        "return bit.tobit('x')",
        "return bit.tobit('12')",
        // struct
        "return struct.pack('>I2', 258)",
        "return struct.pack('<i4', -2)",
        "return struct.pack('bBhH', -1, 255, -2, 65535)",
        "return struct.pack('>d', 1.5)",
        "return struct.pack('<f', 0.5)",
        "return struct.pack('s', 'abc')",
        "return struct.pack('c3', 'abcdef')",
        "return struct.pack('c0', 'abcdef')",
        "return struct.pack('!4 b i', 1, 2)",
        "return struct.pack('x b', 7)",
        "return {struct.unpack('>I2', struct.pack('>I2', 258))}",
        "return {struct.unpack('<i4 h', struct.pack('<i4 h', -5, -7))}",
        r"return {struct.unpack('s c2', 'abc\0xyz')}",
        "return {struct.unpack('b', 'abc', 2)}",
        r"return {struct.unpack('B c0', '\3abcd')}",
        "return {struct.size('>I2 i d b'), struct.size('!8 b d')}",
        "return struct.unpack('>I4', 'ab')",
        "return struct.pack('q', 1)",
        "return struct.size('s')",
        "return tostring(struct.unpack('>d', struct.pack('>d', 0.1)))",
        // cmsgpack
        "return cmsgpack.pack(1, -1, 127, 128, 255, 256, 65535, 65536, -32, -33, -128, -129, -32768, -32769)",
        "return cmsgpack.pack(4294967295, 4294967296, -2147483648, -2147483649, 2^53)",
        "return cmsgpack.pack(0.5, 0.1, 1/0, 1e300)",
        "return cmsgpack.pack('abc', string.rep('x', 40), string.rep('y', 300))",
        "return cmsgpack.pack(true, false, nil)",
        "return cmsgpack.pack({1, 2, 3}, {}, {a = 1}, {1, nil, 3})",
        "return cmsgpack.pack({1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17})",
        "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1, 2}, {x = 'y'}))}",
        "local t = cmsgpack.unpack(cmsgpack.pack({a = {b = {c = 'd'}}})) return t.a.b.c",
        "return {cmsgpack.unpack(cmsgpack.pack(-1.5, 2^40, true))}",
        r"return cmsgpack.unpack('\205')",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 5)}",
        "return cmsgpack.pack()",
        "local t = {} t[1] = t return cmsgpack.pack(t)",
        // cjson
        "return {cjson.encode({1,2,{a=1}}), cjson.encode({}), cjson.encode(1.5), cjson.encode(0.1), cjson.encode(1e20)}",
        r#"return {cjson.encode('a"/\n\1'), cjson.encode({[1]=1,[3]=3}), cjson.encode(cjson.null), cjson.encode(true)}"#,
        "return cjson.encode({[1]=1, [20]=2})",
        "return cjson.encode({a={b={c={1,2,'x'}}}})",
        "return cjson.encode({[1.5]=1})",
        "return cjson.encode({[true]=1})",
        "return cjson.encode(function() end)",
        "return cjson.encode(1/0)",
        "return cjson.encode(123456789012345)",
        "return cjson.encode(-0.000001)",
        "return cjson.encode()",
        "local t = {} t[1] = t return cjson.encode(t)",
        "local t = cjson.decode('{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}') return {t.a[1], t.a[2], t.c, tostring(t.a[3].b == cjson.null)}",
        "return cjson.decode('[1,2,3,\"x\"]')",
        r#"return cjson.decode('"\\u00e9\\ud83d\\ude00\\n"')"#,
        "return tostring(cjson.decode('1.5e3'))",
        "return cjson.decode('true')",
        "return cjson.decode('x')",
        "return cjson.decode('')",
        "return cjson.decode('[1,2')",
        "return cjson.decode('[1 2]')",
        "return cjson.decode('{1:2}')",
        "return cjson.decode('{\"a\" 2}')",
        "return cjson.decode('{\"a\":2,}')",
        "return cjson.decode('[1] x')",
        "return cjson.decode('\"abc')",
        r#"return cjson.decode('"\\q"')"#,
        "return cjson.decode('-')",
        "return cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))",
        "return {cjson.encode_keep_buffer(), cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision()}",
        "return {cjson.encode_sparse_array()}",
        "return {cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers()}",
        "return type(cjson.new)",
        "return cjson.null",
        "return type(cjson.null)",
    ];
    let cases: Vec<Vec<Step>> = scripts.iter().map(|s| eval(s)).collect();
    run_cases(&cases);
}

#[test]
fn commands_match_redis() {
    let e = |s: &'static str| -> &'static [u8] { s.as_bytes() };
    let lib1 = "#!lua name=mylib\nredis.register_function('f1', function(keys, args) return {keys, args} end)";
    let lib2 = "#!lua name=mylib\nredis.register_function{function_name='f2', callback=function(keys, args) return redis.call('ping') end, flags={'no-writes'}, description='desc of f2'}";
    let cases: Vec<Vec<Step>> = vec![
        vec![vec![
            e("EVAL"),
            e("return {KEYS,ARGV}"),
            e("2"),
            e("a"),
            e("b"),
            e("c"),
        ]],
        vec![vec![e("EVAL"), e("return 1"), e("3"), e("a")]],
        vec![vec![e("EVAL"), e("return 1"), e("-1")]],
        vec![vec![e("EVAL"), e("return 1"), e("x")]],
        vec![vec![e("EVAL"), e("return 1")]],
        vec![
            vec![e("SCRIPT"), e("LOAD"), e("return 1")],
            vec![
                e("SCRIPT"),
                e("EXISTS"),
                e("e0e1f9fabfc9d4800c877a703b823ac0578ff8db"),
                e("x"),
            ],
            vec![
                e("EVALSHA"),
                e("e0e1f9fabfc9d4800c877a703b823ac0578ff8db"),
                e("0"),
            ],
            vec![
                e("EVALSHA"),
                e("E0E1F9FABFC9D4800C877A703B823AC0578FF8DB"),
                e("0"),
            ],
            vec![e("EVALSHA"), e("x"), e("0")],
            vec![
                e("EVALSHA_RO"),
                e("e0e1f9fabfc9d4800c877a703b823ac0578ff8db"),
                e("0"),
            ],
            vec![e("SCRIPT"), e("FLUSH")],
            vec![
                e("EVALSHA"),
                e("e0e1f9fabfc9d4800c877a703b823ac0578ff8db"),
                e("0"),
            ],
        ],
        vec![vec![e("SCRIPT"), e("LOAD"), e("return +")]],
        vec![vec![e("SCRIPT"), e("LOAD"), e("#!lua flags=bad\nreturn 1")]],
        vec![vec![e("SCRIPT"), e("FLUSH"), e("bad")]],
        vec![vec![e("SCRIPT"), e("EXISTS")]],
        vec![vec![e("SCRIPT"), e("KILL")]],
        vec![vec![e("SCRIPT"), e("NOSUCH")]],
        vec![
            vec![e("EVAL"), e("return 7"), e("0")],
            vec![e("SCRIPT"), e("EXISTS"), e("0x")],
        ],
        vec![vec![
            e("EVAL_RO"),
            e("return redis.call('set','k','v')"),
            e("0"),
        ]],
        vec![vec![
            e("EVAL_RO"),
            e("return redis.pcall('set','k','v')"),
            e("0"),
        ]],
        vec![vec![
            e("EVAL_RO"),
            e("#!lua flags=no-writes\nreturn 1"),
            e("0"),
        ]],
        vec![vec![e("EVAL_RO"), e("#!lua\nreturn 1"), e("0")]],
        vec![vec![
            e("EVAL_RO"),
            e("return redis.call('get','k')"),
            e("0"),
        ]],
        vec![
            vec![e("FUNCTION"), e("LOAD"), e(lib1)],
            vec![e("FUNCTION"), e("LOAD"), e(lib1)],
            vec![e("FCALL"), e("f1"), e("2"), e("a"), e("b"), e("c"), e("d")],
            vec![e("FCALL_RO"), e("f1"), e("0")],
            vec![e("FCALL"), e("nosuch"), e("0")],
            vec![e("FCALL"), e("f1"), e("3"), e("a")],
            vec![e("FCALL"), e("f1"), e("-1"), e("a")],
            vec![e("FCALL"), e("f1"), e("x"), e("a")],
            vec![e("FUNCTION"), e("LIST")],
            vec![e("FUNCTION"), e("LIST"), e("WITHCODE")],
            vec![e("FUNCTION"), e("LIST"), e("LIBRARYNAME"), e("my")],
            vec![e("FUNCTION"), e("LIST"), e("LIBRARYNAME"), e("my*")],
            vec![e("FUNCTION"), e("LIST"), e("LIBRARYNAME")],
            vec![e("FUNCTION"), e("LIST"), e("WITHCODE"), e("WITHCODE")],
            vec![e("FUNCTION"), e("LIST"), e("bad")],
            vec![e("FUNCTION"), e("STATS")],
            vec![e("FUNCTION"), e("LOAD"), e("REPLACE"), e(lib2)],
            vec![e("FCALL"), e("f1"), e("0")],
            vec![e("FCALL"), e("f2"), e("0")],
            vec![e("FCALL_RO"), e("f2"), e("0")],
            vec![e("FUNCTION"), e("LIST")],
            vec![e("FUNCTION"), e("DELETE"), e("mylib")],
            vec![e("FUNCTION"), e("DELETE"), e("mylib")],
            vec![e("FUNCTION"), e("STATS")],
            vec![e("FUNCTION"), e("FLUSH"), e("bad")],
            vec![e("FUNCTION"), e("FLUSH")],
            vec![e("FUNCTION"), e("KILL")],
            vec![e("FUNCTION"), e("DELETE")],
            vec![e("FUNCTION"), e("NOSUCH")],
            vec![e("FUNCTION"), e("LOAD"), e("BAD"), e(lib1)],
        ],
    ];
    run_cases(&cases);
}

#[test]
fn library_loading_matches_redis() {
    let bodies = [
        "redis.register_function('f', function() end)",
        "return 1",
        "redis.call('ping')",
        "redis.register_function('f3', function() end)\nredis.register_function('f3', function() end)",
        "redis.register_function('f-3', function() end)",
        "redis.register_function('', function() end)",
        "redis.register_function('f3')",
        "redis.register_function('f3', 1)",
        "redis.register_function()",
        "redis.register_function(1, function() end)",
        "redis.register_function{function_name='f3'}",
        "redis.register_function{function_name='f3', callback=function() end, flags={'bad'}}",
        "redis.register_function{function_name='f3', callback=function() end, flags='no-writes'}",
        "redis.register_function{function_name='f3', callback=function() end, description=1}",
        "redis.register_function{function_name='f3', callback=function() end, foo=1}",
        "redis.register_function{'f3', function() end}",
        "redis.register_function{callback=function() end}",
        "redis.register_function{function_name={}, callback=function() end}",
        "redis.register_function{function_name='f3', callback=1}",
        "redis.register_function{function_name='f3', callback=function() end, description={}}",
        "redis.register_function{function_name='f3', callback=function() end, flags={1}}",
        "redis.register_function{function_name='f3', callback=function() end, flags={'no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}}",
        "redis.register_function('f3', function() end, 'x')",
        "return x",
        "x = 1",
        "error('boom')",
        "local t = nil; t.x = 1",
        "return 1 +",
        "redis.register_function('f3', function() end) redis.register_function('f4', 'x')",
        "redis.register_function('f3', function() end) redis.setresp(3)",
        "redis.log(redis.LOG_WARNING, 'loading') redis.register_function('f3', function() end)",
        "local r = redis.REDIS_VERSION .. redis.REDIS_VERSION_NUM redis.register_function(r, function() end)",
        "local ok = string",
        "local ok = pcall",
        "local ok = redis.pcall",
        "local ok = redis.sha1hex",
        "while true do end",
    ];
    let e = |s: &'static str| -> &'static [u8] { s.as_bytes() };
    let mut cases: Vec<Vec<Step>> = Vec::new();
    for b in bodies {
        let code: &'static str = Box::leak(format!("#!lua name=x\n{b}").into_boxed_str());
        cases.push(vec![
            vec![e("FUNCTION"), e("LOAD"), e(code)],
            vec![e("FUNCTION"), e("LIST")],
        ]);
    }
    for head in [
        "#!lua name=a-b",
        "#!lua name=a_b1",
        "#!lua name=",
        "#!lua name=x foo=bar",
        "#!lua name=x name=y",
        "#!lua name=x  ",
        "#!lua nam=x",
        "#!luax name=x",
        "#!js name=x",
        "#!lua  name=x",
        "#!LUA name=x",
        "#!lua",
        "#!lua name=x flags=no-writes",
    ] {
        let code: &'static str = Box::leak(
            format!("{head}\nredis.register_function('f', function() end)").into_boxed_str(),
        );
        cases.push(vec![vec![e("FUNCTION"), e("LOAD"), e(code)]]);
    }
    cases.push(vec![vec![e("FUNCTION"), e("LOAD"), e("#!lua name=x")]]);
    cases.push(vec![vec![e("FUNCTION"), e("LOAD"), e("return 1")]]);
    // Functions at run time.
    let lib: &'static str = "#!lua name=lib1
local function helper() return string.upper('x') end
redis.register_function('t1', function(keys, args) return helper() end)
redis.register_function('t2', function(keys, args) local t = {} for k,v in pairs(redis) do table.insert(t, k) end table.sort(t) return t end)
redis.register_function('t3', function(keys, args) return redis.call('nosuch') end)
redis.register_function('t4', function(keys, args) error('boom') end)
redis.register_function('t5', function(keys, args) return x end)
redis.register_function('t6', function(keys, args) x = 1 end)
redis.register_function('t7', function(keys, args) return KEYS end)
redis.register_function('t8', function(keys, args) return {#keys, #args, keys[1], args[1]} end)
redis.register_function('t9', function(keys, args) local t = {} for k,v in pairs(_G) do table.insert(t, k) end table.sort(t) return t end)
redis.register_function('t10', function(keys, args)
  local ok, e = pcall(redis.call, 'nosuch')
  return e
end)
redis.register_function('t11', function(keys, args) return redis.call('set', keys[1], args[1]) end)
redis.register_function{function_name='t12', callback=function(keys, args) return redis.call('set', 'a', 'b') end, flags={'no-writes'}}
redis.register_function('t14', function(keys, args) return {err='X y'} end)
redis.register_function('t15', function(keys, args) return 1 +
nil end)
";
    let mut steps: Vec<Step> = vec![vec![e("FUNCTION"), e("LOAD"), e(lib)]];
    for f in [
        "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t9", "t10", "t12", "t14", "t15",
    ] {
        steps.push(vec![e("FCALL"), e(f), e("0")]);
    }
    steps.push(vec![e("FCALL"), e("t8"), e("2"), e("k1"), e("k2"), e("a1")]);
    steps.push(vec![e("FCALL"), e("t11"), e("1"), e("kk"), e("vv")]);
    steps.push(vec![e("FCALL_RO"), e("t12"), e("0")]);
    steps.push(vec![e("FCALL_RO"), e("t11"), e("0")]);
    steps.push(vec![
        e("FUNCTION"),
        e("LOAD"),
        e("#!lua name=other\nredis.register_function('t1', function() end)"),
    ]);
    steps.push(vec![e("FUNCTION"), e("STATS")]);
    cases.push(steps);
    run_cases(&cases);
}

/// The payload of a bulk reply.
fn bulk_payload(reply: &[u8]) -> Vec<u8> {
    let nl = reply.windows(2).position(|w| w == b"\r\n").unwrap();
    assert_eq!(reply[0], b'$', "{}", show(reply));
    reply[nl + 2..reply.len() - 2].to_vec()
}

#[test]
fn dump_and_restore_interoperate_with_redis() {
    let Some(redis) = start_redis() else { return };
    let mut conn = Conn::new(redis.port, 2);
    // One function per library: Redis lists them in hash order. The
    // repeated comment makes Redis compress the code in its payload.
    let lib = "#!lua name=mylib\n-- a comment, a comment, a comment, a comment\nredis.register_function{function_name='f2', callback=function(keys, args) return redis.call('ping') end, flags={'no-writes'}, description='desc of f2'}";
    let other = "#!lua name=other\nredis.register_function('f2', function() return 1 end)";
    conn.cmd(&[b"FUNCTION", b"FLUSH"]);
    conn.cmd(&[b"FUNCTION", b"LOAD", lib.as_bytes()]);
    let theirs = bulk_payload(&conn.cmd(&[b"FUNCTION", b"DUMP"]));
    assert_eq!(
        theirs[1] >> 6,
        3,
        "expected an LZF-compressed string in Redis's payload"
    );
    let list = |c: &mut Conn| c.cmd(&[b"FUNCTION", b"LIST", b"WITHCODE"]);
    let their_list = list(&mut conn);

    // Redis's (compressed) payload restores here.
    let mut engine = ScriptEngine::new();
    let mut host = MemHost::default();
    let mut ours =
        |args: &[&[u8]], engine: &mut ScriptEngine| engine.command(&mut host, args).to_resp2();
    assert_eq!(
        ours(&[b"FUNCTION", b"RESTORE", &theirs], &mut engine),
        b"+OK\r\n"
    );
    assert_eq!(
        show(&ours(&[b"FUNCTION", b"LIST", b"WITHCODE"], &mut engine)),
        show(&their_list)
    );

    // Ours restores there.
    let our_dump = engine.function_dump();
    conn.cmd(&[b"FUNCTION", b"FLUSH"]);
    assert_eq!(conn.cmd(&[b"FUNCTION", b"RESTORE", &our_dump]), b"+OK\r\n");
    assert_eq!(show(&list(&mut conn)), show(&their_list));

    // Policies and errors, step by step on both sides.
    let mut bad = theirs.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let steps: Vec<Vec<&[u8]>> = vec![
        vec![b"FUNCTION", b"RESTORE", &theirs],
        vec![b"FUNCTION", b"RESTORE", &theirs, b"APPEND"],
        vec![b"FUNCTION", b"RESTORE", &theirs, b"BAD"],
        vec![b"FUNCTION", b"RESTORE", &bad],
        vec![b"FUNCTION", b"RESTORE", b""],
        vec![b"FUNCTION", b"RESTORE", &theirs, b"REPLACE"],
        vec![b"FUNCTION", b"RESTORE", &theirs, b"FLUSH"],
        vec![b"FUNCTION", b"DELETE", b"mylib"],
        vec![b"FUNCTION", b"LOAD", other.as_bytes()],
        vec![b"FUNCTION", b"RESTORE", &theirs],
        vec![b"FUNCTION", b"RESTORE", &theirs, b"REPLACE"],
        vec![b"FUNCTION", b"RESTORE", &theirs, b"FLUSH"],
        vec![b"FUNCTION", b"LIST"],
        vec![b"FCALL", b"f2", b"0"],
    ];
    let mut failures = Vec::new();
    for step in &steps {
        let want = conn.cmd(step);
        let got = ours(step, &mut engine);
        if got != want {
            failures.push(format!(
                "{}: redis {} ours {}",
                show(step[1]),
                show(&want),
                show(&got)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
