"""verdict: findings → score → malicious / suspicious / clean."""
