//! The exact LRU list, threaded through the records' `prev`/`next` links.
//!
//! Every read or write of a key moves it to the head in O(1); eviction
//! takes the tail. Exact, where Redis samples: with the links in the record
//! it costs 8 bytes a key and no allocation.

use super::{record, Store};
use crate::arena::NIL;

impl Store {
    pub(super) fn link_front(&mut self, pos: u32) {
        let old = self.head;
        {
            let c = self.arena.chunk_mut(pos);
            record::set_prev(c, NIL);
            record::set_next(c, old);
        }
        if old != NIL {
            record::set_prev(self.arena.chunk_mut(old), pos);
        } else {
            self.tail = pos;
        }
        self.head = pos;
    }

    fn link_back(&mut self, pos: u32) {
        let old = self.tail;
        {
            let c = self.arena.chunk_mut(pos);
            record::set_prev(c, old);
            record::set_next(c, NIL);
        }
        if old != NIL {
            record::set_next(self.arena.chunk_mut(old), pos);
        } else {
            self.head = pos;
        }
        self.tail = pos;
    }

    /// Makes the record at `pos` look last used `idle_secs` ago (RESTORE
    /// ... IDLETIME): its access clock goes back by that much, and when
    /// that is at least as long ago as the LRU tail's last use it becomes
    /// the tail, the first to be evicted; otherwise it stays where it is.
    /// As Redis's `objectSetLRUOrLFU`, ignored under an LFU policy.
    pub fn set_idle(&mut self, pos: u32, idle_secs: u64) {
        if self.lfu_on {
            return;
        }
        let idle = idle_secs.min(record::LRU_MASK as u64) as u32;
        let clock = self.clock().wrapping_sub(idle) & record::LRU_MASK;
        let older_than_tail = self.tail != NIL && idle >= self.idle_at(self.tail);
        let c = self.arena.chunk_mut(pos);
        let m = record::meta(c);
        record::set_meta(c, record::with_clock(m, clock));
        if older_than_tail && self.tail != pos {
            self.unlink(pos);
            self.link_back(pos);
        }
    }

    pub(super) fn unlink(&mut self, pos: u32) {
        let (prev, next) = {
            let c = self.arena.chunk(pos);
            (record::prev(c), record::next(c))
        };
        if prev != NIL {
            record::set_next(self.arena.chunk_mut(prev), next);
        } else {
            self.head = next;
        }
        if next != NIL {
            record::set_prev(self.arena.chunk_mut(next), prev);
        } else {
            self.tail = prev;
        }
    }

    /// Points the neighbours of a record that moved from `old` to `new`
    /// (its links `prev`/`next` already copied) at its new place.
    pub(super) fn relink(&mut self, old: u32, new: u32, prev: u32, next: u32) {
        if prev != NIL {
            record::set_next(self.arena.chunk_mut(prev), new);
        } else if self.head == old {
            self.head = new;
        }
        if next != NIL {
            record::set_prev(self.arena.chunk_mut(next), new);
        } else if self.tail == old {
            self.tail = new;
        }
    }

    /// Marks the record at `pos` used now: access clock (or LFU counter)
    /// and LRU head. The list is kept under LFU too, so that switching back
    /// to an LRU policy finds it exact.
    #[inline]
    pub(super) fn touch(&mut self, pos: u32) {
        let clock = if self.lfu_on {
            self.lfu_hit(pos)
        } else {
            self.clock()
        };
        let c = self.arena.chunk_mut(pos);
        let m = record::meta(c);
        record::set_meta(c, record::with_clock(m, clock));
        if self.head != pos {
            self.unlink(pos);
            self.link_front(pos);
        }
    }

    /// Keys from least to most recently used, for tests and diagnostics.
    pub fn lru_order(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(self.live);
        let mut cur = self.tail;
        while cur != NIL {
            out.push(self.key_at(cur).to_vec());
            cur = record::prev(self.arena.chunk(cur));
        }
        out
    }
}
