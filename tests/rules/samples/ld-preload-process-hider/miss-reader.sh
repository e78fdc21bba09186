#!/bin/sh
# audit: show what is preloaded
cat /etc/ld.so.preload 2>/dev/null || echo none
