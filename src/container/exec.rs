//! `exec`: start another process in a running container, from a process.json or from the
//! container's own `process` with runc's flag overrides, and in the foreground wait for it.

use super::foreground::Foreground;
use super::{Container, ContainerError};
use crate::process::tenant::{self, ExecRequest};
use crate::spec::ProcessConfig;
use crate::state::{StateRoot, Status};
use std::path::PathBuf;

/// The flags of `exec`.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// `--process`: a process.json replacing everything below.
    pub process_file: Option<PathBuf>,
    /// The command and its arguments.
    pub args: Vec<String>,
    /// `--tty`.
    pub tty: bool,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--cwd`.
    pub cwd: Option<PathBuf>,
    /// `--env`, appended to the container's.
    pub env: Vec<String>,
    /// `--user uid[:gid]`.
    pub user: Option<String>,
    /// `--additional-gids`.
    pub additional_gids: Vec<u32>,
    /// `--cap`, added to the bounding, effective, permitted and ambient sets.
    pub caps: Vec<String>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--detach`.
    pub detach: bool,
    /// `--ignore-paused`.
    pub ignore_paused: bool,
    /// `--apparmor`: the AppArmor profile instead of the container's.
    pub apparmor: Option<String>,
    /// `--process-label`: the SELinux label instead of the container's.
    pub process_label: Option<String>,
}

/// Runs a process in container `id`; returns its exit status (0 when detached).
pub fn exec(root: &StateRoot, id: &str, opts: &ExecOptions) -> Result<i32, ContainerError> {
    let container = Container::load(root, id)?;
    let status = container.status();
    let paused_ok = status == Status::Paused && opts.ignore_paused;
    if !status.can_exec() && !paused_ok {
        return Err(ContainerError::BadState {
            id: id.into(),
            op: "exec in",
            status,
        });
    }
    let config = crate::spec::load(&container.state.bundle)?;
    let process = build_process(&config, opts)?;
    check_labels(&process, opts, crate::security::HostLsm::detect())?;
    // Compiled before the fork, as for create; the tenant only installs it.
    let seccomp = config
        .seccomp
        .as_ref()
        .map(crate::security::seccomp::compile)
        .transpose()
        .map_err(crate::process::ProcessError::from)?;
    let state = container.oci_state(status);
    // The tenant runs hull code inside the container's pid namespace, where the container's
    // processes can see it. It is non-dumpable; where a container process could still open
    // its /proc/<pid>/exe (CAP_SYS_PTRACE in the host's user namespace), run from a sealed
    // copy (CVE-2019-5736, see security::exe_seal).
    if config.may_ptrace(&config.process) || config.may_ptrace(&process) {
        crate::security::exe_seal::reexec_sealed().map_err(crate::process::ProcessError::from)?;
    }
    let mut ours = None;
    let console = match (&opts.console_socket, process.terminal) {
        (Some(path), true) => Some(crate::console::connect(path)?),
        (None, true) if opts.detach => {
            return Err(ContainerError::BadOption(
                "--tty with --detach needs --console-socket",
            ));
        }
        (None, true) => {
            // Foreground without a console socket: hull's own terminal is the console.
            let (a, b) = super::terminal::console_pair()?;
            ours = Some(a);
            Some(b)
        }
        (Some(_), false) => {
            return Err(ContainerError::BadOption(
                "--console-socket needs --tty or process.terminal",
            ));
        }
        (None, false) => None,
    };
    let cgroup = container
        .state
        .cgroup
        .as_ref()
        .map(crate::cgroups::from_record)
        .transpose()?;
    let fg = if opts.detach {
        None
    } else {
        Some(Foreground::begin(true)?)
    };
    let proc = tenant::spawn_tenant(ExecRequest {
        process: &process,
        init_pid: container.state.pid,
        cgroup: cgroup.as_deref(),
        console,
        preserve_fds: opts.preserve_fds,
        seccomp: seccomp.as_ref(),
        state: &state,
    })?;
    if let Some(path) = &opts.pid_file {
        super::create::write_pid_file(path, proc.pid)?;
    }
    let mut bridge = ours
        .as_ref()
        .map(super::terminal::Bridge::receive)
        .transpose()?;
    match fg {
        Some(fg) => fg.wait(proc.pid, &proc.pidfd, bridge.as_mut()),
        None => Ok(0),
    }
}

/// The process to run: `--process`, or the container's own with the flags applied. Labels
/// not given fall back to the container's, as runc's exec does.
fn build_process(
    config: &crate::spec::Config,
    opts: &ExecOptions,
) -> Result<ProcessConfig, ContainerError> {
    let mut p = match &opts.process_file {
        Some(file) => crate::spec::load_process(file)?,
        None => command_process(config, opts)?,
    };
    let pick = |flag: &Option<String>, own: &Option<String>, theirs: &Option<String>| {
        [flag, own, theirs]
            .into_iter()
            .flatten()
            .find(|v| !v.is_empty())
            .cloned()
    };
    let c = &config.process;
    p.apparmor_profile = pick(&opts.apparmor, &p.apparmor_profile, &c.apparmor_profile);
    p.selinux_label = pick(&opts.process_label, &p.selinux_label, &c.selinux_label);
    Ok(p)
}

