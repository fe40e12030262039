//! Set ops (Redis 7.0's `t_set.c`).
//!
//! Single-key commands are one op each. The multi-key ones (SINTER,
//! SUNION, SDIFF, their STORE forms, SINTERCARD, SMOVE) are one op when
//! all their keys live on one shard (`Combine`, `CombineStore`,
//! `InterCard`, `Move`), and otherwise are assembled by the server from
//! per-shard pieces:
//!
//! - `Members`: the members of some keys (WRONGTYPE when one is not a
//!   set, an absent key is empty); `Cards`: their sizes; `Filter`: which
//!   of a list of members are in every one of some keys. SINTER reads the
//!   sizes, then the smallest set's members, then filters them on the
//!   other shards; SUNION and SDIFF read every key's members.
//! - `StoreMembers`: the result of a STORE form under its destination.
//! - `Check`, `MoveOut`, `MoveIn`: SMOVE's type checks, its removal from
//!   the source and its addition to the destination.
//!
//! Writes log absolute records: `SADD key member ...` for what was added,
//! `SREM key member ...` for what was removed (SPOP and SMOVE too), `DEL
//! key` when a set became empty and its key went, and for a STORE `DEL
//! dst` (when it existed) then `SADD` of the result, 64 members a record.

use super::{bulk, Cx};
use crate::aof::{for_members, Items, Record};
use crate::batch::{Arg, ArgList, Reply};
use crate::error::Error;
use crate::keyspace::{Lookup, Store, ValueRef};
use crate::notify::{GENERIC, SET};
use crate::tape::{Item, TapeReader, TapeWriter};
use crate::value::{Kind, Member, Object, SetValue};

/// How a set-algebra op combines its keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algebra {
    /// SINTER: members in every set.
    Inter,
    /// SUNION: members in any set.
    Union,
    /// SDIFF: members of the first set in none of the others.
    Diff,
}

impl Algebra {
    /// The keyspace event of its STORE form.
    pub fn store_event(self) -> &'static str {
        match self {
            Algebra::Inter => "sinterstore",
            Algebra::Union => "sunionstore",
            Algebra::Diff => "sdiffstore",
        }
    }
}

