//! The `cjson` library: JSON encode/decode with lua-cjson 2.1's behaviour
//! (numbers as `%.14g`, `{}` for an empty table, sparse-array rules,
//! `cjson.null`) and its configuration functions.

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use crate::script::env::{arg_error, lua_error, lua_number, type_name};
use crate::script::resp::fmt_g;

#[derive(Clone, Copy)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    precision: i64,
    encode_invalid: bool,
    decode_invalid: bool,
    keep_buffer: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            precision: 14,
            encode_invalid: false,
            decode_invalid: true,
            keep_buffer: true,
        }
    }
}

fn config(lua: &Lua) -> Config {
    lua.app_data_ref::<Config>().map(|c| *c).unwrap_or_default()
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn encode_error(lua: &Lua, what: &str, reason: &str) -> mlua::Error {
    lua_error(lua, format!("Cannot serialise {what}: {reason}"))
}

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{:04x}", c).as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

fn append_number(lua: &Lua, cfg: &Config, out: &mut Vec<u8>, n: f64) -> mlua::Result<()> {
    if !n.is_finite() && !cfg.encode_invalid {
        return Err(encode_error(lua, "number", "must not be NaN or Inf"));
    }
    let text = if n.is_nan() {
        "nan".to_string()
    } else if n.is_infinite() {
        if n > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        fmt_g(n, cfg.precision as usize)
    };
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// The array length of a table whose keys are all positive integers; None
/// for an object (or a sparse array that is encoded as one).
fn array_length(lua: &Lua, cfg: &Config, t: &Table) -> mlua::Result<Option<usize>> {
    let mut max = 0f64;
    let mut items = 0i64;
    for kv in t.clone().pairs::<Value, Value>() {
        let (k, _) = kv?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n < 1.0 || n.floor() != n {
            return Ok(None);
        }
        max = max.max(n);
        items += 1;
    }
    if cfg.sparse_ratio > 0
        && max > (items * cfg.sparse_ratio) as f64
        && max > cfg.sparse_safe as f64
    {
        if !cfg.sparse_convert {
            return Err(encode_error(lua, "table", "excessively sparse array"));
        }
        return Ok(None);
    }
    Ok(Some(max as usize))
}

fn encode_value(
    lua: &Lua,
    cfg: &Config,
    out: &mut Vec<u8>,
    v: &Value,
    depth: i64,
) -> mlua::Result<()> {
    crate::script::deep(|| encode_value_inner(lua, cfg, out, v, depth))
}

fn encode_value_inner(
    lua: &Lua,
    cfg: &Config,
    out: &mut Vec<u8>,
    v: &Value,
    depth: i64,
) -> mlua::Result<()> {
    match v {
        Value::String(s) => append_string(out, &s.as_bytes()),
        Value::Integer(i) => append_number(lua, cfg, out, *i as f64)?,
        Value::Number(n) => append_number(lua, cfg, out, *n)?,
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > cfg.encode_max_depth {
                return Err(lua_error(
                    lua,
                    format!("Cannot serialise, excessive nesting ({depth})"),
                ));
            }
            match array_length(lua, cfg, t)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        let item: Value = t.raw_get(i)?;
                        encode_value(lua, cfg, out, &item, depth)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for kv in t.clone().pairs::<Value, Value>() {
                        let (k, val) = kv?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => append_string(out, &s.as_bytes()),
                            Value::Integer(_) | Value::Number(_) => {
                                out.push(b'"');
                                append_number(lua, cfg, out, lua_number(&k).unwrap_or(0.0))?;
                                out.push(b'"');
                            }
                            other => {
                                return Err(encode_error(
                                    lua,
                                    type_name(other),
                                    "table key must be a number or string",
                                ))
                            }
                        }
                        out.push(b':');
                        encode_value(lua, cfg, out, &val, depth)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => return Err(encode_error(lua, type_name(other), "type not supported")),
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str(_) => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(m) => m,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    depth: i64,
    cfg: Config,
    /// Where a string token went wrong.
    err_at: usize,
}

impl Parser<'_> {
    /// The next token and the index where it starts.
    fn next(&mut self) -> (Tok, usize) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(&c) = self.s.get(self.pos) else {
            return (Tok::End, start);
        };
        let tok = match c {
            b'{' => {
                self.pos += 1;
                Tok::ObjBegin
            }
            b'}' => {
                self.pos += 1;
                Tok::ObjEnd
            }
            b'[' => {
                self.pos += 1;
                Tok::ArrBegin
            }
            b']' => {
                self.pos += 1;
                Tok::ArrEnd
            }
            b':' => {
                self.pos += 1;
                Tok::Colon
            }
            b',' => {
                self.pos += 1;
                Tok::Comma
            }
            b'"' => {
                let t = self.string();
                if let Tok::Error(_) = t {
                    return (t, self.err_at);
                }
                t
            }
            b'-' | b'0'..=b'9' => self.number(),
            _ if self.s[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Tok::Bool(true)
            }
            _ if self.s[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Tok::Bool(false)
            }
            _ if self.s[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Tok::Null
            }
            b'i' | b'I' | b'n' | b'N' if self.cfg.decode_invalid => self.number(),
            _ => Tok::Error("invalid token"),
        };
        (tok, start)
    }

    fn number(&mut self) -> Tok {
        let start = self.pos;
        let mut end = start;
        while end < self.s.len()
            && (self.s[end].is_ascii_alphanumeric() || matches!(self.s[end], b'+' | b'-' | b'.'))
        {
            end += 1;
        }
        let text = std::str::from_utf8(&self.s[start..end]).unwrap_or("");
        let (neg, body) = match text.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, text),
        };
        let lower = body.to_ascii_lowercase();
        let v = if let Some(h) = lower.strip_prefix("0x") {
            u64::from_str_radix(h, 16).ok().map(|v| v as f64)
        } else if lower == "inf" || lower == "infinity" {
            Some(f64::INFINITY)
        } else if lower == "nan" {
            Some(f64::NAN)
        } else if body.starts_with(|c: char| c.is_ascii_digit()) {
            body.parse::<f64>().ok()
        } else {
            None
        };
        match v {
            Some(v) if self.cfg.decode_invalid || v.is_finite() => {
                self.pos = end;
                Tok::Num(if neg { -v } else { v })
            }
            _ => Tok::Error("invalid number"),
        }
    }

    fn string(&mut self) -> Tok {
        let mut out = Vec::new();
        let mut i = self.pos + 1;
        loop {
            self.err_at = i;
            let Some(&c) = self.s.get(i) else {
                return Tok::Error("unexpected end of string");
            };
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(i + 1) else {
                        return Tok::Error("unexpected end of string");
                    };
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hex = |at: usize| -> Option<u32> {
                                let h = self.s.get(at..at + 4)?;
                                u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
                            };
                            let Some(mut cp) = hex(i + 2) else {
                                return Tok::Error("invalid unicode escape code");
                            };
                            let mut used = 6;
                            if (0xd800..0xdc00).contains(&cp) {
                                let low = if self.s.get(i + 6..i + 8) == Some(b"\\u") {
                                    hex(i + 8)
                                } else {
                                    None
                                };
                                match low {
                                    Some(lo) if (0xdc00..0xe000).contains(&lo) => {
                                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                        used = 12;
                                    }
                                    _ => return Tok::Error("invalid unicode escape code"),
                                }
                            } else if (0xdc00..0xe000).contains(&cp) {
                                return Tok::Error("invalid unicode escape code");
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            i += used;
                            continue;
                        }
                        _ => return Tok::Error("invalid escape code"),
                    }
                    i += 2;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        self.pos = i + 1;
        Tok::Str(out)
    }

    fn fail(&self, lua: &Lua, expected: &str, tok: &Tok, at: usize) -> mlua::Error {
        lua_error(
            lua,
            format!(
                "Expected {expected} but found {} at character {}",
                tok.name(),
                at + 1
            ),
        )
    }

    fn value(&mut self, lua: &Lua, tok: Tok, at: usize) -> mlua::Result<Value> {
        crate::script::deep(|| self.value_inner(lua, tok, at))
    }

    fn value_inner(&mut self, lua: &Lua, tok: Tok, at: usize) -> mlua::Result<Value> {
        match tok {
            Tok::Str(s) => Ok(Value::String(lua.create_string(s)?)),
            Tok::Num(n) => Ok(Value::Number(n)),
            Tok::Bool(b) => Ok(Value::Boolean(b)),
            Tok::Null => Ok(null()),
            Tok::ObjBegin => {
                self.enter(lua, at)?;
                let t = lua.create_table()?;
                let (mut tok, mut at) = self.next();
                if tok == Tok::ObjEnd {
                    self.depth -= 1;
                    return Ok(Value::Table(t));
                }
                loop {
                    let Tok::Str(key) = tok else {
                        return Err(self.fail(lua, "object key string", &tok, at));
                    };
                    let (colon, cat) = self.next();
                    if colon != Tok::Colon {
                        return Err(self.fail(lua, "colon", &colon, cat));
                    }
                    let (vt, vat) = self.next();
                    let v = self.value(lua, vt, vat)?;
                    t.raw_set(lua.create_string(key)?, v)?;
                    let (sep, sat) = self.next();
                    match sep {
                        Tok::ObjEnd => break,
                        Tok::Comma => {}
                        other => return Err(self.fail(lua, "comma or object end", &other, sat)),
                    }
                    (tok, at) = self.next();
                }
                self.depth -= 1;
                Ok(Value::Table(t))
            }
            Tok::ArrBegin => {
                self.enter(lua, at)?;
                let t = lua.create_table()?;
                let (mut tok, mut at) = self.next();
                if tok == Tok::ArrEnd {
                    self.depth -= 1;
                    return Ok(Value::Table(t));
                }
                let mut i = 1;
                loop {
                    let v = self.value(lua, tok, at)?;
                    t.raw_set(i, v)?;
                    i += 1;
                    let (sep, sat) = self.next();
                    match sep {
                        Tok::ArrEnd => break,
                        Tok::Comma => {}
                        other => return Err(self.fail(lua, "comma or array end", &other, sat)),
                    }
                    (tok, at) = self.next();
                }
                self.depth -= 1;
                Ok(Value::Table(t))
            }
            other => Err(self.fail(lua, "value", &other, at)),
        }
    }

    fn enter(&mut self, lua: &Lua, at: usize) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth > self.cfg.decode_max_depth {
            return Err(lua_error(
                lua,
                format!(
                    "Found too many nested data structures ({}) at character {}",
                    self.depth,
                    at + 1
                ),
            ));
        }
        Ok(())
    }
}