/// Refuses a label the host cannot apply, naming the flag or field that asked for it.
fn check_labels(
    p: &ProcessConfig,
    opts: &ExecOptions,
    host: crate::security::HostLsm,
) -> Result<(), ContainerError> {
    for (field, lsm) in crate::security::lsm::requests(p) {
        let flag = match lsm {
            crate::security::Lsm::AppArmor => opts.apparmor.as_ref().map(|_| "--apparmor"),
            crate::security::Lsm::SeLinux => opts.process_label.as_ref().map(|_| "--process-label"),
        };
        host.require(flag.unwrap_or(field), lsm).map_err(|e| {
            crate::process::ProcessError::from(crate::security::SecurityError::from(e))
        })?;
    }
    Ok(())
}

fn command_process(
    config: &crate::spec::Config,
    opts: &ExecOptions,
) -> Result<ProcessConfig, ContainerError> {
    if opts.args.is_empty() {
        return Err(ContainerError::BadOption(
            "exec needs a command (or --process)",
        ));
    }
    let mut p = config.process.clone();
    p.args = opts.args.clone();
    p.terminal = opts.tty;
    if let Some(cwd) = &opts.cwd {
        p.cwd = cwd.clone();
    }
    p.env.extend(opts.env.iter().cloned());
    if let Some(user) = &opts.user {
        let (uid, gid) = parse_user(user)?;
        p.user.uid = uid;
        if let Some(gid) = gid {
            p.user.gid = gid;
        }
    }
    if !opts.additional_gids.is_empty() {
        p.user.additional_gids = opts.additional_gids.clone();
    }
    add_caps(&mut p, &opts.caps)?;
    p.no_new_privileges |= opts.no_new_privs;
    Ok(p)
}

/// Parses `uid[:gid]` (numbers only, as runc's exec).
pub fn parse_user(s: &str) -> Result<(u32, Option<u32>), ContainerError> {
    let bad = || ContainerError::BadOption("--user must be uid[:gid] with numeric ids");
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid = u.parse().map_err(|_| bad())?;
    let gid = g.map(|g| g.parse().map_err(|_| bad())).transpose()?;
    Ok((uid, gid))
}

fn add_caps(p: &mut ProcessConfig, names: &[String]) -> Result<(), ContainerError> {
    if names.is_empty() {
        return Ok(());
    }
    let sets = p.capabilities.get_or_insert_with(Default::default);
    for name in names {
        let upper = name.to_ascii_uppercase();
        let full = if upper.starts_with("CAP_") {
            upper
        } else {
            format!("CAP_{upper}")
        };
        let cap: caps::Capability = full
            .parse()
            .map_err(|_| ContainerError::BadOption("--cap: unknown capability"))?;
        for set in [
            &mut sets.bounding,
            &mut sets.effective,
            &mut sets.permitted,
            &mut sets.ambient,
        ] {
            set.insert(cap);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_the_flag_then_the_process_then_the_container() {
        let spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0},
            "apparmorProfile":"container","selinuxLabel":"c_t"},"linux":{"namespaces":[{"type":"mount"}]}}"#,
        )
        .unwrap();
        let config = crate::spec::from_spec(spec, "/b".into()).unwrap();
        let mut opts = ExecOptions {
            args: vec!["true".into()],
            ..Default::default()
        };
        let p = build_process(&config, &opts).unwrap();
        assert_eq!(p.apparmor_profile.as_deref(), Some("container"));
        assert_eq!(p.selinux_label.as_deref(), Some("c_t"));
        opts.apparmor = Some("flag".into());
        opts.process_label = Some(String::new());
        let p = build_process(&config, &opts).unwrap();
        assert_eq!(p.apparmor_profile.as_deref(), Some("flag"));
        assert_eq!(p.selinux_label.as_deref(), Some("c_t"), "empty is unset");
    }

    #[test]
    fn a_label_flag_without_the_lsm_names_the_flag() {
        let opts = ExecOptions {
            apparmor: Some("p".into()),
            ..Default::default()
        };
        let p = ProcessConfig {
            apparmor_profile: Some("p".into()),
            selinux_label: Some("l".into()),
            ..Default::default()
        };
        let none = crate::security::HostLsm::default();
        let e = check_labels(&p, &opts, none).unwrap_err().to_string();
        assert!(e.starts_with("--apparmor: AppArmor is not enabled"), "{e}");
        let aa = crate::security::HostLsm {
            apparmor: true,
            selinux: false,
        };
        let e = check_labels(&p, &opts, aa).unwrap_err().to_string();
        assert!(e.starts_with("process.selinuxLabel: SELinux"), "{e}");
    }

    #[test]
    fn users_parse_like_runc() {
        assert_eq!(parse_user("1000").unwrap(), (1000, None));
        assert_eq!(parse_user("1000:100").unwrap(), (1000, Some(100)));
        assert!(parse_user("bob").is_err());
        assert!(parse_user("1:x").is_err());
    }

    #[test]
    fn caps_go_into_four_sets() {
        let mut p = ProcessConfig::default();
        add_caps(&mut p, &["net_admin".into(), "CAP_SYS_TIME".into()]).unwrap();
        let c = p.capabilities.unwrap();
        assert!(c.ambient.contains(&caps::Capability::CAP_NET_ADMIN));
        assert!(c.bounding.contains(&caps::Capability::CAP_SYS_TIME));
        assert!(c.inheritable.is_empty());
        assert!(add_caps(&mut ProcessConfig::default(), &["nope".into()]).is_err());
    }
}
