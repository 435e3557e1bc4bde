//! mount_setattr(2): recursive mount attributes (`rro`, `rnosuid`, ...) and read-only binds
//! that do not need a remount.

use super::{retry, SysError};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

/// The attribute change to apply: flags to set and flags to clear.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MountAttr {
    /// MOUNT_ATTR_* bits to set.
    pub set: u64,
    /// MOUNT_ATTR_* bits to clear.
    pub clear: u64,
}

#[repr(C)]
struct RawMountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Applies `attr` to the mount at `dirfd`/`path` (AT_EMPTY_PATH when `path` is empty),
/// recursively when `recursive`.
pub fn mount_setattr(
    dirfd: impl AsFd,
    path: &Path,
    recursive: bool,
    attr: MountAttr,
) -> Result<(), SysError> {
    use std::os::unix::ffi::OsStrExt;
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| SysError::from_errno("mount_setattr", libc::EINVAL).with_path(path))?;
    let mut flags = libc::AT_NO_AUTOMOUNT | libc::AT_SYMLINK_NOFOLLOW;
    if path.as_os_str().is_empty() {
        flags |= libc::AT_EMPTY_PATH;
    }
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    let raw = RawMountAttr {
        attr_set: attr.set,
        attr_clr: attr.clear,
        propagation: 0,
        userns_fd: 0,
    };
    let fd = dirfd.as_fd().as_raw_fd();
    // SAFETY: cpath and raw are valid for the duration of the call and sized as passed.
    retry("mount_setattr", || unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            cpath.as_ptr(),
            flags,
            &raw as *const RawMountAttr,
            std::mem::size_of::<RawMountAttr>(),
        )
    })
    .map(|_| ())
    .map_err(|e| e.with_path(path))
}
