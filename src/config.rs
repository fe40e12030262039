//! Command-line configuration. One struct; defaults are named constants.

use clap::{Parser, ValueEnum};
use shards::EvictionPolicy;
use std::path::PathBuf;

/// Default TCP port: beside a Redis on 6379.
pub const DEFAULT_PORT: u16 = 6380;
/// Default listen address: loopback only.
pub const DEFAULT_BIND: &str = "127.0.0.1";
/// Default data directory.
pub const DEFAULT_DIR: &str = "./data";
/// Redis's `proto-max-bulk-len`.
pub const PROTO_MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// Listen backlog (Redis's `tcp-backlog` is 511; the brief asks for at least 1024).
pub const BACKLOG: i32 = 1024;
/// worker-spin-us by default (see `Config::worker_spin_us`).
pub const DEFAULT_WORKER_SPIN_US: u64 = 20;
/// A spin longer than a millisecond is a busy loop, not a wait for a reply.
pub const MAX_WORKER_SPIN_US: u64 = 1000;

/// `yes` / `no`, as Redis configuration spells booleans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum YesNo {
    /// On.
    Yes,
    /// Off.
    No,
}

/// Redis's log levels (`loglevel`), from the most verbose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    /// Everything (tracing's TRACE and up).
    Debug,
    /// Tracing's DEBUG and up.
    Verbose,
    /// Tracing's INFO and up (Redis's default).
    Notice,
    /// Warnings and errors only.
    Warning,
}

impl LogLevel {
    /// Redis's spelling.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "verbose",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
        }
    }

    /// Parses Redis's spelling, any case.
    pub fn parse(s: &str) -> Option<LogLevel> {
        [
            LogLevel::Debug,
            LogLevel::Verbose,
            LogLevel::Notice,
            LogLevel::Warning,
        ]
        .into_iter()
        .find(|l| l.name().eq_ignore_ascii_case(s))
    }

    /// The `tracing` filter directive that shows this level and above.
    pub fn directive(self) -> &'static str {
        match self {
            LogLevel::Debug => "trace",
            LogLevel::Verbose => "debug",
            LogLevel::Notice => "info",
            LogLevel::Warning => "warn",
        }
    }
}

/// Parses Redis's `notify-keyspace-events` value into its class flags.
pub fn parse_notify(s: &str) -> Result<u32, String> {
    shards::notify::parse_flags(s.as_bytes())
        .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into())
}

/// Checks a `dbfilename`: a file name, not a path (Redis's check).
pub fn parse_dbfilename(s: &str) -> Result<String, String> {
    if s.contains('/') {
        return Err("dbfilename can't be a path, just a filename".into());
    }
    Ok(s.to_string())
}

/// Parses Redis's `save` value: `<seconds> <changes>` pairs separated by
/// single spaces (seconds at least 1, changes at least 0), or empty for
/// none; normalised as CONFIG GET prints it. shardcache writes no RDB: the
/// value is kept, shown and rewritten, nothing more.
pub fn parse_save(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Ok(String::new());
    }
    // Redis splits on single spaces (`sdssplitlen`): doubled or edge
    // spaces make empty fields, read by `strtoll` as 0.
    let fields: Vec<&str> = s.split(' ').collect();
    if fields.len() % 2 != 0 {
        return Err("Invalid save parameters".into());
    }
    let mut out = Vec::with_capacity(fields.len());
    for (j, f) in fields.iter().enumerate() {
        let v = strtoll_whole(f).ok_or("Invalid save parameters")?;
        if (j % 2 == 0 && v < 1) || (j % 2 == 1 && v < 0) {
            return Err("Invalid save parameters".into());
        }
        out.push(v.to_string());
    }
    Ok(out.join(" "))
}

/// C's `strtoll(s, &end, 10)` when the whole string must be consumed:
/// leading spaces and a sign are allowed, an empty string is 0, overflow
/// saturates.
fn strtoll_whole(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() {
        // Nothing converted: strtoll leaves `end` at the start.
        return s.is_empty().then_some(0);
    }
    if !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut v: i64 = 0;
    for c in digits.bytes() {
        v = v.saturating_mul(10).saturating_add((c - b'0') as i64);
    }
    Some(if neg { -v } else { v })
}

