"""Every scenario of the corpus (THREATS.md 1–21, B1–B7), scanned end to end in the sandbox
with the simulated internet, gives the verdict, categories and techniques EXPECTED.yaml names,
each required technique from the detection the sample declares (rule and cited event kinds)."""

from __future__ import annotations

import pytest
import yaml

from detonate.factory.build import build_all
from detonate.factory.debootstrap import debootstrap_unavailable

from .corpus import (
    SCENARIOS,
    VARIANTS,
    VARIANTS_EXPECTED,
    WILD,
    WILD_EXPECTED,
    Expectation,
    load_expectations,
    run_scenario,
    write_archive,
)

EXPECTATIONS = load_expectations()


@pytest.fixture(scope="session")
def scenario_archives(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenarios")
    return {built.name: built.archive for built in build_all(SCENARIOS, out)}


@pytest.fixture(scope="session")
def corpus_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("corpus-cache")


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_scenario_is_judged_as_expected(name, scenario_archives, corpus_cache):
    expectation = EXPECTATIONS[name]
    outcome = run_scenario(expectation, scenario_archives[name], corpus_cache)
    assert not outcome.error, outcome.error
    assert outcome.verdict in expectation.acceptable, (
        f"{name}: verdict {outcome.verdict} (score {outcome.score}), expected "
        f"{expectation.acceptable}; techniques found {outcome.techniques}"
    )
    assert not outcome.missing_categories, f"{name}: missing {outcome.missing_categories}"
    assert not outcome.missing_techniques, f"{name}: missing {outcome.missing_techniques}"
    assert not outcome.wrong_detections, f"{name}: {'; '.join(outcome.wrong_detections)}"


REAL = sorted(p.name for p in (SCENARIOS.parent / "real").iterdir() if p.is_dir())


@pytest.fixture(scope="session")
def real_archives(tmp_path_factory):
    reason = debootstrap_unavailable()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("real")
    return {built.name: built.archive for built in build_all(SCENARIOS.parent / "real", out)}


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("name", REAL)
def test_real_software_runs_clean(name, real_archives, corpus_cache):
    """nginx, redis and postgres from Debian packages, run as their entrypoints run them."""
    expectation = Expectation(name, "real", "Debian package", "clean", ("clean",))
    outcome = run_scenario(expectation, real_archives[name], corpus_cache)
    assert not outcome.error, outcome.error
    assert outcome.verdict == "clean", f"{name}: score {outcome.score}, {outcome.techniques}"


VARIANT_EXPECTATIONS = load_expectations(VARIANTS_EXPECTED)
# Variants the current detections still get wrong, each with the reason (see
# docs/detection-matrix.md). Strict: a variant that starts passing must leave this list.
KNOWN_MISSES: dict[str, str] = {
    "v05b-cat-copy-nc-fallback": (
        "the busybox copy made with cat refuses its foreign argv[0], so no renamed tool ever "
        "runs (nc downloads instead): T1036.003 has nothing to see; and the script nc fetched "
        "reaches sh through a shell variable and printf, which provenance does not follow: "
        "T1105 comes only from incidental rules (a failed curl's argv, the busybox clone run)"
    ),
    "v11b-dropbear-symlinked-keys": (
        "root's keys written through a symlink are seen at their real path (high), but nothing "
        "else in the run adds up to malicious: suspicious 44"
    ),
}


@pytest.fixture(scope="session")
def variant_archives(tmp_path_factory):
    out = tmp_path_factory.mktemp("variants")
    return {built.name: built.archive for built in build_all(VARIANTS, out)}


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[n]))
        if n in KNOWN_MISSES
        else n
        for n in sorted(VARIANT_EXPECTATIONS)
    ],
)
def test_variant_is_judged_as_expected(name, variant_archives, corpus_cache):
    expectation = VARIANT_EXPECTATIONS[name]
    outcome = run_scenario(expectation, variant_archives[name], corpus_cache)
    assert not outcome.error, outcome.error
    missing = outcome.missing_categories + outcome.missing_techniques
    assert outcome.ok, (
        f"{name}: verdict {outcome.verdict} (score {outcome.score}), expected "
        f"{expectation.acceptable}; missing {missing}; {'; '.join(outcome.wrong_detections)}"
    )


