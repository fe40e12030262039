//! Unit tests of the keyspace.

use super::*;
use crate::value::Object;
use std::time::Duration;

fn keys(s: &Store) -> Vec<String> {
    s.lru_order()
        .into_iter()
        .map(|k| String::from_utf8(k).unwrap())
        .collect()
}

#[test]
fn set_get_overwrite_del() {
    let mut s = Store::default();
    s.set(0, b"a", b"1", Expiry::Clear, 0).unwrap();
    assert_eq!(s.get(0, b"a", 0), Some(&b"1"[..]));
    s.set(0, b"a", b"22", Expiry::Clear, 0).unwrap();
    assert_eq!(s.get(0, b"a", 0), Some(&b"22"[..]));
    s.set(0, b"a", b"33", Expiry::Clear, 0).unwrap();
    assert_eq!(s.get(0, b"a", 0), Some(&b"33"[..]));
    assert_eq!(s.len(), 1);
    assert!(s.del(0, b"a", 0));
    assert!(!s.del(0, b"a", 0));
    assert_eq!(s.get(0, b"a", 0), None);
    assert_eq!(s.len(), 0);
    assert_eq!(s.stats().hits, 3);
    assert_eq!(s.stats().misses, 1);
}

#[test]
fn databases_are_separate() {
    let mut s = Store::default();
    s.set(0, b"k", b"zero", Expiry::Clear, 0).unwrap();
    s.set(3, b"k", b"three", Expiry::Clear, 0).unwrap();
    assert_eq!(s.get(0, b"k", 0), Some(&b"zero"[..]));
    assert_eq!(s.get(3, b"k", 0), Some(&b"three"[..]));
    assert_eq!(s.db_len(0), 1);
    assert_eq!(s.db_len(3), 1);
    s.flush_db(3);
    assert_eq!(s.get(3, b"k", 0), None);
    assert_eq!(s.get(0, b"k", 0), Some(&b"zero"[..]));
    assert_eq!(s.len(), 1);
}

#[test]
fn slab_reuses_freed_slots() {
    let mut s = Store::default();
    for i in 0..100u32 {
        s.set(0, &i.to_le_bytes(), b"v", Expiry::Clear, 0).unwrap();
    }
    let pages = s.arena.pages_in_use();
    let used = s.arena.used();
    for i in 0..50u32 {
        assert!(s.del(0, &i.to_le_bytes(), 0));
    }
    for i in 100..150u32 {
        s.set(0, &i.to_le_bytes(), b"v", Expiry::Clear, 0).unwrap();
    }
    assert_eq!(
        s.arena.pages_in_use(),
        pages,
        "freed chunks are reused before a page is added"
    );
    assert_eq!(s.arena.used(), used);
    assert_eq!(s.len(), 100);
    for i in 50..150u32 {
        assert_eq!(s.get(0, &i.to_le_bytes(), 0), Some(&b"v"[..]));
    }
}

#[test]
fn lru_order_follows_reads_and_writes() {
    let mut s = Store::default();
    for k in ["a", "b", "c"] {
        s.set(0, k.as_bytes(), b"v", Expiry::Clear, 0).unwrap();
    }
    assert_eq!(keys(&s), ["a", "b", "c"]);
    s.get(0, b"a", 0);
    assert_eq!(keys(&s), ["b", "c", "a"]);
    s.set(0, b"b", b"w", Expiry::Clear, 0).unwrap();
    assert_eq!(keys(&s), ["c", "a", "b"]);
    // EXISTS does not touch, as in Redis.
    s.exists(0, b"c", 0);
    assert_eq!(keys(&s), ["c", "a", "b"]);
    s.del(0, b"a", 0);
    assert_eq!(keys(&s), ["c", "b"]);
}

#[test]
fn max_keys_evicts_least_recently_used() {
    // The original project's acceptance sequence.
    let mut s = Store::new(Limits {
        max_keys: 5,
        ..Limits::default()
    });
    for k in ["a", "b", "c", "d", "e"] {
        s.set(0, k.as_bytes(), b"1", Expiry::Clear, 0).unwrap();
    }
    assert!(s.get(0, b"a", 0).is_some());
    s.set(0, b"f", b"6", Expiry::Clear, 0).unwrap();
    let mut left = keys(&s);
    left.sort();
    assert_eq!(left, ["a", "c", "d", "e", "f"]);
    assert_eq!(s.stats().evicted, 1);
}

#[test]
fn max_keys_noeviction_refuses_new_keys_only() {
    let mut s = Store::new(Limits {
        max_keys: 2,
        policy: EvictionPolicy::NoEviction,
        ..Limits::default()
    });
    s.set(0, b"a", b"1", Expiry::Clear, 0).unwrap();
    s.set(0, b"b", b"1", Expiry::Clear, 0).unwrap();
    assert_eq!(s.set(0, b"c", b"1", Expiry::Clear, 0), Err(OutOfMemory));
    assert!(s.set(0, b"a", b"2", Expiry::Clear, 0).is_ok());
    assert_eq!(s.len(), 2);
}

#[test]
fn maxmemory_evicts_by_bytes_in_lru_order() {
    let mut s = Store::new(Limits {
        maxmemory: 200_000,
        ..Limits::default()
    });
    let value = vec![b'x'; 1000];
    for i in 0..1000u32 {
        s.make_room().unwrap();
        s.set(0, format!("key:{i}").as_bytes(), &value, Expiry::Clear, 0)
            .unwrap();
    }
    s.make_room().unwrap();
    assert!(s.used_memory() <= 200_000, "used {}", s.used_memory());
    assert!(s.stats().evicted > 0);
    // The newest keys survive, the oldest went first.
    assert!(s.get(0, b"key:999", 0).is_some());
    assert!(s.get(0, b"key:0", 0).is_none());
    let survivors = s.len();
    for i in (1000 - survivors as u32)..1000 {
        assert!(
            s.peek(0, format!("key:{i}").as_bytes(), 0).is_some(),
            "key:{i}"
        );
    }
}

