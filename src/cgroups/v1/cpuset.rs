//! v1 cpuset controller: `linux.resources.cpu.cpus` and `.mems` (planned as on v2), and the
//! one v1 quirk at creation: a new cpuset cgroup starts with empty cpus and mems, and no
//! process can join it until they are filled, so each new level copies its parent's (as runc
//! does).

use crate::cgroups::fs::{write_file, Dir};
use crate::cgroups::CgroupError;

/// The cpuset writes: the same files and values as on v2.
pub use crate::cgroups::v2::cpuset::plan;

/// Fills an empty cpuset.cpus / cpuset.mems of `child` from `parent`.
pub fn inherit(parent: &Dir, child: &Dir) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if child.read_trimmed(file)?.is_empty() {
            let value = parent.read_trimmed(file)?;
            write_file(child, file, &value)?;
        }
    }
    Ok(())
}
