# The README's two commands, and a few conveniences.
.PHONY: scan test lint rules-doc fuzz
EXECUTIONS ?= 100000

scan:
	bash scripts/scan-sample.sh

test:
	bash scripts/test.sh

lint:
	.venv/bin/ruff check src tests benchmarks scripts && .venv/bin/ruff format --check src tests benchmarks

rules-doc:
	.venv/bin/python scripts/gen-rule-docs

# Every fuzz target for EXECUTIONS runs each (docs/fuzzing.md); `TARGET=unpacker` for one.
fuzz:
	bash scripts/setup.sh
	nice -n 10 .venv/bin/python benchmarks/fuzz.py --executions $(EXECUTIONS) $(if $(TARGET),--target $(TARGET))