/// AOF fsync policy (used by persistence).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FsyncPolicy {
    /// fsync before each reply leaves (one fsync per drained batch).
    Always,
    /// fsync once a second.
    Everysec,
    /// Leave flushing to the OS.
    No,
}

impl FsyncPolicy {
    /// The engine's policy.
    pub fn to_engine(self) -> shards::aof::Fsync {
        match self {
            FsyncPolicy::Always => shards::aof::Fsync::Always,
            FsyncPolicy::Everysec => shards::aof::Fsync::Everysec,
            FsyncPolicy::No => shards::aof::Fsync::No,
        }
    }
}

/// shardcache: a Redis-compatible, sharded, multi-threaded in-memory cache.
#[derive(Parser, Debug, Clone)]
#[command(version, about, long_about = None, args_override_self = true)]
pub struct Config {
    /// Read settings from FILE first: Redis-style `name value` lines with the
    /// flags' names (`port 6381`, `maxmemory 100mb`, `no-pin yes`); `#` starts a
    /// comment. Flags given on the command line override the file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// TCP port to listen on (0 picks a free port and logs it).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,

    /// Address to listen on.
    #[arg(long, default_value = DEFAULT_BIND)]
    pub bind: String,

    /// Worker threads (connections, RESP parsing, replies), pinned to cores.
    /// Default: half the cores (at least 1), so workers plus shards match the cores.
    #[arg(long)]
    pub workers: Option<usize>,

    /// Shard threads (each owns a slice of the keyspace). Default: one per core
    /// (they sleep until a batch comes; more shards replay the AOF faster).
    /// With 2 cores, 1 worker + 2 shards serves as fast as 1 + 1 and starts
    /// twice as fast from a big AOF (parallel replay).
    #[arg(long)]
    pub shards: Option<usize>,

    /// Do not pin worker threads to cores.
    #[arg(long)]
    pub no_pin: bool,

    /// Memory limit for data, like Redis's maxmemory: bytes or a unit (100mb, 2gb); 0 = none.
    /// Split evenly over shards.
    #[arg(long, default_value = "0", value_parser = parse_memory)]
    pub maxmemory: u64,

    /// What to evict when a limit is reached.
    #[arg(long, default_value = "allkeys-lru", value_parser = parse_policy)]
    pub maxmemory_policy: EvictionPolicy,

    /// Key-count capacity (0 = none), split evenly over shards; the LRU evicts past it.
    #[arg(long, default_value_t = 0)]
    pub max_keys: u64,

    /// Hashes with more fields than this use a hash table (Redis's listpack limit).
    #[arg(long, alias = "hash-max-ziplist-entries", default_value_t = 512)]
    pub hash_max_listpack_entries: usize,

    /// Hashes with a field or value longer than this use a hash table.
    #[arg(long, alias = "hash-max-ziplist-value", default_value_t = 64)]
    pub hash_max_listpack_value: usize,

    /// Sets of integers with more members than this use a hash table.
    #[arg(long, default_value_t = 512)]
    pub set_max_intset_entries: usize,

    /// List node size: negative for a byte limit (-1 = 4 KB ... -5 = 64 KB),
    /// positive for elements per node.
    #[arg(long, alias = "list-max-ziplist-size", default_value_t = -2, allow_negative_numbers = true)]
    pub list_max_listpack_size: i64,

    /// Sorted sets with more members than this use a skiplist.
    #[arg(long, alias = "zset-max-ziplist-entries", default_value_t = 128)]
    pub zset_max_listpack_entries: usize,

    /// Sorted sets with a member longer than this use a skiplist.
    #[arg(long, alias = "zset-max-ziplist-value", default_value_t = 64)]
    pub zset_max_listpack_value: usize,

    /// A sparse HyperLogLog that would grow past this many bytes turns dense.
    #[arg(long, default_value = "3000", value_parser = parse_memory)]
    pub hll_sparse_max_bytes: u64,

    /// Data directory for the append-only files.
    #[arg(long, default_value = DEFAULT_DIR)]
    pub dir: PathBuf,

    /// Append-only persistence: one AOF segment per shard in --dir, replayed at start.
    #[arg(long, value_enum, default_value_t = YesNo::Yes)]
    pub appendonly: YesNo,

    /// When AOF writes reach the disk: before each reply (always, one fsync per
    /// group of batches), once a second (everysec), or when the OS decides (no).
    #[arg(long, value_enum, default_value_t = FsyncPolicy::Everysec)]
    pub appendfsync: FsyncPolicy,

