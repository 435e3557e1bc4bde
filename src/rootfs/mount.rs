//! Applies the planned mount steps (`plan.rs`) inside the rootfs, during `prepare`.
//!
//! hull uses the new mount API (fsopen/fsconfig/fsmount, open_tree, move_mount,
//! mount_setattr) and not mount(2) on `/proc/self/fd/N`, because:
//! - a mount is built detached and gets its flags, recursive attributes, and (tmpcopyup)
//!   its contents before it is attached, so a read-only mount is never briefly writable
//!   and a bind needs no second MS_REMOUNT call;
//! - the fd it returns *is* the new mount, so later propagation and attribute changes name
//!   exactly that mount. With mount(2), `/proc/self/fd/N` of the target names the mount
//!   *under* the new one once it is mounted, and the path has to be resolved again;
//! - it needs no trusted /proc at all, and mount_setattr only changes the bits it is
//!   given, so flags the kernel locked on a bind's source are kept without rewriting them.
//!
//! It needs Linux 5.12 or later (mount_setattr; openat2 came in 5.6).
//! Every target is an O_PATH fd from `Root`, and move_mount attaches onto that fd, never
//! onto a joined string path (CVE-2021-30465).

use super::error::{io, Origin, RootfsError};
use super::flags;
use super::guard::{self, PROC_MAGIC};
use super::plan::{MountStep, Source, Step};
use super::root::{Follow, Root, Target};
use crate::sys::MountAttr;
use nix::mount::MsFlags;
use rustix::fs::FileType;
use rustix::io::Errno;
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, OpenTreeFlags};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Applies one step of the plan.
pub(super) fn apply(root: &Root, step: &Step<'_>) -> Result<(), RootfsError> {
    match step {
        Step::Mount(m) => mount(root, m),
        Step::Symlink {
            origin: _,
            link,
            target,
        } => symlink(root, link, target),
        Step::Seal { origin, dest } => seal(root, *origin, dest),
    }
}

fn mount(root: &Root, step: &MountStep<'_>) -> Result<(), RootfsError> {
    match step.source {
        Source::Bind { path, recursive } => bind(root, step, path, recursive),
        Source::Fs { .. } if step.flags.contains(MsFlags::MS_REMOUNT) => remount(root, step),
        Source::Fs { .. } => match (new_fs(root, step), step.fallback) {
            (Err(RootfsError::Mount { source, .. }), Some(host))
                if matches!(source.raw_os_error(), Some(libc::EPERM | libc::EBUSY)) =>
            {
                bind(root, step, host, true)
            }
            (result, _) => result,
        },
    }
}

/// A bind: clone the host path's mount (tree), set its flags while detached, attach.
fn bind(
    root: &Root,
    step: &MountStep<'_>,
    path: &Path,
    recursive: bool,
) -> Result<(), RootfsError> {
    let mut how = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        how |= OpenTreeFlags::AT_RECURSIVE;
    }
    let tree = rustix::mount::open_tree(rustix::fs::CWD, path, how).map_err(|e| {
        RootfsError::BindSource {
            origin: step.origin,
            path: path.to_owned(),
            source: io(e),
        }
    })?;
    let st = rustix::fs::fstat(&tree).map_err(|e| fail(step, "fstat", e))?;
    let kind = match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => Target::Dir,
        _ => Target::File,
    };
    let (target, _) = target(root, step, kind)?;
    check_target(step, &target, Some(&tree))?;
    if let Some(attr) = flags::bind_attr(step.flags, step.clear) {
        set_bind_attr(step, &tree, attr)?;
    }
    finish(step, &tree, &target)
}

/// mount_setattr on the detached bind; on EPERM retry keeping the source's locked flags,
/// unless the request contradicts them (runc's rule).
fn set_bind_attr(step: &MountStep<'_>, tree: &OwnedFd, attr: MountAttr) -> Result<(), RootfsError> {
    let first = match crate::sys::mount_setattr(tree, Path::new(""), false, attr) {
        Ok(()) => return Ok(()),
        Err(e) if e.errno() == libc::EPERM => e.source,
        Err(e) => return Err(fail_io(step, "mount_setattr", e.source)),
    };
    let sv = rustix::fs::fstatvfs(tree).map_err(|e| fail(step, "fstatvfs", e))?;
    let source = flags::statvfs_flags(sv.f_flag.bits());
    let Some(kept) = flags::bind_attr_keeping_locked(step.flags, step.clear, source) else {
        return Err(RootfsError::LockedFlags {
            origin: step.origin,
            dest: step.dest.to_path_buf(),
            source: first,
        });
    };
    crate::sys::mount_setattr(tree, Path::new(""), false, kept)
        .map_err(|e| fail_io(step, "mount_setattr", e.source))
}

