//! Minimal RESP request encoder and an incremental, allocation-free reply
//! scanner.
//!
//! Requests are appended to a caller-owned, reused `Vec<u8>`. Replies are
//! scanned in place in the connection's read buffer: [`scan`] reports whether
//! a complete reply is present, how long it is and what kind it is, without
//! copying or allocating. [`for_each_value`] walks the bulk strings of a
//! complete reply (used only by `--verify`).

use memchr::memchr;

/// Top-level kind of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `+OK` and friends.
    Simple,
    /// `-ERR ...`.
    Error,
    /// `:123` (and RESP3 scalars: doubles, booleans, big numbers).
    Integer,
    /// `$n` bulk string.
    Bulk,
    /// `$-1`, `*-1` or RESP3 `_`.
    Nil,
    /// `*n` array (RESP3 aggregates too).
    Array,
}

/// Summary of one complete reply at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyInfo {
    /// Bytes the reply occupies, CRLFs included.
    pub len: usize,
    /// Its top-level kind.
    pub kind: Kind,
    /// Nil bulk strings inside it (for `MGET`: the misses).
    pub nils: u32,
}

/// The peer sent something that is not RESP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoError(pub String);

impl std::fmt::Display for ProtoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "protocol error: {}", self.0)
    }
}

const MAX_DEPTH: u32 = 8;

/// Scans one reply at the start of `buf`.
///
/// Returns `Ok(None)` when the reply is not complete yet (read more and call
/// again with the same start), `Ok(Some(info))` when it is.
pub fn scan(buf: &[u8]) -> Result<Option<ReplyInfo>, ProtoError> {
    let mut nils = 0u32;
    match scan_at(buf, 0, 0, &mut nils)? {
        None => Ok(None),
        Some((end, kind)) => Ok(Some(ReplyInfo {
            len: end,
            kind,
            nils,
        })),
    }
}

/// Finds the line starting at `pos + 1` (after the type byte). Returns the
/// line's contents and the offset just past its CRLF.
#[inline]
fn line_at(buf: &[u8], pos: usize) -> Result<Option<(&[u8], usize)>, ProtoError> {
    let rest = &buf[pos + 1..];
    match memchr(b'\n', rest) {
        None => Ok(None),
        Some(nl) => {
            if nl == 0 || rest[nl - 1] != b'\r' {
                return Err(ProtoError("line not terminated by CRLF".into()));
            }
            Ok(Some((&rest[..nl - 1], pos + 1 + nl + 1)))
        }
    }
}

#[inline]
fn parse_int(line: &[u8]) -> Result<i64, ProtoError> {
    let (neg, digits) = match line.first() {
        Some(b'-') => (true, &line[1..]),
        _ => (false, line),
    };
    if digits.is_empty() || digits.len() > 18 {
        return Err(ProtoError(format!(
            "bad length {:?}",
            String::from_utf8_lossy(line)
        )));
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(ProtoError(format!(
                "bad length {:?}",
                String::from_utf8_lossy(line)
            )));
        }
        v = v * 10 + i64::from(d - b'0');
    }
    Ok(if neg { -v } else { v })
}

