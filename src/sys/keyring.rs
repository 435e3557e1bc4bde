//! The container's session keyring (keyctl JOIN_SESSION_KEYRING), so that containers do not
//! share the caller's keys.

use super::{retry, SysError};
use std::ffi::CString;

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
const KEYCTL_SETPERM: libc::c_long = 5;
/// possessor: all, user: view|read|write|search|link, group and other: none (as runc).
const KEYRING_PERM: libc::c_long = 0x3f3f_0000;

/// Joins a new anonymous-named session keyring `name` and restricts its permissions.
///
/// Returns Ok(false) when the kernel has no keyring support (ENOSYS), which is not an error.
pub fn join_session_keyring(name: &str) -> Result<bool, SysError> {
    let cname = CString::new(name).map_err(|_| SysError::from_errno("keyctl", libc::EINVAL))?;
    // SAFETY: cname is a valid NUL-terminated string that outlives the call.
    let res = retry("keyctl(JOIN_SESSION_KEYRING)", || unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            cname.as_ptr(),
        )
    });
    let serial = match res {
        Ok(serial) => serial,
        Err(e) if e.errno() == libc::ENOSYS => return Ok(false),
        Err(e) => return Err(e),
    };
    // SAFETY: plain integer arguments.
    retry("keyctl(SETPERM)", || unsafe {
        libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, serial, KEYRING_PERM)
    })?;
    Ok(true)
}
