//! String commands: GET, SET, MGET, MSET, INCR/DECR/INCRBY/DECRBY,
//! INCRBYFLOAT, APPEND,
//! STRLEN, GETSET, GETDEL, SETNX, SETEX, PSETEX, GETRANGE/SUBSTR, SETRANGE,
//! GETEX, the bit commands GETBIT, SETBIT, BITCOUNT, BITPOS, LCS, and MSETNX.

use super::spec::{flags::*, ks, Begin, Command, Find};
use super::{c_str, parse_int, Ctx};
use crate::config::PROTO_MAX_BULK_LEN;
use crate::exchange::{Completion, Finish, Merge, Router};
use crate::resp::encode;
use shards::ops::keys::KeyOp;
use shards::ops::string::{GetExTtl, SetCond, SetReply, StrOp};
use shards::{Error, Expiry, Reply};

fn get(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |_, key| {
            StrOp::Get { key }.into()
        });
}

/// SET's op: `key` and `value` with the options.
fn set_op(ctx: &mut Ctx, value: &[u8], cond: SetCond, expiry: Expiry, reply: SetReply) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |a, key| {
            StrOp::Set {
                key,
                value: a.push(value),
                cond,
                expiry,
                reply,
            }
            .into()
        });
}

/// SET's options while they are parsed.
mod set_flags {
    pub const NX: u8 = 1;
    pub const XX: u8 = 2;
    pub const GET: u8 = 4;
    pub const KEEPTTL: u8 = 8;
}

/// The expire options SET and GETEX share.
#[derive(PartialEq, Clone, Copy)]
enum Unit {
    None,
    Ex,
    Px,
    ExAt,
    PxAt,
}

impl Unit {
    /// The unit an option names (`Unit::None` for any other word).
    fn parse(opt: &[u8]) -> Unit {
        let is = |s: &str| opt.eq_ignore_ascii_case(s.as_bytes());
        if is("ex") {
            Unit::Ex
        } else if is("px") {
            Unit::Px
        } else if is("exat") {
            Unit::ExAt
        } else if is("pxat") {
            Unit::PxAt
        } else {
            Unit::None
        }
    }

    /// Redis's `getExpireMillisecondsOrReply`: the absolute deadline in ms
    /// for `v` in this unit, or None when it is invalid (not positive, or
    /// overflowing).
    fn deadline(self, v: i64, now_ms: u64) -> Option<i64> {
        if v <= 0 {
            return None;
        }
        let ms = match self {
            Unit::Ex | Unit::ExAt => v.checked_mul(1000)?,
            _ => v,
        };
        let at = match self {
            Unit::Ex | Unit::Px => ms.checked_add(now_ms as i64)?,
            _ => ms,
        };
        (at > 0).then_some(at)
    }
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL], with the
/// option rules of Redis 7.0's `parseExtendedStringArgumentsOrReply`.
fn set(ctx: &mut Ctx) {
    let mut flags = 0u8;
    let mut unit = Unit::None;
    let mut expire_arg: &[u8] = b"";
    let n = ctx.args.len();
    let mut j = 3;
    while j < n {
        let opt = ctx.args.get(j);
        let has_next = j + 1 < n;
        let is = |s: &str| opt.eq_ignore_ascii_case(s.as_bytes());
        if is("nx") && flags & set_flags::XX == 0 {
            flags |= set_flags::NX;
        } else if is("xx") && flags & set_flags::NX == 0 {
            flags |= set_flags::XX;
        } else if is("get") {
            flags |= set_flags::GET;
        } else if is("keepttl") && unit == Unit::None {
            flags |= set_flags::KEEPTTL;
        } else if flags & set_flags::KEEPTTL == 0
            && has_next
            && (is("ex") || is("px") || is("exat") || is("pxat"))
        {
            let u = Unit::parse(opt);
            // Redis accepts the same unit twice (the last wins) but not two units.
            if unit != Unit::None && unit != u {
                ctx.syntax_error();
                return;
            }
            unit = u;
            expire_arg = ctx.args.get(j + 1);
            j += 1;
        } else {
            ctx.syntax_error();
            return;
        }
        j += 1;
    }
    let mut expire_at = 0u64;
    if unit != Unit::None {
        let Some(v) = parse_int(expire_arg) else {
            ctx.not_integer();
            return;
        };
        match unit.deadline(v, ctx.now_ms) {
            Some(t) => expire_at = t as u64,
            None => {
                ctx.error("ERR invalid expire time in 'set' command");
                return;
            }
        }
    }
    let cond = if flags & set_flags::NX != 0 {
        SetCond::Nx
    } else if flags & set_flags::XX != 0 {
        SetCond::Xx
    } else {
        SetCond::Always
    };
    let expiry = if expire_at != 0 {
        Expiry::At(expire_at)
    } else if flags & set_flags::KEEPTTL != 0 {
        Expiry::Keep
    } else {
        Expiry::Clear
    };
    let reply = if flags & set_flags::GET != 0 {
        SetReply::Old
    } else {
        SetReply::Ok
    };
    set_op(ctx, ctx.args.get(2), cond, expiry, reply);
}

