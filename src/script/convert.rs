//! Lua <-> reply conversion, as Redis 7.0 does it in both directions.

use mlua::{Lua, Table, Value};

use super::resp::{fmt_g, RespValue};

/// Beyond this nesting a reply becomes `reached lua stack limit`, as Redis
/// answers when the Lua stack cannot grow further.
const MAX_DEPTH: usize = 1000;

/// Text of a string or number argument as `lua_tolstring` gives it:
/// strings as they are, numbers as Lua 5.1 prints them (`%.14g`).
pub(crate) fn arg_bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(i) => Some(fmt_g(*i as f64, 14).into_bytes()),
        Value::Number(n) => Some(fmt_g(*n, 14).into_bytes()),
        _ => None,
    }
}

/// Text of one command argument, as `redis.call` passes it: strings as
/// they are, numbers with `%.17g` (so 2^60 is `1.152921504606847e+18`).
pub(crate) fn command_arg(v: &Value) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match v {
        Value::String(s) => out.extend_from_slice(&s.as_bytes()),
        // mlua hands integral numbers over as integers; Lua 5.1 has
        // doubles only.
        Value::Integer(i) => number_text(*i as f64, &mut out),
        Value::Number(n) => number_text(*n, &mut out),
        _ => return None,
    }
    Some(out)
}

/// A Lua number as Redis's `redis.call` passes it: `%.17g`, appended.
pub(crate) fn number_text(n: f64, out: &mut Vec<u8>) {
    // `%.17g` writes an integer below 1e17 in full, as plain digits.
    if n.fract() == 0.0 && n.abs() < 1e17 && !(n == 0.0 && n.is_sign_negative()) {
        let mut b = itoa::Buffer::new();
        out.extend_from_slice(b.format(n as i64).as_bytes());
    } else {
        out.extend_from_slice(fmt_g(n, 17).as_bytes());
    }
}

/// The text of a Redis error table built from `text`: `-CODE msg` keeps its
/// code, anything else gets `ERR`; CR and LF are trimmed from the ends.
pub(crate) fn error_text(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 4);
    error_text_into(text, &mut out);
    out
}

/// `error_text` appended to `out`.
pub(crate) fn error_text_into(text: &[u8], out: &mut Vec<u8>) {
    let (code, msg): (&[u8], &[u8]) = if let Some(rest) = text.strip_prefix(b"-") {
        match rest.iter().position(|&c| c == b' ') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (b"ERR", rest),
        }
    } else {
        (b"ERR", text)
    };
    let mut start = 0;
    let mut end = msg.len();
    while start < end && (msg[start] == b'\r' || msg[start] == b'\n') {
        start += 1;
    }
    while end > start && (msg[end - 1] == b'\r' || msg[end - 1] == b'\n') {
        end -= 1;
    }
    out.extend_from_slice(code);
    out.push(b' ');
    out.extend_from_slice(&msg[start..end]);
}

/// `{err = <error_text(text)>}`.
pub(crate) fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(error_text(text))?)?;
    Ok(Value::Table(t))
}

/// The field Redis sets on the error table of a `redis.call` whose command
/// failed or was refused: the error is in errorstats already, and is not
/// counted again when it becomes the script's reply.
pub(crate) const ERROR_COUNTED: &str = "ignore_error_stats_update";

/// Whether a script's value is an error table marked with `ERROR_COUNTED`.
pub(crate) fn is_counted_error(v: &Value) -> bool {
    let Value::Table(t) = v else {
        return false;
    };
    matches!(field(t, "err"), Value::String(_))
        && matches!(field(t, ERROR_COUNTED), Value::Boolean(true))
}

