//! The RDB object primitives: lengths, strings (raw, integer-encoded,
//! LZF-compressed), and the number formats shared by the encodings.
//!
//! Length: the top two bits of the first byte select the form:
//! - `00xxxxxx`: 6-bit length;
//! - `01xxxxxx yyyyyyyy`: 14-bit length, high bits first;
//! - `0x80` + 4 bytes big-endian: 32-bit length; `0x81` + 8 bytes
//!   big-endian: 64-bit length;
//! - `11xxxxxx`: not a length but a special string encoding: 0 = INT8,
//!   1 = INT16, 2 = INT32 (little-endian, the string is the decimal text),
//!   3 = LZF (compressed length, original length, compressed bytes).

use super::{lzf, RdbError};

pub(crate) type Result<T> = std::result::Result<T, RdbError>;

pub(crate) const ENC_INT8: u8 = 0;
pub(crate) const ENC_INT16: u8 = 1;
pub(crate) const ENC_INT32: u8 = 2;
pub(crate) const ENC_LZF: u8 = 3;

/// A bounds-checked cursor over a byte slice.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// A length as read: a plain one, or the marker of a special string
/// encoding.
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(RdbError::BadFormat("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(RdbError::BadFormat("truncated"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn len_or_encoding(&mut self) -> Result<Len> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3f) as u64),
            1 => Len::Plain(((b as u64 & 0x3f) << 8) | self.u8()? as u64),
            3 => Len::Encoded(b & 0x3f),
            _ => match b {
                0x80 => Len::Plain(u32::from_be_bytes(self.array()?) as u64),
                0x81 => Len::Plain(u64::from_be_bytes(self.array()?)),
                _ => return Err(RdbError::BadFormat("unknown length encoding")),
            },
        })
    }

    /// A length (an element count, a container tag).
    pub(crate) fn len(&mut self) -> Result<u64> {
        match self.len_or_encoding()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(RdbError::BadFormat(
                "string encoding where a length belongs",
            )),
        }
    }

    /// A length that counts things each taking at least `min_bytes` of the
    /// rest of the input, so that a capacity derived from it is bounded by
    /// the input size.
    pub(crate) fn count(&mut self, min_bytes: usize) -> Result<usize> {
        let n = self.len()?;
        if n > (self.remaining() / min_bytes.max(1)) as u64 {
            return Err(RdbError::BadFormat("count exceeds the payload"));
        }
        Ok(n as usize)
    }

    /// A string in any of its encodings.
    pub(crate) fn string(&mut self) -> Result<Vec<u8>> {
        match self.len_or_encoding()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| RdbError::BadFormat("truncated"))?;
                Ok(self.take(n)?.to_vec())
            }
            Len::Encoded(ENC_INT8) => Ok(int_text(self.u8()? as i8 as i64)),
            Len::Encoded(ENC_INT16) => Ok(int_text(i16::from_le_bytes(self.array()?) as i64)),
            Len::Encoded(ENC_INT32) => Ok(int_text(i32::from_le_bytes(self.array()?) as i64)),
            Len::Encoded(ENC_LZF) => {
                let clen = self.len()?;
                let len = self.len()?;
                let clen = usize::try_from(clen).map_err(|_| RdbError::BadFormat("truncated"))?;
                let data = self.take(clen)?;
                let len =
                    usize::try_from(len).map_err(|_| RdbError::BadFormat("bad LZF length"))?;
                lzf::decompress(data, len).ok_or(RdbError::BadFormat("bad LZF data"))
            }
            Len::Encoded(_) => Err(RdbError::BadFormat("unknown string encoding")),
        }
    }
}

