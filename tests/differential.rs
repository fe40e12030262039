//! Differential test: the same command sequences go to a real `redis-server`
//! 7.0.15 (the oracle) and to shardcache (`--shards 4 --workers 2`), over raw
//! RESP connections, and the replies are compared byte for byte.
//!
//! The sequences live in `tests/differential/*.txt`, one file per command
//! family; adding a file or a sequence needs no code change. Every sequence
//! runs on fresh connections after a `FLUSHALL` of both servers (plus
//! `CONFIG SET maxmemory 0 maxmemory-policy allkeys-lru lfu-log-factor 10
//! lfu-decay-time 1`, so a sequence that
//! changes them cannot leak into the next). All mismatches are collected,
//! printed grouped by file and sequence, and the test fails once at the end.
//!
//! # File format
//!
//! ```text
//! # a comment (whole lines only)
//! === set-nx-xx                 starts a sequence named `set-nx-xx`; it runs
//!                               until the next `===` (names are unique per file)
//! SET k v NX                    a command on connection 1
//! @2 GET k                      a command on connection 2 (@1..@9; each opens
//!                               on first use; WATCH tests use two)
//! TTL k ~ttl                    trailing `~markers` pick a normalisation
//! SET "a b" "\x00\xff\r\n"      redis-cli quoting: "..." with \xNN \n \r \t \b
//!                               \a \" \\ escapes, '...' literal with \' only
//! SET big %rep:524288:a         generated argument: "a" 524288 times
//! SET bin %bytes:0:255          generated argument: bytes 0..=255 ascending
//! SET b %rep:2048:%bytes:0:255  generators nest: 512 KB of all byte values
//! SADD s %range:1:600           generated arguments: 1 2 ... 600 (a range
//! SADD s %range:1:600:m:        expands to several); with a prefix: m:1 ...
//! !sleep 150                    sleeps 150 ms (both servers run in lockstep)
//! !pipeline                     the commands up to `!end` go out in one write
//! !end                          per server, then each reply is compared
//! !close @2                     closes connection 2 on both servers
//! !distinct-shards a c d g      asserts (at load time) these keys route to
//! !same-shard from to           pairwise different shards / one shard under
//!                               `shards::route::Router::new(4)`, the routing
//!                               of the `--shards 4` server under test
//! ```
//!
//! An unquoted argument starting with `~` at the end of a line is a marker;
//! quote it (`"~x"`) to send it. Markers (they apply to the whole reply,
//! recursing into arrays, maps and EXEC results, unless said otherwise):
//!
//! - `~near:D` integers may differ by at most D; `~ttl` is `~near:1` (TTL
//!   countdowns), `~pttl` is `~near:1000` (PTTL, PEXPIRETIME of relative TTLs).
//! - `~int` both integers, any value; `~int:LO..HI`, `~int:LO..` both within
//!   the range (COMMAND COUNT, CLIENT ID, OBJECT IDLETIME, MEMORY USAGE, LASTSAVE).
//! - `~bulk` string contents are not compared, their types and the reply's
//!   shape are (INFO, CLIENT LIST/INFO).
//! - `~shape` only types and aggregate lengths are compared (TIME).
//! - `~set` the top-level array is compared as a multiset (KEYS).
//! - `~pairs` the top-level map (RESP3) or flat field/value array (RESP2) is
//!   compared as a set of pairs (CONFIG GET with a pattern).
//! - `~scan` the line is a SCAN whose cursor (argument 1) the harness drives
//!   to 0 on each server; the sets of keys returned are compared. On HSCAN,
//!   SSCAN and ZSCAN the cursor is argument 2, and HSCAN's and ZSCAN's
//!   field/value pairs are compared as a set of pairs.
//! - `~in:a,b,c` each server's reply must be one of these bulk strings
//!   (RANDOMKEY); an aggregate reply must have the same shape on both, with
//!   every bulk string inside it one of these (SRANDMEMBER with a count).
//! - `~distinct` the top-level arrays have the same length and neither
//!   repeats an element (SRANDMEMBER and HRANDFIELD with a positive count);
//!   combine with `~in:`.
//! - `~each-set` every aggregate inside the top-level array is compared as a
//!   multiset (EXEC replies holding SMEMBERS or SUNION of a hashtable set).
//! - `~info:f1,f2` an INFO reply: only these fields' values are compared
//!   (`keyspace_hits` after a `CONFIG RESETSTAT`).
//! - `~error` both replies are errors with the same code (`ERR`, `WRONGTYPE`,
//!   ...), the text is not compared: only for the deliberate differences the
//!   README lists.
//! - `~command-info` COMMAND INFO entries: name, arity, flags, first/last key,
//!   step and ACL categories exact; tips, key specs and subcommands only by
//!   type (for containers: Redis lists their subcommands in its dict order,
//!   and shardcache declares only those it serves).
//! - `~except:f1,f2` a map (RESP3) or flat field/value array (RESP2): fields
//!   and order exact, the values of the listed fields by shape only (HELLO's
//!   `id` and `version`).
//!
//! # Modes
//!
//! - `DIFF_SELF_CHECK=1` runs every sequence against two independent
//!   `redis-server`s instead: each must match, which proves the sequences
//!   are deterministic and the normalisations sufficient.
//! - `DIFF_SHOW=1` prints every command with the oracle's reply (to review
//!   what a new sequence records).
//! - `DIFF_FILTER=text` runs only the sequences whose `file/name` contains
//!   `text`.
//! - Under `SHARDCACHE_TEST_AGAINST_REDIS=1` the test is skipped (it would
//!   compare Redis with itself). Without `redis-server` on PATH it is skipped
//!   with a message, except when `CI` is set, where that fails.

mod common;

use common::{escape, Server, AGAINST_REDIS};
use shards::route::Router;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Redis release whose replies the sequences record.
const ORACLE_VERSION: &str = "7.0.15";
/// Shard count of the server under test (`Server::start` passes `--shards 4`).
const SHARDS: usize = 4;
/// How long one reply may take before the connection counts as hung.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Replies longer than this are cut in mismatch reports.
const SHOW_BYTES: usize = 300;
/// SCAN iterations before the harness gives up on reaching cursor 0.
const MAX_SCAN_ROUNDS: usize = 10_000;

