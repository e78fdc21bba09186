"""detect: what a run's events mean — runtime rules (YAML, one event each) and correlation
detectors (Python, sequences and rates) → findings.

    findings = detect(RunView(...), static_findings)
"""