/// A set op.
#[derive(Clone, Debug)]
pub enum SetOp {
    /// SADD key member [member ...] → the number of members added.
    Add {
        /// The key.
        key: Arg,
        /// The members.
        members: ArgList,
    },
    /// SREM key member [member ...] → the number of members removed.
    Rem {
        /// The key.
        key: Arg,
        /// The members.
        members: ArgList,
    },
    /// SCARD key → the number of members.
    Card {
        /// The key.
        key: Arg,
    },
    /// SISMEMBER key member → 1 or 0.
    IsMember {
        /// The key.
        key: Arg,
        /// The member.
        member: Arg,
    },
    /// SMISMEMBER key member [member ...] → an array of 1 and 0.
    MIsMember {
        /// The key.
        key: Arg,
        /// The members.
        members: ArgList,
    },
    /// SMEMBERS key → a set (an array in RESP2).
    All {
        /// The key.
        key: Arg,
    },
    /// SRANDMEMBER key → a random member, or nil.
    RandMember {
        /// The key.
        key: Arg,
    },
    /// SRANDMEMBER key count → an array: `count` distinct members (all of
    /// them when fewer), or `-count` drawn independently when negative.
    /// The server bounds `count` (`ERR value is out of range`).
    RandMembers {
        /// The key.
        key: Arg,
        /// The count.
        count: i64,
    },
    /// SPOP key → a random member, removed; or nil.
    Pop {
        /// The key.
        key: Arg,
    },
    /// SPOP key count → a set of up to `count` random members, removed.
    /// The server refused a negative count.
    PopCount {
        /// The key.
        key: Arg,
        /// The count.
        count: u64,
    },
    /// One SSCAN step → `[next cursor as a bulk, [member, ...]]`.
    Scan {
        /// The key.
        key: Arg,
        /// The cursor (0 starts).
        cursor: u64,
        /// COUNT (10 by default).
        count: usize,
        /// MATCH.
        pattern: Option<Arg>,
    },
    /// SINTER / SUNION / SDIFF with every key here → a set (an array in
    /// RESP2), in Redis's order where Redis's is defined by its encodings.
    Combine {
        /// Which combination.
        how: Algebra,
        /// The keys, in command order.
        keys: ArgList,
    },
    /// SINTERSTORE / SUNIONSTORE / SDIFFSTORE with every key here → the
    /// size of the result, stored under `dst` (replacing it and its TTL;
    /// an empty result deletes it).
    CombineStore {
        /// Which combination.
        how: Algebra,
        /// The destination.
        dst: Arg,
        /// The source keys, in command order.
        keys: ArgList,
    },
    /// SINTERCARD numkeys key ... [LIMIT limit] with every key here → the
    /// size of the intersection, counting stopped at `limit` (0: none).
    InterCard {
        /// The keys.
        keys: ArgList,
        /// LIMIT.
        limit: u64,
    },
    /// SMOVE src dst member with both keys here → 1 when moved, else 0.
    Move {
        /// The source.
        src: Arg,
        /// The destination.
        dst: Arg,
        /// The member.
        member: Arg,
    },
    /// Cross-shard piece: the members of each key → a tape array with one
    /// array of members per key (empty for an absent key), or WRONGTYPE
    /// when any key is not a set.
    Members {
        /// The keys.
        keys: ArgList,
        /// How the keys are looked up: `Lookup::READ` for the command's own
        /// look-up; `Lookup::PEEK` when `Cards` already counted it.
        how: Lookup,
    },
    /// Cross-shard piece: each key's size → a tape array of integers (0
    /// for an absent key), or WRONGTYPE. A read look-up of each key.
    Cards {
        /// The keys.
        keys: ArgList,
    },
    /// Cross-shard piece of SINTER: of `members`, those in every one of
    /// `keys` → a tape array, in the given order (empty when a key is
    /// absent), or WRONGTYPE. The keys are not counted or touched (their
    /// look-up was `Cards`).
    Filter {
        /// The keys.
        keys: ArgList,
        /// The candidates.
        members: ArgList,
    },
    /// Cross-shard piece of the STORE forms: stores `members` as the set
    /// under `dst` (replacing it and its TTL; none deletes it) → its size.
    StoreMembers {
        /// The destination.
        dst: Arg,
        /// The members (duplicates count once).
        members: ArgList,
        /// Store them as a hashtable even when they would fit an intset:
        /// Redis's SDIFF that copies the first set and removes the others'
        /// members keeps the encoding the copy took.
        hashtable: bool,
        /// Which STORE form (its keyspace event).
        how: Algebra,
    },
    /// Cross-shard piece of SMOVE: 1 when `key` holds a set, 0 when it is
    /// absent, or WRONGTYPE (a write look-up: no statistics).
    Check {
        /// The key.
        key: Arg,
    },
    /// Cross-shard piece of SMOVE: removes `member` from the set at `src`
    /// → 1 when it was there, 0 when not (or `src` is absent), WRONGTYPE.
    MoveOut {
        /// The source.
        src: Arg,
        /// The member.
        member: Arg,
    },
    /// Cross-shard piece of SMOVE: adds `member` to the set at `dst`
    /// (created when absent) → 1 when it was new, else 0; WRONGTYPE.
    MoveIn {
        /// The destination.
        dst: Arg,
        /// The member.
        member: Arg,
    },
}

impl SetOp {
    pub(super) fn is_write(&self) -> bool {
        matches!(
            self,
            SetOp::Add { .. }
                | SetOp::Rem { .. }
                | SetOp::Pop { .. }
                | SetOp::PopCount { .. }
                | SetOp::CombineStore { .. }
                | SetOp::Move { .. }
                | SetOp::StoreMembers { .. }
                | SetOp::MoveOut { .. }
                | SetOp::MoveIn { .. }
        )
    }

