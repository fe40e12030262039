//! A command's declaration: everything the server knows about a command,
//! written once beside its handler in its family file (Redis's
//! `commands/*.json`, Dragonfly's `CI{...}` rows). Dispatch, arity errors,
//! COMMAND INFO / DOCS / LIST / GETKEYS, MULTI queueing, the auth and
//! write checks, sections and statistics all read it.

use super::Ctx;
use crate::exchange::Router;
use crate::resp::Args;

/// A command's handler.
pub type Handler = fn(&mut Ctx);

/// Decides, from a command's arguments and where its keys live, whether it
/// needs a section (a hold on its shards over several exchanges, see
/// `exchange`). EXEC asks it of every queued command too.
pub type NeedsSection = fn(&Args, &Router) -> bool;

/// Command flags: Redis's, and one of shardcache's own.
pub mod flags {
    /// May modify data.
    pub const WRITE: u32 = 1;
    /// Only reads data.
    pub const READONLY: u32 = 1 << 1;
    /// Refused under `maxmemory` when nothing can be evicted.
    pub const DENYOOM: u32 = 1 << 2;
    /// A module command (never here; kept for Redis's flag order).
    pub const MODULE: u32 = 1 << 3;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 4;
    /// Pub/sub.
    pub const PUBSUB: u32 = 1 << 5;
    /// Not allowed in scripts.
    pub const NOSCRIPT: u32 = 1 << 6;
    /// May block the client.
    pub const BLOCKING: u32 = 1 << 7;
    /// Allowed while loading.
    pub const LOADING: u32 = 1 << 8;
    /// Allowed on stale replicas.
    pub const STALE: u32 = 1 << 9;
    /// Not shown by MONITOR.
    pub const SKIP_MONITOR: u32 = 1 << 10;
    /// Not logged by SLOWLOG.
    pub const SKIP_SLOWLOG: u32 = 1 << 11;
    /// Cluster ASKING.
    pub const ASKING: u32 = 1 << 12;
    /// O(1) or O(log N).
    pub const FAST: u32 = 1 << 13;
    /// Allowed before AUTH.
    pub const NO_AUTH: u32 = 1 << 14;
    /// May replicate (scripts that may write).
    pub const MAY_REPLICATE: u32 = 1 << 15;
    /// Has no mandatory keys.
    pub const NO_MANDATORY_KEYS: u32 = 1 << 16;
    /// Refused while an async load runs.
    pub const NO_ASYNC_LOADING: u32 = 1 << 17;
    /// Refused between MULTI and EXEC.
    pub const NO_MULTI: u32 = 1 << 18;
    /// Key positions depend on the arguments.
    pub const MOVABLEKEYS: u32 = 1 << 19;
    /// Allowed while a script runs too long.
    pub const ALLOW_BUSY: u32 = 1 << 20;

    /// shardcache's own: answered by the worker, never reaching a shard (a
    /// transaction of such commands and keyed ones holds only the shards of
    /// its keys). Not shown by COMMAND.
    pub const LOCAL: u32 = 1 << 31;

