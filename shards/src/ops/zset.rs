//! Sorted-set ops (Redis 7.0's `t_zset.c`).
//!
//! Single-key commands are one op each; the server parsed and checked
//! their arguments (scores, ranges, options) before any look-up, as Redis
//! does. Multi-key commands (ZUNION, ZINTER, ZDIFF and their STORE forms,
//! ZINTERCARD, ZRANGESTORE, ZMPOP) are one op when all their keys live on
//! one shard (`Combine`, `RangeStore`, `MPop`), and otherwise are assembled
//! by the server from pieces: `Cards` (sizes and types), `Entries` (every
//! member with its score), `Scores` (the scores some keys give a list of
//! candidates), `StoreEntries` (a result under its destination) and
//! `Exists` (ZMPOP's choice of key); the arithmetic of the combinations is
//! shared (`fold`, `union_of`, `sort_sources`).
//!
//! Writes log absolute records: `ZADD key score member ...` with the scores
//! they set (ZINCRBY and ZADD INCR the resulting one), `ZREM key member
//! ...` for what went (pops and range removals too, 1024 members a
//! record), `DEL key` when the set emptied, and for a STORE `DEL dst`
//! (when it existed) then `ZADD`s of 64 members.
//!
//! The pop logic (`pop_entries`, `pop_reply`) is what a blocked client's
//! ZPOP is served with once a write made the key non-empty.

use super::geo::GeoOp;
use super::{bulk, Cx};
use crate::aof::{fmt_score, Items, Record};
use crate::batch::{Arg, ArgList, Reply};
use crate::error::Error;
use crate::keyspace::{Lookup, Store, Undo, ValueRef};
use crate::notify::{GENERIC, ZSET};
use crate::tape::TapeWriter;
use crate::value::list::rank_range;
use crate::value::zset::{cmp_entry, LexBound, LexRange, ScoreRange, ZSetEncoding};
use crate::value::{Kind, Object, SetValue, ZSetValue};
use std::collections::HashMap;

pub use super::float::string2d as parse_score;

/// Members per `ZREM` record of a removal of many (pops, range removals).
const ZREM_BATCH: usize = 1024;

/// ZADD's options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZAddFlags {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Only update to a greater score.
    pub gt: bool,
    /// Only update to a lesser score.
    pub lt: bool,
    /// Count changed members, not only added ones.
    pub ch: bool,
    /// Add the score to the current one (ZINCRBY); answer the new score.
    pub incr: bool,
}

/// What a ZRANGE-family command selects.
#[derive(Clone, Copy, Debug)]
pub enum ZRangeBy {
    /// Ranks `start..=stop` (Redis indexes).
    Rank {
        /// First rank.
        start: i64,
        /// Last rank.
        stop: i64,
    },
    /// A score range (min and max in that order, whatever the direction).
    Score(ScoreRange),
    /// A lex range: the bounds as Redis writes them (`-`, `+`, `[m`, `(m`),
    /// checked by the server.
    Lex {
        /// The lower bound.
        min: Arg,
        /// The upper bound.
        max: Arg,
    },
}

/// How ZUNION and ZINTER combine a member's scores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Aggregate {
    /// The sum (a NaN sum, inf + -inf, is 0).
    #[default]
    Sum,
    /// The least.
    Min,
    /// The greatest.
    Max,
}

/// Which combination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZAlgebra {
    /// Members of any input.
    Union,
    /// Members of every input.
    Inter,
    /// Members of the first input in no other.
    Diff,
}

impl ZAlgebra {
    /// The keyspace event of its STORE form.
    pub fn store_event(self) -> &'static str {
        match self {
            ZAlgebra::Union => "zunionstore",
            ZAlgebra::Inter => "zinterstore",
            ZAlgebra::Diff => "zdiffstore",
        }
    }
}

/// What a combination answers.
#[derive(Clone, Copy, Debug)]
pub enum ZCombined {
    /// The members (and scores) in order.
    Reply {
        /// WITHSCORES.
        withscores: bool,
        /// The connection speaks RESP3 (`[member, score]` pairs).
        resp3: bool,
    },
    /// Stored under `dst`: its size.
    Store {
        /// The destination.
        dst: Arg,
    },
    /// The size of the intersection, counting stopped at `limit` (0: none).
    Card {
        /// LIMIT.
        limit: u64,
    },
}

/// How a pop's reply is shaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZPopShape {
    /// `[member, score, member, score, ...]`: ZPOPMIN/MAX in RESP2, or
    /// without a count.
    Flat,
    /// `[[member, score], ...]`: ZPOPMIN/MAX with a count in RESP3.
    Nested,
    /// `[key, member, score]`: BZPOPMIN/MAX.
    KeyFlat,
    /// `[key, [[member, score], ...]]`: ZMPOP, BZMPOP.
    KeyNested,
}

