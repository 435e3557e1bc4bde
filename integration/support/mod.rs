//! Test support shared by every area module: the runtime under test ([`Hull`]), a bundle per
//! test ([`Bundle`]), a cleanup guard per container ([`Container`]) and host checks
//! ([`requires`]).
//!
//! # The runtime under test
//! `HULL_TEST_BINARY=/usr/sbin/runc cargo test --test integration` runs the suite against
//! runc (the contract hull copies); without it the `hull` cargo built is used. Each test gets
//! its own `--root` under `/run/hull-it/`, ids are unique per test ([`unique`]), so tests run
//! in parallel. Tests of behaviour only hull has start with `if hull_only("why") { return; }`.
//!
//! # Writing a test
//! ```ignore
//! use crate::support::*;
//!
//! #[test]
//! fn hostname_is_set() {
//!     let hull = Hull::new();                           // fresh --root; needs root
//!     let bundle = Bundle::new()                        // base.json + busybox rootfs copy
//!         .with(|c| c["hostname"] = json!("box"))       // edit config.json (runc's update_config)
//!         .sh("hostname");                              // process.args = sh -c hostname
//!     let mut ct = hull.container(bundle);              // guard with a unique id
//!     let out = ct.run(&[]);                            // foreground run to completion
//!     assert_eq!(out.code(), 0, "{}", out.describe());
//!     assert_eq!(out.stdout_text().trim(), "box");
//! }                                                     // guard: kill, delete -f, check leaks
//! ```
//! For a long-lived container: `Bundle::new().args(&["sleep", "100"])`, then `ct.create()`,
//! `ct.start()`, `ct.status()`, `ct.kill("KILL")`, `ct.wait_for_status("stopped", t)`,
//! `ct.delete()`; `ct.exec(&["cat", "/etc/hostname"])` or `ct.exec_with(&["--user", "1000"],
//! &[..])` for a process in it. The container's stdio is the file its `create` or `run` got:
//! read it with `ct.stdout()` / `ct.stderr()` or wait for a line with `ct.wait_for_stdout`.
//! A foreground `run` that the test must interrupt: `ct.spawn_run(&[])`, then
//! `ct.wait_run()`. Other commands: `hull.run(&["list"])` (any status), `hull.ok(..)`
//! (must exit 0), `hull.fails(..)` (must fail with one stderr line). Every lifecycle method
//! has a `try_`/`_with` form that returns the `Output` instead of asserting.
//!
//! Bundles: `Bundle::new()` (base.json), `Bundle::with_config(v)`, `Bundle::without_rootfs`,
//! `Bundle::with_config_text` (raw, e.g. malformed); edit with `update_config`/`with`,
//! `args`, `sh`; `bundle.scratch()` is a directory beside it for the test's own files (bind
//! sources, hook output), removed with it. The rootfs is the busybox fixture (`busybox
//! --list` applets, users root/hull 1000/nobody, group hulltest 1001 with member hull).
//!
//! # What every test gets for free
//! - Commands never hang the suite: each has a deadline (`HULL_TEST_TIMEOUT`, default 60 s).
//! - Output goes to files, not pipes, so a detached container never blocks a read.
//! - Dropping a [`Container`] SIGKILLs its init by pidfd, runs `delete --force`, and fails the
//!   test if a process, the state dir, a cgroup named after the id, or a mount under the
//!   bundle is left (then kills and removes those cgroups and detaches those mounts, so the
//!   next test starts clean). Dropping a [`Bundle`] never deletes through a leaked mount.
//!
//! Files: `hull.rs` (binary, ids, [`Hull`]), `cmd.rs` (running one command), `bundle.rs`,
//! `guard.rs` ([`Container`]), `leaks.rs` (the probes), `requires.rs`, `console.rs`
//! ([`ConsoleSocket`]: receive the pty master of `--console-socket`, talk to it as [`Pty`]).
//! - [`requires`] fails (never skips) when the host lacks a program or kernel feature.

// The support API is shared by every area module; not each one uses every helper.
#![allow(dead_code)]

pub mod bundle;
pub mod cmd;
pub mod console;
pub mod daemon;
pub mod guard;
pub mod hull;
pub mod leaks;
pub mod requires;

#[allow(unused_imports)]
pub use bundle::{
    base_config, fixture_rootfs, fixtures_dir, list_mut, read_json, write_file, Bundle,
};
#[allow(unused_imports)]
pub use cmd::{
    assert_one_line_error, assert_stderr_mentions, exit_code, spawn_in, OutputExt, Spawned,
};
#[allow(unused_imports)]
pub use console::{ConsoleSocket, Pty};
#[allow(unused_imports)]
pub use guard::Container;
#[allow(unused_imports)]
pub use hull::{binary, binary_name, hull_only, is_hull, unique, Hull};
#[allow(unused_imports)]
pub use leaks::{cgroups_named, mounts_under, pidfd, wait_pidfd};
#[allow(unused_imports)]
pub use requires::{find_program, requires};
#[allow(unused_imports)]
pub use serde_json::{json, Value};
