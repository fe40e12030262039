//! HyperLogLog commands (Redis's `hyperloglog.c`): PFADD, PFCOUNT, PFMERGE,
//! PFDEBUG, PFSELFTEST. The encoding and the shard ops live in the
//! engine's `ops::hll`.
//!
//! PFCOUNT of several keys and PFMERGE read every key they name. With the
//! keys on one shard they run there as one op; across shards a section
//! holds every shard involved, each source's bytes are read (checked as
//! Redis checks them), the worker folds them into one register array, and
//! PFMERGE's destination shard stores the union. Nothing else runs on
//! those shards in between, so both are as atomic as in Redis.

use super::spec::{flags::*, ks, Begin, Command, Find};
use super::{c_str, Ctx};
use crate::exchange::Merge;
use crate::resp::encode;
use shards::ops::hll::{self, DebugSub, HllOp, REGISTERS};
use shards::Reply;

/// PFADD key [element ...]
fn pfadd(ctx: &mut Ctx) {
    let args = ctx.args;
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router.key_op(ctx.session.db, args.get(1), |a, key| {
        HllOp::Add {
            key,
            elements: a.list(args.iter_from(2)),
        }
        .into()
    });
}

/// True when every key `ctx` names from argument 1 on lives on one shard.
fn one_shard(ctx: &Ctx) -> Option<usize> {
    let home = ctx.router.shard_of(ctx.args.get(1));
    ctx.args
        .iter_from(2)
        .all(|k| ctx.router.shard_of(k) == home)
        .then_some(home)
}

/// Reads every key from argument 1 on, in a section, and folds them into
/// `max`, as Redis's loop over `hllMerge`: the first failure, in key order,
/// is replied and ends the command (None). Otherwise whether a source was
/// dense.
fn fold_across_shards(ctx: &mut Ctx, max: &mut [u8]) -> Option<bool> {
    let db = ctx.session.db;
    for k in ctx.args.iter_from(1) {
        let s = ctx.router.shard_of(k);
        ctx.router.hold(s);
    }
    let reads: Vec<_> = ctx
        .args
        .iter_from(1)
        .map(|k| {
            let s = ctx.router.shard_of(k);
            ctx.router
                .step_op(s, db, |a| HllOp::Read { key: a.push(k) }.into())
        })
        .collect();
    ctx.router.exchange();
    let mut dense = false;
    for r in reads {
        let failure = match ctx.router.reply_of(r) {
            (b, Reply::Bulk(span)) => {
                let v = b.payload(*span);
                dense |= v.len() == hll::DENSE_SIZE && v[4] == 0;
                hll::merge_into(max, v).err().map(shards::Error::Hll)
            }
            (_, Reply::Err(e)) => Some(e.clone()),
            _ => None,
        };
        if let Some(e) = failure {
            ctx.error(&crate::errors::text(&e));
            return None;
        }
    }
    Some(dense)
}

/// PFCOUNT key [key ...]: one key answers (and caches) its cardinality;
/// several answer their union's, writing nothing.
fn pfcount(ctx: &mut Ctx) {
    let args = ctx.args;
    let db = ctx.session.db;
    if args.len() == 2 {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router
            .key_op(db, args.get(1), |_, key| HllOp::Count { key }.into());
        return;
    }
    if let Some(home) = one_shard(ctx) {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.shard_op(home, db, |a| {
            HllOp::CountUnion {
                keys: a.list(args.iter_from(1)),
            }
            .into()
        });
        return;
    }
    let mut max = vec![0u8; REGISTERS];
    if fold_across_shards(ctx, &mut max).is_some() {
        let n = hll::count_raw(&max) as i64;
        ctx.reply(|out| encode::int(out, n));
    }
}

