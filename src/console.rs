//! The container's terminal (`process.terminal` + `--console-socket`): hull connects to the
//! socket before forking; the init, after pivot_root, makes a pty in the container's own
//! devpts, binds the slave onto /dev/console, sends the master over the socket (SCM_RIGHTS,
//! as runc does) and makes the slave its controlling terminal and stdio.

use crate::error::{ErrorKind, Kind};
use nix::sys::socket::{
    self, recvmsg, sendmsg, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag,
    SockType, UnixAddr,
};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::mount::{MoveMountFlags, OpenTreeFlags};
use rustix::pty::OpenptFlags;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// The ptmx of the container's devpts instance. Opened directly rather than through
/// /dev/ptmx so it can be verified: only here is it inode 2 of a devpts mount.
const PTMX: &str = "/dev/pts/ptmx";
/// The name sent with the master, as runc sends the master's file name.
const MASTER_NAME: &[u8] = b"/dev/pts/ptmx";
const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;
/// Major of /dev/ptmx (TTYAUX_MAJOR) and its minor; inode 2 is devpts' own ptmx node.
const PTMX_DEV: (u32, u32) = (5, 2);
const PTMX_INO: u64 = 2;
/// The receive buffer for the name sent with the master (go-runc's limit).
const MAX_NAME: usize = 4096;

/// A failed console step.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Creating or connecting the --console-socket failed.
    #[error("connect to console socket {}: {source}", path.display())]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Opening or inspecting /dev/pts/ptmx failed.
    #[error("{op} /dev/pts/ptmx: {source}")]
    OpenPtmx {
        /// open, fstat, fstatfs.
        op: &'static str,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// /dev/pts/ptmx is not the ptmx node of a devpts mount (a container could plant one).
    #[error("/dev/pts/ptmx is not a devpts ptmx device ({0})")]
    NotPtmx(PtmxIdentity),
    /// unlockpt or TIOCGPTPEER on the new pty failed.
    #[error("pty: {op}: {source}")]
    Pty {
        /// The failed call.
        op: &'static str,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Creating or opening the /dev/console mount target failed.
    #[error("/dev/console: {op}: {source}")]
    ConsoleTarget {
        /// The failed call.
        op: &'static str,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// /dev/console exists but is neither a file nor a character device.
    #[error("/dev/console is not a file or character device (mode {mode:#o})")]
    BadConsoleTarget {
        /// st_mode of the existing entry.
        mode: u32,
    },
    /// Bind-mounting the slave onto /dev/console failed.
    #[error("bind pty onto /dev/console: {op}: {source}")]
    BindConsole {
        /// open_tree or move_mount.
        op: &'static str,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// TIOCSWINSZ failed.
    #[error("set console size {rows}x{cols}: {source}")]
    WinSize {
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Sending the master over the console socket failed.
    #[error("send pty master over console socket: {source}")]
    SendMaster {
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// setsid, TIOCSCTTY or dup2 of the slave onto stdio failed.
    #[error("make the pty the controlling terminal: {op}: {source}")]
    Ctty {
        /// The failed call.
        op: &'static str,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Receiving the master failed.
    #[error("receive pty master from console socket: {source}")]
    Recv {
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// The message on the console socket did not carry exactly one fd.
    #[error("console socket message carried {count} fds, want 1")]
    RecvFds {
        /// How many fds arrived.
        count: usize,
    },
}

impl ConsoleError {
    /// The errno behind the failure (0 when there is none), for the child's error message.
    pub fn errno(&self) -> i32 {
        use ConsoleError as E;
        match self {
            E::NotPtmx(_) | E::BadConsoleTarget { .. } | E::RecvFds { .. } => libc::EINVAL,
            E::Connect { source, .. }
            | E::OpenPtmx { source, .. }
            | E::Pty { source, .. }
            | E::ConsoleTarget { source, .. }
            | E::BindConsole { source, .. }
            | E::WinSize { source, .. }
            | E::SendMaster { source }
            | E::Ctty { source, .. }
            | E::Recv { source } => source.raw_os_error().unwrap_or(0),
        }
    }
}

impl Kind for ConsoleError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Sys
    }
}

/// What an opened ptmx candidate turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PtmxIdentity {
    /// statfs f_type of its filesystem.
    pub fs_type: i64,
    /// st_mode.
    pub mode: u32,
    /// st_ino.
    pub ino: u64,
    /// Device major and minor.
    pub rdev: (u32, u32),
}

impl std::fmt::Display for PtmxIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fs magic {:#x}, mode {:#o}, inode {}, device {}:{}",
            self.fs_type, self.mode, self.ino, self.rdev.0, self.rdev.1
        )
    }
}

impl PtmxIdentity {
    /// Whether this is devpts' own ptmx: char device 5:2, inode 2, on a devpts mount.
    pub fn is_devpts_ptmx(&self) -> bool {
        self.fs_type == DEVPTS_SUPER_MAGIC
            && FileType::from_raw_mode(self.mode) == FileType::CharacterDevice
            && self.ino == PTMX_INO
            && self.rdev == PTMX_DEV
    }
}

fn ptmx_err(op: &'static str) -> impl FnOnce(rustix::io::Errno) -> ConsoleError {
    move |e| ConsoleError::OpenPtmx {
        op,
        source: e.into(),
    }
}

/// Connects to the `--console-socket` (done in hull, before the init is forked).
///
/// A path longer than sun_path (108 bytes) is reached through its directory's fd in
/// /proc/self/fd, so deep state dirs still work.
pub fn connect(path: &Path) -> Result<OwnedFd, ConsoleError> {
    let err = |source: io::Error| ConsoleError::Connect {
        path: path.to_path_buf(),
        source,
    };
    let sock = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| err(e.into()))?;
    let (addr, _dir) = match UnixAddr::new(path) {
        Ok(addr) => (addr, None),
        Err(nix::errno::Errno::ENAMETOOLONG) => long_addr(path).map_err(err)?,
        Err(e) => return Err(err(e.into())),
    };
    loop {
        match socket::connect(sock.as_raw_fd(), &addr) {
            Ok(()) => return Ok(sock),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(err(e.into())),
        }
    }
}

/// The address of a socket whose path is too long: `/proc/self/fd/<dirfd>/<name>`, with the
/// directory fd that must stay open until connect is done.
fn long_addr(path: &Path) -> Result<(UnixAddr, Option<OwnedFd>), io::Error> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    };
    let dirfd = rustix::fs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let short = Path::new("/proc/self/fd")
        .join(dirfd.as_raw_fd().to_string())
        .join(name);
    Ok((UnixAddr::new(&short)?, Some(dirfd)))
}