    pub(super) fn exec(&self, cx: &mut Cx) -> Reply {
        let r = match *self {
            SetOp::Add { key, members } => sadd(cx, key, members),
            SetOp::Rem { key, members } => srem(cx, key, members),
            SetOp::Card { key } => {
                read(cx, key, Lookup::READ).map(|s| Reply::Int(s.map_or(0, |s| s.len()) as i64))
            }
            SetOp::IsMember { key, member } => {
                let m = cx.args.get(member);
                read(cx, key, Lookup::READ)
                    .map(|s| Reply::Int(s.is_some_and(|s| s.contains(m)) as i64))
            }
            SetOp::MIsMember { key, members } => smismember(cx, key, members),
            SetOp::All { key } => smembers(cx, key),
            SetOp::RandMember { key } => srandmember(cx, key),
            SetOp::RandMembers { key, count } => srandmember_count(cx, key, count),
            SetOp::Pop { key } => spop(cx, key),
            SetOp::PopCount { key, count } => spop_count(cx, key, count),
            SetOp::Scan {
                key,
                cursor,
                count,
                pattern,
            } => sscan(cx, key, cursor, count, pattern),
            SetOp::Combine { how, keys } => combine(cx, how, keys),
            SetOp::CombineStore { how, dst, keys } => combine_store(cx, how, dst, keys),
            SetOp::InterCard { keys, limit } => inter_card(cx, keys, limit),
            SetOp::Move { src, dst, member } => smove(cx, src, dst, member),
            SetOp::Members { keys, how } => members_of(cx, keys, how),
            SetOp::Cards { keys } => cards(cx, keys),
            SetOp::Filter { keys, members } => filter(cx, keys, members),
            SetOp::StoreMembers {
                dst,
                members,
                hashtable,
                how,
            } => store_members(cx, dst, members, hashtable, how),
            SetOp::Check { key } => {
                find(cx, key, Lookup::WRITE).map(|p| Reply::Int(p.is_some() as i64))
            }
            SetOp::MoveOut { src, member } => move_out(cx, src, member),
            SetOp::MoveIn { dst, member } => move_in(cx, dst, member),
        };
        r.unwrap_or_else(Reply::Err)
    }
}

type R = Result<Reply, Error>;

/// The set at `pos` (the caller checked the type).
fn set_at(store: &Store, pos: u32) -> Result<&SetValue, Error> {
    match store.value_at(pos) {
        ValueRef::Obj(Object::Set(s)) => Ok(s),
        _ => Err(Error::WrongType),
    }
}

/// Looks a set key up: its position, None when absent, WRONGTYPE for
/// another type.
fn find_key(cx: &mut Cx, k: &[u8], how: Lookup) -> Result<Option<u32>, Error> {
    let pos = cx
        .store
        .lookup_kind(cx.db, k, cx.now_ms, how, Kind::Set)
        .map_err(|_| Error::WrongType)?;
    if let Some(p) = pos {
        set_at(cx.store, p)?;
    }
    Ok(pos)
}

fn find(cx: &mut Cx, key: Arg, how: Lookup) -> Result<Option<u32>, Error> {
    let k = cx.args.get(key);
    find_key(cx, k, how)
}

fn read<'s>(cx: &'s mut Cx, key: Arg, how: Lookup) -> Result<Option<&'s SetValue>, Error> {
    match find(cx, key, how)? {
        Some(pos) => set_at(cx.store, pos).map(Some),
        None => Ok(None),
    }
}

/// Looks every key of `keys` up in order (each a read look-up unless
/// `how` says otherwise), stopping at the first that is not a set.
fn find_all(cx: &mut Cx, keys: ArgList, how: Lookup) -> Result<Vec<Option<u32>>, Error> {
    let args = cx.args;
    args.items(keys).map(|k| find_key(cx, k, how)).collect()
}

/// The sets at `positions` (None: absent).
fn sets_at<'s>(store: &'s Store, positions: &[Option<u32>]) -> Vec<Option<&'s SetValue>> {
    positions
        .iter()
        .map(|p| p.and_then(|p| set_at(store, p).ok()))
        .collect()
}

fn tape_member(w: &mut TapeWriter, m: Member<'_>) {
    m.with_bytes(|b| w.bulk(b));
}

/// Adds `members` to the set at `pos`, or to a new set under `key`;
/// returns how many were new. Logs nothing.
fn add_members<'a>(
    cx: &mut Cx,
    key: &[u8],
    pos: Option<u32>,
    members: impl Iterator<Item = &'a [u8]>,
) -> Result<usize, Error> {
    let limits = cx.store.value_limits().set;
    let mut added = 0;
    match pos {
        None => {
            let mut s = SetValue::new();
            for m in members {
                added += s.add(m, &limits) as usize;
            }
            cx.store
                .insert_object(cx.db, key, Object::Set(s), 0)
                .map_err(|_| Error::Oom)?;
        }
        Some(pos) => {
            cx.store.edit_object(pos, |o, undo| {
                if let Object::Set(s) = o {
                    for m in members {
                        if s.add(m, &limits) {
                            added += 1;
                            undo.member(Member::Str(m), false);
                        }
                    }
                }
            });
            if added > 0 {
                cx.store.signal_modified(cx.db, key);
            }
        }
    }
    Ok(added)
}

