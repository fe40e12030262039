//! SORT and SORT_RO (Redis 7.0's `sort.c`).
//!
//! The sorting itself is `Plan`, shared by the two ways SORT runs: one op
//! on one shard (`SortOp::Sort`) when every key it may read or write lives
//! there (no BY/GET pattern that names other keys, or a single shard), and
//! a section assembled by the server otherwise: `SortOp::Elements` reads
//! the collection, the patterns' keys are read where they live with
//! `SortOp::Fetch`, and `ListOp::StoreItems` writes a STORE's result. A
//! plan runs in steps: which elements, the keys BY names for each, the
//! sort once their values are known, the output range, the keys GET names
//! for each element of it, and the reply or the list to store.

use super::Cx;
use crate::batch::{Arg, ArgList, Args, Reply};
use crate::error::Error;
use crate::keyspace::{Lookup, ValueRef};
use crate::tape::TapeWriter;
use crate::value::{Kind, Object};
use std::cmp::Ordering;

/// SORT's options, parsed and checked by the server.
#[derive(Clone, Copy, Debug, Default)]
pub struct SortOptions {
    /// A BY pattern with `*` was given.
    pub by: bool,
    /// BY was given a pattern without `*`: keep the collection's order.
    pub dontsort: bool,
    /// LIMIT offset.
    pub offset: i64,
    /// LIMIT count (negative: all).
    pub count: i64,
    /// DESC.
    pub desc: bool,
    /// ALPHA.
    pub alpha: bool,
    /// STORE was given.
    pub store: bool,
}

/// SORT's options and patterns, as an op carries them.
#[derive(Clone, Copy, Debug)]
pub struct SortSpec {
    /// The options.
    pub opts: SortOptions,
    /// BY pattern, when it has a `*`.
    pub by: Option<Arg>,
    /// GET patterns, in order.
    pub gets: ArgList,
    /// STORE destination.
    pub store: Option<Arg>,
}

/// A SORT op.
#[derive(Clone, Debug)]
pub enum SortOp {
    /// SORT with every key it reads or writes on this shard → the array,
    /// or with STORE the length stored.
    Sort {
        /// The key sorted.
        key: Arg,
        /// The options.
        spec: SortSpec,
    },
    /// Cross-shard piece: the collection under `key` (a read look-up) →
    /// `[type, element, ...]` with type 0 absent, 1 list, 2 set, 3 sorted
    /// set (lowest score first), or WRONGTYPE for a string or hash. A
    /// compact sorted set is converted to the large encoding first, as
    /// Redis's SORT does.
    Elements {
        /// The key.
        key: Arg,
    },
    /// Cross-shard piece: the values patterns name → an array with, per
    /// key, the string it holds, or with `field` the hash field's value;
    /// nil when absent or of another type. Read look-ups.
    Fetch {
        /// The keys.
        keys: ArgList,
        /// The hash field (`->field`), when the pattern names one.
        field: Option<Arg>,
    },
}

impl SortOp {
    pub(super) fn is_write(&self) -> bool {
        matches!(
            self,
            SortOp::Sort {
                spec: SortSpec { store: Some(_), .. },
                ..
            }
        )
    }

    pub(super) fn exec(&self, cx: &mut Cx) -> Reply {
        let r = match *self {
            SortOp::Sort { key, spec } => sort_here(cx, key, spec),
            SortOp::Elements { key } => elements(cx, key),
            SortOp::Fetch { keys, field } => fetch_many(cx, keys, field),
        };
        r.unwrap_or_else(Reply::Err)
    }
}

/// What a pattern names for one element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `#`: the element itself.
    Element,
    /// A key, or a hash field of it.
    Key {
        /// The key.
        key: Vec<u8>,
        /// The field (`->field`).
        field: Option<Vec<u8>>,
    },
}

/// The bytes of `s` up to its first NUL, as C string functions see them.
fn c_str(s: &[u8]) -> &[u8] {
    &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]
}

/// Redis's `lookupKeyByPattern` substitution: the first `*` becomes the
/// element; `->field` after it names a hash field. None for a pattern
/// without `*` (it names nothing).
pub fn substitute(pattern: &[u8], elem: &[u8]) -> Option<Target> {
    let c = c_str(pattern);
    if c == b"#" {
        return Some(Target::Element);
    }
    let star = c.iter().position(|&b| b == b'*')?;
    let after = &c[star + 1..];
    let arrow = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&i| i + 2 < after.len());
    let (postfix_end, field) = match arrow {
        Some(i) => {
            let at = star + 1 + i;
            (at, Some(pattern[at + 2..].to_vec()))
        }
        None => (pattern.len(), None),
    };
    let mut key = Vec::with_capacity(pattern.len() + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..postfix_end]);
    Some(Target::Key { key, field })
}

