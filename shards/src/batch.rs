//! The message a worker sends to a shard, and gets back with the replies.
//!
//! A `Batch` carries every op one worker has for one shard in one poll round.
//! It is recycled: the worker fills it, the shard executes it and writes the
//! replies into it, the worker encodes them and clears it for the next round.
//! Argument bytes and reply payloads live in two flat buffers inside the
//! batch, so a steady stream of requests allocates nothing. A big argument
//! (`BIG_ARG` bytes or more) is not copied in: the batch shares the buffer
//! the connection read it into (`ArgBuf::push_shared`). Buffers that grew
//! past `KEEP_CAPACITY` are given back when the batch is cleared.

/// What a shard-side op does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCode {
    /// GET key → bulk or nil.
    Get,
    /// SET key value with the options in `flags`/`num` → OK, nil, or the old value.
    Set,
    /// DEL key → 1 or 0.
    Del,
    /// EXISTS key → 1 or 0.
    Exists,
    /// DBSIZE of `db` → integer.
    DbSize,
    /// FLUSHDB of `db` → OK.
    FlushDb,
    /// FLUSHALL → OK.
    FlushAll,
    /// Snapshot of this shard's counters for INFO → `Reply::Info`.
    Info,
    /// Replace the shard's limits: `num` = maxmemory, `aux` = max_keys, `flags` = policy index.
    SetLimits,
    /// Clear the shard's statistics counters (CONFIG RESETSTAT).
    ResetStats,
    /// Start an AOF rewrite (BGREWRITEAOF).
    RewriteAof,
    /// Change the fsync policy: `flags` = `aof::Fsync` code.
    SetFsync,
    /// Flush and fsync the segment, and from then on sync every write (shutdown).
    Shutdown,
    /// INCRBY key: `num` is the increment (an `i64`'s bits) → the new value.
    IncrBy,
    /// INCRBYFLOAT key increment → the new value as Redis prints it.
    IncrByFloat,
    /// APPEND key value → the new length.
    Append,
    /// STRLEN key → the length, 0 when absent.
    Strlen,
    /// GETDEL key → the value (then deleted), or nil.
    GetDel,
    /// GETRANGE key: `num`/`aux` are start/end (`i64` bits) → bulk, empty when absent.
    GetRange,
    /// SETRANGE key value: `num` is the offset (checked ≥ 0) → the new length.
    SetRange,
    /// TTL family: `flags` is a `ttl_mode`; → ms/s remaining or deadline, -1, -2.
    Ttl,
    /// EXPIRE family: `num` is the absolute deadline in ms (`i64` bits),
    /// `flags` the `expire_flags` → 1 or 0.
    Expire,
    /// PERSIST key → 1 when a TTL was removed, else 0.
    Persist,
    /// TYPE key → `+string` or `+none`.
    Type,
    /// TOUCH key → 1 when the key exists (read lookup), else 0.
    Touch,
    /// WATCH key for client `num` → OK. Later changes to the key mark the client dirty.
    Watch,
    /// Forget every key client `num` watches on this shard → OK.
    Unwatch,
    /// Whether a key client `num` watches changed (or expired) since WATCH → 1 or 0.
    /// Its watches on this shard are then forgotten.
    WatchCheck,
    /// The value and absolute expiry of a key, without touching statistics
    /// or LRU order (cross-shard RENAME/COPY read their source with it) →
    /// `Reply::Entry` or nil.
    Dump,
    /// RENAME src dst on one shard; `flags` has `rename_flags` → OK / 1 / 0 or an error.
    Rename,
    /// COPY src dst: `aux` is the destination db, `flags` has `rename_flags::REPLACE` → 1 or 0.
    Copy,
    /// MSETNX key value [...] of the keys on this shard → 1 when none existed
    /// and all were set, else 0. With `rename_flags::CHECK` only reports
    /// (1 = some key exists) and sets nothing.
    MSetNx,
    /// SWAPDB of databases `num` and `aux` → OK.
    SwapDb,
    /// KEYS pattern → `Reply::Keys` with the matching live keys of `db`.
    Keys,
    /// One SCAN step over `db` from slab slot `num`, examining about `aux`
    /// entries; `flags` has `SCAN_MATCH` when argument 0 is a pattern →
    /// `Reply::Keys` whose `aux` is the slot to resume from (`SCAN_DONE` at the end).
    Scan,
    /// RANDOMKEY → `Reply::Keys` with one random live key of `db` (none when
    /// empty) and `aux` = the database's key count, for the worker's weighted pick.
    RandomKey,
    /// GETEX key: `flags` are `getex_flags`, `num` the absolute deadline in
    /// ms → the value (then the TTL changed), nil, or the deferred error.
    GetEx,
    /// GETBIT key: `num` is the bit offset → 0 or 1.
    GetBit,
    /// SETBIT key: `num` is the bit offset, `flags` the bit → the old bit.
    SetBit,
    /// BITCOUNT key: `flags` are `bit_flags`, `num`/`aux` start/end (`i64`
    /// bits) → the count, 0 when absent, or the deferred error.
    BitCount,
    /// BITPOS key: `flags` are `bit_flags`, `num`/`aux` start/end (`i64`
    /// bits) → the position, -1, or the deferred error.
    BitPos,
    /// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key: `flags` is an
    /// `object_field` → bulk, integer, nil (absent) or an error.
    Object,
    /// MEMORY USAGE key → bytes the entry accounts for, or nil.
    MemoryUsage,
    /// MOVE key: `num` is the destination database → 1 or 0.
    Move,
    /// Nothing → OK. Sent to every shard when a worker refuses a write
    /// because an AOF segment fails: a shard whose segment fails tries it
    /// again before running any batch, so this makes the next write find
    /// the disk as it is (Redis retries after every command, in `beforeSleep`).
    RetryAof,
}