fn mget(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::Array);
    for key in ctx.args.iter_from(1) {
        ctx.router
            .key_op(ctx.session.db, key, |_, key| StrOp::MGetOne { key }.into());
    }
}

fn mset(ctx: &mut Ctx) {
    if ctx.args.len() % 2 == 0 {
        ctx.arity_error("mset");
        return;
    }
    ctx.router.begin(ctx.conn, Merge::AllOk);
    let mut i = 1;
    while i < ctx.args.len() {
        let (k, v) = (ctx.args.get(i), ctx.args.get(i + 1));
        ctx.router.key_op(ctx.session.db, k, |a, key| {
            StrOp::Set {
                key,
                value: a.push(v),
                cond: SetCond::Always,
                expiry: Expiry::Clear,
                reply: SetReply::Ok,
            }
            .into()
        });
        i += 2;
    }
}

fn incr_op(ctx: &mut Ctx, by: i64) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |_, key| {
            StrOp::IncrBy { key, by }.into()
        });
}

fn incr(ctx: &mut Ctx) {
    incr_op(ctx, 1);
}

fn decr(ctx: &mut Ctx) {
    incr_op(ctx, -1);
}

fn incrby(ctx: &mut Ctx) {
    match parse_int(ctx.args.get(2)) {
        Some(by) => incr_op(ctx, by),
        None => ctx.not_integer(),
    }
}

fn decrby(ctx: &mut Ctx) {
    match parse_int(ctx.args.get(2)) {
        // Negating i64::MIN would overflow (Redis 7.0 checks it first).
        Some(i64::MIN) => ctx.error("ERR decrement would overflow"),
        Some(by) => incr_op(ctx, -by),
        None => ctx.not_integer(),
    }
}

/// INCRBYFLOAT key increment: both operands are parsed on the shard.
fn incrbyfloat(ctx: &mut Ctx) {
    let by = ctx.args.get(2);
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |a, key| {
            StrOp::IncrByFloat {
                key,
                by: a.push(by),
            }
            .into()
        });
}

fn append(ctx: &mut Ctx) {
    let value = ctx.args.get(2);
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |a, key| {
            StrOp::Append {
                key,
                value: a.push(value),
            }
            .into()
        });
}

fn strlen(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |_, key| {
            StrOp::Strlen { key }.into()
        });
}

fn getdel(ctx: &mut Ctx) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |_, key| {
            StrOp::GetDel { key }.into()
        });
}

/// GETSET key value: SET ... GET, which clears the TTL.
fn getset(ctx: &mut Ctx) {
    set_op(
        ctx,
        ctx.args.get(2),
        SetCond::Always,
        Expiry::Clear,
        SetReply::Old,
    );
}

/// SETNX key value → 1 or 0.
fn setnx(ctx: &mut Ctx) {
    set_op(
        ctx,
        ctx.args.get(2),
        SetCond::Nx,
        Expiry::Clear,
        SetReply::Int,
    );
}

/// SETEX key seconds value.
fn setex(ctx: &mut Ctx) {
    setex_in(ctx, true);
}

/// PSETEX key milliseconds value.
fn psetex(ctx: &mut Ctx) {
    setex_in(ctx, false);
}

