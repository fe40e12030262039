//! ACL: the ACL command, Redis 7.0's rule syntax, and the permission check
//! every command of a restricted user passes (Redis's acl.c). The users
//! themselves live in `crate::acl`.
//!
//! A connection holds its user and the ACL generation it last saw
//! (`Session::acl_free`): while the user may run anything and no user
//! changed, dispatch pays one comparison; otherwise `refused` looks the
//! user up again and checks the command, its keys (by key specs, reads
//! against `%R~`, writes against `%W~`) and its channels.

use super::spec::{flags::*, Command};
use super::{by_id, container, count, id_of, lookup_id, parse_int, table, Ctx};
use crate::acl::{hash_password, Denied, LogEntry, Selector, User, Users, CATEGORIES, KEY_ALL};
use crate::acl::{KEY_READ, KEY_WRITE};
use crate::resp::{encode, Args};
use std::sync::Arc;

/// A command by the name a rule gives it (`get`, `client|list`), ignoring
/// `rename-command` as Redis's `ACLLookupCommand` does.
fn find(name: &[u8]) -> Option<&'static Command> {
    let mut parts = name.split(|&c| c == b'|');
    let top = by_id(lookup_id(parts.next()?, false)?);
    match (parts.next(), parts.next()) {
        (None, _) => Some(top),
        (Some(sub), None) => top.sub(sub),
        _ => None,
    }
}

fn category(name: &[u8]) -> Option<&'static str> {
    CATEGORIES
        .iter()
        .find(|c| c.as_bytes().eq_ignore_ascii_case(name))
        .copied()
}

/// Redis's `ACLChangeSelectorPerm`: a container's subcommands follow it.
fn change_perm(sel: &mut Selector, cmd: &'static Command, on: bool) {
    let id = id_of(cmd);
    sel.set_bit(id, on);
    sel.first_args.retain(|(i, _)| *i as usize != id);
    for s in cmd.subs {
        sel.set_bit(id_of(s), on);
    }
}

fn set_category(sel: &mut Selector, cat: &str, on: bool) {
    for top in super::all() {
        if top.acl.contains(&cat) {
            change_perm(sel, top, on);
        }
        for s in top.subs {
            if s.acl.contains(&cat) {
                change_perm(sel, s, on);
            }
        }
    }
}

fn set_all(sel: &mut Selector, on: bool) {
    let n = count();
    for id in 0..n {
        sel.set_bit(id, on);
    }
    sel.all_commands = on;
    sel.future = on;
    sel.first_args.clear();
}

const SYNTAX: &str = "Syntax error";
const UNKNOWN: &str = "Unknown command or category name in ACL";

fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&c| c == 0 || c.is_ascii_whitespace())
}

/// Redis's `ACLSetSelector`: one rule about commands, keys or channels.
fn set_selector(sel: &mut Selector, op: &[u8]) -> Result<(), &'static str> {
    let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
    if is("allkeys") || op == b"~*" {
        sel.all_keys = true;
        sel.keys.clear();
    } else if is("resetkeys") {
        sel.all_keys = false;
        sel.keys.clear();
    } else if is("allchannels") || op == b"&*" {
        sel.all_channels = true;
        sel.channels.clear();
    } else if is("resetchannels") {
        sel.all_channels = false;
        sel.channels.clear();
    } else if is("allcommands") || is("+@all") {
        set_all(sel, true);
    } else if is("nocommands") || is("-@all") {
        set_all(sel, false);
    } else if op[0] == b'~' || op[0] == b'%' {
        if sel.all_keys {
            return Err("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns");
        }
        let (mut flags, mut at) = (0u8, 1);
        if op[0] == b'%' {
            loop {
                match op.get(at).map(u8::to_ascii_uppercase) {
                    Some(b'R') if flags & KEY_READ == 0 => flags |= KEY_READ,
                    Some(b'W') if flags & KEY_WRITE == 0 => flags |= KEY_WRITE,
                    Some(b'~') => {
                        at += 1;
                        break;
                    }
                    // `%R` alone ends the loop too, as in Redis.
                    None => break,
                    _ => return Err(SYNTAX),
                }
                at += 1;
            }
        } else {
            flags = KEY_ALL;
        }
        let pat = &op[at.min(op.len())..];
        if has_spaces(pat) {
            return Err(SYNTAX);
        }
        match sel.keys.iter_mut().find(|(_, p)| p == pat) {
            Some((f, _)) => *f |= flags,
            None => sel.keys.push((flags, pat.to_vec())),
        }
        sel.all_keys = false;
    } else if op[0] == b'&' {
        if sel.all_channels {
            return Err("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels");
        }
        let pat = &op[1..];
        if has_spaces(pat) {
            return Err(SYNTAX);
        }
        if !sel.channels.iter().any(|p| p == pat) {
            sel.channels.push(pat.to_vec());
        }
        sel.all_channels = false;
    } else if (op[0] == b'+' || op[0] == b'-') && op.get(1) == Some(&b'@') {
        let cat = category(&op[2..]).ok_or(UNKNOWN)?;
        set_category(sel, cat, op[0] == b'+');
    } else if op[0] == b'-' {
        let cmd = find(&op[1..]).ok_or(UNKNOWN)?;
        change_perm(sel, cmd, false);
    } else if op[0] == b'+' {
        let name = &op[1..];
        match memchr::memrchr(b'|', name) {
            None => change_perm(sel, find(name).ok_or(UNKNOWN)?, true),
            Some(bar) => {
                let cmd = find(&name[..bar]).ok_or(UNKNOWN)?;
                if cmd.name.contains('|') {
                    return Err("Allowing first-arg of a subcommand is not supported");
                }
                let arg = &name[bar + 1..];
                if arg.is_empty() {
                    return Err(SYNTAX);
                }
                if cmd.is_container() {
                    change_perm(sel, find(name).ok_or(UNKNOWN)?, true);
                } else {
                    // SELECT|0: this first argument only, while the
                    // command itself stays refused.
                    let id = id_of(cmd) as u32;
                    let i = match sel.first_args.iter().position(|(c, _)| *c == id) {
                        Some(i) => i,
                        None => {
                            sel.first_args.push((id, Vec::new()));
                            sel.first_args.len() - 1
                        }
                    };
                    let list = &mut sel.first_args[i].1;
                    if !list.iter().any(|a| a.eq_ignore_ascii_case(arg)) {
                        list.push(arg.to_vec());
                    }
                }
            }
        }
    } else {
        return Err(SYNTAX);
    }
    Ok(())
}

