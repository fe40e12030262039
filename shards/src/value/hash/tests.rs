use super::*;
use crate::rdb::{self, EncodeOpts, RdbValue};
use std::collections::HashMap;

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

const DEFAULT: HashLimits = HashLimits {
    max_listpack_entries: 512,
    max_listpack_value: 64,
};

/// A hash as Redis shows a listpack: fields in insertion order.
#[derive(Default)]
struct Model {
    order: Vec<Vec<u8>>,
    map: HashMap<Vec<u8>, Vec<u8>>,
    /// Whether Redis would have converted the hash by now.
    converted: bool,
}

impl Model {
    fn set(&mut self, f: &[u8], v: &[u8], limits: &HashLimits) -> bool {
        if f.len() > limits.max_listpack_value || v.len() > limits.max_listpack_value {
            self.converted = true;
        }
        let new = self.map.insert(f.to_vec(), v.to_vec()).is_none();
        if new {
            self.order.push(f.to_vec());
        }
        if self.map.len() > limits.max_listpack_entries {
            self.converted = true;
        }
        new
    }
    fn remove(&mut self, f: &[u8]) -> bool {
        let had = self.map.remove(f).is_some();
        if had {
            self.order.retain(|x| x != f);
        }
        had
    }
}

fn check(h: &HashValue, m: &Model) {
    assert_eq!(h.len(), m.map.len());
    assert_eq!(h.is_listpack(), !m.converted);
    assert_eq!(
        h.encoding_name(),
        if m.converted { "hashtable" } else { "listpack" }
    );
    for (f, v) in &m.map {
        assert_eq!(h.get(f), Some(&v[..]));
        assert!(h.contains(f));
    }
    let got: Vec<(&[u8], &[u8])> = h.iter().collect();
    assert_eq!(got.len(), m.map.len());
    for (f, v) in &got {
        assert_eq!(m.map.get(*f).map(|x| &x[..]), Some(*v));
    }
    if !m.converted {
        let fields: Vec<&[u8]> = got.iter().map(|(f, _)| *f).collect();
        let want: Vec<&[u8]> = m.order.iter().map(|f| &f[..]).collect();
        assert_eq!(fields, want, "listpack order");
    }
}

fn field(rng: &mut Rng, pool: u64) -> Vec<u8> {
    let n = rng.below(pool);
    match rng.below(200) {
        0 => format!("long-field-{n}-{}", "x".repeat(60)).into_bytes(),
        _ => format!("f{n}").into_bytes(),
    }
}

fn value(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(100) {
        0 => 65,
        1 => 3000,
        2..=5 => 64,
        _ => rng.below(20) as usize,
    };
    let c = b'a' + rng.below(26) as u8;
    vec![c; len]
}

