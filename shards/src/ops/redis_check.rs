//! Side-by-side checks of the ops against a real `redis-server` (7.0):
//! the same commands run on both, and the replies must agree in RESP2 and
//! RESP3 (types, values, errors' text, and order where Redis's order is
//! defined).
//!
//! Commands reach the ops through a small test-only translation (the
//! server's command layer is not part of this crate): arguments are
//! assumed valid, as the server checks them before building an op. Each
//! test starts its own `redis-server` on a free loopback port and stops
//! it; without `redis-server` on PATH the tests skip, unless `CI` is set.

use super::hash::HashOp;
use super::keys::{KeyOp, ObjectField, TtlUnit};
use super::set::{Algebra, SetOp};
use super::string::{SetCond, SetReply, StrOp};
use super::{execute, parse_i64, Op, Persist};
use crate::batch::{Batch, Reply};
use crate::error::Error;
use crate::keyspace::{Expiry, Store};
use crate::tape::{Item, TapeReader};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A reply, protocol-independent enough to compare.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum V {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
    Null,
    NullArray,
    Array(Vec<V>),
    Set(Vec<V>),
    Map(Vec<(V, V)>),
}

impl std::fmt::Debug for V {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            V::Simple(s) => write!(f, "+{s}"),
            V::Err(s) => write!(f, "-{s}"),
            V::Int(n) => write!(f, ":{n}"),
            V::Bulk(b) if b.len() > 60 => write!(f, "<{} bytes>", b.len()),
            V::Bulk(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            V::Null => f.write_str("null"),
            V::NullArray => f.write_str("*-1"),
            V::Array(v) => f.debug_list().entries(v).finish(),
            V::Set(v) => {
                f.write_str("~")?;
                f.debug_set().entries(v).finish()
            }
            V::Map(v) => f
                .debug_map()
                .entries(v.iter().map(|(k, v)| (k, v)))
                .finish(),
        }
    }
}

impl V {
    /// Arrays, sets and maps sorted, recursively (for replies whose order
    /// follows a hashtable's).
    fn sorted(self) -> V {
        match self {
            V::Array(mut v) => {
                v = v.into_iter().map(V::sorted).collect();
                v.sort();
                V::Array(v)
            }
            V::Set(mut v) => {
                v = v.into_iter().map(V::sorted).collect();
                v.sort();
                V::Set(v)
            }
            V::Map(mut v) => {
                v.sort();
                V::Map(v)
            }
            other => other,
        }
    }

    fn len(&self) -> Option<usize> {
        match self {
            V::Array(v) | V::Set(v) => Some(v.len()),
            V::Map(v) => Some(v.len()),
            _ => None,
        }
    }
}

/// Redis's text for an engine error (what the server's `errors.rs` says).
pub fn error_text(e: &Error) -> String {
    match e {
        Error::WrongType => "WRONGTYPE Operation against a key holding the wrong kind of value".into(),
        Error::NotInteger => "ERR value is not an integer or out of range".into(),
        Error::Overflow => "ERR increment or decrement would overflow".into(),
        Error::NotFloat => "ERR value is not a valid float".into(),
        Error::NanOrInf => "ERR increment would produce NaN or Infinity".into(),
        Error::NoSuchKey => "ERR no such key".into(),
        Error::Syntax => "ERR syntax error".into(),
        Error::Oom => "OOM command not allowed when used memory > 'maxmemory'.".into(),
        Error::HashNotInteger => "ERR hash value is not an integer".into(),
        Error::HashNotFloat => "ERR hash value is not a float".into(),
        Error::IncrNanOrInf => "ERR value is NaN or Infinity".into(),
        Error::BusyKey => "BUSYKEY Target key name already exists.".into(),
        Error::InvalidTtl => "ERR Invalid TTL value, must be >= 0".into(),
        Error::BadPayload => "ERR DUMP payload version or checksum are wrong".into(),
        Error::BadData => "ERR Bad data format".into(),
        Error::NoLfu => "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into(),
        Error::LfuSelected => "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into(),
        Error::IndexOutOfRange => "ERR index out of range".into(),
        Error::ScoreNan => "ERR resulting score is not a number (NaN)".into(),
        Error::SortNotNumber => "ERR One or more scores can't be converted into double".into(),
        other => format!("{other:?}"),
    }
}

