//! The runc CLI contract for the container lifecycle: create, start, state, kill, delete,
//! list, run (foreground and detached), --pid-file, spec and features, and the errors for
//! each wrong transition. Every test here passes against runc 1.1
//! (`HULL_TEST_BINARY=/usr/sbin/runc cargo test --test integration lifecycle`); error
//! messages are matched by id or key words only, since hull words them its own way.

use crate::support::*;
use std::time::Duration;

/// Generous bound for a container to reach a state on a loaded 2-core machine.
const T: Duration = Duration::from_secs(10);

/// A container that stays up until killed and ignores nothing: `sleep` as PID 1.
fn sleeper() -> Bundle {
    Bundle::new().args(&["sleep", "1000"])
}

/// A container that prints `ready`, then exits 0 with `got <sig>` when sent TERM or USR1.
fn trapper() -> Bundle {
    Bundle::new().sh(
        "trap 'echo got TERM; exit 0' TERM; trap 'echo got USR1; exit 0' USR1; \
         echo ready; while :; do sleep 0.05; done",
    )
}

fn pid_of(state: &Value) -> i64 {
    state["pid"].as_i64().unwrap_or(-1)
}

fn pid_alive(pid: i64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
}

#[test]
fn create_start_kill_delete() {
    let hull = Hull::new();
    let mut ct = hull.container(sleeper());
    ct.create();

    let st = ct.state();
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(st["id"], ct.id(), "{st}");
    assert!(pid_of(&st) > 0, "created container has a pid: {st}");
    assert_eq!(Some(pid_of(&st) as i32), ct.pid());
    assert!(pid_alive(pid_of(&st)), "init is alive while created");
    assert_eq!(
        st["bundle"].as_str(),
        Some(&*ct.bundle().path().to_string_lossy()),
        "state.bundle is the absolute bundle path: {st}"
    );
    assert!(
        st["ociVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "{st}"
    );

    ct.start();
    let running = ct.state();
    assert_eq!(running["status"], "running", "{running}");
    assert_eq!(pid_of(&running), pid_of(&st), "start keeps the init pid");

    let out = ct.kill("KILL");
    assert!(out.status.success(), "kill KILL: {}", out.describe());
    assert!(ct.wait_exit(T), "init died after kill KILL");
    let stopped = ct.wait_for_status("stopped", T);
    assert_eq!(
        pid_of(&stopped),
        0,
        "a stopped container reports pid 0: {stopped}"
    );

    let out = ct.delete();
    assert!(out.status.success(), "delete: {}", out.describe());
    let gone = ct.try_state();
    assert!(
        !gone.status.success(),
        "state after delete: {}",
        gone.describe()
    );
    assert_stderr_mentions(&gone, &["does not exist", "not found", ct.id()]);
    assert!(!hull.root().join(ct.id()).exists(), "state dir removed");
}

#[test]
fn create_does_not_run_the_process_until_start() {
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new().sh("echo hello-from-container"));
    ct.create();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(ct.stdout(), "", "nothing runs before start");
    assert_eq!(ct.status(), "created");
    ct.start();
    ct.wait_for_stdout("hello-from-container", T);
    ct.wait_for_status("stopped", T);
    let out = ct.delete();
    assert!(out.status.success(), "delete: {}", out.describe());
}

#[test]
fn kill_by_name_term() {
    let hull = Hull::new();
    let mut ct = hull.container(trapper());
    ct.create();
    ct.start();
    ct.wait_for_stdout("ready", T);
    let out = ct.kill("TERM");
    assert!(out.status.success(), "kill TERM: {}", out.describe());
    ct.wait_for_stdout("got TERM", T);
    ct.wait_for_status("stopped", T);
}

#[test]
fn kill_defaults_to_sigterm() {
    let hull = Hull::new();
    let mut ct = hull.container(trapper());
    ct.create();
    ct.start();
    ct.wait_for_stdout("ready", T);
    let out = hull.run(&["kill", ct.id()]);
    assert!(
        out.status.success(),
        "kill without signal: {}",
        out.describe()
    );
    ct.wait_for_stdout("got TERM", T);
    ct.wait_for_status("stopped", T);
}

