//! Sorted sets against a live `redis-server` (7.0): the same random
//! commands on both sides, replies compared (scores by value, sign of zero
//! included), encodings too.

use super::*;
use crate::value::list::vs_redis::{Resp, Rng, Server};

fn s(x: impl ToString) -> Vec<u8> {
    x.to_string().into_bytes()
}

const SCORES: [f64; 12] = [
    0.0,
    -0.0,
    1.0,
    2.0,
    2.5,
    -1.5,
    0.1,
    1e300,
    -3.0,
    100.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
];

fn score(r: &mut Rng) -> f64 {
    if r.below(3) == 0 {
        r.range(-40, 40) as f64 / 4.0
    } else {
        SCORES[r.below(SCORES.len() as u64) as usize]
    }
}

fn member(r: &mut Rng, pool: u64) -> Vec<u8> {
    let k = r.below(pool);
    let mut m = s(format!("m{k:04}"));
    if k % 5 == 0 {
        m.truncate(3);
    }
    if r.below(300) == 0 {
        m.extend_from_slice(&[b'z'; 70]);
    }
    m
}

fn bound(r: &mut Rng) -> (ScoreBound, Vec<u8>) {
    let v = score(r);
    if r.below(2) == 0 {
        (ScoreBound::inclusive(v), s(v))
    } else {
        (ScoreBound::exclusive(v), s(format!("({v}")))
    }
}

fn lex(r: &mut Rng, pool: u64) -> (LexBound<'static>, Vec<u8>) {
    match r.below(8) {
        0 => (LexBound::Min, s("-")),
        1 => (LexBound::Max, s("+")),
        x => {
            let m: &'static [u8] = Box::leak(member(r, pool).into_boxed_slice());
            if x < 5 {
                (LexBound::Inclusive(m), [&b"["[..], m].concat())
            } else {
                (LexBound::Exclusive(m), [&b"("[..], m].concat())
            }
        }
    }
}

/// Entries as Redis replies them with WITHSCORES, scores as values.
fn pairs(r: &Resp) -> Vec<(Vec<u8>, u64)> {
    let Resp::Array(Some(v)) = r else {
        panic!("not an array: {r:?}")
    };
    v.chunks(2)
        .map(|c| match c {
            [Resp::Bulk(Some(m)), Resp::Bulk(Some(sc))] => {
                let f: f64 = String::from_utf8_lossy(sc).parse().expect("a score");
                (m.clone(), f.to_bits())
            }
            other => panic!("bad pair {other:?}"),
        })
        .collect()
}

fn ours<'a>(it: impl Iterator<Item = (&'a [u8], f64)>) -> Vec<(Vec<u8>, u64)> {
    it.map(|(m, s)| (m.to_vec(), s.to_bits())).collect()
}

fn members(it: ZIter) -> Resp {
    Resp::array(it.map(|(m, _)| m))
}

enum Want {
    Exact(Resp),
    Pairs(Vec<(Vec<u8>, u64)>),
    Score(Option<f64>),
}

