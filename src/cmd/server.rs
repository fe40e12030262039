//! Connection and server commands answered by the worker: PING, ECHO, QUIT,
//! INFO, CONFIG, COMMAND, LATENCY, TIME, LASTSAVE, FUNCTION.

use super::{unknown_subcommand, Ctx};
use crate::command::{flags, is_container, lookup, lookup_sub, CommandSpec, COMMANDS};
use crate::config;
use crate::info;
use crate::resp::encode;
use crate::router::Merge;
use shards::aof::Fsync;
use shards::ops::server::SrvOp;
use shards::{EvictionPolicy, Limits};
use std::sync::atomic::Ordering;

pub fn ping(ctx: &mut Ctx) {
    match ctx.args.len() {
        1 => ctx.reply(|out| encode::simple(out, "PONG")),
        2 => {
            let msg = ctx.args.get(1);
            ctx.router.reply(ctx.conn, |out| encode::bulk(out, msg));
        }
        _ => ctx.arity_error("ping"),
    }
}

pub fn echo(ctx: &mut Ctx) {
    let msg = ctx.args.get(1);
    ctx.router.reply(ctx.conn, |out| encode::bulk(out, msg));
}

pub fn quit(ctx: &mut Ctx) {
    ctx.reply(encode::ok);
    ctx.session.close = true;
}

pub fn info(ctx: &mut Ctx) {
    let mask = info::parse_sections(ctx.args.iter_from(1));
    ctx.router.begin(ctx.conn, Merge::Info(mask));
    ctx.router.each_shard_op(0, |_| SrvOp::Info.into());
}

