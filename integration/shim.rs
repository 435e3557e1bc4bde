//! containerd 1.6 (Debian's) driving hull two ways: through hull's own shim
//! (`ctr run --runtime io.containerd.hull.v2`) and through containerd's runc shim with
//! `--runc-binary` pointing at hull. Each test starts its own containerd (own root, state,
//! socket, config, namespace in a scratch dir; `PATH` with the shim and `hull`), imports the
//! busybox docker-save archive, and on drop stops everything by pid and fails if a shim, a
//! shim socket, a mount, a cgroup or runtime state is left.
//!
//! Covered: run --rm (output, exit codes, image layers with a whiteout), run -d, exec
//! (output, exit code, tty), ps, pause/resume, metrics, kill, SIGTERM handled by PID 1,
//! `ctr events`, 50 concurrent execs, exits that beat the pid file, a failing runtime command,
//! shim grouping with per-container locks, stdout with no reader, OOM (TaskOOM), kill -9 of
//! the shim / the container / containerd (mid-create too), a containerd restart, a broken
//! config.json, a missing or failing runtime binary.

use crate::support::daemon::{
    client_leftovers, cmdline, image_archive, kill_and_wait, ppid, procs_with_arg, shell_quote,
    short_dir, Daemon, HostDirs, IMAGE,
};
use crate::support::*;
use std::fs;
use std::os::unix::fs::{symlink, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The shim binary cargo built for this test run.
fn shim_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_containerd-shim-hull-v2"))
}

/// Which shim runs the containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `io.containerd.hull.v2` (hull's shim, `hull` on PATH).
    HullShim,
    /// `io.containerd.runc.v2` with `--runc-binary <hull>`.
    RuncShim,
}

/// A private containerd: its dir holds config, root, state, sockets, fifos and a bin dir.
pub struct Containerd {
    dir: PathBuf,
    ns: String,
    bin: PathBuf,
    daemon: Daemon,
    io: PathBuf,
    ids: Mutex<Vec<String>>,
    /// Shim sockets (/run/containerd/s), ctr's and the runtimes' dirs are made there.
    _host: HostDirs,
}

impl Containerd {
    /// `ctr` with this containerd's address and namespace and `args`, quoted for a shell
    /// (for the tests that run it under `script` or in a pipeline).
    pub fn ctr_line(&self, args: &[String]) -> String {
        let address = self.dir.join("c.sock").to_string_lossy().into_owned();
        let words: Vec<&str> = ["ctr", "--address", &address, "--namespace", self.ns()]
            .into_iter()
            .chain(args.iter().map(String::as_str))
            .collect();
        shell_quote(&words)
    }

    /// containerd with `hull` and the shim on its PATH.
    pub fn start() -> Containerd {
        Self::start_with(|bin| {
            symlink(binary(), bin.join("hull")).unwrap_or_else(|e| panic!("link hull: {e}"));
        })
    }

