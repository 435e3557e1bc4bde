//! hull: a runc-compatible OCI container runtime.
//!
//! The crate is a library so that the `hull` binary, the integration tests and (later) the
//! containerd shim share one implementation. Dependencies point one way:
//! `cli -> container -> process -> {namespaces, cgroups, rootfs, security, hooks, console}
//! -> {spec, state, sys}`.

pub mod cgroups;
pub mod cli;
pub mod console;
pub mod container;
pub mod error;
pub mod hooks;
pub mod image;
pub mod log;
pub mod namespaces;
pub mod network;
pub mod pid1;
pub mod process;
pub mod rootfs;
pub mod security;
#[cfg(feature = "shim")]
pub mod shim;
pub mod spec;
pub mod state;
pub mod sys;
pub mod util;
