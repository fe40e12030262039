//! Stream commands (Redis 7.0's `t_stream.c`): XADD, XLEN, XRANGE,
//! XREVRANGE, XDEL, XTRIM, XSETID. Each is one op on the key's shard; the
//! arguments Redis reads before its look-up are checked here, in its order.

use super::spec::{flags::*, ks, Begin, Command, Find};
use super::{c_str, parse_int, Ctx};
use crate::blocking::Shape;
use crate::exchange::Merge;
use shards::keyspace::blocked::Want;
use shards::ops::block::BlockOp;
use shards::ops::stream::{NewId, StreamOp, TrimSpec};
use shards::value::stream::{StreamId, Trim, NODE_MAX_ENTRIES};
use shards::{Arg, Op};

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// One op on the key (argument 1), answered as it is.
fn key_op(ctx: &mut Ctx, build: impl FnOnce(&mut shards::batch::Args, Arg) -> Op) {
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router.key_op(ctx.session.db, ctx.args.get(1), build);
}

/// What XADD and XTRIM's options said.
#[derive(Default)]
struct Parsed {
    trim: Option<(Trim, bool)>,
    limit: Option<u64>,
    no_mkstream: bool,
    /// XADD's ID and the index of its argument.
    id: Option<(NewId, usize)>,
}

/// Redis's `streamParseAddOrTrimArgsOrReply`: the options from argument 2
/// on, up to XADD's ID. Replies and answers None on an error.
fn parse_add_or_trim(ctx: &mut Ctx, xadd: bool) -> Option<Parsed> {
    let args = ctx.args;
    let argc = args.len();
    let mut p = Parsed::default();
    let mut i = 2;
    while i < argc {
        let more = argc - 1 - i;
        let opt = c_str(args.get(i));
        let strategy = opt.eq_ignore_ascii_case(b"maxlen") || opt.eq_ignore_ascii_case(b"minid");
        if xadd && opt == b"*" {
            p.id = Some((NewId::Auto, i));
            break;
        } else if strategy && more > 0 {
            if p.trim.is_some() {
                ctx.error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
                return None;
            }
            let mut approx = false;
            let next = c_str(args.get(i + 1));
            if more >= 2 && (next == b"~" || next == b"=") {
                approx = next == b"~";
                i += 1;
            }
            let arg = args.get(i + 1);
            let how = if opt.eq_ignore_ascii_case(b"maxlen") {
                let Some(n) = parse_int(arg) else {
                    ctx.not_integer();
                    return None;
                };
                if n < 0 {
                    ctx.error("ERR The MAXLEN argument must be >= 0.");
                    return None;
                }
                Trim::MaxLen(n as u64)
            } else {
                let Some(id) = StreamId::parse(arg, 0) else {
                    ctx.error(INVALID_ID);
                    return None;
                };
                Trim::MinId(id)
            };
            i += 1;
            p.trim = Some((how, approx));
        } else if opt.eq_ignore_ascii_case(b"limit") && more > 0 {
            let Some(n) = parse_int(args.get(i + 1)) else {
                ctx.not_integer();
                return None;
            };
            if n < 0 {
                ctx.error("ERR The LIMIT argument must be >= 0.");
                return None;
            }
            p.limit = Some(n as u64);
            i += 1;
        } else if xadd && opt.eq_ignore_ascii_case(b"nomkstream") {
            p.no_mkstream = true;
        } else if xadd {
            let Some(id) = parse_new_id(args.get(i)) else {
                ctx.error(INVALID_ID);
                return None;
            };
            p.id = Some((id, i));
            break;
        } else {
            ctx.syntax_error();
            return None;
        }
        i += 1;
    }
    if p.limit.is_some_and(|l| l != 0) && p.trim.is_none() {
        ctx.error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return None;
    }
    if !xadd && p.trim.is_none() {
        ctx.error("ERR syntax error, XTRIM must be called with a trimming strategy");
        return None;
    }
    if p.limit.is_some() && !p.trim.is_some_and(|(_, approx)| approx) {
        ctx.error("ERR syntax error, LIMIT cannot be used without the special ~ option");
        return None;
    }
    Some(p)
}

/// The trimming Redis applies: `~` without LIMIT is bounded by 100 nodes'
/// worth of entries; exact trimming never is.
fn trim_spec(p: &Parsed) -> Option<TrimSpec> {
    let (how, approx) = p.trim?;
    let limit = match p.limit {
        Some(l) => l,
        None if approx => 100 * NODE_MAX_ENTRIES,
        None => 0,
    };
    Some(TrimSpec { how, approx, limit })
}

