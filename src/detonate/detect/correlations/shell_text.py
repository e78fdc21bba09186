"""What the shells of a run were told to do, read from their text rather than from their execs.

busybox ash runs many commands without an exec (builtins and NOFORK applets: printf, echo,
kill, rm, eval …) and never reaches execve for a tool that is missing, so exec-based rules miss
`stage=$(wget -qO- URL); eval "$stage"`, `printf '\\x77…' | sh` or `auditctl -D` on an image
without auditctl. This detector reads the text every shell ran:

    sh -c 'TEXT'                       the -c argument of every exec of a shell
    sh /entry.sh, /entry.sh (#!/bin/sh) the script a shell ran (the run's copy, else the image's)
    . /opt/lib.sh                      scripts sourced by those texts

and applies the static config patterns (rules config-download-pipe-shell, -base64-to-shell,
-security-tampering, evaluated on the text as a config item) plus the runtime exec and file
rules (evaluated on each simple command of the text as if it had run): download or decoded
stage fed to a shell or eval, security tampering, log and history wiping, competitor kills.

Findings reuse the rule ids of the exec-based detectors (download-pipe-shell, decode-to-shell,
exec-firewall-disable …) so detect() merges them with what the execs showed, one notch less
confident: a text names an attempt, the branch holding it may not have run.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import posixpath
import re
import shlex
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from detonate.detect.correlations.competitor_kill import KILL_TOOLS, MINER_NAMES
from detonate.detect.correlations.decode_to_shell import ECHOED, HEX_LITERAL
from detonate.detect.correlations.metadata import finding
from detonate.detect.correlations.pipelines import script_argument
from detonate.detect.correlations.run_index import RunIndex, index_of, is_shell_name, program
from detonate.detect.interface import RunView
from detonate.model.events import ProcessExecuted
from detonate.model.findings import Confidence, Evidence, Finding
from detonate.rules.loader import Fingerprint, Rule, fingerprint, load_rules
from detonate.rules.metadata import RuleMeta
from detonate.static.base64_stage import decoded_stages
from detonate.static.config import ConfigItem  # the static config rules' subject

NAME = "shell-text"
SOURCE = f"runtime:{NAME}"
MAX_DEPTH = 3  # nested decoded stages, sourced scripts
MAX_SOURCES = 200
MAX_EVIDENCE = 10
EXCERPT = 300
DECODED_SHOWN = 1000
SHEBANG_BYTES = 256

# Shell words that hand the rest of the line to a program: `sudo -u x cmd`, `nohup cmd &` …
WRAPPERS = frozenset({"sudo", "doas", "nohup", "exec", "command", "builtin", "nice", "setsid"})
WRAPPERS_WITH_VALUE = frozenset({"timeout", "busybox", "env"})
KEYWORDS = frozenset({"if", "then", "do", "else", "elif", "while", "until", "!", "{", "}", "time"})
KEYWORDS_ALONE = frozenset({"fi", "done", "esac", ";;"})
SHELL_WORD = r"(?:sudo\s+(?:-\S+\s+)*)?(?:\S*/)?(?:busybox\s+)?(?:ba|da|z|k|a)?sh\b"
DOWNLOADER = r"\b(?:curl|wget|fetch)\b"
# Programs (and shell forms) whose output is a decoded text: base64 -d, xxd -r -p, printf '\x63…'
DECODER = (
    r"(?:\bbase(?:64|32)\s+(?:-\w*d\w*|--decode)|\bbasenc\s+[^|;\n]*?(?:-d\b|--decode)"
    r"|\bxxd\s+(?:-\w+\s+)*-\w*r|\bopenssl\s+(?:enc|base64)\b[^|;\n]*?\s-d\b|\brev\b"
    r"|\buudecode\b|\bgunzip\b|\bzcat\b|\b(?:gzip|bzip2|xz)\s+-\w*d|\bbunzip2\b|\bunxz\b"
    r"|\b(?:printf|echo\s+-e)\s+(?:--\s+)?[\"']?(?:[^\"'|]*?)(?:\\x[0-9a-fA-F]{2}|\\[0-7]{3}){4})"
)
FILTERS = r"(?:\|\s*(?:gunzip|zcat|gzip\s+-\w*d\w*|base64\s+-\w*d\w*|tr\b|rev\b)[^|;&\n]*)*"
# Text patterns the static config rules lack: downloads and decoded stages reaching a shell
# through filters, `$( … )` given to sh -c or eval, or a variable that is then evaluated.
DOWNLOAD_RUNS = (
    re.compile(rf"(?i){DOWNLOADER}[^|;&\n]*{FILTERS}\|\s*{SHELL_WORD}"),
    re.compile(rf"(?i)(?:\beval|\b(?:ba|da|z|k|a)?sh\s+-c)\s+[\"']?\$\(\s*{DOWNLOADER}"),
    re.compile(rf"(?i)(?:\.|\bsource|\b(?:ba|da|z|k|a)?sh)\s+<\(\s*{DOWNLOADER}"),
    # a grouped fetch with fallbacks: (wget -O- URL || nc host 80) | sh, { curl …; } | sh
    re.compile(rf"(?i)\([^()\n]*{DOWNLOADER}[^()\n]*\)\s*\|\s*{SHELL_WORD}"),
    re.compile(rf"(?i)\{{\s[^{{}}\n]*{DOWNLOADER}[^{{}}\n]*;\s*\}}\s*\|\s*{SHELL_WORD}"),
)
# An interpreter one-liner that fetches code and evaluates it: python3 -c "exec(urlopen(U)
# .read())", perl -e 'eval get(U)', node -e "…eval(body)", ruby -e 'eval(URI.open(U).read)',
# php -r 'eval(file_get_contents(U));'. Both a remote address or fetch call and an eval are
# needed: a one-liner that only downloads a file is the downloaders' rules.
INTERPRETER_CODE = re.compile(
    r"(?i)\b(?:python[\d.]*|perl|ruby|node(?:js)?|php[\d.]*)\s+(?:-\S+\s+)*?-[ceEr]\s+(.*)"
)
REMOTE_FETCH = re.compile(
    r"(?i)\b(?:https?|ftp)://|\burlopen\b|\brequests\.get\b|\bLWP::|\bHTTP::Tiny\b"
    r"|\bhttps?\.get\b|\bfetch\s*\(|\bfile_get_contents\s*\(|\bNet::HTTP\b"
    r"|\bsocket\.(?:create_connection|socket)\b|\bIO::Socket\b"
)
EVALUATES = re.compile(r"\b(?:exec|eval)\b\s*[\(\s\"'$]|\bnew\s+Function\s*\(|\bFunction\s*\(")
# exec 9<>/dev/tcp/host/80 … sed '1,/^$/d' <&9 | bash: bytes read from a bash network socket
# (an fd opened on /dev/tcp or /dev/udp) piped into a shell.
NET_FD = re.compile(r"(?<![\w/])(\d+)\s*<>?\s*/dev/(?:tcp|udp)/")
DECODE_RUNS = (
    re.compile(rf"(?i){DECODER}[^;&\n]*\|\s*{SHELL_WORD}"),
    re.compile(rf"(?i)(?:\beval|\b(?:ba|da|z|k|a)?sh\s+-c)\s+[\"']?\$\([^)\n]*?{DECODER}"),
)
# stage=$(wget -qO- URL)    payload=`echo … | base64 -d`
ASSIGNED = re.compile(r"(?m)\b(\w+)=[\"']?(?:\$\(|`)([^\n]*)")
# for a in falcon-sensor osqueryd; do … done
FOR_LOOP = re.compile(r"\bfor\s+(\w+)\s+in\s+([^;\n]*?)\s*(?:;|\n)\s*do\b(.*?)\bdone\b", re.DOTALL)
HEREDOC = re.compile(r"<<-?\s*([\"']?)(\w+)\1")
SOURCED = re.compile(r"(?:^|[;&|{]|\bthen|\bdo)\s*(?:\.|source)\s+([\"']?)(/[^\s;&|\"']+)\1", re.M)
C_FLAG = re.compile(r"^-[a-zA-Z]*c[a-zA-Z]*$")
SHEBANG = re.compile(rb"^#!\s*(\S+)(?:\s+(\S+))?")
PRINTF_ARGUMENT = re.compile(r"(?:printf|echo\s+-e)\s+(?:--\s+)?(['\"])(.*?)\1")
ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|[ntr\\])")
BASE32_LITERAL = re.compile(r"[A-Z2-7]{16,}=*")
BASE64_LITERAL = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
# Builtins that stop the shell keeping a history (history -c and unset HISTFILE: static rule)
HISTORY_OFF = re.compile(r"\bHISTFILE=/dev/null\b|\bHISTSIZE=0\b|\bset\s+\+o\s+history\b")
OWN_RULES = frozenset({"shell-history-disabled"})  # reported by this detector alone
HOME = re.compile(r"^(?:~|\$HOME|\$\{HOME\})(?=/)")

# Static config rules applied to the text, and the runtime rule each hit is reported under.
STATIC_RULES = {
    "config-download-pipe-shell": "download-pipe-shell",
    "config-base64-to-shell": "decode-to-shell",
    "config-security-tampering": "",  # by what matched: TAMPERING_WORDS
}
TAMPERING_WORDS = (
    ("setenforce", "exec-selinux-disable"),
    ("ufw", "exec-firewall-disable"),
    ("iptables", "exec-firewall-disable"),
    ("hist", "shell-history-disabled"),
    ("chattr", "exec-chattr-immutable"),
)
# Runtime rules evaluated on each simple command of the text as an exec or a file change.
EXEC_RULES = (
    "exec-selinux-disable",
    "exec-firewall-disable",
    "exec-audit-rules-disable",
    "exec-security-agent-stop",
)
FILE_RULES = ("file-system-log-wipe", "file-shell-history-wipe")
STATEMENT_RULES = ("exec-security-agent-stop",)  # `p=$(pidof falcon) && kill -9 $p`
DATA_COMMANDS = frozenset({"echo", "printf", "cat"})


@dataclass(frozen=True)
class TextHit:
    """One pattern that matched a shell text: the rule it reports, the line, decoded stages."""

    rule_id: str
    excerpt: str
    decoded: tuple[str, ...] = ()
    stage: int = 0  # 0: the text itself; n: found inside a decoded stage n levels deep


@dataclass(frozen=True)
class ShellSource:
    text: str
    where: str  # "sh -c argument", "script /entry.sh", "/opt/lib.sh sourced by /entry.sh"
    pid: int
    seq: int
    path: str = ""


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    redirects: tuple[tuple[str, str], ...] = ()  # (">" or ">>", target)


class ShellText:
    name: str = NAME

    def detect(self, run: RunView) -> tuple[Finding, ...]:
        index = index_of(run)
        evidence: dict[str, list[Evidence]] = {}
        for source in shell_sources(index):
            for hit in analyse(source.text):
                item = _evidence(index, source, hit)
                found = evidence.setdefault(hit.rule_id, [])
                if item not in found and len(found) < MAX_EVIDENCE:
                    found.append(item)
                if hit.rule_id == "decode-to-shell" and hit.decoded:
                    evidence.setdefault("obfuscated-command-stage", [])
                    if item not in evidence["obfuscated-command-stage"]:
                        evidence["obfuscated-command-stage"].append(item)
        return tuple(
            text_finding(rule_id, items) for rule_id, items in sorted(evidence.items()) if items
        )


def text_finding(rule_id: str, evidence: list[Evidence]) -> Finding:
    """A finding of another detector's rule, from text: one notch less confident."""
    if rule_id in OWN_RULES:
        return finding(rule_id, NAME, evidence)
    meta = _runtime_meta(rule_id)
    result = meta.finding(SOURCE, tuple(evidence))
    return dataclasses.replace(result, confidence=_lower(meta.confidence))


