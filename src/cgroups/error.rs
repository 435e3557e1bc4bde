//! The cgroup module's error: one variant per failed operation, with the cgroup file, the
//! value and, for `linux.resources`, the spec field that asked for it.

use crate::error::{ErrorKind, Kind};
use std::io;
use std::path::PathBuf;

/// A failed cgroup operation.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// Opening a `tasks` file or a cgroup2 dir for a new process, or the process writing
    /// itself into it, failed.
    #[error("join cgroup: {}", ErrText(.source))]
    JoinSelf {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// /proc/self/mountinfo or /proc/self/cgroup could not be read.
    #[error("read {}: {}", .path.display(), ErrText(.source))]
    ReadProc {
        /// The proc file.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// No cgroup filesystem is mounted.
    #[error("no cgroup filesystem is mounted (see /proc/self/mountinfo)")]
    NoCgroupFs,
    /// A path the kernel reports as a cgroup mount is not one (statfs magic mismatch).
    #[error("{} is not a cgroup filesystem", path.display())]
    NotCgroupFs {
        /// The directory.
        path: PathBuf,
    },
    /// hull's own cgroup in a hierarchy is missing from /proc/self/cgroup or not visible
    /// below that hierarchy's mount.
    #[error("hull's own cgroup in {} ({hierarchy}) is not visible: {reason}", mountpoint.display())]
    OwnCgroup {
        /// The hierarchy's mountpoint.
        mountpoint: PathBuf,
        /// Its controllers or `unified`.
        hierarchy: String,
        /// What is wrong.
        reason: String,
    },
    /// `linux.cgroupsPath` (or the container id it defaults to) cannot be used.
    #[error("linux.cgroupsPath: {path:?}: {reason}")]
    BadPath {
        /// The path as given.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A directory recorded in state.json is not inside any mounted cgroup hierarchy.
    #[error("state.json cgroup dir {} is not inside a mounted cgroup hierarchy", path.display())]
    Record {
        /// The recorded directory.
        path: PathBuf,
    },
    /// Opening or creating a cgroup directory failed.
    #[error("{op} {}: {}", .path.display(), ErrText(.source))]
    Dir {
        /// `open` or `mkdir` or `rmdir`.
        op: &'static str,
        /// The directory.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// Writing a cgroup file failed.
    #[error("{}write {value} to {}: {}", .field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default(), .path.display(), ErrText(.source))]
    Write {
        /// The spec field the value comes from, e.g. `linux.resources.memory.limit`.
        field: Option<String>,
        /// The cgroup file.
        path: PathBuf,
        /// What was written.
        value: String,
        /// Why the kernel refused.
        #[source]
        source: io::Error,
    },
    /// Reading a cgroup file failed.
    #[error("read {}: {}", .path.display(), ErrText(.source))]
    Read {
        /// The cgroup file.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// A cgroup file holds something hull cannot parse.
    #[error("{}: unexpected content {content:?}", path.display())]
    Parse {
        /// The cgroup file.
        path: PathBuf,
        /// What it held.
        content: String,
    },
    /// A `linux.resources` value cannot be applied on this host or is malformed.
    #[error("{field}: {reason}")]
    Invalid {
        /// The spec field, e.g. `linux.resources.memory.swappiness`.
        field: String,
        /// Why it is refused.
        reason: String,
    },
    /// A resource needs a controller whose hierarchy hull could not use.
    #[error("{field}: cannot set {controller} limit: the container could not join or create a {controller} cgroup")]
    NoController {
        /// The spec field.
        field: String,
        /// The controller, e.g. `hugetlb`.
        controller: String,
    },
    /// The freezer did not reach FROZEN in time.
    #[error("freeze {}: still {state} after {tries} tries", path.display())]
    FreezeTimeout {
        /// The cgroup directory.
        path: PathBuf,
        /// The last state read.
        state: String,
        /// How often hull tried.
        tries: u32,
    },
    /// A freeze or thaw needs the freezer but it is not mounted.
    #[error("{op}: the freezer controller is not available")]
    NoFreezer {
        /// `freeze` or `thaw`.
        op: &'static str,
    },
    /// Signalling a process of the cgroup failed.
    #[error("kill {pid} with {signal}: {}", errno_text(*.source as i32))]
    Signal {
        /// The pid.
        pid: i32,
        /// The signal name.
        signal: &'static str,
        /// Why it failed.
        #[source]
        source: nix::errno::Errno,
    },
    /// Loading or attaching the eBPF device program failed.
    #[error("linux.resources.devices: {op} on {}: {source}", path.display())]
    Bpf {
        /// The bpf(2) command.
        op: &'static str,
        /// The cgroup directory.
        path: PathBuf,
        /// The syscall error.
        #[source]
        source: crate::sys::SysError,
    },
}

impl CgroupError {
    /// A spec-level refusal of one field.
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        CgroupError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The errno of the underlying failure, if it is a syscall failure.
    pub fn errno(&self) -> Option<i32> {
        match self {
            CgroupError::ReadProc { source, .. }
            | CgroupError::Dir { source, .. }
            | CgroupError::Write { source, .. }
            | CgroupError::Read { source, .. } => source.raw_os_error(),
            CgroupError::Signal { source, .. } => Some(*source as i32),
            CgroupError::Bpf { source, .. } => Some(source.errno()),
            _ => None,
        }
    }

    /// Whether a rootless container may go on without this cgroup (runc's
    /// `isIgnorableError`: no permission, or a read-only cgroupfs).
    pub(crate) fn is_permission(&self) -> bool {
        matches!(
            self.errno(),
            Some(libc::EPERM) | Some(libc::EACCES) | Some(libc::EROFS)
        )
    }

    /// What a rootless container's cgroup can show later: no permission, or a directory
    /// its create could not make (recorded all the same, so delete can always try).
    pub(crate) fn is_rootless_gap(&self) -> bool {
        self.is_permission() || self.errno() == Some(libc::ENOENT)
    }
}

/// An io::Error as runc prints one: the lowercase strerror text without "(os error N)",
/// e.g. `device or resource busy`.
struct ErrText<'a>(&'a io::Error);

impl std::fmt::Display for ErrText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.raw_os_error() {
            Some(n) => f.write_str(&errno_text(n)),
            None => write!(f, "{}", self.0),
        }
    }
}

fn errno_text(n: i32) -> String {
    let desc = nix::errno::Errno::from_raw(n).desc();
    let mut c = desc.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => format!("errno {n}"),
    }
}

impl Kind for CgroupError {
    fn kind(&self) -> ErrorKind {
        match self {
            CgroupError::BadPath { .. }
            | CgroupError::Invalid { .. }
            | CgroupError::NoController { .. } => ErrorKind::BadSpec,
            _ => ErrorKind::Sys,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_runc() {
        let e = CgroupError::Write {
            field: Some("linux.resources.memory.limit".into()),
            path: "/sys/fs/cgroup/memory/x/memory.limit_in_bytes".into(),
            value: "1".into(),
            source: io::Error::from_raw_os_error(libc::EBUSY),
        };
        assert_eq!(
            e.to_string(),
            "linux.resources.memory.limit: write 1 to /sys/fs/cgroup/memory/x/memory.limit_in_bytes: device or resource busy"
        );
        assert_eq!(e.kind(), ErrorKind::Sys);
        let e = CgroupError::Dir {
            op: "mkdir",
            path: "/sys/fs/cgroup/pids/a".into(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        };
        assert_eq!(
            e.to_string(),
            "mkdir /sys/fs/cgroup/pids/a: permission denied"
        );
        assert!(e.is_permission());
    }
}
