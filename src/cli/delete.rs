//! `hull delete`: remove a stopped container (any, with --force).

use super::{CliError, Globals};

/// Flags of `delete`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// forcibly deletes the container if it is still running (uses SIGKILL)
    #[arg(long, short = 'f')]
    pub force: bool,
    /// the container id
    pub id: String,
}

/// Runs `delete`.
pub fn run(args: Args, g: &Globals) -> Result<i32, CliError> {
    crate::container::delete(&g.state_root(), &args.id, args.force)?;
    Ok(0)
}
