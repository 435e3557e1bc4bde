//! v1 memory controller: `linux.resources.memory` to memory.* files, as runc's fs driver
//! maps them, including the order of limit and memsw so an update never trips the
//! kernel's memsw >= limit check.

use crate::cgroups::plan::{OnError, Plan};
use crate::cgroups::CgroupError;
use oci_spec::runtime::LinuxMemory;

const F: &str = "linux.resources.memory";

/// What the plan needs to know about the cgroup as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// The current memory.limit_in_bytes.
    pub limit: Option<u64>,
    /// Whether memory.memsw.limit_in_bytes exists (swap accounting on).
    pub has_memsw: bool,
}

/// Plans the memory writes.
pub fn plan(m: &LinuxMemory, facts: Facts, out: &mut Plan) -> Result<(), CgroupError> {
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    // An unlimited memory limit with no swap given means unlimited swap too.
    if limit == -1 && swap == 0 && facts.has_memsw {
        swap = -1;
    }
    let write_limit = |out: &mut Plan| {
        if limit != 0 {
            out.write(
                "memory",
                "memory.limit_in_bytes",
                limit,
                format!("{F}.limit"),
            );
        }
    };
    let write_swap = |out: &mut Plan| {
        if swap != 0 {
            out.write(
                "memory",
                "memory.memsw.limit_in_bytes",
                swap,
                format!("{F}.swap"),
            );
        }
    };
    // The kernel keeps memsw >= limit at every step: raising both needs memsw first.
    let swap_first = limit != 0
        && swap != 0
        && (swap == -1
            || facts
                .limit
                .is_some_and(|cur| i128::from(cur) < i128::from(swap)));
    if swap_first {
        write_swap(out);
        write_limit(out);
    } else {
        write_limit(out);
        write_swap(out);
    }
    if let Some(k) = m.kernel() {
        let f = format!("{F}.kernel");
        out.write_with(
            "memory",
            "memory.kmem.limit_in_bytes",
            k,
            f,
            OnError::SkipMissing,
        );
    }
    if let Some(k) = m.kernel_tcp() {
        let f = format!("{F}.kernelTCP");
        out.write_with(
            "memory",
            "memory.kmem.tcp.limit_in_bytes",
            k,
            f,
            OnError::SkipMissing,
        );
    }
    if let Some(r) = m.reservation().filter(|r| *r != 0) {
        out.write(
            "memory",
            "memory.soft_limit_in_bytes",
            r,
            format!("{F}.reservation"),
        );
    }
    if m.disable_oom_killer() == Some(true) {
        out.write(
            "memory",
            "memory.oom_control",
            1,
            format!("{F}.disableOOMKiller"),
        );
    }
    match m.swappiness() {
        // -1 in runc's int64 view: leave the kernel's value.
        None | Some(u64::MAX) => {}
        Some(s) if s <= 100 => {
            out.write("memory", "memory.swappiness", s, format!("{F}.swappiness"))
        }
        Some(s) => {
            return Err(CgroupError::invalid(
                format!("{F}.swappiness"),
                format!("{s} is out of range 0-100"),
            ))
        }
    }
    if let Some(h) = m.use_hierarchy() {
        out.write(
            "memory",
            "memory.use_hierarchy",
            u8::from(h),
            format!("{F}.useHierarchy"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxMemoryBuilder;

    fn files(m: LinuxMemory, facts: Facts) -> Vec<(String, String)> {
        let mut p = Plan::default();
        plan(&m, facts, &mut p).unwrap();
        p.pairs()
    }

    fn pair(f: &str, v: &str) -> (String, String) {
        (f.into(), v.into())
    }

    #[test]
    fn limit_then_swap_when_lowering() {
        let m = LinuxMemoryBuilder::default()
            .limit(1 << 20)
            .swap(2 << 20)
            .build()
            .unwrap();
        let facts = Facts {
            limit: Some(4 << 20),
            has_memsw: true,
        };
        assert_eq!(
            files(m, facts),
            [
                pair("memory.limit_in_bytes", "1048576"),
                pair("memory.memsw.limit_in_bytes", "2097152")
            ]
        );
    }

    #[test]
    fn swap_first_when_raising() {
        let m = LinuxMemoryBuilder::default()
            .limit(8 << 20)
            .swap(16 << 20)
            .build()
            .unwrap();
        let facts = Facts {
            limit: Some(4 << 20),
            has_memsw: true,
        };
        assert_eq!(files(m, facts)[0].0, "memory.memsw.limit_in_bytes");
    }

    #[test]
    fn unlimited_memory_unlimits_swap() {
        let m = LinuxMemoryBuilder::default().limit(-1).build().unwrap();
        let facts = Facts {
            limit: None,
            has_memsw: true,
        };
        assert_eq!(
            files(m, facts),
            [
                pair("memory.memsw.limit_in_bytes", "-1"),
                pair("memory.limit_in_bytes", "-1")
            ]
        );
        let no_swap = Facts {
            limit: None,
            has_memsw: false,
        };
        assert_eq!(files(m, no_swap), [pair("memory.limit_in_bytes", "-1")]);
    }

    #[test]
    fn the_other_fields() {
        let m = LinuxMemoryBuilder::default()
            .reservation(100)
            .kernel(200)
            .kernel_tcp(300)
            .swappiness(10u64)
            .disable_oom_killer(true)
            .use_hierarchy(true)
            .build()
            .unwrap();
        let mut p = Plan::default();
        plan(&m, Facts::default(), &mut p).unwrap();
        assert_eq!(
            p.pairs(),
            [
                pair("memory.kmem.limit_in_bytes", "200"),
                pair("memory.kmem.tcp.limit_in_bytes", "300"),
                pair("memory.soft_limit_in_bytes", "100"),
                pair("memory.oom_control", "1"),
                pair("memory.swappiness", "10"),
                pair("memory.use_hierarchy", "1"),
            ]
        );
        assert_eq!(p.writes[0].on_error, OnError::SkipMissing);
        assert_eq!(p.writes[4].field, "linux.resources.memory.swappiness");
    }

    #[test]
    fn swappiness_out_of_range() {
        let m = LinuxMemoryBuilder::default()
            .swappiness(101u64)
            .build()
            .unwrap();
        let err = plan(&m, Facts::default(), &mut Plan::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "linux.resources.memory.swappiness: 101 is out of range 0-100"
        );
        let unset = LinuxMemoryBuilder::default()
            .swappiness(u64::MAX)
            .build()
            .unwrap();
        assert!(files(unset, Facts::default()).is_empty());
    }
}
