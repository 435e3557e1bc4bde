//! The runtime run by a user who is not root (uid 65534, through `setpriv`), as `runc
//! --rootless` is used: `spec --rootless` maps that user to root, the id maps are written with
//! setgroups denied, state lives in `$XDG_RUNTIME_DIR/<runtime>`, and with no cgroup of its
//! own the container shows its caller's cgroups at /sys/fs/cgroup. run -d, exec, kill --all,
//! delete; a config mapping ids the user does not own fails in one line, leaving nothing.

use crate::support::*;
use std::fs;
use std::os::unix::fs::{lchown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const NOBODY: u32 = 65534;

/// A bundle and an XDG_RUNTIME_DIR owned by the unprivileged user; removed on drop, after
/// any container still recorded in it is force-deleted.
struct UserDir {
    dir: PathBuf,
}

impl UserDir {
    fn new() -> UserDir {
        let dir = crate::support::hull::scratch_dir("rootless");
        let bundle = dir.join("bundle");
        for d in [dir.join("run"), bundle.clone()] {
            fs::create_dir_all(&d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        }
        // Copied, not hard-linked: the copies change owner, the fixture must not.
        crate::support::bundle::copy_tree(fixture_rootfs(), &bundle.join("rootfs"), false);
        chown_tree(&dir);
        for d in [&dir, &dir.join("run"), &bundle] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755))
                .unwrap_or_else(|e| panic!("chmod {}: {e}", d.display()));
        }
        UserDir { dir }
    }

    fn bundle(&self) -> PathBuf {
        self.dir.join("bundle")
    }

    /// The runtime as the user, in the bundle, with its XDG_RUNTIME_DIR.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            format!("--reuid={NOBODY}"),
            format!("--regid={NOBODY}"),
            "--clear-groups".into(),
            "--".into(),
        ])
        .arg(binary())
        .args(args)
        .env("XDG_RUNTIME_DIR", self.dir.join("run"))
        .current_dir(self.bundle());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .unwrap_or_else(|e| panic!("setpriv {args:?}: {e}"))
    }

    /// `run --detach`: the container keeps the stdio it is given, so it gets none that a
    /// reader here would wait on; the runtime's errors go to a file.
    fn run_detached(&self, id: &str) {
        let err = self.dir.join("detach.err");
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&err)
            .unwrap_or_else(|e| panic!("{}: {e}", err.display()));
        let status = self
            .command(&["run", "--detach", id])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .status()
            .unwrap_or_else(|e| panic!("setpriv run --detach: {e}"));
        let text = fs::read_to_string(&err).unwrap_or_default();
        assert!(status.success(), "run --detach: {status}: {text}");
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", out.describe());
        out
    }

    /// The state directory the runtime uses for this user by default.
    fn state_root(&self) -> PathBuf {
        self.dir.join("run").join(binary_name())
    }

    fn edit_config(&self, edit: impl FnOnce(&mut Value)) {
        let path = self.bundle().join("config.json");
        let mut config = read_json(&path);
        edit(&mut config);
        write_file(&path, config.to_string().as_bytes());
        lchown(&path, Some(NOBODY), Some(NOBODY))
            .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    }
}

impl Drop for UserDir {
    fn drop(&mut self) {
        for e in fs::read_dir(self.state_root())
            .into_iter()
            .flatten()
            .flatten()
        {
            let id = e.file_name().to_string_lossy().into_owned();
            let _ = self.run(&["delete", "--force", &id]);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn chown_tree(p: &Path) {
    lchown(p, Some(NOBODY), Some(NOBODY)).unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
    if fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()) {
        for e in fs::read_dir(p).into_iter().flatten().flatten() {
            chown_tree(&e.path());
        }
    }
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn an_unprivileged_user_runs_execs_kills_and_deletes() {
    requires(&["root", "userns", "setpriv"]);
    let user = UserDir::new();
    user.ok(&["spec", "--rootless"]);
    let config = read_json(&user.bundle().join("config.json"));
    assert_eq!(
        config["linux"]["uidMappings"],
        json!([{"containerID": 0, "hostID": NOBODY, "size": 1}]),
        "spec --rootless maps the calling user to root"
    );
    user.edit_config(|c| {
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(["sleep", "1000"]);
    });

    let id = unique("rl");
    user.run_detached(&id);
    assert!(
        user.state_root().join(&id).join("state.json").exists(),
        "state under $XDG_RUNTIME_DIR"
    );
    let state: Value = serde_json::from_slice(&user.ok(&["state", &id]).stdout).unwrap();
    assert_eq!(state["status"], "running", "{state}");
    let pid = state["pid"].as_i64().unwrap();
    let owner = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        owner
            .lines()
            .any(|l| squeeze(l) == format!("Uid: {NOBODY} {NOBODY} {NOBODY} {NOBODY}")),
        "the init runs as the user on the host: {owner}"
    );

    let out = user.ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; cat /proc/self/setgroups; ls /sys/fs/cgroup",
    ]);
    let text = out.stdout_text();
    let lines: Vec<String> = text.lines().map(squeeze).collect();
    assert_eq!(lines[0], "0", "root in the container: {text}");
    assert_eq!(lines[1], format!("0 {NOBODY} 1"), "{text}");
    assert_eq!(
        lines[2], "deny",
        "setgroups denied for an unprivileged map: {text}"
    );
    assert!(
        lines.iter().any(|l| l == "pids" || l == "cgroup.procs"),
        "the caller's cgroups are shown: {text}"
    );

    user.ok(&["kill", "--all", &id, "KILL"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state: Value = serde_json::from_slice(&user.ok(&["state", &id]).stdout).unwrap();
        if state["status"] == "stopped" {
            break;
        }
        assert!(Instant::now() < deadline, "still {state}");
        std::thread::sleep(Duration::from_millis(20));
    }
    user.ok(&["delete", &id]);
    assert!(!user.state_root().join(&id).exists());
    // Gone, or a zombie the host's init has yet to reap.
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|r| r.split_whitespace().next());
    assert!(
        matches!(state, None | Some("Z")),
        "the init lives on: {stat}"
    );
}

#[test]
fn ids_the_user_does_not_own_fail_in_one_line_and_leave_nothing() {
    requires(&["root", "userns", "setpriv"]);
    let user = UserDir::new();
    user.ok(&["spec", "--rootless"]);
    user.edit_config(|c| {
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(["true"]);
        // Host root is not the user's to map.
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 1}]);
    });
    let id = unique("rl");
    let out = user.run(&["run", &id]);
    assert!(!out.status.success(), "{}", out.describe());
    assert_one_line_error(&out, "a uid map of host root");
    assert_stderr_mentions(&out, &["uidMappings", "uid_map"]);
    let left: Vec<_> = fs::read_dir(user.state_root())
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    assert!(left.is_empty(), "state left: {left:?}");
}
