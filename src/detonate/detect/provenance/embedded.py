"""Stages decoded inside an interpreter, joined to what ran by their content.

`subprocess.run(["/bin/sh"], input=b64decode(T))`, `execSync(Buffer.from(T, 'base64'))`,
`eval decode_base64($cfg)`, `eval pack("H*", $x)`, `exec(zlib.decompress(b85decode(T)))`, a
hex buffer XOR'd with a key and written to a shell: the decoding happens in the
interpreter's memory, where no event shows it. What the trace does show is what ran
afterwards, and the image holds the encoded literal. So: the literals of the files of the
program's own tree (the directory of the script the interpreter was given, or the
directories and files an `-c`/`-e` text names, such as a `sys.path` entry; when that file or
a neighbour calls a decode function or XORs) are decoded (literals.py: base64, base85, hex,
compressed, XOR'd), and a decoded text counts as having reached an interpreter only when the
run shows its content acting, in that interpreter's process tree:

    a `sh -c TEXT` whose TEXT is in the decoded text             (Node's execSync)
    a command run by a shell reading its program from a pipe      (Python writing to sh's
      the interpreter wrote, that is in the decoded text            stdin)
    an exec of a file the run wrote whose path the decoded text   (Perl's eval of code that
      names                                                         system()s its download)
    an HTTP request of the tree for a URL the decoded text holds  (Python's exec of code
                                                                    that fetches a script)

A literal that decodes to a config the program then merely uses acts in none of these ways.

A compiled program (or a script whose decoding these literals miss) is judged the other way
round (encoded.py): the texts of what its process tree did — a `sh -c` text, the commands of a
shell reading the program's pipe, a URL it fetched — that its own file holds encoded (XOR'd,
base64'd, compressed, char codes …) but not in the clear, and that no command line above it
gave it, were decoded in its memory.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from detonate.detect.correlations.pipelines import runs_command_text, script_argument
from detonate.detect.correlations.run_index import (
    Proc,
    RunIndex,
    command_line,
    index_of,
    is_interpreter_name,
    is_loopback,
    is_shell_name,
)
from detonate.detect.interface import PROGRAM_LIMIT, RunView
from detonate.detect.provenance.encoded import MIN_TEXT, hidden
from detonate.detect.provenance.literals import XORS, hidden_texts
from detonate.model.events import DataWritten, NetworkSent
from detonate.model.netevents import DnsQueried, HttpRequested, StratumLogin
from detonate.model.runtime import ChangeKind
from detonate.model.timeline import ProgramImage

# a decode call in program text: b64decode, decode_base64, atob(, Buffer.from(…, 'base64') …
DECODE_CALL = re.compile(
    r"b64decode|decodebytes|decode_base64|base64_decode|atob\(|Buffer\.from\([^)]*base64"
    r"|unpack\(['\"]m|\.decode\(['\"](?:base64|hex)|fromhex\(|\bpack\(\s*['\"][Hh]"
    r"|b85decode|a85decode|b32decode|unhexlify|decompress|inflate|gunzip"
    r"|Buffer\.from\([^)]*['\"]hex",
    re.IGNORECASE,
)
# the quotes and operator between two pieces of one string literal: '…' . '…', "…" + "…"
CONCATENATION = re.compile(r"""['"]\s*[.+]?\s*['"]""")
# pieces of one text in a list too (`join('', '1f8b', '0800', …)`): searched, not decoded
JOINED = re.compile(r"""['"]\s*[.+,\\]?\s*['"]""")  # and Ruby's `'…' \` line continuation
COMMENT_LINE = re.compile(r"^\s*(?:#|//).*$", re.MULTILINE)  # not code: the program never reads it
TREE_FILES = 400  # a program tree larger than this is a system directory: its script alone
FILE_BYTES = 256 * 1024
BINARY_PROBE = 4096  # a NUL in a file's first bytes: not program text
READ_BUDGET = 8 * 1024 * 1024  # program text read per run, all trees together
MIN_MATCH = 12  # characters of a command line or path that must appear in the decoded text
NAMED_PATH = re.compile(r"""(?<![\w.])(/[\w.@+-]+(?:/[\w.@+-]+)*/?)""")  # in a -c text
LAUNCHER_DIRS = frozenset({"bin", "sbin", "scripts", "cmd", "exe"})  # a tree's launchers
SYSTEM_DIRS = ("/", "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/lib")
PROGRAM_BUDGET = 12 * 1024 * 1024  # program files searched for encoded texts, per run
ACT_TEXTS = 32  # texts of one program's acts searched for
SENT_TEXTS = 16  # URLs, names and logins kept per pid


@dataclass(frozen=True)
class EmbeddedStage:
    interpreter: int  # pid of the interpreter that decoded it
    source: str  # the file the literal is in
    stage: str  # the decoded text
    ran: int  # pid of the process whose run shows the text acting
    how: str  # which of the ways above


