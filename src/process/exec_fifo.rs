//! exec.fifo: how `start` releases an init that `create` left waiting.
//!
//! The init opens the fifo for writing, which blocks until `start` opens it for reading; it
//! then writes one byte and goes on to execve. `start` polls the fifo together with the init's
//! pidfd, so an init that died while waiting makes `start` fail instead of hang.
//!
//! The init keeps its end open (close-on-exec) through the startContainer hooks up to execve,
//! and `start` reads on to end-of-file: an empty read means execve happened, anything else is
//! the error that stopped the init (a failing hook, a failed execve), which `start` reports.
//!
//! The init must open the fifo after pivot_root, when the state dir is no longer visible, so it
//! keeps an O_PATH fd of the fifo and a directory fd of its own /proc/self/fd (host procfs,
//! opened before pivot_root) and re-opens the fifo through that magic link. Both fds are
//! close-on-exec, and the init is not dumpable, so nothing in the container can reach them.

use nix::fcntl::{self, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::{self, Mode};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A failed exec.fifo step.
#[derive(Debug, thiserror::Error)]
pub enum FifoError {
    /// A call on the fifo failed.
    #[error("exec.fifo: {op} {}: {source}", path.display())]
    Sys {
        /// What was being done.
        op: &'static str,
        /// The fifo or /proc path.
        path: PathBuf,
        /// Why.
        #[source]
        source: nix::Error,
    },
    /// The init exited before `start` could release it.
    #[error("container init exited before it was started")]
    InitGone,
    /// The init was released but failed before execve (startContainer hook, exec); the
    /// message is its error.
    #[error("{message}")]
    AfterStart {
        /// The init's error, as it wrote it to the fifo.
        message: String,
    },
}

fn sys<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(nix::Error) -> FifoError + 'a {
    move |source| FifoError::Sys {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir/exec.fifo` (mode 0622, writable by the container's root in a user namespace)
/// and returns an O_PATH fd of it for the init.
pub fn create(dir: &Path) -> Result<OwnedFd, FifoError> {
    let path = dir.join(crate::state::EXEC_FIFO);
    nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o622)).map_err(sys("mkfifo", &path))?;
    // mkfifo applies the umask; the mode must not depend on the caller's.
    stat::fchmodat(
        fcntl::AT_FDCWD,
        &path,
        Mode::from_bits_truncate(0o622),
        stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(sys("chmod", &path))?;
    fcntl::open(&path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).map_err(sys("open", &path))
}

/// The init's side, prepared before pivot_root.
#[derive(Debug)]
pub struct Waiter {
    fifo: OwnedFd,
    proc_fd_dir: OwnedFd,
}

impl Waiter {
    /// Keeps `fifo` (the O_PATH fd from [`create`]) and opens /proc/self/fd.
    pub fn prepare(fifo: OwnedFd) -> Result<Waiter, FifoError> {
        let dir = Path::new("/proc/self/fd");
        let proc_fd_dir = fcntl::open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys("open", dir))?;
        Ok(Waiter { fifo, proc_fd_dir })
    }

    /// Blocks until `start` opens the fifo, then signals it with one byte. The returned end
    /// stays open until execve closes it; `start` waits for that.
    pub fn wait(self) -> Result<Started, FifoError> {
        let name = self.fifo.as_raw_fd().to_string();
        let path = Path::new("/proc/self/fd").join(&name);
        let fd = loop {
            match fcntl::openat(
                &self.proc_fd_dir,
                name.as_str(),
                OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => break fd,
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(sys("open for writing", &path)(e)),
            }
        };
        nix::unistd::write(&fd, b"0").map_err(sys("write", &path))?;
        Ok(Started(fd))
    }
}

/// The init's end of the fifo after `start` opened it (close-on-exec).
#[derive(Debug)]
pub struct Started(OwnedFd);

impl Started {
    /// Tells `start` why the init is about to exit instead of exec'ing (best effort: if
    /// `start` is gone there is nobody left to tell).
    pub fn report(&self, message: &str) {
        let mut rest = message.as_bytes();
        while !rest.is_empty() {
            match nix::unistd::write(&self.0, rest) {
                Ok(0) => return,
                Ok(n) => rest = &rest[n..],
                Err(nix::Error::EINTR) => {}
                Err(_) => return,
            }
        }
    }
}

impl AsFd for Started {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// The most of an init's error message `start` keeps.
const MAX_MESSAGE: usize = 4096;

/// `start`'s side: releases the init waiting on `dir/exec.fifo`, or fails if `pidfd`'s
/// process exits first; then waits until the init has exec'd (its end closes) or reported
/// why it could not (AfterStart). Removes the fifo afterwards, which marks the container
/// running.
pub fn release(dir: &Path, pidfd: &OwnedFd) -> Result<(), FifoError> {
    let path = dir.join(crate::state::EXEC_FIFO);
    let fifo = fcntl::open(
        &path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys("open for reading", &path))?;
    loop {
        let mut fds = [
            PollFd::new(fifo.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(sys("poll", &path)(e)),
        }
        let fifo_ready = fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP));
        if fifo_ready {
            let mut byte = [0u8; 1];
            match nix::unistd::read(&fifo, &mut byte) {
                Ok(1) => break,
                Ok(_) | Err(nix::Error::EAGAIN) => {}
                Err(e) => return Err(sys("read", &path)(e)),
            }
        }
        if fds[1].revents().is_some_and(|r| !r.is_empty()) {
            return Err(FifoError::InitGone);
        }
    }
    let message = read_to_end(&fifo, &path)?;
    std::fs::remove_file(&path)
        .map_err(|e| sys("remove", &path)(nix::Error::from_raw(e.raw_os_error().unwrap_or(0))))?;
    if message.is_empty() {
        Ok(())
    } else {
        Err(FifoError::AfterStart { message })
    }
}

/// Reads the (non-blocking) fifo until every writer has closed it: the init's end closes at
/// execve, or when it exits after writing its error.
fn read_to_end(fifo: &OwnedFd, path: &Path) -> Result<String, FifoError> {
    let mut message = Vec::new();
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(sys("poll", path)(e)),
        }
        let mut buf = [0u8; 1024];
        match nix::unistd::read(fifo, &mut buf) {
            Ok(0) => break,
            Ok(n) if message.len() < MAX_MESSAGE => message.extend_from_slice(&buf[..n]),
            Ok(_) | Err(nix::Error::EAGAIN | nix::Error::EINTR) => {}
            Err(e) => return Err(sys("read", path)(e)),
        }
    }
    Ok(String::from_utf8_lossy(&message).trim().to_string())
}
