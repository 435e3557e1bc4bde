//! containerd's task API v2, one method per call: each looks the container up, checks the
//! process state, and runs the `hull` command that does the work (the flows with several
//! steps are in `task.rs` and `start.rs`, kill and freeze in `control.rs`). Errors become ttrpc statuses containerd maps back to its own
//! (`NotFound`, `AlreadyExists`, `FailedPrecondition`, `Unimplemented`).

use super::events::timestamp;
use super::options::RuntimeOptions;
use super::process::{Proc, Status, StdioPaths};
use super::task::{Ctr, Shared, TaskError};
use async_trait::async_trait;
use containerd_shim::asynchronous::ExitSignal;
use containerd_shim_protos::api::CheckpointTaskRequest;
use containerd_shim_protos::api::{
    CloseIORequest, ConnectRequest, ConnectResponse, CreateTaskRequest, CreateTaskResponse,
    DeleteRequest, DeleteResponse, Empty, ExecProcessRequest, KillRequest, PauseRequest,
    PidsRequest, PidsResponse, ResizePtyRequest, ResumeRequest, ShutdownRequest, StartRequest,
    StartResponse, StateRequest, StateResponse, StatsRequest, StatsResponse, UpdateTaskRequest,
    WaitRequest, WaitResponse,
};
use containerd_shim_protos::protobuf::MessageField;
use containerd_shim_protos::shim_async::Task;
use containerd_shim_protos::ttrpc::r#async::TtrpcContext;
use containerd_shim_protos::ttrpc::Code;
use containerd_shim_protos::types::task::ProcessInfo;
use std::sync::Arc;

use super::control::{clamp16, details, freeze, kill_exec, not_running};
use super::reply::{detached, rpc, runtime_err, status, task_status, TtrpcResult};

/// The task service of one shim process (one or, grouped, several containers).
pub struct Service {
    shared: Arc<Shared>,
    exit: Arc<ExitSignal>,
}

impl Service {
    /// A service over `shared` that ends the shim through `exit`.
    pub fn new(shared: Arc<Shared>, exit: Arc<ExitSignal>) -> Service {
        Service { shared, exit }
    }

    fn ctr(&self, id: &str) -> TtrpcResult<Arc<Ctr>> {
        self.shared.get(id).map_err(status)
    }
}

#[async_trait]
impl Task for Service {
    async fn create(
        &self,
        _ctx: &TtrpcContext,
        req: CreateTaskRequest,
    ) -> TtrpcResult<CreateTaskResponse> {
        if !req.checkpoint.is_empty() {
            return Err(rpc(
                Code::UNIMPLEMENTED,
                "restore from a checkpoint is not implemented by hull (no CRIU support)".into(),
            ));
        }
        let opts = RuntimeOptions::from_any(req.options.as_ref())
            .map_err(|e| status(TaskError::Options(e)))?;
        let shared = self.shared.clone();
        let pid = detached(async move { shared.create(&req, opts).await })
            .await?
            .map_err(status)?;
        Ok(CreateTaskResponse {
            pid: pid as u32,
            ..Default::default()
        })
    }

    async fn start(&self, _ctx: &TtrpcContext, req: StartRequest) -> TtrpcResult<StartResponse> {
        let ctr = self.ctr(&req.id)?;
        let shared = self.shared.clone();
        let pid = detached(async move {
            if req.exec_id.is_empty() {
                shared.start_init(&ctr).await
            } else {
                shared.start_exec(&ctr, &req.exec_id).await
            }
        })
        .await?
        .map_err(status)?;
        Ok(StartResponse {
            pid: pid as u32,
            ..Default::default()
        })
    }

    async fn delete(&self, _ctx: &TtrpcContext, req: DeleteRequest) -> TtrpcResult<DeleteResponse> {
        let ctr = self.ctr(&req.id)?;
        let shared = self.shared.clone();
        let (pid, exit) = detached(async move {
            if req.exec_id.is_empty() {
                shared.delete_init(&ctr).await
            } else {
                shared.delete_exec(&ctr, &req.exec_id).await
            }
        })
        .await?
        .map_err(status)?;
        Ok(DeleteResponse {
            pid: pid as u32,
            exit_status: exit.map_or(0, |e| e.status),
            exited_at: MessageField::from_option(exit.map(|e| timestamp(e.at))),
            ..Default::default()
        })
    }