/// Removes `members` from the set at `pos`, stopping when it is empty;
/// returns how many went and whether the set is empty (the caller deletes
/// its key). Logs nothing.
fn remove_members<'a>(
    store: &mut Store,
    pos: u32,
    members: impl Iterator<Item = &'a [u8]>,
) -> (usize, bool) {
    store
        .edit_object(pos, |o, undo| {
            let Object::Set(s) = o else {
                return (0, false);
            };
            let mut removed = 0;
            for m in members {
                if s.remove(m) {
                    removed += 1;
                    undo.member(Member::Str(m), true);
                    if s.is_empty() {
                        return (removed, true);
                    }
                }
            }
            (removed, false)
        })
        .unwrap_or((0, false))
}

/// After members were removed from the set of `key` at `pos`: reports
/// `event`, deletes the key when the set is empty (logged as `DEL`,
/// reported as `del`), else logs the removal with `log`.
fn after_removal(
    cx: &mut Cx,
    key: &[u8],
    pos: u32,
    emptied: bool,
    event: &'static str,
    log: impl FnOnce(&mut Cx),
) {
    cx.notify(SET, event, key);
    if emptied {
        cx.store.remove_at(pos);
        cx.persist.log.put(cx.db as u8, &Record::Del { key });
        cx.notify(GENERIC, "del", key);
    } else {
        cx.store.signal_modified(cx.db, key);
        log(cx);
    }
}

fn sadd(cx: &mut Cx, key: Arg, members: ArgList) -> R {
    cx.make_room()?;
    let pos = find(cx, key, Lookup::WRITE)?;
    let (args, k) = (cx.args, cx.args.get(key));
    let added = add_members(cx, k, pos, args.items(members))?;
    if added > 0 {
        cx.persist.log.put(
            cx.db as u8,
            &Record::SAdd {
                key: k,
                members: Items::Args(args, members),
            },
        );
        cx.notify(SET, "sadd", k);
    }
    Ok(Reply::Int(added as i64))
}

fn srem(cx: &mut Cx, key: Arg, members: ArgList) -> R {
    let Some(pos) = find(cx, key, Lookup::WRITE)? else {
        return Ok(Reply::Int(0));
    };
    let (args, k) = (cx.args, cx.args.get(key));
    let (removed, emptied) = remove_members(cx.store, pos, args.items(members));
    if removed > 0 {
        after_removal(cx, k, pos, emptied, "srem", |cx| {
            cx.persist.log.put(
                cx.db as u8,
                &Record::SRem {
                    key: k,
                    members: Items::Args(args, members),
                },
            )
        });
    }
    Ok(Reply::Int(removed as i64))
}

fn smismember(cx: &mut Cx, key: Arg, members: ArgList) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let s = match pos {
        Some(p) => Some(set_at(cx.store, p)?),
        None => None,
    };
    let mut w = TapeWriter::new(cx.out);
    w.array(members.len as usize);
    for m in cx.args.items(members) {
        w.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(w.finish())
}

fn smembers(cx: &mut Cx, key: Arg) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let mut w = TapeWriter::new(cx.out);
    match pos {
        None => {
            w.set(0);
        }
        Some(p) => {
            let s = set_at(cx.store, p)?;
            w.set(s.len());
            s.iter().for_each(|m| tape_member(&mut w, m));
        }
    }
    Ok(w.finish())
}

fn srandmember(cx: &mut Cx, key: Arg) -> R {
    let Some(pos) = find(cx, key, Lookup::READ)? else {
        return Ok(Reply::Nil);
    };
    let mut rand = super::rng(cx.store);
    let s = set_at(cx.store, pos)?;
    Ok(match s.random_member(&mut rand) {
        Some(m) => m.with_bytes(|b| bulk(cx.out, b)),
        None => Reply::Nil,
    })
}

fn srandmember_count(cx: &mut Cx, key: Arg, count: i64) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let mut rand = super::rng(cx.store);
    let mut w = TapeWriter::new(cx.out);
    let at = w.array(0);
    let (Some(pos), false) = (pos, count == 0) else {
        return Ok(w.finish());
    };
    let s = set_at(cx.store, pos)?;
    let mut n = 0;
    s.random_members(count, &mut rand, |m| {
        n += 1;
        tape_member(&mut w, m);
    });
    w.set_len(at, n);
    Ok(w.finish())
}

