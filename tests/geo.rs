//! Geo commands through real clients: the `redis` crate and raw RESP2 /
//! RESP3 bytes; a seeded port of Redis's "GEOSEARCH fuzzy test" (every
//! search checked against a brute-force distance scan); the same random
//! commands sent to a real `redis-server` 7.0.15 and compared reply for
//! reply (skipped when it is not installed, failing under `CI`); random
//! argument soup (no panic, the server keeps answering); the AOF
//! replaying GEOADD and GEOSEARCHSTORE as ZADD records; and a
//! GEOSEARCHSTORE across shards seen whole by transactions.

mod common;

use common::proc::{tempdir, Proc};
use common::{Raw, Reply, Rng, Server};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")))
}

#[test]
fn redis_crate_round_trip() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    let added: i64 = q(
        &mut c,
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
    );
    assert_eq!(added, 2);
    // Scores are Redis's 52-bit geohashes, readable as a plain sorted set.
    let scores: Vec<(String, f64)> = q(&mut c, &["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"]);
    assert_eq!(
        scores,
        vec![
            ("Palermo".to_string(), 3479099956230698.0),
            ("Catania".to_string(), 3479447370796909.0)
        ]
    );
    let d: String = q(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania", "km"]);
    assert_eq!(d, "166.2742");
    let h: Vec<Option<String>> = q(&mut c, &["GEOHASH", "Sicily", "Palermo", "nope"]);
    assert_eq!(h, vec![Some("sqc8b49rny0".to_string()), None]);
    let pos: Vec<Option<(String, String)>> = q(&mut c, &["GEOPOS", "Sicily", "Catania", "nope"]);
    assert_eq!(
        pos,
        vec![
            Some((
                "15.08726745843887329".to_string(),
                "37.50266842333162032".to_string()
            )),
            None
        ]
    );
    let near: Vec<(String, String)> = q(
        &mut c,
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "ASC",
            "WITHDIST",
        ],
    );
    assert_eq!(
        near,
        vec![
            ("Catania".to_string(), "56.4413".to_string()),
            ("Palermo".to_string(), "190.4424".to_string())
        ]
    );
    // A sorted set built with ZADD of those scores is a geo set.
    let _: i64 = q(&mut c, &["ZADD", "copy", "3479447370796909", "Catania"]);
    let one: Vec<String> = q(
        &mut c,
        &["GEORADIUS", "copy", "15", "37", "100", "km", "COUNT", "1"],
    );
    assert_eq!(one, vec!["Catania".to_string()]);
    let stored: i64 = q(
        &mut c,
        &[
            "GEOSEARCHSTORE",
            "far",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "500",
            "km",
            "STOREDIST",
        ],
    );
    assert_eq!(stored, 2);
    let dist: Vec<(String, f64)> = q(&mut c, &["ZRANGE", "far", "0", "-1", "WITHSCORES"]);
    assert_eq!(dist[0], ("Palermo".to_string(), 0.0));
    assert!((dist[1].1 - 166.2742).abs() < 0.0001, "{dist:?}");
    let err = redis::cmd("GEOSEARCH")
        .arg(&["Sicily", "FROMMEMBER", "nope", "BYRADIUS", "1", "km"])
        .query::<redis::Value>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("could not decode requested zset member"),
        "{err}"
    );
}

#[test]
fn raw_reply_bytes_resp2_and_resp3() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    r.send_cmd(&["GEOADD", "k", "13.361389", "38.115556", "Palermo"]);
    r.expect(b":1\r\n");
    r.send_cmd(&["GEOPOS", "k", "Palermo", "nope"]);
    r.expect(b"*2\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*-1\r\n");
    r.send_cmd(&["GEOHASH", "k", "nope"]);
    r.expect(b"*1\r\n$-1\r\n");
    r.send_cmd(&[
        "GEOSEARCH",
        "k",
        "FROMLONLAT",
        "13",
        "38",
        "BYBOX",
        "100",
        "100",
        "km",
        "WITHHASH",
        "WITHDIST",
    ]);
    r.expect(b"*1\r\n*3\r\n$7\r\nPalermo\r\n$7\r\n34.1601\r\n:3479099956230698\r\n");
    r.send_cmd(&["GEOADD", "k", "181", "0", "bad"]);
    r.expect(b"-ERR invalid longitude,latitude pair 181.000000,0.000000\r\n");
    r.send_cmd(&["HELLO", "3"]);
    skip_hello(&mut r);
    r.send_cmd(&["GEOPOS", "k", "Palermo", "nope"]);
    r.expect(b"*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n");
    r.send_cmd(&["GEODIST", "k", "Palermo", "nope"]);
    r.expect(b"_\r\n");
    r.send_cmd(&[
        "GEORADIUS",
        "k",
        "13",
        "38",
        "100",
        "km",
        "WITHCOORD",
        "WITHDIST",
    ]);
    r.expect(
        b"*1\r\n*3\r\n$7\r\nPalermo\r\n$7\r\n34.1601\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n",
    );
}

