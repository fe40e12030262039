//! The manifest: which segments make up the data, for which shard count
//! and routing.

use super::sync_dir;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

pub(super) const MANIFEST: &str = "manifest";
const MANIFEST_MAGIC: &str = "shardcache-aof-manifest 1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Manifest {
    pub(super) shards: usize,
    pub(super) fingerprint: u64,
    pub(super) generation: u64,
    pub(super) segments: Vec<String>,
}

impl Manifest {
    pub(super) fn render(&self) -> String {
        let mut s = format!(
            "{MANIFEST_MAGIC}\nshards {}\nfingerprint {:016x}\ngeneration {}\n",
            self.shards, self.fingerprint, self.generation
        );
        for (i, seg) in self.segments.iter().enumerate() {
            s.push_str(&format!("segment {i} {seg}\n"));
        }
        s
    }

    pub(super) fn parse(text: &str) -> Result<Manifest, String> {
        let mut lines = text.lines();
        if lines.next() != Some(MANIFEST_MAGIC) {
            return Err("not a shardcache manifest".into());
        }
        let mut m = Manifest {
            shards: 0,
            fingerprint: 0,
            generation: 0,
            segments: Vec::new(),
        };
        for line in lines {
            let mut f = line.split_whitespace();
            let bad = || format!("bad manifest line '{line}'");
            match f.next() {
                Some("shards") => {
                    m.shards = f.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?
                }
                Some("fingerprint") => {
                    m.fingerprint = f
                        .next()
                        .and_then(|v| u64::from_str_radix(v, 16).ok())
                        .ok_or_else(bad)?
                }
                Some("generation") => {
                    m.generation = f.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?
                }
                Some("segment") => {
                    let i: usize = f.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
                    let name = f.next().ok_or_else(bad)?;
                    if i != m.segments.len() || name.contains('/') {
                        return Err(bad());
                    }
                    m.segments.push(name.to_string());
                }
                None => {}
                Some(_) => return Err(bad()),
            }
        }
        if m.shards == 0 || m.segments.len() != m.shards {
            return Err("manifest lists the wrong number of segments".into());
        }
        Ok(m)
    }

    /// Write-temp, fsync, rename, fsync the directory.
    pub(super) fn store(&self, dir: &Path) -> io::Result<()> {
        let tmp = dir.join("manifest.tmp");
        {
            let mut f = File::create(&tmp)?;
            f.write_all(self.render().as_bytes())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, dir.join(MANIFEST))?;
        sync_dir(dir)
    }
}

pub(super) fn segment_name(shard: usize, generation: u64) -> String {
    format!("shard-{shard}.{generation}.aof")
}
