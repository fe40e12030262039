//! Sorted sets against a `BTreeMap` + `HashMap` model, across both
//! encodings and the conversion.

use super::*;
use std::collections::{BTreeMap, HashMap, HashSet};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

/// A score ordered as Redis orders them (-0 equals 0).
#[derive(Clone, Copy, Debug)]
struct Score(f64);
impl PartialEq for Score {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Score {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.partial_cmp(&o.0).expect("no NaN")
    }
}

#[derive(Default)]
struct Model {
    order: BTreeMap<(Score, Vec<u8>), ()>,
    scores: HashMap<Vec<u8>, f64>,
    big: bool,
}

impl Model {
    fn all(&self) -> Vec<(Vec<u8>, f64)> {
        self.order
            .keys()
            .map(|(_, m)| (m.clone(), self.scores[m]))
            .collect()
    }
    fn insert(&mut self, m: &[u8], s: f64, limits: &ZSetLimits) -> Option<f64> {
        if let Some(&old) = self.scores.get(m) {
            if old != s {
                self.order.remove(&(Score(old), m.to_vec()));
                let s = if self.big { s } else { s + 0.0 };
                self.order.insert((Score(s), m.to_vec()), ());
                self.scores.insert(m.to_vec(), s);
            }
            return Some(old);
        }
        if self.scores.len() + 1 > limits.max_listpack_entries
            || m.len() > limits.max_listpack_value
        {
            self.big = true;
        }
        // The compact encoding stores -0 as 0.
        let s = if self.big { s } else { s + 0.0 };
        self.order.insert((Score(s), m.to_vec()), ());
        self.scores.insert(m.to_vec(), s);
        None
    }
    fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let s = self.scores.remove(m)?;
        self.order.remove(&(Score(s), m.to_vec()));
        Some(s)
    }
}

fn same(got: Vec<(&[u8], f64)>, want: &[(Vec<u8>, f64)], what: &str) {
    let got: Vec<(Vec<u8>, u64)> = got
        .into_iter()
        .map(|(m, s)| (m.to_vec(), s.to_bits()))
        .collect();
    let want: Vec<(Vec<u8>, u64)> = want.iter().map(|(m, s)| (m.clone(), s.to_bits())).collect();
    assert_eq!(got, want, "{what}");
}

fn check(z: &ZSetValue, m: &Model) {
    assert_eq!(z.len(), m.scores.len());
    assert_eq!(z.encoding() == ZSetEncoding::Skiplist, m.big, "encoding");
    if let Repr::Big(t) = &z.r {
        t.check();
    }
    same(z.iter().collect(), &m.all(), "iter");
}

const SCORES: [f64; 12] = [
    0.0,
    -0.0,
    1.0,
    1.0,
    2.0,
    -1.5,
    3.25,
    100.0,
    1e300,
    -1e-300,
    f64::INFINITY,
    f64::NEG_INFINITY,
];

fn member(r: &mut Rng, pool: u64, long: bool) -> Vec<u8> {
    let k = r.below(pool);
    let mut v = format!("m{k:05}").into_bytes();
    if k % 7 == 0 {
        v.truncate(3); // prefixes of others
    }
    if long && r.below(400) == 0 {
        v.extend_from_slice(&[b'x'; 64]);
    }
    v
}

fn score(r: &mut Rng, fractional: bool) -> f64 {
    if fractional && r.below(2) == 0 {
        (r.below(2000) as f64 - 1000.0) / 8.0
    } else {
        SCORES[r.below(SCORES.len() as u64) as usize]
    }
}

fn bound(r: &mut Rng) -> ScoreBound {
    let v = score(r, true);
    if r.below(2) == 0 {
        ScoreBound::inclusive(v)
    } else {
        ScoreBound::exclusive(v)
    }
}

fn lex_bound<'a>(r: &mut Rng, pool: &'a [Vec<u8>]) -> LexBound<'a> {
    match r.below(8) {
        0 => LexBound::Min,
        1 => LexBound::Max,
        2..=4 => LexBound::Inclusive(&pool[r.below(pool.len() as u64) as usize]),
        _ => LexBound::Exclusive(&pool[r.below(pool.len() as u64) as usize]),
    }
}

