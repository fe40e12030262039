//! The server's scripts and function libraries, shared by every worker.
//!
//! Each worker thread owns a `ScriptEngine` (a Lua state is not shared
//! between threads), but a server has one script cache and one set of
//! libraries: a SCRIPT LOAD on one connection must be seen at once by an
//! EVALSHA on any worker. The sources live here; engines compile from them
//! lazily. Two counters tell an engine that its copy is stale: `flushes`
//! moves on SCRIPT FLUSH (the engine drops its scripts), `libs_gen` on every
//! change of the libraries (the engine reloads them all, which is rare).
//! Both are atomics, so the common EVALSHA of a script the engine already
//! compiled reads two counters and takes no lock.
//!
//! The libraries are persisted, when the server persists, as the FUNCTION
//! DUMP payload (RDB function records, version and CRC64) in `<dir>/functions`,
//! written with write-temp, fsync, rename on every change, and read back at
//! start (a file that does not verify refuses the start).

use super::{NullHost, RestorePolicy, ScriptControl, ScriptEngine};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Name of the libraries file in the data directory.
pub const FUNCTIONS_FILE: &str = "functions";

/// What the lock guards: the sources.
#[derive(Debug, Default)]
pub struct Sources {
    /// EVAL scripts by lower-case SHA1.
    pub scripts: HashMap<String, Arc<[u8]>>,
    /// Every library's (name, code), in name order.
    pub libs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Number of functions the libraries register.
    pub functions: usize,
}

/// The shared scripts and libraries, what runs now, and the BUSY settings.
#[derive(Debug)]
pub struct Registry {
    sources: Mutex<Sources>,
    /// Moves on SCRIPT FLUSH.
    pub flushes: AtomicU64,
    /// Moves on every change of the libraries.
    pub libs_gen: AtomicU64,
    /// Number of cached scripts (INFO reads it without the lock).
    pub cached: AtomicU64,
    /// The control handles of the scripts started and not ended, oldest
    /// first, with their start (unix ms), for SCRIPT KILL / FUNCTION KILL /
    /// FUNCTION STATS from any worker. Scripts hold every shard, so one runs
    /// at a time; a second one may have started on another worker and wait
    /// for the shards in its first `redis.call` (its holds travel with it).
    running: Mutex<Vec<(Arc<ScriptControl>, i64)>>,
    /// Unix ms at which the oldest running script started, 0 when none
    /// runs; negative for a function (FUNCTION KILL is then the way out).
    busy_since: AtomicI64,
    /// busy-reply-threshold (lua-time-limit) in ms.
    pub busy_threshold_ms: AtomicU64,
    /// Bytes the workers' Lua states use, summed.
    pub lua_memory: AtomicU64,
    /// Where the libraries are persisted, when the server persists.
    file: Option<PathBuf>,
}

impl Registry {
    /// An empty registry persisting its libraries under `dir`, if any,
    /// with busy-reply-threshold `busy_ms`.
    pub fn new(dir: Option<&Path>, busy_ms: u64) -> Registry {
        Registry {
            sources: Mutex::default(),
            flushes: AtomicU64::new(0),
            libs_gen: AtomicU64::new(0),
            cached: AtomicU64::new(0),
            running: Mutex::new(Vec::new()),
            busy_since: AtomicI64::new(0),
            busy_threshold_ms: AtomicU64::new(busy_ms),
            lua_memory: AtomicU64::new(0),
            file: dir.map(|d| d.join(FUNCTIONS_FILE)),
        }
    }

    /// The sources, locked.
    pub fn lock(&self) -> MutexGuard<'_, Sources> {
        self.sources.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the libraries file at start, if there is one; an error names
    /// the file and why it cannot be used.
    pub fn load(&self) -> Result<(), String> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let payload = match std::fs::read(path) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let mut engine = ScriptEngine::new();
        let r = engine.function_restore(&mut NullHost, &payload, RestorePolicy::Flush);
        if let super::RespValue::Error(e) = r {
            return Err(format!(
                "{} is corrupt ({}); move it away to start without the functions",
                path.display(),
                String::from_utf8_lossy(&e)
            ));
        }
        let mut s = self.lock();
        s.libs = engine.library_codes();
        s.functions = engine.function_counts().1;
        self.libs_gen.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Records the libraries of `engine` as the server's (after a FUNCTION
    /// command changed them there, under the lock) and persists them.
    pub fn store_libs(&self, s: &mut Sources, engine: &ScriptEngine) -> Result<(), String> {
        s.libs = engine.library_codes();
        s.functions = engine.function_counts().1;
        self.libs_gen.fetch_add(1, Ordering::Release);
        match &self.file {
            Some(path) => write_atomically(path, &engine.function_dump())
                .map_err(|e| format!("cannot write {}: {e}", path.display())),
            None => Ok(()),
        }
    }

    /// Records that `control`'s script runs since `now_ms`.
    pub fn begin(&self, control: Arc<ScriptControl>, now_ms: u64, function: bool) {
        let since = now_ms.max(1) as i64;
        let since = if function { -since } else { since };
        let mut r = self.running.lock().unwrap_or_else(|p| p.into_inner());
        r.push((control, since));
        self.busy_since.store(r[0].1, Ordering::Release);
    }

    /// `control`'s script ended.
    pub fn end(&self, control: &Arc<ScriptControl>) {
        let mut r = self.running.lock().unwrap_or_else(|p| p.into_inner());
        r.retain(|(c, _)| !Arc::ptr_eq(c, control));
        self.busy_since
            .store(r.first().map_or(0, |x| x.1), Ordering::Release);
    }

    /// The control handle of the oldest script that runs now: the one that
    /// holds the shards.
    pub fn running(&self) -> Option<Arc<ScriptControl>> {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first()
            .map(|x| x.0.clone())
    }

    /// Redis's BUSY reply, when a script has run past busy-reply-threshold
    /// at `now_ms`. One relaxed load when none runs.
    #[inline]
    pub fn busy(&self, now_ms: u64) -> Option<&'static str> {
        let since = self.busy_since.load(Ordering::Relaxed);
        if since == 0 {
            return None;
        }
        busy_text(
            since,
            now_ms,
            self.busy_threshold_ms.load(Ordering::Relaxed),
        )
    }
}

#[cold]
fn busy_text(since: i64, now_ms: u64, threshold: u64) -> Option<&'static str> {
    let started = since.unsigned_abs();
    if now_ms.saturating_sub(started) < threshold {
        return None;
    }
    Some(if since < 0 {
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    } else {
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    })
}

/// Replaces `path` with `data`: a crash leaves the old file or the new one.
fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}
