//! `run`: create + start; in the foreground, wait for the container (forwarding signals, see
//! `foreground.rs`), exit with its status, and delete it unless `--keep`.

use super::foreground::Foreground;
use super::{create, delete, start, ContainerError, CreateOptions};
use crate::state::StateRoot;

/// The flags of `run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The create flags.
    pub create: CreateOptions,
    /// `--detach`: return once started.
    pub detach: bool,
    /// `--keep`: do not delete the container after it exits.
    pub keep: bool,
    /// `--no-subreaper`.
    pub no_subreaper: bool,
}

/// Runs container `id`; returns the exit status for hull to exit with.
pub fn run(root: &StateRoot, id: &str, opts: &RunOptions) -> Result<i32, ContainerError> {
    if opts.detach {
        create(root, id, &opts.create)?;
        start_or_remove(root, id)?;
        return Ok(0);
    }
    let fg = Foreground::begin(!opts.no_subreaper)?;
    let init = create(root, id, &opts.create)?;
    start_or_remove(root, id)?;
    let status = fg.wait(init.pid, &init.pidfd);
    if !opts.keep {
        delete(root, id, true)?;
    }
    status
}

fn start_or_remove(root: &StateRoot, id: &str) -> Result<(), ContainerError> {
    if let Err(e) = start(root, id) {
        let _ = delete(root, id, true);
        return Err(e);
    }
    Ok(())
}
