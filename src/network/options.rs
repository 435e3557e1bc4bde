//! The flags of `hull network attach`, parsed and checked before anything is touched, so a
//! bad flag fails with one line and leaves nothing behind.

use super::addr::{check_ifname, Subnet};
use super::NetError;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::str::FromStr;

/// Default `--bridge`.
pub const DEFAULT_BRIDGE: &str = "hull0";
/// Default `--subnet`.
pub const DEFAULT_SUBNET: &str = "10.88.0.0/16";
/// Default `--state-dir`: leases and attachment records.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/hull/net";

/// How the container is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A veth pair to a bridge on the host, NAT outbound, published ports.
    Bridge,
    /// A macvlan child of a host interface.
    Macvlan,
    /// Only `lo`.
    None,
}

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
        }
    }
}

/// `--publish HOST_PORT:CONTAINER_PORT[/tcp|udp]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish {
    /// Port on the host's addresses.
    pub host: u16,
    /// Port in the container.
    pub container: u16,
    /// Protocol (tcp unless given).
    pub proto: Proto,
}

impl FromStr for Publish {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Publish, &'static str> {
        let (ports, proto) = match s.split_once('/') {
            None => (s, Proto::Tcp),
            Some((p, "tcp")) => (p, Proto::Tcp),
            Some((p, "udp")) => (p, Proto::Udp),
            Some(_) => return Err("the protocol must be tcp or udp"),
        };
        let (host, container) = ports
            .split_once(':')
            .ok_or("not HOST_PORT:CONTAINER_PORT[/tcp|udp]")?;
        let port = |p: &str| match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err("ports are numbers from 1 to 65535"),
        };
        Ok(Publish {
            host: port(host)?,
            container: port(container)?,
            proto,
        })
    }
}

impl fmt::Display for Publish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = match self.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        write!(f, "{}:{}/{proto}", self.host, self.container)
    }
}

/// The flags as given on the command line.
#[derive(Debug, Clone)]
pub struct RawOptions {
    /// `--mode`.
    pub mode: String,
    /// `--bridge`.
    pub bridge: String,
    /// `--subnet`.
    pub subnet: String,
    /// `--ip`.
    pub ip: Option<String>,
    /// `--parent`.
    pub parent: Option<String>,
    /// `--mtu`.
    pub mtu: Option<String>,
    /// `--publish`, repeatable.
    pub publish: Vec<String>,
    /// `--state-dir`.
    pub state_dir: PathBuf,
}

/// The checked flags of an attach.
#[derive(Debug, Clone)]
pub struct Options {
    /// The mode.
    pub mode: Mode,
    /// The bridge (bridge mode).
    pub bridge: String,
    /// The subnet addresses come from.
    pub subnet: Subnet,
    /// A pinned address.
    pub ip: Option<Ipv4Addr>,
    /// The macvlan parent.
    pub parent: Option<String>,
    /// MTU of the container's interface.
    pub mtu: Option<u32>,
    /// Published ports.
    pub publish: Vec<Publish>,
    /// Leases and records.
    pub state_dir: PathBuf,
}

fn bad(flag: &'static str, value: &str, reason: impl Into<String>) -> NetError {
    NetError::BadFlag {
        flag,
        value: value.to_string(),
        reason: reason.into(),
    }
}

impl Options {
    /// Parses and cross-checks the flags.
    pub fn parse(raw: &RawOptions) -> Result<Options, NetError> {
        let mode = match raw.mode.as_str() {
            "bridge" => Mode::Bridge,
            "macvlan" => Mode::Macvlan,
            "none" => Mode::None,
            m => return Err(bad("--mode", m, "must be bridge, macvlan or none")),
        };
        check_ifname(&raw.bridge).map_err(|r| bad("--bridge", &raw.bridge, r))?;
        let subnet: Subnet = raw
            .subnet
            .parse()
            .map_err(|e: super::addr::SubnetError| bad("--subnet", &raw.subnet, e.to_string()))?;
        let ip = raw
            .ip
            .as_deref()
            .map(|s| parse_ip(s, &subnet))
            .transpose()?;
        let parent = raw.parent.clone();
        if let Some(p) = &parent {
            check_ifname(p).map_err(|r| bad("--parent", p, r))?;
        }
        let mtu = raw.mtu.as_deref().map(parse_mtu).transpose()?;
        let publish = parse_publish(&raw.publish)?;
        let opts = Options {
            mode,
            bridge: raw.bridge.clone(),
            subnet,
            ip,
            parent,
            mtu,
            publish,
            state_dir: raw.state_dir.clone(),
        };
        opts.check_mode()?;
        Ok(opts)
    }

