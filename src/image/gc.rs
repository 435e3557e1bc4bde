//! `hull image gc`: remove the store's layers that no bundle names any more.
//!
//! The roots are the bundles recorded in `STORE/refs/` at unpack. A ref whose bundle has no
//! config.json any more (deleted), or whose config.json no longer names this store, is
//! dropped; every layer named by the others is kept, the rest are removed, and so are the
//! leftovers of crashed unpacks in `STORE/tmp/`. A config.json that exists but cannot be
//! read or parsed stops gc before anything is removed: its layers are unknown. The store's
//! lock is held exclusive throughout, so no unpack runs meanwhile. A layer is first renamed
//! into `tmp/` and then deleted, so a crash never leaves half a layer under `layers/`.
//!
//! A bundle moved after unpack is not found at its recorded path: its layers go unless
//! another bundle names them (unpack it again, or keep bundles where they were made).

use super::error::ImageError;
use super::store::Store;
use crate::spec::overlay::{LAYERS, STORE};
use std::collections::BTreeSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What gc found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Layers removed (or, with dry run, that would be), as `sha256:<hex>` with their size.
    pub removed: Vec<(String, u64)>,
    /// Layers kept because a bundle names them.
    pub kept: usize,
    /// Refs dropped: bundles that are gone or no longer use this store.
    pub dropped_refs: Vec<PathBuf>,
}

/// Collects the store's garbage; with `dry_run` only reports it.
pub fn collect(store: &Store, dry_run: bool) -> Result<Report, ImageError> {
    let _lock = store.lock(true)?;
    let mut report = Report::default();
    let mut keep = BTreeSet::new();
    let mut drop_refs = Vec::new();
    for (ref_file, bundle) in refs(store)? {
        match named_layers(&bundle, store.path())? {
            Some(layers) => keep.extend(layers),
            None => {
                drop_refs.push(ref_file);
                report.dropped_refs.push(bundle);
            }
        }
    }
    let layers_dir = store.path().join("layers/sha256");
    let mut unused = Vec::new();
    for hex in dir_names(&layers_dir)? {
        if keep.contains(&hex) {
            report.kept += 1;
        } else {
            let size = tree_size(&layers_dir.join(&hex));
            unused.push(hex.clone());
            report.removed.push((format!("sha256:{hex}"), size));
        }
    }
    if dry_run {
        return Ok(report);
    }
    for r in drop_refs {
        std::fs::remove_file(&r).map_err(|e| ImageError::io("remove", &r, e))?;
    }
    let tmp = store.path().join("tmp");
    for hex in unused {
        let from = layers_dir.join(&hex);
        let to = tmp.join(format!("gc-{hex}"));
        std::fs::rename(&from, &to).map_err(|e| ImageError::io("rename", &from, e))?;
    }
    // Everything in tmp/ now is garbage: crashed unpacks and the layers just moved there.
    for name in dir_names(&tmp)? {
        let p = tmp.join(name);
        remove_any(&p).map_err(|e| ImageError::io("remove", &p, e))?;
    }
    Ok(report)
}

/// The recorded bundles: (ref file, bundle path).
fn refs(store: &Store) -> Result<Vec<(PathBuf, PathBuf)>, ImageError> {
    let dir = store.path().join("refs");
    let mut out = Vec::new();
    for name in dir_names(&dir)? {
        if name.starts_with('.') {
            continue; // a ref being written
        }
        let file = dir.join(&name);
        let text = std::fs::read(&file).map_err(|e| ImageError::io("read", &file, e))?;
        let bundle = PathBuf::from(std::ffi::OsString::from(
            String::from_utf8_lossy(&text).into_owned(),
        ));
        out.push((file, bundle));
    }
    Ok(out)
}

/// The layer hexes `bundle`'s config.json names in `store`; None when the bundle is gone or
/// uses another store (or none).
fn named_layers(bundle: &Path, store: &Path) -> Result<Option<Vec<String>>, ImageError> {
    let config = bundle.join(crate::spec::CONFIG_FILE);
    let text = match std::fs::read(&config) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ImageError::io("read", &config, e)),
    };
    let value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|source| ImageError::Json {
            what: format!("{} (its layers are unknown, gc stopped)", config.display()),
            source,
        })?;
    let ann = &value["annotations"];
    // The same directory, however spelt (a symlink, `..`): compared by device and inode.
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let named = ann[STORE].as_str().and_then(|s| id(Path::new(s)));
    if named.is_none() || named != id(store) {
        return Ok(None);
    }
    let layers = ann[LAYERS].as_str().unwrap_or_default();
    Ok(Some(
        layers
            .split(',')
            .filter_map(|id| id.strip_prefix("sha256:"))
            .map(str::to_string)
            .collect(),
    ))
}

/// Names in a directory (empty when it does not exist).
fn dir_names(dir: &Path) -> Result<Vec<String>, ImageError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ImageError::io("read", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| ImageError::io("read", dir, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Bytes in regular files below `dir` (for the report; errors count as 0).
fn tree_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

fn remove_any(p: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
