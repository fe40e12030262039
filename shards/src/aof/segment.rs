//! One shard's open segment: group commit, the fsync policy (with the
//! `everysec` fsync on a thread of its own), error state and retries.

use super::rewrite::Rewrite;
use super::{strerror, tracing_note, AofConfig, Fsync, Log};
use crate::keyspace::Store;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
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
    pub(super) error: Option<String>,
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
    pub(super) fn open(path: PathBuf, cfg: &AofConfig) -> io::Result<Aof> {
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

    /// Writes what `log` holds (one `write` for the whole drained group) and,
    /// under `always`, syncs it. On failure the records stay in `log` to be
    /// retried, and `log.refuse_writes` is set until a write succeeds.
    pub fn commit(&mut self, log: &mut Log) -> Result<(), String> {
        if log.buf.is_empty() {
            return self.error.clone().map_or(Ok(()), Err);
        }
        let mut written = 0;
        let result = loop {
            if written == log.buf.len() {
                break Ok(());
            }
            match self.file.write(&log.buf[written..]) {
                Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        // Whatever reached the file is part of the stream, even if the rest
        // did not: keep only the remainder for the retry.
        self.size += written as u64;
        if let Some(rw) = self.rewrite.as_mut() {
            rw.buffer.extend_from_slice(&log.buf[..written]);
        }
        log.buf.drain(..written);
        let result = result.and_then(|()| {
            self.unsynced = true;
            if self.fsync == Fsync::Always {
                self.sync()
            } else {
                Ok(())
            }
        });
        match result {
            Ok(()) => {
                if self.error.take().is_some() {
                    tracing_note(&format!("{}: writes succeed again", self.path.display()));
                }
                log.refuse_writes = None;
                Ok(())
            }
            Err(e) => {
                let msg = strerror(&e);
                if self.error.is_none() {
                    tracing_note(&format!("{}: AOF write failed: {msg}", self.path.display()));
                }
                self.error = Some(msg.clone());
                log.refuse_writes = Some(msg.as_str().into());
                Err(msg)
            }
        }
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
        if self.error.is_some() || log.has_pending() {
            let _ = self.commit(log);
        }
        if let Some(e) = self.syncer.as_ref().and_then(Syncer::take_error) {
            self.error = Some(e.clone());
            log.refuse_writes = Some(e.as_str().into());
        }
        if self.fsync == Fsync::Everysec
            && self.unsynced
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
                Err(e) => {
                    self.error = Some(strerror(&e));
                    log.refuse_writes = Some(strerror(&e).into());
                }
            }
        }
        if self.rewrite.is_some() {
            self.rewrite_step(log, store);
        } else if self.rewrite_requested || self.should_rewrite() {
            self.rewrite_requested = false;
            self.start_rewrite(log);
        }
    }

    /// Flushes and syncs everything written so far (shutdown).
    pub fn sync_all(&mut self, log: &mut Log) -> Result<(), String> {
        self.commit(log)?;
        self.sync().map_err(|e| e.to_string())
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
