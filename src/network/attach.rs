//! `hull network attach`, the createRuntime hook: claim the container's record, lease an
//! address, wire the interface into the container's namespace, add the NAT rules, record
//! the result. Any failure after the claim undoes everything with the detach code, so a
//! failed attach leaves nothing behind.

use super::addr::{format_mac, host_veth_name, mac_for};
use super::bridge::{self, IFNAME};
use super::error::netlink;
use super::lease::{Grant, Leases, Owner};
use super::netlink::route::{self, MacvlanSpec};
use super::netlink::{Family, Socket};
use super::options::{Mode, Options};
use super::record::{Attachment, Records};
use super::{detach, firewall, netns, HookState, NetError};
use std::os::fd::{AsFd, BorrowedFd};

/// Connects the container of `state` as `opts` says and returns its record.
pub fn attach(opts: &Options, state: &HookState) -> Result<Attachment, NetError> {
    let owner = state.owner()?;
    let ns = netns::open_container(&owner.id, owner.pid)?;
    let records = Records::new(&opts.state_dir);
    claim(opts, &records, &owner)?;
    let done = connect(opts, &owner, ns.as_fd()).and_then(|a| records.commit(&a).map(|_| a));
    if done.is_err() {
        // Best effort: the attach error is the one to report.
        let _ = detach::teardown(&opts.state_dir, &owner.id);
    }
    done
}

/// Creates the container's record, or fails naming the container when it has one. A record
/// whose container process is gone (a crash with no poststop) is torn down and replaced.
fn claim(opts: &Options, records: &Records, owner: &Owner) -> Result<(), NetError> {
    let claim = Attachment::claim(owner, opts.mode);
    if records.claim(&claim)? {
        return Ok(());
    }
    let what = match records.read(&owner.id) {
        Ok(Some(old)) if !old.owner().alive() => {
            detach::teardown(&opts.state_dir, &owner.id)?;
            if records.claim(&claim)? {
                return Ok(());
            }
            "another attach is in progress".to_string()
        }
        Ok(Some(old)) if old.address.is_none() && old.mode != Mode::None => {
            "another attach is in progress".to_string()
        }
        Ok(Some(old)) => old.summary(),
        _ => "another attach is in progress".to_string(),
    };
    Err(NetError::AlreadyAttached {
        id: owner.id.clone(),
        what,
    })
}

fn connect(opts: &Options, owner: &Owner, ns: BorrowedFd<'_>) -> Result<Attachment, NetError> {
    let mut a = Attachment::claim(owner, opts.mode);
    a.mtu = opts.mtu;
    match opts.mode {
        Mode::None => bridge::loopback_up(&mut netns::socket_in(ns, Family::Route)?)?,
        Mode::Bridge => connect_bridge(opts, owner, ns, &mut a)?,
        Mode::Macvlan => connect_macvlan(opts, owner, ns, &mut a)?,
    }
    Ok(a)
}

/// Leases an address on the network of `opts`; the leases of dead owners it took over are
/// torn down (rules, veth, record) so nothing of theirs points at the address.
fn lease(opts: &Options, owner: &Owner) -> Result<Grant, NetError> {
    let leases = Leases::open(&opts.state_dir, &opts.network_name())?;
    let locked = leases.lock()?;
    locked.check_subnet(&opts.subnet)?;
    let grant = locked.allocate(owner, opts.ip, &opts.subnet)?;
    for stale in &grant.reclaimed {
        detach::forget_owner(&opts.state_dir, stale)?;
    }
    Ok(grant)
}

fn fill(a: &mut Attachment, opts: &Options, grant: &Grant) {
    a.interface = IFNAME.to_string();
    a.mac = Some(format_mac(&mac_for(grant.ip)));
    a.address = Some(format!("{}/{}", grant.ip, opts.subnet.prefix()));
    a.gateway = Some(opts.subnet.gateway());
    a.network = Some(opts.network_name());
}

fn connect_bridge(
    opts: &Options,
    owner: &Owner,
    ns: BorrowedFd<'_>,
    a: &mut Attachment,
) -> Result<(), NetError> {
    let grant = lease(opts, owner)?;
    fill(a, opts, &grant);
    let veth = host_veth_name(&owner.id);
    a.bridge = Some(opts.bridge.clone());
    a.host_veth = Some(veth.clone());
    a.publish = opts.publish.iter().map(ToString::to_string).collect();
    let mut host = host_socket()?;
    let bridge = bridge::ensure_bridge(&mut host, &opts.bridge, &opts.subnet)?;
    bridge::create_veth(&mut host, &veth, bridge, mac_for(grant.ip), ns, opts.mtu)?;
    let mut inside = netns::socket_in(ns, Family::Route)?;
    let gateway = opts.subnet.gateway();
    bridge::configure_inside(&mut inside, IFNAME, grant.ip, &opts.subnet, gateway)?;
    netns::enable_ip_forward()?;
    if !opts.publish.is_empty() {
        netns::enable_route_localnet(&opts.bridge)?;
    }
    firewall::add(&firewall::plan(
        &owner.id,
        grant.ip,
        &opts.subnet,
        &opts.publish,
    ))
}

fn connect_macvlan(
    opts: &Options,
    owner: &Owner,
    ns: BorrowedFd<'_>,
    a: &mut Attachment,
) -> Result<(), NetError> {
    let parent = opts.parent.clone().unwrap_or_default();
    let mut host = host_socket()?;
    let link = route::get_link(&mut host, &parent)
        .map_err(netlink("look up", parent.as_str()))?
        .ok_or_else(|| NetError::NoParent {
            name: parent.clone(),
        })?;
    let grant = lease(opts, owner)?;
    fill(a, opts, &grant);
    a.parent = Some(parent);
    let spec = MacvlanSpec {
        name: IFNAME,
        parent: link.index,
        mac: mac_for(grant.ip),
        netns: ns,
        mtu: opts.mtu,
    };
    host.request(&route::macvlan_msg(&spec))
        .map_err(netlink("create macvlan", IFNAME))?;
    let mut inside = netns::socket_in(ns, Family::Route)?;
    let gateway = opts.subnet.gateway();
    bridge::configure_inside(&mut inside, IFNAME, grant.ip, &opts.subnet, gateway)
}

fn host_socket() -> Result<Socket, NetError> {
    Socket::open(Family::Route).map_err(netlink("open netlink socket in", "the hook's namespace"))
}
