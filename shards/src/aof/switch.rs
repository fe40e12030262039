//! Turning the AOF on and off while the server runs (CONFIG SET
//! appendonly), as Redis's `startAppendOnly` / `stopAppendOnly` do.
//!
//! Off: each shard writes and syncs what it recorded so far, closes its
//! segment and records nothing more. The segments and the manifest stay:
//! a restart with the AOF on loads them, stale, as Redis loads its stale AOF.
//!
//! On: every shard opens a fresh segment of a new generation and rewrites
//! its data into it in the background (the incremental rewrite), logging
//! new writes meanwhile. The manifest is switched to the new generation
//! only once every shard's first rewrite is complete: until then a restart
//! loads what the directory held before, never a segment missing the keys
//! that existed when the AOF was turned on. The previous generation's
//! segments are then removed.

use super::manifest::{segment_name, Manifest};
use super::{tracing_note, Aof, AofConfig, AofHealth, Log};
use std::fs::{self, OpenOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One CONFIG SET appendonly yes: the generation being written and how
/// many shards have yet to finish their first rewrite.
#[derive(Debug)]
pub struct Enabling {
    cfg: AofConfig,
    shards: usize,
    fingerprint: u64,
    generation: u64,
    health: Arc<AofHealth>,
    remaining: AtomicUsize,
}

impl Enabling {
    /// The AOF of `shards` shards routed with `fingerprint` is to be turned
    /// on in `cfg.dir`, in a generation newer than any segment there.
    pub fn new(
        cfg: AofConfig,
        shards: usize,
        fingerprint: u64,
        health: Arc<AofHealth>,
    ) -> Result<Enabling, String> {
        fs::create_dir_all(&cfg.dir).map_err(|e| format!("{}: {e}", cfg.dir.display()))?;
        let newest = fs::read_dir(&cfg.dir)
            .map_err(|e| format!("{}: {e}", cfg.dir.display()))?
            .flatten()
            .filter_map(|e| generation_of(&e.file_name().to_string_lossy()))
            .max()
            .unwrap_or(0);
        Ok(Enabling {
            cfg,
            shards,
            fingerprint,
            generation: newest + 1,
            health,
            remaining: AtomicUsize::new(shards),
        })
    }

    fn path(&self, shard: usize) -> PathBuf {
        self.cfg.dir.join(segment_name(shard, self.generation))
    }

    /// Shard `shard` opens its fresh segment and starts its first rewrite.
    pub fn open(self: &Arc<Self>, shard: usize) -> Result<Aof, String> {
        let path = self.path(shard);
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut aof = Aof::open(path.clone(), &self.cfg).map_err(|e| format!("{e}"))?;
        aof.set_health(self.health.clone());
        aof.request_rewrite();
        let mut p = pending();
        p.retain(|(q, _)| *q != path);
        p.push((path, self.clone()));
        PENDING.store(true, Ordering::Release);
        Ok(aof)
    }

    /// A shard's first rewrite is complete: the last one switches the manifest.
    fn done(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let m = Manifest {
            shards: self.shards,
            fingerprint: self.fingerprint,
            generation: self.generation,
            segments: (0..self.shards)
                .map(|i| segment_name(i, self.generation))
                .collect(),
        };
        if let Err(e) = m.store(&self.cfg.dir) {
            tracing_note(&format!("manifest for the AOF turned on: {e}"));
            return;
        }
        tracing_note(&format!(
            "AOF on: generation {} written ({} segments)",
            self.generation, self.shards
        ));
        if let Ok(entries) = fs::read_dir(&self.cfg.dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if generation_of(&name).is_some_and(|g| g < self.generation) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }
}

/// Some shard is in its first rewrite after the AOF was turned on.
static PENDING: AtomicBool = AtomicBool::new(false);
/// Those shards' segments, with what they belong to.
static ENABLING: Mutex<Vec<(PathBuf, Arc<Enabling>)>> = Mutex::new(Vec::new());

fn pending() -> std::sync::MutexGuard<'static, Vec<(PathBuf, Arc<Enabling>)>> {
    ENABLING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Called by a shard after its AOF work between batches: notes the end of
/// a first rewrite after the AOF was turned on (one atomic load otherwise).
pub fn after_tick(aof: Option<&mut Aof>) {
    if !PENDING.load(Ordering::Acquire) {
        return;
    }
    let Some(aof) = aof else { return };
    if aof.rewriting() {
        return;
    }
    let mut p = pending();
    let Some(i) = p.iter().position(|(path, _)| path == aof.path()) else {
        return;
    };
    if !aof.last_rewrite_ok {
        // The first rewrite failed: the segment lacks the older keys. Again.
        aof.request_rewrite();
        return;
    }
    let (_, e) = p.swap_remove(i);
    PENDING.store(!p.is_empty(), Ordering::Release);
    drop(p);
    e.done();
}

/// Turns a shard's AOF off: what it recorded is written and synced, the
/// segment is closed, and nothing more is recorded. Errors are reported,
/// the AOF is off either way.
pub fn close(aof: Option<Aof>, log: &mut Log) -> Result<(), String> {
    let Some(mut aof) = aof else {
        *log = Log::new(false);
        return Ok(());
    };
    let result = if aof.failing() {
        Err(aof.error.clone().unwrap_or_default())
    } else {
        aof.commit(log).and_then(|()| aof.sync_all())
    };
    // No longer counted among the failing segments, whatever happened.
    aof.set_ok(log);
    let path = aof.path().to_path_buf();
    let mut p = pending();
    p.retain(|(q, _)| *q != path);
    PENDING.store(!p.is_empty(), Ordering::Release);
    *log = Log::new(false);
    result
}

fn generation_of(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("shard-")?.strip_suffix(".aof")?;
    let (_, g) = rest.split_once('.')?;
    g.parse().ok()
}
