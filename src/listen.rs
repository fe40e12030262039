//! The listening socket in every worker's poll, woken one worker at a time.
//!
//! mio registers sockets edge-triggered and has no `EPOLLEXCLUSIVE`: with
//! the listener in N workers' polls, each connection would wake all N of
//! them to race for one `accept`. This registers it level-triggered and
//! exclusive, so the kernel wakes one idle worker, and a worker that leaves
//! connections in the queue (its accept budget spent) is told again.
#![allow(unsafe_code)]

use mio::{Poll, Token};
use std::io;
use std::os::fd::{AsRawFd, RawFd};

fn ctl(poll: &Poll, op: libc::c_int, fd: RawFd, events: u32, token: Token) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events,
        u64: token.0 as u64,
    };
    // SAFETY: `epoll_ctl` reads `ev` (a valid, initialised epoll_event)
    // during the call only; both descriptors are open for its duration
    // (the poll and the listener are borrowed).
    let rc = unsafe { libc::epoll_ctl(poll.as_raw_fd(), op, fd, &mut ev) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Adds `listener` to `poll` as `token`: readable, level-triggered, exclusive.
pub fn watch(poll: &Poll, listener: &impl AsRawFd, token: Token) -> io::Result<()> {
    let events = (libc::EPOLLIN | libc::EPOLLEXCLUSIVE) as u32;
    ctl(
        poll,
        libc::EPOLL_CTL_ADD,
        listener.as_raw_fd(),
        events,
        token,
    )
}

/// Removes `listener` from `poll` (an exclusive registration cannot be
/// modified, only removed and added again).
pub fn unwatch(poll: &Poll, listener: &impl AsRawFd) -> io::Result<()> {
    ctl(poll, libc::EPOLL_CTL_DEL, listener.as_raw_fd(), 0, Token(0))
}