/// SPOP key: logged as `SREM key member` (or `DEL key` for the last one).
fn spop(cx: &mut Cx, key: Arg) -> R {
    let Some(pos) = find(cx, key, Lookup::WRITE)? else {
        return Ok(Reply::Nil);
    };
    let mut rand = super::rng(cx.store);
    let popped = cx
        .store
        .edit_object(pos, |o, undo| {
            let Object::Set(s) = o else {
                return None;
            };
            let m = s.pop_random(&mut rand)?;
            undo.member(Member::Str(&m), true);
            Some((m, s.is_empty()))
        })
        .flatten();
    let Some((m, emptied)) = popped else {
        return Ok(Reply::Nil);
    };
    let k = cx.args.get(key);
    after_removal(cx, k, pos, emptied, "spop", |cx| {
        let one = [&m[..]];
        cx.persist.log.put(
            cx.db as u8,
            &Record::SRem {
                key: k,
                members: Items::List(&one),
            },
        )
    });
    Ok(bulk(cx.out, &m))
}

/// Members per `SREM` record of SPOP with a count (Redis propagates them
/// in batches of 1024 too).
const SPOP_BATCH: usize = 1024;

/// SPOP key count, by Redis 7.0's strategies (see
/// `SetValue::pop_random_count`); logged as `SREM` of the popped members,
/// or `DEL key` when none is left.
fn spop_count(cx: &mut Cx, key: Arg, count: u64) -> R {
    let pos = find(cx, key, Lookup::WRITE)?;
    let (Some(pos), false) = (pos, count == 0) else {
        let mut w = TapeWriter::new(cx.out);
        w.set(0);
        return Ok(w.finish());
    };
    let limits = cx.store.value_limits().set;
    let mut rand = super::rng(cx.store);
    let start = cx.out.len();
    let out = &mut *cx.out;
    let (replaced, emptied) = cx
        .store
        .edit_object(pos, |o, undo| {
            let Object::Set(s) = o else {
                return (None, false);
            };
            let size = s.len();
            let count = count.min(size as u64) as usize;
            let mut w = TapeWriter::new(&mut *out);
            w.set(count);
            let old = s.pop_random_count(count, &mut rand, &limits, |m| tape_member(&mut w, m));
            let emptied = s.is_empty();
            let popped = || {
                TapeReader::new(&out[start..])
                    .skip(1)
                    .filter_map(|i| match i {
                        Item::Bulk(b) => Some(b),
                        _ => None,
                    })
            };
            let left = match old {
                // Every member went: the old set is kept for an undo whole.
                Some(old) if count >= size => undo.keep(Object::Set(old)),
                // A new set of the remainder took its place: the popped
                // members are reported as removed, and the encoding too.
                Some(old) => {
                    undo.set_was_table();
                    popped().for_each(|m| undo.member(Member::Str(m), true));
                    Some(Object::Set(old))
                }
                None => {
                    popped().for_each(|m| undo.member(Member::Str(m), true));
                    None
                }
            };
            (left, emptied)
        })
        .unwrap_or((None, false));
    if let Some(o) = replaced {
        cx.store.dispose(o);
    }
    let k = cx.args.get(key);
    let span = crate::batch::Span::new(start, cx.out.len());
    cx.notify(SET, "spop", k);
    if emptied {
        cx.store.remove_at(pos);
        cx.persist.log.put(cx.db as u8, &Record::Del { key: k });
        cx.notify(GENERIC, "del", k);
    } else {
        cx.store.signal_modified(cx.db, k);
        let popped: Vec<&[u8]> = TapeReader::new(span.of(cx.out))
            .skip(1)
            .filter_map(|i| match i {
                Item::Bulk(b) => Some(b),
                _ => None,
            })
            .collect();
        for chunk in popped.chunks(SPOP_BATCH) {
            cx.persist.log.put(
                cx.db as u8,
                &Record::SRem {
                    key: k,
                    members: Items::List(chunk),
                },
            );
        }
    }
    Ok(Reply::Tape(span))
}

fn sscan(cx: &mut Cx, key: Arg, cursor: u64, count: usize, pattern: Option<Arg>) -> R {
    let pos = find(cx, key, Lookup::READ)?;
    let pat = pattern.map(|p| cx.args.get(p)).filter(|p| *p != b"*");
    let mut w = TapeWriter::new(cx.out);
    w.array(2);
    let Some(pos) = pos else {
        w.bulk(b"0");
        w.array(0);
        return Ok(w.finish());
    };
    let s = set_at(cx.store, pos)?;
    let mut found: Vec<Member> = Vec::new();
    let next = s.scan(cursor, count.max(1), |m| {
        if pat.map_or(true, |p| {
            m.with_bytes(|b| crate::glob::matches(p, b, false))
        }) {
            found.push(m);
        }
    });
    w.bulk(itoa::Buffer::new().format(next).as_bytes());
    w.array(found.len());
    for m in found {
        tape_member(&mut w, m);
    }
    Ok(w.finish())
}

