//! nftables over nfnetlink: the messages of hull's own table (`ip hull`), its three NAT base
//! chains, rules made of a few expressions, and the dump/delete of rules by their comment.
//! The encodings follow `linux/netfilter/nf_tables.h`; `nft --debug=netlink` shows the same
//! expressions for the equivalent rule text.

use super::msg::{
    self, find, MsgBuilder, NLA_F_NESTED, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_NONREC, NLM_F_REQUEST,
};
use super::{nfgenmsg, NFNL_SUBSYS_NFTABLES};

const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_DELCHAIN: u16 = 5;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_GETRULE: u16 = 7;
const NFT_MSG_DELRULE: u16 = 8;
const NFPROTO_IPV4: u8 = 2;

const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_HANDLE: u16 = 3;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_RULE_USERDATA: u16 = 7;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
const NF_ACCEPT: u32 = 1;
/// libnftnl's rule comment: the first TLV of the rule's userdata.
const NFTNL_UDATA_RULE_COMMENT: u8 = 0;

/// Registers: the 16-byte NFT_REG_1 and NFT_REG_2.
const REG1: u32 = 1;
const REG2: u32 = 2;

/// hull's table; nothing outside it is ever touched.
pub const TABLE: &str = "hull";

/// A NAT base chain of hull's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chain {
    /// Chain name.
    pub name: &'static str,
    /// NF_INET_* hook number.
    pub hook: u32,
    /// Priority (dstnat -100, srcnat 100).
    pub priority: i32,
}

/// `postrouting`: masquerade of outbound traffic (srcnat).
pub const POSTROUTING: Chain = Chain {
    name: "postrouting",
    hook: 4,
    priority: 100,
};
/// `prerouting`: published ports reached from outside (dstnat).
pub const PREROUTING: Chain = Chain {
    name: "prerouting",
    hook: 0,
    priority: -100,
};
/// `output`: published ports reached from the host itself.
pub const OUTPUT: Chain = Chain {
    name: "output",
    hook: 3,
    priority: -100,
};
/// Every chain of the table.
pub const CHAINS: [Chain; 3] = [POSTROUTING, PREROUTING, OUTPUT];

/// Comparison operator of a `cmp` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// NFT_CMP_EQ.
    Eq = 0,
    /// NFT_CMP_NEQ.
    Neq = 1,
}

/// Where a `payload` expression loads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The IP header.
    Network = 1,
    /// The TCP/UDP header.
    Transport = 2,
}

/// One expression of a rule; loads go to register 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Load `len` bytes at `offset` of a header.
    Payload {
        /// Which header.
        base: Base,
        /// Byte offset.
        offset: u32,
        /// Byte count.
        len: u32,
    },
    /// reg1 &= mask.
    Mask(Vec<u8>),
    /// Compare reg1 with data; the rule stops when it does not hold.
    Cmp(CmpOp, Vec<u8>),
    /// Load the layer-4 protocol number (`meta l4proto`).
    L4Proto,
    /// Load the route type of the destination address (`fib daddr type`).
    FibDaddrType,
    /// reg1 = address, reg2 = port, then dnat to them.
    Dnat {
        /// Network-order IPv4 address.
        addr: [u8; 4],
        /// Port.
        port: u16,
    },
    /// Masquerade behind the outgoing interface's address.
    Masquerade,
}

/// A rule to append to a chain, tagged with a comment that names its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The chain.
    pub chain: &'static str,
    /// Its expressions in order.
    pub exprs: Vec<Expr>,
    /// The comment (`hull:<container id>`).
    pub comment: String,
}

fn nft_msg(ty: u16, flags: u16) -> MsgBuilder {
    MsgBuilder::new((NFNL_SUBSYS_NFTABLES << 8) | ty, flags).header(&nfgenmsg(NFPROTO_IPV4, 0))
}

