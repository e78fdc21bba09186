from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from detonate.factory import BuiltSample
from detonate.model.options import ScanOptions
from detonate.model.report import Report
from detonate.pipeline import scan
from detonate.rules.loader import forget_fingerprints
from detonate.store import Store
from sandbox.busybox_image import sandbox_available

from .stored_scans import LATER_RULE, Scanned, scan_state_and_cron


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store on SQLite (a file, WAL) and on a real PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'detonate.db'}"
    else:
        url = request.getfixturevalue("postgres_server").new_database()
    opened = Store.open(url)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def planted_report(
    built_samples: dict[str, BuiltSample], tmp_path_factory: pytest.TempPathFactory
) -> Report:
    """A real static scan of the planted sample: findings, IOCs, a digest."""
    cache = tmp_path_factory.mktemp("cache")
    return scan(
        built_samples["planted-static"].archive_reference,
        ScanOptions(cache_dir=cache, static_only=True),
    )


@pytest.fixture(scope="session")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Scanned:
    """One real scan of the factory image, with the run as the store would keep it."""
    if not sandbox_available():
        pytest.skip("needs root, runc, strace and /bin/busybox")
    return scan_state_and_cron(tmp_path_factory.mktemp("rejudge-store"))


@pytest.fixture
def later_rules(tmp_path: Path) -> Iterator[Path]:
    """A rules directory with one rule the scanned image's verdict changes under."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "state-written.yaml").write_text(LATER_RULE)
    forget_fingerprints()
    yield rules
    forget_fingerprints()
