"""Encoded stages: a decoder whose output a shell (or `eval`) ran, with the decoded text shown.

    echo ZWNobyBoaQ== | base64 -d | sh           decoder and stdin shell in one pipeline
    eval "$(echo … | base64 -d)"                 decoder in a `$( … )` of an evaluating shell
    python3 -c "exec(base64.b64decode('…'))"     decode and run in one interpreter

Decoding into a file that nothing runs (a config from an environment variable) is not a stage.
The text is recovered from the command lines around the decoder (nested stages too); when it is
not on any command line, the commands the fed shell started show what the stage did.
"""

from __future__ import annotations

import binascii
import re

from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.pipelines import (
    EVAL,
    Program,
    consumers,
    runs_command_text,
    substitution_shell,
)
from detonate.detect.correlations.run_index import (
    Proc,
    RunIndex,
    command_line,
    index_of,
    is_interpreter_name,
)
from detonate.detect.interface import RunView
from detonate.detect.provenance import DECODED, Sink, provenance_of
from detonate.detect.provenance.decoders import decodes
from detonate.detect.provenance.embedded import embedded_stages
from detonate.model.findings import Evidence, Finding, Severity
from detonate.static.base64_stage import decoded_stages

NAME = "decode-to-shell"
EXCERPT = 2000  # characters of a decoded stage kept in evidence
# Decode-and-run inside one interpreter: exec(b64decode(…)), eval(base64_decode(…)), atob …
INTERPRETER_DECODE = re.compile(
    r"b64decode|decodebytes|decode_base64|base64_decode|atob\(|Buffer\.from\([^)]*base64"
    r"|unpack\(['\"]m|\.decode\(['\"](?:base64|hex)|fromhex\(",
    re.IGNORECASE,
)
INTERPRETER_RUN = re.compile(r"\b(?:exec|eval|system|popen|subprocess|spawn|child_process)\b")
HEX_LITERAL = re.compile(r"(?:[0-9a-fA-F]{2}){12,}")
# echo 'olleh' | rev | sh  →  the echoed text, to be reversed
ECHOED = re.compile(r"(?:echo|printf)\s+(?:-\w+\s+)?(['\"]?)(.+?)\1\s*\|")


class DecodeToShell:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        sinks: dict[int, list[Sink]] = {}  # decoder pid → where its output ran
        for sink in provenance_of(run).of_kind(DECODED):
            sinks.setdefault(sink.taint.source.pid, []).append(sink)
        instances: list[tuple[Proc, str, int]] = []  # decoder, how, shell pid
        for proc in index.procs.values():
            if is_decoder(proc):
                for consumer in _fed_shells(index, proc, sinks.get(proc.pid, [])):
                    instances.append((proc, consumer[0], consumer[1]))
            elif _decodes_and_runs(proc):
                instances.append((proc, "decoded and ran in one interpreter", proc.pid))
        embedded = embedded_stages(run)
        for found in embedded:
            how = f"decoded a literal of {found.source} in its own code; {found.how}"
            instances.append((index.procs[found.interpreter], how, found.ran))
        if not instances:
            return ()
        return _findings(index, instances, [found.stage for found in embedded])


def is_decoder(proc: Proc) -> bool:
    """One of the pid's programs was a decoder (by its own exec, whatever the pid ran next)."""
    return any(decodes(image.name, image.argv) for image in _programs(proc))


def _decodes_and_runs(proc: Proc) -> bool:
    """`python3 -c "exec(b64decode(…))"`: one of the pid's programs, even when the decoded
    code then exec'd another (`os.execv("/bin/sh", …)`)."""
    for program in _programs(proc):
        if not is_interpreter_name(program.name) or not runs_command_text(program):
            continue
        text = " ".join(program.argv[1:])
        if INTERPRETER_DECODE.search(text) and INTERPRETER_RUN.search(text):
            return True
    return False


def _programs(proc: Proc) -> list[Program]:
    """The programs the pid exec'd, in order (the process itself when the trace shows no
    exec of it: a process the trace found running)."""
    images: list[Program] = [image for image in proc.images if image.execed]
    return images or ([proc] if proc.execed else [])


def _fed_shells(index: RunIndex, decoder: Proc, sinks: list[Sink]) -> list[tuple[str, int]]:
    fed = [
        (f"decoded text ran in a shell ({c.how})", c.shell) for c in consumers(index, decoder.pid)
    ]
    shells = {shell for _, shell in fed}
    # followed through files, copies and other tools, in order (provenance)
    fed += [(_how(index, sink), sink.pid) for sink in sinks if sink.pid not in shells]
    if fed:
        return fed
    # `eval "$(… | base64 -d)"` where the eval sits in a stage we decoded ourselves
    shell = substitution_shell(index, decoder.pid)
    if shell is not None and any(EVAL.search(text) for text in _sources(index, shell.pid)):
        return [("decoded text was passed to eval", shell.pid)]
    return []


