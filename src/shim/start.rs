//! Starting processes: the init (`start`, its exit held until TaskStart is out) and execs
//! (`exec --detach`, then TaskExecStarted, then any exit that came first), and the stdio
//! both they and `create` get: pipes to containerd's fifos, or a pty whose master arrives
//! over a console socket while the runtime command runs.

use super::io::{self, ConsoleSocket, IoError, Plumbing, ProcIo};
use super::options::RuntimeOptions;
use super::process::{ProcKey, Status, StdioPaths, Window};
use super::runtime::{read_pid_file, ChildStdio, RuntimeError};
use super::task::{not_found, require, Ctr, Shared, TaskError};
use std::future::Future;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long to wait for the pty master once the runtime said it is done.
const CONSOLE_WAIT: Duration = Duration::from_secs(5);

impl Shared {
    /// The pid of a new process is known: deliver an exit that came early, else register.
    pub(super) fn after_start(self: &Arc<Self>, w: Window, pid: i32, key: ProcKey) {
        let early = self.exits().started(w, pid, key);
        if let Some((key, exit)) = early {
            self.clone().handle_exit(key, exit);
        }
    }

    /// `start` of the init: the exit is held until TaskStart is out.
    pub async fn start_init(self: &Arc<Self>, ctr: &Arc<Ctr>) -> Result<i32, TaskError> {
        let _op = ctr.ops.lock().await;
        let pid = {
            let st = ctr.state();
            require(&ctr.id, "start", st.init.status, &[Status::Created])?;
            st.init.pid
        };
        self.exits().hold(pid);
        let result = ctr.runtime.start(&ctr.id).await;
        if let Err(source) = result {
            self.release(pid);
            return Err(TaskError::Runtime {
                op: "start",
                source,
            });
        }
        {
            let mut st = ctr.state();
            if st.init.status == Status::Created {
                st.init.status = Status::Running;
            }
        }
        self.events.started(&ctr.id, pid);
        self.release(pid);
        Ok(pid)
    }

    fn release(self: &Arc<Self>, pid: i32) {
        let held = self.exits().release(pid);
        if let Some((key, exit)) = held {
            self.clone().handle_exit(key, exit);
        }
    }

    /// `start` of an exec: `exec --detach`, its pid, TaskExecStarted, then any early exit.
    pub async fn start_exec(
        self: &Arc<Self>,
        ctr: &Arc<Ctr>,
        exec_id: &str,
    ) -> Result<i32, TaskError> {
        let (bundle, stdio, spec) = {
            let st = ctr.state();
            let p = st.execs.get(exec_id).ok_or_else(|| not_found(exec_id))?;
            require(exec_id, "start", p.status, &[Status::Created])?;
            (st.bundle.clone(), p.stdio.clone(), p.spec.clone())
        };
        let process = bundle.join(format!("exec-{exec_id}.json"));
        let pid_file = bundle.join(format!("exec-{exec_id}.pid"));
        super::options::write_file(&process, &spec).map_err(|source| TaskError::Write {
            path: process.clone(),
            source,
        })?;
        let opts = RuntimeOptions::load(&bundle).unwrap_or_default();
        let window = self.exits().open_window();
        let started = with_stdio("exec", &stdio, &opts, |child, socket| {
            let rt = ctr.runtime.clone();
            let (id, process, pid_file) = (ctr.id.clone(), process.clone(), pid_file.clone());
            async move {
                rt.exec(&id, &process, &pid_file, socket.as_deref(), child)
                    .await
            }
        })
        .await;
        let result = started.and_then(|io| Ok((read_pid(&pid_file, "exec")?, io)));
        let _ = std::fs::remove_file(&process);
        let _ = std::fs::remove_file(&pid_file);
        let (pid, io) = match result {
            Ok(v) => v,
            Err(e) => {
                self.exits().close_window(window);
                return Err(e);
            }
        };
        if let Some(p) = ctr.state().execs.get_mut(exec_id) {
            p.pid = pid;
            p.status = Status::Running;
            p.io = Some(io);
        }
        self.events.exec_started(&ctr.id, exec_id, pid);
        self.after_start(window, pid, ProcKey::exec(&ctr.id, exec_id));
        Ok(pid)
    }
}

/// Runs a runtime command that creates a process with the stdio `stdio` asks for: pipes to
/// the fifos, or a console socket whose pty master arrives while the command runs. The
/// copies start once the command succeeded.
pub(super) async fn with_stdio<F, Fut>(
    op: &'static str,
    stdio: &StdioPaths,
    opts: &RuntimeOptions,
    run: F,
) -> Result<ProcIo, TaskError>
where
    F: FnOnce(ChildStdio, Option<PathBuf>) -> Fut,
    Fut: Future<Output = Result<(), RuntimeError>>,
{
    let failed = |source| TaskError::Runtime { op, source };
    if !stdio.terminal {
        let mut plumbing: Plumbing = io::pipes(
            &stdio.stdin,
            &stdio.stdout,
            &stdio.stderr,
            opts.io_uid,
            opts.io_gid,
        )?;
        let child = std::mem::take(&mut plumbing.child);
        run(child, None).await.map_err(failed)?;
        return Ok(io::start_pipes(plumbing));
    }
    let socket = ConsoleSocket::new()?;
    let command = run(ChildStdio::default(), Some(socket.path().to_path_buf()));
    tokio::pin!(command);
    let master: OwnedFd = tokio::select! {
        done = &mut command => {
            done.map_err(failed)?;
            tokio::time::timeout(CONSOLE_WAIT, socket.receive())
                .await
                .map_err(|_| IoError::Console {
                    path: socket.path().into(),
                    source: std::io::ErrorKind::TimedOut.into(),
                })??
        }
        master = socket.receive() => {
            let master = master?;
            command.await.map_err(failed)?;
            master
        }
    };
    Ok(io::start_console(master, &stdio.stdin, &stdio.stdout)?)
}

pub(super) fn read_pid(path: &Path, op: &'static str) -> Result<i32, TaskError> {
    read_pid_file(path).map_err(|source| TaskError::Runtime { op, source })
}
