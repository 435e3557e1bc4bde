//! `linux.seccomp` on real containers: every action (ERRNO with and without errnoRet and
//! defaultErrnoRet, KILL/KILL_THREAD/KILL_PROCESS and TRAP by SIGSYS, LOG, TRACE without a
//! tracer, ALLOW, NOTIFY answered by a listener the test runs), every operator, several
//! arguments per rule and several conditions on one argument, the x86/x32 entries, the
//! flags, unknown syscall names, both no_new_privs paths, `exec` under the container's filter,
//! and Docker's default profile as dockerd writes it (bundle-fixtures/docker-seccomp).
//!
//! The probe is `kill(pid, sig)`: busybox sh's `kill -SIG PID` passes both arguments exactly,
//! and in the container's pid namespace the pids used here belong to no process, so an
//! allowed call fails with ESRCH ("No such process") and a filtered one with the rule's errno.

use crate::support::*;
use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags, ScmpSyscall};
use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);
/// What busybox prints for an allowed kill of a pid that does not exist.
const ESRCH: &str = "No such process";
const EPERM: &str = "Operation not permitted";
/// errnoRet of the rules under test: EDQUOT, an errno nothing else here produces.
const EDQUOT: u32 = 122;
const EDQUOT_TEXT: &str = "Disk quota exceeded";

/// A filter allowing everything except `rules`.
fn filter(rules: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": rules})
}

/// One rule on kill(2) with `args` and `action` (errnoRet EDQUOT where it applies).
fn kill_rule(action: &str, args: Value) -> Value {
    let mut r = json!({"names": ["kill"], "action": action, "args": args});
    if action == "SCMP_ACT_ERRNO" || action == "SCMP_ACT_TRACE" {
        r["errnoRet"] = json!(EDQUOT);
    }
    r
}

fn arg(index: u32, op: &str, value: u64) -> Value {
    json!({"index": index, "value": value, "op": op})
}

/// A bundle whose process runs `kill -SIG PID` for each probe and prints one line per probe:
/// `PID SIG ok` or `PID SIG <strerror>`.
fn prober(seccomp: Value, probes: &[(u64, u32)]) -> Bundle {
    let list: Vec<String> = probes.iter().map(|(p, s)| format!("{p}:{s}")).collect();
    let script = format!(
        "for x in {}; do p=${{x%:*}}; s=${{x#*:}}; \
         if m=$(kill -$s $p 2>&1); then echo \"$p $s ok\"; else echo \"$p $s ${{m##*: }}\"; fi; done",
        list.join(" ")
    );
    Bundle::new()
        .sh(&script)
        .with(|c| c["linux"]["seccomp"] = seccomp)
}

/// Runs the probes; returns (pid, sig) -> outcome text.
fn probe(hull: &Hull, seccomp: Value, probes: &[(u64, u32)]) -> BTreeMap<(u64, u32), String> {
    let mut ct = hull.container(prober(seccomp, probes));
    let out = ct.run(&[]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    parse_probes(&out.stdout_text())
}

fn parse_probes(stdout: &str) -> BTreeMap<(u64, u32), String> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ' ');
            let pid = it.next()?.parse().ok()?;
            let sig = it.next()?.parse().ok()?;
            Some(((pid, sig), it.next()?.to_string()))
        })
        .collect()
}

/// Asserts that exactly the pids in `blocked` got `errno_text` and the others ESRCH.
fn expect_blocked(
    got: &BTreeMap<(u64, u32), String>,
    pids: &[u64],
    blocked: &[u64],
    errno_text: &str,
    what: &str,
) {
    for pid in pids {
        let want = if blocked.contains(pid) {
            errno_text
        } else {
            ESRCH
        };
        assert_eq!(
            got.get(&(*pid, 0)).map(String::as_str),
            Some(want),
            "{what}: kill -0 {pid}; all: {got:?}"
        );
    }
}

