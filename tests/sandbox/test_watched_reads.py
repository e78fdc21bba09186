"""Reads that are acts (model/watched_reads.py): credential stores, other processes' environ
and memory, files describing the host; one event per program image and path; a process's own
/proc/PID files are not reported; what such a reader writes next is a new DataWritten."""

from __future__ import annotations

from detonate.model.events import DataWritten, FileOpenedForRead
from detonate.model.watched_reads import (
    CREDENTIAL_FILE,
    KUBE_TOKEN,
    NETWORK_CONFIG,
    OS_RELEASE,
    PASSWORD_HASHES,
    PKI_PRIVATE_KEY,
    PROCESS_ENVIRON,
    PROCESS_MEMORY,
    SSH_PRIVATE_KEY,
    credential_family,
    read_kind,
)
from detonate.sandbox.tracing.strace.interpreter import TraceInterpreter

# pid 1 in the container is host 100; its child, container pid 7, is host 101.
TRACE = """\
100 1000.1 execve("/usr/local/bin/snoop", ["snoop"], 0x1 /* 1 var */) = 0
100 1000.2 openat(AT_FDCWD</>, "/proc/1/environ", O_RDONLY) = 3</proc/1/environ>
100 1000.3 clone(child_stack=NULL, flags=SIGCHLD, child_tidptr=0x1) = 7 /* 101 in strace's PID NS */
101 1000.4 execve("/bin/sleep", ["sleep", "5"], 0x1 /* 1 var */) = 0
100 1000.5 openat(AT_FDCWD</>, "/proc/7/environ", O_RDONLY) = 3</proc/7/environ>
100 1000.6 openat(AT_FDCWD</>, "/proc/7/mem", O_RDONLY) = 4</proc/7/mem>
100 1000.7 openat(AT_FDCWD</>, "/tmp/out", O_WRONLY|O_CREAT|O_TRUNC, 0600) = 5</tmp/out>
100 1000.8 write(0x5, 0x7ffd0000, 0x10) = 0x10
100 1000.9 openat(AT_FDCWD</>, "/etc/shadow", O_RDONLY|O_CLOEXEC) = 6</etc/shadow>
100 1001.0 openat(AT_FDCWD</>, "/etc/shadow", O_RDONLY|O_CLOEXEC) = 6</etc/shadow>
100 1001.1 write(0x5, 0x7ffd0000, 0x10) = 0x10
100 1001.2 openat(AT_FDCWD</>, "/etc/os-release", O_RDONLY) = 7</usr/lib/os-release>
100 1001.3 openat(AT_FDCWD</>, "/etc/passwd", O_RDONLY) = 8</etc/passwd>
"""


def _events():
    interpreter = TraceInterpreter(init_pid=100, t0=1000.0)
    interpreter.feed_lines(TRACE.splitlines(keepends=True))
    summary = interpreter.summary()
    assert summary.parse_errors == 0
    return summary.events


def test_other_processes_and_credential_stores_are_reported_once() -> None:
    reads = [(e.pid, e.path) for e in _events() if isinstance(e, FileOpenedForRead)]
    # its own /proc/1/environ is not; /etc/shadow read twice is one event; /etc/passwd is
    # read by every libc lookup and is no event
    assert reads == [
        (100, "/proc/7/environ"),
        (100, "/proc/7/mem"),
        (100, "/etc/shadow"),
        (100, "/usr/lib/os-release"),
    ]
    requested = [e.requested_path for e in _events() if isinstance(e, FileOpenedForRead)]
    assert requested[-1] == "/etc/os-release"


def test_a_write_after_a_watched_read_is_a_new_data_written() -> None:
    writes = [e.seq for e in _events() if isinstance(e, DataWritten)]
    (shadow,) = [e.seq for e in _events() if getattr(e, "path", "") == "/etc/shadow"]
    assert len(writes) == 2 and writes[0] < shadow < writes[1]


def test_read_kinds() -> None:
    assert read_kind("/etc/gshadow") == PASSWORD_HASHES
    assert read_kind("/proc/12/task/13/environ") == PROCESS_ENVIRON
    assert read_kind("/proc/12/mem") == PROCESS_MEMORY
    assert read_kind("/proc/self/environ") == ""
    assert read_kind("/home/deploy/.ssh/id_ed25519") == SSH_PRIVATE_KEY
    assert read_kind("/home/deploy/.ssh/id_ed25519.pub") == ""
    assert read_kind("/run/secrets/kubernetes.io/serviceaccount/token") == KUBE_TOKEN
    assert read_kind("/proc/1/net/route") == NETWORK_CONFIG
    assert read_kind("/usr/lib/os-release") == OS_RELEASE
    assert read_kind("/proc/net/if_inet6") == ""


def test_client_credential_files_and_pki_keys_are_watched() -> None:
    """A kubeconfig, a tool's credential dotfile, a dotenv and a PKI key are read events, by
    what they are wherever they live; templates and public halves are not."""
    assert read_kind("/root/.kube/config") == CREDENTIAL_FILE
    assert credential_family("/home/ops/.kube/config") == "kubeconfig"
    assert credential_family("/etc/kubernetes/kubelet.conf") == "kubeconfig"
    assert credential_family("/var/lib/jenkins/.netrc") == "netrc"
    assert credential_family("/home/dev/.pgpass") == "postgres"
    assert credential_family("/srv/shop/.env.production") == "dotenv"
    assert read_kind("/srv/shop/.env.example") == ""
    assert read_kind("/etc/kubernetes/pki/apiserver-kubelet-client.key") == PKI_PRIVATE_KEY
    assert read_kind("/etc/ssl/private/shop.pem") == PKI_PRIVATE_KEY
    assert read_kind("/etc/ssh/ssh_host_ed25519_key.pub") == ""
    assert read_kind("/etc/kubernetes/pki/ca.crt") == ""
    trace = """\
100 1000.1 execve("/usr/bin/perl", ["perl", "/opt/sync.pl"], 0x1 /* 1 var */) = 0
100 1000.2 openat(AT_FDCWD</>, "/root/.kube/config", O_RDONLY|O_CLOEXEC) = 3</root/.kube/config>
100 1000.3 openat(AT_FDCWD</>, "/opt/app/.env", O_RDONLY|O_CLOEXEC) = 4</opt/app/.env>
100 1000.4 openat(AT_FDCWD</>, "/opt/app/config.yaml", O_RDONLY|O_CLOEXEC) = 5</opt/app/config.yaml>
"""
    interpreter = TraceInterpreter(init_pid=100, t0=1000.0)
    interpreter.feed_lines(trace.splitlines(keepends=True))
    reads = [e.path for e in interpreter.summary().events if isinstance(e, FileOpenedForRead)]
    assert reads == ["/root/.kube/config", "/opt/app/.env"]