/// A Lua number as Redis turns it into an integer reply: the C cast, which on
/// x86-64 gives i64::MIN for NaN and anything out of range.
pub(crate) fn number_to_int(n: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

fn field(t: &Table, name: &str) -> Value {
    t.raw_get::<Value>(name).unwrap_or(Value::Nil)
}

/// A script's value as a reply. `resp` is the protocol the script selected:
/// under 2, true is `:1` and false is a null; under 3 both are booleans.
pub(crate) fn lua_to_resp(v: &Value, resp: u8, depth: usize) -> RespValue {
    super::deep(|| lua_to_resp_inner(v, resp, depth))
}

fn lua_to_resp_inner(v: &Value, resp: u8, depth: usize) -> RespValue {
    if depth > MAX_DEPTH {
        return RespValue::err("reached lua stack limit");
    }
    match v {
        Value::String(s) => RespValue::Bulk(s.as_bytes().to_vec()),
        Value::Boolean(b) => {
            if resp == 3 {
                RespValue::Bool(*b)
            } else if *b {
                RespValue::Int(1)
            } else {
                RespValue::Nil
            }
        }
        Value::Integer(i) => RespValue::Int(*i),
        Value::Number(n) => RespValue::Int(number_to_int(*n)),
        Value::Table(t) => table_to_resp(t, resp, depth),
        _ => RespValue::Nil,
    }
}

fn table_to_resp(t: &Table, resp: u8, depth: usize) -> RespValue {
    if let Value::String(s) = field(t, "err") {
        return RespValue::Error(s.as_bytes().to_vec());
    }
    if let Value::String(s) = field(t, "ok") {
        return RespValue::Status(s.as_bytes().to_vec());
    }
    match field(t, "double") {
        Value::Number(n) => return RespValue::Double(n),
        Value::Integer(i) => return RespValue::Double(i as f64),
        _ => {}
    }
    if let Value::String(s) = field(t, "big_number") {
        let b: Vec<u8> = s
            .as_bytes()
            .iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
            .collect();
        return RespValue::BigNumber(b);
    }
    if let Value::Table(m) = field(t, "map") {
        let mut pairs = Vec::new();
        for (k, v) in m.pairs::<Value, Value>().flatten() {
            pairs.push((
                lua_to_resp(&k, resp, depth + 1),
                lua_to_resp(&v, resp, depth + 1),
            ));
        }
        return RespValue::Map(pairs);
    }
    if let Value::Table(s) = field(t, "set") {
        let mut items = Vec::new();
        for (k, _) in s.pairs::<Value, Value>().flatten() {
            items.push(lua_to_resp(&k, resp, depth + 1));
        }
        return RespValue::Set(items);
    }
    if let Value::Table(vt) = field(t, "verbatim_string") {
        if let (Value::String(f), Value::String(s)) = (field(&vt, "format"), field(&vt, "string")) {
            let fb = f.as_bytes();
            let mut format = *b"txt";
            for (i, c) in fb.iter().take(3).enumerate() {
                format[i] = *c;
            }
            return RespValue::Verbatim {
                format,
                text: s.as_bytes().to_vec(),
            };
        }
    }
    let mut items = Vec::new();
    let mut j = 1i64;
    loop {
        let v: Value = t.raw_get(j).unwrap_or(Value::Nil);
        if v.is_nil() {
            break;
        }
        items.push(lua_to_resp(&v, resp, depth + 1));
        j += 1;
    }
    RespValue::Array(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_derivation() {
        assert_eq!(error_text(b"-x y"), b"x y");
        assert_eq!(error_text(b"-x"), b"ERR x");
        assert_eq!(error_text(b"-"), b"ERR ");
        assert_eq!(error_text(b"plain text"), b"ERR plain text");
        assert_eq!(error_text(b"-ERR bad\r\n"), b"ERR bad");
    }

    #[test]
    fn number_cast() {
        assert_eq!(number_to_int(3.7), 3);
        assert_eq!(number_to_int(-2.9), -2);
        assert_eq!(number_to_int(1e20), i64::MIN);
        assert_eq!(number_to_int(f64::NAN), i64::MIN);
        assert_eq!(number_to_int(-9_223_372_036_854_775_808.0), i64::MIN);
    }
}