#[test]
fn noeviction_reports_oom_over_maxmemory() {
    let mut s = Store::new(Limits {
        maxmemory: 10_000,
        policy: EvictionPolicy::NoEviction,
        ..Limits::default()
    });
    let value = vec![b'x'; 1000];
    let mut refused = false;
    for i in 0..100u32 {
        if s.make_room().is_err() {
            refused = true;
            break;
        }
        s.set(0, &i.to_le_bytes(), &value, Expiry::Clear, 0)
            .unwrap();
    }
    assert!(refused);
    assert_eq!(s.stats().evicted, 0);
}

#[test]
fn volatile_policies_only_evict_keys_with_ttl() {
    for policy in [
        EvictionPolicy::VolatileLru,
        EvictionPolicy::VolatileRandom,
        EvictionPolicy::VolatileTtl,
        EvictionPolicy::VolatileLfu,
    ] {
        let mut s = Store::new(Limits {
            max_keys: 3,
            policy,
            ..Limits::default()
        });
        s.set(0, b"p1", b"v", Expiry::Clear, 0).unwrap();
        s.set(0, b"t1", b"v", Expiry::At(5_000), 0).unwrap();
        s.set(0, b"p2", b"v", Expiry::Clear, 0).unwrap();
        s.set(0, b"new", b"v", Expiry::Clear, 0).unwrap();
        assert!(s.peek(0, b"t1", 0).is_none(), "{policy:?}");
        assert!(s.peek(0, b"p1", 0).is_some(), "{policy:?}");
        // No volatile key left: the next insert is refused.
        assert_eq!(
            s.set(0, b"more", b"v", Expiry::Clear, 0),
            Err(OutOfMemory),
            "{policy:?}"
        );
    }
}

#[test]
fn volatile_ttl_evicts_nearest_expiry() {
    let mut s = Store::new(Limits {
        max_keys: 2,
        policy: EvictionPolicy::VolatileTtl,
        ..Limits::default()
    });
    s.set(0, b"late", b"v", Expiry::At(9_000), 0).unwrap();
    s.set(0, b"soon", b"v", Expiry::At(2_000), 0).unwrap();
    s.set(0, b"x", b"v", Expiry::Clear, 0).unwrap();
    assert!(s.peek(0, b"soon", 0).is_none());
    assert!(s.peek(0, b"late", 0).is_some());
}

#[test]
fn lazy_expiry_on_access() {
    let mut s = Store::default();
    s.set(0, b"k", b"v", Expiry::At(1_000), 500).unwrap();
    assert_eq!(s.db_expires(0), 1);
    assert_eq!(s.get(0, b"k", 999), Some(&b"v"[..]));
    assert_eq!(s.get(0, b"k", 1_000), None);
    assert_eq!(s.len(), 0);
    assert_eq!(s.db_expires(0), 0);
    assert_eq!(s.stats().expired, 1);
}

#[test]
fn set_clears_or_keeps_ttl() {
    let mut s = Store::default();
    s.set(0, b"k", b"v", Expiry::At(1_000), 0).unwrap();
    s.set(0, b"k", b"w", Expiry::Keep, 0).unwrap();
    assert_eq!(s.expire_at(0, b"k", 0), Some(1_000));
    s.set(0, b"k", b"x", Expiry::Clear, 0).unwrap();
    assert_eq!(s.expire_at(0, b"k", 0), Some(0));
    assert_eq!(s.db_expires(0), 0);
    assert_eq!(s.get(0, b"k", 5_000), Some(&b"x"[..]));
}

#[test]
fn active_expiry_collects_without_access() {
    let mut s = Store::default();
    for i in 0..1000u32 {
        s.set(0, &i.to_le_bytes(), b"v", Expiry::At(100), 0)
            .unwrap();
    }
    for i in 1000..1100u32 {
        s.set(0, &i.to_le_bytes(), b"v", Expiry::Clear, 0).unwrap();
    }
    let removed = s.active_expire(200, Duration::from_secs(5));
    // Every sample is fully expired, so the cycle keeps going until the
    // volatile set is empty.
    assert_eq!(removed, 1000);
    assert_eq!(s.len(), 100);
    assert_eq!(s.db_expires(0), 0);
}

#[test]
fn flush_all_keeps_limits_and_frees_memory() {
    let mut s = Store::new(Limits {
        max_keys: 10,
        ..Limits::default()
    });
    for i in 0..10u32 {
        s.set(
            i as usize % NUM_DBS,
            &i.to_le_bytes(),
            b"v",
            Expiry::Clear,
            0,
        )
        .unwrap();
    }
    let before = s.used_memory();
    s.flush_all();
    assert_eq!(s.len(), 0);
    assert!(s.used_memory() < before);
    assert_eq!(s.limits().max_keys, 10);
}

#[test]
fn memory_accounting_returns_to_baseline() {
    let mut s = Store::default();
    for i in 0..1000u32 {
        s.set(0, &i.to_le_bytes(), &[7u8; 300], Expiry::Clear, 0)
            .unwrap();
    }
    let base = s.used_memory();
    for i in 0..1000u32 {
        s.set(0, &i.to_le_bytes(), &[7u8; 300], Expiry::Clear, 0)
            .unwrap();
    }
    // Values over a chunk go to the object table, and come back.
    s.set(0, b"big", &[1u8; 100_000], Expiry::Clear, 0).unwrap();
    let full = s.used_memory();
    assert!(full >= 1000 * 300 + 100_000);
    for i in 0..1000u32 {
        s.del(0, &i.to_le_bytes(), 0);
    }
    s.del(0, b"big", 0);
    assert_eq!(s.arena.used(), 0);
    assert_eq!(s.object_bytes, 0);
    assert!(
        s.used_memory() < base + 10 * crate::arena::PAGE,
        "{} vs {base}",
        s.used_memory()
    );
}

