//! A container terminal bridged to hull's own, for `run` and `exec` in the foreground with
//! `process.terminal` and no `--console-socket` (what `runc run` does in a terminal): hull
//! keeps the receiving end of an internal console socket, gets the pty master from the
//! container, puts its own terminal in raw mode (restored on drop), and copies bytes both ways
//! while waiting; SIGWINCH resizes the container's pty to hull's.

use super::ContainerError;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::termios::{self, SetArg, Termios};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Bytes copied per read.
const CHUNK: usize = 16 << 10;

/// The two ends of the internal console socket: (hull's, the container's).
pub fn console_pair() -> Result<(OwnedFd, OwnedFd), ContainerError> {
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| io("socketpair", e.into()))
}

fn io(op: &'static str, source: std::io::Error) -> ContainerError {
    ContainerError::Signal { op, pid: 0, source }
}

/// hull's side of a bridged terminal.
pub struct Bridge {
    master: OwnedFd,
    saved: Option<Termios>,
    stdin_open: bool,
}

impl Bridge {
    /// Receives the pty master on `ours` and takes over hull's terminal.
    pub fn receive(ours: &OwnedFd) -> Result<Bridge, ContainerError> {
        let master = crate::console::recv_master(ours.as_fd())?;
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(&stdin).ok();
        if let Some(orig) = &saved {
            let mut raw = orig.clone();
            termios::cfmakeraw(&mut raw);
            termios::tcsetattr(&stdin, SetArg::TCSANOW, &raw)
                .map_err(|e| io("tcsetattr", e.into()))?;
        }
        let bridge = Bridge {
            master,
            saved,
            stdin_open: true,
        };
        bridge.resize();
        Ok(bridge)
    }

    /// The pty master, to poll.
    pub fn master(&self) -> BorrowedFd<'_> {
        self.master.as_fd()
    }

    /// Whether hull's stdin is still worth polling.
    pub fn stdin_open(&self) -> bool {
        self.stdin_open
    }

    /// Gives the container's pty the size of hull's terminal.
    pub fn resize(&self) {
        if let Ok(size) = rustix::termios::tcgetwinsize(std::io::stdin()) {
            let _ = rustix::termios::tcsetwinsize(&self.master, size);
        }
    }

    /// Copies what the container wrote to hull's stdout; false once the pty is closed.
    pub fn pump_output(&self) -> bool {
        let mut buf = [0u8; CHUNK];
        match nix::unistd::read(&self.master, &mut buf) {
            Ok(0) | Err(nix::Error::EIO) => false,
            Ok(n) => write_all(std::io::stdout().as_fd(), &buf[..n]),
            Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => true,
            Err(_) => false,
        }
    }

    /// Copies hull's stdin into the pty.
    pub fn pump_input(&mut self) {
        let mut buf = [0u8; CHUNK];
        match nix::unistd::read(std::io::stdin(), &mut buf) {
            Ok(0) | Err(_) => self.stdin_open = false,
            Ok(n) => {
                if !write_all(self.master.as_fd(), &buf[..n]) {
                    self.stdin_open = false;
                }
            }
        }
    }

    /// After the process exited: copies whatever output is still buffered.
    pub fn drain(&self) {
        let flags = nix::fcntl::OFlag::O_NONBLOCK;
        let _ = nix::fcntl::fcntl(&self.master, nix::fcntl::FcntlArg::F_SETFL(flags));
        while self.pump_output_nonblocking() {}
    }

    fn pump_output_nonblocking(&self) -> bool {
        let mut buf = [0u8; CHUNK];
        match nix::unistd::read(&self.master, &mut buf) {
            Ok(n) if n > 0 => write_all(std::io::stdout().as_fd(), &buf[..n]),
            _ => false,
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Some(orig) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, orig);
        }
    }
}

fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => continue,
            Err(_) => return false,
        }
    }
    let _ = fd.as_raw_fd();
    true
}
