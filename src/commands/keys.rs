//! Keyspace commands: SELECT, DEL, EXISTS, DBSIZE, FLUSHDB, FLUSHALL,
//! RENAME, RENAMENX, COPY, SWAPDB, MOVE, KEYS, SCAN, RANDOMKEY.

use super::spec::{flags::*, ks, Begin, Command, Find};
use super::steps::step_error;
use super::{parse_i32_or_reply, parse_int, Ctx};
use crate::exchange::{Merge, OpRef, Router};
use crate::resp::encode;
use crate::resp::Args;
use shards::ops::keys::KeyOp;
use shards::ops::server::SrvOp;
use shards::tape::{Item, TapeReader};
use shards::{Kind, Op, Reply, NUM_DBS};

fn select(ctx: &mut Ctx) {
    match parse_i32_or_reply(ctx, ctx.args.get(1)) {
        None => {}
        Some(db) if db < 0 || db >= NUM_DBS as i32 => ctx.error("ERR DB index is out of range"),
        Some(db) => {
            ctx.session.db = db as u8;
            ctx.reply(encode::ok);
        }
    }
}

fn per_key(ctx: &mut Ctx, build: fn(shards::Arg) -> Op) {
    ctx.router.begin(ctx.conn, Merge::Sum);
    for key in ctx.args.iter_from(1) {
        ctx.router.key_op(ctx.session.db, key, |_, k| build(k));
    }
}

fn del(ctx: &mut Ctx) {
    per_key(ctx, |key| KeyOp::Del { key }.into());
}

fn exists(ctx: &mut Ctx) {
    per_key(ctx, |key| KeyOp::Exists { key }.into());
}

fn dbsize(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::Sum);
    ctx.router
        .each_shard_op(ctx.session.db, |_| SrvOp::DbSize.into());
}

/// FLUSHALL / FLUSHDB [ASYNC|SYNC]. Both modes free synchronously: a shard
/// frees its own memory between batches, which is already off every other
/// shard's path.
fn flushall(ctx: &mut Ctx) {
    flush(ctx, true);
}

fn flushdb(ctx: &mut Ctx) {
    flush(ctx, false);
}

fn flush(ctx: &mut Ctx, all: bool) {
    if ctx.args.len() > 2
        || (ctx.args.len() == 2
            && !ctx.args.get(1).eq_ignore_ascii_case(b"async")
            && !ctx.args.get(1).eq_ignore_ascii_case(b"sync"))
    {
        ctx.syntax_error();
        return;
    }
    ctx.router.begin(ctx.conn, Merge::AllOk);
    ctx.router.each_shard_op(ctx.session.db, |_| {
        if all {
            SrvOp::FlushAll.into()
        } else {
            SrvOp::FlushDb.into()
        }
    });
    // Client-side caching: every tracking client drops its whole cache
    // (a null invalidation), after this reply on this connection.
    let s = ctx.shared;
    s.tracking.flushed(&s.pubsub, &s.registry, s.workers);
}

/// The value and expiry a `Read` step found, copied out of its batch;
/// Err with the error text when the step failed.
fn dumped(ctx: &Ctx, r: OpRef) -> Result<Option<(Vec<u8>, u64)>, String> {
    match ctx.router.reply_of(r) {
        (b, Reply::Tape(t)) => {
            let mut items = TapeReader::new(b.payload(*t)).skip(1);
            match (items.next(), items.next()) {
                (Some(Item::Bulk(v)), Some(Item::Int(at))) => Ok(Some((v.to_vec(), at as u64))),
                _ => Ok(None),
            }
        }
        (_, Reply::Err(e)) => Err(crate::errors::text(e).into_owned()),
        _ => Ok(None),
    }
}