    /// Flag names in the order Redis 7.0's `COMMAND` lists them
    /// (`may_replicate` is hidden, as there).
    pub const NAMES: [(u32, &str); 20] = [
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (MODULE, "module"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLEKEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Where a key spec's search for keys begins.
#[derive(Debug, Clone, Copy)]
pub enum Begin {
    /// At this argument.
    Index(i32),
    /// After this keyword, searched from `startfrom` (negative: from the end).
    Keyword(&'static str, i32),
    /// Unknown (`type unknown`).
    Unknown,
}

/// How a key spec finds its keys from where the search began.
#[derive(Debug, Clone, Copy)]
pub enum Find {
    /// `lastkey` (relative; -1 the last argument), every `keystep`th
    /// argument, at most a `limit`th of what remains (0: no limit).
    Range(i32, i32, i32),
    /// The key count is at `keynumidx`; the first key `firstkey` after the
    /// count, every `keystep`th.
    Keynum(i32, i32, i32),
    /// Unknown (`type unknown`).
    Unknown,
}

/// One Redis 7 key specification (COMMAND INFO's eighth field).
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// Flags (`RO`, `RW`, `OW`, `RM`, `access`, `update`, `insert`, `delete`, ...).
    pub flags: &'static [&'static str],
    /// Where the search begins.
    pub begin: Begin,
    /// How keys are found.
    pub find: Find,
    /// Redis's note, when it has one.
    pub notes: Option<&'static str>,
}

/// A key spec (builder for the tables).
pub const fn ks(flags: &'static [&'static str], begin: Begin, find: Find) -> KeySpec {
    KeySpec {
        flags,
        begin,
        find,
        notes: None,
    }
}

impl KeySpec {
    /// The same spec with Redis's note.
    pub const fn note(mut self, n: &'static str) -> KeySpec {
        self.notes = Some(n);
        self
    }
}

/// A command's declaration.
#[derive(Debug)]
pub struct Command {
    /// Lower-case name (`client`; a subcommand's full name, `client|list`).
    pub name: &'static str,
    /// Redis arity: N exactly, or -N for at least N (the name counts; for a
    /// subcommand, both names count).
    pub arity: i32,
    /// Bit set of `flags`.
    pub flags: u32,
    /// Legacy key positions: first, last (-1: the last argument), step.
    pub keys: (i32, i32, i32),
    /// Redis 7 key specs.
    pub specs: &'static [KeySpec],
    /// ACL categories without the `@`.
    pub acl: &'static [&'static str],
    /// Redis 7 command tips.
    pub tips: &'static [&'static str],
    /// Subcommands of a container.
    pub subs: &'static [Command],
    /// Redis command group (COMMAND DOCS).
    pub group: &'static str,
    /// Redis version that introduced it.
    pub since: &'static str,
    /// COMMAND DOCS summary.
    pub summary: &'static str,
    /// COMMAND DOCS complexity.
    pub complexity: &'static str,
    /// COMMAND DOCS doc flags (`deprecated`, `syscmd`).
    pub doc_flags: &'static [&'static str],
    /// COMMAND DOCS deprecation: since which version, replaced by what.
    pub deprecated: Option<(&'static str, &'static str)>,
    /// The handler (a container's dispatches its subcommands).
    pub run: Handler,
    /// Whether these arguments need a section; None: never.
    pub section: Option<NeedsSection>,
}

impl Command {
    /// A declaration with nothing but a name, arity and handler; the
    /// builders below add the rest.
    pub const fn new(name: &'static str, arity: i32, run: Handler) -> Command {
        Command {
            name,
            arity,
            flags: 0,
            keys: (0, 0, 0),
            specs: &[],
            acl: &[],
            tips: &[],
            subs: &[],
            group: "",
            since: "",
            summary: "",
            complexity: "",
            doc_flags: &[],
            deprecated: None,
            run,
            section: None,
        }
    }

    /// Flags.
    pub const fn flags(mut self, f: u32) -> Command {
        self.flags = f;
        self
    }

    /// Legacy key positions and key specs.
    pub const fn keys(
        mut self,
        first: i32,
        last: i32,
        step: i32,
        specs: &'static [KeySpec],
    ) -> Command {
        self.keys = (first, last, step);
        self.specs = specs;
        self
    }

