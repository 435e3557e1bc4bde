//! Netlink messages as bytes: a builder for requests (header, family header, attributes,
//! nests) and a parser for replies (messages in a datagram, attributes in a payload). Pure,
//! so the wire format of every request hull sends is unit-tested without a socket.

/// `struct nlmsghdr` is 16 bytes; attributes and messages are 4-byte aligned.
pub const HDR_LEN: usize = 16;
const ALIGN: usize = 4;

/// Request flags (`linux/netlink.h`).
pub const NLM_F_REQUEST: u16 = 0x1;
/// Ask for an acknowledgement (an NLMSG_ERROR with error 0).
pub const NLM_F_ACK: u16 = 0x4;
/// Dump: every matching object.
pub const NLM_F_DUMP: u16 = 0x300;
/// Fail if the object exists.
pub const NLM_F_EXCL: u16 = 0x200;
/// Create the object if it does not exist.
pub const NLM_F_CREATE: u16 = 0x400;
/// nftables: append the rule at the end of the chain.
pub const NLM_F_APPEND: u16 = 0x800;
/// nftables: delete only if empty (no recursive delete).
pub const NLM_F_NONREC: u16 = 0x100;
/// Set on dump messages when the objects changed during the dump (it may miss some).
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// The last message of a dump.
pub const NLMSG_DONE: u16 = 3;
/// An error or acknowledgement.
pub const NLMSG_ERROR: u16 = 2;
/// Marks a nested attribute (nftables requires it; rtnetlink ignores it).
pub const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;

fn align(n: usize) -> usize {
    (n + ALIGN - 1) & !(ALIGN - 1)
}

/// A request being built: `nlmsghdr`, a family header, then attributes. `finish` fills the
/// lengths.
#[derive(Debug, Clone)]
pub struct MsgBuilder {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl MsgBuilder {
    /// A message of type `ty` with `flags`; the sequence number is set by the socket.
    pub fn new(ty: u16, flags: u16) -> MsgBuilder {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, set by finish
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_seq
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel fills it
        MsgBuilder {
            buf,
            nests: Vec::new(),
        }
    }

