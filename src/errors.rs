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
        Error::NoGroup(g) => no_group_text(g).into(),
        Error::SubSyntax(b) => {
            let sub = c_text(&b.0);
            let sub: String = sub.chars().take(128).collect();
            format!(
                "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {} HELP.",
                b.1
            )
            .into()
        }
        Error::ClaimOption(o) => format!("ERR Unrecognized XCLAIM option '{}'", c_text(o)).into(),
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
        StreamError::BusyGroup => "BUSYGROUP Consumer Group name already exists",
        StreamError::GroupNeedsKey => "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        StreamError::EntriesRead => "ERR value for ENTRIESREAD must be positive or -1",
        StreamError::MinIdle("XAUTOCLAIM") => "ERR Invalid min-idle-time argument for XAUTOCLAIM",
        StreamError::MinIdle(_) => "ERR Invalid min-idle-time argument for XCLAIM",
        StreamError::ClaimArg("IDLE") => "ERR Invalid IDLE option argument for XCLAIM",
        StreamError::ClaimArg("TIME") => "ERR Invalid TIME option argument for XCLAIM",
        StreamError::ClaimArg(_) => "ERR Invalid RETRYCOUNT option argument for XCLAIM",
        StreamError::AutoClaimCount => "ERR COUNT must be > 0",
        StreamError::StartInterval => "ERR invalid start ID for the interval",
        StreamError::EndInterval => "ERR invalid end ID for the interval",
    }
}

/// A name inside an error as Redis's `%s` prints it: up to its first NUL.
fn c_text(b: &[u8]) -> Cow<'_, str> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end])
}

/// A missing consumer group's text.
fn no_group_text(g: &shards::error::NoGroup) -> String {
    use shards::error::NoGroupText;
    let (k, n) = (c_text(&g.key), c_text(&g.group));
    match g.how {
        NoGroupText::ReadGroup => format!(
            "NOGROUP No such key '{k}' or consumer group '{n}' in XREADGROUP with GROUP option"
        ),
        NoGroupText::KeyOrGroup => format!("NOGROUP No such key '{k}' or consumer group '{n}'"),
        NoGroupText::ForKey => format!("NOGROUP No such consumer group '{n}' for key name '{k}'"),
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
