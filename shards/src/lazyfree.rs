//! Lazy free: big values are freed on a background thread, not on the
//! shard thread that removed them (Redis's `lazyfree.c`).
//!
//! ```text
//!   shard 0..N ──Garbage (channel)──▶ lazy-free thread: drop(...)
//! ```
//!
//! Freeing a collection of millions of elements takes milliseconds to
//! seconds, and a shard that did it inline would stall every request
//! queued behind the DEL, the eviction or the expiry that removed it. A
//! removed value whose `free_effort` (the allocations its drop frees) is
//! above `THRESHOLD` is sent to one thread per engine instead; anything
//! smaller is dropped where it is, since a channel send costs more than a
//! small free. A FLUSHALL hands over the whole old keyspace at once.
//!
//! The memory accounting does not wait: a store stops counting a value
//! when it removes it. The process's RSS follows once the thread has
//! dropped it.

use crate::keyspace::Store;
use crate::value::Object;
use crossbeam_channel::{unbounded, Sender};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Free effort above which a value is freed in the background (Redis's
/// `LAZYFREE_THRESHOLD`).
pub const THRESHOLD: usize = 64;

/// What the lazy-free thread drops (held only to be dropped there).
#[allow(dead_code)]
enum Garbage {
    Object(Object),
    Store(Box<Store>),
}

/// Counters of the lazy-free thread (Redis's `lazyfree_pending_objects`
/// and `lazyfreed_objects`).
#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    freed: AtomicU64,
}

/// A shard's handle on the engine's lazy-free thread. Cloned into every
/// store; the thread ends when the last handle is dropped.
#[derive(Clone)]
pub struct LazyFree {
    tx: Sender<Garbage>,
    counters: Arc<Counters>,
}

impl LazyFree {
    /// Starts the lazy-free thread; returns a handle for the stores and
    /// the thread to join once every handle is gone.
    pub fn spawn() -> std::io::Result<(LazyFree, JoinHandle<()>)> {
        let (tx, rx) = unbounded::<Garbage>();
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let thread = std::thread::Builder::new()
            .name("lazy-free".into())
            .spawn(move || {
                for g in rx {
                    drop(g);
                    c.freed.fetch_add(1, Ordering::Relaxed);
                }
            })?;
        Ok((LazyFree { tx, counters }, thread))
    }

    /// Frees `o`: on the lazy-free thread when it is big, here otherwise.
    pub fn free(&self, o: Object) {
        if o.free_effort() > THRESHOLD {
            self.send(Garbage::Object(o));
        }
    }

    /// Frees a whole store (FLUSHALL's old keyspace) on the lazy-free
    /// thread, unless it holds next to nothing.
    pub fn free_store(&self, s: Store) {
        if s.free_effort() > THRESHOLD {
            self.send(Garbage::Store(Box::new(s)));
        }
    }

