//! v2 cpu controller: shares to cpu.weight (runc 1.1's linear map of [2, 262144] onto
//! [1, 10000]), quota and period to cpu.max, burst to cpu.max.burst, idle to cpu.idle. The
//! realtime budget has no v2 interface and is reported as ignored.

use crate::cgroups::plan::{OnError, Plan};
use oci_spec::runtime::LinuxCpu;

const F: &str = "linux.resources.cpu";

/// runc's ConvertCPUSharesToCgroupV2Value: 0 stays unset; shares are clamped to the v1
/// range first so the formula cannot underflow.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let s = shares.clamp(2, 262_144);
    1 + (s - 2) * 9999 / 262_142
}

/// The cpu.max value: `max` or the quota, then the period if given.
pub fn max_value(quota: i64, period: u64) -> String {
    let mut s = if quota > 0 {
        quota.to_string()
    } else {
        "max".to_string()
    };
    if period != 0 {
        s.push_str(&format!(" {period}"));
    }
    s
}

/// Plans the cpu writes (cpus and mems belong to cpuset).
pub fn plan(c: &LinuxCpu, out: &mut Plan) {
    let weight = shares_to_weight(c.shares().unwrap_or(0));
    if weight != 0 {
        out.write("cpu", "cpu.weight", weight, format!("{F}.shares"));
    }
    if let Some(i) = c.idle() {
        out.write("cpu", "cpu.idle", i, format!("{F}.idle"));
    }
    let quota = c.quota().unwrap_or(0);
    let period = c.period().unwrap_or(0);
    let sets_max = quota != 0 || period != 0;
    // A larger burst can be refused until cpu.max allows it: write it first, tolerate
    // EINVAL, and repeat after cpu.max.
    if let Some(b) = c.burst() {
        let how = if sets_max {
            OnError::RetryLater
        } else {
            OnError::Fail
        };
        out.write_with("cpu", "cpu.max.burst", b, format!("{F}.burst"), how);
    }
    if sets_max {
        let field = if quota != 0 { "quota" } else { "period" };
        out.write(
            "cpu",
            "cpu.max",
            max_value(quota, period),
            format!("{F}.{field}"),
        );
        if let Some(b) = c.burst() {
            out.write("cpu", "cpu.max.burst", b, format!("{F}.burst"));
        }
    }
    if c.realtime_runtime().is_some() {
        out.ignore(format!("{F}.realtimeRuntime"));
    }
    if c.realtime_period().is_some() {
        out.ignore(format!("{F}.realtimePeriod"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxCpuBuilder;

    #[test]
    fn shares_weight_conversion() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(1), 1);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(u64::MAX), 10_000);
    }

    #[test]
    fn cpu_max_values() {
        assert_eq!(max_value(50_000, 100_000), "50000 100000");
        assert_eq!(max_value(-1, 0), "max");
        assert_eq!(max_value(0, 20_000), "max 20000");
        assert_eq!(max_value(10_000, 0), "10000");
    }

    #[test]
    fn plan_order() {
        let c = LinuxCpuBuilder::default()
            .shares(1024u64)
            .quota(50_000)
            .period(100_000u64)
            .burst(10_000u64)
            .realtime_runtime(10)
            .build()
            .unwrap();
        let mut p = Plan::default();
        plan(&c, &mut p);
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            p.pairs(),
            [
                s("cpu.weight", "39"),
                s("cpu.max.burst", "10000"),
                s("cpu.max", "50000 100000"),
                s("cpu.max.burst", "10000")
            ]
        );
        assert_eq!(p.writes[1].on_error, OnError::RetryLater);
        assert_eq!(p.ignored, ["linux.resources.cpu.realtimeRuntime"]);
    }
}
