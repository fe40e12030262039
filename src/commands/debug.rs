//! The commands test suites call: WAIT, LOLWUT and DEBUG (Redis 7.0's
//! `replication.c` `waitCommand`, `lolwut.c`, `debug.c`).
//!
//! WAIT: there are never replicas, so it answers 0; asked for replicas with
//! a timeout it parks the connection like a blocking pop on no key (a
//! `BlockWait` on no shard, ended by its deadline, CLIENT UNBLOCK or the
//! connection closing), costing nothing while it waits.
//!
//! DEBUG: the subcommands client and server test suites use. SLEEP stops
//! the connection's worker thread (Redis stops the whole server); DIGEST
//! and DIGEST-VALUE compute Redis's own digests, each shard its share.

use super::spec::{flags::*, Command};
use super::{c_str, parse_int, Ctx};
use crate::blocking::{BlockWait, Shape};
use crate::exchange::{Completion, Finish, Merge, Router};
use crate::resp::{encode, Args};
use shards::ops::server::SrvOp;
use shards::ops::string::{SetCond, SetReply, StrOp};
use shards::Expiry;
use shards::Reply;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// WAIT runs as a section so that its worker sees the wait and reads
/// nothing more from the connection until it ends.
fn always(_: &Args, _: &Router) -> bool {
    true
}

/// WAIT numreplicas timeout (timeout in ms; 0 waits forever).
fn wait(ctx: &mut Ctx) {
    let Some(wanted) = parse_int(ctx.args.get(1)) else {
        return ctx.not_integer();
    };
    let Some(ms) = parse_int(ctx.args.get(2)) else {
        return ctx.error("ERR timeout is not an integer or out of range");
    };
    if ms < 0 {
        return ctx.error("ERR timeout is negative");
    }
    // No replica ever acknowledges: enough when none is wanted, and inside
    // MULTI Redis answers at once with the count it has.
    if wanted <= 0 || ctx.session.executing {
        return ctx.reply(|o| encode::int(o, 0));
    }
    let deadline = match ms {
        0 => 0,
        ms => ctx.now_ms.saturating_add(ms as u64),
    };
    let silent = ctx.router.conn_flags() & crate::exchange::reply_flags::SILENT != 0;
    ctx.session.block = Some(Box::new(BlockWait {
        claim: Arc::new(AtomicBool::new(false)),
        deadline,
        shape: Shape::Wait,
        shards: Vec::new(),
        silent,
    }));
}

/// LOLWUT [VERSION v]: Redis 7.0 draws nothing for its own version, only
/// the version line (`lolwutUnstableCommand`).
fn lolwut(ctx: &mut Ctx) {
    let args = ctx.args;
    if args.len() >= 3
        && c_str(args.get(1)).eq_ignore_ascii_case(b"version")
        && parse_int(args.get(2)).is_none()
    {
        return ctx.not_integer();
    }
    let resp3 = ctx.resp3();
    ctx.reply(|o| encode::verbatim(o, b"Redis ver. 7.0.15\n", resp3));
}

/// DEBUG HELP's text, as Redis 7.0.15 prints it.
pub(super) const HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "ASSERT",
    "    Crash by assertion failed.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "CRASH-AND-RECOVER [<milliseconds>]",
    "    Hard crash and restart after a <milliseconds> delay (default 0).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "MALLCTL <key> [<val>]",
    "    Get or set a malloc tuning integer.",
    "MALLCTL-STR <key> [<val>]",
    "    Get or set a malloc tuning string.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "OOM",
    "    Crash the server simulating an out-of-memory error.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "RESTART [<milliseconds>]",
    "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "CLIENT-EVICTION",
    "    Show low level client eviction pools info (maxmemory-clients).",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
    "CLUSTERLINK KILL <to|from|all> <node-id>",
    "    Kills the link based on the direction to/from (both) with the provided node.",
    "HELP",
    "    Prints this help.",
];

/// The error Redis gives for an unknown subcommand or a wrong count.
fn unknown(ctx: &mut Ctx) {
    let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    msg.extend_from_slice(ctx.args.get(1));
    msg.extend_from_slice(b"'. Try DEBUG HELP.");
    ctx.reply(|o| encode::error_bytes(o, &msg));
}

