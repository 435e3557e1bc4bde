//! The fd-relative filesystem operations the appliers use: resolving a directory inside the
//! target with openat2(RESOLVE_IN_ROOT), recursive removal below a directory fd, xattrs.
//! Nothing here joins strings onto the target; every name is one component under an fd.

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, ResolveFlags, XattrFlags};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// An O_PATH directory handle.
pub const PATH_DIR: OFlags = OFlags::PATH.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);
/// A readable directory handle, never through a symlink.
pub const READ_DIR: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);
/// Symlinks followed but confined to the target (umoci's securejoin semantics).
pub const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// Opens `path` (relative to the target root) with `oflags`, confined to the root.
pub fn open_in(root: BorrowedFd<'_>, path: &Path, oflags: OFlags) -> io::Result<OwnedFd> {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(root, path, oflags | OFlags::CLOEXEC, Mode::empty(), IN_ROOT) {
            Err(Errno::AGAIN | Errno::INTR) if tries < 32 => tries += 1,
            other => return other.map_err(io::Error::from),
        }
    }
}

/// Like [`open_in`] for a directory, `None` when it does not exist.
pub fn lookup_dir(root: BorrowedFd<'_>, path: &Path) -> io::Result<Option<OwnedFd>> {
    match open_in(root, path, PATH_DIR) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The type of `name` under `dir` without following a symlink; `None` when absent.
pub fn kind_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<FileType>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The names in a directory (without `.` and `..`).
pub fn names(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let fd = rustix::fs::openat(dir, ".", READ_DIR, Mode::empty())?;
    let mut out = Vec::new();
    for entry in Dir::read_from(&fd)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            out.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    Ok(out)
}

/// Removes `name` under `dir`, recursively when it is a directory; absent is fine.
pub fn remove_all_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR | Errno::PERM) => {}
        Err(e) => return Err(e.into()),
    }
    let sub = match rustix::fs::openat(dir, name, READ_DIR, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for child in names(sub.as_fd())? {
        remove_all_at(sub.as_fd(), &child)?;
    }
    match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Sets xattrs on an open file or directory; a filesystem without support skips them.
pub fn set_xattrs(fd: BorrowedFd<'_>, xattrs: &[(String, Vec<u8>)]) -> io::Result<()> {
    for (name, value) in xattrs {
        match rustix::fs::fsetxattr(fd, name.as_str(), value, XattrFlags::empty()) {
            Ok(()) | Err(Errno::OPNOTSUPP) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Sets xattrs on `name` under `dir` without following it (symlinks, device nodes): through
/// the parent's fd in /proc, since a symlink cannot be opened for fsetxattr.
pub fn set_xattrs_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    xattrs: &[(String, Vec<u8>)],
) -> io::Result<()> {
    if xattrs.is_empty() {
        return Ok(());
    }
    let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    path.extend_from_slice(name.as_bytes());
    let path = OsStr::from_bytes(&path);
    for (xname, value) in xattrs {
        match rustix::fs::lsetxattr(path, xname.as_str(), value, XattrFlags::empty()) {
            Ok(()) | Err(Errno::OPNOTSUPP | Errno::PERM) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
