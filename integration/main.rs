//! End-to-end tests: drive the built `hull` binary (or any runc-compatible runtime named by
//! `HULL_TEST_BINARY`) on busybox bundles, as a person or containerd would. Needs root. The
//! shared helpers and how to write a test are in `support/mod.rs`; one module per area.

mod support;

mod cgroups;
mod cgroups_common;
mod cgroups_v2;
mod console;
mod docker;
mod exec;
mod failure_paths;
mod fixtures;
mod harness;
mod hooks;
mod image;
mod lifecycle;
mod namespaces;
mod network;
mod pid1;
mod podman;
mod process;
mod rootfs;
mod rootless;
mod seccomp;
mod security;
#[cfg(feature = "shim")]
mod shim;
mod terminal;

/// Without `--features shim` the shim's binary is not built: fail loudly instead of running
/// fewer tests.
#[cfg(not(feature = "shim"))]
#[test]
fn shim_tests_need_the_shim_feature() {
    panic!("the containerd shim tests need `cargo test --features shim` (hack/test.sh passes it)");
}