fn differential(srv: &mut Server, seed: u64, limits: ZSetLimits, lex_mode: bool, steps: usize) {
    srv.cmd(&[
        &b"CONFIG"[..],
        b"SET",
        b"zset-max-listpack-entries",
        &s(limits.max_listpack_entries),
        b"zset-max-listpack-value",
        &s(limits.max_listpack_value),
    ]);
    srv.cmd(&["FLUSHALL"]);
    let mut r = Rng(seed);
    let pool = 300;
    let mut z = ZSetValue::new();
    let mut largest = 0;
    for step in 0..steps {
        largest = largest.max(z.len());
        let n = z.len() as i64;
        let k = s("k");
        let (args, want): (Vec<Vec<u8>>, Want) = match r.below(18) {
            0..=5 => {
                let mut a = vec![s("ZADD"), k];
                let mut added = 0;
                let most = if r.below(4) == 0 { 60 } else { 3 };
                for i in 0..1 + r.below(most) {
                    let m = member(&mut r, pool);
                    let sc = if lex_mode { 0.0 } else { score(&mut r) };
                    if i == 0 && z.is_empty() {
                        z = ZSetValue::for_first_member(m.len(), &limits);
                    }
                    if z.insert_or_update(&m, sc, &limits).is_none() {
                        added += 1;
                    }
                    a.extend([s(sc), m]);
                }
                (a, Want::Exact(Resp::Int(added)))
            }
            6 => {
                let mut a = vec![s("ZREM"), k];
                let mut gone = 0;
                for _ in 0..1 + r.below(3) {
                    let m = member(&mut r, pool);
                    gone += i64::from(z.remove(&m).is_some());
                    a.push(m);
                }
                (a, Want::Exact(Resp::Int(gone)))
            }
            7 => {
                let m = member(&mut r, pool);
                (vec![s("ZSCORE"), k, m.clone()], Want::Score(z.score(&m)))
            }
            8 => {
                let m = member(&mut r, pool);
                let rev = r.below(2) == 0;
                let want = match z.rank(&m, rev) {
                    Some(x) => Resp::Int(x as i64),
                    None => Resp::Bulk(None),
                };
                (
                    vec![s(if rev { "ZREVRANK" } else { "ZRANK" }), k, m],
                    Want::Exact(want),
                )
            }
            9 => {
                let (a, b) = (r.range(-n - 3, n + 3), r.range(-n - 3, n + 3));
                let rev = r.below(2) == 0;
                let mut args = vec![s("ZRANGE"), k, s(a), s(b)];
                if rev {
                    args.push(s("REV"));
                }
                args.push(s("WITHSCORES"));
                (args, Want::Pairs(ours(z.range_by_rank(a, b, rev))))
            }
            10 | 11 if !lex_mode => {
                let ((lo, los), (hi, his)) = (bound(&mut r), bound(&mut r));
                let rev = r.below(2) == 0;
                let range = ScoreRange { min: lo, max: hi };
                let mut args = if rev {
                    vec![s("ZREVRANGEBYSCORE"), k, his, los]
                } else {
                    vec![s("ZRANGEBYSCORE"), k, los, his]
                };
                args.push(s("WITHSCORES"));
                let (mut off, mut cnt) = (0, None);
                if r.below(2) == 0 {
                    off = r.below(5) as usize;
                    let c = r.range(-1, 5);
                    cnt = usize::try_from(c).ok();
                    args.extend([s("LIMIT"), s(off), s(c)]);
                }
                (
                    args,
                    Want::Pairs(ours(z.range_by_score(&range, rev, off, cnt))),
                )
            }
            10 | 11 => {
                let ((lo, los), (hi, his)) = (lex(&mut r, pool), lex(&mut r, pool));
                let rev = r.below(2) == 0;
                let range = LexRange { min: lo, max: hi };
                let mut args = if rev {
                    vec![s("ZREVRANGEBYLEX"), k, his, los]
                } else {
                    vec![s("ZRANGEBYLEX"), k, los, his]
                };
                let (mut off, mut cnt) = (0, None);
                if r.below(2) == 0 {
                    off = r.below(5) as usize;
                    let c = r.range(-1, 5);
                    cnt = usize::try_from(c).ok();
                    args.extend([s("LIMIT"), s(off), s(c)]);
                }
                (
                    args,
                    Want::Exact(members(z.range_by_lex(&range, rev, off, cnt))),
                )
            }
            12 if !lex_mode => {
                let ((lo, los), (hi, his)) = (bound(&mut r), bound(&mut r));
                let range = ScoreRange { min: lo, max: hi };
                (
                    vec![s("ZCOUNT"), k, los, his],
                    Want::Exact(Resp::Int(z.count_in_score(&range) as i64)),
                )
            }
            12 => {
                let ((lo, los), (hi, his)) = (lex(&mut r, pool), lex(&mut r, pool));
                let range = LexRange { min: lo, max: hi };
                (
                    vec![s("ZLEXCOUNT"), k, los, his],
                    Want::Exact(Resp::Int(z.count_in_lex(&range) as i64)),
                )
            }
            13 if r.below(3) == 0 => match r.below(3) {
                0 => {
                    let (a, b) = (r.range(-n - 3, n + 3), r.range(-n - 3, n / 4 + 3));
                    let gone = z.remove_range_by_rank(a, b);
                    (
                        vec![s("ZREMRANGEBYRANK"), k, s(a), s(b)],
                        Want::Exact(Resp::Int(gone as i64)),
                    )
                }
                1 if lex_mode => {
                    let ((lo, los), (hi, his)) = (lex(&mut r, pool), lex(&mut r, pool));
                    let gone = z.remove_range_by_lex(&LexRange { min: lo, max: hi });
                    (
                        vec![s("ZREMRANGEBYLEX"), k, los, his],
                        Want::Exact(Resp::Int(gone as i64)),
                    )
                }
                _ => {
                    let ((lo, los), (hi, his)) = (bound(&mut r), bound(&mut r));
                    let gone = z.remove_range_by_score(&ScoreRange { min: lo, max: hi });
                    (
                        vec![s("ZREMRANGEBYSCORE"), k, los, his],
                        Want::Exact(Resp::Int(gone as i64)),
                    )
                }
            },
            14 => {
                let max = r.below(2) == 0;
                let c = r.below(4);
                let got = z.pop(max, c as usize);
                let name = s(if max { "ZPOPMAX" } else { "ZPOPMIN" });
                let want = got.into_iter().map(|(m, sc)| (m, sc.to_bits())).collect();
                (vec![name, k, s(c)], Want::Pairs(want))
            }
            15 => {
                let want = if z.is_empty() {
                    Resp::Bulk(None)
                } else {
                    Resp::bulk(z.encoding_name().as_bytes())
                };
                (vec![s("OBJECT"), s("ENCODING"), k], Want::Exact(want))
            }
            _ => (vec![s("ZCARD"), k], Want::Exact(Resp::Int(z.len() as i64))),
        };
        let got = srv.cmd(&args);
        let what = || {
            args.iter()
                .map(|a| String::from_utf8_lossy(&a[..a.len().min(20)]).into_owned())
                .collect::<Vec<_>>()
        };
        match want {
            Want::Exact(w) => assert_eq!(got, w, "step {step}: {:?}", what()),
            Want::Pairs(w) => assert_eq!(pairs(&got), w, "step {step}: {:?}", what()),
            Want::Score(w) => {
                let g = match &got {
                    Resp::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).parse::<f64>().unwrap()),
                    _ => None,
                };
                assert_eq!(
                    g.map(f64::to_bits),
                    w.map(f64::to_bits),
                    "step {step}: {:?} {got:?}",
                    what()
                );
            }
        }
        if z.is_empty() {
            z = ZSetValue::new();
        }
        if step % 50 == 0 {
            let all = srv.cmd(&["ZRANGE", "k", "0", "-1", "WITHSCORES"]);
            assert_eq!(pairs(&all), ours(z.iter()), "step {step}");
        }
    }
    assert!(
        largest > limits.max_listpack_entries,
        "never converted: {largest}"
    );
}

