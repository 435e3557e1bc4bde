//! The errors of `hull network`: one variant per failed step, with the flag, interface,
//! address or file it was about.

use crate::error::{ErrorKind, Kind};
use nix::errno::Errno;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// A network attach, detach or show that failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A flag has a value hull cannot use.
    #[error("{flag} {value:?}: {reason}")]
    BadFlag {
        /// The flag (`--subnet`).
        flag: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The container state on stdin could not be read.
    #[error("read container state from stdin: {source}")]
    ReadState {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The container state on stdin is not the OCI state JSON.
    #[error("parse container state from stdin: {source}")]
    ParseState {
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The state names no container process, so there is no namespace to attach.
    #[error("container {id}: the state has no pid (attach must run as a createRuntime hook)")]
    NoPid {
        /// The container.
        id: String,
    },
    /// The container id cannot name a lease or record file.
    #[error("invalid container id {id:?}")]
    BadId {
        /// The id.
        id: String,
    },
    /// The container process is gone or its namespace cannot be opened.
    #[error("container {id}: open {}: {source}", path.display())]
    OpenNetns {
        /// The container.
        id: String,
        /// `/proc/<pid>/ns/net`.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Entering or leaving a network namespace failed.
    #[error("setns into the {which} network namespace: {source}")]
    Setns {
        /// `container` or `hook's own`.
        which: &'static str,
        /// The errno.
        #[source]
        source: Errno,
    },
    /// A netlink request about one interface, address or route failed.
    #[error("{op} {name}: {source}")]
    Netlink {
        /// The request (`create veth`, `add address`, ...).
        op: &'static str,
        /// The interface (or address) it was about.
        name: String,
        /// The kernel's errno.
        #[source]
        source: Errno,
    },
    /// `--bridge` names an interface that exists and is not a bridge.
    #[error("--bridge {name}: the interface exists and is a {kind}, not a bridge")]
    NotABridge {
        /// The interface.
        name: String,
        /// Its kind.
        kind: String,
    },
    /// The macvlan parent does not exist.
    #[error("--parent {name}: no such interface")]
    NoParent {
        /// The interface.
        name: String,
    },
    /// An nftables transaction on hull's table failed.
    #[error("nftables: {op} in table ip hull: {source}")]
    Nftables {
        /// What the transaction did.
        op: &'static str,
        /// The kernel's errno.
        #[source]
        source: Errno,
    },
    /// A file of the network state dir could not be read or written.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An attachment record is not valid JSON.
    #[error("parse {}: {source}", path.display())]
    Record {
        /// The record file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The container already has an attachment.
    #[error("container {id} is already attached ({what})")]
    AlreadyAttached {
        /// The container.
        id: String,
        /// Its attachment, in a few words.
        what: String,
    },
    /// `show` of a container with no attachment.
    #[error("container {id} is not attached")]
    NotAttached {
        /// The container.
        id: String,
    },
    /// `--ip` is leased to a running container.
    #[error("--ip {ip}: already leased to container {owner}")]
    AddressTaken {
        /// The address.
        ip: Ipv4Addr,
        /// Who holds it.
        owner: String,
    },
    /// Every address of the subnet is leased to a running container.
    #[error("network {network}: no free address in {subnet} ({leased} leased)")]
    Exhausted {
        /// The network (bridge name).
        network: String,
        /// Its subnet.
        subnet: String,
        /// How many leases are live.
        leased: usize,
    },
    /// The network is in use with another subnet.
    #[error("--subnet {wanted}: network {network} has subnet {existing} with live leases")]
    SubnetMismatch {
        /// The network.
        network: String,
        /// Its subnet.
        existing: String,
        /// The one asked for.
        wanted: String,
    },
}

impl Kind for NetError {
    fn kind(&self) -> ErrorKind {
        match self {
            NetError::BadFlag { .. }
            | NetError::NoParent { .. }
            | NetError::NotABridge { .. }
            | NetError::SubnetMismatch { .. } => ErrorKind::Usage,
            NetError::ReadState { .. }
            | NetError::ParseState { .. }
            | NetError::NoPid { .. }
            | NetError::BadId { .. } => ErrorKind::BadSpec,
            NetError::AlreadyAttached { .. } => ErrorKind::Exists,
            NetError::NotAttached { .. } => ErrorKind::NotFound,
            _ => ErrorKind::Sys,
        }
    }
}

/// Maps a netlink errno to [`NetError::Netlink`] about `name`.
pub(crate) fn netlink(op: &'static str, name: impl Into<String>) -> impl FnOnce(Errno) -> NetError {
    let name = name.into();
    move |source| NetError::Netlink { op, name, source }
}

/// Maps an I/O error to [`NetError::Io`] about `path`.
pub(crate) fn io(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> NetError {
    let path = path.into();
    move |source| NetError::Io { op, path, source }
}
