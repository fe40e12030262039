//! Function libraries: metadata, FUNCTION LIST/STATS/DUMP replies, and the
//! whole-command dispatcher with Redis's argument checks.

use std::collections::BTreeMap;

use mlua::Function;

use super::{rdb, Host, RespValue, ScriptEngine, ScriptFlags};

pub(crate) struct FunctionDef {
    pub name: Vec<u8>,
    pub callback: Function,
    pub description: Option<Vec<u8>>,
    pub flags: ScriptFlags,
}

pub(crate) struct Library {
    pub name: Vec<u8>,
    pub code: Vec<u8>,
    pub functions: BTreeMap<Vec<u8>, FunctionDef>,
}

/// FUNCTION RESTORE's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Delete every library first.
    Flush,
    /// Fail on any library or function that exists (the default).
    Append,
    /// Replace libraries of the same name; fail on other collisions.
    Replace,
}

impl RestorePolicy {
    pub fn parse(arg: &[u8]) -> Option<RestorePolicy> {
        match arg.to_ascii_lowercase().as_slice() {
            b"flush" => Some(RestorePolicy::Flush),
            b"append" => Some(RestorePolicy::Append),
            b"replace" => Some(RestorePolicy::Replace),
            _ => None,
        }
    }
}

/// `#!<engine> name=<name>` on the first line: (name, offset of the code),
/// or the error text.
pub(crate) fn parse_library_metadata(code: &[u8]) -> Result<(Vec<u8>, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(nl) = code.iter().position(|&c| c == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let line = &code[..nl];
    let mut parts = line
        .split(|c| c.is_ascii_whitespace())
        .filter(|p| !p.is_empty());
    let engine = &parts.next().unwrap_or(b"#!")[2..];
    let mut name: Option<Vec<u8>> = None;
    for p in parts {
        if let Some(v) = p.strip_prefix(b"name=") {
            if name.is_some() {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(v.to_vec());
        } else {
            return Err(format!(
                "ERR Invalid metadata value given: {}",
                String::from_utf8_lossy(p)
            ));
        }
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!(
            "ERR Engine '{}' not found",
            String::from_utf8_lossy(engine)
        ));
    }
    Ok((name, nl))
}

pub(crate) fn list(
    libs: &BTreeMap<Vec<u8>, Library>,
    pattern: Option<&[u8]>,
    withcode: bool,
) -> RespValue {
    let mut out = Vec::new();
    for lib in libs.values() {
        if let Some(p) = pattern {
            if !glob_match(p, &lib.name) {
                continue;
            }
        }
        let functions = lib
            .functions
            .values()
            .map(|f| {
                RespValue::Map(vec![
                    (RespValue::bulk("name"), RespValue::Bulk(f.name.clone())),
                    (
                        RespValue::bulk("description"),
                        f.description
                            .clone()
                            .map(RespValue::Bulk)
                            .unwrap_or(RespValue::Nil),
                    ),
                    (
                        RespValue::bulk("flags"),
                        RespValue::Set(
                            f.flags.names().into_iter().map(RespValue::status).collect(),
                        ),
                    ),
                ])
            })
            .collect();
        let mut entry = vec![
            (
                RespValue::bulk("library_name"),
                RespValue::Bulk(lib.name.clone()),
            ),
            (RespValue::bulk("engine"), RespValue::bulk("LUA")),
            (RespValue::bulk("functions"), RespValue::Array(functions)),
        ];
        if withcode {
            entry.push((
                RespValue::bulk("library_code"),
                RespValue::Bulk(lib.code.clone()),
            ));
        }
        out.push(RespValue::Map(entry));
    }
    RespValue::Array(out)
}

pub(crate) fn stats(libs: &BTreeMap<Vec<u8>, Library>, running: RespValue) -> RespValue {
    let nfuncs: usize = libs.values().map(|l| l.functions.len()).sum();
    RespValue::Map(vec![
        (RespValue::bulk("running_script"), running),
        (
            RespValue::bulk("engines"),
            RespValue::Map(vec![(
                RespValue::bulk("LUA"),
                RespValue::Map(vec![
                    (
                        RespValue::bulk("libraries_count"),
                        RespValue::Int(libs.len() as i64),
                    ),
                    (
                        RespValue::bulk("functions_count"),
                        RespValue::Int(nfuncs as i64),
                    ),
                ]),
            )]),
        ),
    ])
}

pub(crate) fn dump(libs: &BTreeMap<Vec<u8>, Library>) -> Vec<u8> {
    let mut out = Vec::new();
    for lib in libs.values() {
        out.push(rdb::OPCODE_FUNCTION2);
        rdb::write_string(&mut out, &lib.code);
    }
    rdb::finish_payload(&mut out);
    out
}

/// Redis's glob matching (`*`, `?`, `[...]` with ranges and `^`, `\`).
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    fn m(p: &[u8], s: &[u8]) -> bool {
        let (mut pi, mut si) = (0, 0);
        while pi < p.len() {
            match p[pi] {
                b'*' => {
                    while pi + 1 < p.len() && p[pi + 1] == b'*' {
                        pi += 1;
                    }
                    if pi + 1 == p.len() {
                        return true;
                    }
                    for k in si..=s.len() {
                        if m(&p[pi + 1..], &s[k..]) {
                            return true;
                        }
                    }
                    return false;
                }
                b'?' => {
                    if si >= s.len() {
                        return false;
                    }
                    si += 1;
                }
                b'[' => {
                    if si >= s.len() {
                        return false;
                    }
                    pi += 1;
                    let not = pi < p.len() && p[pi] == b'^';
                    if not {
                        pi += 1;
                    }
                    let mut matched = false;
                    loop {
                        if pi >= p.len() {
                            pi -= 1;
                            break;
                        }
                        if p[pi] == b'\\' && pi + 1 < p.len() {
                            pi += 1;
                            if p[pi] == s[si] {
                                matched = true;
                            }
                        } else if p[pi] == b']' {
                            break;
                        } else if pi + 2 < p.len() && p[pi + 1] == b'-' {
                            let (mut a, mut b) = (p[pi], p[pi + 2]);
                            if a > b {
                                std::mem::swap(&mut a, &mut b);
                            }
                            if s[si] >= a && s[si] <= b {
                                matched = true;
                            }
                            pi += 2;
                        } else if p[pi] == s[si] {
                            matched = true;
                        }
                        pi += 1;
                    }
                    if not {
                        matched = !matched;
                    }
                    if !matched {
                        return false;
                    }
                    si += 1;
                }
                b'\\' if pi + 1 < p.len() => {
                    pi += 1;
                    if si >= s.len() || p[pi] != s[si] {
                        return false;
                    }
                    si += 1;
                }
                c => {
                    if si >= s.len() || c != s[si] {
                        return false;
                    }
                    si += 1;
                }
            }
            pi += 1;
        }
        si == s.len()
    }
    m(pattern, s)
}

