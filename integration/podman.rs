//! podman 4.3 with conmon, `--runtime <hull>`: root, runroot, tmp dir, network config and
//! cgroup parent of each test in a scratch dir, cgroupfs manager, no network, no event
//! log. Root on this machine lacks CAP_SYS_RESOURCE, so every container gets explicit
//! `--ulimit` values within the current hard limits (podman's defaults are above them).

use crate::support::daemon::{client_leftovers, image_archive, short_dir, HostDirs};
use crate::support::*;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/hull-test/busybox:latest";

/// One test's podman: every path it writes in its own directory.
pub struct Podman {
    dir: PathBuf,
    cgroup: String,
    io: PathBuf,
    /// Made by podman whatever its config says: the blob-info cache, netavark's run dir.
    _host: HostDirs,
}

impl Podman {
    /// A fresh store with the busybox archive loaded.
    pub fn new() -> Podman {
        requires(&["root", "podman", "conmon", "overlay", "cgroup-v1"]);
        let host = HostDirs::claim(&["/var/lib/containers", "/run/containers"]);
        let dir = short_dir("pm");
        let io = dir.join("io");
        fs::create_dir_all(&io).unwrap_or_else(|e| panic!("mkdir: {e}"));
        let conf = format!(
            "[containers]\nnetns = \"none\"\n[network]\nnetwork_config_dir = \"{d}/net\"\n\
             [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"none\"\n\
             tmp_dir = \"{d}/tmp\"\nvolume_path = \"{d}/volumes\"\n",
            d = dir.display()
        );
        write_file(&dir.join("containers.conf"), conf.as_bytes());
        let cgroup = format!(
            "hullit-{}",
            dir.file_name().unwrap_or_default().to_string_lossy()
        );
        let pm = Podman {
            dir,
            cgroup,
            io,
            _host: host,
        };
        let archive = image_archive().to_string_lossy().into_owned();
        pm.ok(&["load", "-q", "-i", &archive]);
        pm
    }

    /// `podman <globals> <args>`, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("podman");
        cmd.env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("runroot"))
            .arg("--runtime")
            .arg(binary())
            .args(["--storage-driver", "overlay"])
            .args(args);
        cmd
    }

    /// Runs podman, whatever the status.
    pub fn podman(&self, args: &[&str]) -> Output {
        spawn_in(self.command(args), &self.io).wait()
    }

    /// Runs podman; fails the test unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.podman(args);
        assert!(out.status.success(), "podman {args:?}: {}", out.describe());
        out
    }

    /// `podman run <flags> --cgroup-parent .. --ulimit .. IMAGE cmd`.
    pub fn run(&self, flags: &[&str], cmd: &[&str]) -> Output {
        let parent = format!("/{}", self.cgroup);
        let mut a = vec!["run", "--cgroup-parent", &parent];
        a.extend_from_slice(&[
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=4096:4096",
        ]);
        a.extend_from_slice(flags);
        a.push(IMAGE);
        a.extend_from_slice(cmd);
        self.podman(&a)
    }

    fn teardown(&mut self) -> Vec<String> {
        let mut leaks = Vec::new();
        let _ = self.podman(&["rm", "-af", "-t", "0"]);
        let _ = self.podman(&["system", "reset", "-f"]);
        // conmon's own cgroup (<parent>/conmon) is podman's; a container's is a leak.
        leaks.extend(client_leftovers(&self.dir, &self.cgroup, &["conmon"]));
        leaks
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let leaks = self.teardown();
        if !leaks.is_empty() && !std::thread::panicking() {
            panic!("podman test left: {leaks:#?}");
        }
    }
}

#[test]
fn podman_run_exec_stop_ps_logs_and_exit_codes() {
    let pm = Podman::new();
    let out = pm.run(
        &["--rm"],
        &["sh", "-c", "echo hello; cat /usr/share/hull/base; exit 3"],
    );
    assert_eq!(
        (out.code(), out.stdout_text().as_str()),
        (3, "hello\nbase\n"),
        "{}",
        out.describe()
    );

    let out = pm.run(
        &["-d", "--name", "p1"],
        &["sh", "-c", "echo started; exec sleep 1000"],
    );
    assert_eq!(out.code(), 0, "{}", out.describe());
    let out = pm.podman(&["exec", "p1", "sh", "-c", "echo in-exec; exit 5"]);
    assert_eq!(
        (out.code(), out.stdout_text().as_str()),
        (5, "in-exec\n"),
        "{}",
        out.describe()
    );
    let ps = pm
        .ok(&["ps", "--format", "{{.Names}} {{.Status}}"])
        .stdout_text();
    assert!(ps.lines().any(|l| l.starts_with("p1 Up")), "{ps}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logs = pm.ok(&["logs", "p1"]).stdout_text();
        if logs == "started\n" {
            break;
        }
        assert!(Instant::now() < deadline, "logs: {logs:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let t0 = Instant::now();
    pm.ok(&["stop", "-t", "2", "p1"]);
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "stop took {:?}",
        t0.elapsed()
    );
    let code = pm
        .ok(&["inspect", "-f", "{{.State.ExitCode}}", "p1"])
        .stdout_text();
    assert_eq!(code.trim(), "137", "sleep as PID 1 ignores TERM: killed");
    let ps = pm
        .ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        .stdout_text();
    assert!(ps.contains("p1 Exited (137)"), "{ps}");
    pm.ok(&["rm", "p1"]);

    let out = pm.run(&["--rm", "--user", "1000"], &["id", "-u"]);
    assert_eq!(out.stdout_text(), "1000\n", "{}", out.describe());
}
