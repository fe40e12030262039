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

use crate::route::Router;
use crate::store::{Expiry, Limits, Store};
use crate::NUM_DBS;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// Set while the segment cannot be written: write ops are refused (MISCONF).
    pub refuse_writes: Option<String>,
    buf: Vec<u8>,
    db: Option<u8>,
}

fn put_bulk(buf: &mut Vec<u8>, arg: &[u8]) {
    buf.push(b'$');
    buf.extend_from_slice(itoa::Buffer::new().format(arg.len()).as_bytes());
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(arg);
    buf.extend_from_slice(b"\r\n");
}

fn put_command(buf: &mut Vec<u8>, args: &[&[u8]]) {
    buf.push(b'*');
    buf.extend_from_slice(itoa::Buffer::new().format(args.len()).as_bytes());
    buf.extend_from_slice(b"\r\n");
    for a in args {
        put_bulk(buf, a);
    }
}

fn put_select(buf: &mut Vec<u8>, db: u8) {
    put_command(buf, &[b"SELECT", itoa::Buffer::new().format(db).as_bytes()]);
}

fn put_set(buf: &mut Vec<u8>, key: &[u8], value: &[u8], expire_at: u64) {
    if expire_at == 0 {
        put_command(buf, &[b"SET", key, value]);
    } else {
        let mut t = itoa::Buffer::new();
        put_command(
            buf,
            &[b"SET", key, value, b"PXAT", t.format(expire_at).as_bytes()],
        );
    }
}

impl Log {
    /// A log that records (persistence on) or not.
    pub fn new(enabled: bool) -> Self {
        Log {
            enabled,
            ..Default::default()
        }
    }

    fn select(&mut self, db: u8) {
        if self.db != Some(db) {
            put_select(&mut self.buf, db);
            self.db = Some(db);
        }
    }

    /// Records a SET with an absolute expiry (0 = none).
    pub fn set(&mut self, db: u8, key: &[u8], value: &[u8], expire_at: u64) {
        if self.enabled {
            self.select(db);
            put_set(&mut self.buf, key, value, expire_at);
        }
    }

    /// Records a DEL.
    pub fn del(&mut self, db: u8, key: &[u8]) {
        if self.enabled {
            self.select(db);
            put_command(&mut self.buf, &[b"DEL", key]);
        }
    }

    /// Records a PEXPIREAT with an absolute deadline in unix ms.
    pub fn pexpireat(&mut self, db: u8, key: &[u8], at: u64) {
        if self.enabled {
            self.select(db);
            let mut t = itoa::Buffer::new();
            put_command(&mut self.buf, &[b"PEXPIREAT", key, t.format(at).as_bytes()]);
        }
    }

    /// Records a FLUSHDB.
    pub fn flush_db(&mut self, db: u8) {
        if self.enabled {
            self.select(db);
            put_command(&mut self.buf, &[b"FLUSHDB"]);
        }
    }

    /// Records a SWAPDB.
    pub fn swap_db(&mut self, a: u8, b: u8) {
        if self.enabled {
            let (mut x, mut y) = (itoa::Buffer::new(), itoa::Buffer::new());
            put_command(
                &mut self.buf,
                &[b"SWAPDB", x.format(a).as_bytes(), y.format(b).as_bytes()],
            );
        }
    }