def _lower(confidence: Confidence) -> Confidence:
    order = list(Confidence)
    return order[max(order.index(confidence) - 1, 0)]


def _runtime_meta(rule_id: str) -> RuleMeta:
    return _rules_by_id(fingerprint("runtime"))[rule_id].meta


def _rules(kind: str, ids: tuple[str, ...]) -> tuple[Rule, ...]:
    return _chosen(kind, ids, fingerprint(kind))


@lru_cache(maxsize=4)
def _rules_by_id(files: Fingerprint) -> dict[str, Rule]:
    return {rule.meta.id: rule for rule in load_rules("runtime")}


@lru_cache(maxsize=16)
def _chosen(kind: str, ids: tuple[str, ...], files: Fingerprint) -> tuple[Rule, ...]:
    by_id = {rule.meta.id: rule for rule in load_rules(kind)}
    return tuple(by_id[rule_id] for rule_id in ids if rule_id in by_id)


def _evidence(index: RunIndex, source: ShellSource, hit: TextHit) -> Evidence:
    what = source.where + (f", decoded stage {hit.stage}" if hit.stage else "")
    excerpt = hit.excerpt
    if hit.decoded:
        excerpt += "\ndecoded: " + "\ndecoded: ".join(d[:DECODED_SHOWN] for d in hit.decoded)
    change = index.files.get(source.path)
    return Evidence(
        description=f"shell text ({what})",
        path=source.path,
        sha256=change.sha256 if change else "",
        excerpt=excerpt,
        event_ids=(source.seq,),
        process=index.chain(source.pid, source.seq),
    )


