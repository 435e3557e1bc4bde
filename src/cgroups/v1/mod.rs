//! cgroup v1 (legacy and hybrid hosts): one directory per mounted hierarchy (plus the
//! controller-less cgroup2 hierarchy on hybrid hosts), resources planned per controller in
//! runc's subsystem order and applied to the hierarchy that carries each controller.

mod blkio;
mod cpu;
mod cpuset;
mod devices;
mod freezer;
mod hugetlb;
mod manager;
mod memory;
mod net;
mod pids;

pub(crate) use hugetlb::page_size;
pub use manager::V1Manager;

use super::devices::{rules_from_spec, Emulator};
use super::plan::Plan;
use super::CgroupError;
use oci_spec::runtime::LinuxResources;

/// What the plan needs to know about the cgroup as it is now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Memory controller state.
    pub memory: memory::Facts,
    /// Which blkio weight files exist.
    pub blkio: blkio::Facts,
    /// The device rules devices.list shows now.
    pub devices: Emulator,
}

/// Every write `linux.resources` asks for on a v1 host, and the device state it aims at.
pub fn plan(res: &LinuxResources, facts: &Facts) -> Result<(Plan, Emulator), CgroupError> {
    if res.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(CgroupError::invalid(
            "linux.resources.unified",
            "cgroup v2 keys cannot be applied on a host whose controllers are cgroup v1",
        ));
    }
    let mut p = Plan::default();
    if let Some(c) = res.cpu() {
        cpuset::plan(c, &mut p);
    }
    let target = Emulator::from_rules(&rules_from_spec(res.devices().as_deref())?)?;
    devices::plan(&facts.devices, &target, &mut p);
    if let Some(m) = res.memory() {
        memory::plan(m, facts.memory, &mut p)?;
    }
    if let Some(c) = res.cpu() {
        cpu::plan(c, &mut p);
    }
    if let Some(l) = res.pids() {
        pids::plan(l, &mut p);
    }
    if let Some(b) = res.block_io() {
        blkio::plan(b, facts.blkio, &mut p);
    }
    if let Some(h) = res.hugepage_limits() {
        hugetlb::plan(h, &mut p)?;
    }
    if let Some(n) = res.network() {
        net::plan(n, &mut p)?;
    }
    if let Some(r) = res.rdma() {
        super::rdma::plan(r, &mut p)?;
    }
    Ok((p, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_typical_container() {
        let res = resources(
            r#"{"devices":[{"allow":false,"access":"rwm"}],
                "memory":{"limit":67108864},
                "cpu":{"shares":512,"quota":20000,"period":100000,"cpus":"0"},
                "pids":{"limit":64}}"#,
        );
        let facts = Facts {
            devices: Emulator::parse_list("a *:* rwm").unwrap(),
            ..Default::default()
        };
        let (p, target) = plan(&res, &facts).unwrap();
        let controllers: Vec<&str> = p.writes.iter().map(|w| w.controller).collect();
        let first = |c: &str| controllers.iter().position(|x| *x == c).unwrap();
        assert!(first("cpuset") < first("devices"));
        assert!(first("devices") < first("memory"));
        assert!(first("memory") < first("cpu"));
        assert!(first("cpu") < first("pids"));
        assert!(!target.default_allow);
        assert!(p
            .writes
            .iter()
            .any(|w| w.file == "pids.max" && w.value == "64"));
        assert!(p.ignored.is_empty());
    }

    #[test]
    fn refuses_unified_keys() {
        let res = resources(r#"{"unified":{"memory.high":"1000"}}"#);
        let err = plan(&res, &Facts::default()).unwrap_err();
        assert!(
            err.to_string().starts_with("linux.resources.unified: "),
            "{err}"
        );
        assert!(plan(&resources(r#"{"unified":{}}"#), &Facts::default()).is_ok());
    }

    #[test]
    fn device_errors_name_the_field() {
        let res = resources(r#"{"devices":[{"allow":true,"type":"p","access":"rw"}]}"#);
        let err = plan(&res, &Facts::default()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.resources.devices[0].type: "),
            "{err}"
        );
        let res = resources(r#"{"devices":[{"allow":true,"access":""}]}"#);
        let err = plan(&res, &Facts::default()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.resources.devices[0].access: "),
            "{err}"
        );
    }
}
