//! Geo commands (Redis 7.0's `geo.c`) over sorted sets whose scores are
//! 52-bit geohashes (`shards::ops::geo::hash`).
//!
//! GEOADD is ZADD of the scores computed here, so the shard records and
//! notifies it as Redis does (`zadd`). GEOPOS, GEOHASH and GEODIST read
//! the members' scores (ZMSCORE's op) and decode them here. The searches
//! (GEORADIUS and its forms, GEOSEARCH, GEOSEARCHSTORE) are one op on the
//! source's shard, answered here with Redis's number formatting (`%.4f`
//! distances, `%.17Lf`-trimmed coordinates).
//!
//! Redis checks a search's options only after looking its key up, and
//! looks members up (FROMMEMBER, GEORADIUSBYMEMBER) as it meets them: an
//! option error loses to WRONGTYPE, a missing source skips some checks,
//! and a missing member wins over a later error. So arguments are first
//! parsed as if the key held every member; when that fails (or names two
//! FROMMEMBER members, or stores on another shard) the command runs in a
//! section: it reads the key's type, existence and member scores, parses
//! again with the truth, and only then searches, then stores the result
//! on the destination's shard, all while holding both shards.

use super::list::forward;
use super::spec::{flags::*, ks, Begin, Command, Find};
use super::steps::{step_error, tape_items};
use super::{c_str, parse_int, Ctx};
use crate::exchange::{Completion, Finish, Merge, OpRef, Router};
use crate::resp::{encode, Args};
use shards::ops::geo::hash::{self, Shape};
use shards::ops::geo::{GeoFrom, GeoOp, GeoSearch, GeoSort, GeoStore};
use shards::ops::zset::{parse_score, ZAddFlags, ZSetOp};
use shards::tape::{Item, TapeReader};
use shards::{Op, Reply};
use std::io::Write;

fn is(arg: &[u8], word: &str) -> bool {
    c_str(arg).eq_ignore_ascii_case(word.as_bytes())
}

const NO_MEMBER: &str = "ERR could not decode requested zset member";

/// `extractLongLatOrReply`: a position in range.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), String> {
    let (Some(x), Some(y)) = (parse_score(lon), parse_score(lat)) else {
        return Err("ERR value is not a valid float".into());
    };
    if !(hash::LONG_MIN..=hash::LONG_MAX).contains(&x)
        || !(hash::LAT_MIN..=hash::LAT_MAX).contains(&y)
    {
        return Err(format!("ERR invalid longitude,latitude pair {x:.6},{y:.6}"));
    }
    Ok((x, y))
}

/// `extractUnitOrReply`: meters per unit.
fn unit(u: &[u8]) -> Result<f64, String> {
    Ok(if is(u, "m") {
        1.0
    } else if is(u, "km") {
        1000.0
    } else if is(u, "ft") {
        0.3048
    } else if is(u, "mi") {
        1609.34
    } else {
        return Err("ERR unsupported unit provided. please use M, KM, FT, MI".into());
    })
}

/// A number that must not be negative, with its own error for a non-number.
fn length(a: &[u8], what: &str) -> Result<f64, String> {
    parse_score(a).ok_or_else(|| format!("ERR need numeric {what}"))
}

/// `%.4f`, as Redis answers distances.
fn write_distance(out: &mut Vec<u8>, d: f64) {
    let mut buf = [0u8; 400];
    let mut c = std::io::Cursor::new(&mut buf[..]);
    // A finite distance fits; a failed write leaves what was written.
    let _ = write!(c, "{d:.4}");
    let n = c.position() as usize;
    encode::bulk(out, &buf[..n]);
}

/// Redis's `addReplyHumanLongDouble`: `%.17Lf` with trailing zeros (and
/// a bare dot) removed, a bulk string in RESP2, a double in RESP3.
fn write_coord(out: &mut Vec<u8>, v: f64, resp3: bool) {
    let mut buf = [0u8; 400];
    let mut c = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(c, "{v:.17}");
    let mut n = c.position() as usize;
    if buf[..n].contains(&b'.') {
        while n > 0 && buf[n - 1] == b'0' {
            n -= 1;
        }
        if n > 0 && buf[n - 1] == b'.' {
            n -= 1;
        }
    }
    if &buf[..n] == b"-0" {
        buf[0] = b'0';
        n = 1;
    }
    if resp3 {
        out.push(b',');
        out.extend_from_slice(&buf[..n]);
        out.extend_from_slice(b"\r\n");
    } else {
        encode::bulk(out, &buf[..n]);
    }
}