/// A sorted-set op.
#[derive(Clone, Debug)]
pub enum ZSetOp {
    /// ZADD / ZINCRBY: `pairs` alternate scores (checked by the server) and
    /// members → the number added (or changed with CH), or the new score
    /// with INCR (nil when nothing was done).
    Add {
        /// The key.
        key: Arg,
        /// Scores and members.
        pairs: ArgList,
        /// The options.
        flags: ZAddFlags,
    },
    /// ZSCORE → the score, or nil.
    Score {
        /// The key.
        key: Arg,
        /// The member.
        member: Arg,
    },
    /// ZMSCORE → an array of scores and nils.
    MScore {
        /// The key.
        key: Arg,
        /// The members.
        members: ArgList,
    },
    /// ZCARD.
    Card {
        /// The key.
        key: Arg,
    },
    /// ZCOUNT.
    Count {
        /// The key.
        key: Arg,
        /// The range.
        range: ScoreRange,
    },
    /// ZLEXCOUNT (bounds checked by the server).
    LexCount {
        /// The key.
        key: Arg,
        /// The lower bound.
        min: Arg,
        /// The upper bound.
        max: Arg,
    },
    /// ZRANGE and its older forms → the members (with their scores).
    Range {
        /// The key.
        key: Arg,
        /// What to select.
        by: ZRangeBy,
        /// From the top.
        rev: bool,
        /// LIMIT's offset (negative: nothing).
        offset: i64,
        /// LIMIT's count (negative: all).
        limit: i64,
        /// WITHSCORES.
        withscores: bool,
        /// The connection speaks RESP3.
        resp3: bool,
    },
    /// ZRANGESTORE with both keys here → the size of the result.
    RangeStore {
        /// The destination.
        dst: Arg,
        /// The source.
        src: Arg,
        /// What to select.
        by: ZRangeBy,
        /// From the top.
        rev: bool,
        /// LIMIT's offset.
        offset: i64,
        /// LIMIT's count.
        limit: i64,
    },
    /// ZRANK / ZREVRANK → the rank, or nil.
    Rank {
        /// The key.
        key: Arg,
        /// The member.
        member: Arg,
        /// ZREVRANK.
        rev: bool,
    },
    /// ZREM → the number removed.
    Rem {
        /// The key.
        key: Arg,
        /// The members.
        members: ArgList,
    },
    /// ZREMRANGEBYRANK / BYSCORE / BYLEX → the number removed.
    RemRange {
        /// The key.
        key: Arg,
        /// What to remove.
        by: ZRangeBy,
    },
    /// ZPOPMIN / ZPOPMAX.
    Pop {
        /// The key.
        key: Arg,
        /// ZPOPMAX.
        max: bool,
        /// The count, when given.
        count: Option<u64>,
        /// The connection speaks RESP3.
        resp3: bool,
    },
    /// ZMPOP with every key here → `[key, [[member, score], ...]]` of the
    /// first non-empty key, or a null array.
    MPop {
        /// The keys, in command order.
        keys: ArgList,
        /// MAX.
        max: bool,
        /// COUNT.
        count: u64,
    },
    /// ZRANDMEMBER key → a member, or nil.
    RandMember {
        /// The key.
        key: Arg,
    },
    /// ZRANDMEMBER key count [WITHSCORES] (the server bounded the count).
    RandMembers {
        /// The key.
        key: Arg,
        /// The count (negative: repetitions allowed).
        count: i64,
        /// WITHSCORES.
        withscores: bool,
        /// The connection speaks RESP3.
        resp3: bool,
    },
    /// One ZSCAN step → `[cursor, [member, score, ...]]`.
    Scan {
        /// The key.
        key: Arg,
        /// The cursor (0 starts).
        cursor: u64,
        /// COUNT.
        count: usize,
        /// MATCH, on members.
        pattern: Option<Arg>,
    },
    /// ZUNION / ZINTER / ZDIFF (and STORE forms, ZINTERCARD) with every key
    /// here; the options were checked by the server.
    Combine {
        /// Which combination.
        how: ZAlgebra,
        /// The input keys (sorted sets or sets; absent ones are empty).
        keys: ArgList,
        /// WEIGHTS, one per key (None: all 1).
        weights: Option<ArgList>,
        /// AGGREGATE.
        aggregate: Aggregate,
        /// What to answer.
        out: ZCombined,
    },
    /// Cross-shard piece: each key's size → a tape array of integers (0
    /// for an absent key), or WRONGTYPE for a key neither a sorted set nor
    /// a set. A read look-up of each key.
    Cards {
        /// The keys.
        keys: ArgList,
    },
    /// Cross-shard piece: every key's members with their scores (a set's
    /// score 1) → a tape array of one array per key `[m, s, m, s, ...]`,
    /// or WRONGTYPE.
    Entries {
        /// The keys.
        keys: ArgList,
        /// The look-up (PEEK when `Cards` counted it).
        how: Lookup,
    },
    /// Cross-shard piece: for each key, the score it gives each candidate
    /// (nil when it lacks it) → a tape array of one array per key.
    Scores {
        /// The keys (looked up without statistics).
        keys: ArgList,
        /// The candidates.
        members: ArgList,
    },
    /// Cross-shard piece: stores the entries (member, then the score's 8
    /// little-endian bytes) as the sorted set under `dst`, replacing it and
    /// its TTL (none: deletes it) → its size.
    StoreEntries {
        /// The destination.
        dst: Arg,
        /// Members and score bits, alternating.
        entries: ArgList,
        /// The keyspace event of the command (`zunionstore`, `zrangestore`, ...).
        event: &'static str,
    },
    /// Cross-shard piece of ZMPOP: write look-ups of the keys in order up
    /// to the first that exists → a tape array: 0 per absent key, then 1
    /// for a sorted set or -1 for another type.
    Exists {
        /// The keys.
        keys: ArgList,
    },
    /// Geo searches over a sorted set (`super::geo`).
    Geo(GeoOp),
}

impl ZSetOp {
    pub(super) fn is_write(&self) -> bool {
        if let ZSetOp::Geo(g) = self {
            return g.is_write();
        }
        matches!(
            self,
            ZSetOp::Add { .. }
                | ZSetOp::RangeStore { .. }
                | ZSetOp::Rem { .. }
                | ZSetOp::RemRange { .. }
                | ZSetOp::Pop { .. }
                | ZSetOp::MPop { .. }
                | ZSetOp::StoreEntries { .. }
                | ZSetOp::Combine {
                    out: ZCombined::Store { .. },
                    ..
                }
        )
    }

