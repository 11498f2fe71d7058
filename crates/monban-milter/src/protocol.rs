//! The milter wire protocol (version 6, as Sendmail's libmilter and Postfix speak it):
//! framing, the MTA's commands and the filter's responses. Pure: bytes in, typed values
//! out, and back.
//!
//! A packet is a 4-byte big-endian length (counting the command byte), a command byte
//! and the data. Strings are NUL-terminated.

use std::net::IpAddr;

/// The protocol version monban speaks.
pub const VERSION: u32 = 6;
/// The largest packet accepted from the MTA: body chunks are at most 64 KiB, headers are
/// bounded by the MTA; anything larger is a protocol error, not a reason to allocate.
pub const MAX_PACKET: usize = 1024 * 1024;

/// Actions the filter may take (`SMFIF_*`).
pub mod actions {
    /// Add header fields.
    pub const ADD_HEADERS: u32 = 0x01;
    /// Change the body.
    pub const CHANGE_BODY: u32 = 0x02;
    /// Add recipients.
    pub const ADD_RCPT: u32 = 0x04;
    /// Delete recipients.
    pub const DELETE_RCPT: u32 = 0x08;
    /// Change or delete header fields.
    pub const CHANGE_HEADERS: u32 = 0x10;
    /// Quarantine (Postfix: hold queue).
    pub const QUARANTINE: u32 = 0x20;
}

/// Protocol steps the filter does not want (`SMFIP_*`).
pub mod steps {
    /// No CONNECT.
    pub const NO_CONNECT: u32 = 0x01;
    /// No HELO.
    pub const NO_HELO: u32 = 0x02;
    /// No MAIL.
    pub const NO_MAIL: u32 = 0x04;
    /// No RCPT.
    pub const NO_RCPT: u32 = 0x08;
    /// No body.
    pub const NO_BODY: u32 = 0x10;
    /// No headers.
    pub const NO_HEADERS: u32 = 0x20;
    /// No end-of-headers.
    pub const NO_EOH: u32 = 0x40;
    /// No reply to headers.
    pub const NR_HEADER: u32 = 0x80;
    /// No UNKNOWN.
    pub const NO_UNKNOWN: u32 = 0x100;
    /// No DATA.
    pub const NO_DATA: u32 = 0x200;
    /// No reply to CONNECT.
    pub const NR_CONNECT: u32 = 0x1000;
    /// No reply to HELO.
    pub const NR_HELO: u32 = 0x2000;
    /// No reply to MAIL.
    pub const NR_MAIL: u32 = 0x4000;
    /// No reply to RCPT.
    pub const NR_RCPT: u32 = 0x8000;
    /// No reply to DATA.
    pub const NR_DATA: u32 = 0x1_0000;
    /// No reply to UNKNOWN.
    pub const NR_UNKNOWN: u32 = 0x2_0000;
    /// No reply to end-of-headers.
    pub const NR_EOH: u32 = 0x4_0000;
    /// No reply to body chunks.
    pub const NR_BODY: u32 = 0x8_0000;
    /// Header values keep their leading white space (needed for DKIM).
    pub const HEADER_LEADING_SPACE: u32 = 0x10_0000;
}

/// Why bytes are not a valid packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The length field is zero or above [`MAX_PACKET`].
    #[error("packet length {0} is out of range")]
    Length(usize),
    /// A command byte monban does not know.
    #[error("unknown milter command {0:?}")]
    UnknownCommand(char),
    /// The data of a command is truncated or malformed.
    #[error("malformed {0} packet")]
    Malformed(&'static str),
}

/// The client address of CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Family {
    /// Unknown (`U`).
    Unknown,
    /// A unix socket (`L`), with its path.
    Unix(String),
    /// IPv4 or IPv6, with the port.
    Inet(IpAddr, u16),
}