// ------------------------------------------------------------------ data model

/// A normalisation, chosen by a `~marker`.
#[derive(Debug, Clone, Default)]
struct Norm {
    near: Option<i64>,
    int_range: Option<(Option<i64>, Option<i64>)>,
    any_string: bool,
    shape: bool,
    set: bool,
    pairs: bool,
    scan: bool,
    one_of: Option<Vec<Vec<u8>>>,
    except: Option<Vec<Vec<u8>>>,
    error_code: bool,
    command_info: bool,
    distinct: bool,
    each_set: bool,
    info: Option<Vec<Vec<u8>>>,
}

impl Norm {
    fn is_exact(&self) -> bool {
        self.near.is_none()
            && self.int_range.is_none()
            && !self.any_string
            && !self.shape
            && !self.set
            && !self.pairs
            && !self.scan
            && self.one_of.is_none()
            && self.except.is_none()
            && !self.error_code
            && !self.command_info
            && !self.distinct
            && !self.each_set
            && self.info.is_none()
    }
}

/// One command line.
#[derive(Debug, Clone)]
struct CmdLine {
    line: usize,
    conn: usize,
    args: Vec<Vec<u8>>,
    norm: Norm,
    markers: String,
}

/// One step of a sequence.
#[derive(Debug, Clone)]
enum Step {
    Cmd(CmdLine),
    Pipeline(Vec<CmdLine>),
    Sleep(Duration),
    Close(usize),
}

/// A named sequence from one data file.
#[derive(Debug, Clone)]
struct Sequence {
    file: String,
    name: String,
    line: usize,
    steps: Vec<Step>,
}

// --------------------------------------------------------------------- parsing

/// Splits a line like redis-cli (sdssplitargs): whitespace-separated,
/// `"..."` with escapes, `'...'` literal. Each token says whether it was quoted.
fn split_args(line: &str) -> Result<Vec<(Vec<u8>, bool)>, String> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        let mut tok = Vec::new();
        let quoted = b[i] == b'"' || b[i] == b'\'';
        if b[i] == b'"' {
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err("unbalanced double quote".into()),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let c = *b.get(i + 1).ok_or("dangling backslash")?;
                        i += 2;
                        match c {
                            b'x' => {
                                let hex = b.get(i..i + 2).ok_or("short \\x escape")?;
                                let hex = std::str::from_utf8(hex).map_err(|e| e.to_string())?;
                                tok.push(
                                    u8::from_str_radix(hex, 16)
                                        .map_err(|_| format!("bad \\x{hex} escape"))?,
                                );
                                i += 2;
                            }
                            b'n' => tok.push(b'\n'),
                            b'r' => tok.push(b'\r'),
                            b't' => tok.push(b'\t'),
                            b'b' => tok.push(8),
                            b'a' => tok.push(7),
                            other => tok.push(other),
                        }
                    }
                    Some(&c) => {
                        tok.push(c);
                        i += 1;
                    }
                }
            }
        } else if b[i] == b'\'' {
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err("unbalanced single quote".into()),
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if b.get(i + 1) == Some(&b'\'') => {
                        tok.push(b'\'');
                        i += 2;
                    }
                    Some(&c) => {
                        tok.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                tok.push(b[i]);
                i += 1;
            }
        }
        if quoted && i < b.len() && !b[i].is_ascii_whitespace() {
            return Err("a closing quote must be followed by a space".into());
        }
        out.push((tok, quoted));
    }
    Ok(out)
}

/// Expands a `%rep:N:TEXT` or `%bytes:A:B` generator token.
fn generate(tok: &str) -> Result<Vec<u8>, String> {
    if let Some(rest) = tok.strip_prefix("%rep:") {
        let (n, text) = rest.split_once(':').ok_or("expected %rep:N:TEXT")?;
        let n: usize = n.parse().map_err(|_| format!("bad count in {tok}"))?;
        let unit = if text.starts_with('%') {
            generate(text)?
        } else {
            text.as_bytes().to_vec()
        };
        return Ok(unit.repeat(n));
    }
    if let Some(rest) = tok.strip_prefix("%bytes:") {
        let (a, z) = rest.split_once(':').ok_or("expected %bytes:A:B")?;
        let a: u8 = a.parse().map_err(|_| format!("bad start in {tok}"))?;
        let z: u8 = z.parse().map_err(|_| format!("bad end in {tok}"))?;
        if a > z {
            return Err(format!("empty range in {tok}"));
        }
        return Ok((a..=z).collect());
    }
    Err(format!("unknown generator {tok}"))
}

/// Expands `%range:A:B[:PREFIX]` into the arguments `PREFIX{A}` ..
/// `PREFIX{B}`.
fn range_args(tok: &str) -> Result<Vec<Vec<u8>>, String> {
    let rest = tok.strip_prefix("%range:").ok_or("expected %range:")?;
    let mut parts = rest.splitn(3, ':');
    let mut bound = || -> Result<i64, String> {
        parts
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("bad bound in {tok}"))
    };
    let (a, z) = (bound()?, bound()?);
    let prefix = parts.next().unwrap_or("");
    if a > z || z - a >= 1_000_000 {
        return Err(format!("empty or huge range in {tok}"));
    }
    Ok((a..=z)
        .map(|i| format!("{prefix}{i}").into_bytes())
        .collect())
}

fn parse_int_range(spec: &str) -> Result<(Option<i64>, Option<i64>), String> {
    let (lo, hi) = spec.split_once("..").ok_or("expected LO..HI")?;
    let bound = |s: &str| -> Result<Option<i64>, String> {
        if s.is_empty() {
            Ok(None)
        } else {
            s.parse().map(Some).map_err(|_| format!("bad bound {s}"))
        }
    };
    Ok((bound(lo)?, bound(hi)?))
}

fn list(spec: &str) -> Vec<Vec<u8>> {
    spec.split(',').map(|s| s.as_bytes().to_vec()).collect()
}

