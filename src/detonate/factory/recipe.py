"""`samples/<name>/image.yaml` → ImageSpec. Files named by `source:` sit next to the recipe.

name: benign-web
tag: latest                 # default "latest"
base: busybox               # default; "scratch" for no base layer; "debootstrap" (below)
debootstrap:                # base: debootstrap — a Debian base + a layer of packages
  suite: bookworm
  packages: [nginx]
  preseed: [{path: /etc/x.conf, content: "a = b\\n"}]   # written before apt-get runs
  remove: [/etc/ssl/private/*]                           # deleted after it
entrypoint: [/bin/busybox, httpd]
cmd: [-f, -p, "8080"]
env: {GREETING: hello}      # added to the default PATH
user: "33:33"
working_dir: /var/www
labels: {org.opencontainers.image.title: demo}
exposed_ports: [8080/tcp]
healthcheck: {test: [CMD, /bin/busybox, true], interval: 30, timeout: 5, retries: 3}
history: ["CMD ..."]        # build steps that made no layer
platforms: [linux/amd64, linux/arm64/v8]   # optional: build an image index
layers:
  - created_by: COPY files/ /
    files:
      - {path: /var/www/index.html, source: files/index.html}
      - {path: /tmp/.x/run, content: "#!/bin/sh\\necho hi\\n", mode: "0755"}
      - {path: /usr/bin/sh2, type: symlink, target: /bin/busybox}
      - {path: /usr/local/bin/xmrig, compile: ../standins/miner.c}   # see compile.py
      - {path: /usr/local/bin/warmup, compile: ../standins/waits/timer-thread.c, libc: musl}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from detonate.factory.busybox import busybox_layer
from detonate.factory.compile import compile_standin
from detonate.factory.debootstrap import DebootstrapSpec, PreseedFile, debootstrap_layers
from detonate.factory.spec import (
    DEFAULT_PATH_ENV,
    FileSpec,
    Healthcheck,
    ImageSpec,
    Layer,
    LayerSpec,
)

RECIPE_FILE = "image.yaml"


@dataclass(frozen=True)
class Recipe:
    spec: ImageSpec
    platforms: tuple[str, ...]
    directory: Path


def load_recipe(directory: Path) -> ImageSpec:
    return load_recipe_full(directory).spec


def load_recipe_full(directory: Path) -> Recipe:
    directory = Path(directory)
    data = yaml.safe_load((directory / RECIPE_FILE).read_text())
    if not isinstance(data, dict) or "name" not in data:
        raise ValueError(f"{directory / RECIPE_FILE}: a recipe is a mapping with at least `name`")
    base = data.get("base", "busybox")
    if base not in ("busybox", "scratch", "debootstrap"):
        raise ValueError(f"{directory / RECIPE_FILE}: base must be busybox, scratch or debootstrap")
    layers: list[Layer] = []
    if base == "busybox":
        layers.append(busybox_layer())
    elif base == "debootstrap":
        layers += debootstrap_layers(_debootstrap_spec(directory, data.get("debootstrap")))
    layers += [_layer(directory, layer) for layer in data.get("layers", [])]
    env = data.get("env", {})
    env_list = [f"{k}={v}" for k, v in env.items()] if isinstance(env, dict) else list(env)
    if not any(item.startswith("PATH=") for item in env_list):
        env_list.insert(0, DEFAULT_PATH_ENV)
    spec = ImageSpec(
        name=str(data["name"]),
        tag=str(data.get("tag", "latest")),
        layers=tuple(layers),
        entrypoint=_strings(data.get("entrypoint")),
        cmd=_strings(data.get("cmd")),
        env=tuple(env_list),
        user=str(data.get("user", "")),
        working_dir=str(data.get("working_dir", "")),
        labels=tuple(sorted((str(k), str(v)) for k, v in data.get("labels", {}).items())),
        exposed_ports=tuple(_port(p) for p in data.get("exposed_ports", [])),
        healthcheck=_healthcheck(data.get("healthcheck")),
        stop_signal=str(data.get("stop_signal", "")),
        history=_strings(data.get("history")),
        architecture=str(data.get("architecture", "amd64")),
        os=str(data.get("os", "linux")),
    )
    return Recipe(spec, _strings(data.get("platforms")), directory)


def _debootstrap_spec(directory: Path, value: Any) -> DebootstrapSpec:
    if not isinstance(value, dict) or not value.get("packages"):
        raise ValueError(f"{directory / RECIPE_FILE}: base debootstrap needs debootstrap.packages")
    preseed = tuple(
        PreseedFile(str(item["path"]), str(item["content"]), _mode(item.get("mode")) or 0o644)
        for item in value.get("preseed", [])
    )
    return DebootstrapSpec(
        packages=_strings(value["packages"]),
        suite=str(value.get("suite", "bookworm")),
        preseed=preseed,
        remove=_strings(value.get("remove")),
    )


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(item) for item in value)


def _port(value: Any) -> str:
    text = str(value)
    return text if "/" in text else f"{text}/tcp"


def _mode(value: Any) -> int | None:
    # YAML reads 0755 as octal already; "0755" (quoted) and "4755" arrive as strings.
    if value is None:
        return None
    return int(value, 8) if isinstance(value, str) else int(value)


def _healthcheck(value: Any) -> Healthcheck | None:
    if not value:
        return None
    return Healthcheck(
        test=_strings(value["test"]),
        interval_seconds=int(value.get("interval", 30)),
        timeout_seconds=int(value.get("timeout", 5)),
        retries=int(value.get("retries", 3)),
    )


def _layer(directory: Path, layer: dict[str, Any]) -> LayerSpec:
    files = []
    for item in layer.get("files", []):
        content = item.get("content")
        source = directory / item["source"] if item.get("source") else None
        compiled = item.get("compile")
        if compiled:
            source = compile_standin(directory / compiled, str(item.get("libc", "glibc")))
        files.append(
            FileSpec(
                path=str(item["path"]),
                content=content.encode() if isinstance(content, str) else content,
                source=source,
                mode=_mode(item.get("mode", 0o755 if compiled else None)),
                type=item.get("type", "file"),
                link_target=str(item.get("target", "")),
                uid=int(item.get("uid", 0)),
                gid=int(item.get("gid", 0)),
            )
        )
    return LayerSpec(tuple(files), created_by=str(layer.get("created_by", "")))
