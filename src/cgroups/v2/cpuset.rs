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
