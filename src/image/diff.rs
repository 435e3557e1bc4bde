//! `hull image diff`: what a container changed, read from its overlay upper directory, as
//! `docker diff` prints it: `A /path` (added), `C /path` (changed: the path exists in the
//! image's layers too), `D /path` (deleted: an overlayfs whiteout), sorted by path.

use super::error::ImageError;
use super::fsops::{self, READ_DIR};
use super::layers::{self, Stack};
use crate::rootfs::Root;
use crate::spec::overlay::OverlayRootfs;
use crate::state::{ContainerState, StateRoot};
use rustix::fs::{AtFlags, FileType, Mode};
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Not in the image.
    Added,
    /// In the image, and written (or its contents changed).
    Changed,
    /// In the image, and removed.
    Deleted,
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// The container path (absolute).
    pub path: PathBuf,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self.kind {
            ChangeKind::Added => 'A',
            ChangeKind::Changed => 'C',
            ChangeKind::Deleted => 'D',
        };
        write!(f, "{k} {}", self.path.display())
    }
}

/// The overlay rootfs of container `id`, from its state.
pub fn overlay_of(root: &StateRoot, id: &str) -> Result<OverlayRootfs, ImageError> {
    let state_err = |source| ImageError::State {
        id: id.to_string(),
        source,
    };
    let dir = root.container_dir(id).map_err(state_err)?;
    let state = ContainerState::read(&dir, id).map_err(state_err)?;
    match crate::spec::overlay::from_annotations(&state.annotations, &state.bundle) {
        Ok(Some(ov)) => Ok(ov),
        Ok(None) => Err(ImageError::NotOverlay { id: id.to_string() }),
        Err(e) => Err(ImageError::invalid(
            format!("container {id}"),
            e.to_string(),
        )),
    }
}

/// The changes of container `id`.
pub fn container(root: &StateRoot, id: &str) -> Result<Vec<Change>, ImageError> {
    let ov = overlay_of(root, id)?;
    changes(&ov.upper, &ov.lowers)
}

/// The changes an upper directory makes over `lowers` (topmost first).
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>, ImageError> {
    let open = |p: &Path| {
        Root::open(p).map_err(|e| ImageError::io("open", p, std::io::Error::other(e.to_string())))
    };
    let stack = Stack(lowers.iter().map(|l| open(l)).collect::<Result<_, _>>()?);
    let top = open(upper)?;
    let dir = fsops::open_in(top.as_fd(), Path::new(""), READ_DIR)
        .map_err(|e| ImageError::io("open", upper, e))?;
    let mut out = Vec::new();
    walk(dir.as_fd(), Path::new(""), true, &stack, &mut out)
        .map_err(|(p, e)| ImageError::io("read", upper.join(p), e))?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

type WalkErr = (PathBuf, std::io::Error);

fn walk(
    dir: BorrowedFd<'_>,
    rel: &Path,
    lower_visible: bool,
    stack: &Stack,
    out: &mut Vec<Change>,
) -> Result<(), WalkErr> {
    let fail = |e: std::io::Error| (rel.to_path_buf(), e);
    for name in fsops::names(dir).map_err(fail)? {
        let path = rel.join(&name);
        let st = rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| (path.clone(), e.into()))?;
        let kind = FileType::from_raw_mode(st.st_mode);
        let below = lower_visible && stack.find(&path).is_some();
        let container_path = Path::new("/").join(&path);
        if kind == FileType::CharacterDevice && st.st_rdev == 0 {
            if below {
                out.push(Change {
                    kind: ChangeKind::Deleted,
                    path: container_path,
                });
            }
            continue;
        }
        out.push(Change {
            kind: if below {
                ChangeKind::Changed
            } else {
                ChangeKind::Added
            },
            path: container_path,
        });
        if kind == FileType::Directory {
            let sub = rustix::fs::openat(dir, &name, READ_DIR, Mode::empty())
                .map_err(|e| (path.clone(), e.into()))?;
            let opaque = layers::is_opaque(&sub);
            walk(sub.as_fd(), &path, below && !opaque, stack, out)?;
        }
    }
    Ok(())
}
