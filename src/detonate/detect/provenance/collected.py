"""What a program collects: credential material it read, and facts about the host it gathered
(the output of discovery commands, the files that describe the host). Data provenance follows
both to where they leave the container; the discovery and credential-access detectors name
them.

Programs are judged by what they read or run, with the tools whose job it is left out: `passwd`
and PAM's helpers read /etc/shadow to check a password, `ssh` reads its user's key.
"""

from __future__ import annotations

import posixpath
import re

from detonate.model.events import FileOpenedForRead
from detonate.model.watched_reads import (
    CONTAINER_CHECK,
    CREDENTIAL_KINDS,
    KERNEL,
    KUBE_TOKEN,
    NETWORK_CONFIG,
    NETWORK_CONNECTIONS,
    OS_RELEASE,
    PASSWORD_HASHES,
    PROCESS_ENVIRON,
    PROCESS_LIST,
    SSH_PRIVATE_KEY,
    STORED_CREDENTIAL_KINDS,
    credential_family,
    read_kind,
)

SYSTEM_INFO = "T1082"
NETWORK_CONFIG_DISCOVERY = "T1016"
CONNECTIONS_DISCOVERY = "T1049"
OWNER_DISCOVERY = "T1033"
PROCESS_DISCOVERY = "T1057"
ACCOUNT_DISCOVERY = "T1087.001"

# Programs whose output is a fact about the host, by the discovery technique they serve.
DISCOVERY_PROGRAMS: dict[str, str] = {
    **dict.fromkeys(
        ("uname", "hostname", "hostnamectl", "lscpu", "lsb_release", "arch", "dmidecode", "lshw"),
        SYSTEM_INFO,
    ),
    **dict.fromkeys(("ifconfig", "route", "arp", "iwconfig", "nmcli"), NETWORK_CONFIG_DISCOVERY),
    **dict.fromkeys(("netstat", "ss"), CONNECTIONS_DISCOVERY),
    **dict.fromkeys(("id", "whoami", "who", "w", "users", "logname"), OWNER_DISCOVERY),
    **dict.fromkeys(("ps", "pstree", "pgrep", "top"), PROCESS_DISCOVERY),
}
# `ip` discovers with these objects and no command or a showing one (ip addr, ip route show,
# ip neigh); `ip link set`, `ip route add` configure.
IP_DISCOVERY_OBJECTS = frozenset(
    {"a", "addr", "address", "r", "ro", "route", "n", "neigh", "neighbour", "l", "link"}
)
DISCOVERY_READS: dict[str, str] = {
    OS_RELEASE: SYSTEM_INFO,
    KERNEL: SYSTEM_INFO,
    NETWORK_CONFIG: NETWORK_CONFIG_DISCOVERY,
    NETWORK_CONNECTIONS: CONNECTIONS_DISCOVERY,
    PROCESS_LIST: PROCESS_DISCOVERY,
    CONTAINER_CHECK: SYSTEM_INFO,
}
# Tools that print or filter a file: run on a file that describes the host, their output is
# that fact (`grep docker /proc/1/cgroup`, `cat /etc/resolv.conf`, `awk … /proc/cpuinfo`);
# busybox's shell runs many other applets (id, hostname, ls) without an exec to see.
FILE_TOOLS = frozenset(
    {"cat", "head", "tail", "tac", "nl", "grep", "egrep", "fgrep", "awk", "gawk", "mawk"}
    | {"nawk", "sed", "cut", "less", "more", "strings", "od", "xxd", "hexdump"}
)
IN_PLACE = frozenset({"-i", "--in-place"})  # `sed -i … /etc/hosts` edits it
# Files describing the host that a file tool may print, beyond the watched reads'
# (`discovery_read_technique`: os-release, the kernel's version, /proc/net's routes, neighbours
# and sockets, another process's cgroup or mounts), which `host_file_technique` asks first.
HOST_FILES = (
    (
        SYSTEM_INFO,
        re.compile(
            r"^/(?:etc/(?:hostname|machine-id|[a-z]+[-_](?:release|version))"
            r"|proc/(?:cpuinfo|meminfo)|proc/self/(?:cgroup|mountinfo)|proc/(?:\d+|self)/status"
            r"|proc/sys/kernel/[\w/]+|sys/class/dmi/id/\w+)$"
        ),
    ),
    (
        NETWORK_CONFIG_DISCOVERY,
        re.compile(r"^/(?:etc/(?:resolv\.conf|hosts)|proc/(?:self/|\d+/)?net/(?:if_inet6|dev))$"),
    ),
    (ACCOUNT_DISCOVERY, re.compile(r"^/etc/(?:passwd|group)$")),
)
# Readers whose job the file is: checking or changing passwords, ssh using its own key, the
# kube client using its own token, process listers.
OWNERS: dict[str, frozenset[str]] = {
    PASSWORD_HASHES: frozenset(
        [
            "passwd",
            "chpasswd",
            "chage",
            "useradd",
            "usermod",
            "userdel",
            "adduser",
            "deluser",
            "groupadd",
            "groupmod",
            "groupdel",
            "gpasswd",
            "newusers",
            "pwck",
            "grpck",
            "pwconv",
            "pwunconv",
            "grpconv",
            "grpunconv",
            "vipw",
            "vigr",
            "login",
            "su",
            "sudo",
            "sshd",
            "dropbear",
            "unix_chkpwd",
            "unix_update",
            "shadowconfig",
            "chsh",
            "chfn",
            "cron",
            "crond",
            "atd",
            "sulogin",
        ]
    ),
    SSH_PRIVATE_KEY: frozenset(
        {"ssh", "scp", "sftp", "ssh-add", "ssh-agent", "ssh-keygen", "dbclient", "git", "rsync"}
    ),
    KUBE_TOKEN: frozenset({"kubectl", "helm"}),
    # procps reads pid 1's environment to learn the terminal's settings
    PROCESS_ENVIRON: frozenset({"ps", "top", "htop", "pgrep", "pkill", "pidof", "w"}),
}


