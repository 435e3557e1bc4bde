//! The parent <-> init protocol: one SOCK_SEQPACKET socketpair, one small JSON message per
//! packet. Every step below is marked `sync:` with the same name on both sides.
//!
//! ```text
//!  hull (parent)                         bootstrap (only when staged)      init
//!  ─────────────                         ────────────────────────────      ────
//!  socketpair, exec.fifo, cgroup
//!  clone3(ns flags) ──────────────────────────────────────────────────────► (direct)
//!                    └──────────────────► setns(paths); unshare(user)
//!        ◄───────────────────────────── MapIds{pid}
//!  write uid_map/gid_map
//!        ─────────────────────────────► IdsMapped
//!                                        unshare(rest); timens offsets;
//!                                        fork ────────────────────────────► init
//!        ◄───────────────────────────── InitPid{pid}; exit
//!  [direct + userns: write maps of init]
//!  record pid in state.json; add to cgroup
//!        ─────────────────────────────────────────────────────────────────► Go{state}
//!                                                         become root in userns, cgroupns,
//!                                                         keyring, hostname, rlimits, sysctl,
//!                                                         mounts, /dev
//!        ◄───────────────────────────────────────────────────────────────── RunHooks (if any)
//!  prestart + createRuntime hooks
//!        ─────────────────────────────────────────────────────────────────► HooksDone
//!                                                         createContainer hooks, masked and
//!                                                         readonly paths, pivot_root, console,
//!                                                         cwd, drop privileges, find binary
//!        ◄───────────────────────────────────────────────────────────────── Ready
//!  state.json: created; pid file; exit                    block on exec.fifo until `start`
//!
//!  at any point: ◄── Error{errno, op, context}, then the child exits 1.
//!  The parent sees EOF instead of a message when every child end is gone (a killed child).
//!
//!  hull start (exec.fifo, not this socket; see exec_fifo.rs)
//!  open exec.fifo; read 1 byte ◄─────────────────────────────────────────── write "0"
//!  read on to EOF                                         startContainer hooks, close fds,
//!        ◄───────────────────────────────────────────────────────────────── execve: EOF
//!        ◄───────────────────────────────────────────────────────────────── (or the error text)
//!  EOF: poststart hooks. Text: fail, destroy, poststop.
//! ```

use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// One protocol message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    /// bootstrap -> parent: write the id maps of this pid's new user namespace.
    MapIds {
        /// The process that owns the new user namespace.
        pid: i32,
    },
    /// parent -> bootstrap: the maps are written.
    IdsMapped,
    /// bootstrap -> parent: the init's pid (in the parent's pid namespace).
    InitPid {
        /// The init's pid.
        pid: i32,
    },
    /// parent -> init: go on; the init is in its cgroup and its user namespace is mapped.
    Go {
        /// The OCI state JSON (status creating) to give the createContainer hooks.
        state: String,
    },
    /// init -> parent: the mounts are in place; run prestart and createRuntime hooks.
    RunHooks,
    /// parent -> init: the hooks ran.
    HooksDone,
    /// init -> parent: the seccomp notification fd rides along (SCM_RIGHTS); hand it to
    /// `linux.seccomp.listenerPath`.
    SeccompFd,
    /// parent -> init: the listener has the fd.
    SeccompDone,
    /// init -> parent: everything is set up; the init now waits for `start`.
    Ready,
    /// child -> parent: a step failed; the child exits after sending this.
    Error {
        /// errno of the failed call, 0 if none.
        errno: i32,
        /// The step that failed.
        op: String,
        /// The full error text.
        context: String,
    },
}

/// Largest message; a state JSON with many annotations still fits.
const MAX_MSG: usize = 256 << 10;

/// A failed send or receive on the sync socket.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The socket call failed.
    #[error("sync socket {op}: {source}")]
    Socket {
        /// sendmsg / recvmsg / socketpair.
        op: &'static str,
        /// Why.
        #[source]
        source: nix::Error,
    },
    /// The peer closed its end: it exited or was killed.
    #[error("sync socket: the other side hung up")]
    Eof,
    /// The peer sent something that is not a message.
    #[error("sync socket: bad message: {0}")]
    Decode(#[source] serde_json::Error),
    /// The peer sent a message that does not fit the protocol here.
    #[error("sync socket: expected {expected}, got {got:?}")]
    Unexpected {
        /// What this side waited for.
        expected: &'static str,
        /// What came.
        got: Box<Msg>,
    },
}

/// One end of the sync socket.
#[derive(Debug)]
pub struct SyncSocket {
    fd: OwnedFd,
}

