use clap::Parser;
use std::io::IsTerminal;
use shardcache::config::Config;
use tracing_subscriber::EnvFilter;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
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
    let config = Config::parse();
    match shardcache::server::start(config) {
        Ok(server) => server.join(),
        Err(e) => {
            eprintln!("shardcache: cannot start: {e}");
            std::process::exit(1);
        }
    }
}
