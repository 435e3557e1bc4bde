//! `hull run`: create + start; in the foreground, wait and exit with the container's status.

use super::{CliError, Globals};
use crate::container::{self, CreateOptions, RunOptions};
use std::path::PathBuf;

/// Flags of `run` (runc's).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// path to the root of the bundle directory, defaults to the current directory
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// detach from the container's process
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// run hull's built-in init as PID 1 (signal forwarding, zombie reaping)
    #[arg(long)]
    pub init: bool,
    /// do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
    /// specify the file to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// disable the use of the subreaper used to reap reparented processes
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// do not use pivot root to jail process inside rootfs
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// the container id
    pub id: String,
}

/// Runs `run`.
pub fn run(args: Args, g: &Globals) -> Result<i32, CliError> {
    g.check_cgroup_driver()?;
    let opts = RunOptions {
        create: CreateOptions {
            bundle: args.bundle,
            pid_file: args.pid_file,
            console_socket: args.console_socket,
            no_pivot: args.no_pivot,
            no_new_keyring: args.no_new_keyring,
            preserve_fds: args.preserve_fds,
            rootless: g.rootless(),
            init: args.init,
        },
        detach: args.detach,
        keep: args.keep,
        no_subreaper: args.no_subreaper,
    };
    Ok(container::run(&g.state_root(), &args.id, &opts)?)
}
