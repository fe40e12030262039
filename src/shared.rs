//! Server-wide state: the configuration, counters every worker updates,
//! and the few settings CONFIG SET changes at run time. No key data lives
//! here, and nothing here calls into the workers or the commands.

use crate::clients::Registry;
use crate::config::{self, Config, Password};
use crate::observe::{Monitors, Pauses, Slowlog};
use hdrhistogram::Histogram;
use shards::aof::Fsync;
use shards::EvictionPolicy;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Latency histograms of one worker, one per command table row, in µs.
pub type Latencies = Vec<Histogram<u64>>;

/// Empty histograms for `n` commands (2 significant figures, as Redis's
/// latency tracking uses; 1 µs to 100 s).
pub fn new_latencies(n: usize) -> Latencies {
    (0..n)
        .map(|_| Histogram::new_with_bounds(1, 100_000_000, 2).expect("valid histogram bounds"))
        .collect()
}

/// One command's counters, kept by one worker (INFO commandstats).
#[derive(Debug, Default)]
pub struct CmdStat {
    /// Calls that ran.
    pub calls: AtomicU64,
    /// Microseconds they took (see `exchange::deliver` for what a duration is).
    pub usec: AtomicU64,
    /// Calls refused before they ran (arity, NOAUTH, MISCONF, OOM, ...).
    pub rejected: AtomicU64,
    /// Calls that ran and replied an error.
    pub failed: AtomicU64,
}

/// A command's counters summed over the workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CmdTotals {
    /// Calls that ran.
    pub calls: u64,
    /// Microseconds they took.
    pub usec: u64,
    /// Calls refused before they ran.
    pub rejected: u64,
    /// Calls that replied an error.
    pub failed: u64,
}

/// Error replies per error code (the reply's first word, `ERR`,
/// `WRONGTYPE`, ...), sorted as Redis's radix tree lists them.
pub type ErrorCounts = BTreeMap<Vec<u8>, u64>;

/// Counters one worker updates; padded so workers never share a cache line.
#[derive(Debug)]
#[repr(align(128))]
pub struct WorkerStats {
    /// Commands executed.
    pub commands: AtomicU64,
    /// Bytes read from clients.
    pub net_in: AtomicU64,
    /// Bytes written to clients.
    pub net_out: AtomicU64,
    /// Error replies sent.
    pub errors: AtomicU64,
    /// Per-command latency. Only its worker records into it, once per poll
    /// round; INFO and LATENCY lock it briefly to read. Never shared by two
    /// recording threads.
    pub latency: Mutex<Latencies>,
    /// Bytes its connections' buffers hold (read, write, arguments).
    pub client_mem: AtomicU64,
    /// Bytes its batches and rounds hold while at the worker.
    pub batch_mem: AtomicU64,
    /// Per-command counters, indexed by command id. Updated once per round
    /// per command kind (errors as they are encoded); read by INFO.
    pub cmds: Box<[CmdStat]>,
    /// Error replies by code; locked once per round that replied errors.
    pub error_codes: Mutex<ErrorCounts>,
}

impl WorkerStats {
    /// Zeroed counters for a table of `commands` commands.
    pub fn new(commands: usize) -> Self {
        WorkerStats {
            commands: AtomicU64::new(0),
            net_in: AtomicU64::new(0),
            net_out: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: Mutex::new(new_latencies(commands)),
            client_mem: AtomicU64::new(0),
            batch_mem: AtomicU64::new(0),
            cmds: (0..commands).map(|_| CmdStat::default()).collect(),
            error_codes: Mutex::new(ErrorCounts::new()),
        }
    }
}

/// Settings CONFIG SET changes that the workers apply.
/// Workers reload them when `Shared::epoch` moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Seconds a connection may stay idle (0: forever).
    pub timeout: u64,
    /// TCP keepalive seconds for new connections (0: off).
    pub tcp_keepalive: u64,
    /// Shard cron frequency, 1 to 500.
    pub hz: u32,
    /// Log verbosity.
    pub loglevel: config::LogLevel,
    /// Keys sampled per eviction by the sampling policies.
    pub maxmemory_samples: u64,
    /// lfu-log-factor and lfu-decay-time.
    pub lfu: shards::LfuParams,
    /// Keys the tracking tables remember at most, over all shards (0: no limit).
    pub tracking_table_max_keys: u64,
    /// Largest bulk a client may send.
    pub proto_max_bulk_len: u64,
    /// Largest unprocessed input a client may have.
    pub client_query_buffer_limit: u64,
    /// Per-command latency histograms are recorded.
    pub latency_tracking: bool,
    /// worker-spin-us.
    pub worker_spin_us: u64,
    /// Slow log threshold in µs (-1: off).
    pub slowlog_log_slower_than: i64,
    /// Slow log length.
    pub slowlog_max_len: u64,
    /// RDB save points, as CONFIG GET prints them (kept, never acted on).
    pub save: String,
    /// The RDB file's name in `dir` (SAVE, BGSAVE, DEBUG RELOAD, import).
    pub dbfilename: String,
    /// client-output-buffer-limit.
    pub output_limits: config::OutputLimits,
    /// notify-keyspace-events, as flags (see `shards::notify`).
    pub notify_keyspace_events: u32,
}