fn setex_in(ctx: &mut Ctx, seconds: bool) {
    let Some(v) = parse_int(ctx.args.get(2)) else {
        ctx.not_integer();
        return;
    };
    let ms = if seconds {
        v.checked_mul(1000)
    } else {
        Some(v)
    };
    let at = ms
        .filter(|_| v > 0)
        .and_then(|ms| ms.checked_add(ctx.now_ms as i64));
    let Some(at) = at else {
        let msg = format!("ERR invalid expire time in '{}' command", ctx.cmd.name);
        ctx.error(&msg);
        return;
    };
    set_op(
        ctx,
        ctx.args.get(3),
        SetCond::Always,
        Expiry::At(at as u64),
        SetReply::Ok,
    );
}

/// GETRANGE key start end (also SUBSTR).
fn getrange(ctx: &mut Ctx) {
    let (Some(start), Some(end)) = (parse_int(ctx.args.get(2)), parse_int(ctx.args.get(3))) else {
        ctx.not_integer();
        return;
    };
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |_, key| {
            StrOp::GetRange { key, start, end }.into()
        });
}

/// SETRANGE key offset value.
fn setrange(ctx: &mut Ctx) {
    let Some(offset) = parse_int(ctx.args.get(2)) else {
        ctx.not_integer();
        return;
    };
    if offset < 0 {
        ctx.error("ERR offset is out of range");
        return;
    }
    let len = ctx.args.get(3).len() as u64;
    if len > 0 && offset as u64 + len > crate::config::PROTO_MAX_BULK_LEN as u64 {
        ctx.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return;
    }
    let value = ctx.args.get(3);
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |a, key| {
            StrOp::SetRange {
                key,
                offset: offset as u64,
                value: a.push(value),
            }
            .into()
        });
}

/// GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST], with the option rules of
/// Redis 7.0's `parseExtendedStringArgumentsOrReply`. Option errors reply at
/// once; a bad time only once the shard found the key (see `getex_flags`).
fn getex(ctx: &mut Ctx) {
    let mut persist = false;
    let mut unit = Unit::None;
    let mut time: &[u8] = b"";
    let n = ctx.args.len();
    let mut j = 2;
    while j < n {
        let opt = c_str(ctx.args.get(j));
        let is = |s: &str| opt.eq_ignore_ascii_case(s.as_bytes());
        let u = Unit::parse(opt);
        if is("persist") && unit == Unit::None {
            persist = true;
        } else if u != Unit::None && !persist && (unit == Unit::None || unit == u) && j + 1 < n {
            // The same unit twice is accepted (the last wins), two units not.
            unit = u;
            time = ctx.args.get(j + 1);
            j += 1;
        } else {
            ctx.syntax_error();
            return;
        }
        j += 1;
    }
    let mut ttl = if persist {
        GetExTtl::Persist
    } else {
        GetExTtl::Keep
    };
    let mut bad = None;
    if unit != Unit::None {
        let absolute = matches!(unit, Unit::ExAt | Unit::PxAt);
        // Redis's getExpireMillisecondsOrReply.
        match parse_int(time) {
            None => bad = Some(Error::NotInteger),
            Some(v) => match unit.deadline(v, ctx.now_ms) {
                Some(ms) => ttl = GetExTtl::At(ms as u64, absolute),
                None => bad = Some(Error::InvalidExpire("getex")),
            },
        }
    }
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |_, key| {
            StrOp::GetEx { key, ttl, bad }.into()
        });
}

/// Redis's `getBitOffsetFromArgument`: a canonical integer whose byte lies
/// within proto-max-bulk-len (so below 2^32), or its error reply.
fn bit_offset(ctx: &mut Ctx, arg: &[u8]) -> Option<u64> {
    match parse_int(arg) {
        Some(v) if v >= 0 && ((v >> 3) as u64) < PROTO_MAX_BULK_LEN as u64 => Some(v as u64),
        _ => {
            ctx.error("ERR bit offset is not an integer or out of range");
            None
        }
    }
}

/// GETBIT key offset.
fn getbit(ctx: &mut Ctx) {
    let Some(offset) = bit_offset(ctx, ctx.args.get(2)) else {
        return;
    };
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |_, key| {
            StrOp::GetBit { key, offset }.into()
        });
}

/// SETBIT key offset value.
fn setbit(ctx: &mut Ctx) {
    let Some(offset) = bit_offset(ctx, ctx.args.get(2)) else {
        return;
    };
    let on = match parse_int(ctx.args.get(3)) {
        Some(v @ (0 | 1)) => v == 1,
        _ => {
            ctx.error("ERR bit is not an integer or out of range");
            return;
        }
    };
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |_, key| {
            StrOp::SetBit { key, offset, on }.into()
        });
}

