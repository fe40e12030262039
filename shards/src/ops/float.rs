//! C's `strtod` as Redis meets it, in its three uses: `string2d` (ZADD and
//! ZINCRBY scores, WEIGHTS), the bounds of a score range (`zslParseRange`),
//! and SORT's numeric keys. They differ in what they accept around the
//! number (spaces, trailing bytes, overflow), so the parse reports how far
//! it read and whether it over- or underflowed, as `strtod` does through
//! `endptr` and `errno`.

/// What `strtod` makes of a byte string read up to its first NUL.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Strtod {
    /// The value (0 when nothing converted).
    pub value: f64,
    /// Bytes consumed (`endptr - s`; 0 when nothing converted).
    pub end: usize,
    /// `errno == ERANGE`: the value overflowed to infinity, or underflowed
    /// to zero or a subnormal.
    pub erange: bool,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn starts_ci(s: &[u8], word: &[u8]) -> bool {
    s.len() >= word.len() && s[..word.len()].eq_ignore_ascii_case(word)
}

/// glibc's `strtod`: leading white space, a sign, then `inf`/`infinity`,
/// `nan[(chars)]`, a hexadecimal float (`0x1.8p3`) or a decimal one.
pub fn strtod(s: &[u8]) -> Strtod {
    let s = &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())];
    let none = Strtod {
        value: 0.0,
        end: 0,
        erange: false,
    };
    let mut i = 0;
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    if starts_ci(rest, b"inf") {
        let n = if starts_ci(rest, b"infinity") { 8 } else { 3 };
        return Strtod {
            value: sign(f64::INFINITY),
            end: i + n,
            erange: false,
        };
    }
    if starts_ci(rest, b"nan") {
        let mut end = i + 3;
        if s.get(end) == Some(&b'(') {
            let mut j = end + 1;
            while j < s.len() && (s[j].is_ascii_alphanumeric() || s[j] == b'_') {
                j += 1;
            }
            if s.get(j) == Some(&b')') {
                end = j + 1;
            }
        }
        return Strtod {
            value: f64::NAN,
            end,
            erange: false,
        };
    }
    if (starts_ci(rest, b"0x"))
        && (rest.get(2).is_some_and(u8::is_ascii_hexdigit)
            || (rest.get(2) == Some(&b'.') && rest.get(3).is_some_and(u8::is_ascii_hexdigit)))
    {
        let (v, n, erange) = hex(&rest[2..]);
        return Strtod {
            value: sign(v),
            end: i + 2 + n,
            erange,
        };
    }
    let start = i;
    let mut digits = 0;
    let mut nonzero = false;
    while i < s.len() && s[i].is_ascii_digit() {
        nonzero |= s[i] != b'0';
        digits += 1;
        i += 1;
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        while i < s.len() && s[i].is_ascii_digit() {
            nonzero |= s[i] != b'0';
            digits += 1;
            i += 1;
        }
    }
    if digits == 0 {
        return none;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(s.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if s.get(j).is_some_and(u8::is_ascii_digit) {
            while j < s.len() && s[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    // The text is ASCII digits, a point and an exponent: Rust's parser
    // reads exactly that grammar, rounding correctly as glibc does.
    let text = std::str::from_utf8(&s[start..i]).unwrap_or("0");
    let v: f64 = text.parse().unwrap_or(0.0);
    let erange = v.is_infinite() || (nonzero && (v == 0.0 || v.is_subnormal()));
    Strtod {
        value: sign(v),
        end: i,
        erange,
    }
}

/// The digits of a hexadecimal float after `0x`: its value, the bytes
/// read, and whether it over- or underflowed.
fn hex(s: &[u8]) -> (f64, usize, bool) {
    let mut i = 0;
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut sticky = false;
    let mut nonzero = false;
    let mut seen_point = false;
    while i < s.len() {
        let c = s[i];
        if c == b'.' && !seen_point {
            seen_point = true;
            i += 1;
            continue;
        }
        let Some(d) = (c as char).to_digit(16) else {
            break;
        };
        nonzero |= d != 0;
        if mant >> 60 == 0 {
            mant = mant << 4 | d as u64;
            if seen_point {
                exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !seen_point {
                exp += 4;
            }
        }
        i += 1;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        let mut j = i + 1;
        let neg = match s.get(j) {
            Some(b'-') => {
                j += 1;
                true
            }
            Some(b'+') => {
                j += 1;
                false
            }
            _ => false,
        };
        if s.get(j).is_some_and(u8::is_ascii_digit) {
            let mut e: i64 = 0;
            while j < s.len() && s[j].is_ascii_digit() {
                e = (e * 10 + (s[j] - b'0') as i64).min(1 << 20);
                j += 1;
            }
            exp += if neg { -e } else { e };
            i = j;
        }
    }
    if sticky {
        mant |= 1;
    }
    let mut v = mant as f64;
    let mut e = exp;
    while e > 0 {
        let step = e.min(1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    while e < 0 {
        let step = (-e).min(1000);
        v /= 2f64.powi(step as i32);
        e += step;
    }
    let erange = v.is_infinite() || (nonzero && (v == 0.0 || v.is_subnormal()));
    (v, i, erange)
}

/// Redis's `string2d` (`getDoubleFromObject`): the whole argument is one
/// number (no leading space, no NUL), neither overflowing nor underflowing
/// to zero, and not NaN.
pub fn string2d(s: &[u8]) -> Option<f64> {
    if s.is_empty() || is_space(s[0]) {
        return None;
    }
    let r = strtod(s);
    if r.end != s.len()
        || (r.erange && (r.value.is_infinite() || r.value == 0.0))
        || r.value.is_nan()
    {
        return None;
    }
    Some(r.value)
}

/// One end of a score range as `zslParseRange` reads it (after its `(`):
/// `strtod` up to a NUL or the end (an empty string is 0; overflow is
/// infinity), not NaN.
pub fn range_bound(s: &[u8]) -> Option<f64> {
    let r = strtod(s);
    if s.get(r.end).is_some_and(|&c| c != 0) || r.value.is_nan() {
        return None;
    }
    Some(r.value)
}

/// SORT's numeric value of an element or a BY key: `strtod` up to a NUL or
/// the end, without over- or underflow, not NaN.
pub fn sort_value(s: &[u8]) -> Option<f64> {
    let r = strtod(s);
    if s.get(r.end).is_some_and(|&c| c != 0) || r.erange || r.value.is_nan() {
        return None;
    }
    Some(r.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2d_accepts_what_redis_accepts() {
        let ok = |s: &str| string2d(s.as_bytes());
        assert_eq!(ok("1.5"), Some(1.5));
        assert_eq!(ok("-0"), Some(-0.0));
        assert_eq!(ok("+3"), Some(3.0));
        assert_eq!(ok(".5"), Some(0.5));
        assert_eq!(ok("5."), Some(5.0));
        assert_eq!(ok("1e3"), Some(1000.0));
        assert_eq!(ok("inf"), Some(f64::INFINITY));
        assert_eq!(ok("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(ok("0x10"), Some(16.0));
        assert_eq!(ok("0x1.8p1"), Some(3.0));
        assert_eq!(ok("1e-310"), Some(1e-310));
        for bad in [
            "", " 1", "1 ", "nan", "1e400", "-1e400", "1e-400", "abc", "1x", "e5", ".",
        ] {
            assert_eq!(ok(bad), None, "{bad:?}");
        }
        assert_eq!(string2d(b"1\x002"), None);
    }

    #[test]
    fn range_bounds_and_sort_values() {
        assert_eq!(range_bound(b""), Some(0.0));
        assert_eq!(range_bound(b" 2"), Some(2.0));
        assert_eq!(range_bound(b"1e400"), Some(f64::INFINITY));
        assert_eq!(range_bound(b"3\x00junk"), Some(3.0));
        assert_eq!(range_bound(b"3 "), None);
        assert_eq!(range_bound(b"nan"), None);
        assert_eq!(sort_value(b""), Some(0.0));
        assert_eq!(sort_value(b"1e400"), None);
        assert_eq!(sort_value(b"1e-310"), None);
        assert_eq!(sort_value(b"12abc"), None);
        assert_eq!(sort_value(b" -4.5"), Some(-4.5));
    }
}
