//! Snapshots of the whole store as an RDB file (SAVE, BGSAVE, DEBUG
//! RELOAD), and RDB files loaded back into stores (start-up import,
//! DEBUG RELOAD).
//!
//! A snapshot has two halves. The copy ([`copy_store`]) runs on each shard
//! thread while the server holds every shard at once, so the copies are of
//! one instant across shards; it only clones keys and values (a string is
//! one allocation, a collection one clone of its encoding), so the hold
//! lasts as long as the slowest shard's clone. The file ([`write_rdb`]) is
//! written from the copies afterwards, off every shard: each value is
//! serialized with the DUMP serializer (`value::dump`), which is the RDB
//! object encoding, then written through a temporary file, fsynced and
//! renamed over the target.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::keyspace::{Expiry, Lookup, Store, ValueRef};
use crate::rdb::file::{FileContents, FileObject, FileWriter};
use crate::route::Router;
use crate::value::dump::{self, Restored};
use crate::value::{Object, ValueLimits};
use crate::NUM_DBS;

/// One key as copied out of a shard: where its bytes are in its shard
/// copy (32 bytes a key: the copy is what the shards are held for).
#[derive(Debug, Clone, Copy)]
pub struct Copied {
    /// Where the key's bytes start in `ShardCopy::bytes`; a string value's
    /// bytes follow them.
    at: u64,
    /// The key's length.
    key_len: u64,
    /// A string's length, or a collection's index in `ShardCopy::objects`.
    val: u32,
    /// Deadline in unix ms, 0 for none.
    pub expire_at: u64,
    /// The value is a collection (or a string held outside its record).
    obj: bool,
}

/// What one shard held at the snapshot's instant. Keys and string values
/// are copied into one buffer, so the copy costs a few allocations, not
/// two per key.
#[derive(Debug, Default)]
pub struct ShardCopy {
    /// The shard's change counter then (see `aof::Log::changes`).
    pub changes: u64,
    /// Keys per database.
    pub dbs: Vec<Vec<Copied>>,
    /// The keys' and strings' bytes.
    bytes: Vec<u8>,
    /// The collections, cloned.
    objects: Vec<Object>,
}

impl ShardCopy {
    /// Keys copied.
    pub fn keys(&self) -> usize {
        self.dbs.iter().map(Vec::len).sum()
    }

    /// A copied key's name.
    pub fn key(&self, c: &Copied) -> &[u8] {
        let at = c.at as usize;
        &self.bytes[at..at + c.key_len as usize]
    }

    /// A copied key's value.
    pub fn value(&self, c: &Copied) -> ValueRef<'_> {
        if c.obj {
            return ValueRef::Obj(&self.objects[c.val as usize]);
        }
        let at = c.at as usize + c.key_len as usize;
        ValueRef::Str(&self.bytes[at..at + c.val as usize])
    }
}

/// Copies every live key of `store` (keys past their deadline are left
/// out, as Redis leaves them out of a snapshot).
pub fn copy_store(store: &Store, now_ms: u64, changes: u64) -> ShardCopy {
    let mut copy = ShardCopy {
        changes,
        bytes: Vec::with_capacity(store.len() * 32),
        ..ShardCopy::default()
    };
    let mut dbs: Vec<Vec<Copied>> = (0..NUM_DBS)
        .map(|db| Vec::with_capacity(store.db_len(db)))
        .collect();
    let ShardCopy { bytes, objects, .. } = &mut copy;
    store.for_each_record(now_ms, |db, key, value, expire_at| {
        let at = bytes.len() as u64;
        bytes.extend_from_slice(key);
        let (val, obj) = match value {
            ValueRef::Str(s) if s.len() <= u32::MAX as usize => {
                bytes.extend_from_slice(s);
                (s.len() as u32, false)
            }
            // Past 4 GB (a raised proto-max-bulk-len): held whole.
            ValueRef::Str(s) => {
                objects.push(Object::Str(s.to_vec()));
                ((objects.len() - 1) as u32, true)
            }
            ValueRef::Obj(o) => {
                objects.push(o.clone());
                ((objects.len() - 1) as u32, true)
            }
        };
        dbs[db].push(Copied {
            at,
            key_len: key.len() as u64,
            val,
            expire_at,
            obj,
        });
    });
    copy.dbs = dbs;
    copy
}