    /// Records a FLUSHALL.
    pub fn flush_all(&mut self) {
        if self.enabled {
            put_command(&mut self.buf, &[b"FLUSHALL"]);
        }
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

    /// Bytes its buffer holds.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// True when records wait to be written.
    pub fn has_pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Drops the records waiting to be written (their writes were rolled
    /// back); the next record starts with a SELECT.
    fn discard(&mut self) {
        self.buf.clear();
        if self.buf.capacity() > KEEP_LOG_CAPACITY {
            self.buf = Vec::new();
        }
        self.db = None;
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

struct Rewrite {
    tmp: PathBuf,
    out: BufWriter<File>,
    cursor: usize,
    db: Option<u8>,
    /// Records of writes made since the rewrite began.
    buffer: Vec<u8>,
    /// How much of `buffer` is already in the new file.
    buffer_written: usize,
    written: u64,
    synced: u64,
    /// The walk over the slab is over; the bulk sync and swap remain.
    walked: bool,
    /// A background sync of the whole walked file was requested.
    bulk_sync_requested: bool,
    started: Instant,
}

/// The `everysec` fsync, off the shard thread (Redis's bio fsync job): a
/// thread per shard that syncs a dup of the segment's descriptor on request.
struct Syncer {
    tx: crossbeam_channel::Sender<File>,
    busy: std::sync::Arc<std::sync::atomic::AtomicBool>,
    failed: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl Syncer {
    fn spawn(name: String) -> io::Result<Syncer> {
        let (tx, rx) = crossbeam_channel::bounded::<File>(1);
        let busy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let failed = std::sync::Arc::new(std::sync::Mutex::new(None));
        let (b, f) = (busy.clone(), failed.clone());
        std::thread::Builder::new().name(name).spawn(move || {
            for file in rx {
                let result = file.sync_data();
                *f.lock().unwrap_or_else(|p| p.into_inner()) = result.err().map(|e| strerror(&e));
                b.store(false, std::sync::atomic::Ordering::Release);
            }
        })?;
        Ok(Syncer { tx, busy, failed })
    }

    /// Starts a background sync of `file` unless one is still running.
    fn request(&self, file: &File) -> io::Result<bool> {
        use std::sync::atomic::Ordering;
        if self.busy.swap(true, Ordering::AcqRel) {
            return Ok(false);
        }
        match file.try_clone() {
            Ok(dup) => {
                // Capacity 1 and `busy` guard: this never blocks.
                let _ = self.tx.send(dup);
                Ok(true)
            }
            Err(e) => {
                self.busy.store(false, Ordering::Release);
                Err(e)
            }
        }
    }

    /// True while a requested sync has not finished.
    fn busy(&self) -> bool {
        self.busy.load(std::sync::atomic::Ordering::Acquire)
    }

    fn take_error(&self) -> Option<String> {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// One shard's open segment.
pub struct Aof {
    path: PathBuf,
    file: File,
    fsync: Fsync,
    size: u64,
    base_size: u64,
    last_fsync: Instant,
    unsynced: bool,
    /// Why writes are refused now (the last write or fsync error).
    error: Option<String>,
    /// A failed append could not be taken back: the segment ends with
    /// records of writes that were rolled back. Writes stay refused until a
    /// rewrite has replaced the segment with what memory holds.
    resync: bool,
    /// When the last rewrite for a resync was started.
    resync_tried: Option<Instant>,
    /// Bytes of the last append that failed: what `retry` tries to write.
    failed_len: usize,
    health: Option<Arc<AofHealth>>,
    fail_if: Option<PathBuf>,
    rewrite: Option<Rewrite>,
    rewrite_percentage: u64,
    rewrite_min_size: u64,
    last_rewrite_ok: bool,
    rewrite_requested: bool,
    syncer: Option<Syncer>,
}

/// Persistence figures for INFO.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AofStatus {
    /// Bytes in the segment.
    pub current_size: u64,
    /// Bytes after the last rewrite (or at startup).
    pub base_size: u64,
    /// A rewrite is under way.
    pub rewrite_in_progress: bool,
    /// The last rewrite succeeded.
    pub last_rewrite_ok: bool,
    /// The last write error, if writes currently fail.
    pub write_error: Option<String>,
}

/// Entries of the slab walked per rewrite step, and the most a step may take.
const REWRITE_STEP_ENTRIES: usize = 4096;
const REWRITE_STEP_BUDGET: Duration = Duration::from_millis(2);
/// Sync the rewrite file every this many bytes so the final sync is short.
const REWRITE_SYNC_EVERY: u64 = 8 << 20;
/// The most a rewrite writes per second, and how far ahead of that pace it
/// may run.
const REWRITE_BYTES_PER_SEC: u64 = 32 << 20;
const REWRITE_BURST: u64 = 1 << 20;

impl Aof {
    pub(crate) fn open(path: PathBuf, cfg: &AofConfig) -> io::Result<Aof> {
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(Aof {
            path,
            file,
            fsync: cfg.fsync,
            size,
            base_size: size,
            last_fsync: Instant::now(),
            unsynced: false,
            error: None,
            resync: false,
            resync_tried: None,
            failed_len: 0,
            health: None,
            fail_if: std::env::var_os(FAIL_WRITES_ENV).map(PathBuf::from),
            rewrite: None,
            rewrite_percentage: cfg.rewrite_percentage,
            rewrite_min_size: cfg.rewrite_min_size,
            last_rewrite_ok: true,
            rewrite_requested: false,
            syncer: None,
        })
    }

    /// The segment's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Changes the fsync policy (CONFIG SET appendfsync).
    pub fn set_fsync(&mut self, f: Fsync) {
        self.fsync = f;
    }

    /// Reports this segment's state to `health` from now on.
    pub fn set_health(&mut self, health: Arc<AofHealth>) {
        if self.error.is_some() {
            health.set_failed(self.error.as_deref().unwrap_or_default());
        }
        self.health = Some(health);
    }

    /// True while writes are refused (the last write or fsync failed).
    pub fn failing(&self) -> bool {
        self.error.is_some()
    }

    fn set_failed(&mut self, log: &mut Log, msg: String) {
        if self.error.is_none() {
            tracing_note(&format!(
                "{}: AOF write failed: {msg}; refusing writes until the disk accepts them",
                self.path.display()
            ));
            if let Some(h) = &self.health {
                h.set_failed(&msg);
            }
        }
        log.refuse_writes = Some(msg.clone());
        self.error = Some(msg);
    }

    fn set_ok(&mut self, log: &mut Log) {
        if self.error.take().is_some() {
            tracing_note(&format!(
                "{}: AOF writes succeed again; accepting writes",
                self.path.display()
            ));
            if let Some(h) = &self.health {
                h.set_ok();
            }
        }
        log.refuse_writes = None;
    }

    /// Appends `bytes` whole, or fails leaving an unknown part of them in the file.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut rest = bytes;
        if self.fail_if.as_ref().is_some_and(|p| p.exists()) {
            // Test-only (see FAIL_WRITES_ENV): half goes in, then the disk is full.
            let half = rest.len() / 2;
            self.file.write_all(&rest[..half])?;
            return Err(io::Error::from_raw_os_error(28));
        }
        while !rest.is_empty() {
            match self.file.write(rest) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Takes the segment back to `len` bytes after a failed append.
    fn cut(&mut self, len: u64) -> io::Result<()> {
        if let Some(p) = &self.fail_if {
            if fs::read_to_string(p).is_ok_and(|t| t.contains("truncate")) {
                return Err(io::Error::from_raw_os_error(5));
            }
        }
        self.file.set_len(len)
    }

    /// Writes what `log` holds (one `write` for the whole drained group) and,
    /// under `always` (or `sync`), syncs it.
    ///
    /// On failure nothing of it stays in the segment: the file is cut back
    /// to where it was, the records are dropped, and the caller rolls the
    /// group's writes back and answers them with MISCONF, so the segment and
    /// memory agree and no refused write is applied. Writes are refused from
    /// then on (`log.refuse_writes`, `AofHealth`) until `retry` finds that the
    /// disk accepts them again. If even the cut fails, the segment holds
    /// records memory does not: writes stay refused until a rewrite has
    /// replaced it (`resync`).
    pub fn commit(&mut self, log: &mut Log) -> Result<(), String> {
        self.commit_with(log, self.fsync == Fsync::Always)
    }

    fn commit_with(&mut self, log: &mut Log, sync: bool) -> Result<(), String> {
        if log.buf.is_empty() {
            return self.error.clone().map_or(Ok(()), Err);
        }
        let before = self.size;
        let result = self.append(&log.buf).and_then(|()| {
            self.unsynced = true;
            if sync {
                self.sync()
            } else {
                Ok(())
            }
        });
        match result {
            Ok(()) => {
                self.size += log.buf.len() as u64;
                if let Some(rw) = self.rewrite.as_mut() {
                    rw.buffer.extend_from_slice(&log.buf);
                }
                log.buf.clear();
                if log.buf.capacity() > KEEP_LOG_CAPACITY {
                    log.buf = Vec::new();
                }
                if !self.resync {
                    self.set_ok(log);
                }
                Ok(())
            }
            Err(e) => {
                let msg = strerror(&e);
                self.failed_len = log.buf.len();
                log.discard();
                if let Err(cut) = self.cut(before) {
                    tracing_note(&format!(
                        "{}: cannot take back a failed append ({}); writes stay refused until a rewrite replaces the segment",
                        self.path.display(),
                        strerror(&cut)
                    ));
                    self.start_resync();
                }
                self.set_failed(log, msg.clone());
                Err(msg)
            }
        }
    }

    /// The segment ends with records memory does not hold: any rewrite in
    /// progress is dropped (its buffer has them too) and a new one is asked
    /// for, from memory as it is after the rollback.
    fn start_resync(&mut self) {
        self.resync = true;
        self.resync_tried = None;
        if let Some(rw) = self.rewrite.take() {
            let _ = fs::remove_file(&rw.tmp);
        }
        self.rewrite_requested = false;
    }

    /// While writes are refused, tries the disk again with as many bytes as
    /// the append that failed (up to `RETRY_MAX_BYTES`) of records that
    /// change nothing (`SELECT 0`), written and synced: a full disk often
    /// still takes a few bytes into a file's last block, so a tiny probe
    /// would declare it healthy too early. Called at every drain of the
    /// shard while failing (a write refused by a worker sends one, so the
    /// next write finds the disk as it is now) and by `tick`.
    pub fn retry(&mut self, log: &mut Log) {
        if self.error.is_none() || self.resync {
            return;
        }
        debug_assert!(!log.has_pending());
        log.discard();
        let want = self.failed_len.clamp(1, RETRY_MAX_BYTES);
        while log.buf.len() < want {
            put_select(&mut log.buf, 0);
        }
        log.db = Some(0);
        let _ = self.commit_with(log, true);
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()?;
        self.unsynced = false;
        self.last_fsync = Instant::now();
        Ok(())
    }

    /// Periodic work between batches: the `everysec` fsync, retrying a
    /// failed write, and the rewrite. `store` is the shard's data.
    pub fn tick(&mut self, log: &mut Log, store: &Store) {
        if let Some(e) = self.syncer.as_ref().and_then(Syncer::take_error) {
            // What the failed sync covered must be synced again.
            self.unsynced = true;
            self.set_failed(log, e);
        }
        self.retry(log);
        if self.fsync == Fsync::Everysec
            && self.unsynced
            && self.error.is_none()
            && self.last_fsync.elapsed() >= Duration::from_secs(1)
        {
            self.ensure_syncer();
            let started = match &self.syncer {
                Some(s) => s.request(&self.file),
                None => self.sync().map(|()| true),
            };
            match started {
                Ok(true) => {
                    self.unsynced = false;
                    self.last_fsync = Instant::now();
                }
                Ok(false) => {}
                Err(e) => self.set_failed(log, strerror(&e)),
            }
        }
        if self.resync
            && self.rewrite.is_none()
            && self
                .resync_tried
                .map_or(true, |t| t.elapsed() >= Duration::from_secs(1))
        {
            self.resync_tried = Some(Instant::now());
            self.start_rewrite(log);
        }
        if self.rewrite.is_some() {
            self.rewrite_step(log, store);
        } else if self.rewrite_requested || self.should_rewrite() {
            self.rewrite_requested = false;
            self.start_rewrite(log);
        }
    }

    /// Syncs everything written so far (shutdown; the records of the group
    /// being executed follow with its commit). What was acknowledged is on
    /// disk once this succeeds, even while appends fail: refused writes were
    /// never acknowledged.
    pub fn sync_all(&mut self) -> Result<(), String> {
        self.sync().map_err(|e| strerror(&e))
    }

    /// True while a rewrite is requested or walking the slab (the shard
    /// should tick again without sleeping).
    pub fn rewriting(&self) -> bool {
        self.rewrite.is_some() || self.rewrite_requested
    }

    /// Asks for a rewrite at the next tick (BGREWRITEAOF). False if one is running.
    pub fn request_rewrite(&mut self) -> bool {
        if self.rewriting() {
            return false;
        }
        self.rewrite_requested = true;
        true
    }

    fn should_rewrite(&self) -> bool {
        self.error.is_none()
            && self.rewrite_percentage > 0
            && self.size >= self.rewrite_min_size
            && self.size >= self.base_size + self.base_size * self.rewrite_percentage / 100
    }

    fn ensure_syncer(&mut self) {
        if self.syncer.is_none() {
            let name = format!(
                "aof-sync-{}",
                self.path
                    .file_name()
                    .map_or("".into(), |n| n.to_string_lossy())
            );
            self.syncer = Syncer::spawn(name).ok();
        }
    }

    fn start_rewrite(&mut self, log: &mut Log) {
        self.ensure_syncer();
        let tmp = self.path.with_extension("aof.rewrite");
        match File::create(&tmp) {
            Ok(f) => {
                // The buffered records must open with a SELECT of their own.
                log.reset_db();
                self.rewrite = Some(Rewrite {
                    tmp,
                    out: BufWriter::with_capacity(1 << 20, f),
                    cursor: 0,
                    db: None,
                    buffer: Vec::new(),
                    buffer_written: 0,
                    written: 0,
                    synced: 0,
                    walked: false,
                    bulk_sync_requested: false,
                    started: Instant::now(),
                });
            }
            Err(e) => {
                tracing_note(&format!("{}: cannot start rewrite: {e}", tmp.display()));
                self.last_rewrite_ok = false;
            }
        }
    }

    /// One bounded step of the rewrite. The disk syncs that a big file needs
    /// run on the background syncer, never on the shard thread: first every
    /// few MB during the walk, then one for the whole walked file; only the
    /// short tail written after that is synced here, before the rename.
    fn rewrite_step(&mut self, log: &mut Log, store: &Store) {
        let Some(rw) = self.rewrite.as_mut() else {
            return;
        };
        let start = Instant::now();
        let mut result: io::Result<bool> = Ok(false);
        if !rw.walked {
            let now = crate::clock::unix_ms();
            let mut chunk = Vec::with_capacity(64 * 1024);
            // Paced (see REWRITE_BYTES_PER_SEC): ahead of schedule, stop.
            let on_schedule = |rw: &Rewrite| {
                (rw.written as f64)
                    < rw.started.elapsed().as_secs_f64() * REWRITE_BYTES_PER_SEC as f64
                        + REWRITE_BURST as f64
            };
            while start.elapsed() < REWRITE_STEP_BUDGET && on_schedule(rw) {
                let next =
                    store.snapshot_range(rw.cursor, REWRITE_STEP_ENTRIES, now, |db, k, v, exp| {
                        if rw.db != Some(db) {
                            put_select(&mut chunk, db);
                            rw.db = Some(db);
                        }
                        put_set(&mut chunk, k, v, exp);
                    });
                rw.written += chunk.len() as u64;
                if let Err(e) = rw.out.write_all(&chunk) {
                    result = Err(e);
                    break;
                }
                chunk.clear();
                match next {
                    Some(c) => rw.cursor = c,
                    None => {
                        rw.walked = true;
                        break;
                    }
                }
            }
            if result.is_ok() && !rw.walked && rw.written - rw.synced >= REWRITE_SYNC_EVERY {
                if let Some(syncer) = &self.syncer {
                    result = rw.out.flush().and_then(|()| {
                        if syncer.request(rw.out.get_ref())? {
                            rw.synced = rw.written;
                        }
                        Ok(false)
                    });
                }
            }
        }
        if rw.walked && result.is_ok() {
            // Keep the new file level with the buffer so the final tail stays short.
            result = rw
                .out
                .write_all(&rw.buffer[rw.buffer_written..])
                .and_then(|()| rw.out.flush())
                .map(|()| false);
            rw.buffer_written = rw.buffer.len();
            match &self.syncer {
                Some(syncer) if !rw.bulk_sync_requested => {
                    if let Ok(false) = result {
                        match syncer.request(rw.out.get_ref()) {
                            Ok(started) => rw.bulk_sync_requested = started,
                            Err(e) => result = Err(e),
                        }
                    }
                }
                Some(syncer) if syncer.busy() => {}
                // The bulk sync is done (or there is no syncer): swap now.
                _ => result = result.map(|_| true),
            }
        }
        match result {
            Ok(false) => {}
            Ok(true) => {
                let rw = self.rewrite.take().expect("rewrite in progress");
                if let Err(e) = self.finish_rewrite(rw, log) {
                    tracing_note(&format!("{}: rewrite failed: {e}", self.path.display()));
                    self.last_rewrite_ok = false;
                }
            }
            Err(e) => {
                let rw = self.rewrite.take().expect("rewrite in progress");
                let _ = fs::remove_file(&rw.tmp);
                tracing_note(&format!("{}: rewrite failed: {e}", self.path.display()));
                self.last_rewrite_ok = false;
            }
        }
    }

    fn finish_rewrite(&mut self, mut rw: Rewrite, log: &mut Log) -> io::Result<()> {
        // Records still in `log` were never written to the old segment: they
        // go to the new one through the normal commit after the swap. The
        // bulk of the file is synced already; this sync covers the short tail.
        rw.out.write_all(&rw.buffer[rw.buffer_written..])?;
        rw.out.flush()?;
        let file = rw.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_data()?;
        fs::rename(&rw.tmp, &self.path)?;
        sync_dir(self.path.parent().unwrap_or(Path::new(".")))?;
        let size = file.metadata()?.len();
        let mut file = file;
        file.seek(SeekFrom::End(0))?;
        // The old segment is unlinked now; closing its last descriptor makes
        // the filesystem free all its blocks, which for a big file takes tens
        // of milliseconds. Close it off the shard thread, as Redis's
        // background close job does.
        let old = std::mem::replace(&mut self.file, file);
        let _ = std::thread::Builder::new()
            .name("aof-close".into())
            .spawn(move || drop(old));
        self.size = size;
        self.base_size = size;
        self.unsynced = false;
        self.last_rewrite_ok = true;
        if std::mem::take(&mut self.resync) {
            // The segment is what memory holds again.
            self.set_ok(log);
        }
        // The new segment ends with the buffer, whose database context
        // matches `log`'s, so appending continues seamlessly.
        tracing_note(&format!(
            "{}: rewritten to {} bytes in {} ms",
            self.path.display(),
            size,
            rw.started.elapsed().as_millis()
        ));
        Ok(())
    }

    /// Starts a running rewrite over (SWAPDB during a rewrite: the entries
    /// walked before it carry their old database, and replaying SWAPDB from
    /// the buffer after them would swap the ones walked later twice).
    /// The new walk starts at a later tick, after the SWAPDB record went to
    /// the old segment only.
    pub fn restart_rewrite(&mut self) {
        if let Some(rw) = self.rewrite.take() {
            let tmp = rw.tmp.clone();
            drop(rw);
            let _ = fs::remove_file(&tmp);
            self.rewrite_requested = true;
        }
    }

    /// Figures for INFO persistence.
    pub fn status(&self) -> AofStatus {
        AofStatus {
            current_size: self.size,
            base_size: self.base_size,
            rewrite_in_progress: self.rewriting(),
            last_rewrite_ok: self.last_rewrite_ok,
            write_error: self.error.clone(),
        }
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

// ---------------------------------------------------------------------------
// Manifest

const MANIFEST: &str = "manifest";
const MANIFEST_MAGIC: &str = "shardcache-aof-manifest 1";

#[derive(Debug, Clone, PartialEq, Eq)]
struct Manifest {
    shards: usize,
    fingerprint: u64,
    generation: u64,
    segments: Vec<String>,
}

impl Manifest {
    fn render(&self) -> String {
        let mut s = format!(
            "{MANIFEST_MAGIC}\nshards {}\nfingerprint {:016x}\ngeneration {}\n",
            self.shards, self.fingerprint, self.generation
        );
        for (i, seg) in self.segments.iter().enumerate() {
            s.push_str(&format!("segment {i} {seg}\n"));
        }
        s
    }

    fn parse(text: &str) -> Result<Manifest, String> {
        let mut lines = text.lines();
        if lines.next() != Some(MANIFEST_MAGIC) {
            return Err("not a shardcache manifest".into());
        }
        let mut m = Manifest {
            shards: 0,
            fingerprint: 0,
            generation: 0,
            segments: Vec::new(),
        };
        for line in lines {
            let mut f = line.split_whitespace();
            let bad = || format!("bad manifest line '{line}'");
            match f.next() {
                Some("shards") => {
                    m.shards = f.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?
                }
                Some("fingerprint") => {
                    m.fingerprint = f
                        .next()
                        .and_then(|v| u64::from_str_radix(v, 16).ok())
                        .ok_or_else(bad)?
                }
                Some("generation") => {
                    m.generation = f.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?
                }
                Some("segment") => {
                    let i: usize = f.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
                    let name = f.next().ok_or_else(bad)?;
                    if i != m.segments.len() || name.contains('/') {
                        return Err(bad());
                    }
                    m.segments.push(name.to_string());
                }
                None => {}
                Some(_) => return Err(bad()),
            }
        }
        if m.shards == 0 || m.segments.len() != m.shards {
            return Err("manifest lists the wrong number of segments".into());
        }
        Ok(m)
    }

    /// Write-temp, fsync, rename, fsync the directory.
    fn store(&self, dir: &Path) -> io::Result<()> {
        let tmp = dir.join("manifest.tmp");
        {
            let mut f = File::create(&tmp)?;
            f.write_all(self.render().as_bytes())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, dir.join(MANIFEST))?;
        sync_dir(dir)
    }
}

fn segment_name(shard: usize, generation: u64) -> String {
    format!("shard-{shard}.{generation}.aof")
}

// ---------------------------------------------------------------------------
// Replay

/// Why a segment stopped replaying.
#[derive(Debug)]
enum Stop {
    /// The file ends inside a record: a torn tail.
    Truncated { offset: u64 },
    /// Bytes that are not a record we write, followed by more data.
    Corrupt { offset: u64, why: String },
}

/// Streams multibulk records out of a segment.
struct Reader {
    file: File,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
}

/// One parsed record: argument ranges into the reader's window.
struct Record<'a> {
    window: &'a [u8],
    ranges: &'a [(usize, usize)],
}

impl<'a> Record<'a> {
    fn len(&self) -> usize {
        self.ranges.len()
    }
    fn arg(&self, i: usize) -> &'a [u8] {
        let (s, l) = self.ranges[i];
        &self.window[s..s + l]
    }
}

enum Frame {
    Done(usize),
    Incomplete,
    Bad(String),
}

fn parse_len(line: &[u8]) -> Option<usize> {
    std::str::from_utf8(line).ok()?.parse().ok()
}

/// Parses one multibulk frame at the start of `b`, filling `args` with ranges.
fn parse_frame(b: &[u8], args: &mut Vec<(usize, usize)>) -> Frame {
    args.clear();
    let line = |from: usize| -> Option<usize> { memchr_crlf(&b[from..]).map(|i| from + i) };
    if b.is_empty() {
        return Frame::Incomplete;
    }
    if b[0] != b'*' {
        return Frame::Bad(format!("expected '*', got byte 0x{:02x}", b[0]));
    }
    let Some(cr) = line(1) else {
        return if b.len() > 32 {
            Frame::Bad("multibulk header too long".into())
        } else {
            Frame::Incomplete
        };
    };
    let Some(n) = parse_len(&b[1..cr]) else {
        return Frame::Bad("invalid multibulk length".into());
    };
    if n == 0 || n > 1 << 20 {
        return Frame::Bad("invalid multibulk length".into());
    }
    let mut pos = cr + 2;
    for _ in 0..n {
        if pos >= b.len() {
            return Frame::Incomplete;
        }
        if b[pos] != b'$' {
            return Frame::Bad(format!("expected '$', got byte 0x{:02x}", b[pos]));
        }
        let Some(cr) = line(pos + 1) else {
            return if b.len() - pos > 32 {
                Frame::Bad("bulk header too long".into())
            } else {
                Frame::Incomplete
            };
        };
        let Some(len) = parse_len(&b[pos + 1..cr]) else {
            return Frame::Bad("invalid bulk length".into());
        };
        let data = cr + 2;
        if b.len() < data + len + 2 {
            return Frame::Incomplete;
        }
        if &b[data + len..data + len + 2] != b"\r\n" {
            return Frame::Bad("bulk not terminated by CRLF".into());
        }
        args.push((data, len));
        pos = data + len + 2;
    }
    Frame::Done(pos)
}

fn memchr_crlf(b: &[u8]) -> Option<usize> {
    let i = b.iter().position(|&c| c == b'\r')?;
    (i + 1 < b.len()).then_some(i)
}

impl Reader {
    fn open(path: &Path) -> io::Result<Reader> {
        Ok(Reader {
            file: File::open(path)?,
            buf: vec![0; 4 << 20],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
        })
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let len = self.buf.len() * 2;
            self.buf.resize(len, 0);
        }
        let n = self.file.read(&mut self.buf[self.end..])?;
        if n == 0 {
            self.eof = true;
        }
        self.end += n;
        Ok(())
    }

    /// Calls `apply` for every record; returns the byte length of the valid
    /// prefix and why it stopped early, if it did.
    fn replay(
        &mut self,
        mut apply: impl FnMut(Record) -> Result<(), String>,
    ) -> io::Result<(u64, Option<Stop>)> {
        let mut ranges = Vec::new();
        loop {
            let window = &self.buf[self.start..self.end];
            let frame = parse_frame(window, &mut ranges);
            match frame {
                Frame::Done(n) => {
                    if let Err(why) = apply(Record {
                        window,
                        ranges: &ranges,
                    }) {
                        return Ok((
                            self.offset,
                            Some(Stop::Corrupt {
                                offset: self.offset,
                                why,
                            }),
                        ));
                    }
                    self.start += n;
                    self.offset += n as u64;
                }
                Frame::Incomplete if self.eof => {
                    let stop = (self.start < self.end).then_some(Stop::Truncated {
                        offset: self.offset,
                    });
                    return Ok((self.offset, stop));
                }
                Frame::Incomplete => {
                    self.fill()?;
                }
                Frame::Bad(why) => {
                    return Ok((
                        self.offset,
                        Some(Stop::Corrupt {
                            offset: self.offset,
                            why,
                        }),
                    ));
                }
            }
        }
    }
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Applies one record to a store, Redis-AOF style.
fn apply_record(store: &mut Store, db: &mut u8, rec: Record, now: u64) -> Result<(), String> {
    let mut name = [0u8; 16];
    let cmd = rec.arg(0);
    if cmd.len() > name.len() {
        return Err("unexpected record".into());
    }
    name[..cmd.len()].copy_from_slice(cmd);
    name[..cmd.len()].make_ascii_uppercase();
    let name = &name[..cmd.len()];
    let args: [&[u8]; 5] =
        std::array::from_fn(|i| if i < rec.len() { rec.arg(i) } else { &[][..] });
    match (name, rec.len()) {
        (b"SELECT", 2) => {
            let d = parse_u64(args[1])
                .filter(|&d| (d as usize) < NUM_DBS)
                .ok_or("bad SELECT")?;
            *db = d as u8;
        }
        (b"SET", 3) => {
            let _ = store.set(*db as usize, args[1], args[2], Expiry::Clear, now);
        }
        (b"SET", 5) if args[3].eq_ignore_ascii_case(b"PXAT") => {
            let at = parse_u64(args[4]).ok_or("bad PXAT")?;
            if at <= now {
                // Already expired: it must not come back.
                store.del(*db as usize, args[1], now);
            } else {
                let _ = store.set(*db as usize, args[1], args[2], Expiry::At(at), now);
            }
        }
        (b"DEL", n) if n >= 2 => {
            for i in 1..n {
                store.del(*db as usize, rec.arg(i), now);
            }
        }
        (b"PEXPIREAT", 3) => {
            let at = parse_u64(args[2]).ok_or("bad PEXPIREAT")?;
            if at <= now {
                store.del(*db as usize, args[1], now);
            } else {
                store.expire(*db as usize, args[1], at, now);
            }
        }
        (b"SWAPDB", 3) => {
            let parse = |b: &[u8]| {
                parse_u64(b)
                    .filter(|&d| (d as usize) < NUM_DBS)
                    .ok_or("bad SWAPDB")
            };
            store.swap_db(parse(args[1])? as usize, parse(args[2])? as usize);
        }
        (b"FLUSHDB", 1) => store.flush_db(*db as usize),
        (b"FLUSHALL", 1) => store.flush_all(),
        _ => {
            return Err(format!(
                "unexpected record '{}' with {} arguments",
                String::from_utf8_lossy(name),
                rec.len()
            ))
        }
    }
    Ok(())
}

/// What loading one segment found.
#[derive(Debug, Default, Clone)]
pub struct SegmentReport {
    /// File name.
    pub name: String,
    /// Bytes replayed.
    pub bytes: u64,
    /// Keys in the store afterwards.
    pub keys: usize,
    /// Bytes dropped from a torn or corrupt tail.
    pub dropped: u64,
}

fn load_segment(
    dir: &Path,
    name: &str,
    cfg: &AofConfig,
    limits: Limits,
) -> Result<(Store, SegmentReport), String> {
    let path = dir.join(name);
    let mut store = Store::new(Limits::default());
    let mut report = SegmentReport {
        name: name.to_string(),
        ..Default::default()
    };
    if !path.exists() {
        // Only when `--aof-load-missing yes` let `open` go on without it.
        if !cfg.load_missing {
            return Err(format!("{}: the segment does not exist", path.display()));
        }
        store.set_limits(limits);
        return Ok((store, report));
    }
    let len = fs::metadata(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let now = crate::clock::unix_ms();
    let mut db = 0u8;
    let mut reader = Reader::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (valid, stop) = reader
        .replay(|rec| apply_record(&mut store, &mut db, rec, now))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match stop {
        None => {}
        Some(Stop::Truncated { offset }) => {
            if !cfg.load_truncated {
                return Err(format!(
                    "{}: truncated record at offset {offset} ({} bytes after it); start with --aof-load-truncated yes to keep the valid prefix",
                    path.display(),
                    len - offset
                ));
            }
            report.dropped = len - valid;
            truncate(&path, valid)?;
            eprintln!(
                "shardcache aof: {}: dropped a torn tail of {} bytes at offset {valid}; kept {valid} bytes",
                path.display(),
                report.dropped
            );
        }
        Some(Stop::Corrupt { offset, why }) => {
            if !cfg.load_corrupt {
                return Err(format!(
                    "{}: corrupt at offset {offset}: {why} ({} bytes follow); inspect it with redis-check-aof, or start with --aof-load-corrupt yes to keep the {offset} valid bytes (the rest is moved aside)",
                    path.display(),
                    len - offset
                ));
            }
            let aside = dir.join(format!("{name}.corrupt-{offset}"));
            copy_tail(&path, offset, &aside)?;
            truncate(&path, valid)?;
            report.dropped = len - valid;
            eprintln!(
                "shardcache aof: {}: corrupt at offset {offset} ({why}); kept {valid} bytes, moved {} bytes to {}",
                path.display(),
                report.dropped,
                aside.display()
            );
        }
    }
    report.bytes = valid;
    report.keys = store.len();
    store.set_limits(limits);
    Ok((store, report))
}

fn truncate(path: &Path, len: u64) -> Result<(), String> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.set_len(len)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: truncate: {e}", path.display()))
}

fn copy_tail(path: &Path, from: u64, to: &Path) -> Result<(), String> {
    let mut src = File::open(path).map_err(|e| e.to_string())?;
    src.seek(SeekFrom::Start(from)).map_err(|e| e.to_string())?;
    let mut dst = File::create(to).map_err(|e| e.to_string())?;
    io::copy(&mut src, &mut dst).map_err(|e| e.to_string())?;
    dst.sync_all().map_err(|e| e.to_string())
}

/// Writes a store's live keys as a segment.
fn write_snapshot(path: &Path, store: &Store) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let now = crate::clock::unix_ms();
    let mut db = None;
    let mut chunk = Vec::new();
    let mut cursor = 0;
    loop {
        let next = store.snapshot_range(cursor, 65536, now, |d, k, v, exp| {
            if db != Some(d) {
                put_select(&mut chunk, d);
                db = Some(d);
            }
            put_set(&mut chunk, k, v, exp);
        });
        out.write_all(&chunk)?;
        chunk.clear();
        match next {
            Some(c) => cursor = c,
            None => break,
        }
    }
    out.flush()?;
    out.get_ref().sync_all()
}

/// Stores and open segments, ready for the shard threads.
pub struct Opened {
    /// One store per shard, loaded.
    pub stores: Vec<Store>,
    /// One open segment per shard.
    pub aofs: Vec<Aof>,
    /// Per-segment figures of what was replayed.
    pub segments: Vec<SegmentReport>,
    /// Set when the data was re-routed to a new shard count or routing.
    pub resharded_from: Option<usize>,
}

/// A segment file found in the data directory: `shard-<index>.<generation>.aof`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    generation: u64,
    index: usize,
    name: String,
}

/// The shard index and generation a segment's name carries, if it is one.
fn parse_segment_name(name: &str) -> Option<(usize, u64)> {
    let rest = name.strip_prefix("shard-")?.strip_suffix(".aof")?;
    let (i, g) = rest.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(i) || !digits(g) {
        return None;
    }
    Some((i.parse().ok()?, g.parse().ok()?))
}

/// Every segment file in `dir`, newest generation first, then by index.
fn segments_on_disk(dir: &Path) -> Result<Vec<Found>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut found = Vec::new();
    for e in entries {
        let e = e.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some((index, generation)) = parse_segment_name(&name) {
            found.push(Found {
                generation,
                index,
                name,
            });
        }
    }
    found.sort_by(|a, b| b.generation.cmp(&a.generation).then(a.index.cmp(&b.index)));
    Ok(found)
}

fn names(found: &[Found]) -> String {
    found
        .iter()
        .map(|f| f.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A data directory that holds segments but no manifest (an operator removed
/// it, or a copy left it behind). The newest generation whose segments are
/// all there (indices 0..n, none missing) is the data: a reshard renames its
/// new segments into place from the last index down to 0, so a generation it
/// did not finish always lacks `shard-0`. Nothing is written here; the caller
/// re-routes what this returns into a new generation and manifest.
fn recover_manifest(dir: &Path, found: &[Found]) -> Result<Manifest, String> {
    let mut generations: Vec<u64> = found.iter().map(|f| f.generation).collect();
    generations.dedup();
    for g in generations {
        let segs: Vec<&Found> = found.iter().filter(|f| f.generation == g).collect();
        let complete = segs.iter().enumerate().all(|(i, f)| f.index == i);
        if complete {
            return Ok(Manifest {
                shards: segs.len(),
                // The routing that wrote them is unknown: always re-route.
                fingerprint: 0,
                generation: g,
                segments: segs.iter().map(|f| f.name.clone()).collect(),
            });
        }
    }
    Err(format!(
        "{dir} has no manifest, and the AOF segments in it ({list}) form no complete generation \
         (shard-0 up to shard-N-1 of one generation); nothing was changed. Restore {dir}/manifest \
         from a backup, or move the segments out of {dir} to start with an empty data set",
        dir = dir.display(),
        list = names(found)
    ))
}

/// Opens (or creates) the data directory, replays every segment — one
/// thread per segment — and re-routes the keys when the shard count or the
/// routing changed since the manifest was written.
///
/// A segment is data until a manifest written here retires it: nothing in
/// this function creates a file over one, truncates one (other than a torn
/// tail, see `load_segment`) or deletes one that a manifest still lists or
/// that no manifest ever listed. A directory with segments but no manifest is
/// recovered from its newest complete generation (see `recover_manifest`);
/// a segment the manifest lists but that is missing refuses the start unless
/// `load_missing`.
pub fn open(cfg: &AofConfig, router: &Router, limits: &[Limits]) -> Result<Opened, String> {
    let dir = &cfg.dir;
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let n = router.shards();
    let found = segments_on_disk(dir)?;
    let manifest = match fs::read_to_string(dir.join(MANIFEST)) {
        Ok(text) => Some(
            Manifest::parse(&text).map_err(|e| format!("{}: {e}", dir.join(MANIFEST).display()))?,
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("{}: {e}", dir.join(MANIFEST).display())),
    };
    let recovered = manifest.is_none() && !found.is_empty();
    let m = match manifest {
        Some(m) => m,
        None if found.is_empty() => {
            // A fresh directory.
            let m = Manifest {
                shards: n,
                fingerprint: router.fingerprint(),
                generation: 1,
                segments: (0..n).map(|i| segment_name(i, 1)).collect(),
            };
            for seg in &m.segments {
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(dir.join(seg))
                    .map_err(|e| format!("{}: {e}", dir.join(seg).display()))?;
            }
            m.store(dir).map_err(|e| format!("manifest: {e}"))?;
            let stores = limits.iter().map(|&l| Store::new(l)).collect();
            return finish(cfg, &m, stores, Vec::new(), None, &[]);
        }
        None => {
            let m = recover_manifest(dir, &found)?;
            eprintln!(
                "shardcache aof: {} has no manifest: loading generation {} ({} segments: {}), \
                 the newest complete one found, and writing a new manifest",
                dir.display(),
                m.generation,
                m.shards,
                m.segments.join(", ")
            );
            m
        }
    };

    let missing: Vec<&String> = m
        .segments
        .iter()
        .filter(|s| !dir.join(s).exists())
        .collect();
    if !missing.is_empty() {
        let list = missing
            .iter()
            .map(|s| dir.join(s).display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if !cfg.load_missing {
            return Err(format!(
                "{} lists {} segment(s) that do not exist: {list}; their keys would be lost. \
                 Restore the file(s), or start with --aof-load-missing yes to start without them",
                dir.join(MANIFEST).display(),
                missing.len()
            ));
        }
        eprintln!(
            "shardcache aof: --aof-load-missing yes: skipped {} missing segment(s) of {}: {list}; \
             the keys they held are lost",
            missing.len(),
            m.segments.len()
        );
    }

    let same_routing = !recovered && m.shards == n && m.fingerprint == router.fingerprint();
    let replay_limits: Vec<Limits> = if same_routing {
        limits.to_vec()
    } else {
        vec![Limits::default(); m.shards]
    };
    let loaded: Vec<Result<(Store, SegmentReport), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = m
            .segments
            .iter()
            .zip(replay_limits)
            .map(|(seg, lim)| s.spawn(move || load_segment(dir, seg, cfg, lim)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("segment replay panicked".into()))
            })
            .collect()
    });
    let mut stores = Vec::with_capacity(loaded.len());
    let mut reports = Vec::with_capacity(loaded.len());
    for r in loaded {
        let (s, rep) = r?;
        stores.push(s);
        reports.push(rep);
    }
    if same_routing {
        return finish(cfg, &m, stores, reports, None, &found);
    }

    // Re-route: every old segment was replayed into a store of its own (so a
    // FLUSHALL in one segment only affects the keys that came from it); now
    // move each key to its new shard and write a new generation.
    let mut fresh: Vec<Store> = (0..n).map(|_| Store::new(Limits::default())).collect();
    let now = crate::clock::unix_ms();
    for old in &stores {
        let mut cursor = 0;
        loop {
            let next = old.snapshot_range(cursor, 65536, now, |db, k, v, exp| {
                let expiry = if exp == 0 {
                    Expiry::Clear
                } else {
                    Expiry::At(exp)
                };
                let _ = fresh[router.shard_of(k)].set(db as usize, k, v, expiry, now);
            });
            match next {
                Some(c) => cursor = c,
                None => break,
            }
        }
    }
    drop(stores);
    // Above every generation on disk, so the new segments never meet a file
    // of the same name (one a reshard that did not finish left behind).
    let generation = found
        .iter()
        .map(|f| f.generation)
        .max()
        .unwrap_or(0)
        .max(m.generation)
        + 1;
    let segments: Vec<String> = (0..n).map(|i| segment_name(i, generation)).collect();
    for (store, seg) in fresh.iter().zip(&segments) {
        let tmp = dir.join(format!("{seg}.{RESHARD_SUFFIX}"));
        write_snapshot(&tmp, store).map_err(|e| format!("{}: {e}", tmp.display()))?;
    }
    // Last index first: an interrupted series of renames never leaves a
    // generation that looks complete (see `recover_manifest`).
    for seg in segments.iter().rev() {
        let tmp = dir.join(format!("{seg}.{RESHARD_SUFFIX}"));
        fs::rename(&tmp, dir.join(seg)).map_err(|e| format!("{}: {e}", tmp.display()))?;
    }
    sync_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let new = Manifest {
        shards: n,
        fingerprint: router.fingerprint(),
        generation,
        segments,
    };
    new.store(dir).map_err(|e| format!("manifest: {e}"))?;
    // The manifest just written retires the old generation.
    for old in &m.segments {
        let _ = fs::remove_file(dir.join(old));
    }
    for (store, lim) in fresh.iter_mut().zip(limits) {
        store.set_limits(*lim);
    }
    let keys = fresh.iter().map(|s| s.len()).sum::<usize>();
    if recovered {
        eprintln!(
            "shardcache aof: {}: recovered {keys} keys from generation {} ({} segments) into \
             generation {generation} ({n} segments) and wrote a new manifest",
            dir.display(),
            m.generation,
            m.shards
        );
    } else {
        eprintln!(
            "shardcache aof: re-routed {keys} keys from {} to {n} shards (generation {generation})",
            m.shards
        );
    }
    let leftover: Vec<Found> = found
        .into_iter()
        .filter(|f| !m.segments.contains(&f.name))
        .collect();
    finish(cfg, &new, fresh, reports, Some(m.shards), &leftover)
}

/// Suffix of the segments a reshard writes before renaming them into place.
const RESHARD_SUFFIX: &str = "reshard";

fn finish(
    cfg: &AofConfig,
    m: &Manifest,
    stores: Vec<Store>,
    segments: Vec<SegmentReport>,
    resharded_from: Option<usize>,
    found: &[Found],
) -> Result<Opened, String> {
    let aofs = m
        .segments
        .iter()
        .map(|seg| Aof::open(cfg.dir.join(seg), cfg).map_err(|e| format!("{seg}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    // Leftovers of a crash that never were data: a rewrite or a reshard
    // output whose rename did not happen (the segment it was to replace, or
    // the manifest that was to list it, still holds the data).
    if let Ok(entries) = fs::read_dir(&cfg.dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.ends_with(".aof.rewrite") || name.ends_with(&format!(".aof.{RESHARD_SUFFIX}")) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    // Segments no manifest of ours retired (an older generation whose removal
    // did not happen, a copy): left for the operator, never deleted here.
    let stray: Vec<Found> = found
        .iter()
        .filter(|f| !m.segments.contains(&f.name))
        .cloned()
        .collect();
    if !stray.is_empty() {
        eprintln!(
            "shardcache aof: {}: segments not in the manifest, left alone: {}",
            cfg.dir.display(),
            names(&stray)
        );
    }
    Ok(Opened {
        stores,
        aofs,
        segments,
        resharded_from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(dir: &Path) -> AofConfig {
        AofConfig {
            dir: dir.to_path_buf(),
            fsync: Fsync::Always,
            rewrite_percentage: 100,
            rewrite_min_size: 64 << 20,
            load_truncated: true,
            load_corrupt: false,
            load_missing: false,
        }
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("shardcache-aof-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn records_replay_and_manifest_round_trip() {
        let dir = tmpdir("roundtrip");
        let c = cfg(&dir);
        let router = Router::new(2);
        let limits = vec![Limits::default(); 2];
        let mut opened = open(&c, &router, &limits).unwrap();
        let mut log = Log::new(true);
        let far = crate::clock::unix_ms() + 1_000_000;
        log.set(0, b"a", b"1", 0);
        log.set(3, b"b", b"2", far);
        log.set(0, b"gone", b"x", 5); // expired long ago
        log.del(0, b"a");
        log.set(0, b"c", b"3", 0);
        opened.aofs[0].commit(&mut log).unwrap();
        drop(opened);
        let opened = open(&c, &router, &limits).unwrap();
        let s = &opened.stores[0];
        assert_eq!(s.len(), 2);
        let mut s0 = opened.stores.into_iter().next().unwrap();
        assert_eq!(s0.get(3, b"b", 0), Some(&b"2"[..]));
        assert_eq!(s0.expire_at(3, b"b", 0), Some(far));
        assert_eq!(s0.get(0, b"c", 0), Some(&b"3"[..]));
        assert_eq!(s0.get(0, b"a", 0), None);
        assert_eq!(s0.get(0, b"gone", 0), None);
        let m = Manifest::parse(&fs::read_to_string(dir.join(MANIFEST)).unwrap()).unwrap();
        assert_eq!(m.shards, 2);
        assert_eq!(m.generation, 1);
    }

    #[test]
    fn torn_tail_keeps_prefix_and_corruption_refuses() {
        let dir = tmpdir("torn");
        let c = cfg(&dir);
        let router = Router::new(1);
        let limits = vec![Limits::default()];
        let mut opened = open(&c, &router, &limits).unwrap();
        let mut log = Log::new(true);
        for i in 0..10 {
            log.set(0, format!("k{i}").as_bytes(), b"v", 0);
        }
        opened.aofs[0].commit(&mut log).unwrap();
        let path = opened.aofs[0].path().to_path_buf();
        drop(opened);
        let full = fs::read(&path).unwrap();
        // Cut inside the last record at every offset: always 9 keys back.
        let last_start = full.len() - b"*3\r\n$3\r\nSET\r\n$2\r\nk9\r\n$1\r\nv\r\n".len();
        for cut in last_start + 1..full.len() {
            fs::write(&path, &full[..cut]).unwrap();
            let o = open(&c, &router, &limits).unwrap();
            assert_eq!(o.stores[0].len(), 9, "cut at {cut}");
            assert_eq!(fs::metadata(&path).unwrap().len(), last_start as u64);
        }
        // Garbage in the middle: refuse, naming the offset.
        let mut bad = full.clone();
        bad[last_start] = b'#';
        bad.extend_from_slice(b"*1\r\n$7\r\nFLUSHDB\r\n");
        fs::write(&path, &bad).unwrap();
        let err = open(&c, &router, &limits).err().unwrap();
        assert!(err.contains(&format!("offset {last_start}")), "{err}");
        let mut lenient = c.clone();
        lenient.load_corrupt = true;
        let o = open(&lenient, &router, &limits).unwrap();
        assert_eq!(o.stores[0].len(), 9);
    }

    #[test]
    fn reshard_moves_every_key() {
        let dir = tmpdir("reshard");
        let c = cfg(&dir);
        let limits4 = vec![Limits::default(); 4];
        let r4 = Router::new(4);
        let mut opened = open(&c, &r4, &limits4).unwrap();
        for i in 0..1000u32 {
            let k = format!("key:{i}");
            let shard = r4.shard_of(k.as_bytes());
            let mut log = Log::new(true);
            log.set((i % 3) as u8, k.as_bytes(), i.to_string().as_bytes(), 0);
            opened.aofs[shard].commit(&mut log).unwrap();
        }
        drop(opened);
        for n in [2usize, 3] {
            let r = Router::new(n);
            let opened = open(&c, &r, &vec![Limits::default(); n]).unwrap();
            assert_eq!(opened.resharded_from, Some(if n == 2 { 4 } else { 2 }));
            let mut stores = opened.stores;
            let total: usize = stores.iter().map(|s| s.len()).sum();
            assert_eq!(total, 1000);
            for i in 0..1000u32 {
                let k = format!("key:{i}");
                let s = &mut stores[r.shard_of(k.as_bytes())];
                assert_eq!(
                    s.get((i % 3) as usize, k.as_bytes(), 0),
                    Some(i.to_string().as_bytes())
                );
            }
        }
        let m = Manifest::parse(&fs::read_to_string(dir.join(MANIFEST)).unwrap()).unwrap();
        assert_eq!((m.shards, m.generation), (3, 3));
        let files: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(files.len(), 4, "old generations removed: {files:?}");
    }

    /// Writes `keys` keys through `open` with `n` shards; returns the segment sizes.
    fn fill(c: &AofConfig, n: usize, keys: u32) -> Vec<(String, u64)> {
        let r = Router::new(n);
        let mut opened = open(c, &r, &vec![Limits::default(); n]).unwrap();
        for i in 0..keys {
            let k = format!("key:{i}");
            let mut log = Log::new(true);
            log.set(0, k.as_bytes(), i.to_string().as_bytes(), 0);
            opened.aofs[r.shard_of(k.as_bytes())]
                .commit(&mut log)
                .unwrap();
        }
        files(&c.dir)
    }

    /// Every file of `dir` with its size, sorted by name.
    fn files(dir: &Path) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        v.sort();
        v
    }

    fn total_keys(o: &Opened) -> usize {
        o.stores.iter().map(|s| s.len()).sum()
    }

    #[test]
    fn missing_manifest_recovers_the_newest_complete_generation() {
        let dir = tmpdir("nomanifest");
        let c = cfg(&dir);
        let before = fill(&c, 2, 500);
        let seg_bytes: u64 = before
            .iter()
            .filter(|(n, _)| n != MANIFEST)
            .map(|f| f.1)
            .sum();
        assert!(seg_bytes > 5_000, "{before:?}");
        fs::remove_file(dir.join(MANIFEST)).unwrap();
        // Same shard count: still re-routed (the routing that wrote them is
        // unknown), into a generation above the one found.
        let o = open(&c, &Router::new(2), &[Limits::default(); 2]).unwrap();
        assert_eq!(total_keys(&o), 500);
        let m = Manifest::parse(&fs::read_to_string(dir.join(MANIFEST)).unwrap()).unwrap();
        assert_eq!((m.shards, m.generation), (2, 2));
        drop(o);
        // And it stays: a normal start on the new manifest.
        let o = open(&c, &Router::new(2), &[Limits::default(); 2]).unwrap();
        assert_eq!(total_keys(&o), 500);
        assert_eq!(o.resharded_from, None);
    }

    #[test]
    fn missing_manifest_after_reshards_skips_incomplete_generations_and_deletes_nothing_else() {
        let dir = tmpdir("nomanifest-gen");
        let c = cfg(&dir);
        fill(&c, 4, 300);
        // 4 -> 2 -> 3 shards: generation 3 holds the data.
        drop(open(&c, &Router::new(2), &[Limits::default(); 2]).unwrap());
        drop(open(&c, &Router::new(3), &[Limits::default(); 3]).unwrap());
        fs::remove_file(dir.join(MANIFEST)).unwrap();
        // An older generation left behind, and a newer one a reshard did
        // not finish (its renames go last index first: shard-0 is missing).
        fs::write(dir.join("shard-0.1.aof"), b"*1\r\n$8\r\nFLUSHALL\r\n").unwrap();
        fs::write(dir.join("shard-1.7.aof"), b"*1\r\n$8\r\nFLUSHALL\r\n").unwrap();
        fs::write(dir.join("shard-3.2.aof.rewrite"), b"partial").unwrap();
        let o = open(&c, &Router::new(2), &[Limits::default(); 2]).unwrap();
        assert_eq!(total_keys(&o), 300);
        let m = Manifest::parse(&fs::read_to_string(dir.join(MANIFEST)).unwrap()).unwrap();
        assert_eq!(
            (m.shards, m.generation),
            (2, 8),
            "above every generation on disk"
        );
        let names: Vec<String> = files(&dir).into_iter().map(|f| f.0).collect();
        assert_eq!(
            names,
            [
                "manifest",
                "shard-0.1.aof",
                "shard-0.8.aof",
                "shard-1.7.aof",
                "shard-1.8.aof"
            ],
            "generation 3 retired by the new manifest; the stray ones left alone, the rewrite leftover gone"
        );
    }

    #[test]
    fn missing_manifest_without_a_complete_generation_refuses_and_changes_nothing() {
        let dir = tmpdir("nomanifest-refuse");
        let c = cfg(&dir);
        fill(&c, 3, 200);
        fs::remove_file(dir.join(MANIFEST)).unwrap();
        fs::remove_file(dir.join("shard-0.1.aof")).unwrap();
        let before = files(&dir);
        let err = open(&c, &Router::new(3), &[Limits::default(); 3])
            .err()
            .unwrap();
        assert!(
            err.contains(&dir.display().to_string())
                && err.contains("shard-1.1.aof, shard-2.1.aof")
                && err.contains("no manifest"),
            "{err}"
        );
        assert_eq!(files(&dir), before, "nothing written, truncated or deleted");
    }

    #[test]
    fn a_listed_segment_that_is_missing_refuses_unless_allowed() {
        let dir = tmpdir("missing-seg");
        let mut c = cfg(&dir);
        fill(&c, 2, 400);
        let r = Router::new(2);
        let on_1 = (0..400u32)
            .filter(|i| r.shard_of(format!("key:{i}").as_bytes()) == 1)
            .count();
        fs::remove_file(dir.join("shard-0.1.aof")).unwrap();
        let before = files(&dir);
        let err = open(&c, &r, &[Limits::default(); 2]).err().unwrap();
        assert!(
            err.contains("shard-0.1.aof") && err.contains("--aof-load-missing"),
            "{err}"
        );
        assert_eq!(files(&dir), before);
        c.load_missing = true;
        let o = open(&c, &r, &[Limits::default(); 2]).unwrap();
        assert_eq!(total_keys(&o), on_1);
        assert!(
            dir.join("shard-0.1.aof").exists(),
            "an empty segment in its place"
        );
    }

    #[test]
    fn rewrite_compacts_and_keeps_concurrent_writes() {
        let dir = tmpdir("rewrite");
        let mut c = cfg(&dir);
        c.fsync = Fsync::No;
        let router = Router::new(1);
        let limits = vec![Limits::default()];
        let mut opened = open(&c, &router, &limits).unwrap();
        let mut store = opened.stores.pop().unwrap();
        let mut aof = opened.aofs.pop().unwrap();
        let mut log = Log::new(true);
        for round in 0..50u32 {
            for i in 0..200u32 {
                let k = format!("k{i}");
                let v = format!("v{round}");
                store
                    .set(0, k.as_bytes(), v.as_bytes(), Expiry::Clear, 0)
                    .unwrap();
                log.set(0, k.as_bytes(), v.as_bytes(), 0);
            }
            aof.commit(&mut log).unwrap();
        }
        let before = aof.status().current_size;
        assert!(aof.request_rewrite());
        aof.tick(&mut log, &store);
        let mut steps = 0;
        while aof.rewriting() {
            // Writes keep coming during the rewrite (a bounded number, so
            // the size check below does not depend on how long the
            // background sync of the new file takes on this disk).
            if steps < 50 {
                let k = format!("k{}", steps % 200);
                store
                    .set(0, k.as_bytes(), b"late", Expiry::Clear, 0)
                    .unwrap();
                log.set(0, k.as_bytes(), b"late", 0);
                store.del(0, b"k199", 0);
                log.del(0, b"k199");
                aof.commit(&mut log).unwrap();
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
            aof.tick(&mut log, &store);
            steps += 1;
            assert!(steps < 60_000, "the rewrite finishes");
        }
        let after = aof.status().current_size;
        assert!(after < before / 10, "{after} vs {before}");
        log.set(0, b"after", b"swap", 0);
        aof.commit(&mut log).unwrap();
        drop(aof);
        let mut reopened = open(&c, &router, &limits).unwrap();
        let mut s = reopened.stores.pop().unwrap();
        assert_eq!(
            s.len(),
            store.len() + 1,
            "every key plus the one logged after the swap"
        );
        for i in 0..199u32 {
            let k = format!("k{i}");
            assert_eq!(
                s.get(0, k.as_bytes(), 0),
                store.peek(0, k.as_bytes(), 0),
                "{k}"
            );
        }
        assert_eq!(s.get(0, b"k199", 0), None);
        assert_eq!(s.get(0, b"after", 0), Some(&b"swap"[..]));
    }
}
