"""ATT&CK technique ids: the current release's ids, and the ids techniques had before.

Rules, detectors and corpus expectations may name a technique by an id of an older ATT&CK
release (the v18 ids the rules were written with: "Disable or Modify System Firewall" was a
T1562 sub-technique and is its own technique in v19). Findings carry the current id: the rule
loader translates once, where metadata enters (rules/metadata.py), so a detector added with an
older id is translated too. Matching a previous id against a finding (suppressions, expected
techniques) goes through `matches`.

The data is catalogue.json, written by scripts/gen-attack-catalogue from MITRE's STIX data and
the sources it records (docs/techniques.md says which and what they leave open).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = [
    "Technique",
    "attack_version",
    "catalogue_bytes",
    "current_id",
    "matches",
    "previous_ids",
    "technique",
]


@dataclass(frozen=True)
class Technique:
    id: str  # current: "T1686"
    name: str  # "Disable or Modify System Firewall"
    previous: tuple[str, ...] = ()  # ids it had before: ("T1562.004",)


@dataclass(frozen=True)
class _Catalogue:
    version: str
    techniques: dict[str, Technique]
    successor: dict[str, str]  # previous id -> current id


@cache
def catalogue_bytes() -> bytes:
    """The catalogue file as shipped (rules/loader.py hashes it into the ruleset hash)."""
    return resources.files(__package__).joinpath("catalogue.json").read_bytes()


@cache
def _catalogue() -> _Catalogue:
    data = json.loads(catalogue_bytes())
    techniques = {
        tid: Technique(tid, str(entry["name"]), tuple(entry["previous"]))
        for tid, entry in data["techniques"].items()
    }
    successor = {old: t.id for t in techniques.values() for old in t.previous}
    return _Catalogue(str(data["attack_version"]), techniques, successor)


def attack_version() -> str:
    """The ATT&CK release findings' ids come from: "19"."""
    return _catalogue().version


def current_id(technique_id: str) -> str:
    """The current id of a technique named by any id it has had; an id the catalogue does not
    know is returned as it is (it may be current, or from a release the catalogue predates)."""
    return _catalogue().successor.get(technique_id, technique_id)


def technique(technique_id: str) -> Technique | None:
    """What the catalogue knows of a technique named by its current or a previous id."""
    return _catalogue().techniques.get(current_id(technique_id))


def previous_ids(technique_id: str) -> tuple[str, ...]:
    known = technique(technique_id)
    return known.previous if known else ()


def matches(wanted: str, found: str) -> bool:
    """Whether a finding's technique `found` is the technique `wanted` names (by its current or
    a previous id) or one of its sub-techniques (wanted T1071 is found by T1071.001).

    A previous parent id keeps its old meaning: wanted T1562 ("Impair Defenses" in v18) is found
    by T1686, which was its sub-technique T1562.004."""
    wanted_ids = {wanted, current_id(wanted)}
    found_ids = {found, current_id(found), *previous_ids(found)}
    return any(f == w or f.startswith(w + ".") for w in wanted_ids for f in found_ids)
