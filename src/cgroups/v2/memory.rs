//! v2 memory controller, as runc's fs2 driver maps `linux.resources.memory`: limit to
//! memory.max, reservation to memory.low, and swap (memory+swap in the spec) to
//! memory.swap.max minus the limit. The v1-only knobs are reported as ignored.

use crate::cgroups::plan::{OnError, Plan};
use crate::cgroups::CgroupError;
use oci_spec::runtime::LinuxMemory;

const F: &str = "linux.resources.memory";

/// A v2 value: 0 is unset, -1 is `max`.
fn value(v: i64) -> Option<String> {
    match v {
        0 => None,
        -1 => Some("max".into()),
        v => Some(v.to_string()),
    }
}

/// The memory.swap.max value for the spec's memory+swap (runc's
/// ConvertMemorySwapToCgroupV2Value): -1 max, 0 unset, else swap minus memory.
pub fn swap_value(swap: i64, memory: i64) -> Result<i64, &'static str> {
    if memory == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if memory == 0 || memory == -1 {
        return Err("a swap limit needs a memory limit");
    }
    if memory < 0 {
        return Err("the memory limit is negative");
    }
    if swap < memory {
        return Err("memory+swap must be at least the memory limit");
    }
    Ok(swap - memory)
}

/// Plans the memory writes.
pub fn plan(m: &LinuxMemory, out: &mut Plan) -> Result<(), CgroupError> {
    let limit = m.limit().unwrap_or(0);
    let swap = m.swap().unwrap_or(0);
    let converted =
        swap_value(swap, limit).map_err(|r| CgroupError::invalid(format!("{F}.swap"), r))?;
    // Equal memory and memory+swap: no swap at all, which must be written as 0, not skipped.
    let swap_str = match value(converted) {
        None if swap > 0 => Some("0".to_string()),
        s => s,
    };
    if let Some(s) = swap_str {
        // Without swap accounting there is no file; "no limit" and "no swap" are then true.
        let how = if s == "max" || s == "0" {
            OnError::SkipMissing
        } else {
            OnError::Fail
        };
        out.write_with("memory", "memory.swap.max", s, format!("{F}.swap"), how);
    }
    if let Some(v) = value(limit) {
        out.write("memory", "memory.max", v, format!("{F}.limit"));
    }
    if let Some(v) = m.reservation().and_then(value) {
        out.write("memory", "memory.low", v, format!("{F}.reservation"));
    }
    let v1_only = [
        ("kernel", m.kernel().is_some()),
        ("kernelTCP", m.kernel_tcp().is_some()),
        ("swappiness", m.swappiness().is_some_and(|s| s != u64::MAX)),
        ("disableOOMKiller", m.disable_oom_killer() == Some(true)),
        ("useHierarchy", m.use_hierarchy().is_some()),
    ];
    for (name, set) in v1_only {
        if set {
            out.ignore(format!("{F}.{name}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxMemoryBuilder;

    #[test]
    fn swap_conversion() {
        assert_eq!(swap_value(0, -1), Ok(-1));
        assert_eq!(swap_value(-1, 100), Ok(-1));
        assert_eq!(swap_value(0, 100), Ok(0));
        assert_eq!(swap_value(300, 100), Ok(200));
        assert_eq!(swap_value(100, 100), Ok(0));
        assert!(swap_value(50, 100).is_err());
        assert!(swap_value(50, 0).is_err());
        assert!(swap_value(50, -1).is_err());
    }

    #[test]
    fn limit_swap_reservation() {
        let m = LinuxMemoryBuilder::default()
            .limit(1000)
            .swap(3000)
            .reservation(500)
            .swappiness(60u64)
            .disable_oom_killer(false)
            .build()
            .unwrap();
        let mut p = Plan::default();
        plan(&m, &mut p).unwrap();
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            p.pairs(),
            [
                s("memory.swap.max", "2000"),
                s("memory.max", "1000"),
                s("memory.low", "500")
            ]
        );
        assert_eq!(p.writes[0].on_error, OnError::Fail);
        assert_eq!(p.ignored, ["linux.resources.memory.swappiness"]);
    }

    #[test]
    fn no_swap_and_unlimited() {
        let mut p = Plan::default();
        plan(
            &LinuxMemoryBuilder::default()
                .limit(1000)
                .swap(1000)
                .build()
                .unwrap(),
            &mut p,
        )
        .unwrap();
        assert_eq!(p.writes[0].value, "0");
        assert_eq!(p.writes[0].on_error, OnError::SkipMissing);
        let mut p = Plan::default();
        plan(
            &LinuxMemoryBuilder::default().limit(-1).build().unwrap(),
            &mut p,
        )
        .unwrap();
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            p.pairs(),
            [s("memory.swap.max", "max"), s("memory.max", "max")]
        );
    }

    #[test]
    fn bad_swap_names_the_field() {
        let m = LinuxMemoryBuilder::default()
            .limit(1000)
            .swap(10)
            .build()
            .unwrap();
        let err = plan(&m, &mut Plan::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "linux.resources.memory.swap: memory+swap must be at least the memory limit"
        );
    }
}
