//! SORT and SORT_RO (Redis 7.0's `sort.c`). With every key they may touch
//! on one shard (no BY/GET pattern naming other keys, or one shard only),
//! one op does it all. Otherwise the command runs in a section holding the
//! shards (every one when a pattern may name any key): the collection is
//! read (`SortOp::Elements`), BY's keys are read where they live
//! (`SortOp::Fetch`), the engine's `Plan` sorts, GET's keys are read, and a
//! STORE's list is written (`ListOp::StoreItems`), so SORT ... STORE is
//! atomic and sees one state of every key it reads.

use super::list::forward;
use super::spec::{flags::*, ks, Begin, Command, Find};
use super::steps::{step_error, tape_items};
use super::{c_str, parse_int, Ctx};
use crate::exchange::{Merge, OpRef, Router};
use crate::resp::{encode, Args};
use shards::ops::list::ListOp;
use shards::ops::sort::{substitute, Plan, SortOp, SortOptions, SortSpec, SortedKind, Target};
use shards::tape::Item;

/// SORT's parsed arguments.
struct Parsed<'a> {
    opts: SortOptions,
    by: Option<&'a [u8]>,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

/// Why SORT's arguments are refused.
enum Refused {
    Syntax,
    NotInteger,
}

fn is(a: &[u8], w: &str) -> bool {
    c_str(a).eq_ignore_ascii_case(w.as_bytes())
}

/// Redis's option loop of `sortCommandGeneric` (`readonly`: SORT_RO, which
/// knows no STORE).
fn parse(args: &Args, readonly: bool) -> Result<Parsed<'_>, Refused> {
    let mut p = Parsed {
        opts: SortOptions {
            count: -1,
            ..Default::default()
        },
        by: None,
        gets: Vec::new(),
        store: None,
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args.get(j);
        if is(a, "asc") {
            p.opts.desc = false;
        } else if is(a, "desc") {
            p.opts.desc = true;
        } else if is(a, "alpha") {
            p.opts.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            match (parse_int(args.get(j + 1)), parse_int(args.get(j + 2))) {
                (Some(o), Some(c)) => {
                    p.opts.offset = o;
                    p.opts.count = c;
                }
                _ => return Err(Refused::NotInteger),
            }
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            p.store = Some(args.get(j + 1));
            p.opts.store = true;
            j += 1;
        } else if is(a, "by") && left >= 1 {
            let pat = args.get(j + 1);
            // A pattern without `*` names no key: nothing to sort by.
            if c_str(pat).contains(&b'*') {
                p.by = Some(pat);
                p.opts.by = true;
                p.opts.dontsort = false;
            } else {
                p.by = None;
                p.opts.by = false;
                p.opts.dontsort = true;
            }
            j += 1;
        } else if is(a, "get") && left >= 1 {
            p.gets.push(args.get(j + 1));
            j += 1;
        } else {
            return Err(Refused::Syntax);
        }
        j += 1;
    }
    Ok(p)
}

/// True when a pattern may name a key (it has a `*` and is not `#`).
fn names_keys(pattern: &[u8]) -> bool {
    c_str(pattern) != b"#" && c_str(pattern).contains(&b'*')
}

/// The section predicate: patterns that may read any shard, or a STORE
/// destination on another shard than the key.
fn needs_section(args: &Args, router: &Router) -> bool {
    if router.shards() < 2 {
        return false;
    }
    let readonly = args.get(0).eq_ignore_ascii_case(b"sort_ro");
    let Ok(p) = parse(args, readonly) else {
        return false;
    };
    let patterns = p.by.is_some() || p.gets.iter().any(|g| names_keys(g));
    let key_shard = router.shard_of(args.get(1));
    patterns || p.store.is_some_and(|d| router.shard_of(d) != key_shard)
}

fn sort(ctx: &mut Ctx) {
    sort_in(ctx, false);
}

fn sort_ro(ctx: &mut Ctx) {
    sort_in(ctx, true);
}

