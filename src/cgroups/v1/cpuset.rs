//! v1 cpuset controller: `linux.resources.cpu.cpus` and `.mems`, and the one v1 quirk at
//! creation: a new cpuset cgroup starts with empty cpus and mems, and no process can join
//! it until they are filled, so each new level copies its parent's (as runc does).

use crate::cgroups::fs::{write_file, Dir};
use crate::cgroups::plan::Plan;
use crate::cgroups::CgroupError;
use oci_spec::runtime::LinuxCpu;

const F: &str = "linux.resources.cpu";

/// Plans the cpuset writes.
pub fn plan(c: &LinuxCpu, out: &mut Plan) {
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        out.write("cpuset", "cpuset.cpus", cpus, format!("{F}.cpus"));
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        out.write("cpuset", "cpuset.mems", mems, format!("{F}.mems"));
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxCpuBuilder;

    #[test]
    fn cpus_and_mems() {
        let c = LinuxCpuBuilder::default()
            .cpus("0-1")
            .mems("0")
            .build()
            .unwrap();
        let mut p = Plan::default();
        plan(&c, &mut p);
        assert_eq!(
            p.pairs(),
            [
                ("cpuset.cpus".to_string(), "0-1".to_string()),
                ("cpuset.mems".to_string(), "0".to_string())
            ]
        );
        assert_eq!(p.writes[0].controller, "cpuset");
        let mut none = Plan::default();
        plan(
            &LinuxCpuBuilder::default().cpus("").build().unwrap(),
            &mut none,
        );
        assert!(none.writes.is_empty());
    }
}