/// Moves or copies `src` (db `src_db`, shard `s1`) to `dst` (db `dst_db`,
/// another shard) inside a section: read the source (as a DUMP payload),
/// write the destination unless it exists and `overwrite` is off, and only
/// once that succeeded remove the source (`remove_src`). `Ok(None)`: no source; `Ok(Some(false))`:
/// the destination exists and `overwrite` is off; `Ok(Some(true))`: done.
#[allow(clippy::too_many_arguments)]
fn move_across(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    src_db: u8,
    dst_db: u8,
    overwrite: bool,
    remove_src: bool,
) -> Result<Option<bool>, String> {
    let (s1, s2) = (ctx.router.shard_of(src), ctx.router.shard_of(dst));
    ctx.router.hold(s1);
    ctx.router.hold(s2);
    let read = ctx.router.step_op(s1, src_db, |a| {
        KeyOp::Read {
            key: a.push(src),
            copy: !remove_src,
        }
        .into()
    });
    ctx.router.exchange();
    let Some((value, at)) = dumped(ctx, read)? else {
        return Ok(None);
    };
    // The value travels as its DUMP payload, so every type moves; the
    // destination's shard refuses it (0) when the key exists and may not be
    // replaced.
    let write = ctx.router.step_op(s2, dst_db, |a| {
        KeyOp::Write {
            key: a.push(dst),
            payload: a.push(&value),
            expire_at: at,
            replace: overwrite,
            event: if remove_src { "rename_to" } else { "copy_to" },
        }
        .into()
    });
    ctx.router.exchange();
    if let Some(e) = step_error(ctx, write) {
        return Err(e);
    }
    if matches!(ctx.router.reply_of(write).1, Reply::Int(0)) {
        return Ok(Some(false));
    }
    if remove_src {
        let del = ctx.router.step_op(s1, src_db, |a| {
            KeyOp::RenameFrom { key: a.push(src) }.into()
        });
        ctx.router.exchange();
        if let Some(e) = step_error(ctx, del) {
            return Err(e);
        }
    }
    Ok(Some(true))
}

/// RENAME / RENAMENX key newkey. Keys on one shard: one op. On two shards:
/// a deferred section (read, write, delete), so no client sees the key in
/// both places or in neither.
fn rename(ctx: &mut Ctx) {
    rename_in(ctx, false);
}

fn renamenx(ctx: &mut Ctx) {
    rename_in(ctx, true);
}

/// RENAME, RENAMENX and COPY need a section when their two keys live on
/// different shards.
fn keys_span_shards(args: &Args, router: &Router) -> bool {
    router.shard_of(args.get(1)) != router.shard_of(args.get(2))
}

fn rename_in(ctx: &mut Ctx, nx: bool) {
    let (src, dst) = (ctx.args.get(1), ctx.args.get(2));
    let db = ctx.session.db;
    if ctx.router.shard_of(src) == ctx.router.shard_of(dst) {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.key_op(db, src, |a, src| {
            KeyOp::Rename {
                src,
                dst: a.push(dst),
                nx,
            }
            .into()
        });
        return;
    }
    match move_across(ctx, src, dst, db, db, !nx, true) {
        Err(e) => ctx.error(&e),
        Ok(None) => ctx.error(&crate::errors::text(&shards::Error::NoSuchKey)),
        Ok(Some(moved)) if nx => ctx.reply(|out| encode::int(out, moved as i64)),
        Ok(Some(_)) => ctx.reply(encode::ok),
    }
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx) {
    let (src, dst) = (ctx.args.get(1), ctx.args.get(2));
    let mut replace = false;
    let mut dst_db = ctx.session.db;
    let mut j = 3;
    while j < ctx.args.len() {
        let a = ctx.args.get(j);
        if a.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if a.eq_ignore_ascii_case(b"db") && j + 1 < ctx.args.len() {
            let Some(n) = super::parse_int(ctx.args.get(j + 1)) else {
                ctx.not_integer();
                return;
            };
            if n < 0 || n >= NUM_DBS as i64 {
                ctx.error("ERR DB index is out of range");
                return;
            }
            dst_db = n as u8;
            j += 1;
        } else {
            ctx.syntax_error();
            return;
        }
        j += 1;
    }
    if dst_db == ctx.session.db && src == dst {
        ctx.error("ERR source and destination objects are the same");
        return;
    }
    if ctx.router.shard_of(src) == ctx.router.shard_of(dst) {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.key_op(ctx.session.db, src, |a, src| {
            KeyOp::Copy {
                src,
                dst: a.push(dst),
                dst_db,
                replace,
            }
            .into()
        });
        return;
    }
    match move_across(ctx, src, dst, ctx.session.db, dst_db, replace, false) {
        Err(e) => ctx.error(&e),
        Ok(copied) => ctx.reply(|out| encode::int(out, copied.unwrap_or(false) as i64)),
    }
}