/// Applies one `~marker` to `norm`.
fn apply_marker(norm: &mut Norm, m: &str) -> Result<(), String> {
    match m {
        "ttl" => norm.near = Some(1),
        "pttl" => norm.near = Some(1000),
        "int" => norm.int_range = Some((None, None)),
        "bulk" => norm.any_string = true,
        "shape" => norm.shape = true,
        "set" => norm.set = true,
        "pairs" => norm.pairs = true,
        "error" => norm.error_code = true,
        "command-info" => norm.command_info = true,
        "scan" => norm.scan = true,
        "distinct" => norm.distinct = true,
        "each-set" => norm.each_set = true,
        _ => {
            if let Some(d) = m.strip_prefix("near:") {
                norm.near = Some(d.parse().map_err(|_| format!("bad ~near:{d}"))?);
            } else if let Some(r) = m.strip_prefix("int:") {
                norm.int_range = Some(parse_int_range(r)?);
            } else if let Some(l) = m.strip_prefix("in:") {
                norm.one_of = Some(list(l));
            } else if let Some(l) = m.strip_prefix("except:") {
                norm.except = Some(list(l));
            } else if let Some(l) = m.strip_prefix("info:") {
                norm.info = Some(list(l));
            } else {
                return Err(format!("unknown marker ~{m}"));
            }
        }
    }
    Ok(())
}

/// Parses a command line (after any `@N` prefix).
fn parse_cmd(text: &str, line: usize) -> Result<CmdLine, String> {
    let mut toks = split_args(text)?;
    let mut conn = 1;
    if let Some((first, false)) = toks.first() {
        if let Some(n) = first.strip_prefix(b"@") {
            conn = std::str::from_utf8(n)
                .ok()
                .and_then(|n| n.parse().ok())
                .filter(|n| (1..=9).contains(n))
                .ok_or("connection prefix must be @1..@9")?;
            toks.remove(0);
        }
    }
    let mut norm = Norm::default();
    let mut markers = Vec::new();
    while let Some((tok, false)) = toks.last() {
        let Some(m) = tok.strip_prefix(b"~") else {
            break;
        };
        let m = String::from_utf8(m.to_vec()).map_err(|_| "marker is not UTF-8")?;
        apply_marker(&mut norm, &m)?;
        markers.insert(0, format!("~{m}"));
        toks.pop();
    }
    let mut args = Vec::with_capacity(toks.len());
    for (tok, quoted) in toks {
        if !quoted && tok.starts_with(b"%range:") {
            args.extend(range_args(
                std::str::from_utf8(&tok).map_err(|e| e.to_string())?,
            )?);
        } else if !quoted && tok.starts_with(b"%") {
            args.push(generate(
                std::str::from_utf8(&tok).map_err(|e| e.to_string())?,
            )?);
        } else {
            args.push(tok);
        }
    }
    if args.is_empty() {
        return Err("a command line needs a command".into());
    }
    if norm.scan && args.len() < 2 {
        return Err("~scan needs a cursor argument".into());
    }
    Ok(CmdLine {
        line,
        conn,
        args,
        norm,
        markers: markers.join(" "),
    })
}

/// Keys named by a routing directive.
fn directive_keys(rest: &str) -> Result<Vec<Vec<u8>>, String> {
    let keys: Vec<Vec<u8>> = split_args(rest)?.into_iter().map(|(k, _)| k).collect();
    if keys.len() < 2 {
        return Err("a routing directive needs at least two keys".into());
    }
    Ok(keys)
}

/// Checks a `!distinct-shards` / `!same-shard` directive.
fn check_routing(directive: &str, keys: &[Vec<u8>]) -> Result<(), String> {
    let router = Router::new(SHARDS);
    let shards: Vec<usize> = keys.iter().map(|k| router.shard_of(k)).collect();
    let named = || {
        keys.iter()
            .zip(&shards)
            .map(|(k, s)| format!("{}→{s}", escape(k)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let distinct: BTreeSet<usize> = shards.iter().copied().collect();
    match directive {
        "distinct-shards" if distinct.len() != keys.len() => {
            Err(format!("keys share a shard: {}", named()))
        }
        "same-shard" if distinct.len() != 1 => Err(format!("keys span shards: {}", named())),
        _ => Ok(()),
    }
}

/// Parses one data file.
fn parse_file(file: &str, text: &str) -> Result<Vec<Sequence>, String> {
    let mut seqs: Vec<Sequence> = Vec::new();
    let mut names = BTreeSet::new();
    let mut pipeline: Option<Vec<CmdLine>> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let at = |e: String| format!("{file}:{line}: {e}");
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(name) = t.strip_prefix("===") {
            if pipeline.is_some() {
                return Err(at("!pipeline without !end".into()));
            }
            let name = name.trim().to_string();
            if name.is_empty() || !names.insert(name.clone()) {
                return Err(at(format!("empty or duplicate sequence name {name:?}")));
            }
            seqs.push(Sequence {
                file: file.to_string(),
                name,
                line,
                steps: Vec::new(),
            });
            continue;
        }
        let seq = seqs
            .last_mut()
            .ok_or_else(|| at("a line before the first === header".into()))?;
        if let Some(d) = t.strip_prefix('!') {
            let (word, rest) = d.split_once(char::is_whitespace).unwrap_or((d, ""));
            match word {
                "sleep" => {
                    let ms: u64 = rest.trim().parse().map_err(|_| at("bad !sleep".into()))?;
                    seq.steps.push(Step::Sleep(Duration::from_millis(ms)));
                }
                "pipeline" if pipeline.is_none() => pipeline = Some(Vec::new()),
                "end" => {
                    let cmds = pipeline
                        .take()
                        .ok_or_else(|| at("!end without !pipeline".into()))?;
                    if cmds.iter().any(|c| c.norm.scan) {
                        return Err(at("~scan inside a pipeline".into()));
                    }
                    seq.steps.push(Step::Pipeline(cmds));
                }
                "close" => {
                    let n = rest
                        .trim()
                        .strip_prefix('@')
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| at("expected !close @N".into()))?;
                    seq.steps.push(Step::Close(n));
                }
                "distinct-shards" | "same-shard" => {
                    let keys = directive_keys(rest).map_err(at)?;
                    check_routing(word, &keys).map_err(at)?;
                }
                _ => return Err(at(format!("unknown directive !{word}"))),
            }
            continue;
        }
        let c = parse_cmd(t, line).map_err(at)?;
        match &mut pipeline {
            Some(cmds) => cmds.push(c),
            None => seq.steps.push(Step::Cmd(c)),
        }
    }
    if pipeline.is_some() {
        return Err(format!("{file}: !pipeline without !end at the end"));
    }
    if let Some(s) = seqs.iter().find(|s| s.steps.is_empty()) {
        return Err(format!("{file}:{}: sequence {} is empty", s.line, s.name));
    }
    Ok(seqs)
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential")
}

/// Every sequence of every data file, files in name order.
fn load_all() -> Vec<Sequence> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("tests/differential exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        all.extend(parse_file(&name, &text).unwrap_or_else(|e| panic!("{e}")));
    }
    all
}