#[test]
fn every_operator_compares_the_argument() {
    requires(&["seccomp"]);
    let hull = Hull::new();
    // (operator, value, valueTwo, pids that must be filtered)
    let cases: &[(&str, u64, Option<u64>, &[u64])] = &[
        ("SCMP_CMP_EQ", 5000, None, &[5000]),
        ("SCMP_CMP_NE", 5000, None, &[4999, 5001, 4864, 5119, 5120]),
        ("SCMP_CMP_LT", 5000, None, &[4999, 4864]),
        ("SCMP_CMP_LE", 5000, None, &[4999, 5000, 4864]),
        ("SCMP_CMP_GE", 5000, None, &[5000, 5001, 5119, 5120]),
        ("SCMP_CMP_GT", 5000, None, &[5001, 5119, 5120]),
        // (pid & 0xff00) == 0x1300: 0x1300..=0x13ff.
        (
            "SCMP_CMP_MASKED_EQ",
            0xff00,
            Some(0x1300),
            &[4864, 5000, 5001, 4999, 5119],
        ),
    ];
    let pids = [4999, 5000, 5001, 4864, 5119, 5120];
    let probes: Vec<(u64, u32)> = pids.iter().map(|p| (*p, 0)).collect();
    for (op, value, two, blocked) in cases {
        let mut a = arg(0, op, *value);
        if let Some(two) = two {
            a["valueTwo"] = json!(two);
        }
        let got = probe(
            &hull,
            filter(json!([kill_rule("SCMP_ACT_ERRNO", json!([a]))])),
            &probes,
        );
        expect_blocked(&got, &pids, blocked, EDQUOT_TEXT, op);
    }
}

#[test]
fn several_arguments_in_one_rule_must_all_match() {
    requires(&["seccomp"]);
    let hull = Hull::new();
    let rule = kill_rule(
        "SCMP_ACT_ERRNO",
        json!([arg(0, "SCMP_CMP_EQ", 5000), arg(1, "SCMP_CMP_EQ", 10)]),
    );
    let got = probe(
        &hull,
        filter(json!([rule])),
        &[(5000, 10), (5000, 12), (5001, 10)],
    );
    assert_eq!(got[&(5000, 10)], EDQUOT_TEXT, "{got:?}");
    assert_eq!(got[&(5000, 12)], ESRCH, "{got:?}");
    assert_eq!(got[&(5001, 10)], ESRCH, "{got:?}");
}

#[test]
fn several_conditions_on_one_argument_each_match() {
    // libseccomp takes one condition per argument in a rule; like runc, such a rule becomes
    // one rule per condition, so any of them matches.
    requires(&["seccomp"]);
    let hull = Hull::new();
    let rule = kill_rule(
        "SCMP_ACT_ERRNO",
        json!([arg(0, "SCMP_CMP_EQ", 5000), arg(0, "SCMP_CMP_EQ", 5002)]),
    );
    let pids = [5000, 5001, 5002];
    let probes: Vec<(u64, u32)> = pids.iter().map(|p| (*p, 0)).collect();
    let got = probe(&hull, filter(json!([rule])), &probes);
    expect_blocked(
        &got,
        &pids,
        &[5000, 5002],
        EDQUOT_TEXT,
        "EQ 5000 or EQ 5002",
    );
}

#[test]
fn errno_with_and_without_errno_ret() {
    requires(&["seccomp"]);
    let hull = Hull::new();
    let mut plain = kill_rule("SCMP_ACT_ERRNO", json!([arg(0, "SCMP_CMP_EQ", 5000)]));
    plain.as_object_mut().expect("rule").remove("errnoRet");
    let with = kill_rule("SCMP_ACT_ERRNO", json!([arg(0, "SCMP_CMP_EQ", 5001)]));
    let got = probe(
        &hull,
        filter(json!([plain, with])),
        &[(5000, 0), (5001, 0), (5002, 0)],
    );
    assert_eq!(got[&(5000, 0)], EPERM, "no errnoRet is EPERM: {got:?}");
    assert_eq!(got[&(5001, 0)], EDQUOT_TEXT, "{got:?}");
    assert_eq!(got[&(5002, 0)], ESRCH, "{got:?}");
}

/// Docker's profile as dockerd 20.10 writes it into config.json on amd64.
fn docker_profile() -> Value {
    read_json(&fixtures_dir().join("docker-seccomp/default.json"))
}