fn scan_at(
    buf: &[u8],
    pos: usize,
    depth: u32,
    nils: &mut u32,
) -> Result<Option<(usize, Kind)>, ProtoError> {
    if pos >= buf.len() {
        return Ok(None);
    }
    if depth > MAX_DEPTH {
        return Err(ProtoError("reply nested too deeply".into()));
    }
    let ty = buf[pos];
    let Some((line, next)) = line_at(buf, pos)? else {
        return Ok(None);
    };
    match ty {
        b'+' => Ok(Some((next, Kind::Simple))),
        b'-' => Ok(Some((next, Kind::Error))),
        b':' | b',' | b'#' | b'(' => Ok(Some((next, Kind::Integer))),
        b'_' => {
            *nils += 1;
            Ok(Some((next, Kind::Nil)))
        }
        b'$' | b'=' | b'!' => {
            let n = parse_int(line)?;
            if n < 0 {
                *nils += 1;
                return Ok(Some((next, Kind::Nil)));
            }
            let end = next + n as usize + 2;
            if end > buf.len() {
                return Ok(None);
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Err(ProtoError("bulk string not terminated by CRLF".into()));
            }
            Ok(Some((
                end,
                if ty == b'!' { Kind::Error } else { Kind::Bulk },
            )))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = parse_int(line)?;
            if n < 0 {
                *nils += 1;
                return Ok(Some((next, Kind::Nil)));
            }
            let elems = if ty == b'%' || ty == b'|' { 2 * n } else { n };
            let mut at = next;
            for _ in 0..elems {
                match scan_at(buf, at, depth + 1, nils)? {
                    None => return Ok(None),
                    Some((end, _)) => at = end,
                }
            }
            if ty == b'|' {
                // An attribute precedes the real reply.
                return scan_at(buf, at, depth + 1, nils);
            }
            Ok(Some((at, Kind::Array)))
        }
        other => Err(ProtoError(format!(
            "unexpected type byte {:?}",
            other as char
        ))),
    }
}

/// One value met by [`for_each_value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Bulk(&'a [u8]),
    Nil,
    Other,
}

/// Calls `f` for the reply itself when it is a scalar, or for each element
/// when it is an array. `reply` must hold one complete reply (as measured by
/// [`scan`]).
pub fn for_each_value<'a>(reply: &'a [u8], mut f: impl FnMut(Value<'a>)) {
    let Ok(Some((line, next))) = line_at(reply, 0) else {
        f(Value::Other);
        return;
    };
    match reply[0] {
        b'*' => {
            let n = parse_int(line).unwrap_or(-1);
            let mut at = next;
            for _ in 0..n.max(0) {
                let mut ignored = 0;
                let Ok(Some((end, _))) = scan_at(reply, at, 1, &mut ignored) else {
                    return;
                };
                f(scalar(&reply[at..end]));
                at = end;
            }
        }
        _ => f(scalar(reply)),
    }
}

fn scalar(item: &[u8]) -> Value<'_> {
    match item.first() {
        Some(b'$') => match line_at(item, 0) {
            Ok(Some((line, next))) => match parse_int(line) {
                Ok(n) if n < 0 => Value::Nil,
                Ok(n) => Value::Bulk(&item[next..next + n as usize]),
                Err(_) => Value::Other,
            },
            _ => Value::Other,
        },
        Some(b'_') => Value::Nil,
        _ => Value::Other,
    }
}

/// Appends `*n\r\n`.
#[inline]
pub fn put_array_header(buf: &mut Vec<u8>, n: usize) {
    buf.push(b'*');
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    buf.extend_from_slice(b"\r\n");
}

/// Appends one bulk string.
#[inline]
pub fn put_bulk(buf: &mut Vec<u8>, data: &[u8]) {
    buf.push(b'$');
    buf.extend_from_slice(itoa::Buffer::new().format(data.len()).as_bytes());
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(data);
    buf.extend_from_slice(b"\r\n");
}

/// Formats keys as `<prefix><index zero-padded to width>` (the shape
/// `redis-benchmark -r` uses: `key:000000012345`).
#[derive(Debug, Clone)]
pub struct KeyFormat {
    prefix: Vec<u8>,
    width: usize,
}

impl KeyFormat {
    pub fn new(prefix: &str, keyspace: u64) -> Self {
        let digits = keyspace.saturating_sub(1).max(1).ilog10() as usize + 1;
        KeyFormat {
            prefix: prefix.as_bytes().to_vec(),
            width: digits.max(12),
        }
    }

    /// Length of every key in bytes.
    pub fn key_len(&self) -> usize {
        self.prefix.len() + self.width
    }

