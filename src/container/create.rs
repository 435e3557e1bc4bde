//! `create`: validate the bundle, claim the id, record what is about to be made, make the
//! cgroup, spawn the init, and leave it waiting for `start`. A failure at any step undoes all
//! of it; a create that is killed outright leaves a state.json that `delete --force` finishes.

use super::{Container, ContainerError};
use crate::cgroups::{self, Manager};
use crate::process::{self, Init, InitRequest};
use crate::spec::{self, Config};
use crate::state::{ContainerState, Lock, OciState, Phase, StateRoot, Status};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The flags of `create` (and `run`).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// `--bundle` (default: the current directory).
    pub bundle: PathBuf,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// Tolerate cgroup permission errors (`--rootless`).
    pub rootless: bool,
    /// `run --init`: PID 1 is hull's built-in init.
    pub init: bool,
}

/// Creates container `id`; returns its init, waiting on exec.fifo.
pub fn create(root: &StateRoot, id: &str, opts: &CreateOptions) -> Result<Init, ContainerError> {
    create_with_console(root, id, opts, None)
}

/// [`create`] with an already connected console socket (the foreground terminal bridge)
/// instead of `--console-socket`.
pub fn create_with_console(
    root: &StateRoot,
    id: &str,
    opts: &CreateOptions,
    console: Option<OwnedFd>,
) -> Result<Init, ContainerError> {
    crate::state::validate_id(id)?;
    let mut config = spec::load(&opts.bundle)?;
    crate::security::check_host(&config)?;
    if opts.init {
        if !config.creates_namespace(crate::spec::NsKind::Pid) {
            return Err(ContainerError::BadOption(
                "--init needs a new pid namespace",
            ));
        }
        config.pid1 = true;
    }
    check_console(&config, opts, console.is_some())?;
    if config.exposes_runtime() {
        // Before anything exists: the re-executed copy starts this create from the top.
        crate::security::exe_seal::reexec_sealed().map_err(crate::process::ProcessError::from)?;
    }
    let dir = root.create_dir(id)?;
    let lock = match Lock::acquire(&dir, id) {
        Ok(l) => l,
        Err(e) => {
            let _ = fs::remove_dir_all(&dir);
            return Err(e.into());
        }
    };
    let cgroup = match cgroups::new(config.cgroups_path.as_deref(), id, opts.rootless) {
        Ok(c) => c,
        Err(e) => {
            let _ = fs::remove_dir_all(&dir);
            return Err(e.into());
        }
    };
    let mut state = initial_state(id, &config, cgroup.as_ref(), opts.rootless);
    let result = state
        .write(&dir)
        .map_err(ContainerError::from)
        .and_then(|()| {
            build(
                &dir,
                id,
                &config,
                opts,
                console,
                cgroup.as_ref(),
                &mut state,
            )
        });
    match result {
        Ok(init) => {
            drop(lock);
            Ok(init)
        }
        Err(error) => {
            let container = Container { dir, state };
            let cleanup = super::delete::destroy(&container, cgroup.as_ref(), true);
            drop(lock);
            match cleanup {
                Ok(()) => Err(error),
                Err(c) => Err(ContainerError::Cleanup {
                    error: Box::new(error),
                    cleanup: Box::new(c),
                }),
            }
        }
    }
}

fn check_console(
    config: &Config,
    opts: &CreateOptions,
    bridged: bool,
) -> Result<(), ContainerError> {
    match (config.process.terminal, &opts.console_socket) {
        (true, None) if bridged => Ok(()),
        (true, None) => Err(ContainerError::BadOption(
            "process.terminal is set: a console socket (--console-socket) is required",
        )),
        (false, Some(_)) => Err(ContainerError::BadOption(
            "--console-socket given but process.terminal is not set",
        )),
        _ => Ok(()),
    }
}

fn initial_state(
    id: &str,
    config: &Config,
    cgroup: &dyn Manager,
    rootless: bool,
) -> ContainerState {
    ContainerState {
        oci_version: config.oci_version.clone(),
        id: id.to_string(),
        phase: Phase::Creating,
        pid: 0,
        pid_start: 0,
        bundle: config.bundle.clone(),
        rootfs: config.rootfs.clone(),
        created: crate::util::rfc3339_nano(SystemTime::now()),
        owner: String::new(),
        annotations: config.annotations.clone(),
        cgroup: Some(cgroup.record()),
        hooks: config.hooks.clone(),
        rootless,
        resources: config.resources.clone(),
    }
}

fn build(
    dir: &Path,
    id: &str,
    config: &Config,
    opts: &CreateOptions,
    console: Option<OwnedFd>,
    cgroup: &dyn Manager,
    state: &mut ContainerState,
) -> Result<Init, ContainerError> {
    cgroup.create()?;
    // Also without `linux.resources`: the device rules are then deny-all plus the default
    // devices, as runc sets them, never the allow-all a new cgroup inherits.
    match &config.resources {
        Some(resources) => cgroup.apply(resources)?,
        None => cgroup.apply(&oci_spec::runtime::LinuxResources::default())?,
    }
    let console = match (&opts.console_socket, console) {
        (Some(path), _) => Some(crate::console::connect(path)?),
        (None, bridged) => bridged,
    };
    let oci = OciState {
        oci_version: config.oci_version.clone(),
        id: id.to_string(),
        pid: 0,
        status: Status::Creating,
        bundle: config.bundle.clone(),
        rootfs: config.rootfs.clone(),
        created: state.created.clone(),
        owner: String::new(),
        annotations: config.annotations.clone(),
    };
    let req = InitRequest {
        config,
        id,
        state_dir: dir,
        cgroup,
        console,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.preserve_fds,
        listen_fds: crate::process::fds::listen_fds(),
        state: oci,
    };
    let mut record = |pid: i32, start: u64| {
        state.pid = pid;
        state.pid_start = start;
        state.write(dir)
    };
    let init = process::spawn_init(req, &mut record)?;
    state.phase = Phase::Created;
    state.write(dir)?;
    if let Some(path) = &opts.pid_file {
        write_pid_file(path, init.pid)?;
    }
    Ok(init)
}

/// Writes the pid file atomically (temp file + rename in the same directory), as runc does, so
/// a reader never sees an empty file.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<(), ContainerError> {
    let err = |source| ContainerError::PidFile {
        path: path.to_path_buf(),
        source,
    };
    let path = std::path::absolute(path).map_err(err)?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(pid.to_string().as_bytes()).map_err(err)?;
    fs::rename(&tmp, &path).map_err(err)
}
