//! Container cgroups on this hybrid host (v1 controllers): OOM kills and `events`, the pids
//! limit, CFS quota, device rules, pause/resume, live `update` (flags and JSON), `ps`,
//! `kill --all`, deleting what ignores SIGTERM, and the errors of each command. The bodies
//! live in `cgroups_common.rs`, shared with the cgroup v2 guest.

use crate::cgroups_common::{self as common, Layout};
use crate::support::*;

fn v1() -> Layout {
    requires(&["cgroup-v1"]);
    Layout::V1
}

#[test]
fn oom_kill_is_reported() {
    common::oom_kill_is_reported(v1());
}

#[test]
fn fork_stops_at_pids_limit() {
    common::fork_stops_at_pids_limit(v1());
}

#[test]
fn cpu_quota_and_period() {
    common::cpu_quota_and_period(v1());
}

#[test]
fn denied_device_cannot_be_opened() {
    common::denied_device_cannot_be_opened(v1());
}

#[test]
fn devices_are_denied_without_resources() {
    common::devices_are_denied_without_resources(v1());
}

#[test]
fn pause_and_resume() {
    common::pause_and_resume(v1());
}

#[test]
fn pause_and_resume_of_a_created_container() {
    common::pause_and_resume_of_a_created_container(v1());
}

#[test]
fn update_changes_live_limits() {
    common::update_changes_live_limits(v1());
}

#[test]
fn update_from_resources_json() {
    common::update_from_resources_json(v1());
}

#[test]
fn ps_table_and_json() {
    common::ps_table_and_json(v1());
}

#[test]
fn kill_all_reaches_every_process() {
    common::kill_all_reaches_every_process(v1());
}

#[test]
fn delete_kills_what_ignores_sigterm() {
    common::delete_kills_what_ignores_sigterm(v1());
}

#[test]
fn delete_force_of_a_paused_container() {
    common::delete_force_of_a_paused_container(v1());
}

#[test]
fn bad_input_is_refused() {
    common::bad_input_is_refused(v1());
}

/// The first block device the host has, as `major:minor` (the throttle files take any disk).
fn a_block_device() -> String {
    let mut devs: Vec<_> = std::fs::read_dir("/sys/block")
        .unwrap_or_else(|e| panic!("read /sys/block: {e}"))
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
        .map(|d| d.trim().to_string())
        .collect();
    devs.sort();
    devs.into_iter()
        .next()
        .unwrap_or_else(|| panic!("no block device in /sys/block for the throttle rules"))
}

/// Every `linux.resources` field this host's v1 controllers carry lands in its file, in
/// runc's fs-driver form: memory (limit, reservation, memory+swap, swappiness, the OOM
/// killer off), cpu (shares, CFS quota, period and burst), cpuset, pids and the blkio
/// throttles. (This host has no hugetlb, net_cls or net_prio hierarchy and its disk
/// scheduler no blkio weight file; those are unit-tested in `src/cgroups/v1/`.)
#[test]
fn every_resource_lands_in_its_v1_file() {
    let layout = v1();
    let hull = Hull::new();
    let mib: i64 = 1 << 20;
    let dev = a_block_device();
    let (major, minor) = dev.split_once(':').expect("major:minor");
    let (major, minor): (i64, i64) = (major.parse().unwrap(), minor.parse().unwrap());
    let throttle = |rate: u64| json!([{"major": major, "minor": minor, "rate": rate}]);
    let bundle = Bundle::new().args(&["sleep", "1000"]).with(|c| {
        c["linux"]["resources"] = json!({
            "memory": {"limit": 64 * mib, "reservation": 32 * mib, "swap": 128 * mib,
                       "swappiness": 10, "disableOOMKiller": true},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 1000,
                    "cpus": "0", "mems": "0"},
            "pids": {"limit": 100},
            "blockIO": {
                "throttleReadBpsDevice": throttle(1 << 20),
                "throttleWriteBpsDevice": throttle(2 << 20),
                "throttleReadIOPSDevice": throttle(300),
                "throttleWriteIOPSDevice": throttle(400)
            }
        });
    });
    let mut ct = hull.container(bundle);
    ct.run_detached(&[]);
    let pid = ct.pid().expect("init pid");
    let want: Vec<(&str, &str, String)> = vec![
        ("memory", "memory.limit_in_bytes", (64 * mib).to_string()),
        (
            "memory",
            "memory.soft_limit_in_bytes",
            (32 * mib).to_string(),
        ),
        (
            "memory",
            "memory.memsw.limit_in_bytes",
            (128 * mib).to_string(),
        ),
        ("memory", "memory.swappiness", "10".into()),
        ("cpu", "cpu.shares", "512".into()),
        ("cpu", "cpu.cfs_quota_us", "50000".into()),
        ("cpu", "cpu.cfs_period_us", "100000".into()),
        ("cpu", "cpu.cfs_burst_us", "1000".into()),
        ("cpuset", "cpuset.cpus", "0".into()),
        ("cpuset", "cpuset.mems", "0".into()),
        ("pids", "pids.max", "100".into()),
        (
            "blkio",
            "blkio.throttle.read_bps_device",
            format!("{dev} {}", 1 << 20),
        ),
        (
            "blkio",
            "blkio.throttle.write_bps_device",
            format!("{dev} {}", 2 << 20),
        ),
        (
            "blkio",
            "blkio.throttle.read_iops_device",
            format!("{dev} 300"),
        ),
        (
            "blkio",
            "blkio.throttle.write_iops_device",
            format!("{dev} 400"),
        ),
    ];
    // runc 1.1 predates linux.resources.cpu.burst and leaves the file alone.
    let want: Vec<_> = want
        .into_iter()
        .filter(|(_, f, _)| is_hull() || *f != "cpu.cfs_burst_us")
        .collect();
    let got: Vec<(&str, &str, String)> = want
        .iter()
        .map(|(c, f, _)| (*c, *f, layout.read(pid, c, f)))
        .collect();
    assert_eq!(got, want);
    let oom = layout.read(pid, "memory", "memory.oom_control");
    assert!(
        oom.lines().any(|l| l == "oom_kill_disable 1"),
        "memory.oom_control: {oom}"
    );
    // What the process sees: pinned to CPU 0.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    assert!(
        status.lines().any(|l| l == "Cpus_allowed_list:\t0"),
        "the init is not pinned to cpu 0:\n{status}"
    );
}
