//! Start-up: the listener, the shard threads, the worker threads and the acceptor.

use crate::config::{self, Config, BACKLOG};
use crate::worker::Worker;
use crossbeam_channel::{unbounded, Sender};
use mio::Waker;
use shards::{Batch, EvictionPolicy, Limits, Store};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Counters one worker updates; padded so workers never share a cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct WorkerStats {
    /// Commands executed.
    pub commands: AtomicU64,
    /// Bytes read from clients.
    pub net_in: AtomicU64,
    /// Bytes written to clients.
    pub net_out: AtomicU64,
}

/// Server-wide state: configuration and counters. No key data lives here.
#[derive(Debug)]
pub struct Shared {
    /// The configuration the server started with.
    pub config: Config,
    /// The address actually bound.
    pub addr: SocketAddr,
    /// Worker thread count.
    pub workers: usize,
    /// Shard thread count.
    pub shards: usize,
    /// Start instant, for uptime.
    pub started: Instant,
    /// 40 hex characters identifying this run (INFO run_id).
    pub run_id: String,
    /// Open client connections.
    pub clients: AtomicUsize,
    /// Connections accepted since start.
    pub total_connections: AtomicU64,
    /// One entry per worker.
    pub worker_stats: Vec<WorkerStats>,
    /// Source of CLIENT IDs.
    pub next_client_id: AtomicU64,
    /// Current maxmemory (CONFIG SET changes it).
    pub maxmemory: AtomicU64,
    /// Current max-keys.
    pub max_keys: AtomicU64,
    /// Current eviction policy, as an index into `EvictionPolicy::ALL`.
    policy: AtomicU8,
}

impl Shared {
    /// The eviction policy in force.
    pub fn policy(&self) -> EvictionPolicy {
        EvictionPolicy::ALL[self.policy.load(Ordering::Relaxed) as usize]
    }

    /// Records a new eviction policy (the shards are told separately).
    pub fn set_policy(&self, p: EvictionPolicy) {
        let idx = EvictionPolicy::ALL.iter().position(|x| *x == p).unwrap_or(0);
        self.policy.store(idx as u8, Ordering::Relaxed);
    }

    /// Sum of one counter over all workers.
    pub fn sum(&self, f: impl Fn(&WorkerStats) -> &AtomicU64) -> u64 {
        self.worker_stats
            .iter()
            .map(|w| f(w).load(Ordering::Relaxed))
            .sum()
    }
}

/// A running server.
pub struct Server {
    /// The bound address (useful with `--port 0`).
    pub addr: SocketAddr,
    /// Shared state.
    pub shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl Server {
    /// Blocks until every server thread has exited (they run until the process ends).
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
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

fn run_id() -> String {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0) as u64
        ^ (std::process::id() as u64) << 32;
    let mut x = seed | 1;
    (0..40)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap_or('0')
        })
        .collect()
}

/// Binds, spawns every thread and returns once the server accepts connections.
pub fn start(config: Config) -> io::Result<Server> {
    let listener = listener(&config)?;
    let addr = listener.local_addr()?;
    let nworkers = config.worker_count();
    let nshards = config.shard_count();
    let shared = Arc::new(Shared {
        addr,
        workers: nworkers,
        shards: nshards,
        started: Instant::now(),
        run_id: run_id(),
        clients: AtomicUsize::new(0),
        total_connections: AtomicU64::new(0),
        worker_stats: (0..nworkers).map(|_| WorkerStats::default()).collect(),
        next_client_id: AtomicU64::new(1),
        maxmemory: AtomicU64::new(config.maxmemory),
        max_keys: AtomicU64::new(config.max_keys),
        policy: AtomicU8::new(0),
        config,
    });
    shared.set_policy(shared.config.maxmemory_policy);
    let config = &shared.config;

    let mut threads = Vec::new();
    let (reply_tx, reply_rx): (Vec<_>, Vec<_>) = (0..nworkers).map(|_| unbounded::<Batch>()).unzip();
    let mut shard_tx = Vec::with_capacity(nshards);
    for i in 0..nshards {
        let (tx, rx) = unbounded::<Batch>();
        shard_tx.push(tx);
        let limits = Limits {
            maxmemory: config::split_even(config.maxmemory, nshards, i) as usize,
            max_keys: config::split_even(config.max_keys, nshards, i) as usize,
            policy: config.maxmemory_policy,
        };
        let replies = reply_tx.clone();
        threads.push(
            thread::Builder::new()
                .name(format!("shard-{i}"))
                .spawn(move || shards::shard::run(Store::new(limits), rx, replies))?,
        );
    }
    drop(reply_tx);

    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let pin = !config.no_pin && !cores.is_empty();
    let mut handoff: Vec<(Sender<TcpStream>, Arc<Waker>)> = Vec::with_capacity(nworkers);
    for (i, replies) in reply_rx.into_iter().enumerate() {
        let (conn_tx, conn_rx) = unbounded();
        let core = pin.then(|| cores[i % cores.len()]);
        let mut w = Worker::new(i, shared.clone(), conn_rx, shard_tx.clone(), replies)?;
        handoff.push((conn_tx, w.waker()));
        threads.push(thread::Builder::new().name(format!("worker-{i}")).spawn(move || {
            if let Some(core) = core {
                core_affinity::set_for_current(core);
            }
            w.run();
        })?);
    }
    drop(shard_tx);

    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        %addr,
        workers = nworkers,
        shards = nshards,
        pinned = pin,
        dir = %config.dir.display(),
        "shardcache ready to accept connections"
    );
    // The line tests and tools read to learn the port when started with --port 0.
    eprintln!("shardcache listening on {addr}");

    let acceptor_shared = shared.clone();
    threads.push(
        thread::Builder::new()
            .name("acceptor".into())
            .spawn(move || accept_loop(listener, handoff, acceptor_shared))?,
    );
    Ok(Server {
        addr,
        shared,
        threads,
    })
}

fn accept_loop(listener: TcpListener, workers: Vec<(Sender<TcpStream>, Arc<Waker>)>, shared: Arc<Shared>) {
    let mut next = 0usize;
    loop {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning, keep serving.
                tracing::warn!(error = %e, "accept failed");
                thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
        };
        if stream.set_nodelay(true).is_err() || stream.set_nonblocking(true).is_err() {
            continue;
        }
        shared.total_connections.fetch_add(1, Ordering::Relaxed);
        // Round-robin: connections are cheap to move and load evens out
        // across many clients; least-loaded would need a shared counter read
        // on every accept for little gain.
        let (tx, waker) = &workers[next % workers.len()];
        next = next.wrapping_add(1);
        if tx.send(stream).is_ok() {
            let _ = waker.wake();
        }
    }
}
