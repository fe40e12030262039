//! Lists against a live `redis-server` (7.0): the same random commands on
//! both sides, replies compared. Also holds the small server harness the
//! sorted-set comparison uses.
//!
//! Each test starts its own `redis-server` on a free loopback port and
//! stops it. Without `redis-server` on PATH the tests skip, unless `CI` is
//! set, when they fail.

use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

impl Resp {
    pub(crate) fn bulk(b: &[u8]) -> Resp {
        Resp::Bulk(Some(b.to_vec()))
    }
    pub(crate) fn array<T: AsRef<[u8]>>(v: impl IntoIterator<Item = T>) -> Resp {
        Resp::Array(Some(
            v.into_iter().map(|b| Resp::bulk(b.as_ref())).collect(),
        ))
    }
}

/// A `redis-server` of this test's own, stopped on drop.
pub(crate) struct Server {
    child: Child,
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// A fresh server, or None (with a message) when there is none to run
    /// and `CI` is unset.
    pub(crate) fn start(test: &str) -> Option<Server> {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free loopback port");
            let spawned = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let mut child = match spawned {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    assert!(
                        std::env::var_os("CI").is_none(),
                        "redis-server is not on PATH (required when CI is set)"
                    );
                    let _ = writeln!(std::io::stderr(), "skipping {test}: no redis-server");
                    return None;
                }
                Err(e) => panic!("starting redis-server: {e}"),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken meanwhile: try another
                }
                if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    let mut srv = Server {
                        w: s.try_clone().unwrap(),
                        r: BufReader::new(s),
                        child,
                    };
                    // Someone else's server may have taken the port first.
                    let info = srv.cmd(&["INFO", "server"]);
                    let ours = format!("process_id:{}\r\n", srv.child.id());
                    match info {
                        Resp::Bulk(Some(b)) if String::from_utf8_lossy(&b).contains(&ours) => {
                            return Some(srv)
                        }
                        _ => break,
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("redis-server did not start");
    }

    /// Sends a command, returns its reply.
    pub(crate) fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Resp {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            let a = a.as_ref();
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&out).unwrap();
        self.read()
    }

    fn read(&mut self) -> Resp {
        let mut line = Vec::new();
        self.r.read_until(b'\n', &mut line).unwrap();
        assert!(line.ends_with(b"\r\n"), "bad reply line {line:?}");
        let text = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        match line[0] {
            b'+' => Resp::Simple(text),
            b'-' => Resp::Error(text),
            b':' => Resp::Int(text.parse().unwrap()),
            b'$' => {
                let n: i64 = text.parse().unwrap();
                if n < 0 {
                    return Resp::Bulk(None);
                }
                let mut b = vec![0u8; n as usize + 2];
                self.r.read_exact(&mut b).unwrap();
                b.truncate(n as usize);
                Resp::Bulk(Some(b))
            }
            b'*' => {
                let n: i64 = text.parse().unwrap();
                if n < 0 {
                    return Resp::Array(None);
                }
                Resp::Array(Some((0..n).map(|_| self.read()).collect()))
            }
            c => panic!("unknown reply type {c}"),
        }
    }
}