/// NEWTABLE for hull's table; an existing one is kept as it is.
pub fn table_msg() -> MsgBuilder {
    let mut m = nft_msg(NFT_MSG_NEWTABLE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE);
    m.attr_str(NFTA_TABLE_NAME, TABLE);
    m
}

/// NEWCHAIN for a NAT base chain with policy accept; an existing one is kept.
pub fn chain_msg(c: &Chain) -> MsgBuilder {
    let mut m = nft_msg(NFT_MSG_NEWCHAIN, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE);
    m.attr_str(NFTA_CHAIN_TABLE, TABLE)
        .attr_str(NFTA_CHAIN_NAME, c.name);
    m.begin(NFTA_CHAIN_HOOK | NLA_F_NESTED)
        .attr_be32(NFTA_HOOK_HOOKNUM, c.hook)
        .attr_be32(NFTA_HOOK_PRIORITY, c.priority as u32)
        .end();
    m.attr_be32(NFTA_CHAIN_POLICY, NF_ACCEPT)
        .attr_str(NFTA_CHAIN_TYPE, "nat");
    m
}

fn data(m: &mut MsgBuilder, ty: u16, value: &[u8]) {
    m.begin(ty | NLA_F_NESTED)
        .attr(NFTA_DATA_VALUE, value)
        .end();
}

fn expr(m: &mut MsgBuilder, name: &str, body: impl FnOnce(&mut MsgBuilder)) {
    m.begin(NFTA_LIST_ELEM | NLA_F_NESTED)
        .attr_str(NFTA_EXPR_NAME, name);
    m.begin(NFTA_EXPR_DATA | NLA_F_NESTED);
    body(m);
    m.end().end();
}

fn encode(m: &mut MsgBuilder, e: &Expr) {
    match e {
        Expr::Payload { base, offset, len } => expr(m, "payload", |m| {
            m.attr_be32(1, REG1) // NFTA_PAYLOAD_DREG
                .attr_be32(2, *base as u32) // NFTA_PAYLOAD_BASE
                .attr_be32(3, *offset) // NFTA_PAYLOAD_OFFSET
                .attr_be32(4, *len); // NFTA_PAYLOAD_LEN
        }),
        Expr::Mask(mask) => expr(m, "bitwise", |m| {
            m.attr_be32(1, REG1) // NFTA_BITWISE_SREG
                .attr_be32(2, REG1) // NFTA_BITWISE_DREG
                .attr_be32(3, mask.len() as u32); // NFTA_BITWISE_LEN
            data(m, 4, mask); // NFTA_BITWISE_MASK
            data(m, 5, &vec![0; mask.len()]); // NFTA_BITWISE_XOR
        }),
        Expr::Cmp(op, value) => expr(m, "cmp", |m| {
            m.attr_be32(1, REG1).attr_be32(2, *op as u32); // NFTA_CMP_SREG, NFTA_CMP_OP
            data(m, 3, value); // NFTA_CMP_DATA
        }),
        Expr::L4Proto => expr(m, "meta", |m| {
            m.attr_be32(2, 16).attr_be32(1, REG1); // NFTA_META_KEY l4proto, NFTA_META_DREG
        }),
        Expr::FibDaddrType => expr(m, "fib", |m| {
            // NFTA_FIB_DREG, NFTA_FIB_RESULT = ADDRTYPE, NFTA_FIB_FLAGS = F_DADDR
            m.attr_be32(1, REG1).attr_be32(2, 3).attr_be32(3, 2);
        }),
        Expr::Dnat { addr, port } => {
            for (reg, value) in [(REG1, &addr[..]), (REG2, &port.to_be_bytes()[..])] {
                expr(m, "immediate", |m| {
                    m.attr_be32(1, reg); // NFTA_IMMEDIATE_DREG
                    data(m, 2, value); // NFTA_IMMEDIATE_DATA
                });
            }
            expr(m, "nat", |m| {
                m.attr_be32(1, 1) // NFTA_NAT_TYPE = NFT_NAT_DNAT
                    .attr_be32(2, u32::from(NFPROTO_IPV4)) // NFTA_NAT_FAMILY
                    .attr_be32(3, REG1) // NFTA_NAT_REG_ADDR_MIN
                    .attr_be32(5, REG2) // NFTA_NAT_REG_PROTO_MIN
                    .attr_be32(7, 2); // NFTA_NAT_FLAGS = NF_NAT_RANGE_PROTO_SPECIFIED
            });
        }
        Expr::Masquerade => expr(m, "masq", |_| {}),
    }
}