// -------------------------------------------------------------------- replies

/// A parsed RESP2/RESP3 reply: leaves keep their type byte and text (or bulk
/// body; `None` for a null bulk), aggregates their type byte and children
/// (`None` for a null array; maps and attributes hold keys and values
/// alternately).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Val {
    Leaf(u8, Option<Vec<u8>>),
    Agg(u8, Option<Vec<Val>>),
}

impl Val {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Val::Leaf(t, Some(body)) if matches!(t, b'$' | b'=' | b'!') => {
                out.push(*t);
                out.extend_from_slice(format!("{}\r\n", body.len()).as_bytes());
                out.extend_from_slice(body);
                out.extend_from_slice(b"\r\n");
            }
            Val::Leaf(t, None) => {
                out.push(*t);
                out.extend_from_slice(b"-1\r\n");
            }
            Val::Leaf(t, Some(line)) => {
                out.push(*t);
                out.extend_from_slice(line);
                out.extend_from_slice(b"\r\n");
            }
            Val::Agg(t, None) => {
                out.push(*t);
                out.extend_from_slice(b"-1\r\n");
            }
            Val::Agg(t, Some(items)) => {
                let n = if matches!(t, b'%' | b'|') {
                    items.len() / 2
                } else {
                    items.len()
                };
                out.push(*t);
                out.extend_from_slice(format!("{n}\r\n").as_bytes());
                for v in items {
                    v.encode(out);
                }
            }
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// Parses one reply at the start of `buf`: `Ok(None)` if incomplete.
fn parse_reply(buf: &[u8]) -> Result<Option<(Val, usize)>, String> {
    let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let tag = buf[0];
    let text = &buf[1..eol];
    let mut pos = eol + 2;
    let num = || -> Result<i64, String> {
        std::str::from_utf8(text)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad length in \"{}\"", escape(&buf[..eol])))
    };
    match tag {
        b'+' | b'-' | b':' | b',' | b'#' | b'(' | b'_' => {
            Ok(Some((Val::Leaf(tag, Some(text.to_vec())), pos)))
        }
        b'$' | b'=' | b'!' => {
            let n = num()?;
            if n < 0 {
                return Ok(Some((Val::Leaf(tag, None), pos)));
            }
            let n = n as usize;
            if buf.len() < pos + n + 2 {
                return Ok(None);
            }
            if &buf[pos + n..pos + n + 2] != b"\r\n" {
                return Err("bulk string not followed by CRLF".into());
            }
            Ok(Some((
                Val::Leaf(tag, Some(buf[pos..pos + n].to_vec())),
                pos + n + 2,
            )))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = num()?;
            if n < 0 {
                return Ok(Some((Val::Agg(tag, None), pos)));
            }
            let count = if matches!(tag, b'%' | b'|') { 2 * n } else { n };
            let mut items = Vec::with_capacity(count as usize);
            for _ in 0..count {
                match parse_reply(&buf[pos..])? {
                    Some((v, used)) => {
                        items.push(v);
                        pos += used;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Val::Agg(tag, Some(items)), pos)))
        }
        _ => Err(format!(
            "unknown reply type byte in \"{}\"",
            escape(&buf[..eol])
        )),
    }
}

/// What one server did with one command: its reply (raw bytes and parsed),
/// or why there was none.
type Outcome = Result<(Vec<u8>, Val), String>;

/// Said of a connection the server closed.
const CLOSED: &str = "(connection closed by the server)";

/// A raw connection of one sequence to one server.
struct Conn {
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    /// Why the connection is unusable, once it is.
    dead: Option<String>,
}

impl Conn {
    fn open(addr: &str) -> Conn {
        let mut c = Conn {
            stream: None,
            buf: Vec::new(),
            dead: None,
        };
        match TcpStream::connect(addr) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                let _ = s.set_read_timeout(Some(REPLY_TIMEOUT));
                let _ = s.set_write_timeout(Some(REPLY_TIMEOUT));
                c.stream = Some(s);
            }
            Err(e) => c.dead = Some(format!("(cannot connect: {e})")),
        }
        c
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        if let Some(why) = &self.dead {
            return Err(why.clone());
        }
        let stream = self.stream.as_mut().expect("live connection has a stream");
        if let Err(e) = stream.write_all(bytes) {
            let why = match e.kind() {
                ErrorKind::BrokenPipe
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted => CLOSED.to_string(),
                _ => format!("(write failed: {e})"),
            };
            self.dead = Some(why.clone());
            return Err(why);
        }
        Ok(())
    }

    fn read(&mut self) -> Outcome {
        if let Some(why) = &self.dead {
            return Err(why.clone());
        }
        let started = Instant::now();
        loop {
            if !self.buf.is_empty() {
                match parse_reply(&self.buf) {
                    Ok(Some((val, used))) => {
                        let raw: Vec<u8> = self.buf.drain(..used).collect();
                        return Ok((raw, val));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let why =
                            format!("(unparsable reply: {e}: \"{}\")", cut(&escape(&self.buf)));
                        self.dead = Some(why.clone());
                        return Err(why);
                    }
                }
            }
            let mut chunk = [0u8; 64 * 1024];
            let stream = self.stream.as_mut().expect("live connection has a stream");
            let why = match stream.read(&mut chunk) {
                Ok(0) => CLOSED.to_string(),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    format!(
                        "(no complete reply within {:?}; partial: \"{}\")",
                        started.elapsed(),
                        cut(&escape(&self.buf))
                    )
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                    ) =>
                {
                    CLOSED.to_string()
                }
                Err(e) => format!("(read failed: {e})"),
            };
            self.dead = Some(why.clone());
            return Err(why);
        }
    }

    fn call(&mut self, args: &[Vec<u8>]) -> Outcome {
        self.send(&common::cmd(args))?;
        self.read()
    }
}

