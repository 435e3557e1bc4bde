//! `Container`: one container under test, as a guard. Its methods wrap the runtime's
//! lifecycle commands; its `Drop` kills the init by pidfd, runs `delete --force`, and fails the
//! test if anything is left: a live process, the state directory, a cgroup directory named
//! after the id in any hierarchy, or a mount under the bundle.

use super::bundle::Bundle;
use super::cmd::{command_timeout, OutputExt, Spawned};
use super::hull::{binary_name, Hull};
use super::leaks::{
    cgroups_named, mounts_under, pidfd, remove_cgroups, wait_empty, wait_pidfd, EXIT_WAIT,
};
use serde_json::Value;
use std::fs;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

/// A container id on a bundle under a [`Hull`] root, cleaned up and checked on drop.
pub struct Container {
    hull: Hull,
    id: String,
    bundle: Bundle,
    pid: Option<i32>,
    pidfd: Option<OwnedFd>,
    /// The files that received the container's stdio (from `create`, `run`).
    io: Option<(PathBuf, PathBuf)>,
    /// A `run` in the foreground, started with [`Container::spawn_run`].
    foreground: Option<Spawned>,
}

impl Container {
    /// Wraps `id` on `bundle`; nothing runs until a lifecycle method is called.
    pub fn new(hull: Hull, id: String, bundle: Bundle) -> Container {
        Container {
            hull,
            id,
            bundle,
            pid: None,
            pidfd: None,
            io: None,
            foreground: None,
        }
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The runtime handle (same `--root`).
    pub fn hull(&self) -> &Hull {
        &self.hull
    }

    /// The bundle.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The bundle, to edit its config before `create`.
    pub fn bundle_mut(&mut self) -> &mut Bundle {
        &mut self.bundle
    }

    /// The init's pid as recorded after create/run (None before, or if it was never known).
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    fn bundle_arg(&self) -> String {
        self.bundle.path().to_string_lossy().into_owned()
    }

    fn lifecycle_args(&self, verb: &str, extra: &[&str]) -> Vec<String> {
        let mut args = vec![verb.to_string(), "--bundle".into(), self.bundle_arg()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(self.id.clone());
        args
    }

    /// `create --bundle B <extra...> <id>`, whatever the result; records the pid on success.
    pub fn create_with(&mut self, extra: &[&str]) -> Output {
        let sp = self.hull.spawn(&self.lifecycle_args("create", extra));
        self.io = Some(sp.paths());
        let out = sp.wait();
        if out.status.success() {
            self.record_pid();
        }
        out
    }

    /// `create`, failing the test unless it succeeds.
    pub fn create(&mut self) -> Output {
        let out = self.create_with(&[]);
        assert!(
            out.status.success(),
            "create {}: {}",
            self.id,
            out.describe()
        );
        out
    }

    /// `start <id>`, whatever the result.
    pub fn try_start(&self) -> Output {
        self.hull.run(&["start", &self.id])
    }

    /// `start`, failing the test unless it succeeds.
    pub fn start(&self) -> Output {
        self.hull.ok(&["start", &self.id])
    }

    /// `run --bundle B <extra...> <id>` in the foreground to completion: the result carries
    /// the container's exit status and output.
    pub fn run(&mut self, extra: &[&str]) -> Output {
        let sp = self.hull.spawn(&self.lifecycle_args("run", extra));
        self.io = Some(sp.paths());
        sp.wait()
    }

    /// `run` to completion in the foreground, failing the test unless it exits 0; returns
    /// what the container printed on stdout.
    pub fn run_ok(&mut self) -> String {
        let out = self.run(&[]);
        assert_eq!(out.code(), 0, "{}", out.describe());
        out.stdout_text()
    }

    /// `run --detach`, failing the test unless it succeeds; records the pid.
    pub fn run_detached(&mut self, extra: &[&str]) -> Output {
        let mut args = vec!["--detach"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "run --detach {}: {}",
            self.id,
            out.describe()
        );
        self.record_pid();
        out
    }

    /// Starts `run` in the foreground without waiting; finish it with [`Container::wait_run`].
    /// The pid is recorded once the container shows `running`.
    pub fn spawn_run(&mut self, extra: &[&str]) {
        let sp = self.hull.spawn(&self.lifecycle_args("run", extra));
        self.io = Some(sp.paths());
        self.foreground = Some(sp);
    }

    /// The pid of the foreground runtime process started by [`Container::spawn_run`] (the
    /// `run` a test signals), not of the container.
    pub fn foreground_pid(&self) -> Option<u32> {
        self.foreground.as_ref().map(Spawned::id)
    }

    /// Waits for the foreground `run` started by [`Container::spawn_run`].
    pub fn wait_run(&mut self) -> Output {
        let sp = self
            .foreground
            .take()
            .unwrap_or_else(|| panic!("wait_run without spawn_run"));
        sp.wait()
    }

    /// `exec <id> <command...>`, whatever the result; the process's output and exit status
    /// are the result's.
    pub fn exec(&self, command: &[&str]) -> Output {
        self.exec_with(&[], command)
    }

    /// `exec <flags...> <id> <command...>` (flags such as `--env X=1`, `--user 1000`).
    pub fn exec_with(&self, flags: &[&str], command: &[&str]) -> Output {
        let mut argv = vec!["exec"];
        argv.extend_from_slice(flags);
        argv.push(&self.id);
        argv.extend_from_slice(command);
        self.hull.run(&argv)
    }

    /// `state <id>`, whatever the result.
    pub fn try_state(&self) -> Output {
        self.hull.run(&["state", &self.id])
    }

    /// `state <id>` as JSON, failing the test unless it succeeds.
    pub fn state(&self) -> Value {
        self.hull.state(&self.id)
    }

    /// The `status` field of `state`.
    pub fn status(&self) -> String {
        self.state()["status"].as_str().unwrap_or("").to_string()
    }

    /// Polls `state` until the status is `want`; fails the test after `timeout`.
    pub fn wait_for_status(&mut self, want: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.try_state();
            if out.status.success() {
                let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
                if v["status"] == want {
                    if self.pid.is_none() {
                        self.record_pid_from(&v);
                    }
                    return v;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} did not reach status {want} within {timeout:?}; last state: {}",
                self.id,
                out.describe()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `kill <id> <signal>` (name like `TERM`/`SIGKILL` or a number), whatever the result.
    pub fn kill(&self, signal: &str) -> Output {
        self.hull.run(&["kill", &self.id, signal])
    }

    /// `delete <id>`, whatever the result.
    pub fn delete(&self) -> Output {
        self.hull.run(&["delete", &self.id])
    }

    /// `delete --force <id>`, whatever the result.
    pub fn delete_force(&self) -> Output {
        self.hull.run(&["delete", "--force", &self.id])
    }

    /// Waits until the recorded init process has exited (it may stay a zombie of its
    /// reaper). Returns false on timeout. Fails the test if no pid was recorded.
    pub fn wait_exit(&self, timeout: Duration) -> bool {
        let fd = self
            .pidfd
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no pid recorded", self.id));
        wait_pidfd(fd, timeout)
    }

    /// What the container wrote to stdout so far (its stdio is the file `create`/`run` got).
    pub fn stdout(&self) -> String {
        self.io
            .as_ref()
            .and_then(|(o, _)| fs::read_to_string(o).ok())
            .unwrap_or_default()
    }

    /// What the container (and the runtime command that started it) wrote to stderr.
    pub fn stderr(&self) -> String {
        self.io
            .as_ref()
            .and_then(|(_, e)| fs::read_to_string(e).ok())
            .unwrap_or_default()
    }

    /// Polls the container's stdout until it contains `needle` (a "ready" line the test's
    /// script prints); fails the test after `timeout`.
    pub fn wait_for_stdout(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.stdout();
            if out.contains(needle) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "{}: {needle:?} not on stdout within {timeout:?}; stdout: {out:?}, stderr: {:?}",
                self.id,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn record_pid(&mut self) {
        let out = self.try_state();
        if let Ok(v) = serde_json::from_slice::<Value>(&out.stdout) {
            self.record_pid_from(&v);
        }
    }

    fn record_pid_from(&mut self, state: &Value) {
        let Some(pid) = state["pid"].as_i64().and_then(|p| i32::try_from(p).ok()) else {
            return;
        };
        if pid <= 0 {
            return;
        }
        self.pid = Some(pid);
        self.pidfd = pidfd(pid).ok();
    }

    /// Kills, deletes, and lists whatever is left.
    fn teardown(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.pid.is_none() {
            self.record_pid();
        }
        if let Some(fd) = &self.pidfd {
            let _ = rustix::process::pidfd_send_signal(fd, rustix::process::Signal::KILL);
            if !wait_pidfd(fd, EXIT_WAIT) {
                problems.push(format!(
                    "init pid {} still alive {EXIT_WAIT:?} after SIGKILL",
                    self.pid.unwrap_or(0)
                ));
            }
        }
        let delete = self
            .hull
            .try_run(&["delete", "--force", &self.id], command_timeout());
        if let Some(sp) = self.foreground.take() {
            if sp.try_wait_timeout(EXIT_WAIT).is_none() {
                problems.push(format!("foreground {} run did not exit", binary_name()));
            }
        }
        let state_dir = self.hull.root().join(&self.id);
        if state_dir.exists() {
            problems.push(format!("state dir {} left", state_dir.display()));
        }
        let cgroups = wait_empty(|| cgroups_named(&self.id));
        if !cgroups.is_empty() {
            problems.push(format!(
                "cgroups left (the guard removed them): {cgroups:?}"
            ));
            remove_cgroups(&cgroups);
        }
        let mounts = mounts_under(self.bundle.scratch());
        if !mounts.is_empty() {
            problems.push(format!("mounts left (the guard detached them): {mounts:?}"));
            for m in mounts.iter().rev() {
                let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
            }
        }
        if !problems.is_empty() {
            match delete {
                Ok(out) => problems.push(format!("delete --force: {}", out.describe())),
                Err(e) => problems.push(format!("delete --force: {e}")),
            }
        }
        problems
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let problems = self.teardown();
        if problems.is_empty() {
            return;
        }
        let msg = format!(
            "container {} was not cleaned up:\n  {}",
            self.id,
            problems.join("\n  ")
        );
        if std::thread::panicking() {
            eprintln!("{msg}");
        } else {
            panic!("{msg}");
        }
    }
}
