//! Applies one layer tar to a target directory, entry by entry, through fds only: the parent
//! of each entry is resolved with openat2(RESOLVE_IN_ROOT) (symlinks followed but confined,
//! as umoci's securejoin does), and the entry itself is made with one *at call on that fd
//! (`openat(O_CREAT|O_EXCL|O_NOFOLLOW)`, `mkdirat`, `symlinkat`, `linkat`, `mknodat`), so no
//! name in a layer can reach outside the target.
//!
//! Two forms: `Flat` applies whiteouts by deleting lower content (the rules of `whiteout.rs`);
//! `Overlay` writes them the way overlayfs reads them (a 0/0 character device, the
//! `trusted.overlay.opaque` xattr), for a layer extracted alone into the store.

use super::error::ImageError;
use super::fsops::{self, PATH_DIR, READ_DIR};
use super::meta::{self, Meta};
use super::nodes::{
    at, dir_meta, excl, io_at, make_node, make_symlink, owner_mode, set_opaque, Step,
};
use super::whiteout::{self, Class, LayerPaths, Removal};
use crate::rootfs::Root;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timestamps};
use rustix::io::Errno;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// How whiteouts are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Deleted from the tree (one flattened rootfs).
    Flat,
    /// Kept as overlayfs whiteouts and opaque xattrs (one store layer).
    Overlay,
}

/// Applies the tar read from `reader` to `root`; returns the reader so its caller can drain
/// and verify it. `blob` names the layer in errors.
pub fn apply_layer<R: Read>(
    root: &Root,
    form: Form,
    blob: &str,
    reader: R,
) -> Result<R, ImageError> {
    let layer_err = |source| ImageError::Layer {
        blob: blob.to_string(),
        source,
    };
    let mut archive = tar::Archive::new(reader);
    let mut a = Applier {
        root,
        form,
        paths: LayerPaths::default(),
        whiteouts: HashSet::new(),
        dirs: Vec::new(),
        cache: None,
        buf: vec![0u8; 256 << 10],
    };
    for entry in archive.entries().map_err(layer_err)? {
        let mut entry = entry.map_err(layer_err)?;
        let raw = entry.path_bytes().into_owned();
        let named = |reason| ImageError::Escape {
            blob: blob.to_string(),
            entry: PathBuf::from(String::from_utf8_lossy(&raw).into_owned()),
            reason,
        };
        let path = whiteout::clean(&raw).map_err(named)?;
        let class = whiteout::classify(&path).map_err(named)?;
        a.entry(&mut entry, &path, class).map_err(|e| match e {
            Failure::Read(source) => layer_err(source),
            Failure::Step((op, source)) => ImageError::Entry {
                blob: blob.to_string(),
                entry: PathBuf::from(String::from_utf8_lossy(&raw).into_owned()),
                op,
                source,
            },
            Failure::Refused(reason) => named(reason),
        })?;
    }
    a.set_dir_times();
    Ok(archive.into_inner())
}

enum Failure {
    /// The layer stream failed (corrupt, truncated, digest): the layer's fault.
    Read(io::Error),
    /// A step on the target failed.
    Step(Step),
    /// The entry is refused.
    Refused(&'static str),
}

impl From<Step> for Failure {
    fn from(s: Step) -> Self {
        Failure::Step(s)
    }
}

struct Applier<'a> {
    root: &'a Root,
    form: Form,
    /// Flat form: what this layer wrote, so its whiteouts spare it.
    paths: LayerPaths,
    /// Overlay form: whiteout devices this layer made (a directory replacing one is opaque).
    whiteouts: HashSet<PathBuf>,
    /// Directory times, set last (writing children changes them).
    dirs: Vec<(PathBuf, Timestamps)>,
    /// The last parent directory resolved: consecutive entries usually share it.
    cache: Option<(PathBuf, OwnedFd)>,
    buf: Vec<u8>,
}

