//! A stream's RDB payload as Redis 7.0 writes it (`RDB_TYPE_STREAM_LISTPACKS_2`,
//! type 19, `rdbSaveObject`):
//!
//! - the number of listpack nodes, then for each its radix tree key (the
//!   master ID, 16 bytes big-endian) and the listpack as a string;
//! - the length, last ID, first ID, greatest deleted ID and entries added;
//! - the groups: each name, last ID, entries read (`-1` as the all-ones
//!   64-bit length), its PEL (16-byte IDs, delivery time as 8 bytes little
//!   endian, delivery count), its consumers (name, seen time, the IDs they
//!   hold, each resolved in the group's PEL).
//!
//! A node's listpack: the master entry (live count, deleted count, the
//! field count, the field names, a 0), then each entry: flags (1 deleted,
//! 2 same fields as the master), the ID's ms and seq minus the master's,
//! the field count and fields unless the flags say the master's, the
//! values, and the number of listpack elements the entry took.

use super::listpack::{self, Writer};
use super::wire::{write_len, write_string, Reader, Result};
use super::RdbError;
use crate::value::StreamId;

/// The type byte.
pub const TYPE: u8 = 19;

/// One entry of a node.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Its ID.
    pub id: StreamId,
    /// Marked deleted (its fields are still in the listpack).
    pub deleted: bool,
    /// Fields and values, alternating.
    pub pairs: Vec<Vec<u8>>,
}

/// One listpack node.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The master ID (the radix tree key).
    pub master: StreamId,
    /// The master entry's field names.
    pub fields: Vec<Vec<u8>>,
    /// The entries, in ID order.
    pub entries: Vec<Entry>,
    /// `lpBytes` of the listpack (filled when decoding).
    pub lp_bytes: usize,
}

/// A pending entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    /// Its ID.
    pub id: StreamId,
    /// Last delivery, unix ms.
    pub time: u64,
    /// Deliveries.
    pub count: u64,
}

/// A consumer.
#[derive(Clone, Debug, PartialEq)]
pub struct Consumer {
    /// Its name.
    pub name: Vec<u8>,
    /// Seen time, unix ms.
    pub seen: u64,
    /// The IDs it holds.
    pub pel: Vec<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Its name.
    pub name: Vec<u8>,
    /// Last delivered ID.
    pub last_id: StreamId,
    /// Entries read (-1: unknown).
    pub entries_read: i64,
    /// The PEL.
    pub pel: Vec<Pending>,
    /// The consumers.
    pub consumers: Vec<Consumer>,
}

/// A whole stream as the payload carries it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Stream {
    /// The nodes, in ID order.
    pub nodes: Vec<Node>,
    /// Live entries.
    pub length: u64,
    /// Last ID.
    pub last_id: StreamId,
    /// First live ID (0-0 when empty).
    pub first_id: StreamId,
    /// Greatest deleted ID.
    pub max_deleted: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// The groups, by name.
    pub groups: Vec<Group>,
}

/// Redis's flags of an entry.
const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    write_len(out, id.ms);
    write_len(out, id.seq);
}

/// The listpack of `node`.
pub fn node_listpack(node: &Node) -> Vec<u8> {
    let mut w = Writer::new();
    let deleted = node.entries.iter().filter(|e| e.deleted).count();
    w.push_int((node.entries.len() - deleted) as i64);
    w.push_int(deleted as i64);
    w.push_int(node.fields.len() as i64);
    for f in &node.fields {
        w.push(f);
    }
    w.push_int(0);
    for e in &node.entries {
        let n = e.pairs.len() / 2;
        let same = n == node.fields.len()
            && e.pairs
                .iter()
                .step_by(2)
                .zip(&node.fields)
                .all(|(a, b)| a == b);
        let mut flags = if same { FLAG_SAMEFIELDS } else { 0 };
        if e.deleted {
            flags |= FLAG_DELETED;
        }
        w.push_int(flags);
        w.push_int(e.id.ms.wrapping_sub(node.master.ms) as i64);
        w.push_int(e.id.seq.wrapping_sub(node.master.seq) as i64);
        if !same {
            w.push_int(n as i64);
        }
        for (i, p) in e.pairs.iter().enumerate() {
            if !same || i % 2 == 1 {
                w.push(p);
            }
        }
        let lp_count = n + 3 + if same { 0 } else { n + 1 };
        w.push_int(lp_count as i64);
    }
    w.finish()
}

