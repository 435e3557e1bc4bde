//! Forking the init (or the bootstrap process) with clone3: namespaces, a pidfd and, on cgroup
//! v2, placement into the container's cgroup happen in the one call, so there is no window in
//! which the child runs outside its cgroup.

use crate::sys::{self, CloneArgs, CloneResult, SysError};
use nix::sched::CloneFlags;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// Which side of the fork we are on.
#[derive(Debug)]
pub enum Forked {
    /// The parent, with the child's pid and pidfd.
    Parent {
        /// Child pid.
        pid: i32,
        /// Child pidfd (CLONE_PIDFD): signals and waits cannot hit a recycled pid.
        pidfd: OwnedFd,
    },
    /// The child.
    Child,
}

/// Clones a child with `flags` (CLONE_NEW* bits), optionally straight into a cgroup2 dir.
pub fn clone_child(flags: CloneFlags, cgroup: Option<BorrowedFd<'_>>) -> Result<Forked, SysError> {
    let args = CloneArgs {
        flags: flags.bits() as u64 | libc::CLONE_PIDFD as u64,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.map(|fd| fd.as_raw_fd()),
    };
    // SAFETY: hull is single-threaded on the create path (no threads are ever started in
    // the `hull` binary), so the child's copy of the address space has no held locks.
    match unsafe { sys::clone3(args) }? {
        CloneResult::Child => Ok(Forked::Child),
        CloneResult::Parent {
            pid,
            pidfd: Some(pidfd),
        } => Ok(Forked::Parent { pid, pidfd }),
        CloneResult::Parent { .. } => Err(SysError::from_errno("clone3 (no pidfd)", libc::EINVAL)),
    }
}
