use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::io::IsTerminal;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{fmt, reload, EnvFilter};

fn main() {
    // The filter is reloadable: CONFIG SET loglevel changes it at run time.
    let from_env = EnvFilter::try_from_default_env().ok();
    let env_set = from_env.is_some();
    let (filter, log_handle) =
        reload::Layer::new(from_env.unwrap_or_else(|| EnvFilter::new("info")));
    tracing_subscriber::registry()
        .with(filter)
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .init();
    // A panic in a worker or shard thread would leave a half-alive server
    // (connections stalled on a dead shard). Log it and exit non-zero so a
    // supervisor restarts the process.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        tracing::error!("thread panicked; exiting: {info}");
        std::process::exit(70);
    }));
    shardcache::alloc::tune();
    let config = shardcache::config::from_args();
    if !env_set {
        // RUST_LOG, when set, wins at start; --loglevel otherwise.
        let _ = log_handle.reload(EnvFilter::new(config.loglevel.directive()));
    }
    let server = match shardcache::server::start(config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("shardcache: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let _ = server
        .shared
        .log_reload
        .set(shardcache::shared::LogReload(Box::new(move |level| {
            let _ = log_handle.reload(EnvFilter::new(level.directive()));
        })));
    // SIGTERM / SIGINT: flush and fsync every AOF segment after the batches
    // already queued, then exit 0 so supervisors see a clean stop.
    let mut signals = match Signals::new([SIGTERM, SIGINT]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("shardcache: cannot install signal handlers: {e}");
            std::process::exit(1);
        }
    };
    if let Some(sig) = signals.forever().next() {
        tracing::info!(signal = sig, "shutting down: flushing the AOF");
        match server.shutdown() {
            Ok(()) => {
                tracing::info!("AOF flushed; bye");
                std::process::exit(0);
            }
            Err(e) => {
                tracing::error!("shutdown could not flush the AOF: {e}");
                std::process::exit(1);
            }
        }
    }
}