    /// Rewrite a segment when it grew by this percentage over its size after the
    /// last rewrite (0 = never automatically).
    #[arg(long, default_value_t = 100)]
    pub auto_aof_rewrite_percentage: u64,

    /// ... and only when it is at least this big.
    #[arg(long, default_value = "64mb", value_parser = parse_memory)]
    pub auto_aof_rewrite_min_size: u64,

    /// Start when a segment ends in a torn record, keeping the valid prefix
    /// (Redis's aof-load-truncated).
    #[arg(long, value_enum, default_value_t = YesNo::Yes)]
    pub aof_load_truncated: YesNo,

    /// Track per-command latency (INFO latencystats, LATENCY HISTOGRAM).
    #[arg(long, value_enum, default_value_t = YesNo::Yes)]
    pub latency_tracking: YesNo,

    /// After a poll round that had work, a worker polls its sockets without
    /// sleeping for up to this many microseconds before it blocks (0: never).
    /// A client's next request then rarely has to wake it: at one request
    /// per connection the wake-ups cost the clients more than the spin costs
    /// the worker.
    #[arg(long, default_value_t = DEFAULT_WORKER_SPIN_US, value_parser = clap::value_parser!(u64).range(0..=MAX_WORKER_SPIN_US))]
    pub worker_spin_us: u64,

    /// Start even when a segment is corrupt before its end, keeping the valid
    /// prefix and moving the rest aside to `<segment>.corrupt-<offset>`.
    #[arg(long, value_enum, default_value_t = YesNo::No)]
    pub aof_load_corrupt: YesNo,

    /// Start even when a segment the manifest lists does not exist, without
    /// the keys it held (the log says which were skipped). By default the
    /// start is refused, naming the missing file.
    #[arg(long, value_enum, default_value_t = YesNo::No)]
    pub aof_load_missing: YesNo,

    /// Most clients connected at once; the next one gets
    /// `-ERR max number of clients reached` and is closed. The open-file limit
    /// is raised to fit at start when allowed, else this is lowered to fit.
    #[arg(long, default_value_t = DEFAULT_MAXCLIENTS)]
    pub maxclients: u64,

    /// Close a connection idle for this many seconds (0 = never).
    #[arg(long, default_value_t = 0)]
    pub timeout: u64,

    /// How many times a second the shards run their background work
    /// (active expiry, the AOF's everysec fsync), 1 to 500 (Redis's hz).
    #[arg(long, default_value_t = 10, value_parser = parse_hz)]
    pub hz: u32,

    /// What the log shows: debug, verbose, notice or warning (RUST_LOG,
    /// when set, wins at start).
    #[arg(long, value_enum, default_value_t = LogLevel::Notice)]
    pub loglevel: LogLevel,

    /// Keys looked at per eviction by the policies that sample
    /// (volatile-ttl, and volatile-lru when no volatile key is near the LRU tail).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=i32::MAX as u64))]
    pub maxmemory_samples: u64,

    /// Under an LFU policy, how many hits a key's access counter takes to
    /// grow: higher is slower (Redis's lfu-log-factor).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=i32::MAX as i64))]
    pub lfu_log_factor: u32,

    /// Under an LFU policy, the minutes an unused key's access counter
    /// takes to lose one (0: never).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=i32::MAX as i64))]
    pub lfu_decay_time: u32,

    /// Keys client-side caching remembers at most, over all shards (0: no
    /// limit); past it, remembered keys are invalidated to make room.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    pub tracking_table_max_keys: u64,

    /// Log commands that took at least this many microseconds in SLOWLOG
    /// (-1: off, 0: every command).
    #[arg(long, default_value_t = 10_000, allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(-1..))]
    pub slowlog_log_slower_than: i64,

    /// Most entries SLOWLOG keeps.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    pub slowlog_max_len: u64,

    /// Milliseconds a script may run before other clients get BUSY and
    /// SCRIPT KILL / FUNCTION KILL may stop it (`lua-time-limit` is its
    /// Redis 6 name).
    #[arg(long, alias = "lua-time-limit", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    pub busy_reply_threshold: u64,

    /// Redis's RDB save points, `<seconds> <changes> ...`: accepted and
    /// shown for tools that set them; they trigger no save (SAVE and BGSAVE do).
    #[arg(long, default_value = "", hide_default_value = true, value_parser = parse_save)]
    pub save: String,

