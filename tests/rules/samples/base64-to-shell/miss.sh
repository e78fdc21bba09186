#!/bin/sh
echo "$CONFIG_B64" | base64 -d > /etc/app/config.yaml
exec /usr/local/bin/app
