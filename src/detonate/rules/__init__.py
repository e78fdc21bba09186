"""rules: rule files (YAML and YARA), their metadata and the match language YAML rules use."""

from detonate.rules.loader import Rule, load_rules
from detonate.rules.metadata import RuleMeta

__all__ = ["Rule", "RuleMeta", "load_rules"]