SYSTEM_BIN_DIRS = frozenset({"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin"})


def discovery_technique(name: str, argv: tuple[str, ...], path: str = "", applet: str = "") -> str:
    """The discovery technique a program run as `name` with `argv` serves, "" for none. The
    system's tool (from a bin directory, or a busybox applet), not a program of the sample's
    own that happens to be called `w` or `id`."""
    if path and not applet and posixpath.dirname(path) not in SYSTEM_BIN_DIRS:
        return ""
    if name == "ip":
        words = [a for a in argv[1:] if not a.startswith("-")]
        shows = len(words) < 2 or words[1] in ("show", "list", "ls", "lst", "get")
        if words[:1] and words[0] in IP_DISCOVERY_OBJECTS and shows:
            return NETWORK_CONFIG_DISCOVERY
        return ""
    if name in FILE_TOOLS and not IN_PLACE & set(argv[1:]):
        return next(filter(None, map(host_file_technique, argv[1:])), "")
    return DISCOVERY_PROGRAMS.get(name, "")


def host_file_technique(path: str) -> str:
    """The discovery technique a file describing the host serves ("" for other files): its
    watched read's, else HOST_FILES'. Not the process list's: a tool printing one process's
    cmdline or status shows that process, not a survey of them (/proc/<pid>/status is
    system information, as /proc/self/status is)."""
    if read_kind(path) != PROCESS_LIST:
        technique = discovery_read_technique(path)
        if technique:
            return technique
    return next((technique for technique, pattern in HOST_FILES if pattern.match(path)), "")


def credential_kind(event: FileOpenedForRead, reader: str) -> str:
    """The kind of credential material this read took ("password-hashes", a honeytoken's
    kind …), "" when none or when `reader` is a program whose job the file is."""
    if event.honeytoken:
        if event.honeytoken in ("kube-namespace", "kube-ca"):
            return ""
        kind = event.honeytoken
    else:
        kind = read_kind(event.path)
        if kind not in CREDENTIAL_KINDS:
            return ""
    return "" if reader in OWNERS.get(read_kind(event.path) or kind, frozenset()) else kind


