//! ACL state (Redis's acl.c): the users, what each may run and touch, and
//! the log of refusals. Rules are parsed and commands checked against the
//! command table in `commands::acl`; this module is plain state.
//!
//! The user table is read on every command of a restricted user and
//! changed only by ACL SETUSER / DELUSER / CONFIG SET requirepass, so it is
//! an immutable snapshot (`Arc<Users>`) replaced whole on each change.
//! Connections keep an `Arc<User>` and a generation number; they look the
//! user up again only when `Acl::gen` moved, so a command costs one atomic
//! load and never a lock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The ACL categories, in Redis's order (ACL CAT lists them so).
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// A key pattern may be read (`%R~`).
pub const KEY_READ: u8 = 1;
/// A key pattern may be written (`%W~`).
pub const KEY_WRITE: u8 = 2;
/// Both (`~`).
pub const KEY_ALL: u8 = KEY_READ | KEY_WRITE;

/// One set of permissions: the user's root one, or a selector in
/// parentheses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// Allowed command ids (commands and subcommands), one bit each.
    pub allowed: Vec<u64>,
    /// Every command, with nothing taken away since (`+@all`): the check
    /// skips the bitmap.
    pub all_commands: bool,
    /// The last of `+@all` / `-@all` was `+@all` (Redis's reserved bit for
    /// commands added later): ACL LIST starts from `+@all` then.
    pub future: bool,
    /// `+cmd|arg` for a command without subcommands: the first arguments
    /// allowed while the command itself is not, by command id.
    pub first_args: Vec<(u32, Vec<Vec<u8>>)>,
    /// `allkeys`.
    pub all_keys: bool,
    /// Key patterns with their `KEY_*` permission.
    pub keys: Vec<(u8, Vec<u8>)>,
    /// `allchannels`.
    pub all_channels: bool,
    /// Channel patterns.
    pub channels: Vec<Vec<u8>>,
}

impl Selector {
    /// A selector that allows nothing, for a table of `commands` ids.
    pub fn new(commands: usize) -> Selector {
        Selector {
            allowed: vec![0; commands.div_ceil(64)],
            ..Selector::default()
        }
    }

    /// Whether command `id`'s bit is set.
    #[inline]
    pub fn bit(&self, id: usize) -> bool {
        self.allowed
            .get(id / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    /// Sets or clears command `id`'s bit; clearing one ends `all_commands`.
    pub fn set_bit(&mut self, id: usize, on: bool) {
        if let Some(w) = self.allowed.get_mut(id / 64) {
            if on {
                *w |= 1 << (id % 64);
            } else {
                *w &= !(1 << (id % 64));
                self.all_commands = false;
            }
        }
    }

    /// Whether this selector lets `key` be accessed with `need` (`KEY_*`).
    pub fn key_ok(&self, key: &[u8], need: u8) -> bool {
        self.all_keys
            || self
                .keys
                .iter()
                .any(|(f, p)| f & need == need && shards::glob::matches(p, key, false))
    }

    /// Whether this selector lets `channel` be used; a pattern (PSUBSCRIBE)
    /// must equal one of the selector's patterns.
    pub fn channel_ok(&self, channel: &[u8], pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if pattern {
                    p == channel
                } else {
                    shards::glob::matches(p, channel, false)
                }
            })
    }

    /// True when nothing is refused: every command, key and channel.
    pub fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its name.
    pub name: Vec<u8>,
    /// `on` (else `off`: no one can authenticate as it).
    pub enabled: bool,
    /// `nopass`: any password authenticates.
    pub nopass: bool,
    /// `sanitize-payload` / `skip-sanitize-payload` (kept and shown only).
    pub sanitize: Option<bool>,
    /// SHA-256 hashes of its passwords, as 64 lowercase hex digits.
    pub passwords: Vec<[u8; 64]>,
    /// The root permissions.
    pub root: Selector,
    /// The selectors in parentheses: a command runs when the root or one
    /// of them allows it.
    pub selectors: Vec<Selector>,
}

