//! The `cmsgpack` library: MessagePack encoding of Lua values.

use mlua::{Lua, MultiValue, Table, Value};

use crate::script::env::{arg_error, lua_error, lua_number, type_name};

/// Deeper tables encode as nil.
const MAX_NESTING: usize = 16;

fn encode(v: &Value, out: &mut Vec<u8>, level: usize) {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_int(*i, out),
        Value::Number(n) => {
            let n = *n;
            if n.is_finite() && (n as i64) as f64 == n && n < 9.3e18 {
                encode_int(n as i64, out);
            } else if (n as f32) as f64 == n || n.is_nan() {
                out.push(0xca);
                out.extend_from_slice(&(n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let b = s.as_bytes();
            let len = b.len();
            if len < 32 {
                out.push(0xa0 | len as u8);
            } else if len <= 0xff {
                out.push(0xd9);
                out.push(len as u8);
            } else if len <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(len as u32).to_be_bytes());
            }
            out.extend_from_slice(&b);
        }
        Value::Table(t) if level < MAX_NESTING => {
            if let Some(n) = array_len(t) {
                header(out, n, 0x90, 0xdc, 0xdd);
                for i in 1..=n {
                    let v: Value = t.raw_get(i).unwrap_or(Value::Nil);
                    encode(&v, out, level + 1);
                }
            } else {
                let pairs: Vec<(Value, Value)> = t.pairs::<Value, Value>().flatten().collect();
                header(out, pairs.len(), 0x80, 0xde, 0xdf);
                for (k, v) in pairs {
                    encode(&k, out, level + 1);
                    encode(&v, out, level + 1);
                }
            }
        }
        _ => out.push(0xc0),
    }
}

fn header(out: &mut Vec<u8>, n: usize, fix: u8, b16: u8, b32: u8) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// The length when the table's keys are exactly 1..n.
fn array_len(t: &Table) -> Option<usize> {
    let mut count = 0usize;
    let mut max = 0usize;
    for kv in t.pairs::<Value, Value>() {
        let (k, _) = kv.ok()?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return None,
        };
        if n < 1.0 || n.fract() != 0.0 {
            return None;
        }
        count += 1;
        max = max.max(n as usize);
    }
    (max == count).then_some(count)
}

fn encode_int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        let u = i as u64;
        if u < 128 {
            out.push(u as u8);
        } else if u <= 0xff {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if i >= -32 {
        out.push(i as i8 as u8);
    } else if i >= -128 {
        out.extend_from_slice(&[0xd0, i as i8 as u8]);
    } else if i >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

enum DecodeError {
    Missing,
    Bad,
}

struct Decoder<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Missing)?;
        let s = self.b.get(self.pos..end).ok_or(DecodeError::Missing)?;
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> Result<u64, DecodeError> {
        let s = self.take(n)?;
        Ok(s.iter().fold(0u64, |a, &c| (a << 8) | c as u64))
    }

    fn value(&mut self, lua: &Lua) -> Result<Value, DecodeError> {
        crate::script::deep(|| self.value_inner(lua))
    }

    fn value_inner(&mut self, lua: &Lua) -> Result<Value, DecodeError> {
        let c = self.take(1)?[0];
        let num = |n: f64| Ok(Value::Number(n));
        match c {
            0x00..=0x7f => num(c as f64),
            0x80..=0x8f => self.map(lua, (c & 0x0f) as usize),
            0x90..=0x9f => self.array(lua, (c & 0x0f) as usize),
            0xa0..=0xbf => self.string(lua, (c & 0x1f) as usize),
            0xc0 => Ok(Value::Nil),
            0xc2 => Ok(Value::Boolean(false)),
            0xc3 => Ok(Value::Boolean(true)),
            0xc4 | 0xd9 => {
                let n = self.uint(1)? as usize;
                self.string(lua, n)
            }
            0xc5 | 0xda => {
                let n = self.uint(2)? as usize;
                self.string(lua, n)
            }
            0xc6 | 0xdb => {
                let n = self.uint(4)? as usize;
                self.string(lua, n)
            }
            0xca => {
                let b: [u8; 4] = self.take(4)?.try_into().expect("4");
                num(f32::from_be_bytes(b) as f64)
            }
            0xcb => {
                let b: [u8; 8] = self.take(8)?.try_into().expect("8");
                num(f64::from_be_bytes(b))
            }
            0xcc => num(self.uint(1)? as f64),
            0xcd => num(self.uint(2)? as f64),
            0xce => num(self.uint(4)? as f64),
            0xcf => num(self.uint(8)? as f64),
            0xd0 => num(self.uint(1)? as u8 as i8 as f64),
            0xd1 => num(self.uint(2)? as u16 as i16 as f64),
            0xd2 => num(self.uint(4)? as u32 as i32 as f64),
            0xd3 => num(self.uint(8)? as i64 as f64),
            0xdc => {
                let n = self.uint(2)? as usize;
                self.array(lua, n)
            }
            0xdd => {
                let n = self.uint(4)? as usize;
                self.array(lua, n)
            }
            0xde => {
                let n = self.uint(2)? as usize;
                self.map(lua, n)
            }
            0xdf => {
                let n = self.uint(4)? as usize;
                self.map(lua, n)
            }
            0xe0..=0xff => num(c as i8 as f64),
            _ => Err(DecodeError::Bad),
        }
    }

    fn string(&mut self, lua: &Lua, n: usize) -> Result<Value, DecodeError> {
        let s = self.take(n)?;
        lua.create_string(s)
            .map(Value::String)
            .map_err(|_| DecodeError::Bad)
    }

    fn array(&mut self, lua: &Lua, n: usize) -> Result<Value, DecodeError> {
        let t = lua.create_table().map_err(|_| DecodeError::Bad)?;
        for i in 1..=n {
            let v = self.value(lua)?;
            t.raw_set(i, v).map_err(|_| DecodeError::Bad)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, n: usize) -> Result<Value, DecodeError> {
        let t = lua.create_table().map_err(|_| DecodeError::Bad)?;
        for _ in 0..n {
            let k = self.value(lua)?;
            let v = self.value(lua)?;
            if !k.is_nil() {
                t.raw_set(k, v).map_err(|_| DecodeError::Bad)?;
            }
        }
        Ok(Value::Table(t))
    }
}