/// In the container after pivot_root: new pty from /dev/ptmx, slave bound on /dev/console and
/// made the controlling terminal and stdio, master sent over `socket` (SCM_RIGHTS).
///
/// `size` is (rows, cols). The master and the socket are closed before returning: the
/// container keeps only the slave.
pub fn setup(socket: OwnedFd, size: Option<(u16, u16)>) -> Result<(), ConsoleError> {
    let master = open_ptmx()?;
    rustix::pty::unlockpt(&master).map_err(|e| ConsoleError::Pty {
        op: "unlockpt",
        source: e.into(),
    })?;
    // TIOCGPTPEER opens exactly this pty's slave, never a path a container could swap.
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let slave = rustix::pty::ioctl_tiocgptpeer(&master, flags).map_err(|e| ConsoleError::Pty {
        op: "TIOCGPTPEER",
        source: e.into(),
    })?;
    bind_console(&slave)?;
    if let Some((rows, cols)) = size {
        let ws = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&master, ws).map_err(|e| ConsoleError::WinSize {
            rows,
            cols,
            source: e.into(),
        })?;
    }
    send_master(&socket, &master)?;
    drop(master);
    drop(socket);
    make_controlling_stdio(slave)
}

/// Opens the container's ptmx, verified before (O_PATH, so nothing is opened unchecked: a
/// planted fifo or device node would block or act on open) and after the real open.
fn open_ptmx() -> Result<OwnedFd, ConsoleError> {
    let handle = rustix::fs::open(
        PTMX,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(ptmx_err("open"))?;
    let want = identify(&handle)?;
    if !want.is_devpts_ptmx() {
        return Err(ConsoleError::NotPtmx(want));
    }
    let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let master = rustix::fs::open(PTMX, flags, Mode::empty()).map_err(ptmx_err("open"))?;
    let got = identify(&master)?;
    let same = rustix::fs::fstat(&handle)
        .map_err(ptmx_err("fstat"))?
        .st_dev
        == rustix::fs::fstat(&master)
            .map_err(ptmx_err("fstat"))?
            .st_dev;
    if !got.is_devpts_ptmx() || !same {
        return Err(ConsoleError::NotPtmx(got));
    }
    Ok(master)
}

fn identify(fd: &OwnedFd) -> Result<PtmxIdentity, ConsoleError> {
    let st = rustix::fs::fstat(fd).map_err(ptmx_err("fstat"))?;
    let sfs = rustix::fs::fstatfs(fd).map_err(ptmx_err("fstatfs"))?;
    Ok(PtmxIdentity {
        fs_type: sfs.f_type as i64,
        mode: st.st_mode,
        ino: st.st_ino,
        rdev: (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev)),
    })
}

