//! A worker thread: one mio event loop owning its connections.
//!
//! Each poll round: read what every ready connection has sent, decode every
//! complete frame (pipelining), route the commands to the shards through the
//! router (one batch per shard), wait for the batches to come back, encode
//! the replies in request order, and write them out. A partial write arms
//! WRITABLE interest for that connection until its output drains.

use crate::cmd::{self, Session};
use crate::config::PROTO_MAX_BULK_LEN;
use crate::resp::{encode, Args, Decoded, Decoder};
use crate::router::{ReplySink, Router};
use crate::server::Shared;
use crossbeam_channel::{Receiver, Sender};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use shards::Batch;
use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Token of the waker the acceptor uses to hand over connections.
pub const WAKER_TOKEN: Token = Token(usize::MAX);
/// Smallest read buffer; also the size a drained buffer shrinks back to.
const READ_CHUNK: usize = 16 * 1024;
/// Bytes read from one connection per round before others get a turn.
const READ_PER_ROUND: usize = 1 << 20;
/// Buffers larger than this are released once they drain.
const SHRINK_ABOVE: usize = 1 << 20;
/// The least time between two `release_free_memory` calls of one worker:
/// `malloc_trim` walks every arena, so it runs at most once a second, and
/// only after this worker freed more than `SHRINK_ABOVE` bytes of buffers.
const TRIM_INTERVAL: Duration = Duration::from_secs(1);
/// How often a worker takes back the buffers of idle connections; one idle
/// for a whole interval (1 to 2 s) gives them up, as Redis frees the query
/// buffer of a client idle for 2 s.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

struct Conn {
    stream: TcpStream,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
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
    /// The worker's sweep epoch of the last read that brought bytes.
    read_epoch: u32,
}

#[derive(Default)]
struct Conns {
    slots: Vec<Option<Conn>>,
    free: Vec<usize>,
}

impl ReplySink for Conns {
    fn out(&mut self, token: usize) -> Option<&mut Vec<u8>> {
        self.slots.get_mut(token)?.as_mut().map(|c| &mut c.wbuf)
    }
}

/// A worker and everything it owns.
pub struct Worker {
    id: usize,
    poll: Poll,
    waker: Arc<Waker>,
    shared: Arc<Shared>,
    new_conns: Receiver<std::net::TcpStream>,
    to_shards: Vec<Sender<Batch>>,
    replies: Receiver<Batch>,
    router: Router,
    conns: Conns,
    touched: Vec<usize>,
    carry: Vec<usize>,
    track_latency: bool,
    /// Bytes of connection buffers freed since the last trim.
    freed: usize,
    last_trim: Instant,
    /// Incremented by every sweep of idle connections.
    epoch: u32,
    last_sweep: Instant,
}

