//! Pure rules of layer application: cleaning an entry's path, classifying it (a file, a
//! `.wh.NAME` whiteout, a `.wh..wh..opq` opaque marker), and deciding what a whiteout removes.
//!
//! The image spec says a whiteout applies only to lower layers: whatever the current layer
//! wrote stays, in whichever order the tar lists it (umoci's "upper paths" rule). So the
//! applier records every path the layer writes, and a whiteout (or an opaque marker) removes
//! a lower path whole, keeps a path the layer wrote as a file, and descends into a directory
//! the layer wrote or that holds something the layer wrote, removing only the rest.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The whiteout prefix.
pub const PREFIX: &str = ".wh.";
/// The opaque-directory marker.
pub const OPAQUE: &str = ".wh..wh..opq";
/// The overlayfs xattr marking an opaque directory.
pub const OVERLAY_OPAQUE: &str = "trusted.overlay.opaque";

/// What a tar entry is, by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// An ordinary entry.
    Normal,
    /// `.wh.NAME`: NAME (this path) is deleted from the lower layers.
    Whiteout(PathBuf),
    /// `.wh..wh..opq`: this directory hides everything lower layers put in it.
    Opaque(PathBuf),
    /// Another `.wh..wh.` name (aufs bookkeeping): skipped.
    Meta,
}

/// Cleans a tar entry's name into a path relative to the target: a leading `/` and `.`
/// components are dropped, `..` is resolved lexically; a name that climbs above the root is
/// refused. The empty path is the root itself.
pub fn clean(raw: &[u8]) -> Result<PathBuf, &'static str> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if parts.pop().is_none() {
                    return Err("the path leaves the root (..)");
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts
        .iter()
        .map(|c| Path::new(OsStr::from_bytes(c)))
        .collect())
}

/// Classifies a cleaned entry path.
pub fn classify(path: &Path) -> Result<Class, &'static str> {
    let Some(name) = path.file_name().map(OsStrExt::as_bytes) else {
        return Ok(Class::Normal);
    };
    let Some(rest) = name.strip_prefix(PREFIX.as_bytes()) else {
        return Ok(Class::Normal);
    };
    let parent = path.parent().unwrap_or(Path::new("")).to_path_buf();
    if name == OPAQUE.as_bytes() {
        return Ok(Class::Opaque(parent));
    }
    if rest.starts_with(PREFIX.as_bytes()) {
        return Ok(Class::Meta);
    }
    if rest.is_empty() || rest == b"." || rest == b".." || rest.contains(&b'/') {
        return Err("a whiteout that names no file");
    }
    Ok(Class::Whiteout(parent.join(OsStr::from_bytes(rest))))
}

/// What a whiteout does to one existing path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Only lower layers have it: remove it (recursively).
    Remove,
    /// The current layer wrote this non-directory: keep it.
    Keep,
    /// A directory the current layer wrote or that holds its paths: keep the directory,
    /// apply the rule to each child.
    Descend,
}

/// The paths the current layer has written so far.
#[derive(Debug, Default)]
pub struct LayerPaths {
    written: HashSet<PathBuf>,
    holds: HashSet<PathBuf>,
}

impl LayerPaths {
    /// Records a path the layer wrote (and marks its ancestors as holding it).
    pub fn record(&mut self, path: &Path) {
        if !self.written.insert(path.to_path_buf()) {
            return;
        }
        for a in path.ancestors().skip(1) {
            if !self.holds.insert(a.to_path_buf()) {
                break;
            }
        }
    }

    /// Whether the layer wrote `path` itself.
    pub fn wrote(&self, path: &Path) -> bool {
        self.written.contains(path)
    }

    /// What a whiteout (or opaque marker) does to the existing `path`.
    pub fn removal(&self, path: &Path, is_dir: bool) -> Removal {
        let wrote = self.written.contains(path);
        match (wrote, is_dir) {
            (true, false) => Removal::Keep,
            (true, true) => Removal::Descend,
            (false, true) if self.holds.contains(path) => Removal::Descend,
            _ => Removal::Remove,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Result<PathBuf, &'static str> {
        clean(s.as_bytes())
    }

    #[test]
    fn names_are_confined() {
        assert_eq!(c("./etc/passwd").unwrap(), Path::new("etc/passwd"));
        assert_eq!(c("/etc//passwd").unwrap(), Path::new("etc/passwd"));
        assert_eq!(c("a/../b").unwrap(), Path::new("b"));
        assert_eq!(c("./").unwrap(), Path::new(""));
        assert!(c("../etc/passwd").is_err());
        assert!(c("a/../../b").is_err());
    }

    #[test]
    fn whiteouts_are_classified() {
        let p = |s: &str| classify(Path::new(s)).unwrap();
        assert_eq!(p("etc/passwd"), Class::Normal);
        assert_eq!(p("etc/.wh.passwd"), Class::Whiteout("etc/passwd".into()));
        assert_eq!(p(".wh.top"), Class::Whiteout("top".into()));
        assert_eq!(p("var/.wh..wh..opq"), Class::Opaque("var".into()));
        assert_eq!(p(".wh..wh..opq"), Class::Opaque("".into()));
        assert_eq!(p("x/.wh..wh.plnk"), Class::Meta);
        assert!(classify(Path::new("x/.wh.")).is_err());
        assert!(classify(Path::new("x/.wh...")).is_err());
    }

    #[test]
    fn whiteouts_spare_what_the_layer_wrote() {
        let mut l = LayerPaths::default();
        l.record(Path::new("d/new"));
        l.record(Path::new("f"));
        l.record(Path::new("w"));
        // A lower file: removed.
        assert_eq!(l.removal(Path::new("old"), false), Removal::Remove);
        // A lower directory holding this layer's file: only its lower children go.
        assert_eq!(l.removal(Path::new("d"), true), Removal::Descend);
        assert_eq!(l.removal(Path::new("d/new"), false), Removal::Keep);
        assert_eq!(l.removal(Path::new("d/lower"), false), Removal::Remove);
        // A file this layer wrote stays; a directory it wrote keeps its own children.
        assert_eq!(l.removal(Path::new("f"), false), Removal::Keep);
        assert_eq!(l.removal(Path::new("w"), true), Removal::Descend);
        assert!(l.wrote(Path::new("w")));
        assert!(!l.wrote(Path::new("d")));
    }
}
