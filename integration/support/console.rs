//! The test's side of `--console-socket`: listen on a unix socket, receive the pty master the
//! runtime sends over it (SCM_RIGHTS, as containerd and conmon receive it), then talk to the
//! container's terminal through that master with deadlines, so a silent terminal fails the test
//! instead of hanging it.

use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A listening `--console-socket`.
pub struct ConsoleSocket {
    path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    /// Listens at `path` (which must not exist).
    pub fn bind(path: &Path) -> ConsoleSocket {
        let listener = UnixListener::bind(path)
            .unwrap_or_else(|e| panic!("bind console socket {}: {e}", path.display()));
        ConsoleSocket {
            path: path.to_path_buf(),
            listener,
        }
    }

    /// The socket path (what `--console-socket` gets).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path as a string, for argv.
    pub fn arg(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// Accepts the runtime's connection and receives exactly one fd (the pty master) with the
    /// name it sends; fails the test after `timeout`.
    pub fn recv_master(&self, timeout: Duration) -> (Pty, String) {
        wait_readable(self.listener.as_fd(), timeout, "console socket connection");
        let (conn, _) = self
            .listener
            .accept()
            .unwrap_or_else(|e| panic!("accept on {}: {e}", self.path.display()));
        wait_readable(conn.as_fd(), timeout, "pty master on the console socket");
        let mut name = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut name)];
        let mut space = nix::cmsg_space!([RawFd; 4]);
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .unwrap_or_else(|e| panic!("recvmsg on the console socket: {e}"));
        let len = msg.bytes;
        let mut fds: Vec<OwnedFd> = Vec::new();
        for c in msg.cmsgs().unwrap_or_else(|e| panic!("cmsgs: {e}")) {
            if let ControlMessageOwned::ScmRights(raw) = c {
                // SAFETY: SCM_RIGHTS installed these fds in this process just now; each gets
                // exactly one owner here.
                fds.extend(
                    raw.into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        assert_eq!(fds.len(), 1, "want exactly one fd on the console socket");
        let name = String::from_utf8_lossy(&name[..len]).into_owned();
        let master = fds
            .pop()
            .unwrap_or_else(|| unreachable!("one fd, checked above"));
        (
            Pty {
                master,
                seen: String::new(),
            },
            name,
        )
    }
}

/// Polls `fd` for input; fails the test after `timeout`.
fn wait_readable(fd: std::os::fd::BorrowedFd<'_>, timeout: Duration, what: &str) {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {what} within {timeout:?}");
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(n) if n > 0 => return,
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => panic!("poll for {what}: {e}"),
        }
    }
}

/// The master side of the container's terminal.
pub struct Pty {
    master: OwnedFd,
    seen: String,
}

impl Pty {
    /// Types `text` into the terminal.
    pub fn write(&self, text: &str) {
        let mut rest = text.as_bytes();
        while !rest.is_empty() {
            match nix::unistd::write(&self.master, rest) {
                Ok(n) => rest = &rest[n..],
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => panic!("write to the pty master: {e}"),
            }
        }
    }

    /// Reads until the output (all of it so far) contains `needle`; returns it. Fails the test
    /// after `timeout` or when the terminal closes first.
    pub fn read_until(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        while !self.seen.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{needle:?} not on the terminal within {timeout:?}; got {:?}",
                self.seen
            );
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            if poll(&mut fds, ms).unwrap_or(0) == 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            match nix::unistd::read(&self.master, &mut buf) {
                Ok(0) | Err(nix::errno::Errno::EIO) => panic!(
                    "terminal closed before {needle:?} appeared; got {:?}",
                    self.seen
                ),
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                Err(e) => panic!("read the pty master: {e}"),
            }
        }
        self.seen.clone()
    }

    /// Everything read so far.
    pub fn seen(&self) -> &str {
        &self.seen
    }
}