    /// containerd whose PATH has the shim and whatever `fill` puts in its bin dir (a fake or
    /// no `hull`).
    pub fn start_with(fill: impl FnOnce(&Path)) -> Containerd {
        requires(&[
            "root",
            "containerd",
            "ctr",
            "containerd-shim-runc-v2",
            "overlay",
        ]);
        let host = HostDirs::claim(&["/run/containerd"]);
        let dir = short_dir("ctd");
        let bin = dir.join("bin");
        let io = dir.join("io");
        for d in [&bin, &io, &dir.join("fifo")] {
            fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        }
        symlink(shim_binary(), bin.join("containerd-shim-hull-v2"))
            .unwrap_or_else(|e| panic!("link shim: {e}"));
        fill(&bin);
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{d}/c.sock"
[ttrpc]
  address = "{d}/c.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
"#,
            d = dir.display()
        );
        write_file(&dir.join("config.toml"), config.as_bytes());
        let ns = format!(
            "hullit{}",
            dir.file_name().unwrap_or_default().to_string_lossy()
        );
        let daemon = Self::spawn_daemon(&dir, &bin);
        let mut c = Containerd {
            dir,
            ns,
            bin,
            daemon,
            io,
            ids: Mutex::new(Vec::new()),
            _host: host,
        };
        c.wait_ready();
        let archive = image_archive().to_string_lossy().into_owned();
        c.ok(&["images", "import", &archive]);
        c
    }

    fn spawn_daemon(dir: &Path, bin: &Path) -> Daemon {
        let mut cmd = Command::new("containerd");
        cmd.arg("--config").arg(dir.join("config.toml"));
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{path}", bin.display()));
        Daemon::spawn("containerd", cmd, &dir.join("containerd.log"))
    }

    fn wait_ready(&mut self) {
        let sock = self.dir.join("c.sock");
        let ns = self.ns.clone();
        self.daemon.wait_ready(Duration::from_secs(30), || {
            sock.exists()
                && Command::new("ctr")
                    .args(["--address"])
                    .arg(&sock)
                    .args(["--namespace", &ns, "version"])
                    .output()
                    .is_ok_and(|o| o.status.success())
        });
    }

    /// Stops containerd (SIGTERM) and starts it again; shims and containers live on.
    pub fn restart(&mut self) {
        self.daemon.stop();
        self.daemon = Self::spawn_daemon(&self.dir, &self.bin);
        self.wait_ready();
    }

    /// SIGKILLs containerd, then starts it again.
    pub fn crash_and_restart(&mut self) {
        self.daemon.crash();
        self.daemon = Self::spawn_daemon(&self.dir, &self.bin);
        self.wait_ready();
    }

    /// The containerd namespace of this test.
    pub fn ns(&self) -> &str {
        &self.ns
    }

    /// `ctr --address .. --namespace .. <args>`, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address")
            .arg(self.dir.join("c.sock"))
            .args(["--namespace", &self.ns])
            .args(args);
        cmd
    }

    /// Runs ctr to its end (within the suite's deadline), whatever the status.
    pub fn ctr(&self, args: &[&str]) -> Output {
        spawn_in(self.command(args), &self.io).wait()
    }

    /// Starts ctr in the background (`ctr events`, a run to interrupt).
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        spawn_in(self.command(args), &self.io)
    }

    /// Runs ctr; fails the test unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.ctr(args);
        assert!(
            out.status.success(),
            "ctr {args:?}: {}\n--- containerd ---\n{}",
            out.describe(),
            self.daemon.log_tail()
        );
        out
    }

    /// A container id unique to this test, remembered for the socket check.
    pub fn id(&self, tag: &str) -> String {
        let mut ids = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = format!("{tag}{}", ids.len());
        ids.push(id.clone());
        drop(ids);
        id
    }

    fn runtime_args(via: Via) -> Vec<String> {
        match via {
            Via::HullShim => vec!["--runtime".into(), "io.containerd.hull.v2".into()],
            Via::RuncShim => vec![
                "--runtime".into(),
                "io.containerd.runc.v2".into(),
                "--runc-binary".into(),
                binary().to_string_lossy().into_owned(),
            ],
        }
    }

    /// `ctr run <flags> --fifo-dir .. <runtime> <extra> IMAGE id <cmd>`; the caller checks.
    pub fn run_args(&self, via: Via, flags: &[&str], id: &str, cmd: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = vec!["run".into()];
        a.extend(flags.iter().map(|s| s.to_string()));
        a.push("--fifo-dir".into());
        a.push(self.dir.join("fifo").to_string_lossy().into_owned());
        a.extend(Self::runtime_args(via));
        a.push(IMAGE.into());
        a.push(id.into());
        a.extend(cmd.iter().map(|s| s.to_string()));
        a
    }

    /// `ctr run` as [`Containerd::run_args`] builds it.
    pub fn run(&self, via: Via, flags: &[&str], id: &str, cmd: &[&str]) -> Output {
        let a = self.run_args(via, flags, id, cmd);
        self.ctr(&a.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// `ctr task exec --exec-id E [flags] id cmd`.
    pub fn exec(&self, id: &str, exec_id: &str, flags: &[&str], cmd: &[&str]) -> Output {
        let fifo = self.dir.join("fifo").to_string_lossy().into_owned();
        let mut a = vec!["task", "exec", "--fifo-dir", &fifo, "--exec-id", exec_id];
        a.extend_from_slice(flags);
        a.push(id);
        a.extend_from_slice(cmd);
        self.ctr(&a)
    }

    /// Remembers a shim group name, so teardown checks its socket is gone too.
    pub fn track_group(&self, group: &str) {
        self.ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(group.to_string());
    }

    /// The task's pid and status from `ctr task ls`.
    pub fn task(&self, id: &str) -> Option<(i32, String)> {
        let out = self.ok(&["task", "ls"]);
        out.stdout_text().lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&id)).then(|| (f[1].parse().unwrap_or(0), f[2].to_string()))
        })
    }

    /// Waits until the task's status is `want`.
    pub fn wait_status(&self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let st = self.task(id).map(|t| t.1);
            if st.as_deref() == Some(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "task {id}: status {st:?}, want {want}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills, deletes and removes container `id` (as a test would at its end).
    pub fn remove(&self, id: &str) {
        let _ = self.ctr(&["task", "kill", "-a", "-s", "KILL", id]);
        let _ = self.ctr(&["task", "rm", "-f", id]);
        let _ = self.ctr(&["containers", "rm", id]);
    }

    /// Shim processes serving this containerd (their `-address` is its socket).
    pub fn shims(&self) -> Vec<i32> {
        procs_with_arg(&self.dir.join("c.sock").to_string_lossy())
            .into_iter()
            .filter(|p| cmdline(*p).contains("containerd-shim"))
            .collect()
    }

    /// The socket a shim for `group` listens on (containerd's `SocketAddress`).
    fn socket_path(&self, group: &str) -> PathBuf {
        let key = format!("{}/{}/{group}", self.dir.join("c.sock").display(), self.ns);
        let out = Command::new("sh")
            .args(["-c", "printf %s \"$1\" | sha256sum", "sh", &key])
            .output()
            .unwrap_or_else(|e| panic!("sha256sum: {e}"));
        let hash = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        PathBuf::from(format!("/run/containerd/s/{hash}"))
    }

    /// Removes everything this containerd made; the list of what was left over.
    fn teardown(&mut self) -> Vec<String> {
        let mut leaks = Vec::new();
        let listed = self.ctr(&["containers", "ls", "-q"]).stdout_text();
        for id in listed.lines().filter(|l| !l.is_empty()) {
            self.remove(id);
        }
        self.daemon.stop();
        let shims = crate::support::leaks::wait_empty(|| self.shims());
        for pid in shims {
            leaks.push(format!("shim {pid} still running: {}", cmdline(pid)));
            kill_and_wait(pid);
        }
        for id in self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let sock = self.socket_path(id);
            if sock.exists() {
                leaks.push(format!("shim socket {} of {id}", sock.display()));
                let _ = fs::remove_file(&sock);
            }
        }
        for root in ["/run/containerd/hull", "/run/containerd/runc"] {
            let state = Path::new(root).join(&self.ns);
            let left: Vec<_> = fs::read_dir(&state)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            if !left.is_empty() {
                leaks.push(format!("runtime state {left:?} in {}", state.display()));
            }
            let _ = fs::remove_dir_all(&state);
        }
        // containerd's cgroupsPath is /<namespace>/<id>. The runtime that made the
        // <namespace> level removes it only if it is empty when that container goes (runc
        // never does): an empty one is expected, a container cgroup inside it is a leak.
        leaks.extend(client_leftovers(&self.dir, &self.ns, &[]));
        leaks
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let leaks = self.teardown();
        if !leaks.is_empty() && !std::thread::panicking() {
            panic!("containerd test left: {leaks:#?}");
        }
    }
}

