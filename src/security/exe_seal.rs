//! CVE-2019-5736: a process in the container that can open `/proc/<pid>/exe` of a hull process
//! running inside the container (the init before execve, an `exec`'d process before execve,
//! the built-in PID 1) gets a handle on the host's hull binary, and can overwrite it once no
//! hull process runs it any more.
//!
//! Two defences:
//! - Every process hull forks into a container is non-dumpable from birth (hull marks itself
//!   before forking, and the flag is inherited): only a holder of CAP_SYS_PTRACE in the host's
//!   user namespace may open its /proc files.
//! - Where such a holder could exist and see hull code run (see `Config::exposes_runtime`
//!   and `Config::may_ptrace`: `exec` or the built-in PID 1 of a container whose bounding set
//!   has CAP_SYS_PTRACE and no user namespace of its own; any container in a shared or absent
//!   pid namespace), hull first re-executes itself from a sealed memfd copy, so
//!   `/proc/<pid>/exe` names an anonymous, write-sealed file and never the host binary.
//!   Everywhere else the copy buys nothing, and it is skipped: crun re-executes on every
//!   call, and here the copy and exec cost about 1.5 ms of a 5 ms `exec`.

use crate::sys::SysError;
use nix::unistd::execveat;
use rustix::fs::{MemfdFlags, SealFlags};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// The memfd name; `/proc/<pid>/exe` shows `/memfd:hull-sealed (deleted)`.
const MEMFD_NAME: &str = "hull-sealed";

/// Every seal: the copy can never change size or contents, nor lose its seals.
fn all_seals() -> SealFlags {
    SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE
}

fn sys(op: &'static str) -> impl FnOnce(rustix::io::Errno) -> SysError {
    move |e| SysError::from_errno(op, e.raw_os_error())
}

/// Whether this process already runs from a sealed copy.
pub fn is_sealed() -> bool {
    let Ok(exe) = File::open("/proc/self/exe") else {
        return false;
    };
    rustix::fs::fcntl_get_seals(&exe).is_ok_and(|s| s.contains(all_seals()))
}

/// Makes the sealed copy of the running binary.
pub fn sealed_copy() -> Result<OwnedFd, SysError> {
    let exe = File::open("/proc/self/exe")
        .map_err(|e| SysError::from_errno("open /proc/self/exe", e.raw_os_error().unwrap_or(0)))?;
    let len = exe
        .metadata()
        .map_err(|e| SysError::from_errno("stat /proc/self/exe", e.raw_os_error().unwrap_or(0)))?
        .len() as usize;
    let memfd = rustix::fs::memfd_create(
        MEMFD_NAME,
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING | MemfdFlags::EXEC,
    )
    .or_else(|_| {
        rustix::fs::memfd_create(MEMFD_NAME, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
    })
    .map_err(sys("memfd_create"))?;
    let mut left = len;
    while left > 0 {
        let n = rustix::fs::sendfile(memfd.as_fd(), exe.as_fd(), None, left)
            .map_err(sys("sendfile"))?;
        if n == 0 {
            return Err(SysError::from_errno("sendfile (short copy)", libc::EIO));
        }
        left -= n;
    }
    rustix::fs::fcntl_add_seals(&memfd, all_seals()).map_err(sys("seal"))?;
    Ok(memfd)
}

/// Re-executes this process from a sealed copy of its binary, with the same argv and
/// environment, unless it already runs from one. Returns only on failure.
pub fn reexec_sealed() -> Result<(), SysError> {
    if is_sealed() {
        return Ok(());
    }
    let memfd = sealed_copy()?;
    let argv: Vec<CString> = std::env::args_os()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let envp: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    let err = execveat(
        &memfd,
        c"",
        &argv,
        &envp,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )
    .err()
    .map_or(0, |e| e as i32);
    Err(SysError::from_errno("execveat sealed copy", err))
}

/// Makes this process (and every child forked from now on) non-dumpable.
pub fn mark_non_dumpable() -> Result<(), SysError> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(sys("prctl(PR_SET_DUMPABLE)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_is_sealed_and_identical() {
        let memfd = sealed_copy().unwrap();
        let seals = rustix::fs::fcntl_get_seals(&memfd).unwrap();
        assert!(seals.contains(all_seals()));
        let copy = std::fs::read(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&memfd)
        ))
        .unwrap();
        assert_eq!(copy, std::fs::read("/proc/self/exe").unwrap());
        // The seal holds: no write can succeed.
        assert!(rustix::io::write(&memfd, b"x").is_err());
        assert!(!is_sealed(), "the test binary itself is not a sealed copy");
    }
}
