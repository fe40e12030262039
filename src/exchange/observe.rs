//! What a round records for the operators' views besides replies: which
//! command each reply belongs to (commandstats), MONITOR lines, the
//! arguments the slow log may need, CLIENT NO-TOUCH and CLIENT PAUSE.

use super::{Captured, ConnEvent, Round, Router};
use crate::observe::{SlowEntry, SLOWLOG_MAX_ARGC, SLOWLOG_MAX_STRING};
use crate::resp::Args;

/// The routing state of the command a nested dispatch interrupts (EXEC
/// routes its queued commands from inside its own handler).
#[derive(Clone, Copy, Debug)]
pub struct Outer {
    cmd: u16,
    ran: bool,
    no_touch: bool,
    tracker: Option<shards::tracking::Tracker>,
}

/// Shown instead of an argument a command hides (Redis's `shared.redacted`).
const REDACTED: &[u8] = b"(redacted)";

impl Router {
    /// A command starts being routed: nothing is known of it yet. Returns
    /// the state to restore with `leave` once it is routed.
    #[inline]
    pub fn enter(&mut self) -> Outer {
        let outer = Outer {
            cmd: self.cur_cmd,
            ran: self.cur_ran,
            no_touch: self.no_touch,
            tracker: self.tracker,
        };
        self.cur_cmd = 0;
        self.cur_ran = false;
        self.no_touch = false;
        self.tracker = None;
        if !self.redacted.is_empty() {
            self.redacted.clear();
        }
        outer
    }

    /// The command is routed: back to the one it interrupted, if any.
    #[inline]
    pub fn leave(&mut self, outer: Outer) {
        self.cur_cmd = outer.cmd;
        self.cur_ran = outer.ran;
        self.no_touch = outer.no_touch;
        self.tracker = outer.tracker;
    }

    /// The command being routed is command table row `id`.
    #[inline]
    pub fn set_command(&mut self, id: usize) {
        self.cur_cmd = (id + 1) as u16;
    }

    /// The ops routed from now on come from a CLIENT NO-TOUCH connection
    /// (or not): their look-ups leave the keys' LRU alone.
    #[inline]
    pub fn set_no_touch(&mut self, on: bool) {
        self.no_touch = on;
    }

    /// The ops routed from now on come from a client with CLIENT TRACKING
    /// on (see `shards::tracking`), or not.
    #[inline]
    pub fn set_tracker(&mut self, t: Option<shards::tracking::Tracker>) {
        self.tracker = t;
    }

    /// The ops routed from now on belong to an EXEC's transaction (or
    /// not): blocked clients are served after it, not inside it.
    #[inline]
    pub fn set_txn(&mut self, on: bool) {
        self.txn = on;
    }

    /// True while an EXEC's transaction routes its ops.
    #[inline]
    pub fn in_txn(&self) -> bool {
        self.txn
    }

    /// The ops routed from now on come from a script that may write past
    /// `maxmemory` (or not): they write without making room first.
    #[inline]
    pub fn set_allow_oom(&mut self, on: bool) {
        self.allow_oom = on;
    }

    /// The command must wait for the CLIENT PAUSE in force to end: the
    /// worker holds its connection and dispatches it again then.
    pub fn postpone(&mut self) {
        self.postponed = true;
    }

    /// True (and reset) when the last dispatched command was postponed.
    #[inline]
    pub fn take_postponed(&mut self) -> bool {
        std::mem::take(&mut self.postponed)
    }

    /// Hides argument `i` of the running command from MONITOR and the
    /// slow log (Redis's `redactClientCommandArgument`).
    pub fn redact(&mut self, i: usize) {
        self.redacted.push(i as u32);
    }

    /// Tells the worker that connection `conn` entered or left MONITOR mode.
    pub fn conn_event(&mut self, conn: usize, ev: ConnEvent) {
        self.conn_events.push((conn, ev));
    }

    /// True when a command of this round changed a connection's mode.
    #[inline]
    pub fn has_conn_events(&self) -> bool {
        !self.conn_events.is_empty()
    }

    /// The connections that changed mode, oldest first (emptied).
    pub fn take_conn_events(&mut self) -> Vec<(usize, ConnEvent)> {
        std::mem::take(&mut self.conn_events)
    }