impl Worker {
    /// Creates worker `id`; `replies` is its own reply queue from the shards.
    pub fn new(
        id: usize,
        shared: Arc<Shared>,
        new_conns: Receiver<std::net::TcpStream>,
        to_shards: Vec<Sender<Batch>>,
        replies: Receiver<Batch>,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER_TOKEN)?);
        let router = Router::new(id, to_shards.len());
        Ok(Worker {
            id,
            poll,
            waker,
            new_conns,
            to_shards,
            replies,
            router,
            conns: Conns::default(),
            touched: Vec::new(),
            carry: Vec::new(),
            track_latency: shared.config.latency_tracking == crate::config::YesNo::Yes,
            freed: 0,
            last_trim: Instant::now(),
            epoch: 0,
            last_sweep: Instant::now(),
            shared,
        })
    }

    /// The waker the acceptor calls after queueing a connection.
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// Runs the event loop forever.
    pub fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            // Wake up for the next sweep (and a trim due) even with no traffic.
            let timeout = if self.carry.is_empty() {
                SWEEP_INTERVAL.saturating_sub(self.last_sweep.elapsed())
            } else {
                Duration::ZERO
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                panic!("worker {} poll failed: {e}", self.id);
            }
            let now = shards::clock::unix_ms();
            let round_start = self.track_latency.then(std::time::Instant::now);
            for token in std::mem::take(&mut self.carry) {
                self.read_and_dispatch(token, now, false);
            }
            for ev in events.iter() {
                let token = ev.token();
                if token == WAKER_TOKEN {
                    self.accept_new();
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
            if self.router.has_pending() {
                self.router.exchange(&self.to_shards, &self.replies);
                self.router.deliver(&mut self.conns, &self.shared);
                if let Some(t0) = round_start {
                    // Every command of the round waited from the round's
                    // start until its reply was encoded: one record per
                    // command kind per round keeps the cost off the
                    // per-request path.
                    let micros = t0.elapsed().as_micros() as u64;
                    let stats = &self.shared.worker_stats[self.id];
                    let mut lat = stats.latency.lock().unwrap_or_else(|p| p.into_inner());
                    self.router.record_latency(&mut lat, micros);
                }
            }
            for i in 0..self.touched.len() {
                let token = self.touched[i];
                self.flush(token);
            }
            self.touched.clear();
            if self.last_sweep.elapsed() >= SWEEP_INTERVAL {
                self.sweep();
            }
            if self.freed > SHRINK_ABOVE && self.last_trim.elapsed() >= TRIM_INTERVAL {
                release_free_memory();
                self.freed = 0;
                self.last_trim = Instant::now();
            }
        }
    }

    fn accept_new(&mut self) {
        while let Ok(stream) = self.new_conns.try_recv() {
            let mut stream = TcpStream::from_std(stream);
            let token = self.conns.free.pop().unwrap_or(self.conns.slots.len());
            if self
                .poll
                .registry()
                .register(&mut stream, Token(token), Interest::READABLE)
                .is_err()
            {
                continue;
            }
            let conn = Conn {
                stream,
                // Allocated on the first read: idle connections cost little.
                rbuf: Vec::new(),
                rstart: 0,
                rend: 0,
                wbuf: Vec::new(),
                wpos: 0,
                decoder: Decoder::default(),
                args: Args::default(),
                session: Session::default(),
                writable: false,
                eof: false,
                in_round: false,
                read_epoch: self.epoch,
            };
            if token == self.conns.slots.len() {
                self.conns.slots.push(Some(conn));
            } else {
                self.conns.slots[token] = Some(conn);
            }
            self.shared.clients.fetch_add(1, Ordering::Relaxed);
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
        self.touch(token);
        let Some(Some(conn)) = self.conns.slots.get_mut(token) else {
            return;
        };
        if conn.session.close {
            return;
        }
        let stats = &self.shared.worker_stats[self.id];
        let mut total = 0;
        loop {
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
                    if conn.rend < conn.rbuf.len() && !hup {
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

        while !conn.session.close {
            let buf = &conn.rbuf[conn.rstart..conn.rend];
            match conn.decoder.decode(buf, &mut conn.args, PROTO_MAX_BULK_LEN) {
                Err(e) => {
                    let msg = format!("ERR {e}");
                    self.router.reply(token, |out| encode::error(out, &msg));
                    tracing::debug!(token, error = %e, "protocol error, closing connection");
                    conn.session.close = true;
                    conn.rstart = conn.rend;
                }
                Ok((what, n)) => {
                    conn.rstart += n;
                    if what == Decoded::Incomplete {
                        break;
                    }
                    if !conn.args.is_empty() {
                        cmd::dispatch(
                            &conn.args,
                            token,
                            &mut conn.session,
                            &mut self.router,
                            &self.shared,
                            now,
                        );
                    }
                }
            }
        }
        if conn.rstart == conn.rend {
            conn.rstart = 0;
            conn.rend = 0;
            if conn.rbuf.len() > SHRINK_ABOVE {
                self.freed += conn.rbuf.len();
                conn.rbuf = vec![0; READ_CHUNK];
            }
        }
        if conn.eof {
            conn.session.close = true;
        }
    }

    fn flush(&mut self, token: usize) {
        let Some(Some(conn)) = self.conns.slots.get_mut(token) else {
            return;
        };
        conn.in_round = false;
        let mut written = 0;
        let mut failed = false;
        while conn.wpos < conn.wbuf.len() {
            match conn.stream.write(&conn.wbuf[conn.wpos..]) {
                Ok(0) => {
                    failed = true;
                    break;
                }
                Ok(n) => {
                    conn.wpos += n;
                    written += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        self.shared.worker_stats[self.id]
            .net_out
            .fetch_add(written as u64, Ordering::Relaxed);
        if failed {
            self.close(token);
            return;
        }
        if conn.wpos == conn.wbuf.len() {
            conn.wbuf.clear();
            conn.wpos = 0;
            if conn.wbuf.capacity() > SHRINK_ABOVE {
                self.freed += conn.wbuf.capacity();
                conn.wbuf = Vec::new();
            }
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
        }
    }

    fn close(&mut self, token: usize) {
        if let Some(mut conn) = self.conns.slots.get_mut(token).and_then(Option::take) {
            let _ = self.poll.registry().deregister(&mut conn.stream);
            self.freed += conn.rbuf.len() + conn.wbuf.capacity() + conn.args.capacity();
            self.conns.free.push(token);
            self.shared.clients.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Hands the pages malloc holds free back to the kernel.
///
/// glibc keeps what a thread frees in that thread's arena, and after the
/// first big `free` it raises its mmap threshold, so later multi-megabyte
/// buffers come from arenas too. Without a trim, the buffers of connections
/// that sent (or declared and half-sent) big values stay resident after
/// they close: 50 such connections left 64 MB of RSS behind that only this
/// call gave back. Other allocators return memory on their own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_memory() {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::os::raw::c_int;
    }
    // SAFETY: `malloc_trim` takes no pointer and works under each arena's
    // own lock; glibc allows it from any thread at any time.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() {}