WILD_EXPECTATIONS = load_expectations(WILD_EXPECTED)
# Wild samples (issue 9) the current detections get wrong, each with what a scan saw ("before"
# in docs/detection-matrix.md). Strict: a sample that starts passing must leave this list.
WILD_KNOWN_MISSES: dict[str, str] = {
    "b07-py-migration-written-then-run": (
        "benign release step called suspicious 49: the migration script it renders into /tmp "
        "and runs is taken for a dropped payload (exec-dropped-file, exec-from-volatile-dir, "
        "script from a scratch path); provenance knows its bytes are local (exec `provenance`"
        " field) but exec-dropped-file does not use it: that cost w20 its malicious verdict"
    ),
    "w07-go-dga-post-uname": (
        "clean 0: twelve lookups of generated names and POSTs of base64 `uname -a`/`id` "
        "output raise nothing (no T1568.002, T1082)"
    ),
    "w12-awk-cron-d-periodic": (
        "suspicious 45: cron entries written by awk are seen (T1053.003) but the "
        "download-to-shell inside them does not raise it to malicious"
    ),
    "w23-go-shadow-keys-upload": (
        "suspicious 15: only the planted private keys (static T1552.004, which says the image "
        "ships a key, not that the run read it: no runtime rule names a private-key read); "
        "the /etc/shadow read and the POST of the archive are not seen (no T1003.008, T1041)"
    ),
    "w24-c-proc-environ-mem": (
        "clean 0: reading the /proc/PID/environ and /proc/PID/mem of other processes raises "
        "nothing (no T1003.007)"
    ),
    "w25-node-kube-aws-token": (
        "malicious 100, but the service-account token read by Node is not reported as T1528 "
        "by service-account-token-read (it is seen leaving, T1041, and the secrets list, "
        "T1552.007)"
    ),
    "w26-grep-r-password-wget-post": (
        "malicious 100 (honeytokens read) but the wget --post-file upload of the archive is "
        "not called exfiltration (no T1041, no collection-exfiltration)"
    ),
    "w27-py-discovery-then-beacon": (
        "clean 10: discovery (uname, id, ps, /proc/net, cgroups) is not reported (no T1082, "
        "T1016); only a medium-low HTTP beacon"
    ),
    "w28-tar-openssl-curl-upload": (
        "malicious 84 (credentials read) but tar | openssl enc and the curl -T upload are not"
        " seen as collection/exfiltration (no T1560.001)"
    ),
    "w29-py-dns-label-exfil": (
        "suspicious 21 from static .env findings; 25 A queries carrying base32 labels are not"
        " called DNS exfiltration (no T1048.003)"
    ),
    "w40-perl-irc-bot": (
        "suspicious 40: the IRC registration and join are seen (T1071) but alone do not make "
        "it malicious"
    ),
}


@pytest.fixture(scope="session")
def wild_build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("wild")


def _wild_archive(name, out):
    """Build one wild sample as an OCI archive only (no layout: the Debian-based ones are
    ~110 MB each). They share one debootstrap package layer, which the factory caches, and are
    skipped where debootstrap cannot run."""
    recipe = yaml.safe_load((WILD / name / "image.yaml").read_text())
    if recipe.get("base") == "debootstrap":
        reason = debootstrap_unavailable()
        if reason:
            pytest.skip(reason)
    return write_archive(WILD / name, out)


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        # raises=AssertionError: a build or sandbox failure is not the known miss
        pytest.param(n, marks=pytest.mark.xfail(raises=AssertionError, strict=True, reason=r))
        if (r := WILD_KNOWN_MISSES.get(n))
        else n
        for n in sorted(WILD_EXPECTATIONS)
    ],
)
def test_wild_sample_is_judged_as_expected(name, wild_build_dir, corpus_cache):
    expectation = WILD_EXPECTATIONS[name]
    outcome = run_scenario(expectation, _wild_archive(name, wild_build_dir), corpus_cache)
    assert not outcome.error, outcome.error
    missing = outcome.missing_categories + outcome.missing_techniques
    assert outcome.ok, (
        f"{name}: verdict {outcome.verdict} (score {outcome.score}), expected "
        f"{expectation.acceptable}; found {outcome.techniques}; missing {missing}; "
        f"{'; '.join(outcome.wrong_detections)}"
    )
