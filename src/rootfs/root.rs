//! `Root`: the one resolver of untrusted container paths. Every mount destination, device
//! node, masked path and the process cwd is reached through a directory fd of the rootfs
//! and openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so a symlink in the image (absolute
//! or `../../..`) can never lead outside it (CVE-2021-30465 class). Missing pieces are
//! created one component at a time on the parent fd and reopened with
//! RESOLVE_NO_SYMLINKS, so a racing rename or symlink swap fails instead of escaping.

use super::error::{io, RootfsError};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// openat2 returns EAGAIN when a rename raced a `..` lookup; retry a bounded number of times.
const EAGAIN_RETRIES: usize = 32;

/// What a mount target must be when it has to be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A directory (filesystems, directory binds).
    Dir,
    /// An empty regular file (file binds, device binds, masking files).
    File,
}

/// How symlinks in a container path are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Followed, but confined to the root: `/` and `..` stop at the rootfs.
    InRoot,
    /// Refused anywhere in the path (procfs and sysfs destinations, CVE-2019-16884).
    Never,
}

impl Follow {
    fn resolve(self) -> ResolveFlags {
        let base = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        match self {
            Follow::InRoot => base,
            Follow::Never => base | ResolveFlags::NO_SYMLINKS,
        }
    }
}

/// Resolution of a name just created on its parent fd: it cannot be a symlink or have a
/// mount on it unless someone raced us, so both are refused.
const FRESH: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS)
    .union(ResolveFlags::NO_XDEV);

const PATH_DIR: OFlags = OFlags::PATH.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);

/// A directory handle under which untrusted paths are resolved with openat2(RESOLVE_IN_ROOT).
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
}

impl Root {
    /// Opens `path` (a trusted host path, or `/` after pivot_root) as the root to resolve under.
    pub fn open(path: &Path) -> Result<Root, RootfsError> {
        rustix::fs::open(path, PATH_DIR, Mode::empty())
            .map(|fd| Root { fd })
            .map_err(|e| RootfsError::OpenRoot {
                path: path.to_owned(),
                syscall: "open",
                source: io(e),
            })
    }

    /// Wraps an fd already known to be the root directory (the rootfs bind's mount fd).
    pub(super) fn from_fd(fd: OwnedFd) -> Root {
        Root { fd }
    }

    /// The root directory fd.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Creates every missing directory of `unsafe_path` (mode 0755) inside the root.
    pub fn mkdir_all(&self, unsafe_path: &Path) -> Result<(), RootfsError> {
        self.mkdir_all_fd(unsafe_path, Follow::InRoot).map(drop)
    }

    /// Opens the directory `unsafe_path` inside the root (O_PATH | O_DIRECTORY, never leaving
    /// it): good for fchdir and as a dirfd.
    pub fn open_dir(&self, unsafe_path: &Path) -> Result<OwnedFd, RootfsError> {
        self.open_path(unsafe_path, PATH_DIR, Follow::InRoot)
    }

    /// Opens `unsafe_path` inside the root with `oflags` (O_CLOEXEC is added).
    pub fn open_path(
        &self,
        unsafe_path: &Path,
        oflags: OFlags,
        follow: Follow,
    ) -> Result<OwnedFd, RootfsError> {
        openat2(
            &self.fd,
            unsafe_path,
            oflags | OFlags::CLOEXEC,
            follow.resolve(),
        )
        .map_err(|e| resolve_err(unsafe_path, e))
    }

    /// Opens `unsafe_path` as an O_PATH fd; `Ok(None)` when it does not exist.
    pub fn lookup(
        &self,
        unsafe_path: &Path,
        follow: Follow,
    ) -> Result<Option<OwnedFd>, RootfsError> {
        match openat2(&self.fd, unsafe_path, O_PATH, follow.resolve()) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(resolve_err(unsafe_path, e)),
        }
    }

    /// Opens the mount target `unsafe_path` as an O_PATH fd, creating it (and its parents)
    /// as `target` when missing. Returns whether it was created.
    pub fn mount_target(
        &self,
        unsafe_path: &Path,
        target: Target,
        follow: Follow,
    ) -> Result<(OwnedFd, bool), RootfsError> {
        if let Some(fd) = self.lookup(unsafe_path, follow)? {
            return Ok((fd, false));
        }
        let (parent, name) = self.parent_dir(unsafe_path, follow)?;
        let (syscall, created) = match target {
            Target::Dir => (
                "mkdirat",
                rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o755)),
            ),
            Target::File => (
                "openat",
                rustix::fs::openat(
                    &parent,
                    name,
                    OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o644),
                )
                .map(drop),
            ),
        };
        match created {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(create_err(unsafe_path, syscall, e)),
        }
        let fd = openat2(&parent, Path::new(name), O_PATH, FRESH)
            .map_err(|e| resolve_err(unsafe_path, e))?;
        Ok((fd, true))
    }

    /// The directory that holds `unsafe_path` (created when missing) and the last component.
    pub fn parent_dir<'p>(
        &self,
        unsafe_path: &'p Path,
        follow: Follow,
    ) -> Result<(OwnedFd, &'p OsStr), RootfsError> {
        let (Some(parent), Some(name)) = (unsafe_path.parent(), unsafe_path.file_name()) else {
            return Err(resolve_err(unsafe_path, Errno::NOENT));
        };
        Ok((self.mkdir_all_fd(parent, follow)?, name))
    }

    /// mkdir -p inside the root; returns an O_PATH fd of the directory.
    fn mkdir_all_fd(&self, unsafe_path: &Path, follow: Follow) -> Result<OwnedFd, RootfsError> {
        let resolve = follow.resolve();
        // Fast path: it usually exists. Otherwise find the deepest existing ancestor, with
        // the kernel resolving it (symlinks confined), and create the rest below its fd.
        let mut base = None;
        for dir in unsafe_path.ancestors() {
            let query = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            match openat2(&self.fd, query, PATH_DIR, resolve) {
                Ok(fd) => {
                    base = Some((dir, fd));
                    break;
                }
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(resolve_err(dir, e)),
            }
        }
        let Some((found, mut cur)) = base else {
            return Err(resolve_err(unsafe_path, Errno::NOENT));
        };
        let rest = unsafe_path.strip_prefix(found).unwrap_or(Path::new(""));
        for (i, c) in rest.components().enumerate() {
            cur = match c {
                Component::Normal(name) => {
                    match rustix::fs::mkdirat(&cur, name, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(create_err(unsafe_path, "mkdirat", e)),
                    }
                    openat2(&cur, Path::new(name), PATH_DIR, FRESH)
                        .map_err(|e| resolve_err(unsafe_path, e))?
                }
                // `..` after a created directory: everything before it exists now, so let
                // the kernel resolve that prefix again from the root.
                Component::ParentDir => {
                    let prefix: PathBuf =
                        found.join(rest.components().take(i + 1).collect::<PathBuf>());
                    openat2(&self.fd, &prefix, PATH_DIR, resolve)
                        .map_err(|e| resolve_err(&prefix, e))?
                }
                Component::RootDir | Component::CurDir | Component::Prefix(_) => continue,
            };
        }
        Ok(cur)
    }
}

