//! What a worker checks when it accepts a connection, as Redis's
//! `acceptCommonHandler` and `clientAcceptHandler` do: the client limit,
//! protected mode, then the socket options and counters.

use crate::shared::Shared;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

/// The checks Redis makes on a new connection, in its order: the client
/// limit, protected mode; then the socket options Redis sets (no delay,
/// keep-alive) and the counters. Returns the connection's CLIENT ID, or
/// None when it was refused (and told why).
pub fn admit(shared: &Shared, stream: &mio::net::TcpStream, peer: SocketAddr) -> Option<u64> {
    // Counted here, not when registered: connections still on their way
    // to a worker count against maxclients too.
    if shared.clients.load(Ordering::Relaxed) as u64 >= shared.maxclients.load(Ordering::Relaxed) {
        refuse(stream, b"-ERR max number of clients reached\r\n");
        shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    if denied_by_protected_mode(shared, peer.ip()) {
        refuse(stream, PROTECTED_MODE_DENIED);
        return None;
    }
    if stream.set_nodelay(true).is_err() {
        return None;
    }
    let keepalive = shared.tcp_keepalive.load(Ordering::Relaxed);
    if keepalive > 0 {
        let secs = keepalive;
        // Redis's `anetKeepAlive`: probes every third of the idle time, three times.
        let ka = socket2::TcpKeepalive::new()
            .with_time(std::time::Duration::from_secs(secs))
            .with_interval(std::time::Duration::from_secs((secs / 3).max(1)))
            .with_retries(3);
        let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&ka);
    }
    shared.clients.fetch_add(1, Ordering::Relaxed);
    shared.total_connections.fetch_add(1, Ordering::Relaxed);
    // CLIENT IDs in accept order, as Redis numbers its clients.
    Some(shared.next_client_id.fetch_add(1, Ordering::Relaxed))
}

/// Redis 7.0's protected-mode refusal, word for word.
const PROTECTED_MODE_DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Protected mode (Redis 7.0's `clientAcceptHandler` check): with no
/// password, only peers whose address reads `127.0.0.1` or `::1` are served.
/// Redis compares the address text with those two, so the rest of
/// 127.0.0.0/8 and IPv4-mapped `::ffff:127.0.0.1` are refused too.
pub fn denied_by_protected_mode(shared: &Shared, peer: std::net::IpAddr) -> bool {
    let loopback = match peer {
        std::net::IpAddr::V4(a) => a == std::net::Ipv4Addr::LOCALHOST,
        std::net::IpAddr::V6(a) => a == std::net::Ipv6Addr::LOCALHOST,
    };
    shared.protected_mode.load(Ordering::Relaxed) && !shared.auth_required() && !loopback
}

/// Writes a last error line to a connection that will not be served (the
/// caller closes it). Best effort: the socket does not block.
fn refuse(stream: &mio::net::TcpStream, msg: &[u8]) {
    use std::io::Write;
    let _ = (&*stream).write(msg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use clap::Parser;

    #[test]
    fn protected_mode_refuses_remote_peers_without_a_password() {
        let addr: SocketAddr = "0.0.0.0:6380".parse().unwrap();
        let remote: std::net::IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: std::net::IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let shared = Shared::new(Config::parse_from(["shardcache"]), addr, 1);
        assert!(denied_by_protected_mode(&shared, remote));
        for local in ["127.0.0.1", "::1"] {
            assert!(!denied_by_protected_mode(&shared, local.parse().unwrap()));
        }
        // As Redis 7.0, which compares the address text with those two.
        for other in ["127.8.9.1", "127.0.0.2"] {
            assert!(denied_by_protected_mode(&shared, other.parse().unwrap()));
        }
        assert!(denied_by_protected_mode(&shared, mapped));
        shared.set_requirepass(crate::config::Password::new(b"pw"));
        assert!(
            !denied_by_protected_mode(&shared, remote),
            "a password lifts it"
        );
        shared.set_requirepass(crate::config::Password::default());
        shared.protected_mode.store(false, Ordering::Relaxed);
        assert!(
            !denied_by_protected_mode(&shared, remote),
            "protected-mode no"
        );
        let off = Config::parse_from(["shardcache", "--protected-mode", "no"]);
        assert!(!denied_by_protected_mode(
            &Shared::new(off, addr, 1),
            remote
        ));
    }
}
