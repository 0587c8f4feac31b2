#!/usr/bin/perl
# releases-example: a tiny app shipit deploys. GET / answers with the version; /health/live and
# /health/ready are the smoke-test endpoints; /metrics (Prometheus text) and /metrics.json count
# the requests answered. A release with an ERROR_RATE file (errors per second) reports that many
# server errors per second on top: a bad release a rollout gate should catch on the canary. Binds to the host's own address (test hosts share one
# network namespace, so each listens on its own 127.0.0.x).
#
# Perl with nothing but the core Socket module, because it starts in ~15 ms of CPU: a deploy
# benchmark over 50 hosts should measure the deploy, not an interpreter loading IO::Socket.
use strict;
use Socket qw(AF_INET SOCK_STREAM SOL_SOCKET SO_REUSEADDR INADDR_ANY inet_aton pack_sockaddr_in);

my ($bind, $port, $bound, $pidfile, $log);
while (@ARGV) {
    my $arg = shift @ARGV;
    if ($arg eq '--bind') { $bind = shift @ARGV }
    elsif ($arg eq '--port') { $port = shift @ARGV }
    elsif ($arg eq '--bound-file') { $bound = shift @ARGV }
    elsif ($arg eq '--pidfile') { $pidfile = shift @ARGV }
    elsif ($arg eq '--log') { $log = shift @ARGV }
    else { die "unknown argument $arg\n" }
}
die "usage: app.pl --bind ADDR --port PORT [--bound-file FILE] [--pidfile FILE --log FILE]\n" unless $bind && $port;

sub slurp {
    my ($path) = @_;
    open(my $f, '<', $path) or return undef;
    local $/;
    my $text = <$f>;
    close $f;
    $text =~ s/\s+\z// if defined $text;
    return $text;
}

my ($here) = ($0 =~ m{^(.*)/[^/]*$});
$here //= '.';
my $version = slurp("$here/VERSION") // '?';
my $error_rate = slurp("$here/ERROR_RATE") // 0;
# With an ERROR_CLIMB file (a ratio per second), GET / really answers 500, to a share of requests
# that climbs that much each second since the start: a bad release only a proxy's records show.
my $error_climb = slurp("$here/ERROR_CLIMB") // 0;
my $started = time;
my %answered;  # status => requests answered

# One line per event on stdout (the log file with --pidfile): an ISO-8601 UTC time with
# milliseconds, a level, the message; what `shipit logs` merges across hosts. Time::HiRes is core.
use Time::HiRes ();
$| = 1;
sub logline {
    my ($level, $message) = @_;
    my ($s, $us) = Time::HiRes::gettimeofday();
    my @t = gmtime($s);
    printf "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s %s\n", $t[5] + 1900, $t[4] + 1, $t[3], $t[2], $t[1], $t[0], $us / 1000, $level, $version, $message;
}

# With --pidfile, this process is the whole start: it stops the app the pidfile names (and waits
# until it is gone; a zombie counts as gone), binds, forks the server into the background and
# exits 0, or exits 1 saying why. No shell loops: a deploy to 50 hosts starts 50 of these.
if ($pidfile && defined(my $old = slurp($pidfile))) {
    if ($old =~ /^\d+$/ && kill('TERM', $old)) {
        for (1 .. 500) {
            my $stat = slurp("/proc/$old/stat");
            last if !defined $stat || $stat =~ /\) Z /;
            select(undef, undef, undef, 0.01);
        }
    }
}
my $addr = inet_aton($bind) or die "cannot resolve $bind\n";
socket(my $server, AF_INET, SOCK_STREAM, 0) or die "socket: $!\n";
setsockopt($server, SOL_SOCKET, SO_REUSEADDR, 1) or die "setsockopt: $!\n";
my $ok;
for (1 .. ($pidfile ? 100 : 1)) {  # the old app's socket may linger for a moment
    last if ($ok = bind($server, pack_sockaddr_in($port, $addr)));
    select(undef, undef, undef, 0.02);
}
$ok or die "cannot listen on $bind:$port: $!\n";
listen($server, 128) or die "listen: $!\n";
if ($pidfile) {
    open(STDIN, '<', '/dev/null');
    my $pid = fork() // die "fork: $!\n";
    if ($pid) {
        open(my $f, '>', $pidfile) or die "cannot write $pidfile: $!\n";
        print $f "$pid\n";
        close $f;
        print "started $version as pid $pid on $bind:$port\n";
        exit 0;
    }
    open(STDOUT, '>>', $log // '/dev/null');
    open(STDERR, '>&', \*STDOUT);
    $| = 1;
}
logline('INFO', "listening on $bind:$port (pid $$)");
if ($bound) {
    open(my $f, '>', $bound) or die "cannot write $bound: $!\n";
    print $f "$$\n";
    close $f;
}
$SIG{PIPE} = 'IGNORE';
my %reason = (200 => 'OK', 404 => 'Not Found', 500 => 'Internal Server Error', 503 => 'Service Unavailable');

while (1) {
    accept(my $client, $server) or next;
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
    my ($status, $body, $type) = (404, 'not found', 'text/plain');
    if ($path eq '/') {
        if ($error_climb > 0 && rand() < (time - $started) * $error_climb) { ($status, $body) = (500, "server error from releases-example $version") }
        else { ($status, $body) = (200, "hello from releases-example $version") }
    }
    elsif ($path eq '/metrics' || $path eq '/metrics.json') {
        my %count = %answered;
        $count{500} += int((time - $started) * $error_rate);
        my ($ok, $errors) = (0, 0);
        for my $code (keys %count) { if ($code >= 500) { $errors += $count{$code} } else { $ok += $count{$code} } }
        if ($path eq '/metrics') {
            $body = "# TYPE demo_requests_total counter\n"
                . join('', map { "demo_requests_total{code=\"$_\"} $count{$_}\n" } sort keys %count)
                . "# TYPE demo_info gauge\ndemo_info{version=\"$version\"} 1";
        } else {
            my $ratio = $ok + $errors ? sprintf('%.4f', $errors / ($ok + $errors)) : 0;
            ($body, $type) = ("{\"version\":\"$version\",\"requests\":$ok,\"errors\":$errors,\"error_ratio\":$ratio}", 'application/json');
        }
        $status = 200;
    }
    elsif ($path eq '/health/live') { ($status, $body) = (200, 'live') }
    elsif ($path eq '/health/ready') {
        # A release can declare itself not ready (v3 does, to show an automatic rollback).
        $status = slurp("$here/READY_STATUS") // 200;
        $body = $status == 200 ? 'ready' : 'not ready';
    }
    $answered{$status}++ unless $path =~ m{^/metrics};
    # Requests for the app itself, and every failure: health and metrics polls would drown the log.
    if ($status >= 500) { logline('ERROR', "GET $path $status $body") }
    elsif ($path !~ m{^/(health|metrics)}) { logline('INFO', "GET $path $status") }
    my $old = select($client); $| = 1; select($old);
    print $client "HTTP/1.0 $status " . ($reason{$status} // 'Status') . "\r\nContent-Type: $type\r\n"
        . "Content-Length: " . (length($body) + 1) . "\r\nConnection: close\r\n\r\n$body\n";
    close $client;
}