/// SWAPDB index1 index2: every shard swaps its slice of the two databases;
/// as a multi-shard command it is ordered like MSET (see `router`).
fn swapdb(ctx: &mut Ctx) {
    let mut dbs = [0u8; 2];
    for (i, which) in ["first", "second"].iter().enumerate() {
        match super::parse_int(ctx.args.get(i + 1)).and_then(|v| i32::try_from(v).ok()) {
            None => {
                ctx.error(&format!("ERR invalid {which} DB index"));
                return;
            }
            Some(v) if v < 0 || v >= NUM_DBS as i32 => {
                ctx.error("ERR DB index is out of range");
                return;
            }
            Some(v) => dbs[i] = v as u8,
        }
    }
    ctx.router.begin(ctx.conn, Merge::AllOk);
    ctx.router.each_shard_op(0, |_| {
        SrvOp::SwapDb {
            a: dbs[0],
            b: dbs[1],
        }
        .into()
    });
}

/// KEYS pattern: every shard matches its own keys; the worker concatenates.
fn keys(ctx: &mut Ctx) {
    let pattern = ctx.args.get(1);
    ctx.router.begin(ctx.conn, Merge::Keys);
    ctx.router.each_shard_op(ctx.session.db, |a| {
        SrvOp::Keys {
            pattern: a.push(pattern),
        }
        .into()
    });
}

/// Redis's SCAN cursor parsing (`parseScanCursorOrReply`): C's `strtoul`
/// on the argument as a C string, refusing leading space and trailing
/// garbage. So `""` is 0, `+5` is 5, `-1` wraps to 2^64 - 1, and a value
/// past `u64` is refused.
pub fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let s = match memchr::memchr(0, arg) {
        Some(n) => &arg[..n],
        None => arg,
    };
    let Some(&first) = s.first() else {
        return Some(0);
    };
    let (neg, digits) = match first {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v = 0u64;
    for d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
///
/// The cursor names a shard and a place in its walk (see
/// `router::scan_cursor`); each call runs one step on that shard and on the
/// later ones, and returns keys up to the first shard not yet exhausted. A
/// type name Redis does not know matches no key, as in Redis 7.0: that walk
/// ends at once with cursor 0.
fn scan(ctx: &mut Ctx) {
    let Some(cursor) = parse_cursor(ctx.args.get(1)) else {
        ctx.error("ERR invalid cursor");
        return;
    };
    let mut count = 10i64;
    let mut pattern: Option<&[u8]> = None;
    let mut kind = None;
    let mut unknown_type = false;
    let n = ctx.args.len();
    let mut i = 2;
    while i < n {
        let opt = ctx.args.get(i);
        let has_value = n - i >= 2;
        if has_value && opt.eq_ignore_ascii_case(b"count") {
            let Some(c) = parse_int(ctx.args.get(i + 1)) else {
                ctx.not_integer();
                return;
            };
            if c < 1 {
                ctx.syntax_error();
                return;
            }
            count = c;
        } else if has_value && opt.eq_ignore_ascii_case(b"match") {
            let p = ctx.args.get(i + 1);
            // Redis skips the matcher for a lone `*`.
            pattern = (p != b"*").then_some(p);
        } else if has_value && opt.eq_ignore_ascii_case(b"type") {
            kind = Kind::parse(ctx.args.get(i + 1));
            unknown_type = kind.is_none();
        } else {
            ctx.syntax_error();
            return;
        }
        i += 2;
    }
    if unknown_type {
        ctx.reply(|out| {
            encode::array(out, 2);
            encode::bulk(out, b"0");
            encode::array(out, 0);
        });
        return;
    }
    let shards = ctx.router.shards() as u64;
    let shard = cursor % shards;
    ctx.router.begin(
        ctx.conn,
        Merge::Scan {
            shard: shard as u32,
        },
    );
    // The later shards start from their first slot in the same round, so a
    // walk whose remaining shards are empty or small ends in this call, as
    // Redis's does (SCAN 0 of an empty or small db returns cursor 0).
    for s in shard..shards {
        let place = if s == shard { cursor / shards } else { 0 };
        ctx.router.shard_op(s as usize, ctx.session.db, |a| {
            SrvOp::Scan {
                // A place past any this server hands out ends the walk.
                cursor: u32::try_from(place).unwrap_or(u32::MAX),
                count: count as usize,
                pattern: pattern.map(|p| a.push(p)),
                kind,
            }
            .into()
        });
    }
}

/// RANDOMKEY: every shard draws one of its keys and reports its key count;
/// the worker picks a shard with odds proportional to that count.
fn randomkey(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::RandomKey);
    ctx.router
        .each_shard_op(ctx.session.db, |_| SrvOp::RandomKey.into());
}