/// Makes the socketpair: (parent end, child end), both close-on-exec.
pub fn pair() -> Result<(SyncSocket, SyncSocket), SyncError> {
    let (a, b) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|source| SyncError::Socket {
        op: "socketpair",
        source,
    })?;
    Ok((SyncSocket { fd: a }, SyncSocket { fd: b }))
}

impl SyncSocket {
    /// Sends one message.
    pub fn send(&self, msg: &Msg) -> Result<(), SyncError> {
        let bytes = serde_json::to_vec(msg).map_err(SyncError::Decode)?;
        loop {
            match socket::send(self.fd.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL) {
                Ok(_) => return Ok(()),
                Err(nix::Error::EINTR) => continue,
                Err(nix::Error::EPIPE) => return Err(SyncError::Eof),
                Err(source) => return Err(SyncError::Socket { op: "send", source }),
            }
        }
    }

    /// Receives one message, blocking.
    pub fn recv(&self) -> Result<Msg, SyncError> {
        let mut buf = vec![0u8; MAX_MSG];
        let n = loop {
            match socket::recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_CMSG_CLOEXEC) {
                Ok(n) => break n,
                Err(nix::Error::EINTR) => continue,
                Err(nix::Error::ECONNRESET) => return Err(SyncError::Eof),
                Err(source) => return Err(SyncError::Socket { op: "recv", source }),
            }
        };
        if n == 0 {
            return Err(SyncError::Eof);
        }
        serde_json::from_slice(&buf[..n]).map_err(SyncError::Decode)
    }

    /// Sends one message with `fd` attached (SCM_RIGHTS).
    pub fn send_fd(&self, msg: &Msg, fd: BorrowedFd<'_>) -> Result<(), SyncError> {
        use nix::sys::socket::{sendmsg, ControlMessage};
        let bytes = serde_json::to_vec(msg).map_err(SyncError::Decode)?;
        let fds = [fd.as_raw_fd()];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        let iov = [std::io::IoSlice::new(&bytes)];
        sendmsg::<()>(
            self.fd.as_raw_fd(),
            &iov,
            &cmsg,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map(|_| ())
        .map_err(|source| SyncError::Socket {
            op: "sendmsg",
            source,
        })
    }

    /// Receives one message and the fd attached to it, if any.
    pub fn recv_fd(&self) -> Result<(Msg, Option<OwnedFd>), SyncError> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned};
        use std::os::fd::FromRawFd;
        let mut buf = vec![0u8; MAX_MSG];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let (n, fd) = {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let m = loop {
                match recvmsg::<()>(
                    self.fd.as_raw_fd(),
                    &mut iov,
                    Some(&mut space),
                    MsgFlags::MSG_CMSG_CLOEXEC,
                ) {
                    Ok(m) => break m,
                    Err(nix::Error::EINTR) => continue,
                    Err(nix::Error::ECONNRESET) => return Err(SyncError::Eof),
                    Err(source) => {
                        return Err(SyncError::Socket {
                            op: "recvmsg",
                            source,
                        })
                    }
                }
            };
            let mut fd = None;
            for c in m.cmsgs().map_err(|source| SyncError::Socket {
                op: "recvmsg",
                source,
            })? {
                if let ControlMessageOwned::ScmRights(fds) = c {
                    for raw in fds {
                        // SAFETY: the kernel installed this fd for us; nothing else owns it.
                        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                        fd.get_or_insert(owned);
                    }
                }
            }
            (m.bytes, fd)
        };
        if n == 0 {
            return Err(SyncError::Eof);
        }
        let msg = serde_json::from_slice(&buf[..n]).map_err(SyncError::Decode)?;
        Ok((msg, fd))
    }

    /// Receives and checks that the message is `expected` (the Error message passes through
    /// to the caller as an Unexpected with the error inside).
    pub fn expect(&self, expected: &Msg, name: &'static str) -> Result<(), SyncError> {
        let got = self.recv()?;
        if &got == expected {
            Ok(())
        } else {
            Err(SyncError::Unexpected {
                expected: name,
                got: Box::new(got),
            })
        }
    }
}

impl AsFd for SyncSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_the_pair() {
        let (a, b) = pair().unwrap();
        a.send(&Msg::Go { state: "{}".into() }).unwrap();
        assert_eq!(b.recv().unwrap(), Msg::Go { state: "{}".into() });
        b.send(&Msg::Error {
            errno: 2,
            op: "mount".into(),
            context: "x".into(),
        })
        .unwrap();
        assert!(matches!(a.recv().unwrap(), Msg::Error { errno: 2, .. }));
        b.send(&Msg::Ready).unwrap();
        a.expect(&Msg::Ready, "Ready").unwrap();
        drop(b);
        assert!(matches!(a.recv(), Err(SyncError::Eof)));
    }
}
