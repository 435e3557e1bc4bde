//! v2 cpuset controller: `linux.resources.cpu.cpus` and `.mems`. Unlike v1, an empty
//! cpuset.cpus in v2 means "inherit the parent's", so nothing is copied at creation.

use crate::cgroups::plan::Plan;
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
