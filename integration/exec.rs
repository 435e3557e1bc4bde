//! `exec`: a new process joins a running container (its pid namespace, cgroup, mounts), takes
//! runc's flags, gets a pty over a console socket, and bad input fails cleanly, leaving
//! nothing behind in the container.

use crate::support::*;
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn running(hull: &Hull) -> Container {
    let mut ct = hull.container(Bundle::new().args(&["sleep", "1000"]));
    ct.run_detached(&[]);
    ct
}

/// Processes of the container as `ps -o pid,comm` inside shows them.
fn ps_inside(ct: &Container) -> String {
    let out = ct.exec(&["ps", "-o", "pid,comm"]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    out.stdout_text()
}

#[test]
fn exec_sees_the_containers_pid_namespace() {
    let hull = Hull::new();
    let ct = running(&hull);
    let ps = ps_inside(&ct);
    let first = ps.lines().nth(1).unwrap_or_default();
    assert!(
        first.split_whitespace().eq(["1", "sleep"]),
        "PID 1 is the init from create:\n{ps}"
    );
    // Same pid namespace and cgroup as the init, seen from the host.
    let init = ct.pid().expect("pid");
    let out = ct.exec(&[
        "sh",
        "-c",
        "readlink /proc/self/ns/pid; cat /proc/self/cgroup",
    ]);
    let host_ns = std::fs::read_link(format!("/proc/{init}/ns/pid")).expect("ns link");
    assert!(
        out.stdout_text().contains(&*host_ns.to_string_lossy()),
        "{}",
        out.describe()
    );
    let init_cg = std::fs::read_to_string(format!("/proc/{init}/cgroup")).expect("cgroup");
    let pids_line = |s: &str| s.lines().find(|l| l.contains(":pids:")).map(str::to_string);
    if let Some(line) = pids_line(&init_cg) {
        // Inside a cgroup namespace the path is relative; without one it matches exactly.
        let name = line.rsplit('/').next().unwrap_or_default().to_string();
        assert!(
            out.stdout_text().contains(&name),
            "exec joined the cgroup: {}",
            out.describe()
        );
    }
}

#[test]
fn exit_status_and_output_are_execs() {
    let hull = Hull::new();
    let ct = running(&hull);
    let out = ct.exec(&["sh", "-c", "echo out; echo err >&2; exit 5"]);
    assert_eq!(out.code(), 5, "{}", out.describe());
    assert_eq!(out.stdout_text(), "out\n");
    assert!(out.stderr_text().contains("err"), "{}", out.describe());
}

#[test]
fn runc_flags_user_cwd_env_caps() {
    let hull = Hull::new();
    let ct = running(&hull);
    let out = ct.exec_with(
        &[
            "--user",
            "1000:1001",
            "--additional-gids",
            "5",
            "--cwd",
            "/tmp",
            "--env",
            "FOO=bar",
        ],
        &["sh", "-c", "id -u; id -g; id -G; pwd; echo $FOO"],
    );
    assert_eq!(out.code(), 0, "{}", out.describe());
    let text = out.stdout_text();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert_eq!(lines[0], "1000");
    assert_eq!(lines[1], "1001");
    assert!(lines[2].split_whitespace().any(|g| g == "5"), "{lines:?}");
    assert_eq!(lines[3], "/tmp");
    assert_eq!(lines[4], "bar");
    // --cap adds to the sets of the container's own process (here the default template's).
    let out = ct.exec_with(
        &["--cap", "CAP_SYS_TIME"],
        &["grep", "CapEff", "/proc/self/status"],
    );
    let hex = out
        .stdout_text()
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_string();
    let eff = u64::from_str_radix(&hex, 16).expect("hex");
    assert_ne!(
        eff & (1 << 25),
        0,
        "CAP_SYS_TIME (25) effective: {}",
        out.describe()
    );
}

#[test]
fn process_json_replaces_the_process() {
    let hull = Hull::new();
    let ct = running(&hull);
    let file = ct.bundle().scratch().join("process.json");
    let process = json!({
        "args": ["sh", "-c", "echo $X; id -u"],
        "env": ["X=from-process-json", "PATH=/bin"],
        "cwd": "/",
        "user": {"uid": 65534, "gid": 65534}
    });
    write_file(&file, process.to_string().as_bytes());
    let out = ct.exec_with(&["--process", &file.to_string_lossy()], &[]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    assert_eq!(out.stdout_text(), "from-process-json\n65534\n");
}

#[test]
fn detach_writes_the_right_pid_file() {
    let hull = Hull::new();
    let ct = running(&hull);
    let pid_file = ct.bundle().scratch().join("exec.pid");
    let out = ct.exec_with(
        &["--detach", "--pid-file", &pid_file.to_string_lossy()],
        &["sleep", "77"],
    );
    assert_eq!(out.code(), 0, "{}", out.describe());
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).expect("cmdline");
    assert_eq!(
        cmdline, "sleep\u{0}77\u{0}",
        "the pid file names the exec'd process"
    );
    let init = ct.pid().expect("init pid");
    let ns = |p: i32| std::fs::read_link(format!("/proc/{p}/ns/pid")).expect("ns");
    assert_eq!(
        ns(pid),
        ns(init),
        "the detached process is in the container's pid namespace"
    );
}

#[test]
fn tty_over_a_console_socket() {
    let hull = Hull::new();
    let ct = running(&hull);
    let sock_path = ct.bundle().scratch().join("console.sock");
    let listener = UnixListener::bind(&sock_path).expect("bind console socket");
    // --detach, as containerd's shim runs it (runc refuses a console socket without it).
    let sp = hull.spawn(&[
        "exec",
        "--detach",
        "--tty",
        "--console-socket",
        &sock_path.to_string_lossy(),
        ct.id(),
        "sh",
        "-c",
        "tty; echo marker-$((20+22))",
    ]);
    // The runtime connects, or the test fails with what it said (never an endless accept).
    let mut fds = [nix::poll::PollFd::new(
        listener.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let ms = u16::try_from(T.as_millis()).unwrap_or(u16::MAX);
    if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) != Ok(1) {
        let out = sp.wait_timeout(T);
        panic!(
            "the runtime never connected to the console socket: {}",
            out.describe()
        );
    }
    let (conn, _) = listener.accept().expect("runtime connects");
    let master = ::hull::console::recv_master(conn.as_fd()).expect("pty master");
    let out = sp.wait_timeout(T);
    assert_eq!(out.code(), 0, "{}", out.describe());
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    // Until EOF/EIO (every slave closed), but never forever: a runtime that keeps a slave
    // open must fail this test, not hang the suite.
    let deadline = std::time::Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let mut fds = [nix::poll::PollFd::new(
            master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
            Ok(0) => panic!("no EOF on the pty master within {T:?}; read so far: {text:?}"),
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => panic!("poll: {e}"),
        }
        match nix::unistd::read(&master, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(text.contains("/dev/pts/"), "tty inside is a pty: {text:?}");
    assert!(
        text.contains("marker-42"),
        "output came through the master: {text:?}"
    );
}

#[test]
fn exec_into_a_stopped_or_unknown_container_fails() {
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new().args(&["true"]));
    ct.run_detached(&[]);
    ct.wait_for_status("stopped", T);
    let out = ct.exec(&["true"]);
    assert_one_line_error(&out, "exec into a stopped container");
    assert_stderr_mentions(&out, &[ct.id(), "stopped"]);
    let out = hull.run(&["exec", "no-such-container-x", "true"]);
    assert_one_line_error(&out, "exec into an unknown container");
    if is_hull() {
        // runc 1.1 logs this one to --log only, leaving stderr empty.
        assert_stderr_mentions(&out, &["no-such-container-x"]);
    }
}

#[test]
fn bad_input_leaves_nothing_in_the_container() {
    let hull = Hull::new();
    let ct = running(&hull);
    let out = ct.exec(&["no-such-binary"]);
    assert_one_line_error(&out, "missing binary");
    assert_stderr_mentions(&out, &["no-such-binary"]);
    let out = ct.exec_with(&["--cwd", "/no/such/dir"], &["true"]);
    assert_one_line_error(&out, "missing cwd");
    assert_stderr_mentions(&out, &["cwd"]);
    let bad = ct.bundle().scratch().join("bad.json");
    write_file(
        &bad,
        br#"{"args": "not-a-list", "cwd": "/", "user": {"uid": 0, "gid": 0}}"#,
    );
    let out = ct.exec_with(&["--process", &bad.to_string_lossy()], &[]);
    assert_one_line_error(&out, "bad process.json");
    assert_stderr_mentions(&out, &["args"]);
    let out = ct.exec_with(&["--user", "bob"], &["true"]);
    assert_one_line_error(&out, "non-numeric user");
    // Nothing was left running: only the init.
    let ps = ps_inside(&ct);
    let procs: Vec<&str> = ps.lines().skip(1).filter(|l| !l.contains(" ps")).collect();
    assert_eq!(procs.len(), 1, "only the init remains:\n{ps}");
}
