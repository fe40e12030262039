//! Active defragmentation: records move out of pages that churn has left
//! mostly empty, so those pages can be given back.
//!
//! Rewrites of keys with values of other sizes move their records between
//! size classes, and a class that loses most of its records keeps pages
//! with a few live chunks each. Like Redis's `activedefrag`, the shard moves
//! such records a few at a time between batches, into the fullest pages of
//! their class, and the emptied pages go back to the allocator.

use super::{record, Store, LIVE};

/// Slack (bytes of pages not used by records) below which defragmentation
/// does not run: small shards are not worth the work.
const MIN_SLACK: usize = 4 << 20;

impl Store {
    /// True when enough of the arena is slack (over a tenth of it and over
    /// 4 MB) that `defrag_step` should run.
    pub fn wants_defrag(&self) -> bool {
        let slack = self.arena.slack();
        slack > MIN_SLACK && slack * 10 > self.arena.used()
    }

    /// Moves the records of sparse pages, at most about `budget` of them;
    /// returns how many moved. Resumes where the last step stopped.
    pub fn defrag_step(&mut self, budget: usize) -> usize {
        let mut moved = 0;
        let mut wrapped = false;
        while moved < budget {
            let Some(page) = self.arena.sparse(self.defrag_from) else {
                if wrapped || self.defrag_from == 0 {
                    self.defrag_from = 0;
                    return moved;
                }
                self.defrag_from = 0;
                wrapped = true;
                continue;
            };
            let mut live = Vec::new();
            self.arena.chunks_of(page, |pos, chunk| {
                if record::meta(chunk) & LIVE != 0 {
                    live.push(pos);
                }
            });
            for pos in live {
                self.relocate(pos);
                moved += 1;
            }
            self.defrag_from = page + 1;
        }
        moved
    }
}