#[test]
fn default_errno_ret_answers_every_unlisted_syscall() {
    requires(&["seccomp"]);
    let hull = Hull::new();
    let mut profile = docker_profile();
    profile["defaultErrnoRet"] = json!(EDQUOT);
    let mut ct = hull.container(
        Bundle::new()
            .sh("echo listed-ok; unshare -U true")
            .with(|c| c["linux"]["seccomp"] = profile),
    );
    let out = ct.run(&[]);
    assert!(
        out.stdout_text().contains("listed-ok"),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr_text().contains(EDQUOT_TEXT),
        "unshare is not in the profile: {}",
        out.describe()
    );
}

#[test]
fn kill_actions_end_the_process_by_sigsys() {
    requires(&["seccomp"]);
    let hull = Hull::new();
    for action in [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP",
    ] {
        let rule = kill_rule(action, json!([arg(0, "SCMP_CMP_EQ", 5000)]));
        let mut ct = hull.container(
            Bundle::new()
                .sh("echo before; kill -0 5000; echo after")
                .with(|c| c["linux"]["seccomp"] = filter(json!([rule]))),
        );
        let out = ct.run(&[]);
        assert_eq!(
            out.code(),
            128 + libc::SIGSYS,
            "{action}: {}",
            out.describe()
        );
        assert_eq!(
            out.stdout_text(),
            "before\n",
            "{action}: {}",
            out.describe()
        );
    }
}

#[test]
fn log_allows_and_trace_without_a_tracer_is_enosys() {
    requires(&["seccomp"]);
    let hull = Hull::new();
    let log = kill_rule("SCMP_ACT_LOG", json!([arg(0, "SCMP_CMP_EQ", 5000)]));
    let trace = kill_rule("SCMP_ACT_TRACE", json!([arg(0, "SCMP_CMP_EQ", 5001)]));
    let errno = kill_rule("SCMP_ACT_ERRNO", json!([arg(0, "SCMP_CMP_GE", 5002)]));
    let got = probe(
        &hull,
        filter(json!([log, trace, errno])),
        &[(5000, 0), (5001, 0), (5002, 0)],
    );
    // LOG runs the call (its audit record is not required here).
    assert_eq!(got[&(5000, 0)], ESRCH, "{got:?}");
    assert_eq!(got[&(5001, 0)], "Function not implemented", "{got:?}");
    assert_eq!(got[&(5002, 0)], EDQUOT_TEXT, "{got:?}");
}

#[test]
fn allow_rules_punch_through_an_errno_default() {
    requires(&["seccomp"]);
    let hull = Hull::new();
    // Docker's profile allows kill; without it the default answers.
    let mut profile = docker_profile();
    for rule in profile["syscalls"].as_array_mut().expect("syscalls") {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| n != "kill");
        }
    }
    profile["syscalls"]
        .as_array_mut()
        .expect("syscalls")
        .push(kill_rule(
            "SCMP_ACT_ALLOW",
            json!([arg(0, "SCMP_CMP_EQ", 5000)]),
        ));
    let got = probe(&hull, profile, &[(5000, 0), (5001, 0)]);
    assert_eq!(got[&(5000, 0)], ESRCH, "allowed: {got:?}");
    assert_eq!(got[&(5001, 0)], EPERM, "the default: {got:?}");
}

#[test]
fn architectures_and_unknown_names() {
    requires(&["seccomp"]);
    let hull = Hull::new();
    let f = filter(json!([{
        "names": ["no_such_syscall_hull", "kill", "another_unknown_one"],
        "action": "SCMP_ACT_ERRNO", "errnoRet": EDQUOT,
        "args": [arg(0, "SCMP_CMP_EQ", 5000)]
    }]));
    let log = hull.io_dir().join("debug.log");
    let ct = hull.container(prober(f, &[(5000, 0), (5001, 0)]));
    let out = hull.run(&[
        "--debug",
        "--log",
        &log.to_string_lossy(),
        "run",
        "--bundle",
        &ct.bundle().path().to_string_lossy(),
        ct.id(),
    ]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    let got = parse_probes(&out.stdout_text());
    // The x86_64 rule holds on the native ABI although x86 and x32 are listed too, and the
    // unknown names beside kill do not void the rule.
    assert_eq!(got[&(5000, 0)], EDQUOT_TEXT, "{}", out.describe());
    assert_eq!(got[&(5001, 0)], ESRCH, "{}", out.describe());
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("no_such_syscall_hull"),
        "the skipped name is logged at debug level: {text}"
    );
}