const O_PATH: OFlags = OFlags::PATH.union(OFlags::CLOEXEC);

fn openat2(
    dirfd: impl AsFd,
    path: &Path,
    oflags: OFlags,
    resolve: ResolveFlags,
) -> rustix::io::Result<OwnedFd> {
    let dirfd = dirfd.as_fd();
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(dirfd, path, oflags, Mode::empty(), resolve) {
            Err(Errno::AGAIN | Errno::INTR) if tries < EAGAIN_RETRIES => tries += 1,
            other => return other,
        }
    }
}

fn resolve_err(path: &Path, e: Errno) -> RootfsError {
    RootfsError::Resolve {
        path: path.to_owned(),
        syscall: "openat2",
        source: io(e),
    }
}

fn create_err(path: &Path, syscall: &'static str, e: Errno) -> RootfsError {
    RootfsError::Create {
        path: path.to_owned(),
        syscall,
        source: io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory per test (no global state touched besides it).
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p =
                std::env::temp_dir().join(format!("hull-root-{}-{tag}-{n}", std::process::id()));
            std::fs::create_dir_all(p.join("etc")).unwrap();
            Scratch(p)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn ino(fd: impl AsFd) -> u64 {
        rustix::fs::fstat(fd).unwrap().st_ino
    }

    #[test]
    fn escaping_symlinks_stay_inside() {
        let s = Scratch::new("escape");
        symlink("/etc", s.0.join("abs")).unwrap();
        symlink("../../../../../../../etc", s.0.join("rel")).unwrap();
        let root = Root::open(&s.0).unwrap();
        let name = format!("hull-test-{}", std::process::id());
        root.mkdir_all(&Path::new("/abs").join(&name).join("x"))
            .unwrap();
        root.mkdir_all(&Path::new("/rel").join(&name).join("y"))
            .unwrap();
        assert!(s.0.join("etc").join(&name).join("x").is_dir());
        assert!(s.0.join("etc").join(&name).join("y").is_dir());
        assert!(!Path::new("/etc").join(&name).exists());
        let up = root.open_dir(Path::new("../../..")).unwrap();
        assert_eq!(ino(&up), ino(root.as_fd()));
    }

    #[test]
    fn mount_targets_are_created_once_with_their_type() {
        let s = Scratch::new("target");
        let root = Root::open(&s.0).unwrap();
        let (fd, created) = root
            .mount_target(Path::new("/a/b/file"), Target::File, Follow::InRoot)
            .unwrap();
        assert!(created);
        assert!(s.0.join("a/b/file").is_file());
        assert_eq!(
            ino(&fd),
            std::fs::metadata(s.0.join("a/b/file"))
                .map(|m| { std::os::unix::fs::MetadataExt::ino(&m) })
                .unwrap()
        );
        let (_, created) = root
            .mount_target(Path::new("/a/b/file"), Target::File, Follow::InRoot)
            .unwrap();
        assert!(!created);
        root.mount_target(Path::new("/d"), Target::Dir, Follow::InRoot)
            .unwrap();
        assert!(s.0.join("d").is_dir());
    }

    #[test]
    fn never_follow_refuses_symlinks_anywhere() {
        let s = Scratch::new("never");
        std::fs::create_dir(s.0.join("real")).unwrap();
        symlink("/real", s.0.join("proc")).unwrap();
        let root = Root::open(&s.0).unwrap();
        let e = root
            .mount_target(Path::new("/proc"), Target::Dir, Follow::Never)
            .unwrap_err();
        assert!(
            matches!(&e, RootfsError::Resolve { source, .. } if source.raw_os_error() == Some(libc::ELOOP)),
            "{e}"
        );
        // A dangling symlink is never created through either.
        symlink("/nowhere", s.0.join("dangling")).unwrap();
        assert!(root.mkdir_all(Path::new("/dangling/x")).is_err());
        assert!(!s.0.join("nowhere").exists());
    }

    #[test]
    fn dotdot_after_created_components() {
        let s = Scratch::new("dotdot");
        let root = Root::open(&s.0).unwrap();
        root.mkdir_all(Path::new("/new/../other/z")).unwrap();
        assert!(s.0.join("new").is_dir());
        assert!(s.0.join("other/z").is_dir());
        assert!(root
            .lookup(Path::new("/missing"), Follow::InRoot)
            .unwrap()
            .is_none());
    }
}
