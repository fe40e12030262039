//! Lists against a `VecDeque` model.

use super::*;
use std::collections::VecDeque;

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

/// Checks the structure against its own invariants and the model.
fn check(l: &ListValue, model: &VecDeque<Vec<u8>>) {
    assert_eq!(l.len(), model.len());
    let fill = l.fill_i16();
    let mut total = 0;
    let mut bytes = 0;
    for i in 0..l.nodes() {
        let b = l.node(i);
        let cap = match &l.r {
            Repr::One(v) => v.len(),
            Repr::Many(m) => m.nodes[i].capacity(),
        };
        let c = node::count(b);
        assert_eq!(node::fill(b), fill);
        if l.nodes() > 1 {
            assert!(c > 0, "empty node in a multi-node list");
        }
        assert!(
            c <= 1 || node::fits(fill, b.len(), c),
            "node {i} of {} over its limit: {} bytes, {c} elements, fill {fill}",
            l.nodes(),
            b.len()
        );
        // The entries account for the whole buffer.
        let mut off = HEADER;
        for _ in 0..c {
            off = node::entry_at(b, off).2;
        }
        assert_eq!(off, b.len());
        total += c;
        bytes += crate::alloc_size(cap);
    }
    assert_eq!(total, model.len());
    if let Repr::Many(m) = &l.r {
        assert!(m.nodes.len() > 1);
        assert_eq!(m.node_bytes, bytes);
    }
    let got: Vec<&[u8]> = l.iter().collect();
    let want: Vec<&[u8]> = model.iter().map(|v| v.as_slice()).collect();
    assert_eq!(got, want);
    let back: Vec<&[u8]> = l.iter().rev().collect();
    let want_back: Vec<&[u8]> = model.iter().rev().map(|v| v.as_slice()).collect();
    assert_eq!(back, want_back);
}

fn elem(r: &mut Rng, big: bool) -> Vec<u8> {
    let len = match r.below(100) {
        0..=59 => r.below(4) as usize,
        60..=89 => r.below(40) as usize,
        90..=97 => r.below(400) as usize,
        _ if big => 3000 + r.below(20_000) as usize,
        _ => r.below(200) as usize,
    };
    // Few distinct values so LREM, LPOS and LINSERT find matches.
    let v = b'a' + r.below(3) as u8;
    vec![v; len]
}

fn model_range(m: &VecDeque<Vec<u8>>, start: i64, stop: i64) -> Vec<Vec<u8>> {
    match rank_range(start, stop, m.len()) {
        Some((a, b)) => m.range(a..b).cloned().collect(),
        None => vec![],
    }
}

fn model_lpos(
    m: &VecDeque<Vec<u8>>,
    e: &[u8],
    rank: i64,
    count: usize,
    maxlen: usize,
) -> Vec<usize> {
    let idx: Vec<usize> = if rank < 0 {
        (0..m.len()).rev().collect()
    } else {
        (0..m.len()).collect()
    };
    let limit = if maxlen == 0 { idx.len() } else { maxlen };
    let skip = rank.unsigned_abs().max(1) as usize - 1;
    let found: Vec<usize> = idx
        .into_iter()
        .take(limit)
        .filter(|&i| m[i] == e)
        .skip(skip)
        .collect();
    if count == 0 {
        found
    } else {
        found.into_iter().take(count).collect()
    }
}

