//! A `docker save` archive: one tar holding manifest.json (`Config`, `RepoTags`, `Layers`),
//! the config and the layer tars. The archive is indexed once (member -> offset), then every
//! blob is read in place with pread, so layers never get copied out. A gzip or zstd
//! compressed archive (`docker save | gzip`, which `docker load` takes) is first
//! decompressed once into an unnamed O_TMPFILE under $TMPDIR: the members must be read in
//! place, and an unnamed file is gone with the process whatever happens.

use super::blob::{self, Compression, Digest};
use super::error::ImageError;
use super::schema::{ArchiveImage, ImageConfig};
use super::source::{self, BlobRef, Image, Source};
use rustix::fs::{Mode, OFlags};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Symlinks between members (old docker links repeated layers) followed at most this often.
const MAX_HOPS: usize = 8;

#[derive(Debug, Clone)]
enum Member {
    Data { offset: u64, size: u64 },
    Link(String),
}

/// A docker-save archive, indexed.
#[derive(Debug)]
pub struct Archive {
    path: PathBuf,
    file: Arc<File>,
    members: HashMap<String, Member>,
}

impl Archive {
    /// Opens and indexes the archive at `path`.
    pub fn open(path: &Path) -> Result<Archive, ImageError> {
        let file = File::open(path).map_err(|e| ImageError::io("open", path, e))?;
        let file = plain(file, path)?;
        let members = index(&file).map_err(|source| ImageError::Layer {
            blob: path.display().to_string(),
            source,
        })?;
        if !members.contains_key("manifest.json") {
            return Err(ImageError::invalid(
                path.display().to_string(),
                "not a docker-save archive (no manifest.json)",
            ));
        }
        Ok(Archive {
            path: path.to_path_buf(),
            file: Arc::new(file),
            members,
        })
    }

    /// Resolves the image tagged `reference` (or the only one).
    pub fn resolve(&self, reference: Option<&str>) -> Result<Image, ImageError> {
        let manifest = self.member_bytes("manifest.json", None)?;
        let images: Vec<ArchiveImage> = source::parse_json("manifest.json", &manifest)?;
        let image = self.select(&images, reference)?;
        let config_digest = digest_from_name(&image.config);
        let bytes = self.member_bytes(&image.config, config_digest.as_ref())?;
        let config: ImageConfig = source::parse_json(&image.config, &bytes)?;
        let blobs = image
            .layers
            .iter()
            .map(|name| BlobRef {
                name: name.clone(),
                digest: digest_from_name(name),
                size: None,
            })
            .collect();
        let layers = source::pair_layers(&config, blobs)?;
        Ok(Image { config, layers })
    }

    fn select<'a>(
        &self,
        images: &'a [ArchiveImage],
        reference: Option<&str>,
    ) -> Result<&'a ArchiveImage, ImageError> {
        let tags = |i: &'a ArchiveImage| i.repo_tags.iter().flatten();
        let found: Vec<&ArchiveImage> = match reference {
            Some(r) => images
                .iter()
                .filter(|i| tags(i).any(|t| tag_matches(t, r)))
                .collect(),
            None => images.iter().collect(),
        };
        match found.as_slice() {
            [one] => Ok(one),
            other => {
                let all: Vec<&str> = images.iter().flat_map(tags).map(String::as_str).collect();
                let reason = match (other.len(), reference) {
                    (0, Some(r)) => format!("no image tagged {r:?} (tags: {})", all.join(", ")),
                    (0, None) => "no image in manifest.json".to_string(),
                    (n, _) => format!("{n} images; name one with --ref (tags: {})", all.join(", ")),
                };
                Err(ImageError::Select {
                    src: self.path.clone(),
                    reason,
                })
            }
        }
    }

    fn member_bytes(&self, name: &str, digest: Option<&Digest>) -> Result<Vec<u8>, ImageError> {
        let blob = BlobRef {
            name: name.to_string(),
            digest: digest.cloned(),
            size: None,
        };
        let reader = self.open(&blob)?;
        blob::read_document(reader, name, digest, None)
    }

    fn lookup(&self, name: &str) -> Option<(u64, u64)> {
        let mut name = clean(name);
        for _ in 0..MAX_HOPS {
            match self.members.get(&name)? {
                Member::Data { offset, size } => return Some((*offset, *size)),
                Member::Link(target) => name = target.clone(),
            }
        }
        None
    }
}

