//! DNS block and allow lists (RFC 5782): is the SMTP client's address listed in a zone?
//!
//! The query name is the address reversed under the zone (§2.1: IPv4 octets; §2.4:
//! IPv6 nibbles), and an A answer in 127.0.0.0/8 says "listed" (§2.3); the TXT record
//! a list may publish as the reason (§2.1) is not asked for. Each zone has a filter on the return codes (a set of codes, or a bit mask
//! as many lists encode categories) and a weight; allow lists (DNSWL) that list the
//! client make the block lists not asked at all. A list that fails (timeout, SERVFAIL)
//! never lists anybody: its result is `temperror`.

use std::net::{IpAddr, Ipv4Addr};

use monban_dns::{LookupError, Record, RecordType, Resolver};

/// The most zones asked per client (each is one query, all at once).
pub const MAX_ZONES: usize = 32;

/// The most return codes kept per answer.
pub const MAX_CODES: usize = 16;

/// What a zone is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// A block list (DNSBL).
    Block,
    /// An allow list (DNSWL): a listed client skips the block lists.
    Allow,
}

/// Which return codes count as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeFilter {
    /// Any address in 127.0.0.0/8 but 127.0.0.1 (RFC 5782 §2.3: 127.0.0.1 is never a
    /// listing; it is what lists answer to queries they refuse).
    Any,
    /// One of these addresses.
    Codes(Vec<Ipv4Addr>),
    /// An address in 127.0.0.0/8 whose last octet has a bit of this mask set.
    Mask(u8),
}

impl std::fmt::Display for Zone {
    /// The zone as users give it ([`Zone::parse`]): `ZONE`, `ZONE=CODE,...` or
    /// `ZONE&MASK`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.zone)?;
        match &self.filter {
            CodeFilter::Any => Ok(()),
            CodeFilter::Codes(codes) => {
                let codes: Vec<String> = codes.iter().map(ToString::to_string).collect();
                write!(f, "={}", codes.join(","))
            }
            CodeFilter::Mask(m) => write!(f, "&{m}"),
        }
    }
}

/// Whether a list's answer says it refused the query rather than listed the client.
/// Not RFC 5782's (§2.3 names only 127.0.0.1); the lists' own: Spamhaus answers
/// 127.255.255.252 (a typo in the zone name), .254 (a query through a public or open
/// resolver) and .255 (too many queries), and keeps 127.255.255.0/24 for such answers;
/// dnswl.org answers 127.0.0.255. Counted as listings, a receiver asking Spamhaus
/// through a public resolver would find every client listed and refuse all mail, and
/// a refused allow-list query would switch every block list off.
pub fn is_refusal(code: Ipv4Addr) -> bool {
    let o = code.octets();
    (o[..3] == [127, 255, 255]) || code == Ipv4Addr::new(127, 0, 0, 255)
}

impl CodeFilter {
    fn accepts(&self, code: Ipv4Addr) -> bool {
        let o = code.octets();
        if o[0] != 127 {
            return false;
        }
        match self {
            // A code named by the user counts even if it looks like a refusal.
            Self::Codes(c) => c.contains(&code),
            _ if is_refusal(code) => false,
            Self::Any => code != Ipv4Addr::new(127, 0, 0, 1),
            Self::Mask(m) => o[3] & m != 0,
        }
    }

    /// Whether `code` is a refusal this filter does not take as a listing.
    fn refuses(&self, code: Ipv4Addr) -> bool {
        is_refusal(code) && !self.accepts(code)
    }
}

/// One configured zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// The zone (`zen.spamhaus.org`, `list.dnswl.org`).
    pub zone: String,
    /// Block or allow.
    pub kind: ListKind,
    /// Which codes count.
    pub filter: CodeFilter,
}

