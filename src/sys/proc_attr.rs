//! Per-process scheduling attributes the spec can ask for: I/O priority and the scheduler.

use super::{retry, SysError};

const IOPRIO_WHO_PROCESS: libc::c_long = 1;
const IOPRIO_CLASS_SHIFT: i32 = 13;

/// Sets the I/O priority of process `pid` (0: the caller).
pub fn ioprio_set(pid: i32, class: i32, level: i32) -> Result<(), SysError> {
    let prio = ((class << IOPRIO_CLASS_SHIFT) | level) as libc::c_long;
    // SAFETY: integer arguments only.
    retry("ioprio_set", || unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            pid as libc::c_long,
            prio,
        )
    })
    .map(|_| ())
}

/// struct sched_attr as sched_setattr(2) reads it (SCHED_ATTR_SIZE_VER0).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct SchedAttr {
    /// Size of this struct, filled in by [`sched_setattr`].
    pub size: u32,
    /// SCHED_OTHER, SCHED_FIFO, ...
    pub policy: u32,
    /// SCHED_FLAG_* bits.
    pub flags: u64,
    /// Nice value for SCHED_OTHER / SCHED_BATCH.
    pub nice: i32,
    /// Static priority for SCHED_FIFO / SCHED_RR.
    pub priority: u32,
    /// SCHED_DEADLINE runtime in ns.
    pub runtime: u64,
    /// SCHED_DEADLINE deadline in ns.
    pub deadline: u64,
    /// SCHED_DEADLINE period in ns.
    pub period: u64,
}

/// Applies a scheduling policy to process `pid` (0: the caller).
pub fn sched_setattr(pid: i32, mut attr: SchedAttr) -> Result<(), SysError> {
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: attr is a valid sched_attr of the declared size, alive for the call.
    retry("sched_setattr", || unsafe {
        libc::syscall(
            libc::SYS_sched_setattr,
            pid as libc::c_long,
            &attr as *const SchedAttr,
            0u32,
        )
    })
    .map(|_| ())
}

/// Sets resource limit `resource` (RLIMIT_*) of process `pid`. The parent sets the init's
/// limits this way because inside a new user namespace the init could not raise a hard limit.
pub fn prlimit(pid: i32, resource: i32, soft: u64, hard: u64) -> Result<(), SysError> {
    let new = libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `new` is a valid rlimit64 alive for the call; no old value is requested.
    let rc = unsafe {
        libc::prlimit64(
            pid,
            resource as libc::__rlimit_resource_t,
            &new,
            std::ptr::null_mut(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(SysError::last("prlimit"))
    }
}
