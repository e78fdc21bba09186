"""A service run with `serve --rules DIR` keys its scans by the rules that judge them: a scan
judged by other rules (the built-in ones, from a CLI `--store` scan or a service run without
`--rules`) is not handed back as this one's."""

from __future__ import annotations

from pathlib import Path

from detonate.model.options import ScanOptions, StaticOptions
from detonate.rules.loader import forget_fingerprints, ruleset_hash
from detonate.service.serve import running_service
from detonate.service.settings import Settings
from detonate.store import Source, Store

DIGEST = "sha256:" + "e" * 64
RULE = """\
title: Executable in /srv/drop
why: a local policy: nothing executable is shipped there
severity: medium
confidence: medium
category: weaponization
technique: T1564.001
subject: file
match:
  path: {glob: ['/srv/drop/*']}
  executable: {is: true}
"""


def _request(store: Store) -> tuple[str, str, bool]:
    record, created = store.request_scan(
        f"docker://registry.test/app@{DIGEST}",
        digest=DIGEST,
        platform="linux/amd64",
        source=Source.API,
    )
    return record.id, record.ruleset_hash, created


def test_a_service_with_extra_rules_keys_its_scans_by_those_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "srv-drop-exec.yaml").write_text(RULE)
    forget_fingerprints()
    url = f"sqlite:///{tmp_path / 'store.db'}"
    builtin = Store.open(url)  # a CLI `--store` scan's view: the built-in rules
    try:
        plain_id, plain_rules, _ = _request(builtin)
    finally:
        builtin.close()
    assert plain_rules == ruleset_hash()

    settings = Settings(
        cache_dir=tmp_path / "cache",
        db_url=url,
        concurrency=1,
        background_rejudge=False,
        scan=ScanOptions(cache_dir=tmp_path / "cache", static=StaticOptions(extra_rules_dir=rules)),
    )
    with running_service(settings) as service:
        scan_id, scan_rules, created = _request(service.store)
        service.queue.cancel(scan_id)  # nothing to scan here: only the key is under test

    assert scan_rules == ruleset_hash(rules) != plain_rules
    assert created and scan_id != plain_id, "the built-in rules' scan is not reused"