/// A command from the MTA.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `O`: option negotiation.
    OptNeg {
        /// The MTA's protocol version.
        version: u32,
        /// Actions it allows.
        actions: u32,
        /// Steps it can skip.
        protocol: u32,
    },
    /// `D`: macros for the next command.
    Macro {
        /// The command the macros belong to.
        for_command: u8,
        /// Name/value pairs.
        pairs: Vec<(String, String)>,
    },
    /// `C`: a client connected.
    Connect {
        /// The client's host name (or `[addr]`).
        hostname: String,
        /// Its address.
        family: Family,
    },
    /// `H`: HELO/EHLO.
    Helo(String),
    /// `M`: MAIL FROM, the address and ESMTP parameters.
    Mail(Vec<String>),
    /// `R`: RCPT TO.
    Rcpt(Vec<String>),
    /// `T`: DATA.
    Data,
    /// `L`: one header field.
    Header {
        /// The field name.
        name: String,
        /// The value (raw bytes: header values need not be UTF-8).
        value: Vec<u8>,
    },
    /// `N`: end of headers.
    EndOfHeaders,
    /// `B`: a body chunk.
    Body(Vec<u8>),
    /// A header (`L`) or body (`B`) packet over the packet limit, read past without
    /// being kept: the message it belongs to is refused, the connection goes on.
    Oversized {
        /// The command byte.
        code: u8,
        /// The packet's length.
        len: usize,
    },
    /// `E`: end of message.
    EndOfMessage,
    /// `A`: abort the current message (the connection goes on).
    Abort,
    /// `Q`: quit.
    Quit,
    /// `K`: quit, a new connection follows on the same socket.
    QuitNewConnection,
    /// `U`: an unknown SMTP command.
    Unknown(Vec<u8>),
}

/// A response from the filter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    /// `O`: the negotiated version, actions and skipped steps.
    OptNeg {
        /// Version.
        version: u32,
        /// Actions wanted.
        actions: u32,
        /// Steps skipped.
        protocol: u32,
    },
    /// `c`: continue.
    Continue,
    /// `a`: accept the message without further filtering.
    Accept,
    /// `r`: reject.
    Reject,
    /// `t`: temporary failure.
    Tempfail,
    /// `d`: accept and discard.
    Discard,
    /// `y`: reply with this SMTP code, e.g. `550 5.7.1 ...`.
    ReplyCode(String),
    /// `h`: add a header field (at the end).
    AddHeader {
        /// Name.
        name: String,
        /// Value.
        value: String,
    },
    /// `i`: insert a header field at a position (0: first).
    InsertHeader {
        /// Position.
        index: u32,
        /// Name.
        name: String,
        /// Value.
        value: String,
    },
    /// `m`: change the `index`-th (1-based) field of this name; an empty value deletes
    /// it.
    ChangeHeader {
        /// Which occurrence.
        index: u32,
        /// Name.
        name: String,
        /// New value.
        value: String,
    },
    /// `q`: quarantine with a reason.
    Quarantine(String),
    /// `p`: still working.
    Progress,
}