pub(crate) struct Rng(pub(crate) u64);
impl Rng {
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

fn elem(r: &mut Rng) -> Vec<u8> {
    let v = b'a' + r.below(3) as u8;
    match r.below(50) {
        0 => vec![v; 5000 + r.below(5000) as usize],
        1..=5 => vec![v; 64 + r.below(200) as usize],
        _ => vec![v; r.below(4) as usize],
    }
}

fn s(x: impl ToString) -> Vec<u8> {
    x.to_string().into_bytes()
}

/// Random list commands on Redis and on a `ListValue`; replies compared.
fn differential(srv: &mut Server, seed: u64, fill: i64, steps: usize) {
    srv.cmd(&[&b"CONFIG"[..], b"SET", b"list-max-listpack-size", &s(fill)]);
    srv.cmd(&["FLUSHALL"]);
    let mut r = Rng(seed);
    let mut l = ListValue::new(fill);
    let mut longest = 0;
    for step in 0..steps {
        longest = longest.max(l.len());
        let n = l.len() as i64;
        let k = b"k".to_vec();
        let (args, want): (Vec<Vec<u8>>, Resp) = match r.below(16) {
            0..=3 => {
                let side = r.below(2) == 0;
                let elems: Vec<Vec<u8>> = (0..1 + r.below(40)).map(|_| elem(&mut r)).collect();
                for e in &elems {
                    l.push(if side { Side::Left } else { Side::Right }, e);
                }
                let mut a = vec![s(if side { "LPUSH" } else { "RPUSH" }), k];
                a.extend(elems);
                (a, Resp::Int(l.len() as i64))
            }
            4 => {
                let side = if r.below(2) == 0 {
                    Side::Left
                } else {
                    Side::Right
                };
                let name = s(if side == Side::Left { "LPOP" } else { "RPOP" });
                if r.below(2) == 0 {
                    let got = l.pop(side);
                    (vec![name, k], Resp::Bulk(got))
                } else {
                    let c = r.below(5);
                    let got = l.pop_many(side, c as usize);
                    let want = if n == 0 {
                        Resp::Array(None)
                    } else {
                        Resp::array(got)
                    };
                    (vec![name, k, s(c)], want)
                }
            }
            5 => {
                let i = r.range(-n - 2, n + 1);
                (
                    vec![s("LINDEX"), k, s(i)],
                    Resp::Bulk(l.get(i).map(<[u8]>::to_vec)),
                )
            }
            6 => {
                let i = r.range(-n - 2, n + 1);
                let e = elem(&mut r);
                let want = if n == 0 {
                    Resp::Error("ERR no such key".into())
                } else if l.set(i, &e) {
                    Resp::Simple("OK".into())
                } else {
                    Resp::Error("ERR index out of range".into())
                };
                (vec![s("LSET"), k, s(i), e], want)
            }
            7 => {
                let (a, b) = (r.range(-n - 3, n + 3), r.range(-n - 3, n + 3));
                (vec![s("LRANGE"), k, s(a), s(b)], Resp::array(l.range(a, b)))
            }
            8 => {
                let pivot = elem(&mut r);
                let e = elem(&mut r);
                let before = r.below(2) == 0;
                let want = if n == 0 {
                    0
                } else {
                    l.insert_pivot(&pivot, &e, before).map_or(-1, |x| x as i64)
                };
                let w = s(if before { "BEFORE" } else { "AFTER" });
                (vec![s("LINSERT"), k, w, pivot, e], Resp::Int(want))
            }
            9 => {
                let e = elem(&mut r);
                let c = r.range(-3, 3);
                (
                    vec![s("LREM"), k, s(c), e.clone()],
                    Resp::Int(l.remove(c, &e) as i64),
                )
            }
            10 if r.below(3) == 0 => {
                let (a, b) = (r.range(-n - 3, n + 3), r.range(-n - 3, n + 3));
                l.trim(a, b);
                (vec![s("LTRIM"), k, s(a), s(b)], Resp::Simple("OK".into()))
            }
            11 => {
                let e = elem(&mut r);
                let rank = match r.range(-3, 3) {
                    0 => 1,
                    x => x,
                };
                let mut a = vec![s("LPOS"), k, e.clone(), s("RANK"), s(rank)];
                let maxlen = r.below(3) * r.below(n as u64 + 1);
                if maxlen > 0 {
                    a.extend([s("MAXLEN"), s(maxlen)]);
                }
                let want = if r.below(2) == 0 {
                    let c = r.below(4);
                    a.extend([s("COUNT"), s(c)]);
                    let p = l.positions(&e, rank, c as usize, maxlen as usize);
                    Resp::Array(Some(p.into_iter().map(|x| Resp::Int(x as i64)).collect()))
                } else {
                    match l.positions(&e, rank, 1, maxlen as usize).first() {
                        Some(&x) => Resp::Int(x as i64),
                        None => Resp::Bulk(None),
                    }
                };
                (a, want)
            }
            12 => {
                // LMOVE k k (rotation) in any direction.
                let (from, to) = (r.below(2) == 0, r.below(2) == 0);
                let side = |left: bool| if left { Side::Left } else { Side::Right };
                let got = l.pop(side(from));
                if let Some(e) = &got {
                    l.push(side(to), e);
                }
                let w = |left: bool| s(if left { "LEFT" } else { "RIGHT" });
                (
                    vec![s("LMOVE"), k.clone(), k, w(from), w(to)],
                    Resp::Bulk(got),
                )
            }
            _ => (vec![s("LLEN"), k], Resp::Int(l.len() as i64)),
        };
        let got = srv.cmd(&args);
        assert_eq!(
            got,
            want,
            "step {step}: {:?}",
            args.iter()
                .map(|a| String::from_utf8_lossy(&a[..a.len().min(20)]).into_owned())
                .collect::<Vec<_>>()
        );
        if l.is_empty() {
            l = ListValue::new(fill);
        }
        if step % 50 == 0 {
            assert_eq!(srv.cmd(&["LRANGE", "k", "0", "-1"]), Resp::array(l.iter()));
        }
    }
    assert!(longest > 200, "lists stayed short: {longest}");
}

#[test]
fn list_commands_match_redis() {
    let Some(mut srv) = Server::start("list_commands_match_redis") else {
        return;
    };
    assert_eq!(srv.cmd(&["RPUSH", "one", "x"]), Resp::Int(1));
    assert_eq!(
        srv.cmd(&["OBJECT", "ENCODING", "one"]),
        Resp::bulk(ListValue::default().encoding_name().as_bytes())
    );
    for (seed, fill) in [(1u64, -2i64), (2, 3), (3, -1), (4, 1)] {
        differential(
            &mut srv,
            seed.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            fill,
            3000,
        );
    }
}
