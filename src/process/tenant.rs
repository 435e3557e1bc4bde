//! `exec`: a new process inside a running container. A bootstrap joins every namespace of the
//! container's init that differs from ours (user first, mount last) and forks the tenant, which
//! is then inside the container's pid namespace; the parent puts it in the container's cgroup;
//! the tenant sets up its terminal, cwd and privileges, and execs.
//!
//! ```text
//!  hull exec                     bootstrap                       tenant
//!  open /proc/<init>/ns/*
//!  clone ──────────────────────► setns(each); fork ────────────► (in the container's pid ns)
//!        ◄────────────────────── InitPid{pid}; exit
//!  cgroup, rlimits
//!        ───────────────────────────────────────────────────────► Go
//!                                                                console, cwd, LSM labels,
//!                                                                drop privileges, find binary
//!        ◄─────────────────────────────────────────────────────── [SeccompFd] (notify filter)
//!  send it to listenerPath
//!        ───────────────────────────────────────────────────────► [SeccompDone]
//!        ◄─────────────────────────────────────────────────────── Ready
//!                                                                seccomp; execve; socket closes
//!  EOF: the process runs.        (or ◄── Error when execve failed)
//! ```

use super::clone::{self, Forked};
use super::init::{self, InitError};
use super::sync::{self, Msg, SyncError, SyncSocket};
use super::{Init, ProcessError};
use crate::cgroups::Manager;
use crate::spec::{NsKind, ProcessConfig};
use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

/// What `exec` needs.
pub struct ExecRequest<'a> {
    /// The process to start.
    pub process: &'a ProcessConfig,
    /// The container's init.
    pub init_pid: i32,
    /// The container's cgroup.
    pub cgroup: Option<&'a dyn Manager>,
    /// Connected console socket, with `process.terminal`.
    pub console: Option<OwnedFd>,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// The container's compiled `linux.seccomp`: an exec'd process gets the container's
    /// filter, as in runc (a process outside it would be a way around it).
    pub seccomp: Option<&'a crate::security::seccomp::Filter>,
    /// The container's state, handed to `listenerPath` with a notify fd.
    pub state: &'a crate::state::OciState,
}

/// The init's namespaces that differ from ours, opened before anything is joined.
fn open_namespaces(init_pid: i32) -> Result<Vec<(NsKind, File)>, ProcessError> {
    let mut out = Vec::new();
    for kind in NsKind::JOIN_ORDER {
        let theirs = format!("/proc/{init_pid}/ns/{}", kind.proc_name());
        let ours = format!("/proc/self/ns/{}", kind.proc_name());
        let Ok(file) = File::open(&theirs) else {
            continue;
        };
        let same = match (file.metadata(), std::fs::metadata(&ours)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        };
        if !same {
            out.push((kind, file));
        }
    }
    Ok(out)
}

/// Starts the process; returns once it has exec'd (or failed to).
pub fn spawn_tenant(mut req: ExecRequest<'_>) -> Result<Init, ProcessError> {
    let namespaces = open_namespaces(req.init_pid)?;
    let userns = namespaces.iter().any(|(k, _)| *k == NsKind::User);
    let console = req.console.take();
    // Inherited by the tenant from birth: nothing in the container can open its /proc files.
    crate::security::exe_seal::mark_non_dumpable()?;
    // The tenant is our grandchild; as its reaper we can collect it if setup fails, instead
    // of leaving a zombie for the container's init (which may never reap).
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).map_err(|e| {
        crate::sys::SysError::from_errno("prctl(PR_SET_CHILD_SUBREAPER)", e.raw_os_error())
    })?;
    let (parent_sock, child_sock) = sync::pair()?;
    // As for the init: cgroup2 by CLONE_INTO_CGROUP, v1 by the tenant writing "0" to tasks
    // files opened here (see cgroups::Placement).
    let placement = match req.cgroup {
        Some(cg) => cg.placement()?,
        None => Default::default(),
    };
    let into = placement.clone_into.as_ref().map(AsFd::as_fd);
    // A container that delegated controllers from its own cgroup (a nested runtime, systemd
    // as PID 1) refuses new members there (EBUSY): then hull moves the process by pid, and
    // the manager picks the init's cgroup instead, as runc does.
    let (forked, moved_later) = match clone::clone_child(CloneFlags::empty(), into) {
        Err(e) if e.errno() == libc::EBUSY && into.is_some() => {
            (clone::clone_child(CloneFlags::empty(), None)?, true)
        }
        r => (r?, false),
    };
    match forked {
        Forked::Child => {
            drop(parent_sock);
            bootstrap(
                &req,
                &namespaces,
                child_sock,
                console,
                userns,
                &placement.tasks,
            )
        }
        Forked::Parent { pid, pidfd } => {
            drop((child_sock, console, namespaces));
            let result = drive(&req, &parent_sock, pid, moved_later);
            if result.is_err() {
                let _ = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
                let _ = waitpid(Pid::from_raw(pid), None);
            }
            result
        }
    }
}

