//! `hull kill`: send a signal (default SIGTERM) to the init, or `--all` processes.

use super::{CliError, Globals};

/// Flags of `kill`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// send the specified signal to all processes inside the container
    #[arg(long, short = 'a')]
    pub all: bool,
    /// the container id
    pub id: String,
    /// signal name (TERM, SIGKILL) or number
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

/// Runs `kill`.
pub fn run(args: Args, g: &Globals) -> Result<i32, CliError> {
    crate::container::kill(&g.state_root(), &args.id, &args.signal, args.all)?;
    Ok(0)
}
