//! The `struct` library: pack/unpack/size of binary records.

use mlua::{Lua, MultiValue, Table, Value};

use crate::script::env::{arg_error, lua_error, lua_number, type_name};

const MAXINTSIZE: usize = 32;
const MAXALIGN: usize = 8;

#[derive(Clone, Copy)]
struct State {
    little: bool,
    align: usize,
}

/// One parsed option: (option letter, size).
struct Fmt<'a> {
    f: &'a [u8],
    pos: usize,
}

impl Fmt<'_> {
    fn number(&mut self, default: usize) -> usize {
        if self.pos >= self.f.len() || !self.f[self.pos].is_ascii_digit() {
            return default;
        }
        let mut a = 0usize;
        while self.pos < self.f.len() && self.f[self.pos].is_ascii_digit() {
            a = a
                .saturating_mul(10)
                .saturating_add((self.f[self.pos] - b'0') as usize);
            self.pos += 1;
        }
        a
    }
}

enum Item {
    Int { size: usize, signed: bool },
    Float,
    Double,
    Char(usize),
    Str,
    Pad,
    None,
}

fn next_item(
    lua: &Lua,
    fname: &str,
    fmt: &mut Fmt,
    st: &mut State,
) -> mlua::Result<Option<(Item, usize)>> {
    let Some(&c) = fmt.f.get(fmt.pos) else {
        return Ok(None);
    };
    fmt.pos += 1;
    let item = match c {
        b'b' => Item::Int {
            size: 1,
            signed: true,
        },
        b'B' => Item::Int {
            size: 1,
            signed: false,
        },
        b'h' => Item::Int {
            size: 2,
            signed: true,
        },
        b'H' => Item::Int {
            size: 2,
            signed: false,
        },
        b'l' => Item::Int {
            size: 8,
            signed: true,
        },
        b'L' => Item::Int {
            size: 8,
            signed: false,
        },
        b'T' => Item::Int {
            size: 8,
            signed: false,
        },
        b'i' | b'I' => {
            let size = fmt.number(4);
            if size > MAXINTSIZE {
                return Err(arg_error(
                    lua,
                    1,
                    fname,
                    &format!("integral size {size} is larger than limit of {MAXINTSIZE}"),
                ));
            }
            Item::Int {
                size,
                signed: c == b'i',
            }
        }
        b'f' => Item::Float,
        b'd' => Item::Double,
        b'c' => Item::Char(fmt.number(1)),
        b's' => Item::Str,
        b'x' => Item::Pad,
        b' ' => Item::None,
        b'<' => {
            st.little = true;
            Item::None
        }
        b'>' => {
            st.little = false;
            Item::None
        }
        b'=' => {
            st.little = cfg!(target_endian = "little");
            Item::None
        }
        b'!' => {
            st.align = fmt.number(MAXALIGN);
            Item::None
        }
        other => {
            return Err(arg_error(
                lua,
                1,
                fname,
                &format!("invalid format option '{}'", other as char),
            ));
        }
    };
    let size = match &item {
        Item::Int { size, .. } => *size,
        Item::Float => 4,
        Item::Double => 8,
        Item::Pad => 1,
        _ => 0,
    };
    Ok(Some((item, size)))
}

fn gettoalign(lua: &Lua, len: usize, st: &State, item: &Item, size: usize) -> mlua::Result<usize> {
    if matches!(item, Item::Char(_) | Item::Str | Item::Pad | Item::None) || size <= 1 {
        return Ok(0);
    }
    let align = size.min(st.align);
    if align <= 1 {
        return Ok(0);
    }
    if align & (align - 1) != 0 {
        return Err(lua_error(
            lua,
            "bad argument #1 to 'struct' (alignment must be power of 2)",
        ));
    }
    Ok((align - (len & (align - 1))) & (align - 1))
}