#[test]
fn kill_by_sig_prefixed_name() {
    let hull = Hull::new();
    let mut ct = hull.container(sleeper());
    ct.create();
    ct.start();
    let out = ct.kill("SIGKILL");
    assert!(out.status.success(), "kill SIGKILL: {}", out.describe());
    assert!(ct.wait_exit(T), "init died after SIGKILL");
    ct.wait_for_status("stopped", T);
}

#[test]
fn kill_by_number() {
    let hull = Hull::new();
    let mut ct = hull.container(trapper());
    ct.create();
    ct.start();
    ct.wait_for_stdout("ready", T);
    let out = ct.kill("10"); // SIGUSR1 on x86_64 and arm64
    assert!(out.status.success(), "kill 10: {}", out.describe());
    ct.wait_for_stdout("got USR1", T);
    ct.wait_for_status("stopped", T);
}

#[test]
fn kill_a_created_container() {
    let hull = Hull::new();
    let mut ct = hull.container(sleeper());
    ct.create();
    let out = ct.kill("KILL");
    assert!(out.status.success(), "kill created: {}", out.describe());
    assert!(ct.wait_exit(T));
    ct.wait_for_status("stopped", T);
    let out = ct.delete();
    assert!(out.status.success(), "delete: {}", out.describe());
}

#[test]
fn list_table_json_and_quiet() {
    let hull = Hull::new();
    let mut a = hull.container(sleeper());
    let mut b = hull.container(sleeper());
    a.create();
    b.create();
    b.start();

    let table = hull.ok(&["list"]).stdout_text();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        &header[..4],
        &["ID", "PID", "STATUS", "BUNDLE"],
        "table header: {table}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{table}");
    for (ct, status) in [(&a, "created"), (&b, "running")] {
        let row = rows
            .iter()
            .find(|r| r[0] == ct.id())
            .unwrap_or_else(|| panic!("{} not listed: {table}", ct.id()));
        assert_eq!(row[1], ct.pid().unwrap_or(0).to_string(), "{table}");
        assert_eq!(row[2], status, "{table}");
        assert_eq!(row[3], ct.bundle().path().to_string_lossy(), "{table}");
    }

    let json: Value = serde_json::from_slice(&hull.ok(&["list", "--format", "json"]).stdout)
        .expect("list --format json is JSON");
    let list = json.as_array().expect("an array");
    assert_eq!(list.len(), 2, "{json}");
    for ct in [&a, &b] {
        let entry = list
            .iter()
            .find(|e| e["id"] == ct.id())
            .unwrap_or_else(|| panic!("{} not in {json}", ct.id()));
        assert_eq!(pid_of(entry), i64::from(ct.pid().unwrap_or(0)), "{json}");
        assert!(
            entry["status"].is_string() && entry["bundle"].is_string(),
            "{json}"
        );
    }

    let quiet = hull.ok(&["list", "--quiet"]).stdout_text();
    let mut ids: Vec<&str> = quiet.lines().collect();
    ids.sort_unstable();
    let mut want = vec![a.id(), b.id()];
    want.sort_unstable();
    assert_eq!(ids, want, "list --quiet prints only ids");
}

#[test]
fn list_of_an_empty_root() {
    let hull = Hull::new();
    let out = hull.ok(&["list", "--quiet"]);
    assert_eq!(out.stdout_text(), "");
    let json = hull.ok(&["list", "--format", "json"]).stdout_text();
    // runc prints `null` for no containers; an empty array means the same to every caller.
    let v: Value = serde_json::from_str(&json).expect("JSON");
    assert!(
        v.is_null() || v.as_array().is_some_and(|a| a.is_empty()),
        "{v}"
    );
}