    pub(super) fn exec(&self, cx: &mut Cx) -> Reply {
        let r = match *self {
            ZSetOp::Add { key, pairs, flags } => zadd(cx, key, pairs, flags),
            ZSetOp::Score { key, member } => zscore(cx, key, member),
            ZSetOp::MScore { key, members } => zmscore(cx, key, members),
            ZSetOp::Card { key } => {
                read(cx, key).map(|z| Reply::Int(z.map_or(0, |z| z.len()) as i64))
            }
            ZSetOp::Count { key, range } => {
                read(cx, key).map(|z| Reply::Int(z.map_or(0, |z| z.count_in_score(&range)) as i64))
            }
            ZSetOp::LexCount { key, min, max } => zlexcount(cx, key, min, max),
            ZSetOp::Range {
                key,
                by,
                rev,
                offset,
                limit,
                withscores,
                resp3,
            } => zrange(cx, key, by, rev, offset, limit, withscores, resp3),
            ZSetOp::RangeStore {
                dst,
                src,
                by,
                rev,
                offset,
                limit,
            } => zrangestore(cx, dst, src, by, rev, offset, limit),
            ZSetOp::Rank { key, member, rev } => zrank(cx, key, member, rev),
            ZSetOp::Rem { key, members } => zrem(cx, key, members),
            ZSetOp::RemRange { key, by } => zremrange(cx, key, by),
            ZSetOp::Pop {
                key,
                max,
                count,
                resp3,
            } => {
                let shape = if resp3 && count.is_some() {
                    ZPopShape::Nested
                } else {
                    ZPopShape::Flat
                };
                let k = cx.args.get(key);
                pop_reply(cx, k, max, count, shape)
            }
            ZSetOp::MPop { keys, max, count } => zmpop(cx, keys, max, count),
            ZSetOp::RandMember { key } => zrandmember(cx, key),
            ZSetOp::RandMembers {
                key,
                count,
                withscores,
                resp3,
            } => zrandmember_count(cx, key, count, withscores, resp3),
            ZSetOp::Scan {
                key,
                cursor,
                count,
                pattern,
            } => zscan(cx, key, cursor, count, pattern),
            ZSetOp::Combine {
                how,
                keys,
                weights,
                aggregate,
                out,
            } => combine(cx, how, keys, weights, aggregate, out),
            ZSetOp::Cards { keys } => cards(cx, keys),
            ZSetOp::Entries { keys, how } => entries_of(cx, keys, how),
            ZSetOp::Scores { keys, members } => scores_of(cx, keys, members),
            ZSetOp::StoreEntries {
                dst,
                entries,
                event,
            } => store_entries(cx, dst, entries, event),
            ZSetOp::Exists { keys } => exists(cx, keys),
            ZSetOp::Geo(ref g) => return g.exec(cx),
        };
        r.unwrap_or_else(Reply::Err)
    }
}

type R = Result<Reply, Error>;

/// The sorted set at `pos` (the caller checked the type).
pub(super) fn zset_at(store: &Store, pos: u32) -> Result<&ZSetValue, Error> {
    match store.value_at(pos) {
        ValueRef::Obj(Object::ZSet(z)) => Ok(z),
        _ => Err(Error::WrongType),
    }
}

/// Looks a sorted-set key up: its position, None when absent, WRONGTYPE
/// for another type.
fn find_key(cx: &mut Cx, k: &[u8], how: Lookup) -> Result<Option<u32>, Error> {
    let pos = cx
        .store
        .lookup_kind(cx.db, k, cx.now_ms, how, Kind::ZSet)
        .map_err(|_| Error::WrongType)?;
    if let Some(p) = pos {
        zset_at(cx.store, p)?;
    }
    Ok(pos)
}

pub(super) fn find(cx: &mut Cx, key: Arg, how: Lookup) -> Result<Option<u32>, Error> {
    let k = cx.args.get(key);
    find_key(cx, k, how)
}

/// A read command's look-up (`lookupKeyRead`).
fn read<'s>(cx: &'s mut Cx, key: Arg) -> Result<Option<&'s ZSetValue>, Error> {
    match find(cx, key, Lookup::READ)? {
        Some(pos) => zset_at(cx.store, pos).map(Some),
        None => Ok(None),
    }
}

/// A score on a tape: a RESP3 double, a bulk string in RESP2.
fn double_reply(cx: &mut Cx, s: f64) -> Reply {
    let mut w = TapeWriter::new(cx.out);
    w.double(s);
    w.finish()
}

/// Writes `member` (and its score) as a range reply element.
#[inline]
fn emit(w: &mut TapeWriter, m: &[u8], s: f64, withscores: bool, resp3: bool) {
    if withscores && resp3 {
        w.array(2);
    }
    w.bulk(m);
    if withscores {
        w.double(s);
    }
}

/// The header count of `n` range elements.
fn reply_len(n: usize, withscores: bool, resp3: bool) -> usize {
    if withscores && !resp3 {
        2 * n
    } else {
        n
    }
}

/// Logs `ZADD key score member ...` for `changed` (64 pairs a record at
/// most in the text kept, 1024 a record).
fn log_zadd(cx: &mut Cx, key: &[u8], changed: &[(&[u8], f64)]) {
    if !cx.persist.log.enabled {
        return;
    }
    let mut text: Vec<u8> = Vec::new();
    for chunk in changed.chunks(ZREM_BATCH) {
        text.clear();
        let mut ends = Vec::with_capacity(2 * chunk.len());
        for (m, s) in chunk {
            text.extend_from_slice(fmt_score(*s).as_bytes());
            ends.push(text.len());
            text.extend_from_slice(m);
            ends.push(text.len());
        }
        let mut from = 0;
        let refs: Vec<&[u8]> = ends
            .iter()
            .map(|&end| {
                let b = &text[from..end];
                from = end;
                b
            })
            .collect();
        cx.log(Record::ZAdd {
            key,
            pairs: Items::List(&refs),
        });
    }
}

/// Logs `ZREM key member ...` (1024 members a record).
fn log_zrem<'m>(cx: &mut Cx, key: &[u8], members: impl Iterator<Item = &'m [u8]>) {
    if !cx.persist.log.enabled {
        return;
    }
    let all: Vec<&[u8]> = members.collect();
    for chunk in all.chunks(ZREM_BATCH) {
        cx.log(Record::ZRem {
            key,
            members: Items::List(chunk),
        });
    }
}

/// After members went from the set of `key` at `pos`: reports `event`;
/// the key goes when the set is empty (logged `DEL`, reported `del`), else
/// the removal is logged as `ZREM`s.
fn after_removal<'m>(
    cx: &mut Cx,
    key: &[u8],
    pos: u32,
    emptied: bool,
    event: &'static str,
    removed: impl Iterator<Item = &'m [u8]>,
) {
    cx.notify(ZSET, event, key);
    if emptied {
        cx.store.remove_at(pos);
        cx.log(Record::Del { key });
        cx.notify(GENERIC, "del", key);
    } else {
        cx.store.signal_modified(cx.db, key);
        log_zrem(cx, key, removed);
    }
}

// ------------------------------------------------------------------ ZADD

