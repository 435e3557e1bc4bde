//! `hull network detach`, the poststop hook, and the teardown attach uses to undo itself:
//! everything is found from the container id alone (the host veth name is derived from it,
//! the rules carry it, the lease and record files name it), so no pid and no namespace are
//! needed, and anything already gone is fine.

use super::addr::host_veth_name;
use super::bridge;
use super::lease::{Leases, Owner};
use super::netlink::{Family, Socket};
use super::options::Mode;
use super::record::{Attachment, Records};
use super::{check_id, firewall, NetError};
use std::path::Path;

/// Removes container `id`'s veth, rules, lease and record; a second detach finds nothing and
/// succeeds.
pub fn detach(state_dir: &Path, id: &str) -> Result<(), NetError> {
    check_id(id)?;
    teardown(state_dir, id)
}

/// The record of `id`, for `hull network show`.
pub fn show(state_dir: &Path, id: &str) -> Result<Attachment, NetError> {
    check_id(id)?;
    Records::new(state_dir)
        .read(id)?
        .ok_or_else(|| NetError::NotAttached { id: id.to_string() })
}

/// Undoes everything of `id`, each step tried even when one before failed; the first error
/// is returned.
pub(crate) fn teardown(state_dir: &Path, id: &str) -> Result<(), NetError> {
    let records = Records::new(state_dir);
    // An unreadable record must not keep the rest from going.
    let record = records.read(id).ok().flatten();
    let mut first = forget(record.as_ref(), id).err();
    let networks = match record.as_ref().and_then(|r| r.network.clone()) {
        Some(n) => vec![n],
        None => Leases::all(state_dir),
    };
    for name in networks {
        let released = Leases::open(state_dir, &name)
            .and_then(|l| l.lock().and_then(|locked| locked.release(id)));
        if let Err(e) = released {
            first.get_or_insert(e);
        }
    }
    if let Err(e) = records.remove(id) {
        first.get_or_insert(e);
    }
    first.map_or(Ok(()), Err)
}

/// Removes what a dead owner's attachment left besides its lease (taken over by the new
/// owner): veth, rules, record. A newer attachment of the same id is left alone.
pub(crate) fn forget_owner(state_dir: &Path, owner: &Owner) -> Result<(), NetError> {
    let records = Records::new(state_dir);
    let record = records.read(&owner.id).ok().flatten();
    if record.as_ref().is_some_and(|r| r.owner() != *owner) {
        return Ok(());
    }
    forget(record.as_ref(), &owner.id)?;
    records.remove(&owner.id)
}

/// The host veth and the rules of `id`; without a record both are looked for.
fn forget(record: Option<&Attachment>, id: &str) -> Result<(), NetError> {
    if record.is_some_and(|r| r.mode != Mode::Bridge) {
        return Ok(());
    }
    let veth = record
        .and_then(|r| r.host_veth.clone())
        .unwrap_or_else(|| host_veth_name(id));
    let mut sock = Socket::open(Family::Route).map_err(super::error::netlink(
        "open netlink socket in",
        "the hook's namespace",
    ))?;
    let veth_gone = bridge::delete_host_veth(&mut sock, &veth);
    let rules_gone = firewall::remove(id);
    veth_gone.and(rules_gone)
}
