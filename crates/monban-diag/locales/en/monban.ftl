# monban's messages, English. Translators: copy this file to locales/<lang>/monban.ftl
# and translate the text after "="; keep the identifiers and the { $arguments }.
# Fluent syntax: https://projectfluent.org/fluent/guide/

## The frame of every page
skip-to-content = Skip to the content
nav-label = Main
nav-analyze = Header analyzer
nav-check = Domain checker
nav-reports = Report dashboard
language = Language
footer = monban: everything is computed on this server; nothing is sent elsewhere.
error-title = Something went wrong
back-to-start = Back to the start page
not-found = There is no such page.
no-answer-in-time = No answer within { $seconds } s: a DNS server may be slow. Try again in a moment.
csrf-refused = The form was refused: it did not come from this site's page (or the page is too old). Reload the page and send it again.
login-needed = The report dashboard needs a login.
copy = Copy
copied = Copied
yes = yes
no = no
warning = Warning:
info = Note:

## Traffic lights (never colour alone)
light-green = OK
light-yellow = Improve
light-red = Broken
light-grey = Unknown

## Durations
dur-s = { $s } s
dur-min-s = { $m } min { $s } s
dur-h-min = { $h } h { $m } min
dur-min = { $m } min
dur-h = { $h } h
dur-d = { $d } d
dur-negative = -{ $d }
dur-d-h = { $d } d { $h } h

## Start page
start-title = Check mail authentication
start-intro = monban verifies SPF, DKIM and DMARC itself: it does not take a message's word for it.
start-analyze = Paste a message or its header: the path it took, what each receiver recorded, what monban finds now, and what changed a broken DKIM signature.
start-check = Check a domain's SPF, DMARC and DKIM records and get the corrected records to publish.
start-reports = The DMARC and TLS reports received for your domains: who sends as you, who fails, and whether a stricter policy is safe.
start-privacy = Messages you analyze are not stored. A permalink holds the message itself in the link.

## Header analyzer
analyze-title = Header analyzer
analyze-message-label = Message or header
analyze-message-help = Paste the whole message (best: DKIM can then be checked) or only its header. You can also drop a file here.
analyze-file-label = Or upload a file
analyze-verify-label = Verify again with live DNS (SPF, DKIM, DMARC)
analyze-verify-help = monban then looks up the keys and policies now and compares its results with those recorded in the message.
analyze-submit = Analyze
analyze-again = Analyze another message
analyze-bad-form = The form could not be read: { $why }
request-too-large = The request is larger than { $max } bytes, the most this server takes.
request-refused = The request was refused ({ $status }).
analyze-form-too-large = The message is larger than this server takes. Paste only the header, or ask its administrator to raise --max-body.
analyze-empty = No message: paste one or choose a file.
analyze-unreadable = The message cannot be read: { $why }
analyze-header-too-large = The header is larger than { $max } bytes.
analyze-overview = The message
analyze-overview-caption = Fields as the message gives them (not verified)
field-from = From
field-subject = Subject
field-date = Date
field-message-id = Message-ID
field-return-path = Return-Path
field-sender = Sender
field-reply-to = Reply-To
permalink = Permalink to this analysis
permalink-help = (the message is in the link itself; nothing is stored)
permalink-too-long = This message is too large for a permalink.
permalink-bad = The permalink is damaged or too large.
analyze-alignment = Alignment with the From domain
analyze-no-from-domain = The message has no usable From domain: DMARC cannot apply.
align-from = From domain: { $domain }
align-spf = SPF (Return-Path)
align-dkim = DKIM signature { $n }
align-nothing = No SPF or DKIM identifier to compare.
align-caption = DMARC needs one of these to pass and align: strict means the same name, relaxed the same organizational domain.
analyze-hops = The path (oldest first)
analyze-no-hops = The header has no Received fields.
analyze-total-delay = Total: { $delay }
analyze-hops-caption = Time between hops. A negative time means the two hosts' clocks disagree: it is shown as clock skew, not as a delay.
analyze-hops-table = Every hop, oldest first
clock-skew = clock skew { $delay }
delay-unknown = unknown
analyze-recorded = What the receivers recorded
analyze-trust-help = Only a result written by a host you trust, above the first hop, counts. Any other is a claim: anyone can write these fields.
analyze-nothing-recorded = No Authentication-Results, ARC-Authentication-Results or Received-SPF field.
recorded-by = by { $id }
recorded-unparseable = Not valid RFC 8601 ({ $why }); read leniently.
trusted = trusted
claimed = claimed, not verified
claimed-result = { $result } (claimed)
claimed-before-first-hop = Written below the first receiving host: it was in the message before it arrived.
claimed-unknown-id = Written by a host this server does not trust (add it with --trust-authserv-id).
analyze-verification = monban's own verification
verify-envelope = Envelope used: IP { $ip }, HELO { $helo }, MAIL FROM { $from } (from { $source }).
envelope-given = --ip, --helo and --mail-from (what was not given: the header)
envelope-from-received-spf = the Received-SPF field of { $named ->
        [yes] { $receiver }
       *[no] an unnamed receiver
    }
envelope-from-hop = hop { $hop } (received by { $by })
envelope-from-hop-past-received-spf = hop { $hop } (received by { $by }); the Received-SPF field of { $named ->
        [yes] { $receiver }
       *[no] an unnamed receiver
    } names client-ip { $ip }, which the Received fields above it do not confirm: not used
envelope-none = no client address in the header: SPF not checked
verify-differences = Recorded results beside monban's: { $n } differ
diff-same = The same.
diff-not-recorded = Nobody recorded this result.
diff-not-comparable = monban has no result for this.
diff-dkim-changed = It passed on arrival and fails now: the message changed after it was signed and recorded (see the diagnosis below), or the key was removed or replaced since.
diff-dkim-now-passes = It fails as recorded and passes now: the receiver could not fetch the key then, or the key was published since.
diff-spf-envelope = SPF depends on the connecting IP and the MAIL FROM: monban takes them from the Received fields, which may not be those the receiver saw; the SPF record may also have changed since.
diff-dmarc-follows = DMARC follows from the SPF and DKIM results above.
diff-other = The results differ; the DNS may have changed since the message was received.
analyze-signatures = DKIM signatures
analyze-no-signatures = The message has no DKIM signature.
signature-title = Signature { $n }: d={ $d }, s={ $s }
signer-author = signed by the author's domain
signer-third-party = signed by a third party
signature-tags = The { $n } tags explained
diagnosis-title = What changed, and where
grade-proven = Proven:
grade-likely = Likely:
grade-unknown = Unknown:
diagnosis-nothing = no cause could be found.
analyze-warnings = Warnings