/// Outcome of one score/member pair of ZADD (Redis's `zsetAdd` flags).
#[derive(Default)]
struct Added {
    added: usize,
    updated: usize,
    processed: usize,
    last: f64,
}

/// Applies ZADD's pairs to `z` as Redis's `zsetAdd` does, one by one,
/// reporting old scores to `undo` and the changes to `changed`. A NaN
/// increment stops with an error (earlier pairs stay applied, as in Redis).
fn apply_pairs<'p>(
    z: &mut ZSetValue,
    undo: &mut Undo,
    pairs: &[(f64, &'p [u8])],
    f: ZAddFlags,
    limits: &crate::value::ZSetLimits,
    out: &mut Added,
    changed: &mut Vec<(&'p [u8], f64)>,
) -> Result<(), Error> {
    for &(score, m) in pairs {
        match z.score(m) {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                let mut s = score;
                if f.incr {
                    s += cur;
                    if s.is_nan() {
                        return Err(Error::ScoreNan);
                    }
                }
                if (f.lt && s >= cur) || (f.gt && s <= cur) {
                    continue;
                }
                out.processed += 1;
                out.last = s;
                if s != cur {
                    undo.zset_member(m, Some(cur));
                    z.insert_or_update(m, s, limits);
                    out.updated += 1;
                    changed.push((m, s));
                }
            }
            None => {
                if f.xx {
                    continue;
                }
                undo.zset_member(m, None);
                z.insert_or_update(m, score, limits);
                out.added += 1;
                out.processed += 1;
                out.last = score;
                changed.push((m, score));
            }
        }
    }
    Ok(())
}

/// ZADD / ZINCRBY (Redis's `zaddGenericCommand` after its parsing).
fn zadd(cx: &mut Cx, key: Arg, pairs: ArgList, f: ZAddFlags) -> R {
    cx.make_room()?;
    let args = cx.args;
    let mut parsed: Vec<(f64, &[u8])> = Vec::with_capacity(pairs.len as usize / 2);
    for i in (0..pairs.len as usize).step_by(2) {
        let s = parse_score(args.item(pairs, i)).ok_or(Error::NotFloat)?;
        parsed.push((s, args.item(pairs, i + 1)));
    }
    let pos = find(cx, key, Lookup::WRITE)?;
    let k = args.get(key);
    let limits = cx.store.value_limits().zset;
    let mut out = Added::default();
    let mut changed: Vec<(&[u8], f64)> = Vec::new();
    let result = match pos {
        None if f.xx => Ok(()),
        None if !(f.incr || f.nx || f.gt || f.lt) => {
            // A new set of all the pairs (the last score of a member given
            // twice) in one allocation, in the encoding the adds one by one
            // would have reached: the same set, without the reallocation
            // per member that fragments the heap.
            let z = ZSetValue::from_entries(parsed.iter().map(|&(s, m)| (m, s)), &limits);
            out.added = z.len();
            out.processed = parsed.len();
            if z.len() < parsed.len() {
                // A member given again with another score counts as updated.
                let mut seen: HashMap<&[u8], f64> = HashMap::with_capacity(parsed.len());
                for &(s, m) in &parsed {
                    if seen.insert(m, s).is_some_and(|old| old != s) {
                        out.updated += 1;
                    }
                }
            }
            if cx.persist.log.enabled {
                changed.extend(parsed.iter().map(|&(s, m)| (m, s)));
            }
            cx.store
                .insert_object(cx.db, k, Object::ZSet(z), 0)
                .map_err(|_| Error::Oom)?;
            Ok(())
        }
        None => {
            let first = parsed.first().map_or(0, |p| p.1.len());
            let mut z = ZSetValue::for_first_member(first, &limits);
            let r = apply_pairs(
                &mut z,
                &mut Undo::off(),
                &parsed,
                f,
                &limits,
                &mut out,
                &mut changed,
            );
            if !z.is_empty() {
                cx.store
                    .insert_object(cx.db, k, Object::ZSet(z), 0)
                    .map_err(|_| Error::Oom)?;
            }
            r
        }
        Some(pos) => cx
            .store
            .edit_object(pos, |o, undo| match o {
                Object::ZSet(z) => {
                    apply_pairs(z, undo, &parsed, f, &limits, &mut out, &mut changed)
                }
                _ => Err(Error::WrongType),
            })
            .unwrap_or(Err(Error::WrongType)),
    };
    if out.added + out.updated > 0 {
        if pos.is_some() {
            cx.store.signal_modified(cx.db, k);
        }
        log_zadd(cx, k, &changed);
        cx.notify(ZSET, if f.incr { "zincr" } else { "zadd" }, k);
    }
    result?;
    Ok(if f.incr {
        if out.processed > 0 {
            double_reply(cx, out.last)
        } else {
            Reply::Nil
        }
    } else if f.ch {
        Reply::Int((out.added + out.updated) as i64)
    } else {
        Reply::Int(out.added as i64)
    })
}

// ----------------------------------------------------------------- reads

fn zscore(cx: &mut Cx, key: Arg, member: Arg) -> R {
    let m = cx.args.get(member);
    match read(cx, key)?.and_then(|z| z.score(m)) {
        Some(s) => Ok(double_reply(cx, s)),
        None => Ok(Reply::Nil),
    }
}

fn zmscore(cx: &mut Cx, key: Arg, members: ArgList) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let z = match pos {
        Some(p) => Some(zset_at(cx.store, p)?),
        None => None,
    };
    let mut w = TapeWriter::new(cx.out);
    w.array(members.len as usize);
    for m in cx.args.items(members) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => w.double(s),
            None => w.nil(),
        }
    }
    Ok(w.finish())
}

/// A lex range from bounds the server checked.
fn lex_range<'a>(min: &'a [u8], max: &'a [u8]) -> Result<LexRange<'a>, Error> {
    Ok(LexRange {
        min: LexBound::parse(min).ok_or(Error::Syntax)?,
        max: LexBound::parse(max).ok_or(Error::Syntax)?,
    })
}

fn zlexcount(cx: &mut Cx, key: Arg, min: Arg, max: Arg) -> R {
    let args = cx.args;
    let range = lex_range(args.get(min), args.get(max))?;
    read(cx, key).map(|z| Reply::Int(z.map_or(0, |z| z.count_in_lex(&range)) as i64))
}

