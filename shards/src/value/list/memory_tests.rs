//! What lists and sorted sets cost, against Redis 7.0.15's figures for the
//! same data.
//!
//! Redis's figures were measured on a fresh `redis-server` 7.0.15 (jemalloc
//! 5.3, `--save '' --appendonly no`), loading the data with `redis-cli
//! --pipe` (one RPUSH or ZADD per small key, batches of 1000 elements for
//! the big ones) and reading `used_memory` and the process's RSS before and
//! after, per element:
//!
//! | data                                                     | used_memory | RSS   |
//! |----------------------------------------------------------|-------------|-------|
//! | 100,000 lists `list:NNNNNN` of `item-0` .. `item-9`       | 26.7        | 27.1  |
//! | 100,000 zsets `zset:NNNNNN`, `member-0..9` scored 1..10   | 20.3        | 21.8  |
//! | 10 lists of 1,000,000 `item-N`                            | 13.0        | 13.2  |
//! | 10 zsets of 1,000,000 `member:N`, scores N·2654435761 mod 1000003 / 7 | 109.7 | 112.9 |
//!
//! (Redis holds the small lists as one-node quicklists, the small zsets as
//! listpacks, the big ones as quicklists and skiplists.)
//!
//! Here the small collections go through the store (`used_memory`: the
//! key's record, its index slot, its object slot and the value), built by
//! the same pushes and adds as the commands; the big ones are measured by
//! `heap_bytes`, which is what the store adds for them. The RSS figures are
//! ignored tests, to run alone in release:
//! `cargo test -p shards --release --lib value::list::memory_tests -- --ignored --nocapture --test-threads 1`.

use crate::keyspace::{Limits, Store};
use crate::value::list::{ListValue, Side, DEFAULT_FILL};
use crate::value::zset::{ZSetLimits, ZSetValue};
use crate::value::Object;

const REDIS_SMALL_LIST: f64 = 26.7;
const REDIS_SMALL_ZSET: f64 = 20.3;
const REDIS_BIG_LIST_RSS: f64 = 13.2;
const REDIS_BIG_ZSET: f64 = 109.7;

fn small_list() -> ListValue {
    let mut l = ListValue::new(DEFAULT_FILL);
    for i in 0..10 {
        l.push(Side::Right, format!("item-{i}").as_bytes());
    }
    l
}

fn small_zset() -> ZSetValue {
    let limits = ZSetLimits::default();
    let mut z = ZSetValue::for_first_member(8, &limits);
    for i in 0..10 {
        z.insert_or_update(format!("member-{i}").as_bytes(), (i + 1) as f64, &limits);
    }
    z
}

fn big_list(n: usize) -> ListValue {
    let mut l = ListValue::new(DEFAULT_FILL);
    for i in 0..n {
        l.push(Side::Right, format!("item-{i}").as_bytes());
    }
    l
}

fn big_zset(n: u64) -> ZSetValue {
    let limits = ZSetLimits::default();
    let mut z = ZSetValue::for_first_member(8, &limits);
    for i in 0..n {
        let s = ((i * 2_654_435_761) % 1_000_003) as f64 / 7.0;
        z.insert_or_update(format!("member:{i}").as_bytes(), s, &limits);
    }
    z
}

/// Bytes per element the store accounts for 100,000 keys of 10 elements.
fn store_cost(key: impl Fn(usize) -> String, make: impl Fn() -> Object) -> f64 {
    let mut store = Store::new(Limits::default());
    let before = store.used_memory();
    for i in 0..100_000 {
        store
            .insert_object(0, key(i).as_bytes(), make(), 0)
            .unwrap();
    }
    (store.used_memory() - before) as f64 / 1e6
}

#[test]
fn small_lists_cost_less_than_in_redis() {
    let l = small_list();
    // 4 bytes of header, 10 entries of 1 + 6 + 1 bytes, exactly.
    assert_eq!(l.heap_bytes(), crate::alloc_size(84));
    let per = store_cost(|i| format!("list:{i:06}"), || Object::List(small_list()));
    println!("100k lists of 10: {per:.1} B/item (Redis 7.0.15: {REDIS_SMALL_LIST})");
    assert!(per < REDIS_SMALL_LIST * 0.7, "{per}");
}

