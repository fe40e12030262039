//! What hashes and sets cost, against Redis 7.0.15's figures for the same
//! data.
//!
//! Redis's figures were measured on a fresh `redis-server` 7.0.15 (jemalloc
//! 5.3, `--save '' --appendonly no`), loading the data with `redis-cli
//! --pipe` and reading `used_memory` and `used_memory_rss` from `INFO
//! memory` before and after:
//!
//! | data                                              | used_memory | RSS        |
//! |---------------------------------------------------|-------------|------------|
//! | 100,000 hashes `hash:NNNNNN`, 10 fields 8 B / 16 B | 394 B/key   | 405 B/key  |
//! | 100,000 sets `set:NNNNNNN`, 10 members of 10 B     | 810 B/key   | 851 B/key  |
//! | 10 hashes of 1,000,000 fields 8 B / 16 B           | 88.4 B/field | 92.3 B/field |
//! | 10 sets of 1,000,000 members of 10 B               | 56.4 B/member | 58.9 B/member |
//!
//! (Redis holds the small hashes as listpacks, the small sets as dicts since
//! their members are not integers, and the big ones as dicts.)
//!
//! Here the small collections go through the store (`used_memory`: the key's
//! record, its index slot, its object slot and the value), and the big ones
//! are measured by `heap_bytes`, which is what the store adds for them.

use super::*;
use crate::keyspace::{Limits, Store};

const REDIS_SMALL_HASH: f64 = 394.0;
const REDIS_SMALL_SET: f64 = 810.0;
const REDIS_BIG_HASH: f64 = 88.4;
const REDIS_BIG_SET: f64 = 56.4;

fn small_hash(i: usize) -> HashValue {
    let mut h = HashValue::new();
    for j in 0..10 {
        let f = format!("field:{j:02}");
        let v = format!("value:{:010}", i * 10 + j);
        h.set(f.as_bytes(), v.as_bytes(), &HashLimits::default());
    }
    h
}

fn small_set(i: usize) -> SetValue {
    let mut s = SetValue::new();
    for j in 0..10 {
        s.add(
            format!("m:{:08}", i * 10 + j).as_bytes(),
            &SetLimits::default(),
        );
    }
    s
}

/// Bytes per key the store accounts for `n` keys holding `make(i)`.
fn store_cost(n: usize, key: impl Fn(usize) -> String, make: impl Fn(usize) -> Object) -> f64 {
    let mut store = Store::new(Limits::default());
    let before = store.used_memory();
    for i in 0..n {
        store
            .insert_object(0, key(i).as_bytes(), make(i), 0)
            .unwrap();
    }
    (store.used_memory() - before) as f64 / n as f64
}

#[test]
fn small_hashes_cost_less_than_in_redis() {
    let h = small_hash(0);
    assert_eq!(h.encoding_name(), "listpack");
    // 4 bytes of count, 10 entries of 1 + 8 + 1 + 16 bytes.
    assert_eq!(h.heap_bytes(), crate::alloc_size(264));
    let per_key = store_cost(
        100_000,
        |i| format!("hash:{i:06}"),
        |i| Object::Hash(small_hash(i)),
    );
    println!("100k hashes of 10 fields: {per_key:.1} B/key (Redis 7.0.15: {REDIS_SMALL_HASH})");
    assert!(per_key < REDIS_SMALL_HASH, "{per_key}");
}

#[test]
fn small_sets_cost_less_than_in_redis() {
    let s = small_set(0);
    assert_eq!(s.encoding_name(), "hashtable");
    let per_key = store_cost(
        100_000,
        |i| format!("set:{i:07}"),
        |i| Object::Set(small_set(i)),
    );
    println!("100k sets of 10 members: {per_key:.1} B/key (Redis 7.0.15: {REDIS_SMALL_SET})");
    assert!(per_key < REDIS_SMALL_SET * 0.6, "{per_key}");
}

#[test]
fn a_million_fields_cost_under_half_of_redis() {
    let mut h = HashValue::new();
    for j in 0..1_000_000 {
        let f = format!("f{j:07}");
        let v = format!("value:{j:010}");
        h.set(f.as_bytes(), v.as_bytes(), &HashLimits::default());
    }
    assert_eq!(h.len(), 1_000_000);
    let per = h.heap_bytes() as f64 / 1e6;
    println!("1M-field hash: {per:.1} B/field (Redis 7.0.15: {REDIS_BIG_HASH})");
    assert!(per < REDIS_BIG_HASH / 2.0, "{per}");
    // Dropping it frees pages, not fields: the drop is quick.
    let effort = h.free_effort();
    assert!(effort < 3_000, "{effort}");
    let t = std::time::Instant::now();
    drop(h);
    println!("dropped in {:?}", t.elapsed());
}