    /// Appends the key with index `idx` as a bulk string.
    #[inline]
    pub fn put_key(&self, buf: &mut Vec<u8>, idx: u64) {
        buf.push(b'$');
        buf.extend_from_slice(itoa::Buffer::new().format(self.key_len()).as_bytes());
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(&self.prefix);
        let mut digits = [b'0'; 20];
        let mut i = digits.len();
        let mut v = idx;
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        let width = self.width.max(digits.len() - i);
        if width > digits.len() {
            buf.resize(buf.len() + width - digits.len(), b'0');
            buf.extend_from_slice(&digits);
        } else {
            buf.extend_from_slice(&digits[digits.len() - width..]);
        }
        buf.extend_from_slice(b"\r\n");
    }

    /// The key as a string (for messages and tests).
    #[cfg(test)]
    pub fn key_string(&self, idx: u64) -> String {
        let mut buf = Vec::new();
        self.put_key(&mut buf, idx);
        let s = String::from_utf8(buf).unwrap();
        let body = s.split("\r\n").nth(1).unwrap().to_string();
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(buf: &[u8]) -> Option<ReplyInfo> {
        scan(buf).unwrap()
    }

    #[test]
    fn scans_simple_error_integer() {
        assert_eq!(
            info(b"+OK\r\n"),
            Some(ReplyInfo {
                len: 5,
                kind: Kind::Simple,
                nils: 0
            })
        );
        assert_eq!(info(b"-ERR no\r\n+OK\r\n").unwrap().kind, Kind::Error);
        assert_eq!(info(b"-ERR no\r\n+OK\r\n").unwrap().len, 9);
        assert_eq!(info(b":42\r\n").unwrap().kind, Kind::Integer);
    }

    #[test]
    fn scans_bulk_and_nil() {
        let r = info(b"$3\r\nabc\r\n").unwrap();
        assert_eq!((r.len, r.kind, r.nils), (9, Kind::Bulk, 0));
        let r = info(b"$-1\r\n").unwrap();
        assert_eq!((r.len, r.kind, r.nils), (5, Kind::Nil, 1));
        let r = info(b"$0\r\n\r\n").unwrap();
        assert_eq!((r.len, r.kind), (6, Kind::Bulk));
    }

    #[test]
    fn incomplete_replies_wait_for_more() {
        let full = b"*3\r\n$3\r\nabc\r\n$-1\r\n$2\r\nxy\r\n";
        for cut in 0..full.len() {
            assert_eq!(info(&full[..cut]), None, "cut at {cut}");
        }
        let r = info(full).unwrap();
        assert_eq!((r.len, r.kind, r.nils), (full.len(), Kind::Array, 1));
    }

    #[test]
    fn bulk_may_contain_crlf() {
        let r = info(b"$4\r\n\r\n\r\n\r\n").unwrap();
        assert_eq!((r.len, r.kind), (10, Kind::Bulk));
    }

    #[test]
    fn rejects_garbage() {
        assert!(scan(b"hello\r\n").is_err());
        assert!(scan(b"$x\r\n").is_err());
        assert!(scan(b"$3\r\nabcde\r\n").is_err());
    }

    #[test]
    fn visits_values() {
        let mut seen = Vec::new();
        for_each_value(b"*3\r\n$3\r\nabc\r\n$-1\r\n:1\r\n", |v| {
            seen.push(format!("{v:?}"))
        });
        assert_eq!(seen, vec!["Bulk([97, 98, 99])", "Nil", "Other"]);
        let mut seen = Vec::new();
        for_each_value(b"$2\r\nxy\r\n", |v| seen.push(v));
        assert_eq!(seen, vec![Value::Bulk(b"xy")]);
    }

    #[test]
    fn encodes_commands_and_keys() {
        let kf = KeyFormat::new("key:", 100_000);
        let mut buf = Vec::new();
        put_array_header(&mut buf, 2);
        put_bulk(&mut buf, b"GET");
        kf.put_key(&mut buf, 12345);
        assert_eq!(
            buf,
            b"*2\r\n$3\r\nGET\r\n$16\r\nkey:000000012345\r\n".to_vec()
        );
        assert_eq!(kf.key_string(0), "key:000000000000");
        let wide = KeyFormat::new("k", 10_000_000_000_000);
        assert_eq!(wide.key_string(7), "k0000000000007");
    }
}
