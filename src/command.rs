//! The command table: every command is declared once here, with its arity,
//! flags and key positions. The table drives lookup, arity errors, routing
//! and the `COMMAND` / `COMMAND DOCS` replies.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Which handler runs a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// PING [message]
    Ping,
    /// ECHO message
    Echo,
    /// QUIT
    Quit,
    /// GET key
    Get,
    /// SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT|KEEPTTL]
    Set,
    /// DEL key [key ...] (also DELETE, UNLINK)
    Del,
    /// EXISTS key [key ...]
    Exists,
    /// MGET key [key ...]
    MGet,
    /// MSET key value [key value ...]
    MSet,
    /// DBSIZE
    DbSize,
    /// FLUSHALL [ASYNC|SYNC]
    FlushAll,
    /// FLUSHDB [ASYNC|SYNC]
    FlushDb,
    /// SELECT index
    Select,
    /// INFO [section ...]
    Info,
    /// CONFIG GET|SET|RESETSTAT|HELP
    Config,
    /// COMMAND [COUNT|DOCS|INFO|LIST]
    Command,
    /// BGREWRITEAOF
    BgRewriteAof,
    /// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE]
    Shutdown,
    /// LATENCY HISTOGRAM|LATEST|RESET|HELP
    Latency,
    /// INCR key
    Incr,
    /// DECR key
    Decr,
    /// INCRBY key increment
    IncrBy,
    /// DECRBY key decrement
    DecrBy,
    /// INCRBYFLOAT key increment
    IncrByFloat,
    /// APPEND key value
    Append,
    /// STRLEN key
    Strlen,
    /// GETSET key value
    GetSet,
    /// GETDEL key
    GetDel,
    /// SETNX key value
    SetNx,
    /// SETEX key seconds value
    SetEx,
    /// PSETEX key milliseconds value
    PSetEx,
    /// GETRANGE key start end (also SUBSTR)
    GetRange,
    /// SETRANGE key offset value
    SetRange,
    /// TTL key
    Ttl,
    /// PTTL key
    PTtl,
    /// EXPIRETIME key
    ExpireTime,
    /// PEXPIRETIME key
    PExpireTime,
    /// EXPIRE key seconds [NX|XX|GT|LT]
    Expire,
    /// PEXPIRE key milliseconds [NX|XX|GT|LT]
    PExpire,
    /// EXPIREAT key unix-time-seconds [NX|XX|GT|LT]
    ExpireAt,
    /// PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT]
    PExpireAt,
    /// PERSIST key
    Persist,
    /// TYPE key
    Type,
    /// TOUCH key [key ...]
    Touch,
    /// MULTI
    Multi,
    /// EXEC
    Exec,
    /// DISCARD
    Discard,
    /// WATCH key [key ...]
    Watch,
    /// UNWATCH
    Unwatch,
    /// RENAME key newkey
    Rename,
    /// RENAMENX key newkey
    RenameNx,
    /// COPY source destination [DB destination-db] [REPLACE]
    Copy,
    /// SWAPDB index1 index2
    SwapDb,
    /// MSETNX key value [key value ...]
    MSetNx,
    /// KEYS pattern
    Keys,
    /// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
    Scan,
    /// RANDOMKEY
    RandomKey,
    /// GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]
    GetEx,
    /// GETBIT key offset
    GetBit,
    /// SETBIT key offset value
    SetBit,
    /// BITCOUNT key [start end [BYTE|BIT]]
    BitCount,
    /// BITPOS key bit [start [end [BYTE|BIT]]]
    BitPos,
    /// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
    Lcs,
    /// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ|HELP
    Object,
    /// MEMORY USAGE|HELP
    Memory,
    /// MOVE key db
    Move,
    /// AUTH [username] password
    Auth,
    /// HELLO [protover [AUTH username password] [SETNAME clientname]]
    Hello,
    /// CLIENT ID|INFO|LIST|KILL|SETNAME|GETNAME|SETINFO|NO-EVICT|REPLY|HELP
    Client,
    /// RESET
    Reset,
    /// TIME
    Time,
    /// LASTSAVE
    LastSave,
    /// FUNCTION LIST|FLUSH|HELP (no functions: there is no scripting)
    Function,
}

