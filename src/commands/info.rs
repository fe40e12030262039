//! INFO: Redis 7.0's sections and field names, over the shards' snapshots.

use super::spec::{flags::*, Command};
use super::Ctx;
use crate::exchange::{Completion, Finish, Merge};
use crate::resp::encode;
use crate::shared::Shared;
use shards::ops::server::SrvOp;
use shards::Reply;
use shards::{ShardInfo, NUM_DBS};
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// INFO sections, as bits of a mask.
pub mod section {
    /// `# Server`
    pub const SERVER: u32 = 1;
    /// `# Clients`
    pub const CLIENTS: u32 = 2;
    /// `# Memory`
    pub const MEMORY: u32 = 4;
    /// `# Persistence`
    pub const PERSISTENCE: u32 = 8;
    /// `# Stats`
    pub const STATS: u32 = 16;
    /// `# Replication`
    pub const REPLICATION: u32 = 32;
    /// `# CPU`
    pub const CPU: u32 = 64;
    /// `# Cluster`
    pub const CLUSTER: u32 = 128;
    /// `# Keyspace`
    pub const KEYSPACE: u32 = 256;
    /// `# Latencystats`
    pub const LATENCYSTATS: u32 = 512;
    /// `# Modules` (always empty: shardcache loads no module).
    pub const MODULES: u32 = 1024;
    /// `# Commandstats`
    pub const COMMANDSTATS: u32 = 2048;
    /// `# Errorstats`
    pub const ERRORSTATS: u32 = 4096;
    /// What `INFO` and `INFO default` print (Redis 7.0's default sections:
    /// errorstats yes, commandstats and latencystats no).
    pub const DEFAULT: u32 = SERVER
        | CLIENTS
        | MEMORY
        | PERSISTENCE
        | STATS
        | REPLICATION
        | CPU
        | MODULES
        | ERRORSTATS
        | CLUSTER
        | KEYSPACE;
    /// What `INFO all` and `INFO everything` print.
    pub const ALL: u32 = DEFAULT | COMMANDSTATS | LATENCYSTATS;

    /// Section names as INFO accepts them.
    pub const NAMES: [(&str, u32); 13] = [
        ("latencystats", LATENCYSTATS),
        ("server", SERVER),
        ("clients", CLIENTS),
        ("memory", MEMORY),
        ("persistence", PERSISTENCE),
        ("stats", STATS),
        ("replication", REPLICATION),
        ("cpu", CPU),
        ("cluster", CLUSTER),
        ("keyspace", KEYSPACE),
        ("modules", MODULES),
        ("commandstats", COMMANDSTATS),
        ("errorstats", ERRORSTATS),
    ];
}

/// Maps INFO's arguments to a section mask (unknown names select nothing, as in Redis).
pub fn parse_sections<'a>(args: impl Iterator<Item = &'a [u8]>) -> u32 {
    let mut mask = 0;
    let mut any = false;
    for a in args {
        any = true;
        let a = String::from_utf8_lossy(a).to_ascii_lowercase();
        mask |= match a.as_str() {
            "all" | "everything" => section::ALL,
            "default" => section::DEFAULT,
            name => section::NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0, |&(_, bit)| bit),
        };
    }
    if any {
        mask
    } else {
        section::DEFAULT
    }
}

/// Redis's `bytesToHuman`.
pub fn human(n: u64) -> String {
    let n = n as f64;
    const K: f64 = 1024.0;
    if n < K {
        format!("{}B", n as u64)
    } else if n < K * K {
        format!("{:.2}K", n / K)
    } else if n < K * K * K {
        format!("{:.2}M", n / (K * K))
    } else if n < K * K * K * K {
        format!("{:.2}G", n / (K * K * K))
    } else {
        format!("{:.2}T", n / (K * K * K * K))
    }
}

/// Resident set size of this process, from /proc.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// (user, system) CPU seconds of this process.
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are 14th and 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (tick(11), tick(12))
}

