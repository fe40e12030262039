//! Shard-side operations: what a worker asks a shard to do, typed.
//!
//! An op is a variant of its family's enum with its own fields (keys and
//! values as spans of the batch's argument bytes, numbers as numbers); the
//! server builds it after parsing and checking the command's arguments, so
//! nothing invalid reaches a shard. Each family file holds its enum and
//! how each variant executes against the store; a new op touches only its
//! family file. An op answers a `Reply` (failures as typed `Error`s the
//! server words) and reports what it changed as AOF `Record`s through
//! `Cx::log`, the one way into the AOF.

pub mod block;
pub mod digest;
pub mod float;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod keys;
pub mod list;
#[cfg(test)]
mod lz_check;
#[cfg(test)]
pub(crate) mod redis_check;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
#[cfg(test)]
mod tests;
pub mod zset;

use crate::aof::{Aof, Log, Record};
use crate::batch::{Args, Batch, Reply, Span};
use crate::error::Error;
use crate::keyspace::Store;

pub use block::BlockOp;
pub use hash::HashOp;
pub use hll::HllOp;
pub use keys::KeyOp;
pub use list::ListOp;
pub use server::SrvOp;
pub use set::SetOp;
pub use sort::SortOp;
pub use stream::StreamOp;
pub use string::StrOp;
pub use zset::ZSetOp;

/// A shard-side operation.
#[derive(Clone, Debug)]
pub enum Op {
    /// Strings and bits.
    Str(StrOp),
    /// Any key: existence, TTLs, type, renames, copies, DUMP/RESTORE,
    /// introspection.
    Key(KeyOp),
    /// Hashes.
    Hash(HashOp),
    /// Sets, and the per-shard pieces of multi-shard set commands.
    Set(SetOp),
    /// Lists, and the pieces of LMOVE and LMPOP across shards.
    List(ListOp),
    /// Sorted sets, and the pieces of their multi-key commands.
    ZSet(ZSetOp),
    /// SORT, and its pieces across shards.
    Sort(SortOp),
    /// The whole shard: sizes, flushes, walks, limits, persistence.
    Srv(SrvOp),
    /// Blocking pops.
    Block(BlockOp),
    /// Streams.
    Stream(StreamOp),
    /// HyperLogLogs.
    Hll(HllOp),
}

impl From<StreamOp> for Op {
    fn from(o: StreamOp) -> Op {
        Op::Stream(o)
    }
}

impl From<HllOp> for Op {
    fn from(o: HllOp) -> Op {
        Op::Hll(o)
    }
}

impl From<BlockOp> for Op {
    fn from(o: BlockOp) -> Op {
        Op::Block(o)
    }
}

impl From<StrOp> for Op {
    fn from(o: StrOp) -> Op {
        Op::Str(o)
    }
}

impl From<KeyOp> for Op {
    fn from(o: KeyOp) -> Op {
        Op::Key(o)
    }
}

impl From<HashOp> for Op {
    fn from(o: HashOp) -> Op {
        Op::Hash(o)
    }
}

impl From<SetOp> for Op {
    fn from(o: SetOp) -> Op {
        Op::Set(o)
    }
}

impl From<ListOp> for Op {
    fn from(o: ListOp) -> Op {
        Op::List(o)
    }
}

impl From<ZSetOp> for Op {
    fn from(o: ZSetOp) -> Op {
        Op::ZSet(o)
    }
}

impl From<SortOp> for Op {
    fn from(o: SortOp) -> Op {
        Op::Sort(o)
    }
}

impl From<SrvOp> for Op {
    fn from(o: SrvOp) -> Op {
        Op::Srv(o)
    }
}

impl Op {
    /// True for ops that may change data: refused while the AOF cannot be
    /// written.
    pub fn is_write(&self) -> bool {
        match self {
            Op::Str(o) => o.is_write(),
            Op::Key(o) => o.is_write(),
            Op::Hash(o) => o.is_write(),
            Op::Set(o) => o.is_write(),
            Op::List(o) => o.is_write(),
            Op::ZSet(o) => o.is_write(),
            Op::Sort(o) => o.is_write(),
            Op::Srv(o) => o.is_write(),
            Op::Block(o) => o.is_write(),
            Op::Stream(o) => o.is_write(),
            Op::Hll(o) => o.is_write(),
        }
    }