/// Walks `s` with `Store::scan` steps of `count`, calling `between`
/// after every step; returns every key seen, duplicates included.
fn full_scan(
    s: &mut Store,
    db: usize,
    count: usize,
    max_slots: usize,
    now: u64,
    mut between: impl FnMut(&mut Store),
) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    let _ = max_slots;
    let mut at = 0u32;
    loop {
        let next = s.scan(db, at, count, now, |k, _| seen.push(k.to_vec()));
        between(s);
        match next {
            Some(n) => {
                assert!(n > at, "a step always advances");
                at = n;
            }
            None => return seen,
        }
    }
}

#[test]
fn scan_returns_each_live_key_of_its_db_once() {
    let mut s = Store::default();
    for i in 0..1000u32 {
        let db = if i % 10 == 0 { 1 } else { 0 };
        let exp = if i % 7 == 0 {
            Expiry::At(500)
        } else {
            Expiry::Clear
        };
        s.set(db, format!("k{i}").as_bytes(), b"v", exp, 0).unwrap();
    }
    let want: Vec<Vec<u8>> = (0..1000u32)
        .filter(|i| i % 10 != 0 && i % 7 != 0)
        .map(|i| format!("k{i}").into_bytes())
        .collect();
    for count in [1, 10, 1000, usize::MAX] {
        // Before the deadline the volatile keys are listed too.
        assert_eq!(full_scan(&mut s, 0, count, 1 << 20, 100, |_| {}).len(), 900);
        let mut got = full_scan(&mut s, 0, count, 1 << 20, 1_000, |_| {});
        got.sort();
        let mut want = want.clone();
        want.sort();
        assert_eq!(got, want, "count {count}");
    }
    // Expired keys are skipped, not removed: a scan only reads.
    assert_eq!(s.db_len(0), 900);
    assert_eq!(
        full_scan(&mut s, 2, 10, 1 << 20, 0, |_| {}),
        Vec::<Vec<u8>>::new()
    );
}

#[test]
fn scan_step_examines_about_count_entries() {
    let mut s = Store::default();
    for i in 0..100u32 {
        s.set(0, &i.to_le_bytes(), b"v", Expiry::Clear, 0).unwrap();
    }
    s.set(1, b"other", b"v", Expiry::Clear, 0).unwrap();
    let mut n = 0;
    let next = s.scan(0, 0, 10, 0, |_, _| n += 1);
    assert!(next.is_some());
    // The step covers ten full buckets; some of them may hold keys that
    // wrapped around from the end of the table (their turn comes last), and
    // keys of the range displaced past the tenth are taken too.
    assert!((5..=20).contains(&n), "{n}");
    // Another database's keys are not in this one's walk.
    let mut n = 0;
    assert_eq!(s.scan(1, 0, 10, 0, |_, _| n += 1), None);
    assert_eq!(n, 1);
    assert_eq!(s.scan(2, 0, 10, 0, |_, _| unreachable!()), None);
}

#[test]
fn scan_misses_no_key_that_lives_throughout_despite_churn() {
    let mut s = Store::default();
    let stable: Vec<Vec<u8>> = (0..2000u32)
        .map(|i| format!("stable:{i}").into_bytes())
        .collect();
    // Interleave stable keys with churn keys so freed slots sit between them.
    for (i, k) in stable.iter().enumerate() {
        s.set(0, k, b"v", Expiry::Clear, 0).unwrap();
        s.set(0, format!("churn:{i}").as_bytes(), b"v", Expiry::Clear, 0)
            .unwrap();
    }
    let mut rng = 0x1234_5678_9abc_def1u64;
    let mut next_churn = 2000u32;
    let seen = full_scan(&mut s, 0, 25, 1 << 20, 0, |s| {
        for _ in 0..40 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let victim = format!("churn:{}", rng % next_churn as u64);
            s.del(0, victim.as_bytes(), 0);
            // Overwrites of stable keys keep their slot.
            let k = &stable[(rng >> 32) as usize % stable.len()];
            s.set(0, k, b"longer value", Expiry::Clear, 0).unwrap();
            s.set(
                0,
                format!("churn:{next_churn}").as_bytes(),
                b"v",
                Expiry::Clear,
                0,
            )
            .unwrap();
            next_churn += 1;
        }
    });
    let seen: std::collections::HashSet<Vec<u8>> = seen.into_iter().collect();
    for k in &stable {
        assert!(seen.contains(k), "{} missed", String::from_utf8_lossy(k));
    }
}

#[test]
fn random_key_is_uniform_and_skips_expired() {
    let mut s = Store::default();
    assert_eq!(s.random_key(0, 0), None);
    for i in 0..20u32 {
        s.set(0, format!("k{i}").as_bytes(), b"v", Expiry::Clear, 0)
            .unwrap();
    }
    // Many expired keys and another database's keys around them.
    for i in 0..200u32 {
        s.set(0, format!("dead{i}").as_bytes(), b"v", Expiry::At(10), 0)
            .unwrap();
        s.set(3, format!("x{i}").as_bytes(), b"v", Expiry::Clear, 0)
            .unwrap();
    }
    let mut hits = std::collections::HashMap::new();
    for _ in 0..4000 {
        let k = s.random_key(0, 100).expect("live keys exist").to_vec();
        assert!(k.starts_with(b"k"), "{}", String::from_utf8_lossy(&k));
        *hits.entry(k).or_insert(0) += 1;
    }
    assert_eq!(hits.len(), 20);
    // Each key expects 200 draws (sd ~14).
    assert!(hits.values().all(|&n| (120..=300).contains(&n)), "{hits:?}");
    // Every expired key it drew was removed on the way.
    assert!(s.db_len(0) < 220);
    assert!(s.stats().expired > 0);
}

