//! RESP2 decoding (multibulk and inline, resumable at any byte) and reply
//! encoding, RESP2 and RESP3.
//!
//! The decoder follows Redis's `processMultibulkBuffer` and
//! `processInlineBuffer` (networking.c) closely, so that malformed input gets
//! the same `Protocol error: ...` text and the same leniency: the two bytes
//! after a bulk payload are skipped, not checked, and `*0`/`*-1` are empty
//! commands that are silently ignored.

use shards::batch::{BigArg, KEEP_CAPACITY};
use thiserror::Error;

/// Longest inline command, and longest multibulk or bulk header line (`PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX: usize = 64 * 1024;

/// Input that breaks the protocol; the connection is answered and closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// `*<n>` that is not an integer or is over `i32::MAX`.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// `$<n>` that is not an integer, negative, or over `proto-max-bulk-len`.
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An argument of a multibulk that does not start with `$`.
    #[error("Protocol error: expected '$', got '{}'", *.0 as char)]
    ExpectedDollar(u8),
    /// A multibulk header without CR within 64 KB.
    #[error("Protocol error: too big mbulk count string")]
    TooBigMbulkCount,
    /// A bulk header without CR within 64 KB.
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// An inline command without LF within 64 KB.
    #[error("Protocol error: too big inline request")]
    TooBigInline,
    /// An inline command whose quotes do not close.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// `*<n>` over `UNAUTH_MAX_ARGS` from a connection that must authenticate first.
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// `$<n>` over `UNAUTH_MAX_BULK` from a connection that must authenticate first.
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
}

/// The most arguments a command may have before its connection has
/// authenticated, when a password is required (Redis 7.0's `ll > 10` check
/// in `processMultibulkBuffer`): AUTH and HELLO need no more.
pub const UNAUTH_MAX_ARGS: i64 = 10;
/// The longest bulk string a connection may send before it has
/// authenticated, when a password is required (Redis 7.0: 16 KB). Without
/// it, a client that knows no password could make the server buffer a
/// `proto-max-bulk-len` argument before hearing NOAUTH.
pub const UNAUTH_MAX_BULK: i64 = 16 * 1024;

/// Bytes of bookkeeping each decoded argument costs besides its bytes: its
/// `(start, len)` entry. Counted toward the query buffer limit, so a flood
/// of empty arguments cannot grow memory past it.
pub const ARG_OVERHEAD: usize = std::mem::size_of::<(usize, usize)>();

/// Marks a range whose start indexes `Args::bigs` instead of `data`.
const SHARED: usize = 1 << (usize::BITS - 1);

/// The arguments of one command: copied into one flat buffer, except big
/// ones (`shards::batch::BIG_ARG` bytes or more), which the connection read
/// straight into buffers of their own and which travel to the shards shared,
/// not copied (see `push_big`).
#[derive(Debug, Default)]
pub struct Args {
    data: Vec<u8>,
    /// `(start, len)` in `data`, or `(SHARED | i, len)` for `bigs[i]`.
    ranges: Vec<(usize, usize)>,
    bigs: Vec<BigArg>,
}

