//! The client registry: one row per open connection, for CLIENT LIST, INFO
//! and KILL across worker threads.
//!
//! A connection belongs to one worker. Its `Client` row is shared (`Arc`)
//! between the connection's `Session` and its worker's slot table here.
//! What never changes (id, addresses, fd, creation time) is set once. What
//! changes per command stays in the `Session` and is *published* into the
//! row's atomics once per read round (last command, db, protocol, buffer
//! sizes, last interaction), so the request path takes no lock and shares
//! no cache line with another worker. A slot table's mutex is taken on
//! connect, on close and by CLIENT LIST / KILL; a row's names only by
//! SETNAME, SETINFO, HELLO SETNAME, RESET and the listing.
//!
//! CLIENT KILL of a connection marks its row killed (listings skip it from
//! then on), queues it on the owning worker and wakes that worker through
//! its mio `Waker`; the worker closes the connection on its next loop turn.

use crossbeam_channel::Sender;
use mio::Waker;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// A connection's names, set by CLIENT SETNAME / SETINFO and HELLO.
#[derive(Debug, Default, Clone)]
pub struct Names {
    /// CLIENT SETNAME (empty: none).
    pub name: Vec<u8>,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Vec<u8>,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: Vec<u8>,
    /// The user it authenticated as (empty: `default`).
    pub user: Vec<u8>,
}

/// What a worker publishes about a connection once per read round.
#[derive(Debug, Clone, Copy, Default)]
pub struct Activity {
    /// The last command (see `session::Session::last_cmd`).
    pub last_cmd: u32,
    /// Selected database.
    pub db: u8,
    /// Protocol version, 2 or 3.
    pub resp: u8,
    /// CLIENT NO-EVICT is on.
    pub no_evict: bool,
    /// CLIENT NO-TOUCH is on.
    pub no_touch: bool,
    /// In MONITOR mode.
    pub monitor: bool,
    /// Subscribed channels, patterns and shard channels.
    pub subs: [u32; 3],
    /// Unix ms of the last read.
    pub last_ms: u64,
    /// Bytes of input not yet parsed.
    pub qbuf: u32,
    /// Size of the read buffer.
    pub rbs: u32,
    /// Bytes the connection holds (buffers and bookkeeping).
    pub mem: u64,
    /// CLIENT TRACKING: its redirect (0: none), -1 when off.
    pub redir: i64,
    /// CLIENT TRACKING is in BCAST mode.
    pub bcast: bool,
    /// Its CLIENT TRACKING REDIRECT target closed.
    pub broken: bool,
}

/// One connection's row.
#[derive(Debug)]
pub struct Client {
    /// CLIENT ID: unique for the server's life.
    pub id: u64,
    /// The worker that owns the connection.
    pub worker: usize,
    /// The connection's token in its worker.
    pub token: usize,
    /// Peer address as Redis prints it (`ip:port`).
    pub addr: String,
    /// Local address (`ip:port`).
    pub laddr: String,
    /// Socket file descriptor.
    pub fd: i32,
    /// Unix ms when the connection was accepted.
    pub created_ms: u64,
    /// `last_cmd` | db << 32 | resp << 40 | no_evict << 48 | no_touch << 49
    /// | monitor << 50.
    state: AtomicU64,
    last_ms: AtomicU64,
    /// qbuf | rbs << 32.
    bufs: AtomicU64,
    mem: AtomicU64,
    /// Output not yet sent (CLIENT LIST's obl, oll, omem).
    out: AtomicU64,
    /// Channels | patterns << 32.
    subs: AtomicU64,
    /// Shard channels | tracking's broken redirect << 62 | BCAST << 63.
    ssubs: AtomicU64,
    /// CLIENT TRACKING's redirect, as `Activity::redir`.
    redir: std::sync::atomic::AtomicI64,
    killed: AtomicBool,
    names: Mutex<Names>,
    /// The claim of the blocking command it waits in, if any (CLIENT
    /// UNBLOCK takes it; CLIENT LIST shows `b`).
    block: Mutex<Option<Arc<AtomicBool>>>,
}

