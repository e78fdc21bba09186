"""What YAML rules can match, and the fields each subject offers to the match language.

Static subjects (built by detonate.static's analyzers):
- file: one entry of the rootfs index. `path` "/usr/bin/su", `name` "su", `dir` "/usr/bin",
  `type` "file"/"dir"/"symlink"/…, `size`, `mode` (with setuid bits), `uid`, `gid`, `layer`
  (index, 0 = bottom), `executable` (bool), `link_target`, `owned` (listed by dpkg or apk:
  shipped by a package), `content` (text of the first bytes of a regular file; read only when
  every other test held), `certificate_beside` (a certificate file in the same directory: a
  key shipped with it is a server's TLS identity).
- config: one item of the image config. `part` is one of command (entrypoint + cmd joined),
  user, env ("KEY=value"), exposed_port ("3333/tcp"), label ("key=value"), healthcheck,
  workdir, history (a build step's `created_by`); `text` is its text; `index` its position.
- ioc: one indicator found in the config or in file strings. `kind` (domain, ip, url, pool,
  wallet), `value`, `coin` (monero, bitcoin; wallets only), `path` (file it came from, or
  "image config").
- unpack_issue: a tar entry the unpacker refused or neutralised. `kind` (path-traversal,
  link-escape, hardlink-to-directory, write-through-symlink, absolute-path, device-node,
  unsupported-entry …), `path` (the entry's name as written), `detail`, `layer`.

Runtime subjects (built from a run's events by detonate.detect.event_subjects). Every one also
has the actor's fields: `process` (name of the program that acted: the busybox applet, else the
file name), `process_path`, `cmdline` (its argv joined), `parent` (the parent's program name),
`ancestors` (program names of every ancestor, nearest first), `installer` (the actor or an
ancestor is one of the system's package managers: dpkg, apt, apk, rpm, yum, dnf, zypper,
pacman …; what they install is theirs), `succeeded`, `error` ("EPERM").
- exec: one execve. `path` as requested, `name` (program that ran: applet or file name),
  `applet`, `argv0` (file name of argv[0], as `ps` shows it), `argv` (list), `args` (argv[1:]
  joined), `created_in_run` (the file was written during the run), `fileless` (memfd or
  /proc/self/fd path), `renamed` (a known multi-call applet or tool run under another file name),
  `copy_of` (the known tool — busybox, wget, curl, nc … — whose binary, by sha256 of a run's
  exec under its own name, this exec ran under another file name; "" if none),
  `stdin` / `stdout` / `stderr` (what fds 0–2 were: "pipe:[4711]",
  "socket:TCP:[10.0.0.2:40000->192.0.2.1:4444]", "/dev/null", "" when unknown),
  `provenance` (for a file the run wrote: "network" or "decoded" when data provenance followed
  such bytes to this exec, "local" when it followed every write and none carried them; "" for
  the image's own files and for traces recorded before writes were events; docs/detect.md).
- file_change: one change to a file. `op` write / create / delete / rename / chmod / chattr /
  times, `path`, `name`, `dir`, `new_path` (rename), `flags` (the flags by name, for display:
  "O_WRONLY|O_TRUNC", "FS_IMMUTABLE_FL"), `truncated` and `append` (write: O_TRUNC, O_APPEND),
  `attributes` (chattr, in chattr's words: immutable, append, noatime …), `mode` (chmod),
  `file_type` (create: dir / symlink / hardlink / node), `target` (link target), `now` and
  `age` (times: set to the current time; whole seconds before the call the new modification
  time lies, absent when not set explicitly: `touch -d 2019-01-01` gives years).
  A rename also gives a `write` of its destination (`sed -i`, `mv tmp target` replace it), with
  `renamed_from` the source path.
- comm: a process renamed itself (prctl PR_SET_NAME), as `ps`/`top` show it. `comm` (the new
  name), `differs` (not its own program's name or that name cut to 15 characters).
- read: an open for reading of a watched path. `path`, `name`, `honeytoken` (its kind).
- connect: a socket connect. `family`, `transport` (TCP, UDP, UNIX…), `address` (IP or unix
  socket path), `port`, `domain` (the name the sample resolved), `protocol` (what the
  simulator saw on the flow: http, tls, stratum, irc, docker…), `local` (loopback or the
  container's own address or hostname: the sample talking to itself).
- listen: a bind or listen. `address`, `port`, `transport`.
- dns: `name`, `qtype`, `rcode`, `answers`.
- http: `method`, `host`, `path`, `url`, `user_agent`, `authorization` (scheme only),
  `body` (preview), `tls`, `port`, `address`, `domain`.
- tls: `sni`, `alpn`, `port`, `address`, `domain`.
- stratum: `wallet`, `login`, `password`, `agent`, `algos`, `dialect`, `tls`, `donation`,
  `port`, `address`, `domain`.
- irc: `op` join / message, `nick`, `user`, `channel`, `target`, `text`, `port`, `domain`.
- docker_api: `method`, `path`, `operation`, `image`, `cmd`, `privileged`, `binds`, `port`,
  `address`, `domain`.
- sunk: bytes a flow sent to the simulator's silent sink. `preview`, `bytes`, `port`,
  `address`, `domain`, `transport`.
- signal: `signal` ("SIGKILL"), `target_pid`, `target` (the victim's program when the tracer
  translated its pid), `group`
  (sent to a process group or to every process: pid <= 0).
- privileged: a call that matters for escape or evasion. `call` (mount, init_module, setns,
  ptrace, memfd_create, "write" under /proc or /sys …); typed fields where the call has them:
  `path` (the file it acts on: mount target, new root, device node, execveat's program, the
  /proc or /sys file), `source` and `fstype` (mount), `request` ("PTRACE_ATTACH", a bpf or
  keyctl command), `flags` (list of flag names: MS_BIND, CLONE_NEWNS …), `name` (memfd,
  module), `target_pid` (ptrace), `device` (mknod: "block 8:1", "char 1:1", "fifo" …);
  `args` is the tracer's own rendering of the arguments, for display (rules should not
  parse it: another tracer renders it differently).
- sleep: a sleep the sandbox skipped. `call`, `seconds`.
"""