impl Args {
    /// Forgets every argument, keeping capacity up to `KEEP_CAPACITY`.
    pub fn clear(&mut self) {
        self.data.clear();
        self.ranges.clear();
        if !self.bigs.is_empty() {
            self.bigs.clear();
        }
        if self.data.capacity() > KEEP_CAPACITY {
            self.data = Vec::new();
        }
        if self.ranges.capacity() * ARG_OVERHEAD > KEEP_CAPACITY {
            self.ranges = Vec::new();
        }
    }
    /// Appends a big argument, read into a buffer of its own, without copying it.
    pub fn push_big(&mut self, arg: BigArg) {
        self.ranges.push((SHARED | self.bigs.len(), arg.len()));
        self.bigs.push(arg);
    }
    /// Appends argument `i` of `other` (a big one is shared, not copied).
    pub fn push_from(&mut self, other: &Args, i: usize) {
        let (start, _) = other.ranges[i];
        if start & SHARED != 0 {
            self.push_big(other.bigs[start & !SHARED].clone());
        } else {
            self.push(other.get(i));
        }
    }
    /// The big arguments, for the router to share rather than copy.
    pub fn bigs(&self) -> &[BigArg] {
        &self.bigs
    }
    /// Starts an argument built byte by byte (`push_byte`, then `end_arg`).
    fn begin_arg(&mut self) -> usize {
        self.data.len()
    }
    fn push_byte(&mut self, b: u8) {
        self.data.push(b);
    }
    fn end_arg(&mut self, start: usize) {
        self.ranges.push((start, self.data.len() - start));
    }
    /// Appends one argument.
    pub fn push(&mut self, arg: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(arg);
        self.ranges.push((start, arg.len()));
    }
    /// Number of arguments, the command name included.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }
    /// True when there is no argument (an empty line or `*0`).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
    /// Argument `i`.
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        let (s, l) = self.ranges[i];
        if s & SHARED != 0 {
            &self.bigs[s & !SHARED][..]
        } else {
            &self.data[s..s + l]
        }
    }
    /// Arguments from `from` on.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = &[u8]> + '_ {
        (from..self.ranges.len()).map(move |i| self.get(i))
    }
    /// Bytes a partly decoded command holds, counted toward the query
    /// buffer limit: its argument bytes and `ARG_OVERHEAD` per argument.
    pub fn bytes(&self) -> usize {
        self.data.len()
            + self.ranges.len() * ARG_OVERHEAD
            + self.bigs.iter().map(|b| b.len()).sum::<usize>()
    }
    /// Bytes held by this buffer (for client memory accounting).
    pub fn capacity(&self) -> usize {
        self.data.capacity()
            + self.ranges.capacity() * ARG_OVERHEAD
            + self.bigs.iter().map(|b| b.capacity()).sum::<usize>()
    }
}

/// What one call of `Decoder::decode` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// A whole command is in `Args` (it may be empty: skip it).
    Command,
    /// More bytes are needed; what was consumed is already in `Args`.
    Incomplete,
}

/// Resumable RESP decoder for one connection. `Incomplete` is control flow:
/// the connection reads more and calls again with the unconsumed bytes.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Arguments still expected in the current multibulk (0: between commands).
    multibulk: usize,
    /// Length of the bulk whose header was read but whose payload was not.
    bulk: Option<usize>,
    /// The connection must authenticate before running commands: headers
    /// over `UNAUTH_MAX_ARGS` / `UNAUTH_MAX_BULK` are protocol errors.
    unauthenticated: bool,
}

impl Decoder {
    /// Applies (or lifts) the limits of a connection that must authenticate
    /// first; the connection sets it before each `decode` (AUTH may have
    /// passed, or a password been set, since the last one).
    pub fn set_unauthenticated(&mut self, on: bool) {
        self.unauthenticated = on;
    }

