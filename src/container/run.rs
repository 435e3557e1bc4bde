//! `run`: create + start; in the foreground, wait for the container (forwarding signals, see
//! `foreground.rs`), exit with its status, and delete it unless `--keep`.

use super::create::create_with_console;
use super::foreground::Foreground;
use super::terminal::{console_pair, Bridge};
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
    // `process.terminal` without a console socket: hull's own terminal is the console.
    let bridged = opts.create.console_socket.is_none() && wants_terminal(&opts.create);
    let (ours, theirs) = match bridged {
        true => {
            let (a, b) = console_pair()?;
            (Some(a), Some(b))
        }
        false => (None, None),
    };
    let init = create_with_console(root, id, &opts.create, theirs)?;
    let mut bridge = match ours {
        Some(fd) => match Bridge::receive(&fd) {
            Ok(b) => Some(b),
            Err(e) => {
                let _ = delete(root, id, true);
                return Err(e);
            }
        },
        None => None,
    };
    start_or_remove(root, id)?;
    let status = fg.wait(init.pid, &init.pidfd, bridge.as_mut());
    drop(bridge);
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

/// Whether the bundle asks for a terminal (a config that does not load fails in create
/// with the real error, so a load error here just means no).
fn wants_terminal(opts: &CreateOptions) -> bool {
    crate::spec::load(&opts.bundle).is_ok_and(|c| c.process.terminal)
}
