//! Geo searches (Redis 7.0's `geo.c`): GEOSEARCH, GEOSEARCHSTORE and the
//! GEORADIUS family over a sorted set whose scores are 52-bit geohashes
//! (`hash`).
//!
//! The other geo commands need no op of their own: GEOADD is ZADD of the
//! scores the server computed (so it is recorded and notified as `zadd`,
//! as in Redis), and GEOPOS, GEOHASH and GEODIST read scores with ZMSCORE
//! and decode them on the worker.
//!
//! A search scans at most nine score ranges (the centre's geohash cell at
//! a step fitted to the radius, and its neighbours), keeps the points
//! inside the shape with their distance, borrowed from the set (nothing is
//! allocated per point scanned), sorts them by distance when asked, and
//! answers them or stores them. The server parsed and checked every
//! argument; what depends on the key (its type, whether it exists, the
//! FROMMEMBER member) is decided here, in Redis's order.

pub mod hash;

use super::zset::{find, replace_with, zset_at};
use super::Cx;
use crate::batch::{Arg, ArgList, Reply};
use crate::error::Error;
use crate::keyspace::Lookup;
use crate::tape::TapeWriter;
use crate::value::zset::{ScoreBound, ScoreRange};
use crate::value::ZSetValue;
use hash::{position, score_range, Search, Shape};

/// The order of a search's results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeoSort {
    /// Scan order.
    None,
    /// Nearest first.
    Asc,
    /// Farthest first.
    Desc,
}

/// Where a search's centre is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GeoFrom {
    /// FROMLONLAT (or GEORADIUS's position), checked in range.
    LonLat(f64, f64),
    /// FROMMEMBER (or GEORADIUSBYMEMBER's member): its position.
    Member(Arg),
}

/// A search's destination (STORE, STOREDIST, GEOSEARCHSTORE).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeoStore {
    /// The destination key.
    pub dst: Arg,
    /// Store distances (in the unit) rather than geohashes.
    pub dist: bool,
    /// The keyspace event (`georadiusstore` or `geosearchstore`).
    pub event: &'static str,
}

/// A geo search with its options checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeoSearch {
    /// The source key.
    pub key: Arg,
    /// The centre.
    pub from: GeoFrom,
    /// The shape, in the unit.
    pub shape: Shape,
    /// Meters per unit.
    pub conversion: f64,
    /// The order.
    pub sort: GeoSort,
    /// COUNT (0: none).
    pub count: u64,
    /// ANY: stop scanning once COUNT points are found.
    pub any: bool,
    /// Where to store the result, if anywhere.
    pub store: Option<GeoStore>,
    /// A `Probe` of this section already looked the key up: look it up
    /// again without touching or counting it, so a command counts one hit
    /// or miss as in Redis.
    pub probed: bool,
}

/// A geo op.
#[derive(Clone, Debug)]
pub enum GeoOp {
    /// A search → a tape array of `member, distance (in the unit),
    /// score` triples in reply order, or with a store the number stored;
    /// nil when the FROMMEMBER member is missing (the server words the
    /// error), WRONGTYPE for another type.
    Search(GeoSearch),
    /// What a search's checks need of its key, read before the server
    /// parses again (see `geo` in the server): WRONGTYPE, or a tape array
    /// of 1 (exists) or 0, then each member's score or nil.
    Probe {
        /// The key.
        key: Arg,
        /// The members (FROMMEMBER, GEORADIUSBYMEMBER).
        members: ArgList,
    },
}

impl GeoOp {
    pub(super) fn is_write(&self) -> bool {
        match self {
            GeoOp::Search(s) => s.store.is_some(),
            GeoOp::Probe { .. } => false,
        }
    }

    pub(super) fn exec(&self, cx: &mut Cx) -> Reply {
        match *self {
            GeoOp::Search(ref s) => search(cx, s),
            GeoOp::Probe { key, members } => probe(cx, key, members),
        }
        .unwrap_or_else(Reply::Err)
    }
}

/// One point found: member, distance in meters, score.
type Hit<'z> = (&'z [u8], f64, f64);

/// Appends the points of score range `[min, max)` inside `area` to `hits`
/// (`geoGetPointsInRange`), stopping at `limit` hits (0: none).
fn scan_range<'z>(
    z: &'z ZSetValue,
    (min, max): (f64, f64),
    area: &Search,
    limit: usize,
    hits: &mut Vec<Hit<'z>>,
) {
    let range = ScoreRange {
        min: ScoreBound::inclusive(min),
        max: ScoreBound::exclusive(max),
    };
    for (m, s) in z.range_by_score(&range, false, 0, None) {
        let (lon, lat) = position(s);
        if let Some(d) = area.within(lon, lat) {
            hits.push((m, d, s));
        }
        if limit != 0 && hits.len() >= limit {
            break;
        }
    }
}