impl Applier<'_> {
    fn root_fd(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &Path,
        class: Class,
    ) -> Result<(), Failure> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        match class {
            Class::Meta => Ok(()),
            Class::Whiteout(target) => self.whiteout(&target).map_err(Failure::Step),
            Class::Opaque(dir) => self.opaque(&dir).map_err(Failure::Step),
            Class::Normal => {
                self.create(entry, path)?;
                if self.form == Form::Flat {
                    self.paths.record(path);
                }
                Ok(())
            }
        }
    }

    /// The parent directory of an entry (created, 0755, when the layer does not list it).
    fn take_parent(&mut self, parent: &Path) -> Result<OwnedFd, Step> {
        if let Some((p, fd)) = self.cache.take() {
            if p == parent {
                return Ok(fd);
            }
        }
        if let Some(fd) = fsops::lookup_dir(self.root_fd(), parent).map_err(io_at("openat2"))? {
            return Ok(fd);
        }
        self.root
            .mkdir_all(parent)
            .map_err(|e| ("mkdir parents", io::Error::other(e.to_string())))?;
        fsops::open_in(self.root_fd(), parent, PATH_DIR).map_err(io_at("openat2"))
    }

    fn create<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &Path,
    ) -> Result<(), Failure> {
        let meta = meta::read(entry).map_err(Failure::Read)?;
        let (Some(parent_path), Some(name)) = (path.parent(), path.file_name()) else {
            // The root itself (`./`): only its metadata.
            let fd =
                fsops::open_in(self.root_fd(), Path::new(""), READ_DIR).map_err(io_at("open"))?;
            dir_meta(fd.as_fd(), &meta, false)?;
            self.dirs.push((PathBuf::new(), meta.timestamps()));
            return Ok(());
        };
        let parent = self.take_parent(parent_path)?;
        let dir = parent.as_fd();
        let kind = entry.header().entry_type();
        let result = if kind.is_dir() {
            self.make_dir(dir, name, path, &meta)
        } else if kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse() {
            self.make_file(dir, name, entry, &meta)
        } else if kind.is_symlink() {
            let target = entry.link_name_bytes().unwrap_or_default().into_owned();
            make_symlink(dir, name, &target, &meta).map_err(Failure::Step)
        } else if kind.is_hard_link() {
            self.make_hardlink(dir, name, path, entry)
        } else if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            make_node(dir, name, entry, &meta).map_err(Failure::Step)
        } else {
            // Socket-like or vendor types: nothing to create (docker skips them too).
            Ok(())
        };
        self.cache = Some((parent_path.to_path_buf(), parent));
        result
    }

    fn make_dir(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        path: &Path,
        meta: &Meta,
    ) -> Result<(), Failure> {
        let replaced_whiteout = self.whiteouts.remove(path);
        match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
            Ok(()) => {}
            Err(Errno::EXIST) => match fsops::kind_at(dir, name).map_err(io_at("fstatat"))? {
                Some(FileType::Directory) => {}
                _ => {
                    fsops::remove_all_at(dir, name).map_err(io_at("unlinkat"))?;
                    rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700))
                        .map_err(at("mkdirat"))?;
                }
            },
            Err(e) => return Err(at("mkdirat")(e).into()),
        }
        let fd = rustix::fs::openat(dir, name, READ_DIR, Mode::empty()).map_err(at("openat"))?;
        dir_meta(
            fd.as_fd(),
            meta,
            replaced_whiteout && self.form == Form::Overlay,
        )?;
        self.dirs.push((path.to_path_buf(), meta.timestamps()));
        Ok(())
    }

    fn make_file<R: Read>(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        entry: &mut tar::Entry<'_, R>,
        meta: &Meta,
    ) -> Result<(), Failure> {
        let how =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = excl(dir, name, || {
            rustix::fs::openat(dir, name, how, Mode::from_raw_mode(0o600))
        })
        .map_err(at("openat"))?;
        let mut file = File::from(fd);
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::Read(e)),
            };
            file.write_all(&self.buf[..n]).map_err(io_at("write"))?;
        }
        owner_mode(file.as_fd(), meta)?;
        fsops::set_xattrs(file.as_fd(), &meta.xattrs).map_err(io_at("fsetxattr"))?;
        rustix::fs::futimens(&file, &meta.timestamps()).map_err(at("futimens"))?;
        Ok(())
    }

    fn make_hardlink<R: Read>(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        path: &Path,
        entry: &tar::Entry<'_, R>,
    ) -> Result<(), Failure> {
        let raw = entry.link_name_bytes().unwrap_or_default();
        let target = whiteout::clean(&raw).map_err(Failure::Refused)?;
        if target == path {
            return Ok(());
        }
        let (Some(tparent), Some(tname)) = (target.parent(), target.file_name()) else {
            return Err(Failure::Refused("a hardlink to the root directory"));
        };
        let tdir = fsops::lookup_dir(self.root_fd(), tparent)
            .map_err(io_at("openat2"))?
            .ok_or_else(|| ("linkat", io::Error::from(io::ErrorKind::NotFound)))?;
        excl(dir, name, || {
            rustix::fs::linkat(&tdir, tname, dir, name, AtFlags::empty())
        })
        .map_err(at("linkat"))?;
        Ok(())
    }

    /// Flat: remove lower content (sparing this layer's). Overlay: a 0/0 char device, or an
    /// opaque directory when this layer already made one there.
    fn whiteout(&mut self, target: &Path) -> Result<(), Step> {
        self.cache = None;
        let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
            return Ok(());
        };
        match self.form {
            Form::Flat => {
                match fsops::lookup_dir(self.root_fd(), parent).map_err(io_at("openat2"))? {
                    Some(dir) => self.remove_lower(dir.as_fd(), name, target),
                    None => Ok(()),
                }
            }
            Form::Overlay => {
                let dir = self.take_parent(parent)?;
                match fsops::kind_at(dir.as_fd(), name).map_err(io_at("fstatat"))? {
                    Some(FileType::Directory) => {
                        let fd = rustix::fs::openat(&dir, name, READ_DIR, Mode::empty())
                            .map_err(at("openat"))?;
                        set_opaque(fd.as_fd())
                    }
                    Some(_) => Ok(()),
                    None => {
                        let dev = rustix::fs::makedev(0, 0);
                        rustix::fs::mknodat(
                            &dir,
                            name,
                            FileType::CharacterDevice,
                            Mode::empty(),
                            dev,
                        )
                        .map_err(at("mknodat"))?;
                        self.whiteouts.insert(target.to_path_buf());
                        Ok(())
                    }
                }
            }
        }
    }

    fn opaque(&mut self, dir_path: &Path) -> Result<(), Step> {
        self.cache = None;
        match self.form {
            Form::Flat => {
                let Some(dir) =
                    fsops::lookup_dir(self.root_fd(), dir_path).map_err(io_at("openat2"))?
                else {
                    return Ok(());
                };
                for child in fsops::names(dir.as_fd()).map_err(io_at("getdents"))? {
                    self.remove_lower(dir.as_fd(), &child, &dir_path.join(&child))?;
                }
                Ok(())
            }
            Form::Overlay => {
                if !dir_path.as_os_str().is_empty() {
                    self.root
                        .mkdir_all(dir_path)
                        .map_err(|e| ("mkdir parents", io::Error::other(e.to_string())))?;
                }
                let fd =
                    fsops::open_in(self.root_fd(), dir_path, READ_DIR).map_err(io_at("openat2"))?;
                set_opaque(fd.as_fd())
            }
        }
    }

    /// The whiteout rule on one existing path (see `whiteout::Removal`).
    fn remove_lower(&self, dir: BorrowedFd<'_>, name: &OsStr, path: &Path) -> Result<(), Step> {
        let Some(kind) = fsops::kind_at(dir, name).map_err(io_at("fstatat"))? else {
            return Ok(());
        };
        match self.paths.removal(path, kind == FileType::Directory) {
            Removal::Remove => fsops::remove_all_at(dir, name).map_err(io_at("unlinkat")),
            Removal::Keep => Ok(()),
            Removal::Descend => {
                let sub = rustix::fs::openat(dir, name, PATH_DIR | OFlags::NOFOLLOW, Mode::empty())
                    .map_err(at("openat"))?;
                for child in fsops::names(sub.as_fd()).map_err(io_at("getdents"))? {
                    self.remove_lower(sub.as_fd(), &child, &path.join(&child))?;
                }
                Ok(())
            }
        }
    }

    /// Directory times last, since creating their children changed them. A directory a
    /// later entry replaced is skipped.
    fn set_dir_times(&self) {
        for (path, ts) in self.dirs.iter().rev() {
            if let Ok(fd) = fsops::open_in(self.root_fd(), path, READ_DIR) {
                let _ = rustix::fs::futimens(&fd, ts);
            }
        }
    }
}
