//! The overlay rootfs of a bundle made by `hull image unpack --overlay`: config.json names
//! the store, the image's layers (by diff_id, bottom first) and the bundle's own upper and
//! work directories in annotations; this turns them, once, into [`OverlayRootfs`] (checked,
//! with absolute paths), which `rootfs::prepare` mounts before pivot_root.
//!
//! ```json
//! "annotations": {
//!   "io.github.hull.rootfs.store": "/var/lib/hull/store",
//!   "io.github.hull.rootfs.layers": "sha256:<hex>,sha256:<hex>",
//!   "io.github.hull.rootfs.upper": "upper",
//!   "io.github.hull.rootfs.work": "work",
//!   "io.github.hull.rootfs.owned": "true"
//! }
//! ```
//! A layer is `<store>/layers/sha256/<hex>`; upper and work are relative to the bundle; with
//! `owned`, hull created them, so `create` remakes them when missing and `delete` removes them.

use super::SpecError;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// The layer store (absolute path).
pub const STORE: &str = "io.github.hull.rootfs.store";
/// The layers' diff_ids, comma-separated, bottom first.
pub const LAYERS: &str = "io.github.hull.rootfs.layers";
/// The upper directory, relative to the bundle.
pub const UPPER: &str = "io.github.hull.rootfs.upper";
/// The work directory, relative to the bundle.
pub const WORK: &str = "io.github.hull.rootfs.work";
/// `true` when hull created upper and work (and `delete` removes them).
pub const OWNED: &str = "io.github.hull.rootfs.owned";

/// An overlayfs root: read-only layers from the store, the bundle's upper and work dirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayRootfs {
    /// Lower directories, topmost first (overlayfs' order).
    pub lowers: Vec<PathBuf>,
    /// The writable upper directory (absolute).
    pub upper: PathBuf,
    /// overlayfs' work directory (absolute, same filesystem as upper).
    pub work: PathBuf,
    /// hull made upper and work: remake them if missing, remove them on delete.
    pub owned: bool,
}

/// The store directory of one layer.
pub fn layer_dir(store: &Path, hex: &str) -> PathBuf {
    store.join("layers/sha256").join(hex)
}

/// Reads the overlay annotations; `None` when the bundle has none.
pub fn from_annotations(
    annotations: &BTreeMap<String, String>,
    bundle: &Path,
) -> Result<Option<OverlayRootfs>, SpecError> {
    let Some(layers) = annotations.get(LAYERS) else {
        return Ok(None);
    };
    let field = |key: &str| format!("annotations.{key}");
    let get = |key: &str| {
        annotations.get(key).ok_or_else(|| {
            SpecError::invalid(field(key), format!("missing (needed with {LAYERS})"))
        })
    };
    let store = PathBuf::from(get(STORE)?);
    if !store.is_absolute() {
        return Err(SpecError::invalid(field(STORE), "not an absolute path"));
    }
    let mut lowers = Vec::new();
    for id in layers.split(',') {
        let hex = id
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .ok_or_else(|| {
                SpecError::invalid(field(LAYERS), format!("{id:?} is not a sha256 digest"))
            })?;
        lowers.push(layer_dir(&store, hex));
    }
    lowers.reverse();
    let inside = |key: &str| -> Result<PathBuf, SpecError> {
        let rel = Path::new(get(key)?);
        let ok = !rel.as_os_str().is_empty()
            && rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !ok {
            return Err(SpecError::invalid(
                field(key),
                "must be a relative path inside the bundle",
            ));
        }
        Ok(bundle.join(rel))
    };
    let owned = match annotations.get(OWNED).map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(SpecError::invalid(
                field(OWNED),
                format!("{other:?}: want true or false"),
            ))
        }
    };
    Ok(Some(OverlayRootfs {
        lowers,
        upper: inside(UPPER)?,
        work: inside(WORK)?,
        owned,
    }))
}

/// The directories `delete` removes: upper and work, when hull owns them.
pub fn owned_dirs(annotations: &BTreeMap<String, String>, bundle: &Path) -> Vec<PathBuf> {
    match from_annotations(annotations, bundle) {
        Ok(Some(o)) if o.owned => vec![o.upper, o.work],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layers_become_lowers_topmost_first() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let layers = format!("sha256:{a},sha256:{b}");
        let o = from_annotations(
            &ann(&[
                (STORE, "/s"),
                (LAYERS, &layers),
                (UPPER, "upper"),
                (WORK, "w/k"),
                (OWNED, "true"),
            ]),
            Path::new("/b"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(o.lowers[0], Path::new("/s/layers/sha256").join(&b));
        assert_eq!(o.lowers[1], Path::new("/s/layers/sha256").join(&a));
        assert_eq!(o.upper, Path::new("/b/upper"));
        assert_eq!(o.work, Path::new("/b/w/k"));
        assert!(o.owned);
    }

    #[test]
    fn bad_values_name_the_annotation() {
        let good = format!("sha256:{}", "a".repeat(64));
        let err = |pairs: &[(&str, &str)]| {
            from_annotations(&ann(pairs), Path::new("/b"))
                .unwrap_err()
                .to_string()
        };
        let e = err(&[
            (STORE, "/s"),
            (LAYERS, "sha256:../../x"),
            (UPPER, "u"),
            (WORK, "w"),
        ]);
        assert!(e.contains(LAYERS), "{e}");
        let e = err(&[(STORE, "s"), (LAYERS, &good), (UPPER, "u"), (WORK, "w")]);
        assert!(e.contains(STORE), "{e}");
        let e = err(&[(STORE, "/s"), (LAYERS, &good), (UPPER, "../u"), (WORK, "w")]);
        assert!(e.contains(UPPER), "{e}");
        let e = err(&[(STORE, "/s"), (LAYERS, &good), (UPPER, "u")]);
        assert!(e.contains(WORK), "{e}");
        assert!(from_annotations(&ann(&[]), Path::new("/b"))
            .unwrap()
            .is_none());
    }
}
