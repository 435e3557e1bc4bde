//! OCI hooks end to end: the six kinds run in lifecycle order, each with the state JSON on
//! stdin (right `status`, `pid`, `id`, `bundle`) and in the right namespaces
//! (createContainer and startContainer in the container's, the rest in the runtime's); `args`
//! and `env` exactly; `timeout` kills a hanging hook; a failing hook before the user process
//! runs fails create or start with an error naming it and leaves nothing (poststop still
//! runs); a failing poststart or poststop hook only warns.
//!
//! Every hook here is a small shell script that appends one line to `<dir>/order` and saves
//! its stdin as `<dir>/<kind>.json`, where `<dir>` is a scratch directory bind-mounted at
//! `/hooks` in the container (startContainer hooks resolve paths there).

use crate::support::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Generous bound for a container to reach a state on a loaded 2-core machine.
const T: Duration = Duration::from_secs(10);

/// Every hook kind, in the order the runtime-spec runs them.
const KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Records `$0` (the kind), the hook's UTS and mount namespaces, then its stdin.
const RECORD: &str = r#"echo "$0 $(readlink /proc/self/ns/uts) $(readlink /proc/self/ns/mnt)" >> "$1/order"; cat > "$1/$0.json""#;

/// The scratch directory hooks write to, on the host and as the container sees it.
struct HookDir {
    host: PathBuf,
}

impl HookDir {
    fn new(bundle: &Bundle) -> HookDir {
        let host = bundle.scratch().join("hooks");
        std::fs::create_dir(&host).unwrap_or_else(|e| panic!("mkdir {}: {e}", host.display()));
        HookDir { host }
    }

    /// Where a hook of `kind` sees the directory: the container's view for startContainer
    /// (run after pivot_root), the host's for the rest.
    fn seen_by(&self, kind: &str) -> String {
        if kind == "startContainer" {
            "/hooks".into()
        } else {
            self.host.to_string_lossy().into_owned()
        }
    }

    /// `order`: one `kind uts:[inode] mnt:[inode]` line per hook that ran.
    fn order(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.host.join("order"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.split(' ').map(String::from).collect())
            .collect()
    }

    /// The state a hook of `kind` got on stdin.
    fn state(&self, kind: &str) -> Value {
        read_json(&self.host.join(format!("{kind}.json")))
    }

    fn ran(&self, kind: &str) -> bool {
        self.host.join(format!("{kind}.json")).exists()
    }
}

/// A hook running `script` with `$0` = kind and `$1` = the hook dir as it sees it.
fn hook(dir: &HookDir, kind: &str, script: &str) -> Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", script, kind, dir.seen_by(kind)],
        "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
    })
}

/// A bundle whose container runs `args`, with /hooks bound to the hook dir and `hooks`
/// built from it.
fn hooked(args: &[&str], hooks: impl FnOnce(&HookDir) -> Value) -> (Bundle, HookDir) {
    let mut bundle = Bundle::new().args(args);
    let dir = HookDir::new(&bundle);
    let hooks = hooks(&dir);
    let source = dir.host.to_string_lossy().into_owned();
    bundle.update_config(|c| {
        c["hooks"] = hooks;
        let mounts = c["mounts"].as_array_mut();
        mounts.unwrap_or_else(|| panic!("no mounts")).push(json!({
            "destination": "/hooks", "type": "bind", "source": source,
            "options": ["rbind", "rw"],
        }));
    });
    (bundle, dir)
}

/// Every kind recording itself.
fn all_recorders(dir: &HookDir) -> Value {
    let mut hooks = serde_json::Map::new();
    for kind in KINDS {
        hooks.insert(kind.into(), json!([hook(dir, kind, RECORD)]));
    }
    Value::Object(hooks)
}

/// The UTS and mount namespaces of `pid` (or `self`), as `readlink` prints them.
fn namespaces_of(pid: &str) -> (String, String) {
    let ns = |kind: &str| {
        std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|e| panic!("{kind} namespace of {pid}: {e}"))
    };
    (ns("uts"), ns("mnt"))
}

