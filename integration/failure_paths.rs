//! Issue 2's promise for failures: "a failure at any step of create (bad mount, missing binary
//! in rootfs, failing hook, killed child) leaves no process, mount, cgroup or state dir behind,
//! and `delete --force` always cleans up what a crashed create left". Each test makes create
//! fail one way, asserts the one-line error names the culprit, and leaves the leak checks to
//! the guard (process, state dir, cgroup in every hierarchy, mounts under the bundle).
//!
//! Failing hooks of every kind are in `hooks.rs`, a missing binary on PATH in `process.rs`,
//! and each `bundle-fixtures/bad/*.json` in `fixtures.rs`; this file covers the rest.

use crate::support::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// Generous bound for a container to reach a state on a loaded 2-core machine.
const T: Duration = Duration::from_secs(10);

/// Runs `create`, which must fail with one line mentioning one of `words` and leave no
/// container that `state` can see.
fn create_fails(ct: &mut Container, words: &[&str]) {
    let out = ct.create_with(&[]);
    assert!(
        !out.status.success(),
        "create should fail: {}",
        out.describe()
    );
    assert_one_line_error(&out, &format!("create of {}", ct.id()));
    assert_stderr_mentions(&out, words);
    let state = ct.try_state();
    assert!(
        !state.status.success(),
        "a failed create leaves no container: {}",
        state.describe()
    );
}

#[test]
fn a_mount_the_kernel_refuses() {
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new().with(|c| {
        c["mounts"].as_array_mut().expect("mounts").push(json!({
            "destination": "/mnt/bad", "type": "hullnosuchfs", "source": "none",
        }));
    }));
    create_fails(&mut ct, &["/mnt/bad"]);
}

#[test]
fn a_bind_mount_of_a_missing_source() {
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new());
    let source = ct.bundle().scratch().join("not-there");
    let source = source.to_string_lossy().into_owned();
    ct.bundle_mut().update_config(|c| {
        c["mounts"].as_array_mut().expect("mounts").push(json!({
            "destination": "/mnt/src", "type": "bind", "source": source,
            "options": ["rbind"],
        }));
    });
    create_fails(&mut ct, &["not-there"]);
}

#[test]
fn a_binary_that_is_not_executable() {
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new().args(&["/etc/passwd"]));
    create_fails(&mut ct, &["/etc/passwd"]);
}

#[test]
fn a_hook_that_does_not_exist() {
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new().with(|c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/nonexistent/hull-hook"}]});
    }));
    create_fails(&mut ct, &["/nonexistent/hull-hook"]);
}

/// A shell line that reads the state JSON on stdin and prints its `pid`.
const PID_FROM_STDIN: &str = r#"sed -n 's/.*"pid": *\([0-9]*\).*/\1/p'"#;

#[test]
fn the_init_killed_during_create() {
    let hull = Hull::new();
    let script = format!(r#"pid=$({PID_FROM_STDIN}); kill -9 "$pid""#);
    let mut ct = hull.container(Bundle::new().with(|c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]});
    }));
    if is_hull() {
        create_fails(
            &mut ct,
            &["container init exited during create: killed by signal 9"],
        );
    } else {
        // runc 1.1: "read init-p: connection reset by peer".
        create_fails(&mut ct, &["init"]);
    }
}

/// Polls until `path` exists; fails the test after `timeout`.
fn wait_for_file(path: &Path, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} not written", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read_pid(path: &Path) -> i32 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("pid in {}: {text:?}", path.display()))
}

fn alive(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty()
        && !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
}

