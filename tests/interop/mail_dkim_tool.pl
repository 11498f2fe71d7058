#!/usr/bin/perl
# DomainKeys (RFC 4870) with Perl's Mail::DKIM (Debian libmail-dkim-perl), a second
# implementation for crates/monban-cli/tests/domainkeys_interop.rs.
#
#   mail_dkim_tool.pl sign KEYFILE DOMAIN SELECTOR METHOD HEADERS IN OUT [IN OUT ...]
#       Adds a DomainKey-Signature (METHOD simple or nofws) to each IN, written to OUT.
#       HEADERS is "all" (h= lists every field) or "none" (no h=: every field below).
#   mail_dkim_tool.pl verify KEYS FILE...
#       Verifies each FILE and prints "FILE<TAB>RESULT<TAB>DETAIL" per signature (the
#       first DomainKey-Signature). KEYS holds "NAME<TAB>TXT" lines: the only DNS
#       answers (anything else does not exist).
#
# Messages are read and written as they are (CRLF line ends expected).
use strict;
use warnings;

use Mail::DKIM::Signer;
use Mail::DKIM::Verifier;
use Mail::DKIM::DkSignature;
use Net::DNS;

sub slurp {
    my ($path) = @_;
    open( my $fh, '<:raw', $path ) or die "cannot read $path: $!\n";
    local $/;
    my $data = <$fh>;
    close $fh;
    return $data;
}

sub spew {
    my ( $path, $data ) = @_;
    open( my $fh, '>:raw', $path ) or die "cannot write $path: $!\n";
    print $fh $data;
    close $fh or die "cannot write $path: $!\n";
}

my $command = shift @ARGV // die "usage: $0 sign|verify ...\n";

if ( $command eq 'sign' ) {
    my ( $keyfile, $domain, $selector, $method, $headers, @files ) = @ARGV;
    die "sign: IN OUT pairs expected\n" if !@files || @files % 2;
    while ( my ( $in, $out ) = splice( @files, 0, 2 ) ) {
        my $message = slurp($in);
        my $policy  = sub {
            my $dkim = shift;
            $dkim->add_signature(
                Mail::DKIM::DkSignature->new(
                    Algorithm => 'rsa-sha1',
                    Method    => $method,
                    Headers   => $headers eq 'all' ? $dkim->headers : undef,
                    Domain    => $domain,
                    Selector  => $selector,
                )
            );
            return;
        };
        my $dkim = Mail::DKIM::Signer->new(
            Policy  => $policy,
            KeyFile => $keyfile,
        );
        $dkim->PRINT($message);
        $dkim->CLOSE;
        my $sig = $dkim->signature or die "$in: no signature made\n";
        spew( $out, $sig->as_string . "\015\012" . $message );
    }
}
elsif ( $command eq 'verify' ) {
    my ( $keys, @files ) = @ARGV;
    my %txt;
    for my $line ( split /\n/, slurp($keys) ) {
        my ( $name, $value ) = split /\t/, $line, 2;
        next unless defined $value;
        $txt{ lc $name } = $value;
    }
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ( $name, $type ) = @_;
        my $value = $txt{ lc $name };
        if ( $type ne 'TXT' || !defined $value ) {
            $@ = 'NXDOMAIN';
            return ();
        }
        my @chunks = unpack( '(A255)*', $value );
        return ( Net::DNS::RR->new( name => $name, type => 'TXT', txtdata => [@chunks] ) );
    };
    for my $file (@files) {
        my $dkim = Mail::DKIM::Verifier->new();
        $dkim->PRINT( slurp($file) );
        $dkim->CLOSE;
        my ($sig) = grep { $_->isa('Mail::DKIM::DkSignature') } $dkim->signatures;
        my ( $result, $detail ) = $sig ? ( $sig->result, $sig->result_detail ) : ( 'none', '' );
        $detail //= '';
        $detail =~ s/[\t\r\n]+/ /g;
        print "$file\t$result\t$detail\n";
    }
}
else {
    die "unknown command $command\n";
}
