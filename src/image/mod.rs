//! `hull image`: turn an OCI image layout or a `docker save` archive into a bundle, and a
//! container's overlay changes back into a layer. Sits beside `container/`; the create path
//! never runs this code (threads are used freely here).
//!
//! `unpack` flow: open the source (`layout.rs` / `docker_archive.rs`) and resolve the image
//! (platform, `--ref`), checking every document's digest; stage the bundle in a temporary
//! directory beside it; apply each layer (`blob.rs` streams, hashes and decompresses on one
//! thread while `apply.rs` writes entries on another) either into one flat `rootfs` or, with a
//! store, into shared overlay-form layers (`store.rs`, several layers at once); write
//! config.json from the image config (`config.rs`, `passwd.rs`); rename the staging dir onto
//! the bundle. Any failure removes the staging dir, so no partial bundle is ever visible.
//! `gc.rs` removes store layers no recorded bundle names any more.

mod apply;
pub mod blob;
pub mod commit;
mod config;
pub mod diff;
mod docker_archive;
mod error;
mod fsops;
pub mod gc;
mod layers;
mod layout;
mod meta;
mod nodes;
pub mod passwd;
pub mod schema;
mod source;
pub mod store;
pub mod whiteout;

pub use apply::Form;
pub use error::ImageError;
pub use source::{Image, LayerRef, Source};

use crate::rootfs::Root;
use blob::{Digest, LayerStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Options of `unpack`.
#[derive(Debug, Default, Clone)]
pub struct UnpackOptions {
    /// The image to pick (`org.opencontainers.image.ref.name`, or a docker `RepoTags` entry).
    pub reference: Option<String>,
    /// Unpack into this layer store and make an overlay bundle (`--overlay`).
    pub store: Option<PathBuf>,
    /// Counters the caller may display: blob bytes read so far, and the total.
    pub progress: Option<Arc<Progress>>,
}

/// Progress of an unpack, updated as layer blobs are read.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of layer blobs read.
    pub done: Arc<AtomicU64>,
    /// Bytes of layer blobs to read (0 until the image is resolved).
    pub total: AtomicU64,
}

/// What `unpack` made.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// The layers' diff_ids, bottom first.
    pub layers: Vec<Digest>,
    /// For each layer, whether it was written now (always true without a store).
    pub extracted: Vec<bool>,
}

/// Unpacks the image at `src` (a layout directory or a docker-save tar; `SRC:REF` also names
/// a reference) into `bundle` (which must be absent or empty).
pub fn unpack(src: &Path, bundle: &Path, opts: &UnpackOptions) -> Result<Unpacked, ImageError> {
    let (source, image) = open(src, opts.reference.as_deref())?;
    let counter = opts.progress.as_ref().map(|p| {
        let total = image.layers.iter().filter_map(|l| l.blob.size).sum();
        p.total.store(total, Ordering::Relaxed);
        Arc::clone(&p.done)
    });
    let staging = TempDir::for_bundle(bundle)?;
    let rootfs = staging.path().join("rootfs");
    mkdir(&rootfs)?;
    let (user, extra, extracted, held) = match &opts.store {
        None => {
            let root = open_root(&rootfs)?;
            for layer in &image.layers {
                apply_verified(source.as_ref(), layer, &root, Form::Flat, counter.as_ref())?;
            }
            let user = resolve_user(&image, &passwd::FlatFiles(&root))?;
            (user, Vec::new(), vec![true; image.layers.len()], None)
        }
        Some(dir) => {
            let store = store::Store::open(dir)?;
            // Until the bundle's ref is written (below), gc must not run.
            let lock = store.lock(false)?;
            let extracted = store.fill(source.as_ref(), &image.layers, counter.as_ref())?;
            let tops = image
                .layers
                .iter()
                .rev()
                .map(|l| open_root(&store.layer_dir(&l.diff_id)))
                .collect::<Result<Vec<_>, _>>()?;
            let user = resolve_user(&image, &passwd::LayerFiles(layers::Stack(tops)))?;
            for d in ["upper", "work"] {
                mkdir(&staging.path().join(d))?;
            }
            let extra = overlay_annotations(&store, &image);
            (user, extra, extracted, Some((store, lock)))
        }
    };
    for i in 0..config::volumes(&image.config).len() {
        let dir = staging.path().join(config::volume_dir(i));
        std::fs::create_dir_all(&dir).map_err(|e| ImageError::io("mkdir", &dir, e))?;
    }
    let spec = config::runtime_spec(&image.config, &user, &extra);
    write_config(staging.path(), &spec)?;
    match held {
        None => staging.commit(bundle)?,
        Some((store, _lock)) => {
            // The ref first: a bundle the store does not know of could lose its layers to gc.
            let abs =
                std::path::absolute(bundle).map_err(|e| ImageError::io("resolve", bundle, e))?;
            let added = store.add_ref(&abs)?;
            if let Err(e) = staging.commit(bundle) {
                if let Some(r) = added {
                    let _ = std::fs::remove_file(r);
                }
                return Err(e);
            }
        }
    }
    Ok(Unpacked {
        layers: image.layers.iter().map(|l| l.diff_id.clone()).collect(),
        extracted,
    })
}

