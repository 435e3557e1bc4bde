//! mount_setattr(2) used for propagation only: changing the propagation type of a mount
//! reached through an fd (a mount fd from fsmount/open_tree), so the rootfs code never has
//! to name a mount by a path that could be swapped under it.

use super::{retry, SysError};
use std::os::fd::{AsFd, AsRawFd};

#[repr(C)]
struct RawMountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
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
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: the empty path is a valid NUL-terminated string and `raw` lives across the
    // call with the size passed; the kernel only reads both.
    retry("mount_setattr", || unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            c"".as_ptr(),
            flags,
            &raw as *const RawMountAttr,
            std::mem::size_of::<RawMountAttr>(),
        )
    })
    .map(|_| ())
}
