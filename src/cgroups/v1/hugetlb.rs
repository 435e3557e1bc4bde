//! v1 hugetlb controller: `linux.resources.hugepageLimits` to
//! `hugetlb.<size>.limit_in_bytes`, plus the reservation limit where the kernel has it
//! (runc sets both so a reservation cannot outgrow the limit).

use crate::cgroups::plan::{OnError, Plan};
use crate::cgroups::CgroupError;
use oci_spec::runtime::LinuxHugepageLimit;

/// Plans the hugetlb writes.
pub fn plan(limits: &[LinuxHugepageLimit], out: &mut Plan) -> Result<(), CgroupError> {
    for (i, l) in limits.iter().enumerate() {
        let field = format!("linux.resources.hugepageLimits[{i}]");
        let size = page_size(l.page_size(), &field)?;
        out.write(
            "hugetlb",
            format!("hugetlb.{size}.limit_in_bytes"),
            l.limit(),
            field.clone(),
        );
        let rsvd = format!("hugetlb.{size}.rsvd.limit_in_bytes");
        out.write_with("hugetlb", rsvd, l.limit(), field, OnError::SkipMissing);
    }
    Ok(())
}

/// Checks a page size as the kernel names it (`2MB`, `1GB`, `64KB`): it becomes part of a
/// file name, so nothing else may pass.
pub fn page_size<'a>(size: &'a str, field: &str) -> Result<&'a str, CgroupError> {
    let digits = size.trim_end_matches(['K', 'M', 'G', 'B']);
    let unit = &size[digits.len()..];
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !["KB", "MB", "GB"].contains(&unit)
    {
        return Err(CgroupError::invalid(
            format!("{field}.pageSize"),
            format!("{size:?} is not a page size like 2MB or 1GB"),
        ));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxHugepageLimitBuilder;

    #[test]
    fn limit_and_reservation() {
        let l = LinuxHugepageLimitBuilder::default()
            .page_size("2MB")
            .limit(4 << 20)
            .build()
            .unwrap();
        let mut p = Plan::default();
        plan(&[l], &mut p).unwrap();
        assert_eq!(p.writes[0].file, "hugetlb.2MB.limit_in_bytes");
        assert_eq!(p.writes[0].value, "4194304");
        assert_eq!(p.writes[1].file, "hugetlb.2MB.rsvd.limit_in_bytes");
        assert_eq!(p.writes[1].on_error, OnError::SkipMissing);
    }

    #[test]
    fn refuses_odd_sizes() {
        for bad in ["", "MB", "2mb", "2MB/../x", "../2MB", "2 MB", "2TB"] {
            assert!(page_size(bad, "f").is_err(), "{bad}");
        }
        assert_eq!(page_size("1GB", "f").unwrap(), "1GB");
    }
}
