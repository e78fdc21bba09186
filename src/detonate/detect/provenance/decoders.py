"""Which program images turn an encoded text back into bytes: `base64 -d`, `xxd -r -p`,
`openssl enc -d -base64`, `uudecode`, `rev`. Known by program and flags (a copy of base64
under another name still shows its applet or argv[0]); decoding inside an interpreter
(`python3 -c "exec(b64decode(…))"`) is decode_to_shell's, by its command text."""

from __future__ import annotations

import re

DECODE_FLAGS = {
    "base64": re.compile(r"^(?:-\w*[dD]\w*|--decode)$"),
    "base32": re.compile(r"^(?:-\w*d\w*|--decode)$"),
    "basenc": re.compile(r"^(?:-\w*d\w*|--decode)$"),
    "xxd": re.compile(r"^-\w*r\w*$"),
    "openssl": re.compile(r"^(?:-d|-base64|-a|base64|enc)$"),
    "uudecode": re.compile(r".*"),
    "rev": re.compile(r".*"),
}


def decodes(name: str, argv: tuple[str, ...]) -> bool:
    """Whether program `name` run with `argv` decodes its input."""
    flags = DECODE_FLAGS.get(name)
    if flags is None:
        return False
    if name == "openssl":
        args = set(argv[1:])
        return ("base64" in args or "-base64" in args or "-a" in args) and "-d" in args
    if name in ("uudecode", "rev"):
        return True
    return any(flags.match(arg) for arg in argv[1:])