    fn check_mode(&self) -> Result<(), NetError> {
        let mode = match self.mode {
            Mode::Bridge => "bridge",
            Mode::Macvlan => "macvlan",
            Mode::None => "none",
        };
        let only = |flag: &'static str, value: String, modes: &str| {
            bad(
                flag,
                &value,
                format!("not used with --mode {mode} (only {modes})"),
            )
        };
        if self.mode == Mode::Macvlan && self.parent.is_none() {
            return Err(bad("--mode", mode, "needs --parent IF"));
        }
        if let (Some(p), false) = (&self.parent, self.mode == Mode::Macvlan) {
            return Err(only("--parent", p.clone(), "macvlan"));
        }
        if let (Some(p), false) = (self.publish.first(), self.mode == Mode::Bridge) {
            return Err(only("--publish", p.to_string(), "bridge"));
        }
        if self.mode == Mode::None {
            if let Some(ip) = self.ip {
                return Err(only("--ip", ip.to_string(), "bridge and macvlan"));
            }
        }
        Ok(())
    }

    /// The name of the lease directory: the bridge, or `macvlan-<parent>`.
    pub fn network_name(&self) -> String {
        match (&self.mode, &self.parent) {
            (Mode::Macvlan, Some(p)) => format!("macvlan-{p}"),
            _ => self.bridge.clone(),
        }
    }
}

fn parse_ip(s: &str, subnet: &Subnet) -> Result<Ipv4Addr, NetError> {
    let ip: Ipv4Addr = s
        .parse()
        .map_err(|_| bad("--ip", s, "not an IPv4 address"))?;
    if !subnet.contains(ip) {
        return Err(bad("--ip", s, format!("not in the subnet {subnet}")));
    }
    if !subnet.assignable(ip) {
        let why = format!("the network, gateway or broadcast address of {subnet}");
        return Err(bad("--ip", s, why));
    }
    Ok(ip)
}

fn parse_mtu(s: &str) -> Result<u32, NetError> {
    match s.parse::<u32>() {
        Ok(n) if (68..=65535).contains(&n) => Ok(n),
        _ => Err(bad("--mtu", s, "must be a number from 68 to 65535")),
    }
}

fn parse_publish(raw: &[String]) -> Result<Vec<Publish>, NetError> {
    let mut seen = HashSet::new();
    raw.iter()
        .map(|s| {
            let p: Publish = s.parse().map_err(|r: &str| bad("--publish", s, r))?;
            if !seen.insert((p.host, p.proto)) {
                return Err(bad("--publish", s, "the host port is published twice"));
            }
            Ok(p)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawOptions {
        RawOptions {
            mode: "bridge".into(),
            bridge: DEFAULT_BRIDGE.into(),
            subnet: DEFAULT_SUBNET.into(),
            ip: None,
            parent: None,
            mtu: None,
            publish: vec![],
            state_dir: DEFAULT_STATE_DIR.into(),
        }
    }

    fn err(f: impl FnOnce(&mut RawOptions)) -> String {
        let mut r = raw();
        f(&mut r);
        Options::parse(&r).unwrap_err().to_string()
    }

    #[test]
    fn defaults_parse() {
        let o = Options::parse(&raw()).unwrap();
        assert_eq!(o.mode, Mode::Bridge);
        assert_eq!(o.subnet.to_string(), "10.88.0.0/16");
        assert_eq!(o.network_name(), "hull0");
    }

    #[test]
    fn each_bad_flag_is_named_with_its_value() {
        assert_eq!(
            err(|r| r.subnet = "10.88.0.0/abc".into()),
            r#"--subnet "10.88.0.0/abc": not an IPv4 CIDR like 10.88.0.0/16"#
        );
        assert_eq!(
            err(|r| r.ip = Some("10.99.0.2".into())),
            r#"--ip "10.99.0.2": not in the subnet 10.88.0.0/16"#
        );
        assert_eq!(
            err(|r| r.bridge = "a-very-long-bridge".into()),
            r#"--bridge "a-very-long-bridge": is longer than 15 bytes"#
        );
        assert!(err(|r| r.ip = Some("10.88.0.1".into())).contains("gateway"));
        assert!(err(|r| r.mtu = Some("20".into())).starts_with("--mtu"));
        assert!(err(|r| r.mode = "host".into()).starts_with("--mode"));
        assert!(err(|r| r.publish = vec!["80".into()]).starts_with("--publish"));
    }

    #[test]
    fn flags_must_fit_the_mode() {
        assert!(err(|r| r.mode = "macvlan".into()).contains("needs --parent"));
        assert!(err(|r| r.parent = Some("eth0".into())).contains("only macvlan"));
        assert!(err(|r| {
            r.mode = "none".into();
            r.publish = vec!["80:80".into()];
        })
        .contains("only bridge"));
        let mut r = raw();
        r.mode = "macvlan".into();
        r.parent = Some("eth1".into());
        assert_eq!(Options::parse(&r).unwrap().network_name(), "macvlan-eth1");
    }

    #[test]
    fn publish_parses_protocols_and_refuses_duplicates() {
        let p: Publish = "8080:80/udp".parse().unwrap();
        assert_eq!((p.host, p.container, p.proto), (8080, 80, Proto::Udp));
        assert_eq!(p.to_string(), "8080:80/udp");
        assert_eq!("1:2".parse::<Publish>().unwrap().proto, Proto::Tcp);
        assert!("0:2".parse::<Publish>().is_err());
        assert!("1:2/sctp".parse::<Publish>().is_err());
        assert!(err(|r| r.publish = vec!["80:80".into(), "80:81/tcp".into()]).contains("twice"));
        let mut r = raw();
        r.publish = vec!["80:80/tcp".into(), "80:80/udp".into()];
        assert_eq!(Options::parse(&r).unwrap().publish.len(), 2);
    }
}