    /// ACL categories.
    pub const fn acl(mut self, acl: &'static [&'static str]) -> Command {
        self.acl = acl;
        self
    }

    /// Command tips.
    pub const fn tips(mut self, tips: &'static [&'static str]) -> Command {
        self.tips = tips;
        self
    }

    /// Subcommands.
    pub const fn subs(mut self, subs: &'static [Command]) -> Command {
        self.subs = subs;
        self
    }

    /// COMMAND DOCS: group, since, summary, complexity.
    pub const fn doc(
        mut self,
        group: &'static str,
        since: &'static str,
        summary: &'static str,
        complexity: &'static str,
    ) -> Command {
        self.group = group;
        self.since = since;
        self.summary = summary;
        self.complexity = complexity;
        self
    }

    /// COMMAND DOCS doc flags.
    pub const fn doc_flags(mut self, f: &'static [&'static str]) -> Command {
        self.doc_flags = f;
        self
    }

    /// COMMAND DOCS deprecation.
    pub const fn deprecated(mut self, since: &'static str, by: &'static str) -> Command {
        self.deprecated = Some((since, by));
        self
    }

    /// The arguments decide whether the command needs a section.
    pub const fn section(mut self, f: NeedsSection) -> Command {
        self.section = Some(f);
        self
    }

    /// True when `argc` (names included) satisfies the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= (-self.arity) as usize
        }
    }

    /// True when the command has this flag.
    #[inline]
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// True for a container (its handler dispatches subcommands).
    pub fn is_container(&self) -> bool {
        !self.subs.is_empty()
    }

    /// The subcommand named `name` (any case).
    pub fn sub(&self, name: &[u8]) -> Option<&'static Command> {
        self.subs
            .iter()
            .find(|s| s.sub_name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// A subcommand's own name (`list` of `client|list`).
    pub fn sub_name(&self) -> &'static str {
        self.name.split_once('|').map_or(self.name, |(_, s)| s)
    }

    /// The key positions of `argc` arguments by the legacy triple.
    pub fn key_positions(&self, argc: usize) -> impl Iterator<Item = usize> + '_ {
        let (first, last, step) = self.keys;
        let last = if last < 0 {
            argc as i64 + last as i64
        } else {
            (last as i64).min(argc as i64 - 1)
        };
        let step = step.max(1) as usize;
        let first = if first > 0 { first as usize } else { argc };
        (first..argc)
            .step_by(step)
            .take_while(move |&i| i as i64 <= last)
    }

    /// True when some key spec names real keys, not `not_key` ones (Redis's
    /// `doesCommandHaveKeys`).
    pub fn has_keys(&self) -> bool {
        self.specs.iter().any(|k| !k.flags.contains(&"not_key"))
    }

    /// The key arguments of `args` by the key specs, as Redis's
    /// `getKeysUsingKeySpecs`: `(position, spec)` pairs pushed to `out`.
    /// False, with `out` emptied, when the arguments do not match a spec (a
    /// key count out of range, a position past the end).
    pub fn find_keys(&self, args: &Args, out: &mut Vec<(usize, &'static KeySpec)>) -> bool {
        out.clear();
        let argc = args.len() as i64;
        for spec in self.specs {
            if spec.flags.contains(&"not_key") {
                continue;
            }
            let first = match spec.begin {
                Begin::Index(i) => i as i64,
                Begin::Keyword(word, from) => {
                    let from = from as i64;
                    let found = if from > 0 {
                        (from..argc)
                            .find(|&i| args.get(i as usize).eq_ignore_ascii_case(word.as_bytes()))
                    } else {
                        (1..=argc + from)
                            .rev()
                            .find(|&i| args.get(i as usize).eq_ignore_ascii_case(word.as_bytes()))
                    };
                    match found {
                        Some(i) => i + 1,
                        None => continue,
                    }
                }
                Begin::Unknown => {
                    out.clear();
                    return false;
                }
            };
            let (first, last, step) = match spec.find {
                Find::Range(lastkey, step, limit) => {
                    let last = if lastkey >= 0 {
                        first + lastkey as i64
                    } else if limit == 0 {
                        argc + lastkey as i64
                    } else {
                        first + ((argc - first) / limit as i64 + lastkey as i64)
                    };
                    (first, last, step as i64)
                }
                Find::Keynum(idx, firstkey, step) => {
                    let at = first + idx as i64;
                    let n = (at < argc)
                        .then(|| crate::resp::parse_i64(args.get(at as usize)))
                        .flatten()
                        .filter(|&n| n >= 0);
                    let Some(n) = n else {
                        out.clear();
                        return false;
                    };
                    let first = first + firstkey as i64;
                    // A huge count (SINTERCARD 9223372036854775807 ...) must
                    // not overflow: it only has to exceed argc.
                    (first, first.saturating_add(n - 1), step as i64)
                }
                Find::Unknown => {
                    out.clear();
                    return false;
                }
            };
            if last < first {
                // No key (a key count of 0).
                if last == first - 1 && matches!(spec.find, Find::Keynum(..)) {
                    continue;
                }
                out.clear();
                return false;
            }
            if last >= argc || first >= argc {
                out.clear();
                return false;
            }
            let mut i = first;
            while i <= last {
                out.push((i as usize, spec));
                i += step.max(1);
            }
            if spec.flags.contains(&"INCOMPLETE") {
                out.clear();
                return false;
            }
        }
        true
    }
}