/// Reads past a HELLO 3 reply (a map whose last field is `modules`).
fn skip_hello(r: &mut Raw) {
    let end = b"modules\r\n*0\r\n";
    let mut seen = Vec::new();
    while !seen.ends_with(end) {
        seen.extend(r.read_n(1));
        assert!(seen.len() < 4096, "no HELLO reply end in {seen:?}");
    }
}

/// Haversine, as Redis computes it, in meters.
fn haversine(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let r = std::f64::consts::PI / 180.0;
    let (lat1, lon1, lat2, lon2) = (lat1 * r, lon1 * r, lat2 * r, lon2 * r);
    let u = ((lat2 - lat1) / 2.0).sin();
    let v = ((lon2 - lon1) / 2.0).sin();
    2.0 * 6372797.560856 * (u * u + lat1.cos() * lat2.cos() * v * v).sqrt().asin()
}

fn unit_rand(rng: &mut Rng) -> f64 {
    (rng.next() >> 11) as f64 / (1u64 << 53) as f64
}

/// Redis's geo.tcl "GEOSEARCH fuzzy test", seeded: points scattered
/// around a random centre, then radius and box searches whose results
/// must be exactly the points a brute-force scan of their stored positions
/// finds inside, give or take points within a millimetre of the edge.
/// Raw: the GEORADIUS reply checked below is what Redis 7.0.15 answers.
#[test]
fn fuzzy_search_matches_brute_force() {
    let s = Server::embedded(&[]);
    let mut c = s.client();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let started = Instant::now();
    for round in 0..40 {
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
        let _: () = q(&mut c, &["DEL", "points"]);
        // Away from the antimeridian, which Redis's search cells do not
        // wrap across (it misses points on the far side too).
        let lon = unit_rand(&mut rng) * 300.0 - 150.0;
        let lat = unit_rand(&mut rng) * 140.0 - 70.0;
        let radius_km = 1.0 + unit_rand(&mut rng) * 500.0;
        let mut add = redis::cmd("GEOADD");
        add.arg("points");
        for i in 0..400 {
            // Spread over about twice the radius, clamped to valid ranges.
            let spread = radius_km * 2.0 / 111.0;
            let plon =
                (lon + (unit_rand(&mut rng) * 2.0 - 1.0) * spread * 3.0).clamp(-180.0, 180.0);
            let plat = (lat + (unit_rand(&mut rng) * 2.0 - 1.0) * spread).clamp(-85.0, 85.0);
            add.arg(plon).arg(plat).arg(format!("p{i}"));
        }
        let _: i64 = add.query(&mut c).unwrap();
        let positions: Vec<(String, (f64, f64))> = {
            let names: Vec<String> = (0..400).map(|i| format!("p{i}")).collect();
            let mut g = redis::cmd("GEOPOS");
            g.arg("points").arg(&names);
            let pos: Vec<Option<(f64, f64)>> = g.query(&mut c).unwrap();
            names
                .into_iter()
                .zip(pos)
                .map(|(n, p)| (n, p.expect("every point was added")))
                .collect()
        };
        let boxed = round % 2 == 1;
        let (w_km, h_km) = (radius_km * 2.0, radius_km);
        let mut search = redis::cmd("GEOSEARCH");
        search.arg("points").arg("FROMLONLAT").arg(lon).arg(lat);
        if boxed {
            search.arg("BYBOX").arg(w_km).arg(h_km).arg("km");
        } else {
            search.arg("BYRADIUS").arg(radius_km).arg("km");
        }
        let found: Vec<String> = search.query(&mut c).unwrap();
        let found: std::collections::BTreeSet<String> = found.into_iter().collect();
        for (name, (plon, plat)) in &positions {
            // Signed distance to the edge, in meters: negative inside.
            let edge = if boxed {
                let dx = haversine(*plon, *plat, lon, *plat) - w_km * 500.0;
                let dy = haversine(*plon, *plat, *plon, lat) - h_km * 500.0;
                dx.max(dy)
            } else {
                haversine(lon, lat, *plon, *plat) - radius_km * 1000.0
            };
            if edge.abs() < 0.001 {
                continue;
            }
            assert_eq!(
                found.contains(name),
                edge < 0.0,
                "round {round}: {name} at {plon},{plat} is {edge} m from the edge of {} around {lon},{lat} r={radius_km}km",
                if boxed { "a box" } else { "a circle" }
            );
        }
    }
}

