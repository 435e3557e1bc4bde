//! The image module's error: one variant per failed step, naming the blob (by digest or
//! archive path), the tar entry or the JSON document at fault, so a bad image fails with one
//! line that says where.

use crate::error::{ErrorKind, Kind};
use std::io;
use std::path::PathBuf;

/// A failed image operation.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A host file or directory (the layout, the archive, the bundle, the store) failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The host path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A JSON document (index.json, a manifest, a config) cannot be parsed.
    #[error("parse {what}: {source}")]
    Json {
        /// Which document (a path or a blob digest).
        what: String,
        /// serde's description.
        #[source]
        source: serde_json::Error,
    },
    /// A digest string is malformed or uses an algorithm hull does not know.
    #[error("{field}: bad digest {value:?}: {reason}")]
    BadDigest {
        /// Where the digest came from (`manifest.layers[2].digest`).
        field: String,
        /// The value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A blob the image names is not in the layout or archive.
    #[error("blob {blob}: missing from {}", src.display())]
    MissingBlob {
        /// The blob's digest or archive path.
        blob: String,
        /// The layout directory or archive.
        src: PathBuf,
    },
    /// A blob's content does not hash to its digest (or a layer's to its diff_id).
    #[error("blob {blob}: digest mismatch: expected {expected}, found {found}")]
    DigestMismatch {
        /// The blob (digest or archive path), with "diff_id of" for a layer's uncompressed digest.
        blob: String,
        /// The digest the image names.
        expected: String,
        /// The digest of what was read.
        found: String,
    },
    /// A blob's length differs from its descriptor's size.
    #[error("blob {blob}: size mismatch: expected {expected} bytes, found {found}")]
    SizeMismatch {
        /// The blob.
        blob: String,
        /// The descriptor's size.
        expected: u64,
        /// What was read.
        found: u64,
    },
    /// A descriptor's media type is not one hull can unpack.
    #[error("blob {blob}: unknown media type {media_type:?}")]
    UnknownMediaType {
        /// The blob.
        blob: String,
        /// The media type.
        media_type: String,
    },
    /// A layer cannot be read: truncated, corrupt compression or a corrupt tar.
    #[error("layer {blob}: {source}")]
    Layer {
        /// The layer blob.
        blob: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A tar entry cannot be applied.
    #[error("layer {blob}: entry {}: {op}: {source}", entry.display())]
    Entry {
        /// The layer blob.
        blob: String,
        /// The entry's path in the tar.
        entry: PathBuf,
        /// The failed syscall or step.
        op: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A tar entry would write outside the target; refused.
    #[error("layer {blob}: entry {}: refused: {reason}", entry.display())]
    Escape {
        /// The layer blob.
        blob: String,
        /// The entry's path in the tar.
        entry: PathBuf,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The image's documents do not fit together (layer count, missing fields).
    #[error("{what}: {reason}")]
    Invalid {
        /// Which document or field.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// No image in the source matches the reference (or there are several and none was named).
    #[error("{}: {reason}", src.display())]
    Select {
        /// The layout or archive.
        src: PathBuf,
        /// What was looked for and what is there.
        reason: String,
    },
    /// The bundle directory exists and is not empty.
    #[error("bundle {}: exists and is not empty", path.display())]
    BundleExists {
        /// The bundle.
        path: PathBuf,
    },
    /// The image's `User` names a user or group the image's /etc/passwd or /etc/group lacks.
    #[error("config.User {user:?}: {reason}")]
    User {
        /// The `User` value.
        user: String,
        /// What is wrong.
        reason: String,
    },
    /// The container's state cannot be read.
    #[error("container {id}: {source}")]
    State {
        /// Container id.
        id: String,
        /// Why.
        #[source]
        source: crate::state::StateError,
    },
    /// The container has no overlay rootfs (it was not unpacked with --overlay).
    #[error("container {id}: its rootfs is not an overlay of image layers")]
    NotOverlay {
        /// Container id.
        id: String,
    },
}

impl ImageError {
    /// Shorthand for [`ImageError::Io`].
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        ImageError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`ImageError::Invalid`].
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        ImageError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

impl Kind for ImageError {
    fn kind(&self) -> ErrorKind {
        match self {
            ImageError::Io { .. } | ImageError::Entry { .. } => ErrorKind::Sys,
            ImageError::Select { .. } | ImageError::NotOverlay { .. } => ErrorKind::NotFound,
            ImageError::BundleExists { .. } => ErrorKind::Exists,
            ImageError::State { source, .. } => source.kind(),
            _ => ErrorKind::BadSpec,
        }
    }
}
