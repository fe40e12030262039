//! Many clients at once, each with its own connection.

mod common;

use common::{cmd, Server};
use redis::Commands;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

const CLIENTS: usize = 200;
const OPS: usize = 1000;

#[test]
fn many_clients_set_get_their_own_keys() {
    let s = Server::start(&["--workers", "2", "--shards", "2"]);
    let connected = Arc::new(Barrier::new(CLIENTS + 1));
    let go = Arc::new(Barrier::new(CLIENTS + 1));
    let start = Instant::now();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|t| {
            let mut c = s.client();
            let (connected, go) = (connected.clone(), go.clone());
            thread::Builder::new()
                .name(format!("client-{t}"))
                .stack_size(512 * 1024)
                .spawn(move || {
                    connected.wait();
                    go.wait();
                    for i in 0..OPS {
                        let key = format!("c{t}:k{i}");
                        let value = format!("{t}-{i}-{}", "v".repeat(i % 32));
                        let () = c.set(&key, &value).unwrap();
                        let got: String = c.get(&key).unwrap();
                        assert_eq!(got, value, "client {t} op {i}");
                    }
                    // Read every key back once more, in one MGET per 100 keys.
                    for base in (0..OPS).step_by(100) {
                        let keys: Vec<String> =
                            (base..base + 100).map(|i| format!("c{t}:k{i}")).collect();
                        let got: Vec<String> = c.mget(&keys).unwrap();
                        for (j, v) in got.iter().enumerate() {
                            let i = base + j;
                            assert_eq!(*v, format!("{t}-{i}-{}", "v".repeat(i % 32)));
                        }
                    }
                })
                .expect("spawn client thread")
        })
        .collect();
    connected.wait();
    // All 200 connections are open at once (plus the one asking).
    assert_eq!(
        s.info_int("clients", "connected_clients"),
        CLIENTS as i64 + 1
    );
    go.wait();
    let mut failed = 0;
    for h in handles {
        if h.join().is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, 0, "{failed} client threads failed");
    let elapsed = start.elapsed();
    eprintln!("{CLIENTS} clients x {OPS} SET+GET in {elapsed:?}");
    let mut c = s.client();
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, (CLIENTS * OPS) as i64);
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}

#[test]
fn concurrent_writers_to_the_same_keys_leave_a_written_value() {
    // Every client overwrites the same 50 keys; each final value must be one
    // that some client wrote, intact.
    let s = Server::start(&["--shards", "3"]);
    let handles: Vec<_> = (0..16)
        .map(|t| {
            let mut r = s.raw();
            thread::spawn(move || {
                let mut input = Vec::new();
                for round in 0..20 {
                    for k in 0..50 {
                        let v = format!("{t}:{round}:{}", "x".repeat(100 + t));
                        input.extend_from_slice(&cmd(&["SET", &format!("shared{k}"), &v]));
                    }
                }
                r.send(&input);
                r.expect(&b"+OK\r\n".repeat(20 * 50));
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut r = s.raw();
    for k in 0..50 {
        let v = r.call(&["GET", &format!("shared{k}")]).bulk_string();
        let mut parts = v.splitn(3, ':');
        let t: usize = parts.next().unwrap().parse().unwrap();
        let round: usize = parts.next().unwrap().parse().unwrap();
        assert!(t < 16 && round == 19, "shared{k} = {v}");
        assert_eq!(parts.next().unwrap(), "x".repeat(100 + t), "shared{k} torn");
    }
    assert_eq!(r.call(&["DBSIZE"]).int(), 50);
}

#[test]
fn connections_open_and_close_in_a_loop() {
    let s = Server::start(&[]);
    let start = Instant::now();
    for i in 0..300 {
        let mut r = s.raw();
        r.send(&cmd(&["SET", &format!("k{i}"), "v"]));
        r.expect(b"+OK\r\n");
        if i % 3 == 0 {
            r.send(b"QUIT\r\n");
            r.expect(b"+OK\r\n");
            r.assert_closed();
        }
        if start.elapsed() > Duration::from_secs(20) {
            panic!("300 connections took over 20 s");
        }
    }
    let mut r = s.raw();
    r.send(&cmd(&["DBSIZE"]));
    r.expect(b":300\r\n");
    assert!(
        common::wait_until(Duration::from_secs(2), || s
            .info_int("clients", "connected_clients")
            == 2),
        "connected_clients did not settle at 2 (this one and the INFO connection)"
    );
    let total = s.info_int("stats", "total_connections_received");
    assert!(total >= 302, "total_connections_received {total}");
}
