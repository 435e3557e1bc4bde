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
    cmdline, image_archive, kill_and_wait, ppid, procs_with_arg, shell_quote, short_dir,
    unmount_under, Daemon, IMAGE,
};
use crate::support::*;
use std::fs;
use std::os::unix::fs::symlink;
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
}

impl Containerd {
    /// containerd with `hull` and the shim on its PATH.
    pub fn start() -> Containerd {
        Self::start_with(|bin| {
            symlink(binary(), bin.join("hull")).expect("link hull");
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
        let dir = short_dir("ctd");
        let bin = dir.join("bin");
        let io = dir.join("io");
        for d in [&bin, &io, &dir.join("fifo")] {
            fs::create_dir_all(d).expect("mkdir");
        }
        symlink(shim_binary(), bin.join("containerd-shim-hull-v2")).expect("link shim");
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
        let ns = format!("hullit{}", dir.file_name().unwrap().to_string_lossy());
        let daemon = Self::spawn_daemon(&dir, &bin);
        let mut c = Containerd {
            dir,
            ns,
            bin,
            daemon,
            io,
            ids: Mutex::new(Vec::new()),
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
        let mut ids = self.ids.lock().unwrap();
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
        let out = Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(key.as_bytes())?;
                c.wait_with_output()
            })
            .expect("sha256sum");
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
        for id in self.ids.lock().unwrap().iter() {
            let sock = self.socket_path(id);
            if sock.exists() {
                leaks.push(format!("shim socket {} of {id}", sock.display()));
                let _ = fs::remove_file(&sock);
            }
        }
        let mounts = mounts_under(&self.dir);
        if !mounts.is_empty() {
            leaks.push(format!("mounts {mounts:?}"));
        }
        unmount_under(&self.dir);
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
        let cgroups = crate::support::leaks::wait_empty(|| cgroups_named(&self.ns));
        if !cgroups.is_empty() {
            leaks.push(format!("cgroups {cgroups:?}"));
            crate::support::leaks::remove_cgroups(&cgroups);
        }
        let _ = fs::remove_dir_all(&self.dir);
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
        let line = shell_quote(
            &std::iter::once("ctr")
                .chain([
                    "--address",
                    &ctd.dir.join("c.sock").to_string_lossy(),
                    "--namespace",
                    ctd.ns(),
                ])
                .chain(args.iter().map(String::as_str))
                .collect::<Vec<_>>(),
        );
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
/// stolen status): kill of a stopped task, exec of a missing program.
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
