//! Building a round: every command routed in a poll round leaves a pending
//! reply, and its ops join the batch of their shard.

use super::{Merge, OpRef, Pending, Router};
use shards::batch::Args;
use shards::{Arg, Batch, Op, Reply};

impl Router {
    /// The command being routed (`set_command`) passed its checks and
    /// runs: its next reply counts it as a call (once it is encoded), and
    /// its error replies are failed calls, not rejected ones.
    pub fn count_call(&mut self) {
        self.next_executed = true;
        self.cur_ran = true;
    }

    /// Records a reply the worker produces itself; `write` encodes it.
    pub fn reply(&mut self, conn: usize, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.round.imm.len();
        write(&mut self.round.imm);
        let len = self.round.imm.len() - start;
        let executed = std::mem::take(&mut self.next_executed);
        self.round.pending.push(Pending {
            conn,
            merge: Merge::Immediate { start, len },
            first: 0,
            count: 0,
            executed,
            flags: self.conn_flags,
            cmd: self.cur_cmd,
            ran: self.cur_ran,
        });
    }

    /// Starts a command whose reply merges sub-op replies; add them with
    /// `key_op` / `each_shard_op`.
    pub fn begin(&mut self, conn: usize, merge: Merge) {
        let executed = std::mem::take(&mut self.next_executed);
        self.round.pending.push(Pending {
            conn,
            merge,
            first: self.round.subs.len() as u32,
            count: 0,
            executed,
            flags: self.conn_flags,
            cmd: self.cur_cmd,
            ran: self.cur_ran,
        });
    }

    /// Sets the big arguments of the command about to be routed (see `bigs`).
    pub fn share_bigs(&mut self, bigs: &[shards::batch::BigArg]) {
        if !self.bigs.is_empty() || !bigs.is_empty() {
            self.bigs.clear();
            self.bigs.extend_from_slice(bigs);
        }
    }

    fn push_raw(&mut self, shard: usize, db: u8, build: impl FnOnce(&mut Args) -> Op) -> OpRef {
        let b = &mut self.round.batches[shard];
        // A big argument of the command (the very bytes, not a copy made by
        // its handler) is shared with the batch, not copied into it.
        b.args.offer(&self.bigs);
        let op = build(&mut b.args);
        b.args.offer(&[]);
        let idx = b.push(db, op);
        if self.no_touch {
            b.set_no_touch(idx);
        }
        if let Some(t) = self.tracker {
            b.set_tracker(idx, t);
        }
        if self.txn {
            b.set_txn(idx);
        }
        if self.allow_oom {
            b.set_allow_oom(idx);
        }
        OpRef {
            shard: shard as u32,
            idx,
        }
    }

    fn push_op(&mut self, shard: usize, db: u8, build: impl FnOnce(&mut Args) -> Op) {
        let r = self.push_raw(shard, db, build);
        if let Some(p) = self.round.pending.last_mut() {
            if p.count > 0 && self.round.subs[p.first as usize].0 != r.shard {
                self.ordered = true;
            }
            p.count += 1;
        }
        self.round.subs.push((r.shard, r.idx));
    }

    /// Adds an op whose reply the caller reads itself with `reply_of` after
    /// the next `exchange` (a step of a multi-step command); no pending
    /// command owns it.
    pub fn step_op(&mut self, shard: usize, db: u8, build: impl FnOnce(&mut Args) -> Op) -> OpRef {
        self.push_raw(shard, db, build)
    }

    /// The reply to a `step_op`, and the batch its payload lives in.
    pub fn reply_of(&self, r: OpRef) -> (&Batch, &Reply) {
        let b = &self.round.batches[r.shard as usize];
        (b, &b.replies[r.idx as usize])
    }

    /// Adds to the current command an op on `key`, on the key's shard:
    /// `build` gets the batch's arguments and the key, pushed first.
    #[inline]
    pub fn key_op(&mut self, db: u8, key: &[u8], build: impl FnOnce(&mut Args, Arg) -> Op) {
        let shard = self.shard_of(key);
        self.push_op(shard, db, |a| {
            let k = a.push(key);
            build(a, k)
        });
    }

    /// Adds to the current command an op for one shard.
    pub fn shard_op(&mut self, shard: usize, db: u8, build: impl FnOnce(&mut Args) -> Op) {
        self.push_op(shard, db, build);
    }

    /// Adds to the current command the same op for every shard.
    pub fn each_shard_op(&mut self, db: u8, build: impl Fn(&mut Args) -> Op) {
        for shard in 0..self.round.batches.len() {
            self.push_op(shard, db, &build);
        }
    }

    /// Records which connection has replies in the round being built.
    pub fn note_conn(&mut self, token: usize) {
        self.round.conns.push(token);
    }

    /// Number of replies recorded in the round being built.
    pub fn pending_len(&self) -> usize {
        self.round.pending.len()
    }
}
