//! Set commands (Redis 7.0's `t_set.c`). Single-key commands are one op on
//! the key's shard. The multi-key ones are one op when all their keys live
//! on one shard; otherwise they run in a section holding those shards and
//! are assembled here from per-shard pieces (`SetOp::Cards`, `Members`,
//! `Filter`, `StoreMembers`, `Check`, `MoveOut`, `MoveIn`), so no client
//! sees half an SMOVE or a STORE.

use super::hash::{parse_count, scan_options, scan_refused};
use super::spec::{flags::*, ks, Begin, Command, Find};
use super::steps::{by_shard, ints_per_key, step_error, tape_items};
use super::{parse_int, Ctx};
use crate::exchange::{Merge, OpRef};
use crate::resp::encode;
use shards::ops::set::{Algebra, SetOp};
use shards::tape::Item;
use shards::value::SetValue;
use shards::{Arg, Kind, Lookup, Op, Reply};

/// One op on the key (argument 1), answered as it is.
fn key_op(ctx: &mut Ctx, build: impl FnOnce(&mut shards::batch::Args, Arg) -> Op) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router.key_op(ctx.session.db, ctx.args.get(1), build);
}

fn sadd(ctx: &mut Ctx) {
    let args = ctx.args;
    key_op(ctx, |a, key| {
        SetOp::Add {
            key,
            members: a.list(args.iter_from(2)),
        }
        .into()
    });
}

fn srem(ctx: &mut Ctx) {
    let args = ctx.args;
    key_op(ctx, |a, key| {
        SetOp::Rem {
            key,
            members: a.list(args.iter_from(2)),
        }
        .into()
    });
}

fn scard(ctx: &mut Ctx) {
    key_op(ctx, |_, key| SetOp::Card { key }.into());
}

fn sismember(ctx: &mut Ctx) {
    let member = ctx.args.get(2);
    key_op(ctx, |a, key| {
        SetOp::IsMember {
            key,
            member: a.push(member),
        }
        .into()
    });
}

fn smismember(ctx: &mut Ctx) {
    let args = ctx.args;
    key_op(ctx, |a, key| {
        SetOp::MIsMember {
            key,
            members: a.list(args.iter_from(2)),
        }
        .into()
    });
}

fn smembers(ctx: &mut Ctx) {
    key_op(ctx, |_, key| SetOp::All { key }.into());
}

/// SRANDMEMBER key [count]
fn srandmember(ctx: &mut Ctx) {
    match ctx.args.len() {
        2 => key_op(ctx, |_, key| SetOp::RandMember { key }.into()),
        3 => {
            let Some(count) = parse_count(ctx, ctx.args.get(2)) else {
                return;
            };
            key_op(ctx, |_, key| SetOp::RandMembers { key, count }.into());
        }
        _ => ctx.syntax_error(),
    }
}

