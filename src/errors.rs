//! Redis's error text for the engine's typed failures: the one place where
//! an `Error` becomes the words a client reads.

use shards::error::StreamError;
use shards::Error;
use std::borrow::Cow;

/// The error reply's text (without the leading `-`).
pub fn text(e: &Error) -> Cow<'static, str> {
    match e {
        Error::WrongType => "WRONGTYPE Operation against a key holding the wrong kind of value".into(),
        Error::NotInteger => "ERR value is not an integer or out of range".into(),
        Error::Overflow => "ERR increment or decrement would overflow".into(),
        Error::NotFloat => "ERR value is not a valid float".into(),
        Error::NanOrInf => "ERR increment would produce NaN or Infinity".into(),
        Error::NoSuchKey => "ERR no such key".into(),
        Error::Syntax => "ERR syntax error".into(),
        Error::StringTooBig => {
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)".into()
        }
        Error::Oom => "OOM command not allowed when used memory > 'maxmemory'.".into(),
        Error::Misconf(why) => format!("MISCONF Errors writing to the AOF file: {why}").into(),
        Error::RewriteRunning => {
            "ERR Background append only file rewriting already in progress".into()
        }
        Error::AofOff => "ERR Append only file is disabled".into(),
        Error::NoLfu => "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into(),
        Error::LfuSelected => "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into(),
        Error::InvalidExpire(cmd) => format!("ERR invalid expire time in '{cmd}' command").into(),
        Error::ShutdownFlush(why) => format!("ERR AOF flush failed: {why}").into(),
        Error::HashNotInteger => "ERR hash value is not an integer".into(),
        Error::HashNotFloat => "ERR hash value is not a float".into(),
        Error::IncrNanOrInf => "ERR value is NaN or Infinity".into(),
        Error::BusyKey => "BUSYKEY Target key name already exists.".into(),
        Error::InvalidTtl => "ERR Invalid TTL value, must be >= 0".into(),
        Error::BadPayload => "ERR DUMP payload version or checksum are wrong".into(),
        Error::BadData => "ERR Bad data format".into(),
        Error::IndexOutOfRange => "ERR index out of range".into(),
        Error::ScoreNan => "ERR resulting score is not a number (NaN)".into(),
        Error::SortNotNumber => "ERR One or more scores can't be converted into double".into(),
        Error::Stream(e) => stream_text(*e).into(),
        Error::Hll(e) => hll_text(e),
    }
}

/// A stream refusal's text.
fn stream_text(e: StreamError) -> &'static str {
    match e {
        StreamError::InvalidId => "ERR Invalid stream ID specified as stream command argument",
        StreamError::IdTooSmall => {
            "ERR The ID specified in XADD is equal or smaller than the target stream top item"
        }
        StreamError::IdZero => "ERR The ID specified in XADD must be greater than 0-0",
        StreamError::Exhausted => {
            "ERR The stream has exhausted the last possible ID, unable to add more items"
        }
        StreamError::SetIdTooSmall => {
            "ERR The ID specified in XSETID is smaller than the target stream top item"
        }
        StreamError::SetIdEntriesAdded => {
            "ERR The entries_added specified in XSETID is smaller than the target stream length"
        }
        StreamError::SetIdMaxDeleted => {
            "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
        }
        StreamError::Dump => "ERR DUMP of a stream is not supported",
    }
}

/// A HyperLogLog failure's text, as Redis's `hyperloglog.c` words it.
fn hll_text(e: &shards::ops::hll::HllError) -> Cow<'static, str> {
    use shards::ops::hll::HllError;
    match e {
        HllError::NotHll => "WRONGTYPE Key is not a valid HyperLogLog string value.".into(),
        HllError::Corrupt => "INVALIDOBJ Corrupted HLL object detected".into(),
        HllError::NoKey => "ERR The specified key does not exist".into(),
        HllError::NotSparse => "ERR HLL encoding is not sparse".into(),
        HllError::UnknownDebug(name) => format!("ERR Unknown PFDEBUG subcommand '{name}'").into(),
    }
}