impl Zone {
    /// Parses a zone as users give it: `ZONE`, `ZONE=CODE,CODE,...` (addresses in
    /// 127.0.0.0/8) or `ZONE&MASK` (a bit mask on the last octet, decimal or `0x..`).
    pub fn parse(spec: &str, kind: ListKind) -> Result<Self, String> {
        let (zone, filter) = if let Some((z, codes)) = spec.split_once('=') {
            let codes = codes
                .split(',')
                .map(|c| {
                    c.trim()
                        .parse::<Ipv4Addr>()
                        .ok()
                        .filter(|a| a.octets()[0] == 127)
                        .ok_or_else(|| format!("{c:?} is not a return code in 127.0.0.0/8"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            (z, CodeFilter::Codes(codes))
        } else if let Some((z, mask)) = spec.split_once('&') {
            let m = mask.trim();
            let value = match m.strip_prefix("0x") {
                Some(hex) => u8::from_str_radix(hex, 16),
                None => m.parse::<u8>(),
            }
            .map_err(|_| format!("{mask:?} is not a mask from 1 to 255"))?;
            if value == 0 {
                return Err("a mask of 0 lists nobody".into());
            }
            (z, CodeFilter::Mask(value))
        } else {
            (spec, CodeFilter::Any)
        };
        let zone = monban_dns::normalize_name(zone.trim())
            .ok()
            .filter(|z| crate::dkim::signature::is_dns_name(z))
            .ok_or_else(|| format!("{zone:?} is not a zone name"))?;
        Ok(Self { zone, kind, filter })
    }
}

/// The query result for one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsblResult {
    /// Listed (an accepted code).
    Listed,
    /// Not listed (NXDOMAIN, or only codes the filter does not accept).
    NotListed,
    /// Not asked: an allow list listed the client.
    Skipped,
    /// The list did not answer usably; it lists nobody.
    Temperror,
}

impl DnsblResult {
    /// The name used in the JSON and the A-R.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Listed => "listed",
            Self::NotListed => "not-listed",
            Self::Skipped => "skipped",
            Self::Temperror => "temperror",
        }
    }
}

/// One zone's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsblOutcome {
    /// The zone.
    pub zone: String,
    /// Block or allow.
    pub kind: ListKind,
    /// The result.
    pub result: DnsblResult,
    /// The codes answered (accepted or not), at most [`MAX_CODES`].
    pub codes: Vec<Ipv4Addr>,
}

impl DnsblOutcome {
    /// Whether the zone lists the client.
    pub fn listed(&self) -> bool {
        self.result == DnsblResult::Listed
    }
}

/// The name to query for `ip` in `zone` (RFC 5782 §2.1, §2.4); IPv4-mapped IPv6
/// addresses are asked as IPv4.
pub fn query_name(ip: IpAddr, zone: &str) -> String {
    match crate::iprev::unmapped(ip) {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.{zone}", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(64 + zone.len() + 1);
            for byte in v6.octets().iter().rev() {
                for nibble in [byte & 0x0f, byte >> 4] {
                    s.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                    s.push('.');
                }
            }
            s.push_str(zone);
            s
        }
    }
}

async fn ask<R: Resolver>(resolver: &R, ip: IpAddr, zone: &Zone) -> DnsblOutcome {
    let out = |result, codes| DnsblOutcome {
        zone: zone.zone.clone(),
        kind: zone.kind,
        result,
        codes,
    };
    match resolver
        .lookup(&query_name(ip, &zone.zone), RecordType::A)
        .await
    {
        Ok(answer) => {
            // Every code counts for the verdict; the first MAX_CODES are recorded.
            let mut codes: Vec<Ipv4Addr> = Vec::new();
            let (mut listed, mut refused) = (false, false);
            for code in answer.records.iter().filter_map(|r| match r {
                Record::A(a) => Some(*a),
                _ => None,
            }) {
                listed |= zone.filter.accepts(code);
                refused |= zone.filter.refuses(code);
                if codes.len() < MAX_CODES {
                    codes.push(code);
                }
            }
            // A refusal lists nobody: the list did not answer the question.
            let result = match (listed, refused) {
                (true, _) => DnsblResult::Listed,
                (false, true) => DnsblResult::Temperror,
                (false, false) => DnsblResult::NotListed,
            };
            out(result, codes)
        }
        Err(e) if e.is_empty_answer() => out(DnsblResult::NotListed, Vec::new()),
        Err(LookupError::InvalidName { .. }) => out(DnsblResult::Temperror, Vec::new()),
        Err(_) => out(DnsblResult::Temperror, Vec::new()),
    }
}