/// Decodes up to `limit` objects (0: all) from `offset`; with `one_shot`
/// the next offset (or -1 at the end) comes first.
fn unpack_full(
    lua: &Lua,
    data: &[u8],
    limit: usize,
    offset: usize,
    one_shot: bool,
) -> mlua::Result<MultiValue> {
    let mut d = Decoder {
        b: data,
        pos: offset,
    };
    let mut out = Vec::new();
    while d.pos < data.len() && (limit == 0 || out.len() < limit) {
        match d.value(lua) {
            Ok(v) => out.push(v),
            Err(DecodeError::Missing) => return Err(lua_error(lua, "Missing bytes in input.")),
            Err(DecodeError::Bad) => return Err(lua_error(lua, "Bad data format in input.")),
        }
    }
    if one_shot {
        let next = if d.pos >= data.len() {
            -1.0
        } else {
            d.pos as f64
        };
        out.insert(0, Value::Number(next));
    }
    Ok(MultiValue::from_iter(out))
}

fn data_arg(lua: &Lua, args: &MultiValue, name: &str) -> mlua::Result<Vec<u8>> {
    match args.front() {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(v @ (Value::Integer(_) | Value::Number(_))) => {
            Ok(crate::script::resp::fmt_g(lua_number(v).unwrap_or(0.0), 14).into_bytes())
        }
        other => {
            let got = other.map(type_name).unwrap_or("no value");
            Err(arg_error(
                lua,
                1,
                name,
                &format!("string expected, got {got}"),
            ))
        }
    }
}

fn int_arg(args: &MultiValue, i: usize) -> usize {
    args.get(i)
        .and_then(lua_number)
        .map(|n| n.max(0.0) as usize)
        .unwrap_or(0)
}

pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(arg_error(lua, 0, "pack", "MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                encode(v, &mut out, 0);
            }
            lua.create_string(out)
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| {
            let data = data_arg(lua, &args, "unpack")?;
            unpack_full(lua, &data, 0, 0, false)
        })?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, args: MultiValue| {
            let data = data_arg(lua, &args, "unpack_one")?;
            unpack_full(lua, &data, 1, int_arg(&args, 1), true)
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(|lua, args: MultiValue| {
            let data = data_arg(lua, &args, "unpack_limit")?;
            unpack_full(lua, &data, int_arg(&args, 1), int_arg(&args, 2), true)
        })?,
    )?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}