#[test]
fn random_key_in_a_sparse_db_falls_back_to_its_index() {
    let mut s = Store::default();
    for i in 0..5000u32 {
        s.set(0, &i.to_le_bytes(), b"v", Expiry::Clear, 0).unwrap();
    }
    s.set(7, b"a", b"v", Expiry::Clear, 0).unwrap();
    s.set(7, b"b", b"v", Expiry::Clear, 0).unwrap();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..100 {
        seen.insert(s.random_key(7, 0).unwrap().to_vec());
    }
    assert_eq!(seen.len(), 2);
    // A database whose every key has expired ends up empty, not stuck.
    s.set(9, b"x", b"v", Expiry::At(5), 0).unwrap();
    s.set(9, b"y", b"v", Expiry::At(5), 0).unwrap();
    assert_eq!(s.random_key(9, 10), None);
    assert_eq!(s.db_len(9), 0);
}

#[test]
fn lookup_kind_answers_wrongtype_for_another_type() {
    let mut s = Store::default();
    s.set(0, b"str", b"v", Expiry::Clear, 0).unwrap();
    s.insert_object(0, b"obj", Object::Test(b"payload".to_vec()), 0)
        .unwrap();
    assert!(matches!(
        s.lookup_kind(0, b"str", 0, Lookup::READ, Kind::String),
        Ok(Some(_))
    ));
    assert_eq!(
        s.lookup_kind(0, b"obj", 0, Lookup::READ, Kind::String),
        Err(WrongType)
    );
    assert_eq!(
        s.lookup_kind(0, b"str", 0, Lookup::READ, Kind::Hash),
        Err(WrongType)
    );
    assert_eq!(
        s.lookup_kind(0, b"none", 0, Lookup::READ, Kind::Hash),
        Ok(None)
    );
    let pos = s.lookup(0, b"obj", 0, Lookup::PEEK).unwrap();
    assert_eq!(s.kind_at(pos), Kind::Hash);
    // String reads see nothing of another type.
    assert_eq!(s.get(0, b"obj", 0), None);
    // The object is written through `with_object` and accounted.
    let before = s.used_memory();
    s.with_object(pos, |o| {
        if let Object::Test(v) = o {
            v.extend_from_slice(&[0u8; 10_000]);
        }
    });
    assert!(s.used_memory() >= before + 9_900);
    assert!(s.del(0, b"obj", 0));
    assert_eq!(s.object_bytes, 0);
}

#[test]
fn records_move_between_classes_and_keep_their_place_in_every_list() {
    let mut s = Store::default();
    for k in ["a", "b", "c", "d"] {
        s.set(0, k.as_bytes(), b"v", Expiry::Clear, 0).unwrap();
    }
    // b grows through several classes, then into the object table, then
    // shrinks back; it gains and loses a TTL on the way.
    for len in [10, 100, 300, 1500, 5000, 3, 700] {
        let v = vec![b'x'; len];
        s.set(0, b"b", &v, Expiry::At(9_000 + len as u64), 0)
            .unwrap();
        assert_eq!(s.peek(0, b"b", 0), Some(&v[..]), "len {len}");
        assert_eq!(s.expire_at(0, b"b", 0), Some(9_000 + len as u64));
        assert_eq!(s.db_expires(0), 1);
        s.expire(0, b"b", 0, 0);
        assert_eq!(s.expire_at(0, b"b", 0), Some(0));
        assert_eq!(s.db_expires(0), 0);
        s.expire(0, b"b", 20_000, 0);
    }
    // The writes made b the most recent; order of the others unchanged.
    assert_eq!(keys(&s), ["a", "c", "d", "b"]);
    s.get(0, b"a", 0);
    assert_eq!(keys(&s), ["c", "d", "b", "a"]);
    // Its TTL still expires it.
    assert_eq!(s.get(0, b"b", 20_000), None);
    assert_eq!(s.len(), 3);
    assert_eq!(s.db_expires(0), 0);
}

#[test]
fn long_keys_live_outside_their_record() {
    let mut s = Store::default();
    let long = vec![b'k'; 5000];
    s.set(0, &long, b"value", Expiry::Clear, 0).unwrap();
    s.set(0, b"short", &vec![b'v'; 3000], Expiry::Clear, 0)
        .unwrap();
    assert_eq!(s.get(0, &long, 0), Some(&b"value"[..]));
    assert_eq!(s.get(0, &long[..4999], 0), None);
    s.set(0, &long, &vec![b'w'; 4000], Expiry::At(50), 0)
        .unwrap();
    assert_eq!(s.get(0, &long, 0).map(<[u8]>::len), Some(4000));
    let mut seen = Vec::new();
    s.for_each_key(0, 0, |k| seen.push(k.len()));
    seen.sort();
    assert_eq!(seen, [5, 5000]);
    assert!(s.del(0, &long, 0));
    assert_eq!(s.long_key_bytes, 0);
}