/// XADD's ID argument: `ms-seq`, `ms`, or `ms-*`.
fn parse_new_id(arg: &[u8]) -> Option<NewId> {
    let s = c_str(arg);
    if arg.len() <= 127 {
        if let Some(ms) = s.strip_suffix(b"-*") {
            // `ms-*` only when that `-` is the first one.
            if !ms.contains(&b'-') {
                return StreamId::parse(ms, 0).map(|id| NewId::Seq(id.ms));
            }
        }
    }
    StreamId::parse(arg, 0).map(NewId::Exact)
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
fn xadd(ctx: &mut Ctx) {
    let Some(p) = parse_add_or_trim(ctx, true) else {
        return;
    };
    let argc = ctx.args.len();
    let field_pos = p.id.map_or(argc + 1, |(_, i)| i + 1);
    if field_pos > argc || argc - field_pos < 2 || (argc - field_pos) % 2 == 1 {
        return ctx.arity_error("xadd");
    }
    let Some((id, _)) = p.id else {
        return ctx.arity_error("xadd");
    };
    if id == NewId::Exact(StreamId::MIN) {
        return ctx.error("ERR The ID specified in XADD must be greater than 0-0");
    }
    let trim = trim_spec(&p);
    let args = ctx.args;
    key_op(ctx, |a, key| {
        StreamOp::Add {
            key,
            no_mkstream: p.no_mkstream,
            id,
            trim,
            pairs: a.list(args.iter_from(field_pos)),
        }
        .into()
    });
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
fn xtrim(ctx: &mut Ctx) {
    let Some(p) = parse_add_or_trim(ctx, false) else {
        return;
    };
    let Some(trim) = trim_spec(&p) else {
        return ctx.syntax_error();
    };
    key_op(ctx, |_, key| StreamOp::Trim { key, trim }.into());
}

fn xlen(ctx: &mut Ctx) {
    key_op(ctx, |_, key| StreamOp::Len { key }.into());
}

/// One end of a range: `-`, `+`, an ID, or `(id` (exclusive).
fn parse_interval(arg: &[u8], missing_seq: u64) -> Option<(StreamId, bool)> {
    if arg.len() > 1 && arg[0] == b'(' {
        return StreamId::parse(&arg[1..], missing_seq).map(|id| (id, true));
    }
    StreamId::parse_bound(arg, missing_seq).map(|id| (id, false))
}

fn xrange(ctx: &mut Ctx) {
    range(ctx, false);
}

fn xrevrange(ctx: &mut Ctx) {
    range(ctx, true);
}

/// XRANGE key start end [COUNT n] / XREVRANGE key end start [COUNT n]
fn range(ctx: &mut Ctx, rev: bool) {
    let args = ctx.args;
    let (start, end) = if rev {
        (args.get(3), args.get(2))
    } else {
        (args.get(2), args.get(3))
    };
    let Some((mut from, ex)) = parse_interval(start, 0) else {
        return ctx.error(INVALID_ID);
    };
    if ex {
        match from.next() {
            Some(n) => from = n,
            None => return ctx.error("ERR invalid start ID for the interval"),
        }
    }
    let Some((mut to, ex)) = parse_interval(end, u64::MAX) else {
        return ctx.error(INVALID_ID);
    };
    if ex {
        match to.prev() {
            Some(p) => to = p,
            None => return ctx.error("ERR invalid end ID for the interval"),
        }
    }
    let mut count = None;
    let mut j = 4;
    while j < args.len() {
        if c_str(args.get(j)).eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
            let Some(n) = parse_int(args.get(j + 1)) else {
                return ctx.not_integer();
            };
            count = Some(n.max(0) as u64);
            j += 2;
        } else {
            return ctx.syntax_error();
        }
    }
    key_op(ctx, |_, key| {
        StreamOp::Range {
            key,
            from,
            to,
            count,
            rev,
        }
        .into()
    });
}

/// XDEL key id [id ...]: the IDs are read after the look-up, as in Redis.
fn xdel(ctx: &mut Ctx) {
    let args = ctx.args;
    key_op(ctx, |a, key| {
        StreamOp::Del {
            key,
            ids: a.list(args.iter_from(2)),
        }
        .into()
    });
}

/// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]
fn xsetid(ctx: &mut Ctx) {
    let args = ctx.args;
    let Some(last) = StreamId::parse(args.get(2), 0) else {
        return ctx.error(INVALID_ID);
    };
    let (mut added, mut max_deleted) = (None, None);
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = c_str(args.get(i));
        if opt.eq_ignore_ascii_case(b"entriesadded") && more > 0 {
            let Some(n) = parse_int(args.get(i + 1)) else {
                return ctx.not_integer();
            };
            if n < 0 {
                return ctx.error("ERR entries_added must be positive");
            }
            added = Some(n as u64);
        } else if opt.eq_ignore_ascii_case(b"maxdeletedid") && more > 0 {
            let Some(id) = StreamId::parse(args.get(i + 1), 0) else {
                return ctx.error(INVALID_ID);
            };
            if last < id {
                return ctx.error(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                );
            }
            // Redis keeps the current one when given 0-0.
            max_deleted = (id != StreamId::MIN).then_some(id);
        } else {
            return ctx.syntax_error();
        }
        i += 2;
    }
    key_op(ctx, |_, key| {
        StreamOp::SetId {
            key,
            last,
            added,
            max_deleted,
        }
        .into()
    });
}