/// Our reply as the worker would encode it in RESP2 or RESP3.
pub fn ours(b: &Batch, r: &Reply, resp3: bool) -> V {
    match r {
        Reply::Ok => V::Simple("OK".into()),
        Reply::Nil => V::Null,
        Reply::Int(n) => V::Int(*n),
        Reply::Bulk(s) => V::Bulk(b.payload(*s).to_vec()),
        Reply::Status(s) => V::Simple(s.to_string()),
        Reply::Err(e) => V::Err(error_text(e)),
        Reply::Tape(s) => {
            let mut items = TapeReader::new(b.payload(*s));
            tape_value(&mut items, resp3)
        }
        Reply::Info(_) => panic!("INFO is not compared"),
    }
}

fn tape_value(items: &mut TapeReader, resp3: bool) -> V {
    let item = items.next().expect("a complete tape");
    let many = |items: &mut TapeReader, n: u32| -> Vec<V> {
        (0..n).map(|_| tape_value(items, resp3)).collect()
    };
    match item {
        Item::Array(n) => V::Array(many(items, n)),
        Item::Set(n) if resp3 => V::Set(many(items, n)),
        Item::Set(n) => V::Array(many(items, n)),
        Item::Map(n) if resp3 => V::Map(
            (0..n)
                .map(|_| (tape_value(items, resp3), tape_value(items, resp3)))
                .collect(),
        ),
        Item::Map(n) => V::Array(many(items, 2 * n)),
        Item::Bulk(b) => V::Bulk(b.to_vec()),
        Item::Int(n) => V::Int(n),
        Item::Double(d) => V::Bulk(crate::rdb::fmt_g17(d).into_bytes()),
        Item::Nil => V::Null,
        Item::NilArray if resp3 => V::Null,
        Item::NilArray => V::NullArray,
        Item::Status(s) => V::Simple(String::from_utf8_lossy(s).into_owned()),
    }
}

// ------------------------------------------------------------ the commands

fn int_arg(a: &[u8]) -> i64 {
    parse_i64(a).unwrap_or_else(|| panic!("not an integer: {:?}", String::from_utf8_lossy(a)))
}

fn is(a: &[u8], name: &str) -> bool {
    a.eq_ignore_ascii_case(name.as_bytes())
}