# -- where shell text comes from -------------------------------------------------------------


def shell_sources(index: RunIndex) -> list[ShellSource]:
    """The -c texts and scripts the run's shells ran, then the scripts those sourced."""
    run = index.run
    found: list[ShellSource] = []
    seen: set[str] = set()
    shebang: dict[str, bool] = {}
    for event in index.events:
        if not isinstance(event, ProcessExecuted) or len(found) >= MAX_SOURCES:
            continue
        source = _source_of(run, event, shebang)
        if source is not None and source.text and source.text not in seen:
            seen.add(source.text)
            found.append(source)
    todo = list(found)
    for _ in range(MAX_DEPTH):
        sourced = []
        for parent in todo:
            for match in SOURCED.finditer(parent.text):
                path = match[2]
                text = run.file_text(path)
                if text and text not in seen:
                    seen.add(text)
                    where = f"{path} sourced by {parent.path or parent.where}"
                    sourced.append(ShellSource(text, where, parent.pid, parent.seq, path))
        found.extend(sourced)
        todo = sourced
    return found


def _source_of(
    run: RunView, event: ProcessExecuted, shebang: dict[str, bool]
) -> ShellSource | None:
    name = program(event.argv, event.path, event.applet)
    if event.succeeded and is_shell_name(name):
        script = script_argument(event.argv)
        if not script:
            return None  # stdin: the pipeline detectors see what fed it
        options = event.argv[1 : event.argv.index(script)] if script in event.argv else ()
        if any(C_FLAG.match(arg) for arg in options):
            return ShellSource(script, f"{name} -c argument", event.pid, event.seq)
        if script.startswith("/"):
            text = run.file_text(script)
            where = f"script {script} run by {name}"
            return ShellSource(text or "", where, event.pid, event.seq, script)
        return None
    # A script exec'd by path: the kernel ran its #! shell; without #! (ENOEXEC) the calling
    # shell runs it itself.
    path = event.path
    if not path.startswith("/") or path.startswith("/proc/"):
        return None
    if not (event.succeeded or event.error == "ENOEXEC"):
        return None
    if path not in shebang:
        shebang[path] = _runs_in_shell(run, path, event.succeeded)
    if not shebang[path]:
        return None
    return ShellSource(run.file_text(path) or "", f"script {path}", event.pid, event.seq, path)