/// The collection being sorted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortedKind {
    /// Absent: an empty list.
    Absent,
    /// A list.
    List,
    /// A set.
    Set,
    /// A sorted set.
    ZSet,
}

impl SortedKind {
    /// The code `SortOp::Elements` answers.
    pub fn code(self) -> i64 {
        match self {
            SortedKind::Absent => 0,
            SortedKind::List => 1,
            SortedKind::Set => 2,
            SortedKind::ZSet => 3,
        }
    }

    /// The kind of a code.
    pub fn from_code(c: i64) -> SortedKind {
        match c {
            1 => SortedKind::List,
            2 => SortedKind::Set,
            3 => SortedKind::ZSet,
            _ => SortedKind::Absent,
        }
    }
}

/// One SORT's work once its collection is read.
pub struct Plan {
    /// The elements to sort (or the range, already cut, for `dontsort`).
    pub vector: Vec<Vec<u8>>,
    /// The output is `vector[start..=end]` (empty when `end < start`).
    start: i64,
    end: i64,
    dontsort: bool,
    alpha: bool,
    desc: bool,
    by: bool,
    store: bool,
}

impl Plan {
    /// Redis's loading of the sorting vector: `elements` as the collection
    /// holds them (a sorted set lowest first), LIMIT applied as Redis
    /// does, and the orders that need no sorting (a list or sorted set
    /// with `dontsort`) cut here. A set with `dontsort` and STORE is sorted
    /// ALPHA instead (its order is not deterministic).
    pub fn new(kind: SortedKind, elements: Vec<Vec<u8>>, spec: &SortOptions) -> Plan {
        let mut dontsort = spec.dontsort;
        let mut alpha = spec.alpha;
        let mut by = spec.by && !spec.dontsort;
        if dontsort && kind == SortedKind::Set && spec.store {
            dontsort = false;
            alpha = true;
            by = false;
        }
        let len = elements.len() as i64;
        let mut start = spec.offset.max(0);
        let mut end = if spec.count < 0 {
            len - 1
        } else {
            start.wrapping_add(spec.count).wrapping_sub(1)
        };
        if start >= len {
            start = len - 1;
            end = len - 2;
        }
        if end >= len {
            end = len - 1;
        }
        let ordered = matches!(kind, SortedKind::List | SortedKind::ZSet);
        let vector = if ordered && dontsort {
            let n = (end - start + 1).max(0) as usize;
            let v: Vec<Vec<u8>> = if end < start {
                Vec::new()
            } else if spec.desc {
                elements
                    .into_iter()
                    .rev()
                    .skip(start as usize)
                    .take(n)
                    .collect()
            } else {
                elements.into_iter().skip(start as usize).take(n).collect()
            };
            end -= start;
            start = 0;
            v
        } else {
            elements
        };
        Plan {
            vector,
            start,
            end,
            dontsort,
            alpha,
            desc: spec.desc,
            by,
            store: spec.store,
        }
    }

    /// True when the elements must be sorted (then, with a BY pattern,
    /// its values are needed first: `by_targets`).
    pub fn sorts(&self) -> bool {
        !self.dontsort
    }

    /// What the BY pattern names for each element, when it is needed.
    pub fn by_targets(&self, pattern: &[u8]) -> Option<Vec<Option<Target>>> {
        (self.sorts() && self.by)
            .then(|| self.vector.iter().map(|e| substitute(pattern, e)).collect())
    }

