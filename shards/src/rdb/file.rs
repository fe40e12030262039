//! RDB files: what SAVE writes and what start-up imports.
//!
//! A file is a header, a series of opcodes and objects, and a trailer:
//!
//! ```text
//!   "REDIS" + 4-digit version
//!   AUX (0xFA) name value            ... redis-ver, ctime, used-mem ...
//!   SELECTDB (0xFE) db               per database holding keys
//!   RESIZEDB (0xFB) keys expires     size hints
//!   [EXPIRETIME_MS (0xFC) u64 LE]    before a key with a deadline
//!   type key object                  the object as in a DUMP payload
//!   EOF (0xFF)
//!   CRC-64 (u64 LE) of everything before it; 0 = not computed
//! ```
//!
//! An object is the same bytes a DUMP payload carries between its type byte
//! and its 10-byte trailer, so the writer takes DUMP payloads and the
//! reader hands back the codec's [`RdbValue`]s. Function libraries
//! (FUNCTION2, 0xF5, after the aux fields) are the library's code, as in a
//! FUNCTION DUMP payload. The reader accepts what Redis 7.0 loads (versions
//! 1 to 10, every opcode it knows) less what this store cannot hold: module
//! values and module aux data, streams of other versions than Redis 7.0's
//! (types 15 and 20), and the function format of Redis 7.0's release
//! candidates are refused by name, never skipped.

use std::io::{self, Write};

use super::wire::{write_len, write_string, Reader};
use super::{crc64, decode, RdbError, RdbType, RdbValue, RDB_VERSION};

const OP_FUNCTION2: u8 = 0xF5;
const OP_FUNCTION_PRE_GA: u8 = 0xF6;
const OP_MODULE_AUX: u8 = 0xF7;
const OP_IDLE: u8 = 0xF8;
const OP_FREQ: u8 = 0xF9;
const OP_AUX: u8 = 0xFA;
const OP_RESIZEDB: u8 = 0xFB;
const OP_EXPIRETIME_MS: u8 = 0xFC;
const OP_EXPIRETIME: u8 = 0xFD;
const OP_SELECTDB: u8 = 0xFE;
const OP_EOF: u8 = 0xFF;

/// Writes an RDB file, computing its CRC as it goes.
pub struct FileWriter<W: Write> {
    out: W,
    crc: u64,
    buf: Vec<u8>,
}

impl<W: Write> FileWriter<W> {
    /// Writes the header and the aux fields (`(name, value)` pairs).
    pub fn new(out: W, aux: &[(&str, &[u8])]) -> io::Result<Self> {
        let mut w = FileWriter {
            out,
            crc: 0,
            buf: Vec::with_capacity(1 << 16),
        };
        w.buf
            .extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
        for (name, value) in aux {
            w.buf.push(OP_AUX);
            write_string(&mut w.buf, name.as_bytes(), false);
            write_string(&mut w.buf, value, false);
        }
        w.flush_buf()?;
        Ok(w)
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        self.crc = crc64::update(self.crc, &self.buf);
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Writes one function library (its code), after the aux fields.
    pub fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.buf.push(OP_FUNCTION2);
        write_string(&mut self.buf, code, false);
        Ok(())
    }

    /// Starts database `db`, with its key and expiry counts as size hints.
    pub fn select_db(&mut self, db: u8, keys: u64, expires: u64) -> io::Result<()> {
        self.buf.push(OP_SELECTDB);
        write_len(&mut self.buf, db as u64);
        self.buf.push(OP_RESIZEDB);
        write_len(&mut self.buf, keys);
        write_len(&mut self.buf, expires);
        Ok(())
    }

    /// Writes one key: its deadline (unix ms, 0 for none), then the object
    /// of `payload`, a DUMP payload (type byte, object, 10-byte trailer).
    pub fn entry(&mut self, key: &[u8], expire_at: u64, payload: &[u8]) -> io::Result<()> {
        let object = payload
            .len()
            .checked_sub(10)
            .map(|n| &payload[..n])
            .ok_or_else(|| io::Error::other("a DUMP payload without its trailer"))?;
        self.entry_object(key, expire_at, object)
    }

