//! Rewrite (compaction): the shard walks its keys a few thousand at a
//! time between batches, writing them to `<segment>.rewrite`, while the
//! records of new writes go both to the old segment and to a side buffer.
//! When the walk ends the buffer is appended, the file synced and renamed
//! over the segment. A key changed during the walk appears in the snapshot
//! (old or new state) and again, later, in the buffer; replay ends on its
//! last state.

use super::record::Record;
use super::segment::Aof;
use super::{sync_dir, tracing_note, Log};
use crate::keyspace::Store;
use std::fs::{self, File};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub(super) struct Rewrite {
    pub(super) tmp: PathBuf,
    pub(super) out: BufWriter<File>,
    pub(super) cursor: u64,
    pub(super) db: Option<u8>,
    /// Records of writes made since the rewrite began.
    pub(super) buffer: Vec<u8>,
    /// How much of `buffer` is already in the new file.
    pub(super) buffer_written: usize,
    pub(super) written: u64,
    pub(super) synced: u64,
    /// The walk over the slab is over; the bulk sync and swap remain.
    pub(super) walked: bool,
    /// A background sync of the whole walked file was requested.
    pub(super) bulk_sync_requested: bool,
    pub(super) started: Instant,
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
    pub(super) fn start_rewrite(&mut self, log: &mut Log) {
        self.ensure_syncer();
        let tmp = self.path.with_extension("aof.rewrite");
        match File::create(&tmp) {
            Ok(f) => {
                // The buffered records must open with a SELECT of their own.
                log.reset_db();
                log.begin_anchoring();
                self.rewrite = Some(Rewrite {
                    tmp,
                    out: BufWriter::with_capacity(1 << 20, f),
                    cursor: 0,
                    db: None,
                    // Records of a section that began before the rewrite
                    // continue in the buffer and end with its EXEC: the new
                    // segment must hold the MULTI that EXEC closes.
                    buffer: log.open_prefix(),
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
    pub(super) fn rewrite_step(&mut self, log: &mut Log, store: &Store) {
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
                        Record::snapshot(&mut chunk, &mut rw.db, db, k, v, exp);
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
        log.end_anchoring();
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
}