def _runs_in_shell(run: RunView, path: str, succeeded: bool) -> bool:
    head = run.file_bytes(path, SHEBANG_BYTES)
    if not head:
        return False
    match = SHEBANG.match(head)
    if match is None:
        return not succeeded and b"\0" not in head  # ENOEXEC: a text the shell interprets
    interpreter = posixpath.basename(match[1].decode("utf-8", "replace"))
    if interpreter == "env" and match[2]:
        interpreter = match[2].decode("utf-8", "replace")
    return is_shell_name(interpreter)


# -- what a shell text says ------------------------------------------------------------------


def analyse(text: str, depth: int = 0) -> list[TextHit]:
    """Every pattern the text matches, one hit per rule id and line; decoded stages (literal
    base64, hex, printf escapes, reversed or gzipped text) are analysed again."""
    hits: list[TextHit] = []
    code = _without_heredocs(text)
    runs = _runnable(code)
    hits += _static_hits(runs, depth)
    hits += _pattern_hits(runs, depth)
    for command, statement, line in _commands(code):
        hits += _command_hits(command, statement, line, depth)
    for line in _lines(code):
        if HISTORY_OFF.search(line):
            hits.append(TextHit("shell-history-disabled", _excerpt(line), (), depth))
    if depth < MAX_DEPTH:
        for hit in [h for h in hits if h.decoded and h.stage == depth]:
            for stage in hit.decoded:
                hits += analyse(stage, depth + 1)
    unique: dict[tuple[str, str], TextHit] = {}
    for hit in hits:
        unique.setdefault((hit.rule_id, hit.excerpt), hit)
    return list(unique.values())