    fn send(&self, g: Garbage) {
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        // The thread outlives every handle, so a send only fails while the
        // process exits; the value is then dropped here.
        if self.tx.send(g).is_err() {
            self.counters.freed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Values handed over and not freed yet.
    pub fn pending(&self) -> u64 {
        let sent = self.counters.sent.load(Ordering::Relaxed);
        sent.saturating_sub(self.counters.freed.load(Ordering::Relaxed))
    }

    /// Values the thread freed since it started.
    pub fn freed(&self) -> u64 {
        self.counters.freed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{SetLimits, SetValue};

    fn big_set(n: usize) -> Object {
        let mut s = SetValue::new();
        for i in 0..n {
            s.add(format!("member:{i}").as_bytes(), &SetLimits::default());
        }
        Object::Set(s)
    }

    #[test]
    fn big_values_go_to_the_thread_small_ones_do_not() {
        let (lazy, thread) = LazyFree::spawn().unwrap();
        lazy.free(Object::Str(vec![1; 100]));
        assert_eq!(lazy.counters.sent.load(Ordering::Relaxed), 0);
        let big = big_set(200_000);
        assert!(big.free_effort() > THRESHOLD, "{}", big.free_effort());
        lazy.free(big);
        assert_eq!(lazy.counters.sent.load(Ordering::Relaxed), 1);
        let copy = lazy.clone();
        drop(lazy);
        drop(copy);
        thread.join().unwrap();
    }

    /// A store hands big values over wherever it drops them: DEL, an
    /// overwrite, FLUSHALL, and the undo journal once a group is final.
    #[test]
    fn stores_hand_big_values_over_where_they_drop_them() {
        use crate::keyspace::{Expiry, Limits, Lookup};
        let (lazy, thread) = LazyFree::spawn().unwrap();
        let sent = |l: &LazyFree| l.counters.sent.load(Ordering::Relaxed);
        for journal in [false, true] {
            let mut store = Store::new(Limits::default());
            store.set_lazy_free(Some(lazy.clone()));
            store.set_journaling(journal);
            let before = sent(&lazy);
            store.insert_object(0, b"a", big_set(100_000), 0).unwrap();
            store.insert_object(0, b"b", big_set(100_000), 0).unwrap();
            store.insert_object(0, b"small", big_set(3), 0).unwrap();
            store.forget();
            let pos = store.lookup(0, b"a", 0, Lookup::PEEK).unwrap();
            store.remove_at(pos);
            let pos = store.lookup(0, b"small", 0, Lookup::PEEK).unwrap();
            store.remove_at(pos);
            store
                .set(0, b"b", b"a string now", Expiry::Clear, 0)
                .unwrap();
            // Journaled, the values wait for the group to be final.
            assert_eq!(sent(&lazy) - before, if journal { 0 } else { 2 });
            store.forget();
            assert_eq!(sent(&lazy) - before, 2, "journal {journal}");
            for i in 0..100 {
                store
                    .set(0, format!("k{i}").as_bytes(), b"v", Expiry::Clear, 0)
                    .unwrap();
            }
            store.forget();
            store.flush_all();
            store.forget();
            assert_eq!(sent(&lazy) - before, 3, "journal {journal}");
        }
        drop(lazy);
        thread.join().unwrap();
    }

    /// `cargo test -p shards --release --lib lazy_free_timing -- --ignored --nocapture`:
    /// how long removing a big collection blocks the shard, with the value
    /// freed inline and on the lazy-free thread, with and without the undo
    /// journal (which keeps a removed value until the group's records are
    /// written, then frees it in `forget`).
    #[test]
    #[ignore]
    fn lazy_free_timing() {
        use crate::keyspace::{Limits, Lookup};
        use crate::value::{HashLimits, HashValue};
        use std::time::{Duration, Instant};
        let small_set = || big_set(5_000_000);
        let big_members = || {
            let mut s = SetValue::new();
            let pad = "x".repeat(3000);
            for i in 0..100_000 {
                s.add(format!("{i}{pad}").as_bytes(), &SetLimits::default());
            }
            Object::Set(s)
        };
        let hash = || {
            let mut h = HashValue::new();
            for i in 0..2_000_000 {
                h.set(
                    format!("field:{i}").as_bytes(),
                    b"value",
                    &HashLimits::default(),
                );
            }
            Object::Hash(h)
        };
        let cases: [(&str, &dyn Fn() -> Object); 3] = [
            ("set of 5,000,000 members", &small_set),
            ("set of 100,000 3 KB members", &big_members),
            ("hash of 2,000,000 fields", &hash),
        ];
        for (name, make) in cases {
            for journal in [false, true] {
                for lazy_on in [false, true] {
                    let (lazy, thread) = LazyFree::spawn().unwrap();
                    let mut store = Store::new(Limits::default());
                    store.set_journaling(journal);
                    if lazy_on {
                        store.set_lazy_free(Some(lazy.clone()));
                    }
                    store.insert_object(0, b"big", make(), 0).unwrap();
                    store.forget();
                    let used = store.used_memory();
                    let pos = store.lookup(0, b"big", 0, Lookup::PEEK).unwrap();
                    let t = Instant::now();
                    store.remove_at(pos);
                    store.forget();
                    let blocked = t.elapsed();
                    drop(store);
                    drop(lazy);
                    let t = Instant::now();
                    thread.join().unwrap();
                    let bg = if lazy_on { t.elapsed() } else { Duration::ZERO };
                    println!(
                        "DEL of a {name} ({} MB), journal {}, lazy free {}: shard blocked {blocked:?}, freed in the background in {bg:?}",
                        used >> 20,
                        if journal { "on " } else { "off" },
                        if lazy_on { "on " } else { "off" },
                    );
                }
            }
        }
    }
}
