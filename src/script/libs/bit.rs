//! The `bit` library (LuaBitOp's API): 32-bit operations on Lua numbers.

use mlua::{Lua, MultiValue, Table, Value};

use crate::script::env::{arg_error, lua_number, type_name};

/// A Lua number as a signed 32-bit integer: rounded to nearest (ties to
/// even), wrapped modulo 2^32.
fn tobit(n: f64) -> i32 {
    // Adding 2^52 + 2^51 puts the rounded integer in the low mantissa bits.
    let b = (n + 6_755_399_441_055_744.0).to_bits();
    b as u32 as i32
}

fn arg(lua: &Lua, args: &MultiValue, i: usize, name: &str) -> mlua::Result<i32> {
    match args.get(i).and_then(lua_number) {
        Some(n) => Ok(tobit(n)),
        None => {
            let got = args.get(i).map(type_name).unwrap_or("no value");
            Err(arg_error(
                lua,
                i + 1,
                name,
                &format!("number expected, got {got}"),
            ))
        }
    }
}

pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "tobit",
        lua.create_function(|lua, a: MultiValue| Ok(arg(lua, &a, 0, "tobit")? as f64))?,
    )?;
    t.set(
        "bnot",
        lua.create_function(|lua, a: MultiValue| Ok(!arg(lua, &a, 0, "bnot")? as f64))?,
    )?;
    type Fold = fn(i32, i32) -> i32;
    let folds: [(&str, Fold); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, op) in folds {
        t.set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                let mut acc = arg(lua, &a, 0, name)?;
                for i in 1..a.len() {
                    acc = op(acc, arg(lua, &a, i, name)?);
                }
                Ok(acc as f64)
            })?,
        )?;
    }
    type Shift = fn(i32, u32) -> i32;
    let shifts: [(&str, Shift); 5] = [
        ("lshift", |x, n| ((x as u32) << n) as i32),
        ("rshift", |x, n| ((x as u32) >> n) as i32),
        ("arshift", |x, n| x >> n),
        ("rol", |x, n| (x as u32).rotate_left(n) as i32),
        ("ror", |x, n| (x as u32).rotate_right(n) as i32),
    ];
    for (name, op) in shifts {
        t.set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                let x = arg(lua, &a, 0, name)?;
                let n = arg(lua, &a, 1, name)? as u32 & 31;
                Ok(op(x, n) as f64)
            })?,
        )?;
    }
    t.set(
        "bswap",
        lua.create_function(
            |lua, a: MultiValue| Ok(arg(lua, &a, 0, "bswap")?.swap_bytes() as f64),
        )?,
    )?;
    t.set(
        "tohex",
        lua.create_function(|lua, a: MultiValue| {
            let x = arg(lua, &a, 0, "tohex")? as u32;
            let n = if a.len() > 1 && !matches!(a.get(1), Some(Value::Nil)) {
                arg(lua, &a, 1, "tohex")?
            } else {
                8
            };
            let upper = n < 0;
            let n = n.unsigned_abs().min(8) as usize;
            let mask = if n == 8 {
                u32::MAX
            } else {
                (1u32 << (4 * n)) - 1
            };
            let s = if upper {
                format!("{:0w$X}", x & mask, w = n)
            } else {
                format!("{:0w$x}", x & mask, w = n)
            };
            Ok(s)
        })?,
    )?;
    Ok(t)
}
