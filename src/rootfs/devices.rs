//! /dev, the last part of `prepare` (after the `mounts`, so the nodes land in the /dev
//! tmpfs): the default device nodes plus `linux.devices` (mknod, or in a user namespace a
//! bind of the host's node onto an empty file, as runc does), then runc's /dev symlinks,
//! `ptmx -> pts/ptmx` and `core -> /proc/kcore`. Skipped when the config binds /dev.

use super::error::{io, RootfsError};
use super::mount::attach;
use super::plan::{self, DevLink};
use super::root::{Follow, Root, Target};
use crate::spec::{defaults, Config, DeviceKind, DeviceNode};
use rustix::fs::{AtFlags, FileType, Gid, Mode, Uid};
use rustix::io::Errno;
use rustix::mount::OpenTreeFlags;
use std::os::fd::OwnedFd;
use std::path::Path;

/// Creates the device nodes and symlinks in the container's /dev.
pub(super) fn populate(root: &Root, config: &Config, userns: bool) -> Result<(), RootfsError> {
    let defaults = defaults::default_devices();
    let nodes = plan::device_nodes(&defaults, &config.devices);
    // Nearly every node sits right in /dev: resolve it once.
    let (dev, _) = root.parent_dir(Path::new("/dev/null"), Follow::InRoot)?;
    let owner = (rustix::process::geteuid(), rustix::process::getegid());
    // Nodes get exactly the configured mode; the umask is restored right after.
    let old = rustix::process::umask(Mode::empty());
    let made = nodes.iter().try_for_each(|d| {
        let dir = if plan::in_dev(&d.path) {
            None
        } else {
            Some(root.parent_dir(&d.path, Follow::InRoot)?.0)
        };
        node(root, dir.as_ref().unwrap_or(&dev), d, userns, owner)
    });
    rustix::process::umask(old);
    made?;
    let devpts = plan::mounts_devpts(&config.mounts);
    // /proc is still the host's here: whether the kernel has kcore is the same question.
    let kcore = rustix::fs::access("/proc/kcore", rustix::fs::Access::EXISTS).is_ok();
    plan::dev_links(devpts, kcore).try_for_each(|l| link(&dev, l))
}

/// Makes one node in `dir` (its parent directory), or binds the host's.
fn node(
    root: &Root,
    dir: &OwnedFd,
    d: &DeviceNode,
    userns: bool,
    owner: (Uid, Gid),
) -> Result<(), RootfsError> {
    let kind = match d.kind {
        DeviceKind::Char => FileType::CharacterDevice,
        DeviceKind::Block => FileType::BlockDevice,
        DeviceKind::Fifo => FileType::Fifo,
    };
    // mknod of a device needs CAP_MKNOD in the initial user namespace; fifos never do.
    if userns && kind != FileType::Fifo {
        return bind_host_node(root, d);
    }
    let Some(name) = d.path.file_name() else {
        return Err(err(d, "mknodat", Errno::INVAL));
    };
    let dev = rustix::fs::makedev(d.major as u32, d.minor as u32);
    match rustix::fs::mknodat(dir, name, kind, Mode::from_raw_mode(d.mode), dev) {
        Ok(()) => {}
        // An existing node is kept, as runc does.
        Err(Errno::EXIST) => return Ok(()),
        Err(Errno::PERM) => return bind_host_node(root, d),
        Err(e) => return Err(err(d, "mknodat", e)),
    }
    let (uid, gid) = (Uid::from_raw(d.uid), Gid::from_raw(d.gid));
    if (uid, gid) == owner {
        return Ok(());
    }
    rustix::fs::chownat(dir, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| err(d, "fchownat", e))
}

/// Binds the host's node at the same path onto an empty file in the container.
fn bind_host_node(root: &Root, d: &DeviceNode) -> Result<(), RootfsError> {
    let how = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    let tree = rustix::mount::open_tree(rustix::fs::CWD, &d.path, how)
        .map_err(|e| err(d, "open_tree", e))?;
    let (target, _) = root.mount_target(&d.path, Target::File, Follow::InRoot)?;
    attach(&tree, &target).map_err(|e| err(d, "move_mount", e))
}

fn link(dev: &impl std::os::fd::AsFd, l: DevLink) -> Result<(), RootfsError> {
    let fail = |syscall, e| RootfsError::Symlink {
        path: Path::new("/dev").join(l.name),
        target: l.target.to_owned(),
        syscall,
        source: io(e),
    };
    if l.replace {
        match rustix::fs::unlinkat(dev, l.name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(fail("unlinkat", e)),
        }
    }
    match rustix::fs::symlinkat(l.target, dev, l.name) {
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(e) => Err(fail("symlinkat", e)),
    }
}

fn err(d: &DeviceNode, syscall: &'static str, e: Errno) -> RootfsError {
    RootfsError::Device {
        path: d.path.clone(),
        syscall,
        source: io(e),
    }
}
