//! The container's filesystem view, built inside its new mount namespace: PLACEHOLDER
//! interface, implemented in the rootfs work branch.

use crate::spec::Config;
use std::os::fd::OwnedFd;
use std::path::Path;

/// A failed rootfs step.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// Not implemented yet.
    #[error("rootfs: {0}")]
    Sys(#[from] crate::sys::SysError),
}

/// What the mount steps need besides the config.
#[derive(Debug, Clone, Copy)]
pub struct MountContext<'a> {
    /// The container's configuration.
    pub config: &'a Config,
    /// The container's cgroup path inside each hierarchy (e.g. `/hull/abc`), for `cgroup`
    /// mounts made without a cgroup namespace.
    pub cgroup_path: Option<&'a str>,
    /// The init runs in a new user namespace: device nodes are bound from the host, not made.
    pub userns: bool,
}

/// Propagation of `/`, the rootfs bind, every `mounts` entry, /dev nodes and symlinks.
pub fn prepare(_ctx: &MountContext<'_>) -> Result<(), RootfsError> {
    Err(RootfsError::Sys(crate::sys::SysError::from_errno(
        "rootfs::prepare",
        libc::ENOSYS,
    )))
}

/// maskedPaths and readonlyPaths, applied inside the rootfs before pivot_root.
pub fn protect(_cfg: &Config) -> Result<(), RootfsError> {
    Err(RootfsError::Sys(crate::sys::SysError::from_errno(
        "rootfs::protect",
        libc::ENOSYS,
    )))
}

/// pivot_root (or MS_MOVE + chroot with `no_pivot`) onto the rootfs, then the readonly root.
pub fn enter(_cfg: &Config, _no_pivot: bool) -> Result<(), RootfsError> {
    Err(RootfsError::Sys(crate::sys::SysError::from_errno(
        "rootfs::enter",
        libc::ENOSYS,
    )))
}

/// A directory handle under which untrusted paths are resolved with openat2(RESOLVE_IN_ROOT).
#[derive(Debug)]
pub struct Root {
    _fd: OwnedFd,
}

impl Root {
    /// Opens `path` as the root to resolve under.
    pub fn open(_path: &Path) -> Result<Root, RootfsError> {
        Err(RootfsError::Sys(crate::sys::SysError::from_errno(
            "Root::open",
            libc::ENOSYS,
        )))
    }

    /// Creates every missing directory of `unsafe_path` (mode 0755) inside the root.
    pub fn mkdir_all(&self, _unsafe_path: &Path) -> Result<(), RootfsError> {
        Err(RootfsError::Sys(crate::sys::SysError::from_errno(
            "Root::mkdir_all",
            libc::ENOSYS,
        )))
    }

    /// Opens the directory `unsafe_path` inside the root (O_DIRECTORY, never leaving it).
    pub fn open_dir(&self, _unsafe_path: &Path) -> Result<OwnedFd, RootfsError> {
        Err(RootfsError::Sys(crate::sys::SysError::from_errno(
            "Root::open_dir",
            libc::ENOSYS,
        )))
    }
}

impl crate::error::Kind for RootfsError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Sys
    }
}