    /// Decodes from `buf`, returning what it found and how many bytes it consumed.
    pub fn decode(
        &mut self,
        buf: &[u8],
        args: &mut Args,
        max_bulk: usize,
    ) -> Result<(Decoded, usize), ProtocolError> {
        let mut pos = 0;
        if self.multibulk == 0 {
            args.clear();
            if buf.is_empty() {
                return Ok((Decoded::Incomplete, 0));
            }
            if buf[0] != b'*' {
                return decode_inline(buf, args);
            }
            let Some(cr) = memchr::memchr(b'\r', buf) else {
                if buf.len() > INLINE_MAX {
                    return Err(ProtocolError::TooBigMbulkCount);
                }
                return Ok((Decoded::Incomplete, 0));
            };
            if cr + 2 > buf.len() {
                return Ok((Decoded::Incomplete, 0));
            }
            let n = match parse_i64(&buf[1..cr]) {
                Some(n) if n <= i32::MAX as i64 => n,
                _ => return Err(ProtocolError::InvalidMultibulkLength),
            };
            if n > UNAUTH_MAX_ARGS && self.unauthenticated {
                return Err(ProtocolError::UnauthenticatedMultibulkLength);
            }
            pos = cr + 2;
            if n <= 0 {
                return Ok((Decoded::Command, pos));
            }
            self.multibulk = n as usize;
        }
        while self.multibulk > 0 {
            let len = match self.bulk {
                Some(len) => len,
                None => {
                    let rest = &buf[pos..];
                    let Some(cr) = memchr::memchr(b'\r', rest) else {
                        if rest.len() > INLINE_MAX {
                            return Err(ProtocolError::TooBigBulkCount);
                        }
                        break;
                    };
                    if cr + 2 > rest.len() {
                        break;
                    }
                    if rest[0] != b'$' {
                        return Err(ProtocolError::ExpectedDollar(rest[0]));
                    }
                    let len = match parse_i64(&rest[1..cr]) {
                        Some(n) if n >= 0 && n as u64 <= max_bulk as u64 => n,
                        _ => return Err(ProtocolError::InvalidBulkLength),
                    };
                    if len > UNAUTH_MAX_BULK && self.unauthenticated {
                        return Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    let len = len as usize;
                    pos += cr + 2;
                    self.bulk = Some(len);
                    len
                }
            };
            if buf.len() - pos < len + 2 {
                break;
            }
            if len >= shards::batch::BIG_ARG {
                // Already read whole (usually it is read straight into its
                // own buffer, see `finish_big`): one copy out of the read
                // buffer, then shared, not copied again, on its way.
                args.push_big(std::sync::Arc::new(buf[pos..pos + len].to_vec()));
            } else {
                args.push(&buf[pos..pos + len]);
            }
            pos += len + 2;
            self.bulk = None;
            self.multibulk -= 1;
        }
        if self.multibulk == 0 {
            Ok((Decoded::Command, pos))
        } else {
            Ok((Decoded::Incomplete, pos))
        }
    }

    /// Completes the bulk whose header `decode` read last (`pending_bulk`)
    /// with `payload`, its bytes read into a buffer of their own (CRLF cut
    /// off), shared rather than copied from here on. Returns `Command` when
    /// that was the command's last argument.
    pub fn finish_big(&mut self, args: &mut Args, payload: Vec<u8>) -> Decoded {
        debug_assert_eq!(self.bulk, Some(payload.len()));
        args.push_big(std::sync::Arc::new(payload));
        self.bulk = None;
        self.multibulk -= 1;
        if self.multibulk == 0 {
            Decoded::Command
        } else {
            Decoded::Incomplete
        }
    }

    /// True between commands: no multibulk is partly decoded into `Args`.
    pub fn between_commands(&self) -> bool {
        self.multibulk == 0
    }

    /// Bytes the decoder still needs before the current bulk completes, if known;
    /// lets the connection size its read buffer for big values in one step.
    pub fn pending_bulk(&self) -> Option<usize> {
        self.bulk
    }
}

fn decode_inline(buf: &[u8], args: &mut Args) -> Result<(Decoded, usize), ProtocolError> {
    let Some(lf) = memchr::memchr(b'\n', buf) else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok((Decoded::Incomplete, 0));
    };
    let mut line = &buf[..lf];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    split_args(line, args)?;
    Ok((Decoded::Command, lf + 1))
}

