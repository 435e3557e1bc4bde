//! Deleting: the init (the runtime's `delete --force`, output drained, rootfs unmounted, the
//! OOM watch stopped, TaskDelete) and exec processes (output drained, forgotten).

use super::io::{self, ProcIo};
use super::mount;
use super::process::Status;
use super::reaper::Exit;
use super::task::{gone, not_found, require, Ctr, Shared, TaskError};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

/// How long delete waits for output still in the pipes (containerd's runc shim: 2 s).
const IO_DRAIN: Duration = Duration::from_secs(2);

impl Shared {
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