fn zrank(cx: &mut Cx, key: Arg, member: Arg, rev: bool) -> R {
    let m = cx.args.get(member);
    Ok(match read(cx, key)?.and_then(|z| z.rank(m, rev)) {
        Some(r) => Reply::Int(r as i64),
        None => Reply::Nil,
    })
}

/// The entries a ZRANGE-family selection gives, in reply order.
fn selected<'z>(
    z: &'z ZSetValue,
    by: ZRangeBy,
    rev: bool,
    offset: i64,
    limit: i64,
    args: &'z crate::batch::Args,
) -> Result<crate::value::zset::ZIter<'z>, Error> {
    let offset = usize::try_from(offset).ok();
    let count = usize::try_from(limit).ok();
    Ok(match by {
        ZRangeBy::Rank { start, stop } => z.range_by_rank(start, stop, rev),
        ZRangeBy::Score(range) => match offset {
            Some(o) => z.range_by_score(&range, rev, o, count),
            None => z.range_by_rank(1, 0, false),
        },
        ZRangeBy::Lex { min, max } => {
            let range = lex_range(args.get(min), args.get(max))?;
            match offset {
                Some(o) => z.range_by_lex(&range, rev, o, count),
                None => z.range_by_rank(1, 0, false),
            }
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn zrange(
    cx: &mut Cx,
    key: Arg,
    by: ZRangeBy,
    rev: bool,
    offset: i64,
    limit: i64,
    withscores: bool,
    resp3: bool,
) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let args = cx.args;
    let mut w = TapeWriter::new(cx.out);
    let Some(pos) = pos else {
        w.array(0);
        return Ok(w.finish());
    };
    let z = zset_at(cx.store, pos)?;
    let it = selected(z, by, rev, offset, limit, args)?;
    w.array(reply_len(it.len(), withscores, resp3));
    for (m, s) in it {
        emit(&mut w, m, s, withscores, resp3);
    }
    Ok(w.finish())
}

/// Puts `z` under `dst` in place of whatever it held (TTL included); an
/// empty set deletes `dst`. Logs `DEL dst` when it existed, then the
/// set's `ZADD` records. Returns the set's size.
/// Reported as Redis's `setKey` path: `event` (no `new` over an existing
/// key), or `del` when an empty result removed `dst`.
pub(super) fn replace_with(
    cx: &mut Cx,
    dst: &[u8],
    z: ZSetValue,
    event: &'static str,
) -> Result<usize, Error> {
    let db = cx.db;
    let existed = match cx.store.lookup(db, dst, cx.now_ms, Lookup::WRITE) {
        Some(pos) => {
            cx.store.remove_at(pos);
            cx.log(Record::Del { key: dst });
            true
        }
        None => false,
    };
    let n = z.len();
    if n == 0 {
        if existed {
            cx.store.signal_modified(db, dst);
            cx.notify(GENERIC, "del", dst);
        }
        return Ok(0);
    }
    let pos = cx
        .store
        .insert_object(db, dst, Object::ZSet(z), 0)
        .map_err(|_| Error::Oom)?;
    if existed {
        cx.store.unnotify_new(db, dst);
    }
    cx.notify(ZSET, event, dst);
    let value = cx.store.value_at(pos);
    let log = &mut cx.persist.log;
    Record::for_value(dst, value, 0, |r| log.put(db as u8, &r));
    Ok(n)
}

fn zrangestore(
    cx: &mut Cx,
    dst: Arg,
    src: Arg,
    by: ZRangeBy,
    rev: bool,
    offset: i64,
    limit: i64,
) -> R {
    cx.make_room()?;
    let pos = find(cx, src, Lookup::READ)?;
    let args = cx.args;
    let limits = cx.store.value_limits().zset;
    let z = match pos {
        None => ZSetValue::new(),
        Some(pos) => {
            let z = zset_at(cx.store, pos)?;
            let it = selected(z, by, rev, offset, limit, args)?;
            ZSetValue::from_entries(it, &limits)
        }
    };
    let d = args.get(dst);
    Ok(Reply::Int(replace_with(cx, d, z, "zrangestore")? as i64))
}

// ------------------------------------------------------------- removals

fn zrem(cx: &mut Cx, key: Arg, members: ArgList) -> R {
    let Some(pos) = find(cx, key, Lookup::WRITE)? else {
        return Ok(Reply::Int(0));
    };
    let args = cx.args;
    let mut gone: Vec<&[u8]> = Vec::new();
    let emptied = cx
        .store
        .edit_object(pos, |o, undo| {
            let Object::ZSet(z) = o else {
                return false;
            };
            for m in args.items(members) {
                if let Some(s) = z.remove(m) {
                    undo.zset_member(m, Some(s));
                    gone.push(m);
                    if z.is_empty() {
                        return true;
                    }
                }
            }
            false
        })
        .unwrap_or(false);
    if !gone.is_empty() {
        let k = args.get(key);
        after_removal(cx, k, pos, emptied, "zrem", gone.iter().copied());
    }
    Ok(Reply::Int(gone.len() as i64))
}

/// The ranks `a..b` a removal by rank, score or lex selects.
fn ranks_of(
    z: &ZSetValue,
    by: ZRangeBy,
    args: &crate::batch::Args,
) -> Result<(usize, usize), Error> {
    Ok(match by {
        ZRangeBy::Rank { start, stop } => rank_range(start, stop, z.len()).unwrap_or((0, 0)),
        ZRangeBy::Score(range) => z.score_ranks(&range),
        ZRangeBy::Lex { min, max } => z.lex_ranks(&lex_range(args.get(min), args.get(max))?),
    })
}

fn zremrange(cx: &mut Cx, key: Arg, by: ZRangeBy) -> R {
    let Some(pos) = find(cx, key, Lookup::WRITE)? else {
        return Ok(Reply::Int(0));
    };
    let args = cx.args;
    let (a, b) = ranks_of(zset_at(cx.store, pos)?, by, args)?;
    if a >= b {
        return Ok(Reply::Int(0));
    }
    let logging = cx.persist.log.enabled;
    let (gone, emptied) = cx
        .store
        .edit_object(pos, |o, undo| {
            let Object::ZSet(z) = o else {
                return (Vec::new(), false);
            };
            let emptied = b - a == z.len();
            let mut gone: Vec<(Vec<u8>, f64)> = Vec::new();
            if undo.is_on() || (logging && !emptied) {
                gone = z
                    .iter_ranks(a, b - a, false)
                    .map(|(m, s)| (m.to_vec(), s))
                    .collect();
                for (m, s) in &gone {
                    undo.zset_member(m, Some(*s));
                }
            }
            z.remove_range_by_rank(a as i64, b as i64 - 1);
            (gone, emptied)
        })
        .unwrap_or_default();
    let k = args.get(key);
    let event = match by {
        ZRangeBy::Rank { .. } => "zremrangebyrank",
        ZRangeBy::Score(_) => "zremrangebyscore",
        ZRangeBy::Lex { .. } => "zremrangebylex",
    };
    after_removal(cx, k, pos, emptied, event, gone.iter().map(|(m, _)| &m[..]));
    Ok(Reply::Int((b - a) as i64))
}

// ------------------------------------------------------------------ pops

/// Pops up to `count` entries (lowest first, or highest first when `max`)
/// from the sorted set of `key` at `pos`: the undo journal hears of each,
/// the key goes when emptied (`DEL`), else the pop is logged as `ZREM`s.
/// The entries, in pop order. What ZPOPMIN/MAX, ZMPOP and a blocked
/// client's BZPOP* are served with.
pub fn pop_entries(
    cx: &mut Cx,
    key: &[u8],
    pos: u32,
    max: bool,
    count: usize,
) -> Vec<(Vec<u8>, f64)> {
    let (popped, emptied) = cx
        .store
        .edit_object(pos, |o, undo| {
            let Object::ZSet(z) = o else {
                return (Vec::new(), false);
            };
            let popped = z.pop(max, count);
            for (m, s) in &popped {
                undo.zset_member(m, Some(*s));
            }
            (popped, z.is_empty())
        })
        .unwrap_or_default();
    if !popped.is_empty() {
        let event = if max { "zpopmax" } else { "zpopmin" };
        after_removal(
            cx,
            key,
            pos,
            emptied,
            event,
            popped.iter().map(|(m, _)| &m[..]),
        );
    }
    popped
}

/// A pop of `key` answered in `shape` (Redis's `genericZpopCommand` for
/// one key): a write look-up; WRONGTYPE; an absent key answers an empty
/// array (`Flat`, `Nested`) or a null array (the shapes with the key); a
/// count of 0 an empty array. `count` None pops one.
pub fn pop_reply(cx: &mut Cx, key: &[u8], max: bool, count: Option<u64>, shape: ZPopShape) -> R {
    let Some(pos) = find_key(cx, key, Lookup::WRITE)? else {
        let mut w = TapeWriter::new(cx.out);
        match shape {
            ZPopShape::Flat | ZPopShape::Nested => {
                w.array(0);
            }
            ZPopShape::KeyFlat | ZPopShape::KeyNested => w.nil_array(),
        }
        return Ok(w.finish());
    };
    if count == Some(0) {
        let mut w = TapeWriter::new(cx.out);
        w.array(0);
        return Ok(w.finish());
    }
    let n = count.map_or(1, |c| usize::try_from(c).unwrap_or(usize::MAX));
    let popped = pop_entries(cx, key, pos, max, n);
    let mut w = TapeWriter::new(cx.out);
    match shape {
        ZPopShape::Flat => {
            w.array(2 * popped.len());
        }
        ZPopShape::Nested => {
            w.array(popped.len());
        }
        ZPopShape::KeyFlat => {
            w.array(2 * popped.len() + 1);
            w.bulk(key);
        }
        ZPopShape::KeyNested => {
            w.array(2);
            w.bulk(key);
            w.array(popped.len());
        }
    }
    let nested = matches!(shape, ZPopShape::Nested | ZPopShape::KeyNested);
    for (m, s) in &popped {
        if nested {
            w.array(2);
        }
        w.bulk(m);
        w.double(*s);
    }
    Ok(w.finish())
}

/// ZMPOP with every key here: the first key that exists (it is never
/// empty), WRONGTYPE if that key is of another type.
fn zmpop(cx: &mut Cx, keys: ArgList, max: bool, count: u64) -> R {
    let args = cx.args;
    for k in args.items(keys) {
        if find_key(cx, k, Lookup::WRITE)?.is_some() {
            return pop_reply(cx, k, max, Some(count), ZPopShape::KeyNested);
        }
    }
    let mut w = TapeWriter::new(cx.out);
    w.nil_array();
    Ok(w.finish())
}

// ---------------------------------------------------------------- random

fn zrandmember(cx: &mut Cx, key: Arg) -> R {
    let Some(pos) = find(cx, key, Lookup::READ)? else {
        return Ok(Reply::Nil);
    };
    let mut rand = super::rng(cx.store);
    let z = zset_at(cx.store, pos)?;
    Ok(match z.random_member(&mut rand) {
        Some((m, _)) => bulk(cx.out, m),
        None => Reply::Nil,
    })
}

fn zrandmember_count(cx: &mut Cx, key: Arg, count: i64, withscores: bool, resp3: bool) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let mut rand = super::rng(cx.store);
    let mut w = TapeWriter::new(cx.out);
    let at = w.array(0);
    let (Some(pos), false) = (pos, count == 0) else {
        return Ok(w.finish());
    };
    let z = zset_at(cx.store, pos)?;
    let mut n = 0;
    if count > 0 && count as u64 >= z.len() as u64 {
        // The whole set, as Redis's `zuiNext` walks it: highest first.
        for (m, s) in z.iter_ranks(z.len() - 1, z.len(), true) {
            n += 1;
            emit(&mut w, m, s, withscores, resp3);
        }
    } else {
        z.random_members(count, &mut rand, |m, s| {
            n += 1;
            emit(&mut w, m, s, withscores, resp3);
        });
    }
    w.set_len(at, reply_len(n, withscores, resp3));
    Ok(w.finish())
}

/// One ZSCAN step. A compact set answers whole, its scores as its listpack
/// holds them (integers as integers, as `lpGet` gives them); a large one's
/// as `%.17Lg` prints them.
fn zscan(cx: &mut Cx, key: Arg, cursor: u64, count: usize, pattern: Option<Arg>) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let pat = pattern.map(|p| cx.args.get(p)).filter(|p| *p != b"*");
    let mut w = TapeWriter::new(cx.out);
    w.array(2);
    let Some(pos) = pos else {
        w.bulk(b"0");
        w.array(0);
        return Ok(w.finish());
    };
    let z = zset_at(cx.store, pos)?;
    let compact = z.encoding() == ZSetEncoding::Listpack;
    let mut found: Vec<(Vec<u8>, f64)> = Vec::new();
    let next = z.scan(cursor, count.max(1), |m, s| {
        if pat.map_or(true, |p| crate::glob::matches(p, m, false)) {
            found.push((m.to_vec(), s));
        }
    });
    w.bulk(itoa::Buffer::new().format(next).as_bytes());
    w.array(2 * found.len());
    for (m, s) in found {
        w.bulk(&m);
        if compact {
            w.bulk(&crate::rdb::score_text(s));
        } else {
            w.bulk(fmt_score(s).as_bytes());
        }
    }
    Ok(w.finish())
}

