#!/bin/sh
# tune a database host
ulimit -n 65535
sysctl -w vm.nr_hugepages=128
exec postgres
