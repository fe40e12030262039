//! The load generator proper: one event loop (mio, edge-triggered epoll)
//! per thread driving that thread's share of the connections.
//!
//! Each connection keeps a reused write buffer, a read buffer scanned in
//! place for replies, and a FIFO of in-flight requests (op type and start
//! time). Closed loop: a connection is topped up to `--pipeline` requests in
//! flight whenever replies arrive. Open loop (`--rate`): requests are issued
//! on each connection's fixed schedule (see [`crate::sched`]), at most
//! `--pipeline` in flight, and latency is measured from the intended send
//! time. A Linux timerfd wakes the loop at the next intended send time with
//! sub-millisecond precision (epoll's own timeout has millisecond
//! granularity).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rand::rngs::SmallRng;

use crate::keys::{self, KeyDist, KeyGen, Ratio, ValueSize, ValueSource};
use crate::resp::{self, KeyFormat, Kind, Value};
use crate::sched::Schedule;
use crate::stats::{self, Failures, Op, OpStats};

/// Everything a run needs, resolved from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub threads: usize,
    pub connections: usize,
    pub pipeline: usize,
    pub requests: Option<u64>,
    pub duration: Option<Duration>,
    pub rate: Option<f64>,
    pub keys: u64,
    pub key_dist: KeyDist,
    pub key_format: KeyFormat,
    pub value_size: ValueSize,
    pub ratio: Ratio,
    pub mget: usize,
    pub ttl: Option<u64>,
    pub prefill: bool,
    pub reconnect: bool,
    pub verify: bool,
    pub timeout: Duration,
    pub seed: u64,
}

/// State shared by all worker threads.
pub struct Shared {
    pub cfg: Config,
    pub values: ValueSource,
    /// `--verify`: key `k` has had a SET acknowledged in this run.
    pub written: Vec<AtomicBool>,
    /// Replies received during the measurement (for the progress line).
    pub completed: AtomicU64,
    /// Errors during the measurement (for the progress line).
    pub errors: AtomicU64,
    /// Replies received during `--prefill`.
    pub prefilled: AtomicU64,
    /// Set when the measurement started (all threads past the barrier).
    pub measuring: AtomicBool,
    /// Set by a thread whose setup failed, so the others stop too.
    pub abort: AtomicBool,
    pub barrier: Barrier,
}

impl Shared {
    pub fn new(cfg: Config) -> Self {
        let written = if cfg.verify {
            (0..cfg.keys).map(|_| AtomicBool::new(false)).collect()
        } else {
            Vec::new()
        };
        Shared {
            values: ValueSource::new(cfg.seed, cfg.value_size.max),
            written,
            completed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            prefilled: AtomicU64::new(0),
            measuring: AtomicBool::new(false),
            abort: AtomicBool::new(false),
            barrier: Barrier::new(cfg.threads),
            cfg,
        }
    }
}

/// One thread's share of the work.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub thread: usize,
    /// Global index of this thread's first connection.
    pub first_conn: usize,
    pub conns: usize,
    /// Requests this thread issues (`--requests` mode).
    pub quota: Option<u64>,
}

/// Splits `total` into `parts` near-equal shares.
pub fn split(total: u64, parts: usize) -> Vec<u64> {
    let parts = parts as u64;
    (0..parts)
        .map(|i| total / parts + u64::from(i < total % parts))
        .collect()
}

/// Plans for `cfg.threads` threads.
pub fn plans(cfg: &Config) -> Vec<Plan> {
    let conns = split(cfg.connections as u64, cfg.threads);
    let mut first = 0;
    let mut out = Vec::new();
    for (t, &c) in conns.iter().enumerate() {
        out.push(Plan {
            thread: t,
            first_conn: first,
            conns: c as usize,
            quota: None,
        });
        first += c as usize;
    }
    if let Some(n) = cfg.requests {
        // Quotas proportional to each thread's connections.
        let per_conn = split(n, cfg.connections);
        for p in &mut out {
            p.quota = Some(per_conn[p.first_conn..p.first_conn + p.conns].iter().sum());
        }
    }
    out
}