fn valid_hash(h: &[u8]) -> Option<[u8; 64]> {
    let ok = h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    ok.then(|| h.try_into().ok()).flatten()
}

const BAD_HASH: &str =
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";

/// Redis's `ACLSetUser`: one rule.
pub fn set_user(u: &mut User, op: &[u8]) -> Result<(), &'static str> {
    if op.is_empty() {
        return Ok(());
    }
    let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
    if is("on") {
        u.enabled = true;
    } else if is("off") {
        u.enabled = false;
    } else if is("skip-sanitize-payload") {
        u.sanitize = Some(false);
    } else if is("sanitize-payload") {
        u.sanitize = Some(true);
    } else if is("nopass") {
        u.nopass = true;
        u.passwords.clear();
    } else if is("resetpass") {
        u.nopass = false;
        u.passwords.clear();
    } else if op[0] == b'>' || op[0] == b'#' {
        let h = if op[0] == b'>' {
            hash_password(&op[1..])
        } else {
            valid_hash(&op[1..]).ok_or(BAD_HASH)?
        };
        if !u.passwords.contains(&h) {
            u.passwords.push(h);
        }
        u.nopass = false;
    } else if op[0] == b'<' || op[0] == b'!' {
        let h = if op[0] == b'<' {
            hash_password(&op[1..])
        } else {
            valid_hash(&op[1..]).ok_or(BAD_HASH)?
        };
        let i = u
            .passwords
            .iter()
            .position(|p| *p == h)
            .ok_or("The password you are trying to remove from the user does not exist")?;
        u.passwords.remove(i);
    } else if op[0] == b'(' && op.ends_with(b")") && op.len() >= 2 {
        let mut sel = Selector::new(count());
        for part in op[1..op.len() - 1]
            .split(|c| c.is_ascii_whitespace())
            .filter(|p| !p.is_empty())
        {
            set_selector(&mut sel, part)?;
        }
        u.selectors.push(sel);
    } else if is("clearselectors") {
        u.selectors.clear();
    } else if is("reset") {
        u.nopass = false;
        u.passwords.clear();
        u.root.all_keys = false;
        u.root.keys.clear();
        u.root.all_channels = false;
        u.root.channels.clear();
        u.enabled = false;
        u.sanitize = Some(true);
        u.selectors.clear();
        set_all(&mut u.root, false);
    } else {
        set_selector(&mut u.root, op)?;
    }
    Ok(())
}

/// Redis's `ACLMergeSelectorArguments`: a selector may span arguments,
/// `(+get` `~key)`; they are joined with spaces.
fn merge_selectors(ops: &[&[u8]]) -> Result<Vec<Vec<u8>>, Vec<u8>> {
    let mut out = Vec::with_capacity(ops.len());
    let mut open: Option<Vec<u8>> = None;
    for op in ops {
        match open.as_mut() {
            Some(sel) => {
                sel.push(b' ');
                sel.extend_from_slice(op);
                if op.ends_with(b")") {
                    out.extend(open.take());
                }
            }
            None if op.first() == Some(&b'(') && !op.ends_with(b")") => {
                open = Some(op.to_vec());
            }
            None => out.push(op.to_vec()),
        }
    }
    match open {
        Some(sel) => Err(sel),
        None => Ok(out),
    }
}

// ---- describing users (ACL LIST, GETUSER) ----

fn count_category(bits: &Selector, cat: &str) -> (usize, usize) {
    let (mut on, mut off) = (0, 0);
    for (id, c) in table().all.iter().enumerate() {
        if c.acl.contains(&cat) {
            if bits.bit(id) {
                on += 1;
            } else {
                off += 1;
            }
        }
    }
    (on, off)
}

fn describe_singles(
    sel: &Selector,
    fake: &mut Selector,
    cmds: &'static [Command],
    out: &mut Vec<u8>,
) {
    for cmd in cmds {
        let id = id_of(cmd);
        let bit = sel.bit(id);
        if bit != fake.bit(id) {
            out.push(if bit { b'+' } else { b'-' });
            out.extend_from_slice(cmd.name.as_bytes());
            out.push(b' ');
            change_perm(fake, cmd, bit);
        }
        describe_singles(sel, fake, cmd.subs, out);
        if !bit {
            if let Some((_, args)) = sel.first_args.iter().find(|(i, _)| *i as usize == id) {
                for a in args {
                    out.push(b'+');
                    out.extend_from_slice(cmd.name.as_bytes());
                    out.push(b'|');
                    out.extend_from_slice(a);
                    out.push(b' ');
                }
            }
        }
    }
}

/// Redis's `ACLDescribeSelectorCommandRules`: `+@all` or `-@all`, then the
/// categories that fit best, one at a time, then single commands. Single
/// commands follow the table's order (Redis's follow its hash table's).
fn describe_commands(sel: &Selector, out: &mut Vec<u8>) {
    let additive = !sel.future;
    let mut fake = Selector::new(count());
    set_all(&mut fake, !additive);
    out.extend_from_slice(if additive { b"-@all " } else { b"+@all " });
    let mut temp = sel.clone();
    let mut applied = [false; CATEGORIES.len()];
    loop {
        let mut best = None;
        let (mut mindiff, mut maxsame) = (usize::MAX, 0);
        for (j, cat) in CATEGORIES.iter().enumerate() {
            if applied[j] {
                continue;
            }
            let (on, off) = count_category(&temp, cat);
            let (diff, same) = if additive { (off, on) } else { (on, off) };
            if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                best = Some(j);
                mindiff = diff;
                maxsame = same;
            }
        }
        let Some(j) = best else { break };
        set_category(&mut fake, CATEGORIES[j], additive);
        set_category(&mut temp, CATEGORIES[j], !additive);
        out.extend_from_slice(if additive { b"+@" } else { b"-@" });
        out.extend_from_slice(CATEGORIES[j].as_bytes());
        out.push(b' ');
        applied[j] = true;
    }
    let tops: Vec<&'static Command> = super::all().collect();
    for top in tops {
        describe_singles(sel, &mut fake, std::slice::from_ref(top), out);
    }
    out.pop();
}