    /// The RDB file in --dir that SAVE and BGSAVE write, DEBUG RELOAD
    /// loads, and start-up imports when --dir holds no AOF data.
    #[arg(long, default_value = "dump.rdb", value_parser = parse_dbfilename)]
    pub dbfilename: String,

    /// Allow CONFIG SET of protected configs (dbfilename), as Redis's
    /// `enable-protected-configs`.
    #[arg(long, value_enum, default_value_t = YesNo::No)]
    pub enable_protected_configs: YesNo,

    /// Keyspace events to publish, as Redis's `notify-keyspace-events`
    /// (classes `g$lshzxetdnm`, `A` for all, with `K` and/or `E`).
    #[arg(long, default_value = "", hide_default_value = true, value_parser = parse_notify)]
    pub notify_keyspace_events: u32,

    /// Send TCP keepalive probes after this many idle seconds (0 = off).
    #[arg(long, default_value_t = 300)]
    pub tcp_keepalive: u64,

    /// Close a connection whose unprocessed input passes this size (at least 1mb).
    #[arg(long, default_value = "1gb", value_parser = parse_min_1mb)]
    pub client_query_buffer_limit: u64,

    /// Largest bulk string a client may send (at least 1mb); longer is a protocol error.
    #[arg(long, default_value = "512mb", value_parser = parse_min_1mb)]
    pub proto_max_bulk_len: u64,

    /// Stop reading a client's requests while its unsent replies pass this
    /// size, and resume once they drain to half of it (0 = never pause).
    /// TCP flow control then slows a client that does not read its replies.
    #[arg(long, default_value = "1mb", value_parser = parse_memory)]
    pub client_output_pause: u64,

    /// Output limits per client class, as Redis writes them: groups of
    /// `<class> <hard> <soft> <soft-seconds>` (0 = no limit), class `normal`
    /// or `pubsub` (`replica` is kept, unused); classes not given keep
    /// Redis's defaults. A client whose unsent replies pass the hard limit,
    /// or stay above the soft one for soft-seconds, is disconnected.
    #[arg(long, default_value = "normal 0 0 0", value_parser = parse_output_limit)]
    pub client_output_buffer_limit: OutputLimits,

    /// Rename a command (`--rename-command FLUSHALL ""` disables it); may repeat.
    #[arg(long, num_args = 2, value_names = ["NAME", "NEW_NAME"], action = clap::ArgAction::Append, allow_hyphen_values = true)]
    pub rename_command: Vec<String>,

    /// Protected mode, as Redis: while no password is set, clients that do not
    /// connect from a loopback address are refused with Redis's DENIED error.
    #[arg(long, value_enum, default_value_t = YesNo::Yes)]
    pub protected_mode: YesNo,

    /// A file of users, one `user NAME RULES...` line each as ACL LIST and
    /// ACL SAVE write them, loaded at start and by ACL LOAD (Redis's
    /// aclfile; empty: none).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "",
        hide_default_value = true
    )]
    pub aclfile: String,

    /// A user and its rules, `--user "alice on >pw ~* +@all"` (Redis's
    /// `user` lines of the config file); may repeat. Not with `--aclfile`.
    #[arg(long, value_name = "NAME RULES", action = clap::ArgAction::Append, allow_hyphen_values = true)]
    pub user: Vec<String>,

    /// Require clients to authenticate with AUTH (or HELLO ... AUTH) and this
    /// password before other commands (Redis's requirepass; empty = none).
    #[arg(
        long,
        value_name = "PASSWORD",
        default_value = "",
        hide_default_value = true
    )]
    pub requirepass: Password,
}

/// Redis's default `maxclients`.
pub const DEFAULT_MAXCLIENTS: u64 = 10_000;

/// `client-output-buffer-limit` for one class of clients.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimit {
    /// Disconnect above this many unsent bytes (0 = none).
    pub hard: u64,
    /// Disconnect after `soft_secs` above this many (0 = none).
    pub soft: u64,
    /// Seconds above `soft` that are tolerated.
    pub soft_secs: u64,
}

