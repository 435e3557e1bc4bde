//! The lifecycle flows behind the task service: create, start (init and exec) and delete,
//! each a list of named steps around one runtime command, plus the exit handling. State
//! lives in [`Shared`]: one table of containers, each with its own locks (an `ops` lock that
//! orders the init's lifecycle calls, a short state lock never held across an await), so a
//! slow call on one container never stalls another served by the same shim.

use super::events::{CreateInfo, Events};
use super::io::{self, ConsoleSocket, IoError, Plumbing, ProcIo};
use super::mount::{self, RootfsMount};
use super::options::RuntimeOptions;
use super::process::{Container, ExitTable, Proc, ProcKey, Status, StdioPaths, Window};
use super::reaper::{Exit, Reaper};
use super::runtime::{read_pid_file, ChildStdio, CreateOpts, Runtime, RuntimeError};
use containerd_shim_protos::api::CreateTaskRequest;
use std::collections::HashMap;
use std::future::Future;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long delete waits for output still in the pipes (containerd's runc shim: 2 s).
const IO_DRAIN: Duration = Duration::from_secs(2);
/// How long to wait for the pty master once the runtime said it is done.
const CONSOLE_WAIT: Duration = Duration::from_secs(5);

/// A failed lifecycle step, mapped to a ttrpc status by the service.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// No such container or process.
    #[error("{what} {id}: not found")]
    NotFound {
        /// `container` or `process`.
        what: &'static str,
        /// The id.
        id: String,
    },
    /// The id is taken.
    #[error("container {0}: already exists")]
    Exists(String),
    /// The process is in the wrong state for the call.
    #[error("{id}: cannot {op} a {state} process")]
    State {
        /// The id.
        id: String,
        /// The call.
        op: &'static str,
        /// Its state.
        state: &'static str,
    },
    /// The process already exited.
    #[error("process already finished")]
    Finished,
    /// The runtime command failed.
    #[error("OCI runtime {op} failed: {source}")]
    Runtime {
        /// The call.
        op: &'static str,
        /// The runtime's error.
        #[source]
        source: RuntimeError,
    },
    /// Stdio could not be set up.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The rootfs could not be mounted.
    #[error(transparent)]
    Mount(#[from] super::mount::MountError),
    /// The request's options or files are bad.
    #[error(transparent)]
    Options(#[from] super::options::OptionsError),
    /// A file in the bundle could not be written.
    #[error("write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// One container of this shim.
pub struct Ctr {
    /// Its id.
    pub id: String,
    /// Its runtime client.
    pub runtime: Runtime,
    /// Orders the init's lifecycle calls (create, start, delete, pause, resume, update).
    pub ops: tokio::sync::Mutex<()>,
    state: Mutex<Container>,
    oom: Mutex<Option<JoinHandle<()>>>,
}

impl Ctr {
    /// The state, locked briefly (never across an await).
    pub fn state(&self) -> MutexGuard<'_, Container> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Everything the service and the exit dispatcher share.
pub struct Shared {
    /// containerd namespace.
    pub namespace: String,
    /// Event publisher.
    pub events: Arc<Events>,
    /// The reaper.
    pub reaper: Arc<Reaper>,
    /// Whether metrics are v2.
    pub unified: bool,
    containers: Mutex<HashMap<String, Arc<Ctr>>>,
    exits: Mutex<ExitTable>,
}

impl Shared {
    /// The shared state; starts the exit dispatcher.
    pub fn new(namespace: String, events: Arc<Events>, reaper: Arc<Reaper>) -> Arc<Shared> {
        let shared = Arc::new(Shared {
            namespace,
            events,
            reaper: reaper.clone(),
            unified: super::metrics::host_is_unified(),
            containers: Mutex::new(HashMap::new()),
            exits: Mutex::new(ExitTable::default()),
        });
        let mut sub = reaper.subscribe();
        let s = shared.clone();
        tokio::spawn(async move {
            while let Some(exit) = sub.next().await {
                let owner = s.exits().on_exit(exit);
                if let Some((key, exit)) = owner {
                    s.clone().handle_exit(key, exit);
                }
            }
        });
        shared
    }

    fn exits(&self) -> MutexGuard<'_, ExitTable> {
        self.exits.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn table(&self) -> MutexGuard<'_, HashMap<String, Arc<Ctr>>> {
        self.containers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The container `id`.
    pub fn get(&self, id: &str) -> Result<Arc<Ctr>, TaskError> {
        self.table().get(id).cloned().ok_or(TaskError::NotFound {
            what: "container",
            id: id.into(),
        })
    }

    /// How many containers this shim serves.
    pub fn count(&self) -> usize {
        self.table().len()
    }

    /// Records an exit and tells containerd (in a task of its own, so the dispatcher goes
    /// on with the next exit while the init's leftovers are killed).
    pub fn handle_exit(self: Arc<Self>, key: ProcKey, exit: Exit) {
        let Ok(ctr) = self.get(&key.id) else {
            return;
        };
        let kill_all = {
            let mut st = ctr.state();
            let shares = st.shares_host_pids;
            let Some(p) = st.proc_mut(&key.exec_id) else {
                return;
            };
            p.set_exited(exit);
            key.exec_id.is_empty() && shares
        };
        tokio::spawn(async move {
            if kill_all {
                // Without its own pid namespace nothing kills the init's children for us.
                let _ = ctr.runtime.kill(&ctr.id, 9, true).await;
            }
            self.events.exited(&key.id, &key.exec_id, exit);
        });
    }

    /// Runs the whole create; on failure nothing of it is left (mounts, state, table entry).
    pub async fn create(
        self: &Arc<Self>,
        req: &CreateTaskRequest,
        runtime_opts: RuntimeOptions,
    ) -> Result<i32, TaskError> {
        let bundle = PathBuf::from(&req.bundle);
        let stdio = StdioPaths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        let runtime = Runtime {
            binary: runtime_opts.binary(),
            root: runtime_opts.root(&self.namespace),
            log: bundle.join("log.json"),
            systemd_cgroup: runtime_opts.systemd_cgroup,
            reaper: self.reaper.clone(),
        };
        let ctr = Arc::new(Ctr {
            id: req.id.clone(),
            runtime,
            ops: tokio::sync::Mutex::new(()),
            state: Mutex::new(Container {
                bundle: bundle.clone(),
                mounted_rootfs: false,
                init: Proc::new(stdio, Vec::new()),
                execs: HashMap::new(),
                shares_host_pids: shares_host_pids(&bundle),
            }),
            oom: Mutex::new(None),
        });
        {
            let mut table = self.table();
            if table.contains_key(&req.id) {
                return Err(TaskError::Exists(req.id.clone()));
            }
            table.insert(req.id.clone(), ctr.clone());
        }
        let _op = ctr.ops.lock().await;
        let result = self.create_steps(&ctr, req, &runtime_opts).await;
        if result.is_err() {
            self.table().remove(&req.id);
            let rootfs = bundle.join("rootfs");
            if ctr.state().mounted_rootfs {
                mount::unmount_all(&rootfs);
            }
        }
        result
    }

    async fn create_steps(
        self: &Arc<Self>,
        ctr: &Arc<Ctr>,
        req: &CreateTaskRequest,
        opts: &RuntimeOptions,
    ) -> Result<i32, TaskError> {
        let bundle = PathBuf::from(&req.bundle);
        opts.save(&bundle)?;
        if !req.rootfs.is_empty() {
            let mounts: Vec<RootfsMount> = req
                .rootfs
                .iter()
                .map(|m| RootfsMount {
                    fstype: m.type_.clone(),
                    source: m.source.clone(),
                    options: m.options.clone(),
                })
                .collect();
            mount::mount_all(&mounts, &bundle.join("rootfs"))?;
            ctr.state().mounted_rootfs = true;
        }
        let pid_file = bundle.join("init.pid");
        let run_opts = CreateOpts {
            pid_file: pid_file.clone(),
            console_socket: None,
            no_pivot: opts.no_pivot_root,
            no_new_keyring: opts.no_new_keyring,
        };
        let stdio = ctr.state().init.stdio.clone();
        let window = self.exits().open_window();
        let started = with_stdio(&stdio, opts, |child, socket| {
            let mut o = run_opts;
            o.console_socket = socket;
            let rt = ctr.runtime.clone();
            let bundle = bundle.clone();
            let id = ctr.id.clone();
            async move { rt.create(&id, &bundle, &o, child).await }
        })
        .await;
        let (pid, io) = match started.and_then(|io| Ok((read_pid(&pid_file, "create")?, io))) {
            Ok(v) => v,
            Err(e) => {
                self.exits().close_window(window);
                let _ = ctr.runtime.delete(&ctr.id, true).await;
                return Err(e);
            }
        };
        {
            let mut st = ctr.state();
            st.init.pid = pid;
            st.init.io = Some(io);
        }
        self.events.created(CreateInfo {
            id: &req.id,
            bundle: &req.bundle,
            rootfs: &req.rootfs,
            stdin: &req.stdin,
            stdout: &req.stdout,
            stderr: &req.stderr,
            terminal: req.terminal,
            pid,
        });
        self.after_start(window, pid, ProcKey::init(&ctr.id));
        let watch = super::oom::watch(pid, &ctr.id, self.events.clone());
        *ctr.oom.lock().unwrap_or_else(PoisonError::into_inner) = watch;
        Ok(pid)
    }

    /// The pid of a new process is known: deliver an exit that came early, else register.
    fn after_start(self: &Arc<Self>, w: Window, pid: i32, key: ProcKey) {
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
        let started = with_stdio(&stdio, &opts, |child, socket| {
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

    /// Deletes the init: runtime state, mounts, the table entry; TaskDelete. Returns the
    /// pid and exit.
    pub async fn delete_init(&self, ctr: &Arc<Ctr>) -> Result<(i32, Option<Exit>), TaskError> {
        let _op = ctr.ops.lock().await;
        let (pid, status) = {
            let st = ctr.state();
            (st.init.pid, st.init.status)
        };
        require(
            &ctr.id,
            "delete",
            status,
            &[Status::Created, Status::Stopped],
        )?;
        if let Err(source) = ctr.runtime.delete(&ctr.id, true).await {
            if !gone(&source) {
                return Err(TaskError::Runtime {
                    op: "delete",
                    source,
                });
            }
        }
        let copies = ctr.state().init.io.as_mut().map(ProcIo::take_copies);
        io::drain(copies.unwrap_or_default(), IO_DRAIN).await;
        let (exit, bundle, mounted) = {
            let mut st = ctr.state();
            st.init.io = None;
            for p in st.execs.values_mut() {
                p.io = None;
            }
            (st.init.exit, st.bundle.clone(), st.mounted_rootfs)
        };
        if exit.is_none() {
            self.exits().forget(pid);
        }
        if mounted {
            mount::unmount_all(&bundle.join("rootfs"));
        }
        if let Some(w) = ctr
            .oom
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            w.abort();
        }
        self.table().remove(&ctr.id);
        self.events.deleted(&ctr.id, pid, exit);
        Ok((pid, exit))
    }

    /// Deletes an exec that is not running; its output is drained first.
    pub async fn delete_exec(
        &self,
        ctr: &Arc<Ctr>,
        exec_id: &str,
    ) -> Result<(i32, Option<Exit>), TaskError> {
        let copies = {
            let mut st = ctr.state();
            let p = st
                .execs
                .get_mut(exec_id)
                .ok_or_else(|| not_found(exec_id))?;
            require(
                exec_id,
                "delete",
                p.status,
                &[Status::Created, Status::Stopped],
            )?;
            p.io.as_mut().map(ProcIo::take_copies).unwrap_or_default()
        };
        io::drain(copies, IO_DRAIN).await;
        let p = ctr
            .state()
            .execs
            .remove(exec_id)
            .ok_or_else(|| not_found(exec_id))?;
        Ok((p.pid, p.exit))
    }
}

impl ProcKey {
    /// The init of `id`.
    pub fn init(id: &str) -> ProcKey {
        ProcKey {
            id: id.into(),
            exec_id: String::new(),
        }
    }

    /// Exec `exec_id` of `id`.
    pub fn exec(id: &str, exec_id: &str) -> ProcKey {
        ProcKey {
            id: id.into(),
            exec_id: exec_id.into(),
        }
    }
}

/// Runs a runtime command that creates a process with the stdio `stdio` asks for: pipes to
/// the fifos, or a console socket whose pty master arrives while the command runs. The
/// copies start once the command succeeded.
async fn with_stdio<F, Fut>(
    stdio: &StdioPaths,
    opts: &RuntimeOptions,
    run: F,
) -> Result<ProcIo, TaskError>
where
    F: FnOnce(ChildStdio, Option<PathBuf>) -> Fut,
    Fut: Future<Output = Result<(), RuntimeError>>,
{
    let op = |source| TaskError::Runtime {
        op: "create",
        source,
    };
    if !stdio.terminal {
        let mut plumbing: Plumbing = io::pipes(
            &stdio.stdin,
            &stdio.stdout,
            &stdio.stderr,
            opts.io_uid,
            opts.io_gid,
        )?;
        let child = std::mem::take(&mut plumbing.child);
        run(child, None).await.map_err(op)?;
        return Ok(io::start_pipes(plumbing));
    }
    let socket = ConsoleSocket::new()?;
    let command = run(ChildStdio::default(), Some(socket.path().to_path_buf()));
    tokio::pin!(command);
    let master: OwnedFd = tokio::select! {
        done = &mut command => {
            done.map_err(op)?;
            tokio::time::timeout(CONSOLE_WAIT, socket.receive())
                .await
                .map_err(|_| IoError::Console {
                    path: socket.path().into(),
                    source: std::io::ErrorKind::TimedOut.into(),
                })??
        }
        master = socket.receive() => {
            let master = master?;
            command.await.map_err(op)?;
            master
        }
    };
    Ok(io::start_console(master, &stdio.stdin, &stdio.stdout)?)
}

fn read_pid(path: &Path, op: &'static str) -> Result<i32, TaskError> {
    read_pid_file(path).map_err(|source| TaskError::Runtime { op, source })
}

fn not_found(exec_id: &str) -> TaskError {
    TaskError::NotFound {
        what: "process",
        id: exec_id.into(),
    }
}

/// Fails unless `status` is one of `allowed`.
pub fn require(
    id: &str,
    op: &'static str,
    status: Status,
    allowed: &[Status],
) -> Result<(), TaskError> {
    if allowed.contains(&status) {
        return Ok(());
    }
    Err(TaskError::State {
        id: id.into(),
        op,
        state: match status {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        },
    })
}

/// Whether a runtime error says the container is already gone.
pub fn gone(e: &RuntimeError) -> bool {
    let text = e.to_string().to_lowercase();
    ["does not exist", "not found", "no such"]
        .iter()
        .any(|w| text.contains(w))
}

/// True unless config.json asks for a new pid namespace (read leniently: a broken config is
/// the runtime's to report).
fn shares_host_pids(bundle: &Path) -> bool {
    let Ok(text) = std::fs::read(bundle.join("config.json")) else {
        return false;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) else {
        return false;
    };
    !v["linux"]["namespaces"].as_array().is_some_and(|ns| {
        ns.iter()
            .any(|n| n["type"] == "pid" && n.get("path").is_none())
    })
}