## Table columns
col-from = From
col-by = By
col-with = With
col-time = Time
col-delay = Delay
col-method = Method
col-result = Result
col-details = Details
col-about = About
col-recorded = Recorded
col-monban = monban now
col-why = Why
col-tag = Tag
col-value = Value
col-meaning = Meaning
col-identifier = Identifier
col-domain = Domain
col-strict = Strict
col-relaxed = Relaxed
col-ip = IP address
col-rdns = Reverse DNS
col-org-domain = Organization
col-messages = Messages
col-dmarc-pass = DMARC pass
col-dmarc-fail = DMARC fail
col-auth = Authentication
col-reporter = Reporter
col-reporters = Reporters
col-reports = Reports
col-other-disposition = other
col-other-disposition-title = Dispositions other than none, quarantine and reject, which some reporters write (such as pass)
col-measure = Measure
col-disposition = Disposition
col-successful = Successful
col-failed = Failed
col-failures = Failures
col-sender = Sender
col-failing = Failing
col-action = What to do

## Domain checker
check-title = Domain checker
check-domain-label = Domain
check-selectors-label = DKIM selectors
check-selectors-help = Separated by spaces, e.g. "s1 google". Leave empty if you do not know them.
check-discover-label = Also try common selector names
check-ips-label = Sending IP addresses
check-ips-help = Optional, up to 10: monban then predicts what receivers decide for mail from them.
check-submit = Check
check-again = Check again
check-fix = Publish or change:
check-bad-ip = { $ip } is not an IP address.
check-too-many-ips = At most 10 IP addresses.
check-spf-lookups = { $n } DNS lookups out of the 10 allowed (RFC 7208 §4.6.4).
check-spf-networks = The { $n } networks the SPF policy allows
check-dmarc-at = DMARC record found at { $domain }.
check-sending-caption = SPF for each sending address
check-disposition = what receivers do:
area-mx = Mail exchangers (MX)
area-spf = SPF
area-dmarc = DMARC
area-dkim = DKIM
area-adsp = ADSP (historic)
area-sending = The sending setup

## Report dashboard
reports-title = Report dashboard
reports-domain-label = Domain
reports-since-label = From
reports-until-label = To
reports-submit = Show
reports-with-rdns = Show the reverse DNS names of the sources (slower)
reports-none = No report for this selection.
reports-no-store = No report store: { $why }
reports-domains = Domains
reports-counts = { $reports } reports, { $messages } messages
reports-policy = policy p={ $policy } ({ $source })
policy-source-dns = as published now
policy-source-reports = as the reports say
reports-rates-caption = Share of messages that passed
reports-rates-table = Pass rates
reports-disposition-caption = What receivers did with the messages
reports-disposition-table = Dispositions
stat-dmarc-pass = DMARC pass
stat-dkim-aligned = DKIM aligned pass
stat-spf-aligned = SPF aligned pass
reports-reporters = Who reported
reports-top-sources = Top sources
reports-failing-sources = Sources that fail DMARC
reports-no-failing = No source fails DMARC.
reports-forwarders = Likely forwarders
forwarder = (forwarder)
reports-advice = Next policy step:
advice-safe = safe
advice-not-yet = not yet
reports-hurt = Legitimate senders the next step would hurt
reports-tls = TLS reports (RFC 8460)
reports-tls-left-out = Only the newest { $rows } TLS policy rows of this period are counted; older ones are left out (choose a shorter period to see them).
reports-rdns-not-looked-up = Sources not looked up in the reverse DNS: { $n } (the first { $each } of each domain are looked up, { $total } in all, within { $seconds } s); their name is shown as —.
reports-daily-left-out = Only the newest { $days } days are shown; older days are left out (choose a shorter period to see them).

