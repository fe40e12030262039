//! Bitmap commands that work on whole strings or several fields at once:
//! BITOP, BITFIELD and BITFIELD_RO (Redis's `bitops.c`). The single-bit
//! commands (GETBIT, SETBIT, BITCOUNT, BITPOS) live with the strings.

use super::spec::{flags::*, ks, Begin, Command, Find};
use super::{c_str, parse_int, Ctx};
use crate::exchange::{Merge, Router};
use crate::resp::Args;
use shards::batch::BIG_ARG;
use shards::ops::string::{
    bit_op_fold, pack_bitfield, BitOpKind, FieldAction, FieldOp, Overflow, StrOp,
};
use shards::Reply;
use std::sync::Arc;

/// BITOP's operation name as Redis compares it (`strcasecmp`, so up to a
/// NUL byte); None for any other word.
fn bit_op_kind(arg: &[u8]) -> Option<BitOpKind> {
    let name = c_str(arg);
    let is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
    if is("and") {
        Some(BitOpKind::And)
    } else if is("or") {
        Some(BitOpKind::Or)
    } else if is("xor") {
        Some(BitOpKind::Xor)
    } else if is("not") {
        Some(BitOpKind::Not)
    } else {
        None
    }
}

/// BITOP needs a section when its keys (destination and sources) live on
/// several shards. One that fails its argument checks is answered at once.
fn bitop_spans_shards(args: &Args, router: &Router) -> bool {
    let valid = match bit_op_kind(args.get(1)) {
        None => false,
        Some(BitOpKind::Not) => args.len() == 4,
        Some(_) => true,
    };
    let first = router.shard_of(args.get(2));
    valid && args.iter_from(3).any(|k| router.shard_of(k) != first)
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...], after Redis's `bitopCommand`:
/// the operation, then NOT's single source, are checked before any key is
/// read. Keys on one shard: one op reads, computes and writes there. On
/// several: a section holds every shard involved, reads the sources, the
/// worker computes the result, and the destination's shard stores it; no
/// other command runs on those shards in between.
fn bitop(ctx: &mut Ctx) {
    let Some(op) = bit_op_kind(ctx.args.get(1)) else {
        ctx.syntax_error();
        return;
    };
    if op == BitOpKind::Not && ctx.args.len() != 4 {
        ctx.error("ERR BITOP NOT must be called with a single source key.");
        return;
    }
    let db = ctx.session.db;
    let dest = ctx.args.get(2);
    let home = ctx.router.shard_of(dest);
    if ctx
        .args
        .iter_from(3)
        .all(|k| ctx.router.shard_of(k) == home)
    {
        let args = ctx.args;
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.shard_op(home, db, |a| {
            StrOp::BitOp {
                op,
                dest: a.push(dest),
                keys: a.list(args.iter_from(3)),
            }
            .into()
        });
        return;
    }
    ctx.router.hold(home);
    for k in ctx.args.iter_from(3) {
        let s = ctx.router.shard_of(k);
        ctx.router.hold(s);
    }
    // The sources are read as GET reads them (`lookupKeyRead`, WRONGTYPE
    // for another type), in argument order.
    let reads: Vec<_> = ctx
        .args
        .iter_from(3)
        .map(|k| {
            let s = ctx.router.shard_of(k);
            ctx.router
                .step_op(s, db, |a| StrOp::Get { key: a.push(k) }.into())
        })
        .collect();
    ctx.router.exchange();
    let mut result = Vec::new();
    for (i, r) in reads.into_iter().enumerate() {
        let src = match ctx.router.reply_of(r) {
            (b, Reply::Bulk(span)) => b.payload(*span),
            (_, Reply::Err(e)) => {
                let msg = crate::errors::text(e);
                ctx.error(&msg);
                return;
            }
            _ => &[][..],
        };
        bit_op_fold(op, &mut result, 0, i == 0, src);
    }
    let store = ctx.router.step_op(home, db, |a| {
        let value = if result.len() >= BIG_ARG {
            a.push_shared(Arc::new(result))
        } else {
            a.push(&result)
        };
        StrOp::BitOpStore {
            dest: a.push(dest),
            value,
        }
        .into()
    });
    ctx.router.exchange();
    match ctx.router.reply_of(store).1.clone() {
        Reply::Int(n) => ctx.reply(|out| crate::resp::encode::int(out, n)),
        Reply::Err(e) => ctx.error(&crate::errors::text(&e)),
        other => {
            let msg = format!("ERR unexpected reply {other:?}");
            ctx.error(&msg);
        }
    }
}

const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// Redis's `getBitfieldTypeFromArgument`: `i1`..`i64` or `u1`..`u63`, read
/// as C reads it (up to a NUL byte); (signed, bits).
fn field_type(arg: &[u8]) -> Option<(bool, u8)> {
    let t = c_str(arg);
    let signed = match t.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return None,
    };
    let bits = parse_int(&t[1..])?;
    let max = if signed { 64 } else { 63 };
    (1..=max).contains(&bits).then_some((signed, bits as u8))
}

