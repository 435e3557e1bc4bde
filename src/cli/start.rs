//! `hull start`: run the user process of a created container.

use super::{CliError, Globals};

/// Flags of `start`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// the container id
    pub id: String,
}

/// Runs `start`.
pub fn run(args: Args, g: &Globals) -> Result<i32, CliError> {
    crate::container::start(&g.state_root(), &args.id)?;
    Ok(0)
}
