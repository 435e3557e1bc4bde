//! The container's init before execve: one linear script of named steps, in the order the
//! kernel and the spec require (the reason for each position is next to the call). Any failure
//! is reported to the parent as `Msg::Error` and the init exits; it never fails silently.

use super::env;
use super::exec_fifo::{FifoError, Waiter};
use super::sync::{Msg, SyncError, SyncSocket};
use super::InitRequest;
use crate::console::ConsoleError;
use crate::hooks::HookError;
use crate::namespaces::{NsError, NsPlan};
use crate::rootfs::{self, MountContext, RootfsError};
use crate::security::{self, SecurityError};
use crate::spec::{Config, NsKind};
use crate::state::{OciState, Status};
use crate::sys::SysError;
use nix::sched::CloneFlags;
use nix::sys::signal::{self, SigHandler, SigSet, SigmaskHow, Signal};
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

/// A failed step inside the init (or the bootstrap).
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The sync protocol broke (the parent died or sent something unexpected).
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// A namespace step failed.
    #[error(transparent)]
    Ns(#[from] NsError),
    /// Joining the cgroup failed.
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    /// The seccomp filter could not be installed or handed over.
    #[error(transparent)]
    Seccomp(#[from] crate::security::seccomp::SeccompError),
    /// The built-in init failed.
    #[error(transparent)]
    Pid1(#[from] crate::pid1::Pid1Error),
    /// A mount or rootfs step failed.
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    /// A privilege step failed.
    #[error(transparent)]
    Security(#[from] SecurityError),
    /// The terminal could not be set up.
    #[error(transparent)]
    Console(#[from] ConsoleError),
    /// A createContainer or startContainer hook failed.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// exec.fifo failed.
    #[error(transparent)]
    Fifo(#[from] FifoError),
    /// A wrapped raw syscall failed.
    #[error(transparent)]
    SysCall(#[from] SysError),
    /// A syscall failed.
    #[error("{op}: {source}")]
    Sys {
        /// What was being done.
        op: &'static str,
        /// Why.
        #[source]
        source: nix::Error,
    },
    /// The process to run is not in the container.
    #[error("exec: {arg0:?}: executable file not found in $PATH")]
    NotFound {
        /// `process.args[0]`.
        arg0: String,
    },
    /// `process.cwd` could not be resolved (or made) inside the container.
    #[error("process.cwd: {0}")]
    CwdResolve(#[source] RootfsError),
    /// `process.cwd` could not be entered.
    #[error("process.cwd: chdir to {}: {source}", path.display())]
    Cwd {
        /// The cwd.
        path: PathBuf,
        /// Why.
        #[source]
        source: nix::Error,
    },
    /// execve itself failed.
    #[error("exec {}: {source}", path.display())]
    Exec {
        /// The resolved executable.
        path: PathBuf,
        /// Why.
        #[source]
        source: nix::Error,
    },
}

impl InitError {
    /// The errno behind this error, if one can be found.
    fn errno(&self) -> i32 {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cur {
            if let Some(n) = e.downcast_ref::<nix::Error>() {
                return *n as i32;
            }
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                return io.raw_os_error().unwrap_or(0);
            }
            if let Some(s) = e.downcast_ref::<SysError>() {
                return s.errno();
            }
            cur = e.source();
        }
        0
    }
}

/// What the init (and bootstrap) get from the parent's memory at fork time.
pub struct InitContext<'a> {
    /// The request (config, id, flags).
    pub req: &'a InitRequest<'a>,
    /// The container's config.
    pub config: &'a Config,
    /// The namespace plan.
    pub plan: &'a NsPlan,
    /// The child's end of the sync socket.
    pub sock: SyncSocket,
    /// O_PATH fd of exec.fifo.
    pub fifo: OwnedFd,
    /// The connected console socket, if any.
    pub console: Option<OwnedFd>,
    /// Cloned directly by hull (not forked by a bootstrap): hull is its parent.
    pub direct: bool,
    /// The container's cgroups, to show at a `cgroup` mount.
    pub cgroup_views: &'a [rootfs::CgroupView],
    /// v1 `tasks` files to write "0" to (see `cgroups::Placement`).
    pub cgroup_tasks: &'a [OwnedFd],
    /// The compiled `linux.seccomp` filter.
    pub seccomp: Option<&'a crate::security::seccomp::Filter>,
}

/// Reports `err` to the parent and exits 1.
pub fn fail(ctx: &InitContext<'_>, op: &str, err: InitError) -> ! {
    report(&ctx.sock, op, err)
}

/// Sends `err` over `sock` and exits 1. Once the parent has stopped listening (after Ready),
/// the error goes to the container's stderr instead.
pub fn report(sock: &SyncSocket, op: &str, err: InitError) -> ! {
    let msg = Msg::Error {
        errno: err.errno(),
        op: op.to_string(),
        context: err.to_string(),
    };
    // After Ready the parent is gone and this send fails: a failure after `start` reaches
    // `start` through exec.fifo instead (see exec_fifo::Started), which reports it.
    let _ = sock.send(&msg);
    // SAFETY: _exit skips exit handlers and destructors, which belong to the parent.
    unsafe { libc::_exit(1) }
}

/// Runs the init script; never returns (execve, or exit after reporting an error).
pub fn run(mut ctx: InitContext<'_>) -> ! {
    match script(&mut ctx) {
        Ok(never) => match never {},
        Err((op, e)) => fail(&ctx, op, e),
    }
}

type Step<T> = Result<T, (&'static str, InitError)>;

fn at<E: Into<InitError>>(op: &'static str) -> impl FnOnce(E) -> (&'static str, InitError) {
    move |e| (op, e.into())
}

fn script(ctx: &mut InitContext<'_>) -> Step<Infallible> {
    let cfg = ctx.config;
    // Non-dumpable from birth (hull set it before the fork): nothing in the container may
    // ptrace this process or open its /proc/<pid>/{exe,fd} (CVE-2016-9962, CVE-2019-5736).
    if ctx.direct {
        set_parent_death_signal(true).map_err(at("prctl(PR_SET_PDEATHSIG)"))?;
    }
    // Into the container's cgroup before anything else runs, so its limits cover all of it.
    crate::cgroups::join_self(ctx.cgroup_tasks).map_err(at("join cgroup"))?;
    // sync: Go. The parent has mapped our user namespace and applied our limits.
    let state = wait_go(&ctx.sock)
        .and_then(|json| parse_state(&json))
        .map_err(at("wait for parent"))?;
    // Already so from birth unless hull is rootless (see process::spawn_init).
    crate::security::exe_seal::mark_non_dumpable().map_err(at("prctl(PR_SET_DUMPABLE)"))?;
    if in_user_namespace(ctx) {
        become_root().map_err(at("become root in the user namespace"))?;
    }
    if ctx.plan.unshare_cgroupns {
        // Only now that we are in the container's cgroup, so the namespace is rooted there.
        unshare(CloneFlags::CLONE_NEWCGROUP).map_err(at("unshare cgroup namespace"))?;
    }
    if !ctx.req.no_new_keyring {
        crate::sys::join_session_keyring(ctx.req.id).map_err(at("join session keyring"))?;
    }
    set_uts(cfg).map_err(at("set hostname"))?;
    if cfg.creates_namespace(NsKind::Network) {
        // Before sysctls and hooks, which may expect a working 127.0.0.1 (runc's order).
        crate::namespaces::bring_up_loopback().map_err(at("bring up lo"))?;
    }
    security::apply_personality(cfg.personality).map_err(at("linux.personality"))?;
    // Through the host's /proc/sys, which shows the namespaces of the writer: ours.
    crate::namespaces::apply_sysctls(&cfg.sysctl).map_err(at("sysctl"))?;
    let mounts = MountContext {
        config: cfg,
        cgroups: ctx.cgroup_views,
        userns: in_user_namespace(ctx),
    };
    rootfs::prepare(&mounts).map_err(at("prepare rootfs"))?;
    if !cfg.hooks.prestart.is_empty() || !cfg.hooks.create_runtime.is_empty() {
        // sync: RunHooks / HooksDone
        ctx.sock.send(&Msg::RunHooks).map_err(at("request hooks"))?;
        ctx.sock
            .expect(&Msg::HooksDone, "HooksDone")
            .map_err(at("wait for hooks"))?;
    }
    // createContainer hooks: container namespaces, before pivot_root (runtime-spec).
    let creating = state_json(&state, Status::Creating);
    crate::hooks::run(
        "createContainer",
        &cfg.hooks.create_container,
        creating.as_bytes(),
    )
    .map_err(at("createContainer hooks"))?;
    rootfs::protect(cfg).map_err(at("masked and readonly paths"))?;
    let fifo = ctx
        .fifo
        .try_clone()
        .map_err(|e| ("exec.fifo", sys_io("dup exec.fifo", e)))?;
    // Needs the host's /proc, so before pivot_root.
    let waiter = Waiter::prepare(fifo).map_err(at("exec.fifo"))?;
    rootfs::enter(cfg, ctx.req.no_pivot).map_err(at("pivot_root"))?;
    if let Some(sock) = ctx.console.take() {
        crate::console::setup(sock, cfg.process.console_size).map_err(at("console"))?;
    }
    let cwd = open_cwd(cfg).map_err(at("process.cwd"))?;
    let early_chdir = nix::unistd::fchdir(&cwd);
    // The container's /proc is mounted now; labels go in before the filter and the drop.
    security::apply_exec_labels(&cfg.process).map_err(at("apply security labels"))?;
    let nnp = cfg.process.no_new_privileges;
    let (seccomp_now, seccomp_late) = seccomp_timing(ctx.seccomp, nnp);
    if !nnp {
        // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: before the drop.
        install_seccomp(&ctx.sock, seccomp_now).map_err(at("linux.seccomp"))?;
    }
    security::drop_privileges(&cfg.process, in_user_namespace(ctx))
        .map_err(at("drop privileges"))?;
    if nnp {
        // A filter with a notify listener must be handed over while hull still waits.
        install_seccomp(&ctx.sock, seccomp_now).map_err(at("linux.seccomp"))?;
    }
    if early_chdir.is_err() {
        // A cwd only the container user can enter (root squash): retry as that user.
        nix::unistd::fchdir(&cwd).map_err(|source| {
            (
                "process.cwd",
                InitError::Cwd {
                    path: cfg.process.cwd.clone(),
                    source,
                },
            )
        })?;
    }
    let exec = prepare_exec(&cfg.process, ctx.req.listen_fds).map_err(at("find executable"))?;
    if ctx.direct {
        set_parent_death_signal(false).map_err(at("prctl(PR_SET_PDEATHSIG)"))?;
    }
    // sync: Ready. create returns; we wait for start.
    ctx.sock.send(&Msg::Ready).map_err(at("report ready"))?;
    let started = waiter.wait().map_err(at("wait for start"))?;
    // sync: `start` now reads the fifo until execve closes it; a failure from here on is
    // written there too, so `start` fails with it (runtime-spec: a failing startContainer
    // hook is an error of start).
    let created = state_json(&state, Status::Created);
    let ready = crate::hooks::run(
        "startContainer",
        &cfg.hooks.start_container,
        created.as_bytes(),
    )
    .map_err(at("startContainer hooks"))
    // Last, so the filter constrains as little of hull's own setup as possible; before the
    // built-in init forks, so it binds PID 1 too.
    .and_then(|()| install_seccomp(&ctx.sock, seccomp_late).map_err(at("linux.seccomp")))
    .and_then(|()| match cfg.pid1 {
        // PID 1 stays in fork_child, forwarding and reaping; only the child goes on.
        true => crate::pid1::fork_child()
            .map(drop)
            .map_err(at("built-in init")),
        false => Ok(()),
    })
    .and_then(|()| reset_signals().map_err(at("reset signals")));
    let keep = ctx.req.listen_fds + ctx.req.preserve_fds;
    let (op, e) = match ready {
        // SAFETY: on return we only report and _exit (fail), using or dropping no fd owner.
        Ok(()) => unsafe { seal_and_exec(exec, keep, started.as_fd()) },
        Err(failure) => failure,
    };
    started.report(&e.to_string());
    fail(ctx, op, e)
}

/// A filter and when it goes in.
type Timing<'a> = (
    Option<&'a crate::security::seccomp::Filter>,
    Option<&'a crate::security::seccomp::Filter>,
);

/// When the filter goes in: `(before Ready, right before execve)`. Right before execve unless
/// it must be loaded while privileged (no no_new_privs) or its notify fd must reach hull.
/// The same for the init and for an exec'd process.
pub(super) fn seccomp_timing(
    filter: Option<&crate::security::seccomp::Filter>,
    no_new_privileges: bool,
) -> Timing<'_> {
    let Some(f) = filter else {
        return (None, None);
    };
    if !no_new_privileges || f.listener.is_some() {
        (Some(f), None)
    } else {
        (None, Some(f))
    }
}

/// Installs `filter` (if any) and hands its notify fd to hull over `sock`.
pub(super) fn install_seccomp(
    sock: &SyncSocket,
    filter: Option<&crate::security::seccomp::Filter>,
) -> Result<(), InitError> {
    let Some(filter) = filter else { return Ok(()) };
    if let Some(fd) = crate::security::seccomp::install(filter)? {
        // sync: SeccompFd / SeccompDone
        sock.send_fd(&Msg::SeccompFd, std::os::fd::AsFd::as_fd(&fd))?;
        sock.expect(&Msg::SeccompDone, "SeccompDone")?;
    }
    Ok(())
}

pub(super) fn sys_io(op: &'static str, e: std::io::Error) -> InitError {
    InitError::SysCall(SysError::from_errno(op, e.raw_os_error().unwrap_or(0)))
}

fn in_user_namespace(ctx: &InitContext<'_>) -> bool {
    ctx.config.has_namespace(NsKind::User)
}

/// Waits for Go; returns the state JSON it carries.
pub(super) fn wait_go(sock: &SyncSocket) -> Result<String, InitError> {
    match sock.recv()? {
        Msg::Go { state } => Ok(state),
        other => Err(SyncError::Unexpected {
            expected: "Go",
            got: Box::new(other),
        }
        .into()),
    }
}

fn parse_state(json: &str) -> Result<OciState, InitError> {
    serde_json::from_str(json).map_err(|e| InitError::Sync(SyncError::Decode(e)))
}

fn state_json(state: &OciState, status: Status) -> String {
    let mut s = state.clone();
    s.status = status;
    serde_json::to_string(&s).unwrap_or_default()
}

/// Sets or clears SIGKILL on parent death (only while hull itself is the parent).
pub fn set_parent_death_signal(on: bool) -> Result<(), InitError> {
    let sig = on.then_some(rustix::process::Signal::KILL);
    rustix::process::set_parent_process_death_signal(sig).map_err(|e| InitError::Sys {
        op: "prctl(PR_SET_PDEATHSIG)",
        source: nix::Error::from_raw(e.raw_os_error()),
    })
}

/// unshare(2) with the flags in the error.
pub fn unshare(flags: CloneFlags) -> Result<(), InitError> {
    nix::sched::unshare(flags).map_err(|source| InitError::Ns(NsError::Unshare { flags, source }))
}

pub(super) fn become_root() -> Result<(), InitError> {
    let root = (nix::unistd::Gid::from_raw(0), nix::unistd::Uid::from_raw(0));
    nix::unistd::setresgid(root.0, root.0, root.0).map_err(|source| InitError::Sys {
        op: "setresgid 0 (is gid 0 in linux.gidMappings?)",
        source,
    })?;
    nix::unistd::setresuid(root.1, root.1, root.1).map_err(|source| InitError::Sys {
        op: "setresuid 0 (is uid 0 in linux.uidMappings?)",
        source,
    })
}

fn set_uts(cfg: &Config) -> Result<(), InitError> {
    if !cfg.creates_namespace(NsKind::Uts) {
        return Ok(());
    }
    if let Some(h) = cfg.hostname.as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).map_err(|source| InitError::Sys {
            op: "sethostname",
            source,
        })?;
    }
    if let Some(d) = cfg.domainname.as_deref().filter(|d| !d.is_empty()) {
        rustix::system::setdomainname(d.as_bytes()).map_err(|e| InitError::Sys {
            op: "setdomainname",
            source: nix::Error::from_raw(e.raw_os_error()),
        })?;
    }
    Ok(())
}

/// Resolves (creating it if missing, as runc does) `process.cwd` inside the new root.
fn open_cwd(cfg: &Config) -> Result<OwnedFd, InitError> {
    let cwd = &cfg.process.cwd;
    let resolve = || {
        let root = rootfs::Root::open(std::path::Path::new("/"))?;
        root.mkdir_all(cwd)?;
        root.open_dir(cwd)
    };
    resolve().map_err(InitError::CwdResolve)
}

/// The execve arguments, built before `start` so little work remains after it.
pub(super) struct Exec {
    path: PathBuf,
    cpath: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

/// `listen` is the number of socket-activation fds the process gets (LISTEN_FDS).
pub(super) fn prepare_exec(p: &crate::spec::ProcessConfig, listen: u32) -> Result<Exec, InitError> {
    let arg0 = p.args.first().cloned().unwrap_or_default();
    let path = env::find_executable(&arg0, p.env_var("PATH"))
        .ok_or_else(|| InitError::NotFound { arg0: arg0.clone() })?;
    let cpath = env::path_cstring(&path).ok_or(InitError::NotFound { arg0 })?;
    let envs = env::build_env(&p.env, p.user.uid, &super::fds::listen_env(listen));
    Ok(Exec {
        path,
        cpath,
        argv: env::to_cstrings(p.args.iter().map(String::as_str)),
        envp: env::to_cstrings(envs.iter().map(String::as_str)),
    })
}

/// Closes every fd the process must not get ([`super::fds::seal`]) and execs; returns only
/// the failed step.
///
/// # Safety
/// Fds owned up the stack may be closed on return: the caller must only report (on
/// `report`) and `_exit`, never use or drop an fd owner.
pub(super) unsafe fn seal_and_exec(
    exec: Exec,
    keep: u32,
    report: BorrowedFd<'_>,
) -> (&'static str, InitError) {
    // SAFETY: the caller's contract; on success execve replaces the process.
    match unsafe { super::fds::seal(keep, report) } {
        Err(e) => ("close fds", e.into()),
        Ok(()) => ("exec", exec.run()),
    }
}

impl Exec {
    fn run(self) -> InitError {
        match nix::unistd::execve(&self.cpath, &self.argv, &self.envp) {
            Ok(never) => match never {},
            Err(source) => InitError::Exec {
                path: self.path,
                source,
            },
        }
    }
}

/// The container starts with no blocked signals and default dispositions: hull's caller may
/// have blocked signals (`run` blocks them to forward), and Rust ignores SIGPIPE.
pub(super) fn reset_signals() -> Result<(), InitError> {
    // SAFETY: SIG_DFL installs no handler code; nothing else runs in this process.
    unsafe { signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) }.map_err(|source| {
        InitError::Sys {
            op: "reset SIGPIPE",
            source,
        }
    })?;
    signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None).map_err(|source| {
        InitError::Sys {
            op: "sigprocmask",
            source,
        }
    })
}