fn model_lex(m: &Model, range: &LexRange) -> Vec<(Vec<u8>, f64)> {
    if range.is_empty() {
        return vec![];
    }
    m.all()
        .into_iter()
        .filter(|(x, _)| range.gte_min(x) && range.lte_max(x))
        .collect()
}

fn limit(
    v: Vec<(Vec<u8>, f64)>,
    reverse: bool,
    offset: usize,
    count: Option<usize>,
) -> Vec<(Vec<u8>, f64)> {
    let mut v = v;
    if reverse {
        v.reverse();
    }
    v.into_iter()
        .skip(offset)
        .take(count.unwrap_or(usize::MAX))
        .collect()
}

/// Random operations; `lex` keeps every score equal so lex ranges are
/// meaningful.
fn run(seed: u64, steps: usize, pool: u64, limits: ZSetLimits, lex: bool) {
    let mut r = Rng(seed);
    let mut z = ZSetValue::new();
    let mut m = Model::default();
    let pool_members: Vec<Vec<u8>> = (0..pool.min(500))
        .map(|k| format!("m{k:05}").into_bytes())
        .chain([b"m".to_vec(), b"".to_vec(), b"n".to_vec()])
        .collect();
    let mut rand_state = seed | 1;
    for step in 0..steps {
        let n = z.len() as i64;
        let mut rand = |n: u64| {
            rand_state ^= rand_state << 13;
            rand_state ^= rand_state >> 7;
            rand_state ^= rand_state << 17;
            rand_state % n
        };
        match r.below(20) {
            0..=6 => {
                let x = member(&mut r, pool, true);
                let s = if lex { 0.0 } else { score(&mut r, true) };
                assert_eq!(z.insert_or_update(&x, s, &limits), m.insert(&x, s, &limits));
            }
            7 | 8 => {
                let x = member(&mut r, pool, false);
                assert_eq!(z.remove(&x), m.remove(&x));
            }
            9 => {
                let x = member(&mut r, pool, false);
                assert_eq!(
                    z.score(&x).map(f64::to_bits),
                    m.scores.get(&x).map(|s| s.to_bits())
                );
                let all = m.all();
                let rank = all.iter().position(|(y, _)| *y == x);
                assert_eq!(z.rank(&x, false), rank);
                assert_eq!(z.rank(&x, true), rank.map(|k| all.len() - 1 - k));
            }
            10 => {
                let (a, b) = (r.range(-n - 3, n + 3), r.range(-n - 3, n + 3));
                let rev = r.below(2) == 0;
                let mut want = m.all();
                if rev {
                    want.reverse();
                }
                let want: Vec<_> = match crate::value::list::rank_range(a, b, want.len()) {
                    Some((x, y)) => want[x..y].to_vec(),
                    None => vec![],
                };
                let it = z.range_by_rank(a, b, rev);
                assert_eq!(it.len(), want.len());
                same(it.collect(), &want, "range_by_rank");
            }
            11 | 12 if !lex => {
                let range = ScoreRange {
                    min: bound(&mut r),
                    max: bound(&mut r),
                };
                let rev = r.below(2) == 0;
                let offset = r.below(4) as usize * r.below(3) as usize;
                let count = if r.below(2) == 0 {
                    None
                } else {
                    Some(r.below(6) as usize)
                };
                let inr: Vec<_> = m
                    .all()
                    .into_iter()
                    .filter(|(_, s)| range.contains(*s))
                    .collect();
                assert_eq!(z.count_in_score(&range), inr.len(), "{range:?}");
                let want = limit(inr, rev, offset, count);
                same(
                    z.range_by_score(&range, rev, offset, count).collect(),
                    &want,
                    &format!("{range:?} rev {rev} limit {offset} {count:?}"),
                );
            }
            11 | 12 => {
                let range = LexRange {
                    min: lex_bound(&mut r, &pool_members),
                    max: lex_bound(&mut r, &pool_members),
                };
                let rev = r.below(2) == 0;
                let offset = r.below(4) as usize * r.below(3) as usize;
                let count = if r.below(2) == 0 {
                    None
                } else {
                    Some(r.below(6) as usize)
                };
                let inr = model_lex(&m, &range);
                assert_eq!(z.count_in_lex(&range), inr.len(), "{range:?}");
                let want = limit(inr, rev, offset, count);
                same(
                    z.range_by_lex(&range, rev, offset, count).collect(),
                    &want,
                    &format!("{range:?}"),
                );
            }
            13 if r.below(3) == 0 => {
                let (a, b) = (r.range(-n - 3, n + 3), r.range(-n - 3, (n / 8) + 2));
                let all = m.all();
                let gone = match crate::value::list::rank_range(a, b, all.len()) {
                    Some((x, y)) => all[x..y].to_vec(),
                    None => vec![],
                };
                assert_eq!(z.remove_range_by_rank(a, b), gone.len());
                for (x, _) in gone {
                    m.remove(&x);
                }
            }
            14 if r.below(3) == 0 => {
                if lex {
                    let range = LexRange {
                        min: lex_bound(&mut r, &pool_members),
                        max: lex_bound(&mut r, &pool_members),
                    };
                    let gone = model_lex(&m, &range);
                    assert_eq!(z.remove_range_by_lex(&range), gone.len());
                    for (x, _) in gone {
                        m.remove(&x);
                    }
                } else {
                    let range = ScoreRange {
                        min: bound(&mut r),
                        max: bound(&mut r),
                    };
                    let gone: Vec<_> = m
                        .all()
                        .into_iter()
                        .filter(|(_, s)| range.contains(*s))
                        .collect();
                    assert_eq!(z.remove_range_by_score(&range), gone.len());
                    for (x, _) in gone {
                        m.remove(&x);
                    }
                }
            }
            15 => {
                let max = r.below(2) == 0;
                let c = r.below(5) as usize;
                let mut all = m.all();
                if max {
                    all.reverse();
                }
                let want: Vec<_> = all.into_iter().take(c).collect();
                let got = z.pop(max, c);
                assert_eq!(
                    got.iter()
                        .map(|(x, s)| (x.clone(), s.to_bits()))
                        .collect::<Vec<_>>(),
                    want.iter()
                        .map(|(x, s)| (x.clone(), s.to_bits()))
                        .collect::<Vec<_>>()
                );
                for (x, _) in want {
                    m.remove(&x);
                }
            }
            16 => {
                let count = r.range(-3 * n - 2, 3 * n + 2);
                let mut got = vec![];
                z.random_members(count, &mut rand, |x, s| got.push((x.to_vec(), s)));
                for (x, s) in &got {
                    assert_eq!(m.scores.get(x).map(|v| v.to_bits()), Some(s.to_bits()));
                }
                if n == 0 || count == 0 {
                    assert!(got.is_empty());
                } else if count < 0 {
                    assert_eq!(got.len() as i64, -count);
                } else {
                    assert_eq!(got.len() as i64, count.min(n));
                    let distinct: HashSet<_> = got.iter().map(|(x, _)| x.clone()).collect();
                    assert_eq!(distinct.len(), got.len());
                    if count >= n {
                        same(
                            got.iter().map(|(x, s)| (x.as_slice(), *s)).collect(),
                            &m.all(),
                            "whole set",
                        );
                    }
                }
                let one = z.random_member(&mut rand);
                assert_eq!(one.is_some(), n > 0);
            }
            17 => {
                let mut seen = HashMap::new();
                let mut cursor = 0;
                let count = 1 + r.below(20) as usize;
                loop {
                    cursor = z.scan(cursor, count, |x, s| {
                        assert!(seen.insert(x.to_vec(), s.to_bits()).is_none(), "twice");
                    });
                    if cursor == 0 {
                        break;
                    }
                }
                assert_eq!(seen.len(), m.scores.len());
            }
            _ => {
                // Bulk adds (push past the thresholds).
                for _ in 0..r.below(60) {
                    let x = member(&mut r, pool, true);
                    let s = if lex { 0.0 } else { score(&mut r, true) };
                    assert_eq!(z.insert_or_update(&x, s, &limits), m.insert(&x, s, &limits));
                }
            }
        }
        if z.is_empty() && r.below(2) == 0 {
            // The key goes away; a new one starts compact.
            z = ZSetValue::new();
            m = Model::default();
        }
        if step % 13 == 0 {
            check(&z, &m);
        }
    }
    check(&z, &m);
    let c = z.clone();
    assert_eq!(c, z);
    check(&c, &m);
}