def _static_hits(code: str, depth: int) -> list[TextHit]:
    hits = []
    for rule in _rules("static", tuple(STATIC_RULES)):
        assert rule.matcher is not None
        for line in _lines(code):
            hit = rule.matcher.evaluate(ConfigItem("command", line))
            if hit is None:
                continue
            matched = hit.excerpts[0] if hit.excerpts else line
            rule_id = STATIC_RULES[rule.meta.id] or _tampering_rule(matched)
            if rule_id:
                decoded = _decoded(line) if rule_id == "decode-to-shell" else ()
                hits.append(TextHit(rule_id, _excerpt(line), decoded, depth))
    return hits


def _tampering_rule(matched: str) -> str:
    lowered = matched.lower()
    return next((rule for word, rule in TAMPERING_WORDS if word in lowered), "")


def _pattern_hits(code: str, depth: int) -> list[TextHit]:
    hits = []
    for line in _lines(code):
        if any(p.search(line) for p in DOWNLOAD_RUNS):
            hits.append(TextHit("download-pipe-shell", _excerpt(line), (), depth))
        if any(p.search(line) for p in DECODE_RUNS):
            hits.append(TextHit("decode-to-shell", _excerpt(line), _decoded(line), depth))
        code_of = INTERPRETER_CODE.search(line)
        if code_of and REMOTE_FETCH.search(code_of[1]) and EVALUATES.search(code_of[1]):
            hits.append(TextHit("download-pipe-shell", _excerpt(line), (), depth))
    hits += _socket_fd_to_shell(code, depth)
    # stage=$(wget -qO- URL) … eval "$stage"
    for match in ASSIGNED.finditer(code):
        variable, value = match[1], match[2]
        used = re.compile(
            rf"\beval\s+[\"']?\$\{{?{variable}\b|\b(?:ba|da|z|k|a)?sh\s+-c\s+[\"']?\$\{{?{variable}\b"
            rf"|\$\{{?{variable}\b[^|\n]*\|\s*{SHELL_WORD}"
        )
        run = used.search(code, match.end())
        if run is None:
            continue
        line = _excerpt(f"{match[0].strip()} … {_line_at(code, run.start())}")
        if re.search(DOWNLOADER, value, re.I):
            hits.append(TextHit("download-pipe-shell", line, (), depth))
        elif re.search(DECODER, value, re.I):
            hits.append(TextHit("decode-to-shell", line, _decoded(match[0]), depth))
    return hits


