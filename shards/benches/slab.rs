//! Store operations at 1,000,000 keys (16-byte keys, 32-byte values), and
//! `exec::execute` over batches of GETs.
//!
//! Each store is filled once, outside the timed loop. Keys are visited in a
//! scattered order (a stride coprime to the key count) so that consecutive
//! ops touch unrelated slab slots and index buckets, as real traffic does;
//! walking the keys in insertion order would walk the slab sequentially.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-bench cargo bench -p shards --bench slab`

use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput,
};
use shards::ops::string::StrOp;
use shards::ops::{self as exec, Persist};
use shards::{Batch, EvictionPolicy, Expiry, Limits, Store};
use std::time::{Duration, Instant};

/// Keys in every store.
const N: usize = 1_000_000;
const KEY_LEN: usize = 16;
const VALUE_LEN: usize = 32;
/// Odd and not a multiple of 5, so coprime to `N` and to `2 * N`: `i * STRIDE % N` visits every key.
const STRIDE: usize = 618_033;
/// New keys inserted per timed chunk of the insert bench before they are removed again
/// (untimed), so the store stays between 1.0M and 1.1M keys without an index resize.
const INSERT_CHUNK: usize = 100_000;
/// No key carries a TTL, so the clock only has to be a constant.
const NOW: u64 = 1_700_000_000_000;

/// `count` distinct 16-byte keys `<prefix><zero-padded index>`, stored flat.
struct Keys(Vec<u8>);

impl Keys {
    fn new(prefix: &str, count: usize) -> Self {
        let width = KEY_LEN - prefix.len();
        let mut flat = Vec::with_capacity(count * KEY_LEN);
        for i in 0..count {
            let k = format!("{prefix}{i:0width$}");
            assert_eq!(k.len(), KEY_LEN);
            flat.extend_from_slice(k.as_bytes());
        }
        Keys(flat)
    }
    fn len(&self) -> usize {
        self.0.len() / KEY_LEN
    }
    fn get(&self, i: usize) -> &[u8] {
        &self.0[i * KEY_LEN..(i + 1) * KEY_LEN]
    }
    /// The `i`-th key of the scattered visiting order.
    fn scattered(&self, i: usize) -> &[u8] {
        self.get(i.wrapping_mul(STRIDE) % self.len())
    }
}

fn values() -> [[u8; VALUE_LEN]; 2] {
    [[b'a'; VALUE_LEN], [b'b'; VALUE_LEN]]
}

/// A store holding the first `count` of `keys`.
fn filled(keys: &Keys, count: usize, limits: Limits) -> Store {
    let mut s = Store::new(limits);
    let v = values()[0];
    for i in 0..count {
        s.set(0, keys.get(i), &v, Expiry::Clear, NOW).unwrap();
    }
    assert_eq!(s.len(), count);
    s
}