    /// True for ops whose reply depends on the data: if the group they ran
    /// in is rolled back (its AOF records failed), a reply given after the
    /// group's first change may show a write that no longer exists.
    pub fn reads_data(&self) -> bool {
        match self {
            Op::Srv(o) => o.reads_data(),
            Op::Key(KeyOp::Watch { .. }) => false,
            _ => true,
        }
    }

    fn exec(&self, cx: &mut Cx) -> Reply {
        match self {
            Op::Str(o) => o.exec(cx),
            Op::Key(o) => o.exec(cx),
            Op::Hash(o) => o.exec(cx),
            Op::Set(o) => o.exec(cx),
            Op::List(o) => o.exec(cx),
            Op::ZSet(o) => o.exec(cx),
            Op::Sort(o) => o.exec(cx),
            Op::Srv(o) => o.exec(cx),
            Op::Block(o) => o.exec(cx),
            Op::Stream(o) => o.exec(cx),
            Op::Hll(o) => o.exec(cx),
        }
    }
}

/// A shard's persistence: the records of what it executed, and its segment.
#[derive(Default)]
pub struct Persist {
    /// Records waiting to be written.
    pub log: Log,
    /// The open segment, when the AOF is on.
    pub aof: Option<Aof>,
}

impl Persist {
    /// No persistence: nothing is recorded.
    pub fn off() -> Self {
        Persist::default()
    }

    /// Persistence to `aof`.
    pub fn on(aof: Aof) -> Self {
        Persist {
            log: Log::new(true),
            aof: Some(aof),
        }
    }
}

/// What an op executes against.
pub struct Cx<'a> {
    /// The shard's data.
    pub store: &'a mut Store,
    /// The database the op works on.
    pub db: usize,
    /// The batch's argument bytes.
    pub args: &'a Args,
    /// The batch's reply payload buffer.
    pub out: &'a mut Vec<u8>,
    /// Unix time in ms for the whole batch.
    pub now_ms: u64,
    /// The shard's persistence.
    pub persist: &'a mut Persist,
}

impl Cx<'_> {
    /// The bytes of an argument.
    #[inline]
    pub fn arg(&self, a: Span) -> &[u8] {
        self.args.get(a)
    }

    /// A bulk reply of `v`, copied into the payload buffer.
    #[inline]
    pub fn bulk(&mut self, v: &[u8]) -> Reply {
        bulk(self.out, v)
    }

    /// Records a change in the op's database.
    #[inline]
    pub fn log(&mut self, r: Record) {
        self.persist.log.put(self.db as u8, &r);
    }

    /// Records a change `rec` to `key` (which still exists), or, the first
    /// time a running rewrite meets the key, the key's whole state instead
    /// (see `aof::lists`, `aof::streams`). True in the latter case: the
    /// state covers whatever else the write would log.
    pub fn log_anchored(&mut self, key: &[u8], rec: Record) -> bool {
        if !self.persist.log.enabled {
            return false;
        }
        let db = self.db;
        if self.persist.log.anchor(db as u8, key) {
            if let Some(pos) = self.store.lookup(db, key, self.now_ms, crate::Lookup::PEEK) {
                let (value, at) = (self.store.value_at(pos), self.store.expire_of(pos));
                let log = &mut self.persist.log;
                log.put(db as u8, &Record::Del { key });
                Record::for_value(key, value, at, |r| log.put(db as u8, &r));
                return true;
            }
        }
        self.log(rec);
        false
    }

    /// Records a change in database `db`.
    #[inline]
    pub fn log_in(&mut self, db: usize, r: Record) {
        self.persist.log.put(db as u8, &r);
    }

    /// Reports keyspace event `name` of `class` for `key` in the op's
    /// database (Redis's `notifyKeyspaceEvent`; see `crate::notify`).
    #[inline]
    pub fn notify(&mut self, class: u32, name: &'static str, key: &[u8]) {
        self.store.notify(self.db, class, name, key);
    }

    /// `notify` for an argument.
    #[inline]
    pub fn notify_arg(&mut self, class: u32, name: &'static str, key: Span) {
        self.store.notify(self.db, class, name, self.args.get(key));
    }

    /// Evicts by policy until the store is within `maxmemory`, for a write
    /// that may grow memory (Redis's `denyoom` commands).
    #[inline]
    pub fn make_room(&mut self) -> Result<(), Error> {
        self.store.make_room().map_err(|_| Error::Oom)
    }
}

