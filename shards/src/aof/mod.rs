//! Per-shard append-only files.
//!
//! ```text
//! <dir>/manifest              shard count, routing fingerprint, generation, segments
//! <dir>/shard-<i>.<gen>.aof   one segment per shard, Redis AOF (RESP) format
//! ```
//!
//! Records are absolute state changes only: `SET k v [PXAT ms]`, `DEL k`,
//! `PEXPIREAT k ms`, `PERSIST k`, `FLUSHDB`, `FLUSHALL`, `SWAPDB a b`, and
//! for hashes, sets and sorted sets `HSET`, `HDEL`, `SADD`, `SREM`, `ZADD`,
//! `ZREM` (absolute for the fields and members they name; see `record` for
//! why the incremental rewrite stays correct with them), for lists Redis's
//! list commands (`lists` explains how the rewrite copes with records
//! relative to the list), with `SELECT` whenever the database changes. Being absolute, a record may be applied twice without harm,
//! which is what makes the incremental rewrite below correct, and every
//! segment is a valid Redis AOF (`redis-check-aof` accepts it, `redis-cli
//! --pipe` imports it). A rewrite writes a hash as `HSET`s and a set as
//! `SADD`s, a list as `RPUSH`es, a sorted set as `ZADD`s of 64 items each
//! (Redis's `AOF_REWRITE_ITEMS_PER_CMD`), then
//! `PEXPIREAT` when the key has a TTL.
//!
//! Group commit: the shard executes every batch it drained, then writes the
//! records of all of them with one `write` and, under `appendfsync always`,
//! one `fdatasync` before any reply leaves.
//!
//! Rewrite: the shard walks its slab a few thousand entries at a time between
//! batches, writing the live keys to `<segment>.rewrite`, while the records
//! of new writes go both to the old segment and to a side buffer. When the
//! walk ends the buffer is appended, the file synced and renamed over the
//! segment. A key changed during the walk appears in the snapshot (old or
//! new state) and again, later, in the buffer; replay ends on its last state.

mod lists;
mod load;
mod manifest;
mod record;
mod rewrite;
mod segment;
mod streams;
pub mod switch;
#[cfg(test)]
mod tests;

pub use lists::{fmt_score, ListRecord, ScoreText};
pub use load::{is_fresh, open, open_seeded, Opened, SegmentReport};
pub(crate) use record::for_members;
pub use record::{Items, Record, ITEMS_PER_RECORD};
pub use segment::{Aof, AofStatus};
pub use streams::{GroupCmd, StreamRecord};

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// When the AOF reaches the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// Before every reply (one fdatasync per drained group of batches).
    Always,
    /// Once a second.
    Everysec,
    /// When the OS decides.
    No,
}

impl Fsync {
    /// Redis's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::Everysec => "everysec",
            Fsync::No => "no",
        }
    }
    /// Parses Redis's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        [Fsync::Always, Fsync::Everysec, Fsync::No]
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
    }
    /// Code carried in an op's flags.
    pub fn to_code(self) -> u8 {
        self as u8
    }
    /// Inverse of the code carried in ops.
    pub fn from_code(c: u8) -> Option<Self> {
        [Fsync::Always, Fsync::Everysec, Fsync::No]
            .get(c as usize)
            .copied()
    }
}

/// Persistence settings.
#[derive(Clone, Debug)]
pub struct AofConfig {
    /// Data directory.
    pub dir: PathBuf,
    /// fsync policy.
    pub fsync: Fsync,
    /// Rewrite when a segment grew by this many percent over its last rewritten size.
    pub rewrite_percentage: u64,
    /// ... and is at least this big (bytes).
    pub rewrite_min_size: u64,
    /// Start with the valid prefix when a segment ends in a torn record.
    pub load_truncated: bool,
    /// Start with the valid prefix even when a segment is corrupt before its end
    /// (the bad remainder is moved aside, not deleted).
    pub load_corrupt: bool,
    /// Start when a segment the manifest lists does not exist, without its keys.
    pub load_missing: bool,
}

