//! The bodies of shardcache's fuzz targets, one function each. The
//! libFuzzer binaries in `fuzz_targets/` call them (`cargo +nightly fuzz run
//! <target>`), and the root crate's `tests/fuzz_corpus.rs` includes this file
//! to replay the seed corpus on stable Rust, so the corpus runs in CI even
//! where there is no nightly toolchain.
//!
//! Each function panics on a property violation and is otherwise silent.
//! This file depends on nothing but `shardcache` and `clap` (both
//! dependencies of the root crate too), so it compiles in either place.

use clap::Parser;
use shardcache::commands::{self, Session};
use shardcache::config::{Config, PROTO_MAX_BULK_LEN};
use shardcache::exchange::Router;
use shardcache::resp::{split_args, Args, Decoded, Decoder, ProtocolError, INLINE_MAX};
use shardcache::shared::Shared;
use std::sync::OnceLock;

/// What a connection makes of a byte stream: the commands decoded, in
/// order (empty ones included), and the protocol error that ended it, if any.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Every command decoded, each as its arguments.
    pub commands: Vec<Vec<Vec<u8>>>,
    /// The error that closed the stream.
    pub error: Option<ProtocolError>,
}

fn args_of(args: &Args) -> Vec<Vec<u8>> {
    args.iter_from(0).map(|a| a.to_vec()).collect()
}

/// Decodes `input` delivered in chunks of the given sizes (cycled), keeping
/// the unconsumed bytes as a connection does between reads.
pub fn decode_in_chunks(input: &[u8], mut chunk: impl FnMut() -> usize) -> Outcome {
    let mut d = Decoder::default();
    let mut args = Args::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut commands = Vec::new();
    let mut fed = 0;
    while fed < input.len() {
        let n = chunk().clamp(1, input.len() - fed);
        buf.extend_from_slice(&input[fed..fed + n]);
        fed += n;
        loop {
            match d.decode(&buf, &mut args, PROTO_MAX_BULK_LEN) {
                Err(error) => {
                    return Outcome {
                        commands,
                        error: Some(error),
                    }
                }
                Ok((what, used)) => {
                    assert!(used <= buf.len(), "consumed {used} of {} bytes", buf.len());
                    buf.drain(..used);
                    match what {
                        Decoded::Command => {
                            assert!(used > 0, "a command that consumed nothing would loop");
                            commands.push(args_of(&args));
                        }
                        Decoded::Incomplete => break,
                    }
                }
            }
        }
    }
    Outcome {
        commands,
        error: None,
    }
}

/// A small deterministic generator for split points.
fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// Target `resp_decoder`: the first two bytes seed the split points, the
/// rest is the stream. Whatever the split, the decoder never panics, never
/// consumes more than it was given, and finds the same commands and the
/// same error as when it gets the stream in one read. (Past 64 KB without a
/// line end the outcome depends on the reads, as in Redis, so longer inputs
/// are only checked for panics.)
pub fn resp_decoder(data: &[u8]) {
    let (seed, input) = data.split_at(data.len().min(2));
    let whole = decode_in_chunks(input, || usize::MAX);
    let mut state = 0x9e37_79b9_7f4a_7c15 ^ seed.iter().fold(0u64, |a, &b| a << 8 | b as u64);
    let max = 1 + seed.first().copied().unwrap_or(7) as u64 % 64;
    let split = decode_in_chunks(input, || (1 + xorshift(&mut state) % max) as usize);
    if input.len() <= INLINE_MAX {
        assert_eq!(whole, split, "split reads changed what was decoded");
        if input.len() <= 512 {
            assert_eq!(
                whole,
                decode_in_chunks(input, || 1),
                "byte-at-a-time reads differ"
            );
        }
    }
}

/// Quotes `arg` for an inline command so that `split_args` gives it back:
/// double quotes, with `\\`, `\"` and `\xHH` for everything unprintable.
pub fn quote_inline(arg: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in arg {
        match c {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', c]),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Target `inline_parser`: `split_args` on any line either fails with
/// unbalanced quotes or gives arguments that, quoted again, parse back to
/// themselves; and the decoder reads the same line, ended by CRLF, as the
/// same command.
pub fn inline_parser(data: &[u8]) {
    let mut args = Args::default();
    let parsed = match split_args(data, &mut args) {
        Err(e) => {
            assert_eq!(e, ProtocolError::UnbalancedQuotes);
            None
        }
        Ok(()) => Some(args_of(&args)),
    };
    if let Some(parsed) = &parsed {
        let mut line = Vec::new();
        for a in parsed {
            quote_inline(a, &mut line);
            line.push(b' ');
        }
        let mut again = Args::default();
        split_args(&line, &mut again).expect("quoted arguments parse");
        assert_eq!(&args_of(&again), parsed, "quoting did not round-trip");
    }
    // As a connection sees it: one inline line (the decoder cuts at LF).
    if data.first() != Some(&b'*') && !data.contains(&b'\n') && data.len() < INLINE_MAX {
        let mut stream = data.to_vec();
        stream.extend_from_slice(b"\r\n");
        let got = decode_in_chunks(&stream, || usize::MAX);
        match (&parsed, got.error) {
            (None, Some(e)) => assert_eq!(e, ProtocolError::UnbalancedQuotes),
            (Some(p), None) => assert_eq!(got.commands, std::slice::from_ref(p)),
            (p, e) => panic!("split_args gave {p:?}, the decoder {e:?}"),
        }
    }
}

/// Server-wide state from the default configuration, as `server::start`
/// builds it (no socket, no thread).
fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let config = Config::parse_from(["shardcache"]);
        Shared::new(
            config,
            "127.0.0.1:0".parse().expect("address"),
            commands::count(),
        )
    })
}

/// Target `command_dispatch`: every command decoded from the input goes
/// through the command table and its handler's argument parsing into a
/// `Router`, exactly as a worker does it, but the round is discarded instead
/// of exchanged with shard threads. No input may panic a handler.
pub fn command_dispatch(data: &[u8]) {
    let shared = shared();
    let mut router = Router::detached(shared.shards, commands::count());
    let mut session = Session::default();
    let mut d = Decoder::default();
    let mut args = Args::default();
    let mut pos = 0;
    let now = shards_now();
    while pos <= data.len() {
        match d.decode(&data[pos..], &mut args, PROTO_MAX_BULK_LEN) {
            Err(_) => break,
            Ok((Decoded::Incomplete, _)) => break,
            Ok((Decoded::Command, used)) => {
                pos += used;
                if !args.is_empty() {
                    commands::dispatch(None, &args, 0, &mut session, &mut router, shared, now);
                    // A command that defers itself (cross-shard RENAME,
                    // EXEC after WATCH) replies in the round's second phase.
                    let deferred = router.take_deferred();
                    assert!(
                        deferred || router.has_pending(),
                        "every command leaves a reply"
                    );
                }
                if session.close {
                    break;
                }
            }
        }
    }
    router.discard();
}

/// A fixed "now" keeps runs reproducible: relative TTLs become absolute
/// against it.
fn shards_now() -> u64 {
    1_700_000_000_000
}
