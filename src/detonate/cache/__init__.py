"""cache: what a scan leaves in --cache-dir, and keeping it within a size budget.

roots    the prunable parts of the cache (layer dirs, OCI blobs, …): the one list to extend
leases   a running scan's claim on what it uses, so pruning never breaks it
prune    `detonate cache stats`, `detonate cache prune`, and the budget after each scan
"""