fn put_int(out: &mut Vec<u8>, v: u64, size: usize, little: bool, negative: bool) {
    let mut bytes = vec![if negative { 0xff } else { 0 }; size];
    for (i, b) in bytes.iter_mut().enumerate().take(size.min(8)) {
        *b = (v >> (8 * i)) as u8;
    }
    if !little {
        bytes.reverse();
    }
    out.extend_from_slice(&bytes);
}

fn number_arg(lua: &Lua, args: &MultiValue, i: usize) -> mlua::Result<f64> {
    match args.get(i).and_then(lua_number) {
        Some(n) => Ok(n),
        None => {
            let got = args.get(i).map(type_name).unwrap_or("no value");
            Err(arg_error(
                lua,
                i + 1,
                "pack",
                &format!("number expected, got {got}"),
            ))
        }
    }
}

fn string_arg(lua: &Lua, args: &MultiValue, i: usize, fname: &str) -> mlua::Result<Vec<u8>> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(v @ (Value::Integer(_) | Value::Number(_))) => {
            Ok(crate::script::convert::arg_bytes(v)
                .map(|b| lua_num_text(v, b))
                .unwrap_or_default())
        }
        other => {
            let got = other.map(type_name).unwrap_or("no value");
            Err(arg_error(
                lua,
                i + 1,
                fname,
                &format!("string expected, got {got}"),
            ))
        }
    }
}

/// Numbers used as strings convert with `%.14g`, as Lua does.
fn lua_num_text(v: &Value, fallback: Vec<u8>) -> Vec<u8> {
    match v {
        Value::Number(n) => crate::script::resp::fmt_g(*n, 14).into_bytes(),
        _ => fallback,
    }
}

fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::String> {
    const FNAME: &str = "pack";
    let f = string_arg(lua, &args, 0, "pack")?;
    let mut fmt = Fmt { f: &f, pos: 0 };
    let mut st = State {
        little: cfg!(target_endian = "little"),
        align: 1,
    };
    let mut out = Vec::new();
    let mut arg = 1;
    while let Some((item, size)) = next_item(lua, FNAME, &mut fmt, &mut st)? {
        let pad = gettoalign(lua, out.len(), &st, &item, size)?;
        out.resize(out.len() + pad, 0);
        match item {
            Item::Int { size, .. } => {
                let n = number_arg(lua, &args, arg)?;
                arg += 1;
                let negative = n < 0.0;
                let v = if negative {
                    (n as i64) as u64
                } else {
                    n as u64
                };
                put_int(&mut out, v, size, st.little, negative);
            }
            Item::Float => {
                let n = number_arg(lua, &args, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&if st.little {
                    n.to_le_bytes()
                } else {
                    n.to_be_bytes()
                });
            }
            Item::Double => {
                let n = number_arg(lua, &args, arg)?;
                arg += 1;
                out.extend_from_slice(&if st.little {
                    n.to_le_bytes()
                } else {
                    n.to_be_bytes()
                });
            }
            Item::Char(size) => {
                let s = string_arg(lua, &args, arg, "pack")?;
                arg += 1;
                let size = if size == 0 { s.len() } else { size };
                if s.len() < size {
                    return Err(arg_error(lua, arg, "pack", "string too short"));
                }
                out.extend_from_slice(&s[..size]);
            }
            Item::Str => {
                let s = string_arg(lua, &args, arg, "pack")?;
                arg += 1;
                if s.contains(&0) {
                    return Err(arg_error(lua, arg, "pack", "string contains zeros"));
                }
                out.extend_from_slice(&s);
                out.push(0);
            }
            Item::Pad => out.push(0),
            Item::None => {}
        }
    }
    lua.create_string(out)
}