    async fn exec(&self, _ctx: &TtrpcContext, req: ExecProcessRequest) -> TtrpcResult<Empty> {
        let ctr = self.ctr(&req.id)?;
        let spec = req
            .spec
            .as_ref()
            .map(|a| a.value.clone())
            .unwrap_or_default();
        {
            let mut st = ctr.state();
            if st.init.status == Status::Stopped {
                return Err(status(TaskError::State {
                    id: req.id.clone(),
                    op: "exec in",
                    state: "stopped",
                }));
            }
            if st.execs.contains_key(&req.exec_id) {
                return Err(rpc(
                    Code::ALREADY_EXISTS,
                    format!("exec {}: already exists", req.exec_id),
                ));
            }
            let stdio = StdioPaths {
                stdin: req.stdin.clone(),
                stdout: req.stdout.clone(),
                stderr: req.stderr.clone(),
                terminal: req.terminal,
            };
            st.execs.insert(req.exec_id.clone(), Proc::new(stdio, spec));
        }
        self.shared.events.exec_added(&req.id, &req.exec_id);
        Ok(Empty::new())
    }

    async fn state(&self, _ctx: &TtrpcContext, req: StateRequest) -> TtrpcResult<StateResponse> {
        let ctr = self.ctr(&req.id)?;
        let st = ctr.state();
        let p = st.proc(&req.exec_id).ok_or_else(|| {
            status(TaskError::NotFound {
                what: "process",
                id: req.exec_id.clone(),
            })
        })?;
        Ok(StateResponse {
            id: if req.exec_id.is_empty() {
                &req.id
            } else {
                &req.exec_id
            }
            .clone(),
            bundle: st.bundle.to_string_lossy().into_owned(),
            pid: p.pid as u32,
            status: task_status(p.status).into(),
            stdin: p.stdio.stdin.clone(),
            stdout: p.stdio.stdout.clone(),
            stderr: p.stdio.stderr.clone(),
            terminal: p.stdio.terminal,
            exit_status: p.exit.map_or(0, |e| e.status),
            exited_at: MessageField::from_option(p.exit.map(|e| timestamp(e.at))),
            exec_id: req.exec_id.clone(),
            ..Default::default()
        })
    }

    async fn kill(&self, _ctx: &TtrpcContext, req: KillRequest) -> TtrpcResult<Empty> {
        let ctr = self.ctr(&req.id)?;
        if !req.exec_id.is_empty() {
            return kill_exec(&ctr, &req.exec_id, req.signal).map(|_| Empty::new());
        }
        if ctr.state().init.status == Status::Stopped && !req.all {
            return Err(status(TaskError::Finished));
        }
        match ctr.runtime.kill(&ctr.id, req.signal, req.all).await {
            Ok(()) => Ok(Empty::new()),
            Err(e) if not_running(&e) => Err(status(TaskError::Finished)),
            Err(e) => Err(runtime_err("kill")(e)),
        }
    }

    async fn pids(&self, _ctx: &TtrpcContext, req: PidsRequest) -> TtrpcResult<PidsResponse> {
        let ctr = self.ctr(&req.id)?;
        let pids = ctr.runtime.ps(&ctr.id).await.map_err(runtime_err("ps"))?;
        let execs: Vec<(u32, String)> = ctr
            .state()
            .execs
            .iter()
            .filter(|(_, p)| p.pid > 0)
            .map(|(id, p)| (p.pid as u32, id.clone()))
            .collect();
        let processes = pids
            .into_iter()
            .map(|pid| ProcessInfo {
                pid,
                info: MessageField::from_option(
                    execs
                        .iter()
                        .find(|(p, _)| *p == pid)
                        .and_then(|(_, id)| details(id)),
                ),
                ..Default::default()
            })
            .collect();
        Ok(PidsResponse {
            processes,
            ..Default::default()
        })
    }

    async fn pause(&self, _ctx: &TtrpcContext, req: PauseRequest) -> TtrpcResult<Empty> {
        let ctr = self.ctr(&req.id)?;
        let events = self.shared.events.clone();
        detached(freeze(ctr, events, true)).await??;
        Ok(Empty::new())
    }

