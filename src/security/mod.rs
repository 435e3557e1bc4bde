//! Process privileges: PLACEHOLDER interface, implemented in the security work branch.

use crate::spec::{ProcessConfig, Rlimit};

/// A failed privilege step.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// Not implemented yet.
    #[error("security: {0}")]
    Sys(#[from] crate::sys::SysError),
}

fn nosys(op: &'static str) -> SecurityError {
    SecurityError::Sys(crate::sys::SysError::from_errno(op, libc::ENOSYS))
}

/// Applies `process.rlimits` to the calling process.
pub fn apply_rlimits(_rlimits: &[Rlimit]) -> Result<(), SecurityError> {
    Err(nosys("rlimits"))
}

/// Attributes applied while still privileged, before the rootfs is entered: oomScoreAdj,
/// ioPriority, scheduler, personality.
pub fn apply_process_attrs(
    _p: &ProcessConfig,
    _personality: Option<u64>,
) -> Result<(), SecurityError> {
    Err(nosys("process attrs"))
}

/// The privilege drop, in order: bounding set, groups/gid/uid, the other capability sets,
/// ambient, umask, no_new_privs. Runs after pivot_root, right before waiting for start.
pub fn drop_privileges(_p: &ProcessConfig, _userns: bool) -> Result<(), SecurityError> {
    Err(nosys("drop privileges"))
}

impl crate::error::Kind for SecurityError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Sys
    }
}
