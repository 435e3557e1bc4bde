//! rdma controller, the same file and syntax on v1 and v2: `linux.resources.rdma` to one
//! rdma.max line per device, in device-name order so plans are deterministic.

use super::plan::Plan;
use super::CgroupError;
use oci_spec::runtime::LinuxRdma;
use std::collections::HashMap;

/// Plans the rdma.max writes.
pub fn plan(rdma: &HashMap<String, LinuxRdma>, out: &mut Plan) -> Result<(), CgroupError> {
    let mut devices: Vec<_> = rdma.iter().collect();
    devices.sort_by(|a, b| a.0.cmp(b.0));
    for (dev, l) in devices {
        let field = format!("linux.resources.rdma[{dev:?}]");
        if dev.is_empty() || dev.contains(char::is_whitespace) {
            return Err(CgroupError::invalid(field, "not a device name"));
        }
        let mut line = dev.clone();
        if let Some(h) = l.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = l.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        out.write("rdma", "rdma.max", line, field);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxRdmaBuilder;

    #[test]
    fn one_line_per_device() {
        let mut m = HashMap::new();
        m.insert(
            "mlx5_1".to_string(),
            LinuxRdmaBuilder::default()
                .hca_objects(7u32)
                .build()
                .unwrap(),
        );
        m.insert(
            "mlx5_0".to_string(),
            LinuxRdmaBuilder::default()
                .hca_handles(3u32)
                .hca_objects(9u32)
                .build()
                .unwrap(),
        );
        let mut p = Plan::default();
        plan(&m, &mut p).unwrap();
        assert_eq!(
            p.pairs(),
            [
                (
                    "rdma.max".to_string(),
                    "mlx5_0 hca_handle=3 hca_object=9".to_string()
                ),
                ("rdma.max".to_string(), "mlx5_1 hca_object=7".to_string())
            ]
        );
    }
}