/// `BYTE` or `BIT` as Redis compares them; None for anything else.
fn bit_unit(arg: &[u8]) -> Option<bool> {
    let arg = c_str(arg);
    if arg.eq_ignore_ascii_case(b"bit") {
        Some(true)
    } else if arg.eq_ignore_ascii_case(b"byte") {
        Some(false)
    } else {
        None
    }
}

/// Parses `arg` as a range bound, recording a deferred not-an-integer
/// error in `bad` when it is not one (the first error wins).
fn bound(arg: &[u8], bad: &mut Option<Error>) -> i64 {
    match parse_int(arg) {
        Some(v) => v,
        None => {
            bad.get_or_insert(Error::NotInteger);
            0
        }
    }
}

/// BITCOUNT key [start end [BYTE|BIT]]. Redis looks the key up before it
/// parses the range, so range errors travel to the shard, answered there
/// only when the key exists.
fn bitcount(ctx: &mut Ctx) {
    let n = ctx.args.len();
    let mut bad = None;
    let mut range = None;
    let mut bits = false;
    match n {
        2 => {}
        4 | 5 => {
            let start = bound(ctx.args.get(2), &mut bad);
            let end = bound(ctx.args.get(3), &mut bad);
            range = Some((start, end));
            if n == 5 {
                match bit_unit(ctx.args.get(4)) {
                    Some(b) => bits = b,
                    None => {
                        bad.get_or_insert(Error::Syntax);
                    }
                }
            }
        }
        _ => bad = Some(Error::Syntax),
    }
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |_, key| {
            StrOp::BitCount {
                key,
                range,
                bits,
                bad,
            }
            .into()
        });
}

/// BITPOS key bit [start [end [BYTE|BIT]]]. The bit is checked at once, the
/// rest after the look-up, in Redis's order: start, unit, end.
fn bitpos(ctx: &mut Ctx) {
    let one = match parse_int(ctx.args.get(2)) {
        None => return ctx.not_integer(),
        Some(0) => false,
        Some(1) => true,
        Some(_) => return ctx.error("ERR The bit argument must be 1 or 0."),
    };
    let n = ctx.args.len();
    let mut bad = None;
    let (mut start, mut end, mut bits) = (None, None, false);
    match n {
        3 => {}
        4..=6 => {
            start = Some(bound(ctx.args.get(3), &mut bad));
            if n == 6 {
                match bit_unit(ctx.args.get(5)) {
                    Some(b) => bits = b,
                    None => {
                        bad.get_or_insert(Error::Syntax);
                    }
                }
            }
            if n >= 5 {
                end = Some(bound(ctx.args.get(4), &mut bad));
            }
        }
        _ => bad = Some(Error::Syntax),
    }
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |_, key| {
            StrOp::BitPos {
                key,
                one,
                start,
                end,
                bits,
                bad,
            }
            .into()
        });
}

/// LCS's options, carried to the merge that computes it once both values
/// are back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LcsOpts {
    /// LEN: only the length.
    pub len: bool,
    /// IDX: the matching ranges.
    pub idx: bool,
    /// WITHMATCHLEN: each range with its length.
    pub with_match_len: bool,
    /// MINMATCHLEN: ranges shorter than this are left out (0 = all). No
    /// range reaches 2^32 bytes, so larger values are clamped to `u32::MAX`.
    pub min_match_len: u32,
    /// An option error, replied after the look-ups as Redis does.
    pub error: Option<LcsError>,
}

/// An LCS option error (kept small: it rides in every pending reply slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LcsError {
    /// An unknown option, or MINMATCHLEN without its value.
    Syntax,
    /// MINMATCHLEN's value is not an integer.
    NotInteger,
    /// LEN and IDX together.
    LenAndIdx,
}

