//! The two ends of the rootfs setup: `set_root_propagation` and `prepare_root` (first steps
//! of `prepare`: propagation of `/`, the mount holding the rootfs made private where
//! pivot_root needs it, the rootfs rbound onto itself so it is a mount point) and `enter`
//! (pivot_root, or MS_MOVE + chroot with --no-pivot, then the read-only root).

use super::error::{io, RootfsError};
use super::mount::attach;
use super::root::Root;
use crate::spec::Config;
use crate::sys::MountAttr;
use nix::mount::MsFlags;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{MountPropagationFlags, OpenTreeFlags, UnmountFlags};
use std::os::fd::OwnedFd;
use std::path::Path;

const PATH_DIR: OFlags = OFlags::PATH.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);

/// Gives `/` the config's rootfsPropagation. The first step of `prepare`, before anything
/// is mounted (the overlay included), so no mount can propagate into the host's namespace.
pub(super) fn set_root_propagation(config: &Config) -> Result<(), RootfsError> {
    let prop = MountPropagationFlags::from_bits_retain(config.rootfs_propagation.bits() as u32);
    rustix::mount::mount_change("/", prop).map_err(|e| RootfsError::Propagation {
        path: "/".into(),
        syscall: "mount",
        source: io(e),
    })
}

/// Makes the rootfs a private mount point of its own and returns the root to resolve
/// container paths under (the new rootfs mount).
pub(super) fn prepare_root(config: &Config) -> Result<Root, RootfsError> {
    let rootfs = &config.rootfs;
    let bind_err = |syscall, e| RootfsError::BindRootfs {
        path: rootfs.clone(),
        syscall,
        source: io(e),
    };
    let dir = rustix::fs::open(rootfs, PATH_DIR, Mode::empty()).map_err(|e| bind_err("open", e))?;
    if parent_needs_private(config.rootfs_propagation) {
        make_holder_private(rootfs, &dir)?;
    }
    let how = OpenTreeFlags::OPEN_TREE_CLONE
        | OpenTreeFlags::OPEN_TREE_CLOEXEC
        | OpenTreeFlags::AT_EMPTY_PATH
        | OpenTreeFlags::AT_RECURSIVE;
    let tree = rustix::mount::open_tree(&dir, "", how).map_err(|e| bind_err("open_tree", e))?;
    attach(&tree, &dir).map_err(|e| bind_err("move_mount", e))?;
    // The mount fd now names the attached rbind's root: exactly the new root.
    Ok(Root::from_fd(tree))
}

/// pivot_root refuses a new root whose parent mount is shared. After a recursive slave,
/// private or unbindable change of `/` nothing is shared any more; otherwise the mount that
/// holds the rootfs must be made private (runc's rootfsParentMountPrivate).
pub(super) fn parent_needs_private(propagation: MsFlags) -> bool {
    !propagation.contains(MsFlags::MS_REC) || propagation.contains(MsFlags::MS_SHARED)
}

/// Walks up from the rootfs to the root of the mount holding it (mount_setattr on a
/// directory that is not a mount root fails with EINVAL) and makes that mount private.
/// No mountinfo parsing: one or two syscalls per level of the rootfs path.
fn make_holder_private(rootfs: &Path, dir: &OwnedFd) -> Result<(), RootfsError> {
    let fail = |syscall, source| RootfsError::Propagation {
        path: rootfs.to_owned(),
        syscall,
        source,
    };
    let private = MsFlags::MS_PRIVATE.bits();
    let mut cur: Option<OwnedFd> = None;
    for _ in 0..4096 {
        let at = cur.as_ref().unwrap_or(dir);
        match crate::sys::set_propagation(at, false, private) {
            Ok(()) => return Ok(()),
            Err(e) if e.errno() == libc::EINVAL => {}
            Err(e) => return Err(fail("mount_setattr", e.source)),
        }
        let up = rustix::fs::openat(at, "..", PATH_DIR, Mode::empty())
            .map_err(|e| fail("openat", io(e)))?;
        cur = Some(up);
    }
    Err(fail("mount_setattr", io(Errno::LOOP)))
}

/// Switches the process root to the rootfs and makes it read-only if asked.
pub(super) fn enter(config: &Config, no_pivot: bool) -> Result<(), RootfsError> {
    let fail = |syscall, e| RootfsError::Pivot {
        path: config.rootfs.clone(),
        syscall,
        source: io(e),
    };
    // By path on purpose: it resolves to the top mount at the rootfs, the rbind `prepare` made.
    let new_root =
        rustix::fs::open(&config.rootfs, PATH_DIR, Mode::empty()).map_err(|e| fail("open", e))?;
    if no_pivot {
        rustix::process::fchdir(&new_root).map_err(|e| fail("fchdir", e))?;
        rustix::mount::mount_move(".", "/").map_err(|e| fail("mount MS_MOVE", e))?;
        rustix::process::chroot(".").map_err(|e| fail("chroot", e))?;
    } else {
        pivot(&new_root).map_err(|(syscall, e)| fail(syscall, e))?;
    }
    rustix::process::chdir("/").map_err(|e| fail("chdir", e))?;
    if config.readonly_root {
        let ro = MountAttr {
            set: super::flags::attr::RDONLY,
            clear: 0,
        };
        // Sets only read-only: the flags the kernel locked on the rootfs stay.
        crate::sys::mount_setattr(rustix::fs::CWD, Path::new("/"), false, ro)
            .map_err(|e| RootfsError::ReadonlyRoot { source: e.source })?;
    }
    Ok(())
}

/// pivot_root(".", "."): the old root ends up stacked on the new one at "/", so it needs no
/// put_old directory; it is then detached from the old root's own fd.
fn pivot(new_root: &OwnedFd) -> Result<(), (&'static str, Errno)> {
    let old_root = rustix::fs::open("/", PATH_DIR, Mode::empty()).map_err(|e| ("open", e))?;
    rustix::process::fchdir(new_root).map_err(|e| ("fchdir", e))?;
    rustix::process::pivot_root(".", ".").map_err(|e| ("pivot_root", e))?;
    rustix::process::fchdir(&old_root).map_err(|e| ("fchdir", e))?;
    // Slave before detaching, so the unmount can never propagate to the host's mounts
    // (with rshared rootfsPropagation the old root is still a peer of the host's `/`).
    let rslave = MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC;
    rustix::mount::mount_change(".", rslave).map_err(|e| ("mount MS_SLAVE", e))?;
    rustix::mount::unmount(".", UnmountFlags::DETACH).map_err(|e| ("umount2", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_private_only_when_something_may_stay_shared() {
        assert!(!parent_needs_private(MsFlags::MS_SLAVE | MsFlags::MS_REC));
        assert!(!parent_needs_private(MsFlags::MS_PRIVATE | MsFlags::MS_REC));
        assert!(parent_needs_private(MsFlags::MS_SLAVE));
        assert!(parent_needs_private(MsFlags::MS_SHARED | MsFlags::MS_REC));
        assert!(parent_needs_private(MsFlags::MS_PRIVATE));
    }
}