fn both() -> [Via; 2] {
    [Via::HullShim, Via::RuncShim]
}

#[test]
fn run_rm_prints_exits_and_sees_the_image_layers() {
    let ctd = Containerd::start();
    for via in both() {
        let id = ctd.id("rm");
        let out = ctd.run(
            via,
            &["--rm"],
            &id,
            &[
                "sh",
                "-c",
                "echo hello; cat /usr/share/hull/base /usr/share/hull/top; ls /etc/doomed; exit 3",
            ],
        );
        assert_eq!(out.code(), 3, "{via:?}: {}", out.describe());
        assert_eq!(out.stdout_text(), "hello\nbase\ntop\n", "{via:?}");
        assert!(
            out.stderr_text().contains("/etc/doomed"),
            "{via:?}: the whiteout: {}",
            out.describe()
        );
        let id = ctd.id("true");
        let out = ctd.run(via, &["--rm"], &id, &["true"]);
        assert_eq!(out.code(), 0, "{via:?}: {}", out.describe());
        assert!(ctd.task(&id).is_none());
    }
}

#[test]
fn detached_task_exec_ps_pause_metrics_and_sigterm() {
    let ctd = Containerd::start();
    for via in both() {
        let id = ctd.id("d");
        let events = ctd.spawn(&["events"]);
        let (events_out, _) = events.paths();
        let script = "trap 'echo got TERM; exit 7' TERM; while true; do sleep 0.1; done";
        let out = ctd.run(via, &["-d"], &id, &["sh", "-c", script]);
        assert_eq!(out.code(), 0, "{via:?}: {}", out.describe());
        let (pid, status) = ctd.task(&id).expect("task listed");
        assert_eq!(status, "RUNNING");
        let out = ctd.exec(&id, "e1", &[], &["sh", "-c", "echo in-exec; exit 5"]);
        assert_eq!(
            (out.code(), out.stdout_text().as_str()),
            (5, "in-exec\n"),
            "{via:?}: {}",
            out.describe()
        );
        let ps = ctd.ok(&["task", "ps", &id]).stdout_text();
        assert!(
            ps.lines().any(|l| l.starts_with(&pid.to_string())),
            "{via:?}: ps {ps}"
        );
        ctd.ok(&["task", "pause", &id]);
        assert_eq!(ctd.task(&id).unwrap().1, "PAUSED");
        ctd.ok(&["task", "resume", &id]);
        assert_eq!(ctd.task(&id).unwrap().1, "RUNNING");
        let m = ctd
            .ok(&["task", "metrics", "--format", "json", &id])
            .stdout_text();
        let m: Value = serde_json::from_str(&m).unwrap_or_else(|e| panic!("metrics {e}: {m}"));
        assert!(
            m["pids"]["current"].as_u64().unwrap_or(0) >= 1,
            "{via:?}: {m}"
        );
        assert!(
            m["memory"].is_object() && m["cpu"].is_object(),
            "{via:?}: {m}"
        );
        ctd.ok(&["task", "kill", &id]);
        ctd.wait_status(&id, "STOPPED");
        let del = ctd.ok(&["task", "rm", &id]).stdout_text();
        assert!(del.contains("7") || del.is_empty(), "{del}");
        ctd.ok(&["containers", "rm", &id]);
        std::thread::sleep(Duration::from_millis(300));
        drop(events);
        let seen = fs::read_to_string(&events_out).unwrap_or_default();
        for topic in [
            "/tasks/create",
            "/tasks/start",
            "/tasks/exec-added",
            "/tasks/exec-started",
            "/tasks/paused",
            "/tasks/resumed",
            "/tasks/exit",
            "/tasks/delete",
        ] {
            assert!(
                seen.lines().any(|l| l.contains(topic) && l.contains(&id)),
                "{via:?}: no {topic} for {id} in ctr events:\n{seen}"
            );
        }
        assert!(
            seen.lines()
                .any(|l| l.contains("/tasks/exit") && l.contains("\"exit_status\":7")),
            "{via:?}: PID 1 handled SIGTERM and exited 7:\n{seen}"
        );
    }
}