// -------------------------------------------------------------- GEOADD

/// GEOADD key [NX|XX] [CH] longitude latitude member [...]
fn geoadd(ctx: &mut Ctx) {
    let args = ctx.args;
    let mut f = ZAddFlags::default();
    let mut i = 2;
    while i < args.len() {
        let o = args.get(i);
        if is(o, "nx") {
            f.nx = true;
        } else if is(o, "xx") {
            f.xx = true;
        } else if is(o, "ch") {
            f.ch = true;
        } else {
            break;
        }
        i += 1;
    }
    let n = args.len() - i;
    // No triple at all is ZADD's syntax error, which GEOADD hands over to.
    if n % 3 != 0 || n == 0 || (f.nx && f.xx) {
        return ctx.syntax_error();
    }
    // Every score's decimal text, one after the other, with its end.
    let mut text = Vec::with_capacity(n / 3 * 17);
    let mut ends = Vec::with_capacity(n / 3);
    for j in (i..args.len()).step_by(3) {
        match lon_lat(args.get(j), args.get(j + 1)) {
            Ok((lon, lat)) => {
                let score = hash::score_of(lon, lat).unwrap_or(0);
                text.extend_from_slice(itoa::Buffer::new().format(score).as_bytes());
                ends.push(text.len());
            }
            Err(e) => return ctx.error(&e),
        }
    }
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router.key_op(ctx.session.db, args.get(1), |a, key| {
        let mut from = 0;
        let pairs = a.list(ends.iter().enumerate().flat_map(|(k, &end)| {
            let s = &text[from..end];
            from = end;
            [s, args.get(i + 3 * k + 2)]
        }));
        ZSetOp::Add {
            key,
            pairs,
            flags: f,
        }
        .into()
    });
}

// ------------------------------------------------- GEOPOS GEOHASH GEODIST

/// The members' scores (ZMSCORE's op), answered by `done`.
fn scores_then(ctx: &mut Ctx, first: usize, last: usize, done: fn(&mut Finish), arg: u64) {
    let args = ctx.args;
    ctx.router
        .begin(ctx.conn, Merge::Call(Completion { run: done, arg }));
    ctx.router.key_op(ctx.session.db, args.get(1), |a, key| {
        ZSetOp::MScore {
            key,
            members: a.list((first..last).map(|i| args.get(i))),
        }
        .into()
    });
}

/// The scores of a ZMSCORE tape (None for a missing member), or the
/// error to answer.
fn scores_of(f: &Finish) -> Result<Vec<Option<f64>>, String> {
    let (b, r) = f.subs.get(0);
    match r {
        Reply::Tape(t) => Ok(TapeReader::new(b.payload(*t))
            .filter_map(|i| match i {
                Item::Double(s) => Some(Some(s)),
                Item::Nil => Some(None),
                _ => None,
            })
            .collect()),
        Reply::Err(e) => Err(crate::errors::text(e).into_owned()),
        _ => Ok(Vec::new()),
    }
}

fn geopos(ctx: &mut Ctx) {
    let n = ctx.args.len();
    scores_then(ctx, 2, n, geopos_done, 0);
}

fn geopos_done(f: &mut Finish) {
    let scores = match scores_of(f) {
        Ok(s) => s,
        Err(e) => return encode::error(f.out, &e),
    };
    encode::array(f.out, scores.len());
    for s in scores {
        match s {
            None => encode::null_array(f.out, f.resp3),
            Some(s) => {
                let (lon, lat) = hash::position(s);
                encode::array(f.out, 2);
                write_coord(f.out, lon, f.resp3);
                write_coord(f.out, lat, f.resp3);
            }
        }
    }
}

fn geohash(ctx: &mut Ctx) {
    let n = ctx.args.len();
    scores_then(ctx, 2, n, geohash_done, 0);
}

fn geohash_done(f: &mut Finish) {
    let scores = match scores_of(f) {
        Ok(s) => s,
        Err(e) => return encode::error(f.out, &e),
    };
    encode::array(f.out, scores.len());
    for s in scores {
        match s {
            None => encode::null(f.out, f.resp3),
            Some(s) => encode::bulk(f.out, &hash::geohash_string(s)),
        }
    }
}

