# The two commands a newcomer needs: `make run` and `make test` (see README.md).
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := var/tools/bin/uv
endif
PY := .venv/bin/python

.PHONY: install run test bench lint db-stop clean

install: .venv/.installed

# uv itself, when the machine has none: a small virtualenv of its own under var/tools.
var/tools/bin/uv:
	python3 -m venv var/tools
	var/tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	touch $@

run: install
	$(PY) -m softphone.launcher

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# Benchmarks (not part of the test suite); results go to docs/benchmarks.md.
bench: install
	@set -e; for b in bench/bench_*.py; do echo "== $$b"; $(PY) -m bench.$$(basename $$b .py); done

lint: install
	.venv/bin/ruff check .

db-stop: install
	$(PY) -c "from softphone import embedded; print('stopped' if embedded.stop_database() else 'not running')"

clean:
	rm -rf .venv var/tools var/staticfiles
