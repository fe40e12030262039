//! Shared harness for the black-box tests: start the real `shardcache` binary
//! on a free port and talk to it with raw bytes or the `redis` crate.
//!
//! Every test binary includes this module; not every binary uses every helper.
#![allow(dead_code)]

pub mod proc;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long the server may take to print its `listening` line.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Read timeout of raw connections and `redis` crate clients.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Set this environment variable to run the suite against `redis-server`.
pub const AGAINST_REDIS: &str = "SHARDCACHE_TEST_AGAINST_REDIS";
/// Stderr lines kept for failure messages.
const KEEP_STDERR_LINES: usize = 200;

/// A running `shardcache`, killed (or stopped) when dropped; its data
/// directory, a fresh one under the system temp dir, is removed then too.
///
/// `start` runs the binary (a black box: crashes, exit codes, signals, RSS);
/// `embedded` runs the server in this test process, for tests that only talk
/// to it over the network, which start and stop faster.
pub struct Server {
    run: Run,
    port: u16,
    dir: PathBuf,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

enum Run {
    Child(Child),
    Embedded(Option<shardcache::server::Server>),
}

/// A new, empty directory for one server's data files.
fn fresh_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "shardcache-test-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

impl Server {
    /// Starts the binary with `--port 0 --no-pin --dir <fresh temp dir>` and
    /// `extra_args`, and waits for its `shardcache listening on
    /// 127.0.0.1:PORT` line.
    pub fn start(extra_args: &[&str]) -> Server {
        let dir = fresh_dir();
        if std::env::var_os(AGAINST_REDIS).is_some() {
            return Server::start_redis(extra_args, dir);
        }
        // Several shards and workers whatever the machine's defaults, so
        // cross-shard routing and merging are always exercised; a test's own
        // flags come later and win.
        let mut child = Command::new(env!("CARGO_BIN_EXE_shardcache"))
            .args([
                "--port",
                "0",
                "--no-pin",
                "--shards",
                "4",
                "--workers",
                "2",
                "--dir",
            ])
            .arg(&dir)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot spawn the shardcache binary");
        let stderr = child.stderr.take().expect("stderr is piped");
        let lines: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let (tx, rx) = mpsc::channel::<u16>();
        let keep = lines.clone();
        thread::Builder::new()
            .name("shardcache-stderr".into())
            .spawn(move || {
                // Keep draining after the port is known: a full pipe would
                // block the server's logging and so the server.
                let mut tx = Some(tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(port) = parse_listening(&line) {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(port);
                        }
                    }
                    let mut keep = keep.lock().unwrap();
                    if keep.len() == KEEP_STDERR_LINES {
                        keep.pop_front();
                    }
                    keep.push_back(line);
                }
            })
            .expect("cannot spawn the stderr reader");
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(port) => Server {
                run: Run::Child(child),
                port,
                dir,
                stderr: lines,
            },
            Err(e) => {
                let status = child.try_wait().ok().flatten();
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&dir);
                // Let the reader take the last lines.
                thread::sleep(Duration::from_millis(100));
                let log: Vec<String> = lines.lock().unwrap().iter().cloned().collect();
                panic!(
                    "shardcache {extra_args:?} did not print 'shardcache listening on ADDR' \
                     ({e:?}, exit status {status:?}); its stderr:\n{}",
                    log.join("\n")
                );
            }
        }
    }

    /// Runs a real `redis-server` instead, to check the tests' expectations
    /// against the reference (`SHARDCACHE_TEST_AGAINST_REDIS=1`). Flags Redis
    /// lacks are dropped, so tests of shardcache-only flags fail there.
    fn start_redis(extra_args: &[&str], dir: PathBuf) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut args: Vec<String> = vec![
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            String::new(),
            "--appendonly".into(),
            "no".into(),
            "--dir".into(),
            dir.display().to_string(),
            "--maxmemory-policy".into(),
            "allkeys-lru".into(),
            "--enable-debug-command".into(),
            "yes".into(),
        ];
        let mut it = extra_args.iter();
        while let Some(&a) = it.next() {
            match a {
                "--no-pin" => {}
                "--shards" | "--workers" | "--max-keys" | "--dir" => {
                    it.next();
                }
                _ => args.push(a.to_string()),
            }
        }
        let child = Command::new("redis-server")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot spawn redis-server");
        let up = wait_until(START_TIMEOUT, || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "redis-server {args:?} did not start");
        Server {
            run: Run::Child(child),
            port,
            dir,
            stderr: Arc::default(),
        }
    }

    /// Starts the server in this process with the same defaults as
    /// `start` (`--port 0 --no-pin --shards 4 --workers 2 --dir <fresh>`)
    /// and `extra_args`. Not for tests that crash, signal or measure the
    /// process, send SHUTDOWN (it exits the process), or rename commands
    /// (the table is renamed once per process).
    pub fn embedded(extra_args: &[&str]) -> Server {
        let dir = fresh_dir();
        if std::env::var_os(AGAINST_REDIS).is_some() {
            return Server::start_redis(extra_args, dir);
        }
        let dir_arg = dir.display().to_string();
        let mut argv = vec![
            "shardcache",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--no-pin",
            "--shards",
            "4",
            "--workers",
            "2",
            "--dir",
            &dir_arg,
        ];
        argv.extend_from_slice(extra_args);
        let config = shardcache::config::from_argv(&argv)
            .unwrap_or_else(|e| panic!("bad server flags {extra_args:?}: {e}"));
        let server = shardcache::server::start(config)
            .unwrap_or_else(|e| panic!("in-process server {extra_args:?} did not start: {e}"));
        Server {
            port: server.addr.port(),
            run: Run::Embedded(Some(server)),
            dir,
            stderr: Arc::default(),
        }
    }

    fn child(&self) -> &Child {
        match &self.run {
            Run::Child(c) => c,
            Run::Embedded(_) => panic!("an embedded server has no process of its own"),
        }
    }

    /// The server's data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A `redis` crate connection with read and write timeouts.
    pub fn client(&self) -> redis::Connection {
        let client =
            redis::Client::open(format!("redis://{}/", self.addr())).expect("valid redis URL");
        let conn = client
            .get_connection_with_timeout(IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("redis client cannot connect to {}: {e}", self.addr()));
        conn.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        conn.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        conn
    }

    /// A raw TCP connection.
    pub fn raw(&self) -> Raw {
        Raw::connect(&self.addr())
    }

    /// The last stderr lines of the server (for failure messages).
    pub fn stderr_tail(&self) -> String {
        let lines: Vec<String> = self.stderr.lock().unwrap().iter().cloned().collect();
        lines.join("\n")
    }

    /// The server's resident memory in KiB (VmRSS), for memory-bound checks.
    pub fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child().id()))
            .expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }

    /// Panics if the process has exited (a crash).
    pub fn assert_alive(&mut self) {
        let Run::Child(child) = &mut self.run else {
            return;
        };
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!(
                "shardcache exited with {status}; its stderr:\n{}",
                self.stderr_tail()
            );
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child().id()
    }

    /// The server's resident set size in KiB (`VmRSS` in /proc/PID/status).
    pub fn rss_kib(&self) -> u64 {
        let path = format!("/proc/{}/status", self.pid());
        let status =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS line in {path}"))
    }

    /// Sends SIGTERM and waits up to `limit` for the process to exit;
    /// returns its exit code (None when a signal killed it).
    pub fn terminate(&mut self, limit: Duration) -> Option<i32> {
        let ok = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill -TERM {} failed", self.pid());
        let start = Instant::now();
        let Run::Child(child) = &mut self.run else {
            unreachable!("pid() refused an embedded server")
        };
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(
                start.elapsed() < limit,
                "the server did not exit within {limit:?} of SIGTERM"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// `INFO <section>` as `field -> value` pairs, through a fresh raw connection.
    pub fn info(&self, section: &str) -> Vec<(String, String)> {
        let mut raw = self.raw();
        raw.send(&cmd(&["INFO", section]));
        let text = raw.read_reply().bulk_string();
        parse_info(&text)
    }

    /// One INFO field, parsed as an integer.
    pub fn info_int(&self, section: &str, field: &str) -> i64 {
        let fields = self.info(section);
        let (_, v) = fields
            .iter()
            .find(|(k, _)| k == field)
            .unwrap_or_else(|| panic!("INFO {section} has no field {field}: {fields:?}"));
        v.parse()
            .unwrap_or_else(|_| panic!("INFO field {field}={v} is not an integer"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.run {
            Run::Child(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Run::Embedded(server) => {
                if let Some(server) = server.take() {
                    let _ = server.stop();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The port of a `shardcache listening on 127.0.0.1:PORT` line.
fn parse_listening(line: &str) -> Option<u16> {
    let rest = line.split("shardcache listening on ").nth(1)?;
    let addr = rest.split_whitespace().next()?;
    addr.rsplit_once(':')?.1.parse().ok()
}

/// Splits INFO text into `field:value` pairs, skipping headers and blank lines.
pub fn parse_info(text: &str) -> Vec<(String, String)> {
    text.split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Encodes a command as a RESP multibulk.
pub fn cmd<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Encodes a bulk string reply, `$len\r\nbytes\r\n`.
pub fn bulk(b: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", b.len()).into_bytes();
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
    out
}

/// Bytes as a readable escaped string, for assertion messages.
pub fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s
}

/// Asserts two byte strings are equal, printing both escaped.
#[track_caller]
pub fn assert_bytes(actual: &[u8], expected: &[u8]) {
    if actual != expected {
        let (a, e) = (escape(actual), escape(expected));
        let cut = |s: &str| -> String {
            if s.len() > 4000 {
                format!("{}... ({} chars)", &s[..4000], s.len())
            } else {
                s.to_string()
            }
        };
        panic!(
            "reply mismatch\n  expected: \"{}\"\n  actual:   \"{}\"",
            cut(&e),
            cut(&a)
        );
    }
}

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+...`
    Simple(String),
    /// `-...`
    Error(String),
    /// `:n`
    Int(i64),
    /// `$n` (None: `$-1`)
    Bulk(Option<Vec<u8>>),
    /// `*n` (None: `*-1`)
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The bytes of a bulk reply (panics otherwise).
    #[track_caller]
    pub fn bulk_bytes(self) -> Vec<u8> {
        match self {
            Reply::Bulk(Some(b)) => b,
            other => panic!("expected a bulk string, got {other:?}"),
        }
    }
    /// A bulk reply as UTF-8 text (panics otherwise).
    #[track_caller]
    pub fn bulk_string(self) -> String {
        String::from_utf8(self.bulk_bytes()).expect("bulk reply is UTF-8")
    }
    /// The elements of an array reply (panics otherwise).
    #[track_caller]
    pub fn array(self) -> Vec<Reply> {
        match self {
            Reply::Array(Some(v)) => v,
            other => panic!("expected an array, got {other:?}"),
        }
    }
    /// The value of an integer reply (panics otherwise).
    #[track_caller]
    pub fn int(self) -> i64 {
        match self {
            Reply::Int(n) => n,
            other => panic!("expected an integer, got {other:?}"),
        }
    }
}

/// A raw TCP connection with a read timeout and an input buffer.
pub struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

impl Raw {
    /// Connects to `addr` with TCP_NODELAY and `IO_TIMEOUT` read/write timeouts.
    pub fn connect(addr: &str) -> Raw {
        let stream =
            TcpStream::connect(addr).unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
        Raw::from_stream(stream)
    }

    /// Connects to `addr` from the local address `from` (e.g. `127.0.0.2`).
    pub fn connect_from(addr: &str, from: &str) -> Raw {
        let to: std::net::SocketAddr = addr.parse().expect("an IP:port address");
        let from: std::net::SocketAddr = format!("{from}:0").parse().expect("an IP address");
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(to),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .expect("a TCP socket");
        socket.bind(&from.into()).expect("bind the client address");
        socket
            .connect_timeout(&to.into(), IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("cannot connect to {addr} from {from}: {e}"));
        Raw::from_stream(socket.into())
    }

    /// Wraps a connected stream, with TCP_NODELAY and `IO_TIMEOUT` timeouts.
    pub fn from_stream(stream: TcpStream) -> Raw {
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Raw {
            stream,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// The underlying stream (e.g. to clone it for a writer thread).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Writes all of `bytes`.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("write of {} bytes failed: {e}", bytes.len()));
    }

    /// Sends one command as a multibulk.
    pub fn send_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send(&cmd(args));
    }

    /// Sends one command and reads its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        self.send_cmd(args);
        self.read_reply()
    }

    /// Reads more input: Ok(false) on end of stream.
    fn try_fill(&mut self) -> std::io::Result<bool> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads more input; false on end of stream; panics on errors and timeouts.
    fn fill(&mut self) -> bool {
        match self.try_fill() {
            Ok(more) => more,
            Err(e) => panic!(
                "read failed ({e}) with {} unconsumed bytes: \"{}\"",
                self.buf.len() - self.pos,
                escape(&self.buf[self.pos..])
            ),
        }
    }

    /// Reads exactly `n` bytes.
    pub fn read_n(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() - self.pos < n {
            if !self.fill() {
                panic!(
                    "connection closed after {} of {n} expected bytes: \"{}\"",
                    self.buf.len() - self.pos,
                    escape(&self.buf[self.pos..])
                );
            }
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        out
    }

    /// Reads exactly `expected.len()` bytes and asserts they equal `expected`.
    #[track_caller]
    pub fn expect(&mut self, expected: &[u8]) {
        let mut got = Vec::with_capacity(expected.len());
        while got.len() < expected.len() {
            if self.pos == self.buf.len() {
                match self.try_fill() {
                    Ok(true) => {}
                    Ok(false) => panic!(
                        "connection closed before the whole reply\n  expected: \"{}\"\n  got:      \"{}\"",
                        escape(expected),
                        escape(&got)
                    ),
                    Err(e) => panic!(
                        "no complete reply ({e})\n  expected: \"{}\"\n  got:      \"{}\"",
                        escape(expected),
                        escape(&got)
                    ),
                }
            }
            let take = (expected.len() - got.len()).min(self.buf.len() - self.pos);
            got.extend_from_slice(&self.buf[self.pos..self.pos + take]);
            self.pos += take;
            if got[..] != expected[..got.len()] {
                // Show a little of what follows the mismatch too.
                let extra = (self.buf.len() - self.pos).min(200);
                got.extend_from_slice(&self.buf[self.pos..self.pos + extra]);
                assert_bytes(&got, expected);
            }
        }
    }

    fn line(&mut self) -> Vec<u8> {
        loop {
            if let Some(i) = self.buf[self.pos..].windows(2).position(|w| w == b"\r\n") {
                let line = self.buf[self.pos..self.pos + i].to_vec();
                self.pos += i + 2;
                return line;
            }
            if !self.fill() {
                panic!(
                    "connection closed inside a reply line: \"{}\"",
                    escape(&self.buf[self.pos..])
                );
            }
        }
    }

    /// Reads and parses one RESP2 reply.
    pub fn read_reply(&mut self) -> Reply {
        let line = self.line();
        let (kind, rest) = line
            .split_first()
            .unwrap_or_else(|| panic!("empty reply line"));
        let text = String::from_utf8_lossy(rest).into_owned();
        let num = || -> i64 {
            text.parse()
                .unwrap_or_else(|_| panic!("bad length/integer in reply line {text:?}"))
        };
        match kind {
            b'+' => Reply::Simple(text),
            b'-' => Reply::Error(text),
            b':' => Reply::Int(num()),
            b'$' => {
                let n = num();
                if n < 0 {
                    return Reply::Bulk(None);
                }
                let data = self.read_n(n as usize + 2);
                assert_eq!(&data[n as usize..], b"\r\n", "bulk not followed by CRLF");
                Reply::Bulk(Some(data[..n as usize].to_vec()))
            }
            b'*' => {
                let n = num();
                if n < 0 {
                    return Reply::Array(None);
                }
                Reply::Array(Some((0..n).map(|_| self.read_reply()).collect()))
            }
            other => panic!(
                "unexpected reply type byte {:?} in line \"{}\"",
                *other as char,
                escape(&line)
            ),
        }
    }

    /// Asserts the server closes the connection (EOF or reset) within the
    /// read timeout, with no further bytes.
    #[track_caller]
    pub fn assert_closed(&mut self) {
        if self.pos < self.buf.len() {
            panic!(
                "unexpected bytes before close: \"{}\"",
                escape(&self.buf[self.pos..])
            );
        }
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => panic!(
                    "expected the connection to close, got \"{}\"",
                    escape(&chunk[..n])
                ),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                    ) =>
                {
                    return
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    panic!("the server kept the connection open for {IO_TIMEOUT:?}")
                }
                Err(e) => panic!("unexpected read error while waiting for close: {e}"),
            }
        }
    }

    /// Asserts nothing arrives within `wait` (the connection stays open and silent).
    #[track_caller]
    pub fn assert_silent(&mut self, wait: Duration) {
        if self.pos < self.buf.len() {
            panic!("unexpected bytes: \"{}\"", escape(&self.buf[self.pos..]));
        }
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut chunk = [0u8; 4096];
        let res = self.stream.read(&mut chunk);
        self.stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        match res {
            Ok(0) => panic!("the server closed the connection"),
            Ok(n) => panic!("unexpected bytes: \"{}\"", escape(&chunk[..n])),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("unexpected read error: {e}"),
        }
    }

    /// Closes the write side (the server sees EOF).
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// True when the tests run against a real `redis-server` (`AGAINST_REDIS`).
pub fn against_redis() -> bool {
    std::env::var_os(AGAINST_REDIS).is_some()
}

/// Sends `input` and expects exactly `output` back.
#[track_caller]
pub fn exchange(raw: &mut Raw, input: &[u8], output: &[u8]) {
    raw.send(input);
    raw.expect(output);
}

/// Runs each `(command, exact reply)` in order.
#[track_caller]
pub fn run(r: &mut Raw, cases: &[(&[&str], &[u8])]) {
    for (args, reply) in cases {
        exchange(r, &cmd(args), reply);
    }
}

/// Polls `f` every 20 ms until it returns true or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A xorshift64 generator: reproducible random input for the chaos and
/// fuzz-corpus tests (seeded per case, no crate needed).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}
