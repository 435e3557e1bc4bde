//! `hull spec`: write runc's config.json template into the bundle (never over an existing one).

use super::{CliError, Globals};
use serde::Serialize;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

/// Flags of `spec`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// path to the root of the bundle directory
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    /// generate a configuration for a rootless container
    #[arg(long)]
    pub rootless: bool,
    /// network the container: bridge (hull's network hooks), none (only lo) or host
    #[arg(long, value_enum)]
    pub network: Option<NetworkArg>,
}

/// Values of `spec --network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NetworkArg {
    /// a veth on hull's bridge, set up by `hull network attach` hooks
    Bridge,
    /// a network namespace with only lo
    None,
    /// the host's network (no network namespace)
    Host,
}

/// Puts the network namespace and hull's own network hooks into the template.
pub(super) fn add_network(
    value: &mut serde_json::Value,
    net: NetworkArg,
    rootless: bool,
) -> Result<(), CliError> {
    use crate::spec::defaults::{with_network, Network};
    let net = match net {
        NetworkArg::Bridge => Network::Bridge,
        NetworkArg::None => Network::None,
        NetworkArg::Host => Network::Host,
    };
    if rootless && net != Network::Host {
        return Err(CliError::BadArg {
            arg: "--network",
            reason: "a rootless container can only use the host's network".into(),
        });
    }
    // The hooks run this very binary, wherever it is installed.
    let hull = std::env::current_exe().map_err(|source| CliError::Io {
        op: "resolve",
        path: "/proc/self/exe".into(),
        source,
    })?;
    with_network(value, net, &hull);
    Ok(())
}

/// Runs `spec`.
pub fn run(args: Args, _g: &Globals) -> Result<i32, CliError> {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let mut value = crate::spec::defaults::template(args.rootless, uid, gid);
    if let Some(net) = args.network {
        add_network(&mut value, net, args.rootless)?;
    }
    let mut text = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut text, fmt);
    value.serialize(&mut ser).map_err(|e| CliError::Io {
        op: "encode",
        path: "config.json".into(),
        source: std::io::Error::other(e),
    })?;
    let path = args.bundle.join(crate::spec::CONFIG_FILE);
    let io = |op, source| CliError::Io {
        op,
        path: path.clone(),
        source,
    };
    let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(CliError::BadArg {
                arg: "--bundle",
                reason: format!("File {} exists. Remove it first", path.display()),
            })
        }
        Err(e) => return Err(io("create", e)),
    };
    file.write_all(&text).map_err(|e| io("write", e))?;
    Ok(0)
}