/// Every parameter CONFIG GET knows, with its current value.
fn config_params(ctx: &Ctx) -> Vec<(&'static str, String)> {
    let s = ctx.shared;
    let c = &s.config;
    let dir = std::path::absolute(&c.dir).unwrap_or_else(|_| c.dir.clone());
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
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

pub fn config(ctx: &mut Ctx) {
    ctx.note_subcommand();
    let sub = ctx.args.get(1).to_ascii_lowercase();
    match sub.as_slice() {
        b"get" => {
            if ctx.args.len() < 3 {
                ctx.arity_error("config|get");
                return;
            }
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
                        matched
                            .push((if is_glob { p.0.as_bytes() } else { pattern }, p.1.as_str()));
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
        b"set" => config_set(ctx),
        b"resetstat" => {
            if ctx.args.len() != 2 {
                ctx.arity_error("config|resetstat");
                return;
            }
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
        b"rewrite" if ctx.args.len() != 2 => ctx.arity_error("config|rewrite"),
        b"rewrite" => match ctx.shared.config.config.clone() {
            None => ctx.error("ERR The server is running without a config file"),
            Some(path) => match rewrite_config(ctx, &path) {
                Ok(()) => ctx.reply(encode::ok),
                Err(e) => ctx.error(&format!("ERR Rewriting config file: {e}")),
            },
        },
        b"help" if ctx.args.len() != 2 => ctx.arity_error("config|help"),
        b"help" => {
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
        _ => unknown_subcommand(ctx),
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

/// CONFIG SET for the parameters that can change at run time: maxmemory,
/// maxmemory-policy, max-keys, appendfsync and requirepass. All pairs are
/// validated before any applies.
fn config_set(ctx: &mut Ctx) {
    if ctx.args.len() < 4 {
        ctx.arity_error("config|set");
        return;
    }
    if ctx.args.len() % 2 != 0 {
        ctx.syntax_error();
        return;
    }
    let s = ctx.shared;
    let mut maxmemory = s.maxmemory.load(Ordering::Relaxed);
    let mut policy = s.policy();
    let mut max_keys = s.max_keys.load(Ordering::Relaxed);
    let mut fsync = s.appendfsync();
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
        if seen.contains(&name) {
            return ctx.error(&failed("duplicate parameter"));
        }
        seen.push(name.clone());
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
        };
        ctx.router
            .shard_op(shard, 0, |_| SrvOp::SetLimits(limits).into());
        ctx.router
            .shard_op(shard, 0, |_| SrvOp::SetFsync(fsync).into());
    }
}

pub fn bgrewriteaof(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::Rewrite);
    ctx.router.each_shard_op(0, |_| SrvOp::RewriteAof.into());
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE]: every shard flushes and fsyncs its
/// AOF after what was queued before, then the process exits 0. With the AOF
/// on there is nothing else to save, so NOSAVE and SAVE behave alike (as in
/// Redis, where NOSAVE skips only the RDB).
pub fn shutdown(ctx: &mut Ctx) {
    for a in ctx.args.iter_from(1) {
        let a = a.to_ascii_lowercase();
        match a.as_slice() {
            b"nosave" | b"save" | b"now" | b"force" => {}
            b"abort" => return ctx.error("ERR No shutdown in progress."),
            _ => return ctx.syntax_error(),
        }
    }
    ctx.router.begin(ctx.conn, Merge::Shutdown);
    ctx.router.each_shard_op(0, |_| SrvOp::Shutdown.into());
}

fn write_flags(out: &mut Vec<u8>, spec: &CommandSpec, resp3: bool) {
    let names: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(bit, _)| spec.has(*bit))
        .map(|(_, n)| *n)
        .collect();
    encode::set(out, names.len(), resp3);
    for n in names {
        encode::simple(out, n);
    }
}

/// One entry of `COMMAND` / `COMMAND INFO` in Redis 7's 10-element shape
/// (flags, ACL categories, tips and key specs are sets in RESP3).
fn write_command_info(out: &mut Vec<u8>, spec: &CommandSpec, resp3: bool) {
    encode::array(out, 10);
    encode::bulk(out, spec.name.as_bytes());
    encode::int(out, spec.arity as i64);
    write_flags(out, spec, resp3);
    encode::int(out, spec.first_key as i64);
    encode::int(out, spec.last_key as i64);
    encode::int(out, spec.step as i64);
    encode::set(out, spec.acl.len(), resp3);
    for c in spec.acl {
        encode::simple(out, &format!("@{c}"));
    }
    let tips = crate::command::tips(spec.name);
    encode::set(out, tips.len(), resp3);
    for t in tips {
        encode::bulk(out, t.as_bytes());
    }
    encode::set(out, 0, resp3); // key specs
    encode::set(out, 0, resp3); // subcommands
}

fn write_command_docs(out: &mut Vec<u8>, spec: &CommandSpec, resp3: bool) {
    encode::bulk(out, spec.name.as_bytes());
    encode::map(out, 3, resp3);
    for (k, v) in [
        ("summary", spec.summary),
        ("since", spec.since),
        ("group", spec.group),
    ] {
        encode::bulk(out, k.as_bytes());
        encode::bulk(out, v.as_bytes());
    }
}

pub fn command(ctx: &mut Ctx) {
    ctx.note_subcommand();
    let resp3 = ctx.resp3();
    if ctx.args.len() == 1 {
        ctx.reply(|out| {
            encode::array(out, COMMANDS.len());
            for spec in COMMANDS {
                write_command_info(out, spec, resp3);
            }
        });
        return;
    }
    let sub = ctx.args.get(1).to_ascii_lowercase();
    let args = ctx.args;
    match sub.as_slice() {
        b"count" if args.len() == 2 => ctx.reply(|out| encode::int(out, COMMANDS.len() as i64)),
        b"list" if args.len() > 2 => ctx.syntax_error(),
        b"list" if args.len() == 2 => ctx.reply(|out| {
            encode::array(out, COMMANDS.len());
            for spec in COMMANDS {
                encode::bulk(out, spec.name.as_bytes());
            }
        }),
        b"info" => ctx.reply(|out| {
            if args.len() == 2 {
                encode::array(out, COMMANDS.len());
                for spec in COMMANDS {
                    write_command_info(out, spec, resp3);
                }
                return;
            }
            encode::array(out, args.len() - 2);
            for name in args.iter_from(2) {
                match lookup(name) {
                    Some(spec) => write_command_info(out, spec, resp3),
                    None => encode::null(out, resp3),
                }
            }
        }),
        b"docs" => ctx.reply(|out| {
            let specs: Vec<&CommandSpec> = if args.len() == 2 {
                COMMANDS.iter().collect()
            } else {
                args.iter_from(2).filter_map(lookup).collect()
            };
            encode::map(out, specs.len(), resp3);
            for spec in specs {
                write_command_docs(out, spec, resp3);
            }
        }),
        b"getkeys" if args.len() >= 4 => command_getkeys(ctx),
        b"getkeys" => ctx.arity_error("command|getkeys"),
        b"count" => ctx.arity_error("command|count"),
        _ => unknown_subcommand(ctx),
    }
}

/// LATENCY HISTOGRAM [command ...] in Redis 7's shape: per command, its calls
/// and a cumulative distribution over power-of-two microsecond buckets.
/// The latency monitor (LATEST, HISTORY, DOCTOR) is not kept: its replies
/// are empty, as on a Redis whose `latency-monitor-threshold` is 0.
pub fn latency(ctx: &mut Ctx) {
    ctx.note_subcommand();
    let sub = ctx.args.get(1).to_ascii_lowercase();
    match sub.as_slice() {
        b"histogram" => {
            let all = ctx.shared.latencies();
            let wanted: Vec<usize> = if ctx.args.len() == 2 {
                (0..COMMANDS.len())
                    .filter(|&i| !all[i].is_empty())
                    .collect()
            } else {
                let mut ids: Vec<usize> = ctx
                    .args
                    .iter_from(2)
                    .filter_map(crate::command::lookup_id)
                    .filter(|&i| !all[i].is_empty())
                    .collect();
                ids.dedup();
                ids
            };
            let resp3 = ctx.resp3();
            ctx.reply(|out| {
                encode::map(out, wanted.len(), resp3);
                for i in wanted {
                    let h = &all[i];
                    encode::bulk(out, COMMANDS[i].name.as_bytes());
                    encode::map(out, 2, resp3);
                    encode::bulk(out, b"calls");
                    encode::int(out, h.len() as i64);
                    encode::bulk(out, b"histogram_usec");
                    let mut buckets = Vec::new();
                    let mut cumulative = 0u64;
                    for v in h.iter_log(1, 2.0) {
                        let before = cumulative;
                        cumulative += v.count_since_last_iteration();
                        if cumulative > before {
                            // Bucket upper bounds as Redis prints them: 1, 2, 4, 8 ... µs.
                            buckets.push((v.value_iterated_to() + 1, cumulative));
                        }
                    }
                    encode::map(out, buckets.len(), resp3);
                    for (micros, count) in buckets {
                        encode::int(out, micros as i64);
                        encode::int(out, count as i64);
                    }
                }
            });
        }
        b"latest" | b"history" if ctx.args.len() <= 3 => ctx.reply(|out| encode::array(out, 0)),
        b"reset" => ctx.reply(|out| encode::int(out, 0)),
        b"doctor" => ctx.reply(|out| {
            encode::bulk(
                out,
                b"Dave, the latency monitor is not enabled on shardcache; \
                  use LATENCY HISTOGRAM or INFO latencystats for per-command latency.",
            )
        }),
        b"help" => {
            let lines = [
                "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "HISTOGRAM [COMMAND ...]",
                "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
                "    If no commands are specified then all histograms are replied.",
                "LATEST",
                "    Return an empty list: the latency monitor is not kept.",
                "RESET",
                "    Return 0.",
                "HELP",
                "    Print this help.",
            ];
            ctx.reply_lines(&lines);
        }
        _ => unknown_subcommand(ctx),
    }
}

/// COMMAND GETKEYS command [arg ...]: the key positions of the command
/// table (first, last, step), checked as Redis checks them.
fn command_getkeys(ctx: &mut Ctx) {
    let args = ctx.args;
    let Some(spec) = lookup(args.get(2)) else {
        return ctx.error("ERR Invalid command specified");
    };
    let argc = args.len() - 2;
    if argc > 1 && is_container(spec.name) && lookup_sub(spec.name, args.get(3)).is_none() {
        return ctx.error("ERR Invalid command specified");
    }
    if spec.first_key <= 0 {
        return ctx.error("ERR The command has no key arguments");
    }
    if !spec.arity_ok(argc) {
        return ctx.error("ERR Invalid number of arguments specified for command");
    }
    let first = spec.first_key as usize;
    let last = if spec.last_key < 0 {
        argc as i64 + spec.last_key as i64
    } else {
        spec.last_key as i64
    };
    let step = spec.step.max(1) as usize;
    let positions: Vec<usize> = (first..argc)
        .step_by(step)
        .take_while(|&i| i as i64 <= last)
        .collect();
    ctx.reply(|out| {
        encode::array(out, positions.len());
        for i in positions {
            encode::bulk(out, args.get(i + 2));
        }
    });
}

/// TIME: unix seconds and microseconds, as two bulk strings.
pub fn time(ctx: &mut Ctx) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.reply(|out| {
        encode::array(out, 2);
        encode::bulk(out, itoa::Buffer::new().format(now.as_secs()).as_bytes());
        encode::bulk(
            out,
            itoa::Buffer::new().format(now.subsec_micros()).as_bytes(),
        );
    });
}

/// LASTSAVE: shardcache writes no RDB, so, as a Redis that never saved, the
/// start time.
pub fn lastsave(ctx: &mut Ctx) {
    let secs = (ctx.shared.started_unix_ms / 1000) as i64;
    ctx.reply(|out| encode::int(out, secs));
}

/// FUNCTION LIST / FLUSH / HELP. There is no scripting, so no library:
/// LIST is empty and FLUSH has nothing to remove.
pub fn function(ctx: &mut Ctx) {
    ctx.note_subcommand();
    let sub = ctx.args.get(1).to_ascii_lowercase();
    let args = ctx.args;
    match sub.as_slice() {
        b"list" => {
            let (mut with_code, mut library) = (false, false);
            let mut i = 2;
            while i < args.len() {
                let a = args.get(i);
                if !with_code && a.eq_ignore_ascii_case(b"withcode") {
                    with_code = true;
                } else if !library && a.eq_ignore_ascii_case(b"libraryname") {
                    if i + 1 >= args.len() {
                        return ctx.error("ERR library name argument was not given");
                    }
                    library = true;
                    i += 1;
                } else {
                    let mut msg = b"ERR Unknown argument ".to_vec();
                    msg.extend_from_slice(a);
                    return ctx.reply(|out| encode::error_bytes(out, &msg));
                }
                i += 1;
            }
            ctx.reply(|out| encode::array(out, 0));
        }
        b"flush" if args.len() > 3 => {
            let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
            msg.extend_from_slice(args.get(1));
            msg.extend_from_slice(b"'. Try FUNCTION HELP.");
            ctx.reply(|out| encode::error_bytes(out, &msg));
        }
        b"flush" => {
            if args.len() == 3
                && !args.get(2).eq_ignore_ascii_case(b"async")
                && !args.get(2).eq_ignore_ascii_case(b"sync")
            {
                return ctx.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            }
            ctx.reply(encode::ok);
        }
        b"help" if args.len() == 2 => {
            let lines = [
                "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
                "    Return general information on all the libraries (shardcache has none).",
                "FLUSH [ASYNC|SYNC]",
                "    Delete all the libraries.",
                "HELP",
                "    Prints this help.",
            ];
            ctx.reply_lines(&lines);
        }
        _ => {
            if super::subcommand_ok(ctx) {
                unknown_subcommand(ctx);
            }
        }
    }
}
