//! A worker thread: one mio event loop owning its connections.
//!
//! Each poll round: read what every ready connection has sent, decode every
//! complete frame (pipelining), route the commands to the shards through the
//! router (one batch per shard) and submit the round. When it comes back,
//! its replies are encoded in request order, then what arrived meanwhile is
//! read and submitted as the next round, and only then are the replies
//! written: the shards execute (and under `appendfsync always` fsync) the
//! new round while the worker writes. Two rounds may be in flight: while a
//! shard executes one, the worker answers the other's connections and reads
//! their next requests, so neither side waits for the other (under
//! `appendfsync always` one, which keeps rounds large and fsyncs few). A
//! connection with a round in flight reads nothing until it is answered, so
//! its replies stay in order. A partial
//! write arms WRITABLE interest for that connection until its output drains.

use crate::blocking::Shape;
use crate::clients::{Client, Handed};
use crate::commands::{self, Session};
use crate::config::OutputLimit;
use crate::exchange::{ConnEvent, Effect, ReplySink, Router};
use crate::observe::Pause;
use crate::resp::{encode, Args, Decoded, Decoder};
use crate::shared::{Shared, WorkerStats};
use crossbeam_channel::Receiver;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use shards::batch::BIG_ARG;
use shards::keyspace::blocked::{Outcome, Served};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// In `Worker::unwatch`: every shard (a closed BCAST client's prefixes).
const ALL_SHARDS: usize = usize::MAX;
/// Token of the waker other threads use (connections handed over, CLIENT
/// KILL, MONITOR lines, ...).
pub const WAKER_TOKEN: Token = Token(usize::MAX);
/// Passes of deferred commands (scripts, sections) one poll round runs per
/// connection that sends them back to back, before it writes what it has
/// and polls again: a bound on how long other connections wait.
const DEFERRED_PASSES: usize = 32;
/// Rounds a worker keeps in flight (but one under `appendfsync always`):
/// with two, a shard executes one while the worker answers the other's
/// connections and reads their next requests.
const MAX_ROUNDS_IN_FLIGHT: usize = 2;
/// Token of the listening socket.
const LISTEN_TOKEN: Token = Token(usize::MAX - 1);
/// How long the listener rests after accept fails for want of resources
/// (EMFILE and the like), instead of spinning on a queue it cannot take.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// Smallest read buffer; also the size a drained buffer shrinks back to.
const READ_CHUNK: usize = 16 * 1024;
/// Bytes read from one connection per round before others get a turn.
const READ_PER_ROUND: usize = 1 << 20;
/// Buffers larger than this are released once they drain.
const SHRINK_ABOVE: usize = 1 << 20;
/// A connection decodes at least this many commands per round, whatever
/// its replies weigh.
const MIN_ROUND_COMMANDS: usize = 16;
/// ... and at most this many, however small its replies have been, so a
/// client that turns from small replies to huge ones cannot make one round
/// buffer more than this many of them.
const MAX_ROUND_COMMANDS: usize = 4096;
/// The reply size assumed for a new connection (16 KB: a first round
/// decodes 64 commands under the default 1 MB pause; the budget follows the
/// connection's real reply sizes from its second round on).
const INITIAL_REPLY_GUESS: usize = 16 * 1024;
/// Bytes of round buffers a worker keeps at its once-a-second sweep (see
/// `Router::shrink_idle`): above what redis-benchmark's 50 clients
/// pipelining 16 commands use (0.4 to 0.9 MB, which are then never given
/// back and grown again), below what a bulk load grows (megabytes).
const ROUND_KEEP: usize = 1 << 20;
/// The least time between two `release_free_memory` calls of one worker:
/// `malloc_trim` walks every arena, so it runs at most once a second, and
/// only after this worker freed more than `SHRINK_ABOVE` bytes of buffers.
const TRIM_INTERVAL: Duration = Duration::from_secs(1);
/// How often a worker takes back the buffers of idle connections; one idle
/// for a whole interval (1 to 2 s) gives them up, as Redis frees the query
/// buffer of a client idle for 2 s.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// A big bulk argument (`shards::batch::BIG_ARG` bytes or more) being read
/// from the socket straight into a buffer of its own, which then travels to
/// the shard shared: its bytes are copied once, into the store, not into
/// the read buffer, the command's arguments and the batch on the way.
struct BigRead {
    /// Reserved for the whole payload and CRLF at once (untouched memory
    /// costs nothing until read into); zeroed as far as reads reach.
    buf: Vec<u8>,
    /// Bytes read so far.
    filled: usize,
    /// The payload's length plus its CRLF.
    want: usize,
}

impl BigRead {
    /// A buffer for a `len`-byte payload, starting with the bytes of it that
    /// came with its header (`already`, cut to what belongs to it).
    fn new(len: usize, already: &[u8]) -> BigRead {
        let want = len + 2;
        let mut buf = Vec::with_capacity(want);
        let take = already.len().min(want);
        buf.extend_from_slice(&already[..take]);
        BigRead {
            buf,
            filled: take,
            want,
        }
    }

    fn complete(&self) -> bool {
        self.filled == self.want
    }

    /// Room for the next read, zeroed ahead of it in growing steps.
    fn room(&mut self) -> &mut [u8] {
        if self.filled == self.buf.len() {
            let len = (self.buf.len() * 2)
                .max(self.filled + READ_CHUNK)
                .min(self.want);
            self.buf.resize(len, 0);
        }
        &mut self.buf[self.filled..]
    }

    /// The payload, without its CRLF (which Redis skips unchecked too).
    fn into_payload(mut self) -> Vec<u8> {
        self.buf.truncate(self.want - 2);
        self.buf
    }
}

struct Conn {
    stream: TcpStream,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    /// The big argument being read, if any (see `BigRead`).
    big: Option<BigRead>,
    wbuf: Vec<u8>,
    wpos: usize,
    decoder: Decoder,
    args: Args,
    session: Session,
    /// WRITABLE interest is armed.
    writable: bool,
    /// The peer closed its side (or the socket failed).
    eof: bool,
    /// Already in this round's list of connections to flush.
    in_round: bool,
    /// Its last decoded command waits for the round's second phase (see
    /// `Router::defer`); decoding resumes after it ran.
    deferred: bool,
    /// Reading stopped because too many replies wait unsent (backpressure).
    paused: bool,
    /// Its last decoded command waits for a CLIENT PAUSE to end; decoding
    /// resumes after it ran.
    postponed: bool,
    /// Unix ms of the last read or write (idle timeout).
    last_ms: u64,
    /// Unix ms since when unsent output has been above the soft limit (0 = not).
    soft_since: u64,
    /// The peer's FIN (or an error) was signalled: read until a read returns 0.
    hup: bool,
    /// The last round stopped decoding at its budget with commands left.
    backlog: bool,
    /// Recent mean reply size in bytes, for the per-round command budget.
    reply_avg: usize,
    /// `wbuf.len()` when this round's commands were decoded.
    out_mark: usize,
    /// Commands decoded since the last flush.
    round_cmds: usize,
    /// The worker's sweep epoch of the last read that brought bytes.
    read_epoch: u32,
    /// Its commands are in a round in flight: it reads nothing more and is
    /// not flushed or closed until that round is delivered.
    inflight: bool,
    /// A readiness event came while in flight: read again after delivery.
    missed: bool,
    /// `mem()` as last added to the worker's `client_mem`.
    counted: u64,
    /// Waits in a blocking command (`session.block`): decodes nothing
    /// until the wait ends.
    blocked: bool,
    /// Pub/sub messages that came while a round of its was in flight: they
    /// follow that round's replies (a SUBSCRIBE's confirmation comes before
    /// the channel's first message).
    held: Vec<u8>,
}