#[test]
fn a_million_members_cost_under_half_of_redis() {
    let mut s = SetValue::new();
    for j in 0..1_000_000 {
        s.add(format!("m:{j:08}").as_bytes(), &SetLimits::default());
    }
    assert_eq!(s.len(), 1_000_000);
    let per = s.heap_bytes() as f64 / 1e6;
    println!("1M-member set: {per:.1} B/member (Redis 7.0.15: {REDIS_BIG_SET})");
    assert!(per < REDIS_BIG_SET / 2.0, "{per}");
}

#[test]
fn collection_variants_keep_objects_small() {
    assert_eq!(std::mem::size_of::<HashValue>(), 16);
    assert_eq!(std::mem::size_of::<SetValue>(), 16);
    let h = Object::Hash(small_hash(1));
    assert_eq!(h.kind(), Kind::Hash);
    assert_eq!(h.heap_bytes(), crate::alloc_size(264));
    let s = Object::Set(small_set(1));
    assert_eq!(s.kind(), Kind::Set);
    assert!(s.heap_bytes() > 0);
    assert_eq!(s.clone(), s);
    assert_eq!((h_effort(&h), s_effort(&s)), (1, 4));
    // The store may hand a value to another thread to drop it.
    fn send<T: Send + Sync>() {}
    send::<Object>();
}

fn h_effort(o: &Object) -> usize {
    match o {
        Object::Hash(h) => h.free_effort(),
        _ => 0,
    }
}

fn s_effort(o: &Object) -> usize {
    match o {
        Object::Set(s) => s.free_effort(),
        _ => 0,
    }
}

/// The process's resident memory in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Resident memory of 100,000 small hashes (or sets) in a store, as Redis's
/// RSS was measured; run alone, in release, as `rss_of_ten_million_fields`.
fn rss_of_small(make: impl Fn(usize) -> (String, Object), what: &str, redis: f64) {
    let base = rss();
    let mut store = Store::new(Limits::default());
    for i in 0..100_000 {
        let (k, o) = make(i);
        store.insert_object(0, k.as_bytes(), o, 0).unwrap();
    }
    let per = rss().saturating_sub(base) as f64 / 1e5;
    println!(
        "100k {what}: RSS {per:.1} B/key, used_memory {:.1} (Redis 7.0.15 RSS: {redis})",
        store.used_memory() as f64 / 1e5
    );
    assert!(per < redis);
}

#[test]
#[ignore]
fn rss_of_small_hashes() {
    let make = |i| (format!("hash:{i:06}"), Object::Hash(small_hash(i)));
    rss_of_small(make, "hashes of 10 fields", 405.0);
}

#[test]
#[ignore]
fn rss_of_small_sets() {
    let make = |i| (format!("set:{i:07}"), Object::Set(small_set(i)));
    rss_of_small(make, "sets of 10 members", 851.0);
}

/// Resident memory of ten 1M-field hashes, as Redis's RSS was measured.
/// Slow in a debug build and sensitive to other tests' allocations: run
/// alone, in release, one process per test:
/// `cargo test -p shards --release --lib value::tests::rss_of_ten_million_fields -- --ignored --nocapture`
/// (and `rss_of_ten_million_members`).
#[test]
#[ignore]
fn rss_of_ten_million_fields() {
    let base = rss();
    let mut hashes = Vec::new();
    for k in 0..10 {
        let mut h = HashValue::new();
        for j in 0..1_000_000 {
            let f = format!("f{j:07}");
            let v = format!("value:{:010}", k * 1_000_000 + j);
            h.set(f.as_bytes(), v.as_bytes(), &HashLimits::default());
        }
        hashes.push(h);
    }
    let heap: usize = hashes.iter().map(HashValue::heap_bytes).sum();
    let grown = rss().saturating_sub(base);
    println!(
        "10 x 1M-field hashes: RSS {:.1} B/field, heap_bytes {:.1} (Redis 7.0.15 RSS: 92.3)",
        grown as f64 / 1e7,
        heap as f64 / 1e7
    );
    assert!(grown as f64 / 1e7 < 92.3);
}

/// Resident memory of ten 1M-member sets; see `rss_of_ten_million_fields`.
#[test]
#[ignore]
fn rss_of_ten_million_members() {
    let base = rss();
    let mut sets = Vec::new();
    for k in 0..10 {
        let mut s = SetValue::new();
        for j in 0..1_000_000 {
            s.add(
                format!("m:{:08}", k * 1_000_000 + j).as_bytes(),
                &SetLimits::default(),
            );
        }
        sets.push(s);
    }
    let heap: usize = sets.iter().map(SetValue::heap_bytes).sum();
    let grown = rss().saturating_sub(base);
    println!(
        "10 x 1M-member sets: RSS {:.1} B/member, heap_bytes {:.1} (Redis 7.0.15 RSS: 58.9)",
        grown as f64 / 1e7,
        heap as f64 / 1e7
    );
    assert!(grown as f64 / 1e7 < 58.9);
}