fn cut(s: &str) -> String {
    if s.len() > SHOW_BYTES {
        let mut end = SHOW_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} chars)", &s[..end], s.len())
    } else {
        s.to_string()
    }
}

// ----------------------------------------------------------------- comparison

fn int_of(text: &Option<Vec<u8>>) -> Option<i64> {
    std::str::from_utf8(text.as_deref()?).ok()?.parse().ok()
}

/// Compares two replies under `n` (recursively, except for the top-level
/// only markers `~set`, `~except`, which `top_equal` handles).
fn equal(a: &Val, b: &Val, n: &Norm) -> bool {
    match (a, b) {
        (Val::Leaf(ta, ca), Val::Leaf(tb, cb)) => {
            if ta != tb {
                return false;
            }
            if n.shape {
                return ca.is_some() == cb.is_some();
            }
            if *ta == b':' {
                if let (Some((lo, hi)), Some(x), Some(y)) = (n.int_range, int_of(ca), int_of(cb)) {
                    let ok =
                        |v: i64| lo.map_or(true, |lo| v >= lo) && hi.map_or(true, |hi| v <= hi);
                    return ok(x) && ok(y);
                }
                if let (Some(d), Some(x), Some(y)) = (n.near, int_of(ca), int_of(cb)) {
                    return (x - y).abs() <= d;
                }
            }
            if n.any_string && matches!(ta, b'$' | b'=' | b'+') && ca.is_some() && cb.is_some() {
                return true;
            }
            ca == cb
        }
        (Val::Agg(ta, ca), Val::Agg(tb, cb)) => {
            ta == tb
                && match (ca, cb) {
                    (None, None) => true,
                    (Some(x), Some(y)) => {
                        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q, n))
                    }
                    _ => false,
                }
        }
        _ => false,
    }
}

/// The first word of an error reply (`ERR`, `WRONGTYPE`, ...).
fn error_code(v: &Val) -> Option<&[u8]> {
    match v {
        Val::Leaf(b'-' | b'!', Some(text)) => text.split(|&c| c == b' ').next(),
        _ => None,
    }
}

/// COMMAND INFO entries: the first seven fields exact, the rest by type.
fn command_info_equal(a: &Val, b: &Val) -> bool {
    let (Val::Agg(ta, Some(x)), Val::Agg(tb, Some(y))) = (a, b) else {
        return a == b;
    };
    ta == tb
        && x.len() == y.len()
        && x.iter().zip(y).all(|(p, q)| match (p, q) {
            (Val::Agg(b'*', Some(f)), Val::Agg(b'*', Some(g))) => {
                f.len() == g.len()
                    && f.iter().zip(g).enumerate().all(|(i, (u, v))| {
                        if i < 7 {
                            u == v
                        } else {
                            matches!((u, v), (Val::Agg(s, _), Val::Agg(t, _)) if s == t)
                        }
                    })
            }
            _ => p == q,
        })
}

fn top_equal(a: &Val, b: &Val, n: &Norm) -> bool {
    if n.error_code {
        return error_code(a).is_some() && error_code(a) == error_code(b);
    }
    if n.command_info {
        return command_info_equal(a, b);
    }
    if n.set {
        if let (Val::Agg(ta, Some(x)), Val::Agg(tb, Some(y))) = (a, b) {
            let mut x = x.clone();
            let mut y = y.clone();
            x.sort();
            y.sort();
            return ta == tb && x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| equal(p, q, n));
        }
    }
    if n.pairs {
        if let (Val::Agg(ta, Some(x)), Val::Agg(tb, Some(y))) = (a, b) {
            if ta != tb || x.len() != y.len() || x.len() % 2 != 0 {
                return false;
            }
            let mut x: Vec<&[Val]> = x.chunks(2).collect();
            let mut y: Vec<&[Val]> = y.chunks(2).collect();
            x.sort();
            y.sort();
            return x
                .iter()
                .zip(&y)
                .all(|(p, q)| equal(&p[0], &q[0], n) && equal(&p[1], &q[1], n));
        }
    }
    if let Some(fields) = &n.except {
        if let (Val::Agg(ta, Some(x)), Val::Agg(tb, Some(y))) = (a, b) {
            if ta != tb || x.len() != y.len() || x.len() % 2 != 0 {
                return false;
            }
            let shape = Norm {
                shape: true,
                ..Norm::default()
            };
            return x.chunks(2).zip(y.chunks(2)).all(|(p, q)| {
                if p[0] != q[0] {
                    return false;
                }
                let loose = matches!(&p[0], Val::Leaf(_, Some(k)) if fields.contains(k));
                equal(&p[1], &q[1], if loose { &shape } else { n })
            });
        }
    }
    equal(a, b, n)
}

/// Whether a `~in:` reply is one of the allowed bulk strings.
fn in_list(v: &Val, allowed: &[Vec<u8>]) -> bool {
    match v {
        Val::Leaf(b'$', Some(k)) => allowed.contains(k),
        Val::Agg(_, Some(items)) => items.iter().all(|i| in_list(i, allowed)),
        _ => false,
    }
}

