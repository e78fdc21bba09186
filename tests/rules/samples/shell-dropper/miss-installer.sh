#!/bin/sh
set -e
curl -fsSL -o /usr/local/bin/kubectl https://example.test/kubectl
chmod 0755 /usr/local/bin/kubectl
kubectl version --client
