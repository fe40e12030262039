//! Start-up: the listener, the shard threads, the worker threads and the acceptor.

use crate::config::{self, Config, BACKLOG};
use crate::shared::Shared;
use crate::worker::Worker;
use crossbeam_channel::{unbounded, Sender};
use mio::Waker;
use shards::{Engine, EngineConfig, Limits};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
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
    /// The acceptor thread.
    acceptor: thread::JoinHandle<()>,
}

impl Server {
    /// Flushes and fsyncs every shard's AOF, after every batch queued before
    /// this call; from then on every write is synced before its reply. Call
    /// it, then exit the process.
    pub fn shutdown(&self) -> Result<(), String> {
        self.engine.flush_for_shutdown()
    }

    /// Stops the server without ending the process (tests run it
    /// in-process): the acceptor and workers stop and close their
    /// connections, every shard flushes its AOF as for a shutdown, and every
    /// thread is joined. Returns the flush's outcome.
    pub fn stop(self) -> Result<(), String> {
        self.shared.stopping.store(true, Ordering::Relaxed);
        // The acceptor blocks in accept(): a connection of our own wakes it.
        let ip = match self.addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => std::net::Ipv4Addr::LOCALHOST.into(),
            ip if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
            ip => ip,
        };
        let _ = TcpStream::connect((ip, self.addr.port()));
        let _ = self.acceptor.join();
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
    let shared = Arc::new(Shared::new(config, addr, crate::commands::count()));
    shared.scripting.load().map_err(io::Error::other)?;
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
        })
        .collect();
    let (mut engine, loaded) = Engine::start(EngineConfig {
        shards: nshards,
        workers: nworkers,
        limits,
        aof: config.aof(),
        health: shared.aof_health.clone(),
    })
    .map_err(io::Error::other)?;
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
    let mut handoff: Vec<Handoff> = Vec::with_capacity(nworkers);
    let mut workers = Vec::with_capacity(nworkers);
    for i in 0..nworkers {
        let port = engine.port(i).expect("one port per worker");
        let (conn_tx, conn_rx) = unbounded();
        let core = pin.then(|| cores[i % cores.len()]);
        let mut w = Worker::new(i, shared.clone(), conn_rx, port)?;
        handoff.push((conn_tx, w.waker()));
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

    let acceptor_shared = shared.clone();
    let acceptor = thread::Builder::new()
        .name("acceptor".into())
        .spawn(move || accept_loop(listener, handoff, acceptor_shared))?;
    Ok(Server {
        addr,
        shared,
        engine,
        workers,
        acceptor,
    })
}

/// How the acceptor reaches a worker: its queue of (connection, CLIENT ID)
/// and its waker.
type Handoff = (Sender<(TcpStream, u64)>, Arc<Waker>);

fn accept_loop(listener: TcpListener, workers: Vec<Handoff>, shared: Arc<Shared>) {
    let mut next = 0usize;
    loop {
        let accepted = listener.accept();
        if shared.stopping.load(Ordering::Relaxed) {
            return;
        }
        let (stream, peer) = match accepted {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning, keep serving.
                tracing::warn!(error = %e, "accept failed");
                thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
        };
        // Counted here, not in the worker: connections still queued for a
        // worker count against maxclients too.
        if shared.clients.load(Ordering::Relaxed) as u64
            >= shared.maxclients.load(Ordering::Relaxed)
        {
            refuse(stream, b"-ERR max number of clients reached\r\n");
            shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if denied_by_protected_mode(&shared, peer.ip()) {
            refuse(stream, PROTECTED_MODE_DENIED);
            continue;
        }
        if stream.set_nodelay(true).is_err() || stream.set_nonblocking(true).is_err() {
            continue;
        }
        let keepalive = shared.tcp_keepalive.load(Ordering::Relaxed);
        if keepalive > 0 {
            let secs = keepalive;
            // Redis's `anetKeepAlive`: probes every third of the idle time, three times.
            let ka = socket2::TcpKeepalive::new()
                .with_time(std::time::Duration::from_secs(secs))
                .with_interval(std::time::Duration::from_secs((secs / 3).max(1)))
                .with_retries(3);
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
        }
        shared.clients.fetch_add(1, Ordering::Relaxed);
        shared.total_connections.fetch_add(1, Ordering::Relaxed);
        // CLIENT IDs in accept order, as Redis numbers its clients.
        let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
        // Round-robin: connections are cheap to move and load evens out
        // across many clients; least-loaded would need a shared counter read
        // on every accept for little gain.
        let (tx, waker) = &workers[next % workers.len()];
        next = next.wrapping_add(1);
        if tx.send((stream, id)).is_ok() {
            let _ = waker.wake();
        } else {
            shared.clients.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Redis 7.0's protected-mode refusal, word for word.
const PROTECTED_MODE_DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Protected mode (Redis 7.0's `clientAcceptHandler` check): with no
/// password, only peers whose address reads `127.0.0.1` or `::1` are served.
/// Redis compares the address text with those two, so the rest of
/// 127.0.0.0/8 and IPv4-mapped `::ffff:127.0.0.1` are refused too.
pub fn denied_by_protected_mode(shared: &Shared, peer: std::net::IpAddr) -> bool {
    let loopback = match peer {
        std::net::IpAddr::V4(a) => a == std::net::Ipv4Addr::LOCALHOST,
        std::net::IpAddr::V6(a) => a == std::net::Ipv6Addr::LOCALHOST,
    };
    shared.protected_mode.load(Ordering::Relaxed) && !shared.auth_required() && !loopback
}

/// Writes a last error line to a connection that will not be served, then
/// closes it. Best effort, never blocking the acceptor.
fn refuse(stream: TcpStream, msg: &[u8]) {
    use std::io::Write;
    let _ = stream.set_nonblocking(true);
    let _ = (&stream).write(msg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn protected_mode_refuses_remote_peers_without_a_password() {
        let addr: SocketAddr = "0.0.0.0:6380".parse().unwrap();
        let remote: std::net::IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: std::net::IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let shared = Shared::new(Config::parse_from(["shardcache"]), addr, 1);
        assert!(denied_by_protected_mode(&shared, remote));
        for local in ["127.0.0.1", "::1"] {
            assert!(!denied_by_protected_mode(&shared, local.parse().unwrap()));
        }
        // As Redis 7.0, which compares the address text with those two.
        for other in ["127.8.9.1", "127.0.0.2"] {
            assert!(denied_by_protected_mode(&shared, other.parse().unwrap()));
        }
        assert!(denied_by_protected_mode(&shared, mapped));
        shared.set_requirepass(crate::config::Password::new(b"pw"));
        assert!(
            !denied_by_protected_mode(&shared, remote),
            "a password lifts it"
        );
        shared.set_requirepass(crate::config::Password::default());
        shared.protected_mode.store(false, Ordering::Relaxed);
        assert!(
            !denied_by_protected_mode(&shared, remote),
            "protected-mode no"
        );
        let off = Config::parse_from(["shardcache", "--protected-mode", "no"]);
        assert!(!denied_by_protected_mode(
            &Shared::new(off, addr, 1),
            remote
        ));
    }
}