impl LcsError {
    fn text(self) -> &'static str {
        match self {
            LcsError::Syntax => "ERR syntax error",
            LcsError::NotInteger => "ERR value is not an integer or out of range",
            LcsError::LenAndIdx => {
                "ERR If you want both the length and indexes, please just use IDX."
            }
        }
    }
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN].
///
/// The keys may live on different shards: each is fetched with a plain GET
/// (a read look-up counting a hit or miss, as Redis's two `lookupKeyRead`),
/// and the worker computes the answer when it merges the two replies
/// (`lcs_reply`), so no shard waits on another. Redis parses the options
/// after the look-ups, so even an option error still reads both keys.
fn lcs(ctx: &mut Ctx) {
    let mut o = LcsOpts {
        len: false,
        idx: false,
        with_match_len: false,
        min_match_len: 0,
        error: None,
    };
    let n = ctx.args.len();
    let mut j = 3;
    while j < n {
        let opt = c_str(ctx.args.get(j));
        let is = |s: &str| opt.eq_ignore_ascii_case(s.as_bytes());
        if is("idx") {
            o.idx = true;
        } else if is("len") {
            o.len = true;
        } else if is("withmatchlen") {
            o.with_match_len = true;
        } else if is("minmatchlen") && j + 1 < n {
            match parse_int(ctx.args.get(j + 1)) {
                Some(v) => o.min_match_len = v.clamp(0, u32::MAX as i64) as u32,
                None => {
                    o.error = Some(LcsError::NotInteger);
                    break;
                }
            }
            j += 1;
        } else {
            o.error = Some(LcsError::Syntax);
            break;
        }
        j += 1;
    }
    if o.error.is_none() && o.idx && o.len {
        o.error = Some(LcsError::LenAndIdx);
    }
    let arg = o.pack();
    ctx.router
        .begin(ctx.conn, Merge::Call(Completion { run: lcs_done, arg }));
    for key in [ctx.args.get(1), ctx.args.get(2)] {
        ctx.router
            .key_op(ctx.session.db, key, |_, key| StrOp::Get { key }.into());
    }
}

/// LCS's completion: both values are back.
fn lcs_done(f: &mut Finish) {
    // Redis checks both keys' types before it reads the options.
    if (0..2).any(|i| {
        matches!(
            f.subs.get(i).1,
            shards::Reply::Err(shards::Error::WrongType)
        )
    }) {
        return encode::error(f.out, "ERR The specified keys must contain string values");
    }
    let value = |i| match f.subs.get(i) {
        (b, shards::Reply::Bulk(span)) => b.payload(*span),
        _ => &[][..],
    };
    let (a, b) = (value(0), value(1));
    lcs_reply(f.out, a, b, &LcsOpts::unpack(f.arg), f.scratch, f.resp3);
}

impl LcsOpts {
    /// The options as a completion's argument: flags in the low bits, the
    /// error in bits 3-4, MINMATCHLEN in the high half.
    fn pack(&self) -> u64 {
        let error = match self.error {
            None => 0,
            Some(LcsError::Syntax) => 1,
            Some(LcsError::NotInteger) => 2,
            Some(LcsError::LenAndIdx) => 3,
        };
        self.len as u64
            | (self.idx as u64) << 1
            | (self.with_match_len as u64) << 2
            | error << 3
            | (self.min_match_len as u64) << 32
    }

    fn unpack(v: u64) -> LcsOpts {
        LcsOpts {
            len: v & 1 != 0,
            idx: v & 2 != 0,
            with_match_len: v & 4 != 0,
            min_match_len: (v >> 32) as u32,
            error: match (v >> 3) & 3 {
                1 => Some(LcsError::Syntax),
                2 => Some(LcsError::NotInteger),
                3 => Some(LcsError::LenAndIdx),
                _ => None,
            },
        }
    }
}

/// DP tables above this many cells are not kept for the next LCS.
const LCS_KEEP_CELLS: usize = 1 << 18;

