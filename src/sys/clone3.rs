//! clone3(2) without a new stack: a fork that can also create namespaces, return a pidfd and
//! place the child into a cgroup in one step.

use super::SysError;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// What to pass to clone3; only the fields hull uses.
#[derive(Debug, Default, Clone, Copy)]
pub struct CloneArgs {
    /// CLONE_* flags (namespaces, CLONE_PIDFD, CLONE_INTO_CGROUP).
    pub flags: u64,
    /// Signal delivered to the parent when the child exits (normally SIGCHLD).
    pub exit_signal: u64,
    /// A cgroup2 directory fd, used with CLONE_INTO_CGROUP.
    pub cgroup: Option<RawFd>,
}

/// Which side of the clone the caller is on.
#[derive(Debug)]
pub enum CloneResult {
    /// In the parent: the child's pid and, with CLONE_PIDFD, its pidfd.
    Parent { pid: i32, pidfd: Option<OwnedFd> },
    /// In the child.
    Child,
}

/// libc declares this as an i32 that overflows; the kernel's value.
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

#[repr(C)]
#[derive(Default)]
struct RawCloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Forks with clone3. The child continues on a copy of the caller's stack, like fork(2).
///
/// # Safety
/// The caller must be single-threaded: as with fork, only the calling thread is copied and
/// locks held by other threads would stay locked forever in the child.
pub unsafe fn clone3(args: CloneArgs) -> Result<CloneResult, SysError> {
    let mut pidfd: RawFd = -1;
    let mut raw = RawCloneArgs {
        flags: args.flags,
        exit_signal: args.exit_signal,
        ..Default::default()
    };
    if args.flags & (libc::CLONE_PIDFD as u64) != 0 {
        raw.pidfd = &mut pidfd as *mut RawFd as u64;
    }
    if let Some(fd) = args.cgroup {
        raw.flags |= CLONE_INTO_CGROUP;
        raw.cgroup = fd as u64;
    }
    // SAFETY: raw is a valid clone_args of the size passed; with stack == 0 the child runs on
    // a copy-on-write copy of this stack, as after fork. The caller guarantees one thread.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &raw as *const RawCloneArgs,
            std::mem::size_of::<RawCloneArgs>(),
        )
    };
    match rc {
        -1 => Err(SysError::last("clone3")),
        0 => Ok(CloneResult::Child),
        pid => {
            let pidfd = (pidfd >= 0).then(|| {
                // SAFETY: the kernel wrote a fresh pidfd that nothing else owns.
                unsafe { OwnedFd::from_raw_fd(pidfd) }
            });
            Ok(CloneResult::Parent {
                pid: pid as i32,
                pidfd,
            })
        }
    }
}
