//! The layer store for overlay bundles: `STORE/layers/sha256/<diff_id hex>/` holds one layer
//! extracted alone in overlayfs form, shared by every image and container that uses it. A
//! layer is extracted into `STORE/tmp/` and renamed into place only once it is complete and
//! verified, so a name under `layers/` always means a whole layer and a second image with
//! the same layer extracts nothing for it.
//!
//! Every overlay bundle unpacked into the store is recorded in `STORE/refs/` (a file per
//! bundle holding its absolute path), so `hull image gc` (`gc.rs`) can tell which layers a
//! bundle still names. Unpacks hold `STORE/lock` shared from the first layer to the ref;
//! gc holds it exclusive, so it never removes a layer an unpack is about to name.

use super::apply::Form;
use super::blob::Digest;
use super::error::ImageError;
use super::source::{LayerRef, Source};
use crate::rootfs::Root;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// A layer store directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Opens (creating) the store at `dir`, made absolute.
    pub fn open(dir: &Path) -> Result<Store, ImageError> {
        let dir = std::path::absolute(dir).map_err(|e| ImageError::io("resolve", dir, e))?;
        for sub in ["layers/sha256", "tmp", "refs"] {
            let p = dir.join(sub);
            std::fs::create_dir_all(&p).map_err(|e| ImageError::io("mkdir", &p, e))?;
        }
        Ok(Store { dir })
    }

    /// Opens a store that must exist already (gc: a mistyped path is an error, not a new
    /// empty store).
    pub fn open_existing(dir: &Path) -> Result<Store, ImageError> {
        let dir = std::path::absolute(dir).map_err(|e| ImageError::io("resolve", dir, e))?;
        if !dir.join("layers/sha256").is_dir() {
            return Err(ImageError::invalid(
                dir.display().to_string(),
                "not a hull layer store (no layers/sha256)",
            ));
        }
        Ok(Store { dir })
    }

    /// Takes the store's lock: shared for an unpack, exclusive for gc; held until dropped.
    pub fn lock(&self, exclusive: bool) -> Result<Flock<File>, ImageError> {
        let path = self.dir.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| ImageError::io("open", &path, e))?;
        let how = if exclusive {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockShared
        };
        Flock::lock(file, how).map_err(|(_, errno)| ImageError::io("flock", &path, errno.into()))
    }

    /// Records that overlay bundle `bundle` (absolute) names layers of this store; returns
    /// the ref's path when this call created it (None: the bundle was known already).
    pub fn add_ref(&self, bundle: &Path) -> Result<Option<PathBuf>, ImageError> {
        let dir = self.dir.join("refs");
        std::fs::create_dir_all(&dir).map_err(|e| ImageError::io("mkdir", &dir, e))?;
        let text = bundle.as_os_str().as_encoded_bytes();
        let name = Digest::of(text).hex().to_string();
        let tmp = dir.join(format!(".{name}.tmp"));
        let path = dir.join(name);
        if path.exists() {
            return Ok(None);
        }
        let _ = std::fs::remove_file(&tmp); // left by a crashed unpack
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .and_then(|mut f| f.write_all(text))
            .map_err(|e| ImageError::io("write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| ImageError::io("rename into", &path, e))?;
        Ok(Some(path))
    }

    /// The store's absolute path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Where the layer with this diff_id lives.
    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        crate::spec::overlay::layer_dir(&self.dir, diff_id.hex())
    }

    /// Whether the layer is already extracted.
    pub fn contains(&self, diff_id: &Digest) -> bool {
        std::fs::symlink_metadata(self.layer_dir(diff_id)).is_ok_and(|m| m.is_dir())
    }

    /// Extracts the layers not yet in the store, several at a time; returns for each layer
    /// whether this call extracted it.
    pub fn fill(
        &self,
        source: &dyn Source,
        layers: &[LayerRef],
        progress: Option<&Arc<AtomicU64>>,
    ) -> Result<Vec<bool>, ImageError> {
        let missing: Vec<usize> = (0..layers.len())
            .filter(|&i| !self.contains(&layers[i].diff_id))
            .collect();
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(missing.len());
        let next = AtomicUsize::new(0);
        let results: Vec<Result<Vec<(usize, bool)>, ImageError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    s.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let k = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&i) = missing.get(k) else { break };
                            match self.extract(source, &layers[i], progress) {
                                Ok(new) => done.push((i, new)),
                                Err(e) => {
                                    // Stop the other workers taking more.
                                    next.store(missing.len(), Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                        Ok(done)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(ImageError::invalid(
                            "layer store",
                            "extraction thread panicked",
                        ))
                    })
                })
                .collect()
        });
        let mut extracted = vec![false; layers.len()];
        for r in results {
            for (i, new) in r? {
                extracted[i] = new;
            }
        }
        Ok(extracted)
    }

    /// Extracts one layer unless present; `Ok(true)` when this call put it there.
    fn extract(
        &self,
        source: &dyn Source,
        layer: &LayerRef,
        progress: Option<&Arc<AtomicU64>>,
    ) -> Result<bool, ImageError> {
        let dest = self.layer_dir(&layer.diff_id);
        let tmp = super::TempDir::new(&self.dir.join("tmp"), layer.diff_id.hex())?;
        let root = Root::open(tmp.path()).map_err(|e| {
            ImageError::io("open", tmp.path(), std::io::Error::other(e.to_string()))
        })?;
        super::apply_verified(source, layer, &root, Form::Overlay, progress)?;
        drop(root);
        match std::fs::rename(tmp.path(), &dest) {
            Ok(()) => {
                tmp.keep();
                Ok(true)
            }
            // Another unpack finished the same layer first: use theirs.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY | libc::EEXIST)) => Ok(false),
            Err(e) => Err(ImageError::io("rename into", &dest, e)),
        }
    }
}