def _how(index: RunIndex, sink: Sink) -> str:
    through = ", ".join(hop.what for hop in sink.taint.hops[1:])
    name = index.procs[sink.pid].name
    if sink.how == "pipe":
        ran = f"{name} read it as its program"
    elif sink.how == "script":
        ran = f"{name} ran {sink.path} as its script"
    else:
        ran = f"{sink.path} was executed"
    return f"decoded text {through}; {ran}" if through else f"decoded text: {ran}"


def _sources(index: RunIndex, pid: int) -> list[str]:
    """Command lines of `pid` and its ancestors, and every stage they decode."""
    texts: list[str] = []
    for ancestor in index.ancestors(pid):
        proc = index.procs[ancestor]
        for argv in {event.argv for event in proc.execs if event.succeeded} | {proc.argv}:
            line = " ".join(argv)
            texts.append(line)
            texts.extend(decoded_stages(line))
    return texts


def recovered_stages(index: RunIndex, decoder: Proc) -> list[str]:
    """Decoded texts found on the command lines around the decoder, outermost first."""
    stages: list[str] = []
    for ancestor in index.ancestors(decoder.pid):
        proc = index.procs[ancestor]
        lines = [" ".join(e.argv) for e in proc.execs if e.succeeded] or [" ".join(proc.argv)]
        for line in lines:
            stages.extend(decoded_stages(line))
            if decoder.name == "xxd":
                stages.extend(_hex_stages(line))
            if decoder.name == "rev":
                stages.extend(match[2][::-1] for match in ECHOED.finditer(line))
    if is_interpreter_name(decoder.name):
        stages.extend(decoded_stages("base64 -d " + " ".join(decoder.argv)))
    unique: list[str] = []
    for stage in stages:
        if stage not in unique:
            unique.append(stage)
    return unique


def _hex_stages(line: str) -> list[str]:
    out = []
    for literal in HEX_LITERAL.findall(line):
        try:
            text = binascii.unhexlify(literal).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            continue
        if text.isprintable() or "\n" in text:
            out.append(text.strip())
    return out


def _findings(
    index: RunIndex, instances: list[tuple[Proc, str, int]], embedded: list[str]
) -> tuple[Finding, ...]:
    evidence: list[Evidence] = []
    stages: list[str] = list(embedded)
    for decoder, how, shell in instances:
        ran = _what_it_ran(index, shell, decoder.pid)
        evidence.append(
            Evidence(
                description=f"{command_line(decoder.argv)}: {how}",
                event_ids=(*decoder.exec_seqs, *index.procs[shell].exec_seqs),
                process=index.chain(shell if shell != decoder.pid else decoder.pid),
                excerpt=ran,
            )
        )
        for stage in recovered_stages(index, decoder):
            if stage not in stages:
                stages.append(stage)
    if not stages:
        stages = _env_stages(index)  # `eval "$(echo $PAYLOAD | base64 -d)"`
    for number, stage in enumerate(stages, 1):
        evidence.append(
            Evidence(
                description=f"decoded stage {number} of {len(stages)}",
                excerpt=stage[:EXCERPT],
            )
        )
    decoding = finding("decode-to-shell", NAME, evidence)
    nested = len(stages) > 1 or len(instances) > 1
    obfuscation = finding(
        "obfuscated-command-stage",
        NAME,
        evidence,
        severity=Severity.HIGH if nested else None,
        why=f"{len(stages)} nested stages were decoded." if nested else "",
    )
    return (decoding, obfuscation)


def _env_stages(index: RunIndex) -> list[str]:
    """Base64 values of the image's environment (`eval "$(echo $P | base64 -d)"`)."""
    out: list[str] = []
    for item in index.run.config.env:
        _, _, value = item.partition("=")
        if len(value) >= 16:
            out.extend(decoded_stages("base64 -d " + value))
    return out


def _what_it_ran(index: RunIndex, shell: int, decoder: int) -> str:
    lines = []
    for child in index.descendants(shell):
        proc = index.procs[child]
        if child != decoder and proc.execed:
            lines.append(command_line(proc.argv))
    return "ran: " + "; ".join(lines[:10]) if lines else ""
