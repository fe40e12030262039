//! Pub/sub fan-out benchmark: one publisher, many subscribers of one
//! channel, against one or more servers in turn (shardcache and
//! redis-server in the same run, see tools/pubsub_fanout.sh).
//!
//! Two phases per server:
//! - throughput: the publisher pipelines PUBLISHes (a window of
//!   `--window` unanswered) as fast as the server takes them; reported:
//!   messages published per second and deliveries per second, from the
//!   first PUBLISH to the last delivery;
//! - latency: PUBLISH at a fixed `--rate` per second; each message carries
//!   its send time, and every delivery's latency (send to read by the
//!   subscriber) goes into a histogram: p50, p99, p99.9, max.
//!
//! Subscribers are read by `--readers` threads (mio); every delivery is
//! checked to arrive in publish order. Bounded: `--messages` per phase and
//! `--timeout` seconds per phase.

use clap::Parser;
use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "One publisher, many subscribers: messages/s and delivery latency")]
struct Args {
    /// Servers to measure, in turn (`name=host:port`).
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    /// Subscriber connections.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Messages published per phase.
    #[arg(long, default_value_t = 2000)]
    messages: u64,
    /// Unanswered PUBLISHes in the throughput phase.
    #[arg(long, default_value_t = 32)]
    window: u64,
    /// Messages per second in the latency phase.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// Payload bytes (at least the 20 that carry sequence and send time).
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// Reader threads.
    #[arg(long, default_value_t = 2)]
    readers: usize,
    /// Seconds a phase may take.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Print one JSON line per target too.
    #[arg(long)]
    json: bool,
}

fn cmd(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Reads from a blocking stream until `want` CRLF-terminated lines came.
fn read_lines(s: &mut std::net::TcpStream, want: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while buf.windows(2).filter(|w| w == b"\r\n").count() < want {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf)
}

/// What one reader thread saw in a phase.
struct Seen {
    hist: Histogram<u64>,
    deliveries: u64,
    out_of_order: u64,
    last_ns: u64,
}

/// One subscriber connection being read.
struct Sub {
    stream: TcpStream,
    buf: Vec<u8>,
    next_seq: u64,
}

/// Parses complete `*3 message ch payload` frames from `sub.buf`; the
/// payload starts with `seq:send_ns:`.
fn parse(sub: &mut Sub, epoch: Instant, seen: &mut Seen) {
    let mut pos = 0;
    let b = &sub.buf;
    // *3\r\n$7\r\nmessage\r\n$L\r\n<ch>\r\n$L\r\n<payload>\r\n
    while let Some((len, payload)) = frame_at(&b[pos..]) {
        let text = std::str::from_utf8(payload).unwrap_or("");
        let mut it = text.split(':');
        let seq: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
        let sent: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let now = epoch.elapsed().as_nanos() as u64;
        let _ = seen.hist.record((now.saturating_sub(sent) / 1000).max(1));
        if seq != sub.next_seq {
            seen.out_of_order += 1;
        }
        sub.next_seq = seq.wrapping_add(1);
        seen.deliveries += 1;
        seen.last_ns = now;
        pos += len;
    }
    sub.buf.drain(..pos);
}

/// The length of the frame at the start of `b` and its last element.
fn frame_at(b: &[u8]) -> Option<(usize, &[u8])> {
    let mut p = 0;
    let line = |p: usize| -> Option<(usize, usize)> {
        let i = memchr::memmem::find(&b[p..], b"\r\n")?;
        Some((p, p + i))
    };
    let (s, e) = line(p)?;
    let n: usize = std::str::from_utf8(&b[s + 1..e]).ok()?.parse().ok()?;
    p = e + 2;
    let mut last = &b[0..0];
    for _ in 0..n {
        let (s, e) = line(p)?;
        let len: usize = std::str::from_utf8(&b[s + 1..e]).ok()?.parse().ok()?;
        let start = e + 2;
        if b.len() < start + len + 2 {
            return None;
        }
        last = &b[start..start + len];
        p = start + len + 2;
    }
    Some((p, last))
}

fn reader(
    mut subs: Vec<Sub>,
    epoch: Instant,
    phases: usize,
    expect: Arc<AtomicU64>,
    go: Arc<Barrier>,
    done: Arc<Barrier>,
    timeout: Duration,
) -> Vec<Seen> {
    let mut poll = Poll::new().expect("poll");
    for (i, s) in subs.iter_mut().enumerate() {
        poll.registry()
            .register(&mut s.stream, Token(i), Interest::READABLE)
            .expect("register");
    }
    let mut events = Events::with_capacity(1024);
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    for _ in 0..phases {
        go.wait();
        for s in subs.iter_mut() {
            s.next_seq = 0;
        }
        let mut seen = Seen {
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram"),
            deliveries: 0,
            out_of_order: 0,
            last_ns: 0,
        };
        let want = expect.load(Ordering::Relaxed) * subs.len() as u64;
        let deadline = Instant::now() + timeout;
        while seen.deliveries < want && Instant::now() < deadline {
            let _ = poll.poll(&mut events, Some(Duration::from_millis(50)));
            for ev in events.iter() {
                let s = &mut subs[ev.token().0];
                loop {
                    match s.stream.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => {
                            s.buf.extend_from_slice(&chunk[..n]);
                            parse(s, epoch, &mut seen);
                        }
                        Err(_) => break,
                    }
                }
            }
        }
        out.push(seen);
        done.wait();
    }
    out
}