#[test]
fn exec_and_run_with_a_tty() {
    requires(&["script"]);
    let ctd = Containerd::start();
    for via in both() {
        let id = ctd.id("tty");
        let out = ctd.run(via, &["-d"], &id, &["sleep", "1000"]);
        assert_eq!(out.code(), 0, "{via:?}: {}", out.describe());
        let fifo = ctd.dir.join("fifo").to_string_lossy().into_owned();
        let mut exec = ctd.command(&[
            "task",
            "exec",
            "-t",
            "--fifo-dir",
            &fifo,
            "--exec-id",
            "t1",
            &id,
            "sh",
            "-c",
            "tty; exit 4",
        ]);
        let line = shell_quote(
            &std::iter::once(exec.get_program())
                .chain(exec.get_args())
                .map(|a| a.to_str().unwrap())
                .collect::<Vec<_>>(),
        );
        exec = Command::new("script");
        exec.args(["-qec", &line, "/dev/null"]);
        let out = spawn_in(exec, &ctd.io).wait();
        assert_eq!(out.code(), 4, "{via:?}: {}", out.describe());
        assert!(
            out.stdout_text().contains("/dev/pts/"),
            "{via:?}: {}",
            out.describe()
        );
        ctd.remove(&id);

        let id = ctd.id("ttyrun");
        let args = ctd.run_args(via, &["--rm", "-t"], &id, &["sh", "-c", "tty; exit 6"]);
        let line = ctd.ctr_line(&args);
        let mut run = Command::new("script");
        run.args(["-qec", &line, "/dev/null"]);
        let out = spawn_in(run, &ctd.io).wait();
        assert_eq!(out.code(), 6, "{via:?}: {}", out.describe());
        assert!(
            out.stdout_text().contains("/dev/pts/0"),
            "{via:?}: {}",
            out.describe()
        );
    }
}

