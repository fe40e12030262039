//! What a standalone Redis 7.0.15 without cluster support, modules or
//! replicas answers: READONLY, READWRITE, ASKING and every CLUSTER
//! subcommand refuse (`cluster support disabled`); MODULE LIST is empty and
//! LOAD / LOADEX / UNLOAD refuse as with `enable-module-command no`;
//! REPLICAOF / SLAVEOF NO ONE answer OK (a master already), FAILOVER checks
//! its arguments and finds no replica. shardcache has no replication:
//! REPLICAOF host port, SYNC, PSYNC and REPLCONF refuse with an error that
//! says so (Redis would start replicating).

use super::spec::{flags::*, Command};
use super::{c_str, container, parse_int, Ctx};
use crate::resp::encode;

/// Redis's reply to cluster commands when `cluster-enabled` is no.
fn cluster_disabled(ctx: &mut Ctx) {
    ctx.error("ERR This instance has cluster support disabled");
}

fn module_list(ctx: &mut Ctx) {
    ctx.reply(|o| encode::array(o, 0));
}

fn module_help(ctx: &mut Ctx) {
    ctx.reply_lines(&[
        "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LIST",
        "    Return a list of loaded modules.",
        "LOAD <path> [<arg> ...]",
        "    Load a module library from <path>, passing to it any optional arguments.",
        "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
        "    Load a module library from <path>, while passing it module configurations and optional arguments.",
        "UNLOAD <name>",
        "    Unload a module.",
        "HELP",
        "    Prints this help.",
    ]);
}

/// MODULE LOAD / LOADEX / UNLOAD: Redis 7.0's answer under its default
/// `enable-module-command no`; shardcache loads no modules.
fn module_refused(ctx: &mut Ctx) {
    ctx.error("ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.");
}

/// REPLICAOF / SLAVEOF host port: NO ONE is OK (this server is a master);
/// the port is checked as Redis checks it (`Invalid master port`), then
/// the request is refused: shardcache cannot replicate another server.
fn replicaof(ctx: &mut Ctx) {
    let (host, port) = (ctx.args.get(1), ctx.args.get(2));
    if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
        return ctx.reply(encode::ok);
    }
    if !parse_int(port).is_some_and(|p| (0..=65535).contains(&p)) {
        return ctx.error("ERR Invalid master port");
    }
    ctx.error(
        "ERR shardcache does not support replication: it cannot become a replica \
         (REPLICAOF NO ONE is accepted)",
    );
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]: the arguments as
/// Redis's `failoverCommand` parses them, then its answer for a master
/// without replicas.
fn failover(ctx: &mut Ctx) {
    let args = ctx.args;
    let n = args.len();
    if n == 2 && c_str(args.get(1)).eq_ignore_ascii_case(b"abort") {
        return ctx.error("ERR No failover in progress.");
    }
    let (mut timeout, mut force, mut to) = (false, false, false);
    let mut j = 1;
    while j < n {
        let a = c_str(args.get(j));
        if a.eq_ignore_ascii_case(b"timeout") && j + 1 < n && !timeout {
            let Some(t) = parse_int(args.get(j + 1)) else {
                return ctx.not_integer();
            };
            if t <= 0 {
                return ctx.error("ERR FAILOVER timeout must be greater than 0");
            }
            timeout = true;
            j += 2;
        } else if a.eq_ignore_ascii_case(b"to") && j + 2 < n && !to {
            if parse_int(args.get(j + 2)).is_none() {
                return ctx.not_integer();
            }
            to = true;
            j += 3;
        } else if a.eq_ignore_ascii_case(b"force") && !force {
            force = true;
            j += 1;
        } else {
            return ctx.syntax_error();
        }
    }
    ctx.error("ERR FAILOVER requires connected replicas.");
}

/// SYNC, PSYNC, REPLCONF: the replica side of replication, which
/// shardcache does not have (Redis would send a snapshot and its stream).
fn no_replication(ctx: &mut Ctx) {
    let name = ctx.cmd.name.to_ascii_uppercase();
    ctx.error(&format!(
        "ERR shardcache does not support replication: {name} is not available"
    ));
}