    /// Records what MONITOR and the slow log need of a command that ran:
    /// `args` as it was sent (less what it redacted), its connection, the
    /// database it left selected, its client's address, the index of its
    /// first reply, and whether the slow log may keep it.
    #[allow(clippy::too_many_arguments)]
    pub fn observe_ran(
        &mut self,
        conn: usize,
        args: &Args,
        db: u8,
        addr: &str,
        first_reply: usize,
        monitor: bool,
        slowlog: bool,
    ) {
        let redacted = std::mem::take(&mut self.redacted);
        let arg = |i: usize| -> &[u8] {
            if redacted.contains(&(i as u32)) {
                REDACTED
            } else {
                args.get(i)
            }
        };
        if monitor && self.gates.monitoring {
            crate::observe::monitor_line(
                &mut self.round.feed,
                unix_micros(),
                db,
                addr,
                (0..args.len()).map(arg),
            );
        }
        if slowlog && self.gates.slowlog.is_some() {
            let c = &mut self.round.slow;
            let argc = args.len();
            let kept = argc.min(SLOWLOG_MAX_ARGC);
            // With more than 32 arguments the last kept slot says how many
            // more there were: 31 are kept.
            let store = if kept == argc { kept } else { kept - 1 };
            let first = c.parts.len() as u32;
            for i in 0..store {
                let a = arg(i);
                let take = a.len().min(SLOWLOG_MAX_STRING);
                c.parts
                    .push((c.bytes.len() as u32, take as u32, a.len() as u32));
                c.bytes.extend_from_slice(&a[..take]);
            }
            c.cmds.push(Captured {
                pending: first_reply as u32,
                conn,
                first,
                kept: store as u32,
                argc: argc as u32,
            });
        }
        self.redacted = redacted;
        self.redacted.clear();
    }

    /// Shows a command to MONITOR before it runs, with its client's
    /// address: a script command (EVAL, FCALL, ...), which Redis shows
    /// before the commands its script runs (its row is `skip_monitor`, so
    /// `observe_ran` leaves it alone).
    pub fn monitor_before(&mut self, db: u8, addr: &str, args: &Args) {
        if self.gates.monitoring {
            crate::observe::monitor_line(
                &mut self.round.feed,
                unix_micros(),
                db,
                addr,
                args.iter_from(0),
            );
        }
    }

    /// Records a command a script ran, after it ran (`db` is its database
    /// then: a SELECT shows the one it selected): for MONITOR as `[db lua]`,
    /// and in the slow log with address `?:0` and no name when it took
    /// `micros` or more of the threshold, as Redis records its Lua client's
    /// commands, each with its own duration.
    pub fn observe_script_command(
        &mut self,
        shared: &crate::shared::Shared,
        db: u8,
        args: &Args,
        micros: u64,
        monitor: bool,
        slowlog: bool,
    ) {
        if monitor && self.gates.monitoring {
            crate::observe::monitor_line(
                &mut self.round.feed,
                unix_micros(),
                db,
                "lua",
                args.iter_from(0),
            );
        }
        match self.gates.slowlog {
            Some((threshold, max)) if slowlog && micros >= threshold => {
                let entry = crate::observe::SlowEntry {
                    id: 0,
                    time: shards::clock::unix_ms() / 1000,
                    duration: micros,
                    args: crate::observe::slowlog_args(args.len(), args.iter_from(0)),
                    addr: "?:0".into(),
                    name: Vec::new(),
                };
                let mut log = shared.slowlog.lock().unwrap_or_else(|p| p.into_inner());
                log.push(entry, max);
            }
            _ => {}
        }
    }

    /// The MONITOR lines of the rounds delivered since the last call
    /// (appended to `out`).
    pub fn take_feed(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.feed_out);
    }

    /// True when delivered rounds left MONITOR lines to hand out.
    #[inline]
    pub fn has_feed(&self) -> bool {
        !self.feed_out.is_empty()
    }
}

/// Now, in microseconds since the Unix epoch (MONITOR's timestamps).
fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The slow log entries of the commands of `round` captured before reply
/// `upto`, which took `micros` (the round's duration so far), when that
/// reaches `threshold`; they are removed from the capture either way.
pub(super) fn slow_entries(
    round: &mut Round,
    upto: usize,
    micros: u64,
    threshold: u64,
    mut client: impl FnMut(usize) -> Option<(String, Vec<u8>)>,
) -> Vec<SlowEntry> {
    let c = &mut round.slow;
    let n = c
        .cmds
        .iter()
        .take_while(|x| (x.pending as usize) < upto)
        .count();
    if n == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    if micros >= threshold {
        let time = shards::clock::unix_ms() / 1000;
        for cap in &c.cmds[..n] {
            let mut args = Vec::with_capacity(cap.kept as usize + 1);
            for &(start, take, full) in
                &c.parts[cap.first as usize..(cap.first + cap.kept) as usize]
            {
                let mut a = c.bytes[start as usize..(start + take) as usize].to_vec();
                if full > take {
                    a.extend_from_slice(format!("... ({} more bytes)", full - take).as_bytes());
                }
                args.push(a);
            }
            if cap.kept < cap.argc {
                args.push(format!("... ({} more arguments)", cap.argc - cap.kept).into_bytes());
            }
            let (addr, name) = client(cap.conn).unwrap_or_default();
            out.push(SlowEntry {
                id: 0,
                time,
                duration: micros,
                args,
                addr,
                name,
            });
        }
    }
    c.cmds.drain(..n);
    out
}
