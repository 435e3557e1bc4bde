//! The container's terminal: PLACEHOLDER interface, implemented in the security work branch.

use std::os::fd::OwnedFd;
use std::path::Path;

/// A failed console step.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Not implemented yet.
    #[error("console: {0}")]
    Sys(#[from] crate::sys::SysError),
}

/// Connects to the `--console-socket` (done in hull, before the init is forked).
pub fn connect(_path: &Path) -> Result<OwnedFd, ConsoleError> {
    Err(ConsoleError::Sys(crate::sys::SysError::from_errno(
        "console connect",
        libc::ENOSYS,
    )))
}

/// In the container after pivot_root: new pty from /dev/ptmx, slave bound on /dev/console and
/// made the controlling terminal and stdio, master sent over `socket` (SCM_RIGHTS).
pub fn setup(_socket: OwnedFd, _size: Option<(u16, u16)>) -> Result<(), ConsoleError> {
    Err(ConsoleError::Sys(crate::sys::SysError::from_errno(
        "console setup",
        libc::ENOSYS,
    )))
}

impl crate::error::Kind for ConsoleError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Sys
    }
}
