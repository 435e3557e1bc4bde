//! `tmpcopyup`: copies a directory's contents into the new, still detached tmpfs that will
//! cover it, so the container sees the image's files on a writable tmpfs. The tmpfs is not
//! attached anywhere yet, so nothing can race the copy; the source is walked with
//! O_NOFOLLOW fds, never by path strings. Files, directories, symlinks, device nodes and
//! fifos keep their mode and owner (as runc's copy does); sockets are skipped.

use rustix::fs::{AtFlags, Dir, FileType, Gid, Mode, OFlags, Uid};
use rustix::io::Errno;
use std::ffi::CStr;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// A failed step of the copy: the syscall and its errno.
pub(super) type CopyError = (&'static str, Errno);

/// Deeper trees than this are refused rather than exhausting fds.
const MAX_DEPTH: usize = 128;

/// Copies the contents of directory `src` (an O_PATH fd) into the tmpfs mount `dst`, and
/// gives the tmpfs root the directory's owner.
pub(super) fn copy_up(src: &OwnedFd, dst: &OwnedFd) -> Result<(), CopyError> {
    let st = rustix::fs::fstat(src).map_err(|e| ("fstat", e))?;
    chown(dst, c"", st.st_uid, st.st_gid, AtFlags::EMPTY_PATH)?;
    copy_dir(src.as_fd(), dst.as_fd(), 0)
}

fn copy_dir(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, depth: usize) -> Result<(), CopyError> {
    if depth > MAX_DEPTH {
        return Err(("openat", Errno::LOOP));
    }
    let readable = rustix::fs::openat(
        src,
        c".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ("openat", e))?;
    let mut dir = Dir::new(readable).map_err(|e| ("getdents64", e))?;
    while let Some(entry) = dir.read() {
        let entry = entry.map_err(|e| ("getdents64", e))?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let from = dir.fd().map_err(|e| ("getdents64", e))?;
        copy_entry(from, dst, name, depth)?;
    }
    Ok(())
}

fn copy_entry(
    from: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &CStr,
    depth: usize,
) -> Result<(), CopyError> {
    let st =
        rustix::fs::statat(from, name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| ("fstatat", e))?;
    let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
    let kind = FileType::from_raw_mode(st.st_mode);
    match kind {
        FileType::Directory => {
            rustix::fs::mkdirat(dst, name, mode).map_err(|e| ("mkdirat", e))?;
            let path_dir = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let s = rustix::fs::openat(from, name, path_dir, Mode::empty())
                .map_err(|e| ("openat", e))?;
            let d = rustix::fs::openat(dst, name, path_dir, Mode::empty())
                .map_err(|e| ("openat", e))?;
            copy_dir(s.as_fd(), d.as_fd(), depth + 1)?;
            // mkdirat applied the umask; the copy must keep the exact mode.
            rustix::fs::chmodat(dst, name, mode, AtFlags::empty()).map_err(|e| ("fchmodat", e))?;
        }
        FileType::RegularFile => copy_file(from, dst, name, mode)?,
        FileType::Symlink => {
            let target =
                rustix::fs::readlinkat(from, name, Vec::new()).map_err(|e| ("readlinkat", e))?;
            rustix::fs::symlinkat(target.as_c_str(), dst, name).map_err(|e| ("symlinkat", e))?;
        }
        FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
            rustix::fs::mknodat(dst, name, kind, mode, st.st_rdev).map_err(|e| ("mknodat", e))?;
            rustix::fs::chmodat(dst, name, mode, AtFlags::empty()).map_err(|e| ("fchmodat", e))?;
        }
        FileType::Socket | FileType::Unknown => return Ok(()),
    }
    chown(dst, name, st.st_uid, st.st_gid, AtFlags::SYMLINK_NOFOLLOW)
}

fn copy_file(
    from: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &CStr,
    mode: Mode,
) -> Result<(), CopyError> {
    let s = rustix::fs::openat(
        from,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ("openat", e))?;
    let d = rustix::fs::openat(
        dst,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        mode,
    )
    .map_err(|e| ("openat", e))?;
    rustix::fs::fchmod(&d, mode).map_err(|e| ("fchmod", e))?;
    let (mut s, mut d) = (File::from(s), File::from(d));
    // std picks copy_file_range/sendfile and falls back to read/write across filesystems.
    std::io::copy(&mut s, &mut d).map(drop).map_err(|e| {
        (
            "copy_file_range",
            Errno::from_io_error(&e).unwrap_or(Errno::IO),
        )
    })
}

fn chown(dst: impl AsFd, name: &CStr, uid: u32, gid: u32, flags: AtFlags) -> Result<(), CopyError> {
    let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
    rustix::fs::chownat(dst, name, Some(uid), Some(gid), flags).map_err(|e| ("fchownat", e))
}