#[test]
fn small_zsets_cost_less_than_in_redis() {
    let z = small_zset();
    assert_eq!(z.encoding_name(), "listpack");
    // 4 bytes of count, 10 entries of 1 + 8 + 1 bytes, exactly.
    assert_eq!(z.heap_bytes(), crate::alloc_size(104));
    let per = store_cost(|i| format!("zset:{i:06}"), || Object::ZSet(small_zset()));
    println!("100k zsets of 10: {per:.1} B/member (Redis 7.0.15: {REDIS_SMALL_ZSET})");
    assert!(per < REDIS_SMALL_ZSET, "{per}");
}

#[test]
fn a_long_list_costs_no_more_than_in_redis() {
    let l = big_list(1_000_000);
    let per = l.heap_bytes() as f64 / 1e6;
    println!("1M-item list: {per:.2} B/item (Redis 7.0.15 RSS: {REDIS_BIG_LIST_RSS})");
    // Elements cost their bytes and two, as in a listpack; nodes stay
    // within a few bytes of their 8 KB limit.
    assert!(per < REDIS_BIG_LIST_RSS, "{per}");
    assert!(l.free_effort() < 2000);
}

#[test]
fn a_big_zset_costs_under_half_of_redis() {
    let z = big_zset(300_000);
    assert_eq!(z.encoding_name(), "skiplist");
    let per = z.heap_bytes() as f64 / 3e5;
    println!("300k-member zset: {per:.1} B/member (Redis 7.0.15: {REDIS_BIG_ZSET})");
    assert!(per < REDIS_BIG_ZSET / 2.0, "{per}");
    // Dropping it frees pages and tree nodes, not members.
    assert!(z.free_effort() < 300_000 / 16, "{}", z.free_effort());
}

#[test]
fn collection_variants_keep_objects_small() {
    assert_eq!(std::mem::size_of::<ListValue>(), 16);
    assert_eq!(std::mem::size_of::<ZSetValue>(), 16);
    fn send<T: Send + Sync>() {}
    send::<ListValue>();
    send::<ZSetValue>();
    assert_eq!(ZSetValue::new().heap_bytes(), 0);
    assert_eq!(
        (small_list().free_effort(), small_zset().free_effort()),
        (1, 1)
    );
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

/// Resident memory per element of `keys` objects made by `make` in a store.
fn rss_per_element(keys: usize, elems: f64, make: impl Fn(usize) -> (String, Object)) -> f64 {
    let base = rss();
    let mut store = Store::new(Limits::default());
    for i in 0..keys {
        let (k, o) = make(i);
        store.insert_object(0, k.as_bytes(), o, 0).unwrap();
    }
    let per = rss().saturating_sub(base) as f64 / elems;
    println!(
        "RSS {per:.1} B/element, used_memory {:.1}",
        store.used_memory() as f64 / elems
    );
    per
}

#[test]
#[ignore = "RSS, run alone in release"]
fn rss_of_small_lists() {
    let per = rss_per_element(100_000, 1e6, |i| {
        (format!("list:{i:06}"), Object::List(small_list()))
    });
    assert!(per < 27.1, "Redis 7.0.15: 27.1");
}

#[test]
#[ignore = "RSS, run alone in release"]
fn rss_of_small_zsets() {
    let per = rss_per_element(100_000, 1e6, |i| {
        (format!("zset:{i:06}"), Object::ZSet(small_zset()))
    });
    assert!(per < 21.8, "Redis 7.0.15: 21.8");
}

#[test]
#[ignore = "RSS, run alone in release"]
fn rss_of_ten_long_lists() {
    let per = rss_per_element(10, 1e7, |i| {
        (format!("list:{i:06}"), Object::List(big_list(1_000_000)))
    });
    assert!(
        per < REDIS_BIG_LIST_RSS,
        "Redis 7.0.15: {REDIS_BIG_LIST_RSS}"
    );
}

#[test]
#[ignore = "RSS, run alone in release"]
fn rss_of_ten_big_zsets() {
    let per = rss_per_element(10, 1e7, |i| {
        (format!("zset:{i:06}"), Object::ZSet(big_zset(1_000_000)))
    });
    assert!(per < 112.9 / 2.0, "Redis 7.0.15: 112.9");
}