impl Source for Archive {
    fn open(&self, blob: &BlobRef) -> Result<Box<dyn Read + Send>, ImageError> {
        let (offset, size) = self
            .lookup(&blob.name)
            .ok_or_else(|| ImageError::MissingBlob {
                blob: blob.name.clone(),
                src: self.path.clone(),
            })?;
        Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            Section {
                file: Arc::clone(&self.file),
                pos: offset,
                end: offset + size,
            },
        )))
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

/// One member's bytes, read with pread so several layers can stream at once.
struct Section {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Read for Section {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = (self.end - self.pos).min(buf.len() as u64) as usize;
        if left == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..left], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive truncated",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// Member name -> where its data is (regular files) or what it links to.
/// The archive as a plain tar: `file` itself, or its decompressed copy in an unnamed file.
fn plain(file: File, path: &Path) -> Result<File, ImageError> {
    let mut head = [0u8; 4];
    let n = file
        .read_at(&mut head, 0)
        .map_err(|e| ImageError::io("read", path, e))?;
    let compression = blob::sniff(&head[..n]);
    if compression == Compression::None {
        return Ok(file);
    }
    let tmp_dir = std::env::temp_dir();
    let mut out: File = rustix::fs::open(
        &tmp_dir,
        OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| ImageError::io("open(O_TMPFILE)", &tmp_dir, e.into()))?
    .into();
    let raw = BufReader::with_capacity(1 << 20, file);
    let copied = match compression {
        Compression::Zstd => zstd::stream::read::Decoder::with_buffer(raw)
            .and_then(|mut d| io::copy(&mut d, &mut out)),
        _ => io::copy(&mut flate2::bufread::MultiGzDecoder::new(raw), &mut out),
    };
    copied.map_err(|e| ImageError::io("decompress", path, e))?;
    // The index reads from the file's position.
    out.rewind()
        .map_err(|e| ImageError::io("lseek", &tmp_dir, e))?;
    Ok(out)
}

fn index(file: &File) -> io::Result<HashMap<String, Member>> {
    let mut archive = tar::Archive::new(BufReader::new(file));
    let mut members = HashMap::new();
    for entry in archive.entries_with_seek()? {
        let entry = entry?;
        let name = clean(&String::from_utf8_lossy(&entry.path_bytes()));
        let kind = entry.header().entry_type();
        let member = if kind.is_file() {
            Member::Data {
                offset: entry.raw_file_position(),
                size: entry.size(),
            }
        } else if kind.is_symlink() || kind.is_hard_link() {
            let target = entry.link_name_bytes().unwrap_or_default();
            let target = String::from_utf8_lossy(&target).into_owned();
            let target = if kind.is_symlink() {
                relative_to(&name, &target)
            } else {
                clean(&target)
            };
            Member::Link(target)
        } else {
            continue;
        };
        members.insert(name, member);
    }
    Ok(members)
}

/// `./a//b/` -> `a/b`; `..` is resolved lexically, never above the archive root.
fn clean(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// A symlink target inside the archive, resolved against the link's directory.
fn relative_to(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        return clean(target);
    }
    let dir = link.rsplit_once('/').map_or("", |(d, _)| d);
    clean(&format!("{dir}/{target}"))
}

/// `blobs/sha256/<hex>` or `<hex>.json` / `<hex>/layer.tar`-style names that carry a digest.
fn digest_from_name(name: &str) -> Option<Digest> {
    let name = clean(name);
    if let Some(hex) = name.strip_prefix("blobs/sha256/") {
        return Digest::from_hex(hex);
    }
    name.strip_suffix(".json").and_then(Digest::from_hex)
}

/// `busybox` matches `busybox:latest`; otherwise tags must be equal.
fn tag_matches(tag: &str, reference: &str) -> bool {
    tag == reference || (!reference.contains(':') && tag == format!("{reference}:latest"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_and_links_resolved() {
        assert_eq!(clean("./abc//layer.tar"), "abc/layer.tar");
        assert_eq!(clean("../../x"), "x");
        assert_eq!(relative_to("b/layer.tar", "../a/layer.tar"), "a/layer.tar");
    }

    #[test]
    fn digests_come_from_names() {
        let hex = "a".repeat(64);
        assert!(digest_from_name(&format!("blobs/sha256/{hex}")).is_some());
        assert!(digest_from_name(&format!("{hex}.json")).is_some());
        assert!(digest_from_name(&format!("{hex}/layer.tar")).is_none());
    }

    #[test]
    fn tags_default_to_latest() {
        assert!(tag_matches("img:latest", "img"));
        assert!(tag_matches("img:v1", "img:v1"));
        assert!(!tag_matches("img:v1", "img"));
    }
}
