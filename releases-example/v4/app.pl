#!/usr/bin/perl
# releases-example: a tiny app shipit deploys. GET / answers with the version; /health/live and
# /health/ready are the smoke-test endpoints. Binds to the host's own address (test hosts share one
# network namespace, so each listens on its own 127.0.0.x). Perl, because it starts in ~20 ms: a
# deploy benchmark should measure the deploy, not an interpreter's imports.
use strict;
use warnings;
use IO::Socket::INET;
use FindBin;

my ($bind, $port, $bound);
while (@ARGV) {
    my $arg = shift @ARGV;
    if ($arg eq '--bind') { $bind = shift @ARGV }
    elsif ($arg eq '--port') { $port = shift @ARGV }
    elsif ($arg eq '--bound-file') { $bound = shift @ARGV }
    else { die "unknown argument $arg\n" }
}
die "usage: app.pl --bind ADDR --port PORT [--bound-file FILE]\n" unless $bind && $port;

sub slurp {
    my ($path) = @_;
    open(my $f, '<', $path) or return undef;
    local $/;
    my $text = <$f>;
    close $f;
    $text =~ s/\s+\z// if defined $text;
    return $text;
}

my $here = $FindBin::Bin;
my $version = slurp("$here/VERSION") // '?';
my $server = IO::Socket::INET->new(LocalAddr => $bind, LocalPort => $port, Listen => 128, ReuseAddr => 1, Proto => 'tcp')
    or die "cannot listen on $bind:$port: $!\n";
if ($bound) {
    open(my $f, '>', $bound) or die "cannot write $bound: $!\n";
    print $f "$$\n";
    close $f;
}
$SIG{PIPE} = 'IGNORE';
my %reason = (200 => 'OK', 404 => 'Not Found', 503 => 'Service Unavailable');

while (1) {
    my $client = $server->accept or next;
    my $request = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm 5;  # one slow client must not hold the app
        my $line = <$client> // '';
        while (my $h = <$client>) { last if $h =~ /^\r?\n\z/ }
        alarm 0;
        $line;
    } // '';
    my (undef, $path) = split ' ', $request;
    $path //= '';
    my ($status, $body) = (404, 'not found');
    if ($path eq '/') { ($status, $body) = (200, "hello from releases-example $version") }
    elsif ($path eq '/health/live') { ($status, $body) = (200, 'live') }
    elsif ($path eq '/health/ready') {
        # A release can declare itself not ready (v3 does, to show an automatic rollback).
        $status = slurp("$here/READY_STATUS") // 200;
        $body = $status == 200 ? 'ready' : 'not ready';
    }
    print $client "HTTP/1.0 $status " . ($reason{$status} // 'Status') . "\r\nContent-Type: text/plain\r\n"
        . "Content-Length: " . (length($body) + 1) . "\r\nConnection: close\r\n\r\n$body\n";
    close $client;
}