/// GEODIST key member1 member2 [M|KM|FT|MI]
fn geodist(ctx: &mut Ctx) {
    let to_meters = match ctx.args.len() {
        4 => 1.0,
        5 => match unit(ctx.args.get(4)) {
            Ok(u) => u,
            Err(e) => return ctx.error(&e),
        },
        _ => return ctx.syntax_error(),
    };
    scores_then(ctx, 2, 4, geodist_done, to_meters.to_bits());
}

fn geodist_done(f: &mut Finish) {
    match scores_of(f) {
        Err(e) => encode::error(f.out, &e),
        Ok(s) => match (s.first(), s.get(1)) {
            (Some(Some(a)), Some(Some(b))) => {
                let (a, b) = (hash::position(*a), hash::position(*b));
                let d = hash::distance(a.0, a.1, b.0, b.1) / f64::from_bits(f.arg);
                write_distance(f.out, d);
            }
            _ => encode::null(f.out, f.resp3),
        },
    }
}

// ------------------------------------------------------------ searches

/// Which search command.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Radius,
    RadiusRo,
    ByMember,
    ByMemberRo,
    Search,
    SearchStore,
}

impl Form {
    fn by_member(self) -> bool {
        matches!(self, Form::ByMember | Form::ByMemberRo)
    }
    fn is_search(self) -> bool {
        matches!(self, Form::Search | Form::SearchStore)
    }
    fn can_store(self) -> bool {
        matches!(self, Form::Radius | Form::ByMember)
    }
    fn src(self) -> usize {
        if self == Form::SearchStore {
            2
        } else {
            1
        }
    }
}

/// A search's options, checked.
struct Parsed<'a> {
    /// None only when the key is missing and GEORADIUSBYMEMBER skipped it.
    from: Option<Center<'a>>,
    shape: Shape,
    conversion: f64,
    sort: GeoSort,
    count: u64,
    any: bool,
    /// The destination, and whether it gets distances (STOREDIST).
    store: Option<(&'a [u8], bool)>,
    /// WITHDIST 1, WITHHASH 2, WITHCOORD 4.
    with: u64,
}

/// Where a search is centred, as parsed.
#[derive(Clone, Copy)]
enum Center<'a> {
    LonLat(f64, f64),
    Member(&'a [u8]),
}

const WITHDIST: u64 = 1;
const WITHHASH: u64 = 2;
const WITHCOORD: u64 = 4;

/// What is known of the source key while parsing.
struct KeyView<'v> {
    /// It exists (a sorted set; another type was answered before).
    exists: bool,
    /// Whether it holds a member.
    has: &'v dyn Fn(&[u8]) -> bool,
    /// How many members were looked up.
    looked: std::cell::Cell<usize>,
}

impl KeyView<'_> {
    fn check(&self, m: &[u8]) -> Result<(), String> {
        self.looked.set(self.looked.get() + 1);
        if (self.has)(m) {
            Ok(())
        } else {
            Err(NO_MEMBER.into())
        }
    }
}

