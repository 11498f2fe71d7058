//! Test support for monban: a real authoritative DNS server, in-process.
//!
//! [`TestDnsServer::start`] takes a [`ZoneResolver`] and serves every record it holds
//! with hickory-server 0.26, over UDP and TCP on one ephemeral port of 127.0.0.1, so
//! that [`monban_dns::HickoryResolver`] (or any DNS client) can be tested against real
//! DNS messages: authoritative answers, NXDOMAIN with an SOA in the authority section,
//! NOERROR with no data, CNAME chains in the answer section, truncation and TCP retry.
//!
//! # How the zone is served
//!
//! All records go into **one** zone whose origin is the root (`.`), so that records of
//! unrelated domains (`example.com`, `example.net`, `2.0.192.in-addr.arpa`, ...) need
//! no grouping and every name is answered authoritatively (AA set). hickory-server then
//! answers:
//! - a name with records of the asked type: those records, NOERROR;
//! - a name with a CNAME: the whole chain inside the zone, then the target records;
//! - a name that exists (it holds records, or names below it do: an empty
//!   non-terminal) but has no record of the asked type: NOERROR, empty answer;
//! - any other name: NXDOMAIN.
//!
//! Negative answers carry a synthesized SOA at the root whose TTL and MINIMUM are the
//! negative TTL [`ZoneResolver`] uses itself: the smallest `min(SOA TTL, MINIMUM)` of
//! the zone's SOA records (RFC 2308 §5), or 300 s if there are none. The zone's own SOA
//! records are served as ordinary records at their owners.
//!
//! # Differences from [`ZoneResolver`]
//!
//! - hickory-server treats an NS RRset at a name without an SOA as a delegation and
//!   answers every query at or below it with a referral. To serve such NS records as
//!   data, as [`ZoneResolver`] does, an SOA is synthesized at each such name; an SOA
//!   query there therefore gets that SOA where [`ZoneResolver`] answers "no data".
//! - An owner name of `*` is a wildcard for hickory-server, a plain label for
//!   [`ZoneResolver`].
//! - A CNAME cannot share its owner with other records (RFC 1034 §3.6.2); hickory-server
//!   refuses such a zone, and so does [`TestDnsServer::start`].
//! - Identical records at one owner are served once.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::rr::{self as hrr, LowerName, Name, RData, rdata};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use monban_dns::{Record, ZoneResolver};
use tokio::net::{TcpListener, UdpSocket};

/// The negative TTL [`ZoneResolver`] uses when its zone has no SOA.
const DEFAULT_NEGATIVE_TTL: u32 = 300;
/// How long an idle TCP connection is kept open.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Responses buffered per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 32;
/// How many ephemeral ports are tried to find one free for both UDP and TCP.
const PORT_ATTEMPTS: usize = 32;

/// A running authoritative DNS server serving one [`ZoneResolver`]'s records.
///
/// Dropping it without [`TestDnsServer::stop`] also stops it (the server's tasks are
/// aborted), but only [`TestDnsServer::stop`] waits until the sockets are closed.
pub struct TestDnsServer {
    addr: SocketAddr,
    server: Server<Catalog>,
}

impl fmt::Debug for TestDnsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDnsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl TestDnsServer {
    /// Serves every record of `zone` over UDP and TCP on 127.0.0.1 with an ephemeral
    /// port (the same port for both).
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] when hickory-server cannot hold the
    /// zone (a CNAME sharing its owner with other records, a record type this crate
    /// does not know), and with the socket error when no port can be bound.
    pub async fn start(zone: &ZoneResolver) -> io::Result<TestDnsServer> {
        let catalog = catalog(zone)?;
        let (udp, tcp) = bind_pair((Ipv4Addr::LOCALHOST, 0).into()).await?;
        let addr = udp.local_addr()?;
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
        Ok(TestDnsServer { addr, server })
    }

    /// The address served, for UDP and TCP alike.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits until the sockets are closed; afterwards queries to
    /// [`TestDnsServer::addr`] get no answer or "connection refused".
    pub async fn stop(mut self) {
        // The only errors are tasks that had already failed; the sockets are closed
        // either way.
        let _ = self.server.shutdown_gracefully().await;
    }
}

