#!/bin/sh
cp libnetdev.so /usr/local/lib/libnetdev.so
echo /usr/local/lib/libnetdev.so > /etc/ld.so.preload
