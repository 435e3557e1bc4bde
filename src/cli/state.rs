//! `hull state`: the OCI state JSON, indented as runc prints it (no trailing newline).

use super::{CliError, Globals};
use crate::container::Container;

/// Flags of `state`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// the container id
    pub id: String,
}

/// Runs `state`.
pub fn run(args: Args, g: &Globals) -> Result<i32, CliError> {
    let c = Container::load(&g.state_root(), &args.id)?;
    let state = c.oci_state(c.status());
    let text = serde_json::to_string_pretty(&state).unwrap_or_default();
    super::print(&text)?;
    Ok(0)
}