struct Report {
    publish_per_s: f64,
    deliveries_per_s: f64,
    lat: Histogram<u64>,
    lost: u64,
    out_of_order: u64,
}

fn run_target(name: &str, addr: SocketAddr, a: &Args) -> Result<(Report, Report), String> {
    let channel = format!("fanout:{}", std::process::id());
    let epoch = Instant::now();
    // Subscribers, spread over the readers.
    let mut groups: Vec<Vec<Sub>> = (0..a.readers).map(|_| Vec::new()).collect();
    for i in 0..a.subscribers {
        let mut s = std::net::TcpStream::connect(addr).map_err(|e| format!("{name}: {e}"))?;
        s.set_nodelay(true).ok();
        s.write_all(&cmd(&[b"SUBSCRIBE", channel.as_bytes()]))
            .map_err(|e| e.to_string())?;
        read_lines(&mut s, 6).map_err(|e| format!("{name}: subscribe: {e}"))?;
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
        groups[i % a.readers].push(Sub {
            stream: TcpStream::from_std(s),
            buf: Vec::new(),
            next_seq: 0,
        });
    }
    let mut publisher = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    publisher.set_nodelay(true).ok();
    publisher
        .write_all(&cmd(&[b"PUBSUB", b"NUMSUB", channel.as_bytes()]))
        .map_err(|e| e.to_string())?;
    let numsub = read_lines(&mut publisher, 4).map_err(|e| e.to_string())?;
    let expect_line = format!(":{}\r\n", a.subscribers);
    if !numsub.ends_with(expect_line.as_bytes()) {
        return Err(format!(
            "{name}: PUBSUB NUMSUB: {}",
            String::from_utf8_lossy(&numsub)
        ));
    }
    let expect = Arc::new(AtomicU64::new(a.messages));
    let go = Arc::new(Barrier::new(a.readers + 1));
    let done = Arc::new(Barrier::new(a.readers + 1));
    let handles: Vec<_> = groups
        .into_iter()
        .map(|g| {
            let (expect, go, done) = (expect.clone(), go.clone(), done.clone());
            let timeout = Duration::from_secs(a.timeout);
            std::thread::spawn(move || reader(g, epoch, 2, expect, go, done, timeout))
        })
        .collect();
    let pad = "x".repeat(a.size.saturating_sub(21));
    let mut replies = Vec::new();
    let mut times = Vec::new();
    for phase in 0..2 {
        go.wait();
        let start = Instant::now();
        let deadline = start + Duration::from_secs(a.timeout);
        let mut sent = 0u64;
        let mut answered = 0u64;
        let mut rbuf = [0u8; 65536];
        let mut pending = Vec::new();
        while answered < a.messages && Instant::now() < deadline {
            let window = if phase == 0 { a.window } else { 1 };
            pending.clear();
            while sent < a.messages && sent - answered < window {
                if phase == 1 {
                    // Paced: message n leaves at n / rate seconds.
                    let due = start + Duration::from_nanos(sent * 1_000_000_000 / a.rate.max(1));
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                }
                let payload = format!("{sent}:{}:{pad}", epoch.elapsed().as_nanos() as u64);
                pending.extend(cmd(&[b"PUBLISH", channel.as_bytes(), payload.as_bytes()]));
                sent += 1;
                if phase == 1 {
                    break;
                }
            }
            if !pending.is_empty() {
                publisher.write_all(&pending).map_err(|e| e.to_string())?;
            }
            let n = publisher.read(&mut rbuf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err(format!("{name}: publisher closed"));
            }
            replies.extend_from_slice(&rbuf[..n]);
            let lines = replies.iter().filter(|&&c| c == b'\n').count() as u64;
            answered += lines;
            let keep = replies
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(0, |i| i + 1);
            replies.drain(..keep);
        }
        let published = start.elapsed();
        // The readers finish (or time out).
        done.wait();
        times.push((start, published));
    }
    let seen: Vec<Vec<Seen>> = handles
        .into_iter()
        .map(|h| h.join().expect("reader"))
        .collect();
    let mut reports = Vec::new();
    for (phase, (start, published)) in times.into_iter().enumerate() {
        let mut lat = Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram");
        let (mut got, mut ooo, mut last) = (0u64, 0u64, 0u64);
        for r in &seen {
            let s = &r[phase];
            lat.add(&s.hist).ok();
            got += s.deliveries;
            ooo += s.out_of_order;
            last = last.max(s.last_ns);
        }
        let start_ns = start.duration_since(epoch).as_nanos() as u64;
        let span = Duration::from_nanos(last.saturating_sub(start_ns)).max(published);
        reports.push(Report {
            publish_per_s: a.messages as f64 / published.as_secs_f64(),
            deliveries_per_s: got as f64 / span.as_secs_f64(),
            lat,
            lost: a.messages * a.subscribers as u64 - got.min(a.messages * a.subscribers as u64),
            out_of_order: ooo,
        });
    }
    let latency = reports.pop().expect("two phases");
    let throughput = reports.pop().expect("two phases");
    Ok((throughput, latency))
}