impl Settings {
    /// The settings the server starts with.
    pub fn from_config(c: &Config) -> Settings {
        Settings {
            timeout: c.timeout,
            tcp_keepalive: c.tcp_keepalive,
            hz: c.hz,
            loglevel: c.loglevel,
            maxmemory_samples: c.maxmemory_samples,
            lfu: shards::LfuParams {
                log_factor: c.lfu_log_factor,
                decay_time: c.lfu_decay_time,
            },
            tracking_table_max_keys: c.tracking_table_max_keys,
            proto_max_bulk_len: c.proto_max_bulk_len,
            client_query_buffer_limit: c.client_query_buffer_limit,
            latency_tracking: c.latency_tracking == config::YesNo::Yes,
            worker_spin_us: c.worker_spin_us,
            slowlog_log_slower_than: c.slowlog_log_slower_than,
            slowlog_max_len: c.slowlog_max_len,
            save: c.save.clone(),
            dbfilename: c.dbfilename.clone(),
            output_limits: c.client_output_buffer_limit,
            notify_keyspace_events: c.notify_keyspace_events,
        }
    }
}

/// Applies a log level to the process's logger (installed by `main`).
pub struct LogReload(pub Box<dyn Fn(config::LogLevel) + Send + Sync>);

impl std::fmt::Debug for LogReload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogReload")
    }
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
    /// Size of the command table (per-command statistics are indexed by id).
    pub commands: usize,
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
    /// Current collection encoding limits (CONFIG SET changes them).
    values: Mutex<shards::ValueLimits>,
    /// Current eviction policy, as an index into `EvictionPolicy::ALL`.
    policy: AtomicU8,
    /// Current appendfsync policy (an `aof::Fsync` code).
    pub appendfsync: AtomicU8,
    /// True while the AOF is on (CONFIG SET appendonly changes it).
    aof_enabled: AtomicBool,
    /// Whether every shard can write its AOF segment; while one cannot,
    /// write commands are refused with MISCONF before they run.
    pub aof_health: Arc<shards::aof::AofHealth>,
    /// Clients allowed at once (maxclients after the open-file limit).
    pub maxclients: AtomicU64,
    /// tcp-keepalive for the connections accepted from now on (seconds,
    /// 0: off; read per accepted connection).
    pub tcp_keepalive: AtomicU64,
    /// Connections refused by maxclients (INFO rejected_connections).
    pub rejected_connections: AtomicU64,
    /// protected-mode (CONFIG SET can change it).
    pub protected_mode: AtomicBool,
    /// Held by a worker while it sends the batches of a round whose commands
    /// span several shards, so every shard sees such rounds in one order
    /// (see `router`). Never held while waiting for a shard.
    pub order: Arc<Mutex<()>>,
    /// Every open connection, per worker (CLIENT LIST, CLIENT KILL).
    pub registry: Registry,
    /// Unix ms at start.
    pub started_unix_ms: u64,
    /// RDB saves: LASTSAVE, INFO persistence, the one BGSAVE at a time.
    pub saves: Arc<crate::rdb::Saves>,
    /// Set by `Server::stop`: the workers return.
    pub stopping: AtomicBool,
    /// The password clients must authenticate with (empty: none).
    requirepass: Mutex<Password>,
    /// The users and their permissions (ACL); the default user follows
    /// `requirepass`.
    pub acl: crate::acl::Acl,
    /// The settings CONFIG SET changes (see `Settings`).
    settings: Mutex<Settings>,
    /// Moves whenever something the workers cache changes: the settings,
    /// MONITOR subscribers, CLIENT PAUSE. Workers load it once per poll
    /// round and reload what they cache only when it moved.
    pub epoch: AtomicU64,
    /// The slow log.
    pub slowlog: Mutex<Slowlog>,
    /// MONITOR subscribers and their pending lines.
    pub monitors: Monitors,
    /// Blocked clients: the workers' inboxes and their count.
    pub blocking: crate::blocking::Blocking,
    /// CLIENT PAUSE.
    pub pauses: Pauses,
    /// Pub/sub subscriptions and the workers' message inboxes.
    pub pubsub: crate::pubsub::PubSub,
    /// Changes the log level at run time (CONFIG SET loglevel), when `main`
    /// installed a reloadable logger.
    pub log_reload: OnceLock<LogReload>,
    /// Scripts and function libraries every worker's engine follows.
    pub scripting: crate::script::Registry,
    /// Which keyspace events the shards report, and where they go (see
    /// `keyevents`).
    pub notify: Arc<shards::notify::Hub>,
    /// The clients with CLIENT TRACKING on (see `tracking`).
    pub tracking: crate::tracking::Clients,
}