/// `georadiusGeneric`'s parsing and checks, in its order, given what is
/// known of the key (a missing key skips the checks of members and, for
/// GEORADIUSBYMEMBER, of the radius; its centre is then left unset).
fn parse<'a>(args: &'a Args, form: Form, key: &KeyView) -> Result<Parsed<'a>, String> {
    let mut p = Parsed {
        from: None,
        shape: Shape::Radius(0.0),
        conversion: 0.0,
        sort: GeoSort::None,
        count: 0,
        any: false,
        store: None,
        with: 0,
    };
    let distance = |p: &mut Parsed, r: &[u8], u: &[u8]| -> Result<(), String> {
        let r = length(r, "radius")?;
        if r < 0.0 {
            return Err("ERR radius cannot be negative".into());
        }
        p.shape = Shape::Radius(r);
        p.conversion = unit(u)?;
        Ok(())
    };
    let base = match form {
        Form::Radius | Form::RadiusRo => {
            let (lon, lat) = lon_lat(args.get(2), args.get(3))?;
            p.from = Some(Center::LonLat(lon, lat));
            distance(&mut p, args.get(4), args.get(5))?;
            6
        }
        Form::ByMember | Form::ByMemberRo => {
            if key.exists {
                key.check(args.get(2))?;
                p.from = Some(Center::Member(args.get(2)));
                distance(&mut p, args.get(3), args.get(4))?;
            }
            5
        }
        Form::Search => 2,
        Form::SearchStore => {
            p.store = Some((args.get(1), false));
            3
        }
    };
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let search = form.is_search();
    let mut i = base;
    let n = args.len();
    while i < n {
        let a = args.get(i);
        let left = n - i - 1;
        if is(a, "withdist") {
            p.with |= WITHDIST;
        } else if is(a, "withhash") {
            p.with |= WITHHASH;
        } else if is(a, "withcoord") {
            p.with |= WITHCOORD;
        } else if is(a, "any") {
            p.any = true;
        } else if is(a, "asc") {
            p.sort = GeoSort::Asc;
        } else if is(a, "desc") {
            p.sort = GeoSort::Desc;
        } else if is(a, "count") && left >= 1 {
            let c = parse_int(args.get(i + 1))
                .ok_or_else(|| "ERR value is not an integer or out of range".to_string())?;
            if c <= 0 {
                return Err("ERR COUNT must be > 0".into());
            }
            p.count = c as u64;
            i += 1;
        } else if (is(a, "store") || is(a, "storedist")) && left >= 1 && form.can_store() {
            p.store = Some((args.get(i + 1), is(a, "storedist")));
            i += 1;
        } else if is(a, "storedist") && form == Form::SearchStore {
            p.store = Some((args.get(1), true));
        } else if is(a, "frommember") && left >= 1 && search && !fromloc {
            let m = args.get(i + 1);
            if key.exists {
                key.check(m)?;
            }
            p.from = Some(Center::Member(m));
            frommember = true;
            i += 1;
        } else if is(a, "fromlonlat") && left >= 2 && search && !frommember {
            let (lon, lat) = lon_lat(args.get(i + 1), args.get(i + 2))?;
            p.from = Some(Center::LonLat(lon, lat));
            fromloc = true;
            i += 2;
        } else if is(a, "byradius") && left >= 2 && search && !bybox {
            distance(&mut p, args.get(i + 1), args.get(i + 2))?;
            byradius = true;
            i += 2;
        } else if is(a, "bybox") && left >= 3 && search && !byradius {
            let w = length(args.get(i + 1), "width")?;
            let h = length(args.get(i + 2), "height")?;
            if h < 0.0 || w < 0.0 {
                return Err("ERR height or width cannot be negative".into());
            }
            p.shape = Shape::Box(w, h);
            p.conversion = unit(args.get(i + 3))?;
            bybox = true;
            i += 3;
        } else {
            return Err("ERR syntax error".into());
        }
        i += 1;
    }
    if p.store.is_some() && p.with != 0 {
        return Err(format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if form == Form::SearchStore {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        ));
    }
    let name = || String::from_utf8_lossy(c_str(args.get(0))).into_owned();
    if search && !(frommember || fromloc) {
        return Err(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            name()
        ));
    }
    if search && !(byradius || bybox) {
        return Err(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {}",
            name()
        ));
    }
    if p.any && p.count == 0 {
        return Err("ERR the ANY argument requires COUNT argument".into());
    }
    Ok(p)
}

/// The parse made as if the key existed and held every member: the
/// parsed options, or the error it met; and how many members it looked up.
fn assumed(args: &Args, form: Form) -> (Result<Parsed<'_>, String>, usize) {
    let all = |_: &[u8]| true;
    let view = KeyView {
        exists: true,
        has: &all,
        looked: std::cell::Cell::new(0),
    };
    let r = parse(args, form, &view);
    (r, view.looked.get())
}

/// Whether a search needs a section (see the module's doc).
fn needs_section(args: &Args, router: &Router, form: Form) -> bool {
    match assumed(args, form) {
        (Err(_), _) => true,
        (Ok(_), looked) if looked > 1 => true,
        (Ok(p), _) => p
            .store
            .is_some_and(|(dst, _)| router.shard_of(dst) != router.shard_of(args.get(form.src()))),
    }
}

fn radius_section(a: &Args, r: &Router) -> bool {
    needs_section(a, r, Form::Radius)
}
fn radius_ro_section(a: &Args, r: &Router) -> bool {
    needs_section(a, r, Form::RadiusRo)
}
fn by_member_section(a: &Args, r: &Router) -> bool {
    needs_section(a, r, Form::ByMember)
}
fn by_member_ro_section(a: &Args, r: &Router) -> bool {
    needs_section(a, r, Form::ByMemberRo)
}
fn search_section(a: &Args, r: &Router) -> bool {
    needs_section(a, r, Form::Search)
}
fn search_store_section(a: &Args, r: &Router) -> bool {
    needs_section(a, r, Form::SearchStore)
}

