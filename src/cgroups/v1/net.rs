//! v1 net_cls and net_prio controllers: `linux.resources.network.classID` and
//! `.priorities` (cgroup v2 has no equivalent; there they are ignored with a warning).

use crate::cgroups::plan::Plan;
use crate::cgroups::CgroupError;
use oci_spec::runtime::LinuxNetwork;

const F: &str = "linux.resources.network";

/// Plans the net_cls / net_prio writes.
pub fn plan(n: &LinuxNetwork, out: &mut Plan) -> Result<(), CgroupError> {
    if let Some(id) = n.class_id().filter(|id| *id != 0) {
        out.write("net_cls", "net_cls.classid", id, format!("{F}.classID"));
    }
    for (i, p) in n.priorities().iter().flatten().enumerate() {
        let field = format!("{F}.priorities[{i}]");
        // One write is one "ifname prio" pair: a name with blanks would smuggle in another.
        if p.name().is_empty() || p.name().contains(char::is_whitespace) {
            return Err(CgroupError::invalid(
                format!("{field}.name"),
                format!("{:?} is not an interface name", p.name()),
            ));
        }
        out.write(
            "net_prio",
            "net_prio.ifpriomap",
            format!("{} {}", p.name(), p.priority()),
            field,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxInterfacePriorityBuilder, LinuxNetworkBuilder};

    #[test]
    fn class_and_priorities() {
        let prio = |n: &str| {
            LinuxInterfacePriorityBuilder::default()
                .name(n)
                .priority(5u32)
                .build()
                .unwrap()
        };
        let n = LinuxNetworkBuilder::default()
            .class_id(0x10001u32)
            .priorities(vec![prio("eth0")])
            .build()
            .unwrap();
        let mut p = Plan::default();
        plan(&n, &mut p).unwrap();
        assert_eq!(
            p.pairs(),
            [
                ("net_cls.classid".to_string(), "65537".to_string()),
                ("net_prio.ifpriomap".to_string(), "eth0 5".to_string())
            ]
        );
        let bad = LinuxNetworkBuilder::default()
            .priorities(vec![prio("eth0 7\nlo")])
            .build()
            .unwrap();
        assert!(plan(&bad, &mut Plan::default()).is_err());
    }
}
