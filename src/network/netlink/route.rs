//! rtnetlink requests hull's network hook sends: look up a link, create a bridge, a veth
//! pair whose peer is born in another namespace, a macvlan, set a link up, add an address
//! and a default route, delete a link. Builders are pure; the callers own the socket.

use super::msg::{self, find, MsgBuilder, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST};
use super::Socket;
use nix::errno::Errno;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFLA_MACVLAN_MODE: u16 = 1;
const MACVLAN_MODE_BRIDGE: u32 = 4;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;

const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const IFF_UP: u32 = 1;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNICAST: u8 = 1;

const CREATE: u16 = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

/// What `get_link` learns about an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// ifindex.
    pub index: u32,
    /// IFLA_INFO_KIND (`bridge`, `veth`, ...); None for a device without one (lo, a NIC).
    pub kind: Option<String>,
    /// Whether IFF_UP is set.
    pub up: bool,
}

/// `struct ifinfomsg` with the index and the IFF_UP flag (and its change mask) when `up`.
fn ifinfomsg(index: u32, up: bool) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0] = AF_UNSPEC;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    if up {
        h[8..12].copy_from_slice(&IFF_UP.to_ne_bytes());
        h[12..16].copy_from_slice(&IFF_UP.to_ne_bytes());
    }
    h
}

/// RTM_GETLINK for one name.
pub fn get_link_msg(name: &str) -> MsgBuilder {
    let mut m = MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST).header(&ifinfomsg(0, false));
    m.attr_str(IFLA_IFNAME, name);
    m
}

/// Parses an RTM_NEWLINK reply payload.
pub fn parse_link(payload: &[u8]) -> Option<Link> {
    let index = u32::from_ne_bytes(payload.get(4..8)?.try_into().ok()?);
    let flags = u32::from_ne_bytes(payload.get(8..12)?.try_into().ok()?);
    let attrs = payload.get(16..)?;
    let kind = find(attrs, IFLA_LINKINFO)
        .and_then(|info| find(info, IFLA_INFO_KIND))
        .and_then(msg::as_str)
        .map(str::to_string);
    Some(Link {
        index,
        kind,
        up: flags & IFF_UP != 0,
    })
}

/// Looks up an interface by name; None when there is none.
pub fn get_link(sock: &mut Socket, name: &str) -> Result<Option<Link>, Errno> {
    match sock.get(&get_link_msg(name)) {
        Ok(payload) => parse_link(&payload).map(Some).ok_or(Errno::EBADMSG),
        Err(Errno::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

/// RTM_NEWLINK creating an up bridge with a fixed MAC (so it never takes a port's).
pub fn bridge_msg(name: &str, mac: [u8; 6]) -> MsgBuilder {
    let mut m = MsgBuilder::new(RTM_NEWLINK, CREATE).header(&ifinfomsg(0, true));
    m.attr_str(IFLA_IFNAME, name).attr(IFLA_ADDRESS, &mac);
    m.begin(IFLA_LINKINFO)
        .attr_str(IFLA_INFO_KIND, "bridge")
        .end();
    m
}

/// The veth pair to create: the host end on a bridge, the peer born in another namespace.
#[derive(Debug)]
pub struct VethSpec<'a> {
    /// Host end's name.
    pub host: &'a str,
    /// Bridge ifindex for the host end.
    pub master: u32,
    /// Peer's name inside the namespace (`eth0`).
    pub peer: &'a str,
    /// Peer's MAC.
    pub peer_mac: [u8; 6],
    /// The namespace the peer is created in.
    pub netns: BorrowedFd<'a>,
    /// MTU of both ends, None for the kernel's default.
    pub mtu: Option<u32>,
}

/// RTM_NEWLINK creating the pair with the host end up. The peer cannot be created up: the
/// kernel configures it before the two ends are linked, and opening a veth without its peer
/// fails with ENOTCONN, so it is set up from inside.
pub fn veth_msg(v: &VethSpec<'_>) -> MsgBuilder {
    let mut m = MsgBuilder::new(RTM_NEWLINK, CREATE).header(&ifinfomsg(0, true));
    m.attr_str(IFLA_IFNAME, v.host)
        .attr_u32(IFLA_MASTER, v.master);
    if let Some(mtu) = v.mtu {
        m.attr_u32(IFLA_MTU, mtu);
    }
    m.begin(IFLA_LINKINFO).attr_str(IFLA_INFO_KIND, "veth");
    m.begin(IFLA_INFO_DATA);
    // VETH_INFO_PEER carries a whole ifinfomsg followed by the peer's attributes.
    m.begin(VETH_INFO_PEER);
    m.attr_raw(&ifinfomsg(0, false));
    m.attr_str(IFLA_IFNAME, v.peer)
        .attr(IFLA_ADDRESS, &v.peer_mac)
        .attr_u32(IFLA_NET_NS_FD, v.netns.as_raw_fd() as u32);
    if let Some(mtu) = v.mtu {
        m.attr_u32(IFLA_MTU, mtu);
    }
    m.end().end().end();
    m
}

/// A macvlan to create straight inside a namespace.
#[derive(Debug)]
pub struct MacvlanSpec<'a> {
    /// Name inside the namespace.
    pub name: &'a str,
    /// The parent's ifindex (in the caller's namespace).
    pub parent: u32,
    /// MAC of the new interface.
    pub mac: [u8; 6],
    /// Its namespace.
    pub netns: BorrowedFd<'a>,
    /// MTU, None for the parent's.
    pub mtu: Option<u32>,
}

/// RTM_NEWLINK creating a bridge-mode macvlan, up, in its namespace.
pub fn macvlan_msg(v: &MacvlanSpec<'_>) -> MsgBuilder {
    let mut m = MsgBuilder::new(RTM_NEWLINK, CREATE).header(&ifinfomsg(0, true));
    m.attr_str(IFLA_IFNAME, v.name)
        .attr_u32(IFLA_LINK, v.parent)
        .attr(IFLA_ADDRESS, &v.mac)
        .attr_u32(IFLA_NET_NS_FD, v.netns.as_raw_fd() as u32);
    if let Some(mtu) = v.mtu {
        m.attr_u32(IFLA_MTU, mtu);
    }
    m.begin(IFLA_LINKINFO).attr_str(IFLA_INFO_KIND, "macvlan");
    m.begin(IFLA_INFO_DATA)
        .attr_u32(IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE)
        .end()
        .end();
    m
}

/// RTM_NEWLINK on an existing link setting IFF_UP.
pub fn set_up_msg(index: u32) -> MsgBuilder {
    MsgBuilder::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK).header(&ifinfomsg(index, true))
}

