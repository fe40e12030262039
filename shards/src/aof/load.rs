//! Start-up: the manifest, parallel replay of the segments, torn tails and
//! corruption, and re-routing to a new shard count.

use super::manifest::{segment_name, Manifest, MANIFEST};
use super::record::{parse_frame, Frame, Record};
use super::segment::Aof;
use super::{sync_dir, AofConfig};
use crate::keyspace::{Expiry, Limits, Store, ValueRef};
use crate::route::Router;
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Why a segment stopped replaying.
#[derive(Debug)]
enum Stop {
    /// The file ends inside a record (a torn tail), or inside a transaction
    /// (`unfinished`: a `MULTI` at `offset` without its `EXEC`).
    Truncated { offset: u64, unfinished: bool },
    /// Bytes that are not a record we write, followed by more data.
    Corrupt { offset: u64, why: String },
}

/// Streams multibulk records out of a segment.
struct Reader {
    file: File,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
}

impl Reader {
    fn open(path: &Path) -> io::Result<Reader> {
        Ok(Reader {
            file: File::open(path)?,
            buf: vec![0; 4 << 20],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
        })
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let len = self.buf.len() * 2;
            self.buf.resize(len, 0);
        }
        let n = self.file.read(&mut self.buf[self.end..])?;
        if n == 0 {
            self.eof = true;
        }
        self.end += n;
        Ok(())
    }

    /// Calls `apply` with the offset and arguments of every command; returns
    /// the byte length of the valid prefix and why it stopped early, if it
    /// did.
    fn replay(
        &mut self,
        mut apply: impl FnMut(u64, &[&[u8]]) -> Result<(), String>,
    ) -> io::Result<(u64, Option<Stop>)> {
        let mut ranges = Vec::new();
        loop {
            let window = &self.buf[self.start..self.end];
            let frame = parse_frame(window, &mut ranges);
            match frame {
                Frame::Done(n) => {
                    // Records rarely have more than a few arguments: no
                    // allocation for those.
                    let mut small: [&[u8]; 8] = [&[]; 8];
                    let big: Vec<&[u8]>;
                    let argv: &[&[u8]] = if ranges.len() <= small.len() {
                        for (i, &(s, l)) in ranges.iter().enumerate() {
                            small[i] = &window[s..s + l];
                        }
                        &small[..ranges.len()]
                    } else {
                        big = ranges.iter().map(|&(s, l)| &window[s..s + l]).collect();
                        &big
                    };
                    if let Err(why) = apply(self.offset, argv) {
                        return Ok((
                            self.offset,
                            Some(Stop::Corrupt {
                                offset: self.offset,
                                why,
                            }),
                        ));
                    }
                    self.start += n;
                    self.offset += n as u64;
                }
                Frame::Incomplete if self.eof => {
                    let stop = (self.start < self.end).then_some(Stop::Truncated {
                        offset: self.offset,
                        unfinished: false,
                    });
                    return Ok((self.offset, stop));
                }
                Frame::Incomplete => {
                    self.fill()?;
                }
                Frame::Bad(why) => {
                    return Ok((
                        self.offset,
                        Some(Stop::Corrupt {
                            offset: self.offset,
                            why,
                        }),
                    ));
                }
            }
        }
    }
}

/// What loading one segment found.
#[derive(Debug, Default, Clone)]
pub struct SegmentReport {
    /// File name.
    pub name: String,
    /// Bytes replayed.
    pub bytes: u64,
    /// Keys in the store afterwards.
    pub keys: usize,
    /// Bytes dropped from a torn or corrupt tail.
    pub dropped: u64,
    /// A section's part the file ends inside, whole but for its `EXEC`.
    open_tail: Option<OpenTail>,
}

/// The part of a section that a segment ends inside (see `settle`).
#[derive(Debug, Clone, Copy)]
struct OpenTail {
    /// Where its note begins.
    offset: u64,
    /// The section.
    section: u64,
}

