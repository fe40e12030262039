//! A data directory written by the previous release (0.1.0: the string-only
//! engine) loads unchanged: same keys, values, TTLs and databases, with the
//! same shard count and re-routed to another.
//!
//! `tests/fixtures/aof-0.1.0` was written by that release's binary with
//! `--shards 2`: SET (with PX, EX then PERSIST), DEL, INCR, APPEND,
//! PEXPIREAT, SETRANGE past the end, SELECT, SWAPDB, FLUSHDB and a key that
//! expired before the shutdown.

mod common;

use common::proc::{tempdir, Proc};
use redis::Commands;
use std::path::Path;

fn copy_fixture(to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/aof-0.1.0");
    for e in std::fs::read_dir(&from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn check(p: &Proc) {
    let mut c = p.client();
    let get = |c: &mut redis::Connection, db: i64, k: &[u8]| -> Option<Vec<u8>> {
        redis::cmd("SELECT").arg(db).query::<()>(c).unwrap();
        c.get(k).unwrap()
    };
    assert_eq!(get(&mut c, 0, b"plain"), Some(b"v".to_vec()));
    assert_eq!(get(&mut c, 0, b"counter"), Some(b"11x".to_vec()));
    assert_eq!(get(&mut c, 0, b"gone"), None);
    assert_eq!(get(&mut c, 0, b"expired"), None);
    let big = get(&mut c, 0, b"big").unwrap();
    assert_eq!(big.len(), 5004);
    assert!(big.starts_with(&[0; 5000]) && big.ends_with(b"tail"));
    let pttl: i64 = c.pttl("withttl").unwrap();
    assert!(pttl > 0, "withttl {pttl}");
    let at: i64 = redis::cmd("PEXPIRETIME").arg("e1").query(&mut c).unwrap();
    assert_eq!(at, 99_999_999_999_999);
    let ttl: i64 = c.ttl("p1").unwrap();
    assert_eq!(ttl, -1);
    assert_eq!(get(&mut c, 3, b"indb3"), Some(b"three".to_vec()));
    assert_eq!(get(&mut c, 6, b"indb5"), Some(b"five".to_vec()));
    assert_eq!(get(&mut c, 5, b"indb5"), None);
    assert_eq!(get(&mut c, 7, b"f"), None);
    redis::cmd("SELECT").arg(0).query::<()>(&mut c).unwrap();
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, 7);
}

#[test]
fn previous_release_data_loads_unchanged() {
    let dir = tempdir("upgrade-same");
    copy_fixture(&dir);
    let p = Proc::start(&dir, &["--shards", "2"]);
    check(&p);
    drop(p);
    // And re-routed to another shard count.
    let dir = tempdir("upgrade-reshard");
    copy_fixture(&dir);
    let p = Proc::start(&dir, &["--shards", "3"]);
    check(&p);
}
