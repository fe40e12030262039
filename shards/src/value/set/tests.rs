use super::*;
use crate::alloc_size;
use crate::rdb::{self, EncodeOpts, RdbValue};
use std::collections::{BTreeSet, HashMap};

struct Rng(u64);

impl Rng {
    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const DEFAULT: SetLimits = SetLimits {
    max_intset_entries: 512,
};

/// A set and whether Redis would have made it a hashtable by now.
#[derive(Default)]
struct Model {
    members: std::collections::HashSet<Vec<u8>>,
    converted: bool,
}

impl Model {
    fn add(&mut self, m: &[u8], limits: &SetLimits) -> bool {
        if canonical_int(m).is_none() {
            self.converted = true;
        }
        let new = self.members.insert(m.to_vec());
        if self.members.len() > limits.max_intset_entries {
            self.converted = true;
        }
        new
    }
}

fn check(s: &SetValue, m: &Model) {
    assert_eq!(s.len(), m.members.len());
    assert_eq!(s.is_intset(), !m.converted);
    for x in &m.members {
        assert!(s.contains(x), "{:?}", String::from_utf8_lossy(x));
        assert!(s.contains_member(Member::parse(x)));
    }
    let got: Vec<Vec<u8>> = s.to_members();
    assert_eq!(got.len(), m.members.len());
    assert!(got.iter().all(|x| m.members.contains(x)));
    if s.is_intset() {
        // Ascending numeric order, as SMEMBERS of an intset.
        let ints: Vec<i64> = got.iter().map(|x| canonical_int(x).unwrap()).collect();
        assert!(ints.windows(2).all(|w| w[0] < w[1]));
    }
}

fn member(rng: &mut Rng, pool: u64) -> Vec<u8> {
    let n = rng.below(pool) as i64;
    match rng.below(300) {
        0 => format!("m{n}").into_bytes(),
        1 => format!("0{n}").into_bytes(),
        2 => b"-0".to_vec(),
        3 => format!("{}", i64::MAX - n).into_bytes(),
        4 => format!("{}", i64::MIN + n).into_bytes(),
        5 => b"9223372036854775808".to_vec(),
        6 => vec![b'z'; 3000 + n as usize],
        7..=20 => format!("{}", n * 100_000).into_bytes(),
        _ => format!("{}", n - (pool as i64) / 2).into_bytes(),
    }
}

/// Random SADD/SREM/SISMEMBER against the model, under several thresholds.
#[test]
fn matches_a_model_across_encodings() {
    let limits = [
        DEFAULT,
        SetLimits {
            max_intset_entries: 8,
        },
        SetLimits {
            max_intset_entries: 0,
        },
    ];
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for lim in &limits {
        let pool = if lim.max_intset_entries == 512 {
            900
        } else {
            40
        };
        let mut s = SetValue::new();
        let mut m = Model::default();
        let mut conversions = 0;
        for step in 0..30_000u32 {
            if step % 4_000 == 0 || s.is_empty() {
                s = SetValue::new();
                m = Model::default();
            }
            let x = member(&mut rng, pool);
            let was = s.is_intset();
            match rng.below(10) {
                0..=5 => assert_eq!(s.add(&x, lim), m.add(&x, lim)),
                6..=7 => assert_eq!(s.remove(&x), m.members.remove(&x)),
                _ => assert_eq!(s.contains(&x), m.members.contains(&x)),
            }
            if was && !s.is_intset() {
                conversions += 1;
            }
            if step % 97 == 0 {
                check(&s, &m);
            }
        }
        check(&s, &m);
        assert!(conversions > 0);
    }
}

#[test]
fn converts_at_redis_thresholds() {
    let mut s = SetValue::new();
    for i in 0..512 {
        assert!(s.add(i.to_string().as_bytes(), &DEFAULT));
    }
    assert_eq!(s.encoding_name(), "intset");
    assert!(!s.add(b"511", &DEFAULT));
    assert_eq!(s.encoding_name(), "intset");
    assert!(s.add(b"512", &DEFAULT));
    assert_eq!(s.encoding_name(), "hashtable");
    assert!(s.remove(b"512") && s.remove(b"0"));
    assert_eq!(s.encoding_name(), "hashtable");
    assert!(s.contains(b"7") && !s.contains(b"0"));

    // Only Redis's canonical integers (string2ll) stay in an intset.
    for (m, enc) in [
        ("-0", "hashtable"),
        ("007", "hashtable"),
        ("+1", "hashtable"),
        (" 1", "hashtable"),
        ("1.0", "hashtable"),
        ("", "hashtable"),
        ("9223372036854775807", "intset"),
        ("9223372036854775808", "hashtable"),
        ("-9223372036854775808", "intset"),
        ("-9223372036854775809", "hashtable"),
        ("0", "intset"),
        ("-1", "intset"),
    ] {
        let mut s = SetValue::new();
        s.add(m.as_bytes(), &DEFAULT);
        assert_eq!(s.encoding_name(), enc, "member {m:?}");
        assert!(s.contains(m.as_bytes()));
    }
    // set-max-intset-entries 0: the first integer converts.
    let mut s = SetValue::new();
    s.add(
        b"1",
        &SetLimits {
            max_intset_entries: 0,
        },
    );
    assert_eq!(s.encoding_name(), "hashtable");
    // A non-integer then removed: stays a hashtable.
    let mut s = SetValue::new();
    for m in ["1", "2", "3", "a"] {
        s.add(m.as_bytes(), &DEFAULT);
    }
    s.remove(b"a");
    assert_eq!(s.encoding_name(), "hashtable");
}

#[test]
fn intset_is_sorted_and_members_compare_as_integers() {
    let mut s = SetValue::new();
    for m in ["5", "-3", "100000", "2", "70000"] {
        s.add(m.as_bytes(), &DEFAULT);
    }
    // SMEMBERS of an intset: -3 2 5 70000 100000, and SSCAN gives it all.
    let want: Vec<Vec<u8>> = ["-3", "2", "5", "70000", "100000"]
        .iter()
        .map(|m| m.as_bytes().to_vec())
        .collect();
    assert_eq!(s.to_members(), want);
    let mut scanned = Vec::new();
    assert_eq!(s.scan(0, 1, |m| scanned.push(m.to_vec())), 0);
    assert_eq!(scanned, want);
    assert!(s.iter().eq([-3, 2, 5, 70_000, 100_000].map(Member::Int)));
    // Member forms agree in both encodings.
    let mut t = s.clone();
    t.convert_to_table();
    for set in [&s, &t] {
        assert!(set.contains_member(Member::Int(70_000)));
        assert!(set.contains_member(Member::Str(b"70000")));
        assert!(!set.contains_member(Member::Str(b"070000")));
        assert!(!set.contains(b"x"));
    }
    assert_eq!(s, t);
    let mut u = t.clone();
    assert!(u.remove_member(Member::Int(5)) && !u.remove_member(Member::Int(5)));
    assert_ne!(u, t);
    assert!(u.add_member(Member::Int(5), &DEFAULT));
    assert_eq!(u, t);
    // An integer given as bytes to an intset is that integer.
    let mut v = s.clone();
    assert!(!v.add_member(Member::Str(b"5"), &DEFAULT));
    assert!(v.is_intset());
}

fn set_of(n: usize, ints: bool) -> SetValue {
    let mut s = SetValue::new();
    for i in 0..n {
        let m = if ints { i.to_string() } else { format!("m{i}") };
        s.add(m.as_bytes(), &DEFAULT);
    }
    s
}

fn draws(s: &SetValue, count: i64, runs: usize, rng: &mut Rng) -> HashMap<Vec<u8>, usize> {
    let mut hits: HashMap<Vec<u8>, usize> = HashMap::new();
    for _ in 0..runs {
        let mut got = Vec::new();
        s.random_members(count, &mut |n| rng.below(n), |m| got.push(m.to_vec()));
        let want = if count < 0 {
            count.unsigned_abs() as usize
        } else {
            (count as usize).min(s.len())
        };
        assert_eq!(got.len(), want);
        if count > 0 {
            let d: BTreeSet<&Vec<u8>> = got.iter().collect();
            assert_eq!(d.len(), got.len(), "distinct for a positive count");
        }
        for m in got {
            assert!(s.contains(&m));
            *hits.entry(m).or_default() += 1;
        }
    }
    hits
}

fn assert_uniform(hits: &HashMap<Vec<u8>, usize>, n: usize, expect: f64) {
    assert_eq!(hits.len(), n, "every member drawn");
    for (m, &c) in hits {
        // Within five standard deviations of a binomial count.
        assert!(
            (c as f64 - expect).abs() < 5.0 * expect.sqrt(),
            "{:?}: {c} vs {expect}",
            String::from_utf8_lossy(m)
        );
    }
}

#[test]
fn random_members_follow_redis_strategies_uniformly() {
    let mut rng = Rng(7);
    for ints in [true, false] {
        let s = set_of(10, ints);
        assert_eq!(s.is_intset(), ints);
        assert_uniform(&draws(&s, -10_000, 1, &mut rng), 10, 1_000.0);
        assert_uniform(&draws(&s, 1, 10_000, &mut rng), 10, 1_000.0);
        let mut all = Vec::new();
        s.random_members(10, &mut |n| rng.below(n), |m| all.push(m.to_vec()));
        assert_eq!(all, s.to_members());
        let s = set_of(60, ints);
        // Over a third of the size (copy and remove), and under it (draw).
        assert_uniform(&draws(&s, 30, 4_000, &mut rng), 60, 2_000.0);
        assert_uniform(&draws(&s, 5, 12_000, &mut rng), 60, 1_000.0);
        let mut hits: HashMap<Vec<u8>, usize> = HashMap::new();
        for _ in 0..60_000 {
            let m = s.random_member(&mut |n| rng.below(n)).unwrap();
            *hits.entry(m.to_vec()).or_default() += 1;
        }
        assert_uniform(&hits, 60, 1_000.0);
    }
    let empty = SetValue::new();
    assert!(empty.random_member(&mut |n| rng.below(n)).is_none());
    empty.random_members(-3, &mut |n| rng.below(n), |_| panic!("empty"));
}

#[test]
fn pops_follow_redis_strategies() {
    let mut rng = Rng(11);
    for ints in [true, false] {
        // SPOP: each member once, uniformly first.
        let mut first: HashMap<Vec<u8>, usize> = HashMap::new();
        for _ in 0..5_000 {
            let mut s = set_of(5, ints);
            let m = s.pop_random(&mut |n| rng.below(n)).unwrap();
            assert!(!s.contains(&m) && s.len() == 4);
            *first.entry(m).or_default() += 1;
        }
        assert_uniform(&first, 5, 1_000.0);

        // SPOP count: popped + kept = the set, for each strategy.
        for (n, count) in [(20usize, 2usize), (20, 18), (20, 20), (20, 50)] {
            let before = set_of(n, ints);
            let mut s = before.clone();
            let mut popped = Vec::new();
            s.pop_random_count(count, &mut |k| rng.below(k), &DEFAULT, |m| {
                popped.push(m.to_vec())
            });
            assert_eq!(popped.len(), count.min(n));
            assert_eq!(s.len(), n - count.min(n));
            for m in &popped {
                assert!(before.contains(m) && !s.contains(m));
            }
            let d: BTreeSet<&Vec<u8>> = popped.iter().collect();
            assert_eq!(d.len(), popped.len());
        }
    }
    // The new set of SPOP's third strategy starts as an intset, as in
    // Redis: a hashtable of integers can come back as an intset.
    let mut s = set_of(20, true);
    s.add(b"a", &DEFAULT);
    s.remove(b"a");
    assert_eq!(s.encoding_name(), "hashtable");
    let mut popped = Vec::new();
    s.pop_random_count(18, &mut |k| rng.below(k), &DEFAULT, |m| {
        popped.push(m.to_vec())
    });
    assert_eq!(s.encoding_name(), "intset");
    assert_eq!(s.len(), 2);
    // The second strategy pops in place.
    let mut s = set_of(20, true);
    s.add(b"a", &DEFAULT);
    s.remove(b"a");
    s.pop_random_count(2, &mut |k| rng.below(k), &DEFAULT, |_| {});
    assert_eq!((s.encoding_name(), s.len()), ("hashtable", 18));
    // An intset's remainder is given in ascending order (third strategy).
    let mut s = set_of(20, true);
    let mut popped = Vec::new();
    s.pop_random_count(18, &mut |k| rng.below(k), &DEFAULT, |m| {
        popped.push(m.to_vec())
    });
    let ints: Vec<i64> = popped.iter().map(|m| canonical_int(m).unwrap()).collect();
    assert!(ints.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn table_scan_returns_every_member_once() {
    let s = set_of(3_000, false);
    for count in [1, 10, 500] {
        let mut seen: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut cursor = 0;
        loop {
            cursor = s.scan(cursor, count, |m| *seen.entry(m.to_vec()).or_default() += 1);
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 3_000);
        assert!(seen.values().all(|&n| n == 1));
    }
}

#[test]
fn builds_from_and_exports_members_as_redis_loads_them() {
    let ints: Vec<Vec<u8>> = (0..512)
        .rev()
        .map(|i: i32| (i * 1000).to_string().into_bytes())
        .collect();
    let s = SetValue::from_members(&ints, &DEFAULT);
    assert_eq!(s.encoding_name(), "intset");
    assert_eq!(s.len(), 512);
    let mut more = ints.clone();
    more.push(b"1".to_vec());
    assert_eq!(
        SetValue::from_members(&more, &DEFAULT).encoding_name(),
        "hashtable"
    );
    // Duplicates count once.
    let mut dup = ints.clone();
    dup.push(b"0".to_vec());
    assert_eq!(
        SetValue::from_members(&dup, &DEFAULT).encoding_name(),
        "intset"
    );
    let mixed = [&b"1"[..], b"x", b"x"];
    let m = SetValue::from_members(mixed, &DEFAULT);
    assert_eq!((m.encoding_name(), m.len()), ("hashtable", 2));
    assert!(SetValue::from_members(Vec::<Vec<u8>>::new(), &DEFAULT).is_empty());

    for members in [ints, more] {
        let s = SetValue::from_members(&members, &DEFAULT);
        let value = RdbValue::Set(s.to_members());
        let opts = EncodeOpts::for_value(&value, &rdb::Limits::default());
        assert_eq!(opts.set_intset, s.is_intset());
        let RdbValue::Set(back) = rdb::restore(&rdb::dump(&value, &opts)).unwrap() else {
            panic!("not a set");
        };
        let again = SetValue::from_members(back, &DEFAULT);
        assert_eq!(again, s);
        assert_eq!(again.encoding_name(), s.encoding_name());
    }
}

#[test]
fn heap_bytes_follows_the_encoding() {
    let mut s = SetValue::new();
    assert_eq!(s.heap_bytes(), 0);
    for i in 0..100 {
        s.add(i.to_string().as_bytes(), &DEFAULT);
    }
    assert_eq!(s.heap_bytes(), alloc_size(1 + 2 * 100));
    s.add(b"100000", &DEFAULT);
    assert_eq!(s.heap_bytes(), alloc_size(1 + 4 * 101));
    // Ten 10-byte members in a table: the buffer, the index, the header.
    let s = set_of(10, false);
    let t = s.heap_bytes();
    assert!(t <= 400, "{t}");
    assert_eq!(std::mem::size_of::<SetValue>(), 16);
}