/// What one thread measured.
pub struct ThreadResult {
    pub ops: [OpStats; 3],
    /// Open loop: how late requests were sent relative to their intended
    /// send time (microseconds). Large values mean the client itself could
    /// not keep up with --rate.
    pub send_lag: Histogram<u64>,
    pub failures: Failures,
    pub start: Instant,
    pub end: Instant,
}

const TIMER: Token = Token(usize::MAX);
const READ_BUF: usize = 64 * 1024;
const MAX_WAIT: Duration = Duration::from_millis(100);
const PREFILL_PIPELINE: usize = 64;
/// Bit set on a key queued for `--verify` when, at the time the GET was
/// sent, a SET for that key had already been acknowledged.
const ACKED: u64 = 1 << 63;

#[derive(Clone, Copy)]
struct Pending {
    op: Op,
    t0: Instant,
}

struct Conn {
    stream: Option<TcpStream>,
    dead: bool,
    wbuf: Vec<u8>,
    wpos: usize,
    rbuf: Vec<u8>,
    rpos: usize,
    rlen: usize,
    inflight: VecDeque<Pending>,
    /// `--verify`: keys of in-flight requests, in order.
    vkeys: VecDeque<u64>,
    sched: Option<Schedule>,
    next_idx: u64,
}

impl Conn {
    fn new() -> Self {
        Conn {
            stream: None,
            dead: false,
            wbuf: Vec::with_capacity(16 * 1024),
            wpos: 0,
            rbuf: vec![0; READ_BUF],
            rpos: 0,
            rlen: 0,
            inflight: VecDeque::with_capacity(64),
            vkeys: VecDeque::new(),
            sched: None,
            next_idx: 0,
        }
    }
}

/// Per phase settings.
struct Phase {
    prefill: bool,
    remaining: Option<u64>,
    deadline: Option<Instant>,
    pipeline: usize,
    open_loop: bool,
    reconnect: bool,
}

struct Worker<'a> {
    sh: &'a Shared,
    poll: Poll,
    conns: Vec<Conn>,
    rng: SmallRng,
    keygen: KeyGen,
    ops: [OpStats; 3],
    send_lag: Histogram<u64>,
    failures: Failures,
    timer: Option<timer::Timer>,
    timer_armed_for: Option<Instant>,
    phase: Phase,
    inflight: usize,
    stop_issuing: bool,
    last_reply: Instant,
}

/// Runs one worker thread: connect, optionally prefill, wait for the other
/// threads, measure.
pub fn run_thread(sh: &Shared, plan: Plan) -> Result<ThreadResult, String> {
    let setup = Worker::new(sh, plan).and_then(|mut w| {
        if sh.cfg.prefill {
            w.prefill(plan)?;
        }
        Ok(w)
    });
    if setup.is_err() {
        sh.abort.store(true, Ordering::SeqCst);
    }
    sh.barrier.wait();
    let w = setup?;
    if sh.abort.load(Ordering::SeqCst) {
        return Err("another thread failed to start".into());
    }
    sh.measuring.store(true, Ordering::Relaxed);
    w.measure(plan)
}