/// Opens `src` and resolves the image in it.
pub fn open(src: &Path, reference: Option<&str>) -> Result<(Box<dyn Source>, Image), ImageError> {
    let meta = match std::fs::metadata(src) {
        Ok(m) => m,
        Err(e) => {
            // `layout:ref` names a reference, as umoci and skopeo spell it.
            let text = src.to_string_lossy();
            if let (None, Some((path, r))) = (reference, text.rsplit_once(':')) {
                if Path::new(path).exists() {
                    return open(Path::new(path), Some(r));
                }
            }
            return Err(ImageError::io("open", src, e));
        }
    };
    if meta.is_dir() {
        let layout = layout::Layout::open(src)?;
        let image = layout.resolve(reference)?;
        Ok((Box::new(layout), image))
    } else {
        let archive = docker_archive::Archive::open(src)?;
        let image = archive.resolve(reference)?;
        Ok((Box::new(archive), image))
    }
}

/// Streams one layer into `root`, then checks its blob digest and its diff_id.
pub(crate) fn apply_verified(
    source: &dyn Source,
    layer: &LayerRef,
    root: &Root,
    form: Form,
    progress: Option<&Arc<AtomicU64>>,
) -> Result<(), ImageError> {
    let name = &layer.blob.name;
    let raw = source.open(&layer.blob)?;
    let stream = LayerStream::start(raw, progress.cloned());
    let stream = apply::apply_layer(root, form, name, stream)?;
    let m = stream.finish().map_err(|source| ImageError::Layer {
        blob: name.clone(),
        source,
    })?;
    if let Some(d) = &layer.blob.digest {
        blob::check(name, d, layer.blob.size, (&m.digest, m.size))?;
    }
    blob::check(
        &format!("{name} (diff_id)"),
        &layer.diff_id,
        None,
        (&m.diff_id, 0),
    )
}

fn resolve_user(image: &Image, files: &dyn passwd::Files) -> Result<passwd::Resolved, ImageError> {
    let user = image
        .config
        .config
        .as_ref()
        .and_then(|c| c.user.clone())
        .unwrap_or_default();
    passwd::resolve(&user, files)
}

fn overlay_annotations(store: &store::Store, image: &Image) -> Vec<(String, String)> {
    use crate::spec::overlay as ov;
    let ids: Vec<String> = image.layers.iter().map(|l| l.diff_id.to_string()).collect();
    vec![
        (
            ov::STORE.into(),
            store.path().to_string_lossy().into_owned(),
        ),
        (ov::LAYERS.into(), ids.join(",")),
        (ov::UPPER.into(), "upper".into()),
        (ov::WORK.into(), "work".into()),
        (ov::OWNED.into(), "true".into()),
    ]
}

fn open_root(path: &Path) -> Result<Root, ImageError> {
    Root::open(path).map_err(|e| ImageError::io("open", path, std::io::Error::other(e.to_string())))
}

fn mkdir(path: &Path) -> Result<(), ImageError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(path)
        .map_err(|e| ImageError::io("mkdir", path, e))
}

/// Writes config.json (tab-indented, like `hull spec`) as a new file.
fn write_config(dir: &Path, spec: &serde_json::Value) -> Result<(), ImageError> {
    use serde::Serialize;
    use std::io::Write;
    let path = dir.join(crate::spec::CONFIG_FILE);
    let mut text = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut text, fmt);
    spec.serialize(&mut ser)
        .map_err(|e| ImageError::io("encode", &path, std::io::Error::other(e)))?;
    text.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| ImageError::io("create", &path, e))?;
    f.write_all(&text)
        .map_err(|e| ImageError::io("write", &path, e))
}

/// A temporary directory removed on drop unless kept (the staging of a bundle or a layer).
pub(crate) struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// A new directory `<parent>/.<tag>.hull-<pid>-<n>`.
    pub(crate) fn new(parent: &Path, tag: &str) -> Result<TempDir, ImageError> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!(".{tag}.hull-{}-{n}", std::process::id()));
        mkdir(&path)?;
        Ok(TempDir { path, keep: false })
    }

    /// Staging beside `bundle`, which must be absent or an empty directory.
    fn for_bundle(bundle: &Path) -> Result<TempDir, ImageError> {
        match std::fs::read_dir(bundle) {
            Ok(mut it) => {
                if it.next().is_some() {
                    return Err(ImageError::BundleExists {
                        path: bundle.to_path_buf(),
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ImageError::io("open", bundle, e)),
        }
        let abs = std::path::absolute(bundle).map_err(|e| ImageError::io("resolve", bundle, e))?;
        let parent = abs.parent().unwrap_or(Path::new("/"));
        let name = abs
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        TempDir::new(parent, &name)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves the directory in place (it was renamed into its final name).
    pub(crate) fn keep(mut self) {
        self.keep = true;
    }

    /// Renames the staging dir onto `bundle` (replacing an empty directory).
    fn commit(self, bundle: &Path) -> Result<(), ImageError> {
        std::fs::rename(&self.path, bundle).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTEMPTY | libc::EEXIST) => ImageError::BundleExists {
                path: bundle.to_path_buf(),
            },
            _ => ImageError::io("rename into", bundle, e),
        })?;
        self.keep();
        Ok(())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
