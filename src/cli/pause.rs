//! `hull pause`: suspend every process of a running container (its cgroup's freezer).

use super::{CliError, Globals};

/// Flags of `pause`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// the container id
    pub id: String,
}

/// Runs `pause`.
pub fn run(args: Args, g: &Globals) -> Result<i32, CliError> {
    crate::container::pause(&g.state_root(), &args.id)?;
    Ok(0)
}