/// Computes LCS of `a` and `b` as Redis 7.0's `lcsCommand` does and encodes
/// its reply into `out`. `table` is scratch space reused across calls.
///
/// The classic dynamic program: `table[i][j]` is the LCS length of the first
/// `i` bytes of `a` and the first `j` of `b`. Walking back from the far
/// corner yields the common subsequence from its end, and with IDX the
/// maximal runs that are contiguous in both strings, last first, exactly in
/// the order Redis emits them.
pub fn lcs_reply(
    out: &mut Vec<u8>,
    a: &[u8],
    b: &[u8],
    o: &LcsOpts,
    table: &mut Vec<u32>,
    resp3: bool,
) {
    if let Some(e) = o.error {
        return encode::error(out, e.text());
    }
    let (alen, blen) = (a.len(), b.len());
    if alen as u64 >= u32::MAX as u64 - 1 || blen as u64 >= u32::MAX as u64 - 1 {
        return encode::error(out, "ERR String too long for LCS");
    }
    let cells = (alen + 1) * (blen + 1);
    if cells as u64 * 4 > PROTO_MAX_BULK_LEN as u64 {
        return encode::error(
            out,
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        );
    }
    table.clear();
    if table.try_reserve_exact(cells).is_err() {
        return encode::error(
            out,
            "ERR Insufficient memory, failed allocating transient memory for LCS",
        );
    }
    table.resize(cells, 0);
    let w = blen + 1;
    for i in 1..=alen {
        let (prev, row) = table[(i - 1) * w..(i + 1) * w].split_at_mut(w);
        for j in 1..=blen {
            row[j] = if a[i - 1] == b[j - 1] {
                prev[j - 1] + 1
            } else {
                prev[j].max(row[j - 1])
            };
        }
    }
    let lcs = |i: usize, j: usize| table[i * w + j];
    let total = lcs(alen, blen) as usize;
    if o.len && !o.idx {
        encode::int(out, total as i64);
    } else {
        walk_back(out, a, b, o, total, &lcs, resp3);
    }
    if table.capacity() > LCS_KEEP_CELLS {
        *table = Vec::new();
    }
}

/// The backtrack of `lcs_reply`: the LCS string as a bulk reply, or with IDX
/// Redis's `matches`/`len` map (a flat array of 4 in RESP2).
fn walk_back(
    out: &mut Vec<u8>,
    a: &[u8],
    b: &[u8],
    o: &LcsOpts,
    total: usize,
    lcs: &dyn Fn(usize, usize) -> u32,
    resp3: bool,
) {
    let alen = a.len();
    let body;
    if o.idx {
        encode::map(out, 2, resp3);
        encode::bulk(out, b"matches");
        // The count of ranges is known only at the end: it is inserted here.
        body = out.len();
    } else {
        out.push(b'$');
        out.extend_from_slice(itoa::Buffer::new().format(total).as_bytes());
        out.extend_from_slice(b"\r\n");
        body = out.len();
        out.resize(body + total, 0);
    }
    let mut ranges = 0usize;
    let (mut i, mut j, mut k) = (alen, b.len(), total);
    // `a_start == alen` means no range is open.
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0, 0, 0);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            if !o.idx {
                out[body + k - 1] = a[i - 1];
            }
            if a_start == alen {
                (a_start, a_end, b_start, b_end) = (i - 1, i - 1, j - 1, j - 1);
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            // A match on the first byte of either string ends the walk.
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            k -= 1;
            i -= 1;
            j -= 1;
        } else {
            if lcs(i - 1, j) > lcs(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let match_len = a_end - a_start + 1;
            if o.idx && (o.min_match_len == 0 || match_len as u64 >= o.min_match_len as u64) {
                encode::array(out, 2 + o.with_match_len as usize);
                encode::array(out, 2);
                encode::int(out, a_start as i64);
                encode::int(out, a_end as i64);
                encode::array(out, 2);
                encode::int(out, b_start as i64);
                encode::int(out, b_end as i64);
                if o.with_match_len {
                    encode::int(out, match_len as i64);
                }
                ranges += 1;
            }
            a_start = alen;
        }
    }
    if o.idx {
        let mut count = itoa::Buffer::new();
        let count = count.format(ranges).as_bytes();
        let head = b"*".iter().chain(count).chain(b"\r\n");
        out.splice(body..body, head.copied());
        encode::bulk(out, b"len");
        encode::int(out, total as i64);
    } else {
        out.extend_from_slice(b"\r\n");
    }
}

/// MSETNX needs a section when its keys live on several shards.
fn msetnx_spans_shards(args: &crate::resp::Args, router: &Router) -> bool {
    let first = router.shard_of(args.get(1));
    args.iter_from(1)
        .step_by(2)
        .any(|k| router.shard_of(k) != first)
}

