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

.PHONY: install run test bench lint db-stop clean browser pooler

# Third-party browser code comes from npm at the exact versions in package-lock.json, and is copied
# to static/vendor/ (ignored by git; served by staticfiles like the rest of static/).
VENDOR := static/vendor/htmx.min.js static/vendor/axe.min.js static/vendor/twilio.min.js
CHROMIUM := /usr/bin/chromium
PGBOUNCER := /usr/sbin/pgbouncer
NPM ?= npm

install: .venv/.installed $(VENDOR)

# uv itself, when the machine has none: a small virtualenv of its own under var/tools.
var/tools/bin/uv:
	python3 -m venv var/tools
	var/tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# --compile-bytecode: every installed module is compiled once here, not again by each process that
# imports it (where PYTHONDONTWRITEBYTECODE is set, as on these machines, nothing is ever cached: a
# web process took 2.6 s to load instead of 0.8 s). The Makefile is a prerequisite: a changed recipe runs again.
.venv/.installed: pyproject.toml uv.lock Makefile | $(UV)
	$(UV) sync --frozen --compile-bytecode
	touch $@

run: install
	$(PY) -m softphone.launcher

# Re-run only when the lock (or package.json) changes; the stamp is written after a successful `npm ci`.
node_modules/.installed: package.json package-lock.json
	@command -v $(NPM) >/dev/null 2>&1 || { echo "error: npm not found ($(NPM)). Install Node.js (20 or newer) and npm, e.g. 'apt-get install nodejs npm', then run 'make install' again." >&2; exit 1; }
	$(NPM) ci --ignore-scripts --no-audit --no-fund
	touch $@

static/vendor/htmx.min.js: node_modules/.installed
	@mkdir -p $(@D)
	cp node_modules/htmx.org/dist/htmx.min.js $@

static/vendor/axe.min.js: node_modules/.installed
	@mkdir -p $(@D)
	cp node_modules/axe-core/axe.min.js $@

# The Twilio Voice SDK's browser build (it defines window.Twilio.Device); the softphone loads it on every
# page of an organization. Twilio has not hosted 2.x on a CDN since 2.0: npm is the way.
static/vendor/twilio.min.js: node_modules/.installed
	@mkdir -p $(@D)
	cp node_modules/@twilio/voice-sdk/dist/twilio.min.js $@

# Debian packages some tests need, installed only when missing, with apt-get as root or with sudo:
# $(call debian_package,<file it provides>,<package>,<what needs it>).
define debian_package
	@set -e; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	else echo "error: $(1) is missing and neither root nor sudo is available: install Debian's '$(2)' package (apt-get install $(2))." >&2; exit 1; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then echo "error: $(1) is missing and apt-get is not available: install $(2) so that $(1) exists." >&2; exit 1; fi; \
	echo "Installing Debian's $(2) for $(3)..."; \
	$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(2) \
	  || { echo "error: could not install $(2) with apt-get: install Debian's '$(2)' package by hand." >&2; exit 1; }; \
	test -x $(1) || { echo "error: the $(2) package did not provide $(1)." >&2; exit 1; }
endef

# The browser tests (tests/browser, marker `browser`) drive Debian's chromium through Playwright;
# `playwright install` is never used.
browser: $(CHROMIUM)

$(CHROMIUM):
	$(call debian_package,$(CHROMIUM),chromium,the browser tests)

# The connection-pooler tests (tests/security/test_pooler.py) start a real PgBouncer. Debian's package
# also installs a service, which nothing starts here: the tests run their own.
pooler: $(PGBOUNCER)

$(PGBOUNCER):
	$(call debian_package,$(PGBOUNCER),pgbouncer,the connection-pooler tests)

test: install browser pooler
	$(PY) -m pytest $(PYTEST_ARGS)

# Benchmarks (not part of the test suite); results go to docs/benchmarks.md.
bench: install
	@set -e; for b in bench/bench_*.py; do echo "== $$b"; $(PY) -m bench.$$(basename $$b .py); done

lint: install
	.venv/bin/ruff check .

db-stop: install
	$(PY) -c "from softphone import embedded; print('stopped' if embedded.stop_database() else 'not running')"

clean:
	rm -rf .venv var/tools var/staticfiles node_modules static/vendor
