//! Blocking pops (Redis 7.0's `blocked.c` and the blocking halves of
//! `t_list.c` and `t_zset.c`).
//!
//! The server runs a blocking command holding the shards of its keys. On
//! one shard, `Try` pops at once when one of its keys exists, or registers
//! the client (`keyspace::blocked`) in the same step, so no push can come
//! in between. Across shards, `Probe` finds which key Redis would pop
//! (the first that exists, in command order); then a `Try` of that key, or
//! a `Register` on every shard. A blocked client's registrations end with
//! `Forget` when its worker ends the wait (timeout, disconnect, CLIENT
//! UNBLOCK).
//!
//! After each op outside a section or a transaction (else after the
//! section or the transaction), the shard serves the keys that became
//! ready (`serve_ready`): their waiters in the
//! order they blocked, each one claimed first, popped for with the same
//! pieces LPOP, ZPOPMIN and LMOVE use, so the AOF logs the pop it became.

use super::{list, zset, Cx, Persist};
use crate::aof::Items;
use crate::batch::{ArgList, Args, Reply};
use crate::error::Error;
use crate::keyspace::blocked::{Outcome, Waiter, Want};
use crate::keyspace::{Lookup, Store};
use crate::ops::list::PopShape;
use crate::ops::zset::ZPopShape;
use crate::tape::TapeWriter;
use crate::value::Kind;
use std::sync::Arc;

/// The reply of a `Try` or `Register` that left the client blocked.
pub const BLOCKED: &str = "BLOCKED";

/// A blocking-pop op.
#[derive(Clone, Debug)]
pub enum BlockOp {
    /// Write look-ups of `keys` in order up to the first that exists → a
    /// tape array of one code per key: 1 for a value of the wanted kind,
    /// -1 for another kind, 0 for absent (or not looked at).
    Probe {
        /// The keys, in command order.
        keys: ArgList,
        /// Sorted sets are wanted (else lists).
        zset: bool,
    },
    /// The first of `keys` that exists is served as the command would be
    /// (`many`: BLMPOP/BZMPOP's `[key, [...]]`; else `[key, element]`,
    /// `[key, member, score]`, or BLMOVE's element); WRONGTYPE when it
    /// holds another type. None exists: with `waiter`, it is registered on
    /// every key (→ `Status(BLOCKED)`); without, the command's nil.
    Try {
        /// The keys, in command order.
        keys: ArgList,
        /// What to do with the key.
        want: Want,
        /// The reply has BLMPOP/BZMPOP's shape.
        many: bool,
        /// The client to register when nothing is there.
        waiter: Option<Arc<Waiter>>,
    },
    /// Registers `waiter` on `keys` → `Status(BLOCKED)`.
    Register {
        /// The keys.
        keys: ArgList,
        /// The client.
        waiter: Arc<Waiter>,
    },
    /// Drops the registrations of client `client` → OK.
    Forget {
        /// The client's id.
        client: u64,
    },
}

impl BlockOp {
    pub(super) fn is_write(&self) -> bool {
        matches!(self, BlockOp::Try { .. })
    }

    pub(super) fn exec(&self, cx: &mut Cx) -> Reply {
        let r = match self {
            BlockOp::Probe { keys, zset } => probe(cx, *keys, *zset),
            BlockOp::Try {
                keys,
                want,
                many,
                waiter,
            } => try_pop(cx, *keys, want, *many, waiter.as_ref()),
            BlockOp::Register { keys, waiter } => {
                register(cx, *keys, waiter.clone());
                Ok(Reply::Status(BLOCKED))
            }
            BlockOp::Forget { client } => {
                cx.store.unblock(*client);
                Ok(Reply::Ok)
            }
        };
        r.unwrap_or_else(Reply::Err)
    }
}

fn kind_of(want: &Want) -> Kind {
    match want {
        Want::ZSet { .. } => Kind::ZSet,
        Want::Stream { .. } | Want::Group { .. } => Kind::Stream,
        _ => Kind::List,
    }
}

fn probe(cx: &mut Cx, keys: ArgList, zset: bool) -> Result<Reply, Error> {
    let args = cx.args;
    let want = if zset { Kind::ZSet } else { Kind::List };
    let mut codes = vec![0i64; keys.len as usize];
    for (i, k) in args.items(keys).enumerate() {
        if let Some(p) = cx.store.lookup(cx.db, k, cx.now_ms, Lookup::WRITE) {
            codes[i] = if cx.store.kind_at(p) == want { 1 } else { -1 };
            break;
        }
    }
    let mut w = TapeWriter::new(cx.out);
    w.array(codes.len());
    for c in codes {
        w.int(c);
    }
    Ok(w.finish())
}