impl User {
    /// A new user as Redis creates one: off, no password, nothing allowed.
    pub fn new(name: &[u8], commands: usize) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            root: Selector::new(commands),
            selectors: Vec::new(),
        }
    }

    /// Redis's `default` user as it is created: `on nopass ~* &* +@all`.
    pub fn new_default(commands: usize) -> User {
        let mut d = User::new(b"default", commands);
        d.enabled = true;
        d.nopass = true;
        d.root.allowed.iter_mut().for_each(|w| *w = u64::MAX);
        d.root.all_commands = true;
        d.root.future = true;
        d.root.all_keys = true;
        d.root.all_channels = true;
        d
    }

    /// True when its commands need no check at all.
    pub fn unrestricted(&self) -> bool {
        self.root.unrestricted()
    }

    /// Redis's `ACLCheckUserCredentials` once the user is found.
    pub fn password_ok(&self, pass: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let hashed = hash_password(pass);
        // Compare every hash fully, so the time taken says nothing.
        self.passwords
            .iter()
            .fold(false, |ok, p| ok | constant_eq(p, &hashed))
    }
}

fn constant_eq(a: &[u8; 64], b: &[u8; 64]) -> bool {
    a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Users by name, in byte order (as ACL USERS and ACL LIST list them).
pub type Users = BTreeMap<Vec<u8>, Arc<User>>;

/// Why a command was refused (ACL LOG's `reason`), in Redis's order of
/// precedence when selectors disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    /// The command.
    Command,
    /// A key.
    Key,
    /// AUTH failed.
    Auth,
    /// A channel.
    Channel,
}

impl Denied {
    /// ACL LOG's `reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Denied::Command => "command",
            Denied::Key => "key",
            Denied::Auth => "auth",
            Denied::Channel => "channel",
        }
    }
}

/// One ACL LOG entry.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// Times this refusal happened (similar ones within a minute merge).
    pub count: u64,
    /// Why.
    pub reason: Denied,
    /// `toplevel`, `multi` or `lua`.
    pub context: &'static str,
    /// The command, key, channel or `AUTH`.
    pub object: Vec<u8>,
    /// The user.
    pub username: Vec<u8>,
    /// Unix ms of the latest occurrence.
    pub ms: u64,
    /// CLIENT INFO of the latest client.
    pub client_info: Vec<u8>,
}

/// Entries ACL LOG keeps (Redis's `acllog-max-len` default).
pub const LOG_MAX: usize = 128;

/// The server's users and ACL log.
#[derive(Debug)]
pub struct Acl {
    users: Mutex<Arc<Users>>,
    /// Moves on every change of a user; connections compare it with the
    /// generation of the user they hold. Alone on its cache line: every
    /// command reads it.
    gen: Padded,
    /// The default user needs a password, or is off (Redis's `authRequired`).
    auth_required: AtomicBool,
    /// Newest first.
    log: Mutex<Vec<LogEntry>>,
}

#[derive(Debug)]
#[repr(align(128))]
struct Padded(AtomicU64);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Acl {
    /// The table with Redis's `default` user (`on nopass ~* &* +@all`, or
    /// with `requirepass`'s password), for `commands` command ids.
    pub fn new(commands: usize, requirepass: &[u8]) -> Acl {
        let mut d = User::new_default(commands);
        set_default_password(&mut d, requirepass);
        let auth = !d.nopass;
        let mut users = Users::new();
        users.insert(d.name.clone(), Arc::new(d));
        Acl {
            users: Mutex::new(Arc::new(users)),
            gen: Padded(AtomicU64::new(1)),
            auth_required: AtomicBool::new(auth),
            log: Mutex::new(Vec::new()),
        }
    }

    /// The current generation (see `gen`).
    #[inline]
    pub fn gen(&self) -> u64 {
        self.gen.0.load(Ordering::Acquire)
    }

    /// True when connections must authenticate before most commands.
    #[inline]
    pub fn auth_required(&self) -> bool {
        self.auth_required.load(Ordering::Relaxed)
    }

    /// The current users.
    pub fn users(&self) -> Arc<Users> {
        lock(&self.users).clone()
    }