/// RTM_NEWADDR: `addr/prefix` on `index`, with the subnet's broadcast address.
pub fn addr_msg(index: u32, addr: Ipv4Addr, prefix: u8, broadcast: Ipv4Addr) -> MsgBuilder {
    let mut h = [0u8; 8];
    h[0] = AF_INET;
    h[1] = prefix;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    let mut m = MsgBuilder::new(RTM_NEWADDR, CREATE).header(&h);
    m.attr(IFA_LOCAL, &addr.octets())
        .attr(IFA_ADDRESS, &addr.octets())
        .attr(IFA_BROADCAST, &broadcast.octets());
    m
}

/// RTM_NEWROUTE: the default route via `gateway` out of `oif`.
pub fn default_route_msg(gateway: Ipv4Addr, oif: u32) -> MsgBuilder {
    let h = [
        AF_INET,
        0, // dst_len: 0.0.0.0/0
        0,
        0,
        RT_TABLE_MAIN,
        RTPROT_BOOT,
        RT_SCOPE_UNIVERSE,
        RTN_UNICAST,
        0,
        0,
        0,
        0,
    ];
    let mut m = MsgBuilder::new(RTM_NEWROUTE, CREATE).header(&h);
    m.attr(RTA_GATEWAY, &gateway.octets())
        .attr_u32(RTA_OIF, oif);
    m
}

/// RTM_DELLINK by name.
pub fn del_link_msg(name: &str) -> MsgBuilder {
    let mut m =
        MsgBuilder::new(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK).header(&ifinfomsg(0, false));
    m.attr_str(IFLA_IFNAME, name);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::netlink::msg::{attrs, messages};
    use std::os::fd::AsFd;

    fn body(m: &MsgBuilder) -> Vec<u8> {
        let bytes = m.finish(1);
        let payload = messages(&bytes).next().unwrap().payload.to_vec();
        payload
    }

    #[test]
    fn veth_peer_is_created_up_in_the_namespace_with_its_name_and_mac() {
        let ns = std::fs::File::open("/dev/null").unwrap();
        let spec = VethSpec {
            host: "hull0123456789a",
            master: 7,
            peer: "eth0",
            peer_mac: [0x0a, 0x58, 10, 88, 0, 2],
            netns: ns.as_fd(),
            mtu: Some(1400),
        };
        let p = body(&veth_msg(&spec));
        assert_eq!(&p[8..12], &IFF_UP.to_ne_bytes(), "host end up");
        let a = &p[16..];
        assert_eq!(find(a, IFLA_IFNAME), Some(&b"hull0123456789a\0"[..]));
        assert_eq!(find(a, IFLA_MASTER), Some(&7u32.to_ne_bytes()[..]));
        let data = find(find(a, IFLA_LINKINFO).unwrap(), IFLA_INFO_DATA).unwrap();
        let peer = find(data, VETH_INFO_PEER).unwrap();
        assert_eq!(&peer[8..12], &[0; 4], "peer created down");
        let pa: Vec<_> = attrs(&peer[16..]).map(|(t, _)| t).collect();
        assert_eq!(
            pa,
            vec![IFLA_IFNAME, IFLA_ADDRESS, IFLA_NET_NS_FD, IFLA_MTU]
        );
        assert_eq!(find(&peer[16..], IFLA_ADDRESS), Some(&spec.peer_mac[..]));
    }

    #[test]
    fn link_reply_yields_index_kind_and_state() {
        let mut m = MsgBuilder::new(RTM_NEWLINK, 0).header(&ifinfomsg(9, true));
        m.attr_str(IFLA_IFNAME, "hull0");
        m.begin(IFLA_LINKINFO)
            .attr_str(IFLA_INFO_KIND, "bridge")
            .end();
        let link = parse_link(&body(&m)).unwrap();
        assert_eq!(
            link,
            Link {
                index: 9,
                kind: Some("bridge".into()),
                up: true
            }
        );
        assert_eq!(parse_link(&[0; 8]), None);
    }

    #[test]
    fn route_and_address_carry_the_gateway_and_prefix() {
        let gw = Ipv4Addr::new(10, 88, 0, 1);
        let p = body(&default_route_msg(gw, 3));
        assert_eq!((p[0], p[1], p[4]), (AF_INET, 0, RT_TABLE_MAIN));
        assert_eq!(find(&p[12..], RTA_GATEWAY), Some(&gw.octets()[..]));
        let p = body(&addr_msg(
            3,
            Ipv4Addr::new(10, 88, 0, 2),
            16,
            Ipv4Addr::new(10, 88, 255, 255),
        ));
        assert_eq!((p[0], p[1]), (AF_INET, 16));
        assert_eq!(find(&p[8..], IFA_LOCAL), Some(&[10, 88, 0, 2][..]));
    }
}
