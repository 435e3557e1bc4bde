//! The container's terminal: with `process.terminal` the runtime sends the pty master over
//! `--console-socket` (SCM_RIGHTS), as containerd and conmon receive it; the test types
//! commands into it and reads what the container prints (`tty`, `stty size` against
//! `consoleSize`); the same for `exec --tty`; and the two half-configurations (a terminal
//! without a socket, a socket without a terminal) are refused with a clear error.
//!
//! runc refuses `--console-socket` without `--detach` for `run` and `exec` (a foreground
//! runc copies its own terminal instead), so these tests use `create`/`start`, `run -d` and
//! `exec -d`, and pass against runc too.

use crate::support::*;
use std::time::Duration;

/// Generous bound for a container to reach a state on a loaded 2-core machine.
const T: Duration = Duration::from_secs(10);

/// An interactive shell on a terminal of 30 rows and 100 columns.
fn terminal_shell() -> Bundle {
    Bundle::new().args(&["sh"]).with(|c| {
        c["process"]["terminal"] = json!(true);
        c["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    })
}

/// A console socket in the bundle's scratch directory.
fn console_socket(bundle: &Bundle) -> ConsoleSocket {
    ConsoleSocket::bind(&bundle.scratch().join("console.sock"))
}

/// Types `tty; stty size` and an end marker; returns the lines the shell printed for them.
/// The marker is computed by the shell so the echo of the typed line cannot match it.
fn ask_tty_and_size(pty: &mut Pty) -> Vec<String> {
    pty.write("tty; stty size; [ -t 0 ] && echo stdin-is-a-tty; echo done-$((40+2))\n");
    let seen = pty.read_until("done-42", T);
    seen.lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect()
}

#[test]
fn create_start_on_a_terminal() {
    let hull = Hull::new();
    let mut ct = hull.container(terminal_shell());
    let sock = console_socket(ct.bundle());
    let out = ct.create_with(&["--console-socket", &sock.arg()]);
    assert!(out.status.success(), "{}", out.describe());
    let (mut pty, _name) = sock.recv_master(T);
    ct.start();
    let lines = ask_tty_and_size(&mut pty);
    assert!(lines.iter().any(|l| l == "/dev/pts/0"), "tty: {lines:?}");
    assert!(lines.iter().any(|l| l == "30 100"), "stty size: {lines:?}");
    assert!(lines.iter().any(|l| l == "stdin-is-a-tty"), "{lines:?}");
    pty.write("exit 0\n");
    ct.wait_for_status("stopped", T);
    assert_eq!(
        ct.stdout(),
        "",
        "the container's output went to the terminal"
    );
}

#[test]
fn run_detached_on_a_terminal() {
    let hull = Hull::new();
    let mut ct = hull.container(terminal_shell());
    let sock = console_socket(ct.bundle());
    ct.run_detached(&["--console-socket", &sock.arg()]);
    let (mut pty, _name) = sock.recv_master(T);
    pty.write("echo typed-$((6*7)) > /tmp/proof; cat /tmp/proof\n");
    pty.read_until("typed-42", T);
    let out = ct.exec(&["cat", "/tmp/proof"]);
    assert_eq!(out.stdout_text(), "typed-42\n", "{}", out.describe());
}

#[test]
fn exec_tty_with_console_socket() {
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new().args(&["sleep", "1000"]));
    ct.run_detached(&[]);
    let sock = console_socket(ct.bundle());
    let out = ct.exec_with(
        &["--detach", "--tty", "--console-socket", &sock.arg()],
        &["sh"],
    );
    assert!(out.status.success(), "{}", out.describe());
    let (mut pty, _name) = sock.recv_master(T);
    let lines = ask_tty_and_size(&mut pty);
    assert!(
        lines.iter().any(|l| l.starts_with("/dev/pts/")),
        "tty: {lines:?}"
    );
    assert!(lines.iter().any(|l| l == "stdin-is-a-tty"), "{lines:?}");
    pty.write("exit\n");
}

#[test]
fn terminal_without_console_socket_is_refused() {
    let hull = Hull::new();
    let mut ct = hull.container(terminal_shell());
    let out = ct.create_with(&[]);
    assert!(!out.status.success(), "{}", out.describe());
    assert_one_line_error(&out, "terminal without socket");
    assert_stderr_mentions(&out, &["console socket", "console-socket"]);
    assert!(!ct.try_state().status.success(), "nothing created");
}

#[test]
fn console_socket_without_terminal_is_refused() {
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new().args(&["true"]));
    let sock = console_socket(ct.bundle());
    let out = ct.create_with(&["--console-socket", &sock.arg()]);
    assert!(!out.status.success(), "{}", out.describe());
    assert_one_line_error(&out, "socket without terminal");
    assert_stderr_mentions(&out, &["console socket", "console-socket"]);
    assert!(!ct.try_state().status.success(), "nothing created");
}

#[test]
fn console_socket_that_does_not_listen_fails_create() {
    let hull = Hull::new();
    let mut ct = hull.container(terminal_shell());
    let path = ct.bundle().scratch().join("nobody-listens.sock");
    let out = ct.create_with(&["--console-socket", &path.to_string_lossy()]);
    assert!(!out.status.success(), "{}", out.describe());
    assert_one_line_error(&out, "dead console socket");
    assert_stderr_mentions(&out, &["nobody-listens.sock"]);
    assert!(!ct.try_state().status.success(), "nothing created");
}
