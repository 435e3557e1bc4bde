//! cgroup v2 (unified hosts): one directory, controllers enabled from the parent's
//! cgroup.subtree_control, resources planned in runc's fs2 order with `unified` last,
//! devices enforced by an eBPF program, freezing and killing through cgroup.freeze and
//! cgroup.kill.

mod cpu;
pub(super) mod cpuset;
mod devices;
mod devices_bpf;
mod freezer;
mod hugetlb;
mod io;
mod join;
mod manager;
mod memory;
mod pids;
mod unified;

pub use manager::V2Manager;

use super::devices::{rules_from_spec, Emulator};
use super::plan::Plan;
use super::CgroupError;
use oci_spec::runtime::LinuxResources;

/// What the plan needs to know about the cgroup as it is now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// Which io weight files exist.
    pub io: io::Facts,
}

/// Every write `linux.resources` asks for on a v2 host, and the device state the eBPF
/// program must enforce.
pub fn plan(res: &LinuxResources, facts: &Facts) -> Result<(Plan, Emulator), CgroupError> {
    let mut p = Plan::default();
    if let Some(l) = res.pids() {
        pids::plan(l, &mut p);
    }
    if let Some(m) = res.memory() {
        memory::plan(m, &mut p)?;
    }
    if let Some(b) = res.block_io() {
        io::plan(b, facts.io, &mut p);
    }
    if let Some(c) = res.cpu() {
        cpu::plan(c, &mut p);
        cpuset::plan(c, &mut p);
    }
    if let Some(h) = res.hugepage_limits() {
        hugetlb::plan(h, &mut p)?;
    }
    if let Some(r) = res.rdma() {
        super::rdma::plan(r, &mut p)?;
    }
    if let Some(n) = res.network() {
        if n.class_id().is_some() {
            p.ignore("linux.resources.network.classID");
        }
        if n.priorities().as_ref().is_some_and(|v| !v.is_empty()) {
            p.ignore("linux.resources.network.priorities");
        }
    }
    if let Some(u) = res.unified() {
        unified::plan(u, &mut p)?;
    }
    let target = Emulator::from_rules(&rules_from_spec(res.devices().as_deref())?)?;
    Ok((p, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_goes_last() {
        let res: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":1000},"pids":{"limit":5},"cpu":{"shares":2},
                "network":{"classID":1},
                "unified":{"memory.max":"2000"}}"#,
        )
        .unwrap();
        let (p, target) = plan(&res, &Facts::default()).unwrap();
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            p.pairs(),
            [
                s("pids.max", "5"),
                s("memory.max", "1000"),
                s("cpu.weight", "1"),
                s("memory.max", "2000")
            ]
        );
        assert_eq!(p.ignored, ["linux.resources.network.classID"]);
        assert!(!target.default_allow);
        assert!(target.allows(
            super::super::devices::DevType::Char,
            1,
            3,
            super::super::devices::Access::ALL
        ));
    }
}