#[test]
fn random_operations_match_a_model() {
    let small = ZSetLimits {
        max_listpack_entries: 8,
        max_listpack_value: 16,
    };
    for seed in 1..=6u64 {
        let s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        run(s, 3000, 300, ZSetLimits::default(), false);
        run(s ^ 1, 3000, 40, small, false);
        run(s ^ 2, 2000, 300, ZSetLimits::default(), true);
        run(s ^ 3, 1500, 6000, ZSetLimits::default(), false);
    }
}

#[test]
fn deep_trees_against_the_model() {
    // Enough members for three levels, with churn, ties and removals.
    let mut r = Rng(77);
    let mut z = ZSetValue::new();
    let mut m = Model::default();
    let limits = ZSetLimits::default();
    for i in 0..60_000u64 {
        let x = format!("k{}", r.below(40_000)).into_bytes();
        let s = (r.below(500) as f64) - 250.0;
        assert_eq!(z.insert_or_update(&x, s, &limits), m.insert(&x, s, &limits));
        if i % 3 == 0 {
            let y = format!("k{}", r.below(40_000)).into_bytes();
            assert_eq!(z.remove(&y), m.remove(&y));
        }
    }
    check(&z, &m);
    let all = m.all();
    for k in (0..all.len()).step_by(997) {
        assert_eq!(z.rank(&all[k].0, false), Some(k));
        let got: Vec<_> = z.range_by_rank(k as i64, k as i64 + 5, false).collect();
        same(got, &all[k..(k + 6).min(all.len())], "window");
    }
    // Mass removal by score takes the rebuild path.
    let range = ScoreRange {
        min: ScoreBound::inclusive(-200.0),
        max: ScoreBound::exclusive(200.0),
    };
    let gone: Vec<_> = all
        .iter()
        .filter(|(_, s)| range.contains(*s))
        .cloned()
        .collect();
    assert_eq!(z.remove_range_by_score(&range), gone.len());
    for (x, _) in gone {
        m.remove(&x);
    }
    check(&z, &m);
    // Removing one by one down to nothing.
    for (x, _) in m.all() {
        z.remove(&x);
        m.remove(&x);
        if m.scores.len() % 1000 == 0 {
            check(&z, &m);
        }
    }
    assert!(z.is_empty());
    assert_eq!(z.encoding_name(), "skiplist", "never converts back");
}

