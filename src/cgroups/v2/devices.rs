//! Installs the device program on the container's cgroup2 directory: load the new
//! program, attach it next to what is there (BPF_F_ALLOW_MULTI: every attached program,
//! and the parents', must allow), then detach the old ones, so an update never leaves a
//! moment without a filter.

use super::devices_bpf::program;
use crate::cgroups::devices::Emulator;
use crate::cgroups::fs::Dir;
use crate::cgroups::CgroupError;
use crate::sys::bpf;
use std::os::fd::AsFd;

/// Replaces the device programs of `dir` with one enforcing `state`.
pub fn install(dir: &Dir, state: &Emulator) -> Result<(), CgroupError> {
    let err = |op: &'static str| {
        move |source| CgroupError::Bpf {
            op,
            path: dir.path().into(),
            source,
        }
    };
    let insns = program(state);
    let old = bpf::query(dir.fd()).map_err(err("query attached programs"))?;
    let prog = bpf::load_cgroup_device(&insns, "hull_devices").map_err(err("load program"))?;
    bpf::attach(dir.fd(), prog.as_fd(), bpf::BPF_F_ALLOW_MULTI).map_err(err("attach program"))?;
    for id in old {
        // A program detached meanwhile by a concurrent update is fine.
        let Ok(fd) = bpf::prog_fd(id) else { continue };
        match bpf::detach(dir.fd(), fd.as_fd()) {
            Ok(()) => {}
            Err(e) if e.errno() == libc::ENOENT => {}
            Err(e) => return Err(err("detach old program")(e)),
        }
    }
    Ok(())
}