/// Splits a NUL-terminated string list.
fn strings(data: &[u8]) -> Vec<String> {
    let data = data.strip_suffix(&[0]).unwrap_or(data);
    if data.is_empty() {
        return Vec::new();
    }
    data.split(|&b| b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn take_cstr<'a>(data: &mut &'a [u8], what: &'static str) -> Result<&'a [u8], ProtocolError> {
    let nul = data
        .iter()
        .position(|&b| b == 0)
        .ok_or(ProtocolError::Malformed(what))?;
    let s = &data[..nul];
    *data = &data[nul + 1..];
    Ok(s)
}

fn be32(data: &[u8], at: usize, what: &'static str) -> Result<u32, ProtocolError> {
    data.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(ProtocolError::Malformed(what))
}

impl Command {
    /// Decodes one packet's command byte and data.
    pub fn decode(code: u8, data: &[u8]) -> Result<Self, ProtocolError> {
        Ok(match code {
            b'O' => Self::OptNeg {
                version: be32(data, 0, "OPTNEG")?,
                actions: be32(data, 4, "OPTNEG")?,
                protocol: be32(data, 8, "OPTNEG")?,
            },
            b'D' => {
                let (&for_command, rest) = data
                    .split_first()
                    .ok_or(ProtocolError::Malformed("MACRO"))?;
                let list = strings(rest);
                let pairs = list
                    .chunks(2)
                    .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default()))
                    .collect();
                Self::Macro { for_command, pairs }
            }
            b'C' => {
                let mut rest = data;
                let hostname =
                    String::from_utf8_lossy(take_cstr(&mut rest, "CONNECT")?).into_owned();
                let (&family, rest) = rest
                    .split_first()
                    .ok_or(ProtocolError::Malformed("CONNECT"))?;
                let family = match family {
                    b'U' => Family::Unknown,
                    b'L' | b'4' | b'6' => {
                        let port = rest
                            .get(..2)
                            .map(|p| u16::from_be_bytes([p[0], p[1]]))
                            .ok_or(ProtocolError::Malformed("CONNECT"))?;
                        let mut addr = &rest[2..];
                        let text =
                            String::from_utf8_lossy(take_cstr(&mut addr, "CONNECT")?).into_owned();
                        if family == b'L' {
                            Family::Unix(text)
                        } else {
                            let text = text.strip_prefix("IPv6:").unwrap_or(&text);
                            // A link-local address's zone (`fe80::1%eth0`) names an
                            // interface of the MTA's host, not part of the address.
                            let text = text.split_once('%').map_or(text, |(ip, _)| ip);
                            let ip = text
                                .parse()
                                .map_err(|_| ProtocolError::Malformed("CONNECT address"))?;
                            Family::Inet(ip, port)
                        }
                    }
                    _ => return Err(ProtocolError::Malformed("CONNECT family")),
                };
                Self::Connect { hostname, family }
            }
            b'H' => Self::Helo(strings(data).into_iter().next().unwrap_or_default()),
            b'M' => Self::Mail(strings(data)),
            b'R' => Self::Rcpt(strings(data)),
            b'T' => Self::Data,
            b'L' => {
                let mut rest = data;
                let name = String::from_utf8_lossy(take_cstr(&mut rest, "HEADER")?).into_owned();
                let value = take_cstr(&mut rest, "HEADER")?.to_vec();
                // Nothing may follow the value: bytes there would be dropped unread.
                if !rest.is_empty() {
                    return Err(ProtocolError::Malformed("HEADER (bytes after the value)"));
                }
                Self::Header { name, value }
            }
            b'N' => Self::EndOfHeaders,
            b'B' => Self::Body(data.to_vec()),
            // libmilter reads data sent with the end of the message as a last body chunk;
            // no MTA sends any (Postfix and Sendmail send the body apart): refused, not
            // dropped unread.
            b'E' if !data.is_empty() => {
                return Err(ProtocolError::Malformed("END OF MESSAGE (with data)"));
            }
            b'E' => Self::EndOfMessage,
            b'A' => Self::Abort,
            b'Q' => Self::Quit,
            b'K' => Self::QuitNewConnection,
            b'U' => Self::Unknown(data.to_vec()),
            other => return Err(ProtocolError::UnknownCommand(other as char)),
        })
    }
}

fn push_cstr(out: &mut Vec<u8>, s: &str) {
    // A NUL inside would end the string early on the MTA side: never send one.
    out.extend(s.bytes().filter(|&b| b != 0));
    out.push(0);
}

/// A header value as the milter protocol carries it: folded with a bare LF before the
/// white space, as libmilter's `smfi_addheader` documents ("the MTA will add" the CR).
/// Postfix and Sendmail write each LF as CRLF; a CRLF sent as such became CR CR LF on
/// the wire, which breaks the DKIM signatures and ARC seals monban itself added. A CR
/// not before LF (never in what monban writes) is dropped, as is NUL.
fn push_header_value(out: &mut Vec<u8>, s: &str) {
    out.extend(s.bytes().filter(|&b| b != 0 && b != b'\r'));
    out.push(0);
}

