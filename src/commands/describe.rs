//! COMMAND: the command table described to clients, in Redis 7.0's shapes
//! (`COMMAND INFO`'s ten fields with key specs and subcommands, `COMMAND
//! DOCS`, `COMMAND LIST [FILTERBY ...]`, `COMMAND GETKEYS[ANDFLAGS]`).
//! Everything here is read from the declarations: a command declared once
//! is described correctly.

use super::spec::{flags::*, Begin, Command, Find, KeySpec};
use super::{all, lookup, Ctx};
use crate::resp::{encode, Args};

/// `COMMAND INFO` / `COMMAND DOCS` name a command as `name` or
/// `container|sub` (Redis's `lookupCommandBySds`).
fn by_full_name(name: &[u8]) -> Option<&'static Command> {
    match memchr::memchr(b'|', name) {
        None => lookup(name),
        Some(bar) => {
            let top = lookup(&name[..bar])?;
            let sub = &name[bar + 1..];
            if memchr::memchr(b'|', sub).is_some() {
                return None;
            }
            top.sub(sub)
        }
    }
}

fn write_flags(out: &mut Vec<u8>, c: &Command, resp3: bool) {
    let n = NAMES.iter().filter(|(bit, _)| c.has(*bit)).count();
    encode::set(out, n, resp3);
    for (_, name) in NAMES.iter().filter(|(bit, _)| c.has(*bit)) {
        encode::simple(out, name);
    }
}

fn write_statuses(out: &mut Vec<u8>, items: &[&str], resp3: bool) {
    encode::set(out, items.len(), resp3);
    for s in items {
        encode::simple(out, s);
    }
}

fn write_key_spec(out: &mut Vec<u8>, k: &KeySpec, resp3: bool) {
    encode::map(out, 3 + k.notes.is_some() as usize, resp3);
    if let Some(n) = k.notes {
        encode::bulk(out, b"notes");
        encode::bulk(out, n.as_bytes());
    }
    encode::bulk(out, b"flags");
    write_statuses(out, k.flags, resp3);
    encode::bulk(out, b"begin_search");
    encode::map(out, 2, resp3);
    encode::bulk(out, b"type");
    match k.begin {
        Begin::Index(i) => {
            encode::bulk(out, b"index");
            encode::bulk(out, b"spec");
            encode::map(out, 1, resp3);
            encode::bulk(out, b"index");
            encode::int(out, i as i64);
        }
        Begin::Keyword(word, from) => {
            encode::bulk(out, b"keyword");
            encode::bulk(out, b"spec");
            encode::map(out, 2, resp3);
            encode::bulk(out, b"keyword");
            encode::bulk(out, word.as_bytes());
            encode::bulk(out, b"startfrom");
            encode::int(out, from as i64);
        }
        Begin::Unknown => {
            encode::bulk(out, b"unknown");
            encode::bulk(out, b"spec");
            encode::map(out, 0, resp3);
        }
    }
    encode::bulk(out, b"find_keys");
    encode::map(out, 2, resp3);
    encode::bulk(out, b"type");
    let (kind, fields): (&[u8], [(&[u8], i32); 3]) = match k.find {
        Find::Range(last, step, limit) => (
            b"range",
            [(b"lastkey", last), (b"keystep", step), (b"limit", limit)],
        ),
        Find::Keynum(idx, first, step) => (
            b"keynum",
            [
                (b"keynumidx", idx),
                (b"firstkey", first),
                (b"keystep", step),
            ],
        ),
        Find::Unknown => (b"unknown", [(b"", 0); 3]),
    };
    encode::bulk(out, kind);
    encode::bulk(out, b"spec");
    if matches!(k.find, Find::Unknown) {
        encode::map(out, 0, resp3);
    } else {
        encode::map(out, 3, resp3);
        for (name, v) in fields {
            encode::bulk(out, name);
            encode::int(out, v as i64);
        }
    }
}

/// One entry of `COMMAND` / `COMMAND INFO` in Redis 7's ten-field shape.
fn write_info(out: &mut Vec<u8>, c: &Command, resp3: bool) {
    encode::array(out, 10);
    encode::bulk(out, c.name.as_bytes());
    encode::int(out, c.arity as i64);
    write_flags(out, c, resp3);
    let (first, last, step) = c.keys;
    encode::int(out, first as i64);
    encode::int(out, last as i64);
    encode::int(out, step as i64);
    encode::set(out, c.acl.len(), resp3);
    for a in c.acl {
        let mut s = String::with_capacity(a.len() + 1);
        s.push('@');
        s.push_str(a);
        encode::simple(out, &s);
    }
    encode::set(out, c.tips.len(), resp3);
    for t in c.tips {
        encode::bulk(out, t.as_bytes());
    }
    encode::set(out, c.specs.len(), resp3);
    for k in c.specs {
        write_key_spec(out, k, resp3);
    }
    if c.subs.is_empty() {
        encode::set(out, 0, resp3);
    } else {
        encode::array(out, c.subs.len());
        for s in c.subs {
            write_info(out, s, resp3);
        }
    }
}