impl Conn {
    fn pending_out(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    /// Output it has not sent, held messages included (what the output
    /// buffer limits bound).
    fn unsent(&self) -> u64 {
        (self.pending_out() + self.held.len()) as u64
    }

    /// Bytes its buffers hold (CLIENT LIST's `mem`, INFO's `mem_clients_normal`).
    fn mem(&self) -> u64 {
        (self.rbuf.capacity()
            + self.wbuf.capacity()
            + self.args.capacity()
            + self.big.as_ref().map_or(0, |b| b.buf.capacity())
            + self.held.capacity()
            + std::mem::size_of::<Conn>()) as u64
    }

    /// Brings the worker's count of connection memory up to date with `mem()`.
    fn recount(&mut self, stats: &WorkerStats) {
        let now = self.mem();
        if now > self.counted {
            stats
                .client_mem
                .fetch_add(now - self.counted, Ordering::Relaxed);
        } else if now < self.counted {
            stats
                .client_mem
                .fetch_sub(self.counted - now, Ordering::Relaxed);
        }
        self.counted = now;
    }

    /// Updates the mean reply size from what the commands decoded since the
    /// last call produced (everything after `out_mark`).
    fn note_replies(&mut self) {
        let produced = self.wbuf.len().saturating_sub(self.out_mark);
        if let Some(mean) = produced.checked_div(self.round_cmds) {
            // A round of many commands is a good sample on its own; a few
            // commands only move the estimate halfway.
            self.reply_avg = if self.round_cmds >= MIN_ROUND_COMMANDS {
                mean
            } else {
                (self.reply_avg + mean) / 2
            };
            self.round_cmds = 0;
        }
    }

    /// Writes as much unsent output as the socket takes: (bytes written,
    /// whether the connection failed).
    fn write_out(&mut self) -> (usize, bool) {
        let mut written = 0;
        while self.wpos < self.wbuf.len() {
            match self.stream.write(&self.wbuf[self.wpos..]) {
                Ok(0) => return (written, true),
                Ok(n) => {
                    self.wpos += n;
                    written += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return (written, true),
            }
        }
        (written, false)
    }
}

/// Per-connection limits, from the configuration.
struct Limits {
    /// client-query-buffer-limit.
    query: usize,
    /// proto-max-bulk-len.
    max_bulk: usize,
    /// Unsent bytes above which reading pauses (0 = never).
    pause: usize,
    /// client-output-buffer-limit for normal clients.
    out: OutputLimit,
    /// client-output-buffer-limit for pub/sub clients (those with a subscription).
    pubsub: OutputLimit,
    /// Idle timeout in ms (0 = none).
    idle_ms: u64,
}

#[derive(Default)]
struct Conns {
    slots: Vec<Option<Conn>>,
    free: Vec<usize>,
}

impl Limits {
    /// The output limit of `c`'s class, as Redis's `getClientType` picks it.
    fn out_of(&self, c: &Conn) -> OutputLimit {
        if c.session.pubsub.is_empty() {
            self.out
        } else {
            self.pubsub
        }
    }
}

impl ReplySink for Conns {
    fn out(&mut self, token: usize) -> Option<&mut Vec<u8>> {
        self.slots.get_mut(token)?.as_mut().map(|c| &mut c.wbuf)
    }

    fn client(&self, token: usize) -> Option<Arc<Client>> {
        self.slots
            .get(token)?
            .as_ref()
            .map(|c| c.session.client.clone())
    }
}

/// A worker and everything it owns.
pub struct Worker {
    id: usize,
    poll: Poll,
    waker: Arc<Waker>,
    shared: Arc<Shared>,
    new_conns: Receiver<Handed>,
    /// This worker's descriptor of the listening socket.
    listener: Option<mio::net::TcpListener>,
    /// The listener's address, when every connection's local address is it
    /// (not bound to a wildcard address).
    local_addr: Option<String>,
    /// Set while the listener rests (see `ACCEPT_BACKOFF`).
    accept_resume: Option<Instant>,
    router: Router,
    conns: Conns,
    /// Connections of the rounds just delivered (reused buffer).
    delivered: Vec<usize>,
    /// When the poll round that builds the current round started: its
    /// commands' duration counts from here (see `exchange::deliver`).
    round_start: Option<Instant>,
    /// When the current poll round started.
    poll_start: Instant,
    touched: Vec<usize>,
    carry: Vec<usize>,
    /// Connections whose current command runs after this round is delivered.
    deferred: Vec<usize>,
    /// Shards where closed connections left WATCHes to forget; `ALL_SHARDS`
    /// for a BCAST tracking client's prefixes, which every shard keeps.
    unwatch: Vec<(usize, u64)>,
    track_latency: bool,
    /// worker-spin-us (see `Worker::spin`).
    spin: Duration,
    /// The last poll round had work: the next one may spin first.
    busy: bool,
    limits: Limits,
    /// Unix ms at the start of the current round.
    now_ms: u64,
    /// Bytes of connection buffers freed since the last trim.
    freed: usize,
    last_trim: Instant,
    /// Incremented by every sweep of idle connections.
    epoch: u32,
    last_sweep: Instant,
    /// The `Shared::epoch` whose settings this worker applied.
    settings_epoch: u64,
    /// The CLIENT PAUSE in force, as this worker last saw it.
    pause: Option<Pause>,
    /// Connections whose current command waits for the pause to end, in
    /// the order they were held.
    postponed: Vec<usize>,
    /// This worker's connections in MONITOR mode.
    monitors: Vec<usize>,
    /// MONITOR lines waiting to be handed out (reused).
    feed: Vec<u8>,
    /// Deadlines of blocked connections: (unix ms, token, client id).
    /// Entries of waits that ended otherwise are skipped when they come up.
    block_timers: BinaryHeap<Reverse<(u64, usize, u64)>>,
    /// Ended waits taken from the inbox (reused).
    served: Vec<Served>,
    /// (shard, client) registrations of ended waits to drop.
    unblock: Vec<(usize, u64)>,
    /// Pub/sub deliveries taken from this worker's inbox (reused).
    inbox: Vec<u8>,
}

impl Worker {
    /// Creates worker `id`; `replies` is its own reply queue from the shards;
    /// new connections arrive on `new_conns` with their CLIENT ID.
    pub fn new(
        id: usize,
        shared: Arc<Shared>,
        new_conns: Receiver<Handed>,
        port: shards::Port,
    ) -> io::Result<Self> {
        let shards::Port {
            to_shards,
            replies,
            bell,
        } = port;
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER_TOKEN)?);
        shared.registry.set_waker(id, waker.clone());
        shared.blocking.set_waker(id, waker.clone());
        let mut router = Router::new(
            id,
            to_shards,
            replies,
            shared.order.clone(),
            commands::count(),
        );
        router.set_bell(bell);
        router.pubsub = crate::pubsub::Outbox::new(shared.workers);
        let samples = shared.config.maxmemory_samples;
        if id == 0 && samples != shards::DEFAULT_EVICTION_SAMPLES as u64 {
            // The shards start with the default; the first round tells them.
            router.begin(crate::exchange::NO_CONN, crate::exchange::Merge::AllOk);
            router.each_shard_op(0, |_| {
                shards::ops::server::SrvOp::SetSamples(samples.min(u32::MAX as u64) as u32).into()
            });
        }
        Ok(Worker {
            id,
            poll,
            waker,
            new_conns,
            listener: None,
            local_addr: None,
            accept_resume: None,
            router,
            conns: Conns::default(),
            delivered: Vec::new(),
            round_start: None,
            poll_start: Instant::now(),
            touched: Vec::new(),
            carry: Vec::new(),
            deferred: Vec::new(),
            unwatch: Vec::new(),
            track_latency: shared.config.latency_tracking == crate::config::YesNo::Yes,
            spin: Duration::from_micros(shared.config.worker_spin_us),
            busy: false,
            limits: Limits {
                query: shared.config.client_query_buffer_limit as usize,
                max_bulk: shared.config.proto_max_bulk_len as usize,
                pause: shared.config.client_output_pause as usize,
                out: shared.config.client_output_buffer_limit.normal,
                pubsub: shared.config.client_output_buffer_limit.pubsub,
                idle_ms: shared.config.timeout.saturating_mul(1000),
            },
            now_ms: shards::clock::unix_ms(),
            freed: 0,
            last_trim: Instant::now(),
            epoch: 0,
            last_sweep: Instant::now(),
            // Not the server's epoch: the first round loads the settings.
            settings_epoch: u64::MAX,
            pause: None,
            postponed: Vec::new(),
            monitors: Vec::new(),
            feed: Vec::new(),
            block_timers: BinaryHeap::new(),
            served: Vec::new(),
            unblock: Vec::new(),
            inbox: Vec::new(),
            shared,
        })
    }