/// A new filesystem instance: fsopen, fsconfig each option, create, fsmount with the
/// per-mount flags, then attach.
fn new_fs(root: &Root, step: &MountStep<'_>) -> Result<(), RootfsError> {
    let Source::Fs {
        fstype,
        source,
        data,
    } = step.source
    else {
        return Ok(());
    };
    let (target, created) = target(root, step, Target::Dir)?;
    check_target(step, &target, None)?;
    let fs = rustix::mount::fsopen(fstype, FsOpenFlags::FSOPEN_CLOEXEC)
        .map_err(|e| fail(step, "fsopen", e))?;
    let set = |key: &str, value: Option<&str>| {
        match value {
            Some(v) => rustix::mount::fsconfig_set_string(&fs, key, v),
            None => rustix::mount::fsconfig_set_flag(&fs, key),
        }
        .map_err(|e| fsconfig_err(step, &fs, key, e))
    };
    if let Some(src) = source {
        rustix::mount::fsconfig_set_string(&fs, "source", src)
            .map_err(|e| fsconfig_err(step, &fs, "source", e))?;
    }
    for key in flags::sb_flags(step.flags, fstype) {
        set(key, None)?;
    }
    if step.inherit_mode && !created && !flags::fs_params(data).any(|(k, _)| k == "mode") {
        let st = rustix::fs::fstat(&target).map_err(|e| fail(step, "fstat", e))?;
        set("mode", Some(&format!("{:o}", st.st_mode & 0o7777)))?;
    }
    for (key, value) in flags::fs_params(data) {
        set(key, value)?;
    }
    if let Some(label) = step.label {
        set("context", Some(label))?;
    }
    rustix::mount::fsconfig_create(&fs).map_err(|e| fsconfig_err(step, &fs, "create", e))?;
    let attr = MountAttrFlags::from_bits_retain(flags::fsmount_attr(step.flags) as u32);
    let mnt = rustix::mount::fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attr)
        .map_err(|e| fail(step, "fsmount", e))?;
    if step.tmpcopyup {
        super::copyup::copy_up(&target, &mnt).map_err(|(syscall, e)| RootfsError::CopyUp {
            origin: step.origin,
            path: step.dest.to_path_buf(),
            syscall,
            source: io(e),
        })?;
    }
    finish(step, &mnt, &target)
}

/// The `remount` option on a filesystem entry: change the flags of what is mounted there.
fn remount(root: &Root, step: &MountStep<'_>) -> Result<(), RootfsError> {
    let Some(target) = root.lookup(&step.dest, step.follow)? else {
        return Err(fail(step, "openat2", Errno::NOENT));
    };
    let attr = flags::bind_attr(step.flags, step.clear).unwrap_or_default();
    crate::sys::mount_setattr(&target, Path::new(""), false, attr)
        .map_err(|e| fail_io(step, "mount_setattr", e.source))
}

/// Recursive attributes on the detached tree, attach it onto the target fd, propagation.
fn finish(step: &MountStep<'_>, mnt: &OwnedFd, target: &OwnedFd) -> Result<(), RootfsError> {
    if step.rec_attr != MountAttr::default() {
        crate::sys::mount_setattr(mnt, Path::new(""), true, step.rec_attr)
            .map_err(|e| fail_io(step, "mount_setattr", e.source))?;
    }
    attach(mnt, target).map_err(|e| fail(step, "move_mount", e))?;
    for p in step.propagation {
        let kind = (*p - MsFlags::MS_REC).bits();
        crate::sys::set_propagation(mnt, p.contains(MsFlags::MS_REC), kind)
            .map_err(|e| fail_io(step, "mount_setattr", e.source))?;
    }
    Ok(())
}

