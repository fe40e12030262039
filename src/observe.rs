//! What operators watch the server through, server-wide: the slow log,
//! MONITOR's subscribers and CLIENT PAUSE. The workers feed them; the
//! commands (`commands::monitor`, CLIENT PAUSE) read and change them.
//!
//! None of this is on the request path unless it is switched on: a worker
//! looks at `Shared::epoch` once per poll round and only then reloads the
//! switches kept here (see `exchange::Gates`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Arguments a slow log entry keeps (Redis's `SLOWLOG_ENTRY_MAX_ARGC`).
pub const SLOWLOG_MAX_ARGC: usize = 32;
/// Bytes of an argument a slow log entry keeps (`SLOWLOG_ENTRY_MAX_STRING`).
pub const SLOWLOG_MAX_STRING: usize = 128;

/// One slow log entry, in the shape SLOWLOG GET replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowEntry {
    /// Unique and increasing for the server's life (SLOWLOG RESET keeps counting).
    pub id: u64,
    /// Unix seconds when it was logged.
    pub time: u64,
    /// Microseconds.
    pub duration: u64,
    /// The arguments, already cut as Redis cuts them.
    pub args: Vec<Vec<u8>>,
    /// The client's `ip:port`.
    pub addr: String,
    /// The client's name (empty: none).
    pub name: Vec<u8>,
}

/// The slow log: newest first, at most `slowlog-max-len` entries.
#[derive(Debug, Default)]
pub struct Slowlog {
    entries: VecDeque<SlowEntry>,
    next_id: u64,
}

impl Slowlog {
    /// Adds an entry (its id is assigned here), then trims the oldest
    /// beyond `max_len`, as Redis's `slowlogPushEntryIfNeeded` does: a
    /// smaller `slowlog-max-len` takes effect at the next entry.
    pub fn push(&mut self, mut e: SlowEntry, max_len: u64) {
        e.id = self.next_id;
        self.next_id += 1;
        self.entries.push_front(e);
        while self.entries.len() as u64 > max_len {
            self.entries.pop_back();
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets every entry (ids keep counting).
    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// The newest `n` entries, newest first.
    pub fn newest(&self, n: usize) -> impl Iterator<Item = &SlowEntry> {
        self.entries.iter().take(n)
    }
}

/// The arguments of a slow log entry from a command's arguments, cut as
/// Redis's `slowlogCreateEntry` cuts them: at most 32, the last of them
/// then saying how many more there were, and each at most 128 bytes
/// followed by how many more it had.
pub fn slowlog_args<'a>(argc: usize, args: impl Iterator<Item = &'a [u8]>) -> Vec<Vec<u8>> {
    let keep = argc.min(SLOWLOG_MAX_ARGC);
    let mut out = Vec::with_capacity(keep);
    for (j, a) in args.take(keep).enumerate() {
        if keep != argc && j == keep - 1 {
            out.push(format!("... ({} more arguments)", argc - keep + 1).into_bytes());
        } else if a.len() > SLOWLOG_MAX_STRING {
            let mut s = a[..SLOWLOG_MAX_STRING].to_vec();
            s.extend_from_slice(
                format!("... ({} more bytes)", a.len() - SLOWLOG_MAX_STRING).as_bytes(),
            );
            out.push(s);
        } else {
            out.push(a.to_vec());
        }
    }
    out
}

/// Appends `bytes` quoted as Redis's `sdscatrepr` quotes them (MONITOR's
/// arguments): `"..."` with `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b`, and
/// `\xHH` for other bytes that are not printable ASCII.
pub fn repr(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &c in bytes {
        match c {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', c]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[(c >> 4) as usize],
                HEX[(c & 15) as usize],
            ]),
        }
    }
    out.push(b'"');
}

/// Appends one MONITOR line, Redis's `replicationFeedMonitors` format:
/// `+<sec>.<usec> [<db> <addr>] "arg" ...\r\n`.
pub fn monitor_line<'a>(
    out: &mut Vec<u8>,
    unix_us: u64,
    db: u8,
    addr: &str,
    args: impl Iterator<Item = &'a [u8]>,
) {
    use std::io::Write;
    let _ = write!(
        out,
        "+{}.{:06} [{} {}]",
        unix_us / 1_000_000,
        unix_us % 1_000_000,
        db,
        addr
    );
    for a in args {
        out.push(b' ');
        repr(out, a);
    }
    out.extend_from_slice(b"\r\n");
}

/// The connections in MONITOR mode, per worker, and the lines waiting for
/// each worker's monitors.
#[derive(Debug)]
pub struct Monitors {
    /// Monitors attached, all workers together.
    total: AtomicUsize,
    /// Monitors attached per worker.
    per_worker: Box<[AtomicUsize]>,
    /// Lines other workers produced for this worker's monitors.
    inbox: Box<[Mutex<Vec<u8>>]>,
}