    /// Sorts (when it must): by the BY values (`by_values[i]` for element
    /// i; None: absent) or the elements. Err when a value to compare
    /// numerically is not a number (Redis still sorts, then answers that).
    pub fn sort(&mut self, by_values: Option<Vec<Option<Vec<u8>>>>) -> Result<(), Error> {
        if !self.sorts() {
            return Ok(());
        }
        let n = self.vector.len();
        let by_values = by_values.filter(|_| self.by);
        let mut bad = false;
        // (index, score, compare object)
        let mut keyed: Vec<(usize, f64, Option<Vec<u8>>)> = Vec::with_capacity(n);
        let mut by_iter = by_values.map(|v| v.into_iter());
        for i in 0..n {
            let byval: Option<Vec<u8>> = match by_iter.as_mut() {
                Some(it) => it.next().flatten(),
                None => None,
            };
            if self.by && byval.is_none() {
                keyed.push((i, 0.0, None));
                continue;
            }
            if self.alpha {
                keyed.push((i, 0.0, byval));
            } else {
                let v = byval.as_deref().unwrap_or(&self.vector[i]);
                let score = match super::float::sort_value(v) {
                    Some(s) => s,
                    None => {
                        bad = true;
                        super::float::strtod(v).value
                    }
                };
                keyed.push((i, score, None));
            }
        }
        let (alpha, by, store, desc) = (self.alpha, self.by, self.store, self.desc);
        let vector = &self.vector;
        let text_cmp = |a: &[u8], b: &[u8]| {
            if store {
                a.cmp(b)
            } else {
                c_str(a).cmp(c_str(b))
            }
        };
        keyed.sort_by(|x, y| {
            let cmp = if !alpha {
                match x.1.partial_cmp(&y.1) {
                    Some(Ordering::Equal) | None => vector[x.0].cmp(&vector[y.0]),
                    Some(o) => o,
                }
            } else if by {
                match (&x.2, &y.2) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(a), Some(b)) => text_cmp(a, b),
                }
            } else {
                text_cmp(&vector[x.0], &vector[y.0])
            };
            if desc {
                cmp.reverse()
            } else {
                cmp
            }
        });
        let mut old: Vec<Option<Vec<u8>>> = std::mem::take(&mut self.vector)
            .into_iter()
            .map(Some)
            .collect();
        self.vector = keyed
            .iter()
            .map(|k| old[k.0].take().unwrap_or_default())
            .collect();
        if bad {
            return Err(Error::SortNotNumber);
        }
        Ok(())
    }

    /// The elements of the output range.
    pub fn output(&self) -> &[Vec<u8>] {
        if self.end < self.start || self.start < 0 {
            return &[];
        }
        let (a, b) = (
            self.start as usize,
            (self.end as usize + 1).min(self.vector.len()),
        );
        &self.vector[a.min(b)..b]
    }
}

/// Reads a key a pattern named (`lookupKeyRead`): a string's value, or a
/// hash field's; None when absent or of another type.
fn fetch(cx: &mut Cx, key: &[u8], field: Option<&[u8]>) -> Option<Vec<u8>> {
    let pos = cx.store.lookup(cx.db, key, cx.now_ms, Lookup::READ)?;
    match (cx.store.value_at(pos), field) {
        (ValueRef::Obj(Object::Hash(h)), Some(f)) => h.get(f).map(<[u8]>::to_vec),
        (v, None) if v.kind() == Kind::String => v.as_str().map(<[u8]>::to_vec),
        _ => None,
    }
}

/// The value a target names for `elem`.
fn resolve(cx: &mut Cx, t: Option<Target>, elem: &[u8]) -> Option<Vec<u8>> {
    match t? {
        Target::Element => Some(elem.to_vec()),
        Target::Key { key, field } => fetch(cx, &key, field.as_deref()),
    }
}

/// The collection under `key` for SORT (a read look-up), converting a
/// compact sorted set as Redis does.
fn load(cx: &mut Cx, key: &[u8]) -> Result<(SortedKind, Vec<Vec<u8>>), Error> {
    let Some(pos) = cx.store.lookup(cx.db, key, cx.now_ms, Lookup::READ) else {
        return Ok((SortedKind::Absent, Vec::new()));
    };
    match cx.store.kind_at(pos) {
        Kind::List | Kind::Set => {}
        Kind::ZSet => {
            // Redis's SORT converts a listpack sorted set for good.
            cx.store.with_object(pos, |o| {
                if let Object::ZSet(z) = o {
                    z.convert();
                }
            });
        }
        _ => return Err(Error::WrongType),
    }
    Ok(match cx.store.value_at(pos) {
        ValueRef::Obj(Object::List(l)) => (SortedKind::List, l.to_items()),
        ValueRef::Obj(Object::Set(s)) => (SortedKind::Set, s.to_members()),
        ValueRef::Obj(Object::ZSet(z)) => (
            SortedKind::ZSet,
            z.iter().map(|(m, _)| m.to_vec()).collect(),
        ),
        _ => return Err(Error::WrongType),
    })
}