fn bench_store(c: &mut Criterion) {
    let keys = Keys::new("key:", N);
    let vals = values();
    let mut g = c.benchmark_group("store_1M");
    g.throughput(Throughput::Elements(1));

    {
        let mut store = filled(&keys, N, Limits::default());

        // SET of a key that does not exist: allocation, slab slot, index insert, LRU head.
        // Timed in chunks of at most INSERT_CHUNK new keys; each chunk is deleted
        // again untimed, so every insert lands in a store of 1.0M to 1.1M keys.
        let fresh = Keys::new("new:", INSERT_CHUNK);
        g.bench_function("set_insert_new", |b| {
            b.iter_custom(|iters| {
                let mut left = iters as usize;
                let mut total = Duration::ZERO;
                while left > 0 {
                    let n = left.min(INSERT_CHUNK);
                    let t = Instant::now();
                    for i in 0..n {
                        store
                            .set(0, fresh.get(i), black_box(&vals[1]), Expiry::Clear, NOW)
                            .unwrap();
                    }
                    total += t.elapsed();
                    for i in 0..n {
                        store.del(0, fresh.get(i), NOW);
                    }
                    left -= n;
                }
                total
            })
        });
        assert_eq!(store.len(), N);

        // SET of an existing key with a different value of the same length:
        // in-place copy, TTL clear, LRU move to head. Each pass over the keys
        // writes the value the previous pass did not, so the copy is never skipped.
        let mut i = 0usize;
        g.bench_function("set_overwrite", |b| {
            b.iter(|| {
                let v = &vals[1 - (i / N) % 2];
                store
                    .set(0, keys.scattered(i), black_box(v), Expiry::Clear, NOW)
                    .unwrap();
                i += 1;
            })
        });

        // GET hit: lookup, hit counter, LRU move to head, value slice.
        let mut i = 0usize;
        g.bench_function("get_hit", |b| {
            b.iter(|| {
                let v = store.get(0, keys.scattered(i), NOW).map(|v| v.len());
                i += 1;
                v
            })
        });
        assert_eq!(store.stats().misses, 0);

        // GET miss: lookup of keys absent from a 1M-key index.
        let hits = store.stats().hits;
        let missing = Keys::new("miss:", N);
        let mut i = 0usize;
        g.bench_function("get_miss", |b| {
            b.iter(|| {
                let v = store.get(0, missing.scattered(i), NOW).map(|v| v.len());
                i += 1;
                v
            })
        });
        assert_eq!(store.stats().hits, hits);
        drop(missing);

        // DEL of an existing key then SET of it again (one iteration = both ops).
        let mut i = 0usize;
        g.bench_function("del_reinsert", |b| {
            b.iter(|| {
                let k = keys.scattered(i);
                assert!(store.del(0, k, NOW));
                store
                    .set(0, k, black_box(&vals[0]), Expiry::Clear, NOW)
                    .unwrap();
                i += 1;
            })
        });
        assert_eq!(store.len(), N);
    }

    {
        // Eviction churn: a store at max_keys = 1M under allkeys-lru; every SET is a
        // new key and evicts the LRU tail first. Keys cycle through 2M names, so the
        // key being inserted is always the one evicted 1M inserts ago (absent).
        let limits = Limits {
            max_keys: N,
            policy: EvictionPolicy::AllKeysLru,
            ..Limits::default()
        };
        let all = Keys::new("key:", 2 * N);
        let mut store = filled(&all, N, limits);
        let mut i = N;
        g.bench_function("set_evict_lru_tail", |b| {
            b.iter(|| {
                let k = all.get(i % (2 * N));
                store
                    .set(0, k, black_box(&vals[1]), Expiry::Clear, NOW)
                    .unwrap();
                i += 1;
            })
        });
        assert_eq!(store.len(), N);
        assert!(store.stats().evicted > 0);
    }
    g.finish();
}

/// A batch of `n` GETs on the next `n` keys of the scattered order.
fn get_batch(keys: &Keys, next: &mut usize, n: usize) -> Batch {
    let mut b = Batch::new(0, 0);
    for _ in 0..n {
        let key = b.args.push(keys.scattered(*next));
        *next += 1;
        b.push(0, StrOp::Get { key }.into());
    }
    b
}

fn bench_execute(c: &mut Criterion) {
    let keys = Keys::new("key:", N);
    let mut store = filled(&keys, N, Limits::default());
    // No AOF: GETs record nothing anyway, but this keeps the log out of the picture.
    let mut persist = Persist::off();
    let mut g = c.benchmark_group("execute_get_batch_1M");
    for n in [16usize, 128] {
        g.throughput(Throughput::Elements(n as u64));
        let mut next = 0usize;
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            // Building the batch (what the router does) is setup; only execute is timed.
            b.iter_batched(
                || get_batch(&keys, &mut next, n),
                |mut batch| {
                    exec::execute(&mut store, &mut batch, NOW, &mut persist);
                    batch
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
    assert_eq!(store.stats().misses, 0);
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_store, bench_execute
}
criterion_main!(benches);
