//! `hull image commit`: a container's overlay upper directory written as an OCI layer tar
//! (plain, gzip or zstd): files, directories, symlinks, hardlinks, devices and fifos with
//! their owners, modes, mtimes and xattrs; overlayfs whiteouts become `.wh.NAME` entries and
//! opaque directories `.wh..wh..opq`, so the changes can become the next layer of an image.
//! Prints the blob's digest and the tar's diff_id.

use super::blob::Digest;
use super::error::ImageError;
use super::fsops::{self, READ_DIR};
use super::whiteout::{OPAQUE, PREFIX};
use crate::state::StateRoot;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Compression of the written layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compress {
    /// A plain tar (its digest is its diff_id).
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

/// What `commit` wrote.
#[derive(Debug, Clone)]
pub struct Committed {
    /// Digest of the file as written.
    pub digest: Digest,
    /// Digest of the uncompressed tar.
    pub diff_id: Digest,
    /// Size of the file.
    pub size: u64,
}

/// Writes container `id`'s changes to `output` (a new file).
pub fn container(
    root: &StateRoot,
    id: &str,
    output: &Path,
    compress: Compress,
) -> Result<Committed, ImageError> {
    let ov = super::diff::overlay_of(root, id)?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(output)
        .map_err(|e| ImageError::io("create", output, e))?;
    write_layer(&ov.upper, file, compress).inspect_err(|_| {
        let _ = std::fs::remove_file(output);
    })
}

/// Writes the layer of `upper` into `file`.
pub fn write_layer(upper: &Path, file: File, compress: Compress) -> Result<Committed, ImageError> {
    let fail = |e: io::Error| ImageError::io("write layer from", upper, e);
    let blob = Hashing::new(io::BufWriter::with_capacity(1 << 20, file));
    let (diff_id, blob) = match compress {
        Compress::None => {
            let blob = tar_tree(upper, blob).map_err(fail)?;
            (None, blob)
        }
        Compress::Gzip => {
            let gz = flate2::write::GzEncoder::new(blob, flate2::Compression::default());
            let (d, gz) = tar_tree(upper, Hashing::new(gz)).map_err(fail)?.finish();
            (Some(d), gz.finish().map_err(fail)?)
        }
        Compress::Zstd => {
            let z = zstd::stream::write::Encoder::new(blob, 3).map_err(fail)?;
            let (d, z) = tar_tree(upper, Hashing::new(z)).map_err(fail)?.finish();
            (Some(d), z.finish().map_err(fail)?)
        }
    };
    let size = blob.count;
    let (digest, mut w) = blob.finish();
    w.flush().map_err(fail)?;
    Ok(Committed {
        diff_id: diff_id.unwrap_or_else(|| digest.clone()),
        digest,
        size,
    })
}

/// A writer that hashes what goes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    fn finish(self) -> (Digest, W) {
        let hex: String = self
            .hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let d = Digest::from_hex(&hex).unwrap_or_else(|| Digest::of(b""));
        (d, self.inner)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn tar_tree<W: Write>(upper: &Path, w: W) -> io::Result<W> {
    let root = rustix::fs::open(upper, READ_DIR, Mode::empty())?;
    let mut b = tar::Builder::new(w);
    let mut links = HashMap::new();
    walk(&mut b, root.as_fd(), Path::new(""), &mut links)?;
    b.into_inner()
}

fn walk<W: Write>(
    b: &mut tar::Builder<W>,
    dir: BorrowedFd<'_>,
    rel: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    let mut names = fsops::names(dir)?;
    names.sort();
    for name in names {
        let path = rel.join(&name);
        let st = rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW)?;
        let kind = FileType::from_raw_mode(st.st_mode);
        let mut h = header(&st);
        if kind == FileType::CharacterDevice && st.st_rdev == 0 {
            let mut wh = PREFIX.as_bytes().to_vec();
            wh.extend_from_slice(name.as_bytes());
            let wh = OsString::from_vec(wh);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(0);
            h.set_mode(0o644);
            b.append_data(&mut h, rel.join(wh), io::empty())?;
            continue;
        }
        match kind {
            FileType::Directory => {
                let sub = rustix::fs::openat(dir, &name, READ_DIR, Mode::empty())?;
                xattrs(b, sub.as_fd())?;
                h.set_entry_type(tar::EntryType::Directory);
                b.append_data(&mut h, &path, io::empty())?;
                if super::layers::is_opaque(&sub) {
                    let mut o = header(&st);
                    o.set_entry_type(tar::EntryType::Regular);
                    o.set_mode(0o644);
                    b.append_data(&mut o, path.join(OPAQUE), io::empty())?;
                }
                walk(b, sub.as_fd(), &path, links)?;
            }
            FileType::RegularFile => {
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = links.get(&key) {
                        h.set_entry_type(tar::EntryType::Link);
                        h.set_size(0);
                        b.append_link(&mut h, &path, first)?;
                        continue;
                    }
                    links.insert(key, path.clone());
                }
                let fd = rustix::fs::openat(
                    dir,
                    &name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                xattrs(b, fd.as_fd())?;
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, &path, File::from(fd))?;
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(dir, &name, Vec::new())?;
                let target = PathBuf::from(OsStr::from_bytes(target.to_bytes()));
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, &path, &target)?;
            }
            FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
                h.set_entry_type(match kind {
                    FileType::CharacterDevice => tar::EntryType::Char,
                    FileType::BlockDevice => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                });
                h.set_device_major(rustix::fs::major(st.st_rdev))?;
                h.set_device_minor(rustix::fs::minor(st.st_rdev))?;
                h.set_size(0);
                b.append_data(&mut h, &path, io::empty())?;
            }
            // Sockets belong to a running process, not to a layer.
            _ => {}
        }
    }
    Ok(())
}

fn header(st: &rustix::fs::Stat) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid.into());
    h.set_gid(st.st_gid.into());
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(st.st_size.max(0) as u64);
    h
}

/// The entry's xattrs as a pax header before it (overlayfs' own are not part of a layer).
fn xattrs<W: Write>(b: &mut tar::Builder<W>, fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut names = vec![0u8; 4096];
    let n = match rustix::fs::flistxattr(fd, &mut names) {
        Ok(n) => n,
        Err(_) => return Ok(()),
    };
    let mut records = Vec::new();
    for name in names[..n].split(|c| *c == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        if super::meta::forged(&name) {
            continue;
        }
        let mut value = vec![0u8; 65536];
        if let Ok(len) = rustix::fs::fgetxattr(fd, name.as_str(), &mut value) {
            value.truncate(len);
            records.push((format!("SCHILY.xattr.{name}"), value));
        }
    }
    if records.is_empty() {
        return Ok(());
    }
    b.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
}
