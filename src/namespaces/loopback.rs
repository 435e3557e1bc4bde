//! `lo` in a new network namespace starts down; the init brings it up before the user's
//! process runs, as runc does (its implicit "loopback" network), so 127.0.0.1 works in
//! every container. A namespace joined by path is left as its owner set it up.

use super::NsError;
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
use std::os::fd::AsFd;

/// Sets `lo` up in the caller's network namespace.
pub fn bring_up_loopback() -> Result<(), NsError> {
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| NsError::Loopback {
        source: crate::sys::SysError::from_errno("socket(AF_INET)", e as i32),
    })?;
    crate::sys::set_link_up(sock.as_fd(), "lo").map_err(|source| NsError::Loopback { source })
}