#[test]
fn run_returns_the_exit_status() {
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new().sh("echo out; echo err >&2; exit 3"));
    let out = ct.run(&[]);
    assert_eq!(out.code(), 3, "{}", out.describe());
    assert_eq!(
        out.stdout_text(),
        "out\n",
        "container stdout is the runtime's"
    );
    assert!(out.stderr_text().contains("err"), "{}", out.describe());
    let gone = ct.try_state();
    assert!(
        !gone.status.success(),
        "a foreground run deletes the container: {}",
        gone.describe()
    );
}

#[test]
fn run_success_is_zero() {
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new().args(&["true"]));
    let out = ct.run(&[]);
    assert_eq!(out.code(), 0, "{}", out.describe());
}

#[test]
fn run_of_a_killed_container_is_128_plus_signal() {
    let hull = Hull::new();
    let mut ct = hull.container(sleeper());
    ct.spawn_run(&[]);
    ct.wait_for_status("running", T);
    let out = ct.kill("KILL");
    assert!(out.status.success(), "kill: {}", out.describe());
    let run = ct.wait_run();
    assert_eq!(run.code(), 128 + 9, "{}", run.describe());
}

#[test]
fn run_detach() {
    let hull = Hull::new();
    let mut ct = hull.container(sleeper());
    ct.run_detached(&[]);
    let st = ct.state();
    assert_eq!(st["status"], "running", "{st}");
    assert!(pid_alive(pid_of(&st)), "{st}");
    assert_eq!(ct.kill("KILL").code(), 0);
    ct.wait_for_status("stopped", T);
    let out = ct.delete();
    assert!(out.status.success(), "delete: {}", out.describe());
}

#[test]
fn pid_file_holds_the_init_pid() {
    let hull = Hull::new();
    let mut ct = hull.container(sleeper());
    let pid_file = ct.bundle().scratch().join("create.pid");
    let out = ct.create_with(&["--pid-file", &pid_file.to_string_lossy()]);
    assert!(out.status.success(), "{}", out.describe());
    let text = std::fs::read_to_string(&pid_file).expect("pid file written by create");
    assert_eq!(
        text.trim().parse::<i64>().ok(),
        Some(pid_of(&ct.state())),
        "pid file {text:?}"
    );

    let mut detached = hull.container(sleeper());
    let pid_file = detached.bundle().scratch().join("run.pid");
    detached.run_detached(&["--pid-file", &pid_file.to_string_lossy()]);
    let text = std::fs::read_to_string(&pid_file).expect("pid file written by run -d");
    assert_eq!(
        text.trim().parse::<i64>().ok(),
        Some(pid_of(&detached.state()))
    );
}

#[test]
fn duplicate_id_is_refused() {
    let hull = Hull::new();
    let mut first = hull.container(sleeper());
    first.create();
    let mut second = hull.container_with_id(sleeper(), first.id());
    let out = second.create_with(&[]);
    assert!(!out.status.success(), "{}", out.describe());
    assert_one_line_error(&out, "duplicate create");
    assert_stderr_mentions(&out, &["exists", first.id()]);
    assert_eq!(
        first.status(),
        "created",
        "the first container is untouched"
    );
    // Both guards name one container: whichever drops first removes it, the other finds
    // nothing left, which is what it checks.
}

#[test]
fn unknown_id_is_an_error_for_every_command() {
    let hull = Hull::new();
    let id = unique("nope");
    for args in [
        vec!["state", &id],
        vec!["start", &id],
        vec!["kill", &id, "KILL"],
        vec!["delete", &id],
    ] {
        let out = hull.fails(&args);
        assert_stderr_mentions(&out, &["does not exist", "not found", &id]);
    }
}

#[test]
fn start_of_a_running_container_fails() {
    let hull = Hull::new();
    let mut ct = hull.container(sleeper());
    ct.create();
    ct.start();
    let out = ct.try_start();
    assert!(!out.status.success(), "{}", out.describe());
    assert_one_line_error(&out, "second start");
    assert_stderr_mentions(&out, &["running", "not created", ct.id()]);
    assert_eq!(ct.status(), "running");
}

