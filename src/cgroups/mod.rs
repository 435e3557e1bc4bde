//! Container cgroups: PLACEHOLDER interface, implemented in the cgroups work branch.

use crate::state::CgroupRecord;
use nix::sys::signal::Signal;
use std::os::fd::OwnedFd;

/// A failed cgroup operation.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// Not implemented yet.
    #[error("cgroup: {0}")]
    Sys(#[from] crate::sys::SysError),
}

/// One container's cgroup across every hierarchy of the host.
pub trait Manager {
    /// What to persist in state.json, written before `create` so `destroy` can always run.
    fn record(&self) -> CgroupRecord;
    /// Creates the cgroup directories.
    fn create(&self) -> Result<(), CgroupError>;
    /// Applies `linux.resources`.
    fn apply(&self, resources: &oci_spec::runtime::LinuxResources) -> Result<(), CgroupError>;
    /// Moves a process into the cgroup.
    fn add_process(&self, pid: i32) -> Result<(), CgroupError>;
    /// Pids of every process in the cgroup.
    fn pids(&self) -> Result<Vec<i32>, CgroupError>;
    /// Sends a signal to every process in the cgroup.
    fn kill_all(&self, signal: Signal) -> Result<(), CgroupError>;
    /// Freezes every process.
    fn freeze(&self) -> Result<(), CgroupError>;
    /// Thaws every process.
    fn thaw(&self) -> Result<(), CgroupError>;
    /// Whether the cgroup is frozen.
    fn is_frozen(&self) -> Result<bool, CgroupError>;
    /// On a unified host: an O_PATH fd of the cgroup2 directory, for CLONE_INTO_CGROUP.
    fn clone_into_fd(&self) -> Option<OwnedFd>;
    /// Removes the cgroup directories; absent ones are fine.
    fn destroy(&self) -> Result<(), CgroupError>;
}

/// The manager for a new container: `cgroups_path` from the spec (None: hull's default).
pub fn new(
    _cgroups_path: Option<&str>,
    _id: &str,
    _rootless: bool,
) -> Result<Box<dyn Manager>, CgroupError> {
    Err(CgroupError::Sys(crate::sys::SysError::from_errno(
        "cgroups::new",
        libc::ENOSYS,
    )))
}

/// The manager for an existing container, from its record in state.json.
pub fn from_record(_record: &CgroupRecord) -> Result<Box<dyn Manager>, CgroupError> {
    struct Nothing;
    impl Manager for Nothing {
        fn record(&self) -> CgroupRecord {
            CgroupRecord::default()
        }
        fn create(&self) -> Result<(), CgroupError> {
            Ok(())
        }
        fn apply(&self, _: &oci_spec::runtime::LinuxResources) -> Result<(), CgroupError> {
            Ok(())
        }
        fn add_process(&self, _: i32) -> Result<(), CgroupError> {
            Ok(())
        }
        fn pids(&self) -> Result<Vec<i32>, CgroupError> {
            Ok(vec![])
        }
        fn kill_all(&self, _: Signal) -> Result<(), CgroupError> {
            Ok(())
        }
        fn freeze(&self) -> Result<(), CgroupError> {
            Ok(())
        }
        fn thaw(&self) -> Result<(), CgroupError> {
            Ok(())
        }
        fn is_frozen(&self) -> Result<bool, CgroupError> {
            Ok(false)
        }
        fn clone_into_fd(&self) -> Option<OwnedFd> {
            None
        }
        fn destroy(&self) -> Result<(), CgroupError> {
            Ok(())
        }
    }
    Ok(Box::new(Nothing))
}

impl crate::error::Kind for CgroupError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Sys
    }
}