// ------------------------------------------------------------ algebra

/// What an intersection does with each member it finds.
enum Sink<'w, 'o> {
    /// Writes it to a tape.
    Tape(&'w mut TapeWriter<'o>),
    /// Counts it, up to a limit (0: none).
    Count(u64, u64),
    /// Adds it to a set.
    Set(SetValue, crate::value::SetLimits),
}

/// Redis's `sinterGenericCommand` over `sets` (every key present): the
/// smallest set is walked and each member looked up in the others; equal
/// positions (a key named twice) are the same set.
fn intersect(sets: &mut [(Option<u32>, &SetValue)], sink: &mut Sink) -> usize {
    sets.sort_by_key(|(_, s)| s.len());
    let Some(((first_pos, first), rest)) = sets.split_first() else {
        return 0;
    };
    let mut n = 0;
    for m in first.iter() {
        let in_all = rest
            .iter()
            .all(|(pos, s)| pos == first_pos || s.contains_member(m));
        if !in_all {
            continue;
        }
        n += 1;
        match sink {
            Sink::Tape(w) => tape_member(w, m),
            Sink::Count(c, limit) => {
                *c += 1;
                if *limit != 0 && *c >= *limit {
                    break;
                }
            }
            Sink::Set(s, limits) => {
                m.with_bytes(|b| s.add(b, limits));
            }
        }
    }
    n
}

/// Redis's `sunionDiffGenericCommand` (SUNION, SDIFF): the result as a new
/// set, built as Redis builds it (so its encoding and, for an intset, its
/// order are Redis's). For SDIFF, Redis's choice between walking the first
/// set (when that is less work) and removing the others' members from a
/// copy of it.
fn union_diff(
    how: Algebra,
    positions: &[Option<u32>],
    sets: &[Option<&SetValue>],
    limits: &crate::value::SetLimits,
) -> SetValue {
    let mut out = SetValue::new();
    if how == Algebra::Union {
        for s in sets.iter().flatten() {
            for m in s.iter() {
                m.with_bytes(|b| out.add(b, limits));
            }
        }
        return out;
    }
    let Some(first) = sets[0] else {
        return out;
    };
    // A key named again after the first: the difference is empty.
    if positions[1..].iter().any(|p| *p == positions[0]) {
        return out;
    }
    let one: usize = sets.iter().flatten().map(|_| first.len()).sum::<usize>() / 2;
    let two: usize = sets.iter().flatten().map(|s| s.len()).sum();
    if one <= two {
        // Walk the first set; the others by decreasing size, to find a
        // member that rules a candidate out sooner.
        let mut others: Vec<&SetValue> = sets[1..].iter().flatten().copied().collect();
        others.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for m in first.iter() {
            if !others.iter().any(|s| s.contains_member(m)) {
                m.with_bytes(|b| out.add(b, limits));
            }
        }
    } else {
        for m in first.iter() {
            m.with_bytes(|b| out.add(b, limits));
        }
        for s in sets[1..].iter().flatten() {
            for m in s.iter() {
                m.with_bytes(|b| out.remove(b));
            }
            if out.is_empty() {
                break;
            }
        }
    }
    out
}

/// SINTER / SUNION / SDIFF with every key here.
fn combine(cx: &mut Cx, how: Algebra, keys: ArgList) -> R {
    let positions = find_all(cx, keys, Lookup::READ)?;
    let limits = cx.store.value_limits().set;
    let sets = sets_at(cx.store, &positions);
    let mut w = TapeWriter::new(cx.out);
    if how == Algebra::Inter {
        let at = w.set(0);
        if sets.iter().all(Option::is_some) {
            let mut present: Vec<(Option<u32>, &SetValue)> = positions
                .iter()
                .zip(&sets)
                .filter_map(|(p, s)| s.map(|s| (*p, s)))
                .collect();
            let n = intersect(&mut present, &mut Sink::Tape(&mut w));
            w.set_len(at, n);
        }
        return Ok(w.finish());
    }
    let result = union_diff(how, &positions, &sets, &limits);
    w.set(result.len());
    result.iter().for_each(|m| tape_member(&mut w, m));
    Ok(w.finish())
}

