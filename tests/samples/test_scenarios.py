"""The scenario corpus (samples/scenarios/): every recipe builds, the same way every time, runs
only what it ships, stays inside the harmless ranges, and EXPECTED.yaml describes exactly it."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
from pathlib import Path, PurePosixPath

import pytest
import yaml

from detonate.factory import LayerSpec, build_image, load_recipe, write_oci_archive
from detonate.factory.spec import DEFAULT_PATH_ENV, ImageSpec
from detonate.model.findings import Category

SCENARIOS = Path(__file__).resolve().parents[2] / "samples" / "scenarios"
EXPECTED = yaml.safe_load((SCENARIOS / "EXPECTED.yaml").read_text())
NAMES = sorted(p.parent.name for p in SCENARIOS.glob("*/image.yaml"))
VERDICTS = {"malicious", "suspicious", "clean"}
TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")
FIELDS = {
    "behaviour", "description", "verdict", "acceptable", "categories", "techniques", "related",
    "runtime_only", "needs",
}  # fmt: skip
HARMLESS_NETWORKS = [
    ipaddress.ip_network(net)
    for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "127.0.0.0/8", "0.0.0.0/32")
]
# a real-looking Monero address: 95 base58 characters starting with 4
WALLET = re.compile(r"\b4[1-9A-HJ-NP-Za-km-z]{60,}\b")


def _scenario_text(name: str) -> str:
    """The recipe and every file beside it, as text (binary files decoded loosely)."""
    directory = SCENARIOS / name
    return "\n".join(
        path.read_bytes().decode("utf-8", "replace")
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    )


def _image_files(spec: ImageSpec) -> dict[str, int]:
    """Path → mode of every file and symlink the layers put in the image (later layers win)."""
    files: dict[str, int] = {}
    for layer in spec.layers:
        assert isinstance(layer, LayerSpec)
        for entry in layer.files:
            name = PurePosixPath(entry.path)
            if name.name.startswith(".wh."):
                files.pop(str(name.parent / name.name[4:]), None)
            elif entry.type != "dir":
                files[entry.path] = entry.effective_mode()
    return files


def test_expected_names_exactly_the_scenario_directories() -> None:
    assert sorted(EXPECTED["scenarios"]) == NAMES
    assert len(NAMES) == 28


def test_every_threat_and_lookalike_has_exactly_one_scenario() -> None:
    behaviours = [entry["behaviour"] for entry in EXPECTED["scenarios"].values()]
    assert sorted(b for b in behaviours if isinstance(b, int)) == list(range(1, 22))
    assert sorted(b for b in behaviours if isinstance(b, str)) == [f"B{i}" for i in range(1, 8)]
    for name, entry in EXPECTED["scenarios"].items():
        number = entry["behaviour"]
        prefix = f"t{number:02d}-" if isinstance(number, int) else f"b{int(number[1:]):02d}-"
        assert name.startswith(prefix), name


@pytest.mark.parametrize("name", NAMES)
def test_expected_entry_is_complete_and_consistent(name: str) -> None:
    entry = EXPECTED["scenarios"][name]
    assert set(entry) >= FIELDS, f"{name} lacks {FIELDS - set(entry)}"
    # optional: `limits`; `detections` (what must produce each technique) is checked against
    # the real rules and event kinds in tests/scenarios/test_declarations.py
    assert set(entry) <= FIELDS | {"limits", "detections"}, f"{name} has unknown fields"
    assert entry["description"].strip() and "\n" not in entry["description"]
    assert entry["verdict"] in VERDICTS
    assert set(entry["acceptable"]) <= VERDICTS
    assert entry["verdict"] in entry["acceptable"]
    assert isinstance(entry["runtime_only"], bool)
    categories = {category.value for category in Category}
    assert set(entry["categories"]) <= categories
    for technique in entry["techniques"] + entry["related"]:
        assert TECHNIQUE.match(technique), technique
    assert not set(entry["techniques"]) & set(entry["related"])
    if name.startswith("t"):
        assert entry["categories"] and entry["techniques"]
        assert "clean" not in entry["acceptable"]
    else:
        assert not entry["categories"] and not entry["techniques"]
        assert "malicious" not in entry["acceptable"]


@pytest.mark.parametrize("name", NAMES)
def test_scenario_builds_deterministically_and_runs_what_it_ships(name: str) -> None:
    spec = load_recipe(SCENARIOS / name)
    assert spec.name == name
    first, second = build_image(spec), build_image(load_recipe(SCENARIOS / name))
    assert first.manifest == second.manifest and first.config == second.config
    # the program the container starts is in the image, and executable
    files = _image_files(spec)
    program = (spec.entrypoint or spec.cmd)[0]
    if not program.startswith("/"):
        env = dict(item.split("=", 1) for item in spec.env)
        path = env.get("PATH", DEFAULT_PATH_ENV.split("=", 1)[1])
        program = next((f"{d}/{program}" for d in path.split(":") if f"{d}/{program}" in files), "")
    assert program in files, f"{name}: entrypoint {(spec.entrypoint or spec.cmd)[0]} not shipped"
    assert files[program] & 0o111 or spec.entrypoint[:1] == ("/bin/sh",)


@pytest.mark.parametrize("name", NAMES)
def test_scenario_stays_inside_harmless_addresses_and_names(name: str) -> None:
    text = _scenario_text(name)
    for literal in re.findall(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])", text):
        address = ipaddress.ip_address(literal)
        assert any(address in net for net in HARMLESS_NETWORKS), f"{name}: {literal}"
    for host in re.findall(r"[a-z0-9+]+://([A-Za-z0-9.-]+)", text):
        if not re.fullmatch(r"[\d.]+", host) and "." in host:
            assert host.endswith(".test") or host.startswith("kubernetes.default"), (name, host)
    for wallet in WALLET.findall(text):
        assert len(wallet) == 95, f"{name}: wallet-like string of length {len(wallet)}"


def _shell_scripts(spec: ImageSpec) -> list[tuple[str, bytes]]:
    scripts = []
    for layer in spec.layers[1:]:
        assert isinstance(layer, LayerSpec)
        for entry in layer.files:
            data = entry.data() if entry.type == "file" else b""
            if data.startswith(b"#!/bin/sh") or entry.path.endswith((".sh", ".init", "/.bot")):
                scripts.append((entry.path, data))
    if spec.entrypoint[:2] == ("/bin/sh", "-c"):
        scripts += [("entrypoint -c", (spec.entrypoint[2:] or spec.cmd)[0].encode())]
    return scripts


@pytest.mark.parametrize("name", NAMES)
def test_scenario_shell_scripts_parse(name: str) -> None:
    """`busybox sh -n` only parses: nothing of the image is executed on the host."""
    for path, script in _shell_scripts(load_recipe(SCENARIOS / name)):
        result = subprocess.run(
            ["busybox", "sh", "-n"], input=script, capture_output=True, timeout=10
        )
        assert result.returncode == 0, f"{name}:{path}: {result.stderr.decode()}"


def test_expected_needs_and_runtime_only_agree_with_the_recipes() -> None:
    for name, entry in EXPECTED["scenarios"].items():
        text = _scenario_text(name)
        if "stratum" in entry["needs"]:
            assert "stratum+" in text, name
        if "http" in entry["needs"]:
            assert "http://" in text, name


def test_an_archive_of_a_scenario_is_readable_by_skopeo(tmp_path: Path) -> None:
    spec = load_recipe(SCENARIOS / "t14-fileless-run")
    digest = write_oci_archive(spec, tmp_path / "t14.oci.tar")
    inspected = json.loads(
        subprocess.run(
            ["skopeo", "inspect", f"oci-archive:{tmp_path / 't14.oci.tar'}"],
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout
    )
    assert inspected["Digest"] == digest
    assert len(inspected["Layers"]) == 2