fn decode(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    if args.len() != 1 {
        return Err(lua_error(
            lua,
            "bad argument #1 to 'decode' (expected 1 argument)",
        ));
    }
    let s = match args.front() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        Some(v @ (Value::Integer(_) | Value::Number(_))) => {
            fmt_g(lua_number(v).unwrap_or(0.0), 14).into_bytes()
        }
        other => {
            let got = other.map(type_name).unwrap_or("no value");
            return Err(arg_error(
                lua,
                1,
                "decode",
                &format!("string expected, got {got}"),
            ));
        }
    };
    let mut p = Parser {
        s: &s,
        pos: 0,
        depth: 0,
        cfg: config(lua),
        err_at: 0,
    };
    let (tok, at) = p.next();
    let v = p.value(lua, tok, at)?;
    let (end, eat) = p.next();
    if end != Tok::End {
        return Err(p.fail(lua, "the end", &end, eat));
    }
    Ok(v)
}

fn encode(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::String> {
    if args.len() != 1 {
        return Err(lua_error(
            lua,
            "bad argument #1 to 'encode' (expected 1 argument)",
        ));
    }
    let cfg = config(lua);
    let mut out = Vec::new();
    encode_value(lua, &cfg, &mut out, args.front().expect("one argument"), 0)?;
    lua.create_string(out)
}

fn set_config(lua: &Lua, f: impl FnOnce(&mut Config)) {
    let mut c = config(lua);
    f(&mut c);
    lua.set_app_data(c);
}

fn opt_bool(v: Option<&Value>) -> Option<bool> {
    match v {
        Some(Value::Boolean(b)) => Some(*b),
        Some(Value::String(s)) => match &*s.as_bytes() {
            b"on" => Some(true),
            b"off" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn opt_int(
    lua: &Lua,
    args: &MultiValue,
    i: usize,
    name: &str,
    min: i64,
    max: i64,
) -> mlua::Result<Option<i64>> {
    match args.get(i) {
        None | Some(Value::Nil) => Ok(None),
        Some(v) => match lua_number(v) {
            Some(n) if (min as f64..=max as f64).contains(&n) => Ok(Some(n as i64)),
            _ => Err(arg_error(
                lua,
                i + 1,
                name,
                &format!("expected integer between {min} and {max}"),
            )),
        },
    }
}

fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("encode", lua.create_function(encode)?)?;
    t.set("decode", lua.create_function(decode)?)?;
    t.set(
        "encode_sparse_array",
        lua.create_function(|lua, a: MultiValue| {
            if let Some(b) = opt_bool(a.front()) {
                set_config(lua, |c| c.sparse_convert = b);
            }
            if let Some(r) = opt_int(lua, &a, 1, "encode_sparse_array", 0, i32::MAX as i64)? {
                set_config(lua, |c| c.sparse_ratio = r);
            }
            if let Some(s) = opt_int(lua, &a, 2, "encode_sparse_array", 0, i32::MAX as i64)? {
                set_config(lua, |c| c.sparse_safe = s);
            }
            let c = config(lua);
            Ok((
                c.sparse_convert,
                c.sparse_ratio as f64,
                c.sparse_safe as f64,
            ))
        })?,
    )?;
    type Int = (&'static str, fn(&mut Config) -> &mut i64, i64, i64);
    let ints: [Int; 3] = [
        (
            "encode_max_depth",
            |c| &mut c.encode_max_depth,
            1,
            i32::MAX as i64,
        ),
        (
            "decode_max_depth",
            |c| &mut c.decode_max_depth,
            1,
            i32::MAX as i64,
        ),
        ("encode_number_precision", |c| &mut c.precision, 1, 14),
    ];
    for (name, field, min, max) in ints {
        t.set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                if let Some(v) = opt_int(lua, &a, 0, name, min, max)? {
                    set_config(lua, |c| *field(c) = v);
                }
                let mut c = config(lua);
                Ok(*field(&mut c) as f64)
            })?,
        )?;
    }
    type Flag = (&'static str, fn(&mut Config) -> &mut bool);
    let flags: [Flag; 3] = [
        ("encode_keep_buffer", |c| &mut c.keep_buffer),
        ("encode_invalid_numbers", |c| &mut c.encode_invalid),
        ("decode_invalid_numbers", |c| &mut c.decode_invalid),
    ];
    for (name, field) in flags {
        t.set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                if let Some(b) = opt_bool(a.front()) {
                    set_config(lua, |c| *field(c) = b);
                }
                let mut c = config(lua);
                Ok(*field(&mut c))
            })?,
        )?;
    }
    t.set("null", null())?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(t)
}

pub fn create(lua: &Lua) -> mlua::Result<Table> {
    lua.set_app_data(Config::default());
    let t = module(lua)?;
    t.set("new", lua.create_function(|lua, ()| module(lua))?)?;
    Ok(t)
}
