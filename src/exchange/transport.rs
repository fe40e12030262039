//! Rounds travel: sending the batches of a round (under the order lock when
//! it spans shards), waiting for and matching the replies, and sections that
//! hold shards over several exchanges.

use super::{Round, Router};
use shards::shard::Bell;
use shards::Batch;
use std::sync::Arc;
use std::time::Instant;

impl Router {
    /// Asks the worker to run the current command again after this round is
    /// delivered, with `in_section()` true, before the connection's next
    /// command. The connection's later commands wait until then.
    /// Called before the command is counted: it counts when it runs.
    pub fn defer(&mut self) {
        self.deferred = true;
    }

    /// True (and reset) when the last dispatched command deferred itself.
    pub fn take_deferred(&mut self) -> bool {
        std::mem::take(&mut self.deferred)
    }

    /// True while a deferred command runs (it may `hold`, `exchange`, `release`).
    pub fn in_section(&self) -> bool {
        self.section
    }

    /// Marks the start or end of a deferred command's run.
    pub fn set_section(&mut self, on: bool) {
        self.section = on;
    }

    /// Takes shard `shard` for the current section at the next exchange.
    ///
    /// A section must take all its shards before its first exchange: the
    /// holds then travel in one send under the order lock, so two sections
    /// always queue behind each other in the same order on every shard they
    /// share. Taking one more shard after an exchange could wait on a
    /// section that waits on this one.
    pub fn hold(&mut self, shard: usize) {
        if !self.held[shard] {
            debug_assert!(
                !self.holds_sent,
                "shard {shard} taken after the section's first exchange"
            );
            self.held[shard] = true;
            let id = self.section_id();
            let batch = &mut self.round.batches[shard];
            batch.hold = true;
            batch.section = id;
        }
    }

    /// The current section's id, taken at its first hold.
    fn section_id(&mut self) -> u64 {
        if self.section_id == 0 {
            self.section_id = shards::aof::new_section_id();
        }
        self.section_id
    }

    /// Takes shard `shard` for the current section after its first
    /// exchange, if that can be done without waiting: the shard is idle
    /// (nothing queued, nobody holding it), so taking it now is what a hold
    /// sent now would do, and no section can be waiting for it. Taken under
    /// the order lock, like every hold. False (nothing taken) otherwise
    /// (`hold_late_queued` decides whether a busy shard may be waited for).
    fn hold_late(&mut self, shard: usize) -> bool {
        if self.held[shard] {
            return true;
        }
        if self.round.batches[shard].must_send() {
            return false;
        }
        let id = self.section_id();
        let _guard = self.order.lock().unwrap_or_else(|p| p.into_inner());
        let batch = &mut self.round.batches[shard];
        batch.hold = true;
        batch.section = id;
        let taken = self.to_shards[shard].run_here(batch);
        batch.hold = false;
        if taken {
            self.held[shard] = true;
        }
        taken
    }

    /// Runs the ops sent from now on at `now_ms` (Unix ms; 0: the shards
    /// read the clock), as Redis runs a script's commands at its start.
    pub fn freeze_clock(&mut self, now_ms: u64) {
        self.frozen_ms = now_ms;
    }

    /// `hold_late`, or, for a shard that is busy but that no section holds
    /// or is queued to take, a hold sent through its queue and waited for:
    /// every batch ahead of it is an ordinary one that runs without this
    /// worker, and every hold sent later queues behind it (holds are sent
    /// under the order lock, held here while looking). False, nothing
    /// taken, when another section holds the shard or waits in its queue:
    /// it could be waiting for a shard this section holds.
    pub fn hold_late_queued(&mut self, shard: usize) -> bool {
        if self.hold_late(shard) {
            return true;
        }
        if self.round.batches[shard].must_send() {
            return false;
        }
        let id = self.section_id();
        {
            let _guard = self.order.lock().unwrap_or_else(|p| p.into_inner());
            let tx = &self.to_shards[shard];
            if tx.held_by_other(self.worker) || tx.holds_queued() > 0 {
                return false;
            }
            let batch = &mut self.round.batches[shard];
            batch.hold = true;
            batch.section = id;
            batch.now_ms = self.frozen_ms;
            let batch = std::mem::take(batch);
            if tx.send(batch).is_err() {
                panic!("shard {shard} exited");
            }
            self.round.awaiting[shard] = true;
            self.round.outstanding += 1;
        }
        self.held[shard] = true;
        while self.round.outstanding > 0 {
            let batch = self.next_reply();
            self.round.accept(batch);
        }
        true
    }

    /// Ends the section on every held shard at the next exchange.
    pub fn release(&mut self) {
        self.holds_sent = false;
        self.section_id = 0;
        for (s, h) in self.held.iter_mut().enumerate() {
            if std::mem::take(h) {
                self.round.batches[s].release = true;
            }
        }
    }

    /// Orders this exchange's sends (a command whose ops were routed one by
    /// one, such as EXEC's queued commands, spans several shards).
    pub fn mark_ordered(&mut self) {
        self.ordered = true;
    }

    /// True while some shard is held.
    pub fn holding(&self) -> bool {
        self.held.iter().any(|&h| h)
    }