/// Builds the op of one command (arguments assumed valid) into `b`.
pub fn op_of(b: &mut Batch, argv: &[Vec<u8>], resp3: bool, now_ms: u64) -> Op {
    let name = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
    let a = &mut b.args;
    let rest =
        |a: &mut crate::batch::Args, from: usize| a.list(argv[from..].iter().map(|v| &v[..]));
    let key = a.push(&argv.get(1).cloned().unwrap_or_default());
    let scan = |a: &mut crate::batch::Args| {
        let mut count = 10;
        let mut pattern = None;
        let mut i = 3;
        while i < argv.len() {
            if is(&argv[i], "count") {
                count = int_arg(&argv[i + 1]) as usize;
            } else {
                pattern = Some(a.push(&argv[i + 1]));
            }
            i += 2;
        }
        (int_arg(&argv[2]) as u64, count, pattern)
    };
    match name.as_str() {
        "HSET" | "HMSET" => HashOp::Set {
            key,
            pairs: rest(a, 2),
            ok: name == "HMSET",
        }
        .into(),
        "HSETNX" => HashOp::SetNx {
            key,
            field: a.push(&argv[2]),
            value: a.push(&argv[3]),
        }
        .into(),
        "HGET" => HashOp::Get {
            key,
            field: a.push(&argv[2]),
        }
        .into(),
        "HMGET" => HashOp::MGet {
            key,
            fields: rest(a, 2),
        }
        .into(),
        "HGETALL" => HashOp::GetAll { key }.into(),
        "HKEYS" => HashOp::Keys { key }.into(),
        "HVALS" => HashOp::Vals { key }.into(),
        "HLEN" => HashOp::Len { key }.into(),
        "HSTRLEN" => HashOp::StrLen {
            key,
            field: a.push(&argv[2]),
        }
        .into(),
        "HEXISTS" => HashOp::Exists {
            key,
            field: a.push(&argv[2]),
        }
        .into(),
        "HDEL" => HashOp::Del {
            key,
            fields: rest(a, 2),
        }
        .into(),
        "HINCRBY" => HashOp::IncrBy {
            key,
            field: a.push(&argv[2]),
            by: int_arg(&argv[3]),
        }
        .into(),
        "HINCRBYFLOAT" => HashOp::IncrByFloat {
            key,
            field: a.push(&argv[2]),
            by: a.push(&argv[3]),
        }
        .into(),
        "HRANDFIELD" if argv.len() == 2 => HashOp::RandField { key }.into(),
        "HRANDFIELD" => HashOp::RandFields {
            key,
            count: int_arg(&argv[2]),
            with_values: argv.len() > 3,
            resp3,
        }
        .into(),
        "HSCAN" => {
            let (cursor, count, pattern) = scan(a);
            HashOp::Scan {
                key,
                cursor,
                count,
                pattern,
            }
            .into()
        }
        "SADD" => SetOp::Add {
            key,
            members: rest(a, 2),
        }
        .into(),
        "SREM" => SetOp::Rem {
            key,
            members: rest(a, 2),
        }
        .into(),
        "SCARD" => SetOp::Card { key }.into(),
        "SISMEMBER" => SetOp::IsMember {
            key,
            member: a.push(&argv[2]),
        }
        .into(),
        "SMISMEMBER" => SetOp::MIsMember {
            key,
            members: rest(a, 2),
        }
        .into(),
        "SMEMBERS" => SetOp::All { key }.into(),
        "SRANDMEMBER" if argv.len() == 2 => SetOp::RandMember { key }.into(),
        "SRANDMEMBER" => SetOp::RandMembers {
            key,
            count: int_arg(&argv[2]),
        }
        .into(),
        "SPOP" if argv.len() == 2 => SetOp::Pop { key }.into(),
        "SPOP" => SetOp::PopCount {
            key,
            count: int_arg(&argv[2]) as u64,
        }
        .into(),
        "SSCAN" => {
            let (cursor, count, pattern) = scan(a);
            SetOp::Scan {
                key,
                cursor,
                count,
                pattern,
            }
            .into()
        }
        "SINTER" | "SUNION" | "SDIFF" => SetOp::Combine {
            how: algebra(&name),
            keys: rest(a, 1),
        }
        .into(),
        "SINTERSTORE" | "SUNIONSTORE" | "SDIFFSTORE" => SetOp::CombineStore {
            how: algebra(&name),
            dst: key,
            keys: rest(a, 2),
        }
        .into(),
        "SINTERCARD" => {
            let n = int_arg(&argv[1]) as usize;
            let keys = a.list(argv[2..2 + n].iter().map(|v| &v[..]));
            let limit = argv.get(3 + n).map_or(0, |l| int_arg(l) as u64);
            SetOp::InterCard { keys, limit }.into()
        }
        "SMOVE" => SetOp::Move {
            src: key,
            dst: a.push(&argv[2]),
            member: a.push(&argv[3]),
        }
        .into(),
        "DUMP" => KeyOp::Dump { key }.into(),
        "RESTORE" => {
            let (ttl, bad_ttl) = match parse_i64(&argv[2]) {
                Some(t) => (t, None),
                None => (0, Some(Error::NotInteger)),
            };
            let payload = a.push(&argv[3]);
            let (mut absttl, mut replace, mut idletime, mut freq) = (false, false, None, None);
            let mut i = 4;
            while i < argv.len() {
                if is(&argv[i], "absttl") {
                    absttl = true;
                } else if is(&argv[i], "replace") {
                    replace = true;
                } else if is(&argv[i], "idletime") {
                    idletime = Some(int_arg(&argv[i + 1]) as u64);
                    i += 1;
                } else {
                    freq = Some(int_arg(&argv[i + 1]) as u8);
                    i += 1;
                }
                i += 1;
            }
            KeyOp::Restore {
                key,
                payload,
                ttl,
                bad_ttl,
                absttl,
                replace,
                idletime,
                freq,
            }
            .into()
        }
        "DEL" => KeyOp::Del { key }.into(),
        "EXISTS" => KeyOp::Exists { key }.into(),
        "TYPE" => KeyOp::Type { key }.into(),
        "TTL" | "PTTL" => KeyOp::Ttl {
            key,
            unit: if name == "TTL" {
                TtlUnit::Secs
            } else {
                TtlUnit::Ms
            },
        }
        .into(),
        "PEXPIRE" => KeyOp::Expire {
            key,
            at: now_ms as i64 + int_arg(&argv[2]),
            cond: Default::default(),
        }
        .into(),
        "PERSIST" => KeyOp::Persist { key }.into(),
        "RENAME" | "RENAMENX" => KeyOp::Rename {
            src: key,
            dst: a.push(&argv[2]),
            nx: name == "RENAMENX",
        }
        .into(),
        "COPY" => {
            let dst = a.push(&argv[2]);
            let mut dst_db = 0;
            let mut replace = false;
            let mut i = 3;
            while i < argv.len() {
                if is(&argv[i], "replace") {
                    replace = true;
                } else {
                    dst_db = int_arg(&argv[i + 1]) as u8;
                    i += 1;
                }
                i += 1;
            }
            KeyOp::Copy {
                src: key,
                dst,
                dst_db,
                replace,
            }
            .into()
        }
        "MOVE" => KeyOp::Move {
            key,
            dst_db: int_arg(&argv[2]) as u8,
        }
        .into(),
        "OBJECT" => {
            let key = a.push(&argv[2]);
            KeyOp::Object {
                key,
                field: if is(&argv[1], "encoding") {
                    ObjectField::Encoding
                } else if is(&argv[1], "idletime") {
                    ObjectField::Idletime
                } else {
                    ObjectField::Freq
                },
                shared_ints: true,
            }
            .into()
        }
        "SET" => StrOp::Set {
            key,
            value: a.push(&argv[2]),
            cond: SetCond::Always,
            expiry: Expiry::Clear,
            reply: SetReply::Ok,
        }
        .into(),
        "GET" => StrOp::Get { key }.into(),
        other => super::lz_check::op_of(a, key, argv, resp3)
            .unwrap_or_else(|| panic!("no translation for {other}")),
    }
}