/// `Op::flags` of `OpCode::Scan`: argument 0 is a MATCH pattern.
pub const SCAN_MATCH: u8 = 1;
/// The `aux` of a SCAN step's `Reply::Keys` when the shard's slab is exhausted.
pub const SCAN_DONE: u64 = u64::MAX;

impl OpCode {
    /// True for ops that change data: refused while the AOF cannot be written.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            OpCode::Set
                | OpCode::Del
                | OpCode::FlushDb
                | OpCode::FlushAll
                | OpCode::IncrBy
                | OpCode::IncrByFloat
                | OpCode::Append
                | OpCode::GetDel
                | OpCode::SetRange
                | OpCode::Expire
                | OpCode::Persist
                | OpCode::Rename
                | OpCode::Copy
                | OpCode::MSetNx
                | OpCode::SwapDb
                | OpCode::GetEx
                | OpCode::SetBit
                | OpCode::Move
        )
    }
}

impl OpCode {
    /// True for ops whose reply depends on the data: if the group they ran
    /// in is rolled back (its AOF records failed), a reply given after the
    /// group's first change may show a write that no longer exists.
    pub fn reads_data(self) -> bool {
        !matches!(
            self,
            OpCode::Info
                | OpCode::SetLimits
                | OpCode::ResetStats
                | OpCode::RewriteAof
                | OpCode::SetFsync
                | OpCode::Shutdown
                | OpCode::Watch
                | OpCode::Unwatch
                | OpCode::WatchCheck
                | OpCode::RetryAof
        )
    }
}

/// SET flags carried in `Op::flags`.
pub mod set_flags {
    /// Only set when the key does not exist.
    pub const NX: u8 = 1;
    /// Only set when the key exists.
    pub const XX: u8 = 2;
    /// Reply with the old value.
    pub const GET: u8 = 4;
    /// Keep the current TTL.
    pub const KEEPTTL: u8 = 8;
    /// Reply 1/0 instead of OK/nil (SETNX).
    pub const INT_REPLY: u8 = 16;
}

/// RENAME / COPY / MSETNX options carried in `Op::flags`.
pub mod rename_flags {
    /// RENAMENX: only when the destination does not exist; reply 1/0.
    pub const NX: u8 = 1;
    /// COPY ... REPLACE.
    pub const REPLACE: u8 = 2;
    /// MSETNX's first phase across shards: only check.
    pub const CHECK: u8 = 4;
}

