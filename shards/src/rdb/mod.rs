//! A standalone codec for the payload of DUMP and RESTORE, as Redis 7.0
//! writes and reads it (RDB version 10).
//!
//! A payload is one serialized object followed by a 10-byte trailer:
//!
//! ```text
//!   type (1 byte) | object ... | RDB version (u16 LE) | CRC-64 (u64 LE)
//! ```
//!
//! The CRC (Jones polynomial, see [`crc64`]) covers everything before it,
//! version included. Redis 7.0 refuses a payload whose version is above 10
//! or whose CRC does not match (a zero CRC is not special in DUMP payloads,
//! unlike RDB files); both give `ERR DUMP payload version or checksum are
//! wrong`. A body that does not decode gives `ERR Bad data format`.
//!
//! [`dump`] writes the type Redis 7.0 would choose for the value under the
//! given [`EncodeOpts`] (see [`EncodeOpts::for_value`]), byte for byte the
//! same as Redis for listpacks, intsets, quicklists, ZSET_2 and strings
//! whenever compression is off or does not apply. [`restore`] reads
//! everything Redis 7.0 reads except modules and streams: the current
//! types and the older ones (linked list, ziplist and quicklist-of-ziplist
//! lists, zipmap and ziplist hashes, ziplist zsets, ZSET with text scores).
//! [`dump_as`] writes a chosen type, older ones included.
//!
//! The codec knows nothing of the store: it maps payloads to [`RdbValue`]
//! and back.

pub mod crc64;
mod decode;
mod encode;
pub mod file;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod stream;
mod wire;
pub mod ziplist;
pub mod zipmap;

#[cfg(test)]
mod tests;

pub use decode::restore;
pub use encode::{dump, dump_as, dump_like_redis, dump_object};
pub(crate) use wire::score_text;
pub use wire::{canonical_int, fmt_g17};

/// The RDB version this codec writes, and the highest it reads.
pub const RDB_VERSION: u16 = 10;

/// A value as DUMP carries it, independent of any in-memory encoding.
///
/// Integers held in intsets, listpacks and ziplists come back as their
/// decimal text. [`restore`] returns zset members ordered by ascending
/// score, then member (ZRANGE order); the other collections keep the
/// payload's order.
#[derive(Debug, Clone, PartialEq)]
pub enum RdbValue {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    /// Member, score.
    ZSet(Vec<(Vec<u8>, f64)>),
    /// Field, value.
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
}

/// The object type byte of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RdbType {
    String = 0,
    /// Linked list of strings (before 3.2).
    List = 1,
    Set = 2,
    /// Scores as text (before 3.0).
    ZSet = 3,
    Hash = 4,
    /// Scores as binary doubles.
    ZSet2 = 5,
    /// Before 2.6.
    HashZipmap = 9,
    /// One ziplist (before 3.2).
    ListZiplist = 10,
    SetIntset = 11,
    /// Before 7.0.
    ZSetZiplist = 12,
    /// Before 7.0.
    HashZiplist = 13,
    /// Quicklist of ziplists (3.2 to 6.2).
    ListQuicklist = 14,
    HashListpack = 16,
    ZSetListpack = 17,
    /// Quicklist of listpack and plain nodes (7.0).
    ListQuicklist2 = 18,
}

impl RdbType {
    /// The type of a type byte this codec knows.
    pub fn from_byte(b: u8) -> Option<RdbType> {
        use RdbType::*;
        Some(match b {
            0 => String,
            1 => List,
            2 => Set,
            3 => ZSet,
            4 => Hash,
            5 => ZSet2,
            9 => HashZipmap,
            10 => ListZiplist,
            11 => SetIntset,
            12 => ZSetZiplist,
            13 => HashZiplist,
            14 => ListQuicklist,
            16 => HashListpack,
            17 => ZSetListpack,
            18 => ListQuicklist2,
            _ => return None,
        })
    }
}

/// How [`dump`] encodes collections, mirroring Redis's encoding choice so
/// the payload has the type byte Redis 7.0 would write for the same value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeOpts {
    /// HASH_LISTPACK rather than HASH.
    pub hash_listpack: bool,
    /// ZSET_LISTPACK rather than ZSET_2.
    pub zset_listpack: bool,
    /// INTSET rather than SET, when every member is a canonical integer
    /// (otherwise SET regardless).
    pub set_intset: bool,
    /// `list-max-listpack-size`: negative = node size limit (-1 = 4 KB,
    /// -2 = 8 KB, ... -5 = 64 KB), positive = elements per node (with an
    /// 8 KB cap).
    pub list_listpack_fill: i64,
    /// Elements of at least this many bytes get a PLAIN quicklist node of
    /// their own (Redis 7.0: 1 GB, changeable only for testing).
    pub list_plain_threshold: usize,
    /// `rdbcompression`: LZF-compress strings over 20 bytes when that saves
    /// at least 4 bytes.
    pub compress: bool,
}