/// Attaches the detached mount `mnt` onto the O_PATH `target` (stacking on top of whatever
/// is mounted there already).
pub(super) fn attach(mnt: impl AsFd, target: impl AsFd) -> rustix::io::Result<()> {
    rustix::mount::move_mount(
        mnt,
        "",
        target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
}

/// Resolves (creating if missing) the step's destination, with errors naming the entry.
fn target(root: &Root, step: &MountStep<'_>, kind: Target) -> Result<(OwnedFd, bool), RootfsError> {
    root.mount_target(&step.dest, kind, step.follow)
        .map_err(|e| match e {
            RootfsError::Resolve { source, .. }
                if step.follow == Follow::Never && source.raw_os_error() == Some(libc::ELOOP) =>
            {
                refuse(
                    step,
                    "the path to a procfs or sysfs destination contains a symlink",
                )
            }
            RootfsError::Resolve {
                syscall, source, ..
            }
            | RootfsError::Create {
                syscall, source, ..
            } => fail_io(step, syscall, source),
            other => other,
        })
}

/// procfs and sysfs must land on a real directory; nothing but procfs may cover the root of
/// a procfs, and only the lxcfs files may be covered inside it (runc's checkProcMount),
/// decided on the resolved fd, not on the configured string.
fn check_target(
    step: &MountStep<'_>,
    target: &OwnedFd,
    bind_source: Option<&OwnedFd>,
) -> Result<(), RootfsError> {
    let sfs = rustix::fs::fstatfs(target).map_err(|e| fail(step, "fstatfs", e))?;
    let on_proc = guard::fs_type(&sfs) == PROC_MAGIC;
    if !on_proc && step.follow != Follow::Never {
        return Ok(());
    }
    let st = rustix::fs::fstat(target).map_err(|e| fail(step, "fstat", e))?;
    if step.follow == Follow::Never && FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return Err(refuse(step, "the destination is not a directory"));
    }
    if !on_proc {
        return Ok(());
    }
    let source_is_proc = match (&step.source, bind_source) {
        (Source::Fs { fstype, .. }, _) => *fstype == "proc",
        (Source::Bind { .. }, Some(tree)) => rustix::fs::fstatfs(tree)
            .map(|s| guard::fs_type(&s) == PROC_MAGIC)
            .unwrap_or(false),
        (Source::Bind { .. }, None) => false,
    };
    // The root of a procfs is always inode 1.
    if guard::procfs_target_allowed(&step.dest, st.st_ino == 1, source_is_proc) {
        Ok(())
    } else {
        Err(refuse(step, "the destination is inside procfs"))
    }
}

fn symlink(root: &Root, link: &Path, target: &str) -> Result<(), RootfsError> {
    let (dir, name) = root.parent_dir(link, Follow::InRoot)?;
    match rustix::fs::symlinkat(target, &dir, name) {
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(e) => Err(RootfsError::Symlink {
            path: link.to_owned(),
            target: target.to_owned(),
            syscall: "symlinkat",
            source: io(e),
        }),
    }
}

fn seal(root: &Root, origin: Origin, dest: &Path) -> Result<(), RootfsError> {
    let err = |syscall, source| RootfsError::Mount {
        origin,
        what: "tmpfs".to_owned(),
        dest: dest.to_owned(),
        syscall,
        source,
    };
    let fd = root
        .lookup(dest, Follow::InRoot)?
        .ok_or_else(|| err("openat2", io(Errno::NOENT)))?;
    let ro = MountAttr {
        set: flags::attr::RDONLY,
        clear: 0,
    };
    crate::sys::mount_setattr(&fd, Path::new(""), false, ro)
        .map_err(|e| err("mount_setattr", e.source))
}

fn fail(step: &MountStep<'_>, syscall: &'static str, e: Errno) -> RootfsError {
    fail_io(step, syscall, io(e))
}

fn fail_io(step: &MountStep<'_>, syscall: &'static str, source: std::io::Error) -> RootfsError {
    RootfsError::Mount {
        origin: step.origin,
        what: step.what(),
        dest: step.dest.to_path_buf(),
        syscall,
        source,
    }
}

/// An fsconfig failure, with the message the kernel logged on the fs context (e.g.
/// `tmpfs: Bad value for 'size'`) when there is one.
fn fsconfig_err(step: &MountStep<'_>, fs: &OwnedFd, key: &str, e: Errno) -> RootfsError {
    let mut buf = [0u8; 256];
    let said = match rustix::io::read(fs, &mut buf) {
        Ok(n) if n > 2 => String::from_utf8_lossy(&buf[2..n]).trim_end().to_owned(),
        _ => String::new(),
    };
    let what = if said.is_empty() {
        format!("{} (option {key})", step.what())
    } else {
        format!("{} (option {key}: {said})", step.what())
    };
    RootfsError::Mount {
        origin: step.origin,
        what,
        dest: step.dest.to_path_buf(),
        syscall: "fsconfig",
        source: io(e),
    }
}

fn refuse(step: &MountStep<'_>, reason: &'static str) -> RootfsError {
    RootfsError::Refused {
        origin: step.origin,
        what: step.what(),
        dest: step.dest.to_path_buf(),
        reason,
    }
}