impl Client {
    /// A row for connection `token` of `worker`.
    pub fn new(
        id: u64,
        worker: usize,
        token: usize,
        addr: String,
        laddr: String,
        fd: i32,
        now_ms: u64,
    ) -> Client {
        Client {
            id,
            worker,
            token,
            addr,
            laddr,
            fd,
            created_ms: now_ms,
            state: AtomicU64::new(2 << 40),
            last_ms: AtomicU64::new(now_ms),
            bufs: AtomicU64::new(0),
            mem: AtomicU64::new(0),
            out: AtomicU64::new(0),
            subs: AtomicU64::new(0),
            ssubs: AtomicU64::new(0),
            redir: std::sync::atomic::AtomicI64::new(-1),
            killed: AtomicBool::new(false),
            names: Mutex::new(Names::default()),
            block: Mutex::new(None),
        }
    }

    /// True when the connection runs as user `name`.
    pub fn is_user(&self, name: &[u8]) -> bool {
        let names = self.names();
        if names.user.is_empty() {
            name == b"default"
        } else {
            names.user == name
        }
    }

    /// A row that belongs to no registry (a session outside a worker).
    pub fn detached() -> Client {
        Client::new(0, 0, 0, String::new(), String::new(), -1, 0)
    }

    /// Publishes the connection's changing fields (its worker only).
    pub fn publish(&self, a: &Activity) {
        let state = a.last_cmd as u64
            | (a.db as u64) << 32
            | (a.resp as u64) << 40
            | (a.no_evict as u64) << 48
            | (a.no_touch as u64) << 49
            | (a.monitor as u64) << 50;
        self.state.store(state, Ordering::Relaxed);
        self.last_ms.store(a.last_ms, Ordering::Relaxed);
        self.bufs
            .store(a.qbuf as u64 | (a.rbs as u64) << 32, Ordering::Relaxed);
        self.mem.store(a.mem, Ordering::Relaxed);
        self.subs.store(
            a.subs[0] as u64 | (a.subs[1] as u64) << 32,
            Ordering::Relaxed,
        );
        self.ssubs.store(
            a.subs[2] as u64 | (a.bcast as u64) << 63 | (a.broken as u64) << 62,
            Ordering::Relaxed,
        );
        self.redir.store(a.redir, Ordering::Relaxed);
    }

    /// Publishes the output not yet sent (its worker, after each write).
    #[inline]
    pub fn set_unsent(&self, bytes: u64) {
        self.out.store(bytes, Ordering::Relaxed);
    }

    /// CLIENT LIST's `obl oll omem` for `unsent` bytes of output, as Redis
    /// would hold them: a little in the client's own 16 KB buffer (`obl`);
    /// a backlog (its first write sent that buffer) in a list of blocks of
    /// at least 16 KB (`oll`) whose allocations `omem` sums.
    fn output_fields(unsent: u64) -> (u64, u64, u64) {
        const CHUNK: u64 = 16 * 1024;
        if unsent <= CHUNK {
            (unsent, 0, 0)
        } else {
            (0, unsent.div_ceil(CHUNK), unsent)
        }
    }

    /// The last published activity.
    pub fn activity(&self) -> Activity {
        let state = self.state.load(Ordering::Relaxed);
        let bufs = self.bufs.load(Ordering::Relaxed);
        let subs = self.subs.load(Ordering::Relaxed);
        let ssubs = self.ssubs.load(Ordering::Relaxed);
        Activity {
            last_cmd: state as u32,
            db: (state >> 32) as u8,
            resp: (state >> 40) as u8,
            no_evict: (state >> 48) & 1 != 0,
            no_touch: (state >> 49) & 1 != 0,
            monitor: (state >> 50) & 1 != 0,
            subs: [subs as u32, (subs >> 32) as u32, ssubs as u32],
            last_ms: self.last_ms.load(Ordering::Relaxed),
            qbuf: bufs as u32,
            rbs: (bufs >> 32) as u32,
            mem: self.mem.load(Ordering::Relaxed),
            redir: self.redir.load(Ordering::Relaxed),
            bcast: ssubs >> 63 != 0,
            broken: (ssubs >> 62) & 1 != 0,
        }
    }