/// The points of `z` inside `area`, in Redis's scan order
/// (`membersOfAllNeighbors`).
fn scan<'z>(z: &'z ZSetValue, area: &Search, limit: usize) -> Vec<Hit<'z>> {
    let cells = area.cells();
    let mut hits = Vec::new();
    // Redis's `last_processed` starts at 0 and 0 means none: a neighbour
    // equal to the centre's cell is scanned again, as there.
    let mut last = 0;
    for (i, c) in cells.iter().enumerate() {
        if c.step == 0 {
            continue;
        }
        if last != 0 && *c == cells[last] {
            continue;
        }
        if limit != 0 && hits.len() >= limit {
            break;
        }
        scan_range(z, score_range(*c), area, limit, &mut hits);
        last = i;
    }
    hits
}

/// Redis's `sort_gp_asc`: 1, 0 or -1 (NaN compares as neither).
fn dist_cmp(a: f64, b: f64) -> i32 {
    if a > b {
        1
    } else if a == b {
        0
    } else {
        -1
    }
}

/// Redis's `pqsort` (NetBSD's qsort, Bentley and McIlroy's, that skips
/// the partitions outside ranks `lrange..=rrange`), step for step, so
/// that points at equal distances come out in the order Redis gives
/// them when COUNT cuts the result.
fn pqsort<T>(v: &mut [T], cmp: &impl Fn(&T, &T) -> i32, lrange: usize, rrange: usize) {
    let n = v.len();
    pqsort_at(v, cmp, 0, n, lrange, rrange);
}