/// A source of uniform random numbers for one op: `rand(n)` is below `n`
/// (never called with 0). Seeded from the store's generator.
pub(crate) fn rng(store: &mut Store) -> impl FnMut(u64) -> u64 {
    let mut state = store.random_u64() | 1;
    move |n| crate::keyspace::next_random(&mut state) % n
}

/// A bulk reply of `v` copied into `out`.
#[inline]
pub fn bulk(out: &mut Vec<u8>, v: &[u8]) -> Reply {
    let start = out.len();
    out.extend_from_slice(v);
    Reply::Bulk(Span::new(start, out.len()))
}

/// Executes every op of `batch` against `store`, filling `batch.replies` and
/// recording every change in `persist.log` (written later, once per group).
///
/// Only ops without a reply yet run: a worker may send the same batch again
/// within one round with more ops appended (an atomic section that needs a
/// reply before it can build its next step), and earlier replies stay.
pub fn execute(store: &mut Store, batch: &mut Batch, now_ms: u64, persist: &mut Persist) {
    execute_serving(store, batch, now_ms, persist, false);
}

/// `execute`; with `serve` (a batch outside any section), clients blocked
/// on keys an op made ready are served before the next op, as Redis serves
/// them after each command, except between the ops of a transaction.
pub fn execute_serving(
    store: &mut Store,
    batch: &mut Batch,
    now_ms: u64,
    persist: &mut Persist,
    serve: bool,
) {
    batch.ran_from = batch.replies.len();
    batch.dirty_from = usize::MAX;
    if batch.ran_from == batch.ops.len() {
        // A hold or a release alone: nothing runs at `now_ms` (which the
        // shard may not have read, see `Core::run_group`).
        return;
    }
    store.tick(now_ms);
    let mut in_txn = false;
    for i in batch.ran_from..batch.ops.len() {
        let txn = batch.ops[i].txn;
        if serve && !(txn && in_txn) && store.has_ready() && persist.log.refuse_writes.is_none() {
            block::serve_ready(store, persist, now_ms);
        }
        in_txn = txn;
        if batch.dirty_from == usize::MAX && persist.log.has_pending() {
            batch.dirty_from = i;
        }
        let q = &batch.ops[i];
        store.set_no_touch(q.no_touch);
        store.new_access();
        if q.track != 0 || store.tracker().is_some() {
            store.set_tracker(batch.tracker_of(i));
        }
        store.set_allow_oom(q.allow_oom);
        let reply = match &persist.log.refuse_writes {
            Some(why) if q.op.is_write() => Reply::Err(Error::Misconf(why.clone())),
            _ => {
                let mut cx = Cx {
                    store,
                    db: q.db as usize,
                    args: &batch.args,
                    out: &mut batch.out,
                    now_ms,
                    persist,
                };
                q.op.exec(&mut cx)
            }
        };
        store.drain_evicted(|db, key| persist.log.put(db, &Record::Del { key }));
        batch.replies.push(reply);
    }
    store.set_no_touch(false);
    store.set_tracker(None);
    store.set_allow_oom(false);
}

/// Redis's `string2ll`: an optional `-`, no leading zeros, no spaces, fits in i64.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        (v <= i64::MAX as u64 + 1).then(|| (v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for op tests: a batch built from typed ops.
    use super::*;

    /// Runs `ops` (built with `b` so they can push arguments) in one batch.
    pub fn run(
        store: &mut Store,
        persist: &mut Persist,
        now_ms: u64,
        build: impl FnOnce(&mut Batch),
    ) -> Batch {
        let mut b = Batch::new(0, 0);
        build(&mut b);
        execute(store, &mut b, now_ms, persist);
        b
    }

    /// Persistence that records but writes nowhere.
    pub fn logging() -> Persist {
        Persist {
            log: Log::new(true),
            aof: None,
        }
    }

    /// The bytes of a bulk reply.
    pub fn bulk_of(b: &Batch, r: &Reply) -> Vec<u8> {
        match r {
            Reply::Bulk(s) => b.payload(*s).to_vec(),
            other => panic!("not a bulk: {other:?}"),
        }
    }

    /// The records logged so far, as text.
    pub fn log_text(p: &Persist) -> String {
        String::from_utf8_lossy(p.log.pending_bytes()).into_owned()
    }
}
