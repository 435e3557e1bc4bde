//! v2 pids controller: `linux.resources.pids.limit` to pids.max (negative means `max`).

use crate::cgroups::plan::Plan;
use oci_spec::runtime::LinuxPids;

/// Plans the pids writes.
pub fn plan(p: &LinuxPids, out: &mut Plan) {
    let v = match p.limit() {
        0 => return,
        l if l < 0 => "max".to_string(),
        l => l.to_string(),
    };
    out.write("pids", "pids.max", v, "linux.resources.pids.limit");
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxPidsBuilder;

    #[test]
    fn limits() {
        let mut p = Plan::default();
        for l in [0, -1, 10] {
            plan(
                &LinuxPidsBuilder::default().limit(l).build().unwrap(),
                &mut p,
            );
        }
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(p.pairs(), [s("pids.max", "max"), s("pids.max", "10")]);
    }
}