def embedded_stages(run: RunView) -> list[EmbeddedStage]:
    found = run.derived.get("embedded-stages")
    if not isinstance(found, list):
        found = run.derived["embedded-stages"] = _find(run)
    return found


def _find(run: RunView) -> list[EmbeddedStage]:
    index = index_of(run)
    out: list[EmbeddedStage] = []
    budget = [READ_BUDGET]  # bytes of program text read in this run, shared by all trees
    trees: dict[str, list[tuple[str, str]]] = {}
    for proc in index.procs.values():
        if not proc.execed or not is_interpreter_name(proc.name):
            continue
        scripts = program_files(run, proc)  # lists trees and reads file heads: once
        for script in scripts:
            if script not in trees:
                trees[script] = _stages(run, script, budget)
        for source, stage in [s for script in scripts for s in trees[script]]:
            hit = _acting(index, proc, stage)
            if hit is not None:
                out.append(EmbeddedStage(proc.pid, source, stage, *hit))
                break
    decoded = {stage.interpreter for stage in out}
    budget = [PROGRAM_BUDGET]
    for pid, acts in _acts_by_program(index).items():
        if pid not in decoded:
            out.extend(_encoded_in_program(run, index, index.procs[pid], acts, budget))
    return out


Act = tuple[int, str, list[str]]  # the pid that acted, how, the texts that show it


def _encoded_in_program(
    run: RunView, index: RunIndex, proc: Proc, acts: list[Act], budget: list[int]
) -> list[EmbeddedStage]:
    """The program's acts whose texts its own file (or `-c` text, or argv) holds only
    encoded."""
    given = [arg for pid in index.ancestors(proc.pid) for arg in index.procs[pid].argv]
    texts = [
        text
        for _, _, act_texts in acts
        for text in act_texts
        if len(text) >= MIN_TEXT and not any(text in arg for arg in given)
    ][:ACT_TEXTS]
    image = _program_image(proc)
    if not texts or image is None or budget[0] <= 0:
        return []
    source, data = _program_text(run, image)
    budget[0] -= len(data)
    encoded = hidden(data, texts) if data else {}
    arguments = " ".join(image.argv[1:]).encode()
    if len(encoded) < len(texts) and len(arguments) >= MIN_TEXT:  # awk 'BEGIN{…}', perl -e
        for text, how in hidden(arguments, [t for t in texts if t not in encoded]).items():
            encoded[text] = f"{how} (in its arguments)"
    for pid, how, act_texts in acts:
        for text in act_texts:
            if text in encoded:
                held = f"{source} holds it {encoded[text]}, not in the clear; {how}"
                return [EmbeddedStage(proc.pid, source, text, pid, held)]
    return []


def _program_text(run: RunView, image: ProgramImage) -> tuple[str, bytes]:
    """The file the program's code is in: a script an interpreter was given (its `-c` text),
    else the executable."""
    if is_interpreter_name(image.name):
        script = script_argument(image.argv)
        if not script:
            return "", b""
        if runs_command_text(image):
            return f"its `{image.name} -c` text", JOINED.sub("", script).encode()
        text = run.file_text(script, FILE_BYTES) if script.startswith("/") else None
        code = JOINED.sub("", COMMENT_LINE.sub("", text)) if text else ""
        return script, code.encode()
    path = image.exe_resolved or image.path
    if not path.startswith("/"):
        return "", b""
    return path, run.file_bytes(path, PROGRAM_LIMIT) or b""