    /// Appends the family header (`ifinfomsg`, `ifaddrmsg`, `rtmsg`, `nfgenmsg`), padded.
    pub fn header(mut self, bytes: &[u8]) -> Self {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    fn pad(&mut self) {
        let len = align(self.buf.len());
        self.buf.resize(len, 0);
    }

    /// Appends one attribute with raw bytes.
    pub fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Self {
        let len = (4 + data.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
        self
    }

    /// Appends raw bytes inside the current nest (the `ifinfomsg` that starts a veth's
    /// VETH_INFO_PEER), padded.
    pub fn attr_raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    /// A NUL-terminated string attribute.
    pub fn attr_str(&mut self, ty: u16, s: &str) -> &mut Self {
        let mut data = Vec::with_capacity(s.len() + 1);
        data.extend_from_slice(s.as_bytes());
        data.push(0);
        self.attr(ty, &data)
    }

    /// A u32 in host byte order (rtnetlink).
    pub fn attr_u32(&mut self, ty: u16, v: u32) -> &mut Self {
        self.attr(ty, &v.to_ne_bytes())
    }

    /// A u32 in network byte order (nftables).
    pub fn attr_be32(&mut self, ty: u16, v: u32) -> &mut Self {
        self.attr(ty, &v.to_be_bytes())
    }

    /// Opens a nested attribute; close it with [`MsgBuilder::end`].
    pub fn begin(&mut self, ty: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.attr(ty, &[])
    }

    /// Closes the innermost open nest, setting its length.
    pub fn end(&mut self) -> &mut Self {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    /// The message bytes with `seq` and the total length filled in.
    pub fn finish(&self, seq: u32) -> Vec<u8> {
        let mut buf = self.buf.clone();
        let len = buf.len() as u32;
        buf[0..4].copy_from_slice(&len.to_ne_bytes());
        buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        buf
    }
}

/// One message of a reply datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg<'a> {
    /// nlmsg_type.
    pub ty: u16,
    /// nlmsg_flags.
    pub flags: u16,
    /// nlmsg_seq.
    pub seq: u32,
    /// The bytes after the header.
    pub payload: &'a [u8],
}

impl Msg<'_> {
    /// For NLMSG_ERROR: the (positive) errno, 0 for an acknowledgement.
    pub fn error_code(&self) -> Option<i32> {
        if self.ty != NLMSG_ERROR {
            return None;
        }
        let raw: [u8; 4] = self.payload.get(..4)?.try_into().ok()?;
        Some(-i32::from_ne_bytes(raw))
    }
}

/// The messages in a datagram; stops at the first malformed header.
pub fn messages(mut buf: &[u8]) -> impl Iterator<Item = Msg<'_>> {
    std::iter::from_fn(move || {
        if buf.len() < HDR_LEN {
            return None;
        }
        let len = u32::from_ne_bytes(buf[0..4].try_into().ok()?) as usize;
        if len < HDR_LEN || len > buf.len() {
            return None;
        }
        let msg = Msg {
            ty: u16::from_ne_bytes(buf[4..6].try_into().ok()?),
            flags: u16::from_ne_bytes(buf[6..8].try_into().ok()?),
            seq: u32::from_ne_bytes(buf[8..12].try_into().ok()?),
            payload: &buf[HDR_LEN..len],
        };
        buf = &buf[align(len).min(buf.len())..];
        Some(msg)
    })
}

/// The attributes in `buf` as (type without flag bits, value); stops at a malformed one.
pub fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let ty = u16::from_ne_bytes([buf[2], buf[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > buf.len() {
            return None;
        }
        let value = &buf[4..len];
        buf = &buf[align(len).min(buf.len())..];
        Some((ty, value))
    })
}

/// The value of the first attribute of type `ty`.
pub fn find(buf: &[u8], ty: u16) -> Option<&[u8]> {
    attrs(buf).find(|(t, _)| *t == ty).map(|(_, v)| v)
}

/// A string attribute's value without its NUL terminator.
pub fn as_str(value: &[u8]) -> Option<&str> {
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    std::str::from_utf8(&value[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_header_attrs_and_nests_with_lengths_and_padding() {
        let mut b = MsgBuilder::new(16, NLM_F_REQUEST | NLM_F_ACK).header(&[1, 2, 3]);
        b.attr_str(3, "eth0");
        b.begin(18 | NLA_F_NESTED).attr_u32(1, 7).end();
        let bytes = b.finish(42);
        assert_eq!(bytes.len() % 4, 0);
        let msg = messages(&bytes).next().unwrap();
        assert_eq!((msg.ty, msg.flags, msg.seq), (16, 5, 42));
        assert_eq!(&msg.payload[..4], &[1, 2, 3, 0]);
        let got: Vec<_> = attrs(&msg.payload[4..]).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (3, &b"eth0\0"[..]));
        assert_eq!(got[1].0, 18);
        assert_eq!(find(got[1].1, 1), Some(&7u32.to_ne_bytes()[..]));
        assert_eq!(
            u16::from_ne_bytes([bytes[32], bytes[33]]),
            4 + 8,
            "nest length"
        );
    }

    #[test]
    fn parses_several_messages_and_error_codes() {
        let mut dgram = Vec::new();
        let mut ack = MsgBuilder::new(NLMSG_ERROR, 0).header(&0i32.to_ne_bytes());
        dgram.extend(ack.attr(1, &[]).finish(1));
        let err = MsgBuilder::new(NLMSG_ERROR, 0).header(&(-17i32).to_ne_bytes());
        dgram.extend(err.finish(2));
        let got: Vec<_> = messages(&dgram).map(|m| (m.seq, m.error_code())).collect();
        assert_eq!(got, vec![(1, Some(0)), (2, Some(17))]);
    }

    #[test]
    fn malformed_input_ends_iteration_instead_of_panicking() {
        assert_eq!(messages(&[0xff; 20]).count(), 0);
        assert_eq!(attrs(&[2, 0, 1, 0]).count(), 0);
        assert_eq!(attrs(&[8, 0, 1, 0, 1]).count(), 0);
        assert_eq!(as_str(b"br0\0\0"), Some("br0"));
    }
}