fn algebra(name: &str) -> Algebra {
    match &name[..5] {
        "SINTE" => Algebra::Inter,
        "SUNIO" => Algebra::Union,
        _ => Algebra::Diff,
    }
}

/// Runs one command (SELECT changes `db`) against `store`.
pub fn run_ours(
    store: &mut Store,
    p: &mut Persist,
    db: &mut u8,
    argv: &[Vec<u8>],
    resp3: bool,
) -> V {
    if is(&argv[0], "select") {
        *db = int_arg(&argv[1]) as u8;
        return V::Simple("OK".into());
    }
    let now = crate::clock::unix_ms();
    let mut b = Batch::new(0, 0);
    let op = op_of(&mut b, argv, resp3, now);
    b.push(*db, op);
    execute(store, &mut b, now, p);
    store.forget();
    ours(&b, &b.replies[0], resp3)
}

/// Runs `lines` (script commands, see `words`; no SELECT) as one batch
/// in db 0 at `now_ms`; returns the batch and each reply (RESP2 shape).
pub fn run_lines(
    store: &mut Store,
    p: &mut Persist,
    now_ms: u64,
    lines: &[&str],
) -> (Batch, Vec<V>) {
    let mut b = Batch::new(0, 0);
    for line in lines {
        let (_, argv) = words(line);
        let op = op_of(&mut b, &argv, false, now_ms);
        b.push(0, op);
    }
    execute(store, &mut b, now_ms, p);
    let replies = b.replies.iter().map(|r| ours(&b, r, false)).collect();
    (b, replies)
}