/// DEBUG subcommand [arg ...]
fn debug(ctx: &mut Ctx) {
    let n = ctx.args.len();
    let sub = c_str(ctx.args.get(1)).to_ascii_lowercase();
    match (sub.as_slice(), n) {
        (b"help", 2) => ctx.reply_lines(HELP),
        (b"sleep", 3) => sleep(ctx),
        (b"set-active-expire", 3) => set_active_expire(ctx),
        (b"log", 3) => {
            tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(ctx.args.get(2)));
            ctx.reply(encode::ok);
        }
        (b"change-repl-id", 2) => ctx.reply(encode::ok),
        (b"quicklist-packed-threshold", 3) => packed_threshold(ctx),
        (b"stringmatch-test", 2) => stringmatch_test(ctx),
        (b"error", 3) => {
            let msg = ctx.args.get(2).to_vec();
            ctx.reply(|o| encode::error_bytes(o, &msg));
        }
        (b"protocol", 3) => protocol(ctx),
        (b"digest", 2) => digest(ctx),
        (b"digest-value", _) => digest_value(ctx),
        (b"object", 3) => object(ctx),
        (b"reload", _) => super::rdb::reload(ctx),
        (b"populate", 3..=5) => populate(ctx),
        _ => unknown(ctx),
    }
}

/// DEBUG SLEEP seconds: read as `strtod` reads it (what does not parse is
/// 0); the worker thread stops, and with it its other connections.
fn sleep(ctx: &mut Ctx) {
    let text = String::from_utf8_lossy(ctx.args.get(2));
    let secs = float_prefix(&text);
    if secs > 0.0 && secs.is_finite() {
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(1e9)));
    }
    ctx.reply(encode::ok);
}

