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
fn pause_and_resume() {
    common::pause_and_resume(v1());
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
