//! Handing the SCMP_ACT_NOTIFY fd to `linux.seccomp.listenerPath`, as the runtime spec says:
//! one message on the unix socket whose payload is the container process state JSON and whose
//! SCM_RIGHTS carries the fd named in its `fds` list.

use super::{Listener, SeccompError};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// Sends `fd` with the container process state to the listener.
pub fn send_to_listener(
    listener: &Listener,
    fd: &OwnedFd,
    pid: i32,
    state: &crate::state::OciState,
) -> Result<(), SeccompError> {
    let err = |op| {
        move |source: std::io::Error| SeccompError::Listener {
            op,
            path: listener.path.clone(),
            source,
        }
    };
    let sock = UnixStream::connect(&listener.path).map_err(err("connect"))?;
    let payload = serde_json::json!({
        "ociVersion": state.oci_version,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": listener.metadata,
        "state": state,
    })
    .to_string();
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(payload.as_bytes())];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None)
        .map_err(|e| err("send")(e.into()))?;
    Ok(())
}
