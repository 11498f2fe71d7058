//! The DNS source every command uses (DESIGN §4): zone files, given servers, or the
//! system resolver.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use monban_dns::{CachingResolver, HickoryConfig, HickoryResolver, SharedResolver, ZoneResolver};

use crate::Failure;

/// Where DNS answers come from.
#[derive(Debug, Args)]
pub struct DnsArgs {
    /// Answer DNS only from this zone file (RFC 1035 format; repeat for several files).
    /// Names not in the file(s) do not exist.
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        conflicts_with = "dns_server"
    )]
    zone: Vec<PathBuf>,
    /// Ask this DNS server (IP or IP:PORT; repeat for several) instead of the system's.
    #[arg(long, value_name = "IP[:PORT]", global = true)]
    dns_server: Vec<String>,
    /// Seconds to wait for one DNS answer [default: 3].
    #[arg(long, value_name = "SECONDS", global = true)]
    dns_timeout: Option<u64>,
}

/// Seconds to wait for one DNS answer when `--dns-timeout` is not given.
const DEFAULT_DNS_TIMEOUT: u64 = 3;

/// The resolver a command runs with: zone files in memory, or real DNS, cached.
pub type DnsSource = SharedResolver;

/// Parses `IP` or `IP:PORT` (`[v6]:PORT` for IPv6 with a port).
fn parse_server(s: &str) -> Result<SocketAddr, Failure> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    s.parse::<SocketAddr>().map_err(|_| {
        Failure::usage(format!(
            "--dns-server {s:?} is not an IP address or IP:PORT (write IPv6 with a port as [addr]:port)"
        ))
    })
}

/// Says on stderr which records of a zone file were not read (types monban does not
/// answer): a record the user expected to be answered would otherwise be missing
/// without a word. The first five, then how many more.
pub fn warn_skipped(zone: &ZoneResolver) {
    let skipped = zone.skipped();
    for s in skipped.iter().take(5) {
        errln!(
            "monban: warning: zone file {}, line {}: type {} is not read (A, AAAA, MX, TXT, PTR, CNAME, NS, SOA and SPF are)",
            s.source_name,
            s.line,
            s.rtype
        );
    }
    if skipped.len() > 5 {
        errln!(
            "monban: warning: {} more record(s) of types not read",
            skipped.len() - 5
        );
    }
}

impl DnsArgs {
    /// Builds the resolver: loading zone files can fail (exit 1), and so can reading the
    /// system configuration.
    pub fn build(&self) -> Result<DnsSource, Failure> {
        let timeout = self
            .timeout()?
            .unwrap_or(Duration::from_secs(DEFAULT_DNS_TIMEOUT));
        self.build_with_timeout(timeout)
    }

    /// [`DnsArgs::build`], waiting `timeout` for one answer (the milter's `[dns]
    /// timeout_seconds` when `--dns-timeout` is not given).
    pub fn build_with_timeout(&self, timeout: Duration) -> Result<DnsSource, Failure> {
        if !self.zone.is_empty() {
            let mut zone = ZoneResolver::new();
            for path in &self.zone {
                zone.load_file(path)
                    .map_err(|e| Failure::other(format!("zone file {e}")))?;
            }
            warn_skipped(&zone);
            // Cached as the network resolver is: the same path for every answer (the
            // DKIM key parsed once with its cached record, not per message).
            return Ok(SharedResolver::new(CachingResolver::new(zone)));
        }
        let servers = self
            .dns_server
            .iter()
            .map(|s| parse_server(s))
            .collect::<Result<Vec<_>, _>>()?;
        let config = HickoryConfig {
            servers,
            timeout,
            attempts: 2,
        };
        let resolver = HickoryResolver::new(&config).map_err(Failure::other)?;
        Ok(SharedResolver::new(CachingResolver::new(resolver)))
    }

    /// Whether `--zone` or `--dns-server` was given (the milter then takes DNS from the
    /// command line, not from its configuration's `[dns]`).
    pub fn source_given(&self) -> bool {
        !self.zone.is_empty() || !self.dns_server.is_empty()
    }

    /// Checks the DNS flags' values whether or not the command asks DNS: they are
    /// global, and a bad `--dns-timeout` or `--dns-server` given to a command that
    /// happens not to need DNS this time (`report summary --no-rdns`, `keygen`) is a
    /// mistake all the same, better named at once than when the next run does ask.
    pub fn check(&self) -> Result<(), Failure> {
        self.timeout()?;
        for s in &self.dns_server {
            parse_server(s)?;
        }
        Ok(())
    }

    /// `--dns-timeout`, when given.
    pub fn timeout(&self) -> Result<Option<Duration>, Failure> {
        match self.dns_timeout {
            None => Ok(None),
            Some(s @ 1..=300) => Ok(Some(Duration::from_secs(s))),
            Some(_) => Err(Failure::usage(
                "--dns-timeout must be between 1 and 300 seconds",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses() {
        assert_eq!(
            parse_server("192.0.2.1").unwrap(),
            "192.0.2.1:53".parse().unwrap()
        );
        assert_eq!(
            parse_server("192.0.2.1:5353").unwrap(),
            "192.0.2.1:5353".parse().unwrap()
        );
        assert_eq!(parse_server("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(
            parse_server("[::1]:5353").unwrap(),
            "[::1]:5353".parse().unwrap()
        );
        assert!(parse_server("dns.example").is_err());
    }
}
