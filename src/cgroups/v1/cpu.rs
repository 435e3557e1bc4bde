//! v1 cpu controller: shares, CFS quota/period/burst, idle and the realtime budget.
//! The realtime writes come first: a SCHED_RR/FIFO process can only join a cgroup that has
//! an RT budget, and `apply` runs before the init joins.

use crate::cgroups::plan::{OnError, Plan};
use oci_spec::runtime::LinuxCpu;

const F: &str = "linux.resources.cpu";

/// Plans the cpu writes (cpus and mems belong to the cpuset controller).
pub fn plan(c: &LinuxCpu, out: &mut Plan) {
    if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
        out.write("cpu", "cpu.rt_period_us", p, format!("{F}.realtimePeriod"));
    }
    if let Some(r) = c.realtime_runtime().filter(|r| *r != 0) {
        out.write(
            "cpu",
            "cpu.rt_runtime_us",
            r,
            format!("{F}.realtimeRuntime"),
        );
    }
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        let f = format!("{F}.shares");
        out.write_with("cpu", "cpu.shares", s, f, OnError::ReadBack);
    }
    let quota = c.quota().unwrap_or(0);
    // A new period can be refused (EINVAL) until the quota fits it, and a burst until the
    // quota is large enough: write them first, tolerate EINVAL, and repeat after the quota.
    let early = if quota != 0 {
        OnError::RetryLater
    } else {
        OnError::Fail
    };
    let period = c.period().filter(|p| *p != 0);
    if let Some(p) = period {
        out.write_with("cpu", "cpu.cfs_period_us", p, format!("{F}.period"), early);
    }
    if let Some(b) = c.burst() {
        out.write_with("cpu", "cpu.cfs_burst_us", b, format!("{F}.burst"), early);
    }
    if quota != 0 {
        out.write("cpu", "cpu.cfs_quota_us", quota, format!("{F}.quota"));
        if let Some(p) = period {
            out.write("cpu", "cpu.cfs_period_us", p, format!("{F}.period"));
        }
        if let Some(b) = c.burst() {
            out.write("cpu", "cpu.cfs_burst_us", b, format!("{F}.burst"));
        }
    }
    if let Some(i) = c.idle() {
        out.write("cpu", "cpu.idle", i, format!("{F}.idle"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxCpuBuilder;

    #[test]
    fn rt_first_then_cfs_with_retry() {
        let c = LinuxCpuBuilder::default()
            .shares(512u64)
            .quota(50_000)
            .period(100_000u64)
            .realtime_runtime(950)
            .realtime_period(1000u64)
            .idle(1)
            .build()
            .unwrap();
        let mut p = Plan::default();
        plan(&c, &mut p);
        let files: Vec<&str> = p.writes.iter().map(|w| w.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "cpu.rt_period_us",
                "cpu.rt_runtime_us",
                "cpu.shares",
                "cpu.cfs_period_us",
                "cpu.cfs_quota_us",
                "cpu.cfs_period_us",
                "cpu.idle"
            ]
        );
        assert_eq!(p.writes[2].on_error, OnError::ReadBack);
        assert_eq!(p.writes[3].on_error, OnError::RetryLater);
        assert_eq!(p.writes[5].on_error, OnError::Fail);
        assert_eq!(p.writes[4].value, "50000");
    }

    #[test]
    fn period_alone_must_succeed() {
        let c = LinuxCpuBuilder::default()
            .period(100_000u64)
            .burst(1000u64)
            .build()
            .unwrap();
        let mut p = Plan::default();
        plan(&c, &mut p);
        assert_eq!(
            p.pairs(),
            [
                ("cpu.cfs_period_us".to_string(), "100000".to_string()),
                ("cpu.cfs_burst_us".to_string(), "1000".to_string())
            ]
        );
        assert!(p.writes.iter().all(|w| w.on_error == OnError::Fail));
    }

    #[test]
    fn unlimited_quota() {
        let c = LinuxCpuBuilder::default().quota(-1).build().unwrap();
        let mut p = Plan::default();
        plan(&c, &mut p);
        assert_eq!(
            p.pairs(),
            [("cpu.cfs_quota_us".to_string(), "-1".to_string())]
        );
    }
}