#[test]
fn all_six_kinds_run_in_order_with_the_state() {
    let (bundle, dir) = hooked(&["sleep", "1000"], all_recorders);
    let hull = Hull::new();
    let mut ct = hull.container(bundle);
    ct.create();
    let pid = ct.pid().expect("init pid");
    let container_ns = namespaces_of(&pid.to_string());
    ct.start();
    ct.kill("KILL");
    ct.wait_for_status("stopped", T);
    let out = ct.delete();
    assert!(out.status.success(), "delete: {}", out.describe());

    let order = dir.order();
    let kinds: Vec<&str> = order.iter().map(|l| l[0].as_str()).collect();
    let want = if is_hull() {
        KINDS.to_vec()
    } else {
        // runc 1.1 runs poststart hooks at the end of create (fixed in runc 1.2).
        vec![
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "startContainer",
            "poststop",
        ]
    };
    assert_eq!(kinds, want, "hooks ran in lifecycle order: {order:?}");
    let host_ns = namespaces_of("self");
    assert_ne!(
        host_ns.0, container_ns.0,
        "the container has its own UTS namespace"
    );
    assert_ne!(
        host_ns.1, container_ns.1,
        "the container has its own mount namespace"
    );
    for line in &order {
        let kind = line[0].as_str();
        let got = (line[1].clone(), line[2].clone());
        let in_container = kind == "createContainer" || kind == "startContainer";
        let want = if in_container {
            &container_ns
        } else {
            &host_ns
        };
        assert_eq!(&got, want, "namespaces (uts, mnt) of {kind}");
    }

    let bundle_path = ct.bundle().path().to_string_lossy().into_owned();
    for (kind, status) in [
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        ("createContainer", "creating"),
        ("startContainer", "created"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let st = dir.state(kind);
        // runc 1.1 runs poststart during create, so its state says created.
        let status = if kind == "poststart" && !is_hull() {
            "created"
        } else {
            status
        };
        assert_eq!(st["status"], status, "{kind}: {st}");
        assert_eq!(st["id"], ct.id(), "{kind}: {st}");
        assert_eq!(st["bundle"], bundle_path.as_str(), "{kind}: {st}");
        assert!(st["ociVersion"].is_string(), "{kind}: {st}");
        let got = st["pid"].as_i64().unwrap_or(0);
        match kind {
            "poststop" => assert_eq!(got, 0, "a stopped container has no pid: {st}"),
            // runc 1.1 gives the hooks run by its init the pid as the container sees it (1);
            // the spec asks for the host's, as hull reports it.
            "createContainer" | "startContainer" if !is_hull() => assert_eq!(got, 1),
            _ => assert_eq!(got, i64::from(pid), "{kind} gets the init's host pid: {st}"),
        }
    }
}

#[test]
fn args_and_env_are_passed_exactly() {
    let script = r#"tr '\0' '\n' < /proc/$$/cmdline > "$DIR/argv"; tr '\0' '\n' < /proc/$$/environ > "$DIR/env""#;
    let (bundle, dir) = hooked(&["true"], |_| json!({}));
    let host = dir.host.to_string_lossy().into_owned();
    let dir_env = format!("DIR={host}");
    let args = ["my-hook", "-c", script, "a b", "*", ""];
    let env = [
        "ONE=1",
        "TWO=two  words",
        "EMPTY=",
        "PATH=/bin:/usr/bin",
        &dir_env,
    ];
    let bundle = bundle.with(|c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": args, "env": env}]});
    });
    let hull = Hull::new();
    let mut ct = hull.container(bundle);
    ct.create();
    let argv = std::fs::read_to_string(dir.host.join("argv")).expect("hook ran");
    assert_eq!(
        argv.lines().collect::<Vec<_>>(),
        args,
        "argv, argv[0] included"
    );
    let got = std::fs::read_to_string(dir.host.join("env")).expect("hook ran");
    let mut got: Vec<&str> = got.lines().collect();
    let mut want = env.to_vec();
    // The order of environ carries no meaning (hull's hooks get it sorted).
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "exactly the hook's env, nothing added");
}