    /// The user named `name`.
    pub fn user(&self, name: &[u8]) -> Option<Arc<User>> {
        lock(&self.users).get(name).cloned()
    }

    /// The `default` user.
    pub fn default_user(&self) -> Arc<User> {
        self.user(b"default")
            .expect("the default user is never removed")
    }

    /// Applies `change` to a copy of the table and installs the result
    /// (when `change` returns Ok), moving the generation.
    pub fn update<T, E>(&self, change: impl FnOnce(&mut Users) -> Result<T, E>) -> Result<T, E> {
        let mut cur = lock(&self.users);
        let mut next = Users::clone(&cur);
        let out = change(&mut next)?;
        if let Some(d) = next.get(&b"default"[..]) {
            self.auth_required
                .store(!d.nopass || !d.enabled, Ordering::Relaxed);
        }
        *cur = Arc::new(next);
        self.gen.0.fetch_add(1, Ordering::Release);
        Ok(out)
    }

    /// CONFIG SET requirepass: the default user's passwords become this
    /// one (`nopass` when empty), as Redis's `ACLUpdateDefaultUserPassword`.
    pub fn set_requirepass(&self, pass: &[u8]) {
        let _ = self.update(|users| {
            if let Some(d) = users.get_mut(&b"default"[..]) {
                set_default_password(Arc::make_mut(d), pass);
            }
            Ok::<(), ()>(())
        });
    }

    /// Records a refusal: merged into a similar entry less than a minute
    /// old (moved to the front), else a new first entry.
    pub fn log(&self, mut e: LogEntry) {
        let mut log = lock(&self.log);
        if let Some(i) = log.iter().position(|o| {
            o.reason == e.reason
                && o.context == e.context
                && o.object == e.object
                && o.username == e.username
                && e.ms.saturating_sub(o.ms) < 60_000
        }) {
            let old = log.remove(i);
            e.count = old.count + 1;
        }
        log.insert(0, e);
        log.truncate(LOG_MAX);
    }

    /// The first `n` log entries, newest first.
    pub fn log_entries(&self, n: usize) -> Vec<LogEntry> {
        lock(&self.log).iter().take(n).cloned().collect()
    }

    /// ACL LOG RESET.
    pub fn log_reset(&self) {
        lock(&self.log).clear();
    }
}

fn set_default_password(d: &mut User, pass: &[u8]) {
    d.passwords.clear();
    if pass.is_empty() {
        d.nopass = true;
    } else {
        d.nopass = false;
        d.passwords.push(hash_password(pass));
    }
}

/// A password's SHA-256 as 64 lowercase hex digits (Redis's `ACLHashPassword`).
pub fn hash_password(pass: &[u8]) -> [u8; 64] {
    let digest = sha256(pass);
    let mut out = [0u8; 64];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    out
}

/// SHA-256 (FIPS 180-4), for password hashes only: a few per AUTH.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, c) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, v) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(v);
        }
    }
    let mut out = [0u8; 32];
    for (i, v) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_vectors() {
        assert_eq!(
            &hash_password(b""),
            b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // ACL LIST of Redis 7.0.15 after `>pw`.
        assert_eq!(
            &hash_password(b"pw"),
            b"30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(
            &hash_password(&long),
            b"41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
    }

    #[test]
    fn log_merges_similar_entries() {
        let acl = Acl::new(10, b"");
        let e = |obj: &[u8], ms| LogEntry {
            count: 1,
            reason: Denied::Command,
            context: "toplevel",
            object: obj.to_vec(),
            username: b"u".to_vec(),
            ms,
            client_info: Vec::new(),
        };
        acl.log(e(b"get", 0));
        acl.log(e(b"set", 1));
        acl.log(e(b"get", 2));
        let l = acl.log_entries(10);
        assert_eq!(l.len(), 2);
        assert_eq!((l[0].object.as_slice(), l[0].count), (&b"get"[..], 2));
        acl.log(e(b"get", 70_000));
        assert_eq!(acl.log_entries(10).len(), 3);
    }
}
