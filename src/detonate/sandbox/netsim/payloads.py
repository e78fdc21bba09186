"""Stand-in payloads, so that download-and-run chains reach their run step.

Each one only prints a marker; nothing it does is harmful. The kind is chosen by what was asked
for: a configured path pattern first, then the extension, then the client.
"""

from __future__ import annotations

import fnmatch
import struct
from dataclasses import dataclass
from pathlib import PurePosixPath

MARKER = "detonate-netsim-stand-in"

SCRIPT_EXTENSIONS = {".sh", ".bash", ".ksh", ".zsh", ".ash"}
BINARY_EXTENSIONS = {".bin", ".elf", ".x86_64", ".amd64", ".x86", ".x64", ".out", ".so", ".exe"}
HTML_EXTENSIONS = {".html", ".htm", ".php", ".asp", ".aspx", ".jsp", ".cgi"}
# Clients that are not browsers: a bare "/" they fetch is most likely piped to a shell.
CLI_AGENTS = ("curl", "wget", "python", "go-http", "libwww", "okhttp", "busybox")


@dataclass(frozen=True)
class Payload:
    kind: str  # script, elf, html, json, text, notfound
    content_type: str
    body: bytes
    status: int = 200


def marker_text(kind: str, path: str) -> str:
    return f"{MARKER} {kind} {path}"


def shell_script(path: str) -> bytes:
    return f"#!/bin/sh\necho '{marker_text('script', _quote_free(path))}'\n".encode()


def static_elf(message: str) -> bytes:
    """A 64-bit x86 Linux executable that writes `message` + newline to stdout and exits 0.

    Hand-assembled so that no compiler is needed: one ELF header, one PT_LOAD segment mapping
    the whole file at 0x400000, then the code and the message.
    """
    text = (message + "\n").encode()
    base, header_size = 0x400000, 64 + 56
    code = (
        b"\xb8\x01\x00\x00\x00"  # mov eax, 1 (write)
        + b"\xbf\x01\x00\x00\x00"  # mov edi, 1 (stdout)
        + b"\x48\x8d\x35\x10\x00\x00\x00"  # lea rsi, [rip+16] (the message after the code)
        + b"\xba"
        + struct.pack("<I", len(text))  # mov edx, len
        + b"\x0f\x05"  # syscall
        + b"\xb8\x3c\x00\x00\x00"  # mov eax, 60 (exit)
        + b"\x31\xff"  # xor edi, edi
        + b"\x0f\x05"  # syscall
    )
    size = header_size + len(code) + len(text)
    ident = b"\x7fELF\x02\x01\x01" + b"\x00" * 9
    elf_header = struct.pack(
        "<16sHHIQQQIHHHHHH", ident, 2, 0x3E, 1, base + header_size, 64, 0, 0, 64, 56, 1, 0, 0, 0
    )
    program_header = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    return elf_header + program_header + code + text


def html_page(path: str) -> bytes:
    return (
        f"<!doctype html><html><head><title>It works</title></head>"
        f"<body><p>{marker_text('html', _quote_free(path))}</p></body></html>\n"
    ).encode()


def build(kind: str, path: str) -> Payload:
    if kind == "script":
        return Payload(kind, "application/x-sh", shell_script(path))
    if kind == "elf":
        return Payload(kind, "application/octet-stream", static_elf(marker_text("elf", path)))
    if kind == "json":
        return Payload(kind, "application/json", b'{"status":"ok"}\n')
    if kind == "text":
        return Payload(kind, "text/plain", (marker_text("text", path) + "\n").encode())
    if kind == "notfound":
        return Payload(kind, "text/html", b"<html><body>Not Found</body></html>\n", status=404)
    return Payload("html", "text/html; charset=utf-8", html_page(path))


def choose(path: str, user_agent: str, rules: tuple[tuple[str, str], ...] = ()) -> Payload:
    """The stand-in for a request target like "/p.sh?x=1", asked for by `user_agent`."""
    bare = path.split("?", 1)[0].split("#", 1)[0] or "/"
    for pattern, kind in rules:
        if fnmatch.fnmatchcase(bare, pattern):
            return build(kind, bare)
    suffix = PurePosixPath(bare).suffix.lower()
    if suffix in SCRIPT_EXTENSIONS:
        return build("script", bare)
    if suffix in HTML_EXTENSIONS:
        return build("html", bare)
    if suffix == ".json":
        return build("json", bare)
    if suffix == ".txt":
        return build("text", bare)
    if bare.endswith("/"):
        agent = user_agent.lower()
        cli = not agent or any(name in agent for name in CLI_AGENTS)
        return build("script" if cli else "html", bare)
    if suffix in BINARY_EXTENSIONS or not suffix:
        return build("elf", bare)
    return build("html", bare)


def _quote_free(path: str) -> str:
    # the path lands inside single quotes in a shell script: keep it inert
    return "".join(ch for ch in path if ch.isalnum() or ch in "/._-")[:200]