/// SPOP key [count]
fn spop(ctx: &mut Ctx) {
    match ctx.args.len() {
        2 => key_op(ctx, |_, key| SetOp::Pop { key }.into()),
        3 => {
            // Redis's `getPositiveLongFromObjectOrReply` with its own text
            // for both a non-integer and a negative count.
            let Some(count) = parse_int(ctx.args.get(2)).filter(|&n| n >= 0) else {
                return ctx.error("ERR value is out of range, must be positive");
            };
            key_op(ctx, |_, key| {
                SetOp::PopCount {
                    key,
                    count: count as u64,
                }
                .into()
            });
        }
        _ => ctx.syntax_error(),
    }
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
fn sscan(ctx: &mut Ctx) {
    let Some(cursor) = super::keys::parse_cursor(ctx.args.get(2)) else {
        return ctx.error("ERR invalid cursor");
    };
    let (count, pattern) = match scan_options(ctx.args) {
        Ok(o) => o,
        Err(e) => return scan_refused(ctx, e, Kind::Set),
    };
    key_op(ctx, |a, key| {
        SetOp::Scan {
            key,
            cursor,
            count,
            pattern: pattern.map(|p| a.push(p)),
        }
        .into()
    });
}

// ----------------------------------------------------------- set algebra

/// What a combination answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Out<'a> {
    /// The members, as a set.
    Members,
    /// Their number, at most `limit` (0: no limit): SINTERCARD.
    Card(u64),
    /// Stored under this key; its size.
    Store(&'a [u8]),
}

fn sinter(ctx: &mut Ctx) {
    let keys: Vec<&[u8]> = ctx.args.iter_from(1).collect();
    combine(ctx, Algebra::Inter, &keys, Out::Members);
}

fn sunion(ctx: &mut Ctx) {
    let keys: Vec<&[u8]> = ctx.args.iter_from(1).collect();
    combine(ctx, Algebra::Union, &keys, Out::Members);
}

fn sdiff(ctx: &mut Ctx) {
    let keys: Vec<&[u8]> = ctx.args.iter_from(1).collect();
    combine(ctx, Algebra::Diff, &keys, Out::Members);
}

fn sinterstore(ctx: &mut Ctx) {
    store(ctx, Algebra::Inter);
}

fn sunionstore(ctx: &mut Ctx) {
    store(ctx, Algebra::Union);
}

fn sdiffstore(ctx: &mut Ctx) {
    store(ctx, Algebra::Diff);
}

fn store(ctx: &mut Ctx, how: Algebra) {
    let dst = ctx.args.get(1);
    let keys: Vec<&[u8]> = ctx.args.iter_from(2).collect();
    combine(ctx, how, &keys, Out::Store(dst));
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx) {
    let args = ctx.args;
    // Redis's `getRangeLongFromObjectOrReply` with its own text, which it
    // gives a count that is no integer too.
    let numkeys = match parse_int(args.get(1)) {
        Some(n) if n >= 1 => n as u64,
        _ => return ctx.error("ERR numkeys should be greater than 0"),
    };
    if numkeys > (args.len() - 2) as u64 {
        return ctx.error("ERR Number of keys can't be greater than number of args");
    }
    let numkeys = numkeys as usize;
    let mut limit = 0u64;
    let mut j = 2 + numkeys;
    while j < args.len() {
        if args.get(j).eq_ignore_ascii_case(b"limit") && j + 1 < args.len() {
            j += 1;
            match parse_int(args.get(j)) {
                Some(n) if n >= 0 => limit = n as u64,
                _ => return ctx.error("ERR LIMIT can't be negative"),
            }
        } else {
            return ctx.syntax_error();
        }
        j += 1;
    }
    let keys: Vec<&[u8]> = args.iter_from(2).take(numkeys).collect();
    combine(ctx, Algebra::Inter, &keys, Out::Card(limit));
}

/// Runs a combination: one op when every key (and the destination) is on
/// one shard, else the pieces in the section the declaration asked for.
fn combine(ctx: &mut Ctx, how: Algebra, keys: &[&[u8]], out: Out) {
    let db = ctx.session.db;
    let first = ctx.router.shard_of(keys[0]);
    let dst = match out {
        Out::Store(d) => Some(d),
        _ => None,
    };
    let one_shard = keys
        .iter()
        .chain(dst.iter())
        .all(|k| ctx.router.shard_of(k) == first);
    if one_shard {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.shard_op(first, db, |a| {
            let list = a.list(keys.iter().copied());
            match out {
                Out::Members => SetOp::Combine { how, keys: list }.into(),
                Out::Card(limit) => SetOp::InterCard { keys: list, limit }.into(),
                Out::Store(d) => SetOp::CombineStore {
                    how,
                    dst: a.push(d),
                    keys: list,
                }
                .into(),
            }
        });
        return;
    }
    debug_assert!(ctx.router.in_section(), "declared with a section");
    for k in keys.iter().chain(dst.iter()) {
        let s = ctx.router.shard_of(k);
        ctx.router.hold(s);
    }
    let result = match how {
        Algebra::Inter => intersect(ctx, keys).map(|members| Combined {
            members,
            hashtable: false,
        }),
        Algebra::Union | Algebra::Diff => union_or_diff(ctx, how, keys),
    };
    let Combined { members, hashtable } = match result {
        Ok(c) => c,
        Err(e) => return ctx.error(&e),
    };
    match out {
        Out::Members => {
            let resp3 = ctx.resp3();
            ctx.reply(|o| {
                encode::set(o, members.len(), resp3);
                for m in &members {
                    encode::bulk(o, m);
                }
            });
        }
        Out::Card(limit) => {
            let n = members.len() as u64;
            let n = if limit > 0 { n.min(limit) } else { n };
            ctx.reply(|o| encode::int(o, n as i64));
        }
        Out::Store(d) => {
            let shard = ctx.router.shard_of(d);
            let r = ctx.router.step_op(shard, db, |a| {
                SetOp::StoreMembers {
                    dst: a.push(d),
                    members: a.list(members.iter().map(Vec::as_slice)),
                    hashtable,
                    how,
                }
                .into()
            });
            ctx.router.exchange();
            reply_step(ctx, r);
        }
    }
}

/// Replies with a step's reply as it is (an integer or an error).
fn reply_step(ctx: &mut Ctx, r: OpRef) {
    match ctx.router.reply_of(r).1.clone() {
        Reply::Err(e) => ctx.error(&crate::errors::text(&e)),
        Reply::Int(n) => ctx.reply(|o| encode::int(o, n)),
        _ => ctx.error("ERR internal: unexpected reply"),
    }
}

/// SINTER's pieces: every key's size (and type); the smallest set's
/// members; which of them every other key holds, asked of every shard at
/// once. Redis checks every key's type before it answers empty for a
/// missing one.
fn intersect(ctx: &mut Ctx, keys: &[&[u8]]) -> Result<Vec<Vec<u8>>, String> {
    let db = ctx.session.db;
    let groups = by_shard(ctx, keys);
    let sizes: Vec<i64> = ints_per_key(ctx, keys, &groups, |keys| SetOp::Cards { keys }.into())?
        .into_iter()
        .map(|n| n.unwrap_or(0))
        .collect();
    if sizes.contains(&0) {
        return Ok(Vec::new());
    }
    // The smallest first, as Redis sorts the sets by size.
    let smallest = (0..keys.len()).min_by_key(|&i| sizes[i]).unwrap_or(0);
    let s = ctx.router.shard_of(keys[smallest]);
    let r = ctx.router.step_op(s, db, |a| {
        SetOp::Members {
            keys: a.list([keys[smallest]]),
            how: Lookup::PEEK,
        }
        .into()
    });
    ctx.router.exchange();
    if let Some(e) = step_error(ctx, r) {
        return Err(e);
    }
    let mut candidates: Vec<Vec<u8>> = tape_items(ctx, r)
        .into_iter()
        .filter_map(|i| match i {
            Item::Bulk(m) => Some(m.to_vec()),
            _ => None,
        })
        .collect();
    let refs: Vec<OpRef> = groups
        .iter()
        .filter_map(|(s, idx)| {
            let others: Vec<&[u8]> = idx
                .iter()
                .filter(|&&i| i != smallest)
                .map(|&i| keys[i])
                .collect();
            (!others.is_empty()).then(|| {
                ctx.router.step_op(*s, db, |a| {
                    SetOp::Filter {
                        keys: a.list(others.iter().copied()),
                        members: a.list(candidates.iter().map(Vec::as_slice)),
                    }
                    .into()
                })
            })
        })
        .collect();
    ctx.router.exchange();
    for r in refs {
        if let Some(e) = step_error(ctx, r) {
            return Err(e);
        }
        let kept: std::collections::HashSet<&[u8]> = tape_items(ctx, r)
            .into_iter()
            .filter_map(|i| match i {
                Item::Bulk(m) => Some(m),
                _ => None,
            })
            .collect();
        candidates.retain(|m| kept.contains(m.as_slice()));
    }
    Ok(candidates)
}

/// SUNION's and SDIFF's pieces: every key's members (and type), combined
/// here into a set built as Redis builds its result (an intset while every
/// member is an integer and they are few), read back in that set's order.
fn union_or_diff(ctx: &mut Ctx, how: Algebra, keys: &[&[u8]]) -> Result<Combined, String> {
    let db = ctx.session.db;
    let groups = by_shard(ctx, keys);
    let refs: Vec<OpRef> = groups
        .iter()
        .map(|(s, idx)| {
            ctx.router.step_op(*s, db, |a| {
                SetOp::Members {
                    keys: a.list(idx.iter().map(|&i| keys[i])),
                    how: Lookup::READ,
                }
                .into()
            })
        })
        .collect();
    ctx.router.exchange();
    let mut per_key: Vec<Vec<Vec<u8>>> = vec![Vec::new(); keys.len()];
    for (r, (_, idx)) in refs.iter().zip(&groups) {
        if let Some(e) = step_error(ctx, *r) {
            return Err(e);
        }
        // One array per key, in the order asked, inside one outer array.
        let mut key: Option<usize> = None;
        for item in tape_items(ctx, *r).into_iter().skip(1) {
            match item {
                Item::Array(_) => key = Some(key.map_or(0, |k| k + 1)),
                Item::Bulk(m) => {
                    if let Some(&i) = key.and_then(|k| idx.get(k)) {
                        per_key[i].push(m.to_vec());
                    }
                }
                _ => {}
            }
        }
    }
    let limits = ctx.shared.value_limits().set;
    let mut set = SetValue::new();
    match how {
        Algebra::Union => {
            for m in per_key.iter().flatten() {
                set.add(m, &limits);
            }
        }
        _ if per_key[0].is_empty() => {}
        _ => {
            // Redis's choice (`sunionDiffGenericCommand`): walk the first
            // set and keep what no other holds when that is less work,
            // else copy it and remove the others' members. Either gives
            // the same members, but the copy may have become a hashtable
            // that the walk's result would not be.
            let present = per_key.iter().filter(|k| !k.is_empty());
            let walk = present.clone().count() * per_key[0].len() / 2;
            let copy: usize = present.map(Vec::len).sum();
            if walk <= copy {
                let others: std::collections::HashSet<&[u8]> =
                    per_key[1..].iter().flatten().map(Vec::as_slice).collect();
                for m in per_key[0].iter().filter(|m| !others.contains(m.as_slice())) {
                    set.add(m, &limits);
                }
            } else {
                for m in &per_key[0] {
                    set.add(m, &limits);
                }
                for m in per_key[1..].iter().flatten() {
                    set.remove(m);
                }
            }
        }
    }
    Ok(Combined {
        hashtable: !set.is_intset(),
        members: set.iter().map(|m| m.to_vec()).collect(),
    })
}

/// A combination's result as assembled from the pieces.
struct Combined {
    /// The members, in the order of the set Redis would build.
    members: Vec<Vec<u8>>,
    /// That set is a hashtable (else it is an intset, or its encoding is
    /// what its members alone give it).
    hashtable: bool,
}

/// SMOVE source destination member
fn smove(ctx: &mut Ctx) {
    let (src, dst, member) = (ctx.args.get(1), ctx.args.get(2), ctx.args.get(3));
    let db = ctx.session.db;
    let (s1, s2) = (ctx.router.shard_of(src), ctx.router.shard_of(dst));
    if s1 == s2 {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.shard_op(s1, db, |a| {
            SetOp::Move {
                src: a.push(src),
                dst: a.push(dst),
                member: a.push(member),
            }
            .into()
        });
        return;
    }
    ctx.router.hold(s1);
    ctx.router.hold(s2);
    // Redis: a missing source answers 0 before any type check; then the
    // source's type, then the destination's.
    let c1 = ctx
        .router
        .step_op(s1, db, |a| SetOp::Check { key: a.push(src) }.into());
    let c2 = ctx
        .router
        .step_op(s2, db, |a| SetOp::Check { key: a.push(dst) }.into());
    ctx.router.exchange();
    match ctx.router.reply_of(c1).1 {
        Reply::Int(0) => return ctx.reply(|o| encode::int(o, 0)),
        Reply::Err(_) => return reply_step(ctx, c1),
        _ => {}
    }
    if let Some(e) = step_error(ctx, c2) {
        return ctx.error(&e);
    }
    let out = ctx.router.step_op(s1, db, |a| {
        SetOp::MoveOut {
            src: a.push(src),
            member: a.push(member),
        }
        .into()
    });
    ctx.router.exchange();
    if !matches!(ctx.router.reply_of(out).1, Reply::Int(1)) {
        return reply_step(ctx, out);
    }
    let into = ctx.router.step_op(s2, db, |a| {
        SetOp::MoveIn {
            dst: a.push(dst),
            member: a.push(member),
        }
        .into()
    });
    ctx.router.exchange();
    match step_error(ctx, into) {
        Some(e) => ctx.error(&e),
        None => ctx.reply(|o| encode::int(o, 1)),
    }
}

/// The set commands.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("sadd", -3, sadd)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "insert"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "set", "fast"])
        .doc("set", "1.0.0", "Add one or more members to a set", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    Command::new("srem", -3, srem)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "set", "fast"])
        .doc("set", "1.0.0", "Remove one or more members from a set", "O(N) where N is the number of members to be removed."),
    Command::new("scard", 2, scard)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "set", "fast"])
        .doc("set", "1.0.0", "Get the number of members in a set", "O(1)"),
    Command::new("sismember", 3, sismember)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "set", "fast"])
        .doc("set", "1.0.0", "Determine if a given value is a member of a set", "O(1)"),
    Command::new("smismember", -3, smismember)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "set", "fast"])
        .doc("set", "6.2.0", "Returns the membership associated with the given elements for a set", "O(N) where N is the number of elements being checked for membership"),
    Command::new("smembers", 2, smembers)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "set", "slow"])
        .tips(&["nondeterministic_output_order"])
        .doc("set", "1.0.0", "Get all the members in a set", "O(N) where N is the set cardinality."),
    Command::new("srandmember", -2, srandmember)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "set", "slow"])
        .tips(&["nondeterministic_output"])
        .doc("set", "1.0.0", "Get one or multiple random members from a set", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count."),
    Command::new("spop", -2, spop)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "set", "fast"])
        .tips(&["nondeterministic_output"])
        .doc("set", "1.0.0", "Remove and return one or multiple random members from a set", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count."),
    Command::new("smove", 4, smove)
        .section(super::keys_span_shards)
        .flags(WRITE | FAST)
        .keys(1, 2, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RW", "insert"], Begin::Index(2), Find::Range(0, 1, 0))])
        .acl(&["write", "set", "fast"])
        .doc("set", "1.0.0", "Move a member from one set to another", "O(1)"),
    Command::new("sscan", -3, sscan)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "set", "slow"])
        .tips(&["nondeterministic_output"])
        .doc("set", "2.8.0", "Incrementally iterate Set elements", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
    Command::new("sinter", -2, sinter)
        .section(super::keys_span_shards)
        .flags(READONLY)
        .keys(1, -1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(-1, 1, 0))])
        .acl(&["read", "set", "slow"])
        .tips(&["nondeterministic_output_order"])
        .doc("set", "1.0.0", "Intersect multiple sets", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."),
    Command::new("sintercard", -3, sintercard)
        .section(super::keys_span_shards)
        .flags(READONLY | MOVABLEKEYS)
        .keys(0, 0, 0, &[ks(&["RO", "access"], Begin::Index(1), Find::Keynum(0, 1, 1))])
        .acl(&["read", "set", "slow"])
        .doc("set", "7.0.0", "Intersect multiple sets and return the cardinality of the result", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."),
    Command::new("sinterstore", -3, sinterstore)
        .section(super::keys_span_shards)
        .flags(WRITE | DENYOOM)
        .keys(1, -1, 1, &[ks(&["RW", "update"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RO", "access"], Begin::Index(2), Find::Range(-1, 1, 0))])
        .acl(&["write", "set", "slow"])
        .doc("set", "1.0.0", "Intersect multiple sets and store the resulting set in a key", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."),
    Command::new("sunion", -2, sunion)
        .section(super::keys_span_shards)
        .flags(READONLY)
        .keys(1, -1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(-1, 1, 0))])
        .acl(&["read", "set", "slow"])
        .tips(&["nondeterministic_output_order"])
        .doc("set", "1.0.0", "Add multiple sets", "O(N) where N is the total number of elements in all given sets."),
    Command::new("sunionstore", -3, sunionstore)
        .section(super::keys_span_shards)
        .flags(WRITE | DENYOOM)
        .keys(1, -1, 1, &[ks(&["OW", "update"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RO", "access"], Begin::Index(2), Find::Range(-1, 1, 0))])
        .acl(&["write", "set", "slow"])
        .doc("set", "1.0.0", "Add multiple sets and store the resulting set in a key", "O(N) where N is the total number of elements in all given sets."),
    Command::new("sdiff", -2, sdiff)
        .section(super::keys_span_shards)
        .flags(READONLY)
        .keys(1, -1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(-1, 1, 0))])
        .acl(&["read", "set", "slow"])
        .tips(&["nondeterministic_output_order"])
        .doc("set", "1.0.0", "Subtract multiple sets", "O(N) where N is the total number of elements in all given sets."),
    Command::new("sdiffstore", -3, sdiffstore)
        .section(super::keys_span_shards)
        .flags(WRITE | DENYOOM)
        .keys(1, -1, 1, &[ks(&["OW", "update"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RO", "access"], Begin::Index(2), Find::Range(-1, 1, 0))])
        .acl(&["write", "set", "slow"])
        .doc("set", "1.0.0", "Subtract multiple sets and store the resulting set in a key", "O(N) where N is the total number of elements in all given sets."),
];
