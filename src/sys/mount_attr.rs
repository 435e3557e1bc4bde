//! mount_setattr(2): recursive mount attributes (`rro`, `rnosuid`, ...), read-only binds that
//! do not need a remount, and the propagation of a mount reached through an fd (a mount fd
//! from fsmount/open_tree), so the rootfs code never names a mount by a path that could be
//! swapped under it.

use super::{retry, SysError};
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
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
    setattr(dirfd.as_fd(), &cpath, flags, &raw).map_err(|e| e.with_path(path))
}

/// Sets the propagation of the mount at `fd` (AT_EMPTY_PATH) to `propagation` (one of
/// `MS_SHARED`, `MS_SLAVE`, `MS_PRIVATE`, `MS_UNBINDABLE`), for its whole subtree when
/// `recursive`. Fails with EINVAL when `fd` is not the root of a mount.
pub fn set_propagation(fd: impl AsFd, recursive: bool, propagation: u64) -> Result<(), SysError> {
    let mut flags = libc::AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT | libc::AT_SYMLINK_NOFOLLOW;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    let raw = RawMountAttr {
        attr_set: 0,
        attr_clr: 0,
        propagation,
        userns_fd: 0,
    };
    setattr(fd.as_fd(), c"", flags, &raw)
}

fn setattr(
    fd: BorrowedFd<'_>,
    path: &CStr,
    flags: libc::c_int,
    raw: &RawMountAttr,
) -> Result<(), SysError> {
    // SAFETY: path is NUL-terminated and raw lives across the call with the size passed; the
    // kernel only reads both.
    retry("mount_setattr", || unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            path.as_ptr(),
            flags,
            raw as *const RawMountAttr,
            std::mem::size_of::<RawMountAttr>(),
        )
    })
    .map(|_| ())
}
