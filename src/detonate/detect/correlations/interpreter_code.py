"""Command and scripting interpreters (T1059): the interpreter whose program text came at run
time, not from a script the image ships, and ran the payload.

    uudecode -o - stage | bzcat | ash -s                 decoded code on a shell's stdin
    curl -s http://…/x | python3 -                       downloaded code on Python's stdin
    python3 -c "…urlopen…; os.execv('/var/tmp/.x', …)"   inline code that ran a download
    (a Go program writing a shell stage into `sh -s`)     a shell whose stdin program started it

Two ways to see it. Provenance (provenance/graph.py) follows downloaded or decoded bytes to an
interpreter that read them as its program ("script" and "pipe" sinks). And every payload that
ran (downloaded or decoded bytes exec'd, or run as a script) is walked up to the programs that
started it: each interpreter on the way whose code was given inline (`-c`, `-e`) or on its
standard input is named, up to the first compiled program or interpreter running a file (an
entrypoint script, which is the image's own code). Named, never scored (info): the act itself
is judged by download-exec-chain and decode-to-shell; this says in which language it was
written.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.pipelines import reads_stdin, runs_command_text
from detonate.detect.correlations.run_index import (
    RunIndex,
    command_line,
    index_of,
    is_interpreter_name,
    is_shell_name,
)
from detonate.detect.interface import RunView
from detonate.detect.provenance import DECODED, NETWORK, Sink, provenance_of
from detonate.detect.provenance.embedded import EmbeddedStage, embedded_stages
from detonate.model.findings import Evidence, Finding
from detonate.model.timeline import ImageId, ProgramImage

NAME = "interpreter-code"
SHELL_RULE = "shell-ran-delivered-code"  # T1059.004
RULES = {  # interpreter name without its version → rule (T1059.006, .007; T1059 for the rest)
    "python": "python-ran-delivered-code",
    "node": "node-ran-delivered-code",
    "nodejs": "node-ran-delivered-code",
}
OTHER_RULE = "interpreter-ran-delivered-code"
RAN = ("exec", "script", "pipe")  # sinks where bytes ran (not "sent")
MAX_STEPS = 8  # programs walked up from a payload
MAX_EVIDENCE = 8  # interpreters per rule


class InterpreterCode:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        named: dict[ImageId, Evidence] = {}
        for sink in provenance_of(run).sinks:
            if sink.how not in RAN or sink.taint.kind not in (NETWORK, DECODED):
                continue
            if not sink.succeeded:
                continue
            ran = index.timeline.image_at(sink.pid, sink.seq)
            if ran is None:
                continue
            if sink.how in ("script", "pipe"):
                # `sh -c /tmp/.x` names the file in its command text: it starts it, not reads it
                inline = runs_command_text(ran)
                named.setdefault(ran.id, (_started if inline else _delivered)(index, ran, sink))
            for image in _authors(index, ran):
                named.setdefault(image.id, _started(index, image, sink))
        languages: dict[ImageId, str] = {}
        for stage in embedded_stages(run):
            found = _decoded_runner(run, index, stage)
            if found is not None:
                image, language = found
                languages.setdefault(image.id, language)
                named.setdefault(image.id, _decoded(index, image, stage))
        by_rule: dict[str, list[Evidence]] = {}
        for image_id, evidence in named.items():
            rule = rule_for(languages.get(image_id) or index.timeline.images[image_id].name)
            by_rule.setdefault(rule, []).append(evidence)
        return tuple(
            finding(rule, NAME, evidence[:MAX_EVIDENCE]) for rule, evidence in by_rule.items()
        )


def rule_for(name: str) -> str:
    """The rule naming an interpreter's language: a shell, Python, Node, or another."""
    if is_shell_name(name):
        return SHELL_RULE
    return RULES.get(name.rstrip("0123456789."), OTHER_RULE)  # "python3.11" → "python"


def _authors(index: RunIndex, ran: ProgramImage) -> Iterator[ProgramImage]:
    """The interpreters with inline or stdin code that started `ran`, nearest first: up the
    exec and fork chain until a compiled program or an interpreter running a file."""
    image = _program(index, _caller(index, ran))
    for _ in range(MAX_STEPS):
        if image is None or not (runs_command_text(image) or reads_stdin(image)):
            return
        yield image
        image = _program(index, _caller(index, image))


def _caller(index: RunIndex, image: ProgramImage) -> ProgramImage | None:
    """The image that exec'd into `image` (same pid), else the one that forked its pid."""
    found = image.previous or image.parent
    return index.timeline.images.get(found) if found is not None else None


def _program(index: RunIndex, image: ProgramImage | None) -> ProgramImage | None:
    """The exec'd image whose program `image` runs: itself, or for a forked copy (a subshell,
    a child before its exec) the image it was forked from."""
    for _ in range(MAX_STEPS):
        if image is None or image.execed:
            return image
        image = index.timeline.images.get(image.parent) if image.parent is not None else None
    return None


def _delivered(index: RunIndex, image: ProgramImage, sink: Sink) -> Evidence:
    source = sink.taint.source.what
    where = "its standard input" if sink.how == "pipe" else f"the script {sink.path}"
    return Evidence(
        description=f"{image.name} read its program from {where}: {sink.taint.kind} bytes "
        f"({source})",
        path="" if sink.how == "pipe" else sink.path,
        event_ids=(sink.taint.source.seq, sink.seq),
        process=index.chain(image.pid, image.start_seq),
        excerpt=command_line(image.argv),
    )


def _decoded_runner(
    run: RunView, index: RunIndex, stage: EmbeddedStage
) -> tuple[ProgramImage, str] | None:
    """The shell or interpreter of the pid that ran a stage a program decoded in memory, and
    its name; for a script it exec'd, the interpreter its `#!` line names."""
    proc = index.procs.get(stage.ran)
    for image in proc.images if proc is not None else ():
        if not image.execed:
            continue
        if is_shell_name(image.name) or is_interpreter_name(image.name):
            return image, image.name
        first = (run.file_text(image.exe_resolved or image.path, 256) or "").split("\n", 1)[0]
        words = first[2:].split() if first.startswith("#!") else []
        if words and posixpath.basename(words[0]) == "env" and len(words) > 1:
            words = words[1:]
        name = posixpath.basename(words[0]) if words else ""
        if is_shell_name(name) or is_interpreter_name(name):
            return image, name
    return None


def _decoded(index: RunIndex, image: ProgramImage, stage: EmbeddedStage) -> Evidence:
    return Evidence(
        description=f"{image.name} ran code that {stage.source}'s program decoded in memory",
        event_ids=(image.start_seq,),
        process=index.chain(image.pid, image.start_seq),
        excerpt=stage.stage[:300],
    )


def _started(index: RunIndex, image: ProgramImage, sink: Sink) -> Evidence:
    how = "given on its command line" if runs_command_text(image) else "read on its stdin"
    what = sink.path if sink.how != "pipe" else f"a program fed {sink.taint.kind} bytes"
    return Evidence(
        description=f"{image.name} ran code {how}, which started {what} ({sink.taint.kind})",
        path=sink.path if sink.how != "pipe" else "",
        event_ids=(image.start_seq, sink.seq),
        process=index.chain(image.pid, image.start_seq),
        excerpt=command_line(image.argv),
    )
