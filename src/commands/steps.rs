//! Reading a section's steps (see `Command::section`): the keys grouped by
//! shard, a step's error or tape, and the first of several keys on several
//! shards that holds a value (LMPOP, ZMPOP and their blocking forms).

use super::Ctx;
use crate::exchange::OpRef;
use shards::tape::{Item, TapeReader};
use shards::{ArgList, Op, Reply};

/// The keys grouped by shard, each group in command order, with each key's
/// index in `keys`.
pub(super) fn by_shard(ctx: &Ctx, keys: &[&[u8]]) -> Vec<(usize, Vec<usize>)> {
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let s = ctx.router.shard_of(k);
        match groups.iter_mut().find(|(g, _)| *g == s) {
            Some((_, v)) => v.push(i),
            None => groups.push((s, vec![i])),
        }
    }
    groups
}

/// The text of a step's error reply, if it is one.
pub(super) fn step_error(ctx: &Ctx, r: OpRef) -> Option<String> {
    match ctx.router.reply_of(r).1 {
        Reply::Err(e) => Some(crate::errors::text(e).into_owned()),
        _ => None,
    }
}

/// The items of a step's tape reply (none for another reply).
pub(super) fn tape_items<'a>(ctx: &'a Ctx, r: OpRef) -> Vec<Item<'a>> {
    match ctx.router.reply_of(r) {
        (b, Reply::Tape(t)) => TapeReader::new(b.payload(*t)).collect(),
        _ => Vec::new(),
    }
}

/// Inside a section holding the shards of `groups` (from `by_shard`): asks
/// each shard, with the op `per_shard` builds for its keys, for a tape of
/// one integer per key, and returns them in key order (None: a key its
/// shard left unanswered). Err: a failed step's error text.
pub(super) fn ints_per_key(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    groups: &[(usize, Vec<usize>)],
    per_shard: impl Fn(ArgList) -> Op,
) -> Result<Vec<Option<i64>>, String> {
    let db = ctx.session.db;
    let refs: Vec<OpRef> = groups
        .iter()
        .map(|(s, idx)| {
            ctx.router
                .step_op(*s, db, |a| per_shard(a.list(idx.iter().map(|&i| keys[i]))))
        })
        .collect();
    ctx.router.exchange();
    let mut ints = vec![None; keys.len()];
    for (r, (_, idx)) in refs.iter().zip(groups) {
        if let Some(e) = step_error(ctx, *r) {
            return Err(e);
        }
        let answers = tape_items(ctx, *r).into_iter().filter_map(|i| match i {
            Item::Int(n) => Some(n),
            _ => None,
        });
        for (&i, n) in idx.iter().zip(answers) {
            ints[i] = Some(n);
        }
    }
    Ok(ints)
}

/// Inside a section holding the shards of `groups` (from `by_shard`): the
/// index of the first key, in command order, that holds a value, as Redis
/// finds it for LMPOP and ZMPOP. `probe` builds, for one shard's keys, an op
/// answering a tape of one integer per key: 0 absent, -1 another type, else
/// present. Err: an error text to answer (a failed step, or WRONGTYPE when
/// the first key found has another type).
pub(super) fn first_holding(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    groups: &[(usize, Vec<usize>)],
    probe: impl Fn(ArgList) -> Op,
) -> Result<Option<usize>, String> {
    // Per key: None not looked at (a key before it on its shard exists).
    let codes = ints_per_key(ctx, keys, groups, probe)?;
    match codes.iter().position(|c| c.is_some_and(|c| c != 0)) {
        Some(i) if codes[i] == Some(-1) => {
            Err(crate::errors::text(&shards::Error::WrongType).into_owned())
        }
        found => Ok(found),
    }
}
