"""Kubernetes admission: AdmissionReview v1 in, a decision from stored verdicts out.

review.py   the request: which images a Pod or a workload's pod template would run
resolve.py  tags → digests, bounded and cached
policy.py   verdicts → allowed / denied / warned (pure)
webhook.py  POST /k8s/validate, which records every decision and never scans inline
"""