/// A `~in:` comparison: a bulk string from the list on both sides, or
/// aggregates of the same shape whose bulk strings all are.
fn in_list_match(e: &Val, a: &Val, allowed: &[Vec<u8>]) -> bool {
    let shape = Norm {
        shape: true,
        ..Norm::default()
    };
    let same_shape = !matches!(e, Val::Leaf(..)) && equal(e, a, &shape);
    (matches!(e, Val::Leaf(..)) || same_shape) && in_list(e, allowed) && in_list(a, allowed)
}

/// Whether an aggregate repeats none of its elements.
fn all_distinct(v: &Val) -> bool {
    match v {
        Val::Agg(_, Some(items)) => items.iter().collect::<BTreeSet<_>>().len() == items.len(),
        _ => false,
    }
}

/// An aggregate's elements in sorted order (a multiset), nested ones too.
fn sorted_deep(v: &Val) -> Val {
    match v {
        Val::Agg(t, Some(items)) => {
            let mut items: Vec<Val> = items.iter().map(sorted_deep).collect();
            items.sort();
            Val::Agg(*t, Some(items))
        }
        other => other.clone(),
    }
}

/// The listed fields of an INFO reply, in order (absent ones as empty).
fn info_fields(v: &Val, fields: &[Vec<u8>]) -> Option<Vec<String>> {
    let Val::Leaf(b'$' | b'=', Some(text)) = v else {
        return None;
    };
    let info = common::parse_info(&String::from_utf8_lossy(text));
    Some(
        fields
            .iter()
            .map(|f| {
                let f = String::from_utf8_lossy(f);
                info.iter()
                    .find(|(k, _)| *k == f)
                    .map(|(k, v)| format!("{k}:{v}"))
                    .unwrap_or_default()
            })
            .collect(),
    )
}

fn outcomes_match(expected: &Outcome, actual: &Outcome, n: &Norm) -> bool {
    match (expected, actual) {
        (Ok((re, ve)), Ok((ra, va))) => {
            if let Some(allowed) = &n.one_of {
                let distinct = !n.distinct || (all_distinct(ve) && all_distinct(va));
                return distinct && (in_list_match(ve, va, allowed) || re == ra);
            }
            if n.distinct && !(all_distinct(ve) && all_distinct(va)) {
                return false;
            }
            if let Some(fields) = &n.info {
                let (x, y) = (info_fields(ve, fields), info_fields(va, fields));
                return x.is_some() && x == y;
            }
            if n.each_set {
                let each = |v: &Val| match v {
                    Val::Agg(t, Some(items)) => {
                        Val::Agg(*t, Some(items.iter().map(sorted_deep).collect()))
                    }
                    other => other.clone(),
                };
                return each(ve) == each(va);
            }
            if n.is_exact() {
                re == ra
            } else {
                top_equal(ve, va, n)
            }
        }
        (Err(e), Err(a)) => e == a,
        _ => false,
    }
}

// ------------------------------------------------------------------- running

/// Drives a `~scan` line's cursor to 0 and returns the keys seen, sorted and
/// deduplicated, as one array; a reply that is not a SCAN page ends the
/// iteration and is returned as it is.
fn full_scan(conn: &mut Conn, args: &[Vec<u8>]) -> Outcome {
    let mut args = args.to_vec();
    let name = args[0].to_ascii_uppercase();
    let keyed = matches!(&name[..], b"HSCAN" | b"SSCAN" | b"ZSCAN");
    let paired = matches!(&name[..], b"HSCAN" | b"ZSCAN");
    let at = if keyed { 2 } else { 1 };
    if args.len() <= at {
        return conn.call(&args);
    }
    let mut keys = BTreeSet::new();
    for _ in 0..MAX_SCAN_ROUNDS {
        let (raw, val) = conn.call(&args)?;
        let Val::Agg(b'*', Some(page)) = &val else {
            return Ok((raw, val));
        };
        let [Val::Leaf(b'$', Some(cursor)), Val::Agg(b'*', Some(found))] = &page[..] else {
            return Ok((raw, val));
        };
        if paired {
            for p in found.chunks(2) {
                keys.insert(p.to_vec());
            }
        } else {
            for k in found {
                keys.insert(vec![k.clone()]);
            }
        }
        if cursor == b"0" {
            let val = Val::Agg(b'*', Some(keys.into_iter().flatten().collect()));
            return Ok((val.bytes(), val));
        }
        args[at] = cursor.clone();
    }
    Err(format!(
        "(SCAN did not return cursor 0 in {MAX_SCAN_ROUNDS} calls)"
    ))
}

/// One server's side of a running sequence.
struct Side {
    addr: String,
    conns: BTreeMap<usize, Conn>,
}

impl Side {
    fn conn(&mut self, n: usize) -> &mut Conn {
        let addr = &self.addr;
        self.conns.entry(n).or_insert_with(|| Conn::open(addr))
    }

    fn run(&mut self, c: &CmdLine) -> Outcome {
        let conn = self.conn(c.conn);
        if c.norm.scan {
            full_scan(conn, &c.args)
        } else {
            conn.call(&c.args)
        }
    }

    fn run_pipeline(&mut self, cmds: &[CmdLine]) -> Vec<Outcome> {
        let mut sent = Vec::with_capacity(cmds.len());
        let mut batches: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
        for c in cmds {
            batches
                .entry(c.conn)
                .or_default()
                .extend_from_slice(&common::cmd(&c.args));
        }
        for (n, bytes) in &batches {
            sent.push((*n, self.conn(*n).send(bytes)));
        }
        cmds.iter()
            .map(|c| {
                let failed = sent.iter().find(|(n, r)| *n == c.conn && r.is_err());
                match failed {
                    Some((_, Err(e))) => Err(e.clone()),
                    _ => self.conn(c.conn).read(),
                }
            })
            .collect()
    }
}

/// One difference between the oracle and the server under test.
struct Mismatch {
    file: String,
    seq: String,
    line: usize,
    command: String,
    markers: String,
    expected: String,
    actual: String,
}

fn show_outcome(o: &Outcome) -> String {
    match o {
        Ok((raw, _)) => format!("\"{}\"", cut(&escape(raw))),
        Err(why) => why.clone(),
    }
}