# Credential files a client keeps (watched_reads.CREDENTIAL_FILE, PKI_PRIVATE_KEY) are read by
# their owner to be used: a kubeconfig by a kube client, a dotenv by its application, a server's
# key by the server. Such a read is collection when the reader is a program that copies, packs or
# encodes bytes instead of using them (tar, cat, cp, base64, nc …), or when one program image
# reads the credential files of two or more tools (a dotenv and a kubeconfig, .netrc and .pgpass):
# no client uses the credentials of several others. The programs a family belongs to are left
# out of both.
COPIERS = frozenset(
    {
        *("tar", "gtar", "bsdtar", "zip", "7z", "7za", "rar", "cpio", "pax", "ar"),
        *("gzip", "pigz", "bzip2", "xz", "zstd", "lz4", "lzma", "compress"),
        *("cat", "tac", "cp", "dd", "head", "tail", "tee", "install", "split", "rsync", "scp"),
        *("base64", "base32", "basenc", "xxd", "od", "hexdump", "uuencode", "strings"),
        *("gpg", "age", "curl", "wget", "nc", "ncat", "netcat", "socat", "ftpput", "tftp"),
    }
)
OPENSSL_COPYING = frozenset({"enc", "base64", "smime", "cms", "aes-256-cbc", "des3"})
FAMILY_OWNERS: dict[str, frozenset[str]] = {
    "kubeconfig": frozenset(
        {"kubectl", "helm", "kubeadm", "kubelet", "k9s", "kustomize", "k3s", "kube-proxy"}
        | {"kube-apiserver", "kube-controller-manager", "kube-scheduler"}
    ),
    "git": frozenset({"git", "git-credential-store", "git-remote-https", "git-remote-http"}),
    "netrc": frozenset(
        {"curl", "wget", "ftp", "lftp", "fetchmail", "git", "git-remote-https", "git-remote-http"}
    ),
    "postgres": frozenset({"psql", "pg_dump", "pg_dumpall", "pg_restore", "pg_basebackup"}),
    "mysql": frozenset({"mysql", "mysqldump", "mysqladmin", "mariadb", "mariadb-dump", "mysqld"}),
    "npm": frozenset({"npm", "npx", "yarn", "pnpm"}),
    "pypi": frozenset({"twine", "pip", "pip3", "poetry"}),
    "vault": frozenset({"vault"}),
    "docker": frozenset({"docker", "podman", "buildah", "skopeo", "crane", "dockerd"}),
    "aws": frozenset({"aws"}),
    "gcloud": frozenset({"gcloud", "gsutil", "bq"}),
    "azure": frozenset({"az"}),
    "s3cmd": frozenset({"s3cmd"}),
    "github-cli": frozenset({"gh"}),
    "pki-key": frozenset(
        {"sshd", "ssh-keygen", "nginx", "apache2", "httpd", "haproxy", "postgres", "etcd"}
        | {"kube-apiserver", "kube-controller-manager", "kubelet", "kubeadm", "certbot"}
    ),
}


def stored_credential(path: str, reader: str) -> str:
    """The tool whose credential file `path` is ("kubeconfig", "dotenv", "pki-key" …), "" when
    it is none or `reader` is one of that tool's programs."""
    if read_kind(path) not in STORED_CREDENTIAL_KINDS:
        return ""
    family = credential_family(path)
    return "" if reader in FAMILY_OWNERS.get(family, frozenset()) else family


def copies(reader: str, argv: tuple[str, ...]) -> bool:
    """`reader` moves the bytes it reads (packs, copies, encodes, sends) rather than use them."""
    if reader == "openssl":
        return len(argv) > 1 and argv[1] in OPENSSL_COPYING
    return reader in COPIERS


def discovery_read_technique(path: str) -> str:
    return DISCOVERY_READS.get(read_kind(path), "")


# Cloud instance metadata services, and the paths of theirs that hand out credentials (role
# credentials, service-account tokens, task credentials, user data, the cluster's kube-env).
# The instance's id, region or zone are not credentials (rules/…/http-cloud-metadata*.yaml).
METADATA_ADDRESSES = frozenset(
    {"169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254", "169.254.169.253"}
)
METADATA_CREDENTIALS_PATH = re.compile(
    r"^/+(?:latest/(?:meta-data/+(?:iam|identity-credentials|ram/+security-credentials)(?:/|$)"
    r"|user-data)|computeMetadata/+v1(?:beta1)?/+(?:instance/+(?:service-accounts"
    r"|attributes/+kube-env)|project/+attributes/+(?:ssh-keys|sshKeys))|metadata/+identity"
    r"|opc/+v[12]/+identity|v2/+credentials)"
)


def metadata_credentials(dst_ip: str, path: str) -> bool:
    """A request for credentials of a cloud metadata service (its answer is a secret)."""
    return dst_ip in METADATA_ADDRESSES and bool(METADATA_CREDENTIALS_PATH.match(path))
