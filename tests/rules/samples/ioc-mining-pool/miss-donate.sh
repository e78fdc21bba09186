#!/bin/sh
# xmrig donates to stratum+tls://donate.ssl.xmrig.com:443 by default
exec ./worker
