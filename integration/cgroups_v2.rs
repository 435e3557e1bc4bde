//! cgroup v2 on a unified host: the container's own cgroup2 directory, every
//! `linux.resources` field in its v2 file, memory and pids limits holding, the eBPF device
//! filter, cgroup namespaces, exec into a container that delegates its own controllers, and
//! `kill --all` / `delete` emptying and removing the cgroup. Every test `requires` a unified
//! host and fails loudly elsewhere: this machine is hybrid, so `hack/test.sh` skips the module
//! (`--skip cgroups_v2`) and `hack/guest-v2.sh cgroups_v2` runs it in a qemu guest whose only
//! cgroup hierarchy is cgroup2.

use crate::support::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Generous bound for a container to reach a state under qemu's emulated CPUs.
const T: Duration = Duration::from_secs(30);

/// Where the unified hierarchy is mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A hull on a unified host; fails (never skips) anywhere else.
fn v2_hull() -> Hull {
    requires(&["root", "cgroup2"]);
    Hull::new()
}

/// A container that stays up until killed: `sleep` as PID 1.
fn sleeper() -> Bundle {
    Bundle::new().args(&["sleep", "1000"])
}

/// The cgroup2 path of a process, from the single `0::` line of its /proc/<pid>/cgroup.
fn cgroup_of(pid: &str) -> String {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/cgroup: {e}"));
    only_v2_line(&text)
}

/// The path of the only line of a unified host's /proc/<pid>/cgroup, which is `0::<path>`.
fn only_v2_line(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one hierarchy on a unified host: {text:?}");
    lines[0]
        .strip_prefix("0::")
        .unwrap_or_else(|| panic!("not a cgroup2 line: {text:?}"))
        .to_string()
}

/// The host directory of a cgroup2 path.
fn host_dir(path: &str) -> PathBuf {
    Path::new(CGROUP_ROOT).join(path.trim_start_matches('/'))
}

/// Creates and starts `ct`, then returns its cgroup directory on the host.
fn start_and_locate(ct: &mut Container) -> PathBuf {
    ct.create();
    ct.start();
    let pid = ct
        .pid()
        .unwrap_or_else(|| panic!("create records the init pid"))
        .to_string();
    host_dir(&cgroup_of(&pid))
}

