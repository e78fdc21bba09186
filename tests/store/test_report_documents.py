"""The store keeps the JSON document; the API renders every format from it. A document read
back must be the same report: same JSON, same SARIF, HTML and STIX."""

from __future__ import annotations

import json

from detonate.model.report import Report
from detonate.report import html, ioc_export, json_report, sarif


def test_a_document_read_back_renders_exactly_as_the_report(planted_report: Report) -> None:
    document = json.loads(json_report.dumps(planted_report))
    revived = json_report.from_document(document)
    assert revived == planted_report
    assert json_report.dumps(revived) == json_report.dumps(planted_report)
    assert sarif.dumps(revived) == sarif.dumps(planted_report)
    assert html.render(revived) == html.render(planted_report)
    assert ioc_export.to_stix(revived) == ioc_export.to_stix(planted_report)