#[test]
fn a_crashed_create_is_finished_by_delete_force() {
    if hull_only("runc 1.1 writes its state only at the end of create: it cannot see a crashed one")
    {
        return;
    }
    let hull = Hull::new();
    let id = unique("");
    // The createRuntime hook saves the state it gets, puts a stray process into every
    // hierarchy of the container's cgroup (what a container would leave), says it is there,
    // and blocks on a fifo, so the test can SIGKILL `create` mid-way.
    let bundle = Bundle::new().args(&["sleep", "1000"]);
    let dir = bundle.scratch().to_path_buf();
    let fifo = dir.join("block.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let script = format!(
        r#"cat > "$1/state.json"
sleep 1000 & echo $! > "$1/stray.pid"
for f in /sys/fs/cgroup/*/{id}/cgroup.procs /sys/fs/cgroup/{id}/cgroup.procs; do [ -e "$f" ] && echo $! > "$f"; done
echo $$ > "$1/hook.pid"
read x < "$1/block.fifo""#
    );
    let dir_arg = dir.to_string_lossy().into_owned();
    let bundle = bundle.with(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{id}"));
        c["hooks"] = json!({"createRuntime": [{
            "path": "/bin/sh", "args": ["sh", "-c", script, "hook", dir_arg],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
        }]});
    });
    let ct = hull.container_with_id(bundle, &id);
    let create = hull.spawn(&[
        "create",
        "--bundle",
        &ct.bundle().path().to_string_lossy(),
        &id,
    ]);
    wait_for_file(&dir.join("hook.pid"), T);
    let (hook, stray) = (
        read_pid(&dir.join("hook.pid")),
        read_pid(&dir.join("stray.pid")),
    );
    let state: Value = read_json(&dir.join("state.json"));
    let init = state["pid"].as_i64().expect("pid in the hook's state") as i32;
    assert!(alive(stray), "the stray process runs");
    // v1 (this host): the pids hierarchy; unified (the v2 guest): the one hierarchy.
    let procs = std::fs::read_to_string(format!("/sys/fs/cgroup/pids/{id}/cgroup.procs"))
        .or_else(|_| std::fs::read_to_string(format!("/sys/fs/cgroup/{id}/cgroup.procs")));
    assert!(
        procs.unwrap_or_default().contains(&stray.to_string()),
        "the stray process is in the container's cgroup"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(create.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill create");
    let out = create.wait();
    assert_eq!(out.code(), 128 + 9, "create was killed: {}", out.describe());
    // Let the hook go; it was hull's child, not the container's.
    let mut w = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("open fifo");
    std::io::Write::write_all(&mut w, b"go\n").expect("unblock hook");
    drop(w);
    let hook_fd = pidfd(hook).ok();
    assert!(
        hook_fd.is_none_or(|fd| wait_pidfd(&fd, T)),
        "hook {hook} exited"
    );

    // What the crash left is visible...
    let st = hull.state(&id);
    assert_eq!(st["id"], id.as_str(), "{st}");
    let list = hull.ok(&["list", "--quiet"]).stdout_text();
    assert!(list.lines().any(|l| l == id), "list shows it: {list}");
    assert!(!cgroups_named(&id).is_empty(), "its cgroups are there");

    // ...and delete --force removes all of it.
    let out = ct.delete_force();
    assert!(out.status.success(), "delete --force: {}", out.describe());
    let gone = |pid: i32| !alive(pid);
    let deadline = Instant::now() + T;
    while (!gone(init) || !gone(stray)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(gone(init), "init {init} is gone");
    assert!(gone(stray), "the stray {stray} in the cgroup was killed");
    assert!(!hull.root().join(&id).exists(), "state dir removed");
    assert_eq!(
        cgroups_named(&id),
        Vec::<std::path::PathBuf>::new(),
        "cgroups removed"
    );
    assert!(!ct.try_state().status.success(), "state after delete");
}

#[test]
fn delete_force_of_a_state_dir_without_state_json() {
    let hull = Hull::new();
    let ct = hull.container(Bundle::new());
    let dir = hull.root().join(ct.id());
    std::fs::create_dir(&dir).expect("mkdir state dir");
    let out = hull.fails(&["state", ct.id()]);
    assert_stderr_mentions(&out, &["does not exist", "not found", ct.id()]);
    let out = ct.delete();
    assert!(!out.status.success(), "plain delete: {}", out.describe());
    let out = ct.delete_force();
    assert!(out.status.success(), "delete --force: {}", out.describe());
    assert!(!dir.exists(), "the half-made state dir is removed");
}
