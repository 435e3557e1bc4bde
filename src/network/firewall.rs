//! NAT for bridge-mode containers in hull's own nftables table (`table ip hull`), as
//! podman's netavark keeps its rules in `table inet netavark`: outbound masquerade and
//! `--publish` DNAT, each rule tagged `hull:<id>` so detach removes exactly the container's
//! rules, with no handle to remember. The table goes when its last rule does. No other
//! table is read or written.

use super::addr::Subnet;
use super::netlink::nft::{self, Base, CmpOp, Expr, Rule, CHAINS, OUTPUT, POSTROUTING, PREROUTING};
use super::netlink::{msg::MsgBuilder, Family, Socket};
use super::options::Publish;
use super::NetError;
use nix::errno::Errno;
use std::net::Ipv4Addr;

/// `RTN_LOCAL`, what `fib daddr type` yields for the host's own addresses.
const RTN_LOCAL: u32 = 2;
/// Attempts at a consistent dump while other containers come and go.
const DUMP_TRIES: usize = 20;
/// Attempts at deleting a container's rules when another process changes the table meanwhile.
const DELETE_TRIES: usize = 3;

/// The comment that marks container `id`'s rules.
pub fn comment(id: &str) -> String {
    format!("hull:{id}")
}

/// The rules of one container: masquerade of its traffic leaving the subnet, and for each
/// published port a DNAT from the host's own addresses, for packets arriving from outside
/// (prerouting) and made on the host itself (output). With published ports, connections
/// from the host's 127.0.0.1 are masqueraded too (behind the gateway), as netavark does, so
/// `localhost:PORT` works once the bridge has `route_localnet`.
pub fn plan(id: &str, ip: Ipv4Addr, subnet: &Subnet, publish: &[Publish]) -> Vec<Rule> {
    let tag = comment(id);
    let mut rules = vec![Rule {
        chain: POSTROUTING.name,
        exprs: vec![
            Expr::Payload {
                base: Base::Network,
                offset: 12, // saddr
                len: 4,
            },
            Expr::Cmp(CmpOp::Eq, ip.octets().to_vec()),
            Expr::Payload {
                base: Base::Network,
                offset: 16, // daddr
                len: 4,
            },
            Expr::Mask(subnet.mask_octets().to_vec()),
            Expr::Cmp(CmpOp::Neq, subnet.network().octets().to_vec()),
            Expr::Masquerade,
        ],
        comment: tag.clone(),
    }];
    if !publish.is_empty() {
        rules.push(Rule {
            chain: POSTROUTING.name,
            exprs: vec![
                Expr::Payload {
                    base: Base::Network,
                    offset: 12, // saddr
                    len: 4,
                },
                Expr::Mask(vec![255, 0, 0, 0]),
                Expr::Cmp(CmpOp::Eq, vec![127, 0, 0, 0]),
                Expr::Payload {
                    base: Base::Network,
                    offset: 16, // daddr
                    len: 4,
                },
                Expr::Cmp(CmpOp::Eq, ip.octets().to_vec()),
                Expr::Masquerade,
            ],
            comment: tag.clone(),
        });
    }
    for p in publish {
        for chain in [PREROUTING.name, OUTPUT.name] {
            rules.push(Rule {
                chain,
                exprs: vec![
                    Expr::FibDaddrType,
                    Expr::Cmp(CmpOp::Eq, RTN_LOCAL.to_ne_bytes().to_vec()),
                    Expr::L4Proto,
                    Expr::Cmp(CmpOp::Eq, vec![p.proto.number()]),
                    Expr::Payload {
                        base: Base::Transport,
                        offset: 2, // dport
                        len: 2,
                    },
                    Expr::Cmp(CmpOp::Eq, p.host.to_be_bytes().to_vec()),
                    Expr::Dnat {
                        addr: ip.octets(),
                        port: p.container,
                    },
                ],
                comment: tag.clone(),
            });
        }
    }
    rules
}

fn open() -> Result<Socket, NetError> {
    Socket::open(Family::Netfilter).map_err(|source| NetError::Nftables {
        op: "open nfnetlink socket",
        source,
    })
}

