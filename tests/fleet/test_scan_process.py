"""What a fleet worker's main process prepares before it forks a fresh process per scan
(`task.preload`), found ready in the forked process instead of done again there: the rules,
every YARA size class, the store's ORM mappers, what Celery's pool-process set-up imports, and
a frozen heap."""

from __future__ import annotations

import gc
import json
import os
import sys
from typing import Any

import yara_x
from billiard.util import get_pdeathsig

from detonate.model.options import ScanOptions
from detonate.rules import loader
from detonate.sandbox.netsim.authority import CertificateAuthority
from detonate.static import yara_rules
from detonate.store.models import Base
from detonate.worker.task import preload

SIZES = (0, 300_000, 1_500_000, 3_000_000, 5_000_000, 9_000_000, 100_000_000)


def _no_compiling(*_: Any, **__: Any) -> None:
    raise AssertionError("a YARA compile in the scan process")


def _in_the_scan_process() -> dict[str, Any]:
    """Run in the forked child: every rule the scan uses, with compiling made impossible."""
    modules = set(sys.modules)
    get_pdeathsig()  # the cffi call Celery's set-up of each pool process makes (set_pdeathsig)
    CertificateAuthority.generate("scan-process", CertificateAuthority.new_leaf_key())  # netsim
    imported = sorted(set(sys.modules) - modules)
    yara_x.Compiler = _no_compiling  # type: ignore[misc,assignment]
    rules_read = loader._load_rules.cache_info().misses
    compiled = yara_rules.compiled_rules()
    classes = [compiled.for_size(size) is not None for size in SIZES]
    loader.load_rules("runtime")
    loader.ruleset_hash()
    return {
        "mappers_configured": all(mapper.configured for mapper in Base.registry.mappers),
        "imported": imported,
        "classes": classes,
        "rule_files_read": loader._load_rules.cache_info().misses - rules_read,
        "frozen_objects": gc.get_freeze_count(),
    }


def test_a_forked_scan_process_finds_the_rules_compiled_and_the_heap_frozen() -> None:
    preload(ScanOptions())
    reader, writer = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:  # the scan process, as Celery's prefork pool makes it
            os.close(reader)
            try:
                answer = _in_the_scan_process()
            except BaseException as error:  # reported to the parent, which fails the test
                answer = {"error": f"{type(error).__name__}: {error}"}
            os.write(writer, json.dumps(answer).encode())
            os._exit(0)
        os.close(writer)
        with os.fdopen(reader, "rb") as pipe:
            answer = json.loads(pipe.read())
        os.waitpid(pid, 0)
    finally:
        gc.unfreeze()  # this test process's heap back to the collector
    assert "error" not in answer, answer.get("error")
    assert answer["mappers_configured"]  # the store's ORM classes, before its first write
    assert answer["imported"] == []  # cffi's C parser, cryptography's backend: before the fork
    assert answer["classes"][0]  # small files: the whole rule set
    assert answer["rule_files_read"] == 0
    assert answer["frozen_objects"] > 10_000  # the modules and rules the parent built