/// MSETNX key value [key value ...]: all or nothing. Keys on one shard: one
/// op that checks and sets. On several: a deferred section that asks every
/// shard first and sets only if no key exists anywhere.
fn msetnx(ctx: &mut Ctx) {
    if ctx.args.len() % 2 == 0 {
        ctx.arity_error("msetnx");
        return;
    }
    let db = ctx.session.db;
    let first = ctx.router.shard_of(ctx.args.get(1));
    let one_shard = ctx
        .args
        .iter_from(1)
        .step_by(2)
        .all(|k| ctx.router.shard_of(k) == first);
    let all: Vec<&[u8]> = ctx.args.iter_from(1).collect();
    if one_shard {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.shard_op(first, db, |a| {
            StrOp::MSetNx {
                pairs: a.list(all.iter().copied()),
            }
            .into()
        });
        return;
    }
    let mut per_shard: Vec<Vec<&[u8]>> = vec![Vec::new(); ctx.router.shards()];
    for pair in all.chunks(2) {
        per_shard[ctx.router.shard_of(pair[0])].extend_from_slice(pair);
    }
    // First every shard says whether one of its keys exists; only if none
    // does, every shard sets its pairs.
    let step = |ctx: &mut Ctx, probe: bool| {
        let mut refs = Vec::new();
        for (s, args) in per_shard.iter().enumerate() {
            if !args.is_empty() {
                ctx.router.hold(s);
                refs.push(ctx.router.step_op(s, db, |a| {
                    if probe {
                        KeyOp::AnyExists {
                            keys: a.list(args.iter().step_by(2).copied()),
                        }
                        .into()
                    } else {
                        StrOp::MSetNx {
                            pairs: a.list(args.iter().copied()),
                        }
                        .into()
                    }
                }));
            }
        }
        ctx.router.exchange();
        refs.into_iter()
            .map(|r| ctx.router.reply_of(r).1.clone())
            .collect::<Vec<Reply>>()
    };
    if step(ctx, true).iter().any(|r| matches!(r, Reply::Int(1))) {
        ctx.reply(|out| encode::int(out, 0));
        return;
    }
    let replies = step(ctx, false);
    match replies.iter().find_map(|r| match r {
        Reply::Err(e) => Some(crate::errors::text(e)),
        _ => None,
    }) {
        Some(e) => ctx.error(&e),
        None => ctx.reply(|out| encode::int(out, 1)),
    }
}