/// Redis's `string2ll`, shared with the engine (which parses stored integers).
pub use shards::ops::parse_i64;

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits an inline command line the way Redis's `sdssplitargs` does:
/// whitespace separates, "double quotes" take `\n \r \t \b \a \xHH` and `\c`
/// escapes, 'single quotes' take only `\'`, and a closing quote must be
/// followed by whitespace or the end of the line.
pub fn split_args(line: &[u8], args: &mut Args) -> Result<(), ProtocolError> {
    // sdssplitargs works on a C string: a NUL ends the line.
    let line = match memchr::memchr(0, line) {
        Some(n) => &line[..n],
        None => line,
    };
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Ok(());
        }
        // Unescaped bytes go straight into `args`: no buffer per argument.
        let start = args.begin_arg();
        let (mut inq, mut insq) = (false, false);
        loop {
            let c = at(p);
            if inq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_val(at(p + 2)), hex_val(at(p + 3))) {
                        args.push_byte(h * 16 + l);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    args.push_byte(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    args.push_byte(c);
                }
            } else if insq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    args.push_byte(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    args.push_byte(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    _ => args.push_byte(c),
                }
            }
            p += 1;
        }
        args.end_arg(start);
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Appends replies to an output buffer: RESP2, and RESP3 where a helper
/// takes `resp3`.
pub mod encode {
    /// `+s\r\n`
    pub fn simple(out: &mut Vec<u8>, s: &str) {
        out.push(b'+');
        out.extend_from_slice(s.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    /// `-msg\r\n`; `msg` carries its own prefix (`ERR`, `OOM`, ...). A reply
    /// error must stay on one line, so CR and LF become spaces.
    pub fn error(out: &mut Vec<u8>, msg: &str) {
        error_bytes(out, msg.as_bytes());
    }
    /// `-msg\r\n` from raw bytes (messages that quote client input verbatim).
    pub fn error_bytes(out: &mut Vec<u8>, msg: &[u8]) {
        out.push(b'-');
        for &c in msg {
            out.push(if c == b'\r' || c == b'\n' { b' ' } else { c });
        }
        out.extend_from_slice(b"\r\n");
    }
    /// `:n\r\n`
    pub fn int(out: &mut Vec<u8>, n: i64) {
        out.push(b':');
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    /// `$len\r\nbytes\r\n`
    pub fn bulk(out: &mut Vec<u8>, b: &[u8]) {
        out.push(b'$');
        out.extend_from_slice(itoa::Buffer::new().format(b.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(b);
        out.extend_from_slice(b"\r\n");
    }
    /// `$-1\r\n`, RESP2's null; a reply to a connection that may speak
    /// RESP3 uses `null` instead.
    pub fn nil(out: &mut Vec<u8>) {
        out.extend_from_slice(b"$-1\r\n");
    }
    /// `*n\r\n`
    pub fn array(out: &mut Vec<u8>, n: usize) {
        out.push(b'*');
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    /// `+OK\r\n`
    pub fn ok(out: &mut Vec<u8>) {
        out.extend_from_slice(b"+OK\r\n");
    }

    // RESP3 (after `HELLO 3`): each helper takes the connection's protocol
    // and writes the RESP2 form Redis falls back to otherwise.

    /// A missing value: `_\r\n` in RESP3, the null bulk `$-1\r\n` in RESP2.
    pub fn null(out: &mut Vec<u8>, resp3: bool) {
        // Two constant-length copies, not one of a chosen length: the
        // compiler turns each into a store instead of a memcpy call.
        if resp3 {
            out.extend_from_slice(b"_\r\n");
        } else {
            out.extend_from_slice(b"$-1\r\n");
        }
    }
    /// A missing array: `_\r\n` in RESP3, `*-1\r\n` in RESP2.
    pub fn null_array(out: &mut Vec<u8>, resp3: bool) {
        if resp3 {
            out.extend_from_slice(b"_\r\n");
        } else {
            out.extend_from_slice(b"*-1\r\n");
        }
    }
    /// A map of `n` pairs: `%n\r\n` in RESP3, a flat array `*2n\r\n` in RESP2.
    pub fn map(out: &mut Vec<u8>, n: usize, resp3: bool) {
        if resp3 {
            out.push(b'%');
            out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            out.extend_from_slice(b"\r\n");
        } else {
            array(out, n * 2);
        }
    }
    /// A set of `n` elements: `~n\r\n` in RESP3, `*n\r\n` in RESP2.
    pub fn set(out: &mut Vec<u8>, n: usize, resp3: bool) {
        if resp3 {
            out.push(b'~');
            out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            out.extend_from_slice(b"\r\n");
        } else {
            array(out, n);
        }
    }
    /// A double as Redis writes it (`%.17g`, `inf`, `-inf`): `,d\r\n` in
    /// RESP3, a bulk string in RESP2.
    pub fn double(out: &mut Vec<u8>, d: f64, resp3: bool) {
        let text = shards::rdb::fmt_g17(d);
        if resp3 {
            out.push(b',');
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"\r\n");
        } else {
            bulk(out, text.as_bytes());
        }
    }

    /// A shard's structured reply (see `shards::tape`), in the connection's protocol.
    pub fn tape(out: &mut Vec<u8>, tape: &[u8], resp3: bool) {
        use shards::tape::{Item, TapeReader};
        for item in TapeReader::new(tape) {
            match item {
                Item::Array(n) => array(out, n as usize),
                Item::Map(n) => map(out, n as usize, resp3),
                Item::Set(n) => set(out, n as usize, resp3),
                Item::Bulk(b) => bulk(out, b),
                Item::Int(n) => int(out, n),
                Item::Double(d) => double(out, d, resp3),
                Item::Nil => null(out, resp3),
                Item::NilArray => null_array(out, resp3),
                Item::Status(s) => {
                    out.push(b'+');
                    out.extend_from_slice(s);
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
    }

    /// Text for humans (INFO, CLIENT LIST): the verbatim string
    /// `=len\r\ntxt:...\r\n` in RESP3, a bulk string in RESP2.
    pub fn verbatim(out: &mut Vec<u8>, text: &[u8], resp3: bool) {
        if !resp3 {
            return bulk(out, text);
        }
        out.push(b'=');
        out.extend_from_slice(itoa::Buffer::new().format(text.len() + 4).as_bytes());
        out.extend_from_slice(b"\r\ntxt:");
        out.extend_from_slice(text);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut d = Decoder::default();
        let mut args = Args::default();
        let mut pos = 0;
        let mut out = Vec::new();
        loop {
            let (what, n) = d.decode(&input[pos..], &mut args, 512 << 20)?;
            pos += n;
            match what {
                Decoded::Command => {
                    if !args.is_empty() {
                        out.push(args.iter_from(0).map(|a| a.to_vec()).collect());
                    }
                }
                Decoded::Incomplete => return Ok(out),
            }
        }
    }

    fn strs(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_and_split_points() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$5\r\nhello\r\n*1\r\n$4\r\nPING\r\n";
        let whole = decode_all(input).unwrap();
        assert_eq!(whole, vec![strs(&["SET", "a", "hello"]), strs(&["PING"])]);
        // Feed the same bytes one at a time, keeping unconsumed bytes as a connection does.
        let mut d = Decoder::default();
        let mut args = Args::default();
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for &b in input.iter() {
            buf.push(b);
            loop {
                let (what, n) = d.decode(&buf, &mut args, 512 << 20).unwrap();
                buf.drain(..n);
                if what == Decoded::Command {
                    got.push(args.iter_from(0).map(|a| a.to_vec()).collect::<Vec<_>>());
                } else {
                    break;
                }
            }
        }
        assert_eq!(got, whole);
    }

    #[test]
    fn inline_quoting_as_sdssplitargs() {
        assert_eq!(
            decode_all(b"set name Drishti\r\n").unwrap(),
            vec![strs(&["set", "name", "Drishti"])]
        );
        assert_eq!(decode_all(b"get a\n").unwrap(), vec![strs(&["get", "a"])]);
        assert_eq!(
            decode_all(b"set k \"a b\\n\\x41\" 'it\\'s'\r\n").unwrap(),
            vec![vec![
                b"set".to_vec(),
                b"k".to_vec(),
                b"a b\nA".to_vec(),
                b"it's".to_vec()
            ]]
        );
        assert_eq!(
            decode_all(b"\r\n\n   \r\n").unwrap(),
            Vec::<Vec<Vec<u8>>>::new()
        );
        assert_eq!(
            decode_all(b"set k \"abc\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            decode_all(b"set k \"abc\"x\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            decode_all(b"echo ab\"c d\"e\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            decode_all(b"echo ab\"c d\"\r\n").unwrap(),
            vec![strs(&["echo", "abc d"])]
        );
    }

    #[test]
    fn protocol_errors_match_redis() {
        assert_eq!(
            decode_all(b"*x\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            decode_all(b"*3000000000\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            decode_all(b"*1\r\n$-1\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            decode_all(b"*1\r\n$01\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            decode_all(b"*1\r\n:1\r\n"),
            Err(ProtocolError::ExpectedDollar(b':'))
        );
        assert_eq!(
            ProtocolError::ExpectedDollar(b':').to_string(),
            "Protocol error: expected '$', got ':'"
        );
        assert_eq!(
            decode_all(&[b'x'; INLINE_MAX + 1]),
            Err(ProtocolError::TooBigInline)
        );
        let mut big = b"*".to_vec();
        big.extend(std::iter::repeat_n(b'1', INLINE_MAX + 1));
        assert_eq!(decode_all(&big), Err(ProtocolError::TooBigMbulkCount));
        // Empty multibulks are ignored, as in Redis.
        assert_eq!(
            decode_all(b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n").unwrap(),
            vec![strs(&["PING"])]
        );
    }

    #[test]
    fn big_arguments_are_kept_apart_to_be_shared() {
        let big = vec![b'v'; shards::batch::BIG_ARG];
        let mut input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n".to_vec();
        input.extend_from_slice(format!("${}\r\n", big.len()).as_bytes());
        input.extend_from_slice(&big);
        input.extend_from_slice(b"\r\n");
        let mut d = Decoder::default();
        let mut args = Args::default();
        let (what, n) = d.decode(&input, &mut args, 512 << 20).unwrap();
        assert_eq!((what, n), (Decoded::Command, input.len()));
        assert_eq!(args.bigs().len(), 1);
        assert_eq!(args.get(2), &big[..]);
        assert_eq!(args.iter_from(1).collect::<Vec<_>>(), [&b"k"[..], &big[..]]);
        let mut copy = Args::default();
        for i in 0..args.len() {
            copy.push_from(&args, i);
        }
        assert!(std::sync::Arc::ptr_eq(&copy.bigs()[0], &args.bigs()[0]));
        // Read apart: the decoder waits at the header, the payload comes whole.
        let mut d = Decoder::default();
        let mut args = Args::default();
        let head = input.len() - big.len() - 2;
        let (what, n) = d.decode(&input[..head + 10], &mut args, 512 << 20).unwrap();
        assert_eq!(
            (what, n, d.pending_bulk()),
            (Decoded::Incomplete, head, Some(big.len()))
        );
        assert_eq!(d.finish_big(&mut args, big.clone()), Decoded::Command);
        assert_eq!(args.get(2), &big[..]);
        args.clear();
        assert!(args.bigs().is_empty() && args.is_empty());
    }

    #[test]
    fn unauthenticated_limits_match_redis() {
        let run = |input: &[u8]| {
            let mut d = Decoder::default();
            d.set_unauthenticated(true);
            let mut args = Args::default();
            d.decode(input, &mut args, 512 << 20).map(|(what, _)| what)
        };
        assert_eq!(
            run(b"*11\r\n"),
            Err(ProtocolError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(run(b"*10\r\n"), Ok(Decoded::Incomplete));
        assert_eq!(
            run(b"*1\r\n$16385\r\n"),
            Err(ProtocolError::UnauthenticatedBulkLength)
        );
        assert_eq!(run(b"*1\r\n$16384\r\n"), Ok(Decoded::Incomplete));
        // Beyond INT_MAX and proto-max-bulk-len, Redis's first checks win.
        assert_eq!(
            run(b"*3000000000\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            run(b"*1\r\n$600000000\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            ProtocolError::UnauthenticatedBulkLength.to_string(),
            "Protocol error: unauthenticated bulk length"
        );
        // Without the flag, no such limits.
        assert_eq!(decode_all(b"*11\r\n").unwrap(), Vec::<Vec<Vec<u8>>>::new());
    }

    #[test]
    fn resp3_encodings_and_their_resp2_forms() {
        let enc = |f: &dyn Fn(&mut Vec<u8>, bool), resp3: bool| {
            let mut out = Vec::new();
            f(&mut out, resp3);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(enc(&|o, r| encode::null(o, r), true), "_\r\n");
        assert_eq!(enc(&|o, r| encode::null(o, r), false), "$-1\r\n");
        assert_eq!(enc(&|o, r| encode::null_array(o, r), true), "_\r\n");
        assert_eq!(enc(&|o, r| encode::null_array(o, r), false), "*-1\r\n");
        assert_eq!(enc(&|o, r| encode::map(o, 7, r), true), "%7\r\n");
        assert_eq!(enc(&|o, r| encode::map(o, 7, r), false), "*14\r\n");
        assert_eq!(enc(&|o, r| encode::set(o, 2, r), true), "~2\r\n");
        assert_eq!(enc(&|o, r| encode::set(o, 2, r), false), "*2\r\n");
        let text = |o: &mut Vec<u8>, r| encode::verbatim(o, b"a\r\nb", r);
        assert_eq!(enc(&text, true), "=8\r\ntxt:a\r\nb\r\n");
        assert_eq!(enc(&text, false), "$4\r\na\r\nb\r\n");
        assert_eq!(
            enc(&|o, r| encode::verbatim(o, b"", r), true),
            "=4\r\ntxt:\r\n"
        );
    }

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"+1",
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"-",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