/// Shorthands for expected replies.
pub fn int(n: i64) -> V {
    V::Int(n)
}

/// A bulk reply.
pub fn bulk(s: &str) -> V {
    V::Bulk(s.as_bytes().to_vec())
}

/// An error reply with the text of `e`.
pub fn err(e: Error) -> V {
    V::Err(error_text(&e))
}

// ------------------------------------------------------------ redis-server

pub struct Redis {
    child: Child,
    pub conn: Conn,
    pub conn3: Conn,
    dir: std::path::PathBuf,
    port: u16,
}

impl Redis {
    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh `redis-server`, or None (with a note) when there is none and
/// `CI` is unset.
pub fn redis(test: &str) -> Option<Redis> {
    for attempt in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let dir = std::env::temp_dir().join(format!(
            "shards-ops-{}-{test}-{attempt}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let _ = std::fs::remove_dir_all(&dir);
                if std::env::var_os("CI").is_some() {
                    panic!("redis-server is not on PATH (required when CI is set)");
                }
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping {test}: redis-server is not on PATH"
                );
                return None;
            }
            Err(e) => panic!("starting redis-server: {e}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                let mut conn = Conn::new(s);
                let info = conn.cmd(&[b"INFO".to_vec(), b"server".to_vec()]);
                let ours = format!("process_id:{}\r\n", child.id());
                match info {
                    V::Bulk(b) if String::from_utf8_lossy(&b).contains(&ours) => {
                        let mut conn3 = Conn::new(TcpStream::connect(("127.0.0.1", port)).unwrap());
                        conn3.cmd(&[b"HELLO".to_vec(), b"3".to_vec()]);
                        return Some(Redis {
                            child,
                            conn,
                            conn3,
                            dir,
                            port,
                        });
                    }
                    _ => break,
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("redis-server did not start");
}

pub struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    fn new(s: TcpStream) -> Conn {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Conn {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        }
    }

    pub fn cmd(&mut self, args: &[Vec<u8>]) -> V {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&out).unwrap();
        self.read()
    }

    fn read(&mut self) -> V {
        let mut line = Vec::new();
        self.r.read_until(b'\n', &mut line).unwrap();
        assert!(line.ends_with(b"\r\n"), "bad reply line {line:?}");
        let text = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        let n = || text.parse::<i64>().unwrap();
        match line[0] {
            b'+' => V::Simple(text),
            b'-' => V::Err(text),
            b':' => V::Int(n()),
            b'_' => V::Null,
            // A RESP3 double: compared as the text RESP2 would carry.
            b',' => V::Bulk(text.into_bytes()),
            b'$' if n() < 0 => V::Null,
            b'$' => {
                let mut b = vec![0u8; n() as usize + 2];
                self.r.read_exact(&mut b).unwrap();
                b.truncate(n() as usize);
                V::Bulk(b)
            }
            b'*' if n() < 0 => V::NullArray,
            b'*' => V::Array((0..n()).map(|_| self.read()).collect()),
            b'~' => V::Set((0..n()).map(|_| self.read()).collect()),
            b'%' => V::Map((0..n()).map(|_| (self.read(), self.read())).collect()),
            c => panic!("unknown reply type {}", c as char),
        }
    }
}

/// How a command's replies are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// Exactly.
    Exact,
    /// As multisets (order follows a hashtable).
    Unordered,
    /// Only their lengths (random draws).
    Len,
    /// Only their kinds (a bulk, an error...): LZF output differs from
    /// Redis's in its choice of matches.
    Kind,
}