/// One command's `COMMAND DOCS` map (without its name).
fn write_docs(out: &mut Vec<u8>, c: &Command, resp3: bool) {
    let fields = 1
        + !c.summary.is_empty() as usize
        + !c.since.is_empty() as usize
        + !c.complexity.is_empty() as usize
        + !c.doc_flags.is_empty() as usize
        + c.deprecated.is_some() as usize * 2
        + !c.subs.is_empty() as usize;
    encode::map(out, fields, resp3);
    let text = |out: &mut Vec<u8>, k: &str, v: &str| {
        if !v.is_empty() {
            encode::bulk(out, k.as_bytes());
            encode::bulk(out, v.as_bytes());
        }
    };
    text(out, "summary", c.summary);
    text(out, "since", c.since);
    encode::bulk(out, b"group");
    encode::bulk(out, c.group.as_bytes());
    text(out, "complexity", c.complexity);
    if !c.doc_flags.is_empty() {
        encode::bulk(out, b"doc_flags");
        write_statuses(out, c.doc_flags, resp3);
    }
    if let Some((since, by)) = c.deprecated {
        encode::bulk(out, b"deprecated_since");
        encode::bulk(out, since.as_bytes());
        encode::bulk(out, b"replaced_by");
        encode::bulk(out, by.as_bytes());
    }
    if !c.subs.is_empty() {
        encode::bulk(out, b"subcommands");
        encode::map(out, c.subs.len(), resp3);
        for s in c.subs {
            encode::bulk(out, s.name.as_bytes());
            write_docs(out, s, resp3);
        }
    }
}

/// COMMAND: every command's entry.
fn command(ctx: &mut Ctx) {
    let resp3 = ctx.resp3();
    ctx.reply(|out| {
        encode::array(out, all().count());
        for c in all() {
            write_info(out, c, resp3);
        }
    });
}

fn command_count(ctx: &mut Ctx) {
    let n = all().count() as i64;
    ctx.reply(|out| encode::int(out, n));
}

/// COMMAND INFO [command ...]: nil for an unknown name.
fn command_info(ctx: &mut Ctx) {
    if ctx.args.len() == 2 {
        return command(ctx);
    }
    let (args, resp3) = (ctx.args, ctx.resp3());
    ctx.reply(|out| {
        encode::array(out, args.len() - 2);
        for name in args.iter_from(2) {
            match by_full_name(name) {
                Some(c) => write_info(out, c, resp3),
                None => encode::null(out, resp3),
            }
        }
    });
}

/// COMMAND DOCS [command ...]: unknown names are left out.
fn command_docs(ctx: &mut Ctx) {
    let (args, resp3) = (ctx.args, ctx.resp3());
    let found: Vec<&'static Command> = if args.len() == 2 {
        all().collect()
    } else {
        args.iter_from(2).filter_map(by_full_name).collect()
    };
    ctx.reply(|out| {
        encode::map(out, found.len(), resp3);
        for c in found {
            encode::bulk(out, c.name.as_bytes());
            write_docs(out, c, resp3);
        }
    });
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]:
/// commands and subcommands by full name.
fn command_list(ctx: &mut Ctx) {
    let args = ctx.args;
    let every = || all().flat_map(|c| std::iter::once(c).chain(c.subs.iter()));
    let names: Vec<&str> = match args.len() {
        2 => every().map(|c| c.name).collect(),
        5 if args.get(2).eq_ignore_ascii_case(b"filterby") => {
            let (kind, arg) = (args.get(3), args.get(4));
            if kind.eq_ignore_ascii_case(b"module") {
                // No modules: no module command.
                Vec::new()
            } else if kind.eq_ignore_ascii_case(b"aclcat") {
                every()
                    .filter(|c| c.acl.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(arg)))
                    .map(|c| c.name)
                    .collect()
            } else if kind.eq_ignore_ascii_case(b"pattern") {
                every()
                    .filter(|c| shards::glob::matches(arg, c.name.as_bytes(), true))
                    .map(|c| c.name)
                    .collect()
            } else {
                return ctx.syntax_error();
            }
        }
        _ => return ctx.syntax_error(),
    };
    ctx.reply(|out| {
        encode::array(out, names.len());
        for n in names {
            encode::bulk(out, n.as_bytes());
        }
    });
}

