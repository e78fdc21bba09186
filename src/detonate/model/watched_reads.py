"""Files whose read open is an event (`FileOpenedForRead`), whoever planted them.

Reads are not traced in general (a Python start opens hundreds of files); these few are, because
reading them is an act: credential stores and other processes' memory (credential access), and
the files that tell a program what host it runs on (discovery). The tracer emits one event per
process and path (the first read; a poller re-reading /proc/net/tcp adds nothing); reads of
honeytokens and of files the run wrote are events too, for their own reasons (see
`FileOpenedForRead`). Detectors classify the path again with `read_kind`.
"""

from __future__ import annotations

import re

# credential access
PASSWORD_HASHES = "password-hashes"  # T1003.008
PROCESS_ENVIRON = "process-environ"  # T1003.007 (another process's environment)
PROCESS_MEMORY = "process-memory"  # T1003.007
SSH_PRIVATE_KEY = "ssh-private-key"  # T1552.004
KUBE_TOKEN = "kube-token"  # T1528
# credentials a client keeps in a file (a kubeconfig, a tool's credential dotfile, a dotenv) and
# the private keys of a host's or cluster's PKI: their owner reads them to use them, so a read
# alone is no act; what makes it one (several tools' files, a copier, the bytes leaving) is
# provenance's (detect/provenance/collected.py)
CREDENTIAL_FILE = "credential-file"  # T1552.001
PKI_PRIVATE_KEY = "pki-private-key"  # T1552.004
# discovery (what host, what network)
OS_RELEASE = "os-release"  # T1082
KERNEL = "kernel"  # T1082
NETWORK_CONFIG = "network-config"  # T1016
NETWORK_CONNECTIONS = "network-connections"  # T1049
# the process list: /proc opened as a directory, or another process's comm, cmdline, stat or
# status (what ps, pgrep, psutil and a hand-written /proc walk read)
PROCESS_LIST = "process-list"  # T1057
# another process's cgroup or mounts: init's (`grep docker /proc/1/cgroup`) says whether and
# how the host is containerised (a runtime reading its own, for its memory limit, is not this)
CONTAINER_CHECK = "container-check"  # T1082

CREDENTIAL_KINDS = frozenset(
    {PASSWORD_HASHES, PROCESS_ENVIRON, PROCESS_MEMORY, SSH_PRIVATE_KEY, KUBE_TOKEN}
)
STORED_CREDENTIAL_KINDS = frozenset({CREDENTIAL_FILE, PKI_PRIVATE_KEY})
DISCOVERY_KINDS = frozenset(
    {OS_RELEASE, KERNEL, NETWORK_CONFIG, NETWORK_CONNECTIONS, PROCESS_LIST, CONTAINER_CHECK}
)

# /proc/<pid>/environ, /proc/<pid>/task/<tid>/mem …: group 1 is the pid as the sample named it
PROC_PID_FILE = re.compile(
    r"^/proc/(\d+)(?:/task/\d+)?/(environ|mem|comm|cmdline|stat|status|cgroup|mountinfo)$"
)
_PROC_PID_KINDS = {
    "mem": PROCESS_MEMORY,
    "environ": PROCESS_ENVIRON,
    "cgroup": CONTAINER_CHECK,
    "mountinfo": CONTAINER_CHECK,
}