/// The cluster, module and replication commands.
pub(super) static COMMANDS: &[Command] = &[
    Command::new("readonly", 1, cluster_disabled)
        .flags(LOADING | STALE | FAST | LOCAL)
        .acl(&["fast", "connection"])
        .doc(
            "cluster",
            "3.0.0",
            "Enables read queries for a connection to a cluster replica node",
            "O(1)",
        ),
    Command::new("readwrite", 1, cluster_disabled)
        .flags(LOADING | STALE | FAST | LOCAL)
        .acl(&["fast", "connection"])
        .doc(
            "cluster",
            "3.0.0",
            "Disables read queries for a connection to a cluster replica node",
            "O(1)",
        ),
    Command::new("asking", 1, cluster_disabled)
        .flags(FAST | LOCAL)
        .acl(&["fast", "connection"])
        .doc(
            "cluster",
            "3.0.0",
            "Sent by cluster clients after an -ASK redirect",
            "O(1)",
        ),
    Command::new("replicaof", 3, replicaof)
        .flags(ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc(
            "server",
            "5.0.0",
            "Make the server a replica of another instance, or promote it as master.",
            "O(1)",
        ),
    Command::new("slaveof", 3, replicaof)
        .flags(ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc(
            "server",
            "1.0.0",
            "Make the server a replica of another instance, or promote it as master.",
            "O(1)",
        )
        .doc_flags(&["deprecated"])
        .deprecated("5.0.0", "`REPLICAOF`"),
    Command::new("failover", -1, failover)
        .flags(ADMIN | NOSCRIPT | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc(
            "server",
            "6.2.0",
            "Start a coordinated failover between this server and one of its replicas.",
            "O(1)",
        ),
    Command::new("sync", 1, no_replication)
        .flags(ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc(
            "server",
            "1.0.0",
            "Internal command used for replication",
            "",
        ),
    Command::new("psync", -3, no_replication)
        .flags(ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc(
            "server",
            "2.8.0",
            "Internal command used for replication",
            "",
        ),
    Command::new("replconf", -1, no_replication)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc(
            "server",
            "3.0.0",
            "An internal command for configuring the replication stream",
            "O(1)",
        )
        .doc_flags(&["syscmd"]),
    Command::new("module", -2, container)
        .flags(LOCAL)
        .acl(&["slow"])
        .subs(MODULE_SUBS)
        .doc(
            "server",
            "4.0.0",
            "A container for module commands",
            "Depends on subcommand.",
        ),
    Command::new("cluster", -2, container)
        .flags(LOCAL)
        .acl(&["slow"])
        .subs(CLUSTER_SUBS)
        .doc(
            "cluster",
            "3.0.0",
            "A container for cluster commands",
            "Depends on subcommand.",
        ),
];

static MODULE_SUBS: &[Command] = &[
    Command::new("module|help", 2, module_help)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow"])
        .doc(
            "server",
            "5.0.0",
            "Show helpful text about the different subcommands",
            "O(1)",
        ),
    Command::new("module|list", 2, module_list)
        .flags(ADMIN | NOSCRIPT | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .tips(&["nondeterministic_output_order"])
        .doc(
            "server",
            "4.0.0",
            "List all modules loaded by the server",
            "O(N) where N is the number of loaded modules.",
        ),
    Command::new("module|load", -3, module_refused)
        .flags(ADMIN | NOSCRIPT | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc("server", "4.0.0", "Load a module", "O(1)"),
    Command::new("module|loadex", -3, module_refused)
        .flags(ADMIN | NOSCRIPT | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc(
            "server",
            "7.0.0",
            "Load a module with extended parameters",
            "O(1)",
        ),
    Command::new("module|unload", 3, module_refused)
        .flags(ADMIN | NOSCRIPT | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc("server", "4.0.0", "Unload a module", "O(1)"),
];

static CLUSTER_SUBS: &[Command] = &[
    Command::new("cluster|addslots", -3, cluster_disabled)
        .flags(ADMIN | STALE | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc("cluster", "3.0.0", "Assign new hash slots to receiving node", "O(N) where N is the total number of hash slot arguments"),

    Command::new("cluster|addslotsrange", -4, cluster_disabled)
        .flags(ADMIN | STALE | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc("cluster", "7.0.0", "Assign new hash slots to receiving node", "O(N) where N is the total number of the slots between the start slot and end slot arguments."),

    Command::new("cluster|bumpepoch", 2, cluster_disabled)
        .flags(ADMIN | STALE | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .tips(&["nondeterministic_output"])
        .doc("cluster", "3.0.0", "Advance the cluster config epoch", "O(1)"),

    Command::new("cluster|count-failure-reports", 3, cluster_disabled)
        .flags(ADMIN | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .tips(&["nondeterministic_output"])
        .doc("cluster", "3.0.0", "Return the number of failure reports active for a given node", "O(N) where N is the number of failure reports"),

    Command::new("cluster|countkeysinslot", 3, cluster_disabled)
        .flags(STALE | LOCAL)
        .acl(&["slow"])
        .doc("cluster", "3.0.0", "Return the number of local keys in the specified hash slot", "O(1)"),

    Command::new("cluster|delslots", -3, cluster_disabled)
        .flags(ADMIN | STALE | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc("cluster", "3.0.0", "Set hash slots as unbound in receiving node", "O(N) where N is the total number of hash slot arguments"),

    Command::new("cluster|delslotsrange", -4, cluster_disabled)
        .flags(ADMIN | STALE | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc("cluster", "7.0.0", "Set hash slots as unbound in receiving node", "O(N) where N is the total number of the slots between the start slot and end slot arguments."),

    Command::new("cluster|failover", -2, cluster_disabled)
        .flags(ADMIN | STALE | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc("cluster", "3.0.0", "Forces a replica to perform a manual failover of its master.", "O(1)"),

    Command::new("cluster|flushslots", 2, cluster_disabled)
        .flags(ADMIN | STALE | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc("cluster", "3.0.0", "Delete a node's own slots information", "O(1)"),

    Command::new("cluster|forget", 3, cluster_disabled)
        .flags(ADMIN | STALE | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc("cluster", "3.0.0", "Remove a node from the nodes table", "O(1)"),

    Command::new("cluster|getkeysinslot", 4, cluster_disabled)
        .flags(STALE | LOCAL)
        .acl(&["slow"])
        .tips(&["nondeterministic_output"])
        .doc("cluster", "3.0.0", "Return local key names in the specified hash slot", "O(log(N)) where N is the number of requested keys"),

    Command::new("cluster|help", 2, cluster_disabled)
        .flags(LOADING | STALE | LOCAL)
        .acl(&["slow"])
        .doc("cluster", "5.0.0", "Show helpful text about the different subcommands", "O(1)"),

    Command::new("cluster|info", 2, cluster_disabled)
        .flags(STALE | LOCAL)
        .acl(&["slow"])
        .tips(&["nondeterministic_output"])
        .doc("cluster", "3.0.0", "Provides info about Redis Cluster node state", "O(1)"),

    Command::new("cluster|keyslot", 3, cluster_disabled)
        .flags(STALE | LOCAL)
        .acl(&["slow"])
        .doc("cluster", "3.0.0", "Returns the hash slot of the specified key", "O(N) where N is the number of bytes in the key"),

    Command::new("cluster|links", 2, cluster_disabled)
        .flags(STALE | LOCAL)
        .acl(&["slow"])
        .tips(&["nondeterministic_output"])
        .doc("cluster", "7.0.0", "Returns a list of all TCP links to and from peer nodes in cluster", "O(N) where N is the total number of Cluster nodes"),

    Command::new("cluster|meet", -4, cluster_disabled)
        .flags(ADMIN | STALE | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc("cluster", "3.0.0", "Force a node cluster to handshake with another node", "O(1)"),

    Command::new("cluster|myid", 2, cluster_disabled)
        .flags(STALE | LOCAL)
        .acl(&["slow"])
        .doc("cluster", "3.0.0", "Return the node id", "O(1)"),

    Command::new("cluster|nodes", 2, cluster_disabled)
        .flags(STALE | LOCAL)
        .acl(&["slow"])
        .tips(&["nondeterministic_output"])
        .doc("cluster", "3.0.0", "Get Cluster config for the node", "O(N) where N is the total number of Cluster nodes"),

    Command::new("cluster|replicas", 3, cluster_disabled)
        .flags(ADMIN | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .tips(&["nondeterministic_output"])
        .doc("cluster", "5.0.0", "List replica nodes of the specified master node", "O(1)"),

    Command::new("cluster|replicate", 3, cluster_disabled)
        .flags(ADMIN | STALE | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc("cluster", "3.0.0", "Reconfigure a node as a replica of the specified master node", "O(1)"),

    Command::new("cluster|reset", -2, cluster_disabled)
        .flags(ADMIN | NOSCRIPT | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc("cluster", "3.0.0", "Reset a Redis Cluster node", "O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect."),

    Command::new("cluster|saveconfig", 2, cluster_disabled)
        .flags(ADMIN | STALE | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc("cluster", "3.0.0", "Forces the node to save cluster state on disk", "O(1)"),

    Command::new("cluster|set-config-epoch", 3, cluster_disabled)
        .flags(ADMIN | STALE | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc("cluster", "3.0.0", "Set the configuration epoch in a new node", "O(1)"),

    Command::new("cluster|setslot", -4, cluster_disabled)
        .flags(ADMIN | STALE | NO_ASYNC_LOADING | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .doc("cluster", "3.0.0", "Bind a hash slot to a specific node", "O(1)"),

    Command::new("cluster|shards", 2, cluster_disabled)
        .flags(STALE | LOCAL)
        .acl(&["slow"])
        .tips(&["nondeterministic_output"])
        .doc("cluster", "7.0.0", "Get array of cluster slots to node mappings", "O(N) where N is the total number of cluster nodes"),

    Command::new("cluster|slaves", 3, cluster_disabled)
        .flags(ADMIN | STALE | LOCAL)
        .acl(&["admin", "slow", "dangerous"])
        .tips(&["nondeterministic_output"])
        .doc("cluster", "3.0.0", "List replica nodes of the specified master node", "O(1)")
        .doc_flags(&["deprecated"])
        .deprecated("5.0.0", "`CLUSTER REPLICAS`"),

    Command::new("cluster|slots", 2, cluster_disabled)
        .flags(STALE | LOCAL)
        .acl(&["slow"])
        .tips(&["nondeterministic_output"])
        .doc("cluster", "3.0.0", "Get array of Cluster slot to node mappings", "O(N) where N is the total number of Cluster nodes")
        .doc_flags(&["deprecated"])
        .deprecated("7.0.0", "`CLUSTER SHARDS`"),

];
