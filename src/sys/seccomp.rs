//! seccomp(2) SECCOMP_SET_MODE_FILTER with explicit flags: hull compiles the filter itself
//! and installs the BPF program directly, so it controls TSYNC/LOG/SPEC_ALLOW and gets the
//! NEW_LISTENER notification fd back.

use super::SysError;
use std::os::fd::{FromRawFd, OwnedFd};

/// SECCOMP_FILTER_FLAG_NEW_LISTENER: return a user notification fd.
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;
/// SECCOMP_FILTER_FLAG_TSYNC_ESRCH: with TSYNC and NEW_LISTENER together.
pub const FLAG_TSYNC_ESRCH: u32 = 1 << 4;

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const u8,
}

/// Installs `program` (an array of `struct sock_filter`, 8 bytes each) on the calling thread.
/// Returns the notification fd when `flags` has [`FLAG_NEW_LISTENER`].
pub fn set_filter(flags: u32, program: &[u8]) -> Result<Option<OwnedFd>, SysError> {
    if program.len() % 8 != 0 || program.len() / 8 > u16::MAX as usize {
        return Err(SysError::from_errno(
            "seccomp: malformed program",
            libc::EINVAL,
        ));
    }
    let prog = SockFprog {
        len: (program.len() / 8) as u16,
        filter: program.as_ptr(),
    };
    // SAFETY: prog points to `len` sock_filter entries that stay alive for the call; the
    // kernel copies the program before returning.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const SockFprog,
        )
    };
    if rc < 0 {
        return Err(SysError::last("seccomp(SECCOMP_SET_MODE_FILTER)"));
    }
    if flags & FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER the kernel returns a new fd that nothing else owns.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as i32) }));
    }
    Ok(None)
}