/// Redis clamps hz to 1..=500 rather than refusing it.
fn parse_hz(s: &str) -> Result<u32, String> {
    let v: i64 = s.parse().map_err(|_| format!("invalid hz '{s}'"))?;
    if v < 0 {
        return Err(format!("invalid hz '{s}'"));
    }
    Ok(v.clamp(1, 500) as u32)
}

fn parse_min_1mb(s: &str) -> Result<u64, String> {
    let v = parse_memory(s)?;
    if v < 1024 * 1024 {
        return Err(format!("'{s}' is below the minimum of 1mb"));
    }
    Ok(v)
}

/// `client-output-buffer-limit` of every client class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimits {
    /// Normal clients.
    pub normal: OutputLimit,
    /// Replicas (shardcache has none; kept for CONFIG GET).
    pub replica: OutputLimit,
    /// Clients with a pub/sub subscription.
    pub pubsub: OutputLimit,
}

impl Default for OutputLimits {
    /// Redis's defaults.
    fn default() -> Self {
        OutputLimits {
            normal: OutputLimit::default(),
            replica: OutputLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_secs: 60,
            },
            pubsub: OutputLimit {
                hard: 32 << 20,
                soft: 8 << 20,
                soft_secs: 60,
            },
        }
    }
}

impl std::fmt::Display for OutputLimits {
    /// As CONFIG GET shows it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (class, l)) in [
            ("normal", self.normal),
            ("slave", self.replica),
            ("pubsub", self.pubsub),
        ]
        .iter()
        .enumerate()
        {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{class} {} {} {}", l.hard, l.soft, l.soft_secs)?;
        }
        Ok(())
    }
}

impl OutputLimits {
    /// These limits with the classes `s` names changed, as Redis's CONFIG
    /// SET applies them: all of `s` is checked before any of it applies.
    pub fn with(mut self, s: &str) -> Result<OutputLimits, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        if words.len() % 4 != 0 {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut parsed = Vec::with_capacity(words.len() / 4);
        for g in words.chunks(4) {
            let class = match g[0].to_ascii_lowercase().as_str() {
                "normal" => 0,
                "replica" | "slave" => 1,
                "pubsub" => 2,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let bad =
                || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            let hard = parse_memory(g[1]).map_err(|_| bad())?;
            let soft = parse_memory(g[2]).map_err(|_| bad())?;
            let soft_secs = g[3].parse::<u64>().map_err(|_| bad())?;
            parsed.push((
                class,
                OutputLimit {
                    hard,
                    soft,
                    soft_secs,
                },
            ));
        }
        for (class, l) in parsed {
            match class {
                0 => self.normal = l,
                1 => self.replica = l,
                _ => self.pubsub = l,
            }
        }
        Ok(self)
    }
}

/// Parses Redis's `client-output-buffer-limit` value over Redis's defaults.
pub fn parse_output_limit(s: &str) -> Result<OutputLimits, String> {
    if s.split_whitespace().next().is_none() {
        return Err(format!(
            "'{s}': expected <class> <hard> <soft> <soft-seconds> groups"
        ));
    }
    OutputLimits::default().with(s)
}

/// A password: compared in constant time, never printed by `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(Vec<u8>);

impl Password {
    /// A password from raw bytes (empty: none).
    pub fn new(bytes: &[u8]) -> Password {
        Password(bytes.to_vec())
    }
    /// True when no password is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The password's bytes (CONFIG GET requirepass replies them, as Redis does).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// True when `given` is the password. The time taken depends on the
    /// length of `given` only, never on the password's bytes or length.
    pub fn matches(&self, given: &[u8]) -> bool {
        let secret = &self.0;
        if secret.is_empty() {
            return given.is_empty();
        }
        let mut diff = (given.len() != secret.len()) as u8;
        for (i, &g) in given.iter().enumerate() {
            diff |= g ^ secret[i % secret.len()];
        }
        std::hint::black_box(diff) == 0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "(none)" } else { "(set)" })
    }
}

impl std::str::FromStr for Password {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Password(s.as_bytes().to_vec()))
    }
}

impl Config {
    /// The collection encoding limits the flags give.
    pub fn value_limits(&self) -> shards::ValueLimits {
        let mut v = shards::ValueLimits::default();
        v.hash.max_listpack_entries = self.hash_max_listpack_entries;
        v.hash.max_listpack_value = self.hash_max_listpack_value;
        v.set.max_intset_entries = self.set_max_intset_entries;
        v.list.max_listpack_size = self.list_max_listpack_size;
        v.zset.max_listpack_entries = self.zset_max_listpack_entries;
        v.zset.max_listpack_value = self.zset_max_listpack_value;
        v.hll_sparse_max_bytes = self.hll_sparse_max_bytes as usize;
        v
    }