#[test]
fn zset_commands_match_redis() {
    let Some(mut srv) = Server::start("zset_commands_match_redis") else {
        return;
    };
    let small = ZSetLimits {
        max_listpack_entries: 8,
        max_listpack_value: 16,
    };
    for seed in 1..=3u64 {
        let seed = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        differential(&mut srv, seed, ZSetLimits::default(), false, 2500);
        differential(&mut srv, seed ^ 1, small, false, 1500);
        differential(&mut srv, seed ^ 2, ZSetLimits::default(), true, 2500);
    }
}

#[test]
fn encoding_thresholds_match_redis() {
    let Some(mut srv) = Server::start("encoding_thresholds_match_redis") else {
        return;
    };
    let limits = ZSetLimits::default();
    let mut z = ZSetValue::new();
    for i in 1..=129 {
        let m = s(format!("m{i}"));
        srv.cmd(&[&b"ZADD"[..], b"z", &s(i), &m]);
        z.insert_or_update(&m, i as f64, &limits);
        assert_eq!(
            srv.cmd(&["OBJECT", "ENCODING", "z"]),
            Resp::bulk(z.encoding_name().as_bytes()),
            "{i} members"
        );
    }
    assert_eq!(z.encoding_name(), "skiplist");
    for (len, enc) in [(64, "listpack"), (65, "skiplist")] {
        let key = s(format!("long{len}"));
        let m = vec![b'a'; len];
        srv.cmd(&[&b"ZADD"[..], &key, b"1", &m]);
        assert_eq!(
            srv.cmd(&[&b"OBJECT"[..], b"ENCODING", &key]),
            Resp::bulk(enc.as_bytes())
        );
        let z = ZSetValue::for_first_member(len, &limits);
        assert_eq!(z.encoding_name(), enc);
        let mut z = ZSetValue::new();
        z.insert_or_update(b"short", 1.0, &limits);
        srv.cmd(&[&b"ZADD"[..], &key, b"1", b"short"]);
        z.insert_or_update(&m, 1.0, &limits);
        assert_eq!(
            srv.cmd(&[&b"OBJECT"[..], b"ENCODING", &key]),
            Resp::bulk(z.encoding_name().as_bytes())
        );
    }
}
