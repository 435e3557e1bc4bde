//! `hull network attach|detach|show`: container networking as OCI hooks of hull itself
//! (attach as createRuntime, detach as poststop, both reading the state on stdin), and the
//! attachment of a container as JSON.

use super::{CliError, Globals};
use crate::network::{self, options, HookState, Options, RawOptions};
use clap::Subcommand;
use std::path::PathBuf;

/// Flags of `network`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The network subcommand.
    #[command(subcommand)]
    pub command: NetCommand,
}

/// The network subcommands.
#[derive(Debug, Subcommand)]
pub enum NetCommand {
    /// connect the container whose state is on stdin (run as a createRuntime hook)
    Attach(AttachArgs),
    /// disconnect a container, by id or from the state on stdin (run as a poststop hook)
    Detach(DetachArgs),
    /// print a container's attachment as JSON
    Show(ShowArgs),
}

/// Flags of `network attach`.
#[derive(Debug, clap::Args)]
pub struct AttachArgs {
    /// bridge, macvlan or none (host networking is no network namespace at all)
    #[arg(long, default_value = "bridge")]
    pub mode: String,
    /// the bridge to attach to, created when missing
    #[arg(long, default_value = options::DEFAULT_BRIDGE)]
    pub bridge: String,
    /// the subnet addresses come from; its first address is the gateway
    #[arg(long, default_value = options::DEFAULT_SUBNET)]
    pub subnet: String,
    /// pin the container's address
    #[arg(long)]
    pub ip: Option<String>,
    /// the host interface a macvlan is made on
    #[arg(long)]
    pub parent: Option<String>,
    /// MTU of the container's interface
    #[arg(long)]
    pub mtu: Option<String>,
    /// HOST_PORT:CONTAINER_PORT[/tcp|udp], repeatable
    #[arg(long)]
    pub publish: Vec<String>,
    /// where leases and attachment records are kept
    #[arg(long = "state-dir", default_value = options::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
}

/// Flags of `network detach`.
#[derive(Debug, clap::Args)]
pub struct DetachArgs {
    /// where leases and attachment records are kept
    #[arg(long = "state-dir", default_value = options::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// the container (default: the id in the state on stdin)
    pub id: Option<String>,
}

/// Flags of `network show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// where leases and attachment records are kept
    #[arg(long = "state-dir", default_value = options::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// the container
    pub id: String,
}

/// Runs `network`.
pub fn run(args: Args, _g: &Globals) -> Result<i32, CliError> {
    match args.command {
        NetCommand::Attach(a) => {
            let opts = Options::parse(&RawOptions {
                mode: a.mode,
                bridge: a.bridge,
                subnet: a.subnet,
                ip: a.ip,
                parent: a.parent,
                mtu: a.mtu,
                publish: a.publish,
                state_dir: a.state_dir,
            })?;
            let state = HookState::read(std::io::stdin().lock())?;
            network::attach(&opts, &state)?;
        }
        NetCommand::Detach(a) => {
            let id = match a.id {
                Some(id) => id,
                None => HookState::read(std::io::stdin().lock())?.id,
            };
            network::detach(&a.state_dir, &id)?;
        }
        NetCommand::Show(a) => {
            let record = network::show(&a.state_dir, &a.id)?;
            let mut text = serde_json::to_string_pretty(&record).unwrap_or_default();
            text.push('\n');
            super::print(&text)?;
        }
    }
    Ok(0)
}