/// What a save wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct SaveReport {
    /// Keys written.
    pub keys: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// Milliseconds spent serializing and writing.
    pub ms: u64,
}

/// Writes `copies` as one RDB file at `path` (through `<dir>/temp-<pid>-<n>.rdb`,
/// fsync, rename, fsync of the directory). `aux` are the header's aux
/// fields, `functions` the code of the function libraries. On any
/// failure the temporary file is removed and the target left as it was.
pub fn write_rdb(
    path: &Path,
    copies: &[ShardCopy],
    limits: &ValueLimits,
    aux: &[(&str, &[u8])],
    functions: &[Vec<u8>],
) -> Result<SaveReport, String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let started = Instant::now();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        "temp-{}-{}.rdb",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_to(&tmp, copies, limits, aux, functions).and_then(|keys| {
        fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(keys)
    });
    match result {
        Ok(keys) => Ok(SaveReport {
            keys,
            bytes: fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            ms: started.elapsed().as_millis() as u64,
        }),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn write_to(
    tmp: &Path,
    copies: &[ShardCopy],
    limits: &ValueLimits,
    aux: &[(&str, &[u8])],
    functions: &[Vec<u8>],
) -> Result<u64, String> {
    let io = |e: std::io::Error| format!("{}: {e}", tmp.display());
    let file = File::create(tmp).map_err(io)?;
    let mut w = FileWriter::new(BufWriter::with_capacity(1 << 20, file), aux).map_err(io)?;
    for code in functions {
        w.function(code).map_err(io)?;
    }
    let mut keys = 0u64;
    for db in 0..NUM_DBS {
        let in_db = || {
            copies
                .iter()
                .flat_map(move |c| c.dbs.get(db).into_iter().flatten().map(move |k| (c, k)))
        };
        let n = in_db().count() as u64;
        if n == 0 {
            continue;
        }
        let expires = in_db().filter(|(_, k)| k.expire_at != 0).count() as u64;
        w.select_db(db as u8, n, expires).map_err(io)?;
        for (c, k) in in_db() {
            let key = c.key(k);
            let object = dump::dump_object(c.value(k), limits);
            w.entry_object(key, k.expire_at, &object).map_err(io)?;
            keys += 1;
        }
    }
    let out = w.finish().map_err(io)?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok(keys)
}

/// What a load put in the stores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Keys loaded.
    pub loaded: u64,
    /// Keys left out because their deadline had passed.
    pub expired: u64,
}

/// One key of a file, decoded into the store's encoding, with its shard.
#[derive(Debug)]
pub struct Prepared {
    /// The shard that owns the key.
    pub shard: usize,
    /// Its database.
    pub db: usize,
    /// The key.
    pub key: Vec<u8>,
    /// Deadline in unix ms, 0 for none.
    pub expire_at: u64,
    /// The value.
    pub value: Restored,
}

/// Turns a file's keys into values in the encodings Redis 7.0 gives them
/// on load under `limits`, routed to their shards; keys whose deadline is
/// past are counted and left out. Refuses a key that appears twice in one
/// database (Redis stops loading on one too).
pub fn prepare(
    contents: FileContents,
    router: &Router,
    limits: &ValueLimits,
    now_ms: u64,
) -> Result<(Vec<Prepared>, LoadReport), String> {
    let mut seen: Vec<std::collections::HashSet<Vec<u8>>> =
        (0..NUM_DBS).map(|_| Default::default()).collect();
    let mut report = LoadReport::default();
    let mut out = Vec::with_capacity(contents.entries.len());
    for e in contents.entries {
        let db = e.db as usize;
        if !seen[db].insert(e.key.clone()) {
            return Err(format!(
                "duplicate key '{}' in db {db}",
                String::from_utf8_lossy(&e.key)
            ));
        }
        if e.expire_at != 0 && e.expire_at <= now_ms {
            report.expired += 1;
            continue;
        }
        report.loaded += 1;
        out.push(Prepared {
            shard: router.shard_of(&e.key),
            db,
            value: match e.object {
                FileObject::Value(ty, v) => dump::from_rdb(v, Some(ty), limits),
                FileObject::Stream(s) => dump::stream_from_rdb(*s)
                    .map(|s| Restored::Obj(Object::Stream(Box::new(s))))
                    .ok_or_else(|| {
                        format!(
                            "stream key '{}' in db {db}: its consumer groups do not hold together",
                            String::from_utf8_lossy(&e.key)
                        )
                    })?,
            },
            key: e.key,
            expire_at: e.expire_at,
        });
    }
    Ok((out, report))
}

