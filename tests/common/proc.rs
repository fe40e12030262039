//! A shardcache process on a data directory that a test kills and restarts:
//! for the persistence tests, which need SIGTERM, SIGKILL and restarts on the
//! same `--dir` (the general `Server` owns a fresh directory per server).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A running server process.
pub struct Proc {
    child: Child,
    /// Its port.
    pub port: u16,
    /// Every stderr line so far.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts the binary on `dir` (with `--port 0 --no-pin --workers 2`) and waits for its port.
    pub fn start(dir: &Path, extra: &[&str]) -> Proc {
        Proc::start_env(dir, extra, &[])
    }

    /// `start` with extra environment variables.
    pub fn start_env(dir: &Path, extra: &[&str], env: &[(&str, &Path)]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shardcache"))
            .args(["--port", "0", "--no-pin", "--workers", "2", "--dir"])
            .arg(dir)
            .args(extra)
            .envs(env.iter().map(|&(k, v)| (k, v)))
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn shardcache");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                keep.lock().unwrap().push(line.clone());
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("");
                    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Ok(port));
                    }
                } else if line.contains("cannot start") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Err(line.clone()));
                    }
                }
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(p)) => p,
            Ok(Err(line)) => panic!("server refused to start: {line}"),
            Err(_) => panic!("server did not report its port"),
        };
        Proc { child, port, log }
    }

    /// The stderr lines printed so far, joined.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// A `redis` crate connection.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// Sends a signal with kill(1), e.g. `-TERM`.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    /// Waits for exit and returns the exit code (None if killed by a signal).
    pub fn wait(mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary on `dir` with `extra`, expecting it to refuse to start:
/// returns its stderr. Bounded: a server that does start is killed after 10 s
/// and the test fails.
pub fn refused(dir: &Path, extra: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardcache"))
        .args(["--port", "0", "--no-pin", "--workers", "1", "--dir"])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn shardcache");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server started on {} instead of refusing",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "refused with status 1: {err}");
    err
}

/// A fresh directory under the system temp dir.
pub fn tempdir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "shardcache-it-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
