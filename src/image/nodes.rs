//! The nodes a layer entry becomes, made with one *at call on the parent's fd each, plus
//! their owner, mode, xattrs and times: the leaf operations of `apply.rs`.

use super::fsops;
use super::meta::Meta;
use super::whiteout;
use rustix::fs::{AtFlags, FileType, Mode, XattrFlags};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;

/// A failed step: the syscall or step, and why.
pub(super) type Step = (&'static str, io::Error);

pub(super) fn at(op: &'static str) -> impl Fn(Errno) -> Step {
    move |e| (op, e.into())
}

pub(super) fn io_at(op: &'static str) -> impl Fn(io::Error) -> Step {
    move |e| (op, e)
}

/// Runs `make`; if the name exists, removes what is there (recursively) and runs it again.
pub(super) fn excl<T>(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    mut make: impl FnMut() -> Result<T, Errno>,
) -> Result<T, Errno> {
    match make() {
        Err(Errno::EXIST) => {
            fsops::remove_all_at(dir, name)
                .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
            make()
        }
        other => other,
    }
}

/// Owner first: chown clears setuid/setgid bits, which the mode then sets.
pub(super) fn owner_mode(fd: BorrowedFd<'_>, meta: &Meta) -> Result<(), Step> {
    let uid = rustix::fs::Uid::from_raw(meta.uid);
    let gid = rustix::fs::Gid::from_raw(meta.gid);
    rustix::fs::fchown(fd, Some(uid), Some(gid)).map_err(at("fchown"))?;
    rustix::fs::fchmod(fd, Mode::from_raw_mode(meta.mode)).map_err(at("fchmod"))
}

pub(super) fn dir_meta(fd: BorrowedFd<'_>, meta: &Meta, opaque: bool) -> Result<(), Step> {
    owner_mode(fd, meta)?;
    fsops::set_xattrs(fd, &meta.xattrs).map_err(io_at("fsetxattr"))?;
    if opaque {
        set_opaque(fd)?;
    }
    Ok(())
}

pub(super) fn set_opaque(fd: BorrowedFd<'_>) -> Result<(), Step> {
    rustix::fs::fsetxattr(fd, whiteout::OVERLAY_OPAQUE, b"y", XattrFlags::empty())
        .map_err(at("fsetxattr trusted.overlay.opaque"))
}

pub(super) fn make_symlink(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    target: &[u8],
    meta: &Meta,
) -> Result<(), Step> {
    let target = OsStr::from_bytes(target);
    excl(dir, name, || rustix::fs::symlinkat(target, dir, name)).map_err(at("symlinkat"))?;
    node_meta(dir, name, meta, false)
}

pub(super) fn make_node<R: Read>(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    entry: &tar::Entry<'_, R>,
    meta: &Meta,
) -> Result<(), Step> {
    let h = entry.header();
    let kind = h.entry_type();
    let ft = if kind.is_character_special() {
        FileType::CharacterDevice
    } else if kind.is_block_special() {
        FileType::BlockDevice
    } else {
        FileType::Fifo
    };
    let major = h.device_major().ok().flatten().unwrap_or(0);
    let minor = h.device_minor().ok().flatten().unwrap_or(0);
    let dev = rustix::fs::makedev(major, minor);
    excl(dir, name, || {
        rustix::fs::mknodat(dir, name, ft, Mode::from_raw_mode(meta.mode), dev)
    })
    .map_err(at("mknodat"))?;
    node_meta(dir, name, meta, true)
}

/// Owner, mode (not for symlinks), xattrs and times of a node that cannot be opened.
fn node_meta(dir: BorrowedFd<'_>, name: &OsStr, meta: &Meta, chmod: bool) -> Result<(), Step> {
    let uid = rustix::fs::Uid::from_raw(meta.uid);
    let gid = rustix::fs::Gid::from_raw(meta.gid);
    rustix::fs::chownat(dir, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(at("fchownat"))?;
    if chmod {
        // mknod's mode went through the umask; this is a node just made under a private dir.
        rustix::fs::chmodat(dir, name, Mode::from_raw_mode(meta.mode), AtFlags::empty())
            .map_err(at("fchmodat"))?;
    }
    fsops::set_xattrs_at(dir, name, &meta.xattrs).map_err(io_at("lsetxattr"))?;
    rustix::fs::utimensat(dir, name, &meta.timestamps(), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(at("utimensat"))?;
    Ok(())
}