/// The string and bitmap commands.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("get", 2, get)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "string", "fast"])
        .doc("string", "1.0.0", "Get the value of a key", "O(1)"),
    Command::new("set", -3, set)
        .flags(WRITE | DENYOOM)
        .keys(1, 1, 1, &[ks(&["RW", "access", "update", "variable_flags"], Begin::Index(1), Find::Range(0, 1, 0)).note("RW and ACCESS due to the optional `GET` argument")])
        .acl(&["write", "string", "slow"])
        .doc("string", "1.0.0", "Set the string value of a key", "O(1)"),
    Command::new("mget", -2, mget)
        .flags(READONLY | FAST)
        .keys(1, -1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(-1, 1, 0))])
        .acl(&["read", "string", "fast"])
        .tips(&["request_policy:multi_shard"])
        .doc("string", "1.0.0", "Get the values of all the given keys", "O(N) where N is the number of keys to retrieve."),
    Command::new("mset", -3, mset)
        .flags(WRITE | DENYOOM)
        .keys(1, -1, 2, &[ks(&["OW", "update"], Begin::Index(1), Find::Range(-1, 2, 0))])
        .acl(&["write", "string", "slow"])
        .tips(&["request_policy:multi_shard", "response_policy:all_succeeded"])
        .doc("string", "1.0.1", "Set multiple keys to multiple values", "O(N) where N is the number of keys to set."),
    Command::new("incr", 2, incr)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "string", "fast"])
        .doc("string", "1.0.0", "Increment the integer value of a key by one", "O(1)"),
    Command::new("decr", 2, decr)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "string", "fast"])
        .doc("string", "1.0.0", "Decrement the integer value of a key by one", "O(1)"),
    Command::new("incrby", 3, incrby)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "string", "fast"])
        .doc("string", "1.0.0", "Increment the integer value of a key by the given amount", "O(1)"),
    Command::new("decrby", 3, decrby)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "string", "fast"])
        .doc("string", "1.0.0", "Decrement the integer value of a key by the given number", "O(1)"),
    Command::new("incrbyfloat", 3, incrbyfloat)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "string", "fast"])
        .doc("string", "2.6.0", "Increment the float value of a key by the given amount", "O(1)"),
    Command::new("append", 3, append)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "insert"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "string", "fast"])
        .doc("string", "2.0.0", "Append a value to a key", "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation."),
    Command::new("strlen", 2, strlen)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "string", "fast"])
        .doc("string", "2.2.0", "Get the length of the value stored in a key", "O(1)"),
    Command::new("getset", 3, getset)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "string", "fast"])
        .doc("string", "1.0.0", "Set the string value of a key and return its old value", "O(1)")
        .doc_flags(&["deprecated"])
        .deprecated("6.2.0", "`SET` with the `!GET` argument"),
    Command::new("getdel", 2, getdel)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "string", "fast"])
        .doc("string", "6.2.0", "Get the value of a key and delete the key", "O(1)"),
    Command::new("setnx", 3, setnx)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["OW", "insert"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "string", "fast"])
        .doc("string", "1.0.0", "Set the value of a key, only if the key does not exist", "O(1)"),
    Command::new("setex", 4, setex)
        .flags(WRITE | DENYOOM)
        .keys(1, 1, 1, &[ks(&["OW", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "string", "slow"])
        .doc("string", "2.0.0", "Set the value and expiration of a key", "O(1)"),
    Command::new("psetex", 4, psetex)
        .flags(WRITE | DENYOOM)
        .keys(1, 1, 1, &[ks(&["OW", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "string", "slow"])
        .doc("string", "2.6.0", "Set the value and expiration in milliseconds of a key", "O(1)"),
    Command::new("getrange", 4, getrange)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "string", "slow"])
        .doc("string", "2.4.0", "Get a substring of the string stored at a key", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings."),
    Command::new("substr", 4, getrange)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "string", "slow"])
        .doc("string", "1.0.0", "Get a substring of the string stored at a key", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.")
        .doc_flags(&["deprecated"])
        .deprecated("2.0.0", "`GETRANGE`"),
    Command::new("setrange", 4, setrange)
        .flags(WRITE | DENYOOM)
        .keys(1, 1, 1, &[ks(&["RW", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "string", "slow"])
        .doc("string", "2.2.0", "Overwrite part of a string at key starting at the specified offset", "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument."),
    Command::new("getex", -2, getex)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "access", "update"], Begin::Index(1), Find::Range(0, 1, 0)).note("RW and UPDATE because it changes the TTL")])
        .acl(&["write", "string", "fast"])
        .doc("string", "6.2.0", "Get the value of a key and optionally set its expiration", "O(1)"),
    Command::new("getbit", 3, getbit)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "bitmap", "fast"])
        .doc("bitmap", "2.2.0", "Returns the bit value at offset in the string value stored at key", "O(1)"),
    Command::new("setbit", 4, setbit)
        .flags(WRITE | DENYOOM)
        .keys(1, 1, 1, &[ks(&["RW", "access", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "bitmap", "slow"])
        .doc("bitmap", "2.2.0", "Sets or clears the bit at offset in the string value stored at key", "O(1)"),
    Command::new("bitcount", -2, bitcount)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "bitmap", "slow"])
        .doc("bitmap", "2.6.0", "Count set bits in a string", "O(N)"),
    Command::new("bitpos", -3, bitpos)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "bitmap", "slow"])
        .doc("bitmap", "2.8.7", "Find first bit set or clear in a string", "O(N)"),
    Command::new("lcs", -3, lcs)
        .flags(READONLY)
        .keys(1, 2, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(1, 1, 0))])
        .acl(&["read", "string", "slow"])
        .doc("string", "7.0.0", "Find longest common substring", "O(N*M) where N and M are the lengths of s1 and s2, respectively"),
    Command::new("msetnx", -3, msetnx)
        .section(msetnx_spans_shards)
        .flags(WRITE | DENYOOM)
        .keys(1, -1, 2, &[ks(&["OW", "insert"], Begin::Index(1), Find::Range(-1, 2, 0))])
        .acl(&["write", "string", "slow"])
        .tips(&["request_policy:multi_shard", "response_policy:agg_min"])
        .doc("string", "1.0.1", "Set multiple keys to multiple values, only if none of the keys exist", "O(N) where N is the number of keys to set."),
];
