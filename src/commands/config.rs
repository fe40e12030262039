//! CONFIG GET, SET, RESETSTAT, REWRITE and HELP: the parameters Redis
//! clients and tools read, and the few that change at run time.

use super::spec::{flags::*, Command};
use super::{container, Ctx};
use crate::config;
use crate::exchange::Merge;
use crate::resp::encode;
use shards::aof::Fsync;
use shards::ops::server::SrvOp;
use shards::{EvictionPolicy, Limits};
use std::sync::atomic::Ordering;

/// Every parameter CONFIG GET knows, with its current value.
fn config_params(ctx: &Ctx) -> Vec<(&'static str, String)> {
    let s = ctx.shared;
    let c = &s.config;
    let dir = std::path::absolute(&c.dir).unwrap_or_else(|_| c.dir.clone());
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    let values = s.value_limits();
    vec![
        ("port", s.addr.port().to_string()),
        ("bind", c.bind.clone()),
        ("databases", shards::NUM_DBS.to_string()),
        ("maxmemory", s.maxmemory.load(Ordering::Relaxed).to_string()),
        ("maxmemory-policy", s.policy().name().to_string()),
        ("maxmemory-samples", "5".to_string()),
        ("maxmemory-eviction-tenacity", "10".to_string()),
        ("maxmemory-clients", "0".to_string()),
        ("max-keys", s.max_keys.load(Ordering::Relaxed).to_string()),
        (
            "hash-max-listpack-entries",
            values.hash.max_listpack_entries.to_string(),
        ),
        (
            "hash-max-ziplist-entries",
            values.hash.max_listpack_entries.to_string(),
        ),
        (
            "hash-max-listpack-value",
            values.hash.max_listpack_value.to_string(),
        ),
        (
            "hash-max-ziplist-value",
            values.hash.max_listpack_value.to_string(),
        ),
        (
            "set-max-intset-entries",
            values.set.max_intset_entries.to_string(),
        ),
        ("save", String::new()),
        ("appendonly", yes_no(c.appendonly == config::YesNo::Yes)),
        ("appendfsync", s.appendfsync().name().to_string()),
        (
            "auto-aof-rewrite-percentage",
            c.auto_aof_rewrite_percentage.to_string(),
        ),
        (
            "auto-aof-rewrite-min-size",
            c.auto_aof_rewrite_min_size.to_string(),
        ),
        (
            "aof-load-truncated",
            yes_no(c.aof_load_truncated == config::YesNo::Yes),
        ),
        ("appendfilename", "appendonly.aof".to_string()),
        ("dir", dir.display().to_string()),
        (
            "maxclients",
            s.maxclients.load(Ordering::Relaxed).to_string(),
        ),
        ("timeout", c.timeout.to_string()),
        ("tcp-keepalive", c.tcp_keepalive.to_string()),
        ("tcp-backlog", config::BACKLOG.to_string()),
        ("hz", "10".to_string()),
        ("proto-max-bulk-len", c.proto_max_bulk_len.to_string()),
        (
            "client-query-buffer-limit",
            c.client_query_buffer_limit.to_string(),
        ),
        ("client-output-buffer-limit", {
            let l = c.client_output_buffer_limit;
            format!(
                "normal {} {} {} slave 268435456 67108864 60 pubsub 33554432 8388608 60",
                l.hard, l.soft, l.soft_secs
            )
        }),
        ("client-output-pause", c.client_output_pause.to_string()),
        ("io-threads", "1".to_string()),
        (
            "requirepass",
            String::from_utf8_lossy(s.requirepass().as_bytes()).into_owned(),
        ),
        ("masterauth", String::new()),
        (
            "protected-mode",
            yes_no(s.protected_mode.load(Ordering::Relaxed)),
        ),
        (
            "latency-tracking",
            yes_no(c.latency_tracking == config::YesNo::Yes),
        ),
        ("loglevel", "notice".to_string()),
        ("logfile", String::new()),
        ("daemonize", "no".to_string()),
        ("supervised", "no".to_string()),
        ("pidfile", String::new()),
        ("unixsocket", String::new()),
        ("cluster-enabled", "no".to_string()),
        ("replica-read-only", "yes".to_string()),
        ("slave-read-only", "yes".to_string()),
        ("min-replicas-to-write", "0".to_string()),
        ("notify-keyspace-events", String::new()),
        ("slowlog-log-slower-than", "10000".to_string()),
        ("slowlog-max-len", "128".to_string()),
        ("latency-monitor-threshold", "0".to_string()),
        ("lua-time-limit", "5000".to_string()),
        ("busy-reply-threshold", "5000".to_string()),
        ("dbfilename", "dump.rdb".to_string()),
        ("rdbcompression", "yes".to_string()),
        ("stop-writes-on-bgsave-error", "yes".to_string()),
        ("activerehashing", "yes".to_string()),
        ("lazyfree-lazy-eviction", "no".to_string()),
        ("lazyfree-lazy-user-flush", "no".to_string()),
        ("workers", s.workers.to_string()),
        ("shards", s.shards.to_string()),
    ]
}

