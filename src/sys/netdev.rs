//! Setting a network interface up by name (SIOCGIFFLAGS / SIOCSIFFLAGS on a socket), which
//! the init does for `lo` in a new network namespace; nix and rustix have no wrapper.

use super::{retry, SysError};
use std::os::fd::{AsRawFd, BorrowedFd};

/// Sets IFF_UP on interface `name` in the network namespace `sock` was made in. Does
/// nothing when it is already up.
pub fn set_link_up(sock: BorrowedFd<'_>, name: &str) -> Result<(), SysError> {
    // SAFETY: ifreq is plain C data (a name array and a union of integers, arrays and a
    // pointer); all zeroes is a valid value of it.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let bytes = name.as_bytes();
    if bytes.len() >= req.ifr_name.len() || bytes.contains(&0) {
        return Err(SysError::from_errno("ioctl(SIOCGIFFLAGS)", libc::EINVAL));
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq with a NUL-terminated name that outlives the call; the
    // kernel writes only its flags.
    retry("ioctl(SIOCGIFFLAGS)", || unsafe {
        libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req).into()
    })?;
    // SAFETY: SIOCGIFFLAGS succeeded, so the kernel filled the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    let up = libc::IFF_UP as libc::c_short;
    if flags & up != 0 {
        return Ok(());
    }
    req.ifr_ifru.ifru_flags = flags | up;
    // SAFETY: as above; the kernel only reads `req`.
    retry("ioctl(SIOCSIFFLAGS)", || unsafe {
        libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req).into()
    })
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn bad_names_are_refused_before_any_ioctl() {
        let not_a_socket = std::fs::File::open("/dev/null").unwrap();
        for name in ["x".repeat(libc::IFNAMSIZ), "l\0o".to_string()] {
            let err = set_link_up(not_a_socket.as_fd(), &name).unwrap_err();
            assert_eq!(err.errno(), libc::EINVAL, "{name:?}");
        }
    }
}