impl Response {
    /// Encodes the response as a whole packet (length, code, data).
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        let code = match self {
            Self::OptNeg {
                version,
                actions,
                protocol,
            } => {
                body.extend_from_slice(&version.to_be_bytes());
                body.extend_from_slice(&actions.to_be_bytes());
                body.extend_from_slice(&protocol.to_be_bytes());
                b'O'
            }
            Self::Continue => b'c',
            Self::Accept => b'a',
            Self::Reject => b'r',
            Self::Tempfail => b't',
            Self::Discard => b'd',
            Self::ReplyCode(text) => {
                push_cstr(&mut body, text);
                b'y'
            }
            Self::AddHeader { name, value } => {
                push_cstr(&mut body, name);
                push_header_value(&mut body, value);
                b'h'
            }
            Self::InsertHeader { index, name, value } => {
                body.extend_from_slice(&index.to_be_bytes());
                push_cstr(&mut body, name);
                push_header_value(&mut body, value);
                b'i'
            }
            Self::ChangeHeader { index, name, value } => {
                body.extend_from_slice(&index.to_be_bytes());
                push_cstr(&mut body, name);
                push_header_value(&mut body, value);
                b'm'
            }
            Self::Quarantine(reason) => {
                push_cstr(&mut body, reason);
                b'q'
            }
            Self::Progress => b'p',
        };
        let mut out = Vec::with_capacity(body.len() + 5);
        out.extend_from_slice(&((body.len() + 1) as u32).to_be_bytes());
        out.push(code);
        out.extend_from_slice(&body);
        out
    }
}

