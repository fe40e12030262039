//! A worker thread: one mio event loop owning its connections.
//!
//! Each poll round: read what every ready connection has sent, decode every
//! complete frame (pipelining), route the commands to the shards through the
//! router (one batch per shard), wait for the batches to come back, encode
//! the replies in request order, and write them out. A partial write arms
//! WRITABLE interest for that connection until its output drains.

use crate::clients::Client;
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
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Token of the waker the acceptor uses to hand over connections.
pub const WAKER_TOKEN: Token = Token(usize::MAX);
/// Smallest read buffer; also the size a drained buffer shrinks back to.
const READ_CHUNK: usize = 16 * 1024;
/// Bytes read from one connection per round before others get a turn.
const READ_PER_ROUND: usize = 1 << 20;
/// Buffers larger than this are released once they drain.
const SHRINK_ABOVE: usize = 1 << 20;

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
    new_conns: Receiver<(std::net::TcpStream, u64)>,
    to_shards: Vec<Sender<Batch>>,
    replies: Receiver<Batch>,
    router: Router,
    conns: Conns,
    touched: Vec<usize>,
    carry: Vec<usize>,
    track_latency: bool,
}

impl Worker {
    /// Creates worker `id`; `replies` is its own reply queue from the shards;
    /// new connections arrive on `new_conns` with their CLIENT ID.
    pub fn new(
        id: usize,
        shared: Arc<Shared>,
        new_conns: Receiver<(std::net::TcpStream, u64)>,
        to_shards: Vec<Sender<Batch>>,
        replies: Receiver<Batch>,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER_TOKEN)?);
        shared.registry.set_waker(id, waker.clone());
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
            let timeout = if self.carry.is_empty() {
                None
            } else {
                Some(std::time::Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                panic!("worker {} poll failed: {e}", self.id);
            }
            let now = shards::clock::unix_ms();
            let round_start = self.track_latency.then(std::time::Instant::now);
            for token in std::mem::take(&mut self.carry) {
                self.read_and_dispatch(token, now);
            }
            for ev in events.iter() {
                let token = ev.token();
                if token == WAKER_TOKEN {
                    self.accept_new();
                    self.kill_queued();
                    continue;
                }
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    self.read_and_dispatch(token.0, now);
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
        }
    }

    fn accept_new(&mut self) {
        while let Ok((stream, id)) = self.new_conns.try_recv() {
            let addr = |a: io::Result<std::net::SocketAddr>| {
                a.map_or("?:0".to_string(), |a| a.to_string())
            };
            let (peer, local, fd) = (
                addr(stream.peer_addr()),
                addr(stream.local_addr()),
                stream.as_raw_fd(),
            );
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
            let now = shards::clock::unix_ms();
            let client = Arc::new(Client::new(id, self.id, token, peer, local, fd, now));
            self.shared.registry.add(client.clone());
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
                session: Session::new(client, &self.shared),
                writable: false,
                eof: false,
                in_round: false,
            };
            if token == self.conns.slots.len() {
                self.conns.slots.push(Some(conn));
            } else {
                self.conns.slots[token] = Some(conn);
            }
            self.shared.clients.fetch_add(1, Ordering::Relaxed);
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

    fn read_and_dispatch(&mut self, token: usize, now: u64) {
        self.touch(token);
        let Some(Some(conn)) = self.conns.slots.get_mut(token) else {
            return;
        };
        // A connection CLIENT KILL chose runs nothing more, even before its
        // worker gets the kill.
        if conn.session.close || conn.session.client.killed() {
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
                    // Grow geometrically; for a big bulk whose length is
                    // known, grow once to hold it whole.
                    let want = conn.decoder.pending_bulk().map_or(0, |b| conn.rend + b + 2);
                    let len = (conn.rbuf.len() * 2).max(want).max(READ_CHUNK);
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
                    // A short read drained the socket; the next arrival
                    // raises a new edge, so no extra read to see WouldBlock.
                    if conn.rend < conn.rbuf.len() {
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
                    self.router.set_conn_flags(conn.session.reply_flags());
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
                conn.rbuf = vec![0; READ_CHUNK];
            }
        }
        // Once per read, not per command: what CLIENT LIST shows.
        let mem = conn.rbuf.capacity()
            + conn.wbuf.capacity()
            + conn.args.capacity()
            + std::mem::size_of::<Conn>();
        let clamp = |n: usize| n.min(u32::MAX as usize) as u32;
        conn.session.publish(
            now,
            Some((
                clamp(conn.rend - conn.rstart),
                clamp(conn.rbuf.len()),
                mem as u64,
            )),
        );
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

    fn close(&mut self, token: usize) {
        if let Some(mut conn) = self.conns.slots.get_mut(token).and_then(Option::take) {
            let _ = self.poll.registry().deregister(&mut conn.stream);
            self.shared.registry.remove(&conn.session.client);
            self.conns.free.push(token);
            self.shared.clients.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
