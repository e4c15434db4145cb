# README's two commands: `make demo` (main job on the shipped model) and `make test`.
PYTHON ?= python3
STAMP := .make/installed

.PHONY: install system-deps demo test test-all lint clean regress-check

# The exact tested set (constraints.txt) on top of pyproject's compatible ranges.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m pip install -q -c constraints.txt -e '.[cpu,test]'
	@mkdir -p .make && touch $(STAMP)

install: $(STAMP)

# Debian packages for emulated ARM devices, phones and instruction counting.
system-deps:
	@bash scripts/system-deps.sh

demo: install
	bash scripts/demo.sh

# Lint (ruff, with import sorting), the suite, then the shipped model's deterministic
# latency check against its committed baseline: CI fails on a regression as on a test.
test: install system-deps lint
	$(PYTHON) -m pytest -q
	$(PYTHON) benchmarks/regress_baselines.py check --shipped

lint: install
	$(PYTHON) -m ruff check .

# Deterministic latency gate: the shipped model's instruction counts vs benchmarks/baselines/.
regress-check: install system-deps
	$(PYTHON) benchmarks/regress_baselines.py check --shipped

test-all: install system-deps
	$(PYTHON) -m pytest -q -m ''

clean:
	rm -rf .make build *.egg-info out