def _socket_fd_to_shell(code: str, depth: int) -> list[TextHit]:
    """A shell's network fd (`exec 3<>/dev/tcp/h/80`) read into a shell (`cat <&3 | sh`,
    `sh <&3`), or /dev/tcp itself read into one (`cat < /dev/tcp/h/80 | sh`)."""
    fds = {m[1] for m in NET_FD.finditer(code)}
    reads = [rf"<&\s*{fd}\b" for fd in sorted(fds)] + [r"<\s*/dev/(?:tcp|udp)/"]
    hits = []
    for line in _lines(code):
        for read in reads:
            piped = re.search(rf"{read}[^;&\n]*\|\s*{SHELL_WORD}", line)
            direct = re.search(rf"(?:^|[;&|({{]\s*){SHELL_WORD}[^|;&\n]*{read}", line)
            if piped or direct:
                hits.append(TextHit("download-pipe-shell", _excerpt(line), (), depth))
                break
    return hits


def _command_hits(
    command: Command, statement: tuple[str, ...], raw: str, depth: int
) -> list[TextHit]:
    hits = []
    line = _excerpt(raw)
    exec_subject = _ExecSubject(command.argv)
    for rule in _rules("runtime", EXEC_RULES):
        assert rule.matcher is not None
        if rule.matcher.evaluate(exec_subject) is not None:
            hits.append(TextHit(rule.meta.id, line, (), depth))
    for subject in _file_subjects(command):
        for rule in _rules("runtime", FILE_RULES):
            assert rule.matcher is not None
            if rule.matcher.evaluate(subject) is not None:
                hits.append(TextHit(rule.meta.id, line, (), depth))
    if command.argv and _name(command.argv[0]) in KILL_TOOLS:
        words = [w for w in statement if w not in DATA_COMMANDS]
        if any(MINER_NAMES.search(word) for word in words[1:]):
            hits.append(TextHit("kill-competing-miners", line, (), depth))
    whole = _ExecSubject(statement)
    for rule in _rules("runtime", STATEMENT_RULES):
        assert rule.matcher is not None
        if rule.matcher.evaluate(whole) is not None:
            hits.append(TextHit(rule.meta.id, line, (), depth))
    return hits


@dataclass(frozen=True)
class _ExecSubject:
    """A simple command of a shell text, seen as the exec it would have been."""

    argv: tuple[str, ...]

    def get(self, field: str) -> object:
        argv = self.argv
        return {
            "path": argv[0] if argv else "",
            "name": _name(argv[0]) if argv else "",
            "argv0": argv[0] if argv else "",
            "argv": argv,
            "args": " ".join(argv[1:]),
            "cmdline": " ".join(argv),
            "process": _name(argv[0]) if argv else "",
            "succeeded": True,
        }.get(field)


@dataclass(frozen=True)
class _FileSubject:
    op: str
    path: str
    flags: str
    process: str
    append: bool = False

    def get(self, field: str) -> object:
        return {
            "op": self.op,
            "path": self.path,
            "name": posixpath.basename(self.path),
            "dir": posixpath.dirname(self.path),
            "flags": self.flags,
            "truncated": self.op == "write" and not self.append,
            "append": self.append,
            "file_type": "file",
            "process": self.process,
        }.get(field)