/// A `redis-server` on a free loopback port, killed when dropped.
struct Redis(Child, u16);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> Option<Redis> {
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-server is not installed"
        );
        eprintln!("note: redis-server is not on PATH; skipping the comparison");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Redis(child, port))
}

fn pick<'a>(rng: &mut Rng, from: &[&'a str]) -> &'a str {
    from[rng.below(from.len())]
}

fn coord(rng: &mut Rng, lo: f64, hi: f64) -> String {
    format!("{:.6}", lo + unit_rand(rng) * (hi - lo))
}

/// A random search command on `src` (all forms, all options, sometimes
/// wrong ones).
fn random_search(rng: &mut Rng, src: &str, dst: &str) -> Vec<String> {
    let center = |rng: &mut Rng| {
        if rng.below(3) == 0 {
            (format!("{}", rng.below(3)), format!("{}", rng.below(3)))
        } else {
            (coord(rng, -20.0, 20.0), coord(rng, -20.0, 20.0))
        }
    };
    let mut a: Vec<String> = Vec::new();
    let form = rng.below(6);
    let units = ["m", "km", "mi", "ft", "KM"];
    let radius = |rng: &mut Rng| format!("{}", rng.below(3000));
    match form {
        0 | 1 => {
            a.push(
                if form == 0 {
                    "GEORADIUS"
                } else {
                    "GEORADIUS_RO"
                }
                .into(),
            );
            a.push(src.into());
            let (x, y) = center(rng);
            a.extend([x, y, radius(rng), pick(rng, &units).into()]);
        }
        2 => {
            a.extend(["GEORADIUSBYMEMBER".into(), src.into()]);
            a.push(format!("m{}", rng.below(300)));
            a.extend([radius(rng), pick(rng, &units).into()]);
        }
        _ => {
            if form == 5 {
                a.extend(["GEOSEARCHSTORE".into(), dst.into(), src.into()]);
            } else {
                a.extend(["GEOSEARCH".into(), src.into()]);
            }
            if rng.below(2) == 0 {
                a.extend(["FROMMEMBER".into(), format!("m{}", rng.below(300))]);
            } else {
                let (x, y) = center(rng);
                a.extend(["FROMLONLAT".into(), x, y]);
            }
            if rng.below(2) == 0 {
                a.extend(["BYRADIUS".into(), radius(rng), pick(rng, &units).into()]);
            } else {
                a.extend(["BYBOX".into(), radius(rng), radius(rng)]);
                a.push(pick(rng, &units).into());
            }
        }
    }
    let store_ok = form == 0 || form == 2;
    for _ in 0..rng.below(4) {
        match rng.below(9) {
            0 => a.push("ASC".into()),
            1 => a.push("DESC".into()),
            2 => a.extend(["COUNT".into(), format!("{}", rng.below(12))]),
            3 => a.extend([
                "COUNT".into(),
                format!("{}", 1 + rng.below(5)),
                "ANY".into(),
            ]),
            4 if form != 5 && !store_ok => a.push("WITHDIST".into()),
            5 if form != 5 && !store_ok => a.push("WITHCOORD".into()),
            6 if form != 5 && !store_ok => a.push("WITHHASH".into()),
            7 if store_ok => a.extend([pick(rng, &["STORE", "STOREDIST"]).into(), dst.into()]),
            8 if form == 5 => a.push("STOREDIST".into()),
            _ => a.push("WITHDIST".into()),
        }
    }
    a
}

/// Reads a key back in a comparable form.
fn dump(r: &mut Raw, key: &str) -> Reply {
    r.call(&["ZRANGE", key, "0", "-1", "WITHSCORES"])
}

