//! Per-process attributes: oomScoreAdj, ioPriority and the scheduler are set by hull on the
//! init's pid (lowering oom_score_adj or choosing a realtime policy needs privileges the init
//! lacks inside a new user namespace); personality is set by the init on itself. Each error
//! names the spec field.

use super::SecurityError;
use nix::sys::personality::{self, Persona};
use std::io::Write;

/// Writes `value` to /proc/<pid>/oom_score_adj (host procfs; opened without O_CREAT).
pub(super) fn set_oom_score_adj(pid: i32, value: i32) -> Result<(), SecurityError> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{pid}/oom_score_adj"))
        .and_then(|mut f| f.write_all(value.to_string().as_bytes()))
        .map_err(|source| SecurityError::OomScoreAdj { value, source })
}

/// ioprio_set on process `pid`.
pub(super) fn set_io_priority(pid: i32, class: i32, level: i32) -> Result<(), SecurityError> {
    crate::sys::ioprio_set(pid, class, level).map_err(|source| SecurityError::IoPriority {
        class,
        level,
        source,
    })
}

/// sched_setattr on process `pid`.
pub(super) fn set_scheduler(pid: i32, attr: crate::sys::SchedAttr) -> Result<(), SecurityError> {
    crate::sys::sched_setattr(pid, attr).map_err(|source| SecurityError::Scheduler {
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