/// MOVE key db. The shard of a key does not depend on its database, so this
/// is one op on one shard, which re-files the entry with its TTL.
fn move_key(ctx: &mut Ctx) {
    let Some(db) = parse_i32_or_reply(ctx, ctx.args.get(2)) else {
        return;
    };
    if db < 0 || db >= NUM_DBS as i32 {
        ctx.error("ERR DB index is out of range");
    } else if db == ctx.session.db as i32 {
        ctx.error("ERR source and destination objects are the same");
    } else {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router
            .key_op(ctx.session.db, ctx.args.get(1), |_, key| {
                KeyOp::Move {
                    key,
                    dst_db: db as u8,
                }
                .into()
            });
    }
}

/// DUMP key: the value in Redis's serialization format (RDB version 10,
/// CRC64 trailer), or nil.
fn dump(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |_, key| {
            KeyOp::Dump { key }.into()
        });
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
/// [FREQ frequency]: options are checked here in Redis's order; the shard
/// answers BUSYKEY, then the TTL's errors, then the payload's.
fn restore(ctx: &mut Ctx) {
    let args = ctx.args;
    let (mut replace, mut absttl) = (false, false);
    let (mut idletime, mut freq): (Option<u64>, Option<u8>) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let a = args.get(j);
        let more = args.len() - j - 1;
        if a.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if a.eq_ignore_ascii_case(b"absttl") {
            absttl = true;
        } else if a.eq_ignore_ascii_case(b"idletime") && more >= 1 && freq.is_none() {
            match parse_int(args.get(j + 1)) {
                None => return ctx.not_integer(),
                Some(v) if v < 0 => return ctx.error("ERR Invalid IDLETIME value, must be >= 0"),
                Some(v) => idletime = Some(v as u64),
            }
            j += 1;
        } else if a.eq_ignore_ascii_case(b"freq") && more >= 1 && idletime.is_none() {
            match parse_int(args.get(j + 1)) {
                None => return ctx.not_integer(),
                Some(v) if !(0..=255).contains(&v) => {
                    return ctx.error("ERR Invalid FREQ value, must be >= 0 and <= 255")
                }
                Some(v) => freq = Some(v as u8),
            }
            j += 1;
        } else {
            return ctx.syntax_error();
        }
        j += 1;
    }
    let (ttl, bad_ttl) = match parse_int(args.get(2)) {
        Some(t) => (t, None),
        None => (0, Some(shards::Error::NotInteger)),
    };
    let payload = args.get(3);
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router.key_op(ctx.session.db, args.get(1), |a, key| {
        KeyOp::Restore {
            key,
            payload: a.push(payload),
            ttl,
            bad_ttl,
            absttl,
            replace,
            idletime,
            freq,
        }
        .into()
    });
}