    async fn resume(&self, _ctx: &TtrpcContext, req: ResumeRequest) -> TtrpcResult<Empty> {
        let ctr = self.ctr(&req.id)?;
        let events = self.shared.events.clone();
        detached(freeze(ctr, events, false)).await??;
        Ok(Empty::new())
    }

    async fn update(&self, _ctx: &TtrpcContext, req: UpdateTaskRequest) -> TtrpcResult<Empty> {
        let ctr = self.ctr(&req.id)?;
        let _op = ctr.ops.lock().await;
        let resources = req
            .resources
            .as_ref()
            .map(|a| a.value.clone())
            .unwrap_or_default();
        ctr.runtime
            .update(&ctr.id, &resources)
            .await
            .map_err(runtime_err("update"))?;
        Ok(Empty::new())
    }

    async fn wait(&self, _ctx: &TtrpcContext, req: WaitRequest) -> TtrpcResult<WaitResponse> {
        let ctr = self.ctr(&req.id)?;
        let mut rx = {
            let st = ctr.state();
            let p = st.proc(&req.exec_id).ok_or_else(|| {
                status(TaskError::NotFound {
                    what: "process",
                    id: req.exec_id.clone(),
                })
            })?;
            p.exited.subscribe()
        };
        let exit = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| rpc(Code::NOT_FOUND, "process deleted while waited on".into()))?
            .ok_or_else(|| rpc(Code::INTERNAL, "exit missing".into()))?;
        Ok(WaitResponse {
            exit_status: exit.status,
            exited_at: MessageField::some(timestamp(exit.at)),
            ..Default::default()
        })
    }

    async fn stats(&self, _ctx: &TtrpcContext, req: StatsRequest) -> TtrpcResult<StatsResponse> {
        let ctr = self.ctr(&req.id)?;
        let stats = ctr
            .runtime
            .stats(&ctr.id)
            .await
            .map_err(runtime_err("events"))?;
        let any = super::metrics::to_any(&stats, self.shared.unified)
            .map_err(|e| rpc(Code::INTERNAL, format!("encode metrics: {e}")))?;
        Ok(StatsResponse {
            stats: MessageField::some(any),
            ..Default::default()
        })
    }

    async fn connect(
        &self,
        _ctx: &TtrpcContext,
        req: ConnectRequest,
    ) -> TtrpcResult<ConnectResponse> {
        let task_pid = self.shared.get(&req.id).map_or(0, |c| c.state().init.pid);
        Ok(ConnectResponse {
            shim_pid: std::process::id(),
            task_pid: task_pid as u32,
            version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        })
    }

    async fn shutdown(&self, _ctx: &TtrpcContext, _req: ShutdownRequest) -> TtrpcResult<Empty> {
        // A grouped shim lives on while it still serves a container.
        if self.shared.count() == 0 {
            self.exit.signal();
        }
        Ok(Empty::new())
    }

    async fn resize_pty(&self, _ctx: &TtrpcContext, req: ResizePtyRequest) -> TtrpcResult<Empty> {
        let ctr = self.ctr(&req.id)?;
        let st = ctr.state();
        let io = st
            .proc(&req.exec_id)
            .and_then(|p| p.io.as_ref())
            .ok_or_else(|| rpc(Code::NOT_FOUND, format!("{}: no live stdio", req.id)))?;
        let (w, h) = (clamp16(req.width), clamp16(req.height));
        io.resize(w, h)
            .map_err(|e| rpc(Code::FAILED_PRECONDITION, format!("resize pty: {e}")))?;
        Ok(Empty::new())
    }

    async fn close_io(&self, _ctx: &TtrpcContext, req: CloseIORequest) -> TtrpcResult<Empty> {
        let ctr = self.ctr(&req.id)?;
        if req.stdin {
            let mut st = ctr.state();
            if let Some(io) = st.proc_mut(&req.exec_id).and_then(|p| p.io.as_mut()) {
                io.close_stdin();
            }
        }
        Ok(Empty::new())
    }

    async fn checkpoint(
        &self,
        _ctx: &TtrpcContext,
        _req: CheckpointTaskRequest,
    ) -> TtrpcResult<Empty> {
        Err(rpc(
            Code::UNIMPLEMENTED,
            "checkpoint is not implemented by hull (no CRIU support)".into(),
        ))
    }
}
