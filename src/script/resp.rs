//! The owned reply type scripts produce and consume, with RESP2 and RESP3
//! encoders that write bytes exactly as Redis 7.0 does.

/// One reply, owned. Error and status texts carry no leading `-`/`+` and no
/// line ending (an error text starts with its code, e.g. `ERR ...`).
#[derive(Debug, Clone, PartialEq)]
pub enum RespValue {
    Status(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    /// A null bulk string (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// A null array (`*-1` in RESP2, `_` in RESP3).
    NilArray,
    Array(Vec<RespValue>),
    Map(Vec<(RespValue, RespValue)>),
    Set(Vec<RespValue>),
    Double(f64),
    Bool(bool),
    BigNumber(Vec<u8>),
    Verbatim {
        format: [u8; 3],
        text: Vec<u8>,
    },
}

impl RespValue {
    /// An error reply from text such as `ERR something`.
    pub fn err(text: impl AsRef<[u8]>) -> RespValue {
        RespValue::Error(text.as_ref().to_vec())
    }

    pub fn status(text: impl AsRef<[u8]>) -> RespValue {
        RespValue::Status(text.as_ref().to_vec())
    }

    pub fn bulk(text: impl AsRef<[u8]>) -> RespValue {
        RespValue::Bulk(text.as_ref().to_vec())
    }

    pub fn ok() -> RespValue {
        RespValue::Status(b"OK".to_vec())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, RespValue::Error(_))
    }

    /// Appends this reply to `out` in protocol `resp` (2 or 3).
    pub fn encode(&self, resp: u8, out: &mut Vec<u8>) {
        match self {
            RespValue::Array(_) | RespValue::Map(_) | RespValue::Set(_) => {
                super::deep(|| self.encode_here(resp, out))
            }
            _ => self.encode_here(resp, out),
        }
    }

