//! `linux.resources.unified`: raw cgroup v2 files, written last so they override the
//! mapped fields (runc does the same). Keys are file names in the container's cgroup:
//! anything with `/` or `..` could reach another file and is refused.

use crate::cgroups::plan::Plan;
use crate::cgroups::CgroupError;
use std::collections::HashMap;

/// Plans the unified writes, in key order so plans are deterministic.
pub fn plan(unified: &HashMap<String, String>, out: &mut Plan) -> Result<(), CgroupError> {
    let mut keys: Vec<_> = unified.iter().collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in keys {
        let field = format!("linux.resources.unified[{k:?}]");
        if k.is_empty() || k.contains('/') || k.contains("..") || k.contains('\0') {
            return Err(CgroupError::invalid(
                field,
                "must be a file name of the cgroup",
            ));
        }
        let Some((controller, _)) = k.split_once('.') else {
            return Err(CgroupError::invalid(
                field,
                "must have the form controller.parameter",
            ));
        };
        out.write(controller_name(controller), k.clone(), v, field);
    }
    Ok(())
}

/// The controller as a static name for the write (messages and availability checks).
fn controller_name(c: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "cgroup", "cpu", "cpuset", "io", "memory", "pids", "hugetlb", "rdma", "misc",
    ];
    KNOWN
        .iter()
        .find(|k| **k == c)
        .copied()
        .unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn sorted_writes() {
        let mut p = Plan::default();
        plan(
            &map(&[("memory.high", "1000"), ("cpu.weight", "10")]),
            &mut p,
        )
        .unwrap();
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(p.pairs(), [s("cpu.weight", "10"), s("memory.high", "1000")]);
        assert_eq!(p.writes[1].controller, "memory");
        assert_eq!(
            p.writes[1].field,
            "linux.resources.unified[\"memory.high\"]"
        );
    }

    #[test]
    fn refuses_paths() {
        for k in [
            "../memory.max",
            "sub/memory.max",
            "memory..max",
            "",
            "nodot",
        ] {
            let err = plan(&map(&[(k, "1")]), &mut Plan::default()).unwrap_err();
            assert!(
                err.to_string().starts_with("linux.resources.unified["),
                "{err}"
            );
        }
    }
}