    /// Writes one key: its deadline (unix ms, 0 for none), then `object`,
    /// its type byte and object (a DUMP payload less its trailer).
    pub fn entry_object(&mut self, key: &[u8], expire_at: u64, object: &[u8]) -> io::Result<()> {
        let (ty, object) = object
            .split_first()
            .ok_or_else(|| io::Error::other("an empty object"))?;
        if expire_at != 0 {
            self.buf.push(OP_EXPIRETIME_MS);
            self.buf.extend_from_slice(&expire_at.to_le_bytes());
        }
        self.buf.push(*ty);
        write_string(&mut self.buf, key, false);
        if self.buf.len() + object.len() > 1 << 16 {
            self.flush_buf()?;
            self.crc = crc64::update(self.crc, object);
            self.out.write_all(object)
        } else {
            self.buf.extend_from_slice(object);
            Ok(())
        }
    }

    /// Writes EOF and the CRC; returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.buf.push(OP_EOF);
        self.flush_buf()?;
        self.out.write_all(&self.crc.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One key of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    /// Its database.
    pub db: u32,
    /// The key.
    pub key: Vec<u8>,
    /// Deadline in unix ms, 0 for none.
    pub expire_at: u64,
    /// The value.
    pub object: FileObject,
}

/// A key's value as a file holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum FileObject {
    /// Any type but a stream, with its type byte (it decides the encoding
    /// on load).
    Value(RdbType, RdbValue),
    /// A stream (`RDB_TYPE_STREAM_LISTPACKS_2`, what Redis 7.0 writes).
    Stream(Box<super::stream::Stream>),
}

/// A whole file, read and checked.
#[derive(Debug, Default)]
pub struct FileContents {
    /// The RDB version of the header.
    pub version: u16,
    /// The aux fields, in file order.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// Every key, in file order.
    pub entries: Vec<FileEntry>,
    /// The code of every function library, in file order.
    pub functions: Vec<Vec<u8>>,
}

/// The FUNCTION DUMP / RESTORE payload of these libraries (their records,
/// RDB version 10, CRC-64).
pub fn function_payload(codes: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in codes {
        out.push(OP_FUNCTION2);
        write_string(&mut out, c, false);
    }
    super::seal(out)
}

/// Why a file was refused, with the byte offset where reading stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// Offset in the file.
    pub offset: usize,
    /// What was wrong.
    pub why: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte {})", self.why, self.offset)
    }
}

impl std::error::Error for FileError {}