    /// Worker count after defaults.
    pub fn worker_count(&self) -> usize {
        self.workers.unwrap_or_else(default_threads).max(1)
    }
    /// Persistence settings for the engine, or None with `--appendonly no`.
    pub fn aof(&self) -> Option<shards::aof::AofConfig> {
        (self.appendonly == YesNo::Yes).then(|| self.aof_settings())
    }

    /// Persistence settings, whether the AOF is on at start or not (CONFIG
    /// SET appendonly yes turns it on with these).
    pub fn aof_settings(&self) -> shards::aof::AofConfig {
        shards::aof::AofConfig {
            dir: self.dir.clone(),
            fsync: self.appendfsync.to_engine(),
            rewrite_percentage: self.auto_aof_rewrite_percentage,
            rewrite_min_size: self.auto_aof_rewrite_min_size,
            load_truncated: self.aof_load_truncated == YesNo::Yes,
            load_corrupt: self.aof_load_corrupt == YesNo::Yes,
            load_missing: self.aof_load_missing == YesNo::Yes,
        }
    }

    /// Shard count after defaults.
    pub fn shard_count(&self) -> usize {
        self.shards
            .unwrap_or_else(cores)
            .clamp(1, u16::MAX as usize)
    }
}

/// Descriptors Redis keeps for itself beyond the clients (listeners, files).
const RESERVED_FDS: u64 = 32;

/// Raises the open-file limit to fit `maxclients` (Redis's
/// `adjustOpenFilesLimit`) and returns the client count that fits (less
/// than `maxclients` when the limit could not be raised that far).
pub fn raise_open_files(maxclients: u64) -> u64 {
    let want = maxclients + RESERVED_FDS;
    let Ok((soft, hard)) = rlimit::Resource::NOFILE.get() else {
        return maxclients;
    };
    if soft >= want {
        return maxclients;
    }
    let target = if hard == rlimit::INFINITY {
        want
    } else {
        want.min(hard)
    };
    let got = match rlimit::Resource::NOFILE.set(target, hard) {
        Ok(()) => target,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            soft
        }
    };
    if got >= want {
        return maxclients;
    }
    got.saturating_sub(RESERVED_FDS).max(1)
}

/// Parses the process arguments, reading `--config FILE` first when given,
/// so that the file's settings come before (and are overridden by) the
/// command line's. Exits as clap does on `--help`, `--version` and bad input.
pub fn from_args() -> Config {
    match try_from_argv(std::env::args().collect()) {
        Ok(c) => c,
        Err(ArgsError::File(e)) => {
            eprintln!("shardcache: {e}");
            std::process::exit(2);
        }
        Err(ArgsError::Clap(e)) => e.exit(),
    }
}

enum ArgsError {
    File(String),
    Clap(clap::Error),
}

/// The configuration the command line `argv` (program name first) gives,
/// `--config` file included: what `from_args` does, for a server started
/// in-process (tests).
pub fn from_argv(argv: &[&str]) -> Result<Config, String> {
    try_from_argv(argv.iter().map(|a| a.to_string()).collect()).map_err(|e| match e {
        ArgsError::File(e) => e,
        ArgsError::Clap(e) => e.to_string(),
    })
}

fn try_from_argv(argv: Vec<String>) -> Result<Config, ArgsError> {
    let path = argv.iter().enumerate().find_map(|(i, a)| {
        if a == "--config" {
            argv.get(i + 1).cloned()
        } else {
            a.strip_prefix("--config=").map(str::to_string)
        }
    });
    let mut full = vec![argv.first().cloned().unwrap_or_else(|| "shardcache".into())];
    if let Some(path) = path {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ArgsError::File(format!("--config {path}: {e}")))?;
        let args = config_file_args(&text)
            .map_err(|e| ArgsError::File(format!("--config {path}: {e}")))?;
        full.extend(args);
    }
    full.extend(argv.into_iter().skip(1));
    Config::try_parse_from(full).map_err(ArgsError::Clap)
}

