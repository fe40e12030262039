//! Bit ops on string values: GETBIT, SETBIT, BITCOUNT, BITPOS, after Redis
//! 7.0's `bitops.c`.
//!
//! Reads work on the stored bytes in place; SETBIT flips one bit of the
//! entry's own block (growing it with zero bytes when the offset lies past
//! the end), so no op copies a value. A SETBIT that changed the value logs
//! the resulting `SET key value [PXAT ms]`, as every read-modify-write does.
//!
//! Bits are numbered from the most significant bit of the first byte: bit 0
//! is `0x80` of byte 0, bit 8 is `0x80` of byte 1.

use crate::aof::Log;
use crate::batch::{bit_flags, errors, Batch, Op, Reply};
use crate::keyspace::Store;

/// GETBIT key offset (a read look-up: an absent key reads as zeros).
pub fn get_bit(store: &mut Store, batch: &Batch, op: &Op, now_ms: u64) -> Reply {
    let Some(v) = store.get(op.db as usize, batch.arg(op, 0), now_ms) else {
        return Reply::Int(0);
    };
    Reply::Int(bit_at(v, op.num) as i64)
}

/// SETBIT key offset bit; the worker checked the offset (< 2^32, so the value
/// stays within 512 MB) and the bit.
pub fn set_bit(store: &mut Store, batch: &Batch, op: &Op, now_ms: u64, log: &mut Log) -> Reply {
    if store.make_room().is_err() {
        return Reply::Err(errors::OOM);
    }
    let key = batch.arg(op, 0);
    let byte = (op.num >> 3) as usize;
    let mask = 0x80u8 >> (op.num & 7);
    let on = op.flags & 1 != 0;
    let (value, expire_at, grown) =
        match store.value_for_update(op.db as usize, key, byte + 1, now_ms) {
            Ok(v) => v,
            Err(_) => return Reply::Err(errors::OOM),
        };
    let old = value[byte] & mask != 0;
    // As Redis: a new or grown value, or a flipped bit, is a change.
    if grown || old != on {
        if on {
            value[byte] |= mask;
        } else {
            value[byte] &= !mask;
        }
        log.set(op.db, key, value, expire_at);
        store.signal_modified(op.db as usize, key);
    }
    Reply::Int(old as i64)
}

/// BITCOUNT key [start end [BYTE|BIT]].
pub fn bit_count(store: &mut Store, batch: &Batch, op: &Op, now_ms: u64) -> Reply {
    let Some(v) = store.get(op.db as usize, batch.arg(op, 0), now_ms) else {
        return Reply::Int(0);
    };
    if let Some(e) = deferred_error(op.flags) {
        return e;
    }
    if op.flags & bit_flags::RANGE == 0 {
        return Reply::Int(popcount(v) as i64);
    }
    let bits = op.flags & bit_flags::BIT_UNIT != 0;
    let (start, end) = (op.num as i64, op.aux as i64);
    if start < 0 && end < 0 && start > end {
        return Reply::Int(0);
    }
    let len = v.len() as i64 * if bits { 8 } else { 1 };
    let Some((start, end)) = clamp(start, end, len) else {
        return Reply::Int(0);
    };
    let count = if bits {
        count_bits(v, start as u64, end as u64)
    } else {
        popcount(&v[start as usize..=end as usize])
    };
    Reply::Int(count as i64)
}

/// BITPOS key bit [start [end [BYTE|BIT]]].
///
/// Redis treats a string as zero-padded on the right when no end is given,
/// so looking for a 0 in a value of all ones answers the first bit past the
/// end (`strlen * 8`); with an explicit end the same search answers -1.
pub fn bit_pos(store: &mut Store, batch: &Batch, op: &Op, now_ms: u64) -> Reply {
    let f = op.flags;
    let one = f & bit_flags::ONE != 0;
    let Some(v) = store.get(op.db as usize, batch.arg(op, 0), now_ms) else {
        // An absent key is an endless run of zeros.
        return Reply::Int(if one { -1 } else { 0 });
    };
    if let Some(e) = deferred_error(f) {
        return e;
    }
    let bits = f & bit_flags::BIT_UNIT != 0;
    let end_given = f & bit_flags::END != 0;
    let len = v.len() as i64 * if bits { 8 } else { 1 };
    let (start, end) = match (f & bit_flags::RANGE != 0, end_given) {
        (false, _) => (0, len - 1),
        (true, false) => (op.num as i64, len - 1),
        (true, true) => (op.num as i64, op.aux as i64),
    };
    let Some((start, end)) = clamp(start, end, len) else {
        return Reply::Int(-1);
    };
    // The search runs over bits whatever the unit.
    let (first, last) = if bits {
        (start as u64, end as u64)
    } else {
        (start as u64 * 8, end as u64 * 8 + 7)
    };
    match find_bit(v, first, last, one) {
        Some(pos) => Reply::Int(pos as i64),
        None if one || end_given => Reply::Int(-1),
        None => Reply::Int(last as i64 + 1),
    }
}