fn run_model(seed: u64, fill: i64, steps: usize, big: bool) {
    let mut r = Rng(seed);
    let mut l = ListValue::new(fill);
    let mut m: VecDeque<Vec<u8>> = VecDeque::new();
    let mut most_nodes = 0;
    for step in 0..steps {
        most_nodes = most_nodes.max(l.node_count());
        let n = m.len() as i64;
        match r.below(20) {
            0..=3 => {
                let e = elem(&mut r, big);
                l.push(Side::Left, &e);
                m.push_front(e);
            }
            4..=7 => {
                let e = elem(&mut r, big);
                l.push(Side::Right, &e);
                m.push_back(e);
            }
            8 => assert_eq!(l.pop(Side::Left), m.pop_front()),
            9 => assert_eq!(l.pop(Side::Right), m.pop_back()),
            10 => {
                let c = r.below(12) as usize;
                let side = if r.below(2) == 0 {
                    Side::Left
                } else {
                    Side::Right
                };
                let got = l.pop_many(side, c);
                let want: Vec<Vec<u8>> = (0..c.min(m.len()))
                    .map(|_| match side {
                        Side::Left => m.pop_front().unwrap(),
                        Side::Right => m.pop_back().unwrap(),
                    })
                    .collect();
                assert_eq!(got, want);
            }
            11 => {
                let i = r.range(-n - 2, n + 1);
                let want = usize::try_from(if i < 0 { i + n } else { i })
                    .ok()
                    .and_then(|k| m.get(k));
                assert_eq!(l.get(i), want.map(|v| v.as_slice()));
            }
            12 => {
                let i = r.range(-n - 2, n + 1);
                let e = elem(&mut r, big);
                let k = if i < 0 { i + n } else { i };
                let ok = l.set(i, &e);
                assert_eq!(ok, k >= 0 && k < n);
                if ok {
                    m[k as usize] = e;
                }
            }
            13 => {
                let (a, b) = (r.range(-n - 3, n + 3), r.range(-n - 3, n + 3));
                let got: Vec<Vec<u8>> = l.range(a, b).map(<[u8]>::to_vec).collect();
                assert_eq!(got, model_range(&m, a, b), "LRANGE {a} {b}");
                let mut rev: Vec<Vec<u8>> = l.range(a, b).rev().map(<[u8]>::to_vec).collect();
                rev.reverse();
                assert_eq!(rev, got);
                // Mixed ends.
                let mut it = l.range(a, b);
                let mut front = vec![];
                let mut back = vec![];
                loop {
                    let x = if r.below(2) == 0 {
                        it.next().map(|e| (0, e))
                    } else {
                        it.next_back().map(|e| (1, e))
                    };
                    match x {
                        Some((0, e)) => front.push(e.to_vec()),
                        Some((_, e)) => back.push(e.to_vec()),
                        None => break,
                    }
                }
                back.reverse();
                front.extend(back);
                assert_eq!(front, got);
            }
            14 => {
                let pivot = elem(&mut r, false);
                let e = elem(&mut r, big);
                let before = r.below(2) == 0;
                let got = l.insert_pivot(&pivot, &e, before);
                match m.iter().position(|x| *x == pivot) {
                    Some(p) => {
                        m.insert(if before { p } else { p + 1 }, e);
                        assert_eq!(got, Some(m.len()));
                    }
                    None => assert_eq!(got, None),
                }
            }
            15 => {
                let e = elem(&mut r, false);
                let count = r.range(-4, 4);
                let got = l.remove(count, &e);
                let mut want = 0;
                let max = if count == 0 {
                    usize::MAX
                } else {
                    count.unsigned_abs() as usize
                };
                if count >= 0 {
                    let mut i = 0;
                    while i < m.len() && want < max {
                        if m[i] == e {
                            m.remove(i);
                            want += 1;
                        } else {
                            i += 1;
                        }
                    }
                } else {
                    let mut i = m.len();
                    while i > 0 && want < max {
                        i -= 1;
                        if m[i] == e {
                            m.remove(i);
                            want += 1;
                        }
                    }
                }
                assert_eq!(got, want, "LREM {count}");
            }
            16 if r.below(4) == 0 => {
                let (a, b) = (r.range(-n - 3, n + 3), r.range(-n - 3, n + 3));
                l.trim(a, b);
                m = model_range(&m, a, b).into();
            }
            17 => {
                let e = elem(&mut r, false);
                let rank = match r.range(-3, 3) {
                    0 => 1,
                    x => x,
                };
                let count = r.below(4) as usize;
                let maxlen = r.below(3) as usize * r.below(n as u64 + 1) as usize;
                assert_eq!(
                    l.positions(&e, rank, count, maxlen),
                    model_lpos(&m, &e, rank, count, maxlen),
                    "LPOS rank {rank} count {count} maxlen {maxlen}"
                );
            }
            18 => {
                let i = r.below(n as u64 + 1) as usize;
                let e = elem(&mut r, big);
                l.insert_at(i, &e);
                m.insert(i, e);
            }
            _ => {
                // LMOVE within the list (rotation) or a bulk push.
                if r.below(2) == 0 {
                    if let Some(e) = l.pop(Side::Right) {
                        l.push(Side::Left, &e);
                        let x = m.pop_back().unwrap();
                        m.push_front(x);
                    }
                } else {
                    for _ in 0..r.below(300) {
                        let e = elem(&mut r, false);
                        l.push(Side::Right, &e);
                        m.push_back(e);
                    }
                }
            }
        }
        if step % 7 == 0 || m.len() < 20 {
            check(&l, &m);
        }
    }
    check(&l, &m);
    assert!(most_nodes >= 4, "seed {seed}: at most {most_nodes} nodes");
    let c = l.clone();
    assert_eq!(c, l);
    assert!(c.heap_bytes() <= l.heap_bytes() + 64);
}

#[test]
fn random_operations_match_a_deque_model() {
    for (seed, fill) in [
        (1u64, -2i64),
        (2, -1),
        (3, -5),
        (4, 1),
        (5, 3),
        (6, 16),
        (7, 0),
        (8, -2),
    ] {
        run_model(
            seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) + 1,
            fill,
            4000,
            true,
        );
    }
    for seed in 10..20u64 {
        run_model(seed.wrapping_mul(0x2545_f491_4f6c_dd1d), 4, 2000, false);
    }
}

