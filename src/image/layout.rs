//! An OCI image layout directory: index.json -> (nested indexes, platform `linux/<host arch>`,
//! `--ref` by `org.opencontainers.image.ref.name`) -> manifest -> config and layers, each blob
//! read from `blobs/sha256/<hex>` and checked against its descriptor.

use super::blob::{self, Digest};
use super::error::ImageError;
use super::schema::{self, Descriptor, ImageConfig, Index, Kind, Manifest};
use super::source::{self, BlobRef, Image, Source};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Nested indexes deeper than this are refused (a loop of indexes cannot be built with
/// content addressing, but a very deep chain can).
const MAX_DEPTH: usize = 8;

/// An OCI image layout on disk.
#[derive(Debug)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// Opens the layout at `dir` (it must hold index.json).
    pub fn open(dir: &Path) -> Result<Layout, ImageError> {
        let index = dir.join("index.json");
        std::fs::metadata(&index).map_err(|e| ImageError::io("open", &index, e))?;
        Ok(Layout {
            dir: dir.to_path_buf(),
        })
    }

    /// Resolves the image named `reference` (or the only one) for this platform.
    pub fn resolve(&self, reference: Option<&str>) -> Result<Image, ImageError> {
        let path = self.dir.join("index.json");
        let file = File::open(&path).map_err(|e| ImageError::io("open", &path, e))?;
        let bytes = blob::read_document(file, "index.json", None, None)?;
        let index: Index = source::parse_json("index.json", &bytes)?;
        let desc = self.select(&index, reference, 0)?;
        let manifest: Manifest = self.document(&desc, "manifest")?;
        if let Some(mt) = &manifest.media_type {
            if schema::kind_of(mt) != Kind::Manifest {
                return Err(unknown(&desc.digest, mt));
            }
        }
        let config: ImageConfig = self.document(&manifest.config, "config")?;
        if let Some(mt) = &manifest.config.media_type {
            if schema::kind_of(mt) != Kind::Config {
                return Err(unknown(&manifest.config.digest, mt));
            }
        }
        let blobs = manifest
            .layers
            .iter()
            .enumerate()
            .map(|(i, d)| layer_blob(i, d))
            .collect::<Result<Vec<_>, _>>()?;
        let layers = source::pair_layers(&config, blobs)?;
        Ok(Image { config, layers })
    }

    /// Reads, checks and parses the blob of `desc`.
    fn document<T: serde::de::DeserializeOwned>(
        &self,
        desc: &Descriptor,
        what: &str,
    ) -> Result<T, ImageError> {
        let digest = Digest::parse(what, &desc.digest)?;
        let blob = BlobRef {
            name: desc.digest.clone(),
            digest: Some(digest.clone()),
            size: Some(desc.size),
        };
        let reader = self.open(&blob)?;
        let bytes = blob::read_document(reader, &desc.digest, Some(&digest), Some(desc.size))?;
        source::parse_json(&format!("{what} {}", desc.digest), &bytes)
    }

    /// Picks the one manifest `index` leads to for this platform (and `reference`).
    fn select(
        &self,
        index: &Index,
        reference: Option<&str>,
        depth: usize,
    ) -> Result<Descriptor, ImageError> {
        let found = self.manifests(index, reference, depth)?;
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(self.select_err(match reference {
                Some(r) => format!(
                    "no image named {r:?} for linux/{} (names: {})",
                    schema::host_arch(),
                    ref_names(index).join(", ")
                ),
                None => format!("no image for linux/{}", schema::host_arch()),
            })),
            many => Err(self.select_err(format!(
                "{} images; name one with --ref (names: {})",
                many.len(),
                ref_names(index).join(", ")
            ))),
        }
    }

    /// Every manifest for this platform under `index` (nested indexes followed).
    fn manifests(
        &self,
        index: &Index,
        reference: Option<&str>,
        depth: usize,
    ) -> Result<Vec<Descriptor>, ImageError> {
        if depth > MAX_DEPTH {
            return Err(self.select_err("image indexes nested too deeply".into()));
        }
        let mut out = Vec::new();
        for d in &index.manifests {
            if reference.is_some_and(|r| ref_name(d) != Some(r)) {
                continue;
            }
            if d.platform
                .as_ref()
                .is_some_and(|p| p.os != "linux" || p.architecture != schema::host_arch())
            {
                continue;
            }
            let kind = d
                .media_type
                .as_deref()
                .map_or(Kind::Manifest, schema::kind_of);
            match kind {
                Kind::Manifest => out.push(d.clone()),
                Kind::Index => {
                    let nested: Index = self.document(d, "index")?;
                    out.extend(self.manifests(&nested, None, depth + 1)?);
                }
                // Artifacts, attestations: not images.
                _ => {}
            }
        }
        Ok(out)
    }

    fn select_err(&self, reason: String) -> ImageError {
        ImageError::Select {
            src: self.dir.clone(),
            reason,
        }
    }
}

impl Source for Layout {
    fn open(&self, blob: &BlobRef) -> Result<Box<dyn Read + Send>, ImageError> {
        let Some(digest) = &blob.digest else {
            return Err(ImageError::MissingBlob {
                blob: blob.name.clone(),
                src: self.dir.clone(),
            });
        };
        let path = self.dir.join("blobs/sha256").join(digest.hex());
        match File::open(&path) {
            Ok(f) => Ok(Box::new(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ImageError::MissingBlob {
                blob: blob.name.clone(),
                src: self.dir.clone(),
            }),
            Err(e) => Err(ImageError::io("open", &path, e)),
        }
    }

    fn path(&self) -> &Path {
        &self.dir
    }
}

fn layer_blob(i: usize, d: &Descriptor) -> Result<BlobRef, ImageError> {
    let mt = d.media_type.as_deref().unwrap_or_default();
    if schema::kind_of(mt) != Kind::Layer {
        return Err(unknown(&d.digest, mt));
    }
    Ok(BlobRef {
        name: d.digest.clone(),
        digest: Some(Digest::parse(
            &format!("manifest.layers[{i}].digest"),
            &d.digest,
        )?),
        size: Some(d.size),
    })
}

fn unknown(blob: &str, media_type: &str) -> ImageError {
    ImageError::UnknownMediaType {
        blob: blob.to_string(),
        media_type: media_type.to_string(),
    }
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations
        .as_ref()
        .and_then(|a| a.get(schema::REF_NAME))
        .map(String::as_str)
}

fn ref_names(index: &Index) -> Vec<String> {
    let names: Vec<String> = index
        .manifests
        .iter()
        .filter_map(ref_name)
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        vec!["none".into()]
    } else {
        names
    }
}