/// Reads a whole RDB file, refusing it entire on the first problem (bad
/// header or version, truncation, an unknown or unsupported type or opcode,
/// a checksum mismatch): nothing of a damaged file is ever used.
pub fn read_file(bytes: &[u8], databases: u32) -> Result<FileContents, FileError> {
    let err = |offset: usize, why: String| FileError { offset, why };
    let header = bytes
        .get(..9)
        .ok_or_else(|| err(0, "too short for an RDB header".into()))?;
    if &header[..5] != b"REDIS" {
        return Err(err(0, "not an RDB file (no REDIS header)".into()));
    }
    let version = std::str::from_utf8(&header[5..9])
        .ok()
        .filter(|v| v.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|v| v.parse::<u16>().ok())
        .ok_or_else(|| err(5, "bad RDB version field".into()))?;
    if version == 0 || version > RDB_VERSION {
        return Err(err(
            5,
            format!("RDB version {version} is not supported (1 to {RDB_VERSION} are)"),
        ));
    }
    // The checksum first, when there is one: a damaged file then says so
    // rather than naming whatever its damage made of the objects.
    if version >= 5 && bytes.len() >= 9 + 1 + 8 {
        let (body, crc) = bytes.split_at(bytes.len() - 8);
        let crc = u64::from_le_bytes(crc.try_into().expect("8 bytes"));
        if crc != 0 && crc != crc64::crc64(body) {
            return Err(err(
                body.len(),
                "wrong RDB checksum: the file is damaged or truncated".into(),
            ));
        }
    }
    let mut r = Reader::new(&bytes[9..]);
    let at = |r: &Reader<'_>| bytes.len() - r.remaining();
    let bad = |r: &Reader<'_>, e: RdbError| {
        err(
            at(r),
            match e {
                RdbError::BadFormat(w) => w.to_string(),
                RdbError::VersionOrChecksum => "bad object".to_string(),
            },
        )
    };
    let mut out = FileContents {
        version,
        ..Default::default()
    };
    let mut db = 0u32;
    let mut expire_at = 0u64;
    loop {
        let op_at = at(&r);
        let op = r.u8().map_err(|e| bad(&r, e))?;
        match op {
            OP_EOF => break,
            OP_AUX => {
                let name = r.string().map_err(|e| bad(&r, e))?;
                let value = r.string().map_err(|e| bad(&r, e))?;
                out.aux.push((name, value));
            }
            OP_SELECTDB => {
                let n = r.len().map_err(|e| bad(&r, e))?;
                if n >= databases as u64 {
                    return Err(err(
                        op_at,
                        format!("database {n} is out of range (this server has {databases})"),
                    ));
                }
                db = n as u32;
            }
            OP_RESIZEDB => {
                r.len().map_err(|e| bad(&r, e))?;
                r.len().map_err(|e| bad(&r, e))?;
            }
            OP_EXPIRETIME_MS => {
                expire_at = u64::from_le_bytes(r.array().map_err(|e| bad(&r, e))?);
            }
            OP_EXPIRETIME => {
                let secs = u32::from_le_bytes(r.array().map_err(|e| bad(&r, e))?);
                expire_at = secs as u64 * 1000;
            }
            // LRU idle time and LFU counter: hints this store does not use.
            OP_IDLE => {
                r.len().map_err(|e| bad(&r, e))?;
            }
            OP_FREQ => {
                r.u8().map_err(|e| bad(&r, e))?;
            }
            OP_MODULE_AUX => {
                return Err(err(
                    op_at,
                    "module aux data: shardcache has no modules and cannot load it".into(),
                ))
            }
            OP_FUNCTION2 => {
                let code = r.string().map_err(|e| bad(&r, e))?;
                out.functions.push(code);
            }
            OP_FUNCTION_PRE_GA => {
                return Err(err(
                    op_at,
                    "a function library in the format of Redis 7.0's release candidates, \
                     which is not supported (FUNCTION DUMP / RESTORE it instead)"
                        .into(),
                ))
            }
            ty => {
                let ty = match ty {
                    6 | 7 => {
                        return Err(err(
                            op_at,
                            "a module value: shardcache has no modules and cannot load it".into(),
                        ))
                    }
                    super::stream::TYPE => {
                        let key = r.string().map_err(|e| bad(&r, e))?;
                        let stream = super::stream::read(&mut r).map_err(|e| bad(&r, e))?;
                        out.entries.push(FileEntry {
                            db,
                            key,
                            expire_at: std::mem::take(&mut expire_at),
                            object: FileObject::Stream(Box::new(stream)),
                        });
                        continue;
                    }
                    15 | 20 => {
                        return Err(err(
                            op_at,
                            format!(
                                "a stream key of RDB type {ty} (Redis {}): only Redis 7.0's \
                                 streams (type 19) can be loaded",
                                if ty == 15 { "5 to 6.2" } else { "7.2 or later" }
                            ),
                        ))
                    }
                    b => RdbType::from_byte(b)
                        .ok_or_else(|| err(op_at, format!("unknown object type {b}")))?,
                };
                let key = r.string().map_err(|e| bad(&r, e))?;
                let value = decode::decode_value(ty, &mut r).map_err(|e| bad(&r, e))?;
                out.entries.push(FileEntry {
                    db,
                    key,
                    expire_at: std::mem::take(&mut expire_at),
                    object: FileObject::Value(ty, value),
                });
            }
        }
    }
    let body_end = at(&r);
    if version >= 5 {
        let crc = u64::from_le_bytes(
            r.array()
                .map_err(|_| err(body_end, "truncated: the checksum is missing".into()))?,
        );
        if crc != 0 && crc != crc64::crc64(&bytes[..body_end]) {
            return Err(err(body_end, "wrong RDB checksum".into()));
        }
    }
    if r.remaining() != 0 {
        return Err(err(at(&r), "bytes after the end of the file".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::dump_like_redis;

    fn sample() -> Vec<u8> {
        let mut w = FileWriter::new(Vec::new(), &[("redis-ver", b"7.0.15")]).unwrap();
        w.function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
            .unwrap();
        w.select_db(0, 2, 1).unwrap();
        w.entry(b"k", 0, &dump_like_redis(&RdbValue::String(b"v".to_vec())))
            .unwrap();
        w.entry(
            b"s",
            1_900_000_000_000,
            &dump_like_redis(&RdbValue::Set(vec![b"1".to_vec(), b"x".to_vec()])),
        )
        .unwrap();
        w.select_db(3, 1, 0).unwrap();
        let big: Vec<Vec<u8>> = (0..5000).map(|i| format!("e{i}").into_bytes()).collect();
        w.entry(b"l", 0, &dump_like_redis(&RdbValue::List(big)))
            .unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn a_written_file_reads_back() {
        let f = read_file(&sample(), 16).unwrap();
        assert_eq!(f.version, 10);
        assert_eq!(f.aux, vec![(b"redis-ver".to_vec(), b"7.0.15".to_vec())]);
        assert_eq!(f.entries.len(), 3);
        assert_eq!(f.functions.len(), 1);
        assert!(f.functions[0].starts_with(b"#!lua name=lib"));
        assert_eq!(
            f.entries[0].object,
            FileObject::Value(RdbType::String, RdbValue::String(b"v".to_vec()))
        );
        assert_eq!(
            (f.entries[1].db, f.entries[1].expire_at),
            (0, 1_900_000_000_000)
        );
        assert!(matches!(
            f.entries[1].object,
            FileObject::Value(RdbType::Set, _)
        ));
        assert_eq!(f.entries[2].db, 3);
        let FileObject::Value(_, RdbValue::List(items)) = &f.entries[2].object else {
            panic!("not a list")
        };
        assert_eq!(items.len(), 5000);
    }

    #[test]
    fn every_truncation_and_flipped_byte_is_refused() {
        let file = sample();
        for cut in 0..file.len() {
            assert!(read_file(&file[..cut], 16).is_err(), "cut at {cut}");
        }
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x20;
            assert!(read_file(&bad, 16).is_err(), "flipped byte {i}");
        }
    }

    #[test]
    fn unsupported_contents_are_named() {
        let mut f = b"REDIS0010".to_vec();
        f.extend_from_slice(&[OP_FUNCTION_PRE_GA]);
        let e = read_file(&f, 16).unwrap_err();
        assert!(e.why.contains("function library"), "{e}");
        let mut f = b"REDIS0010".to_vec();
        f.extend_from_slice(&[15, 1, b'k']);
        assert!(read_file(&f, 16).unwrap_err().why.contains("stream"));
        let mut f = b"REDIS0010".to_vec();
        f.extend_from_slice(&[20, 1, b'k']);
        assert!(read_file(&f, 16).unwrap_err().why.contains("type 20"));
        let mut f = b"REDIS0010".to_vec();
        f.extend_from_slice(&[7, 1, b'k']);
        assert!(read_file(&f, 16).unwrap_err().why.contains("module"));
        let mut f = b"REDIS0011".to_vec();
        f.push(OP_EOF);
        assert!(read_file(&f, 16).unwrap_err().why.contains("version 11"));
        // A zero checksum is not checked (rdbchecksum no).
        let mut f = b"REDIS0010".to_vec();
        f.push(OP_EOF);
        f.extend_from_slice(&[0; 8]);
        assert!(read_file(&f, 16).unwrap().entries.is_empty());
    }
}