#[test]
fn score_updates_in_place_keep_the_tree_right() {
    let limits = ZSetLimits::default();
    let mut z = ZSetValue::new();
    let mut m = Model::default();
    for i in 0..5000u32 {
        let x = format!("m{i:05}").into_bytes();
        assert_eq!(
            z.insert_or_update(&x, i as f64, &limits),
            m.insert(&x, i as f64, &limits)
        );
    }
    // Every member moves a little (in place), then some swap places.
    for i in 0..5000u32 {
        let x = format!("m{i:05}").into_bytes();
        let s = i as f64 + 0.25;
        assert_eq!(z.insert_or_update(&x, s, &limits), m.insert(&x, s, &limits));
    }
    check(&z, &m);
    for i in (0..5000u32).step_by(7) {
        let x = format!("m{i:05}").into_bytes();
        let s = (5000 - i) as f64;
        assert_eq!(z.insert_or_update(&x, s, &limits), m.insert(&x, s, &limits));
    }
    check(&z, &m);
    let all = m.all();
    for k in (0..all.len()).step_by(311) {
        assert_eq!(z.rank(&all[k].0, false), Some(k));
    }
}

#[test]
fn members_move_to_pages_and_back() {
    let limits = ZSetLimits::default();
    let mut z = ZSetValue::new();
    let mut m = Model::default();
    let paged = |z: &ZSetValue| match &z.r {
        Repr::Big(t) => t.paged(),
        Repr::Compact(_) => false,
    };
    // About 40 bytes a record: pages past some 3300 members.
    for i in 0..6000u32 {
        let x = format!("member-{i:05}-{}", "x".repeat((i % 40) as usize)).into_bytes();
        assert_eq!(
            z.insert_or_update(&x, (i % 97) as f64, &limits),
            m.insert(&x, (i % 97) as f64, &limits)
        );
        if i == 3000 {
            assert!(!paged(&z));
        }
    }
    assert!(paged(&z));
    check(&z, &m);
    let long = vec![b'L'; 10_000];
    z.insert_or_update(&long, 1.5, &limits);
    m.insert(&long, 1.5, &limits);
    check(&z, &m);
    // Removing all but a few hundred moves them back to one buffer.
    assert_eq!(z.remove(&long), m.remove(&long));
    for (x, _) in m.all().into_iter().skip(300) {
        assert_eq!(z.remove(&x), m.remove(&x));
    }
    assert!(!paged(&z));
    check(&z, &m);
    assert_eq!(z.encoding_name(), "skiplist");
    assert!(z.heap_bytes() < 64 * 1024, "{}", z.heap_bytes());
}

