//! v1 blkio controller: `linux.resources.blockIO` to the CFQ weight files (or BFQ's when the
//! kernel has only those, as runc detects) and the throttle files.

use crate::cgroups::plan::Plan;
use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

const F: &str = "linux.resources.blockIO";

/// Which weight files the kernel offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// blkio.weight is missing but blkio.bfq.weight exists.
    pub bfq: bool,
}

/// Plans the blkio writes.
pub fn plan(b: &LinuxBlockIo, facts: Facts, out: &mut Plan) {
    let (weight, weight_device) = if facts.bfq {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    } else {
        ("blkio.weight", "blkio.weight_device")
    };
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        out.write("blkio", weight, w, format!("{F}.weight"));
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        out.write("blkio", "blkio.leaf_weight", w, format!("{F}.leafWeight"));
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let dev = format!("{}:{}", d.major(), d.minor());
        if let Some(w) = d.weight().filter(|w| *w != 0) {
            let f = format!("{F}.weightDevice[{i}].weight");
            out.write("blkio", weight_device, format!("{dev} {w}"), f);
        }
        if let Some(w) = d.leaf_weight().filter(|w| *w != 0) {
            let f = format!("{F}.weightDevice[{i}].leafWeight");
            out.write("blkio", "blkio.leaf_weight_device", format!("{dev} {w}"), f);
        }
    }
    let throttles: [(&Option<Vec<LinuxThrottleDevice>>, &str, &str); 4] = [
        (
            b.throttle_read_bps_device(),
            "throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
        ),
        (
            b.throttle_write_bps_device(),
            "throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
        ),
        (
            b.throttle_read_iops_device(),
            "throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
        ),
        (
            b.throttle_write_iops_device(),
            "throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
        ),
    ];
    for (list, name, file) in throttles {
        for (i, t) in list.iter().flatten().enumerate() {
            let value = format!("{}:{} {}", t.major(), t.minor(), t.rate());
            out.write("blkio", file, value, format!("{F}.{name}[{i}]"));
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
    fn weights_and_throttles() {
        let b = LinuxBlockIoBuilder::default()
            .weight(500u16)
            .leaf_weight(300u16)
            .weight_device(vec![LinuxWeightDeviceBuilder::default()
                .major(8)
                .minor(0)
                .weight(600u16)
                .leaf_weight(100u16)
                .build()
                .unwrap()])
            .throttle_read_bps_device(vec![LinuxThrottleDeviceBuilder::default()
                .major(8)
                .minor(0)
                .rate(1_048_576u64)
                .build()
                .unwrap()])
            .throttle_write_iops_device(vec![LinuxThrottleDeviceBuilder::default()
                .major(8)
                .minor(16)
                .rate(100u64)
                .build()
                .unwrap()])
            .build()
            .unwrap();
        let mut p = Plan::default();
        plan(&b, Facts::default(), &mut p);
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            p.pairs(),
            [
                s("blkio.weight", "500"),
                s("blkio.leaf_weight", "300"),
                s("blkio.weight_device", "8:0 600"),
                s("blkio.leaf_weight_device", "8:0 100"),
                s("blkio.throttle.read_bps_device", "8:0 1048576"),
                s("blkio.throttle.write_iops_device", "8:16 100"),
            ]
        );
        assert_eq!(
            p.writes[5].field,
            "linux.resources.blockIO.throttleWriteIOPSDevice[0]"
        );
        let mut bfq = Plan::default();
        plan(&b, Facts { bfq: true }, &mut bfq);
        assert_eq!(bfq.writes[0].file, "blkio.bfq.weight");
        assert_eq!(bfq.writes[2].file, "blkio.bfq.weight_device");
    }
}