pub(crate) fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Writes a string the way Redis 7.0 does: a canonical integer of at most
/// 11 characters that fits 32 bits as INT8/16/32; else, with `compress` and
/// over 20 bytes, LZF when that saves at least 4 bytes; else raw.
pub(crate) fn write_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(v) = canonical_int(s) {
            if let Ok(v) = i8::try_from(v) {
                out.push(0xc0 | ENC_INT8);
                out.push(v as u8);
                return;
            }
            if let Ok(v) = i16::try_from(v) {
                out.push(0xc0 | ENC_INT16);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
            if let Ok(v) = i32::try_from(v) {
                out.push(0xc0 | ENC_INT32);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
        }
    }
    if compress && s.len() > 20 {
        if let Some(c) = lzf::compress(s, s.len() - 4) {
            out.push(0xc0 | ENC_LZF);
            write_len(out, c.len() as u64);
            write_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// `s` as an `i64` when it is the exact decimal text of one: no sign but a
/// leading `-`, no leading zero, no `-0`, no spaces (Redis's `string2ll`
/// round-trip rule, which decides integer encodings everywhere).
pub fn canonical_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    // Accumulate negatively so that i64::MIN fits.
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_sub((c - b'0') as i64)?;
    }
    if neg {
        Some(v)
    } else {
        v.checked_neg()
    }
}

/// The decimal text of `v`.
pub(crate) fn int_text(v: i64) -> Vec<u8> {
    itoa::Buffer::new().format(v).as_bytes().to_vec()
}

/// C's `printf("%.17g", x)`, with `nan`, `inf` and `-inf` spelled as Redis
/// spells them.
pub fn fmt_g17(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    const P: i32 = 17;
    // 17 significant digits, correctly rounded: "d.dddddddddddddddde<exp>".
    let sci = format!("{:.*e}", (P - 1) as usize, x.abs());
    let (mant, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    let digits: Vec<u8> = mant.bytes().filter(|c| c.is_ascii_digit()).collect();
    let mut s = String::with_capacity(26);
    if x < 0.0 {
        s.push('-');
    }
    if !(-4..P).contains(&exp) {
        let frac = trim_zeros(&digits[1..]);
        s.push(digits[0] as char);
        if !frac.is_empty() {
            s.push('.');
            s.push_str(std::str::from_utf8(frac).expect("digits"));
        }
        s.push('e');
        s.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            s.push('0');
        }
        s.push_str(&e.to_string());
    } else if exp >= 0 {
        let (int, frac) = digits.split_at(exp as usize + 1);
        s.push_str(std::str::from_utf8(int).expect("digits"));
        let frac = trim_zeros(frac);
        if !frac.is_empty() {
            s.push('.');
            s.push_str(std::str::from_utf8(frac).expect("digits"));
        }
    } else {
        s.push_str("0.");
        for _ in 0..(-exp - 1) {
            s.push('0');
        }
        s.push_str(std::str::from_utf8(trim_zeros(&digits)).expect("digits"));
    }
    s
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let end = d.iter().rposition(|&c| c != b'0').map_or(0, |i| i + 1);
    &d[..end]
}

/// The integer a score is stored as in a listpack or ziplist, when it is
/// one: an integral value within ±2^62 (Redis's `double2ll`). `-0.0`
/// becomes `0`.
pub(crate) fn score_as_int(x: f64) -> Option<i64> {
    const LIMIT: f64 = (i64::MAX / 2) as f64; // 2^62 once rounded
    if !(-LIMIT..=LIMIT).contains(&x) {
        return None;
    }
    let v = x as i64;
    (v as f64 == x).then_some(v)
}

/// The text a score is stored as in a listpack or ziplist: the integer, or
/// `%.17g`.
pub(crate) fn score_text(x: f64) -> Vec<u8> {
    match score_as_int(x) {
        Some(v) => int_text(v),
        None => fmt_g17(x).into_bytes(),
    }
}

/// A score stored as text (ZSET, listpack and ziplist zsets); NaN and
/// unparsable text are errors.
pub(crate) fn parse_score(s: &[u8]) -> Result<f64> {
    let v: f64 = std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(RdbError::BadFormat("unparsable score"))?;
    if v.is_nan() {
        return Err(RdbError::BadFormat("NaN score"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for n in [
            0u64,
            1,
            63,
            64,
            16383,
            16384,
            70000,
            u32::MAX as u64,
            1 << 40,
        ] {
            let mut out = Vec::new();
            write_len(&mut out, n);
            let mut r = Reader::new(&out);
            assert_eq!(r.len().unwrap(), n);
            assert!(r.is_empty());
        }
        let mut out = Vec::new();
        write_len(&mut out, 20000);
        assert_eq!(out, [0x80, 0x00, 0x00, 0x4e, 0x20]);
        out.clear();
        write_len(&mut out, 115);
        assert_eq!(out, [0x40, 0x73]);
    }

    #[test]
    fn bad_lengths() {
        assert!(Reader::new(&[0x82]).len().is_err());
        assert!(Reader::new(&[0xc0, 1]).len().is_err());
        assert!(Reader::new(&[0x40]).len().is_err());
        assert!(Reader::new(&[0x80, 0, 0]).len().is_err());
        assert!(Reader::new(&[0xc4]).string().is_err());
        assert!(Reader::new(&[0x05, b'a']).string().is_err());
        assert!(Reader::new(&[0x81, 0xff, 0, 0, 0, 0, 0, 0, 0])
            .string()
            .is_err());
    }

    #[test]
    fn strings_as_redis_writes_them() {
        let enc = |s: &[u8], c: bool| {
            let mut out = Vec::new();
            write_string(&mut out, s, c);
            assert_eq!(Reader::new(&out).string().unwrap(), s);
            out
        };
        assert_eq!(enc(b"123", false), [0xc0, 0x7b]);
        assert_eq!(enc(b"-128", false), [0xc0, 0x80]);
        assert_eq!(enc(b"128", false), [0xc1, 0x80, 0x00]);
        assert_eq!(enc(b"-2147483648", false), [0xc2, 0, 0, 0, 0x80]);
        assert_eq!(enc(b"2147483648", false)[0], 10);
        assert_eq!(enc(b"01", false), [2, b'0', b'1']);
        assert_eq!(enc(b"-0", false), [2, b'-', b'0']);
        assert_eq!(enc(b"+1", false), [2, b'+', b'1']);
        assert_eq!(enc(&[b'a'; 20], true)[0], 20);
        assert_eq!(enc(&[b'a'; 21], true)[0], 0xc3);
        assert_eq!(enc(&[b'a'; 21], false)[0], 21);
        assert_eq!(enc(b"abcdefghijklmnopqrstuvwxyz0123", true)[0], 30);
    }

    #[test]
    fn canonical_ints() {
        for (s, v) in [
            ("0", Some(0)),
            ("-1", Some(-1)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-9223372036854775809", None),
            ("-0", None),
            ("00", None),
            ("01", None),
            ("+1", None),
            (" 1", None),
            ("1 ", None),
            ("", None),
            ("-", None),
            ("1a", None),
        ] {
            assert_eq!(canonical_int(s.as_bytes()), v, "{s}");
        }
    }

    #[test]
    fn g17_matches_printf() {
        for (x, s) in [
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (1e100, "1e+100"),
            (1e17, "1e+17"),
            (1e16, "10000000000000000"),
            (1e-5, "1.0000000000000001e-05"),
            (0.0001, "0.0001"),
            (123.456, "123.456"),
            (1.0 / 3.0, "0.33333333333333331"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "4.9406564584124654e-324"),
            (-9.2e18, "-9.2e+18"),
            (4611686018427388928.0, "4.6116860184273889e+18"),
            (1234567890123456.7, "1234567890123456.8"),
            (1e-300, "1e-300"),
            (-0.0, "-0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(fmt_g17(x), s);
        }
    }

    #[test]
    fn scores_in_listpacks() {
        assert_eq!(score_text(1.0), b"1");
        assert_eq!(score_text(-0.0), b"0");
        assert_eq!(score_text(1e17), b"100000000000000000");
        assert_eq!(score_text(4611686018427387904.0), b"4611686018427387904");
        assert_eq!(score_text(-4611686018427387904.0), b"-4611686018427387904");
        assert_eq!(score_text(4611686018427388928.0), b"4.6116860184273889e+18");
        assert_eq!(score_text(9.2e18), b"9.2e+18");
        assert_eq!(score_text(0.1), b"0.10000000000000001");
        assert_eq!(score_text(f64::INFINITY), b"inf");
        assert_eq!(parse_score(b"inf").unwrap(), f64::INFINITY);
        assert_eq!(parse_score(b"-inf").unwrap(), f64::NEG_INFINITY);
        assert_eq!(parse_score(b"1e+100").unwrap(), 1e100);
        assert!(parse_score(b"nan").is_err());
        assert!(parse_score(b"x").is_err());
    }
}