/// Adds `rules` (and the table and chains, when missing) in one transaction.
pub fn add(rules: &[Rule]) -> Result<(), NetError> {
    let mut msgs = vec![nft::table_msg()];
    msgs.extend(CHAINS.iter().map(nft::chain_msg));
    msgs.extend(rules.iter().map(nft::rule_msg));
    open()?.batch(&msgs).map_err(|e| NetError::Nftables {
        op: "add rules",
        source: e.errno,
    })
}

/// Every rule of hull's table: (chain, handle, comment). A dump that other containers'
/// changes made inconsistent is taken again.
fn dump(sock: &mut Socket) -> Result<Vec<nft::Found>, NetError> {
    let mut tries = 0;
    loop {
        let mut found = Vec::new();
        match sock.dump(&nft::dump_rules_msg(), |p| found.extend(nft::parse_rule(p))) {
            Ok(()) | Err(Errno::ENOENT) => return Ok(found),
            Err(Errno::EINTR) if tries < DUMP_TRIES => tries += 1,
            Err(source) => {
                return Err(NetError::Nftables {
                    op: "list rules",
                    source,
                })
            }
        }
    }
}

/// Removes container `id`'s rules; none is fine. Drops the table once it holds no rule.
pub fn remove(id: &str) -> Result<(), NetError> {
    let tag = comment(id);
    let mut sock = open()?;
    for attempt in 1..=DELETE_TRIES {
        let rules = dump(&mut sock)?;
        let mine: Vec<MsgBuilder> = rules
            .iter()
            .filter(|r| r.comment.as_deref() == Some(tag.as_str()))
            .map(|r| nft::del_rule_msg(&r.chain, r.handle))
            .collect();
        if mine.len() == rules.len() {
            drop_table_if_empty(&mut sock, mine);
            return Ok(());
        }
        match sock.batch(&mine) {
            Ok(()) => return Ok(()),
            // Another detach of the same id removed one first; look again.
            Err(e) if e.errno == Errno::ENOENT && attempt < DELETE_TRIES => continue,
            Err(e) => {
                return Err(NetError::Nftables {
                    op: "delete rules",
                    source: e.errno,
                })
            }
        }
    }
    Ok(())
}

/// Deletes `rules` (the last ones), the chains and the table in one transaction whose
/// non-recursive deletes fail with EBUSY if another container added a rule meanwhile; then
/// only the rules go.
fn drop_table_if_empty(sock: &mut Socket, rules: Vec<MsgBuilder>) {
    let mut msgs = rules.clone();
    msgs.extend(CHAINS.iter().map(nft::del_chain_msg));
    msgs.push(nft::del_table_msg());
    if sock.batch(&msgs).is_err() && !rules.is_empty() {
        let _ = sock.batch(&rules);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::options::Proto;

    #[test]
    fn without_ports_only_outbound_masquerade() {
        let subnet: Subnet = "10.88.0.0/16".parse().unwrap();
        let rules = plan("c1", Ipv4Addr::new(10, 88, 0, 2), &subnet, &[]);
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].exprs.last(), Some(&Expr::Masquerade));
    }

    #[test]
    fn every_rule_names_its_container_and_ports_get_two_chains() {
        let subnet: Subnet = "10.88.0.0/16".parse().unwrap();
        let publish = [Publish {
            host: 8080,
            container: 80,
            proto: Proto::Tcp,
        }];
        let rules = plan("c1", Ipv4Addr::new(10, 88, 0, 2), &subnet, &publish);
        let chains: Vec<_> = rules.iter().map(|r| r.chain).collect();
        assert_eq!(
            chains,
            ["postrouting", "postrouting", "prerouting", "output"]
        );
        assert!(rules.iter().all(|r| r.comment == "hull:c1"));
        assert!(rules[0]
            .exprs
            .contains(&Expr::Cmp(CmpOp::Neq, vec![10, 88, 0, 0])));
        assert!(rules[1]
            .exprs
            .contains(&Expr::Cmp(CmpOp::Eq, vec![127, 0, 0, 0])));
        assert!(rules[2]
            .exprs
            .contains(&Expr::Cmp(CmpOp::Eq, vec![0x1f, 0x90])));
        assert_eq!(
            rules[3].exprs.last(),
            Some(&Expr::Dnat {
                addr: [10, 88, 0, 2],
                port: 80
            })
        );
    }
}