/// Bind-mounts the slave onto /dev/console, fd to fd: open_tree clones the slave's own
/// mount (no /proc needed, no path to race), move_mount puts it on the target opened with
/// O_NOFOLLOW, so a symlink planted at /dev/console cannot redirect the mount.
fn bind_console(slave: &OwnedFd) -> Result<(), ConsoleError> {
    let target_err = |op| {
        move |e: rustix::io::Errno| ConsoleError::ConsoleTarget {
            op,
            source: e.into(),
        }
    };
    let create = OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::open("/dev/console", create, Mode::from_raw_mode(0o666)) {
        Ok(_) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(target_err("create")(e)),
    }
    let target = rustix::fs::open(
        "/dev/console",
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(target_err("open"))?;
    let mode = rustix::fs::fstat(&target)
        .map_err(target_err("fstat"))?
        .st_mode;
    if !matches!(
        FileType::from_raw_mode(mode),
        FileType::RegularFile | FileType::CharacterDevice
    ) {
        return Err(ConsoleError::BadConsoleTarget { mode });
    }
    let bind_err = |op| {
        move |e: rustix::io::Errno| ConsoleError::BindConsole {
            op,
            source: e.into(),
        }
    };
    let tree = rustix::mount::open_tree(
        slave,
        "",
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_EMPTY_PATH,
    )
    .map_err(bind_err("open_tree"))?;
    rustix::mount::move_mount(
        &tree,
        "",
        &target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(bind_err("move_mount"))
}

/// Sends the master with the name payload runc uses (utils.SendFd: one sendmsg, the name as
/// data, one SCM_RIGHTS fd), which containerd's go-runc and console packages expect.
fn send_master(socket: &OwnedFd, master: &OwnedFd) -> Result<(), ConsoleError> {
    let fds = [master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(MASTER_NAME)];
    loop {
        match sendmsg::<()>(
            socket.as_raw_fd(),
            &iov,
            &cmsg,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(ConsoleError::SendMaster { source: e.into() }),
        }
    }
}

/// New session (unless already its leader), the slave as controlling terminal, and the
/// slave on fds 0, 1 and 2; the slave's own fd is closed afterwards.
fn make_controlling_stdio(slave: OwnedFd) -> Result<(), ConsoleError> {
    let ctty_err = |op| move |e: io::Error| ConsoleError::Ctty { op, source: e };
    let pid = nix::unistd::getpid();
    if nix::unistd::getsid(None).map_err(|e| ctty_err("getsid")(e.into()))? != pid {
        nix::unistd::setsid().map_err(|e| ctty_err("setsid")(e.into()))?;
    }
    rustix::process::ioctl_tiocsctty(&slave).map_err(|e| ctty_err("TIOCSCTTY")(e.into()))?;
    // dup2 onto itself would keep O_CLOEXEC, so a slave that landed on 0..2 moves up first.
    let slave = if slave.as_raw_fd() < 3 {
        rustix::io::fcntl_dupfd_cloexec(&slave, 3).map_err(|e| ctty_err("dup")(e.into()))?
    } else {
        slave
    };
    nix::unistd::dup2_stdin(&slave).map_err(|e| ctty_err("dup2 stdin")(e.into()))?;
    nix::unistd::dup2_stdout(&slave).map_err(|e| ctty_err("dup2 stdout")(e.into()))?;
    nix::unistd::dup2_stderr(&slave).map_err(|e| ctty_err("dup2 stderr")(e.into()))?;
    Ok(())
}

/// Receives a pty master sent by [`setup`] (or by runc/crun): one message, one fd, which
/// arrives close-on-exec. Used by hull's tests, `hull run` and the shim.
pub fn recv_master(socket: BorrowedFd) -> Result<OwnedFd, ConsoleError> {
    let mut name = [0u8; MAX_NAME];
    let mut iov = [IoSliceMut::new(&mut name)];
    // Room for a few fds, so a sender that sends too many cannot make them vanish unseen
    // (truncated control data) but gets a clear error and the extra fds closed.
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let msg = loop {
        match recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => break msg,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(ConsoleError::Recv { source: e.into() }),
        }
    };
    let mut fds: Vec<OwnedFd> = Vec::new();
    for c in msg
        .cmsgs()
        .map_err(|e| ConsoleError::Recv { source: e.into() })?
    {
        if let ControlMessageOwned::ScmRights(raw) = c {
            // SAFETY: SCM_RIGHTS installed these fds in this process just now; nothing
            // else owns them, so each gets exactly one owner (closed on drop).
            fds.extend(
                raw.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    match fds.len() {
        1 => fds.pop().ok_or(ConsoleError::RecvFds { count: 0 }),
        count => Err(ConsoleError::RecvFds { count }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::socketpair;
    use std::os::fd::AsFd;

    fn real_ptmx() -> PtmxIdentity {
        PtmxIdentity {
            fs_type: DEVPTS_SUPER_MAGIC,
            mode: libc::S_IFCHR | 0o666,
            ino: 2,
            rdev: (5, 2),
        }
    }

    #[test]
    fn only_devpts_ptmx_passes() {
        assert!(real_ptmx().is_devpts_ptmx());
        let tmpfs = PtmxIdentity {
            fs_type: 0x0102_1994,
            ..real_ptmx()
        };
        assert!(!tmpfs.is_devpts_ptmx());
        let pts0 = PtmxIdentity {
            ino: 3,
            rdev: (136, 0),
            ..real_ptmx()
        };
        assert!(!pts0.is_devpts_ptmx());
        let fifo = PtmxIdentity {
            mode: libc::S_IFIFO | 0o666,
            ..real_ptmx()
        };
        assert!(!fifo.is_devpts_ptmx());
        assert_eq!(
            ConsoleError::NotPtmx(tmpfs).to_string(),
            "/dev/pts/ptmx is not a devpts ptmx device (fs magic 0x1021994, mode 0o20666, inode 2, device 5:2)"
        );
    }

    #[test]
    fn send_and_receive_a_fd() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        send_master(&a, &w).unwrap();
        drop(w);
        let got = recv_master(b.as_fd()).unwrap();
        let flags = rustix::io::fcntl_getfd(&got).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
        nix::unistd::write(&got, b"hi").unwrap();
        drop(got);
        let mut buf = [0u8; 4];
        assert_eq!(nix::unistd::read(&r, &mut buf).unwrap(), 2);
    }

    #[test]
    fn receive_without_fd_is_an_error() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        nix::unistd::write(&a, b"name").unwrap();
        let e = recv_master(b.as_fd()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "console socket message carried 0 fds, want 1"
        );
    }

    #[test]
    fn connect_names_the_path() {
        let e = connect(Path::new("/nonexistent/console.sock")).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("connect to console socket /nonexistent/console.sock: "));
    }

    #[test]
    fn connect_reaches_long_paths() {
        use std::time::{SystemTime, UNIX_EPOCH};
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let base =
            std::env::temp_dir().join(format!("hull-console-{}-{nanos}", std::process::id()));
        let dir = base.join("d".repeat(60)).join("e".repeat(60));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("console.sock");
        assert!(path.as_os_str().len() > 108);
        let listener = socket::socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        let (addr, _dirfd) = long_addr(&path).unwrap();
        socket::bind(listener.as_raw_fd(), &addr).unwrap();
        socket::listen(&listener, socket::Backlog::new(1).unwrap()).unwrap();
        let client = connect(&path).unwrap();
        let server = socket::accept(&listener).unwrap();
        nix::unistd::write(&client, b"x").unwrap();
        let mut b = [0u8; 1];
        assert_eq!(nix::unistd::read(&server, &mut b).unwrap(), 1);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
