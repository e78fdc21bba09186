"""Validators for the schemas of Harbor's pluggable scanner OpenAPI (v1.2, kept beside this
file as published). Objects are made closed (no properties beyond those the spec names, unless
it allows more): a misspelt field fails instead of passing as an extra. The error object stays
open: the service adds its machine-readable `code` to every error, Harbor's included."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SPEC = Path(__file__).parent / "harbor" / "scanner-adapter-openapi-v1.2.yaml"


@cache
def _components() -> dict[str, Any]:
    spec = yaml.safe_load(SPEC.read_text())
    components: dict[str, Any] = copy.deepcopy(spec["components"])
    _close(components)
    components["schemas"]["Error"].pop("additionalProperties")
    return components


def _close(node: Any) -> None:
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close(value)
    elif isinstance(node, list):
        for value in node:
            _close(value)


def validate(schema_name: str, document: Any) -> None:
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": _components()}
    jsonschema.Draft4Validator(root).validate(document)
