#!/bin/sh
# vim:sw=4:ts=4:et
set -e
ME=$(basename "$0")
echo "$ME: info: IPv6 listen already enabled"
exit 0