fn describe_keys(sel: &Selector, out: &mut Vec<u8>) {
    if sel.all_keys {
        out.extend_from_slice(b"~* ");
        return;
    }
    for (f, p) in &sel.keys {
        out.extend_from_slice(match *f {
            KEY_READ => b"%R~",
            KEY_WRITE => b"%W~",
            _ => b"~",
        });
        out.extend_from_slice(p);
        out.push(b' ');
    }
}

fn describe_channels(sel: &Selector, out: &mut Vec<u8>, reset: bool) {
    if sel.all_channels {
        out.extend_from_slice(b"&* ");
        return;
    }
    if reset {
        out.extend_from_slice(b"resetchannels ");
    }
    for p in &sel.channels {
        out.push(b'&');
        out.extend_from_slice(p);
        out.push(b' ');
    }
}

fn describe_selector(sel: &Selector, out: &mut Vec<u8>) {
    describe_keys(sel, out);
    describe_channels(sel, out, true);
    describe_commands(sel, out);
}

fn flag_names(u: &User) -> Vec<&'static str> {
    let mut f = vec![if u.enabled { "on" } else { "off" }];
    if u.nopass {
        f.push("nopass");
    }
    match u.sanitize {
        Some(false) => f.push("skip-sanitize-payload"),
        Some(true) => f.push("sanitize-payload"),
        None => {}
    }
    f
}

/// Redis's `ACLDescribeUser`: the user as ACL LIST shows it.
pub fn describe_user(u: &User, out: &mut Vec<u8>) {
    for f in flag_names(u) {
        out.extend_from_slice(f.as_bytes());
        out.push(b' ');
    }
    for p in &u.passwords {
        out.push(b'#');
        out.extend_from_slice(p);
        out.push(b' ');
    }
    describe_selector(&u.root, out);
    for s in &u.selectors {
        out.extend_from_slice(b" (");
        describe_selector(s, out);
        out.push(b')');
    }
}

// ---- the check ----

/// Redis's `ACLSelectorCheckCmd`: Ok, or why and the argument refused.
fn check_selector(
    sel: &Selector,
    cmd: &'static Command,
    args: &Args,
    keys: &mut Option<Vec<(usize, u8)>>,
) -> Result<(), (Denied, usize)> {
    if !sel.all_commands && !cmd.has(NO_AUTH) {
        let id = id_of(cmd);
        if !sel.bit(id) {
            let idx = if cmd.name.contains('|') { 2 } else { 1 };
            let allowed = args.len() >= 2
                && idx < args.len()
                && sel
                    .first_args
                    .iter()
                    .find(|(i, _)| *i as usize == id)
                    .is_some_and(|(_, l)| l.iter().any(|a| a.eq_ignore_ascii_case(args.get(idx))));
            if !allowed {
                return Err((Denied::Command, 0));
            }
        }
    }
    if !sel.all_keys && cmd.has_keys() {
        let found = keys.get_or_insert_with(|| key_refs(cmd, args));
        for &(pos, need) in found.iter() {
            if !sel.key_ok(args.get(pos), need) {
                return Err((Denied::Key, pos));
            }
        }
    }
    if !sel.all_channels {
        let (from, to, pattern) = match cmd.name {
            "publish" | "spublish" => (1, 2.min(args.len()), false),
            "subscribe" | "ssubscribe" => (1, args.len(), false),
            "psubscribe" => (1, args.len(), true),
            _ => (0, 0, false),
        };
        for pos in from..to {
            if !sel.channel_ok(args.get(pos), pattern) {
                return Err((Denied::Channel, pos));
            }
        }
    }
    Ok(())
}

/// The key arguments of a command and what each needs (`KEY_*`), by its
/// key specs (Redis's `getKeysFromCommandWithSpecs`); SORT's, whose specs
/// are incomplete, as Redis's `sortGetKeys` finds them.
fn key_refs(cmd: &'static Command, args: &Args) -> Vec<(usize, u8)> {
    if matches!(cmd.name, "sort" | "sort_ro") {
        let mut v = vec![(1, KEY_READ)];
        let mut i = 2;
        while i < args.len() {
            let a = args.get(i);
            let skip = if a.eq_ignore_ascii_case(b"limit") {
                2
            } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
                1
            } else if a.eq_ignore_ascii_case(b"store") && cmd.name == "sort" {
                if i + 1 < args.len() {
                    v.push((i + 1, KEY_WRITE));
                }
                1
            } else {
                0
            };
            i += 1 + skip;
        }
        return v;
    }
    let mut found = Vec::new();
    cmd.find_keys(args, &mut found);
    found
        .into_iter()
        .map(|(pos, spec)| {
            let mut need = 0;
            if spec.flags.contains(&"access") {
                need |= KEY_READ;
            }
            if spec
                .flags
                .iter()
                .any(|f| matches!(*f, "insert" | "delete" | "update"))
            {
                need |= KEY_WRITE;
            }
            if spec.flags.contains(&"variable_flags") {
                need = variable_need(cmd, args, need);
            }
            (pos, need)
        })
        .collect()
}

/// Whether `user` may read every key with this command (Redis's
/// `ACLUserCheckCmdWithUnrestrictedKeyAccess` for reads): SORT's BY and
/// GET patterns reach keys no check can name.
pub fn reads_any_key(user: &User, cmd: &'static Command, args: &Args) -> bool {
    let mut keys = None;
    std::iter::once(&user.root)
        .chain(user.selectors.iter())
        .any(|sel| {
            check_selector(sel, cmd, args, &mut keys).is_ok()
                && (sel.all_keys || sel.keys.iter().any(|(f, p)| f & KEY_READ != 0 && p == b"*"))
        })
}