/// `limits` without `maxmemory` and `max-keys`: a load puts every key of
/// its file, as Redis loads one whole, and eviction starts afterwards.
pub fn loading_limits(limits: crate::keyspace::Limits) -> crate::keyspace::Limits {
    crate::keyspace::Limits {
        maxmemory: 0,
        max_keys: 0,
        ..limits
    }
}

/// Puts one prepared key into `store`, replacing a key of that name.
/// Err when the store is out of memory (`maxmemory` / `max-keys`).
pub fn put(store: &mut Store, p: Prepared, now_ms: u64) -> Result<u32, String> {
    if let Some(pos) = store.lookup(p.db, &p.key, now_ms, Lookup::PEEK) {
        store.remove_at(pos);
    }
    let oom = || {
        format!(
            "out of memory loading key '{}' (maxmemory / max-keys)",
            String::from_utf8_lossy(&p.key)
        )
    };
    match p.value {
        Restored::Str(v) => {
            let expiry = match p.expire_at {
                0 => Expiry::Clear,
                at => Expiry::At(at),
            };
            store
                .set(p.db, &p.key, &v, expiry, now_ms)
                .map_err(|_| oom())?;
            store
                .lookup(p.db, &p.key, now_ms, Lookup::PEEK)
                .ok_or_else(oom)
        }
        Restored::Obj(o) => store
            .insert_object(p.db, &p.key, o, p.expire_at)
            .map_err(|_| oom()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::file::read_file;
    use crate::rdb::{crc64, dump_as, EncodeOpts, Limits, RdbType, RdbValue};

    /// A version-6 file (Redis 5) with the older encodings: a ziplist list,
    /// a quicklist of ziplists, a zipmap and a ziplist hash, an intset, a
    /// ziplist zset, text-score ZSET, and EXPIRETIME in seconds.
    fn old_file() -> Vec<u8> {
        let items = |n: usize| {
            (0..n)
                .map(|i| format!("v{i}").into_bytes())
                .collect::<Vec<_>>()
        };
        let pairs = vec![
            (b"f".to_vec(), b"1".to_vec()),
            (b"g".to_vec(), b"x".to_vec()),
        ];
        let objects: Vec<(&[u8], Option<u32>, RdbType, RdbValue)> = vec![
            (b"zl", None, RdbType::ListZiplist, RdbValue::List(items(3))),
            (
                b"ql",
                Some(4_000_000_000),
                RdbType::ListQuicklist,
                RdbValue::List(items(500)),
            ),
            (
                b"zm",
                None,
                RdbType::HashZipmap,
                RdbValue::Hash(pairs.clone()),
            ),
            (b"hz", None, RdbType::HashZiplist, RdbValue::Hash(pairs)),
            (
                b"is",
                None,
                RdbType::SetIntset,
                RdbValue::Set(vec![b"3".to_vec(), b"-9".to_vec()]),
            ),
            (
                b"zz",
                None,
                RdbType::ZSetZiplist,
                RdbValue::ZSet(vec![(b"a".to_vec(), 1.5), (b"b".to_vec(), -2.0)]),
            ),
            (
                b"zt",
                None,
                RdbType::ZSet,
                RdbValue::ZSet(vec![(b"m".to_vec(), 0.25)]),
            ),
            (
                b"gone",
                Some(1),
                RdbType::String,
                RdbValue::String(b"old".to_vec()),
            ),
        ];
        let mut f = b"REDIS0006\xfe\x00".to_vec();
        for (key, secs, ty, value) in &objects {
            let p = dump_as(
                value,
                *ty,
                &EncodeOpts::for_value(value, &Limits::default()),
            )
            .unwrap();
            if let Some(s) = secs {
                f.push(0xFD);
                f.extend_from_slice(&s.to_le_bytes());
            }
            f.push(p[0]);
            f.push(key.len() as u8);
            f.extend_from_slice(key);
            f.extend_from_slice(&p[1..p.len() - 10]);
        }
        f.push(0xFF);
        let crc = crc64::crc64(&f);
        f.extend_from_slice(&crc.to_le_bytes());
        f
    }

    #[test]
    fn older_files_load_in_todays_encodings() {
        let contents = read_file(&old_file(), 16).unwrap();
        assert_eq!(contents.version, 6);
        assert_eq!(contents.entries[1].expire_at, 4_000_000_000_000);
        let limits = ValueLimits::default();
        let (keys, report) = prepare(contents, &Router::new(2), &limits, 1_000).unwrap();
        assert_eq!(
            report,
            LoadReport {
                loaded: 7,
                expired: 1
            }
        );
        let mut stores = [
            Store::new(Default::default()),
            Store::new(Default::default()),
        ];
        for p in keys {
            let s = p.shard;
            put(&mut stores[s], p, 1_000).unwrap();
        }
        let mut find = |key: &[u8]| {
            let s = &mut stores[Router::new(2).shard_of(key)];
            let pos = s.lookup(0, key, 1_000, Lookup::PEEK).expect("loaded");
            match s.value_at(pos) {
                ValueRef::Obj(o) => o.encoding_name(),
                ValueRef::Str(_) => "string",
            }
        };
        assert_eq!(find(b"zl"), "quicklist");
        assert_eq!(find(b"ql"), "quicklist");
        assert_eq!(find(b"zm"), "listpack");
        assert_eq!(find(b"hz"), "listpack");
        assert_eq!(find(b"is"), "intset");
        assert_eq!(find(b"zz"), "listpack");
        assert_eq!(find(b"zt"), "listpack");
    }

    #[test]
    fn the_copy_holds_every_live_key_once() {
        let mut store = Store::new(Default::default());
        let mut want = std::collections::BTreeSet::new();
        let name = |i: u32| format!("key:{i}:{}", "k".repeat((i % 300) as usize));
        for i in 0..5000u32 {
            let db = (i % 3) as usize;
            store
                .set(db, name(i).as_bytes(), b"v", Expiry::Clear, 1)
                .unwrap();
            want.insert((db, name(i)));
        }
        // Deleted keys are left out, and so is a key past its deadline.
        for i in (0..5000u32).step_by(3) {
            let db = (i % 3) as usize;
            store.del(db, name(i).as_bytes(), 1);
            want.remove(&(db, name(i)));
        }
        store.set(4, b"old", b"v", Expiry::At(50), 1).unwrap();
        let copy = copy_store(&store, 100, 7);
        let got: std::collections::BTreeSet<(usize, String)> = copy
            .dbs
            .iter()
            .enumerate()
            .flat_map(|(db, keys)| {
                let copy = &copy;
                keys.iter()
                    .map(move |k| (db, String::from_utf8(copy.key(k).to_vec()).unwrap()))
            })
            .collect();
        assert_eq!(got, want);
        assert_eq!(copy.keys(), want.len());
        assert_eq!(copy.changes, 7);
    }

    #[test]
    fn a_copied_key_costs_32_bytes_besides_its_bytes() {
        assert_eq!(std::mem::size_of::<Copied>(), 32);
    }

    #[test]
    fn a_key_twice_is_refused() {
        let mut f = b"REDIS0010\xfe\x00".to_vec();
        for _ in 0..2 {
            f.extend_from_slice(&[0, 1, b'k', 1, b'v']);
        }
        f.push(0xFF);
        f.extend_from_slice(&[0; 8]);
        let contents = read_file(&f, 16).unwrap();
        let e = prepare(contents, &Router::new(1), &ValueLimits::default(), 0).unwrap_err();
        assert!(e.contains("duplicate key 'k'"), "{e}");
    }
}