def _acts_by_program(index: RunIndex) -> dict[int, list[Act]]:
    """What each program (not a shell) had run or sent, in one pass over the run: a `sh -c`,
    `python -c` or `perl -e` text under it; the commands, exec'd files, names looked up and
    pool logins of a shell or interpreter reading its program from a pipe the program wrote
    (or a unix socket pair it wrote to); the lines of a file it wrote that was then run or
    sourced; a URL, name or pool login of its own. A shell is known by its exec, whatever the
    pid ran after it (`sh -c "…; exec ./x"`)."""
    pipe_writers: dict[str, set[int]] = {}
    unix_writers: set[int] = set()
    for event in index.events:
        if isinstance(event, DataWritten) and event.path.startswith("pipe:"):
            pipe_writers.setdefault(event.path, set()).add(event.pid)
        elif isinstance(event, NetworkSent) and event.protocol == "UNIX":
            unix_writers.add(event.pid)
    sent = _sent_texts(index)
    acts: dict[int, list[Act]] = {}

    def add(program: int | None, act: Act) -> None:
        if program is not None and _program_image(index.procs.get(program)) is not None:
            acts.setdefault(program, []).append(act)

    named: dict[str, int] = {}  # paths a shell's or interpreter's argv names → its pid
    for proc in index.procs.values():
        for reader in proc.images:
            if not reader.execed:
                continue
            shell = is_shell_name(reader.name)
            if not shell and not is_interpreter_name(reader.name):
                continue
            for arg in reader.argv[1:]:  # `sh /tmp/x`, `sh -c ". /tmp/x"`: what it sources
                for path in NAMED_PATH.findall(arg):
                    named.setdefault(path, proc.pid)
            if runs_command_text(reader):
                text = (script_argument(reader.argv) or "").strip()
                act = (proc.pid, f"it ran as `{reader.name} {reader.argv[1]}`", [text])
                add(_program_above(index, proc.pid), act)
                continue
            if script_argument(reader.argv) != "":
                continue  # given a script file, not reading its program from stdin
            feeders = set(pipe_writers.get(reader.stdin, ()))
            if reader.stdin.startswith("socket:UNIX-STREAM:") and proc.ppid in unix_writers:
                feeders.add(proc.ppid)
            feeders.discard(proc.pid)
            if not feeders:
                continue
            family = [proc.pid, *index.descendants(proc.pid)]
            ran = [index.procs[c] for c in family[1:] if index.procs[c].execed]
            texts = [command_line(p.argv) for p in ran] + [a for p in ran for a in p.argv[1:]]
            texts += [t for pid in family for t in sent.get(pid, ())]
            if not texts:
                continue
            first = f"ran `{command_line(ran[0].argv)}`" if ran else "sent what it decoded"
            how = f"{reader.name} read it from the program's pipe and {first}"
            for feeder in feeders:
                add(feeder, (proc.pid, how, texts))
    runs: dict[str, list[int]] = {}  # path → the pids that exec'd it
    for proc in index.procs.values():
        for event in proc.execs:
            if event.succeeded:
                runs.setdefault(event.path, []).append(proc.pid)
    for path, opens in index.writes.items():
        runners = runs.get(path, [])
        readers = runners or ([named[path]] if path in named else [])
        if not readers:
            continue
        lines = _script_lines(index.run.file_text(path, FILE_BYTES) or "")
        how = f"it wrote {path}, which was then {'run' if runners else 'sourced'}"
        for writer in dict.fromkeys(o.pid for o in opens):
            add(writer, (readers[0], how, lines))
    for pid, texts in sent.items():
        if not texts:  # only requests to itself
            continue
        act = (pid, f"it sent {texts[0]}", list(texts))
        add(pid, act)
        add(_program_above(index, pid), act)
    return acts


def _sent_texts(index: RunIndex) -> dict[int, list[str]]:
    """Per pid: the first URLs it fetched, names it looked up and pool logins it sent (not to
    itself); a flood of a million distinct URLs keeps SENT_TEXTS of them."""
    sent: dict[int, dict[str, None]] = {}
    for event in index.net_events:
        if isinstance(event, HttpRequested) and event.url:
            host = (event.host or event.domain).rsplit(":", 1)[0]
            texts = [] if is_loopback(host) else [event.url]
        elif isinstance(event, DnsQueried):
            texts = [event.name.rstrip(".")]
        elif isinstance(event, StratumLogin):
            texts = [event.wallet, event.login]
        else:
            continue
        known = sent.setdefault(index.actor(event), {})
        for text in texts:
            if text and len(known) < SENT_TEXTS:
                known[text] = None
    return {pid: list(texts) for pid, texts in sent.items() if texts}


def _script_lines(text: str) -> list[str]:
    """The lines of a script worth searching for (comments and short lines left out); none of
    a program that is not text."""
    if "\0" in text[:4096]:
        return []
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if len(line) >= MIN_TEXT and not line.startswith("#")][:8]


def _program_image(proc: Proc | None) -> ProgramImage | None:
    """The pid's last program that is not a shell, if it ran one."""
    if proc is None:
        return None
    programs = [i for i in proc.images if i.execed and not is_shell_name(i.name)]
    return programs[-1] if programs else None


def _program_above(index: RunIndex, pid: int) -> int | None:
    """The nearest pid above `pid` that ran a program (not a shell)."""
    for ancestor in reversed(index.ancestors(pid)[:-1]):
        if _program_image(index.procs[ancestor]) is not None:
            return ancestor
    return None


def program_files(run: RunView, proc: Proc) -> list[str]:
    """The script an interpreter was given, or for `python -c TEXT` the absolute paths TEXT
    names (a module directory put on sys.path, a required file), each standing for its
    tree: a directory as "DIR/", a file by its path."""
    script = script_argument(proc.argv)
    if not script:
        return []
    if not runs_command_text(proc):
        return [script] if script.startswith("/") else []
    out = []
    for path in dict.fromkeys(NAMED_PATH.findall(script)):
        path = path.rstrip("/")
        if not path or path in SYSTEM_DIRS:
            continue
        if tree(run, path + "/"):
            out.append(path + "/")
        elif run.file_bytes(path, 1):
            out.append(path)
    return out[:4]