#[test]
fn conversion_at_redis_thresholds() {
    let limits = ZSetLimits::default();
    let mut z = ZSetValue::new();
    for i in 1..=128 {
        z.insert_or_update(format!("m{i}").as_bytes(), i as f64, &limits);
    }
    assert_eq!(z.encoding_name(), "listpack");
    // Updating an existing member never converts.
    z.insert_or_update(b"m1", 1000.0, &limits);
    assert_eq!(z.encoding_name(), "listpack");
    z.insert_or_update(b"m129", 129.0, &limits);
    assert_eq!(z.encoding_name(), "skiplist");
    z.remove(b"m129");
    assert_eq!(z.encoding_name(), "skiplist");
    assert_eq!(z.len(), 128);

    let mut z = ZSetValue::new();
    z.insert_or_update(&[b'a'; 64], 1.0, &limits);
    assert_eq!(z.encoding_name(), "listpack");
    z.insert_or_update(&[b'a'; 65], 1.0, &limits);
    assert_eq!(z.encoding_name(), "skiplist");

    assert_eq!(
        ZSetValue::for_first_member(65, &limits).encoding_name(),
        "skiplist"
    );
    assert_eq!(
        ZSetValue::for_first_member(64, &limits).encoding_name(),
        "listpack"
    );
    let none = ZSetLimits {
        max_listpack_entries: 0,
        max_listpack_value: 64,
    };
    assert_eq!(
        ZSetValue::for_first_member(1, &none).encoding_name(),
        "skiplist"
    );

    let v: Vec<(String, f64)> = (0..129).map(|i| (format!("m{i}"), i as f64)).collect();
    assert_eq!(
        ZSetValue::from_entries(v.iter().take(128).map(|(m, s)| (m.as_bytes(), *s)), &limits)
            .encoding_name(),
        "listpack"
    );
    assert_eq!(
        ZSetValue::from_entries(v.iter().map(|(m, s)| (m.as_bytes(), *s)), &limits).encoding_name(),
        "skiplist"
    );
    let forced = ZSetValue::from_entries_encoded([(&[b'x'; 100][..], 1.0)], ZSetEncoding::Listpack);
    assert_eq!(forced.encoding_name(), "listpack");
}