/// Command flags, Redis's names.
pub mod flags {
    /// Modifies data.
    pub const WRITE: u16 = 1;
    /// Only reads data.
    pub const READONLY: u16 = 2;
    /// Refused under `maxmemory` when nothing can be evicted.
    pub const DENYOOM: u16 = 4;
    /// O(1) or O(log N).
    pub const FAST: u16 = 8;
    /// Administrative.
    pub const ADMIN: u16 = 16;
    /// Allowed while loading.
    pub const LOADING: u16 = 32;
    /// Allowed on stale replicas.
    pub const STALE: u16 = 64;
    /// Not allowed in scripts.
    pub const NOSCRIPT: u16 = 128;
    /// Allowed before AUTH.
    pub const NO_AUTH: u16 = 256;

    /// Not logged by SLOWLOG (EXEC: its commands are).
    pub const SKIP_SLOWLOG: u16 = 512;
    /// Refused between MULTI and EXEC.
    pub const NO_MULTI: u16 = 1024;
    /// Refused while an async load runs.
    pub const NO_ASYNC_LOADING: u16 = 2048;
    /// Allowed while a script runs too long.
    pub const ALLOW_BUSY: u16 = 4096;

    /// Flag names in the order Redis 7.0's `COMMAND` lists them.
    pub const NAMES: [(u16, &str); 13] = [
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (NOSCRIPT, "noscript"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Redis 7.0's command tips (`COMMAND INFO`'s seventh field), for the
/// commands that have them.
pub fn tips(name: &str) -> &'static [&'static str] {
    match name {
        "command" => &["nondeterministic_output_order"],
        "dbsize" => &["request_policy:all_shards", "response_policy:agg_sum"],
        "del" | "exists" | "touch" | "unlink" => {
            &["request_policy:multi_shard", "response_policy:agg_sum"]
        }
        "flushall" | "flushdb" | "ping" => {
            &["request_policy:all_shards", "response_policy:all_succeeded"]
        }
        "info" => &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
        "keys" => &["request_policy:all_shards", "nondeterministic_output_order"],
        "lastsave" | "pttl" | "ttl" | "time" => &["nondeterministic_output"],
        "mget" => &["request_policy:multi_shard"],
        "mset" => &[
            "request_policy:multi_shard",
            "response_policy:all_succeeded",
        ],
        "msetnx" => &["request_policy:multi_shard", "response_policy:agg_min"],
        "randomkey" => &["request_policy:all_shards", "nondeterministic_output"],
        "scan" => &["nondeterministic_output", "request_policy:special"],
        _ => &[],
    }
}

/// One row of the command table.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: N exactly, or -N for at least N (the name counts).
    pub arity: i32,
    /// Bit set of `flags`.
    pub flags: u16,
    /// Position of the first key (0 = no keys).
    pub first_key: i32,
    /// Position of the last key (-1 = the last argument).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// Handler.
    pub cmd: Cmd,
    /// Redis command group (`COMMAND DOCS`).
    pub group: &'static str,
    /// Redis version that introduced it.
    pub since: &'static str,
    /// One-line summary for `COMMAND DOCS` / redis-cli help.
    pub summary: &'static str,
    /// ACL categories without the `@`.
    pub acl: &'static [&'static str],
}

impl CommandSpec {
    /// True when `argc` (name included) satisfies the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= (-self.arity) as usize
        }
    }
    /// True when the command has this flag.
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

use flags::*;

macro_rules! spec {
    ($name:expr, $arity:expr, $flags:expr, $first:expr, $last:expr, $step:expr, $cmd:ident,
     $group:expr, $since:expr, $acl:expr, $summary:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $first,
            last_key: $last,
            step: $step,
            cmd: Cmd::$cmd,
            group: $group,
            since: $since,
            acl: $acl,
            summary: $summary,
        }
    };
}

