//! The list, sorted-set and SORT commands for `redis_check`: a test-only
//! translation of a command line (arguments assumed valid, as the server
//! checks them first) into its op.

use super::list::ListOp;
use super::sort::{SortOp, SortOptions, SortSpec};
use super::zset::{Aggregate, ZAddFlags, ZAlgebra, ZCombined, ZRangeBy, ZSetOp};
use super::{parse_i64, Op};
use crate::batch::{Arg, Args};
use crate::value::list::Side;
use crate::value::zset::{ScoreBound, ScoreRange};

fn int(a: &[u8]) -> i64 {
    parse_i64(a).unwrap_or_else(|| panic!("not an integer: {:?}", String::from_utf8_lossy(a)))
}

fn is(a: &[u8], w: &str) -> bool {
    a.eq_ignore_ascii_case(w.as_bytes())
}

fn side(a: &[u8]) -> Side {
    if is(a, "left") {
        Side::Left
    } else {
        Side::Right
    }
}

fn score_range(min: &[u8], max: &[u8]) -> ScoreRange {
    let b = |a: &[u8]| match a.first() {
        Some(b'(') => ScoreBound::exclusive(super::float::range_bound(&a[1..]).expect("a bound")),
        _ => ScoreBound::inclusive(super::float::range_bound(a).expect("a bound")),
    };
    ScoreRange {
        min: b(min),
        max: b(max),
    }
}

/// The writes among these commands (their RESP3 run on Redis would repeat
/// them).
pub fn is_write(name: &[u8]) -> bool {
    const WRITES: &[&str] = &[
        "lpush",
        "rpush",
        "lpushx",
        "rpushx",
        "lpop",
        "rpop",
        "lset",
        "linsert",
        "lrem",
        "ltrim",
        "lmove",
        "rpoplpush",
        "lmpop",
        "zadd",
        "zincrby",
        "zrangestore",
        "zrem",
        "zremrangebyrank",
        "zremrangebyscore",
        "zremrangebylex",
        "zpopmin",
        "zpopmax",
        "zmpop",
        "zunionstore",
        "zinterstore",
        "zdiffstore",
        "sort",
    ];
    WRITES.iter().any(|w| is(name, w))
}

/// A ZRANGE-family command from argument `at` (the key) on.
fn zrange(
    a: &mut Args,
    argv: &[Vec<u8>],
    name: &str,
    at: usize,
) -> (ZRangeBy, bool, i64, i64, bool) {
    let (mut by_score, mut by_lex, mut rev) = (false, false, false);
    match name {
        "ZREVRANGE" => rev = true,
        "ZRANGEBYSCORE" => by_score = true,
        "ZREVRANGEBYSCORE" => (by_score, rev) = (true, true),
        "ZRANGEBYLEX" => by_lex = true,
        "ZREVRANGEBYLEX" => (by_lex, rev) = (true, true),
        _ => {}
    }
    let (mut offset, mut limit, mut withscores) = (0, -1, false);
    let mut j = at + 3;
    while j < argv.len() {
        let o = &argv[j];
        if is(o, "withscores") {
            withscores = true;
        } else if is(o, "limit") {
            offset = int(&argv[j + 1]);
            limit = int(&argv[j + 2]);
            j += 2;
        } else if is(o, "rev") {
            rev = true;
        } else if is(o, "bylex") {
            by_lex = true;
        } else if is(o, "byscore") {
            by_score = true;
        }
        j += 1;
    }
    let (mut min, mut max) = (&argv[at + 1][..], &argv[at + 2][..]);
    if rev && (by_score || by_lex) {
        std::mem::swap(&mut min, &mut max);
    }
    let by = if by_score {
        ZRangeBy::Score(score_range(min, max))
    } else if by_lex {
        ZRangeBy::Lex {
            min: a.push(min),
            max: a.push(max),
        }
    } else {
        ZRangeBy::Rank {
            start: int(min),
            stop: int(max),
        }
    };
    (by, rev, offset, limit, withscores)
}

