//! `hull resume`: thaw every process of a paused container.

use super::{CliError, Globals};

/// Flags of `resume`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// the container id
    pub id: String,
}

/// Runs `resume`.
pub fn run(args: Args, g: &Globals) -> Result<i32, CliError> {
    crate::container::resume(&g.state_root(), &args.id)?;
    Ok(0)
}