impl Shared {
    /// Server-wide state for `config`, bound to `addr`, with zeroed
    /// counters for a table of `commands` commands.
    pub fn new(config: Config, addr: SocketAddr, commands: usize) -> Shared {
        let workers = config.worker_count();
        let shared = Shared {
            addr,
            workers,
            shards: config.shard_count(),
            commands,
            started: Instant::now(),
            run_id: run_id(),
            clients: AtomicUsize::new(0),
            total_connections: AtomicU64::new(0),
            worker_stats: (0..workers).map(|_| WorkerStats::new(commands)).collect(),
            next_client_id: AtomicU64::new(1),
            maxmemory: AtomicU64::new(config.maxmemory),
            max_keys: AtomicU64::new(config.max_keys),
            policy: AtomicU8::new(0),
            values: Mutex::new(config.value_limits()),
            appendfsync: AtomicU8::new(config.appendfsync.to_engine().to_code()),
            aof_enabled: AtomicBool::new(config.aof().is_some()),
            aof_health: Arc::default(),
            order: Arc::new(Mutex::new(())),
            maxclients: AtomicU64::new(config.maxclients),
            tcp_keepalive: AtomicU64::new(config.tcp_keepalive),
            rejected_connections: AtomicU64::new(0),
            protected_mode: AtomicBool::new(config.protected_mode == config::YesNo::Yes),
            registry: Registry::new(workers),
            started_unix_ms: shards::clock::unix_ms(),
            saves: Arc::new(crate::rdb::Saves::new(shards::clock::unix_ms() / 1000)),
            stopping: AtomicBool::new(false),
            acl: crate::acl::Acl::new(commands, config.requirepass.as_bytes()),
            requirepass: Mutex::new(config.requirepass.clone()),
            settings: Mutex::new(Settings::from_config(&config)),
            epoch: AtomicU64::new(0),
            slowlog: Mutex::new(Slowlog::default()),
            monitors: Monitors::new(workers),
            blocking: crate::blocking::Blocking::new(workers),
            pauses: Pauses::default(),
            pubsub: crate::pubsub::PubSub::new(workers),
            log_reload: OnceLock::new(),
            scripting: crate::script::Registry::new(
                (config.appendonly == config::YesNo::Yes).then_some(config.dir.as_path()),
                config.busy_reply_threshold,
            ),
            notify: shards::notify::Hub::new(),
            tracking: Default::default(),
            config,
        };
        shared.set_policy(shared.config.maxmemory_policy);
        shared.set_notify_flags(shared.config.notify_keyspace_events);
        shared
    }

    /// Tells the shards which keyspace events to report for
    /// `notify-keyspace-events` = `flags`: none unless K or E says where
    /// to publish them, as in Redis.
    pub fn set_notify_flags(&self, flags: u32) {
        use shards::notify::{KEYEVENT, KEYSPACE};
        let on = if flags & (KEYSPACE | KEYEVENT) == 0 {
            0
        } else {
            flags
        };
        self.notify.set_flags(on);
    }

    /// True while the AOF is on.
    pub fn aof_on(&self) -> bool {
        self.aof_enabled.load(Ordering::Relaxed)
    }

    /// Records that the AOF was turned on or off (the shards are told separately).
    pub fn set_aof_on(&self, on: bool) {
        self.aof_enabled.store(on, Ordering::Relaxed);
    }

    /// The settings in force.
    pub fn settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the settings and tells the workers.
    pub fn set_settings(&self, s: Settings) {
        *self.settings.lock().unwrap_or_else(|p| p.into_inner()) = s;
        self.bump_epoch();
    }