fn georadius(ctx: &mut Ctx) {
    search_cmd(ctx, Form::Radius);
}
fn georadius_ro(ctx: &mut Ctx) {
    search_cmd(ctx, Form::RadiusRo);
}
fn georadiusbymember(ctx: &mut Ctx) {
    search_cmd(ctx, Form::ByMember);
}
fn georadiusbymember_ro(ctx: &mut Ctx) {
    search_cmd(ctx, Form::ByMemberRo);
}
fn geosearch(ctx: &mut Ctx) {
    search_cmd(ctx, Form::Search);
}
fn geosearchstore(ctx: &mut Ctx) {
    search_cmd(ctx, Form::SearchStore);
}

/// The op of a parsed search; `store` false leaves the STORE out (it is
/// done on another shard); `probed`: a probe looked the key up already.
fn search_op(
    a: &mut shards::batch::Args,
    key: &[u8],
    p: &Parsed,
    form: Form,
    store: bool,
    probed: bool,
) -> Op {
    let from = match p.from {
        Some(Center::LonLat(x, y)) => GeoFrom::LonLat(x, y),
        Some(Center::Member(m)) => GeoFrom::Member(a.push(m)),
        // Only a missing source leaves no centre; the op sees it missing.
        None => GeoFrom::LonLat(0.0, 0.0),
    };
    let store = match p.store {
        Some((dst, dist)) if store => Some(GeoStore {
            dst: a.push(dst),
            dist,
            event: event_of(form),
        }),
        _ => None,
    };
    ZSetOp::Geo(GeoOp::Search(GeoSearch {
        key: a.push(key),
        from,
        shape: p.shape,
        conversion: p.conversion,
        sort: p.sort,
        count: p.count,
        any: p.any,
        store,
        probed,
    }))
    .into()
}

fn event_of(form: Form) -> &'static str {
    if form.is_search() {
        "geosearchstore"
    } else {
        "georadiusstore"
    }
}

fn search_cmd(ctx: &mut Ctx, form: Form) {
    let args = ctx.args;
    let src = args.get(form.src());
    if ctx.router.in_section() {
        return search_in_section(ctx, form);
    }
    // No section: the assumed parse succeeded (see `needs_section`).
    let p = match assumed(args, form).0 {
        Ok(p) => p,
        Err(e) => return ctx.error(&e),
    };
    ctx.router.begin(
        ctx.conn,
        Merge::Call(Completion {
            run: search_done,
            arg: p.with,
        }),
    );
    let db = ctx.session.db;
    let s = ctx.router.shard_of(src);
    ctx.router
        .shard_op(s, db, |a| search_op(a, src, &p, form, true, false));
}

fn search_done(f: &mut Finish) {
    let (b, r) = f.subs.get(0);
    match r {
        Reply::Tape(t) => write_hits(f.out, TapeReader::new(b.payload(*t)), f.arg, f.resp3),
        Reply::Int(n) => encode::int(f.out, *n),
        Reply::Nil => encode::error(f.out, NO_MEMBER),
        Reply::Err(e) => encode::error(f.out, &crate::errors::text(e)),
        _ => encode::error(f.out, "ERR syntax error"),
    }
}

/// A search's results from its tape (`member, distance, score` triples)
/// as Redis answers them.
fn write_hits<'t>(
    out: &mut Vec<u8>,
    items: impl Iterator<Item = Item<'t>>,
    with: u64,
    resp3: bool,
) {
    let mut items = items;
    let n = match items.next() {
        Some(Item::Array(n)) => n as usize / 3,
        _ => 0,
    };
    let extra = (with & WITHDIST != 0) as usize
        + (with & WITHHASH != 0) as usize
        + (with & WITHCOORD != 0) as usize;
    encode::array(out, n);
    for _ in 0..n {
        let (Some(Item::Bulk(m)), Some(Item::Double(d)), Some(Item::Double(score))) =
            (items.next(), items.next(), items.next())
        else {
            break;
        };
        if extra > 0 {
            encode::array(out, extra + 1);
        }
        encode::bulk(out, m);
        if with & WITHDIST != 0 {
            write_distance(out, d);
        }
        if with & WITHHASH != 0 {
            encode::int(out, hash::c_i64(score));
        }
        if with & WITHCOORD != 0 {
            let (lon, lat) = hash::position(score);
            encode::array(out, 2);
            write_coord(out, lon, resp3);
            write_coord(out, lat, resp3);
        }
    }
}

