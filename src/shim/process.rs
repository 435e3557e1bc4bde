//! The task table: each container's init and exec processes with their status, pid and
//! exit, and [`ExitTable`], which matches reaped pids to those processes.
//!
//! The exit of a process can be reaped before the code that started it has even read its
//! pid (`/bin/true` is gone before `hull exec` returns). So a starter opens a *window* before
//! it runs `hull`: every exit reaped while the window is open is kept in it, and when the
//! starter learns the pid it looks there first (containerd 1.7's runc shim does the same).
//! Around `hull start` the init's exit is *held* instead, so TaskExit never goes out before
//! TaskStart.

use super::io::ProcIo;
use super::reaper::Exit;
use std::collections::HashMap;
use std::path::PathBuf;
use tokio::sync::watch;

/// Which process of which container: `exec_id` is empty for the init.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProcKey {
    /// The container id.
    pub id: String,
    /// The exec id; empty for the init process.
    pub exec_id: String,
}

/// A window opened by [`ExitTable::open_window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window(u64);

#[derive(Debug)]
struct Owner {
    key: ProcKey,
    held: bool,
    stashed: Option<Exit>,
}

/// Matches reaped pids to processes, without losing an exit that comes early.
#[derive(Debug, Default)]
pub struct ExitTable {
    owners: HashMap<i32, Owner>,
    windows: HashMap<Window, Vec<Exit>>,
    next: u64,
}

impl ExitTable {
    /// Starts recording every exit; call before running the `hull` command that creates a
    /// process whose pid is not known yet.
    pub fn open_window(&mut self) -> Window {
        let w = Window(self.next);
        self.next += 1;
        self.windows.insert(w, Vec::new());
        w
    }

    /// Stops recording (the start failed).
    pub fn close_window(&mut self, w: Window) {
        self.windows.remove(&w);
    }

    /// The pid of the process started under `w` is known: its exit if it already came,
    /// else it is registered and a later [`ExitTable::on_exit`] reports it.
    pub fn started(&mut self, w: Window, pid: i32, key: ProcKey) -> Option<(ProcKey, Exit)> {
        let early = self
            .windows
            .remove(&w)
            .and_then(|exits| exits.into_iter().find(|e| e.pid == pid));
        match early {
            Some(exit) => Some((key, exit)),
            None => {
                self.owners.insert(
                    pid,
                    Owner {
                        key,
                        held: false,
                        stashed: None,
                    },
                );
                None
            }
        }
    }

    /// A process was reaped: its owner, unless nobody claimed the pid or the owner's exit is
    /// held.
    pub fn on_exit(&mut self, exit: Exit) -> Option<(ProcKey, Exit)> {
        for exits in self.windows.values_mut() {
            exits.push(exit);
        }
        let owner = self.owners.get_mut(&exit.pid)?;
        if owner.held {
            owner.stashed = Some(exit);
            return None;
        }
        self.owners.remove(&exit.pid).map(|o| (o.key, exit))
    }

    /// Keeps the exit of `pid` back until [`ExitTable::release`] (around `hull start`).
    pub fn hold(&mut self, pid: i32) {
        if let Some(o) = self.owners.get_mut(&pid) {
            o.held = true;
        }
    }

    /// Ends a hold: the exit that came meanwhile, if any.
    pub fn release(&mut self, pid: i32) -> Option<(ProcKey, Exit)> {
        let o = self.owners.get_mut(&pid)?;
        o.held = false;
        if o.stashed.is_some() {
            return self
                .owners
                .remove(&pid)
                .and_then(|o| o.stashed.map(|e| (o.key, e)));
        }
        None
    }

    /// Forgets `pid` (its process was deleted before it exited).
    pub fn forget(&mut self, pid: i32) {
        self.owners.remove(&pid);
    }
}

/// The life of one process as containerd sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Created, not started.
    Created,
    /// Started and not reaped.
    Running,
    /// Frozen (the init only; its execs keep Running, as containerd's runc shim reports).
    Paused,
    /// Reaped.
    Stopped,
}

/// The stdio containerd asked for.
#[derive(Debug, Clone, Default)]
pub struct StdioPaths {
    /// Stdin fifo (empty: none).
    pub stdin: String,
    /// Stdout fifo or `file://` URI.
    pub stdout: String,
    /// Stderr fifo.
    pub stderr: String,
    /// Whether the process has a pty.
    pub terminal: bool,
}

/// One process: the init or an exec.
pub struct Proc {
    /// Host pid; 0 before it exists.
    pub pid: i32,
    /// Where it is in its life.
    pub status: Status,
    /// The exit, once reaped.
    pub exit: Option<Exit>,
    /// Wakes `Wait` callers when the exit is recorded.
    pub exited: watch::Sender<Option<Exit>>,
    /// Its stdio as requested.
    pub stdio: StdioPaths,
    /// The copy tasks and the pty, while they live.
    pub io: Option<ProcIo>,
    /// For an exec: the process JSON (`spec` of the exec request).
    pub spec: Vec<u8>,
}