/// CONFIG GET pattern [pattern ...]
fn config_get(ctx: &mut Ctx) {
    let params = config_params(ctx);
    // (name as replied, value); an exact name is echoed as the
    // client wrote it, a pattern's matches by their own names.
    let mut matched: Vec<(&[u8], &str)> = Vec::new();
    for pattern in ctx.args.iter_from(2) {
        let is_glob = pattern.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
        for p in &params {
            let hit = if is_glob {
                shards::glob::matches(pattern, p.0.as_bytes(), true)
            } else {
                pattern.eq_ignore_ascii_case(p.0.as_bytes())
            };
            if hit
                && !matched
                    .iter()
                    .any(|m| m.0.eq_ignore_ascii_case(p.0.as_bytes()))
            {
                matched.push((if is_glob { p.0.as_bytes() } else { pattern }, p.1.as_str()));
            }
        }
    }
    let resp3 = ctx.resp3();
    ctx.router.reply(ctx.conn, |out| {
        encode::map(out, matched.len(), resp3);
        for (name, value) in matched {
            encode::bulk(out, name);
            encode::bulk(out, value.as_bytes());
        }
    });
}

/// CONFIG SET for the parameters that can change at run time: maxmemory,
/// maxmemory-policy, max-keys, appendfsync and requirepass. All pairs are
/// validated before any applies.
fn config_set(ctx: &mut Ctx) {
    if ctx.args.len() % 2 != 0 {
        ctx.syntax_error();
        return;
    }
    let s = ctx.shared;
    let mut maxmemory = s.maxmemory.load(Ordering::Relaxed);
    let mut policy = s.policy();
    let mut max_keys = s.max_keys.load(Ordering::Relaxed);
    let mut fsync = s.appendfsync();
    let mut values = s.value_limits();
    let mut requirepass = None;
    let mut protected = None;
    let mut seen: Vec<String> = Vec::new();
    let mut i = 2;
    while i < ctx.args.len() {
        let given = String::from_utf8_lossy(ctx.args.get(i)).to_string();
        let name = given.to_ascii_lowercase();
        let value = String::from_utf8_lossy(ctx.args.get(i + 1)).to_string();
        let failed = |why: &str| {
            format!("ERR CONFIG SET failed (possibly related to argument '{given}') - {why}")
        };
        // An alias names the same parameter (Redis 7's ziplist names).
        let canonical = name.replace("-ziplist-", "-listpack-");
        if seen.contains(&canonical) {
            return ctx.error(&failed("duplicate parameter"));
        }
        seen.push(canonical.clone());
        let size = |v: &str| -> Result<usize, String> {
            match v.parse::<i64>() {
                Err(_) => Err(failed("argument couldn't be parsed into an integer")),
                Ok(n) if n < 0 => Err(failed(
                    "argument must be between 0 and 9223372036854775807 inclusive",
                )),
                Ok(n) => Ok(n as usize),
            }
        };
        match name.as_str() {
            "maxmemory" => match config::parse_memory(&value) {
                Ok(v) => maxmemory = v,
                Err(_) => return ctx.error(&failed("argument must be a memory value")),
            },
            "max-keys" => match value.parse::<u64>() {
                Ok(v) => max_keys = v,
                Err(_) => return ctx.error(&failed("argument couldn't be parsed into an integer")),
            },
            "appendfsync" => match Fsync::parse(&value) {
                Some(f) => fsync = f,
                None => {
                    return ctx.error(&failed(
                        "argument(s) must be one of the following: always, everysec, no",
                    ))
                }
            },
            "hash-max-listpack-entries" | "hash-max-ziplist-entries" => match size(&value) {
                Ok(n) => values.hash.max_listpack_entries = n,
                Err(e) => return ctx.error(&e),
            },
            "hash-max-listpack-value" | "hash-max-ziplist-value" => match size(&value) {
                Ok(n) => values.hash.max_listpack_value = n,
                Err(e) => return ctx.error(&e),
            },
            "set-max-intset-entries" => match size(&value) {
                Ok(n) => values.set.max_intset_entries = n,
                Err(e) => return ctx.error(&e),
            },
            "requirepass" => requirepass = Some(crate::config::Password::new(ctx.args.get(i + 1))),
            "protected-mode" => match value.to_ascii_lowercase().as_str() {
                "yes" => protected = Some(true),
                "no" => protected = Some(false),
                _ => return ctx.error(&failed("argument must be 'yes' or 'no'")),
            },
            "maxmemory-policy" => match EvictionPolicy::parse(&value) {
                Some(p) => policy = p,
                None => {
                    // Redis's list in Redis's order, less the LFU policies,
                    // which shardcache does not implement.
                    let why = "argument(s) must be one of the following: volatile-lru, volatile-random, volatile-ttl, allkeys-lru, allkeys-random, noeviction";
                    return ctx.error(&failed(why));
                }
            },
            _ if config_params(ctx).iter().any(|(n, _)| *n == name) => {
                return ctx.error(&failed("can't set immutable config"));
            }
            _ => {
                let msg =
                    format!("ERR Unknown option or number of arguments for CONFIG SET - '{given}'");
                return ctx.error(&msg);
            }
        }
        i += 2;
    }
    s.maxmemory.store(maxmemory, Ordering::Relaxed);
    s.max_keys.store(max_keys, Ordering::Relaxed);
    s.set_policy(policy);
    s.appendfsync.store(fsync.to_code(), Ordering::Relaxed);
    s.set_value_limits(values);
    if let Some(p) = requirepass {
        s.set_requirepass(p);
    }
    if let Some(on) = protected {
        s.protected_mode.store(on, Ordering::Relaxed);
    }
    let n = ctx.router.shards();
    ctx.router.begin(ctx.conn, Merge::AllOk);
    for shard in 0..n {
        let limits = Limits {
            maxmemory: config::split_even(maxmemory, n, shard) as usize,
            max_keys: config::split_even(max_keys, n, shard) as usize,
            policy,
            values,
        };
        ctx.router
            .shard_op(shard, 0, |_| SrvOp::SetLimits(limits).into());
        ctx.router
            .shard_op(shard, 0, |_| SrvOp::SetFsync(fsync).into());
    }
}

