//! Runs the fuzz targets (`fuzz/src/lib.rs`) over their seed corpus
//! (`fuzz/corpus/<target>/`) and over deterministic mutations of it, on
//! stable Rust: libFuzzer needs nightly, this needs nothing, so every CI run
//! exercises the targets' properties. `tools/fuzz.sh` runs the real fuzzer
//! where `cargo +nightly` exists.

mod common;
#[path = "../fuzz/src/lib.rs"]
mod targets;

use common::Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// Mutations tried per corpus file.
const MUTATIONS: usize = 150;

/// Tokens a mutation may splice in: protocol punctuation and edge numbers.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"*",
    b"$",
    b"*-1\r\n",
    b"$0\r\n\r\n",
    b"*2147483648\r\n",
    b"$536870912\r\n",
    b"\"",
    b"'",
    b"\\x",
    b"\\",
    b"\x00",
    b"\xff",
    b"-1",
    b"18446744073709551616",
    b"9223372036854775807",
    b" ",
];

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.expect("corpus entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("corpus file"))
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "{target}: only {} seeds in {}",
        files.len(),
        dir.display()
    );
    files
}

/// One libFuzzer-style mutation of `seed`: flip, insert, delete, splice a
/// token, duplicate a slice, or truncate.
fn mutate(seed: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.insert(at, rng.next() as u8),
            2 if at < v.len() => {
                v.remove(at);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            4 if !v.is_empty() => {
                let from = rng.below(v.len());
                let len = rng.below(v.len() - from + 1).min(256);
                let piece = v[from..from + len].to_vec();
                v.splice(at..at, piece);
            }
            5 => {
                // Splice in part of another seed (pipelines of mixed frames).
                let from = rng.below(other.len());
                v.splice(at..at, other[from..].iter().copied());
            }
            _ => v.truncate(at),
        }
    }
    v
}

fn escape(b: &[u8]) -> String {
    b.iter()
        .flat_map(|&c| std::ascii::escape_default(c))
        .map(char::from)
        .collect()
}

/// Runs `f` on every seed of `target` and on `MUTATIONS` mutations of each.
fn replay(target: &str, f: fn(&[u8])) {
    let seeds = corpus(target);
    let mut rng = Rng(0x5eed_0fc0_ffee ^ target.len() as u64);
    let mut runs = 0;
    for (i, (name, seed)) in seeds.iter().enumerate() {
        let other = &seeds[(i + 1) % seeds.len()].1;
        let inputs = std::iter::once(seed.clone())
            .chain((0..MUTATIONS).map(|_| mutate(seed, other, &mut rng)));
        for input in inputs {
            if catch_unwind(AssertUnwindSafe(|| f(&input))).is_err() {
                panic!(
                    "{target} failed on a mutation of seed {name}: \"{}\" (save it under \
                     fuzz/corpus/{target}/ to keep it)",
                    escape(&input)
                );
            }
            runs += 1;
        }
    }
    assert_eq!(runs, seeds.len() * (MUTATIONS + 1));
}

#[test]
fn resp_decoder_corpus() {
    replay("resp_decoder", targets::resp_decoder);
}

#[test]
fn inline_parser_corpus() {
    replay("inline_parser", targets::inline_parser);
}

#[test]
fn command_dispatch_corpus() {
    replay("command_dispatch", targets::command_dispatch);
}

/// The properties themselves catch what they claim to: a decoder that
/// split differently, or a quoting that lost bytes, would fail these.
#[test]
fn harness_properties_bite() {
    let stream = b"*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\nPING\r\n";
    let whole = targets::decode_in_chunks(stream, || usize::MAX);
    assert_eq!(whole.commands.len(), 2);
    assert_eq!(whole, targets::decode_in_chunks(stream, || 1));
    let mut line = Vec::new();
    targets::quote_inline(b"a \"b\"\\\x00\xff\n", &mut line);
    assert_eq!(line, b"\"a \\\"b\\\"\\\\\\x00\\xff\\x0a\"");
}
