//! What both image sources (an OCI layout directory, a docker-save archive) give the
//! unpacker: a resolved [`Image`] (config plus layer blobs with their diff_ids) and a way to
//! open a blob as a stream.

use super::blob::Digest;
use super::error::ImageError;
use super::schema::ImageConfig;
use std::io::Read;
use std::path::Path;

/// A blob as the source names it.
#[derive(Debug, Clone)]
pub struct BlobRef {
    /// How errors name it: the digest, or the archive path.
    pub name: String,
    /// The digest its content must have, when the source states one.
    pub digest: Option<Digest>,
    /// Its length, when a descriptor states one.
    pub size: Option<u64>,
}

/// A layer of an image.
#[derive(Debug, Clone)]
pub struct LayerRef {
    /// The (possibly compressed) blob.
    pub blob: BlobRef,
    /// The digest of the uncompressed tar, from the config's `rootfs.diff_ids`.
    pub diff_id: Digest,
}

/// An image, resolved down to its config and layers.
#[derive(Debug, Clone)]
pub struct Image {
    /// The parsed image config.
    pub config: ImageConfig,
    /// The layers, bottom first.
    pub layers: Vec<LayerRef>,
}

/// A place blobs are read from.
pub trait Source: Sync {
    /// Opens a blob as a stream (its digest is checked by the reader of the stream).
    fn open(&self, blob: &BlobRef) -> Result<Box<dyn Read + Send>, ImageError>;
    /// The layout directory or archive, for errors.
    fn path(&self) -> &Path;
}

/// Pairs the manifest's layer blobs with the config's diff_ids (same count, valid digests).
pub fn pair_layers(config: &ImageConfig, blobs: Vec<BlobRef>) -> Result<Vec<LayerRef>, ImageError> {
    let ids = &config.rootfs.diff_ids;
    if ids.len() != blobs.len() {
        return Err(ImageError::invalid(
            "config.rootfs.diff_ids",
            format!("{} diff_ids for {} layers", ids.len(), blobs.len()),
        ));
    }
    blobs
        .into_iter()
        .zip(ids)
        .enumerate()
        .map(|(i, (blob, id))| {
            let diff_id = Digest::parse(&format!("config.rootfs.diff_ids[{i}]"), id)?;
            Ok(LayerRef { blob, diff_id })
        })
        .collect()
}

/// Parses a JSON document, naming it in the error.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    what: &str,
    bytes: &[u8],
) -> Result<T, ImageError> {
    serde_json::from_slice(bytes).map_err(|source| ImageError::Json {
        what: what.to_string(),
        source,
    })
}