#[test]
fn value_for_update_grows_in_place_or_moves() {
    let mut s = Store::default();
    s.set(0, b"k", b"ab", Expiry::At(7_000), 0).unwrap();
    let (v, at, grown) = s.value_for_update(0, b"k", 5, 0).unwrap();
    assert_eq!((&v[..], at, grown), (&b"ab\0\0\0"[..], 7_000, true));
    v[4] = b'!';
    let (v, _, grown) = s.value_for_update(0, b"k", 3, 0).unwrap();
    assert!(!grown);
    assert_eq!(v, b"ab\0\0!");
    let (v, _, _) = s.value_for_update(0, b"k", 10_000, 0).unwrap();
    assert_eq!(v.len(), 10_000);
    v[9_999] = 1;
    assert_eq!(s.peek(0, b"k", 0).unwrap()[9_999], 1);
    let pos = s.lookup(0, b"k", 0, Lookup::PEEK).unwrap();
    assert_eq!(s.encoding_at(pos), StrEncoding::Raw);
    let (v, at, grown) = s.value_for_update(0, b"new", 4, 0).unwrap();
    assert_eq!((&v[..], at, grown), (&b"\0\0\0\0"[..], 0, true));
}

#[test]
fn scan_sees_every_stable_key_while_records_move() {
    let mut s = Store::default();
    let stable: Vec<Vec<u8>> = (0..3000u32)
        .map(|i| format!("stable:{i}").into_bytes())
        .collect();
    for (i, k) in stable.iter().enumerate() {
        s.set(0, k, &vec![b'v'; 10 + i % 50], Expiry::Clear, 0)
            .unwrap();
    }
    let mut rng = 0x9876_5432_1fed_cba9u64;
    let seen = full_scan(&mut s, 0, 20, 1 << 20, 0, |s| {
        // Rewrite stable keys with other sizes (they move between classes)
        // and give some a TTL far away (their records grow).
        for _ in 0..30 {
            let r = next_random(&mut rng);
            let k = &stable[(r % stable.len() as u64) as usize];
            let len = 1 + (r >> 20) as usize % 600;
            let exp = if r & 1 == 0 {
                Expiry::Clear
            } else {
                Expiry::At(u64::MAX / 2)
            };
            s.set(0, k, &vec![b'w'; len], exp, 0).unwrap();
        }
    });
    let seen: std::collections::HashSet<Vec<u8>> = seen.into_iter().collect();
    for k in &stable {
        assert!(seen.contains(k), "{} missed", String::from_utf8_lossy(k));
    }
}

#[test]
fn churn_of_mixed_sizes_reuses_the_arena() {
    let mut s = Store::default();
    let n = 20_000u32;
    let mut rng = 0x1111_2222_3333_4444u64;
    let size = |r: &mut u64| 1 + (next_random(r) % 1500) as usize;
    for i in 0..n {
        let len = size(&mut rng);
        s.set(0, &i.to_le_bytes(), &vec![1u8; len], Expiry::Clear, 0)
            .unwrap();
    }
    let fresh = s.used_memory();
    for _round in 0..10 {
        for i in 0..n {
            let len = size(&mut rng);
            s.set(0, &i.to_le_bytes(), &vec![2u8; len], Expiry::Clear, 0)
                .unwrap();
        }
        s.defrag_step(usize::MAX);
    }
    let churned = s.used_memory();
    assert!(
        churned as f64 <= fresh as f64 * 1.3,
        "churned {churned} vs fresh {fresh}"
    );
}

#[test]
fn small_keys_cost_little_beside_their_bytes() {
    // 10-byte keys with 100-byte values: 124-byte records, plus the index.
    let mut s = Store::default();
    let n = 200_000u32;
    let base = s.used_memory();
    let value = [b'x'; 100];
    for i in 0..n {
        s.set(
            0,
            format!("key:{i:06}").as_bytes(),
            &value,
            Expiry::Clear,
            0,
        )
        .unwrap();
    }
    let per_key = (s.used_memory() - base) as f64 / n as f64;
    assert!(per_key <= 134.0, "{per_key} bytes per key");
}

/// Every key of every database with its value (as text) and expiry.
fn snapshot(s: &Store) -> Vec<(u8, Vec<u8>, String, u64)> {
    let mut out = Vec::new();
    let mut cursor = 0;
    loop {
        let next = s.snapshot_range(cursor, 1000, 0, |db, k, v, exp| {
            let v = match v {
                ValueRef::Str(b) => format!("s:{}", String::from_utf8_lossy(b)),
                ValueRef::Obj(o) => format!("o:{}", o.describe(false)),
            };
            out.push((db, k.to_vec(), v, exp));
        });
        match next {
            Some(c) => cursor = c,
            None => break,
        }
    }
    out.sort();
    out
}

/// A random hash, set, list or sorted-set write on the keys of `keys`.
fn collection_write(rng: &mut u64, keys: &[Vec<u8>]) -> String {
    if next_random(rng) % 2 == 0 {
        return list_zset_write(rng, keys);
    }
    let mut r = || next_random(rng);
    let key =
        |r: u64| String::from_utf8_lossy(&keys[(r % keys.len() as u64) as usize]).into_owned();
    let (k, k2, k3) = (key(r()), key(r()), key(r()));
    let field = |r: u64| format!("f{}", r % 24);
    let value = |r: u64| match r % 5 {
        0 => "%70".to_string(),
        1 => (r % 1000).to_string(),
        _ => format!("v{}", r % 7),
    };
    let member = |r: u64| {
        if r % 3 == 0 {
            format!("m{}", r % 30)
        } else {
            (r % 40).to_string()
        }
    };
    match r() % 16 {
        0 => {
            // Enough fields for a hashtable.
            let pairs: Vec<String> = (0..600).map(|i| format!("f{i} {i}")).collect();
            format!("HSET {k} {}", pairs.join(" "))
        }
        1 => {
            let members: Vec<String> = (0..600).map(|i| i.to_string()).collect();
            format!("SADD {k} {}", members.join(" "))
        }
        2 | 3 => format!(
            "HSET {k} {} {} {} {}",
            field(r()),
            value(r()),
            field(r()),
            value(r())
        ),
        4 => format!("HDEL {k} {} {} {}", field(r()), field(r()), field(r())),
        5 => format!("HINCRBY {k} {} 3", field(r())),
        6 => format!("HINCRBYFLOAT {k} {} 1.5", field(r())),
        7 => format!("HSETNX {k} {} {}", field(r()), value(r())),
        8 | 9 => format!("SADD {k} {} {} {}", member(r()), member(r()), member(r())),
        10 => format!("SREM {k} {} {} {}", member(r()), member(r()), member(r())),
        11 => format!("SPOP {k} {}", r() % 700),
        12 => format!("SPOP {k}"),
        13 => format!("SMOVE {k} {k2} {}", member(r())),
        14 => {
            let op = ["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"][(r() % 3) as usize];
            format!("{op} {k} {k2} {k3}")
        }
        _ => match r() % 3 {
            0 => format!("RENAME {k} {k2}"),
            1 => format!("COPY {k} {k2} REPLACE"),
            _ => format!("DEL {k}"),
        },
    }
}