/// Turns config-file lines into flags: `name value` → `--name value`;
/// switches take `yes`/`no` (`no-pin yes` → `--no-pin`).
pub fn config_file_args(text: &str) -> Result<Vec<String>, String> {
    const SWITCHES: [&str; 1] = ["no-pin"];
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = match line.split_once(char::is_whitespace) {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim()),
            None => return Err(format!("line {}: '{line}' has no value", n + 1)),
        };
        let raw_value = value;
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        let value = if name == "rename-command" {
            raw_value
        } else {
            value
        };
        if name == "config" {
            return Err(format!(
                "line {}: a config file cannot include another",
                n + 1
            ));
        }
        if name == "user" {
            // The whole line is the user's name and rules.
            out.push("--user".into());
            out.push(raw_value.to_string());
        } else if name == "rename-command" {
            // Two words, either possibly quoted empty: `rename-command CONFIG ""`.
            let words = config_words(value);
            if words.len() != 2 {
                return Err(format!(
                    "line {}: rename-command takes NAME NEW_NAME",
                    n + 1
                ));
            }
            out.push("--rename-command".into());
            out.extend(words);
        } else if SWITCHES.contains(&name.as_str()) {
            match value.to_ascii_lowercase().as_str() {
                "yes" => out.push(format!("--{name}")),
                "no" => {}
                _ => return Err(format!("line {}: {name} takes yes or no", n + 1)),
            }
        } else {
            out.push(format!("--{name}"));
            out.push(value.to_string());
        }
    }
    Ok(out)
}

/// Splits a config value into words, `"..."` quoting a word (possibly empty).
fn config_words(value: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            words.push(q[..end].to_string());
            rest = q.get(end + 1..).unwrap_or("").trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            words.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
    }
    words
}

/// Default worker and shard counts: half the cores each, so that the
/// server's busy threads match the cores. Measured on 2 cores with
/// redis-benchmark (50 clients, P1): one worker and one shard keep p99 under
/// 1 ms at the same throughput, where two of each put p99 at 7.7 ms because
/// four busy threads and the client time-share two cores.
pub fn default_threads() -> usize {
    (cores() / 2).max(1)
}

/// Cores available to this process.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn parse_policy(s: &str) -> Result<EvictionPolicy, String> {
    EvictionPolicy::parse(s).ok_or_else(|| {
        let names: Vec<_> = EvictionPolicy::ALL.iter().map(|p| p.name()).collect();
        format!("unknown policy '{s}' (one of: {})", names.join(", "))
    })
}

/// Parses a Redis memory size: `1024`, `1k` (1000), `1kb` (1024), `mb`, `gb`, case-insensitive.
pub fn parse_memory(s: &str) -> Result<u64, String> {
    // Redis's `memtoull` reads an empty value as 0.
    if s.is_empty() {
        return Ok(0);
    }
    let lower = s.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err(format!("invalid memory size '{s}'")),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| format!("invalid memory size '{s}'"))
}