fn sort_in(ctx: &mut Ctx, readonly: bool) {
    let args = ctx.args;
    let p = match parse(args, readonly) {
        Ok(p) => p,
        Err(Refused::Syntax) => return ctx.syntax_error(),
        Err(Refused::NotInteger) => return ctx.not_integer(),
    };
    // Redis 7.0: BY and GET patterns reach keys no ACL check can name, so
    // they need a user that may read every key.
    if (p.by.is_some() || !p.gets.is_empty())
        && !ctx.session.user.unrestricted()
        && !super::acl::reads_any_key(&ctx.session.user, ctx.cmd, args)
    {
        let opt = if p.by.is_some() { "BY" } else { "GET" };
        return ctx.error(&format!(
            "ERR {opt} option of SORT denied due to insufficient ACL permissions."
        ));
    }
    let db = ctx.session.db;
    let key = args.get(1);
    if !(ctx.router.in_section() && needs_section(args, ctx.router)) {
        ctx.router.begin(ctx.conn, Merge::One);
        ctx.router.key_op(db, key, |a, k| {
            let spec = SortSpec {
                opts: p.opts,
                by: p.by.map(|b| a.push(b)),
                gets: a.list(p.gets.iter().copied()),
                store: p.store.map(|s| a.push(s)),
            };
            SortOp::Sort { key: k, spec }.into()
        });
        return;
    }
    let patterns = p.by.is_some() || p.gets.iter().any(|g| names_keys(g));
    if patterns {
        for s in 0..ctx.router.shards() {
            ctx.router.hold(s);
        }
    } else {
        let s = ctx.router.shard_of(key);
        ctx.router.hold(s);
        if let Some(d) = p.store {
            let s = ctx.router.shard_of(d);
            ctx.router.hold(s);
        }
    }
    let shard = ctx.router.shard_of(key);
    let read = ctx
        .router
        .step_op(shard, db, |a| SortOp::Elements { key: a.push(key) }.into());
    ctx.router.exchange();
    if let Some(e) = step_error(ctx, read) {
        return ctx.error(&e);
    }
    let (kind, elements) = {
        let items = tape_items(ctx, read);
        let kind = match items.get(1) {
            Some(Item::Int(c)) => SortedKind::from_code(*c),
            _ => SortedKind::Absent,
        };
        let elements: Vec<Vec<u8>> = items
            .iter()
            .skip(2)
            .filter_map(|i| match i {
                Item::Bulk(b) => Some(b.to_vec()),
                _ => None,
            })
            .collect();
        (kind, elements)
    };
    let mut plan = Plan::new(kind, elements, &p.opts);
    let by_values = match p.by.and_then(|pat| plan.by_targets(pat)) {
        Some(targets) => Some(fetch_all(ctx, &targets, &plan.vector)),
        None => None,
    };
    if let Err(e) = plan.sort(by_values) {
        return ctx.error(&crate::errors::text(&e));
    }
    let out = plan.output();
    // One column per GET pattern, or the elements themselves.
    let columns: Vec<Vec<Option<Vec<u8>>>> = if p.gets.is_empty() {
        vec![out.iter().map(|e| Some(e.clone())).collect()]
    } else {
        p.gets
            .iter()
            .map(|g| {
                let targets: Vec<Option<Target>> = out.iter().map(|e| substitute(g, e)).collect();
                fetch_all(ctx, &targets, out)
            })
            .collect()
    };
    let rows = out.len();
    let mut flat: Vec<Option<Vec<u8>>> = Vec::with_capacity(rows * columns.len());
    for r in 0..rows {
        for c in &columns {
            flat.push(c[r].clone());
        }
    }
    let resp3 = ctx.resp3();
    match p.store {
        None => ctx.reply(|o| {
            encode::array(o, flat.len());
            for v in &flat {
                match v {
                    Some(b) => encode::bulk(o, b),
                    None => encode::null(o, resp3),
                }
            }
        }),
        Some(dst) => {
            let s = ctx.router.shard_of(dst);
            let r = ctx.router.step_op(s, db, |a| {
                ListOp::StoreItems {
                    dst: a.push(dst),
                    items: a.list(flat.iter().map(|v| v.as_deref().unwrap_or(b""))),
                }
                .into()
            });
            ctx.router.exchange();
            forward(ctx, r);
        }
    }
}

/// The values `targets` name (`elements[i]` for `#`), read on the shards
/// that hold their keys (held): one `Fetch` per shard and field.
fn fetch_all(
    ctx: &mut Ctx,
    targets: &[Option<Target>],
    elements: &[Vec<u8>],
) -> Vec<Option<Vec<u8>>> {
    let db = ctx.session.db;
    let mut values: Vec<Option<Vec<u8>>> = vec![None; targets.len()];
    // (shard, field) → indexes of targets.
    type Group = ((usize, Option<Vec<u8>>), Vec<usize>);
    let mut groups: Vec<Group> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        match t {
            None => {}
            Some(Target::Element) => values[i] = elements.get(i).cloned(),
            Some(Target::Key { key, field }) => {
                let g = (ctx.router.shard_of(key), field.clone());
                match groups.iter_mut().find(|(k, _)| *k == g) {
                    Some((_, v)) => v.push(i),
                    None => groups.push((g, vec![i])),
                }
            }
        }
    }
    let refs: Vec<OpRef> = groups
        .iter()
        .map(|((s, field), idx)| {
            ctx.router.step_op(*s, db, |a| {
                let keys = a.list(idx.iter().filter_map(|&i| match &targets[i] {
                    Some(Target::Key { key, .. }) => Some(&key[..]),
                    _ => None,
                }));
                SortOp::Fetch {
                    keys,
                    field: field.as_ref().map(|f| a.push(f)),
                }
                .into()
            })
        })
        .collect();
    if refs.is_empty() {
        return values;
    }
    ctx.router.exchange();
    for (r, (_, idx)) in refs.iter().zip(&groups) {
        let items = tape_items(ctx, *r);
        for (&i, it) in idx.iter().zip(items.iter().skip(1)) {
            values[i] = match it {
                Item::Bulk(b) => Some(b.to_vec()),
                _ => None,
            };
        }
    }
    values
}

/// SORT and SORT_RO.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("sort", -2, sort)
        .section(needs_section)
        .flags(WRITE | DENYOOM | MOVABLEKEYS)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RO", "access"], Begin::Unknown, Find::Unknown).note("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort"), ks(&["OW", "update"], Begin::Unknown, Find::Unknown).note("For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array")])
        .acl(&["write", "set", "sortedset", "list", "slow", "dangerous"])
        .doc("generic", "1.0.0", "Sort the elements in a list, set or sorted set", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N)."),
    Command::new("sort_ro", -2, sort_ro)
        .section(needs_section)
        .flags(READONLY | MOVABLEKEYS)
        .keys(1, 1, 1, &[ks(&["RO", "access"], Begin::Index(1), Find::Range(0, 1, 0)), ks(&["RO", "access"], Begin::Unknown, Find::Unknown).note("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort")])
        .acl(&["read", "set", "sortedset", "list", "slow", "dangerous"])
        .doc("generic", "7.0.0", "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N)."),
];