/// A random list or sorted-set write (or SORT ... STORE) on the keys of
/// `keys`: long lists journal positions, large sorted sets members.
fn list_zset_write(rng: &mut u64, keys: &[Vec<u8>]) -> String {
    let mut r = || next_random(rng);
    let key =
        |r: u64| String::from_utf8_lossy(&keys[(r % keys.len() as u64) as usize]).into_owned();
    let (k, k2, k3) = (key(r()), key(r()), key(r()));
    let elem = |r: u64| match r % 4 {
        0 => "%90".to_string(),
        _ => format!("e{}", r % 9),
    };
    let side = |r: u64| if r % 2 == 0 { "LEFT" } else { "RIGHT" };
    let score = |r: u64| format!("{}", (r % 50) as i64 - 10);
    match r() % 24 {
        0 => {
            let elems: Vec<String> = (0..3000).map(|i| format!("e{}", i % 9)).collect();
            format!("RPUSH {k} {}", elems.join(" "))
        }
        1 => {
            let pairs: Vec<String> = (0..200).map(|i| format!("{} m{i}", i % 13)).collect();
            format!("ZADD {k} {}", pairs.join(" "))
        }
        2 => format!("LPUSH {k} {} {}", elem(r()), elem(r())),
        3 => format!("RPUSH {k} {}", elem(r())),
        4 => format!("LPOP {k} {}", r() % 300),
        5 => format!("RPOP {k}"),
        6 => format!("LSET {k} {} {}", (r() % 400) as i64 - 200, elem(r())),
        7 => format!("LINSERT {k} BEFORE {} {}", elem(r()), elem(r())),
        8 => format!("LREM {k} {} {}", (r() % 7) as i64 - 3, elem(r())),
        9 => format!("LTRIM {k} {} {}", r() % 50, (r() % 800) as i64 - 100),
        10 => format!("LMOVE {k} {k2} {} {}", side(r()), side(r())),
        11 => format!("LMPOP 2 {k} {k2} {} COUNT {}", side(r()), 1 + r() % 5),
        12 | 13 => format!(
            "ZADD {k} {} m{} {} m{}",
            score(r()),
            r() % 30,
            score(r()),
            r() % 30
        ),
        14 => format!("ZINCRBY {k} 1.5 m{}", r() % 30),
        15 => format!("ZREM {k} m{} m{}", r() % 30, r() % 200),
        16 => format!("ZREMRANGEBYRANK {k} {} {}", r() % 20, r() % 100),
        17 => format!("ZREMRANGEBYSCORE {k} {} {}", score(r()), score(r())),
        18 => format!("ZPOPMIN {k} {}", r() % 10),
        19 => format!("ZMPOP 2 {k} {k2} MAX COUNT {}", 1 + r() % 5),
        20 => format!("ZRANGESTORE {k} {k2} 0 {}", r() % 150),
        21 => {
            let op = ["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"][(r() % 3) as usize];
            format!("{op} {k} 2 {k2} {k3}")
        }
        22 => format!("SORT {k2} ALPHA LIMIT 0 {} STORE {k}", r() % 100),
        _ => format!("ZADD {k} INCR {} m{}", score(r()), r() % 30),
    }
}