/// What a key spec flagged `variable_flags` needs for these arguments
/// (Redis's `setGetKeys`, `bitfieldGetKeys`): SET reads only with GET,
/// BITFIELD writes only with SET or INCRBY.
fn variable_need(cmd: &Command, args: &Args, need: u8) -> u8 {
    let has = |w: &[u8]| args.iter_from(2).any(|a| a.eq_ignore_ascii_case(w));
    match cmd.name {
        "set" if !has(b"get") => need & !KEY_READ,
        "bitfield" if !has(b"set") && !has(b"incrby") => KEY_READ,
        _ => need,
    }
}

/// Redis's `ACLCheckAllUserCommandPerm`: the root or any selector must
/// allow the command; else the most relevant refusal.
pub fn check(u: &User, cmd: &'static Command, args: &Args) -> Result<(), (Denied, usize)> {
    let mut keys = None;
    let mut worst = (Denied::Command, 0);
    for sel in std::iter::once(&u.root).chain(u.selectors.iter()) {
        match check_selector(sel, cmd, args, &mut keys) {
            Ok(()) => return Ok(()),
            Err(e) => {
                if e.0 > worst.0 || (e.0 == worst.0 && e.1 > worst.1) {
                    worst = e;
                }
            }
        }
    }
    Err(worst)
}

/// The NOPERM text (Redis's `getAclErrorMessage`): `verbose` names the key
/// or channel (ACL DRYRUN), else only the command is named.
fn denial_text(why: Denied, cmd: &Command, arg: &[u8], verbose: bool) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(if verbose { b"This" } else { b"this" });
    m.extend_from_slice(b" user has no permissions to ");
    match (why, verbose) {
        (Denied::Command | Denied::Auth, _) => {
            m.extend_from_slice(b"run the '");
            m.extend_from_slice(cmd.name.as_bytes());
            m.extend_from_slice(b"' command");
        }
        (Denied::Key, false) => m.extend_from_slice(b"access one of the keys used as arguments"),
        (Denied::Channel, false) => {
            m.extend_from_slice(b"access one of the channels used as arguments")
        }
        (d, true) => {
            m.extend_from_slice(b"access the '");
            m.extend_from_slice(arg);
            m.extend_from_slice(if d == Denied::Key {
                b"' key"
            } else {
                b"' channel"
            });
        }
    }
    m
}

/// Brings the connection's user up to date with the ACL table; true when
/// it may run anything (then dispatch skips `refused` until a change).
fn refresh(ctx: &mut Ctx) -> bool {
    let gen = ctx.shared.acl.gen();
    let s = &mut *ctx.session;
    if s.acl_seen != gen {
        // A deleted user's connections are being closed; until then they
        // act as the default user, unauthenticated, as in Redis.
        s.user = match ctx.shared.acl.user(&s.user.name) {
            Some(u) => u,
            None => {
                s.authenticated = !ctx.shared.auth_required();
                ctx.shared.acl.default_user()
            }
        };
        s.acl_seen = gen;
    }
    if s.user.unrestricted() {
        s.acl_free = gen;
        return true;
    }
    false
}

fn log_context(ctx: &Ctx) -> &'static str {
    if ctx.conn == crate::exchange::NO_CONN {
        "lua"
    } else if ctx.session.multi.is_some() || ctx.session.executing {
        "multi"
    } else {
        "toplevel"
    }
}

fn client_info(ctx: &Ctx) -> Vec<u8> {
    if ctx.conn != crate::exchange::NO_CONN {
        // Its row names the command being refused, as Redis's does.
        ctx.session.publish(ctx.now_ms, None);
    }
    let mut info = Vec::new();
    let client = match (&ctx.session.script_caller, ctx.conn) {
        (Some(c), crate::exchange::NO_CONN) => c,
        _ => &ctx.session.client,
    };
    client.write_row(&mut info, ctx.now_ms, super::write_full_name);
    info
}

/// Adds an ACL LOG entry for this connection.
fn log(ctx: &Ctx, reason: Denied, object: &[u8], username: &[u8]) {
    ctx.shared.acl.log(LogEntry {
        count: 1,
        reason,
        context: log_context(ctx),
        object: object.to_vec(),
        username: username.to_vec(),
        ms: ctx.now_ms,
        client_info: client_info(ctx),
    });
}

/// Dispatch's ACL check, for connections whose user may not run
/// everything or whose user changed: replies NOPERM, logs, and returns
/// true when the command is refused.
#[cold]
#[inline(never)]
pub(super) fn refused(ctx: &mut Ctx) -> bool {
    if refresh(ctx) {
        return false;
    }
    let user = ctx.session.user.clone();
    let Err((why, pos)) = check(&user, ctx.cmd, ctx.args) else {
        return false;
    };
    let object: &[u8] = match why {
        Denied::Key | Denied::Channel => ctx.args.get(pos),
        _ => ctx.cmd.name.as_bytes(),
    };
    log(ctx, why, object, &user.name);
    let msg = if ctx.conn == crate::exchange::NO_CONN {
        // A script's `redis.call` (Redis's `scriptCall` words).
        match why {
            Denied::Key => "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments".as_bytes().to_vec(),
            Denied::Channel => "ERR The user executing the script can't publish to the channel mentioned in the command".as_bytes().to_vec(),
            _ => "ERR The user executing the script can't run this command or subcommand".as_bytes().to_vec(),
        }
    } else if ctx.session.executing {
        // EXEC checks again what was allowed when queued.
        let reason = match why {
            Denied::Key => "no permission to touch the specified keys",
            Denied::Channel => "no permission to access one of the channels used as arguments",
            _ => "no permission to execute the command or subcommand",
        };
        format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}").into_bytes()
    } else {
        let mut m = b"NOPERM ".to_vec();
        m.extend_from_slice(&denial_text(why, ctx.cmd, ctx.args.get(pos), false));
        m
    };
    ctx.reply(|out| encode::error_bytes(out, &msg));
    true
}