fn load_segment(
    dir: &Path,
    name: &str,
    cfg: &AofConfig,
    limits: Limits,
) -> Result<(Store, SegmentReport), String> {
    let path = dir.join(name);
    // No eviction while loading, but the configured encoding thresholds,
    // and the policy's kind of access data (an LFU counter starts at 5).
    let mut store = Store::new(Limits {
        values: limits.values,
        policy: limits.policy,
        lfu: limits.lfu,
        ..Limits::default()
    });
    let mut report = SegmentReport {
        name: name.to_string(),
        ..Default::default()
    };
    if !path.exists() {
        // Only when `--aof-load-missing yes` let `open` go on without it.
        if !cfg.load_missing {
            return Err(format!("{}: the segment does not exist", path.display()));
        }
        store.set_limits(limits);
        return Ok((store, report));
    }
    let len = fs::metadata(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let now = crate::clock::unix_ms();
    let mut db = 0u8;
    // Where the transaction being replayed began (its note's offset when a
    // note names its section), and the section. Its changes are journaled
    // so that one the file ends inside can be taken back (Redis drops such
    // a transaction too: `aof-load-truncated`).
    let mut multi: Option<(u64, Option<u64>)> = None;
    let mut note: Option<(u64, u64)> = None;
    let mut reader = Reader::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (mut valid, mut stop) = reader
        .replay(|at, args| {
            let mark = transaction_mark(args);
            if let Some(Mark::Section(id)) = mark {
                note = Some((at, id));
                return Ok(());
            }
            let named = note.take();
            match mark {
                Some(Mark::Section(_)) => Ok(()),
                Some(Mark::Multi) => {
                    if multi.is_some() {
                        return Err("MULTI inside a transaction".into());
                    }
                    multi = Some(match named {
                        Some((note_at, id)) => (note_at, Some(id)),
                        None => (at, None),
                    });
                    store.set_journaling(true);
                    Ok(())
                }
                Some(Mark::Exec) => {
                    if multi.take().is_none() {
                        return Err("EXEC without MULTI".into());
                    }
                    store.set_journaling(false);
                    Ok(())
                }
                None => Record::parse(args, |rec| {
                    rec.apply(&mut store, &mut db, now);
                    Ok(())
                }),
            }
        })
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if let (None, Some((at, _)), None | Some(Stop::Truncated { .. })) = (multi, note, &stop) {
        // A note is written with the MULTI it introduces: alone at the end,
        // it is part of a torn tail.
        valid = at;
        stop = Some(Stop::Truncated {
            offset: at,
            unfinished: false,
        });
    }
    match multi {
        // A section's part that ends the file whole but for its EXEC: whether
        // it stays depends on the section's other shards (`settle`), so its
        // changes stay journaled and the file as it is until then.
        Some((at, Some(section))) if stop.is_none() => {
            report.open_tail = Some(OpenTail {
                offset: at,
                section,
            });
        }
        Some((at, _)) => {
            store.rollback();
            valid = at;
            stop = match stop {
                None | Some(Stop::Truncated { .. }) => Some(Stop::Truncated {
                    offset: at,
                    unfinished: true,
                }),
                corrupt => corrupt,
            };
        }
        None => {}
    }
    match stop {
        None => {}
        Some(Stop::Truncated { offset, unfinished }) => {
            let what = if unfinished {
                "a transaction without its EXEC (MULTI)"
            } else {
                "a truncated record"
            };
            if !cfg.load_truncated {
                return Err(format!(
                    "{}: {what} at offset {offset} ({} bytes from there); start with --aof-load-truncated yes to keep the valid prefix",
                    path.display(),
                    len - offset
                ));
            }
            report.dropped = len - valid;
            truncate(&path, valid)?;
            let tail = if unfinished {
                "an unfinished transaction (never acknowledged: its reply waits for its EXEC)"
            } else {
                "a torn tail"
            };
            eprintln!(
                "shardcache aof: {}: dropped {tail} of {} bytes at offset {valid}; kept {valid} bytes",
                path.display(),
                report.dropped
            );
        }
        Some(Stop::Corrupt { offset, why }) => {
            if !cfg.load_corrupt {
                return Err(format!(
                    "{}: corrupt at offset {offset}: {why} ({} bytes follow); inspect it with redis-check-aof, or start with --aof-load-corrupt yes to keep the {offset} valid bytes (the rest is moved aside)",
                    path.display(),
                    len - offset
                ));
            }
            // From the valid prefix's end: a transaction the corruption
            // cut short is taken back whole, and its bytes go aside too.
            let aside = dir.join(format!("{name}.corrupt-{offset}"));
            copy_tail(&path, valid, &aside)?;
            truncate(&path, valid)?;
            report.dropped = len - valid;
            eprintln!(
                "shardcache aof: {}: corrupt at offset {offset} ({why}); kept {valid} bytes, moved {} bytes to {}",
                path.display(),
                report.dropped,
                aside.display()
            );
        }
    }
    report.bytes = valid;
    report.keys = store.len();
    store.set_limits(limits);
    Ok((store, report))
}

enum Mark {
    Multi,
    Exec,
    /// The section whose part the next `MULTI` opens (`Log::seal`).
    Section(u64),
}

/// `MULTI`, `EXEC` or a section note: the bounds of a group replayed whole.
fn transaction_mark(args: &[&[u8]]) -> Option<Mark> {
    match args {
        [c] if c.eq_ignore_ascii_case(b"MULTI") => Some(Mark::Multi),
        [c] if c.eq_ignore_ascii_case(b"EXEC") => Some(Mark::Exec),
        [c, note] if c.eq_ignore_ascii_case(b"ECHO") => {
            let hex = note.strip_prefix(super::SECTION_NOTE)?;
            u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16)
                .ok()
                .map(Mark::Section)
        }
        _ => None,
    }
}