#[test]
fn negative_zero_as_redis() {
    let limits = ZSetLimits::default();
    // Listpack: -0 is stored as 0.
    let mut z = ZSetValue::new();
    z.insert_or_update(b"a", -0.0, &limits);
    assert_eq!(z.score(b"a").unwrap().to_bits(), 0.0f64.to_bits());
    // Skiplist: kept; -0 and 0 tie, then members order.
    let mut z = ZSetValue::for_first_member(100, &limits);
    z.insert_or_update(b"b", 0.0, &limits);
    z.insert_or_update(b"a", -0.0, &limits);
    assert_eq!(z.score(b"a").unwrap().to_bits(), (-0.0f64).to_bits());
    let order: Vec<&[u8]> = z.iter().map(|(m, _)| m).collect();
    assert_eq!(order, [&b"a"[..], b"b"]);
    // An equal score changes nothing.
    assert_eq!(z.insert_or_update(b"b", -0.0, &limits), Some(0.0));
    assert_eq!(z.score(b"b").unwrap().to_bits(), 0.0f64.to_bits());
    // (-0 excludes 0.
    let r = ScoreRange {
        min: ScoreBound::exclusive(-0.0),
        max: ScoreBound::inclusive(f64::INFINITY),
    };
    assert_eq!(z.count_in_score(&r), 0);
    // NaN is not stored.
    assert_eq!(z.insert_or_update(b"c", f64::NAN, &limits), None);
    assert_eq!(z.len(), 2);
}

#[test]
fn lex_bounds_parse_and_empty_ranges() {
    assert_eq!(LexBound::parse(b"-"), Some(LexBound::Min));
    assert_eq!(LexBound::parse(b"+"), Some(LexBound::Max));
    assert_eq!(LexBound::parse(b"[a"), Some(LexBound::Inclusive(b"a")));
    assert_eq!(LexBound::parse(b"("), Some(LexBound::Exclusive(b"")));
    assert_eq!(LexBound::parse(b"a"), None);
    assert_eq!(LexBound::parse(b"-a"), None);
    assert_eq!(LexBound::parse(b""), None);
    let r = |a: &'static [u8], b: &'static [u8]| LexRange {
        min: LexBound::parse(a).unwrap(),
        max: LexBound::parse(b).unwrap(),
    };
    assert!(!r(b"-", b"+").is_empty());
    assert!(r(b"+", b"-").is_empty());
    assert!(r(b"-", b"-").is_empty());
    assert!(r(b"+", b"+").is_empty());
    assert!(!r(b"[a", b"[a").is_empty());
    assert!(r(b"(a", b"[a").is_empty());
    assert!(r(b"[b", b"[a").is_empty());
    assert!(ScoreRange {
        min: ScoreBound::inclusive(1.0),
        max: ScoreBound::exclusive(1.0)
    }
    .is_empty());
    assert!(!ScoreRange::all().is_empty());
}

#[test]
fn dump_restore_round_trip() {
    use crate::rdb::{dump_like_redis, restore, RdbValue};
    let limits = ZSetLimits::default();
    for n in [3usize, 128, 129, 5000] {
        let entries: Vec<(Vec<u8>, f64)> = (0..n)
            .map(|i| (format!("member:{i}").into_bytes(), (i % 17) as f64 * 0.5))
            .collect();
        let z = ZSetValue::from_entries(entries.iter().map(|(m, s)| (m.as_slice(), *s)), &limits);
        let payload = dump_like_redis(&RdbValue::ZSet(z.to_entries()));
        let Ok(RdbValue::ZSet(back)) = restore(&payload) else {
            panic!("restore")
        };
        let z2 = ZSetValue::from_entries(back, &limits);
        assert_eq!(z, z2);
        assert_eq!(z.encoding(), z2.encoding());
    }
    let l = crate::value::list::ListValue::from_items(-2, (0..3000).map(|i| format!("e{i}")));
    let payload = dump_like_redis(&RdbValue::List(l.to_items()));
    let Ok(RdbValue::List(back)) = restore(&payload) else {
        panic!("restore")
    };
    assert_eq!(crate::value::list::ListValue::from_items(-2, back), l);
}

#[test]
fn zscan_returns_every_member_once_after_removals() {
    let limits = ZSetLimits::default();
    let mut r = Rng(5);
    for round in 0..60 {
        let mut z = ZSetValue::for_first_member(100, &limits);
        let n = r.below(3000);
        let mut names = vec![];
        for i in 0..n {
            let x = format!("m{:05}", r.below(100000)).into_bytes();
            z.insert_or_update(&x, i as f64, &limits);
            names.push(x);
            if r.below(3) == 0 {
                let y = &names[r.below(names.len() as u64) as usize];
                z.remove(y);
            }
        }
        let count = 1 + r.below(20) as usize;
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut steps = 0;
        loop {
            cursor = z.scan(cursor, count, |x, _| {
                assert!(seen.insert(x.to_vec()));
            });
            steps += 1;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), z.len(), "round {round}, count {count}");
        assert!(steps > z.len() / count / 2);
    }
}

