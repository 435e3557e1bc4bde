//! `protect`: `linux.readonlyPaths` and `linux.maskedPaths`, applied after the mounts and
//! before pivot_root. Every path is resolved inside the rootfs (a symlink in the image can
//! only lead to another place in the rootfs), a missing path is skipped, and a path under
//! /proc or /sys must resolve onto procfs or sysfs, so a fake /proc is refused rather than
//! "protected". Masks clone the host's /dev/null (checked to be the null device) or one
//! read-only empty tmpfs, so a container's /dev/null is never what hides a file.

use super::error::{io, RootfsError};
use super::guard;
use super::mount::attach;
use super::root::{Follow, Root};
use crate::spec::Config;
use crate::sys::MountAttr;
use rustix::fs::{FileType, OFlags};
use rustix::io::Errno;
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, OpenTreeFlags};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Applies readonlyPaths, then maskedPaths (runc's order), inside the rootfs.
pub(super) fn protect(config: &Config) -> Result<(), RootfsError> {
    if config.masked_paths.is_empty() && config.readonly_paths.is_empty() {
        return Ok(());
    }
    let root = Root::open(&config.rootfs)?;
    for p in &config.readonly_paths {
        readonly(&root, p)?;
    }
    let mut masks = Masks {
        label: config.mount_label.as_deref(),
        null: None,
        empty_dir: None,
    };
    for p in &config.masked_paths {
        masks.mask(&root, p)?;
    }
    Ok(())
}

/// Binds the path onto itself (with what is mounted below it) and sets read-only on the
/// new top mount only; mount_setattr sets just that bit, so the flags the kernel locked
/// (nosuid, nodev, ...) stay as they are.
fn readonly(root: &Root, unsafe_path: &Path) -> Result<(), RootfsError> {
    let fail = |syscall, e: Errno| RootfsError::Readonly {
        path: unsafe_path.to_owned(),
        syscall,
        source: io(e),
    };
    let Some(target) = root.lookup(unsafe_path, Follow::InRoot)? else {
        return Ok(());
    };
    check_fs("make read-only", unsafe_path, &target)?;
    let tree = clone_of(&target, true).map_err(|e| fail("open_tree", e))?;
    let ro = MountAttr {
        set: super::flags::attr::RDONLY,
        clear: 0,
    };
    crate::sys::mount_setattr(&tree, Path::new(""), false, ro).map_err(|e| {
        RootfsError::Readonly {
            path: unsafe_path.to_owned(),
            syscall: "mount_setattr",
            source: e.source,
        }
    })?;
    attach(&tree, &target).map_err(|e| fail("move_mount", e))
}

/// The sources of masks, made on first use and cloned for every further path.
struct Masks<'a> {
    label: Option<&'a str>,
    /// The host's /dev/null (O_PATH), checked to be the 1:3 character device.
    null: Option<OwnedFd>,
    /// The first read-only empty tmpfs, once attached.
    empty_dir: Option<OwnedFd>,
}

impl Masks<'_> {
    fn mask(&mut self, root: &Root, unsafe_path: &Path) -> Result<(), RootfsError> {
        let fail = |syscall, e: Errno| RootfsError::Mask {
            path: unsafe_path.to_owned(),
            syscall,
            source: io(e),
        };
        let Some(target) = root.lookup(unsafe_path, Follow::InRoot)? else {
            return Ok(());
        };
        check_fs("mask", unsafe_path, &target)?;
        let st = rustix::fs::fstat(&target).map_err(|e| fail("fstat", e))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
            let null = self.null()?;
            let tree = clone_of(null, false).map_err(|e| fail("open_tree", e))?;
            return attach(&tree, &target).map_err(|e| fail("move_mount", e));
        }
        let tree = match &self.empty_dir {
            Some(first) => clone_of(first, false).map_err(|e| fail("open_tree", e))?,
            None => empty_tmpfs(self.label).map_err(|(s, e)| fail(s, e))?,
        };
        attach(&tree, &target).map_err(|e| fail("move_mount", e))?;
        if self.empty_dir.is_none() {
            self.empty_dir = Some(tree);
        }
        Ok(())
    }

    fn null(&mut self) -> Result<&OwnedFd, RootfsError> {
        if self.null.is_none() {
            let fd = rustix::fs::open("/dev/null", OFlags::PATH | OFlags::CLOEXEC, 0.into())
                .map_err(|e| RootfsError::Mask {
                    path: "/dev/null".into(),
                    syscall: "open",
                    source: io(e),
                })?;
            let st = rustix::fs::fstat(&fd).map_err(|_| RootfsError::DevNull)?;
            let null = rustix::fs::makedev(1, 3);
            if FileType::from_raw_mode(st.st_mode) != FileType::CharacterDevice
                || st.st_rdev != null
            {
                return Err(RootfsError::DevNull);
            }
            self.null = Some(fd);
        }
        self.null.as_ref().ok_or(RootfsError::DevNull)
    }
}

/// A read-only (mount and superblock) empty tmpfs, detached.
fn empty_tmpfs(label: Option<&str>) -> Result<OwnedFd, (&'static str, Errno)> {
    let fs =
        rustix::mount::fsopen("tmpfs", FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| ("fsopen", e))?;
    let config = |key, value: Option<&str>| {
        match value {
            Some(v) => rustix::mount::fsconfig_set_string(&fs, key, v),
            None => rustix::mount::fsconfig_set_flag(&fs, key),
        }
        .map_err(|e| ("fsconfig", e))
    };
    config("source", Some("tmpfs"))?;
    config("ro", None)?;
    if let Some(l) = label {
        config("context", Some(l))?;
    }
    rustix::mount::fsconfig_create(&fs).map_err(|e| ("fsconfig create", e))?;
    rustix::mount::fsmount(
        &fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_RDONLY,
    )
    .map_err(|e| ("fsmount", e))
}

/// A detached clone of the mount at (or the subtree under) `fd`.
fn clone_of(fd: impl AsFd, recursive: bool) -> rustix::io::Result<OwnedFd> {
    let mut how = OpenTreeFlags::OPEN_TREE_CLONE
        | OpenTreeFlags::OPEN_TREE_CLOEXEC
        | OpenTreeFlags::AT_EMPTY_PATH;
    if recursive {
        how |= OpenTreeFlags::AT_RECURSIVE;
    }
    rustix::mount::open_tree(fd, "", how)
}

/// A path under /proc or /sys must be on procfs or sysfs (see `guard::expected_fs`).
fn check_fs(step: &'static str, unsafe_path: &Path, target: &OwnedFd) -> Result<(), RootfsError> {
    let Some((expected, magic)) = guard::expected_fs(unsafe_path) else {
        return Ok(());
    };
    let sfs = rustix::fs::fstatfs(target).map_err(|e| RootfsError::Resolve {
        path: unsafe_path.to_owned(),
        syscall: "fstatfs",
        source: io(e),
    })?;
    if guard::fs_type(&sfs) == magic {
        Ok(())
    } else {
        Err(RootfsError::WrongFs {
            step,
            path: unsafe_path.to_owned(),
            expected,
        })
    }
}