/// EXPIRE options carried in `Op::flags`.
pub mod expire_flags {
    /// Only when the key has no TTL.
    pub const NX: u8 = 1;
    /// Only when the key has a TTL.
    pub const XX: u8 = 2;
    /// Only when the new deadline is later than the current one.
    pub const GT: u8 = 4;
    /// Only when the new deadline is earlier than the current one.
    pub const LT: u8 = 8;
}

/// What a `OpCode::Ttl` op replies, in `Op::flags`.
pub mod ttl_mode {
    /// Seconds remaining (TTL).
    pub const TTL: u8 = 0;
    /// Milliseconds remaining (PTTL).
    pub const PTTL: u8 = 1;
    /// Absolute deadline in seconds (EXPIRETIME).
    pub const EXPIRETIME: u8 = 2;
    /// Absolute deadline in ms (PEXPIRETIME).
    pub const PEXPIRETIME: u8 = 3;
}

/// GETEX options carried in `Op::flags`.
pub mod getex_flags {
    /// PERSIST: remove the TTL.
    pub const PERSIST: u8 = 1;
    /// EX/PX/EXAT/PXAT: set the TTL to `Op::num` (absolute ms).
    pub const EXPIRE: u8 = 2;
    /// The deadline was given as EXAT/PXAT: one already past deletes the key.
    pub const ABSOLUTE: u8 = 4;
    /// The time was not an integer: reply that error, but only once the key
    /// is found (Redis validates the time after the look-up).
    pub const ERR_NOT_INTEGER: u8 = 8;
    /// The time was out of range: as `ERR_NOT_INTEGER`, with Redis's
    /// `invalid expire time` error.
    pub const ERR_INVALID: u8 = 16;
}

/// BITCOUNT / BITPOS options carried in `Op::flags`.
pub mod bit_flags {
    /// A start (and for BITCOUNT an end) was given in `Op::num` / `Op::aux`.
    pub const RANGE: u8 = 1;
    /// BITPOS: an end was given in `Op::aux`.
    pub const END: u8 = 2;
    /// The range counts bits (`BIT`), not bytes.
    pub const BIT_UNIT: u8 = 4;
    /// BITPOS looks for a 1 (else a 0).
    pub const ONE: u8 = 8;
    /// A syntax error to reply once the key is found (Redis parses the range
    /// after the look-up; an absent key answers 0 / -1 whatever follows).
    pub const ERR_SYNTAX: u8 = 16;
    /// As `ERR_SYNTAX`, for a range bound that is not an integer.
    pub const ERR_NOT_INTEGER: u8 = 32;
}

/// What an `OpCode::Object` op reports, in `Op::flags`.
pub mod object_field {
    /// OBJECT ENCODING.
    pub const ENCODING: u8 = 0;
    /// OBJECT REFCOUNT.
    pub const REFCOUNT: u8 = 1;
    /// OBJECT IDLETIME.
    pub const IDLETIME: u8 = 2;
    /// OBJECT FREQ.
    pub const FREQ: u8 = 3;
    /// Or'ed in: small integers are shared objects (Redis's
    /// `canUseSharedObject`: no maxmemory, or a policy that is not LRU/LFU).
    pub const SHARED_INTEGERS: u8 = 0x80;
}

/// One shard-side operation. Arguments are indices into the batch's buffers.
#[derive(Clone, Copy, Debug)]
pub struct Op {
    /// What to do.
    pub code: OpCode,
    /// Database index (SELECT).
    pub db: u8,
    /// Op-specific flags (see `set_flags`).
    pub flags: u8,
    /// Index of the first argument in `Batch::args`.
    pub arg: u32,
    /// Number of arguments.
    pub nargs: u32,
    /// Op-specific number: an absolute expiry in unix ms for SET, 0 if none.
    pub num: u64,
    /// A second op-specific number.
    pub aux: u64,
}

impl Op {
    /// An op without arguments yet (the router fills in `arg` and `nargs`
    /// when it adds the op to a batch).
    pub fn new(code: OpCode, db: u8, flags: u8, num: u64, aux: u64) -> Op {
        Op {
            code,
            db,
            flags,
            arg: 0,
            nargs: 0,
            num,
            aux,
        }
    }
}

