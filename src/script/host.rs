//! What the server provides to scripts.

use super::{RespValue, ScriptFlags};

/// The parameters of one `redis.call` / `redis.pcall`.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    /// The protocol the script selected with `redis.setresp` (2 or 3): the
    /// reply must be given in it.
    pub resp: u8,
    /// The running script's flags (shebang or function flags).
    pub flags: ScriptFlags,
    /// Write commands must be refused with [`Refusal::WriteInReadOnly`]:
    /// the script has `no-writes`, or came from EVAL_RO/EVALSHA_RO/FCALL_RO.
    pub read_only: bool,
    /// The SHA1 of the running EVAL script, or the function's name.
    pub script: &'a str,
    /// Whether a function (FCALL) is running rather than an EVAL script.
    pub is_function: bool,
}

/// Why the server would not run a command for a script. The engine words
/// each as Redis 7.0 does and raises it (`redis.call`) or returns it as an
/// error table (`redis.pcall`).
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// No such command.
    UnknownCommand,
    /// The command's arity does not match.
    WrongArity,
    /// The command has the `noscript` flag (EVAL, MULTI, SUBSCRIBE, ...).
    NotAllowed,
    /// A write command while `CallContext::read_only` is set.
    WriteInReadOnly,
    /// Any other reason, as an error text: `-CODE message` keeps its code
    /// (e.g. `-OOM command not allowed when used memory > 'maxmemory'.`),
    /// text without a leading `-` gets the `ERR` code.
    Other(String),
}

impl Refusal {
    /// The text handed to the error-table builder.
    pub fn text(&self) -> String {
        match self {
            Refusal::UnknownCommand => "Unknown Redis command called from script".into(),
            Refusal::WrongArity => "Wrong number of args calling Redis command from script".into(),
            Refusal::NotAllowed => "This Redis command is not allowed from script".into(),
            Refusal::WriteInReadOnly => {
                "Write commands are not allowed from read-only scripts.".into()
            }
            Refusal::Other(s) => s.clone(),
        }
    }
}

/// The outcome of [`Host::call`].
#[derive(Debug, Clone, PartialEq)]
pub enum CallResult {
    /// The command ran and did not modify the dataset.
    Reply(RespValue),
    /// The command ran and modified the dataset (a script that has written
    /// can no longer be killed: SCRIPT KILL answers UNKILLABLE).
    Write(RespValue),
    /// The command was not run.
    Refused(Refusal),
}

/// The outcome of [`Host::call_encoded`]; the reply, if any, is in the
/// caller's buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The command ran and did not modify the dataset.
    Reply,
    /// The command ran and modified the dataset.
    Write,
    /// The command was not run; the buffer is left empty.
    Refused(Refusal),
}

/// The server side of the scripting engine, implemented by the server for
/// the client whose script runs.
pub trait Host {
    /// Runs one command for the script: `args[0]` is the command name as the
    /// script wrote it. Before running it the server checks, in this order,
    /// that the command exists ([`Refusal::UnknownCommand`]), its arity
    /// ([`Refusal::WrongArity`]), that it may run from scripts
    /// ([`Refusal::NotAllowed`]), that it does not write when
    /// `ctx.read_only` ([`Refusal::WriteInReadOnly`]), then its own policies
    /// (ACL, OOM, cluster slots...) as [`Refusal::Other`]. The reply is
    /// given in protocol `ctx.resp`; a command error is a
    /// `RespValue::Error` reply.
    fn call(&mut self, args: &[&[u8]], ctx: &CallContext) -> CallResult;

    /// [`Host::call`] with the reply appended to `out` as RESP in protocol
    /// `ctx.resp`: what `redis.call` uses, so a server that has the reply
    /// encoded already hands it over without building a [`RespValue`].
    fn call_encoded(&mut self, args: &[&[u8]], ctx: &CallContext, out: &mut Vec<u8>) -> Outcome {
        match self.call(args, ctx) {
            CallResult::Reply(v) => {
                v.encode(ctx.resp, out);
                Outcome::Reply
            }
            CallResult::Write(v) => {
                v.encode(ctx.resp, out);
                Outcome::Write
            }
            CallResult::Refused(why) => Outcome::Refused(why),
        }
    }

    /// `redis.log`: level 0 debug, 1 verbose, 2 notice, 3 warning.
    fn log(&mut self, level: i32, msg: &[u8]) {
        let _ = (level, msg);
    }

    /// Checked before a script or function starts: `Some(error)` refuses
    /// the run with that reply (READONLY replica, MISCONF, OOM without
    /// `allow-oom`, stale replica without `allow-stale`, cluster without
    /// `no-cluster`...). `ro_command` tells EVAL_RO/EVALSHA_RO/FCALL_RO.
    fn check_run(&mut self, flags: ScriptFlags, ro_command: bool) -> Option<RespValue> {
        let _ = (flags, ro_command);
        None
    }

    /// `redis.acl_check_cmd`: whether the current user may run the command;
    /// `None` when there is no such command.
    fn acl_check_cmd(&mut self, args: &[&[u8]]) -> Option<bool> {
        let _ = args;
        Some(true)
    }

    /// `redis.set_repl` with a valid flag set (REPL_* bits).
    fn set_repl(&mut self, flags: i32) {
        let _ = flags;
    }

    /// Unix ms the script runs at (a server freezes it at the script's
    /// start; FUNCTION STATS counts the running script's duration from it).
    fn started_ms(&self) -> u64 {
        shards::clock::unix_ms()
    }
}
