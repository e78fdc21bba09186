"""Recover the text of base64 stages written as literals, e.g.

    echo ZWNobyBoZWxsbw== | base64 -d | sh        →  "echo hello"

Nested stages (a decoded text that itself decodes a literal) are followed a few levels deep.
"""

from __future__ import annotations

import base64
import binascii
import re

DECODE_COMMAND = re.compile(r"base64\s+(?:-\w*d\w*|--decode)\b|b64decode|base64_decode|atob\(")
LITERAL = re.compile(r"[A-Za-z0-9+/]{12,}={0,2}")
MAX_DEPTH = 3
MAX_STAGES = 8


def decoded_stages(text: str, depth: int = MAX_DEPTH) -> tuple[str, ...]:
    """Texts of the base64 literals that `text` decodes, outermost first, nested ones after."""
    if depth <= 0 or not DECODE_COMMAND.search(text):
        return ()
    stages: list[str] = []
    for literal in LITERAL.findall(text):
        decoded = _decode_text(literal)
        if decoded is None:
            continue
        stages.append(decoded)
        stages.extend(decoded_stages(decoded, depth - 1))
        if len(stages) >= MAX_STAGES:
            break
    return tuple(stages[:MAX_STAGES])


def _decode_text(literal: str) -> str | None:
    try:
        raw = base64.b64decode(literal + "=" * (-len(literal) % 4), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    printable = sum(ch.isprintable() or ch in "\n\t\r" for ch in text)
    if not text.strip() or printable < len(text):
        return None
    return text.strip()