/// Error replies a shard can produce, as Redis spells them (without the leading `-`).
pub mod errors {
    /// Write refused under `maxmemory`/`max-keys` with no eviction possible.
    pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
    /// Prefix of the error for writes refused while the AOF cannot be written.
    pub const MISCONF_AOF: &str = "MISCONF Errors writing to the AOF file: ";
    /// BGREWRITEAOF while one runs.
    pub const REWRITE_RUNNING: &str =
        "ERR Background append only file rewriting already in progress";
    /// BGREWRITEAOF with persistence off.
    pub const AOF_OFF: &str = "ERR Append only file is disabled";
    /// INCR family on a value that is not an integer.
    pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
    /// INCR family past i64.
    pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
    /// INCRBYFLOAT on an operand that is not a float.
    pub const NOT_FLOAT: &str = "ERR value is not a valid float";
    /// INCRBYFLOAT to NaN or ±infinity.
    pub const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";
    /// RENAME / RENAMENX of a missing key.
    pub const NO_SUCH_KEY: &str = "ERR no such key";
    /// APPEND / SETRANGE past 512 MB.
    pub const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    /// Redis's syntax error.
    pub const SYNTAX: &str = "ERR syntax error";
    /// GETEX with a time out of range.
    pub const GETEX_INVALID_EXPIRE: &str = "ERR invalid expire time in 'getex' command";
    /// OBJECT FREQ under an LRU (or no) eviction policy.
    pub const NO_LFU: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
}

/// A shard's snapshot for INFO.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardInfo {
    /// Keys per database.
    pub keys: [u64; crate::NUM_DBS],
    /// Keys with a TTL per database.
    pub expires: [u64; crate::NUM_DBS],
    /// Mean remaining TTL estimate (ms) per database.
    pub avg_ttl: [u64; crate::NUM_DBS],
    /// Bytes the shard's data structures use.
    pub used_memory: u64,
    /// Per-shard maxmemory (0 = none).
    pub maxmemory: u64,
    /// Read lookups that found a key.
    pub hits: u64,
    /// Read lookups that did not.
    pub misses: u64,
    /// Keys removed by TTL.
    pub expired: u64,
    /// Keys removed by a limit.
    pub evicted: u64,
    /// Persistence figures, when the AOF is on.
    pub aof: Option<crate::aof::AofStatus>,
    /// Bytes the AOF's record buffer holds.
    pub aof_buffer: u64,
}

