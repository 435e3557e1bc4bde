//! Tests of the test support itself: the guard really kills and deletes, really fails on a
//! leaked mount, commands really time out, and `requires` really fails. A harness that cannot
//! see a leak would let every area test pass while leaking.

use crate::support::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Command;
use std::time::{Duration, Instant};

fn panic_text(e: Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn guard_kills_and_deletes_a_forgotten_container() {
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new().args(&["sleep", "1000"]));
    ct.create();
    ct.start();
    let id = ct.id().to_string();
    let fd = pidfd(ct.pid().expect("pid")).expect("pidfd");
    assert!(
        !cgroups_named(&id).is_empty(),
        "no cgroup named after {id}: the guard's cgroup leak check would be blind"
    );
    drop(ct);
    assert!(
        wait_pidfd(&fd, Duration::ZERO),
        "init is dead once the guard is gone"
    );
    assert!(!hull.root().join(&id).exists(), "state dir removed");
    assert!(cgroups_named(&id).is_empty(), "cgroups removed");
}

#[test]
fn guard_fails_on_a_mount_left_under_the_bundle() {
    let hull = Hull::new();
    let ct = hull.container(Bundle::new());
    let scratch = ct.bundle().scratch().to_path_buf();
    let target = scratch.join("leak");
    std::fs::create_dir(&target).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &target,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    let result = catch_unwind(AssertUnwindSafe(|| drop(ct)));
    let msg = panic_text(result.expect_err("the guard must fail the test"));
    assert!(msg.contains("mounts left"), "{msg}");
    assert!(
        mounts_under(&scratch).is_empty(),
        "the guard detached the leak"
    );
    assert!(!scratch.exists(), "and then removed the bundle");
}

#[test]
fn commands_have_a_deadline() {
    let hull = Hull::new();
    let mut sleep = Command::new("sleep");
    sleep.arg("30");
    let start = Instant::now();
    let sp = spawn_in(sleep, hull.io_dir());
    assert!(sp.try_wait_timeout(Duration::from_millis(200)).is_none());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "killed, not waited for"
    );
}

#[test]
fn requires_fails_instead_of_skipping() {
    let result = catch_unwind(|| requires(&["no-such-program-for-hull-tests"]));
    let msg = panic_text(result.expect_err("requires must panic"));
    assert!(msg.contains("does not skip"), "{msg}");
    requires(&["root", "sh"]);
}

#[test]
fn ids_are_unique_and_valid() {
    let a = unique("");
    let b = unique("");
    assert_ne!(a, b);
    for id in [a, b] {
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c)),
            "{id}"
        );
    }
}

#[test]
fn exec_helper_runs_in_the_container() {
    let hull = Hull::new();
    let mut ct = hull.container(
        Bundle::new()
            .with(|c| c["hostname"] = json!("exec-box"))
            .args(&["sleep", "1000"]),
    );
    ct.create();
    ct.start();
    let out = ct.exec_with(
        &["--env", "X=42"],
        &["sh", "-c", "echo $(hostname) $X; exit 5"],
    );
    assert_eq!(out.code(), 5, "{}", out.describe());
    assert_eq!(out.stdout_text(), "exec-box 42\n");
}

#[test]
fn guard_fails_on_a_cgroup_left_behind_and_cleans_it() {
    let hull = Hull::new();
    let ct = hull.container(Bundle::new());
    let base = if std::path::Path::new("/sys/fs/cgroup/pids").is_dir() {
        "/sys/fs/cgroup/pids"
    } else {
        "/sys/fs/cgroup"
    };
    let dir = std::path::Path::new(base).join(format!("leak-{}", ct.id()));
    std::fs::create_dir(&dir).unwrap();
    let mut straggler = Command::new("sleep").arg("1000").spawn().unwrap();
    let procs = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.procs"))
        .and_then(|mut f| {
            use std::io::Write;
            f.write_all(straggler.id().to_string().as_bytes())
        });
    let result = catch_unwind(AssertUnwindSafe(|| drop(ct)));
    let status = straggler.try_wait().unwrap();
    if status.is_none() {
        let _ = straggler.kill();
    }
    let _ = straggler.wait();
    let _ = std::fs::remove_dir(&dir);
    procs.unwrap();
    let msg = panic_text(result.expect_err("the guard must fail the test"));
    assert!(msg.contains("cgroups left"), "{msg}");
    assert!(
        status.is_some(),
        "the guard killed the process in the cgroup"
    );
    assert!(!dir.exists(), "the guard removed the cgroup");
}
