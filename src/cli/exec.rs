//! `hull exec`: run a process inside a running container (runc's flags).

use super::{CliError, Globals};
use crate::container::{self, ExecOptions};
use std::path::PathBuf;

/// Flags of `exec` (runc's).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// current working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// set environment variables
    #[arg(long, short = 'e')]
    pub env: Vec<String>,
    /// allocate a pseudo-TTY
    #[arg(long, short = 't')]
    pub tty: bool,
    /// UID (format: <uid>[:<gid>])
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// additional gids
    #[arg(long = "additional-gids", short = 'g')]
    pub additional_gids: Vec<u32>,
    /// path to the process.json
    #[arg(long, short = 'p')]
    pub process: Option<PathBuf>,
    /// detach from the container's process
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// specify the file to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// set the asm process label for the process commonly used with selinux
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// set the apparmor profile for the process
    #[arg(long)]
    pub apparmor: Option<String>,
    /// set the no new privileges value for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// add a capability to the bounding set for the process
    #[arg(long, short = 'c')]
    pub cap: Vec<String>,
    /// pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// allow exec in a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// the container id
    pub id: String,
    /// the command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Runs `exec`.
pub fn run(args: Args, g: &Globals) -> Result<i32, CliError> {
    let opts = ExecOptions {
        process_file: args.process,
        args: args.command,
        tty: args.tty,
        console_socket: args.console_socket,
        cwd: args.cwd,
        env: args.env,
        user: args.user,
        additional_gids: args.additional_gids,
        caps: args.cap,
        no_new_privs: args.no_new_privs,
        preserve_fds: args.preserve_fds,
        pid_file: args.pid_file,
        detach: args.detach,
        ignore_paused: args.ignore_paused,
        apparmor: args.apparmor,
        process_label: args.process_label,
    };
    Ok(container::exec(&g.state_root(), &args.id, &opts)?)
}