fn main() {
    let a = Args::parse();
    println!(
        "pubsub fan-out: 1 publisher, {} subscribers ({} reader threads), {} messages of {} bytes per phase",
        a.subscribers, a.readers, a.messages, a.size
    );
    println!(
        "{:<12} {:>14} {:>16} | {:>9} {:>9} {:>9} {:>9} {:>9} (latency phase at {}/s, us)",
        "server", "publish/s", "deliveries/s", "p50", "p99", "p99.9", "max", "lost", a.rate
    );
    let mut failed = false;
    for t in &a.targets {
        let (name, addr) = t.split_once('=').unwrap_or(("server", t));
        let addr: SocketAddr = match addr.parse() {
            Ok(x) => x,
            Err(e) => {
                eprintln!("{t}: {e}");
                std::process::exit(2);
            }
        };
        match run_target(name, addr, &a) {
            Err(e) => {
                eprintln!("{name}: {e}");
                failed = true;
            }
            Ok((tp, lat)) => {
                let l = &lat.lat;
                println!(
                    "{:<12} {:>14.0} {:>16.0} | {:>9} {:>9} {:>9} {:>9} {:>9}",
                    name,
                    tp.publish_per_s,
                    tp.deliveries_per_s,
                    l.value_at_quantile(0.5),
                    l.value_at_quantile(0.99),
                    l.value_at_quantile(0.999),
                    l.max(),
                    tp.lost + lat.lost,
                );
                if tp.out_of_order + lat.out_of_order > 0 {
                    eprintln!(
                        "{name}: {} deliveries out of publish order",
                        tp.out_of_order + lat.out_of_order
                    );
                    failed = true;
                }
                if a.json {
                    println!(
                        "{{\"server\":\"{name}\",\"publish_per_s\":{:.0},\"deliveries_per_s\":{:.0},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\"lost\":{}}}",
                        tp.publish_per_s,
                        tp.deliveries_per_s,
                        l.value_at_quantile(0.5),
                        l.value_at_quantile(0.99),
                        l.value_at_quantile(0.999),
                        l.max(),
                        tp.lost + lat.lost
                    );
                }
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