/// Every key a STORE might name (any argument after STORE or STOREDIST),
/// so a section can hold their shards before it knows which one it is.
fn store_candidates(args: &Args, form: Form) -> Vec<&[u8]> {
    match form {
        Form::SearchStore => vec![args.get(1)],
        Form::Radius | Form::ByMember => (2..args.len().saturating_sub(1))
            .filter(|&i| is(args.get(i), "store") || is(args.get(i), "storedist"))
            .map(|i| args.get(i + 1))
            .collect(),
        _ => Vec::new(),
    }
}

/// The members the parse may look up: GEORADIUSBYMEMBER's, and any
/// argument after FROMMEMBER.
fn member_candidates(args: &Args, form: Form) -> Vec<&[u8]> {
    if form.by_member() {
        return vec![args.get(2)];
    }
    if !form.is_search() {
        return Vec::new();
    }
    (form.src() + 1..args.len().saturating_sub(1))
        .filter(|&i| is(args.get(i), "frommember"))
        .map(|i| args.get(i + 1))
        .collect()
}

fn search_in_section(ctx: &mut Ctx, form: Form) {
    let args = ctx.args;
    let db = ctx.session.db;
    let src = args.get(form.src());
    let s = ctx.router.shard_of(src);
    ctx.router.hold(s);
    for k in store_candidates(args, form) {
        let d = ctx.router.shard_of(k);
        ctx.router.hold(d);
    }
    let (first, looked) = assumed(args, form);
    let mut probed = false;
    let p = match first {
        Ok(p) if looked <= 1 => p,
        _ => {
            // What the key really holds decides which error Redis meets.
            let members = member_candidates(args, form);
            let r = ctx.router.step_op(s, db, |a| {
                ZSetOp::Geo(GeoOp::Probe {
                    key: a.push(src),
                    members: a.list(members.iter().copied()),
                })
                .into()
            });
            ctx.router.exchange();
            if let Some(e) = step_error(ctx, r) {
                return ctx.error(&e);
            }
            probed = true;
            let items = tape_items(ctx, r);
            let exists = matches!(items.get(1), Some(Item::Int(1)));
            let found: Vec<&[u8]> = members
                .iter()
                .zip(items.iter().skip(2))
                .filter(|(_, i)| matches!(i, Item::Double(_)))
                .map(|(m, _)| *m)
                .collect();
            let has = |m: &[u8]| found.contains(&m);
            let view = KeyView {
                exists,
                has: &has,
                looked: std::cell::Cell::new(0),
            };
            match parse(args, form, &view) {
                Ok(p) => p,
                Err(e) => return ctx.error(&e),
            }
        }
    };
    let dst_shard = p.store.map(|(dst, _)| ctx.router.shard_of(dst));
    let inline = dst_shard.map_or(true, |d| d == s);
    let r = ctx
        .router
        .step_op(s, db, |a| search_op(a, src, &p, form, inline, probed));
    ctx.router.exchange();
    let (Some((dst, dist)), false) = (p.store, inline) else {
        return answer(ctx, r, p.with);
    };
    if let Some(e) = step_error(ctx, r) {
        return ctx.error(&e);
    }
    if matches!(ctx.router.reply_of(r).1, Reply::Nil) {
        return ctx.error(NO_MEMBER);
    }
    // member, then the score's little-endian bits (`StoreEntries`).
    let mut entries: Vec<(Vec<u8>, [u8; 8])> = Vec::new();
    let items = tape_items(ctx, r);
    for t in items.get(1..).unwrap_or(&[]).chunks(3) {
        if let [Item::Bulk(m), Item::Double(d), Item::Double(score)] = t {
            let v = if dist { *d } else { *score };
            entries.push((m.to_vec(), v.to_le_bytes()));
        }
    }
    let d = dst_shard.unwrap_or(s);
    let w = ctx.router.step_op(d, db, |a| {
        ZSetOp::StoreEntries {
            dst: a.push(dst),
            entries: a.list(entries.iter().flat_map(|(m, b)| [&m[..], &b[..]])),
            event: event_of(form),
        }
        .into()
    });
    ctx.router.exchange();
    forward(ctx, w);
}

