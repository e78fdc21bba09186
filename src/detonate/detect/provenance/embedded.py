"""Stages decoded inside an interpreter, joined to what ran by their content.

`subprocess.run(["/bin/sh"], input=b64decode(T))`, `execSync(Buffer.from(T, 'base64'))`,
`eval decode_base64($cfg)`: the decoding happens in the interpreter's memory, where no event
shows it. What the trace does show is what ran afterwards, and the image holds the encoded
literal. So: the base64 literals of the files of the program's own tree (the directory of the
script the interpreter was given, when that file or a neighbour calls a decode function) are
decoded, and a decoded text counts as having reached an interpreter only when the run shows
its content acting, in that interpreter's process tree:

    a `sh -c TEXT` whose TEXT is in the decoded text             (Node's execSync)
    a command run by a shell reading its program from a pipe      (Python writing to sh's
      the interpreter wrote, that is in the decoded text            stdin)
    an exec of a file the run wrote whose path the decoded text   (Perl's eval of code that
      names                                                         system()s its download)

A literal that decodes to a config the program then merely uses acts in none of these ways.
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
    is_shell_name,
)
from detonate.detect.interface import RunView
from detonate.model.events import DataWritten
from detonate.model.runtime import ChangeKind
from detonate.static.base64_stage import decoded_stages

# a decode call in program text: b64decode, decode_base64, atob(, Buffer.from(…, 'base64') …
DECODE_CALL = re.compile(
    r"b64decode|decodebytes|decode_base64|base64_decode|atob\(|Buffer\.from\([^)]*base64"
    r"|unpack\(['\"]m|\.decode\(['\"](?:base64|hex)|fromhex\(",
    re.IGNORECASE,
)
# the quotes and operator between two pieces of one string literal: '…' . '…', "…" + "…"
CONCATENATION = re.compile(r"""['"]\s*[.+]?\s*['"]""")
TREE_FILES = 400  # a program tree larger than this is a system directory: its script alone
FILE_BYTES = 256 * 1024
BINARY_PROBE = 4096  # a NUL in a file's first bytes: not program text
READ_BUDGET = 8 * 1024 * 1024  # program text read per run, all trees together
MIN_MATCH = 12  # characters of a command line or path that must appear in the decoded text
SYSTEM_DIRS = ("/", "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/lib")


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
        if not proc.execed or not is_interpreter_name(proc.name) or runs_command_text(proc):
            continue
        script = script_argument(proc.argv)
        if not script or not script.startswith("/"):
            continue
        if script not in trees:
            trees[script] = _stages(run, script, budget)
        for source, stage in trees[script]:
            hit = _acting(index, proc, stage)
            if hit is not None:
                out.append(EmbeddedStage(proc.pid, source, stage, *hit))
                break
    return out


def _stages(run: RunView, script: str, budget: list[int]) -> list[tuple[str, str]]:
    """(file, decoded text) for the base64 literals of the script's program tree."""
    directory = posixpath.dirname(script)
    paths = [script]
    if directory not in SYSTEM_DIRS:
        tree = sorted(_tree(run, directory + "/"))
        if len(tree) <= TREE_FILES:
            paths = tree
    out: list[tuple[str, str]] = []
    for path in paths:
        if budget[0] <= 0:
            break
        head = run.file_bytes(path, BINARY_PROBE)
        if not head or b"\0" in head:  # a program or a data file: no literals to decode
            continue
        text = run.file_text(path, FILE_BYTES)
        budget[0] -= len(text or "")
        if not text or not DECODE_CALL.search(text):
            continue
        joined = CONCATENATION.sub("", text)  # 'aGVs' . 'bG8=' → one literal
        out.extend((path, stage) for stage in decoded_stages("base64 -d " + joined))
    return out


def _tree(run: RunView, prefix: str) -> set[str]:
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


def _acting(index: RunIndex, interpreter: Proc, stage: str) -> tuple[int, str] | None:
    family = [interpreter.pid, *index.descendants(interpreter.pid)]
    fed_pipes = {
        e.path
        for e in index.events
        if isinstance(e, DataWritten) and e.pid == interpreter.pid and e.path.startswith("pipe:")
    }
    for pid in family:
        proc = index.procs[pid]
        if pid == interpreter.pid or not proc.execed:
            continue
        if is_shell_name(proc.name) and runs_command_text(proc):
            text = (script_argument(proc.argv) or "").strip()
            if len(text) >= MIN_MATCH and text in stage:
                return pid, f"the decoded text ran as `{proc.name} -c`"
        if is_shell_name(proc.name) and proc.stdin in fed_pipes:
            for child in index.descendants(pid):
                line = command_line(index.procs[child].argv)
                if len(line) >= MIN_MATCH and line in stage:
                    return pid, f"{proc.name} read it from the interpreter's pipe and ran `{line}`"
        for event in proc.execs:
            dropped = event.path in index.writes  # a file the run wrote, not the image's
            if event.succeeded and dropped and len(event.path) >= MIN_MATCH and event.path in stage:
                return pid, f"the decoded code ran {event.path}, a file the run wrote"
    return None