/// `redis.acl_check_cmd`: whether the connection's user may run `args`;
/// None for an unknown command.
pub fn script_check(ctx: &mut Ctx, args: &Args) -> Option<bool> {
    let cmd = super::resolve(args)?;
    refresh(ctx);
    Some(check(&ctx.session.user, cmd, args).is_ok())
}

/// AUTH and HELLO AUTH: checks the credentials (Redis's
/// `ACLAuthenticateUser`); on success the connection is that user's, on
/// failure the attempt is logged.
pub fn authenticate(ctx: &mut Ctx, user: &[u8], pass: &[u8]) -> bool {
    match ctx.shared.acl.user(user) {
        Some(u) if u.password_ok(pass) => {
            ctx.session.authenticated = true;
            ctx.session.set_user(u);
            true
        }
        _ => {
            log(ctx, Denied::Auth, b"AUTH", user);
            false
        }
    }
}

// ---- the ACL command ----

fn users_arc(ctx: &Ctx) -> Arc<Users> {
    ctx.shared.acl.users()
}

fn setuser_error(ctx: &mut Ctx, op: &[u8], why: &str) {
    let mut m = b"ERR Error in ACL SETUSER modifier '".to_vec();
    m.extend_from_slice(op);
    m.extend_from_slice(b"': ");
    m.extend_from_slice(why.as_bytes());
    ctx.reply(|out| encode::error_bytes(out, &m));
}

/// ACL SETUSER username [rule ...]: every rule applies to a copy, which
/// replaces the user only when all of them are valid.
fn acl_setuser(ctx: &mut Ctx) {
    let name = ctx.args.get(2);
    if has_spaces(name) {
        return ctx.error("ERR Usernames can't contain spaces or null characters");
    }
    let ops: Vec<&[u8]> = ctx.args.iter_from(3).collect();
    let ops = match merge_selectors(&ops) {
        Ok(ops) => ops,
        Err(open) => {
            let mut m = b"ERR Unmatched parenthesis in acl selector starting at '".to_vec();
            m.extend_from_slice(&open);
            m.extend_from_slice(b"'.");
            return ctx.reply(|out| encode::error_bytes(out, &m));
        }
    };
    let res = ctx.shared.acl.update(|users| {
        let mut u = match users.get(name) {
            Some(u) => User::clone(u),
            None => User::new(name, count()),
        };
        for op in &ops {
            set_user(&mut u, op).map_err(|why| (op.clone(), why))?;
        }
        users.insert(name.to_vec(), Arc::new(u));
        Ok(())
    });
    match res {
        Ok(()) => {
            ctx.reply(encode::ok);
            close_forbidden_subscribers(ctx, name);
        }
        Err((op, why)) => setuser_error(ctx, &op, why),
    }
}

/// Redis's `ACLKillPubsubClientsIfNeeded`: the connections of `name`
/// subscribed to a channel or pattern its new rules forbid are closed.
fn close_forbidden_subscribers(ctx: &mut Ctx, name: &[u8]) {
    let Some(u) = ctx.shared.acl.user(name) else {
        return;
    };
    let sels = || std::iter::once(&u.root).chain(u.selectors.iter());
    if sels().any(|s| s.all_channels) {
        return;
    }
    let me = ctx.session.client.id;
    for c in ctx.shared.registry.snapshot() {
        if !c.is_user(name) {
            continue;
        }
        let forbidden = ctx
            .shared
            .pubsub
            .subscriptions_of(c.id)
            .iter()
            .any(|(kind, ch)| {
                let pattern = *kind == crate::pubsub::Kind::Pattern;
                !sels().any(|s| s.channel_ok(ch, pattern))
            });
        if forbidden {
            if c.id == me {
                ctx.session.close = true;
            } else {
                ctx.shared.registry.kill(&c);
            }
        }
    }
}

/// ACL DELUSER username [username ...]: their connections are closed.
fn acl_deluser(ctx: &mut Ctx) {
    let names: Vec<&[u8]> = ctx.args.iter_from(2).collect();
    if names.iter().any(|n| *n == b"default") {
        return ctx.error("ERR The 'default' user cannot be removed");
    }
    let removed = ctx
        .shared
        .acl
        .update(|users| {
            let mut gone = Vec::new();
            for n in &names {
                if let Some(u) = users.remove(*n) {
                    gone.push(u.name.clone());
                }
            }
            Ok::<_, ()>(gone)
        })
        .unwrap_or_default();
    let me = ctx.session.client.id;
    for c in ctx.shared.registry.snapshot() {
        let user = c.names().user.clone();
        if removed.contains(&user) {
            if c.id == me {
                ctx.session.close = true;
            } else {
                ctx.shared.registry.kill(&c);
            }
        }
    }
    let n = removed.len() as i64;
    ctx.reply(|out| encode::int(out, n));
}

/// ACL GETUSER username: Redis 7.0's map.
fn acl_getuser(ctx: &mut Ctx) {
    let resp3 = ctx.resp3();
    let Some(u) = ctx.shared.acl.user(ctx.args.get(2)) else {
        return ctx.reply(|out| encode::null(out, resp3));
    };
    let sel_fields = |out: &mut Vec<u8>, s: &Selector| {
        let mut buf = Vec::new();
        encode::bulk(out, b"commands");
        describe_commands(s, &mut buf);
        encode::bulk(out, &buf);
        buf.clear();
        encode::bulk(out, b"keys");
        describe_keys(s, &mut buf);
        buf.pop();
        encode::bulk(out, &buf);
        buf.clear();
        encode::bulk(out, b"channels");
        describe_channels(s, &mut buf, false);
        buf.pop();
        encode::bulk(out, &buf);
    };
    ctx.reply(|out| {
        encode::map(out, 6, resp3);
        encode::bulk(out, b"flags");
        let flags = flag_names(&u);
        encode::set(out, flags.len(), resp3);
        for f in flags {
            encode::bulk(out, f.as_bytes());
        }
        encode::bulk(out, b"passwords");
        encode::array(out, u.passwords.len());
        for p in &u.passwords {
            encode::bulk(out, p);
        }
        sel_fields(out, &u.root);
        encode::bulk(out, b"selectors");
        encode::array(out, u.selectors.len());
        for s in &u.selectors {
            encode::map(out, 3, resp3);
            sel_fields(out, s);
        }
    });
}

