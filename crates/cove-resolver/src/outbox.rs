//! Answers of one received batch, sent together: consecutive answers that leave
//! the same way (interface, source address, routing mark — under load, nearly
//! all of a batch come from one VPC's clients to one address) go out in one
//! `sendmmsg`, with their shared `IP_PKTINFO`.

use std::io::{self, IoSlice};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrIn, sendmmsg};

use crate::udp::{Sender, UdpClient, packet_info};

/// Answers waiting to be sent, in the order their queries came.
pub(crate) struct Outbox {
    /// The answers; `len` of them are live (buffers are kept for reuse).
    answers: Vec<(UdpClient, Vec<u8>)>,
    len: usize,
    /// The most answers one `sendmmsg` takes (the headers preallocated).
    batch: usize,
    headers: MultiHeaders<SockaddrIn>,
}

impl Outbox {
    /// Room for `batch` answers per send.
    pub(crate) fn new(batch: usize) -> Outbox {
        Outbox {
            answers: Vec::with_capacity(batch),
            len: 0,
            batch: batch.max(1),
            headers: MultiHeaders::preallocate(batch, Some(nix::cmsg_space!(libc::in_pktinfo))),
        }
    }

    /// Queues `bytes` for `client` (sent at once if the outbox is full).
    pub(crate) fn push(&mut self, sender: &Sender, client: UdpClient, bytes: &[u8]) -> usize {
        let failed = if self.len == self.batch {
            self.flush(sender)
        } else {
            0
        };
        if let Some((c, buf)) = self.answers.get_mut(self.len) {
            *c = client;
            buf.clear();
            buf.extend_from_slice(bytes);
        } else {
            self.answers.push((client, bytes.to_vec()));
        }
        self.len += 1;
        failed
    }

    /// Sends every queued answer; returns how many could not be sent.
    pub(crate) fn flush(&mut self, sender: &Sender) -> usize {
        let answers = &self.answers[..self.len];
        let mut failed = 0;
        let mut start = 0;
        while start < answers.len() {
            let first = &answers[start].0;
            let same_way = answers[start..]
                .iter()
                .take(self.batch)
                .take_while(|(c, _)| {
                    (c.ifindex, c.from, c.mark) == (first.ifindex, first.from, first.mark)
                })
                .count();
            let group = &answers[start..start + same_way];
            let headers = &mut self.headers;
            failed += sender
                .with_mark(first.mark, |socket| send_group(socket, headers, group))
                .unwrap_or(group.len());
            start += same_way;
        }
        self.len = 0;
        failed
    }
}

/// Sends `group` (answers that leave the same way); returns how many failed.
fn send_group(
    socket: &UdpSocket,
    headers: &mut MultiHeaders<SockaddrIn>,
    group: &[(UdpClient, Vec<u8>)],
) -> usize {
    let Some((first, _)) = group.first() else {
        return 0;
    };
    let info = packet_info(first);
    let mut sent = 0;
    let mut failed = 0;
    while sent < group.len() {
        let rest = &group[sent..];
        let slices: Vec<[IoSlice<'_>; 1]> = rest.iter().map(|(_, b)| [IoSlice::new(b)]).collect();
        let addrs: Vec<Option<SockaddrIn>> = rest
            .iter()
            .map(|(c, _)| Some(SockaddrIn::from(c.to)))
            .collect();
        let cmsgs = [ControlMessage::Ipv4PacketInfo(&info)];
        match sendmmsg(
            socket.as_raw_fd(),
            headers,
            slices.iter(),
            addrs,
            cmsgs,
            MsgFlags::empty(),
        ) {
            // The kernel stops at the first datagram it cannot send (and reports
            // how many went): the next call starts with that one and gets its error.
            Ok(results) => match results.count() {
                0 => {
                    sent += 1;
                    failed += 1;
                }
                n => sent += n,
            },
            Err(e) if io::Error::from(e).kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                sent += 1;
                failed += 1;
            }
        }
    }
    failed
}
