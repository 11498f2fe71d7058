#!/usr/bin/perl
# mail_dkim_bench.pl -- DKIM verify/sign throughput of Mail::DKIM (Perl) over .eml
# files, for comparison with monban on the same corpus (see README.md beside this file).
#
# Needs: libmail-dkim-perl (Debian), which brings Net::DNS and Crypt::OpenSSL::RSA.
#
#   perl mail_dkim_bench.pl verify ZONE PASSES FILE...
#   perl mail_dkim_bench.pl sign KEYPEM SELECTOR DOMAIN PASSES FILE...
#
# No DNS is used: the zone file is read with Net::DNS::ZoneFile, and a stand-in
# resolver object, installed through the documented hook Mail::DKIM::DNS::resolver(),
# answers each query from those records (its send() hands back a prepared
# Net::DNS::Packet). Everything above the resolver (Mail::DKIM::DNS::query, the
# key record parsing) runs as it does in production.
#
# All files are read into memory first; only the library work is timed, as process
# CPU time (CLOCK_PROCESS_CPUTIME_ID), over PASSES passes. One line goes to stdout:
#
#   peer=mail-dkim op=verify alg=rsa messages=N ok=N cpu_s=... msgs_per_cpu_s=...
#
# verify: ok means Mail::DKIM::Verifier's result is "pass". Exit status 1 if any
# message is not ok (the first failure goes to stderr).
#
# sign: Mail::DKIM::Signer, relaxed/relaxed, t= set, the key loaded once before the
# timed loop. The header list is the one monban signs by default: every present
# instance of the fields in @SIGNED, then one more of each name in @OVERSIGNED
# (extended_headers() with '*' and '+'; Mail::DKIM orders h= by name, so the order
# differs from monban's while the fields are the same). After the timed passes, every
# signature of the first pass is put on its message and verified by Mail::DKIM with
# the public key derived from KEYPEM (untimed); the line carries selfcheck=OK/N and
# the exit status is 1 unless all pass. BENCH_SHOW_SIG=1 prints the first signature
# to stderr.
#
# Algorithms: rsa-sha256 always; ed25519-sha256 only if the installed Mail::DKIM
# has Mail::DKIM::Algorithm::ed25519_sha256 (which in turn needs CryptX). If it has
# not, the driver prints the line with unsupported=ed25519-sha256 and exits 3
# without measuring.

use strict;
use warnings;

use Time::HiRes qw(clock_gettime CLOCK_PROCESS_CPUTIME_ID);
use MIME::Base64 qw(encode_base64);
use Net::DNS;
use Net::DNS::ZoneFile;
use Crypt::OpenSSL::RSA;
use Mail::DKIM;
use Mail::DKIM::DNS;
use Mail::DKIM::PrivateKey;
use Mail::DKIM::Signer;
use Mail::DKIM::Verifier;

my @SIGNED = qw(
  from sender reply-to subject date message-id to cc mime-version content-type
  content-transfer-encoding content-id content-description content-disposition
  in-reply-to references list-id list-help list-unsubscribe list-unsubscribe-post
  list-subscribe list-post list-owner list-archive
);
my @OVERSIGNED = qw(
  from to cc subject date reply-to content-type content-transfer-encoding
  content-disposition mime-version
);

# ---- a resolver that answers from memory ------------------------------------------

package ZoneResolver;

sub new {
    my ($class) = @_;
    return bless { rrs => {}, packets => {}, err => 'NOERROR' }, $class;
}

# Adds a resource record (a Net::DNS::RR).
sub add {
    my ( $self, $rr ) = @_;
    my $name = lc $rr->owner;
    $name =~ s/\.$//;
    push @{ $self->{rrs}{$name}{ uc $rr->type } }, $rr;
    $self->{packets} = {};
    return;
}

