//! The bootstrap process, used only when namespaces are joined by path or time offsets are
//! set: it joins the namespaces (setns into a pid namespace only moves children), creates the
//! user namespace and asks the parent to map it, unshares the rest, writes the time offsets,
//! and forks the init, which is then the first process in the new pid and time namespaces.

use super::init::{self, InitContext, InitError};
use super::sync::Msg;
use crate::namespaces;
use nix::sched::CloneFlags;
use nix::unistd::ForkResult;

/// Runs the bootstrap; never returns.
pub fn run(ctx: InitContext<'_>) -> ! {
    match prepare(&ctx) {
        Ok(ForkResult::Child) => init::run(ctx),
        Ok(ForkResult::Parent { child }) => {
            // sync: InitPid
            let code = i32::from(
                ctx.sock
                    .send(&Msg::InitPid {
                        pid: child.as_raw(),
                    })
                    .is_err(),
            );
            // SAFETY: _exit skips exit handlers and destructors, which belong to the parent.
            unsafe { libc::_exit(code) }
        }
        Err(e) => init::fail(&ctx, "bootstrap", e),
    }
}

fn prepare(ctx: &InitContext<'_>) -> Result<ForkResult, InitError> {
    // Dies with hull if create is killed before the init exists.
    init::set_parent_death_signal(true)?;
    for (kind, path) in &ctx.plan.joins {
        namespaces::join(*kind, path)?;
    }
    let mut flags = ctx.plan.clone_flags;
    if ctx.plan.new_userns {
        // The user namespace first, so every namespace made next is owned by it.
        init::unshare(CloneFlags::CLONE_NEWUSER)?;
        // sync: MapIds / IdsMapped
        ctx.sock.send(&Msg::MapIds {
            pid: std::process::id() as i32,
        })?;
        ctx.sock.expect(&Msg::IdsMapped, "IdsMapped")?;
        flags.remove(CloneFlags::CLONE_NEWUSER);
    }
    if !flags.is_empty() {
        init::unshare(flags)?;
    }
    namespaces::write_offsets(&ctx.config.time_offsets)?;
    // SAFETY: single-threaded process (see clone.rs); the child only runs the init script.
    unsafe { nix::unistd::fork() }.map_err(|source| InitError::Sys {
        op: "fork init",
        source,
    })
}
