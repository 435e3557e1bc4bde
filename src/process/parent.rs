//! The parent's side of the create path: answer the child's requests in protocol order (id
//! maps, init pid, cgroup placement, prestart/createRuntime hooks) until the init is Ready.
//! On any failure the child is killed and reaped before the error is returned.

use super::sync::{Msg, SyncSocket};
use super::{Init, InitRequest, ProcessError};
use crate::namespaces::{self, NsPlan};
use crate::state::{StateError, Status};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::OwnedFd;

/// Drives the cloned child (`pid`: the init, or the bootstrap when `plan.staged`).
pub fn drive(
    req: &InitRequest<'_>,
    seccomp: Option<&crate::security::seccomp::Filter>,
    plan: &NsPlan,
    sock: SyncSocket,
    pid: i32,
    pidfd: OwnedFd,
    record_pid: &mut dyn FnMut(i32, u64) -> Result<(), StateError>,
) -> Result<Init, ProcessError> {
    let mut child = Child {
        pid,
        pidfd,
        reaped: false,
    };
    let result = steps(req, seccomp, plan, &sock, &mut child, record_pid);
    if result.is_err() {
        child.kill_and_reap();
    }
    result
}

/// The process the parent is driving; killed and reaped if create fails.
struct Child {
    pid: i32,
    pidfd: OwnedFd,
    reaped: bool,
}

impl Child {
    fn kill_and_reap(&mut self) {
        if self.reaped {
            return;
        }
        let _ = rustix::process::pidfd_send_signal(&self.pidfd, rustix::process::Signal::KILL);
        // Only our own children can be waited for; a staged init is a grandchild and is
        // reaped by whoever it was re-parented to.
        let _ = waitpid(Pid::from_raw(self.pid), Some(WaitPidFlag::__WALL));
        self.reaped = true;
    }
}

fn steps(
    req: &InitRequest<'_>,
    seccomp: Option<&crate::security::seccomp::Filter>,
    plan: &NsPlan,
    sock: &SyncSocket,
    child: &mut Child,
    record_pid: &mut dyn FnMut(i32, u64) -> Result<(), StateError>,
) -> Result<Init, ProcessError> {
    let config = req.config;
    if plan.staged {
        // sync: MapIds / IdsMapped / InitPid
        let init_pid = bootstrap_exchange(req, sock, child)?;
        reap_bootstrap(child)?;
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(init_pid).ok_or(ProcessError::ChildDied {
                status: "no init pid".into(),
            })?,
            rustix::process::PidfdFlags::empty(),
        )
        .map_err(|e| crate::sys::SysError::from_errno("pidfd_open", e.raw_os_error()))?;
        *child = Child {
            pid: init_pid,
            pidfd,
            reaped: false,
        };
    } else if plan.new_userns {
        namespaces::write_maps(child.pid, &config.uid_mappings, &config.gid_mappings)?;
    }
    let start_time = super::stat::read(child.pid)
        .map(|s| s.start_time)
        .unwrap_or(0);
    record_pid(child.pid, start_time)?;
    // From here, before the init runs anything: limits it could not set itself in a user ns.
    crate::security::apply_limits(child.pid, &config.process)?;
    let mut state = req.state.clone();
    state.pid = child.pid;
    let state_json = serde_json::to_string(&state).unwrap_or_default();
    // sync: Go
    send(
        sock,
        child,
        &Msg::Go {
            state: state_json.clone(),
        },
    )?;
    let hooks = &config.hooks;
    if !hooks.prestart.is_empty() || !hooks.create_runtime.is_empty() {
        // sync: RunHooks / HooksDone
        expect(sock, child, &Msg::RunHooks, "RunHooks")?;
        crate::hooks::run("prestart", &hooks.prestart, state_json.as_bytes())?;
        crate::hooks::run(
            "createRuntime",
            &hooks.create_runtime,
            state_json.as_bytes(),
        )?;
        send(sock, child, &Msg::HooksDone)?;
    }
    // sync: [SeccompFd / SeccompDone], Ready
    wait_ready(sock, child, seccomp, &state)?;
    let pidfd = child.pidfd.try_clone().map_err(|e| {
        crate::sys::SysError::from_errno("dup pidfd", e.raw_os_error().unwrap_or(0))
    })?;
    child.reaped = true; // success: the init lives on
    debug_assert_eq!(state.status, Status::Creating);
    Ok(Init {
        pid: child.pid,
        pidfd,
        start_time,
    })
}

