//! Joining a namespace given by path: setns with the expected type, so a file of the wrong
//! type (or not a namespace at all) is refused by the kernel rather than silently joined.

use super::NsError;
use crate::spec::NsKind;
use std::fs::File;
use std::path::Path;

/// Joins the namespace at `path`, which must be of `kind`.
pub fn join(kind: NsKind, path: &Path) -> Result<(), NsError> {
    let file = File::open(path).map_err(|source| NsError::Open {
        path: path.into(),
        source,
    })?;
    nix::sched::setns(&file, kind.clone_flag()).map_err(|source| NsError::Join {
        kind: kind.spec_name(),
        path: path.into(),
        source,
    })
}