#[test]
fn rollback_restores_every_kind_of_change_exactly() {
    let mut s = Store::new(Limits {
        max_keys: 60,
        ..Limits::default()
    });
    s.set_journaling(true);
    let mut rng = 0x5eed_1234_abcd_0001u64;
    let keys: Vec<Vec<u8>> = (0..40u32).map(|i| format!("k{i}").into_bytes()).collect();
    for group in 0..300 {
        let before = snapshot(&s);
        let n = 1 + next_random(&mut rng) % 12;
        for _ in 0..n {
            let r = next_random(&mut rng);
            let k = &keys[(r % keys.len() as u64) as usize];
            let db = ((r >> 8) % 3) as usize;
            match (r >> 16) % 18 {
                0 | 1 => {
                    let len = [1usize, 50, 300, 3000, 9000][((r >> 24) % 5) as usize];
                    let exp = if r & (1 << 40) != 0 {
                        Expiry::At(1_000_000 + (r >> 41) % 1000)
                    } else {
                        Expiry::Clear
                    };
                    let _ = s.set(db, k, &vec![b'a' + (r % 26) as u8; len], exp, 0);
                }
                2 => {
                    s.del(db, k, 0);
                }
                3 => {
                    s.expire(db, k, 2_000_000 + r % 1000, 0);
                }
                4 => {
                    s.expire(db, k, 0, 0);
                }
                5 => {
                    if let Some(pos) = s.lookup(db, k, 0, Lookup::PEEK) {
                        if s.kind_at(pos) == Kind::String {
                            let len = 1 + (r >> 30) as usize % 4000;
                            if let Ok((v, _, _)) = s.value_for_update(db, k, len, 0) {
                                v[len - 1] ^= 0x5a;
                            }
                        }
                    } else if let Ok((v, _, _)) = s.value_for_update(db, k, 3, 0) {
                        v[2] = 1;
                    }
                }
                6 => {
                    s.move_key(db, (db + 1) % 3, k, 0);
                }
                7 => s.swap_db(db, (db + 2) % 3),
                8 if group % 7 == 0 => s.flush_all(),
                9 if group % 5 == 0 => s.flush_db(db),
                11..=17 => {
                    // Hash and set writes through their ops (database 0):
                    // hashtables journal element by element, compact
                    // encodings whole.
                    let line = collection_write(&mut rng, &keys);
                    crate::ops::redis_check::run_lines(
                        &mut s,
                        &mut crate::ops::Persist::off(),
                        0,
                        &[&line],
                    );
                }
                10 => {
                    if s.lookup(db, k, 0, Lookup::PEEK).is_none() {
                        let _ = s.insert_object(db, k, Object::Test(vec![7; 10]), 0);
                    } else if let Some(pos) = s.lookup(db, k, 0, Lookup::PEEK) {
                        s.with_object(pos, |o| {
                            if let Object::Test(v) = o {
                                v.push(9);
                            }
                        });
                    }
                }
                _ => {
                    s.get(db, k, 0);
                }
            }
        }
        if group % 3 == 0 {
            s.forget();
        } else {
            s.rollback();
            assert_eq!(snapshot(&s), before, "group {group}");
        }
    }
}

#[test]
fn set_idle_ages_a_key_and_makes_it_the_lru_tail() {
    let mut s = Store::default();
    for k in [&b"a"[..], b"b", b"c"] {
        s.set(0, k, b"v", Expiry::Clear, 0).unwrap();
    }
    let pos = s.lookup(0, b"c", 0, Lookup::PEEK).unwrap();
    s.set_idle(pos, 1000);
    assert_eq!(s.idle_at(pos), 1000);
    assert_eq!(s.lru_order()[0], b"c", "the oldest is evicted first");
    // Idle less than the tail's: the access time changes, the place not.
    let pos = s.lookup(0, b"b", 0, Lookup::PEEK).unwrap();
    s.set_idle(pos, 0);
    assert_eq!(s.lru_order(), [b"c".to_vec(), b"a".to_vec(), b"b".to_vec()]);
}

/// Two stores place the same keys differently. A rewrite writes keys in its
/// store's index order; a loader hashing them the same way would insert them
/// bucket by bucket into a growing table and go quadratic (a fixed seed made
/// 1,000,000 keys load in 139 s instead of 1.5 s).
#[test]
fn every_store_hashes_keys_its_own_way() {
    let order = || {
        let mut s = Store::default();
        for i in 0..2000 {
            s.set(0, format!("key:{i}").as_bytes(), b"v", Expiry::Clear, 0)
                .unwrap();
        }
        let mut keys = Vec::new();
        let mut cursor = 0;
        loop {
            let next = s.scan(0, cursor, 100, 0, |k, _| keys.push(k.to_vec()));
            match next {
                Some(c) if c != 0 => cursor = c,
                _ => break,
            }
        }
        assert_eq!(keys.len(), 2000);
        keys
    };
    assert_ne!(order(), order());
}

/// Groups of list and sorted-set writes on a few keys holding long lists
/// and large sorted sets, rolled back or kept at random: every rollback
/// gives back the exact values (and encodings) the group started from.
#[test]
fn rollback_of_list_and_zset_writes_is_exact() {
    let mut s = Store::default();
    s.set_journaling(true);
    let mut rng = 0x1157_2e75_0dd0_0001u64;
    let keys: Vec<Vec<u8>> = (0..4u32).map(|i| format!("lz{i}").into_bytes()).collect();
    let mut p = crate::ops::Persist::off();
    let elems: Vec<String> = (0..3000).map(|i| format!("e{}", i % 9)).collect();
    let pairs: Vec<String> = (0..300).map(|i| format!("{} m{i}", i % 13)).collect();
    crate::ops::redis_check::run_lines(
        &mut s,
        &mut p,
        0,
        &[
            &format!("RPUSH lz0 {}", elems.join(" ")),
            &format!("RPUSH lz1 {}", elems.join(" ")),
            &format!("ZADD lz2 {}", pairs.join(" ")),
            &format!("ZADD lz3 {}", pairs.join(" ")),
        ],
    );
    s.forget();
    for group in 0..400 {
        let before = snapshot(&s);
        let n = 1 + next_random(&mut rng) % 6;
        for _ in 0..n {
            let line = list_zset_write(&mut rng, &keys);
            crate::ops::redis_check::run_lines(&mut s, &mut p, 0, &[&line]);
        }
        if group % 4 == 0 {
            s.forget();
        } else {
            s.rollback();
            assert_eq!(snapshot(&s), before, "group {group}");
        }
    }
}

fn lfu_store(limits: Limits) -> Store {
    Store::new(Limits {
        policy: EvictionPolicy::AllKeysLfu,
        // Every hit counts: the counters below are exact.
        lfu: super::LfuParams {
            log_factor: 0,
            decay_time: 1,
        },
        ..limits
    })
}

fn set_lfu(s: &mut Store, log_factor: u32, decay_time: u32) {
    s.set_limits(Limits {
        lfu: super::LfuParams {
            log_factor,
            decay_time,
        },
        ..s.limits()
    });
}

