//! Capability sets for the privilege drop: the spec's sets turned into kernel bitmasks (pure,
//! tested), then applied with prctl and one capset.

use super::SecurityError;
use crate::spec::CapSets;
use rustix::thread::{self, CapabilitySet, CapabilitySets};

/// The spec's five capability sets as kernel bitmasks (bit N = capability N).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapPlan {
    /// Capabilities kept in the bounding set.
    pub bounding: u64,
    /// Effective set.
    pub effective: u64,
    /// Permitted set.
    pub permitted: u64,
    /// Inheritable set.
    pub inheritable: u64,
    /// Ambient set.
    pub ambient: u64,
}

impl CapPlan {
    /// Converts the config's sets into bitmasks.
    pub fn from_sets(sets: &CapSets) -> CapPlan {
        let mask = |set: &::caps::CapsHashSet| set.iter().fold(0u64, |m, c| m | c.bitmask());
        CapPlan {
            bounding: mask(&sets.bounding),
            effective: mask(&sets.effective),
            permitted: mask(&sets.permitted),
            inheritable: mask(&sets.inheritable),
            ambient: mask(&sets.ambient),
        }
    }
}

/// The capabilities to drop from the bounding set: every one the kernel knows (0 ..=
/// `last_cap`) that the spec does not keep, so caps newer than hull's tables go too.
pub fn bounding_drops(last_cap: u8, keep: u64) -> impl Iterator<Item = u8> {
    (0..=last_cap.min(63)).filter(move |&i| keep & (1u64 << i) == 0)
}

/// The indices of the bits set in `mask`, lowest first.
fn bits(mask: u64) -> impl Iterator<Item = u8> {
    (0..64u8).filter(move |&i| mask & (1u64 << i) != 0)
}

/// A capability's name for error messages (`CAP_SYS_ADMIN`, or `capability 45` for one
/// newer than the caps crate's table).
pub(crate) fn cap_name(index: u8) -> String {
    ::caps::all()
        .into_iter()
        .find(|c| c.index() == index)
        .map_or_else(|| format!("capability {index}"), |c| c.to_string())
}

fn one(index: u8) -> CapabilitySet {
    CapabilitySet::from_bits_retain(1u64 << index)
}

/// The highest capability number the running kernel knows, found by binary search on
/// PR_CAPBSET_READ (EINVAL above the last one). Needs no /proc, which after pivot_root may
/// not be mounted.
fn last_cap() -> Result<u8, SecurityError> {
    let (mut lo, mut hi) = (0u8, 64u8); // lo is known valid, hi known invalid
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match thread::capability_is_in_bounding_set(one(mid)) {
            Ok(_) => lo = mid,
            Err(rustix::io::Errno::INVAL) => hi = mid,
            Err(e) => return Err(SecurityError::ReadBounding { source: e.into() }),
        }
    }
    Ok(lo)
}

/// Drops every capability not in `keep` from the bounding set (needs CAP_SETPCAP, so this
/// runs before the uid changes).
pub(super) fn apply_bounding(keep: u64) -> Result<(), SecurityError> {
    for cap in bounding_drops(last_cap()?, keep) {
        thread::remove_capability_from_bounding_set(one(cap)).map_err(|e| {
            SecurityError::DropBounding {
                cap: cap_name(cap),
                source: e.into(),
            }
        })?;
    }
    Ok(())
}

/// Sets PR_SET_KEEPCAPS.
pub(super) fn set_keepcaps(on: bool) -> Result<(), SecurityError> {
    thread::set_keep_capabilities(on).map_err(|e| SecurityError::KeepCaps {
        value: u8::from(on),
        source: e.into(),
    })
}

/// Sets effective, permitted and inheritable in one capset (separate calls could fail
/// midway, e.g. shrinking permitted below the current effective), then makes the ambient
/// set exactly the spec's: raising needs the cap permitted and inheritable, so it comes last.
pub(super) fn apply_sets(plan: &CapPlan) -> Result<(), SecurityError> {
    let sets = CapabilitySets {
        effective: CapabilitySet::from_bits_retain(plan.effective),
        permitted: CapabilitySet::from_bits_retain(plan.permitted),
        inheritable: CapabilitySet::from_bits_retain(plan.inheritable),
    };
    thread::set_capabilities(None, sets).map_err(|e| SecurityError::Capset {
        effective: plan.effective,
        permitted: plan.permitted,
        inheritable: plan.inheritable,
        source: e.into(),
    })?;
    thread::clear_ambient_capability_set().map_err(|e| SecurityError::Ambient {
        op: "clear",
        cap: String::new(),
        source: e.into(),
    })?;
    for cap in bits(plan.ambient) {
        match thread::configure_capability_in_ambient_set(one(cap), true) {
            Ok(()) => {}
            // runc's behaviour: an ambient cap that is not also permitted and inheritable
            // (runc's own default spec asks for exactly that) is a warning, not a failure.
            Err(rustix::io::Errno::PERM) => crate::log::debug(&format!(
                "process.capabilities.ambient: cannot raise {}: it is not both permitted and inheritable",
                cap_name(cap)
            )),
            Err(e) => {
                return Err(SecurityError::Ambient {
                    op: "raise",
                    cap: cap_name(cap),
                    source: e.into(),
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::caps::Capability as C;

    #[test]
    fn plan_masks() {
        let sets = CapSets {
            bounding: [C::CAP_CHOWN, C::CAP_KILL].into_iter().collect(),
            effective: [C::CAP_KILL].into_iter().collect(),
            permitted: [C::CAP_KILL, C::CAP_CHECKPOINT_RESTORE]
                .into_iter()
                .collect(),
            inheritable: Default::default(),
            ambient: [C::CAP_KILL].into_iter().collect(),
        };
        let p = CapPlan::from_sets(&sets);
        assert_eq!(p.bounding, (1 << 0) | (1 << 5));
        assert_eq!(p.effective, 1 << 5);
        assert_eq!(p.permitted, (1 << 5) | (1 << 40));
        assert_eq!(p.inheritable, 0);
        assert_eq!(p.ambient, 1 << 5);
    }

    #[test]
    fn drops_everything_not_kept_up_to_last_cap() {
        let keep = (1 << 0) | (1 << 5) | (1 << 10);
        let d: Vec<u8> = bounding_drops(12, keep).collect();
        assert_eq!(d, vec![1, 2, 3, 4, 6, 7, 8, 9, 11, 12]);
        // Caps newer than the caps crate's table are dropped too.
        let d: Vec<u8> = bounding_drops(42, u64::MAX >> 23).collect();
        assert_eq!(d, vec![41, 42]);
        // Keeping everything drops nothing; keeping nothing drops 0..=last.
        assert_eq!(bounding_drops(40, u64::MAX).count(), 0);
        assert_eq!(bounding_drops(40, 0).count(), 41);
        assert_eq!(bounding_drops(200, 0).count(), 64);
    }

    #[test]
    fn names() {
        assert_eq!(cap_name(21), "CAP_SYS_ADMIN");
        assert_eq!(cap_name(55), "capability 55");
        assert_eq!(bits(0b1010_0001).collect::<Vec<_>>(), vec![0, 5, 7]);
    }

    #[test]
    fn last_cap_matches_kernel() {
        // Reading (not changing) the bounding set is side-effect free.
        let probed = last_cap().unwrap();
        if let Ok(s) = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap") {
            assert_eq!(
                u8::try_from(s.trim().parse::<u32>().unwrap()).unwrap(),
                probed
            );
        }
    }
}
