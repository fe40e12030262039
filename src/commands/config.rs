//! CONFIG GET, SET, RESETSTAT, REWRITE and HELP: the parameters Redis
//! clients and tools read, and the few that change at run time.

use super::spec::{flags::*, Command};
use super::{container, Ctx};
use crate::config;
use crate::exchange::{error_of, Completion, Finish, Merge};
use crate::resp::encode;
use shards::aof::switch::Enabling;
use shards::aof::Fsync;
use shards::ops::server::SrvOp;
use shards::Reply;
use shards::{EvictionPolicy, Limits};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Every parameter CONFIG GET knows, with its current value.
fn config_params(ctx: &Ctx) -> Vec<(&'static str, String)> {
    let s = ctx.shared;
    let c = &s.config;
    let set = s.settings();
    let dir = std::path::absolute(&c.dir).unwrap_or_else(|_| c.dir.clone());
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    let values = s.value_limits();
    vec![
        ("port", s.addr.port().to_string()),
        ("bind", c.bind.clone()),
        ("databases", shards::NUM_DBS.to_string()),
        ("maxmemory", s.maxmemory.load(Ordering::Relaxed).to_string()),
        ("maxmemory-policy", s.policy().name().to_string()),
        ("maxmemory-samples", set.maxmemory_samples.to_string()),
        ("lfu-log-factor", set.lfu.log_factor.to_string()),
        ("lfu-decay-time", set.lfu.decay_time.to_string()),
        (
            "tracking-table-max-keys",
            set.tracking_table_max_keys.to_string(),
        ),
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
        (
            "list-max-listpack-size",
            values.list.max_listpack_size.to_string(),
        ),
        (
            "list-max-ziplist-size",
            values.list.max_listpack_size.to_string(),
        ),
        (
            "zset-max-listpack-entries",
            values.zset.max_listpack_entries.to_string(),
        ),
        (
            "zset-max-ziplist-entries",
            values.zset.max_listpack_entries.to_string(),
        ),
        (
            "zset-max-listpack-value",
            values.zset.max_listpack_value.to_string(),
        ),
        (
            "zset-max-ziplist-value",
            values.zset.max_listpack_value.to_string(),
        ),
        (
            "hll-sparse-max-bytes",
            values.hll_sparse_max_bytes.to_string(),
        ),
        ("save", set.save.clone()),
        ("appendonly", yes_no(s.aof_on())),
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
        ("timeout", set.timeout.to_string()),
        ("tcp-keepalive", set.tcp_keepalive.to_string()),
        ("tcp-backlog", config::BACKLOG.to_string()),
        ("hz", set.hz.to_string()),
        ("proto-max-bulk-len", set.proto_max_bulk_len.to_string()),
        (
            "client-query-buffer-limit",
            set.client_query_buffer_limit.to_string(),
        ),
        ("client-output-buffer-limit", set.output_limits.to_string()),
        ("client-output-pause", c.client_output_pause.to_string()),
        ("io-threads", "1".to_string()),
        (
            "requirepass",
            String::from_utf8_lossy(s.requirepass().as_bytes()).into_owned(),
        ),
        ("masterauth", String::new()),
        ("aclfile", c.aclfile.clone()),
        (
            "protected-mode",
            yes_no(s.protected_mode.load(Ordering::Relaxed)),
        ),
        ("latency-tracking", yes_no(set.latency_tracking)),
        ("worker-spin-us", set.worker_spin_us.to_string()),
        ("loglevel", set.loglevel.name().to_string()),
        ("logfile", String::new()),
        ("daemonize", "no".to_string()),
        ("supervised", "no".to_string()),
        ("pidfile", String::new()),
        ("unixsocket", String::new()),
        ("cluster-enabled", "no".to_string()),
        ("replica-read-only", "yes".to_string()),
        ("slave-read-only", "yes".to_string()),
        ("min-replicas-to-write", "0".to_string()),
        (
            "notify-keyspace-events",
            shards::notify::format_flags(set.notify_keyspace_events),
        ),
        (
            "slowlog-log-slower-than",
            set.slowlog_log_slower_than.to_string(),
        ),
        ("slowlog-max-len", set.slowlog_max_len.to_string()),
        ("latency-monitor-threshold", "0".to_string()),
        ("lua-time-limit", busy_threshold(s)),
        ("busy-reply-threshold", busy_threshold(s)),
        ("dbfilename", set.dbfilename.clone()),
        (
            "enable-protected-configs",
            yes_no(c.enable_protected_configs == config::YesNo::Yes),
        ),
        ("rdbcompression", "yes".to_string()),
        ("stop-writes-on-bgsave-error", "yes".to_string()),
        ("activerehashing", "yes".to_string()),
        ("lazyfree-lazy-eviction", "no".to_string()),
        ("lazyfree-lazy-user-flush", "no".to_string()),
        ("workers", s.workers.to_string()),
        ("shards", s.shards.to_string()),
    ]
}

