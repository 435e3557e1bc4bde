//! `hull create`: runc's flags; the container is left waiting for `start`.

use super::{CliError, Globals};
use crate::container::{self, CreateOptions};
use std::path::PathBuf;

/// Flags `create` and `run` share (runc's).
#[derive(Debug, clap::Args)]
pub struct Flags {
    /// path to the root of the bundle directory, defaults to the current directory
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    /// path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// specify the file to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// do not use pivot root to jail process inside rootfs
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
}

impl Flags {
    /// The create options these flags mean; `init` asks for hull's init as PID 1.
    pub fn options(self, g: &Globals, init: bool) -> CreateOptions {
        CreateOptions {
            bundle: self.bundle,
            pid_file: self.pid_file,
            console_socket: self.console_socket,
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            rootless: g.rootless(),
            init,
        }
    }
}

/// Flags of `create` (runc's).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub flags: Flags,
    /// the container id
    pub id: String,
}

/// Runs `create`.
pub fn run(args: Args, g: &Globals) -> Result<i32, CliError> {
    g.check_cgroup_driver()?;
    container::create(&g.state_root(), &args.id, &args.flags.options(g, false))?;
    Ok(0)
}