/// The op of one of these commands; None for another command. `key` is
/// argument 1, already pushed.
pub fn op_of(a: &mut Args, key: Arg, argv: &[Vec<u8>], resp3: bool) -> Option<Op> {
    let name = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
    let rest = |a: &mut Args, from: usize| a.list(argv[from..].iter().map(|v| &v[..]));
    let op: Op = match name.as_str() {
        "LPUSH" | "RPUSH" | "LPUSHX" | "RPUSHX" => ListOp::Push {
            key,
            side: if name.starts_with('L') {
                Side::Left
            } else {
                Side::Right
            },
            elems: rest(a, 2),
            existing_only: name.ends_with('X'),
        }
        .into(),
        "LPOP" | "RPOP" => ListOp::Pop {
            key,
            side: if name == "LPOP" {
                Side::Left
            } else {
                Side::Right
            },
            count: argv.get(2).map(|c| int(c) as u64),
        }
        .into(),
        "LLEN" => ListOp::Len { key }.into(),
        "LRANGE" => ListOp::Range {
            key,
            start: int(&argv[2]),
            stop: int(&argv[3]),
        }
        .into(),
        "LINDEX" => ListOp::Index {
            key,
            index: a.push(&argv[2]),
        }
        .into(),
        "LSET" => ListOp::Set {
            key,
            index: a.push(&argv[2]),
            elem: a.push(&argv[3]),
        }
        .into(),
        "LINSERT" => ListOp::Insert {
            key,
            before: is(&argv[2], "before"),
            pivot: a.push(&argv[3]),
            elem: a.push(&argv[4]),
        }
        .into(),
        "LREM" => ListOp::Rem {
            key,
            count: int(&argv[2]),
            elem: a.push(&argv[3]),
        }
        .into(),
        "LTRIM" => ListOp::Trim {
            key,
            start: int(&argv[2]),
            stop: int(&argv[3]),
        }
        .into(),
        "LPOS" => {
            let (mut rank, mut count, mut maxlen) = (1, None, 0);
            let mut j = 3;
            while j < argv.len() {
                let v = int(&argv[j + 1]);
                if is(&argv[j], "rank") {
                    rank = v;
                } else if is(&argv[j], "count") {
                    count = Some(v as u64);
                } else {
                    maxlen = v as u64;
                }
                j += 2;
            }
            ListOp::Pos {
                key,
                elem: a.push(&argv[2]),
                rank,
                count,
                maxlen,
            }
            .into()
        }
        "LMOVE" | "RPOPLPUSH" => ListOp::Move {
            src: key,
            dst: a.push(&argv[2]),
            from: argv.get(3).map_or(Side::Right, |s| side(s)),
            to: argv.get(4).map_or(Side::Left, |s| side(s)),
        }
        .into(),
        "LMPOP" | "ZMPOP" => {
            let n = int(&argv[1]) as usize;
            let keys = a.list(argv[2..2 + n].iter().map(|v| &v[..]));
            let count = argv.get(4 + n).map_or(1, |c| int(c) as u64);
            if name == "LMPOP" {
                ListOp::MPop {
                    keys,
                    side: side(&argv[2 + n]),
                    count,
                }
                .into()
            } else {
                ZSetOp::MPop {
                    keys,
                    max: is(&argv[2 + n], "max"),
                    count,
                }
                .into()
            }
        }
        "ZADD" | "ZINCRBY" => {
            let mut f = ZAddFlags {
                incr: name == "ZINCRBY",
                ..Default::default()
            };
            let mut i = 2;
            while i < argv.len() {
                let o = &argv[i];
                if is(o, "nx") {
                    f.nx = true;
                } else if is(o, "xx") {
                    f.xx = true;
                } else if is(o, "gt") {
                    f.gt = true;
                } else if is(o, "lt") {
                    f.lt = true;
                } else if is(o, "ch") {
                    f.ch = true;
                } else if is(o, "incr") {
                    f.incr = true;
                } else {
                    break;
                }
                i += 1;
            }
            ZSetOp::Add {
                key,
                pairs: rest(a, i),
                flags: f,
            }
            .into()
        }
        "ZSCORE" => ZSetOp::Score {
            key,
            member: a.push(&argv[2]),
        }
        .into(),
        "ZMSCORE" => ZSetOp::MScore {
            key,
            members: rest(a, 2),
        }
        .into(),
        "ZCARD" => ZSetOp::Card { key }.into(),
        "ZCOUNT" => ZSetOp::Count {
            key,
            range: score_range(&argv[2], &argv[3]),
        }
        .into(),
        "ZLEXCOUNT" => ZSetOp::LexCount {
            key,
            min: a.push(&argv[2]),
            max: a.push(&argv[3]),
        }
        .into(),
        "ZRANGE" | "ZREVRANGE" | "ZRANGEBYSCORE" | "ZREVRANGEBYSCORE" | "ZRANGEBYLEX"
        | "ZREVRANGEBYLEX" => {
            let (by, rev, offset, limit, withscores) = zrange(a, argv, &name, 1);
            ZSetOp::Range {
                key,
                by,
                rev,
                offset,
                limit,
                withscores,
                resp3,
            }
            .into()
        }
        "ZRANGESTORE" => {
            let src = a.push(&argv[2]);
            let (by, rev, offset, limit, _) = zrange(a, argv, &name, 2);
            ZSetOp::RangeStore {
                dst: key,
                src,
                by,
                rev,
                offset,
                limit,
            }
            .into()
        }
        "ZRANK" | "ZREVRANK" => ZSetOp::Rank {
            key,
            member: a.push(&argv[2]),
            rev: name == "ZREVRANK",
        }
        .into(),
        "ZREM" => ZSetOp::Rem {
            key,
            members: rest(a, 2),
        }
        .into(),
        "ZREMRANGEBYRANK" => ZSetOp::RemRange {
            key,
            by: ZRangeBy::Rank {
                start: int(&argv[2]),
                stop: int(&argv[3]),
            },
        }
        .into(),
        "ZREMRANGEBYSCORE" => ZSetOp::RemRange {
            key,
            by: ZRangeBy::Score(score_range(&argv[2], &argv[3])),
        }
        .into(),
        "ZREMRANGEBYLEX" => ZSetOp::RemRange {
            key,
            by: ZRangeBy::Lex {
                min: a.push(&argv[2]),
                max: a.push(&argv[3]),
            },
        }
        .into(),
        "ZPOPMIN" | "ZPOPMAX" => ZSetOp::Pop {
            key,
            max: name == "ZPOPMAX",
            count: argv.get(2).map(|c| int(c) as u64),
            resp3,
        }
        .into(),
        "ZRANDMEMBER" if argv.len() == 2 => ZSetOp::RandMember { key }.into(),
        "ZRANDMEMBER" => ZSetOp::RandMembers {
            key,
            count: int(&argv[2]),
            withscores: argv.len() > 3,
            resp3,
        }
        .into(),
        "ZSCAN" => {
            let (mut count, mut pattern) = (10, None);
            let mut i = 3;
            while i < argv.len() {
                if is(&argv[i], "count") {
                    count = int(&argv[i + 1]) as usize;
                } else {
                    pattern = Some(a.push(&argv[i + 1]));
                }
                i += 2;
            }
            ZSetOp::Scan {
                key,
                cursor: int(&argv[2]) as u64,
                count,
                pattern,
            }
            .into()
        }
        "ZUNION" | "ZINTER" | "ZDIFF" | "ZUNIONSTORE" | "ZINTERSTORE" | "ZDIFFSTORE"
        | "ZINTERCARD" => {
            let store = name.ends_with("STORE");
            let at = if store { 2 } else { 1 };
            let n = int(&argv[at]) as usize;
            let keys = a.list(argv[at + 1..at + 1 + n].iter().map(|v| &v[..]));
            let how = match &name[..5] {
                "ZUNIO" => ZAlgebra::Union,
                "ZINTE" => ZAlgebra::Inter,
                _ => ZAlgebra::Diff,
            };
            let (mut weights, mut aggregate, mut withscores, mut limit) =
                (None, Aggregate::Sum, false, 0);
            let mut j = at + 1 + n;
            while j < argv.len() {
                if is(&argv[j], "weights") {
                    weights = Some(a.list(argv[j + 1..j + 1 + n].iter().map(|v| &v[..])));
                    j += 1 + n;
                } else if is(&argv[j], "aggregate") {
                    aggregate = if is(&argv[j + 1], "min") {
                        Aggregate::Min
                    } else if is(&argv[j + 1], "max") {
                        Aggregate::Max
                    } else {
                        Aggregate::Sum
                    };
                    j += 2;
                } else if is(&argv[j], "limit") {
                    limit = int(&argv[j + 1]) as u64;
                    j += 2;
                } else {
                    withscores = true;
                    j += 1;
                }
            }
            let out = if store {
                ZCombined::Store { dst: key }
            } else if name == "ZINTERCARD" {
                ZCombined::Card { limit }
            } else {
                ZCombined::Reply { withscores, resp3 }
            };
            ZSetOp::Combine {
                how,
                keys,
                weights,
                aggregate,
                out,
            }
            .into()
        }
        "SORT" | "SORT_RO" => {
            let mut opts = SortOptions {
                count: -1,
                ..Default::default()
            };
            let (mut by, mut store) = (None, None);
            let mut gets = Vec::new();
            let mut j = 2;
            while j < argv.len() {
                let o = &argv[j];
                if is(o, "desc") {
                    opts.desc = true;
                } else if is(o, "asc") {
                    opts.desc = false;
                } else if is(o, "alpha") {
                    opts.alpha = true;
                } else if is(o, "limit") {
                    opts.offset = int(&argv[j + 1]);
                    opts.count = int(&argv[j + 2]);
                    j += 2;
                } else if is(o, "by") {
                    if argv[j + 1].contains(&b'*') {
                        by = Some(a.push(&argv[j + 1]));
                        opts.by = true;
                    } else {
                        opts.dontsort = true;
                    }
                    j += 1;
                } else if is(o, "get") {
                    gets.push(argv[j + 1].clone());
                    j += 1;
                } else if is(o, "store") {
                    store = Some(a.push(&argv[j + 1]));
                    opts.store = true;
                    j += 1;
                }
                j += 1;
            }
            let gets = a.list(gets.iter().map(|g| &g[..]));
            SortOp::Sort {
                key,
                spec: SortSpec {
                    opts,
                    by,
                    gets,
                    store,
                },
            }
            .into()
        }
        _ => return None,
    };
    Some(op)
}