/// Binds a UDP socket and a TCP listener on `addr`, one port for both: for a test's own
/// DNS server or proxy. With port 0, an ephemeral port free for both: the UDP port the
/// system picks says nothing of TCP's, so other ports are tried while the TCP one is
/// taken; any other port is bound as given.
pub async fn bind_pair(addr: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let attempts = if addr.port() == 0 { PORT_ATTEMPTS } else { 1 };
    let mut last_error = None;
    for _ in 0..attempts {
        let udp = UdpSocket::bind(addr).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free port")))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// Builds the catalog: one primary zone at the root holding every record.
fn catalog(zone: &ZoneResolver) -> io::Result<Catalog> {
    let negative_ttl = zone
        .records()
        .filter_map(|(_, record, ttl)| match record {
            Record::Soa { minimum, .. } => Some(ttl.min(*minimum)),
            _ => None,
        })
        .min()
        .unwrap_or(DEFAULT_NEGATIVE_TTL);
    let serial = 1;
    let mut handler = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
        Name::root(),
        ZoneType::Primary,
        AxfrPolicy::Deny,
    );
    let mut upsert = |record: hrr::Record, what: &dyn fmt::Display| {
        if handler.upsert_mut(record, serial) {
            Ok(())
        } else {
            Err(invalid(format!(
                "hickory-server refused {what} (a CNAME must be the only record at its name)"
            )))
        }
    };

    let apex_soa = soa_record(Name::root(), negative_ttl)?;
    upsert(apex_soa, &"the root SOA")?;

    let mut seen = HashSet::new();
    let mut soa_owners = HashSet::new();
    let mut ns_owners = HashSet::new();
    for (owner, record, ttl) in zone.records() {
        if !seen.insert((owner, record)) {
            continue;
        }
        match record {
            Record::Soa { .. } => {
                soa_owners.insert(owner);
            }
            Record::Ns(_) => {
                ns_owners.insert(owner);
            }
            _ => {}
        }
        let converted = hrr::Record::from_rdata(name(owner)?, ttl, rdata(record)?);
        upsert(converted, &format_args!("{owner} {}", record.record_type()))?;
    }
    // An NS RRset without an SOA is a delegation to hickory-server; an SOA makes it a
    // zone apex inside this zone, so the NS records are served as data.
    for owner in ns_owners.difference(&soa_owners) {
        upsert(
            soa_record(name(owner)?, negative_ttl)?,
            &format_args!("the SOA synthesized at {owner}"),
        )?;
    }

    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::new(&Name::root()), vec![Arc::new(handler)]);
    Ok(catalog)
}

/// A synthesized SOA whose TTL and MINIMUM are both `negative_ttl`.
fn soa_record(owner: Name, negative_ttl: u32) -> io::Result<hrr::Record> {
    let soa = rdata::SOA::new(
        name("ns.monban-testdns.invalid")?,
        name("hostmaster.monban-testdns.invalid")?,
        1,
        7200,
        900,
        1_209_600,
        negative_ttl,
    );
    Ok(hrr::Record::from_rdata(
        owner,
        negative_ttl,
        RData::SOA(soa),
    ))
}

/// A normalized monban name (no trailing dot, `""` for the root) as an absolute name.
fn name(normalized: &str) -> io::Result<Name> {
    if normalized.is_empty() {
        return Ok(Name::root());
    }
    Name::from_labels(normalized.split('.').map(str::as_bytes))
        .map_err(|e| invalid(format!("{normalized:?} is not a valid DNS name: {e}")))
}

fn rdata(record: &Record) -> io::Result<RData> {
    Ok(match record {
        Record::A(a) => RData::A(rdata::A(*a)),
        Record::Aaaa(a) => RData::AAAA(rdata::AAAA(*a)),
        Record::Mx {
            preference,
            exchange,
        } => RData::MX(rdata::MX::new(*preference, name(exchange)?)),
        Record::Txt(txt) => RData::TXT(rdata::TXT::from_bytes(txt.strings().collect())),
        Record::Ptr(target) => RData::PTR(rdata::PTR(name(target)?)),
        Record::Cname(target) => RData::CNAME(rdata::CNAME(name(target)?)),
        Record::Ns(target) => RData::NS(rdata::NS(name(target)?)),
        Record::Soa {
            mname,
            rname,
            serial,
            minimum,
        } => RData::SOA(rdata::SOA::new(
            name(mname)?,
            name(rname)?,
            *serial,
            7200,
            900,
            1_209_600,
            *minimum,
        )),
        other => {
            return Err(invalid(format!(
                "{} records are not supported by monban-testdns",
                other.record_type()
            )));
        }
    })
}