fn register(cx: &mut Cx, keys: ArgList, waiter: Arc<Waiter>) {
    let args = cx.args;
    let keys: Vec<&[u8]> = args.items(keys).collect();
    cx.store.block(cx.db, &keys, waiter);
}

fn try_pop(
    cx: &mut Cx,
    keys: ArgList,
    want: &Want,
    many: bool,
    waiter: Option<&Arc<Waiter>>,
) -> Result<Reply, Error> {
    let args = cx.args;
    let kind = kind_of(want);
    for k in args.items(keys) {
        let found = cx
            .store
            .lookup_kind(cx.db, k, cx.now_ms, Lookup::WRITE, kind)
            .map_err(|_| Error::WrongType)?;
        if found.is_none() {
            continue;
        }
        return match want {
            Want::List { side, count } => {
                let (count, shape) = if many {
                    (Some(*count), PopShape::KeyMany)
                } else {
                    (None, PopShape::KeyOne)
                };
                list::pop_reply(cx, k, *side, count, shape)
            }
            Want::ZSet { max, count } => {
                let (count, shape) = if many {
                    (Some(*count), ZPopShape::KeyNested)
                } else {
                    (None, ZPopShape::KeyFlat)
                };
                zset::pop_reply(cx, k, *max, count, shape)
            }
            Want::Move { dst, from, to, .. } => list::move_one(cx, k, dst, *from, *to),
            // XREAD and XREADGROUP register with `Register`, never `Try`.
            Want::Stream { .. } | Want::Group { .. } => Err(Error::Syntax),
        };
    }
    if let Some(w) = waiter {
        register(cx, keys, w.clone());
        return Ok(Reply::Status(BLOCKED));
    }
    if matches!(want, Want::Move { .. }) {
        return Ok(Reply::Nil);
    }
    let mut w = TapeWriter::new(cx.out);
    w.nil_array();
    Ok(w.finish())
}

/// Serves the clients blocked on the keys that became ready, in the order
/// the keys became ready, each key's waiters first blocked first, as long
/// as the key holds something for them (Redis's
/// `handleClientsBlockedOnKeys`). Keys made ready while serving (a
/// BLMOVE's destination) are served in turn. Their answers are queued in
/// the store (`Store::post_served`).
pub fn serve_ready(store: &mut Store, persist: &mut Persist, now_ms: u64) {
    let args = Args::default();
    let mut out = Vec::new();
    loop {
        let ready = store.take_ready();
        if ready.is_empty() {
            return;
        }
        for e in ready {
            let db = e[0] as usize;
            let key = &e[1..];
            for w in store.waiters(&e) {
                if w.claimed() {
                    store.drop_waiter(&w);
                    continue;
                }
                if let Want::Group { .. } = &w.want {
                    serve_group(store, persist, db, key, &w, now_ms, &args, &mut out);
                    continue;
                }
                let Some(pos) = store.lookup(db, key, now_ms, Lookup::WRITE) else {
                    break;
                };
                if !w.want.takes(store.kind_at(pos)) {
                    // A waiter of the other kind keeps waiting, as in Redis.
                    continue;
                }
                if let Want::Stream { after, .. } = &w.want {
                    // An XREAD waits for an entry after its ID (a write
                    // that added none leaves it waiting).
                    let id = after.iter().find(|(k, _)| k == key).map(|(_, id)| *id);
                    let newer = match (store.value_at(pos), id) {
                        (
                            crate::keyspace::ValueRef::Obj(crate::value::Object::Stream(s)),
                            Some(id),
                        ) => s.top_id().is_some_and(|t| t > id),
                        _ => false,
                    };
                    if !newer {
                        continue;
                    }
                }
                if let Want::Move {
                    dst, here: true, ..
                } = &w.want
                {
                    let wrong = store
                        .lookup(db, dst, now_ms, Lookup::WRITE)
                        .is_some_and(|p| store.kind_at(p) != Kind::List);
                    if wrong {
                        if w.claim() {
                            store.served(&w, Outcome::WrongType);
                        } else {
                            store.drop_waiter(&w);
                        }
                        continue;
                    }
                }
                if !w.claim() {
                    store.drop_waiter(&w);
                    continue;
                }
                let retry = matches!(w.want, Want::Move { here: false, .. });
                let mut cx = Cx {
                    store,
                    db,
                    args: &args,
                    out: &mut out,
                    now_ms,
                    persist,
                };
                let outcome = serve(&mut cx, key, pos, &w.want);
                out.clear();
                store.served(&w, outcome);
                if retry {
                    // Its worker pops (or blocks again) holding both
                    // shards; the next waiter waits for what that leaves.
                    break;
                }
            }
        }
    }
}

