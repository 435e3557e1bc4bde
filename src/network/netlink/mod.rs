//! A synchronous netlink socket (rtnetlink or nfnetlink): send one request and wait for its
//! acknowledgement, run a dump, or send an nftables batch. One socket per namespace, no
//! threads, a receive timeout so a hook never hangs on the create path.

pub mod msg;
pub mod nft;
pub mod route;

use msg::{messages, Msg, MsgBuilder, NLMSG_DONE, NLMSG_ERROR};
use nix::errno::Errno;
use nix::sys::socket::{
    recv, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};
use nix::sys::time::TimeVal;
use std::os::fd::{AsFd, OwnedFd};

/// How long to wait for the kernel's answer before giving up with ETIMEDOUT.
const REPLY_TIMEOUT_SECS: i64 = 10;
/// Large enough for any single datagram the kernel sends (it sizes dumps to the reader's
/// buffer, up to 32 KiB per skb).
const RECV_BUF: usize = 64 * 1024;

/// `NFNL_MSG_BATCH_BEGIN` / `_END` (`linux/netfilter/nfnetlink.h`).
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
/// `NFNL_SUBSYS_NFTABLES`, the res_id of a batch header.
pub const NFNL_SUBSYS_NFTABLES: u16 = 10;

/// Which netlink family a socket talks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// rtnetlink: links, addresses, routes.
    Route,
    /// nfnetlink: nftables.
    Netfilter,
}

/// A netlink socket bound to the network namespace it was opened in.
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

/// A failed message of a batch: its index in the list given to [`Socket::batch`] (None for
/// the batch as a whole) and the errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchError {
    /// Which message failed.
    pub index: Option<usize>,
    /// Why.
    pub errno: Errno,
}