#[test]
fn filter_flags_are_accepted() {
    if hull_only("runc 1.1.5 refuses linux.seccomp.flags") {
        return;
    }
    requires(&["seccomp"]);
    let hull = Hull::new();
    for flags in [
        json!(["SECCOMP_FILTER_FLAG_TSYNC"]),
        json!(["SECCOMP_FILTER_FLAG_LOG"]),
        json!(["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]),
        json!([
            "SECCOMP_FILTER_FLAG_TSYNC",
            "SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
        ]),
    ] {
        let mut f = filter(json!([kill_rule(
            "SCMP_ACT_ERRNO",
            json!([arg(0, "SCMP_CMP_EQ", 5000)])
        )]));
        f["flags"] = flags.clone();
        let got = probe(&hull, f, &[(5000, 0), (5001, 0)]);
        assert_eq!(got[&(5000, 0)], EDQUOT_TEXT, "{flags}: {got:?}");
        assert_eq!(got[&(5001, 0)], ESRCH, "{flags}: {got:?}");
    }
}

#[test]
fn both_no_new_privileges_paths_filter_a_non_root_user() {
    requires(&["seccomp"]);
    let hull = Hull::new();
    for nnp in [false, true] {
        let rule = kill_rule("SCMP_ACT_ERRNO", json!([arg(0, "SCMP_CMP_EQ", 5000)]));
        let mut ct = hull.container(
            Bundle::new()
                .sh("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; kill -0 5000")
                .with(|c| {
                    c["linux"]["seccomp"] = filter(json!([rule]));
                    c["process"]["noNewPrivileges"] = json!(nnp);
                    c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
                }),
        );
        let out = ct.run(&[]);
        let text = out.stdout_text() + &out.stderr_text();
        assert!(
            text.contains("Seccomp:\t2"),
            "nnp {nnp}: {}",
            out.describe()
        );
        let want = format!("NoNewPrivs:\t{}", u8::from(nnp));
        assert!(text.contains(&want), "nnp {nnp}: {}", out.describe());
        assert!(text.contains(EDQUOT_TEXT), "nnp {nnp}: {}", out.describe());
    }
}

#[test]
fn exec_runs_under_the_containers_filter() {
    requires(&["seccomp"]);
    let hull = Hull::new();
    let rule = kill_rule("SCMP_ACT_ERRNO", json!([arg(0, "SCMP_CMP_EQ", 5000)]));
    let mut ct = hull.container(
        Bundle::new()
            .args(&["sleep", "1000"])
            .with(|c| c["linux"]["seccomp"] = filter(json!([rule]))),
    );
    ct.run_detached(&[]);
    let check = "grep '^Seccomp:' /proc/self/status; kill -0 5000 2>&1; kill -0 5001 2>&1; true";
    for flags in [
        &[][..],
        &["--no-new-privs"][..],
        &["--user", "1000:1000"][..],
    ] {
        let out = ct.exec_with(flags, &["sh", "-c", check]);
        assert_eq!(out.code(), 0, "{flags:?}: {}", out.describe());
        let text = out.stdout_text();
        assert!(text.contains("Seccomp:\t2"), "{flags:?}: {text}");
        assert!(
            text.contains(&format!("5000: {EDQUOT_TEXT}")),
            "{flags:?}: {text}"
        );
        assert!(
            text.contains(&format!("5001: {ESRCH}")),
            "{flags:?}: {text}"
        );
    }
    // exec --process too: the filter belongs to the container, not to process.json.
    let process = ct.bundle().scratch().join("process.json");
    let mut p = ct.bundle().config()["process"].clone();
    p["args"] = json!(["sh", "-c", check]);
    write_file(&process, p.to_string().as_bytes());
    let out = ct.exec_with(&["--process", &process.to_string_lossy()], &[]);
    assert!(
        out.stdout_text().contains(&format!("5000: {EDQUOT_TEXT}")),
        "{}",
        out.describe()
    );
}

#[test]
fn docker_default_profile_runs_and_blocks() {
    requires(&["seccomp"]);
    let hull = Hull::new();
    let script = "ls / >/dev/null && cat /etc/passwd >/dev/null && date >/dev/null && \
                  ps >/dev/null && echo normal-ok; grep '^Seccomp:' /proc/self/status; \
                  unshare -U true 2>&1; linux32 true && echo personality-ok";
    // Without the profile, a user namespace needs no privilege: the refusal below is the filter.
    let mut bare = hull.container(Bundle::new().sh("unshare -U true && echo userns-ok"));
    let out = bare.run(&[]);
    assert!(
        out.stdout_text().contains("userns-ok"),
        "{}",
        out.describe()
    );
    let mut ct = hull.container(
        Bundle::new()
            .sh(script)
            .with(|c| c["linux"]["seccomp"] = docker_profile()),
    );
    let out = ct.run(&[]);
    let text = out.stdout_text();
    assert!(text.contains("normal-ok"), "{}", out.describe());
    assert!(text.contains("personality-ok"), "{}", out.describe());
    assert!(text.contains("Seccomp:\t2"), "{}", out.describe());
    assert!(
        text.contains(&format!("unshare(0x10000000): {EPERM}")),
        "{}",
        out.describe()
    );
    // And exec into a container running under it.
    let mut ct = hull.container(
        Bundle::new()
            .args(&["sleep", "1000"])
            .with(|c| c["linux"]["seccomp"] = docker_profile()),
    );
    ct.run_detached(&[]);
    let out = ct.exec(&["sh", "-c", "unshare -U true 2>&1; echo done"]);
    assert!(
        out.stdout_text().contains(EPERM),
        "exec'd process is filtered: {}",
        out.describe()
    );
}

/// What the listener got on one connection: the payload and the notify fd.
struct Handover {
    payload: Value,
    fd: OwnedFd,
}

/// Accepts one connection on `listener` (within [`T`], so a runtime that never connects
/// fails the test instead of hanging it) and receives the SCM_RIGHTS message of the spec.
fn accept_handover(listener: &UnixListener) -> Handover {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("nonblocking: {e}"));
    let deadline = Instant::now() + T;
    let conn = loop {
        match listener.accept() {
            Ok((conn, _)) => break conn,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    Instant::now() < deadline,
                    "no listener connection within {T:?}"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    conn.set_nonblocking(false)
        .unwrap_or_else(|e| panic!("blocking: {e}"));
    let mut buf = vec![0u8; 64 * 1024];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .unwrap_or_else(|e| panic!("recvmsg: {e}"));
    let mut fds = Vec::new();
    for c in msg.cmsgs().unwrap_or_else(|e| panic!("cmsgs: {e}")) {
        if let ControlMessageOwned::ScmRights(r) = c {
            fds.extend(r);
        }
    }
    let n = msg.bytes;
    assert_eq!(fds.len(), 1, "one fd, the notify fd");
    // SAFETY: the fd was just received by SCM_RIGHTS and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    let payload =
        serde_json::from_slice(&buf[..n]).unwrap_or_else(|e| panic!("payload is JSON: {e}"));
    Handover { payload, fd }
}

/// Answers one notification on `fd` with -`errno`; returns (syscall name, args[0]).
fn answer_one(fd: &OwnedFd, errno: i32) -> (String, u64) {
    let deadline = Instant::now() + T;
    loop {
        let mut pfd = [nix::poll::PollFd::new(
            fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let _ = nix::poll::poll(&mut pfd, 200u16);
        if pfd[0]
            .revents()
            .is_some_and(|r| r.contains(nix::poll::PollFlags::POLLIN))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no notification within {T:?}");
    }
    let req = ScmpNotifReq::receive(fd.as_raw_fd())
        .unwrap_or_else(|e| panic!("receive notification: {e}"));
    let name = req
        .data
        .syscall
        .get_name()
        .unwrap_or_else(|_| format!("{:?}", req.data.syscall));
    ScmpNotifResp::new_error(req.id, -errno, ScmpNotifRespFlags::empty())
        .respond(fd.as_raw_fd())
        .unwrap_or_else(|e| panic!("respond: {e}"));
    (name, req.data.args[0])
}

fn notify_filter(socket: &Path) -> Value {
    let mut f = filter(json!([{
        "names": ["kill"], "action": "SCMP_ACT_NOTIFY",
        "args": [arg(0, "SCMP_CMP_EQ", 5000)]
    }]));
    f["listenerPath"] = json!(socket);
    f["listenerMetadata"] = json!("hull-test-metadata");
    f
}

#[test]
fn notify_hands_the_fd_to_the_listener_which_answers() {
    requires(&["seccomp"]);
    let _ = ScmpSyscall::from_name("kill").expect("libseccomp knows kill");
    let hull = Hull::new();
    let mut bundle = Bundle::new().args(&["sleep", "1000"]);
    let socket = bundle.scratch().join("listener.sock");
    bundle.update_config(|c| c["linux"]["seccomp"] = notify_filter(&socket));
    let listener = UnixListener::bind(&socket).expect("bind listener");
    let mut ct = hull.container(bundle);
    let id = ct.id().to_string();
    let server = std::thread::spawn(move || {
        let create = accept_handover(&listener);
        let exec = accept_handover(&listener);
        let answered = answer_one(&exec.fd, EDQUOT as i32);
        (create.payload, exec.payload, answered, create.fd)
    });
    ct.run_detached(&[]);
    let init = ct.pid().expect("pid");
    let out = ct.exec(&["sh", "-c", "kill -0 5000 2>&1; kill -0 5001 2>&1; true"]);
    let (created, execd, answered, _create_fd) = server.join().expect("listener thread");
    assert_eq!(answered, ("kill".to_string(), 5000));
    let text = out.stdout_text();
    assert!(
        text.contains(&format!("5000: {EDQUOT_TEXT}")),
        "{}",
        out.describe()
    );
    assert!(
        text.contains(&format!("5001: {ESRCH}")),
        "{}",
        out.describe()
    );
    for (payload, status) in [(&created, "creating"), (&execd, "running")] {
        assert_eq!(payload["fds"], json!(["seccompFd"]), "{payload}");
        assert_eq!(payload["metadata"], "hull-test-metadata", "{payload}");
        assert_eq!(payload["state"]["id"], json!(id), "{payload}");
        assert_eq!(payload["state"]["status"], status, "{payload}");
        assert!(payload["ociVersion"].is_string(), "{payload}");
        assert!(payload["pid"].as_i64().is_some_and(|p| p > 0), "{payload}");
    }
    assert_eq!(created["pid"], json!(init), "{created}");
    assert_eq!(created["state"]["pid"], json!(init), "{created}");
}

#[test]
fn notify_answers_the_init_itself() {
    requires(&["seccomp"]);
    let hull = Hull::new();
    let mut bundle = Bundle::new().sh("kill -0 5000 2>&1; echo end");
    let socket = bundle.scratch().join("listener.sock");
    bundle.update_config(|c| {
        c["linux"]["seccomp"] = notify_filter(&socket);
        c["process"]["noNewPrivileges"] = json!(false);
    });
    let listener = UnixListener::bind(&socket).expect("bind listener");
    let mut ct = hull.container(bundle);
    let server = std::thread::spawn(move || {
        let h = accept_handover(&listener);
        answer_one(&h.fd, libc::EROFS)
    });
    let out = ct.run(&[]);
    assert_eq!(server.join().expect("listener"), ("kill".to_string(), 5000));
    assert!(
        out.stdout_text().contains("Read-only file system"),
        "{}",
        out.describe()
    );
}

#[test]
fn notify_without_a_listener_socket_fails_create_cleanly() {
    requires(&["seccomp"]);
    let hull = Hull::new();
    let mut bundle = Bundle::new().args(&["true"]);
    let socket = bundle.scratch().join("nobody-listens.sock");
    bundle.update_config(|c| c["linux"]["seccomp"] = notify_filter(&socket));
    let mut ct = hull.container(bundle);
    let out = ct.create_with(&[]);
    assert_ne!(out.code(), 0, "{}", out.describe());
    assert_one_line_error(&out, "create with an absent listener");
    if is_hull() {
        assert_stderr_mentions(&out, &["linux.seccomp.listenerPath"]);
    }
}