fn read(dir: &Path, file: &str) -> String {
    let p = dir.join(file);
    fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// The value of `key` in a flat-keyed file such as `memory.events` or `pids.events`.
fn event(dir: &Path, file: &str, key: &str) -> u64 {
    let text = read(dir, file);
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {file}: {text:?}"))
}

#[test]
fn container_gets_a_cgroup2_cgroup_beside_its_callers() {
    let hull = v2_hull();
    let mut ct = hull.container(sleeper());
    let dir = start_and_locate(&mut ct);
    let pid = ct.pid().expect("pid").to_string();

    // No cgroupsPath: runc's fs2 rule puts it beside the caller's own cgroup (which holds
    // processes, so it could not delegate controllers to a child).
    let mine = cgroup_of("self");
    let parent = Path::new(&mine).parent().expect("own cgroup has a parent");
    assert_eq!(
        host_dir(&parent.join(ct.id()).to_string_lossy()),
        dir,
        "test runs in {mine}"
    );
    assert!(dir.is_dir(), "{} exists", dir.display());
    let procs = read(&dir, "cgroup.procs");
    assert!(procs.lines().any(|l| l == pid), "init {pid} in {procs:?}");
    // hull enabled the controllers down its path, so the limits' files exist.
    let controllers = read(&dir, "cgroup.controllers");
    for c in ["memory", "pids", "cpu", "io"] {
        assert!(
            controllers.split_whitespace().any(|x| x == c),
            "{c} in {controllers:?}"
        );
    }

    // Without a cgroup namespace the container sees the same path; an exec joins it too.
    let out = ct.exec(&["cat", "/proc/self/cgroup"]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    assert_eq!(
        host_dir(&only_v2_line(&out.stdout_text())),
        dir,
        "{}",
        out.describe()
    );

    ct.kill("KILL");
    ct.wait_for_status("stopped", T);
    let out = ct.delete();
    assert_eq!(out.code(), 0, "{}", out.describe());
    assert!(!dir.exists(), "delete removes {}", dir.display());
}

#[test]
fn explicit_cgroups_path_and_the_parents_hull_made_are_removed() {
    let hull = v2_hull();
    let top = unique("v2top");
    let mut ct = hull.container(sleeper());
    let path = format!("/{top}/mid/{}", ct.id());
    ct.bundle_mut()
        .update_config(|c| c["linux"]["cgroupsPath"] = json!(path));
    let dir = start_and_locate(&mut ct);
    assert_eq!(dir, host_dir(&path));
    assert!(read(&dir, "cgroup.controllers").contains("memory"));

    ct.kill("KILL");
    ct.wait_for_status("stopped", T);
    let out = ct.delete();
    assert_eq!(out.code(), 0, "{}", out.describe());
    let top_dir = host_dir(&top);
    assert!(
        !top_dir.exists(),
        "delete removes the parents it created: {}",
        top_dir.display()
    );
}

#[test]
fn cgroup_namespace_shows_the_container_as_the_root() {
    let hull = v2_hull();
    let bundle = Bundle::new()
        .with(|c| {
            let ns = c["linux"]["namespaces"].as_array_mut().expect("namespaces");
            ns.push(json!({"type": "cgroup"}));
            c["linux"]["resources"] = json!({"pids": {"limit": 64}});
        })
        .sh("cat /proc/self/cgroup; cat /sys/fs/cgroup/pids.max");
    let mut ct = hull.container(bundle);
    let out = ct.run(&[]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    let text = out.stdout_text();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("0::/"), "{}", out.describe());
    // /sys/fs/cgroup is a cgroup2 mount rooted at the container's own cgroup.
    assert_eq!(lines.next(), Some("64"), "{}", out.describe());
}

#[test]
fn exec_and_delete_with_sub_cgroups_the_container_made() {
    let hull = v2_hull();
    // A nested runtime or systemd in the container makes its own sub-cgroups (a cgroup
    // namespace and a writable cgroup2 mount let it) and moves itself into one.
    let script = "cd /sys/fs/cgroup && mkdir inner && echo $$ >inner/cgroup.procs \
                  && echo +pids >cgroup.subtree_control && echo ready && exec sleep 1000";
    let bundle = Bundle::new()
        .with(|c| {
            let ns = c["linux"]["namespaces"].as_array_mut().expect("namespaces");
            ns.push(json!({"type": "cgroup"}));
            for m in c["mounts"].as_array_mut().expect("mounts") {
                if m["destination"] == "/sys/fs/cgroup" {
                    m["options"] = json!(["nosuid", "noexec", "nodev", "relatime"]);
                }
            }
        })
        .sh(script);
    let mut ct = hull.container(bundle);
    ct.create();
    ct.start();
    ct.wait_for_stdout("ready", T);
    let pid = ct.pid().unwrap_or_else(|| panic!("no pid")).to_string();
    let inner = host_dir(&cgroup_of(&pid));
    assert_eq!(inner.file_name().and_then(|n| n.to_str()), Some("inner"));
    let dir = inner
        .parent()
        .unwrap_or_else(|| panic!("inner has a parent"))
        .to_path_buf();
    assert!(dir.ends_with(ct.id()), "{}", dir.display());
    // The container's own cgroup now delegates a domain controller, so it may hold no
    // process: an exec joins the init's cgroup instead, as runc does.
    let out = ct.exec(&["cat", "/proc/self/cgroup"]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    assert_eq!(out.stdout_text().trim(), "0::/inner", "{}", out.describe());

    ct.kill("KILL");
    ct.wait_for_status("stopped", T);
    let out = ct.delete();
    assert_eq!(out.code(), 0, "{}", out.describe());
    assert!(!dir.exists(), "delete removes {} and inner/", dir.display());
}

#[test]
fn memory_limit_is_memory_max_and_an_overrun_is_oom_killed() {
    let hull = v2_hull();
    let limit: u64 = 32 << 20;
    let bundle = sleeper().with(|c| {
        c["linux"]["resources"] = json!({"memory": {"limit": limit, "swap": limit}});
    });
    let mut ct = hull.container(bundle);
    let dir = start_and_locate(&mut ct);
    assert_eq!(read(&dir, "memory.max"), limit.to_string());
    // The container sees its own cgroup at /sys/fs/cgroup.
    let out = ct.exec(&["cat", "/sys/fs/cgroup/memory.max"]);
    assert_eq!(
        out.stdout_text().trim(),
        limit.to_string(),
        "{}",
        out.describe()
    );

    // dd's 64 MiB block buffer cannot fit in 32 MiB.
    let out = ct.exec(&["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]);
    assert_ne!(out.code(), 0, "dd must not fit: {}", out.describe());
    assert!(
        event(&dir, "memory.events", "oom_kill") >= 1,
        "memory.events: {}",
        read(&dir, "memory.events")
    );
}

#[test]
fn every_resource_lands_in_its_v2_file() {
    let hull = v2_hull();
    let mib: u64 = 1 << 20;
    let bundle = sleeper().with(|c| {
        c["linux"]["resources"] = json!({
            "memory": {"limit": 64 * mib, "reservation": 32 * mib, "swap": 128 * mib},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000,
                    "cpus": "0", "mems": "0"},
            "pids": {"limit": 100},
            "blockIO": {"weight": 500},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4 * mib}],
            "unified": {"memory.high": (48 * mib).to_string()}
        });
    });
    let mut ct = hull.container(bundle);
    let dir = start_and_locate(&mut ct);
    // runc's fs2 conversions: swap is memory+swap in the spec, swap alone in v2; shares
    // 2..262144 map onto weight 1..10000, blkio 10..1000 onto io 1..10000.
    let want: Vec<(&str, String)> = vec![
        ("memory.max", (64 * mib).to_string()),
        ("memory.low", (32 * mib).to_string()),
        ("memory.swap.max", (64 * mib).to_string()),
        ("memory.high", (48 * mib).to_string()),
        ("cpu.max", "50000 100000".to_string()),
        ("cpu.max.burst", "1000".to_string()),
        ("cpu.weight", "39".to_string()),
        ("cpuset.cpus", "0".to_string()),
        ("cpuset.mems", "0".to_string()),
        ("pids.max", "100".to_string()),
        ("io.weight", "default 4950".to_string()),
        ("hugetlb.2MB.max", (4 * mib).to_string()),
    ];
    let got: Vec<(&str, String)> = want.iter().map(|(f, _)| (*f, read(&dir, f))).collect();
    assert_eq!(got, want);
}

#[test]
fn pids_limit_is_pids_max_and_stops_a_fork_loop() {
    let hull = v2_hull();
    let limit = 16;
    let bundle = sleeper().with(|c| c["linux"]["resources"] = json!({"pids": {"limit": limit}}));
    let mut ct = hull.container(bundle);
    let dir = start_and_locate(&mut ct);
    assert_eq!(read(&dir, "pids.max"), limit.to_string());

    // Each round leaves one more sleeper; the shell dies at the first fork that fails.
    let out = ct.exec(&[
        "sh",
        "-c",
        "i=0; while [ $i -lt 64 ]; do sleep 1000 & i=$((i+1)); echo $i; done",
    ]);
    let started: u64 = out
        .stdout_text()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    assert_ne!(
        out.code(),
        0,
        "the loop must fail to fork: {}",
        out.describe()
    );
    assert!(started < limit, "{started} sleepers: {}", out.describe());
    assert!(event(&dir, "pids.events", "max") >= 1);
    let current: u64 = read(&dir, "pids.current").parse().expect("pids.current");
    assert!(current <= limit, "pids.current {current}");
}

/// A bundle whose /dev has `hull-kmsg` (c 1:11, /dev/kmsg's numbers, which no default rule
/// allows) and a script that writes to it, then to /dev/null.
fn kmsg_writer(extra_rules: Value) -> Bundle {
    Bundle::new()
        .with(|c| {
            c["linux"]["devices"] = json!([{
                "path": "/dev/hull-kmsg", "type": "c", "major": 1, "minor": 11,
                "fileMode": 438, "uid": 0, "gid": 0
            }]);
            let mut rules = vec![json!({"allow": false, "access": "rwm"})];
            rules.extend(extra_rules.as_array().cloned().unwrap_or_default());
            c["linux"]["resources"] = json!({ "devices": rules });
        })
        .sh("echo hull-cgroups-v2-test >/dev/hull-kmsg && echo wrote; echo ok >/dev/null && echo null-ok")
}

#[test]
fn a_device_no_rule_allows_is_refused_by_the_ebpf_filter() {
    let hull = v2_hull();
    let mut ct = hull.container(kmsg_writer(json!([])));
    let out = ct.run(&[]);
    let text = out.stdout_text();
    assert!(!text.contains("wrote"), "{}", out.describe());
    assert!(
        out.stderr_text().contains("Operation not permitted"),
        "open must fail with EPERM: {}",
        out.describe()
    );
    // The default rules still allow /dev/null.
    assert!(text.contains("null-ok"), "{}", out.describe());
}

#[test]
fn a_device_rule_lets_the_container_use_the_device() {
    let hull = v2_hull();
    let allow = json!([{"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]);
    let mut ct = hull.container(kmsg_writer(allow));
    let out = ct.run(&[]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    assert!(out.stdout_text().contains("wrote"), "{}", out.describe());
}

#[test]
fn kill_all_with_a_catchable_signal_leaves_the_cgroup_thawed() {
    let hull = v2_hull();
    // The init survives TERM (it traps it) and reports once the sleeper it started is gone.
    let script = "trap 'echo got TERM; t=1' TERM; sleep 1000 & bg=$!; echo ready; \
                  while :; do sleep 0.1; \
                  if [ -n \"$t\" ] && ! kill -0 $bg 2>/dev/null; then echo bg-gone; fi; done";
    let mut ct = hull.container(Bundle::new().sh(script));
    let dir = start_and_locate(&mut ct);
    ct.wait_for_stdout("ready", T);

    // Anything but SIGKILL goes through the freezer, so no process forks past the signal;
    // the cgroup must be thawed again afterwards.
    let out = hull.run(&["kill", "--all", ct.id(), "TERM"]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    ct.wait_for_stdout("bg-gone", T);
    assert_eq!(read(&dir, "cgroup.freeze"), "0");
    assert_eq!(event(&dir, "cgroup.events", "frozen"), 0);
    assert_eq!(ct.status(), "running");
}

#[test]
fn kill_all_empties_the_cgroup_and_delete_removes_it() {
    let hull = v2_hull();
    let mut ct = hull.container(Bundle::new().sh("sleep 1000 & sleep 1000 & echo ready; wait"));
    let dir = start_and_locate(&mut ct);
    ct.wait_for_stdout("ready", T);
    let n = read(&dir, "cgroup.procs").lines().count();
    assert!(n >= 3, "init and two sleepers: {n}");

    let out = hull.run(&["kill", "--all", ct.id(), "KILL"]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    ct.wait_for_status("stopped", T);
    let procs = crate::support::leaks::wait_empty(|| {
        read(&dir, "cgroup.procs")
            .lines()
            .map(str::to_string)
            .collect()
    });
    assert!(procs.is_empty(), "left in the cgroup: {procs:?}");

    let out = ct.delete();
    assert_eq!(out.code(), 0, "{}", out.describe());
    assert!(!dir.exists(), "delete removes {}", dir.display());
}

/// The scenarios `cgroups` runs on v1, here on v2 where they take other paths: `events`
/// over inotify on memory.events and the v2 stats files, pause through cgroup.freeze,
/// update through memory.max/pids.max/cpu.max (undone when cpuset.cpus is refused), `ps`,
/// `kill --all` through cgroup.kill (also after the init died), delete of what ignores
/// SIGTERM or is frozen. The bodies are in `cgroups_common.rs`.
mod shared {
    use crate::cgroups_common::{self as common, Layout};
    use crate::support::requires;

    fn v2() -> Layout {
        requires(&["root", "cgroup2"]);
        Layout::V2
    }

    #[test]
    fn oom_kill_is_reported_by_events() {
        common::oom_kill_is_reported(v2());
    }

    #[test]
    fn fork_stops_at_pids_limit_and_stats_say_so() {
        common::fork_stops_at_pids_limit(v2());
    }

    #[test]
    fn cpu_quota_and_period_and_their_update() {
        common::cpu_quota_and_period(v2());
    }

    #[test]
    fn devices_are_denied_without_resources() {
        common::devices_are_denied_without_resources(v2());
    }

    #[test]
    fn pause_and_resume() {
        common::pause_and_resume(v2());
    }

    #[test]
    fn pause_and_resume_of_a_created_container() {
        common::pause_and_resume_of_a_created_container(v2());
    }

    #[test]
    fn update_changes_live_limits() {
        common::update_changes_live_limits(v2());
    }

    #[test]
    fn update_from_resources_json() {
        common::update_from_resources_json(v2());
    }

    #[test]
    fn ps_table_and_json() {
        common::ps_table_and_json(v2());
    }

    #[test]
    fn kill_all_reaches_every_process() {
        common::kill_all_reaches_every_process(v2());
    }

    #[test]
    fn delete_kills_what_ignores_sigterm() {
        common::delete_kills_what_ignores_sigterm(v2());
    }

    #[test]
    fn delete_force_of_a_paused_container() {
        common::delete_force_of_a_paused_container(v2());
    }

    #[test]
    fn bad_input_is_refused() {
        common::bad_input_is_refused(v2());
    }
}
