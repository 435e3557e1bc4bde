//! Per-process attributes set while still privileged, before pivot_root: oomScoreAdj,
//! ioPriority, scheduler and personality. Each error names the spec field.

use super::SecurityError;
use nix::sys::personality::{self, Persona};
use std::io::Write;

/// Writes `value` to /proc/self/oom_score_adj. Runs before pivot_root, so /proc is the
/// host's procfs; the file is opened without O_CREAT, so a missing /proc fails instead of
/// creating a plain file.
pub(super) fn set_oom_score_adj(value: i32) -> Result<(), SecurityError> {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/oom_score_adj")
        .and_then(|mut f| f.write_all(value.to_string().as_bytes()))
        .map_err(|source| SecurityError::OomScoreAdj { value, source })
}

/// ioprio_set on the calling process.
pub(super) fn set_io_priority(class: i32, level: i32) -> Result<(), SecurityError> {
    crate::sys::ioprio_set(class, level).map_err(|source| SecurityError::IoPriority {
        class,
        level,
        source,
    })
}

/// sched_setattr on the calling process.
pub(super) fn set_scheduler(attr: crate::sys::SchedAttr) -> Result<(), SecurityError> {
    crate::sys::sched_setattr(attr).map_err(|source| SecurityError::Scheduler {
        policy: attr.policy,
        source,
    })
}

/// personality(2) with the spec's domain (PER_LINUX or PER_LINUX32).
pub(super) fn set_personality(persona: u64) -> Result<(), SecurityError> {
    let bits = i32::try_from(persona).map_err(|_| SecurityError::Personality {
        persona,
        source: std::io::Error::from_raw_os_error(libc::EINVAL),
    })?;
    personality::set(Persona::from_bits_retain(bits))
        .map(|_| ())
        .map_err(|e| SecurityError::Personality {
            persona,
            source: e.into(),
        })
}