# What Mail::DKIM::DNS::query calls: a reply packet for (name, type).
sub send {
    my ( $self, $name, $type ) = @_;
    $type = uc( $type // 'A' );
    my $key = lc($name) . "/$type";
    $key =~ s/\.\//\//;
    my $pkt = $self->{packets}{$key};
    return $pkt if $pkt;
    my ( $qname, $qtype ) = split m{/}, $key;
    $pkt = Net::DNS::Packet->new( $qname, $qtype, 'IN' );
    $pkt->header->qr(1);
    $pkt->header->aa(1);
    my $names = $self->{rrs}{$qname};
    if ( !$names ) {
        $pkt->header->rcode('NXDOMAIN');
    }
    else {
        $pkt->header->rcode('NOERROR');
        $pkt->push( answer => @{ $names->{$qtype} || [] } );
    }
    $self->{packets}{$key} = $pkt;
    return $pkt;
}

sub errorstring { return $_[0]{err} }

package main;

sub usage {
    print STDERR "usage: mail_dkim_bench.pl verify ZONE PASSES FILE...\n"
      . "       mail_dkim_bench.pl sign KEYPEM SELECTOR DOMAIN PASSES FILE...\n";
    exit 2;
}

sub read_file {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "mail_dkim_bench: $path: $!\n";
    local $/;
    my $data = <$fh>;
    close $fh;
    return $data // '';
}

sub cpu_now { return clock_gettime(CLOCK_PROCESS_CPUTIME_ID) }

sub parse_passes {
    my ($s) = @_;
    die "mail_dkim_bench: PASSES must be a positive integer, not $s\n"
      unless $s =~ /^\d+$/ && $s > 0;
    return $s;
}

sub ed25519_supported {
    return eval { require Mail::DKIM::Algorithm::ed25519_sha256; 1 } ? 1 : 0;
}

# "rsa" or "ed25519" from the a= in a message's header block.
sub msg_alg {
    my ($msg) = @_;
    my $end = index $msg, "\r\n\r\n";
    my $head = $end >= 0 ? substr( $msg, 0, $end ) : $msg;
    return 'ed25519' if $head =~ /ed25519-sha256/;
    return 'rsa'     if $head =~ /rsa-sha/;
    return 'none';
}

sub verify_one {
    my ($msg) = @_;
    my $v = Mail::DKIM::Verifier->new();
    $v->PRINT($msg);
    $v->CLOSE;
    return ( $v->result eq 'pass', $v->result_detail );
}

sub line {
    my (%f) = @_;
    my @order = qw(peer op alg messages ok selfcheck cpu_s msgs_per_cpu_s unsupported);
    print join( ' ', map { "$_=$f{$_}" } grep { exists $f{$_} } @order ), "\n";
}

# The line and exit status for an algorithm this Mail::DKIM lacks.
sub unsupported {
    my ( $op, $alg ) = @_;
    line(
        peer => 'mail-dkim', op => $op, alg => $alg, messages => 0, ok => 0,
        cpu_s => '0.000', msgs_per_cpu_s => 0, unsupported => 'ed25519-sha256'
    );
    print STDERR "mail_dkim_bench: Mail::DKIM $Mail::DKIM::VERSION has no "
      . "ed25519-sha256\n";
    return 3;
}

sub run_verify {
    my ( $zone, $passes, @files ) = @_;
    my @msgs = map { read_file($_) } @files;
    my $alg = @msgs ? msg_alg( $msgs[0] ) : 'none';
    for (@msgs) { $alg = 'mixed' if msg_alg($_) ne $alg }

    if ( $alg =~ /^(ed25519|mixed)$/ && !ed25519_supported() ) {
        return unsupported( 'verify', $alg );
    }

    my $res = ZoneResolver->new;
    my $zf  = Net::DNS::ZoneFile->new($zone);
    while ( my $rr = $zf->read ) { $res->add($rr) if $rr->type eq 'TXT' }
    Mail::DKIM::DNS::resolver($res);

    my ( $ok, $bad, $why ) = ( 0, undef, '' );
    my $t0 = cpu_now();
    for ( 1 .. $passes ) {
        for my $i ( 0 .. $#msgs ) {
            my ( $pass, $detail ) = verify_one( $msgs[$i] );
            if ($pass) { $ok++ }
            elsif ( !defined $bad ) { ( $bad, $why ) = ( $i, $detail ) }
        }
    }
    my $cpu   = cpu_now() - $t0;
    my $total = @msgs * $passes;
    line(
        peer => 'mail-dkim', op => 'verify', alg => $alg, messages => $total, ok => $ok,
        cpu_s => sprintf( '%.3f', $cpu ),
        msgs_per_cpu_s => sprintf( '%.0f', $cpu > 0 ? $total / $cpu : 0 )
    );
    if ( $ok < $total ) {
        print STDERR "mail_dkim_bench: first failure: $files[$bad]: $why\n";
        return 1;
    }
    return 0;
}

# The public key record for a private key PEM (for the self-check).
sub public_record {
    my ( $pem, $alg ) = @_;
    if ( $alg eq 'rsa' ) {
        my $spki = Crypt::OpenSSL::RSA->new_private_key($pem)->get_public_key_x509_string;
        $spki =~ s/-----[^-]+-----//g;
        $spki =~ s/\s+//g;
        return "v=DKIM1; k=rsa; p=$spki";
    }
    require Crypt::PK::Ed25519;
    my $pk = Crypt::PK::Ed25519->new( \$pem );
    return 'v=DKIM1; k=ed25519; p=' . encode_base64( $pk->export_key_raw('public'), '' );
}

sub key_alg {
    my ($pem) = @_;
    return 'rsa' if $pem =~ /BEGIN RSA PRIVATE KEY/;
    my ($b64) = $pem =~ /-----BEGIN PRIVATE KEY-----(.*?)-----END/s
      or die "mail_dkim_bench: not a PEM private key\n";
    my $der = MIME::Base64::decode_base64($b64);
    return 'ed25519' if index( $der, "\x06\x03\x2b\x65\x70" ) >= 0;    # id-Ed25519
    return 'rsa';
}

sub run_sign {
    my ( $keypem, $selector, $domain, $passes, @files ) = @_;
    my @msgs = map { read_file($_) } @files;
    my $pem  = read_file($keypem);
    my $alg  = key_alg($pem);
    if ( $alg eq 'ed25519' && !ed25519_supported() ) {
        return unsupported( 'sign', $alg );
    }
    my $key = Mail::DKIM::PrivateKey->load(
        File => $keypem,
        ( $alg eq 'ed25519' ? ( Type => 'ed25519' ) : () )
    );
    $key->cork or die "mail_dkim_bench: $keypem: " . ( $key->errorstr // 'bad key' ) . "\n";
    my %headers = ( ( map { $_ => '*' } @SIGNED ), ( map { $_ => '+' } @OVERSIGNED ) );
    my $algorithm = $alg eq 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256';

    my ( $ok, $bad, $why, @sigs ) = ( 0, undef, '' );
    my $t0 = cpu_now();
    for my $p ( 1 .. $passes ) {
        for my $i ( 0 .. $#msgs ) {
            my $sig = eval {
                my $s = Mail::DKIM::Signer->new(
                    Algorithm => $algorithm,
                    Method    => 'relaxed/relaxed',
                    Domain    => $domain,
                    Selector  => $selector,
                    Key       => $key,
                    Timestamp => time(),
                );
                $s->extended_headers( {%headers} );
                $s->PRINT( $msgs[$i] );
                $s->CLOSE;
                $s->signature->as_string;
            };
            if ( defined $sig ) {
                $ok++;
                $sigs[$i] = $sig if $p == 1;
            }
            elsif ( !defined $bad ) { ( $bad, $why ) = ( $i, $@ ) }
        }
    }
    my $cpu = cpu_now() - $t0;
    print STDERR "$sigs[0]\n" if $ENV{BENCH_SHOW_SIG} && defined $sigs[0];

    # Self-check, untimed.
    my $res = ZoneResolver->new;
    $res->add(
        Net::DNS::RR->new(
            owner   => "$selector._domainkey.$domain",
            type    => 'TXT',
            txtdata => [ unpack '(a255)*', public_record( $pem, $alg ) ],
        )
    );
    Mail::DKIM::DNS::resolver($res);
    my $good = 0;
    for my $i ( 0 .. $#msgs ) {
        next unless defined $sigs[$i];
        my ( $pass, $detail ) = verify_one("$sigs[$i]\r\n$msgs[$i]");
        if ($pass) { $good++ }
        elsif ( !defined $bad ) { ( $bad, $why ) = ( $i, "self-check: $detail" ) }
    }

    my $total = @msgs * $passes;
    line(
        peer => 'mail-dkim', op => 'sign', alg => $alg, messages => $total, ok => $ok,
        selfcheck => "$good/" . scalar(@msgs), cpu_s => sprintf( '%.3f', $cpu ),
        msgs_per_cpu_s => sprintf( '%.0f', $cpu > 0 ? $total / $cpu : 0 )
    );
    if ( $ok < $total || $good < @msgs ) {
        chomp $why;
        print STDERR "mail_dkim_bench: first failure: $files[$bad]: $why\n";
        return 1;
    }
    return 0;
}

my $mode = shift @ARGV // usage();
if ( $mode eq 'verify' && @ARGV >= 3 ) {
    my ( $zone, $passes, @files ) = @ARGV;
    exit run_verify( $zone, parse_passes($passes), @files );
}
elsif ( $mode eq 'sign' && @ARGV >= 5 ) {
    my ( $keypem, $selector, $domain, $passes, @files ) = @ARGV;
    exit run_sign( $keypem, $selector, $domain, parse_passes($passes), @files );
}
usage();
