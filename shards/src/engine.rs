//! The engine handle: the one way the server starts the shards.
//!
//! `Engine::start` loads every shard's data (replaying the AOF, one thread
//! per segment), spawns one thread per shard, and wires the queues:
//!
//! ```text
//!   worker w ──ShardTx (queue + unpark)──▶ shard s
//!   worker w ◀──replies queue + Bell────── shard s
//!   control  ◀──replies queue───────────── shard s   (shutdown's flush)
//! ```
//!
//! Each worker takes its `Port` (its sending side to every shard, its reply
//! queue and its bell). Dropping every `ShardTx` stops the shard threads.
//!
//! One more thread frees big removed values for every shard (see
//! `lazyfree`); it ends after the shard threads, once their stores are gone.

use crate::aof::{self, AofConfig, AofHealth};
use crate::batch::Batch;
use crate::keyspace::{Limits, Store};
use crate::lazyfree::LazyFree;
use crate::ops::server::SrvOp;
use crate::ops::Persist;
use crate::route::Router;
use crate::shard::{self, Bell, Outbox, ShardTx};
use crate::Reply;
use crossbeam_channel::{unbounded, Receiver};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

/// Loads function libraries (their code) read from an RDB file into the
/// server, or says why not (the engine has no function machinery).
pub type FunctionLoader = Box<dyn Fn(&[Vec<u8>]) -> Result<(), String>>;

/// What the engine needs to start.
pub struct EngineConfig {
    /// Number of shard threads.
    pub shards: usize,
    /// Number of workers that will talk to them.
    pub workers: usize,
    /// Each shard's limits.
    pub limits: Vec<Limits>,
    /// Persistence, or None for none.
    pub aof: Option<AofConfig>,
    /// Where the shards report whether their segments can be written.
    pub health: Arc<AofHealth>,
    /// Where the shards report keyspace events (see `notify`).
    pub notify: Arc<crate::notify::Hub>,
    /// The RDB file to import when there is no AOF data (`dir`/`dbfilename`).
    pub rdb: Option<std::path::PathBuf>,
    /// Loads the function libraries of the imported file (their code), or
    /// says why not; called before any key is loaded. None: a file with
    /// libraries is refused.
    pub rdb_functions: Option<FunctionLoader>,
}

/// What start-up loaded.
#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    /// Keys loaded.
    pub keys: usize,
    /// AOF bytes replayed.
    pub bytes: u64,
    /// Segments replayed.
    pub segments: usize,
    /// Milliseconds the load took.
    pub ms: u64,
    /// The shard count the data was re-routed from, if it was.
    pub resharded_from: Option<usize>,
    /// What was imported from the RDB file, when one was.
    pub rdb: Option<crate::snapshot::LoadReport>,
}

/// One worker's connection to the shards.
pub struct Port {
    /// The sending side of every shard's queue, by shard index.
    pub to_shards: Vec<ShardTx>,
    /// This worker's reply queue.
    pub replies: Receiver<Batch>,
    /// Rung by the shards after they queue this worker's replies.
    pub bell: Arc<Bell>,
}

/// The running shards.
pub struct Engine {
    to_shards: Vec<ShardTx>,
    ports: Vec<Option<Port>>,
    /// The reply queue of the control "worker" (index = number of workers).
    control: Receiver<Batch>,
    threads: Vec<JoinHandle<()>>,
    /// The lazy-free thread, and the handle whose drop lets it end.
    lazy: Option<(LazyFree, JoinHandle<()>)>,
}

