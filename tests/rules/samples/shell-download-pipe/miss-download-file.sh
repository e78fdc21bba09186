#!/bin/sh
curl -fsSL -o /tmp/app.tgz https://example.test/app.tgz
tar -xzf /tmp/app.tgz -C /opt