/// A streaming packet reader: feed bytes, take whole packets.
///
/// Packets are taken from a read position, and the consumed bytes are dropped once per
/// [`Framer::extend`], so a read holding thousands of small packets costs linear time.
/// At most one packet (up to the limit) plus one read is held, and an idle connection
/// holds no buffer at all. A header or body packet over the limit is read past without
/// being kept and reported as [`Command::Oversized`], so its message can be refused
/// while the connection goes on; any other packet over the limit is an error.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    /// Where the next packet starts in `buf`.
    pos: usize,
    max_packet: usize,
    /// An oversized packet being read past: (command, its length, bytes still to come).
    skipping: Option<(u8, usize, usize)>,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer {
    /// An empty framer accepting packets up to [`MAX_PACKET`].
    pub fn new() -> Self {
        Self::with_limit(MAX_PACKET)
    }

    /// An empty framer accepting packets up to `max_packet` bytes (capped at
    /// [`MAX_PACKET`]).
    pub fn with_limit(max_packet: usize) -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            max_packet: max_packet.min(MAX_PACKET),
            skipping: None,
        }
    }

    /// Drops the bytes of packets already taken.
    fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.is_empty() && self.buf.capacity() > 64 * 1024 {
            // A large packet came and went: give the memory back.
            self.buf = Vec::new();
        }
    }

    /// Adds bytes read from the socket.
    pub fn extend(&mut self, mut bytes: &[u8]) {
        if let Some((_, _, left)) = &mut self.skipping {
            let n = (*left).min(bytes.len());
            *left -= n;
            bytes = &bytes[n..];
        }
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// Whether part of a packet has arrived and the rest has not.
    pub fn is_partial(&self) -> bool {
        self.buf.len() > self.pos || self.skipping.is_some_and(|(_, _, left)| left > 0)
    }

    /// How many bytes are held.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// How many more bytes the packet under way needs (at least 1 when nothing or only
    /// part of a length field has arrived), for sizing the next read.
    pub fn wanted(&self) -> usize {
        if let Some((_, _, left)) = self.skipping {
            return left.max(1);
        }
        let rest = &self.buf[self.pos..];
        if rest.len() < 4 {
            return 4 - rest.len();
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        (4 + len.min(self.max_packet))
            .saturating_sub(rest.len())
            .max(1)
    }

    /// The next whole packet, if one has arrived. A length field of zero or above
    /// [`MAX_PACKET`], or above the limit for a command other than a header or body,
    /// is an error as soon as it is in, before any of the packet is held.
    pub fn next_command(&mut self) -> Result<Option<Command>, ProtocolError> {
        if let Some((code, len, left)) = self.skipping {
            if left > 0 {
                return Ok(None);
            }
            self.skipping = None;
            return Ok(Some(Command::Oversized { code, len }));
        }
        let rest = &self.buf[self.pos..];
        if rest.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len == 0 || len > MAX_PACKET {
            return Err(ProtocolError::Length(len));
        }
        if len > self.max_packet {
            let Some(&code) = rest.get(4) else {
                return Ok(None);
            };
            if !matches!(code, b'L' | b'B') {
                return Err(ProtocolError::Length(len));
            }
            // Read past it: what is here now, and the rest as it comes.
            let here = (rest.len() - 4).min(len);
            self.pos += 4 + here;
            self.skipping = Some((code, len, len - here));
            if self.pos == self.buf.len() {
                self.buf = Vec::new();
                self.pos = 0;
            }
            return self.next_command();
        }
        if rest.len() < 4 + len {
            return Ok(None);
        }
        let command = Command::decode(rest[4], &rest[5..4 + len]);
        self.pos += 4 + len;
        if self.pos == self.buf.len() {
            if self.buf.capacity() > 64 * 1024 {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
            self.pos = 0;
        }
        command.map(Some)
    }
}

/// Encodes a command (the MTA side; used by tests and by a client).
pub fn encode_command(code: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 5);
    out.extend_from_slice(&((data.len() + 1) as u32).to_be_bytes());
    out.push(code);
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9: each packet taken used to move the rest of the buffer to its front, so
    /// a read full of small packets cost the square of its size. 200,000 packets in one
    /// read are all taken, and the limit is checked before a packet is held.
    #[test]
    fn regression_issue9_many_packets_in_one_read_and_the_length_limit() {
        let one = encode_command(b'B', b"x");
        let mut wire = Vec::with_capacity(one.len() * 200_000);
        for _ in 0..200_000 {
            wire.extend_from_slice(&one);
        }
        let mut f = Framer::new();
        f.extend(&wire);
        let mut n = 0;
        while let Some(c) = f.next_command().unwrap() {
            assert_eq!(c, Command::Body(b"x".to_vec()));
            n += 1;
        }
        assert_eq!(n, 200_000);
        assert_eq!(f.buffered(), 0);

        let mut f = Framer::with_limit(100);
        f.extend(&encode_command(b'B', &[b'a'; 99]));
        assert!(f.next_command().unwrap().is_some());
        f.extend(&101u32.to_be_bytes());
        assert_eq!(f.next_command(), Ok(None));
        f.extend(b"H");
        assert_eq!(f.next_command(), Err(ProtocolError::Length(101)));
        assert_eq!(f.buffered(), 5);
    }

    /// A header or body packet over the limit is read past, a byte at a time or all at
    /// once, without being held, and the packets after it are read as usual.
    #[test]
    fn regression_issue9_oversized_header_packet_is_skipped_not_fatal() {
        let big = encode_command(b'L', &vec![b'a'; 5_000]);
        let next = encode_command(b'N', b"");
        let mut wire = big.clone();
        wire.extend_from_slice(&next);
        for step in [1, 7, 4096, wire.len()] {
            let mut f = Framer::with_limit(1_000);
            let mut got = Vec::new();
            let mut most = 0;
            for chunk in wire.chunks(step) {
                f.extend(chunk);
                most = most.max(f.buffered());
                while let Some(c) = f.next_command().unwrap() {
                    got.push(c);
                }
            }
            assert_eq!(
                got,
                vec![
                    Command::Oversized {
                        code: b'L',
                        len: 5_001
                    },
                    Command::EndOfHeaders
                ],
                "step {step}"
            );
            assert!(most <= step.max(5), "held {most} at step {step}");
            assert!(!f.is_partial());
        }
        // Over the protocol's own maximum, even a header is an error.
        let mut f = Framer::with_limit(1_000);
        f.extend(&((MAX_PACKET + 1) as u32).to_be_bytes());
        assert!(f.next_command().is_err());
    }

    #[test]
    fn framing_across_reads() {
        let mut wire = encode_command(b'H', b"mail.example.com\0");
        wire.extend(encode_command(b'L', b"Subject\0 hello\0"));
        wire.extend(encode_command(b'B', b"body\r\n"));
        let mut f = Framer::new();
        let mut got = Vec::new();
        for byte in wire {
            f.extend(&[byte]);
            while let Some(c) = f.next_command().unwrap() {
                got.push(c);
            }
        }
        assert_eq!(
            got,
            vec![
                Command::Helo("mail.example.com".into()),
                Command::Header {
                    name: "Subject".into(),
                    value: b" hello".to_vec()
                },
                Command::Body(b"body\r\n".to_vec()),
            ]
        );
    }

    #[test]
    fn connect_families() {
        // The CONNECT packet of a client: host name, family, port 25, address.
        let connect = |host: &str, family: u8, addr: &str| {
            let mut data = format!("{host}\0").into_bytes();
            data.push(family);
            data.extend_from_slice(&25u16.to_be_bytes());
            data.extend_from_slice(addr.as_bytes());
            data.push(0);
            Command::decode(b'C', &data).unwrap()
        };
        let inet = |host: &str, ip: &str| Command::Connect {
            hostname: host.into(),
            family: Family::Inet(ip.parse().unwrap(), 25),
        };
        assert_eq!(
            connect("mail.example.com", b'4', "192.0.2.25"),
            inet("mail.example.com", "192.0.2.25")
        );
        assert_eq!(
            connect("[2001:db8::1]", b'6', "IPv6:2001:db8::1"),
            inet("[2001:db8::1]", "2001:db8::1")
        );
        // A link-local client with its zone: the address without it (the connection
        // used to end, every message from it tempfailed).
        assert_eq!(
            connect("[fe80::1]", b'6', "IPv6:fe80::1%eth0"),
            inet("[fe80::1]", "fe80::1")
        );
    }

    #[test]
    fn hostile_packets_are_errors() {
        let mut f = Framer::new();
        f.extend(&[0, 0, 0, 0]);
        assert_eq!(f.next_command(), Err(ProtocolError::Length(0)));
        let mut f = Framer::new();
        f.extend(&[0x7f, 0xff, 0xff, 0xff, b'B']);
        assert!(matches!(f.next_command(), Err(ProtocolError::Length(_))));
        assert!(Command::decode(b'O', b"\0\0").is_err());
        assert!(Command::decode(b'C', b"no-nul").is_err());
        assert!(Command::decode(b'L', b"Subject\0no terminator").is_err());
        // A trial's `From\0 Alice <a@example.com>\0 , ceo@evil.example\0` was taken as
        // the first value, the rest dropped unread.
        assert_eq!(
            Command::decode(
                b'L',
                b"From\0 Alice <alice@example.com>\0 , ceo@evil.example\0"
            ),
            Err(ProtocolError::Malformed("HEADER (bytes after the value)"))
        );
        // Data with the end of the message (libmilter would take it as a last body
        // chunk; no MTA sends any): refused, not dropped.
        assert!(Command::decode(b'E', b"Please wire the money.\r\n").is_err());
        assert!(Command::decode(b'Z', b"").is_err());
    }

    #[test]
    fn responses_encode_with_lengths() {
        let r = Response::ReplyCode("550 5.7.1 rejected\0 by policy".into()).encode();
        assert_eq!(&r[..4], &((r.len() - 4) as u32).to_be_bytes());
        assert_eq!(r[4], b'y');
        assert_eq!(&r[5..], b"550 5.7.1 rejected by policy\0");
        let h = Response::InsertHeader {
            index: 0,
            name: "Authentication-Results".into(),
            value: "mx; dkim=pass".into(),
        }
        .encode();
        assert_eq!(h[4], b'i');
        assert_eq!(&h[5..9], &[0, 0, 0, 0]);
        // Folded with a bare LF: the MTA adds the CR (a CRLF sent became CR CR LF).
        let h = Response::AddHeader {
            name: "DKIM-Signature".into(),
            value: "v=1; a=rsa-sha256;\r\n\tb=abc".into(),
        }
        .encode();
        assert_eq!(&h[5..], b"DKIM-Signature\0v=1; a=rsa-sha256;\n\tb=abc\0");
    }
}