    /// The connection's names, locked.
    pub fn names(&self) -> MutexGuard<'_, Names> {
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the claim of the wait the connection entered (None: it
    /// left it).
    pub fn set_block(&self, claim: Option<Arc<AtomicBool>>) {
        *self.block.lock().unwrap_or_else(|p| p.into_inner()) = claim;
    }

    /// Takes the claim of the connection's wait: true when it was blocked
    /// and nobody had ended its wait yet (CLIENT UNBLOCK).
    pub fn claim_block(&self) -> bool {
        let b = self.block.lock().unwrap_or_else(|p| p.into_inner());
        b.as_ref().is_some_and(|c| {
            c.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })
    }

    fn blocked(&self) -> bool {
        self.block
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// True once CLIENT KILL chose this connection.
    pub fn killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }

    /// Appends this connection's CLIENT LIST line (without the newline), in
    /// Redis 7.0's field order, then 7.2's `lib-name` and `lib-ver`.
    /// `name` writes a command's full name from its id + 1 (the registry
    /// knows no command table).
    pub fn write_row(&self, out: &mut Vec<u8>, now_ms: u64, name: fn(u32, &mut Vec<u8>)) {
        let a = self.activity();
        let names = self.names().clone();
        let secs = |ms: u64| now_ms.saturating_sub(ms) / 1000;
        let qbuf_free = a.rbs.saturating_sub(a.qbuf);
        let unsent = self.out.load(Ordering::Relaxed);
        let (obl, oll, omem) = Self::output_fields(unsent);
        // Redis's flag letters, in its order (7.2's T for NO-TOUCH).
        let mut flags = String::new();
        if a.monitor {
            flags.push('O');
        }
        if a.subs.iter().any(|&n| n > 0) {
            flags.push('P');
        }
        if self.blocked() {
            flags.push('b');
        }
        if a.redir >= 0 {
            flags.push('t');
        }
        if a.broken {
            flags.push('R');
        }
        if a.bcast {
            flags.push('B');
        }
        if a.no_evict {
            flags.push('e');
        }
        if a.no_touch {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let _ = write!(
            out,
            "id={} addr={} laddr={} fd={} name=",
            self.id, self.addr, self.laddr, self.fd
        );
        out.extend_from_slice(&names.name);
        let _ = write!(
            out,
            " age={} idle={} flags={} db={} sub={} psub={} ssub={} multi=-1 qbuf={} qbuf-free={} \
             argv-mem=0 multi-mem=0 rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events={} cmd=",
            secs(self.created_ms),
            secs(a.last_ms),
            flags,
            a.db,
            a.subs[0],
            a.subs[1],
            a.subs[2],
            a.qbuf,
            qbuf_free,
            a.rbs,
            a.rbs,
            obl,
            oll,
            omem,
            a.mem,
            // Redis watches for writability while output waits.
            if unsent > 0 { "rw" } else { "r" },
        );
        name(a.last_cmd, out);
        out.extend_from_slice(b" user=");
        if names.user.is_empty() {
            out.extend_from_slice(b"default");
        } else {
            out.extend_from_slice(&names.user);
        }
        let _ = write!(out, " redir={} resp={} lib-name=", a.redir, a.resp);
        out.extend_from_slice(&names.lib_name);
        out.extend_from_slice(b" lib-ver=");
        out.extend_from_slice(&names.lib_ver);
    }
}

/// A connection one worker accepted for another: the socket, its CLIENT
/// ID and its peer's address.
pub type Handed = (mio::net::TcpStream, u64, std::net::SocketAddr);

/// One worker's connections and kill queue.
#[derive(Debug, Default)]
struct WorkerClients {
    /// Indexed by the connection's token.
    slots: Mutex<Vec<Option<Arc<Client>>>>,
    /// (token, id) of connections CLIENT KILL chose.
    kills: Mutex<Vec<(usize, u64)>>,
    waker: OnceLock<Arc<Waker>>,
    /// Connections assigned to the worker: counted when a worker accepts
    /// one for it (before it arrives), uncounted when it closes.
    load: AtomicUsize,
    /// Where another worker hands it a connection it accepted.
    handoff: OnceLock<Sender<Handed>>,
}

/// Every worker's connections.
#[derive(Debug)]
pub struct Registry {
    workers: Box<[WorkerClients]>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Registry {
    /// An empty registry for `workers` workers.
    pub fn new(workers: usize) -> Registry {
        Registry {
            workers: (0..workers).map(|_| WorkerClients::default()).collect(),
        }
    }

    /// Records the waker of `worker`, which CLIENT KILL uses to reach it.
    pub fn set_waker(&self, worker: usize, waker: Arc<Waker>) {
        if let Some(w) = self.workers.get(worker) {
            let _ = w.waker.set(waker);
        }
    }

    /// Adds a new connection's row.
    pub fn add(&self, client: Arc<Client>) {
        let Some(w) = self.workers.get(client.worker) else {
            return;
        };
        let mut slots = lock(&w.slots);
        if slots.len() <= client.token {
            slots.resize(client.token + 1, None);
        }
        let token = client.token;
        slots[token] = Some(client);
    }

    /// Records where `worker` takes connections other workers accepted.
    pub fn set_handoff(&self, worker: usize, tx: Sender<Handed>) {
        if let Some(w) = self.workers.get(worker) {
            let _ = w.handoff.set(tx);
        }
    }

    /// The worker a connection accepted by `me` should go to, counted as
    /// assigned to it: `me` unless another has fewer connections. Taking it
    /// locally costs no hand-off (a connection per command never crosses a
    /// thread); handing it on keeps long-lived connections spread over the
    /// workers however the kernel wakes them.
    pub fn assign(&self, me: usize) -> usize {
        let load = |w: &WorkerClients| w.load.load(Ordering::Relaxed);
        let mut best = me;
        let mut least = self.workers.get(me).map_or(usize::MAX, load);
        for (i, w) in self.workers.iter().enumerate() {
            if load(w) < least {
                best = i;
                least = load(w);
            }
        }
        if let Some(w) = self.workers.get(best) {
            w.load.fetch_add(1, Ordering::Relaxed);
        }
        best
    }

    /// Undoes an `assign` whose connection never got registered.
    pub fn unassign(&self, worker: usize) {
        if let Some(w) = self.workers.get(worker) {
            w.load.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Hands a connection to `worker` and wakes it; false when it is gone.
    pub fn hand_off(&self, worker: usize, conn: Handed) -> bool {
        let Some(w) = self.workers.get(worker) else {
            return false;
        };
        let sent = w.handoff.get().is_some_and(|tx| tx.send(conn).is_ok());
        if sent {
            if let Some(waker) = w.waker.get() {
                let _ = waker.wake();
            }
        }
        sent
    }

    /// Removes a closed connection's row.
    pub fn remove(&self, client: &Client) {
        let Some(w) = self.workers.get(client.worker) else {
            return;
        };
        w.load.fetch_sub(1, Ordering::Relaxed);
        let mut slots = lock(&w.slots);
        if let Some(slot) = slots.get_mut(client.token) {
            if slot.as_ref().is_some_and(|c| c.id == client.id) {
                *slot = None;
            }
        }
    }

    /// Every live (not killed) connection, by ascending id as Redis lists them.
    pub fn snapshot(&self) -> Vec<Arc<Client>> {
        let mut all = Vec::new();
        for w in self.workers.iter() {
            let slots = lock(&w.slots);
            all.extend(slots.iter().flatten().filter(|c| !c.killed()).cloned());
        }
        all.sort_unstable_by_key(|c| c.id);
        all
    }

    /// Marks `client` killed and has its worker close it. False when it was
    /// already killed.
    pub fn kill(&self, client: &Client) -> bool {
        if client.killed.swap(true, Ordering::Relaxed) {
            return false;
        }
        if let Some(w) = self.workers.get(client.worker) {
            lock(&w.kills).push((client.token, client.id));
            if let Some(waker) = w.waker.get() {
                let _ = waker.wake();
            }
        }
        true
    }

    /// Wakes `worker` (MONITOR lines queued for it, CLIENT UNPAUSE).
    pub fn wake(&self, worker: usize) {
        if let Some(waker) = self.workers.get(worker).and_then(|w| w.waker.get()) {
            let _ = waker.wake();
        }
    }

    /// Wakes every worker.
    pub fn wake_all(&self) {
        for w in 0..self.workers.len() {
            self.wake(w);
        }
    }

    /// The (token, id) pairs CLIENT KILL queued for `worker` since the last call.
    pub fn take_kills(&self, worker: usize) -> Vec<(usize, u64)> {
        self.workers
            .get(worker)
            .map(|w| std::mem::take(&mut *lock(&w.kills)))
            .unwrap_or_default()
    }
}
