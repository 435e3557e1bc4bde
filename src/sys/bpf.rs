//! bpf(2) for cgroup device programs: load a BPF_PROG_TYPE_CGROUP_DEVICE program, attach
//! it to a cgroup2 directory, list and detach the programs already there. nix and rustix
//! have no bpf(2); the attribute layouts below are the kernel's `union bpf_attr` members
//! (include/uapi/linux/bpf.h), which only ever grow at the end.

use super::SysError;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// The attach type of device programs.
pub const BPF_CGROUP_DEVICE: u32 = 6;
/// Let programs of parents and this cgroup all run (each must allow).
pub const BPF_F_ALLOW_MULTI: u32 = 2;

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    /// Opcode.
    pub code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    pub regs: u8,
    /// Signed offset (jumps, memory).
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// Calls bpf(cmd, attr, sizeof attr), retrying EINTR.
fn bpf<T>(op: &'static str, cmd: libc::c_long, attr: &mut T) -> Result<libc::c_long, SysError> {
    let size = std::mem::size_of::<T>();
    // SAFETY: `attr` is a live, initialised #[repr(C)] prefix of union bpf_attr of exactly
    // `size` bytes; the kernel reads (and for QUERY writes) only within those bytes, and any
    // pointers inside it point to buffers the caller keeps alive across the call.
    super::retry(op, || unsafe {
        libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, size)
    })
}

/// Loads a device program; `name` (at most 15 bytes) shows in bpftool.
pub fn load_cgroup_device(insns: &[BpfInsn], name: &str) -> Result<OwnedFd, SysError> {
    let license: &CStr = c"Apache";
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    for (d, s) in attr.prog_name.iter_mut().zip(name.bytes().take(15)) {
        *d = s;
    }
    let fd = bpf("bpf(BPF_PROG_LOAD)", BPF_PROG_LOAD, &mut attr)?;
    // SAFETY: BPF_PROG_LOAD returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Attaches a program to a cgroup directory.
pub fn attach(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>, flags: u32) -> Result<(), SysError> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: flags,
        ..Default::default()
    };
    bpf("bpf(BPF_PROG_ATTACH)", BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// Detaches a program from a cgroup directory.
pub fn detach(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> Result<(), SysError> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf("bpf(BPF_PROG_DETACH)", BPF_PROG_DETACH, &mut attr).map(drop)
}

/// Ids of the device programs attached directly to a cgroup directory.
pub fn query(cgroup: BorrowedFd<'_>) -> Result<Vec<u32>, SysError> {
    let mut ids = vec![0u32; 16];
    loop {
        let mut attr = QueryAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        match bpf("bpf(BPF_PROG_QUERY)", BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // The kernel reports how many there are when the buffer is too small.
            Err(e) if e.errno() == libc::ENOSPC && attr.prog_cnt as usize > ids.len() => {
                ids = vec![0u32; attr.prog_cnt as usize];
            }
            Err(e) => return Err(e),
        }
    }
}

/// An fd for an attached program, from its id.
pub fn prog_fd(id: u32) -> Result<OwnedFd, SysError> {
    let mut attr = GetFdAttr {
        prog_id: id,
        ..Default::default()
    };
    let fd = bpf(
        "bpf(BPF_PROG_GET_FD_BY_ID)",
        BPF_PROG_GET_FD_BY_ID,
        &mut attr,
    )?;
    // SAFETY: BPF_PROG_GET_FD_BY_ID returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