/// The result of a combination, as a new set.
fn combined(cx: &mut Cx, how: Algebra, keys: ArgList) -> Result<SetValue, Error> {
    let positions = find_all(cx, keys, Lookup::READ)?;
    let limits = cx.store.value_limits().set;
    let sets = sets_at(cx.store, &positions);
    if how != Algebra::Inter {
        return Ok(union_diff(how, &positions, &sets, &limits));
    }
    if !sets.iter().all(Option::is_some) {
        return Ok(SetValue::new());
    }
    let mut present: Vec<(Option<u32>, &SetValue)> = positions
        .iter()
        .zip(&sets)
        .filter_map(|(p, s)| s.map(|s| (*p, s)))
        .collect();
    let mut sink = Sink::Set(SetValue::new(), limits);
    intersect(&mut present, &mut sink);
    match sink {
        Sink::Set(s, _) => Ok(s),
        _ => unreachable!("a set sink"),
    }
}

/// Puts `set` under `dst` in place of whatever it held (TTL included);
/// an empty set deletes `dst`. Logs `DEL dst` when it existed, then the
/// set's `SADD` records. Returns the set's size.
///
/// Reported as Redis's STORE forms are: `event` for a stored set (no `new`
/// when `dst` existed: Redis overwrites it in place), `del` when an empty
/// result removed `dst`.
fn replace_with(
    cx: &mut Cx,
    dst: &[u8],
    set: SetValue,
    event: &'static str,
) -> Result<usize, Error> {
    let db = cx.db;
    let existed = match cx.store.lookup(db, dst, cx.now_ms, Lookup::WRITE) {
        Some(pos) => {
            cx.store.remove_at(pos);
            cx.persist.log.put(db as u8, &Record::Del { key: dst });
            true
        }
        None => false,
    };
    let n = set.len();
    if n == 0 {
        if existed {
            cx.store.signal_modified(db, dst);
            cx.notify(GENERIC, "del", dst);
        }
        return Ok(0);
    }
    let pos = cx
        .store
        .insert_object(db, dst, Object::Set(set), 0)
        .map_err(|_| Error::Oom)?;
    if existed {
        cx.store.unnotify_new(db, dst);
    }
    cx.notify(SET, event, dst);
    if !cx.persist.log.enabled {
        return Ok(n);
    }
    if let ValueRef::Obj(Object::Set(s)) = cx.store.value_at(pos) {
        let log = &mut cx.persist.log;
        for_members(s, |members| {
            log.put(db as u8, &Record::SAdd { key: dst, members })
        });
    }
    Ok(n)
}

/// SINTERSTORE / SUNIONSTORE / SDIFFSTORE with every key here.
fn combine_store(cx: &mut Cx, how: Algebra, dst: Arg, keys: ArgList) -> R {
    cx.make_room()?;
    let set = combined(cx, how, keys)?;
    let d = cx.args.get(dst);
    Ok(Reply::Int(
        replace_with(cx, d, set, how.store_event())? as i64
    ))
}

/// SINTERCARD with every key here.
fn inter_card(cx: &mut Cx, keys: ArgList, limit: u64) -> R {
    let positions = find_all(cx, keys, Lookup::READ)?;
    let sets = sets_at(cx.store, &positions);
    if !sets.iter().all(Option::is_some) {
        return Ok(Reply::Int(0));
    }
    let mut present: Vec<(Option<u32>, &SetValue)> = positions
        .iter()
        .zip(&sets)
        .filter_map(|(p, s)| s.map(|s| (*p, s)))
        .collect();
    let mut sink = Sink::Count(0, limit);
    intersect(&mut present, &mut sink);
    let Sink::Count(n, _) = sink else {
        unreachable!("a count sink")
    };
    Ok(Reply::Int(n as i64))
}