impl Socket {
    /// Opens a socket of `family` in the caller's network namespace.
    pub fn open(family: Family) -> Result<Socket, Errno> {
        let proto = match family {
            Family::Route => SockProtocol::NetlinkRoute,
            Family::Netfilter => SockProtocol::NetlinkNetFilter,
        };
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            proto,
        )?;
        let timeout = TimeVal::new(REPLY_TIMEOUT_SECS, 0);
        setsockopt(&fd, sockopt::ReceiveTimeout, &timeout)?;
        Ok(Socket {
            fd,
            seq: 0,
            buf: vec![0; RECV_BUF],
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn send(&self, bytes: &[u8]) -> Result<(), Errno> {
        let kernel = NetlinkAddr::new(0, 0);
        let sent = sendto(
            std::os::fd::AsRawFd::as_raw_fd(&self.fd.as_fd()),
            bytes,
            &kernel,
            MsgFlags::empty(),
        )?;
        if sent != bytes.len() {
            return Err(Errno::EMSGSIZE);
        }
        Ok(())
    }

    /// Receives one datagram and hands each message to `each` until it returns Some.
    fn recv_until<T>(&mut self, mut each: impl FnMut(Msg<'_>) -> Option<T>) -> Result<T, Errno> {
        loop {
            let n = recv(
                std::os::fd::AsRawFd::as_raw_fd(&self.fd.as_fd()),
                &mut self.buf,
                MsgFlags::empty(),
            )
            .map_err(|e| {
                if e == Errno::EAGAIN {
                    Errno::ETIMEDOUT
                } else {
                    e
                }
            })?;
            for m in messages(&self.buf[..n]) {
                if let Some(out) = each(m) {
                    return Ok(out);
                }
            }
        }
    }

    /// Sends a request that asks for an ACK and waits for it; the kernel's errno on failure.
    pub fn request(&mut self, req: &MsgBuilder) -> Result<(), Errno> {
        let seq = self.next_seq();
        self.send(&req.finish(seq))?;
        self.recv_until(|m| (m.seq == seq).then(|| m.error_code()).flatten())
            .and_then(|code| {
                if code == 0 {
                    Ok(())
                } else {
                    Err(Errno::from_raw(code))
                }
            })
    }

    /// Sends a get request and returns the payload of the single reply message.
    pub fn get(&mut self, req: &MsgBuilder) -> Result<Vec<u8>, Errno> {
        let seq = self.next_seq();
        self.send(&req.finish(seq))?;
        self.recv_until(|m| {
            if m.seq != seq {
                return None;
            }
            Some(match m.error_code() {
                Some(code) => Err(Errno::from_raw(code)),
                None => Ok(m.payload.to_vec()),
            })
        })?
    }

    /// Runs a dump request, handing every reply message's payload to `each`.
    /// A dump the kernel marks inconsistent (the objects changed while it ran, so some may
    /// be missing) fails with EINTR; the caller dumps again.
    pub fn dump(&mut self, req: &MsgBuilder, mut each: impl FnMut(&[u8])) -> Result<(), Errno> {
        let seq = self.next_seq();
        self.send(&req.finish(seq))?;
        let mut interrupted = false;
        self.recv_until(|m| {
            if m.seq != seq {
                return None;
            }
            interrupted |= m.flags & msg::NLM_F_DUMP_INTR != 0;
            match m.ty {
                NLMSG_DONE if interrupted => Some(Err(Errno::EINTR)),
                NLMSG_DONE => Some(Ok(())),
                NLMSG_ERROR => match m.error_code() {
                    Some(0) => Some(Ok(())),
                    Some(code) => Some(Err(Errno::from_raw(code))),
                    None => Some(Err(Errno::EBADMSG)),
                },
                _ => {
                    each(m.payload);
                    None
                }
            }
        })?
    }

    /// Sends `msgs` as one nftables transaction (all or nothing). Each message must ask for
    /// an ACK; the kernel answers every one, also after a failure, so all answers are read
    /// and the first failure is returned.
    pub fn batch(&mut self, msgs: &[MsgBuilder]) -> Result<(), BatchError> {
        let whole = |errno| BatchError { index: None, errno };
        if msgs.is_empty() {
            return Ok(());
        }
        let nfgen = nfgenmsg(0, NFNL_SUBSYS_NFTABLES);
        let begin_seq = self.next_seq();
        let mut bytes = MsgBuilder::new(NFNL_MSG_BATCH_BEGIN, msg::NLM_F_REQUEST)
            .header(&nfgen)
            .finish(begin_seq);
        let first = begin_seq.wrapping_add(1);
        for m in msgs {
            let seq = self.next_seq();
            bytes.extend(m.finish(seq));
        }
        let end_seq = self.next_seq();
        bytes.extend(
            MsgBuilder::new(NFNL_MSG_BATCH_END, msg::NLM_F_REQUEST)
                .header(&nfgen)
                .finish(end_seq),
        );
        self.send(&bytes).map_err(whole)?;
        let mut pending = msgs.len();
        let mut failure: Option<BatchError> = None;
        let outcome = self
            .recv_until(|m| {
                let code = m.error_code()?;
                if m.seq == begin_seq && code != 0 {
                    return Some(Err(whole(Errno::from_raw(code))));
                }
                let index = m.seq.wrapping_sub(first) as usize;
                if index >= msgs.len() {
                    return None;
                }
                if code != 0 && failure.is_none() {
                    failure = Some(BatchError {
                        index: Some(index),
                        errno: Errno::from_raw(code),
                    });
                }
                pending -= 1;
                (pending == 0).then_some(Ok(()))
            })
            .map_err(whole)?;
        outcome?;
        failure.map_or(Ok(()), Err)
    }
}

/// `struct nfgenmsg`: family, version (NFNETLINK_V0), res_id in network byte order.
pub fn nfgenmsg(family: u8, res_id: u16) -> [u8; 4] {
    let id = res_id.to_be_bytes();
    [family, 0, id[0], id[1]]
}