/// Splits a script line: an optional `~` (unordered) or `#` (length)
/// mark, then words; a word `%N` is N bytes of `v`.
pub fn words(line: &str) -> (Cmp, Vec<Vec<u8>>) {
    let (cmp, rest) = match line.as_bytes()[0] {
        b'~' => (Cmp::Unordered, &line[1..]),
        b'#' => (Cmp::Len, &line[1..]),
        _ => (Cmp::Exact, line),
    };
    // Words split on spaces; "double quotes" keep spaces in one word.
    let mut raw: Vec<String> = Vec::new();
    let mut quoted = false;
    let mut cur: Option<String> = None;
    for c in rest.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.get_or_insert_with(String::new);
            }
            c if c.is_whitespace() && !quoted => raw.extend(cur.take()),
            c => cur.get_or_insert_with(String::new).push(c),
        }
    }
    raw.extend(cur);
    let argv = raw
        .iter()
        .map(|w| match w.strip_prefix('%') {
            Some(n) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => {
                vec![b'v'; n.parse().unwrap()]
            }
            _ => w.as_bytes().to_vec(),
        })
        .collect();
    (cmp, argv)
}

/// Runs `commands` on Redis and on a store, in RESP2 and RESP3 at once
/// (every command is sent to Redis on both connections, RESP2 first; a
/// write is applied once: its RESP3 run on Redis repeats it, so writes are
/// compared in RESP2 only and reads in both).
pub struct Pair {
    pub redis: Redis,
    pub store: Store,
    pub persist: Persist,
    db: u8,
}

impl Pair {
    pub fn new(redis: Redis) -> Pair {
        let mut store = Store::default();
        store.set_journaling(true);
        Pair {
            redis,
            store,
            persist: super::testing::logging(),
            db: 0,
        }
    }

    /// Runs one command on both and checks the replies agree.
    pub fn check(&mut self, cmp: Cmp, argv: &[Vec<u8>]) -> (V, V) {
        let line = argv
            .iter()
            .map(|a| {
                if a.len() > 40 {
                    format!("<{} bytes>", a.len())
                } else {
                    String::from_utf8_lossy(a).into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let write = is_write(&argv[0]);
        let theirs = self.redis.conn.cmd(argv);
        if is(&argv[0], "select") {
            self.redis.conn3.cmd(argv);
        }
        let mine = run_ours(
            &mut self.store,
            &mut self.persist,
            &mut self.db,
            argv,
            false,
        );
        compare(cmp, &line, "RESP2", &mine, &theirs);
        if !write {
            let theirs3 = self.redis.conn3.cmd(argv);
            let mine3 = run_ours(&mut self.store, &mut self.persist, &mut self.db, argv, true);
            compare(cmp, &line, "RESP3", &mine3, &theirs3);
        }
        (mine, theirs)
    }

    /// Runs a script (one command a line; `#` or `~` marks, see `words`).
    pub fn script(&mut self, text: &str) {
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
        {
            let (cmp, argv) = words(line);
            self.check(cmp, &argv);
        }
    }
}

fn is_write(name: &[u8]) -> bool {
    const WRITES: &[&str] = &[
        "hset",
        "hmset",
        "hsetnx",
        "hdel",
        "hincrby",
        "hincrbyfloat",
        "sadd",
        "srem",
        "spop",
        "smove",
        "sinterstore",
        "sunionstore",
        "sdiffstore",
        "restore",
        "del",
        "pexpire",
        "persist",
        "rename",
        "renamenx",
        "copy",
        "move",
        "set",
        "select",
    ];
    WRITES.iter().any(|w| is(name, w)) || super::lz_check::is_write(name)
}

fn compare(cmp: Cmp, line: &str, proto: &str, mine: &V, theirs: &V) {
    match cmp {
        Cmp::Exact => assert_eq!(mine, theirs, "{proto} `{line}`"),
        Cmp::Unordered => assert_eq!(
            mine.clone().sorted(),
            theirs.clone().sorted(),
            "{proto} `{line}` (unordered)"
        ),
        Cmp::Kind => assert_eq!(
            std::mem::discriminant(mine),
            std::mem::discriminant(theirs),
            "{proto} `{line}` (kind): {mine:?} vs {theirs:?}"
        ),
        Cmp::Len => {
            assert_eq!(
                mine.len(),
                theirs.len(),
                "{proto} `{line}` (length): {mine:?} vs {theirs:?}"
            );
            assert!(mine.len().is_some(), "{proto} `{line}`: {mine:?}");
        }
    }
}