/// ACL LIST
fn acl_list(ctx: &mut Ctx) {
    let users = users_arc(ctx);
    let lines: Vec<Vec<u8>> = users
        .values()
        .map(|u| {
            let mut l = b"user ".to_vec();
            l.extend_from_slice(&u.name);
            l.push(b' ');
            describe_user(u, &mut l);
            l
        })
        .collect();
    ctx.reply(|out| {
        encode::array(out, lines.len());
        for l in &lines {
            encode::bulk(out, l);
        }
    });
}

/// ACL USERS
fn acl_users(ctx: &mut Ctx) {
    let users = users_arc(ctx);
    ctx.reply(|out| {
        encode::array(out, users.len());
        for n in users.keys() {
            encode::bulk(out, n);
        }
    });
}

/// ACL WHOAMI
fn acl_whoami(ctx: &mut Ctx) {
    let name = ctx.session.user.name.clone();
    ctx.reply(|out| encode::bulk(out, &name));
}

/// ACL CAT [category]: the categories, or a category's commands (and
/// subcommands).
fn acl_cat(ctx: &mut Ctx) {
    if ctx.args.len() == 2 {
        return ctx.reply(|out| {
            encode::array(out, CATEGORIES.len());
            for c in CATEGORIES {
                encode::bulk(out, c.as_bytes());
            }
        });
    }
    let Some(cat) = category(ctx.args.get(2)) else {
        let mut m = b"ERR Unknown category '".to_vec();
        m.extend_from_slice(ctx.args.get(2));
        m.push(b'\'');
        return ctx.reply(|out| encode::error_bytes(out, &m));
    };
    let names: Vec<&str> = table()
        .all
        .iter()
        .filter(|c| c.acl.contains(&cat))
        .map(|c| c.name)
        .collect();
    ctx.reply(|out| {
        encode::array(out, names.len());
        for n in names {
            encode::bulk(out, n.as_bytes());
        }
    });
}

/// ACL GENPASS [bits]: random hex digits, bits/4 of them rounded up.
fn acl_genpass(ctx: &mut Ctx) {
    let bits =
        if ctx.args.len() == 3 {
            match parse_int(ctx.args.get(2)) {
                None => return ctx.not_integer(),
                Some(b @ 1..=4096) => b as usize,
                Some(_) => return ctx.error(
                    "ERR ACL GENPASS argument must be the number of bits for the output password, \
                     a positive number up to 4096",
                ),
            }
        } else {
            256
        };
    let chars = bits.div_ceil(4);
    let mut raw = vec![0u8; chars.div_ceil(2)];
    random_bytes(&mut raw);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex: Vec<u8> = raw
        .iter()
        .flat_map(|b| [HEX[(b >> 4) as usize], HEX[(b & 15) as usize]])
        .collect();
    hex.truncate(chars);
    ctx.reply(|out| encode::bulk(out, &hex));
}

/// Bytes from the kernel's generator (`/dev/urandom`), falling back to a
/// hash of the clock should it be unreadable.
fn random_bytes(out: &mut [u8]) {
    use std::io::Read;
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(out))
        .is_ok()
    {
        return;
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut block = crate::acl::sha256(&seed.to_le_bytes());
    for chunk in out.chunks_mut(32) {
        chunk.copy_from_slice(&block[..chunk.len()]);
        block = crate::acl::sha256(&block);
    }
}

/// ACL LOG [count | RESET]
fn acl_log(ctx: &mut Ctx) {
    let mut n = 10usize;
    if ctx.args.len() == 3 {
        let a = ctx.args.get(2);
        if a.eq_ignore_ascii_case(b"reset") {
            ctx.shared.acl.log_reset();
            return ctx.reply(encode::ok);
        }
        match parse_int(a) {
            Some(v) => n = v.max(0) as usize,
            None => return ctx.not_integer(),
        }
    } else if ctx.args.len() > 3 {
        let mut m = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
        m.extend_from_slice(ctx.args.get(1));
        m.extend_from_slice(b"'. Try ACL HELP.");
        return ctx.reply(|out| encode::error_bytes(out, &m));
    }
    let entries = ctx.shared.acl.log_entries(n);
    let (resp3, now) = (ctx.resp3(), ctx.now_ms);
    ctx.reply(|out| {
        encode::array(out, entries.len());
        for e in &entries {
            encode::map(out, 7, resp3);
            encode::bulk(out, b"count");
            encode::int(out, e.count as i64);
            encode::bulk(out, b"reason");
            encode::bulk(out, e.reason.reason().as_bytes());
            encode::bulk(out, b"context");
            encode::bulk(out, e.context.as_bytes());
            encode::bulk(out, b"object");
            encode::bulk(out, &e.object);
            encode::bulk(out, b"username");
            encode::bulk(out, &e.username);
            encode::bulk(out, b"age-seconds");
            encode::double(out, now.saturating_sub(e.ms) as f64 / 1000.0, resp3);
            encode::bulk(out, b"client-info");
            encode::bulk(out, &e.client_info);
        }
    });
}