impl Proc {
    /// A process that does not exist yet.
    pub fn new(stdio: StdioPaths, spec: Vec<u8>) -> Proc {
        Proc {
            pid: 0,
            status: Status::Created,
            exit: None,
            exited: watch::channel(None).0,
            stdio,
            io: None,
            spec,
        }
    }

    /// Records the exit and wakes the waiters.
    pub fn set_exited(&mut self, exit: Exit) {
        self.status = Status::Stopped;
        self.exit = Some(exit);
        self.exited.send_replace(Some(exit));
    }
}

/// Everything the shim knows about one container.
pub struct Container {
    /// The bundle directory.
    pub bundle: PathBuf,
    /// Whether the shim mounted `<bundle>/rootfs` (and so unmounts it on delete).
    pub mounted_rootfs: bool,
    /// The init process.
    pub init: Proc,
    /// Exec processes by exec id.
    pub execs: HashMap<String, Proc>,
    /// True when the container shares the host's pid namespace: then the init's exit does not
    /// kill the rest, and the shim must (`kill --all`), as containerd's runc shim does.
    pub shares_host_pids: bool,
}

impl Container {
    /// The process `exec_id` names (empty: the init).
    pub fn proc(&self, exec_id: &str) -> Option<&Proc> {
        if exec_id.is_empty() {
            Some(&self.init)
        } else {
            self.execs.get(exec_id)
        }
    }

    /// Mutable [`Container::proc`].
    pub fn proc_mut(&mut self, exec_id: &str) -> Option<&mut Proc> {
        if exec_id.is_empty() {
            Some(&mut self.init)
        } else {
            self.execs.get_mut(exec_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn key(exec: &str) -> ProcKey {
        ProcKey {
            id: "c".into(),
            exec_id: exec.into(),
        }
    }

    fn exit(pid: i32, status: u32) -> Exit {
        Exit {
            pid,
            status,
            at: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn an_exit_before_the_pid_is_known_is_kept_in_the_window() {
        let mut t = ExitTable::default();
        let w = t.open_window();
        assert_eq!(t.on_exit(exit(42, 3)), None);
        assert_eq!(t.started(w, 42, key("e")), Some((key("e"), exit(42, 3))));
        // Reported once only.
        assert_eq!(t.on_exit(exit(42, 3)), None);
    }

    #[test]
    fn an_exit_after_start_goes_to_the_owner() {
        let mut t = ExitTable::default();
        let w = t.open_window();
        assert_eq!(t.started(w, 7, key("")), None);
        assert_eq!(t.on_exit(exit(8, 0)), None);
        assert_eq!(t.on_exit(exit(7, 137)), Some((key(""), exit(7, 137))));
        assert_eq!(t.on_exit(exit(7, 137)), None);
    }

    #[test]
    fn windows_see_only_exits_while_open() {
        let mut t = ExitTable::default();
        assert_eq!(t.on_exit(exit(5, 1)), None);
        let w = t.open_window();
        assert_eq!(
            t.started(w, 5, key("a")),
            None,
            "exit came before the window"
        );
        let w2 = t.open_window();
        t.close_window(w2);
        assert_eq!(t.on_exit(exit(9, 0)), None);
        assert!(t.windows.is_empty());
    }

    #[test]
    fn a_held_exit_waits_for_release() {
        let mut t = ExitTable::default();
        let w = t.open_window();
        t.started(w, 10, key(""));
        t.hold(10);
        assert_eq!(t.on_exit(exit(10, 0)), None);
        assert_eq!(t.release(10), Some((key(""), exit(10, 0))));
        assert_eq!(t.release(10), None);
    }

    #[test]
    fn release_without_exit_rearms_the_owner() {
        let mut t = ExitTable::default();
        let w = t.open_window();
        t.started(w, 11, key(""));
        t.hold(11);
        assert_eq!(t.release(11), None);
        assert_eq!(t.on_exit(exit(11, 2)), Some((key(""), exit(11, 2))));
    }

    #[test]
    fn a_forgotten_pid_is_ignored() {
        let mut t = ExitTable::default();
        let w = t.open_window();
        t.started(w, 12, key("x"));
        t.forget(12);
        assert_eq!(t.on_exit(exit(12, 0)), None);
    }

    #[test]
    fn concurrent_windows_each_see_their_own_pid() {
        let mut t = ExitTable::default();
        let a = t.open_window();
        let b = t.open_window();
        t.on_exit(exit(20, 1));
        t.on_exit(exit(21, 2));
        assert_eq!(t.started(a, 21, key("a")), Some((key("a"), exit(21, 2))));
        assert_eq!(t.started(b, 20, key("b")), Some((key("b"), exit(20, 1))));
    }
}