// --------------------------------------------------------------- algebra

/// One input of a combination, with its weight.
pub struct Source<'a> {
    entries: SourceRepr<'a>,
    /// WEIGHTS' factor.
    pub weight: f64,
}

enum SourceRepr<'a> {
    Absent,
    ZSet(&'a ZSetValue),
    Set(&'a SetValue),
    /// Entries gathered from another shard, with a member index built on
    /// first use.
    Owned(
        Vec<(Vec<u8>, f64)>,
        std::cell::OnceCell<HashMap<Vec<u8>, f64>>,
    ),
}

impl<'a> Source<'a> {
    /// An absent key: empty.
    pub fn absent(weight: f64) -> Source<'a> {
        Source {
            entries: SourceRepr::Absent,
            weight,
        }
    }

    /// Entries read elsewhere (any order; each member once).
    pub fn owned(entries: Vec<(Vec<u8>, f64)>, weight: f64) -> Source<'a> {
        Source {
            entries: SourceRepr::Owned(entries, Default::default()),
            weight,
        }
    }

    fn of(o: &'a Object, weight: f64) -> Option<Source<'a>> {
        let entries = match o {
            Object::ZSet(z) => SourceRepr::ZSet(z),
            Object::Set(s) => SourceRepr::Set(s),
            _ => return None,
        };
        Some(Source { entries, weight })
    }

    /// Members held (`zuiLength`).
    pub fn len(&self) -> usize {
        match &self.entries {
            SourceRepr::Absent => 0,
            SourceRepr::ZSet(z) => z.len(),
            SourceRepr::Set(s) => s.len(),
            SourceRepr::Owned(v, _) => v.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with every member and its score (a set's is 1).
    pub fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match &self.entries {
            SourceRepr::Absent => {}
            SourceRepr::ZSet(z) => z.iter().for_each(|(m, s)| f(m, s)),
            SourceRepr::Set(s) => s.iter().for_each(|m| m.with_bytes(|b| f(b, 1.0))),
            SourceRepr::Owned(v, _) => v.iter().for_each(|(m, s)| f(m, *s)),
        }
    }

    /// The score of `m`, if a member (`zuiFind`).
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match &self.entries {
            SourceRepr::Absent => None,
            SourceRepr::ZSet(z) => z.score(m),
            SourceRepr::Set(s) => s.contains(m).then_some(1.0),
            SourceRepr::Owned(v, index) => index
                .get_or_init(|| v.iter().cloned().collect())
                .get(m)
                .copied(),
        }
    }
}

/// Redis's `zunionInterAggregate`.
#[inline]
pub fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            // inf + -inf: Redis's convention is 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// A score times its weight, a NaN product (inf × 0) being 0.
#[inline]
pub fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// Orders the inputs of ZUNION and ZINTER smallest first, keeping the
/// command's order among equals (glibc's `qsort` is a merge sort): the
/// order scores are summed in.
pub fn sort_sources(sources: &mut [Source]) {
    sources.sort_by_key(Source::len);
}

/// The result of a combination (sources already ordered for union and
/// intersection), unordered; for a cardinality, counting stops at `limit`
/// (0: none) and nothing is collected.
pub fn combine_sources(
    how: ZAlgebra,
    sources: &[Source],
    agg: Aggregate,
    card_limit: Option<u64>,
) -> (Vec<(Vec<u8>, f64)>, u64) {
    let mut out: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut card = 0u64;
    match how {
        ZAlgebra::Inter => {
            let Some((first, rest)) = sources.split_first() else {
                return (out, 0);
            };
            if first.is_empty() {
                return (out, 0);
            }
            let mut done = false;
            first.for_each(|m, s| {
                if done {
                    return;
                }
                let mut score = weighted(s, first.weight);
                for src in rest {
                    match src.score(m) {
                        Some(v) => aggregate(&mut score, weighted(v, src.weight), agg),
                        None => return,
                    }
                }
                match card_limit {
                    Some(limit) => {
                        card += 1;
                        if limit != 0 && card >= limit {
                            done = true;
                        }
                    }
                    None => out.push((m.to_vec(), score)),
                }
            });
        }
        ZAlgebra::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for src in sources {
                src.for_each(|m, s| {
                    let score = weighted(s, src.weight);
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, score, agg),
                        None => {
                            acc.insert(m.to_vec(), score);
                        }
                    }
                });
            }
            out = acc.into_iter().collect();
        }
        ZAlgebra::Diff => {
            let Some((first, rest)) = sources.split_first() else {
                return (out, 0);
            };
            first.for_each(|m, s| {
                if rest.iter().all(|r| r.score(m).is_none()) {
                    out.push((m.to_vec(), s));
                }
            });
        }
    }
    let n = out.len() as u64;
    (out, if card_limit.is_some() { card } else { n })
}