/// Decides the parts of sections that segments end inside, whole but for
/// their `EXEC` (a crash while a section held several shards). A section
/// releases its shards only after every record it made is written on every
/// one of them, so an `EXEC` of it on any other segment means it reached its
/// release: the part here is complete, its changes stay and its `EXEC` is
/// written now. Otherwise no shard committed it (and its client had no
/// reply): it is taken back and the file cut to where it began, as for any
/// transaction a segment ends inside.
fn settle(
    cfg: &AofConfig,
    m: &Manifest,
    stores: &mut [Store],
    reports: &mut [SegmentReport],
) -> Result<(), String> {
    let open: Vec<(usize, OpenTail)> = reports
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.open_tail.map(|t| (i, t)))
        .collect();
    if open.is_empty() {
        return Ok(());
    }
    let wanted: HashSet<u64> = open.iter().map(|(_, t)| t.section).collect();
    let mut committed = HashSet::new();
    for seg in &m.segments {
        let path = cfg.dir.join(seg);
        if path.exists() {
            committed_sections(&path, &wanted, &mut committed)?;
        }
    }
    for (i, tail) in open {
        let path = cfg.dir.join(&m.segments[i]);
        let (store, report) = (&mut stores[i], &mut reports[i]);
        report.open_tail = None;
        if committed.contains(&tail.section) {
            store.set_journaling(false);
            let mut f = OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            f.write_all(super::EXEC)
                .and_then(|()| f.sync_all())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!(
                "shardcache aof: {}: ends inside section {:x}, which another shard committed \
                 (a crash between the shards' releases): kept its records and wrote its EXEC",
                path.display(),
                tail.section
            );
        } else {
            let len = fs::metadata(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .len();
            if !cfg.load_truncated {
                return Err(format!(
                    "{}: a transaction without its EXEC (MULTI) at offset {} ({} bytes from there); start with --aof-load-truncated yes to keep the valid prefix",
                    path.display(),
                    tail.offset,
                    len - tail.offset
                ));
            }
            store.rollback();
            truncate(&path, tail.offset)?;
            report.dropped = len - tail.offset;
            report.bytes = tail.offset;
            eprintln!(
                "shardcache aof: {}: dropped an unfinished transaction (never acknowledged: its reply waits for its EXEC) of {} bytes at offset {}; kept {} bytes",
                path.display(),
                report.dropped,
                tail.offset,
                tail.offset
            );
        }
        report.keys = store.len();
    }
    Ok(())
}