/// Splits `total` as evenly as possible over `n` parts (the first parts take the remainder).
pub fn split_even(total: u64, n: usize, i: usize) -> u64 {
    if total == 0 {
        return 0;
    }
    let n = n as u64;
    let base = total / n;
    let extra = (i as u64) < total % n;
    // Never round a non-zero limit down to "unlimited".
    (base + extra as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("100").unwrap(), 100);
        assert_eq!(parse_memory("1k").unwrap(), 1000);
        assert_eq!(parse_memory("1KB").unwrap(), 1024);
        assert_eq!(parse_memory("2mb").unwrap(), 2 << 20);
        assert_eq!(parse_memory("1gb").unwrap(), 1 << 30);
        assert!(parse_memory("1tb").is_err());
        assert!(parse_memory("mb").is_err());
    }

    #[test]
    fn config_file_then_command_line() {
        let file = "# a comment\nport 7000\nmaxmemory 100mb\nmaxmemory-policy \"volatile-lru\"\nno-pin yes\n\nappendfsync always\n";
        let mut argv = vec!["shardcache".to_string()];
        argv.extend(config_file_args(file).unwrap());
        argv.extend(["--port".to_string(), "7001".to_string()]);
        let c = Config::try_parse_from(argv).unwrap();
        assert_eq!(c.port, 7001, "the command line wins");
        assert_eq!(c.maxmemory, 100 << 20);
        assert_eq!(c.maxmemory_policy, EvictionPolicy::VolatileLru);
        assert!(c.no_pin);
        assert_eq!(c.appendfsync, FsyncPolicy::Always);
        assert!(config_file_args("port").is_err());
        assert!(config_file_args("no-pin maybe").is_err());
        let bad: Vec<String> = ["shardcache".to_string()]
            .into_iter()
            .chain(config_file_args("nosuch-flag 1").unwrap())
            .collect();
        assert!(
            Config::try_parse_from(bad).is_err(),
            "unknown names are refused"
        );
    }

    #[test]
    fn user_lines_keep_their_words() {
        let file = "user alice on >pw ~a* +get\naclfile /tmp/users.acl\nuser default on nopass\n";
        let mut argv = vec!["shardcache".to_string()];
        argv.extend(config_file_args(file).unwrap());
        let c = Config::try_parse_from(argv).unwrap();
        assert_eq!(c.user, ["alice on >pw ~a* +get", "default on nopass"]);
        assert_eq!(c.aclfile, "/tmp/users.acl");
    }

    #[test]
    fn limits_and_renames_parse() {
        let file = "rename-command FLUSHALL \"\"\nrename-command CONFIG cfg-secret\nclient-output-buffer-limit normal 64mb 16mb 30 pubsub 32mb 8mb 60\nmaxclients 50\n";
        let mut argv = vec!["shardcache".to_string()];
        argv.extend(config_file_args(file).unwrap());
        let c = Config::try_parse_from(argv).unwrap();
        assert_eq!(c.rename_command, ["FLUSHALL", "", "CONFIG", "cfg-secret"]);
        assert_eq!(
            c.client_output_buffer_limit.normal,
            OutputLimit {
                hard: 64 << 20,
                soft: 16 << 20,
                soft_secs: 30
            }
        );
        assert_eq!(
            c.client_output_buffer_limit.to_string(),
            "normal 67108864 16777216 30 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        let l = parse_output_limit("pubsub 1mb 0 5").unwrap();
        assert_eq!(
            (l.pubsub.hard, l.pubsub.soft_secs, l.normal.hard),
            (1 << 20, 5, 0)
        );
        assert_eq!(c.maxclients, 50);
        assert!(parse_output_limit("normal 1mb").is_err());
        assert!(parse_output_limit("bogus 0 0 0").is_err());
        assert!(Config::try_parse_from(["x", "--client-query-buffer-limit", "1kb"]).is_err());
    }

    #[test]
    fn password_flag_and_file_line() {
        let mut argv = vec!["shardcache".to_string()];
        argv.extend(config_file_args("requirepass \"s3cret\"\n").unwrap());
        let c = Config::try_parse_from(argv).unwrap();
        assert_eq!(c.requirepass, Password::new(b"s3cret"));
        assert_eq!(format!("{:?}", c.requirepass), "(set)", "never printed");
        let c = Config::try_parse_from(["shardcache"]).unwrap();
        assert!(c.requirepass.is_empty());
        let c = Config::try_parse_from(["shardcache", "--requirepass", "x"]).unwrap();
        assert!(c.requirepass.matches(b"x"));
    }

    #[test]
    fn password_comparison() {
        let p = Password::new(b"secret");
        assert!(p.matches(b"secret"));
        for wrong in [
            &b""[..],
            b"s",
            b"secre",
            b"secreT",
            b"secretsecret",
            b"secret\0",
        ] {
            assert!(!p.matches(wrong), "{wrong:?}");
        }
        let none = Password::default();
        assert!(none.matches(b"") && !none.matches(b"x"));
    }

    #[test]
    fn the_sample_config_file_parses() {
        let text = include_str!("../tools/cluster/shardcache.conf");
        let mut argv = vec!["shardcache".to_string()];
        argv.extend(config_file_args(text).unwrap());
        let c = Config::try_parse_from(argv).unwrap();
        assert_eq!(c.maxclients, DEFAULT_MAXCLIENTS);
        assert_eq!(c.protected_mode, YesNo::Yes);
    }

    #[test]
    fn even_split() {
        let parts: Vec<u64> = (0..3).map(|i| split_even(10, 3, i)).collect();
        assert_eq!(parts, [4, 3, 3]);
        assert_eq!(split_even(0, 4, 2), 0);
        assert_eq!(split_even(2, 4, 3), 1);
    }
}