/// PFMERGE destkey [sourcekey ...]: the destination is read as the first
/// source, then holds the union.
fn pfmerge(ctx: &mut Ctx) {
    let args = ctx.args;
    let db = ctx.session.db;
    let dest = args.get(1);
    if let Some(home) = one_shard(ctx) {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.shard_op(home, db, |a| {
            HllOp::Merge {
                dest: a.push(dest),
                keys: a.list(args.iter_from(2)),
            }
            .into()
        });
        return;
    }
    let mut max = vec![0u8; REGISTERS];
    let Some(dense) = fold_across_shards(ctx, &mut max) else {
        return;
    };
    let home = ctx.router.shard_of(dest);
    let store = ctx.router.step_op(home, db, |a| {
        HllOp::MergeStore {
            dest: a.push(dest),
            regs: a.push(&max),
            dense,
        }
        .into()
    });
    ctx.router.exchange();
    match ctx.router.reply_of(store).1.clone() {
        Reply::Ok => ctx.reply(encode::ok),
        Reply::Err(e) => ctx.error(&crate::errors::text(&e)),
        other => {
            let msg = format!("ERR unexpected reply {other:?}");
            ctx.error(&msg);
        }
    }
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key. The subcommand is matched
/// as C's `strcasecmp` would (up to a NUL); the shard checks the key first,
/// as Redis does, and only then refuses an unknown subcommand.
fn pfdebug(ctx: &mut Ctx) {
    let args = ctx.args;
    let name = c_str(args.get(1));
    let is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
    let sub = if is("getreg") {
        Some(DebugSub::GetReg)
    } else if is("decode") {
        Some(DebugSub::Decode)
    } else if is("encoding") {
        Some(DebugSub::Encoding)
    } else if is("todense") {
        Some(DebugSub::ToDense)
    } else {
        None
    };
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router.key_op(ctx.session.db, args.get(2), |a, key| {
        HllOp::Debug {
            sub,
            name: a.push(args.get(1)),
            key,
        }
        .into()
    });
}

/// Elements PFSELFTEST adds to check the estimate (Redis adds ten million;
/// a million keeps the worker's pause short and still checks six decades).
const SELFTEST_ELEMENTS: u64 = 1_000_000;

/// PFSELFTEST: the encoding's self-test, on the worker.
fn pfselftest(ctx: &mut Ctx) {
    let max_bytes = ctx.shared.value_limits().hll_sparse_max_bytes;
    let seed = ctx.now_ms ^ 0x9e37_79b9_7f4a_7c15;
    match hll::self_test(max_bytes, SELFTEST_ELEMENTS, seed) {
        Ok(()) => ctx.reply(encode::ok),
        Err(msg) => {
            let msg = format!("ERR {msg}");
            ctx.error(&msg);
        }
    }
}

/// PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("pfadd", -2, pfadd)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "insert"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "hyperloglog", "fast"])
        .doc("hyperloglog", "2.8.9", "Adds the specified elements to the specified HyperLogLog.", "O(1) to add every element."),
    Command::new("pfcount", -2, pfcount)
        .section(super::keys_span_shards)
        // `may_replicate` (hidden from COMMAND INFO, as in Redis): caching
        // the estimate writes the value, so read-only scripts refuse it and
        // CLIENT PAUSE WRITE holds it.
        .flags(READONLY | MAY_REPLICATE)
        .keys(1, -1, 1, &[ks(&["RW", "access"], Begin::Index(1), Find::Range(-1, 1, 0)).note("RW because it may change the internal representation of the key, and propagate to replicas")])
        .acl(&["read", "hyperloglog", "slow"])
        .doc("hyperloglog", "2.8.9", "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).", "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys."),
    Command::new("pfmerge", -2, pfmerge)
        .section(super::keys_span_shards)
        .flags(WRITE | DENYOOM)
        .keys(1, -1, 1, &[ks(&["RW", "access", "insert"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RO", "access"], Begin::Index(2), Find::Range(-1, 1, 0))])
        .acl(&["write", "hyperloglog", "slow"])
        .doc("hyperloglog", "2.8.9", "Merge N different HyperLogLogs into a single one.", "O(N) to merge N HyperLogLogs, but with high constant times."),
    Command::new("pfdebug", 3, pfdebug)
        .flags(WRITE | DENYOOM | ADMIN)
        .keys(2, 2, 1, &[ks(&["RW", "access"], Begin::Index(2), Find::Range(0, 1, 0))])
        .acl(&["write", "hyperloglog", "admin", "slow", "dangerous"])
        .doc("hyperloglog", "2.8.9", "Internal commands for debugging HyperLogLog values", "N/A")
        .doc_flags(&["syscmd"]),
    Command::new("pfselftest", 1, pfselftest)
        .flags(ADMIN)
        .acl(&["hyperloglog", "admin", "slow", "dangerous"])
        .doc("hyperloglog", "2.8.9", "An internal command for testing HyperLogLog values", "N/A")
        .doc_flags(&["syscmd"]),
];
