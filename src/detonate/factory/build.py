"""Build sample recipes into DIR/<name>.oci/ and DIR/<name>.oci.tar, skipping fresh ones."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from detonate.factory.compile import musl_unavailable
from detonate.factory.debootstrap import debootstrap_unavailable
from detonate.factory.oci import write_oci_archive, write_oci_layout
from detonate.factory.recipe import RECIPE_FILE, load_recipe_full


@dataclass(frozen=True)
class BuiltSample:
    name: str
    tag: str
    digest: str  # what the tag points to (manifest, or image index for multi-platform)
    layout: Path  # skopeo: oci:<layout>:<tag>
    archive: Path  # skopeo: oci-archive:<archive>
    rebuilt: bool

    @property
    def oci_reference(self) -> str:
        return f"oci:{self.layout}:{self.tag}"

    @property
    def archive_reference(self) -> str:
        return f"oci-archive:{self.archive}"


def unbuildable(sample_dir: Path) -> str | None:
    """Why this machine cannot build the recipe in `sample_dir` (a debootstrap base, a stand-in
    linked with musl), or None; read from the recipe without building anything."""
    data = yaml.safe_load((sample_dir / RECIPE_FILE).read_text()) or {}
    if data.get("base") == "debootstrap" and (reason := debootstrap_unavailable()):
        return reason
    files = (f for layer in data.get("layers") or () for f in layer.get("files") or ())
    return musl_unavailable() if any(f.get("libc") == "musl" for f in files) else None


def build_sample(sample_dir: Path, out_dir: Path, force: bool = True) -> BuiltSample:
    recipe = load_recipe_full(sample_dir)
    spec = recipe.spec
    layout = out_dir / f"{spec.name}.oci"
    archive = out_dir / f"{spec.name}.oci.tar"
    if not force and _fresh(sample_dir, layout, archive):
        return BuiltSample(spec.name, spec.tag, _tagged_digest(layout), layout, archive, False)
    digest = write_oci_layout(spec, layout, recipe.platforms)
    write_oci_archive(spec, archive, recipe.platforms)
    return BuiltSample(spec.name, spec.tag, digest, layout, archive, True)


def build_all(samples_dir: Path, out_dir: Path, force: bool = False) -> list[BuiltSample]:
    return [
        build_sample(recipe.parent, out_dir, force=force)
        for recipe in sorted(Path(samples_dir).glob(f"*/{RECIPE_FILE}"))
    ]


def _fresh(sample_dir: Path, layout: Path, archive: Path) -> bool:
    index = layout / "index.json"
    if not (index.is_file() and archive.is_file()):
        return False
    newest_input = max(p.stat().st_mtime for p in sample_dir.rglob("*") if p.is_file())
    return min(index.stat().st_mtime, archive.stat().st_mtime) >= newest_input


def _tagged_digest(layout: Path) -> str:
    index = json.loads((layout / "index.json").read_text())
    return str(index["manifests"][0]["digest"])
