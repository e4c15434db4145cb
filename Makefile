# README's two commands: `make demo` (main job on the shipped model) and `make test`.
PYTHON ?= python3
STAMP := .make/installed

.PHONY: install system-deps demo test test-all clean regress-check

$(STAMP): pyproject.toml
	$(PYTHON) -m pip install -q -e '.[test]'
	@mkdir -p .make && touch $(STAMP)

install: $(STAMP)

# Debian packages for emulated ARM devices, phones and instruction counting.
system-deps:
	@bash scripts/system-deps.sh

demo: install
	bash scripts/demo.sh

# The suite, then the shipped model's deterministic latency check (issue 7) against its
# committed baseline: CI fails on a regression as it fails on a test.
test: install system-deps
	$(PYTHON) -m pytest -q
	$(PYTHON) benchmarks/regress_baselines.py check --shipped

# Deterministic latency gate: the shipped model's instruction counts vs benchmarks/baselines/.
regress-check: install system-deps
	$(PYTHON) benchmarks/regress_baselines.py check --shipped

test-all: install system-deps
	$(PYTHON) -m pytest -q -m ''

clean:
	rm -rf .make build *.egg-info out