/// Adds to `out` the sections of `wanted` that `path` holds a complete part
/// of (note, `MULTI` ... `EXEC`).
fn committed_sections(
    path: &Path,
    wanted: &HashSet<u64>,
    out: &mut HashSet<u64>,
) -> Result<(), String> {
    let mut reader = Reader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut note = None;
    let mut inside: Option<Option<u64>> = None;
    reader
        .replay(|_, args| {
            match transaction_mark(args) {
                Some(Mark::Section(id)) => {
                    note = wanted.contains(&id).then_some(id);
                    return Ok(());
                }
                Some(Mark::Multi) => inside = Some(note),
                Some(Mark::Exec) => {
                    if let Some(Some(id)) = inside.take() {
                        out.insert(id);
                    }
                }
                None => {}
            }
            note = None;
            Ok(())
        })
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}

fn truncate(path: &Path, len: u64) -> Result<(), String> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.set_len(len)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: truncate: {e}", path.display()))
}

fn copy_tail(path: &Path, from: u64, to: &Path) -> Result<(), String> {
    let mut src = File::open(path).map_err(|e| e.to_string())?;
    src.seek(SeekFrom::Start(from)).map_err(|e| e.to_string())?;
    let mut dst = File::create(to).map_err(|e| e.to_string())?;
    io::copy(&mut src, &mut dst).map_err(|e| e.to_string())?;
    dst.sync_all().map_err(|e| e.to_string())
}

/// Writes a store's live keys as a segment.
fn write_snapshot(path: &Path, store: &Store) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let now = crate::clock::unix_ms();
    let mut db = None;
    let mut chunk = Vec::new();
    let mut cursor = 0;
    loop {
        let next = store.snapshot_range(cursor, 65536, now, |d, k, v, exp| {
            Record::snapshot(&mut chunk, &mut db, d, k, v, exp);
        });
        out.write_all(&chunk)?;
        chunk.clear();
        match next {
            Some(c) => cursor = c,
            None => break,
        }
    }
    out.flush()?;
    out.get_ref().sync_all()
}

/// Stores and open segments, ready for the shard threads.
pub struct Opened {
    /// One store per shard, loaded.
    pub stores: Vec<Store>,
    /// One open segment per shard.
    pub aofs: Vec<Aof>,
    /// Per-segment figures of what was replayed.
    pub segments: Vec<SegmentReport>,
    /// Set when the data was re-routed to a new shard count or routing.
    pub resharded_from: Option<usize>,
}

/// A segment file found in the data directory: `shard-<index>.<generation>.aof`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    generation: u64,
    index: usize,
    name: String,
}

/// The shard index and generation a segment's name carries, if it is one.
fn parse_segment_name(name: &str) -> Option<(usize, u64)> {
    let rest = name.strip_prefix("shard-")?.strip_suffix(".aof")?;
    let (i, g) = rest.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(i) || !digits(g) {
        return None;
    }
    Some((i.parse().ok()?, g.parse().ok()?))
}

/// Every segment file in `dir`, newest generation first, then by index.
fn segments_on_disk(dir: &Path) -> Result<Vec<Found>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut found = Vec::new();
    for e in entries {
        let e = e.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some((index, generation)) = parse_segment_name(&name) {
            found.push(Found {
                generation,
                index,
                name,
            });
        }
    }
    found.sort_by(|a, b| b.generation.cmp(&a.generation).then(a.index.cmp(&b.index)));
    Ok(found)
}

