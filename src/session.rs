//! Per-connection state commands read and change (Redis's `client`
//! struct, minus the buffers the worker owns).

use crate::clients::{Activity, Client};
use crate::exchange::reply_flags;
use crate::resp::Args;
use crate::shared::Shared;
use std::sync::Arc;

/// CLIENT REPLY's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    /// Every reply is sent.
    On,
    /// No reply is sent.
    Off,
    /// The next command's reply is not sent.
    SkipNext,
}

/// A transaction being queued.
#[derive(Debug, Default)]
pub struct Multi {
    /// The queued commands, in order.
    pub cmds: Vec<Args>,
    /// A queued command was refused (unknown, wrong arity): EXEC aborts.
    pub aborted: bool,
}

/// Per-connection state a command may read or change.
#[derive(Debug)]
pub struct Session {
    /// CLIENT ID: unique for the server's life.
    pub id: u64,
    /// Selected database.
    pub db: u8,
    /// Set when the connection must close once its replies are written.
    pub close: bool,
    /// Protocol version: 2, or 3 after `HELLO 3`.
    pub resp: u8,
    /// AUTH passed, or no password was required when the connection opened
    /// (Redis's `c->authenticated`).
    pub authenticated: bool,
    /// CLIENT REPLY.
    pub reply: ReplyMode,
    /// CLIENT NO-EVICT (shown in CLIENT LIST; shardcache never evicts clients).
    pub no_evict: bool,
    /// The last command's id + 1, 0 for none (CLIENT LIST's `cmd=`).
    pub last_cmd: u32,
    /// This connection's row in the client registry.
    pub client: Arc<Client>,
    /// The transaction being queued, between MULTI and EXEC/DISCARD.
    pub multi: Option<Box<Multi>>,
    /// Shards holding a WATCH of this connection.
    pub watched: Vec<u16>,
    /// EXEC is dispatching the queued commands (checked as a whole before).
    pub executing: bool,
    /// CLIENT NO-TOUCH: its commands leave the keys' LRU alone.
    pub no_touch: bool,
    /// In MONITOR mode: it is sent every command the server runs.
    pub monitor: bool,
    /// The wait of a blocking command that found nothing (see `blocking`).
    pub block: Option<Box<crate::blocking::BlockWait>>,
    /// Its pub/sub subscriptions.
    pub pubsub: crate::pubsub::Subscriptions,
    /// CLIENT TRACKING's state (None: off).
    pub tracking: Option<Box<crate::tracking::State>>,
    /// The user it runs as (Redis's `c->user`), as of `acl_seen`.
    pub user: Arc<crate::acl::User>,
    /// The ACL generation `user` was looked up at.
    pub acl_seen: u64,
    /// The ACL generation at which `user` was found to may run anything;
    /// dispatch skips the ACL check while it equals the current one.
    pub acl_free: u64,
    /// For a script's session: the client that runs the script (ACL LOG
    /// shows it).
    pub script_caller: Option<Arc<Client>>,
}

impl Default for Session {
    /// A RESP2 session of a server without a password, in no registry.
    fn default() -> Self {
        let user = crate::acl::Acl::new(0, b"").default_user();
        Session::with_client(Arc::new(Client::detached()), true, user)
    }
}

impl Session {
    /// The session of a new connection whose registry row is `client`.
    pub fn new(client: Arc<Client>, shared: &Shared) -> Session {
        Session::with_client(client, !shared.auth_required(), shared.acl.default_user())
    }

    fn with_client(
        client: Arc<Client>,
        authenticated: bool,
        user: Arc<crate::acl::User>,
    ) -> Session {
        Session {
            id: client.id,
            db: 0,
            close: false,
            resp: 2,
            authenticated,
            reply: ReplyMode::On,
            no_evict: false,
            last_cmd: 0,
            client,
            multi: None,
            watched: Vec::new(),
            executing: false,
            no_touch: false,
            monitor: false,
            block: None,
            pubsub: Default::default(),
            tracking: None,
            user,
            acl_seen: 0,
            acl_free: 0,
            script_caller: None,
        }
    }