fn show_command(args: &[Vec<u8>]) -> String {
    let parts: Vec<String> = args
        .iter()
        .map(|a| {
            let e = escape(a);
            if e.len() > 60 {
                // `escape` output is ASCII, so any index is a char boundary.
                format!("<{} bytes: {}...>", a.len(), &e[..40])
            } else if a.is_empty() || e.contains(' ') || e.len() != a.len() {
                format!("\"{e}\"")
            } else {
                e
            }
        })
        .collect();
    parts.join(" ")
}

/// Resets both servers between sequences, through connections kept for it.
struct Admin {
    oracle: Conn,
    tested: Conn,
}

/// Commands run before every sequence, on both servers.
fn reset_commands() -> Vec<Vec<Vec<u8>>> {
    let words = |s: &str| s.split(' ').map(|w| w.as_bytes().to_vec()).collect();
    vec![
        words("FLUSHALL"),
        words("CONFIG SET maxmemory 0 maxmemory-policy allkeys-lru lfu-log-factor 10 lfu-decay-time 1"),
    ]
}

impl Admin {
    /// Resets both servers; a reset the server under test does not accept is
    /// a mismatch of that sequence.
    fn reset(&mut self, seq: &Sequence, out: &mut Vec<Mismatch>) {
        for args in reset_commands() {
            let e = self.oracle.call(&args);
            assert!(
                matches!(&e, Ok((raw, _)) if raw == b"+OK\r\n"),
                "the oracle refused the reset command {}: {}",
                show_command(&args),
                show_outcome(&e)
            );
            let a = self.tested.call(&args);
            if !outcomes_match(&e, &a, &Norm::default()) {
                out.push(Mismatch {
                    file: seq.file.clone(),
                    seq: seq.name.clone(),
                    line: seq.line,
                    command: format!("(reset before the sequence) {}", show_command(&args)),
                    markers: String::new(),
                    expected: show_outcome(&e),
                    actual: show_outcome(&a),
                });
            }
        }
    }
}

fn record(seq: &Sequence, c: &CmdLine, e: &Outcome, a: &Outcome, out: &mut Vec<Mismatch>) {
    if std::env::var_os("DIFF_SHOW").is_some() {
        eprintln!(
            "{}/{} {}: {} {} -> {}",
            seq.file,
            seq.name,
            c.line,
            show_command(&c.args),
            c.markers,
            show_outcome(e)
        );
    }
    if !outcomes_match(e, a, &c.norm) {
        // An INFO reply is long: show only the fields compared.
        let show = |o: &Outcome| match (o, &c.norm.info) {
            (Ok((_, v)), Some(fields)) => match info_fields(v, fields) {
                Some(f) => f.join(" "),
                None => show_outcome(o),
            },
            _ => show_outcome(o),
        };
        out.push(Mismatch {
            file: seq.file.clone(),
            seq: seq.name.clone(),
            line: c.line,
            command: if c.conn == 1 {
                show_command(&c.args)
            } else {
                format!("@{} {}", c.conn, show_command(&c.args))
            },
            markers: c.markers.clone(),
            expected: show(e),
            actual: show(a),
        });
    }
}

