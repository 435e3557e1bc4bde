//! Addresses and names a network attachment is made of, all derived by pure functions: the
//! subnet and its gateway (the first address), MACs from addresses, and the host veth name
//! from the container id, so teardown finds it again with nothing but the id.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The longest interface name the kernel accepts (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// An IPv4 subnet, `10.88.0.0/16`; host bits are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    net: u32,
    prefix: u8,
}

/// Why a subnet string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    /// Not `ADDRESS/PREFIX`.
    #[error("not an IPv4 CIDR like 10.88.0.0/16")]
    Syntax,
    /// The prefix leaves no room for a gateway and one container.
    #[error("prefix /{0} is out of range (8 to 30)")]
    Prefix(u8),
    /// Host bits are set.
    #[error("host bits are set (the subnet is {0})")]
    HostBits(Subnet),
}

impl FromStr for Subnet {
    type Err = SubnetError;

    fn from_str(s: &str) -> Result<Subnet, SubnetError> {
        let (addr, prefix) = s.split_once('/').ok_or(SubnetError::Syntax)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| SubnetError::Syntax)?;
        let prefix: u8 = prefix.parse().map_err(|_| SubnetError::Syntax)?;
        if !(8..=30).contains(&prefix) {
            return Err(SubnetError::Prefix(prefix));
        }
        let subnet = Subnet {
            net: u32::from(addr) & mask(prefix),
            prefix,
        };
        if subnet.net != u32::from(addr) {
            return Err(SubnetError::HostBits(subnet));
        }
        Ok(subnet)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.net), self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

impl Subnet {
    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.net)
    }

    /// The netmask as bytes, for an nftables bitwise mask.
    pub fn mask_octets(&self) -> [u8; 4] {
        mask(self.prefix).to_be_bytes()
    }

    /// The first address, which the bridge (or the macvlan's router) holds.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.net + 1)
    }

    /// The broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.net | !mask(self.prefix))
    }

    /// Whether `ip` lies in the subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == self.net
    }

    /// Whether `ip` can be given to a container: inside, and not the network, gateway or
    /// broadcast address.
    pub fn assignable(&self, ip: Ipv4Addr) -> bool {
        self.contains(ip) && ip != self.network() && ip != self.gateway() && ip != self.broadcast()
    }

    /// Container addresses in allocation order, starting after `last` (wrapping around), so
    /// a released address is not handed out again at once, as CNI's host-local does.
    pub fn candidates(&self, last: Option<Ipv4Addr>) -> impl Iterator<Item = Ipv4Addr> {
        let first = self.net + 2;
        let end = u32::from(self.broadcast()); // exclusive
        let count = end - first;
        let start = match last {
            Some(ip) if self.assignable(ip) => u32::from(ip) + 1 - first,
            _ => 0,
        };
        (0..count).map(move |i| Ipv4Addr::from(first + (start + i) % count))
    }
}

/// A locally administered unicast MAC derived from an address (`0a:58:` + the address, as
/// Kubernetes' bridges do): stable for the address, so peers' ARP caches stay right.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x0a, 0x58, o[0], o[1], o[2], o[3]]
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// FNV-1a, 64 bit: tiny, stable across hull versions (teardown depends on that), and no
/// dependency.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The host end of a container's veth: `hull` + 11 hex digits of a hash of the id, 15
/// bytes, the same on attach and on detach.
pub fn host_veth_name(id: &str) -> String {
    format!("hull{:011x}", fnv1a(id.as_bytes()) >> 20)
}

/// Why an interface name was refused; the rules are the kernel's `dev_valid_name`.
pub fn check_ifname(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.len() > IFNAME_MAX {
        return Err("is longer than 15 bytes");
    }
    if name == "." || name == ".." {
        return Err("is . or ..");
    }
    if name
        .bytes()
        .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
    {
        return Err("contains '/', ':', a space or NUL");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn subnet_parses_and_knows_its_gateway_and_broadcast() {
        let s: Subnet = "10.88.0.0/16".parse().unwrap();
        assert_eq!(s.to_string(), "10.88.0.0/16");
        assert_eq!(s.gateway(), ip("10.88.0.1"));
        assert_eq!(s.broadcast(), ip("10.88.255.255"));
        assert_eq!(s.mask_octets(), [255, 255, 0, 0]);
        assert!(s.assignable(ip("10.88.0.2")));
        assert!(!s.assignable(ip("10.88.0.1")));
        assert!(!s.assignable(ip("10.89.0.2")));
    }

    #[test]
    fn bad_subnets_say_why() {
        assert_eq!("10.88.0.0".parse::<Subnet>(), Err(SubnetError::Syntax));
        assert_eq!("10.88.0/16".parse::<Subnet>(), Err(SubnetError::Syntax));
        assert_eq!(
            "10.0.0.0/31".parse::<Subnet>(),
            Err(SubnetError::Prefix(31))
        );
        let e = "10.88.0.5/16".parse::<Subnet>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "host bits are set (the subnet is 10.88.0.0/16)"
        );
    }

    #[test]
    fn candidates_skip_reserved_addresses_and_wrap_after_the_last() {
        let s: Subnet = "10.1.0.0/29".parse().unwrap();
        let all: Vec<_> = s.candidates(None).map(|a| a.to_string()).collect();
        assert_eq!(
            all,
            ["10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5", "10.1.0.6"]
        );
        let next: Vec<_> = s.candidates(Some(ip("10.1.0.5"))).collect();
        assert_eq!(next[0], ip("10.1.0.6"));
        assert_eq!(next[1], ip("10.1.0.2"));
        assert_eq!(next.len(), 5);
        let tiny: Subnet = "10.1.0.0/30".parse().unwrap();
        assert_eq!(
            tiny.candidates(Some(ip("10.1.0.2"))).collect::<Vec<_>>(),
            [ip("10.1.0.2")]
        );
    }

    #[test]
    fn host_veth_names_are_stable_short_and_distinct() {
        let a = host_veth_name("ctr-a");
        assert_eq!(a, host_veth_name("ctr-a"));
        assert_eq!(a.len(), IFNAME_MAX);
        assert!(check_ifname(&a).is_ok());
        let names: std::collections::HashSet<_> = (0..1000)
            .map(|i| host_veth_name(&format!("c{i}")))
            .collect();
        assert_eq!(names.len(), 1000);
    }

    #[test]
    fn interface_names_follow_the_kernel_rules() {
        assert!(check_ifname("hull0").is_ok());
        assert!(check_ifname("a-bridge-name-16").is_err());
        assert!(check_ifname("a/b").is_err());
        assert!(check_ifname("").is_err());
        assert_eq!(format_mac(&mac_for(ip("10.88.0.2"))), "0a:58:0a:58:00:02");
    }
}
