//! `hull run`: create + start; in the foreground, wait and exit with the container's status.

use super::{create, CliError, Globals};
use crate::container::{self, RunOptions};

/// Flags of `run` (runc's): those of `create`, and what happens after start.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub create: create::Flags,
    /// detach from the container's process
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// run hull's built-in init as PID 1 (signal forwarding, zombie reaping)
    #[arg(long)]
    pub init: bool,
    /// do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
    /// disable the use of the subreaper used to reap reparented processes
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// the container id
    pub id: String,
}

/// Runs `run`.
pub fn run(args: Args, g: &Globals) -> Result<i32, CliError> {
    g.check_cgroup_driver()?;
    let opts = RunOptions {
        create: args.create.options(g, args.init),
        detach: args.detach,
        keep: args.keep,
        no_subreaper: args.no_subreaper,
    };
    Ok(container::run(&g.state_root(), &args.id, &opts)?)
}