#[test]
fn redis_fill_rules_split_nodes() {
    // -2: 8 KB nodes. 1000 elements of 100 bytes take about 102 KB.
    let l = ListValue::from_items(-2, (0..1000).map(|_| [7u8; 100]));
    assert_eq!(l.len(), 1000);
    assert!((12..=14).contains(&l.node_count()), "{}", l.node_count());
    // Positive fill: elements per node.
    let l = ListValue::from_items(5, (0..23).map(|i: u32| i.to_string()));
    assert_eq!(l.node_count(), 5);
    // ... within 8 KB.
    let l = ListValue::from_items(100, (0..10).map(|_| [1u8; 3000]));
    assert_eq!(l.node_count(), 5);
    // A huge element gets a node of its own.
    let mut l = ListValue::from_items(-2, [&b"a"[..], b"b"]);
    l.push(Side::Right, &[0u8; 100_000]);
    l.push(Side::Right, b"c");
    assert_eq!(l.node_count(), 3);
    assert_eq!(l.get(2).unwrap().len(), 100_000);
    assert_eq!(l.get(-1), Some(&b"c"[..]));
    // Fill is clamped like quicklistSetFill.
    assert_eq!(ListValue::new(-100).fill(), -5);
    assert_eq!(ListValue::new(1 << 20).fill(), i16::MAX as i64);
    assert_eq!(ListValue::new(-2).encoding_name(), "quicklist");
}

#[test]
fn a_small_list_is_one_buffer() {
    let mut l = ListValue::default();
    for i in 0..10 {
        l.push(Side::Right, format!("item-{i}").as_bytes());
    }
    assert!(matches!(l.r, Repr::One(_)));
    // 4-byte header, 10 * (6 + 2) bytes of entries, spare room bounded.
    assert!(l.heap_bytes() <= 128, "{}", l.heap_bytes());
    let built = ListValue::from_items(-2, (0..10).map(|i| format!("item-{i}")));
    assert_eq!(built.heap_bytes(), crate::alloc_size(84));
    assert_eq!(built, l);
}

#[test]
fn huge_pops_and_ranges_from_both_ends() {
    let n = 100_000usize;
    let mut l = ListValue::from_items(-2, (0..n).map(|i| i.to_string()));
    assert_eq!(l.get(0), Some(&b"0"[..]));
    assert_eq!(l.get(-1), Some(format!("{}", n - 1).as_bytes()));
    assert_eq!(l.get(54_321), Some(&b"54321"[..]));
    let tail: Vec<&[u8]> = l.range(-3, -1).collect();
    assert_eq!(tail, [&b"99997"[..], b"99998", b"99999"]);
    let mid: Vec<Vec<u8>> = l.range(70_000, 70_002).rev().map(<[u8]>::to_vec).collect();
    assert_eq!(
        mid,
        [b"70002".to_vec(), b"70001".to_vec(), b"70000".to_vec()]
    );
    l.trim(10, -11);
    assert_eq!(l.len(), n - 20);
    assert_eq!(l.front(), Some(&b"10"[..]));
    assert_eq!(l.back(), Some(format!("{}", n - 11).as_bytes()));
    let popped = l.pop_many(Side::Right, 5);
    assert_eq!(popped[0], format!("{}", n - 11).into_bytes());
    while l.pop(Side::Left).is_some() {}
    assert!(l.is_empty());
    assert!(matches!(l.r, Repr::One(_)));
    assert!(l.heap_bytes() <= 64);
}

#[test]
fn lrem_everything_merges_nodes() {
    let mut l = ListValue::from_items(
        -2,
        (0..20_000).map(|i| if i % 10 == 0 { "keep" } else { "drop" }),
    );
    let nodes = l.node_count();
    assert_eq!(l.remove(0, b"drop"), 18_000);
    assert_eq!(l.len(), 2000);
    assert!(l.node_count() * 5 < nodes, "{} of {nodes}", l.node_count());
    assert!(l.iter().all(|e| e == b"keep"));
    assert_eq!(l.remove(-1, b"keep"), 1);
    assert_eq!(l.positions(b"keep", -1, 1, 0), vec![1998]);
    assert_eq!(l.positions(b"keep", 2, 3, 0), vec![1, 2, 3]);
    assert_eq!(l.positions(b"keep", 1, 0, 5), vec![0, 1, 2, 3, 4]);
    assert_eq!(l.positions(b"nope", 1, 0, 0), Vec::<usize>::new());
}

#[test]
fn rank_range_matches_redis() {
    assert_eq!(rank_range(0, -1, 5), Some((0, 5)));
    assert_eq!(rank_range(-100, 100, 5), Some((0, 5)));
    assert_eq!(rank_range(3, 2, 5), None);
    assert_eq!(rank_range(5, 10, 5), None);
    assert_eq!(rank_range(-1, -1, 5), Some((4, 5)));
    assert_eq!(rank_range(0, -6, 5), None);
    assert_eq!(rank_range(i64::MIN, i64::MAX, 5), Some((0, 5)));
    assert_eq!(rank_range(0, 0, 0), None);
}
