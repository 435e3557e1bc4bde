//! Bridge mode, the host side and the container side: the bridge (created when missing,
//! given the gateway address and a fixed MAC, up), the veth pair created from the host with
//! its peer born inside the container's namespace as `eth0`, and inside: lo up, the
//! address, the default route via the gateway.

use super::addr::{self, Subnet};
use super::error::netlink;
use super::netlink::route::{self, Link, VethSpec};
use super::netlink::Socket;
use super::NetError;
use nix::errno::Errno;
use std::net::Ipv4Addr;
use std::os::fd::BorrowedFd;

/// The container's interface name.
pub const IFNAME: &str = "eth0";

/// Makes sure bridge `name` exists, holds the gateway address and is up; returns its index.
/// A bridge made by someone else is used as it is, plus the address.
pub fn ensure_bridge(sock: &mut Socket, name: &str, subnet: &Subnet) -> Result<u32, NetError> {
    let gateway = subnet.gateway();
    let link = match route::get_link(sock, name).map_err(netlink("look up", name))? {
        Some(link) => link,
        None => create_bridge(sock, name, addr::mac_for(gateway))?,
    };
    match link.kind.as_deref() {
        Some("bridge") => {}
        kind => {
            return Err(NetError::NotABridge {
                name: name.to_string(),
                kind: kind.unwrap_or("device without a kind").to_string(),
            })
        }
    }
    add_address(sock, link.index, gateway, subnet, name)?;
    if !link.up {
        sock.request(&route::set_up_msg(link.index))
            .map_err(netlink("set up", name))?;
    }
    Ok(link.index)
}

/// Creates the bridge; another attach creating it at the same moment is fine.
fn create_bridge(sock: &mut Socket, name: &str, mac: [u8; 6]) -> Result<Link, NetError> {
    match sock.request(&route::bridge_msg(name, mac)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(netlink("create bridge", name)(e)),
    }
    route::get_link(sock, name)
        .map_err(netlink("look up", name))?
        .ok_or_else(|| netlink("look up", name)(Errno::ENODEV))
}

/// Adds `ip/prefix` to link `index`; an address already there is fine.
fn add_address(
    sock: &mut Socket,
    index: u32,
    ip: Ipv4Addr,
    subnet: &Subnet,
    name: &str,
) -> Result<(), NetError> {
    let msg = route::addr_msg(index, ip, subnet.prefix(), subnet.broadcast());
    match sock.request(&msg) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(netlink(
            "add address",
            format!("{ip}/{} to {name}", subnet.prefix()),
        )(e)),
    }
}

/// Creates the veth pair: `host` on the bridge, `eth0` inside `netns`, both up.
pub fn create_veth(
    sock: &mut Socket,
    host: &str,
    bridge: u32,
    mac: [u8; 6],
    netns: BorrowedFd<'_>,
    mtu: Option<u32>,
) -> Result<(), NetError> {
    let spec = VethSpec {
        host,
        master: bridge,
        peer: IFNAME,
        peer_mac: mac,
        netns,
        mtu,
    };
    sock.request(&route::veth_msg(&spec))
        .map_err(netlink("create veth", host))
}

/// Inside the container: lo up, `ip/prefix` on `ifname`, default route via `gateway`.
pub fn configure_inside(
    sock: &mut Socket,
    ifname: &str,
    ip: Ipv4Addr,
    subnet: &Subnet,
    gateway: Ipv4Addr,
) -> Result<(), NetError> {
    loopback_up(sock)?;
    let link = route::get_link(sock, ifname)
        .map_err(netlink("look up", ifname))?
        .ok_or_else(|| netlink("look up", ifname)(Errno::ENODEV))?;
    let msg = route::addr_msg(link.index, ip, subnet.prefix(), subnet.broadcast());
    sock.request(&msg).map_err(netlink(
        "add address",
        format!("{ip}/{} to {ifname}", subnet.prefix()),
    ))?;
    if !link.up {
        sock.request(&route::set_up_msg(link.index))
            .map_err(netlink("set up", ifname))?;
    }
    sock.request(&route::default_route_msg(gateway, link.index))
        .map_err(netlink("add default route via", gateway.to_string()))
}

/// Sets `lo` up in the namespace of `sock` (hull's init already does; other runtimes may
/// not).
pub fn loopback_up(sock: &mut Socket) -> Result<(), NetError> {
    let lo = route::get_link(sock, "lo")
        .map_err(netlink("look up", "lo"))?
        .ok_or_else(|| netlink("look up", "lo")(Errno::ENODEV))?;
    if lo.up {
        return Ok(());
    }
    sock.request(&route::set_up_msg(lo.index))
        .map_err(netlink("set up", "lo"))
}

/// Deletes the host end of a container's veth (the kernel removes the peer with it); an
/// interface that is gone already, or is not a veth, is left alone.
pub fn delete_host_veth(sock: &mut Socket, name: &str) -> Result<(), NetError> {
    match route::get_link(sock, name).map_err(netlink("look up", name))? {
        Some(link) if link.kind.as_deref() == Some("veth") => {}
        _ => return Ok(()),
    }
    match sock.request(&route::del_link_msg(name)) {
        Ok(()) | Err(Errno::ENODEV) => Ok(()),
        Err(e) => Err(netlink("delete veth", name)(e)),
    }
}
