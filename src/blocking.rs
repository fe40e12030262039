//! Blocked clients, the worker's side (Redis's `blocked.c`).
//!
//! A blocking command (`commands::blocking`) that finds nothing registers
//! its client on the shards of its keys with one claim flag and leaves a
//! `BlockWait` in the session; its worker then reads nothing more from it
//! until the wait ends. It ends once, for whoever takes the claim first:
//! - a shard that served it posts the outcome to the worker's `Inbox`
//!   (which wakes the worker through its poll);
//! - the worker's timer, at the deadline: a nil reply;
//! - CLIENT UNBLOCK (from any worker), through the same inbox;
//! - the connection closing.
//!
//! The worker then tells the shards to forget the registration. A waiting
//! client costs no CPU: it is a heap entry on its worker and a queue entry
//! on its shards.

use crate::resp::encode;
use mio::Waker;
use shards::keyspace::blocked::{Notify, Outcome, Served};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// How a blocking command answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// BLPOP, BRPOP: `[key, element]`.
    Pop,
    /// BLMPOP: `[key, [element, ...]]`.
    MPop,
    /// BZPOPMIN, BZPOPMAX: `[key, member, score]`.
    ZPop,
    /// BZMPOP: `[key, [[member, score], ...]]`.
    ZMPop,
    /// BLMOVE, BRPOPLPUSH: the element.
    Move,
    /// XREAD: `[[key, [entry, ...]]]` (RESP3: `{key: [entry, ...]}`).
    Stream,
    /// WAIT: the number of replicas that acknowledged (always 0).
    Wait,
}

/// A session's wait.
#[derive(Debug)]
pub struct BlockWait {
    /// Taken by whoever ends the wait.
    pub claim: Arc<AtomicBool>,
    /// Unix ms at which it times out; 0: never.
    pub deadline: u64,
    /// How the command answers.
    pub shape: Shape,
    /// The shards it is registered on.
    pub shards: Vec<u16>,
    /// Its reply is not sent (CLIENT REPLY OFF or SKIP when it ran: Redis
    /// keeps a blocked client's skip until its late reply).
    pub silent: bool,
}

impl BlockWait {
    /// Takes the claim; false when a shard or CLIENT UNBLOCK has it.
    pub fn claim(&self) -> bool {
        self.claim
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// One worker's inbox of ended waits.
#[derive(Debug, Default)]
pub struct Inbox {
    queue: Mutex<Vec<Served>>,
    waker: OnceLock<Arc<Waker>>,
}

impl Notify for Inbox {
    fn post(&self, served: Served) {
        let first = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.push(served);
            q.len() == 1
        };
        // A non-empty inbox already has its wake-up on the way.
        if first {
            if let Some(w) = self.waker.get() {
                let _ = w.wake();
            }
        }
    }
}

/// Every worker's inbox and the count of blocked clients.
#[derive(Debug)]
pub struct Blocking {
    inboxes: Box<[Arc<Inbox>]>,
    /// Clients blocked now (INFO's `blocked_clients`).
    pub clients: AtomicU64,
}

impl Blocking {
    /// Inboxes for `workers` workers.
    pub fn new(workers: usize) -> Blocking {
        Blocking {
            inboxes: (0..workers).map(|_| Arc::default()).collect(),
            clients: AtomicU64::new(0),
        }
    }

    /// Worker `w`'s inbox.
    pub fn inbox(&self, w: usize) -> Arc<Inbox> {
        self.inboxes[w].clone()
    }

    /// Records how worker `w` is woken.
    pub fn set_waker(&self, w: usize, waker: Arc<Waker>) {
        let _ = self.inboxes[w].waker.set(waker);
    }