from __future__ import annotations

SUBJECT_FIELDS: dict[str, frozenset[str]] = {
    "file": frozenset(
        {
            "path",
            "name",
            "dir",
            "type",
            "size",
            "mode",
            "uid",
            "gid",
            "layer",
            "executable",
            "link_target",
            "owned",
            "content",
            "certificate_beside",
        }
    ),
    "config": frozenset({"part", "text", "index"}),
    "ioc": frozenset({"kind", "value", "coin", "path"}),
    "unpack_issue": frozenset({"kind", "path", "detail", "layer"}),
}

ACTOR_FIELDS = frozenset(
    {"process", "process_path", "cmdline", "parent", "ancestors", "installer", "succeeded", "error"}
)
NET_FIELDS = frozenset({"port", "address", "domain"})
RUNTIME_SUBJECT_FIELDS: dict[str, frozenset[str]] = {
    name: ACTOR_FIELDS | fields
    for name, fields in {
        "exec": frozenset(
            {"path", "name", "applet", "argv0", "argv", "args", "created_in_run", "fileless"}
            | {"renamed", "copy_of", "stdin", "stdout", "stderr", "provenance"}
        ),
        "comm": frozenset({"comm", "differs"}),
        "file_change": frozenset(
            {
                "op",
                "path",
                "name",
                "dir",
                "new_path",
                "renamed_from",
                "flags",
                "truncated",
                "append",
                "attributes",
                "mode",
                "file_type",
                "target",
                "now",
                "age",
            }
        ),
        "read": frozenset({"path", "name", "honeytoken"}),
        "connect": NET_FIELDS | {"family", "transport", "protocol", "local"},
        "listen": frozenset({"address", "port", "transport"}),
        "dns": frozenset({"name", "qtype", "rcode", "answers"}),
        "http": NET_FIELDS
        | {"method", "host", "path", "url", "user_agent", "authorization", "body", "tls"},
        "tls": NET_FIELDS | {"sni", "alpn"},
        "stratum": NET_FIELDS
        | {"wallet", "login", "password", "agent", "algos", "dialect", "tls", "donation"},
        "irc": NET_FIELDS | {"op", "nick", "user", "channel", "target", "text"},
        "docker_api": NET_FIELDS
        | {"method", "path", "operation", "image", "cmd", "privileged", "binds"},
        "sunk": NET_FIELDS | {"preview", "bytes", "transport"},
        "signal": frozenset({"signal", "target_pid", "target", "group"}),
        "privileged": frozenset(
            {"call", "args", "path", "source", "fstype", "request", "flags", "name"}
            | {"target_pid", "device"}
        ),
        "sleep": frozenset({"call", "seconds"}),
    }.items()
}
assert not set(RUNTIME_SUBJECT_FIELDS) & set(SUBJECT_FIELDS), "subject names must be unique"
SUBJECT_FIELDS.update(RUNTIME_SUBJECT_FIELDS)

# Fields that cost I/O: their tests run after all the cheap ones.
LATE_FIELDS: dict[str, frozenset[str]] = {"file": frozenset({"content", "certificate_beside"})}

# YARA rules match file content; they have no YAML subject.
YARA_SUBJECT = "content"