/// ACL DRYRUN username command [arg ...]
fn acl_dryrun(ctx: &mut Ctx) {
    let Some(u) = ctx.shared.acl.user(ctx.args.get(2)) else {
        let mut m = b"ERR User '".to_vec();
        m.extend_from_slice(ctx.args.get(2));
        m.extend_from_slice(b"' not found");
        return ctx.reply(|out| encode::error_bytes(out, &m));
    };
    let mut args = Args::default();
    for a in ctx.args.iter_from(3) {
        args.push(a);
    }
    let Some(cmd) = super::resolve(&args) else {
        let mut m = b"ERR Command '".to_vec();
        m.extend_from_slice(ctx.args.get(3));
        m.extend_from_slice(b"' not found");
        return ctx.reply(|out| encode::error_bytes(out, &m));
    };
    if !cmd.arity_ok(args.len()) {
        return ctx.arity_error(cmd.name);
    }
    match check(&u, cmd, &args) {
        Ok(()) => ctx.reply(encode::ok),
        Err((why, pos)) => {
            let text = denial_text(why, cmd, args.get(pos), true);
            ctx.reply(|out| encode::bulk(out, &text));
        }
    }
}

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may \
     want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming \
     you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// An I/O error as C's `strerror` words it (Rust appends the errno).
fn os_text(e: &std::io::Error) -> String {
    let t = e.to_string();
    match t.find(" (os error") {
        Some(i) => t[..i].to_string(),
        None => t,
    }
}