#[test]
fn random_commands_reply_as_redis_does() {
    let Some(redis) = start_redis() else {
        return;
    };
    let s = Server::embedded(&[]);
    let mut ours = s.raw();
    let mut theirs = Raw::connect(&format!("127.0.0.1:{}", redis.1));
    let mut rng = Rng(0xdecafbad12345678);
    // src and dst on different shards, src2 on src's (checked below).
    let keys = ["src", "dst", "a", "b"];
    let started = Instant::now();
    let (mut compared, mut errors, mut found) = (0, 0, 0);
    for step in 0..5000 {
        if started.elapsed() > Duration::from_secs(90) {
            break;
        }
        let args: Vec<String> = if step % 25 == 0 || rng.below(4) == 0 {
            let mut a = vec!["GEOADD".to_string(), pick(&mut rng, &keys[..1]).to_string()];
            for _ in 0..1 + rng.below(8) {
                if rng.below(3) == 0 {
                    // A coarse grid: many points at equal distances, whose
                    // order COUNT's partial sort decides.
                    a.push(format!("{}", rng.below(3)));
                    a.push(format!("{}", rng.below(3)));
                } else {
                    a.push(coord(&mut rng, -25.0, 25.0));
                    a.push(coord(&mut rng, -25.0, 25.0));
                }
                a.push(format!("m{}", rng.below(300)));
            }
            a
        } else {
            let src = pick(&mut rng, &["src", "src", "src", "nokey"]);
            let dst = pick(&mut rng, &keys[1..]);
            random_search(&mut rng, src, dst)
        };
        let want = theirs.call(&args);
        let got = ours.call(&args);
        assert_eq!(got, want, "step {step}: {}", args.join(" "));
        compared += 1;
        match &got {
            Reply::Error(_) => errors += 1,
            Reply::Array(Some(v)) if !v.is_empty() => found += 1,
            Reply::Int(n) if *n > 0 && args[0] != "GEOADD" => found += 1,
            _ => {}
        }
        if args[0].contains("STORE") || args.iter().any(|a| a.starts_with("STORE")) {
            for k in &keys[1..] {
                assert_eq!(dump(&mut ours, k), dump(&mut theirs, k), "step {step}: {k}");
            }
        }
    }
    // The mix exercises both the searches that find points and the errors.
    assert!(
        compared > 3000 && found > 500 && errors > 50,
        "{compared} compared, {found} found points, {errors} errors"
    );
    eprintln!("{compared} compared, {found} found points, {errors} errors");
}

/// Arguments drawn from every geo keyword, number and junk: every reply is
/// a reply, and the server still answers afterwards.
#[test]
fn argument_soup_never_breaks_the_server() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    r.call(&["GEOADD", "g", "1", "1", "m1", "2", "2", "m2"]);
    r.call(&["SET", "str", "v"]);
    let names = [
        "GEOADD",
        "GEOPOS",
        "GEOHASH",
        "GEODIST",
        "GEORADIUS",
        "GEORADIUS_RO",
        "GEORADIUSBYMEMBER",
        "GEORADIUSBYMEMBER_RO",
        "GEOSEARCH",
        "GEOSEARCHSTORE",
    ];
    let words = [
        "g",
        "str",
        "nokey",
        "m1",
        "m2",
        "FROMMEMBER",
        "FROMLONLAT",
        "BYRADIUS",
        "BYBOX",
        "ASC",
        "DESC",
        "COUNT",
        "ANY",
        "WITHDIST",
        "WITHHASH",
        "WITHCOORD",
        "STORE",
        "STOREDIST",
        "m",
        "km",
        "ft",
        "mi",
        "0",
        "1",
        "-1",
        "180",
        "-180",
        "85.05112878",
        "90",
        "1e308",
        "-inf",
        "nan",
        "",
        "x",
        "NX",
        "XX",
        "CH",
        "9223372036854775807",
    ];
    let mut rng = Rng(42);
    let started = Instant::now();
    for _ in 0..3000 {
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
        let mut args = vec![pick(&mut rng, &names)];
        for _ in 0..rng.below(12) {
            args.push(pick(&mut rng, &words));
        }
        let _ = r.call(&args);
    }
    assert_eq!(r.call(&["PING"]), Reply::Simple("PONG".into()));
}