fn unpack(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    const FNAME: &str = "unpack";
    let f = string_arg(lua, &args, 0, "unpack")?;
    let data = string_arg(lua, &args, 1, "unpack")?;
    let mut pos = match args.get(2) {
        None | Some(Value::Nil) => 0usize,
        Some(v) => match lua_number(v) {
            Some(n) if n >= 1.0 => n as usize - 1,
            Some(_) => return Err(arg_error(lua, 3, "unpack", "offset must be 1 or greater")),
            None => {
                return Err(arg_error(
                    lua,
                    3,
                    "unpack",
                    &format!("number expected, got {}", type_name(v)),
                ))
            }
        },
    };
    let mut fmt = Fmt { f: &f, pos: 0 };
    let mut st = State {
        little: cfg!(target_endian = "little"),
        align: 1,
    };
    let mut out: Vec<Value> = Vec::new();
    while let Some((item, size)) = next_item(lua, FNAME, &mut fmt, &mut st)? {
        pos += gettoalign(lua, pos, &st, &item, size)?;
        let need = |n: usize| -> mlua::Result<()> {
            if pos.checked_add(n).map_or(true, |e| e > data.len()) {
                Err(arg_error(lua, 2, "unpack", "data string too short"))
            } else {
                Ok(())
            }
        };
        match item {
            Item::Int { size, signed } => {
                need(size)?;
                let mut bytes = data[pos..pos + size].to_vec();
                if !st.little {
                    bytes.reverse();
                }
                let mut v: u64 = 0;
                for (i, b) in bytes.iter().enumerate().take(8) {
                    v |= (*b as u64) << (8 * i);
                }
                let n = if signed && size < 8 && size > 0 {
                    let shift = 64 - 8 * size as u32;
                    (((v << shift) as i64) >> shift) as f64
                } else if signed {
                    v as i64 as f64
                } else {
                    v as f64
                };
                out.push(Value::Number(n));
                pos += size;
            }
            Item::Float => {
                need(4)?;
                let b: [u8; 4] = data[pos..pos + 4].try_into().expect("4 bytes");
                let v = if st.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                out.push(Value::Number(v as f64));
                pos += 4;
            }
            Item::Double => {
                need(8)?;
                let b: [u8; 8] = data[pos..pos + 8].try_into().expect("8 bytes");
                let v = if st.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                out.push(Value::Number(v));
                pos += 8;
            }
            Item::Char(size) => {
                let size =
                    if size == 0 {
                        match out.pop() {
                            Some(v) => lua_number(&v).unwrap_or(0.0) as usize,
                            None => return Err(lua_error(
                                lua,
                                "bad argument #1 to 'unpack' (format 'c0' needs a previous size)",
                            )),
                        }
                    } else {
                        size
                    };
                need(size)?;
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
                pos += size;
            }
            Item::Str => {
                let Some(end) = data[pos.min(data.len())..].iter().position(|&c| c == 0) else {
                    return Err(lua_error(lua, "unfinished string in data"));
                };
                out.push(Value::String(lua.create_string(&data[pos..pos + end])?));
                pos += end + 1;
            }
            Item::Pad => pos += 1,
            Item::None => {}
        }
    }
    out.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_iter(out))
}

fn size(lua: &Lua, args: MultiValue) -> mlua::Result<f64> {
    const FNAME: &str = "size";
    let f = string_arg(lua, &args, 0, "size")?;
    let mut fmt = Fmt { f: &f, pos: 0 };
    let mut st = State {
        little: cfg!(target_endian = "little"),
        align: 1,
    };
    let mut total = 0usize;
    while let Some((item, size)) = next_item(lua, FNAME, &mut fmt, &mut st)? {
        total += gettoalign(lua, total, &st, &item, size)?;
        match item {
            Item::Str => return Err(arg_error(lua, 1, "size", "option 's' has no fixed size")),
            Item::Char(0) => {
                return Err(arg_error(lua, 1, "size", "option 'c0' has no fixed size"))
            }
            Item::Char(n) => total += n,
            _ => total += size,
        }
    }
    Ok(total as f64)
}

pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lua.create_function(pack)?)?;
    t.set("unpack", lua.create_function(unpack)?)?;
    t.set("size", lua.create_function(size)?)?;
    Ok(t)
}