/// The number at the start of `text`, as C's `strtod` (0 for none).
fn float_prefix(text: &str) -> f64 {
    let t = text.trim_start();
    (1..=t.len())
        .rev()
        .filter(|&i| t.is_char_boundary(i))
        .find_map(|i| t[..i].parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// DEBUG SET-ACTIVE-EXPIRE 0|1: every shard stops (or resumes) expiring
/// keys between commands; `atoi`: anything but a non-zero number is 0.
fn set_active_expire(ctx: &mut Ctx) {
    let on = float_prefix(&String::from_utf8_lossy(ctx.args.get(2))) as i64 != 0;
    ctx.router.begin(ctx.conn, Merge::AllOk);
    ctx.router
        .each_shard_op(0, |_| SrvOp::SetActiveExpire(on).into());
}

/// DEBUG QUICKLIST-PACKED-THRESHOLD size: validated as Redis does; no
/// element here is ever stored as a plain node, so there is nothing to set.
fn packed_threshold(ctx: &mut Ctx) {
    let text = String::from_utf8_lossy(ctx.args.get(2));
    // Redis's `quicklistSetPackedThreshold` limit: under 4GB less 1MB.
    match crate::config::parse_memory(&text) {
        Ok(sz) if sz <= (1u64 << 32) - (1 << 20) => ctx.reply(encode::ok),
        _ => ctx.error("ERR argument must be a memory value bigger than 1 and smaller than 4gb"),
    }
}

/// DEBUG STRINGMATCH-TEST: glob matching on random patterns and strings
/// must not crash (Redis's `stringmatchlen_fuzz_test`).
fn stringmatch_test(ctx: &mut Ctx) {
    let mut state = ctx.now_ms | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut pat, mut s) = (Vec::new(), Vec::new());
    for _ in 0..100_000 {
        pat.clear();
        s.clear();
        for _ in 0..next() % 32 {
            pat.push(b"*?[]\\^-ab"[(next() % 9) as usize]);
        }
        for _ in 0..next() % 32 {
            s.push(b"ab*?[]\\"[(next() % 7) as usize]);
        }
        std::hint::black_box(shards::glob::matches(&pat, &s, next() % 2 == 0));
    }
    ctx.reply(|o| encode::simple(o, "Apparently Redis did not crash: test passed"));
}

/// DEBUG PROTOCOL type: Redis's test values of each RESP3 type, in RESP2
/// as Redis downgrades them.
fn protocol(ctx: &mut Ctx) {
    let resp3 = ctx.resp3();
    let name = c_str(ctx.args.get(2)).to_ascii_lowercase();
    let write: fn(&mut Vec<u8>, bool) = match name.as_slice() {
        b"string" => |o, _| encode::bulk(o, b"Hello World"),
        b"integer" => |o, _| encode::int(o, 12345),
        // Redis's test value, 3.141, as its `%.17g` prints it.
        b"double" => |o, r| {
            if r {
                o.extend_from_slice(b",3.141\r\n");
            } else {
                encode::bulk(o, b"3.141");
            }
        },
        b"bignum" => |o, r| {
            let n = b"1234567999999999999999999999999999999";
            if r {
                o.push(b'(');
                o.extend_from_slice(n);
                o.extend_from_slice(b"\r\n");
            } else {
                encode::bulk(o, n);
            }
        },
        b"null" => |o, r| encode::null(o, r),
        b"array" => |o, _| {
            encode::array(o, 3);
            (0..3).for_each(|j| encode::int(o, j));
        },
        b"set" => |o, r| {
            encode::set(o, 3, r);
            (0..3).for_each(|j| encode::int(o, j));
        },
        b"map" => |o, r| {
            encode::map(o, 3, r);
            for j in 0..3 {
                encode::int(o, j);
                boolean(o, j == 1, r);
            }
        },
        b"attrib" => |o, r| {
            if r {
                o.extend_from_slice(b"|1\r\n");
                encode::bulk(o, b"key-popularity");
                encode::array(o, 2);
                encode::bulk(o, b"key:123");
                encode::int(o, 90);
            }
            encode::bulk(o, b"Some real reply following the attribute");
        },
        b"push" => |o, r| {
            if !r {
                return encode::error(o, "ERR RESP2 is not supported by this command");
            }
            o.extend_from_slice(b">2\r\n");
            encode::bulk(o, b"server-cpu-usage");
            encode::int(o, 42);
            encode::bulk(o, b"Some real reply following the push reply");
        },
        b"true" => |o, r| boolean(o, true, r),
        b"false" => |o, r| boolean(o, false, r),
        b"verbatim" => |o, r| encode::verbatim(o, b"This is a verbatim\nstring", r),
        _ => {
            return ctx.error(
                "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            )
        }
    };
    ctx.reply(|o| write(o, resp3));
}

/// A boolean: RESP3's `#t`/`#f`, RESP2's 1/0.
fn boolean(out: &mut Vec<u8>, v: bool, resp3: bool) {
    if resp3 {
        out.extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
    } else {
        encode::int(out, v as i64);
    }
}

/// DEBUG DIGEST: every shard's per-database xors, combined as Redis's
/// `computeDatasetDigest` does (databases in order, each number mixed in
/// before its keys).
fn digest(ctx: &mut Ctx) {
    ctx.router.begin(
        ctx.conn,
        Merge::Call(Completion {
            run: digest_done,
            arg: 0,
        }),
    );
    ctx.router.each_shard_op(0, |_| SrvOp::Digest.into());
}

fn digest_done(f: &mut Finish) {
    use shards::ops::digest::{mix_digest, Digest};
    let mut dbs = [(false, Digest::default()); shards::NUM_DBS];
    for (b, r) in f.subs.iter() {
        let Reply::Bulk(span) = r else {
            return encode::error(f.out, "ERR digest failed");
        };
        for (db, part) in b.payload(*span).chunks_exact(21).enumerate() {
            let (used, d) = &mut dbs[db];
            *used |= part[0] != 0;
            for (a, x) in d.iter_mut().zip(&part[1..]) {
                *a ^= x;
            }
        }
    }
    let mut total = Digest::default();
    for (db, (used, d)) in dbs.iter().enumerate() {
        if *used {
            mix_digest(&mut total, &(db as u32).to_be_bytes());
            for (a, x) in total.iter_mut().zip(d) {
                *a ^= x;
            }
        }
    }
    encode::simple(f.out, &hex(&total));
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// DEBUG DIGEST-VALUE key [key ...]: each key's digest (zeros for none).
fn digest_value(ctx: &mut Ctx) {
    ctx.router.begin(
        ctx.conn,
        Merge::Call(Completion {
            run: digest_value_done,
            arg: 0,
        }),
    );
    for key in ctx.args.iter_from(2) {
        ctx.router.key_op(ctx.session.db, key, |_, key| {
            SrvOp::DigestValue { key }.into()
        });
    }
}

fn digest_value_done(f: &mut Finish) {
    encode::array(f.out, f.subs.len());
    for (b, r) in f.subs.iter() {
        match r {
            Reply::Bulk(span) => encode::simple(f.out, &hex(b.payload(*span))),
            _ => encode::simple(f.out, &hex(&[0; 20])),
        }
    }
}

/// DEBUG OBJECT key: Redis's one-line summary of the value.
fn object(ctx: &mut Ctx) {
    let shared_ints = super::object::shared_ints(ctx);
    ctx.router.begin(
        ctx.conn,
        Merge::Call(Completion {
            run: object_done,
            arg: 0,
        }),
    );
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(2), |_, key| {
            SrvOp::DebugObject { key, shared_ints }.into()
        });
}

fn object_done(f: &mut Finish) {
    match f.subs.iter().next() {
        Some((b, Reply::Bulk(span))) => {
            f.out.push(b'+');
            f.out.extend_from_slice(b.payload(*span));
            f.out.extend_from_slice(b"\r\n");
        }
        _ => encode::error(f.out, "ERR no such key"),
    }
}

/// DEBUG POPULATE count [prefix] [size]: keys `prefix:N` (`key:N`) for N
/// below count, each `value:N` (cut or padded with zero bytes to `size`),
/// leaving the keys that exist alone.
fn populate(ctx: &mut Ctx) {
    const RANGE: &str = "ERR value is out of range, must be positive";
    let args = ctx.args;
    let Some(count) = parse_int(args.get(2)).filter(|&n| n >= 0) else {
        return ctx.error(RANGE);
    };
    let prefix = if args.len() >= 4 { args.get(3) } else { b"key" };
    let size = match args.len() {
        5 => match parse_int(args.get(4)).filter(|&n| n >= 0) {
            Some(n) => n as usize,
            None => return ctx.error(RANGE),
        },
        _ => 0,
    };
    ctx.router.begin(ctx.conn, Merge::AllOk);
    let (mut key, mut value) = (prefix.to_vec(), Vec::new());
    let mut n = itoa::Buffer::new();
    for j in 0..count as u64 {
        key.truncate(prefix.len());
        key.push(b':');
        key.extend_from_slice(n.format(j).as_bytes());
        value.clear();
        value.extend_from_slice(b"value:");
        value.extend_from_slice(n.format(j).as_bytes());
        if size > 0 {
            value.resize(size, 0);
        }
        ctx.router.key_op(ctx.session.db, &key, |a, key| {
            StrOp::Set {
                key,
                value: a.push(&value),
                cond: SetCond::Nx,
                expiry: Expiry::Clear,
                reply: SetReply::Int,
            }
            .into()
        });
    }
}

/// WAIT, LOLWUT and DEBUG.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("wait", 3, wait)
        .section(always)
        .flags(NOSCRIPT | LOCAL)
        .acl(&["slow", "connection"])
        .tips(&["request_policy:all_shards", "response_policy:agg_min"])
        .doc("generic", "3.0.0", "Wait for the synchronous replication of all the write commands sent in the context of the current connection", "O(1)"),
    Command::new("lolwut", -1, lolwut)
        .flags(READONLY | FAST | LOCAL)
        .acl(&["read", "fast"])
        .doc("server", "5.0.0", "Display some computer art and the Redis version", ""),
    Command::new("debug", -2, debug)
        .section(super::rdb::reload_needs_section)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE)
        .acl(&["admin", "slow", "dangerous"])
        .doc("server", "1.0.0", "A container for debugging commands", "Depends on subcommand.")
        .doc_flags(&["syscmd"]),
];