/// `pqsort` of the `n` elements from `a` (ranks count from `v[0]`).
fn pqsort_at<T>(
    v: &mut [T],
    cmp: &impl Fn(&T, &T) -> i32,
    mut a: usize,
    mut n: usize,
    lrange: usize,
    rrange: usize,
) {
    let outside =
        |a: usize, k: usize| (lrange < a && rrange < a) || (lrange >= a + k && rrange >= a + k);
    let med3 = |v: &[T], a: usize, b: usize, c: usize| {
        if cmp(&v[a], &v[b]) < 0 {
            if cmp(&v[b], &v[c]) < 0 {
                b
            } else if cmp(&v[a], &v[c]) < 0 {
                c
            } else {
                a
            }
        } else if cmp(&v[b], &v[c]) > 0 {
            b
        } else if cmp(&v[a], &v[c]) < 0 {
            a
        } else {
            c
        }
    };
    let vecswap = |v: &mut [T], a: usize, b: usize, n: usize| {
        for i in 0..n {
            v.swap(a + i, b + i);
        }
    };
    loop {
        if n < 7 {
            for pm in a + 1..a + n {
                let mut pl = pm;
                while pl > a && cmp(&v[pl - 1], &v[pl]) > 0 {
                    v.swap(pl, pl - 1);
                    pl -= 1;
                }
            }
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let (mut pl, mut pn) = (a, a + n - 1);
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d);
                pm = med3(v, pm - d, pm, pm + d);
                pn = med3(v, pn - 2 * d, pn - d, pn);
            }
            pm = med3(v, pl, pm, pn);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        // Signed: the scan from the right may end just left of `a + 1`.
        let (mut pc, mut pd) = ((a + n - 1) as isize, (a + n - 1) as isize);
        loop {
            while pb as isize <= pc {
                let c = cmp(&v[pb], &v[a]);
                if c > 0 {
                    break;
                }
                if c == 0 {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb as isize <= pc {
                let c = cmp(&v[pc as usize], &v[a]);
                if c < 0 {
                    break;
                }
                if c == 0 {
                    v.swap(pc as usize, pd as usize);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb as isize > pc {
                break;
            }
            v.swap(pb, pc as usize);
            pb += 1;
            pc -= 1;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        vecswap(v, a, pb - r, r);
        let r = ((pd - pc) as usize).min(pn - pd as usize - 1);
        vecswap(v, pb, pn - r, r);
        let r = pb - pa;
        if r > 1 && !outside(a, r) {
            pqsort_at(v, cmp, a, r, lrange, rrange);
        }
        let r = (pd - pc) as usize;
        if r <= 1 {
            return;
        }
        a = pn - r;
        n = r;
        if outside(a, n) {
            return;
        }
    }
}

fn probe(cx: &mut Cx, key: Arg, members: ArgList) -> Result<Reply, Error> {
    let pos = find(cx, key, Lookup::READ)?;
    let z = match pos {
        Some(p) => Some(zset_at(cx.store, p)?),
        None => None,
    };
    let mut w = TapeWriter::new(cx.out);
    w.array(1 + members.len as usize);
    w.int(z.is_some() as i64);
    for m in cx.args.items(members) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => w.double(s),
            None => w.nil(),
        }
    }
    Ok(w.finish())
}

fn search(cx: &mut Cx, s: &GeoSearch) -> Result<Reply, Error> {
    if s.store.is_some() {
        cx.make_room()?;
    }
    let how = if s.probed { Lookup::PEEK } else { Lookup::READ };
    let pos = find(cx, s.key, how)?;
    let args = cx.args;
    let Some(pos) = pos else {
        return Ok(match s.store {
            Some(st) => {
                let dst = args.get(st.dst);
                Reply::Int(replace_with(cx, dst, ZSetValue::new(), st.event)? as i64)
            }
            None => {
                let mut w = TapeWriter::new(cx.out);
                w.array(0);
                w.finish()
            }
        });
    };
    let z = zset_at(cx.store, pos)?;
    let (lon, lat) = match s.from {
        GeoFrom::LonLat(lon, lat) => (lon, lat),
        GeoFrom::Member(m) => match z.score(args.get(m)) {
            Some(score) => position(score),
            None => return Ok(Reply::Nil),
        },
    };
    let area = Search {
        lon,
        lat,
        shape: s.shape,
        conversion: s.conversion,
    };
    let limit = if s.any { s.count as usize } else { 0 };
    let mut hits = scan(z, &area, limit);
    let mut sort = s.sort;
    if s.count != 0 && sort == GeoSort::None && !s.any {
        sort = GeoSort::Asc;
    }
    let returned = if s.count != 0 && (s.count as usize) < hits.len() {
        s.count as usize
    } else {
        hits.len()
    };
    if sort != GeoSort::None {
        let desc = sort == GeoSort::Desc;
        let cmp = |a: &Hit, b: &Hit| {
            let c = dist_cmp(a.1, b.1);
            if desc {
                -c
            } else {
                c
            }
        };
        if returned == hits.len() {
            // glibc's qsort (a merge sort up to 2.36): stable.
            hits.sort_by(|a, b| cmp(a, b).cmp(&0));
        } else {
            pqsort(&mut hits, &cmp, 0, returned - 1);
        }
    }
    hits.truncate(returned);
    let conv = s.conversion;
    match s.store {
        None => {
            let mut w = TapeWriter::new(cx.out);
            w.array(3 * hits.len());
            for &(m, d, score) in &hits {
                w.bulk(m);
                w.double(d / conv);
                w.double(score);
            }
            Ok(w.finish())
        }
        Some(st) => {
            let limits = cx.store.value_limits().zset;
            let entries = hits
                .iter()
                .map(|&(m, d, score)| (m, if st.dist { d / conv } else { score }));
            let stored = ZSetValue::from_entries(entries, &limits);
            let dst = args.get(st.dst);
            Ok(Reply::Int(replace_with(cx, dst, stored, st.event)? as i64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pqsort` leaves the ranks asked for sorted and in place: the first
    /// `k` entries are the `k` least, in order, over inputs with many ties
    /// and of every size around its thresholds (7, 40).
    #[test]
    fn pqsort_sorts_the_asked_ranks() {
        let mut state = 0x2545f4914f6cdd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let cmp = |a: &(f64, usize), b: &(f64, usize)| dist_cmp(a.0, b.0);
        for n in 1..120 {
            for _ in 0..20 {
                let v: Vec<(f64, usize)> = (0..n).map(|i| ((next() % 9) as f64, i)).collect();
                let k = 1 + (next() as usize % n);
                let mut got = v.clone();
                pqsort(&mut got, &cmp, 0, k - 1);
                let mut want: Vec<f64> = v.iter().map(|e| e.0).collect();
                want.sort_by(|a, b| a.total_cmp(b));
                let prefix: Vec<f64> = got[..k].iter().map(|e| e.0).collect();
                assert_eq!(prefix, want[..k], "n={n} k={k}");
                // A permutation: every entry once.
                let mut ids: Vec<usize> = got.iter().map(|e| e.1).collect();
                ids.sort_unstable();
                assert!(ids.iter().enumerate().all(|(i, &x)| i == x));
            }
        }
    }
}
