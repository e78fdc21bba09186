# The README's two commands, and a few conveniences.
.PHONY: scan test lint rules-doc

scan:
	bash scripts/scan-sample.sh

test:
	bash scripts/test.sh

lint:
	.venv/bin/ruff check src tests benchmarks scripts && .venv/bin/ruff format --check src tests benchmarks

rules-doc:
	.venv/bin/python scripts/gen-rule-docs