def _stages(run: RunView, script: str, budget: list[int]) -> list[tuple[str, str]]:
    """(file, decoded text) for the literals of the script's program tree ("DIR/": the
    directory's)."""
    directory = script.rstrip("/") if script.endswith("/") else posixpath.dirname(script)
    if posixpath.basename(directory) in LAUNCHER_DIRS:  # /opt/x/bin/run.rb needs ../lib
        directory = posixpath.dirname(directory) or directory
    paths = [] if script.endswith("/") else [script]
    if directory not in SYSTEM_DIRS:
        files = sorted(tree(run, directory + "/"))
        if len(files) <= TREE_FILES:
            paths = files
    out: list[tuple[str, str]] = []
    for path in paths:
        if budget[0] <= 0:
            break
        head = run.file_bytes(path, BINARY_PROBE)
        if not head or b"\0" in head:  # a program or a data file: no literals to decode
            continue
        text = run.file_text(path, FILE_BYTES)
        budget[0] -= len(text or "")
        if not text or not (DECODE_CALL.search(text) or XORS.search(text)):
            continue
        joined = CONCATENATION.sub("", text)  # 'aGVs' . 'bG8=' → one literal
        out.extend((path, stage) for stage in hidden_texts(joined))
    return out


def tree(run: RunView, prefix: str) -> set[str]:
    """Regular files under `prefix`: the image's and those the run wrote. The image's come
    from `run.image_files` (its rootfs in a live scan, the recorded ones on a rejudge)."""
    paths = {
        c.path
        for c in run.files
        if c.path.startswith(prefix) and c.change is not ChangeKind.DELETED
    }
    for path in run.image_files:
        if len(paths) > TREE_FILES:
            break
        if path.startswith(prefix):
            paths.add(path)
    return paths


def _fed_channels(index: RunIndex, proc: Proc) -> tuple[set[str], bool]:
    """The pipes the process wrote, and whether it wrote to a unix socket."""
    fed_pipes = {
        e.path
        for e in index.events
        if isinstance(e, DataWritten) and e.pid == proc.pid and e.path.startswith("pipe:")
    }
    wrote_unix = any(
        isinstance(e, NetworkSent) and e.pid == proc.pid and e.protocol == "UNIX"
        for e in index.events
    )
    return fed_pipes, wrote_unix


def _acting(index: RunIndex, interpreter: Proc, stage: str) -> tuple[int, str] | None:
    family = [interpreter.pid, *index.descendants(interpreter.pid)]
    fed_pipes, wrote_unix = _fed_channels(index, interpreter)
    for pid in family:
        proc = index.procs[pid]
        if pid == interpreter.pid or not proc.execed:
            continue
        if is_shell_name(proc.name) and runs_command_text(proc):
            text = (script_argument(proc.argv) or "").strip()
            if len(text) >= MIN_MATCH and text in stage:
                return pid, f"the decoded text ran as `{proc.name} -c`"
        if is_shell_name(proc.name) and _fed_by(proc, interpreter, fed_pipes, wrote_unix):
            for child in index.descendants(pid):
                line = command_line(index.procs[child].argv)
                if len(line) >= MIN_MATCH and line in stage:
                    return pid, f"{proc.name} read it from the interpreter's pipe and ran `{line}`"
        for event in proc.execs:
            dropped = event.path in index.writes  # a file the run wrote, not the image's
            if event.succeeded and dropped and len(event.path) >= MIN_MATCH and event.path in stage:
                return pid, f"the decoded code ran {event.path}, a file the run wrote"
    return _fetched(index, family, stage)


def _fed_by(proc: Proc, interpreter: Proc, pipes: set[str], wrote_unix: bool) -> bool:
    """The shell's stdin is a pipe the interpreter wrote, or a socket pair from the
    interpreter that wrote to a unix socket (Node's `spawn` with stdio 'pipe' is one)."""
    if proc.stdin in pipes:
        return True
    pair = proc.stdin.startswith("socket:UNIX-STREAM:")
    return pair and wrote_unix and proc.ppid == interpreter.pid


def _fetched(index: RunIndex, family: list[int], stage: str) -> tuple[int, str] | None:
    """An HTTP request of the interpreter's tree for a URL the decoded text holds."""
    pids = set(family)
    for event in index.net_events:
        if not isinstance(event, HttpRequested) or not event.url:
            continue
        host = (event.host or event.domain).rsplit(":", 1)[0]
        named = event.url in stage or (host and f"{host}{event.path}" in stage)
        if named and len(event.url) >= MIN_MATCH:
            pid = index.actor(event)
            if pid in pids:
                return pid, f"the decoded code fetched {event.url}"
    return None