    /// Tells the workers to reload what they cache (see `epoch`); they
    /// notice at their next poll round. Wakes them with `wake` when they
    /// must act even without traffic (CLIENT UNPAUSE).
    pub fn bump_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::Release);
    }

    /// Every worker's latency histograms merged, per command.
    pub fn latencies(&self) -> Latencies {
        let mut all = new_latencies(self.commands);
        for w in &self.worker_stats {
            let mine = w.latency.lock().unwrap_or_else(|p| p.into_inner());
            for (a, m) in all.iter_mut().zip(mine.iter()) {
                let _ = a.add(m);
            }
        }
        all
    }

    /// The collection encoding limits in force.
    pub fn value_limits(&self) -> shards::ValueLimits {
        *self.values.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records new collection encoding limits (the shards are told separately).
    pub fn set_value_limits(&self, v: shards::ValueLimits) {
        *self.values.lock().unwrap_or_else(|p| p.into_inner()) = v;
    }

    /// The eviction policy in force.
    pub fn policy(&self) -> EvictionPolicy {
        EvictionPolicy::ALL[self.policy.load(Ordering::Relaxed) as usize]
    }

    /// The appendfsync policy in force.
    pub fn appendfsync(&self) -> Fsync {
        Fsync::from_code(self.appendfsync.load(Ordering::Relaxed)).unwrap_or(Fsync::Everysec)
    }

    /// Records a new eviction policy (the shards are told separately).
    pub fn set_policy(&self, p: EvictionPolicy) {
        let idx = EvictionPolicy::ALL
            .iter()
            .position(|x| *x == p)
            .unwrap_or(0);
        self.policy.store(idx as u8, Ordering::Relaxed);
    }

    /// True when connections must authenticate before most commands (the
    /// default user needs a password or is off).
    pub fn auth_required(&self) -> bool {
        self.acl.auth_required()
    }

    /// The password in force (CONFIG GET requirepass).
    pub fn requirepass(&self) -> Password {
        self.requirepass
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the password (CONFIG SET requirepass): the default user's
    /// passwords become this one. Connections that authenticated stay so,
    /// as in Redis.
    pub fn set_requirepass(&self, p: Password) {
        let mut cur = self.requirepass.lock().unwrap_or_else(|p| p.into_inner());
        self.acl.set_requirepass(p.as_bytes());
        *cur = p;
    }

    /// Every command's counters summed over the workers, by command id.
    pub fn command_stats(&self) -> Vec<CmdTotals> {
        let mut all = vec![CmdTotals::default(); self.commands];
        for w in &self.worker_stats {
            for (t, c) in all.iter_mut().zip(w.cmds.iter()) {
                t.calls += c.calls.load(Ordering::Relaxed);
                t.usec += c.usec.load(Ordering::Relaxed);
                t.rejected += c.rejected.load(Ordering::Relaxed);
                t.failed += c.failed.load(Ordering::Relaxed);
            }
        }
        all
    }

    /// Error replies by code, summed over the workers.
    pub fn error_stats(&self) -> ErrorCounts {
        let mut all = ErrorCounts::new();
        for w in &self.worker_stats {
            let mine = w.error_codes.lock().unwrap_or_else(|p| p.into_inner());
            for (code, n) in mine.iter() {
                *all.entry(code.clone()).or_default() += n;
            }
        }
        all
    }

    /// CONFIG RESETSTAT's part kept by the workers: command and error
    /// counts, per-command statistics and latency histograms, traffic.
    pub fn reset_worker_stats(&self) {
        for w in &self.worker_stats {
            w.commands.store(0, Ordering::Relaxed);
            w.net_in.store(0, Ordering::Relaxed);
            w.net_out.store(0, Ordering::Relaxed);
            w.errors.store(0, Ordering::Relaxed);
            for c in w.cmds.iter() {
                c.calls.store(0, Ordering::Relaxed);
                c.usec.store(0, Ordering::Relaxed);
                c.rejected.store(0, Ordering::Relaxed);
                c.failed.store(0, Ordering::Relaxed);
            }
            w.error_codes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            let mut lat = w.latency.lock().unwrap_or_else(|p| p.into_inner());
            lat.iter_mut().for_each(|h| h.reset());
        }
    }

    /// Sum of one counter over all workers.
    pub fn sum(&self, f: impl Fn(&WorkerStats) -> &AtomicU64) -> u64 {
        self.worker_stats
            .iter()
            .map(|w| f(w).load(Ordering::Relaxed))
            .sum()
    }
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