fn names(found: &[Found]) -> String {
    found
        .iter()
        .map(|f| f.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A data directory that holds segments but no manifest (an operator removed
/// it, or a copy left it behind). The newest generation whose segments are
/// all there (indices 0..n, none missing) is the data: a reshard renames its
/// new segments into place from the last index down to 0, so a generation it
/// did not finish always lacks `shard-0`. Nothing is written here; the caller
/// re-routes what this returns into a new generation and manifest.
fn recover_manifest(dir: &Path, found: &[Found]) -> Result<Manifest, String> {
    let mut generations: Vec<u64> = found.iter().map(|f| f.generation).collect();
    generations.dedup();
    for g in generations {
        let segs: Vec<&Found> = found.iter().filter(|f| f.generation == g).collect();
        let complete = segs.iter().enumerate().all(|(i, f)| f.index == i);
        if complete {
            return Ok(Manifest {
                shards: segs.len(),
                // The routing that wrote them is unknown: always re-route.
                fingerprint: 0,
                generation: g,
                segments: segs.iter().map(|f| f.name.clone()).collect(),
            });
        }
    }
    Err(format!(
        "{dir} has no manifest, and the AOF segments in it ({list}) form no complete generation \
         (shard-0 up to shard-N-1 of one generation); nothing was changed. Restore {dir}/manifest \
         from a backup, or move the segments out of {dir} to start with an empty data set",
        dir = dir.display(),
        list = names(found)
    ))
}

/// Opens (or creates) the data directory, replays every segment — one
/// thread per segment — and re-routes the keys when the shard count or the
/// routing changed since the manifest was written.
///
/// A segment is data until a manifest written here retires it: nothing in
/// this function creates a file over one, truncates one (other than a torn
/// tail, see `load_segment`) or deletes one that a manifest still lists or
/// that no manifest ever listed. A directory with segments but no manifest is
/// recovered from its newest complete generation (see `recover_manifest`);
/// a segment the manifest lists but that is missing refuses the start unless
/// `load_missing`.
pub fn open(cfg: &AofConfig, router: &Router, limits: &[Limits]) -> Result<Opened, String> {
    open_seeded(cfg, router, limits, None)
}

/// True when `dir` holds neither a manifest nor a segment: a start there
/// begins from nothing (or from a seed, see `open_seeded`).
pub fn is_fresh(dir: &Path) -> Result<bool, String> {
    if !dir.exists() {
        return Ok(true);
    }
    Ok(!dir.join(MANIFEST).exists() && segments_on_disk(dir)?.is_empty())
}

/// `open`; in a fresh directory with `seed` (one store per shard, already
/// filled: an imported RDB file), the first generation's segments are
/// written from the seed (write-temp, fsync, rename, fsync of the
/// directory) before the manifest that lists them, so the data is durable
/// before the first client.
pub fn open_seeded(
    cfg: &AofConfig,
    router: &Router,
    limits: &[Limits],
    seed: Option<Vec<Store>>,
) -> Result<Opened, String> {
    let dir = &cfg.dir;
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let n = router.shards();
    let found = segments_on_disk(dir)?;
    let manifest = match fs::read_to_string(dir.join(MANIFEST)) {
        Ok(text) => Some(
            Manifest::parse(&text).map_err(|e| format!("{}: {e}", dir.join(MANIFEST).display()))?,
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("{}: {e}", dir.join(MANIFEST).display())),
    };
    let recovered = manifest.is_none() && !found.is_empty();
    let m = match manifest {
        Some(m) => m,
        None if found.is_empty() => {
            // A fresh directory.
            let m = Manifest {
                shards: n,
                fingerprint: router.fingerprint(),
                generation: 1,
                segments: (0..n).map(|i| segment_name(i, 1)).collect(),
            };
            let stores = match seed {
                Some(stores) => {
                    for (store, seg) in stores.iter().zip(&m.segments) {
                        let tmp = dir.join(format!("{seg}.{RESHARD_SUFFIX}"));
                        write_snapshot(&tmp, store)
                            .map_err(|e| format!("{}: {e}", tmp.display()))?;
                    }
                    for seg in m.segments.iter().rev() {
                        let tmp = dir.join(format!("{seg}.{RESHARD_SUFFIX}"));
                        fs::rename(&tmp, dir.join(seg))
                            .map_err(|e| format!("{}: {e}", tmp.display()))?;
                    }
                    sync_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                    stores
                }
                None => {
                    for seg in &m.segments {
                        OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(dir.join(seg))
                            .map_err(|e| format!("{}: {e}", dir.join(seg).display()))?;
                    }
                    limits.iter().map(|&l| Store::new(l)).collect()
                }
            };
            m.store(dir).map_err(|e| format!("manifest: {e}"))?;
            return finish(cfg, &m, stores, Vec::new(), None, &[]);
        }
        None => {
            let m = recover_manifest(dir, &found)?;
            eprintln!(
                "shardcache aof: {} has no manifest: loading generation {} ({} segments: {}), \
                 the newest complete one found, and writing a new manifest",
                dir.display(),
                m.generation,
                m.shards,
                m.segments.join(", ")
            );
            m
        }
    };

    let missing: Vec<&String> = m
        .segments
        .iter()
        .filter(|s| !dir.join(s).exists())
        .collect();
    if !missing.is_empty() {
        let list = missing
            .iter()
            .map(|s| dir.join(s).display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if !cfg.load_missing {
            return Err(format!(
                "{} lists {} segment(s) that do not exist: {list}; their keys would be lost. \
                 Restore the file(s), or start with --aof-load-missing yes to start without them",
                dir.join(MANIFEST).display(),
                missing.len()
            ));
        }
        eprintln!(
            "shardcache aof: --aof-load-missing yes: skipped {} missing segment(s) of {}: {list}; \
             the keys they held are lost",
            missing.len(),
            m.segments.len()
        );
    }

    let same_routing = !recovered && m.shards == n && m.fingerprint == router.fingerprint();
    let first = limits.first().copied().unwrap_or_default();
    let loading = Limits {
        values: first.values,
        policy: first.policy,
        lfu: first.lfu,
        ..Limits::default()
    };
    let replay_limits: Vec<Limits> = if same_routing {
        limits.to_vec()
    } else {
        vec![loading; m.shards]
    };
    let loaded: Vec<Result<(Store, SegmentReport), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = m
            .segments
            .iter()
            .zip(replay_limits)
            .map(|(seg, lim)| s.spawn(move || load_segment(dir, seg, cfg, lim)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("segment replay panicked".into()))
            })
            .collect()
    });
    let mut stores = Vec::with_capacity(loaded.len());
    let mut reports = Vec::with_capacity(loaded.len());
    for r in loaded {
        let (s, rep) = r?;
        stores.push(s);
        reports.push(rep);
    }
    settle(cfg, &m, &mut stores, &mut reports)?;
    if same_routing {
        return finish(cfg, &m, stores, reports, None, &found);
    }

    // Re-route: every old segment was replayed into a store of its own (so a
    // FLUSHALL in one segment only affects the keys that came from it); now
    // move each key to its new shard and write a new generation.
    let mut fresh: Vec<Store> = (0..n).map(|_| Store::new(loading)).collect();
    let now = crate::clock::unix_ms();
    for old in &stores {
        let mut cursor = 0;
        loop {
            let next = old.snapshot_range(cursor, 65536, now, |db, k, v, exp| {
                let to = &mut fresh[router.shard_of(k)];
                match v {
                    // Collections (and long strings) are copied whole, in
                    // their encoding.
                    ValueRef::Obj(o) => {
                        let _ = to.insert_object(db as usize, k, o.clone(), exp);
                    }
                    ValueRef::Str(v) => {
                        let expiry = if exp == 0 {
                            Expiry::Clear
                        } else {
                            Expiry::At(exp)
                        };
                        let _ = to.set(db as usize, k, v, expiry, now);
                    }
                }
            });
            match next {
                Some(c) => cursor = c,
                None => break,
            }
        }
    }
    drop(stores);
    // Above every generation on disk, so the new segments never meet a file
    // of the same name (one a reshard that did not finish left behind).
    let generation = found
        .iter()
        .map(|f| f.generation)
        .max()
        .unwrap_or(0)
        .max(m.generation)
        + 1;
    let segments: Vec<String> = (0..n).map(|i| segment_name(i, generation)).collect();
    for (store, seg) in fresh.iter().zip(&segments) {
        let tmp = dir.join(format!("{seg}.{RESHARD_SUFFIX}"));
        write_snapshot(&tmp, store).map_err(|e| format!("{}: {e}", tmp.display()))?;
    }
    // Last index first: an interrupted series of renames never leaves a
    // generation that looks complete (see `recover_manifest`).
    for seg in segments.iter().rev() {
        let tmp = dir.join(format!("{seg}.{RESHARD_SUFFIX}"));
        fs::rename(&tmp, dir.join(seg)).map_err(|e| format!("{}: {e}", tmp.display()))?;
    }
    sync_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let new = Manifest {
        shards: n,
        fingerprint: router.fingerprint(),
        generation,
        segments,
    };
    new.store(dir).map_err(|e| format!("manifest: {e}"))?;
    // The manifest just written retires the old generation.
    for old in &m.segments {
        let _ = fs::remove_file(dir.join(old));
    }
    for (store, lim) in fresh.iter_mut().zip(limits) {
        store.set_limits(*lim);
    }
    let keys = fresh.iter().map(|s| s.len()).sum::<usize>();
    if recovered {
        eprintln!(
            "shardcache aof: {}: recovered {keys} keys from generation {} ({} segments) into \
             generation {generation} ({n} segments) and wrote a new manifest",
            dir.display(),
            m.generation,
            m.shards
        );
    } else {
        eprintln!(
            "shardcache aof: re-routed {keys} keys from {} to {n} shards (generation {generation})",
            m.shards
        );
    }
    let leftover: Vec<Found> = found
        .into_iter()
        .filter(|f| !m.segments.contains(&f.name))
        .collect();
    finish(cfg, &new, fresh, reports, Some(m.shards), &leftover)
}

/// Suffix of the segments a reshard writes before renaming them into place.
const RESHARD_SUFFIX: &str = "reshard";

fn finish(
    cfg: &AofConfig,
    m: &Manifest,
    stores: Vec<Store>,
    segments: Vec<SegmentReport>,
    resharded_from: Option<usize>,
    found: &[Found],
) -> Result<Opened, String> {
    let aofs = m
        .segments
        .iter()
        .map(|seg| Aof::open(cfg.dir.join(seg), cfg).map_err(|e| format!("{seg}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    // Leftovers of a crash that never were data: a rewrite or a reshard
    // output whose rename did not happen (the segment it was to replace, or
    // the manifest that was to list it, still holds the data).
    if let Ok(entries) = fs::read_dir(&cfg.dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.ends_with(".aof.rewrite") || name.ends_with(&format!(".aof.{RESHARD_SUFFIX}")) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    // Segments no manifest of ours retired (an older generation whose removal
    // did not happen, a copy): left for the operator, never deleted here.
    let stray: Vec<Found> = found
        .iter()
        .filter(|f| !m.segments.contains(&f.name))
        .cloned()
        .collect();
    if !stray.is_empty() {
        eprintln!(
            "shardcache aof: {}: segments not in the manifest, left alone: {}",
            cfg.dir.display(),
            names(&stray)
        );
    }
    Ok(Opened {
        stores,
        aofs,
        segments,
        resharded_from,
    })
}