/// The sealed payload of `s` (DUMP's bytes).
pub fn dump(s: &Stream, compress: bool) -> Vec<u8> {
    super::seal(dump_object(s, compress))
}

/// [`dump`] without the trailer: the type byte and the object, as an RDB
/// file holds them.
pub fn dump_object(s: &Stream, compress: bool) -> Vec<u8> {
    let mut out = vec![TYPE];
    write_len(&mut out, s.nodes.len() as u64);
    for n in &s.nodes {
        write_string(&mut out, &n.master.to_be_bytes(), compress);
        write_string(&mut out, &node_listpack(n), compress);
    }
    write_len(&mut out, s.length);
    put_id(&mut out, s.last_id);
    put_id(&mut out, s.first_id);
    put_id(&mut out, s.max_deleted);
    write_len(&mut out, s.entries_added);
    write_len(&mut out, s.groups.len() as u64);
    for g in &s.groups {
        write_string(&mut out, &g.name, compress);
        put_id(&mut out, g.last_id);
        write_len(&mut out, g.entries_read as u64);
        write_len(&mut out, g.pel.len() as u64);
        for p in &g.pel {
            out.extend_from_slice(&p.id.to_be_bytes());
            out.extend_from_slice(&p.time.to_le_bytes());
            write_len(&mut out, p.count);
        }
        write_len(&mut out, g.consumers.len() as u64);
        for c in &g.consumers {
            write_string(&mut out, &c.name, compress);
            out.extend_from_slice(&c.seen.to_le_bytes());
            write_len(&mut out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
    }
    out
}

fn bad<T>(why: &'static str) -> Result<T> {
    Err(RdbError::BadFormat(why))
}

fn raw_id(b: &[u8]) -> Result<StreamId> {
    if b.len() != 16 {
        return bad("stream ID is not 16 bytes");
    }
    let mut ms = [0u8; 8];
    let mut seq = [0u8; 8];
    ms.copy_from_slice(&b[..8]);
    seq.copy_from_slice(&b[8..]);
    Ok(StreamId::new(
        u64::from_be_bytes(ms),
        u64::from_be_bytes(seq),
    ))
}

fn read_id(r: &mut Reader) -> Result<StreamId> {
    Ok(StreamId::new(r.len()?, r.len()?))
}

/// Decodes one node's listpack.
fn node_from(master: StreamId, lp: &[u8]) -> Result<Node> {
    let items = listpack::decode(lp)?;
    let int = |i: usize| -> Result<i64> {
        let b = items
            .get(i)
            .ok_or(RdbError::BadFormat("stream listpack cut short"))?;
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(RdbError::BadFormat("stream listpack integer expected"))
    };
    let count = |v: i64| usize::try_from(v).map_err(|_| RdbError::BadFormat("negative count"));
    let (live, deleted) = (count(int(0)?)?, count(int(1)?)?);
    let nf = count(int(2)?)?;
    if nf >= items.len() {
        return bad("stream master entry cut short");
    }
    let fields: Vec<Vec<u8>> = items
        .get(3..3 + nf)
        .ok_or(RdbError::BadFormat("stream master entry cut short"))?
        .to_vec();
    if int(3 + nf)? != 0 {
        return bad("stream master entry not terminated");
    }
    let mut p = 4 + nf;
    let mut entries = Vec::new();
    while p < items.len() {
        let flags = int(p)?;
        let id = StreamId::new(
            master.ms.wrapping_add(int(p + 1)? as u64),
            master.seq.wrapping_add(int(p + 2)? as u64),
        );
        p += 3;
        let same = flags & FLAG_SAMEFIELDS != 0;
        let n = if same {
            fields.len()
        } else {
            let n = count(int(p)?)?;
            p += 1;
            n
        };
        if n > items.len() {
            return bad("stream entry cut short");
        }
        let mut pairs = Vec::with_capacity(2 * n);
        for i in 0..n {
            if same {
                pairs.push(fields.get(i).cloned().unwrap_or_default());
            } else {
                pairs.push(
                    items
                        .get(p)
                        .ok_or(RdbError::BadFormat("entry cut short"))?
                        .clone(),
                );
                p += 1;
            }
            pairs.push(
                items
                    .get(p)
                    .ok_or(RdbError::BadFormat("entry cut short"))?
                    .clone(),
            );
            p += 1;
        }
        let lp_count = n + 3 + if same { 0 } else { n + 1 };
        if count(int(p)?)? != lp_count {
            return bad("stream entry's lp-count mismatch");
        }
        p += 1;
        if entries.last().is_some_and(|e: &Entry| e.id >= id) || id < master {
            return bad("stream entries out of order");
        }
        entries.push(Entry {
            id,
            deleted: flags & FLAG_DELETED != 0,
            pairs,
        });
    }
    let dead = entries.iter().filter(|e| e.deleted).count();
    if dead != deleted || entries.len() - dead != live || entries.is_empty() {
        return bad("stream node counts mismatch");
    }
    Ok(Node {
        master,
        fields,
        entries,
        lp_bytes: lp.len(),
    })
}

/// The stream of a verified payload's body (type byte first).
pub fn restore(body: &[u8]) -> Result<Stream> {
    let mut r = Reader::new(body);
    if r.u8()? != TYPE {
        return bad("not a stream payload");
    }
    let s = read(&mut r)?;
    if r.remaining() != 0 {
        return bad("bytes after the stream");
    }
    Ok(s)
}

/// The stream whose object (after its type byte) `r` is at, as a payload
/// or an RDB file holds it.
pub(crate) fn read(r: &mut Reader<'_>) -> Result<Stream> {
    let mut s = Stream::default();
    for _ in 0..r.count(2)? {
        let master = raw_id(&r.string()?)?;
        let node = node_from(master, &r.string()?)?;
        if s.nodes
            .last()
            .is_some_and(|n: &Node| n.entries.last().map_or(n.master, |e| e.id) >= master)
        {
            return bad("stream nodes out of order");
        }
        s.nodes.push(node);
    }
    s.length = r.len()?;
    s.last_id = read_id(r)?;
    s.first_id = read_id(r)?;
    s.max_deleted = read_id(r)?;
    s.entries_added = r.len()?;
    let live: u64 = s
        .nodes
        .iter()
        .map(|n| n.entries.iter().filter(|e| !e.deleted).count() as u64)
        .sum();
    let top = s.nodes.last().and_then(|n| n.entries.last()).map(|e| e.id);
    if live != s.length || top.is_some_and(|t| t > s.last_id) {
        return bad("stream length or last ID mismatch");
    }
    for _ in 0..r.count(4)? {
        let name = r.string()?;
        let last_id = read_id(r)?;
        let entries_read = r.len()? as i64;
        let mut pel = Vec::new();
        for _ in 0..r.count(25)? {
            let id = raw_id(r.take(16)?)?;
            let time = u64::from_le_bytes(r.array()?);
            pel.push(Pending {
                id,
                time,
                count: r.len()?,
            });
        }
        let known: std::collections::BTreeSet<StreamId> = pel.iter().map(|p| p.id).collect();
        let mut consumers = Vec::new();
        for _ in 0..r.count(10)? {
            let cname = r.string()?;
            let seen = u64::from_le_bytes(r.array()?);
            let mut ids = Vec::new();
            for _ in 0..r.count(16)? {
                let id = raw_id(r.take(16)?)?;
                if !known.contains(&id) {
                    return bad("consumer's pending ID not in its group");
                }
                ids.push(id);
            }
            consumers.push(Consumer {
                name: cname,
                seen,
                pel: ids,
            });
        }
        s.groups.push(Group {
            name,
            last_id,
            entries_read,
            pel,
            consumers,
        });
    }
    Ok(s)
}
