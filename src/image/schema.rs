//! The JSON documents of an image, as far as hull reads them: index, manifest, descriptor,
//! image config, and docker-save's manifest.json; plus the media types hull accepts. Unknown
//! fields are ignored, as the image spec requires.

use serde::Deserialize;
use std::collections::BTreeMap;

/// A content descriptor.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type of the referenced blob.
    #[serde(default)]
    pub media_type: Option<String>,
    /// `sha256:<hex>`.
    pub digest: String,
    /// The blob's length.
    pub size: u64,
    /// The platform of an index entry.
    #[serde(default)]
    pub platform: Option<Platform>,
    /// Annotations (`org.opencontainers.image.ref.name`).
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The platform of an index entry.
#[derive(Debug, Clone, Deserialize)]
pub struct Platform {
    /// GOARCH name (`amd64`).
    pub architecture: String,
    /// GOOS name (`linux`).
    pub os: String,
}

/// An image index (index.json, or a nested index / docker manifest list).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// The manifests (or nested indexes).
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// An image manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// The media type, when the document names it.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The image config.
    pub config: Descriptor,
    /// The layers, bottom first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// An image config (`application/vnd.oci.image.config.v1+json`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageConfig {
    /// GOARCH name.
    #[serde(default)]
    pub architecture: Option<String>,
    /// GOOS name.
    #[serde(default)]
    pub os: Option<String>,
    /// The author.
    #[serde(default)]
    pub author: Option<String>,
    /// Creation time, RFC 3339.
    #[serde(default)]
    pub created: Option<String>,
    /// The execution parameters.
    #[serde(default)]
    pub config: Option<RunConfig>,
    /// The layers' uncompressed digests.
    #[serde(default)]
    pub rootfs: RootFs,
}

/// The `config` object of an image config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    /// `user`, `uid`, `user:group`, `uid:gid`, ...
    #[serde(default)]
    pub user: Option<String>,
    /// `"80/tcp": {}`.
    #[serde(default)]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// `KEY=value`.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// The entrypoint.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// The default arguments.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// `"/data": {}`.
    #[serde(default)]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    /// The working directory.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// The signal that stops the container.
    #[serde(default)]
    pub stop_signal: Option<String>,
}

/// `rootfs` of an image config.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootFs {
    /// Must be `layers`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// One per layer, bottom first.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// One image of a docker-save archive's manifest.json.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveImage {
    /// Archive path of the config.
    pub config: String,
    /// `name:tag` references.
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    /// Archive paths of the layer tars, bottom first.
    #[serde(default)]
    pub layers: Vec<String>,
}

/// The annotation naming an index entry.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// What a descriptor points at, by media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An index or docker manifest list.
    Index,
    /// An image manifest.
    Manifest,
    /// A layer tar (compression is sniffed).
    Layer,
    /// An image config.
    Config,
    /// Something else.
    Unknown,
}

/// Classifies a media type.
pub fn kind_of(media_type: &str) -> Kind {
    match media_type {
        "application/vnd.oci.image.index.v1+json"
        | "application/vnd.docker.distribution.manifest.list.v2+json" => Kind::Index,
        "application/vnd.oci.image.manifest.v1+json"
        | "application/vnd.docker.distribution.manifest.v2+json" => Kind::Manifest,
        "application/vnd.oci.image.config.v1+json"
        | "application/vnd.docker.container.image.v1+json" => Kind::Config,
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.oci.image.layer.v1.tar+zstd"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip"
        | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Kind::Layer,
        _ => Kind::Unknown,
    }
}

/// This machine's architecture by its GOARCH name, as image platforms name it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_classify() {
        assert_eq!(
            kind_of("application/vnd.oci.image.layer.v1.tar+zstd"),
            Kind::Layer
        );
        assert_eq!(
            kind_of("application/vnd.docker.distribution.manifest.list.v2+json"),
            Kind::Index
        );
        assert_eq!(kind_of("application/x-tar"), Kind::Unknown);
    }

    #[test]
    fn docker_config_with_nulls_parses() {
        let c: ImageConfig = serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","config":{"Cmd":null,"Entrypoint":["/bin/sh"],
               "Env":["A=1"],"ExposedPorts":{"80/tcp":{}}},"rootfs":{"type":"layers","diff_ids":[]},
               "history":[{"created_by":"x"}]}"#,
        )
        .unwrap();
        let run = c.config.unwrap();
        assert!(run.cmd.is_none());
        assert_eq!(run.entrypoint.unwrap(), ["/bin/sh"]);
        assert!(run.exposed_ports.unwrap().contains_key("80/tcp"));
    }
}