fn proto_error(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

impl<'a> Worker<'a> {
    fn new(sh: &'a Shared, plan: Plan) -> Result<Self, String> {
        let cfg = &sh.cfg;
        let poll = Poll::new().map_err(|e| format!("creating poll: {e}"))?;
        let seed = keys::mix(cfg.seed ^ (plan.thread as u64).wrapping_mul(0x9e37_79b9));
        let mut w = Worker {
            sh,
            poll,
            conns: (0..plan.conns).map(|_| Conn::new()).collect(),
            rng: keys::rng(seed),
            keygen: KeyGen::new(
                cfg.key_dist,
                cfg.keys,
                plan.thread as u64,
                cfg.threads as u64,
            ),
            ops: [OpStats::new(), OpStats::new(), OpStats::new()],
            send_lag: stats::new_histogram(),
            failures: Failures::default(),
            timer: None,
            timer_armed_for: None,
            phase: Phase {
                prefill: false,
                remaining: None,
                deadline: None,
                pipeline: 1,
                open_loop: false,
                reconnect: false,
            },
            inflight: 0,
            stop_issuing: false,
            last_reply: Instant::now(),
        };
        // Persistent connections are opened up front (also in --reconnect
        // mode when --prefill needs them), so that a server that is not
        // there fails the run at once.
        if !cfg.reconnect || cfg.prefill {
            for i in 0..w.conns.len() {
                w.connect(i)
                    .map_err(|e| format!("connecting to {}: {e}", cfg.addr))?;
            }
        }
        Ok(w)
    }

    fn connect(&mut self, idx: usize) -> io::Result<()> {
        let s = std::net::TcpStream::connect_timeout(&self.sh.cfg.addr, self.sh.cfg.timeout)?;
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        let mut s = TcpStream::from_std(s);
        self.poll.registry().register(
            &mut s,
            Token(idx),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let c = &mut self.conns[idx];
        c.stream = Some(s);
        c.wbuf.clear();
        c.wpos = 0;
        c.rpos = 0;
        c.rlen = 0;
        Ok(())
    }

    fn close(&mut self, idx: usize) {
        if let Some(mut s) = self.conns[idx].stream.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
    }

    fn prefill(&mut self, plan: Plan) -> Result<(), String> {
        let sh = self.sh;
        let cfg = &sh.cfg;
        let t = plan.thread as u64;
        let stride = cfg.threads as u64;
        let count = if cfg.keys > t {
            (cfg.keys - t).div_ceil(stride)
        } else {
            0
        };
        let saved = std::mem::replace(
            &mut self.keygen,
            KeyGen::new(KeyDist::Seq, cfg.keys, t, stride),
        );
        self.phase = Phase {
            prefill: true,
            remaining: Some(count),
            deadline: None,
            pipeline: cfg.pipeline.max(PREFILL_PIPELINE),
            open_loop: false,
            reconnect: false,
        };
        self.run_phase(Instant::now());
        self.keygen = saved;
        if self.conns.iter().all(|c| c.dead) && !self.conns.is_empty() {
            return Err("all connections failed during prefill".into());
        }
        if self.failures.lost > 0 || self.failures.io > 0 {
            self.failures.prefill += self.failures.lost + self.failures.io;
            self.failures.lost = 0;
            self.failures.io = 0;
        }
        if self.sh.cfg.reconnect {
            for i in 0..self.conns.len() {
                self.close(i);
            }
        }
        Ok(())
    }

    fn measure(mut self, plan: Plan) -> Result<ThreadResult, String> {
        let sh = self.sh;
        let cfg = &sh.cfg;
        let start = Instant::now();
        if let Some(rate) = cfg.rate {
            for (i, c) in self.conns.iter_mut().enumerate() {
                c.sched = Some(Schedule::for_connection(
                    start,
                    rate,
                    plan.first_conn + i,
                    cfg.connections,
                ));
                c.next_idx = 0;
            }
            self.timer = timer::Timer::new(&self.poll).ok();
        }
        self.phase = Phase {
            prefill: false,
            remaining: plan.quota,
            deadline: cfg.duration.map(|d| start + d),
            pipeline: if cfg.reconnect { 1 } else { cfg.pipeline },
            open_loop: cfg.rate.is_some(),
            reconnect: cfg.reconnect,
        };
        self.stop_issuing = false;
        self.run_phase(start);
        let end = Instant::now();
        Ok(ThreadResult {
            ops: self.ops,
            send_lag: self.send_lag,
            failures: self.failures,
            start,
            end,
        })
    }

    #[inline]
    fn can_issue(&self, idx: usize) -> bool {
        let c = &self.conns[idx];
        !self.stop_issuing
            && !c.dead
            && c.inflight.len() < self.phase.pipeline
            && self.phase.remaining != Some(0)
            && (c.stream.is_some() || self.phase.reconnect)
    }

    /// Encodes one request on connection `idx`, timed from `t0`. Returns
    /// false when it could not be issued (reconnect failure).
    fn issue(&mut self, idx: usize, t0: Instant) -> bool {
        if let Some(r) = &mut self.phase.remaining {
            *r -= 1;
        }
        if self.conns[idx].stream.is_none() {
            if let Err(_e) = self.connect(idx) {
                self.failures.io += 1;
                self.sh.errors.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        }
        let sh = self.sh;
        let cfg = &sh.cfg;
        let verify = cfg.verify;
        let c = &mut self.conns[idx];
        let buf = &mut c.wbuf;
        let op = if self.phase.prefill || !cfg.ratio.pick_get(&mut self.rng) {
            Op::Set
        } else if cfg.mget > 1 {
            Op::Mget
        } else {
            Op::Get
        };
        match op {
            Op::Get | Op::Mget => {
                let n = if op == Op::Mget { cfg.mget } else { 1 };
                resp::put_array_header(buf, n + 1);
                resp::put_bulk(buf, if op == Op::Mget { b"MGET" } else { b"GET" });
                for _ in 0..n {
                    let k = self.keygen.next(&mut self.rng);
                    cfg.key_format.put_key(buf, k);
                    if verify {
                        let acked = sh.written[k as usize].load(Ordering::Acquire);
                        c.vkeys.push_back(k | if acked { ACKED } else { 0 });
                    }
                }
            }
            Op::Set => {
                let k = self.keygen.next(&mut self.rng);
                let len = cfg.value_size.pick(&mut self.rng);
                resp::put_array_header(buf, if cfg.ttl.is_some() { 5 } else { 3 });
                resp::put_bulk(buf, b"SET");
                cfg.key_format.put_key(buf, k);
                resp::put_bulk(buf, sh.values.value(k, len));
                if let Some(ttl) = cfg.ttl {
                    resp::put_bulk(buf, b"EX");
                    resp::put_bulk(buf, itoa::Buffer::new().format(ttl).as_bytes());
                }
                if verify {
                    c.vkeys.push_back(k);
                }
            }
        }
        c.inflight.push_back(Pending { op, t0 });
        self.inflight += 1;
        true
    }

    fn fill_closed(&mut self, idx: usize) {
        let mut now = None;
        while self.can_issue(idx) {
            let t0 = *now.get_or_insert_with(Instant::now);
            if self.phase.deadline.is_some_and(|d| t0 >= d) {
                self.stop_issuing = true;
                break;
            }
            if !self.issue(idx, t0) {
                // Could not connect; the main loop retries.
                break;
            }
        }
        self.flush(idx);
    }

    fn fill_open(&mut self, idx: usize, now: Instant) {
        let mut issued = false;
        while self.can_issue(idx) {
            let c = &self.conns[idx];
            let Some(sched) = c.sched else { break };
            let due = sched.at(c.next_idx);
            if due > now || self.phase.deadline.is_some_and(|d| due >= d) {
                break;
            }
            self.conns[idx].next_idx += 1;
            self.send_lag
                .saturating_record(now.saturating_duration_since(due).as_micros() as u64);
            issued |= self.issue(idx, due);
        }
        if issued || self.conns[idx].wpos < self.conns[idx].wbuf.len() {
            self.flush(idx);
        }
    }

    /// Next intended send time over connections that may issue.
    fn next_due(&self) -> Option<Instant> {
        (0..self.conns.len())
            .filter(|&i| self.can_issue(i))
            .filter_map(|i| {
                let c = &self.conns[i];
                c.sched.map(|s| s.at(c.next_idx))
            })
            .min()
    }

    fn flush(&mut self, idx: usize) {
        let c = &mut self.conns[idx];
        let Some(s) = c.stream.as_mut() else { return };
        while c.wpos < c.wbuf.len() {
            match s.write(&c.wbuf[c.wpos..]) {
                Ok(0) => {
                    self.conn_failed(idx);
                    return;
                }
                Ok(n) => c.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.conn_failed(idx);
                    return;
                }
            }
        }
        c.wbuf.clear();
        c.wpos = 0;
    }

    /// A connection broke: its in-flight requests are lost.
    fn conn_failed(&mut self, idx: usize) {
        self.drop_conn(idx, true);
    }

    /// Closes a connection, counting its in-flight requests as lost (and
    /// the connection itself as an error when `broken`).
    fn drop_conn(&mut self, idx: usize, broken: bool) {
        let lost = self.conns[idx].inflight.len();
        self.failures.lost += lost as u64;
        self.failures.io += u64::from(broken);
        if !self.phase.prefill {
            self.sh
                .errors
                .fetch_add(lost as u64 + u64::from(broken), Ordering::Relaxed);
        }
        self.inflight -= lost;
        self.close(idx);
        let c = &mut self.conns[idx];
        c.inflight.clear();
        c.vkeys.clear();
        c.wbuf.clear();
        c.wpos = 0;
        c.rpos = 0;
        c.rlen = 0;
        if !self.phase.reconnect {
            c.dead = true;
        }
    }

    fn on_readable(&mut self, idx: usize) {
        loop {
            let c = &mut self.conns[idx];
            let Some(s) = c.stream.as_mut() else { return };
            if c.rlen == c.rbuf.len() {
                if c.rpos > 0 {
                    c.rbuf.copy_within(c.rpos..c.rlen, 0);
                    c.rlen -= c.rpos;
                    c.rpos = 0;
                } else {
                    let n = c.rbuf.len() * 2;
                    c.rbuf.resize(n, 0);
                }
            }
            let space = c.rbuf.len() - c.rlen;
            match s.read(&mut c.rbuf[c.rlen..]) {
                Ok(0) => {
                    self.conn_failed(idx);
                    return;
                }
                Ok(n) => {
                    c.rlen += n;
                    if self.process_replies(idx).is_err() {
                        self.conn_failed(idx);
                        return;
                    }
                    // A short read drained the socket; epoll reports new
                    // data with a new edge, so no WouldBlock round trip.
                    if n < space {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.conn_failed(idx);
                    return;
                }
            }
        }
        if self.phase.reconnect && self.conns[idx].inflight.is_empty() {
            self.close(idx);
        }
        if !self.phase.open_loop {
            self.fill_closed(idx);
        }
    }

    /// Consumes every complete reply in the read buffer.
    fn process_replies(&mut self, idx: usize) -> io::Result<()> {
        let Worker {
            sh,
            conns,
            ops,
            failures,
            phase,
            inflight,
            last_reply,
            ..
        } = self;
        let cfg = &sh.cfg;
        let c = &mut conns[idx];
        let now = Instant::now();
        let mut done = 0u64;
        let mut errors = 0u64;
        while c.rpos < c.rlen {
            let info = match resp::scan(&c.rbuf[c.rpos..c.rlen]) {
                Ok(Some(i)) => i,
                Ok(None) => break,
                Err(e) => return Err(proto_error(&e.to_string())),
            };
            let Some(p) = c.inflight.pop_front() else {
                return Err(proto_error("reply without a request"));
            };
            *inflight -= 1;
            done += 1;
            let reply = &c.rbuf[c.rpos..c.rpos + info.len];
            let nkeys = match p.op {
                Op::Mget => cfg.mget,
                _ => 1,
            };
            if phase.prefill {
                if info.kind != Kind::Simple {
                    failures.prefill += 1;
                } else if cfg.verify {
                    sh.written[c.vkeys[0] as usize].store(true, Ordering::Release);
                }
            } else {
                let st = &mut ops[p.op as usize];
                let us = now.saturating_duration_since(p.t0).as_micros() as u64;
                st.hist.saturating_record(us);
                let ok = match (p.op, info.kind) {
                    (Op::Set, Kind::Simple) | (Op::Get, Kind::Bulk) => true,
                    (Op::Get, Kind::Nil) => {
                        st.misses += 1;
                        true
                    }
                    (Op::Mget, Kind::Array) => {
                        st.misses += u64::from(info.nils);
                        true
                    }
                    _ => false,
                };
                if !ok {
                    st.errors += 1;
                    errors += 1;
                } else if cfg.verify {
                    let bad = match p.op {
                        Op::Set => {
                            sh.written[c.vkeys[0] as usize].store(true, Ordering::Release);
                            0
                        }
                        Op::Get | Op::Mget => check_values(sh, reply, &c.vkeys, nkeys),
                    };
                    failures.mismatches += bad;
                    errors += bad;
                }
            }
            if cfg.verify {
                c.vkeys.drain(..nkeys);
            }
            c.rpos += info.len;
        }
        if c.rpos == c.rlen {
            c.rpos = 0;
            c.rlen = 0;
        } else if c.rpos > c.rbuf.len() / 2 {
            c.rbuf.copy_within(c.rpos..c.rlen, 0);
            c.rlen -= c.rpos;
            c.rpos = 0;
        }
        if done > 0 {
            *last_reply = now;
            let counter = if phase.prefill {
                &sh.prefilled
            } else {
                &sh.completed
            };
            counter.fetch_add(done, Ordering::Relaxed);
            if errors > 0 {
                sh.errors.fetch_add(errors, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    fn phase_done(&self) -> bool {
        if self.inflight > 0 {
            return false;
        }
        if self.stop_issuing || self.phase.remaining == Some(0) {
            return true;
        }
        if !self.phase.reconnect && self.conns.iter().all(|c| c.dead) {
            return true;
        }
        false
    }

    fn run_phase(&mut self, start: Instant) {
        let mut events = Events::with_capacity(1024);
        self.stop_issuing = false;
        self.last_reply = start;
        if !self.phase.open_loop {
            for i in 0..self.conns.len() {
                self.fill_closed(i);
            }
        }
        loop {
            let now = Instant::now();
            // Open loop: requests due before the deadline are still sent
            // when the loop wakes up late (fill_open never issues past it).
            if !self.stop_issuing {
                for i in 0..self.conns.len() {
                    if self.phase.open_loop {
                        self.fill_open(i, now);
                    } else if self.conns[i].inflight.is_empty() && self.can_issue(i) {
                        // Idle connection (e.g. a failed --reconnect): retry.
                        self.fill_closed(i);
                    }
                }
            }
            if let Some(d) = self.phase.deadline {
                if now >= d {
                    self.stop_issuing = true;
                }
            }
            if self.phase_done() {
                break;
            }
            if self.sh.abort.load(Ordering::Relaxed) {
                break;
            }
            // Replies overdue: give up on what is in flight.
            let drain_over = self
                .phase
                .deadline
                .is_some_and(|d| self.stop_issuing && now > d + self.sh.cfg.timeout);
            if self.inflight > 0 && (now - self.last_reply > self.sh.cfg.timeout || drain_over) {
                // The requests in flight are lost; their connections are
                // closed so that late replies cannot be taken for others'.
                for i in 0..self.conns.len() {
                    if !self.conns[i].inflight.is_empty() {
                        self.drop_conn(i, false);
                    }
                }
                break;
            }
            let mut wait = MAX_WAIT;
            if let Some(d) = self.phase.deadline {
                if !self.stop_issuing {
                    wait = wait.min(d.saturating_duration_since(now));
                }
            }
            if self.phase.open_loop && !self.stop_issuing {
                if let Some(due) = self.next_due() {
                    let until = due.saturating_duration_since(now);
                    if until < wait {
                        if let Some(t) = &self.timer {
                            if self.timer_armed_for != Some(due) {
                                t.arm(until);
                                self.timer_armed_for = Some(due);
                            }
                        } else {
                            wait = until;
                        }
                    }
                }
            }
            if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.failures.io += 1;
                    break;
                }
            }
            for ev in events.iter() {
                if ev.token() == TIMER {
                    if let Some(t) = &self.timer {
                        t.drain();
                    }
                    self.timer_armed_for = None;
                    continue;
                }
                let idx = ev.token().0;
                if ev.is_writable() {
                    self.flush(idx);
                }
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    self.on_readable(idx);
                }
            }
        }
    }
}

/// Checks a GET/MGET reply against what this run wrote; returns the number
/// of mismatching values.
fn check_values(sh: &Shared, reply: &[u8], vkeys: &VecDeque<u64>, nkeys: usize) -> u64 {
    let cfg = &sh.cfg;
    let mut i = 0usize;
    let mut bad = 0u64;
    resp::for_each_value(reply, |v| {
        if i >= nkeys {
            bad += 1;
            return;
        }
        let entry = vkeys[i];
        i += 1;
        let key = entry & !ACKED;
        match v {
            Value::Bulk(b) => {
                let ok = b.len() >= cfg.value_size.min
                    && b.len() <= cfg.value_size.max
                    && b == sh.values.value(key, b.len());
                if !ok {
                    bad += 1;
                }
            }
            Value::Nil => {
                // Nil is fine for a key this run had not written yet when
                // the GET was sent (or that may have expired).
                if entry & ACKED != 0 && cfg.ttl.is_none() {
                    bad += 1;
                }
            }
            Value::Other => bad += 1,
        }
    });
    if i < nkeys {
        bad += (nkeys - i) as u64;
    }
    bad
}

#[cfg(target_os = "linux")]
mod timer {
    use std::io;
    use std::os::fd::RawFd;
    use std::time::Duration;

    use mio::unix::SourceFd;
    use mio::{Interest, Poll};

    /// A one-shot CLOCK_MONOTONIC timerfd registered in the poll set.
    pub struct Timer {
        fd: RawFd,
    }

    impl Timer {
        pub fn new(poll: &Poll) -> io::Result<Timer> {
            // SAFETY: plain syscall; the fd is owned by the returned Timer.
            let fd = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let t = Timer { fd };
            poll.registry()
                .register(&mut SourceFd(&fd), super::TIMER, Interest::READABLE)?;
            Ok(t)
        }

        /// Fires once, `after` from now.
        pub fn arm(&self, after: Duration) {
            let after = after.max(Duration::from_nanos(1));
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: after.as_secs() as libc::time_t,
                    tv_nsec: after.subsec_nanos() as libc::c_long,
                },
            };
            // SAFETY: fd is a timerfd we own; spec is a valid itimerspec.
            unsafe {
                libc::timerfd_settime(self.fd, 0, &spec, std::ptr::null_mut());
            }
        }

        pub fn drain(&self) {
            let mut buf = [0u8; 8];
            // SAFETY: reads at most 8 bytes into a local buffer.
            unsafe {
                libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len());
            }
        }
    }

    impl Drop for Timer {
        fn drop(&mut self) {
            // SAFETY: we own the fd.
            unsafe {
                libc::close(self.fd);
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod timer {
    use std::io;
    use std::time::Duration;

    /// No timerfd here: the loop falls back to the poll timeout.
    pub struct Timer;

    impl Timer {
        pub fn new(_: &mio::Poll) -> io::Result<Timer> {
            Err(io::Error::new(io::ErrorKind::Unsupported, "no timerfd"))
        }
        pub fn arm(&self, _: Duration) {}
        pub fn drain(&self) {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_even_and_complete() {
        assert_eq!(split(10, 3), vec![4, 3, 3]);
        assert_eq!(split(2, 4), vec![1, 1, 0, 0]);
        assert_eq!(split(0, 2), vec![0, 0]);
    }

    fn cfg(threads: usize, conns: usize, requests: Option<u64>) -> Config {
        Config {
            addr: "127.0.0.1:1".parse().unwrap(),
            threads,
            connections: conns,
            pipeline: 1,
            requests,
            duration: None,
            rate: None,
            keys: 10,
            key_dist: KeyDist::Uniform,
            key_format: KeyFormat::new("k:", 10),
            value_size: ValueSize { min: 1, max: 1 },
            ratio: Ratio { get: 1, set: 0 },
            mget: 1,
            ttl: None,
            prefill: false,
            reconnect: false,
            verify: false,
            timeout: Duration::from_secs(1),
            seed: 1,
        }
    }

    #[test]
    fn plans_spread_connections_and_requests() {
        let p = plans(&cfg(2, 5, Some(1001)));
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].first_conn, p[0].conns), (0, 3));
        assert_eq!((p[1].first_conn, p[1].conns), (3, 2));
        assert_eq!(p[0].quota.unwrap() + p[1].quota.unwrap(), 1001);
        assert_eq!(p[0].quota, Some(201 + 200 + 200));
        assert!(plans(&cfg(2, 5, None)).iter().all(|p| p.quota.is_none()));
    }
}