/// Answers a search step's reply as `search_done` would.
fn answer(ctx: &mut Ctx, r: OpRef, with: u64) {
    let resp3 = ctx.resp3();
    let mut out = Vec::new();
    {
        let (b, reply) = ctx.router.reply_of(r);
        match reply {
            Reply::Tape(t) => write_hits(&mut out, TapeReader::new(b.payload(*t)), with, resp3),
            Reply::Int(n) => encode::int(&mut out, *n),
            Reply::Nil => encode::error(&mut out, NO_MEMBER),
            Reply::Err(e) => encode::error(&mut out, &crate::errors::text(e)),
            _ => encode::error(&mut out, "ERR syntax error"),
        }
    }
    ctx.reply(|o| o.extend_from_slice(&out));
}

const SEARCH_COMPLEXITY: &str = "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.";
const GEOSEARCH_COMPLEXITY: &str = "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape";

#[rustfmt::skip]
pub(super) const COMMANDS: &[Command] = &[
    Command::new("geoadd", -5, geoadd)
        .flags(WRITE | DENYOOM)
        .keys(1, 1, 1, &[ks(&["RW", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "geo", "slow"])
        .doc("geo", "3.2.0", "Add one or more geospatial items in the geospatial index represented using a sorted set", "O(log(N)) for each item added, where N is the number of elements in the sorted set."),
    Command::new("geodist", -4, geodist)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "geo", "slow"])
        .doc("geo", "3.2.0", "Returns the distance between two members of a geospatial index", "O(log(N))"),
    Command::new("geohash", -2, geohash)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "geo", "slow"])
        .doc("geo", "3.2.0", "Returns members of a geospatial index as standard geohash strings", "O(log(N)) for each member requested, where N is the number of elements in the sorted set."),
    Command::new("geopos", -2, geopos)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "geo", "slow"])
        .doc("geo", "3.2.0", "Returns longitude and latitude of members of a geospatial index", "O(N) where N is the number of members requested."),
    Command::new("georadius", -6, georadius)
        .section(radius_section)
        .flags(WRITE | DENYOOM | MOVABLEKEYS)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["OW", "update"], Begin::Keyword("STORE", 6), Find::Range(0, 1, 0)), ks(&["OW", "update"], Begin::Keyword("STOREDIST", 6), Find::Range(0, 1, 0))])
        .acl(&["write", "geo", "slow"])
        .doc("geo", "3.2.0", "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point", SEARCH_COMPLEXITY)
        .doc_flags(&["deprecated"])
        .deprecated("6.2.0", "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument"),
    Command::new("georadiusbymember", -5, georadiusbymember)
        .section(by_member_section)
        .flags(WRITE | DENYOOM | MOVABLEKEYS)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["OW", "update"], Begin::Keyword("STORE", 5), Find::Range(0, 1, 0)), ks(&["OW", "update"], Begin::Keyword("STOREDIST", 5), Find::Range(0, 1, 0))])
        .acl(&["write", "geo", "slow"])
        .doc("geo", "3.2.0", "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member", SEARCH_COMPLEXITY)
        .doc_flags(&["deprecated"])
        .deprecated("6.2.0", "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments"),
    Command::new("georadius_ro", -6, georadius_ro)
        .section(radius_ro_section)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "geo", "slow"])
        .doc("geo", "3.2.10", "A read-only variant for GEORADIUS", SEARCH_COMPLEXITY)
        .doc_flags(&["deprecated"])
        .deprecated("6.2.0", "`GEOSEARCH` with the `BYRADIUS` argument"),
    Command::new("georadiusbymember_ro", -5, georadiusbymember_ro)
        .section(by_member_ro_section)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "geo", "slow"])
        .doc("geo", "3.2.10", "A read-only variant for GEORADIUSBYMEMBER", SEARCH_COMPLEXITY)
        .doc_flags(&["deprecated"])
        .deprecated("6.2.0", "`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments"),
    Command::new("geosearch", -7, geosearch)
        .section(search_section)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "geo", "slow"])
        .doc("geo", "6.2.0", "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.", GEOSEARCH_COMPLEXITY),
    Command::new("geosearchstore", -8, geosearchstore)
        .section(search_store_section)
        .flags(WRITE | DENYOOM)
        .keys(1, 2, 1, &[ks(&["OW", "update"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RO", "access"], Begin::Index(2), Find::Range(0, 1, 0))])
        .acl(&["write", "geo", "slow"])
        .doc("geo", "6.2.0", "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.", GEOSEARCH_COMPLEXITY),
];