fn arity_error(name: &str) -> RespValue {
    RespValue::err(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// Arity as the command table gives it: n exact, -n at least n.
fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= (-arity) as usize
    }
}

fn parse_numkeys(arg: &[u8], argc_after: usize, fcall: bool) -> Result<usize, RespValue> {
    let n: Option<i64> = std::str::from_utf8(arg).ok().and_then(|s| {
        if s.starts_with('+') || (s.len() > 1 && s.starts_with('0')) || s.starts_with("-0") {
            None
        } else {
            s.parse().ok()
        }
    });
    let Some(n) = n else {
        return Err(RespValue::err(if fcall {
            "ERR Bad number of keys provided"
        } else {
            "ERR value is not an integer or out of range"
        }));
    };
    if n < 0 {
        return Err(RespValue::err("ERR Number of keys can't be negative"));
    }
    if n as u64 > argc_after as u64 {
        return Err(RespValue::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(n as usize)
}

fn help(lines: &[&str]) -> RespValue {
    RespValue::Array(lines.iter().map(RespValue::status).collect())
}

pub(crate) fn command(engine: &mut ScriptEngine, host: &mut dyn Host, args: &[&[u8]]) -> RespValue {
    let Some(first) = args.first() else {
        return RespValue::err("ERR empty command");
    };
    let name = String::from_utf8_lossy(first).to_ascii_lowercase();
    match name.as_str() {
        "eval" | "eval_ro" | "evalsha" | "evalsha_ro" | "fcall" | "fcall_ro" => {
            if args.len() < 3 {
                return arity_error(&name);
            }
            let fcall = name.starts_with("fcall");
            // Redis finds the function before it reads the key count.
            if fcall && !engine.functions.contains_key(args[1]) {
                return RespValue::err("ERR Function not found");
            }
            let nk = match parse_numkeys(args[2], args.len() - 3, fcall) {
                Ok(n) => n,
                Err(e) => return e,
            };
            let keys = &args[3..3 + nk];
            let argv = &args[3 + nk..];
            let ro = name.ends_with("_ro");
            match name.as_str() {
                "eval" | "eval_ro" => engine.eval(host, args[1], keys, argv, ro),
                "evalsha" | "evalsha_ro" => engine.evalsha(host, args[1], keys, argv, ro),
                _ => engine.fcall(host, args[1], keys, argv, ro),
            }
        }
        "script" => script_command(engine, args),
        "function" => function_command(engine, host, args),
        _ => RespValue::err(format!(
            "ERR unknown command '{}'",
            String::from_utf8_lossy(first)
        )),
    }
}

fn script_command(engine: &mut ScriptEngine, args: &[&[u8]]) -> RespValue {
    if args.len() < 2 {
        return arity_error("script");
    }
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    let arity = match sub.as_str() {
        "load" => 3,
        "exists" => -3,
        "flush" => -2,
        "kill" | "help" => 2,
        "debug" => 3,
        _ => {
            return RespValue::err(format!(
                "ERR unknown subcommand '{}'. Try SCRIPT HELP.",
                String::from_utf8_lossy(args[1])
            ))
        }
    };
    if !arity_ok(arity, args.len()) {
        return arity_error(&format!("script|{sub}"));
    }
    match sub.as_str() {
        "load" => match engine.script_load(args[2]) {
            Ok(sha) => RespValue::Bulk(sha.into_bytes()),
            Err(e) => e,
        },
        "exists" => RespValue::Array(
            engine
                .script_exists(&args[2..])
                .into_iter()
                .map(|b| RespValue::Int(b as i64))
                .collect(),
        ),
        "flush" => {
            if args.len() > 3
                || (args.len() == 3
                    && !args[2].eq_ignore_ascii_case(b"sync")
                    && !args[2].eq_ignore_ascii_case(b"async"))
            {
                return RespValue::err("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            }
            engine.script_flush();
            RespValue::ok()
        }
        "kill" => engine.control.kill(false),
        "debug" => RespValue::err("ERR SCRIPT DEBUG is not supported"),
        _ => help(&[
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Prints this help.",
        ]),
    }
}

fn function_command(engine: &mut ScriptEngine, host: &mut dyn Host, args: &[&[u8]]) -> RespValue {
    if args.len() < 2 {
        return arity_error("function");
    }
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    let arity = match sub.as_str() {
        "load" | "restore" => -3,
        "delete" => 3,
        "list" | "flush" => -2,
        "dump" | "stats" | "kill" | "help" => 2,
        _ => {
            return RespValue::err(format!(
                "ERR unknown subcommand '{}'. Try FUNCTION HELP.",
                String::from_utf8_lossy(args[1])
            ))
        }
    };
    if !arity_ok(arity, args.len()) {
        return arity_error(&format!("function|{sub}"));
    }
    match sub.as_str() {
        "load" => {
            let mut replace = false;
            let mut i = 2;
            while i < args.len() - 1 {
                if args[i].eq_ignore_ascii_case(b"replace") {
                    replace = true;
                } else {
                    return RespValue::err(format!(
                        "ERR Unknown option given: {}",
                        String::from_utf8_lossy(args[i])
                    ));
                }
                i += 1;
            }
            engine.function_load(host, args[args.len() - 1], replace)
        }
        "delete" => engine.function_delete(args[2]),
        "list" => {
            let mut pattern: Option<&[u8]> = None;
            let mut withcode = false;
            let mut i = 2;
            while i < args.len() {
                let a = args[i];
                if a.eq_ignore_ascii_case(b"withcode") && !withcode {
                    withcode = true;
                } else if a.eq_ignore_ascii_case(b"libraryname") && pattern.is_none() {
                    if i + 1 >= args.len() {
                        return RespValue::err("ERR library name argument was not given");
                    }
                    pattern = Some(args[i + 1]);
                    i += 1;
                } else {
                    return RespValue::err(format!("ERR Unknown argument {}", String::from_utf8_lossy(a)));
                }
                i += 1;
            }
            engine.function_list(pattern, withcode)
        }
        "dump" => RespValue::Bulk(engine.function_dump()),
        "restore" => {
            let policy = match args.len() {
                3 => RestorePolicy::Append,
                4 => match RestorePolicy::parse(args[3]) {
                    Some(p) => p,
                    None => {
                        return RespValue::err(
                            "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
                        )
                    }
                },
                _ => return RespValue::err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."),
            };
            engine.function_restore(host, args[2], policy)
        }
        "flush" => {
            if args.len() > 3 {
                let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
                msg.extend_from_slice(args[1]);
                msg.extend_from_slice(b"'. Try FUNCTION HELP.");
                return RespValue::Error(msg);
            }
            if args.len() == 3
                && !args[2].eq_ignore_ascii_case(b"sync")
                && !args[2].eq_ignore_ascii_case(b"async")
            {
                return RespValue::err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            }
            engine.function_flush();
            RespValue::ok()
        }
        "stats" => engine.function_stats(),
        "kill" => engine.control.kill(true),
        _ => help(&[
            "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
            "HELP",
            "    Prints this help.",
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"my*", b"mylib"));
        assert!(!glob_match(b"my", b"mylib"));
        assert!(glob_match(b"m?lib", b"mylib"));
        assert!(glob_match(b"[a-m]ylib", b"mylib"));
        assert!(!glob_match(b"[^m]ylib", b"mylib"));
        assert!(glob_match(b"*", b""));
    }

    #[test]
    fn metadata() {
        assert_eq!(
            parse_library_metadata(b"#!lua name=x\n").unwrap(),
            (b"x".to_vec(), 12)
        );
        assert_eq!(
            parse_library_metadata(b"return 1").unwrap_err(),
            "ERR Missing library metadata"
        );
        assert_eq!(
            parse_library_metadata(b"#!lua name=x").unwrap_err(),
            "ERR Invalid library metadata"
        );
        assert_eq!(
            parse_library_metadata(b"#!js name=x\n").unwrap_err(),
            "ERR Engine 'js' not found"
        );
        assert_eq!(
            parse_library_metadata(b"#!lua name=x foo=bar\n").unwrap_err(),
            "ERR Invalid metadata value given: foo=bar"
        );
    }
}