/// SMOVE src dst member with both keys here, as Redis 7.0's `smoveCommand`:
/// an absent source answers 0 before any type check; then both types are
/// checked; moving within one key only asks membership.
fn smove(cx: &mut Cx, src: Arg, dst: Arg, member: Arg) -> R {
    let (s, d, m) = (cx.args.get(src), cx.args.get(dst), cx.args.get(member));
    let db = cx.db;
    let src_pos = cx.store.lookup(db, s, cx.now_ms, Lookup::WRITE);
    let dst_pos = cx.store.lookup(db, d, cx.now_ms, Lookup::WRITE);
    let Some(src_pos) = src_pos else {
        return Ok(Reply::Int(0));
    };
    let is_set = |st: &Store, p: u32| set_at(st, p).is_ok();
    if !is_set(cx.store, src_pos) || dst_pos.is_some_and(|p| !is_set(cx.store, p)) {
        return Err(Error::WrongType);
    }
    if s == d {
        return Ok(Reply::Int(set_at(cx.store, src_pos)?.contains(m) as i64));
    }
    let (removed, emptied) = remove_members(cx.store, src_pos, std::iter::once(m));
    if removed == 0 {
        return Ok(Reply::Int(0));
    }
    let one = [m];
    after_removal(cx, s, src_pos, emptied, "srem", |cx| {
        cx.persist.log.put(
            db as u8,
            &Record::SRem {
                key: s,
                members: Items::List(&one),
            },
        )
    });
    // The source's removal may have moved nothing, but look again: a
    // deleted record frees its place.
    let dst_pos = find_key(cx, d, Lookup::PEEK)?;
    if add_members(cx, d, dst_pos, std::iter::once(m))? > 0 {
        cx.persist.log.put(
            db as u8,
            &Record::SAdd {
                key: d,
                members: Items::List(&one),
            },
        );
        cx.notify(SET, "sadd", d);
    }
    Ok(Reply::Int(1))
}

// ------------------------------------------------------ cross-shard pieces

fn members_of(cx: &mut Cx, keys: ArgList, how: Lookup) -> R {
    let positions = find_all(cx, keys, how)?;
    let sets = sets_at(cx.store, &positions);
    let mut w = TapeWriter::new(cx.out);
    w.array(sets.len());
    for s in sets {
        match s {
            Some(s) => {
                w.array(s.len());
                s.iter().for_each(|m| tape_member(&mut w, m));
            }
            None => {
                w.array(0);
            }
        }
    }
    Ok(w.finish())
}

fn cards(cx: &mut Cx, keys: ArgList) -> R {
    let positions = find_all(cx, keys, Lookup::READ)?;
    let sets = sets_at(cx.store, &positions);
    let mut w = TapeWriter::new(cx.out);
    w.array(sets.len());
    for s in sets {
        w.int(s.map_or(0, |s| s.len()) as i64);
    }
    Ok(w.finish())
}

fn filter(cx: &mut Cx, keys: ArgList, members: ArgList) -> R {
    let positions = find_all(cx, keys, Lookup::PEEK)?;
    let sets = sets_at(cx.store, &positions);
    let mut w = TapeWriter::new(cx.out);
    let at = w.array(0);
    if sets.iter().all(Option::is_some) {
        let mut n = 0;
        for m in cx.args.items(members) {
            if sets.iter().flatten().all(|s| s.contains(m)) {
                w.bulk(m);
                n += 1;
            }
        }
        w.set_len(at, n);
    }
    Ok(w.finish())
}

fn store_members(cx: &mut Cx, dst: Arg, members: ArgList, hashtable: bool, how: Algebra) -> R {
    cx.make_room()?;
    let limits = cx.store.value_limits().set;
    let mut set = SetValue::new();
    for m in cx.args.items(members) {
        set.add(m, &limits);
    }
    if hashtable {
        set.convert_to_table();
    }
    let d = cx.args.get(dst);
    Ok(Reply::Int(
        replace_with(cx, d, set, how.store_event())? as i64
    ))
}

fn move_out(cx: &mut Cx, src: Arg, member: Arg) -> R {
    let Some(pos) = find(cx, src, Lookup::WRITE)? else {
        return Ok(Reply::Int(0));
    };
    let (s, m) = (cx.args.get(src), cx.args.get(member));
    let (removed, emptied) = remove_members(cx.store, pos, std::iter::once(m));
    if removed == 0 {
        return Ok(Reply::Int(0));
    }
    let one = [m];
    after_removal(cx, s, pos, emptied, "srem", |cx| {
        cx.persist.log.put(
            cx.db as u8,
            &Record::SRem {
                key: s,
                members: Items::List(&one),
            },
        )
    });
    Ok(Reply::Int(1))
}

fn move_in(cx: &mut Cx, dst: Arg, member: Arg) -> R {
    let pos = find(cx, dst, Lookup::WRITE)?;
    let (d, m) = (cx.args.get(dst), cx.args.get(member));
    let added = add_members(cx, d, pos, std::iter::once(m))?;
    if added > 0 {
        let one = [m];
        cx.persist.log.put(
            cx.db as u8,
            &Record::SAdd {
                key: d,
                members: Items::List(&one),
            },
        );
        cx.notify(SET, "sadd", d);
    }
    Ok(Reply::Int(added as i64))
}

#[cfg(test)]
mod tests;