/// Redis's `getBitOffsetFromArgument` for BITFIELD: an integer, or `#N`
/// for N fields of this width (multiplied as Redis multiplies, wrapping on
/// overflow), whose byte lies below `max_bulk`.
fn field_offset(arg: &[u8], bits: u8, max_bulk: u64) -> Option<u64> {
    let (hash, digits) = match arg.split_first() {
        Some((b'#', rest)) => (true, rest),
        _ => (false, arg),
    };
    let mut v = parse_int(digits)?;
    if hash {
        v = v.wrapping_mul(i64::from(bits));
    }
    (v >= 0 && ((v >> 3) as u64) < max_bulk).then_some(v as u64)
}

/// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type
/// offset increment] [OVERFLOW WRAP|SAT|FAIL] ...
fn bitfield(ctx: &mut Ctx) {
    bitfield_generic(ctx, false);
}

/// BITFIELD_RO key [GET type offset ...]
fn bitfield_ro(ctx: &mut Ctx) {
    bitfield_generic(ctx, true);
}

/// Redis's `bitfieldGeneric`: every subcommand is parsed and checked, in
/// order, before the key is looked up; BITFIELD_RO refuses a SET or INCRBY
/// only once all of them parsed.
fn bitfield_generic(ctx: &mut Ctx, read_only: bool) {
    let n = ctx.args.len();
    let max_bulk = ctx.shared.config.proto_max_bulk_len;
    let mut ops: Vec<FieldOp> = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < n {
        let rest = n - j - 1;
        let sub = c_str(ctx.args.get(j));
        let is = |s: &str| sub.eq_ignore_ascii_case(s.as_bytes());
        // 0: GET, 1: SET, 2: INCRBY.
        let which = if is("get") && rest >= 2 {
            0
        } else if is("set") && rest >= 3 {
            1
        } else if is("incrby") && rest >= 3 {
            2
        } else if is("overflow") && rest >= 1 {
            let name = c_str(ctx.args.get(j + 1));
            let is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
            overflow = if is("wrap") {
                Overflow::Wrap
            } else if is("sat") {
                Overflow::Sat
            } else if is("fail") {
                Overflow::Fail
            } else {
                ctx.error("ERR Invalid OVERFLOW type specified");
                return;
            };
            j += 2;
            continue;
        } else {
            ctx.syntax_error();
            return;
        };
        let Some((signed, bits)) = field_type(ctx.args.get(j + 1)) else {
            ctx.error(BAD_TYPE);
            return;
        };
        let Some(offset) = field_offset(ctx.args.get(j + 2), bits, max_bulk) else {
            ctx.error(BAD_OFFSET);
            return;
        };
        let action = if which == 0 {
            FieldAction::Get
        } else {
            let Some(v) = parse_int(ctx.args.get(j + 3)) else {
                ctx.not_integer();
                return;
            };
            if which == 1 {
                FieldAction::Set(v)
            } else {
                FieldAction::IncrBy(v)
            }
        };
        ops.push(FieldOp {
            action,
            signed,
            bits,
            offset,
            overflow,
        });
        j += if which == 0 { 3 } else { 4 };
    }
    let write = ops.iter().any(FieldOp::writes);
    if write && read_only {
        ctx.error("ERR BITFIELD_RO only supports the GET subcommand");
        return;
    }
    let mut packed = Vec::new();
    pack_bitfield(&ops, &mut packed);
    ctx.router.begin(ctx.conn, Merge::One);
    ctx.router
        .key_op(ctx.session.db, ctx.args.get(1), |a, key| {
            StrOp::BitField {
                key,
                ops: a.push(&packed),
                write,
            }
            .into()
        });
}

/// BITOP, BITFIELD, BITFIELD_RO.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("bitop", -4, bitop)
        .section(bitop_spans_shards)
        .flags(WRITE | DENYOOM)
        .keys(2, -1, 1, &[ks(&["OW", "update"], Begin::Index(2), Find::Range(0, 1, 0)), ks(&["RO", "access"], Begin::Index(3), Find::Range(-1, 1, 0))])
        .acl(&["write", "bitmap", "slow"])
        .doc("bitmap", "2.6.0", "Perform bitwise operations between strings", "O(N)"),
    Command::new("bitfield", -2, bitfield)
        .flags(WRITE | DENYOOM)
        .keys(1, 1, 1, &[ks(&["RW", "access", "update", "variable_flags"], Begin::Index(1), Find::Range(0, 1, 0)).note("This command allows both access and modification of the key")])
        .acl(&["write", "bitmap", "slow"])
        .doc("bitmap", "3.2.0", "Perform arbitrary bitfield integer operations on strings", "O(1) for each subcommand specified"),
    Command::new("bitfield_ro", -2, bitfield_ro)
        .flags(READONLY | FAST)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0))])
        .acl(&["read", "bitmap", "fast"])
        .doc("bitmap", "6.0.0", "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD", "O(1) for each subcommand specified"),
];