/// Redis's `ACLLoadFromFile`: the users of an ACL file (a `default` user
/// made afresh when the file has none), or the text of every error found.
fn parse_acl_file(path: &str, text: &str) -> Result<Users, String> {
    let mut users = Users::new();
    let mut errors = String::new();
    for (i, line) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = line.trim_matches([' ', '\t', '\r', '\n']);
        if line.is_empty() {
            continue;
        }
        // Split on single spaces, as Redis does (no quoting).
        let argv: Vec<&[u8]> = line.as_bytes().split(|&c| c == b' ').collect();
        if argv[0] != b"user" || argv.len() < 2 {
            errors.push_str(&format!(
                "{path}:{n} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = argv[1];
        if has_spaces(name) {
            errors.push_str(&format!(
                "'{path}:{n}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.contains_key(name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {n}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let mut u = User::new(name, count());
        match merge_selectors(&argv[2..]) {
            Err(_) => errors.push_str(&format!(
                "{path}:{n}: Unmatched parenthesis in selector definition."
            )),
            Ok(ops) => {
                let mut reported = false;
                for op in &ops {
                    let op = trim_op(op);
                    if let Err(why) = set_user(&mut u, op) {
                        // Unknown commands are named; of other errors
                        // only a line's first is told, as in Redis.
                        if why == UNKNOWN {
                            errors.push_str(&format!(
                                "{path}:{n}: Error in applying operation '{}': {why}. ",
                                String::from_utf8_lossy(op)
                            ));
                        } else if !reported {
                            errors.push_str(&format!("{path}:{n}: {why}. "));
                            reported = true;
                        }
                    }
                }
            }
        }
        users.insert(name.to_vec(), Arc::new(u));
    }
    if !errors.is_empty() {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        return Err(errors);
    }
    users
        .entry(b"default".to_vec())
        .or_insert_with(|| Arc::new(User::new_default(count())));
    Ok(users)
}

fn trim_op(op: &[u8]) -> &[u8] {
    let strip = |c: &u8| matches!(c, b'\t' | b'\r' | b'\n');
    let start = op.iter().position(|c| !strip(c)).unwrap_or(op.len());
    let end = op.iter().rposition(|c| !strip(c)).map_or(start, |e| e + 1);
    &op[start..end.max(start)]
}

/// Reads and parses the ACL file at `path`.
fn read_acl_file(path: &str) -> Result<Users, String> {
    let text = std::fs::read(path)
        .map_err(|e| format!("Error loading ACLs, opening file '{path}': {}", os_text(&e)))?;
    parse_acl_file(path, &String::from_utf8_lossy(&text))
}

/// At start: the users of `--aclfile` or of the `user` lines of the
/// configuration (Redis refuses both at once).
pub fn load_at_start(shared: &crate::shared::Shared) -> Result<(), String> {
    let c = &shared.config;
    if !c.aclfile.is_empty() && !c.user.is_empty() {
        return Err(
            "Configuring Redis with users defined in redis.conf and at the same setting \
                    an ACL file path is invalid. This setup is very likely to lead to \
                    configuration errors and security holes, please define either an ACL file \
                    or declare users directly in your redis.conf, but not both."
                .into(),
        );
    }
    if !c.aclfile.is_empty() {
        let users = read_acl_file(&c.aclfile)
            .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
        return shared.acl.update(|u| {
            *u = users;
            Ok(())
        });
    }
    let mut seen: Vec<Vec<u8>> = Vec::new();
    for line in &c.user {
        let words: Vec<&[u8]> = line
            .as_bytes()
            .split(|c| c.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
            .collect();
        let Some((name, rules)) = words.split_first() else {
            return Err("a user line needs a username".into());
        };
        let rules = merge_selectors(rules).map_err(|open| {
            format!(
                "Unmatched parenthesis in acl selector starting at '{}'.",
                String::from_utf8_lossy(&open)
            )
        })?;
        shared.acl.update(|users| {
            let mut u = match users.get(*name) {
                // The default user is defined again from scratch.
                Some(u) if *name == b"default" && !seen.iter().any(|s| s == name) => {
                    let mut u = User::clone(u);
                    let _ = set_user(&mut u, b"reset");
                    u
                }
                Some(_) => {
                    return Err("Duplicate user found. A user can only be defined once in \
                                config files"
                        .to_string())
                }
                None => User::new(name, count()),
            };
            seen.push(name.to_vec());
            for op in &rules {
                set_user(&mut u, op).map_err(|why| {
                    format!(
                        "Error in user declaration '{}': {why}",
                        String::from_utf8_lossy(name)
                    )
                })?;
            }
            users.insert(name.to_vec(), Arc::new(u));
            Ok(())
        })?;
    }
    Ok(())
}

/// ACL LOAD: the file's users replace every user, or nothing changes. The
/// connections of users other than `default` are closed, as Redis frees
/// every old user.
fn acl_load(ctx: &mut Ctx) {
    let path = ctx.shared.config.aclfile.clone();
    if path.is_empty() {
        return ctx.error(NO_ACLFILE);
    }
    let users = match read_acl_file(&path) {
        Ok(u) => u,
        Err(e) => return ctx.error(&format!("ERR {e}")),
    };
    let _ = ctx.shared.acl.update(|u| {
        *u = users;
        Ok::<(), ()>(())
    });
    let me = ctx.session.client.id;
    for c in ctx.shared.registry.snapshot() {
        if c.is_user(b"default") {
            continue;
        }
        if c.id == me {
            ctx.session.close = true;
        } else {
            ctx.shared.registry.kill(&c);
        }
    }
    ctx.reply(encode::ok);
}

/// ACL SAVE: every user as ACL LIST shows it, written to a temporary file
/// that replaces the ACL file once on disk.
fn acl_save(ctx: &mut Ctx) {
    let path = ctx.shared.config.aclfile.clone();
    if path.is_empty() {
        return ctx.error(NO_ACLFILE);
    }
    let mut text = Vec::new();
    for u in users_arc(ctx).values() {
        text.extend_from_slice(b"user ");
        text.extend_from_slice(&u.name);
        text.push(b' ');
        describe_user(u, &mut text);
        text.push(b'\n');
    }
    let tmp = format!("{path}.tmp-{}-{}", std::process::id(), ctx.now_ms);
    let written = (|| -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    match written {
        Ok(()) => ctx.reply(encode::ok),
        Err(e) => {
            tracing::warn!("ACL SAVE to {path}: {e}");
            let _ = std::fs::remove_file(&tmp);
            ctx.error(
                "ERR There was an error trying to save the ACLs. Please check the server logs \
                 for more information",
            );
        }
    }
}

fn acl_help(ctx: &mut Ctx) {
    ctx.reply_lines(&[
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
    ]);
}

const ADMIN_ACL: &[&str] = &["admin", "slow", "dangerous"];
const NSLS: u32 = NOSCRIPT | LOADING | STALE | LOCAL;

/// The ACL command.
pub(super) static COMMANDS: &[Command] = &[Command::new("acl", -2, container)
    .flags(LOCAL)
    .acl(&["slow"])
    .subs(ACL_SUBS)
    .doc(
        "server",
        "6.0.0",
        "A container for Access List Control commands ",
        "Depends on subcommand.",
    )];

static ACL_SUBS: &[Command] = &[
    Command::new("acl|cat", -2, acl_cat)
        .flags(NSLS)
        .acl(&["slow"])
        .doc(
            "server",
            "6.0.0",
            "List the ACL categories or the commands inside a category",
            "O(1) since the categories and commands are a fixed set.",
        ),
    Command::new("acl|deluser", -3, acl_deluser)
        .flags(ADMIN | NSLS)
        .acl(ADMIN_ACL)
        .doc(
            "server",
            "6.0.0",
            "Remove the specified ACL users and the associated rules",
            "O(1) amortized time considering the typical user.",
        ),
    Command::new("acl|dryrun", -4, acl_dryrun)
        .flags(ADMIN | NSLS)
        .acl(ADMIN_ACL)
        .doc(
            "server",
            "7.0.0",
            "Returns whether the user can execute the given command without executing the command.",
            "O(1).",
        ),
    Command::new("acl|genpass", -2, acl_genpass)
        .flags(NSLS)
        .acl(&["slow"])
        .doc(
            "server",
            "6.0.0",
            "Generate a pseudorandom secure password to use for ACL users",
            "O(1)",
        ),
    Command::new("acl|getuser", 3, acl_getuser)
        .flags(ADMIN | NSLS)
        .acl(ADMIN_ACL)
        .doc(
            "server",
            "6.0.0",
            "Get the rules for a specific ACL user",
            "O(N). Where N is the number of password, command and pattern rules that the user has.",
        ),
    Command::new("acl|help", 2, acl_help)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow"])
        .doc(
            "server",
            "6.0.0",
            "Show helpful text about the different subcommands",
            "O(1)",
        ),
    Command::new("acl|list", 2, acl_list)
        .flags(ADMIN | NSLS)
        .acl(ADMIN_ACL)
        .doc(
            "server",
            "6.0.0",
            "List the current ACL rules in ACL config file format",
            "O(N). Where N is the number of configured users.",
        ),
    Command::new("acl|load", 2, acl_load)
        .flags(ADMIN | NSLS)
        .acl(ADMIN_ACL)
        .doc(
            "server",
            "6.0.0",
            "Reload the ACLs from the configured ACL file",
            "O(N). Where N is the number of configured users.",
        ),
    Command::new("acl|log", -2, acl_log)
        .flags(ADMIN | NSLS)
        .acl(ADMIN_ACL)
        .doc(
            "server",
            "6.0.0",
            "List latest events denied because of ACLs in place",
            "O(N) with N being the number of entries shown.",
        ),
    Command::new("acl|save", 2, acl_save)
        .flags(ADMIN | NSLS)
        .acl(ADMIN_ACL)
        .doc(
            "server",
            "6.0.0",
            "Save the current ACL rules in the configured ACL file",
            "O(N). Where N is the number of configured users.",
        ),
    Command::new("acl|setuser", -3, acl_setuser)
        .flags(ADMIN | NSLS)
        .acl(ADMIN_ACL)
        .doc(
            "server",
            "6.0.0",
            "Modify or create the rules for a specific ACL user",
            "O(N). Where N is the number of rules provided.",
        ),
    Command::new("acl|users", 2, acl_users)
        .flags(ADMIN | NSLS)
        .acl(ADMIN_ACL)
        .doc(
            "server",
            "6.0.0",
            "List the username of all the configured ACL rules",
            "O(N). Where N is the number of configured users.",
        ),
    Command::new("acl|whoami", 2, acl_whoami)
        .flags(NSLS)
        .acl(&["slow"])
        .doc(
            "server",
            "6.0.0",
            "Return the name of the user associated to the current connection",
            "O(1)",
        ),
];