    /// The waker other threads call after queueing something for this worker.
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// Watches `listener` (non-blocking) and accepts from it.
    pub fn listen(&mut self, listener: std::net::TcpListener) -> io::Result<()> {
        let listener = mio::net::TcpListener::from_std(listener);
        crate::listen::watch(&self.poll, &listener, LISTEN_TOKEN)?;
        self.local_addr = listener
            .local_addr()
            .ok()
            .filter(|a| !a.ip().is_unspecified())
            .map(|a| a.to_string());
        self.listener = Some(listener);
        Ok(())
    }

    /// Accepts one connection per readiness report: the listener is
    /// level-triggered, so the next poll reports the rest at once, and a
    /// connection per command costs no `accept` that finds the queue empty.
    /// A connection stays here unless another worker has fewer, as Redis
    /// serves it from the thread that accepted it.
    fn accept_ready(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        let (stream, peer) = match listener.accept() {
            Ok(c) => c,
            // Gone already (ECONNABORTED), taken by another worker, or
            // interrupted: anything left is reported again.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                ) =>
            {
                return
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                if crate::listen::unwatch(&self.poll, listener).is_ok() {
                    self.accept_resume = Some(Instant::now() + ACCEPT_BACKOFF);
                }
                return;
            }
        };
        let Some(id) = crate::admit::admit(&self.shared, &stream, peer) else {
            return;
        };
        let to = self.shared.registry.assign(self.id);
        if to == self.id {
            self.add_conn(stream, id, peer);
        } else if !self.shared.registry.hand_off(to, (stream, id, peer)) {
            self.shared.registry.unassign(to);
            self.shared.clients.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Watches the listener again once its rest is over.
    fn resume_accepting(&mut self) {
        if self.accept_resume.is_some_and(|t| Instant::now() >= t) {
            if let Some(listener) = &self.listener {
                if crate::listen::watch(&self.poll, listener, LISTEN_TOKEN).is_ok() {
                    self.accept_resume = None;
                }
            }
        }
    }

    /// Polls without sleeping for up to `self.spin`; true when events came
    /// (in `events`). A worker that sleeps as soon as it has nothing to do is
    /// woken for nearly every request at one request per connection, and
    /// the wake-up runs in the client's `send`: with 50 clients at -P 1 the
    /// worker slept 21,000 times per 200,000 LRANGEs (Redis 6,400) and the
    /// client paid ~10% more CPU than against Redis, whose slower loop is
    /// rarely asleep when a request comes. Only after a round with events, so an
    /// idle server never spins.
    fn spin(&mut self, events: &mut Events) -> bool {
        let start = Instant::now();
        loop {
            // A clock read per 8 polls: a zero-timeout poll costs ~0.15 µs.
            for _ in 0..8 {
                if self.poll.poll(events, Some(Duration::ZERO)).is_ok() && !events.is_empty() {
                    return true;
                }
            }
            if start.elapsed() >= self.spin {
                return false;
            }
        }
    }

    /// Runs the event loop until the server stops (`Server::stop`).
    pub fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            if self.shared.stopping.load(Ordering::Relaxed) {
                // What the shards still owe this worker comes back first, so
                // none of them replies into a closed queue mid-batch.
                self.router.collect(true);
                return;
            }
            // Wake up for the next sweep (and a trim due) even with no traffic.
            let mut timeout = if self.carry.is_empty() {
                SWEEP_INTERVAL.saturating_sub(self.last_sweep.elapsed())
            } else {
                Duration::ZERO
            };
            if let (Some(p), false) = (self.pause, self.postponed.is_empty()) {
                // Held commands run when the pause ends.
                let left = p.end_ms.saturating_sub(shards::clock::unix_ms());
                timeout = timeout.min(Duration::from_millis(left));
            }
            if let Some(Reverse((at, _, _))) = self.block_timers.peek() {
                // The next blocked client's timeout.
                let left = at.saturating_sub(shards::clock::unix_ms());
                timeout = timeout.min(Duration::from_millis(left));
            }
            if let Some(at) = self.accept_resume {
                self.resume_accepting();
                timeout = timeout.min(at.saturating_duration_since(Instant::now()));
            }
            if !timeout.is_zero() && self.router.in_flight() {
                // Nothing to do but wait for the round in flight. Whatever
                // arrives meanwhile is read at once after it, in one poll,
                // as Redis reads what came during its fsync: one wake-up
                // per round, not one per arrival (which cost more CPU than
                // it saved on a machine the clients share).
                self.router.collect_oldest();
                timeout = Duration::ZERO;
            }
            let spun =
                self.busy && !timeout.is_zero() && !self.spin.is_zero() && self.spin(&mut events);
            if !spun {
                if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    panic!("worker {} poll failed: {e}", self.id);
                }
            }
            // A zero-timeout poll follows work (a round collected, input
            // carried over) even when it finds nothing new.
            self.busy = !events.is_empty() || timeout.is_zero();
            let now = shards::clock::unix_ms();
            self.now_ms = now;
            self.poll_start = Instant::now();
            // The one look at server-wide settings per poll round.
            if self.shared.epoch.load(Ordering::Relaxed) != self.settings_epoch {
                self.refresh_settings();
            }
            if self.shared.pubsub.has_mail(self.id) {
                self.deliver_inbox();
            }
            // Answers first (encoded, not yet written): their connections
            // may read again, and the round this poll builds goes out
            // before the answers are written at the end of the loop, so the
            // shards execute (and fsync) it while this worker writes.
            self.deliver_ready(false);
            self.submit();
            if !self.router.has_pending() {
                self.round_start = Some(self.poll_start);
            }
            if self.pause.is_some_and(|p| p.end_ms <= now) {
                self.end_pause();
            }
            if self
                .block_timers
                .peek()
                .is_some_and(|Reverse((at, _, _))| *at <= now)
            {
                self.expire_blocked(now);
            }
            for token in std::mem::take(&mut self.carry) {
                self.read_and_dispatch(token, now, false);
            }
            for ev in events.iter() {
                let token = ev.token();
                if token == LISTEN_TOKEN {
                    self.accept_ready();
                    continue;
                }
                if token == WAKER_TOKEN {
                    self.accept_new();
                    self.kill_queued();
                    if !self.monitors.is_empty() {
                        self.feed_monitors_from_inbox();
                    }
                    self.take_served();
                    if self.shared.pubsub.has_mail(self.id) {
                        self.deliver_inbox();
                    }
                    continue;
                }
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    let hup = ev.is_read_closed() || ev.is_error();
                    self.read_and_dispatch(token.0, now, hup);
                }
                if ev.is_writable() {
                    self.touch(token.0);
                }
            }
            if !self.unwatch.is_empty() {
                self.forget_watches();
            }
            if !self.unblock.is_empty() {
                self.forget_blocks();
            }
            if self.router.has_conn_events() {
                self.apply_conn_events();
            }
            if self.pause.is_none() && !self.postponed.is_empty() {
                self.resume_postponed();
            }
            self.submit();
            let mut passes = 0;
            while !self.deferred.is_empty() {
                // A deferred command runs alone, after every earlier reply.
                self.submit_now();
                self.deliver_ready(true);
                for token in std::mem::take(&mut self.deferred) {
                    self.run_deferred(token, now);
                }
                passes += 1;
                if passes == DEFERRED_PASSES {
                    break;
                }
                // What its connection sent behind it runs in this poll round
                // too, and every reply leaves in one write at its end: a
                // pipeline of scripts costs one send, not one per script
                // (with a poll round each, EVALSHA at -P 16 ran at a third
                // of Redis's rate, a third of the time in `send`).
                for token in std::mem::take(&mut self.carry) {
                    self.read_and_dispatch(token, now, false);
                }
                self.submit();
            }
            if self.router.has_feed() {
                self.hand_out_feed();
            }
            if !self.router.pubsub.is_empty() {
                self.hand_out_messages();
            }
            for i in 0..self.touched.len() {
                let token = self.touched[i];
                self.flush(token);
            }
            self.touched.clear();
            if self.last_sweep.elapsed() >= SWEEP_INTERVAL {
                if self.limits.idle_ms > 0
                    || self.limits.out.soft > 0
                    || self.limits.pubsub.soft > 0
                {
                    self.check_limits();
                }
                self.sweep();
                let freed = self.router.shrink_idle(ROUND_KEEP);
                if freed > 0 {
                    self.freed += freed;
                    self.shared.worker_stats[self.id]
                        .batch_mem
                        .store(self.router.buffer_bytes() as u64, Ordering::Relaxed);
                }
            }
            if self.freed > SHRINK_ABOVE && self.last_trim.elapsed() >= TRIM_INTERVAL {
                crate::alloc::release_free_memory();
                self.freed = 0;
                self.last_trim = Instant::now();
            }
        }
    }

    /// Submits the round being built unless one is in flight: what arrives
    /// meanwhile goes out when that one is answered, so under `appendfsync
    /// always` a shard's fsync covers everything that came during the
    /// previous one (group commit).
    fn submit(&mut self) {
        let most = if self.shared.appendfsync() == shards::aof::Fsync::Always {
            1
        } else {
            MAX_ROUNDS_IN_FLIGHT
        };
        if self.router.rounds_in_flight() < most {
            self.submit_now();
        }
    }

    /// Submits the round being built, if it has anything to answer.
    fn submit_now(&mut self) {
        if !self.router.has_pending() {
            return;
        }
        self.router.submit(self.round_start.take());
    }

    /// Delivers every round in flight whose replies are all back (with
    /// `wait`, waits for all of them) and queues their connections for
    /// flushing; those that had input arrive meanwhile read again.
    fn deliver_ready(&mut self, wait: bool) {
        if !self.router.in_flight() {
            return;
        }
        self.router.collect(wait);
        let latency = self
            .track_latency
            .then(|| &self.shared.worker_stats[self.id].latency);
        while let Some(effect) =
            self.router
                .deliver_next(&mut self.conns, &self.shared, latency, &mut self.delivered)
        {
            Self::apply(effect);
        }
        let mut delivered = std::mem::take(&mut self.delivered);
        for &token in &delivered {
            let Some(Some(c)) = self.conns.slots.get_mut(token) else {
                continue;
            };
            c.inflight = false;
            c.in_round = false;
            // Measured now: if it reads again before the flush, `out_mark`
            // moves past these replies.
            c.note_replies();
            // Messages that waited for these replies follow them (after the
            // measure: they are no reply of its commands).
            if !c.held.is_empty() {
                c.wbuf.extend_from_slice(&c.held);
                c.held.clear();
                if c.held.capacity() > SHRINK_ABOVE {
                    self.freed += c.held.capacity();
                    c.held = Vec::new();
                }
            }
            if std::mem::take(&mut c.missed) {
                self.carry.push(token);
            }
            self.touch(token);
        }
        delivered.clear();
        self.delivered = delivered;
        self.shared.worker_stats[self.id]
            .batch_mem
            .store(self.router.buffer_bytes() as u64, Ordering::Relaxed);
    }

    /// Applies the server-wide settings and switches (CONFIG SET, MONITOR,
    /// CLIENT PAUSE) after `Shared::epoch` moved.
    fn refresh_settings(&mut self) {
        self.settings_epoch = self.shared.epoch.load(Ordering::Acquire);
        let s = self.shared.settings();
        self.limits.query = s.client_query_buffer_limit as usize;
        self.limits.max_bulk = s.proto_max_bulk_len as usize;
        self.limits.idle_ms = s.timeout.saturating_mul(1000);
        self.track_latency = s.latency_tracking;
        self.spin = Duration::from_micros(s.worker_spin_us);
        self.limits.out = s.output_limits.normal;
        self.limits.pubsub = s.output_limits.pubsub;
        self.router.gates.slowlog = u64::try_from(s.slowlog_log_slower_than)
            .ok()
            .map(|t| (t, s.slowlog_max_len));
        self.router.gates.monitoring = self.shared.monitors.any();
        self.pause = self.shared.pauses.current(self.now_ms);
        self.router.gates.pause = self.pause.map(|p| p.kind);
    }

    /// The pause this worker saw has ended: held commands run again.
    fn end_pause(&mut self) {
        self.pause = None;
        self.router.gates.pause = None;
    }

    /// Dispatches again the commands held by a pause that ended, in the
    /// order they were held; their connections then read on. One whose
    /// earlier commands are still in flight waits for them (its replies
    /// stay in order).
    fn resume_postponed(&mut self) {
        let now = self.now_ms;
        for token in std::mem::take(&mut self.postponed) {
            let Some(Some(conn)) = self.conns.slots.get_mut(token) else {
                continue;
            };
            if !conn.postponed {
                // Closed meanwhile (the token may serve another connection now).
                continue;
            }
            if conn.inflight {
                self.postponed.push(token);
                continue;
            }
            conn.postponed = false;
            if conn.session.close || conn.session.client.killed() {
                continue;
            }
            let before = self.router.pending_len();
            commands::dispatch(
                None,
                &conn.args,
                token,
                &mut conn.session,
                &mut self.router,
                &self.shared,
                now,
            );
            if self.router.take_postponed() {
                conn.postponed = true;
                self.postponed.push(token);
            } else if self.router.take_deferred() {
                conn.deferred = true;
                self.deferred.push(token);
            } else {
                if !conn.args.bigs().is_empty() {
                    conn.args.clear();
                }
                // The commands behind it are still in the read buffer.
                self.carry.push(token);
            }
            if self.router.pending_len() > before {
                self.router.note_conn(token);
                conn.inflight = true;
            }
            self.touch(token);
        }
    }

    /// Connections that entered or left MONITOR mode this round.
    fn apply_conn_events(&mut self) {
        for (token, ev) in self.router.take_conn_events() {
            match ev {
                ConnEvent::Monitor => {
                    let open =
                        matches!(self.conns.slots.get(token), Some(Some(c)) if c.session.monitor);
                    if open && !self.monitors.contains(&token) {
                        self.monitors.push(token);
                        self.shared.monitors.attach(self.id);
                    }
                }
                ConnEvent::Unmonitor => self.unmonitor(token),
            }
        }
        self.shared.bump_epoch();
    }

    /// Connection `token` is no longer a monitor (RESET, or it closes).
    fn unmonitor(&mut self, token: usize) {
        if let Some(i) = self.monitors.iter().position(|&t| t == token) {
            self.monitors.swap_remove(i);
            self.shared.monitors.detach(self.id);
        }
    }

    /// Hands the MONITOR lines of the rounds just delivered to every
    /// monitor: this worker's directly, other workers' through their inbox
    /// (and a wake-up).
    fn hand_out_feed(&mut self) {
        let mut feed = std::mem::take(&mut self.feed);
        feed.clear();
        self.router.take_feed(&mut feed);
        for w in 0..self.shared.workers {
            if !self.shared.monitors.has(w) {
                continue;
            }
            if w == self.id {
                self.append_to_monitors(&feed);
            } else if self.shared.monitors.post(w, &feed) {
                self.shared.registry.wake(w);
            }
        }
        feed.clear();
        self.feed = feed;
    }

    /// Lines other workers queued for this worker's monitors.
    fn feed_monitors_from_inbox(&mut self) {
        let mut feed = std::mem::take(&mut self.feed);
        self.shared.monitors.take(self.id, &mut feed);
        if !feed.is_empty() {
            self.append_to_monitors(&feed);
        }
        feed.clear();
        self.feed = feed;
    }

    /// Hands out the messages this round's PUBLISHes queued: this worker's
    /// subscribers get theirs directly, other workers' through their inbox,
    /// one append (and at most one wake-up) per worker.
    fn hand_out_messages(&mut self) {
        for w in 0..self.shared.workers {
            let buf = self.router.pubsub.take(w);
            if !buf.is_empty() {
                if w == self.id {
                    self.deliver_messages(&buf);
                } else if self.shared.pubsub.post(w, &buf) {
                    self.shared.registry.wake(w);
                }
            }
            self.router.pubsub.give_back(w, buf);
        }
    }

    /// Messages other workers queued for this worker's subscribers.
    fn deliver_inbox(&mut self) {
        let mut buf = std::mem::take(&mut self.inbox);
        self.shared.pubsub.take(self.id, &mut buf);
        if !buf.is_empty() {
            self.deliver_messages(&buf);
        }
        buf.clear();
        if buf.capacity() > shards::batch::KEEP_CAPACITY {
            buf = Vec::new();
        }
        self.inbox = buf;
    }

    /// Writes each message into its receivers' output (held back behind a
    /// round in flight), RESP3 receivers as a push. A receiver that closed,
    /// or unsubscribed after the message was published, is skipped.
    fn deliver_messages(&mut self, buf: &[u8]) {
        for d in crate::pubsub::deliveries(buf) {
            for (token, id) in d.receivers() {
                let Some(Some(c)) = self.conns.slots.get_mut(token) else {
                    continue;
                };
                // (CLIENT REPLY OFF silences replies, not messages, as in Redis.)
                if c.session.id != id || c.session.close {
                    continue;
                }
                let out = if c.inflight { &mut c.held } else { &mut c.wbuf };
                if d.invalidation && d.key == crate::tracking::BROKEN {
                    let Some(t) = c.session.tracking.as_mut() else {
                        continue;
                    };
                    t.broken = true;
                    crate::tracking::write_broken(out, c.session.resp == 3, d.frame);
                    // CLIENT LIST's `R`.
                    c.session.publish(self.now_ms, None);
                } else if d.invalidation {
                    let redirect = d.key == b"r";
                    let (resp3, subscribed) = (c.session.resp == 3, !c.session.pubsub.is_empty());
                    if (!redirect && c.session.tracking.is_none())
                        || !crate::tracking::write_frame(out, resp3, redirect, subscribed, d.frame)
                    {
                        continue;
                    }
                } else if !c.session.pubsub.has(d.kind, d.key) {
                    continue;
                } else if c.session.resp == 3 {
                    out.push(b'>');
                    out.extend_from_slice(&d.frame[1..]);
                } else {
                    out.extend_from_slice(d.frame);
                }
                if !c.in_round {
                    c.in_round = true;
                    self.touched.push(token);
                }
            }
        }
    }

    fn append_to_monitors(&mut self, lines: &[u8]) {
        for i in 0..self.monitors.len() {
            let token = self.monitors[i];
            if let Some(Some(c)) = self.conns.slots.get_mut(token) {
                c.wbuf.extend_from_slice(lines);
                self.touch(token);
            }
        }
    }

    /// Does what a delivered round asked: SHUTDOWN exits once every shard
    /// flushed its AOF (its own reply is never sent, as in Redis).
    fn apply(effect: Effect) {
        match effect {
            Effect::None => {}
            Effect::Exit(code) => std::process::exit(code),
        }
    }

    /// The second phase of a round: a command that deferred itself runs
    /// alone, after every earlier reply of the round was delivered, and may
    /// exchange with the shards several times (see `Router::defer`).
    fn run_deferred(&mut self, token: usize, now: u64) {
        let Some(Some(conn)) = self.conns.slots.get_mut(token) else {
            return;
        };
        conn.deferred = false;
        if conn.session.close || conn.session.client.killed() {
            return;
        }
        self.router.set_section(true);
        commands::dispatch(
            None,
            &conn.args,
            token,
            &mut conn.session,
            &mut self.router,
            &self.shared,
            now,
        );
        self.router.set_section(false);
        self.note_blocked(token);
        if self.router.holding() {
            // A handler that returned early still ends its section.
            self.router.release();
        }
        self.router.exchange();
        self.router.set_start(Some(self.poll_start));
        let latency = self
            .track_latency
            .then(|| &self.shared.worker_stats[self.id].latency);
        let effect = self
            .router
            .deliver_tracked(&mut self.conns, &self.shared, latency);
        Self::apply(effect);
        if let Some(Some(conn)) = self.conns.slots.get_mut(token) {
            if !conn.args.bigs().is_empty() {
                conn.args.clear();
            }
        }
        // Commands that arrived behind it are still in the read buffer.
        self.carry.push(token);
        self.touch(token);
    }

    /// Closes connections idle past `timeout` and those whose output stayed
    /// above the soft limit too long (Redis's `clientsCron` checks).
    fn check_limits(&mut self) {
        let now = self.now_ms;
        let mut close = Vec::new();
        for (token, slot) in self.conns.slots.iter().enumerate() {
            let Some(c) = slot else { continue };
            // As Redis's `clientsCronHandleTimeout`: monitors (replicas to
            // it), clients blocked by a pause, blocked clients and subscribers
            // never time out.
            let exempt =
                c.session.monitor || c.postponed || c.blocked || !c.session.pubsub.is_empty();
            if self.limits.idle_ms > 0
                && !exempt
                && now.saturating_sub(c.last_ms) > self.limits.idle_ms
            {
                tracing::debug!(token, "closing idle client");
                close.push(token);
            } else if c.soft_since > 0
                && now.saturating_sub(c.soft_since) > self.limits.out_of(c).soft_secs * 1000
            {
                tracing::warn!(token, "closing client over the soft output buffer limit");
                close.push(token);
            }
        }
        for token in close {
            self.close(token);
        }
    }

    /// After a command ran: a connection whose command left it waiting
    /// (`session.block`) stops decoding, shows as blocked, and gets its
    /// timer.
    fn note_blocked(&mut self, token: usize) {
        let Some(Some(conn)) = self.conns.slots.get_mut(token) else {
            return;
        };
        let Some(b) = conn.session.block.as_ref() else {
            return;
        };
        if conn.blocked {
            return;
        }
        conn.blocked = true;
        conn.session.client.set_block(Some(b.claim.clone()));
        self.shared.blocking.clients.fetch_add(1, Ordering::Relaxed);
        if b.deadline > 0 {
            self.block_timers
                .push(Reverse((b.deadline, token, conn.session.id)));
        }
    }

    /// Ends the wait of blocked connection `token` with the reply `write`
    /// writes; `forget`: its shards drop the registrations. Decoding
    /// resumes with the commands that arrived behind it.
    fn end_wait(
        &mut self,
        token: usize,
        forget: bool,
        write: impl FnOnce(&mut Vec<u8>, Shape, bool),
    ) {
        let Some(Some(conn)) = self.conns.slots.get_mut(token) else {
            return;
        };
        conn.blocked = false;
        conn.session.client.set_block(None);
        self.shared.blocking.clients.fetch_sub(1, Ordering::Relaxed);
        let Some(b) = conn.session.block.take() else {
            return;
        };
        // CLIENT REPLY OFF or SKIP when it ran silences the answer; nothing
        // can change the mode while the connection waits.
        if !b.silent {
            write(&mut conn.wbuf, b.shape, conn.session.resp == 3);
        }
        if forget {
            let id = conn.session.id;
            self.unblock
                .extend(b.shards.iter().map(|&s| (s as usize, id)));
        }
        self.carry.push(token);
        self.touch(token);
    }

    /// Answers the blocked connections whose deadline passed, unless a
    /// shard or CLIENT UNBLOCK took their claim first (their answer is
    /// on its way).
    fn expire_blocked(&mut self, now: u64) {
        while let Some(&Reverse((at, token, id))) = self.block_timers.peek() {
            if at > now {
                break;
            }
            self.block_timers.pop();
            let Some(Some(conn)) = self.conns.slots.get(token) else {
                continue;
            };
            let current = conn.blocked
                && conn.session.id == id
                && conn
                    .session
                    .block
                    .as_ref()
                    .is_some_and(|b| b.deadline == at);
            if !current || !conn.session.block.as_ref().is_some_and(|b| b.claim()) {
                continue;
            }
            self.end_wait(token, true, crate::blocking::encode_timeout);
        }
    }

    /// Answers the waits that shards (or CLIENT UNBLOCK) ended.
    fn take_served(&mut self) {
        self.shared.blocking.take(self.id, &mut self.served);
        let mut served = std::mem::take(&mut self.served);
        for s in served.drain(..) {
            let token = s.token;
            let Some(Some(conn)) = self.conns.slots.get_mut(token) else {
                continue;
            };
            if !conn.blocked || conn.session.id != s.client {
                continue;
            }
            match s.outcome {
                Outcome::Retry => {
                    // BLMOVE's source is ready and its destination lives on
                    // another shard (or the pop could not be logged): the
                    // command runs again, in a section (it keeps its
                    // deadline in `session.block`).
                    if let Some(b) = conn.session.block.as_ref().filter(|b| b.shards.len() > 1) {
                        let id = conn.session.id;
                        self.unblock
                            .extend(b.shards.iter().map(|&s| (s as usize, id)));
                    }
                    // Its reply stays skipped when it runs again.
                    if conn.session.block.as_ref().is_some_and(|b| b.silent)
                        && conn.session.reply == crate::commands::ReplyMode::On
                    {
                        conn.session.reply = crate::commands::ReplyMode::SkipNext;
                    }
                    conn.blocked = false;
                    conn.session.client.set_block(None);
                    self.shared.blocking.clients.fetch_sub(1, Ordering::Relaxed);
                    conn.deferred = true;
                    self.deferred.push(token);
                }
                outcome => {
                    let all = matches!(outcome, Outcome::Unblocked { .. })
                        || conn
                            .session
                            .block
                            .as_ref()
                            .is_some_and(|b| b.shards.len() > 1);
                    self.end_wait(token, all, |out, shape, resp3| {
                        crate::blocking::encode_outcome(out, shape, &outcome, resp3)
                    });
                }
            }
        }
        self.served = served;
    }

    /// Queues ops that drop the registrations of ended waits; nobody
    /// reads their replies.
    fn forget_blocks(&mut self) {
        self.router
            .begin(crate::exchange::NO_CONN, crate::exchange::Merge::AllOk);
        for (shard, client) in std::mem::take(&mut self.unblock) {
            self.router.shard_op(shard, 0, |_| {
                shards::ops::block::BlockOp::Forget { client }.into()
            });
        }
    }

    /// Queues ops that forget the WATCHes of connections closed since the
    /// last round; nobody reads their replies.
    fn forget_watches(&mut self) {
        self.router
            .begin(crate::exchange::NO_CONN, crate::exchange::Merge::AllOk);
        for (shard, client) in std::mem::take(&mut self.unwatch) {
            if shard == ALL_SHARDS {
                for s in 0..self.router.shards() {
                    self.router.shard_op(s, 0, |_| {
                        shards::ops::server::SrvOp::Untrack { client }.into()
                    });
                }
                continue;
            }
            self.router.shard_op(shard, 0, |_| {
                shards::ops::server::SrvOp::Unwatch { client }.into()
            });
        }
    }

    /// Registers the connections other workers accepted for this one.
    fn accept_new(&mut self) {
        while let Ok((stream, id, peer)) = self.new_conns.try_recv() {
            self.add_conn(stream, id, peer);
        }
    }

    /// Registers connection `id` (assigned to this worker) and its session.
    fn add_conn(&mut self, mut stream: TcpStream, id: u64, peer: std::net::SocketAddr) {
        let local = match &self.local_addr {
            Some(a) => a.clone(),
            None => stream
                .local_addr()
                .map_or("?:0".to_string(), |a| a.to_string()),
        };
        let fd = stream.as_raw_fd();
        let token = self.conns.free.pop().unwrap_or(self.conns.slots.len());
        if self
            .poll
            .registry()
            .register(&mut stream, Token(token), Interest::READABLE)
            .is_err()
        {
            self.conns.free.push(token);
            self.shared.registry.unassign(self.id);
            self.shared.clients.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let now = shards::clock::unix_ms();
        let client = Arc::new(Client::new(
            id,
            self.id,
            token,
            peer.to_string(),
            local,
            fd,
            now,
        ));
        self.shared.registry.add(client.clone());
        let conn = Conn {
            stream,
            // Allocated on the first read: idle connections cost little.
            rbuf: Vec::new(),
            rstart: 0,
            rend: 0,
            big: None,
            wbuf: Vec::new(),
            wpos: 0,
            decoder: Decoder::default(),
            args: Args::default(),
            session: Session::new(client, &self.shared),
            writable: false,
            eof: false,
            in_round: false,
            deferred: false,
            paused: false,
            postponed: false,
            last_ms: self.now_ms,
            soft_since: 0,
            hup: false,
            backlog: false,
            reply_avg: INITIAL_REPLY_GUESS,
            out_mark: 0,
            round_cmds: 0,
            read_epoch: self.epoch,
            inflight: false,
            missed: false,
            counted: 0,
            blocked: false,
            held: Vec::new(),
        };
        if token == self.conns.slots.len() {
            self.conns.slots.push(Some(conn));
        } else {
            self.conns.slots[token] = Some(conn);
        }
    }

    /// Closes the connections CLIENT KILL chose (from any worker): their
    /// output is dropped and they close once this round's replies are written.
    fn kill_queued(&mut self) {
        for (token, id) in self.shared.registry.take_kills(self.id) {
            if let Some(Some(c)) = self.conns.slots.get_mut(token) {
                if c.session.client.id == id {
                    c.session.close = true;
                    c.wbuf.clear();
                    c.wpos = 0;
                    self.touch(token);
                }
            }
        }
    }

    fn touch(&mut self, token: usize) {
        if let Some(Some(c)) = self.conns.slots.get_mut(token) {
            if !c.in_round {
                c.in_round = true;
                self.touched.push(token);
            }
        }
    }

    /// Reads what `token` sent and dispatches every complete command. `hup`:
    /// the event also reported the peer's FIN (or an error), which raises
    /// no later edge, so reading goes on until it is seen.
    fn read_and_dispatch(&mut self, token: usize, now: u64, hup: bool) {
        if let Some(Some(conn)) = self.conns.slots.get_mut(token) {
            if conn.inflight {
                // Its replies come first; the edge is remembered.
                conn.hup |= hup;
                conn.missed = true;
                return;
            }
        }
        self.touch(token);
        let Some(Some(conn)) = self.conns.slots.get_mut(token) else {
            return;
        };
        // A connection CLIENT KILL chose runs nothing more, even before its
        // worker gets the kill.
        if conn.session.close || conn.session.client.killed() {
            return;
        }
        // Remembered: a paused or budget-limited connection reads later,
        // without this event, and must still look for the FIN.
        conn.hup |= hup;
        if self.limits.pause > 0 && conn.pending_out() > self.limits.pause {
            // Backpressure: leave the requests in the socket; `flush` resumes
            // reading once the replies drain.
            conn.paused = true;
            return;
        }
        let stats = &self.shared.worker_stats[self.id];
        let mut total = 0;
        // Requests already buffered are decoded before more are read, so a
        // connection held back by its reply budget does not grow its buffer.
        // (Only then: a frame still incomplete always reads on.)
        let read_more = !conn.backlog || conn.rend - conn.rstart < READ_PER_ROUND;
        while read_more && !conn.eof {
            if let Some(big) = conn.big.as_mut().filter(|b| !b.complete()) {
                // A big argument: straight into its own buffer, and no
                // further than its end (what follows goes to `rbuf`, read
                // on below until the socket is drained: no new edge comes
                // for bytes already there).
                let room = big.room();
                let asked = room.len();
                match conn.stream.read(room) {
                    Ok(0) => {
                        conn.eof = true;
                        break;
                    }
                    Ok(n) => {
                        big.filled += n;
                        total += n;
                        conn.read_epoch = self.epoch;
                        if n < asked && !conn.hup {
                            break;
                        }
                        if total >= READ_PER_ROUND {
                            self.carry.push(token);
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        conn.eof = true;
                        break;
                    }
                }
                continue;
            }
            if conn.rend == conn.rbuf.len() {
                if conn.rstart > 0 {
                    conn.rbuf.copy_within(conn.rstart..conn.rend, 0);
                    conn.rend -= conn.rstart;
                    conn.rstart = 0;
                }
                if conn.rend == conn.rbuf.len() {
                    // Grow geometrically, and for a bulk whose length is
                    // known no further than it needs. Never to the declared
                    // length in one step: `$536870912` followed by silence
                    // would cost 512 MB of zeroed (resident) buffer per
                    // connection. Memory follows the bytes that arrived.
                    let mut len = (conn.rbuf.len() * 2).max(READ_CHUNK);
                    if let Some(b) = conn.decoder.pending_bulk() {
                        len = len
                            .min(conn.rend.saturating_add(b + 2))
                            .max(conn.rbuf.len() + READ_CHUNK);
                    }
                    conn.rbuf.resize(len, 0);
                }
            }
            match conn.stream.read(&mut conn.rbuf[conn.rend..]) {
                Ok(0) => {
                    conn.eof = true;
                    break;
                }
                Ok(n) => {
                    conn.rend += n;
                    total += n;
                    conn.read_epoch = self.epoch;
                    // A short read drained the socket; the next arrival
                    // raises a new edge, so no extra read to see WouldBlock.
                    // Not so a FIN that came with the data: it was in this
                    // event already, and only a read returning 0 shows it.
                    if conn.rend < conn.rbuf.len() && !conn.hup {
                        break;
                    }
                    if total >= READ_PER_ROUND {
                        self.carry.push(token);
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    conn.eof = true;
                    break;
                }
            }
        }
        stats.net_in.fetch_add(total as u64, Ordering::Relaxed);
        if total > 0 {
            conn.last_ms = now;
        }

        // How many commands this round may decode: what keeps the replies
        // they are expected to produce (by this connection's recent reply
        // sizes) under the pause threshold. Replies are only known after the
        // shards answer, so this is what bounds one round's output.
        let budget = if self.limits.pause == 0 {
            usize::MAX
        } else {
            (self.limits.pause.saturating_sub(conn.pending_out()) / conn.reply_avg.max(16))
                .clamp(MIN_ROUND_COMMANDS, MAX_ROUND_COMMANDS)
        };
        conn.out_mark = conn.wbuf.len();
        let replies_before = self.router.pending_len();
        let mut decoded = 0;
        conn.backlog = false;
        while !conn.session.close && !conn.deferred && !conn.postponed && !conn.blocked {
            if decoded == budget {
                conn.backlog = true;
                self.carry.push(token);
                break;
            }
            let mut finished_big = false;
            let step = match conn.big.take() {
                Some(big) if big.complete() => {
                    finished_big = true;
                    Ok((
                        conn.decoder.finish_big(&mut conn.args, big.into_payload()),
                        0,
                    ))
                }
                Some(big) => {
                    // The rest of it has not come yet.
                    conn.big = Some(big);
                    break;
                }
                None => {
                    let buf = &conn.rbuf[conn.rstart..conn.rend];
                    conn.decoder.set_unauthenticated(
                        !conn.session.authenticated && self.shared.auth_required(),
                    );
                    conn.decoder
                        .decode(buf, &mut conn.args, self.limits.max_bulk)
                }
            };
            match step {
                Err(e) => {
                    let msg = format!("ERR {e}");
                    self.router.set_conn_flags(conn.session.reply_flags());
                    self.router.reply(token, |out| encode::error(out, &msg));
                    tracing::debug!(token, error = %e, "protocol error, closing connection");
                    conn.session.close = true;
                    conn.rstart = conn.rend;
                }
                Ok((what, n)) => {
                    conn.rstart += n;
                    if what == Decoded::Incomplete {
                        if finished_big {
                            // More arguments may follow in `rbuf`.
                            continue;
                        }
                        match conn.decoder.pending_bulk() {
                            Some(len) if len >= BIG_ARG => {
                                // The header of a big argument: its bytes go
                                // to a buffer of their own from here on.
                                let big = BigRead::new(len, &conn.rbuf[conn.rstart..conn.rend]);
                                conn.rstart += big.filled;
                                conn.big = Some(big);
                                continue;
                            }
                            _ => break,
                        }
                    }
                    if !conn.args.is_empty() {
                        decoded += 1;
                        commands::dispatch(
                            None,
                            &conn.args,
                            token,
                            &mut conn.session,
                            &mut self.router,
                            &self.shared,
                            now,
                        );
                        if self.router.take_postponed() {
                            conn.postponed = true;
                            self.postponed.push(token);
                        } else if self.router.take_deferred() {
                            conn.deferred = true;
                            self.deferred.push(token);
                        } else if !conn.args.bigs().is_empty() {
                            // Its batches hold what they need: let a big
                            // argument go when they are done with it.
                            conn.args.clear();
                        }
                    }
                }
            }
        }
        let unprocessed =
            conn.rend - conn.rstart + conn.args.bytes() + conn.big.as_ref().map_or(0, |b| b.filled);
        if !conn.session.close && unprocessed > self.limits.query {
            // Redis closes such a client without a reply (freeClientAsync).
            tracing::warn!(
                token,
                limit = self.limits.query,
                "closing client that reached max query buffer length"
            );
            conn.session.close = true;
            conn.rstart = conn.rend;
            conn.rbuf = Vec::new();
            conn.args = Args::default();
            conn.big = None;
        }
        if conn.rstart == conn.rend {
            conn.rstart = 0;
            conn.rend = 0;
            if conn.rbuf.len() > SHRINK_ABOVE {
                self.freed += conn.rbuf.len();
                conn.rbuf = vec![0; READ_CHUNK];
            }
        }
        conn.round_cmds += decoded;
        if self.router.pending_len() > replies_before {
            self.router.note_conn(token);
            conn.inflight = true;
        }
        // Once per read, not per command: what CLIENT LIST shows.
        conn.recount(stats);
        let clamp = |n: usize| n.min(u32::MAX as usize) as u32;
        conn.session.publish(
            now,
            Some((
                clamp(conn.rend - conn.rstart),
                clamp(conn.rbuf.len()),
                conn.counted,
            )),
        );
        if conn.eof {
            conn.session.close = true;
        } else if !read_more && !conn.session.close {
            // This pass decoded what was buffered without reading: the
            // socket may hold bytes whose edge came and went, and no new
            // one comes for them. Read again next pass.
            self.carry.push(token);
        }
    }

    fn flush(&mut self, token: usize) {
        let Some(Some(conn)) = self.conns.slots.get_mut(token) else {
            return;
        };
        if conn.inflight {
            // Answered earlier this pass, then it read again: what is
            // encoded goes out now, not after its next round. The buffer
            // stays as it is (`out_mark` points into it) and the limits,
            // WRITABLE interest and closing wait for that round's delivery,
            // which flushes it again.
            let (written, failed) = conn.write_out();
            self.shared.worker_stats[self.id]
                .net_out
                .fetch_add(written as u64, Ordering::Relaxed);
            if written > 0 {
                conn.last_ms = self.now_ms;
            }
            let hard = self.limits.out_of(conn).hard;
            if failed || (hard > 0 && conn.unsent() > hard) {
                // Reads nothing more; closed by the flush after delivery.
                conn.session.close = true;
            }
            return;
        }
        conn.in_round = false;
        conn.note_replies();
        let (written, failed) = conn.write_out();
        self.shared.worker_stats[self.id]
            .net_out
            .fetch_add(written as u64, Ordering::Relaxed);
        if failed {
            self.close(token);
            return;
        }
        if written > 0 {
            conn.last_ms = self.now_ms;
        }
        let pending = conn.unsent();
        conn.session.client.set_unsent(pending);
        let out = self.limits.out_of(conn);
        if out.hard > 0 && pending > out.hard {
            tracing::warn!(
                token,
                pending,
                "closing client over the hard output buffer limit"
            );
            self.close(token);
            return;
        }
        if out.soft > 0 && pending > out.soft {
            if conn.soft_since == 0 {
                conn.soft_since = self.now_ms.max(1);
            }
        } else {
            conn.soft_since = 0;
        }
        if conn.paused && pending as usize <= self.limits.pause / 2 {
            conn.paused = false;
            self.carry.push(token);
        }
        if conn.wpos == conn.wbuf.len() {
            conn.wbuf.clear();
            conn.wpos = 0;
            if conn.wbuf.capacity() > SHRINK_ABOVE {
                self.freed += conn.wbuf.capacity();
                conn.wbuf = Vec::new();
            }
        }
        conn.recount(&self.shared.worker_stats[self.id]);
        if conn.wpos == conn.wbuf.len() {
            if conn.session.close {
                self.close(token);
                return;
            }
            if conn.writable {
                conn.writable = false;
                let _ = self.poll.registry().reregister(
                    &mut conn.stream,
                    Token(token),
                    Interest::READABLE,
                );
            }
        } else if !conn.writable {
            conn.writable = true;
            let _ = self.poll.registry().reregister(
                &mut conn.stream,
                Token(token),
                Interest::READABLE | Interest::WRITABLE,
            );
        }
    }

    /// Frees the buffers of connections that read nothing since the
    /// previous sweep and hold no unconsumed input or unsent output. A
    /// connection that has spoken once would otherwise keep its 16 KB read
    /// buffer for life: 10,000 idle ones held 160 MB. The next read
    /// allocates it again.
    fn sweep(&mut self) {
        self.last_sweep = Instant::now();
        self.epoch = self.epoch.wrapping_add(1);
        for conn in self.conns.slots.iter_mut().flatten() {
            if self.epoch.wrapping_sub(conn.read_epoch) < 2 || conn.in_round {
                continue;
            }
            if conn.rstart == conn.rend && !conn.rbuf.is_empty() {
                self.freed += conn.rbuf.len();
                conn.rbuf = Vec::new();
                conn.rstart = 0;
                conn.rend = 0;
            }
            if conn.wpos == conn.wbuf.len() && conn.wbuf.capacity() > 0 {
                self.freed += conn.wbuf.capacity();
                conn.wbuf = Vec::new();
                conn.wpos = 0;
            }
            if conn.decoder.between_commands() && conn.args.capacity() > 0 {
                self.freed += conn.args.capacity();
                conn.args = Args::default();
            }
            conn.recount(&self.shared.worker_stats[self.id]);
        }
    }

    fn close(&mut self, token: usize) {
        if let Some(Some(conn)) = self.conns.slots.get_mut(token) {
            if conn.inflight {
                // Its token must outlive the round that will answer it:
                // closed by the flush after delivery.
                conn.session.close = true;
                return;
            }
        }
        if let Some(mut conn) = self.conns.slots.get_mut(token).and_then(Option::take) {
            if conn.session.monitor {
                self.unmonitor(token);
                self.shared.bump_epoch();
            }
            if conn.blocked {
                // Whoever took the claim first answers; a shard that did
                // answers a connection that is gone.
                if let Some(b) = conn.session.block.take() {
                    b.claim();
                    let id = conn.session.id;
                    self.unblock
                        .extend(b.shards.iter().map(|&s| (s as usize, id)));
                }
                conn.session.client.set_block(None);
                self.shared.blocking.clients.fetch_sub(1, Ordering::Relaxed);
            }
            conn.session.leave_pubsub(&self.shared);
            // Closing the socket (when `conn` drops) takes it out of the
            // poll: no descriptor of it is left open anywhere.
            let id = conn.session.id;
            self.unwatch
                .extend(conn.session.take_watched_shards().map(|s| (s, id)));
            if let Some(t) = conn.session.tracking.take() {
                self.shared.tracking.off(id);
                if t.bcast {
                    self.unwatch.push((ALL_SHARDS, id));
                }
            }
            self.shared.tracking.closed(
                id,
                &self.shared.pubsub,
                &self.shared.registry,
                self.shared.workers,
            );
            self.shared.registry.remove(&conn.session.client);
            self.freed += conn.mem() as usize;
            self.shared.worker_stats[self.id]
                .client_mem
                .fetch_sub(conn.counted, Ordering::Relaxed);
            self.conns.free.push(token);
            self.shared.clients.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