/// A shard's answer to one op. Bulk payloads are ranges of `Batch::out`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Ok,
    /// Null bulk.
    Nil,
    /// Integer reply.
    Int(i64),
    /// Bulk string at `out[start..start + len]`.
    Bulk {
        /// Offset in `Batch::out`.
        start: usize,
        /// Length in bytes.
        len: usize,
    },
    /// Error reply (text without the leading `-`).
    Err(&'static str),
    /// Error reply whose text is built at run time.
    ErrText(Box<str>),
    /// Simple string reply (`+text`).
    Status(&'static str),
    /// INFO snapshot.
    Info(Box<ShardInfo>),
    /// A key's value at `out[start..start + len]` and its absolute expiry
    /// in unix ms (0 = none), for a cross-shard move of the key.
    Entry {
        /// Offset in `Batch::out`.
        start: usize,
        /// Length in bytes.
        len: usize,
        /// Absolute expiry, 0 when none.
        expire_at: u64,
    },
    /// A `keylist` at `out[start..start + len]` (KEYS, SCAN, RANDOMKEY).
    Keys {
        /// Offset in `Batch::out`.
        start: usize,
        /// Length in bytes.
        len: usize,
    },
}

/// The layout of a `Reply::Keys` payload: a 16-byte header (`aux`, an
/// op-specific number, then the key count, both little-endian `u64`), then
/// each key as a little-endian `u32` length and its bytes. Keys stay raw
/// bytes: the worker does the RESP framing.
pub mod keylist {
    const HEADER: usize = 16;

    /// Starts an empty list at the end of `out`; returns its start offset.
    pub fn begin(out: &mut Vec<u8>, aux: u64) -> usize {
        let start = out.len();
        out.extend_from_slice(&aux.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        start
    }

    /// Appends `key` to the list that starts at `start` (the last one in `out`).
    pub fn push(out: &mut Vec<u8>, start: usize, key: &[u8]) {
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key);
        let at = start + 8;
        let n = read_u64(out, at) + 1;
        out[at..at + 8].copy_from_slice(&n.to_le_bytes());
    }

    /// Replaces the list's `aux`.
    pub fn set_aux(out: &mut [u8], start: usize, aux: u64) {
        out[start..start + 8].copy_from_slice(&aux.to_le_bytes());
    }

    fn read_u64(b: &[u8], at: usize) -> u64 {
        let mut w = [0u8; 8];
        if let Some(s) = b.get(at..at + 8) {
            w.copy_from_slice(s);
        }
        u64::from_le_bytes(w)
    }

    /// The `aux` of a list.
    pub fn aux(list: &[u8]) -> u64 {
        read_u64(list, 0)
    }

    /// The number of keys in a list.
    pub fn len(list: &[u8]) -> usize {
        read_u64(list, 8) as usize
    }

    /// The keys of a list, in order.
    pub fn iter(list: &[u8]) -> impl Iterator<Item = &[u8]> {
        let mut rest = list.get(HEADER..).unwrap_or_default();
        std::iter::from_fn(move || {
            let (n, tail) = rest.split_first_chunk::<4>()?;
            let n = (u32::from_le_bytes(*n) as usize).min(tail.len());
            let (key, tail) = tail.split_at(n);
            rest = tail;
            Some(key)
        })
    }
}

/// An argument of `BIG_ARG` bytes or more, in a buffer of its own that the
/// connection read it into; shared, never copied, on its way to a shard.
pub type BigArg = std::sync::Arc<Vec<u8>>;

/// Arguments this long or longer travel as a `BigArg` (Redis's
/// `PROTO_MBULK_BIG_ARG`, the size from which it reads a bulk straight into
/// its own buffer).
pub const BIG_ARG: usize = 32 * 1024;

/// A buffer above this capacity is given back when its batch is cleared:
/// one huge request must not pin its size for the life of the batch.
pub const KEEP_CAPACITY: usize = 1 << 20;

/// Marks a range whose start indexes `ArgBuf::bigs` instead of `data`.
const SHARED: usize = 1 << (usize::BITS - 1);

/// Arguments in one flat buffer, big ones shared (see `BigArg`).
#[derive(Debug, Default)]
pub struct ArgBuf {
    data: Vec<u8>,
    /// `(start, len)` of each argument in `data`, or `(SHARED | i, len)` for `bigs[i]`.
    ranges: Vec<(usize, usize)>,
    bigs: Vec<BigArg>,
}

impl ArgBuf {
    /// Argument `i`.
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        let (start, len) = self.ranges[i];
        if start & SHARED != 0 {
            &self.bigs[start & !SHARED][..]
        } else {
            &self.data[start..start + len]
        }
    }

    /// Number of arguments.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// True when there is no argument.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Appends a copy of `arg`; returns its index.
    pub fn push(&mut self, arg: &[u8]) -> u32 {
        let start = self.data.len();
        self.data.extend_from_slice(arg);
        self.ranges.push((start, arg.len()));
        (self.ranges.len() - 1) as u32
    }

    /// Appends a big argument without copying it; returns its index.
    pub fn push_shared(&mut self, arg: BigArg) -> u32 {
        self.ranges.push((SHARED | self.bigs.len(), arg.len()));
        self.bigs.push(arg);
        (self.ranges.len() - 1) as u32
    }

    /// Forgets every argument; buffers past `KEEP_CAPACITY` are given back.
    pub fn clear(&mut self) {
        self.data.clear();
        self.ranges.clear();
        self.bigs.clear();
        if self.data.capacity() > KEEP_CAPACITY {
            self.data = Vec::new();
        }
        if self.ranges.capacity() * std::mem::size_of::<(usize, usize)>() > KEEP_CAPACITY {
            self.ranges = Vec::new();
        }
    }

    /// Bytes held, shared buffers included.
    pub fn capacity(&self) -> usize {
        self.data.capacity()
            + self.ranges.capacity() * std::mem::size_of::<(usize, usize)>()
            + self.bigs.iter().map(|b| b.capacity()).sum::<usize>()
    }
}

