//! A read-only view of a stack of store layers in overlay form (topmost first), resolving
//! one path the way overlayfs would: the topmost layer that has it wins, a whiteout (0/0
//! character device) hides it, an opaque directory hides everything below it. Used to read
//! the image's /etc/passwd without mounting, and by `diff` to tell added from changed.

use super::fsops::{self, PATH_DIR, READ_DIR};
use super::whiteout::OVERLAY_OPAQUE;
use crate::rootfs::Root;
use rustix::fs::{AtFlags, FileType, Mode};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Store layers, topmost first.
pub struct Stack(pub Vec<Root>);

impl Stack {
    /// The layer that shows `path` (relative) and its type, `None` when no layer does.
    pub fn find(&self, path: &Path) -> Option<(usize, FileType)> {
        let parts: Vec<_> = path.iter().collect();
        for (i, layer) in self.0.iter().enumerate() {
            match visit(layer, &parts) {
                Visit::Found(kind) => return Some((i, kind)),
                Visit::Hidden => return None,
                Visit::Absent { opaque: true } => return None,
                Visit::Absent { opaque: false } => {}
            }
        }
        None
    }

    /// Opens `path` in the layer `find` named (its parents there are real directories).
    pub fn open(&self, layer: usize, path: &Path) -> Option<OwnedFd> {
        let root = self.0.get(layer)?;
        fsops::open_in(
            root.as_fd(),
            path,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW,
        )
        .ok()
    }
}

enum Visit {
    Found(FileType),
    Hidden,
    /// Not in this layer; `opaque` when a directory on the way hides the lower layers.
    Absent {
        opaque: bool,
    },
}

fn visit(layer: &Root, parts: &[&std::ffi::OsStr]) -> Visit {
    let Ok(mut dir) = fsops::open_in(layer.as_fd(), Path::new(""), PATH_DIR) else {
        return Visit::Absent { opaque: false };
    };
    let mut opaque = false;
    for (i, name) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let st = match rustix::fs::statat(&dir, *name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(_) => return Visit::Absent { opaque },
        };
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind == FileType::CharacterDevice && st.st_rdev == 0 {
            return Visit::Hidden;
        }
        if last {
            return Visit::Found(kind);
        }
        if kind != FileType::Directory {
            return Visit::Hidden;
        }
        dir = match rustix::fs::openat(&dir, *name, READ_DIR, Mode::empty()) {
            Ok(fd) => fd,
            Err(_) => return Visit::Absent { opaque },
        };
        if is_opaque(&dir) {
            opaque = true;
        }
    }
    Visit::Found(FileType::Directory)
}

/// Whether a directory carries `trusted.overlay.opaque=y`.
pub fn is_opaque(dir: impl AsFd) -> bool {
    let mut v = [0u8; 1];
    rustix::fs::fgetxattr(dir, OVERLAY_OPAQUE, &mut v).is_ok_and(|n| n == 1 && v[0] == b'y')
}