/// Sorts a combination's result as a sorted set orders it.
pub fn sort_entries(v: &mut [(Vec<u8>, f64)]) {
    v.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
}

/// Writes a combination's sorted result as ZUNION/ZINTER/ZDIFF answer it.
pub fn write_entries(w: &mut TapeWriter, v: &[(Vec<u8>, f64)], withscores: bool, resp3: bool) {
    w.array(reply_len(v.len(), withscores, resp3));
    for (m, s) in v {
        emit(w, m, *s, withscores, resp3);
    }
}

/// Looks the input keys up in order (read look-ups), stopping at the first
/// that is neither a sorted set nor a set.
fn find_inputs(cx: &mut Cx, keys: ArgList, how: Lookup) -> Result<Vec<Option<u32>>, Error> {
    let args = cx.args;
    let mut out = Vec::with_capacity(keys.len as usize);
    for k in args.items(keys) {
        let pos = cx.store.lookup(cx.db, k, cx.now_ms, how);
        if let Some(p) = pos {
            if !matches!(cx.store.kind_at(p), Kind::ZSet | Kind::Set) {
                return Err(Error::WrongType);
            }
        }
        out.push(pos);
    }
    Ok(out)
}

fn sources_at<'s>(store: &'s Store, positions: &[Option<u32>], weights: &[f64]) -> Vec<Source<'s>> {
    positions
        .iter()
        .zip(weights)
        .map(|(p, &w)| match p {
            Some(p) => match store.value_at(*p) {
                ValueRef::Obj(o) => Source::of(o, w).unwrap_or(Source::absent(w)),
                _ => Source::absent(w),
            },
            None => Source::absent(w),
        })
        .collect()
}