#[test]
#[ignore = "timings, run by hand in release mode"]
fn timings() {
    use crate::value::list::{ListValue, Side};
    use std::time::Instant;
    let n = 1_000_000u64;
    let per = |t: Instant, what: &str| {
        println!(
            "{what}: {:.0} ns/op",
            t.elapsed().as_nanos() as f64 / n as f64
        )
    };
    let mut l = ListValue::default();
    let t = Instant::now();
    for i in 0..n {
        l.push(Side::Right, format!("item-{i}").as_bytes());
    }
    per(t, "RPUSH");
    let t = Instant::now();
    for i in 0..n {
        l.push(Side::Left, format!("item-{i}").as_bytes());
    }
    per(t, "LPUSH");
    let t = Instant::now();
    let mut x = 0;
    for i in 0..n {
        x += l.get((i * 7919 % (2 * n)) as i64).map_or(0, <[u8]>::len);
    }
    per(t, "LINDEX random");
    let t = Instant::now();
    for _ in 0..n {
        x += l.pop(Side::Left).map_or(0, |v| v.len());
    }
    per(t, "LPOP");
    let t = Instant::now();
    for _ in 0..n {
        x += l.pop(Side::Right).map_or(0, |v| v.len());
    }
    per(t, "RPOP");
    let limits = ZSetLimits::default();
    let mut z = ZSetValue::new();
    let t = Instant::now();
    for i in 0..n {
        let s = ((i * 2_654_435_761) % 1_000_003) as f64 / 7.0;
        z.insert_or_update(format!("member:{i}").as_bytes(), s, &limits);
    }
    per(t, "ZADD new");
    let t = Instant::now();
    for i in 0..n {
        x += z
            .score(format!("member:{i}").as_bytes())
            .map_or(0, |s| s as usize);
    }
    per(t, "ZSCORE");
    let t = Instant::now();
    for i in 0..n {
        x += z.rank(format!("member:{i}").as_bytes(), false).unwrap_or(0);
    }
    per(t, "ZRANK");
    let t = Instant::now();
    for i in 0..n {
        let lo = (i % 140_000) as f64;
        let r = ScoreRange {
            min: ScoreBound::inclusive(lo),
            max: ScoreBound::inclusive(f64::INFINITY),
        };
        x += z
            .range_by_score(&r, false, 0, Some(10))
            .map(|(m, _)| m.len())
            .sum::<usize>();
    }
    per(t, "ZRANGEBYSCORE LIMIT 0 10");
    let t = Instant::now();
    for i in 0..n {
        let s = ((i * 40_503) % 1_000_003) as f64 / 7.0;
        z.insert_or_update(format!("member:{i}").as_bytes(), s, &limits);
    }
    per(t, "ZADD update");
    let t = Instant::now();
    for i in 0..n {
        z.remove(format!("member:{i}").as_bytes());
    }
    per(t, "ZREM");
    assert!(z.is_empty());
    println!("{x}");
}

#[test]
#[ignore = "timings, run by hand in release mode"]
fn worst_removal_latency() {
    use std::time::Instant;
    let limits = ZSetLimits::default();
    let n = 1_000_000u64;
    let mut z = ZSetValue::new();
    let mut worst = std::time::Duration::ZERO;
    for i in 0..n {
        let t = Instant::now();
        z.insert_or_update(format!("member:{i}").as_bytes(), (i % 1000) as f64, &limits);
        worst = worst.max(t.elapsed());
    }
    println!("ZADD of {n}: worst {worst:?}");
    let mut worst = std::time::Duration::ZERO;
    let t0 = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        z.remove(format!("member:{i}").as_bytes());
        worst = worst.max(t.elapsed());
    }
    println!("ZREM of all: {:?} total, worst {:?}", t0.elapsed(), worst);
}
