//! A process's stdio: the fifos containerd hands over, the pipes the process writes into,
//! the copy tasks between them, and the pty received over `--console-socket`.
//!
//! Every fifo is opened `O_NONBLOCK` and copied through `AsyncFd` readiness, never through
//! the async runtime's file API (which runs blocking opens and reads on worker threads, and a
//! fifo open without a peer blocks forever). Stdout and stderr fifos are opened read-write,
//! as containerd's runc shim keeps a reader of its own: a write never fails with EPIPE
//! while containerd is away (a detached `ctr run -d`, a restart), the data waits in the fifo.

use super::runtime::ChildStdio;
use rustix::fs::{Mode, OFlags};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Setting up stdio failed.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// A fifo or log file could not be opened.
    #[error("open {}: {source}", path.display())]
    Open {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A pipe could not be made or handed to the io user.
    #[error("stdio pipe: {0}")]
    Pipe(#[source] io::Error),
    /// The console socket could not be made or did not deliver a pty master.
    #[error("console socket {}: {source}", path.display())]
    Console {
        /// The socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A URI scheme hull's shim does not handle.
    #[error("stdio {uri:?}: only fifos and file:// are supported")]
    Scheme {
        /// The URI.
        uri: String,
    },
}

/// The stdio of a running process: copy tasks, the stdin closer, the pty master.
pub struct ProcIo {
    stdin_close: Option<oneshot::Sender<()>>,
    copies: Vec<JoinHandle<()>>,
    input: Option<JoinHandle<()>>,
    master: Option<Arc<OwnedFd>>,
}

impl ProcIo {
    /// Closes the process's stdin (CloseIO): its side of the pipe sees EOF.
    pub fn close_stdin(&mut self) {
        if let Some(tx) = self.stdin_close.take() {
            let _ = tx.send(());
        }
    }

    /// Sets the pty's window size.
    pub fn resize(&self, width: u16, height: u16) -> io::Result<()> {
        let master = self.master.as_ref().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "the process has no terminal")
        })?;
        let ws = rustix::termios::Winsize {
            ws_row: height,
            ws_col: width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(master.as_fd(), ws)?;
        Ok(())
    }

    /// Takes the output copy tasks, to wait for them outside any lock.
    pub fn take_copies(&mut self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut self.copies)
    }
}

impl Drop for ProcIo {
    fn drop(&mut self) {
        for t in self.copies.iter().chain(self.input.iter()) {
            t.abort();
        }
    }
}

/// Waits up to `limit` for output copies to drain (then they are dropped with the io).
pub async fn drain(copies: Vec<JoinHandle<()>>, limit: Duration) {
    let all = async {
        for c in copies {
            let _ = c.await;
        }
    };
    let _ = tokio::time::timeout(limit, all).await;
}

/// The fds a process gets and what the shim keeps to copy; `start` turns it into `ProcIo`.
#[derive(Default)]
pub struct Plumbing {
    /// For the runtime command.
    pub child: ChildStdio,
    stdin: Option<(OwnedFd, OwnedFd)>,
    stdout: Option<(OwnedFd, OwnedFd)>,
    stderr: Option<(OwnedFd, OwnedFd)>,
}

/// Opens the fifos of a process without a terminal and makes its pipes, owned by
/// `uid`/`gid` (IoUid/IoGid) so a process in a user namespace can use them.
pub fn pipes(
    stdin: &str,
    stdout: &str,
    stderr: &str,
    uid: u32,
    gid: u32,
) -> Result<Plumbing, IoError> {
    let mut p = Plumbing::default();
    if let Some(file) = stdout.strip_prefix("file://") {
        let f = open(Path::new(file), append_flags())?;
        p.child.stderr = Some(f.try_clone().map_err(IoError::Pipe)?);
        p.child.stdout = Some(f);
    } else if stdout.contains("://") {
        return Err(IoError::Scheme { uri: stdout.into() });
    } else {
        if !stdout.is_empty() {
            let (r, w) = pipe(uid, gid)?;
            p.child.stdout = Some(w);
            p.stdout = Some((r, open_fifo_out(stdout)?));
        }
        if !stderr.is_empty() {
            let (r, w) = pipe(uid, gid)?;
            p.child.stderr = Some(w);
            p.stderr = Some((r, open_fifo_out(stderr)?));
        }
    }
    if !stdin.is_empty() {
        let fifo = open(Path::new(stdin), OFlags::RDONLY | OFlags::NONBLOCK)?;
        let (r, w) = pipe(uid, gid)?;
        p.child.stdin = Some(r);
        p.stdin = Some((fifo, w));
    }
    Ok(p)
}

/// Starts copying for a process without a terminal (after the runtime got its fds).
pub fn start_pipes(p: Plumbing) -> ProcIo {
    let mut io = ProcIo {
        stdin_close: None,
        copies: Vec::new(),
        input: None,
        master: None,
    };
    for (src, dst) in [p.stdout, p.stderr].into_iter().flatten() {
        io.copies.push(tokio::spawn(copy_logged(src, dst, None)));
    }
    if let Some((fifo, w)) = p.stdin {
        let (tx, rx) = oneshot::channel();
        io.stdin_close = Some(tx);
        io.input = Some(tokio::spawn(copy_logged(fifo, w, Some(rx))));
    }
    io
}

