//! v2 io controller, as runc's fs2 driver maps `linux.resources.blockIO`: the weight goes
//! to BFQ's io.bfq.weight when the kernel has it, else to io.weight converted from the v1
//! range; per-device weights need BFQ's per-device support; throttles go to io.max.

use crate::cgroups::plan::Plan;
use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

const F: &str = "linux.resources.blockIO";

/// What the kernel offers for weights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// io.bfq.weight exists.
    pub bfq: bool,
    /// io.bfq.weight takes `major:minor weight` lines (Linux 5.4+): it reads back as more
    /// than a bare number.
    pub bfq_per_device: bool,
}

/// runc's ConvertBlkIOToIOWeightValue: [10, 1000] linearly onto [1, 10000]; 0 stays unset.
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    let w = u64::from(weight.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

/// Whether io.bfq.weight's content shows per-device support: old kernels print only the
/// default weight as a bare number.
pub fn bfq_per_device(content: &str) -> bool {
    content.trim().parse::<i64>().is_err()
}

/// Plans the io writes.
pub fn plan(b: &LinuxBlockIo, facts: Facts, out: &mut Plan) {
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        if facts.bfq {
            out.write("io", "io.bfq.weight", w, format!("{F}.weight"));
        } else {
            out.write(
                "io",
                "io.weight",
                blkio_to_io_weight(w),
                format!("{F}.weight"),
            );
        }
    }
    if b.leaf_weight().is_some() {
        out.ignore(format!("{F}.leafWeight"));
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("{F}.weightDevice[{i}]");
        match d.weight() {
            Some(w) if facts.bfq_per_device => {
                let line = format!("{}:{} {w}", d.major(), d.minor());
                out.write("io", "io.bfq.weight", line, format!("{field}.weight"));
            }
            Some(_) => out.ignore(format!("{field}.weight")),
            None => {}
        }
        if d.leaf_weight().is_some() {
            out.ignore(format!("{field}.leafWeight"));
        }
    }
    let throttles: [(&Option<Vec<LinuxThrottleDevice>>, &str, &str); 4] = [
        (
            b.throttle_read_bps_device(),
            "throttleReadBpsDevice",
            "rbps",
        ),
        (
            b.throttle_write_bps_device(),
            "throttleWriteBpsDevice",
            "wbps",
        ),
        (
            b.throttle_read_iops_device(),
            "throttleReadIOPSDevice",
            "riops",
        ),
        (
            b.throttle_write_iops_device(),
            "throttleWriteIOPSDevice",
            "wiops",
        ),
    ];
    for (list, name, key) in throttles {
        for (i, t) in list.iter().flatten().enumerate() {
            let value = format!("{}:{} {key}={}", t.major(), t.minor(), t.rate());
            out.write("io", "io.max", value, format!("{F}.{name}[{i}]"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxBlockIoBuilder, LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder,
    };

    #[test]
    fn weight_conversion() {
        assert_eq!(blkio_to_io_weight(0), 0);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(blkio_to_io_weight(5), 1);
    }

    #[test]
    fn bfq_detection() {
        assert!(!bfq_per_device("100\n"));
        assert!(bfq_per_device("default 100\n"));
    }

    fn sample() -> LinuxBlockIo {
        LinuxBlockIoBuilder::default()
            .weight(500u16)
            .weight_device(vec![LinuxWeightDeviceBuilder::default()
                .major(8)
                .minor(0)
                .weight(200u16)
                .build()
                .unwrap()])
            .throttle_write_bps_device(vec![LinuxThrottleDeviceBuilder::default()
                .major(8)
                .minor(0)
                .rate(1000u64)
                .build()
                .unwrap()])
            .build()
            .unwrap()
    }

    #[test]
    fn without_bfq() {
        let mut p = Plan::default();
        plan(&sample(), Facts::default(), &mut p);
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            p.pairs(),
            [s("io.weight", "4950"), s("io.max", "8:0 wbps=1000")]
        );
        assert_eq!(
            p.ignored,
            ["linux.resources.blockIO.weightDevice[0].weight"]
        );
    }

    #[test]
    fn with_bfq() {
        let mut p = Plan::default();
        let facts = Facts {
            bfq: true,
            bfq_per_device: true,
        };
        plan(&sample(), facts, &mut p);
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            p.pairs(),
            [
                s("io.bfq.weight", "500"),
                s("io.bfq.weight", "8:0 200"),
                s("io.max", "8:0 wbps=1000")
            ]
        );
        assert!(p.ignored.is_empty());
    }
}