fn command_getkeys(ctx: &mut Ctx) {
    getkeys(ctx, false);
}

fn command_getkeysandflags(ctx: &mut Ctx) {
    getkeys(ctx, true);
}

/// COMMAND GETKEYS[ANDFLAGS] command [arg ...], checked as Redis's
/// `getKeysSubcommandImpl` checks it.
fn getkeys(ctx: &mut Ctx, with_flags: bool) {
    let mut inner = Args::default();
    for a in ctx.args.iter_from(2) {
        inner.push(a);
    }
    let Some(c) = super::resolve(&inner) else {
        return ctx.error("ERR Invalid command specified");
    };
    if !c.has_keys() {
        return ctx.error("ERR The command has no key arguments");
    }
    if !c.arity_ok(inner.len()) {
        return ctx.error("ERR Invalid number of arguments specified for command");
    }
    let mut keys = Vec::new();
    if !c.find_keys(&inner, &mut keys) && !c.has(NO_MANDATORY_KEYS) {
        return ctx.error("ERR Invalid arguments specified for command");
    }
    let resp3 = ctx.resp3();
    ctx.reply(|out| {
        encode::array(out, keys.len());
        for (i, spec) in keys {
            if with_flags {
                encode::array(out, 2);
                encode::bulk(out, inner.get(i));
                write_statuses(out, key_flags(c, &inner, spec), resp3);
            } else {
                encode::bulk(out, inner.get(i));
            }
        }
    });
}

/// A key's flags: its spec's, except where Redis's own key finder decides
/// them from the arguments (SET's depend on GET, its `variable_flags`).
fn key_flags(c: &Command, args: &Args, spec: &'static KeySpec) -> &'static [&'static str] {
    if c.name == "set" {
        let get = args.iter_from(3).any(|a| a.eq_ignore_ascii_case(b"get"));
        return if get {
            &["RW", "access", "update"]
        } else {
            &["OW", "update"]
        };
    }
    spec.flags
}

fn command_help(ctx: &mut Ctx) {
    ctx.reply_lines(&[
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Prints this help.",
    ]);
}

/// COMMAND.
pub(super) static COMMANDS: &[Command] = &[Command::new("command", -1, command)
    .flags(LOADING | STALE | LOCAL)
    .acl(&["slow", "connection"])
    .tips(&["nondeterministic_output_order"])
    .subs(COMMAND_SUBS)
    .doc(
        "server",
        "2.8.13",
        "Get array of Redis command details",
        "O(N) where N is the total number of Redis commands",
    )];

static COMMAND_SUBS: &[Command] = &[
    Command::new("command|count", 2, command_count)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .doc(
            "server",
            "2.8.13",
            "Get total number of Redis commands",
            "O(1)",
        ),
    Command::new("command|docs", -2, command_docs)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .tips(&["nondeterministic_output_order"])
        .doc(
            "server",
            "7.0.0",
            "Get array of specific Redis command documentation",
            "O(N) where N is the number of commands to look up",
        ),
    Command::new("command|getkeys", -4, command_getkeys)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .doc(
            "server",
            "2.8.13",
            "Extract keys given a full Redis command",
            "O(N) where N is the number of arguments to the command",
        ),
    Command::new("command|getkeysandflags", -4, command_getkeysandflags)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .doc(
            "server",
            "7.0.0",
            "Extract keys and access flags given a full Redis command",
            "O(N) where N is the number of arguments to the command",
        ),
    Command::new("command|help", 2, command_help)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .doc(
            "server",
            "5.0.0",
            "Show helpful text about the different subcommands",
            "O(1)",
        ),
    Command::new("command|info", -2, command_info)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .tips(&["nondeterministic_output_order"])
        .doc(
            "server",
            "2.8.13",
            "Get array of specific Redis command details, or all when no argument is given.",
            "O(N) where N is the number of commands to look up",
        ),
    Command::new("command|list", -2, command_list)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow", "connection"])
        .tips(&["nondeterministic_output_order"])
        .doc(
            "server",
            "7.0.0",
            "Get an array of Redis command names",
            "O(N) where N is the total number of Redis commands",
        ),
];
