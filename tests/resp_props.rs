//! Property tests of the RESP decoder (proptest): what a client encodes
//! comes back whatever the reads, inline commands round-trip, and no byte
//! string can panic it.

use proptest::prelude::*;
use shardcache::config::PROTO_MAX_BULK_LEN;
use shardcache::resp::{Args, Decoded, Decoder, ProtocolError};

type Command = Vec<Vec<u8>>;

fn multibulk(cmd: &[Vec<u8>], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", cmd.len()).as_bytes());
    for a in cmd {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Feeds `input` in the given reads, as a connection does (unconsumed bytes
/// stay for the next call); returns the commands and the error, if any.
fn decode_reads(input: &[u8], cuts: &[usize]) -> (Vec<Command>, Option<ProtocolError>) {
    let mut d = Decoder::default();
    let mut args = Args::default();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&input.len())) {
        let to = to.clamp(from, input.len());
        buf.extend_from_slice(&input[from..to]);
        from = to;
        loop {
            match d.decode(&buf, &mut args, PROTO_MAX_BULK_LEN) {
                Err(e) => return (out, Some(e)),
                Ok((what, used)) => {
                    assert!(used <= buf.len());
                    buf.drain(..used);
                    if what == Decoded::Incomplete {
                        break;
                    }
                    assert!(used > 0, "a command must consume bytes");
                    if !args.is_empty() {
                        out.push(args.iter_from(0).map(|a| a.to_vec()).collect());
                    }
                }
            }
        }
    }
    (out, None)
}

fn command() -> impl Strategy<Value = Command> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..8)
}

/// Bytes biased towards what the decoder branches on.
fn protocolish() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        3 => prop::sample::select(b"*$\r\n0123456789-+ \"'\\x".to_vec()),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..300)
}

proptest! {
    // Each case decodes its stream once per byte: fewer cases, same reach.
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Encode, then decode with the stream cut at every point: identity.
    #[test]
    fn multibulk_survives_every_split(cmds in prop::collection::vec(command(), 1..4)) {
        let mut wire = Vec::new();
        for c in &cmds {
            multibulk(c, &mut wire);
        }
        for cut in 0..=wire.len() {
            let (got, err) = decode_reads(&wire, &[cut]);
            prop_assert_eq!(err, None);
            prop_assert_eq!(&got, &cmds, "cut at {}", cut);
        }
        let every: Vec<usize> = (1..wire.len()).collect();
        prop_assert_eq!(decode_reads(&wire, &every), (cmds, None));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arguments without spaces, quotes or backslashes, joined by any run
    /// of blanks and ended by LF or CRLF, decode as themselves.
    #[test]
    fn inline_round_trip(
        args in prop::collection::vec("[a-zA-Z0-9:_.,;!@#%&()=+<>/|{}\\[\\]-]{1,24}", 1..8),
        seps in prop::collection::vec(prop::sample::select(vec![" ", "  ", "\t", " \t "]), 8),
        crlf in any::<bool>(),
        cut in any::<prop::sample::Index>(),
    ) {
        // A line starting with '*' would be a multibulk.
        prop_assume!(!args[0].starts_with('*'));
        let mut line = String::new();
        for (a, sep) in args.iter().zip(&seps) {
            line.push_str(a);
            line.push_str(sep);
        }
        line.push_str(if crlf { "\r\n" } else { "\n" });
        let want: Vec<Command> = vec![args.iter().map(|a| a.as_bytes().to_vec()).collect()];
        let wire = line.as_bytes();
        prop_assert_eq!(decode_reads(wire, &[]), (want.clone(), None));
        prop_assert_eq!(decode_reads(wire, &[cut.index(wire.len())]), (want, None));
    }

    /// Any bytes: no panic, and each call decodes a command, asks for more,
    /// or reports a protocol error (checked inside `decode_reads`); reads
    /// of any size agree while the input is under the 64 KB line limit.
    #[test]
    fn arbitrary_bytes_never_panic(
        input in prop_oneof![prop::collection::vec(any::<u8>(), 0..600), protocolish()],
        cut in any::<prop::sample::Index>(),
    ) {
        let whole = decode_reads(&input, &[]);
        let split = decode_reads(&input, &[cut.index(input.len() + 1)]);
        prop_assert_eq!(whole, split);
    }
}