def _file_subjects(command: Command) -> Iterator[_FileSubject]:
    """Writes a command's redirections would do, and files it deletes or empties."""
    process = _name(command.argv[0]) if command.argv else "sh"
    for operator, target in command.redirects:
        if operator == ">>":
            yield _FileSubject("write", _home(target), "O_WRONLY|O_CREAT|O_APPEND", process, True)
        else:
            yield _FileSubject("write", _home(target), "O_WRONLY|O_CREAT|O_TRUNC", process)
    if not command.argv:
        return
    paths = [_home(a) for a in command.argv[1:] if not a.startswith("-")]
    if process in ("rm", "unlink", "shred"):
        for path in paths:
            yield _FileSubject("delete", path, "", process)
    elif process == "truncate":
        for path in paths:
            yield _FileSubject("write", path, "O_WRONLY|O_TRUNC", process)
    elif process == "ln" and paths[:1] == ["/dev/null"]:
        for path in paths[1:]:
            yield _FileSubject("create", path, "", process)
    elif process == "cp" and paths[:1] == ["/dev/null"]:
        for path in paths[1:]:
            yield _FileSubject("write", path, "O_WRONLY|O_TRUNC", process)
    elif process == "tee" or (process == "sed" and "-i" in command.argv):
        for path in paths[1:] if process == "sed" else paths:
            yield _FileSubject("write", path, "O_WRONLY|O_TRUNC", process)
    elif process == "dd":
        for arg in command.argv[1:]:
            if arg.startswith("of="):
                yield _FileSubject("write", _home(arg[3:]), "O_WRONLY|O_TRUNC", process)


def _home(path: str) -> str:
    return HOME.sub("/root", path)


def _name(word: str) -> str:
    return posixpath.basename(word)


# -- shell text to lines and simple commands ------------------------------------------------


def _without_heredocs(text: str) -> str:
    """The text without here-document bodies, except those fed to a shell (`sh <<EOF`),
    whose body stays as lines of code."""
    out: list[str] = []
    lines = text.splitlines()
    position = 0
    while position < len(lines):
        line = lines[position]
        out.append(line)
        position += 1
        match = HEREDOC.search(line)
        if match is None:
            continue
        body: list[str] = []
        while position < len(lines) and lines[position].strip() != match[2]:
            body.append(lines[position])
            position += 1
        position += 1
        if re.match(rf"\s*{SHELL_WORD}", line[: match.start()].split("|")[-1].strip() or "-"):
            out.extend(body)
    return "\n".join(out)


def _runnable(code: str) -> str:
    """Lines that run commands: comments and `echo … > file` lines (text written to a file,
    such as a cron entry, is data here; persisted_commands reads the file) are dropped."""
    kept = []
    for line in _lines(code):
        words = _words(line)
        data = (
            words
            and words[0] in DATA_COMMANDS
            and any(w in (">", ">>") for w in words)
            and "|" not in words
        )
        if not data:
            kept.append(line)
    return "\n".join(kept)


def _lines(code: str) -> list[str]:
    """Logical lines: continuations joined, comments and blank lines dropped, `for` loops
    over literal words unrolled (`for a in falcon osqueryd; do kill $a; done`)."""
    joined = code.replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    for match in FOR_LOOP.finditer(joined):
        for word in match[2].split()[:20]:
            value = word.strip("\"'")
            body = re.sub(rf"\$\{{?{match[1]}\}}?", value, match[3])
            lines.extend(line.strip() for line in body.splitlines() if line.strip())
    return lines


def _words(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars="();<>|&`")
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:  # an unclosed quote: fall back to plain words
        return re.sub(r"([();<>|&`])", r" \1 ", line).split()


def _commands(code: str) -> Iterator[tuple[Command, tuple[str, ...], str]]:
    """Each simple command of the text, with the words of its whole line and the line."""
    for line in _lines(code):
        words = _words(line)
        statement = tuple(w for w in words if w != "$")
        for command in _split(words):
            yield command, statement, line


def _split(words: list[str]) -> Iterator[Command]:
    argv: list[str] = []
    redirects: list[tuple[str, str]] = []
    position = 0
    while position < len(words):
        word = words[position]
        position += 1
        if (word and set(word) <= set("();<>|&`")) or word == "$":
            if ">" in word and position < len(words):
                target = words[position]
                position += 1
                if argv and argv[-1].isdigit():
                    argv.pop()  # 2>/dev/null: the fd number is not an argument
                if not target.startswith("&") and not word.endswith("&"):
                    redirects.append((">>" if ">>" in word else ">", target))
                continue
            if "<" in word:
                position += 1
                continue
            if argv or redirects:
                yield Command(_program_words(argv), tuple(redirects))
            argv, redirects = [], []
            continue
        argv.append(word)
    if argv or redirects:
        yield Command(_program_words(argv), tuple(redirects))