    /// Sends every batch of the round being built that has new ops (or a
    /// hold or release) to its shard, one send each. Multi-shard rounds and
    /// holds are sent under the order lock; the wait for replies never is.
    fn send(&mut self) {
        let takes_hold = self.round.batches.iter().any(|b| b.hold);
        // A section released before its first exchange (a script that
        // called nothing) sends hold and release together and is over.
        self.holds_sent |= takes_hold && self.holding();
        let guard = (self.ordered || takes_hold)
            .then(|| self.order.lock().unwrap_or_else(|p| p.into_inner()));
        // A shard's batches are answered in the order they reach it: one may
        // run here only when no earlier one of this worker's awaits it. An
        // ordered round runs here only on shards its section holds (or
        // releases): elsewhere its place among other multi-shard rounds is
        // what the order lock decides.
        for (shard, tx) in self.to_shards.iter().enumerate() {
            if self.round.batches[shard].must_send() {
                self.round.batches[shard].now_ms = self.frozen_ms;
                // Holds are taken here only under the order lock (taken
                // above for any round with a hold).
                let mine = self.held[shard] || self.round.batches[shard].release;
                if (!self.ordered || mine)
                    && !self.inflight.iter().any(|r| r.awaiting[shard])
                    && tx.run_here(&mut self.round.batches[shard])
                {
                    let batch = &mut self.round.batches[shard];
                    batch.hold = false;
                    batch.release = false;
                    continue;
                }
                let batch = std::mem::take(&mut self.round.batches[shard]);
                if tx.send(batch).is_err() {
                    panic!("shard {shard} exited");
                }
                self.round.awaiting[shard] = true;
                self.round.outstanding += 1;
            }
        }
        drop(guard);
        self.ordered = false;
    }

    /// Sends every batch with new ops (or a hold or release) to its shard,
    /// one send each, and waits for all of them. Ops that ran in an earlier
    /// exchange of this round do not run again. Only with no round in
    /// flight (a section, or a harness): their replies share the queue.
    pub fn exchange(&mut self) {
        debug_assert!(self.inflight.is_empty(), "exchange with rounds in flight");
        self.send();
        while self.round.outstanding > 0 {
            let batch = self.next_reply();
            self.round.accept(batch);
        }
    }

    /// Sends the round being built without waiting for its replies and
    /// starts a new one: the worker serves other connections while the
    /// shards execute (and, under `appendfsync always`, fsync) this one.
    /// Shards answer a worker's batches in the order it sent them, so
    /// rounds complete in order. Not inside a section.
    pub fn submit(&mut self, start: Option<Instant>) {
        debug_assert!(!self.section && !self.holding(), "submit inside a section");
        self.send();
        self.round.start = start;
        let next = self
            .spare
            .pop()
            .unwrap_or_else(|| Round::new(self.worker, self.to_shards.len(), self.commands));
        let sent = std::mem::replace(&mut self.round, next);
        self.inflight.push_back(sent);
    }

    /// Waits for replies by parking on `bell` (see `shards::shard::Bell`).
    pub fn set_bell(&mut self, bell: Arc<Bell>) {
        self.bell = Some(bell);
    }

    /// The next reply, waiting for it.
    fn next_reply(&self) -> Batch {
        let Some(bell) = &self.bell else {
            return self.replies.recv().expect("shard thread exited");
        };
        loop {
            match self.replies.try_recv() {
                Ok(b) => return b,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    panic!("shard threads exited")
                }
                Err(crossbeam_channel::TryRecvError::Empty) => {
                    bell.park_unless(|| !self.replies.is_empty());
                }
            }
        }
    }

    /// True while a submitted round is not delivered.
    pub fn in_flight(&self) -> bool {
        !self.inflight.is_empty()
    }

    /// Rounds in flight.
    pub fn rounds_in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// Waits until the oldest round in flight is complete, taking every
    /// reply that arrives meanwhile.
    pub fn collect_oldest(&mut self) {
        while self.inflight.front().is_some_and(|r| r.outstanding > 0) {
            let batch = self.next_reply();
            let shard = batch.shard;
            match self.inflight.iter_mut().find(|r| r.awaiting[shard]) {
                Some(r) => r.accept(batch),
                None => debug_assert!(false, "a reply from shard {shard} for no round"),
            }
        }
        self.collect(false);
    }

    /// Takes the replies that have arrived, without waiting; with `block`,
    /// waits until every round in flight is complete.
    pub fn collect(&mut self, block: bool) {
        loop {
            let batch = if block && self.inflight.iter().any(|r| r.outstanding > 0) {
                self.next_reply()
            } else {
                match self.replies.try_recv() {
                    Ok(b) => b,
                    Err(_) => return,
                }
            };
            // A shard's replies to this worker come in the order it sent
            // them: this one belongs to the oldest round still awaiting it.
            let shard = batch.shard;
            match self.inflight.iter_mut().find(|r| r.awaiting[shard]) {
                Some(r) => r.accept(batch),
                None => debug_assert!(false, "a reply from shard {shard} for no round"),
            }
        }
    }
}
