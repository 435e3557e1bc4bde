//! Cgroup directories and files, reached by fd: each level below a mountpoint is opened with
//! O_NOFOLLOW (so nothing on the way can be a symlink), the mountpoint is checked to be a
//! cgroup filesystem, and files are opened without O_CREAT (a missing controller file is an
//! error, never a new regular file). Every error carries the path and, for writes, the value.

use super::CgroupError;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// statfs magic of cgroup v1 (linux/magic.h).
const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
/// statfs magic of cgroup2.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// An open cgroup directory and its path (for messages).
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Opens a hierarchy's mountpoint, refusing anything that is not a cgroup filesystem.
    pub fn open_mount(mountpoint: &Path) -> Result<Dir, CgroupError> {
        let fd = rustix::fs::open(mountpoint, dir_flags(), Mode::empty())
            .map_err(|e| dir_err("open", mountpoint, e))?;
        let st = rustix::fs::fstatfs(&fd).map_err(|e| dir_err("statfs", mountpoint, e))?;
        #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
        let magic = st.f_type as i64;
        if magic != CGROUP_SUPER_MAGIC && magic != CGROUP2_SUPER_MAGIC {
            return Err(CgroupError::NotCgroupFs {
                path: mountpoint.into(),
            });
        }
        Ok(Dir {
            fd,
            path: mountpoint.into(),
        })
    }

    /// Opens `mountpoint/rel` one level at a time without following symlinks.
    pub fn open(mountpoint: &Path, rel: &Path) -> Result<Dir, CgroupError> {
        let mut dir = Dir::open_mount(mountpoint)?;
        for name in rel.iter() {
            dir = dir.child(&name.to_string_lossy())?;
        }
        Ok(dir)
    }

    /// A second handle on the same directory (a dup of its fd).
    pub fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir {
            fd: self.fd.try_clone()?,
            path: self.path.clone(),
        })
    }

    /// Opens a child directory (no symlinks).
    pub fn child(&self, name: &str) -> Result<Dir, CgroupError> {
        let path = self.path.join(name);
        let fd = rustix::fs::openat(&self.fd, name, dir_flags(), Mode::empty())
            .map_err(|e| dir_err("open", &path, e))?;
        Ok(Dir { fd, path })
    }

    /// Creates a child directory; Ok(false) when it already existed.
    pub fn mkdir(&self, name: &str) -> Result<bool, CgroupError> {
        match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o755)) {
            Ok(()) => Ok(true),
            Err(Errno::EXIST) => Ok(false),
            Err(e) => Err(dir_err("mkdir", &self.path.join(name), e)),
        }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory's fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Whether the directory has a file of this name (a controller's interface file).
    pub fn has(&self, name: &str) -> bool {
        // fstatat, not faccessat: AT_SYMLINK_NOFOLLOW there needs faccessat2 (Linux 5.8).
        rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW).is_ok()
    }

    /// Reads a cgroup file.
    pub fn read(&self, name: &str) -> Result<String, CgroupError> {
        let path = self.path.join(name);
        let err = |source: io::Error| CgroupError::Read {
            path: path.clone(),
            source,
        };
        let fd = rustix::fs::openat(&self.fd, name, file_flags(OFlags::RDONLY), Mode::empty())
            .map_err(|e| err(e.into()))?;
        let mut s = String::new();
        std::fs::File::from(fd)
            .read_to_string(&mut s)
            .map_err(err)?;
        Ok(s)
    }

    /// Reads a cgroup file and trims it.
    pub fn read_trimmed(&self, name: &str) -> Result<String, CgroupError> {
        Ok(self.read(name)?.trim().to_string())
    }

    /// Writes a value in one write(2), as the kernel parses each write as one value.
    pub fn write_raw(&self, name: &str, value: &str) -> io::Result<()> {
        let fd = rustix::fs::openat(&self.fd, name, file_flags(OFlags::WRONLY), Mode::empty())?;
        let n = rustix::io::write(&fd, value.as_bytes())?;
        if n != value.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
        }
        Ok(())
    }

    /// Names of the child directories (sub-cgroups).
    pub fn subdirs(&self) -> Result<Vec<String>, CgroupError> {
        self.names(FileType::Directory)
    }

    /// Names of the files in the directory (the controllers' interface files).
    pub fn files(&self) -> Result<Vec<String>, CgroupError> {
        self.names(FileType::RegularFile)
    }

    fn names(&self, kind: FileType) -> Result<Vec<String>, CgroupError> {
        let err = |e: Errno| dir_err("readdir", &self.path, e);
        let mut out = Vec::new();
        for entry in rustix::fs::Dir::read_from(&self.fd).map_err(err)? {
            let entry = entry.map_err(err)?;
            let name = entry.file_name().to_string_lossy();
            if entry.file_type() == kind && name != "." && name != ".." {
                out.push(name.into_owned());
            }
        }
        Ok(out)
    }

    /// Pids listed in this cgroup's `cgroup.procs`, not its children's.
    pub fn procs(&self) -> Result<Vec<i32>, CgroupError> {
        let text = self.read("cgroup.procs")?;
        text.lines()
            .map(|l| {
                l.trim().parse().map_err(|_| CgroupError::Parse {
                    path: self.path.join("cgroup.procs"),
                    content: l.into(),
                })
            })
            .collect()
    }

    /// Pids in this cgroup and every cgroup below it.
    pub fn procs_recursive(&self, out: &mut Vec<i32>) -> Result<(), CgroupError> {
        out.extend(self.procs()?);
        for name in self.subdirs()? {
            match self.child(&name) {
                Ok(child) => child.procs_recursive(out)?,
                // A sub-cgroup removed while walking holds no processes.
                Err(e) if e.errno() == Some(libc::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Removes a child cgroup and every cgroup below it (sub-cgroups the container made);
    /// a missing one is fine. Retries EBUSY a few times: a process that just died can
    /// still count as a member for a moment.
    pub fn remove_tree(&self, name: &str) -> Result<(), CgroupError> {
        let child = match self.child(name) {
            Ok(c) => c,
            Err(e) if e.errno() == Some(libc::ENOENT) => return Ok(()),
            Err(e) => return Err(e),
        };
        for sub in child.subdirs()? {
            child.remove_tree(&sub)?;
        }
        drop(child);
        let mut delay = Duration::from_millis(10);
        let mut attempt = 0;
        loop {
            match rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR) {
                Ok(()) | Err(Errno::NOENT) => return Ok(()),
                Err(Errno::BUSY) if attempt < 5 => {
                    std::thread::sleep(delay);
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(dir_err("rmdir", &self.path.join(name), e)),
            }
        }
    }

    /// Removes an empty child cgroup once; Ok(false) if it is gone, busy or not empty.
    pub fn remove_if_empty(&self, name: &str) -> Result<bool, CgroupError> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT | Errno::BUSY | Errno::NOTEMPTY) => Ok(false),
            Err(e) => Err(dir_err("rmdir", &self.path.join(name), e)),
        }
    }
}

/// Writes `value` to the cgroup file `name` of `dir`; the error names file and value.
pub fn write_file(dir: &Dir, name: &str, value: &str) -> Result<(), CgroupError> {
    dir.write_raw(name, value)
        .map_err(|source| write_err(dir, name, value, None, source))
}

/// The error of a failed write, with the spec field when there is one.
pub fn write_err(
    dir: &Dir,
    name: &str,
    value: &str,
    field: Option<&str>,
    source: io::Error,
) -> CgroupError {
    CgroupError::Write {
        field: field.map(String::from),
        path: dir.path().join(name),
        value: value.trim_end().into(),
        source,
    }
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

fn file_flags(access: OFlags) -> OFlags {
    access | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

fn dir_err(op: &'static str, path: &Path, e: Errno) -> CgroupError {
    CgroupError::Dir {
        op,
        path: path.into(),
        source: e.into(),
    }
}
