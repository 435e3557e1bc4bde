//! v1 pids controller: `linux.resources.pids.limit` to pids.max (a limit <= 0 other than
//! the unset 0 means no limit, written as `max`).

use crate::cgroups::plan::Plan;
use oci_spec::runtime::LinuxPids;

/// The pids.max value for a spec limit; None when the limit is unset (0).
pub fn max_value(limit: i64) -> Option<String> {
    match limit {
        0 => None,
        l if l < 0 => Some("max".into()),
        l => Some(l.to_string()),
    }
}

/// Plans the pids writes.
pub fn plan(p: &LinuxPids, out: &mut Plan) {
    if let Some(v) = max_value(p.limit()) {
        out.write("pids", "pids.max", v, "linux.resources.pids.limit");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(max_value(0), None);
        assert_eq!(max_value(-1).as_deref(), Some("max"));
        assert_eq!(max_value(32).as_deref(), Some("32"));
    }
}