/// The userdata holding `comment` as libnftnl encodes it, so `nft list` shows it.
pub fn comment_udata(comment: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(comment.len() + 3);
    v.push(NFTNL_UDATA_RULE_COMMENT);
    v.push((comment.len() + 1) as u8);
    v.extend_from_slice(comment.as_bytes());
    v.push(0);
    v
}

/// The comment in a rule's userdata, if it has one.
pub fn udata_comment(udata: &[u8]) -> Option<&str> {
    let mut rest = udata;
    while rest.len() >= 2 {
        let (ty, len) = (rest[0], rest[1] as usize);
        let value = rest.get(2..2 + len)?;
        if ty == NFTNL_UDATA_RULE_COMMENT {
            return msg::as_str(value);
        }
        rest = &rest[2 + len..];
    }
    None
}

/// NEWRULE appending `r` to its chain.
pub fn rule_msg(r: &Rule) -> MsgBuilder {
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND;
    let mut m = nft_msg(NFT_MSG_NEWRULE, flags);
    m.attr_str(NFTA_RULE_TABLE, TABLE)
        .attr_str(NFTA_RULE_CHAIN, r.chain);
    m.begin(NFTA_RULE_EXPRESSIONS | NLA_F_NESTED);
    for e in &r.exprs {
        encode(&mut m, e);
    }
    m.end();
    m.attr(NFTA_RULE_USERDATA, &comment_udata(&r.comment));
    m
}

/// A rule found by a dump: where it is and its comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its chain.
    pub chain: String,
    /// Its handle.
    pub handle: u64,
    /// Its comment, if any.
    pub comment: Option<String>,
}

/// GETRULE dump of hull's table.
pub fn dump_rules_msg() -> MsgBuilder {
    let mut m = nft_msg(NFT_MSG_GETRULE, NLM_F_REQUEST | NLM_F_DUMP);
    m.attr_str(NFTA_RULE_TABLE, TABLE);
    m
}

/// Parses one NEWRULE message of a dump (after the nfgenmsg).
pub fn parse_rule(payload: &[u8]) -> Option<Found> {
    let attrs = payload.get(4..)?;
    if find(attrs, NFTA_RULE_TABLE).and_then(msg::as_str) != Some(TABLE) {
        return None;
    }
    let chain = find(attrs, NFTA_RULE_CHAIN)
        .and_then(msg::as_str)?
        .to_string();
    let handle = u64::from_be_bytes(find(attrs, NFTA_RULE_HANDLE)?.try_into().ok()?);
    let comment = find(attrs, NFTA_RULE_USERDATA)
        .and_then(udata_comment)
        .map(str::to_string);
    Some(Found {
        chain,
        handle,
        comment,
    })
}

/// DELRULE of one rule by handle.
pub fn del_rule_msg(chain: &str, handle: u64) -> MsgBuilder {
    let mut m = nft_msg(NFT_MSG_DELRULE, NLM_F_REQUEST | NLM_F_ACK);
    m.attr_str(NFTA_RULE_TABLE, TABLE)
        .attr_str(NFTA_RULE_CHAIN, chain)
        .attr(NFTA_RULE_HANDLE, &handle.to_be_bytes());
    m
}

