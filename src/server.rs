//! Start-up: the listener, the shard threads and the worker threads.
//!
//! Every worker watches the one listening socket and accepts for itself
//! (the kernel wakes one idle worker per connection, `EPOLLEXCLUSIVE`): a
//! connection that lives for one command costs no thread hop to get
//! served. A worker with more connections than another hands the new one
//! to the least loaded (`Registry::assign`); `admit` makes Redis's checks.

use crate::config::{self, Config, BACKLOG};
use crate::shared::Shared;
use crate::worker::Worker;
use crossbeam_channel::unbounded;
use mio::Waker;
use shards::{Engine, EngineConfig, Limits};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;

/// A running server.
pub struct Server {
    /// The bound address (useful with `--port 0`).
    pub addr: SocketAddr,
    /// Shared state.
    pub shared: Arc<Shared>,
    /// The shards.
    engine: Engine,
    /// Worker threads, and how to wake each.
    workers: Vec<(thread::JoinHandle<()>, Arc<Waker>)>,
}

impl Server {
    /// Flushes and fsyncs every shard's AOF, after every batch queued before
    /// this call; from then on every write is synced before its reply. Call
    /// it, then exit the process.
    pub fn shutdown(&self) -> Result<(), String> {
        self.engine.flush_for_shutdown()
    }

    /// Stops the server without ending the process (tests run it
    /// in-process): the workers stop and close their connections and the
    /// listener, every shard flushes its AOF as for a shutdown, and every
    /// thread is joined. Returns the flush's outcome.
    pub fn stop(self) -> Result<(), String> {
        self.shared.stopping.store(true, Ordering::Relaxed);
        for (worker, waker) in self.workers {
            let _ = waker.wake();
            let _ = worker.join();
        }
        let flushed = self.engine.flush_for_shutdown();
        self.engine.join();
        flushed
    }
}

fn listener(config: &Config) -> io::Result<TcpListener> {
    let addr: SocketAddr = format!("{}:{}", config.bind, config.port)
        .parse()
        .or_else(|_| {
            use std::net::ToSocketAddrs;
            (config.bind.as_str(), config.port)
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad --bind"))
        })?;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Binds, spawns every thread and returns once the server accepts connections.
pub fn start(config: Config) -> io::Result<Server> {
    let pairs: Vec<(String, String)> = config
        .rename_command
        .chunks(2)
        .filter_map(|p| Some((p.first()?.clone(), p.get(1)?.clone())))
        .collect();
    if !pairs.is_empty() {
        crate::commands::apply_renames(&pairs).map_err(io::Error::other)?;
    }
    let listener = listener(&config)?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let shared = Arc::new(Shared::new(config, addr, crate::commands::count()));
    shared.scripting.load().map_err(io::Error::other)?;
    crate::commands::load_users(&shared).map_err(io::Error::other)?;
    shared
        .notify
        .set_sink(Box::new(crate::keyevents::Publisher::new(
            Arc::downgrade(&shared),
            shared.shards,
            shared.workers,
        )));
    let maxclients = config::raise_open_files(shared.config.maxclients);
    if maxclients < shared.config.maxclients {
        tracing::warn!(
            "open-file limit too low: maxclients lowered from {} to {maxclients} \
             (raise it with ulimit -n, or LimitNOFILE in the service unit)",
            shared.config.maxclients
        );
    }
    shared.maxclients.store(maxclients, Ordering::Relaxed);
    shards::shard::set_hz(shared.config.hz);
    let (nworkers, nshards) = (shared.workers, shared.shards);
    let config = &shared.config;

    let limits: Vec<Limits> = (0..nshards)
        .map(|i| Limits {
            maxmemory: config::split_even(config.maxmemory, nshards, i) as usize,
            max_keys: config::split_even(config.max_keys, nshards, i) as usize,
            policy: config.maxmemory_policy,
            values: config.value_limits(),
            tracking_max_keys: config::split_even(config.tracking_table_max_keys, nshards, i)
                as usize,
            lfu: shards::LfuParams {
                log_factor: config.lfu_log_factor,
                decay_time: config.lfu_decay_time,
            },
        })
        .collect();
    let (mut engine, loaded) = Engine::start(EngineConfig {
        shards: nshards,
        workers: nworkers,
        limits,
        aof: config.aof(),
        health: shared.aof_health.clone(),
        notify: shared.notify.clone(),
        rdb: Some(config.dir.join(&config.dbfilename)),
        rdb_functions: Some({
            let shared = shared.clone();
            Box::new(move |codes: &[Vec<u8>]| {
                crate::rdb::load_functions(&shared.scripting, codes, false)
            })
        }),
    })
    .map_err(io::Error::other)?;
    if let Some(r) = loaded.rdb {
        shared.saves.loaded(r);
        tracing::info!(
            loaded = r.loaded,
            expired = r.expired,
            "DB loaded from disk ({})",
            config.dir.join(&config.dbfilename).display()
        );
    }
    if config.aof().is_some() {
        tracing::info!(
            keys = loaded.keys,
            bytes = loaded.bytes,
            segments = loaded.segments,
            ms = loaded.ms,
            resharded_from = loaded.resharded_from,
            "AOF loaded"
        );
    }

    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let pin = !config.no_pin && !cores.is_empty();
    let mut workers = Vec::with_capacity(nworkers);
    for i in 0..nworkers {
        let port = engine.port(i).expect("one port per worker");
        let (conn_tx, conn_rx) = unbounded();
        shared.registry.set_handoff(i, conn_tx);
        let core = pin.then(|| cores[i % cores.len()]);
        let mut w = Worker::new(i, shared.clone(), conn_rx, port)?;
        w.listen(listener.try_clone()?)?;
        let waker = w.waker();
        let t = thread::Builder::new()
            .name(format!("worker-{i}"))
            .spawn(move || {
                if let Some(core) = core {
                    core_affinity::set_for_current(core);
                }
                w.run();
            })?;
        workers.push((t, waker));
    }

    // The one start-up line. Printed directly rather than through the log
    // filter: tools and tests read the port from it when started with --port 0.
    eprintln!(
        "shardcache listening on {addr} version={} workers={nworkers} shards={nshards} pinned={pin} dir={} appendonly={}",
        env!("CARGO_PKG_VERSION"),
        config.dir.display(),
        if shared.aof_on() { "yes" } else { "no" },
    );

    // Each worker holds its own descriptor of the listening socket; this
    // one closes, the socket stays open until the last worker's closes.
    drop(listener);
    Ok(Server {
        addr,
        shared,
        engine,
        workers,
    })
}