/// WEIGHTS as given (the server checked them), or 1 each.
fn weights_of(cx: &Cx, n: usize, weights: Option<ArgList>) -> Result<Vec<f64>, Error> {
    match weights {
        None => Ok(vec![1.0; n]),
        Some(w) => cx
            .args
            .items(w)
            .map(|b| parse_score(b).ok_or(Error::NotFloat))
            .collect(),
    }
}

fn combine(
    cx: &mut Cx,
    how: ZAlgebra,
    keys: ArgList,
    weights: Option<ArgList>,
    agg: Aggregate,
    out: ZCombined,
) -> R {
    if matches!(out, ZCombined::Store { .. }) {
        cx.make_room()?;
    }
    let positions = find_inputs(cx, keys, Lookup::READ)?;
    let w = weights_of(cx, positions.len(), weights)?;
    let limits = cx.store.value_limits().zset;
    let mut sources = sources_at(cx.store, &positions, &w);
    if how != ZAlgebra::Diff {
        sort_sources(&mut sources);
    }
    let card_limit = match out {
        ZCombined::Card { limit } => Some(limit),
        _ => None,
    };
    let (mut result, n) = combine_sources(how, &sources, agg, card_limit);
    drop(sources);
    match out {
        ZCombined::Card { .. } => Ok(Reply::Int(n as i64)),
        ZCombined::Reply { withscores, resp3 } => {
            sort_entries(&mut result);
            let mut w = TapeWriter::new(cx.out);
            write_entries(&mut w, &result, withscores, resp3);
            Ok(w.finish())
        }
        ZCombined::Store { dst } => {
            let z = ZSetValue::from_entries(result, &limits);
            let d = cx.args.get(dst);
            Ok(Reply::Int(replace_with(cx, d, z, how.store_event())? as i64))
        }
    }
}

// ------------------------------------------------------ cross-shard pieces

fn cards(cx: &mut Cx, keys: ArgList) -> R {
    let positions = find_inputs(cx, keys, Lookup::READ)?;
    let sources = sources_at(cx.store, &positions, &vec![1.0; positions.len()]);
    let mut w = TapeWriter::new(cx.out);
    w.array(sources.len());
    for s in &sources {
        w.int(s.len() as i64);
    }
    Ok(w.finish())
}

fn entries_of(cx: &mut Cx, keys: ArgList, how: Lookup) -> R {
    let positions = find_inputs(cx, keys, how)?;
    let sources = sources_at(cx.store, &positions, &vec![1.0; positions.len()]);
    let mut w = TapeWriter::new(cx.out);
    w.array(sources.len());
    for s in &sources {
        w.array(2 * s.len());
        s.for_each(|m, sc| {
            w.bulk(m);
            w.double(sc);
        });
    }
    Ok(w.finish())
}

fn scores_of(cx: &mut Cx, keys: ArgList, members: ArgList) -> R {
    let positions = find_inputs(cx, keys, Lookup::PEEK)?;
    let sources = sources_at(cx.store, &positions, &vec![1.0; positions.len()]);
    let mut w = TapeWriter::new(cx.out);
    w.array(sources.len());
    for s in &sources {
        w.array(members.len as usize);
        for m in cx.args.items(members) {
            match s.score(m) {
                Some(v) => w.double(v),
                None => w.nil(),
            }
        }
    }
    Ok(w.finish())
}

fn store_entries(cx: &mut Cx, dst: Arg, entries: ArgList, event: &'static str) -> R {
    cx.make_room()?;
    let args = cx.args;
    let limits = cx.store.value_limits().zset;
    let mut v: Vec<(&[u8], f64)> = Vec::with_capacity(entries.len as usize / 2);
    for i in (0..entries.len as usize).step_by(2) {
        let bits: [u8; 8] = args
            .item(entries, i + 1)
            .try_into()
            .map_err(|_| Error::Syntax)?;
        v.push((args.item(entries, i), f64::from_le_bytes(bits)));
    }
    let z = ZSetValue::from_entries(v, &limits);
    let d = args.get(dst);
    Ok(Reply::Int(replace_with(cx, d, z, event)? as i64))
}

fn exists(cx: &mut Cx, keys: ArgList) -> R {
    let args = cx.args;
    let mut codes = Vec::new();
    for k in args.items(keys) {
        match cx.store.lookup(cx.db, k, cx.now_ms, Lookup::WRITE) {
            None => codes.push(0),
            Some(p) => {
                codes.push(if cx.store.kind_at(p) == Kind::ZSet {
                    1
                } else {
                    -1
                });
                break;
            }
        }
    }
    let mut w = TapeWriter::new(cx.out);
    w.array(codes.len());
    for c in codes {
        w.int(c);
    }
    Ok(w.finish())
}

#[cfg(test)]
mod tests;