/// Runs one sequence on both servers in lockstep, command by command.
fn run_sequence(seq: &Sequence, oracle: &str, tested: &str, out: &mut Vec<Mismatch>) {
    let mut o = Side {
        addr: oracle.to_string(),
        conns: BTreeMap::new(),
    };
    let mut t = Side {
        addr: tested.to_string(),
        conns: BTreeMap::new(),
    };
    for step in &seq.steps {
        match step {
            Step::Cmd(c) => {
                let e = o.run(c);
                let a = t.run(c);
                record(seq, c, &e, &a, out);
            }
            Step::Pipeline(cmds) => {
                let es = o.run_pipeline(cmds);
                let as_ = t.run_pipeline(cmds);
                for ((c, e), a) in cmds.iter().zip(&es).zip(&as_) {
                    record(seq, c, e, a, out);
                }
            }
            Step::Sleep(d) => std::thread::sleep(*d),
            Step::Close(n) => {
                o.conns.remove(n);
                t.conns.remove(n);
                // Let both servers notice the close (it unwatches keys,
                // frees the client) before the next command.
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

// ------------------------------------------------------------- redis-server

/// A `redis-server` child on a free port, killed when dropped.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts `redis-server` without persistence, with shardcache's default
    /// eviction policy (a deliberate, documented difference of defaults that
    /// CONFIG GET would otherwise report), and waits until it accepts.
    fn start() -> RedisServer {
        // redis-server has no port 0: take a port the kernel hands out, free it.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind 127.0.0.1:0")
            .port();
        // SAVE and DEBUG RELOAD write dump.rdb in `dir`: a directory of
        // its own, not the working directory.
        let dir = redis_dir(port);
        std::fs::create_dir_all(&dir).expect("create the oracle's directory");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .args(["--maxmemory-policy", "allkeys-lru"])
            .args(["--enable-debug-command", "yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let mut server = RedisServer { child, port };
        let up = common::wait_until(Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        if !up {
            let status = server.child.try_wait().ok().flatten();
            panic!("redis-server on port {port} did not start (exit status {status:?})");
        }
        server
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn version(&self) -> String {
        let mut c = Conn::open(&self.addr());
        let info = match c.call(&[b"INFO".to_vec(), b"server".to_vec()]) {
            Ok((_, Val::Leaf(b'$', Some(text)))) => String::from_utf8_lossy(&text).into_owned(),
            other => panic!("INFO server from redis-server: {other:?}"),
        };
        common::parse_info(&info)
            .into_iter()
            .find(|(k, _)| k == "redis_version")
            .map(|(_, v)| v)
            .unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(redis_dir(self.port));
    }
}

/// The oracle's `--dir` (SAVE and DEBUG RELOAD write dump.rdb there).
fn redis_dir(port: u16) -> PathBuf {
    std::env::temp_dir().join(format!("shardcache-diff-redis-{port}"))
}

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

/// Skips the test with `why`, or fails it under `CI`, where the tools exist.
fn skip_or_fail(why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{why} (CI is set, so this fails instead of skipping)");
    }
    eprintln!("differential test SKIPPED: {why}");
}

// ----------------------------------------------------------------------- tests

/// The data files parse, names are unique, and every routing directive holds
/// (checked without any server, so a wrong key choice shows up everywhere).
#[test]
fn data_files_are_valid() {
    let seqs = load_all();
    let files: BTreeSet<&str> = seqs.iter().map(|s| s.file.as_str()).collect();
    eprintln!("{} sequences in {} files", seqs.len(), files.len());
    for f in files {
        assert!(
            seqs.iter().filter(|s| s.file == f).count() > 0,
            "{f} has no sequences"
        );
    }
}

#[test]
fn replies_match_redis() {
    if std::env::var_os(AGAINST_REDIS).is_some() {
        eprintln!(
            "differential test SKIPPED: {AGAINST_REDIS} is set (it would compare Redis with Redis)"
        );
        return;
    }
    if !on_path("redis-server") {
        skip_or_fail("`redis-server` is not on PATH (apt-get install redis-server)");
        return;
    }
    let filter = std::env::var("DIFF_FILTER").unwrap_or_default();
    let seqs: Vec<Sequence> = load_all()
        .into_iter()
        .filter(|s| format!("{}/{}", s.file, s.name).contains(&filter))
        .collect();
    let oracle = RedisServer::start();
    let version = oracle.version();
    if version != ORACLE_VERSION {
        skip_or_fail(&format!(
            "redis-server is {version}; the sequences record Redis {ORACLE_VERSION}'s replies"
        ));
        return;
    }
    let self_check = std::env::var_os("DIFF_SELF_CHECK").is_some();
    // The server under test: shardcache, or a second Redis in self-check mode.
    let (tested_addr, tested_name, _redis2, mut shardcache) = if self_check {
        let r = RedisServer::start();
        (r.addr(), "redis#2", Some(r), None)
    } else {
        let s = Server::start(&[]);
        (s.addr(), "shardcache", None, Some(s))
    };
    let mut admin = Admin {
        oracle: Conn::open(&oracle.addr()),
        tested: Conn::open(&tested_addr),
    };
    let started = Instant::now();
    let mut mismatches = Vec::new();
    for seq in &seqs {
        admin.reset(seq, &mut mismatches);
        if admin.tested.dead.is_some() {
            admin.tested = Conn::open(&tested_addr);
        }
        run_sequence(seq, &oracle.addr(), &tested_addr, &mut mismatches);
    }
    let failed: BTreeSet<(&str, &str)> = mismatches
        .iter()
        .map(|m| (m.file.as_str(), m.seq.as_str()))
        .collect();
    eprintln!(
        "{} sequences, {} commands compared in {:.1?} against {tested_name}",
        seqs.len(),
        seqs.iter().map(count_commands).sum::<usize>(),
        started.elapsed()
    );
    if mismatches.is_empty() {
        return;
    }
    let mut report = report(&mismatches, &failed, tested_name);
    // A crash explains every later mismatch; say so before the details.
    if let Some(s) = shardcache.as_mut() {
        if let Err(crash) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.assert_alive()))
        {
            let why = crash
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "shardcache exited".into());
            report.push_str(&format!("\n{why}\n"));
        }
    }
    eprintln!("{report}");
    panic!(
        "{} mismatches in {} of {} sequences against {tested_name} (details above)",
        mismatches.len(),
        failed.len(),
        seqs.len()
    );
}

/// The mismatches grouped by file and sequence, then the failing sequences
/// by cause and by file.
fn report(mismatches: &[Mismatch], failed: &BTreeSet<(&str, &str)>, tested_name: &str) -> String {
    let mut report = String::new();
    let mut last: Option<(&str, &str)> = None;
    for m in mismatches {
        if last.map(|(f, _)| f) != Some(m.file.as_str()) {
            report.push_str(&format!("\n==== {}\n", m.file));
        }
        if last != Some((m.file.as_str(), m.seq.as_str())) {
            report.push_str(&format!("  --- {}\n", m.seq));
        }
        last = Some((m.file.as_str(), m.seq.as_str()));
        report.push_str(&format!(
            "    line {}: {}{}\n      redis:      {}\n      {:<11} {}\n",
            m.line,
            m.command,
            if m.markers.is_empty() {
                String::new()
            } else {
                format!("   [{}]", m.markers)
            },
            m.expected,
            format!("{tested_name}:"),
            m.actual
        ));
    }
    report.push_str("\nfailing sequences by cause (the first mismatch of each):\n");
    let mut by_cause: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (f, s) in failed {
        let first = mismatches
            .iter()
            .find(|m| m.file == *f && m.seq == *s)
            .expect("a failed sequence has a mismatch");
        by_cause
            .entry(cause(&first.expected, &first.actual))
            .or_default()
            .push(format!("{f}/{s}"));
    }
    for (c, names) in by_cause {
        report.push_str(&format!("  {c} ({}): {}\n", names.len(), names.join(" ")));
    }
    report.push_str("\nfailing sequences by file:\n");
    let mut by_file: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (f, s) in failed {
        by_file.entry(f).or_default().push(s);
    }
    for (f, names) in by_file {
        report.push_str(&format!("  {f} ({}): {}\n", names.len(), names.join(" ")));
    }
    report
}

/// Names what a first mismatch most likely comes from: a command or
/// subcommand the server does not know, or a different reply.
fn cause(expected: &str, actual: &str) -> String {
    for (marker, what) in [
        ("unknown command '", "missing command"),
        ("unknown subcommand '", "missing subcommand"),
    ] {
        if expected.contains(marker) {
            continue;
        }
        if let Some(rest) = actual.split(marker).nth(1) {
            let name = rest.split('\'').next().unwrap_or("");
            return format!("{what} {}", name.to_ascii_uppercase());
        }
    }
    "different reply".to_string()
}

fn count_commands(s: &Sequence) -> usize {
    s.steps
        .iter()
        .map(|st| match st {
            Step::Cmd(_) => 1,
            Step::Pipeline(c) => c.len(),
            _ => 0,
        })
        .sum()
}