fn deferred_error(flags: u8) -> Option<Reply> {
    if flags & bit_flags::ERR_SYNTAX != 0 {
        Some(Reply::Err(errors::SYNTAX))
    } else if flags & bit_flags::ERR_NOT_INTEGER != 0 {
        Some(Reply::Err(errors::NOT_INTEGER))
    } else {
        None
    }
}

/// Redis's index rules for a range over `len` units: negative indexes count
/// from the end, both ends are clamped into the value; None when empty.
fn clamp(mut start: i64, mut end: i64, len: i64) -> Option<(i64, i64)> {
    // `len` is at most 2^32, so adding a negative i64 cannot overflow.
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    (start <= end).then_some((start, end))
}

/// The bit at `offset` (0 past the end).
pub fn bit_at(v: &[u8], offset: u64) -> bool {
    let byte = offset >> 3;
    byte < v.len() as u64 && v[byte as usize] & (0x80 >> (offset & 7)) != 0
}

/// Set bits in `v`, eight bytes at a time.
pub fn popcount(v: &[u8]) -> u64 {
    let mut chunks = v.chunks_exact(8);
    let mut n: u64 = chunks
        .by_ref()
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default()).count_ones() as u64)
        .sum();
    n += chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>();
    n
}

/// Set bits among bits `first..=last` of `v` (both within it).
pub fn count_bits(v: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let head = 0xffu8 >> (first & 7);
    let tail = 0xffu8 << (7 - (last & 7));
    if fb == lb {
        return (v[fb] & head & tail).count_ones() as u64;
    }
    (v[fb] & head).count_ones() as u64
        + popcount(&v[fb + 1..lb])
        + (v[lb] & tail).count_ones() as u64
}