/// The records a shard produced while executing, waiting to be written.
#[derive(Debug, Default)]
pub struct Log {
    /// False when persistence is off: recording costs nothing then.
    pub enabled: bool,
    /// Changes recorded since start, persistence on or off (INFO's
    /// `rdb_changes_since_last_save` counts from it).
    pub changes: u64,
    /// Set while the segment cannot be written: write ops are refused (MISCONF).
    pub refuse_writes: Option<std::sync::Arc<str>>,
    buf: Vec<u8>,
    db: Option<u8>,
    /// While a rewrite runs: the list keys (database byte, then key) whose
    /// records since it began open with the key's whole state (see
    /// `lists`); None otherwise.
    anchors: Option<std::collections::HashSet<Vec<u8>>>,
    scratch: Vec<u8>,
    /// Records other than `SELECT` in `buf`.
    records: usize,
    /// Where (byte, record count) the part of `buf` that belongs to no open
    /// section begins: after the `EXEC` of a section released in this group.
    free_from: (usize, usize),
    /// Where the section that took the shard in this group began, while it
    /// holds it.
    hold_from: Option<(usize, usize)>,
    /// The section holding the shard (see `mark_hold`).
    section: u64,
    /// The `EXEC` of the section open at the group's start is in `buf`.
    closed: bool,
    /// The segment holds a `MULTI` whose `EXEC` is not written yet: a
    /// section whose records span several groups holds the shard.
    open: bool,
    /// The section whose `MULTI` is open.
    open_section: u64,
    /// What `open` and `open_section` become once `buf` is written.
    open_after: (bool, u64),
}

/// What opens and closes a group of records that replay applies whole or
/// not at all: Redis's own transaction records, which its loader and
/// `redis-check-aof` treat the same way.
pub(crate) const MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";
pub(crate) const EXEC: &[u8] = b"*1\r\n$4\r\nEXEC\r\n";

/// What precedes a section's `MULTI`: `ECHO shardcache-section:<id in
/// hex>`, a command that changes nothing wherever the segment is replayed
/// (Redis's loader, `redis-cli --pipe`) and that `redis-check-aof` accepts.
pub(crate) const SECTION_NOTE: &[u8] = b"shardcache-section:";