/// The keyspace commands.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("dump", 2, dump)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "read", "slow"])
        .tips(&["nondeterministic_output"])
        .doc("generic", "2.6.0", "Return a serialized version of the value stored at the specified key.", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1)."),
    Command::new("restore", -4, restore)
        .flags(WRITE | DENYOOM)
        .keys(1, 1, 1, &[ks(&["OW", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "write", "slow", "dangerous"])
        .doc("generic", "2.6.0", "Create a key using the provided serialized value, previously obtained using DUMP.", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N))."),
    Command::new("select", 2, select)
        .flags(LOADING | STALE | FAST | LOCAL)
        .acl(&["fast", "connection"])
        .doc("connection", "1.0.0", "Change the selected database for the current connection", "O(1)"),
    Command::new("del", -2, del)
        .flags(WRITE)
        .keys(1, -1, 1, &[ks(&["RM", "delete"], Begin::Index(1), Find::Range(-1, 1, 0))])
        .acl(&["keyspace", "write", "slow"])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .doc("generic", "1.0.0", "Delete a key", "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1)."),
    Command::new("delete", -2, del)
        .flags(WRITE)
        .keys(1, -1, 1, &[ks(&["RM", "delete"], Begin::Index(1), Find::Range(-1, 1, 0))])
        .acl(&["keyspace", "write", "slow"])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .doc("generic", "1.0.0", "Delete a key (the original project's name for DEL)", "O(N) where N is the number of keys that will be removed."),
    Command::new("unlink", -2, del)
        .flags(WRITE | FAST)
        .keys(1, -1, 1, &[ks(&["RM", "delete"], Begin::Index(1), Find::Range(-1, 1, 0))])
        .acl(&["keyspace", "write", "fast"])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .doc("generic", "4.0.0", "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of."),
    Command::new("exists", -2, exists)
        .flags(READONLY | FAST)
        .keys(1, -1, 1, &[ks(&["RO"], Begin::Index(1), Find::Range(-1, 1, 0))])
        .acl(&["keyspace", "read", "fast"])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .doc("generic", "1.0.0", "Determine if a key exists", "O(N) where N is the number of keys to check."),
    Command::new("dbsize", 1, dbsize)
        .flags(READONLY | FAST)
        .acl(&["keyspace", "read", "fast"])
        .tips(&["request_policy:all_shards", "response_policy:agg_sum"])
        .doc("server", "1.0.0", "Return the number of keys in the selected database", "O(1)"),
    Command::new("flushall", -1, flushall)
        .flags(WRITE)
        .acl(&["keyspace", "write", "slow", "dangerous"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc("server", "1.0.0", "Remove all keys from all databases", "O(N) where N is the total number of keys in all databases"),
    Command::new("flushdb", -1, flushdb)
        .flags(WRITE)
        .acl(&["keyspace", "write", "slow", "dangerous"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc("server", "1.0.0", "Remove all keys from the current database", "O(N) where N is the number of keys in the selected database"),
    Command::new("rename", 3, rename)
        .section(keys_span_shards)
        .flags(WRITE)
        .keys(1, 2, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["OW", "update"], Begin::Index(2), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "write", "slow"])
        .doc("generic", "1.0.0", "Rename a key", "O(1)"),
    Command::new("renamenx", 3, renamenx)
        .section(keys_span_shards)
        .flags(WRITE | FAST)
        .keys(1, 2, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["OW", "insert"], Begin::Index(2), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "write", "fast"])
        .doc("generic", "1.0.0", "Rename a key, only if the new key does not exist", "O(1)"),
    Command::new("copy", -3, copy)
        .section(keys_span_shards)
        .flags(WRITE | DENYOOM)
        .keys(1, 2, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["OW", "update"], Begin::Index(2), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "write", "slow"])
        .doc("generic", "6.2.0", "Copy a key", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values."),
    Command::new("swapdb", 3, swapdb)
        .flags(WRITE | FAST)
        .acl(&["keyspace", "write", "fast", "dangerous"])
        .doc("server", "4.0.0", "Swaps two Redis databases", "O(N) where N is the count of clients watching or blocking on keys from both databases."),
    Command::new("move", 3, move_key)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["keyspace", "write", "fast"])
        .doc("generic", "1.0.0", "Move a key to another database", "O(1)"),
    Command::new("keys", 2, keys)
        .flags(READONLY)
        .acl(&["keyspace", "read", "slow", "dangerous"])
        .tips(&["request_policy:all_shards", "nondeterministic_output_order"])
        .doc("generic", "1.0.0", "Find all keys matching the given pattern", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length."),
    Command::new("scan", -2, scan)
        .flags(READONLY)
        .acl(&["keyspace", "read", "slow"])
        .tips(&["nondeterministic_output", "request_policy:special"])
        .doc("generic", "2.8.0", "Incrementally iterate the keys space", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection."),
    Command::new("randomkey", 1, randomkey)
        .flags(READONLY)
        .acl(&["keyspace", "read", "slow"])
        .tips(&["request_policy:all_shards", "nondeterministic_output"])
        .doc("generic", "1.0.0", "Return a random key from the keyspace", "O(1)"),
];

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn cursor_parses_as_strtoul() {
        for (arg, want) in [
            (&b""[..], Some(0)),
            (b"0", Some(0)),
            (b"007", Some(7)),
            (b"+5", Some(5)),
            (b"-1", Some(u64::MAX)),
            (b"18446744073709551615", Some(u64::MAX)),
            (b"18446744073709551616", None),
            (b" 1", None),
            (b"1 ", None),
            (b"0x1", None),
            (b"-", None),
            (b"+", None),
            (b"abc", None),
            (b"12\0junk", Some(12)),
        ] {
            assert_eq!(
                parse_cursor(arg),
                want,
                "{:?}",
                String::from_utf8_lossy(arg)
            );
        }
    }
}