/// GEOADD and the STORE forms reach the AOF as ZADD records (and DEL), and
/// a restart on another shard count gives back the same sets.
#[test]
fn aof_replays_geo_writes() {
    let dir = tempdir("geo-aof");
    let p = Proc::start(&dir, &["--shards", "3"]);
    let mut c = p.client();
    let _: i64 = q(
        &mut c,
        &[
            "GEOADD",
            "src",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
    );
    let _: i64 = q(
        &mut c,
        &[
            "GEORADIUS",
            "src",
            "15",
            "37",
            "200",
            "km",
            "STOREDIST",
            "d1",
        ],
    );
    let _: i64 = q(
        &mut c,
        &[
            "GEOSEARCHSTORE",
            "d2",
            "src",
            "FROMMEMBER",
            "Palermo",
            "BYBOX",
            "400",
            "400",
            "km",
        ],
    );
    let keys = ["src", "d1", "d2"];
    let state = |c: &mut redis::Connection| -> Vec<Vec<(String, String)>> {
        keys.iter()
            .map(|k| q(c, &["ZRANGE", k, "0", "-1", "WITHSCORES"]))
            .collect()
    };
    let want = state(&mut c);
    assert_eq!(want[1].len(), 2, "{want:?}");
    drop(c);
    p.signal("-TERM");
    assert_eq!(p.wait(), Some(0));
    let mut text = String::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "aof") {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()).to_uppercase());
        }
    }
    assert!(text.contains("\r\nZADD\r\n"), "{text}");
    assert!(!text.contains("GEO"), "{text}");
    let p = Proc::start(&dir, &["--shards", "2"]);
    let mut c = p.client();
    assert_eq!(state(&mut c), want);
    drop(c);
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

/// GEOSEARCHSTORE across shards is atomic: transactions add a point to
/// the source and a marker to the destination together, a storer keeps
/// copying the source's points over the destination, and snapshots (MULTI
/// reading both keys) must always find either a marker in the destination
/// or exactly the source's points. A store that read the source before a
/// transaction and wrote after it would leave the destination without a
/// marker and behind the source.
#[test]
fn cross_shard_store_is_atomic() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let router = shards::route::Router::new(4);
    let (src, dst) = ("src", "dst");
    assert_ne!(
        router.shard_of(src.as_bytes()),
        router.shard_of(dst.as_bytes())
    );
    let s = Server::embedded(&[]);
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let mut c = s.client();
        let done = done.clone();
        std::thread::spawn(move || {
            for i in 0..600 {
                // Paced, so the storer often writes last.
                std::thread::sleep(Duration::from_micros(300));
                let _: () = redis::pipe()
                    .atomic()
                    .cmd("GEOADD")
                    .arg(&[src, "10", "10"])
                    .arg(format!("m{i}"))
                    .ignore()
                    .cmd("ZADD")
                    .arg(&[dst, "0"])
                    .arg(format!("w{i}"))
                    .ignore()
                    .query(&mut c)
                    .unwrap();
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let storer = {
        let mut c = s.client();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut stores = 0;
            while !done.load(Ordering::SeqCst) {
                let _: i64 = q(
                    &mut c,
                    &[
                        "GEOSEARCHSTORE",
                        dst,
                        src,
                        "FROMLONLAT",
                        "10",
                        "10",
                        "BYRADIUS",
                        "10",
                        "km",
                    ],
                );
                stores += 1;
            }
            stores
        })
    };
    let mut c = s.client();
    let (mut checked, mut unmarked) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
        let (mut d, mut sr): (Vec<String>, Vec<String>) = redis::pipe()
            .atomic()
            .cmd("ZRANGE")
            .arg(&[dst, "0", "-1"])
            .cmd("ZRANGE")
            .arg(&[src, "0", "-1"])
            .query(&mut c)
            .unwrap();
        checked += 1;
        if d.iter().any(|m| m.starts_with('w')) {
            continue;
        }
        unmarked += 1;
        d.sort();
        sr.sort();
        assert_eq!(d, sr, "a store result behind its source");
    }
    writer.join().unwrap();
    let stores = storer.join().unwrap();
    assert!(
        stores > 10 && checked > 10,
        "{stores} stores, {checked} checks"
    );
    eprintln!("{stores} stores, {checked} snapshots, {unmarked} of them store results");
}