/// busy-reply-threshold (alias lua-time-limit), in ms.
fn busy_threshold(s: &crate::shared::Shared) -> String {
    s.scripting
        .busy_threshold_ms
        .load(Ordering::Relaxed)
        .to_string()
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

/// The parameters CONFIG SET changes. As in Redis 7.0, an alias (the
/// `ziplist` names) is a parameter of its own for duplicate checks and
/// error messages, and sets the same value.
const SETTABLE: [&str; 40] = [
    "hll-sparse-max-bytes",
    "hash-max-listpack-entries",
    "hash-max-ziplist-entries",
    "hash-max-listpack-value",
    "hash-max-ziplist-value",
    "set-max-intset-entries",
    "list-max-listpack-size",
    "list-max-ziplist-size",
    "zset-max-listpack-entries",
    "zset-max-ziplist-entries",
    "zset-max-listpack-value",
    "zset-max-ziplist-value",
    "maxmemory",
    "maxmemory-policy",
    "max-keys",
    "appendfsync",
    "requirepass",
    "protected-mode",
    "timeout",
    "maxclients",
    "tcp-keepalive",
    "hz",
    "loglevel",
    "maxmemory-samples",
    "lfu-log-factor",
    "lfu-decay-time",
    "tracking-table-max-keys",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "client-output-buffer-limit",
    "latency-tracking",
    "worker-spin-us",
    "appendonly",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "save",
    "dbfilename",
    "busy-reply-threshold",
    "lua-time-limit",
    "notify-keyspace-events",
];

/// Redis's numeric config check: an integer (`string2ll`) within bounds.
fn int_in(value: &[u8], min: i64, max: i64) -> Result<i64, String> {
    let v = super::parse_int(value).ok_or("argument couldn't be parsed into an integer")?;
    if v < min || v > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(v)
}

/// Redis's memory config check: a memory value (`memtoull`) within bounds.
fn memory_in(value: &[u8], min: u64, max: u64) -> Result<u64, String> {
    let text = std::str::from_utf8(value).map_err(|_| "argument must be a memory value")?;
    if text.starts_with('-') {
        return Err("argument must be a memory value".into());
    }
    let v = config::parse_memory(text).map_err(|_| "argument must be a memory value")?;
    if v < min || v > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(v)
}

/// Redis's boolean config check.
fn yes_no(value: &[u8]) -> Result<bool, String> {
    if value.eq_ignore_ascii_case(b"yes") {
        Ok(true)
    } else if value.eq_ignore_ascii_case(b"no") {
        Ok(false)
    } else {
        Err("argument must be 'yes' or 'no'".into())
    }
}

/// CONFIG SET parameter value [parameter value ...], as Redis 7.0's
/// `configSetCommand`: every name is checked first (unknown, immutable,
/// given twice: the first problem is the error), then every value is
/// parsed; only when all are valid does anything change (all or nothing).
fn config_set(ctx: &mut Ctx) {
    if ctx.args.len() % 2 != 0 {
        ctx.syntax_error();
        return;
    }
    let s = ctx.shared;
    let known = config_params(ctx);
    let failed = |name: &str, why: &str| {
        format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
    };
    // Names first.
    let mut names: Vec<&'static str> = Vec::new();
    let mut problem: Option<String> = None;
    for i in (2..ctx.args.len()).step_by(2) {
        let given = ctx.args.get(i);
        let given_text = String::from_utf8_lossy(given);
        let settable = SETTABLE
            .iter()
            .find(|n| n.as_bytes().eq_ignore_ascii_case(given));
        if settable == Some(&"requirepass") {
            // A password never shows in MONITOR or the slow log, even
            // when the command fails.
            ctx.router.redact(i + 1);
        }
        if problem.is_some() {
            continue;
        }
        match settable {
            None if known
                .iter()
                .any(|(n, _)| n.as_bytes().eq_ignore_ascii_case(given)) =>
            {
                problem = Some(failed(&given_text, "can't set immutable config"));
            }
            None => {
                problem = Some(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{given_text}'"
                ));
            }
            Some(n) if names.contains(n) => {
                problem = Some(failed(&given_text, "duplicate parameter"));
            }
            // Redis's protected configs: settable only when the server
            // was started with enable-protected-configs.
            Some(&"dbfilename") if s.config.enable_protected_configs != config::YesNo::Yes => {
                problem = Some(failed(&given_text, "can't set protected config"));
            }
            Some(n) => names.push(n),
        }
    }
    if let Some(msg) = problem {
        return ctx.error(&msg);
    }
    // Then values, into copies of what is in force.
    let mut maxmemory = s.maxmemory.load(Ordering::Relaxed);
    let mut policy = s.policy();
    let mut max_keys = s.max_keys.load(Ordering::Relaxed);
    let mut fsync = s.appendfsync();
    let mut values = s.value_limits();
    let mut requirepass = None;
    let mut protected = None;
    let mut maxclients = None;
    let mut appendonly = None;
    let mut busy = None;
    let old = s.settings();
    let mut set = old.clone();
    for (k, name) in names.iter().enumerate() {
        let raw = ctx.args.get(3 + 2 * k);
        let value = String::from_utf8_lossy(raw);
        let parsed: Result<(), String> = match *name {
            "maxmemory" => config::parse_memory(&value)
                .map(|v| maxmemory = v)
                .map_err(|_| "argument must be a memory value".into()),
            "max-keys" => value
                .parse::<u64>()
                .map(|v| max_keys = v)
                .map_err(|_| "argument couldn't be parsed into an integer".into()),
            "appendfsync" => Fsync::parse(&value).map(|f| fsync = f).ok_or_else(|| {
                "argument(s) must be one of the following: always, everysec, no".into()
            }),
            "hash-max-listpack-entries" | "hash-max-ziplist-entries" => {
                int_in(raw, 0, i64::MAX).map(|n| values.hash.max_listpack_entries = n as usize)
            }
            "hash-max-listpack-value" | "hash-max-ziplist-value" => {
                int_in(raw, 0, i64::MAX).map(|n| values.hash.max_listpack_value = n as usize)
            }
            "set-max-intset-entries" => {
                int_in(raw, 0, i64::MAX).map(|n| values.set.max_intset_entries = n as usize)
            }
            "list-max-listpack-size" | "list-max-ziplist-size" => {
                int_in(raw, i32::MIN as i64, i32::MAX as i64)
                    .map(|n| values.list.max_listpack_size = n)
            }
            "zset-max-listpack-entries" | "zset-max-ziplist-entries" => {
                int_in(raw, 0, i64::MAX).map(|n| values.zset.max_listpack_entries = n as usize)
            }
            "zset-max-listpack-value" | "zset-max-ziplist-value" => {
                int_in(raw, 0, i64::MAX).map(|n| values.zset.max_listpack_value = n as usize)
            }
            "hll-sparse-max-bytes" => {
                memory_in(raw, 0, i64::MAX as u64).map(|n| values.hll_sparse_max_bytes = n as usize)
            }
            "requirepass" => {
                requirepass = Some(config::Password::new(raw));
                Ok(())
            }
            "protected-mode" => yes_no(raw).map(|b| protected = Some(b)),
            "maxmemory-policy" => EvictionPolicy::parse(&value)
                .map(|p| policy = p)
                .ok_or_else(|| {
                    let names: Vec<_> = EvictionPolicy::ALL.iter().map(|p| p.name()).collect();
                    format!(
                        "argument(s) must be one of the following: {}",
                        names.join(", ")
                    )
                }),
            "timeout" => int_in(raw, 0, i32::MAX as i64).map(|v| set.timeout = v as u64),
            "maxclients" => int_in(raw, 1, u32::MAX as i64).map(|v| maxclients = Some(v as u64)),
            "tcp-keepalive" => {
                int_in(raw, 0, i32::MAX as i64).map(|v| set.tcp_keepalive = v as u64)
            }
            // Redis clamps hz rather than refusing it.
            "hz" => int_in(raw, 0, i32::MAX as i64).map(|v| set.hz = v.clamp(1, 500) as u32),
            "loglevel" => config::LogLevel::parse(&value)
                .map(|l| set.loglevel = l)
                .ok_or_else(|| {
                    "argument(s) must be one of the following: debug, verbose, notice, warning"
                        .into()
                }),
            "tracking-table-max-keys" => {
                int_in(raw, 0, i64::MAX).map(|v| set.tracking_table_max_keys = v as u64)
            }
            "maxmemory-samples" => {
                int_in(raw, 1, i32::MAX as i64).map(|v| set.maxmemory_samples = v as u64)
            }
            "lfu-log-factor" => {
                int_in(raw, 0, i32::MAX as i64).map(|v| set.lfu.log_factor = v as u32)
            }
            "lfu-decay-time" => {
                int_in(raw, 0, i32::MAX as i64).map(|v| set.lfu.decay_time = v as u32)
            }
            "proto-max-bulk-len" => {
                memory_in(raw, 1 << 20, i64::MAX as u64).map(|v| set.proto_max_bulk_len = v)
            }
            "client-query-buffer-limit" => {
                memory_in(raw, 1 << 20, i64::MAX as u64).map(|v| set.client_query_buffer_limit = v)
            }
            "client-output-buffer-limit" => set
                .output_limits
                .with(&value)
                .map(|l| set.output_limits = l),
            "latency-tracking" => yes_no(raw).map(|b| set.latency_tracking = b),
            "worker-spin-us" => int_in(raw, 0, config::MAX_WORKER_SPIN_US as i64)
                .map(|v| set.worker_spin_us = v as u64),
            "appendonly" => yes_no(raw).map(|b| appendonly = Some(b)),
            "slowlog-log-slower-than" => {
                int_in(raw, -1, i64::MAX).map(|v| set.slowlog_log_slower_than = v)
            }
            "slowlog-max-len" => int_in(raw, 0, i64::MAX).map(|v| set.slowlog_max_len = v as u64),
            "save" => config::parse_save(&value).map(|v| set.save = v),
            "dbfilename" => config::parse_dbfilename(&value).map(|v| set.dbfilename = v),
            "notify-keyspace-events" => {
                config::parse_notify(&value).map(|v| set.notify_keyspace_events = v)
            }
            "busy-reply-threshold" | "lua-time-limit" => {
                int_in(raw, 0, i64::MAX).map(|v| busy = Some(v as u64))
            }
            _ => Ok(()),
        };
        if let Err(why) = parsed {
            return ctx.error(&failed(name, &why));
        }
    }
    // What can still fail is checked before anything changes.
    if let Some(n) = maxclients {
        let fit = config::raise_open_files(n);
        if fit < n {
            let why = format!(
                "The operating system is not able to handle the specified number of clients, try with {fit}"
            );
            return ctx.error(&failed("maxclients", &why));
        }
    }
    let switch = match appendonly.map(|on| persistence_switch_check(ctx, on)) {
        None => AofSwitch::Keep,
        Some(Ok(switch)) => switch,
        Some(Err(why)) => return ctx.error(&failed("appendonly", &why)),
    };
    // Everything is valid: apply.
    if let Some(ms) = busy {
        s.scripting.busy_threshold_ms.store(ms, Ordering::Relaxed);
    }
    if let Some(n) = maxclients {
        s.maxclients.store(n, Ordering::Relaxed);
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
    s.tcp_keepalive.store(set.tcp_keepalive, Ordering::Relaxed);
    if set.hz != old.hz {
        shards::shard::set_hz(set.hz);
    }
    if set.loglevel != old.loglevel {
        if let Some(reload) = s.log_reload.get() {
            (reload.0)(set.loglevel);
        }
    }
    let samples = set.maxmemory_samples.min(u32::MAX as u64) as u32;
    let lfu = set.lfu;
    let tracking_max = set.tracking_table_max_keys;
    if set.notify_keyspace_events != old.notify_keyspace_events {
        s.set_notify_flags(set.notify_keyspace_events);
    }
    if set != old {
        s.set_settings(set);
    }
    let n = ctx.router.shards();
    ctx.router.begin(
        ctx.conn,
        Merge::Call(Completion {
            run: config_set_done,
            arg: 0,
        }),
    );
    for shard in 0..n {
        let limits = Limits {
            maxmemory: config::split_even(maxmemory, n, shard) as usize,
            max_keys: config::split_even(max_keys, n, shard) as usize,
            policy,
            values,
            tracking_max_keys: config::split_even(tracking_max, n, shard) as usize,
            lfu,
        };
        ctx.router
            .shard_op(shard, 0, |_| SrvOp::SetLimits(limits).into());
        ctx.router
            .shard_op(shard, 0, |_| SrvOp::SetFsync(fsync).into());
        ctx.router
            .shard_op(shard, 0, |_| SrvOp::SetSamples(samples).into());
    }
    persistence_switch(ctx, switch);
}

/// What CONFIG SET appendonly changes.
enum AofSwitch {
    /// Nothing: it is so already.
    Keep,
    /// Turn it on: this generation.
    On(Arc<Enabling>),
    /// Turn it off.
    Off,
}

/// Prepares `appendonly` `on` (the new generation's name is chosen now, so
/// a directory that cannot be read fails the whole CONFIG SET).
fn persistence_switch_check(ctx: &Ctx, on: bool) -> Result<AofSwitch, String> {
    if on == ctx.shared.aof_on() {
        return Ok(AofSwitch::Keep);
    }
    if !on {
        return Ok(AofSwitch::Off);
    }
    let s = ctx.shared;
    let mut cfg = s.config.aof_settings();
    cfg.fsync = s.appendfsync();
    let fingerprint = shards::route::Router::new(s.shards).fingerprint();
    Enabling::new(cfg, s.shards, fingerprint, s.aof_health.clone())
        .map(|e| AofSwitch::On(Arc::new(e)))
}

/// Sends every shard its part of turning the AOF on or off.
fn persistence_switch(ctx: &mut Ctx, switch: AofSwitch) {
    match switch {
        AofSwitch::Keep => {}
        AofSwitch::Off => {
            ctx.shared.set_aof_on(false);
            ctx.router.each_shard_op(0, |_| SrvOp::AofOff.into());
        }
        AofSwitch::On(enabling) => {
            ctx.shared.set_aof_on(true);
            for shard in 0..ctx.router.shards() {
                let enabling = enabling.clone();
                ctx.router.shard_op(shard, 0, move |_| {
                    SrvOp::AofOn {
                        enabling,
                        shard: shard as u32,
                    }
                    .into()
                });
            }
        }
    }
}

/// CONFIG SET's reply once every shard applied it: only turning the AOF on
/// can fail there (its segment cannot be created).
fn config_set_done(f: &mut Finish) {
    match f.subs.iter().find_map(|(_, r)| match r {
        Reply::Err(shards::Error::Misconf(why)) => Some(why.clone()),
        _ => None,
    }) {
        Some(why) => encode::error(
            f.out,
            &format!("ERR CONFIG SET failed (possibly related to argument 'appendonly') - {why}"),
        ),
        None => encode::ok(f.out),
    }
}

/// CONFIG RESETSTAT: the counters are cleared when its reply is encoded,
/// so the commands before it in its round are cleared too, and it counts
/// itself after, as in Redis.
fn config_resetstat(ctx: &mut Ctx) {
    ctx.shared.total_connections.store(0, Ordering::Relaxed);
    ctx.router.begin(
        ctx.conn,
        Merge::Call(Completion {
            run: resetstat_done,
            arg: 0,
        }),
    );
    ctx.router.each_shard_op(0, |_| SrvOp::ResetStats.into());
}

fn resetstat_done(f: &mut Finish) {
    f.shared.reset_worker_stats();
    match f.subs.iter().find_map(|(_, r)| error_of(r)) {
        Some(e) => encode::error(f.out, &e),
        None => encode::ok(f.out),
    }
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

/// The parameters CONFIG REWRITE writes back: always, or (with a default)
/// only when they are in the file already or differ from their default,
/// as Redis leaves defaults out.
const REWRITTEN: [(&str, Option<&str>); 34] = [
    ("maxmemory", None),
    ("maxmemory-policy", None),
    ("max-keys", None),
    ("appendfsync", None),
    ("requirepass", None),
    ("protected-mode", None),
    ("timeout", Some("0")),
    ("maxclients", Some("10000")),
    ("tcp-keepalive", Some("300")),
    ("hz", Some("10")),
    ("loglevel", Some("notice")),
    ("maxmemory-samples", Some("5")),
    ("lfu-log-factor", Some("10")),
    ("lfu-decay-time", Some("1")),
    ("tracking-table-max-keys", Some("1000000")),
    ("proto-max-bulk-len", Some("536870912")),
    ("client-query-buffer-limit", Some("1073741824")),
    (
        "client-output-buffer-limit",
        Some("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
    ),
    ("latency-tracking", Some("yes")),
    ("worker-spin-us", Some("20")),
    ("appendonly", Some("yes")),
    ("slowlog-log-slower-than", Some("10000")),
    ("slowlog-max-len", Some("128")),
    ("busy-reply-threshold", Some("5000")),
    ("save", Some("")),
    ("dbfilename", Some("dump.rdb")),
    ("hash-max-listpack-entries", Some("512")),
    ("hash-max-listpack-value", Some("64")),
    ("set-max-intset-entries", Some("512")),
    ("list-max-listpack-size", Some("-2")),
    ("zset-max-listpack-entries", Some("128")),
    ("zset-max-listpack-value", Some("64")),
    ("hll-sparse-max-bytes", Some("3000")),
    ("notify-keyspace-events", Some("")),
];

/// Parameters' other names, as the config file may spell them.
const ALIASES: [(&str, &str); 6] = [
    ("lua-time-limit", "busy-reply-threshold"),
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
];

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
    let text = std::fs::read_to_string(path)?;
    let mut done = [false; REWRITTEN.len()];
    let mut out = String::with_capacity(text.len() + 128);
    for line in text.lines() {
        let key = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        // A line under an alias is the parameter's line: Redis rewrites it
        // in place under the parameter's own name.
        let key = ALIASES
            .iter()
            .find(|(alias, _)| *alias == key)
            .map_or(key.as_str(), |(_, name)| name);
        match REWRITTEN.iter().position(|(n, _)| *n == key) {
            Some(i) if !line.trim_start().starts_with('#') => {
                if !done[i] {
                    done[i] = true;
                    let name = REWRITTEN[i].0;
                    out.push_str(&format!("{name} {}\n", quote(value_of(name))));
                }
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (i, (name, default)) in REWRITTEN.iter().enumerate() {
        let value = value_of(name);
        let unset_password = *name == "requirepass" && value.is_empty();
        let is_default = default.is_some_and(|d| d == value);
        if !done[i] && !unset_password && !is_default {
            out.push_str(&format!("{name} {}\n", quote(value)));
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