    /// Runs as `user` from now on (AUTH, HELLO AUTH, RESET); CLIENT LIST
    /// shows it.
    pub fn set_user(&mut self, user: Arc<crate::acl::User>) {
        let mut names = self.client.names();
        names.user.clear();
        names.user.extend_from_slice(&user.name);
        drop(names);
        self.user = user;
        self.acl_seen = 0;
        self.acl_free = 0;
    }

    /// RESET: back to the state of a new connection (db 0, RESP2, no name,
    /// replies on, unauthenticated when a password is set, no transaction).
    /// Every piece of per-connection state that RESET clears is cleared
    /// here; the WATCHes are forgotten by the RESET command (they live in shards).
    pub fn reset(&mut self, shared: &Shared) {
        self.db = 0;
        self.resp = 2;
        self.authenticated = !shared.auth_required();
        self.set_user(shared.acl.default_user());
        self.reply = ReplyMode::On;
        self.client.names().name.clear();
        self.multi = None;
        self.leave_pubsub(shared);
        // Redis 7.2's RESET clears CLIENT NO-TOUCH.
        self.no_touch = false;
    }

    /// This connection as the pub/sub table names it.
    pub fn subscriber(&self) -> crate::pubsub::Subscriber {
        crate::pubsub::Subscriber {
            worker: self.client.worker as u32,
            token: self.client.token as u32,
            id: self.id,
        }
    }

    /// True in Redis's RESP2 subscribed mode, where only the (P|S)(UN)SUBSCRIBE
    /// commands, PING, QUIT and RESET may run.
    #[inline]
    pub fn subscribed_resp2(&self) -> bool {
        self.resp == 2 && !self.pubsub.is_empty()
    }

    /// Drops every subscription, without telling the client (RESET, close).
    pub fn leave_pubsub(&mut self, shared: &Shared) {
        if !self.pubsub.is_empty() {
            let me = self.subscriber();
            shared.pubsub.remove_all(me, &mut self.pubsub);
        }
    }

    /// Records that `shard` holds a WATCH of this connection.
    pub fn note_watch(&mut self, shard: usize) {
        if !self.watched.contains(&(shard as u16)) {
            self.watched.push(shard as u16);
        }
    }

    /// The shards that hold this connection's WATCHes, forgotten here.
    pub fn take_watched_shards(&mut self) -> impl Iterator<Item = usize> {
        std::mem::take(&mut self.watched)
            .into_iter()
            .map(usize::from)
    }

    /// The `exchange::reply_flags` for this connection's next reply.
    #[inline]
    pub fn reply_flags(&self) -> u8 {
        let resp3 = (self.resp == 3) as u8 * reply_flags::RESP3;
        let silent = (self.reply != ReplyMode::On) as u8 * reply_flags::SILENT;
        resp3 | silent
    }

    /// Publishes what CLIENT LIST shows of this connection; buffer figures
    /// come from the worker (`None`: keep the last ones).
    pub fn publish(&self, now_ms: u64, bufs: Option<(u32, u32, u64)>) {
        let (qbuf, rbs, mem) = bufs.unwrap_or_else(|| {
            let last = self.client.activity();
            (last.qbuf, last.rbs, last.mem)
        });
        self.client.publish(&Activity {
            last_cmd: self.last_cmd,
            db: self.db,
            resp: self.resp,
            no_evict: self.no_evict,
            no_touch: self.no_touch,
            monitor: self.monitor,
            subs: [
                self.pubsub.channels.len(),
                self.pubsub.patterns.len(),
                self.pubsub.shard.len(),
            ]
            .map(|n| n.min(u32::MAX as usize) as u32),
            last_ms: now_ms,
            qbuf,
            rbs,
            mem,
            redir: self.tracking.as_ref().map_or(-1, |t| t.redirect as i64),
            bcast: self.tracking.as_ref().is_some_and(|t| t.bcast),
            broken: self.tracking.as_ref().is_some_and(|t| t.broken),
        });
    }
}
