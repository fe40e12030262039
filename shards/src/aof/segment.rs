//! One shard's open segment: group commit, the fsync policy (with the
//! `everysec` fsync on a thread of its own), error state and retries.

use super::record::Record;
use super::rewrite::Rewrite;
use super::{
    strerror, tracing_note, AofConfig, AofHealth, Fsync, Log, FAIL_WRITES_ENV, RETRY_MAX_BYTES,
};
use crate::keyspace::Store;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `everysec` fsync, off the shard thread (Redis's bio fsync job): a
/// thread per shard that syncs a dup of the segment's descriptor on request.
pub(super) struct Syncer {
    tx: crossbeam_channel::Sender<File>,
    busy: std::sync::Arc<std::sync::atomic::AtomicBool>,
    failed: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl Syncer {
    pub(super) fn spawn(name: String) -> io::Result<Syncer> {
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
    pub(super) fn request(&self, file: &File) -> io::Result<bool> {
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
    pub(super) fn busy(&self) -> bool {
        self.busy.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(super) fn take_error(&self) -> Option<String> {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// One shard's open segment.
pub struct Aof {
    pub(super) path: PathBuf,
    pub(super) file: File,
    pub(super) fsync: Fsync,
    pub(super) size: u64,
    pub(super) base_size: u64,
    pub(super) last_fsync: Instant,
    pub(super) unsynced: bool,
    /// Why writes are refused now (the last write or fsync error).
    pub(super) error: Option<String>,
    /// A failed append could not be taken back: the segment ends with
    /// records of writes that were rolled back. Writes stay refused until a
    /// rewrite has replaced the segment with what memory holds.
    pub(super) resync: bool,
    /// When the last rewrite for a resync was started.
    pub(super) resync_tried: Option<Instant>,
    /// Bytes of the last append that failed: what `retry` tries to write.
    pub(super) failed_len: usize,
    pub(super) health: Option<Arc<AofHealth>>,
    pub(super) fail_if: Option<PathBuf>,
    pub(super) rewrite: Option<Rewrite>,
    pub(super) rewrite_percentage: u64,
    pub(super) rewrite_min_size: u64,
    pub(super) last_rewrite_ok: bool,
    pub(super) rewrite_requested: bool,
    pub(super) syncer: Option<Syncer>,
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

    /// True under `appendfsync always`.
    pub fn fsync_always(&self) -> bool {
        self.fsync == Fsync::Always
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
        log.refuse_writes = Some(msg.as_str().into());
        self.error = Some(msg);
    }

    pub(super) fn set_ok(&mut self, log: &mut Log) {
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
    /// under `always`, syncs it.
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
                log.written();
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
            Record::Select(0).encode(&mut log.buf);
        }
        log.db = Some(0);
        let _ = self.commit_with(log, true);
    }

    pub(super) fn sync(&mut self) -> io::Result<()> {
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
        if self.rewrite.is_none() {
            // A rewrite that was dropped leaves nothing to anchor for.
            log.end_anchoring();
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

    pub(super) fn ensure_syncer(&mut self) {
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