/// Renders the INFO text for `mask` from every shard's snapshot.
pub fn render(mask: u32, shards: &[&ShardInfo], shared: &Shared) -> String {
    let mut out = String::with_capacity(2048);
    let section = |name: &str, out: &mut String| {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let _ = write!(out, "# {name}\r\n");
    };
    let sum = |f: fn(&ShardInfo) -> u64| shards.iter().map(|s| f(s)).sum::<u64>();
    let uptime = shared.started.elapsed().as_secs();
    macro_rules! field {
        ($out:expr, $name:expr, $val:expr) => {
            let _ = write!($out, "{}:{}\r\n", $name, $val);
        };
    }
    if mask & section::SERVER != 0 {
        section("Server", &mut out);
        field!(out, "redis_version", "7.0.15");
        field!(out, "shardcache_version", env!("CARGO_PKG_VERSION"));
        field!(out, "redis_git_sha1", "00000000");
        field!(out, "redis_git_dirty", 0);
        field!(out, "redis_build_id", "0");
        field!(out, "redis_mode", "standalone");
        field!(
            out,
            "os",
            format!("{} {}", std::env::consts::OS, std::env::consts::ARCH)
        );
        field!(out, "arch_bits", usize::BITS);
        field!(out, "monotonic_clock", "POSIX clock_gettime");
        field!(out, "multiplexing_api", "epoll");
        field!(out, "process_id", std::process::id());
        field!(out, "process_supervised", "no");
        field!(out, "run_id", shared.run_id);
        field!(out, "tcp_port", shared.addr.port());
        field!(out, "server_time_usec", shards::clock::unix_ms() * 1000);
        field!(out, "uptime_in_seconds", uptime);
        field!(out, "uptime_in_days", uptime / 86400);
        let hz = shared.settings().hz;
        field!(out, "hz", hz);
        field!(out, "configured_hz", hz);
        field!(
            out,
            "lru_clock",
            (shards::clock::unix_ms() / 1000) & ((1 << 24) - 1)
        );
        field!(
            out,
            "executable",
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        field!(out, "config_file", "");
        field!(out, "io_threads_active", 0);
        field!(out, "shardcache_workers", shared.workers);
        field!(out, "shardcache_shards", shared.shards);
    }
    if mask & section::CLIENTS != 0 {
        section("Clients", &mut out);
        field!(
            out,
            "connected_clients",
            shared.clients.load(Ordering::Relaxed)
        );
        field!(out, "cluster_connections", 0);
        field!(out, "maxclients", shared.maxclients.load(Ordering::Relaxed));
        field!(out, "client_recent_max_input_buffer", 0);
        field!(out, "client_recent_max_output_buffer", 0);
        field!(
            out,
            "blocked_clients",
            shared.blocking.clients.load(Ordering::Relaxed)
        );
        field!(out, "tracking_clients", shared.tracking.count());
        field!(out, "clients_in_timeout_table", 0);
    }
    if mask & section::MEMORY != 0 {
        section("Memory", &mut out);
        let used = sum(|s| s.used_memory);
        let rss = rss_bytes();
        let maxmemory = shared.maxmemory.load(Ordering::Relaxed);
        field!(out, "used_memory", used);
        field!(out, "used_memory_human", human(used));
        field!(out, "used_memory_rss", rss);
        field!(out, "used_memory_rss_human", human(rss));
        field!(out, "used_memory_dataset", used);
        let sys = total_system_memory();
        field!(out, "total_system_memory", sys);
        field!(out, "total_system_memory_human", human(sys));
        field!(out, "maxmemory", maxmemory);
        field!(out, "maxmemory_human", human(maxmemory));
        field!(out, "maxmemory_policy", shared.policy().name());
        let ratio = if used == 0 {
            0.0
        } else {
            rss as f64 / used as f64
        };
        field!(out, "mem_fragmentation_ratio", format!("{ratio:.2}"));
        // Connection and batch buffers are reported here, not in
        // used_memory: used_memory is what maxmemory bounds, and each shard
        // enforces it on its own data.
        field!(out, "mem_clients_slaves", 0);
        field!(
            out,
            "mem_clients_normal",
            shared.sum(|w| &w.client_mem) + shared.sum(|w| &w.batch_mem)
        );
        field!(out, "mem_aof_buffer", sum(|s| s.aof_buffer));
        // Every worker's Lua state, summed (each worker has its own).
        let lua = shared.scripting.lua_memory.load(Ordering::Relaxed);
        field!(out, "used_memory_lua", lua);
        field!(out, "used_memory_lua_human", human(lua));
        field!(
            out,
            "number_of_cached_scripts",
            shared.scripting.cached.load(Ordering::Relaxed)
        );
        let (functions, libraries) = {
            let s = shared.scripting.lock();
            (s.functions, s.libs.len())
        };
        field!(out, "number_of_functions", functions);
        field!(out, "number_of_libraries", libraries);
        field!(out, "mem_allocator", "libc");
        field!(
            out,
            "shardcache_max_keys",
            shared.max_keys.load(Ordering::Relaxed)
        );
    }
    if mask & section::PERSISTENCE != 0 {
        section("Persistence", &mut out);
        let aofs: Vec<_> = shards.iter().filter_map(|s| s.aof.as_ref()).collect();
        let write_error = aofs.iter().find_map(|a| a.write_error.clone());
        let ok = |b: bool| if b { "ok" } else { "err" };
        field!(out, "loading", 0);
        field!(out, "async_loading", 0);
        let saves = &shared.saves;
        let changes = sum(|s| s.changes);
        let base = saves.changes_base.load(Ordering::Relaxed);
        field!(
            out,
            "rdb_changes_since_last_save",
            changes.saturating_sub(base)
        );
        let bgsave = saves.in_progress.load(Ordering::Relaxed);
        field!(out, "rdb_bgsave_in_progress", bgsave as u8);
        field!(
            out,
            "rdb_last_save_time",
            saves.last_save.load(Ordering::Relaxed)
        );
        field!(
            out,
            "rdb_last_bgsave_status",
            ok(saves.last_bgsave_ok.load(Ordering::Relaxed))
        );
        field!(
            out,
            "rdb_last_bgsave_time_sec",
            saves.last_bgsave_secs.load(Ordering::Relaxed)
        );
        let current = if bgsave {
            let started = saves.bgsave_started.load(Ordering::Relaxed);
            (shards::clock::unix_ms().saturating_sub(started) / 1000) as i64
        } else {
            -1
        };
        field!(out, "rdb_current_bgsave_time_sec", current);
        field!(out, "rdb_saves", saves.saves.load(Ordering::Relaxed));
        field!(
            out,
            "rdb_last_load_keys_expired",
            saves.last_load_expired.load(Ordering::Relaxed)
        );
        field!(
            out,
            "rdb_last_load_keys_loaded",
            saves.last_load_loaded.load(Ordering::Relaxed)
        );
        field!(
            out,
            "shardcache_rdb_last_snapshot_hold_us",
            saves.last_hold_us.load(Ordering::Relaxed)
        );
        field!(out, "aof_enabled", shared.aof_on() as u8);
        field!(
            out,
            "aof_rewrite_in_progress",
            aofs.iter().any(|a| a.rewrite_in_progress) as u8
        );
        field!(out, "aof_rewrite_scheduled", 0);
        field!(
            out,
            "aof_last_bgrewrite_status",
            ok(aofs.iter().all(|a| a.last_rewrite_ok))
        );
        field!(out, "aof_last_write_status", ok(write_error.is_none()));
        if let Some(e) = &write_error {
            field!(out, "aof_last_write_error", e);
        }
        if shared.aof_on() {
            field!(
                out,
                "aof_current_size",
                aofs.iter().map(|a| a.current_size).sum::<u64>()
            );
            field!(
                out,
                "aof_base_size",
                aofs.iter().map(|a| a.base_size).sum::<u64>()
            );
            field!(out, "aof_fsync", shared.appendfsync().name());
            field!(out, "aof_segments", aofs.len());
        }
    }
    if mask & section::STATS != 0 {
        section("Stats", &mut out);
        field!(
            out,
            "total_connections_received",
            shared.total_connections.load(Ordering::Relaxed)
        );
        field!(out, "total_commands_processed", shared.sum(|w| &w.commands));
        field!(out, "instantaneous_ops_per_sec", 0);
        field!(out, "total_net_input_bytes", shared.sum(|w| &w.net_in));
        field!(out, "total_net_output_bytes", shared.sum(|w| &w.net_out));
        field!(
            out,
            "rejected_connections",
            shared.rejected_connections.load(Ordering::Relaxed)
        );
        field!(out, "expired_keys", sum(|s| s.expired));
        field!(out, "evicted_keys", sum(|s| s.evicted));
        field!(out, "keyspace_hits", sum(|s| s.hits));
        field!(out, "keyspace_misses", sum(|s| s.misses));
        let (channels, patterns, shard_channels) = shared.pubsub.counts();
        field!(out, "pubsub_channels", channels);
        field!(out, "pubsub_patterns", patterns);
        field!(out, "pubsubshard_channels", shard_channels);
        field!(out, "tracking_total_keys", sum(|s| s.tracking[0]));
        field!(out, "tracking_total_items", sum(|s| s.tracking[1]));
        // Every shard keeps every prefix.
        let prefixes = shards.iter().map(|s| s.tracking[2]).max().unwrap_or(0);
        field!(out, "tracking_total_prefixes", prefixes);
        field!(out, "total_error_replies", shared.sum(|w| &w.errors));
    }
    if mask & section::REPLICATION != 0 {
        section("Replication", &mut out);
        field!(out, "role", "master");
        field!(out, "connected_slaves", 0);
        field!(out, "master_failover_state", "no-failover");
        field!(out, "master_replid", shared.run_id);
        field!(
            out,
            "master_replid2",
            "0000000000000000000000000000000000000000"
        );
        field!(out, "master_repl_offset", 0);
        field!(out, "second_repl_offset", -1);
        field!(out, "repl_backlog_active", 0);
    }
    if mask & section::CPU != 0 {
        section("CPU", &mut out);
        let (user, sys) = cpu_seconds();
        field!(out, "used_cpu_sys", format!("{sys:.6}"));
        field!(out, "used_cpu_user", format!("{user:.6}"));
    }
    if mask & section::MODULES != 0 {
        section("Modules", &mut out);
    }
    if mask & section::COMMANDSTATS != 0 {
        section("Commandstats", &mut out);
        for (id, c) in shared.command_stats().iter().enumerate() {
            if c.calls == 0 && c.rejected == 0 && c.failed == 0 {
                continue;
            }
            // Redis divides as `float`.
            let per_call = if c.calls == 0 {
                0.0
            } else {
                c.usec as f32 / c.calls as f32
            };
            let _ = write!(
                out,
                "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
                super::by_id(id).name,
                c.calls,
                c.usec,
                per_call,
                c.rejected,
                c.failed
            );
        }
    }
    if mask & section::ERRORSTATS != 0 {
        section("Errorstats", &mut out);
        for (code, n) in shared.error_stats() {
            let _ = write!(out, "errorstat_{}:count={n}\r\n", safe_info_string(&code));
        }
    }
    if mask & section::LATENCYSTATS != 0 {
        section("Latencystats", &mut out);
        let all = shared.latencies();
        for (id, h) in all.iter().enumerate() {
            if h.is_empty() {
                continue;
            }
            let q = |p: f64| h.value_at_quantile(p) as f64;
            let _ = write!(
                out,
                "latency_percentiles_usec_{}:p50={:.3},p99={:.3},p99.9={:.3}\r\n",
                super::by_id(id).name,
                q(0.5),
                q(0.99),
                q(0.999)
            );
        }
    }
    if mask & section::CLUSTER != 0 {
        section("Cluster", &mut out);
        field!(out, "cluster_enabled", 0);
    }
    if mask & section::KEYSPACE != 0 {
        section("Keyspace", &mut out);
        for db in 0..NUM_DBS {
            let keys: u64 = shards.iter().map(|s| s.keys[db]).sum();
            if keys == 0 {
                continue;
            }
            let expires: u64 = shards.iter().map(|s| s.expires[db]).sum();
            // Weight each shard's TTL estimate by its share of volatile keys.
            let avg_ttl = if expires == 0 {
                0
            } else {
                shards
                    .iter()
                    .map(|s| s.avg_ttl[db] as u128 * s.expires[db] as u128)
                    .sum::<u128>()
                    / expires as u128
            };
            let _ = write!(
                out,
                "db{db}:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n"
            );
        }
    }
    out
}

/// Redis's `getSafeInfoString`: an INFO field name keeps no `:`, CR or LF.
fn safe_info_string(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .map(|c| {
            if matches!(c, ':' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// INFO [section ...]: every shard sends a snapshot; the text is rendered
/// once all are back.
fn info(ctx: &mut Ctx) {
    let mask = parse_sections(ctx.args.iter_from(1));
    ctx.router.begin(
        ctx.conn,
        Merge::Call(Completion {
            run: info_done,
            arg: mask as u64,
        }),
    );
    ctx.router.each_shard_op(0, |_| SrvOp::Info.into());
}

fn info_done(f: &mut Finish) {
    let snaps: Vec<&ShardInfo> = f
        .subs
        .iter()
        .filter_map(|(_, r)| match r {
            Reply::Info(i) => Some(&**i),
            _ => None,
        })
        .collect();
    let text = render(f.arg as u32, &snaps, f.shared);
    encode::verbatim(f.out, text.as_bytes(), f.resp3);
}

/// INFO.
pub(super) static COMMANDS: &[Command] = &[Command::new("info", -1, info)
    .flags(LOADING | STALE)
    .acl(&["slow", "dangerous"])
    .tips(&[
        "nondeterministic_output",
        "request_policy:all_shards",
        "response_policy:special",
    ])
    .doc(
        "server",
        "1.0.0",
        "Get information and statistics about the server",
        "O(1)",
    )];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_like_redis() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1024), "1.00K");
        assert_eq!(human(1536 * 1024), "1.50M");
    }

    #[test]
    fn section_selection() {
        let m = parse_sections([&b"MEMORY"[..], b"keyspace"].into_iter());
        assert_eq!(m, section::MEMORY | section::KEYSPACE);
        assert_eq!(parse_sections(std::iter::empty()), section::DEFAULT);
        assert_eq!(parse_sections([&b"nosuch"[..]].into_iter()), 0);
    }
}