/// Asks the zones about `ip`: the allow lists first (all at once), then, unless one
/// lists the client, the block lists (all at once). At most [`MAX_ZONES`] zones; the
/// rest are reported `temperror`.
pub async fn check<R: Resolver>(resolver: &R, ip: IpAddr, zones: &[Zone]) -> Vec<DnsblOutcome> {
    let (asked, over) = zones.split_at(zones.len().min(MAX_ZONES));
    let allow: Vec<&Zone> = asked.iter().filter(|z| z.kind == ListKind::Allow).collect();
    let block: Vec<&Zone> = asked.iter().filter(|z| z.kind == ListKind::Block).collect();
    let allowed = crate::pipeline::join_all(
        allow
            .iter()
            .map(|z| Box::pin(ask(resolver, ip, z)))
            .collect(),
    )
    .await;
    let skip = allowed.iter().any(DnsblOutcome::listed);
    let blocked = if skip {
        block
            .iter()
            .map(|z| DnsblOutcome {
                zone: z.zone.clone(),
                kind: z.kind,
                result: DnsblResult::Skipped,
                codes: Vec::new(),
            })
            .collect()
    } else {
        crate::pipeline::join_all(
            block
                .iter()
                .map(|z| Box::pin(ask(resolver, ip, z)))
                .collect(),
        )
        .await
    };
    let mut out = allowed;
    out.extend(blocked);
    out.extend(over.iter().map(|z| DnsblOutcome {
        zone: z.zone.clone(),
        kind: z.kind,
        result: DnsblResult::Temperror,
        codes: Vec::new(),
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use monban_dns::ZoneResolver;

    #[test]
    fn zone_specs() {
        assert_eq!(
            Zone::parse("bl.example=127.0.0.2,127.0.0.3", ListKind::Block)
                .unwrap()
                .filter,
            CodeFilter::Codes(vec![
                Ipv4Addr::new(127, 0, 0, 2),
                Ipv4Addr::new(127, 0, 0, 3)
            ])
        );
        assert_eq!(
            Zone::parse("bl.example&0x0c", ListKind::Block)
                .unwrap()
                .filter,
            CodeFilter::Mask(12)
        );
        assert!(Zone::parse("bl.example=10.0.0.1", ListKind::Block).is_err());
        assert!(Zone::parse("bl.example&0", ListKind::Block).is_err());
        assert!(Zone::parse("bad zone", ListKind::Block).is_err());
    }

    #[test]
    fn rfc5782_2_query_names() {
        assert_eq!(
            query_name("192.0.2.99".parse().unwrap(), "bl.example"),
            "99.2.0.192.bl.example"
        );
        assert_eq!(
            query_name("::ffff:192.0.2.99".parse().unwrap(), "bl.example"),
            "99.2.0.192.bl.example"
        );
        // RFC 5782 §2.4's example.
        assert_eq!(
            query_name(
                "2001:db8:1:2:3:4:567:89ab".parse().unwrap(),
                "ugly.example.com"
            ),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com"
        );
    }

    fn zone(name: &str, kind: ListKind, filter: CodeFilter) -> Zone {
        Zone {
            zone: name.into(),
            kind,
            filter,
        }
    }

    /// Codes, masks, 127.0.0.1, allow lists that skip the block lists, and a list that
    /// fails (it lists nobody).
    #[test]
    fn rfc5782_2_3_listing_and_filters() {
        let z = ZoneResolver::parse(
            "99.2.0.192.bl.example. A 127.0.0.2\n99.2.0.192.mask.example. A 127.0.0.4\n99.2.0.192.refuse.example. A 127.0.0.1\n98.2.0.192.wl.example. A 127.0.10.1\n",
            "z",
            None,
        )
        .unwrap();
        let run = |ip: &str, zones: &[Zone]| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(check(&z, ip.parse().unwrap(), zones))
        };
        let zones = [
            zone("bl.example", ListKind::Block, CodeFilter::Any),
            zone("mask.example", ListKind::Block, CodeFilter::Mask(0x02)),
            zone("refuse.example", ListKind::Block, CodeFilter::Any),
            zone(
                "codes.example",
                ListKind::Block,
                CodeFilter::Codes(vec![Ipv4Addr::new(127, 0, 0, 2)]),
            ),
        ];
        let r = run("192.0.2.99", &zones);
        let results: Vec<DnsblResult> = r.iter().map(|o| o.result).collect();
        assert_eq!(
            results,
            [
                DnsblResult::Listed,
                DnsblResult::NotListed,
                DnsblResult::NotListed,
                DnsblResult::NotListed
            ]
        );
        // Past the codes recorded, a code still counts: 20 codes, the accepted one last.
        let mut many = String::new();
        for i in 0..20 {
            many.push_str(&format!("97.2.0.192.many.example. A 127.0.1.{i}\n"));
        }
        let z2 = ZoneResolver::parse(&many, "z", None).unwrap();
        let only_last = [zone(
            "many.example",
            ListKind::Block,
            CodeFilter::Codes(vec![Ipv4Addr::new(127, 0, 1, 19)]),
        )];
        let r = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(check(&z2, "192.0.2.97".parse().unwrap(), &only_last));
        assert_eq!(r[0].result, DnsblResult::Listed, "{r:?}");
        assert_eq!(r[0].codes.len(), MAX_CODES);
        // Refusals (Spamhaus's 127.255.255.0/24, dnswl.org's 127.0.0.255) are no
        // listing, with any filter but codes that name them: the list failed to
        // answer. A refused allow list does not switch the block lists off.
        let z3 = ZoneResolver::parse(
            "96.2.0.192.bl.example. A 127.255.255.254\n96.2.0.192.wl.example. A 127.0.0.255\n",
            "z",
            None,
        )
        .unwrap();
        let refusing = [
            zone("wl.example", ListKind::Allow, CodeFilter::Any),
            zone("bl.example", ListKind::Block, CodeFilter::Any),
            zone("bl.example", ListKind::Block, CodeFilter::Mask(0x0c)),
            zone(
                "bl.example",
                ListKind::Block,
                CodeFilter::Codes(vec![Ipv4Addr::new(127, 255, 255, 254)]),
            ),
        ];
        let r = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(check(&z3, "192.0.2.96".parse().unwrap(), &refusing));
        let results: Vec<DnsblResult> = r.iter().map(|o| o.result).collect();
        assert_eq!(
            results,
            [
                DnsblResult::Temperror,
                DnsblResult::Temperror,
                DnsblResult::Temperror,
                DnsblResult::Listed
            ],
            "{r:?}"
        );
        assert_eq!(r[1].codes, [Ipv4Addr::new(127, 255, 255, 254)]);
        let mut with_allow = zones.to_vec();
        with_allow.push(zone("wl.example", ListKind::Allow, CodeFilter::Any));
        let r = run("192.0.2.98", &with_allow);
        assert!(r.iter().any(|o| o.kind == ListKind::Allow && o.listed()));
        assert!(
            r.iter()
                .filter(|o| o.kind == ListKind::Block)
                .all(|o| o.result == DnsblResult::Skipped)
        );
    }
}