    fn encode_here(&self, resp: u8, out: &mut Vec<u8>) {
        let resp3 = resp >= 3;
        match self {
            RespValue::Status(s) => {
                out.push(b'+');
                out.extend_from_slice(&sanitize_line(s));
                out.extend_from_slice(b"\r\n");
            }
            RespValue::Error(s) => {
                out.push(b'-');
                out.extend_from_slice(&sanitize_line(s));
                out.extend_from_slice(b"\r\n");
            }
            RespValue::Int(n) => {
                out.push(b':');
                out.extend_from_slice(n.to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            RespValue::Bulk(b) => encode_bulk(b, out),
            RespValue::Nil => out.extend_from_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
            RespValue::NilArray => out.extend_from_slice(if resp3 { b"_\r\n" } else { b"*-1\r\n" }),
            RespValue::Array(items) => {
                header(b'*', items.len(), out);
                for it in items {
                    it.encode(resp, out);
                }
            }
            RespValue::Map(pairs) => {
                if resp3 {
                    header(b'%', pairs.len(), out);
                } else {
                    header(b'*', pairs.len() * 2, out);
                }
                for (k, v) in pairs {
                    k.encode(resp, out);
                    v.encode(resp, out);
                }
            }
            RespValue::Set(items) => {
                header(if resp3 { b'~' } else { b'*' }, items.len(), out);
                for it in items {
                    it.encode(resp, out);
                }
            }
            RespValue::Double(d) => {
                let text = format_double(*d);
                if resp3 {
                    out.push(b',');
                    out.extend_from_slice(text.as_bytes());
                    out.extend_from_slice(b"\r\n");
                } else {
                    encode_bulk(text.as_bytes(), out);
                }
            }
            RespValue::Bool(b) => {
                if resp3 {
                    out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" });
                } else {
                    out.extend_from_slice(if *b { b":1\r\n" } else { b":0\r\n" });
                }
            }
            RespValue::BigNumber(n) => {
                if resp3 {
                    out.push(b'(');
                    out.extend_from_slice(n);
                    out.extend_from_slice(b"\r\n");
                } else {
                    encode_bulk(n, out);
                }
            }
            RespValue::Verbatim { format, text } => {
                if resp3 {
                    header(b'=', text.len() + 4, out);
                    out.extend_from_slice(format);
                    out.push(b':');
                    out.extend_from_slice(text);
                    out.extend_from_slice(b"\r\n");
                } else {
                    encode_bulk(text, out);
                }
            }
        }
    }

    pub fn to_resp2(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(2, &mut v);
        v
    }

    pub fn to_resp3(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(3, &mut v);
        v
    }
}

fn header(kind: u8, len: usize, out: &mut Vec<u8>) {
    out.push(kind);
    out.extend_from_slice(len.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn encode_bulk(b: &[u8], out: &mut Vec<u8>) {
    header(b'$', b.len(), out);
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// Status and error lines cannot hold CR or LF: Redis turns each into a space.
fn sanitize_line(s: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if s.iter().any(|&c| c == b'\r' || c == b'\n') {
        std::borrow::Cow::Owned(
            s.iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// A double as Redis writes it in a reply: `%.17g`, `inf`/`-inf`, and NaN
/// with its sign as the C library prints it.
pub fn format_double(d: f64) -> String {
    fmt_g(d, 17)
}

/// C's `%.<prec>g` for a double.
pub fn fmt_g(v: f64, prec: usize) -> String {
    if v.is_nan() {
        return if v.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let p = prec.max(1);
    let sci = format!("{:.*e}", p - 1, v);
    let (mant, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    if exp < -4 || exp >= p as i32 {
        let mut m = mant.to_string();
        strip_zeros(&mut m);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let mut s = format!("{:.*}", (p as i32 - 1 - exp) as usize, v);
        strip_zeros(&mut s);
        s
    }
}

fn strip_zeros(s: &mut String) {
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_format_matches_c() {
        assert_eq!(fmt_g(2.14, 17), "2.1400000000000001");
        assert_eq!(fmt_g(0.1, 17), "0.10000000000000001");
        assert_eq!(fmt_g(10.0, 17), "10");
        assert_eq!(fmt_g(1e300, 17), "1.0000000000000001e+300");
        assert_eq!(fmt_g(1e20, 17), "1e+20");
        assert_eq!(fmt_g(0.1, 14), "0.1");
        assert_eq!(fmt_g(1e15, 14), "1e+15");
        assert_eq!(fmt_g(123456789012.0, 17), "123456789012");
        assert_eq!(fmt_g(0.0001, 14), "0.0001");
        assert_eq!(fmt_g(0.00001, 14), "1e-05");
        assert_eq!(fmt_g(-1.5, 14), "-1.5");
        assert_eq!(fmt_g(f64::INFINITY, 17), "inf");
        assert_eq!(fmt_g(f64::NAN, 17), "nan");
        assert_eq!(fmt_g(-f64::NAN, 17), "-nan");
    }

    #[test]
    fn encodes_like_redis() {
        assert_eq!(
            RespValue::Double(2.14).to_resp2(),
            b"$18\r\n2.1400000000000001\r\n"
        );
        assert_eq!(
            RespValue::Double(2.14).to_resp3(),
            b",2.1400000000000001\r\n"
        );
        assert_eq!(RespValue::Bool(true).to_resp2(), b":1\r\n");
        assert_eq!(RespValue::Bool(false).to_resp3(), b"#f\r\n");
        assert_eq!(RespValue::Nil.to_resp3(), b"_\r\n");
        assert_eq!(RespValue::NilArray.to_resp2(), b"*-1\r\n");
        let m = RespValue::Map(vec![(RespValue::bulk("a"), RespValue::Int(1))]);
        assert_eq!(m.to_resp2(), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(m.to_resp3(), b"%1\r\n$1\r\na\r\n:1\r\n");
        let v = RespValue::Verbatim {
            format: *b"txt",
            text: b"hello".to_vec(),
        };
        assert_eq!(v.to_resp3(), b"=9\r\ntxt:hello\r\n");
        assert_eq!(v.to_resp2(), b"$5\r\nhello\r\n");
        assert_eq!(RespValue::status("a\r\nb").to_resp2(), b"+a  b\r\n");
        assert_eq!(RespValue::BigNumber(b"12".to_vec()).to_resp3(), b"(12\r\n");
    }
}
