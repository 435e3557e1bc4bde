//! v2 hugetlb controller: `linux.resources.hugepageLimits` to `hugetlb.<size>.max` and, where
//! the kernel has it, the reservation limit `hugetlb.<size>.rsvd.max`.

use crate::cgroups::plan::{OnError, Plan};
use crate::cgroups::CgroupError;
use oci_spec::runtime::LinuxHugepageLimit;

/// Plans the hugetlb writes.
pub fn plan(limits: &[LinuxHugepageLimit], out: &mut Plan) -> Result<(), CgroupError> {
    for (i, l) in limits.iter().enumerate() {
        let field = format!("linux.resources.hugepageLimits[{i}]");
        let size = crate::cgroups::v1::page_size(l.page_size(), &field)?;
        out.write(
            "hugetlb",
            format!("hugetlb.{size}.max"),
            l.limit(),
            field.clone(),
        );
        let rsvd = format!("hugetlb.{size}.rsvd.max");
        out.write_with("hugetlb", rsvd, l.limit(), field, OnError::SkipMissing);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxHugepageLimitBuilder;

    #[test]
    fn max_and_rsvd() {
        let l = LinuxHugepageLimitBuilder::default()
            .page_size("1GB")
            .limit(1 << 30)
            .build()
            .unwrap();
        let mut p = Plan::default();
        plan(&[l], &mut p).unwrap();
        assert_eq!(p.writes[0].file, "hugetlb.1GB.max");
        assert_eq!(p.writes[1].file, "hugetlb.1GB.rsvd.max");
        let bad = LinuxHugepageLimitBuilder::default()
            .page_size("../x")
            .limit(1)
            .build()
            .unwrap();
        assert!(plan(&[bad], &mut Plan::default()).is_err());
    }
}
