//! Per-shard append-only files.
//!
//! ```text
//! <dir>/manifest              shard count, routing fingerprint, generation, segments
//! <dir>/shard-<i>.<gen>.aof   one segment per shard, Redis AOF (RESP) format
//! ```
//!
//! Records are absolute state changes only: `SET k v [PXAT ms]`, `DEL k`,
//! `FLUSHDB`, `FLUSHALL`, with `SELECT` whenever the database changes. Being
//! absolute, a record may be applied twice without harm, which is what makes
//! the incremental rewrite below correct, and every segment is a valid Redis
//! AOF (`redis-check-aof` accepts it, `redis-cli --pipe` imports it).
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

mod load;
mod manifest;
mod record;
mod rewrite;
mod segment;
#[cfg(test)]
mod tests;

pub use load::{open, Opened, SegmentReport};
pub use record::Record;
pub use segment::{Aof, AofStatus};

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

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
}

/// The records a shard produced while executing, waiting to be written.
#[derive(Debug, Default)]
pub struct Log {
    /// False when persistence is off: recording costs nothing then.
    pub enabled: bool,
    /// Set while the segment cannot be written: write ops are refused (MISCONF).
    pub refuse_writes: Option<std::sync::Arc<str>>,
    buf: Vec<u8>,
    db: Option<u8>,
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
        if !self.enabled {
            return;
        }
        if r.in_db() && self.db != Some(db) {
            Record::Select(db).encode(&mut self.buf);
            self.db = Some(db);
        }
        r.encode(&mut self.buf);
    }

    /// Forgets the current database so the next record starts with SELECT.
    pub fn reset_db(&mut self) {
        self.db = None;
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
}

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