    /// Moves what was posted to worker `w` into `out`.
    pub fn take(&self, w: usize, out: &mut Vec<Served>) {
        let mut q = self.inboxes[w]
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        out.append(&mut q);
    }
}

/// The reply of a wait that ended without data (timeout, CLIENT UNBLOCK
/// TIMEOUT): a null array, BLMOVE's too (Redis 7.0's
/// `replyToBlockedClientTimedOut`; its non-blocking nil is a null bulk).
pub fn encode_timeout(out: &mut Vec<u8>, shape: Shape, resp3: bool) {
    match shape {
        Shape::Wait => encode::int(out, 0),
        _ => encode::null_array(out, resp3),
    }
}

/// Writes the reply of a served wait in the command's shape.
pub fn encode_outcome(out: &mut Vec<u8>, shape: Shape, outcome: &Outcome, resp3: bool) {
    match outcome {
        Outcome::Items { key, items } => {
            encode::array(out, 2);
            encode::bulk(out, key);
            if shape == Shape::MPop {
                encode::array(out, items.len());
                for e in items {
                    encode::bulk(out, e);
                }
            } else if let Some(e) = items.first() {
                encode::bulk(out, e);
            } else {
                encode::null(out, resp3);
            }
        }
        Outcome::Scored { key, entries } => {
            if shape == Shape::ZMPop {
                encode::array(out, 2);
                encode::bulk(out, key);
                encode::array(out, entries.len());
                for (m, s) in entries {
                    encode::array(out, 2);
                    encode::bulk(out, m);
                    encode::double(out, *s, resp3);
                }
            } else {
                encode::array(out, 1 + 2 * entries.len());
                encode::bulk(out, key);
                for (m, s) in entries {
                    encode::bulk(out, m);
                    encode::double(out, *s, resp3);
                }
            }
        }
        Outcome::Moved(e) => encode::bulk(out, e),
        Outcome::Stream { key, entries } => {
            if resp3 {
                encode::map(out, 1, true);
            } else {
                encode::array(out, 1);
                encode::array(out, 2);
            }
            encode::bulk(out, key);
            encode::array(out, entries.len());
            let mut t = [0u8; 41];
            for (id, packed) in entries {
                encode::array(out, 2);
                encode::bulk(out, id.format(&mut t));
                encode::array(out, shards::value::stream::packed_len(packed));
                for it in shards::value::stream::unpack(packed) {
                    encode::bulk(out, it);
                }
            }
        }
        Outcome::WrongType => encode::error(
            out,
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        Outcome::Failed(msg) => encode::error(out, msg),
        Outcome::Unblocked { error: true } => {
            encode::error(out, "UNBLOCKED client unblocked via CLIENT UNBLOCK")
        }
        Outcome::Unblocked { error: false } | Outcome::Retry => encode_timeout(out, shape, resp3),
    }
}

/// Redis's `getTimeoutFromObjectOrReply` in seconds: the wait in ms (0:
/// forever), or the error text. The value is parsed as `strtold` would
/// (no leading space, nothing after it, no NaN), multiplied by 1000 and
/// cut to an integer as C casts it: out of `long long`'s range is
/// negative there too.
pub fn parse_timeout(arg: &[u8]) -> Result<u64, &'static str> {
    const NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
    let text = std::str::from_utf8(arg).map_err(|_| NOT_FLOAT)?;
    if text.is_empty() || text.starts_with(|c: char| c.is_ascii_whitespace()) {
        return Err(NOT_FLOAT);
    }
    let v = strtold(text).ok_or(NOT_FLOAT)?;
    if v.is_nan() {
        return Err(NOT_FLOAT);
    }
    let ms = v * 1000.0;
    // x86's conversion answers i64::MIN for what does not fit.
    let ms = if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&ms) {
        ms as i64
    } else {
        i64::MIN
    };
    if ms < 0 {
        return Err("ERR timeout is negative");
    }
    Ok(ms as u64)
}

/// What `strtold` reads from the whole of `text`, as an f64, or None where
/// Redis's `string2ld` fails: not a number, or out of `long double`'s range
/// (beyond about 1.19e4932, or a non-zero value under about 3.6e-4951).
/// Hexadecimal (`0x10`, `0x1.8p3`) is accepted as strtold accepts it; a
/// decimal beyond f64's range but within long double's reads as infinity
/// (every use here multiplies it into a timeout that is out of range).
fn strtold(text: &str) -> Option<f64> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let v = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        hex_float(hex)?
    } else {
        let lower = body.to_ascii_lowercase();
        if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
            body.parse::<f64>().ok()?
        } else {
            if !body
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
            {
                return None;
            }
            let v = body.parse::<f64>().ok()?;
            let exp = decimal_exponent(body)?;
            if exp > 4932 || (exp < -4950 && exp != i64::MIN) {
                return None;
            }
            v
        }
    };
    Some(if neg { -v } else { v })
}

/// The power of ten of a decimal's first non-zero digit (`1e3` is 3,
/// `0.05` is -2), i64::MIN for zero; None when the exponent part is not a
/// number.
fn decimal_exponent(body: &str) -> Option<i64> {
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let first = if let Some(i) = int.bytes().position(|c| c != b'0') {
        (int.len() - i) as i64 - 1
    } else if let Some(i) = frac.bytes().position(|c| c != b'0') {
        -(i as i64) - 1
    } else {
        return Some(i64::MIN);
    };
    Some(first.saturating_add(exp))
}

/// A hexadecimal float after its `0x`: digits, an optional fraction and
/// an optional binary exponent (`p3`), at least one digit.
fn hex_float(hex: &str) -> Option<f64> {
    let (digits, exp) = match hex.find(['p', 'P']) {
        Some(i) => (&hex[..i], hex[i + 1..].parse::<i32>().ok()?),
        None => (hex, 0),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_as_redis() {
        assert_eq!(parse_timeout(b"0"), Ok(0));
        assert_eq!(parse_timeout(b"1.5"), Ok(1500));
        assert_eq!(parse_timeout(b"0.0001"), Ok(0));
        assert_eq!(parse_timeout(b"-0.0001"), Ok(0));
        assert_eq!(parse_timeout(b"-1"), Err("ERR timeout is negative"));
        assert_eq!(parse_timeout(b"inf"), Err("ERR timeout is negative"));
        assert_eq!(parse_timeout(b"1e30"), Err("ERR timeout is negative"));
        // As strtold reads them (redis-server 7.0.15 checked by hand).
        assert_eq!(parse_timeout(b"0x10"), Ok(16_000));
        assert_eq!(parse_timeout(b"0X1"), Ok(1000));
        assert_eq!(parse_timeout(b"0x0"), Ok(0));
        assert_eq!(parse_timeout(b"+1"), Ok(1000));
        assert_eq!(parse_timeout(b".5"), Ok(500));
        assert_eq!(parse_timeout(b"1."), Ok(1000));
        assert_eq!(parse_timeout(b"1e-400"), Ok(0));
        assert_eq!(parse_timeout(b"1e309"), Err("ERR timeout is negative"));
        for bad in [
            &b"abc"[..],
            b"",
            b" 1",
            b"1 ",
            b"nan",
            b"1e5000",
            b"-1e5000",
            b"1e-5000",
            b"0x",
            b"0xg",
        ] {
            assert_eq!(
                parse_timeout(bad),
                Err("ERR timeout is not a float or out of range")
            );
        }
    }
}