/// DELCHAIN that fails with EBUSY when the chain still holds a rule.
pub fn del_chain_msg(c: &Chain) -> MsgBuilder {
    let mut m = nft_msg(NFT_MSG_DELCHAIN, NLM_F_REQUEST | NLM_F_ACK | NLM_F_NONREC);
    m.attr_str(NFTA_CHAIN_TABLE, TABLE)
        .attr_str(NFTA_CHAIN_NAME, c.name);
    m
}

/// DELTABLE that fails with EBUSY when the table still holds a chain.
pub fn del_table_msg() -> MsgBuilder {
    let mut m = nft_msg(NFT_MSG_DELTABLE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_NONREC);
    m.attr_str(NFTA_TABLE_NAME, TABLE);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::netlink::msg::{attrs, messages};

    fn body(m: &MsgBuilder) -> Vec<u8> {
        let bytes = m.finish(1);
        let msg = messages(&bytes).next().unwrap();
        assert_eq!(msg.ty >> 8, NFNL_SUBSYS_NFTABLES);
        msg.payload.to_vec()
    }

    fn names(exprs: &[u8]) -> Vec<String> {
        attrs(exprs)
            .map(|(_, e)| {
                msg::as_str(find(e, NFTA_EXPR_NAME).unwrap())
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn dnat_rule_encodes_the_expressions_nft_would() {
        let rule = Rule {
            chain: "prerouting",
            exprs: vec![
                Expr::FibDaddrType,
                Expr::Cmp(CmpOp::Eq, 2u32.to_ne_bytes().to_vec()),
                Expr::L4Proto,
                Expr::Cmp(CmpOp::Eq, vec![6]),
                Expr::Dnat {
                    addr: [10, 88, 0, 2],
                    port: 80,
                },
            ],
            comment: "hull:c1".into(),
        };
        let p = body(&rule_msg(&rule));
        let a = &p[4..];
        assert_eq!(find(a, NFTA_RULE_CHAIN), Some(&b"prerouting\0"[..]));
        let exprs = find(a, NFTA_RULE_EXPRESSIONS).unwrap();
        assert_eq!(
            names(exprs),
            ["fib", "cmp", "meta", "cmp", "immediate", "immediate", "nat"]
        );
        let udata = find(a, NFTA_RULE_USERDATA).unwrap();
        assert_eq!(udata, b"\x00\x08hull:c1\x00");
        assert_eq!(udata_comment(udata), Some("hull:c1"));
    }

    #[test]
    fn chain_is_a_nat_base_chain_with_signed_priority() {
        let p = body(&chain_msg(&PREROUTING));
        let hook = find(&p[4..], NFTA_CHAIN_HOOK).unwrap();
        assert_eq!(
            find(hook, NFTA_HOOK_PRIORITY),
            Some(&(-100i32).to_be_bytes()[..])
        );
        assert_eq!(find(&p[4..], NFTA_CHAIN_TYPE), Some(&b"nat\0"[..]));
    }

    #[test]
    fn dumped_rules_of_other_tables_are_ignored() {
        let mut m = nft_msg(NFT_MSG_NEWRULE, 0);
        m.attr_str(NFTA_RULE_TABLE, TABLE)
            .attr_str(NFTA_RULE_CHAIN, "output")
            .attr(NFTA_RULE_HANDLE, &9u64.to_be_bytes())
            .attr(NFTA_RULE_USERDATA, &comment_udata("hull:x"));
        let found = parse_rule(&body(&m)).unwrap();
        assert_eq!(found.handle, 9);
        assert_eq!(found.comment.as_deref(), Some("hull:x"));
        let mut other = nft_msg(NFT_MSG_NEWRULE, 0);
        other.attr_str(NFTA_RULE_TABLE, "filter");
        assert_eq!(parse_rule(&body(&other)), None);
    }

    #[test]
    fn truncated_userdata_has_no_comment() {
        assert_eq!(udata_comment(b"\x00\x09hull"), None);
        assert_eq!(udata_comment(b"\x01\x01a\x00\x02b\x00"), Some("b"));
    }
}