/// Waits for Ready, handing a seccomp notify fd to its listener on the way.
fn wait_ready(
    sock: &SyncSocket,
    child: &mut Child,
    seccomp: Option<&crate::security::seccomp::Filter>,
    state: &crate::state::OciState,
) -> Result<(), ProcessError> {
    loop {
        let (msg, fd) = match sock.recv_fd() {
            Ok(x) => x,
            Err(super::sync::SyncError::Eof) => {
                return Err(ProcessError::ChildDied {
                    status: exit_status(child),
                })
            }
            Err(e) => return Err(e.into()),
        };
        match (msg, fd, seccomp.and_then(|f| f.listener.as_ref())) {
            (Msg::Ready, _, _) => return Ok(()),
            (Msg::SeccompFd, Some(fd), Some(listener)) => {
                crate::security::seccomp::send_to_listener(listener, &fd, child.pid, state)?;
                sock.send(&Msg::SeccompDone)?;
            }
            (Msg::Error { errno, op, context }, _, _) => {
                return Err(ProcessError::Child { op, errno, context })
            }
            (other, _, _) => {
                return Err(super::sync::SyncError::Unexpected {
                    expected: "Ready",
                    got: Box::new(other),
                }
                .into())
            }
        }
    }
}

/// Answers the bootstrap until it reports the init's pid.
fn bootstrap_exchange(
    req: &InitRequest<'_>,
    sock: &SyncSocket,
    child: &mut Child,
) -> Result<i32, ProcessError> {
    loop {
        match recv(sock, child)? {
            Msg::MapIds { pid } => {
                namespaces::write_maps(pid, &req.config.uid_mappings, &req.config.gid_mappings)?;
                send(sock, child, &Msg::IdsMapped)?;
            }
            Msg::InitPid { pid } => return Ok(pid),
            other => {
                return Err(super::sync::SyncError::Unexpected {
                    expected: "MapIds or InitPid",
                    got: Box::new(other),
                }
                .into())
            }
        }
    }
}

/// The bootstrap exits right after reporting the init's pid; reap it so it is no zombie.
fn reap_bootstrap(child: &mut Child) -> Result<(), ProcessError> {
    let status = waitpid(Pid::from_raw(child.pid), None)
        .map_err(|e| crate::sys::SysError::from_errno("waitpid bootstrap", e as i32))?;
    child.reaped = true;
    match status {
        WaitStatus::Exited(_, 0) => Ok(()),
        other => Err(ProcessError::ChildDied {
            status: describe(other),
        }),
    }
}

/// Receives a message; a child Error becomes ProcessError::Child, EOF becomes ChildDied.
fn recv(sock: &SyncSocket, child: &mut Child) -> Result<Msg, ProcessError> {
    match sock.recv() {
        Ok(Msg::Error { errno, op, context }) => Err(ProcessError::Child { op, errno, context }),
        Ok(msg) => Ok(msg),
        Err(super::sync::SyncError::Eof) => Err(ProcessError::ChildDied {
            status: exit_status(child),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Sends a message; a child that is gone (killed by a hook, say) becomes ChildDied with how
/// it ended, not a bare socket error.
fn send(sock: &SyncSocket, child: &mut Child, msg: &Msg) -> Result<(), ProcessError> {
    match sock.send(msg) {
        Err(super::sync::SyncError::Eof) => Err(ProcessError::ChildDied {
            status: exit_status(child),
        }),
        other => Ok(other?),
    }
}

fn expect(
    sock: &SyncSocket,
    child: &mut Child,
    want: &Msg,
    name: &'static str,
) -> Result<(), ProcessError> {
    let got = recv(sock, child)?;
    if &got == want {
        Ok(())
    } else {
        Err(super::sync::SyncError::Unexpected {
            expected: name,
            got: Box::new(got),
        }
        .into())
    }
}

/// How the child ended, for an error message; reaps it when it is our child.
fn exit_status(child: &mut Child) -> String {
    match waitpid(Pid::from_raw(child.pid), Some(WaitPidFlag::__WALL)) {
        Ok(status) => {
            child.reaped = true;
            describe(status)
        }
        Err(_) => "it is gone".to_string(),
    }
}

/// Describes a wait status as a shell would.
pub fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exit status {code}"),
        WaitStatus::Signaled(_, sig, _) => format!("killed by signal {}", sig as i32),
        other => format!("{other:?}"),
    }
}
