//! The rootfs module's error: one variant per failed step, each naming the container path
//! (or host path) and the syscall, so a failed `create` says exactly what broke.

use crate::error::{ErrorKind, Kind};
use std::fmt;
use std::io;
use std::path::PathBuf;

/// Which `mounts[i]` entry a step comes from, printed as a `mounts[i]: ` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin(pub Option<usize>);

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(i) => write!(f, "mounts[{i}]: "),
            None => Ok(()),
        }
    }
}

/// A failed rootfs step.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// The config has no mount namespace: every mount would land in the host's.
    #[error(
        "linux.namespaces: no mount namespace; hull never mounts in the host's mount namespace"
    )]
    NoMountNamespace,
    /// A host directory used as a resolution root cannot be opened.
    #[error("open {}: {syscall}: {source}", path.display())]
    OpenRoot {
        /// The host path.
        path: PathBuf,
        /// The failed syscall.
        syscall: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Changing the propagation of `/` or of the mount holding the rootfs failed.
    #[error("set propagation of {}: {syscall}: {source}", path.display())]
    Propagation {
        /// The host path whose mount was changed.
        path: PathBuf,
        /// The failed syscall.
        syscall: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Binding the rootfs onto itself (so pivot_root has a mount point) failed.
    #[error("bind rootfs {} onto itself: {syscall}: {source}", path.display())]
    BindRootfs {
        /// The rootfs' host path.
        path: PathBuf,
        /// The failed syscall.
        syscall: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A container path cannot be resolved inside the rootfs.
    #[error("resolve {} in the rootfs: {syscall}: {source}", path.display())]
    Resolve {
        /// The container path.
        path: PathBuf,
        /// The failed syscall.
        syscall: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A missing directory or file cannot be created inside the rootfs.
    #[error("create {} in the rootfs: {syscall}: {source}", path.display())]
    Create {
        /// The container path.
        path: PathBuf,
        /// The failed syscall.
        syscall: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A bind mount's source cannot be opened on the host.
    #[error("{origin}bind source {}: {source}", path.display())]
    BindSource {
        /// The `mounts` entry.
        origin: Origin,
        /// The host path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// One syscall of a mount failed.
    #[error("{origin}mount {what} on {}: {syscall}: {source}", dest.display())]
    Mount {
        /// The `mounts` entry.
        origin: Origin,
        /// What was mounted: the filesystem type, or `bind <source>`.
        what: String,
        /// The container path.
        dest: PathBuf,
        /// The failed syscall.
        syscall: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A mount hull refuses to make, because of where it would land.
    #[error("{origin}mount {what} on {}: refused: {reason}", dest.display())]
    Refused {
        /// The `mounts` entry.
        origin: Origin,
        /// What was to be mounted.
        what: String,
        /// The container path.
        dest: PathBuf,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A bind's options contradict a flag the kernel locked on the source mount (they clear
    /// it, or ask for another atime mode).
    #[error("{origin}mount bind on {}: the options conflict with flags locked on the source mount: {source}", dest.display())]
    LockedFlags {
        /// The `mounts` entry.
        origin: Origin,
        /// The container path.
        dest: PathBuf,
        /// The kernel's refusal.
        #[source]
        source: io::Error,
    },
    /// A `cgroup` mount was asked for but the cgroup manager gave no hierarchy to show.
    #[error("{origin}mount cgroup: no cgroup hierarchies given by the cgroup manager")]
    NoCgroups {
        /// The `mounts` entry.
        origin: Origin,
    },
    /// Copying a directory into its new tmpfs (`tmpcopyup`) failed.
    #[error("{origin}tmpcopyup {}: {syscall}: {source}", path.display())]
    CopyUp {
        /// The `mounts` entry.
        origin: Origin,
        /// The container path being copied.
        path: PathBuf,
        /// The failed syscall.
        syscall: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Creating a device node (or binding the host's) failed.
    #[error("create device {}: {syscall}: {source}", path.display())]
    Device {
        /// The container path.
        path: PathBuf,
        /// The failed syscall.
        syscall: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Creating a symlink inside the rootfs failed.
    #[error("create symlink {} -> {target}: {syscall}: {source}", path.display())]
    Symlink {
        /// The container path of the link.
        path: PathBuf,
        /// What it points to.
        target: String,
        /// The failed syscall.
        syscall: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The host's /dev/null, used to mask files, is not the null device.
    #[error("mask with host /dev/null: not the null device (1:3)")]
    DevNull,
    /// Masking a path (`linux.maskedPaths`) failed.
    #[error("mask {}: {syscall}: {source}", path.display())]
    Mask {
        /// The container path.
        path: PathBuf,
        /// The failed syscall.
        syscall: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Making a path read-only (`linux.readonlyPaths`) failed.
    #[error("make {} read-only: {syscall}: {source}", path.display())]
    Readonly {
        /// The container path.
        path: PathBuf,
        /// The failed syscall.
        syscall: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A path under /proc or /sys resolved to a different filesystem than procfs/sysfs.
    #[error("{step} {}: not on {expected}", path.display())]
    WrongFs {
        /// `mask` or `make read-only`.
        step: &'static str,
        /// The container path.
        path: PathBuf,
        /// The filesystem the path must be on.
        expected: &'static str,
    },
    /// Switching the root (pivot_root or MS_MOVE + chroot) failed.
    #[error("enter rootfs {}: {syscall}: {source}", path.display())]
    Pivot {
        /// The rootfs' host path.
        path: PathBuf,
        /// The failed syscall.
        syscall: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `process.cwd` cannot be resolved or created inside the rootfs.
    #[error("process.cwd: {0}")]
    Cwd(#[source] Box<RootfsError>),
    /// Remounting `/` read-only (`root.readonly`) failed.
    #[error("make / read-only: mount_setattr: {source}")]
    ReadonlyRoot {
        /// Why.
        #[source]
        source: io::Error,
    },
}

impl Kind for RootfsError {
    fn kind(&self) -> ErrorKind {
        match self {
            RootfsError::BindSource { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                ErrorKind::BadSpec
            }
            RootfsError::Cwd(e) => e.kind(),
            RootfsError::Refused { .. }
            | RootfsError::LockedFlags { .. }
            | RootfsError::NoCgroups { .. }
            | RootfsError::NoMountNamespace
            | RootfsError::WrongFs { .. } => ErrorKind::BadSpec,
            _ => ErrorKind::Sys,
        }
    }
}

/// Converts a rustix errno into the io::Error the variants carry.
pub(crate) fn io(e: rustix::io::Errno) -> io::Error {
    e.into()
}