def _program_words(argv: list[str]) -> tuple[str, ...]:
    """The program and its arguments: keywords, assignments and wrappers (sudo, nohup,
    timeout 5 …) dropped."""
    words = list(argv)
    while words:
        first = words[0]
        if first in KEYWORDS or re.match(r"^\w+=", first):
            words.pop(0)
        elif first in WRAPPERS:
            words.pop(0)
            while words and words[0].startswith("-"):
                words.pop(0)
        elif first in WRAPPERS_WITH_VALUE and len(words) > 1:
            words.pop(0)
            while words and (
                words[0].startswith("-") or re.match(r"^[\d.]+[smhd]?$|^\w+=", words[0])
            ):
                words.pop(0)
        else:
            break
    if words and words[0] in KEYWORDS_ALONE:
        return ()
    return tuple(words)


def _line_at(code: str, offset: int) -> str:
    start = code.rfind("\n", 0, offset) + 1
    end = code.find("\n", offset)
    return code[start : end if end >= 0 else len(code)].strip()


def _excerpt(line: str) -> str:
    return line if len(line) <= EXCERPT else line[: EXCERPT - 1] + "…"


# -- decoded stages ---------------------------------------------------------------------------


def _decoded(line: str) -> tuple[str, ...]:
    """The texts a decoding line carries as literals: base64 (nested too), hex for xxd,
    printf escapes, reversed echoes, base32, gzip inside base64."""
    stages: list[str] = list(decoded_stages(line))
    lowered = line.lower()
    if "xxd" in lowered:
        stages += _printable(binascii.unhexlify(h) for h in HEX_LITERAL.findall(line))
    if "printf" in lowered or "echo -e" in lowered:
        for match in PRINTF_ARGUMENT.finditer(line):
            if ESCAPE.search(match[2]):
                stages += _printable([_unescape(match[2]).encode("latin-1", "replace")])
    if re.search(r"\brev\b", line):
        stages += [m[2][::-1].strip() for m in ECHOED.finditer(line)]
    if "base32" in lowered:
        stages += _printable(_b32(literal) for literal in BASE32_LITERAL.findall(line))
    if re.search(r"gunzip|zcat|gzip\s+-\w*d", lowered):
        stages += _printable(_gunzipped(literal) for literal in BASE64_LITERAL.findall(line))
    unique: list[str] = []
    for stage in stages:
        if stage and stage not in unique:
            unique.append(stage)
    return tuple(unique[:8])


def _unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match[1]
        if code[0] == "x":
            return chr(int(code[1:], 16))
        if code[0] in "01234567":
            return chr(int(code, 8) & 0xFF)
        return {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[code]

    return ESCAPE.sub(one, text)


def _b32(literal: str) -> bytes:
    try:
        return base64.b32decode(literal + "=" * (-len(literal) % 8))
    except (binascii.Error, ValueError):
        return b""


def _gunzipped(literal: str) -> bytes:
    try:
        raw = base64.b64decode(literal + "=" * (-len(literal) % 4))
        if raw[:2] != b"\x1f\x8b":
            return b""
        # bounded: a few hundred bytes of the image's text can inflate to gigabytes
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, 65536)
    except (binascii.Error, ValueError, zlib.error):
        return b""


def _printable(blobs: Iterator[bytes] | list[bytes]) -> list[str]:
    out = []
    for blob in blobs:
        try:
            text = blob.decode("utf-8").strip()
        except (UnicodeDecodeError, binascii.Error):
            continue
        if text and all(ch.isprintable() or ch in "\n\t\r" for ch in text):
            out.append(text)
    return out