/// Every command shardcache serves.
pub static COMMANDS: &[CommandSpec] = &[
    spec!("ping", -1, FAST, 0, 0, 0, Ping, "connection", "1.0.0", &["fast", "connection"],
        "Returns the server's liveliness response."),
    spec!("echo", 2, LOADING | STALE | FAST, 0, 0, 0, Echo, "connection", "1.0.0", &["fast", "connection"],
        "Returns the given string."),
    spec!("quit", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, 0, 0, 0, Quit, "connection",
        "1.0.0", &["fast", "connection"], "Closes the connection."),
    spec!("select", 2, LOADING | STALE | FAST, 0, 0, 0, Select, "connection", "1.0.0",
        &["fast", "connection"], "Changes the selected database."),
    spec!("get", 2, READONLY | FAST, 1, 1, 1, Get, "string", "1.0.0",
        &["read", "string", "fast"], "Returns the string value of a key."),
    spec!("set", -3, WRITE | DENYOOM, 1, 1, 1, Set, "string", "1.0.0",
        &["write", "string", "slow"],
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
    spec!("mget", -2, READONLY | FAST, 1, -1, 1, MGet, "string", "1.0.0",
        &["read", "string", "fast"], "Atomically returns the string values of one or more keys."),
    spec!("mset", -3, WRITE | DENYOOM, 1, -1, 2, MSet, "string", "1.0.1",
        &["write", "string", "slow"], "Atomically creates or modifies the string values of one or more keys."),
    spec!("incr", 2, WRITE | DENYOOM | FAST, 1, 1, 1, Incr, "string", "1.0.0",
        &["write", "string", "fast"], "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    spec!("decr", 2, WRITE | DENYOOM | FAST, 1, 1, 1, Decr, "string", "1.0.0",
        &["write", "string", "fast"], "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    spec!("incrby", 3, WRITE | DENYOOM | FAST, 1, 1, 1, IncrBy, "string", "1.0.0",
        &["write", "string", "fast"], "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    spec!("decrby", 3, WRITE | DENYOOM | FAST, 1, 1, 1, DecrBy, "string", "1.0.0",
        &["write", "string", "fast"], "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
    spec!("incrbyfloat", 3, WRITE | DENYOOM | FAST, 1, 1, 1, IncrByFloat, "string", "2.6.0",
        &["write", "string", "fast"], "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    spec!("append", 3, WRITE | DENYOOM | FAST, 1, 1, 1, Append, "string", "2.0.0",
        &["write", "string", "fast"], "Appends a string to the value of a key. Creates the key if it doesn't exist."),
    spec!("strlen", 2, READONLY | FAST, 1, 1, 1, Strlen, "string", "2.2.0",
        &["read", "string", "fast"], "Returns the length of a string value."),
    spec!("getset", 3, WRITE | DENYOOM | FAST, 1, 1, 1, GetSet, "string", "1.0.0",
        &["write", "string", "fast"], "Returns the previous string value of a key after setting it to a new value."),
    spec!("getdel", 2, WRITE | FAST, 1, 1, 1, GetDel, "string", "6.2.0",
        &["write", "string", "fast"], "Returns the string value of a key after deleting the key."),
    spec!("setnx", 3, WRITE | DENYOOM | FAST, 1, 1, 1, SetNx, "string", "1.0.0",
        &["write", "string", "fast"], "Set the string value of a key only when the key doesn't exist."),
    spec!("setex", 4, WRITE | DENYOOM, 1, 1, 1, SetEx, "string", "2.0.0",
        &["write", "string", "slow"], "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."),
    spec!("psetex", 4, WRITE | DENYOOM, 1, 1, 1, PSetEx, "string", "2.6.0",
        &["write", "string", "slow"], "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."),
    spec!("getrange", 4, READONLY, 1, 1, 1, GetRange, "string", "2.4.0",
        &["read", "string", "slow"], "Returns a substring of the string stored at a key."),
    spec!("substr", 4, READONLY, 1, 1, 1, GetRange, "string", "1.0.0",
        &["read", "string", "slow"], "Returns a substring from a string value."),
    spec!("setrange", 4, WRITE | DENYOOM, 1, 1, 1, SetRange, "string", "2.2.0",
        &["write", "string", "slow"], "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."),
    spec!("ttl", 2, READONLY | FAST, 1, 1, 1, Ttl, "generic", "1.0.0",
        &["keyspace", "read", "fast"], "Returns the expiration time in seconds of a key."),
    spec!("pttl", 2, READONLY | FAST, 1, 1, 1, PTtl, "generic", "2.6.0",
        &["keyspace", "read", "fast"], "Returns the expiration time in milliseconds of a key."),
    spec!("expiretime", 2, READONLY | FAST, 1, 1, 1, ExpireTime, "generic", "7.0.0",
        &["keyspace", "read", "fast"], "Returns the expiration time of a key as a Unix timestamp."),
    spec!("pexpiretime", 2, READONLY | FAST, 1, 1, 1, PExpireTime, "generic", "7.0.0",
        &["keyspace", "read", "fast"], "Returns the expiration time of a key as a Unix milliseconds timestamp."),
    spec!("expire", -3, WRITE | FAST, 1, 1, 1, Expire, "generic", "1.0.0",
        &["keyspace", "write", "fast"], "Sets the expiration time of a key in seconds."),
    spec!("pexpire", -3, WRITE | FAST, 1, 1, 1, PExpire, "generic", "2.6.0",
        &["keyspace", "write", "fast"], "Sets the expiration time of a key in milliseconds."),
    spec!("expireat", -3, WRITE | FAST, 1, 1, 1, ExpireAt, "generic", "1.2.0",
        &["keyspace", "write", "fast"], "Sets the expiration time of a key to a Unix timestamp."),
    spec!("pexpireat", -3, WRITE | FAST, 1, 1, 1, PExpireAt, "generic", "2.6.0",
        &["keyspace", "write", "fast"], "Sets the expiration time of a key to a Unix milliseconds timestamp."),
    spec!("persist", 2, WRITE | FAST, 1, 1, 1, Persist, "generic", "2.2.0",
        &["keyspace", "write", "fast"], "Removes the expiration time of a key."),
    spec!("type", 2, READONLY | FAST, 1, 1, 1, Type, "generic", "1.0.0",
        &["keyspace", "read", "fast"], "Determines the type of value stored at a key."),
    spec!("touch", -2, READONLY | FAST, 1, -1, 1, Touch, "generic", "3.2.1",
        &["keyspace", "read", "fast"], "Returns the number of existing keys out of those specified after updating the time they were last accessed."),
    // Redis 7.0.15's rows and COMMAND DOCS summaries. OBJECT and MEMORY are
    // containers: their handlers check each subcommand's own arity.
    spec!("getex", -2, WRITE | FAST, 1, 1, 1, GetEx, "string", "6.2.0",
        &["write", "string", "fast"], "Get the value of a key and optionally set its expiration"),
    spec!("getbit", 3, READONLY | FAST, 1, 1, 1, GetBit, "bitmap", "2.2.0",
        &["read", "bitmap", "fast"], "Returns the bit value at offset in the string value stored at key"),
    spec!("setbit", 4, WRITE | DENYOOM, 1, 1, 1, SetBit, "bitmap", "2.2.0",
        &["write", "bitmap", "slow"], "Sets or clears the bit at offset in the string value stored at key"),
    spec!("bitcount", -2, READONLY, 1, 1, 1, BitCount, "bitmap", "2.6.0",
        &["read", "bitmap", "slow"], "Count set bits in a string"),
    spec!("bitpos", -3, READONLY, 1, 1, 1, BitPos, "bitmap", "2.8.7",
        &["read", "bitmap", "slow"], "Find first bit set or clear in a string"),
    spec!("lcs", -3, READONLY, 1, 2, 1, Lcs, "string", "7.0.0",
        &["read", "string", "slow"], "Find longest common substring"),
    spec!("move", 3, WRITE | FAST, 1, 1, 1, Move, "generic", "1.0.0",
        &["keyspace", "write", "fast"], "Move a key to another database"),
    spec!("object", -2, 0, 0, 0, 0, Object, "generic", "2.2.3", &["slow"],
        "A container for object introspection commands"),
    spec!("memory", -2, 0, 0, 0, 0, Memory, "server", "4.0.0", &["slow"],
        "A container for memory diagnostics commands"),
    spec!("del", -2, WRITE, 1, -1, 1, Del, "generic", "1.0.0", &["keyspace", "write", "slow"],
        "Deletes one or more keys."),
    spec!("delete", -2, WRITE, 1, -1, 1, Del, "generic", "1.0.0", &["keyspace", "write", "slow"],
        "Deletes one or more keys (the original project's name for DEL)."),
    spec!("unlink", -2, WRITE | FAST, 1, -1, 1, Del, "generic", "4.0.0",
        &["keyspace", "write", "fast"], "Asynchronously deletes one or more keys."),
    spec!("exists", -2, READONLY | FAST, 1, -1, 1, Exists, "generic", "1.0.0",
        &["keyspace", "read", "fast"], "Determines whether one or more keys exist."),
    spec!("dbsize", 1, READONLY | FAST, 0, 0, 0, DbSize, "server", "1.0.0",
        &["keyspace", "read", "fast"], "Returns the number of keys in the database."),
    spec!("flushall", -1, WRITE, 0, 0, 0, FlushAll, "server", "1.0.0",
        &["keyspace", "write", "slow", "dangerous"], "Removes all keys from all databases."),
    spec!("flushdb", -1, WRITE, 0, 0, 0, FlushDb, "server", "1.0.0",
        &["keyspace", "write", "slow", "dangerous"], "Remove all keys from the current database."),
    spec!("info", -1, LOADING | STALE, 0, 0, 0, Info, "server", "1.0.0",
        &["slow", "dangerous"], "Returns information and statistics about the server."),
    spec!("config", -2, 0, 0, 0, 0, Config, "server", "2.0.0", &["slow"],
        "A container for server configuration commands."),
    spec!("bgrewriteaof", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, 0, 0, 0, BgRewriteAof, "server", "1.0.0",
        &["admin", "slow", "dangerous"], "Asynchronously rewrites the append-only file to disk."),
    spec!("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY, 0, 0, 0, Shutdown, "server", "1.0.0",
        &["admin", "slow", "dangerous"], "Synchronously saves the database(s) to disk and shuts down the Redis server."),
    spec!("latency", -2, 0, 0, 0, 0, Latency, "server", "2.8.13",
        &["slow"], "A container for latency diagnostics commands."),
    spec!("command", -1, LOADING | STALE, 0, 0, 0, Command, "server", "2.8.13",
        &["slow", "connection"], "Returns detailed information about all commands."),
    spec!("multi", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, 0, 0, 0, Multi, "transactions", "1.2.0",
        &["fast", "transaction"], "Starts a transaction."),
    spec!("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG, 0, 0, 0, Exec, "transactions", "1.2.0",
        &["slow", "transaction"], "Executes all commands in a transaction."),
    spec!("discard", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, 0, 0, 0, Discard, "transactions",
        "2.0.0", &["fast", "transaction"], "Discards a transaction."),
    spec!("watch", -2, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, 1, -1, 1, Watch, "transactions",
        "2.2.0", &["fast", "transaction"],
        "Monitors changes to keys to determine the execution of a transaction."),
    spec!("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, 0, 0, 0, Unwatch, "transactions",
        "2.2.0", &["fast", "transaction"], "Forgets about watched keys of a transaction."),
    spec!("rename", 3, WRITE, 1, 2, 1, Rename, "generic", "1.0.0",
        &["keyspace", "write", "slow"], "Renames a key and overwrites the destination."),
    spec!("renamenx", 3, WRITE | FAST, 1, 2, 1, RenameNx, "generic", "1.0.0",
        &["keyspace", "write", "fast"], "Renames a key only when the target key name doesn't exist."),
    spec!("copy", -3, WRITE | DENYOOM, 1, 2, 1, Copy, "generic", "6.2.0",
        &["keyspace", "write", "slow"], "Copies the value of a key to a new key."),
    spec!("swapdb", 3, WRITE | FAST, 0, 0, 0, SwapDb, "server", "4.0.0",
        &["keyspace", "write", "fast", "dangerous"], "Swaps two Redis databases."),
    spec!("msetnx", -3, WRITE | DENYOOM, 1, -1, 2, MSetNx, "string", "1.0.1",
        &["write", "string", "slow"],
        "Atomically modifies the string values of one or more keys only when all keys don't exist."),
    spec!("keys", 2, READONLY, 0, 0, 0, Keys, "generic", "1.0.0",
        &["keyspace", "read", "slow", "dangerous"], "Find all keys matching the given pattern"),
    spec!("scan", -2, READONLY, 0, 0, 0, Scan, "generic", "2.8.0", &["keyspace", "read", "slow"],
        "Incrementally iterate the keys space"),
    spec!("randomkey", 1, READONLY, 0, 0, 0, RandomKey, "generic", "1.0.0",
        &["keyspace", "read", "slow"], "Return a random key from the keyspace"),
    spec!("auth", -2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, 0, 0, 0, Auth, "connection",
        "1.0.0", &["fast", "connection"], "Authenticates the connection."),
    spec!("hello", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, 0, 0, 0, Hello, "connection",
        "6.0.0", &["fast", "connection"], "Handshakes with the Redis server."),
    spec!("reset", 1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, 0, 0, 0, Reset, "connection",
        "6.2.0", &["fast", "connection"], "Resets the connection."),
    spec!("client", -2, 0, 0, 0, 0, Client, "connection", "2.4.0", &["slow"],
        "A container for client connection commands."),
    spec!("time", 1, LOADING | STALE | FAST, 0, 0, 0, Time, "server", "2.6.0", &["fast"],
        "Returns the server time."),
    spec!("lastsave", 1, LOADING | STALE | FAST, 0, 0, 0, LastSave, "server", "1.0.0",
        &["admin", "fast", "dangerous"], "Returns the Unix timestamp of the last successful save to disk."),
    spec!("function", -2, 0, 0, 0, 0, Function, "scripting", "7.0.0", &["slow"],
        "A container for function commands."),
];

/// Subcommands of container commands, with their Redis arity: they name
/// the last command in CLIENT LIST (`cmd=client|list`), and Redis checks
/// them (existence, arity) before it asks for authentication.
pub static SUBCOMMANDS: &[(&str, &str, i32)] = &[
    ("client", "id", 2),
    ("client", "info", 2),
    ("client", "list", -2),
    ("client", "kill", -3),
    ("client", "setname", 3),
    ("client", "getname", 2),
    ("client", "setinfo", 4),
    ("client", "no-evict", 3),
    ("client", "reply", 3),
    ("client", "help", 2),
    ("config", "get", -3),
    ("config", "set", -4),
    ("config", "resetstat", 2),
    ("config", "rewrite", 2),
    ("config", "help", 2),
    ("command", "count", 2),
    ("command", "info", -2),
    ("command", "docs", -2),
    ("command", "list", -2),
    ("command", "getkeys", -4),
    ("command", "help", 2),
    ("latency", "histogram", -2),
    ("latency", "latest", 2),
    ("latency", "history", 3),
    ("latency", "reset", -2),
    ("latency", "doctor", 2),
    ("latency", "help", 2),
    ("function", "list", -2),
    ("function", "flush", -2),
    ("function", "help", 2),
];

/// The index in `SUBCOMMANDS` of `sub` (any case) of container `name`.
pub fn lookup_sub(name: &str, sub: &[u8]) -> Option<usize> {
    SUBCOMMANDS
        .iter()
        .position(|(c, s, _)| *c == name && s.as_bytes().eq_ignore_ascii_case(sub))
}

/// True when `name` is a container listed in `SUBCOMMANDS`.
pub fn is_container(name: &str) -> bool {
    SUBCOMMANDS.iter().any(|(c, _, _)| *c == name)
}

/// Packs a command table row and an optional `SUBCOMMANDS` index into the
/// `u32` a session keeps as its last command (0: none yet).
pub fn pack_last(id: usize, sub: Option<usize>) -> u32 {
    (id as u32 + 1) | sub.map_or(0, |s| (s as u32 + 1) << 16)
}

/// Writes the full name of a packed last command (`get`, `client|list`),
/// or `NULL` when there is none, as CLIENT LIST shows it.
pub fn write_full_name(packed: u32, out: &mut Vec<u8>) {
    let id = (packed & 0xffff) as usize;
    let sub = (packed >> 16) as usize;
    match id.checked_sub(1).and_then(|i| COMMANDS.get(i)) {
        None => out.extend_from_slice(b"NULL"),
        Some(spec) => {
            out.extend_from_slice(spec.name.as_bytes());
            if let Some((_, s, _)) = sub.checked_sub(1).and_then(|i| SUBCOMMANDS.get(i)) {
                out.push(b'|');
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
}

fn table() -> &'static HashMap<&'static [u8], usize, ahash::RandomState> {
    static TABLE: OnceLock<HashMap<&'static [u8], usize, ahash::RandomState>> = OnceLock::new();
    TABLE.get_or_init(|| {
        COMMANDS
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_bytes(), i))
            .collect()
    })
}

/// Finds a command by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    lookup_id(name).map(|i| &COMMANDS[i])
}

/// `rename-command`: names taken away and names given, set once at start.
struct Renames {
    hidden: Vec<bool>,
    added: HashMap<Vec<u8>, usize, ahash::RandomState>,
}

static RENAMES: OnceLock<Renames> = OnceLock::new();

/// Applies `rename-command` pairs (`NAME NEW`; an empty `NEW` disables the
/// command), as Redis does at start. Call once, before serving.
pub fn apply_renames(pairs: &[(String, String)]) -> Result<(), String> {
    let mut r = Renames {
        hidden: vec![false; COMMANDS.len()],
        added: HashMap::default(),
    };
    for (old, new) in pairs {
        let id = lookup_id(old.as_bytes())
            .ok_or_else(|| format!("rename-command: no such command '{old}'"))?;
        r.hidden[id] = true;
        if !new.is_empty() {
            r.added.insert(new.to_ascii_lowercase().into_bytes(), id);
        }
    }
    RENAMES
        .set(r)
        .map_err(|_| "rename-command applied twice".to_string())
}

/// Finds a command's index in `COMMANDS` by name, case-insensitively.
pub fn lookup_id(name: &[u8]) -> Option<usize> {
    // Command names are short; fold case on the stack instead of allocating.
    let mut buf = [0u8; 64];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    match RENAMES.get() {
        None => table().get(&*lower).copied(),
        Some(r) => {
            if let Some(&id) = r.added.get(&*lower) {
                return Some(id);
            }
            table().get(&*lower).copied().filter(|&id| !r.hidden[id])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"GeT").unwrap().cmd, Cmd::Get);
        assert_eq!(lookup(b"DELETE").unwrap().cmd, Cmd::Del);
        assert!(lookup(b"nosuch").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
    }

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut names: Vec<_> = COMMANDS.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
        assert!(COMMANDS
            .iter()
            .all(|c| c.name == c.name.to_ascii_lowercase()));
    }

    #[test]
    fn subcommands_and_full_names() {
        assert!(SUBCOMMANDS
            .iter()
            .all(|(c, _, _)| lookup(c.as_bytes()).is_some()));
        let client = lookup_id(b"client").unwrap();
        let list = lookup_sub("client", b"LIST").unwrap();
        let mut out = Vec::new();
        write_full_name(pack_last(client, Some(list)), &mut out);
        assert_eq!(out, b"client|list");
        out.clear();
        write_full_name(pack_last(lookup_id(b"get").unwrap(), None), &mut out);
        assert_eq!(out, b"get");
        out.clear();
        write_full_name(0, &mut out);
        assert_eq!(out, b"NULL");
        assert!(is_container("config") && !is_container("get"));
        assert!(lookup_sub("client", b"nosuch").is_none());
    }

    #[test]
    fn arity() {
        let get = lookup(b"get").unwrap();
        assert!(get.arity_ok(2) && !get.arity_ok(1) && !get.arity_ok(3));
        let set = lookup(b"set").unwrap();
        assert!(set.arity_ok(3) && set.arity_ok(7) && !set.arity_ok(2));
    }
}
