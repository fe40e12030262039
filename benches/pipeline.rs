//! One worker round end to end, in process: decode N pipelined frames,
//! `commands::dispatch` them into a `Router`, exchange the batch with one real
//! shard thread (`shards::shard::run` over crossbeam channels, wired as
//! `server::start` wires them), and deliver the replies into a `Vec<u8>`.
//! Neither the round nor the shard touches a socket, and the shard runs
//! without an AOF (`Persist::off()`), so this is the in-memory path only.
//!
//! `dispatch` and `Router::deliver` need a `&Shared`: built directly with
//! `Shared::new`, no server or socket involved.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-bench cargo bench -p shardcache --bench pipeline`

use clap::Parser;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam_channel::unbounded;
use shardcache::commands::{self, Session};
use shardcache::config::{Config, PROTO_MAX_BULK_LEN};
use shardcache::exchange::{ReplySink, Router};
use shardcache::resp::{Args, Decoded, Decoder};
use shardcache::shared::Shared;
use shards::ops::Persist;
use shards::{Batch, Store};
use std::sync::Arc;
use std::time::Duration;

/// Distinct keys the rounds cycle through.
const KEYS: usize = 100_000;
const VALUE_LEN: usize = 100;
/// The connection token every command is dispatched for.
const CONN: usize = 0;

/// The single connection's output buffer.
struct Sink(Vec<u8>);

impl ReplySink for Sink {
    fn out(&mut self, token: usize) -> Option<&mut Vec<u8>> {
        (token == CONN).then_some(&mut self.0)
    }
}

/// A worker's round state, minus the sockets.
struct Round {
    shared: Arc<Shared>,
    decoder: Decoder,
    args: Args,
    session: Session,
    router: Router,
    sink: Sink,
}

impl Round {
    fn new(shared: Arc<Shared>) -> Self {
        // As server::start: one request queue per shard, one reply queue per worker.
        let (reply_tx, replies) = unbounded::<Batch>();
        let (tx, rx) = unbounded::<Batch>();
        let shard = std::thread::Builder::new()
            .name("bench-shard".into())
            .spawn(move || {
                let replies = vec![shards::shard::Outbox::new(reply_tx)];
                shards::shard::run(Store::default(), Persist::off(), rx, replies)
            })
            .expect("spawn shard");
        let tx = shards::shard::ShardTx::new(tx, shard.thread().clone());
        let order = shared.order.clone();
        Round {
            shared,
            decoder: Decoder::default(),
            args: Args::default(),
            session: Session::default(),
            router: Router::new(0, vec![tx], replies, order, commands::count()),
            sink: Sink(Vec::new()),
        }
    }

    /// Decode every frame of `buf`, dispatch, exchange, deliver; returns the reply bytes.
    fn run(&mut self, buf: &[u8]) -> usize {
        let now = shards::clock::unix_ms();
        let mut pos = 0;
        loop {
            let (what, n) = self
                .decoder
                .decode(&buf[pos..], &mut self.args, PROTO_MAX_BULK_LEN)
                .expect("valid RESP");
            pos += n;
            match what {
                Decoded::Command if self.args.is_empty() => {}
                Decoded::Command => commands::dispatch(
                    None,
                    &self.args,
                    CONN,
                    &mut self.session,
                    &mut self.router,
                    &self.shared,
                    now,
                ),
                Decoded::Incomplete => break,
            }
        }
        if self.router.has_pending() {
            self.router.exchange();
            self.router.deliver(&mut self.sink, &self.shared);
        }
        let written = self.sink.0.len();
        self.sink.0.clear();
        written
    }
}

fn multibulk(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Read buffers of `n` frames each, together covering every key once.
fn rounds(n: usize, set: bool) -> Vec<Vec<u8>> {
    let value = vec![b'v'; VALUE_LEN];
    (0..KEYS.div_ceil(n))
        .map(|r| {
            let mut buf = Vec::new();
            for i in r * n..(r + 1) * n {
                let key = format!("key:{:08}", i % KEYS);
                if set {
                    multibulk(&mut buf, &[b"SET", key.as_bytes(), &value]);
                } else {
                    multibulk(&mut buf, &[b"GET", key.as_bytes()]);
                }
            }
            buf
        })
        .collect()
}

fn bench_shared() -> Arc<Shared> {
    let config = Config::parse_from([
        "shardcache",
        "--port",
        "0",
        "--workers",
        "1",
        "--shards",
        "1",
        "--no-pin",
        "--appendonly",
        "no",
    ]);
    Arc::new(Shared::new(
        config,
        "127.0.0.1:0".parse().expect("address"),
        commands::count(),
    ))
}

fn bench_round(c: &mut Criterion) {
    let mut round = Round::new(bench_shared());
    // Fill the shard so every GET hits; check the replies are what a client expects.
    for buf in rounds(128, true) {
        assert_eq!(round.run(&buf), 128 * b"+OK\r\n".len());
    }
    let hit = format!("${VALUE_LEN}\r\n").len() + VALUE_LEN + 2;
    assert_eq!(round.run(&rounds(16, false)[0]), 16 * hit);

    for (name, set) in [("get", false), ("set_100B", true)] {
        let mut g = c.benchmark_group(format!("round_{name}"));
        for n in [1usize, 16, 128] {
            let bufs = rounds(n, set);
            g.throughput(Throughput::Elements(n as u64));
            let mut r = 0usize;
            g.bench_function(BenchmarkId::from_parameter(n), |b| {
                b.iter(|| {
                    let written = round.run(black_box(&bufs[r % bufs.len()]));
                    r += 1;
                    written
                })
            });
        }
        g.finish();
    }
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
    targets = bench_round
}
criterion_main!(benches);
