//! A foreground `run` / `exec` with `process.terminal` and no `--console-socket`: the
//! container's pty is bridged to hull's own terminal (here a pty the test owns), its size
//! follows hull's, keystrokes go in, output comes out, the exit status comes back, and hull's
//! terminal is restored from raw mode afterwards.

use crate::support::*;
use nix::pty::{openpty, Winsize};
use nix::sys::termios::{tcgetattr, LocalFlags};
use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);

/// Reads from `master` until `needle` shows up or the deadline passes.
fn read_until(master: &OwnedFd, needle: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !text.contains(needle) && Instant::now() < deadline {
        let mut fds = [nix::poll::PollFd::new(
            master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16)).unwrap_or(0) == 0 {
            continue;
        }
        match nix::unistd::read(master, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    text
}

/// Runs `args` of hull with a fresh pty of 33x91 as its stdio; returns the child and master.
fn on_a_pty(hull: &Hull, args: &[&str]) -> (std::process::Child, OwnedFd, OwnedFd) {
    let size = Winsize {
        ws_row: 33,
        ws_col: 91,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(Some(&size), None).unwrap_or_else(|e| panic!("openpty: {e}"));
    let slave = pty.slave;
    let stdio =
        |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap_or_else(|e| panic!("dup slave: {e}")));
    let child = hull
        .command(args)
        .stdin(stdio(&slave))
        .stdout(stdio(&slave))
        .stderr(stdio(&slave))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn hull on a pty: {e}"));
    (child, pty.master, slave)
}

fn wait(child: &mut std::process::Child) -> i32 {
    let deadline = Instant::now() + T;
    loop {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("wait: {e}")) {
            return exit_code(status);
        }
        assert!(Instant::now() < deadline, "hull did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn foreground_run_bridges_the_terminal() {
    if hull_only("runc 1.1 bridges too, but its output framing differs") {
        return;
    }
    let hull = Hull::new();
    let bundle = Bundle::new()
        .with(|c| c["process"]["terminal"] = json!(true))
        .args(&["sh"]);
    let ct = hull.container(bundle);
    let bundle_path = ct.bundle().path().to_string_lossy().into_owned();
    let (mut child, master, slave) = on_a_pty(&hull, &["run", "--bundle", &bundle_path, ct.id()]);
    let before = tcgetattr(&slave).expect("tcgetattr");
    nix::unistd::write(&master, b"tty; stty size; echo sum=$((40+2))\n").expect("type");
    let out = read_until(&master, "sum=42", T);
    assert!(out.contains("/dev/pts/"), "the shell has a pty: {out:?}");
    assert!(
        out.contains("33 91"),
        "the pty has hull's terminal size: {out:?}"
    );
    nix::unistd::write(&master, b"exit 3\n").expect("type exit");
    assert_eq!(wait(&mut child), 3, "run exits with the shell's status");
    let after = tcgetattr(&slave).expect("tcgetattr");
    assert_eq!(
        after
            .local_flags
            .contains(LocalFlags::ECHO | LocalFlags::ICANON),
        before
            .local_flags
            .contains(LocalFlags::ECHO | LocalFlags::ICANON),
        "hull put its terminal back out of raw mode"
    );
}

#[test]
fn foreground_exec_tty_bridges_the_terminal() {
    if hull_only("runc 1.1 bridges too, but its output framing differs") {
        return;
    }
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new().args(&["sleep", "1000"]));
    ct.run_detached(&[]);
    let (mut child, master, _slave) = on_a_pty(&hull, &["exec", "-t", ct.id(), "sh"]);
    nix::unistd::write(&master, b"tty; echo pid1=$(cat /proc/1/comm)\n").expect("type");
    let out = read_until(&master, "pid1=sleep", T);
    assert!(out.contains("/dev/pts/"), "{out:?}");
    assert!(
        out.contains("pid1=sleep"),
        "the shell runs in the container: {out:?}"
    );
    nix::unistd::write(&master, b"exit 4\n").expect("type exit");
    assert_eq!(wait(&mut child), 4);
}