fn bootstrap(
    req: &ExecRequest<'_>,
    namespaces: &[(NsKind, File)],
    sock: SyncSocket,
    console: Option<OwnedFd>,
    userns: bool,
    tasks: &[OwnedFd],
) -> ! {
    let joined = namespaces.iter().try_for_each(|(kind, file)| {
        nix::sched::setns(file, kind.clone_flag()).map_err(|source| InitError::Sys {
            op: "setns",
            source,
        })
    });
    if let Err(e) = joined {
        init::report(&sock, "join container namespaces", e);
    }
    // SAFETY: single-threaded process; the child only runs the tenant script.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => match tenant(req, &sock, console, userns, tasks) {
            Ok(never) => match never {},
            Err((op, e)) => init::report(&sock, op, e),
        },
        Ok(ForkResult::Parent { child }) => {
            let code = i32::from(
                sock.send(&Msg::InitPid {
                    pid: child.as_raw(),
                })
                .is_err(),
            );
            // SAFETY: _exit skips exit handlers and destructors, which belong to the parent.
            unsafe { libc::_exit(code) }
        }
        Err(source) => init::report(&sock, "fork", InitError::Sys { op: "fork", source }),
    }
}

type Step<T> = Result<T, (&'static str, InitError)>;

fn at<E: Into<InitError>>(op: &'static str) -> impl FnOnce(E) -> (&'static str, InitError) {
    move |e| (op, e.into())
}

fn tenant(
    req: &ExecRequest<'_>,
    sock: &SyncSocket,
    console: Option<OwnedFd>,
    userns: bool,
    tasks: &[OwnedFd],
) -> Step<std::convert::Infallible> {
    let p = req.process;
    crate::cgroups::join_self(tasks).map_err(at("join cgroup"))?;
    // sync: Go
    init::wait_go(sock).map_err(at("wait for parent"))?;
    if userns {
        init::become_root().map_err(at("become root in the user namespace"))?;
    }
    if let Some(console) = console {
        crate::console::setup(console, p.console_size).map_err(at("console"))?;
    }
    // The cwd must exist: exec never creates directories in a running container.
    let cwd = crate::rootfs::Root::open(std::path::Path::new("/"))
        .and_then(|root| root.open_dir(&p.cwd))
        .map_err(InitError::CwdResolve)
        .map_err(at("process.cwd"))?;
    let early = nix::unistd::fchdir(&cwd);
    crate::security::apply_exec_labels(p).map_err(at("apply security labels"))?;
    // The filter goes in as in the init (see init::seccomp_timing).
    let nnp = p.no_new_privileges;
    let (seccomp_now, seccomp_late) = init::seccomp_timing(req.seccomp, nnp);
    if !nnp {
        init::install_seccomp(sock, seccomp_now).map_err(at("linux.seccomp"))?;
    }
    crate::security::drop_privileges(p, userns).map_err(at("drop privileges"))?;
    if nnp {
        init::install_seccomp(sock, seccomp_now).map_err(at("linux.seccomp"))?;
    }
    if early.is_err() {
        nix::unistd::fchdir(&cwd).map_err(|source| {
            (
                "process.cwd",
                InitError::Cwd {
                    path: p.cwd.clone(),
                    source,
                },
            )
        })?;
    }
    // No socket activation for exec, as in runc: LISTEN_PID=1 would name the container's
    // init, not this process.
    let exec = init::prepare_exec(p, 0).map_err(at("find executable"))?;
    // sync: Ready
    sock.send(&Msg::Ready).map_err(at("report ready"))?;
    init::reset_signals().map_err(at("reset signals"))?;
    init::install_seccomp(sock, seccomp_late).map_err(at("linux.seccomp"))?;
    // An execve failure goes back to `exec` on the sync socket, kept open for it.
    // SAFETY: on return we only report on the socket and _exit.
    let (op, e) = unsafe { init::seal_and_exec(exec, req.preserve_fds, sock.as_fd()) };
    init::report(sock, op, e)
}

fn drive(
    req: &ExecRequest<'_>,
    sock: &SyncSocket,
    bootstrap: i32,
    move_by_pid: bool,
) -> Result<Init, ProcessError> {
    let pid = match recv(sock)? {
        Msg::InitPid { pid } => pid,
        other => {
            return Err(SyncError::Unexpected {
                expected: "InitPid",
                got: Box::new(other),
            }
            .into())
        }
    };
    let _ = waitpid(Pid::from_raw(bootstrap), None);
    let pidfd = rustix::process::Pid::from_raw(pid)
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok())
        .ok_or(ProcessError::ChildDied {
            status: "exec process vanished".into(),
        })?;
    let result = (|| {
        if let (true, Some(cg)) = (move_by_pid, req.cgroup) {
            cg.add_process(pid)?;
        }
        crate::security::apply_limits(pid, req.process)?;
        sock.send(&Msg::Go { state: "{}".into() })?;
        wait_ready(req, sock, pid)?;
        // execve closes the socket (close-on-exec); an Error instead means it failed.
        match sock.recv() {
            Err(SyncError::Eof) => Ok(()),
            Ok(Msg::Error { errno, op, context }) => {
                Err(ProcessError::Child { op, errno, context })
            }
            Ok(other) => Err(SyncError::Unexpected {
                expected: "exec",
                got: Box::new(other),
            }
            .into()),
            Err(e) => Err(e.into()),
        }
    })();
    if let Err(e) = result {
        let _ = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
        let _ = waitpid(Pid::from_raw(pid), None);
        return Err(e);
    }
    let start_time = super::stat::read(pid).map(|s| s.start_time).unwrap_or(0);
    Ok(Init {
        pid,
        pidfd,
        start_time,
    })
}