/// A reusable bundle of ops for one shard from one worker.
#[derive(Debug, Default)]
pub struct Batch {
    /// Index of the worker that owns this batch; the shard replies to it.
    pub worker: usize,
    /// Index of the shard this batch is for.
    pub shard: usize,
    /// Ops in request order.
    pub ops: Vec<Op>,
    /// The ops' arguments.
    pub args: ArgBuf,
    /// One reply per op, filled by the shard.
    pub replies: Vec<Reply>,
    /// Bulk reply payloads.
    pub out: Vec<u8>,
    /// After executing this batch, the shard serves only this batch's worker
    /// until a batch of that worker with `release` (a cross-shard atomic section).
    pub hold: bool,
    /// After executing this batch, the shard ends its hold.
    pub release: bool,
    /// Index of the first op the shard's last execution ran (the ones before
    /// it had run in an earlier exchange of the same round).
    pub ran_from: usize,
    /// Index of the first op of the last execution that ran after a change
    /// of its group had been recorded (`usize::MAX`: none). If the group's
    /// records cannot be written, those ops' replies are refused too.
    pub dirty_from: usize,
}

impl Batch {
    /// An empty batch owned by `worker`, addressed to `shard`.
    pub fn new(worker: usize, shard: usize) -> Self {
        Batch {
            worker,
            shard,
            dirty_from: usize::MAX,
            ..Default::default()
        }
    }

    /// Empties the batch, keeping its buffers' capacity up to `KEEP_CAPACITY`.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.args.clear();
        self.replies.clear();
        self.out.clear();
        if self.out.capacity() > KEEP_CAPACITY {
            self.out = Vec::new();
        }
        self.hold = false;
        self.release = false;
        self.ran_from = 0;
        self.dirty_from = usize::MAX;
    }

    /// True when some op has not been executed yet (ops run once: a batch
    /// sent twice in one round only runs the ops added since).
    pub fn has_new_ops(&self) -> bool {
        self.ops.len() > self.replies.len()
    }

    /// True when the batch must travel: new ops, or a hold or release.
    pub fn must_send(&self) -> bool {
        self.has_new_ops() || self.hold || self.release
    }

    /// True when the batch holds no op.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Appends an argument and returns its index in `args`.
    pub fn push_arg(&mut self, arg: &[u8]) -> u32 {
        self.args.push(arg)
    }

    /// Bytes the batch's buffers hold (for memory accounting).
    pub fn capacity(&self) -> usize {
        self.args.capacity()
            + self.out.capacity()
            + self.ops.capacity() * std::mem::size_of::<Op>()
            + self.replies.capacity() * std::mem::size_of::<Reply>()
    }

    /// Appends an op and returns its index (the index of its reply).
    pub fn push_op(&mut self, op: Op) -> u32 {
        self.ops.push(op);
        (self.ops.len() - 1) as u32
    }

    /// Argument `i` of `op`.
    pub fn arg(&self, op: &Op, i: u32) -> &[u8] {
        self.args.get((op.arg + i) as usize)
    }

    /// The payload of a bulk reply.
    pub fn bulk(&self, start: usize, len: usize) -> &[u8] {
        &self.out[start..start + len]
    }
}

#[cfg(test)]
mod tests {
    use super::keylist;

    #[test]
    fn keylist_round_trip() {
        let mut out = b"unrelated".to_vec();
        let start = keylist::begin(&mut out, 7);
        for k in [&b"a"[..], b"", b"bin\x00\xff\r\n"] {
            keylist::push(&mut out, start, k);
        }
        keylist::set_aux(&mut out, start, 42);
        let list = &out[start..];
        assert_eq!(keylist::aux(list), 42);
        assert_eq!(keylist::len(list), 3);
        let keys: Vec<&[u8]> = keylist::iter(list).collect();
        assert_eq!(keys, [&b"a"[..], b"", b"bin\x00\xff\r\n"]);
        // A truncated list yields what is whole and stops.
        assert_eq!(keylist::iter(&list[..list.len() - 3]).count(), 3);
        assert_eq!(keylist::iter(&list[..5]).count(), 0);
    }
}
