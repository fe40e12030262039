//! Structured replies: a flat byte stream of typed items a shard writes
//! into its batch's output and the worker encodes as RESP2 or RESP3.
//!
//! An op with more than a scalar to say (KEYS, SCAN, an array, a map, a
//! score) writes items with a `TapeWriter`; its reply is a `Reply::Tape`
//! naming the span. The engine never writes RESP: the framing depends on
//! the connection's protocol, which only the worker knows.
//!
//! Items: a tag byte, then for headers a little-endian `u32` count, for
//! bytes a `u32` length and the bytes, for integers and doubles 8 bytes.

/// One item of a tape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Item<'a> {
    /// An array of `n` items.
    Array(u32),
    /// A map of `n` key/value pairs (2n items; a flat array in RESP2).
    Map(u32),
    /// A set of `n` items (an array in RESP2).
    Set(u32),
    /// A bulk string.
    Bulk(&'a [u8]),
    /// An integer.
    Int(i64),
    /// A double (a bulk string in RESP2, as Redis formats it).
    Double(f64),
    /// A null (null bulk in RESP2).
    Nil,
    /// A null array (`*-1` in RESP2).
    NilArray,
    /// A status line.
    Status(&'a [u8]),
}

const ARRAY: u8 = b'*';
const MAP: u8 = b'%';
const SET: u8 = b'~';
const BULK: u8 = b'$';
const INT: u8 = b':';
const DOUBLE: u8 = b',';
const NIL: u8 = b'_';
const NIL_ARRAY: u8 = b'N';
const STATUS: u8 = b'+';

/// Appends items to a batch's output.
pub struct TapeWriter<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> TapeWriter<'a> {
    /// Starts a tape at the end of `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        let start = out.len();
        TapeWriter { out, start }
    }

    fn header(&mut self, tag: u8, n: usize) -> usize {
        let at = self.out.len();
        self.out.push(tag);
        self.out.extend_from_slice(&(n as u32).to_le_bytes());
        at
    }

    /// An array of `n` items; returns where its header is, for `set_len`.
    pub fn array(&mut self, n: usize) -> usize {
        self.header(ARRAY, n)
    }

    /// A map of `n` pairs.
    pub fn map(&mut self, n: usize) -> usize {
        self.header(MAP, n)
    }

    /// A set of `n` items.
    pub fn set(&mut self, n: usize) -> usize {
        self.header(SET, n)
    }

    /// Replaces the count of the header at `at` (written before the count was known).
    pub fn set_len(&mut self, at: usize, n: usize) {
        self.out[at + 1..at + 5].copy_from_slice(&(n as u32).to_le_bytes());
    }

    /// A bulk string.
    pub fn bulk(&mut self, b: &[u8]) {
        self.header(BULK, b.len());
        self.out.extend_from_slice(b);
    }

    /// A status line.
    pub fn status(&mut self, s: &[u8]) {
        self.header(STATUS, s.len());
        self.out.extend_from_slice(s);
    }

    /// An integer; returns where it is, for `set_int`.
    pub fn int(&mut self, n: i64) -> usize {
        let at = self.out.len();
        self.out.push(INT);
        self.out.extend_from_slice(&n.to_le_bytes());
        at
    }

    /// Replaces the integer at `at` (written before its value was known).
    pub fn set_int(&mut self, at: usize, n: i64) {
        self.out[at + 1..at + 9].copy_from_slice(&n.to_le_bytes());
    }

    /// A double.
    pub fn double(&mut self, d: f64) {
        self.out.push(DOUBLE);
        self.out.extend_from_slice(&d.to_le_bytes());
    }

    /// A null.
    pub fn nil(&mut self) {
        self.out.push(NIL);
    }

    /// A null array.
    pub fn nil_array(&mut self) {
        self.out.push(NIL_ARRAY);
    }

    /// The reply naming what was written.
    pub fn finish(self) -> crate::batch::Reply {
        crate::batch::Reply::Tape(crate::batch::Span::new(self.start, self.out.len()))
    }
}

/// Reads the items of a tape in order.
#[derive(Clone)]
pub struct TapeReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> TapeReader<'a> {
    /// Reads `buf`, a tape's bytes.
    pub fn new(buf: &'a [u8]) -> Self {
        TapeReader { buf, pos: 0 }
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b = self.buf.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64_at(&self, at: usize) -> Option<[u8; 8]> {
        let b = self.buf.get(at..at + 8)?;
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        Some(w)
    }
}

impl<'a> Iterator for TapeReader<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        let tag = *self.buf.get(self.pos)?;
        let at = self.pos + 1;
        let item = match tag {
            ARRAY | MAP | SET => {
                let n = self.u32_at(at)?;
                self.pos = at + 4;
                match tag {
                    ARRAY => Item::Array(n),
                    MAP => Item::Map(n),
                    _ => Item::Set(n),
                }
            }
            BULK | STATUS => {
                let n = self.u32_at(at)? as usize;
                let bytes = self.buf.get(at + 4..at + 4 + n)?;
                self.pos = at + 4 + n;
                if tag == BULK {
                    Item::Bulk(bytes)
                } else {
                    Item::Status(bytes)
                }
            }
            INT => {
                let w = self.u64_at(at)?;
                self.pos = at + 8;
                Item::Int(i64::from_le_bytes(w))
            }
            DOUBLE => {
                let w = self.u64_at(at)?;
                self.pos = at + 8;
                Item::Double(f64::from_le_bytes(w))
            }
            NIL => {
                self.pos = at;
                Item::Nil
            }
            NIL_ARRAY => {
                self.pos = at;
                Item::NilArray
            }
            _ => return None,
        };
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tape_round_trips() {
        let mut out = b"junk".to_vec();
        let mut w = TapeWriter::new(&mut out);
        let at = w.array(0);
        w.bulk(b"a\r\n");
        w.int(-7);
        w.double(1.5);
        w.nil();
        w.map(1);
        w.status(b"OK");
        w.nil_array();
        w.set_len(at, 6);
        let r = w.finish();
        let crate::batch::Reply::Tape(span) = r else {
            panic!("{r:?}")
        };
        let items: Vec<Item> = TapeReader::new(span.of(&out)).collect();
        assert_eq!(
            items,
            [
                Item::Array(6),
                Item::Bulk(b"a\r\n"),
                Item::Int(-7),
                Item::Double(1.5),
                Item::Nil,
                Item::Map(1),
                Item::Status(b"OK"),
                Item::NilArray
            ]
        );
        // A torn tape stops where it breaks.
        assert_eq!(TapeReader::new(&span.of(&out)[..3]).count(), 0);
    }
}