#[test]
fn delete_of_a_running_container_needs_force() {
    let hull = Hull::new();
    let mut ct = hull.container(sleeper());
    ct.create();
    ct.start();
    let out = ct.delete();
    assert!(!out.status.success(), "{}", out.describe());
    assert_one_line_error(&out, "delete running");
    assert_stderr_mentions(&out, &["running", "not stopped", "force"]);
    assert_eq!(
        ct.status(),
        "running",
        "still running after a refused delete"
    );
}

#[test]
fn kill_of_a_stopped_container_fails() {
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new().args(&["true"]));
    ct.create();
    ct.start();
    ct.wait_for_status("stopped", T);
    let out = ct.kill("KILL");
    assert!(!out.status.success(), "{}", out.describe());
    assert_one_line_error(&out, "kill stopped");
    assert_stderr_mentions(&out, &["not running", "stopped", ct.id()]);
    let out = ct.delete();
    assert!(out.status.success(), "delete: {}", out.describe());
}

#[test]
fn delete_force_of_a_running_container() {
    let hull = Hull::new();
    let mut ct = hull.container(sleeper());
    ct.create();
    ct.start();
    let pid = ct.pid().expect("pid recorded");
    let out = ct.delete_force();
    assert!(out.status.success(), "delete --force: {}", out.describe());
    assert!(ct.wait_exit(T), "init {pid} killed by delete --force");
    assert!(!ct.try_state().status.success(), "state gone");
    assert!(!hull.root().join(ct.id()).exists());
    assert!(cgroups_named(ct.id()).is_empty(), "cgroups removed");
}

#[test]
fn delete_force_of_a_created_container() {
    let hull = Hull::new();
    let mut ct = hull.container(sleeper());
    ct.create();
    let out = ct.delete_force();
    assert!(out.status.success(), "delete --force: {}", out.describe());
    assert!(ct.wait_exit(T));
    assert!(!ct.try_state().status.success(), "state gone");
}

#[test]
fn spec_writes_a_valid_config_and_refuses_to_overwrite() {
    let hull = Hull::new();
    let bundle = Bundle::without_rootfs(json!({}));
    let dir = bundle.path();
    std::fs::remove_file(bundle.config_path()).expect("start without config.json");

    let out = hull.ok(&["spec", "--bundle", &dir.to_string_lossy()]);
    assert_eq!(out.stdout_text(), "", "spec writes the file, not stdout");
    let text = std::fs::read_to_string(bundle.config_path()).expect("config.json written");
    let spec: oci_spec::runtime::Spec =
        serde_json::from_str(&text).expect("spec output is a runtime Spec");
    assert!(spec.version().starts_with("1."), "{}", spec.version());
    assert_eq!(
        spec.root()
            .as_ref()
            .map(|r| r.path().to_string_lossy().into_owned()),
        Some("rootfs".into())
    );
    ::hull::spec::from_spec(spec, dir.to_path_buf()).expect("hull's validator accepts it");

    let out = hull.fails(&["spec", "--bundle", &dir.to_string_lossy()]);
    assert_stderr_mentions(&out, &["exists", "config.json"]);
    assert_eq!(
        std::fs::read_to_string(bundle.config_path()).unwrap(),
        text,
        "the existing file is left alone"
    );
}

#[test]
fn spec_defaults_to_the_current_directory() {
    let hull = Hull::new();
    let bundle = Bundle::without_rootfs(json!({}));
    std::fs::remove_file(bundle.config_path()).unwrap();
    let mut cmd = hull.command(&["spec"]);
    cmd.current_dir(bundle.path());
    let out = hull.output_of(cmd);
    assert!(out.status.success(), "{}", out.describe());
    assert!(bundle.config_path().exists(), "spec wrote ./config.json");
}

#[test]
fn features_reports_oci_versions() {
    let hull = Hull::new();
    let out = hull.ok(&["features"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("features prints JSON");
    for key in ["ociVersionMin", "ociVersionMax"] {
        assert!(
            v[key].as_str().is_some_and(|s| s.starts_with("1.")),
            "{key} in {v}"
        );
    }
    assert!(v["hooks"].is_array(), "{v}");
    assert!(v["mountOptions"].is_array(), "{v}");
}