/// Serves an XREADGROUP blocked on `key` (Redis 7.0's
/// `serveClientBlockedOnKey`): new entries past its group's last ID are
/// delivered to it; a key deleted or of another type answers UNBLOCKED, a
/// destroyed group NOGROUP.
#[allow(clippy::too_many_arguments)]
fn serve_group(
    store: &mut Store,
    persist: &mut Persist,
    db: usize,
    key: &[u8],
    w: &Arc<Waiter>,
    now_ms: u64,
    args: &Args,
    out: &mut Vec<u8>,
) {
    let Want::Group {
        group,
        consumer,
        count,
        noack,
    } = &w.want
    else {
        return;
    };
    let pos = store.lookup(db, key, now_ms, Lookup::WRITE);
    let stream = pos.and_then(|p| match store.value_at(p) {
        crate::keyspace::ValueRef::Obj(crate::value::Object::Stream(s)) => Some(s),
        _ => None,
    });
    let failed = match stream {
        None => Some("UNBLOCKED the stream key no longer exists"),
        Some(s) => match s.groups().get(&group[..]) {
            None => Some("NOGROUP the consumer group this client was blocked on no longer exists"),
            Some(g) => {
                if !s.top_id().is_some_and(|t| t > g.last_id) {
                    return;
                }
                None
            }
        },
    };
    if !w.claim() {
        store.drop_waiter(w);
        return;
    }
    if let Some(msg) = failed {
        store.served(w, Outcome::Failed(msg));
        return;
    }
    let Some(pos) = pos else {
        return;
    };
    let on = persist.log.enabled;
    let d = super::stream::group::deliver(
        store, pos, group, consumer, None, *count, *noack, now_ms, on,
    );
    let Some(d) = d else {
        store.served(w, Outcome::Retry);
        return;
    };
    let mut cx = Cx {
        store,
        db,
        args,
        out,
        now_ms,
        persist,
    };
    super::stream::group::log_delivery(&mut cx, key, d.recs, d.created);
    out.clear();
    let entries = d
        .entries
        .into_iter()
        .filter_map(|(id, p)| p.map(|p| (id, p)))
        .collect();
    store.served(
        w,
        Outcome::Stream {
            key: key.to_vec(),
            entries,
        },
    );
}

fn serve(cx: &mut Cx, key: &[u8], pos: u32, want: &Want) -> Outcome {
    match want {
        Want::List { side, count } => Outcome::Items {
            key: key.to_vec(),
            items: list::pop_elements(cx, key, pos, *side, clamp(*count)),
        },
        Want::ZSet { max, count } => Outcome::Scored {
            key: key.to_vec(),
            entries: zset::pop_entries(cx, key, pos, *max, clamp(*count)),
        },
        Want::Move {
            dst,
            from,
            to,
            here: true,
        } => {
            let (popped, emptied) = list::pop_for_move(cx, key, pos, *from);
            let Some(e) = popped else {
                return Outcome::Retry;
            };
            let one = [&e[..]];
            let pushed = list::push_elements(cx, dst, *to, Items::List(&one), false, Lookup::PEEK);
            list::move_reported(cx, key, *from, emptied);
            match pushed {
                Ok(_) => Outcome::Moved(e),
                Err(_) => Outcome::WrongType,
            }
        }
        Want::Move { here: false, .. } => Outcome::Retry,
        Want::Group { .. } => Outcome::Retry,
        Want::Stream { after, count } => {
            let id = after.iter().find(|(k, _)| k == key).map(|(_, id)| *id);
            Outcome::Stream {
                key: key.to_vec(),
                entries: id
                    .map(|id| super::stream::entries_after(cx.store, pos, id, *count))
                    .unwrap_or_default(),
            }
        }
    }
}

fn clamp(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