fn freq(s: &mut Store, key: &[u8]) -> u32 {
    s.object_info(0, key, 0).map(|i| i.2).expect("key")
}

#[test]
fn lfu_counts_reads_and_writes_once_each() {
    let mut s = lfu_store(Limits::default());
    s.set(0, b"k", b"v", Expiry::Clear, 0).unwrap();
    assert_eq!(freq(&mut s, b"k"), 5, "a new key starts at LFU_INIT_VAL");
    s.new_access();
    s.get(0, b"k", 0);
    assert_eq!(freq(&mut s, b"k"), 6);
    // An overwrite counts as one access and keeps the counter.
    s.new_access();
    s.set(0, b"k", b"w", Expiry::Clear, 0).unwrap();
    assert_eq!(freq(&mut s, b"k"), 7);
    // A write that looked the key up first (SET XX, INCR) counts once.
    s.new_access();
    s.lookup(0, b"k", 0, Lookup::WRITE);
    s.set(0, b"k", b"x", Expiry::Clear, 0).unwrap();
    assert_eq!(freq(&mut s, b"k"), 8);
    // OBJECT, TYPE and EXISTS do not count; CLIENT NO-TOUCH does not either.
    s.new_access();
    s.exists(0, b"k", 0);
    s.set_no_touch(true);
    s.get(0, b"k", 0);
    s.set_no_touch(false);
    assert_eq!(freq(&mut s, b"k"), 8);
}

#[test]
fn lfu_freq_is_set_by_restore_only_under_lfu() {
    let mut s = lfu_store(Limits::default());
    s.set(0, b"k", b"v", Expiry::Clear, 0).unwrap();
    let pos = s.lookup(0, b"k", 0, Lookup::PEEK).unwrap();
    s.set_freq(pos, 200);
    s.set_idle(pos, 1000);
    assert_eq!(freq(&mut s, b"k"), 200);
    s.set_limits(Limits::default());
    let pos = s.lookup(0, b"k", 0, Lookup::PEEK).unwrap();
    s.set_idle(pos, 1000);
    s.set_freq(pos, 3);
    assert_eq!(s.idle_at(pos), 1000);
}

#[test]
fn allkeys_lfu_keeps_the_frequently_used_keys() {
    let mut s = lfu_store(Limits {
        max_keys: 100,
        ..Limits::default()
    });
    for i in 0..100u32 {
        s.set(0, format!("k{i}").as_bytes(), b"v", Expiry::Clear, 0)
            .unwrap();
    }
    // Keys k0..k19 are read 10 times each; the rest never.
    for _ in 0..10 {
        for i in 0..20u32 {
            s.new_access();
            assert!(s.get(0, format!("k{i}").as_bytes(), 0).is_some());
        }
    }
    for i in 0..1000u32 {
        s.set(0, format!("cold{i}").as_bytes(), b"v", Expiry::Clear, 0)
            .unwrap();
    }
    assert_eq!(s.len(), 100);
    assert_eq!(s.stats().evicted, 1000);
    for i in 0..20u32 {
        let k = format!("k{i}");
        assert!(s.peek(0, k.as_bytes(), 0).is_some(), "{k} was evicted");
    }
}

#[test]
fn volatile_lfu_evicts_the_least_used_key_with_a_ttl() {
    let mut s = lfu_store(Limits {
        max_keys: 4,
        ..Limits::default()
    });
    s.set_limits(Limits {
        policy: EvictionPolicy::VolatileLfu,
        ..s.limits()
    });
    s.set(0, b"persist", b"v", Expiry::Clear, 0).unwrap();
    s.set(0, b"hot", b"v", Expiry::At(u64::MAX / 2), 0).unwrap();
    s.set(0, b"cold", b"v", Expiry::At(u64::MAX / 2), 0)
        .unwrap();
    s.set(0, b"other", b"v", Expiry::Clear, 0).unwrap();
    for _ in 0..5 {
        s.new_access();
        s.get(0, b"hot", 0);
    }
    s.set(0, b"new", b"v", Expiry::Clear, 0).unwrap();
    assert!(s.peek(0, b"cold", 0).is_none());
    for k in [&b"persist"[..], b"hot", b"other", b"new"] {
        assert!(s.peek(0, k, 0).is_some());
    }
}

#[test]
fn lfu_counter_decays_with_the_minutes_clock() {
    let mut s = lfu_store(Limits::default());
    let t0 = 29_000_000 * 60_000;
    s.tick(t0);
    s.set(0, b"k", b"v", Expiry::Clear, t0).unwrap();
    for _ in 0..20 {
        s.new_access();
        s.get(0, b"k", t0);
    }
    assert_eq!(freq(&mut s, b"k"), 25);
    // Five idle minutes, one off per minute; reading does not write it back.
    s.tick(t0 + 5 * 60_000 + 59_999);
    assert_eq!(freq(&mut s, b"k"), 20);
    assert_eq!(freq(&mut s, b"k"), 20);
    for (decay_time, want) in [(0, 25), (2, 23), (6, 25), (1, 20)] {
        set_lfu(&mut s, 0, decay_time);
        assert_eq!(freq(&mut s, b"k"), want, "decay time {decay_time}");
    }
    // A hit applies the decay, then counts, and restarts the clock.
    s.new_access();
    s.get(0, b"k", t0);
    assert_eq!(freq(&mut s, b"k"), 21);
    // Long idle: the counter bottoms out at 0, also across the clock's wrap.
    s.tick(t0 + 5 * 60_000 + 400 * 60_000);
    assert_eq!(freq(&mut s, b"k"), 0);
}