fn section_note(out: &mut Vec<u8>, id: u64) {
    use std::io::Write;
    let hex = format!("{id:x}");
    out.extend_from_slice(b"*2\r\n$4\r\nECHO\r\n");
    let _ = write!(out, "${}\r\n", SECTION_NOTE.len() + hex.len());
    out.extend_from_slice(SECTION_NOTE);
    out.extend_from_slice(hex.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A section id no section of this process or of an earlier run of it had:
/// counted up from the clock at the first call (ids are compared across
/// segments at start-up, see `load`).
pub fn new_section_id() -> u64 {
    static NEXT: std::sync::OnceLock<AtomicU64> = std::sync::OnceLock::new();
    NEXT.get_or_init(|| AtomicU64::new(crate::clock::unix_ms() << 20))
        .fetch_add(1, Ordering::Relaxed)
}

impl Log {
    /// A log that records (persistence on) or not.
    pub fn new(enabled: bool) -> Self {
        Log {
            enabled,
            ..Default::default()
        }
    }

    /// Records a change made in database `db`, preceded by a `SELECT` when
    /// the previous record was made in another one. The one way records
    /// reach the AOF.
    #[inline]
    pub fn put(&mut self, db: u8, r: &Record) {
        self.changes += 1;
        if !self.enabled {
            return;
        }
        if r.in_db() && self.db != Some(db) {
            Record::Select(db).encode(&mut self.buf);
            self.db = Some(db);
        }
        r.encode(&mut self.buf);
        self.records += 1;
    }

    /// A section (`id`, unique) takes the shard: what it writes until its
    /// release is replayed whole or not at all, even over several groups.
    pub fn mark_hold(&mut self, id: u64) {
        self.section = id;
        self.hold_from = Some((self.buf.len(), self.records));
    }

    /// The section holding the shard released it: a `MULTI` it left open in
    /// the segment is closed here, before what others write next.
    pub fn mark_release(&mut self) {
        if !self.enabled {
            return;
        }
        if self.open && !self.closed {
            self.buf.extend_from_slice(EXEC);
            self.closed = true;
            self.free_from = (self.buf.len(), self.records);
        }
        // A section that began in this group ends in it: one write.
        self.hold_from = None;
    }

    /// Ends the group before it is written (`held`: a section still holds
    /// the shard). Records that replay must apply together go between
    /// `MULTI` and `EXEC`, as Redis writes a transaction:
    /// - the records of no open section, when more than one (a torn write
    ///   could apply part of them): several clients' commands, or one
    ///   command logged as several records. Wrapping more than one
    ///   command's worth only means a torn tail drops whole groups, none of
    ///   them acknowledged (replies wait for the write);
    /// - a section that still holds the shard: its `MULTI`, after a note
    ///   naming it (`ECHO shardcache-section:<id>`), is written now and its `EXEC` with its
    ///   release, so replay can tell a section cut short on this shard
    ///   whose other shards committed (`load`).
    pub fn seal(&mut self, held: bool) {
        if !self.enabled {
            return;
        }
        let (free_at, free_rec) = self.free_from;
        if held && self.open && !self.closed {
            // All of it continues the open section.
            self.open_after = (true, self.open_section);
        } else if held {
            let (at, rec) = self.hold_from.unwrap_or(self.free_from);
            let mut mid = Vec::new();
            let wrap_free = rec - free_rec >= 2;
            if wrap_free {
                mid.extend_from_slice(EXEC);
            }
            self.open_after = (false, 0);
            if self.records > rec {
                section_note(&mut mid, self.section);
                mid.extend_from_slice(MULTI);
                self.open_after = (true, self.section);
            }
            // Groups are usually a few records: moving them costs less than
            // a second write.
            self.buf.splice(at..at, mid);
            if wrap_free {
                self.buf.splice(free_at..free_at, MULTI.iter().copied());
            }
        } else {
            if self.open && !self.closed {
                // Released without `mark_release` (not expected): close it.
                self.buf.extend_from_slice(EXEC);
            } else if self.records - free_rec >= 2 {
                self.buf.extend_from_slice(EXEC);
                self.buf.splice(free_at..free_at, MULTI.iter().copied());
            }
            self.open_after = (false, 0);
        }
        self.end_group();
    }

    fn end_group(&mut self) {
        self.records = 0;
        self.free_from = (0, 0);
        self.hold_from = None;
        self.closed = false;
    }

    /// True while the segment holds a `MULTI` without its `EXEC`.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// What a file that continues the segment's open section (a rewrite's)
    /// must start with: its note and `MULTI`.
    pub(crate) fn open_prefix(&self) -> Vec<u8> {
        let mut v = Vec::new();
        if self.open {
            section_note(&mut v, self.open_section);
            v.extend_from_slice(MULTI);
        }
        v
    }

    /// `buf` was written.
    fn written(&mut self) {
        (self.open, self.open_section) = self.open_after;
        self.end_group();
        self.buf.clear();
        if self.buf.capacity() > KEEP_LOG_CAPACITY {
            self.buf = Vec::new();
        }
    }

    /// Forgets the current database so the next record starts with SELECT.
    pub fn reset_db(&mut self) {
        self.db = None;
    }

    /// Asked before a list record that is relative to the list's state
    /// (`lists`): true when a rewrite runs and the key of `db` has no
    /// record since it began that states it whole. The caller then logs
    /// the key's whole state instead (`DEL`, then `Record::for_value`),
    /// and the key counts as anchored until the rewrite ends.
    pub fn anchor(&mut self, db: u8, key: &[u8]) -> bool {
        let Some(set) = self.anchors.as_mut() else {
            return false;
        };
        self.scratch.clear();
        self.scratch.push(db);
        self.scratch.extend_from_slice(key);
        if set.contains(&self.scratch) {
            return false;
        }
        set.insert(self.scratch.clone());
        true
    }

    /// A rewrite began: list keys need anchoring from now on.
    pub(crate) fn begin_anchoring(&mut self) {
        if self.enabled {
            self.anchors = Some(Default::default());
        }
    }

    /// No rewrite runs: list records need no anchor.
    pub(crate) fn end_anchoring(&mut self) {
        self.anchors = None;
    }

    /// The records waiting to be written (for tests).
    #[cfg(test)]
    pub(crate) fn pending_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// True when records wait to be written.
    pub fn has_pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Bytes its buffer holds.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Drops the records waiting to be written (their writes were rolled
    /// back); the next record starts with a SELECT.
    fn discard(&mut self) {
        // The dropped records may have held anchors.
        if let Some(a) = self.anchors.as_mut() {
            a.clear();
        }
        self.buf.clear();
        if self.buf.capacity() > KEEP_LOG_CAPACITY {
            self.buf = Vec::new();
        }
        self.db = None;
        // Nothing of the dropped group reached the segment: a `MULTI` it
        // opened is gone with it, one written before stays open.
        self.end_group();
        self.open_after = (self.open, self.open_section);
    }
}

/// The most a retry of a failed append writes (see `Aof::retry`).
const RETRY_MAX_BYTES: usize = 64 * 1024;

/// A log buffer above this size is given back after it was written: one
/// big value must not pin its size for the shard's life.
const KEEP_LOG_CAPACITY: usize = 1 << 20;

/// Whether the shards can write their AOF segments: set and cleared by the
/// shards, read by the workers so that write commands are refused before
/// they run (Redis checks `writeCommandsDeniedByDiskError` in
/// `processCommand`). A shard also refuses write ops itself while its own
/// segment fails, for commands that passed the workers' check just before.
#[derive(Debug, Default)]
pub struct AofHealth {
    /// Shards whose segment cannot be written now.
    failing: AtomicUsize,
    /// The last error, as MISCONF quotes it.
    error: Mutex<String>,
}

impl AofHealth {
    /// The error writes are refused with, or None when every segment can be
    /// written (one atomic load on that path).
    pub fn failing(&self) -> Option<String> {
        if self.failing.load(Ordering::Acquire) == 0 {
            return None;
        }
        Some(self.error.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    fn set_failed(&self, error: &str) {
        *self.error.lock().unwrap_or_else(|p| p.into_inner()) = error.to_string();
        self.failing.fetch_add(1, Ordering::AcqRel);
    }

    fn set_ok(&self) {
        self.failing.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Test-only fault injection: when the process starts with this variable
/// naming a file, every append to a segment fails with ENOSPC (after writing
/// half its bytes, as a filling disk does) while that file exists; if the
/// file holds the word `truncate`, taking a failed append back fails too.
/// Read once at start and looked at only where a segment is appended to.
pub const FAIL_WRITES_ENV: &str = "SHARDCACHE_TEST_AOF_FAIL";

/// An I/O error as C's `strerror` words it (what Redis prints), without
/// Rust's ` (os error N)` suffix.
fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rsplit_once(" (os error ") {
        Some((text, _)) => text.to_string(),
        None => s,
    }
}

/// The engine has no logging framework of its own; persistence events are
/// rare and worth a line on stderr.
fn tracing_note(msg: &str) {
    eprintln!("shardcache aof: {msg}");
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
pub(crate) mod tests_support {
    //! Replays records from bytes, for op tests.
    use super::record::{parse_frame, Frame};
    use super::Record;
    use crate::keyspace::Store;

    /// Applies every record of `bytes` (whole frames) to `store`.
    pub fn replay(store: &mut Store, mut bytes: &[u8]) {
        let mut ranges = Vec::new();
        let mut db = 0u8;
        while let Frame::Done(n) = parse_frame(bytes, &mut ranges) {
            let argv: Vec<&[u8]> = ranges.iter().map(|&(s, l)| &bytes[s..s + l]).collect();
            if argv.len() == 1 && (argv[0] == b"MULTI" || argv[0] == b"EXEC") {
                bytes = &bytes[n..];
                continue;
            }
            Record::parse(&argv, |r| {
                r.apply(store, &mut db, 0);
                Ok(())
            })
            .expect("a valid record");
            bytes = &bytes[n..];
        }
        assert!(bytes.is_empty(), "a torn record");
    }
}
