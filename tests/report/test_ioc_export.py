import csv
import io
import json
import subprocess
import sys

import stix2

from detonate.model.findings import Category, Confidence, Evidence, Finding, Severity
from detonate.model.iocs import Iocs
from detonate.model.report import ImageInfo, Report, Verdict
from detonate.report import ioc_export

WALLET = "4FAKEWALLETxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
HASH = "c" * 64


def sample_report(**overrides) -> Report:
    fields = dict(
        image=ImageInfo(reference="docker://example.test/miner:1", digest="sha256:" + "a" * 64),
        verdict=Verdict.MALICIOUS,
        score=90,
        findings=(
            Finding(
                rule_id="stratum-login",
                title="Stratum mining login",
                category=Category.WEAPONIZATION,
                technique="T1496",
                severity=Severity.CRITICAL,
                confidence=Confidence.HIGH,
                source="runtime:rules",
                evidence=(
                    Evidence(
                        "stratum login",
                        destination="pool.test:3333 (192.0.2.10)",
                        excerpt=f'{{"login":"{WALLET}"}}',
                    ),
                ),
            ),
            Finding(
                rule_id="miner-binary",
                title="Miner binary",
                category=Category.WEAPONIZATION,
                technique="T1496",
                severity=Severity.HIGH,
                confidence=Confidence.HIGH,
                source="static:files",
                evidence=(Evidence("xmrig", path="/opt/x/xmrig", sha256=HASH),),
            ),
        ),
        iocs=Iocs(
            domains=("pool.test",),
            ips=("192.0.2.10", "2001:db8::1"),
            urls=("http://dl.test/it's.sh",),
            wallets=(WALLET,),
            pools=("stratum+tcp://pool.test:3333",),
            file_hashes=(HASH,),
        ),
        generated_at="2026-01-01T00:00:00+00:00",
        tool_version="0.1.0",
    )
    fields.update(overrides)
    return Report(**fields)


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_has_the_header_and_one_typed_row_per_indicator():
    text = ioc_export.to_csv(sample_report())
    assert text.splitlines()[0] == "type,value,context"
    rows = {(r["type"], r["value"]) for r in csv_rows(text)}
    assert rows == {
        ("pool", "stratum+tcp://pool.test:3333"),
        ("wallet", WALLET),
        ("url", "http://dl.test/it's.sh"),
        ("domain", "pool.test"),
        ("ipv4", "192.0.2.10"),
        ("ipv6", "2001:db8::1"),
        ("sha256", HASH),
    }


def test_csv_context_names_the_rules_whose_evidence_mentions_the_value():
    context = {r["value"]: r["context"] for r in csv_rows(ioc_export.to_csv(sample_report()))}
    assert context["pool.test"] == "rules: stratum-login"
    assert context[WALLET] == "rules: stratum-login"
    assert context[HASH] == "rules: miner-binary"
    assert context["2001:db8::1"] == ""


def test_csv_quotes_hostile_values_and_defuses_formulas():
    hostile = '=HYPERLINK("x"),"quoted"\nnext'
    text = ioc_export.to_csv(sample_report(iocs=Iocs(urls=(hostile,))))
    (row,) = csv_rows(text)
    assert row["value"] == "'" + hostile


def test_csv_of_an_empty_report_is_only_the_header():
    assert ioc_export.to_csv(sample_report(iocs=Iocs())) == "type,value,context\n"


def test_stix_bundle_parses_back_with_stix2_and_holds_one_indicator_per_ioc():
    bundle = stix2.parse(ioc_export.to_stix(sample_report()))
    assert bundle.type == "bundle"
    patterns = sorted(o.pattern for o in bundle.objects if o.type == "indicator")
    assert patterns == sorted(
        [
            "[url:value = 'stratum+tcp://pool.test:3333']",
            f"[x-detonate-wallet:address = '{WALLET}']",
            "[url:value = 'http://dl.test/it\\'s.sh']",
            "[domain-name:value = 'pool.test']",
            "[ipv4-addr:value = '192.0.2.10']",
            "[ipv6-addr:value = '2001:db8::1']",
            f"[file:hashes.'SHA-256' = '{HASH}']",
        ]
    )
    (report,) = [o for o in bundle.objects if o.type == "report"]
    indicator_ids = {o.id for o in bundle.objects if o.type == "indicator"}
    assert set(report.object_refs) == indicator_ids
    (identity,) = [o for o in bundle.objects if o.type == "identity"]
    assert all(o.created_by_ref == identity.id for o in bundle.objects if o.type == "indicator")


def test_stix_bundle_parses_strictly_in_a_process_that_never_imported_detonate():
    # A consumer without detonate's code: no custom object may be required to read the bundle.
    code = "import stix2, sys; b = stix2.parse(sys.stdin.read()); print(len(b.objects))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=ioc_export.to_stix(sample_report()),
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "9"  # identity + 7 indicators + report


def test_stix_export_is_deterministic_with_the_injected_clock():
    first = ioc_export.to_stix(sample_report())
    assert first == ioc_export.to_stix(sample_report())
    document = json.loads(first)
    assert {o["created"] for o in document["objects"] if "created" in o} == {
        "2026-01-01T00:00:00.000Z"
    }


def test_stix_of_a_report_without_iocs_is_a_bundle_with_only_the_identity():
    bundle = stix2.parse(ioc_export.to_stix(sample_report(iocs=Iocs())))
    assert [o.type for o in bundle.objects] == ["identity"]