/// Starts copying between the fifos and a pty master: stdin to the master, the master to
/// stdout (a terminal has no separate stderr).
pub fn start_console(master: OwnedFd, stdin: &str, stdout: &str) -> Result<ProcIo, IoError> {
    let master = Arc::new(master);
    let mut io = ProcIo {
        stdin_close: None,
        copies: Vec::new(),
        input: None,
        master: Some(master.clone()),
    };
    let dup = |fd: &OwnedFd| fd.try_clone().map_err(IoError::Pipe);
    if !stdout.is_empty() {
        let out = open_fifo_out(stdout)?;
        io.copies
            .push(tokio::spawn(copy_logged(dup(&master)?, out, None)));
    }
    if !stdin.is_empty() {
        let fifo = open(Path::new(stdin), OFlags::RDONLY | OFlags::NONBLOCK)?;
        let (tx, rx) = oneshot::channel();
        io.stdin_close = Some(tx);
        io.input = Some(tokio::spawn(copy_logged(fifo, dup(&master)?, Some(rx))));
    }
    Ok(io)
}

fn append_flags() -> OFlags {
    OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE
}

fn open(path: &Path, flags: OFlags) -> Result<OwnedFd, IoError> {
    rustix::fs::open(path, flags | OFlags::CLOEXEC, Mode::from_raw_mode(0o640)).map_err(|e| {
        IoError::Open {
            path: path.into(),
            source: e.into(),
        }
    })
}

/// A stdout/stderr fifo, read-write so it never blocks the open nor fails a write with
/// EPIPE when containerd has no reader.
fn open_fifo_out(path: &str) -> Result<OwnedFd, IoError> {
    open(Path::new(path), OFlags::RDWR | OFlags::NONBLOCK)
}

fn pipe(uid: u32, gid: u32) -> Result<(OwnedFd, OwnedFd), IoError> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| IoError::Pipe(e.into()))?;
    if uid != 0 || gid != 0 {
        let owner = (
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        );
        for fd in [&r, &w] {
            rustix::fs::fchown(fd, owner.0, owner.1).map_err(|e| IoError::Pipe(e.into()))?;
        }
    }
    Ok((r, w))
}

async fn copy_logged(src: OwnedFd, dst: OwnedFd, stop: Option<oneshot::Receiver<()>>) {
    let result = match stop {
        Some(stop) => tokio::select! {
            r = copy(src, dst) => r,
            _ = stop => Ok(()),
        },
        None => copy(src, dst).await,
    };
    if let Err(e) = result {
        log::debug!("stdio copy ended: {e}");
    }
}

/// Copies until EOF (or EIO from a pty master whose slave side closed). Both fds are made
/// non-blocking and driven by readiness. The buffer is allocated on the first data, so an
/// idle process costs no buffer.
async fn copy(src: OwnedFd, dst: OwnedFd) -> io::Result<()> {
    set_nonblocking(&src)?;
    set_nonblocking(&dst)?;
    let src = register(src)?;
    let dst = register(dst)?;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let mut guard = src.readable().await?;
        if buf.is_empty() {
            buf = vec![0; 16 * 1024];
        }
        let n = match guard
            .try_io(|fd| rustix::io::read(fd.get_ref(), &mut buf).map_err(io::Error::from))
        {
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => n,
            Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Ok(()),
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        };
        write_all(&dst, &buf[..n]).await?;
    }
}

async fn write_all(dst: &AsyncFd<OwnedFd>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let mut guard = dst.writable().await?;
        match guard.try_io(|fd| rustix::io::write(fd.get_ref(), data).map_err(io::Error::from)) {
            Ok(Ok(n)) => data = &data[n..],
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => {}
        }
    }
    Ok(())
}

pub(super) fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the AsyncFd takes the OwnedFd by value, so the fd it registers stays open
    // exactly as long as the registration (tokio's I/O-safety condition for `register`).
    unsafe { AsyncFd::register(fd) }.map_err(io::Error::from)
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(fd)?;
    rustix::fs::fcntl_setfl(fd, flags | OFlags::NONBLOCK)?;
    Ok(())
}

/// A unix socket in a private temp dir that receives a pty master from the runtime.
pub struct ConsoleSocket {
    dir: PathBuf,
    path: PathBuf,
    listener: tokio::net::UnixListener,
}

impl ConsoleSocket {
    /// Binds `pty.sock` in a fresh 0700 directory under the system temp dir (short, unlike
    /// bundle paths, for sun_path's 108 bytes).
    pub fn new() -> Result<ConsoleSocket, IoError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hull-pty-{}-{n}", std::process::id()));
        let err = |source| IoError::Console {
            path: dir.clone(),
            source,
        };
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(err)?;
        let path = dir.join("pty.sock");
        let listener = tokio::net::UnixListener::bind(&path).map_err(err)?;
        Ok(ConsoleSocket {
            dir,
            path,
            listener,
        })
    }

    /// The socket path for `--console-socket`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts one connection and receives the master it sends.
    pub async fn receive(&self) -> Result<OwnedFd, IoError> {
        let err = |source| IoError::Console {
            path: self.path.clone(),
            source,
        };
        let (stream, _) = self.listener.accept().await.map_err(err)?;
        loop {
            stream.readable().await.map_err(err)?;
            match crate::console::recv_master(stream.as_fd()) {
                Ok(fd) => return Ok(fd),
                Err(crate::console::ConsoleError::Recv { source })
                    if source.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(err(io::Error::other(e.to_string()))),
            }
        }
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