impl Engine {
    /// Loads the data and starts one thread per shard.
    pub fn start(cfg: EngineConfig) -> Result<(Engine, LoadReport), String> {
        let started = Instant::now();
        let (mut stores, persists, mut report) = load(&cfg)?;
        let (lazy, lazy_thread) =
            LazyFree::spawn().map_err(|e| format!("cannot start the lazy-free thread: {e}"))?;
        for (i, s) in stores.iter_mut().enumerate() {
            s.set_lazy_free(Some(lazy.clone()));
            // After the load: replaying the AOF reports nothing.
            s.set_notify(cfg.notify.clone(), i);
        }
        report.ms = started.elapsed().as_millis() as u64;
        // One reply queue per worker, plus one for control messages.
        let (reply_tx, mut reply_rx): (Vec<_>, Vec<_>) =
            (0..=cfg.workers).map(|_| unbounded::<Batch>()).unzip();
        let control = reply_rx.pop().expect("control queue");
        // Workers park while they wait for replies and the shards ring their
        // bells; the control queue's reader blocks on the queue itself.
        let bells: Vec<Arc<Bell>> = (0..cfg.workers)
            .map(|_| Arc::new(Bell::default()))
            .collect();
        let outboxes: Vec<Outbox> = reply_tx
            .into_iter()
            .enumerate()
            .map(|(w, tx)| Outbox {
                tx,
                bell: bells.get(w).cloned(),
            })
            .collect();
        let mut to_shards = Vec::with_capacity(cfg.shards);
        let mut threads = Vec::with_capacity(cfg.shards);
        for (i, (store, persist)) in stores.into_iter().zip(persists).enumerate() {
            let (tx, rx) = unbounded::<Batch>();
            let replies = outboxes.clone();
            let core = Arc::new(std::sync::Mutex::new(shard::Core::new(store, persist)));
            let shared = core.clone();
            let t = thread::Builder::new()
                .name(format!("shard-{i}"))
                .spawn(move || shard::run_shared(&shared, rx, replies))
                .map_err(|e| format!("cannot start shard thread: {e}"))?;
            to_shards.push(ShardTx::with_core(
                tx,
                t.thread().clone(),
                core,
                cfg.workers,
            ));
            threads.push(t);
        }
        let ports = reply_rx
            .into_iter()
            .zip(bells)
            .map(|(replies, bell)| {
                Some(Port {
                    to_shards: to_shards.clone(),
                    replies,
                    bell,
                })
            })
            .collect();
        Ok((
            Engine {
                to_shards,
                ports,
                control,
                threads,
                lazy: Some((lazy, lazy_thread)),
            },
            report,
        ))
    }

    /// Worker `w`'s port (once).
    pub fn port(&mut self, w: usize) -> Option<Port> {
        self.ports.get_mut(w)?.take()
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.to_shards.len()
    }

