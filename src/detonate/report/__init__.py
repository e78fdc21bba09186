"""report: the JSON document (source of truth) and its renderings."""
