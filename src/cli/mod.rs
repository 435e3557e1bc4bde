//! The command line: runc's global flags and subcommands (same names, same meanings), each
//! subcommand in its own file as a flags struct plus `run(args, &Globals) -> exit status`.

mod create;
mod delete;
mod events;
mod exec;
mod features;
pub mod image;
mod kill;
mod list;
mod network;
mod pause;
mod ps;
mod resume;
mod run;
mod spec;
mod start;
mod state;
mod update;

use crate::container::ContainerError;
use crate::error::{ErrorKind, Kind};
use crate::state::StateRoot;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Output format of `list` and `ps` (runc's `--format table|json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// a table, as runc prints it
    Table,
    /// JSON, as runc prints it
    Json,
}

/// hull: an OCI container runtime, runc-compatible.
#[derive(Debug, Parser)]
#[command(name = "hull", version, about, disable_help_subcommand = true)]
pub struct Cli {
    /// Global flags.
    #[command(flatten)]
    pub globals: Globals,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// runc's global flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Globals {
    /// root directory for storage of container state (this should be located in tmpfs)
    /// [default: /run/hull, or $XDG_RUNTIME_DIR/hull when not run as root]
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// set the log file to write hull logs to (default is stderr)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// set the log format
    #[arg(long = "log-format", global = true, value_enum, default_value_t = crate::log::Format::Text)]
    pub log_format: crate::log::Format,
    /// enable debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// use systemd for cgroups; cgroupsPath is then "slice:prefix:name"
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// ignore cgroup permission errors ('true', 'false', or 'auto')
    #[arg(long = "rootless", id = "rootless_mode", value_enum, default_value_t = Rootless::Auto, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Rootless,
    /// path to the criu binary (accepted for runc compatibility; checkpointing is not supported)
    #[arg(long, global = true, hide = true)]
    pub criu: Option<PathBuf>,
}

/// runc's default state root: /run/hull, but `$XDG_RUNTIME_DIR/hull` for a user who is not
/// root (who cannot write /run).
fn default_root(root: bool, xdg_runtime_dir: Option<std::ffi::OsString>) -> PathBuf {
    match xdg_runtime_dir.filter(|d| !d.is_empty()) {
        Some(dir) if !root => PathBuf::from(dir).join("hull"),
        _ => PathBuf::from(crate::state::DEFAULT_ROOT),
    }
}

/// The `--rootless` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Rootless {
    /// Rootless when not running as root.
    Auto,
    /// Always rootless.
    True,
    /// Never rootless.
    False,
}

impl Globals {
    /// The state store.
    pub fn state_root(&self) -> StateRoot {
        match &self.root {
            Some(root) => StateRoot::new(root),
            None => StateRoot::new(default_root(
                nix::unistd::geteuid().is_root(),
                std::env::var_os("XDG_RUNTIME_DIR"),
            )),
        }
    }

    /// Whether cgroup permission errors are tolerated.
    pub fn rootless(&self) -> bool {
        match self.rootless {
            Rootless::True => true,
            Rootless::False => false,
            Rootless::Auto => !nix::unistd::geteuid().is_root(),
        }
    }

    /// Refuses `--systemd-cgroup` until the systemd driver exists.
    pub fn check_cgroup_driver(&self) -> Result<(), CliError> {
        if self.systemd_cgroup {
            return Err(CliError::Unsupported {
                what: "--systemd-cgroup: the systemd cgroup driver",
            });
        }
        Ok(())
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// create a container
    Create(create::Args),
    /// executes the user defined process in a created container
    Start(start::Args),
    /// create and run a container
    Run(run::Args),
    /// output the state of a container
    State(state::Args),
    /// kill sends the specified signal (default: SIGTERM) to the container's init process
    Kill(kill::Args),
    /// execute new process inside the container
    Exec(exec::Args),
    /// delete any resources held by the container often used with detached container
    Delete(delete::Args),
    /// lists containers started by hull with the given root
    #[command(alias = "ls")]
    List(list::Args),
    /// suspend all processes inside the container
    Pause(pause::Args),
    /// resume all processes that have been previously paused
    Resume(resume::Args),
    /// ps displays the processes running inside a container
    Ps(ps::Args),
    /// update container resource constraints
    Update(update::Args),
    /// display container events such as OOM notifications, cpu, memory, and IO usage statistics
    Events(events::Args),
    /// create a new specification file
    Spec(spec::Args),
    /// show the enabled features
    Features(features::Args),
    /// container networking: attach/detach hooks, show
    Network(network::Args),
    /// unpack images into bundles, diff and commit a container's overlay changes
    Image(image::Args),
}

/// A command that failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A container operation failed.
    #[error(transparent)]
    Container(#[from] ContainerError),
    /// A network hook or `network show` failed.
    #[error(transparent)]
    Network(#[from] crate::network::NetError),
    /// An image operation failed.
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    /// A flag asks for something hull does not implement.
    #[error("{what} is not supported by hull")]
    Unsupported {
        /// What was asked for.
        what: &'static str,
    },
    /// An argument has a bad value.
    #[error("{arg}: {reason}")]
    BadArg {
        /// Which argument.
        arg: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Output or a file could not be written.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// Which file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl Kind for CliError {
    fn kind(&self) -> ErrorKind {
        match self {
            CliError::Container(e) => e.kind(),
            CliError::Network(e) => e.kind(),
            CliError::Image(e) => e.kind(),
            CliError::Unsupported { .. } | CliError::BadArg { .. } => ErrorKind::Usage,
            CliError::Io { .. } => ErrorKind::Sys,
        }
    }
}

/// Runs the parsed command line; returns the exit status.
pub fn dispatch(cli: Cli) -> Result<i32, CliError> {
    let g = &cli.globals;
    match cli.command {
        Command::Create(a) => create::run(a, g),
        Command::Start(a) => start::run(a, g),
        Command::Run(a) => run::run(a, g),
        Command::State(a) => state::run(a, g),
        Command::Kill(a) => kill::run(a, g),
        Command::Exec(a) => exec::run(a, g),
        Command::Delete(a) => delete::run(a, g),
        Command::List(a) => list::run(a, g),
        Command::Pause(a) => pause::run(a, g),
        Command::Resume(a) => resume::run(a, g),
        Command::Ps(a) => ps::run(a, g),
        Command::Update(a) => update::run(a, g),
        Command::Events(a) => events::run(a, g),
        Command::Spec(a) => spec::run(a, g),
        Command::Features(a) => features::run(a, g),
        Command::Network(a) => network::run(a, g),
        Command::Image(a) => image::run(a, g),
    }
}

/// Writes to stdout, mapping a closed pipe and other errors to [`CliError::Io`].
pub(crate) fn print(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|source| CliError::Io {
            op: "write",
            path: "stdout".into(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_who_is_not_root_keeps_state_in_xdg_runtime_dir() {
        let xdg = Some(std::ffi::OsString::from("/run/user/1000"));
        assert_eq!(
            default_root(false, xdg.clone()),
            PathBuf::from("/run/user/1000/hull")
        );
        assert_eq!(default_root(true, xdg), PathBuf::from("/run/hull"));
        assert_eq!(default_root(false, None), PathBuf::from("/run/hull"));
        assert_eq!(
            default_root(false, Some(std::ffi::OsString::new())),
            PathBuf::from("/run/hull")
        );
    }
}