## Domain checker findings (shared by `monban check` and the checker page)
list-sep = ;{" "}
mx-null = { $domain } publishes a null MX (RFC 7505): it accepts no mail
mx-count = { $n } MX record(s)
mx-null-mixed = { $domain } publishes a null MX beside other MX records: RFC 7505 §3 says a null MX must be the only one, and senders may treat the domain as taking no mail
fix-mx-null-mixed = delete the null MX "{ $domain }. MX 0 ." if { $domain } receives mail, or the other MX records if it does not
mx-ip = the MX host { $host } is an address, not a name: RFC 5321 §5.1 wants a host name, and many senders do not deliver to it
fix-mx-ip = name the host: "{ $domain }. MX 10 HOST." with "HOST. A { $host }"
mx-cname = the MX host { $host } is an alias (CNAME): RFC 2181 §10.3 says an MX must name the host itself, and some senders refuse it
fix-mx-cname = name the host the alias { $host } points to in the MX record
mx-no-address = the MX host { $host } has no A or AAAA record: mail cannot be delivered to it
mx-none-reachable = none of the MX hosts of { $domain } has an address: mail to { $domain } cannot be delivered
fix-mx-none-reachable = publish A/AAAA records for the MX hosts, or MX records naming hosts that have them
mx-lookup-failed = MX lookup failed: { $error }
domain-nxdomain = { $domain } does not exist in the DNS
mx-none = { $domain } has no MX record: it cannot receive mail (bounces and replies to it are lost)
fix-mx-none = publish an MX record naming the host that receives { $domain }'s mail ("{ $domain }. MX 10 HOST."), or a null MX "{ $domain }. MX 0 ." if it receives no mail
mx-implicit = { $domain } has no MX record: mail to it goes to the host of its A/AAAA record (the implicit MX, RFC 5321 §5.1), which some senders do not try
fix-mx-implicit = { $domain }. MX 10 { $domain }.  (the same host, named; or a null MX "{ $domain }. MX 0 ." if it receives no mail)
spf-lookup-failed = TXT lookup failed: { $error }
spf-type-99 = an SPF-type (99) record is published: RFC 7208 §3.1 retired that type; only TXT is read
fix-spf-type-99 = delete the SPF-type record of { $domain }; keep the TXT one
fix-spf-type-99-only = publish the SPF-type record of { $domain } as a TXT record (the SPF finding's fix gives it), then delete the SPF-type one
spf-near-miss = { $domain } has a TXT record that looks like SPF but does not start with "v=spf1" (white space or quotation marks around it: { $record }), so receivers ignore it and the domain has no SPF policy (RFC 7208 §4.5)
fix-spf-near-miss = { $record }  (the same record, without the white space or quotation marks around it; delete the old one)
fix-spf-from-type-99 = { $record }  (the record published as the retired SPF type, as TXT)
fix-spf-from-sender-id = { $record }  (the terms of the spf2.0/mfrom Sender ID record as an SPF record, which receivers read; check that it lists every host that sends)
spf-none = { $domain } publishes no SPF record: anyone can send as it as far as SPF is concerned
fix-spf-none-mx = { $domain }. TXT "v=spf1 mx -all"  (list every host that sends as { $domain })
fix-spf-none-a = { $domain }. TXT "v=spf1 a -all"  (list every host that sends as { $domain })
fix-spf-none-no-mail = { $domain }. TXT "v=spf1 -all"  (if this domain sends no mail; if it does, list the hosts that send as it before -all)
spf-several = { $n } SPF records: receivers treat this as a permanent error (RFC 7208 §4.5)
fix-spf-several = { $record }  (the records merged into one; delete the others)
fix-spf-several-by-hand = merge the { $n } records into one by hand, keeping every host that sends, then delete the others: merged as they are they would not work either (the next finding says why)
spf-merged-syntax = the records cannot be merged into one that parses ({ $error }): mend that term in the published records first
spf-merged-lookups = the merged record would make { $n } DNS lookups, over the { $limit } RFC 7208 §4.6.4 allows (receivers would give permerror): drop or flatten includes before publishing it
spf-syntax = the SPF record does not parse ({ $error }): receivers give permerror
fix-spf-syntax = fix the term named above
spf-big = the TXT records of this name make a DNS answer of { $size } bytes (the SPF record alone { $spf }): RFC 7208 §3.4 asks that it fit in { $max } bytes, since resolvers that cannot get a larger answer (no EDNS, TCP blocked) give receivers a temperror
fix-spf-big = shorten the record (ip4:/ip6: networks merged into wider ones, unused includes dropped) or move TXT records that are not SPF (site verification tokens) to other names
spf-ptr = the record uses ptr, which RFC 7208 §5.5 says not to use (slow, unreliable)
fix-spf-ptr = { $record }  (ptr removed: add ip4:/ip6: or a: terms for the hosts it matched)
spf-pass-all = the record ends in +all: every host on the Internet may send as this domain
spf-neutral-all = the record ends in ?all: hosts not listed get neutral, which protects nothing
fix-spf-end-all = { $record }  (~all instead of -all while testing)
fix-spf-add-senders = { $record }  (list every host that sends as { $domain } before ~all: ip4:, ip6:, a:, mx or include: terms; then -all)
spf-softfail-all = the record ends in ~all (softfail): unlisted hosts fail softly; DMARC decides
spf-fail-all = the record ends in -all
spf-no-all = the record has no all mechanism: unlisted hosts get neutral
spf-no-all-redirect = the policy reached by redirect= has no all mechanism: unlisted hosts get neutral
spf-ending-at = { $what } (in the record of { $domain }, which the policy reaches by redirect=)
spf-for-ipv6 = for IPv6 clients: { $what }
spf-pass-everyone = { $mechanism } in the record of { $at } lets every host pass (an included record that ends in +all, a redirect= target ending in +all, or a network of every address): every host on the Internet may send as this domain
spf-neutral-everyone = { $mechanism } in the record of { $at } gives every host not listed before it neutral, which protects nothing
spf-wide = { $mechanism } in the record of { $at } allows a network wider than any one organization sends from: a large part of the Internet may send as this domain
fix-spf-everyone = change { $mechanism } in the record of { $at } so that it matches only the hosts that send this domain's mail (end with ~all or -all; do not include a record that ends in +all)
spf-lookups-over = more than { $limit } DNS-querying terms in the whole policy (RFC 7208 §4.6.4 allows 10; exp= does not count)
spf-lookups = { $n } DNS-querying terms in the whole policy (RFC 7208 §4.6.4 allows 10; exp= does not count)
spf-lookups-at-least = at least { $n } DNS-querying terms (the evaluation stopped early: { $cause }) (RFC 7208 §4.6.4 allows 10; exp= does not count)
spf-lookups-loop = the include/redirect chain loops (below), so receivers count DNS-querying terms until the limit of 10 and give permerror (RFC 7208 §4.6.4)
fix-spf-lookups = replace include: chains by ip4:/ip6: networks (flattening), or drop unused includes
fix-spf-flattened = { $record }  (flattened: every include replaced by the networks it lists today; re-check when a provider changes them)
spf-void-lookups = { $n } lookups of names that do not exist (the limit is 2, RFC 7208 §4.6.4)
fix-spf-void-lookups = remove the terms that name missing hosts or domains
spf-void-lookups-v6 = { $n } lookups of names that do not exist for IPv6 clients (a and mx terms query AAAA records, and these hosts have none; the limit is 2, RFC 7208 §4.6.4): mail from IPv6 hosts gets permerror
fix-spf-void-lookups-v6 = publish AAAA records for those hosts, or list their addresses with ip4: instead of a: or mx terms
spf-unflattenable = some terms (exists:, macros, or networks listed with -, ~ or ?) cannot be listed as allowed networks
spf-walk-queries = walking the policy takes more than { $max } DNS queries; receivers stop at 10 lookups (permerror)
spf-after-all = the record of { $domain } has terms after all: receivers never evaluate them (RFC 7208 §5.1), so they do nothing
spf-walk-slow = the DNS answers for the records this policy includes took more than { $seconds } s in all: the walk stopped there, so the records after that point were not checked (receivers give temperror when their own limit passes)
spf-walk-loop = the include/redirect chain loops back to { $domain }: receivers give permerror
spf-walk-deep = the include/redirect chain is more than { $max } deep at { $domain }: receivers stop at 10 lookups (permerror)
spf-walk-records = the include tree has more than { $max } records; receivers stop at 10 lookups (permerror)
spf-walk-several = { $domain } (included or redirected to) has { $n } SPF records: receivers give permerror
spf-walk-syntax = the SPF record of { $domain } does not parse: receivers give permerror
spf-walk-mx = { $domain } has { $n } MX records; mx allows 10 (permerror)
spf-redirect-ignored = the record of { $domain } has both all and redirect={ $target }: receivers ignore the redirect= (RFC 7208 §6.1), so the hosts { $target } lists are not allowed by it
spf-walk-ptr = the record of { $domain } (included or redirected to) uses ptr, which RFC 7208 §5.5 says not to use (slow, unreliable)
spf-walk-dns-failed = could not look up the SPF record of { $domain } (included or redirected to): { $error }; receivers get temperror while this lasts
dmarc-lookup-failed = DMARC lookup failed: { $error }
dmarc-none = { $domain } publishes no DMARC record: receivers apply no policy to mail forged in its name
dmarc-invalid = the DMARC record of { $domain } is invalid ({ $error }): it is ignored
dmarc-unusable = { $domain } publishes no usable DMARC record
dmarc-leading-space = the record at { $name } starts with white space before v=DMARC1: RFC 9989 wants v= first, and receivers that read it strictly discard the record: at those receivers no policy applies
fix-dmarc-leading-space = { $record }  (the same record without the leading white space)
dmarc-several = { $n } DMARC records at _dmarc.{ $domain }: receivers ignore them all
dmarc-own-discarded = { $what }; receivers that follow RFC 9989 apply { $name } instead (the tree walk), those that follow RFC 7489 apply no DMARC policy at all (RFC 7489 §6.6.3)
dmarc-own-ignored = { $what }; receivers apply { $name } instead (a record must start with v=DMARC1)
fix-dmarc-several = keep one of the { $n } DMARC records at _dmarc.{ $domain } and delete the others
fix-dmarc-none = { $record }  (then move to p=quarantine and p=reject once the reports look right)
fix-dmarc-none-no-mail = { $record }  (this domain sends no mail)
dmarc-at = { $name }
dmarc-at-tree = { $name } (found by the tree walk; { $domain } has none of its own)
dmarc-at-tree-discarded = { $name } (found by the tree walk, since the records of { $domain } itself are discarded)
dmarc-p-reject = { $at }: { $tag }=reject: forged mail is refused
dmarc-p-quarantine = { $at }: { $tag }=quarantine: forged mail goes to spam
dmarc-p-none = { $at }: { $tag }=none: monitoring only, forged mail is delivered
fix-dmarc-p-none = { $record }  (when the aggregate reports show all your mail passing; p=reject after that)
dmarc-fallback = the record is treated as p=none because: { $why }
dmarc-milder = { $at }: { $tag }={ $policy }, but with { $why } receivers apply { $effective } to forged mail
dmarc-discarded = receivers discard what is invalid in the record and use the defaults instead: { $what }
dmarc-pct-partial = pct={ $pct }: receivers that follow RFC 7489 (monban too) apply a milder policy than p= to failing mail; those that follow RFC 9989 ignore pct
fix-dmarc-pct = { $record }  (when the reports show all your mail passing: the policy then applies in full)
dmarc-sp-weaker = sp={ $sp } is weaker than p={ $p }: subdomains can be spoofed more easily
fix-dmarc-record = { $record }
dmarc-np-weaker = non-existent subdomains get { $np }, weaker than p={ $p }
dmarc-testing = t=y: the domain says it is testing, so receivers apply a milder policy
fix-dmarc-testing = { $record }  (when done testing)
dmarc-removed-tag = { $tag }= was removed by RFC 9989; receivers following it ignore the tag
dmarc-no-rua = no rua=: you receive no aggregate reports, so you cannot see who sends as you
dmarc-too-many-uris = the record lists { $n } more report URIs than receivers read ({ $max } per tag); the rest are ignored
fix-dmarc-too-many-uris = list one or two report addresses per tag
dmarc-not-mailto = { $tag } destination { $uri } is not a mailto: URI; most receivers only send by mail
dmarc-external-unauthorized = { $tag }={ $uri } is in another organization and { $dest } has not authorized it: receivers will not send these reports
dmarc-uri-unusable = { $tag }={ $uri }: no receiver can send reports to this address ({ $why })
uri-no-at = it has no @
uri-no-local-part = nothing before the @
uri-no-domain = no domain after the @
uri-address-literal = an address literal, where receivers need a domain to check the authorization record (RFC 7489 §7.1)
uri-hyphen-label = a label of its domain starts or ends with a hyphen (RFC 1123 §2.1)
dmarc-external-unchecked = { $tag }={ $uri } is in another organization, and whether it authorized these reports could not be checked (lookup failed: { $error }); check again later
fix-dmarc-external = { $record }  (published by the owner of { $dest })
dkim-lookup-failed = { $name }: lookup failed: { $error }
dkim-invalid = { $name }: the key record is invalid ({ $why })
dkim-several = { $n } TXT records at { $name }: which one verifiers read is undefined (RFC 6376 §3.6.2.2), so mail signed with the key of another fails at times; what follows is about the first
fix-dkim-several = keep one record at { $name } (the key you sign with) and delete the others
dkim-no-key = no DKIM key at { $name }: signatures with s={ $selector } fail
dkim-revoked = { $name }: the key is revoked (empty p=)
dkim-ed25519 = { $name }: Ed25519 (RFC 8463); not every receiver verifies it yet, so sign with RSA too
dkim-rsa-bad = { $name }: the RSA key does not decode
dkim-ed25519-bad = { $name }: k=ed25519, but p= holds { $n } bytes, not the 32 of an Ed25519 key (RFC 8463 §4): verifiers reject it
dkim-ed25519-rsa = { $name }: k=ed25519, but p= holds an RSA key ({ $bits } bits): verifiers reject it; publish it with k=rsa (or without k=)
dkim-not-email = { $name }: s={ $services } does not name email or *: verifiers do not use this key for mail (RFC 6376 §3.6.1), so its signatures fail
fix-dkim-not-email = remove s= from the key record (or make it s=email)
dkim-rsa-weak = { $name }: RSA { $bits } bits: receivers reject keys under 1024 bits (RFC 8301)
dkim-rsa-short = { $name }: RSA { $bits } bits: RFC 8301 asks for 2048
dkim-rsa = { $name }: RSA { $bits } bits
dkim-testing = { $name }: t=y (testing): some receivers treat its signatures as unsigned
fix-dkim-testing = remove the y flag from t= in the key record, keeping its other flags (t=s:y becomes t=s; t=y alone goes)
dkim-no-sha256 = { $name }: h= does not allow sha256
fix-dkim-no-sha256 = remove h= from the key record at { $name } (every hash is then allowed), or write h=sha256; RFC 8301 §3.1 retired sha1
dkim-none-discovered = no DKIM key found at the common selector names
dkim-no-selector = no DKIM selector given
adsp-discardable = ADSP dkim=discardable: receivers that still implement ADSP discard mail without an author signature; a third party signing with its own d= is not enough
adsp-all = ADSP dkim=all: all mail is said to carry an author signature
adsp-unknown = ADSP dkim=unknown: no assertion
adsp-syntax = the ADSP record does not parse
adsp-historic = { $what } (ADSP, RFC 5617, is historic: DMARC replaces it)
fix-adsp = remove _adsp._domainkey.{ $domain } and rely on DMARC
why-unsigned = the mail is not DKIM-signed
why-dkim-unaligned = DKIM d={ $d } does not align with { $domain }
why-dkim-aligned = DKIM d={ $d } aligns with { $domain }
why-no-ip = no sending IP given, so SPF was not predicted
why-spf-aligned = SPF passes for { $domain }, which aligns
why-spf-passes = SPF passes for { $domain }
why-spf-unaligned = SPF passes for { $mail_from }, but it does not align with { $domain }
why-spf-fails = SPF for { $domain } does not pass for { $ips }
predict-pass = DMARC passes: receivers deliver ({ $why })
predict-none = { $domain } has no DMARC policy, so receivers judge the mail on SPF/DKIM alone ({ $why })
predict-fail = DMARC fails ({ $why }): { $tag }={ $p } means this mail will be { $fate }
predict-fail-milder = DMARC fails ({ $why }): { $tag }={ $p }, which t=y or a pct under 100 makes receivers apply milder: this mail will be { $fate }
fate-reject = refused
fate-quarantine = put in spam
fate-none = delivered (the policy is none)
predict-other = DMARC gives { $result } ({ $why })
fix-sign-aligned = sign with d={ $domain } (or a subdomain), publishing the key under { $domain }
fix-sign-aligned-strict = sign with d={ $domain } exactly (adkim=s: a subdomain does not align), publishing the key under { $domain }
fix-mail-from-aligned = send with a MAIL FROM (Return-Path) address at { $domain } or a subdomain of it
fix-mail-from-and-list = { $first }, and add { $nets } to the SPF record of { $domain }, which does not list it today
fix-mail-from-strict = send with a MAIL FROM (Return-Path) address at { $domain } itself (aspf=s: a subdomain does not align)
fix-spf-add = add { $nets } to the SPF record of { $domain }
fix-spf-error = make the SPF policy of { $domain } evaluate: it gives { $result } for { $ip } ({ $cause }), and an error ends the evaluation where it arises (for a record that does not parse, or two records, before any address is compared): mend its cause rather than list addresses
fix-either = { $a }; or { $b }
fix-none-known = nothing to change here
step-publish-key = publish the key: monban keygen --domain { $domain } --selector { $selector }
step-rotate-key = rotate to a new selector: monban keygen --domain { $domain } --selector NEW --bits 2048
step-name-selectors-discovered = { $what }: give the selectors you use with --selector
step-name-selectors = { $what }: add --selector S (or --discover) to check the keys

## The CLI's text output
cli-fix = fix:
cli-spf-allows = SPF allows:
cli-light-green = GREEN
cli-light-yellow = YELLOW
cli-light-red = RED
web-step-name-selectors = { $what }: enter the selectors you use in the DKIM selectors field, or tick "Also try common selector names"
web-step-name-selectors-discovered = { $what }: enter the selectors you use in the DKIM selectors field
check-spf-tree = The include tree
spf-node-lookups = { $n } lookup(s) in this record
spf-matched = matched { $mechanism } in the record of { $domain }
dmarc-tags-caption = The DMARC record's tags (RFC 9989): written, or the default a receiver applies
col-source = Source
tag-explicit = written
tag-default = default
dmarc-tag-p = the policy for mail that fails: none (monitor), quarantine (spam folder) or reject
dmarc-tag-sp = the policy for subdomains
dmarc-tag-np = the policy for subdomains that do not exist
dmarc-tag-adkim = DKIM alignment: r (relaxed, same organizational domain) or s (strict, same name)
dmarc-tag-aspf = SPF alignment: r (relaxed) or s (strict)
dmarc-tag-fo = when failure reports are asked for: 0 (all fail), 1 (any fails), d (DKIM fails), s (SPF fails)
dmarc-tag-rua = where aggregate reports go
dmarc-tag-ruf = where failure reports go
dmarc-tag-t = y: testing, receivers apply a milder policy
dmarc-tag-psd = whether this is a public suffix domain (y), not one (n), or unknown (u)
dmarc-tag-other = not a tag of RFC 9989: receivers ignore it
what-if-title = What if: check other records before publishing them
what-if-help = Write a record here to check it as if it were published; the rest comes from the DNS. Nothing is published.
what-if-spf = SPF record (v=spf1 ...)
what-if-dmarc = DMARC record (v=DMARC1; ...)
what-if-banner = What if: this check uses the records you wrote, not the ones published.
what-if-bad = The { $what } record must be one line of at most { $max } characters.
reports-overview = Every domain (choose one for its sources and advice)
reports-over-time = Over time
reports-daily-caption-day = Messages per day: the part that passed DMARC in blue, the rest in red
reports-daily-caption-week = Messages per week: the part that passed DMARC in blue, the rest in red
reports-daily-caption-month = Messages per 30 days: the part that passed DMARC in blue, the rest in red
reports-daily-table = The same numbers as a table
col-period = Period
col-kind = Kind
col-rows = Rows
reports-list-link = Every report received, one by one
reports-list-title = Reports received
reports-list-caption = Reports { $from } to { $to }, the newest first
reports-pages = Pages
previous = Previous
next = Next
reports-bad-page = The page number must be a number from 0 to 2000 (filter by domain or period to go further back).
reports-report-title = Report
reports-no-such-report = There is no such report.
reports-meta = What it says besides its rows
reports-document = As received
reports-download = Download the document
reports-document-large = The document is large: its first { $kib } KiB are shown; the download has all of it.
reports-no-document = This report was imported before monban kept documents.

## Header analyzer warnings (shared by `monban analyze` and the analyzer page)
what-date-field = the Date field
what-hop = hop { $n } ({ $name })
warn-no-date = there is no Date field (RFC 5322 §3.6 requires one)
warn-obsolete-date = the Date field uses obsolete or non-standard syntax: { $text }
warn-weekday-mismatch = the day of the week in the Date field does not match the date: { $text }
warn-bad-date = the Date field does not parse: { $text }
warn-no-message-id = there is no Message-ID field
warn-bad-message-id = the Message-ID is not of the form <left@right>: { $id }
warn-several-return-path = { $n } Return-Path fields: only the top one is the final delivery's
warn-no-from = there is no From field
warn-several-from = { $n } From fields: receivers disagree on which one is shown (a spoofing trick)
warn-display-name-address = the From display name shows the address { $shown }, but the message is from { $from }
warn-bad-from = the From field does not parse: { $error }
warn-sender-differs = sent by { $sender } on behalf of { $from }
warn-empty-sender = the Sender field is empty: RFC 5322 §3.6.2 asks for one mailbox there
warn-return-path-unaligned = the Return-Path domain { $rp } is not the From domain { $from }: SPF cannot count for DMARC, only an aligned DKIM signature can
warn-too-many-received = { $n } Received fields: only the newest { $max } are analysed (a mail loop, or a forgery padding the header)
warn-received-no-date = { $hop } has no date
warn-received-bad-date = { $hop }: the date { $date } does not parse: { $error }
warn-out-of-order = { $hop } is dated { $delay } before { $what }: the Received fields are out of order, or one was forged or has a badly wrong clock
warn-clock-skew = { $hop } is dated { $delay } before { $what }: their clocks disagree
warn-slow-hop = { $hop } came { $delay } after { $what }
warn-unparseable-results = the Authentication-Results field from { $id } is not valid RFC 8601 ({ $error }); read leniently
warn-unparseable-results-unnamed = the Authentication-Results field from an unnamed writer (no authserv-id) is not valid RFC 8601 ({ $error }); read leniently
warn-results-before-first-hop = the Authentication-Results field from { $id } sits below every Received field and does not name the first receiving host: it was probably in the message before its first hop, written by the sender; do not trust it
warn-results-below-other-hop = the Authentication-Results field from { $id } (header field { $position }) sits below the Received field of { $by }, which got the message before { $id } did: { $id } did not write it (a sender or relay can write any name there, RFC 8601 §5); do not trust it
warn-too-many-signatures = { $n } DKIM-Signature fields: only the first { $max } are explained
warn-too-many-result-fields = { $n } { $field } fields: only the first { $max } are read
warn-too-many-results = The { $field } field at position { $position } has more than { $max } results: only the first { $max } are shown
warn-signatures-not-diagnosed = Only the first { $max } DKIM signatures are diagnosed against the body (each costs a body hash); the others are explained without a diagnosis

## DKIM-Signature tags explained (RFC 6376 §3.5)
joined = { $parts }
names = { $names }
names-and-more = { $names } and { $n } more
tag-v = DKIM-Signature version 1 (RFC 6376)
tag-v-unknown = version { $value } is unknown: verifiers must treat the signature as invalid
tag-a-rsa-sha256 = signed with an RSA key over a SHA-256 hash
tag-a-rsa-sha1 = RSA over a SHA-1 hash: SHA-1 is broken, and verifiers must no longer accept it (RFC 8301)
tag-a-ed25519 = signed with an Ed25519 key over a SHA-256 hash (RFC 8463)
tag-a-unknown = an unknown algorithm: the signature cannot be verified
tag-b-rsa = the signature over the signed header fields and this field: { $n } bytes, which means a { $bits }-bit RSA key
tag-b = the signature over the signed header fields and this field: { $n } bytes
tag-b-bad = the signature, but it is not valid base64
tag-bh = the { $hash } hash of the whole { $c }-canonicalized body, compared with the body as received
tag-bh-part = the { $hash } hash of the first { $l } bytes of the { $c }-canonicalized body, compared with the body as received
tag-c = header fields: { $header }; body: { $body }
tag-c-header-relaxed = relaxed (re-folding, white-space changes and the case of field names are tolerated)
tag-c-header-simple = simple (any change, even re-folding a long line, breaks the signature)
tag-c-body-relaxed = relaxed (changes in white space within lines and trailing blank lines are tolerated)
tag-c-body-simple = simple (only blank lines at the end may change)
tag-c-unknown = unknown (the signature is invalid)
tag-c-absent = absent, so simple/simple, the default: { $c }
tag-d = the signing domain, which takes responsibility for the message; { $rel }
tag-d-same = the same as the From domain: an author signature
tag-d-related = related to the From domain { $from } (parent or subdomain): an author signature under relaxed alignment
tag-d-third-party = not the From domain { $from }: a third-party signature (a mailing service, list or forwarder), which DMARC does not count for { $from }
tag-d-no-from = the From domain is unknown, so this is not an author signature
tag-h-signed = { $n } signed header field(s): { $names }
tag-h-signed-capped = { $n } signed header field(s): { $names } (only the first { $max } looked at)
tag-h-over-signed = over-signed (listed more often than present, so none can be added): { $names }
tag-h-unsigned = present but not signed, so changeable without breaking it: { $names }
tag-h-from-unsigned = From is not signed, which makes the signature invalid (RFC 6376 §5.4)
tag-i = the agent or user identifier (AUID) the signer vouches for: { $value }
tag-l = only the first { $l } bytes of the body are signed: anything appended after them is not covered (RFC 6376 §8.2)
tag-l-bad = a body length limit, but not a number (the signature is invalid)
tag-q = how to find the key: dns/txt, a TXT record (the only method defined)
tag-s = the selector: the public key is published at { $value }._domainkey.{ $d }
tag-t = signed at { $time }
tag-t-bad = a signing time, but not a number (the signature is invalid)
tag-x = expires at { $time }; after that the signature fails
tag-x-after = expires at { $time } ({ $after } after signing); after that the signature fails
tag-x-bad = an expiry time, but not a number (the signature is invalid)
tag-z = copies of the header fields as they were when signed, for diagnosis: { $fields }
tag-unknown = an unknown tag: verifiers ignore it (RFC 6376 §3.2)

## DKIM diagnosis: what changed, and where
diag-body-intact = the body hash matches: the body is as it was signed
diag-unsigned-body = l={ $l } leaves { $n } bytes after the signed part unsigned, starting "{ $start }": content appended after signing
diag-body-changed = the body hash does not match: the body was changed after signing
diag-body-shorter = the body is shorter than l={ $l }: { $n } bytes were removed
diag-footer = a footer of { $n } line(s) was appended to the body, starting "{ $start }": without it the body hash matches
diag-not-a-footer = the change is not just a footer of up to { $max } lines at the end (a list or gateway may have re-encoded or rewrapped the body)
diag-invalid-signature = the signature is invalid whatever the key: { $error }
diag-headers-intact = the signature over the header fields verifies: the signed fields are as they were signed
diag-signature-verifies = the signature verifies cryptographically (a verifier that reports a failure has another reason: the key record, the time, or policy)
diag-headers-changed = the signature over the header fields does not verify: signed header fields were changed, or the key published for { $s } is not the one that signed (the signer can tell with monban check { $d } --selector { $s } --key KEYFILE)
diag-key-unusable = the key cannot check the signature: { $error }
diag-subject-tag = a { $tag } tag was added to the Subject after signing (a mailing list, typically): without it the signature verifies
diag-refolded-field = the { $field } field was re-folded in transit: unfolded, the signature verifies (c=simple does not tolerate this; relaxed would)
diag-refolded = header fields were re-folded in transit: unfolded, the signature verifies (c=simple does not tolerate this; relaxed would)
diag-header-added = { $fields } was added above the signature after signing: without it the signature verifies
diag-subject-tag-likely = the Subject starts with { $tag }: a mailing list probably added this tag after signing, which breaks the signature
diag-header-added-likely = signed field(s) { $fields } appear above the signature, so they were probably added after signing
diag-from-rewritten = the From field looks rewritten by a list ("... via ..."), which breaks the signature
diag-fragile = c=simple for header fields: any re-folding or white-space change in transit breaks it; monban could not reconstruct the original
diag-header-gone = { $name } was present when signed (z=) and is gone
diag-header-changed = { $name } was "{ $was }" when signed (z=) and is now "{ $now }"
diag-unknown-field = monban cannot tell which signed field changed

## Report advice ("is it safe to go to p=reject?"), shared by `monban report advise` and the dashboard
advice-forwarder = a forwarder or mailing list: its failures are expected (the original sender's own mail still passes); nothing to change
advice-unaligned-dkim = it signs with DKIM as d={ $other }: enable DKIM signing with d={ $domain } (or a subdomain) at this sender
advice-unaligned-spf = SPF passes for { $other }, not for { $domain }: enable DKIM signing with d={ $domain } at this sender, or have it use a bounce (Return-Path) domain under { $domain }
advice-dkim-broken = its DKIM signature d={ $d } s={ $s } does not verify: check the key published at { $s }._domainkey.{ $d } and what alters the message
advice-not-in-spf = add this sender to the SPF record of { $domain } ({ $term }) or sign its mail with DKIM d={ $domain }
verdict-no-mail = no reported mail for { $domain } in this period: nothing to judge yet
verdict-reject-clean = { $domain } is at p=reject and every legitimate source seen passes
verdict-reject-hurt = { $domain } is at p=reject, but { $n } { $n ->
    [one] source
   *[other] sources
} ({ $share }% of mail) { $n ->
    [one] fails and is rejected
   *[other] fail and are rejected
}
verdict-safe-little = safe to move to p={ $step } as far as { $messages } { $messages ->
    [one] message shows
   *[other] messages show
}, but that is too little mail to be sure: wait for more reports
verdict-no-pass = not yet: no reported message from { $domain } passed DMARC. If the domain sends no mail, p={ $step } (and then p=reject) is right; if it does, none of its mail is authenticated yet: publish SPF and sign with DKIM first
verdict-unknown-sources = cannot tell yet: { $share }% of the mail comes from { $n } { $n ->
    [one] source
   *[other] sources
} nobody authenticated whose reverse DNS is unknown (not looked up, or the lookups failed): some may be the domain's own servers. Look them up before moving to p={ $step }
verdict-safe = safe to move to p={ $step }
verdict-not-yet-reject = not yet: { $n } { $n ->
    [one] source
   *[other] sources
} ({ $share }% of mail) would be rejected
verdict-not-yet-quarantine = not yet: { $n } { $n ->
    [one] source
   *[other] sources
} ({ $share }% of mail) would be quarantined
login-limited = Too many failed logins from this address: try again in a few minutes.

arc-fail = the ARC chain fails: { $why }
arc-body-intact = the body is as { $n ->
    [one] the ARC sealer
   *[other] every one of the { $n } ARC sealers
} signed it
arc-body-changed-after-last = the body changed after the last ARC sealer (i={ $i }, { $sealer }) signed it: on the way from there to here
arc-body-changed-between = the body changed after ARC set i={ $before } ({ $sealer }) and before set i={ $after } ({ $next }) signed it: { $next } (or a hop just before it) changed it, then sealed it
arc-dkim-passed-at = DKIM d={ $d } fails here, but ARC set i={ $i } ({ $sealer }) recorded it passing: it broke after { $sealer } checked it (at that hop, which may change a message before sealing it, or later)
arc-override = DMARC failed (p={ $policy }), yet the message is delivered: the trusted ARC sealer { $sealer } (i={ $i }) recorded { $recorded } when it received it
arc-title = ARC chain: { $result } ({ $n } set(s))
col-sealer = Sealer
col-seal = Seal
col-ams = Message signature
col-body = Body
arc-body-same = as sealed
arc-body-changed = changed since

# Recorded results in words (RFC 8601 §2.7 and each method's RFC).
ar-meaning = { $method }: { $result }
ar-method-spf = SPF (RFC 7208) asks whether the envelope sender's domain (MAIL FROM, or HELO) allows the sending host
ar-method-dkim = DKIM (RFC 6376) checks a domain's signature over header fields and the body
ar-method-dmarc = DMARC (RFC 9989) asks whether an SPF or DKIM pass aligned with the From domain vouches for it, and applies the domain's policy otherwise
ar-method-arc = ARC (RFC 8617) checks the seals of the intermediaries that forwarded the message
ar-method-iprev = iprev (RFC 8601 section 3) asks whether the client's address has a reverse DNS name that resolves back to it
ar-method-sender-id = Sender ID (RFC 4406, historic) asks whether the domain of the header's responsible address (Resent-Sender, Resent-From, Sender or From) allows the sending host, by its spf2.0/pra record or its SPF record
ar-method-domainkeys = DomainKeys (RFC 4870, historic; DKIM's predecessor) checks a signature over the fields below it and the body; it never counts for DMARC
ar-method-dkim-adsp = ADSP (RFC 5617, historic) says what the author domain declared of mail it did not sign
ar-method-auth = SMTP AUTH (RFC 4954) says whether the client logged in
ar-method-dkim2 = DKIM2 (an Internet-Draft) checks the signatures of every hop, with the envelope
ar-method-dnswl = a DNS allow list (RFC 5782, RFC 8904) asks whether the client's address is listed as trusted
ar-method-dnsbl = a DNS block list (RFC 5782) asks whether the client's address is listed
ar-method-other = a method monban does not know
ar-result-pass = it passed
ar-result-fail = it failed
ar-result-softfail = a weak fail: the domain says the host is probably not allowed
ar-result-neutral = no conclusion: the domain says nothing about this host, or the signature could not be checked
ar-result-none = it did not apply: nothing to check
ar-result-temperror = a temporary error (usually DNS): a later try may give a result
ar-result-permerror = a permanent error: the published record or the signature cannot be used
ar-result-policy = refused by the receiver's own policy (a weak key, an unsigned part), even if valid
ar-result-listed = the client is listed
ar-result-not-listed = the client is not listed
ar-result-skipped = not asked (an allow list vouched for the client)
ar-result-other = the result "{ $result }"
ar-result-iprev-fail = it failed: no reverse DNS name of the address resolves back to it (hosts without one are often compromised machines)
ar-result-iprev-permerror = the address has no reverse DNS name at all (RFC 8601 §2.7.3: no PTR data published); hosts without one are often compromised machines
ar-result-sender-id-fail = it failed: the domain does not allow the host, the domain does not exist, or the message has no responsible address
ar-result-adsp-discard = the domain signs all its mail and asks that unsigned copies be discarded
ar-result-adsp-nxdomain = the author domain does not exist
ar-result-adsp-unknown = the domain signs some of its mail: an unsigned message says nothing
warn-no-reverse-name = { $hop } recorded no reverse DNS name for the client { $ip } ("unknown"): iprev gives permerror there (no name to confirm), and many receivers distrust such hosts
senderid-record = Sender ID record (RFC 4406, historic): { $record }
senderid-syntax = the Sender ID record { $record } does not parse: { $error }; Sender ID receivers get permerror
fix-senderid-syntax = fix the spf2.0 record of { $domain } or remove it: without one, Sender ID receivers use the SPF record
senderid-differs = the Sender ID record { $record } does not say what the SPF record says: the few receivers that still check Sender ID judge by it instead
fix-senderid-differs = remove the spf2.0 record(s) of { $domain } (receivers then use the SPF record), or give them the SPF record's terms
senderid-several = { $n } Sender ID records name the { $scope } scope: Sender ID receivers get permerror
fix-senderid-several = keep one spf2.0 record per scope ({ $scope })
senderid-no-pra = the domain publishes an spf2.0 record, none for the pra scope: Sender ID receivers no longer use the SPF record for it, and find no policy
iprev-pass = { $ip } has the reverse DNS name { $name }, which resolves back to it
iprev-temperror = the reverse DNS of { $ip } could not be checked now: { $error }
iprev-fail = { $ip } has no reverse DNS name that resolves back to it ({ $why }): large receivers refuse or distrust such hosts
fix-iprev = ask whoever runs { $ip }'s network to publish a PTR record naming a host whose A or AAAA record is { $ip }
dnsbl-listed = { $ip } is listed on { $zone } ({ $code }): receivers that use the list refuse its mail
fix-dnsbl = find out why on { $zone }'s web site, fix the cause, then ask for removal
dnswl-listed = { $ip } is on the allow list { $zone }
dnsbl-not-listed = { $ip } is not listed on { $zone }
dnsbl-temperror = { $zone } did not answer about { $ip }
dnsbl-refused = { $zone } refused to answer about { $ip } (code { $code }: lists refuse queries that come through public or unregistered resolvers); ask it through a resolver of your own
dkim-key-matches = { $name } publishes the public key of { $file }: signatures made with it verify
dkim-key-mismatch = { $name } does not publish the public key of { $file }: mail signed with it fails DKIM (the signature does not verify)
fix-dkim-key-mismatch = publish the key's own record at { $name }: { $record }
reflect-title = monban received your test message and checked it. What it found:
reflect-results = Results (Authentication-Results), each with what it means:
reflect-warnings = What the header analysis noticed:
reflect-advice = Advice for { $domain }, for mail sent the way this message was:
reflect-fix = fix
reflect-all-green = nothing to fix: every check is green.

## Arguments and form fields that are not what they should be (CLI, API, pages)
arg-not-domain = { $flag } { $given } is not a domain name: { $why }
name-not-idn = not a valid internationalized name
name-bad-char = { $char } is not allowed (letters, digits, '-', '_' and '.')
name-one-label = it has one label
name-is-ip = it is an IP address (give the domain the mail is sent from)
name-empty = empty name
name-empty-label = zero-length label
name-label-too-long = label longer than 63 octets
name-too-long = name longer than 253 octets
name-invalid = not a valid domain name
arg-too-many-selectors = at most { $max } selectors
arg-not-selector = selector { $given } is not a DKIM selector (letters, digits, '-', '_', '.'; 1 to 63 characters)
arg-not-day = { $name } { $given }: expected YYYY-MM-DD, e.g. 2026-11-29
arg-since-after-until = { $since } is after { $until }
too-many-at-once = Your address has { $most } checks under way already: wait for one to finish, then try again.
query-too-many-params = too many query parameters (at most { $most })
query-bad-escape = a bad %-escape in the query
query-not-utf8 = the query is not UTF-8
query-unknown-param = unknown query parameter { $name } (this path takes { $takes })
query-repeated-param = the query parameter { $name } is given more than once
