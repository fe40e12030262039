//! RESP2 decode and encode throughput.
//!
//! Decode: one pipeline of 1,000 frames per iteration, decoded from the start
//! of the buffer to its end the way a worker drains its read buffer
//! (`Decoder::decode` until `Incomplete`), plus one variant that feeds the
//! same SET pipeline in 4 KB reads to exercise the resumable path.
//! Encode: 1,000 replies (64 for the 16 KB bulk) appended to a reused buffer.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-bench cargo bench -p shardcache --bench resp`

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use shardcache::config::PROTO_MAX_BULK_LEN;
use shardcache::resp::{encode, Args, Decoded, Decoder};
use std::time::Duration;

/// Frames per decoded pipeline.
const FRAMES: usize = 1_000;
/// Read size of the chunked decode variant.
const READ_CHUNK: usize = 4 * 1024;

fn key(i: usize) -> String {
    format!("key:{i:04}")
}

fn value(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Appends one multibulk frame, as redis-cli and client libraries send commands.
fn multibulk(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn set_pipeline() -> Vec<u8> {
    let v = value(100);
    let mut buf = Vec::new();
    for i in 0..FRAMES {
        multibulk(&mut buf, &[b"SET", key(i).as_bytes(), &v]);
    }
    buf
}

fn get_pipeline() -> Vec<u8> {
    let mut buf = Vec::new();
    for i in 0..FRAMES {
        multibulk(&mut buf, &[b"GET", key(i).as_bytes()]);
    }
    buf
}

fn inline_get_pipeline() -> Vec<u8> {
    let mut buf = Vec::new();
    for i in 0..FRAMES {
        buf.extend_from_slice(format!("GET {}\r\n", key(i)).as_bytes());
    }
    buf
}

fn inline_set_pipeline() -> Vec<u8> {
    let v = String::from_utf8(value(100)).unwrap();
    let mut buf = Vec::new();
    for i in 0..FRAMES {
        buf.extend_from_slice(format!("SET {} {v}\r\n", key(i)).as_bytes());
    }
    buf
}

/// Decodes every frame of `buf`; returns the number of commands and argument bytes seen.
fn decode_all(d: &mut Decoder, args: &mut Args, buf: &[u8]) -> (usize, usize) {
    let mut pos = 0;
    let (mut cmds, mut bytes) = (0, 0);
    loop {
        let (what, n) = d.decode(&buf[pos..], args, PROTO_MAX_BULK_LEN).unwrap();
        pos += n;
        match what {
            Decoded::Command => {
                cmds += 1;
                bytes += args.get(args.len() - 1).len();
            }
            Decoded::Incomplete => return (cmds, bytes),
        }
    }
}

/// Decodes `buf` as if it arrived in `chunk`-byte reads: each call sees the
/// unconsumed bytes plus everything read so far, as a worker's read buffer does.
fn decode_chunked(d: &mut Decoder, args: &mut Args, buf: &[u8], chunk: usize) -> usize {
    let (mut pos, mut end, mut cmds) = (0, 0, 0);
    while pos < buf.len() {
        end = (end + chunk).min(buf.len());
        loop {
            let (what, n) = d.decode(&buf[pos..end], args, PROTO_MAX_BULK_LEN).unwrap();
            pos += n;
            match what {
                Decoded::Command => cmds += 1,
                Decoded::Incomplete => break,
            }
        }
    }
    cmds
}

fn bench_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("resp_decode");
    let cases = [
        ("multibulk_set_100B", set_pipeline()),
        ("multibulk_get", get_pipeline()),
        ("inline_get", inline_get_pipeline()),
        ("inline_set_100B", inline_set_pipeline()),
    ];
    for (name, buf) in &cases {
        // Sanity: every frame decodes to one command and the buffer is consumed.
        let (cmds, _) = decode_all(&mut Decoder::default(), &mut Args::default(), buf);
        assert_eq!(cmds, FRAMES, "{name}");
        g.throughput(Throughput::Bytes(buf.len() as u64));
        g.bench_with_input(BenchmarkId::new(*name, FRAMES), buf, |b, buf| {
            let mut d = Decoder::default();
            let mut args = Args::default();
            b.iter(|| decode_all(&mut d, &mut args, black_box(buf)));
        });
    }
    let buf = &cases[0].1;
    assert_eq!(
        decode_chunked(
            &mut Decoder::default(),
            &mut Args::default(),
            buf,
            READ_CHUNK
        ),
        FRAMES
    );
    g.throughput(Throughput::Bytes(buf.len() as u64));
    g.bench_with_input(
        BenchmarkId::new("multibulk_set_100B_4KB_reads", FRAMES),
        buf,
        |b, buf| {
            let mut d = Decoder::default();
            let mut args = Args::default();
            b.iter(|| decode_chunked(&mut d, &mut args, black_box(buf), READ_CHUNK));
        },
    );
    g.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("resp_encode");
    for (len, count) in [(100usize, 1_000usize), (16 * 1024, 64)] {
        let v = value(len);
        let mut out = Vec::new();
        for _ in 0..count {
            encode::bulk(&mut out, &v);
        }
        let bytes = out.len();
        g.throughput(Throughput::Bytes(bytes as u64));
        let name = if len >= 1024 {
            format!("bulk_{}KB", len / 1024)
        } else {
            format!("bulk_{len}B")
        };
        g.bench_with_input(BenchmarkId::new(name, count), &v, |b, v| {
            let mut out = Vec::with_capacity(bytes);
            b.iter(|| {
                out.clear();
                for _ in 0..count {
                    encode::bulk(&mut out, black_box(v));
                }
                out.len()
            });
        });
    }
    // Integers of mixed widths: counters (1-3 digits), sizes, and negatives like TTL's -1/-2.
    let ints: Vec<i64> = (0..FRAMES as i64)
        .map(|i| match i % 4 {
            0 => i % 10,
            1 => i,
            2 => i * 1_000_003,
            _ => -(i % 3) - 1,
        })
        .collect();
    let mut out = Vec::new();
    for &n in &ints {
        encode::int(&mut out, n);
    }
    let bytes = out.len();
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_with_input(BenchmarkId::new("int", ints.len()), &ints, |b, ints| {
        let mut out = Vec::with_capacity(bytes);
        b.iter(|| {
            out.clear();
            for &n in black_box(ints) {
                encode::int(&mut out, n);
            }
            out.len()
        });
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_decode, bench_encode
}
criterion_main!(benches);