/// Random HSET/HDEL against the model, under several thresholds, through
/// the listpack, the conversion and the hashtable.
#[test]
fn matches_a_model_across_encodings() {
    let limits = [
        DEFAULT,
        HashLimits {
            max_listpack_entries: 8,
            max_listpack_value: 6,
        },
        HashLimits {
            max_listpack_entries: 0,
            max_listpack_value: 64,
        },
        HashLimits {
            max_listpack_entries: 512,
            max_listpack_value: 0,
        },
        HashLimits {
            max_listpack_entries: 100_000,
            max_listpack_value: 10_000,
        },
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (li, lim) in limits.iter().enumerate() {
        let pool = if li == 0 { 800 } else { 60 };
        let mut h = HashValue::new();
        let mut m = Model::default();
        let mut conversions = 0;
        for step in 0..30_000u32 {
            if step % 5_000 == 0 || h.is_empty() {
                h = HashValue::new();
                m = Model::default();
            }
            let f = field(&mut rng, pool);
            let was = h.is_listpack();
            match rng.below(10) {
                0..=5 => {
                    let v = value(&mut rng);
                    assert_eq!(h.set(&f, &v, lim), m.set(&f, &v, lim));
                }
                6..=7 => assert_eq!(h.remove(&f), m.remove(&f)),
                _ => assert_eq!(h.get(&f), m.map.get(&f).map(|v| &v[..])),
            }
            if was && !h.is_listpack() {
                conversions += 1;
            }
            if step % 97 == 0 {
                check(&h, &m);
            }
        }
        check(&h, &m);
        if li != 4 {
            assert!(conversions > 0, "limits {lim:?}");
        }
    }
}

#[test]
fn converts_at_redis_thresholds() {
    // 512 fields stay a listpack; the 513th converts (HSET of 512, then one).
    let mut h = HashValue::new();
    for i in 0..512 {
        assert!(h.set(format!("f{i}").as_bytes(), b"v", &DEFAULT));
    }
    assert_eq!(h.encoding_name(), "listpack");
    // Updating a field keeps it so.
    assert!(!h.set(b"f0", b"x", &DEFAULT));
    assert_eq!(h.encoding_name(), "listpack");
    assert!(h.set(b"f512", b"x", &DEFAULT));
    assert_eq!(h.encoding_name(), "hashtable");
    // Never back.
    for f in [&b"f512"[..], b"f1", b"f2"] {
        assert!(h.remove(f));
    }
    assert_eq!(h.encoding_name(), "hashtable");
    assert_eq!(h.len(), 510);

    // A value of 64 bytes fits, 65 converts; so does a 65-byte field.
    let mut h = HashValue::new();
    h.set(b"f", &[b'x'; 64], &DEFAULT);
    assert_eq!(h.encoding_name(), "listpack");
    h.set(b"g", &[b'x'; 65], &DEFAULT);
    assert_eq!(h.encoding_name(), "hashtable");
    let mut h = HashValue::new();
    h.set(&[b'x'; 65], b"1", &DEFAULT);
    assert_eq!(h.encoding_name(), "hashtable");
    // Even when the long value replaces a short one.
    let mut h = HashValue::new();
    h.set(b"a", b"1", &DEFAULT);
    h.set(b"a", &[b'x'; 65], &DEFAULT);
    assert_eq!(h.encoding_name(), "hashtable");
    assert_eq!(h.get(b"a"), Some(&[b'x'; 65][..]));

    // hash-max-listpack-entries 0: the first field converts; value limit 0
    // still lets empty strings in.
    let zero = HashLimits {
        max_listpack_entries: 0,
        max_listpack_value: 64,
    };
    let mut h = HashValue::new();
    h.set(b"a", b"1", &zero);
    assert_eq!(h.encoding_name(), "hashtable");
    let empty_only = HashLimits {
        max_listpack_entries: 512,
        max_listpack_value: 0,
    };
    let mut h = HashValue::new();
    h.set(b"", b"", &empty_only);
    assert_eq!(h.encoding_name(), "listpack");

    // HSET's up-front check: a long argument anywhere converts before any insert.
    let mut h = HashValue::new();
    h.try_conversion([&b"a"[..], b"1", b"b", &[b'x'; 65]], &DEFAULT);
    assert_eq!(h.encoding_name(), "hashtable");
    let mut h = HashValue::new();
    h.try_conversion([&b"a"[..], &[b'x'; 64]], &DEFAULT);
    assert_eq!(h.encoding_name(), "listpack");
}

#[test]
fn listpack_keeps_redis_order() {
    // HSET a 1 b 2 c 3; HSET a 9; HDEL b; HSET b 5 → a 9 c 3 b 5 (as Redis).
    let mut h = HashValue::new();
    for (f, v) in [("a", "1"), ("b", "2"), ("c", "3"), ("a", "9")] {
        h.set(f.as_bytes(), v.as_bytes(), &DEFAULT);
    }
    h.remove(b"b");
    h.set(b"b", b"5", &DEFAULT);
    let got: Vec<(&[u8], &[u8])> = h.iter().collect();
    assert_eq!(
        got,
        vec![(&b"a"[..], &b"9"[..]), (b"c", b"3"), (b"b", b"5")]
    );
    // HSCAN of a listpack: everything, cursor 0.
    let mut seen = Vec::new();
    assert_eq!(h.scan(0, 1, |f, v| seen.push((f.to_vec(), v.to_vec()))), 0);
    assert_eq!(seen, h.to_entries());
    // A value growing and shrinking in place keeps its spot.
    h.set(b"a", &[b'y'; 60], &DEFAULT);
    h.set(b"c", b"", &DEFAULT);
    let fields: Vec<&[u8]> = h.iter().map(|(f, _)| f).collect();
    assert_eq!(fields, vec![&b"a"[..], b"c", b"b"]);
    assert_eq!(h.get(b"a"), Some(&[b'y'; 60][..]));
    assert_eq!(h.get(b"c"), Some(&b""[..]));
}

#[test]
fn heap_bytes_is_exact_for_a_listpack_and_tracks_a_table() {
    let mut h = HashValue::new();
    assert_eq!(h.heap_bytes(), 0);
    let mut bytes = HEADER;
    for i in 0..10 {
        let f = format!("field:{i:02}");
        let v = format!("value:{i:010}");
        h.set(f.as_bytes(), v.as_bytes(), &DEFAULT);
        bytes += record_len(f.as_bytes(), Some(v.as_bytes()));
    }
    // 10 entries of 8 + 16 bytes: 4 + 10 * 26 bytes, one allocation.
    assert_eq!(bytes, 264);
    assert_eq!(h.heap_bytes(), alloc_size(264));
    h.remove(b"field:03");
    assert_eq!(h.heap_bytes(), alloc_size(264 - 26));
    h.convert_to_table();
    let t = h.heap_bytes();
    assert!(t > alloc_size(238) && t < 1024, "{t}");
    for i in 0..10_000 {
        h.set(
            format!("more:{i}").as_bytes(),
            b"0123456789abcdef",
            &DEFAULT,
        );
    }
    let grown = h.heap_bytes();
    for i in 0..10_000 {
        h.remove(format!("more:{i}").as_bytes());
    }
    assert!(h.heap_bytes() < grown / 10, "{} vs {grown}", h.heap_bytes());
}

fn draw_counts(h: &HashValue, count: i64, runs: usize, rng: &mut Rng) -> HashMap<Vec<u8>, usize> {
    let mut hits: HashMap<Vec<u8>, usize> = HashMap::new();
    for _ in 0..runs {
        let mut got: Vec<Vec<u8>> = Vec::new();
        h.random_entries(count, &mut |n| rng.below(n), |f, v| {
            assert_eq!(h.get(f), Some(v));
            got.push(f.to_vec());
        });
        assert_eq!(
            got.len(),
            count
                .unsigned_abs()
                .min(if count > 0 { h.len() as u64 } else { u64::MAX }) as usize
        );
        if count > 0 {
            let mut d = got.clone();
            d.sort();
            d.dedup();
            assert_eq!(d.len(), got.len(), "distinct for a positive count");
        }
        for f in got {
            *hits.entry(f).or_default() += 1;
        }
    }
    hits
}

fn assert_uniform(hits: &HashMap<Vec<u8>, usize>, fields: usize, expect: f64) {
    assert_eq!(hits.len(), fields, "every field drawn");
    for (f, &n) in hits {
        // Within five standard deviations of a binomial count.
        assert!(
            (n as f64 - expect).abs() < 5.0 * expect.sqrt(),
            "{:?}: {n} vs {expect}",
            String::from_utf8_lossy(f)
        );
    }
}

fn hash_of(n: usize, table: bool) -> HashValue {
    let mut h = HashValue::new();
    for i in 0..n {
        h.set(
            format!("f{i}").as_bytes(),
            format!("v{i}").as_bytes(),
            &DEFAULT,
        );
    }
    if table {
        h.convert_to_table();
    }
    h
}

#[test]
fn random_entries_follow_redis_strategies_uniformly() {
    let mut rng = Rng(42);
    for table in [false, true] {
        // Negative counts: draws with repetition (over 1000 in batches).
        let h = hash_of(10, table);
        let hits = draw_counts(&h, -2_500, 4, &mut rng);
        assert_uniform(&hits, 10, 1_000.0);
        // Count 1 and a count of at least the size.
        let hits = draw_counts(&h, 1, 10_000, &mut rng);
        assert_uniform(&hits, 10, 1_000.0);
        let mut all = Vec::new();
        h.random_entries(25, &mut |n| rng.below(n), |f, _| all.push(f.to_vec()));
        assert_eq!(all, h.iter().map(|(f, _)| f.to_vec()).collect::<Vec<_>>());
        // Distinct draws: over a third of the size, and under it.
        let h = hash_of(60, table);
        let hits = draw_counts(&h, 30, 4_000, &mut rng);
        assert_uniform(&hits, 60, 2_000.0);
        let hits = draw_counts(&h, 5, 12_000, &mut rng);
        assert_uniform(&hits, 60, 1_000.0);
    }
    // A listpack's distinct draws come in listpack order.
    let h = hash_of(50, false);
    let rank: HashMap<Vec<u8>, usize> = h
        .iter()
        .enumerate()
        .map(|(i, (f, _))| (f.to_vec(), i))
        .collect();
    for _ in 0..100 {
        let mut got = Vec::new();
        h.random_entries(7, &mut |n| rng.below(n), |f, _| got.push(rank[f]));
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    }
    // random_entry: uniform, both encodings.
    for table in [false, true] {
        let h = hash_of(8, table);
        let mut hits: HashMap<Vec<u8>, usize> = HashMap::new();
        for _ in 0..16_000 {
            let (f, v) = h.random_entry(&mut |n| rng.below(n)).unwrap();
            assert_eq!(h.get(f), Some(v));
            *hits.entry(f.to_vec()).or_default() += 1;
        }
        assert_uniform(&hits, 8, 2_000.0);
    }
    assert!(HashValue::new()
        .random_entry(&mut |n| rng.below(n))
        .is_none());
    HashValue::new().random_entries(-5, &mut |n| rng.below(n), |_, _| panic!("empty"));
}

#[test]
fn table_scan_returns_every_entry_once() {
    let h = hash_of(5_000, true);
    for count in [1, 10, 1_000] {
        let mut seen: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut cursor = 0;
        loop {
            cursor = h.scan(cursor, count, |f, v| {
                assert_eq!(h.get(f), Some(v));
                *seen.entry(f.to_vec()).or_default() += 1;
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 5_000);
        assert!(seen.values().all(|&n| n == 1));
    }
    // A cursor beyond any the walk hands out ends it.
    assert_eq!(h.scan(u64::MAX, 10, |_, _| {}), 0);
}

#[test]
fn builds_from_and_exports_entries_as_redis_loads_them() {
    let small: Vec<(Vec<u8>, Vec<u8>)> = (0..512)
        .map(|i| (format!("f{i}").into_bytes(), format!("v{i}").into_bytes()))
        .collect();
    let h = HashValue::from_entries(small.clone(), &DEFAULT);
    assert_eq!(h.encoding_name(), "listpack");
    assert_eq!(h.to_entries(), small);
    let mut more = small.clone();
    more.push((b"one more".to_vec(), b"x".to_vec()));
    let h = HashValue::from_entries(more.clone(), &DEFAULT);
    assert_eq!(h.encoding_name(), "hashtable");
    assert_eq!(h.len(), 513);
    let long = vec![(b"a".to_vec(), vec![b'x'; 65])];
    assert_eq!(
        HashValue::from_entries(long, &DEFAULT).encoding_name(),
        "hashtable"
    );
    // A duplicate field keeps its first place and takes the last value.
    let h = HashValue::from_entries([("a", "1"), ("b", "2"), ("a", "3")], &DEFAULT);
    assert_eq!(
        h.to_entries(),
        vec![
            (b"a".to_vec(), b"3".to_vec()),
            (b"b".to_vec(), b"2".to_vec())
        ]
    );
    assert!(HashValue::from_entries(Vec::<(&[u8], &[u8])>::new(), &DEFAULT).is_empty());

    // Through a DUMP payload and back, both encodings.
    for entries in [small, more] {
        let h = HashValue::from_entries(entries.clone(), &DEFAULT);
        let value = RdbValue::Hash(h.to_entries());
        let opts = EncodeOpts::for_value(&value, &rdb::Limits::default());
        assert_eq!(opts.hash_listpack, h.is_listpack());
        let payload = rdb::dump(&value, &opts);
        let RdbValue::Hash(back) = rdb::restore(&payload).unwrap() else {
            panic!("not a hash");
        };
        let again = HashValue::from_entries(back, &DEFAULT);
        assert_eq!(again, h);
        assert_eq!(again.encoding_name(), h.encoding_name());
        if h.is_listpack() {
            assert_eq!(again.to_entries(), h.to_entries());
        }
        // COPY: a clone is equal and independent.
        let mut c = h.clone();
        assert_eq!(c, h);
        c.set(b"f0", b"changed", &DEFAULT);
        assert_ne!(c, h);
    }
}

#[test]
fn listpack_and_table_of_the_same_entries_are_equal() {
    let a = hash_of(20, false);
    let b = hash_of(20, true);
    assert_eq!(a, b);
    assert_eq!(
        format!("{a:?}"),
        "HashValue { encoding: \"listpack\", len: 20 }"
    );
    assert_eq!(std::mem::size_of::<HashValue>(), 16);
}
