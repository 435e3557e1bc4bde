//! The built-in init (`run --init`, annotation `run.oci.hull.init`): PID 1 reaps orphaned
//! zombies (and without it they stay), forwards signals to the user's process, exits with its
//! status, and is never the host's hull binary as seen through /proc/1/exe.

use crate::support::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// Zombie children of `pid` on the host.
fn zombies_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let mut f = rest.split_whitespace();
        let (state, ppid) = (f.next(), f.next().and_then(|x| x.parse::<i32>().ok()));
        if state == Some("Z") && ppid == Some(pid) {
            out.push(p);
        }
    }
    out
}

/// sh leaves an orphan that exits at once, then becomes `sleep`, which never reaps.
fn orphan_maker() -> Bundle {
    Bundle::new().sh("(sleep 0.1 &); echo spawned; exec sleep 1000")
}

#[test]
fn without_init_an_orphan_stays_a_zombie() {
    if hull_only("compares with hull's --init") {
        return;
    }
    let hull = Hull::new();
    let mut ct = hull.container(orphan_maker());
    ct.run_detached(&[]);
    ct.wait_for_stdout("spawned", T);
    std::thread::sleep(Duration::from_millis(600));
    let init = ct.pid().expect("pid");
    assert_eq!(
        zombies_of(init).len(),
        1,
        "sleep as PID 1 leaves the orphan a zombie"
    );
}

#[test]
fn the_builtin_init_reaps_orphans() {
    if hull_only("built-in init") {
        return;
    }
    let hull = Hull::new();
    let mut ct = hull.container(orphan_maker());
    ct.run_detached(&["--init"]);
    ct.wait_for_stdout("spawned", T);
    let init = ct.pid().expect("pid");
    std::thread::sleep(Duration::from_millis(600));
    assert!(zombies_of(init).is_empty(), "PID 1 reaped the orphan");
    // And the user's process is PID 1's child, not PID 1.
    let out = ct.exec(&["ps", "-o", "pid,ppid,comm"]);
    let ps = out.stdout_text();
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().eq(["2", "1", "sleep"])),
        "{ps}"
    );
}

#[test]
fn sigterm_reaches_the_process_and_its_status_comes_back() {
    if hull_only("built-in init") {
        return;
    }
    let hull = Hull::new();
    let bundle = Bundle::new()
        .sh("trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.05; done");
    let mut ct = hull.container(bundle);
    ct.spawn_run(&["--init"]);
    ct.wait_for_stdout("ready", T);
    let runner = ct.foreground_pid().expect("hull run pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(runner as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal hull run");
    let out = ct.wait_run();
    assert_eq!(out.code(), 3, "{}", out.describe());
    assert!(out.stdout_text().contains("got TERM"), "{}", out.describe());
}

#[test]
fn a_process_that_traps_nothing_dies_of_sigterm_under_the_init() {
    if hull_only("built-in init") {
        return;
    }
    // As PID 1 `sleep` would ignore SIGTERM; as the init's child it dies of it: 128+15.
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new().sh("echo ready; exec sleep 1000"));
    ct.spawn_run(&["--init"]);
    ct.wait_for_stdout("ready", T);
    ct.kill("TERM");
    let out = ct.wait_run();
    assert_eq!(out.code(), 143, "{}", out.describe());
}

/// A container running `--init` whose process prints whether /proc/1/exe opens.
fn exe_probe(ptrace: bool) -> Bundle {
    Bundle::new()
        .with(|c| {
            c["annotations"] = json!({"run.oci.hull.init": "true"});
            if ptrace {
                for set in ["bounding", "effective", "permitted"] {
                    if let Some(list) = c["process"]["capabilities"][set].as_array_mut() {
                        list.push(json!("CAP_SYS_PTRACE"));
                    }
                }
            }
        })
        .sh("echo ready; cat /proc/1/exe > /dev/null 2>&1 && echo READABLE; exec sleep 1000")
}

#[test]
fn pid1_is_out_of_reach_without_ptrace() {
    if hull_only("built-in init") {
        return;
    }
    // PID 1 is non-dumpable: without CAP_SYS_PTRACE nothing in the container opens its exe,
    // so hull skips the sealed copy.
    let hull = Hull::new();
    let mut ct = hull.container(exe_probe(false));
    ct.run_detached(&[]);
    ct.wait_for_stdout("ready", T);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !ct.stdout().contains("READABLE"),
        "the container cannot open /proc/1/exe"
    );
}

#[test]
fn pid1_with_ptrace_runs_from_the_sealed_copy() {
    if hull_only("built-in init") {
        return;
    }
    let hull = Hull::new();
    let mut ct = hull.container(exe_probe(true));
    ct.run_detached(&[]);
    ct.wait_for_stdout("ready", T);
    let init = ct.pid().expect("pid");
    let exe = std::fs::read_link(format!("/proc/{init}/exe")).expect("exe link");
    assert!(
        exe.to_string_lossy().contains("memfd:hull-sealed"),
        "PID 1 runs from the sealed copy: {exe:?}"
    );
    // The sealed copy cannot be written, even by root on the host.
    let w = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{init}/exe"));
    assert!(w.is_err(), "writing the sealed copy must fail");
}

#[test]
fn init_without_a_pid_namespace_is_refused() {
    if hull_only("built-in init") {
        return;
    }
    let hull = Hull::new();
    let bundle = Bundle::new()
        .with(|c| {
            c["annotations"] = json!({"run.oci.hull.init": "true"});
            let ns = c["linux"]["namespaces"].as_array_mut().expect("namespaces");
            ns.retain(|n| n["type"] != "pid");
        })
        .args(&["true"]);
    let mut ct = hull.container(bundle);
    let out = ct.create_with(&[]);
    assert_one_line_error(&out, "init without pid namespace");
    assert_stderr_mentions(&out, &["run.oci.hull.init", "pid namespace"]);
}