/// 50 `hull exec` children and 50 exec'd processes reaped by the shim's one `waitpid(-1)`
/// loop at once: every command's status reaches the runtime client (none stolen), every exec
/// its own exit code, none hangs.
#[test]
fn fifty_concurrent_execs_all_return() {
    let ctd = Containerd::start();
    let id = ctd.id("x50");
    let out = ctd.run(Via::HullShim, &["-d"], &id, &["sleep", "1000"]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    let t0 = Instant::now();
    let results: Vec<(usize, Output)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let ctd = &ctd;
                let id = &id;
                s.spawn(move || {
                    let script = format!("echo out{i}; exit {}", i % 7);
                    (
                        i,
                        ctd.exec(id, &format!("x{i}"), &[], &["sh", "-c", &script]),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, out) in &results {
        assert_eq!(out.code(), (*i % 7) as i32, "exec {i}: {}", out.describe());
        assert_eq!(out.stdout_text(), format!("out{i}\n"), "exec {i}");
    }
    eprintln!("50 concurrent execs took {:?}", t0.elapsed());
    // The shim still answers, with no exec left behind.
    let ps = ctd.ok(&["task", "ps", &id]).stdout_text();
    assert_eq!(ps.lines().count(), 2, "only the init is left: {ps}");
    ctd.remove(&id);
}

/// `/bin/true` is gone before `hull start` / `hull exec` return: its exit must still reach
/// containerd (the shim keeps exits that come before the pid is known).
#[test]
fn exits_that_beat_the_pid_are_not_lost() {
    let ctd = Containerd::start();
    for i in 0..8 {
        let id = ctd.id("fast");
        let out = ctd.run(
            Via::HullShim,
            &["--rm"],
            &id,
            &["sh", "-c", &format!("exit {i}")],
        );
        assert_eq!(out.code(), i, "{}", out.describe());
    }
    let id = ctd.id("host");
    ctd.ok(&ctd
        .run_args(Via::HullShim, &["-d"], &id, &["sleep", "1000"])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    for i in 0..8 {
        let out = ctd.exec(&id, &format!("q{i}"), &[], &["true"]);
        assert_eq!(out.code(), 0, "{}", out.describe());
    }
    ctd.remove(&id);
}

/// A runtime command that fails reaches the client as an error (never a hang, never a
/// status stolen by the shim's subreaper loop): kill of a stopped task, exec of a missing
/// program.
#[test]
fn a_failing_runtime_command_is_an_error() {
    let ctd = Containerd::start();
    let id = ctd.id("fail");
    ctd.ok(&ctd
        .run_args(Via::HullShim, &["-d"], &id, &["sleep", "1000"])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    let out = ctd.exec(&id, "nope", &[], &["/no/such/program"]);
    assert_ne!(out.code(), 0, "{}", out.describe());
    assert_stderr_mentions(&out, &["no such file", "not found", "/no/such/program"]);
    ctd.ok(&["task", "kill", "-s", "KILL", &id]);
    ctd.wait_status(&id, "STOPPED");
    let out = ctd.ctr(&["task", "kill", "-s", "TERM", &id]);
    assert_ne!(out.code(), 0, "kill of a stopped task: {}", out.describe());
    assert_stderr_mentions(&out, &["not found", "finished", "not running"]);
    ctd.ok(&["task", "rm", &id]);
    ctd.ok(&["containers", "rm", &id]);
}

fn args_of(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn kill_9_of_the_shim_is_cleaned_up_by_containerd() {
    let ctd = Containerd::start();
    for via in both() {
        let id = ctd.id("k9");
        ctd.ok(&args_of(&ctd.run_args(
            via,
            &["-d"],
            &id,
            &["sleep", "1000"],
        )));
        let (pid, _) = ctd.task(&id).expect("task");
        let shim = ctd
            .shims()
            .into_iter()
            .find(|s| cmdline(*s).contains(&format!("-id {id} ")))
            .expect("the shim of the task");
        kill_and_wait(shim);
        // containerd runs the shim's `delete` action: the runtime's state and the init go.
        let deadline = Instant::now() + Duration::from_secs(20);
        while ctd.task(&id).is_some_and(|t| t.1 != "STOPPED") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let fd = pidfd(pid);
        assert!(
            fd.is_err() || wait_pidfd(&fd.unwrap(), Duration::from_secs(10)),
            "{via:?}: the init {pid} survived its shim"
        );
        let _ = ctd.ctr(&["task", "rm", "-f", &id]);
        ctd.ok(&["containers", "rm", &id]);
        if via == Via::RuncShim {
            // containerd 1.6's runc shim leaves its socket after a SIGKILL (its next start
            // on that address removes it); hull's `delete` action removes its own.
            let _ = fs::remove_file(ctd.socket_path(&id));
        }
    }
}

#[test]
fn kill_9_of_the_container_reports_137() {
    let ctd = Containerd::start();
    let id = ctd.id("kc");
    ctd.ok(&args_of(&ctd.run_args(
        Via::HullShim,
        &["-d"],
        &id,
        &["sleep", "1000"],
    )));
    let (pid, _) = ctd.task(&id).expect("task");
    kill_and_wait(pid);
    ctd.wait_status(&id, "STOPPED");
    let out = ctd.ok(&["task", "rm", &id]);
    assert!(
        out.stdout_text().contains("137") || out.stderr_text().contains("137"),
        "{}",
        out.describe()
    );
    ctd.ok(&["containers", "rm", &id]);
}

#[test]
fn a_containerd_restart_keeps_the_container_manageable() {
    let mut ctd = Containerd::start();
    let id = ctd.id("rs");
    let script = "trap 'exit 9' TERM; while true; do sleep 0.1; done";
    ctd.ok(&args_of(&ctd.run_args(
        Via::HullShim,
        &["-d"],
        &id,
        &["sh", "-c", script],
    )));
    ctd.restart();
    assert_eq!(ctd.task(&id).map(|t| t.1).as_deref(), Some("RUNNING"));
    let out = ctd.exec(&id, "after", &[], &["echo", "after-restart"]);
    assert_eq!(out.stdout_text(), "after-restart\n", "{}", out.describe());
    ctd.ok(&["task", "kill", &id]);
    ctd.wait_status(&id, "STOPPED");
    ctd.ok(&["task", "rm", &id]);
    ctd.ok(&["containers", "rm", &id]);
}

/// A spec whose rootfs is the fixture (read-only) and whose process runs `args`; `edit`
/// changes it further. For `ctr run --config`, which takes no image.
fn spec_file(ctd: &Containerd, name: &str, args: &[&str], edit: impl FnOnce(&mut Value)) -> String {
    let mut spec = base_config();
    spec["root"] = json!({"path": fixture_rootfs(), "readonly": true});
    spec["process"]["terminal"] = json!(false);
    spec["process"]["args"] = json!(args);
    edit(&mut spec);
    let path = ctd.dir.join(format!("{name}.json"));
    write_file(&path, spec.to_string().as_bytes());
    path.to_string_lossy().into_owned()
}

fn run_config(ctd: &Containerd, flags: &[&str], spec: &str, id: &str) -> Output {
    let fifo = ctd.dir.join("fifo").to_string_lossy().into_owned();
    let mut a = vec![
        "run",
        "--fifo-dir",
        &fifo,
        "--runtime",
        "io.containerd.hull.v2",
        "--config",
        spec,
    ];
    a.extend_from_slice(flags);
    a.push(id);
    ctd.ctr(&a)
}

#[test]
fn a_broken_config_is_reported_with_hulls_error() {
    if hull_only("the exact error line is hull's") {
        return;
    }
    let ctd = Containerd::start();
    let spec = spec_file(&ctd, "bad", &["true"], |s| {
        s["process"]["cwd"] = json!("tmp")
    });
    let id = ctd.id("bad");
    let t0 = Instant::now();
    let out = run_config(&ctd, &["--rm"], &spec, &id);
    assert_ne!(out.code(), 0, "{}", out.describe());
    assert!(
        out.stderr_text()
            .contains(r#"OCI runtime create failed: process.cwd: "tmp" is not absolute"#),
        "{}",
        out.describe()
    );
    assert!(t0.elapsed() < Duration::from_secs(10));
    let _ = ctd.ctr(&["containers", "rm", &id]);
}

#[test]
fn a_missing_or_failing_runtime_binary_is_an_error_not_a_hang() {
    // No `hull` on containerd's PATH at all.
    let ctd = Containerd::start_with(|_| {});
    let id = ctd.id("nohull");
    let t0 = Instant::now();
    let out = ctd.run(Via::HullShim, &["--rm"], &id, &["true"]);
    assert_ne!(out.code(), 0, "{}", out.describe());
    assert_stderr_mentions(&out, &["no such file"]);
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t0.elapsed()
    );
    let _ = ctd.ctr(&["containers", "rm", &id]);
    drop(ctd);

    // A `hull` that logs an error and exits 3.
    let ctd = Containerd::start_with(|bin| {
        let fake = bin.join("hull");
        let script = "#!/bin/sh\nlog=\nwhile [ $# -gt 0 ]; do [ \"$1\" = --log ] && log=$2; shift; done\n\
            [ -n \"$log\" ] && echo '{\"level\":\"error\",\"msg\":\"fake hull refuses\",\"time\":\"t\"}' >>\"$log\"\nexit 3\n";
        write_file(&fake, script.as_bytes());
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    });
    let id = ctd.id("fake");
    let out = ctd.run(Via::HullShim, &["--rm"], &id, &["true"]);
    assert_ne!(out.code(), 0, "{}", out.describe());
    assert!(
        out.stderr_text()
            .contains("OCI runtime create failed: fake hull refuses"),
        "{}",
        out.describe()
    );
    let _ = ctd.ctr(&["containers", "rm", &id]);
}

/// Containers of one group share a shim (as the runc v2 shim groups a pod), and a slow
/// create of one (a createRuntime hook that sleeps) does not stall calls on another.
#[test]
fn grouped_containers_share_a_shim_with_per_container_locks() {
    let ctd = Containerd::start();
    let group = "io.containerd.runc.v2.group=pod1";
    ctd.track_group("pod1");
    let a = ctd.id("ga");
    let b = ctd.id("gb");
    for id in [&a, &b] {
        ctd.ok(&args_of(&ctd.run_args(
            Via::HullShim,
            &["-d", "--annotation", group],
            id,
            &["sleep", "1000"],
        )));
    }
    let shim_of = |id: &str| ppid(ctd.task(id).expect("task").0).expect("ppid");
    assert_eq!(shim_of(&a), shim_of(&b), "one shim for the group");
    assert_eq!(ctd.shims().len(), 1, "shims: {:?}", ctd.shims());

    let slow = ctd.id("gslow");
    let spec = spec_file(&ctd, "slow", &["sleep", "1000"], |s| {
        s["annotations"] = json!({"io.containerd.runc.v2.group": "pod1"});
        s["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "3"]}]});
        s["linux"]["cgroupsPath"] = json!(format!("/{}/{slow}", ctd.ns()));
    });
    let fifo = ctd.dir.join("fifo").to_string_lossy().into_owned();
    let mut creating = ctd.spawn(&[
        "run",
        "-d",
        "--fifo-dir",
        &fifo,
        "--runtime",
        "io.containerd.hull.v2",
        "--config",
        &spec,
        &slow,
    ]);
    std::thread::sleep(Duration::from_millis(700));
    let t0 = Instant::now();
    let out = ctd.exec(&a, "during", &[], &["echo", "served"]);
    assert_eq!(out.stdout_text(), "served\n", "{}", out.describe());
    ctd.ok(&["task", "ps", &b]);
    let took = t0.elapsed();
    assert!(
        !creating.has_exited(),
        "the slow create should still be running"
    );
    assert!(
        took < Duration::from_millis(2500),
        "calls on other containers waited {took:?}"
    );
    let out = creating.wait();
    assert_eq!(out.code(), 0, "{}", out.describe());
    assert_eq!(shim_of(&slow), shim_of(&a));
    for id in [&a, &b, &slow] {
        ctd.remove(id);
    }
}

/// Stdout fifos nobody reads (ctr run -d is gone): the container blocks on a full pipe, the
/// shim does not (its fifos are non-blocking and copied by readiness).
#[test]
fn output_without_a_reader_never_blocks_the_shim() {
    let ctd = Containerd::start();
    let id = ctd.id("loud");
    let flood = "while true; do echo 0123456789012345678901234567890123456789012345678901234567890123; done";
    ctd.ok(&args_of(&ctd.run_args(
        Via::HullShim,
        &["-d"],
        &id,
        &["sh", "-c", flood],
    )));
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    let out = ctd.exec(&id, "quiet", &[], &["echo", "still-served"]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    ctd.ok(&["task", "ps", &id]);
    ctd.ok(&["task", "pause", &id]);
    ctd.ok(&["task", "resume", &id]);
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t0.elapsed()
    );
    ctd.remove(&id);
}

#[test]
fn an_oom_kill_is_a_task_oom_event_and_137() {
    requires(&["cgroup-v1"]);
    let ctd = Containerd::start();
    for via in both() {
        let events = ctd.spawn(&["events"]);
        let (events_out, _) = events.paths();
        let id = ctd.id("oom");
        let out = ctd.run(
            via,
            &["--rm", "--memory-limit", "33554432"],
            &id,
            // A moment first: containerd's runc shim watches OOM only from `start` on.
            &[
                "sh",
                "-c",
                "sleep 1; exec dd if=/dev/zero of=/dev/null bs=128M count=1",
            ],
        );
        assert_eq!(out.code(), 137, "{via:?}: {}", out.describe());
        std::thread::sleep(Duration::from_millis(300));
        drop(events);
        let seen = fs::read_to_string(&events_out).unwrap_or_default();
        assert!(
            seen.lines()
                .any(|l| l.contains("/tasks/oom") && l.contains(&id)),
            "{via:?}: no /tasks/oom for {id}:\n{seen}"
        );
    }
}

/// containerd SIGKILLed while a create is in progress (a hook holds it): after a restart the
/// task can be removed and nothing is left.
#[test]
fn kill_9_of_containerd_mid_create_leaves_nothing_behind() {
    let mut ctd = Containerd::start();
    let id = ctd.id("mid");
    let spec = spec_file(&ctd, "mid", &["sleep", "1000"], |s| {
        s["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "2"]}]});
        s["linux"]["cgroupsPath"] = json!(format!("/{}/{id}", ctd.ns()));
    });
    let fifo = ctd.dir.join("fifo").to_string_lossy().into_owned();
    let creating = ctd.spawn(&[
        "run",
        "-d",
        "--fifo-dir",
        &fifo,
        "--runtime",
        "io.containerd.hull.v2",
        "--config",
        &spec,
        &id,
    ]);
    std::thread::sleep(Duration::from_millis(800));
    ctd.crash_and_restart();
    drop(creating);
    std::thread::sleep(Duration::from_secs(2));
    let _ = ctd.ctr(&["task", "kill", "-s", "KILL", &id]);
    let _ = ctd.ctr(&["task", "rm", "-f", &id]);
    let _ = ctd.ctr(&["containers", "rm", &id]);
    assert!(ctd.task(&id).is_none());
}

/// The shim started by hand, as containerd starts it, on a bundle whose config.json is not
/// even JSON: `create` answers with hull's one-line error; then Shutdown ends the shim.
/// The shim binary as containerd starts it for container `id` of `bundle`: in the bundle,
/// with containerd's ttrpc address, hull on PATH, and the namespace, id and address flags;
/// the caller adds the action (and its flags).
fn shim_by_hand(ctd: &Containerd, bundle: &Path, id: &str) -> Command {
    let mut cmd = Command::new(ctd.bin.join("containerd-shim-hull-v2"));
    cmd.current_dir(bundle)
        .env("TTRPC_ADDRESS", ctd.dir.join("c.sock.ttrpc"))
        .env(
            "PATH",
            format!(
                "{}:{}",
                ctd.bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .args(["-namespace", ctd.ns(), "-id", id, "-address"])
        .arg(ctd.dir.join("c.sock"));
    cmd
}

#[test]
fn a_shim_answers_create_on_a_broken_config_json_with_hulls_error() {
    use containerd_shim_protos::api::{CreateTaskRequest, ShutdownRequest};
    use containerd_shim_protos::shim_async::{Client, TaskClient};
    use containerd_shim_protos::ttrpc::context::Context;

    let ctd = Containerd::start();
    let id = ctd.id("broken");
    let bundle = ctd.dir.join("state").join(&id);
    fs::create_dir_all(&bundle).unwrap();
    write_file(
        &bundle.join("config.json"),
        br#"{"ociVersion": "1.0.2", "process": {"#,
    );
    // containerd makes the shim's log fifo and reads it before starting the shim.
    let log = bundle.join("log");
    nix::unistd::mkfifo(&log, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let _log_reader = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&log)
        .unwrap();
    let mut start = shim_by_hand(&ctd, &bundle, &id);
    start.arg("start");
    let out = spawn_in(start, &ctd.io).wait();
    assert_eq!(out.code(), 0, "shim start: {}", out.describe());
    let address = out.stdout_text().trim().to_string();
    assert!(
        address.starts_with("unix:///run/containerd/s/"),
        "{address}"
    );
    assert_eq!(fs::read_to_string(bundle.join("address")).unwrap(), address);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer = rt.block_on(async {
        let client = TaskClient::new(Client::connect(&address).await.unwrap());
        let req = CreateTaskRequest {
            id: id.clone(),
            bundle: bundle.to_string_lossy().into_owned(),
            ..Default::default()
        };
        let created = client.create(Context::default(), &req).await;
        let _ = client
            .shutdown(Context::default(), &ShutdownRequest::default())
            .await;
        created
    });
    let err = answer
        .expect_err("create on a broken config.json must fail")
        .to_string();
    if is_hull() {
        assert!(
            err.contains("OCI runtime create failed: ")
                && err.contains("config.json: process.?: EOF while parsing"),
            "{err}"
        );
    }
    assert!(!err.contains('\n'), "one line: {err}");

    // The `delete` action, as containerd runs it after a shim died: cleans up what is left
    // (nothing here) and prints a DeleteResponse reporting the init as killed.
    let mut delete = shim_by_hand(&ctd, &bundle, &id);
    delete.arg("-bundle").arg(&bundle).arg("delete");
    let out = spawn_in(delete, &ctd.io).wait();
    assert_eq!(out.code(), 0, "shim delete: {}", out.describe());
    let resp = <containerd_shim_protos::api::DeleteResponse as containerd_shim_protos::protobuf::Message>::parse_from_bytes(&out.stdout)
        .unwrap_or_else(|e| panic!("DeleteResponse: {e}: {}", out.describe()));
    assert_eq!(resp.exit_status, 137);
    assert!(resp.exited_at.seconds > 0);
}

/// The shim's OOM watch (v1 eventfd here, v2 inotify on memory.events in the cgroup v2
/// guest: `hack/guest-v2.sh shim::oom_watch`) sees a kill in a container hull made, with
/// no containerd around.
#[test]
fn oom_watch_sees_a_kill_in_the_containers_memory_cgroup() {
    use ::hull::shim::oom;
    let hull = Hull::new();
    let bundle = Bundle::new()
        .with(|c| c["linux"]["resources"] = json!({"memory": {"limit": 33554432}}))
        .args(&["sleep", "1000"]);
    let mut ct = hull.container(bundle);
    let out = ct.create();
    assert_eq!(out.code(), 0, "{}", out.describe());
    let pid = ct.pid().expect("pid");
    let target = oom::target_of(pid).expect("the container's memory cgroup");
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        assert!(matches!(target, oom::Target::V2(_)), "{target:?}");
    } else {
        assert!(matches!(target, oom::Target::V1(_)), "{target:?}");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let kills = rt.block_on(async {
        let _watch = oom::start(
            &target,
            Box::new(move || {
                let _ = tx.send(());
            }),
        )
        .unwrap();
        ct.start();
        // A memory hog in the container, killed at the limit; the init lives on.
        let out = ct.exec(&["dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"]);
        assert_eq!(out.code(), 137, "{}", out.describe());
        tokio::time::timeout(Duration::from_secs(10), rx.recv()).await
    });
    assert_eq!(kills, Ok(Some(())), "no OOM notification for {target:?}");
}

/// `kill --all`, and the init of a container in the host's pid namespace: when it dies its
/// children would live on (no namespace takes them down), so the shim kills the rest, as
/// containerd's runc shim does.
#[test]
fn kill_all_and_an_init_without_its_own_pid_namespace() {
    let ctd = Containerd::start();
    // This process's pid namespace (pid 1's may be out of reach in a sandbox).
    let ns = format!("pid:/proc/{}/ns/pid", std::process::id());
    let host_pids = ["--with-ns", ns.as_str()];
    let script = ["sh", "-c", "sleep 1000 & sleep 1001 & wait"];
    let pids_of = |id: &str| -> Vec<i32> {
        let ps = ctd.ok(&["task", "ps", id]).stdout_text();
        ps.lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    };
    let wait_gone = |pids: &[i32]| {
        for p in pids {
            if let Ok(fd) = pidfd(*p) {
                assert!(wait_pidfd(&fd, Duration::from_secs(10)), "pid {p} survived");
            }
        }
    };
    let id = ctd.id("initdies");
    let mut flags = vec!["-d"];
    flags.extend_from_slice(&host_pids);
    ctd.ok(&args_of(&ctd.run_args(Via::HullShim, &flags, &id, &script)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids_of(&id).len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let pids = pids_of(&id);
    assert_eq!(pids.len(), 3, "{pids:?}");
    let (init, _) = ctd.task(&id).unwrap();
    kill_and_wait(init);
    ctd.wait_status(&id, "STOPPED");
    wait_gone(&pids);
    ctd.remove(&id);

    let id = ctd.id("killall");
    ctd.ok(&args_of(&ctd.run_args(Via::HullShim, &flags, &id, &script)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids_of(&id).len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let pids = pids_of(&id);
    ctd.ok(&["task", "kill", "-a", "-s", "KILL", &id]);
    ctd.wait_status(&id, "STOPPED");
    wait_gone(&pids);
    ctd.remove(&id);
}

/// Stdin: data and then EOF on ctr's stdin reach the container (the fifo, then CloseIO),
/// so `cat` ends. The input comes a moment late: ctr 1.6 loses an EOF that comes before
/// the task exists (it never opens the fifo, nor calls CloseIO), with the runc shim too.
#[test]
fn stdin_and_its_eof_reach_the_container() {
    let ctd = Containerd::start();
    for via in both() {
        let id = ctd.id("cat");
        let args = ctd.run_args(via, &["--rm"], &id, &["sh", "-c", "cat; echo eof-seen"]);
        let ctr = ctd.ctr_line(&args);
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &format!("(sleep 1; echo hello) | {ctr}")]);
        let out = spawn_in(cmd, &ctd.io).wait();
        assert_eq!(out.code(), 0, "{via:?}: {}", out.describe());
        assert_eq!(out.stdout_text(), "hello\neof-seen\n", "{via:?}");
    }
}

/// ResizePty: ctr sizes the pty of `exec -t` to its own terminal's size.
#[test]
fn a_tty_exec_gets_the_clients_window_size() {
    requires(&["script"]);
    let ctd = Containerd::start();
    for via in both() {
        let id = ctd.id("size");
        ctd.ok(&args_of(&ctd.run_args(
            via,
            &["-d"],
            &id,
            &["sleep", "1000"],
        )));
        let fifo = ctd.dir.join("fifo").to_string_lossy().into_owned();
        let ctr = shell_quote(&[
            "ctr",
            "--address",
            &ctd.dir.join("c.sock").to_string_lossy(),
            "--namespace",
            ctd.ns(),
            "task",
            "exec",
            "-t",
            "--fifo-dir",
            &fifo,
            "--exec-id",
            "sz",
            &id,
            "sh",
            "-c",
            "sleep 0.5; stty -a",
        ]);
        let mut cmd = Command::new("script");
        cmd.args([
            "-qec",
            &format!("stty rows 33 cols 101; {ctr}"),
            "/dev/null",
        ]);
        let out = spawn_in(cmd, &ctd.io).wait();
        assert_eq!(out.code(), 0, "{via:?}: {}", out.describe());
        assert!(
            out.stdout_text().contains("rows 33; columns 101;"),
            "{via:?}: {}",
            out.describe()
        );
        ctd.remove(&id);
    }
}