impl Monitors {
    /// No monitor, for `workers` workers.
    pub fn new(workers: usize) -> Monitors {
        Monitors {
            total: AtomicUsize::new(0),
            per_worker: (0..workers).map(|_| AtomicUsize::new(0)).collect(),
            inbox: (0..workers).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// True when some connection monitors.
    pub fn any(&self) -> bool {
        self.total.load(Ordering::Relaxed) > 0
    }

    /// A connection of `worker` starts monitoring.
    pub fn attach(&self, worker: usize) {
        if let Some(n) = self.per_worker.get(worker) {
            n.fetch_add(1, Ordering::Relaxed);
            self.total.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A connection of `worker` stops monitoring (RESET, or it closed).
    pub fn detach(&self, worker: usize) {
        if let Some(n) = self.per_worker.get(worker) {
            n.fetch_sub(1, Ordering::Relaxed);
            self.total.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// True when `worker` has monitors.
    pub fn has(&self, worker: usize) -> bool {
        self.per_worker
            .get(worker)
            .is_some_and(|n| n.load(Ordering::Relaxed) > 0)
    }

    /// Queues `lines` for `worker`'s monitors; true when the queue was
    /// empty (the worker must be woken).
    pub fn post(&self, worker: usize, lines: &[u8]) -> bool {
        let Some(inbox) = self.inbox.get(worker) else {
            return false;
        };
        let mut q = inbox.lock().unwrap_or_else(|p| p.into_inner());
        let was_empty = q.is_empty();
        q.extend_from_slice(lines);
        was_empty
    }

    /// Takes the lines queued for `worker`'s monitors (into `out`, emptied first).
    pub fn take(&self, worker: usize, out: &mut Vec<u8>) {
        out.clear();
        if let Some(inbox) = self.inbox.get(worker) {
            let mut q = inbox.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::swap(&mut *q, out);
        }
    }
}

/// Which commands a CLIENT PAUSE holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseKind {
    /// Commands that may write (WRITE).
    Write,
    /// Every command (ALL).
    All,
}

/// A CLIENT PAUSE in force: until when, and what it holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    /// Unix ms when it ends.
    pub end_ms: u64,
    /// What it holds back.
    pub kind: PauseKind,
}

/// The server's CLIENT PAUSE state.
#[derive(Debug, Default)]
pub struct Pauses {
    state: Mutex<Option<Pause>>,
}

impl Pauses {
    /// CLIENT PAUSE: while a pause is in force, its end and kind only grow
    /// (Redis's `pauseClients` keeps the later end and the stricter kind).
    pub fn pause(&self, end_ms: u64, kind: PauseKind, now_ms: u64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *s = Some(match *s {
            Some(p) if p.end_ms > now_ms => Pause {
                end_ms: p.end_ms.max(end_ms),
                kind: p.kind.max(kind),
            },
            _ => Pause { end_ms, kind },
        });
    }

    /// CLIENT UNPAUSE.
    pub fn unpause(&self) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The pause in force at `now_ms`, if any.
    pub fn current(&self, now_ms: u64) -> Option<Pause> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.filter(|p| p.end_ms > now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_quotes_like_sdscatrepr() {
        let mut out = Vec::new();
        repr(&mut out, b"a\x00b\n\r\t\"\\\x07\x08\x7f\xff ~");
        assert_eq!(out, br#""a\x00b\n\r\t\"\\\a\b\x7f\xff ~""#.to_vec());
    }

    #[test]
    fn monitor_line_format() {
        let mut out = Vec::new();
        let args: [&[u8]; 3] = [b"SET", b"k", b"v"];
        monitor_line(
            &mut out,
            1_700_000_000_000_042,
            0,
            "127.0.0.1:5000",
            args.into_iter(),
        );
        assert_eq!(
            out,
            b"+1700000000.000042 [0 127.0.0.1:5000] \"SET\" \"k\" \"v\"\r\n".to_vec()
        );
    }

    #[test]
    fn slowlog_cuts_like_redis() {
        let many: Vec<Vec<u8>> = (0..40).map(|i| format!("a{i}").into_bytes()).collect();
        let got = slowlog_args(40, many.iter().map(|v| v.as_slice()));
        assert_eq!(got.len(), 32);
        assert_eq!(got[30], b"a30");
        assert_eq!(got[31], b"... (9 more arguments)");
        let long = [b'x'; 200];
        let got = slowlog_args(1, std::iter::once(&long[..]));
        let mut want = vec![b'x'; 128];
        want.extend_from_slice(b"... (72 more bytes)");
        assert_eq!(got[0], want);
        let exact = vec![b'y'; 128];
        assert_eq!(slowlog_args(1, std::iter::once(&exact[..]))[0], exact);
    }

    #[test]
    fn slowlog_trims_and_keeps_ids() {
        let mut l = Slowlog::default();
        let e = |d| SlowEntry {
            id: 0,
            time: 0,
            duration: d,
            args: vec![],
            addr: String::new(),
            name: vec![],
        };
        for d in 0..5 {
            l.push(e(d), 3);
        }
        assert_eq!(l.len(), 3);
        let ids: Vec<u64> = l.newest(10).map(|e| e.id).collect();
        assert_eq!(ids, [4, 3, 2]);
        l.reset();
        l.push(e(9), 3);
        assert_eq!(l.newest(1).next().map(|e| e.id), Some(5));
        l.push(e(9), 0);
        assert!(l.is_empty());
    }

    #[test]
    fn pauses_only_grow_while_in_force() {
        let p = Pauses::default();
        p.pause(1000, PauseKind::Write, 0);
        p.pause(500, PauseKind::All, 0);
        assert_eq!(
            p.current(0),
            Some(Pause {
                end_ms: 1000,
                kind: PauseKind::All
            })
        );
        assert_eq!(p.current(1000), None);
        p.pause(1500, PauseKind::Write, 1200);
        assert_eq!(p.current(1200).map(|x| x.kind), Some(PauseKind::Write));
        p.unpause();
        assert_eq!(p.current(0), None);
    }
}