/// Redis 7.0's encoding thresholds (the `*-max-*` configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub list_max_listpack_size: i64,
    pub rdb_compression: bool,
}

impl Default for Limits {
    /// Redis 7.0.15's defaults (built in and in its shipped `redis.conf`
    /// alike; note hashes allow 512 entries, zsets 128).
    fn default() -> Self {
        Limits {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            set_max_intset_entries: 512,
            list_max_listpack_size: -2,
            rdb_compression: true,
        }
    }
}

/// Redis 7.0's threshold for PLAIN quicklist nodes.
pub const LIST_PLAIN_THRESHOLD: usize = 1 << 30;

impl EncodeOpts {
    /// The options under which Redis 7.0 would hold `value`, had it been
    /// built by one command adding its elements to a new key: a hash or
    /// zset stays a listpack while it has at most `*_entries` distinct
    /// fields or members and no field, value or member is longer than
    /// `*_value` bytes; a set is an intset while it has at most
    /// `set_max_intset_entries` distinct members, all canonical integers.
    pub fn for_value(value: &RdbValue, limits: &Limits) -> EncodeOpts {
        let mut o = EncodeOpts {
            hash_listpack: false,
            zset_listpack: false,
            set_intset: false,
            list_listpack_fill: limits.list_max_listpack_size,
            list_plain_threshold: LIST_PLAIN_THRESHOLD,
            compress: limits.rdb_compression,
        };
        match value {
            RdbValue::String(_) | RdbValue::List(_) => {}
            RdbValue::Set(m) => {
                o.set_intset = m.iter().all(|s| canonical_int(s).is_some())
                    && at_most(m.iter(), limits.set_max_intset_entries);
            }
            RdbValue::ZSet(m) => {
                o.zset_listpack = limits.zset_max_listpack_entries > 0
                    && m.iter()
                        .all(|(s, _)| s.len() <= limits.zset_max_listpack_value)
                    && at_most(m.iter().map(|(s, _)| s), limits.zset_max_listpack_entries);
            }
            RdbValue::Hash(p) => {
                let v = limits.hash_max_listpack_value;
                o.hash_listpack = p.iter().all(|(f, x)| f.len() <= v && x.len() <= v)
                    && at_most(p.iter().map(|(f, _)| f), limits.hash_max_listpack_entries);
            }
        }
        o
    }
}

/// Whether `items` has at most `limit` distinct elements.
fn at_most<'a>(items: impl ExactSizeIterator<Item = &'a Vec<u8>>, limit: usize) -> bool {
    if items.len() <= limit {
        return true;
    }
    let mut seen = std::collections::HashSet::with_capacity(limit + 1);
    for s in items {
        if seen.insert(s.as_slice()) && seen.len() > limit {
            return false;
        }
    }
    true
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdbError {
    /// Shorter than the trailer, a version above 10, or a CRC mismatch.
    VersionOrChecksum,
    /// The object does not decode: truncated, malformed, empty, with
    /// duplicate members, or of a type this codec does not load (modules,
    /// streams, types newer than Redis 7.0).
    BadFormat(&'static str),
}

impl RdbError {
    /// The error reply Redis 7.0's RESTORE gives for this case.
    pub fn redis_reply(&self) -> &'static str {
        match self {
            RdbError::VersionOrChecksum => "ERR DUMP payload version or checksum are wrong",
            RdbError::BadFormat(_) => "ERR Bad data format",
        }
    }
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RdbError::VersionOrChecksum => {
                f.write_str("DUMP payload version or checksum are wrong")
            }
            RdbError::BadFormat(why) => write!(f, "bad data format: {why}"),
        }
    }
}

impl std::error::Error for RdbError {}

/// Why [`dump_as`] cannot write a value as the requested type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The type holds another kind of value (a set as a hash type, ...).
    WrongKind,
    /// INTSET asked for members that are not all canonical integers.
    NotIntegers,
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EncodeError::WrongKind => "the type does not hold this kind of value",
            EncodeError::NotIntegers => "an intset holds integers only",
        })
    }
}

impl std::error::Error for EncodeError {}

/// Appends the trailer (version 10, CRC-64) to an object body.
pub fn seal(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// Checks the trailer and returns the object (type byte first).
pub fn verify(payload: &[u8]) -> Result<&[u8], RdbError> {
    if payload.len() < 10 {
        return Err(RdbError::VersionOrChecksum);
    }
    let (rest, crc) = payload.split_at(payload.len() - 8);
    let version = u16::from_le_bytes([rest[rest.len() - 2], rest[rest.len() - 1]]);
    if version > RDB_VERSION {
        return Err(RdbError::VersionOrChecksum);
    }
    let crc = u64::from_le_bytes(crc.try_into().expect("8 bytes"));
    if crc64::crc64(rest) != crc {
        return Err(RdbError::VersionOrChecksum);
    }
    Ok(&rest[..rest.len() - 2])
}