/// The stream commands.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("xadd", -5, xadd)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "update"], Begin::Index(1), Find::Range(0, 1, 0))
            .note("UPDATE instead of INSERT because of the optional trimming feature")])
        .acl(&["write", "stream", "fast"])
        .tips(&["nondeterministic_output"])
        .doc("stream", "5.0.0", "Appends a new entry to a stream", "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted."),
    Command::new("xlen", 2, xlen)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "stream", "fast"])
        .doc("stream", "5.0.0", "Return the number of entries in a stream", "O(1)"),
    Command::new("xrange", -4, xrange)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "stream", "slow"])
        .doc("stream", "5.0.0", "Return a range of elements in a stream, with IDs matching the specified IDs interval", "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1)."),
    Command::new("xrevrange", -4, xrevrange)
        .flags(READONLY)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "stream", "slow"])
        .doc("stream", "5.0.0", "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE", "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1)."),
    Command::new("xdel", -3, xdel)
        .flags(WRITE | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "stream", "fast"])
        .doc("stream", "5.0.0", "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.", "O(1) for each single item to delete in the stream, regardless of the stream size."),
    Command::new("xtrim", -4, xtrim)
        .flags(WRITE)
        .keys(1, 1, 1, &[ks(&["RW", "delete"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "stream", "slow"])
        .tips(&["nondeterministic_output"])
        .doc("stream", "5.0.0", "Trims the stream to (approximately if '~' is passed) a certain size", "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation."),
    Command::new("xsetid", -3, xsetid)
        .flags(WRITE | DENYOOM | FAST)
        .keys(1, 1, 1, &[ks(&["RW", "update"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["write", "stream", "fast"])
        .doc("stream", "5.0.0", "An internal command for replicating stream values", "O(1)"),
    Command::new("xread", -4, xread)
    .section(super::blocking::always)
    .flags(READONLY | BLOCKING | MOVABLEKEYS)
    .keys(0, 0, 0, &[ks(&["RO", "access"], Begin::Keyword("STREAMS", 1), Find::Range(-1, 1, 2))])
    .acl(&["read", "stream", "slow", "blocking"])
    .doc("stream", "5.0.0", "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.", "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is not used, the command is synchronous and can be considered to be O(1)."),
];

/// XREAD's BLOCK argument (Redis's `getTimeoutFromObjectOrReply` in
/// milliseconds): the deadline (0: none), or the error replied.
pub(super) fn block_deadline(ctx: &mut Ctx, arg: &[u8]) -> Option<u64> {
    let Some(ms) = parse_int(arg) else {
        ctx.error("ERR timeout is not an integer or out of range");
        return None;
    };
    if ms < 0 {
        ctx.error("ERR timeout is negative");
        return None;
    }
    if ms == 0 {
        return Some(0);
    }
    Some(ctx.now_ms.saturating_add(ms as u64))
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
///
/// Runs as a section holding the keys' shards: one read of each key (its
/// type checked and `$` resolved to the stream's last ID, in argument
/// order as Redis does), then the reply when some key has entries after
/// its ID, or, with BLOCK, a registration on every shard with the resolved
/// IDs, made while the shards are still held so no XADD falls in between.
/// An XADD that gives a key an entry after its ID serves the client with
/// that key's entries (`ops::block::serve_ready`).
fn xread(ctx: &mut Ctx) {
    let args = ctx.args;
    let argc = args.len();
    let (mut count, mut block, mut streams_at) = (0u64, None, 0usize);
    let mut i = 1;
    while i < argc {
        let more = argc - i - 1;
        let o = c_str(args.get(i));
        if o.eq_ignore_ascii_case(b"block") && more > 0 {
            // A script's commands run `executing` outside a transaction.
            if ctx.session.executing && !ctx.router.in_txn() {
                return ctx
                    .error("ERR XREAD command is not allowed with BLOCK option from scripts");
            }
            i += 1;
            let Some(d) = block_deadline(ctx, args.get(i)) else {
                return;
            };
            block = Some(d);
        } else if o.eq_ignore_ascii_case(b"count") && more > 0 {
            i += 1;
            let Some(n) = parse_int(args.get(i)) else {
                return ctx.not_integer();
            };
            count = n.max(0) as u64;
        } else if o.eq_ignore_ascii_case(b"streams") && more > 0 {
            streams_at = i + 1;
            if (argc - streams_at) % 2 != 0 {
                return ctx.error("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
            }
            break;
        } else if o.eq_ignore_ascii_case(b"group") && more >= 2 {
            return ctx.error(
                "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
            );
        } else if o.eq_ignore_ascii_case(b"noack") {
            return ctx.error(
                "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
            );
        } else {
            return ctx.syntax_error();
        }
        i += 1;
    }
    if streams_at == 0 {
        return ctx.syntax_error();
    }
    let n = (argc - streams_at) / 2;
    let keys: Vec<&[u8]> = (0..n).map(|k| args.get(streams_at + k)).collect();
    // The IDs, up to the first bad one: Redis checks key k's type before
    // it parses ID k, so that key's type still counts.
    let mut ids: Vec<Option<StreamId>> = Vec::with_capacity(n);
    let mut bad: Option<&str> = None;
    for k in 0..n {
        let a = args.get(streams_at + n + k);
        if a == b"$" {
            ids.push(None);
        } else if a == b">" {
            bad = Some("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
            break;
        } else if let Some(id) = StreamId::parse(a, 0) {
            ids.push(Some(id));
        } else {
            bad = Some(INVALID_ID);
            break;
        }
    }
    let checked = if bad.is_some() { ids.len() + 1 } else { n };
    let deadline = super::blocking::kept_deadline(ctx, block.unwrap_or(0));
    let db = ctx.session.db;
    let mut shards: Vec<usize> = keys[..checked]
        .iter()
        .map(|k| ctx.router.shard_of(k))
        .collect();
    shards.sort_unstable();
    shards.dedup();
    for s in &shards {
        ctx.router.hold(*s);
    }
    let refs: Vec<_> = (0..checked)
        .map(|k| {
            let s = ctx.router.shard_of(keys[k]);
            let after = if k < ids.len() {
                ids[k]
            } else {
                Some(StreamId::MIN)
            };
            let key = keys[k];
            ctx.router.step_op(s, db, |a| {
                StreamOp::Read {
                    key: a.push(key),
                    after,
                    count,
                }
                .into()
            })
        })
        .collect();
    ctx.router.exchange();
    let resp3 = ctx.resp3();
    let mut served = Vec::new();
    let mut found = 0;
    let mut after = Vec::with_capacity(n);
    for (k, r) in refs.iter().enumerate() {
        let (b, reply) = ctx.router.reply_of(*r);
        match reply {
            shards::Reply::Err(e) => return ctx.error(&crate::errors::text(e)),
            _ if k >= ids.len() => {}
            shards::Reply::Bulk(s) => {
                let id = StreamId::parse(b.payload(*s), 0).unwrap_or(StreamId::MAX);
                after.push((keys[k].to_vec(), id));
            }
            reply => {
                found += 1;
                let mut one = Vec::new();
                crate::exchange::encode_reply(&mut one, b, reply, resp3);
                // RESP3 answers a map: the `[key, entries]` pair unwrapped.
                let skip = if resp3 { b"*2\r\n".len() } else { 0 };
                served.extend_from_slice(one.get(skip..).unwrap_or_default());
            }
        }
    }
    if let Some(e) = bad {
        return ctx.error(e);
    }
    if found > 0 {
        return ctx.reply(|o| {
            if resp3 {
                crate::resp::encode::map(o, found, true);
            } else {
                crate::resp::encode::array(o, found);
            }
            o.extend_from_slice(&served);
        });
    }
    let want = Want::Stream { after, count };
    let waiter = match block {
        Some(_) => super::blocking::waiter(ctx, &want),
        None => None,
    };
    let Some(w) = waiter else {
        return ctx.reply(|o| crate::resp::encode::null_array(o, resp3));
    };
    for s in &shards {
        let mine: Vec<&[u8]> = keys
            .iter()
            .copied()
            .filter(|k| ctx.router.shard_of(k) == *s)
            .collect();
        ctx.router.step_op(*s, db, |a| {
            BlockOp::Register {
                keys: a.list(mine),
                waiter: w.clone(),
            }
            .into()
        });
    }
    ctx.router.exchange();
    let shards = shards.iter().map(|&s| s as u16).collect();
    super::blocking::enter(ctx, &w, Shape::Stream, deadline, shards);
}