/// Writes SORT's array: per output element, the element or its GET values.
pub fn write_reply(w: &mut TapeWriter, rows: &[Vec<Option<Vec<u8>>>], per_row: usize) {
    w.array(rows.len() * per_row);
    for row in rows {
        for v in row {
            match v {
                Some(b) => w.bulk(b),
                None => w.nil(),
            }
        }
    }
}

/// The GET patterns of a spec.
fn patterns(args: &Args, gets: ArgList) -> Vec<&[u8]> {
    args.items(gets).collect()
}

/// SORT with every key here.
fn sort_here(cx: &mut Cx, key: Arg, spec: SortSpec) -> Result<Reply, Error> {
    if spec.store.is_some() {
        cx.make_room()?;
    }
    let args = cx.args;
    let (kind, elements) = load(cx, args.get(key))?;
    let mut plan = Plan::new(kind, elements, &spec.opts);
    let by_values = match spec.by.and_then(|p| plan.by_targets(args.get(p))) {
        Some(targets) => {
            let mut v = Vec::with_capacity(targets.len());
            for (t, e) in targets.into_iter().zip(0..) {
                let elem = plan.vector[e].clone();
                v.push(resolve(cx, t, &elem));
            }
            Some(v)
        }
        None => None,
    };
    plan.sort(by_values)?;
    let gets = patterns(args, spec.gets);
    let rows: Vec<Vec<Option<Vec<u8>>>> = plan
        .output()
        .to_vec()
        .into_iter()
        .map(|e| {
            if gets.is_empty() {
                vec![Some(e)]
            } else {
                gets.iter()
                    .map(|p| resolve(cx, substitute(p, &e), &e))
                    .collect()
            }
        })
        .collect();
    let per_row = gets.len().max(1);
    match spec.store {
        None => {
            let mut w = TapeWriter::new(cx.out);
            write_reply(&mut w, &rows, per_row);
            Ok(w.finish())
        }
        Some(dst) => {
            let items: Vec<&[u8]> = rows
                .iter()
                .flatten()
                .map(|v| v.as_deref().unwrap_or(b""))
                .collect();
            super::list::store_list(cx, args.get(dst), items.into_iter())
        }
    }
}

fn elements(cx: &mut Cx, key: Arg) -> Result<Reply, Error> {
    let k = cx.args.get(key);
    let (kind, elements) = load(cx, k)?;
    let mut w = TapeWriter::new(cx.out);
    w.array(elements.len() + 1);
    w.int(kind.code());
    for e in &elements {
        w.bulk(e);
    }
    Ok(w.finish())
}

fn fetch_many(cx: &mut Cx, keys: ArgList, field: Option<Arg>) -> Result<Reply, Error> {
    let args = cx.args;
    let f = field.map(|f| args.get(f));
    let values: Vec<Option<Vec<u8>>> = args.items(keys).map(|k| fetch(cx, k, f)).collect();
    let mut w = TapeWriter::new(cx.out);
    w.array(values.len());
    for v in &values {
        match v {
            Some(b) => w.bulk(b),
            None => w.nil(),
        }
    }
    Ok(w.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_follows_redis() {
        let key = |k: &str, f: Option<&str>| {
            Some(Target::Key {
                key: k.as_bytes().to_vec(),
                field: f.map(|f| f.as_bytes().to_vec()),
            })
        };
        assert_eq!(substitute(b"w_*", b"3"), key("w_3", None));
        assert_eq!(substitute(b"#", b"3"), Some(Target::Element));
        assert_eq!(substitute(b"#\x00x", b"3"), Some(Target::Element));
        assert_eq!(substitute(b"nosort", b"3"), None);
        assert_eq!(substitute(b"h_*->f", b"3"), key("h_3", Some("f")));
        assert_eq!(substitute(b"h_*_x->f->g", b"3"), key("h_3_x", Some("f->g")));
        // An arrow with nothing after it is part of the key.
        assert_eq!(substitute(b"h_*->", b"3"), key("h_3->", None));
        // Only the first star is replaced.
        assert_eq!(substitute(b"*_*", b"3"), key("3_*", None));
        // An arrow before the star is part of the key's prefix.
        assert_eq!(substitute(b"a->b*", b"3"), key("a->b3", None));
    }
}
