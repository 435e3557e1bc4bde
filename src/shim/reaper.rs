//! The shim's only reaper. The shim is a child subreaper (containers' inits and exec'd
//! processes are reparented to it when `hull` exits), so exactly one place may call `waitpid`:
//! this SIGCHLD loop, which reaps with `waitpid(-1)` and hands every exit to every
//! subscriber. Whoever waits for a pid subscribes *before* it spawns (so the exit cannot be
//! reaped unseen between fork and subscription) and picks its own pid out of the stream.
//! That is how a `hull` command's exit status reaches the runtime client even though the
//! loop, not the client, reaps it (the trap: a second `waitpid` would steal it).

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// One reaped process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Its pid.
    pub pid: i32,
    /// Exit code, or 128 + signal when killed (containerd's convention).
    pub status: u32,
    /// When it was reaped.
    pub at: SystemTime,
}

/// A failure to set up reaping.
#[derive(Debug, thiserror::Error)]
pub enum ReaperError {
    /// Becoming a child subreaper failed.
    #[error("prctl(PR_SET_CHILD_SUBREAPER): {0}")]
    Subreaper(#[source] rustix::io::Errno),
    /// The SIGCHLD handler could not be installed.
    #[error("install SIGCHLD handler: {0}")]
    Signal(#[source] std::io::Error),
}

#[derive(Default)]
struct Subscribers {
    next: u64,
    senders: HashMap<u64, mpsc::UnboundedSender<Exit>>,
}

/// The exit fan-out; one per shim process, shared by `Arc`.
#[derive(Default)]
pub struct Reaper {
    subs: Mutex<Subscribers>,
}

impl Reaper {
    /// Makes this process a child subreaper, installs the SIGCHLD handler and starts the
    /// reaping task on the current tokio runtime.
    pub fn start() -> Result<Arc<Reaper>, ReaperError> {
        rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
            .map_err(ReaperError::Subreaper)?;
        let mut sigchld = signal(SignalKind::child()).map_err(ReaperError::Signal)?;
        let reaper = Arc::new(Reaper::default());
        let r = reaper.clone();
        tokio::spawn(async move {
            // Children that exited before the handler existed raised no signal we saw.
            r.reap_all();
            while sigchld.recv().await.is_some() {
                r.reap_all();
            }
        });
        Ok(reaper)
    }

    /// Every exit from now on, until the subscription is dropped.
    pub fn subscribe(self: &Arc<Self>) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut subs = self.subs.lock().unwrap_or_else(PoisonError::into_inner);
        let id = subs.next;
        subs.next += 1;
        subs.senders.insert(id, tx);
        Subscription {
            id,
            rx,
            reaper: self.clone(),
        }
    }

    /// Reaps every child that has exited and tells every subscriber.
    fn reap_all(&self) {
        loop {
            let exit = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => exit_of(pid, code as u32),
                Ok(WaitStatus::Signaled(pid, sig, _)) => exit_of(pid, 128 + sig as u32),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Err(Errno::EINTR) | Ok(_) => continue,
                Err(e) => {
                    log::warn!("waitpid: {e}");
                    return;
                }
            };
            self.publish(exit);
        }
    }

    fn publish(&self, exit: Exit) {
        let mut subs = self.subs.lock().unwrap_or_else(PoisonError::into_inner);
        subs.senders.retain(|_, tx| tx.send(exit).is_ok());
    }
}

fn exit_of(pid: Pid, status: u32) -> Exit {
    Exit {
        pid: pid.as_raw(),
        status,
        at: SystemTime::now(),
    }
}

/// A stream of every exit reaped since [`Reaper::subscribe`]; unsubscribes when dropped.
pub struct Subscription {
    id: u64,
    rx: mpsc::UnboundedReceiver<Exit>,
    reaper: Arc<Reaper>,
}

impl Subscription {
    /// The next exit of any process.
    pub async fn next(&mut self) -> Option<Exit> {
        self.rx.recv().await
    }

    /// Waits for the exit of `pid`, skipping every other one.
    pub async fn wait_for(&mut self, pid: i32) -> Option<Exit> {
        while let Some(exit) = self.rx.recv().await {
            if exit.pid == pid {
                return Some(exit);
            }
        }
        None
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut subs = self
            .reaper
            .subs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        subs.senders.remove(&self.id);
    }
}