# Client credential files, by the tool (family) they belong to, wherever the home is.
_HOME = r"(?:/root|/home/[^/]+|/var/lib/[^/]+|/srv/[^/]+|/opt/[^/]+)"
_CREDENTIAL_FILES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "kubeconfig",
        re.compile(
            r"/\.kube/config$|^/etc/kubernetes/[^/]+\.conf$|^/var/lib/kubelet/kubeconfig$"
            r"|^/etc/rancher/k[38]s/k[38]s\.yaml$"
        ),
    ),
    ("git", re.compile(_HOME + r"/\.git-credentials$")),
    ("netrc", re.compile(_HOME + r"/[._]netrc$")),
    ("postgres", re.compile(_HOME + r"/\.pgpass$")),
    ("mysql", re.compile(_HOME + r"/\.my\.cnf$|^/etc/mysql/debian\.cnf$")),
    ("npm", re.compile(_HOME + r"/\.npmrc$")),
    ("pypi", re.compile(_HOME + r"/\.pypirc$")),
    ("vault", re.compile(_HOME + r"/\.vault-token$")),
    ("docker", re.compile(_HOME + r"/\.docker/config\.json$")),
    ("aws", re.compile(_HOME + r"/\.aws/(?:credentials|config)$")),
    (
        "gcloud",
        re.compile(
            _HOME + r"/\.config/gcloud/(?:credentials\.db|access_tokens\.db|"
            r"application_default_credentials\.json|legacy_credentials/.*)$"
        ),
    ),
    ("azure", re.compile(_HOME + r"/\.azure/(?:accessTokens|msal_token_cache)\.json$")),
    ("s3cmd", re.compile(_HOME + r"/\.s3cfg$")),
    ("github-cli", re.compile(_HOME + r"/\.config/gh/hosts\.yml$")),
    # a dotenv: an application's secrets, wherever the application lives
    ("dotenv", re.compile(r"/\.env(?:\.(?!example$|sample$|template$|dist$)[A-Za-z0-9_-]+)?$")),
)
# Private keys of the host's or the cluster's PKI (not users' SSH keys: SSH_PRIVATE_KEY).
_PKI_KEYS = re.compile(
    r"^/etc/(?:kubernetes|etcd)/(?:.*/)?[^/]+\.key$|^/var/lib/kubelet/pki/[^/]+\.key$"
    r"|^/etc/ssl/private/[^/]+$|^/etc/pki/(?:[^/]+/)*private/[^/]+$"
    r"|^/etc/ssh/ssh_host_[a-z0-9]+_key$"
)


def credential_family(path: str) -> str:
    """Which tool's credential file `path` is ("kubeconfig", "netrc", "dotenv" …; "pki-key"
    for a PKI private key), "" when it is none."""
    for family, pattern in _CREDENTIAL_FILES:
        if pattern.search(path):
            return family
    return "pki-key" if _PKI_KEYS.match(path) else ""


_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (PASSWORD_HASHES, re.compile(r"^/etc/(?:g?shadow-?|security/opasswd|master\.passwd)$")),
    (SSH_PRIVATE_KEY, re.compile(r"^(?:/root|/home/[^/]+)/\.ssh/id_(?!.*\.pub$)[^/]+$")),
    (
        KUBE_TOKEN,
        re.compile(r"^/(?:var/)?run/secrets/(?:kubernetes\.io|eks\.amazonaws\.com)/.*token$"),
    ),
    (
        OS_RELEASE,
        re.compile(
            r"^/(?:etc|usr/lib)/os-release$|^/etc/(?:issue|lsb-release|debian_version|"
            r"alpine-release|redhat-release|centos-release|system-release)$"
        ),
    ),
    (PROCESS_LIST, re.compile(r"^/proc/?$")),
    (KERNEL, re.compile(r"^/proc/(?:version|sys/kernel/(?:osrelease|version))$")),
    (NETWORK_CONFIG, re.compile(r"^/proc/(?:self/|\d+/)?net/(?:route|arp|fib_trie|ipv6_route)$")),
    (
        NETWORK_CONNECTIONS,
        re.compile(r"^/proc/(?:self/|\d+/)?net/(?:tcp6?|udp6?|raw6?|unix|packet)$"),
    ),
)


def read_kind(path: str) -> str:
    """What reading `path` is (one of the kinds above), "" when its read is no event."""
    match = PROC_PID_FILE.match(path)
    if match is not None:
        return _PROC_PID_KINDS.get(match[2], PROCESS_LIST)
    for kind, pattern in _PATTERNS:
        if pattern.match(path):
            return kind
    family = credential_family(path)
    if family:
        return PKI_PRIVATE_KEY if family == "pki-key" else CREDENTIAL_FILE
    return ""