/// CONFIG RESETSTAT
fn config_resetstat(ctx: &mut Ctx) {
    for w in &ctx.shared.worker_stats {
        w.commands.store(0, Ordering::Relaxed);
        w.net_in.store(0, Ordering::Relaxed);
        w.net_out.store(0, Ordering::Relaxed);
        w.errors.store(0, Ordering::Relaxed);
        let mut lat = w.latency.lock().unwrap_or_else(|p| p.into_inner());
        lat.iter_mut().for_each(|h| h.reset());
    }
    ctx.shared.total_connections.store(0, Ordering::Relaxed);
    ctx.router.begin(ctx.conn, Merge::AllOk);
    ctx.router.each_shard_op(0, |_| SrvOp::ResetStats.into());
}

/// CONFIG REWRITE
fn config_rewrite(ctx: &mut Ctx) {
    match ctx.shared.config.config.clone() {
        None => ctx.error("ERR The server is running without a config file"),
        Some(path) => match rewrite_config(ctx, &path) {
            Ok(()) => ctx.reply(encode::ok),
            Err(e) => ctx.error(&format!("ERR Rewriting config file: {e}")),
        },
    }
}

/// CONFIG REWRITE: the parameters CONFIG SET can change are written back to
/// the `--config` file with their current values; every other line, comments
/// included, stays as it was (Redis rewrites in place the same way). A line
/// per parameter replaces its first occurrence, later ones are dropped, and
/// parameters the file did not have are appended. Written to a temporary
/// file, synced and renamed over the original.
fn rewrite_config(ctx: &Ctx, path: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    let current = config_params(ctx);
    let value_of = |name: &str| {
        current
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    // The config reader takes the rest of the line and strips one pair of
    // outer quotes: quote what would otherwise be lost (empty, spaces).
    let quote = |v: String| {
        if v.is_empty() || v.starts_with(char::is_whitespace) || v.ends_with(char::is_whitespace) {
            format!("\"{v}\"")
        } else {
            v
        }
    };
    let names = [
        "maxmemory",
        "maxmemory-policy",
        "max-keys",
        "appendfsync",
        "requirepass",
        "protected-mode",
    ];
    let text = std::fs::read_to_string(path)?;
    let mut done = [false; 6];
    let mut out = String::with_capacity(text.len() + 128);
    for line in text.lines() {
        let key = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match names.iter().position(|n| *n == key) {
            Some(i) if !line.trim_start().starts_with('#') => {
                if !done[i] {
                    done[i] = true;
                    out.push_str(&format!("{} {}\n", names[i], quote(value_of(names[i]))));
                }
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (i, name) in names.iter().enumerate() {
        let unset_password = *name == "requirepass" && value_of(name).is_empty();
        if !done[i] && !unset_password {
            out.push_str(&format!("{name} {}\n", quote(value_of(name))));
        }
    }
    let tmp = path.with_extension("rewrite-tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(out.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn config_help(ctx: &mut Ctx) {
    let lines = [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.reply_lines(&lines);
}

/// CONFIG.
pub(super) static COMMANDS: &[Command] = &[Command::new("config", -2, container)
    .acl(&["slow"])
    .subs(CONFIG_SUBS)
    .doc(
        "server",
        "2.0.0",
        "A container for server configuration commands",
        "Depends on subcommand.",
    )];

static CONFIG_SUBS: &[Command] = &[
    Command::new("config|get", -3, config_get)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE)
        .acl(&["admin", "slow", "dangerous"])
        .doc(
            "server",
            "2.0.0",
            "Get the values of configuration parameters",
            "O(N) when N is the number of configuration parameters provided",
        ),
    Command::new("config|help", 2, config_help)
        .flags(LOADING | STALE)
        .acl(&["slow"])
        .doc(
            "server",
            "5.0.0",
            "Show helpful text about the different subcommands",
            "O(1)",
        ),
    Command::new("config|resetstat", 2, config_resetstat)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE)
        .acl(&["admin", "slow", "dangerous"])
        .doc(
            "server",
            "2.0.0",
            "Reset the stats returned by INFO",
            "O(1)",
        ),
    Command::new("config|rewrite", 2, config_rewrite)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE)
        .acl(&["admin", "slow", "dangerous"])
        .doc(
            "server",
            "2.8.0",
            "Rewrite the configuration file with the in memory configuration",
            "O(1)",
        ),
    Command::new("config|set", -4, config_set)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE)
        .acl(&["admin", "slow", "dangerous"])
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(
            "server",
            "2.0.0",
            "Set configuration parameters to the given values",
            "O(N) when N is the number of configuration parameters provided",
        ),
];
