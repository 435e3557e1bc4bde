//! Thin wrappers for the syscalls that nix and rustix lack (clone3, close_range, mount_setattr,
//! keyctl, ioprio_set, sched_setattr, bpf, interface flags): the one home of raw `libc` calls and most `unsafe`.
//!
//! Each wrapper retries on EINTR where the call is restartable and reports failures as
//! [`SysError`], which names the operation and, where there is one, the path.

pub mod bpf;
mod clone3;
mod keyring;
mod mount_attr;
mod netdev;
mod proc_attr;
pub mod seccomp;

pub use clone3::{clone3, CloneArgs, CloneResult};
pub use keyring::join_session_keyring;
pub use mount_attr::{mount_setattr, set_propagation, MountAttr};
pub use netdev::set_link_up;
pub use proc_attr::{ioprio_set, prlimit, sched_setattr, SchedAttr};

use std::io;
use std::path::PathBuf;

/// One failed system call, with the operation and the path it was applied to.
#[derive(Debug, thiserror::Error)]
#[error("{op}{}: {source}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
pub struct SysError {
    /// The syscall or step that failed, e.g. `"mount_setattr"`.
    pub op: &'static str,
    /// The path the call was applied to, if any.
    pub path: Option<PathBuf>,
    /// The errno as an io::Error.
    #[source]
    pub source: io::Error,
}

impl SysError {
    /// Builds an error from the current errno.
    pub fn last(op: &'static str) -> Self {
        SysError {
            op,
            path: None,
            source: io::Error::last_os_error(),
        }
    }

    /// Builds an error from an errno value.
    pub fn from_errno(op: &'static str, errno: i32) -> Self {
        SysError {
            op,
            path: None,
            source: io::Error::from_raw_os_error(errno),
        }
    }

    /// Attaches the path the call was applied to.
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The raw errno, 0 when the error carries none.
    pub fn errno(&self) -> i32 {
        self.source.raw_os_error().unwrap_or(0)
    }
}

/// Runs a raw syscall returning -1/errno until it does not fail with EINTR.
fn retry(op: &'static str, mut f: impl FnMut() -> libc::c_long) -> Result<libc::c_long, SysError> {
    loop {
        let rc = f();
        if rc != -1 {
            return Ok(rc);
        }
        let err = SysError::last(op);
        if err.errno() != libc::EINTR {
            return Err(err);
        }
    }
}

/// Closes every fd in `first..=last` (close_range(2)).
///
/// # Safety
/// Fds in the range may be owned by `OwnedFd`s elsewhere in this process, which then name
/// closed (or reused) fds: call this only on the way to execve or `_exit`, and never use or
/// drop those owners afterwards.
pub unsafe fn close_range(first: u32, last: u32) -> Result<(), SysError> {
    if first > last {
        return Ok(());
    }
    // SAFETY: close_range takes no memory; ownership of the closed fds is the caller's
    // contract above.
    retry("close_range", || unsafe {
        libc::syscall(libc::SYS_close_range, first, last, 0)
    })
    .map(|_| ())
}

/// Marks every fd from `first` upwards close-on-exec (close_range with CLOSE_RANGE_CLOEXEC).
///
/// Used right before execve so that nothing hull or its caller opened leaks into the
/// container (CVE-2024-21626), while the fds that must survive stay open until then.
pub fn cloexec_from(first: u32) -> Result<(), SysError> {
    // SAFETY: close_range only changes fd flags of this process; no memory is passed.
    retry("close_range", || unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    })
    .map(|_| ())
}

/// Closes every fd from `first` upwards (close_range). Used by the long-lived built-in PID 1,
/// which must hold nothing of hull's.
pub fn close_from(first: u32) {
    // SAFETY: close_range only closes fds of this process; the caller owns none above
    // `first` that it still uses (they are all dropped by the exit that follows).
    unsafe {
        libc::syscall(libc::SYS_close_range, first, u32::MAX, 0);
    }
}