#[test]
fn a_hook_that_hangs_past_its_timeout_is_killed_and_fails_create() {
    let (bundle, dir) = hooked(&["true"], |d| {
        let mut hang = hook(
            d,
            "createRuntime",
            r#"echo $$ > "$1/hang.pid"; exec sleep 60"#,
        );
        hang["timeout"] = json!(1);
        json!({"createRuntime": [hang], "poststop": [hook(d, "poststop", RECORD)]})
    });
    let hull = Hull::new();
    let mut ct = hull.container(bundle);
    let began = Instant::now();
    let out = ct.create_with(&[]);
    let took = began.elapsed();
    assert!(!out.status.success(), "{}", out.describe());
    assert!(took < Duration::from_secs(8), "create took {took:?}");
    assert_one_line_error(&out, "hook timeout");
    if is_hull() {
        assert_stderr_mentions(&out, &["createRuntime hook #0"]);
        assert_stderr_mentions(&out, &["timed out"]);
    } else {
        assert_stderr_mentions(&out, &["timed out", "timeout"]);
    }
    let hook_pid = std::fs::read_to_string(dir.host.join("hang.pid")).expect("hook started");
    let alive = Path::new(&format!("/proc/{}", hook_pid.trim())).exists();
    assert!(
        !alive,
        "the hanging hook (pid {}) was killed",
        hook_pid.trim()
    );
    assert!(dir.ran("poststop"), "poststop runs after a failed create");
    assert!(!ct.try_state().status.success(), "no container is left");
}

/// Which command a failing hook of `kind` makes fail.
fn failing_step(kind: &str) -> &'static str {
    if kind == "startContainer" {
        "start"
    } else {
        "create"
    }
}

#[test]
fn a_failing_hook_before_the_process_runs_fails_and_leaves_nothing() {
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
    ] {
        if kind == "startContainer"
            && hull_only("runc 1.1's start succeeds before its startContainer hooks run")
        {
            continue;
        }
        let (bundle, dir) = hooked(&["sh", "-c", "echo the-process-ran"], |d| {
            let mut hooks = serde_json::Map::new();
            let fail = hook(d, kind, r#"echo "boom from $0" >&2; exit 3"#);
            hooks.insert(kind.into(), json!([fail]));
            hooks.insert("poststop".into(), json!([hook(d, "poststop", RECORD)]));
            Value::Object(hooks)
        });
        let hull = Hull::new();
        let mut ct = hull.container(bundle);
        let out = if failing_step(kind) == "create" {
            ct.create_with(&[])
        } else {
            ct.create();
            ct.try_start()
        };
        assert!(!out.status.success(), "{kind}: {}", out.describe());
        assert_one_line_error(&out, kind);
        if is_hull() {
            assert_stderr_mentions(&out, &[&format!("{kind} hook #0 (/bin/sh)")]);
            assert_stderr_mentions(&out, &["exit status 3"]);
            assert_stderr_mentions(&out, &[&format!("boom from {kind}")]);
        } else {
            assert_stderr_mentions(&out, &["hook"]);
        }
        assert!(
            !ct.stdout().contains("the-process-ran"),
            "{kind}: the process must not run"
        );
        assert!(dir.ran("poststop"), "{kind}: poststop still runs");
        assert_eq!(dir.state("poststop")["status"], "stopped");
        let state = ct.try_state();
        assert!(
            !state.status.success(),
            "{kind}: a failed {} leaves no container: {}",
            failing_step(kind),
            state.describe()
        );
        // The guard checks for a process, cgroup, state dir or mount left behind.
    }
}

#[test]
fn a_failing_poststart_hook_only_warns() {
    if hull_only("runc 1.1 runs poststart hooks in create and fails it") {
        return;
    }
    let (bundle, _dir) = hooked(
        &["sleep", "1000"],
        |d| json!({"poststart": [hook(d, "poststart", "echo poststart-broke >&2; exit 4")]}),
    );
    let hull = Hull::new();
    let mut ct = hull.container(bundle);
    ct.create();
    let out = ct.try_start();
    assert!(out.status.success(), "{}", out.describe());
    if is_hull() {
        assert_stderr_mentions(&out, &["poststart hook #0"]);
    }
    assert_eq!(ct.status(), "running", "the container keeps running");
}

#[test]
fn a_failing_poststop_hook_only_warns() {
    let (bundle, _dir) = hooked(
        &["true"],
        |d| json!({"poststop": [hook(d, "poststop", "echo poststop-broke >&2; exit 5")]}),
    );
    let hull = Hull::new();
    let mut ct = hull.container(bundle);
    ct.create();
    ct.start();
    ct.wait_for_status("stopped", T);
    let out = ct.delete();
    assert!(out.status.success(), "{}", out.describe());
    if is_hull() {
        assert_stderr_mentions(&out, &["poststop hook #0"]);
    }
    assert!(!ct.try_state().status.success(), "deleted despite the hook");
}
