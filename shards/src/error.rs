//! What an op can fail with. The engine names the outcome; the server
//! turns it into Redis's error text in one place.

use std::sync::Arc;

/// An op's failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The key holds another type.
    WrongType,
    /// The stored value (or an argument checked late, as Redis does) is not
    /// an integer in range.
    NotInteger,
    /// An increment would overflow.
    Overflow,
    /// The stored value or the increment is not a float.
    NotFloat,
    /// An increment would produce NaN or infinity.
    NanOrInf,
    /// RENAME of a missing key.
    NoSuchKey,
    /// Redis's syntax error, for options checked after the look-up.
    Syntax,
    /// A string would pass 512 MB.
    StringTooBig,
    /// Out of memory under the configured policy.
    Oom,
    /// The AOF cannot be written: why.
    Misconf(Arc<str>),
    /// BGREWRITEAOF while one runs.
    RewriteRunning,
    /// BGREWRITEAOF with persistence off.
    AofOff,
    /// OBJECT FREQ without an LFU policy.
    NoLfu,
    /// OBJECT IDLETIME under an LFU policy.
    LfuSelected,
    /// A time out of range, checked after the look-up: the command's name.
    InvalidExpire(&'static str),
    /// The AOF could not be flushed at shutdown: why.
    ShutdownFlush(Arc<str>),
    /// HINCRBY of a field whose value is not an integer
    /// (`ERR hash value is not an integer`).
    HashNotInteger,
    /// HINCRBYFLOAT of a field whose value is not a float
    /// (`ERR hash value is not a float`).
    HashNotFloat,
    /// HINCRBYFLOAT's increment is infinite (`ERR value is NaN or Infinity`).
    IncrNanOrInf,
    /// RESTORE without REPLACE of a key that exists
    /// (`BUSYKEY Target key name already exists.`).
    BusyKey,
    /// RESTORE's TTL is negative (`ERR Invalid TTL value, must be >= 0`).
    InvalidTtl,
    /// A DUMP payload's trailer is wrong
    /// (`ERR DUMP payload version or checksum are wrong`).
    BadPayload,
    /// A DUMP payload's body does not decode (`ERR Bad data format`).
    BadData,
    /// LSET past the list's end (`ERR index out of range`).
    IndexOutOfRange,
    /// ZADD INCR / ZINCRBY would make a NaN score
    /// (`ERR resulting score is not a number (NaN)`).
    ScoreNan,
    /// SORT met a value that is not a number
    /// (`ERR One or more scores can't be converted into double`).
    SortNotNumber,
    /// A stream command's refusal (see `StreamError`).
    Stream(StreamError),
    /// A HyperLogLog failure (`ops::hll`).
    Hll(crate::ops::hll::HllError),
    /// XCLAIM met an option it does not know (`ERR Unrecognized XCLAIM
    /// option '...'`).
    ClaimOption(Box<[u8]>),
    /// A container's subcommand met arguments it does not take, found after
    /// the key's look-up (`ERR unknown subcommand or wrong number of
    /// arguments for '<sub>'. Try <TOP> HELP.`): the subcommand as typed and
    /// the container.
    SubSyntax(Box<(Box<[u8]>, &'static str)>),
    /// A consumer group (or its stream) is missing (`-NOGROUP ...`).
    NoGroup(Box<NoGroup>),
}

/// A missing consumer group: which words Redis uses, the key and the group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoGroup {
    /// The command's wording.
    pub how: NoGroupText,
    /// The key.
    pub key: Box<[u8]>,
    /// The group's name.
    pub group: Box<[u8]>,
}

/// The wordings of a missing group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoGroupText {
    /// XREADGROUP: `No such key 'k' or consumer group 'g' in XREADGROUP with GROUP option`.
    ReadGroup,
    /// XPENDING, XCLAIM, XAUTOCLAIM: `No such key 'k' or consumer group 'g'`.
    KeyOrGroup,
    /// XGROUP, XINFO CONSUMERS: `No such consumer group 'g' for key name 'k'`.
    ForKey,
}

/// Why a stream command refused (Redis 7.0's `t_stream.c` replies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// An argument is not a stream ID
    /// (`ERR Invalid stream ID specified as stream command argument`).
    InvalidId,
    /// XADD's ID is not above the last one.
    IdTooSmall,
    /// XADD's explicit ID is 0-0.
    IdZero,
    /// The stream's last ID is the greatest there is.
    Exhausted,
    /// XSETID's ID is below the stream's top entry.
    SetIdTooSmall,
    /// XSETID's ENTRIESADDED is below the stream's length.
    SetIdEntriesAdded,
    /// XSETID's MAXDELETEDID is above its ID.
    SetIdMaxDeleted,
    /// XGROUP CREATE of a group that exists.
    BusyGroup,
    /// XGROUP on a missing key.
    GroupNeedsKey,
    /// ENTRIESREAD below -1.
    EntriesRead,
    /// XCLAIM's or XAUTOCLAIM's min-idle-time is not an integer.
    MinIdle(&'static str),
    /// An XCLAIM option's argument is not an integer: the option.
    ClaimArg(&'static str),
    /// XAUTOCLAIM's COUNT is out of range.
    AutoClaimCount,
    /// `(` on the greatest ID.
    StartInterval,
    /// `(` on the smallest ID.
    EndInterval,
}