/// Waits for Ready, handing a seccomp notify fd to the container's listener on the way.
fn wait_ready(req: &ExecRequest<'_>, sock: &SyncSocket, pid: i32) -> Result<(), ProcessError> {
    let listener = req.seccomp.and_then(|f| f.listener.as_ref());
    loop {
        let (msg, fd) = match sock.recv_fd() {
            Err(SyncError::Eof) => {
                return Err(ProcessError::ChildDied {
                    status: "exec process exited during setup".into(),
                })
            }
            other => other?,
        };
        match (msg, fd, listener) {
            (Msg::Ready, _, _) => return Ok(()),
            (Msg::SeccompFd, Some(fd), Some(listener)) => {
                crate::security::seccomp::send_to_listener(listener, &fd, pid, req.state)?;
                sock.send(&Msg::SeccompDone)?;
            }
            (Msg::Error { errno, op, context }, _, _) => {
                return Err(ProcessError::Child { op, errno, context })
            }
            (other, _, _) => {
                return Err(SyncError::Unexpected {
                    expected: "Ready",
                    got: Box::new(other),
                }
                .into())
            }
        }
    }
}

fn recv(sock: &SyncSocket) -> Result<Msg, ProcessError> {
    match sock.recv() {
        Ok(Msg::Error { errno, op, context }) => Err(ProcessError::Child { op, errno, context }),
        Ok(m) => Ok(m),
        Err(SyncError::Eof) => Err(ProcessError::ChildDied {
            status: "exec process exited during setup".into(),
        }),
        Err(e) => Err(e.into()),
    }
}