    /// Flushes and fsyncs every shard's AOF after every batch queued before
    /// this call; from then on every write is synced before its reply.
    /// Errors name the shards that could not flush.
    pub fn flush_for_shutdown(&self) -> Result<(), String> {
        let me = self.ports.len();
        for (i, tx) in self.to_shards.iter().enumerate() {
            let mut b = Batch::new(me, i);
            b.push(0, SrvOp::Shutdown.into());
            tx.send(b).map_err(|_| format!("shard {i} is gone"))?;
        }
        let mut errors = Vec::new();
        for _ in 0..self.to_shards.len() {
            let b = self
                .control
                .recv()
                .map_err(|_| "a shard is gone".to_string())?;
            if let Some(Reply::Err(e)) = b.replies.first() {
                let why = match e {
                    crate::Error::ShutdownFlush(why) => why.to_string(),
                    other => format!("{other:?}"),
                };
                errors.push(format!("shard {}: {why}", b.shard));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Stops the shard threads once every port's sending side is dropped
    /// too (workers gone), and waits for them.
    pub fn join(mut self) {
        self.to_shards.clear();
        self.ports.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        if let Some((handle, thread)) = self.lazy.take() {
            drop(handle);
            let _ = thread.join();
        }
    }

    /// Values handed to the lazy-free thread and not freed yet (Redis's
    /// `lazyfree_pending_objects`).
    pub fn lazyfree_pending(&self) -> u64 {
        self.lazy.as_ref().map_or(0, |(l, _)| l.pending())
    }

    /// Values the lazy-free thread freed (Redis's `lazyfreed_objects`).
    pub fn lazyfreed(&self) -> u64 {
        self.lazy.as_ref().map_or(0, |(l, _)| l.freed())
    }
}

/// Builds every shard's store: empty, or replayed from the AOF.
fn load(cfg: &EngineConfig) -> Result<(Vec<Store>, Vec<Persist>, LoadReport), String> {
    let router = Router::new(cfg.shards);
    let Some(aof) = &cfg.aof else {
        let (stores, rdb) = match import(cfg, &router)? {
            Some((stores, rep)) => (stores, Some(rep)),
            None => (cfg.limits.iter().map(|&l| Store::new(l)).collect(), None),
        };
        let persists = (0..cfg.shards).map(|_| Persist::off()).collect();
        let report = LoadReport {
            keys: stores.iter().map(|s| s.len()).sum(),
            rdb,
            ..LoadReport::default()
        };
        return Ok((stores, persists, report));
    };
    // The AOF, when there is one, is the data; the RDB file is imported
    // only into a directory without AOF data (Redis too prefers the AOF).
    let seed = if aof::is_fresh(&aof.dir)? {
        import(cfg, &router)?
    } else {
        if let Some(path) = cfg.rdb.as_ref().filter(|p| p.exists()) {
            eprintln!(
                "shardcache rdb: {} not loaded: {} holds AOF data, which is loaded instead",
                path.display(),
                aof.dir.display()
            );
        }
        None
    };
    let (seed, rdb) = match seed {
        Some((stores, rep)) => (Some(stores), Some(rep)),
        None => (None, None),
    };
    let opened = aof::open_seeded(aof, &router, &cfg.limits, seed)
        .map_err(|e| format!("cannot load the AOF: {e}"))?;
    let report = LoadReport {
        keys: opened.stores.iter().map(|s| s.len()).sum(),
        bytes: opened.segments.iter().map(|s| s.bytes).sum(),
        segments: opened.segments.len(),
        ms: 0,
        resharded_from: opened.resharded_from,
        rdb,
    };
    let persists = opened
        .aofs
        .into_iter()
        .map(|mut aof| {
            aof.set_health(cfg.health.clone());
            Persist::on(aof)
        })
        .collect();
    Ok((opened.stores, persists, report))
}

/// Reads, checks and loads the RDB file into one store per shard, when the
/// file exists. The whole file is read and decoded before any store is
/// filled, so a damaged file stops the start having loaded nothing.
fn import(
    cfg: &EngineConfig,
    router: &Router,
) -> Result<Option<(Vec<Store>, crate::snapshot::LoadReport)>, String> {
    let Some(path) = cfg.rdb.as_ref() else {
        return Ok(None);
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the RDB file {}: {e}", path.display())),
    };
    let started = Instant::now();
    let refuse = |why: String| format!("cannot load the RDB file {}: {why}", path.display());
    let mut contents = crate::rdb::file::read_file(&bytes, crate::NUM_DBS as u32)
        .map_err(|e| refuse(e.to_string()))?;
    let functions = std::mem::take(&mut contents.functions);
    let values = cfg.limits.first().map(|l| l.values).unwrap_or_default();
    let now = crate::clock::unix_ms();
    let (keys, report) =
        crate::snapshot::prepare(contents, router, &values, now).map_err(refuse)?;
    if !functions.is_empty() {
        match &cfg.rdb_functions {
            Some(load) => load(&functions).map_err(refuse)?,
            None => {
                return Err(refuse(
                    "it holds function libraries, which cannot be loaded here".into(),
                ))
            }
        }
    }
    // Loaded whole, without eviction, as Redis loads a file: `maxmemory`
    // and `max-keys` apply from the first write on.
    let mut stores: Vec<Store> = cfg
        .limits
        .iter()
        .map(|&l| Store::new(crate::snapshot::loading_limits(l)))
        .collect();
    for p in keys {
        let shard = p.shard;
        crate::snapshot::put(&mut stores[shard], p, now).map_err(refuse)?;
    }
    for (store, lim) in stores.iter_mut().zip(&cfg.limits) {
        store.set_limits(*lim);
    }
    eprintln!(
        "shardcache rdb: loaded {} keys and {} function libraries from {} ({} bytes; {} expired keys skipped) in {} ms",
        report.loaded,
        functions.len(),
        path.display(),
        bytes.len(),
        report.expired,
        started.elapsed().as_millis()
    );
    Ok(Some((stores, report)))
}
