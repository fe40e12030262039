//! RDB snapshots, the server's side: the state INFO persistence and
//! LASTSAVE report, and the writing of a snapshot's copies to
//! `dir`/`dbfilename`, on the caller's thread (SAVE, DEBUG RELOAD) or on a
//! thread of its own (BGSAVE). The copies are taken by `commands::rdb`
//! while it holds every shard; the file format is `shards::snapshot`'s.

use shards::snapshot::{self, SaveReport, ShardCopy};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Saves past and present, shared by every worker and the BGSAVE thread.
#[derive(Debug)]
pub struct Saves {
    /// A BGSAVE thread is writing (only one at a time).
    pub in_progress: AtomicBool,
    /// Unix seconds of the last successful save (start time before any).
    pub last_save: AtomicU64,
    /// The last BGSAVE succeeded.
    pub last_bgsave_ok: AtomicBool,
    /// Seconds the last BGSAVE took (-1: none yet).
    pub last_bgsave_secs: AtomicI64,
    /// Unix ms the running BGSAVE started at.
    pub bgsave_started: AtomicU64,
    /// Successful saves (SAVE and BGSAVE).
    pub saves: AtomicU64,
    /// The shards' summed change counters at the last successful save's
    /// instant (`rdb_changes_since_last_save` is the sum now minus this).
    pub changes_base: AtomicU64,
    /// Microseconds every shard was held while the last snapshot copied.
    pub last_hold_us: AtomicU64,
    /// Keys the last RDB load put in (start-up import or DEBUG RELOAD).
    pub last_load_loaded: AtomicU64,
    /// Keys the last RDB load skipped as expired.
    pub last_load_expired: AtomicU64,
}

impl Saves {
    /// No save yet; LASTSAVE answers `started_unix_secs`, as Redis does.
    pub fn new(started_unix_secs: u64) -> Saves {
        Saves {
            in_progress: AtomicBool::new(false),
            last_save: AtomicU64::new(started_unix_secs),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_secs: AtomicI64::new(-1),
            bgsave_started: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            changes_base: AtomicU64::new(0),
            last_hold_us: AtomicU64::new(0),
            last_load_loaded: AtomicU64::new(0),
            last_load_expired: AtomicU64::new(0),
        }
    }

    /// Records a successful save of a snapshot taken when the shards'
    /// counters summed to `changes`.
    fn saved(&self, changes: u64) {
        self.last_save
            .store(shards::clock::unix_ms() / 1000, Ordering::Relaxed);
        self.changes_base.store(changes, Ordering::Relaxed);
    }

    /// Records what an RDB load did.
    pub fn loaded(&self, r: snapshot::LoadReport) {
        self.last_load_loaded.store(r.loaded, Ordering::Relaxed);
        self.last_load_expired.store(r.expired, Ordering::Relaxed);
    }
}

/// Where and how a snapshot is written.
#[derive(Debug, Clone)]
pub struct Target {
    /// `dir`/`dbfilename`.
    pub path: PathBuf,
    /// The encoding limits (they choose each value's RDB type).
    pub limits: shards::ValueLimits,
    /// `used-mem` for the header.
    pub used_mem: u64,
    /// The code of the function libraries.
    pub functions: Vec<Vec<u8>>,
}

/// Writes the copies to the target; on success records the save
/// (LASTSAVE, the change counter) and returns what was written.
pub fn write(saves: &Saves, target: &Target, copies: &[ShardCopy]) -> Result<SaveReport, String> {
    let changes: u64 = copies.iter().map(|c| c.changes).sum();
    let ctime = (shards::clock::unix_ms() / 1000).to_string();
    let used_mem = target.used_mem.to_string();
    let aux: [(&str, &[u8]); 5] = [
        ("redis-ver", b"7.0.15"),
        ("redis-bits", b"64"),
        ("ctime", ctime.as_bytes()),
        ("used-mem", used_mem.as_bytes()),
        ("aof-base", b"0"),
    ];
    let report = snapshot::write_rdb(
        &target.path,
        copies,
        &target.limits,
        &aux,
        &target.functions,
    )?;
    saves.saved(changes);
    tracing::info!(
        keys = report.keys,
        bytes = report.bytes,
        ms = report.ms,
        path = %target.path.display(),
        "DB saved on disk"
    );
    Ok(report)
}

/// SAVE: writes now, on this thread.
pub fn save(saves: &Saves, target: &Target, copies: &[ShardCopy]) -> Result<SaveReport, String> {
    let r = write(saves, target, copies);
    match &r {
        Ok(_) => {
            saves.saves.fetch_add(1, Ordering::Relaxed);
            saves.last_bgsave_ok.store(true, Ordering::Relaxed);
        }
        Err(e) => tracing::warn!("SAVE failed: {e}"),
    }
    r
}

/// BGSAVE: claims the one background save, or false when one runs.
pub fn claim(saves: &Saves) -> bool {
    saves
        .in_progress
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// Gives the claim back (a BGSAVE that did not start).
pub fn unclaim(saves: &Saves) {
    saves.in_progress.store(false, Ordering::Release);
}

/// BGSAVE, after `claim`: writes the copies on a thread of its own and
/// releases the claim when done.
pub fn spawn_bgsave(saves: Arc<Saves>, target: Target, copies: Vec<ShardCopy>) {
    saves
        .bgsave_started
        .store(shards::clock::unix_ms(), Ordering::Relaxed);
    let job = {
        let saves = saves.clone();
        move || {
            let started = Instant::now();
            let r = write(&saves, &target, &copies);
            drop(copies);
            saves
                .last_bgsave_secs
                .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
            match r {
                Ok(_) => {
                    saves.saves.fetch_add(1, Ordering::Relaxed);
                    saves.last_bgsave_ok.store(true, Ordering::Relaxed);
                    tracing::info!("Background saving terminated with success");
                }
                Err(e) => {
                    saves.last_bgsave_ok.store(false, Ordering::Relaxed);
                    tracing::warn!("Background saving error: {e}");
                }
            }
            saves.in_progress.store(false, Ordering::Release);
        }
    };
    if let Err(e) = std::thread::Builder::new().name("bgsave".into()).spawn(job) {
        tracing::warn!("Background saving error: cannot start its thread: {e}");
        saves.last_bgsave_ok.store(false, Ordering::Relaxed);
        saves.in_progress.store(false, Ordering::Release);
    }
}

/// Makes the function libraries of an RDB file (their code) the server's:
/// with `flush` they replace every library (DEBUG RELOAD, as Redis empties
/// the functions with the data), else they are added, replacing libraries
/// of the same name (start-up import). Nothing changes on an error: a
/// library that does not load, or two that register one function.
pub fn load_functions(
    reg: &crate::script::Registry,
    codes: &[Vec<u8>],
    flush: bool,
) -> Result<(), String> {
    use crate::script::{NullHost, RespValue, RestorePolicy, ScriptEngine};
    let mut engine = ScriptEngine::new();
    let mut s = reg.lock();
    if !flush {
        for (_, code) in &s.libs {
            // They loaded once already: the code is valid.
            let _ = engine.function_load(&mut NullHost, code, false);
        }
    }
    let payload = shards::rdb::file::function_payload(codes);
    if let RespValue::Error(e) =
        engine.function_restore(&mut NullHost, &payload, RestorePolicy::Replace)
    {
        return Err(format!(
            "a function library does not load: {}",
            String::from_utf8_lossy(&e)
        ));
    }
    reg.store_libs(&mut s, &engine)
}
