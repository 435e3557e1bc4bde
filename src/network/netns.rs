//! Network namespaces as the hook sees them: the container's, opened from its init's
//! `/proc/<pid>/ns/net`, and the hook's own, which holds the bridge. A netlink socket belongs
//! to the namespace it was opened in, so one into the container is opened after a setns
//! there and the thread returns home at once; nothing else runs inside.

use super::netlink::{Family, Socket};
use super::NetError;
use nix::sched::{setns, CloneFlags};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

/// Opens the network namespace of container `id`'s init.
pub fn open_container(id: &str, pid: i32) -> Result<OwnedFd, NetError> {
    let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
    File::open(&path)
        .map(OwnedFd::from)
        .map_err(|source| NetError::OpenNetns {
            id: id.to_string(),
            path,
            source,
        })
}

/// Opens a netlink socket of `family` inside `netns`, leaving the calling thread where it was.
pub fn socket_in(netns: BorrowedFd<'_>, family: Family) -> Result<Socket, NetError> {
    let home_path = "/proc/thread-self/ns/net";
    let home = File::open(home_path).map_err(|source| NetError::Io {
        op: "open",
        path: home_path.into(),
        source,
    })?;
    setns(netns, CloneFlags::CLONE_NEWNET).map_err(|source| NetError::Setns {
        which: "container",
        source,
    })?;
    let sock = Socket::open(family);
    // Back home before anything else, whether or not the socket opened.
    setns(home.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|source| NetError::Setns {
        which: "hook's own",
        source,
    })?;
    sock.map_err(super::error::netlink(
        "open netlink socket in",
        "the container",
    ))
}

/// Turns on IPv4 forwarding in the hook's own namespace (the bridge's), where the
/// container's traffic is routed; `/proc/sys/net` shows the reader's namespace.
pub fn enable_ip_forward() -> Result<(), NetError> {
    sysctl_on("/proc/sys/net/ipv4/ip_forward")
}

/// Lets the bridge route 127.0.0.0/8 sources, so a published port answers on the host's
/// `localhost` (the DNATed packet keeps its loopback source until masqueraded).
pub fn enable_route_localnet(bridge: &str) -> Result<(), NetError> {
    sysctl_on(&format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet"))
}

/// Sets a boolean sysctl of the hook's namespace to 1 unless it already is.
fn sysctl_on(path: &str) -> Result<(), NetError> {
    let err = |op| {
        move |source| NetError::Io {
            op,
            path: path.into(),
            source,
        }
    };
    let now = std::fs::read_to_string(path).map_err(err("read"))?;
    if now.trim() == "1" {
        return Ok(());
    }
    let mut f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(err("open"))?;
    f.write_all(b"1").map_err(err("write"))
}