/// The first bit equal to `one` among bits `first..=last` of `v` (both
/// within it), skipping eight bytes at a time where none can match.
pub fn find_bit(v: &[u8], first: u64, last: u64, one: bool) -> Option<u64> {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    // Looking for a 0 is looking for a 1 in the complement.
    let flip = if one { 0 } else { 0xff };
    let masked = |i: usize| {
        let mut b = v[i] ^ flip;
        if i == fb {
            b &= 0xff >> (first & 7);
        }
        if i == lb {
            b &= 0xff << (7 - (last & 7));
        }
        b
    };
    let at = |i: usize, b: u8| Some(i as u64 * 8 + b.leading_zeros() as u64);
    let b = masked(fb);
    if b != 0 {
        return at(fb, b);
    }
    if fb == lb {
        return None;
    }
    let mut i = fb + 1;
    let skip = if one { 0 } else { u64::MAX };
    while i + 8 <= lb {
        let w = u64::from_be_bytes(v[i..i + 8].try_into().unwrap_or_default());
        if w != skip {
            return Some(i as u64 * 8 + (w ^ skip).leading_zeros() as u64);
        }
        i += 8;
    }
    while i <= lb {
        let b = masked(i);
        if b != 0 {
            return at(i, b);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::OpCode;
    use crate::exec::{execute, Persist};
    use crate::Store;

    fn op(b: &mut Batch, code: OpCode, key: &[u8], flags: u8, num: u64, aux: u64) {
        let arg = b.push_arg(key);
        b.push_op(Op {
            code,
            db: 0,
            flags,
            arg,
            nargs: 1,
            num,
            aux,
        });
    }

    fn logging() -> Persist {
        Persist {
            log: Log::new(true),
            aof: None,
        }
    }

    fn log_text(p: &Persist) -> String {
        String::from_utf8_lossy(p.log.pending_bytes()).into_owned()
    }

    #[test]
    fn setbit_grows_with_zeros_keeps_ttl_and_logs_only_changes() {
        let mut store = Store::default();
        let mut p = logging();
        let mut b = Batch::new(0, 0);
        op(&mut b, OpCode::SetBit, b"k", 1, 7, 0);
        op(&mut b, OpCode::SetBit, b"k", 1, 7, 0);
        op(&mut b, OpCode::SetBit, b"k", 0, 7, 0);
        op(&mut b, OpCode::SetBit, b"k", 0, 23, 0);
        op(&mut b, OpCode::GetBit, b"k", 0, 7, 0);
        op(&mut b, OpCode::GetBit, b"k", 0, 1 << 20, 0);
        op(&mut b, OpCode::GetBit, b"none", 0, 0, 0);
        execute(&mut store, &mut b, 1_000, &mut p);
        assert_eq!(b.replies, [0, 1, 1, 0, 0, 0, 0].map(Reply::Int));
        assert_eq!(store.peek(0, b"k", 1_000), Some(&[0u8, 0, 0][..]));
        let text = log_text(&p);
        // Created, unchanged (no record), cleared, grown with a 0 bit.
        assert_eq!(text.matches("SET").count(), 3, "{text:?}");
        assert!(text.contains("$1\r\nk\r\n$1\r\n\x01\r\n"));
        assert!(text.ends_with("$3\r\n\0\0\0\r\n"), "{text:?}");

        // The TTL stays and is logged with the value.
        store
            .set(0, b"t", b"\xff", crate::Expiry::At(9_000), 1_000)
            .unwrap();
        let mut b = Batch::new(0, 0);
        op(&mut b, OpCode::SetBit, b"t", 0, 0, 0);
        execute(&mut store, &mut b, 1_000, &mut p);
        assert_eq!(b.replies, [Reply::Int(1)]);
        assert_eq!(store.expire_at(0, b"t", 1_000), Some(9_000));
        assert!(log_text(&p).ends_with("$1\r\n\x7f\r\n$4\r\nPXAT\r\n$4\r\n9000\r\n"));
    }

    #[test]
    fn setbit_accounts_for_growth_and_reaches_the_last_offset_byte() {
        let mut store = Store::default();
        let before = store.used_memory();
        let mut b = Batch::new(0, 0);
        op(&mut b, OpCode::SetBit, b"k", 1, 8 * 4096 - 1, 0);
        execute(&mut store, &mut b, 0, &mut Persist::off());
        let v = store.peek(0, b"k", 0).unwrap();
        assert_eq!(v.len(), 4096);
        assert_eq!(v[4095], 1);
        assert!(store.used_memory() >= before + 4096);
        store.del(0, b"k", 0);
        assert!(
            store.used_memory() < before + 4096,
            "the grown block is given back"
        );
    }

    #[test]
    fn bitcount_and_bitpos_defer_range_errors_past_the_lookup() {
        use bit_flags as f;
        let mut store = Store::default();
        store
            .set(0, b"k", b"foobar", crate::Expiry::Clear, 0)
            .unwrap();
        store
            .set(0, b"ones", b"\xff\xff\xff", crate::Expiry::Clear, 0)
            .unwrap();
        let mut b = Batch::new(0, 0);
        let neg = |n: i64| n as u64;
        op(&mut b, OpCode::BitCount, b"k", 0, 0, 0);
        op(&mut b, OpCode::BitCount, b"k", f::RANGE, 1, 1);
        op(
            &mut b,
            OpCode::BitCount,
            b"k",
            f::RANGE | f::BIT_UNIT,
            5,
            30,
        );
        op(&mut b, OpCode::BitCount, b"k", f::RANGE, neg(-1), neg(-100));
        op(&mut b, OpCode::BitCount, b"k", f::ERR_SYNTAX, 0, 0);
        op(&mut b, OpCode::BitCount, b"none", f::ERR_SYNTAX, 0, 0);
        op(
            &mut b,
            OpCode::BitCount,
            b"k",
            f::RANGE | f::ERR_NOT_INTEGER,
            0,
            0,
        );
        op(&mut b, OpCode::BitPos, b"ones", 0, 0, 0);
        op(
            &mut b,
            OpCode::BitPos,
            b"ones",
            f::RANGE | f::END,
            0,
            neg(-1),
        );
        op(&mut b, OpCode::BitPos, b"ones", f::ONE | f::RANGE, 1, 0);
        op(&mut b, OpCode::BitPos, b"none", 0, 0, 0);
        op(
            &mut b,
            OpCode::BitPos,
            b"none",
            f::ONE | f::ERR_SYNTAX,
            0,
            0,
        );
        op(
            &mut b,
            OpCode::BitPos,
            b"k",
            f::ONE | f::RANGE | f::END | f::BIT_UNIT,
            7,
            15,
        );
        op(
            &mut b,
            OpCode::BitPos,
            b"k",
            f::ONE | f::ERR_NOT_INTEGER,
            0,
            0,
        );
        execute(&mut store, &mut b, 0, &mut Persist::off());
        let int = Reply::Int;
        assert_eq!(
            b.replies,
            [
                int(26),
                int(6),
                int(17),
                int(0),
                Reply::Err(errors::SYNTAX),
                int(0),
                Reply::Err(errors::NOT_INTEGER),
                int(24),
                int(-1),
                int(8),
                int(0),
                int(-1),
                int(9),
                Reply::Err(errors::NOT_INTEGER),
            ]
        );
        assert!(OpCode::SetBit.is_write());
        assert!(!OpCode::GetBit.is_write() && !OpCode::BitCount.is_write());
        assert!(!OpCode::BitPos.is_write());
    }

    /// The reference: one bit at a time.
    fn naive_find(v: &[u8], first: u64, last: u64, one: bool) -> Option<u64> {
        (first..=last).find(|&i| bit_at(v, i) == one)
    }

    fn naive_count(v: &[u8], first: u64, last: u64) -> u64 {
        (first..=last).filter(|&i| bit_at(v, i)).count() as u64
    }

    #[test]
    fn bit_numbering_is_msb_first() {
        let v = [0b1000_0001u8, 0b0100_0000];
        assert!(bit_at(&v, 0));
        assert!(!bit_at(&v, 1));
        assert!(bit_at(&v, 7));
        assert!(bit_at(&v, 9));
        assert!(!bit_at(&v, 16), "past the end reads 0");
        assert!(!bit_at(&v, u32::MAX as u64));
    }

    #[test]
    fn find_and_count_match_the_naive_scan() {
        // Mixed runs, long zero and one stretches to exercise the word skip.
        let mut v = vec![0u8; 40];
        v.extend([0xffu8; 40]);
        v.extend([0x5a, 0x00, 0x80, 0x01, 0xfe, 0x7f]);
        v.extend([0u8; 19]);
        v.push(0x10);
        let bits = v.len() as u64 * 8;
        for first in (0..bits).step_by(13).chain([0, 1, 7, 8, 319, 320, 321]) {
            for last in (first..bits)
                .step_by(29)
                .chain([first, first + 1, bits - 1])
            {
                if last >= bits {
                    continue;
                }
                for one in [false, true] {
                    assert_eq!(
                        find_bit(&v, first, last, one),
                        naive_find(&v, first, last, one),
                        "find {one} in {first}..={last}"
                    );
                }
                assert_eq!(
                    count_bits(&v, first, last),
                    naive_count(&v, first, last),
                    "count {first}..={last}"
                );
            }
        }
        assert_eq!(popcount(&v), naive_count(&v, 0, bits - 1));
    }

    #[test]
    fn clamp_follows_redis() {
        assert_eq!(clamp(0, -1, 6), Some((0, 5)));
        assert_eq!(clamp(-100, -1, 6), Some((0, 5)));
        assert_eq!(clamp(4, 2, 6), None);
        assert_eq!(clamp(100, 200, 6), None);
        assert_eq!(clamp(0, 100, 6), Some((0, 5)));
        assert_eq!(clamp(0, -1, 0), None);
        assert_eq!(clamp(i64::MIN, i64::MAX, 6), Some((0, 5)));
        assert_eq!(clamp(-1, -1, 48), Some((47, 47)));
    }
}
